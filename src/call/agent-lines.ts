/**
 * Agent lines of a call's transcript and what became of them: what the caller heard (from the
 * playout, src/media/playout-ledger.ts) and the agent's own correction after a barge-in. Reports
 * name a line by the agent's event id; one may come before the line itself (the agent's text and
 * its audio are not ordered on the wire), so it waits here until the line arrives.
 */
import type { AgentLineCorrection, AgentLineHeard } from '../media/conversation-link';
import type { HeardInfo, TranscriptEntry } from '../model/call-view';

/** A line that changed after it was first reported: its index in the transcript and its new entry. */
export interface LineChange {
  seq: number;
  entry: TranscriptEntry;
}

export function heardInfoOf(report: AgentLineHeard): HeardInfo {
  const heard: HeardInfo = { complete: report.isComplete, ms: report.heardMs, total_ms: report.totalMs };
  if (report.cutAtChar !== undefined) heard.chars = report.cutAtChar;
  if (report.heardText !== undefined) heard.text = report.heardText;
  return heard;
}

export class AgentLines {
  readonly #transcript: TranscriptEntry[];
  readonly #seqByEvent = new Map<number, number>();
  readonly #pendingHeard = new Map<number, HeardInfo>();
  readonly #pendingCorrection = new Map<number, AgentLineCorrection>();

  /** `transcript` is the call's own array: entries are updated in place. */
  constructor(transcript: TranscriptEntry[]) {
    this.#transcript = transcript;
  }

  /** Line `seq` was added for agent event `eventId`: reports that came before it apply now (before it is published). */
  added(seq: number, eventId: number | undefined): void {
    const entry = this.#transcript[seq];
    if (eventId === undefined || entry === undefined || entry.role !== 'agent') return;
    this.#seqByEvent.set(eventId, seq);
    const correction = this.#pendingCorrection.get(eventId);
    if (correction !== undefined) applyCorrection(entry, correction);
    const heard = this.#pendingHeard.get(eventId);
    if (heard !== undefined) entry.heard = heard;
    this.#pendingCorrection.delete(eventId);
    this.#pendingHeard.delete(eventId);
  }

  heard(report: AgentLineHeard): LineChange | undefined {
    const info = heardInfoOf(report);
    const seq = this.#seqByEvent.get(report.eventId);
    const entry = seq === undefined ? undefined : this.#transcript[seq];
    if (seq === undefined || entry === undefined) {
      this.#pendingHeard.set(report.eventId, info);
      return undefined;
    }
    entry.heard = info;
    return { seq, entry };
  }

  corrected(correction: AgentLineCorrection): LineChange | undefined {
    const seq = correction.eventId === null ? this.#seqOfText(correction.originalText) : this.#seqByEvent.get(correction.eventId);
    const entry = seq === undefined ? undefined : this.#transcript[seq];
    if (seq === undefined || entry === undefined) {
      if (correction.eventId !== null) this.#pendingCorrection.set(correction.eventId, correction);
      return undefined;
    }
    applyCorrection(entry, correction);
    return { seq, entry };
  }

  /** The latest agent line that says `text` (a correction without an event id). */
  #seqOfText(text: string): number | undefined {
    for (let i = this.#transcript.length - 1; i >= 0; i--) {
      const e = this.#transcript[i];
      if (e?.role === 'agent' && (e.text === text || e.original_text === text)) return i;
    }
    return undefined;
  }
}

function applyCorrection(entry: TranscriptEntry, correction: AgentLineCorrection): void {
  entry.original_text ??= entry.text;
  entry.text = correction.text;
}
