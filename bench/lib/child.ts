/**
 * Child processes of the benchmark: spawn with tsx over IPC, wait for typed messages with a
 * deadline, and stop by pid (SIGTERM, then SIGKILL) so nothing outlives the run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import path from 'node:path';
import { onCleanup } from './cleanup';
import type { ChildMessage, ParentMessage, ProcessLoad } from './protocol';

const TSX_CJS = require.resolve('tsx/cjs');

/** One child process, owned by the orchestrator, which must `stop()` it. */
export class ChildHandle {
  readonly label: string;
  readonly #child: ChildProcess;
  readonly #queue: ChildMessage[] = [];
  #waiter: ((m: ChildMessage | undefined) => void) | undefined;
  #exited: Promise<number | null>;
  #hasExited = false;
  readonly #unregister: () => void;

  private constructor(label: string, child: ChildProcess) {
    this.label = label;
    this.#child = child;
    this.#unregister = onCleanup(() => this.stop(3000));
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#hasExited = true;
        this.#unregister();
        if (code !== 0 && code !== null) process.stderr.write(`bench: ${label} exited with code ${code}\n`);
        if (signal !== null && signal !== 'SIGTERM') process.stderr.write(`bench: ${label} killed by ${signal}\n`);
        this.#waiter?.(undefined);
        resolve(code);
      });
    });
    child.on('message', (m: unknown) => {
      if (!isChildMessage(m)) return;
      if (m.type === 'error') process.stderr.write(`bench: ${label}: ${m.message}\n`);
      const w = this.#waiter;
      if (w !== undefined) {
        this.#waiter = undefined;
        w(m);
      } else this.#queue.push(m);
    });
  }

  /** Fork `bench/<script>` under tsx with `--expose-gc`; the spec travels as JSON in argv[2]. */
  static spawn(script: string, spec: object, label = script, extraExecArgv: string[] = []): ChildHandle {
    const child = fork(path.join(__dirname, '..', script), [JSON.stringify(spec)], {
      execArgv: ['--expose-gc', ...extraExecArgv, '-r', TSX_CJS],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new ChildHandle(label, child);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  send(message: ParentMessage): void {
    if (!this.#hasExited && this.#child.connected) this.#child.send(message);
  }

  /** The next message of `type` (earlier messages of other types are dropped). */
  async next<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.#nextAny(deadline - Date.now());
      if (m === undefined) throw new Error(`${this.label}: no '${type}' within ${timeoutMs} ms (exited: ${this.#hasExited})`);
      if (m.type === 'error') throw new Error(`${this.label}: ${m.message}`);
      if (m.type === type) return m as Extract<ChildMessage, { type: T }>;
    }
  }

  /** Ask it to close; after `graceMs` SIGTERM by pid, then SIGKILL. Resolves when it has exited. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.#hasExited) return;
    this.send({ type: 'close' });
    if (await this.#exitedWithin(graceMs)) return;
    const pid = this.#child.pid;
    process.stderr.write(`bench: ${this.label} (pid ${pid}) did not exit within ${graceMs} ms; SIGTERM\n`);
    if (pid !== undefined) process.kill(pid, 'SIGTERM');
    if (await this.#exitedWithin(2000)) return;
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    await this.#exited;
  }

  async #exitedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const done = await Promise.race([this.#exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  #nextAny(timeoutMs: number): Promise<ChildMessage | undefined> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#hasExited || timeoutMs <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }
}

function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

function isParentMessage(m: unknown): m is ParentMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

// ---- child side ------------------------------------------------------------------------------

/** The spec the orchestrator passed in argv[2]. */
export function readSpec<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('run me from bench/run.ts (spec missing)');
  return JSON.parse(raw) as T;
}

export function sendToParent(message: ChildMessage): void {
  process.send?.(message);
}

/** Handle parent messages; if the parent goes away, `onClose` runs (so orphans stop themselves). */
export function onParentMessage(handler: (m: ParentMessage) => void, onClose: () => void): void {
  process.on('message', (m: unknown) => {
    if (isParentMessage(m)) handler(m);
  });
  process.on('disconnect', onClose);
  process.on('SIGTERM', onClose);
}

/** Report a fatal error to the parent and exit non-zero. */
export function failChild(err: unknown): void {
  sendToParent({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 200).unref();
}

/**
 * The main thread's scheduler statistics (/proc/<pid>/task/<pid>/schedstat): ns on a CPU, ns
 * runnable but waiting for one. The wait is time the event loop had work and the machine gave it
 * no CPU — load from elsewhere, not the gateway's own cost.
 */
function readSchedstatNs(): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return run === undefined || wait === undefined ? undefined : { runNs: run, waitNs: wait };
  } catch {
    return undefined; // not Linux: the figure is reported as unknown
  }
}

/** CPU, event-loop delay and run-queue wait of this process between `start()` and `stop()`. */
export class LoadMeter {
  readonly #loop = monitorEventLoopDelay({ resolution: 1 });
  #cpu0 = process.cpuUsage();
  #t0 = performance.now();
  #sched0: { runNs: number; waitNs: number } | undefined;
  #ctx0 = process.resourceUsage().involuntaryContextSwitches;

  start(): void {
    this.#loop.reset();
    this.#loop.enable();
    this.#cpu0 = process.cpuUsage();
    this.#sched0 = readSchedstatNs();
    this.#ctx0 = process.resourceUsage().involuntaryContextSwitches;
    this.#t0 = performance.now();
  }

  stop(): ProcessLoad & { windowMs: number } {
    const cpu = process.cpuUsage(this.#cpu0);
    const windowMs = performance.now() - this.#t0;
    const sched = readSchedstatNs();
    this.#loop.disable();
    return {
      windowMs,
      cpuPctOfCore: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
      loopDelayP99Ms: this.#loop.percentile(99) / 1e6,
      loopDelayMaxMs: this.#loop.max / 1e6,
      runQueueWaitPct: sched !== undefined && this.#sched0 !== undefined ? ((sched.waitNs - this.#sched0.waitNs) / 1e6 / windowMs) * 100 : Number.NaN,
      involuntaryContextSwitches: process.resourceUsage().involuntaryContextSwitches - this.#ctx0,
    };
  }
}

/** Force a full GC (children run with --expose-gc). */
export function fullGc(): void {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('run with --expose-gc');
  gc();
  gc();
}
