import { open, unlink } from 'node:fs/promises';
import { isRunning, readPidFile } from './process-by-pid';

/**
 * A lock file naming the process that owns an Asterisk instance, so two test runs on one machine
 * (two checkouts, two engineers) never start, wipe or stop each other's instances. Created with
 * O_EXCL; a lock whose process is gone (a killed run) is taken over.
 */

/**
 * Make this process the owner. Returns undefined on success, or the pid of the live process that
 * owns it. Not proof against two processes breaking the same stale lock in the same millisecond.
 */
export async function acquireOwnerLock(file: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readPidFile(file);
    if (owner === process.pid) return undefined;
    if (owner !== undefined && (await isRunning(owner))) return owner;
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // someone else broke the stale lock first: retry
    });
  }
  throw new Error(`could not take the lock ${file}`);
}

/** Drop the lock if this process owns it, or if its owner is gone. */
export async function releaseOwnerLock(file: string): Promise<void> {
  const owner = await readPidFile(file);
  if (owner === undefined) return;
  if (owner !== process.pid && (await isRunning(owner))) return;
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
