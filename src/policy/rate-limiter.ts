/**
 * Per-key token buckets (one bucket per API token): `burst` requests at once, refilled continuously
 * at `perMinute`. Pure: time comes from the injected `nowMs`, nothing runs in the background.
 */

/** Options of `RateLimiter`. */
export interface RateLimiterOptions {
  /** Bucket size: requests allowed back to back. ≥ 1. */
  burst: number;
  /** Refill rate, requests per minute. > 0. */
  perMinute: number;
  /** Monotonic clock, ms. Default `performance.now`. */
  nowMs?: () => number;
  /** Buckets kept; beyond it, full (idle) buckets are dropped. Default 10 000. */
  maxKeys?: number;
}

/** Outcome of `RateLimiter.take`. */
export type RateDecision =
  | { readonly isAllowed: true; readonly remaining: number }
  | { readonly isAllowed: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Token-bucket limiter keyed by an opaque string. */
export class RateLimiter {
  readonly #burst: number;
  readonly #refillPerMs: number;
  readonly #nowMs: () => number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions) {
    const { burst, perMinute, nowMs = () => performance.now(), maxKeys = 10_000 } = options;
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be an integer ≥ 1, got ${burst}`);
    if (!(perMinute > 0) || !Number.isFinite(perMinute)) throw new RangeError(`perMinute must be > 0, got ${perMinute}`);
    this.#burst = burst;
    this.#refillPerMs = perMinute / 60_000;
    this.#nowMs = nowMs;
    this.#maxKeys = maxKeys;
  }

  /** Buckets currently held (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Take one token for `key`: allowed with what remains, or refused with the wait until one is back. */
  take(key: string): RateDecision {
    const now = this.#nowMs();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#evictIdle(now);
      bucket = { tokens: this.#burst, updatedMs: now };
      this.#buckets.set(key, bucket);
    } else {
      this.#refill(bucket, now);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { isAllowed: true, remaining: Math.floor(bucket.tokens) };
    }
    return { isAllowed: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / this.#refillPerMs) };
  }

  #refill(bucket: Bucket, now: number): void {
    // A clock stepping back refills nothing (and is not counted twice when it catches up).
    if (now <= bucket.updatedMs) return;
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedMs) * this.#refillPerMs);
    bucket.updatedMs = now;
  }

  /** A full bucket carries no state worth keeping: dropping it is the same as a new key. */
  #evictIdle(now: number): void {
    if (this.#buckets.size < this.#maxKeys) return;
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      if (bucket.tokens >= this.#burst) this.#buckets.delete(key);
    }
    // Still full of active keys: drop the oldest entry (insertion order) to bound memory.
    if (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
  }
}
