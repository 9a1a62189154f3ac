/**
 * A local stand-in for the ElevenLabs Agents service: a real HTTP + WebSocket server on loopback that
 * follows docs/agent-protocol.md#the-simulator — signed-URL endpoint, per-agent config,
 * metadata, pings, paced tone "speech" in the agent's exact output format, an energy VAD on caller
 * audio, interruptions with event-id watermarks, end_call, and every documented close path.
 *
 *   const sim = await ElevenLabsSimulator.start();
 *   sim.agent('a1', { outputFormat: 'ulaw_8000', inputFormat: 'ulaw_8000' });
 *   const url = await fetchSignedUrl({ apiUrl: sim.apiUrl, apiKey: sim.apiKey, agentId: 'a1' });
 *   … const conv = await sim.nextConversation(); conv.userSays('hi'); await conv.endCall();
 *   await sim.close();
 *
 * The caller owns the simulator and must `close()` it; that ends every socket and timer it started.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import pino, { type Logger } from 'pino';
import { DEFAULT_AGENT_CONFIG, type SimAgentConfig } from './sim/config';
import { SimConversation } from './sim/conversation';
import type { VadOptions } from './sim/vad';
import { newConversationId } from './sim/wire';

export * from './sim/config';
export * from './sim/conversation';
export { estimateFrequencyHz, rms, synthTone, encodeSamples, decodeBytes, linearToUlaw, ulawToLinear, type ToneSpec } from './sim/audio';
export type { SimErrorShape } from './sim/wire';

/** Agent settings as passed by tests: everything optional, `vad` merged field by field. */
export type SimAgentOptions = Partial<Omit<SimAgentConfig, 'vad'>> & { vad?: Partial<VadOptions> };

/** What to do with a socket for an unknown agent or without a valid signature (real behaviour undocumented). */
export type SimHandshakeRejectPolicy = 'close1008' | 'reject-upgrade';

/** Options of `ElevenLabsSimulator.start`. */
export interface SimulatorOptions {
  /** Value `xi-api-key` must carry. Default `sim-api-key`. */
  apiKey?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default silent. */
  log?: Logger;
  /** Applied to every agent before its own settings. */
  defaults?: SimAgentOptions;
  /** Agents registered at start. */
  agents?: Record<string, SimAgentOptions>;
  /** Default `close1008` (accept, error frame, close 1008). `reject-upgrade` answers HTTP 404 instead. */
  unknownAgentPolicy?: SimHandshakeRejectPolicy;
  /** Default `close1008`. `reject-upgrade` answers HTTP 403 instead. */
  badSignaturePolicy?: SimHandshakeRejectPolicy;
  /** Signed URL validity; default 15 min (docs). */
  signedUrlTtlMs?: number;
  /** Simultaneous conversations; extra ones are closed 1002 (reason text is a guess). Default unlimited. */
  maxConcurrent?: number;
  /**
   * Accept WebSocket compression (permessage-deflate) when a client offers it, as many servers do.
   * Default off. Whether the real service accepts it is not documented.
   */
  acceptCompression?: boolean;
}

/** One HTTP request the simulator served (the API key is never recorded, only whether it matched). */
export interface SimHttpRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  hasValidApiKey: boolean;
}

interface Signature {
  agentId: string;
  expiresAt: number;
  isSingleUse: boolean;
  isUsed: boolean;
  conversationId: string | undefined;
}

/** Events of the simulator. */
export interface SimulatorEvents {
  conversation: [SimConversation];
}

const WS_PATH = '/v1/convai/conversation';
const SIGNED_URL_PATHS = new Set(['/v1/convai/conversation/get-signed-url', '/v1/convai/conversation/get_signed_url']);

/** The simulator. Start with `ElevenLabsSimulator.start()`; always `close()`. */
export class ElevenLabsSimulator extends EventEmitter<SimulatorEvents> {
  /** Every conversation accepted, in order (including rejected-by-close ones). */
  readonly conversations: SimConversation[] = [];
  /** Every HTTP (non-upgrade) request served. */
  readonly httpRequests: SimHttpRequest[] = [];
  readonly apiKey: string;

  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #log: Logger;
  readonly #opts: SimulatorOptions;
  readonly #agents = new Map<string, SimAgentConfig>();
  readonly #signatures = new Map<string, Signature>();
  readonly #waiters = new Set<() => void>();
  readonly #closeWaiters = new Set<() => void>();
  #cursor = 0;
  #closing: Promise<void> | undefined;

  private constructor(opts: SimulatorOptions) {
    super();
    this.#opts = opts;
    this.apiKey = opts.apiKey ?? 'sim-api-key';
    this.#log = opts.log ?? pino({ level: 'silent' });
    this.#server = createServer((req, res) => this.#onRequest(req, res));
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: 16 * 1024 * 1024,
      perMessageDeflate: opts.acceptCompression === true,
      // The JS SDK offers `convai` (and `bearer.<token>`); the server must echo one or `ws` clients abort.
      handleProtocols: (protocols) => (protocols.has('convai') ? 'convai' : ([...protocols][0] ?? false)),
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    for (const [id, cfg] of Object.entries(opts.agents ?? {})) this.agent(id, cfg);
  }

  /** Listen on `host:port` (default 127.0.0.1:0) and resolve once listening. */
  static async start(opts: SimulatorOptions = {}): Promise<ElevenLabsSimulator> {
    const sim = new ElevenLabsSimulator(opts);
    await new Promise<void>((resolve, reject) => {
      sim.#server.once('error', reject);
      sim.#server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        sim.#server.off('error', reject);
        resolve();
      });
    });
    return sim;
  }

  /** Bound port. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** REST base URL, e.g. `http://127.0.0.1:34567` (pass as `ELEVENLABS_API_URL`). */
  get apiUrl(): string {
    return `http://${this.#opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** Public socket URL for an agent (no signature). */
  publicUrl(agentId: string): string {
    return `ws://${this.#opts.host ?? '127.0.0.1'}:${this.port}${WS_PATH}?agent_id=${encodeURIComponent(agentId)}`;
  }

  /** Register or update an agent (merged over simulator defaults and its previous settings). */
  agent(agentId: string, options: SimAgentOptions = {}): SimAgentConfig {
    const base = this.#agents.get(agentId) ?? mergeConfig(DEFAULT_AGENT_CONFIG, this.#opts.defaults ?? {});
    const config = mergeConfig(base, options);
    this.#agents.set(agentId, config);
    return config;
  }

  /** Settings of a registered agent. */
  agentConfig(agentId: string): SimAgentConfig | undefined {
    return this.#agents.get(agentId);
  }

  /** Conversations whose socket is still open. */
  get activeConversations(): SimConversation[] {
    return this.conversations.filter((c) => c.closeInfo === undefined);
  }

  /**
   * The next conversation in accept order that no earlier `nextConversation()` call returned:
   * already accepted ones first, else the next one to arrive. Rejects after `timeoutMs`.
   */
  nextConversation(timeoutMs = 5000): Promise<SimConversation> {
    const ready = this.conversations[this.#cursor];
    if (ready !== undefined) {
      this.#cursor += 1;
      return Promise.resolve(ready);
    }
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const conv = this.conversations[this.#cursor];
        if (conv === undefined) return;
        this.#cursor += 1;
        done();
        resolve(conv);
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        this.#closeWaiters.delete(onClose);
      };
      const onClose = (): void => {
        done();
        reject(new Error('simulator closed'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`simulator: no new conversation within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
      // Closing wakes every waiter; `check` then finds nothing and the close path rejects.
      this.#closeWaiters.add(onClose);
    });
  }

  /** Stop everything this simulator started: sockets, timers, the HTTP server. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const w of [...this.#closeWaiters]) w();
    this.#closeWaiters.clear();
    await Promise.all(this.conversations.map((c) => c.dispose()));
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.removeAllListeners();
  }

  // --- HTTP -----------------------------------------------------------------------------------

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    const hasValidApiKey = req.headers['xi-api-key'] === this.apiKey;
    const reply = (status: number, body: unknown): void => {
      this.httpRequests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        status,
        hasValidApiKey,
      });
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    req.resume();
    if (req.method !== 'GET' || !SIGNED_URL_PATHS.has(url.pathname)) {
      reply(404, { detail: 'Not Found' });
      return;
    }
    if (!hasValidApiKey) {
      const missing = req.headers['xi-api-key'] === undefined;
      reply(401, {
        detail: missing
          ? { status: 'needs_authorization', message: 'Neither authorization header nor xi-api-key received, please provide one.' }
          : { status: 'invalid_api_key', message: 'Invalid API key' },
      });
      return;
    }
    const agentId = url.searchParams.get('agent_id');
    if (agentId === null || agentId === '') {
      reply(422, { detail: [{ type: 'missing', loc: ['query', 'agent_id'], msg: 'Field required', input: null }] });
      return;
    }
    if (!this.#agents.has(agentId)) {
      reply(404, { detail: { status: 'agent_not_found', message: `Agent with id ${agentId} not found` } });
      return;
    }
    const includeConversationId = url.searchParams.get('include_conversation_id') === 'true';
    const signature = randomBytes(24).toString('base64url');
    const conversationId = includeConversationId ? newConversationId(randomBytes) : undefined;
    this.#signatures.set(signature, {
      agentId,
      expiresAt: Date.now() + (this.#opts.signedUrlTtlMs ?? 15 * 60_000),
      isSingleUse: includeConversationId,
      isUsed: false,
      conversationId,
    });
    const signedUrl = `${this.publicUrl(agentId)}&conversation_signature=${signature}`;
    reply(200, conversationId === undefined ? { signed_url: signedUrl } : { signed_url: signedUrl, conversation_id: conversationId });
  }

  // --- WebSocket ------------------------------------------------------------------------------

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.#log.debug({ err }, 'simulator upgrade socket error'));
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname !== WS_PATH) {
      rejectUpgrade(socket, 404, { detail: 'Not Found' });
      return;
    }
    const agentId = url.searchParams.get('agent_id') ?? '';
    const config = this.#agents.get(agentId);
    let rejection: { code: number; errorType: string; message: string; status: number; policy: SimHandshakeRejectPolicy } | undefined;
    let conversationId: string | undefined;
    if (config === undefined) {
      rejection = {
        code: 1008,
        errorType: 'value_error',
        message: `Agent with id ${agentId} not found`,
        status: 404,
        policy: this.#opts.unknownAgentPolicy ?? 'close1008',
      };
    } else {
      const sig = this.#checkSignature(agentId, url.searchParams);
      if (config.requiresAuth && (sig === 'invalid' || sig === 'none')) {
        rejection = {
          code: 1008,
          errorType: 'invalid_message',
          message: sig === 'none' ? 'Authentication required: conversation_signature missing' : 'Invalid or expired conversation signature',
          status: 403,
          policy: this.#opts.badSignaturePolicy ?? 'close1008',
        };
      } else if (sig !== 'invalid' && sig !== 'none') {
        conversationId = sig.conversationId;
      }
    }
    if (rejection?.policy === 'reject-upgrade') {
      rejectUpgrade(socket, rejection.status, { detail: { status: rejection.errorType, message: rejection.message } });
      return;
    }
    if (rejection === undefined && this.activeConversations.length >= (this.#opts.maxConcurrent ?? Infinity)) {
      rejection = { code: 1002, errorType: 'http_exception', message: 'Concurrency limit reached', status: 429, policy: 'close1008' };
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const conv = new SimConversation(ws, {
        agentId,
        config: config ?? mergeConfig(DEFAULT_AGENT_CONFIG, this.#opts.defaults ?? {}),
        log: this.#log,
        rejection,
        conversationId,
        offeredExtensions: req.headers['sec-websocket-extensions'],
      });
      this.conversations.push(conv);
      this.#log.debug({ conversationId: conv.id, agentId }, 'simulated conversation accepted');
      this.emit('conversation', conv);
      for (const w of [...this.#waiters]) w();
    });
  }

  #checkSignature(agentId: string, params: URLSearchParams): Signature | 'none' | 'invalid' {
    const key = params.get('conversation_signature') ?? params.get('token');
    if (key === null) return 'none';
    const sig = this.#signatures.get(key);
    if (sig === undefined || sig.agentId !== agentId || Date.now() > sig.expiresAt) return 'invalid';
    if (sig.isSingleUse && sig.isUsed) return 'invalid';
    sig.isUsed = true;
    return sig;
  }
}

function mergeConfig(base: SimAgentConfig, o: SimAgentOptions): SimAgentConfig {
  const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as SimAgentOptions;
  return { ...base, ...defined, vad: { ...base.vad, ...(o.vad ?? {}) } };
}

function rejectUpgrade(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const reason = status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}
