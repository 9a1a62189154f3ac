import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Client } from 'ari-client';
import type { Logger } from 'pino';
import { AriError } from '../errors';
import { withTimeout } from '../lifecycle/timers';
import type { AriBridgeJson, AriChannelJson } from './ari-events';

export interface OriginateParams {
  endpoint: string;
  channelId: string;
  app: string;
  appArgs: string;
  callerId?: string;
  timeoutS: number;
  /** Codec offer, e.g. `alaw,ulaw`; without it the SDP offers PCMU first. */
  formats: string;
  variables?: Record<string, string>;
}

/** A channel made in Stasis but not dialled yet (`POST /channels/create`); `dial` rings it. */
export interface CreateChannelParams {
  endpoint: string;
  channelId: string;
  app: string;
  /** StasisStart args of the new channel (it enters the app at creation, before it rings). */
  appArgs: string;
  /** Codec offer, e.g. `alaw,ulaw`. */
  formats: string;
  /** Channel variables, e.g. `CALLERID(num)`. */
  variables?: Record<string, string>;
}

export interface ExternalMediaParams {
  channelId: string;
  app: string;
  /** host:port where our RTP endpoint listens. Asterisk always sends here. */
  externalHost: string;
  format: 'slin' | 'alaw' | 'ulaw';
  /** Passed back as StasisStart args (Asterisk 22+), so we can tell it apart from calls. */
  data: string;
  variables?: Record<string, string>;
}

/** Where Asterisk's side of the ExternalMedia RTP stream lives; we send our RTP there. */
export interface ExternalMediaAddress {
  address: string;
  port: number;
}

export type HangupReason = 'normal' | 'busy' | 'congestion' | 'no_answer' | 'timeout' | 'rejected';

/** The ARI operations a call needs. Implemented over ari-client; small enough to fake. */
export interface CallControl {
  originate(params: OriginateParams): Promise<void>;
  /** Makes a channel in Stasis without ringing it, so it can join a bridge first (docs/asterisk.md#early-bridge). */
  createChannel(params: CreateChannelParams): Promise<void>;
  /** Rings a created channel; Asterisk gives up after `timeoutS` (ChannelDestroyed, no answer). */
  dial(channelId: string, timeoutS: number): Promise<void>;
  answer(channelId: string): Promise<void>;
  /** Resolves when gone; a channel that no longer exists is not an error. */
  hangup(channelId: string, reason?: HangupReason): Promise<void>;
  createBridge(bridgeId: string): Promise<void>;
  addToBridge(bridgeId: string, channelIds: readonly string[]): Promise<void>;
  /** Resolves when gone; a bridge that no longer exists is not an error. */
  destroyBridge(bridgeId: string): Promise<void>;
  createExternalMedia(params: ExternalMediaParams): Promise<ExternalMediaAddress>;
  setChannelVar(channelId: string, variable: string, value: string): Promise<void>;
  /** Plays RFC 4733 digits (0-9 * # A-D) on the channel toward its far end. */
  sendDtmf(channelId: string, digits: string): Promise<void>;
  removeFromBridge(bridgeId: string, channelIds: readonly string[]): Promise<void>;
  /** Records the bridge's mix to Asterisk's stored recordings as `<name>.wav`; stops when the bridge goes. */
  recordBridge(bridgeId: string, name: string): Promise<void>;
  /**
   * The stored recording `<name>` (wav bytes) as a stream, or undefined if Asterisk has none by that
   * name. The caller must consume or destroy the stream (destroying it cancels the download).
   */
  downloadRecording(name: string): Promise<Readable | undefined>;
  /** Sends an answered channel from Stasis into the dialplan (it may come back with a new StasisStart). */
  continueInDialplan(channelId: string, context: string, extension: string): Promise<void>;
  listChannels(): Promise<AriChannelJson[]>;
  listBridges(): Promise<AriBridgeJson[]>;
  /** Plays `media` (e.g. `tone:ring`) on a channel as playback `playbackId` until it ends or is stopped. */
  playMedia?(channelId: string, playbackId: string, media: string): Promise<void>;
  /** Stops a playback; one already over is not an error. */
  stopPlayback?(playbackId: string): Promise<void>;
}

/**
 * Turns an ari-client rejection into an AriError. ari-client throws `Error(rawBody)` with no
 * status, so "not found" is recognised by Asterisk's message text.
 */
export function toAriError(op: string, err: unknown): AriError {
  const raw = err instanceof Error ? err.message : String(err);
  let message = raw;
  try {
    const body = JSON.parse(raw) as { message?: string; error?: string };
    message = body.message ?? body.error ?? raw;
  } catch {
    // Not JSON: a transport error (ECONNREFUSED, socket hang up); keep the text.
  }
  const notFound = /not found/i.test(message);
  const notInStasis = /not in Stasis/i.test(message);
  const transport = /ECONNREFUSED|ECONNRESET|socket hang up|ETIMEDOUT/i.test(message);
  const code = notFound ? 'ARI_NOT_FOUND' : notInStasis ? 'ARI_NOT_IN_STASIS' : transport ? 'ARI_UNREACHABLE' : 'ARI_REQUEST_FAILED';
  return new AriError(code, `${op}: ${message}`, {
    status: notFound ? 404 : notInStasis ? 422 : undefined,
    retryable: transport || notInStasis,
    cause: err,
  });
}

/**
 * Longest an ARI REST request may take (they take 1–30 ms). ari-client's HTTP layer (swagger-client
 * over shred) never settles a request whose connection fails — refused or reset: measured — so
 * without this a call ending while Asterisk is unreachable would wait for ever in its teardown.
 */
export const ARI_REQUEST_TIMEOUT_MS = 5000;

/** Where ARI's HTTP API is, for the few calls made without ari-client (binary downloads). */
export interface AriHttpAccess {
  url: string;
  username: string;
  password: string;
}

/** CallControl over the process's ari-client. `getClient` throws while ARI is down. */
export class AriCallControl implements CallControl {
  readonly #getClient: () => Client;
  readonly #log: Logger;
  readonly #http: AriHttpAccess;

  constructor(getClient: () => Client, log: Logger, http: AriHttpAccess) {
    this.#getClient = getClient;
    this.#log = log;
    this.#http = http;
  }

  async #do<T>(op: string, fn: (c: Client) => Promise<T>): Promise<T> {
    try {
      const timeout = (): AriError => new AriError('ARI_TIMEOUT', `${op}: no answer from ARI in ${ARI_REQUEST_TIMEOUT_MS} ms`, { retryable: true });
      return await withTimeout(fn(this.#getClient()), ARI_REQUEST_TIMEOUT_MS, timeout);
    } catch (err) {
      if (err instanceof AriError) throw err;
      throw toAriError(op, err);
    }
  }

  async #tolerateGone(op: string, fn: (c: Client) => Promise<unknown>): Promise<void> {
    try {
      await this.#do(op, fn);
    } catch (err) {
      if (err instanceof AriError && err.code === 'ARI_NOT_FOUND') {
        this.#log.debug({ op }, 'already gone');
        return;
      }
      throw err;
    }
  }

  async originate(p: OriginateParams): Promise<void> {
    await this.#do('originate', (c) =>
      c.channels.originate({
        endpoint: p.endpoint,
        channelId: p.channelId,
        app: p.app,
        appArgs: p.appArgs,
        callerId: p.callerId,
        timeout: p.timeoutS,
        formats: p.formats,
        variables: p.variables,
      }),
    );
  }

  async createChannel(p: CreateChannelParams): Promise<void> {
    await this.#do('createChannel', (c) =>
      c.channels.create({ endpoint: p.endpoint, channelId: p.channelId, app: p.app, appArgs: p.appArgs, formats: p.formats, variables: p.variables } as Parameters<Client['channels']['create']>[0]),
    );
  }

  async dial(channelId: string, timeoutS: number): Promise<void> {
    await this.#do('dial', (c) => c.channels.dial({ channelId, timeout: timeoutS }));
  }

  async answer(channelId: string): Promise<void> {
    await this.#do('answer', (c) => c.channels.answer({ channelId }));
  }

  async hangup(channelId: string, reason: HangupReason = 'normal'): Promise<void> {
    await this.#tolerateGone('hangup', (c) => c.channels.hangup({ channelId, reason }));
  }

  async createBridge(bridgeId: string): Promise<void> {
    // proxy_media keeps media in Asterisk's core: after a transfer leaves two PJSIP legs, a native
    // RTP bridge would forward the target's packets as they are (new SSRC, jumping timestamps),
    // which the callee's side was seen to drop as silence.
    await this.#do('createBridge', (c) => c.bridges.create({ bridgeId, type: 'mixing,proxy_media', name: bridgeId }));
  }

  async addToBridge(bridgeId: string, channelIds: readonly string[]): Promise<void> {
    await this.#do('addToBridge', (c) => c.bridges.addChannel({ bridgeId, channel: [...channelIds] }));
  }

  async destroyBridge(bridgeId: string): Promise<void> {
    await this.#tolerateGone('destroyBridge', (c) => c.bridges.destroy({ bridgeId }));
  }

  async createExternalMedia(p: ExternalMediaParams): Promise<ExternalMediaAddress> {
    const channel = await this.#do('externalMedia', (c) =>
      // `data` is an Asterisk 22 parameter the typings lack; ari-client builds its API from
      // Asterisk's own resource list, so it is passed through.
      c.channels.externalMedia({
        channelId: p.channelId,
        app: p.app,
        external_host: p.externalHost,
        format: p.format,
        encapsulation: 'rtp',
        transport: 'udp',
        direction: 'both',
        variables: p.variables,
        data: p.data,
      } as Parameters<Client['channels']['externalMedia']>[0]),
    );
    const vars = (channel as unknown as { channelvars?: Record<string, string> }).channelvars ?? {};
    const address = vars.UNICASTRTP_LOCAL_ADDRESS;
    const port = Number(vars.UNICASTRTP_LOCAL_PORT);
    if (!address || !Number.isInteger(port) || port <= 0) {
      throw new AriError('ARI_EXTERNAL_MEDIA_NO_ADDRESS', 'externalMedia returned no UNICASTRTP_LOCAL_ADDRESS/PORT');
    }
    return { address, port };
  }

  async playMedia(channelId: string, playbackId: string, media: string): Promise<void> {
    await this.#do('play', (c) => c.channels.play({ channelId, media, playbackId }));
  }

  async stopPlayback(playbackId: string): Promise<void> {
    await this.#tolerateGone('stopPlayback', (c) => c.playbacks.stop({ playbackId }));
  }

  async setChannelVar(channelId: string, variable: string, value: string): Promise<void> {
    await this.#do('setChannelVar', (c) => c.channels.setChannelVar({ channelId, variable, value }));
  }

  async sendDtmf(channelId: string, digits: string): Promise<void> {
    await this.#do('sendDtmf', (c) => c.channels.sendDTMF({ channelId, dtmf: digits, between: 100, duration: 100 }));
  }

  async removeFromBridge(bridgeId: string, channelIds: readonly string[]): Promise<void> {
    await this.#tolerateGone('removeFromBridge', (c) => c.bridges.removeChannel({ bridgeId, channel: [...channelIds] }));
  }

  async recordBridge(bridgeId: string, name: string): Promise<void> {
    await this.#do('recordBridge', (c) => c.bridges.record({ bridgeId, name, format: 'wav', ifExists: 'overwrite', beep: false }));
  }

  async downloadRecording(name: string): Promise<Readable | undefined> {
    // ari-client decodes every body as text, which corrupts binary audio: plain fetch instead.
    const auth = Buffer.from(`${this.#http.username}:${this.#http.password}`).toString('base64');
    // The deadline covers Asterisk's answer (status and headers), not the body: the body goes to
    // the API client at the pace it reads, which may take longer than any fixed deadline.
    const answered = new AbortController();
    const deadline = setTimeout(() => answered.abort(new Error('no answer within 10 s')), 10_000);
    let res: Response;
    try {
      res = await fetch(`${this.#http.url}/ari/recordings/stored/${encodeURIComponent(name)}/file`, {
        headers: { authorization: `Basic ${auth}` },
        signal: answered.signal,
      });
    } catch (err) {
      throw toAriError('downloadRecording', err);
    } finally {
      clearTimeout(deadline);
    }
    if (res.status === 404 || !res.ok) {
      await res.body?.cancel();
      if (res.status === 404) return undefined;
      throw new AriError('ARI_REQUEST_FAILED', `downloadRecording: HTTP ${res.status}`, { status: res.status });
    }
    return res.body === null ? Readable.from([]) : Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }

  async continueInDialplan(channelId: string, context: string, extension: string): Promise<void> {
    await this.#do('continueInDialplan', (c) => c.channels.continueInDialplan({ channelId, context, extension, priority: 1 }));
  }

  async listChannels(): Promise<AriChannelJson[]> {
    const list = await this.#do('listChannels', (c) => c.channels.list());
    return list.map((ch) => plainChannel(ch as unknown as AriChannelJson));
  }

  /** ARI state of an endpoint ('online' | 'offline' | 'unknown'); not on CallControl, only /health uses it. */
  async endpointState(technology: string, resource: string): Promise<string> {
    const endpoint = await this.#do('endpointState', (c) => c.endpoints.get({ tech: technology, resource }));
    return endpoint.state ?? 'unknown';
  }

  async listBridges(): Promise<AriBridgeJson[]> {
    const list = await this.#do('listBridges', (c) => c.bridges.list());
    return list.map((b) => {
      const j = b as unknown as AriBridgeJson;
      return { id: j.id, technology: j.technology, bridge_type: j.bridge_type, channels: [...j.channels] };
    });
  }
}

/** ari-client returns class instances with circular references; copy the fields we use. */
function plainChannel(ch: AriChannelJson): AriChannelJson {
  return { id: ch.id, name: ch.name, state: ch.state, dialplan: ch.dialplan, caller: ch.caller };
}
