/**
 * The webhook outbox: events waiting to be posted to the WEBHOOK_URLS, one row per event and
 * destination, kept in the same store as the records they report so that an event is enqueued in
 * the same transaction as its record change (`StoreBatch.outbox`, src/store/call-store.ts). The
 * deliverer (src/webhooks/webhook-deliverer.ts) takes rows from here; nothing here sends anything.
 *
 * Contract for every implementation (memory, SQLite, a shared database):
 * - Order: rows with the same `destination` and `orderKey` are handed out one at a time, in the
 *   order they were enqueued (`seq`): a row is not due while an earlier one of its key is pending.
 *   Dead rows no longer hold later ones back.
 * - Leases: `claimDue` leases what it returns until `nowMs + leaseMs`; a leased row is not handed
 *   out again before that (a second deliverer, or this one after a crash, waits for the lease).
 * - Every method is asynchronous and may reject when the store cannot be reached; the deliverer
 *   retries. Nothing here throws into a call.
 */

/** One event for one destination, as enqueued. */
export interface OutboxEvent {
  /** The event's id, sent as `X-Voice-Gateway-Event-Id`: the same for every destination of one event. */
  readonly eventId: string;
  /** The WEBHOOK_URLS entry this copy is for. */
  readonly destination: string;
  /** Deliveries with the same destination and key go out one at a time, in order: `call:<id>`, `campaign:<id>`. */
  readonly orderKey: string;
  /** `call.status`, `call.ended`, `campaign.*`. */
  readonly type: string;
  /** The exact body posted (JSON text); signed as it is. */
  readonly body: string;
  readonly createdMs: number;
}

/** A row of the outbox: the event and its delivery state. */
export interface OutboxDelivery extends OutboxEvent {
  /** Position in the outbox: enqueue order across all rows; the row's id. */
  readonly seq: number;
  /** Attempts made so far. */
  readonly attempts: number;
  readonly nextAttemptMs: number;
  readonly lastError: string | null;
}

/** A row given up after its last attempt (or because its destination is no longer configured). */
export interface DeadLetter extends OutboxDelivery {
  readonly deadMs: number;
}

/** The outbox at a glance. */
export interface OutboxStats {
  /** Rows waiting (due or not, leased or not). */
  readonly pending: number;
  /** `createdMs` of the oldest row waiting; null when none waits. */
  readonly oldestPendingCreatedMs: number | null;
  readonly dead: number;
}

export interface WebhookOutbox {
  /**
   * Up to `limit` rows due at `nowMs` (next attempt reached, not leased, first of their key),
   * oldest first, leased until `nowMs + leaseMs`.
   */
  claimDue(nowMs: number, leaseMs: number, limit: number): Promise<OutboxDelivery[]>;
  /** The row was delivered (a 2xx): it leaves the outbox. */
  delivered(seq: number): Promise<void>;
  /** The attempt failed: try again at `nextAttemptMs`; the lease ends. */
  retryLater(seq: number, attempts: number, nextAttemptMs: number, error: string): Promise<void>;
  /** Give up on the row: it becomes a dead letter and no longer holds its key back. */
  deadLetter(seq: number, attempts: number, error: string, nowMs: number): Promise<void>;
  /** Dead letters, oldest first, after `afterSeq`. */
  listDead(limit: number, afterSeq?: number): Promise<DeadLetter[]>;
  /** A dead letter is delivered again from its first attempt (due now). False when there is no such dead letter. */
  redeliver(seq: number, nowMs: number): Promise<boolean>;
  stats(): Promise<OutboxStats>;
}

/** A store that keeps a webhook outbox, written with its records (`StoreBatch.outbox`). */
export interface HasWebhookOutbox {
  readonly outbox: WebhookOutbox;
}

export function hasWebhookOutbox(store: object): store is HasWebhookOutbox {
  return 'outbox' in store && typeof (store as { outbox: unknown }).outbox === 'object';
}

interface MemoryRow {
  event: OutboxEvent;
  seq: number;
  attempts: number;
  nextAttemptMs: number;
  leaseUntilMs: number;
  lastError: string | null;
  deadMs: number | null;
}

/** The outbox of MemoryCallStore: nothing survives a restart, like its records. */
export class MemoryWebhookOutbox implements WebhookOutbox {
  readonly #rows = new Map<number, MemoryRow>();
  #seq = 0;

  /** Called by the store inside its write (the same "transaction" as the records). */
  add(events: readonly OutboxEvent[]): void {
    for (const event of events) {
      const seq = ++this.#seq;
      this.#rows.set(seq, { event: { ...event }, seq, attempts: 0, nextAttemptMs: event.createdMs, leaseUntilMs: 0, lastError: null, deadMs: null });
    }
  }

  async claimDue(nowMs: number, leaseMs: number, limit: number): Promise<OutboxDelivery[]> {
    const blocked = new Set<string>();
    const due: OutboxDelivery[] = [];
    for (const row of this.#rows.values()) {
      if (row.deadMs !== null) continue;
      const key = `${row.event.destination}\u0000${row.event.orderKey}`;
      if (blocked.has(key)) continue;
      blocked.add(key);
      if (row.nextAttemptMs > nowMs || row.leaseUntilMs > nowMs || due.length >= limit) continue;
      row.leaseUntilMs = nowMs + leaseMs;
      due.push(toDelivery(row));
    }
    return due;
  }

  async delivered(seq: number): Promise<void> {
    this.#rows.delete(seq);
  }

  async retryLater(seq: number, attempts: number, nextAttemptMs: number, error: string): Promise<void> {
    const row = this.#rows.get(seq);
    if (row === undefined) return;
    Object.assign(row, { attempts, nextAttemptMs, lastError: error, leaseUntilMs: 0 });
  }

  async deadLetter(seq: number, attempts: number, error: string, nowMs: number): Promise<void> {
    const row = this.#rows.get(seq);
    if (row === undefined) return;
    Object.assign(row, { attempts, lastError: error, leaseUntilMs: 0, deadMs: nowMs });
  }

  async listDead(limit: number, afterSeq = 0): Promise<DeadLetter[]> {
    const dead: DeadLetter[] = [];
    for (const row of this.#rows.values()) {
      if (row.deadMs === null || row.seq <= afterSeq) continue;
      if (dead.length >= limit) break;
      dead.push({ ...toDelivery(row), deadMs: row.deadMs });
    }
    return dead;
  }

  async redeliver(seq: number, nowMs: number): Promise<boolean> {
    const row = this.#rows.get(seq);
    if (row?.deadMs === null || row === undefined) return false;
    // Back at the end of its key's queue: it is delivered after what was enqueued meanwhile.
    this.#rows.delete(seq);
    const again = ++this.#seq;
    this.#rows.set(again, { ...row, seq: again, attempts: 0, nextAttemptMs: nowMs, leaseUntilMs: 0, deadMs: null });
    return true;
  }

  async stats(): Promise<OutboxStats> {
    let pending = 0;
    let dead = 0;
    let oldest: number | null = null;
    for (const row of this.#rows.values()) {
      if (row.deadMs !== null) {
        dead += 1;
        continue;
      }
      pending += 1;
      if (oldest === null || row.event.createdMs < oldest) oldest = row.event.createdMs;
    }
    return { pending, oldestPendingCreatedMs: oldest, dead };
  }
}

function toDelivery(row: MemoryRow): OutboxDelivery {
  return { ...row.event, seq: row.seq, attempts: row.attempts, nextAttemptMs: row.nextAttemptMs, lastError: row.lastError };
}
