import type { Server } from '@hapi/hapi';
import type { Logger } from 'pino';
import { AriConnection } from './ari/ari-connection';
import { AriEventRouter } from './ari/ari-event-router';
import { AriCallControl } from './ari/call-control';
import { createServer } from './api/server';
import type { CallSettings } from './call/call';
import { CallService } from './call/call-service';
import type { CallStore } from './store/call-store';
import { RecordWriter } from './store/record-writer';
import { CallEventBus, type CallEventSubscription } from './events/call-events';
import { GatewayMetrics } from './metrics/metrics';
import { IntegrationMetrics } from './metrics/integration-metrics';
import { CallerIdPolicy } from './policy/caller-id-policy';
import { DestinationPolicy } from './policy/destination-policy';
import { RateLimiter } from './policy/rate-limiter';
import { TransferDestinations } from './policy/transfer-destinations';
import { SqliteCallStore } from './store/sqlite-call-store';
import { hasWebhookOutbox, type WebhookOutbox } from './store/webhook-outbox';
import { WebhookAdmin } from './webhooks/webhook-admin';
import { WebhookDeliverer } from './webhooks/webhook-deliverer';
import { endedCallEvents, WebhookPublisher } from './webhooks/webhook-events';
import { CampaignRunner } from './campaign/campaign-runner';
import { CampaignService } from './campaign/campaign-service';
import { CampaignReporter } from './campaign/campaign-views';
import { CampaignsUnavailable } from './campaign/campaigns-unavailable';
import { hasCampaignStore } from './store/campaign-store';
import type { CampaignApi } from './model/campaign';
import { TELEPHONY_RATE_HZ } from './audio/frame';
import { ResamplerPool, WARM_AGENT_RATE_HZ } from './audio/resampler';
import { createLocalLinkOpener } from './media/local-link';
import { MediaClock } from './media/media-clock';
import type { MediaConfig } from './media/media-session';
import { MediaWorkerPool } from './media/worker/worker-pool';
import type { LinkOpener } from './media/conversation-link';
import type { Config } from './config';
import type { LogLevel } from './logger';
import { ClusterNode } from './cluster/cluster-node';

/** `stopped` before start; `closed` after stop or a failed start: its store and workers are gone, so it does not start again. */
export type AppPhase = 'stopped' | 'starting' | 'started' | 'stopping' | 'closed';

/** Overridable parts, for tests. */
export interface AppDeps {
  store?: CallStore;
  openLink?: LinkOpener;
}

/** How long the shutdown waits for pending record writes before giving up on them. */
const RECORD_FLUSH_TIMEOUT_MS = 5000;
/** How long the shutdown lets webhook requests in flight finish before aborting them (they are retried after the restart). */
const WEBHOOK_STOP_GRACE_MS = 2000;

/**
 * The composition root's product: one ARI connection, the call service and the HTTP API.
 * Starts in any order relative to Asterisk: the API comes up at once and `/health` says whether
 * ARI is connected; calls are refused with 503 until it is.
 */
export class App {
  readonly config: Config;
  readonly log: Logger;
  readonly ari: AriConnection;
  readonly router: AriEventRouter;
  readonly calls: CallService;
  readonly store: CallStore;
  readonly writer: RecordWriter;
  readonly events: CallEventBus;
  readonly metrics = new GatewayMetrics();
  readonly integrationMetrics = new IntegrationMetrics(this.metrics.registry);
  /** Present with DATABASE_URL: records in PostgreSQL and this gateway one node of a cluster (docs/cluster.md). */
  readonly cluster: ClusterNode | undefined;
  readonly #metricsSubscription: CallEventSubscription;
  readonly webhooks: WebhookPublisher;
  #resamplers: ResamplerPool | undefined;
  #mediaClock: MediaClock | undefined;
  #workers: MediaWorkerPool | undefined;
  #orphanSweep: NodeJS.Timeout | undefined;
  /** The orphan sweep under way, awaited by stop() before ARI closes. */
  #sweeping: Promise<void> | undefined;
  readonly #policy: DestinationPolicy;
  readonly #outbox: WebhookOutbox | undefined;
  readonly #deliverer: WebhookDeliverer | undefined;
  /** Campaigns, when the store keeps them. */
  readonly campaigns: CampaignService | undefined;
  readonly #campaignRunner: CampaignRunner | undefined;
  #server: Server | undefined;
  #phase: AppPhase = 'stopped';

  constructor(config: Config, log: Logger, deps: AppDeps = {}) {
    this.config = config;
    this.log = log;
    this.router = new AriEventRouter(log);
    this.ari = new AriConnection({
      url: config.ariUrl,
      username: config.ariUsername,
      password: config.ariPassword,
      app: config.ariApp,
      log: log.child({ component: 'ari' }),
    });
    this.webhooks = new WebhookPublisher({ destinations: config.webhookUrls });
    this.cluster =
      config.cluster === undefined
        ? undefined
        : new ClusterNode({
            nodeId: config.nodeId,
            config: config.cluster,
            maxConcurrentCalls: config.maxConcurrentCalls,
            attemptBudget: { burst: config.rateLimitBurst, perMinute: config.rateLimitPerMinute },
            log: log.child({ component: 'cluster' }),
            lostCallEvents: endedCallEvents(this.webhooks),
          });
    this.store =
      deps.store ??
      this.cluster?.store ??
      SqliteCallStore.open({ path: config.callDbPath, busyTimeoutMs: config.callDbBusyTimeoutMs, nodeId: config.nodeId });
    this.#outbox = hasWebhookOutbox(this.store) ? this.store.outbox : undefined;
    if (config.webhookUrls.length > 0 && this.#outbox === undefined) throw new Error('WEBHOOK_URLS is set but the call store keeps no webhook outbox');
    // Also without WEBHOOK_URLS: rows an earlier configuration left are dead-lettered, not kept forever.
    this.#deliverer =
      this.#outbox === undefined
        ? undefined
        : new WebhookDeliverer({
            outbox: this.#outbox,
            destinations: config.webhookUrls,
            secret: config.webhookSecret ?? '',
            timeoutMs: config.webhookTimeoutMs,
            maxAttempts: config.webhookMaxAttempts,
            retryMinMs: config.webhookRetryMinMs,
            retryMaxMs: config.webhookRetryMaxMs,
            concurrency: config.webhookConcurrency,
            log: log.child({ component: 'webhooks' }),
            observer: this.integrationMetrics,
            userAgent: 'voice-gateway/0.1.0',
          });
    this.writer = new RecordWriter({
      store: this.store,
      log: log.child({ component: 'store' }),
      onWriteError: () => this.metrics.storeError(),
      onOutboxWritten: () => this.#deliverer?.wake(),
    });
    this.events = new CallEventBus(log.child({ component: 'events' }));
    this.#metricsSubscription = this.metrics.observeBus(this.events);
    const control = new AriCallControl(() => this.ari.client, log.child({ component: 'ari' }), {
      url: config.ariUrl,
      username: config.ariUsername,
      password: config.ariPassword,
    });
    const callerIds = new CallerIdPolicy(config.callerIds);
    const policy = new DestinationPolicy({
      allowedPrefixes: config.allowedPrefixes,
      deniedPrefixes: config.deniedPrefixes,
      isDefaultDenyEnabled: config.isPremiumDenyEnabled,
    });
    this.#policy = policy;
    const assertAllowed = (phoneNumber: string, callerId?: string): void => {
      policy.assertAllowed(phoneNumber);
      callerIds.assertAllowed(callerId);
    };
    const settings: CallSettings = {
      ariApp: config.ariApp,
      trunkEndpoint: config.sipTrunkEndpoint,
      callerId: config.callerId,
      ringTimeoutS: config.ringTimeoutS,
      maxDurationS: config.maxCallDurationS,
      externalMediaFormat: config.externalMediaFormat,
      agentReadyTimeoutMs: config.agentConnectTimeoutMs,
      drainTimeoutMs: 15_000,
      ringingActivityIntervalMs: 4000,
      metricsLogIntervalMs: config.metricsLogIntervalMs,
      dtmfToAgent: config.dtmfToAgent,
      sendDtmfMaxDigits: config.sendDtmfMaxDigits,
      transfer: {
        destinations: new TransferDestinations(config.transferDestinations),
        maxAttempts: config.transferMaxAttempts,
        ringTimeoutS: config.transferRingTimeoutS,
        maxDurationS: config.transferMaxDurationS,
      },
      checkDestination: (n) => policy.check(n),
      releaseStepTimeoutMs: 3000,
      agentUserId: config.agentUserId,
      agentConnect: { mode: config.agentConnect, preconnectMaxMs: config.agentPreconnectMaxMs },
      nodeId: config.nodeId,
    };
    const openLink = deps.openLink ?? this.#mediaOpener(config, log);
    this.calls = new CallService({
      control,
      router: this.router,
      openLink,
      settings,
      store: this.store,
      writer: this.writer,
      log,
      isAriConnected: () => this.ari.isConnected,
      trunkState: () => control.endpointState('PJSIP', config.sipTrunkEndpoint),
      events: this.events,
      metrics: this.metrics,
      inbound: { isEnabled: config.isInboundEnabled, agents: config.inboundAgents },
      admission: {
        maxConcurrentCalls: config.maxConcurrentCalls,
        maxInboundCalls: config.maxInboundCalls,
        attemptLimiter: new RateLimiter({ burst: config.rateLimitBurst, perMinute: config.rateLimitPerMinute }),
        inboundLimiter: new RateLimiter({ burst: config.inboundRateLimitBurst, perMinute: config.inboundRateLimitPerMinute }),
      },
      integrationMetrics: this.integrationMetrics,
      webhooks: this.webhooks,
      destinationGuard: { assertAllowed },
    });
    this.cluster?.attach({
      calls: this.calls,
      events: this.events,
      assertAllowed,
      isAriConnected: () => this.ari.isConnected,
      isStoreHealthy: () => this.writer.isHealthy,
    });
    // A cluster runs no campaigns (src/campaign/campaigns-unavailable.ts says why).
    if (this.cluster === undefined && hasCampaignStore(this.store)) {
      const reporter = new CampaignReporter(this.events, this.webhooks);
      const wakeDeliverer = (): void => this.#deliverer?.wake();
      const campaignLog = log.child({ component: 'campaigns' });
      this.#campaignRunner = new CampaignRunner({
        store: this.store.campaigns,
        dialer: this.calls,
        bus: this.events,
        reporter,
        log: campaignLog,
        metrics: this.integrationMetrics,
        onOutboxWritten: wakeDeliverer,
      });
      this.campaigns = new CampaignService({
        store: this.store.campaigns,
        runner: this.#campaignRunner,
        reporter,
        destinationGuard: { assertAllowed },
        log: campaignLog,
        onOutboxWritten: wakeDeliverer,
      });
    }
    this.ari.on('event', (e) => this.router.dispatch(e));
    this.ari.on('connected', (isReconnect) => {
      if (isReconnect) this.metrics.ariReconnected();
      // Campaigns start dialling once calls can be placed (after the crash recovery of start()).
      if (this.#phase === 'started' || this.#phase === 'starting') this.#campaignRunner?.start();
      this.calls.reconcile().catch((err: unknown) => log.warn({ err }, 'reconcile after ARI connect failed'));
      // Taking calls now: the other nodes learn it at once, not at the next heartbeat.
      this.cluster?.beatNow().catch((err: unknown) => log.debug({ err }, 'heartbeat after ARI connect failed'));
    });
  }

  /**
   * Where the calls' media runs: MEDIA_WORKERS threads (each with its own resampler pool and media
   * clock), or this thread when it is 0 (docs/architecture.md#media-workers).
   */
  #mediaOpener(config: Config, log: Logger): LinkOpener {
    const agent = {
      apiUrl: config.elevenLabsApiUrl,
      apiKey: config.elevenLabsApiKey,
      defaultAgentId: config.elevenLabsAgentId,
      connectTimeoutMs: config.agentConnectTimeoutMs,
      mcpApproval: config.mcpApproval,
    };
    const media: MediaConfig = {
      externalMediaHost: config.externalMediaHost,
      externalMediaAdvertiseHost: config.externalMediaAdvertiseHost,
      externalMediaFormat: config.externalMediaFormat,
      rtpPortMin: config.rtpPortMin,
      rtpPortMax: config.rtpPortMax,
      audioChunkSizeMs: config.audioChunkSizeMs,
      resamplerConverter: config.resamplerConverter,
    };
    if (config.mediaWorkers === 0) {
      this.#resamplers = new ResamplerPool({ maxIdle: 2 * config.maxConcurrentCalls });
      // In the background, a turn of the event loop between engines; close() at stop ends it.
      this.#resamplers
        .warmForCalls(config.resamplerWarmCalls, TELEPHONY_RATE_HZ, WARM_AGENT_RATE_HZ, config.resamplerConverter)
        .catch((err: unknown) => log.warn({ err }, 'resampler warm-up failed; engines are made per call'));
      this.#mediaClock = new MediaClock();
      return createLocalLinkOpener({ agent, media: { config: media, pool: this.#resamplers, mediaClock: this.#mediaClock, log: log.child({ component: 'media' }) }, log: log.child({ component: 'agent' }) });
    }
    this.#workers = new MediaWorkerPool({
      workers: config.mediaWorkers,
      setup: {
        agent,
        media,
        logLevel: log.level as LogLevel | 'silent',
        // Two resamplers per call, calls spread over the workers.
        resamplerMaxIdle: Math.ceil((2 * config.maxConcurrentCalls) / config.mediaWorkers),
        resamplerWarmCalls: Math.ceil(config.resamplerWarmCalls / config.mediaWorkers),
        statsIntervalMs: 250,
      },
      log: log.child({ component: 'media' }),
    });
    return this.#workers.open;
  }

  /** The media worker threads (absent with MEDIA_WORKERS=0), e.g. for fault drills. */
  get mediaWorkers(): MediaWorkerPool | undefined {
    return this.#workers;
  }

  get phase(): AppPhase {
    return this.#phase;
  }

  /** The HTTP server (after start), e.g. for `server.info.uri`. */
  get server(): Server {
    if (!this.#server) throw new Error('app not started');
    return this.#server;
  }

  /**
   * Starts everything. A start that fails half-way (the store, the port, a cluster's database)
   * releases what it had started, as stop() does, and rejects; the App is closed then.
   */
  async start(): Promise<void> {
    if (this.#phase !== 'stopped') throw new Error(`cannot start from phase ${this.#phase}${this.#phase === 'closed' ? ': a stopped App does not start again' : ''}`);
    this.#phase = 'starting';
    try {
      await this.#startParts();
    } catch (err) {
      this.log.error({ err }, 'voice gateway failed to start; releasing what it started');
      await this.#shutdown(0).catch((releaseErr: unknown) => this.log.error({ err: releaseErr }, 'release after a failed start failed'));
      throw err;
    }
    this.#phase = 'started';
    this.log.info({ uri: this.#server!.info.uri }, 'voice gateway started');
  }

  async #startParts(): Promise<void> {
    // Calls a crash left in flight are over; their records say so before anything else runs.
    const stale = await this.store.markInFlightAsFailed('gateway restarted while the call was in progress', endedCallEvents(this.webhooks));
    if (stale.length > 0) this.log.warn({ count: stale.length }, 'in-flight calls from a previous run marked failed');
    const c = this.config;
    this.#server = await createServer({
      host: c.apiHost,
      port: c.apiPort,
      calls: this.cluster?.api ?? this.calls,
      log: this.log.child({ component: 'api' }),
      version: '0.1.0',
      publicHosts: c.apiPublicHosts,
      apiTokens: c.apiTokens,
      metricsToken: c.metricsToken,
      metrics: this.metrics,
      events: this.cluster?.events ?? this.events,
      eventStreamsMax: c.eventStreamsMax,
      eventStreamsPerTokenMax: c.eventStreamsPerTokenMax,
      webhooks:
        this.#outbox === undefined
          ? undefined
          : new WebhookAdmin({ outbox: this.#outbox, destinations: c.webhookUrls, onRedeliver: () => this.#deliverer?.wake() }),
      campaigns: this.#campaignApi(),
    });
    if (this.cluster !== undefined) this.#server.route(this.cluster.routes);
    await this.#server.start();
    this.#deliverer?.start();
    await this.cluster?.start(this.#server.info.uri);
    this.#warnAboutReach();
    this.ari.start();
    this.#startOrphanSweep();
  }

  /**
   * A release that failed in a call's teardown (an ARI request that timed out under load) leaves an
   * ExternalMedia channel or bridge in Asterisk for ever: sweep them while ARI is up
   * (src/call/reconcile.ts). One sweep at a time; a failed one is logged and the next tries again.
   */
  #startOrphanSweep(): void {
    const everyMs = this.config.orphanSweepIntervalMs;
    if (everyMs === 0) return;
    this.#orphanSweep = setInterval(() => {
      if (this.#sweeping !== undefined || !this.ari.isConnected) return;
      this.#sweeping = this.calls
        .sweepOrphans()
        .catch((err: unknown) => this.log.warn({ err }, 'orphan sweep failed'))
        .finally(() => (this.#sweeping = undefined));
    }, everyMs);
    this.#orphanSweep.unref();
  }

  /** What /api/campaigns serves: the campaigns, or, on a node of a cluster, a clear refusal. */
  #campaignApi(): CampaignApi | undefined {
    if (this.cluster === undefined) return this.campaigns;
    this.log.warn({ docs: 'docs/cluster.md#campaigns' }, `campaigns are off: ${CampaignsUnavailable.reason}; /api/campaigns answers 501 CAMPAIGNS_NOT_IN_CLUSTER`);
    return new CampaignsUnavailable();
  }

  /** A paid trunk with no country limit is one stolen token away from a fraud bill: say so at start. */
  #warnAboutReach(): void {
    const c = this.config;
    if (c.allowedPrefixes.length === 0) {
      this.log.warn(
        { deniedRanges: this.#policy.deniedPrefixes.length },
        'ALLOWED_PREFIXES is empty: every country is reachable but for the denied ranges; set it to the countries you call (e.g. +7)',
      );
    }
    if (!c.isPremiumDenyEnabled) this.log.warn('DENY_PREMIUM_PREFIXES is off: the built-in high-risk destination list is not applied');
  }

  /**
   * Stops in order: refuse new calls, let live calls end (up to `graceMs`), hang up the rest, stop
   * the HTTP server, close ARI, write the last records, then release resamplers and the store.
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    // Never started: its media workers and store (made with the App) are released all the same.
    if (this.#phase !== 'started' && this.#phase !== 'stopped') return;
    await this.#shutdown(graceMs);
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#phase = 'stopping';
    clearInterval(this.#orphanSweep);
    await this.#sweeping;
    // Campaigns dial no more; then new calls get 503 at once (in a cluster: go to the other
    // nodes), and the API stays up during the grace period so their progress can be read.
    await this.#campaignRunner?.stop();
    await this.cluster?.drain();
    const left = await this.calls.stop(graceMs);
    if (left > 0) this.log.warn({ left }, 'calls still ending at shutdown deadline');
    await this.#server?.stop({ timeout: 2000 });
    await this.cluster?.stop();
    await this.ari.stop();
    await this.#campaignRunner?.close();
    const unwritten = await this.writer.flush(RECORD_FLUSH_TIMEOUT_MS);
    if (unwritten > 0) this.log.error({ unwritten }, 'call records not written at shutdown (the store is failing)');
    this.writer.close();
    // What is not delivered stays in the outbox for the next start; requests in flight get a moment.
    await this.#deliverer?.stop(WEBHOOK_STOP_GRACE_MS);
    await this.#workers?.stop();
    this.#mediaClock?.stop();
    this.#resamplers?.close();
    this.#metricsSubscription.cancel();
    await this.store.close();
    this.#phase = 'closed';
    this.log.info('voice gateway stopped');
  }
}
