import assert from 'node:assert/strict';
import {
  float32ToInt16,
  int16ToFloat32,
  readPcm16BE,
  readPcm16LE,
  writePcm16BE,
  writePcm16LE,
} from '../../../src/audio/pcm';
import { telephonyCodecFor } from '../../../src/media/telephony-codec';
import { PT_L16_MONO, PT_PCMA, PT_PCMU } from '../../../src/rtp/packet';
import { dominantFrequencyHz, generateTone, tonePurity } from '../../helpers/signal';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('audio/pcm', () => {
  describe('byte order', () => {
    it('reads big-endian slin (network order, as Asterisk sends on RTP)', () => {
      assert.deepEqual(readPcm16BE(hex('0001 ffff 8000 7fff 0100')), Int16Array.from([1, -1, -32768, 32767, 256]));
    });

    it('reads little-endian PCM (agent WebSocket audio, wav)', () => {
      assert.deepEqual(readPcm16LE(hex('0100 ffff 0080 ff7f 0001')), Int16Array.from([1, -1, -32768, 32767, 256]));
    });

    it('writes the same bytes back', () => {
      const samples = Int16Array.from([1, -1, -32768, 32767, 256]);
      assert.deepEqual(writePcm16BE(samples), hex('0001 ffff 8000 7fff 0100'));
      assert.deepEqual(writePcm16LE(samples), hex('0100 ffff 0080 ff7f 0001'));
    });

    it('round-trips every 16-bit value both ways', () => {
      const all = new Int16Array(65536);
      for (let i = 0; i < all.length; i++) all[i] = i - 32768;
      assert.deepEqual(readPcm16BE(writePcm16BE(all)), all);
      assert.deepEqual(readPcm16LE(writePcm16LE(all)), all);
    });

    it('ignores a trailing odd byte', () => {
      assert.deepEqual(readPcm16BE(hex('0001 02')), Int16Array.from([1]));
      assert.deepEqual(readPcm16LE(hex('0100 02')), Int16Array.from([1]));
    });

    it('reads from a Buffer view at an odd byte offset (pooled Buffers are unaligned)', () => {
      const backing = hex('aa 0001 ffff');
      assert.deepEqual(readPcm16BE(backing.subarray(1)), Int16Array.from([1, -1]));
    });

    it('writes into caller arrays and returns the filled view', () => {
      const samples = new Int16Array(10);
      const r = readPcm16BE(hex('0001 0002'), samples);
      assert.equal(r.buffer, samples.buffer);
      assert.equal(r.length, 2);
      const bytes = Buffer.alloc(8, 0xee);
      const w = writePcm16LE(Int16Array.from([1]), bytes);
      assert.equal(w.length, 2);
      assert.equal(bytes[2], 0xee);
      assert.throws(() => readPcm16LE(Buffer.alloc(8), new Int16Array(3)), RangeError);
      assert.throws(() => writePcm16BE(new Int16Array(3), Buffer.alloc(5)), RangeError);
    });
  });

  describe('Int16 ⇄ Float32', () => {
    it('scales by 1/32768', () => {
      assert.deepEqual(int16ToFloat32(Int16Array.from([-32768, -16384, 0, 16384, 32767])), Float32Array.from([-1, -0.5, 0, 0.5, 32767 / 32768]));
    });

    it('rounds and clips on the way back', () => {
      const f = Float32Array.from([0, 0.5, -1, 1, 1.5, -2, 0.4 / 32768, 0.6 / 32768, -0.6 / 32768]);
      assert.deepEqual(float32ToInt16(f), Int16Array.from([0, 16384, -32768, 32767, 32767, -32768, 0, 1, -1]));
    });

    it('round-trips every Int16 value exactly', () => {
      const all = new Int16Array(65536);
      for (let i = 0; i < all.length; i++) all[i] = i - 32768;
      assert.deepEqual(float32ToInt16(int16ToFloat32(all)), all);
    });

    it('converts only `length` samples into a caller array', () => {
      const out = new Int16Array(4);
      const r = float32ToInt16(Float32Array.from([0.5, 0.5, 0.5]), out, 2);
      assert.equal(r.length, 2);
      assert.deepEqual(out, Int16Array.from([16384, 16384, 0, 0]));
    });
  });

  describe('TelephonyCodec', () => {
    it('maps each ExternalMedia format to its static payload type', () => {
      assert.equal(telephonyCodecFor('slin').payloadType, PT_L16_MONO);
      assert.equal(telephonyCodecFor('ulaw').payloadType, PT_PCMU);
      assert.equal(telephonyCodecFor('alaw').payloadType, PT_PCMA);
      assert.deepEqual(
        (['slin', 'ulaw', 'alaw'] as const).map((f) => telephonyCodecFor(f).bytesPerSample),
        [2, 1, 1],
      );
    });

    it('slin payloads are big-endian', () => {
      const codec = telephonyCodecFor('slin');
      assert.deepEqual(codec.encode(Int16Array.from([1, -2])), hex('0001 fffe'));
      assert.deepEqual(codec.decode(hex('0001 fffe')), Int16Array.from([1, -2]));
    });

    for (const format of ['slin', 'ulaw', 'alaw'] as const) {
      it(`${format}: a 20 ms frame is 160 samples and a 1 kHz tone survives the round trip`, () => {
        const codec = telephonyCodecFor(format);
        const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 1000 });
        const payload = codec.encode(tone.subarray(0, 160));
        assert.equal(payload.length, 160 * codec.bytesPerSample);
        const decoded = codec.decode(codec.encode(tone));
        assert.equal(decoded.length, tone.length);
        assert.ok(Math.abs(dominantFrequencyHz(decoded, 8000) - 1000) < 0.1);
        assert.ok(tonePurity(decoded, 8000) > 0.99);
      });
    }

    it('decoding slin with the wrong byte order is detectably broken (the check has teeth)', () => {
      // 440 Hz, not 1 kHz: a 1 kHz tone at 8 kHz repeats every 8 samples, so its byte-swapped
      // version is periodic too and keeps most energy on one harmonic.
      const tone = generateTone({ freqHz: 440, rateHz: 8000, durationMs: 1000 });
      const wrong = readPcm16LE(telephonyCodecFor('slin').encode(tone));
      assert.ok(tonePurity(wrong, 8000) < 0.5);
      assert.ok(Math.abs(dominantFrequencyHz(wrong, 8000) - 440) > 10);
    });
  });
});
