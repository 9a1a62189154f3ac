/**
 * Call events across nodes over PostgreSQL LISTEN/NOTIFY (docs/cluster.md). Each node sends the
 * events of its own bus to channel `vg_call_events`, in order, on one connection; every node
 * LISTENs on its own connection and hands other nodes' events to its cluster bus, which also gets
 * its own events directly. The event stream and the dashboard read the cluster bus; metrics keep
 * reading the local bus (a node counts only its own calls).
 *
 * A NOTIFY payload is at most 8000 bytes: a larger event (a long transcript line) is stored in
 * `large_events` and the notification carries its id; readers fetch it. Events sent while a node's
 * LISTEN connection is down are not replayed to it: a dashboard re-reads GET /api/calls.
 */
import { Client, type Notification, type Pool } from 'pg';
import type { Logger } from 'pino';
import type { CallEvent, CallEventBus, CallEventSubscription } from '../events/call-events';

/** The NOTIFY channel of call events. */
export const CALL_EVENTS_CHANNEL = 'vg_call_events';
/** Payloads above this go through `large_events` (PostgreSQL's limit is 8000 bytes). */
export const MAX_NOTIFY_PAYLOAD_BYTES = 7900;
/** Rows of `large_events` older than this are deleted (every reader had them long before). */
const LARGE_EVENT_TTL_S = 600;

/** What travels in a notification: the event itself, or a pointer to it. */
type Envelope = { node: string; event: CallEvent } | { node: string; ref: string };

export interface EventRelayOptions {
  nodeId: string;
  /** For publishing (one connection at a time, in order) and fetching large events. */
  pool: Pool;
  /** Connection string for the dedicated LISTEN connection (a secret: never logged). */
  databaseUrl: string;
  /** This node's own bus: what its calls publish. */
  local: CallEventBus;
  /** What the event stream reads: this node's events and everyone else's. */
  cluster: CallEventBus;
  log: Logger;
  /** Backoff of the LISTEN connection after it failed: starts here, doubles, caps at 5 s. */
  reconnectMinMs?: number;
}

/** Bridges the local bus and the cluster bus through PostgreSQL. `start()`, then `stop()`. */
export class EventRelay {
  readonly #o: EventRelayOptions;
  #subscription: CallEventSubscription | undefined;
  #queue: string[] = [];
  #sending: Promise<void> | undefined;
  #listener: Client | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #isStopped = false;
  #sendFailures = 0;

  constructor(options: EventRelayOptions) {
    this.#o = options;
  }

  /** Events that could not be sent to the other nodes (the database was unreachable). */
  get sendFailures(): number {
    return this.#sendFailures;
  }

  async start(): Promise<void> {
    this.#subscription = this.#o.local.subscribe((sequenced) => {
      const { seq: _seq, ...event } = sequenced;
      this.#o.cluster.publish(event);
      this.#enqueue(event);
    });
    await this.#listen();
  }

  /** Sends an event that is not from this node's bus (a lost node's call, ended by this node) to every node, this one included. */
  publishForeign(event: CallEvent): void {
    this.#o.cluster.publish(event);
    this.#enqueue(event);
  }

  /** Stops relaying; waits for events already queued to be sent. */
  async stop(): Promise<void> {
    this.#isStopped = true;
    this.#subscription?.cancel();
    clearTimeout(this.#reconnectTimer);
    await this.#sending;
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch((err: unknown) => this.#o.log.debug({ err }, 'closing the LISTEN connection failed'));
  }

  #enqueue(event: CallEvent): void {
    if (this.#isStopped) return;
    this.#queue.push(JSON.stringify({ node: this.#o.nodeId, event } satisfies Envelope));
    this.#sending ??= this.#drain().finally(() => {
      this.#sending = undefined;
    });
  }

  /** Sends queued payloads in order, a batch per round trip, until the queue is empty. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, 50);
      try {
        await this.#send(batch);
      } catch (err) {
        this.#sendFailures += batch.length;
        this.#o.log.warn({ err, dropped: batch.length }, 'call events could not be sent to the other nodes');
      }
    }
  }

  async #send(payloads: string[]): Promise<void> {
    const client = await this.#o.pool.connect();
    try {
      const statements: string[] = [];
      for (const payload of payloads) {
        let body = payload;
        if (Buffer.byteLength(payload, 'utf8') > MAX_NOTIFY_PAYLOAD_BYTES) {
          const { rows } = await client.query<{ id: string }>('INSERT INTO large_events (payload) VALUES ($1) RETURNING id', [payload]);
          body = JSON.stringify({ node: this.#o.nodeId, ref: String(rows[0]?.id) } satisfies Envelope);
        }
        statements.push(`SELECT pg_notify(${client.escapeLiteral(CALL_EVENTS_CHANNEL)}, ${client.escapeLiteral(body)});`);
      }
      // One simple-protocol query runs its statements in order, in one transaction: the
      // notifications arrive in the order the events happened.
      await client.query(statements.join('\n'));
    } finally {
      client.release();
    }
  }

  async #listen(): Promise<void> {
    const client = new Client({ connectionString: this.#o.databaseUrl, connectionTimeoutMillis: 5000, application_name: `voice-gateway ${this.#o.nodeId} events` });
    client.on('notification', (n) => this.#onNotification(n));
    client.on('error', (err) => {
      this.#o.log.warn({ err }, 'the LISTEN connection for cluster events failed; reconnecting');
      this.#reconnect(client);
    });
    client.on('end', () => this.#reconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CALL_EVENTS_CHANNEL}`);
    } catch (err) {
      this.#o.log.warn({ err }, 'could not LISTEN for cluster events; retrying');
      this.#reconnect(client);
      return;
    }
    if (this.#isStopped) {
      await client.end();
      return;
    }
    this.#listener = client;
    this.#failures = 0;
    // Old oversized events are nobody's any more.
    await this.#o.pool
      .query(`DELETE FROM large_events WHERE created_at < now() - make_interval(secs => $1)`, [LARGE_EVENT_TTL_S])
      .catch((err: unknown) => this.#o.log.debug({ err }, 'large_events cleanup failed'));
  }

  #reconnect(failed: Client): void {
    if (this.#isStopped || (this.#listener !== undefined && this.#listener !== failed) || this.#reconnectTimer !== undefined) return;
    this.#listener = undefined;
    failed.removeAllListeners('end');
    failed.end().catch(() => undefined); // already broken: nothing to close cleanly
    const delayMs = Math.min(5000, (this.#o.reconnectMinMs ?? 200) * 2 ** this.#failures);
    this.#failures += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#listen().catch((err: unknown) => this.#o.log.warn({ err }, 'LISTEN reconnect failed'));
    }, delayMs);
  }

  #onNotification(notification: Notification): void {
    if (notification.channel !== CALL_EVENTS_CHANNEL || notification.payload === undefined) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(notification.payload) as Envelope;
    } catch (err) {
      this.#o.log.warn({ err }, 'unreadable cluster event ignored');
      return;
    }
    if (envelope.node === this.#o.nodeId) return; // ours reached the cluster bus directly
    if ('event' in envelope) {
      this.#o.cluster.publish(envelope.event);
      return;
    }
    this.#fetchLarge(envelope.ref).catch((err: unknown) => this.#o.log.warn({ err, ref: envelope.ref }, 'large cluster event could not be read'));
  }

  async #fetchLarge(ref: string): Promise<void> {
    const { rows } = await this.#o.pool.query<{ payload: string }>('SELECT payload FROM large_events WHERE id = $1', [ref]);
    const payload = rows[0]?.payload;
    if (payload === undefined) return;
    const envelope = JSON.parse(payload) as Envelope;
    if ('event' in envelope) this.#o.cluster.publish(envelope.event);
  }
}
