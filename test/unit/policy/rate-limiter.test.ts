import assert from 'node:assert/strict';
import { RateLimiter, type RateDecision } from '../../../src/policy/rate-limiter';

describe('RateLimiter (token bucket, fake clock)', () => {
  let nowMs: number;
  const clock = (): number => nowMs;
  beforeEach(() => {
    nowMs = 1000;
  });

  const allowed = (d: RateDecision): boolean => d.isAllowed;

  it('allows a burst, then refuses with the wait until the next token', () => {
    const limiter = new RateLimiter({ burst: 3, perMinute: 6, nowMs: clock }); // one token per 10 s
    assert.deepEqual([1, 2, 3].map(() => limiter.take('a')), [
      { isAllowed: true, remaining: 2 },
      { isAllowed: true, remaining: 1 },
      { isAllowed: true, remaining: 0 },
    ]);
    assert.deepEqual(limiter.take('a'), { isAllowed: false, retryAfterMs: 10_000 });
    nowMs += 4_000;
    assert.deepEqual(limiter.take('a'), { isAllowed: false, retryAfterMs: 6_000 });
    nowMs += 6_000;
    assert.deepEqual(limiter.take('a'), { isAllowed: true, remaining: 0 });
  });

  it('refused attempts do not consume tokens', () => {
    const limiter = new RateLimiter({ burst: 1, perMinute: 60, nowMs: clock });
    limiter.take('a');
    for (let i = 0; i < 10; i++) assert.equal(allowed(limiter.take('a')), false);
    nowMs += 1000;
    assert.equal(allowed(limiter.take('a')), true);
  });

  it('refills continuously up to the burst, not beyond', () => {
    const limiter = new RateLimiter({ burst: 2, perMinute: 60, nowMs: clock });
    limiter.take('a');
    limiter.take('a');
    nowMs += 3_600_000;
    assert.deepEqual([1, 2, 3].map(() => allowed(limiter.take('a'))), [true, true, false]);
  });

  it('keys are independent', () => {
    const limiter = new RateLimiter({ burst: 1, perMinute: 1, nowMs: clock });
    assert.equal(allowed(limiter.take('token-a')), true);
    assert.equal(allowed(limiter.take('token-a')), false);
    assert.equal(allowed(limiter.take('token-b')), true);
  });

  it('a clock going backwards refills nothing and breaks nothing', () => {
    const limiter = new RateLimiter({ burst: 1, perMinute: 60, nowMs: clock });
    limiter.take('a');
    nowMs -= 5_000;
    assert.equal(allowed(limiter.take('a')), false);
    nowMs += 5_500; // 0.5 s after the last real update: not yet a token
    assert.equal(allowed(limiter.take('a')), false);
    nowMs += 500;
    assert.equal(allowed(limiter.take('a')), true);
  });

  it('memory is bounded: idle (full) buckets are dropped first, then the oldest', () => {
    const limiter = new RateLimiter({ burst: 1, perMinute: 60, nowMs: clock, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) limiter.take(key);
    nowMs += 1_000; // all refilled: idle
    limiter.take('d');
    assert.equal(limiter.size, 1);
    for (const key of ['e', 'f']) limiter.take(key);
    limiter.take('g'); // none idle: the oldest ('d') goes
    assert.equal(limiter.size, 3);
    assert.equal(allowed(limiter.take('e')), false, 'e kept its state');
  });

  it('refuses nonsense options', () => {
    assert.throws(() => new RateLimiter({ burst: 0, perMinute: 1 }), RangeError);
    assert.throws(() => new RateLimiter({ burst: 1.5, perMinute: 1 }), RangeError);
    assert.throws(() => new RateLimiter({ burst: 1, perMinute: 0 }), RangeError);
    assert.throws(() => new RateLimiter({ burst: 1, perMinute: Number.NaN }), RangeError);
  });
});
