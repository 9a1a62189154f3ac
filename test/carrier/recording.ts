import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pollUntil } from '../../scripts/lib/poll';

/** One finished recording of the carrier stand-in (what it received on one call). */
export interface CarrierRecording {
  readonly number: string;
  readonly uniqueId: string;
  /** Caller number the carrier saw (From / P-Asserted-Identity), '' if none. */
  readonly callerId: string;
  /** Host path of the wav with only what the carrier RECEIVED (our PBX's audio). */
  readonly rxWavPath: string;
  /** Host path of the wav with both directions mixed. */
  readonly mixWavPath: string;
}

/** Parse a `.done` line: `number=<n> uniqueid=<id> callerid=<c>`. */
function parseDoneLine(line: string): Record<string, string> {
  return Object.fromEntries(
    line
      .trim()
      .split(' ')
      .map((pair) => pair.split('='))
      .map(([key = '', ...value]) => [key, value.join('=')]),
  );
}

/**
 * Wait until the carrier has finished the recording of the call to `number` (MixMonitor writes the
 * `.done` file after closing the wavs, so a found recording is complete). Numbers are unique per
 * test (NumberPlan), so there is at most one.
 */
export async function waitForRecording(recordingsDir: string, number: string, timeoutMs = 10_000): Promise<CarrierRecording> {
  const doneFile = await pollUntil(
    async () => {
      const names = await readdir(recordingsDir).catch(() => [] as string[]); // dir appears with the first call
      const done = names.filter((name) => name.startsWith(`${number}-`) && name.endsWith('.done'));
      if (done.length > 1) throw new Error(`${done.length} recordings for ${number}: numbers must be unique per call`);
      return done[0] === undefined ? { done: false, seen: `${names.length} files` } : { done: true, value: done[0] };
    },
    { timeoutMs, intervalMs: 100, what: `the carrier's recording of the call to ${number} in ${recordingsDir}` },
  );
  const fields = parseDoneLine(await readFile(path.join(recordingsDir, doneFile), 'utf8'));
  const base = path.join(recordingsDir, doneFile.slice(0, -'.done'.length));
  return {
    number: fields['number'] ?? number,
    uniqueId: fields['uniqueid'] ?? '',
    callerId: fields['callerid'] ?? '',
    rxWavPath: `${base}-rx.wav`,
    mixWavPath: `${base}-mix.wav`,
  };
}
