/**
 * This gateway as a node of a cluster (docs/cluster.md): what DATABASE_URL switches on. It owns the
 * PostgreSQL store, the heartbeat, the cluster-wide limits, the event relay, the internal routes,
 * the SIP probe answer, and the recording of lost nodes' calls. The App builds it before the call
 * service (the store), attaches it to the service and the bus, and starts it once the API listens.
 *
 *   create() → attach() → start(apiUri) → [drain()] → stop()
 */
import type { ServerRoute } from '@hapi/hapi';
import type { Logger } from 'pino';
import { CallEventBus, endedEventOf, type CallEventSubscription } from '../events/call-events';
import type { CallApi } from '../model/call-api';
import type { RecoveredCallEvents } from '../store/call-store';
import { PostgresCallStore } from '../store/postgres-call-store';
import { ClusterAttemptLimiter, ClusterCapacity } from './cluster-limits';
import { ClusterCallApi, type LocalCalls } from './cluster-call-api';
import { EventRelay } from './event-relay';
import { internalRoutes } from './internal-routes';
import { NodeClient } from './node-client';
import { NodeRegistry } from './node-registry';
import { SipProbeResponder } from './sip-probe';

/** `end_reason` of calls a node was carrying when it stopped heartbeating. */
export const NODE_LOST_END_REASON = 'node-lost';

/** The cluster's settings (src/config.ts `ClusterConfig` has this shape). */
export interface ClusterSettings {
  /** postgres://… (a secret: never logged). */
  readonly databaseUrl: string;
  readonly token: string;
  readonly apiUrl: string | undefined;
  readonly maxConcurrentCalls: number | undefined;
  readonly heartbeatMs: number;
  readonly nodeTimeoutMs: number;
  readonly probe: { readonly host: string; readonly port: number } | undefined;
}

export interface ClusterNodeOptions {
  nodeId: string;
  config: ClusterSettings;
  /** MAX_CONCURRENT_CALLS of this node. */
  maxConcurrentCalls: number;
  /** RATE_LIMIT_BURST / RATE_LIMIT_PER_MINUTE, now for the whole cluster. */
  attemptBudget: { burst: number; perMinute: number };
  log: Logger;
  /** The webhook rows reporting a lost node's call as ended, written with its record (none: no webhooks). */
  lostCallEvents?: RecoveredCallEvents;
}

/** What the node reads of the rest of the gateway. */
export interface ClusterAttachment {
  calls: LocalCalls & { readonly legCounts: { readonly total: number }; readonly isAccepting: boolean };
  /** This process's event bus (what its calls publish). */
  events: CallEventBus;
  assertAllowed: (phoneNumber: string, callerId?: string) => void;
  isAriConnected: () => boolean;
  isStoreHealthy: () => boolean;
}

interface Attached {
  readonly a: ClusterAttachment;
  readonly api: ClusterCallApi;
  readonly relay: EventRelay;
}

export class ClusterNode {
  readonly store: PostgresCallStore;
  /** The bus the event stream reads: every node's events. */
  readonly events: CallEventBus;
  readonly #o: ClusterNodeOptions;
  readonly #registry: NodeRegistry;
  readonly #client: NodeClient;
  #attached: Attached | undefined;
  #probe: SipProbeResponder | undefined;
  #apiUrl = '';
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #isBeatWanted = false;
  #lastBeatOkMs = 0;
  #isDraining = false;
  #isStopped = false;
  #clusterUsed = 0;
  #localSubscription: CallEventSubscription | undefined;

  constructor(options: ClusterNodeOptions) {
    this.#o = options;
    this.store = PostgresCallStore.open({ url: options.config.databaseUrl, nodeId: options.nodeId, log: options.log.child({ component: 'store' }) });
    this.events = new CallEventBus(options.log.child({ component: 'cluster-events' }));
    this.#registry = new NodeRegistry(this.store.pool, options.config.nodeTimeoutMs);
    this.#client = new NodeClient({ token: options.config.token });
  }

  /** Wires the node to this process's call service and bus. Once, before start(). */
  attach(a: ClusterAttachment): void {
    const o = this.#o;
    const pool = this.store.pool;
    const capacity = o.config.maxConcurrentCalls === undefined ? undefined : new ClusterCapacity(pool, o.config.maxConcurrentCalls, o.config.nodeTimeoutMs);
    const api = new ClusterCallApi({
      nodeId: o.nodeId,
      local: a.calls,
      registry: this.#registry,
      client: this.#client,
      attempts: new ClusterAttemptLimiter(pool, o.attemptBudget),
      capacity,
      assertAllowed: a.assertAllowed,
      afterLocalChange: () => this.beatNow(),
      log: o.log,
    });
    const relay = new EventRelay({ nodeId: o.nodeId, pool, databaseUrl: o.config.databaseUrl, local: a.events, cluster: this.events, log: o.log.child({ component: 'cluster-events' }) });
    this.#attached = { a, api, relay };
  }

  /** The CallApi the REST API serves. */
  get api(): CallApi {
    return this.#need().api;
  }

  /** The internal routes other nodes call. */
  get routes(): ServerRoute[] {
    const { api, a } = this.#need();
    return internalRoutes({ placeHere: (request, requesterId) => api.placeHere(request, requesterId), local: a.calls }, this.#o.config.token);
  }

  /** True while this node should get new calls (what its SIP probe answers). */
  get isAvailable(): boolean {
    const attached = this.#attached;
    if (attached === undefined || this.#isDraining || this.#isStopped) return false;
    const { a } = attached;
    const isBeating = Date.now() - this.#lastBeatOkMs <= this.#o.config.nodeTimeoutMs;
    const isClusterFull = this.#o.config.maxConcurrentCalls !== undefined && this.#clusterUsed >= this.#o.config.maxConcurrentCalls;
    return a.calls.isAccepting && a.isAriConnected() && a.isStoreHealthy() && isBeating && a.calls.legCounts.total < this.#o.maxConcurrentCalls && !isClusterFull;
  }

  /**
   * Joins the cluster: migrates the schema, writes the first heartbeat, relays events, answers
   * probes. `apiUri` is where the API listens (CLUSTER_API_URL overrides it for the others).
   */
  async start(apiUri: string): Promise<void> {
    const { a, relay } = this.#need();
    this.#apiUrl = this.#o.config.apiUrl ?? apiUri;
    await this.store.ready();
    await relay.start();
    // A call starting or ending changes this node's load: tell the others now, not at the next beat.
    this.#localSubscription = a.events.subscribe((e) => {
      if (e.type === 'dialing' || e.type === 'ended') this.beatNow().catch(() => undefined); // logged in #beat
    });
    await this.beatNow();
    const probe = this.#o.config.probe;
    if (probe !== undefined) {
      this.#probe = new SipProbeResponder({ host: probe.host, port: probe.port, isAvailable: () => this.isAvailable, log: this.#o.log });
      await this.#probe.start();
    }
    this.#schedule();
    this.#o.log.info({ nodeId: this.#o.nodeId, apiUrl: this.#apiUrl, probe: probe === undefined ? null : `${probe.host}:${probe.port}` }, 'joined the cluster');
  }

  /** SIGTERM: new calls go to other nodes from now on (heartbeat and probe say so at once). */
  async drain(): Promise<void> {
    this.#isDraining = true;
    await this.beatNow().catch(() => undefined); // logged in #beat; the next beat retries
  }

  /** Leaves the cluster (its row is deleted: no timeout to wait for) and releases everything but the store. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    clearTimeout(this.#timer);
    this.#localSubscription?.cancel();
    await this.#beating;
    await this.#probe?.stop();
    await this.#attached?.relay.stop();
    await this.#registry.leave(this.#o.nodeId).catch((err: unknown) => this.#o.log.warn({ err }, 'could not leave the cluster; the others drop this node after CLUSTER_NODE_TIMEOUT_MS'));
  }

  /** Writes the heartbeat now (coalesced with one already running). */
  beatNow(): Promise<void> {
    if (this.#isStopped || this.#attached === undefined) return Promise.resolve();
    if (this.#beating !== undefined) {
      this.#isBeatWanted = true;
      return this.#beating;
    }
    this.#beating = this.#beat().finally(() => {
      this.#beating = undefined;
      if (this.#isBeatWanted) {
        this.#isBeatWanted = false;
        this.beatNow().catch(() => undefined); // logged in #beat
      }
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const { a } = this.#need();
    const isAccepting = a.calls.isAccepting && !this.#isDraining && a.isAriConnected() && a.isStoreHealthy();
    try {
      await this.#registry.beat({
        nodeId: this.#o.nodeId,
        apiUrl: this.#apiUrl,
        maxCalls: this.#o.maxConcurrentCalls,
        activeCalls: a.calls.legCounts.total,
        isAccepting,
        isDraining: this.#isDraining || !a.calls.isAccepting,
      });
      this.#lastBeatOkMs = Date.now();
    } catch (err) {
      this.#o.log.warn({ err }, 'heartbeat not written');
    }
  }

  #schedule(): void {
    if (this.#isStopped) return;
    this.#timer = setTimeout(() => {
      this.#tick()
        .catch((err: unknown) => this.#o.log.warn({ err }, 'cluster maintenance failed'))
        .finally(() => this.#schedule());
    }, this.#o.config.heartbeatMs);
  }

  /** Each heartbeat: the beat itself, the cluster's load (for the probe), and calls of nodes that are gone. */
  async #tick(): Promise<void> {
    await this.beatNow();
    const nodes = await this.#registry.list();
    this.#clusterUsed = nodes.filter((n) => n.isLive).reduce((sum, n) => sum + n.activeCalls, 0);
    for (const node of nodes.filter((n) => !n.isLive && n.nodeId !== this.#o.nodeId)) await this.#recordLost(node.nodeId, node.lastSeenAgoMs);
  }

  /** A node stopped heartbeating: its calls died with it. Records them as such and tells every dashboard. */
  async #recordLost(nodeId: string, silentMs: number): Promise<void> {
    const reason = `node ${nodeId} stopped heartbeating ${Math.round(silentMs / 1000)} s ago; its calls ended with it`;
    const ended = await this.store.markNodeInFlightAsFailed(nodeId, reason, NODE_LOST_END_REASON, this.#o.lostCallEvents);
    if (ended.length === 0) return;
    this.#o.log.warn({ node: nodeId, calls: ended.length }, 'calls of a lost node recorded as failed');
    for (const record of ended) this.#attached?.relay.publishForeign(endedEventOf(record));
  }

  #need(): Attached {
    if (this.#attached === undefined) throw new Error('cluster node not attached');
    return this.#attached;
  }
}
