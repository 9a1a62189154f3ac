/**
 * `npm run bench -- --capacity 20-400`: the largest number of simultaneous calls a mode carries
 * cleanly on this machine, found by running scenarios: the count doubles from the start while the
 * calls stay clean, then the first unclean count and the last clean one are bisected.
 *
 * Clean (docs/performance.md#capacity): fewer than 0.1 % of playout ticks late (> 10 ms) and fewer
 * than 0.1 % of slots skipped, and no gap at the receiver: no packet lost and no slot without a
 * packet while the agent talks (the simulator's agents talk without pause).
 */
import type { ScenarioResult } from './scenario';

/** Share of ticks (late, skipped) a clean run stays under, %. */
export const MAX_TICK_PCT = 0.1;

/** Why a run is not clean; empty when it is. */
export function uncleanBecause(r: ScenarioResult): string[] {
  const t = r.gateway.pacer;
  const why: string[] = [];
  const latePct = t.ticks > 0 ? (100 * t.lateTicks) / t.ticks : 0;
  const skippedPct = t.ticks + t.skippedTicks > 0 ? (100 * t.skippedTicks) / (t.ticks + t.skippedTicks) : 0;
  if (latePct >= MAX_TICK_PCT) why.push(`${latePct.toFixed(2)} % of ticks late`);
  if (skippedPct >= MAX_TICK_PCT) why.push(`${skippedPct.toFixed(2)} % of slots skipped`);
  if ((r.peer?.lost ?? 0) > 0) why.push(`${r.peer?.lost} packets lost`);
  if ((r.peer?.slotGaps ?? 0) > 0) why.push(`${r.peer?.slotGaps} slots without audio at the receiver`);
  return why;
}

export interface CapacityProbe {
  readonly calls: number;
  readonly isClean: boolean;
}

export interface CapacitySearch {
  /** The largest clean count tried; undefined when even the start was not clean. */
  readonly largestClean: number | undefined;
  /** The smallest unclean count tried; undefined when the maximum was clean. */
  readonly firstUnclean: number | undefined;
  /** Every count tried, in order. */
  readonly probes: readonly CapacityProbe[];
}

/**
 * Doubles from `start` while `isClean(calls)` holds (up to `max`), then bisects until the bracket
 * is within 10 % of the clean count (and at least `minStep` calls). `isClean` runs a scenario.
 */
export async function searchCapacity(o: { start: number; max: number; minStep?: number }, isClean: (calls: number) => Promise<boolean>): Promise<CapacitySearch> {
  const probes: CapacityProbe[] = [];
  const probe = async (calls: number): Promise<boolean> => {
    const clean = await isClean(calls);
    probes.push({ calls, isClean: clean });
    return clean;
  };
  let lo: number | undefined;
  let hi: number | undefined;
  for (let calls = o.start; ; calls = Math.min(o.max, calls * 2)) {
    if (await probe(calls)) lo = calls;
    else {
      hi = calls;
      break;
    }
    if (calls >= o.max) break;
  }
  const minStep = Math.max(1, o.minStep ?? 5);
  while (lo !== undefined && hi !== undefined && hi - lo > Math.max(minStep, Math.round(lo * 0.1))) {
    const mid = Math.round((lo + hi) / 2);
    if (await probe(mid)) lo = mid;
    else hi = mid;
  }
  return { largestClean: lo, firstUnclean: hi, probes };
}

/** One mode's search, with the run at its largest clean count and why the first unclean one was not. */
export interface CapacityRow {
  readonly search: CapacitySearch;
  /** The run at `search.largestClean`. */
  readonly atLargestClean: ScenarioResult | undefined;
  /** The run at `search.firstUnclean` (undefined if it failed to run). */
  readonly atFirstUnclean: ScenarioResult | undefined;
  readonly uncleanBecause: readonly string[];
  /** The scenario's name without its count. */
  readonly name: string;
}
