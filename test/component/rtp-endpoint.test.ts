import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { RtpError } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import { buildRtp, PT_L16_MONO, type RtpPacket } from '../../src/rtp/packet';
import { RtpEndpoint, type RtpEndpointLogger } from '../../src/rtp/rtp-endpoint';

const HOST = '127.0.0.1';

/** A real peer socket standing in for Asterisk's ExternalMedia RTP port. */
async function bindPeer(port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', (err) => assert.fail(err));
  socket.bind(port, HOST);
  await once(socket, 'listening');
  return socket;
}

function sendFrom(socket: dgram.Socket, data: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) => socket.send(data, port, HOST, (err) => (err ? reject(err) : resolve())));
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** Two free adjacent ports, found by binding and releasing them. */
async function adjacentFreePorts(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const a = await bindPeer();
    const port = a.address().port;
    await closeSocket(a);
    if (port >= 65535) continue;
    try {
      const b = await bindPeer(port + 1);
      await closeSocket(b);
      return port;
    } catch {
      continue; // port + 1 taken by something else on this machine; try another pair
    }
  }
  throw new Error('no adjacent free UDP ports found');
}

const slinPacket = (seq: number): Buffer =>
  buildRtp({ payloadType: PT_L16_MONO, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x1234 }, Buffer.alloc(320, seq & 0xff));

describe('component: RtpEndpoint', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function open(portMin = 20_000, portMax = 60_000, log?: RtpEndpointLogger): Promise<RtpEndpoint> {
    const ep = await RtpEndpoint.open({ host: HOST, portMin, portMax, log });
    cleanups.push(() => ep.close());
    return ep;
  }
  async function peer(): Promise<dgram.Socket> {
    const p = await bindPeer();
    cleanups.push(() => closeSocket(p));
    return p;
  }

  it('binds a port inside the range and reports its address', async () => {
    const ep = await open(30_000, 40_000);
    assert.ok(ep.localPort >= 30_000 && ep.localPort <= 40_000, `port ${ep.localPort}`);
    assert.equal(ep.localAddress, `${HOST}:${ep.localPort}`);
  });

  it('accepts a pino logger', async () => {
    const log: RtpEndpointLogger = silentLogger();
    await open(20_000, 60_000, log);
  });

  it('emits parsed packets from the remote', async () => {
    const ep = await open();
    const asterisk = await peer();
    ep.setRemote(HOST, asterisk.address().port);
    const received = once(ep, 'packet') as Promise<[RtpPacket]>;
    await sendFrom(asterisk, slinPacket(7), ep.localPort);
    const [packet] = await received;
    assert.equal(packet.sequenceNumber, 7);
    assert.equal(packet.payloadType, PT_L16_MONO);
    assert.equal(packet.ssrc, 0x1234);
    assert.deepEqual(packet.payload, Buffer.alloc(320, 7));
    assert.equal(ep.stats().packetsIn, 1);
    assert.equal(ep.stats().bytesIn, 332);
  });

  it('ignores and counts datagrams from anyone else (before setRemote, or another source), logging once each', async () => {
    const logged: Array<{ level: 'debug' | 'warn'; msg: string; obj: object }> = [];
    let onLog: () => void = () => undefined;
    const log: RtpEndpointLogger = {
      debug: (obj, msg) => (logged.push({ level: 'debug', msg, obj }), onLog()),
      warn: (obj, msg) => (logged.push({ level: 'warn', msg, obj }), onLog()),
    };
    const nextLog = (): Promise<void> => new Promise((resolve) => (onLog = resolve));
    const ep = await open(20_000, 60_000, log);
    const asterisk = await peer();
    const stranger = await peer();

    const early = nextLog();
    await sendFrom(asterisk, slinPacket(1), ep.localPort);
    await early; // the endpoint has processed (and dropped) it
    assert.equal(logged[0]?.level, 'debug');
    assert.equal(ep.stats().foreignPackets, 1);

    ep.setRemote(HOST, asterisk.address().port);
    const packets: number[] = [];
    ep.on('packet', (p) => packets.push(p.sequenceNumber));
    const wrongSource = nextLog();
    await sendFrom(stranger, slinPacket(2), ep.localPort);
    await wrongSource;
    assert.equal(logged[1]?.level, 'warn');
    assert.deepEqual(logged[1]?.obj, { from: `${HOST}:${stranger.address().port}`, expected: `${HOST}:${asterisk.address().port}` });
    await sendFrom(stranger, slinPacket(3), ep.localPort);
    const next = once(ep, 'packet');
    await sendFrom(asterisk, slinPacket(4), ep.localPort); // loopback keeps order: this arrives last
    await next;
    assert.deepEqual(packets, [4]);
    assert.equal(ep.stats().foreignPackets, 3);
    assert.equal(logged.length, 2, 'one line per kind, not one per packet');
  });

  it('counts malformed datagrams from the remote without emitting them', async () => {
    const ep = await open();
    const asterisk = await peer();
    ep.setRemote(HOST, asterisk.address().port);
    await sendFrom(asterisk, Buffer.from('hello'), ep.localPort);
    await sendFrom(asterisk, Buffer.from('400a000100000000000000000102', 'hex'), ep.localPort);
    const next = once(ep, 'packet');
    await sendFrom(asterisk, slinPacket(4), ep.localPort);
    await next;
    assert.equal(ep.stats().malformedPackets, 2);
    assert.equal(ep.stats().lastParseError, 'RTP_BAD_VERSION');
    assert.equal(ep.stats().packetsIn, 1);
  });

  it('sends to the remote from its own bound port (Asterisk strict-RTP learns one source)', async () => {
    const ep = await open();
    const asterisk = await peer();
    ep.setRemote(HOST, asterisk.address().port);
    const got = once(asterisk, 'message') as Promise<[Buffer, dgram.RemoteInfo]>;
    const packet = slinPacket(9);
    ep.send(packet);
    const [data, rinfo] = await got;
    assert.deepEqual(data, packet);
    assert.equal(rinfo.port, ep.localPort);
    assert.deepEqual([ep.stats().packetsOut, ep.stats().bytesOut], [1, 332]);
  });

  it('send before setRemote is a programmer error', async () => {
    const ep = await open();
    assert.throws(() => ep.send(slinPacket(1)), /before setRemote/);
  });

  it('tries the next port when one is taken', async () => {
    const base = await adjacentFreePorts();
    const blocker = await bindPeer(base);
    cleanups.push(() => closeSocket(blocker));
    for (let i = 0; i < 5; i++) {
      const ep = await RtpEndpoint.open({ host: HOST, portMin: base, portMax: base + 1 });
      assert.equal(ep.localPort, base + 1);
      await ep.close();
    }
  });

  it('fails clearly and retryably when the range is exhausted', async () => {
    const blocker = await peer();
    const port = blocker.address().port;
    await assert.rejects(RtpEndpoint.open({ host: HOST, portMin: port, portMax: port }), (err: unknown) => {
      assert.ok(err instanceof RtpError);
      assert.equal(err.code, 'RTP_PORT_RANGE_EXHAUSTED');
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`${port}-${port}`));
      return true;
    });
  });

  it('reports other bind failures as RTP_BIND_FAILED', async () => {
    // 192.0.2.1 (TEST-NET-1) is not configured on this host: EADDRNOTAVAIL.
    await assert.rejects(RtpEndpoint.open({ host: '192.0.2.1', portMin: 40_000, portMax: 40_010 }), (err: unknown) => {
      assert.ok(err instanceof RtpError);
      assert.equal(err.code, 'RTP_BIND_FAILED');
      return true;
    });
  });

  it('validates its arguments', async () => {
    await assert.rejects(RtpEndpoint.open({ host: 'localhost', portMin: 1, portMax: 2 }), TypeError);
    await assert.rejects(RtpEndpoint.open({ host: HOST, portMin: 5000, portMax: 4000 }), RangeError);
    const ep = await open();
    assert.throws(() => ep.setRemote('asterisk.local', 4000), TypeError);
    assert.throws(() => ep.setRemote(HOST, 70_000), RangeError);
  });

  it('close() is idempotent, emits close once, frees the port, and refuses later sends', async () => {
    const ep = await RtpEndpoint.open({ host: HOST, portMin: 20_000, portMax: 60_000 });
    const port = ep.localPort;
    let closes = 0;
    ep.on('close', () => closes++);
    const first = ep.close();
    assert.equal(ep.close(), first);
    await first;
    await ep.close();
    assert.equal(closes, 1);
    ep.setRemote(HOST, 4000);
    assert.throws(() => ep.send(slinPacket(1)), /after close/);
    const reuse = await bindPeer(port);
    await closeSocket(reuse);
  });
});
