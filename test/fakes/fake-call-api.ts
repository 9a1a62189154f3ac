/**
 * In-memory `CallApi` for API tests: records every use-case call, keeps calls in a Map, and can be
 * told to fail the next call of a method with a given error.
 */
import { randomUUID } from 'node:crypto';
import type { CallListPage, CallListQuery, CallRecord } from '../../src/model/call-record';
import { MemoryCallStore } from '../../src/store/call-store';
import type { CallApi, CallRequester, ServiceHealth } from '../../src/model/call-api';
import type { CallView, StartCallRequest } from '../../src/model/call-view';
import { TERMINAL_STATUSES } from '../../src/model/call-view';
import { CallNotFoundError } from '../../src/errors';

type FailableMethod = 'startCall' | 'getCall' | 'hangupCall' | 'listCalls';

/** A `CallView` for `phoneNumber` in status `dialing`, as the real service returns from startCall. */
export function makeCallView(phoneNumber: string, id: string = randomUUID()): CallView {
  return {
    id,
    direction: 'outbound',
    dialed_number: null,
    agent_id: null,
    amd_result: null,
    transferred_to: null,
    recording_url: null,
    node_id: null,
    hangup_sip_code: null,
    phone_number: phoneNumber,
    status: 'dialing',
    conversation_id: null,
    created_at: new Date().toISOString(),
    answered_at: null,
    ended_at: null,
    hangup_cause: null,
    hangup_cause_text: null,
    end_reason: null,
    error: null,
    transcript: [],
    metrics: { caller_to_ai: { packets: 0, bytes: 0 }, ai_to_caller: { packets: 0, bytes: 0 }, resampling_ops: 0, errors: 0 },
  };
}

/** Fake `CallApi`; inspect `startCalls`, `getCalls`, `hangups` after a request. */
export class FakeCallApi implements CallApi {
  /** Every StartCallRequest received, in order. */
  readonly startCalls: StartCallRequest[] = [];
  /** Who asked, for each of `startCalls`. */
  readonly requesters: CallRequester[] = [];
  /** Every id passed to getCall. */
  readonly getCalls: string[] = [];
  /** Every id passed to hangupCall. */
  readonly hangups: string[] = [];
  /** Every query passed to listCalls. */
  readonly listQueries: CallListQuery[] = [];
  /** Calls by id; tests may add or edit entries. */
  readonly calls = new Map<string, CallView>();
  /** What health() reports for ARI. */
  ari: 'connected' | 'disconnected' = 'connected';
  readonly #failures = new Map<FailableMethod, unknown>();

  /** Make the next call of `method` throw `error` (once). */
  failNext(method: FailableMethod, error: unknown): void {
    this.#failures.set(method, error);
  }

  /** Store a call and return it. */
  addCall(view: CallView): CallView {
    this.calls.set(view.id, view);
    return view;
  }

  async startCall(request: StartCallRequest, requester: CallRequester): Promise<CallView> {
    this.startCalls.push(request);
    this.requesters.push(requester);
    this.#throwIfFailing('startCall');
    return this.addCall(makeCallView(request.phoneNumber));
  }

  async getCall(id: string): Promise<CallRecord> {
    this.getCalls.push(id);
    this.#throwIfFailing('getCall');
    const view = this.#find(id);
    return { ...view, status_history: [{ status: view.status, at: view.created_at }] };
  }

  async hangupCall(id: string): Promise<CallView> {
    this.hangups.push(id);
    this.#throwIfFailing('hangupCall');
    const view = this.#find(id);
    if (TERMINAL_STATUSES.includes(view.status)) {
      return view;
    }
    const ended: CallView = { ...view, status: 'completed', ended_at: new Date().toISOString(), end_reason: 'api', hangup_cause: 16, hangup_cause_text: 'Normal Clearing' };
    this.calls.set(id, ended);
    return ended;
  }

  /** Lists `calls` through a MemoryCallStore, so paging and filters behave as in the real stores. */
  async listCalls(query: CallListQuery): Promise<CallListPage> {
    this.listQueries.push(query);
    this.#throwIfFailing('listCalls');
    const store = new MemoryCallStore();
    for (const view of this.calls.values()) {
      const { transcript, ...summary } = view;
      await store.write({
        summaries: [{ ...summary, status_history: [{ status: view.status, at: view.created_at }] }],
        lines: transcript.map((entry, seq) => ({ callId: view.id, seq, entry })),
      });
    }
    return store.list(query);
  }

  health(): ServiceHealth {
    const activeCalls = [...this.calls.values()].filter((c) => !TERMINAL_STATUSES.includes(c.status)).length;
    return { ari: this.ari, activeCalls, isAccepting: true, store: 'ok' };
  }

  #find(id: string): CallView {
    const view = this.calls.get(id);
    if (view === undefined) {
      throw new CallNotFoundError(id);
    }
    return view;
  }

  #throwIfFailing(method: FailableMethod): void {
    if (this.#failures.has(method)) {
      const error = this.#failures.get(method);
      this.#failures.delete(method);
      throw error;
    }
  }
}
