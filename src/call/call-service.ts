import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { StasisStartEvent } from '../ari/ari-events';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import { BridgeError, CallNotFoundError, storeUnavailable, type ServiceUnavailableError } from '../errors';
import { withTimeout } from '../lifecycle/timers';
import type { LinkOpener } from '../media/conversation-link';
import type { CallApi, CallRequester, ServiceHealth } from '../model/call-api';
import type { CallListPage, CallListQuery, CallRecord } from '../model/call-record';
import type { CallView, StartCallRequest, TrunkHealth } from '../model/call-view';
import { heardEventOf, type CallEventBus } from '../events/call-events';
import { publishCallEvents } from '../events/publish-call-events';
import type { GatewayMetrics } from '../metrics/metrics';
import type { IntegrationMetrics } from '../metrics/integration-metrics';
import type { RecordWriter } from '../store/record-writer';
import type { CallStore } from '../store/call-store';
import { callOrderKey, type WebhookPublisher } from '../webhooks/webhook-events';
import { Admission, isInboundRefusal, type AdmissionOptions, type AdmissionTicket, type InboundRefusal } from './admission';
import { recordingName } from './ari-ids';
import { Call, type CallOrigin, type CallSettings } from './call';
import { CallFacts } from './call-facts';
import { CallRegistry } from './call-registry';
import { reconcileAsterisk, sweepOrphans } from './reconcile';

/** GET /health must answer even when Asterisk hangs: the trunk state is `unknown` after this. */
const TRUNK_STATE_TIMEOUT_MS = 1000;

/** The destination policy as the service uses it (src/policy/destination-policy.ts). */
export interface DestinationGuard {
  /** Throws PolicyError (403) naming the refused field. */
  assertAllowed(phoneNumber: string, callerId?: string): void;
}

export interface CallServiceDeps {
  control: CallControl;
  router: AriEventRouter;
  openLink: LinkOpener;
  settings: CallSettings;
  store: CallStore;
  writer: RecordWriter;
  log: Logger;
  isAriConnected: () => boolean;
  /** ARI state of the trunk endpoint (GET /ari/endpoints/PJSIP/<trunk>); absent: not reported. */
  trunkState?: () => Promise<string>;
  events: CallEventBus;
  metrics: GatewayMetrics;
  /** Calls arriving on the trunk: taken or refused, and which agent answers each dialled number. */
  inbound: { isEnabled: boolean; agents: Readonly<Record<string, string>> };
  /** Capacity and rate limits of every leg (src/call/admission.ts). */
  admission: Omit<AdmissionOptions, 'isAccepting'>;
  /** Checked for every API call request (after the attempt is charged). */
  destinationGuard?: DestinationGuard;
  /** Agent signals, webhooks and campaigns (src/metrics/integration-metrics.ts). */
  integrationMetrics?: IntegrationMetrics;
  /** Webhook events of calls (`call.status`, `call.ended`), written with the record changes they report. */
  webhooks?: WebhookPublisher;
}

/**
 * The use-cases behind the REST API and ARI: place, inspect and end calls; admit or refuse every
 * new leg at one point; recover after faults. Records go through the write-behind writer: a store
 * that fails refuses new calls (503 STORE_UNAVAILABLE) and never ends a live one.
 */
export class CallService implements CallApi {
  readonly #deps: CallServiceDeps;
  readonly #registry = new CallRegistry();
  readonly #admission: Admission;
  #isAccepting = true;

  constructor(deps: CallServiceDeps) {
    this.#deps = deps;
    this.#admission = new Admission({
      ...deps.admission,
      isAccepting: () => {
        if (!this.#isAccepting) return { ok: false, code: 'SHUTTING_DOWN', message: 'the service is shutting down' };
        if (!deps.isAriConnected()) return { ok: false, code: 'ARI_UNAVAILABLE', message: 'Asterisk (ARI) is not connected' };
        return { ok: true };
      },
    });
    deps.router.onUnclaimedStasisStart((e) => {
      this.#onUnclaimedStasisStart(e).catch((err: unknown) => deps.log.error({ err, channelId: e.channel.id }, 'inbound call handling failed'));
    });
  }

  get activeCalls(): number {
    return this.#registry.size;
  }

  /** Legs held by admission now (calls and transfer legs). */
  get legCounts(): Admission['counts'] {
    return this.#admission.counts;
  }

  /** Live call objects, for event streams and the demo. */
  liveCall(id: string): Call | undefined {
    return this.#registry.get(id);
  }

  async startCall(request: StartCallRequest, requester: CallRequester): Promise<CallView> {
    let ticket: AdmissionTicket;
    let call: Call;
    try {
      // Charged first: a policy refusal costs an attempt (probing costs the prober); a malformed
      // request never reaches this point (the API answers 400 before).
      if (requester.isAttemptCharged !== true) this.#admission.chargeAttempt(requester.id);
      this.#deps.destinationGuard?.assertAllowed(request.phoneNumber, request.callerId);
      ticket = this.#admission.reserve('outbound');
      call = this.#newCall(request, { direction: 'outbound' }, requester.id);
    } catch (err) {
      this.#deps.metrics.callRefused('outbound', refusalReason(err));
      throw err;
    }
    try {
      await this.#deps.writer.insert(call.summary(), this.#statusEvent(call.summary()));
    } catch (err) {
      ticket.release();
      this.#deps.metrics.callRefused('outbound', 'store-unavailable');
      throw recordsUnavailable(err);
    }
    this.#track(call, ticket);
    await call.start();
    return call.view();
  }

  /** The stored recording of a call (wav, streamed), or undefined when it has none. Throws CallNotFoundError. */
  async getRecording(id: string): Promise<Readable | undefined> {
    const view = await this.getCall(id);
    if (!view.recording_url) return undefined;
    return this.#deps.control.downloadRecording(recordingName(id));
  }

  async getCall(id: string): Promise<CallRecord> {
    const live = this.#registry.get(id);
    if (live !== undefined) return live.view();
    // An ended call whose last writes wait for the store: what is pending is the freshest.
    const pending = this.#deps.writer.pendingOf(id);
    let stored: CallRecord | undefined;
    try {
      stored = await this.#deps.store.get(id);
    } catch (err) {
      if (pending.summary === undefined) throw recordsUnavailable(err);
    }
    if (stored === undefined && pending.summary === undefined) throw new CallNotFoundError(id);
    const transcript = [...(stored?.transcript ?? [])];
    for (const line of pending.lines) if (line.seq <= transcript.length) transcript[line.seq] = line.entry;
    return { ...(stored ?? {}), ...(pending.summary ?? {}), transcript } as CallRecord;
  }

  async listCalls(query: CallListQuery): Promise<CallListPage> {
    try {
      return await this.#deps.store.list(query);
    } catch (err) {
      if (err instanceof RangeError) throw err;
      throw recordsUnavailable(err);
    }
  }

  async hangupCall(id: string): Promise<CallView> {
    const call = this.#registry.get(id);
    if (call) {
      await call.end('api');
      return call.view();
    }
    return this.getCall(id);
  }

  health(): ServiceHealth {
    return {
      ari: this.#deps.isAriConnected() ? 'connected' : 'disconnected',
      activeCalls: this.#registry.size,
      isAccepting: this.#isAccepting,
      store: this.#deps.writer.isHealthy ? 'ok' : 'failing',
    };
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
  reconcile(): Promise<void> {
    return reconcileAsterisk(this.#reconcileOptions());
  }

  /** While ARI is up (ORPHAN_SWEEP_INTERVAL_S): remove our channels and bridges no live call owns. */
  sweepOrphans(): Promise<void> {
    return sweepOrphans(this.#reconcileOptions());
  }

  #reconcileOptions(): Parameters<typeof reconcileAsterisk>[0] {
    return { control: this.#deps.control, log: this.#deps.log, app: this.#deps.settings.ariApp, calls: () => this.#registry.all() };
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

  #newCall(request: StartCallRequest, origin: CallOrigin, requester: string): Call {
    return new Call(request.callId ?? randomUUID(), request, {
      control: this.#deps.control,
      router: this.#deps.router,
      openLink: this.#deps.openLink,
      settings: this.#deps.settings,
      log: this.#deps.log,
      // A transfer is a new leg: it takes a place and costs an attempt of whoever placed the call.
      admitTransferLeg: () => {
        this.#admission.chargeAttempt(requester);
        return this.#admission.reserve('transfer');
      },
    }, origin);
  }

  /** Wires a new call to the writer, the event bus and the metrics, and registers it as live. */
  #track(call: Call, ticket: AdmissionTicket): void {
    const { events, metrics, writer } = this.#deps;
    const save = (): void => writer.update(call.summary());
    const now = (): string => new Date().toISOString();
    call.on('status', () => {
      const summary = call.summary();
      writer.update(summary, this.#statusEvent(summary));
    });
    call.on('transcript', (entry, seq) => writer.append(call.id, seq, entry));
    call.on('lineUpdated', (entry, seq) => {
      writer.replaceLine(call.id, seq, entry);
      if (entry.heard !== undefined) events.publish(heardEventOf(call.id, seq, entry, entry.heard));
    });
    call.on('agentConnected', (ms) => metrics.observeAgentConnectMs(ms));
    call.on('firstAudio', (ms) => metrics.observeAnswerToFirstAudioMs(ms));
    call.on('firstCallerFrame', (ms) => metrics.observeAnswerToFirstCallerFrameMs(ms));
    call.on('released', (ms) => metrics.observeCallReleaseMs(ms));
    call.on('interruption', () => events.publish({ type: 'interruption', call_id: call.id, at: now() }));
    call.on('metrics', (m) => events.publish({ type: 'metrics', call_id: call.id, at: now(), metrics: m }));
    call.on('dtmf', (digit) => events.publish({ type: 'dtmf', call_id: call.id, at: now(), digit }));
    call.on('frameRefused', () => metrics.agentFrameRefused());
    call.on('agentSignal', (signal) => {
      const kind = signal.kind === 'mcp_tool_call' ? (signal.decision === null ? undefined : `mcp_${signal.decision}` as const) : signal.kind;
      if (kind !== undefined) this.#deps.integrationMetrics?.agentSignal(kind);
    });
    call.on('amd', (result, cause) => {
      events.publish({ type: 'amd', call_id: call.id, at: now(), result, cause });
      save();
    });
    call.on('transferAttempt', (a) => {
      metrics.transferAttempt(a.isAllowed);
      events.publish({ type: 'transfer_attempt', call_id: call.id, at: now(), phone_number: a.phoneNumber, allowed: a.isAllowed, reason: a.reason });
    });
    call.on('transferred', (to) => {
      events.publish({ type: 'transferred', call_id: call.id, at: now(), to });
      save();
    });
    call.once('ended', (record) => {
      ticket.release();
      const { transcript: _transcript, ...summary } = record;
      writer.update(summary, this.#deps.webhooks?.event('call.ended', callOrderKey(call.id), record));
      const issues = call.playoutIssues();
      metrics.frameIssues('late', issues.lateFrames);
      metrics.frameIssues('dropped', issues.droppedFrames);
    });
    publishCallEvents(call, events);
    this.#registry.add(call);
  }

  async #onUnclaimedStasisStart(event: StasisStartEvent): Promise<void> {
    const { control, log, inbound } = this.#deps;
    const [kind, dialed = ''] = event.args;
    const channelId = event.channel.id;
    const hangUp = async (reason: 'rejected' | 'busy' | 'congestion'): Promise<void> => {
      await control.hangup(channelId, reason).catch((err: unknown) => log.warn({ err, channelId }, 'hangup of refused channel failed'));
    };
    if (kind !== 'inbound') {
      log.warn({ channelId, args: event.args }, 'refusing a channel that is not a call of ours (stale or foreign)');
      return hangUp('rejected');
    }
    if (!inbound.isEnabled) {
      log.warn({ channelId }, 'refusing an inbound call: inbound calls are disabled (INBOUND_ENABLED=false)');
      return hangUp('rejected');
    }
    const did = dialed.replace(/^\+/, '');
    const caller = event.channel.caller?.number ?? '';
    const request: StartCallRequest = { phoneNumber: caller === '' ? 'anonymous' : caller };
    const agentId = inbound.agents[did];
    if (agentId) request.agentId = agentId;
    const origin: CallOrigin = { direction: 'inbound', channelId, dialedNumber: did };

    const admitted = this.#admission.admitInbound(request.phoneNumber);
    if (isInboundRefusal(admitted)) return this.#refuseInbound(request, origin, admitted, hangUp);
    const call = this.#newCall(request, origin, `inbound:${request.phoneNumber}`);
    try {
      await this.#deps.writer.insert(call.summary(), this.#statusEvent(call.summary()));
    } catch (err) {
      admitted.release();
      this.#deps.metrics.callRefused('inbound', 'store-unavailable');
      log.warn({ err, channelId }, 'refusing an inbound call: its record cannot be written');
      return hangUp('congestion');
    }
    this.#track(call, admitted);
    log.info({ callId: call.id, did, agentId: agentId ?? 'default' }, 'inbound call');
    await call.accept();
  }

  /** Ends a refused inbound call at once (never answered) with the cause the refusal chose, and records it. */
  async #refuseInbound(request: StartCallRequest, origin: CallOrigin, refusal: InboundRefusal, hangUp: (r: 'busy' | 'congestion') => Promise<void>): Promise<void> {
    const now = new Date();
    const facts = new CallFacts(randomUUID(), request, origin, now, 'failed', this.#deps.settings.nodeId ?? null);
    facts.endedAt = now;
    facts.endReason = refusal.endReason;
    facts.recordError(`${refusal.error.code}: ${refusal.error.message}`);
    this.#deps.log.warn({ callId: facts.id, code: refusal.error.code, hangup: refusal.hangupReason }, 'inbound call refused');
    this.#deps.metrics.callRefused('inbound', refusal.endReason);
    const summary = facts.summary();
    this.#deps.writer.update(summary, [...this.#statusEvent(summary), ...(this.#deps.webhooks?.event('call.ended', callOrderKey(facts.id), facts.record()) ?? [])]);
    await hangUp(refusal.hangupReason);
  }

  /** The `call.status` webhook event of a call's status as in `summary` (none without webhooks). */
  #statusEvent(summary: ReturnType<Call['summary']>): ReturnType<WebhookPublisher['event']> {
    return this.#deps.webhooks?.event('call.status', callOrderKey(summary.id), summary) ?? [];
  }
}

/** The metrics label of a refused API call: the error's stable code, lower-case. */
function refusalReason(err: unknown): string {
  return err instanceof BridgeError ? err.code.toLowerCase().replaceAll('_', '-') : 'error';
}

function recordsUnavailable(cause: unknown): ServiceUnavailableError {
  return storeUnavailable('call records cannot be written now; the call was not placed', cause);
}
