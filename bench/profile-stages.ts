/**
 * Where a gateway's threads spent their time, by stage, from the CPU profiles of a gateway run
 * with `node --cpu-prof --cpu-prof-dir=DIR` (its media workers write theirs there too):
 *
 *   npx tsx bench/profile-stages.ts DIR
 *
 * The whole run counts (the bench's `--profile` counts only its measured window).
 * docs/operations.md#profiling-a-gateway.
 */
import { analyseProfileDir, formatStages } from './lib/profile-stages';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: npx tsx bench/profile-stages.ts DIR (the --cpu-prof-dir of the gateway)\n');
  process.exit(2);
}
const threads = analyseProfileDir(dir);
if (threads.length === 0) {
  process.stderr.write(`no .cpuprofile in ${dir}\n`);
  process.exit(1);
}
process.stdout.write(`${formatStages(threads)}\n`);
