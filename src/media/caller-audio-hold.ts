/**
 * Caller audio that arrives after the answer while the agent is still connecting, or before the
 * Call's start of the link reached the link's thread: kept in order, and handed to the media
 * session when it starts, which sends it to the agent before anything newer
 * (docs/architecture.md#the-caller-is-heard-from-the-answer). Without it, what the callee says
 * first ("Hello?") is lost whenever the agent connects after the answer: under a burst of call
 * set-ups that was up to 1.3 s (docs/performance.md#the-caller-from-the-first-frame).
 */
import { epochNowMs } from '../lifecycle/timers';
import type { RtpPacket } from '../rtp/packet';
import type { RtpEndpoint } from '../rtp/rtp-endpoint';

/**
 * At most this many packets are kept (10 s of 20 ms packets, about 3.2 KB a second of `slin`);
 * the oldest give way. An agent slower than that fails the call on AGENT_READY_TIMEOUT_S anyway.
 */
export const MAX_HELD_PACKETS = 500;

/**
 * Before the answer only the last second is kept, with when each packet came: the answer reaches
 * a media worker as a message, behind whatever that thread is doing, and the packets that came
 * after the answer but before its message are the callee's first words
 * (docs/performance.md#the-caller-from-the-first-frame).
 */
export const MAX_PRE_ANSWER_PACKETS = 50;

/** What was kept: the packets in arrival order, when the first arrived, and how many gave way. */
export interface HeldCallerAudio {
  readonly remote: { address: string; port: number } | undefined;
  readonly packets: readonly RtpPacket[];
  /** performance.timeOrigin + now() at the first kept packet's arrival. */
  readonly firstAtEpochMs: number | undefined;
  readonly dropped: number;
}

export class CallerAudioHold {
  readonly #endpoint: RtpEndpoint;
  readonly #packets: RtpPacket[] = [];
  /** epochNowMs() at each kept packet's arrival, index for index with #packets. */
  readonly #arrivals: number[] = [];
  #remote: { address: string; port: number } | undefined;
  #isAnswered = false;
  #firstAtEpochMs: number | undefined;
  #dropped = 0;
  #isReleased = false;

  constructor(endpoint: RtpEndpoint) {
    this.#endpoint = endpoint;
    endpoint.on('packet', this.#onPacket);
  }

  /**
   * The ExternalMedia channel is in the bridge and takes our RTP at `remote`: the endpoint accepts
   * Asterisk's packets from now on (it drops any before a remote is set). Ignored once released.
   */
  join(remote: { address: string; port: number }): void {
    if (this.#isReleased || this.#remote !== undefined) return;
    this.#remote = remote;
    this.#endpoint.setRemote(remote.address, remote.port);
  }

  /**
   * The far end answered at `atEpochMs` (epochNowMs() where the answer was seen): what arrived
   * since then and what arrives from now on is kept. What came before is not the callee: while the
   * leg rings the ExternalMedia channel gets ringback in-band (kept, it added an audible 200 ms
   * before the opening of a callee who rang 0.2 s), or the network's early media. The first
   * answer counts; ignored once released.
   */
  answer(atEpochMs: number): void {
    if (this.#isReleased || this.#isAnswered) return;
    this.#isAnswered = true;
    let before = 0;
    while (before < this.#arrivals.length && this.#arrivals[before]! < atEpochMs) before += 1;
    this.#packets.splice(0, before);
    this.#arrivals.splice(0, before);
    this.#firstAtEpochMs = this.#arrivals[0];
  }

  get isAnswered(): boolean {
    return this.#isAnswered;
  }

  /**
   * Stops keeping and hands over what was kept, with the remote once answered (before the answer
   * there is nothing to hand over). Idempotent: later calls get nothing.
   */
  release(): HeldCallerAudio {
    const nothing = { remote: undefined, packets: [], firstAtEpochMs: undefined, dropped: 0 };
    if (this.#isReleased) return nothing;
    this.#isReleased = true;
    this.#endpoint.off('packet', this.#onPacket);
    if (!this.#isAnswered) return nothing;
    this.#arrivals.length = 0;
    return { remote: this.#remote, packets: this.#packets.splice(0), firstAtEpochMs: this.#firstAtEpochMs, dropped: this.#dropped };
  }

  readonly #onPacket = (packet: RtpPacket): void => {
    const now = epochNowMs();
    if (this.#isAnswered) this.#firstAtEpochMs ??= now;
    if (this.#packets.length >= (this.#isAnswered ? MAX_HELD_PACKETS : MAX_PRE_ANSWER_PACKETS)) {
      this.#packets.shift();
      this.#arrivals.shift();
      // Before the answer the oldest are ringback going out of the window, not the caller lost.
      if (this.#isAnswered) this.#dropped += 1;
    }
    this.#packets.push(packet);
    this.#arrivals.push(now);
  };
}
