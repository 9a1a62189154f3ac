/**
 * The use-cases the REST API needs; implemented by CallService (src/call/call-service.ts), faked in
 * API tests. The API imports only this and the shapes it returns.
 */
import type { Readable } from 'node:stream';
import type { CallListPage, CallListQuery, CallRecord } from './call-record';
import type { CallView, StartCallRequest, TrunkHealth } from './call-view';

/** Who asks for a call: the API token's id, or the client's address without auth. Rate limits key on it. */
export interface CallRequester {
  readonly id: string;
  /**
   * True when the attempt was already charged to a rate limit the whole cluster shares (the node
   * that took the request did it, docs/cluster.md): the service does not charge it again.
   */
  readonly isAttemptCharged?: boolean;
}

/** What GET /health reports of the call service. */
export interface ServiceHealth {
  ari: 'connected' | 'disconnected';
  activeCalls: number;
  /** False once a graceful stop began (new calls get 503). */
  isAccepting: boolean;
  /** `failing` while call records cannot be written: new calls get 503 STORE_UNAVAILABLE. */
  store: 'ok' | 'failing';
}

export interface CallApi {
  /**
   * Places the call; resolves once it is dialing. Throws RateLimitError, PolicyError (destination),
   * ServiceUnavailableError (ARI down, draining, at capacity, store unavailable).
   */
  startCall(request: StartCallRequest, requester: CallRequester): Promise<CallView>;
  /** The freshest record of a call (live, pending write, or stored). Throws CallNotFoundError. */
  getCall(id: string): Promise<CallRecord>;
  /** Hangs up (idempotent for ended calls); throws CallNotFoundError. */
  hangupCall(id: string): Promise<CallView>;
  health(): ServiceHealth;
  /** The SIP trunk as Asterisk sees it (GET /health shows it when implemented). Never rejects. */
  trunkHealth?(): Promise<TrunkHealth>;
  /**
   * The call's recording (wav bytes) as a stream, so it is passed on as it arrives instead of held
   * whole; undefined when it has none. The caller must consume or destroy it. Throws CallNotFoundError.
   */
  getRecording?(id: string): Promise<Readable | undefined>;
  /** Recorded calls, newest first, filtered and paged (GET /api/calls; the route exists only if implemented). */
  listCalls?(query: CallListQuery): Promise<CallListPage>;
}
