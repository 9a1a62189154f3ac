import assert from 'node:assert/strict';
import { decodeUlaw, encodeUlaw } from '../../../src/audio/g711';
import {
  bestSineFit,
  dominantFrequencyHz,
  findGaps,
  fitSine,
  generateNoise,
  generateTone,
  rms,
  tonePurity,
  toneSnrDb,
} from '../../helpers/signal';

function add(a: Int16Array, b: Int16Array): Int16Array {
  return a.map((x, i) => x + (b[i] as number));
}

describe('test/helpers/signal', () => {
  describe('generators and rms', () => {
    it('generates a tone of the requested length and level', () => {
      const t = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 100, amplitude: 10_000 });
      assert.equal(t.length, 800);
      assert.equal(Math.max(...t), 10_000);
      assert.ok(Math.abs(rms(t) - 10_000 / Math.SQRT2) < 1);
    });

    it('honours the start phase', () => {
      const t = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 1, amplitude: 1000, phaseRad: Math.PI / 2 });
      assert.equal(t[0], 1000);
    });

    it('generates reproducible noise with the requested rms', () => {
      const a = generateNoise({ rateHz: 8000, durationMs: 1000, rms: 300, seed: 3 });
      assert.deepEqual(a, generateNoise({ rateHz: 8000, durationMs: 1000, rms: 300, seed: 3 }));
      assert.ok(Math.abs(rms(a) - 300) < 6);
    });

    it('rms of nothing is 0', () => {
      assert.equal(rms([]), 0);
    });
  });

  describe('dominantFrequencyHz', () => {
    it('has sub-bin accuracy on an off-bin frequency', () => {
      const t = generateTone({ freqHz: 1000.3, rateHz: 8000, durationMs: 1000 });
      assert.ok(Math.abs(dominantFrequencyHz(t, 8000) - 1000.3) < 0.02);
    });

    it('is accurate on short windows too (one 20 ms frame has 50 Hz bins)', () => {
      const t = generateTone({ freqHz: 440, rateHz: 16000, durationMs: 20 });
      assert.ok(Math.abs(dominantFrequencyHz(t, 16000) - 440) < 3);
    });

    it('finds a tone buried in noise', () => {
      const t = add(generateTone({ freqHz: 2345, rateHz: 16000, durationMs: 500, amplitude: 3000 }), generateNoise({ rateHz: 16000, durationMs: 500, rms: 3000 }));
      assert.ok(Math.abs(dominantFrequencyHz(t, 16000) - 2345) < 1);
    });

    it('searches only the requested range', () => {
      const two = add(generateTone({ freqHz: 300, rateHz: 8000, durationMs: 500, amplitude: 8000 }), generateTone({ freqHz: 1800, rateHz: 8000, durationMs: 500, amplitude: 2000 }));
      assert.ok(Math.abs(dominantFrequencyHz(two, 8000) - 300) < 0.5);
      assert.ok(Math.abs(dominantFrequencyHz(two, 8000, { minHz: 1000 }) - 1800) < 0.5);
    });
  });

  describe('sine fit and SNR', () => {
    it('recovers amplitude, phase and a known SNR', () => {
      const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 2000, amplitude: 8000, phaseRad: 0.7 });
      const noisy = add(tone, generateNoise({ rateHz: 8000, durationMs: 2000, rms: 80 }));
      const fit = fitSine(noisy, 8000, 1000);
      const expectedSnr = 20 * Math.log10(8000 / Math.SQRT2 / 80); // 37.0 dB
      assert.ok(Math.abs(fit.snrDb - expectedSnr) < 0.3, `SNR ${fit.snrDb}`);
      assert.ok(Math.abs(fit.amplitude - 8000) < 10);
      assert.ok(Math.abs(fit.phaseRad - 0.7) < 0.01);
      assert.ok(Math.abs(fit.residualRms - 80) < 2);
    });

    it('reports int16 rounding as the only residual of a clean tone (> 80 dB)', () => {
      assert.ok(toneSnrDb(generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 1000 }), 8000, 1000) > 80);
    });

    it('refines the frequency when none is given', () => {
      const t = generateTone({ freqHz: 997.37, rateHz: 8000, durationMs: 2000 });
      assert.ok(toneSnrDb(t, 8000) > 80);
      assert.ok(Math.abs(bestSineFit(t, 8000).freqHz - 997.37) < 0.001);
      assert.ok(toneSnrDb(t, 8000, 997) < 30, 'a 0.37 Hz error ruins a 2 s fit, so the refinement matters');
    });
  });

  describe('tonePurity', () => {
    it('is ~1 for a tone, ~0.5 for two equal tones, ~0 for noise', () => {
      assert.ok(tonePurity(generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 1000 }), 8000) > 0.999);
      const two = add(generateTone({ freqHz: 500, rateHz: 8000, durationMs: 1000, amplitude: 5000 }), generateTone({ freqHz: 1500, rateHz: 8000, durationMs: 1000, amplitude: 5000 }));
      assert.ok(Math.abs(tonePurity(two, 8000) - 0.5) < 0.02);
      assert.ok(tonePurity(generateNoise({ rateHz: 8000, durationMs: 1000, rms: 1000 }), 8000) < 0.05);
    });
  });

  describe('findGaps', () => {
    const tone = (): Int16Array => generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 1000, amplitude: 8000 });

    it('finds nothing in a clean tone', () => {
      const r = findGaps(tone(), 8000, 20);
      assert.equal(r.frameCount, 50);
      assert.deepEqual(r.silentFrames, []);
      assert.deepEqual(r.discontinuities, []);
      assert.ok(Math.abs(r.frequencyHz - 1000) < 0.05);
    });

    it('finds nothing in a G.711-coded tone (quantisation is not a discontinuity)', () => {
      const coded = decodeUlaw(encodeUlaw(generateTone({ freqHz: 440, rateHz: 8000, durationMs: 1000, amplitude: 3000 })));
      assert.deepEqual(findGaps(coded, 8000, 20).discontinuities, []);
    });

    it('reports a dropped frame as silent, with level steps at both edges', () => {
      const t = tone();
      t.fill(0, 10 * 160, 11 * 160);
      const r = findGaps(t, 8000, 20);
      assert.deepEqual(r.silentFrames, [10]);
      assert.equal(r.discontinuities.length, 2);
      assert.ok(r.discontinuities.every((d) => d.kind === 'amplitude'));
      assert.ok(Math.abs(r.discontinuities[0]!.sampleIndex - 1600) <= 2);
      assert.ok(Math.abs(r.discontinuities[1]!.sampleIndex - 1760) <= 2);
    });

    it('reports a phase jump (e.g. a lost packet spliced out) as one phase discontinuity', () => {
      const a = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 500, amplitude: 8000 });
      const b = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 500, amplitude: 8000, phaseRad: 2 * Math.PI * 0.5 + Math.PI / 2 });
      const joined = new Int16Array(8000);
      joined.set(a, 0);
      joined.set(b, 4000);
      const r = findGaps(joined, 8000, 20);
      assert.equal(r.discontinuities.length, 1);
      assert.equal(r.discontinuities[0]!.kind, 'phase');
      assert.ok(Math.abs(r.discontinuities[0]!.sampleIndex - 4000) <= 2);
      assert.deepEqual(r.silentFrames, []);
    });

    it('reports a level step as an amplitude discontinuity', () => {
      const t = tone();
      for (let i = 4000; i < t.length; i++) t[i] = Math.round((t[i] as number) / 2);
      const r = findGaps(t, 8000, 20, { freqHz: 1000 });
      assert.equal(r.discontinuities.length, 1);
      assert.equal(r.discontinuities[0]!.kind, 'amplitude');
    });

    it('reports a one-sample click', () => {
      const t = tone();
      t[3333] = (t[3333] as number) + 4000;
      const r = findGaps(t, 8000, 20);
      assert.equal(r.discontinuities.length, 1);
      assert.ok(Math.abs(r.discontinuities[0]!.sampleIndex - 3333) <= 2);
    });
  });
});
