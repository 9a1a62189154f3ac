import assert from 'node:assert/strict';
import { audibleRuns, dominantFrequencyHz, findGaps, rms, segment } from './signal';

/**
 * The audio checks of a call through the gateway, as assertions on signals (never byte counts):
 * tone up (the carrier's tone as the agent heard it) and tone down (the agent's tone as the
 * carrier recorded it).
 */

/** Tone up: the last second of what the agent heard is the caller's steady tone, not silence. */
export function assertToneHeard(samples: Int16Array, rateHz: number, expectedHz: number): void {
  assert.ok(samples.length >= rateHz, `the agent heard ${samples.length} samples, less than a second at ${rateHz} Hz`);
  const tail = samples.subarray(samples.length - rateHz);
  const f = dominantFrequencyHz(tail, rateHz);
  assert.ok(Math.abs(f - expectedHz) < 5, `agent heard ${f.toFixed(1)} Hz, expected ${expectedHz} Hz (byte order or rate wrong?)`);
  assert.ok(rms(tail) > 1000, 'caller audio is not silence');
}

/**
 * Tone down: the first audible run of an 8 kHz recording is a tone of `expectedHz` lasting about
 * `durationMs` (±100 ms), with no silent 20 ms frame and no discontinuity inside (its first and
 * last 20 ms, where it fades in and out, aside). Returns the run, in ms from the recording's start.
 */
export function assertGapFreeTone(
  samples: Int16Array,
  expected: { readonly freqHz: number; readonly durationMs: number },
): { startMs: number; endMs: number } {
  const runs = audibleRuns(samples);
  const run = runs[0];
  assert.ok(run, 'the carrier heard nothing');
  const durationMs = run.endMs - run.startMs;
  assert.ok(
    Math.abs(durationMs - expected.durationMs) <= 100,
    `tone lasted ${durationMs} ms at the carrier, expected ~${expected.durationMs} (runs: ${JSON.stringify(runs)})`,
  );
  const tone = segment(samples, run);
  const heardHz = dominantFrequencyHz(tone, 8000);
  assert.ok(Math.abs(heardHz - expected.freqHz) < 3, `carrier heard ${heardHz.toFixed(1)} Hz, expected ${expected.freqHz} Hz`);
  const gaps = findGaps(tone.subarray(160, tone.length - 160), 8000, 20, { freqHz: expected.freqHz });
  assert.equal(gaps.silentFrames.length, 0, `silent frames inside the tone: ${gaps.silentFrames.join(',')}`);
  assert.equal(gaps.discontinuities.length, 0, `discontinuities inside the tone: ${JSON.stringify(gaps.discontinuities.slice(0, 5))}`);
  return run;
}
