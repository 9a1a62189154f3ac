import assert from 'node:assert/strict';
import { Admission, isInboundRefusal } from '../../../src/call/admission';
import { RateLimitError, ServiceUnavailableError } from '../../../src/errors';
import { RateLimiter } from '../../../src/policy/rate-limiter';

describe('Admission', () => {
  let accepting: { ok: true } | { ok: false; code: string; message: string };
  let nowMs: number;
  const make = (over: { maxInboundCalls?: number } = {}) =>
    new Admission({
      maxConcurrentCalls: 3,
      ...over,
      attemptLimiter: new RateLimiter({ burst: 2, perMinute: 6, nowMs: () => nowMs }),
      inboundLimiter: new RateLimiter({ burst: 1, perMinute: 1, nowMs: () => nowMs }),
      isAccepting: () => accepting,
    });
  beforeEach(() => {
    accepting = { ok: true };
    nowMs = 0;
  });

  it('counts outbound, inbound and transfer legs against one limit; a released place is free again', () => {
    const a = make();
    const out = a.reserve('outbound');
    a.reserve('transfer');
    const inbound = a.admitInbound('+74950000001');
    assert.ok(!isInboundRefusal(inbound));
    assert.deepEqual(a.counts, { total: 3, outbound: 1, inbound: 1, transfer: 1 });
    assert.throws(() => a.reserve('outbound'), (e: unknown) => e instanceof ServiceUnavailableError && e.code === 'AT_CAPACITY');
    const refused = a.admitInbound('+74950000002');
    assert.ok(isInboundRefusal(refused));
    assert.deepEqual([refused.endReason, refused.hangupReason], ['at-capacity', 'congestion']);
    out.release();
    out.release();
    assert.equal(a.counts.total, 2, 'release is idempotent');
    a.reserve('outbound');
  });

  it('MAX_INBOUND_CALLS caps inbound legs alone', () => {
    const a = make({ maxInboundCalls: 1 });
    assert.ok(!isInboundRefusal(a.admitInbound('+1')));
    const second = a.admitInbound('+2');
    assert.ok(isInboundRefusal(second));
    assert.equal(second.error.code, 'INBOUND_AT_CAPACITY');
    a.reserve('outbound');
  });

  it('a caller over its rate is refused with busy', () => {
    const a = make();
    const first = a.admitInbound('+74950000001');
    assert.ok(!isInboundRefusal(first));
    first.release();
    const again = a.admitInbound('+74950000001');
    assert.ok(isInboundRefusal(again));
    assert.deepEqual([again.endReason, again.hangupReason, again.error instanceof RateLimitError], ['rate-limited', 'busy', true]);
    assert.ok(!isInboundRefusal(a.admitInbound('+74950000002')), 'other callers are not affected');
  });

  it('while draining every leg is refused, inbound ones with congestion and end reason shutdown', () => {
    const a = make();
    accepting = { ok: false, code: 'SHUTTING_DOWN', message: 'the service is shutting down' };
    assert.throws(() => a.reserve('outbound'), /shutting down/);
    const refused = a.admitInbound('+1');
    assert.ok(isInboundRefusal(refused));
    assert.deepEqual([refused.endReason, refused.hangupReason], ['shutdown', 'congestion']);
  });

  it('charges call attempts per requester, refilling with time', () => {
    const a = make();
    a.chargeAttempt('token-a');
    a.chargeAttempt('token-a');
    assert.throws(() => a.chargeAttempt('token-a'), RateLimitError);
    a.chargeAttempt('token-b');
    nowMs += 10_000;
    a.chargeAttempt('token-a');
  });
});
