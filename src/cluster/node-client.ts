/**
 * One node asking another over HTTP (docs/cluster.md, "hand-over"): place a call there, hang up a
 * call it carries, fetch its recording. Requests go to the other node's internal routes
 * (internal-routes.ts) with the shared CLUSTER_TOKEN; answers come back as they are, so the
 * client of the first node sees the other node's status code, `code` and `Retry-After`.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import Boom from '@hapi/boom';
import type { CallView } from '../model/call-view';

/** Header carrying CLUSTER_TOKEN on internal requests. */
export const CLUSTER_TOKEN_HEADER = 'x-cluster-token';
/** Path prefix of the internal routes. */
export const INTERNAL_CALLS_PATH = '/cluster/calls';

/** The other node answered with an error; `boom` is that answer, ready to be passed on. */
export class NodeAnswerError extends Error {
  readonly boom: Boom.Boom;
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, body: Record<string, unknown>, retryAfter: string | null) {
    super(`node answered ${status} ${typeof body['code'] === 'string' ? body['code'] : ''}`.trim());
    this.name = 'NodeAnswerError';
    this.status = status;
    this.code = typeof body['code'] === 'string' ? body['code'] : undefined;
    const boom = new Boom.Boom(typeof body['message'] === 'string' ? body['message'] : 'the node carrying the call failed', { statusCode: status });
    for (const key of ['code', 'field'] as const) if (typeof body[key] === 'string') boom.output.payload[key] = body[key];
    if (retryAfter !== null) boom.output.headers['Retry-After'] = retryAfter;
    this.boom = boom;
  }
}

/**
 * The other node could not be asked: nothing answered (`isDelivered` false: connection refused, so
 * nothing happened there), or the answer did not come in time (`isDelivered` true: it may have acted).
 */
export class NodeUnreachableError extends Error {
  readonly isDelivered: boolean;
  constructor(message: string, isDelivered: boolean, cause: unknown) {
    super(message, { cause });
    this.name = 'NodeUnreachableError';
    this.isDelivered = isDelivered;
  }
}

export interface NodeClientOptions {
  token: string;
  /** Deadline of one request, ms. Placing a call waits for Asterisk's originate. Default 20 000. */
  timeoutMs?: number;
}

/** Requests to other nodes' internal routes. */
export class NodeClient {
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: NodeClientOptions) {
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 20_000;
  }

  /** POST the (wire-format) call request to the node at `apiUrl`; resolves to its 201 body. */
  async placeCall(apiUrl: string, payload: Record<string, unknown>, requesterId: string): Promise<CallView> {
    const response = await this.#fetch(`${apiUrl}${INTERNAL_CALLS_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ call: payload, requester_id: requesterId }),
    });
    return (await this.#json(response, 201)) as CallView;
  }

  /** DELETE the call at the node carrying it; resolves to the call after hang-up. */
  async hangUp(apiUrl: string, callId: string): Promise<CallView> {
    const response = await this.#fetch(`${apiUrl}${INTERNAL_CALLS_PATH}/${encodeURIComponent(callId)}`, { method: 'DELETE' });
    return (await this.#json(response, 200)) as CallView;
  }

  /** The recording as the node carrying the call streams it, or undefined (404). */
  async recording(apiUrl: string, callId: string): Promise<Readable | undefined> {
    const response = await this.#fetch(`${apiUrl}${INTERNAL_CALLS_PATH}/${encodeURIComponent(callId)}/recording`, { method: 'GET' });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (response.status !== 200 || response.body === null) return this.#json(response, 200).then(() => undefined);
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }

  /** The deadline covers the answer's head; a body (a recording) may take as long as it takes. */
  async #fetch(url: string, init: RequestInit): Promise<Response> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('deadline passed')), this.#timeoutMs);
    try {
      return await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), [CLUSTER_TOKEN_HEADER]: this.#token }, signal: abort.signal });
    } catch (err) {
      // Connection refused / unreachable host: the request never arrived. A timeout or a reset
      // after sending: it may have been acted on.
      const code = (err as { cause?: { code?: string } }).cause?.code;
      const isDelivered = !(code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND');
      throw new NodeUnreachableError(`node at ${new URL(url).host} ${isDelivered ? 'did not answer in time' : 'is unreachable'}`, isDelivered, err);
    } finally {
      clearTimeout(timer);
    }
  }

  async #json(response: Response, expected: number): Promise<unknown> {
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = { message: 'the node answered with something that is not JSON' };
    }
    if (response.status !== expected) throw new NodeAnswerError(response.status, (body ?? {}) as Record<string, unknown>, response.headers.get('retry-after'));
    return body;
  }
}
