/**
 * The printed report: one timing table and one resource table per run, plain text with aligned
 * columns (also valid Markdown tables, so they paste into the README).
 */
import type { CapacityRow } from './capacity';
import type { ScenarioResult } from './scenario';
import type { Summary } from './stats';

/** Numbers from JSON over IPC: NaN arrives as null. */
function n(x: number | null, digits = 0): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function pair(s: Summary, digits = 0): string {
  return s.count === 0 ? '–' : `${n(s.p50, digits)} / ${n(s.p99, digits)}`;
}

/** Below this many calls the RSS per call is lost in the process's own RSS movements. */
const MIN_CALLS_FOR_RSS = 10;

function pct(part: number, whole: number, digits = 2): string {
  return whole > 0 ? `${n((part / whole) * 100, digits)}` : '–';
}

export function scenarioName(r: ScenarioResult): string {
  const s = r.spec;
  const path = s.format === 'ulaw' && s.agentFormat === 'ulaw_8000' ? 'ulaw passthrough' : `${s.format}↔${s.agentFormat} ${s.converter}`;
  const mode = `${s.mediaWorkers === 0 ? 'in-process' : `${s.mediaWorkers} workers`}${s.chunkMs === undefined ? '' : `, ${s.chunkMs} ms chunks`}`;
  return r.kind === 'asterisk' ? `Asterisk: ${path}, ${mode}` : `${path}, ${mode}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Per-frame processing and outbound timing. */
export function timingTable(results: readonly ScenarioResult[]): string {
  const header = [
    'scenario',
    'calls',
    'caller→agent µs/frame p50/p99',
    'agent→caller µs/20 ms p50/p99',
    'playout tick µs p50/p99',
    'interval ms p50/p99',
    'max |Δ20| ms',
    '|Δ|>5 ms %',
    'timer late ms p99/max',
    'RTP lost out',
    'RTP lost in',
  ];
  const rows = results.map((r) => {
    const g = r.gateway;
    const p = r.peer;
    const w = r.asterisk?.worker;
    const interval = p?.intervalMs;
    const dev = p?.deviationMs;
    return [
      scenarioName(r),
      String(r.spec.calls),
      pair(g.inboundFrameUs),
      pair(g.outboundAgentPer20msUs),
      pair(g.outboundTickUs),
      interval ? pair(interval, 2) : w ? `(from Asterisk) ${pair(w.inboundIntervalMs, 2)}` : '–',
      dev ? n(dev.max, 1) : w ? `(from Asterisk) ${n(w.inboundDeviationMs.max, 1)}` : '–',
      p ? n(p.deviationFrac5ms * 100, 2) : '–',
      g.timerLateMs.count === 0 ? '–' : `${n(g.timerLateMs.p99, 1)} / ${n(g.timerLateMs.max, 1)}`,
      p ? `${p.lost}/${p.packets + p.lost}` : '–',
      `${g.inbound.lost}/${g.inbound.received + g.inbound.lost}`,
    ];
  });
  return table(header, rows);
}

/** CPU and memory. */
export function resourceTable(results: readonly ScenarioResult[]): string {
  const header = [
    'scenario',
    'calls',
    'CPU % of core',
    'CPU %/call',
    'loop delay p99/max ms',
    'waited for CPU %',
    'RSS MB/call',
    'JS heap MB/call',
    'arrayBuffers MB/call',
    'of which engines RSS/AB',
    'empty/late/catch-up/skipped ticks %',
    'GCs / heap KB per call-min',
    'peer+sim CPU %',
    'box busy % of 200 / CPU pressure %',
  ];
  const rows = results.map((r) => {
    const g = r.gateway;
    const m = g.memory;
    const calls = Math.max(1, g.calls);
    const perCall = (a: number, b: number): string => n((a - b) / calls, 2);
    const t = g.pacer;
    const others = (r.peer?.load.cpuPctOfCore ?? 0) + r.sim.load.cpuPctOfCore;
    return [
      scenarioName(r),
      String(r.spec.calls),
      n(g.load.cpuPctOfCore, 1),
      n(g.load.cpuPctOfCore / calls, 2),
      `${n(g.load.loopDelayP99Ms, 1)} / ${n(g.load.loopDelayMaxMs, 1)}`,
      n(g.load.runQueueWaitPct, 1),
      // RSS moves by several MB when the GC returns pages: a per-call figure needs many calls.
      calls >= MIN_CALLS_FOR_RSS ? perCall(m.duringCalls.rssMb, m.base.rssMb) : '–',
      perCall(m.duringCalls.heapUsedMb, m.base.heapUsedMb),
      perCall(m.duringCalls.arrayBuffersMb, m.base.arrayBuffersMb),
      g.pool.created === 0
        ? 'none'
        : `${calls >= MIN_CALLS_FOR_RSS ? perCall(m.poolWarm.rssMb, m.base.rssMb) : '–'} / ${perCall(m.poolWarm.arrayBuffersMb, m.base.arrayBuffersMb)}`,
      // Catch-up ticks: slots played back to back after a stall (a burst, not silence); not reported by workers.
      `${pct(t.emptyTicks, t.ticks)} / ${pct(t.lateTicks, t.ticks)} / ${Number.isFinite(t.catchUpTicks) ? pct(t.catchUpTicks, t.ticks) : '–'} / ${pct(t.skippedTicks, t.ticks + t.skippedTicks)}`,
      allocationPerCallMinute(g),
      n(others, 0),
      `${n(r.machineBusyPctOfCore, 0)} / ${n(r.cpuPressurePct, 0)}`,
    ];
  });
  return table(header, rows);
}

/** Through real Asterisk: what the carrier saw. */
export function carrierTable(results: readonly ScenarioResult[]): string {
  const rows = results
    .filter((r) => r.asterisk?.carrier !== undefined)
    .map((r) => {
      const c = r.asterisk?.carrier;
      const recs = c?.recordings ?? [];
      return [
        scenarioName(r),
        String(r.spec.calls),
        `${r.asterisk?.worker.answered ?? 0}/${r.spec.calls}`,
        c && c.rxJitterMs.length > 0 ? `${n(Math.max(...c.rxJitterMs), 2)}` : '–',
        c && c.rxLossPct.length > 0 ? `${n(Math.max(...c.rxLossPct), 2)}` : '–',
        recs.length > 0 ? n(Math.min(...recs.map((x) => x.audibleMs)) / 1000, 1) : '–',
        String(recs.reduce((s, x) => s + x.silentFrames, 0)),
        String(recs.reduce((s, x) => s + x.discontinuities, 0)),
        firstCallerFrame(r.asterisk?.worker.answerToFirstCallerFrame),
      ];
    });
  return table(
    ['scenario', 'calls', 'answered', 'carrier RX jitter ms (max)', 'carrier RX loss % (max)', 'agent tone at carrier, s (min)', 'silent 20 ms frames', 'clicks', 'answer → first caller frame ms, mean / all ≤'],
    rows,
  );
}

/** GC count and V8 heap allocated per call-minute of the window; '–' where not measured (media workers). */
function allocationPerCallMinute(g: ScenarioResult['gateway']): string {
  if (g.heapAllocatedMb === undefined || g.calls === 0) return '–';
  const callMinutes = (g.calls * g.windowMs) / 60_000;
  return `${n(g.gc.count / callMinutes, 1)} / ${n((g.heapAllocatedMb * 1024) / callMinutes, 0)}`;
}

/** Answer → first caller frame at the agent, from the gateway's histogram. */
function firstCallerFrame(h: { count: number; meanMs: number; allWithinMs: number | undefined } | undefined): string {
  if (h === undefined || !(h.count > 0)) return '–';
  return `${n(h.meanMs, 1)} / ${h.allWithinMs === undefined ? '> 2560' : n(h.allWithinMs, 0)} (${h.count} calls)`;
}

/** The capacity search's answer per mode (bench/lib/capacity.ts), with the figures at the largest clean count. */
export function capacityTable(rows: readonly CapacityRow[]): string {
  const header = ['scenario', 'largest clean', 'first not clean, why', 'counts tried', 'CPU %/call', 'RSS MB/call', 'GCs / heap KB per call-min', 'peer+sim CPU %', 'box busy % of 200'];
  return table(
    header,
    rows.map((row) => {
      const r = row.atLargestClean;
      const g = r?.gateway;
      const calls = Math.max(1, g?.calls ?? 1);
      const rss = g !== undefined && calls >= MIN_CALLS_FOR_RSS ? n((g.memory.duringCalls.rssMb - g.memory.base.rssMb) / calls, 2) : '–';
      const unclean = row.search.firstUnclean === undefined ? 'none up to the maximum' : `${row.search.firstUnclean}: ${row.uncleanBecause.join('; ') || '–'}`;
      return [
        row.name,
        row.search.largestClean === undefined ? 'none' : String(row.search.largestClean),
        unclean,
        row.search.probes.map((p) => `${p.calls}${p.isClean ? '' : '✗'}`).join(' '),
        g === undefined ? '–' : n(g.load.cpuPctOfCore / calls, 2),
        rss,
        g === undefined ? '–' : allocationPerCallMinute(g),
        r === undefined ? '–' : n((r.peer?.load.cpuPctOfCore ?? 0) + r.sim.load.cpuPctOfCore, 0),
        r === undefined ? '–' : n(r.machineBusyPctOfCore, 0),
      ];
    }),
  );
}
