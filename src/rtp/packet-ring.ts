import { RTP_HEADER_BYTES } from './packet';

/** One preallocated outgoing packet: the whole datagram and a view of its payload. */
export interface RtpPacketSlot {
  readonly packet: Buffer;
  readonly payload: Buffer;
}

/**
 * A few preallocated RTP packets of one fixed size, used in turn, so a call's playout builds each
 * packet in place instead of allocating one per 20 ms (docs/performance.md#allocations-per-frame).
 *
 * `dgram` reads a packet after `send` returns: on the next tick (after its address lookup), or later
 * when the kernel's send buffer is full. So a slot may be reused only after the tick it was sent in,
 * and `size` must exceed the most packets a session sends in one tick (the media clock's catch-up
 * burst after a stall); `take(isSendBacklogged)` hands out a fresh buffer while the socket has
 * sends waiting in libuv's queue, so a backlog never sees its packets overwritten.
 */
export class RtpPacketRing {
  readonly #slots: RtpPacketSlot[];
  readonly #payloadBytes: number;
  #next = 0;

  constructor(payloadBytes: number, size: number) {
    if (!Number.isInteger(payloadBytes) || payloadBytes < 0) throw new RangeError(`payloadBytes must be a non-negative integer, got ${payloadBytes}`);
    if (!Number.isInteger(size) || size < 2) throw new RangeError(`size must be an integer ≥ 2, got ${size}`);
    this.#payloadBytes = payloadBytes;
    this.#slots = Array.from({ length: size }, () => slotOf(Buffer.alloc(RTP_HEADER_BYTES + payloadBytes)));
  }

  /** The next slot to fill and send; a fresh one (not kept) when `isSendBacklogged`. */
  take(isSendBacklogged: boolean): RtpPacketSlot {
    if (isSendBacklogged) return slotOf(Buffer.alloc(RTP_HEADER_BYTES + this.#payloadBytes));
    const slot = this.#slots[this.#next] as RtpPacketSlot;
    this.#next = (this.#next + 1) % this.#slots.length;
    return slot;
  }
}

function slotOf(packet: Buffer): RtpPacketSlot {
  return { packet, payload: packet.subarray(RTP_HEADER_BYTES) };
}
