/**
 * What the caller actually heard of each agent line: the playout queue's bookkeeping per agent
 * event id. Pure (no timers, no I/O): the media session tells it what was queued, what left for
 * the caller and when the queue was flushed, and it reports each line once its fate is known.
 *
 *   queued(id, samples[, alignment]) ─► lines in queue order ─► played(n) consumes from the head
 *        head fully played and ─┬─ the next line starts playing ──────────────► complete
 *                               └─ nothing left to play for `settleMs` ───────► complete
 *   flushed() (barge-in) ─► the line playing: cut after its played ms; lines not begun: cut at 0
 *   close() ─► whatever is left: complete if it all played, else cut
 *
 * "Heard" means sent to the caller: RTP that left cannot be taken back, so once a frame is sent,
 * the caller hears it. With the agent's per-character alignment the cut is also given as a
 * character count (characters whose sound had begun) and the heard text.
 */

/** Character timing of one chunk of agent audio, relative to the chunk's start. */
export interface ChunkAlignment {
  chars: readonly string[];
  charStartTimesMs: readonly number[];
  charDurationsMs: readonly number[];
}

/** The fate of one agent line (plain data: it may cross a thread boundary). */
export interface AgentLineHeard {
  eventId: number;
  /** Audio of the line that reached the caller, ms. */
  heardMs: number;
  /** Audio of the line the gateway had queued for the caller, ms. */
  totalMs: number;
  /** Every sample queued for the line reached the caller. False: a barge-in or the call's end cut it. */
  isComplete: boolean;
  /** With alignment: characters whose sound had begun when the line was cut (all of them when complete). */
  cutAtChar?: number;
  /** With alignment: those characters. */
  heardText?: string;
}

interface Line {
  readonly eventId: number;
  /** Samples queued at the playout rate, and how many of them left for the caller. */
  queued: number;
  played: number;
  /** Agent audio of this line so far, ms: where the next chunk's alignment starts. */
  agentMs: number;
  chars: string[];
  charStartsMs: number[];
  hasAlignment: boolean;
}

export interface PlayoutLedgerOptions {
  /** Rate of the samples counted by `queued` and `played` (the playout rate). */
  sampleRateHz: number;
  /** A fully played line is complete once this long passed without anything to play. */
  settleMs: number;
  onHeard(report: AgentLineHeard): void;
}

export class PlayoutLedger {
  readonly #options: PlayoutLedgerOptions;
  /** Lines with audio in the queue or played but not yet reported, in queue order. */
  #lines: Line[] = [];
  #lastPlayedMs = 0;

  constructor(options: PlayoutLedgerOptions) {
    this.#options = options;
  }

  /** Lines not yet reported. */
  get openLines(): number {
    return this.#lines.length;
  }

  /**
   * `samples` of line `eventId` entered the playout queue; `agentMs` is the chunk's duration as the
   * agent sent it (alignment times are on that clock).
   */
  queued(eventId: number, samples: number, agentMs: number, alignment?: ChunkAlignment): void {
    let line = this.#lines[this.#lines.length - 1];
    if (line?.eventId !== eventId) {
      line = { eventId, queued: 0, played: 0, agentMs: 0, chars: [], charStartsMs: [], hasAlignment: false };
      this.#lines.push(line);
    }
    if (alignment !== undefined) {
      line.hasAlignment = true;
      const n = Math.min(alignment.chars.length, alignment.charStartTimesMs.length);
      for (let i = 0; i < n; i++) {
        line.chars.push(alignment.chars[i] ?? '');
        line.charStartsMs.push(line.agentMs + (alignment.charStartTimesMs[i] ?? 0));
      }
    }
    line.queued += samples;
    line.agentMs += agentMs;
  }

  /** `samples` left for the caller at `nowMs` (one frame per tick, or the drained remainder). */
  played(samples: number, nowMs: number): void {
    if (samples > 0) this.#lastPlayedMs = nowMs;
    let left = samples;
    while (left > 0 && this.#lines.length > 0) {
      const head = this.#lines[0]!;
      const take = Math.min(left, head.queued - head.played);
      head.played += take;
      left -= take;
      if (head.played < head.queued) break;
      // Played to its end with the next line behind it (or already begun): heard in full.
      if (left > 0 || this.#lines.length > 1) this.#report(this.#lines.shift()!, true);
      else break;
    }
  }

  /**
   * A tick with nothing to play: a line that played to its end settles as complete. `heldSamples`
   * is what the queue still holds (less than a frame, waiting for more audio to fill it): the end of
   * a line may sit there until the next line comes, so it does not keep the line open.
   */
  idle(nowMs: number, heldSamples = 0): void {
    const head = this.#lines[0];
    if (head === undefined || head.queued - head.played > heldSamples) return;
    if (this.#lines.length > 1 || nowMs - this.#lastPlayedMs >= this.#options.settleMs) {
      head.played = head.queued;
      this.#report(this.#lines.shift()!, true);
    }
  }

  /** The queue was emptied (barge-in): every open line is reported, cut where it stood. */
  flushed(): void {
    const lines = this.#lines;
    this.#lines = [];
    for (const line of lines) this.#report(line, line.played >= line.queued);
  }

  /** The media path closes: report what is left. */
  close(): void {
    this.flushed();
  }

  #report(line: Line, isComplete: boolean): void {
    const msOf = (samples: number): number => Math.round((samples * 1000) / this.#options.sampleRateHz);
    const heardMs = msOf(line.played);
    const report: AgentLineHeard = { eventId: line.eventId, heardMs, totalMs: msOf(line.queued), isComplete };
    if (line.hasAlignment) {
      const cut = isComplete ? line.chars.length : countBefore(line.charStartsMs, heardMs);
      report.cutAtChar = cut;
      report.heardText = line.chars.slice(0, cut).join('');
    }
    this.#options.onHeard(report);
  }
}

/** How many of the ascending `starts` lie before `ms`. */
function countBefore(starts: readonly number[], ms: number): number {
  let n = 0;
  while (n < starts.length && (starts[n] ?? Infinity) < ms) n++;
  return n;
}
