import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/**
 * An EventEmitter whose `safeEmit` delivers to every listener even when one throws (the error is
 * logged): a faulty observer must not keep the others from hearing, e.g., that a call ended.
 */
export class SafeEmitter<T extends Record<keyof T, unknown[]>> extends EventEmitter<T> {
  protected safeEmit<K extends keyof T & string>(log: Logger, event: K, ...args: T[K]): void {
    for (const listener of (this as EventEmitter).rawListeners(event) as ((...a: T[K]) => void)[]) {
      try {
        listener.apply(this, args);
      } catch (err) {
        log.error({ err, event }, 'event listener threw');
      }
    }
  }
}
