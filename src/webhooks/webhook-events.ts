/**
 * The webhook events the gateway sends (docs/webhooks.md) and their outbox rows: one row per
 * WEBHOOK_URLS entry, all with the same event id and the same body.
 *
 *   { "id": "<event id>", "type": "call.status", "created_at": "<ISO-8601>", "data": { … } }
 *
 * Types: `call.status` (each status change: data = the call's record without its transcript),
 * `call.ended` (data = the final record: transcript with what the caller heard, metrics, causes,
 * recording URL), and `campaign.*` (src/campaign/campaign-events.ts builds their data).
 */
import { randomUUID } from 'node:crypto';
import type { CallRecord } from '../model/call-record';
import type { OutboxEvent } from '../store/webhook-outbox';

export type WebhookEventType = 'call.status' | 'call.ended' | `campaign.${string}`;

/** What every webhook body looks like. */
export interface WebhookBody<T = unknown> {
  id: string;
  type: WebhookEventType;
  created_at: string;
  data: T;
}

export interface WebhookPublisherOptions {
  /** WEBHOOK_URLS; empty: no events are made at all. */
  destinations: readonly string[];
  newId?: () => string;
  nowMs?: () => number;
}

/** Makes the outbox rows of webhook events; the caller writes them with the change they report. */
export class WebhookPublisher {
  readonly #destinations: readonly string[];
  readonly #newId: () => string;
  readonly #nowMs: () => number;

  constructor(options: WebhookPublisherOptions) {
    this.#destinations = options.destinations;
    this.#newId = options.newId ?? randomUUID;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  get isEnabled(): boolean {
    return this.#destinations.length > 0;
  }

  /** The rows of one event about `orderKey` (`call:<id>`, `campaign:<id>`): none without destinations. */
  event(type: WebhookEventType, orderKey: string, data: unknown): OutboxEvent[] {
    if (!this.isEnabled) return [];
    const createdMs = this.#nowMs();
    const eventId = this.#newId();
    const body: WebhookBody = { id: eventId, type, created_at: new Date(createdMs).toISOString(), data };
    const text = JSON.stringify(body);
    return this.#destinations.map((destination) => ({ eventId, destination, orderKey, type, body: text, createdMs }));
  }
}

/** The order key of a call's events. */
export function callOrderKey(callId: string): string {
  return `call:${callId}`;
}

/**
 * The rows reporting a call that ended without its process (a restart's recovery, a lost node of a
 * cluster): its final `call.status`, then `call.ended`, as a call ending live would send them.
 */
export function endedCallEvents(webhooks: WebhookPublisher): (record: CallRecord) => OutboxEvent[] {
  return (record) => {
    const { transcript: _transcript, ...summary } = record;
    const key = callOrderKey(record.id);
    return [...webhooks.event('call.status', key, summary), ...webhooks.event('call.ended', key, record)];
  };
}
