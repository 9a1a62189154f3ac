/**
 * Limits the whole cluster shares, kept in the shared database (docs/cluster.md):
 *
 * - call attempts per token: one token bucket per key in `rate_buckets`, charged by one
 *   INSERT … ON CONFLICT DO UPDATE … RETURNING per attempt. The row lock orders concurrent attempts
 *   from any node, and the database's clock refills it, so RATE_LIMIT_BURST / _PER_MINUTE hold
 *   exactly whichever node a request reaches (per-node buckets of rate/N would not: a client
 *   sending everything to one node would get 1/N of its budget).
 * - CLUSTER_MAX_CONCURRENT_CALLS: legs the live nodes report in their heartbeats plus capacity
 *   reserved for calls being placed, counted and reserved under one advisory lock, so two nodes
 *   placing at the same moment cannot both take the last place.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { RateLimitError, ServiceUnavailableError } from '../errors';

/** Advisory lock key of capacity reservations ("vgcap"). */
const CAPACITY_LOCK_KEY = 0x7667636170;
/** A reservation whose placer died is forgotten after this long. */
const RESERVATION_TTL_S = 30;

/** Token-bucket settings (RATE_LIMIT_BURST, RATE_LIMIT_PER_MINUTE). */
export interface AttemptBudget {
  readonly burst: number;
  readonly perMinute: number;
}

/** Call attempts per key, counted in PostgreSQL. */
export class ClusterAttemptLimiter {
  readonly #pool: Pool;
  readonly #budget: AttemptBudget;

  constructor(pool: Pool, budget: AttemptBudget) {
    this.#pool = pool;
    this.#budget = budget;
  }

  /** Charges one attempt to `key`; throws RateLimitError (429) beyond the budget. */
  async charge(key: string): Promise<void> {
    const { burst, perMinute } = this.#budget;
    const perSecond = perMinute / 60;
    // In DO UPDATE, `b` is the row before this attempt: both columns are computed from it.
    const { rows } = await this.#pool.query<{ is_allowed: boolean; tokens: number }>(
      `INSERT INTO rate_buckets AS b (bucket_key, tokens, refilled_at, is_allowed)
       VALUES ($1, $2::float8 - 1, now(), true)
       ON CONFLICT (bucket_key) DO UPDATE SET
         is_allowed = LEAST($2::float8, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM (now() - b.refilled_at))) * $3::float8) >= 1,
         tokens = LEAST($2::float8, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM (now() - b.refilled_at))) * $3::float8)
           - CASE WHEN LEAST($2::float8, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM (now() - b.refilled_at))) * $3::float8) >= 1 THEN 1 ELSE 0 END,
         refilled_at = now()
       RETURNING is_allowed, tokens`,
      [key, burst, perSecond],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('rate bucket upsert returned no row');
    if (!row.is_allowed) {
      throw new RateLimitError('too many call attempts for this token; retry later', Math.ceil(((1 - row.tokens) / perSecond) * 1000));
    }
  }

  /** Drops buckets idle long enough to be full again (they carry no state). */
  async forgetIdle(): Promise<void> {
    const { burst, perMinute } = this.#budget;
    const fullAfterS = (burst / perMinute) * 60;
    await this.#pool.query(`DELETE FROM rate_buckets WHERE refilled_at < now() - make_interval(secs => $1::float8)`, [fullAfterS + 60]);
  }
}

/** A place held in the cluster total while a call is being placed; `release()` is idempotent. */
export interface CapacityReservation {
  release(): Promise<void>;
}

/** CLUSTER_MAX_CONCURRENT_CALLS, counted over live nodes' heartbeats and open reservations. */
export class ClusterCapacity {
  readonly #pool: Pool;
  readonly #max: number;
  readonly #nodeTimeoutMs: number;

  constructor(pool: Pool, max: number, nodeTimeoutMs: number) {
    this.#pool = pool;
    this.#max = max;
    this.#nodeTimeoutMs = nodeTimeoutMs;
  }

  /** Holds one place for a call `nodeId` is about to place; throws ServiceUnavailableError (503) at the cap. */
  async reserve(nodeId: string): Promise<CapacityReservation> {
    const id = randomUUID();
    const client = await this.#pool.connect();
    let failure: unknown;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [CAPACITY_LOCK_KEY]);
      await client.query('DELETE FROM capacity_reservations WHERE expires_at < now()');
      const { rows } = await client.query<{ used: number }>(
        `SELECT (SELECT COALESCE(SUM(active_calls), 0) FROM nodes WHERE last_seen > now() - make_interval(secs => $1::float8))
              + (SELECT COUNT(*) FROM capacity_reservations) AS used`,
        [this.#nodeTimeoutMs / 1000],
      );
      const used = Number(rows[0]?.used ?? 0);
      if (used >= this.#max) {
        await client.query('ROLLBACK');
        throw new ServiceUnavailableError('CLUSTER_AT_CAPACITY', `the cluster is at its limit of ${this.#max} concurrent calls`);
      }
      await client.query(`INSERT INTO capacity_reservations (id, node_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`, [
        id,
        nodeId,
        RESERVATION_TTL_S,
      ]);
      await client.query('COMMIT');
    } catch (err) {
      failure = err;
      if (!(err instanceof ServiceUnavailableError)) await client.query('ROLLBACK').catch(() => undefined); // connection broken: nothing to roll back
      throw err;
    } finally {
      client.release(failure instanceof ServiceUnavailableError || failure === undefined ? undefined : (failure as Error));
    }
    let released: Promise<void> | undefined;
    return {
      release: () => {
        released ??= this.#pool.query('DELETE FROM capacity_reservations WHERE id = $1', [id]).then(() => undefined);
        return released;
      },
    };
  }

  /** Legs in use in the cluster now (live nodes' heartbeats and open reservations). */
  async used(): Promise<number> {
    const { rows } = await this.#pool.query<{ used: number }>(
      `SELECT (SELECT COALESCE(SUM(active_calls), 0) FROM nodes WHERE last_seen > now() - make_interval(secs => $1::float8))
            + (SELECT COUNT(*) FROM capacity_reservations WHERE expires_at >= now()) AS used`,
      [this.#nodeTimeoutMs / 1000],
    );
    return Number(rows[0]?.used ?? 0);
  }

  get max(): number {
    return this.#max;
  }
}
