/**
 * The gateway child's media-worker mode (MEDIA_WORKERS > 0): the same N calls, their links opened
 * through MediaWorkerPool as src/app.ts does, so each worker thread runs its calls' agent sockets,
 * RTP, resamplers and media clock. CPU and memory are the whole process (every thread); slot timing
 * comes from the workers' own counters (late and skipped slots, frames sent). Per-frame timings
 * are taken only in the in-process mode (the probe cannot reach into the workers).
 */
import type { Logger } from 'pino';
import type { ConversationLink } from '../src/media/conversation-link';
import type { MediaConfig } from '../src/media/media-session';
import { MediaWorkerPool } from '../src/media/worker/worker-pool';
import type { BridgeMetrics } from '../src/model/call-view';
import { LoadMeter, sendToParent } from './lib/child';
import { memorySnapshot } from './lib/gateway-measure';
import { simAgentId, type GatewayResult, type GatewaySpec, type MemorySnapshot } from './lib/protocol';
import { EMPTY_SUMMARY } from './lib/stats';

interface Mark {
  packetsOut: number;
  packetsIn: number;
  late: number;
  dropped: number;
  errors: number;
}

function markOf(links: readonly ConversationLink[]): Mark {
  const m: Mark = { packetsOut: 0, packetsIn: 0, late: 0, dropped: 0, errors: 0 };
  for (const link of links) {
    const metrics: BridgeMetrics = link.metrics();
    const issues = link.playoutIssues();
    m.packetsOut += metrics.ai_to_caller.packets;
    m.packetsIn += metrics.caller_to_ai.packets;
    m.errors += metrics.errors;
    m.late += issues.lateFrames;
    m.dropped += issues.droppedFrames;
  }
  return m;
}

/** The links, a way to measure a window over them, and close. */
export async function openWorkerLinks(spec: GatewaySpec & { mediaWorkers: number }, media: MediaConfig, log: Logger) {
  const pool = new MediaWorkerPool({
    workers: spec.mediaWorkers,
    setup: {
      agent: { apiUrl: spec.simUrl, apiKey: undefined, defaultAgentId: simAgentId(spec.agentFormat), connectTimeoutMs: 15_000 },
      media,
      logLevel: 'warn',
      resamplerMaxIdle: Math.ceil((2 * spec.calls) / spec.mediaWorkers),
      // As the in-process run warms its pool (warmPool): engines made before the calls, not during.
      resamplerWarmCalls: spec.agentFormat === 'ulaw_8000' ? 0 : Math.ceil(spec.calls / spec.mediaWorkers),
      statsIntervalMs: 250,
    },
    log,
  });
  await pool.warmed();
  const links: ConversationLink[] = [];
  // Ten at a time: each open creates two resamplers in a worker (10-40 ms of blocked loop each).
  for (let i = 0; i < spec.calls; i += 10) {
    const batch = Math.min(10, spec.calls - i);
    links.push(...(await Promise.all(Array.from({ length: batch }, (_, k) => pool.open(`bench-${i + k}`, {}, new AbortController().signal)))));
  }
  const meter = new LoadMeter();
  let start: Mark | undefined;
  return {
    links,
    start(): void {
      start = markOf(links);
      meter.start();
    },
    stop(context: { base: MemorySnapshot; poolWarm: MemorySnapshot; unexpectedAgentCloses: number }): GatewayResult {
      const load = meter.stop();
      // The workers report every 250 ms: the window's counts are those of its last report.
      const end = markOf(links);
      const before = start ?? end;
      const ticks = Math.round((links.length * load.windowMs) / 20);
      const framesSent = end.packetsOut - before.packetsOut;
      const duringCalls = memorySnapshot();
      return {
        calls: links.length,
        windowMs: load.windowMs,
        load: {
          cpuPctOfCore: load.cpuPctOfCore,
          loopDelayP99Ms: load.loopDelayP99Ms,
          loopDelayMaxMs: load.loopDelayMaxMs,
          runQueueWaitPct: load.runQueueWaitPct,
          involuntaryContextSwitches: load.involuntaryContextSwitches,
        },
        inboundFrameUs: EMPTY_SUMMARY,
        outboundTickUs: EMPTY_SUMMARY,
        outboundAgentPer20msUs: EMPTY_SUMMARY,
        outboundAgentMsgUs: EMPTY_SUMMARY,
        timerLateMs: EMPTY_SUMMARY,
        gc: { count: 0, totalMs: 0, maxMs: 0, majorCount: 0 },
        heapAllocatedMb: undefined,
        pacer: {
          ticks,
          framesSent,
          emptyTicks: Math.max(0, ticks - framesSent),
          lateTicks: end.late - before.late,
          // Not in a worker's link counters: NaN (null over IPC) prints as "–".
          catchUpTicks: Number.NaN,
          skippedTicks: end.dropped - before.dropped,
          stalls: Number.NaN,
        },
        inbound: { received: end.packetsIn - before.packetsIn, lost: 0 },
        memory: { base: context.base, poolWarm: context.poolWarm, duringCalls, maxRssMb: process.resourceUsage().maxRSS / 1024 },
        pool: { created: 0, reused: 0, reconfigured: 0, idle: 0, inUse: 0 },
        poolWarmMs: 0,
        unexpectedAgentCloses: context.unexpectedAgentCloses,
        sessionErrors: end.errors - before.errors,
      };
    },
    async close(): Promise<void> {
      await Promise.all(links.map((l) => l.close()));
      await pool.stop();
    },
    announce(): void {
      sendToParent({ type: 'ready', ports: links.map((l) => Number(l.localRtpAddress.split(':').pop())), pid: process.pid });
    },
  };
}
