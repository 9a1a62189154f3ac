import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { CallerAudioHold, MAX_HELD_PACKETS } from '../../src/media/caller-audio-hold';
import { buildRtp, PT_L16_MONO } from '../../src/rtp/packet';
import { RtpEndpoint } from '../../src/rtp/rtp-endpoint';
import { waitFor } from '../helpers/wait-for';

const HOST = '127.0.0.1';

const packet = (seq: number): Buffer =>
  buildRtp({ payloadType: PT_L16_MONO, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x1234 }, Buffer.alloc(320, seq & 0xff));

describe('component: CallerAudioHold (caller audio kept while the agent connects)', () => {
  let endpoint: RtpEndpoint;
  let peer: dgram.Socket;
  let peerPort: number;
  const send = (seq: number): Promise<void> =>
    new Promise((resolve, reject) => peer.send(packet(seq), endpoint.localPort, HOST, (err) => (err ? reject(err) : resolve())));

  beforeEach(async () => {
    endpoint = await RtpEndpoint.open({ host: HOST, portMin: 20_000, portMax: 60_000 });
    peer = dgram.createSocket('udp4');
    peer.bind(0, HOST);
    await once(peer, 'listening');
    peerPort = peer.address().port;
  });
  afterEach(async () => {
    await endpoint.close();
    await new Promise<void>((resolve) => peer.close(() => resolve()));
  });

  it('keeps nothing before the answer, then every packet from the answer on, in order, with when the first came', async () => {
    const hold = new CallerAudioHold(endpoint);
    await send(1); // early media: before the answer
    await waitFor(() => endpoint.stats().foreignPackets === 1, { what: 'the early packet refused' });
    const beforeMs = performance.timeOrigin + performance.now();
    hold.answer({ address: HOST, port: peerPort });
    for (let seq = 2; seq <= 6; seq++) await send(seq);
    await waitFor(() => endpoint.stats().packetsIn === 5, { what: 'five packets in' });
    const held = hold.release();
    assert.deepEqual(held.remote, { address: HOST, port: peerPort });
    assert.deepEqual(held.packets.map((p) => p.sequenceNumber), [2, 3, 4, 5, 6]);
    assert.equal(held.packets[0]!.payload[0], 2, 'the payload is the packet’s own');
    assert.ok(held.firstAtEpochMs !== undefined && held.firstAtEpochMs >= beforeMs);
    assert.equal(held.dropped, 0);
  });

  it('after release it keeps nothing more, and a second release hands over nothing', async () => {
    const hold = new CallerAudioHold(endpoint);
    hold.answer({ address: HOST, port: peerPort });
    await send(1);
    await waitFor(() => endpoint.stats().packetsIn === 1, { what: 'a packet in' });
    assert.equal(hold.release().packets.length, 1);
    await send(2);
    await waitFor(() => endpoint.stats().packetsIn === 2, { what: 'a second packet in' });
    const again = hold.release();
    assert.equal(again.packets.length, 0);
    assert.equal(again.remote, undefined);
    assert.equal(endpoint.listenerCount('packet'), 0);
  });

  it('keeps at most MAX_HELD_PACKETS: the oldest give way and are counted', async () => {
    const hold = new CallerAudioHold(endpoint);
    hold.answer({ address: HOST, port: peerPort });
    const extra = 7;
    // In batches, each taken in before the next: a burst of 500 datagrams can overflow the socket's receive buffer.
    for (let seq = 1; seq <= MAX_HELD_PACKETS + extra; seq++) {
      await send(seq);
      if (seq % 50 === 0 || seq === MAX_HELD_PACKETS + extra) await waitFor(() => endpoint.stats().packetsIn === seq, { what: `${seq} packets in` });
    }
    const held = hold.release();
    assert.equal(held.packets.length, MAX_HELD_PACKETS);
    assert.equal(held.dropped, extra);
    assert.equal(held.packets[0]!.sequenceNumber, extra + 1);
  });
});
