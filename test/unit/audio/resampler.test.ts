import assert from 'node:assert/strict';
import { Resampler, ResamplerPool } from '../../../src/audio/resampler';
import type { ConverterName } from '../../../src/config';
import { dominantFrequencyHz, findGaps, fitSine, generateTone } from '../../helpers/signal';

/** Feed `input` in chunks of `chunk` samples; return each output chunk. */
function streamChunks(r: Resampler, input: Int16Array, chunk: number | (() => number)): Int16Array[] {
  const outs: Int16Array[] = [];
  for (let pos = 0; pos < input.length; ) {
    const n = Math.min(typeof chunk === 'number' ? chunk : chunk(), input.length - pos);
    outs.push(r.process(input.subarray(pos, pos + n)));
    pos += n;
  }
  return outs;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

const SINC: ConverterName[] = ['sinc_best', 'sinc_medium', 'sinc_fastest'];

describe('audio/resampler', function () {
  this.timeout(20_000);
  const live: Resampler[] = [];
  afterEach(() => {
    for (const r of live.splice(0)) r.destroy();
  });
  async function make(inHz: number, outHz: number, converter: ConverterName): Promise<Resampler> {
    const r = await Resampler.create(inHz, outHz, converter);
    live.push(r);
    return r;
  }

  for (const converter of SINC) {
    it(`${converter}: 1 kHz tone 8k→16k in 20 ms chunks stays at 1 kHz, > 60 dB SNR, no seams`, async () => {
      const r = await make(8000, 16000, converter);
      const out = concat(streamChunks(r, generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 2000, amplitude: 12_000 }), 160));
      const steady = out.subarray(1600); // skip the onset transient (100 ms)
      assert.ok(Math.abs(dominantFrequencyHz(steady, 16000) - 1000) < 0.05);
      const fit = fitSine(steady, 16000, 1000);
      assert.ok(fit.snrDb > 60, `SNR ${fit.snrDb.toFixed(1)} dB`);
      assert.ok(Math.abs(fit.amplitude - 12_000) < 30, `amplitude ${fit.amplitude.toFixed(0)}`);
      const gaps = findGaps(steady, 16000, 20, { freqHz: 1000 });
      assert.deepEqual(gaps.silentFrames, []);
      assert.deepEqual(gaps.discontinuities, []);
    });
  }

  it('the seam check has teeth: resampling each chunk from fresh state leaves clicks', async () => {
    const r = await make(8000, 16000, 'sinc_medium');
    const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 400, amplitude: 12_000 });
    const parts: Int16Array[] = [];
    for (let pos = 0; pos < tone.length; pos += 160) {
      r.reset();
      parts.push(r.process(tone.subarray(pos, pos + 160)));
    }
    const out = concat(parts).subarray(1600);
    assert.ok(fitSine(out, 16000, 1000).snrDb < 40);
    assert.ok(findGaps(out, 16000, 20, { freqHz: 1000 }).discontinuities.length > 5);
  });

  const ratios: Array<[number, number]> = [
    [8000, 16000],
    [16000, 8000],
    [24000, 8000],
    [22050, 8000],
    [44100, 8000],
    [8000, 22050],
    [48000, 8000],
  ];
  for (const [inHz, outHz] of ratios) {
    it(`${inHz}→${outHz}: every 20 ms chunk yields exactly outHz/50 samples, from the first`, async () => {
      const r = await make(inHz, outHz, 'sinc_fastest');
      const lengths = streamChunks(r, generateTone({ freqHz: 440, rateHz: inHz, durationMs: 3000 }), inHz / 50).map((c) => c.length);
      assert.equal(lengths.length, 150);
      assert.deepEqual(new Set(lengths), new Set([outHz / 50]));
    });
  }

  it('irregular chunk sizes (agent audio) join seamlessly and conserve the sample count', async () => {
    let seed = 7;
    const nextSize = (): number => {
      seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
      return 1 + (seed % 3000);
    };
    const r = await make(16000, 8000, 'sinc_medium');
    const input = generateTone({ freqHz: 700, rateHz: 16000, durationMs: 4000, amplitude: 12_000 });
    const out = concat(streamChunks(r, input, nextSize));
    assert.ok(Math.abs(out.length - input.length / 2) <= 1, `got ${out.length}`);
    const fit = fitSine(out.subarray(800), 8000, 700);
    assert.ok(fit.snrDb > 60, `SNR ${fit.snrDb.toFixed(1)} dB`);
  });

  it('splits a very large chunk internally and conserves the count (60 s at 24 kHz)', async () => {
    const r = await make(24000, 8000, 'linear');
    const out = r.process(generateTone({ freqHz: 300, rateHz: 24000, durationMs: 60_000 }));
    assert.ok(Math.abs(out.length - 480_000) <= 1, `got ${out.length}`);
  });

  it('reset() clears filter state: silence after a loud tone stays silent', async () => {
    const loud = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 200, amplitude: 30_000 });
    const silence = new Int16Array(160);
    const withReset = await make(8000, 16000, 'sinc_best');
    withReset.process(loud);
    withReset.reset();
    assert.equal(Math.max(...withReset.process(silence).map(Math.abs)), 0);

    const withoutReset = await make(8000, 16000, 'sinc_best');
    withoutReset.process(loud);
    assert.ok(Math.max(...withoutReset.process(silence).map(Math.abs)) > 1000, 'control: the filter tail is audible without reset');
  });

  it('processInto writes what process returns into the caller’s array, chunk after chunk, and refuses one too short', async () => {
    const a = await make(8000, 16000, 'sinc_fastest');
    const b = await make(8000, 16000, 'sinc_fastest');
    const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 400, amplitude: 12_000 });
    const out = new Int16Array(b.maxOutputSamples(160));
    for (let off = 0; off < tone.length; off += 160) {
      const frame = tone.subarray(off, off + 160);
      const expected = a.process(frame);
      const n = b.processInto(frame, out);
      assert.deepEqual(out.subarray(0, n), expected, `chunk at ${off}`);
    }
    assert.throws(() => b.processInto(tone.subarray(0, 160), new Int16Array(300)), RangeError);
  });

  it('destroy() is idempotent and the resampler is unusable afterwards', async () => {
    const r = await Resampler.create(8000, 16000, 'sinc_fastest');
    r.destroy();
    r.destroy();
    assert.equal(r.isDestroyed, true);
    assert.throws(() => r.process(new Int16Array(160)), /after destroy/);
    assert.throws(() => r.reset(), /after destroy/);
  });

  it('passes through (copying) when the rates are equal', async () => {
    const r = await make(16000, 16000, 'sinc_best');
    assert.equal(r.isPassThrough, true);
    const input = generateTone({ freqHz: 440, rateHz: 16000, durationMs: 20 });
    const out = r.process(input);
    assert.deepEqual(out, input);
    assert.notEqual(out, input, 'the caller owns the result');
  });

  it('rejects invalid rates and converters', async () => {
    await assert.rejects(Resampler.create(0, 8000), RangeError);
    await assert.rejects(Resampler.create(8000, 192_001), RangeError);
    await assert.rejects(Resampler.create(8000.5, 16000), RangeError);
    await assert.rejects(Resampler.create(8000, 16000, 'cubic' as ConverterName), RangeError);
  });

  describe('ResamplerPool', () => {
    let pool: ResamplerPool;
    beforeEach(() => {
      pool = new ResamplerPool({ maxIdle: 4 });
    });
    afterEach(() => pool.close());

    it('reuses a released engine for the next call, with no bleed from the previous call', async () => {
      const first = await pool.acquire(8000, 16000, 'sinc_best');
      first.process(generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 200, amplitude: 30_000 }));
      first.destroy();
      assert.deepEqual(pool.stats(), { created: 1, reused: 0, reconfigured: 0, freed: 0, idle: 1, inUse: 0 });

      const second = await pool.acquire(8000, 16000, 'sinc_best');
      assert.equal(pool.stats().reused, 1);
      assert.equal(pool.stats().created, 1);
      assert.equal(Math.max(...second.process(new Int16Array(160)).map(Math.abs)), 0);
      second.destroy();
    });

    it('a stale handle cannot touch an engine that now serves another call', async () => {
      const a = await pool.acquire(8000, 16000, 'sinc_fastest');
      a.destroy();
      const b = await pool.acquire(8000, 16000, 'sinc_fastest');
      assert.throws(() => a.process(new Int16Array(160)));
      assert.equal(b.process(new Int16Array(160)).length, 320);
      b.destroy();
    });

    it('re-points an idle engine at other rates and converter', async () => {
      (await pool.acquire(8000, 16000, 'sinc_medium')).destroy();
      const r = await pool.acquire(24000, 8000, 'sinc_fastest');
      assert.deepEqual([pool.stats().created, pool.stats().reconfigured], [1, 1]);
      const chunks = streamChunks(r, generateTone({ freqHz: 1000, rateHz: 24000, durationMs: 1000, amplitude: 12_000 }), 480);
      assert.deepEqual(new Set(chunks.map((c) => c.length)), new Set([160]));
      const out = concat(chunks).subarray(800);
      assert.ok(Math.abs(dominantFrequencyHz(out, 8000) - 1000) < 0.05);
      assert.ok(fitSine(out, 8000, 1000).snrDb > 60);
      r.destroy();
    });

    it('survives many acquire/release cycles on one engine (no WASM heap growth or staleness)', async () => {
      for (let i = 0; i < 300; i++) {
        const r = await pool.acquire(i % 2 ? 8000 : 16000, i % 2 ? 16000 : 8000, i % 3 ? 'sinc_medium' : 'sinc_best');
        r.process(generateTone({ freqHz: 500, rateHz: r.inputRateHz, durationMs: 20 }));
        r.destroy();
      }
      assert.equal(pool.stats().created, 1);
      const r = await pool.acquire(8000, 16000, 'sinc_best');
      const out = concat(streamChunks(r, generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 1000, amplitude: 12_000 }), 160)).subarray(1600);
      assert.ok(fitSine(out, 16000, 1000).snrDb > 60);
      r.destroy();
    });

    it('creates more engines when all are in use, and frees beyond maxIdle', async () => {
      const held = await Promise.all([0, 1, 2, 3, 4, 5].map(() => pool.acquire(8000, 16000, 'linear')));
      assert.equal(pool.stats().created, 6);
      assert.equal(pool.stats().inUse, 6);
      for (const r of held) r.destroy();
      assert.deepEqual([pool.stats().idle, pool.stats().freed, pool.stats().inUse], [4, 2, 0]);
    });

    it('warm() pre-creates idle engines', async () => {
      await pool.warm(2, 16000, 8000, 'sinc_fastest');
      assert.equal(pool.stats().idle, 2);
      (await pool.acquire(16000, 8000, 'sinc_fastest')).destroy();
      assert.deepEqual([pool.stats().created, pool.stats().reused], [2, 1]);
    });

    it('warmForCalls() makes an engine each way per call, letting the event loop run between them, and stops at close()', async () => {
      let turns = 0;
      const ticker = setInterval(() => turns++, 0);
      try {
        assert.equal(await pool.warmForCalls(2, 8000, 16000, 'sinc_fastest'), 4);
      } finally {
        clearInterval(ticker);
      }
      assert.ok(turns >= 1, 'the event loop ran while the engines were made');
      assert.deepEqual([pool.stats().idle, pool.stats().created], [4, 4]);
      const r = await pool.acquire(16000, 8000, 'sinc_fastest');
      assert.deepEqual([pool.stats().created, pool.stats().reused], [4, 1]);
      r.destroy();
      const other = new ResamplerPool({ maxIdle: 10 });
      const closing = other.warmForCalls(3, 8000, 16000, 'linear');
      other.close();
      assert.ok((await closing) < 6, 'it stopped');
      assert.equal(other.stats().idle, 0);
      assert.equal(other.stats().created, other.stats().freed, 'what it made after the close is freed');
    });

    it('hands out pass-throughs without an engine', async () => {
      const r = await pool.acquire(8000, 8000, 'sinc_best');
      assert.equal(r.isPassThrough, true);
      r.destroy();
      assert.equal(pool.stats().created, 0);
    });

    it('close() frees idle engines; later releases free too; acquire rejects', async () => {
      const held = await pool.acquire(8000, 16000, 'linear');
      (await pool.acquire(8000, 16000, 'linear')).destroy();
      pool.close();
      assert.equal(pool.stats().idle, 0);
      held.destroy();
      assert.deepEqual([pool.stats().freed, pool.stats().idle], [2, 0]);
      await assert.rejects(pool.acquire(8000, 16000, 'linear'), /after close/);
      pool.close();
    });
  });
});
