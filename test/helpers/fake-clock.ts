/**
 * A manual Clock for unit tests: time moves only through `advance()` / `stall()`, and timers fire
 * in due order at their due time. Optionally every timer fires late, like a busy event loop.
 */
import type { Clock, TimerHandle } from '../../src/media/pacer';

interface FakeTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/** Fake monotonic clock with one-shot timers. */
export class FakeClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  #timers: FakeTimer[] = [];
  readonly #latenessMs: () => number;
  /** Every delay passed to setTimer, in order (to assert what a component asked for). */
  readonly requestedDelaysMs: number[] = [];

  /**
   * @param startMs initial `now()`; default 1000 (not 0, to catch code that treats 0 as "unset")
   * @param latenessMs extra delay added to every timer when it is set (default 0)
   */
  constructor(options: { startMs?: number; latenessMs?: () => number } = {}) {
    this.#nowMs = options.startMs ?? 1000;
    this.#latenessMs = options.latenessMs ?? (() => 0);
  }

  now(): number {
    return this.#nowMs;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    this.requestedDelaysMs.push(delayMs);
    // Node clamps delays below 1 ms to 1 ms.
    const timer = { id: this.#nextId++, dueMs: this.#nowMs + Math.max(1, delayMs) + this.#latenessMs(), callback };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Move time forward by `ms`, firing each due timer at its own due time (earliest first). */
  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.dueMs > target) break;
      this.#fire(next, Math.max(this.#nowMs, next.dueMs));
    }
    this.#nowMs = target;
  }

  /**
   * A blocked event loop: time jumps by `ms` with no timer running, then every timer that became
   * due fires (late) at the new time.
   */
  stall(ms: number): void {
    this.#nowMs += ms;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.dueMs > this.#nowMs) break;
      this.#fire(next, this.#nowMs);
    }
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id < best.id)) best = t;
    return best;
  }

  #fire(timer: FakeTimer, atMs: number): void {
    this.#timers = this.#timers.filter((t) => t !== timer);
    this.#nowMs = atMs;
    timer.callback();
  }
}
