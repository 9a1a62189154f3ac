/**
 * What is known about one call, and its public record built from that: a plain data core with no
 * I/O, written by the Call as things happen and read by the API, the store and the event stream.
 */
import type { CallRecord, StatusChange } from '../model/call-record';
import type { BridgeMetrics, CallStatus, StartCallRequest, TranscriptEntry } from '../model/call-view';
import { emptyBridgeMetrics } from '../media/conversation-link';
import type { EndReason } from './hangup-cause';

/** Where a call comes from: we dial out, or a caller reached us on the trunk. */
export type CallOrigin =
  | { direction: 'outbound' }
  | { direction: 'inbound'; channelId: string; dialedNumber: string };

export class CallFacts {
  readonly id: string;
  readonly request: StartCallRequest;
  readonly origin: CallOrigin;
  readonly createdAt: Date;
  /** NODE_ID of the gateway carrying the call. */
  readonly nodeId: string | null;
  status: CallStatus;
  readonly statusHistory: StatusChange[];
  answeredAt: Date | null = null;
  endedAt: Date | null = null;
  endReason: EndReason | null = null;
  error: string | null = null;
  hangupCause: number | null = null;
  hangupCauseText: string | null = null;
  sipCode: number | null = null;
  conversationId: string | null = null;
  amdResult: string | null = null;
  transferredTo: string | null = null;
  isRecording = false;
  readonly transcript: TranscriptEntry[] = [];
  /** The media counters as last read from the link (frozen once the link is gone). */
  metrics: BridgeMetrics = emptyBridgeMetrics();

  constructor(id: string, request: StartCallRequest, origin: CallOrigin, now: Date, initialStatus: CallStatus, nodeId: string | null = null) {
    this.id = id;
    this.nodeId = nodeId;
    this.request = request;
    this.origin = origin;
    this.createdAt = now;
    this.status = initialStatus;
    this.statusHistory = [{ status: initialStatus, at: now.toISOString() }];
  }

  /** Sets the status and appends it to the history (once per change). */
  setStatus(status: CallStatus, at: Date): void {
    if (this.status === status) return;
    this.status = status;
    this.statusHistory.push({ status, at: at.toISOString() });
  }

  /** The first error is the one that explains the outcome; later ones are consequences. */
  recordError(message: string): void {
    this.error ??= message;
  }

  /** The record without its transcript (what is rewritten as the call goes on); copies. */
  summary(): Omit<CallRecord, 'transcript'> {
    const { transcript: _transcript, ...summary } = this.#build([]);
    return summary;
  }

  /** The call's record; the arrays are copies. */
  record(): CallRecord {
    return this.#build(this.transcript.map((t) => ({ ...t })));
  }

  #build(transcript: TranscriptEntry[]): CallRecord {
    const origin = this.origin;
    return {
      id: this.id,
      direction: origin.direction,
      phone_number: this.request.phoneNumber,
      dialed_number: origin.direction === 'inbound' ? origin.dialedNumber : null,
      agent_id: this.request.agentId ?? null,
      amd_result: this.amdResult,
      transferred_to: this.transferredTo,
      recording_url: this.isRecording ? `/api/calls/${this.id}/recording` : null,
      node_id: this.nodeId,
      status: this.status,
      conversation_id: this.conversationId,
      created_at: this.createdAt.toISOString(),
      answered_at: this.answeredAt?.toISOString() ?? null,
      ended_at: this.endedAt?.toISOString() ?? null,
      hangup_cause: this.hangupCause,
      hangup_cause_text: this.hangupCauseText,
      hangup_sip_code: this.sipCode,
      end_reason: this.endReason,
      error: this.error,
      transcript,
      metrics: structuredClone(this.metrics),
      status_history: this.statusHistory.map((s) => ({ ...s })),
    };
  }
}
