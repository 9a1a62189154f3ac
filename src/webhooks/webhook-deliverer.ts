/**
 * Posts the outbox's webhook events (docs/webhooks.md), off the call path entirely: its own loop on
 * timers, at most `concurrency` requests at a time, each with a deadline. Calls only ever write
 * outbox rows with their records; a slow, failing or absent receiver changes nothing for them.
 *
 *   pass (every pollMs, or at once when woken) ──► claimDue (leased) ──► POST, signed
 *     2xx ─────────────────────────────────────► delivered (row removed)
 *     else, attempts < max ────────────────────► retry at now + backoff (exponential, capped, jittered)
 *     else ────────────────────────────────────► dead letter (listed by the API)
 *
 * At least once: a row leaves the outbox only after a 2xx. A crash mid-request leaves it leased;
 * it is posted again when the lease ends (timeout + 1 s), with the same event id.
 */
import type { Logger } from 'pino';
import { PassLoop } from '../lifecycle/pass-loop';
import type { OutboxDelivery, WebhookOutbox } from '../store/webhook-outbox';
import { ATTEMPT_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature';

/** What the deliverer reports to the metrics (IntegrationMetrics implements it). */
export interface WebhookDeliveryObserver {
  webhookAttempt(outcome: 'delivered' | 'retried' | 'failed'): void;
  webhookBacklog(backlog: { pending: number; oldestPendingAgeMs: number; dead: number }): void;
}

export interface WebhookDelivererOptions {
  outbox: WebhookOutbox;
  /** WEBHOOK_URLS now: rows for a destination no longer listed are dead-lettered, never posted. */
  destinations: readonly string[];
  /** WEBHOOK_SECRET (never logged). */
  secret: string;
  /** WEBHOOK_TIMEOUT_MS: one request, headers and body. */
  timeoutMs: number;
  /** WEBHOOK_MAX_ATTEMPTS: attempts before an event is dead-lettered. */
  maxAttempts: number;
  /** Backoff after the n-th failure: min(maxMs, minMs × 2^(n-1)), then a random half to all of it. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Requests in flight at most. */
  concurrency: number;
  log: Logger;
  observer?: WebhookDeliveryObserver;
  /** How often the outbox is looked at when nothing wakes the deliverer. Default 1000. */
  pollMs?: number;
  userAgent?: string;
  nowMs?: () => number;
  random?: () => number;
  fetch?: typeof fetch;
}

/** Stats are read at most this often (they feed gauges). */
const STATS_INTERVAL_MS = 1000;
/** A lease outlives the request's deadline by this much. */
const LEASE_MARGIN_MS = 1000;

export class WebhookDeliverer {
  readonly #o: WebhookDelivererOptions;
  readonly #nowMs: () => number;
  readonly #random: () => number;
  readonly #fetch: typeof fetch;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  readonly #loop = new PassLoop(() => this.#runPass());
  #lastStatsMs = -Infinity;
  #isOutboxFailing = false;

  constructor(options: WebhookDelivererOptions) {
    this.#o = options;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Deliveries in flight now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  start(): void {
    if (this.#stopping.signal.aborted) return;
    this.#loop.start();
  }

  /** Look at the outbox now (new rows were written, or a delivery finished). */
  wake(): void {
    this.#loop.wake();
  }

  /**
   * Stops taking rows, aborts requests still running after `graceMs` and waits for them to settle
   * their rows. What was not delivered stays in the outbox for the next start. Idempotent.
   */
  async stop(graceMs = this.#o.timeoutMs): Promise<void> {
    await this.#loop.stop();
    if (this.#inFlight.size > 0) {
      const grace = setTimeout(() => this.#stopping.abort(), graceMs);
      await Promise.allSettled([...this.#inFlight]);
      clearTimeout(grace);
    }
    this.#stopping.abort();
  }

  /** One look at the outbox. Never rejects. */
  async #runPass(): Promise<void> {
    const o = this.#o;
    const free = o.concurrency - this.#inFlight.size;
    if (free > 0) {
      let due: OutboxDelivery[] = [];
      try {
        due = await o.outbox.claimDue(this.#nowMs(), o.timeoutMs + LEASE_MARGIN_MS, free);
        if (this.#isOutboxFailing) o.log.info('webhook outbox readable again');
        this.#isOutboxFailing = false;
      } catch (err) {
        if (!this.#isOutboxFailing) o.log.warn({ err }, 'webhook outbox cannot be read; retrying');
        this.#isOutboxFailing = true;
      }
      for (const delivery of due) {
        const done: Promise<void> = this.#deliver(delivery).finally(() => {
          this.#inFlight.delete(done);
          this.wake();
        });
        this.#inFlight.add(done);
      }
    }
    await this.#refreshStats();
    this.#loop.next(o.pollMs ?? 1000);
  }

  /** One attempt of one row, and its outcome written back. Never rejects. */
  async #deliver(d: OutboxDelivery): Promise<void> {
    const o = this.#o;
    const where = originOf(d.destination);
    if (!o.destinations.includes(d.destination)) {
      await this.#settle(d, () => o.outbox.deadLetter(d.seq, d.attempts, 'the destination is no longer in WEBHOOK_URLS', this.#nowMs()));
      o.observer?.webhookAttempt('failed');
      o.log.warn({ eventId: d.eventId, type: d.type, destination: where }, 'webhook dead-lettered: its destination is no longer configured');
      return;
    }
    const attempt = d.attempts + 1;
    const error = await this.#post(d, attempt);
    if (error === undefined) {
      await this.#settle(d, () => o.outbox.delivered(d.seq));
      o.observer?.webhookAttempt('delivered');
      o.log.debug({ eventId: d.eventId, type: d.type, destination: where, attempt }, 'webhook delivered');
      return;
    }
    if (this.#stopping.signal.aborted) {
      // Cut short by our own shutdown: not the receiver's fault, so the attempt does not count.
      await this.#settle(d, () => o.outbox.retryLater(d.seq, d.attempts, this.#nowMs(), 'the gateway stopped during the delivery'));
      return;
    }
    if (attempt >= o.maxAttempts) {
      await this.#settle(d, () => o.outbox.deadLetter(d.seq, attempt, error, this.#nowMs()));
      o.observer?.webhookAttempt('failed');
      o.log.warn({ eventId: d.eventId, type: d.type, destination: where, attempts: attempt, error }, 'webhook dead-lettered after its last attempt');
      return;
    }
    const delayMs = this.#backoffMs(attempt);
    await this.#settle(d, () => o.outbox.retryLater(d.seq, attempt, this.#nowMs() + delayMs, error));
    o.observer?.webhookAttempt('retried');
    o.log.info({ eventId: d.eventId, type: d.type, destination: where, attempt, error, retryInMs: delayMs }, 'webhook delivery failed; will retry');
  }

  /** POSTs the row, signed now. Undefined on a 2xx, else why it failed. */
  async #post(d: OutboxDelivery, attempt: number): Promise<string | undefined> {
    const o = this.#o;
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(o.timeoutMs)]);
    try {
      const res = await this.#fetch(d.destination, {
        method: 'POST',
        body: d.body,
        // A redirect is a failure: the gateway posts only to the configured addresses.
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': o.userAgent ?? 'voice-gateway',
          [EVENT_ID_HEADER]: d.eventId,
          [EVENT_TYPE_HEADER]: d.type,
          [ATTEMPT_HEADER]: String(attempt),
          [SIGNATURE_HEADER]: signatureHeader(o.secret, Math.floor(this.#nowMs() / 1000), d.body),
        },
      });
      // The answer's body is not read: a receiver cannot make us hold its data.
      await res.body?.cancel().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      return describeFailure(err, o.timeoutMs);
    }
  }

  /** Writes a row's outcome; a store that fails leaves the lease to expire (the row is tried again). */
  async #settle(d: OutboxDelivery, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      this.#o.log.warn({ err, eventId: d.eventId }, 'webhook outcome not written; the event will be tried again');
    }
  }

  #backoffMs(attempt: number): number {
    const base = Math.min(this.#o.retryMaxMs, this.#o.retryMinMs * 2 ** (attempt - 1));
    return Math.round(base / 2 + (this.#random() * base) / 2);
  }

  async #refreshStats(): Promise<void> {
    const observer = this.#o.observer;
    const now = this.#nowMs();
    if (observer === undefined || now - this.#lastStatsMs < STATS_INTERVAL_MS) return;
    this.#lastStatsMs = now;
    try {
      const s = await this.#o.outbox.stats();
      observer.webhookBacklog({ pending: s.pending, dead: s.dead, oldestPendingAgeMs: s.oldestPendingCreatedMs === null ? 0 : Math.max(0, now - s.oldestPendingCreatedMs) });
    } catch {
      // The outbox failing is reported by the pass itself.
    }
  }
}

/** Scheme, host and port: what is logged of a destination (its path or query may hold a token). */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

function describeFailure(err: unknown, timeoutMs: number): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (err.name === 'AbortError') return 'aborted';
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${err.message} (${code})` : err.message;
}
