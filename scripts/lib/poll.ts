/**
 * Polling with a deadline: the one way scripts and tests wait for a condition they cannot subscribe
 * to (a CLI answer, a file appearing). Never a fixed sleep standing in for "long enough".
 */

export interface PollOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Pause between attempts. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message: "registration of exolve-reg". */
  readonly what: string;
}

/** Thrown when a poll's deadline passes; `last` is the last attempt's observation, for the message. */
export class PollTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, last: string | undefined) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `; last seen: ${last}`}`);
    this.name = 'PollTimeoutError';
  }
}

/** Resolve after `ms`; the only timer here, always awaited, so nothing is left pending. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Call `attempt` until it returns `{ done: true, value }` or the deadline passes.
 * `attempt` reports `{ done: false, seen }` to say what it saw; a throw ends the poll at once
 * (a hard failure such as a dead process is not worth waiting out).
 */
export async function pollUntil<T>(
  attempt: () => Promise<{ done: true; value: T } | { done: false; seen?: string }>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 100;
  let last: string | undefined;
  for (;;) {
    const result = await attempt();
    if (result.done) return result.value;
    last = result.seen ?? last;
    if (Date.now() + intervalMs > deadline) throw new PollTimeoutError(options.what, options.timeoutMs, last);
    await delay(intervalMs);
  }
}
