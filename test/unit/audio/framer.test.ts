import assert from 'node:assert/strict';
import { Framer } from '../../../src/audio/framer';

/** Samples whose value is their position in the stream (mod 2^15), so order errors show. */
function ramp(from: number, length: number): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = (from + i) & 0x7fff;
  return out;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

describe('audio/framer', () => {
  it('cuts unaligned chunks into exact 160-sample frames, in order', () => {
    const f = new Framer({ sampleRateHz: 8000 });
    assert.equal(f.frameSamples, 160);
    let pos = 0;
    for (const n of [100, 100, 500, 7]) {
      f.write(ramp(pos, n));
      pos += n;
    }
    const frames: Int16Array[] = [];
    for (let frame = f.read(); frame !== undefined; frame = f.read()) frames.push(frame);
    assert.equal(frames.length, 4);
    frames.forEach((fr, i) => assert.deepEqual(fr, ramp(i * 160, 160)));
    assert.equal(f.bufferedSamples, 707 - 640);
    assert.equal(f.read(), undefined, 'no partial frames from read()');
  });

  it('reports buffered audio in ms and whole frames available', () => {
    const f = new Framer({ sampleRateHz: 16000 });
    f.write(new Int16Array(1000));
    assert.equal(f.bufferedMs, 62.5);
    assert.equal(f.framesAvailable, 3);
  });

  it('copies the input: later changes to the caller array do not leak in', () => {
    const f = new Framer({ sampleRateHz: 8000 });
    const chunk = ramp(0, 160);
    f.write(chunk);
    chunk.fill(0);
    assert.deepEqual(f.read(), ramp(0, 160));
  });

  it('reads into a caller array without allocating', () => {
    const f = new Framer({ sampleRateHz: 8000 });
    f.write(ramp(0, 320));
    const out = new Int16Array(160);
    assert.equal(f.read(out), out);
    assert.equal(f.read(out), out);
    assert.deepEqual(out, ramp(160, 160));
    f.write(ramp(0, 160));
    assert.throws(() => f.read(new Int16Array(100)), RangeError);
  });

  it('keeps order across ring wraparound and growth (seeded random sizes)', () => {
    const rnd = seeded(42);
    const f = new Framer({ sampleRateHz: 8000 });
    let written = 0;
    let read = 0;
    for (let step = 0; step < 5000; step++) {
      if (rnd() < 0.55) {
        const n = Math.floor(rnd() * 700);
        f.write(ramp(written, n));
        written += n;
      } else {
        const frame = f.read();
        if (frame !== undefined) {
          for (let i = 0; i < 160; i++) if (frame[i] !== ((read + i) & 0x7fff)) assert.fail(`sample ${read + i} out of order`);
          read += 160;
        }
      }
      assert.equal(f.bufferedSamples, written - read);
    }
    assert.ok(read > 100_000, 'the test exercised a long stream');
  });

  it('clear() drops everything (barge-in) and the framer keeps working', () => {
    const f = new Framer({ sampleRateHz: 8000 });
    f.write(ramp(0, 1000));
    f.clear();
    assert.equal(f.bufferedSamples, 0);
    assert.equal(f.read(), undefined);
    f.write(ramp(5, 160));
    assert.deepEqual(f.read(), ramp(5, 160));
  });

  it('flush() pads the trailing partial frame with silence', () => {
    const f = new Framer({ sampleRateHz: 8000 });
    f.write(ramp(1, 200));
    assert.deepEqual(f.flush(), ramp(1, 160), 'a full frame first');
    const last = f.flush();
    assert.ok(last);
    assert.equal(last.length, 160);
    assert.deepEqual(last.subarray(0, 40), ramp(161, 40));
    assert.ok(last.subarray(40).every((s) => s === 0));
    assert.equal(f.flush(), undefined);
  });

  it('with a cap and drop-oldest, keeps the newest audio and counts the drop', () => {
    const f = new Framer({ sampleRateHz: 8000, maxBufferedMs: 100 }); // 800 samples
    assert.equal(f.write(ramp(0, 600)), 0);
    assert.equal(f.write(ramp(600, 400)), 200);
    assert.equal(f.bufferedSamples, 800);
    assert.deepEqual(f.read(), ramp(200, 160));
    assert.equal(f.droppedSamples, 200);
  });

  it('with a cap and drop-oldest, a chunk larger than the cap keeps its own tail', () => {
    const f = new Framer({ sampleRateHz: 8000, maxBufferedMs: 100 });
    f.write(ramp(0, 300));
    assert.equal(f.write(ramp(300, 1000)), 300 + 200);
    assert.deepEqual(f.read(), ramp(500, 160));
  });

  it('with a cap and drop-newest, keeps the queued audio and drops the excess', () => {
    const f = new Framer({ sampleRateHz: 8000, maxBufferedMs: 100, overflow: 'drop-newest' });
    f.write(ramp(0, 600));
    assert.equal(f.write(ramp(600, 400)), 200);
    const frames: Int16Array[] = [];
    for (let fr = f.read(); fr; fr = f.read()) frames.push(fr);
    assert.deepEqual(frames[4], ramp(640, 160));
    assert.equal(f.bufferedSamples, 0);
  });

  it('rejects a rate × frame length that is not a whole number of samples', () => {
    assert.throws(() => new Framer({ sampleRateHz: 22050, frameMs: 10.5 }), RangeError);
    assert.throws(() => new Framer({ sampleRateHz: 8000, maxBufferedMs: 10 }), RangeError);
  });
});
