/**
 * The webhook outbox in the shared PostgreSQL database (table `webhook_outbox`, migration 3 of
 * src/store/postgres-migrations.ts). Rows are inserted by the call store's own write transaction
 * (`add`, on its connection, inside it), so an event lands with the record change it reports or not
 * at all; delivery state changes are single-row updates. See src/store/webhook-outbox.ts for the
 * contract (order per destination and key, leases).
 *
 * Every node of a cluster runs a deliverer on this one outbox. A claim runs under a
 * transaction-level advisory lock, so two nodes never lease the same row, nor two rows of one key:
 * a row is due only when no earlier row of its destination and key is pending, and the lease the
 * first claim wrote is what the second one reads.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { inTransaction } from './postgres-transaction';
import type { DeadLetter, OutboxDelivery, OutboxEvent, OutboxStats, WebhookOutbox } from './webhook-outbox';

/** Advisory lock key of outbox claims ("vgwebhok" as a number); nothing else takes it. */
const CLAIM_LOCK_KEY = 0x7667776b;

interface OutboxRow {
  seq: string;
  event_id: string;
  destination: string;
  order_key: string;
  type: string;
  body: string;
  created_ms: string;
  attempts: number;
  next_attempt_ms: string;
  last_error: string | null;
  dead_ms: string | null;
}

/** The outbox table and its index (a migration of the shared database). */
export const POSTGRES_WEBHOOK_OUTBOX_SCHEMA = `
  CREATE TABLE webhook_outbox (
    seq             BIGSERIAL PRIMARY KEY,
    event_id        TEXT NOT NULL,
    destination     TEXT NOT NULL,
    order_key       TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    dead_ms         BIGINT
  );
  CREATE INDEX webhook_outbox_key ON webhook_outbox (destination, order_key, seq) WHERE dead_ms IS NULL;
  CREATE INDEX webhook_outbox_dead ON webhook_outbox (seq) WHERE dead_ms IS NOT NULL;
`;

// In the batch's order: `seq` is the enqueue order the contract promises.
const INSERT_SQL = `
  INSERT INTO webhook_outbox (event_id, destination, order_key, type, body, created_ms, next_attempt_ms)
  SELECT e->>'event_id', e->>'destination', e->>'order_key', e->>'type', e->>'body', (e->>'created_ms')::bigint, (e->>'created_ms')::bigint
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(e, n)
  ORDER BY n`;
// Due: its time came, not leased, and no earlier pending row of its destination and key.
const CLAIM_SQL = `
  UPDATE webhook_outbox SET lease_until_ms = $2::bigint + $3::bigint
  WHERE seq IN (
    SELECT o.seq FROM webhook_outbox o
    WHERE o.dead_ms IS NULL AND o.next_attempt_ms <= $1 AND o.lease_until_ms <= $1
      AND NOT EXISTS (
        SELECT 1 FROM webhook_outbox p
        WHERE p.dead_ms IS NULL AND p.destination = o.destination AND p.order_key = o.order_key AND p.seq < o.seq)
    ORDER BY o.seq
    LIMIT $4)
  RETURNING *`;

export class PostgresWebhookOutbox implements WebhookOutbox {
  readonly #pool: Pool;
  readonly #ready: () => Promise<unknown>;
  readonly #log: Logger;

  /** `ready` resolves once the schema is migrated (the store's). */
  constructor(pool: Pool, ready: () => Promise<unknown>, log: Logger) {
    this.#pool = pool;
    this.#ready = ready;
    this.#log = log;
  }

  /** Inserts `events` in order, on `client`: call it inside the call store's write transaction. */
  static async add(client: PoolClient, events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => ({ event_id: e.eventId, destination: e.destination, order_key: e.orderKey, type: e.type, body: e.body, created_ms: e.createdMs }));
    await client.query(INSERT_SQL, [JSON.stringify(rows)]);
  }

  async claimDue(nowMs: number, leaseMs: number, limit: number): Promise<OutboxDelivery[]> {
    await this.#ready();
    const client = await this.#pool.connect();
    let failure: Error | undefined;
    try {
      const rows = await inTransaction(client, this.#log, async () => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [CLAIM_LOCK_KEY]);
        return (await client.query<OutboxRow>(CLAIM_SQL, [nowMs, nowMs, leaseMs, limit])).rows;
      });
      return rows.map(fromRow).sort((a, b) => a.seq - b.seq);
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      // A connection that failed is closed, not handed to the next caller.
      client.release(failure);
    }
  }

  async delivered(seq: number): Promise<void> {
    await this.#query('DELETE FROM webhook_outbox WHERE seq = $1', [seq]);
  }

  async retryLater(seq: number, attempts: number, nextAttemptMs: number, error: string): Promise<void> {
    await this.#query('UPDATE webhook_outbox SET attempts = $2, next_attempt_ms = $3, last_error = $4, lease_until_ms = 0 WHERE seq = $1', [seq, attempts, nextAttemptMs, error]);
  }

  async deadLetter(seq: number, attempts: number, error: string, nowMs: number): Promise<void> {
    await this.#query('UPDATE webhook_outbox SET attempts = $2, last_error = $3, lease_until_ms = 0, dead_ms = $4 WHERE seq = $1', [seq, attempts, error, nowMs]);
  }

  async listDead(limit: number, afterSeq = 0): Promise<DeadLetter[]> {
    const rows = await this.#query('SELECT * FROM webhook_outbox WHERE dead_ms IS NOT NULL AND seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]);
    return rows.map((row) => ({ ...fromRow(row), deadMs: Number(row.dead_ms ?? 0) }));
  }

  async redeliver(seq: number, nowMs: number): Promise<boolean> {
    // Back at the end of its key's queue (a new seq): delivered after what was enqueued meanwhile.
    const rows = await this.#query(
      `WITH gone AS (DELETE FROM webhook_outbox WHERE seq = $1 AND dead_ms IS NOT NULL RETURNING *)
       INSERT INTO webhook_outbox (event_id, destination, order_key, type, body, created_ms, next_attempt_ms)
       SELECT event_id, destination, order_key, type, body, created_ms, $2 FROM gone
       RETURNING *`,
      [seq, nowMs],
    );
    return rows.length > 0;
  }

  async stats(): Promise<OutboxStats> {
    const rows = await this.#query(
      `SELECT COUNT(*) FILTER (WHERE dead_ms IS NULL) AS pending,
              MIN(created_ms) FILTER (WHERE dead_ms IS NULL) AS oldest,
              COUNT(*) FILTER (WHERE dead_ms IS NOT NULL) AS dead
       FROM webhook_outbox`,
      [],
    );
    const row = rows[0] as unknown as { pending: string; oldest: string | null; dead: string } | undefined;
    return { pending: Number(row?.pending ?? 0), oldestPendingCreatedMs: row?.oldest == null ? null : Number(row.oldest), dead: Number(row?.dead ?? 0) };
  }

  async #query(sql: string, params: unknown[]): Promise<OutboxRow[]> {
    await this.#ready();
    const { rows } = await this.#pool.query<OutboxRow>(sql, params);
    return rows;
  }
}

/** BIGINT comes back as text from `pg`; every value here fits a double exactly. */
function fromRow(row: OutboxRow): OutboxDelivery {
  return {
    seq: Number(row.seq),
    eventId: row.event_id,
    destination: row.destination,
    orderKey: row.order_key,
    type: row.type,
    body: row.body,
    createdMs: Number(row.created_ms),
    attempts: row.attempts,
    nextAttemptMs: Number(row.next_attempt_ms),
    lastError: row.last_error,
  };
}
