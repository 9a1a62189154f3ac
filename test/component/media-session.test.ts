import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { encodeUlaw } from '../../src/audio/g711';
import { readPcm16BE, readPcm16LE, writePcm16BE, writePcm16LE } from '../../src/audio/pcm';
import { ResamplerPool } from '../../src/audio/resampler';
import type { AgentAudioFormat, ExternalMediaFormat } from '../../src/audio/frame';
import { MediaClock } from '../../src/media/media-clock';
import { RtpMediaSession } from '../../src/media/media-session';
import { silentLogger } from '../../src/logger';
import { buildRtp, isRtpParseError, parseRtp, PT_L16_MONO, PT_PCMU, type RtpPacket } from '../../src/rtp/packet';
import { dominantFrequencyHz, findGaps, generateTone } from '../helpers/signal';
import { FakeClock } from '../helpers/fake-clock';
import { waitFor } from '../helpers/wait-for';

/** Plays Asterisk's side of ExternalMedia: a UDP socket that sends and records RTP. */
class FakeAsteriskRtp {
  readonly socket = dgram.createSocket('udp4');
  readonly received: { packet: RtpPacket; atMs: number }[] = [];
  #seq = 1000;
  #ts = 0;

  async open(): Promise<{ address: string; port: number }> {
    this.socket.on('message', (msg) => {
      const p = parseRtp(Buffer.from(msg));
      if (!isRtpParseError(p)) this.received.push({ packet: p, atMs: performance.now() });
    });
    this.socket.bind(0, '127.0.0.1');
    await once(this.socket, 'listening');
    return { address: '127.0.0.1', port: this.socket.address().port };
  }

  send(to: string, payload: Buffer, payloadType: number): void {
    const [host, port] = to.split(':') as [string, string];
    const pkt = buildRtp({ payloadType, sequenceNumber: this.#seq++ & 0xffff, timestamp: this.#ts, ssrc: 0x1234 }, payload);
    this.#ts += 160;
    this.socket.send(pkt, Number(port), host);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const config = (format: ExternalMediaFormat, hosts = { bind: '127.0.0.1', advertise: '127.0.0.1' }) => ({
  externalMediaHost: hosts.bind,
  externalMediaAdvertiseHost: hosts.advertise,
  externalMediaFormat: format,
  rtpPortMin: 47000,
  rtpPortMax: 47999,
  audioChunkSizeMs: 20,
  resamplerConverter: 'sinc_fastest' as const,
});

describe('RtpMediaSession (real UDP)', function () {
  this.timeout(15_000);
  const pool = new ResamplerPool();
  const mediaClock = new MediaClock();
  let asterisk: FakeAsteriskRtp;
  let session: RtpMediaSession | undefined;
  const toAgent: Buffer[] = [];

  async function open(
    format: ExternalMediaFormat,
    agentIn: AgentAudioFormat,
    agentOut: AgentAudioFormat,
    hosts?: { bind: string; advertise: string },
    extra: { onFirstCallerFrame?: () => void; mediaClock?: MediaClock } = {},
  ): Promise<RtpMediaSession> {
    asterisk = new FakeAsteriskRtp();
    const remote = await asterisk.open();
    toAgent.length = 0;
    session = await RtpMediaSession.open(
      { config: config(format, hosts), pool, mediaClock: extra.mediaClock ?? mediaClock, log: silentLogger() },
      { agentInputFormat: agentIn, agentOutputFormat: agentOut, onCallerAudio: (b) => toAgent.push(Buffer.from(b)), onFirstCallerFrame: extra.onFirstCallerFrame },
    );
    session.start(remote);
    return session;
  }

  afterEach(async () => {
    await session?.close();
    session = undefined;
    await asterisk.close();
  });
  after(() => {
    pool.close();
    mediaClock.stop();
  });

  it('takes its two resamplers from the pool and gives them back on close (closing twice gives back nothing more)', async () => {
    const before = pool.stats();
    const s = await open('slin', 'pcm_16000', 'pcm_24000');
    assert.equal(pool.stats().inUse, before.inUse + 2);
    await s.close();
    await s.close();
    const after = pool.stats();
    assert.equal(after.inUse, before.inUse);
    assert.equal(after.idle, before.idle + (after.created - before.created), 'every engine it used is idle again');
  });

  it('caller 1 kHz slin (big-endian, 8 kHz) reaches the agent as 1 kHz s16le at 16 kHz in 20 ms chunks', async () => {
    const s = await open('slin', 'pcm_16000', 'pcm_16000');
    const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 600, amplitude: 8000 });
    for (let i = 0; i < 30; i++) asterisk.send(s.localAddress, writePcm16BE(tone.subarray(i * 160, (i + 1) * 160)), PT_L16_MONO);
    await waitFor(() => toAgent.length >= 30, { what: '30 chunks at the agent' });
    assert.ok(toAgent.every((c) => c.length === 640), 'each chunk is 20 ms of 16 kHz s16le');
    const pcm = readPcm16LE(Buffer.concat(toAgent.slice(0, 30)));
    const f = dominantFrequencyHz(pcm.subarray(1600), 16000);
    assert.ok(Math.abs(f - 1000) < 5, `got ${f} Hz`);
    assert.equal(s.metrics().caller_to_ai.packets, 30);
  });

  it('the first caller packet that reaches the agent is reported once; the silence filled in before it is not', async () => {
    let reports = 0;
    let chunksAtReport = -1;
    const s = await open('slin', 'pcm_16000', 'pcm_16000', undefined, {
      onFirstCallerFrame: () => {
        reports += 1;
        chunksAtReport = toAgent.length;
      },
    });
    // Nothing from the caller yet: the session fills silence for the agent, which is no caller frame.
    await waitFor(() => toAgent.length >= 3, { what: 'silence filled for the agent' });
    assert.equal(reports, 0);
    const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 200, amplitude: 8000 });
    for (let i = 0; i < 10; i++) asterisk.send(s.localAddress, writePcm16BE(tone.subarray(i * 160, (i + 1) * 160)), PT_L16_MONO);
    await waitFor(() => s.metrics().caller_to_ai.packets >= 10, { what: '10 caller packets' });
    assert.equal(reports, 1);
    const first = readPcm16LE(toAgent[chunksAtReport - 1]!);
    assert.ok(Math.abs(dominantFrequencyHz(first, 16000) - 1000) < 60, 'reported with the first chunk of caller audio');
  });

  it('binds EXTERNAL_MEDIA_HOST but gives Asterisk EXTERNAL_MEDIA_ADVERTISE_HOST with the bound port', async () => {
    // Bound on every interface, advertised as loopback: what Asterisk is told is where audio arrives.
    const s = await open('slin', 'pcm_16000', 'pcm_16000', { bind: '0.0.0.0', advertise: '127.0.0.1' });
    assert.match(s.localAddress, /^127\.0\.0\.1:\d+$/);
    const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 200, amplitude: 8000 });
    for (let i = 0; i < 10; i++) asterisk.send(s.localAddress, writePcm16BE(tone.subarray(i * 160, (i + 1) * 160)), PT_L16_MONO);
    await waitFor(() => s.metrics().caller_to_ai.packets === 10, { what: '10 packets received on the advertised address' });
  });

  it('a burst of agent audio leaves as one 20 ms RTP packet per playout slot, in order, at the right pitch', async () => {
    // The playout clock runs on a manual clock: each 20 ms slot is a step of the test, not of time.
    const slots = new FakeClock();
    const pacedClock = new MediaClock({ clock: slots });
    const s = await open('slin', 'pcm_16000', 'pcm_24000', undefined, { mediaClock: pacedClock });
    const reply = generateTone({ freqHz: 440, rateHz: 24000, durationMs: 1000, amplitude: 8000 });
    // 1 s of audio delivered at once in uneven chunks, as the agent does.
    for (let off = 0; off < reply.length; off += 1777) s.pushAgentAudio(writePcm16LE(reply.subarray(off, off + 1777)));
    assert.equal(s.metrics().ai_to_caller.packets, 0, 'nothing leaves before its slot');
    // The clock's first slot is at its start, then one every 20 ms.
    for (let elapsed = 1; elapsed <= 49; elapsed++) {
      slots.advance(20);
      assert.equal(s.metrics().ai_to_caller.packets, elapsed + 1, `${elapsed * 20} ms after the first slot`);
      await new Promise((resolve) => setImmediate(resolve)); // the socket sends it, as between real slots
    }
    await s.close(); // leaves the paced clock before it is stopped
    pacedClock.stop();
    await waitFor(() => asterisk.received.length >= 50, { timeoutMs: 5000, what: '50 packets' });
    const pkts = asterisk.received.slice(0, 50);
    assert.ok(pkts.every((r) => r.packet.payloadType === PT_L16_MONO && r.packet.payload.length === 320));
    for (let i = 1; i < pkts.length; i++) {
      assert.equal((pkts[i]!.packet.sequenceNumber - pkts[i - 1]!.packet.sequenceNumber) & 0xffff, 1);
      assert.equal((pkts[i]!.packet.timestamp - pkts[i - 1]!.packet.timestamp) >>> 0, 160);
    }
    const audio = readPcm16BE(Buffer.concat(pkts.map((r) => r.packet.payload)));
    const f = dominantFrequencyHz(audio, 8000);
    assert.ok(Math.abs(f - 440) < 3, `got ${f} Hz`);
    const gaps = findGaps(audio.subarray(160, audio.length - 160), 8000, 20);
    assert.equal(gaps.silentFrames.length, 0, `silent frames ${JSON.stringify(gaps.silentFrames)}`);
  });

  it('after a stall the catch-up burst leaves whole packets, each with its own header and audio (packets are built in place)', async () => {
    const s = await open('slin', 'pcm_16000', 'pcm_16000');
    s.pushAgentAudio(writePcm16LE(generateTone({ freqHz: 440, rateHz: 16000, durationMs: 2000, amplitude: 8000 })));
    await waitFor(() => asterisk.received.length >= 5, { what: 'playout under way' });
    // The thread stalls (a long GC pause): the missed slots then leave back to back in one tick.
    const until = performance.now() + 250;
    while (performance.now() < until);
    await waitFor(() => asterisk.received.length >= 60, { what: '60 packets' });
    assert.ok(s.diagnostics().pacer.maxLateMs >= 200, `the stall was seen: ${JSON.stringify(s.diagnostics().pacer)}`);
    // About 12 slots were missed: played back to back (counted as catch-up), none skipped.
    assert.ok(s.diagnostics().pacer.catchUpTicks >= 8 && s.diagnostics().pacer.skippedTicks === 0, `a burst, not a skip: ${JSON.stringify(s.diagnostics().pacer)}`);
    const pkts = asterisk.received.slice(0, 60).map((r) => r.packet);
    for (let i = 1; i < pkts.length; i++) {
      assert.equal((pkts[i]!.sequenceNumber - pkts[i - 1]!.sequenceNumber) & 0xffff, 1, `packet ${i}: ${pkts.map((p) => p.sequenceNumber).join(',')}`);
    }
    const audio = readPcm16BE(Buffer.concat(pkts.map((p) => p.payload)));
    const gaps = findGaps(audio.subarray(160, audio.length - 160), 8000, 20, { freqHz: 440 });
    assert.deepEqual({ silent: gaps.silentFrames, jumps: gaps.discontinuities.length }, { silent: [], jumps: 0 });
  });

  it('an interruption that arrives while the session closes (flushPlayout after close) is a no-op, not a throw', async () => {
    const s = await open('slin', 'pcm_16000', 'pcm_24000');
    s.pushAgentAudio(writePcm16LE(generateTone({ freqHz: 440, rateHz: 24000, durationMs: 200, amplitude: 8000 })));
    await s.close();
    assert.doesNotThrow(() => s.flushPlayout());
  });

  it('flushPlayout stops the reply at once: at most the packet in flight follows, then the next reply', async () => {
    const s = await open('slin', 'pcm_16000', 'pcm_16000');
    s.pushAgentAudio(writePcm16LE(generateTone({ freqHz: 440, rateHz: 16000, durationMs: 3000, amplitude: 8000 })));
    await waitFor(() => asterisk.received.length >= 5);
    s.flushPlayout();
    const sentAtFlush = asterisk.received.length;
    assert.equal(s.playoutQueuedMs, 0);
    // Let the pacer run ten more slots with nothing to send, then queue a new reply: everything
    // sent before the new reply's first packet is what leaked past the flush.
    const ticksAtFlush = s.diagnostics().pacer.ticks;
    await waitFor(() => s.diagnostics().pacer.ticks >= ticksAtFlush + 10, { what: '10 pacer slots after the flush' });
    s.pushAgentAudio(writePcm16LE(generateTone({ freqHz: 660, rateHz: 16000, durationMs: 200, amplitude: 8000 })));
    const freqOf = (i: number): number => dominantFrequencyHz(readPcm16BE(asterisk.received[i]!.packet.payload), 8000);
    const firstNew = await waitFor(
      () => {
        for (let i = sentAtFlush; i < asterisk.received.length; i++) if (Math.abs(freqOf(i) - 660) < 60) return i;
        return undefined;
      },
      { what: 'the next reply' },
    );
    const leaked = firstNew - sentAtFlush;
    assert.ok(leaked <= 1, `${leaked} packets of the flushed reply after the flush`);
  });

  it('ulaw ExternalMedia with a ulaw_8000 agent passes bytes through untouched both ways', async () => {
    const s = await open('ulaw', 'ulaw_8000', 'ulaw_8000');
    const bytes = Buffer.alloc(160 * 10);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
    s.pushAgentAudio(bytes);
    await waitFor(() => asterisk.received.length >= 10);
    const out = Buffer.concat(asterisk.received.slice(0, 10).map((r) => r.packet.payload));
    assert.ok(asterisk.received.every((r) => r.packet.payloadType === PT_PCMU));
    assert.ok(out.equals(bytes), 'agent µ-law bytes reach Asterisk unchanged');
    const callerBytes = encodeUlaw(generateTone({ freqHz: 1000, rateHz: 8000, durationMs: 60, amplitude: 8000 }));
    const before = toAgent.length; // silence chunks fed while the caller side was quiet
    for (let i = 0; i < 3; i++) asterisk.send(s.localAddress, callerBytes.subarray(i * 160, (i + 1) * 160), PT_PCMU);
    await waitFor(() => s.metrics().caller_to_ai.packets >= 3);
    const got = Buffer.concat(toAgent.slice(before)).subarray(-480);
    assert.ok(got.equals(callerBytes), 'caller µ-law bytes reach the agent unchanged');
    assert.equal(s.metrics().resampling_ops, 0);
  });

  it('keeps feeding the agent silence at 20 ms when the caller side sends nothing', async () => {
    await open('slin', 'pcm_16000', 'pcm_16000');
    await waitFor(() => toAgent.length >= 10, { what: 'silence chunks' });
    assert.ok(toAgent.slice(0, 10).every((c) => c.length === 640 && c.every((b) => b === 0)));
  });

  it('ignores RTP from any address but Asterisk and packets of another payload type', async () => {
    const s = await open('slin', 'pcm_16000', 'pcm_16000');
    const stranger = new FakeAsteriskRtp();
    await stranger.open();
    try {
      for (let i = 0; i < 5; i++) stranger.send(s.localAddress, Buffer.alloc(320, 0x7f), PT_L16_MONO);
      asterisk.send(s.localAddress, Buffer.alloc(160), PT_PCMU);
      asterisk.send(s.localAddress, Buffer.alloc(320, 1), PT_L16_MONO);
      await waitFor(() => s.metrics().caller_to_ai.packets >= 1);
      assert.equal(s.metrics().caller_to_ai.packets, 1);
      assert.equal(s.metrics().errors, 1);
    } finally {
      await stranger.close();
    }
  });
});
