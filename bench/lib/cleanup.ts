/**
 * Everything the benchmark started that must not outlive it (child processes, the Asterisk pair),
 * so that Ctrl-C, SIGTERM or the run's overall deadline can still stop it all before exiting.
 */
type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();

/** Register `fn`; the returned function unregisters it (call it once the thing is stopped). */
export function onCleanup(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Run every registered cleanup (newest first), each bounded by `timeoutMs`. */
export async function runCleanups(timeoutMs = 15_000): Promise<void> {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([fn().catch((err: unknown) => process.stderr.write(`bench: cleanup failed: ${String(err)}\n`)), timeout]);
    clearTimeout(timer);
  }
}

/**
 * Stop everything and exit on SIGINT/SIGTERM, or when `deadlineMs` passes (a run that hangs is a
 * bug in the benchmark, but it must still end and leave nothing behind).
 */
export function installExitGuards(deadlineMs: number): () => void {
  let isExiting = false;
  const bail = (why: string): void => {
    if (isExiting) return;
    isExiting = true;
    process.stderr.write(`bench: ${why}; stopping everything it started\n`);
    runCleanups()
      .catch((err: unknown) => process.stderr.write(`bench: cleanup failed: ${String(err)}\n`))
      .finally(() => process.exit(1));
  };
  const onSignal = (signal: NodeJS.Signals): void => bail(`got ${signal}`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = setTimeout(() => bail(`overall deadline of ${Math.round(deadlineMs / 1000)} s passed`), deadlineMs);
  timer.unref();
  return () => {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
