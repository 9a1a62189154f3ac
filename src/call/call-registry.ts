import type { Call } from './call';

/** The live calls of the process, by id. Ended calls are kept as records in CallRecords. */
export class CallRegistry {
  readonly #calls = new Map<string, Call>();

  add(call: Call): void {
    this.#calls.set(call.id, call);
    call.once('ended', () => this.#calls.delete(call.id));
  }

  get(id: string): Call | undefined {
    return this.#calls.get(id);
  }

  get size(): number {
    return this.#calls.size;
  }

  all(): Call[] {
    return [...this.#calls.values()];
  }

  /** Resolves true once no call is live, or false after `timeoutMs`. */
  waitEmpty(timeoutMs: number): Promise<boolean> {
    if (this.#calls.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#calls.size > 0) return;
        clearTimeout(timer);
        clearInterval(poll);
        resolve(true);
      };
      // Calls leave the map in their own 'ended' listener; a short poll avoids hooking every call.
      const poll = setInterval(check, 50);
      const timer = setTimeout(() => {
        clearInterval(poll);
        resolve(this.#calls.size === 0);
      }, timeoutMs);
    });
  }

  /**
   * Ends every live call with `reason` and waits for their teardown, at most `deadlineMs`.
   * Resolves to the number of calls still live at the deadline (0 when all ended).
   */
  async drain(reason: Parameters<Call['end']>[0], deadlineMs: number): Promise<number> {
    const calls = this.all();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([Promise.allSettled(calls.map((c) => c.end(reason))), deadline]);
    clearTimeout(timer);
    return this.#calls.size;
  }
}
