/**
 * The API's HTTP listener, with its time and connection limits set on purpose rather than left to
 * Node's defaults (which suit a server behind a proxy that enforces its own). hapi is given this
 * listener (server.ts) and starts and stops it as usual.
 *
 * None of these cut a long response: Node's request and header timeouts end once the request has
 * arrived, and keep-alive counts only idle time between requests. So the event stream
 * (GET /api/events) and recording downloads run as long as the client reads.
 */
import http from 'node:http';

/** The listener's limits; units in the names. */
export interface HttpLimits {
  /**
   * Time a client has to send the request head. Heads are a few hundred bytes, so 10 s is ample on
   * any link, and a client trickling header bytes to hold a connection (slowloris) is dropped
   * after that rather than Node's 60 s (hapi answers it 400, as every client error).
   */
  readonly headersTimeoutMs: number;
  /**
   * Time a client has to send the whole request, body included. Bodies are at most 16 KiB
   * (MAX_PAYLOAD_BYTES); 30 s instead of Node's 300 s bounds how long a half-sent request holds a
   * connection. Must not be below `headersTimeoutMs` (Node refuses that).
   */
  readonly requestTimeoutMs: number;
  /**
   * How often Node checks the two timeouts above. Its default, 30 s, would let a stalled request
   * live up to 30 s past its deadline; 1 s costs one pass over the open connections a second.
   */
  readonly connectionsCheckingIntervalMs: number;
  /**
   * How long an idle keep-alive connection stays open. 5 s (Node's default, stated here) lets a
   * page's back-to-back requests reuse a connection while idle clients do not hold connection slots.
   * A proxy in front should time out idle connections sooner than this.
   */
  readonly keepAliveTimeoutMs: number;
  /**
   * Most connections open at once; Node closes any beyond it as it arrives. Each is a file
   * descriptor, and the process needs its descriptors for calls too (an RTP socket, an agent
   * WebSocket and ARI per call). Event streams hold a connection each, so the limit is their cap
   * plus room for ordinary requests (see `maxConnectionsFor`).
   */
  readonly maxConnections: number;
}

/** Connections kept for ordinary requests on top of the event-stream cap. */
export const NON_STREAM_CONNECTIONS = 192;

/** The connection limit for a given event-stream cap: 64 streams (the default) → 256 connections. */
export function maxConnectionsFor(eventStreamsMax: number): number {
  return eventStreamsMax + NON_STREAM_CONNECTIONS;
}

/** The limits the gateway runs with (see each field for why). */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  connectionsCheckingIntervalMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: maxConnectionsFor(64),
};

/** A plain `http.Server` with `limits` applied; not listening (hapi listens on `start()`). */
export function createHttpListener(limits: HttpLimits): http.Server {
  const listener = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
  });
  listener.keepAliveTimeout = limits.keepAliveTimeoutMs;
  listener.maxConnections = limits.maxConnections;
  return listener;
}
