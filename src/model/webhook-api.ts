/**
 * What the REST API offers about webhook delivery (GET /api/webhooks, dead letters); implemented by
 * WebhookAdmin (src/webhooks/webhook-admin.ts). Destinations are shown as their origin only: a
 * receiver's path or query may hold a token.
 */

/** A webhook event given up after its last attempt. */
export interface DeadLetterView {
  /** Its id in the outbox (for redelivery). */
  id: number;
  event_id: string;
  type: string;
  /** Scheme, host and port of the destination. */
  destination: string;
  attempts: number;
  last_error: string | null;
  created_at: string;
  dead_at: string;
  /** The body that was posted. */
  event: unknown;
}

export interface DeadLetterPage {
  dead_letters: DeadLetterView[];
  /** Pass as `after` for the next page; null on the last. */
  next_after: number | null;
}

export interface WebhookStatusView {
  /** Origins of WEBHOOK_URLS. */
  destinations: string[];
  /** Deliveries waiting (one per event and destination). */
  pending: number;
  oldest_pending_age_s: number;
  dead: number;
}

export interface WebhookApi {
  status(): Promise<WebhookStatusView>;
  listDeadLetters(limit: number, after?: number): Promise<DeadLetterPage>;
  /** Queue a dead letter again from its first attempt; false when there is no such dead letter. */
  redeliver(id: number): Promise<boolean>;
}
