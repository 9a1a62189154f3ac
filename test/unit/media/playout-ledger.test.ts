import assert from 'node:assert/strict';
import { PlayoutLedger, type AgentLineHeard, type ChunkAlignment } from '../../../src/media/playout-ledger';

const RATE = 8000;
const FRAME = 160; // 20 ms
const ms = (n: number): number => (n * RATE) / 1000;

function ledger(settleMs = 100): { l: PlayoutLedger; reports: AgentLineHeard[] } {
  const reports: AgentLineHeard[] = [];
  return { l: new PlayoutLedger({ sampleRateHz: RATE, settleMs, onHeard: (r) => reports.push(r) }), reports };
}

/** Characters spread evenly over a chunk of `durationMs`, as the agent's alignment gives them. */
function align(text: string, durationMs: number): ChunkAlignment {
  const step = durationMs / text.length;
  return { chars: [...text], charStartTimesMs: [...text].map((_, i) => i * step), charDurationsMs: [...text].map(() => step) };
}

/** Plays `n` frames, one tick each 20 ms from `fromMs`. */
function playFrames(l: PlayoutLedger, n: number, fromMs = 0): number {
  for (let i = 0; i < n; i++) l.played(FRAME, fromMs + i * 20);
  return fromMs + n * 20;
}

describe('PlayoutLedger', () => {
  it('reports a line heard in full once its last frame left and the next line waits behind it', () => {
    const { l, reports } = ledger();
    l.queued(1, ms(200), 200);
    l.queued(2, ms(100), 100);
    playFrames(l, 9);
    assert.deepEqual(reports, []);
    l.played(FRAME, 180);
    assert.deepEqual(reports, [{ eventId: 1, heardMs: 200, totalMs: 200, isComplete: true }]);
  });

  it('settles the last line as complete after settleMs without anything to play', () => {
    const { l, reports } = ledger(100);
    l.queued(3, ms(60), 60);
    const end = playFrames(l, 3);
    l.idle(end + 50);
    assert.equal(reports.length, 0, 'not settled yet: the agent may still be sending the line');
    l.queued(3, ms(40), 40); // more of the same line arrived in time
    const end2 = playFrames(l, 2, end + 60);
    l.idle(end2 + 120);
    assert.deepEqual(reports, [{ eventId: 3, heardMs: 100, totalMs: 100, isComplete: true }]);
  });

  it('a barge-in cuts the line playing after what left, and lines not begun at 0', () => {
    const { l, reports } = ledger();
    l.queued(1, ms(1000), 1000);
    l.queued(2, ms(500), 500);
    playFrames(l, 15);
    l.flushed();
    assert.deepEqual(reports, [
      { eventId: 1, heardMs: 300, totalMs: 1000, isComplete: false },
      { eventId: 2, heardMs: 0, totalMs: 500, isComplete: false },
    ]);
    assert.equal(l.openLines, 0);
  });

  it('places the cut in the text from alignments spread over several chunks', () => {
    const { l, reports } = ledger();
    // "Hello there" in two chunks of 550 ms; alignment times restart at each chunk.
    l.queued(1, ms(550), 550, align('Hello', 550));
    l.queued(1, ms(550), 550, align(' there', 550));
    playFrames(l, 35); // 700 ms: "Hello" (0..550) and " t" (550, 641.7) begun
    l.flushed();
    assert.deepEqual(reports, [{ eventId: 1, heardMs: 700, totalMs: 1100, isComplete: false, cutAtChar: 7, heardText: 'Hello t' }]);
  });

  it('a line heard in full has all its characters', () => {
    const { l, reports } = ledger(0);
    l.queued(4, ms(100), 100, align('Hi!', 100));
    const end = playFrames(l, 5);
    l.idle(end);
    assert.deepEqual(reports, [{ eventId: 4, heardMs: 100, totalMs: 100, isComplete: true, cutAtChar: 3, heardText: 'Hi!' }]);
  });

  it('the end of a line held back as a partial frame does not keep it open', () => {
    const { l, reports } = ledger(100);
    l.queued(5, ms(100) + 30, 103.75);
    const end = playFrames(l, 5);
    l.idle(end + 150, 30);
    assert.deepEqual(reports, [{ eventId: 5, heardMs: 104, totalMs: 104, isComplete: true }]);
  });

  it('close reports what is left: played lines complete, unplayed ones cut', () => {
    const { l, reports } = ledger();
    l.queued(1, ms(40), 40);
    l.queued(2, ms(40), 40);
    playFrames(l, 2);
    l.close();
    assert.deepEqual(reports, [
      { eventId: 1, heardMs: 40, totalMs: 40, isComplete: true },
      { eventId: 2, heardMs: 0, totalMs: 40, isComplete: false },
    ]);
  });

  it('a frame spanning two lines completes the first at once', () => {
    const { l, reports } = ledger();
    l.queued(1, 100, 12.5);
    l.queued(2, 300, 37.5);
    l.played(FRAME, 0);
    assert.deepEqual(reports.map((r) => [r.eventId, r.isComplete]), [[1, true]]);
  });
});
