/**
 * Caller audio that arrives after the answer while the agent is still connecting: kept in order,
 * and handed to the media session the moment it exists, which sends it to the agent before
 * anything newer (docs/architecture.md#the-caller-is-heard-from-the-answer). Without it, what the
 * callee says first ("Hello?") is lost whenever the agent connects after the answer: under a
 * burst of call set-ups that was up to 1.3 s (docs/performance.md#the-caller-from-the-first-frame).
 */
import type { RtpPacket } from '../rtp/packet';
import type { RtpEndpoint } from '../rtp/rtp-endpoint';

/**
 * At most this many packets are kept (10 s of 20 ms packets, about 3.2 KB a second of `slin`);
 * the oldest give way. An agent slower than that fails the call on AGENT_READY_TIMEOUT_S anyway.
 */
export const MAX_HELD_PACKETS = 500;

/** What was kept: the packets in arrival order, when the first arrived, and how many gave way. */
export interface HeldCallerAudio {
  readonly remote: { address: string; port: number } | undefined;
  readonly packets: readonly RtpPacket[];
  /** performance.timeOrigin + now() at the first kept packet's arrival. */
  readonly firstAtEpochMs: number | undefined;
  readonly dropped: number;
}

/** The wall clock in ms with sub-ms resolution, comparable across threads. */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class CallerAudioHold {
  readonly #endpoint: RtpEndpoint;
  readonly #packets: RtpPacket[] = [];
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
   * The far end answered: what arrives from now on is kept. What came before is not the callee:
   * while the leg rings the ExternalMedia channel gets ringback in-band (kept, it added an audible
   * 200 ms before the opening of a callee who rang 0.2 s), or the network's early media.
   */
  answer(): void {
    if (this.#isReleased) return;
    this.#isAnswered = true;
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
    return { remote: this.#remote, packets: this.#packets.splice(0), firstAtEpochMs: this.#firstAtEpochMs, dropped: this.#dropped };
  }

  readonly #onPacket = (packet: RtpPacket): void => {
    if (!this.#isAnswered) return;
    this.#firstAtEpochMs ??= epochNowMs();
    if (this.#packets.length >= MAX_HELD_PACKETS) {
      this.#packets.shift();
      this.#dropped += 1;
    }
    this.#packets.push(packet);
  };
}
