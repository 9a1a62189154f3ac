/**
 * Which requests reach the routes at all: the answer to web pages on the operator's machine and to
 * DNS rebinding (docs/security.md).
 *
 * 1. Host (every route, `onRequest`, before routing): the Host header must name this API — a
 *    loopback address or `localhost` with the port the server listens on, the listen address
 *    itself (unless a wildcard), or a name from API_PUBLIC_HOSTS — else 421 MISDIRECTED_REQUEST.
 *    A DNS-rebinding page reaches our socket under the attacker's name, and is refused here.
 * 2. Origin (state-changing methods, i.e. all but GET/HEAD, `onPreAuth`, so with or without a token):
 *    a browser's `Origin` must be one of the API's own origins (a host as in 1, http or https), and
 *    `Sec-Fetch-Site` must not be `cross-site` or `same-site`, else 403 CROSS_SITE_REQUEST.
 *    `same-site` is refused too because a site ignores the port: a page from another program on
 *    127.0.0.1 is "same-site" with us. Requests without these headers (curl, scripts, the
 *    gateway's own tools) are not browsers' cross-site requests and pass.
 *
 * Content-Type is left to hapi's route payload settings (server.ts): only application/json is
 * parsed, and a body without a type counts as application/octet-stream (RFC 9110 §8.3), not JSON.
 */
import Boom from '@hapi/boom';
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import { isIP } from 'node:net';
import { type HostAndPort, parseHost } from './host-syntax';
import { isLoopbackHost } from './loopback';
import { toPrintable, truncate } from './printable';

/** Longest Host value echoed in a 421 message. */
const MAX_ECHOED_HOST_CHARS = 100;
/** The listen addresses that name no host: every interface. */
const WILDCARD_ADDRESSES = new Set(['', '0.0.0.0', '::', '[::]']);

/** The listen address as a Host name (IPv6 in brackets, lower case), or undefined for a wildcard. */
function listenName(listenHost: string): string | undefined {
  const lower = listenHost.toLowerCase();
  if (WILDCARD_ADDRESSES.has(lower)) return undefined;
  return isIP(lower) === 6 ? `[${lower}]` : lower;
}

/** Options of `ApiHosts`. */
export interface ApiHostsOptions {
  /** API_HOST, the listen address: a name of the API unless it is a wildcard. */
  listenHost: string;
  /** API_PUBLIC_HOSTS entries (`host` = any port, `host:port` = that port only). */
  publicHosts?: readonly string[];
  /** The port the server listens on (read per request: with port 0 it is known only after start). */
  listenPort: () => number;
}

/** The names this API answers to. */
export class ApiHosts {
  readonly #listenName: string | undefined;
  readonly #public: readonly HostAndPort[];
  readonly #listenPort: () => number;

  constructor(options: ApiHostsOptions) {
    this.#listenName = listenName(options.listenHost);
    this.#listenPort = options.listenPort;
    this.#public = (options.publicHosts ?? []).map((entry) => {
      const parsed = parseHost(entry.trim());
      if (parsed === undefined) throw new TypeError(`invalid API public host ${JSON.stringify(entry)}: expected host or host:port`);
      return parsed;
    });
  }

  /**
   * True when `host` (Host header syntax) names this API. Without a port it means `defaultPort`
   * (80 for a Host header, the scheme's port for an Origin). Loopback names and the listen
   * address match only with the port we listen on: another program's page on 127.0.0.1:3000 is
   * not us. An API_PUBLIC_HOSTS entry without a port matches any port (a TLS proxy's 443, say).
   */
  includes(host: string, defaultPort: number): boolean {
    const parsed = parseHost(host);
    if (parsed === undefined) return false;
    const port = parsed.port ?? defaultPort;
    if (isLoopbackHost(parsed.name) || parsed.name === this.#listenName) return port === this.#listenPort();
    return this.#public.some((entry) => entry.name === parsed.name && (entry.port === undefined || entry.port === port));
  }
}

/** Options of `registerRequestGuards`. */
export interface RequestGuardOptions {
  /** API_HOST. */
  listenHost: string;
  /** API_PUBLIC_HOSTS. */
  publicHosts?: readonly string[];
}

/** Install the Host check on every request and the Origin check on state-changing ones. */
export function registerRequestGuards(server: Server, options: RequestGuardOptions): ApiHosts {
  const hosts = new ApiHosts({ ...options, listenPort: () => Number(server.info.port) });
  server.ext('onRequest', (request: Request, h: ResponseToolkit) => {
    assertNamesThisApi(request, hosts);
    return h.continue;
  });
  server.ext('onPreAuth', (request: Request, h: ResponseToolkit) => {
    if (isStateChanging(request.method)) assertSameOrigin(request, hosts);
    return h.continue;
  });
  return hosts;
}

/** Methods that may place, end or change a call; GET and HEAD only read. */
export function isStateChanging(method: string): boolean {
  const m = method.toLowerCase();
  return m !== 'get' && m !== 'head';
}

function assertNamesThisApi(request: Request, hosts: ApiHosts): void {
  const host: unknown = request.headers.host;
  if (typeof host === 'string' && hosts.includes(host, 80)) return;
  const shown = typeof host === 'string' ? JSON.stringify(truncate(toPrintable(host), MAX_ECHOED_HOST_CHARS)) : 'none';
  const boom = new Boom.Boom(
    `this gateway does not answer to the host ${shown}: use 127.0.0.1, localhost or [::1] with its port, or add the name to API_PUBLIC_HOSTS`,
    { statusCode: 421 },
  );
  boom.output.payload.error = 'Misdirected Request';
  boom.output.payload.code = 'MISDIRECTED_REQUEST';
  throw boom;
}

function assertSameOrigin(request: Request, hosts: ApiHosts): void {
  const site: unknown = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') {
    throw crossSite(`Sec-Fetch-Site: ${site}`);
  }
  const origin: unknown = request.headers.origin;
  if (origin === undefined) return;
  if (typeof origin !== 'string' || !isOwnOrigin(origin, hosts)) {
    throw crossSite('its Origin is not this gateway');
  }
}

/** An Origin (RFC 6454 serialisation: scheme://host[:port], no path) whose host names this API. */
function isOwnOrigin(origin: string, hosts: ApiHosts): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file:) and garbage
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin.toLowerCase()) return false;
  return hosts.includes(url.host, url.protocol === 'https:' ? 443 : 80);
}

function crossSite(why: string): Boom.Boom {
  const boom = Boom.forbidden(`requests from other web pages may not place, end or change calls (${why})`);
  boom.output.payload.code = 'CROSS_SITE_REQUEST';
  return boom;
}
