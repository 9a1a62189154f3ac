import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { Call } from '../../../src/call/call';
import type { CallStatus, CallView, TranscriptEntry } from '../../../src/model/call-view';
import { CallEventBus, callDurationMs, type SequencedCallEvent } from '../../../src/events/call-events';
import { publishCallEvents, type CallEventSource } from '../../../src/events/publish-call-events';
import { makeCallView } from '../../fakes/fake-call-api';

// Compile-time check: the real Call can be attached as it is.
const _callIsASource = (call: Call): CallEventSource => call;
void _callIsASource;

const AT = '2025-03-01T10:00:00.000Z';

/** Emits like a Call: 'status', 'transcript', 'ended'. */
class FakeCall extends EventEmitter<{ status: [CallStatus]; transcript: [TranscriptEntry]; ended: [CallView] }> {
  current: CallView;
  constructor(readonly id: string) {
    super();
    this.current = { ...makeCallView('+14155550123', id), created_at: AT };
  }
  view(): CallView {
    return this.current;
  }
}

describe('CallEventBus', () => {
  let logLines: { level: number; msg: string }[];
  let bus: CallEventBus;
  beforeEach(() => {
    logLines = [];
    bus = new CallEventBus(pino({ level: 'debug' }, { write: (l: string) => void logLines.push(JSON.parse(l) as { level: number; msg: string }) }));
  });

  it('delivers to every subscriber with increasing seq; call filters apply', () => {
    const all: SequencedCallEvent[] = [];
    const onlyB: SequencedCallEvent[] = [];
    bus.subscribe((e) => all.push(e));
    bus.subscribe((e) => onlyB.push(e), { callId: 'b' });
    bus.publish({ type: 'ringing', call_id: 'a', at: AT });
    const seq = bus.publish({ type: 'answered', call_id: 'b', at: AT });
    assert.deepEqual(all.map((e) => [e.seq, e.call_id]), [[1, 'a'], [2, 'b']]);
    assert.deepEqual(onlyB, [{ type: 'answered', call_id: 'b', at: AT, seq: 2 }]);
    assert.equal(seq, 2);
  });

  it('cancel is idempotent and takes effect even during a publish', () => {
    const got: string[] = [];
    const first = bus.subscribe(() => {
      got.push('first');
      second.cancel(); // cancels a subscriber not yet called in this publish
    });
    const second = bus.subscribe(() => got.push('second'));
    bus.publish({ type: 'interruption', call_id: 'a', at: AT });
    assert.deepEqual(got, ['first']);
    first.cancel();
    first.cancel();
    second.cancel();
    assert.equal(bus.subscriberCount, 0);
  });

  it('a throwing subscriber is logged and does not stop the others or the publisher', () => {
    const got: number[] = [];
    bus.subscribe(() => {
      throw new Error('dashboard bug');
    });
    bus.subscribe((e) => got.push(e.seq));
    assert.doesNotThrow(() => bus.publish({ type: 'interruption', call_id: 'a', at: AT }));
    assert.deepEqual(got, [1]);
    assert.equal(logLines.find((l) => l.level === 50)?.msg, 'call event subscriber failed');
  });

  it('callDurationMs is ended_at − created_at, or 0', () => {
    assert.equal(callDurationMs({ created_at: AT, ended_at: '2025-03-01T10:01:30.500Z' }), 90_500);
    assert.equal(callDurationMs({ created_at: AT, ended_at: null }), 0);
  });
});

describe('publishCallEvents', () => {
  it('publishes dialing at once, then ringing/answered/transcript/ended, and detaches after ended', () => {
    const bus = new CallEventBus(pino({ level: 'silent' }));
    const events: SequencedCallEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const call = new FakeCall('c1');
    publishCallEvents(call, bus, () => Date.parse('2025-03-01T10:00:02.000Z'));

    call.emit('status', 'ringing');
    call.current = { ...call.current, status: 'answered', answered_at: '2025-03-01T10:00:05.000Z' };
    call.emit('status', 'answered');
    call.emit('transcript', { role: 'agent', text: 'Hello', at: '2025-03-01T10:00:06.000Z' });
    call.emit('status', 'completed'); // reported through 'ended'
    const ended: CallView = {
      ...call.current,
      status: 'completed',
      ended_at: '2025-03-01T10:01:00.000Z',
      end_reason: 'callee',
      hangup_cause: 16,
      hangup_cause_text: 'Normal Clearing',
    };
    call.emit('ended', ended);

    assert.deepEqual(
      events.map(({ seq: _seq, ...e }) => e),
      [
        { type: 'dialing', call_id: 'c1', at: AT, direction: 'outbound', phone_number: '+14155550123' },
        { type: 'ringing', call_id: 'c1', at: '2025-03-01T10:00:02.000Z' },
        { type: 'answered', call_id: 'c1', at: '2025-03-01T10:00:05.000Z' },
        { type: 'transcript', call_id: 'c1', at: '2025-03-01T10:00:06.000Z', role: 'agent', text: 'Hello' },
        {
          type: 'ended', call_id: 'c1', at: '2025-03-01T10:01:00.000Z', status: 'completed', end_reason: 'callee',
          hangup_cause: 16, hangup_cause_text: 'Normal Clearing', error: null, duration_ms: 60_000, metrics: ended.metrics,
        },
      ],
    );
    for (const name of ['status', 'transcript', 'ended'] as const) assert.equal(call.listenerCount(name), 0, name);
  });

  it('the returned function detaches early (idempotent)', () => {
    const bus = new CallEventBus(pino({ level: 'silent' }));
    const call = new FakeCall('c2');
    const detach = publishCallEvents(call, bus);
    detach();
    detach();
    assert.equal(call.listenerCount('status') + call.listenerCount('transcript') + call.listenerCount('ended'), 0);
  });
});
