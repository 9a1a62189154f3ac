/**
 * The main thread's side of the media workers: MEDIA_WORKERS threads, each running the
 * conversation links (agent socket + RTP + resamplers + playout clock) of the calls placed on it.
 * A new link goes to the least-loaded worker. A worker that dies fails its own links (their calls
 * end, recorded with the reason) and is replaced; the other workers' calls go on
 * (docs/architecture.md#media-workers).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AgentConnectionError, BridgeError } from '../../errors';
import type { AgentConnectRequest, EarlyMedia, LinkOpener } from '../conversation-link';
import type { LinkInfo, MainToWorker, MediaWorkerSetup, WireError, WorkerToMain } from './link-protocol';
import { WorkerLink } from './worker-link';

export interface MediaWorkerPoolOptions {
  /** Threads to run (MEDIA_WORKERS, ≥ 1). */
  workers: number;
  setup: Omit<MediaWorkerSetup, 'index'>;
  log: Logger;
}

/**
 * How long past its own deadline a drain may go unanswered, and how long a close may: a worker
 * that does not answer in time is wedged, and the call's teardown and goodbye go on without it.
 */
const DRAIN_ANSWER_GRACE_MS = 1_000;
const CLOSE_ANSWER_MS = 5_000;

/** A worker that dies this soon after it started is restarted with a growing delay, not at once. */
const EARLY_DEATH_MS = 10_000;
const RESTART_DELAY_MAX_MS = 30_000;

interface PendingOpen {
  readonly callId: string;
  readonly early: EarlyMedia | undefined;
  readonly resolve: (link: WorkerLink) => void;
  readonly reject: (err: Error) => void;
}

/** One worker thread and what the main thread knows of it. */
class MediaWorker {
  readonly index: number;
  readonly thread: Worker;
  /** Open links by link id (the reqId of their open). */
  readonly links = new Map<number, WorkerLink>();
  readonly opens = new Map<number, PendingOpen>();
  readonly requests = new Map<number, () => void>();
  readonly startedMs = performance.now();
  isGone = false;
  /** Resampler engines its start-up warm made, once done. */
  warmedEngines: number | undefined;
  readonly warmed: Promise<void>;
  markWarmed!: () => void;

  constructor(index: number, thread: Worker) {
    this.index = index;
    this.thread = thread;
    this.warmed = new Promise<void>((resolve) => (this.markWarmed = resolve));
  }

  /** Links live or being opened: what "least loaded" compares. */
  get load(): number {
    return this.links.size + this.opens.size;
  }
}

export class MediaWorkerPool {
  readonly #options: MediaWorkerPoolOptions;
  readonly #log: Logger;
  readonly #workers: MediaWorker[] = [];
  #nextReqId = 1;
  #isStopped = false;
  #restarts = 0;
  /** Consecutive early deaths per worker slot, for the restart delay. */
  readonly #earlyDeaths = new Map<number, number>();
  readonly #restartTimers = new Set<NodeJS.Timeout>();

  constructor(options: MediaWorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError('workers must be an integer ≥ 1');
    this.#options = options;
    this.#log = options.log;
    for (let i = 0; i < options.workers; i++) this.#workers.push(this.#spawn(i));
  }

  /** Opens links on the least-loaded worker. */
  readonly open: LinkOpener = (callId, request, signal, early) => this.#open(callId, request, signal, early);

  /** Live links per worker, how many workers were replaced, and the engines each one's warm-up made (undefined: not done). */
  stats(): { loads: number[]; restarts: number; warmedEngines: (number | undefined)[] } {
    return { loads: this.#workers.map((w) => w.load), restarts: this.#restarts, warmedEngines: this.#workers.map((w) => w.warmedEngines) };
  }

  /** Resolves once every worker's start-up warm of its resampler pool is done (or the worker is gone). */
  warmed(): Promise<void> {
    return Promise.all(this.#workers.map((w) => w.warmed)).then(() => undefined);
  }

  /** The worker carrying `callId`'s link, or undefined. */
  workerOf(callId: string): number | undefined {
    return this.#workers.find((w) => [...w.links.values(), ...w.opens.values()].some((l) => l.callId === callId))?.index;
  }

  /**
   * Ends worker `index` as if it had crashed (a fault drill): its calls fail, a new worker takes
   * its place. Resolves once the thread is gone.
   */
  async terminate(index: number): Promise<void> {
    const worker = this.#workers[index];
    if (worker === undefined) throw new RangeError(`no media worker ${index}`);
    await worker.thread.terminate();
  }

  /**
   * Blocks worker `index`'s thread as if it were wedged (a fault drill); the returned function
   * lets it go on.
   */
  stall(index: number): () => void {
    const worker = this.#workers[index];
    if (worker === undefined) throw new RangeError(`no media worker ${index}`);
    const gate = new SharedArrayBuffer(4);
    this.#post(worker, { t: 'stall', gate });
    return () => {
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
    };
  }

  /** Stops every worker (their links close with them). Idempotent. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    for (const timer of this.#restartTimers) clearTimeout(timer);
    this.#restartTimers.clear();
    await Promise.all(this.#workers.map((w) => w.thread.terminate()));
  }

  #spawn(index: number): MediaWorker {
    const setup: MediaWorkerSetup = { ...this.#options.setup, index };
    const thread = new Worker(workerFile(), { workerData: setup, ...workerRuntime() });
    const worker = new MediaWorker(index, thread);
    thread.on('message', (m: WorkerToMain) => this.#onMessage(worker, m));
    thread.on('error', (err) => this.#log.error({ err, worker: index }, 'media worker crashed'));
    thread.on('exit', (code) => this.#onExit(worker, code));
    return worker;
  }

  async #open(callId: string, request: AgentConnectRequest, signal: AbortSignal, early: EarlyMedia | undefined): Promise<WorkerLink> {
    if (this.#isStopped) throw new BridgeError('MEDIA_STOPPED', 'media workers are stopped');
    if (signal.aborted) throw new AgentConnectionError('AGENT_CONNECT_ABORTED', 'agent connect aborted');
    const worker = this.#leastLoaded();
    const reqId = this.#nextReqId++;
    const onAbort = (): void => this.#post(worker, { t: 'abort-open', reqId });
    signal.addEventListener('abort', onAbort, { once: true });
    // Posted whenever they come; once the link is open they are no-ops there (its Call starts it).
    early?.joined.then((remote) => this.#post(worker, { t: 'joined', reqId, remote }), () => undefined);
    early?.answered.then((atEpochMs) => this.#post(worker, { t: 'answered', reqId, atEpochMs }), () => undefined);
    try {
      return await new Promise<WorkerLink>((resolve, reject) => {
        worker.opens.set(reqId, { callId, early, resolve, reject });
        this.#post(worker, { t: 'open', reqId, callId, request, hasEarlyMedia: early !== undefined });
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Sends a drain/close request and resolves when the worker answered, died, or let its deadline
   * pass (a wedged worker must not hold a call's goodbye or teardown).
   */
  #request(worker: MediaWorker, message: { t: 'drain'; linkId: number; timeoutMs: number } | { t: 'close'; linkId: number; code: number; reason: string }): Promise<void> {
    if (worker.isGone) return Promise.resolve();
    const reqId = this.#nextReqId++;
    const deadlineMs = message.t === 'drain' ? message.timeoutMs + DRAIN_ANSWER_GRACE_MS : CLOSE_ANSWER_MS;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        worker.requests.delete(reqId);
        this.#log.error({ worker: worker.index, request: message.t, deadlineMs }, 'media worker did not answer in time; going on without it');
        resolve();
      }, deadlineMs);
      worker.requests.set(reqId, () => {
        clearTimeout(timer);
        resolve();
      });
      this.#post(worker, { ...message, reqId } as MainToWorker);
    });
  }

  #linkOf(worker: MediaWorker, linkId: number, callId: string, info: LinkInfo): WorkerLink {
    return new WorkerLink(linkId, callId, info, {
      command: (name, args) => this.#post(worker, { t: 'cmd', linkId, name, args }),
      request: (message) => this.#request(worker, message),
      forget: () => worker.links.delete(linkId),
    });
  }

  #post(worker: MediaWorker, message: MainToWorker): void {
    if (!worker.isGone) worker.thread.postMessage(message);
  }

  #leastLoaded(): MediaWorker {
    let best: MediaWorker | undefined;
    for (const w of this.#workers) if (!w.isGone && (best === undefined || w.load < best.load)) best = w;
    if (best === undefined) throw new BridgeError('MEDIA_UNAVAILABLE', 'no media worker is running', { retryable: true });
    return best;
  }

  #onMessage(worker: MediaWorker, m: WorkerToMain): void {
    switch (m.t) {
      case 'ready':
        return;
      case 'warmed':
        worker.warmedEngines = m.engines;
        worker.markWarmed();
        return;
      case 'media-address':
        worker.opens.get(m.reqId)?.early?.onLocalAddress(m.localRtpAddress);
        return;
      case 'opened': {
        const open = worker.opens.get(m.reqId);
        worker.opens.delete(m.reqId);
        if (open === undefined) return;
        // Registered now, not after the opener's await: the link's first reports (its greeting's
        // transcript) may be the very next messages, and must find it.
        const link = this.#linkOf(worker, m.reqId, open.callId, m.info);
        worker.links.set(m.reqId, link);
        open.resolve(link);
        return;
      }
      case 'open-failed': {
        const open = worker.opens.get(m.reqId);
        worker.opens.delete(m.reqId);
        open?.reject(fromWireError(m.error));
        return;
      }
      case 'event':
        worker.links.get(m.linkId)?.deliver(m.name, m.name === 'onFailed' ? [fromWireError(m.args[0] as WireError)] : m.args);
        return;
      case 'done': {
        const done = worker.requests.get(m.reqId);
        worker.requests.delete(m.reqId);
        done?.();
        return;
      }
      case 'stats':
        for (const s of m.links) worker.links.get(s.linkId)?.updateStats(s.metrics, s.issues);
        return;
    }
  }

  #onExit(worker: MediaWorker, code: number): void {
    worker.isGone = true;
    worker.markWarmed();
    const died = new BridgeError('MEDIA_WORKER_DIED', `the media worker carrying the call stopped (exit code ${code})`);
    for (const open of worker.opens.values()) open.reject(died);
    worker.opens.clear();
    for (const done of worker.requests.values()) done();
    worker.requests.clear();
    const links = [...worker.links.values()];
    worker.links.clear();
    for (const link of links) link.fail(died);
    if (this.#isStopped) return;
    // A worker that cannot even start (a broken install) would otherwise be respawned in a tight loop.
    const isEarly = performance.now() - worker.startedMs < EARLY_DEATH_MS;
    const early = isEarly ? (this.#earlyDeaths.get(worker.index) ?? 0) + 1 : 0;
    this.#earlyDeaths.set(worker.index, early);
    const delayMs = early === 0 ? 0 : Math.min(RESTART_DELAY_MAX_MS, 100 * 2 ** (early - 1));
    this.#log.error({ worker: worker.index, code, calls: links.length, restartInMs: delayMs }, 'media worker stopped; its calls end, a new worker takes its place');
    this.#restarts += 1;
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer);
      if (!this.#isStopped) this.#workers[worker.index] = this.#spawn(worker.index);
    }, delayMs);
    this.#restartTimers.add(timer);
  }
}

function fromWireError(e: WireError): Error {
  if (e.name === 'AgentConnectionError') {
    return new AgentConnectionError(e.code ?? 'AGENT_CONNECT_FAILED', e.message, { retryable: e.retryable, closeCode: e.closeCode });
  }
  if (e.code !== undefined) return new BridgeError(e.code, e.message, { retryable: e.retryable });
  return new Error(e.message);
}

/** The worker's entry: the compiled .js next to this file, or the .ts source under a TypeScript loader. */
function workerFile(): string {
  return path.join(__dirname, `media-worker${path.extname(__filename)}`);
}

/**
 * The worker's Node flags: none of the process's (some, like --expose-gc, are refused for a
 * worker), but when running from source (tests, `npm run demo`) a TypeScript loader, resolved
 * from here: the process may run in another directory.
 */
function workerRuntime(): { execArgv: string[] } {
  // A process started with `--cpu-prof` profiles its media workers too, each into its own file
  // (docs/performance.md#where-a-workers-time-goes).
  const profiling = process.execArgv.filter((a) => a.startsWith('--cpu-prof'));
  return { execArgv: [...(path.extname(__filename) === '.ts' ? ['--require', require.resolve('tsx/cjs')] : []), ...profiling] };
}
