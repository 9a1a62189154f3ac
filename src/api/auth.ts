/**
 * Bearer-token authentication (RFC 6750) as a hapi auth scheme, with no plugin dependency.
 *
 * Tokens are compared as SHA-256 digests with `crypto.timingSafeEqual`, against every configured
 * token without an early exit: the response time does not depend on how much of a guess matched,
 * nor on its length (digests are always 32 bytes).
 *
 * Requests are identified by `tokenId` (a digest prefix, safe to log and to key rate limits on);
 * the token itself is never stored in the request or logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Boom from '@hapi/boom';
import type { Request, ResponseToolkit, Server, ServerAuthSchemeObject } from '@hapi/hapi';
import { B64TOKEN_SOURCE, TOKEN_RULE, isWellFormedToken } from './token-syntax';

export { MIN_TOKEN_CHARS } from './token-syntax';
export { isLoopbackHost } from './loopback';

/** Strategy guarding /api/* and the dashboard (the server default once tokens are configured). */
export const API_TOKEN_STRATEGY = 'api-token';
/** Strategy guarding GET /metrics when METRICS_TOKEN is set. */
export const METRICS_TOKEN_STRATEGY = 'metrics-token';
/** Query parameter carrying the token on routes that allow it (RFC 6750 §2.3; EventSource cannot set headers). */
export const ACCESS_TOKEN_QUERY_PARAM = 'access_token';
/** `plugins` key of a route's options; `{ isQueryTokenAllowed: true }` accepts `?access_token=`. */
export const AUTH_ROUTE_PLUGIN = 'bearer-token';

/** Route-level options of the scheme, under `options.plugins[AUTH_ROUTE_PLUGIN]`. */
export interface AuthRouteOptions {
  isQueryTokenAllowed?: boolean;
}

declare module '@hapi/hapi' {
  interface PluginSpecificConfiguration {
    /** Route options of the bearer scheme (src/api/auth.ts). */
    [AUTH_ROUTE_PLUGIN]?: AuthRouteOptions;
  }
}

/** What `registerTokenAuth` installs. */
export interface TokenAuthOptions {
  /** API_TOKEN (one or more). Empty or absent: no auth at all (loopback development). */
  apiTokens?: readonly string[];
  /** METRICS_TOKEN: a scrape-only credential for GET /metrics. Absent: /metrics is open. */
  metricsToken?: string;
}

/** What `registerTokenAuth` decided, for the routes. */
export interface TokenAuthSetup {
  /** Auth config for GET /metrics: the metrics strategy, or `false` (open). */
  readonly metricsAuth: string | false;
  readonly isApiAuthEnabled: boolean;
}

const SCHEME = 'bearer-token';
const REALM = 'voice-gateway';
/** `Bearer <b64token>` (RFC 6750 §2.1), with the token syntax the configuration checks. */
const BEARER_PATTERN = new RegExp(`^Bearer +(${B64TOKEN_SOURCE}) *$`, 'i');

interface SchemeOptions {
  readonly digests: readonly Buffer[];
}

/** SHA-256 of a token. */
function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A short, stable, non-reversible id of a token (first 12 hex chars of its SHA-256). */
export function tokenIdOf(token: string): string {
  return digestOf(token).toString('hex').slice(0, 12);
}

/** True when `presented` equals one of the tokens behind `digests`; constant time in what matched. */
export function isTokenValid(presented: string, digests: readonly Buffer[]): boolean {
  const candidate = digestOf(presented);
  let isMatch = false;
  for (const digest of digests) {
    // No short-circuit: every configured token is compared.
    isMatch = timingSafeEqual(candidate, digest) || isMatch;
  }
  return isMatch;
}

/**
 * Register the bearer scheme and its strategies on `server`. With API tokens, `api-token` becomes
 * the default strategy: every route needs a token unless it sets `auth: false` (health, docs).
 * Throws TypeError for a token that is not well formed (token-syntax.ts; MIN_TOKEN_CHARS and up).
 */
export function registerTokenAuth(server: Server, options: TokenAuthOptions): TokenAuthSetup {
  const apiTokens = options.apiTokens ?? [];
  const tokens = [...apiTokens, ...(options.metricsToken === undefined ? [] : [options.metricsToken])];
  for (const token of tokens) {
    if (!isWellFormedToken(token)) {
      // loadConfig refuses such tokens first; reaching this is a programmer error.
      throw new TypeError(`API tokens must be ${TOKEN_RULE}`);
    }
  }
  if (tokens.length === 0) return { metricsAuth: false, isApiAuthEnabled: false };

  server.auth.scheme(SCHEME, (_server, schemeOptions) => bearerScheme(schemeOptions as SchemeOptions));
  if (apiTokens.length > 0) {
    server.auth.strategy(API_TOKEN_STRATEGY, SCHEME, { digests: apiTokens.map(digestOf) } satisfies SchemeOptions);
    server.auth.default(API_TOKEN_STRATEGY);
  }
  if (options.metricsToken !== undefined) {
    server.auth.strategy(METRICS_TOKEN_STRATEGY, SCHEME, { digests: [digestOf(options.metricsToken)] } satisfies SchemeOptions);
  }
  return {
    metricsAuth: options.metricsToken === undefined ? false : METRICS_TOKEN_STRATEGY,
    isApiAuthEnabled: apiTokens.length > 0,
  };
}

/** The authenticated token's id, or undefined on routes without auth. */
export function tokenIdOfRequest(request: Request): string | undefined {
  // Routes without auth leave artifacts unset (null) at run time, whatever the type says.
  const artifacts = request.auth.artifacts as Record<string, unknown> | null | undefined;
  const tokenId = artifacts?.tokenId;
  return typeof tokenId === 'string' ? tokenId : undefined;
}

function bearerScheme(options: SchemeOptions): ServerAuthSchemeObject {
  return {
    authenticate(request: Request, h: ResponseToolkit) {
      const token = presentedToken(request);
      if (!isTokenValid(token, options.digests)) {
        throw unauthorized('INVALID_TOKEN', 'invalid bearer token', 'invalid_token');
      }
      return h.authenticated({ credentials: {}, artifacts: { tokenId: tokenIdOf(token) } });
    },
  };
}

function presentedToken(request: Request): string {
  const header: unknown = request.headers.authorization;
  if (header !== undefined) {
    const match = typeof header === 'string' ? BEARER_PATTERN.exec(header) : null;
    if (match?.[1] === undefined) {
      throw unauthorized('MALFORMED_AUTHORIZATION', 'the Authorization header must be "Bearer <token>"', 'invalid_request');
    }
    return match[1];
  }
  const routeOptions = request.route.settings.plugins?.[AUTH_ROUTE_PLUGIN];
  const queryToken: unknown = request.query[ACCESS_TOKEN_QUERY_PARAM];
  if (routeOptions?.isQueryTokenAllowed === true && typeof queryToken === 'string') return queryToken;
  throw unauthorized('MISSING_TOKEN', 'missing bearer token: send "Authorization: Bearer <token>"', undefined);
}

/**
 * 401 with `WWW-Authenticate: Bearer realm="voice-gateway"[, error="…"]` (RFC 6750 §3: no error
 * code when credentials are missing). Built by hand: Boom.unauthorized would put the message in
 * the header as a second `error`.
 */
function unauthorized(code: string, message: string, rfcError: 'invalid_request' | 'invalid_token' | undefined): Boom.Boom {
  const boom = Boom.unauthorized(message);
  boom.output.payload.code = code;
  boom.output.headers['WWW-Authenticate'] = `Bearer realm="${REALM}"${rfcError === undefined ? '' : `, error="${rfcError}"`}`;
  return boom;
}
