/**
 * `POST /api/campaigns` input: the campaign's settings (JSON body, or query parameters with a
 * text/csv upload), and its leads, validated row by row so that a bad lead is reported with its
 * row and the others are taken (docs/campaigns.md).
 */
import Joi from 'joi';
import type { CampaignSettings, LeadInput, RowError } from '../model/campaign';
import { CAMPAIGN_STATUSES, LEAD_STATES, WEEKDAYS, type Weekday } from '../model/campaign';
import { parseCsv } from './csv';
import {
  DYNAMIC_VARIABLE_NAME_PATTERN,
  RESERVED_DYNAMIC_VARIABLE_PREFIX,
  callerIdSchema,
  dynamicVariablesSchema,
  firstMessageSchema,
  languageSchema,
  maxDurationSchema,
  phoneNumberSchema,
  promptSchema,
  ringTimeoutSchema,
  voiceIdSchema,
} from './schemas';

/** Most leads in one campaign. */
export const MAX_CAMPAIGN_LEADS = 10_000;
/** Largest upload (JSON or CSV): 10 000 leads with a few variables each. */
export const MAX_CAMPAIGN_UPLOAD_BYTES = 2 * 1024 * 1024;
/** Most calls of one campaign at once. */
export const MAX_CAMPAIGN_CONCURRENCY = 100;

const CLOCK = /^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$/;

const timeZoneSchema = Joi.string()
  .max(64)
  .custom((value: string, helpers) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
      return value;
    } catch {
      return helpers.error('any.invalid');
    }
  })
  .messages({ 'any.invalid': '{{#label}} must be an IANA time zone, e.g. "Europe/Moscow"' });

const clockSchema = Joi.string().pattern(CLOCK).messages({ 'string.pattern.base': '{{#label}} must be a local time "HH:MM" or "HH:MM:SS"' });

export const callingWindowSchema = Joi.object({
  time_zone: timeZoneSchema.required(),
  start: clockSchema.required(),
  end: clockSchema.required(),
  days: Joi.array()
    .items(Joi.string().valid(...WEEKDAYS))
    .min(1)
    .unique()
    .default([...WEEKDAYS]),
})
  .label('CallingWindow')
  .description('Calls start only from start (inclusive) to end (exclusive), local time in time_zone, on days; an end before the start spans midnight');

const retryRuleSchema = (attempts: number, delayS: number) =>
  Joi.object({
    attempts: Joi.number().integer().min(1).max(20).default(attempts).description('Most attempts of a lead whose last attempt ended this way'),
    delay_s: Joi.number().integer().min(0).max(7 * 86_400).default(delayS).description('Wait before the next attempt, seconds'),
  }).default({ attempts, delay_s: delayS });

export const retryPolicySchema = Joi.object({
  busy: retryRuleSchema(2, 300),
  no_answer: retryRuleSchema(2, 600),
  failed: retryRuleSchema(1, 300),
})
  .default()
  .label('RetryPolicy');

const callOptionsSchema = Joi.object({
  agent_id: Joi.string().pattern(/^[A-Za-z0-9_-]{1,128}$/).label('agent_id'),
  first_message: firstMessageSchema,
  prompt: promptSchema,
  language: languageSchema,
  voice_id: voiceIdSchema,
  caller_id: callerIdSchema,
  ring_timeout_s: ringTimeoutSchema,
  max_duration_s: maxDurationSchema,
  record: Joi.boolean().strict().label('record'),
})
  .default({})
  .label('CampaignCallOptions');

const settingsKeys = {
  name: Joi.string().trim().min(1).max(100).required().label('name'),
  concurrency: Joi.number().integer().min(1).max(MAX_CAMPAIGN_CONCURRENCY).default(1).label('concurrency'),
  window: callingWindowSchema.allow(null).default(null),
  retry: retryPolicySchema,
  amd: Joi.string().valid('off', 'hangup', 'leave-message').default('off').label('amd'),
  call: callOptionsSchema,
};

/** The JSON body: settings and `leads`, each lead checked on its own afterwards (`validateLeads`). */
export const campaignBodySchema = Joi.object({
  ...settingsKeys,
  leads: Joi.array().items(Joi.any()).min(1).max(MAX_CAMPAIGN_LEADS).required().label('leads'),
})
  .required()
  .label('CreateCampaignRequest');

/** One lead. */
export const leadSchema = Joi.object({
  phone_number: phoneNumberSchema.required(),
  dynamic_variables: dynamicVariablesSchema,
}).label('Lead');

/** What `POST /api/campaigns` hands the handler once its input is understood. */
export interface CampaignUpload {
  settings: CampaignSettings;
  /** Leads as sent, numbered from 1 (CSV: data rows, the header not counted). */
  leads: { row: number; value: unknown }[];
  /** Rows refused while reading the upload (CSV rows of the wrong width). */
  rejected: RowError[];
}

/** Query parameters that carry the settings of a text/csv upload (see docs/campaigns.md). */
export const csvQuerySchema = Joi.object({
  name: Joi.string(),
  concurrency: Joi.string(),
  amd: Joi.string(),
  time_zone: Joi.string(),
  window: Joi.string(),
  days: Joi.string(),
  retry_busy: Joi.string(),
  retry_no_answer: Joi.string(),
  retry_failed: Joi.string(),
  agent_id: Joi.string(),
  first_message: Joi.string().allow(''),
  language: Joi.string(),
  voice_id: Joi.string(),
  caller_id: Joi.string(),
  ring_timeout_s: Joi.string(),
  max_duration_s: Joi.string(),
  record: Joi.string(),
}).label('CampaignCsvQuery');

/**
 * hapi payload validator of `POST /api/campaigns`: a JSON body as it is, or a CSV body with the
 * settings from the query. Failures are Joi errors naming the JSON fields (so a 400 names them).
 */
export async function validateCampaignUpload(value: unknown, options: Joi.ValidationOptions): Promise<CampaignUpload> {
  const query = (options.context?.['query'] ?? {}) as Record<string, unknown>;
  if (typeof value === 'string') return fromCsv(value, query);
  if (Object.keys(query).length > 0) throw validationError('query parameters carry the settings of text/csv uploads only; send them in the JSON body', ['query']);
  const { value: body, error } = campaignBodySchema.validate(value, { abortEarly: false });
  if (error) throw error;
  const { leads, ...settings } = body as CampaignSettings & { leads: unknown[] };
  return { settings: settingsOf(settings), leads: leads.map((v, i) => ({ row: i + 1, value: v })), rejected: [] };
}

/** Each lead checked on its own: the valid ones, and a row error per field of the others. */
export function validateLeads(leads: readonly { row: number; value: unknown }[]): { leads: LeadInput[]; rejected: RowError[] } {
  const ok: LeadInput[] = [];
  const rejected: RowError[] = [];
  for (const { row, value } of leads) {
    const result = leadSchema.validate(value, { abortEarly: false });
    if (result.error === undefined) {
      const v = result.value as Omit<LeadInput, 'row'>;
      ok.push({ row, phone_number: v.phone_number, ...(v.dynamic_variables === undefined ? {} : { dynamic_variables: v.dynamic_variables }) });
      continue;
    }
    for (const d of result.error.details) rejected.push({ row, field: d.path.join('.') || 'lead', message: d.message });
  }
  return { leads: ok, rejected };
}

function fromCsv(text: string, query: Record<string, unknown>): CampaignUpload {
  const parsed = parseCsv(text);
  if ('error' in parsed) throw validationError(`the CSV upload is not valid CSV: ${parsed.error} (line ${parsed.line})`, ['csv']);
  const [header, ...rows] = parsed.records;
  if (header === undefined) throw validationError('the CSV upload is empty: it needs a header line with "phone_number"', ['csv']);
  const columns = header.fields.map((c) => c.trim());
  const phoneColumn = columns.indexOf('phone_number');
  if (phoneColumn < 0) throw validationError('the CSV header must name a "phone_number" column', ['phone_number']);
  for (const [i, name] of columns.entries()) {
    if (i === phoneColumn) continue;
    if (!DYNAMIC_VARIABLE_NAME_PATTERN.test(name) || RESERVED_DYNAMIC_VARIABLE_PREFIX.test(name) || columns.indexOf(name) !== i) {
      throw validationError(`CSV column "${name.slice(0, 64)}" is not a dynamic variable name (letters, digits, _; not "system__"; once)`, [`csv.${i + 1}`]);
    }
  }
  if (rows.length === 0) throw validationError('the CSV upload has no lead under its header', ['leads']);
  if (rows.length > MAX_CAMPAIGN_LEADS) throw validationError(`a campaign takes at most ${MAX_CAMPAIGN_LEADS} leads`, ['leads']);
  const leads: CampaignUpload['leads'] = [];
  const rejected: RowError[] = [];
  rows.forEach((record, i) => {
    const row = i + 1;
    if (record.fields.length !== columns.length) {
      rejected.push({ row, field: 'csv', message: `line ${record.line} has ${record.fields.length} fields, the header ${columns.length}` });
      return;
    }
    const variables: Record<string, string> = {};
    columns.forEach((name, c) => {
      const cell = record.fields[c] ?? '';
      if (c !== phoneColumn && cell !== '') variables[name] = cell;
    });
    leads.push({ row, value: { phone_number: record.fields[phoneColumn] ?? '', ...(Object.keys(variables).length > 0 ? { dynamic_variables: variables } : {}) } });
  });
  const { value: settings, error } = Joi.object(settingsKeys).validate(settingsFromQuery(query), { abortEarly: false });
  if (error) throw error;
  return { settings: settingsOf(settings as CampaignSettings), leads, rejected };
}

/** The JSON settings the query parameters of a CSV upload stand for (still to be validated). */
function settingsFromQuery(q: Record<string, unknown>): Record<string, unknown> {
  const str = (k: string): string | undefined => (typeof q[k] === 'string' ? (q[k] as string) : undefined);
  const num = (k: string): number | string | undefined => {
    const v = str(k);
    return v === undefined ? undefined : /^-?\d+$/.test(v) ? Number(v) : v;
  };
  const out: Record<string, unknown> = {};
  const set = (k: string, v: unknown): void => {
    if (v !== undefined) out[k] = v;
  };
  set('name', str('name'));
  set('concurrency', num('concurrency'));
  set('amd', str('amd'));
  const window = str('window');
  if (window !== undefined || str('time_zone') !== undefined || str('days') !== undefined) {
    const [start, end] = (window ?? '').split('-', 2);
    out.window = { time_zone: str('time_zone'), start, end, ...(str('days') === undefined ? {} : { days: expandDays(str('days') ?? '') }) };
  }
  const retry: Record<string, unknown> = {};
  for (const [param, key] of [['retry_busy', 'busy'], ['retry_no_answer', 'no_answer'], ['retry_failed', 'failed']] as const) {
    const v = str(param);
    if (v === undefined) continue;
    const m = /^(\d+)x(\d+)$/.exec(v);
    retry[key] = m === null ? v : { attempts: Number(m[1]), delay_s: Number(m[2]) };
  }
  if (Object.keys(retry).length > 0) out.retry = retry;
  const call: Record<string, unknown> = {};
  for (const k of ['agent_id', 'first_message', 'language', 'voice_id', 'caller_id'] as const) if (str(k) !== undefined) call[k] = str(k);
  for (const k of ['ring_timeout_s', 'max_duration_s'] as const) if (str(k) !== undefined) call[k] = num(k);
  if (str('record') !== undefined) call.record = str('record') === 'true' ? true : str('record') === 'false' ? false : str('record');
  if (Object.keys(call).length > 0) out.call = call;
  return out;
}

/** `mon-fri`, `sat,sun`, `mon,wed-fri` → the days; unknown words are kept for the validator to name. */
function expandDays(text: string): string[] {
  const days: string[] = [];
  for (const part of text.split(',').map((p) => p.trim().toLowerCase())) {
    const [from, to] = part.split('-', 2) as [string, string | undefined];
    const a = WEEKDAYS.indexOf(from as Weekday);
    const b = to === undefined ? a : WEEKDAYS.indexOf(to as Weekday);
    if (a < 0 || b < 0 || b < a) days.push(part);
    else days.push(...WEEKDAYS.slice(a, b + 1));
  }
  return days;
}

function settingsOf(s: CampaignSettings): CampaignSettings {
  return { name: s.name, concurrency: s.concurrency, window: s.window, retry: s.retry, amd: s.amd, call: s.call };
}

function validationError(message: string, path: string[]): Joi.ValidationError {
  return new Joi.ValidationError(message, [{ message, path, type: 'campaign.upload', context: { label: path.join('.'), key: path[path.length - 1] } }], undefined);
}

// ---- responses (docs; validated only when validateResponses is on) ----

const countsSchema = Joi.object({
  total: Joi.number().integer().min(0).required(),
  by_state: Joi.object(Object.fromEntries(LEAD_STATES.map((s) => [s, Joi.number().integer().min(0).required()]))).required(),
  by_reason: Joi.object().pattern(Joi.string(), Joi.number().integer().min(0)).required(),
}).label('CampaignCounts');

export const campaignViewSchema = Joi.object({
  id: Joi.string().required(),
  name: Joi.string().required(),
  status: Joi.string().valid(...CAMPAIGN_STATUSES).required(),
  created_at: Joi.string().isoDate().required(),
  updated_at: Joi.string().isoDate().required(),
  concurrency: Joi.number().integer().required(),
  window: callingWindowSchema.allow(null).required(),
  retry: retryPolicySchema.required(),
  amd: Joi.string().required(),
  call: Joi.object().unknown(true).required(),
  counts: countsSchema.required(),
  is_window_open: Joi.boolean().required(),
}).label('Campaign');

export const rowErrorSchema = Joi.object({
  row: Joi.number().integer().min(1).required(),
  field: Joi.string().required(),
  message: Joi.string().required(),
}).label('RowError');

export const leadViewSchema = Joi.object({
  row: Joi.number().integer().min(1).required(),
  phone_number: Joi.string().required(),
  dynamic_variables: Joi.object().unknown(true).allow(null).required(),
  state: Joi.string().valid(...LEAD_STATES).required(),
  reason: Joi.string().allow(null).required(),
  attempts: Joi.number().integer().min(0).required(),
  next_attempt_at: Joi.string().isoDate().allow(null).required(),
  call_ids: Joi.array().items(Joi.string()).required(),
}).label('Lead');
