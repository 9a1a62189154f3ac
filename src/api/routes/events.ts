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
 */
import { PassThrough } from 'node:stream';
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import type { Logger } from 'pino';
import type { CallEventBus, SequencedCallEvent } from '../../events/call-events';
import { AUTH_ROUTE_PLUGIN, type AuthRouteOptions } from '../auth';
import { type EventsQuery, errorSchema, eventsQuerySchema } from '../schemas';

/** Path of the event stream. */
export const EVENTS_PATH = '/api/events';
/** Default interval of heartbeat comments, ms. */
export const SSE_HEARTBEAT_MS = 15_000;
/** Reconnect delay suggested to EventSource clients, ms. */
export const SSE_RETRY_MS = 3_000;
/** Unsent bytes after which a client is considered stuck and disconnected. */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Options of `eventRoutes`. */
export interface EventRoutesOptions {
  bus: CallEventBus;
  log: Logger;
  /** Default SSE_HEARTBEAT_MS. */
  heartbeatMs?: number;
  /** Default SSE_MAX_BUFFERED_BYTES. */
  maxBufferedBytes?: number;
}

/** The route and a way to end every open stream (call it when the server stops). */
export interface EventRoutes {
  routes: ServerRoute[];
  /** Streams open now. */
  readonly openStreams: number;
  /** End every open stream (server shutdown); each releases its subscription and timer. */
  closeAll(): void;
}

/** Format one event as an SSE frame. JSON escapes CR/LF, so `data:` is always a single line. */
export function formatSseEvent(event: SequencedCallEvent): string {
  return `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Build the SSE route over `options.bus`. */
export function eventRoutes(options: EventRoutesOptions): EventRoutes {
  const { bus, log, heartbeatMs = SSE_HEARTBEAT_MS, maxBufferedBytes = SSE_MAX_BUFFERED_BYTES } = options;
  const open = new Set<() => void>();

  const handler = (request: Request, h: ResponseToolkit) => {
    const { call_id: callId } = request.query as unknown as EventsQuery; // validated by eventsQuerySchema
    const stream = new PassThrough();
    let isClosed = false;

    const close = (why: string): void => {
      if (isClosed) return;
      isClosed = true;
      subscription.cancel();
      clearInterval(heartbeat);
      open.delete(closeForShutdown);
      request.events.removeListener('disconnect', onDisconnect);
      stream.end();
      log.debug({ reqId: request.info.id, why }, 'event stream closed');
    };
    const write = (chunk: string): void => {
      if (isClosed) return;
      if (stream.writableLength + stream.readableLength > maxBufferedBytes) {
        log.warn({ reqId: request.info.id, bufferedBytes: stream.writableLength + stream.readableLength }, 'event stream client too slow; closing');
        close('slow-client');
        return;
      }
      stream.write(chunk);
    };
    const onDisconnect = (): void => close('client-disconnected');
    const closeForShutdown = (): void => close('server-stopping');

    const subscription = bus.subscribe((event) => write(formatSseEvent(event)), callId === undefined ? {} : { callId });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
    open.add(closeForShutdown);
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
    closeAll() {
      for (const close of [...open]) close();
    },
  };
}
