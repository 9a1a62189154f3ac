import type { Logger } from 'pino';

type Disposer = () => void | Promise<void>;

/**
 * LIFO list of release actions (Node 20 has no native DisposableStack). Each action runs at most
 * once; a failing one is logged with its label and the rest still run.
 */
export class DisposerStack {
  readonly #entries: { label: string; dispose: Disposer }[] = [];
  readonly #log: Logger;
  #isDisposed = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  get isDisposed(): boolean {
    return this.#isDisposed;
  }

  /**
   * Registers `dispose` to run at teardown. When the stack is already disposed the action runs now:
   * a resource acquired while the owner was being torn down must not leak.
   */
  defer(label: string, dispose: Disposer): void {
    if (this.#isDisposed) {
      void this.#run({ label, dispose });
      return;
    }
    this.#entries.push({ label, dispose });
  }

  /** Runs every action in reverse order of registration. Never throws. */
  async disposeAll(): Promise<void> {
    this.#isDisposed = true;
    while (this.#entries.length > 0) {
      const entry = this.#entries.pop()!;
      await this.#run(entry);
    }
  }

  async #run(entry: { label: string; dispose: Disposer }): Promise<void> {
    try {
      await entry.dispose();
    } catch (err) {
      this.#log.warn({ err, label: entry.label }, 'release failed');
    }
  }
}
