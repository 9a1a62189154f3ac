/**
 * The `ws` shell of the agent connection: one socket, its liveness pings and its close handshake.
 * It knows nothing of the conversation; src/agent/agent-client.ts drives it.
 *
 *   new ──► connecting ──open──► open ──close()──► closing ──close frame / timeout──► closed
 *                │                 │ drop, liveness timeout, server close           ▲
 *                └── refused upgrade, error ───────────────────────────────────────┘
 *
 * Every timer is cleared and every listener removed on the way to `closed`; `onClose` runs once.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { Logger } from 'pino';

/**
 * Largest inbound frame accepted. The biggest legitimate frame is one audio chunk (a few hundred ms
 * of speech, well under 100 KiB as base64); anything near this is refused by `ws` before it is
 * buffered whole, and the socket closes with 1009.
 */
export const MAX_AGENT_FRAME_BYTES = 512 * 1024;
/** Default interval of WebSocket protocol-level pings; a missing pong by the next tick terminates. */
export const DEFAULT_LIVENESS_INTERVAL_MS = 15_000;
/**
 * Most bytes that may wait in the socket's send buffer (`ws.bufferedAmount`: what the kernel has not
 * taken yet). Caller audio is about 60 KB/s as JSON and base64 (`pcm_16000`), so this is about 16 s
 * from an agent server that stopped reading. Past it the socket is ended as a network failure (the
 * call ends as an agent error), instead of this process's memory growing for as long as the call
 * lasts.
 */
export const MAX_SEND_BUFFER_BYTES = 1024 * 1024;
/** How long `close()` waits for the server's close frame before `terminate()`. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/** Who ended the socket: the agent (close frame), us (`close()`), or nobody cleanly (drop, liveness). */
export type AgentCloseInitiator = 'agent' | 'client' | 'network';

/** What the socket reports; each handler runs on the socket's own events. */
export interface AgentSocketHandlers {
  onOpen(): void;
  onMessage(data: WebSocket.RawData, isBinary: boolean): void;
  /** The server refused the upgrade with this HTTP status. `onClose` follows. */
  onUpgradeRefused(status: number): void;
  /** Exactly once. */
  onClose(code: number, reason: string, initiatedBy: AgentCloseInitiator, lastError: Error | undefined): void;
}

export interface AgentSocketOptions {
  url: string;
  protocols?: string[];
  log: Logger;
  /** Protocol-level ping interval once `startLiveness()` is called; 0 disables. */
  livenessIntervalMs?: number;
  closeTimeoutMs?: number;
  /** Default MAX_SEND_BUFFER_BYTES. */
  maxSendBufferBytes?: number;
}

/** One WebSocket to the agent. The owner must `close()` or `terminate()` it. */
export class AgentSocket {
  readonly #ws: WebSocket;
  readonly #log: Logger;
  readonly #options: AgentSocketOptions;
  readonly #handlers: AgentSocketHandlers;
  #livenessTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #isAlive = true;
  #initiator: AgentCloseInitiator | undefined;
  #reasonOverride: string | undefined;
  #lastError: Error | undefined;
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #isClosed = false;

  /** Throws synchronously on a malformed URL (its message quotes the URL: never log it). */
  constructor(options: AgentSocketOptions, handlers: AgentSocketHandlers) {
    this.#options = options;
    this.#log = options.log;
    this.#handlers = handlers;
    // No compression: `ws` offers permessage-deflate by default, and a server that accepts it makes
    // each 20 ms frame cost about 20 times the CPU (base64 audio barely compresses) and each socket
    // hold its own zlib state (docs/performance.md#websocket-compression).
    this.#ws = new WebSocket(options.url, options.protocols ?? [], { maxPayload: MAX_AGENT_FRAME_BYTES, perMessageDeflate: false });
    this.#ws.on('open', () => handlers.onOpen());
    this.#ws.on('message', (data, isBinary) => handlers.onMessage(data, isBinary));
    this.#ws.on('error', this.#onError);
    this.#ws.on('close', this.#onClose);
    this.#ws.on('unexpected-response', this.#onUnexpectedResponse);
    this.#ws.on('pong', () => {
      this.#isAlive = true;
    });
  }

  /** True while frames can be sent. */
  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN && this.#initiator === undefined;
  }

  /** True before the socket opened. */
  get isConnecting(): boolean {
    return this.#ws.readyState === WebSocket.CONNECTING;
  }

  /** Sends a text frame; false (a no-op) once the socket is not open. */
  send(text: string): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN || this.#isClosed) return false;
    this.#ws.send(text);
    const maxBytes = this.#options.maxSendBufferBytes ?? MAX_SEND_BUFFER_BYTES;
    if (this.#ws.bufferedAmount > maxBytes) {
      this.#log.warn({ bufferedBytes: this.#ws.bufferedAmount, maxBytes }, 'agent socket send buffer full: the agent is not reading; terminating');
      this.#initiator ??= 'network';
      this.#reasonOverride = 'send buffer full';
      this.#ws.terminate();
    }
    return true;
  }

  /** Pings every `livenessIntervalMs`; a missing pong by the next tick terminates the socket. */
  startLiveness(): void {
    const intervalMs = this.#options.livenessIntervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS;
    if (intervalMs <= 0 || this.#livenessTimer !== undefined) return;
    this.#isAlive = true;
    this.#livenessTimer = setInterval(() => {
      if (!this.#isAlive) {
        this.#log.warn({ intervalMs }, 'agent socket missed a pong; terminating');
        this.#initiator ??= 'network';
        this.#reasonOverride = 'liveness timeout';
        this.#ws.terminate();
        return;
      }
      this.#isAlive = false;
      this.#ws.ping();
    }, intervalMs);
  }

  /**
   * Close with `code` and resolve once the socket is closed; `terminate()`s if the server does not
   * answer within the close timeout. Idempotent: every call returns the same promise.
   */
  close(code: number, reason: string): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (this.#isClosed) {
        resolve();
        return;
      }
      this.#resolveClosed = resolve;
      if (this.#ws.readyState === WebSocket.OPEN) {
        this.#initiator ??= 'client';
        this.#ws.close(code, reason);
      } else {
        this.#ws.terminate();
      }
      this.#closeTimer = setTimeout(() => {
        this.#log.debug('agent socket close timed out; terminating');
        this.#ws.terminate();
      }, this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    });
    return this.#closed;
  }

  /** Drops the connection at once (a failed or aborted connect). */
  terminate(): void {
    this.#initiator ??= 'client';
    this.#ws.terminate();
  }

  readonly #onUnexpectedResponse = (_req: ClientRequest, res: IncomingMessage): void => {
    res.resume();
    this.#handlers.onUpgradeRefused(res.statusCode ?? 0);
  };

  readonly #onError = (err: Error): void => {
    this.#lastError = err;
    // While open, the close event follows; otherwise the owner reports it with the connect failure.
    if (this.#ws.readyState === WebSocket.OPEN && this.#initiator === undefined) this.#log.warn({ err }, 'agent socket error');
    else this.#log.debug({ err }, 'agent socket error while not open');
  };

  readonly #onClose = (code: number, reasonBuffer: Buffer): void => {
    this.#isClosed = true;
    clearInterval(this.#livenessTimer);
    this.#livenessTimer = undefined;
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#ws.removeAllListeners();
    // An 'error' without a listener would crash the process.
    this.#ws.on('error', (err) => this.#log.debug({ err }, 'agent socket error after close'));
    const initiatedBy = this.#initiator ?? (code === 1006 ? 'network' : 'agent');
    this.#handlers.onClose(code, this.#reasonOverride ?? reasonBuffer.toString('utf8'), initiatedBy, this.#lastError);
    const resolve = this.#resolveClosed;
    this.#resolveClosed = undefined;
    resolve?.();
  };
}
