/**
 * What the demo takes from the user's configuration. The gateway child reads `.env` itself, as
 * `npm start` does; the demo only needs to know which agent to talk to and the API token, and it
 * sets every value that must point at the local test bed (ARI, RTP, API address, call database).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

/** `.env` of the repo merged under the process environment (the environment wins, as for the gateway). */
export function readUserEnv(repoDir: string): { env: Readonly<Record<string, string>>; hasDotEnv: boolean } {
  const file = path.join(repoDir, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries(fromFile)) if (v !== undefined) merged[k] = v;
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) merged[k] = v;
  return { env: merged, hasDotEnv: existsSync(file) };
}

/** Which agent the demo's calls talk to. */
export type AgentChoice =
  | { kind: 'simulator' }
  | { kind: 'elevenlabs'; agentId: string; hasApiKey: boolean; apiUrl: string };

/** The real agent when ELEVENLABS_AGENT_ID is set (a key is needed only for private agents), else the simulator. */
export function chooseAgent(env: Readonly<Record<string, string>>, isSimulatorForced: boolean): AgentChoice {
  const agentId = env['ELEVENLABS_AGENT_ID']?.trim() ?? '';
  if (isSimulatorForced || agentId === '') return { kind: 'simulator' };
  return {
    kind: 'elevenlabs',
    agentId,
    hasApiKey: (env['ELEVENLABS_API_KEY']?.trim() ?? '') !== '',
    apiUrl: env['ELEVENLABS_API_URL']?.trim() || 'https://api.elevenlabs.io',
  };
}

/** First token of API_TOKEN (comma-separated for rotation), or undefined when the API is open. */
export function apiTokenOf(env: Readonly<Record<string, string>>): string | undefined {
  const first = env['API_TOKEN']?.split(',')[0]?.trim();
  return first === undefined || first === '' ? undefined : first;
}
