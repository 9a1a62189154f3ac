import {
  renderTemplates,
  resolveTemplateValues,
  type EnvLike,
  type TemplateSchema,
  type TemplateValues,
} from './config-template';

/**
 * The environment of the production Asterisk templates in `asterisk-conf/`. Names shared with the
 * app (src/config.ts) — ARI_USERNAME, ARI_PASSWORD, ARI_APP, SIP_TRUNK_ENDPOINT — carry the same
 * meaning and the same restrictions, so one `.env` configures both.
 *
 * Defaults of the directory variables are the Debian package's own locations, which is what the
 * Docker image uses; the local runner (scripts/asterisk.ts) sets them to an instance folder.
 */
export const ASTERISK_TEMPLATE_SCHEMA: TemplateSchema = {
  vars: {
    SIP_HOST: { kind: 'host', presence: { default: 'sip.exolve.ru' }, doc: 'carrier SIP host (registrar and outbound proxy)' },
    SIP_PORT: { kind: 'port', presence: { default: '5060' }, doc: 'carrier SIP port' },
    SIP_USERNAME: { kind: 'name', presence: { default: '883140776920289' }, doc: 'SIP account (SIP ID) at the carrier' },
    SIP_PASSWORD: { kind: 'secret', presence: { required: true }, doc: 'SIP account password' },
    SIP_TRUNK_ENDPOINT: {
      kind: 'name',
      pattern: /^[A-Za-z0-9_.-]+$/,
      presence: { default: 'exolve' },
      doc: 'name of the PJSIP trunk endpoint; the app dials PJSIP/<number>@<this>',
    },
    SIP_BIND_ADDRESS: { kind: 'ip', presence: { default: '0.0.0.0' }, doc: 'local address of the SIP UDP transport' },
    SIP_BIND_PORT: { kind: 'port', presence: { default: '5060' }, doc: 'local port of the SIP UDP transport' },
    SIP_IDENTIFY_MATCH: {
      kind: 'match-list',
      presence: { defaultFrom: 'SIP_HOST' },
      doc: "carrier's signalling addresses/networks; inbound INVITEs from them are trunk calls",
    },
    SIP_EXTERNAL_ADDRESS: {
      kind: 'host',
      presence: { optional: true },
      doc: 'public address put in SIP/SDP when Asterisk is behind NAT',
    },
    SIP_LOCAL_NET: {
      kind: 'cidr-list',
      presence: { optional: true },
      doc: 'networks that are NOT behind the NAT (e.g. 10.0.0.0/8,192.168.0.0/16)',
    },
    SIP_EDGE_HOST: {
      kind: 'ip',
      presence: { optional: true },
      doc: 'cluster node (docs/cluster.md): address of the SIP edge (Kamailio); set, the node sends through it and does not register',
    },
    SIP_EDGE_PORT: { kind: 'port', presence: { default: '5060' }, doc: 'SIP port of the SIP edge' },
    ARI_BIND_ADDRESS: {
      kind: 'private-ip',
      presence: { default: '127.0.0.1' },
      doc: 'address of the ARI HTTP server; loopback or private only (plain HTTP, basic auth)',
    },
    ARI_PORT: { kind: 'port', presence: { default: '8088' }, doc: 'port of the ARI HTTP server' },
    ARI_USERNAME: { kind: 'name', presence: { required: true }, doc: 'ARI user (the app logs in with it)' },
    ARI_PASSWORD: { kind: 'secret', presence: { required: true }, doc: 'ARI password' },
    ARI_APP: {
      kind: 'name',
      pattern: /^[A-Za-z0-9_-]+$/,
      presence: { default: 'voice-gateway' },
      doc: 'Stasis application that inbound calls enter',
    },
    ASTERISK_RTP_PORT_MIN: { kind: 'port', presence: { default: '10000' }, doc: 'first UDP port Asterisk uses for RTP' },
    ASTERISK_RTP_PORT_MAX: { kind: 'port', presence: { default: '10999' }, doc: 'last UDP port Asterisk uses for RTP' },
    ...instanceDirectoryVars(),
  },
  checks: [checkRtpRange('ASTERISK_RTP_PORT_MIN', 'ASTERISK_RTP_PORT_MAX'), checkAriUrlPort],
};

/**
 * The per-instance directory variables every Asterisk template set uses (asterisk.conf). Shared
 * with the carrier stand-in's schema so one runner can fill them for any instance.
 */
export function instanceDirectoryVars(): TemplateSchema['vars'] {
  return {
    ASTERISK_ETC_DIR: { kind: 'path', presence: { default: '/etc/asterisk' }, doc: 'rendered config files' },
    ASTERISK_RUN_DIR: { kind: 'path', presence: { default: '/var/run/asterisk' }, doc: 'pid file and control socket' },
    ASTERISK_LOG_DIR: { kind: 'path', presence: { default: '/var/log/asterisk' }, doc: 'messages.log' },
    ASTERISK_SPOOL_DIR: { kind: 'path', presence: { default: '/var/spool/asterisk' }, doc: 'recordings' },
    ASTERISK_LIB_DIR: { kind: 'path', presence: { default: '/var/lib/asterisk' }, doc: 'astdb, keys, cache' },
  };
}

/** The names of instanceDirectoryVars(), in the order a runner creates them. */
export const INSTANCE_DIRECTORY_VARS = [
  'ASTERISK_ETC_DIR',
  'ASTERISK_RUN_DIR',
  'ASTERISK_LOG_DIR',
  'ASTERISK_SPOOL_DIR',
  'ASTERISK_LIB_DIR',
] as const;

/** A check that `min`..`max` is a usable RTP range (rtp.conf wants an even start). */
export function checkRtpRange(min: string, max: string): (values: TemplateValues) => string[] {
  return (values) => {
    const lo = Number(values[min]);
    const hi = Number(values[max]);
    const problems: string[] = [];
    if (lo >= hi) problems.push(`${min} (${lo}) must be below ${max} (${hi})`);
    if (lo % 2 !== 0) problems.push(`${min} (${lo}) must be even (RTP uses even ports, RTCP the odd one above)`);
    return problems;
  };
}

/**
 * The app reaches ARI through ARI_URL (src/config.ts); when both are set, its port must be the one
 * Asterisk listens on, or the app fails later with a less helpful "connection refused".
 */
function checkAriUrlPort(values: TemplateValues, env: EnvLike): string[] {
  const url = env['ARI_URL'];
  if (url === undefined || url === '') return [];
  let port: string;
  try {
    const parsed = new URL(url);
    port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  } catch {
    return ['ARI_URL is not a URL']; // not echoed: it could hold "user:password@"
  }
  return port === values['ARI_PORT'] ? [] : [`ARI_URL port ${port} differs from ARI_PORT ${values['ARI_PORT']}`];
}

/** Resolve the production template values from an environment (normally process.env). */
export function resolveAsteriskValues(env: EnvLike): TemplateValues {
  return resolveTemplateValues(ASTERISK_TEMPLATE_SCHEMA, env);
}

/**
 * Render the production templates (file name → text, as read from asterisk-conf/). Throws
 * TemplateEnvError naming every missing/invalid variable, or TemplateSyntaxError for a broken template.
 */
export function renderAsteriskConfig(templates: Readonly<Record<string, string>>, env: EnvLike): Record<string, string> {
  return renderTemplates(templates, ASTERISK_TEMPLATE_SCHEMA, env);
}
