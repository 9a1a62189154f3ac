import assert from 'node:assert/strict';
import { searchCapacity } from '../../../bench/lib/capacity';

/** A machine that carries up to `limit` calls cleanly. */
const upTo = (limit: number) => (calls: number): Promise<boolean> => Promise.resolve(calls <= limit);

describe('bench: the capacity search', () => {
  it('doubles while clean, then bisects to within 10 % of the answer', async () => {
    const s = await searchCapacity({ start: 10, max: 1000 }, upTo(57));
    assert.deepEqual(s.probes.slice(0, 4).map((p) => [p.calls, p.isClean]), [[10, true], [20, true], [40, true], [80, false]]);
    assert.ok(s.largestClean !== undefined && s.firstUnclean !== undefined);
    assert.ok(s.largestClean <= 57 && s.firstUnclean > 57, JSON.stringify(s));
    assert.ok(s.firstUnclean - s.largestClean <= Math.max(5, Math.round(s.largestClean * 0.1)), JSON.stringify(s));
    assert.ok(s.largestClean >= 50, `close to the limit: ${JSON.stringify(s)}`);
  });

  it('stops at the maximum when everything is clean', async () => {
    const s = await searchCapacity({ start: 50, max: 300 }, upTo(10_000));
    assert.deepEqual(s.probes.map((p) => p.calls), [50, 100, 200, 300]);
    assert.deepEqual([s.largestClean, s.firstUnclean], [300, undefined]);
  });

  it('says so when even the start is not clean', async () => {
    const s = await searchCapacity({ start: 20, max: 300 }, upTo(5));
    assert.deepEqual([s.largestClean, s.firstUnclean, s.probes.length], [undefined, 20, 1]);
  });
});
