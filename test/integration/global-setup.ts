/**
 * Mocha global fixture for `npm run test:integration` (loaded with --require): starts the Asterisk
 * test bed once before the integration tests and stops it after them. See fixtures/asterisk-pair.ts.
 */
import { setGlobalAsteriskPair, startAsteriskPair, stopAsteriskPair, type AsteriskPair } from './fixtures/asterisk-pair';

let pair: AsteriskPair | undefined;
const log = (line: string): void => {
  process.stderr.write(`  [testbed] ${line}\n`);
};

export async function mochaGlobalSetup(): Promise<void> {
  const startedAt = Date.now();
  pair = await startAsteriskPair({ log, sidRoot: process.env['ASTERISK_SID_ROOT'] || undefined });
  setGlobalAsteriskPair(pair);
  log(`carrier + PBX up and registered in ${Date.now() - startedAt} ms (port base ${pair.ports.base})`);
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (pair === undefined) return;
  const stopping = pair;
  pair = undefined;
  setGlobalAsteriskPair(undefined);
  await stopAsteriskPair(stopping);
  log('carrier + PBX stopped');
}
