/**
 * Live call events for dashboards and metrics: a typed union (the SSE wire format, snake_case like
 * the REST API) and an in-process bus. Publishing never throws into the publisher (a Call): a
 * failing subscriber is logged and the others still get the event.
 */
import type { Logger } from 'pino';
import type { BridgeMetrics, CallStatus, CallView, HeardInfo, TranscriptEntry } from '../model/call-view';
import type { CampaignCounts, CampaignStatus, LeadView } from '../model/campaign';

interface CallEventBase {
  call_id: string;
  /** ISO-8601 time the event happened. */
  at: string;
}

/** Originate accepted: the phone is being dialled. */
export interface DialingEvent extends CallEventBase {
  type: 'dialing';
  direction: CallView['direction'];
  phone_number: string;
}
/** The far end is ringing. */
export interface RingingEvent extends CallEventBase {
  type: 'ringing';
}
/** The callee answered. */
export interface AnsweredEvent extends CallEventBase {
  type: 'answered';
}
/** One line of the conversation. */
export interface TranscriptEvent extends CallEventBase {
  type: 'transcript';
  role: 'user' | 'agent';
  text: string;
}
/**
 * What the caller heard of an agent line became known (played in full, or cut by a barge-in), or
 * the agent corrected a line whose fate was known. `line` is its index in the call's transcript.
 */
export interface HeardEvent extends CallEventBase {
  type: 'heard';
  line: number;
  /** The line's text (what it became, if the agent corrected it). */
  text: string;
  /** What the agent had meant to say, when it corrected the line. */
  original_text?: string;
  heard: HeardInfo;
}
/** The caller barged in; queued agent audio was dropped. */
export interface InterruptionEvent extends CallEventBase {
  type: 'interruption';
}
/** The caller pressed a key (RFC 4733 DTMF). */
export interface DtmfEvent extends CallEventBase {
  type: 'dtmf';
  digit: string;
}
/** Answering-machine detection decided (only for calls placed with `amd`). */
export interface AmdEvent extends CallEventBase {
  type: 'amd';
  result: string;
  cause: string;
}
/** The agent asked to transfer the caller; `allowed` says whether the number was dialled. */
export interface TransferAttemptEvent extends CallEventBase {
  type: 'transfer_attempt';
  phone_number: string;
  allowed: boolean;
  /** Why it was refused, or how the number was listed (TRANSFER_DESTINATIONS). */
  reason: string;
}
/** The agent transferred the caller to `to`, and left the call. */
export interface TransferredEvent extends CallEventBase {
  type: 'transferred';
  to: string;
}
/** The call ended; the record is final. */
export interface EndedEvent extends CallEventBase {
  type: 'ended';
  status: CallStatus;
  end_reason: string | null;
  /** Q.850 cause from Asterisk. */
  hangup_cause: number | null;
  hangup_cause_text: string | null;
  error: string | null;
  /** From created_at to ended_at. */
  duration_ms: number;
  metrics: BridgeMetrics;
}
/** Periodic media counters of a live call (cumulative since the call started). */
export interface MetricsTickEvent extends CallEventBase {
  type: 'metrics';
  metrics: BridgeMetrics;
}

/**
 * A campaign changed: its status, or a lead reached its final state (`lead`). Not about one call:
 * it has no `call_id`, and a stream narrowed to a call (`?call_id=`) does not get it.
 */
export interface CampaignEvent {
  type: 'campaign';
  campaign_id: string;
  at: string;
  status: CampaignStatus;
  counts: CampaignCounts;
  lead?: LeadView;
}

/** Every live call event. */
export type CallEvent =
  | DialingEvent
  | RingingEvent
  | AnsweredEvent
  | TranscriptEvent
  | HeardEvent
  | InterruptionEvent
  | DtmfEvent
  | AmdEvent
  | TransferAttemptEvent
  | TransferredEvent
  | EndedEvent
  | MetricsTickEvent;
/** The `type` of a CallEvent. */
export type CallEventType = CallEvent['type'];

/** An event as delivered: with the bus-wide sequence number (1, 2, …; the SSE `id`). */
export type SequencedCallEvent = CallEvent & { readonly seq: number };

/** Everything the bus carries: call events and campaign events. */
export type BusEvent = CallEvent | CampaignEvent;
export type SequencedBusEvent = BusEvent & { readonly seq: number };

/** Receives published events. Must not throw (errors are logged and dropped). */
export type CallEventListener = (event: SequencedCallEvent) => void;
/** Receives call and campaign events (subscribed with `includeCampaigns`). */
export type BusEventListener = (event: SequencedBusEvent) => void;

/** Handle of a subscription; `cancel()` is idempotent. */
export interface CallEventSubscription {
  cancel(): void;
}

/** Options of `CallEventBus.subscribe`. */
export interface SubscribeOptions {
  /** Only events of this call. */
  callId?: string;
}

interface Subscriber {
  readonly listener: BusEventListener;
  readonly callId: string | undefined;
  readonly includeCampaigns: boolean;
}

/** In-process pub/sub of call events. One per process, shared by the call service, SSE and metrics. */
export class CallEventBus {
  readonly #subscribers = new Set<Subscriber>();
  readonly #log: Logger;
  #seq = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Subscribers currently registered (0 once every SSE client has gone). */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Deliver `event` synchronously to every matching subscriber; returns its sequence number.
   * Campaign events go only to subscribers that asked for them and follow no single call.
   */
  publish(event: BusEvent): number {
    const sequenced: SequencedBusEvent = { ...event, seq: ++this.#seq };
    const callId = event.type === 'campaign' ? undefined : event.call_id;
    // Snapshot: a listener may cancel itself (or others) while we iterate.
    for (const subscriber of [...this.#subscribers]) {
      if (!this.#subscribers.has(subscriber)) continue;
      if (event.type === 'campaign' ? !subscriber.includeCampaigns || subscriber.callId !== undefined : subscriber.callId !== undefined && subscriber.callId !== callId) continue;
      try {
        subscriber.listener(sequenced);
      } catch (err) {
        this.#log.error({ err, eventType: event.type, callId }, 'call event subscriber failed');
      }
    }
    return sequenced.seq;
  }

  /** Register `listener`; the caller must `cancel()` the returned subscription when done. */
  subscribe(listener: CallEventListener, options?: SubscribeOptions): CallEventSubscription;
  /** Register `listener` for call and campaign events. */
  subscribe(listener: BusEventListener, options: SubscribeOptions & { includeCampaigns: true }): CallEventSubscription;
  subscribe(listener: BusEventListener | CallEventListener, options: SubscribeOptions & { includeCampaigns?: boolean } = {}): CallEventSubscription {
    const subscriber: Subscriber = { listener: listener as BusEventListener, callId: options.callId, includeCampaigns: options.includeCampaigns === true };
    this.#subscribers.add(subscriber);
    return { cancel: () => void this.#subscribers.delete(subscriber) };
  }
}

/** The `heard` event of line `line` of a call. */
export function heardEventOf(callId: string, line: number, entry: TranscriptEntry, heard: HeardInfo, nowMs: number = Date.now()): HeardEvent {
  const event: HeardEvent = { type: 'heard', call_id: callId, at: new Date(nowMs).toISOString(), line, text: entry.text, heard: { ...heard } };
  if (entry.original_text !== undefined) event.original_text = entry.original_text;
  return event;
}

/** Duration of an ended call, ms (0 if a timestamp is missing). */
export function callDurationMs(view: Pick<CallView, 'created_at' | 'ended_at'>): number {
  if (view.ended_at === null) return 0;
  const ms = Date.parse(view.ended_at) - Date.parse(view.created_at);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** The `ended` event of a finished call view. */
export function endedEventOf(view: CallView): EndedEvent {
  return {
    type: 'ended',
    call_id: view.id,
    at: view.ended_at ?? new Date().toISOString(),
    status: view.status,
    end_reason: view.end_reason,
    hangup_cause: view.hangup_cause,
    hangup_cause_text: view.hangup_cause_text,
    error: view.error,
    duration_ms: callDurationMs(view),
    metrics: view.metrics,
  };
}
