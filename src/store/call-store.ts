import {
  GATEWAY_RESTART_END_REASON,
  IN_FLIGHT_STATUSES,
  assertListLimit,
  compareNewestFirst,
  decodeCursor,
  encodeCursor,
  matchesQuery,
  type CallListPage,
  type CallListQuery,
  type CallRecord,
} from '../model/call-record';
import type { TranscriptEntry } from '../model/call-view';
import { MemoryCampaignStore, type HasCampaignStore } from './campaign-store';
import { MemoryWebhookOutbox, type HasWebhookOutbox, type OutboxEvent } from './webhook-outbox';

/**
 * A call's record without its transcript: the part rewritten as the call goes on. It is small and
 * bounded (a status history of a handful of entries), so rewriting it whole stays cheap.
 */
export type CallSummary = Omit<CallRecord, 'transcript'>;

/** One transcript line of a call; `seq` numbers a call's lines 0, 1, 2… in the order spoken. */
export interface TranscriptLine {
  readonly callId: string;
  readonly seq: number;
  readonly entry: TranscriptEntry;
}

/** What one `CallStore.write` applies, all or nothing. */
export interface StoreBatch {
  /** The latest summary of each call that changed; at most one per call. */
  readonly summaries: readonly CallSummary[];
  /** Lines to append, in `seq` order per call. A line already stored (same call and seq) is kept as it is. */
  readonly lines: readonly TranscriptLine[];
  /**
   * Lines that changed after they were appended (what the caller heard of an agent line, the
   * agent's correction): each replaces the stored line of the same call and seq, or is appended
   * when that line is not stored yet. Applied after `lines`.
   */
  readonly lineUpdates?: readonly TranscriptLine[];
  /**
   * Webhook deliveries reporting these changes, enqueued in the same transaction (src/store/
   * webhook-outbox.ts), in this order. Only a store with an outbox takes them; any other must
   * reject a batch that carries some rather than drop them.
   */
  readonly outbox?: readonly OutboxEvent[];
}

/**
 * Where call records live: `MemoryCallStore`, `SqliteCallStore` (src/store/sqlite-call-store.ts),
 * `PostgresCallStore` (src/store/postgres-call-store.ts, shared by the nodes of a cluster).
 * Asynchronous, so a store out of process (a shared database) fits the same interface. Writes come
 * from the write-behind `RecordWriter` (src/store/record-writer.ts), never from a call directly: a
 * store that fails or stalls never decides a call's fate.
 */
export interface CallStore {
  /** Applies `batch` atomically. Rejects when the store cannot write (disk full, locked, gone). */
  write(batch: StoreBatch): Promise<void>;
  get(id: string): Promise<CallRecord | undefined>;
  /** Newest first, filtered and paged; see `CallListQuery`. */
  list(query: CallListQuery): Promise<CallListPage>;
  /**
   * Crash recovery, run once at start before any call is placed: every record of this node (the
   * store's `nodeId`; every record when it has none) still dialing, ringing or answered is set to
   * `failed` with `error = reason` and end_reason `gateway-restart`. Records of other nodes sharing
   * the store are theirs to recover. Resolves to the ids it changed. `eventsOf`, when given, makes
   * the webhook rows reporting each record so ended (its final `call.status` and `call.ended`):
   * they are written in the same transaction, as for any other end of a call.
   */
  markInFlightAsFailed(reason: string, eventsOf?: RecoveredCallEvents): Promise<string[]>;
  /** Release the store; idempotent. No other method may be called after. */
  close(): Promise<void>;
}

/** The webhook rows (src/store/webhook-outbox.ts) reporting a record that recovery ended. */
export type RecoveredCallEvents = (record: CallRecord) => readonly OutboxEvent[];

/** Options of `MemoryCallStore`. */
export interface MemoryCallStoreOptions {
  /** Records kept; the oldest created is dropped beyond it. Default 10 000. */
  capacity?: number;
  /** Wall clock, epoch ms (recovery time). Default `Date.now`. */
  nowMs?: () => number;
  /** NODE_ID: crash recovery fails only records of this node (and records naming none). */
  nodeId?: string;
}

/** Keeps the newest `capacity` records in memory, and its webhook outbox; nothing survives a restart. */
export class MemoryCallStore implements CallStore, HasWebhookOutbox, HasCampaignStore {
  readonly outbox = new MemoryWebhookOutbox();
  readonly campaigns = new MemoryCampaignStore(this.outbox);
  readonly #records = new Map<string, CallRecord>();
  readonly #capacity: number;
  readonly #nowMs: () => number;
  readonly #nodeId: string | undefined;

  constructor(options: MemoryCallStoreOptions = {}) {
    this.#capacity = options.capacity ?? 10_000;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#nodeId = options.nodeId;
  }

  async write(batch: StoreBatch): Promise<void> {
    for (const summary of batch.summaries) {
      const transcript = this.#records.get(summary.id)?.transcript ?? [];
      this.#records.set(summary.id, structuredClone({ ...summary, transcript }));
    }
    for (const line of batch.lines) {
      const record = this.#records.get(line.callId);
      // Lines of a call whose summary never landed have nowhere to go; the writer always sends the summary first.
      if (record === undefined || record.transcript.length !== line.seq) continue;
      record.transcript.push(structuredClone(line.entry));
    }
    for (const line of batch.lineUpdates ?? []) {
      const record = this.#records.get(line.callId);
      if (record === undefined || line.seq > record.transcript.length) continue;
      record.transcript[line.seq] = structuredClone(line.entry);
    }
    this.outbox.add(batch.outbox ?? []);
    while (this.#records.size > this.#capacity) {
      const oldest = this.#records.keys().next().value;
      if (oldest === undefined) break;
      this.#records.delete(oldest);
    }
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const record = this.#records.get(id);
    return record === undefined ? undefined : structuredClone(record);
  }

  async list(query: CallListQuery): Promise<CallListPage> {
    assertListLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) throw new RangeError('invalid list cursor');
    const keyOf = (r: CallRecord) => ({ createdMs: Date.parse(r.created_at), id: r.id });
    const matching = [...this.#records.values()]
      .filter((r) => matchesQuery(r, query) && (after === undefined || compareNewestFirst(after, keyOf(r)) < 0))
      .sort((a, b) => compareNewestFirst(keyOf(a), keyOf(b)));
    const page = matching.slice(0, query.limit).map((r) => structuredClone(r));
    const last = page[page.length - 1];
    return { calls: page, next_cursor: matching.length > query.limit && last !== undefined ? encodeCursor(last) : null };
  }

  async markInFlightAsFailed(reason: string, eventsOf?: RecoveredCallEvents): Promise<string[]> {
    const endedAt = new Date(this.#nowMs()).toISOString();
    const changed: string[] = [];
    for (const record of this.#records.values()) {
      if (!IN_FLIGHT_STATUSES.includes(record.status)) continue;
      if (this.#nodeId !== undefined && record.node_id !== null && record.node_id !== this.#nodeId) continue;
      record.status = 'failed';
      record.end_reason = GATEWAY_RESTART_END_REASON;
      record.error = reason;
      record.ended_at = endedAt;
      record.status_history.push({ status: 'failed', at: endedAt });
      changed.push(record.id);
      if (eventsOf !== undefined) this.outbox.add(eventsOf(structuredClone(record)));
    }
    return changed;
  }

  async close(): Promise<void> {
    this.#records.clear();
  }
}
