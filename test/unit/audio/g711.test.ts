import assert from 'node:assert/strict';
import {
  alawToLinear,
  decodeAlaw,
  decodeUlaw,
  encodeAlaw,
  encodeUlaw,
  linearToAlaw,
  linearToUlaw,
  ulawToLinear,
} from '../../../src/audio/g711';
import { fitSine, generateTone } from '../../helpers/signal';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('audio/g711', () => {
  describe('µ-law (Sun g711.c / ITU-T G.711)', () => {
    it('encodes known vectors', () => {
      const cases: Array<[number, number]> = [
        [0, 0xff],
        [-1, 0x7e],
        [8, 0xfe],
        [-8, 0x7e],
        [32767, 0x80],
        [-32768, 0x00],
        [32124, 0x80],
        [-32124, 0x00],
        [1000, 0xce],
      ];
      for (const [x, code] of cases) assert.equal(linearToUlaw(x), code, `linearToUlaw(${x})`);
    });

    it('decodes known vectors', () => {
      const cases: Array<[number, number]> = [
        [0xff, 0],
        [0x7f, 0], // "negative zero"
        [0xfe, 8],
        [0x7e, -8],
        [0x80, 32124],
        [0x00, -32124],
        [0xce, 988],
      ];
      for (const [code, x] of cases) assert.equal(ulawToLinear(code), x, `ulawToLinear(0x${code.toString(16)})`);
    });

    it('matches rows of the published µ-law decode table (codes 0xC0–0xCF and 0xF0–0xFF)', () => {
      const rowC = [1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, 1372, 1308, 1244, 1180, 1116, 1052, 988, 924];
      const rowF = [120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0];
      rowC.forEach((x, i) => assert.equal(ulawToLinear(0xc0 + i), x));
      rowF.forEach((x, i) => assert.equal(ulawToLinear(0xf0 + i), x));
      rowC.forEach((x, i) => assert.equal(ulawToLinear(0x40 + i), -x));
    });

    it('is sign-symmetric and monotonic over its 255 distinct levels', () => {
      const levels = new Set<number>();
      for (let b = 0; b < 256; b++) {
        levels.add(ulawToLinear(b));
        assert.equal(ulawToLinear(b) + ulawToLinear(b ^ 0x80), 0, `symmetry at 0x${b.toString(16)}`);
      }
      assert.equal(levels.size, 255);
      // Codes 0x80…0xFF run from +32124 down to 0.
      for (let b = 0x80; b < 0xff; b++) assert.ok(ulawToLinear(b) > ulawToLinear(b + 1));
    });

    it('re-encodes every decoded level to the same code (except negative zero)', () => {
      for (let b = 0; b < 256; b++) if (b !== 0x7f) assert.equal(linearToUlaw(ulawToLinear(b)), b);
    });

    it('round-trips every 16-bit sample within half a quantisation step', () => {
      for (let x = -32768; x <= 32767; x++) {
        const err = Math.abs(ulawToLinear(linearToUlaw(x)) - x);
        const bound = Math.abs(x) <= 32124 ? Math.abs(x) / 32 + 8 : 644; // beyond 32124: clipped
        if (err > bound) assert.fail(`µ-law error ${err} at ${x} exceeds ${bound}`);
      }
    });
  });

  describe('A-law (Sun g711.c / ITU-T G.711)', () => {
    it('encodes known vectors', () => {
      const cases: Array<[number, number]> = [
        [0, 0xd5],
        [-1, 0x55],
        [32767, 0xaa],
        [-32768, 0x2a],
        [1000, 0xfa],
      ];
      for (const [x, code] of cases) assert.equal(linearToAlaw(x), code, `linearToAlaw(${x})`);
    });

    it('decodes known vectors', () => {
      const cases: Array<[number, number]> = [
        [0xd5, 8],
        [0x55, -8],
        [0xaa, 32256],
        [0x2a, -32256],
        [0x80, 5504],
        [0x00, -5504],
        [0xfa, 1008],
      ];
      for (const [code, x] of cases) assert.equal(alawToLinear(code), x, `alawToLinear(0x${code.toString(16)})`);
    });

    it('matches the published A-law decode table (SDL2 SDL_wave.c, negative half 0x00–0x7F)', () => {
      // prettier-ignore
      const published = [
        -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, -7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784,
        -2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, -3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392,
        -22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
        -11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472, -15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568,
        -344, -328, -376, -360, -280, -264, -312, -296, -472, -456, -504, -488, -408, -392, -440, -424,
        -88, -72, -120, -104, -24, -8, -56, -40, -216, -200, -248, -232, -152, -136, -184, -168,
        -1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184, -1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696,
        -688, -656, -752, -720, -560, -528, -624, -592, -944, -912, -1008, -976, -816, -784, -880, -848,
      ];
      published.forEach((x, code) => {
        assert.equal(alawToLinear(code), x, `code 0x${code.toString(16)}`);
        assert.equal(alawToLinear(code | 0x80), -x, `code 0x${(code | 0x80).toString(16)}`);
      });
    });

    it('is sign-symmetric with 256 distinct levels (no zero level)', () => {
      const levels = new Set<number>();
      for (let b = 0; b < 256; b++) {
        levels.add(alawToLinear(b));
        assert.equal(alawToLinear(b) + alawToLinear(b ^ 0x80), 0);
      }
      assert.equal(levels.size, 256);
      assert.ok(!levels.has(0));
    });

    it('re-encodes every decoded level to the same code', () => {
      for (let b = 0; b < 256; b++) assert.equal(linearToAlaw(alawToLinear(b)), b);
    });

    it('round-trips every 16-bit sample within half a quantisation step', () => {
      for (let x = -32768; x <= 32767; x++) {
        const err = Math.abs(alawToLinear(linearToAlaw(x)) - x);
        const bound = Math.abs(x) <= 32256 ? Math.abs(x) / 32 + 8 : 512;
        if (err > bound) assert.fail(`A-law error ${err} at ${x} exceeds ${bound}`);
      }
    });
  });

  describe('buffer codecs', () => {
    it('encode/decode arrays like the scalar functions', () => {
      const pcm = Int16Array.from([0, -1, 1000, 32767, -32768]);
      assert.deepEqual(encodeUlaw(pcm), hex('ff 7e ce 80 00'));
      assert.deepEqual(encodeAlaw(pcm), hex('d5 55 fa aa 2a'));
      assert.deepEqual(decodeUlaw(hex('ff 7e ce 80 00')), Int16Array.from([0, -8, 988, 32124, -32124]));
      assert.deepEqual(decodeAlaw(hex('d5 55 fa aa 2a')), Int16Array.from([8, -8, 1008, 32256, -32256]));
    });

    it('write into caller buffers and return the filled view', () => {
      const out = Buffer.alloc(10, 0x11);
      const enc = encodeUlaw(Int16Array.from([0, 0]), out);
      assert.equal(enc.buffer, out.buffer);
      assert.equal(enc.length, 2);
      assert.equal(out[2], 0x11);
      const samples = new Int16Array(8);
      const dec = decodeAlaw(hex('d5d5d5'), samples);
      assert.equal(dec.buffer, samples.buffer);
      assert.equal(dec.length, 3);
      assert.throws(() => encodeAlaw(new Int16Array(4), Buffer.alloc(3)), RangeError);
      assert.throws(() => decodeUlaw(Buffer.alloc(4), new Int16Array(3)), RangeError);
    });

    for (const [name, enc, dec] of [
      ['µ-law', encodeUlaw, decodeUlaw],
      ['A-law', encodeAlaw, decodeAlaw],
    ] as const) {
      it(`${name} keeps a −10 dBFS 1 kHz tone at > 35 dB SNR (G.711 gives ≈ 38 dB)`, () => {
        const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 500, amplitude: 10_362 });
        const fit = fitSine(dec(enc(tone)), 8000, 1000);
        assert.ok(fit.snrDb > 35, `SNR ${fit.snrDb.toFixed(1)} dB`);
        assert.ok(fit.snrDb < 45, `SNR ${fit.snrDb.toFixed(1)} dB is implausibly high for 8-bit G.711`);
        assert.ok(Math.abs(fit.amplitude - 10_362) < 100, `amplitude ${fit.amplitude}`);
      });
    }
  });
});
