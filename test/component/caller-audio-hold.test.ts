import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { CallerAudioHold, MAX_HELD_PACKETS, MAX_PRE_ANSWER_PACKETS } from '../../src/media/caller-audio-hold';
import { epochNowMs } from '../../src/lifecycle/timers';
import { buildRtp, PT_L16_MONO } from '../../src/rtp/packet';
import { RtpEndpoint } from '../../src/rtp/rtp-endpoint';
import { waitFor } from '../helpers/wait-for';

const HOST = '127.0.0.1';

const packet = (seq: number): Buffer =>
  buildRtp({ payloadType: PT_L16_MONO, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x1234 }, Buffer.alloc(320, seq & 0xff));

describe('component: CallerAudioHold (caller audio kept while the agent connects)', () => {
  let endpoint: RtpEndpoint;
  let peer: dgram.Socket;
  let remote: { address: string; port: number };
  const newHold = (): CallerAudioHold => new CallerAudioHold(endpoint);
  const send = (seq: number): Promise<void> =>
    new Promise((resolve, reject) => peer.send(packet(seq), endpoint.localPort, HOST, (err) => (err ? reject(err) : resolve())));
  const sendAndTakeIn = async (seqs: number[]): Promise<void> => {
    const before = endpoint.stats().packetsIn + endpoint.stats().foreignPackets;
    for (const seq of seqs) await send(seq);
    await waitFor(() => endpoint.stats().packetsIn + endpoint.stats().foreignPackets === before + seqs.length, { what: `${seqs.length} packets in` });
  };

  beforeEach(async () => {
    endpoint = await RtpEndpoint.open({ host: HOST, portMin: 20_000, portMax: 60_000 });
    peer = dgram.createSocket('udp4');
    peer.bind(0, HOST);
    await once(peer, 'listening');
    remote = { address: HOST, port: peer.address().port };
  });
  afterEach(async () => {
    await endpoint.close();
    await new Promise<void>((resolve) => peer.close(() => resolve()));
  });

  it('keeps nothing from before the answer (no remote yet: refused; ringback while it rings: dropped), then every packet, in order, with when the first came', async () => {
    const hold = newHold();
    await sendAndTakeIn([1]); // no remote yet: refused by the endpoint
    assert.equal(endpoint.stats().foreignPackets, 1);
    hold.join(remote);
    await sendAndTakeIn([2, 3]); // Asterisk's in-band ringback while the leg rings
    const answeredAtMs = epochNowMs();
    hold.answer(answeredAtMs);
    await sendAndTakeIn([4, 5, 6, 7, 8]);
    const held = hold.release();
    assert.deepEqual(held.remote, remote);
    assert.deepEqual(held.packets.map((p) => p.sequenceNumber), [4, 5, 6, 7, 8]);
    assert.equal(held.packets[0]!.payload[0], 4, 'the payload is the packet’s own');
    assert.ok(held.firstAtEpochMs !== undefined && held.firstAtEpochMs >= answeredAtMs);
    assert.equal(held.dropped, 0);
  });

  it('released before the answer it hands over nothing; after release it keeps nothing more', async () => {
    const hold = newHold();
    hold.join(remote);
    await sendAndTakeIn([1]);
    const early = hold.release();
    assert.deepEqual([early.remote, early.packets.length], [undefined, 0]);
    hold.answer(0);
    await sendAndTakeIn([2]);
    assert.equal(hold.release().packets.length, 0);
    assert.equal(endpoint.listenerCount('packet'), 0);
  });

  it('keeps at most MAX_HELD_PACKETS after the answer: the oldest give way and are counted', async () => {
    const hold = newHold();
    hold.join(remote);
    hold.answer(epochNowMs());
    const extra = 7;
    const seqs = Array.from({ length: MAX_HELD_PACKETS + extra }, (_, i) => i + 1);
    // In batches, each taken in before the next: a burst of 500 datagrams can overflow the socket's receive buffer.
    for (let i = 0; i < seqs.length; i += 50) await sendAndTakeIn(seqs.slice(i, i + 50));
    const held = hold.release();
    assert.equal(held.packets.length, MAX_HELD_PACKETS);
    assert.equal(held.dropped, extra);
    assert.equal(held.packets[0]!.sequenceNumber, extra + 1);
  });

  it('what came after the answer but before it was told (a message to a media worker) is kept, and what came before it is not', async () => {
    const hold = newHold();
    hold.join(remote);
    await sendAndTakeIn([1, 2]); // ringback
    const answeredAtMs = epochNowMs();
    await sendAndTakeIn([3, 4]); // the callee, while the answer is on its way to this thread
    hold.answer(answeredAtMs);
    await sendAndTakeIn([5]);
    const held = hold.release();
    assert.deepEqual(held.packets.map((p) => p.sequenceNumber), [3, 4, 5]);
    assert.ok(held.firstAtEpochMs !== undefined && held.firstAtEpochMs >= answeredAtMs && held.firstAtEpochMs < epochNowMs());
  });

  it('keeps the last MAX_PRE_ANSWER_PACKETS before the answer is told, without counting the older ones as lost', async () => {
    const hold = newHold();
    hold.join(remote);
    const seqs = Array.from({ length: MAX_PRE_ANSWER_PACKETS + 5 }, (_, i) => i + 1);
    for (let i = 0; i < seqs.length; i += 50) await sendAndTakeIn(seqs.slice(i, i + 50));
    hold.answer(0); // an answer before all of them
    const held = hold.release();
    assert.equal(held.packets.length, MAX_PRE_ANSWER_PACKETS);
    assert.equal(held.packets[0]!.sequenceNumber, 6);
    assert.equal(held.dropped, 0);
  });

  it('the first answer counts: a later one moves nothing', async () => {
    const hold = newHold();
    hold.join(remote);
    hold.answer(0);
    await sendAndTakeIn([1, 2]);
    hold.answer(epochNowMs());
    assert.deepEqual(hold.release().packets.map((p) => p.sequenceNumber), [1, 2]);
  });
});
