/**
 * The one loopback check of the gateway, used by the configuration (may the API run without
 * API_TOKEN?) and by the request guards (does a Host header name this machine?).
 *
 * It decides by address: an IP literal is loopback when it lies in 127.0.0.0/8 or is ::1 (in any
 * spelling, IPv4-mapped forms included). Names are not resolved, so `127.attacker.example` is a
 * name like any other and not loopback. The one name accepted is `localhost`: RFC 6761 §6.3
 * reserves it for the loopback interface, browsers resolve it there without asking DNS, and a
 * DNS-rebinding page cannot be served under it. Its subdomains (`x.localhost`) are not accepted.
 */
import { BlockList, isIP } from 'node:net';

/** The loopback name accepted besides loopback addresses. */
export const LOOPBACK_NAME = 'localhost';

const LOOPBACK_ADDRESSES = new BlockList();
LOOPBACK_ADDRESSES.addSubnet('127.0.0.0', 8, 'ipv4'); // also matches ::ffff:127.x.y.z
LOOPBACK_ADDRESSES.addAddress('::1', 'ipv6');

/**
 * True for hosts only this machine can reach: a 127.0.0.0/8 or ::1 address (IPv6 with or without
 * brackets), or `localhost` (any letter case). False for every other name and address, including
 * the wildcards 0.0.0.0 and `::`.
 */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === LOOPBACK_NAME) return true;
  // Brackets enclose IPv6 only (RFC 3986 §3.2.2): "[127.0.0.1]" is no address.
  const isBracketed = host.startsWith('[') && host.endsWith(']');
  const bare = isBracketed ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 0 || (isBracketed && family !== 6)) return false;
  return LOOPBACK_ADDRESSES.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}
