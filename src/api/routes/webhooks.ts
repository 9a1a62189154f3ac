/**
 * `/api/webhooks`: how delivery stands, and the events given up (dead letters), which an operator
 * can queue again once the receiver is fixed. Where events go is configuration (WEBHOOK_URLS):
 * no route takes an address.
 */
import Boom from '@hapi/boom';
import Joi from 'joi';
import type { ServerRoute } from '@hapi/hapi';
import type { WebhookApi } from '../../model/webhook-api';
import { toBoom } from '../error-mapping';
import { errorSchema } from '../schemas';

export const WEBHOOKS_PATH = '/api/webhooks';

const deadLetterSchema = Joi.object({
  id: Joi.number().integer().required(),
  event_id: Joi.string().required(),
  type: Joi.string().required(),
  destination: Joi.string().required().description('Origin of the destination (its path is not shown)'),
  attempts: Joi.number().integer().required(),
  last_error: Joi.string().allow(null).required(),
  created_at: Joi.string().isoDate().required(),
  dead_at: Joi.string().isoDate().required(),
  event: Joi.object().unknown(true).required().description('The body that was posted'),
}).label('DeadLetter');

const deadLetterPageSchema = Joi.object({
  dead_letters: Joi.array().items(deadLetterSchema).required(),
  next_after: Joi.number().integer().allow(null).required(),
}).label('DeadLetterPage');

const statusSchema = Joi.object({
  destinations: Joi.array().items(Joi.string()).required(),
  pending: Joi.number().integer().min(0).required(),
  oldest_pending_age_s: Joi.number().min(0).required(),
  dead: Joi.number().integer().min(0).required(),
}).label('WebhookStatus');

const listQuerySchema = Joi.object({
  limit: Joi.number().integer().min(1).max(200).default(50).label('limit'),
  after: Joi.number().integer().min(0).label('after').description('`next_after` of the previous page'),
}).label('DeadLetterQuery');

const idParamsSchema = Joi.object({ id: Joi.number().integer().min(1).required().label('id') });

const docs = {
  400: { description: 'Invalid input; `validation.keys` names the offending fields', schema: errorSchema },
  401: { description: 'Missing or invalid bearer token (when API_TOKEN is set)', schema: errorSchema },
  403: { description: 'Sent by another web page (CROSS_SITE_REQUEST)', schema: errorSchema },
  503: { description: 'The outbox cannot be read now', schema: errorSchema },
} as const;

export function webhookRoutes(webhooks: WebhookApi): ServerRoute[] {
  const noStore = { otherwise: 'no-store' } as const;
  return [
    {
      method: 'GET',
      path: WEBHOOKS_PATH,
      handler: async () => {
        try {
          return await webhooks.status();
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: {
        tags: ['api', 'webhooks'],
        description: 'Webhook delivery: destinations, events waiting, the age of the oldest, dead letters',
        cache: noStore,
        response: { status: { 200: statusSchema } },
        plugins: { 'hapi-swagger': { responses: { 200: { description: 'Delivery status', schema: statusSchema }, ...docs } } },
      },
    },
    {
      method: 'GET',
      path: `${WEBHOOKS_PATH}/dead-letters`,
      handler: async (request) => {
        const { limit, after } = request.query as { limit: number; after?: number };
        try {
          return await webhooks.listDeadLetters(limit, after);
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: {
        tags: ['api', 'webhooks'],
        description: 'Webhook events given up after WEBHOOK_MAX_ATTEMPTS, oldest first',
        cache: noStore,
        validate: { query: listQuerySchema },
        response: { status: { 200: deadLetterPageSchema } },
        plugins: { 'hapi-swagger': { responses: { 200: { description: 'One page of dead letters', schema: deadLetterPageSchema }, ...docs } } },
      },
    },
    {
      method: 'POST',
      path: `${WEBHOOKS_PATH}/dead-letters/{id}/redeliver`,
      handler: async (request, h) => {
        const { id } = request.params as unknown as { id: number };
        let isQueued: boolean;
        try {
          isQueued = await webhooks.redeliver(id);
        } catch (err) {
          throw toBoom(err);
        }
        if (!isQueued) {
          const boom = Boom.notFound(`dead letter ${id} not found`);
          boom.output.payload.code = 'DEAD_LETTER_NOT_FOUND';
          throw boom;
        }
        return h.response({ id, status: 'queued' }).code(202);
      },
      options: {
        tags: ['api', 'webhooks'],
        description: 'Deliver a dead letter again, from its first attempt (it goes to the end of its call’s queue)',
        notes: 'Send no body (a body, if any, must be JSON).',
        // No body, so no Content-Type needed, as for DELETE /api/calls/{id}; the Origin rule applies.
        payload: { defaultContentType: 'application/json' },
        cache: noStore,
        validate: { params: idParamsSchema },
        plugins: { 'hapi-swagger': { responses: { 202: { description: 'Queued again' }, 404: { description: 'No such dead letter', schema: errorSchema }, ...docs } } },
      },
    },
  ];
}
