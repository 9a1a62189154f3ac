/**
 * The webhook outbox in the call database (table `webhook_outbox`, schema version 7 of
 * src/store/sqlite-call-store.ts). Rows are inserted by the call store's own write transaction
 * (`add`, synchronous, inside it), so an event lands with the record change it reports or not at
 * all; delivery state changes are single-row updates. See src/store/webhook-outbox.ts for the
 * contract (order per destination and key, leases).
 */
import type Database from 'better-sqlite3';
import type { DeadLetter, OutboxDelivery, OutboxEvent, OutboxStats, WebhookOutbox } from './webhook-outbox';

interface OutboxRow {
  seq: number;
  event_id: string;
  destination: string;
  order_key: string;
  type: string;
  body: string;
  created_ms: number;
  attempts: number;
  next_attempt_ms: number;
  lease_until_ms: number;
  last_error: string | null;
  dead_ms: number | null;
}

/** The outbox table and its indexes (a migration of the call database). */
export const WEBHOOK_OUTBOX_SCHEMA = `
  CREATE TABLE webhook_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL,
    destination     TEXT NOT NULL,
    order_key       TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    lease_until_ms  INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    dead_ms         INTEGER
  ) STRICT;
  CREATE INDEX webhook_outbox_key ON webhook_outbox (dead_ms, destination, order_key, seq);
`;

export class SqliteWebhookOutbox implements WebhookOutbox {
  readonly #insert: Database.Statement<[Omit<OutboxRow, 'seq' | 'attempts' | 'lease_until_ms' | 'last_error' | 'dead_ms'>]>;
  readonly #claimTx: Database.Transaction<(nowMs: number, leaseMs: number, limit: number) => OutboxRow[]>;
  readonly #delete: Database.Statement<[number]>;
  readonly #retry: Database.Statement<[{ seq: number; attempts: number; next: number; error: string }]>;
  readonly #dead: Database.Statement<[{ seq: number; attempts: number; error: string; now: number }]>;
  readonly #selectDead: Database.Statement<[number, number], OutboxRow>;
  readonly #redeliverTx: Database.Transaction<(seq: number, nowMs: number) => boolean>;
  readonly #stats: Database.Statement<[], { pending: number; oldest: number | null; dead: number }>;

  constructor(db: Database.Database) {
    this.#insert = db.prepare(`
      INSERT INTO webhook_outbox (event_id, destination, order_key, type, body, created_ms, next_attempt_ms)
      VALUES (@event_id, @destination, @order_key, @type, @body, @created_ms, @next_attempt_ms)`);
    // Due: its time came, not leased, and no earlier pending row of its destination and key.
    const selectDue = db.prepare<[{ now: number; limit: number }], OutboxRow>(`
      SELECT o.* FROM webhook_outbox o
      WHERE o.dead_ms IS NULL AND o.next_attempt_ms <= @now AND o.lease_until_ms <= @now
        AND NOT EXISTS (
          SELECT 1 FROM webhook_outbox p
          WHERE p.dead_ms IS NULL AND p.destination = o.destination AND p.order_key = o.order_key AND p.seq < o.seq)
      ORDER BY o.seq
      LIMIT @limit`);
    const lease = db.prepare<[number, number]>('UPDATE webhook_outbox SET lease_until_ms = ? WHERE seq = ?');
    this.#claimTx = db.transaction((nowMs: number, leaseMs: number, limit: number) => {
      const rows = selectDue.all({ now: nowMs, limit });
      for (const row of rows) lease.run(nowMs + leaseMs, row.seq);
      return rows;
    });
    this.#delete = db.prepare('DELETE FROM webhook_outbox WHERE seq = ?');
    this.#retry = db.prepare(
      'UPDATE webhook_outbox SET attempts = @attempts, next_attempt_ms = @next, last_error = @error, lease_until_ms = 0 WHERE seq = @seq',
    );
    this.#dead = db.prepare(
      'UPDATE webhook_outbox SET attempts = @attempts, last_error = @error, lease_until_ms = 0, dead_ms = @now WHERE seq = @seq',
    );
    this.#selectDead = db.prepare('SELECT * FROM webhook_outbox WHERE dead_ms IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?');
    const selectOne = db.prepare<[number], OutboxRow>('SELECT * FROM webhook_outbox WHERE seq = ? AND dead_ms IS NOT NULL');
    this.#redeliverTx = db.transaction((seq: number, nowMs: number) => {
      const row = selectOne.get(seq);
      if (row === undefined) return false;
      // Back at the end of its key's queue: delivered after what was enqueued meanwhile.
      this.#delete.run(seq);
      this.#insert.run({ ...eventParams(fromRow(row)), next_attempt_ms: nowMs });
      return true;
    });
    this.#stats = db.prepare(`
      SELECT
        COALESCE(SUM(dead_ms IS NULL), 0) AS pending,
        MIN(CASE WHEN dead_ms IS NULL THEN created_ms END) AS oldest,
        COALESCE(SUM(dead_ms IS NOT NULL), 0) AS dead
      FROM webhook_outbox`);
  }

  /** Inserts `events` in order. Synchronous: call it inside the call store's write transaction. */
  add(events: readonly OutboxEvent[]): void {
    for (const event of events) this.#insert.run({ ...eventParams(event), next_attempt_ms: event.createdMs });
  }

  async claimDue(nowMs: number, leaseMs: number, limit: number): Promise<OutboxDelivery[]> {
    return this.#claimTx.immediate(nowMs, leaseMs, limit).map(fromRow);
  }

  async delivered(seq: number): Promise<void> {
    this.#delete.run(seq);
  }

  async retryLater(seq: number, attempts: number, nextAttemptMs: number, error: string): Promise<void> {
    this.#retry.run({ seq, attempts, next: nextAttemptMs, error });
  }

  async deadLetter(seq: number, attempts: number, error: string, nowMs: number): Promise<void> {
    this.#dead.run({ seq, attempts, error, now: nowMs });
  }

  async listDead(limit: number, afterSeq = 0): Promise<DeadLetter[]> {
    return this.#selectDead.all(afterSeq, limit).map((row) => ({ ...fromRow(row), deadMs: row.dead_ms ?? 0 }));
  }

  async redeliver(seq: number, nowMs: number): Promise<boolean> {
    return this.#redeliverTx.immediate(seq, nowMs);
  }

  async stats(): Promise<OutboxStats> {
    const row = this.#stats.get();
    return { pending: row?.pending ?? 0, oldestPendingCreatedMs: row?.oldest ?? null, dead: row?.dead ?? 0 };
  }
}

function eventParams(e: OutboxEvent): Omit<OutboxRow, 'seq' | 'attempts' | 'lease_until_ms' | 'last_error' | 'dead_ms' | 'next_attempt_ms'> {
  return { event_id: e.eventId, destination: e.destination, order_key: e.orderKey, type: e.type, body: e.body, created_ms: e.createdMs };
}

function fromRow(row: OutboxRow): OutboxDelivery {
  return {
    seq: row.seq,
    eventId: row.event_id,
    destination: row.destination,
    orderKey: row.order_key,
    type: row.type,
    body: row.body,
    createdMs: row.created_ms,
    attempts: row.attempts,
    nextAttemptMs: row.next_attempt_ms,
    lastError: row.last_error,
  };
}
