/**
 * One measurement window in a gateway process: CPU, event loop, the probes, pacer and RTP receive
 * counters of every session, and memory after a forced GC (taken after the window, so the GC
 * pause does not land inside what the RTP peer measures).
 */
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { RtpMediaSession } from '../../src/media/media-session';
import type { ResamplerPool } from '../../src/audio/resampler';
import { fullGc, LoadMeter } from './child';
import { GatewayProbe } from './probe';
import type { GatewayResult, MemorySnapshot } from './protocol';

const MB = 1024 * 1024;

/** Process memory after a full GC, MB. */
export function memorySnapshot(): MemorySnapshot {
  fullGc();
  const m = process.memoryUsage();
  return { rssMb: m.rss / MB, heapUsedMb: m.heapUsed / MB, arrayBuffersMb: m.arrayBuffers / MB, externalMb: m.external / MB };
}

type PacerCounters = GatewayResult['pacer'];

/** A session's slot counters (the media clock's, since the session joined it). */
function pacerCounters(s: ReturnType<RtpMediaSession['diagnostics']>['pacer']): PacerCounters {
  return {
    ticks: s.ticks,
    framesSent: s.framesSent,
    emptyTicks: s.ticks - s.framesSent,
    lateTicks: s.lateTicks,
    catchUpTicks: s.catchUpTicks,
    skippedTicks: s.skippedTicks,
    stalls: s.stalls,
  };
}

function subtract(a: PacerCounters, b: PacerCounters): PacerCounters {
  return {
    ticks: a.ticks - b.ticks,
    framesSent: a.framesSent - b.framesSent,
    emptyTicks: a.emptyTicks - b.emptyTicks,
    lateTicks: a.lateTicks - b.lateTicks,
    catchUpTicks: a.catchUpTicks - b.catchUpTicks,
    skippedTicks: a.skippedTicks - b.skippedTicks,
    stalls: a.stalls - b.stalls,
  };
}

const ZERO: PacerCounters = { ticks: 0, framesSent: 0, emptyTicks: 0, lateTicks: 0, catchUpTicks: 0, skippedTicks: 0, stalls: 0 };

interface SessionMark {
  pacer: PacerCounters;
  received: number;
  lost: number;
  errors: number;
}

function mark(s: RtpMediaSession): SessionMark {
  const d = s.diagnostics();
  return { pacer: pacerCounters(d.pacer), received: d.rx.received, lost: d.rx.lost, errors: s.metrics().errors };
}

/** Measures one window over a set of sessions (the set may be read lazily, e.g. from an App). */
export class GatewayMeasure {
  readonly probe = new GatewayProbe();
  readonly #meter = new LoadMeter();
  #marks = new Map<RtpMediaSession, SessionMark>();
  #gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0 };
  #gcObserver: PerformanceObserver | undefined;
  #gcProfiler: v8.GCProfiler | undefined;
  #heapUsedAtStart = 0;

  start(sessions: readonly RtpMediaSession[]): void {
    this.#marks = new Map(sessions.map((s) => [s, mark(s)]));
    this.probe.reset();
    this.#gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0 };
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        this.#gc.count++;
        this.#gc.totalMs += e.duration;
        this.#gc.maxMs = Math.max(this.#gc.maxMs, e.duration);
        const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
        if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.#gc.majorCount++;
      }
    });
    this.#gcObserver.observe({ entryTypes: ['gc'] });
    this.#heapUsedAtStart = v8.getHeapStatistics().used_heap_size;
    this.#gcProfiler = new v8.GCProfiler();
    this.#gcProfiler.start();
    this.#meter.start();
  }

  /** Ends the window; memory is read afterwards (GC). */
  stop(
    sessions: readonly RtpMediaSession[],
    context: {
      base: MemorySnapshot;
      poolWarm: MemorySnapshot;
      pool: ResamplerPool;
      poolWarmMs: number;
      unexpectedAgentCloses: number;
    },
  ): GatewayResult {
    const load = this.#meter.stop();
    this.probe.stop();
    this.#gcObserver?.disconnect();
    const gc = { ...this.#gc };
    const heapAllocatedMb = heapAllocatedSince(this.#heapUsedAtStart, this.#gcProfiler?.stop()) / MB;
    let pacer = ZERO;
    let received = 0;
    let lost = 0;
    let errors = 0;
    for (const s of sessions) {
      const now = mark(s);
      const before = this.#marks.get(s) ?? { pacer: ZERO, received: 0, lost: 0, errors: 0 };
      const d = subtract(now.pacer, before.pacer);
      pacer = {
        ticks: pacer.ticks + d.ticks,
        framesSent: pacer.framesSent + d.framesSent,
        emptyTicks: pacer.emptyTicks + d.emptyTicks,
        lateTicks: pacer.lateTicks + d.lateTicks,
        catchUpTicks: pacer.catchUpTicks + d.catchUpTicks,
        skippedTicks: pacer.skippedTicks + d.skippedTicks,
        stalls: pacer.stalls + d.stalls,
      };
      received += now.received - before.received;
      lost += now.lost - before.lost;
      errors += now.errors - before.errors;
    }
    const duringCalls = memorySnapshot();
    const poolStats = context.pool.stats();
    const p = this.probe;
    return {
      calls: sessions.length,
      windowMs: load.windowMs,
      load: {
        cpuPctOfCore: load.cpuPctOfCore,
        loopDelayP99Ms: load.loopDelayP99Ms,
        loopDelayMaxMs: load.loopDelayMaxMs,
        runQueueWaitPct: load.runQueueWaitPct,
        involuntaryContextSwitches: load.involuntaryContextSwitches,
      },
      inboundFrameUs: p.inboundFrameUs.summary(),
      outboundTickUs: p.outboundTickUs.summary(),
      outboundAgentPer20msUs: p.outboundAgentPer20msUs.summary(),
      outboundAgentMsgUs: p.outboundAgentMsgUs.summary(),
      timerLateMs: p.timerLateMs.summary(),
      gc,
      heapAllocatedMb,
      pacer,
      inbound: { received, lost },
      memory: { base: context.base, poolWarm: context.poolWarm, duringCalls, maxRssMb: process.resourceUsage().maxRSS / 1024 },
      pool: {
        created: poolStats.created,
        reused: poolStats.reused,
        reconfigured: poolStats.reconfigured,
        idle: poolStats.idle,
        inUse: poolStats.inUse,
      },
      poolWarmMs: context.poolWarmMs,
      unexpectedAgentCloses: context.unexpectedAgentCloses,
      sessionErrors: errors,
    };
  }
}

/**
 * Bytes allocated on the V8 heap over a window: what the heap grew by between collections (used
 * before each GC less used after the previous one), plus its growth since the last. ArrayBuffer
 * contents live outside this heap and are not counted; their handles are.
 */
function heapAllocatedSince(usedAtStart: number, profile: ReturnType<v8.GCProfiler['stop']> | undefined): number {
  let previous = usedAtStart;
  let allocated = 0;
  for (const gc of profile?.statistics ?? []) {
    allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - previous);
    previous = gc.afterGC.heapStatistics.usedHeapSize;
  }
  return allocated + Math.max(0, v8.getHeapStatistics().used_heap_size - previous);
}
