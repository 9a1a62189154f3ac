/**
 * Character alignment of the simulator's "speech": the text's characters spread
 * evenly over the utterance, and each audio chunk carries the characters that begin in it, timed
 * from the chunk's own start, as the real service sends them.
 */
import type { JsonObject } from './wire';

/** The `alignment` of the chunk covering [chunkStartMs, chunkEndMs) of an utterance, or undefined when no character begins in it. */
export function chunkAlignment(text: string, utteranceMs: number, chunkStartMs: number, chunkEndMs: number): JsonObject | undefined {
  const chars = [...text];
  if (chars.length === 0 || utteranceMs <= 0) return undefined;
  const step = utteranceMs / chars.length;
  const picked: string[] = [];
  const starts: number[] = [];
  const durations: number[] = [];
  chars.forEach((ch, i) => {
    const start = i * step;
    if (start < chunkStartMs || start >= chunkEndMs) return;
    picked.push(ch);
    starts.push(Math.round(start - chunkStartMs));
    durations.push(Math.round(step));
  });
  if (picked.length === 0) return undefined;
  return { chars: picked, char_start_times_ms: starts, char_durations_ms: durations };
}

/** Where character `n` of a `length`-character utterance of `utteranceMs` begins: the inverse, for tests. */
export function charStartMs(n: number, length: number, utteranceMs: number): number {
  return (n * utteranceMs) / length;
}
