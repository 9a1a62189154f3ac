/**
 * The one place that decides whether a new leg may exist: outbound calls from the API, inbound
 * calls from the trunk, and transfer legs dialled for an agent. Every leg holds a ticket from
 * reservation until it is gone, so MAX_CONCURRENT_CALLS counts all three, and nothing else counts.
 *
 * Pure bookkeeping: no I/O, time only through the rate limiters' injected clocks.
 */
import { RateLimitError, ServiceUnavailableError } from '../errors';
import type { RateLimiter } from '../policy/rate-limiter';
import type { EndReason } from './hangup-cause';

export type LegKind = 'outbound' | 'inbound' | 'transfer';

/** A reserved place for one leg; `release()` is idempotent. */
export interface AdmissionTicket {
  readonly kind: LegKind;
  release(): void;
}

/** Options of `Admission`. */
export interface AdmissionOptions {
  /** MAX_CONCURRENT_CALLS: outbound, inbound and transfer legs together. */
  maxConcurrentCalls: number;
  /** MAX_INBOUND_CALLS: inbound legs alone; absent = only the total applies. */
  maxInboundCalls?: number;
  /** Call attempts per requester (API token, client address, or the call a transfer belongs to). */
  attemptLimiter?: RateLimiter;
  /** Inbound calls per caller number. */
  inboundLimiter?: RateLimiter;
  /** False while draining (SIGTERM) or before ARI is connected: every new leg is refused. */
  isAccepting: () => { ok: true } | { ok: false; code: string; message: string };
}

/** Why an inbound call was refused, for its record and the cause the carrier gets. */
export interface InboundRefusal {
  readonly error: ServiceUnavailableError | RateLimitError;
  readonly endReason: EndReason;
  /** congestion (SIP 503: try another route) for capacity, busy (486) for a caller over its rate. */
  readonly hangupReason: 'congestion' | 'busy';
}

/** Legs held now, by kind. */
export interface LegCounts {
  readonly total: number;
  readonly outbound: number;
  readonly inbound: number;
  readonly transfer: number;
}

export class Admission {
  readonly #options: AdmissionOptions;
  readonly #held: Record<LegKind, number> = { outbound: 0, inbound: 0, transfer: 0 };

  constructor(options: AdmissionOptions) {
    this.#options = options;
  }

  get counts(): LegCounts {
    const h = this.#held;
    return { total: h.outbound + h.inbound + h.transfer, ...h };
  }

  /** Charges one call attempt to `requester`; throws RateLimitError (429) beyond its budget. */
  chargeAttempt(requester: string): void {
    const decision = this.#options.attemptLimiter?.take(requester);
    if (decision !== undefined && !decision.isAllowed) {
      throw new RateLimitError('too many call attempts for this token; retry later', decision.retryAfterMs);
    }
  }

  /**
   * Reserves a place for a leg of `kind`; throws ServiceUnavailableError (503): `AT_CAPACITY`,
   * `INBOUND_AT_CAPACITY`, or the code `isAccepting` gives (draining, ARI down).
   */
  reserve(kind: LegKind): AdmissionTicket {
    const accepting = this.#options.isAccepting();
    if (!accepting.ok) throw new ServiceUnavailableError(accepting.code, accepting.message);
    const { maxConcurrentCalls, maxInboundCalls } = this.#options;
    if (this.counts.total >= maxConcurrentCalls) {
      throw new ServiceUnavailableError('AT_CAPACITY', `the gateway is at its limit of ${maxConcurrentCalls} concurrent calls`);
    }
    if (kind === 'inbound' && maxInboundCalls !== undefined && this.#held.inbound >= maxInboundCalls) {
      throw new ServiceUnavailableError('INBOUND_AT_CAPACITY', `the gateway is at its limit of ${maxInboundCalls} inbound calls`);
    }
    this.#held[kind] += 1;
    let isHeld = true;
    return {
      kind,
      release: () => {
        if (!isHeld) return;
        isHeld = false;
        this.#held[kind] -= 1;
      },
    };
  }

  /** Admits an inbound call from `callerNumber`, or says why not and how to end it. */
  admitInbound(callerNumber: string): AdmissionTicket | InboundRefusal {
    const decision = this.#options.inboundLimiter?.take(`caller:${callerNumber}`);
    if (decision !== undefined && !decision.isAllowed) {
      return {
        error: new RateLimitError('too many calls from this caller', decision.retryAfterMs),
        endReason: 'rate-limited',
        hangupReason: 'busy',
      };
    }
    try {
      return this.reserve('inbound');
    } catch (err) {
      if (!(err instanceof ServiceUnavailableError)) throw err;
      const endReason: EndReason = err.code === 'SHUTTING_DOWN' ? 'shutdown' : err.code.endsWith('AT_CAPACITY') ? 'at-capacity' : 'error';
      return { error: err, endReason, hangupReason: 'congestion' };
    }
  }
}

/** True for the refusal form of `Admission.admitInbound`'s result. */
export function isInboundRefusal(r: AdmissionTicket | InboundRefusal): r is InboundRefusal {
  return 'error' in r;
}
