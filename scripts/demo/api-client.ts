/** The REST calls the demo makes, exactly as a user's script would (fetch, JSON, bearer token). */
import type { CallView } from '../../src/model/call-view';

/** A non-2xx answer of the gateway, with its error body (`message`, `code`, `field`, `validation`). */
export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(method: string, path: string, status: number, body: unknown) {
    const message = typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : JSON.stringify(body);
    super(`${method} ${path}: HTTP ${status}: ${message}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/** Client of one gateway at `baseUrl` (e.g. http://127.0.0.1:8000). */
export class GatewayApi {
  readonly baseUrl: string;
  readonly token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  /** `POST /api/calls/start {"phone_number": …}` (the predecessor's route) → the new call. */
  startCall(phoneNumber: string): Promise<CallView> {
    return this.#json<CallView>('POST', '/api/calls/start', { phone_number: phoneNumber });
  }

  getCall(id: string): Promise<CallView> {
    return this.#json<CallView>('GET', `/api/calls/${encodeURIComponent(id)}`);
  }

  hangUp(id: string): Promise<CallView> {
    return this.#json<CallView>('DELETE', `/api/calls/${encodeURIComponent(id)}`);
  }

  /** `GET /health`: status code and body (200 only while ARI is connected). */
  async health(): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, body: await response.json() };
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's HTML page, say): keep the text for the error message.
    }
    if (!response.ok) throw new ApiError(method, path, response.status, parsed);
    return parsed as T;
  }
}
