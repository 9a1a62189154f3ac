/**
 * One synthetic scenario: N concurrent calls through the gateway worker, with the RTP peer and the
 * simulator in their own processes. Starts the children, lets the calls settle (`warmupS`),
 * measures `durationS`, and stops every child by pid whatever happens.
 */
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentAudioFormat, ExternalMediaFormat } from '../../src/audio/frame';
import type { ConverterName } from '../../src/config';
import { ChildHandle } from './child';
import { analyseProfileDir, type ThreadStages } from './profile-stages';
import type { AsteriskWorkerResult, GatewayResult, GatewaySpec, PeerResult, PeerSpec, SimResult, SimSpec } from './protocol';
import { MachineLoad } from './stats';

/** What to run. */
export interface ScenarioSpec {
  readonly calls: number;
  /** MEDIA_WORKERS of the measured gateway (0: media on its main thread). */
  readonly mediaWorkers: number;
  readonly format: ExternalMediaFormat;
  readonly converter: ConverterName;
  readonly agentFormat: AgentAudioFormat;
  /** AUDIO_CHUNK_SIZE_MS of the measured gateway when not the default 20 (synthetic runs). */
  readonly chunkMs?: number;
}

export interface RunOptions {
  readonly durationS: number;
  readonly warmupS: number;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  readonly utteranceMs: number;
  readonly speedFactor: number;
  /** `--profile`: CPU profiles of each synthetic scenario's gateway go under this folder. */
  readonly profileDir?: string;
}

/** Carrier-side view of the calls through real Asterisk. */
export interface CarrierView {
  /** `pjsip show channelstats` of the carrier (RX = what our PBX forwarded from the gateway). */
  readonly rxJitterMs: number[];
  readonly rxLossPct: number[];
  /** Recording continuity of the agent's 440 Hz at the carrier, per call. */
  readonly recordings: {
    audibleMs: number;
    silentFrames: number;
    discontinuities: number;
    /** Where (ms after the first audible frame), first 50. */
    silentAtMs: number[];
    discontinuitiesAtMs: number[];
    wavPath: string;
  }[];
  /** The CLI output the figures were read from. */
  readonly channelStatsText: string;
}

export interface ScenarioResult {
  readonly kind: 'synthetic' | 'asterisk';
  readonly spec: ScenarioSpec;
  readonly durationS: number;
  readonly gateway: GatewayResult;
  readonly peer?: PeerResult;
  readonly sim: SimResult;
  readonly asterisk?: { worker: AsteriskWorkerResult; carrier: CarrierView | undefined };
  /** All cores' busy time during the window, % of one core (2 cores = 200). */
  readonly machineBusyPctOfCore: number;
  /** Share of the window in which some task on the box waited for a CPU (/proc/pressure/cpu). */
  readonly cpuPressurePct: number;
  readonly loadAvg1m: number;
  /** `--profile`: each gateway thread's busy time in the window, by stage. */
  readonly stages?: readonly ThreadStages[];
}

/** Per-scenario deadlines: generous, because the box may be loaded by other work. */
const READY_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 30_000;

/** BENCH_GATEWAY_NODE_ARGS (space-separated), e.g. `--trace-gc` or `--cpu-prof`, for the measured process only. */
export function gatewayNodeArgs(): string[] {
  return (process.env['BENCH_GATEWAY_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
}

/** Nice value of the simulator child: it stands in for a remote service, so it yields the CPU first. */
const SIMULATOR_NICE = 10;

/** The simulator child, at lower CPU priority than the gateway (the real ElevenLabs is not on this box). */
export function spawnSimulator(agentFormat: AgentAudioFormat, o: RunOptions): ChildHandle {
  const spec: SimSpec = { formats: [agentFormat], utteranceMs: o.utteranceMs, speedFactor: o.speedFactor };
  const sim = ChildHandle.spawn('sim-child.ts', spec, 'simulator');
  if (sim.pid !== undefined) {
    try {
      os.setPriority(sim.pid, SIMULATOR_NICE);
    } catch (err) {
      process.stderr.write(`bench: could not lower the simulator's priority: ${String(err)}\n`);
    }
  }
  return sim;
}

/**
 * One scenario; with `o.profileDir`, the gateway runs under `--cpu-prof` (its workers too) and the
 * result says where its threads spent the measured window (bench/lib/profile-stages.ts).
 */
export async function runSynthetic(spec: ScenarioSpec, o: RunOptions): Promise<ScenarioResult> {
  if (o.profileDir === undefined) return runSyntheticOnce(spec, o, []);
  const dir = path.join(o.profileDir, `${spec.format}-${spec.converter}-${spec.mediaWorkers}w-${spec.calls}-${spec.chunkMs ?? 20}ms`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const result = await runSyntheticOnce(spec, o, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  // The gateway has exited (runSyntheticOnce stops it), so its threads' profiles are written.
  return { ...result, stages: analyseProfileDir(dir, result.gateway.windowUs) };
}

async function runSyntheticOnce(spec: ScenarioSpec, o: RunOptions, profileArgs: string[]): Promise<ScenarioResult> {
  const children: ChildHandle[] = [];
  try {
    const sim = spawnSimulator(spec.agentFormat, o);
    children.push(sim);
    const { apiUrl } = await sim.next('ready', STEP_TIMEOUT_MS);
    if (apiUrl === undefined) throw new Error('simulator did not say where it listens');
    const gatewaySpec: GatewaySpec = { ...spec, simUrl: apiUrl, rtpPortMin: o.rtpPortMin, rtpPortMax: o.rtpPortMax };
    const gateway = ChildHandle.spawn('gateway-worker.ts', gatewaySpec, 'gateway', [...gatewayNodeArgs(), ...profileArgs]);
    children.push(gateway);
    const { ports } = await gateway.next('ready', READY_TIMEOUT_MS);
    if (ports === undefined || ports.length !== spec.calls) throw new Error('gateway did not report its RTP ports');
    const peerSpec: PeerSpec = { targets: ports, format: spec.format };
    const peer = ChildHandle.spawn('rtp-peer.ts', peerSpec, 'rtp-peer');
    children.push(peer);
    const peerReady = await peer.next('ready', STEP_TIMEOUT_MS);
    gateway.send({ type: 'start', remotes: (peerReady.ports ?? []).map((port) => ({ address: '127.0.0.1', port })) });
    await gateway.next('started', STEP_TIMEOUT_MS);
    peer.send({ type: 'go' });
    await peer.next('started', STEP_TIMEOUT_MS);

    await sleep(o.warmupS * 1000);
    const machineLoad = new MachineLoad();
    await machineLoad.start();
    gateway.send({ type: 'measure-start' });
    await gateway.next('measuring', STEP_TIMEOUT_MS);
    peer.send({ type: 'measure-start' });
    sim.send({ type: 'measure-start' });
    await sleep(o.durationS * 1000);
    // Peer first: the gateway's GC for its memory figures must not fall inside the peer's window.
    peer.send({ type: 'measure-stop' });
    const peerResult = (await peer.next('peer-result', STEP_TIMEOUT_MS)).result;
    sim.send({ type: 'measure-stop' });
    gateway.send({ type: 'measure-stop' });
    const machine = await machineLoad.stop(os.cpus().length);
    const simResult = (await sim.next('sim-result', STEP_TIMEOUT_MS)).result;
    const gatewayResult = (await gateway.next('gateway-result', STEP_TIMEOUT_MS)).result;
    return {
      kind: 'synthetic',
      spec,
      durationS: o.durationS,
      gateway: gatewayResult,
      peer: peerResult,
      sim: simResult,
      machineBusyPctOfCore: machine.busyPctOfCore,
      cpuPressurePct: machine.cpuPressurePct,
      loadAvg1m: os.loadavg()[0] ?? Number.NaN,
    };
  } finally {
    await stopAll(children);
  }
}

/** Stop children in reverse start order (the load generators before what they feed). */
export async function stopAll(children: ChildHandle[]): Promise<void> {
  for (const c of [...children].reverse()) {
    await c.stop().catch((err: unknown) => process.stderr.write(`bench: stopping ${c.label}: ${String(err)}\n`));
  }
}
