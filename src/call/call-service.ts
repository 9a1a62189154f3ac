import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { StasisStartEvent } from '../ari/ari-events';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import { BridgeError, CallNotFoundError, ServiceUnavailableError } from '../errors';
import { Call, type CallOrigin, type CallSettings } from './call';
import { recordingName } from './ari-ids';
import { CallRegistry } from './call-registry';
import type { CallStore } from './call-store';
import type { CallApi, CallView, StartCallRequest, TrunkHealth } from './call-view';
import type { CallListPage, CallListQuery } from './call-record';
import type { CallEventBus } from '../events/call-events';
import { publishCallEvents } from '../events/publish-call-events';
import type { GatewayMetrics } from '../metrics/metrics';
import type { AgentConnector, MediaSessionFactory } from './ports';
import { withTimeout } from '../lifecycle/timers';

/** GET /health must answer even when Asterisk hangs: the trunk state is `unknown` after this. */
const TRUNK_STATE_TIMEOUT_MS = 1000;

export interface CallServiceDeps {
  control: CallControl;
  router: AriEventRouter;
  connectAgent: AgentConnector;
  createMedia: MediaSessionFactory;
  settings: CallSettings;
  store: CallStore;
  log: Logger;
  isAriConnected: () => boolean;
  /** ARI state of the trunk endpoint (GET /ari/endpoints/PJSIP/<trunk>); absent: not reported. */
  trunkState?: () => Promise<string>;
  events: CallEventBus;
  metrics: GatewayMetrics;
  /** Calls arriving on the trunk: taken or refused, and which agent answers each dialled number. */
  inbound: { isEnabled: boolean; agents: Readonly<Record<string, string>> };
}

/** The use-cases behind the REST API and ARI: place, inspect and end calls; recover after faults. */
export class CallService implements CallApi {
  readonly #deps: CallServiceDeps;
  readonly #registry = new CallRegistry();
  #isAccepting = true;

  constructor(deps: CallServiceDeps) {
    this.#deps = deps;
    deps.router.onUnclaimedStasisStart((e) => void this.#onUnclaimedStasisStart(e));
  }

  get activeCalls(): number {
    return this.#registry.size;
  }

  /** Live call objects, for event streams and the demo. */
  liveCall(id: string): Call | undefined {
    return this.#registry.get(id);
  }

  async startCall(request: StartCallRequest): Promise<CallView> {
    if (!this.#isAccepting) throw new ServiceUnavailableError('SHUTTING_DOWN', 'the service is shutting down');
    if (!this.#deps.isAriConnected()) throw new ServiceUnavailableError('ARI_UNAVAILABLE', 'Asterisk (ARI) is not connected');
    const call = this.#track(new Call(randomUUID(), request, { ...this.#deps }));
    await call.start();
    return call.view();
  }

  /** The stored recording of a call (wav, streamed), or undefined when it has none. Throws CallNotFoundError. */
  async getRecording(id: string): Promise<Readable | undefined> {
    const view = this.getCall(id);
    if (!view.recording_url) return undefined;
    return this.#deps.control.downloadRecording(recordingName(id));
  }

  /** Wires a new call to the store, the event bus and the metrics, and registers it as live. */
  #track(call: Call): Call {
    const { events, metrics } = this.#deps;
    const save = (): void => this.#deps.store.save(call.view());
    call.on('status', save);
    call.on('transcript', save);
    call.on('agentConnected', (ms) => metrics.observeAgentConnectMs(ms));
    call.on('firstAudio', (ms) => metrics.observeAnswerToFirstAudioMs(ms));
    call.on('interruption', () => events.publish({ type: 'interruption', call_id: call.id, at: new Date().toISOString() }));
    call.on('metrics', (m) => events.publish({ type: 'metrics', call_id: call.id, at: new Date().toISOString(), metrics: m }));
    call.once('ended', () => {
      const issues = call.playoutIssues();
      metrics.frameIssues('late', issues.lateFrames);
      metrics.frameIssues('dropped', issues.droppedFrames);
    });
    const now = (): string => new Date().toISOString();
    call.on('dtmf', (digit) => events.publish({ type: 'dtmf', call_id: call.id, at: now(), digit }));
    call.on('amd', (result, cause) => {
      events.publish({ type: 'amd', call_id: call.id, at: now(), result, cause });
      save();
    });
    call.on('transferred', (to) => {
      events.publish({ type: 'transferred', call_id: call.id, at: now(), to });
      save();
    });
    publishCallEvents(call, events);
    this.#registry.add(call);
    save();
    return call;
  }

  getCall(id: string): CallView {
    const stored = this.#deps.store.get(id);
    const live = this.#registry.get(id)?.view();
    // The live view is fresher; the stored record adds the status history.
    const view = live ? { ...stored, ...live } : stored;
    if (!view) throw new CallNotFoundError(id);
    return view;
  }

  listCalls(query: CallListQuery): CallListPage {
    return this.#deps.store.list(query);
  }

  async hangupCall(id: string): Promise<CallView> {
    const call = this.#registry.get(id);
    if (call) {
      await call.end('api');
      return call.view();
    }
    return this.getCall(id);
  }

  health(): { ari: 'connected' | 'disconnected'; activeCalls: number; isAccepting: boolean } {
    return { ari: this.#deps.isAriConnected() ? 'connected' : 'disconnected', activeCalls: this.#registry.size, isAccepting: this.#isAccepting };
  }

  async trunkHealth(): Promise<TrunkHealth> {
    const { settings, trunkState, log } = this.#deps;
    const endpoint = settings.trunkEndpoint;
    if (!trunkState || !this.#deps.isAriConnected()) return { endpoint, state: 'unknown' };
    try {
      const state = await withTimeout(trunkState(), TRUNK_STATE_TIMEOUT_MS, () => new BridgeError('ARI_TIMEOUT', 'ARI did not report the trunk state in time'));
      return { endpoint, state: state === 'online' || state === 'offline' ? state : 'unknown' };
    } catch (err) {
      log.debug({ err }, 'trunk state unavailable');
      return { endpoint, state: 'unknown' };
    }
  }

  /**
   * After (re)connecting to ARI: end calls whose channels Asterisk no longer has (it restarted),
   * and remove our channels and bridges that no live call owns (we crashed or restarted).
   */
  async reconcile(): Promise<void> {
    const { control, log } = this.#deps;
    // Only a call whose leg existed before the listing can be missing from it: one placed while
    // the listing runs (right after the reconnect) is not in it yet.
    const placed = this.#registry.all().filter((c) => c.hasChannel);
    const [channels, bridges] = await Promise.all([control.listChannels(), control.listBridges()]);
    const live = new Set(this.#registry.all().map((c) => c.id));
    const present = new Set(channels.map((c) => c.id));
    for (const call of placed) {
      if (!present.has(call.channelId) && call.state !== 'ended') {
        log.warn({ callId: call.id }, 'call leg gone after ARI reconnect');
        void call.end('error', new BridgeError('ARI_CHANNEL_GONE', 'the call leg was gone when ARI reconnected (Asterisk restarted?)'));
      }
    }
    const owner = (id: string): string | undefined => /^vg-(?:em-|br-|tr-)?(.+)$/.exec(id)?.[1];
    const liveChannels = new Set(this.#registry.all().map((c) => c.channelId));
    // Inbound legs keep Asterisk's channel id; they are ours when they sit in our Stasis app.
    const isOurInbound = (ch: (typeof channels)[number]): boolean =>
      ch.dialplan?.app_name === 'Stasis' && (ch.dialplan.app_data ?? '').startsWith(`${this.#deps.settings.ariApp},inbound`);
    for (const ch of channels) {
      const callId = owner(ch.id);
      const isOrphan = callId ? !live.has(callId) : isOurInbound(ch) && !liveChannels.has(ch.id);
      if (isOrphan) {
        log.warn({ channelId: ch.id }, 'hanging up orphaned channel');
        await control.hangup(ch.id).catch((err: unknown) => log.warn({ err, channelId: ch.id }, 'orphan hangup failed'));
      }
    }
    for (const br of bridges) {
      const callId = owner(br.id);
      if (callId && !live.has(callId)) {
        log.warn({ bridgeId: br.id }, 'destroying orphaned bridge');
        await control.destroyBridge(br.id).catch((err: unknown) => log.warn({ err, bridgeId: br.id }, 'orphan bridge destroy failed'));
      }
    }
  }

  /** False once `stop()` began: new calls get 503 and `/health` reports it. */
  get isAccepting(): boolean {
    return this.#isAccepting;
  }

  /**
   * Graceful stop: refuses new calls, lets live calls end by themselves for up to `graceMs`, then
   * hangs up the rest. Resolves to the number of calls whose teardown was still running after that.
   */
  async stop(graceMs: number): Promise<number> {
    this.#isAccepting = false;
    if (this.#registry.size > 0) {
      this.#deps.log.info({ activeCalls: this.#registry.size, graceMs }, 'waiting for live calls to end');
      await this.#registry.waitEmpty(graceMs);
    }
    return this.#registry.drain('shutdown', 10_000);
  }

  async #onUnclaimedStasisStart(event: StasisStartEvent): Promise<void> {
    const { control, log, inbound } = this.#deps;
    const [kind, dialed = ''] = event.args;
    const refuse = async (why: string, reason: 'rejected' | 'busy' | 'congestion'): Promise<void> => {
      log.warn({ channelId: event.channel.id, args: event.args, why }, 'refusing channel');
      await control.hangup(event.channel.id, reason).catch((err: unknown) => log.warn({ err }, 'hangup of refused channel failed'));
    };
    if (kind !== 'inbound') return refuse('not a call of ours (stale or foreign channel)', 'rejected');
    if (!inbound.isEnabled) return refuse('inbound calls are disabled (INBOUND_ENABLED=false)', 'rejected');
    if (!this.#isAccepting || !this.#deps.isAriConnected()) return refuse('shutting down', 'congestion');
    const did = dialed.replace(/^\+/, '');
    const caller = event.channel.caller?.number ?? '';
    const request: StartCallRequest = { phoneNumber: caller === '' ? 'anonymous' : caller };
    const agentId = inbound.agents[did];
    if (agentId) request.agentId = agentId;
    const origin: CallOrigin = { direction: 'inbound', channelId: event.channel.id, dialedNumber: did };
    const call = this.#track(new Call(randomUUID(), request, { ...this.#deps }, origin));
    log.info({ callId: call.id, did, agentId: agentId ?? 'default' }, 'inbound call');
    await call.accept();
  }
}
