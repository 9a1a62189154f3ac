/**
 * RTP fixed header codec (RFC 3550 §5.1). Pure: no sockets, no clocks.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *    |                           timestamp                           |
 *    |           synchronization source (SSRC) identifier            |
 *    |            contributing source (CSRC) identifiers  (CC × 32)  |
 *    |  [X] profile-defined (16)     |   [X] length in 32-bit words  |
 *    |  [X] extension data ...                                       |
 *    |  payload ...                  |  [P] padding ... | pad count  |
 */

/** RTP version carried in the top two bits of every packet (RFC 3550 §5.1). */
export const RTP_VERSION = 2;
/** Size of the fixed header, before CSRCs and extension. */
export const RTP_HEADER_BYTES = 12;
/** G.711 µ-law, static payload type (RFC 3551 §6); ExternalMedia `ulaw`. */
export const PT_PCMU = 0;
/** G.711 A-law, static payload type (RFC 3551 §6); ExternalMedia `alaw`. */
export const PT_PCMA = 8;
/** L16 mono. RFC 3551 defines it at 44.1 kHz, but Asterisk maps it to 8 kHz `slin` (big-endian). */
export const PT_L16_MONO = 10;

const MAX_CSRC_COUNT = 15;
const MAX_PAYLOAD_TYPE = 127;

/** RTP header extension (RFC 3550 §5.3.1). `data` length is a multiple of 4 bytes. */
export interface RtpHeaderExtension {
  /** The 16-bit "defined by profile" field. */
  readonly profile: number;
  /** Extension body without its 4-byte preamble. From `parseRtp` it is a view into the packet buffer. */
  readonly data: Buffer;
}

/** Fields needed to build a packet. Numbers are unsigned and must fit their wire width. */
export interface RtpHeader {
  readonly payloadType: number;
  /** 16-bit sequence number. */
  readonly sequenceNumber: number;
  /** 32-bit media timestamp in clock-rate units (samples for audio). */
  readonly timestamp: number;
  /** 32-bit synchronization source. */
  readonly ssrc: number;
  /** Marker bit; for audio, the first packet of a talkspurt (RFC 3551 §4.1). Default false. */
  readonly marker?: boolean;
  /** Up to 15 contributing sources. */
  readonly csrcs?: readonly number[];
  readonly extension?: RtpHeaderExtension;
  /** Padding bytes to append (1…255), including the trailing count byte. Default 0 (P bit clear). */
  readonly paddingBytes?: number;
}

/** A parsed packet. `payload` and `extension.data` are views into the parsed buffer (no copy). */
export interface RtpPacket {
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly csrcs: readonly number[];
  readonly extension: RtpHeaderExtension | undefined;
  /** Padding bytes removed from the end (0 when the P bit is clear). */
  readonly paddingBytes: number;
  /** Payload without header, CSRCs, extension or padding. Shares memory with the input buffer. */
  readonly payload: Buffer;
}

/** Stable codes for packets that are not valid RTP. */
export type RtpParseErrorCode =
  | 'RTP_TOO_SHORT'
  | 'RTP_BAD_VERSION'
  | 'RTP_CSRC_TRUNCATED'
  | 'RTP_EXTENSION_TRUNCATED'
  | 'RTP_BAD_PADDING';

/**
 * Why a datagram is not RTP. A value, not a thrown `Error`: junk datagrams arrive at network
 * rate and are only counted, so no stack trace is captured.
 */
export class RtpParseError {
  readonly code: RtpParseErrorCode;
  readonly message: string;
  constructor(code: RtpParseErrorCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

const NO_CSRCS: readonly number[] = Object.freeze([]);

/**
 * Parse one RTP datagram. Returns an `RtpParseError` value for malformed input; never throws.
 * The returned packet borrows `buf` (payload is a view): copy it if `buf` will be reused.
 */
export function parseRtp(buf: Buffer): RtpPacket | RtpParseError {
  if (buf.length < RTP_HEADER_BYTES) {
    return new RtpParseError('RTP_TOO_SHORT', `datagram of ${buf.length} bytes is shorter than the RTP header`);
  }
  const b0 = buf[0] as number;
  const b1 = buf[1] as number;
  const version = b0 >>> 6;
  if (version !== RTP_VERSION) return new RtpParseError('RTP_BAD_VERSION', `RTP version ${version}, expected 2`);
  const hasPadding = (b0 & 0x20) !== 0;
  const hasExtension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;

  // RFC 3550 §5.1: the header is 12 bytes + 4 × CC, then the extension if X is set.
  let offset = RTP_HEADER_BYTES + 4 * csrcCount;
  if (buf.length < offset) {
    return new RtpParseError('RTP_CSRC_TRUNCATED', `CC=${csrcCount} needs ${offset} bytes, got ${buf.length}`);
  }
  let csrcs = NO_CSRCS;
  if (csrcCount > 0) {
    const list = new Array<number>(csrcCount);
    for (let i = 0; i < csrcCount; i++) list[i] = buf.readUInt32BE(RTP_HEADER_BYTES + 4 * i);
    csrcs = list;
  }

  let extension: RtpHeaderExtension | undefined;
  if (hasExtension) {
    // RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words (not counting these 4 bytes).
    if (buf.length < offset + 4) {
      return new RtpParseError('RTP_EXTENSION_TRUNCATED', 'X bit set but no room for the extension header');
    }
    const profile = buf.readUInt16BE(offset);
    const dataBytes = 4 * buf.readUInt16BE(offset + 2);
    const dataStart = offset + 4;
    if (buf.length < dataStart + dataBytes) {
      return new RtpParseError('RTP_EXTENSION_TRUNCATED', `extension of ${dataBytes} bytes overruns the datagram`);
    }
    extension = { profile, data: buf.subarray(dataStart, dataStart + dataBytes) };
    offset = dataStart + dataBytes;
  }

  let end = buf.length;
  let paddingBytes = 0;
  if (hasPadding) {
    // RFC 3550 §5.1: the last octet counts the padding octets, itself included, so it is never 0.
    paddingBytes = buf[buf.length - 1] as number;
    if (paddingBytes === 0 || paddingBytes > buf.length - offset) {
      return new RtpParseError('RTP_BAD_PADDING', `padding count ${paddingBytes} exceeds the ${buf.length - offset}-byte body`);
    }
    end -= paddingBytes;
  }

  return {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrcs,
    extension,
    paddingBytes,
    payload: buf.subarray(offset, end),
  };
}

/** Type guard for the result of `parseRtp`. */
export function isRtpParseError(result: RtpPacket | RtpParseError): result is RtpParseError {
  return result instanceof RtpParseError;
}

/** Bytes `buildRtp` will write for this header and payload length. */
export function rtpPacketBytes(header: RtpHeader, payloadBytes: number): number {
  const csrcBytes = 4 * (header.csrcs?.length ?? 0);
  const extBytes = header.extension === undefined ? 0 : 4 + header.extension.data.length;
  return RTP_HEADER_BYTES + csrcBytes + extBytes + payloadBytes + (header.paddingBytes ?? 0);
}

/**
 * Serialize one RTP packet. Writes into `out` when given (it must hold `rtpPacketBytes(...)`
 * bytes) and returns the written slice of it; otherwise allocates. Out-of-range fields are
 * programmer errors and throw `RangeError`.
 *
 * Do not reuse `out` for the next packet while a `dgram` send of this one may be pending.
 */
export function buildRtp(header: RtpHeader, payload: Uint8Array, out?: Buffer): Buffer {
  checkHeader(header);
  const total = rtpPacketBytes(header, payload.length);
  if (out !== undefined && out.length < total) {
    throw new RangeError(`output buffer of ${out.length} bytes cannot hold a ${total}-byte packet`);
  }
  const buf = out === undefined ? Buffer.allocUnsafe(total) : out.subarray(0, total);
  const csrcs = header.csrcs ?? NO_CSRCS;
  const padding = header.paddingBytes ?? 0;

  buf[0] = (RTP_VERSION << 6) | (padding > 0 ? 0x20 : 0) | (header.extension ? 0x10 : 0) | csrcs.length;
  buf[1] = (header.marker ? 0x80 : 0) | header.payloadType;
  buf.writeUInt16BE(header.sequenceNumber, 2);
  buf.writeUInt32BE(header.timestamp, 4);
  buf.writeUInt32BE(header.ssrc, 8);
  let offset = RTP_HEADER_BYTES;
  for (const csrc of csrcs) {
    buf.writeUInt32BE(csrc, offset);
    offset += 4;
  }
  if (header.extension) {
    buf.writeUInt16BE(header.extension.profile, offset);
    buf.writeUInt16BE(header.extension.data.length / 4, offset + 2);
    buf.set(header.extension.data, offset + 4);
    offset += 4 + header.extension.data.length;
  }
  buf.set(payload, offset);
  offset += payload.length;
  if (padding > 0) {
    buf.fill(0, offset, offset + padding - 1);
    buf[offset + padding - 1] = padding;
  }
  return buf;
}

function checkHeader(h: RtpHeader): void {
  checkUint('payloadType', h.payloadType, MAX_PAYLOAD_TYPE);
  checkUint('sequenceNumber', h.sequenceNumber, 0xffff);
  checkUint('timestamp', h.timestamp, 0xffff_ffff);
  checkUint('ssrc', h.ssrc, 0xffff_ffff);
  const csrcs = h.csrcs ?? NO_CSRCS;
  if (csrcs.length > MAX_CSRC_COUNT) throw new RangeError(`at most ${MAX_CSRC_COUNT} CSRCs, got ${csrcs.length}`);
  for (const c of csrcs) checkUint('csrc', c, 0xffff_ffff);
  if (h.extension) {
    checkUint('extension.profile', h.extension.profile, 0xffff);
    const len = h.extension.data.length;
    if (len % 4 !== 0 || len / 4 > 0xffff) {
      throw new RangeError(`extension data must be a multiple of 4 bytes and at most 262140, got ${len}`);
    }
  }
  if (h.paddingBytes !== undefined && h.paddingBytes !== 0) checkUint('paddingBytes', h.paddingBytes, 255);
}

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer in [0, ${max}], got ${value}`);
  }
}
