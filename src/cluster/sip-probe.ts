/**
 * The node's answer to the SIP edge's health probes (docs/cluster.md, "probes"). Kamailio's
 * dispatcher sends OPTIONS to each node every second; the node answers 200 while it takes calls
 * and 503 while it is draining, full, or cannot (ARI down, records not writable). A node whose
 * gateway is dead answers nothing, and leaves rotation after the probe's timeout.
 *
 *   optionsResponse(request, status) is pure (text in, text out); SipProbeResponder owns the socket.
 */
import dgram from 'node:dgram';
import type { Logger } from 'pino';

/** Headers a response copies from its request (RFC 3261 §8.2.6.2). */
const COPIED_HEADERS = new Set(['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq']);
const REASONS: Readonly<Record<number, string>> = { 200: 'OK', 503: 'Service Unavailable', 405: 'Method Not Allowed' };

/**
 * The response to one SIP datagram, or undefined when it is not a request we answer (a response,
 * garbage). OPTIONS gets `status`; any other method 405 (this endpoint takes no calls).
 */
export function optionsResponse(datagram: string, status: 200 | 503, tag: string): string | undefined {
  const [head = ''] = datagram.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const requestLine = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(lines[0] ?? '');
  if (requestLine === null) return undefined;
  const method = requestLine[1] ?? '';
  if (method === 'ACK') return undefined; // never answered (RFC 3261 §17.2.3)
  const code = method === 'OPTIONS' ? status : 405;
  const out = [`SIP/2.0 ${code} ${REASONS[code] ?? ''}`];
  let hasTo = false;
  for (const line of lines.slice(1)) {
    const name = line.slice(0, line.indexOf(':')).trim().toLowerCase();
    if (!COPIED_HEADERS.has(name)) continue;
    if (name === 'to' || name === 't') {
      hasTo = true;
      // Our tag on the To header, unless the request already had one.
      out.push(/;\s*tag=/i.test(line) ? line : `${line};tag=${tag}`);
    } else {
      out.push(line);
    }
  }
  if (!hasTo || !out.some((l) => /^(call-id|i)\s*:/i.test(l)) || !out.some((l) => /^cseq\s*:/i.test(l))) return undefined;
  if (code === 503) out.push('Retry-After: 5');
  if (code === 405) out.push('Allow: OPTIONS');
  out.push('Server: voice-gateway', 'Content-Length: 0', '', '');
  return out.join('\r\n');
}

export interface SipProbeOptions {
  host: string;
  port: number;
  /** True while the node takes new calls. */
  isAvailable: () => boolean;
  log: Logger;
}

/** A UDP socket answering OPTIONS probes; answers go back to the packet's source (rport). */
export class SipProbeResponder {
  readonly #o: SipProbeOptions;
  readonly #tag = Math.random().toString(36).slice(2, 10);
  #socket: dgram.Socket | undefined;

  constructor(options: SipProbeOptions) {
    this.#o = options;
  }

  /** Resolves once bound; rejects when the address is taken. */
  async start(): Promise<void> {
    const socket = dgram.createSocket(this.#o.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (msg, rinfo) => {
      const response = optionsResponse(msg.toString('utf8'), this.#o.isAvailable() ? 200 : 503, this.#tag);
      if (response === undefined) return;
      socket.send(response, rinfo.port, rinfo.address, (err) => {
        if (err) this.#o.log.debug({ err }, 'probe answer not sent');
      });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.#o.port, this.#o.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.#o.log.warn({ err }, 'SIP probe socket error'));
    this.#socket = socket;
  }

  async stop(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
