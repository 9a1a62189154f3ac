/**
 * A background job run in passes, one at a time, on a timer: each pass says when the next one is
 * due (`next`), and `wake()` asks for one now, or right after the pass under way. The campaign
 * runner and the webhook deliverer run on it. `run` must not reject.
 */
export class PassLoop {
  readonly #run: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #isWakePending = false;
  #isRunning = false;

  constructor(run: () => Promise<void>) {
    this.#run = run;
  }

  get isRunning(): boolean {
    return this.#isRunning;
  }

  start(): void {
    if (this.#isRunning) return;
    this.#isRunning = true;
    this.next(0);
  }

  wake(): void {
    if (!this.#isRunning) return;
    if (this.#pass !== undefined) this.#isWakePending = true;
    else this.next(0);
  }

  /** The next pass in `delayMs` (replacing one already due). */
  next(delayMs: number): void {
    if (!this.#isRunning) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pass = this.#run().finally(() => {
        this.#pass = undefined;
        if (this.#isWakePending) {
          this.#isWakePending = false;
          this.next(0);
        }
      });
    }, delayMs);
  }

  /** No more passes; resolves once the one under way (if any) ended. */
  async stop(): Promise<void> {
    this.#isRunning = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#pass;
  }
}
