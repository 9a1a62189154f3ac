/**
 * The UDP socket of one call's ExternalMedia RTP stream: bind in a port range, receive → parseRtp
 * → 'packet', send prebuilt packets. No codec or timing logic here (G1).
 *
 * Asterisk sends to the `external_host` we gave it and learns nothing from our source, but its
 * strict-RTP learning drops ~80 ms when our source port changes (docs/asterisk.md#source-address-and-ssrc): we send
 * from the socket we receive on, to UNICASTRTP_LOCAL_ADDRESS:PORT.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { RtpError } from '../errors';
import { isRtpParseError, parseRtp, type RtpPacket, type RtpParseErrorCode } from './packet';

/** The subset of a pino logger the endpoint uses. Never called per packet. */
export interface RtpEndpointLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Where to bind. */
export interface RtpEndpointOptions {
  /** Local address to bind (an IP; `0.0.0.0` for all interfaces). */
  readonly host: string;
  /** Inclusive port range to try. */
  readonly portMin: number;
  readonly portMax: number;
  readonly log?: RtpEndpointLogger;
}

/** Counters since open. */
export interface RtpEndpointStats {
  readonly packetsIn: number;
  readonly bytesIn: number;
  readonly packetsOut: number;
  readonly bytesOut: number;
  /** Datagrams not from the remote (or before `setRemote`), ignored. */
  readonly foreignPackets: number;
  /** Datagrams from the remote that are not RTP, ignored. */
  readonly malformedPackets: number;
  readonly lastParseError: RtpParseErrorCode | undefined;
  readonly sendErrors: number;
  readonly socketErrors: number;
}

/**
 * Events. There is deliberately no 'error' event (an unobserved one would crash the process):
 * socket failures are counted, logged once and reported as 'socket-error'.
 */
export interface RtpEndpointEvents {
  /** A valid RTP packet from the remote. Its payload is a view of a datagram buffer Node does not reuse. */
  packet: [packet: RtpPacket];
  'socket-error': [error: RtpError];
  close: [];
}

const NO_LOG: RtpEndpointLogger = { debug: () => undefined, warn: () => undefined };

/** Bind errors that mean "this port is taken, try the next". */
const PORT_TAKEN = new Set(['EADDRINUSE', 'EACCES']);

/** One UDP RTP socket. Create with `open()`; the owner must `close()` it. */
export class RtpEndpoint extends EventEmitter<RtpEndpointEvents> {
  readonly #socket: dgram.Socket;
  readonly #host: string;
  readonly #log: RtpEndpointLogger;
  #localPort = 0;
  #remote: { readonly address: string; readonly port: number } | undefined;
  #pendingBind: { resolve: () => void; reject: (err: Error) => void } | undefined;
  #closed: Promise<void> | undefined;
  #hasLoggedEarly = false;
  #hasLoggedForeign = false;
  #hasLoggedSendError = false;

  #packetsIn = 0;
  #bytesIn = 0;
  #packetsOut = 0;
  #bytesOut = 0;
  #foreignPackets = 0;
  #malformedPackets = 0;
  #lastParseError: RtpParseErrorCode | undefined;
  #sendErrors = 0;
  #socketErrors = 0;

  private constructor(socket: dgram.Socket, host: string, log: RtpEndpointLogger) {
    super();
    this.#socket = socket;
    this.#host = host;
    this.#log = log;
    // Attached before bind and never removed: a dgram socket must always have an 'error' listener.
    socket.on('error', this.#onSocketError);
    socket.on('message', this.#onMessage);
  }

  /**
   * Bind a UDP socket on the first free port of [portMin, portMax], starting at a random offset so
   * concurrent calls rarely race for the same port. Rejects with RtpError
   * 'RTP_PORT_RANGE_EXHAUSTED' (retryable) when every port is taken, 'RTP_BIND_FAILED' otherwise.
   */
  static async open(options: RtpEndpointOptions): Promise<RtpEndpoint> {
    const { host, portMin, portMax } = options;
    const family = isIP(host);
    if (family === 0) throw new TypeError(`RTP host must be an IP address, got ${host}`);
    if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1 || portMax > 65535 || portMin > portMax) {
      throw new RangeError(`invalid RTP port range ${portMin}-${portMax}`);
    }
    const count = portMax - portMin + 1;
    const start = randomInt(count);
    for (let i = 0; i < count; i++) {
      const port = portMin + ((start + i) % count);
      const endpoint = new RtpEndpoint(dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' }), host, options.log ?? NO_LOG);
      try {
        await endpoint.#bind(port);
        return endpoint;
      } catch (err) {
        await endpoint.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== undefined && PORT_TAKEN.has(code)) continue;
        throw new RtpError('RTP_BIND_FAILED', `cannot bind UDP ${host}:${port}: ${(err as Error).message}`, { cause: err });
      }
    }
    throw new RtpError('RTP_PORT_RANGE_EXHAUSTED', `no free UDP port in ${host}:${portMin}-${portMax}`, { retryable: true });
  }

  /** Local address to give Asterisk as `external_host` (host:port). */
  get localAddress(): string {
    return this.#host.includes(':') ? `[${this.#host}]:${this.#localPort}` : `${this.#host}:${this.#localPort}`;
  }

  get localPort(): number {
    return this.#localPort;
  }

  /**
   * The peer: Asterisk's UNICASTRTP_LOCAL_ADDRESS / UNICASTRTP_LOCAL_PORT. Only datagrams from
   * exactly this address and port are emitted; `send` goes there.
   */
  setRemote(address: string, port: number): void {
    if (isIP(address) === 0) throw new TypeError(`remote must be an IP address, got ${address}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`invalid remote port ${port}`);
    this.#remote = { address, port };
  }

  /**
   * Send one built RTP packet to the remote. Fire-and-forget: failures are counted (and logged
   * once). Do not modify `packet` afterwards: dgram may still hold it. Throws (programmer error)
   * before `setRemote` or after `close`.
   */
  send(packet: Buffer): void {
    if (this.#closed !== undefined) throw new Error('RtpEndpoint.send after close()');
    const remote = this.#remote;
    if (remote === undefined) throw new Error('RtpEndpoint.send before setRemote()');
    this.#socket.send(packet, remote.port, remote.address, this.#onSent);
    this.#packetsOut++;
    this.#bytesOut += packet.length;
  }

  /** Sends waiting in libuv's queue (the kernel's send buffer was full): their packets are not read yet. */
  get hasQueuedSends(): boolean {
    return this.#closed === undefined && this.#socket.getSendQueueCount() > 0;
  }

  stats(): RtpEndpointStats {
    return {
      packetsIn: this.#packetsIn,
      bytesIn: this.#bytesIn,
      packetsOut: this.#packetsOut,
      bytesOut: this.#bytesOut,
      foreignPackets: this.#foreignPackets,
      malformedPackets: this.#malformedPackets,
      lastParseError: this.#lastParseError,
      sendErrors: this.#sendErrors,
      socketErrors: this.#socketErrors,
    };
  }

  /** Close the socket. Idempotent; every call returns the same promise. Emits 'close' once. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#socket.off('message', this.#onMessage);
      const done = (): void => {
        this.emit('close');
        resolve();
      };
      try {
        this.#socket.close(done);
      } catch (err) {
        // ERR_SOCKET_DGRAM_NOT_RUNNING: the socket never came up (failed bind); nothing to release.
        this.#log.debug({ err }, 'rtp socket already closed');
        done();
      }
    });
    return this.#closed;
  }

  #bind(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pendingBind = { resolve, reject };
      this.#socket.bind({ port, address: this.#host, exclusive: true }, () => {
        this.#pendingBind = undefined;
        this.#localPort = this.#socket.address().port;
        resolve();
      });
    });
  }

  readonly #onSocketError = (err: Error): void => {
    const pending = this.#pendingBind;
    if (pending !== undefined) {
      this.#pendingBind = undefined;
      pending.reject(err);
      return;
    }
    this.#socketErrors++;
    this.#log.warn({ err, localPort: this.#localPort }, 'rtp socket error');
    this.emit('socket-error', new RtpError('RTP_SOCKET_ERROR', err.message, { cause: err }));
  };

  readonly #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const remote = this.#remote;
    if (remote === undefined || rinfo.port !== remote.port || rinfo.address !== remote.address) {
      this.#foreignPackets++;
      // Once per kind, never per packet. A wrong remote silently kills inbound audio, so that one
      // is a warning with the evidence; early datagrams are normal and only debug.
      if (remote === undefined) {
        if (!this.#hasLoggedEarly) {
          this.#hasLoggedEarly = true;
          this.#log.debug({ from: `${rinfo.address}:${rinfo.port}` }, 'rtp datagram before remote was set, ignored');
        }
      } else if (!this.#hasLoggedForeign) {
        this.#hasLoggedForeign = true;
        this.#log.warn({ from: `${rinfo.address}:${rinfo.port}`, expected: `${remote.address}:${remote.port}` }, 'rtp datagram from unexpected source, ignored');
      }
      return;
    }
    const parsed = parseRtp(msg);
    if (isRtpParseError(parsed)) {
      this.#malformedPackets++;
      this.#lastParseError = parsed.code;
      return;
    }
    this.#packetsIn++;
    this.#bytesIn += msg.length;
    this.emit('packet', parsed);
  };

  readonly #onSent = (err: Error | null): void => {
    if (err === null) return;
    this.#sendErrors++;
    if (!this.#hasLoggedSendError) {
      this.#hasLoggedSendError = true;
      this.#log.warn({ err, localPort: this.#localPort }, 'rtp send failed (further failures only counted)');
    }
  };
}
