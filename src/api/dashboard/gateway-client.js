// @ts-check
/* global fetch, EventSource, AbortSignal, sessionStorage, setTimeout, clearTimeout, console */
/**
 * The dashboard's side of the gateway: the JSON API with the bearer token, and the live event
 * stream with reconnect. No DOM here.
 *
 * The token lives in sessionStorage (this tab only). It is sent as `Authorization: Bearer`, and as
 * `?access_token=` for the EventSource, which cannot set headers (RFC 6750 §2.3).
 */

/**
 * Wire shapes (snake_case, as the REST API and /api/events send them).
 * @typedef {{ packets: number, bytes: number }} Counters
 * @typedef {{ caller_to_ai: Counters, ai_to_caller: Counters, resampling_ops: number, errors: number }} Metrics
 * @typedef {{ role: 'user' | 'agent', text: string, at: string }} TranscriptLine
 * @typedef {{
 *   id: string, phone_number: string, status: string, conversation_id: string | null,
 *   created_at: string, answered_at: string | null, ended_at: string | null,
 *   hangup_cause: number | null, hangup_cause_text: string | null, end_reason: string | null,
 *   error: string | null, transcript: TranscriptLine[], metrics: Metrics
 * }} CallView
 * @typedef {{ calls: CallView[], next_cursor: string | null }} CallList
 * @typedef {{ status: string, ari: string, active_calls: number, version: string }} Health
 */

const TOKEN_KEY = 'voice-gateway.api-token';
const REQUEST_TIMEOUT_MS = 10_000;
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30_000;
/** The Date header has 1 s resolution: only a clearly skewed client clock is corrected. */
const MIN_CLOCK_SKEW_MS = 2000;

/** The token of this tab. */
export const tokenStore = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  /** @param {string} token */
  set: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A failed API request; `status` 0 when the gateway did not answer at all. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The REST API of the gateway, with the token. */
export class GatewayClient {
  #token;
  #onUnauthorized;

  /**
   * @param {{ token: string, onUnauthorized: () => void }} options `onUnauthorized` runs on every 401
   */
  constructor(options) {
    this.#token = options.token;
    this.#onUnauthorized = options.onUnauthorized;
  }

  get token() {
    return this.#token;
  }

  set token(token) {
    this.#token = token;
  }

  /** URL of the event stream, token included. */
  eventsUrl() {
    return this.#token ? `/api/events?access_token=${encodeURIComponent(this.#token)}` : '/api/events';
  }

  /**
   * @param {readonly string[]} statuses
   * @param {number} limit
   * @returns {Promise<CallList>}
   */
  async listCalls(statuses, limit) {
    const query = [...statuses.map((s) => `status=${encodeURIComponent(s)}`), `limit=${limit}`].join('&');
    return /** @type {CallList} */ (await this.request('GET', `/api/calls?${query}`));
  }

  /**
   * @param {string} id
   * @returns {Promise<CallView>}
   */
  async getCall(id) {
    return /** @type {CallView} */ (await this.request('GET', callPath(id)));
  }

  /**
   * @param {string} phoneNumber
   * @returns {Promise<CallView>}
   */
  async placeCall(phoneNumber) {
    return /** @type {CallView} */ (await this.request('POST', '/api/calls', { phone_number: phoneNumber }));
  }

  /**
   * @param {string} id
   * @returns {Promise<CallView>}
   */
  async hangUp(id) {
    return /** @type {CallView} */ (await this.request('DELETE', callPath(id)));
  }

  /**
   * GET /health (public; 200 and 503 alike carry the body), and the server clock's offset from ours.
   * @returns {Promise<{ health: Health, clockOffsetMs: number }>}
   */
  async health() {
    const res = await fetch('/health', { cache: 'no-store', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const serverMs = Date.parse(res.headers.get('date') ?? '');
    const offsetMs = Number.isFinite(serverMs) ? serverMs - Date.now() : 0;
    return { health: /** @type {Health} */ (await res.json()), clockOffsetMs: Math.abs(offsetMs) > MIN_CLOCK_SKEW_MS ? offsetMs : 0 };
  }

  /**
   * A JSON request; non-2xx answers throw ApiError with the server's message.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<unknown>}
   */
  async request(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ApiError(0, `the gateway did not answer (${err instanceof Error ? err.message : String(err)})`);
    }
    /** @type {unknown} */
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null; // an empty or non-JSON body: the status says enough
    }
    if (res.ok) return data;
    if (res.status === 401) this.#onUnauthorized();
    const message = typeof data === 'object' && data !== null && 'message' in data && typeof data.message === 'string' ? data.message : res.statusText;
    const retryAfterS = res.headers.get('retry-after');
    throw new ApiError(res.status, retryAfterS ? `${message} (retry in ${retryAfterS} s)` : message);
  }
}

/** @param {string} id */
function callPath(id) {
  return `/api/calls/${encodeURIComponent(id)}`;
}

/**
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'stopped'} StreamState
 * @typedef {{
 *   url: () => string,
 *   probe: () => Promise<boolean>,
 *   onEvent: (event: unknown) => void,
 *   onOpen: () => void,
 *   onState: (state: StreamState, retryInMs?: number) => void,
 * }} LiveEventsOptions
 */

/**
 * The live event stream: one EventSource at a time. EventSource retries a dropped connection by
 * itself but gives up on HTTP errors (401, 503) without saying which, so on any error: close it,
 * wait with exponential backoff and jitter, ask `probe` whether to go on (false: stop, e.g. the
 * token was rejected), and open a new one. `onOpen` runs on every (re)connect: events may have been
 * missed, so the caller re-syncs.
 */
export class LiveEvents {
  /** @type {EventSource | null} */
  #source = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  #delayMs = RECONNECT_MIN_MS;
  #isRunning = false;
  #options;

  /** @param {LiveEventsOptions} options */
  constructor(options) {
    this.#options = options;
  }

  start() {
    this.#isRunning = true;
    this.#open();
  }

  /** Close the stream and cancel a pending reconnect. Idempotent. */
  stop() {
    this.#isRunning = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#close();
    this.#options.onState('stopped');
  }

  #open() {
    clearTimeout(this.#timer);
    this.#close();
    const source = new EventSource(this.#options.url());
    this.#source = source;
    this.#options.onState('connecting');
    source.onopen = () => {
      this.#delayMs = RECONNECT_MIN_MS;
      this.#options.onState('live');
      this.#options.onOpen();
    };
    source.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (err) {
        console.warn('unreadable event', err);
        return;
      }
      this.#options.onEvent(data);
    };
    source.onerror = () => {
      if (this.#source !== source) return;
      this.#close();
      this.#scheduleReconnect();
    };
  }

  #close() {
    const source = this.#source;
    if (source === null) return;
    source.onopen = source.onmessage = source.onerror = null;
    source.close();
    this.#source = null;
  }

  #scheduleReconnect() {
    if (!this.#isRunning) return;
    const delayMs = Math.round(this.#delayMs * (0.8 + Math.random() * 0.4)); // jitter: tabs do not reconnect in step
    this.#delayMs = Math.min(this.#delayMs * 2, RECONNECT_MAX_MS);
    this.#options.onState('reconnecting', delayMs);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#options.probe().then(
        (shouldReconnect) => {
          if (!this.#isRunning) return;
          if (shouldReconnect) this.#open();
          else this.stop();
        },
        () => this.#scheduleReconnect(),
      );
    }, delayMs);
  }
}
