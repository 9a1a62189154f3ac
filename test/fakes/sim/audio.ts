/**
 * Audio helpers of the ElevenLabs simulator: tone synthesis, the agent wire formats (s16le and
 * G.711 µ-law) and simple analysis for assertions. Written independently of `src/audio` on purpose,
 * so the simulator does not share a bug with the code under test.
 */
import { parseAgentAudioFormat, type AgentAudioFormat } from '../../../src/audio/frame';

/** Encoding and rate of an agent format. Throws on an unknown name (simulator config error). */
export function simFormatInfo(format: AgentAudioFormat): { encoding: 'pcm' | 'ulaw'; rateHz: number; bytesPerSample: 1 | 2 } {
  const info = parseAgentAudioFormat(format);
  if (info === undefined) throw new Error(`simulator: unknown audio format ${format}`);
  return { encoding: info.encoding, rateHz: info.sampleRateHz, bytesPerSample: info.encoding === 'ulaw' ? 1 : 2 };
}

/** A tone the simulated agent (or a test caller) "says". */
export interface ToneSpec {
  freqHz: number;
  durationMs: number;
  /** Peak amplitude as a fraction of full scale; default 0.3 (≈ −10.5 dBFS). */
  amplitude?: number;
}

/** Sine tone at `rateHz` with 5 ms linear fade in/out (no clicks for a human listener). */
export function synthTone(tone: ToneSpec, rateHz: number): Int16Array {
  const n = Math.round((tone.durationMs * rateHz) / 1000);
  const out = new Int16Array(n);
  const peak = (tone.amplitude ?? 0.3) * 32767;
  const fade = Math.min(Math.round(0.005 * rateHz), Math.floor(n / 2));
  const w = (2 * Math.PI * tone.freqHz) / rateHz;
  for (let i = 0; i < n; i++) {
    const ramp = fade === 0 ? 1 : Math.min(1, i / fade, (n - 1 - i) / fade);
    out[i] = Math.round(peak * ramp * Math.sin(w * i));
  }
  return out;
}

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

/** ITU-T G.711 µ-law encode of one 16-bit sample (Sun reference algorithm). */
export function linearToUlaw(sample: number): number {
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > ULAW_CLIP) s = ULAW_CLIP;
  s += ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** ITU-T G.711 µ-law decode of one byte. */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return (u & 0x80) !== 0 ? -magnitude : magnitude;
}

/** Samples → wire bytes in `format` (s16le or µ-law). */
export function encodeSamples(samples: Int16Array, format: AgentAudioFormat): Buffer {
  const { encoding } = simFormatInfo(format);
  if (encoding === 'ulaw') {
    const out = Buffer.allocUnsafe(samples.length);
    for (let i = 0; i < samples.length; i++) out[i] = linearToUlaw(samples[i]!);
    return out;
  }
  const out = Buffer.allocUnsafe(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, i * 2);
  return out;
}

/** Wire bytes in `format` → samples. A trailing odd byte of s16le is ignored. */
export function decodeBytes(bytes: Buffer, format: AgentAudioFormat): Int16Array {
  const { encoding } = simFormatInfo(format);
  if (encoding === 'ulaw') {
    const out = new Int16Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = ulawToLinear(bytes[i]!);
    return out;
  }
  const n = bytes.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = bytes.readInt16LE(i * 2);
  return out;
}

/** Root mean square of a block of samples (0 for an empty block). */
export function rms(samples: Int16Array, start = 0, end = samples.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / (end - start));
}

/**
 * Dominant frequency of a (near-)pure tone by counting interpolated zero crossings. Good to ~1 Hz for
 * ≥100 ms of a clean tone; meaningless for noise or mixtures. Returns 0 for silence.
 */
export function estimateFrequencyHz(samples: Int16Array, rateHz: number): number {
  let first = -1;
  let last = -1;
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (a < 0 && b >= 0) {
      const t = i - 1 + -a / (b - a);
      if (first < 0) first = t;
      else crossings++;
      last = t;
    }
  }
  if (crossings === 0) return 0;
  return (crossings * rateHz) / (last - first);
}

/** Concatenate sample blocks. */
export function concatSamples(blocks: readonly Int16Array[]): Int16Array {
  const total = blocks.reduce((n, b) => n + b.length, 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Small deterministic PRNG (mulberry32) so randomized chunking is reproducible from a seed. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
