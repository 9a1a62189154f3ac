/**
 * The `ws` shell around the ElevenLabs agent protocol: one `AgentClient` per call.
 *
 * Lifecycle (connect settles exactly once; `close` is emitted exactly once, and only by a client that
 * connected):
 *
 *   connect() ──► CONNECTING ── open: send initiation ── metadata ──► OPEN ──► (close()) CLOSING ──► CLOSED
 *                     │ timeout / abort / close / HTTP error                 │ server close, drop, liveness
 *                     └──► reject AgentConnectionError, terminate()          └──────────────────────► CLOSED
 *
 * The socket URL (a signed URL for private agents) and the API key are credentials: never logged.
 */
import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { AgentConnectionError, AgentProtocolError } from '../errors';
import type { AgentAudioFormat } from '../audio/frame';
import {
  DEFAULT_USER_INPUT_AUDIO_FORMAT,
  buildInitiationMessage,
  decodeAgentMessage,
  encodeAgentMessage,
  encodeUserAudioChunk,
  type AgentInitiation,
  type AgentRawData,
  type AgentServerMessage,
  type AgentClientMessage,
} from './agent-protocol';

export { fetchSignedUrl, publicAgentUrl, type FetchSignedUrlOptions } from './signed-url';

/** Default interval of WebSocket protocol-level pings; a missing pong by the next tick terminates. */
export const DEFAULT_LIVENESS_INTERVAL_MS = 15_000;
/** How long `close()` waits for the server's close frame before `terminate()`. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;
/** Largest inbound frame accepted (the Python SDK uses the same limit). */
export const MAX_AGENT_FRAME_BYTES = 16 * 1024 * 1024;
/** Close reason the official JS SDK sends when the user hangs up. */
export const CLIENT_CLOSE_REASON = 'User ended conversation';

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/** Agent speech that passed the interruption watermark, in `format` (the metadata's output format). */
export interface AgentAudioEvent {
  eventId: number;
  bytes: Buffer;
  format: AgentAudioFormat;
}

/** Barge-in: flush every queued agent sample now. `watermark` = audio ids below it are dropped from here on. */
export interface AgentInterruptionEvent {
  eventId: number;
  watermark: number;
}

/** A final transcript line. `isCorrection`: the agent's reply as actually heard after an interruption. */
export interface AgentTranscriptEvent {
  role: 'user' | 'agent';
  text: string;
  eventId: number | undefined;
  isCorrection: boolean;
  /** For corrections: the full text the agent had planned to say. */
  originalText?: string;
}

/** The agent asks us to run a client tool; answer with `sendToolResult(toolCallId, …)`. */
export interface AgentClientToolCallEvent {
  toolName: string;
  toolCallId: string;
  parameters: Record<string, unknown>;
  eventId: number | undefined;
  expectsResponse: boolean | undefined;
}

/** A server-side tool ran (or is about to). `isEndCall`: the agent is hanging up; expect close 1000. */
export interface AgentToolEvent {
  toolName: string;
  toolCallId: string;
  toolType: string | undefined;
  eventId: number | undefined;
  isEndCall: boolean;
  /** Only on responses. */
  isError?: boolean;
}

/** An `error` frame in either shape. The socket may or may not close after it. */
export interface AgentErrorEvent {
  shape: 'nested' | 'flat';
  message: string;
  code: number | undefined;
  errorType: string | undefined;
}

/** An application ping was answered. `rttMs` is the server's estimate (null on the first ping). */
export interface AgentPingEvent {
  eventId: number;
  rttMs: number | null;
}

/** Who ended the socket: the agent (close frame), us (`close()`), or nobody cleanly (drop, liveness). */
export type AgentCloseInitiator = 'agent' | 'client' | 'network';

/** Emitted exactly once per connected client. */
export interface AgentCloseEvent {
  code: number;
  reason: string;
  initiatedBy: AgentCloseInitiator;
  /** The last `error` frame received before the close, if any. */
  lastError: AgentErrorEvent | undefined;
}

/** Typed event map of `AgentClient`. */
export interface AgentClientEvents {
  audio: [AgentAudioEvent];
  interruption: [AgentInterruptionEvent];
  transcript: [AgentTranscriptEvent];
  clientToolCall: [AgentClientToolCallEvent];
  agentToolRequest: [AgentToolEvent];
  agentToolResponse: [AgentToolEvent];
  agentError: [AgentErrorEvent];
  ping: [AgentPingEvent];
  close: [AgentCloseEvent];
}

/** Counters for metrics; a snapshot is returned by `AgentClient.counters`. */
export interface AgentClientCounters {
  audioChunksIn: number;
  audioBytesIn: number;
  audioChunksOut: number;
  audioBytesOut: number;
  /** Audio chunks dropped because their event id was below the interruption watermark. */
  staleChunksDropped: number;
  interruptions: number;
  pingsReceived: number;
  pongsSent: number;
  /** Sends attempted when the socket was not open (no-ops). */
  sendsAfterClose: number;
  protocolErrors: number;
  unknownMessages: number;
  lastPingRttMs: number | null;
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/** Options of `AgentClient.connect`. */
export interface AgentConnectOptions {
  /** Socket URL from `fetchSignedUrl` (a credential; never logged). */
  url: string;
  initiation?: AgentInitiation;
  /** Budget for socket open + `conversation_initiation_metadata`. */
  connectTimeoutMs: number;
  /** Per-call logger; the client logs lifecycle only, nothing per audio chunk. */
  log: Logger;
  /** Aborts the connect attempt only; once connected, use `close()`. */
  signal?: AbortSignal;
  /** Protocol-level ping interval; 0 disables. Default `DEFAULT_LIVENESS_INTERVAL_MS`. */
  livenessIntervalMs?: number;
  /** Default `DEFAULT_CLOSE_TIMEOUT_MS`. */
  closeTimeoutMs?: number;
  /** WebSocket sub-protocols to offer (the JS SDK offers `convai`); default none, like the Python SDK. */
  protocols?: string[];
  /**
   * Hold every event after the metadata until `resumeEvents()` (e.g. while the media path is built
   * from the formats). Pings are still answered and the watermark still applied meanwhile.
   * Default false: held events are delivered from the next macrotask.
   */
  holdEvents?: boolean;
}

type ClientState = 'connecting' | 'open' | 'closing' | 'closed';

/**
 * One agent conversation over one socket. Obtain with `AgentClient.connect`; the caller owns it and
 * must `close()` it (idempotent). Attach listeners synchronously after `await connect()`: events that
 * arrived together with the metadata are delivered from the next macrotask, so none are lost. If
 * listeners come later (after more awaits), connect with `holdEvents` and call `resumeEvents()`.
 */
export class AgentClient extends EventEmitter<AgentClientEvents> {
  readonly #ws: WebSocket;
  readonly #log: Logger;
  readonly #opts: AgentConnectOptions;
  #state: ClientState = 'connecting';
  #conversationId = '';
  #inputFormat: AgentAudioFormat = DEFAULT_USER_INPUT_AUDIO_FORMAT;
  #outputFormat: AgentAudioFormat = DEFAULT_USER_INPUT_AUDIO_FORMAT;
  #watermark = 0;
  #counters: AgentClientCounters = {
    audioChunksIn: 0,
    audioBytesIn: 0,
    audioChunksOut: 0,
    audioBytesOut: 0,
    staleChunksDropped: 0,
    interruptions: 0,
    pingsReceived: 0,
    pongsSent: 0,
    sendsAfterClose: 0,
    protocolErrors: 0,
    unknownMessages: 0,
    lastPingRttMs: null,
  };

  // connect
  #isConnectSettled = false;
  #isConnected = false;
  #connectTimer: NodeJS.Timeout | undefined;
  #resolveConnect: ((c: AgentClient) => void) | undefined;
  #rejectConnect: ((e: AgentConnectionError) => void) | undefined;
  #lastSocketError: Error | undefined;
  #lastAgentError: AgentErrorEvent | undefined;
  readonly #onAbort = (): void => this.#failConnect(this.#abortError());

  // events queued between metadata and the caller attaching listeners
  #pendingEvents: (() => void)[] | undefined;
  #flushImmediate: NodeJS.Immediate | undefined;

  // liveness and close
  #livenessTimer: NodeJS.Timeout | undefined;
  #isAlive = true;
  #closeInitiator: AgentCloseInitiator | undefined;
  #closeReasonOverride: string | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;

  private constructor(opts: AgentConnectOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.log;
    this.#ws = new WebSocket(opts.url, opts.protocols ?? [], { maxPayload: MAX_AGENT_FRAME_BYTES });
    this.#ws.on('open', this.#onOpen);
    this.#ws.on('message', this.#onMessage);
    this.#ws.on('error', this.#onError);
    this.#ws.on('close', this.#onClose);
    this.#ws.on('unexpected-response', this.#onUnexpectedResponse);
    this.#ws.on('pong', this.#onWsPong);
  }

  /**
   * Open the socket, send `conversation_initiation_client_data`, and resolve once
   * `conversation_initiation_metadata` arrived. Rejects with `AgentConnectionError`:
   * `AGENT_HANDSHAKE_TIMEOUT` (retryable), `AGENT_CONNECT_ABORTED`, `AGENT_AUTH_FAILED` / `AGENT_NOT_FOUND`
   * (HTTP upgrade refused), `AGENT_CONNECT_FAILED` (network; retryable), `AGENT_CLOSED_DURING_HANDSHAKE`
   * (close before metadata, with `closeCode`, e.g. 1008 override_error), `AGENT_UNSUPPORTED_AUDIO_FORMAT`.
   */
  static connect(opts: AgentConnectOptions): Promise<AgentClient> {
    if (opts.signal?.aborted === true) {
      return Promise.reject(
        new AgentConnectionError('AGENT_CONNECT_ABORTED', 'agent connect aborted', { cause: opts.signal.reason }),
      );
    }
    let client: AgentClient;
    try {
      client = new AgentClient(opts);
    } catch (err) {
      // `ws` throws synchronously on a malformed URL. Its message quotes the URL (a credential), so
      // neither the message nor the error is passed on.
      const name = err instanceof Error ? err.name : 'Error';
      return Promise.reject(new AgentConnectionError('AGENT_CONNECT_FAILED', `invalid agent socket URL (${name})`));
    }
    return new Promise<AgentClient>((resolve, reject) => {
      client.#resolveConnect = resolve;
      client.#rejectConnect = reject;
      client.#connectTimer = setTimeout(() => {
        const phase = client.#ws.readyState === WebSocket.CONNECTING ? 'socket open' : 'conversation metadata';
        client.#failConnect(
          new AgentConnectionError('AGENT_HANDSHAKE_TIMEOUT', `no ${phase} within ${opts.connectTimeoutMs} ms`, {
            retryable: true,
          }),
        );
      }, opts.connectTimeoutMs);
      opts.signal?.addEventListener('abort', client.#onAbort, { once: true });
    });
  }

  /** `conv_…` id from the metadata. */
  get conversationId(): string {
    return this.#conversationId;
  }

  /** Format the agent expects our audio in (`pcm_16000` when the server did not say). */
  get inputFormat(): AgentAudioFormat {
    return this.#inputFormat;
  }

  /** Format of the agent's audio events. */
  get outputFormat(): AgentAudioFormat {
    return this.#outputFormat;
  }

  /** Current interruption watermark: audio with a lower event id is dropped. */
  get watermark(): number {
    return this.#watermark;
  }

  /** True until the socket starts closing. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** Snapshot of the counters. */
  get counters(): Readonly<AgentClientCounters> {
    return { ...this.#counters };
  }

  /** Send caller audio, already in `inputFormat`. Returns false (and counts) if the socket is not open. */
  sendAudio(bytes: Buffer): boolean {
    if (!this.#canSend()) return false;
    this.#ws.send(encodeUserAudioChunk(bytes));
    this.#counters.audioChunksOut += 1;
    this.#counters.audioBytesOut += bytes.length;
    return true;
  }

  /** Reset the agent's turn timeout (caller present but silent). */
  sendUserActivity(): boolean {
    return this.#send({ type: 'user_activity' });
  }

  /** Non-interrupting context for the agent's LLM. */
  sendContextualUpdate(text: string): boolean {
    return this.#send({ type: 'contextual_update', text });
  }

  /** A user turn as text; interrupts the agent if it is speaking. */
  sendUserMessage(text: string): boolean {
    return this.#send({ type: 'user_message', text });
  }

  /** Answer a `clientToolCall`. `result` is sent as a string, as the protocol requires. */
  sendToolResult(toolCallId: string, result: string, isError = false): boolean {
    return this.#send({ type: 'client_tool_result', tool_call_id: toolCallId, result, is_error: isError });
  }

  /** Deliver events held since the metadata (see `holdEvents`), in order, now. Idempotent. */
  resumeEvents(): void {
    if (this.#pendingEvents !== undefined) this.#flushPending();
  }

  /**
   * Close with `code` (1000 or 3000–4999) and resolve once the socket is closed; `terminate()`s if the
   * server does not answer within the close timeout. Idempotent: every call returns the same promise.
   */
  close(code = 1000, reason = CLIENT_CLOSE_REASON): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#closed = new Promise<void>((resolve) => {
      if (this.#state === 'closed') {
        resolve();
        return;
      }
      this.#resolveClosed = resolve;
      if (this.#ws.readyState === WebSocket.OPEN) {
        this.#closeInitiator ??= 'client';
        this.#state = 'closing';
        this.#ws.close(code, reason);
      }
      this.#closeTimer = setTimeout(() => {
        this.#log.debug('agent socket close timed out; terminating');
        this.#ws.terminate();
      }, this.#opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    });
    return this.#closed;
  }

  // --- sending --------------------------------------------------------------------------------

  #send(m: AgentClientMessage): boolean {
    return this.#sendText(encodeAgentMessage(m));
  }

  #sendText(text: string): boolean {
    if (!this.#canSend()) return false;
    this.#ws.send(text);
    return true;
  }

  /** False (and counted) once we or the server started closing: sends then are no-ops, not errors. */
  #canSend(): boolean {
    // 'connecting' too: a ping may precede the metadata and must still be answered.
    const isUsable = this.#state === 'open' || this.#state === 'connecting';
    if (isUsable && this.#ws.readyState === WebSocket.OPEN) return true;
    this.#counters.sendsAfterClose += 1;
    return false;
  }

  // --- connect --------------------------------------------------------------------------------

  #abortError(): AgentConnectionError {
    return new AgentConnectionError('AGENT_CONNECT_ABORTED', 'agent connect aborted', {
      cause: this.#opts.signal?.reason,
    });
  }

  #settleConnect(): void {
    this.#isConnectSettled = true;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
  }

  #failConnect(err: AgentConnectionError): void {
    if (this.#isConnectSettled) return;
    this.#settleConnect();
    const reject = this.#rejectConnect;
    this.#resolveConnect = undefined;
    this.#rejectConnect = undefined;
    if (err.code === 'AGENT_CONNECT_ABORTED') this.#log.debug('agent connect aborted');
    else this.#log.warn({ code: err.code, closeCode: err.closeCode }, 'agent connect failed');
    if (this.#state !== 'closed') {
      this.#state = 'closing';
      this.#ws.terminate();
    }
    reject?.(err);
  }

  #succeedConnect(): void {
    if (this.#isConnectSettled) return;
    this.#settleConnect();
    const resolve = this.#resolveConnect;
    this.#resolveConnect = undefined;
    this.#rejectConnect = undefined;
    this.#state = 'open';
    this.#isConnected = true;
    this.#startLiveness();
    // Frames that came in the same TCP read as the metadata are emitted synchronously by `ws`,
    // before the caller's `await` resumes. Hold events until the next macrotask.
    this.#pendingEvents = [];
    if (this.#opts.holdEvents !== true) this.#flushImmediate = setImmediate(this.#flushPending);
    this.#log.info(
      { conversationId: this.#conversationId, inputFormat: this.#inputFormat, outputFormat: this.#outputFormat },
      'agent connected',
    );
    resolve?.(this);
  }

  readonly #flushPending = (): void => {
    clearImmediate(this.#flushImmediate);
    this.#flushImmediate = undefined;
    const pending = this.#pendingEvents ?? [];
    this.#pendingEvents = undefined;
    for (const deliver of pending) deliver();
  };

  #deliver(fn: () => void): void {
    if (this.#pendingEvents !== undefined) this.#pendingEvents.push(fn);
    else fn();
  }

  // --- socket handlers ------------------------------------------------------------------------

  readonly #onOpen = (): void => {
    this.#ws.send(encodeAgentMessage(buildInitiationMessage(this.#opts.initiation)));
    this.#log.debug('agent socket open; initiation sent');
  };

  readonly #onUnexpectedResponse = (_req: ClientRequest, res: IncomingMessage): void => {
    const status = res.statusCode ?? 0;
    res.resume();
    const message = `agent refused the WebSocket upgrade with HTTP ${status}`;
    const err =
      status === 401 || status === 403
        ? new AgentConnectionError('AGENT_AUTH_FAILED', message)
        : status === 404
          ? new AgentConnectionError('AGENT_NOT_FOUND', message)
          : new AgentConnectionError('AGENT_CONNECT_FAILED', message, { retryable: status === 429 || status >= 500 });
    this.#failConnect(err);
  };

  readonly #onError = (err: Error): void => {
    this.#lastSocketError = err;
    // During connect the rejection carries it; afterwards the close event follows. While closing
    // (our terminate(), e.g. an aborted connect) the error is our own doing: debug only.
    if (this.#state === 'open') this.#log.warn({ err }, 'agent socket error');
    else this.#log.debug({ err }, 'agent socket error while not open');
  };

  readonly #onWsPong = (): void => {
    this.#isAlive = true;
  };

  readonly #onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    const msg = decodeAgentMessage(data as AgentRawData, isBinary);
    if (msg instanceof AgentProtocolError) {
      this.#counters.protocolErrors += 1;
      if (this.#state === 'connecting' && msg.code === 'AGENT_UNSUPPORTED_AUDIO_FORMAT') {
        this.#failConnect(new AgentConnectionError(msg.code, msg.message, { cause: msg }));
        return;
      }
      this.#log.warn({ code: msg.code, detail: msg.message }, 'agent protocol error; message ignored');
      return;
    }
    if (this.#state === 'connecting') this.#handleBeforeMetadata(msg);
    else this.#handle(msg);
  };

  #handleBeforeMetadata(msg: AgentServerMessage): void {
    switch (msg.type) {
      case 'conversation_initiation_metadata':
        this.#conversationId = msg.conversationId;
        this.#outputFormat = msg.agentOutputAudioFormat;
        if (msg.userInputAudioFormat === undefined) {
          this.#log.debug({ fallback: DEFAULT_USER_INPUT_AUDIO_FORMAT }, 'metadata has no user_input_audio_format');
        }
        this.#inputFormat = msg.userInputAudioFormat ?? DEFAULT_USER_INPUT_AUDIO_FORMAT;
        this.#succeedConnect();
        return;
      case 'ping':
        this.#handle(msg);
        return;
      case 'error':
        this.#lastAgentError = toErrorEvent(msg);
        this.#log.warn({ code: msg.code, errorType: msg.errorType, shape: msg.shape }, 'agent error before metadata');
        return;
      default:
        this.#log.warn({ type: msg.type }, 'agent message before conversation metadata ignored');
    }
  }

  #handle(msg: AgentServerMessage): void {
    switch (msg.type) {
      case 'audio': {
        this.#counters.audioChunksIn += 1;
        this.#counters.audioBytesIn += msg.audio.length;
        // §6.4: drop only ids *below* the watermark; the reply to the interrupting turn carries the same id.
        if (msg.eventId < this.#watermark) {
          this.#counters.staleChunksDropped += 1;
          return;
        }
        const ev: AgentAudioEvent = { eventId: msg.eventId, bytes: msg.audio, format: this.#outputFormat };
        this.#deliver(() => this.emit('audio', ev));
        return;
      }
      case 'ping': {
        this.#counters.pingsReceived += 1;
        this.#counters.lastPingRttMs = msg.pingMs;
        if (this.#sendText(encodeAgentMessage({ type: 'pong', event_id: msg.eventId }))) this.#counters.pongsSent += 1;
        const ev: AgentPingEvent = { eventId: msg.eventId, rttMs: msg.pingMs };
        this.#deliver(() => this.emit('ping', ev));
        return;
      }
      case 'interruption': {
        this.#watermark = Math.max(this.#watermark, msg.eventId);
        this.#counters.interruptions += 1;
        const ev: AgentInterruptionEvent = { eventId: msg.eventId, watermark: this.#watermark };
        this.#deliver(() => this.emit('interruption', ev));
        return;
      }
      case 'user_transcript':
      case 'agent_response': {
        const ev: AgentTranscriptEvent = {
          role: msg.type === 'user_transcript' ? 'user' : 'agent',
          text: msg.text,
          eventId: msg.eventId,
          isCorrection: false,
        };
        this.#deliver(() => this.emit('transcript', ev));
        return;
      }
      case 'agent_response_correction': {
        const ev: AgentTranscriptEvent = {
          role: 'agent',
          text: msg.correctedText,
          eventId: msg.eventId,
          isCorrection: true,
          originalText: msg.originalText,
        };
        this.#deliver(() => this.emit('transcript', ev));
        return;
      }
      case 'client_tool_call': {
        const { type: _t, ...ev } = msg;
        this.#deliver(() => this.emit('clientToolCall', ev));
        return;
      }
      case 'agent_tool_request':
      case 'agent_tool_response': {
        const ev: AgentToolEvent = {
          toolName: msg.toolName,
          toolCallId: msg.toolCallId,
          toolType: msg.toolType,
          eventId: msg.eventId,
          isEndCall: msg.toolName === 'end_call',
        };
        if (msg.type === 'agent_tool_response') {
          ev.isError = msg.isError;
          if (ev.isEndCall) this.#log.info('agent ended the call (end_call)');
          this.#deliver(() => this.emit('agentToolResponse', ev));
        } else {
          this.#deliver(() => this.emit('agentToolRequest', ev));
        }
        return;
      }
      case 'error': {
        const ev = toErrorEvent(msg);
        this.#lastAgentError = ev;
        this.#log.warn({ code: msg.code, errorType: msg.errorType, shape: msg.shape }, 'agent error');
        this.#deliver(() => this.emit('agentError', ev));
        return;
      }
      case 'conversation_initiation_metadata':
        this.#log.warn('duplicate conversation metadata ignored');
        return;
      case 'tentative_user_transcript':
        return;
      case 'unknown':
        this.#counters.unknownMessages += 1;
        this.#log.debug({ type: msg.originalType }, 'agent message type ignored');
        return;
    }
  }

  readonly #onClose = (code: number, reasonBuf: Buffer): void => {
    const reason = this.#closeReasonOverride ?? reasonBuf.toString('utf8');
    const wasConnected = this.#isConnected;
    this.#state = 'closed';
    clearInterval(this.#livenessTimer);
    this.#livenessTimer = undefined;
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#ws.removeAllListeners();
    // Defensive: an 'error' without a listener would crash the process.
    this.#ws.on('error', (err) => this.#log.debug({ err }, 'agent socket error after close'));

    if (!this.#isConnectSettled) {
      this.#failConnect(this.#closedDuringHandshakeError(code, reason));
    }
    if (wasConnected) {
      const initiatedBy: AgentCloseInitiator = this.#closeInitiator ?? (code === 1006 ? 'network' : 'agent');
      const ev: AgentCloseEvent = { code, reason, initiatedBy, lastError: this.#lastAgentError };
      this.#log.info({ code, reason, initiatedBy, counters: this.#counters }, 'agent socket closed');
      this.#deliver(() => this.emit('close', ev));
    }
    const resolve = this.#resolveClosed;
    this.#resolveClosed = undefined;
    // Let queued events (including 'close') reach listeners before close() resolves.
    if (this.#flushImmediate !== undefined) setImmediate(() => resolve?.());
    else resolve?.();
  };

  #closedDuringHandshakeError(code: number, reason: string): AgentConnectionError {
    if (code === 1006) {
      return new AgentConnectionError('AGENT_CONNECT_FAILED', 'agent socket failed before conversation metadata', {
        closeCode: code,
        retryable: true,
        cause: this.#lastSocketError,
      });
    }
    const errorType = this.#lastAgentError?.errorType;
    const detail = [errorType, reason].filter((s) => s !== undefined && s !== '').join(': ');
    return new AgentConnectionError(
      'AGENT_CLOSED_DURING_HANDSHAKE',
      `agent closed the socket before conversation metadata (${code}${detail === '' ? '' : ` ${detail}`})`,
      { closeCode: code, retryable: code === 1011 },
    );
  }

  #startLiveness(): void {
    const intervalMs = this.#opts.livenessIntervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS;
    if (intervalMs <= 0) return;
    this.#isAlive = true;
    this.#livenessTimer = setInterval(() => {
      if (!this.#isAlive) {
        this.#log.warn({ intervalMs }, 'agent socket missed a pong; terminating');
        this.#closeInitiator = 'network';
        this.#closeReasonOverride = 'liveness timeout';
        this.#ws.terminate();
        return;
      }
      this.#isAlive = false;
      this.#ws.ping();
    }, intervalMs);
  }
}

function toErrorEvent(msg: Extract<AgentServerMessage, { type: 'error' }>): AgentErrorEvent {
  return { shape: msg.shape, message: msg.message, code: msg.code, errorType: msg.errorType };
}
