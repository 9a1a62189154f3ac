/**
 * Call routes. Handlers translate wire shapes (snake_case) to use-case calls on `CallApi` and
 * leave every status decision for errors to `toBoom`.
 */
import type { Readable } from 'node:stream';
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import type { CallListQuery } from '../../model/call-record';
import type { CallApi, CallRequester } from '../../model/call-api';
import type { StartCallRequest } from '../../model/call-view';
import { CallNotFoundError } from '../../errors';
import { tokenIdOfRequest } from '../auth';
import { toBoom } from '../error-mapping';
import {
  type CallIdParams,
  type ListCallsQuery,
  type StartCallPayload,
  callIdParamsSchema,
  callListSchema,
  callViewSchema,
  errorSchema,
  listCallsQuerySchema,
  startCallLegacyPayloadSchema,
  startCallPayloadSchema,
} from '../schemas';

/** Base path of the call resources; `Location` headers point below it. */
export const CALLS_PATH = '/api/calls';

const errorDocs = {
  400: { description: 'Invalid input; `validation.keys` names the offending fields', schema: errorSchema },
  404: { description: 'No call with this id', schema: errorSchema },
  413: { description: 'Body larger than the limit', schema: errorSchema },
  415: { description: 'Content-Type is not application/json (or missing on a POST): UNSUPPORTED_MEDIA_TYPE', schema: errorSchema },
  401: { description: 'Missing or invalid bearer token (when API_TOKEN is set)', schema: errorSchema },
  403: { description: 'Refused by policy (`field` names the field), or sent by another web page (CROSS_SITE_REQUEST)', schema: errorSchema },
  421: { description: 'The Host header does not name this gateway (see API_PUBLIC_HOSTS): MISDIRECTED_REQUEST', schema: errorSchema },
  429: { description: 'Rate limit of this token exceeded; see Retry-After', schema: errorSchema },
  502: { description: 'Asterisk or the voice agent failed', schema: errorSchema },
  503: { description: 'Cannot take calls now (ARI down, shutting down, at capacity); see Retry-After', schema: errorSchema },
} as const;

const createdDocs = {
  201: {
    description: 'Call placed; it is dialing. `Location` is the URL of the call.',
    schema: callViewSchema,
    headers: { Location: { description: 'URL of the new call', schema: { type: 'string' } } },
  },
};

/** Map the validated wire body to the use-case request, omitting absent options. */
export function toStartCallRequest(body: StartCallPayload): StartCallRequest {
  const request: StartCallRequest = { phoneNumber: body.phone_number };
  if (body.dynamic_variables !== undefined) request.dynamicVariables = { ...body.dynamic_variables };
  if (body.first_message !== undefined) request.firstMessage = body.first_message;
  if (body.prompt !== undefined) request.prompt = body.prompt;
  if (body.language !== undefined) request.language = body.language;
  if (body.max_duration_s !== undefined) request.maxDurationS = body.max_duration_s;
  if (body.voice_id !== undefined) request.voiceId = body.voice_id;
  if (body.caller_id !== undefined) request.callerId = body.caller_id;
  if (body.ring_timeout_s !== undefined) request.ringTimeoutS = body.ring_timeout_s;
  if (body.record !== undefined) request.record = body.record;
  if (body.amd !== undefined) request.amd = body.amd;
  return request;
}

/** Who is asking: the bearer token's id, or the client's address when the API runs without tokens. */
function requesterOf(request: Request): CallRequester {
  return { id: tokenIdOfRequest(request) ?? `address:${request.info.remoteAddress}` };
}

/** The `/api/calls` routes, bound to `calls`. GET /api/calls exists only when `calls.listCalls` does. */
export function callRoutes(calls: CallApi): ServerRoute[] {
  // hapi has validated payload/params against the route schemas before a handler runs, so a
  // malformed request never reaches the call service and is not charged to the attempt budget.
  const startCall = async (request: Request, h: ResponseToolkit) => {
    try {
      const body = request.payload as StartCallPayload;
      const view = await calls.startCall(toStartCallRequest(body), requesterOf(request));
      return h.response(view).code(201).location(`${CALLS_PATH}/${view.id}`);
    } catch (err) {
      throw toBoom(err);
    }
  };
  const idOf = (request: Request): string => {
    const { id } = request.params as Partial<Record<keyof CallIdParams, unknown>>;
    if (typeof id !== 'string') {
      throw new TypeError('route params were not validated'); // programmer error → 500
    }
    return id;
  };

  const apiCache = { otherwise: 'no-store' } as const;

  const listCalls = calls.listCalls?.bind(calls);
  const listRoutes: ServerRoute[] =
    listCalls === undefined
      ? []
      : [
          {
            method: 'GET',
            path: CALLS_PATH,
            handler: async (request) => {
              const query = request.query as unknown as ListCallsQuery; // validated by listCallsQuerySchema
              try {
                return await listCalls(toListQuery(query));
              } catch (err) {
                throw toBoom(err);
              }
            },
            options: {
              tags: ['api', 'calls'],
              description: 'List recorded calls, newest first, with filters and paging',
              notes:
                'Filters: status (repeatable), from/to on created_at (from inclusive, to exclusive). Paging: pass next_cursor as cursor; a cursor stays valid while new calls arrive.',
              cache: apiCache,
              validate: { query: listCallsQuerySchema },
              response: { status: { 200: callListSchema } },
              plugins: { 'hapi-swagger': { responses: { 200: { description: 'One page of calls', schema: callListSchema }, ...errorDocs } } },
            },
          },
        ];

  return [
    ...listRoutes,
    {
      method: 'POST',
      path: `${CALLS_PATH}/start`,
      handler: startCall,
      options: {
        tags: ['api', 'calls'],
        description: 'Place a call (the predecessor API: phone_number only)',
        notes: 'Same as POST /api/calls without options. Kept so existing scripts keep working.',
        cache: apiCache,
        validate: { payload: startCallLegacyPayloadSchema },
        response: { status: { 201: callViewSchema } },
        plugins: { 'hapi-swagger': { responses: { ...createdDocs, ...errorDocs } } },
      },
    },
    {
      method: 'POST',
      path: CALLS_PATH,
      handler: startCall,
      options: {
        tags: ['api', 'calls'],
        description: 'Place a call to phone_number and connect it to the agent',
        notes: 'Resolves once the call is dialing. Poll GET /api/calls/{id} for progress.',
        cache: apiCache,
        validate: { payload: startCallPayloadSchema },
        response: { status: { 201: callViewSchema } },
        plugins: { 'hapi-swagger': { responses: { ...createdDocs, ...errorDocs } } },
      },
    },
    {
      method: 'GET',
      path: `${CALLS_PATH}/{id}`,
      handler: async (request) => {
        try {
          return await calls.getCall(idOf(request));
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: {
        tags: ['api', 'calls'],
        description: 'Get a call: status, timestamps, transcript and metrics',
        cache: apiCache,
        validate: { params: callIdParamsSchema },
        response: { status: { 200: callViewSchema } },
        plugins: { 'hapi-swagger': { responses: { 200: { description: 'The call', schema: callViewSchema }, ...errorDocs } } },
      },
    },
    {
      method: 'DELETE',
      path: `${CALLS_PATH}/{id}`,
      handler: async (request) => {
        try {
          return await calls.hangupCall(idOf(request));
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: {
        tags: ['api', 'calls'],
        description: 'Hang up a call',
        notes: 'Idempotent: hanging up an ended call returns it unchanged. Send no body (a body, if any, must be JSON).',
        // A DELETE has no body, so it needs no Content-Type: curl -X DELETE and fetch(…, { method:
        // 'DELETE' }) work. Browsers cannot send a DELETE cross-site without a CORS preflight (which
        // this API never grants), and the Origin rule (request-guards.ts) refuses one anyway.
        payload: { defaultContentType: 'application/json' },
        cache: apiCache,
        validate: { params: callIdParamsSchema },
        response: { status: { 200: callViewSchema } },
        plugins: {
          'hapi-swagger': { responses: { 200: { description: 'The call after hang-up', schema: callViewSchema }, ...errorDocs } },
        },
      },
    },
    ...recordingRoutes(calls, idOf),
  ];
}

/** `GET /api/calls/{id}/recording`: the wav Asterisk recorded, when the call asked for `record`. */
function recordingRoutes(calls: CallApi, idOf: (request: Request) => string): ServerRoute[] {
  const getRecording = calls.getRecording?.bind(calls);
  if (getRecording === undefined) return [];
  return [
    {
      method: 'GET',
      path: `${CALLS_PATH}/{id}/recording`,
      handler: async (request, h) => {
        const id = idOf(request);
        let wav: Readable | undefined;
        try {
          wav = await getRecording(id);
        } catch (err) {
          throw toBoom(err);
        }
        if (wav === undefined) throw toBoom(new CallNotFoundError(`${id}/recording`));
        // Streamed as Asterisk sends it (hours of audio are hundreds of MB): hapi pipes it to the
        // client with backpressure and destroys it when the client goes away.
        return h.response(wav).type('audio/wav').header('content-disposition', `attachment; filename="call-${id}.wav"`);
      },
      options: {
        tags: ['api', 'calls'],
        description: 'Download the recording of a call (wav, 8 kHz mono)',
        notes: 'Exists when the call was placed with "record": true and has been bridged; complete once the call ended.',
        cache: { otherwise: 'no-store' },
        validate: { params: callIdParamsSchema },
        plugins: { 'hapi-swagger': { produces: ['audio/wav'], responses: { 200: { description: 'The recording' }, ...errorDocs } } },
      },
    },
  ];
}

/** Map the validated query to the store query (dates to epoch ms, absent filters omitted). */
export function toListQuery(query: ListCallsQuery): CallListQuery {
  const result: CallListQuery = { limit: query.limit };
  if (query.status !== undefined) result.status = query.status;
  if (query.from !== undefined) result.fromMs = query.from.getTime();
  if (query.to !== undefined) result.toMs = query.to.getTime();
  if (query.cursor !== undefined) result.cursor = query.cursor;
  return result;
}
