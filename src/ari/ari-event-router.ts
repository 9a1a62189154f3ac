import type { Logger } from 'pino';
import { routingIds, type AriEvent, type AriEventType, type StasisStartEvent } from './ari-events';

export type AriEventHandler = (event: AriEvent) => void;

/** A registration the owner cancels on teardown. `cancel()` is idempotent. */
export interface Subscription {
  cancel(): void;
}

/**
 * Routes ARI events to handlers keyed by channel or bridge id. It replaces ari-client's
 * per-instance listeners (`channel.on(...)`), which are kept on the client for ever and leak one
 * entry per call.
 */
export class AriEventRouter {
  readonly #byId = new Map<string, Set<{ types: ReadonlySet<AriEventType> | undefined; handler: AriEventHandler }>>();
  readonly #log: Logger;
  #unclaimedStasisStart: ((event: StasisStartEvent) => void) | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Handler for StasisStart of channels nobody subscribed to (e.g. inbound calls). */
  onUnclaimedStasisStart(handler: (event: StasisStartEvent) => void): void {
    this.#unclaimedStasisStart = handler;
  }

  /** Delivers events about `id` (of the given types, or all) to `handler` until cancelled. */
  subscribe(id: string, handler: AriEventHandler, types?: readonly AriEventType[]): Subscription {
    const entry = { types: types ? new Set(types) : undefined, handler };
    let set = this.#byId.get(id);
    if (!set) {
      set = new Set();
      this.#byId.set(id, set);
    }
    set.add(entry);
    return {
      cancel: () => {
        const current = this.#byId.get(id);
        if (!current) return;
        current.delete(entry);
        if (current.size === 0) this.#byId.delete(id);
      },
    };
  }

  /** Number of ids with live subscriptions; a leak check for tests and metrics. */
  get subscribedIdCount(): number {
    return this.#byId.size;
  }

  dispatch(event: AriEvent): void {
    let delivered = false;
    for (const id of routingIds(event)) {
      const set = this.#byId.get(id);
      if (!set) continue;
      // Copy: a handler may cancel its own or another subscription while we iterate.
      for (const entry of [...set]) {
        if (entry.types && !entry.types.has(event.type)) continue;
        delivered = true;
        try {
          entry.handler(event);
        } catch (err) {
          this.#log.error({ err, eventType: event.type, id }, 'ARI event handler threw');
        }
      }
    }
    if (!delivered && event.type === 'StasisStart' && this.#unclaimedStasisStart) {
      this.#unclaimedStasisStart(event);
    }
  }
}
