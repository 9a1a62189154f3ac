/**
 * `npm run bench`: the gateway's media path under N concurrent calls, with a printed report.
 *
 *   npm run bench                                   # defaults below, ~4–5 min on 2 cores
 *   npm run bench -- --calls 1,10 --duration-s 5    # quick look
 *   npm run bench -- --asterisk --json bench.json   # plus calls through the real Asterisk pair
 *
 * Synthetic runs: per scenario three fresh child processes — the measured gateway (N real
 * RtpMediaSessions + AgentClients), an RTP peer playing Asterisk (20 ms tone out, timing of what
 * comes back) and the ElevenLabs simulator (bursty agent speech) — so only the gateway's own work
 * is in its CPU and memory figures. See bench/lib/protocol.ts for the layout, README "Benchmarks"
 * for results and what is (not) measured.
 */
import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AGENT_AUDIO_FORMATS, type AgentAudioFormat, type ExternalMediaFormat } from '../src/audio/frame';
import type { ConverterName } from '../src/config';
import type { AsteriskOptions } from './lib/asterisk-scenario';
import { installExitGuards } from './lib/cleanup';
import { formatStages } from './lib/profile-stages';
import { MAX_TICK_PCT, searchCapacity, uncleanBecause, type CapacityRow } from './lib/capacity';
import { capacityTable, carrierTable, resourceTable, scenarioName, timingTable } from './lib/report';
import { runSynthetic, type RunOptions, type ScenarioResult, type ScenarioSpec } from './lib/scenario';

const CONVERTERS: readonly ConverterName[] = ['sinc_fastest', 'sinc_medium', 'sinc_best', 'linear', 'zero_order_hold'];
const FORMATS: readonly ExternalMediaFormat[] = ['slin', 'ulaw', 'alaw'];

const HELP = `npm run bench -- [options]
  --calls 1,10,50,100        concurrency sweep (each format, first converter)
  --formats slin,ulaw        ExternalMedia formats; ulaw runs with a ulaw_8000 agent (passthrough)
  --converters sinc_fastest,sinc_medium,sinc_best,linear,zero_order_hold
                             first one is used for the sweep; all are compared at --converter-calls
  --converter-calls 50       concurrency (or list) of the converter comparison (slin); 0 skips it
  --agent-format pcm_16000   agent audio format for slin/alaw runs
  --duration-s 10            measured window per scenario
  --warmup-s 3               settling time before each window
  --rtp-ports 43000-43999    UDP range of the gateway's RTP sockets
  --media-workers 0,2        MEDIA_WORKERS of the measured gateway: 0 = media on its main thread
                             (per-frame probes), N = N worker threads; each scenario runs in each
  --asterisk                 also run calls through the real Asterisk pair (carrier stand-in + PBX)
  --asterisk-calls 1,5       concurrency of the Asterisk runs (each format, first converter)
  --capacity 20-400          instead of --calls: find each format's and mode's largest clean call count
                             between the two (docs/performance.md#capacity)
  --chunk-ms 20,100          AUDIO_CHUNK_SIZE_MS of the synthetic runs' gateway (caller audio per agent message)
  --profile DIR              CPU-profile each synthetic scenario's gateway (its media workers too)
                             into DIR/<scenario>/ and print each thread's measured window by stage
  --json FILE                write every figure as JSON
  --help`;

function list(value: string, what: string): string[] {
  const items = value.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (items.length === 0) throw new Error(`--${what} needs at least one value`);
  return items;
}

function ints(value: string, what: string): number[] {
  return list(value, what).map((x) => {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 0 || v > 1000) throw new Error(`--${what}: ${x} is not a call count in 0..1000`);
    return v;
  });
}

function oneOf<T extends string>(values: string[], allowed: readonly T[], what: string): T[] {
  for (const v of values) if (!(allowed as readonly string[]).includes(v)) throw new Error(`--${what}: ${v} is not one of ${allowed.join(', ')}`);
  return values as T[];
}

function parseOptions(): {
  calls: number[];
  mediaWorkers: number[];
  formats: ExternalMediaFormat[];
  converters: ConverterName[];
  converterCalls: number[];
  agentFormat: AgentAudioFormat;
  run: RunOptions;
  asterisk: AsteriskOptions | undefined;
  json: string | undefined;
  chunkMs: number[];
  capacity: { start: number; max: number } | undefined;
} {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '1,10,50,100' },
      formats: { type: 'string', default: 'slin,ulaw' },
      converters: { type: 'string', default: CONVERTERS.join(',') },
      'converter-calls': { type: 'string', default: '50' },
      'agent-format': { type: 'string', default: 'pcm_16000' },
      'duration-s': { type: 'string', default: '10' },
      'warmup-s': { type: 'string', default: '3' },
      'rtp-ports': { type: 'string', default: '43000-43999' },
      'media-workers': { type: 'string', default: '0,2' },
      asterisk: { type: 'boolean', default: false },
      'asterisk-calls': { type: 'string', default: '1,5' },
      json: { type: 'string' },
      profile: { type: 'string' },
      'chunk-ms': { type: 'string', default: '20' },
      capacity: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const durationS = Number(values['duration-s']);
  const warmupS = Number(values['warmup-s']);
  if (!(durationS >= 1 && durationS <= 600)) throw new Error('--duration-s must be 1..600');
  if (!(warmupS >= 0 && warmupS <= 120)) throw new Error('--warmup-s must be 0..120');
  const [rtpPortMin = 0, rtpPortMax = 0] = (values['rtp-ports'] ?? '').split('-').map(Number);
  if (!(rtpPortMin >= 1024 && rtpPortMax <= 65535 && rtpPortMin < rtpPortMax)) throw new Error('--rtp-ports must look like 43000-43999');
  const [agentFormat] = oneOf(list(values['agent-format'] ?? '', 'agent-format'), AGENT_AUDIO_FORMATS, 'agent-format');
  const converterCalls = ints(values['converter-calls'] ?? '0', 'converter-calls').filter((c) => c > 0);
  const run: RunOptions = { durationS, warmupS, rtpPortMin, rtpPortMax, utteranceMs: 2000, speedFactor: 4, profileDir: values.profile };
  return {
    calls: ints(values.calls ?? '', 'calls').filter((c) => c > 0),
    mediaWorkers: ints(values['media-workers'] ?? '0', 'media-workers'),
    formats: oneOf(list(values.formats ?? '', 'formats'), FORMATS, 'formats'),
    converters: oneOf(list(values.converters ?? '', 'converters'), CONVERTERS, 'converters'),
    converterCalls,
    agentFormat: agentFormat ?? 'pcm_16000',
    run,
    asterisk: values.asterisk ? { calls: ints(values['asterisk-calls'] ?? '', 'asterisk-calls').filter((c) => c > 0), run } : undefined,
    json: values.json,
    capacity: values.capacity === undefined ? undefined : capacityRange(values.capacity),
    chunkMs: ints(values['chunk-ms'] ?? '20', 'chunk-ms').map((ms) => {
      if (![20, 40, 60, 80, 100].includes(ms)) throw new Error(`--chunk-ms: ${ms} is not one of 20, 40, 60, 80, 100 (AUDIO_CHUNK_SIZE_MS)`);
      return ms;
    }),
  };
}

function capacityRange(text: string): { start: number; max: number } {
  const [start = Number.NaN, max = Number.NaN] = text.split('-').map(Number);
  if (!(Number.isInteger(start) && Number.isInteger(max) && start >= 1 && start <= max && max <= 1000)) throw new Error('--capacity must look like 20-400 (start-maximum calls)');
  return { start, max };
}

/** Numbers from JSON over IPC: NaN arrives as null. */
function fixed(x: number | null | undefined, digits: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function agentFormatFor(format: ExternalMediaFormat, agentFormat: AgentAudioFormat): AgentAudioFormat {
  return format === 'ulaw' ? 'ulaw_8000' : agentFormat;
}

function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    loadAvgAtStart: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

async function main(): Promise<void> {
  const o = parseOptions();
  const [sweepConverter = 'sinc_fastest'] = o.converters;
  const specs: ScenarioSpec[] = [];
  // A capacity search replaces the --calls sweep.
  for (const calls of o.capacity === undefined ? o.calls : []) {
    for (const format of o.formats) {
      for (const mediaWorkers of o.mediaWorkers) {
        for (const chunkMs of o.chunkMs) {
          specs.push({ calls, mediaWorkers, format, converter: sweepConverter, agentFormat: agentFormatFor(format, o.agentFormat), ...(chunkMs === 20 ? {} : { chunkMs }) });
        }
      }
    }
  }
  // Converters are compared in one mode: the last of --media-workers (the product's default last).
  const converterMode = o.mediaWorkers[o.mediaWorkers.length - 1] ?? 0;
  for (const calls of o.converterCalls) {
    for (const converter of o.converters) {
      const isInSweep = converter === sweepConverter && o.calls.includes(calls) && o.formats.includes('slin');
      if (!isInSweep) specs.push({ calls, mediaWorkers: converterMode, format: 'slin', converter, agentFormat: o.agentFormat });
    }
  }
  const asteriskRuns = o.asterisk === undefined ? 0 : o.asterisk.calls.length * o.formats.length;
  // Doubling steps plus at most about six bisections, per format and mode.
  const capacityRuns = o.capacity === undefined ? 0 : o.formats.length * o.mediaWorkers.length * (Math.ceil(Math.log2(o.capacity.max / o.capacity.start)) + 8);
  // Generous: setup on a loaded box can take a minute per scenario; a hang still ends the run.
  const deadlineMs = (specs.length + asteriskRuns + capacityRuns) * (o.run.warmupS + o.run.durationS + 120) * 1000 + (asteriskRuns > 0 ? 120_000 : 0);
  const removeGuards = installExitGuards(deadlineMs);
  const m = machine();
  process.stderr.write(`bench: ${specs.length} scenarios × (${o.run.warmupS} s settle + ${o.run.durationS} s measured) on ${m.cores}× ${m.cpuModel}, load ${m.loadAvgAtStart}\n`);
  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  for (const spec of specs) {
    const label = `${spec.calls} × ${spec.format}/${spec.agentFormat}/${spec.converter}, ${spec.mediaWorkers === 0 ? 'in-process' : `${spec.mediaWorkers} media workers`}`;
    process.stderr.write(`bench: ${label} …\n`);
    try {
      const r = await runSynthetic(spec, o.run);
      results.push(r);
      process.stderr.write(`bench:   gateway CPU ${fixed(r.gateway.load.cpuPctOfCore, 1)} % of a core, loop delay max ${fixed(r.gateway.load.loopDelayMaxMs, 1)} ms\n`);
    } catch (err) {
      failures.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
      process.stderr.write(`bench:   FAILED: ${String(err)}\n`);
    }
  }
  const capacities: CapacityRow[] = [];
  for (const format of o.capacity === undefined ? [] : o.formats) {
    for (const mediaWorkers of o.mediaWorkers) {
      const base = { mediaWorkers, format, converter: sweepConverter, agentFormat: agentFormatFor(format, o.agentFormat) };
      const runs = new Map<number, { result?: ScenarioResult; why: string[] }>();
      const search = await searchCapacity(o.capacity!, async (calls) => {
        const label = `capacity: ${calls} × ${format}/${base.agentFormat}, ${mediaWorkers === 0 ? 'in-process' : `${mediaWorkers} media workers`}`;
        process.stderr.write(`bench: ${label} …\n`);
        try {
          const result = await runSynthetic({ ...base, calls }, o.run);
          results.push(result);
          const why = uncleanBecause(result);
          runs.set(calls, { result, why });
          process.stderr.write(`bench:   ${why.length === 0 ? 'clean' : `not clean: ${why.join('; ')}`}\n`);
          return why.length === 0;
        } catch (err) {
          runs.set(calls, { why: [`the run failed: ${err instanceof Error ? err.message : String(err)}`] });
          process.stderr.write(`bench:   FAILED: ${String(err)}\n`);
          return false;
        }
      });
      const at = (calls: number | undefined): { result?: ScenarioResult; why: string[] } | undefined => (calls === undefined ? undefined : runs.get(calls));
      const first = at(search.firstUnclean);
      const name = first?.result ?? at(search.largestClean)?.result;
      capacities.push({
        search,
        atLargestClean: at(search.largestClean)?.result,
        atFirstUnclean: first?.result,
        uncleanBecause: first?.why ?? [],
        name: name === undefined ? `${format}, ${mediaWorkers === 0 ? 'in-process' : `${mediaWorkers} workers`}` : scenarioName(name),
      });
    }
  }
  if (o.asterisk !== undefined) {
    const asteriskSpecs: ScenarioSpec[] = [];
    for (const calls of o.asterisk.calls) {
      for (const format of o.formats) {
        for (const mediaWorkers of o.mediaWorkers) asteriskSpecs.push({ calls, mediaWorkers, format, converter: sweepConverter, agentFormat: agentFormatFor(format, o.agentFormat) });
      }
    }
    // Loaded only when asked for: it pulls in the Asterisk test bed and the test helpers.
    const { runAsteriskScenarios } = await import('./lib/asterisk-scenario');
    const { results: ar, failures: af } = await runAsteriskScenarios(asteriskSpecs, o.asterisk);
    results.push(...ar);
    failures.push(...af);
  }

  const out = process.stdout;
  out.write(`\nvoice-gateway benchmark — ${new Date().toISOString()}\n`);
  out.write(`machine: ${m.cores}× ${m.cpuModel}, ${m.memoryGb} GB, node ${m.node} ${m.platform}; load average at start ${m.loadAvgAtStart}\n`);
  out.write(`per scenario: ${o.run.warmupS} s settle, ${o.run.durationS} s measured; agent speaks ${o.run.utteranceMs} ms utterances at ${o.run.speedFactor}× real time\n\n`);
  out.write(
    'Per-frame processing (µs of the gateway process per 20 ms of audio) and outbound timing\n' +
      '(interval = spacing of consecutive gateway→peer packets at the receiver; |Δ20| = |interval − 20 ms|)\n' +
      `${timingTable(results)}\n\n`,
  );
  out.write(
    'CPU and memory of the gateway process (per call = (during calls − before calls) / calls, after GC; engines = the\n' +
      'warm ResamplerPool\'s share; ticks: empty = nothing queued, late = >10 ms late, skipped = slots lost to a stall)\n' +
      `${resourceTable(results)}\n`,
  );
  if (capacities.length > 0) {
    out.write(
      `\nCapacity: the largest clean count found between ${o.capacity!.start} and ${o.capacity!.max} calls (clean: < ${MAX_TICK_PCT} % of ticks late, < ${MAX_TICK_PCT} % of slots\n` +
        `skipped, no packet lost, no slot without audio at the receiver; ✗ = not clean)\n${capacityTable(capacities)}\n`,
    );
  }
  for (const r of results) {
    if (r.stages !== undefined) out.write(`\nWhere the gateway's threads spent the window, ${scenarioName(r)} (share of each thread's busy time)\n${formatStages(r.stages)}\n`);
  }
  if (results.some((r) => r.kind === 'asterisk')) out.write(`\nThrough real Asterisk, at the carrier\n${carrierTable(results)}\n`);
  if (failures.length > 0) out.write(`\nFAILED scenarios:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
  if (o.json !== undefined) {
    await writeFile(o.json, JSON.stringify({ machine: m, options: o, results: results.map((r) => ({ name: scenarioName(r), ...r })), failures }, null, 2));
    out.write(`\nJSON: ${o.json}\n`);
  }
  if (failures.length > 0) process.exitCode = 1;
  removeGuards();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
