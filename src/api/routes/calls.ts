/**
 * Call routes. Handlers translate wire shapes (snake_case) to use-case calls on `CallApi` and
 * leave every status decision for errors to `toBoom`.
 */
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import type { CallApi, StartCallRequest } from '../../call/call-view';
import { toBoom } from '../error-mapping';
import {
  type CallIdParams,
  type StartCallPayload,
  callIdParamsSchema,
  callViewSchema,
  errorSchema,
  startCallLegacyPayloadSchema,
  startCallPayloadSchema,
} from '../schemas';

/** Base path of the call resources; `Location` headers point below it. */
export const CALLS_PATH = '/api/calls';

const errorDocs = {
  400: { description: 'Invalid input; `validation.keys` names the offending fields', schema: errorSchema },
  404: { description: 'No call with this id', schema: errorSchema },
  413: { description: 'Body larger than the limit', schema: errorSchema },
  415: { description: 'Content-Type is not application/json', schema: errorSchema },
  403: { description: 'Refused by policy; `field` names the field', schema: errorSchema },
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
  return request;
}

/** The `/api/calls` routes, bound to `calls`. */
export function callRoutes(calls: CallApi): ServerRoute[] {
  // hapi has validated payload/params against the route schemas before a handler runs.
  const startCall = async (request: Request, h: ResponseToolkit) => {
    try {
      const view = await calls.startCall(toStartCallRequest(request.payload as StartCallPayload));
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

  return [
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
      handler: (request) => {
        try {
          return calls.getCall(idOf(request));
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
        notes: 'Idempotent: hanging up an ended call returns it unchanged.',
        cache: apiCache,
        validate: { params: callIdParamsSchema },
        response: { status: { 200: callViewSchema } },
        plugins: {
          'hapi-swagger': { responses: { 200: { description: 'The call after hang-up', schema: callViewSchema }, ...errorDocs } },
        },
      },
    },
  ];
}
