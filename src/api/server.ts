/**
 * The hapi server: plugins, routes, limits, validation errors and request logging. No `listen`
 * here — the caller owns the lifecycle (`await server.start()` / `await server.stop()`).
 */
import Boom from '@hapi/boom';
import Hapi from '@hapi/hapi';
import Inert from '@hapi/inert';
import Vision from '@hapi/vision';
import HapiSwagger from 'hapi-swagger';
import type { ValidationErrorItem } from 'joi';
import type { Logger } from 'pino';
import type { CallApi } from '../model/call-api';
import type { WebhookApi } from '../model/webhook-api';
import type { CampaignApi } from '../model/campaign';
import type { CallEventBus } from '../events/call-events';
import type { GatewayMetrics } from '../metrics/metrics';
import { registerTokenAuth } from './auth';
import { isLoopbackHost } from './loopback';
import { toPrintable, truncate } from './printable';
import { DEFAULT_HTTP_LIMITS, type HttpLimits, createHttpListener, maxConnectionsFor } from './http-listener';
import { registerRequestGuards } from './request-guards';
import { callRoutes } from './routes/calls';
import { dashboardRoutes } from './routes/dashboard';
import { SSE_DEFAULT_MAX_STREAMS, eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { webhookRoutes } from './routes/webhooks';
import { campaignRoutes } from './routes/campaigns';

/** Largest accepted request body (after decompression). Bigger bodies get 413. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** Swagger UI page. */
export const DOCS_PATH = '/docs';
/** OpenAPI 3.0 document served by hapi-swagger (its OAS v3 default). */
export const OPENAPI_JSON_PATH = '/openapi.json';

/** A connection with no traffic for this long while a request is open is closed (route timeout.socket). */
export const SOCKET_IDLE_TIMEOUT_MS = 60_000;

/** Longest error message we send back; Joi joins one message per failing field. */
const MAX_ERROR_MESSAGE_CHARS = 1024;

/** Options of `createServer`. */
export interface ServerOptions {
  /** Interface to bind when the caller starts the server, e.g. '127.0.0.1'. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The use-cases behind the routes. */
  calls: CallApi;
  /** Root logger; requests are logged at debug (never bodies), 500s at error. */
  log: Logger;
  /** Service version, shown in the OpenAPI info and in GET /health. */
  version: string;
  /**
   * Validate every success response against its schema and answer 500 on a mismatch. Off by
   * default: the shapes are fixed by TypeScript types, and checking every GET of a long transcript
   * costs CPU for nothing. Tests switch it on to catch drift between `CallView` and `callViewSchema`.
   */
  validateResponses?: boolean;

  // ---- operations and security; every one optional (absent: off) ----

  /**
   * API_PUBLIC_HOSTS: names (host or host:port) the API answers to besides loopback names with its
   * port and the listen address; any other Host gets 421 (request-guards.ts).
   */
  publicHosts?: readonly string[];

  /**
   * API_TOKEN: bearer tokens for /api/* and every other route not marked open. Absent or empty:
   * no authentication (only sensible on loopback; see `isLoopbackHost`). /health and /docs stay open.
   */
  apiTokens?: readonly string[];
  /** METRICS_TOKEN: the only token GET /metrics accepts. Absent: /metrics is open. */
  metricsToken?: string;
  /** Serve GET /metrics from these metrics. */
  metrics?: GatewayMetrics;
  /** Serve GET /api/events (SSE) from this bus. */
  events?: CallEventBus;
  /** Heartbeat interval of the event stream, ms (tests shorten it). Default 15 000. */
  eventsHeartbeatMs?: number;
  /** Timeouts and connection limit of the listener; default DEFAULT_HTTP_LIMITS (tests shorten them). */
  httpLimits?: Partial<HttpLimits>;
  /** EVENT_STREAMS_MAX: most event streams open at once (503 beyond). Default 64. */
  eventStreamsMax?: number;
  /** EVENT_STREAMS_PER_TOKEN_MAX: most per token, or per client address without auth (503 beyond). Default 8. */
  eventStreamsPerTokenMax?: number;
  /** Serve /api/webhooks (delivery status, dead letters) from this. */
  webhooks?: WebhookApi;
  /** Serve /api/campaigns from this. */
  campaigns?: CampaignApi;
}

/**
 * Build the API server: registers @hapi/inert, @hapi/vision and hapi-swagger (UI at `/docs`,
 * OpenAPI 3.0 JSON at `/openapi.json`), the call and health routes, a 16 KiB JSON-only body limit
 * and a validation `failAction` whose 400 names the offending fields.
 *
 * Always on: the request guards (request-guards.ts: Host on every route, Origin on state-changing
 * ones) and the listener's timeouts and connection limit (http-listener.ts).
 *
 * Optional operations and security (each off when its option is absent): bearer auth on every route
 * but /health, /docs, /openapi.json (and /metrics, which takes METRICS_TOKEN or is open); GET
 * /metrics; GET /api/events (SSE, whose streams are ended in onPreStop so `stop()` does not wait
 * for them; capped). Admission of calls (rate limits, destination and caller-ID policies, capacity)
 * is the call service's.
 *
 * Does not listen: the caller calls `server.start()` and, on shutdown, `server.stop()`. The `/docs`
 * page route is added by hapi-swagger at initialize time, so tests that `inject` it must
 * `await server.initialize()` first (and `server.stop()` after).
 */
export async function createServer(options: ServerOptions): Promise<Hapi.Server> {
  const { host, port, calls, log, version } = options;
  const limits: HttpLimits = {
    ...DEFAULT_HTTP_LIMITS,
    maxConnections: maxConnectionsFor(options.eventStreamsMax ?? SSE_DEFAULT_MAX_STREAMS),
    ...options.httpLimits,
  };
  const server = Hapi.server({
    host,
    port,
    listener: createHttpListener(limits), // timeouts and connection limit: http-listener.ts
    debug: false, // hapi would print 500s to stderr; they are logged through pino below
    router: { stripTrailingSlash: true },
    routes: {
      // Only JSON is parsed. A body without a Content-Type is application/octet-stream (RFC 9110
      // §8.3), so it gets 415 too: hapi's default would read it as JSON, which is what a web page's
      // no-cors fetch with a bare Blob body relies on (it needs no CORS preflight).
      payload: {
        maxBytes: MAX_PAYLOAD_BYTES,
        allow: 'application/json',
        defaultContentType: 'application/octet-stream',
        output: 'data',
        parse: true,
      },
      validate: { failAction: reportValidationError, options: { abortEarly: false } },
      // The API uses no cookies. Cookies are per host, not per port, so a browser sends ours every
      // cookie other programs on 127.0.0.1 set; hapi's strict parser would answer 400 to a request
      // carrying one it dislikes (found by the API fuzz). They are not read at all.
      state: { parse: false, failAction: 'ignore' },
      // server: no deadline on handlers. Placing a call waits for Asterisk's originate, and a 503
      // sent while that goes on would not stop the call: a client retrying would dial twice. ARI
      // requests carry their own deadlines instead (src/ari/call-control.ts).
      // socket: a connection silent for a minute mid-request or mid-response is dead (a client that
      // stopped reading a recording, say); the event stream turns this off for itself.
      timeout: { server: false, socket: SOCKET_IDLE_TIMEOUT_MS },
      response: { sample: options.validateResponses === true ? 100 : 0, failAction: 'error' },
      // HSTS is the TLS terminator's call (we serve plain HTTP on a private interface).
      security: { hsts: false, xframe: 'deny', xss: 'disabled', noOpen: true, noSniff: true, referrer: 'no-referrer' },
    },
    // gzip would hold SSE frames in the compressor until it fills; send them as written.
    mime: { override: { 'text/event-stream': { type: 'text/event-stream', compressible: false } } },
  });

  registerRequestGuards(server, { listenHost: host, publicHosts: options.publicHosts });
  if (!isLoopbackHost(host) && (options.publicHosts ?? []).length === 0) {
    log.warn({ apiHost: host }, 'API_PUBLIC_HOSTS is empty: the API answers only to loopback names and API_HOST (421 for any other Host)');
  }
  const auth = registerTokenAuth(server, { apiTokens: options.apiTokens, metricsToken: options.metricsToken });

  await server.register([
    { plugin: Inert },
    { plugin: Vision },
    {
      plugin: HapiSwagger,
      options: {
        OAS: 'v3.0',
        info: {
          title: 'Voice gateway API',
          version,
          description: 'Places phone calls through Asterisk and connects them to an ElevenLabs agent.',
        },
        documentationPath: DOCS_PATH,
        jsonPath: OPENAPI_JSON_PATH,
        grouping: 'tags',
        tags: [
          { name: 'calls', description: 'Place, inspect and hang up calls' },
          { name: 'events', description: 'Live call events (Server-Sent Events)' },
          { name: 'health', description: 'Readiness' },
          { name: 'webhooks', description: 'Webhook delivery and dead letters' },
          { name: 'campaigns', description: 'Call campaigns: leads, windows, retries' },
        ],
        // "Authorize" in the Swagger UI; /health and /docs need no token even though the UI shows the lock.
        ...(auth.isApiAuthEnabled
          ? { securityDefinitions: { bearer: { type: 'http', scheme: 'bearer' } }, security: [{ bearer: [] }] }
          : {}),
      },
    },
  ]);

  server.route([...callRoutes(calls), ...healthRoutes(calls, version), ...dashboardRoutes({ log })]);
  if (options.metrics !== undefined) server.route(metricsRoutes(options.metrics, auth.metricsAuth));
  if (options.webhooks !== undefined) server.route(webhookRoutes(options.webhooks));
  if (options.campaigns !== undefined) server.route(campaignRoutes(options.campaigns));
  if (options.events !== undefined) {
    const events = eventRoutes({
      bus: options.events,
      log,
      heartbeatMs: options.eventsHeartbeatMs,
      maxStreams: options.eventStreamsMax,
      maxStreamsPerClient: options.eventStreamsPerTokenMax,
      metrics: options.metrics,
    });
    server.route(events.routes);
    // Open streams would hold server.stop() until its timeout; end them first.
    server.ext('onPreStop', () => events.closeAll());
  }
  server.ext('onPreResponse', explainClientErrors);
  logRequests(server, log);
  return server;
}

/**
 * Global Joi failAction. hapi would answer a bare "Invalid request payload input"; we return Joi's
 * message (which names every failing field, abortEarly is off) plus `validation: { source, keys }`.
 * Echoed keys and messages are made printable so no control or bidi character reaches the client.
 */
function reportValidationError(_request: Hapi.Request, _h: Hapi.ResponseToolkit, err?: Error): never {
  const details = (err as { details?: ValidationErrorItem[] } | undefined)?.details;
  if (err === undefined || !Boom.isBoom(err) || details === undefined) {
    throw err ?? Boom.badRequest();
  }
  const source = (err.output.payload.validation as { source?: string } | undefined)?.source ?? 'input';
  // Errors on the root (null body, an array, no body) would otherwise carry the model's label.
  const messages = details.map((d) => (d.path.length > 0 ? d.message : `request ${source} must be a JSON object`));
  const keys = [...new Set(details.map((d) => toPrintable(d.path.join('.'))).filter((k) => k !== ''))];
  const boom = Boom.badRequest(truncate(toPrintable([...new Set(messages)].join('. ')), MAX_ERROR_MESSAGE_CHARS));
  boom.output.payload.validation = { source, keys };
  throw boom;
}

/** Make hapi's terse parser errors say what is wrong (they happen before validation). */
function explainClientErrors(request: Hapi.Request, h: Hapi.ResponseToolkit): symbol {
  const response = request.response;
  if (!Boom.isBoom(response)) {
    return h.continue;
  }
  const payload = response.output.payload;
  if (response.output.statusCode === 400 && payload.message.startsWith('Invalid content-type header')) {
    // A Content-Type hapi cannot even parse is no JSON either: the same 415 as for any other type.
    response.output.statusCode = 415;
    payload.statusCode = 415;
    payload.error = 'Unsupported Media Type';
  }
  if (response.output.statusCode === 400 && response.data instanceof SyntaxError) {
    // Bourne (forbidden __proto__) or JSON.parse; their messages quote at most a few input chars.
    payload.message = `Invalid request payload JSON format: ${truncate(toPrintable(response.data.message), 200)}`;
  } else if (response.output.statusCode === 415) {
    payload.message = 'Unsupported Media Type: send the body as JSON with "Content-Type: application/json"';
    payload.code = 'UNSUPPORTED_MEDIA_TYPE';
  }
  return h.continue;
}

/** One debug line per request (never the body: it holds phone numbers); 500s at error with the cause. */
function logRequests(server: Hapi.Server, log: Logger): void {
  server.events.on('response', (request) => {
    if (!log.isLevelEnabled('debug')) {
      return;
    }
    // By now hapi has turned a Boom into a plain response whose source is the error payload.
    const response = request.response;
    const statusCode = Boom.isBoom(response) ? response.output.statusCode : response.statusCode;
    const body: unknown = Boom.isBoom(response) ? response.output.payload : response.source;
    const validation = statusCode === 400 ? (body as { validation?: { keys?: string[] } } | null)?.validation : undefined;
    log.debug(
      {
        reqId: request.info.id,
        method: request.method,
        route: request.route.path,
        statusCode,
        durationMs: (request.info.completed || request.info.responded || Date.now()) - request.info.received,
        ...(validation?.keys === undefined ? {} : { invalidKeys: validation.keys }),
      },
      'request completed',
    );
  });
  server.events.on({ name: 'request', channels: 'error' }, (request, event) => {
    log.error({ err: event.error, reqId: request.info.id, method: request.method, route: request.route.path }, 'request failed');
  });
}
