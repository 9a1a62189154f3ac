/**
 * Signal generation and analysis for audio tests: tones, noise, dominant frequency with sub-bin
 * accuracy, least-squares sine fit (SNR), spectral purity, RMS and a gap/discontinuity finder.
 * Test-only code: clarity over speed, Float64 math throughout.
 */

/** Parameters of a sine tone. `amplitude` is the peak in PCM16 units. */
export interface ToneSpec {
  readonly freqHz: number;
  readonly rateHz: number;
  readonly durationMs: number;
  /** Peak, in PCM16 units. Default 10000 (≈ −10 dBFS). */
  readonly amplitude?: number;
  /** Phase at sample 0, radians. Default 0. */
  readonly phaseRad?: number;
}

/** A PCM16 sine tone, rounded to integers. */
export function generateTone(spec: ToneSpec): Int16Array {
  const n = Math.round((spec.rateHz * spec.durationMs) / 1000);
  const amplitude = spec.amplitude ?? 10_000;
  const phase = spec.phaseRad ?? 0;
  const w = (2 * Math.PI * spec.freqHz) / spec.rateHz;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin(w * i + phase));
  return out;
}

/** Deterministic white noise (uniform, seeded LCG) with the given RMS, in PCM16 units. */
export function generateNoise(spec: { rateHz: number; durationMs: number; rms: number; seed?: number }): Int16Array {
  const n = Math.round((spec.rateHz * spec.durationMs) / 1000);
  let state = (spec.seed ?? 1) >>> 0;
  const out = new Int16Array(n);
  const scale = spec.rms * Math.sqrt(3); // uniform on [-a, a] has rms a/√3
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    out[i] = Math.round(scale * (2 * (state / 0x1_0000_0000) - 1));
  }
  return out;
}

/** Root mean square, in the samples' units. 0 for an empty array. */
export function rms(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += (samples[i] as number) ** 2;
  return Math.sqrt(sum / samples.length);
}

interface Spectrum {
  /** Power per bin 0…N/2 of the Hann-windowed, DC-removed, zero-padded signal. */
  readonly power: Float64Array;
  readonly binHz: number;
}

function spectrum(samples: ArrayLike<number>, rateHz: number): Spectrum {
  const len = samples.length;
  if (len < 4) throw new RangeError('need at least 4 samples for a spectrum');
  let n = 1;
  while (n < 2 * len) n <<= 1; // ≥2× zero padding sharpens the peak for interpolation
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  let mean = 0;
  for (let i = 0; i < len; i++) mean += samples[i] as number;
  mean /= len;
  for (let i = 0; i < len; i++) {
    const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (len - 1));
    re[i] = ((samples[i] as number) - mean) * hann;
  }
  fft(re, im);
  const power = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) power[k] = (re[k] as number) ** 2 + (im[k] as number) ** 2;
  return { power, binHz: rateHz / n };
}

/** In-place iterative radix-2 complex FFT; `re.length` must be a power of two. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j] as number, re[i] as number];
      [im[i], im[j]] = [im[j] as number, im[i] as number];
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const step = (-2 * Math.PI) / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < size / 2; k++) {
        const wr = Math.cos(step * k);
        const wi = Math.sin(step * k);
        const a = start + k;
        const b = a + size / 2;
        const tr = wr * (re[b] as number) - wi * (im[b] as number);
        const ti = wr * (im[b] as number) + wi * (re[b] as number);
        re[b] = (re[a] as number) - tr;
        im[b] = (im[a] as number) - ti;
        re[a] = (re[a] as number) + tr;
        im[a] = (im[a] as number) + ti;
      }
    }
  }
}

function peakBin(power: Float64Array, binHz: number, minHz: number, maxHz: number): number {
  const lo = Math.max(1, Math.ceil(minHz / binHz));
  const hi = Math.min(power.length - 2, Math.floor(maxHz / binHz));
  let best = lo;
  for (let k = lo; k <= hi; k++) if ((power[k] as number) > (power[best] as number)) best = k;
  return best;
}

/**
 * Frequency of the strongest spectral peak, in Hz. Hann window, ≥2× zero padding and a parabola
 * through the log-power of the peak bin and its neighbours (Gaussian interpolation): typically
 * within 1 % of a bin, i.e. < 0.01 Hz for 1 s of 8 kHz audio.
 */
export function dominantFrequencyHz(samples: ArrayLike<number>, rateHz: number, range: { minHz?: number; maxHz?: number } = {}): number {
  const { power, binHz } = spectrum(samples, rateHz);
  const k = peakBin(power, binHz, range.minHz ?? 0, range.maxHz ?? rateHz / 2);
  const a = Math.log((power[k - 1] as number) + 1e-300);
  const b = Math.log((power[k] as number) + 1e-300);
  const c = Math.log((power[k + 1] as number) + 1e-300);
  const denom = a - 2 * b + c;
  const delta = denom === 0 ? 0 : (0.5 * (a - c)) / denom;
  return (k + delta) * binHz;
}

/**
 * Share of the (Hann-windowed, DC-removed) energy within ±`bandHz` of the strongest peak.
 * 1.0 is a pure tone; wrong byte order or a broken codec gives < 0.5.
 */
export function tonePurity(samples: ArrayLike<number>, rateHz: number, bandHz = 15): number {
  const { power, binHz } = spectrum(samples, rateHz);
  const k = peakBin(power, binHz, 0, rateHz / 2);
  const halfBand = Math.max(2, Math.round(bandHz / binHz));
  let inBand = 0;
  let total = 0;
  for (let i = 1; i < power.length; i++) {
    total += power[i] as number;
    if (Math.abs(i - k) <= halfBand) inBand += power[i] as number;
  }
  return total === 0 ? 0 : inBand / total;
}

/** Result of a least-squares fit of `dc + a·sin(ωt) + b·cos(ωt)`. */
export interface SineFit {
  readonly freqHz: number;
  /** Peak amplitude in the samples' units. */
  readonly amplitude: number;
  readonly phaseRad: number;
  readonly dc: number;
  /** RMS of what the fit does not explain (noise, distortion, clicks). */
  readonly residualRms: number;
  /** 10·log10(tone power / residual power); Infinity for a perfect fit. */
  readonly snrDb: number;
}

/** Least-squares sine fit at a known frequency. */
export function fitSine(samples: ArrayLike<number>, rateHz: number, freqHz: number): SineFit {
  const n = samples.length;
  const w = (2 * Math.PI * freqHz) / rateHz;
  // Normal equations for the basis [sin, cos, 1].
  let ss = 0, sc = 0, cc = 0, s1 = 0, c1 = 0, ys = 0, yc = 0, y1 = 0;
  for (let i = 0; i < n; i++) {
    const s = Math.sin(w * i);
    const c = Math.cos(w * i);
    const y = samples[i] as number;
    ss += s * s; sc += s * c; cc += c * c; s1 += s; c1 += c;
    ys += y * s; yc += y * c; y1 += y;
  }
  const [a, b, dc] = solve3([[ss, sc, s1], [sc, cc, c1], [s1, c1, n]], [ys, yc, y1]);
  let residual = 0;
  let tone = 0;
  for (let i = 0; i < n; i++) {
    const t = a * Math.sin(w * i) + b * Math.cos(w * i);
    tone += t * t;
    residual += ((samples[i] as number) - t - dc) ** 2;
  }
  return {
    freqHz,
    amplitude: Math.hypot(a, b),
    phaseRad: Math.atan2(b, a),
    dc,
    residualRms: Math.sqrt(residual / n),
    snrDb: residual === 0 ? Infinity : 10 * Math.log10(tone / residual),
  };
}

/**
 * SNR of the tone in `samples`: least-squares sine fit at `freqHz`, or, when omitted, at the
 * dominant frequency refined by a golden-section search (a 0.01 Hz error over seconds of audio
 * would otherwise dominate the residual).
 */
export function toneSnrDb(samples: ArrayLike<number>, rateHz: number, freqHz?: number): number {
  if (freqHz !== undefined) return fitSine(samples, rateHz, freqHz).snrDb;
  return bestSineFit(samples, rateHz).snrDb;
}

/** Sine fit at the frequency that minimises the residual, searched ±1 bin around the peak. */
export function bestSineFit(samples: ArrayLike<number>, rateHz: number): SineFit {
  const f0 = dominantFrequencyHz(samples, rateHz);
  let lo = f0 - rateHz / samples.length;
  let hi = f0 + rateHz / samples.length;
  const ratio = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - ratio * (hi - lo);
  let x2 = lo + ratio * (hi - lo);
  let f1 = fitSine(samples, rateHz, x1).residualRms;
  let f2 = fitSine(samples, rateHz, x2).residualRms;
  for (let i = 0; i < 40; i++) {
    if (f1 < f2) {
      hi = x2; x2 = x1; f2 = f1;
      x1 = hi - ratio * (hi - lo);
      f1 = fitSine(samples, rateHz, x1).residualRms;
    } else {
      lo = x1; x1 = x2; f1 = f2;
      x2 = lo + ratio * (hi - lo);
      f2 = fitSine(samples, rateHz, x2).residualRms;
    }
  }
  return fitSine(samples, rateHz, (lo + hi) / 2);
}

function solve3(m: number[][], v: number[]): [number, number, number] {
  // Gaussian elimination with partial pivoting; fine for a 3×3 normal matrix.
  const a = m.map((row, i) => [...row, v[i] as number]);
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = a[r]![col]! / a[col]![col]!;
      for (let c = col; c < 4; c++) a[r]![c] = a[r]![c]! - f * a[col]![c]!;
    }
  }
  return [a[0]![3]! / a[0]![0]!, a[1]![3]! / a[1]![1]!, a[2]![3]! / a[2]![2]!];
}

/** A sample where a tone stops following itself. */
export interface Discontinuity {
  readonly sampleIndex: number;
  /** 'amplitude' when the level differs by > `amplitudeStepDb` across it, else 'phase'. */
  readonly kind: 'phase' | 'amplitude';
  /** Peak prediction error relative to the local tone amplitude. */
  readonly size: number;
}

/** What `findGaps` saw. */
export interface GapReport {
  readonly frameCount: number;
  /** Indices of frames whose RMS is below the silence threshold. */
  readonly silentFrames: readonly number[];
  readonly discontinuities: readonly Discontinuity[];
  /** Tone frequency the prediction used. */
  readonly frequencyHz: number;
  readonly medianFrameRms: number;
}

/** Thresholds of `findGaps`. */
export interface GapOptions {
  /** Tone frequency; estimated with `dominantFrequencyHz` when omitted. */
  readonly freqHz?: number;
  /** A frame is near-silent below this fraction of the median frame RMS. Default 0.1 (−20 dB). */
  readonly silenceRatio?: number;
  /** …or below this absolute RMS (PCM16 units). Default 32 (≈ −60 dBFS). */
  readonly silenceFloorRms?: number;
  /** Prediction error, relative to the local amplitude, that counts as a discontinuity. Default 0.2. */
  readonly jumpThreshold?: number;
  /** Level change across a discontinuity that makes it 'amplitude'. Default 1 dB. */
  readonly amplitudeStepDb?: number;
}

/**
 * Find near-silent frames and discontinuities inside a steady tone (e.g. a 1 kHz tone that went
 * through RTP, a resampler and back). A pure sinusoid obeys x[n] = 2cos(ω)·x[n−1] − x[n−2]; the
 * error of that prediction stays at quantisation level (≈ 0.06 of the amplitude after G.711) and
 * jumps at clicks, dropouts, phase jumps and level steps.
 */
export function findGaps(samples: ArrayLike<number>, rateHz: number, frameMs: number, options: GapOptions = {}): GapReport {
  const frameLen = Math.round((rateHz * frameMs) / 1000);
  const frameCount = Math.floor(samples.length / frameLen);
  const frameRms = new Float64Array(frameCount);
  for (let f = 0; f < frameCount; f++) {
    let sum = 0;
    for (let i = f * frameLen; i < (f + 1) * frameLen; i++) sum += (samples[i] as number) ** 2;
    frameRms[f] = Math.sqrt(sum / frameLen);
  }
  const medianFrameRms = frameCount === 0 ? 0 : [...frameRms].sort((x, y) => x - y)[Math.floor(frameCount / 2)]!;
  const silenceRms = Math.max(options.silenceFloorRms ?? 32, (options.silenceRatio ?? 0.1) * medianFrameRms);
  const silentFrames: number[] = [];
  for (let f = 0; f < frameCount; f++) if ((frameRms[f] as number) < silenceRms) silentFrames.push(f);

  const frequencyHz = options.freqHz ?? (samples.length >= 4 ? dominantFrequencyHz(samples, rateHz) : 0);
  const k = 2 * Math.cos((2 * Math.PI * frequencyHz) / rateHz);
  const threshold = options.jumpThreshold ?? 0.2;
  const stepDb = options.amplitudeStepDb ?? 1;
  const discontinuities: Discontinuity[] = [];
  const localAmplitude = (n: number): number => {
    const f = Math.min(frameCount - 1, Math.floor(n / frameLen));
    const prev = Math.max(0, f - 1);
    return Math.SQRT2 * Math.max(frameRms[f] ?? 0, frameRms[prev] ?? 0);
  };
  for (let n = 2; n < frameCount * frameLen; n++) {
    const amp = localAmplitude(n);
    if (amp < silenceRms * Math.SQRT2) continue;
    const err = Math.abs((samples[n] as number) - k * (samples[n - 1] as number) + (samples[n - 2] as number)) / amp;
    if (err <= threshold) continue;
    const last = discontinuities[discontinuities.length - 1];
    if (last !== undefined && n - last.sampleIndex <= 3) {
      if (err > last.size) discontinuities[discontinuities.length - 1] = { ...last, size: err };
      continue;
    }
    const before = rms(sliceOf(samples, Math.max(0, n - frameLen), n));
    const after = rms(sliceOf(samples, n + 2, Math.min(samples.length, n + 2 + frameLen)));
    const isStep = before < silenceRms || after < silenceRms || Math.abs(20 * Math.log10(after / before)) > stepDb;
    discontinuities.push({ sampleIndex: n, kind: isStep ? 'amplitude' : 'phase', size: err });
  }
  return { frameCount, silentFrames, discontinuities, frequencyHz, medianFrameRms };
}

function sliceOf(samples: ArrayLike<number>, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(samples[i] as number);
  return out;
}

/** Where 8 kHz `samples` are audible: 20 ms frames with RMS above `threshold`, merged into [start, end) runs in ms. */
export function audibleRuns(samples: Int16Array, threshold = 300): { startMs: number; endMs: number }[] {
  const runs: { startMs: number; endMs: number }[] = [];
  let start = -1;
  const frames = Math.floor(samples.length / 160);
  for (let i = 0; i <= frames; i++) {
    const loud = i < frames && rms(samples.subarray(i * 160, (i + 1) * 160)) > threshold;
    if (loud && start < 0) start = i;
    if (!loud && start >= 0) {
      runs.push({ startMs: start * 20, endMs: i * 20 });
      start = -1;
    }
  }
  return runs;
}

/** The 8 kHz samples of one run. */
export function segment(samples: Int16Array, run: { startMs: number; endMs: number }): Int16Array {
  return samples.subarray(run.startMs * 8, run.endMs * 8);
}
