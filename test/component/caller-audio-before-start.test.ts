/**
 * The caller's first words when the agent connected while the phone rang: the answer is seen on
 * the main thread, and the Call's start of the link reaches a media worker as a message, behind
 * whatever that thread is doing. What the callee said between the answer and that start must reach
 * the agent, first and in order (docs/architecture.md#the-caller-is-heard-from-the-answer). A link
 * (agent socket to the ElevenLabs simulator, RTP on real UDP) is opened with early media, a socket
 * standing in for Asterisk sends a 1 kHz tone after the answer, and only then is the link started.
 * Run in-process (LocalLink) and in a media worker thread (WorkerLink).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { writePcm16BE } from '../../src/audio/pcm';
import { ResamplerPool } from '../../src/audio/resampler';
import { epochNowMs } from '../../src/lifecycle/timers';
import type { ConversationLink, EarlyMedia, LinkOpener } from '../../src/media/conversation-link';
import { MediaClock } from '../../src/media/media-clock';
import type { MediaConfig } from '../../src/media/media-session';
import { buildRtp, PT_L16_MONO } from '../../src/rtp/packet';
import { ElevenLabsSimulator } from '../fakes/elevenlabs-simulator';
import { dominantFrequencyHz, generateTone, rms } from '../helpers/signal';
import { LINK_HOMES, handlersWith, testLinkOpener, type TestLinkOpener } from '../helpers/link-opener';
import { waitFor } from '../helpers/wait-for';

const AGENT = 'before-start-agent';
const HOST = '127.0.0.1';
const PACKETS = 15; // 300 ms of the callee talking before the link is started

const MEDIA: MediaConfig = {
  externalMediaHost: HOST,
  externalMediaAdvertiseHost: HOST,
  externalMediaFormat: 'slin',
  rtpPortMin: 48000,
  rtpPortMax: 48999,
  audioChunkSizeMs: 20,
  resamplerConverter: 'sinc_fastest',
};

for (const where of LINK_HOMES) describe(`caller audio between the answer and the link's start (${where})`, function () {
  this.timeout(20_000);
  const pool = new ResamplerPool();
  const mediaClock = new MediaClock();
  let opener: TestLinkOpener | undefined;
  let sim: ElevenLabsSimulator;
  let peer: dgram.Socket;
  let link: ConversationLink | undefined;

  function linkOpener(): LinkOpener {
    opener = testLinkOpener(where, { apiUrl: sim.apiUrl, agentId: AGENT, media: MEDIA, pool, mediaClock });
    return opener.open;
  }

  beforeEach(async () => {
    sim = await ElevenLabsSimulator.start({ defaults: { pingIntervalMs: 60_000, turnTimeoutMs: -1, llmLatencyMs: 10 } });
    sim.agent(AGENT, { firstMessage: 'Hello.', greeting: { freqHz: 440, durationMs: 200 } });
    peer = dgram.createSocket('udp4');
    peer.bind(0, HOST);
    await once(peer, 'listening');
  });

  afterEach(async () => {
    await link?.close();
    link = undefined;
    await opener?.stop();
    opener = undefined;
    await new Promise<void>((resolve) => peer.close(() => resolve()));
    await sim.close();
  });

  after(() => {
    mediaClock.stop();
    pool.close();
  });

  /** The callee's tone, one 20 ms packet per 20 ms, as Asterisk sends it (big-endian slin). */
  async function talk(toPort: number): Promise<void> {
    const tone = generateTone({ freqHz: 1000, rateHz: 8000, durationMs: PACKETS * 20 });
    for (let i = 0; i < PACKETS; i++) {
      const payload = writePcm16BE(tone.subarray(i * 160, (i + 1) * 160));
      const packet = buildRtp({ payloadType: PT_L16_MONO, sequenceNumber: 100 + i, timestamp: i * 160, ssrc: 0x5150 }, payload);
      await new Promise<void>((resolve, reject) => peer.send(packet, toPort, HOST, (err) => (err ? reject(err) : resolve())));
      await new Promise((resolve) => setTimeout(resolve, 20)); // the callee's pace, not a wait for the link
    }
  }

  it('what the callee said after the answer and before the start reaches the agent whole, and the first frame is timed at its arrival', async () => {
    const remote = { address: HOST, port: peer.address().port };
    let localAddress!: string;
    // The ExternalMedia channel is in the bridge; the answer is told to the link only by the start.
    const early: EarlyMedia = { onLocalAddress: (a) => (localAddress = a), joined: Promise.resolve(remote), answered: new Promise<number>(() => undefined) };
    link = await linkOpener()('call-before-start', {}, new AbortController().signal, early);
    const conv = await sim.nextConversation();
    let firstCallerAtEpochMs: number | undefined;
    link.setHandlers(handlersWith({ onFirstCallerFrame: (at) => (firstCallerAtEpochMs = at) }));

    const answeredAtEpochMs = epochNowMs();
    await talk(Number(localAddress.split(':')[1]));
    const startedAtEpochMs = epochNowMs();
    link.start(remote, answeredAtEpochMs);

    await waitFor(() => conv.userAudioMs >= PACKETS * 20 - 5, { what: `${PACKETS * 20} ms of the callee at the agent (got ${conv.userAudioMs} ms)` });
    // The first thing the agent hears is the callee, whole: the tone from its start (less the
    // resampler's 2.5 ms delay), with no silence in front of it.
    const opening = conv.userAudio().subarray(0, 16 * (PACKETS * 20 - 5));
    assert.ok(Math.abs(dominantFrequencyHz(opening, 16_000) - 1000) <= 10, 'the agent hears the callee’s 1 kHz first');
    assert.ok(rms(opening.subarray(16 * 5)) > 5000, 'the tone at full level all through the opening');
    await waitFor(() => firstCallerAtEpochMs !== undefined, { what: 'the first caller frame reported' });
    assert.ok(firstCallerAtEpochMs! >= answeredAtEpochMs && firstCallerAtEpochMs! < startedAtEpochMs, 'timed at the arrival of the first kept packet, before the start');
  });
});
