/**
 * Energy VAD of the simulator. Works on media time (samples received), not wall-clock time, so a
 * test that streams N ms of tone then M ms of silence gets the same turn boundaries however fast it
 * sends. Like the real service, it needs the caller to keep streaming (silence included) for a turn
 * to end.
 */

/** VAD thresholds; all durations in media milliseconds. */
export interface VadOptions {
  /** RMS (int16 scale) at or above which a 10 ms frame counts as speech; default 500 (≈ −36 dBFS). */
  speechThreshold: number;
  /** Speech needed before a turn starts (and may interrupt the agent); default 200. */
  minSpeechMs: number;
  /** Silence that ends a turn; default 700. */
  endSilenceMs: number;
}

/** Defaults that behave like the service's turn detection (docs/agent-protocol.md#the-simulator). */
export const DEFAULT_VAD: VadOptions = { speechThreshold: 500, minSpeechMs: 200, endSilenceMs: 700 };

/** What `EnergyVad.push` detected in a block. `atMs` is media time from the first sample. */
export type VadEvent =
  | { kind: 'speech-start'; atMs: number }
  | { kind: 'speech-end'; atMs: number; speechMs: number };

const FRAME_MS = 10;

/** Stateful per-conversation VAD; feed it every received block in order. */
export class EnergyVad {
  readonly #opts: VadOptions;
  readonly #frameSamples: number;
  readonly #carry: Int16Array;
  #carryLen = 0;
  #framesSeen = 0;
  #inSpeech = false;
  #loudRunMs = 0;
  #speechMs = 0;
  #quietRunMs = 0;

  constructor(rateHz: number, opts: VadOptions) {
    this.#opts = opts;
    this.#frameSamples = Math.round((rateHz * FRAME_MS) / 1000);
    this.#carry = new Int16Array(this.#frameSamples);
  }

  /** True between a speech-start and its speech-end. */
  get isInSpeech(): boolean {
    return this.#inSpeech;
  }

  /** Feed samples; returns the boundaries crossed, in order. */
  push(samples: Int16Array): VadEvent[] {
    const events: VadEvent[] = [];
    let i = 0;
    while (i < samples.length) {
      const take = Math.min(this.#frameSamples - this.#carryLen, samples.length - i);
      this.#carry.set(samples.subarray(i, i + take), this.#carryLen);
      this.#carryLen += take;
      i += take;
      if (this.#carryLen === this.#frameSamples) {
        this.#frame(events);
        this.#carryLen = 0;
      }
    }
    return events;
  }

  #frame(events: VadEvent[]): void {
    let sum = 0;
    for (let k = 0; k < this.#frameSamples; k++) sum += this.#carry[k]! * this.#carry[k]!;
    const isLoud = Math.sqrt(sum / this.#frameSamples) >= this.#opts.speechThreshold;
    this.#framesSeen++;
    const atMs = this.#framesSeen * FRAME_MS;
    if (!this.#inSpeech) {
      this.#loudRunMs = isLoud ? this.#loudRunMs + FRAME_MS : 0;
      if (this.#loudRunMs >= this.#opts.minSpeechMs) {
        this.#inSpeech = true;
        this.#speechMs = this.#loudRunMs;
        this.#quietRunMs = 0;
        events.push({ kind: 'speech-start', atMs });
      }
      return;
    }
    if (isLoud) {
      this.#speechMs += FRAME_MS + this.#quietRunMs;
      this.#quietRunMs = 0;
      return;
    }
    this.#quietRunMs += FRAME_MS;
    if (this.#quietRunMs >= this.#opts.endSilenceMs) {
      this.#inSpeech = false;
      this.#loudRunMs = 0;
      events.push({ kind: 'speech-end', atMs, speechMs: this.#speechMs });
    }
  }
}
