import { randomBytes } from 'node:crypto';
import { RTP_VERSION, type RtpHeader } from './packet';

/** RFC 3550 A.1: sequence numbers are 16 bits. */
const RTP_SEQ_MOD = 0x1_0000;

/** Returns a uniformly random unsigned 32-bit integer. Injected in tests. */
export type RandomUint32 = () => number;

/** Cryptographically random, as RFC 3550 §5.1/§8 ask for the initial seq, timestamp and SSRC. */
export const cryptoRandomUint32: RandomUint32 = () => randomBytes(4).readUInt32BE(0);

/** Options for an outbound stream. Only `payloadType` and `clockRateHz` are required. */
export interface RtpSenderOptions {
  readonly payloadType: number;
  /** RTP clock rate; for the ExternalMedia formats it is the sample rate, 8000. */
  readonly clockRateHz: number;
  readonly ssrc?: number;
  readonly initialSequenceNumber?: number;
  readonly initialTimestamp?: number;
  readonly randomUint32?: RandomUint32;
}

/**
 * Outbound seq/timestamp/SSRC state of one RTP stream. Pure; one per call direction.
 *
 * - seq: random start, +1 per packet, wraps at 16 bits (RFC 3550 §5.1).
 * - timestamp: random start, advances by the samples of the previous packet. When the send time
 *   shows a gap (a packet slot with nothing sent, or a stalled process), it advances by the real
 *   elapsed samples instead and the marker bit is set: the packet starts a new talkspurt
 *   (RFC 3551 §4.1). Asterisk passes our timestamps through (docs/asterisk.md#rtp-timestamps-pass-through), so a frozen
 *   timestamp across silence would make the far end's jitter buffer play late.
 * - marker: also set on the very first packet.
 */
export class RtpSender {
  readonly ssrc: number;
  readonly payloadType: number;
  readonly clockRateHz: number;
  #seq: number;
  #timestamp: number;
  #lastAtMs = 0;
  #lastSamples = 0;
  #packets = 0;
  #talkspurts = 0;

  constructor(options: RtpSenderOptions) {
    if (!Number.isInteger(options.clockRateHz) || options.clockRateHz <= 0) {
      throw new RangeError(`clockRateHz must be a positive integer, got ${options.clockRateHz}`);
    }
    if (!Number.isInteger(options.payloadType) || options.payloadType < 0 || options.payloadType > 127) {
      throw new RangeError(`payloadType must be 0..127, got ${options.payloadType}`);
    }
    const random = options.randomUint32 ?? cryptoRandomUint32;
    this.payloadType = options.payloadType;
    this.clockRateHz = options.clockRateHz;
    this.ssrc = (options.ssrc ?? random()) >>> 0;
    this.#seq = (options.initialSequenceNumber ?? random()) & 0xffff;
    this.#timestamp = (options.initialTimestamp ?? random()) >>> 0;
  }

  /**
   * Header for the next packet.
   * @param samples samples in this packet's payload (160 for 20 ms at 8 kHz)
   * @param atMs nominal send time on a monotonic clock in ms — the pacer's deadline, not the
   *   late wake-up time, so that jitter of our timer does not leak into timestamps.
   */
  next(samples: number, atMs: number): RtpHeader {
    const marker = this.#advance(samples, atMs);
    return {
      payloadType: this.payloadType,
      sequenceNumber: this.#seq,
      timestamp: this.#timestamp,
      ssrc: this.ssrc,
      marker,
    };
  }

  /**
   * Like `next`, but writes the next packet's fixed 12-byte header (no CSRC, extension or padding)
   * into `out` at 0, allocating nothing: the per-packet path of a call's playout
   * (docs/performance.md#allocations-per-frame). Fields are ours and in range, so not re-checked.
   */
  writeNextHeader(out: Buffer, samples: number, atMs: number): void {
    const marker = this.#advance(samples, atMs);
    out[0] = RTP_VERSION << 6;
    out[1] = (marker ? 0x80 : 0) | this.payloadType;
    out.writeUInt16BE(this.#seq, 2);
    out.writeUInt32BE(this.#timestamp, 4);
    out.writeUInt32BE(this.ssrc, 8);
  }

  /** Moves seq and timestamp on for a packet of `samples` sent at `atMs`; true when it starts a talkspurt. */
  #advance(samples: number, atMs: number): boolean {
    let marker = false;
    if (this.#packets === 0) {
      marker = true;
    } else {
      this.#seq = (this.#seq + 1) & 0xffff;
      const elapsedSamples = Math.round(((atMs - this.#lastAtMs) * this.clockRateHz) / 1000);
      // More than half a packet of unexplained time: some packet slot went unsent.
      if (elapsedSamples - this.#lastSamples > this.#lastSamples / 2) {
        this.#timestamp = (this.#timestamp + elapsedSamples) >>> 0;
        marker = true;
      } else {
        this.#timestamp = (this.#timestamp + this.#lastSamples) >>> 0;
      }
    }
    if (marker) this.#talkspurts++;
    this.#packets++;
    this.#lastAtMs = atMs;
    this.#lastSamples = samples;
    return marker;
  }

  /** Packets headed so far. */
  get packets(): number {
    return this.#packets;
  }

  /** Packets sent with the marker bit (first packet and every resumption after a gap). */
  get talkspurts(): number {
    return this.#talkspurts;
  }
}

/**
 * What `RtpReceiveStats.record` concluded about one packet.
 * - `first`: first valid packet of a source (after probation).
 * - `in-order`: exactly the next sequence number.
 * - `gap`: newer, with `lastGapPackets` sequence numbers missing before it.
 * - `late`: older than the highest seen and not seen before (reordered or late).
 * - `duplicate`: seen before.
 * - `probation`: source not yet validated (RFC 3550 A.1 MIN_SEQUENTIAL).
 * - `jump`: a huge jump; ignored until the next packet confirms it (RFC 3550 A.1 bad_seq).
 * - `restart`: the confirmation of a jump; the sender restarted and counting resyncs.
 */
export type SeqVerdict = 'first' | 'in-order' | 'gap' | 'late' | 'duplicate' | 'probation' | 'jump' | 'restart';

/** Counters of one inbound stream since construction (across SSRC changes and restarts). */
export interface RtpReceiveSnapshot {
  readonly ssrc: number | undefined;
  /** Distinct packets accepted (duplicates excluded, unlike the RFC's "received"). */
  readonly received: number;
  /** Packets the sequence numbers say were sent: extended highest − base + 1, summed per segment. */
  readonly expected: number;
  /** expected − received, floored at 0. */
  readonly lost: number;
  readonly duplicates: number;
  /** Packets that arrived after a newer one (reordering). */
  readonly late: number;
  /** Jumps ignored as "bad_seq", and those confirmed as restarts. */
  readonly jumps: number;
  readonly restarts: number;
  readonly ssrcChanges: number;
  /** RFC 3550 A.1 extended highest sequence number (cycles + max_seq) of the current segment. */
  readonly extendedHighestSeq: number;
}

/** Tuning of the RFC 3550 A.1 validity checks. */
export interface RtpReceiveStatsOptions {
  /**
   * Sequential packets needed before a source counts as valid. RFC 3550 A.1 suggests 2; we default
   * to 1 because the endpoint already pins the remote address, and the first packet is speech.
   */
  readonly minSequential?: number;
  /** Forward jump (packets) still treated as loss rather than a restart. RFC default 3000. */
  readonly maxDropout?: number;
  /** Backward distance still treated as reordering. RFC default 100; must be < 1024. */
  readonly maxMisorder?: number;
}

/** Bits of recently accepted extended sequence numbers, to tell duplicates from late packets. */
const SEEN_WINDOW = 1024;
/**
 * Internal extended numbers start one cycle up, so a reordered packet from just before the first
 * one seen stays positive. Reported values subtract it (A.1 cycles start at 0).
 */
const EXT_OFFSET = RTP_SEQ_MOD;

/**
 * Inbound sequence accounting for one RTP stream, after RFC 3550 Appendix A.1 (validation,
 * extended sequence numbers with 16-bit wraparound) and A.3 (expected vs lost). Pure; no clocks.
 */
export class RtpReceiveStats {
  readonly #minSequential: number;
  readonly #maxDropout: number;
  readonly #maxMisorder: number;
  readonly #seen = new Uint32Array(SEEN_WINDOW / 32);

  #ssrc: number | undefined;
  #probation = 0;
  #maxSeq = 0;
  #badSeq = RTP_SEQ_MOD + 1;
  /** Extended (cycles + seq) highest and base of the current segment. */
  #maxExt = 0;
  #baseExt = 0;
  #isValid = false;

  #priorExpected = 0;
  #received = 0;
  #duplicates = 0;
  #late = 0;
  #jumps = 0;
  #restarts = 0;
  #ssrcChanges = 0;
  #lastGapPackets = 0;

  constructor(options: RtpReceiveStatsOptions = {}) {
    this.#minSequential = options.minSequential ?? 1;
    this.#maxDropout = options.maxDropout ?? 3000;
    this.#maxMisorder = options.maxMisorder ?? 100;
    if (this.#minSequential < 1 || this.#maxMisorder >= SEEN_WINDOW || this.#maxDropout >= RTP_SEQ_MOD - this.#maxMisorder) {
      throw new RangeError('invalid RtpReceiveStats options');
    }
  }

  /** Account for one packet and classify it. The caller decides what to drop (e.g. duplicates). */
  record(sequenceNumber: number, ssrc: number): SeqVerdict {
    const seq = sequenceNumber & 0xffff;
    if (ssrc !== this.#ssrc) {
      if (this.#ssrc !== undefined) this.#ssrcChanges++;
      this.#endSegment();
      this.#ssrc = ssrc;
      // A.1: init_seq(s, seq); s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL;
      this.#maxSeq = (seq - 1) & 0xffff;
      this.#probation = this.#minSequential;
    }

    if (this.#probation > 0) {
      if (seq === ((this.#maxSeq + 1) & 0xffff)) {
        this.#probation--;
        this.#maxSeq = seq;
        if (this.#probation === 0) {
          this.#initSeq(seq);
          return 'first';
        }
      } else {
        this.#probation = this.#minSequential - 1;
        this.#maxSeq = seq;
      }
      return 'probation';
    }

    const udelta = (seq - this.#maxSeq) & 0xffff;
    if (udelta === 0) {
      this.#duplicates++;
      return 'duplicate';
    }
    if (udelta < this.#maxDropout) {
      // In order, with permissible gap. Wrapped past 0xffff when the new seq is numerically smaller.
      this.#maxSeq = seq;
      this.#advanceTo(this.#maxExt + udelta);
      this.#received++;
      this.#lastGapPackets = udelta - 1;
      return udelta === 1 ? 'in-order' : 'gap';
    }
    if (udelta <= RTP_SEQ_MOD - this.#maxMisorder) {
      // A.1: a very large jump. Two sequential packets confirm a restart of the sender.
      if (seq === this.#badSeq) {
        this.#restarts++;
        this.#endSegment();
        this.#initSeq(seq);
        return 'restart';
      }
      this.#badSeq = (seq + 1) & 0xffff;
      this.#jumps++;
      return 'jump';
    }
    // Older than the highest: a duplicate or a reordered packet.
    const ext = this.#maxExt - (RTP_SEQ_MOD - udelta);
    if (this.#hasSeen(ext)) {
      this.#duplicates++;
      return 'duplicate';
    }
    this.#markSeen(ext);
    // A packet from before the first one we saw widens the expected range (else "lost" < 0).
    if (ext < this.#baseExt) this.#baseExt = ext;
    this.#received++;
    this.#late++;
    return 'late';
  }

  /** Sequence numbers skipped by the last `gap` verdict. */
  get lastGapPackets(): number {
    return this.#lastGapPackets;
  }

  snapshot(): RtpReceiveSnapshot {
    const expected = this.#priorExpected + this.#segmentExpected();
    return {
      ssrc: this.#ssrc,
      received: this.#received,
      expected,
      lost: Math.max(0, expected - this.#received),
      duplicates: this.#duplicates,
      late: this.#late,
      jumps: this.#jumps,
      restarts: this.#restarts,
      ssrcChanges: this.#ssrcChanges,
      extendedHighestSeq: this.#maxExt - EXT_OFFSET,
    };
  }

  #segmentExpected(): number {
    return this.#isValid ? this.#maxExt - this.#baseExt + 1 : 0;
  }

  #endSegment(): void {
    this.#priorExpected += this.#segmentExpected();
    this.#isValid = false;
  }

  /** A.1 init_seq, plus counting the packet that validated the source. */
  #initSeq(seq: number): void {
    this.#maxSeq = seq;
    this.#badSeq = RTP_SEQ_MOD + 1;
    this.#maxExt = EXT_OFFSET + seq; // A.1: cycles = 0
    this.#baseExt = this.#maxExt;
    this.#isValid = true;
    this.#seen.fill(0);
    this.#markSeen(this.#maxExt);
    this.#received++;
  }

  #advanceTo(ext: number): void {
    const steps = ext - this.#maxExt;
    if (steps >= SEEN_WINDOW) {
      this.#seen.fill(0);
    } else {
      for (let e = this.#maxExt + 1; e < ext; e++) this.#clearSeen(e);
    }
    this.#maxExt = ext;
    this.#markSeen(ext);
  }

  #hasSeen(ext: number): boolean {
    if (this.#maxExt - ext >= SEEN_WINDOW) return false;
    const bit = ext & (SEEN_WINDOW - 1);
    return ((this.#seen[bit >>> 5] as number) & (1 << (bit & 31))) !== 0;
  }

  #markSeen(ext: number): void {
    const bit = ext & (SEEN_WINDOW - 1);
    this.#seen[bit >>> 5] = (this.#seen[bit >>> 5] as number) | (1 << (bit & 31));
  }

  #clearSeen(ext: number): void {
    const bit = ext & (SEEN_WINDOW - 1);
    this.#seen[bit >>> 5] = (this.#seen[bit >>> 5] as number) & ~(1 << (bit & 31));
  }
}
