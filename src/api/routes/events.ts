/**
 * `GET /api/events[?call_id=…]`: live call events as Server-Sent Events (WHATWG HTML §9.2).
 *
 * Each client gets one bus subscription, one heartbeat timer and one PassThrough, all released by
 * one idempotent `close()` that runs on whichever comes first:
 *
 *   client disconnects ─┐
 *   stream error/close ─┼─▶ close(): cancel subscription → clear heartbeat → end stream → forget
 *   too slow (buffer)  ─┤
 *   server stopping    ─┘   (`closeAll()` from the server's onPreStop)
 *
 * Frames: `retry:` once, then `id: <seq>` + `data: <json CallEvent>` per event (unnamed, so one
 * `onmessage` handler gets all types), and a `: heartbeat` comment every `heartbeatMs` so proxies
 * and clients see a live connection.
 *
 * Bounded work: at most `maxStreams` streams, and `maxStreamsPerClient` per token (or per client
 * address without auth); beyond, 503 + Retry-After before anything is allocated. Each event is
 * serialised once, however many clients get it. A client more than `maxBufferedBytes` behind is
 * disconnected (and counted) rather than buffered for.
 */
import { PassThrough } from 'node:stream';
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../../errors';
import type { CallEventBus, SequencedBusEvent } from '../../events/call-events';
import type { EventStreamLimit } from '../../metrics/metrics';
import { AUTH_ROUTE_PLUGIN, type AuthRouteOptions, tokenIdOfRequest } from '../auth';
import { toBoom } from '../error-mapping';
import { type EventsQuery, errorSchema, eventsQuerySchema } from '../schemas';

/** Path of the event stream. */
export const EVENTS_PATH = '/api/events';
/** Default interval of heartbeat comments, ms. */
export const SSE_HEARTBEAT_MS = 15_000;
/** Reconnect delay suggested to EventSource clients, ms. */
export const SSE_RETRY_MS = 3_000;
/**
 * Unsent bytes after which a client is considered stuck and disconnected. Events are 0.2-2 KB
 * (a transcript line, an `ended` with metrics), so 64 KiB is dozens of events: a live client never
 * gets near it, and a stalled one costs at most this much.
 */
export const SSE_MAX_BUFFERED_BYTES = 64 * 1024;
/** Default cap on open streams (EVENT_STREAMS_MAX). */
export const SSE_DEFAULT_MAX_STREAMS = 64;
/** Default cap on open streams per token or client address (EVENT_STREAMS_PER_TOKEN_MAX). */
export const SSE_DEFAULT_MAX_STREAMS_PER_CLIENT = 8;

/** What the route reports to the metrics (GatewayMetrics implements it). */
export interface EventStreamObserver {
  eventStreamsOpen(count: number): void;
  eventStreamRefused(limit: EventStreamLimit): void;
  eventStreamSlowDisconnect(): void;
}

/** Options of `eventRoutes`. */
export interface EventRoutesOptions {
  bus: CallEventBus;
  log: Logger;
  /** Default SSE_HEARTBEAT_MS. */
  heartbeatMs?: number;
  /** Default SSE_MAX_BUFFERED_BYTES. */
  maxBufferedBytes?: number;
  /** EVENT_STREAMS_MAX; default SSE_DEFAULT_MAX_STREAMS. */
  maxStreams?: number;
  /** EVENT_STREAMS_PER_TOKEN_MAX, per token id (or client address without auth); default SSE_DEFAULT_MAX_STREAMS_PER_CLIENT. */
  maxStreamsPerClient?: number;
  /** Told about opens, refusals and slow clients. */
  metrics?: EventStreamObserver;
}

/** The route and a way to end every open stream (call it when the server stops). */
export interface EventRoutes {
  routes: ServerRoute[];
  /** Streams open now. */
  readonly openStreams: number;
  /** Events serialised so far (once each, whatever the number of clients). */
  readonly framesSerialised: number;
  /** Clients disconnected for falling more than `maxBufferedBytes` behind. */
  readonly slowClientsDropped: number;
  /** End every open stream (server shutdown); each releases its subscription and timer. */
  closeAll(): void;
}

/** Format one event as an SSE frame. JSON escapes CR/LF, so `data:` is always a single line. */
export function formatSseEvent(event: SequencedBusEvent): string {
  return `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Build the SSE route over `options.bus`. */
export function eventRoutes(options: EventRoutesOptions): EventRoutes {
  const {
    bus,
    log,
    metrics,
    heartbeatMs = SSE_HEARTBEAT_MS,
    maxBufferedBytes = SSE_MAX_BUFFERED_BYTES,
    maxStreams = SSE_DEFAULT_MAX_STREAMS,
    maxStreamsPerClient = SSE_DEFAULT_MAX_STREAMS_PER_CLIENT,
  } = options;
  const open = new Set<() => void>();
  const openPerClient = new Map<string, number>();
  let framesSerialised = 0;
  let slowClientsDropped = 0;

  // The bus hands one event object to every subscriber in one synchronous loop, so remembering
  // the last one serialises each event once for all streams.
  let lastEvent: SequencedBusEvent | undefined;
  let lastFrame = '';
  const frameOf = (event: SequencedBusEvent): string => {
    if (event !== lastEvent) {
      lastEvent = event;
      lastFrame = formatSseEvent(event);
      framesSerialised += 1;
    }
    return lastFrame;
  };

  /** Refuse a stream over a cap before anything is allocated for it. */
  const admit = (clientKey: string): void => {
    if (open.size >= maxStreams) {
      metrics?.eventStreamRefused('total');
      throw toBoom(new ServiceUnavailableError('TOO_MANY_EVENT_STREAMS', `the gateway serves at most ${maxStreams} event streams at once; retry later`));
    }
    if ((openPerClient.get(clientKey) ?? 0) >= maxStreamsPerClient) {
      metrics?.eventStreamRefused('per_token');
      throw toBoom(
        new ServiceUnavailableError(
          'TOO_MANY_EVENT_STREAMS_FOR_TOKEN',
          `this token (or client address) already has ${maxStreamsPerClient} event streams open; close one or retry later`,
        ),
      );
    }
  };
  const countClient = (clientKey: string, delta: 1 | -1): void => {
    const count = (openPerClient.get(clientKey) ?? 0) + delta;
    if (count > 0) openPerClient.set(clientKey, count);
    else openPerClient.delete(clientKey);
  };

  const handler = (request: Request, h: ResponseToolkit) => {
    const { call_id: callId } = request.query as unknown as EventsQuery; // validated by eventsQuerySchema
    const clientKey = tokenIdOfRequest(request) ?? `address:${request.info.remoteAddress}`;
    admit(clientKey);
    const stream = new PassThrough();
    let isClosed = false;

    const close = (why: string): void => {
      if (isClosed) return;
      isClosed = true;
      subscription.cancel();
      clearInterval(heartbeat);
      open.delete(closeForShutdown);
      countClient(clientKey, -1);
      metrics?.eventStreamsOpen(open.size);
      request.events.removeListener('disconnect', onDisconnect);
      stream.end();
      log.debug({ reqId: request.info.id, why }, 'event stream closed');
    };
    const write = (chunk: string): void => {
      if (isClosed) return;
      if (stream.writableLength + stream.readableLength > maxBufferedBytes) {
        log.warn({ reqId: request.info.id, bufferedBytes: stream.writableLength + stream.readableLength }, 'event stream client too slow; closing');
        slowClientsDropped += 1;
        metrics?.eventStreamSlowDisconnect();
        close('slow-client');
        return;
      }
      stream.write(chunk);
    };
    const onDisconnect = (): void => close('client-disconnected');
    const closeForShutdown = (): void => close('server-stopping');

    // Campaign events are about no one call: a stream narrowed to a call does not get them.
    const subscription =
      callId === undefined ? bus.subscribe((event) => write(frameOf(event)), { includeCampaigns: true }) : bus.subscribe((event) => write(frameOf(event)), { callId });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
    open.add(closeForShutdown);
    countClient(clientKey, 1);
    metrics?.eventStreamsOpen(open.size);
    request.events.once('disconnect', onDisconnect);
    stream.once('close', () => close('stream-closed'));
    stream.once('error', (err) => {
      log.debug({ err, reqId: request.info.id }, 'event stream error');
      close('stream-error');
    });
    // First bytes at once: the client sees the response headers and the reconnect delay.
    stream.write(`retry: ${SSE_RETRY_MS}\n: connected\n\n`);
    log.debug({ reqId: request.info.id, callId }, 'event stream opened');

    return h
      .response(stream)
      .type('text/event-stream')
      .header('cache-control', 'no-store, no-transform')
      .header('x-accel-buffering', 'no'); // nginx: do not buffer the stream
  };

  const routes: ServerRoute[] = [
    {
      method: 'GET',
      path: EVENTS_PATH,
      handler,
      options: {
        tags: ['api', 'events'],
        description: 'Live call events (Server-Sent Events)',
        notes:
          'text/event-stream of JSON call events: dialing, ringing, answered, transcript, interruption, ended, metrics. ' +
          'Each `data:` line is one event with `type`, `call_id`, `at`, `seq` (also the SSE `id`). A `: heartbeat` ' +
          'comment comes every 15 s. Filter with call_id. Browsers (EventSource) may pass the token as access_token.',
        validate: { query: eventsQuerySchema },
        timeout: { socket: false },
        plugins: {
          [AUTH_ROUTE_PLUGIN]: { isQueryTokenAllowed: true } satisfies AuthRouteOptions,
          'hapi-swagger': {
            produces: ['text/event-stream'],
            responses: {
              200: { description: 'The event stream (never ends on its own)' },
              400: { description: 'Invalid call_id', schema: errorSchema },
              401: { description: 'Missing or invalid bearer token', schema: errorSchema },
              503: {
                description: 'Too many streams open (TOO_MANY_EVENT_STREAMS, or TOO_MANY_EVENT_STREAMS_FOR_TOKEN for this token); see Retry-After',
                schema: errorSchema,
              },
            },
          },
        },
      },
    },
  ];

  return {
    routes,
    get openStreams() {
      return open.size;
    },
    get framesSerialised() {
      return framesSerialised;
    },
    get slowClientsDropped() {
      return slowClientsDropped;
    },
    closeAll() {
      for (const close of [...open]) close();
    },
  };
}
