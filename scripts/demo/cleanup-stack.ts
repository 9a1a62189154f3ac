/** What the demo started, released in reverse order exactly once, each step reported. */

interface Step {
  readonly label: string;
  readonly release: () => Promise<void> | void;
}

export class CleanupStack {
  readonly #steps: Step[] = [];
  #unwinding: Promise<string[]> | undefined;

  /** Register `release` for something just started; `label` names it in the report ("gateway (pid 42)"). */
  push(label: string, release: () => Promise<void> | void): void {
    if (this.#unwinding !== undefined) throw new Error(`cannot register ${label}: already cleaning up`);
    this.#steps.push({ label, release });
  }

  /**
   * Release everything, last started first; a failing step is reported and the rest still run.
   * Idempotent. Resolves with the failures ("pbx-14000: survived SIGKILL"), empty when all went.
   */
  unwind(report: (line: string) => void): Promise<string[]> {
    this.#unwinding ??= this.#unwind(report);
    return this.#unwinding;
  }

  async #unwind(report: (line: string) => void): Promise<string[]> {
    const failures: string[] = [];
    for (const step of this.#steps.reverse()) {
      const startedAt = Date.now();
      try {
        await step.release();
        report(`stopped ${step.label} (${Date.now() - startedAt} ms)`);
      } catch (err) {
        const message = `${step.label}: ${err instanceof Error ? err.message : String(err)}`;
        failures.push(message);
        report(`FAILED to stop ${message}`);
      }
    }
    return failures;
  }
}
