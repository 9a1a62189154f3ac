import { readFile } from 'node:fs/promises';
import { delay } from './poll';

/**
 * Looking at and ending one process by pid. Asterisk daemonizes, so the process we stop is not our
 * child: there is no exit event, and if nobody reaps it, it lingers as a zombie. Linux /proc only.
 */

/** A /proc read failed because the process no longer exists. */
function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/** True while `pid` runs (a zombie has exited and counts as gone). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3 is the state; the command name before it is in parentheses and may hold spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    // ESRCH: the process was reaped between opening its stat file and reading it.
    if (isGone(err)) return false;
    throw err;
  }
}

/** The process's argv, or undefined when it is gone. Used to tell our Asterisk from a reused pid. */
export async function readCommandLine(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg) => arg !== '');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/** Wait until `pid` is gone; false if it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await delay(50);
  }
  return true;
}

/** Send `signal` to `pid`; a process that is already gone is not an error. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The pid written in `file` (a pid file or lock), or undefined when there is none. */
export async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
