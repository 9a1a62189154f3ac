/**
 * Messages between the benchmark's orchestrator (bench/run.ts) and its child processes, and the
 * results they report. Each child gets its spec as JSON in argv[2] and talks over Node IPC.
 *
 *   run.ts ──spawn──► sim-child      (ElevenLabs simulator: bursty agent speech, pings)
 *          ──spawn──► gateway-worker (the measured process: N RtpMediaSessions + AgentClients)
 *          ──spawn──► rtp-peer       (Asterisk's side: N UDP sockets, 20 ms tone out, timing in)
 *          ──spawn──► asterisk-worker (the whole App against the real Asterisk pair)
 */
import type { AgentAudioFormat, ExternalMediaFormat } from '../../src/audio/frame';
import type { ConverterName } from '../../src/config';
import type { Summary } from './stats';

/** Parent → child. */
export type ParentMessage =
  | { type: 'measure-start' }
  | { type: 'measure-stop' }
  | { type: 'close' }
  /** gateway-worker: start RTP towards these peer sockets (one per call, same order as its ports). */
  | { type: 'start'; remotes: { address: string; port: number }[] }
  /** rtp-peer: start sending. */
  | { type: 'go' };

/** CPU and event-loop health of one process over the measurement window. */
export interface ProcessLoad {
  /** (user + system) CPU time / wall time, % of one core. */
  readonly cpuPctOfCore: number;
  /** Event loop delay (perf_hooks histogram, 1 ms resolution), ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Main thread runnable but not running (waiting for a CPU), % of the window (Linux schedstat). */
  readonly runQueueWaitPct: number;
  /** Times the OS preempted the process in the window. */
  readonly involuntaryContextSwitches: number;
}

/** Memory of the gateway process, MB, each after a forced GC. */
export interface MemorySnapshot {
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly arrayBuffersMb: number;
  readonly externalMb: number;
}

/** What the measured gateway process reports for one window. */
export interface GatewayResult {
  readonly calls: number;
  readonly windowMs: number;
  /** The window on process.hrtime, µs (the clock of a `--cpu-prof` profile's timestamps). */
  readonly windowUs?: { startUs: number; endUs: number };
  readonly load: ProcessLoad;
  /** Per RTP datagram from the caller: parse → decode → resample → encode → chunk → ws send, µs. */
  readonly inboundFrameUs: Summary;
  /** Per pacer timer callback (normally one 20 ms frame): framer read → encode → RTP build → send, µs. */
  readonly outboundTickUs: Summary;
  /** Per agent audio message: JSON/base64 decode → decode → resample → framer, µs per 20 ms of audio. */
  readonly outboundAgentPer20msUs: Summary;
  /** Same, per message (chunks are ~110 ms), µs. */
  readonly outboundAgentMsgUs: Summary;
  /** How late the pacer's timers fired against the delay they asked for, ms. */
  readonly timerLateMs: Summary;
  /** V8 GC pauses in the window (PerformanceObserver 'gc'). */
  readonly gc: { count: number; totalMs: number; maxMs: number; majorCount: number };
  /** V8 heap allocated in the window, MB (the measured thread only: undefined with media workers). */
  readonly heapAllocatedMb: number | undefined;
  /** Pacer counters summed over calls, for the window. */
  readonly pacer: { ticks: number; framesSent: number; emptyTicks: number; lateTicks: number; catchUpTicks: number; skippedTicks: number; stalls: number };
  /** Caller → gateway loss as the sessions' RTP receive stats saw it (window). */
  readonly inbound: { received: number; lost: number };
  /** Process start (modules loaded), pool warm (engines idle), and during the calls. */
  readonly memory: { base: MemorySnapshot; poolWarm: MemorySnapshot; duringCalls: MemorySnapshot; maxRssMb: number };
  readonly pool: { created: number; reused: number; reconfigured: number; idle: number; inUse: number };
  /** Creating and warming the pool's engines before the calls (event loop blocked meanwhile), ms. */
  readonly poolWarmMs: number;
  /** Agent sockets that closed on their own during the run (should be 0). */
  readonly unexpectedAgentCloses: number;
  readonly sessionErrors: number;
}

/** What the RTP peer measured of the gateway's outbound stream, over the window. */
export interface PeerResult {
  readonly load: ProcessLoad;
  /** Arrival interval between packets of consecutive slots (RTP ts +160), ms. */
  readonly intervalMs: Summary;
  /** |interval − 20 ms|, ms. */
  readonly deviationMs: Summary;
  /** Share of intervals off by more than 5 ms (0…1). */
  readonly deviationFrac5ms: number;
  readonly packets: number;
  /** Sequence gaps (packets the gateway sent that never arrived). */
  readonly lost: number;
  /** Pairs of packets whose timestamps are more than one slot apart (the gateway had nothing to send). */
  readonly slotGaps: number;
  readonly packetsSent: number;
}

/** Simulator child's report. */
export interface SimResult {
  readonly load: ProcessLoad;
  readonly conversations: number;
  readonly audioChunksOut: number;
}

/** Child → parent. */
export type ChildMessage =
  | { type: 'ready'; ports?: number[]; apiUrl?: string; pid: number }
  | { type: 'started' }
  | { type: 'measuring' }
  | { type: 'gateway-result'; result: GatewayResult }
  | { type: 'peer-result'; result: PeerResult }
  | { type: 'sim-result'; result: SimResult }
  | { type: 'asterisk-result'; result: AsteriskWorkerResult }
  | { type: 'closed' }
  | { type: 'error'; message: string };

/** Agent ids the simulator child registers, by agent audio format. */
export function simAgentId(format: AgentAudioFormat): string {
  return `bench-${format}`;
}

export interface SimSpec {
  readonly formats: AgentAudioFormat[];
  /** Length of each agent utterance (sent at `speedFactor` × real time), ms. */
  readonly utteranceMs: number;
  readonly speedFactor: number;
}

export interface GatewaySpec {
  readonly calls: number;
  /** MEDIA_WORKERS: 0 runs the links on the child's main thread (with per-frame probes). */
  readonly mediaWorkers: number;
  readonly format: ExternalMediaFormat;
  readonly converter: ConverterName;
  readonly agentFormat: AgentAudioFormat;
  /** AUDIO_CHUNK_SIZE_MS; 20 when not given. */
  readonly chunkMs?: number;
  readonly simUrl: string;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
}

export interface PeerSpec {
  readonly targets: number[];
  readonly format: ExternalMediaFormat;
}

export interface AsteriskWorkerSpec {
  readonly appEnv: Record<string, string>;
  readonly numbers: string[];
  readonly simUrl: string;
  readonly agentFormat: AgentAudioFormat;
  readonly format: ExternalMediaFormat;
  readonly converter: ConverterName;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  /** MEDIA_WORKERS of the App: 0 = media on its main thread (with per-frame probes). */
  readonly mediaWorkers: number;
}

/** The App's process through real Asterisk: gateway figures plus what arrived from Asterisk. */
export interface AsteriskWorkerResult {
  readonly gateway: GatewayResult;
  /** Inter-arrival of Asterisk's RTP at the gateway (its own pacing of the carrier's tone), ms. */
  readonly inboundIntervalMs: Summary;
  readonly inboundDeviationMs: Summary;
  readonly callIds: string[];
  readonly answered: number;
  /** Answer → first caller audio sent to the agent, per call (the gateway's histogram): mean, and the bucket every call fell in. */
  readonly answerToFirstCallerFrame: { count: number; meanMs: number; allWithinMs: number | undefined };
}
