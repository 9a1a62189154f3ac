import { isIP } from 'node:net';

/**
 * Config templates: Asterisk `.conf` text with `${NAME}` placeholders, filled from environment
 * variables that a schema declares and checks. Pure: no file or process access here.
 *
 * Template syntax
 *   ${NAME}            the value of NAME (UPPER_SNAKE). A NAME the schema does not declare is an error,
 *                      so a typo in a template fails the render instead of reaching Asterisk.
 *   $$                 a literal `$`. Dialplan variables are written `$${EXTEN}` and come out `${EXTEN}`.
 *   ;@if NAME <text>   the line `<text>` is kept only when NAME has a value; otherwise the line is
 *                      dropped. Used for optional settings (NAT addresses). Unrendered, it reads as
 *                      an Asterisk comment.
 *   ;@unless NAME <text>  the opposite: kept only when NAME has no value (a cluster node sends
 *                      through the SIP edge instead of registering itself).
 *
 * Values are checked before they are substituted: every kind refuses line breaks and `;` (which
 * starts an Asterisk comment and would silently cut a password), so a value can never add or hide
 * a config line.
 */

/** What a value must look like. Each kind rejects control characters and `;`. */
export type ValueKind =
  | 'host' // DNS name or IP literal
  | 'ip' // IPv4 / IPv6 literal (bind addresses)
  | 'private-ip' // loopback or RFC 1918 / ULA address: services that must not face the internet
  | 'port'
  | 'name' // identifiers: endpoint, user and app names
  | 'secret' // passwords: printable, no `;`, no surrounding spaces; never echoed in errors
  | 'path' // absolute path without spaces
  | 'cidr-list' // comma-separated networks, e.g. 10.0.0.0/8,192.168.0.0/16
  | 'match-list' // comma-separated hosts, IPs or networks (pjsip identify `match`)
  | 'node-list'; // comma-separated name=ip:sip-port/probe-port: the nodes behind the SIP edge

/**
 * Where a variable's value comes from when the environment does not set it: nowhere (`required`),
 * a literal `default`, another variable (`defaultFrom`), or nothing at all (`optional`: the value
 * is empty and `;@if` lines that depend on it are dropped).
 */
export type Presence =
  | { readonly required: true }
  | { readonly default: string }
  | { readonly defaultFrom: string }
  | { readonly optional: true };

/** One variable of a template schema. */
export interface TemplateVarSpec {
  readonly kind: ValueKind;
  /** One line for `.env.example` and error messages. */
  readonly doc: string;
  readonly presence: Presence;
  /** Extra restriction for `name` values (e.g. the ARI app name pattern the app also enforces). */
  readonly pattern?: RegExp;
}

export interface TemplateSchema {
  readonly vars: Readonly<Record<string, TemplateVarSpec>>;
  /** Cross-variable checks on resolved values; each returns problems as sentences. */
  readonly checks?: readonly ((values: TemplateValues, env: EnvLike) => readonly string[])[];
  /**
   * Values computed from the checked ones (e.g. one line per node of a list), available to the
   * templates like variables. Code makes them from checked values, so they may hold several lines.
   */
  readonly derived?: (values: TemplateValues) => Readonly<Record<string, string>>;
}

export type EnvLike = Readonly<Record<string, string | undefined>>;
export type TemplateValues = Readonly<Record<string, string>>;

/** The environment does not satisfy a schema. Lists every problem at once. */
export class TemplateEnvError extends Error {
  readonly missing: readonly string[];
  readonly problems: readonly string[];
  constructor(missing: readonly string[], invalid: readonly string[]) {
    const problems = [
      ...(missing.length > 0 ? [`missing required variable(s): ${missing.join(', ')}`] : []),
      ...invalid,
    ];
    super(`invalid Asterisk config environment:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TemplateEnvError';
    this.missing = missing;
    this.problems = problems;
  }
}

/** A template itself is broken (unknown or malformed placeholder). */
export class TemplateSyntaxError extends Error {
  constructor(fileName: string, lineNumber: number, message: string) {
    super(`${fileName}:${lineNumber}: ${message}`);
    this.name = 'TemplateSyntaxError';
  }
}

const NAME_RE = /^[A-Za-z0-9_.+-]+$/;
const PATH_RE = /^\/[A-Za-z0-9_./-]*$/;
const HOST_RE = /^[A-Za-z0-9.-]+$/;
// Anything below 0x20 or DEL: newlines would start a new config line.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x1f\x7f]/;

function isPrivateIp(ip: string): boolean {
  if (ip === '::1') return true;
  if (isIP(ip) === 6) return /^f[cd][0-9a-f]{2}:/i.test(ip); // fc00::/7 unique local
  const parts = ip.split('.').map(Number);
  const [a = -1, b = -1] = parts;
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

function isCidr(item: string): boolean {
  const [addr = '', bits, ...rest] = item.split('/');
  if (rest.length > 0 || isIP(addr) === 0) return false;
  if (bits === undefined) return true;
  const max = isIP(addr) === 4 ? 32 : 128;
  return /^\d+$/.test(bits) && Number(bits) <= max;
}

/** Returns why `value` is not a valid `kind`, or undefined when it is. */
function checkKind(spec: TemplateVarSpec, value: string): string | undefined {
  if (CONTROL_RE.test(value)) return 'contains a line break or control character';
  if (value.includes(';')) return "contains ';', which starts a comment in Asterisk config";
  switch (spec.kind) {
    case 'host':
      return HOST_RE.test(value) || isIP(value) !== 0 ? undefined : 'is not a host name or IP address';
    case 'ip':
      return isIP(value) !== 0 ? undefined : 'is not an IP address';
    case 'private-ip':
      if (isIP(value) === 0) return 'is not an IP address';
      return isPrivateIp(value) ? undefined : 'must be a loopback or private address (ARI is plain HTTP)';
    case 'port':
      return /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 65_535 ? undefined : 'is not a port (1-65535)';
    case 'name':
      if (!NAME_RE.test(value)) return 'may only contain letters, digits and _ . + -';
      return spec.pattern === undefined || spec.pattern.test(value) ? undefined : `must match ${String(spec.pattern)}`;
    case 'secret':
      if (value.trim() !== value) return 'has leading or trailing spaces (Asterisk would strip them)';
      return undefined;
    case 'path':
      return PATH_RE.test(value) ? undefined : 'is not an absolute path of [A-Za-z0-9_./-]';
    case 'cidr-list':
      return value.split(',').every(isCidr) ? undefined : 'is not a comma-separated list of networks (a.b.c.d/nn)';
    case 'match-list':
      return value.split(',').every((item) => isCidr(item) || HOST_RE.test(item))
        ? undefined
        : 'is not a comma-separated list of hosts, addresses or networks';
    case 'node-list': {
      const nodes = parseNodeList(value);
      if (nodes === undefined) return 'is not a comma-separated list of name=ip:sip-port/probe-port (e.g. node-1=10.0.0.11:5060/5070)';
      const names = new Set(nodes.map((n) => n.name));
      return names.size === nodes.length ? undefined : 'names a node twice';
    }
  }
}

/** One node of a `node-list` value. */
export interface ListedNode {
  readonly name: string;
  readonly ip: string;
  readonly sipPort: number;
  readonly probePort: number;
}

/** Parse a `node-list` value; undefined when any item is malformed. */
export function parseNodeList(value: string): ListedNode[] | undefined {
  const nodes: ListedNode[] = [];
  for (const item of value.split(',')) {
    const m = /^([A-Za-z0-9_.-]{1,64})=([0-9.]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})\/(\d{1,5})$/.exec(item.trim());
    if (m === null) return undefined;
    const [, name = '', host = '', sip = '', probe = ''] = m;
    const ip = host.replace(/^\[|\]$/g, '');
    const [sipPort, probePort] = [Number(sip), Number(probe)];
    if (isIP(ip) === 0 || sipPort < 1 || sipPort > 65_535 || probePort < 1 || probePort > 65_535) return undefined;
    nodes.push({ name, ip, sipPort, probePort });
  }
  return nodes;
}

/**
 * Resolve every variable of `schema` from `env`: apply defaults, check kinds, run cross checks.
 * Empty strings count as unset, as in src/config.ts. Throws TemplateEnvError naming every missing
 * and every invalid variable. Secret values never appear in messages.
 */
export function resolveTemplateValues(schema: TemplateSchema, env: EnvLike): TemplateValues {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  const invalid: string[] = [];
  const given = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };

  // Literal defaults first, so that `defaultFrom` can read them.
  const entries = Object.entries(schema.vars);
  for (const [name, { presence }] of entries) {
    const value = given(name);
    if (value !== undefined) values[name] = value;
    else if ('required' in presence) missing.push(name);
    else if ('default' in presence) values[name] = presence.default;
    else if ('optional' in presence) values[name] = '';
  }
  for (const [name, { presence }] of entries) {
    if (!('defaultFrom' in presence) || values[name] !== undefined) continue;
    if (!(presence.defaultFrom in schema.vars)) {
      throw new Error(`schema: ${name} defaults from undeclared ${presence.defaultFrom}`);
    }
    values[name] = values[presence.defaultFrom] ?? '';
  }

  for (const [name, spec] of entries) {
    const value = values[name];
    if (value === undefined || value === '') continue;
    const problem = checkKind(spec, value);
    if (problem !== undefined) {
      const shown = spec.kind === 'secret' ? '' : `=${JSON.stringify(value)}`;
      invalid.push(`${name}${shown} ${problem}`);
    }
  }
  if (missing.length === 0 && invalid.length === 0) {
    for (const check of schema.checks ?? []) invalid.push(...check(values, env));
  }
  if (missing.length > 0 || invalid.length > 0) throw new TemplateEnvError(missing, invalid);
  return Object.freeze({ ...values, ...(schema.derived?.(values) ?? {}) });
}

const PLACEHOLDER_RE = /\$\$|\$\{([^}]*)\}/g;
const VAR_NAME_RE = /^[A-Z][A-Z0-9_]*$/;
const IF_LINE_RE = /^;@(if|unless)\s+([A-Z][A-Z0-9_]*)\s(.*)$/;

/**
 * Render one template. `values` must come from resolveTemplateValues (it holds checked values only).
 * Throws TemplateSyntaxError for a placeholder that names no known variable or is malformed.
 */
export function renderTemplate(text: string, values: TemplateValues, fileName = 'template'): string {
  const lookup = (name: string, lineNumber: number): string => {
    if (!VAR_NAME_RE.test(name)) {
      throw new TemplateSyntaxError(fileName, lineNumber, `malformed placeholder \${${name}} (dialplan variables are written $\${...})`);
    }
    const value = values[name];
    if (value === undefined) throw new TemplateSyntaxError(fileName, lineNumber, `unknown variable \${${name}}`);
    return value;
  };
  const out: string[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const lineNumber = index + 1;
    let line = rawLine;
    const conditional = IF_LINE_RE.exec(line);
    if (conditional) {
      const [, keyword, guard = '', rest = ''] = conditional;
      if ((lookup(guard, lineNumber) === '') === (keyword === 'if')) return;
      line = rest;
    }
    out.push(
      line.replace(PLACEHOLDER_RE, (match: string, name: string | undefined) =>
        match === '$$' ? '$' : lookup(name ?? '', lineNumber),
      ),
    );
  });
  return out.join('\n');
}

/** Render a set of templates (file name → text) with one environment. */
export function renderTemplates(
  templates: Readonly<Record<string, string>>,
  schema: TemplateSchema,
  env: EnvLike,
): Record<string, string> {
  const values = resolveTemplateValues(schema, env);
  return Object.fromEntries(
    Object.entries(templates).map(([fileName, text]) => [fileName, renderTemplate(text, values, fileName)]),
  );
}
