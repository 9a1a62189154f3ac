import assert from 'node:assert/strict';
import { Framer } from '../../../src/audio/framer';
import { Pacer, systemClock, type PacerTick } from '../../../src/media/pacer';
import { RtpSender } from '../../../src/rtp/sequencer';
import { FakeClock } from '../../helpers/fake-clock';

interface Sent {
  readonly frame: number;
  readonly tick: PacerTick;
  readonly atMs: number;
}

/** A pacer over a counter source, recording every send with the clock time. */
function harness(clock: FakeClock, options: { maxCatchUpTicks?: number; available?: () => boolean } = {}) {
  const sent: Sent[] = [];
  let next = 0;
  const pacer = new Pacer<number>({
    clock,
    maxCatchUpTicks: options.maxCatchUpTicks,
    pull: () => (options.available?.() === false ? undefined : next++),
    send: (frame, tick) => sent.push({ frame, tick, atMs: clock.now() }),
  });
  return { pacer, sent };
}

describe('rtp/pacer', () => {
  it('sends one frame per 20 ms with deadlines start + n·20', () => {
    const clock = new FakeClock({ startMs: 5000 });
    const { pacer, sent } = harness(clock);
    pacer.start();
    clock.advance(1000);
    assert.equal(sent.length, 51, 'ticks 0…50 inclusive');
    sent.forEach((s, i) => {
      assert.equal(s.frame, i);
      assert.equal(s.tick.index, i);
      assert.equal(s.tick.deadlineMs, 5000 + 20 * i);
    });
    pacer.stop();
  });

  it('does not drift when every timer fires late (deadlines are absolute)', () => {
    const clock = new FakeClock({ latenessMs: () => 1.7 });
    const { pacer, sent } = harness(clock);
    pacer.start();
    clock.advance(20_000);
    // A naive setTimeout(20) chain would manage 20 000 / 21.7 ≈ 922 ticks here.
    assert.ok(sent.length >= 1000 && sent.length <= 1001, `${sent.length} ticks`);
    const lateness = sent.map((s) => s.atMs - s.tick.deadlineMs);
    assert.ok(Math.max(...lateness) < 3, `max lateness ${Math.max(...lateness)} ms`);
    assert.equal(pacer.stats().lateTicks, 0);
    assert.equal(pacer.stats().skippedTicks, 0);
    pacer.stop();
  });

  it('asks for whole-millisecond delays that aim at the next deadline', () => {
    const clock = new FakeClock({ startMs: 0.3 });
    const { pacer } = harness(clock);
    pacer.start();
    clock.advance(100);
    pacer.stop();
    for (const d of clock.requestedDelaysMs) assert.ok(Number.isInteger(d) && d >= 0 && d <= 20, `delay ${d}`);
  });

  it('makes up a short delay with back-to-back ticks (bounded catch-up)', () => {
    const clock = new FakeClock();
    const { pacer, sent } = harness(clock);
    pacer.start();
    clock.advance(100); // ticks 0…5 (the timer for tick 5 fired at +100, on time)
    const before = sent.length;
    clock.stall(50); // loop blocked 50 ms: ticks 6 and 7 are due
    const burst = sent.slice(before);
    assert.deepEqual(burst.map((s) => s.tick.index), [6, 7]);
    assert.ok(burst.every((s) => s.atMs === clock.now()), 'sent at the wake-up, back to back');
    assert.equal(pacer.stats().catchUpTicks, 1);
    assert.equal(pacer.stats().skippedTicks, 0);
    clock.advance(200);
    assert.deepEqual(sent.map((s) => s.tick.index), Array.from({ length: sent.length }, (_, i) => i), 'no slot skipped');
    pacer.stop();
  });

  it('skips ahead after a long stall instead of bursting the backlog', () => {
    const clock = new FakeClock();
    const { pacer, sent } = harness(clock);
    pacer.start();
    clock.advance(100);
    const before = sent.length;
    clock.stall(500); // 25 slots late
    const afterStall = sent.slice(before);
    assert.equal(afterStall.length, 1, 'one frame at the wake-up, not 25');
    const stats = pacer.stats();
    assert.equal(stats.stalls, 1);
    assert.ok(stats.skippedTicks >= 24 && stats.skippedTicks <= 25, `skipped ${stats.skippedTicks}`);
    assert.ok(stats.maxLateMs < 20, 'the resumed slot is the current one, so it is not late');
    const frames = sent.map((s) => s.frame);
    assert.deepEqual(frames, Array.from({ length: frames.length }, (_, i) => i), 'no audio was dropped, only delayed');
    clock.advance(100);
    const resumed = sent.slice(before);
    for (let i = 1; i < resumed.length; i++) assert.equal(resumed[i]!.tick.index, resumed[i - 1]!.tick.index + 1);
    pacer.stop();
  });

  it('counts empty ticks when the source has nothing', () => {
    const clock = new FakeClock();
    let isAvailable = false;
    const { pacer, sent } = harness(clock, { available: () => isAvailable });
    pacer.start();
    clock.advance(99);
    isAvailable = true;
    clock.advance(100);
    assert.equal(pacer.stats().emptyTicks, 5);
    assert.equal(pacer.stats().framesSent, sent.length);
    assert.equal(pacer.stats().ticks, 10);
    pacer.stop();
  });

  it('stop() clears its timer, is idempotent, and works from inside send', () => {
    const clock = new FakeClock();
    let pacer: Pacer<number> | undefined = undefined;
    let sends = 0;
    pacer = new Pacer<number>({
      clock,
      pull: () => 1,
      send: () => {
        if (++sends === 3) pacer?.stop();
      },
    });
    pacer.start();
    clock.advance(1000);
    assert.equal(sends, 3);
    assert.equal(clock.pendingTimers, 0);
    pacer.stop();
    assert.equal(pacer.isRunning, false);

    const { pacer: p2 } = harness(clock);
    p2.start();
    assert.equal(clock.pendingTimers, 1);
    p2.stop();
    assert.equal(clock.pendingTimers, 0);
    assert.throws(() => p2.start(), /stopped/);
  });

  it('start() twice is a programmer error', () => {
    const clock = new FakeClock();
    const { pacer } = harness(clock);
    pacer.start();
    assert.throws(() => pacer.start(), /running/);
    pacer.stop();
  });

  it('stops and reports once when send throws', () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const boom = new Error('socket closed');
    const pacer = new Pacer<number>({
      clock,
      pull: () => 1,
      send: () => {
        throw boom;
      },
      onError: (err) => errors.push(err),
    });
    pacer.start();
    clock.advance(200);
    assert.deepEqual(errors, [boom]);
    assert.equal(pacer.isRunning, false);
    assert.equal(clock.pendingTimers, 0);
  });

  it('rethrows from the timer when no onError is given', () => {
    const clock = new FakeClock();
    const pacer = new Pacer<number>({
      clock,
      pull: () => {
        throw new Error('bug');
      },
      send: () => undefined,
    });
    pacer.start();
    assert.throws(() => clock.advance(20), /bug/);
    assert.equal(pacer.isRunning, false);
  });

  it('with Framer and RtpSender: a stall becomes a timestamp jump with the marker set', () => {
    const clock = new FakeClock();
    const framer = new Framer({ sampleRateHz: 8000 });
    framer.write(new Int16Array(8000)); // 1 s of audio queued
    const sender = new RtpSender({ payloadType: 10, clockRateHz: 8000, ssrc: 1, initialSequenceNumber: 0, initialTimestamp: 0 });
    const headers: Array<{ seq: number; ts: number; marker: boolean }> = [];
    const pacer = new Pacer<Int16Array>({
      clock,
      pull: () => framer.read(),
      send: (frame, tick) => {
        const h = sender.next(frame.length, tick.deadlineMs);
        headers.push({ seq: h.sequenceNumber, ts: h.timestamp, marker: h.marker === true });
      },
    });
    pacer.start();
    clock.advance(100);
    clock.stall(300);
    clock.advance(40);
    pacer.stop();
    const jump = headers.findIndex((h, i) => i > 0 && h.marker);
    assert.ok(jump > 0, 'a talkspurt marker after the stall');
    assert.equal(headers[jump]!.seq, headers[jump - 1]!.seq + 1, 'seq stays contiguous');
    const skipped = pacer.stats().skippedTicks;
    assert.equal(headers[jump]!.ts - headers[jump - 1]!.ts, 160 * (skipped + 1), 'ts advanced by the real elapsed samples');
    for (let i = 1; i < headers.length; i++) if (i !== jump) assert.equal(headers[i]!.ts - headers[i - 1]!.ts, 160);
  });

  it('runs on the real clock (event-driven, no sleeps)', async () => {
    const sends: Array<{ atMs: number; deadlineMs: number }> = [];
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const pacer = new Pacer<number>({
      intervalMs: 10,
      pull: () => 1,
      send: (_frame, tick) => {
        sends.push({ atMs: systemClock.now(), deadlineMs: tick.deadlineMs });
        if (sends.length === 20) {
          pacer.stop();
          resolveDone();
        }
      },
    });
    pacer.start();
    await done;
    // Deadlines are start + n × interval on a fractional clock: equal up to float rounding.
    assert.ok(Math.abs(sends[19]!.deadlineMs - sends[0]!.deadlineMs - 190) < 1e-6, 'deadlines are exactly 19 intervals apart');
    for (const s of sends) assert.ok(s.atMs >= s.deadlineMs, 'never early');
    const meanLateMs = sends.reduce((sum, s) => sum + s.atMs - s.deadlineMs, 0) / sends.length;
    assert.ok(meanLateMs < 10, `mean lateness ${meanLateMs.toFixed(2)} ms (loaded machine?)`);
    assert.equal(pacer.stats().ticks, 20);
  });
});
