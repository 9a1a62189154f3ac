import { availableParallelism, hostname } from 'node:os';
import Joi from 'joi';
import { parseHost } from './api/host-syntax';
import { isLoopbackHost } from './api/loopback';
import { TOKEN_RULE, isWellFormedToken } from './api/token-syntax';
import type { ExternalMediaFormat } from './audio/frame';

import type { ConverterName } from './audio/resampler';

export type { ConverterName };
import type { LogLevel } from './logger';

export type { LogLevel };

/** Service configuration, parsed and validated once at start. Units are in the names. */
export interface Config {
  readonly ariUrl: string;
  readonly ariUsername: string;
  readonly ariPassword: string;
  readonly ariApp: string;
  readonly sipTrunkEndpoint: string;
  readonly callerId: string | undefined;
  /** CALLER_IDS: the only caller IDs a request may ask for (E.164). Empty: any. */
  readonly callerIds: readonly string[];
  readonly ringTimeoutS: number;
  readonly maxCallDurationS: number;

  readonly elevenLabsApiKey: string | undefined;
  readonly elevenLabsAgentId: string;
  readonly elevenLabsApiUrl: string;
  readonly agentConnectTimeoutMs: number;

  readonly apiHost: string;
  readonly apiPort: number;
  /** Names (host or host:port) the API answers to besides loopback names and API_HOST; others get 421. */
  readonly apiPublicHosts: readonly string[];

  readonly audioChunkSizeMs: number;
  /** Address the RTP sockets bind (an IP; `0.0.0.0` / `::` for every interface). */
  readonly externalMediaHost: string;
  /** Address Asterisk is told to send ExternalMedia RTP to (NAT, Docker networks); default externalMediaHost. */
  readonly externalMediaAdvertiseHost: string;
  readonly externalMediaFormat: ExternalMediaFormat;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  readonly resamplerConverter: ConverterName;
  /** RESAMPLER_WARM_CALLS: calls' worth of resampler engines made at start, in the background. */
  readonly resamplerWarmCalls: number;
  readonly metricsLogIntervalMs: number;
  /** ORPHAN_SWEEP_INTERVAL_S as ms: how often our ARI objects no live call owns are removed; 0 = only at ARI connect. */
  readonly orphanSweepIntervalMs: number;

  readonly logLevel: LogLevel;

  /** SQLite file of call records (`:memory:` keeps them for the process only). */
  readonly callDbPath: string;
  /** Bearer tokens accepted on /api/* (several, for rotation). Empty: no auth (loopback only). */
  readonly apiTokens: readonly string[];
  readonly metricsToken: string | undefined;
  readonly allowedPrefixes: readonly string[];
  readonly deniedPrefixes: readonly string[];
  readonly isPremiumDenyEnabled: boolean;
  readonly maxConcurrentCalls: number;
  readonly rateLimitBurst: number;
  readonly rateLimitPerMinute: number;
  /** Most GET /api/events streams open at once, and per token (or client address without auth). */
  readonly eventStreamsMax: number;
  readonly eventStreamsPerTokenMax: number;
  /** SIGTERM: how long live calls may go on before they are hung up. */
  readonly shutdownGraceMs: number;

  /** Take calls arriving on the trunk. */
  readonly isInboundEnabled: boolean;
  /** Dialled number (DID, digits only) → agent id; others go to `elevenLabsAgentId`. */
  readonly inboundAgents: Readonly<Record<string, string>>;
  readonly dtmfToAgent: 'user_message' | 'contextual_update' | 'off';

  /** TRANSFER_DESTINATIONS: exact E.164 numbers and `+prefix*` entries the agent may transfer to. Empty: none. */
  readonly transferDestinations: readonly string[];
  readonly transferMaxAttempts: number;
  readonly transferRingTimeoutS: number;
  readonly transferMaxDurationS: number;
  /** Most DTMF digits the agent may send on one call. */
  readonly sendDtmfMaxDigits: number;
  /** Inbound calls at once (on top of MAX_CONCURRENT_CALLS, which counts every leg); undefined: no own limit. */
  readonly maxInboundCalls: number | undefined;
  /** Inbound calls per caller number: burst, then per minute. */
  readonly inboundRateLimitBurst: number;
  readonly inboundRateLimitPerMinute: number;
  /** How long a write of call records waits for another connection's lock, ms. */
  readonly callDbBusyTimeoutMs: number;

  /** MCP_APPROVAL: the answer to an agent's MCP tool call awaiting approval. */
  readonly mcpApproval: 'auto' | 'deny';
  /** AGENT_USER_ID: the agent's `user_id` on every conversation; undefined: the other party's number. */
  readonly agentUserId: string | undefined;
  /** AGENT_CONNECT: open the agent conversation while an outbound call rings, or on answer. */
  readonly agentConnect: 'ringing' | 'answer';
  /** AGENT_PRECONNECT_MAX_S, in ms: longest a conversation is held for a phone that rings. */
  readonly agentPreconnectMaxMs: number;

  /** WEBHOOK_URLS: where webhook events are posted (configuration only, never a request's choice). */
  readonly webhookUrls: readonly string[];
  /** WEBHOOK_SECRET: HMAC key of the signatures; set whenever webhookUrls is not empty. Never logged. */
  readonly webhookSecret: string | undefined;
  readonly webhookMaxAttempts: number;
  readonly webhookTimeoutMs: number;
  readonly webhookRetryMinMs: number;
  readonly webhookRetryMaxMs: number;
  readonly webhookConcurrency: number;
  /** Media worker threads (agent sockets, RTP, resampling, playout); 0 runs media on the main thread. */
  readonly mediaWorkers: number;
  /** NODE_ID: this gateway's name in call records and in the cluster (default: the host name). */
  readonly nodeId: string;
  /** Set by DATABASE_URL: records in PostgreSQL and this gateway a node of a cluster (docs/cluster.md). */
  readonly cluster: ClusterConfig | undefined;
}

/** The cluster settings (docs/cluster.md); present when DATABASE_URL is set. */
export interface ClusterConfig {
  /** postgres://… of the shared database. Holds a password: never log it. */
  readonly databaseUrl: string;
  /** CLUSTER_TOKEN: what nodes present to each other's internal routes. */
  readonly token: string;
  /** CLUSTER_API_URL: this node's API as the other nodes reach it; undefined = the address it listens on. */
  readonly apiUrl: string | undefined;
  /** CLUSTER_MAX_CONCURRENT_CALLS: legs of all nodes together; undefined = only each node's own limit. */
  readonly maxConcurrentCalls: number | undefined;
  readonly heartbeatMs: number;
  /** A node whose last heartbeat is older leaves rotation, and its live calls are recorded as lost. */
  readonly nodeTimeoutMs: number;
  /** CLUSTER_PROBE_HOST / _PORT: where this node answers the SIP edge's OPTIONS probes; undefined = not at all. */
  readonly probe: { readonly host: string; readonly port: number } | undefined;
}

/** E.164 as the API accepts it: "+", 8 to 15 digits, the first 1-9. */
const E164 = /^\+[1-9][0-9]{7,14}$/;
const PREFIX_LIST = /^\s*\+[0-9]{1,15}\s*(,\s*\+[0-9]{1,15}\s*)*$/;
/** NODE_ID, and the default taken from the host name when that fits it. */
const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A comma list of bearer tokens, each well formed by the rule auth parses headers with
 * (src/api/token-syntax.ts). The message never echoes a token.
 */
const tokenList = (name: string, isListAllowed: boolean) =>
  Joi.string()
    .custom((value: string, helpers) => {
      const tokens = isListAllowed ? splitList(value) : [value];
      return tokens.length > 0 && tokens.every(isWellFormedToken) ? value : helpers.error('any.invalid');
    })
    .messages({
      'any.invalid': isListAllowed
        ? `"${name}" must be one or more comma-separated tokens, each ${TOKEN_RULE}`
        : `"${name}" must be one token of ${TOKEN_RULE}`,
    });

const schema = Joi.object({
  // Credentials belong in ARI_USERNAME / ARI_PASSWORD: a URL is logged (redacted, but still) and
  // quoted by fetch errors, a password field never is.
  ARI_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .custom((value: string, helpers) => (hasUserinfo(value) ? helpers.error('any.invalid') : value))
    .messages({ 'any.invalid': '"ARI_URL" must not carry credentials ("user:password@"): set ARI_USERNAME and ARI_PASSWORD instead' })
    .required(),
  ARI_USERNAME: Joi.string().required(),
  ARI_PASSWORD: Joi.string().required(),
  ARI_APP: Joi.string().pattern(/^[A-Za-z0-9_-]+$/).default('voice-gateway'),
  SIP_TRUNK_ENDPOINT: Joi.string().pattern(/^[A-Za-z0-9_.-]+$/).default('exolve'),
  CALLER_ID: Joi.string().max(64).optional(),
  CALLER_IDS: Joi.string()
    .custom((value: string, helpers) => (splitList(value).every((n) => E164.test(n)) ? value : helpers.error('any.invalid')))
    .messages({ 'any.invalid': '"CALLER_IDS" must be a comma list of E.164 numbers, e.g. +74951234567,+74957654321' })
    .optional(),
  RING_TIMEOUT_S: Joi.number().integer().min(5).max(300).default(45),
  MAX_CALL_DURATION_S: Joi.number().integer().min(10).max(14_400).default(1800),

  ELEVENLABS_API_KEY: Joi.string().allow('').optional(),
  ELEVENLABS_AGENT_ID: Joi.string().required(),
  ELEVENLABS_API_URL: Joi.string().uri({ scheme: ['http', 'https'] }).default('https://api.elevenlabs.io'),
  AGENT_CONNECT_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(5000),

  API_HOST: Joi.string().default('127.0.0.1'),
  API_PORT: Joi.number().port().default(8000),
  API_PUBLIC_HOSTS: Joi.string()
    .custom((value: string, helpers) => (splitList(value).every((entry) => parseHost(entry) !== undefined) ? value : helpers.error('any.invalid')))
    .messages({ 'any.invalid': '"API_PUBLIC_HOSTS" must be a comma list of host or host:port, e.g. gateway.example.com,10.0.0.5:8000' })
    .optional(),

  AUDIO_CHUNK_SIZE_MS: Joi.number().integer().valid(20, 40, 60, 80, 100).default(20),
  // An IP, not a name: the RTP sockets bind it, and dgram needs an address (`localhost` used to pass
  // here and then fail every call's bind).
  EXTERNAL_MEDIA_HOST: Joi.string().ip({ cidr: 'forbidden' }).default('127.0.0.1'),
  EXTERNAL_MEDIA_ADVERTISE_HOST: Joi.string().ip({ cidr: 'forbidden' }).optional(),
  EXTERNAL_MEDIA_FORMAT: Joi.string().valid('slin', 'alaw', 'ulaw').default('slin'),
  RTP_PORT_MIN: Joi.number().port().default(40000),
  RTP_PORT_MAX: Joi.number().port().min(Joi.ref('RTP_PORT_MIN')).default(40999),
  RESAMPLER_CONVERTER: Joi.string()
    .valid('sinc_best', 'sinc_medium', 'sinc_fastest', 'zero_order_hold', 'linear')
    .default('sinc_fastest'),
  // Default: MAX_CONCURRENT_CALLS (applied below). More would be freed again: the pool keeps at
  // most two engines per allowed call.
  RESAMPLER_WARM_CALLS: Joi.number().integer().min(0).max(Joi.ref('MAX_CONCURRENT_CALLS')).optional(),
  METRICS_LOG_INTERVAL_MS: Joi.number().integer().min(1000).default(10_000),
  ORPHAN_SWEEP_INTERVAL_S: Joi.number().integer().min(0).max(86_400).default(60),

  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace').default('info'),

  CALL_DB_PATH: Joi.string().default('./data/calls.db'),
  API_TOKEN: tokenList('API_TOKEN', true).optional(),
  METRICS_TOKEN: tokenList('METRICS_TOKEN', false).optional(),
  ALLOWED_PREFIXES: Joi.string().pattern(PREFIX_LIST).message('"ALLOWED_PREFIXES" must be a comma list like +7,+49').optional(),
  DENIED_PREFIXES: Joi.string().pattern(PREFIX_LIST).message('"DENIED_PREFIXES" must be a comma list like +7809,+449').optional(),
  DENY_PREMIUM_PREFIXES: Joi.boolean().default(true),
  // 30: a 2-core box carries ~50 resampling calls before playout jitters (docs/performance.md#media-workers-against-one-thread).
  MAX_CONCURRENT_CALLS: Joi.number().integer().min(1).max(10_000).default(30),
  RATE_LIMIT_BURST: Joi.number().integer().min(1).default(10),
  RATE_LIMIT_PER_MINUTE: Joi.number().min(1).default(60),
  // Each stream holds a socket, a timer and up to 64 KiB of backlog: 64 streams are 4 MiB at worst,
  // and 8 per token leave room for a few dashboard tabs and a monitor.
  EVENT_STREAMS_MAX: Joi.number().integer().min(1).max(10_000).default(64),
  EVENT_STREAMS_PER_TOKEN_MAX: Joi.number().integer().min(1).max(10_000).default(8),
  SHUTDOWN_GRACE_S: Joi.number().integer().min(0).max(3600).default(30),
  INBOUND_ENABLED: Joi.boolean().default(true),
  INBOUND_AGENTS: Joi.string()
    .pattern(/^\s*\+?[0-9]{1,20}\s*=\s*[A-Za-z0-9_-]+\s*(,\s*\+?[0-9]{1,20}\s*=\s*[A-Za-z0-9_-]+\s*)*$/)
    .message('"INBOUND_AGENTS" must be a comma list of DID=agent_id, e.g. 74951234567=agent_sales,74957654321=agent_support')
    .optional(),
  DTMF_TO_AGENT: Joi.string().valid('user_message', 'contextual_update', 'off').default('user_message'),
  TRANSFER_DESTINATIONS: Joi.string()
    .pattern(/^\s*(\+[1-9][0-9]{7,14}|\+[0-9]{1,15}\*)\s*(,\s*(\+[1-9][0-9]{7,14}|\+[0-9]{1,15}\*)\s*)*$/)
    .message('"TRANSFER_DESTINATIONS" must be a comma list of E.164 numbers (+74951234567) or prefixes ending in * (+7495123*)')
    .optional(),
  TRANSFER_MAX_ATTEMPTS: Joi.number().integer().min(0).max(10).default(1),
  TRANSFER_RING_TIMEOUT_S: Joi.number().integer().min(5).max(120).default(30),
  TRANSFER_MAX_DURATION_S: Joi.number().integer().min(10).max(14_400).default(600),
  SEND_DTMF_MAX_DIGITS: Joi.number().integer().min(0).max(1000).default(64),
  MAX_INBOUND_CALLS: Joi.number().integer().min(0).max(10_000).optional(),
  INBOUND_RATE_LIMIT_BURST: Joi.number().integer().min(1).default(3),
  INBOUND_RATE_LIMIT_PER_MINUTE: Joi.number().min(1).default(6),
  CALL_DB_BUSY_TIMEOUT_MS: Joi.number().integer().min(0).max(10_000).default(250),
  // Deny by default: an approval lets the agent act on a remote system for a caller nobody vetted.
  MCP_APPROVAL: Joi.string().valid('auto', 'deny').default('deny'),
  AGENT_USER_ID: Joi.string().max(256).optional(),
  AGENT_CONNECT: Joi.string().valid('ringing', 'answer').default('ringing'),
  // The service closes a conversation after 60 s without user input; 20 s covers a usual answer time.
  AGENT_PRECONNECT_MAX_S: Joi.number().integer().min(1).max(300).default(20),
  WEBHOOK_URLS: Joi.string()
    .custom((value: string, helpers) => (splitList(value).every(isWebhookUrl) ? value : helpers.error('any.invalid')))
    .messages({ 'any.invalid': '"WEBHOOK_URLS" must be a comma list of http:// or https:// URLs without "user:password@"' })
    .optional(),
  WEBHOOK_SECRET: Joi.string().min(16).max(512).messages({ 'string.min': '"WEBHOOK_SECRET" must be at least 16 characters' }).optional(),
  WEBHOOK_MAX_ATTEMPTS: Joi.number().integer().min(1).max(100).default(12),
  WEBHOOK_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(10_000),
  WEBHOOK_RETRY_MIN_MS: Joi.number().integer().min(10).max(3_600_000).default(1000),
  WEBHOOK_RETRY_MAX_MS: Joi.number().integer().min(Joi.ref('WEBHOOK_RETRY_MIN_MS')).max(86_400_000).default(300_000),
  WEBHOOK_CONCURRENCY: Joi.number().integer().min(1).max(64).default(4),
  // One per core by default: media is the work that needs every core (docs/performance.md).
  MEDIA_WORKERS: Joi.number().integer().min(0).max(64).default(availableParallelism()),
  NODE_ID: Joi.string()
    .pattern(NODE_ID_PATTERN)
    .message('"NODE_ID" must be 1-64 letters, digits, _ . - (it names the node in call records and the cluster)'),
  // The cluster (docs/cluster.md). DATABASE_URL carries a password: messages never echo it.
  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .messages({ 'string.uri': '"DATABASE_URL" must be a postgres:// URL', 'string.uriCustomScheme': '"DATABASE_URL" must be a postgres:// URL' })
    .optional(),
  CLUSTER_TOKEN: Joi.string()
    .min(32)
    .pattern(/^[A-Za-z0-9._~+/=-]+$/)
    .messages({ 'string.min': '"CLUSTER_TOKEN" must be at least 32 characters', 'string.pattern.base': '"CLUSTER_TOKEN" may only hold A-Z a-z 0-9 . _ ~ + / = -' })
    .optional(),
  CLUSTER_API_URL: Joi.string().uri({ scheme: ['http', 'https'] }).optional(),
  CLUSTER_MAX_CONCURRENT_CALLS: Joi.number().integer().min(1).max(1_000_000).optional(),
  CLUSTER_HEARTBEAT_MS: Joi.number().integer().min(100).max(60_000).default(2000),
  CLUSTER_NODE_TIMEOUT_MS: Joi.number().integer().min(300).max(600_000).default(10_000),
  CLUSTER_PROBE_HOST: Joi.string().ip({ cidr: 'forbidden' }).default('127.0.0.1'),
  CLUSTER_PROBE_PORT: Joi.number().port().optional(),
}).custom((env: Record<string, unknown>, helpers) => {
  // An API reachable from other hosts places paid calls: it must not run without a token.
  if (!env.API_TOKEN && !isLoopbackHost(String(env.API_HOST))) {
    return helpers.message({ custom: `"API_TOKEN" is required when API_HOST (${String(env.API_HOST)}) is not a loopback address` });
  }
  // The default caller ID is presented on every call without one: it must pass the same rule.
  const callerIds = splitList(env.CALLER_IDS).map((n) => n.replace(/^\+/, ''));
  if (typeof env.CALLER_ID === 'string' && callerIds.length > 0 && !callerIds.includes(env.CALLER_ID.replace(/^\+/, ''))) {
    return helpers.message({ custom: '"CALLER_ID" must be one of CALLER_IDS' });
  }
  // Unsigned events would let anyone who can reach a receiver forge calls' outcomes.
  if (splitList(env.WEBHOOK_URLS).length > 0 && env.WEBHOOK_SECRET === undefined) {
    return helpers.message({ custom: '"WEBHOOK_SECRET" is required when WEBHOOK_URLS is set' });
  }
  if (env.DATABASE_URL !== undefined && env.CLUSTER_TOKEN === undefined) {
    return helpers.message({ custom: '"CLUSTER_TOKEN" is required with DATABASE_URL: the nodes of a cluster call each other with it' });
  }
  // A node missing three heartbeats in a row is gone; fewer would drop a node for one slow write.
  if (Number(env.CLUSTER_NODE_TIMEOUT_MS) < 3 * Number(env.CLUSTER_HEARTBEAT_MS)) {
    return helpers.message({ custom: '"CLUSTER_NODE_TIMEOUT_MS" must be at least 3 × CLUSTER_HEARTBEAT_MS' });
  }
  // Asterisk cannot send to "every interface": a wildcard bind needs a real address to advertise.
  const advertised = env.EXTERNAL_MEDIA_ADVERTISE_HOST ?? env.EXTERNAL_MEDIA_HOST;
  if (isUnspecified(String(advertised))) {
    return helpers.message({
      custom: `"EXTERNAL_MEDIA_ADVERTISE_HOST" must be an address Asterisk can send RTP to (EXTERNAL_MEDIA_HOST ${String(env.EXTERNAL_MEDIA_HOST)} binds every interface)`,
    });
  }
  return env;
});

/** True when `url` has a user or password part; false too when it does not parse (Joi reports that). */
function hasUserinfo(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false; // not a URL: string.uri has already said so
  }
}

/** An http(s) URL without credentials (fetch refuses those, and they would be logged with errors). */
function isWebhookUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}

function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || /^[0:]+$/.test(ip);
}

/** The host name, cut to what NODE_ID allows; `node` when nothing of it fits. */
function defaultNodeId(): string {
  const name = hostname().replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64);
  return NODE_ID_PATTERN.test(name) ? name : 'node';
}

function splitList(value: unknown): string[] {
  return typeof value === 'string' && value.trim() !== '' ? value.split(',').map((x) => x.trim()) : [];
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Validate `env` (normally `process.env`) and return a frozen Config, or throw ConfigError listing every problem. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // Empty strings in .env mean "unset", as with most dotenv tooling.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k in schema.describe().keys && v !== undefined && v !== ''),
  );
  const { value, error } = schema.validate(cleaned, { abortEarly: false, convert: true, stripUnknown: true });
  if (error) throw new ConfigError(error.details.map((d) => d.message));
  const v = value as Record<string, string | number | boolean | undefined>;
  const str = (k: string): string => String(v[k]);
  const num = (k: string): number => Number(v[k]);
  const opt = (k: string): string | undefined => (v[k] === undefined ? undefined : String(v[k]));
  return Object.freeze({
    ariUrl: str('ARI_URL').replace(/\/+$/, ''),
    ariUsername: str('ARI_USERNAME'),
    ariPassword: str('ARI_PASSWORD'),
    ariApp: str('ARI_APP'),
    sipTrunkEndpoint: str('SIP_TRUNK_ENDPOINT'),
    callerId: opt('CALLER_ID'),
    callerIds: Object.freeze(splitList(v.CALLER_IDS)),
    ringTimeoutS: num('RING_TIMEOUT_S'),
    maxCallDurationS: num('MAX_CALL_DURATION_S'),
    elevenLabsApiKey: opt('ELEVENLABS_API_KEY'),
    elevenLabsAgentId: str('ELEVENLABS_AGENT_ID'),
    elevenLabsApiUrl: str('ELEVENLABS_API_URL').replace(/\/+$/, ''),
    agentConnectTimeoutMs: num('AGENT_CONNECT_TIMEOUT_MS'),
    apiHost: str('API_HOST'),
    apiPort: num('API_PORT'),
    apiPublicHosts: Object.freeze(splitList(v.API_PUBLIC_HOSTS).map((h) => h.toLowerCase())),
    audioChunkSizeMs: num('AUDIO_CHUNK_SIZE_MS'),
    externalMediaHost: str('EXTERNAL_MEDIA_HOST'),
    externalMediaAdvertiseHost: opt('EXTERNAL_MEDIA_ADVERTISE_HOST') ?? str('EXTERNAL_MEDIA_HOST'),
    externalMediaFormat: str('EXTERNAL_MEDIA_FORMAT') as ExternalMediaFormat,
    rtpPortMin: num('RTP_PORT_MIN'),
    rtpPortMax: num('RTP_PORT_MAX'),
    resamplerConverter: str('RESAMPLER_CONVERTER') as ConverterName,
    resamplerWarmCalls: v.RESAMPLER_WARM_CALLS === undefined ? num('MAX_CONCURRENT_CALLS') : num('RESAMPLER_WARM_CALLS'),
    metricsLogIntervalMs: num('METRICS_LOG_INTERVAL_MS'),
    orphanSweepIntervalMs: num('ORPHAN_SWEEP_INTERVAL_S') * 1000,
    logLevel: str('LOG_LEVEL') as LogLevel,
    callDbPath: str('CALL_DB_PATH'),
    apiTokens: Object.freeze(splitList(v.API_TOKEN)),
    metricsToken: opt('METRICS_TOKEN'),
    allowedPrefixes: Object.freeze(splitList(v.ALLOWED_PREFIXES)),
    deniedPrefixes: Object.freeze(splitList(v.DENIED_PREFIXES)),
    isPremiumDenyEnabled: Boolean(v.DENY_PREMIUM_PREFIXES),
    maxConcurrentCalls: num('MAX_CONCURRENT_CALLS'),
    rateLimitBurst: num('RATE_LIMIT_BURST'),
    rateLimitPerMinute: num('RATE_LIMIT_PER_MINUTE'),
    eventStreamsMax: num('EVENT_STREAMS_MAX'),
    eventStreamsPerTokenMax: num('EVENT_STREAMS_PER_TOKEN_MAX'),
    shutdownGraceMs: num('SHUTDOWN_GRACE_S') * 1000,
    isInboundEnabled: Boolean(v.INBOUND_ENABLED),
    inboundAgents: Object.freeze(
      Object.fromEntries(
        splitList(v.INBOUND_AGENTS).map((pair) => {
          const [did = '', agent = ''] = pair.split('=').map((x) => x.trim());
          return [did.replace(/^\+/, ''), agent];
        }),
      ),
    ),
    dtmfToAgent: str('DTMF_TO_AGENT') as Config['dtmfToAgent'],
    transferDestinations: Object.freeze(splitList(v.TRANSFER_DESTINATIONS)),
    transferMaxAttempts: num('TRANSFER_MAX_ATTEMPTS'),
    transferRingTimeoutS: num('TRANSFER_RING_TIMEOUT_S'),
    transferMaxDurationS: num('TRANSFER_MAX_DURATION_S'),
    sendDtmfMaxDigits: num('SEND_DTMF_MAX_DIGITS'),
    maxInboundCalls: v.MAX_INBOUND_CALLS === undefined ? undefined : num('MAX_INBOUND_CALLS'),
    inboundRateLimitBurst: num('INBOUND_RATE_LIMIT_BURST'),
    inboundRateLimitPerMinute: num('INBOUND_RATE_LIMIT_PER_MINUTE'),
    callDbBusyTimeoutMs: num('CALL_DB_BUSY_TIMEOUT_MS'),
    mcpApproval: str('MCP_APPROVAL') as Config['mcpApproval'],
    agentUserId: opt('AGENT_USER_ID'),
    agentConnect: str('AGENT_CONNECT') as Config['agentConnect'],
    agentPreconnectMaxMs: num('AGENT_PRECONNECT_MAX_S') * 1000,
    webhookUrls: Object.freeze([...new Set(splitList(v.WEBHOOK_URLS))]),
    webhookSecret: opt('WEBHOOK_SECRET'),
    webhookMaxAttempts: num('WEBHOOK_MAX_ATTEMPTS'),
    webhookTimeoutMs: num('WEBHOOK_TIMEOUT_MS'),
    webhookRetryMinMs: num('WEBHOOK_RETRY_MIN_MS'),
    webhookRetryMaxMs: num('WEBHOOK_RETRY_MAX_MS'),
    webhookConcurrency: num('WEBHOOK_CONCURRENCY'),
    mediaWorkers: num('MEDIA_WORKERS'),
    nodeId: opt('NODE_ID') ?? defaultNodeId(),
    cluster:
      v.DATABASE_URL === undefined
        ? undefined
        : Object.freeze({
            databaseUrl: str('DATABASE_URL'),
            token: str('CLUSTER_TOKEN'),
            apiUrl: opt('CLUSTER_API_URL')?.replace(/\/+$/, ''),
            maxConcurrentCalls: v.CLUSTER_MAX_CONCURRENT_CALLS === undefined ? undefined : num('CLUSTER_MAX_CONCURRENT_CALLS'),
            heartbeatMs: num('CLUSTER_HEARTBEAT_MS'),
            nodeTimeoutMs: num('CLUSTER_NODE_TIMEOUT_MS'),
            probe: v.CLUSTER_PROBE_PORT === undefined ? undefined : Object.freeze({ host: str('CLUSTER_PROBE_HOST'), port: num('CLUSTER_PROBE_PORT') }),
          }),
  });
}
