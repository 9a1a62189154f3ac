import { Readable } from 'node:stream';
import type { AriEventRouter } from '../../src/ari/ari-event-router';
import { toAriEvent } from '../../src/ari/ari-events';
import type { CallControl, CreateChannelParams, ExternalMediaAddress, ExternalMediaParams, HangupReason, OriginateParams } from '../../src/ari/call-control';
import type { AriBridgeJson, AriChannelJson } from '../../src/ari/ari-events';
import { AriError } from '../../src/errors';

/**
 * An in-memory Asterisk for Call unit tests: records every operation and, like Asterisk, sends
 * StasisStart for a new ExternalMedia channel and ChannelDestroyed for a hung-up channel.
 */
export class FakeCallControl implements CallControl {
  readonly ops: string[] = [];
  readonly channels = new Map<string, AriChannelJson>();
  readonly bridges = new Map<string, AriBridgeJson>();
  originateError: Error | undefined;
  /** While true every operation rejects, as requests do while the ARI link is down. */
  isDown = false;
  readonly #router: AriEventRouter;

  constructor(router: AriEventRouter) {
    this.#router = router;
  }

  #failIfDown(): void {
    if (this.isDown) throw new AriError('ARI_UNAVAILABLE', 'Asterisk (ARI) is not connected', { retryable: true });
  }

  /** Sends an ARI event as Asterisk would. */
  emit(raw: Record<string, unknown>): void {
    const event = toAriEvent({ application: 'test', timestamp: new Date().toISOString(), ...raw });
    if (!event) throw new Error('bad fake event');
    this.#router.dispatch(event);
  }

  async originate(p: OriginateParams): Promise<void> {
    this.#failIfDown();
    this.ops.push(`originate ${p.endpoint} formats=${p.formats}`);
    if (this.originateError) throw this.originateError;
    this.channels.set(p.channelId, { id: p.channelId, name: `PJSIP/${p.endpoint}`, state: 'Down' });
  }
  /** Like Asterisk: the created channel enters Stasis at once (StasisStart with its args), not ringing yet. */
  async createChannel(p: CreateChannelParams): Promise<void> {
    this.#failIfDown();
    this.ops.push(`create ${p.endpoint} formats=${p.formats}`);
    if (this.originateError) throw this.originateError;
    const ch = { id: p.channelId, name: `PJSIP/${p.endpoint}`, state: 'Down' };
    this.channels.set(p.channelId, ch);
    setImmediate(() => this.emit({ type: 'StasisStart', args: p.appArgs.split(','), channel: ch }));
  }
  async dial(channelId: string, timeoutS: number): Promise<void> {
    this.#failIfDown();
    this.ops.push(`dial ${channelId} timeout=${timeoutS}`);
  }
  async answer(channelId: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`answer ${channelId}`);
  }
  async hangup(channelId: string, _reason?: HangupReason): Promise<void> {
    this.#failIfDown();
    this.ops.push(`hangup ${channelId}`);
    const ch = this.channels.get(channelId);
    if (!ch) return;
    this.channels.delete(channelId);
    setImmediate(() => this.emit({ type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: ch }));
  }
  async createBridge(bridgeId: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`createBridge ${bridgeId}`);
    this.bridges.set(bridgeId, { id: bridgeId, technology: 'simple_bridge', bridge_type: 'mixing', channels: [] });
  }
  async addToBridge(bridgeId: string, channelIds: readonly string[]): Promise<void> {
    this.#failIfDown();
    this.ops.push(`addToBridge ${bridgeId} ${channelIds.join(',')}`);
    const br = this.bridges.get(bridgeId);
    if (!br) throw new Error('bridge not found');
    br.channels.push(...channelIds);
  }
  async destroyBridge(bridgeId: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`destroyBridge ${bridgeId}`);
    this.bridges.delete(bridgeId);
  }
  async createExternalMedia(p: ExternalMediaParams): Promise<ExternalMediaAddress> {
    this.#failIfDown();
    this.ops.push(`externalMedia ${p.externalHost} ${p.format}`);
    const ch = { id: p.channelId, name: `UnicastRTP/${p.externalHost}`, state: 'Up' };
    this.channels.set(p.channelId, ch);
    setImmediate(() => this.emit({ type: 'StasisStart', args: p.data.split(','), channel: ch }));
    return { address: '127.0.0.1', port: 40000 };
  }
  async setChannelVar(channelId: string, variable: string, _value: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`setvar ${channelId} ${variable}`);
  }
  readonly recordings = new Map<string, Buffer>();
  async playMedia(channelId: string, playbackId: string, media: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`play ${channelId} ${media} ${playbackId}`);
  }
  async stopPlayback(playbackId: string): Promise<void> {
    this.ops.push(`stopPlayback ${playbackId}`);
  }
  async sendDtmf(channelId: string, digits: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`dtmf ${channelId} ${digits}`);
  }
  async removeFromBridge(bridgeId: string, channelIds: readonly string[]): Promise<void> {
    this.#failIfDown();
    this.ops.push(`removeFromBridge ${bridgeId} ${channelIds.join(',')}`);
    const br = this.bridges.get(bridgeId);
    if (br) br.channels = br.channels.filter((c) => !channelIds.includes(c));
  }
  async recordBridge(bridgeId: string, name: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`recordBridge ${bridgeId} ${name}`);
    this.recordings.set(name, Buffer.from('RIFF'));
  }
  async downloadRecording(name: string): Promise<Readable | undefined> {
    const wav = this.recordings.get(name);
    return wav === undefined ? undefined : Readable.from([wav]);
  }
  async continueInDialplan(channelId: string, context: string, extension: string): Promise<void> {
    this.#failIfDown();
    this.ops.push(`continue ${channelId} ${context},${extension}`);
  }
  async listChannels(): Promise<AriChannelJson[]> {
    this.#failIfDown();
    return [...this.channels.values()];
  }
  async listBridges(): Promise<AriBridgeJson[]> {
    this.#failIfDown();
    return [...this.bridges.values()];
  }
}
