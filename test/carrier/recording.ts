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

/** DTMF digits the carrier's answerAndCollectDtmf() number has received on the call to `number` ('' if none yet). */
export async function receivedDigits(recordingsDir: string, number: string): Promise<string> {
  const names = await readdir(recordingsDir).catch(() => [] as string[]);
  const files = names.filter((name) => name.startsWith(`${number}-`) && name.endsWith('.digits'));
  if (files.length > 1) throw new Error(`${files.length} digit files for ${number}: numbers must be unique per call`);
  if (files[0] === undefined) return '';
  // The carrier writes <file>.tmp and renames it: a read never sees a half-written line.
  return (await readFile(path.join(recordingsDir, files[0]), 'utf8')).trim();
}

/**
 * Wait until the carrier has received exactly the DTMF digits `expected` on the call to `number`
 * (an answerAndCollectDtmf() number). Fails at once when what arrived is not a prefix of
 * `expected` (a wrong or lost digit will not heal by waiting); returns the digits.
 */
export async function waitForReceivedDigits(recordingsDir: string, number: string, expected: string, timeoutMs = 10_000): Promise<string> {
  if (expected === '') throw new Error('expected digits must not be empty');
  return pollUntil(
    async () => {
      const digits = await receivedDigits(recordingsDir, number);
      if (digits === expected) return { done: true, value: digits };
      if (!expected.startsWith(digits)) throw new Error(`the carrier received DTMF "${digits}" on the call to ${number}, expected "${expected}"`);
      return { done: false, seen: `"${digits}"` };
    },
    { timeoutMs, intervalMs: 50, what: `the carrier to receive DTMF "${expected}" on the call to ${number}` },
  );
}
