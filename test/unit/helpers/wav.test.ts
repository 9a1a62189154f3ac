import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTone } from '../../helpers/signal';
import { encodeWav, parseWav, readWavFile, writeWavFile } from '../../helpers/wav';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Build a RIFF file from chunks (id, body), adding pad bytes after odd-sized bodies. */
function riff(chunks: Array<[string, Buffer]>, dataSizeOverride?: number): Buffer {
  const parts: Buffer[] = [];
  for (const [id, body] of chunks) {
    const header = Buffer.alloc(8);
    header.write(id, 0, 'latin1');
    header.writeUInt32LE(id === 'data' && dataSizeOverride !== undefined ? dataSizeOverride : body.length, 4);
    parts.push(header, body);
    if (body.length % 2 === 1) parts.push(Buffer.alloc(1));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(4 + body.length, 4);
  head.write('WAVE', 8, 'latin1');
  return Buffer.concat([head, body]);
}

function fmt(tag: number, channels: number, rate: number, bits: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE((rate * channels * bits) / 8, 8);
  b.writeUInt16LE((channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

describe('test/helpers/wav', () => {
  it('writes the canonical 44-byte header (8 kHz mono 16-bit, as MixMonitor records)', () => {
    const buf = encodeWav({ sampleRateHz: 8000, samples: Int16Array.from([1, -2]) });
    assert.deepEqual(
      buf,
      hex(`52494646 28000000 57415645  666d7420 10000000 0100 0100 401f0000 803e0000 0200 1000
           64617461 04000000  0100 feff`),
    );
  });

  it('round-trips audio', () => {
    const samples = generateTone({ freqHz: 440, rateHz: 8000, durationMs: 250 });
    const back = parseWav(encodeWav({ sampleRateHz: 8000, samples }));
    assert.equal(back.sampleRateHz, 8000);
    assert.equal(back.channels, 1);
    assert.deepEqual(back.samples, samples);
  });

  it('skips other chunks, including odd-sized ones with their pad byte', () => {
    const buf = riff([
      ['fmt ', fmt(1, 1, 16000, 16)],
      ['LIST', Buffer.from('INFOISFT\x05\x00\x00\x00Lavf\x00', 'latin1')],
      ['odd ', Buffer.from([1, 2, 3])],
      ['data', hex('0100 0200 0300')],
    ]);
    assert.deepEqual(parseWav(buf), { sampleRateHz: 16000, channels: 1, samples: Int16Array.from([1, 2, 3]) });
  });

  it('accepts WAVE_FORMAT_EXTENSIBLE with a PCM sub-format', () => {
    const ext = Buffer.alloc(40);
    fmt(0xfffe, 1, 8000, 16).copy(ext);
    ext.writeUInt16LE(22, 16);
    ext.writeUInt16LE(1, 24); // SubFormat GUID 00000001-0000-0010-8000-00aa00389b71
    assert.deepEqual(parseWav(riff([['fmt ', ext], ['data', hex('0700')]])).samples, Int16Array.from([7]));
  });

  it('clamps a data size that overruns the file (header not finalised by a killed writer)', () => {
    const whole = riff([['fmt ', fmt(1, 1, 8000, 16)], ['data', hex('0100 0200 0300')]], 0xffffffff);
    const cutMidSample = whole.subarray(0, whole.length - 1);
    assert.deepEqual(parseWav(cutMidSample).samples, Int16Array.from([1, 2]));
  });

  it('keeps stereo interleaved and reports the channel count', () => {
    const w = parseWav(encodeWav({ sampleRateHz: 8000, samples: Int16Array.from([1, 2, 3, 4]), channels: 2 }));
    assert.equal(w.channels, 2);
    assert.deepEqual(w.samples, Int16Array.from([1, 2, 3, 4]));
  });

  it('rejects what it cannot read, with a reason', () => {
    assert.throws(() => parseWav(Buffer.from('not a wav file at all')), /RIFF/);
    assert.throws(() => parseWav(riff([['fmt ', fmt(1, 1, 8000, 8)], ['data', hex('00')]])), /16-bit PCM/);
    assert.throws(() => parseWav(riff([['fmt ', fmt(49, 1, 8000, 0)], ['data', hex('00')]])), /tag 49/); // GSM (Asterisk .WAV)
    assert.throws(() => parseWav(riff([['fmt ', fmt(1, 1, 8000, 16)]])), /no data chunk/);
    assert.throws(() => parseWav(riff([['data', hex('0000')]])), /before fmt/);
  });

  it('writes and reads files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wav-test-'));
    try {
      const samples = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 100 });
      await writeWavFile(join(dir, 'a.wav'), { sampleRateHz: 8000, samples });
      assert.deepEqual((await readWavFile(join(dir, 'a.wav'))).samples, samples);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
