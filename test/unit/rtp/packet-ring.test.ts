import assert from 'node:assert/strict';
import { RtpPacketRing } from '../../../src/rtp/packet-ring';

describe('rtp/packet-ring', () => {
  it('hands out its slots in turn: a slot comes back after `size` takes, its payload a view after the 12-byte header', () => {
    const ring = new RtpPacketRing(320, 3);
    const taken = [0, 1, 2, 3, 4, 5].map(() => ring.take(false));
    assert.equal(new Set(taken.slice(0, 3).map((s) => s.packet)).size, 3);
    assert.deepEqual(taken.slice(3).map((s) => s.packet), taken.slice(0, 3).map((s) => s.packet));
    const slot = taken[0]!;
    assert.equal(slot.packet.length, 332);
    slot.payload[0] = 0x7f;
    assert.equal(slot.packet[12], 0x7f);
  });

  it('while sends are queued, gives fresh packets and keeps its own turn', () => {
    const ring = new RtpPacketRing(160, 2);
    const first = ring.take(false);
    const fresh = ring.take(true);
    assert.notEqual(fresh.packet, first.packet);
    assert.equal(fresh.packet.length, 172);
    const second = ring.take(false);
    assert.notEqual(second.packet, first.packet);
    assert.notEqual(second.packet, fresh.packet);
    assert.equal(ring.take(false).packet, first.packet);
  });

  it('refuses sizes that cannot work', () => {
    assert.throws(() => new RtpPacketRing(160, 1), RangeError);
    assert.throws(() => new RtpPacketRing(-1, 4), RangeError);
  });
});
