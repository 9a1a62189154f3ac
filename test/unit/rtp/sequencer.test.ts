import assert from 'node:assert/strict';
import { buildRtp } from '../../../src/rtp/packet';
import { RtpReceiveStats, RtpSender, type SeqVerdict } from '../../../src/rtp/sequencer';

/** Deterministic "random" values, in order. */
function fixedRandom(...values: number[]): () => number {
  let i = 0;
  return () => {
    const v = values[i++];
    if (v === undefined) throw new Error('fixedRandom exhausted');
    return v;
  };
}

describe('rtp/sequencer', () => {
  describe('RtpSender', () => {
    it('draws SSRC, initial seq and timestamp from the random source', () => {
      const s = new RtpSender({ payloadType: 10, clockRateHz: 8000, randomUint32: fixedRandom(0xcafebabe, 0x1_2345, 0x8000_0000) });
      const h = s.next(160, 0);
      assert.equal(h.ssrc, 0xcafebabe);
      assert.equal(h.sequenceNumber, 0x2345, 'initial seq is the low 16 bits');
      assert.equal(h.timestamp, 0x8000_0000);
      assert.equal(h.payloadType, 10);
    });

    it('writeNextHeader writes in place the header next() gives, also across a gap (marker, timestamp jump)', () => {
      const seeds = [0xcafebabe, 0xfffe, 0xffff_ff00];
      const a = new RtpSender({ payloadType: 10, clockRateHz: 8000, randomUint32: fixedRandom(...seeds) });
      const b = new RtpSender({ payloadType: 10, clockRateHz: 8000, randomUint32: fixedRandom(...seeds) });
      const out = Buffer.alloc(12 + 320, 0xaa);
      for (const atMs of [0, 20, 40, 120, 140]) {
        const expected = buildRtp(a.next(160, atMs), Buffer.alloc(0));
        b.writeNextHeader(out, 160, atMs);
        assert.deepEqual(out.subarray(0, 12), expected, `at ${atMs} ms`);
        assert.equal(out[12], 0xaa, 'the payload is left alone');
      }
      assert.equal(b.talkspurts, a.talkspurts);
    });

    it('refuses a payload type outside 0..127', () => {
      assert.throws(() => new RtpSender({ payloadType: 128, clockRateHz: 8000 }), RangeError);
      assert.throws(() => new RtpSender({ payloadType: -1, clockRateHz: 8000 }), RangeError);
    });

    it('uses crypto randomness by default (two senders differ)', () => {
      const a = new RtpSender({ payloadType: 0, clockRateHz: 8000 });
      const b = new RtpSender({ payloadType: 0, clockRateHz: 8000 });
      assert.notEqual(a.ssrc, b.ssrc);
    });

    it('marks the first packet, then counts seq +1 and ts +samples at a steady 20 ms', () => {
      const s = new RtpSender({ payloadType: 0, clockRateHz: 8000, ssrc: 1, initialSequenceNumber: 100, initialTimestamp: 1000 });
      const headers = [0, 20, 40, 60].map((t) => s.next(160, t));
      assert.deepEqual(headers.map((h) => h.sequenceNumber), [100, 101, 102, 103]);
      assert.deepEqual(headers.map((h) => h.timestamp), [1000, 1160, 1320, 1480]);
      assert.deepEqual(headers.map((h) => h.marker), [true, false, false, false]);
      assert.equal(s.packets, 4);
      assert.equal(s.talkspurts, 1);
    });

    it('wraps seq at 16 bits and timestamp at 32 bits', () => {
      const s = new RtpSender({ payloadType: 0, clockRateHz: 8000, ssrc: 1, initialSequenceNumber: 65534, initialTimestamp: 0xffff_ff00 });
      const headers = [0, 20, 40, 60].map((t) => s.next(160, t));
      assert.deepEqual(headers.map((h) => h.sequenceNumber), [65534, 65535, 0, 1]);
      assert.deepEqual(headers.map((h) => h.timestamp), [0xffff_ff00, 0xffff_ffa0, 0x40, 0xe0]);
    });

    it('advances ts by the real elapsed samples across a gap and sets the marker', () => {
      const s = new RtpSender({ payloadType: 10, clockRateHz: 8000, ssrc: 1, initialSequenceNumber: 0, initialTimestamp: 0 });
      s.next(160, 1000);
      s.next(160, 1020);
      const afterGap = s.next(160, 1520); // 500 ms since the previous packet: 24 slots unsent
      assert.equal(afterGap.sequenceNumber, 2, 'seq stays contiguous: nothing was lost');
      assert.equal(afterGap.timestamp, 160 + 4000);
      assert.equal(afterGap.marker, true);
      const next = s.next(160, 1540);
      assert.equal(next.timestamp, 160 + 4000 + 160);
      assert.equal(next.marker, false);
      assert.equal(s.talkspurts, 2);
    });

    it('keeps ts continuous under timer jitter below half a packet', () => {
      const s = new RtpSender({ payloadType: 10, clockRateHz: 8000, ssrc: 1, initialSequenceNumber: 0, initialTimestamp: 0 });
      const times = [0, 27, 41, 58, 83];
      const headers = times.map((t) => s.next(160, t));
      assert.deepEqual(headers.map((h) => h.timestamp), [0, 160, 320, 480, 640]);
      assert.deepEqual(headers.map((h) => h.marker), [true, false, false, false, false]);
    });

    it('follows the packet size of the previous packet (e.g. 40 ms packets)', () => {
      const s = new RtpSender({ payloadType: 10, clockRateHz: 8000, ssrc: 1, initialSequenceNumber: 0, initialTimestamp: 0 });
      const headers = [0, 40, 80].map((t) => s.next(320, t));
      assert.deepEqual(headers.map((h) => h.timestamp), [0, 320, 640]);
    });
  });

  describe('RtpReceiveStats (RFC 3550 A.1)', () => {
    function feed(stats: RtpReceiveStats, seqs: number[], ssrc = 1): SeqVerdict[] {
      return seqs.map((s) => stats.record(s, ssrc));
    }

    it('classifies an in-order stream and counts nothing lost', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [10, 11, 12, 13]), ['first', 'in-order', 'in-order', 'in-order']);
      const snap = st.snapshot();
      assert.equal(snap.received, 4);
      assert.equal(snap.expected, 4);
      assert.equal(snap.lost, 0);
      assert.equal(snap.ssrc, 1);
    });

    it('extends sequence numbers across the 16-bit wrap', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [65534, 65535, 0, 1]), ['first', 'in-order', 'in-order', 'in-order']);
      const snap = st.snapshot();
      assert.equal(snap.extendedHighestSeq, 65536 + 1, 'one cycle + max_seq 1');
      assert.equal(snap.expected, 4);
      assert.equal(snap.lost, 0);
    });

    it('counts a gap across the wrap as loss', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [65533, 65534, 2]), ['first', 'in-order', 'gap']);
      assert.equal(st.lastGapPackets, 3, '65535, 0 and 1 are missing');
      assert.equal(st.snapshot().lost, 3);
      assert.equal(st.snapshot().expected, 6);
    });

    it('counts a late packet as received and reordered, reducing loss', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [10, 12, 11, 13]), ['first', 'gap', 'late', 'in-order']);
      const snap = st.snapshot();
      assert.equal(snap.late, 1);
      assert.equal(snap.lost, 0);
      assert.equal(snap.received, 4);
    });

    it('recognises a late packet from before the wrap', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [65534, 0, 65535, 1]), ['first', 'gap', 'late', 'in-order']);
      assert.equal(st.snapshot().lost, 0);
    });

    it('detects duplicates of the newest and of older packets', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [10, 11, 11, 12, 10, 11]), ['first', 'in-order', 'duplicate', 'in-order', 'duplicate', 'duplicate']);
      const snap = st.snapshot();
      assert.equal(snap.duplicates, 3);
      assert.equal(snap.received, 3);
      assert.equal(snap.lost, 0);
    });

    it('tells a late duplicate from a late original', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [10, 13, 12, 12, 11]), ['first', 'gap', 'late', 'duplicate', 'late']);
      assert.equal(st.snapshot().lost, 0);
    });

    it('does not mistake a number reused after a wrap for a duplicate', () => {
      const st = new RtpReceiveStats();
      const seqs: number[] = [];
      for (let i = 0; i <= 65536 + 5; i++) seqs.push(i & 0xffff);
      const verdicts = feed(st, seqs);
      assert.equal(verdicts.filter((v) => v === 'duplicate').length, 0);
      assert.equal(st.snapshot().received, 65536 + 6);
      assert.equal(st.snapshot().lost, 0);
    });

    it('widens the expected range for a reordered packet from before the first one', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [100, 99, 101]), ['first', 'late', 'in-order']);
      assert.equal(st.snapshot().expected, 3);
      assert.equal(st.snapshot().lost, 0);
    });

    it('ignores one huge jump and resyncs when the next packet confirms it', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [100, 101, 20000, 102, 30000, 30001, 30002]), [
        'first',
        'in-order',
        'jump',
        'in-order',
        'jump',
        'restart',
        'in-order',
      ]);
      const snap = st.snapshot();
      assert.equal(snap.jumps, 2);
      assert.equal(snap.restarts, 1);
      assert.equal(snap.expected, 3 + 2, 'segment 100..102, then 30001..30002');
      assert.equal(snap.received, 5);
      assert.equal(snap.lost, 0);
    });

    it('treats a jump below MAX_DROPOUT as loss, not a restart', () => {
      const st = new RtpReceiveStats();
      assert.deepEqual(feed(st, [0, 2999]), ['first', 'gap']);
      assert.equal(st.snapshot().lost, 2998);
    });

    it('starts over on an SSRC change, keeping lifetime totals', () => {
      const st = new RtpReceiveStats();
      feed(st, [10, 11, 13], 1);
      assert.deepEqual(feed(st, [500, 501], 2), ['first', 'in-order']);
      const snap = st.snapshot();
      assert.equal(snap.ssrc, 2);
      assert.equal(snap.ssrcChanges, 1);
      assert.equal(snap.expected, 4 + 2);
      assert.equal(snap.lost, 1);
    });

    it('applies probation with minSequential 2 as RFC 3550 A.1 suggests', () => {
      const st = new RtpReceiveStats({ minSequential: 2 });
      assert.deepEqual(feed(st, [7, 9, 10, 11]), ['probation', 'probation', 'first', 'in-order']);
      assert.equal(st.snapshot().received, 2);
      assert.equal(st.snapshot().expected, 2);
    });

    it('rejects nonsensical options', () => {
      assert.throws(() => new RtpReceiveStats({ minSequential: 0 }), RangeError);
      assert.throws(() => new RtpReceiveStats({ maxMisorder: 2000 }), RangeError);
    });
  });
});
