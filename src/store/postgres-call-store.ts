/**
 * Call records in PostgreSQL (DATABASE_URL), shared by every node of a cluster (docs/cluster.md).
 * The same contract as SQLite (src/store/call-store.ts): one row per call for its summary, one row
 * per transcript line, a batch applied in one transaction, newest-first keyset paging, and crash
 * recovery of the restarting node's own calls (`node_id`). Lines updated after they were written
 * (what the caller heard, the agent's correction) and the webhook outbox
 * (src/store/postgres-webhook-outbox.ts) are written in the same transaction as the records.
 * Campaigns are not kept here (docs/cluster.md#campaigns).
 *
 * The pool connects lazily and the schema is migrated before the first query (retried on the next
 * call while the database is unreachable), so a gateway starts while PostgreSQL is still coming up;
 * until then writes fail and the write-behind writer retries them, as with a locked SQLite file.
 *
 * The URL holds a password: it is never logged, and errors from `pg` do not carry it.
 */
import { Pool, type PoolClient } from 'pg';
import type { Logger } from 'pino';
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
import { migratePostgres } from './postgres-migrations';
import { inTransaction } from './postgres-transaction';
import { PostgresWebhookOutbox } from './postgres-webhook-outbox';
import type { HasWebhookOutbox } from './webhook-outbox';

/** Options of `PostgresCallStore.open`. */
export interface PostgresCallStoreOptions {
  /** postgres://user:password@host:port/database (a secret: never logged). */
  url: string;
  /** NODE_ID of this gateway: crash recovery fails only its calls. */
  nodeId: string;
  log: Logger;
  /** Connections in the pool. Default 5: writes are batched, reads are few. */
  poolSize?: number;
  /** Wall clock, epoch ms (recovery time). Default `Date.now`. */
  nowMs?: () => number;
  /** Deadline for one statement, ms, so a stalled database fails a write instead of holding it. Default 10 000. */
  statementTimeoutMs?: number;
}

interface CallRow {
  id: string;
  node_id: string | null;
  direction: string;
  phone_number: string;
  dialed_number: string | null;
  agent_id: string | null;
  amd_result: string | null;
  transferred_to: string | null;
  recording_url: string | null;
  status: string;
  conversation_id: string | null;
  created_ms: number;
  created_at: string;
  answered_at: string | null;
  ended_at: string | null;
  hangup_cause: number | null;
  hangup_cause_text: string | null;
  hangup_sip_code: number | null;
  end_reason: string | null;
  error: string | null;
  status_history: StatusChange[];
  metrics: BridgeMetrics;
  updated_ms: number;
}

interface LineRow {
  call_id: string;
  seq: number;
  role: string;
  text: string;
  at: string;
  heard: TranscriptEntry['heard'] | null;
  original_text: string | null;
}

/** Columns and their types, in the order of `CallRow`; the batch write unpacks JSON rows with them. */
const COLUMNS: readonly (readonly [keyof CallRow, string])[] = [
  ['id', 'text'], ['node_id', 'text'], ['direction', 'text'], ['phone_number', 'text'], ['dialed_number', 'text'],
  ['agent_id', 'text'], ['amd_result', 'text'], ['transferred_to', 'text'], ['recording_url', 'text'], ['status', 'text'],
  ['conversation_id', 'text'], ['created_ms', 'bigint'], ['created_at', 'text'], ['answered_at', 'text'], ['ended_at', 'text'],
  ['hangup_cause', 'integer'], ['hangup_cause_text', 'text'], ['hangup_sip_code', 'integer'], ['end_reason', 'text'],
  ['error', 'text'], ['status_history', 'jsonb'], ['metrics', 'jsonb'], ['updated_ms', 'bigint'],
];
const NAMES = COLUMNS.map(([name]) => name).join(', ');
// Every summary of a batch in one statement: the rows travel as one JSON array parameter.
const UPSERT_SQL = `
  INSERT INTO calls (${NAMES})
  SELECT ${NAMES} FROM jsonb_to_recordset($1::jsonb) AS r(${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})
  ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter(([n]) => n !== 'id').map(([n]) => `${n} = excluded.${n}`).join(', ')}`;
const LINE_COLUMNS = 'call_id text, seq integer, role text, text text, at text, heard jsonb, original_text text';
// A line that landed in an earlier attempt of the same batch is not written twice.
const INSERT_LINES_SQL = `
  INSERT INTO transcript_lines (call_id, seq, role, text, at, heard, original_text)
  SELECT call_id, seq, role, text, at, heard, original_text FROM jsonb_to_recordset($1::jsonb) AS r(${LINE_COLUMNS})
  ON CONFLICT DO NOTHING`;
// A line that changed (what the caller heard, a correction) replaces the stored one.
const UPSERT_LINES_SQL = `
  INSERT INTO transcript_lines (call_id, seq, role, text, at, heard, original_text)
  SELECT call_id, seq, role, text, at, heard, original_text FROM jsonb_to_recordset($1::jsonb) AS r(${LINE_COLUMNS})
  ON CONFLICT (call_id, seq) DO UPDATE SET text = excluded.text, heard = excluded.heard, original_text = excluded.original_text`;
// One statement for every filter combination: a NULL parameter disables its condition.
const LIST_SQL = `
  SELECT * FROM calls
  WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))
    AND ($2::bigint IS NULL OR created_ms >= $2::bigint)
    AND ($3::bigint IS NULL OR created_ms < $3::bigint)
    AND ($4::bigint IS NULL OR (created_ms, id) < ($4::bigint, $5::text))
  ORDER BY created_ms DESC, id DESC
  LIMIT $6`;
const IN_FLIGHT_SQL = `(${IN_FLIGHT_STATUSES.map((s) => `'${s}'`).join(', ')})`;
// Rows naming no node come from before calls named their node: any node may recover them.
const RECOVER_SQL = `
  UPDATE calls SET status = 'failed', ended_at = $2, error = $3, end_reason = $4, updated_ms = $5,
    status_history = status_history || jsonb_build_array(jsonb_build_object('status', 'failed', 'at', $2::text))
  WHERE status IN ${IN_FLIGHT_SQL} AND (node_id = $1 OR node_id IS NULL)
  RETURNING *`;
const FAIL_NODE_SQL = `
  UPDATE calls SET status = 'failed', ended_at = $2, error = $3, end_reason = $4, updated_ms = $5,
    status_history = status_history || jsonb_build_array(jsonb_build_object('status', 'failed', 'at', $2::text))
  WHERE status IN ${IN_FLIGHT_SQL} AND node_id = $1
  RETURNING *`;

/**
 * `CallStore` on PostgreSQL. Open with `PostgresCallStore.open(options)`; `close()` it at shutdown
 * (after the last write). `pool` is shared with the cluster's coordination (src/cluster/).
 */
export class PostgresCallStore implements CallStore, HasWebhookOutbox {
  readonly pool: Pool;
  /** The webhook outbox in the same database (its rows come with `write`'s batches). */
  readonly outbox: PostgresWebhookOutbox;
  readonly #nodeId: string;
  readonly #nowMs: () => number;
  readonly #log: Logger;
  #migrated: Promise<number> | undefined;
  #isClosed = false;

  private constructor(pool: Pool, options: PostgresCallStoreOptions) {
    this.pool = pool;
    this.#nodeId = options.nodeId;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#log = options.log;
    this.outbox = new PostgresWebhookOutbox(pool, () => this.ready(), options.log);
  }

  /** Creates the pool (no connection yet: the first query connects and migrates). */
  static open(options: PostgresCallStoreOptions): PostgresCallStore {
    const pool = new Pool({
      connectionString: options.url,
      max: options.poolSize ?? 5,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs ?? 10_000,
      application_name: `voice-gateway ${options.nodeId}`,
    });
    // An idle connection that breaks (database restarted) is dropped by the pool; without a
    // listener the 'error' event would end the process.
    pool.on('error', (err) => options.log.warn({ err }, 'idle PostgreSQL connection failed; the pool replaces it'));
    return new PostgresCallStore(pool, options);
  }

  /**
   * Migrates the schema once (retried after a failure); every method awaits it first. Resolves to
   * the schema version.
   */
  ready(): Promise<number> {
    if (this.#migrated === undefined) {
      const migrated = this.#withClient((client) => migratePostgres(client, this.#nowMs));
      this.#migrated = migrated;
      migrated.catch((err: unknown) => {
        // The next call tries again: the database may just be starting.
        if (this.#migrated === migrated) this.#migrated = undefined;
        this.#log.warn({ err }, 'PostgreSQL schema migration failed; retrying with the next query');
      });
    }
    return this.#migrated;
  }

  async write(batch: StoreBatch): Promise<void> {
    const lineUpdates = batch.lineUpdates ?? [];
    const outbox = batch.outbox ?? [];
    if (batch.summaries.length === 0 && batch.lines.length === 0 && lineUpdates.length === 0 && outbox.length === 0) return;
    // Checked before anything is sent: a bad summary fails the batch whole.
    const nowMs = this.#nowMs();
    const rows = batch.summaries.map((s) => toRow(s, nowMs));
    const lines = batch.lines.map(toLineRow);
    const updated = lineUpdates.map(toLineRow);
    await this.ready();
    await this.#withClient((client) =>
      inTransaction(client, this.#log, async () => {
        if (rows.length > 0) await client.query(UPSERT_SQL, [JSON.stringify(rows)]);
        if (lines.length > 0) await client.query(INSERT_LINES_SQL, [JSON.stringify(lines)]);
        if (updated.length > 0) await client.query(UPSERT_LINES_SQL, [JSON.stringify(updated)]);
        await PostgresWebhookOutbox.add(client, outbox);
      }),
    );
  }

  async get(id: string): Promise<CallRecord | undefined> {
    await this.ready();
    const { rows } = await this.pool.query<CallRow>('SELECT * FROM calls WHERE id = $1', [id]);
    const row = rows[0];
    if (row === undefined) return undefined;
    const transcripts = await this.#transcriptsOf([row.id]);
    return fromRow(row, transcripts.get(row.id) ?? []);
  }

  async list(query: CallListQuery): Promise<CallListPage> {
    assertListLimit(query.limit);
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && cursor === undefined) throw new RangeError('invalid list cursor');
    await this.ready();
    // One row more than asked tells whether another page exists.
    const { rows } = await this.pool.query<CallRow>(LIST_SQL, [
      query.status !== undefined && query.status.length > 0 ? [...query.status] : null,
      query.fromMs ?? null,
      query.toMs ?? null,
      cursor?.createdMs ?? null,
      cursor?.id ?? null,
      query.limit + 1,
    ]);
    const page = rows.slice(0, query.limit);
    const transcripts = await this.#transcriptsOf(page.map((r) => r.id));
    const calls = page.map((row) => fromRow(row, transcripts.get(row.id) ?? []));
    const last = calls[calls.length - 1];
    return { calls, next_cursor: rows.length > query.limit && last !== undefined ? encodeCursor(last) : null };
  }

  async markInFlightAsFailed(reason: string, eventsOf?: RecoveredCallEvents): Promise<string[]> {
    const nowMs = this.#nowMs();
    const records = await this.#failInTransaction(RECOVER_SQL, [this.#nodeId, new Date(nowMs).toISOString(), reason, GATEWAY_RESTART_END_REASON, nowMs], eventsOf);
    return records.map((r) => r.id);
  }

  /**
   * Ends the in-flight calls of another node that stopped heartbeating (it can no longer record
   * their end itself): `failed` with `error = reason` and `endReason`, with the webhook rows
   * `eventsOf` makes for each in the same transaction. Resolves to the records as they are now.
   */
  async markNodeInFlightAsFailed(nodeId: string, reason: string, endReason: string, eventsOf?: RecoveredCallEvents): Promise<CallRecord[]> {
    const nowMs = this.#nowMs();
    return this.#failInTransaction(FAIL_NODE_SQL, [nodeId, new Date(nowMs).toISOString(), reason, endReason, nowMs], eventsOf);
  }

  /** Runs a failing UPDATE … RETURNING * and writes the webhook rows of what it ended, in one transaction. */
  async #failInTransaction(sql: string, params: unknown[], eventsOf: RecoveredCallEvents | undefined): Promise<CallRecord[]> {
    await this.ready();
    return this.#withClient((client) =>
      inTransaction(client, this.#log, async () => {
        const { rows } = await client.query<CallRow>(sql, params);
        const transcripts = await this.#transcriptsOf(rows.map((r) => r.id), client);
        const records = rows.map((row) => fromRow(row, transcripts.get(row.id) ?? []));
        if (eventsOf !== undefined) await PostgresWebhookOutbox.add(client, records.flatMap((r) => [...eventsOf(r)]));
        return records;
      }),
    );
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    await this.pool.end();
  }

  async #transcriptsOf(ids: readonly string[], client: Pick<Pool, 'query'> | PoolClient = this.pool): Promise<Map<string, TranscriptEntry[]>> {
    const byCall = new Map<string, TranscriptEntry[]>();
    if (ids.length === 0) return byCall;
    const { rows } = await client.query<LineRow>('SELECT * FROM transcript_lines WHERE call_id = ANY($1::text[]) ORDER BY call_id, seq', [ids]);
    for (const line of rows) {
      const list = byCall.get(line.call_id) ?? [];
      list.push(fromLineRow(line));
      byCall.set(line.call_id, list);
    }
    return byCall;
  }

  async #withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failure: unknown;
    try {
      return await work(client);
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      // A connection that failed (mid-transaction, or broken) is closed, not handed to the next caller.
      client.release(failure instanceof Error ? failure : undefined);
    }
  }
}

function toRow(summary: CallSummary, nowMs: number): CallRow {
  const createdMs = Date.parse(summary.created_at);
  if (!Number.isFinite(createdMs)) throw new TypeError(`call ${summary.id} has an invalid created_at`);
  return {
    id: summary.id,
    node_id: summary.node_id,
    direction: summary.direction,
    phone_number: summary.phone_number,
    dialed_number: summary.dialed_number,
    agent_id: summary.agent_id,
    amd_result: summary.amd_result,
    transferred_to: summary.transferred_to,
    recording_url: summary.recording_url,
    status: summary.status,
    conversation_id: summary.conversation_id,
    created_ms: createdMs,
    created_at: summary.created_at,
    answered_at: summary.answered_at,
    ended_at: summary.ended_at,
    hangup_cause: summary.hangup_cause,
    hangup_cause_text: summary.hangup_cause_text,
    hangup_sip_code: summary.hangup_sip_code,
    end_reason: summary.end_reason,
    error: summary.error,
    status_history: summary.status_history,
    metrics: summary.metrics,
    updated_ms: nowMs,
  };
}

function toLineRow(line: TranscriptLine): LineRow {
  const e = line.entry;
  return { call_id: line.callId, seq: line.seq, role: e.role, text: e.text, at: e.at, heard: e.heard ?? null, original_text: e.original_text ?? null };
}

/** A stored line as the record shows it: `heard` and `original_text` only when set. */
function fromLineRow(row: LineRow): TranscriptEntry {
  const entry: TranscriptEntry = { role: row.role as TranscriptEntry['role'], text: row.text, at: row.at };
  if (row.original_text !== null) entry.original_text = row.original_text;
  if (row.heard !== null) entry.heard = row.heard;
  return entry;
}

/** Our own columns, written by `toRow`; JSONB comes back parsed. */
function fromRow(row: CallRow, transcript: TranscriptEntry[]): CallRecord {
  return {
    id: row.id,
    direction: row.direction as CallView['direction'],
    phone_number: row.phone_number,
    dialed_number: row.dialed_number,
    agent_id: row.agent_id,
    amd_result: row.amd_result,
    transferred_to: row.transferred_to,
    recording_url: row.recording_url,
    node_id: row.node_id,
    hangup_sip_code: row.hangup_sip_code,
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
    metrics: row.metrics,
    status_history: row.status_history,
  };
}
