import type { PoolClient } from 'pg';
import type { Logger } from 'pino';

/**
 * Runs `work` between BEGIN and COMMIT on `client`. On any error it rolls back and rethrows. A
 * rollback that fails means the connection is gone (nothing to undo): that is only logged, and the
 * original error is what the caller sees.
 */
export async function inTransaction<T>(client: PoolClient, log: Logger, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => log.debug({ err: rollbackErr }, 'rollback failed (connection lost)'));
    throw err;
  }
}
