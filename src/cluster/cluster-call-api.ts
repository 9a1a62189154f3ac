/**
 * The REST API's use-cases for a node of a cluster (docs/cluster.md): the node that takes a
 * request serves the whole cluster.
 *
 *   POST /api/calls   charge the cluster's attempt bucket → destination policy → reserve a place in
 *                     CLUSTER_MAX_CONCURRENT_CALLS → the live node with the most free capacity
 *                     (this one included) places the call: here, or handed over to that node's
 *                     internal route. A node that refuses (503: full, draining, ARI down) or cannot
 *                     be reached passes the call to the next one.
 *   GET  /api/calls…  the shared store sees every node's calls.
 *   DELETE …/{id}     a call carried by another node is hung up there.
 *
 * The order of checks is the single node's: a malformed request never gets here; a policy refusal
 * is charged.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../errors';
import type { CallApi, CallRequester, ServiceHealth } from '../model/call-api';
import type { CallListPage, CallListQuery, CallRecord } from '../model/call-record';
import { IN_FLIGHT_STATUSES } from '../model/call-record';
import type { CallView, StartCallRequest, TrunkHealth } from '../model/call-view';
import type { ClusterAttemptLimiter, ClusterCapacity } from './cluster-limits';
import { NodeAnswerError, NodeUnreachableError, type NodeClient } from './node-client';
import type { NodeRegistry, NodeView } from './node-registry';
import { toWirePayload } from './wire-request';

/** What the cluster API needs of this node's own call service (CallService implements it). */
export interface LocalCalls extends CallApi {
  /** The call, if this process carries it now. */
  liveCall(id: string): unknown;
}

export interface ClusterCallApiDeps {
  nodeId: string;
  local: LocalCalls;
  registry: NodeRegistry;
  client: NodeClient;
  attempts: ClusterAttemptLimiter;
  /** Absent without CLUSTER_MAX_CONCURRENT_CALLS. */
  capacity: ClusterCapacity | undefined;
  /** The destination and caller-ID policy (throws PolicyError). */
  assertAllowed: (phoneNumber: string, callerId?: string) => void;
  /** After this node placed a call: publish its new load before answering, so the next dispatch sees it. */
  afterLocalChange: () => Promise<void>;
  log: Logger;
}

export class ClusterCallApi implements CallApi {
  readonly #d: ClusterCallApiDeps;

  constructor(deps: ClusterCallApiDeps) {
    this.#d = deps;
  }

  async startCall(request: StartCallRequest, requester: CallRequester): Promise<CallView> {
    const d = this.#d;
    await d.attempts.charge(requester.id);
    d.assertAllowed(request.phoneNumber, request.callerId);
    const reservation = await d.capacity?.reserve(d.nodeId);
    try {
      return await this.#dispatch(request, requester.id);
    } finally {
      await reservation?.release().catch((err: unknown) => d.log.warn({ err }, 'capacity reservation not released (it expires by itself)'));
    }
  }

  /** Places a call here that another node already admitted (its internal route). */
  async placeHere(request: StartCallRequest, requesterId: string): Promise<CallView> {
    try {
      return await this.#d.local.startCall(request, { id: requesterId, isAttemptCharged: true });
    } finally {
      await this.#d.afterLocalChange();
    }
  }

  getCall(id: string): Promise<CallRecord> {
    return this.#d.local.getCall(id);
  }

  listCalls(query: CallListQuery): Promise<CallListPage> {
    if (this.#d.local.listCalls === undefined) throw new Error('the local call service lists no calls');
    return this.#d.local.listCalls(query);
  }

  async hangupCall(id: string): Promise<CallView> {
    const owner = await this.#remoteOwnerOf(id);
    if (owner === undefined) return this.#d.local.hangupCall(id);
    try {
      return await this.#d.client.hangUp(owner.apiUrl, id);
    } catch (err) {
      if (err instanceof NodeAnswerError) throw err.boom;
      // The node carrying it is gone: the call went with it, and its record says so once a node notices.
      this.#d.log.warn({ err, callId: id, node: owner.nodeId }, 'the node carrying the call did not take the hang-up');
      return this.#d.local.getCall(id);
    }
  }

  async getRecording(id: string): Promise<Readable | undefined> {
    const record = await this.#d.local.getCall(id);
    const local = this.#d.local.getRecording?.bind(this.#d.local);
    if (record.node_id === null || record.node_id === this.#d.nodeId) return local?.(id);
    if (!record.recording_url) return undefined;
    const node = (await this.#d.registry.list()).find((n) => n.nodeId === record.node_id && n.isLive);
    if (node === undefined) throw new ServiceUnavailableError('NODE_UNAVAILABLE', `the node that carried the call (${record.node_id}) is not running; its recording is there`);
    try {
      return await this.#d.client.recording(node.apiUrl, id);
    } catch (err) {
      if (err instanceof NodeAnswerError) throw err.boom;
      throw new ServiceUnavailableError('NODE_UNAVAILABLE', `the node that carried the call (${record.node_id}) did not answer`);
    }
  }

  health(): ServiceHealth {
    return this.#d.local.health();
  }

  trunkHealth(): Promise<TrunkHealth> {
    return this.#d.local.trunkHealth?.() ?? Promise.resolve({ endpoint: 'unknown', state: 'unknown' });
  }

  /** Tries the live nodes with free capacity, most free first (this node first among equals). */
  async #dispatch(request: StartCallRequest, requesterId: string): Promise<CallView> {
    const d = this.#d;
    const candidates = orderCandidates(await d.registry.list(), d.nodeId);
    let lastRefusal: unknown;
    for (const node of candidates) {
      try {
        if (node.nodeId === d.nodeId) return await this.placeHere(request, requesterId);
        const view = await d.client.placeCall(node.apiUrl, toWirePayload(request), requesterId);
        d.log.info({ callId: view.id, node: node.nodeId }, 'call handed over to another node');
        return view;
      } catch (err) {
        if (!isRefusedBeforePlacing(err)) throw err instanceof NodeAnswerError ? err.boom : err;
        d.log.info({ node: node.nodeId, reason: reasonOf(err) }, 'node did not take the call; trying the next');
        lastRefusal = err;
      }
    }
    if (lastRefusal instanceof ServiceUnavailableError) throw lastRefusal;
    if (lastRefusal instanceof NodeAnswerError) throw lastRefusal.boom;
    throw new ServiceUnavailableError('AT_CAPACITY', 'no node of the cluster can take a call now');
  }

  /** The live node carrying call `id`, when that is not this one and the call is not over. */
  async #remoteOwnerOf(id: string): Promise<NodeView | undefined> {
    if (this.#d.local.liveCall(id) !== undefined) return undefined;
    const record = await this.#d.local.getCall(id);
    if (record.node_id === null || record.node_id === this.#d.nodeId || !IN_FLIGHT_STATUSES.includes(record.status)) return undefined;
    return (await this.#d.registry.list()).find((n) => n.nodeId === record.node_id);
  }
}

/** Nodes that may take a call now, most free capacity first; `self` first among equals (no hop). */
export function orderCandidates(nodes: readonly NodeView[], self: string): NodeView[] {
  return nodes
    .filter((n) => n.freeCalls > 0)
    .sort((a, b) => b.freeCalls - a.freeCalls || Number(b.nodeId === self) - Number(a.nodeId === self) || a.nodeId.localeCompare(b.nodeId));
}

/**
 * True when the call was certainly not placed, so another node may try: a 503 from a node (full,
 * draining, ARI down, records not writable), or a node nothing answered at.
 */
function isRefusedBeforePlacing(err: unknown): boolean {
  if (err instanceof ServiceUnavailableError) return true;
  if (err instanceof NodeAnswerError) return err.status === 503;
  if (err instanceof NodeUnreachableError) return !err.isDelivered;
  return false;
}

function reasonOf(err: unknown): string {
  if (err instanceof ServiceUnavailableError || err instanceof NodeAnswerError) return err.code ?? err.message;
  return err instanceof Error ? err.message : String(err);
}
