/**
 * The syntax of a host as the Host header (RFC 9110 §7.2), an Origin's host and API_PUBLIC_HOSTS
 * write it: a name or address and maybe a port. Shared by the configuration and the request guards.
 */
import { isIP } from 'node:net';

/** Host names: letters, digits, dots and dashes (no underscore, no trailing dot); or a bracketed IPv6 address. */
const HOST_PATTERN = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::([0-9]{1,5}))?$/;

/** A host as it may appear in Host, Origin or API_PUBLIC_HOSTS: a name or address, and maybe a port. */
export interface HostAndPort {
  /** Lower case; IPv6 addresses in brackets. */
  readonly name: string;
  readonly port: number | undefined;
}

/**
 * Parse `host` or `host:port` (Host header syntax, RFC 9110 §7.2); undefined when it is not one.
 * Only the syntax is checked: `[127.0.0.1]` parses (and matches nothing).
 */
export function parseHost(value: string): HostAndPort | undefined {
  const match = HOST_PATTERN.exec(value.toLowerCase());
  if (match === null) return undefined;
  const name = match[1] ?? '';
  if (name.startsWith('[') && isIP(name.slice(1, -1)) !== 6) return undefined;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  // 0 is no port a client connects to; server.inject sends it before the server listens.
  if (port !== undefined && port > 65_535) return undefined;
  return { name, port };
}
