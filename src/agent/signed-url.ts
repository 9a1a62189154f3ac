/**
 * Where to open the agent socket: a signed URL for private agents (one HTTPS round trip per call) or
 * the public URL. Both the API key and the signed URL are credentials and are never logged.
 */
import type { Logger } from 'pino';
import { AgentConnectionError } from '../errors';

/** Options of `fetchSignedUrl`. */
export interface FetchSignedUrlOptions {
  /** REST base, e.g. `https://api.elevenlabs.io` (no trailing path). */
  apiUrl: string;
  /** `xi-api-key`; when absent the agent must be public and the plain socket URL is returned. */
  apiKey: string | undefined;
  agentId: string;
  signal?: AbortSignal;
  /** Request timeout; default 10 000 ms. */
  timeoutMs?: number;
  log?: Logger;
}

/** Public socket URL for an agent: `apiUrl` with http(s) → ws(s) plus `/v1/convai/conversation?agent_id=…`. */
export function publicAgentUrl(apiUrl: string, agentId: string): string {
  const base = apiUrl.replace(/\/+$/, '').replace(/^http(s?):\/\//i, (_m, s: string) => `ws${s}://`);
  return `${base}/v1/convai/conversation?agent_id=${encodeURIComponent(agentId)}`;
}

/**
 * The URL to open the agent socket with. With a key: `GET /v1/convai/conversation/get-signed-url`
 * (the result is a credential, valid ~15 min). Without: the public URL. Rejects with
 * `AgentConnectionError` codes `AGENT_AUTH_FAILED` (401/403), `AGENT_NOT_FOUND` (404),
 * `AGENT_SIGNED_URL_FAILED` (other statuses, network, bad body; retryable for 429/5xx/network) or
 * `AGENT_CONNECT_ABORTED` (signal).
 */
export async function fetchSignedUrl(opts: FetchSignedUrlOptions): Promise<string> {
  if (opts.apiKey === undefined || opts.apiKey === '') return publicAgentUrl(opts.apiUrl, opts.agentId);
  const endpoint =
    `${opts.apiUrl.replace(/\/+$/, '')}/v1/convai/conversation/get-signed-url` +
    `?agent_id=${encodeURIComponent(opts.agentId)}`;
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout]);
  let res: Response;
  let body: unknown;
  try {
    res = await fetch(endpoint, { headers: { 'xi-api-key': opts.apiKey, accept: 'application/json' }, signal });
    body = await readBody(res);
  } catch (err) {
    if (opts.signal?.aborted === true) {
      throw new AgentConnectionError('AGENT_CONNECT_ABORTED', 'signed URL request aborted', { cause: opts.signal.reason });
    }
    throw new AgentConnectionError('AGENT_SIGNED_URL_FAILED', 'signed URL request failed', { retryable: true, cause: err });
  }
  opts.log?.debug({ agentId: opts.agentId, status: res.status }, 'signed url response');
  if (!res.ok) {
    const detail = describeErrorBody(body);
    const message = `signed URL request answered ${res.status}${detail === '' ? '' : ` (${detail})`}`;
    if (res.status === 401 || res.status === 403) throw new AgentConnectionError('AGENT_AUTH_FAILED', message);
    if (res.status === 404) throw new AgentConnectionError('AGENT_NOT_FOUND', message);
    throw new AgentConnectionError('AGENT_SIGNED_URL_FAILED', message, { retryable: res.status === 429 || res.status >= 500 });
  }
  const signedUrl = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).signed_url : undefined;
  if (typeof signedUrl !== 'string' || !/^wss?:\/\//.test(signedUrl)) {
    throw new AgentConnectionError('AGENT_SIGNED_URL_FAILED', 'signed URL response has no usable "signed_url"');
  }
  return signedUrl;
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.slice(0, 200);
  }
}

/** `{"detail":{"status":"invalid_api_key","message":"…"}}` → `invalid_api_key: …`; never echoes request data. */
function describeErrorBody(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const detail = (body as Record<string, unknown>).detail;
  if (typeof detail === 'string') return detail.slice(0, 200);
  if (typeof detail === 'object' && detail !== null && !Array.isArray(detail)) {
    const d = detail as Record<string, unknown>;
    return [d.status, d.message].filter((x) => typeof x === 'string').join(': ').slice(0, 200);
  }
  return '';
}
