/**
 * Playout queue that turns chunks of any length (agent audio is not frame aligned) into exact
 * fixed-size frames, e.g. 160 samples = 20 ms at 8 kHz.
 *
 * A ring buffer of Int16 samples: each `write` copies its chunk in once, each `read` copies one
 * frame out once. The ring doubles when a write does not fit (amortised; never per write in steady
 * state), up to an optional cap.
 */
import { FRAME_MS } from './frame';

/** What happens to samples that would exceed `maxBufferedMs`. */
export type FramerOverflow = 'drop-oldest' | 'drop-newest';

/** Framer shape and limits. */
export interface FramerOptions {
  readonly sampleRateHz: number;
  /** Frame length; default FRAME_MS (20). `sampleRateHz × frameMs / 1000` must be an integer. */
  readonly frameMs?: number;
  /** Cap on queued audio. Default: unbounded. */
  readonly maxBufferedMs?: number;
  /**
   * Default 'drop-oldest': a full queue keeps the newest audio, so latency stays bounded and
   * playback resumes with current speech rather than stale speech.
   */
  readonly overflow?: FramerOverflow;
}

const INITIAL_CAPACITY_FRAMES = 16;

/** Fixed-frame playout queue for one stream. Pure; not thread-shared. */
export class Framer {
  readonly sampleRateHz: number;
  readonly frameSamples: number;
  readonly #maxSamples: number;
  readonly #overflow: FramerOverflow;
  #ring: Int16Array;
  #head = 0;
  #length = 0;
  #droppedSamples = 0;

  constructor(options: FramerOptions) {
    const frameMs = options.frameMs ?? FRAME_MS;
    const frameSamples = (options.sampleRateHz * frameMs) / 1000;
    if (!Number.isInteger(frameSamples) || frameSamples <= 0) {
      throw new RangeError(`${options.sampleRateHz} Hz × ${frameMs} ms is not a whole number of samples`);
    }
    this.sampleRateHz = options.sampleRateHz;
    this.frameSamples = frameSamples;
    this.#maxSamples = options.maxBufferedMs === undefined ? Infinity : Math.floor((options.maxBufferedMs * options.sampleRateHz) / 1000);
    if (this.#maxSamples < frameSamples) throw new RangeError('maxBufferedMs must hold at least one frame');
    this.#overflow = options.overflow ?? 'drop-oldest';
    this.#ring = new Int16Array(Math.min(frameSamples * INITIAL_CAPACITY_FRAMES, this.#maxSamples));
  }

  /**
   * Queue samples (copied; the caller keeps `samples`). Returns how many samples were dropped
   * because of the cap (0 when unbounded).
   */
  write(samples: Int16Array): number {
    let src = samples;
    let dropped = 0;
    const room = this.#maxSamples - this.#length;
    if (src.length > room) {
      if (this.#overflow === 'drop-newest') {
        dropped = src.length - room;
        src = src.subarray(0, room);
      } else {
        const excess = src.length - room;
        if (src.length >= this.#maxSamples) {
          // The chunk alone fills the cap: keep its tail, forget everything queued.
          dropped = this.#length + src.length - this.#maxSamples;
          src = src.subarray(src.length - this.#maxSamples);
          this.#head = 0;
          this.#length = 0;
        } else {
          dropped = excess;
          this.#skip(excess);
        }
      }
    }
    this.#droppedSamples += dropped;
    if (src.length === 0) return dropped;
    if (this.#length + src.length > this.#ring.length) this.#grow(this.#length + src.length);

    const cap = this.#ring.length;
    const tail = (this.#head + this.#length) % cap;
    const first = Math.min(src.length, cap - tail);
    this.#ring.set(first === src.length ? src : src.subarray(0, first), tail);
    if (first < src.length) this.#ring.set(src.subarray(first), 0);
    this.#length += src.length;
    return dropped;
  }

  /**
   * Take one full frame, or `undefined` when less than a frame is queued. Copies into `out` (at
   * least `frameSamples` long) when given; otherwise returns a new array owned by the caller.
   */
  read(out?: Int16Array): Int16Array | undefined {
    if (this.#length < this.frameSamples) return undefined;
    return this.#take(this.frameSamples, out);
  }

  /**
   * Take what is left as one frame padded with silence (end of an utterance), or `undefined` if
   * nothing is queued. Use `read()` first: this returns whatever partial frame remains.
   */
  flush(out?: Int16Array): Int16Array | undefined {
    if (this.#length === 0) return undefined;
    if (this.#length >= this.frameSamples) return this.#take(this.frameSamples, out);
    const n = this.#length;
    const frame = this.#take(n, out ?? new Int16Array(this.frameSamples), this.frameSamples);
    frame.fill(0, n);
    return frame;
  }

  /** Drop everything queued (barge-in). Keeps the allocated ring. */
  clear(): void {
    this.#head = 0;
    this.#length = 0;
  }

  get bufferedSamples(): number {
    return this.#length;
  }

  /** Queued audio in ms, including a trailing partial frame. */
  get bufferedMs(): number {
    return (this.#length * 1000) / this.sampleRateHz;
  }

  /** Whole frames ready to `read()`. */
  get framesAvailable(): number {
    return Math.floor(this.#length / this.frameSamples);
  }

  /** Samples dropped by the cap since construction. */
  get droppedSamples(): number {
    return this.#droppedSamples;
  }

  #take(n: number, out: Int16Array | undefined, frameLength = n): Int16Array {
    if (out !== undefined && out.length < frameLength) throw new RangeError(`output of ${out.length} samples cannot hold a ${frameLength}-sample frame`);
    const dst = out === undefined ? new Int16Array(frameLength) : out.length === frameLength ? out : out.subarray(0, frameLength);
    const cap = this.#ring.length;
    const first = Math.min(n, cap - this.#head);
    dst.set(this.#ring.subarray(this.#head, this.#head + first), 0);
    if (first < n) dst.set(this.#ring.subarray(0, n - first), first);
    this.#skip(n);
    return dst;
  }

  #skip(n: number): void {
    this.#head = (this.#head + n) % this.#ring.length;
    this.#length -= n;
    if (this.#length === 0) this.#head = 0;
  }

  #grow(needed: number): void {
    let cap = this.#ring.length * 2;
    while (cap < needed) cap *= 2;
    cap = Math.min(cap, Math.max(needed, this.#maxSamples));
    const next = new Int16Array(cap);
    const first = Math.min(this.#length, this.#ring.length - this.#head);
    next.set(this.#ring.subarray(this.#head, this.#head + first), 0);
    if (first < this.#length) next.set(this.#ring.subarray(0, this.#length - first), first);
    this.#ring = next;
    this.#head = 0;
  }
}
