import {
  GATEWAY_RESTART_END_REASON,
  IN_FLIGHT_STATUSES,
  assertListLimit,
  compareNewestFirst,
  decodeCursor,
  encodeCursor,
  matchesQuery,
  nextStatusHistory,
  type CallListPage,
  type CallListQuery,
  type CallRecord,
} from './call-record';
import type { CallView } from './call-view';

/**
 * Where call records live after (and while) a call runs: `MemoryCallStore` or `SqliteCallStore`
 * (src/store/sqlite-call-store.ts). The interface is the seam for a shared database.
 *
 * Synchronous on purpose: the call path saves on every status and transcript line and `getCall`
 * is synchronous. An out-of-process store (PostgreSQL) needs an async variant of this interface
 * (or a write-behind queue in front of it).
 */
export interface CallStore {
  /** Insert or replace the record of `view.id`, appending to its status history when the status changed. */
  save(view: CallView): void;
  get(id: string): CallRecord | undefined;
  /** Newest first, filtered and paged; see `CallListQuery`. */
  list(query: CallListQuery): CallListPage;
  /**
   * Crash recovery, run once at start before any call is placed: every record still dialing,
   * ringing or answered is set to `failed` with `error = reason` and end_reason `gateway-restart`.
   * Returns the ids it changed.
   */
  markInFlightAsFailed(reason: string): string[];
  /** Release the store; idempotent. No other method may be called after. */
  close(): void;
}

/** Options of `MemoryCallStore`. */
export interface MemoryCallStoreOptions {
  /** Records kept; the oldest saved is dropped beyond it. Default 10 000. */
  capacity?: number;
  /** Wall clock, epoch ms (for status-history times). Default `Date.now`. */
  nowMs?: () => number;
}

/** Keeps the newest `capacity` records in memory; nothing survives a restart. */
export class MemoryCallStore implements CallStore {
  readonly #records = new Map<string, CallRecord>();
  readonly #capacity: number;
  readonly #nowMs: () => number;

  constructor(options: MemoryCallStoreOptions | number = {}) {
    const { capacity = 10_000, nowMs = Date.now } = typeof options === 'number' ? { capacity: options } : options;
    this.#capacity = capacity;
    this.#nowMs = nowMs;
  }

  save(view: CallView): void {
    const history = nextStatusHistory(this.#records.get(view.id)?.status_history ?? [], view, this.#nowMs());
    this.#records.delete(view.id);
    this.#records.set(view.id, copyRecord({ ...view, status_history: history }));
    if (this.#records.size > this.#capacity) {
      const oldest = this.#records.keys().next().value;
      if (oldest !== undefined) this.#records.delete(oldest);
    }
  }

  get(id: string): CallRecord | undefined {
    const record = this.#records.get(id);
    return record === undefined ? undefined : copyRecord(record);
  }

  list(query: CallListQuery): CallListPage {
    assertListLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) throw new RangeError('invalid list cursor');
    const keyOf = (r: CallRecord) => ({ createdMs: Date.parse(r.created_at), id: r.id });
    const matching = [...this.#records.values()]
      .filter((r) => matchesQuery(r, query) && (after === undefined || compareNewestFirst(after, keyOf(r)) < 0))
      .sort((a, b) => compareNewestFirst(keyOf(a), keyOf(b)));
    const page = matching.slice(0, query.limit).map(copyRecord);
    const last = page[page.length - 1];
    return { calls: page, next_cursor: matching.length > query.limit && last !== undefined ? encodeCursor(last) : null };
  }

  markInFlightAsFailed(reason: string): string[] {
    const endedAt = new Date(this.#nowMs()).toISOString();
    const changed: string[] = [];
    for (const record of this.#records.values()) {
      if (!IN_FLIGHT_STATUSES.includes(record.status)) continue;
      record.status = 'failed';
      record.end_reason = GATEWAY_RESTART_END_REASON;
      record.error = reason;
      record.ended_at = endedAt;
      record.status_history.push({ status: 'failed', at: endedAt });
      changed.push(record.id);
    }
    return changed;
  }

  close(): void {
    this.#records.clear();
  }
}

/** Records are copied in and out so callers never share mutable state with the store. */
function copyRecord(record: CallRecord): CallRecord {
  return structuredClone(record);
}
