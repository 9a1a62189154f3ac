/**
 * Resampler cost and memory: creation time, memory per engine, call churn with and without
 * ResamplerPool, and per-20 ms-frame CPU per converter and ratio.
 *
 *   node --expose-gc -r tsx/cjs bench/resampler-memory.ts            # everything
 *   node --expose-gc -r tsx/cjs bench/resampler-memory.ts churn     # one section: create|memory|churn|frame|warmup
 *
 * Each section runs in a fresh process for clean memory figures: pass its name.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Resampler, ResamplerPool } from '../src/audio/resampler';
import type { ConverterName } from '../src/config';

const MB = 1024 * 1024;
const CONVERTERS: ConverterName[] = ['sinc_best', 'sinc_medium', 'sinc_fastest', 'zero_order_hold', 'linear'];

function gc(): void {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  globalThis.gc();
  globalThis.gc();
}

function mem(): { rssMb: number; arrayBuffersMb: number; heapUsedMb: number } {
  const m = process.memoryUsage();
  return { rssMb: m.rss / MB, arrayBuffersMb: m.arrayBuffers / MB, heapUsedMb: m.heapUsed / MB };
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function tone(rateHz: number, samples: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rateHz));
  return out;
}

async function benchCreate(): Promise<void> {
  const times: number[] = [];
  const syncTimes: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const pending = Resampler.create(8000, 16000, 'sinc_fastest');
    const t1 = performance.now(); // the synchronous part: blocks the event loop
    const r = await pending;
    times.push(performance.now() - t0);
    syncTimes.push(t1 - t0);
    r.destroy();
  }
  const [first] = times;
  const rest = times.slice(1).sort((a, b) => a - b);
  const sync = syncTimes.slice(1).sort((a, b) => a - b);
  console.log(`create(): first ${fmt(first ?? 0)} ms; then median ${fmt(quantile(rest, 0.5))} ms, p95 ${fmt(quantile(rest, 0.95))} ms`);
  console.log(`  of which synchronous (event loop blocked): median ${fmt(quantile(sync, 0.5))} ms, p95 ${fmt(quantile(sync, 0.95))} ms`);
}

async function benchMemory(): Promise<void> {
  const n = 20;
  for (const converter of ['sinc_fastest', 'sinc_best'] as ConverterName[]) {
    gc();
    const before = mem();
    const live: Resampler[] = [];
    for (let i = 0; i < n; i++) {
      const r = await Resampler.create(8000, 16000, converter);
      r.process(tone(8000, 160));
      live.push(r);
    }
    gc();
    const during = mem();
    for (const r of live) r.destroy();
    live.length = 0;
    gc();
    const after = mem();
    console.log(
      `${converter}: per live engine +${fmt((during.arrayBuffersMb - before.arrayBuffersMb) / n, 2)} MB arrayBuffers, ` +
        `+${fmt((during.rssMb - before.rssMb) / n, 2)} MB RSS, +${fmt((during.heapUsedMb - before.heapUsedMb) / n, 2)} MB JS heap; ` +
        `after destroy+GC arrayBuffers ${fmt(after.arrayBuffersMb)} MB (before ${fmt(before.arrayBuffersMb)})`,
    );
  }
}

/**
 * 300 calls, 10 at a time; each call has an inbound 8k→16k and an outbound 16k→8k resampler and
 * runs 50 frames (1 s). Calls start and end in a rolling window, as under steady churn.
 */
async function benchChurn(): Promise<void> {
  for (const mode of ['create/destroy', 'pool'] as const) {
    gc();
    const base = mem();
    const pool = new ResamplerPool({ maxIdle: 24 });
    const acquire = (inHz: number, outHz: number): Promise<Resampler> =>
      mode === 'pool' ? pool.acquire(inHz, outHz, 'sinc_fastest') : Resampler.create(inHz, outHz, 'sinc_fastest');
    const calls = 300;
    const concurrent = 10;
    const framesPerCall = 50;
    const frame8 = tone(8000, 160);
    const frame16 = tone(16000, 320);
    const active: Array<{ inbound: Resampler; outbound: Resampler; frames: number }> = [];
    let started = 0;
    let acquireMs = 0;
    let maxAcquireMs = 0;
    let peakArrayBuffersMb = 0;
    let peakRssMb = 0;
    const t0 = performance.now();
    while (started < calls || active.length > 0) {
      while (active.length < concurrent && started < calls) {
        const a0 = performance.now();
        const inbound = await acquire(8000, 16000);
        const outbound = await acquire(16000, 8000);
        const took = performance.now() - a0;
        acquireMs += took;
        maxAcquireMs = Math.max(maxAcquireMs, took);
        active.push({ inbound, outbound, frames: 0 });
        started++;
      }
      for (const call of active) {
        call.inbound.process(frame8);
        call.outbound.process(frame16);
        call.frames++;
      }
      for (let i = active.length - 1; i >= 0; i--) {
        const call = active[i]!;
        if (call.frames >= framesPerCall + (i % 7)) {
          call.inbound.destroy();
          call.outbound.destroy();
          active.splice(i, 1);
        }
      }
      const m = mem();
      peakArrayBuffersMb = Math.max(peakArrayBuffersMb, m.arrayBuffersMb - base.arrayBuffersMb);
      peakRssMb = Math.max(peakRssMb, m.rssMb - base.rssMb);
    }
    const wallMs = performance.now() - t0;
    const created = mode === 'pool' ? pool.stats().created : calls * 2;
    pool.close();
    gc();
    const end = mem();
    console.log(
      `${mode.padEnd(14)}: ${calls} calls (${concurrent} concurrent), engines created ${created}, ` +
        `create/acquire total ${fmt(acquireMs)} ms (max ${fmt(maxAcquireMs)} ms per call), wall ${fmt(wallMs)} ms, ` +
        `peak +${fmt(peakArrayBuffersMb)} MB arrayBuffers / +${fmt(peakRssMb)} MB RSS, after close+GC +${fmt(end.arrayBuffersMb - base.arrayBuffersMb)} MB arrayBuffers`,
    );
  }
}

async function benchFrame(): Promise<void> {
  const ratios: Array<[number, number]> = [
    [8000, 16000],
    [16000, 8000],
    [24000, 8000],
    [22050, 8000],
    [44100, 8000],
    [8000, 24000],
  ];
  console.log('per 20 ms frame, Resampler.process incl. Int16⇄Float32 (median / p99 µs, 3000 frames after 300 warm-up):');
  console.log(`${'ratio'.padEnd(12)}${CONVERTERS.map((c) => c.padStart(18)).join('')}`);
  for (const [inHz, outHz] of ratios) {
    const cells: string[] = [];
    for (const converter of CONVERTERS) {
      const r = await Resampler.create(inHz, outHz, converter);
      const input = tone(inHz, inHz / 50);
      for (let i = 0; i < 300; i++) r.process(input);
      const samples: number[] = [];
      for (let i = 0; i < 3000; i++) {
        const t0 = performance.now();
        r.process(input);
        samples.push((performance.now() - t0) * 1000);
      }
      samples.sort((a, b) => a - b);
      cells.push(`${fmt(quantile(samples, 0.5))} / ${fmt(quantile(samples, 0.99))}`.padStart(18));
      r.destroy();
    }
    console.log(`${`${inHz}→${outHz}`.padEnd(12)}${cells.join('')}`);
  }
}

/** First frames on a brand-new engine vs on a reused (already JIT-warm) one. */
async function benchWarmup(): Promise<void> {
  const pool = new ResamplerPool();
  const frame = tone(8000, 160);
  const firstFrames = async (get: () => Promise<Resampler>): Promise<string> => {
    const r = await get();
    const t: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      r.process(frame);
      t.push((performance.now() - t0) * 1000);
    }
    r.destroy();
    const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
    return `first frame ${fmt(t[0] ?? 0)} µs, frames 1-10 mean ${fmt(mean(t.slice(1, 11)))} µs, frames 40-50 mean ${fmt(mean(t.slice(40)))} µs`;
  };
  (await pool.acquire(8000, 16000, 'sinc_medium')).destroy(); // module code compiled once
  console.log(`fresh engine  (sinc_medium 8k→16k): ${await firstFrames(() => Resampler.create(8000, 16000, 'sinc_medium'))}`);
  for (let i = 0; i < 3; i++) {
    const r = await pool.acquire(8000, 16000, 'sinc_medium');
    for (let k = 0; k < 500; k++) r.process(frame);
    r.destroy();
  }
  console.log(`pooled engine (sinc_medium 8k→16k): ${await firstFrames(() => pool.acquire(8000, 16000, 'sinc_medium'))}`);
  pool.close();
}

const SECTIONS: Record<string, () => Promise<void>> = {
  create: benchCreate,
  memory: benchMemory,
  churn: benchChurn,
  frame: benchFrame,
  warmup: benchWarmup,
};

async function main(): Promise<void> {
  const section = process.argv[2];
  if (section !== undefined) {
    const run = SECTIONS[section];
    if (run === undefined) throw new Error(`unknown section ${section}; one of ${Object.keys(SECTIONS).join(', ')}`);
    await run();
    return;
  }
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  for (const name of Object.keys(SECTIONS)) {
    console.log(`\n## ${name}`);
    const child = spawnSync(process.execPath, [...process.execArgv, __filename, name], { stdio: 'inherit' });
    if (child.status !== 0) throw new Error(`section ${name} failed`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
