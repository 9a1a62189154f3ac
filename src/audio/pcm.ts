/**
 * PCM16 sample conversions: Int16 ⇄ Float32 scaling and big-/little-endian bytes ⇄ Int16Array.
 * Loops over indices; no per-sample allocation. Every function that takes an optional `out` writes into it and returns the filled
 * view; without `out` it returns a new array owned by the caller.
 */

/** Int16 full scale. Float samples are `int / 32768`, so -32768 maps to exactly -1. */
const INT16_SCALE = 32768;

/** Int16 → Float32 in [-1, 1). */
export function int16ToFloat32(samples: Int16Array, out?: Float32Array): Float32Array {
  const dst = out === undefined ? new Float32Array(samples.length) : fit(out, samples.length);
  for (let i = 0; i < samples.length; i++) dst[i] = (samples[i] as number) / INT16_SCALE;
  return dst;
}

/**
 * Float32 → Int16 with rounding and clipping (resampler output may overshoot ±1 on full-scale
 * input). Converts the first `length` samples (default all).
 */
export function float32ToInt16(samples: Float32Array, out?: Int16Array, length: number = samples.length): Int16Array {
  const dst = out === undefined ? new Int16Array(length) : fit(out, length);
  for (let i = 0; i < length; i++) {
    const v = Math.round((samples[i] as number) * INT16_SCALE);
    dst[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return dst;
}

/** Big-endian PCM16 bytes (RTP `slin`: docs/asterisk.md#byte-order-of-slin) → samples. An odd last byte is ignored. */
export function readPcm16BE(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = bytes.length >>> 1;
  const dst = out === undefined ? new Int16Array(n) : fit(out, n);
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    dst[i] = (((bytes[j] as number) << 24) >> 16) | (bytes[j + 1] as number);
  }
  return dst;
}

/** Little-endian PCM16 bytes (agent WebSocket audio, wav) → samples. An odd last byte is ignored. */
export function readPcm16LE(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = bytes.length >>> 1;
  const dst = out === undefined ? new Int16Array(n) : fit(out, n);
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    dst[i] = (((bytes[j + 1] as number) << 24) >> 16) | (bytes[j] as number);
  }
  return dst;
}

/** Samples → big-endian PCM16 bytes (RTP `slin`). */
export function writePcm16BE(samples: Int16Array, out?: Buffer): Buffer {
  const dst = byteOutput(out, samples.length * 2);
  for (let i = 0, j = 0; i < samples.length; i++, j += 2) {
    const s = samples[i] as number;
    dst[j] = (s >> 8) & 0xff;
    dst[j + 1] = s & 0xff;
  }
  return dst;
}

/** Samples → little-endian PCM16 bytes (agent WebSocket audio, wav). */
export function writePcm16LE(samples: Int16Array, out?: Buffer): Buffer {
  const dst = byteOutput(out, samples.length * 2);
  for (let i = 0, j = 0; i < samples.length; i++, j += 2) {
    const s = samples[i] as number;
    dst[j] = s & 0xff;
    dst[j + 1] = (s >> 8) & 0xff;
  }
  return dst;
}

function fit<T extends Int16Array | Float32Array>(out: T, length: number): T {
  if (out.length < length) throw new RangeError(`output of ${out.length} samples cannot hold ${length}`);
  return (out.length === length ? out : out.subarray(0, length)) as T;
}

function byteOutput(out: Buffer | undefined, length: number): Buffer {
  if (out === undefined) return Buffer.allocUnsafe(length);
  if (out.length < length) throw new RangeError(`output of ${out.length} bytes cannot hold ${length}`);
  return out.length === length ? out : out.subarray(0, length);
}
