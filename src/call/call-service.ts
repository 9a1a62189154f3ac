import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { StasisStartEvent } from '../ari/ari-events';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import { CallNotFoundError, ServiceUnavailableError } from '../errors';
import { ARI_ID_PREFIX, Call, type CallSettings } from './call';
import { CallRegistry } from './call-registry';
import type { CallStore } from './call-store';
import type { CallApi, CallView, StartCallRequest } from './call-view';
import type { AgentConnector, MediaSessionFactory } from './ports';

export interface CallServiceDeps {
  control: CallControl;
  router: AriEventRouter;
  connectAgent: AgentConnector;
  createMedia: MediaSessionFactory;
  settings: CallSettings;
  store: CallStore;
  log: Logger;
  isAriConnected: () => boolean;
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
    const call = new Call(randomUUID(), request, { ...this.#deps });
    const save = (): void => this.#deps.store.save(call.view());
    call.on('status', save);
    call.on('transcript', save);
    this.#registry.add(call);
    save();
    await call.start();
    return call.view();
  }

  getCall(id: string): CallView {
    const view = this.#registry.get(id)?.view() ?? this.#deps.store.get(id);
    if (!view) throw new CallNotFoundError(id);
    return view;
  }

  async hangupCall(id: string): Promise<CallView> {
    const call = this.#registry.get(id);
    if (call) {
      await call.end('api');
      return call.view();
    }
    return this.getCall(id);
  }

  health(): { ari: 'connected' | 'disconnected'; activeCalls: number } {
    return { ari: this.#deps.isAriConnected() ? 'connected' : 'disconnected', activeCalls: this.#registry.size };
  }

  /**
   * After (re)connecting to ARI: end calls whose channels Asterisk no longer has (it restarted),
   * and remove our channels and bridges that no live call owns (we crashed or restarted).
   */
  async reconcile(): Promise<void> {
    const { control, log } = this.#deps;
    const [channels, bridges] = await Promise.all([control.listChannels(), control.listBridges()]);
    const live = new Set(this.#registry.all().map((c) => c.id));
    const present = new Set(channels.map((c) => c.id));
    for (const call of this.#registry.all()) {
      if (!present.has(`${ARI_ID_PREFIX}${call.id}`) && call.state !== 'ended') {
        log.warn({ callId: call.id }, 'call leg gone after ARI reconnect');
        void call.end('error');
      }
    }
    const owner = (id: string): string | undefined => /^vg-(?:em-|br-)?(.+)$/.exec(id)?.[1];
    for (const ch of channels) {
      const callId = owner(ch.id);
      if (callId && !live.has(callId)) {
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

  /** Stops taking calls and ends the live ones; resolves to how many were still live at the deadline. */
  async stop(deadlineMs: number): Promise<number> {
    this.#isAccepting = false;
    return this.#registry.drain('shutdown', deadlineMs);
  }

  async #onUnclaimedStasisStart(event: StasisStartEvent): Promise<void> {
    const { control, log } = this.#deps;
    // Inbound calls are not taken yet: refuse them cleanly instead of leaving them in Stasis.
    log.warn({ channelId: event.channel.id, args: event.args }, 'unexpected channel entered the app; hanging up');
    await control.hangup(event.channel.id, 'rejected').catch((err: unknown) => log.warn({ err }, 'hangup of unexpected channel failed'));
  }
}
