/**
 * Joi schemas for the REST API: request validation (compiled by hapi at route registration) and
 * response shapes (used by hapi-swagger for the docs, and validated only when
 * `createServer({ validateResponses: true })`, i.e. in tests — see server.ts).
 *
 * Field schemas carry `.label()` with their JSON name so error messages name the field exactly as
 * the client sent it; object schemas carry a PascalCase `.label()` that hapi-swagger uses as the
 * model name. Error messages never echo the submitted phone number.
 */
import Joi from 'joi';
import { MAX_LIST_LIMIT, decodeCursor } from '../model/call-record';
import type { CallStatus } from '../model/call-view';

/** E.164 (ITU-T E.164 §6): "+", then up to 15 digits, the first being a country code digit 1-9. We require ≥ 8. */
export const E164_PATTERN = /^\+[1-9][0-9]{7,14}$/;
/** ElevenLabs dynamic variable names: identifier-like, ≤ 64 chars. */
export const DYNAMIC_VARIABLE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** ElevenLabs reserves `system__*` variables (system__caller_id, system__time_utc, ...); callers may not set them. */
export const RESERVED_DYNAMIC_VARIABLE_PREFIX = /^system__/i;
/** Keys that mean something to JavaScript objects; refused so nothing downstream can be polluted. */
export const FORBIDDEN_OBJECT_KEYS = /^(?:__proto__|constructor|prototype)$/;
/** Any UUID in canonical lowercase 8-4-4-4-12 form (ids come from `crypto.randomUUID()`). */
export const CALL_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Most keys in `dynamic_variables`. */
export const MAX_DYNAMIC_VARIABLES = 50;
/** Longest string value of a dynamic variable (UTF-16 code units, as Joi counts). */
export const MAX_DYNAMIC_VARIABLE_VALUE_CHARS = 1000;
/** Longest `first_message`. */
export const MAX_FIRST_MESSAGE_CHARS = 2000;
/** Longest `prompt`. */
export const MAX_PROMPT_CHARS = 20_000;
/** Shortest allowed `max_duration_s`. */
export const MIN_MAX_DURATION_S = 10;
/** Longest allowed `max_duration_s` (4 h, as MAX_CALL_DURATION_S in config). */
export const MAX_MAX_DURATION_S = 14_400;

/** Example numbers from fictional ranges (NANP 555-01xx, Ofcom drama 07700 900xxx). */
const EXAMPLE_PHONE_NUMBER = '+14155550123';
const EXAMPLE_CALL_ID = '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42';

const E164_HINT = '"+" followed by 8 to 15 ASCII digits, the first 1-9, with nothing else (e.g. "+14155550123")';

/** `phone_number`: E.164, surrounding whitespace trimmed; letters, inner spaces, non-ASCII digits and control characters rejected. */
export const phoneNumberSchema = Joi.string()
  .trim()
  .pattern(E164_PATTERN)
  .label('phone_number')
  .description('Number to call, in E.164 format: "+", country code, subscriber number; digits only.')
  .example(EXAMPLE_PHONE_NUMBER)
  .messages({
    'string.base': `{{#label}} must be a string in E.164 format: ${E164_HINT}`,
    'string.empty': `{{#label}} must not be empty; expected E.164 format: ${E164_HINT}`,
    'string.pattern.base': `{{#label}} must be in E.164 format: ${E164_HINT}`,
    'any.required': `{{#label}} is required, in E.164 format: ${E164_HINT}`,
  });

const dynamicVariableValueSchema = Joi.alternatives()
  .try(Joi.string().allow('').max(MAX_DYNAMIC_VARIABLE_VALUE_CHARS), Joi.number(), Joi.boolean())
  .messages({
    'alternatives.types': `{{#label}} must be a string (≤ ${MAX_DYNAMIC_VARIABLE_VALUE_CHARS} chars), a number or a boolean`,
  });

/** `dynamic_variables`: flat map of ElevenLabs dynamic variables (values: string | number | boolean). */
export const dynamicVariablesSchema = Joi.object()
  .pattern(
    RESERVED_DYNAMIC_VARIABLE_PREFIX,
    Joi.any().forbidden().messages({ 'any.unknown': '{{#label}} is not allowed: "system__" variables are reserved by ElevenLabs' }),
  )
  .pattern(
    FORBIDDEN_OBJECT_KEYS,
    Joi.any().forbidden().messages({ 'any.unknown': '{{#label}} is not allowed: reserved JavaScript property name' }),
  )
  .pattern(DYNAMIC_VARIABLE_NAME_PATTERN, dynamicVariableValueSchema)
  .max(MAX_DYNAMIC_VARIABLES)
  .label('dynamic_variables')
  .description(
    `ElevenLabs dynamic variables, referenced as {{name}} in the agent's prompt and first message. Up to ` +
      `${MAX_DYNAMIC_VARIABLES} keys matching ${DYNAMIC_VARIABLE_NAME_PATTERN.source}, not starting with "system__"; ` +
      `values are strings (≤ ${MAX_DYNAMIC_VARIABLE_VALUE_CHARS} chars), numbers or booleans.`,
  )
  .example({ customer_name: 'Ada', order_id: 'A-1042', is_vip: true })
  .messages({
    'object.base': '{{#label}} must be an object of name → string | number | boolean',
    'object.max': `{{#label}} must have at most ${MAX_DYNAMIC_VARIABLES} keys`,
    // Words, not the regex: Joi would read its {0,63} as a template variable.
    'object.unknown':
      '{{#label}} is not allowed: variable names are 1-64 letters, digits or underscores and do not start with a digit',
  });

/** `first_message`: what the agent says first; empty string lets the callee speak first. */
export const firstMessageSchema = Joi.string()
  .allow('')
  .max(MAX_FIRST_MESSAGE_CHARS)
  .label('first_message')
  .description(`Overrides the agent's first message (≤ ${MAX_FIRST_MESSAGE_CHARS} chars). Empty: the agent waits for the callee.`)
  .example('Hello {{customer_name}}, this is Ada from Acme calling about order {{order_id}}.');

/** `prompt`: overrides the agent's system prompt for this call. */
export const promptSchema = Joi.string()
  .min(1)
  .max(MAX_PROMPT_CHARS)
  .label('prompt')
  .description(`Overrides the agent's system prompt for this call (≤ ${MAX_PROMPT_CHARS} chars).`)
  .example('You are a polite assistant confirming delivery times.');

/** `language`: ISO 639-1, optionally with a region (`en`, `ru`, `pt-br`); normalised to lower case. */
export const languageSchema = Joi.string()
  .trim()
  .lowercase()
  .pattern(/^[a-z]{2}(?:-[a-z]{2})?$/)
  .label('language')
  .description('Conversation language: ISO 639-1 code, optionally with a region, e.g. "en", "ru", "pt-br".')
  .example('en')
  .messages({ 'string.pattern.base': '{{#label}} must be an ISO 639-1 code, optionally with a region, e.g. "en", "ru", "pt-br"' });

/** `max_duration_s`: hard limit on the call length, integer seconds; strings are not converted. */
export const maxDurationSchema = Joi.number()
  .strict()
  .integer()
  .min(MIN_MAX_DURATION_S)
  .max(MAX_MAX_DURATION_S)
  .label('max_duration_s')
  .description(`Hang up after this many seconds (integer, ${MIN_MAX_DURATION_S}..${MAX_MAX_DURATION_S}).`)
  .example(600);

/** Body of the predecessor's `POST /api/calls/start`. */
export interface StartCallLegacyPayload {
  phone_number: string;
}

/** Body of `POST /api/calls` (snake_case, as on the wire). */
export interface StartCallPayload extends StartCallLegacyPayload {
  dynamic_variables?: Record<string, string | number | boolean>;
  first_message?: string;
  prompt?: string;
  language?: string;
  max_duration_s?: number;
  voice_id?: string;
  caller_id?: string;
  ring_timeout_s?: number;
  record?: boolean;
  amd?: 'off' | 'hangup' | 'leave-message';
}

/** `voice_id`: an ElevenLabs voice id (the agent must allow the TTS voice override). */
export const voiceIdSchema = Joi.string()
  .pattern(/^[A-Za-z0-9]{8,40}$/)
  .label('voice_id')
  .description('ElevenLabs voice id for this call (needs the voice override enabled on the agent).')
  .example('21m00Tcm4TlvDq8ikWAM')
  .messages({ 'string.pattern.base': '{{#label}} must be an ElevenLabs voice id (8-40 letters and digits)' });

/** `caller_id`: the number shown to the callee; digits with an optional leading '+'. */
export const callerIdSchema = Joi.string()
  .pattern(/^\+?[0-9]{3,15}$/)
  .label('caller_id')
  .description('Caller number presented to the callee (the carrier may override it).')
  .example('+74951234567')
  .messages({ 'string.pattern.base': '{{#label}} must be 3-15 digits with an optional leading "+"' });

/** `ring_timeout_s`: how long to ring before giving up. */
export const ringTimeoutSchema = Joi.number()
  .strict()
  .integer()
  .min(5)
  .max(300)
  .label('ring_timeout_s')
  .description('Seconds to ring before the call counts as no-answer (integer, 5..300).')
  .example(30);

/** Path parameters of `/api/calls/{id}`. */
export interface CallIdParams {
  id: string;
}

/** Payload of `POST /api/calls/start`: `phone_number` only, as the predecessor accepted; other keys are rejected. */
export const startCallLegacyPayloadSchema = Joi.object<StartCallLegacyPayload>({
  phone_number: phoneNumberSchema.required(),
})
  .required()
  .label('StartCallLegacyRequest');

/** Payload of `POST /api/calls`. Unknown keys are rejected (so a typo like `phone_numbr` is reported, not ignored). */
export const startCallPayloadSchema = Joi.object<StartCallPayload>({
  phone_number: phoneNumberSchema.required(),
  dynamic_variables: dynamicVariablesSchema,
  first_message: firstMessageSchema,
  prompt: promptSchema,
  language: languageSchema,
  max_duration_s: maxDurationSchema,
  voice_id: voiceIdSchema,
  caller_id: callerIdSchema,
  ring_timeout_s: ringTimeoutSchema,
  record: Joi.boolean().strict().label('record').description('Record the call (both sides mixed); download from recording_url.'),
  amd: Joi.string()
    .valid('off', 'hangup', 'leave-message')
    .label('amd')
    .description('Answering-machine detection: off (default), hangup on a machine, or leave-message (the agent speaks after the greeting).'),
})
  .required()
  .label('StartCallRequest');

/** `{id}` path parameter; upper-case hex is accepted and normalised to lower case. */
export const callIdParamsSchema = Joi.object<CallIdParams>({
  id: Joi.string()
    .lowercase()
    .pattern(CALL_ID_PATTERN)
    .label('id')
    .description('Call id (UUID) returned by POST /api/calls.')
    .example(EXAMPLE_CALL_ID)
    .messages({ 'string.pattern.base': '{{#label}} must be a UUID like "3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42"' }),
});

// ---- responses (docs; validated only when validateResponses is on) ----

/** Every CallStatus, in lifecycle order; the check below fails to compile if CallStatus gains a member. */
export const CALL_STATUSES = ['dialing', 'ringing', 'answered', 'completed', 'busy', 'no-answer', 'failed'] as const satisfies readonly CallStatus[];
const _allStatusesListed: [Exclude<CallStatus, (typeof CALL_STATUSES)[number]>] extends [never] ? true : false = true;
void _allStatusesListed;

const counter = Joi.number().integer().min(0);
const isoTimestamp = Joi.string().isoDate().example('2025-01-31T12:00:00.000Z');

const directionCountersSchema = Joi.object({
  packets: counter.required().description('RTP packets'),
  bytes: counter.required().description('Payload bytes'),
}).label('DirectionCounters');

/** The predecessor's bridge metrics, kept by name. */
export const bridgeMetricsSchema = Joi.object({
  caller_to_ai: directionCountersSchema.required(),
  ai_to_caller: directionCountersSchema.required(),
  resampling_ops: counter.required(),
  errors: counter.required(),
}).label('BridgeMetrics');

/** What the caller heard of an agent line. */
export const heardSchema = Joi.object({
  complete: Joi.boolean().required().description('Every sample of the line the gateway received reached the caller; false: a barge-in (or the end of the call) cut it'),
  ms: counter.required().description('Audio of the line the caller heard, ms'),
  total_ms: counter.required().description('Audio of the line the gateway received, ms'),
  chars: counter.description("With the agent's character alignment: characters whose sound had begun"),
  text: Joi.string().allow('').description('With alignment: those characters'),
}).label('Heard');

/** One line of the conversation. */
export const transcriptEntrySchema = Joi.object({
  role: Joi.string().valid('user', 'agent').label('TranscriptRole').required(),
  text: Joi.string().allow('').required(),
  at: isoTimestamp.required(),
  heard: heardSchema.description('Agent lines: what the caller heard of it, once known'),
  original_text: Joi.string().allow('').description('An agent line corrected after a barge-in: what the agent had meant to say'),
}).label('TranscriptEntry');

/** One entry of a call's status history. */
export const statusChangeSchema = Joi.object({
  status: Joi.string()
    .valid(...CALL_STATUSES)
    .label('CallStatus')
    .required(),
  at: isoTimestamp.required(),
}).label('StatusChange');

/** The public call shape (mirrors `CallView` in src/model/call-view.ts). */
export const callViewSchema = Joi.object({
  id: Joi.string().pattern(CALL_ID_PATTERN).required().example(EXAMPLE_CALL_ID),
  direction: Joi.string().valid('outbound', 'inbound').label('CallDirection').required(),
  phone_number: Joi.string().required().example(EXAMPLE_PHONE_NUMBER).description('The other party: the number dialled, or the caller (inbound)'),
  dialed_number: Joi.string().allow(null).required().description('Inbound: the number the caller dialled'),
  agent_id: Joi.string().allow(null).required().description('Agent of this call; null = the default agent'),
  amd_result: Joi.string().allow(null).required().description('Answering-machine detection verdict: HUMAN, MACHINE, NOTSURE'),
  transferred_to: Joi.string().allow(null).required().description('Number the agent transferred the caller to'),
  recording_url: Joi.string().allow(null).required().description('Download path of the recording, when recorded'),
  node_id: Joi.string().allow(null).required().description('NODE_ID of the gateway that carried the call'),
  status: Joi.string()
    .valid(...CALL_STATUSES)
    .label('CallStatus')
    .required(),
  conversation_id: Joi.string().allow(null).required().description('ElevenLabs conversation id, once connected'),
  created_at: isoTimestamp.required(),
  answered_at: isoTimestamp.allow(null).required(),
  ended_at: isoTimestamp.allow(null).required(),
  hangup_cause: Joi.number().integer().allow(null).required().description('Q.850 cause: 16 normal clearing, 17 busy, 19 no answer'),
  hangup_cause_text: Joi.string().allow(null).required(),
  hangup_sip_code: Joi.number().integer().allow(null).required().description('SIP response that ended the call, when known: 486 busy, 404 not found, 503 …'),
  end_reason: Joi.string()
    .allow(null)
    .required()
    .description(
      'callee, api, agent, agent-error, ring-timeout, no-answer, busy, rejected, max-duration, answering-machine, error, shutdown, gateway-restart; refused inbound calls: at-capacity or rate-limited',
    ),
  error: Joi.string().allow(null).required(),
  transcript: Joi.array().items(transcriptEntrySchema).required(),
  metrics: bridgeMetricsSchema.required(),
  status_history: Joi.array().items(statusChangeSchema).description('Every status with its time; present once the call is recorded'),
}).label('CallView');

/** `GET /health` body, for both 200 and 503. */
export const healthSchema = Joi.object({
  status: Joi.string().valid('ok', 'unavailable').label('HealthStatus').required(),
  ari: Joi.string().valid('connected', 'disconnected').label('AriState').required(),
  active_calls: counter.required(),
  accepting_calls: Joi.boolean().description('False during a graceful stop: new calls get 503'),
  store: Joi.string().valid('ok', 'failing').description('failing while call records cannot be written: new calls get 503 STORE_UNAVAILABLE'),
  trunk: Joi.object({
    endpoint: Joi.string().required().example('exolve'),
    state: Joi.string()
      .valid('online', 'offline', 'unknown')
      .required()
      .description('ARI endpoint state: online while the carrier answers our authenticated OPTIONS with 2xx (qualify_2xx_only)'),
  }).label('TrunkHealth'),
  version: Joi.string().required(),
}).label('Health');

/** Every error body (Boom's shape plus our additions). Docs only: hapi never validates error responses. */
export const errorSchema = Joi.object({
  statusCode: Joi.number().integer().required().example(400),
  error: Joi.string().required().example('Bad Request'),
  message: Joi.string().required().example(`"phone_number" must be in E.164 format: ${E164_HINT}`),
  code: Joi.string().description('Stable error code, e.g. CALL_NOT_FOUND'),
  field: Joi.string().description('Offending field (policy errors)'),
  validation: Joi.object({
    source: Joi.string().valid('payload', 'params', 'query', 'headers').label('ValidationSource').required(),
    keys: Joi.array().items(Joi.string()).required().example(['phone_number']),
  }).label('ValidationDetail'),
}).label('Error');

// ---- GET /api/calls ----

/** Default page size of `GET /api/calls`. */
export const DEFAULT_LIST_LIMIT = 50;

/** Query of `GET /api/calls`, as validated (dates converted, status always an array). */
export interface ListCallsQuery {
  status?: CallStatus[];
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

/** Query of `GET /api/calls`: filters on status and on created_at, keyset paging. */
export const listCallsQuerySchema = Joi.object<ListCallsQuery>({
  status: Joi.array()
    .items(
      Joi.string()
        .valid(...CALL_STATUSES)
        .label('status'),
    )
    .single()
    .unique()
    .label('status')
    .description('Only calls in these statuses; repeat the parameter for several (status=busy&status=failed).'),
  from: Joi.date().iso().label('from').description('Calls created at or after this ISO-8601 time.').example('2025-01-31T00:00:00Z'),
  to: Joi.date()
    .iso()
    .when('from', { is: Joi.exist(), then: Joi.date().greater(Joi.ref('from')) })
    .label('to')
    .description('Calls created before this ISO-8601 time (exclusive).')
    .example('2025-02-01T00:00:00Z'),
  limit: Joi.number()
    .integer()
    .min(1)
    .max(MAX_LIST_LIMIT)
    .default(DEFAULT_LIST_LIMIT)
    .label('limit')
    .description(`Calls per page, 1..${MAX_LIST_LIMIT}.`),
  cursor: Joi.string()
    .max(128)
    .custom((value: string, helpers) => (decodeCursor(value) === undefined ? helpers.error('any.invalid') : value))
    .label('cursor')
    .description('`next_cursor` of the previous page.')
    .messages({ 'any.invalid': '{{#label}} is not a cursor returned by this API' }),
}).label('ListCallsQuery');

/** A recorded call: the CallView plus its status history. */
export const callRecordSchema = callViewSchema
  .keys({ status_history: Joi.array().items(statusChangeSchema).required() })
  .label('CallRecord');

/** Body of `GET /api/calls`. */
export const callListSchema = Joi.object({
  calls: Joi.array().items(callRecordSchema).required(),
  next_cursor: Joi.string().allow(null).required().description('Pass as `cursor` for the next page; null on the last page'),
}).label('CallList');

// ---- GET /api/events ----

/** Query of `GET /api/events`. */
export interface EventsQuery {
  call_id?: string;
  access_token?: string;
}

/** Query of `GET /api/events`: optional call filter; `access_token` for clients that cannot send headers (EventSource). */
export const eventsQuerySchema = Joi.object<EventsQuery>({
  call_id: Joi.string()
    .lowercase()
    .pattern(CALL_ID_PATTERN)
    .label('call_id')
    .description('Only events of this call.')
    .messages({ 'string.pattern.base': '{{#label}} must be a UUID like "3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42"' }),
  access_token: Joi.string().max(512).label('access_token').description('The API token, for EventSource clients (prefer the Authorization header).'),
}).label('EventsQuery');
