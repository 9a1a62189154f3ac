/**
 * Sample recorders and summaries for the benchmark. Recorders write into a preallocated
 * Float64Array so that measuring does not allocate on the hot path it measures.
 */

/** Quantiles of one recorded quantity, in the unit it was recorded in. */
export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export const EMPTY_SUMMARY: Summary = { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };

/** Default room: 100 calls × 50 frames/s × 120 s. */
const DEFAULT_CAPACITY = 600_000;

/** Fixed-capacity sample store; samples past the capacity are counted but not kept. */
export class Recorder {
  readonly #values: Float64Array;
  #count = 0;
  #dropped = 0;
  #isOn = true;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#values = new Float64Array(capacity);
  }

  record(value: number): void {
    if (!this.#isOn) return;
    if (this.#count < this.#values.length) this.#values[this.#count++] = value;
    else this.#dropped++;
  }

  /** Forget everything recorded so far and keep recording (start of a measurement window). */
  reset(): void {
    this.#count = 0;
    this.#dropped = 0;
    this.#isOn = true;
  }

  /** Stop recording (end of a measurement window); `summary()` still works. */
  stop(): void {
    this.#isOn = false;
  }

  get dropped(): number {
    return this.#dropped;
  }

  summary(): Summary {
    return summarize(this.#values.subarray(0, this.#count));
  }
}

/** Quantiles by nearest rank on a sorted copy. */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return EMPTY_SUMMARY;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  return {
    count: n,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[n - 1] as number,
    mean: sum / n,
  };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Machine-wide CPU time from /proc/stat (jiffies), for "how busy was the box". */
export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

export async function readCpuTimes(): Promise<CpuTimes | undefined> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile('/proc/stat', 'utf8').catch(() => undefined);
  const line = text?.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  const total = f.slice(0, 8).reduce((s, x) => s + x, 0); // user … steal; guest is inside user
  return { busy: total - idle, total };
}

/** Share of all cores busy between two readings, as % of ONE core (2 cores fully busy = 200). */
export function machineBusyPctOfCore(a: CpuTimes | undefined, b: CpuTimes | undefined, cores: number): number {
  if (a === undefined || b === undefined || b.total === a.total) return Number.NaN;
  return ((b.busy - a.busy) / (b.total - a.total)) * 100 * cores;
}

/** /proc/pressure/cpu "some" total: µs during which at least one runnable task waited for a CPU. */
export async function readCpuPressureUs(): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile('/proc/pressure/cpu', 'utf8').catch(() => undefined);
  const total = /^some .*total=(\d+)/m.exec(text ?? '')?.[1];
  return total === undefined ? undefined : Number(total);
}

/** Machine load over a window: CPU busy and CPU pressure (PSI). */
export class MachineLoad {
  #cpu: CpuTimes | undefined;
  #psiUs: number | undefined;
  #t0 = 0;

  async start(): Promise<void> {
    this.#cpu = await readCpuTimes();
    this.#psiUs = await readCpuPressureUs();
    this.#t0 = performance.now();
  }

  async stop(cores: number): Promise<{ busyPctOfCore: number; cpuPressurePct: number }> {
    const cpu = await readCpuTimes();
    const psiUs = await readCpuPressureUs();
    const windowUs = (performance.now() - this.#t0) * 1000;
    return {
      busyPctOfCore: machineBusyPctOfCore(this.#cpu, cpu, cores),
      cpuPressurePct: psiUs === undefined || this.#psiUs === undefined ? Number.NaN : ((psiUs - this.#psiUs) / windowUs) * 100,
    };
  }
}
