import type { ExternalMediaFormat } from '../audio/frame';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../audio/g711';
import { readPcm16BE, writePcm16BE } from '../audio/pcm';
import { PT_L16_MONO, PT_PCMA, PT_PCMU } from '../rtp/packet';

/**
 * The payload codec of one ExternalMedia format. Asterisk's side is always 8 kHz mono and expects
 * the static payload type below (a dynamic PT is silently dropped: docs/asterisk.md).
 */
export interface TelephonyCodec {
  readonly format: ExternalMediaFormat;
  /** RTP payload type Asterisk uses for this format in both directions. */
  readonly payloadType: number;
  readonly sampleRateHz: 8000;
  /** Payload bytes per sample: 2 for slin, 1 for G.711. */
  readonly bytesPerSample: 1 | 2;
  /** RTP payload → PCM16 at 8 kHz. `out` as in this module's other functions. */
  decode(payload: Uint8Array, out?: Int16Array): Int16Array;
  /** PCM16 at 8 kHz → RTP payload. */
  encode(samples: Int16Array, out?: Buffer): Buffer;
}

const CODECS: Readonly<Record<ExternalMediaFormat, TelephonyCodec>> = Object.freeze({
  slin: Object.freeze({
    format: 'slin',
    payloadType: PT_L16_MONO,
    sampleRateHz: 8000,
    bytesPerSample: 2,
    decode: readPcm16BE,
    encode: writePcm16BE,
  }),
  ulaw: Object.freeze({
    format: 'ulaw',
    payloadType: PT_PCMU,
    sampleRateHz: 8000,
    bytesPerSample: 1,
    decode: decodeUlaw,
    encode: encodeUlaw,
  }),
  alaw: Object.freeze({
    format: 'alaw',
    payloadType: PT_PCMA,
    sampleRateHz: 8000,
    bytesPerSample: 1,
    decode: decodeAlaw,
    encode: encodeAlaw,
  }),
} satisfies Record<ExternalMediaFormat, TelephonyCodec>);

/** The codec for an ExternalMedia format. Stateless and shared. */
export function telephonyCodecFor(format: ExternalMediaFormat): TelephonyCodec {
  return CODECS[format];
}
