/**
 * The routes one node calls on another (docs/cluster.md, "hand-over"), under /cluster/, outside
 * /api/* and the OpenAPI document. They take only the shared CLUSTER_TOKEN (compared as digests,
 * in constant time) and never an API token; the Host and Origin guards of every route apply.
 *
 *   POST   /cluster/calls                 place an admitted call here   { call: <POST /api/calls body>, requester_id }
 *   DELETE /cluster/calls/{id}            hang up a call this node carries
 *   GET    /cluster/calls/{id}/recording  its recording, streamed
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Boom from '@hapi/boom';
import type { Request, ServerRoute } from '@hapi/hapi';
import Joi from 'joi';
import { toBoom } from '../api/error-mapping';
import { toStartCallRequest } from '../api/routes/calls';
import { callIdParamsSchema, startCallPayloadSchema, type StartCallPayload } from '../api/schemas';
import { CallNotFoundError } from '../errors';
import type { CallApi } from '../model/call-api';
import type { CallView, StartCallRequest } from '../model/call-view';
import { CLUSTER_TOKEN_HEADER, INTERNAL_CALLS_PATH } from './node-client';

/** What the internal routes act on. */
export interface InternalCallTarget {
  placeHere(request: StartCallRequest, requesterId: string): Promise<CallView>;
  /** This node's own call service (hang-up and recordings of calls it carries). */
  readonly local: CallApi;
}

const handOverSchema = Joi.object({
  call: startCallPayloadSchema,
  requester_id: Joi.string().max(200).required(),
}).required();

/** The internal routes, guarded by `token`. */
export function internalRoutes(target: InternalCallTarget, token: string): ServerRoute[] {
  const expected = createHash('sha256').update(token, 'utf8').digest();
  const authorize = (request: Request): void => {
    const presented = request.headers[CLUSTER_TOKEN_HEADER];
    const digest = createHash('sha256').update(typeof presented === 'string' ? presented : '', 'utf8').digest();
    if (!timingSafeEqual(digest, expected)) throw Boom.unauthorized('missing or wrong cluster token');
  };
  const idOf = (request: Request): string => String((request.params as { id: unknown }).id);
  // The server's API-token strategy does not apply: nodes hold the cluster token, not API tokens.
  const options = { auth: false as const, cache: { otherwise: 'no-store' }, plugins: { 'hapi-swagger': { exclude: true } } };
  return [
    {
      method: 'POST',
      path: INTERNAL_CALLS_PATH,
      handler: async (request, h) => {
        authorize(request);
        const body = request.payload as { call: StartCallPayload; requester_id: string };
        try {
          const view = await target.placeHere(toStartCallRequest(body.call), body.requester_id);
          return h.response(view).code(201);
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: { ...options, validate: { payload: handOverSchema } },
    },
    {
      method: 'DELETE',
      path: `${INTERNAL_CALLS_PATH}/{id}`,
      handler: async (request) => {
        authorize(request);
        try {
          return await target.local.hangupCall(idOf(request));
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: { ...options, payload: { defaultContentType: 'application/json' }, validate: { params: callIdParamsSchema } },
    },
    {
      method: 'GET',
      path: `${INTERNAL_CALLS_PATH}/{id}/recording`,
      handler: async (request, h) => {
        authorize(request);
        const id = idOf(request);
        try {
          const wav = await target.local.getRecording?.(id);
          if (wav === undefined) throw new CallNotFoundError(`${id}/recording`);
          return h.response(wav).type('audio/wav');
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: { ...options, validate: { params: callIdParamsSchema } },
    },
  ];
}
