/**
 * One playout clock for every call of a thread: a single drift-free 20 ms loop (the Pacer) whose
 * every slot is handed to each playing session, instead of one timer per call. With hundreds of
 * calls that is one timer wake-up per 20 ms rather than hundreds, and every call's packets leave
 * in the same turn of the event loop (docs/architecture.md#one-media-clock).
 *
 * Timing accounting is the clock's: a slot that ran late, or slots skipped after a stall, happened
 * to every session playing then; each membership reports the counts since it joined.
 */
import { FRAME_MS } from '../audio/frame';
import { Pacer, systemClock, type Clock, type PacerStats, type PacerTick } from './pacer';

/** A session the clock drives: `onSlot` is called once per 20 ms slot, synchronously. */
export interface MediaClockMember {
  onSlot(tick: PacerTick): void;
  /** `onSlot` threw: the member was removed (the others play on). */
  onError(err: unknown): void;
}

/** A member's place on the clock; `leave()` is idempotent. */
export interface MediaClockMembership {
  /** Slot timing since the member joined. */
  stats(): Pick<PacerStats, 'ticks' | 'lateTicks' | 'catchUpTicks' | 'skippedTicks' | 'stalls' | 'maxLateMs'>;
  leave(): void;
}

export interface MediaClockOptions {
  clock?: Clock;
}

/**
 * Missed slots played back to back after a stall before the clock skips ahead. 15 slots = 300 ms:
 * audio delayed that long by a stall (a GC pause, a blocked loop) still plays without inserted
 * silence, as a short burst the phone's jitter buffer absorbs (docs/performance.md#stalls). Fixed,
 * not a setting: each session's packet ring is sized for this burst (src/rtp/packet-ring.ts).
 */
export const MAX_CATCH_UP_SLOTS = 15;

interface Member {
  readonly target: MediaClockMember;
  readonly joined: PacerStats;
  maxLateMs: number;
  isGone: boolean;
}

export class MediaClock {
  readonly #options: MediaClockOptions;
  readonly #members = new Set<Member>();
  #pacer: Pacer<true> | undefined;

  constructor(options: MediaClockOptions = {}) {
    this.#options = options;
  }

  /** Sessions playing now. */
  get size(): number {
    return this.#members.size;
  }

  /** The clock's own timing since it last started (for the benchmark). */
  stats(): PacerStats | undefined {
    return this.#pacer?.stats();
  }

  /** Starts handing slots to `target` from the next one. */
  join(target: MediaClockMember): MediaClockMembership {
    const pacer = this.#running();
    const member: Member = { target, joined: pacer.stats(), maxLateMs: 0, isGone: false };
    this.#members.add(member);
    return {
      stats: () => {
        // The pacer that was running when the member joined runs as long as the member is on it.
        const now = pacer.stats();
        return {
          ticks: now.ticks - member.joined.ticks,
          lateTicks: now.lateTicks - member.joined.lateTicks,
          catchUpTicks: now.catchUpTicks - member.joined.catchUpTicks,
          skippedTicks: now.skippedTicks - member.joined.skippedTicks,
          stalls: now.stalls - member.joined.stalls,
          maxLateMs: member.maxLateMs,
        };
      },
      leave: () => this.#leave(member),
    };
  }

  /** Stops the clock (members are dropped). */
  stop(): void {
    this.#members.clear();
    this.#pacer?.stop();
    this.#pacer = undefined;
  }

  #running(): Pacer<true> {
    if (this.#pacer !== undefined) return this.#pacer;
    const pacer = new Pacer<true>({
      clock: this.#options.clock ?? systemClock,
      intervalMs: FRAME_MS,
      maxCatchUpTicks: MAX_CATCH_UP_SLOTS,
      pull: () => true,
      send: (_frame, tick) => this.#fanOut(tick),
    });
    pacer.start();
    this.#pacer = pacer;
    return pacer;
  }

  #fanOut(tick: PacerTick): void {
    for (const member of this.#members) {
      if (tick.lateMs > member.maxLateMs) member.maxLateMs = tick.lateMs;
      try {
        member.target.onSlot(tick);
      } catch (err) {
        this.#leave(member);
        member.target.onError(err);
      }
    }
  }

  #leave(member: Member): void {
    if (member.isGone) return;
    member.isGone = true;
    this.#members.delete(member);
    // An idle clock costs a wake-up every 20 ms for nothing: stop it until the next member.
    if (this.#members.size === 0) {
      this.#pacer?.stop();
      this.#pacer = undefined;
    }
  }
}
