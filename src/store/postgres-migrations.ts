/**
 * Schema of the shared PostgreSQL database (DATABASE_URL): the call records, which mirror the
 * SQLite ones (src/store/sqlite-call-store.ts), and the cluster's own tables (docs/cluster.md):
 * node heartbeats, the call-attempt token buckets, capacity reservations and oversized events.
 * One version sequence for all of them, recorded in `schema_version`.
 *
 * Every node runs `migratePostgres` at start; a transaction-level advisory lock makes nodes that
 * start together apply each migration once.
 */
import type { PoolClient } from 'pg';
import { POSTGRES_WEBHOOK_OUTBOX_SCHEMA } from './postgres-webhook-outbox';

/** Ordered migrations; `schema_version` records the highest applied. Never edit a shipped one. */
export const POSTGRES_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    // Call records as in SQLite; ids compare byte-wise (COLLATE "C") like SQLite and the list
    // cursor, whatever the database's locale.
    version: 1,
    sql: `
      CREATE TABLE calls (
        id                TEXT COLLATE "C" PRIMARY KEY,
        node_id           TEXT,
        direction         TEXT NOT NULL,
        phone_number      TEXT NOT NULL,
        dialed_number     TEXT,
        agent_id          TEXT,
        amd_result        TEXT,
        transferred_to    TEXT,
        recording_url     TEXT,
        status            TEXT NOT NULL,
        conversation_id   TEXT,
        created_ms        BIGINT NOT NULL,
        created_at        TEXT NOT NULL,
        answered_at       TEXT,
        ended_at          TEXT,
        hangup_cause      INTEGER,
        hangup_cause_text TEXT,
        hangup_sip_code   INTEGER,
        end_reason        TEXT,
        error             TEXT,
        status_history    JSONB NOT NULL,
        metrics           JSONB NOT NULL,
        updated_ms        BIGINT NOT NULL
      );
      CREATE INDEX calls_newest ON calls (created_ms DESC, id DESC);
      CREATE INDEX calls_status_newest ON calls (status, created_ms DESC, id DESC);
      CREATE INDEX calls_in_flight ON calls (node_id) WHERE status IN ('dialing', 'ringing', 'answered');
      CREATE TABLE transcript_lines (
        call_id TEXT COLLATE "C" NOT NULL,
        seq     INTEGER NOT NULL,
        role    TEXT NOT NULL,
        text    TEXT NOT NULL,
        at      TEXT NOT NULL,
        PRIMARY KEY (call_id, seq)
      );
    `,
  },
  {
    // The cluster (src/cluster/): nodes heartbeat here; call attempts are charged to token
    // buckets here; capacity is reserved here while a call is being placed; events too large for
    // a NOTIFY payload wait here for their readers.
    version: 2,
    sql: `
      CREATE TABLE nodes (
        node_id       TEXT PRIMARY KEY,
        api_url       TEXT NOT NULL,
        max_calls     INTEGER NOT NULL,
        active_calls  INTEGER NOT NULL,
        is_accepting  BOOLEAN NOT NULL,
        is_draining   BOOLEAN NOT NULL,
        started_at    TIMESTAMPTZ NOT NULL,
        last_seen     TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE rate_buckets (
        bucket_key  TEXT PRIMARY KEY,
        tokens      DOUBLE PRECISION NOT NULL,
        refilled_at TIMESTAMPTZ NOT NULL,
        is_allowed  BOOLEAN NOT NULL
      );
      CREATE TABLE capacity_reservations (
        id         UUID PRIMARY KEY,
        node_id    TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE large_events (
        id         BIGSERIAL PRIMARY KEY,
        payload    TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
    `,
  },
  {
    // What the caller heard of each agent line and the agent's text before its correction (as in
    // SQLite's migration 6), and the webhook outbox, written in the same transactions as the
    // records it reports (SQLite's migration 7).
    version: 3,
    sql: `
      ALTER TABLE transcript_lines ADD COLUMN heard JSONB;
      ALTER TABLE transcript_lines ADD COLUMN original_text TEXT;
      ${POSTGRES_WEBHOOK_OUTBOX_SCHEMA}
    `,
  },
];

/** Highest schema version this build knows. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]?.version ?? 0;

/** Advisory lock key of migrations ("vgmigrat" as a number); other users of the database do not take it. */
const MIGRATION_LOCK_KEY = 0x76676d69;

/**
 * Apply the migrations this database lacks, each in its own transaction under an advisory lock.
 * Throws if the database's schema is newer than this build knows (a downgrade). Resolves to the
 * schema version now in force.
 */
export async function migratePostgres(client: PoolClient, nowMs: () => number = Date.now): Promise<number> {
  for (const migration of POSTGRES_MIGRATIONS) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      // Under the lock too: two sessions creating it at once collide in the catalog.
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      const current = await currentVersion(client);
      if (current > POSTGRES_SCHEMA_VERSION) {
        throw new Error(`database schema version ${current} is newer than this build supports (${POSTGRES_SCHEMA_VERSION})`);
      }
      if (migration.version > current) {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [migration.version, new Date(nowMs()).toISOString()]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  }
  return currentVersion(client);
}

async function currentVersion(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_version');
  return rows[0]?.version ?? 0;
}
