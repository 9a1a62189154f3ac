/**
 * Drift-free playout clock: one frame every `intervalMs` on a monotonic clock.
 *
 * Asterisk forwards RTP exactly as timed by us (docs/asterisk.md#asterisk-does-not-re-time-what-we-send: bursts stay bursts), so the
 * cadence must come from here. Tick n is due at `startMs + n × intervalMs`; each timer is set for
 * the next due time, so setTimeout's lateness never accumulates.
 *
 *   wake-up at now ──► behind = whole intervals past the next due tick
 *     behind ≤ maxCatchUpTicks : run every due tick back to back (a short burst the far end's
 *                                jitter buffer absorbs; keeps RTP timestamps continuous)
 *     behind > maxCatchUpTicks : a stall — skip the missed slots without pulling frames (queued
 *                                audio is delayed, not dropped, and not burst out)
 *   then arm the timer for the next due time.
 */
import { FRAME_MS } from '../audio/frame';

/** Opaque timer handle of a Clock. */
export type TimerHandle = unknown;

/** Monotonic time and one-shot timers. Injected so tests run without real time. */
export interface Clock {
  /** Monotonic milliseconds (fractional); only differences are meaningful. */
  now(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** `performance.now()` and Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The slot a frame is sent in. */
export interface PacerTick {
  /** Slot number since start (0-based); skipped slots are counted too. */
  readonly index: number;
  /** Nominal send time `startMs + index × intervalMs` on the pacer's clock. Use for RTP timestamps. */
  readonly deadlineMs: number;
  /** How late the tick actually ran, ms (≥ 0). */
  readonly lateMs: number;
}

/** What to pace and how. `T` is the frame type (e.g. an Int16Array of 160 samples). */
export interface PacerOptions<T> {
  /** Called once per tick; `undefined` means nothing to send in this slot. */
  readonly pull: () => T | undefined;
  /** Called with each pulled frame, synchronously within the tick. */
  readonly send: (frame: T, tick: PacerTick) => void;
  /** Default FRAME_MS (20). */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  /** Missed ticks run back to back after a short delay; a longer stall skips ahead. Default 3. */
  readonly maxCatchUpTicks?: number;
  /** A tick later than this counts as late. Default intervalMs / 2. */
  readonly lateThresholdMs?: number;
  /**
   * Called once if `pull` or `send` throws; the pacer has stopped by then. Without it the error is
   * rethrown from the timer callback (an uncaught exception: a programmer error surfaces).
   */
  readonly onError?: (err: unknown) => void;
}

/** Counters since start. */
export interface PacerStats {
  /** Ticks run (slots where `pull` was called). */
  readonly ticks: number;
  readonly framesSent: number;
  /** Ticks where `pull` returned nothing. */
  readonly emptyTicks: number;
  /** Ticks that ran more than `lateThresholdMs` after their deadline. */
  readonly lateTicks: number;
  /** Ticks run back to back to make up a short delay. */
  readonly catchUpTicks: number;
  /** Slots skipped by stalls (no pull, no send). */
  readonly skippedTicks: number;
  /** Wake-ups more than `maxCatchUpTicks` behind. */
  readonly stalls: number;
  readonly maxLateMs: number;
  readonly meanLateMs: number;
}

type PacerState = 'idle' | 'running' | 'stopped';

/**
 * Sends one frame per interval from `pull` to `send`. `start()` once; `stop()` clears the timer
 * and is idempotent. Its owner (the thread's MediaClock) must `stop()` it.
 */
export class Pacer<T> {
  readonly intervalMs: number;
  readonly #options: PacerOptions<T>;
  readonly #clock: Clock;
  readonly #maxCatchUp: number;
  readonly #lateThresholdMs: number;
  #state: PacerState = 'idle';
  #timer: TimerHandle | undefined;
  #startMs = 0;
  #next = 0;

  #ticks = 0;
  #framesSent = 0;
  #emptyTicks = 0;
  #lateTicks = 0;
  #catchUpTicks = 0;
  #skippedTicks = 0;
  #stalls = 0;
  #maxLateMs = 0;
  #sumLateMs = 0;

  constructor(options: PacerOptions<T>) {
    this.intervalMs = options.intervalMs ?? FRAME_MS;
    if (!(this.intervalMs > 0)) throw new RangeError('intervalMs must be > 0');
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#maxCatchUp = options.maxCatchUpTicks ?? 3;
    this.#lateThresholdMs = options.lateThresholdMs ?? this.intervalMs / 2;
  }

  /** Start ticking; the first tick is due immediately. Throws if already started. */
  start(): void {
    if (this.#state !== 'idle') throw new Error(`Pacer.start() in state ${this.#state}`);
    this.#state = 'running';
    this.#startMs = this.#clock.now();
    this.#arm();
  }

  /** Stop and clear the timer. Safe to call from inside `pull`/`send` and more than once. */
  stop(): void {
    if (this.#state === 'running' && this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#state = 'stopped';
  }

  get isRunning(): boolean {
    return this.#state === 'running';
  }

  stats(): PacerStats {
    return {
      ticks: this.#ticks,
      framesSent: this.#framesSent,
      emptyTicks: this.#emptyTicks,
      lateTicks: this.#lateTicks,
      catchUpTicks: this.#catchUpTicks,
      skippedTicks: this.#skippedTicks,
      stalls: this.#stalls,
      maxLateMs: this.#maxLateMs,
      meanLateMs: this.#ticks === 0 ? 0 : this.#sumLateMs / this.#ticks,
    };
  }

  #deadline(index: number): number {
    return this.#startMs + index * this.intervalMs;
  }

  #arm(): void {
    const delay = this.#deadline(this.#next) - this.#clock.now();
    // Timers fire no earlier than whole ms; rounding up avoids a useless early wake-up.
    this.#timer = this.#clock.setTimer(this.#onTimer, Math.max(0, Math.ceil(delay)));
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#state !== 'running') return;
    const now = this.#clock.now();
    const behind = Math.floor((now - this.#deadline(this.#next)) / this.intervalMs);
    if (behind > this.#maxCatchUp) {
      this.#stalls++;
      this.#skippedTicks += behind;
      this.#next += behind;
    }
    let isFirst = true;
    while (this.#state === 'running' && this.#deadline(this.#next) <= now) {
      if (!isFirst) this.#catchUpTicks++;
      isFirst = false;
      if (!this.#tick(this.#next, now)) return;
      this.#next++;
    }
    if (this.#state === 'running') this.#arm();
  };

  /** Runs one slot. Returns false if the pacer stopped on an error. */
  #tick(index: number, now: number): boolean {
    const deadlineMs = this.#deadline(index);
    const lateMs = Math.max(0, now - deadlineMs);
    this.#ticks++;
    this.#sumLateMs += lateMs;
    if (lateMs > this.#maxLateMs) this.#maxLateMs = lateMs;
    if (lateMs > this.#lateThresholdMs) this.#lateTicks++;
    try {
      const frame = this.#options.pull();
      if (frame === undefined) {
        this.#emptyTicks++;
      } else {
        this.#options.send(frame, { index, deadlineMs, lateMs });
        this.#framesSent++;
      }
      return true;
    } catch (err) {
      this.stop();
      if (this.#options.onError === undefined) throw err;
      this.#options.onError(err);
      return false;
    }
  }
}
