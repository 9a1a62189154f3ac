/**
 * The smaller run through real Asterisk: the carrier stand-in and our PBX (the integration test
 * bed, test/integration/fixtures/asterisk-pair.ts) on ASTERISK_TESTBED_PORT_BASE (default 20000
 * here, so other engineers' test beds on 25000+ are not disturbed), the whole App in a child, the
 * simulator in another. Besides the gateway's own figures it reads the carrier's RTP statistics
 * (`pjsip show channelstats`: RX jitter/loss of what our PBX forwarded from the gateway) and checks
 * the carrier's recording of the agent's 440 Hz for gaps.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { readWavFile } from '../../test/helpers/wav';
import { findGaps, rms } from '../../test/helpers/signal';
import { startAsteriskPair, stopAsteriskPair, type AsteriskPair } from '../../test/integration/fixtures/asterisk-pair';
import { ChildHandle } from './child';
import { onCleanup } from './cleanup';
import type { AsteriskWorkerSpec } from './protocol';
import { spawnSimulator, stopAll, type CarrierView, type RunOptions, type ScenarioResult, type ScenarioSpec } from './scenario';
import { MachineLoad } from './stats';

export interface AsteriskOptions {
  readonly calls: number[];
  readonly run: RunOptions;
}

const STEP_TIMEOUT_MS = 90_000;
const FRAME_SAMPLES = 160;
/** RMS above which a 20 ms frame of the recording counts as audible (the agent's tone is ~5000). */
const AUDIBLE_RMS = 300;
const HEAD_SKIP_FRAMES = 25;
const TAIL_SKIP_FRAMES = 50;

export async function runAsteriskScenarios(specs: ScenarioSpec[], o: AsteriskOptions): Promise<{ results: ScenarioResult[]; failures: string[] }> {
  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  if (specs.length === 0) return { results, failures };
  process.env['ASTERISK_TESTBED_PORT_BASE'] ??= '20000';
  process.stderr.write(`bench: starting the Asterisk pair on port base ${process.env['ASTERISK_TESTBED_PORT_BASE']} …\n`);
  let pair: AsteriskPair;
  try {
    pair = await startAsteriskPair({ log: (line) => process.stderr.write(`bench: [testbed] ${line}\n`) });
  } catch (err) {
    failures.push(`Asterisk pair: ${err instanceof Error ? err.message : String(err)}`);
    return { results, failures };
  }
  const unregister = onCleanup(() => stopAsteriskPair(pair));
  try {
    for (const spec of specs) {
      const label = `Asterisk ${spec.calls} × ${spec.format}/${spec.agentFormat}/${spec.converter}`;
      process.stderr.write(`bench: ${label} …\n`);
      try {
        results.push(await runOne(pair, spec, o.run));
      } catch (err) {
        failures.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
        process.stderr.write(`bench:   FAILED: ${String(err)}\n`);
        await pair.cleanUpAri().catch(() => undefined);
      }
    }
  } finally {
    unregister();
    await stopAsteriskPair(pair).catch((err: unknown) => failures.push(`stopping the Asterisk pair: ${String(err)}`));
  }
  return { results, failures };
}

async function runOne(pair: AsteriskPair, spec: ScenarioSpec, o: RunOptions): Promise<ScenarioResult> {
  const children: ChildHandle[] = [];
  const numbers = Array.from({ length: spec.calls }, () => pair.numbers.answer());
  try {
    const sim = spawnSimulator(spec.agentFormat, o);
    children.push(sim);
    const { apiUrl } = await sim.next('ready', STEP_TIMEOUT_MS);
    if (apiUrl === undefined) throw new Error('simulator did not say where it listens');
    const workerSpec: AsteriskWorkerSpec = {
      // Every call is placed at once through the API: admission and its rate limit must let them in.
      appEnv: { ...pair.appEnv, MAX_CONCURRENT_CALLS: String(spec.calls * 2), RESAMPLER_WARM_CALLS: String(spec.calls), RATE_LIMIT_BURST: String(spec.calls), RATE_LIMIT_PER_MINUTE: String(spec.calls * 60) },
      numbers,
      simUrl: apiUrl,
      agentFormat: spec.agentFormat,
      format: spec.format,
      converter: spec.converter,
      rtpPortMin: pair.ports.base + 2000,
      rtpPortMax: pair.ports.base + 2999,
      mediaWorkers: spec.mediaWorkers,
    };
    const worker = ChildHandle.spawn('asterisk-worker.ts', workerSpec, 'gateway (App)');
    children.push(worker);
    await worker.next('ready', STEP_TIMEOUT_MS);
    await sleep(o.warmupS * 1000);
    const machineLoad = new MachineLoad();
    await machineLoad.start();
    worker.send({ type: 'measure-start' });
    await worker.next('measuring', STEP_TIMEOUT_MS);
    sim.send({ type: 'measure-start' });
    await sleep(o.durationS * 1000);
    const stats = await pair.carrier.instance.cli('pjsip show channelstats').catch((err: unknown) => `error: ${String(err)}`);
    sim.send({ type: 'measure-stop' });
    worker.send({ type: 'measure-stop' });
    const machine = await machineLoad.stop(os.cpus().length);
    const simResult = (await sim.next('sim-result', STEP_TIMEOUT_MS)).result;
    const workerResult = (await worker.next('asterisk-result', STEP_TIMEOUT_MS)).result;
    await worker.stop(30_000); // hangs up every call through the API, then stops the App
    children.splice(children.indexOf(worker), 1);
    await pair.expectAriIdle(10_000);
    const carrier: CarrierView = { ...parseChannelStats(stats), recordings: await analyseRecordings(pair, numbers), channelStatsText: stats };
    return {
      kind: 'asterisk',
      spec,
      durationS: o.durationS,
      gateway: workerResult.gateway,
      sim: simResult,
      asterisk: { worker: workerResult, carrier },
      machineBusyPctOfCore: machine.busyPctOfCore,
      cpuPressurePct: machine.cpuPressurePct,
      loadAvg1m: os.loadavg()[0] ?? Number.NaN,
    };
  } finally {
    await stopAll(children);
  }
}

/**
 * `pjsip show channelstats` rows: `… Codec RxCount RxLost RxPct RxJitter TxCount …`. Asterisk 22
 * prints jitter in seconds with 3 decimals (res_rtp_asterisk's running RFC 3550 interarrival
 * jitter estimate at that moment, not a maximum over the call).
 */
export function parseChannelStats(text: string): Pick<CarrierView, 'rxJitterMs' | 'rxLossPct'> {
  const rxJitterMs: number[] = [];
  const rxLossPct: number[] = [];
  for (const line of text.split('\n')) {
    // e.g. " 00:00:12 PJSIP/883…-00000001  ulaw  1   600   0   0  0.010  …"
    const cells = line.trim().split(/\s+/);
    const codecAt = cells.findIndex((c) => /^(ulaw|alaw|slin|g722|opus)$/.test(c));
    if (codecAt < 0 || cells.length < codecAt + 6) continue;
    const lossPct = Number(cells[codecAt + 3]);
    const jitter = Number(cells[codecAt + 4]);
    if (Number.isFinite(lossPct)) rxLossPct.push(lossPct);
    if (Number.isFinite(jitter)) rxJitterMs.push(jitter * 1000); // seconds with 3 decimals: 1 ms resolution
  }
  return { rxJitterMs, rxLossPct };
}

/** The agent's tone at the carrier: from the first to the last audible frame, silent frames and clicks inside. */
async function analyseRecordings(pair: AsteriskPair, numbers: string[]): Promise<CarrierView['recordings']> {
  const out: CarrierView['recordings'][number][] = [];
  for (const number of numbers) {
    const rec = await pair.carrier.waitForRecording(number, 15_000);
    const wav = await readWavFile(rec.rxWavPath);
    const s = wav.samples;
    const frames = Math.floor(s.length / FRAME_SAMPLES);
    let first = -1;
    let last = -1;
    for (let f = 0; f < frames; f++) {
      if (rms(s.subarray(f * FRAME_SAMPLES, (f + 1) * FRAME_SAMPLES)) > AUDIBLE_RMS) {
        if (first < 0) first = f;
        last = f;
      }
    }
    if (first < 0) {
      out.push({ audibleMs: 0, silentFrames: 0, discontinuities: 0, silentAtMs: [], discontinuitiesAtMs: [], wavPath: rec.rxWavPath });
      continue;
    }
    // Steady state only: the first 0.5 s (playout starting) and the last 1 s (hangup: pacer stopped,
    // MixMonitor flushing) are left out.
    const from = first + HEAD_SKIP_FRAMES;
    const to = last - TAIL_SKIP_FRAMES;
    if (to - from < 10) {
      out.push({ audibleMs: (last - first + 1) * 20, silentFrames: 0, discontinuities: 0, silentAtMs: [], discontinuitiesAtMs: [], wavPath: rec.rxWavPath });
      continue;
    }
    const span = s.subarray(from * FRAME_SAMPLES, to * FRAME_SAMPLES);
    const gaps = findGaps(span, 8000, 20, { freqHz: 440 });
    out.push({
      audibleMs: (last - first + 1) * 20,
      silentFrames: gaps.silentFrames.length,
      discontinuities: gaps.discontinuities.length,
      silentAtMs: gaps.silentFrames.slice(0, 50).map((f) => (f + HEAD_SKIP_FRAMES) * 20),
      discontinuitiesAtMs: gaps.discontinuities.slice(0, 50).map((d) => Math.round(d.sampleIndex / 8) + HEAD_SKIP_FRAMES * 20),
      wavPath: rec.rxWavPath,
    });
  }
  return out;
}
