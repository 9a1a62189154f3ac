import type { Logger } from 'pino';

type Disposer = () => void | Promise<void>;

/**
 * When a release runs during `disposeAll`:
 * - `first`: before anything else, one after another in registration order (a call's leg: the
 *   caller must hear the hang-up at once, whatever else is slow);
 * - `main`: all at the same time, each with its own deadline (sockets, Asterisk objects, timers);
 * - `last`: after the main group, in reverse order (subscriptions that report the others' ends).
 */
export type DisposePhase = 'first' | 'main' | 'last';

interface Entry {
  readonly label: string;
  readonly dispose: Disposer;
  readonly phase: DisposePhase;
}

/** Options of `DisposerStack`. */
export interface DisposerStackOptions {
  /** Longest wait for one `main` release before the rest goes on without it, ms. Default 5000. */
  stepTimeoutMs?: number;
}

/**
 * The release actions of one owner (Node 20 has no DisposableStack). Each action runs at most once;
 * a failing or hanging one is logged with its label and the others still run. A child stack is a
 * part of the owner that may be released earlier (a call's agent link at a transfer); the parent
 * releases what is left of it in its own `main` group.
 */
export class DisposerStack {
  readonly #entries: Entry[] = [];
  readonly #log: Logger;
  readonly #stepTimeoutMs: number;
  #disposed: Promise<void> | undefined;

  constructor(log: Logger, options: DisposerStackOptions = {}) {
    this.#log = log;
    this.#stepTimeoutMs = options.stepTimeoutMs ?? 5000;
  }

  get isDisposed(): boolean {
    return this.#disposed !== undefined;
  }

  /**
   * Registers `dispose` to run at teardown. When the stack is already disposed the action runs now:
   * a resource acquired while the owner was being torn down must not leak.
   */
  defer(label: string, dispose: Disposer, phase: DisposePhase = 'main'): void {
    const entry: Entry = { label, dispose, phase };
    if (this.#disposed !== undefined) {
      this.#run(entry).catch(() => undefined);
      return;
    }
    this.#entries.push(entry);
  }

  /** A stack released with this one (in its `main` group) or earlier by its own `disposeAll`. */
  child(label: string): DisposerStack {
    const child = new DisposerStack(this.#log, { stepTimeoutMs: this.#stepTimeoutMs });
    this.defer(label, () => child.disposeAll());
    return child;
  }

  /** Runs every action once, by phase (see DisposePhase). Idempotent; never rejects. */
  disposeAll(): Promise<void> {
    this.#disposed ??= this.#disposeAll();
    return this.#disposed;
  }

  async #disposeAll(): Promise<void> {
    const entries = this.#entries.splice(0);
    for (const entry of entries.filter((e) => e.phase === 'first')) await this.#run(entry);
    await Promise.all(entries.filter((e) => e.phase === 'main').map((e) => this.#runWithDeadline(e)));
    for (const entry of entries.filter((e) => e.phase === 'last').reverse()) await this.#run(entry);
  }

  async #runWithDeadline(entry: Entry): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#stepTimeoutMs);
    });
    const outcome = await Promise.race([this.#run(entry).then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'late') this.#log.warn({ label: entry.label, timeoutMs: this.#stepTimeoutMs }, 'release still running at its deadline; going on without it');
  }

  /** Never rejects: a failure is logged with the entry's label. */
  async #run(entry: Entry): Promise<void> {
    try {
      await entry.dispose();
    } catch (err) {
      this.#log.warn({ err, label: entry.label }, 'release failed');
    }
  }
}
