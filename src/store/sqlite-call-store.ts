/**
 * Call records in an embedded SQLite database (better-sqlite3, synchronous). One row per call for
 * its summary (status history and metrics as small JSON columns) and one row per transcript line.
 *
 * Durability: WAL journal with `synchronous = NORMAL` — a committed write survives a crash of the
 * process (kill -9); only a power loss can drop the last few commits. Readers never block the
 * writer, so a dashboard listing calls does not stall writes.
 *
 * Locking: every write is `BEGIN IMMEDIATE`, which takes the write lock up front, so the busy
 * timeout applies while another connection holds it. (A deferred transaction in WAL mode fails at
 * once with SQLITE_BUSY when it upgrades to a writer, and the timeout never applies.) The timeout is
 * short: better-sqlite3 waits synchronously, and the write-behind writer retries with backoff.
 *
 * Files: the database and its -wal/-shm siblings are 0600, a folder the store creates 0700: the
 * records hold phone numbers and transcripts (see `preparePrivateFiles`).
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  GATEWAY_RESTART_END_REASON,
  IN_FLIGHT_STATUSES,
  assertListLimit,
  decodeCursor,
  encodeCursor,
  type CallListPage,
  type CallListQuery,
  type CallRecord,
  type StatusChange,
} from '../model/call-record';
import type { BridgeMetrics, CallStatus, CallView, TranscriptEntry } from '../model/call-view';
import type { CallStore, CallSummary, RecoveredCallEvents, StoreBatch, TranscriptLine } from './call-store';
import type { HasCampaignStore } from './campaign-store';
import { CAMPAIGN_SCHEMA, SqliteCampaignStore } from './sqlite-campaign-store';
import { SqliteWebhookOutbox, WEBHOOK_OUTBOX_SCHEMA } from './sqlite-webhook-outbox';
import type { HasWebhookOutbox } from './webhook-outbox';

/** Database file used when CALL_DB_PATH is not set; relative to the working directory. */
export const DEFAULT_CALL_DB_PATH = './data/calls.db';
/** Path that opens a private in-memory database (tests). */
export const IN_MEMORY_DB_PATH = ':memory:';
/** Default wait for another connection's write lock, ms; see "Locking" above. */
export const DEFAULT_BUSY_TIMEOUT_MS = 250;

/** Mode of folders the store creates for its file: only the gateway's user may enter or list them. */
export const CALL_DB_DIR_MODE = 0o700;
/** Mode of the database and its `-wal` / `-shm` siblings: they hold phone numbers and transcripts. */
export const CALL_DB_FILE_MODE = 0o600;

/** Options of `SqliteCallStore.open`. */
export interface SqliteCallStoreOptions {
  /** File path (its directory is created), or ':memory:'. */
  path: string;
  /** Wall clock, epoch ms (recovery time). Default `Date.now`. */
  nowMs?: () => number;
  /** How long a write waits for another connection's lock, ms. Default DEFAULT_BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
  /**
   * NODE_ID of this gateway. Crash recovery then fails only this node's calls (and rows from before
   * calls named their node), and migration 5 names it on the rows written before. Absent: every row.
   */
  nodeId?: string;
}

/**
 * Ordered schema migrations; `schema_version` records the highest applied. Never edit a shipped one.
 * `backfill`, when present, runs after `sql` with the node's id as its one parameter (only when the
 * store is opened with a `nodeId`).
 */
export const MIGRATIONS: readonly { version: number; sql: string; backfill?: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE calls (
        id                TEXT PRIMARY KEY,
        direction         TEXT NOT NULL,
        phone_number      TEXT NOT NULL,
        status            TEXT NOT NULL,
        conversation_id   TEXT,
        created_ms        INTEGER NOT NULL,
        created_at        TEXT NOT NULL,
        answered_at       TEXT,
        ended_at          TEXT,
        hangup_cause      INTEGER,
        hangup_cause_text TEXT,
        end_reason        TEXT,
        error             TEXT,
        status_history    TEXT NOT NULL,
        transcript        TEXT NOT NULL,
        metrics           TEXT NOT NULL,
        updated_ms        INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX calls_newest ON calls (created_ms DESC, id DESC);
      CREATE INDEX calls_status_newest ON calls (status, created_ms DESC, id DESC);
    `,
  },
  {
    // Inbound calls, per-call agents, AMD, transfers and recordings.
    version: 2,
    sql: `
      ALTER TABLE calls ADD COLUMN dialed_number TEXT;
      ALTER TABLE calls ADD COLUMN agent_id TEXT;
      ALTER TABLE calls ADD COLUMN amd_result TEXT;
      ALTER TABLE calls ADD COLUMN transferred_to TEXT;
      ALTER TABLE calls ADD COLUMN recording_url TEXT;
    `,
  },
  {
    version: 3,
    sql: `ALTER TABLE calls ADD COLUMN hangup_sip_code INTEGER;`,
  },
  {
    // Transcript lines are appended, one row each, instead of rewriting the call's whole transcript
    // on every line (which cost O(lines²) bytes per call).
    version: 4,
    sql: `
      CREATE TABLE transcript_lines (
        call_id TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        role    TEXT NOT NULL,
        text    TEXT NOT NULL,
        at      TEXT NOT NULL,
        PRIMARY KEY (call_id, seq)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO transcript_lines (call_id, seq, role, text, at)
        SELECT c.id, CAST(j.key AS INTEGER), json_extract(j.value, '$.role'), json_extract(j.value, '$.text'), json_extract(j.value, '$.at')
        FROM calls c, json_each(c.transcript) j;
      ALTER TABLE calls DROP COLUMN transcript;
    `,
  },
  {
    // The gateway that carried each call (NODE_ID); rows from before were this node's.
    version: 5,
    sql: `ALTER TABLE calls ADD COLUMN node_id TEXT;`,
    backfill: 'UPDATE calls SET node_id = ? WHERE node_id IS NULL',
  },
  {
    // What the caller heard of each agent line (JSON), and the agent's text before its correction.
    version: 6,
    sql: `
      ALTER TABLE transcript_lines ADD COLUMN heard TEXT;
      ALTER TABLE transcript_lines ADD COLUMN original_text TEXT;
    `,
  },
  {
    // Webhook deliveries waiting, written in the same transactions as the records they report.
    version: 7,
    sql: WEBHOOK_OUTBOX_SCHEMA,
  },
  {
    // Call campaigns: campaigns, their leads, and every call attempt (recorded before it is dialled).
    version: 8,
    sql: CAMPAIGN_SCHEMA,
  },
];

/**
 * Create the database file owner-only before SQLite opens it. SQLite's unix VFS creates `-wal` and
 * `-shm` with the mode of the database file, so they follow. Missing folders are created 0700; an
 * existing folder keeps its mode (it may be shared, e.g. /var/lib), the files are private anyway.
 * Files an earlier build left group- or world-readable are tightened.
 */
function preparePrivateFiles(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: CALL_DB_DIR_MODE });
  closeSync(openSync(path, 'a', CALL_DB_FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // no WAL yet: SQLite makes it from the file's mode
      throw err;
    }
    if (mode !== CALL_DB_FILE_MODE) chmodSync(file, CALL_DB_FILE_MODE);
  }
}

/** Highest schema version this build knows. */
export const CALL_DB_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

interface CallRow {
  id: string;
  direction: string;
  phone_number: string;
  status: string;
  conversation_id: string | null;
  created_ms: number;
  created_at: string;
  answered_at: string | null;
  ended_at: string | null;
  hangup_cause: number | null;
  hangup_cause_text: string | null;
  end_reason: string | null;
  error: string | null;
  status_history: string;
  metrics: string;
  updated_ms: number;
  dialed_number: string | null;
  agent_id: string | null;
  amd_result: string | null;
  transferred_to: string | null;
  recording_url: string | null;
  hangup_sip_code: number | null;
  node_id: string | null;
}

interface LineRow {
  call_id: string;
  seq: number;
  role: string;
  text: string;
  at: string;
  heard: string | null;
  original_text: string | null;
}

interface ListParams {
  statuses: string | null;
  from_ms: number | null;
  to_ms: number | null;
  cursor_ms: number | null;
  cursor_id: string | null;
  limit: number;
}

const COLUMNS = [
  'id', 'direction', 'phone_number', 'status', 'conversation_id', 'created_ms', 'created_at', 'answered_at', 'ended_at',
  'hangup_cause', 'hangup_cause_text', 'end_reason', 'error', 'status_history', 'metrics', 'updated_ms', 'dialed_number',
  'agent_id', 'amd_result', 'transferred_to', 'recording_url', 'hangup_sip_code', 'node_id',
] as const satisfies readonly (keyof CallRow)[];

/**
 * `CallStore` on SQLite. Open with `SqliteCallStore.open({ path })`; the caller must `close()` it
 * (at shutdown, after the last write). Every statement is prepared once at open.
 */
export class SqliteCallStore implements CallStore, HasWebhookOutbox, HasCampaignStore {
  /** The webhook outbox in the same database (its rows come with `write`'s batches). */
  readonly outbox: SqliteWebhookOutbox;
  /** Campaigns in the same database (their webhook events go to the same outbox). */
  readonly campaigns: SqliteCampaignStore;
  readonly #db: Database.Database;
  readonly #nowMs: () => number;
  readonly #selectOne: Database.Statement<[string], CallRow>;
  readonly #selectLines: Database.Statement<[string], LineRow>;
  readonly #selectPage: Database.Statement<[ListParams], CallRow>;
  readonly #writeTx: Database.Transaction<(batch: StoreBatch) => void>;
  readonly #recoverTx: Database.Transaction<(reason: string, eventsOf: RecoveredCallEvents | undefined) => string[]>;

  private constructor(db: Database.Database, nowMs: () => number, nodeId: string | undefined) {
    this.#db = db;
    this.#nowMs = nowMs;
    this.outbox = new SqliteWebhookOutbox(db);
    this.campaigns = new SqliteCampaignStore(db, (events) => this.outbox.add(events));
    this.#selectOne = db.prepare<[string], CallRow>('SELECT * FROM calls WHERE id = ?');
    this.#selectLines = db.prepare<[string], LineRow>('SELECT * FROM transcript_lines WHERE call_id = ? ORDER BY seq');
    const upsert = db.prepare<[CallRow]>(`
      INSERT INTO calls (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ')}`);
    // A line that landed in an earlier attempt of the same batch is not written twice.
    const insertLine = db.prepare<[LineRow]>(
      'INSERT INTO transcript_lines (call_id, seq, role, text, at, heard, original_text) VALUES (@call_id, @seq, @role, @text, @at, @heard, @original_text) ON CONFLICT DO NOTHING',
    );
    const upsertLine = db.prepare<[LineRow]>(`
      INSERT INTO transcript_lines (call_id, seq, role, text, at, heard, original_text) VALUES (@call_id, @seq, @role, @text, @at, @heard, @original_text)
      ON CONFLICT (call_id, seq) DO UPDATE SET text = excluded.text, heard = excluded.heard, original_text = excluded.original_text`);
    // One statement for every filter combination: a NULL parameter disables its condition.
    this.#selectPage = db.prepare<[ListParams], CallRow>(`
      SELECT * FROM calls
      WHERE (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
        AND (@from_ms IS NULL OR created_ms >= @from_ms)
        AND (@to_ms IS NULL OR created_ms < @to_ms)
        AND (@cursor_ms IS NULL OR created_ms < @cursor_ms OR (created_ms = @cursor_ms AND id < @cursor_id))
      ORDER BY created_ms DESC, id DESC
      LIMIT @limit`);
    const inFlight = IN_FLIGHT_STATUSES.map((s) => `'${s}'`).join(', ');
    // A node recovers its own calls: rows of another node (a file moved between hosts) are not its to end.
    const selectInFlight = db.prepare<[{ node_id: string | null }], { id: string; status_history: string }>(
      `SELECT id, status_history FROM calls WHERE status IN (${inFlight}) AND (@node_id IS NULL OR node_id IS NULL OR node_id = @node_id)`,
    );
    const markFailed = db.prepare<[{ id: string; ended_at: string; error: string; end_reason: string; status_history: string; now_ms: number }]>(`
      UPDATE calls SET status = 'failed', ended_at = @ended_at, error = @error, end_reason = @end_reason,
        status_history = @status_history, updated_ms = @now_ms
      WHERE id = @id`);

    this.#writeTx = db.transaction((batch: StoreBatch) => {
      const nowMs = this.#nowMs();
      for (const summary of batch.summaries) upsert.run(toRow(summary, nowMs));
      for (const line of batch.lines) insertLine.run(toLineRow(line));
      for (const line of batch.lineUpdates ?? []) upsertLine.run(toLineRow(line));
      this.outbox.add(batch.outbox ?? []);
    });
    this.#recoverTx = db.transaction((reason: string, eventsOf: RecoveredCallEvents | undefined) => {
      const nowMs = this.#nowMs();
      const endedAt = new Date(nowMs).toISOString();
      const rows = selectInFlight.all({ node_id: nodeId ?? null });
      for (const row of rows) {
        const history = [...parseJson<StatusChange[]>(row.status_history), { status: 'failed' as const, at: endedAt }];
        markFailed.run({
          id: row.id,
          ended_at: endedAt,
          error: reason,
          end_reason: GATEWAY_RESTART_END_REASON,
          status_history: JSON.stringify(history),
          now_ms: nowMs,
        });
        if (eventsOf === undefined) continue;
        const ended = this.#selectOne.get(row.id);
        if (ended !== undefined) this.outbox.add(eventsOf(this.#fromRow(ended)));
      }
      return rows.map((r) => r.id);
    });
  }

  /**
   * Open (creating if needed) the database at `options.path`, apply pending migrations and
   * prepare statements. Throws if the file's schema is newer than this build knows (a downgrade).
   */
  static open(options: SqliteCallStoreOptions): SqliteCallStore {
    const { path, nowMs = Date.now, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS, nodeId } = options;
    const isFile = path !== IN_MEMORY_DB_PATH;
    if (isFile) preparePrivateFiles(path);
    const db = new Database(path, { timeout: busyTimeoutMs });
    try {
      if (isFile) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db, nowMs, nodeId);
      return new SqliteCallStore(db, nowMs, nodeId);
    } catch (err) {
      db.close();
      throw err;
    }
  }


  /** Schema version of the open database. */
  get schemaVersion(): number {
    return currentVersion(this.#db);
  }

  /** SQLite journal mode in effect ('wal' for files, 'memory' for ':memory:'). */
  get journalMode(): string {
    return String(this.#db.pragma('journal_mode', { simple: true }));
  }

  async write(batch: StoreBatch): Promise<void> {
    if (batch.summaries.length === 0 && batch.lines.length === 0 && (batch.lineUpdates ?? []).length === 0 && (batch.outbox ?? []).length === 0) return;
    this.#writeTx.immediate(batch);
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const row = this.#selectOne.get(id);
    return row === undefined ? undefined : this.#fromRow(row);
  }

  async list(query: CallListQuery): Promise<CallListPage> {
    assertListLimit(query.limit);
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && cursor === undefined) throw new RangeError('invalid list cursor');
    // One row more than asked tells whether another page exists.
    const rows = this.#selectPage.all({
      statuses: query.status !== undefined && query.status.length > 0 ? JSON.stringify(query.status) : null,
      from_ms: query.fromMs ?? null,
      to_ms: query.toMs ?? null,
      cursor_ms: cursor?.createdMs ?? null,
      cursor_id: cursor?.id ?? null,
      limit: query.limit + 1,
    });
    const calls = rows.slice(0, query.limit).map((row) => this.#fromRow(row));
    const last = calls[calls.length - 1];
    return { calls, next_cursor: rows.length > query.limit && last !== undefined ? encodeCursor(last) : null };
  }

  async markInFlightAsFailed(reason: string, eventsOf?: RecoveredCallEvents): Promise<string[]> {
    return this.#recoverTx.immediate(reason, eventsOf);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #fromRow(row: CallRow): CallRecord {
    const transcript: TranscriptEntry[] = this.#selectLines.all(row.id).map(fromLineRow);
    return {
      id: row.id,
      direction: row.direction as CallView['direction'],
      phone_number: row.phone_number,
      dialed_number: row.dialed_number,
      agent_id: row.agent_id,
      amd_result: row.amd_result,
      transferred_to: row.transferred_to,
      recording_url: row.recording_url,
      hangup_sip_code: row.hangup_sip_code,
      node_id: row.node_id,
      status: row.status as CallStatus,
      conversation_id: row.conversation_id,
      created_at: row.created_at,
      answered_at: row.answered_at,
      ended_at: row.ended_at,
      hangup_cause: row.hangup_cause,
      hangup_cause_text: row.hangup_cause_text,
      end_reason: row.end_reason,
      error: row.error,
      transcript,
      metrics: parseJson<BridgeMetrics>(row.metrics),
      status_history: parseJson<StatusChange[]>(row.status_history),
    };
  }
}

function migrate(db: Database.Database, nowMs: () => number, nodeId: string | undefined): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT');
  const current = currentVersion(db);
  if (current > CALL_DB_SCHEMA_VERSION) {
    throw new Error(`call database schema version ${current} is newer than this build supports (${CALL_DB_SCHEMA_VERSION})`);
  }
  const record = db.prepare<[number, string]>('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)');
  if (isNumberedBeforeNodeId(db, current)) renumberAroundNodeId(db, nowMs, nodeId);
  const from = currentVersion(db);
  for (const migration of MIGRATIONS) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      if (migration.backfill !== undefined && nodeId !== undefined) db.prepare<[string]>(migration.backfill).run(nodeId);
      record.run(migration.version, new Date(nowMs()).toISOString());
    }).immediate();
  }
}

/**
 * A database written by a build that numbered the heard-transcript, webhook-outbox and campaign
 * migrations 5, 6 and 7, before `node_id` took number 5: its version says 5 or more, but `calls`
 * has no `node_id`. (Version 5 of every other build added `node_id`.)
 */
function isNumberedBeforeNodeId(db: Database.Database, version: number): boolean {
  if (version < 5) return false;
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('calls')").all();
  return !columns.some((c) => c.name === 'node_id');
}

/**
 * Brings such a database onto this numbering in one transaction: `node_id` is added (migration 5,
 * with its backfill) and the versions it had applied as 5, 6, 7 are recorded as 6, 7, 8, which is
 * what they are here; the migrations after them then apply as usual.
 */
function renumberAroundNodeId(db: Database.Database, nowMs: () => number, nodeId: string | undefined): void {
  const nodeIdMigration = MIGRATIONS.find((m) => m.version === 5)!;
  db.transaction(() => {
    const applied = db.prepare<[], { version: number; applied_at: string }>('SELECT version, applied_at FROM schema_version WHERE version >= 5 ORDER BY version DESC').all();
    db.exec(nodeIdMigration.sql);
    if (nodeIdMigration.backfill !== undefined && nodeId !== undefined) db.prepare<[string]>(nodeIdMigration.backfill).run(nodeId);
    db.exec('DELETE FROM schema_version WHERE version >= 5');
    const insert = db.prepare<[number, string]>('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)');
    for (const row of applied) insert.run(row.version + 1, row.applied_at);
    insert.run(5, new Date(nowMs()).toISOString());
  }).immediate();
}

function currentVersion(db: Database.Database): number {
  const row = db.prepare<[], { version: number | null }>('SELECT MAX(version) AS version FROM schema_version').get();
  return row?.version ?? 0;
}

function toRow(summary: CallSummary, nowMs: number): CallRow {
  const createdMs = Date.parse(summary.created_at);
  if (!Number.isFinite(createdMs)) throw new TypeError(`call ${summary.id} has an invalid created_at`);
  return {
    id: summary.id,
    direction: summary.direction,
    phone_number: summary.phone_number,
    status: summary.status,
    conversation_id: summary.conversation_id,
    created_ms: createdMs,
    created_at: summary.created_at,
    answered_at: summary.answered_at,
    ended_at: summary.ended_at,
    hangup_cause: summary.hangup_cause,
    hangup_cause_text: summary.hangup_cause_text,
    end_reason: summary.end_reason,
    error: summary.error,
    status_history: JSON.stringify(summary.status_history),
    metrics: JSON.stringify(summary.metrics),
    updated_ms: nowMs,
    dialed_number: summary.dialed_number,
    agent_id: summary.agent_id,
    amd_result: summary.amd_result,
    transferred_to: summary.transferred_to,
    recording_url: summary.recording_url,
    hangup_sip_code: summary.hangup_sip_code,
    node_id: summary.node_id,
  };
}

function toLineRow(line: TranscriptLine): LineRow {
  const e = line.entry;
  return {
    call_id: line.callId,
    seq: line.seq,
    role: e.role,
    text: e.text,
    at: e.at,
    heard: e.heard === undefined ? null : JSON.stringify(e.heard),
    original_text: e.original_text ?? null,
  };
}

function fromLineRow(l: LineRow): TranscriptEntry {
  const entry: TranscriptEntry = { role: l.role as TranscriptEntry['role'], text: l.text, at: l.at };
  if (l.heard !== null) entry.heard = parseJson<NonNullable<TranscriptEntry['heard']>>(l.heard);
  if (l.original_text !== null) entry.original_text = l.original_text;
  return entry;
}

/** Our own JSON columns, written by `toRow`; the type is trusted, not validated. */
function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
