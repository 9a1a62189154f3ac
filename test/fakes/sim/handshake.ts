/**
 * Validation of `conversation_initiation_client_data` against an agent's settings, as the real
 * service does it (docs/agent-protocol.md#initiation-and-overrides): disallowed overrides, dynamic variables, `{{var}}` templates.
 * Pure functions.
 */
import type { OverridePath, SimAgentConfig } from './config';
import type { JsonObject } from './wire';

/** A dynamic variable value as accepted on the wire. */
export type SimDynamicValue = string | number | boolean;

/** The conversation settings after overrides were applied. */
export interface SimEffectiveSettings {
  firstMessage: string;
  language: string;
  prompt: string | undefined;
  voiceId: string | undefined;
  dynamicVariables: Record<string, SimDynamicValue>;
  /** Override paths the client sent that were applied. */
  appliedOverrides: string[];
  /** Override paths dropped because the agent does not allow them (`overridePolicy: 'ignore'`). */
  ignoredOverrides: string[];
}

/** Why the server closes the conversation with 1008 during the handshake. */
export interface SimHandshakeProblem {
  errorType: 'override_error' | 'missing_dynamic_variable' | 'value_error';
  message: string;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaf paths of an override object that carry a value (`null` means "no override"). */
export function overrideLeafPaths(override: JsonObject, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(override)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (value === null || value === undefined) continue;
    if (isObject(value)) out.push(...overrideLeafPaths(value, path));
    else out.push(path);
  }
  return out;
}

function valueAt(obj: JsonObject, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** `{{name}}` placeholders in a template, excluding the reserved `system__` ones. */
export function templateVariables(template: string): string[] {
  const names = new Set<string>();
  for (const m of template.matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)) {
    const name = m[1]!;
    if (!name.startsWith('system__')) names.add(name);
  }
  return [...names];
}

/** Fill `{{name}}` from `vars`; unknown names stay as they are. */
export function renderTemplate(template: string, vars: Record<string, SimDynamicValue>): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (whole, name: string) =>
    Object.hasOwn(vars, name) ? String(vars[name]) : whole,
  );
}

/**
 * Apply an initiation message (or none: the client may skip it) to the agent config. Returns the
 * effective settings, or the problem the real service would close 1008 for.
 */
export function applyInitiation(
  config: SimAgentConfig,
  init: JsonObject | undefined,
): SimEffectiveSettings | SimHandshakeProblem {
  const override = init?.conversation_config_override;
  if (override !== undefined && override !== null && !isObject(override)) {
    return { errorType: 'value_error', message: 'conversation_config_override must be an object' };
  }
  const allowed = new Set<string>(config.allowedOverrides satisfies readonly OverridePath[]);
  const leaves = isObject(override) ? overrideLeafPaths(override) : [];
  const applied = leaves.filter((p) => allowed.has(p));
  const ignored = leaves.filter((p) => !allowed.has(p));
  if (ignored.length > 0 && config.overridePolicy === 'close1008') {
    return { errorType: 'override_error', message: `Override for field '${ignored[0]}' is not allowed by config` };
  }
  const pick = (path: OverridePath): unknown =>
    isObject(override) && applied.includes(path) ? valueAt(override, path) : undefined;

  const rawVars = init?.dynamic_variables;
  if (rawVars !== undefined && rawVars !== null && !isObject(rawVars)) {
    return { errorType: 'value_error', message: 'dynamic_variables must be an object' };
  }
  const dynamicVariables: Record<string, SimDynamicValue> = {};
  for (const [name, value] of Object.entries(isObject(rawVars) ? rawVars : {})) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return { errorType: 'value_error', message: `dynamic variable '${name}' must be a string, number or boolean` };
    }
    dynamicVariables[name] = value;
  }

  const firstMessageOverride = pick('agent.first_message');
  const promptOverride = pick('agent.prompt.prompt');
  const languageOverride = pick('agent.language');
  const voiceOverride = pick('tts.voice_id');
  const firstMessage = typeof firstMessageOverride === 'string' ? firstMessageOverride : config.firstMessage;
  const prompt = typeof promptOverride === 'string' ? promptOverride : undefined;

  const required = new Set([
    ...config.requiredDynamicVariables,
    ...templateVariables(firstMessage),
    ...templateVariables(prompt ?? ''),
  ]);
  const missing = [...required].filter((name) => !Object.hasOwn(dynamicVariables, name));
  if (missing.length > 0) {
    return { errorType: 'missing_dynamic_variable', message: `Missing required dynamic variables: ${missing.join(', ')}` };
  }
  return {
    firstMessage: renderTemplate(firstMessage, dynamicVariables),
    language: typeof languageOverride === 'string' ? languageOverride : config.language,
    prompt,
    voiceId: typeof voiceOverride === 'string' ? voiceOverride : undefined,
    dynamicVariables,
    appliedOverrides: applied,
    ignoredOverrides: ignored,
  };
}

/** Narrow the result of `applyInitiation`. */
export function isHandshakeProblem(r: SimEffectiveSettings | SimHandshakeProblem): r is SimHandshakeProblem {
  return 'errorType' in r;
}
