/**
 * In-memory `CallApi` for API tests: records every use-case call, keeps calls in a Map, and can be
 * told to fail the next call of a method with a given error.
 */
import { randomUUID } from 'node:crypto';
import type { CallListPage, CallListQuery } from '../../src/call/call-record';
import { MemoryCallStore } from '../../src/call/call-store';
import type { CallApi, CallView, StartCallRequest } from '../../src/call/call-view';
import { TERMINAL_STATUSES } from '../../src/call/call-view';
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

  async startCall(request: StartCallRequest): Promise<CallView> {
    this.startCalls.push(request);
    this.#throwIfFailing('startCall');
    return this.addCall(makeCallView(request.phoneNumber));
  }

  getCall(id: string): CallView {
    this.getCalls.push(id);
    this.#throwIfFailing('getCall');
    return this.#find(id);
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
  listCalls(query: CallListQuery): CallListPage {
    this.listQueries.push(query);
    this.#throwIfFailing('listCalls');
    const store = new MemoryCallStore();
    for (const view of this.calls.values()) store.save(view);
    return store.list(query);
  }

  health(): { ari: 'connected' | 'disconnected'; activeCalls: number } {
    const activeCalls = [...this.calls.values()].filter((c) => !TERMINAL_STATUSES.includes(c.status)).length;
    return { ari: this.ari, activeCalls };
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
