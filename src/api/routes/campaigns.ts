/**
 * `/api/campaigns`: create a campaign from leads (JSON, or a text/csv upload with the settings in
 * the query), follow it, pause, resume or cancel it. Creating and changing go through the same
 * guards as placing a call (Host, Origin / Sec-Fetch-Site, the token); a text/csv body is not one a
 * web page can send to another site without a CORS preflight (which this API never grants), and the
 * Origin rule refuses it besides. docs/campaigns.md has the details.
 */
import Boom from '@hapi/boom';
import Joi from 'joi';
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import type { CampaignApi, LeadState } from '../../model/campaign';
import { LEAD_STATES } from '../../model/campaign';
import { tokenIdOfRequest } from '../auth';
import {
  MAX_CAMPAIGN_UPLOAD_BYTES,
  campaignViewSchema,
  csvQuerySchema,
  leadViewSchema,
  rowErrorSchema,
  validateCampaignUpload,
  validateLeads,
  type CampaignUpload,
} from '../campaign-schemas';
import { toBoom } from '../error-mapping';
import { errorSchema } from '../schemas';

export const CAMPAIGNS_PATH = '/api/campaigns';

const createdSchema = Joi.object({
  campaign: campaignViewSchema.required(),
  rejected: Joi.array().items(rowErrorSchema).required().description('Leads refused, by row; the others were taken'),
}).label('CampaignCreated');

const listSchema = Joi.object({ campaigns: Joi.array().items(campaignViewSchema).required() }).label('CampaignList');
const leadPageSchema = Joi.object({ leads: Joi.array().items(leadViewSchema).required(), next_after: Joi.number().integer().allow(null).required() }).label('LeadPage');

const idParams = Joi.object({
  id: Joi.string()
    .lowercase()
    .pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    .required()
    .label('id')
    .messages({ 'string.pattern.base': '{{#label}} must be a campaign id (a UUID)' }),
});

const docs = {
  400: { description: 'Invalid input; `validation.keys` names the fields (an upload with no valid lead: NO_VALID_LEADS with `rejected`)', schema: errorSchema },
  401: { description: 'Missing or invalid bearer token (when API_TOKEN is set)', schema: errorSchema },
  403: { description: 'Refused by policy (`field`), or sent by another web page (CROSS_SITE_REQUEST)', schema: errorSchema },
  404: { description: 'No such campaign (CAMPAIGN_NOT_FOUND)', schema: errorSchema },
  409: { description: 'The campaign is over: completed or cancelled (CAMPAIGN_OVER)', schema: errorSchema },
  413: { description: 'Upload larger than 2 MiB', schema: errorSchema },
  415: { description: 'Content-Type is neither application/json nor text/csv', schema: errorSchema },
  501: { description: 'This gateway runs no campaigns: it is a node of a cluster (CAMPAIGNS_NOT_IN_CLUSTER, docs/cluster.md)', schema: errorSchema },
  503: { description: 'Campaigns cannot be read or written now', schema: errorSchema },
} as const;

export function campaignRoutes(campaigns: CampaignApi): ServerRoute[] {
  const noStore = { otherwise: 'no-store' } as const;
  const idOf = (request: Request): string => (request.params as { id: string }).id;
  const change = (action: 'pause' | 'resume' | 'cancel', description: string): ServerRoute => ({
    method: 'POST',
    path: `${CAMPAIGNS_PATH}/{id}/${action}`,
    handler: async (request) => {
      try {
        return await campaigns[action](idOf(request));
      } catch (err) {
        throw toBoom(err);
      }
    },
    options: {
      tags: ['api', 'campaigns'],
      description,
      notes: 'Send no body (a body, if any, must be JSON).',
      // No body, so no Content-Type needed (as DELETE /api/calls/{id}); the Origin rule applies.
      payload: { defaultContentType: 'application/json' },
      cache: noStore,
      validate: { params: idParams },
      response: { status: { 200: campaignViewSchema } },
      plugins: { 'hapi-swagger': { responses: { 200: { description: 'The campaign', schema: campaignViewSchema }, ...docs } } },
    },
  });

  return [
    {
      method: 'POST',
      path: CAMPAIGNS_PATH,
      handler: async (request: Request, h: ResponseToolkit) => {
        const upload = request.payload as CampaignUpload; // validated and read by validateCampaignUpload
        const checked = validateLeads(upload.leads);
        const rejected = [...upload.rejected, ...checked.rejected].sort((a, b) => a.row - b.row);
        const requester = { id: tokenIdOfRequest(request) ?? `address:${request.info.remoteAddress}` };
        let created;
        try {
          created = checked.leads.length === 0 ? { campaign: undefined, rejected } : await campaigns.createCampaign(upload.settings, checked.leads, rejected, requester);
        } catch (err) {
          throw toBoom(err);
        }
        if (created.campaign === undefined) {
          const boom = Boom.badRequest('no lead of the upload can be called: see `rejected` for each row');
          boom.output.payload.code = 'NO_VALID_LEADS';
          boom.output.payload.rejected = created.rejected.slice(0, 1000);
          throw boom;
        }
        return h.response(created).code(201).location(`${CAMPAIGNS_PATH}/${created.campaign.id}`);
      },
      options: {
        tags: ['api', 'campaigns'],
        description: 'Create a campaign: leads (a number and its dynamic variables), concurrency, calling window, retries, AMD',
        notes:
          'Body: JSON with `leads`, or a CSV file (Content-Type: text/csv, header `phone_number` plus one column per dynamic variable) with the settings as query parameters. Bad leads are reported per row in `rejected`; the others are called.',
        payload: { allow: ['application/json', 'text/csv'], maxBytes: MAX_CAMPAIGN_UPLOAD_BYTES },
        cache: noStore,
        validate: { payload: validateCampaignUpload, query: csvQuerySchema },
        response: { status: { 201: createdSchema } },
        plugins: { 'hapi-swagger': { responses: { 201: { description: 'Created; it starts calling (inside its window)', schema: createdSchema }, ...docs } } },
      },
    },
    {
      method: 'GET',
      path: CAMPAIGNS_PATH,
      handler: async (request) => {
        try {
          return { campaigns: await campaigns.listCampaigns((request.query as { limit: number }).limit) };
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: {
        tags: ['api', 'campaigns'],
        description: 'Campaigns, newest first, with their progress',
        cache: noStore,
        validate: { query: Joi.object({ limit: Joi.number().integer().min(1).max(200).default(50).label('limit') }) },
        response: { status: { 200: listSchema } },
        plugins: { 'hapi-swagger': { responses: { 200: { description: 'Campaigns', schema: listSchema }, ...docs } } },
      },
    },
    {
      method: 'GET',
      path: `${CAMPAIGNS_PATH}/{id}`,
      handler: async (request) => {
        try {
          return await campaigns.getCampaign(idOf(request));
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: {
        tags: ['api', 'campaigns'],
        description: 'One campaign: settings, status, lead counts by state and reason',
        cache: noStore,
        validate: { params: idParams },
        response: { status: { 200: campaignViewSchema } },
        plugins: { 'hapi-swagger': { responses: { 200: { description: 'The campaign', schema: campaignViewSchema }, ...docs } } },
      },
    },
    {
      method: 'GET',
      path: `${CAMPAIGNS_PATH}/{id}/leads`,
      handler: async (request) => {
        const q = request.query as { state?: LeadState; limit: number; after?: number };
        try {
          return await campaigns.listLeads(idOf(request), q);
        } catch (err) {
          throw toBoom(err);
        }
      },
      options: {
        tags: ['api', 'campaigns'],
        description: 'The leads of a campaign by row: state, reason, attempts, calls',
        cache: noStore,
        validate: {
          params: idParams,
          query: Joi.object({
            state: Joi.string().valid(...LEAD_STATES).label('state'),
            limit: Joi.number().integer().min(1).max(500).default(100).label('limit'),
            after: Joi.number().integer().min(0).label('after'),
          }),
        },
        response: { status: { 200: leadPageSchema } },
        plugins: { 'hapi-swagger': { responses: { 200: { description: 'One page of leads', schema: leadPageSchema }, ...docs } } },
      },
    },
    change('pause', 'Pause a campaign: no new calls; calls going on go on'),
    change('resume', 'Resume a paused campaign'),
    change('cancel', 'Cancel a campaign: leads not yet called (or waiting for a retry) are cancelled; calls going on end by themselves'),
  ];
}
