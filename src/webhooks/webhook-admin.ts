/** The API's view of webhook delivery (src/model/webhook-api.ts) over the outbox. */
import { storeUnavailable } from '../errors';
import type { DeadLetterPage, WebhookApi, WebhookStatusView } from '../model/webhook-api';
import type { WebhookOutbox } from '../store/webhook-outbox';
import { originOf } from './webhook-deliverer';

export interface WebhookAdminOptions {
  outbox: WebhookOutbox;
  destinations: readonly string[];
  /** A dead letter was queued again: deliver it now. */
  onRedeliver?: () => void;
  nowMs?: () => number;
}

export class WebhookAdmin implements WebhookApi {
  readonly #o: WebhookAdminOptions;
  readonly #nowMs: () => number;

  constructor(options: WebhookAdminOptions) {
    this.#o = options;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  async status(): Promise<WebhookStatusView> {
    const s = await storeCall(() => this.#o.outbox.stats());
    const now = this.#nowMs();
    return {
      destinations: this.#o.destinations.map(originOf),
      pending: s.pending,
      oldest_pending_age_s: s.oldestPendingCreatedMs === null ? 0 : Math.max(0, Math.round((now - s.oldestPendingCreatedMs) / 1000)),
      dead: s.dead,
    };
  }

  async listDeadLetters(limit: number, after?: number): Promise<DeadLetterPage> {
    // One more than asked tells whether another page exists.
    const rows = await storeCall(() => this.#o.outbox.listDead(limit + 1, after));
    const page = rows.slice(0, limit);
    return {
      dead_letters: page.map((d) => ({
        id: d.seq,
        event_id: d.eventId,
        type: d.type,
        destination: originOf(d.destination),
        attempts: d.attempts,
        last_error: d.lastError,
        created_at: new Date(d.createdMs).toISOString(),
        dead_at: new Date(d.deadMs).toISOString(),
        event: JSON.parse(d.body) as unknown,
      })),
      next_after: rows.length > limit ? (page[page.length - 1]?.seq ?? null) : null,
    };
  }

  async redeliver(id: number): Promise<boolean> {
    const isQueued = await storeCall(() => this.#o.outbox.redeliver(id, this.#nowMs()));
    if (isQueued) this.#o.onRedeliver?.();
    return isQueued;
  }
}

async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storeUnavailable('the webhook outbox cannot be read now', err);
  }
}
