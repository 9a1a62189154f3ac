/**
 * The stored form of a call and the list query over stored calls. Shared by every `CallStore`
 * (memory, SQLite, later PostgreSQL) and the `GET /api/calls` route, so paging and status-history
 * rules are the same whichever store runs.
 */
import type { CallStatus, CallView } from './call-view';

/** One status the call went through, and when (ISO-8601). */
export interface StatusChange {
  status: CallStatus;
  at: string;
}

/** A call as recorded: its public view plus every status it passed through, oldest first. */
export interface CallRecord extends CallView {
  status_history: StatusChange[];
}

/** Statuses of a call that has not ended; what crash recovery marks failed. */
export const IN_FLIGHT_STATUSES: readonly CallStatus[] = ['dialing', 'ringing', 'answered'];

/** `end_reason` written by `CallStore.markInFlightAsFailed` (not one of the live `EndReason`s). */
export const GATEWAY_RESTART_END_REASON = 'gateway-restart';

/** Most calls one list page may hold. */
export const MAX_LIST_LIMIT = 200;

/**
 * Filters and paging of `CallStore.list`. Results are newest first by `created_at` (ties by id,
 * descending). Time bounds are on `created_at`, epoch milliseconds: `fromMs` inclusive, `toMs`
 * exclusive.
 */
export interface CallListQuery {
  /** Any of these statuses; absent or empty means all. */
  status?: readonly CallStatus[];
  fromMs?: number;
  toMs?: number;
  /** 1..MAX_LIST_LIMIT. */
  limit: number;
  /** `next_cursor` of the previous page; absent for the first page. */
  cursor?: string;
}

/** One page of calls; `next_cursor` is null on the last page. */
export interface CallListPage {
  calls: CallRecord[];
  next_cursor: string | null;
}

/** Decoded keyset cursor: the last row of the previous page. */
export interface CallCursor {
  createdMs: number;
  id: string;
}

const CURSOR_PATTERN = /^(\d{1,15})\.([0-9A-Za-z-]{1,64})$/;

/**
 * Encode the position after `record` as an opaque cursor. A keyset cursor (not an offset): pages
 * stay stable while new calls are inserted at the head.
 */
export function encodeCursor(record: Pick<CallView, 'id' | 'created_at'>): string {
  return Buffer.from(`${Date.parse(record.created_at)}.${record.id}`, 'utf8').toString('base64url');
}

/** Decode a cursor from `encodeCursor`; undefined when it is not one (the API answers 400). */
export function decodeCursor(cursor: string): CallCursor | undefined {
  if (cursor.length > 128 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const match = CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) return undefined;
  const createdMs = Number(match[1]);
  return Number.isSafeInteger(createdMs) ? { createdMs, id: match[2] ?? '' } : undefined;
}

/**
 * The status history after saving `view` over a record whose history was `previous`. A status is
 * appended when it differs from the last one; its time is the view's own timestamp where it has
 * one (created_at, answered_at, ended_at), else `nowMs` (ringing has no field of its own).
 */
export function nextStatusHistory(previous: readonly StatusChange[], view: CallView, nowMs: number): StatusChange[] {
  const last = previous[previous.length - 1];
  if (last?.status === view.status) return [...previous];
  return [...previous, { status: view.status, at: statusTime(view, nowMs) }];
}

function statusTime(view: CallView, nowMs: number): string {
  switch (view.status) {
    case 'dialing':
      return view.created_at;
    case 'ringing':
      return new Date(nowMs).toISOString();
    case 'answered':
      return view.answered_at ?? new Date(nowMs).toISOString();
    default:
      return view.ended_at ?? new Date(nowMs).toISOString();
  }
}

/** True when `record` passes the filters of `query` (cursor excluded). For stores that filter in JS. */
export function matchesQuery(record: CallRecord, query: CallListQuery): boolean {
  const createdMs = Date.parse(record.created_at);
  if (query.status !== undefined && query.status.length > 0 && !query.status.includes(record.status)) return false;
  if (query.fromMs !== undefined && createdMs < query.fromMs) return false;
  if (query.toMs !== undefined && createdMs >= query.toMs) return false;
  return true;
}

/** Newest-first order of records: created_at descending, then id descending. */
export function compareNewestFirst(a: CallCursor, b: CallCursor): number {
  if (a.createdMs !== b.createdMs) return b.createdMs - a.createdMs;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Checks a query's limit; a bad one is a programmer error (the API validates first). */
export function assertListLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new RangeError(`list limit must be an integer in 1..${MAX_LIST_LIMIT}, got ${limit}`);
  }
}
