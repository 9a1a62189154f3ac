/** Resolves with `p`, or rejects with `onTimeout()` after `ms`; the timer is cleared either way. */
export async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The wall clock in ms with sub-ms resolution, comparable across threads (a media worker's and the main thread's). */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}
