/**
 * G.711 µ-law and A-law ⇄ 16-bit linear PCM (ITU-T G.711), table-driven.
 *
 * The tables are built once at load from the reference algorithms of Sun Microsystems' public
 * domain g711.c (the code Asterisk, SoX and most telephony stacks descend from): µ-law uses the
 * top 14 bits of a sample with bias 0x84 and clips at 8159 (×4); A-law uses the top 13 bits. Encoding is
 * then a single lookup on the sample's top bits; decoding is a 256-entry lookup.
 */

const SIGN_BIT = 0x80;
const QUANT_MASK = 0x0f;
const SEG_SHIFT = 4;
const SEG_MASK = 0x70;
const ULAW_BIAS = 0x84;
const ULAW_CLIP = 8159;
const SEG_ULAW_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff] as const;
const SEG_ALAW_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const;

function segmentOf(value: number, ends: readonly number[]): number {
  for (let i = 0; i < ends.length; i++) if (value <= (ends[i] as number)) return i;
  return ends.length;
}

/** Sun g711.c linear2ulaw, for a 16-bit sample. */
function referenceLinearToUlaw(sample: number): number {
  let pcm = sample >> 2;
  let mask: number;
  if (pcm < 0) {
    pcm = -pcm;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (pcm > ULAW_CLIP) pcm = ULAW_CLIP;
  pcm += ULAW_BIAS >> 2;
  const seg = segmentOf(pcm, SEG_ULAW_END);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0f)) ^ mask;
}

/** Sun g711.c ulaw2linear. */
function referenceUlawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  let t = ((u & QUANT_MASK) << 3) + ULAW_BIAS;
  t <<= (u & SEG_MASK) >> SEG_SHIFT;
  return u & SIGN_BIT ? ULAW_BIAS - t : t - ULAW_BIAS;
}

/** Sun g711.c linear2alaw, for a 16-bit sample. */
function referenceLinearToAlaw(sample: number): number {
  let pcm = sample >> 3;
  let mask: number;
  if (pcm >= 0) {
    mask = 0xd5; // sign bit = 1, even bits inverted (G.711 A-law alternate-bit inversion)
  } else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  const seg = segmentOf(pcm, SEG_ALAW_END);
  if (seg >= 8) return 0x7f ^ mask;
  const quant = seg < 2 ? (pcm >> 1) & QUANT_MASK : (pcm >> seg) & QUANT_MASK;
  return ((seg << SEG_SHIFT) | quant) ^ mask;
}

/** Sun g711.c alaw2linear. */
function referenceAlawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & QUANT_MASK) << 4;
  const seg = (a & SEG_MASK) >> SEG_SHIFT;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & SIGN_BIT ? t : -t;
}

// Decode: byte → sample. Encode: index by the bits the reference algorithm keeps (14 for µ-law,
// 13 for A-law), so the 16-bit sample's low bits never change the result.
const ULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
const ULAW_ENCODE = new Uint8Array(1 << 14);
const ALAW_ENCODE = new Uint8Array(1 << 13);
for (let b = 0; b < 256; b++) {
  ULAW_DECODE[b] = referenceUlawToLinear(b);
  ALAW_DECODE[b] = referenceAlawToLinear(b);
}
for (let i = 0; i < ULAW_ENCODE.length; i++) ULAW_ENCODE[i] = referenceLinearToUlaw((i << 18) >> 16); // sign-extend 14→16 bits
for (let i = 0; i < ALAW_ENCODE.length; i++) ALAW_ENCODE[i] = referenceLinearToAlaw((i << 19) >> 16); // sign-extend 13→16 bits

/** One µ-law byte → PCM16 sample (range ±32124). */
export function ulawToLinear(byte: number): number {
  return ULAW_DECODE[byte & 0xff] as number;
}

/** One PCM16 sample → µ-law byte. 0 → 0xFF. */
export function linearToUlaw(sample: number): number {
  return ULAW_ENCODE[(sample >> 2) & 0x3fff] as number;
}

/** One A-law byte → PCM16 sample (range ±32256; A-law has no zero, 0xD5 → +8). */
export function alawToLinear(byte: number): number {
  return ALAW_DECODE[byte & 0xff] as number;
}

/** One PCM16 sample → A-law byte. 0 → 0xD5. */
export function linearToAlaw(sample: number): number {
  return ALAW_ENCODE[(sample >> 3) & 0x1fff] as number;
}

/**
 * Decode µ-law bytes into PCM16. Writes into `out` (length ≥ `bytes.length`) when given and returns
 * the filled `out.subarray(0, n)`; otherwise returns a new array owned by the caller.
 */
export function decodeUlaw(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const dst = outputFor(out, bytes.length);
  for (let i = 0; i < bytes.length; i++) dst[i] = ULAW_DECODE[bytes[i] as number] as number;
  return dst;
}

/** Decode A-law bytes into PCM16. `out` as for `decodeUlaw`. */
export function decodeAlaw(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const dst = outputFor(out, bytes.length);
  for (let i = 0; i < bytes.length; i++) dst[i] = ALAW_DECODE[bytes[i] as number] as number;
  return dst;
}

/** Encode PCM16 into µ-law, one byte per sample. Writes into `out` when given (length ≥ samples). */
export function encodeUlaw(samples: Int16Array, out?: Buffer): Buffer {
  const dst = byteOutputFor(out, samples.length);
  for (let i = 0; i < samples.length; i++) dst[i] = ULAW_ENCODE[((samples[i] as number) >> 2) & 0x3fff] as number;
  return dst;
}

/** Encode PCM16 into A-law, one byte per sample. `out` as for `encodeUlaw`. */
export function encodeAlaw(samples: Int16Array, out?: Buffer): Buffer {
  const dst = byteOutputFor(out, samples.length);
  for (let i = 0; i < samples.length; i++) dst[i] = ALAW_ENCODE[((samples[i] as number) >> 3) & 0x1fff] as number;
  return dst;
}

function outputFor(out: Int16Array | undefined, length: number): Int16Array {
  if (out === undefined) return new Int16Array(length);
  if (out.length < length) throw new RangeError(`output of ${out.length} samples cannot hold ${length}`);
  return out.length === length ? out : out.subarray(0, length);
}

function byteOutputFor(out: Buffer | undefined, length: number): Buffer {
  if (out === undefined) return Buffer.allocUnsafe(length);
  if (out.length < length) throw new RangeError(`output of ${out.length} bytes cannot hold ${length}`);
  return out.length === length ? out : out.subarray(0, length);
}
