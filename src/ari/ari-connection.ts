import { EventEmitter } from 'node:events';
import ari, { type Client } from 'ari-client';
import type { Logger } from 'pino';
import { AriError, ServiceUnavailableError } from '../errors';
import { toAriEvent, type AriEvent } from './ari-events';

export type AriConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export interface AriConnectionOptions {
  url: string;
  username: string;
  password: string;
  app: string;
  log: Logger;
  /** First retry delay; doubles up to `maxRetryDelayMs`. */
  initialRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** For tests: the ari-client `connect` function. */
  connectFn?: typeof ari.connect;
}

interface AriConnectionEvents {
  /** The events socket is up (first time or after any reconnect). `isReconnect` is false the first time. */
  connected: [isReconnect: boolean];
  /** The events socket dropped; REST calls may fail until `connected`. */
  disconnected: [];
  event: [AriEvent];
}

/**
 * One ARI client for the process, connected for as long as the service runs.
 *
 * ari-client reconnects its WebSocket by itself but gives up after 10 tries (about 43 s) and cannot
 * connect at all if Asterisk is down when we start. This wrapper retries forever with capped
 * exponential backoff, building a fresh client whenever the old one gave up, so Asterisk and the
 * service can start in any order and Asterisk can restart under us.
 */
export class AriConnection extends EventEmitter<AriConnectionEvents> {
  readonly #opts: Required<Omit<AriConnectionOptions, 'connectFn'>> & { connectFn: typeof ari.connect };
  #client: Client | undefined;
  #state: AriConnectionState = 'idle';
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs: number;
  #hasConnectedOnce = false;
  #reconnects = 0;

  constructor(options: AriConnectionOptions) {
    super();
    this.#opts = {
      initialRetryDelayMs: 500,
      maxRetryDelayMs: 10_000,
      connectFn: ari.connect,
      ...options,
    };
    this.#retryDelayMs = this.#opts.initialRetryDelayMs;
  }

  get state(): AriConnectionState {
    return this.#state;
  }

  get isConnected(): boolean {
    return this.#state === 'connected';
  }

  /** Times the events socket came back after being lost. */
  get reconnectCount(): number {
    return this.#reconnects;
  }

  /**
   * The REST client. Throws ServiceUnavailableError unless the events socket is up: while it is
   * down Asterisk is likely unreachable, and ari-client requests to an unreachable Asterisk never
   * settle. What fails meanwhile is repaired by the reconcile after the reconnect.
   */
  get client(): Client {
    if (!this.#client || this.#state !== 'connected') {
      throw new ServiceUnavailableError('ARI_UNAVAILABLE', 'Asterisk (ARI) is not connected');
    }
    return this.#client;
  }

  /** Starts connecting in the background. Never rejects: failures are retried and logged. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'connecting';
    this.#attemptInBackground();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    clearTimeout(this.#retryTimer);
    this.#dropClient();
  }

  // A method, not an inline comparison: TypeScript narrows #state across awaits and would call the check dead.
  #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  async #attempt(): Promise<void> {
    if (this.#state === 'stopped') return;
    const { url, username, password, app, log } = this.#opts;
    let client: Client | undefined;
    try {
      // ari-client's swagger loader throws a wrong password out of a callback, crashing the process:
      // check the credentials ourselves first, so a 401 is an ordinary, retried failure.
      await checkAriCredentials(url, username, password);
      if (this.#isStopped()) return;
      client = await withoutSwaggerNotice(() => this.#opts.connectFn(url, username, password));
      if (this.#isStopped()) return;
      this.#client = client;
      this.#wire(client);
      await client.start(app);
      if (this.#isStopped()) {
        this.#dropClient();
        return;
      }
      this.#onSocketUp();
    } catch (err) {
      if (this.#isStopped()) return;
      if (client) this.#dropClient();
      log.warn({ err: describeError(err), retryInMs: this.#retryDelayMs, url: withoutUserinfo(url) }, 'ARI connect failed');
      this.#scheduleRetry();
    }
  }

  #wire(client: Client): void {
    const { log } = this.#opts;
    // One client-level listener; per-call routing happens in AriEventRouter. The typings list only
    // named events, so the client is viewed as the EventEmitter it is.
    const emitter = client as unknown as EventEmitter;
    emitter.on('*', (raw: unknown) => {
      const event = toAriEvent(raw);
      if (event) this.emit('event', event);
    });
    emitter.on('WebSocketConnected', () => {
      // Also fires for the first open, which #attempt reports itself.
      if (this.#state === 'reconnecting') this.#onSocketUp();
    });
    emitter.on('WebSocketReconnecting', () => {
      if (this.#state === 'connected') {
        log.warn('ARI events socket lost; reconnecting');
        this.#state = 'reconnecting';
        this.emit('disconnected');
      }
    });
    emitter.on('WebSocketMaxRetries', () => {
      if (this.#state === 'stopped') return;
      log.warn('ARI client gave up reconnecting; starting a new client');
      if (this.#state === 'connected') this.emit('disconnected');
      this.#state = 'reconnecting';
      this.#dropClient();
      this.#scheduleRetry();
    });
    emitter.on('APILoadError', (err: unknown) => log.warn({ err: describeError(err) }, 'ARI API load error'));
  }

  #onSocketUp(): void {
    const isReconnect = this.#hasConnectedOnce;
    this.#hasConnectedOnce = true;
    if (isReconnect) this.#reconnects += 1;
    this.#state = 'connected';
    this.#retryDelayMs = this.#opts.initialRetryDelayMs;
    this.#opts.log.info({ app: this.#opts.app, isReconnect }, 'ARI connected');
    this.emit('connected', isReconnect);
  }

  /** `#attempt` handles its own failures; a rejection here would be a bug, logged rather than lost. */
  #attemptInBackground(): void {
    this.#attempt().catch((err: unknown) => this.#opts.log.error({ err }, 'ARI connect attempt failed unexpectedly'));
  }

  #scheduleRetry(): void {
    if (this.#state === 'stopped') return;
    if (this.#state === 'connected') {
      this.#state = 'reconnecting';
      this.emit('disconnected');
    }
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#attemptInBackground(), this.#retryDelayMs);
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, this.#opts.maxRetryDelayMs);
  }

  #dropClient(): void {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    (client as unknown as EventEmitter).removeAllListeners();
    try {
      (client as unknown as { stop(): void }).stop();
    } catch (err) {
      this.#opts.log.debug({ err: describeError(err) }, 'ARI client stop failed');
    }
  }
}

/**
 * ari-client errors carry the raw response body as their message and its events socket URL holds
 * the password (`api_key=user:pass`); fetch quotes a URL with `user:pass@` in its TypeError. So
 * errors are reduced to a safe message before logging.
 */
export function describeError(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) {
    const message = err.message.replace(/api_key=[^&\s]*/g, 'api_key=[redacted]').replace(/\/\/[^/@\s]*@/g, '//[redacted]@');
    const code = (err as NodeJS.ErrnoException).code;
    return code ? { message, code } : { message };
  }
  return { message: String(err) };
}

/**
 * `url` without its user and password, for logs. loadConfig refuses an ARI_URL with them; this
 * keeps them out of the log should one arrive another way. Unparsable input is not echoed.
 */
export function withoutUserinfo(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '[not a URL]';
  }
}

/**
 * ari-client's bundled swagger-client prints "This API is using a deprecated version of Swagger!"
 * with console.log on every connect, which would break our JSON log stream on stdout. Only that
 * notice is dropped; anything else logged meanwhile goes through.
 */
async function withoutSwaggerNotice<T>(fn: () => Promise<T>): Promise<T> {
  const original = console.log;
  console.log = (...args: unknown[]): void => {
    if (args.some((a) => String(a).includes('deprecated version of Swagger'))) return;
    original(...args);
  };
  try {
    return await fn();
  } finally {
    console.log = original;
  }
}

/** GET /ari/asterisk/info with the credentials: resolves when ARI answers 200; throws AriError otherwise. */
async function checkAriCredentials(url: string, username: string, password: string): Promise<void> {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  const res = await fetch(`${url}/ari/asterisk/info`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(5000) });
  await res.body?.cancel();
  if (res.status === 401 || res.status === 403) {
    throw new AriError('ARI_AUTH_FAILED', `ARI rejected user "${username}" (HTTP ${res.status}): check ARI_USERNAME / ARI_PASSWORD`, { status: res.status });
  }
  if (!res.ok) throw new AriError('ARI_UNREACHABLE', `ARI answered HTTP ${res.status}`, { status: res.status, retryable: true });
}
