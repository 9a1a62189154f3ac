/**
 * Streaming PCM16 resampler over libsamplerate-js's `full()` API, and a pool that reuses its
 * engines across calls.
 *
 * What the package does (read from dist/libsamplerate.js 2.1.2 and its C glue, and measured):
 * - It is wasm2js output (plain JS, no WebAssembly). Every `create()` re-runs the generated module,
 *   building a fresh set of closures and a 26,411,008-byte heap ArrayBuffer. That is synchronous
 *   work on the event loop: 5 ms median unloaded (docs/performance.md#creation-cost-and-the-pool), 32–34 ms median on a loaded
 *   2-core box (bench/resampler-memory.ts). A fresh instance's code is also cold: its first 20 ms
 *   frame took ~10 ms and frames 2–11 ~0.6–1.5 ms each, against ~0.16 ms on a reused instance.
 * - One module holds ONE global `SRC_STATE` and one global `SRC_DATA`, so an instance cannot be
 *   shared between streams. `full()` = `src_process()` on that state: filter history survives
 *   between calls, which is what makes 20 ms chunks seamless.
 * - There is no `src_reset` binding. The `converterType`/`inputSampleRate`/`outputSampleRate`
 *   setters run `src_delete` + `src_new`, a full state reset; they do not update the JS `ratio`
 *   field, which the wrapper then fixes itself.
 * - `simple()` writes the shared `SRC_DATA` and leaves `end_of_input = 1` there for good: later
 *   `full()` calls treat every chunk as the end of the stream (measured: 320, 0, 0, 0… samples per
 *   20 ms chunk), even after a reset. Never call it on an instance that streams, or pool one that did.
 */
import { ConverterType, create as createSrc } from '@alexanderolsen/libsamplerate-js';
// The package is a UMD bundle flagged `__esModule`: under this repo's CommonJS output a default
// import (`import LSR from …`) type-checks but is `undefined` at runtime. Named imports work.

/** libsamplerate's converters, by the names RESAMPLER_CONVERTER takes. */
export type ConverterName = 'sinc_best' | 'sinc_medium' | 'sinc_fastest' | 'zero_order_hold' | 'linear';

type SrcInstance = Awaited<ReturnType<typeof createSrc>>;
type ConverterTypeValue = SrcInstance['converterType'];

const CONVERTER_TYPES: Readonly<Record<ConverterName, ConverterTypeValue>> = {
  sinc_best: ConverterType.SRC_SINC_BEST_QUALITY,
  sinc_medium: ConverterType.SRC_SINC_MEDIUM_QUALITY,
  sinc_fastest: ConverterType.SRC_SINC_FASTEST,
  zero_order_hold: ConverterType.SRC_ZERO_ORDER_HOLD,
  linear: ConverterType.SRC_LINEAR,
};

/** The agent rate engines are made for ahead of calls (warmForCalls): ElevenLabs' default `pcm_16000`. */
export const WARM_AGENT_RATE_HZ = 16_000;

/** libsamplerate-js accepts 1…192000 Hz. */
const MAX_RATE_HZ = 192_000;
/**
 * Zeros fed after every create/reset. The sinc filters hold back half their length (measured:
 * BEST 18 ms, MEDIUM 5.9 ms, FASTEST 2.5 ms); once primed, every chunk yields in×ratio samples from
 * the first one, instead of a short first chunk. Latency is unchanged; the head is silence.
 */
const PRIME_MS = 25;
/** Input samples per `full()` call; keeps the package off its >4 MB `_chunkAndResample` path. */
const MAX_BLOCK_SAMPLES = 8192;
/** Headroom over in×ratio per block: the filter may release a sample or two more than that. */
const OUT_MARGIN_SAMPLES = 64;
const INT16_SCALE = 32768;

function checkRates(inHz: number, outHz: number, converter: ConverterName): void {
  for (const [name, hz] of [['inHz', inHz], ['outHz', outHz]] as const) {
    if (!Number.isInteger(hz) || hz < 1 || hz > MAX_RATE_HZ) throw new RangeError(`${name} must be an integer in [1, 192000], got ${hz}`);
  }
  if (!(converter in CONVERTER_TYPES)) throw new RangeError(`unknown converter ${String(converter)}`);
}

/** One libsamplerate instance (one 25 MB heap). Owned by exactly one Resampler or one pool at a time. */
class SrcEngine {
  #src: SrcInstance | undefined;
  #inHz: number;
  #outHz: number;
  #converter: ConverterName;
  readonly #outLength = { frames: 0 };

  private constructor(src: SrcInstance, inHz: number, outHz: number, converter: ConverterName) {
    this.#src = src;
    this.#inHz = inHz;
    this.#outHz = outHz;
    this.#converter = converter;
  }

  static async create(inHz: number, outHz: number, converter: ConverterName): Promise<SrcEngine> {
    const src = await createSrc(1, inHz, outHz, { converterType: CONVERTER_TYPES[converter] });
    return new SrcEngine(src, inHz, outHz, converter);
  }

  get key(): string {
    return poolKey(this.#inHz, this.#outHz, this.#converter);
  }

  /** Point the engine at new rates/converter. Each setter is a src_delete + src_new. */
  configure(inHz: number, outHz: number, converter: ConverterName): void {
    const src = this.#live();
    if (inHz === this.#inHz && outHz === this.#outHz && converter === this.#converter) {
      this.reset();
      return;
    }
    if (inHz !== this.#inHz) src.inputSampleRate = inHz;
    if (outHz !== this.#outHz) src.outputSampleRate = outHz;
    if (converter !== this.#converter) src.converterType = CONVERTER_TYPES[converter];
    src.ratio = outHz / inHz; // the setters leave it stale; full() sizes its checks with it
    this.#inHz = inHz;
    this.#outHz = outHz;
    this.#converter = converter;
  }

  /** Fresh filter state: re-setting the converter type runs src_delete + src_new. */
  reset(): void {
    const src = this.#live();
    const type = src.converterType;
    src.converterType = type; // the setter is the only path to src_delete + src_new
  }

  /** Resample `input` into `output`; returns frames written. Throws if `output` was too short. */
  process(input: Float32Array, output: Float32Array): number {
    this.#live().full(input, output, this.#outLength);
    const frames = this.#outLength.frames;
    if (frames > output.length) throw new Error(`resampler produced ${frames} frames into room for ${output.length}`);
    return frames;
  }

  /** Frees the C state and drops the heap reference so GC can reclaim the 25 MB. Idempotent. */
  free(): void {
    const src = this.#src;
    this.#src = undefined;
    src?.destroy();
  }

  #live(): SrcInstance {
    if (this.#src === undefined) throw new Error('resampler engine already freed');
    return this.#src;
  }
}

function poolKey(inHz: number, outHz: number, converter: ConverterName): string {
  return `${inHz}:${outHz}:${converter}`;
}

type ReleaseEngine = (engine: SrcEngine) => void;
type MakeResampler = (inHz: number, outHz: number, converter: ConverterName, engine?: SrcEngine, release?: ReleaseEngine) => Resampler;
/** The private constructor, handed to the pool by a static block (not part of the public API). */
let makeResampler: MakeResampler;

/**
 * Stateful mono PCM16 sample-rate converter for one stream (one per call direction, G6).
 * Create before streaming; `destroy()` when the call ends (with a pool: returns the engine).
 */
export class Resampler {
  /** Sample rate of `process` input, Hz. */
  readonly inputRateHz: number;
  /** Sample rate of `process` output, Hz. */
  readonly outputRateHz: number;
  readonly converter: ConverterName;
  /** True when the rates are equal: no engine exists and `process` copies. */
  readonly isPassThrough: boolean;

  #engine: SrcEngine | undefined;
  readonly #release: ReleaseEngine | undefined;
  #isDestroyed = false;
  #floatIn = new Float32Array(0);
  #floatInView = new Float32Array(0);
  #floatOut = new Float32Array(0);

  /** Use `Resampler.create` or `ResamplerPool.acquire`. */
  private constructor(inHz: number, outHz: number, converter: ConverterName, engine?: SrcEngine, release?: ReleaseEngine) {
    this.inputRateHz = inHz;
    this.outputRateHz = outHz;
    this.converter = converter;
    this.isPassThrough = engine === undefined;
    this.#engine = engine;
    this.#release = release;
    if (engine !== undefined) {
      const block = Math.min(MAX_BLOCK_SAMPLES, Math.ceil(inHz / 25)); // room for 40 ms chunks up front
      this.#floatIn = new Float32Array(block);
      this.#floatOut = new Float32Array(Math.ceil((block * outHz) / inHz) + OUT_MARGIN_SAMPLES);
      this.#prime();
    }
  }

  /**
   * A resampler with its own engine (a 25 MB heap when `inHz !== outHz`, none otherwise).
   * The caller must `destroy()` it.
   */
  static async create(inHz: number, outHz: number, converter: ConverterName = 'sinc_fastest'): Promise<Resampler> {
    checkRates(inHz, outHz, converter);
    if (inHz === outHz) return new Resampler(inHz, outHz, converter);
    return new Resampler(inHz, outHz, converter, await SrcEngine.create(inHz, outHz, converter));
  }

  static {
    makeResampler = (inHz, outHz, converter, engine, release) => new Resampler(inHz, outHz, converter, engine, release);
  }

  /**
   * Resample one chunk of any length. Filter state carries over, so consecutive chunks join
   * seamlessly. Output ≈ `input.length × out/in` samples (exact over time; ±1 per chunk).
   * Returns a new array owned by the caller.
   */
  process(input: Int16Array): Int16Array {
    const out = new Int16Array(this.maxOutputSamples(input.length));
    return out.slice(0, this.processInto(input, out));
  }

  /**
   * Like `process`, into `out` (which must hold `maxOutputSamples(input.length)`); returns how many
   * samples it wrote. Allocates nothing once the engine's buffers fit the chunk size: the per-frame
   * path of a call (docs/performance.md#allocations-per-frame).
   */
  processInto(input: Int16Array, out: Int16Array): number {
    if (this.#isDestroyed) throw new Error('Resampler.process after destroy()');
    const maxOut = this.maxOutputSamples(input.length);
    if (out.length < maxOut) throw new RangeError(`output of ${out.length} samples cannot hold ${maxOut}`);
    const engine = this.#engine;
    if (engine === undefined) {
      out.set(input);
      return input.length;
    }
    if (this.#floatOut.length < maxOut) this.#floatOut = new Float32Array(maxOut);
    let produced = 0;
    for (let offset = 0; offset < input.length; offset += MAX_BLOCK_SAMPLES) {
      const block = Math.min(MAX_BLOCK_SAMPLES, input.length - offset);
      if (this.#floatIn.length < block) this.#floatIn = new Float32Array(block);
      // A view of the first `block` samples, kept while chunks keep their size (20 ms frames do).
      if (this.#floatInView.length !== block || this.#floatInView.buffer !== this.#floatIn.buffer) this.#floatInView = this.#floatIn.subarray(0, block);
      const floatIn = this.#floatInView;
      for (let i = 0; i < block; i++) floatIn[i] = (input[offset + i] as number) / INT16_SCALE;
      if (produced === 0) {
        produced = engine.process(floatIn, this.#floatOut);
      } else {
        produced += engine.process(floatIn, this.#floatOut.subarray(produced));
      }
    }
    const floatOut = this.#floatOut;
    for (let i = 0; i < produced; i++) {
      const v = Math.round((floatOut[i] as number) * INT16_SCALE);
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v; // the filter may overshoot full scale
    }
    return produced;
  }

  /** The most samples `processInto` writes for `inputLength` input samples. */
  maxOutputSamples(inputLength: number): number {
    if (this.#engine === undefined) return inputLength;
    return Math.ceil((inputLength * this.outputRateHz) / this.inputRateHz) + OUT_MARGIN_SAMPLES * (1 + Math.ceil(inputLength / MAX_BLOCK_SAMPLES));
  }

  /** Forget all filter history (e.g. a new talkspurt after a long gap, G6). Cheap: no new heap. */
  reset(): void {
    if (this.#isDestroyed) throw new Error('Resampler.reset after destroy()');
    if (this.#engine === undefined) return;
    this.#engine.reset();
    this.#prime();
  }

  /** Free the engine, or hand it back to its pool. Idempotent; the object is unusable afterwards. */
  destroy(): void {
    if (this.#isDestroyed) return;
    this.#isDestroyed = true;
    const engine = this.#engine;
    this.#engine = undefined;
    this.#floatIn = new Float32Array(0);
    this.#floatInView = this.#floatIn;
    this.#floatOut = new Float32Array(0);
    if (engine === undefined) return;
    if (this.#release) this.#release(engine);
    else engine.free();
  }

  get isDestroyed(): boolean {
    return this.#isDestroyed;
  }

  #prime(): void {
    const engine = this.#engine as SrcEngine;
    const zeros = Math.ceil((this.inputRateHz * PRIME_MS) / 1000);
    const outRoom = Math.ceil((zeros * this.outputRateHz) / this.inputRateHz) + OUT_MARGIN_SAMPLES;
    engine.process(new Float32Array(zeros), new Float32Array(outRoom));
  }
}

/** Pool sizing. */
export interface ResamplerPoolOptions {
  /** Idle engines kept for reuse (each holds a 25 MB heap ArrayBuffer). Default 8. */
  readonly maxIdle?: number;
}

/** Counters since the pool was made. */
export interface ResamplerPoolStats {
  /** Engines created (each a 25 MB heap ArrayBuffer and 5–35 ms of blocking work). */
  readonly created: number;
  /** Acquisitions served by an idle engine with the same rates and converter. */
  readonly reused: number;
  /** Acquisitions served by an idle engine re-pointed at other rates or converter. */
  readonly reconfigured: number;
  /** Engines freed because the pool was full or closed. */
  readonly freed: number;
  readonly idle: number;
  readonly inUse: number;
}

/**
 * Per-process pool of resampler engines, so churning calls reuse 25 MB heaps (and JIT-warm code)
 * instead of allocating, warming up and later garbage-collecting new ones. Measured over 300 calls,
 * 10 concurrent, 2 engines each (bench/resampler-memory.ts churn): 600 → 20 engines created, peak
 * RSS +642 MB → +17 MB (glibc serves repeated 25 MB callocs from its heap once its mmap threshold
 * has risen, touching every page), and the blocking create time leaves the call path.
 *
 * `acquire()` returns a Resampler whose state is reset (no bleed from the previous call);
 * `resampler.destroy()` returns the engine. The pool owns idle engines; `close()` frees them.
 */
export class ResamplerPool {
  readonly #maxIdle: number;
  /** Idle engines by rate/converter key, oldest first. */
  readonly #idle = new Map<string, SrcEngine[]>();
  #idleCount = 0;
  #isClosed = false;
  #created = 0;
  #reused = 0;
  #reconfigured = 0;
  #freed = 0;
  #inUse = 0;

  constructor(options: ResamplerPoolOptions = {}) {
    this.#maxIdle = options.maxIdle ?? 8;
    if (!Number.isInteger(this.#maxIdle) || this.#maxIdle < 0) throw new RangeError('maxIdle must be a non-negative integer');
  }

  /** A reset resampler for one stream. The caller must `destroy()` it (which releases it here). */
  async acquire(inHz: number, outHz: number, converter: ConverterName): Promise<Resampler> {
    if (this.#isClosed) throw new Error('ResamplerPool.acquire after close()');
    checkRates(inHz, outHz, converter);
    if (inHz === outHz) return makeResampler(inHz, outHz, converter);
    let engine = this.#takeIdle(poolKey(inHz, outHz, converter));
    if (engine !== undefined) {
      engine.reset();
      this.#reused++;
    } else if ((engine = this.#takeAnyIdle()) !== undefined) {
      engine.configure(inHz, outHz, converter);
      this.#reconfigured++;
    } else {
      engine = await SrcEngine.create(inHz, outHz, converter);
      this.#created++;
      if (this.#isClosed) {
        engine.free();
        this.#freed++;
        throw new Error('ResamplerPool closed while acquiring');
      }
    }
    this.#inUse++;
    return makeResampler(inHz, outHz, converter, engine, (e) => this.#release(e));
  }

  /** Create `count` idle engines ahead of time, so the first calls do not pay ~5 ms each. */
  async warm(count: number, inHz: number, outHz: number, converter: ConverterName): Promise<void> {
    checkRates(inHz, outHz, converter);
    if (inHz === outHz) return;
    for (let i = 0; i < count && this.#idleCount < this.#maxIdle && !this.#isClosed; i++) {
      const engine = await SrcEngine.create(inHz, outHz, converter);
      this.#created++;
      if (this.#isClosed) {
        engine.free();
        this.#freed++;
        return;
      }
      this.#putIdle(engine);
    }
  }

  /**
   * Idle engines for `calls` calls, one each way between `telephonyHz` and `agentHz`, made one at
   * a time with a turn of the event loop between them: run in the background at start, so that a
   * burst of call set-ups takes engines instead of making them (each blocks its thread 5–35 ms,
   * docs/performance.md#creation-cost-and-the-pool), and calls that come meanwhile wait for one
   * engine at most. Stops at maxIdle or close(). Resolves with the engines made.
   */
  async warmForCalls(calls: number, telephonyHz: number, agentHz: number, converter: ConverterName): Promise<number> {
    const before = this.#created;
    for (let i = 0; i < calls && this.#idleCount < this.#maxIdle && !this.#isClosed; i++) {
      await this.warm(1, telephonyHz, agentHz, converter);
      await this.warm(1, agentHz, telephonyHz, converter);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return this.#created - before;
  }

  stats(): ResamplerPoolStats {
    return {
      created: this.#created,
      reused: this.#reused,
      reconfigured: this.#reconfigured,
      freed: this.#freed,
      idle: this.#idleCount,
      inUse: this.#inUse,
    };
  }

  /** Free idle engines; resamplers still in use free theirs on `destroy()`. Idempotent. */
  close(): void {
    this.#isClosed = true;
    for (const list of this.#idle.values()) {
      for (const engine of list) {
        engine.free();
        this.#freed++;
      }
    }
    this.#idle.clear();
    this.#idleCount = 0;
  }

  #release(engine: SrcEngine): void {
    this.#inUse--;
    if (this.#isClosed || this.#idleCount >= this.#maxIdle) {
      engine.free();
      this.#freed++;
      return;
    }
    this.#putIdle(engine);
  }

  #putIdle(engine: SrcEngine): void {
    const key = engine.key;
    const list = this.#idle.get(key);
    if (list) list.push(engine);
    else this.#idle.set(key, [engine]);
    this.#idleCount++;
  }

  #takeIdle(key: string): SrcEngine | undefined {
    const list = this.#idle.get(key);
    const engine = list?.shift();
    if (engine === undefined) return undefined;
    if (list?.length === 0) this.#idle.delete(key);
    this.#idleCount--;
    return engine;
  }

  #takeAnyIdle(): SrcEngine | undefined {
    for (const key of this.#idle.keys()) return this.#takeIdle(key);
    return undefined;
  }
}
