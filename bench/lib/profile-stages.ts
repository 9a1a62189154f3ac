/**
 * Where a gateway's threads spend their time, by stage of the media path, from V8 CPU profiles
 * (`--cpu-prof`; a process started with it profiles its media workers too, one file per thread).
 * `npm run bench -- --profile DIR` profiles each scenario's gateway and prints this for its
 * measured window; docs/performance.md#where-a-workers-time-goes shows a run.
 *
 * Each sample is charged to the nearest frame on its stack that names a stage (native frames and
 * Node's internals are charged to whoever called them), so a socket write made by `ws` is the
 * WebSocket's and a JSON.parse made by the agent client is the protocol's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The stages, in the order the report prints them. */
export const STAGES = [
  'resampler (libsamplerate-js)',
  'agent protocol: JSON, base64 (src/agent)',
  'WebSocket (ws, TCP writes)',
  'UDP (dgram)',
  'media path: codec, framer, clock, RTP (src/media, src/rtp, src/audio)',
  'thread messages',
  'garbage collection',
  'V8 and native, not attributed',
  'start-up and everything else',
] as const;
export type Stage = (typeof STAGES)[number];

/** The stage a frame names, or undefined to look at its caller. */
function stageOfFrame(frame: ProfileNode['callFrame']): Stage | undefined {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'V8 and native, not attributed';
  if (functionName === 'postMessage' || url.startsWith('node:internal/worker')) return 'thread messages';
  if (url.includes('libsamplerate-js') || url.endsWith('/src/audio/resampler.ts') || url.endsWith('/audio/resampler.js')) return 'resampler (libsamplerate-js)';
  if (url === 'node:dgram' || url.startsWith('node:internal/dgram')) return 'UDP (dgram)';
  if (url.includes('/node_modules/ws/')) return 'WebSocket (ws, TCP writes)';
  if (/\/(src|dist)\/agent\//.test(url)) return 'agent protocol: JSON, base64 (src/agent)';
  if (/\/(src|dist)\/(media|rtp|audio)\//.test(url)) return 'media path: codec, framer, clock, RTP (src/media, src/rtp, src/audio)';
  if (url === '' || url.startsWith('node:')) return undefined;
  return 'start-up and everything else';
}

/** One thread's profile: its busy time by stage, and how long it covers. */
export interface ThreadStages {
  /** pid.thread.sequence from the profile's file name. */
  readonly thread: string;
  readonly wallMs: number;
  readonly idleMs: number;
  readonly byStageMs: Partial<Record<Stage, number>>;
}

/**
 * Reads one profile. With `windowUs` (process.hrtime in µs: the same monotonic clock as the
 * profile's timestamps on Linux) only the samples inside it count.
 */
export function analyseProfile(file: string, windowUs?: { startUs: number; endUs: number }): ThreadStages {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const parent = new Map<number, ProfileNode>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node);
  }
  const stageOf = new Map<number, Stage | 'idle'>();
  const resolve = (node: ProfileNode): Stage | 'idle' => {
    const known = stageOf.get(node.id);
    if (known !== undefined) return known;
    let stage: Stage | 'idle';
    if (node.callFrame.functionName === '(idle)') stage = 'idle';
    else {
      const own = stageOfFrame(node.callFrame);
      const up = parent.get(node.id);
      stage = own ?? (up === undefined || up.callFrame.functionName === '(root)' ? 'start-up and everything else' : resolve(up));
    }
    stageOf.set(node.id, stage);
    return stage;
  };
  const byStageMs: Partial<Record<Stage, number>> = {};
  let idleUs = 0;
  let wallUs = 0;
  let atUs = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the sample stands for the time until the next.
    atUs += profile.timeDeltas[i] ?? 0;
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (windowUs !== undefined && (atUs < windowUs.startUs || atUs >= windowUs.endUs)) continue;
    wallUs += us;
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const stage = resolve(node);
    if (stage === 'idle') idleUs += us;
    else byStageMs[stage] = (byStageMs[stage] ?? 0) + us / 1000;
  }
  const thread = path.basename(file).replace(/^CPU\.\d+\.\d+\./, '').replace(/\.cpuprofile$/, '');
  return { thread, wallMs: wallUs / 1000, idleMs: idleUs / 1000, byStageMs };
}

/** Every profile in `dir` (one per thread of the process that wrote them). */
export function analyseProfileDir(dir: string, windowUs?: { startUs: number; endUs: number }): ThreadStages[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .map((f) => analyseProfile(path.join(dir, f), windowUs));
}

export function busyMs(t: ThreadStages): number {
  return Object.values(t.byStageMs).reduce((a, b) => a + b, 0);
}

/** A markdown table: each thread's busy time by stage, % of that thread's busy time. */
export function formatStages(threads: readonly ThreadStages[]): string {
  const header = ['stage', ...threads.map((t) => `thread ${t.thread}`)];
  const rows = STAGES.map((stage) => [stage, ...threads.map((t) => `${((100 * (t.byStageMs[stage] ?? 0)) / Math.max(1e-9, busyMs(t))).toFixed(1)} %`)]);
  rows.push(['busy, % of the time profiled', ...threads.map((t) => `${((100 * busyMs(t)) / Math.max(1e-9, t.wallMs)).toFixed(1)} % of ${(t.wallMs / 1000).toFixed(1)} s`)]);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
