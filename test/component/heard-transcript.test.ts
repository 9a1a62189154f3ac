/**
 * What the caller heard of each agent line, measured on the link's side: a link (agent socket to
 * the ElevenLabs simulator, RTP media session on real UDP) plays to a socket standing in for
 * Asterisk, and its `onAgentLineHeard` reports are checked against the audio that socket got. Run
 * in-process (LocalLink) and in a media worker thread (WorkerLink): the reports, the line's event id
 * and the agent's correction must cross the thread boundary intact.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readPcm16BE } from '../../src/audio/pcm';
import { ResamplerPool } from '../../src/audio/resampler';
import type { AgentLineCorrection, AgentLineHeard, ConversationLink, ConversationLinkHandlers, LinkOpener } from '../../src/media/conversation-link';
import { MediaClock } from '../../src/media/media-clock';
import type { MediaConfig } from '../../src/media/media-session';
import { isRtpParseError, parseRtp } from '../../src/rtp/packet';
import { ElevenLabsSimulator, type SimConversation } from '../fakes/elevenlabs-simulator';
import { charStartMs } from '../fakes/sim/alignment';
import { audibleRuns, dominantFrequencyHz, segment } from '../helpers/signal';
import { LINK_HOMES, handlersWith, testLinkOpener, type TestLinkOpener } from '../helpers/link-opener';
import { waitFor } from '../helpers/wait-for';

const AGENT = 'heard-agent';
const GREETING = 'Hello there, this is a simulated agent speaking slowly.';
const GREETING_MS = 2000;

/** Asterisk's end of ExternalMedia: records the slin payloads it receives, in order. */
class RtpSink {
  readonly socket = dgram.createSocket('udp4');
  readonly payloads: Buffer[] = [];

  async open(): Promise<{ address: string; port: number }> {
    this.socket.on('message', (msg) => {
      const p = parseRtp(Buffer.from(msg));
      if (!isRtpParseError(p)) this.payloads.push(Buffer.from(p.payload));
    });
    this.socket.bind(0, '127.0.0.1');
    await once(this.socket, 'listening');
    return { address: '127.0.0.1', port: this.socket.address().port };
  }

  /** Everything received, as 8 kHz samples. */
  samples(): Int16Array {
    return readPcm16BE(Buffer.concat(this.payloads));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function handlers(heard: AgentLineHeard[], corrections: AgentLineCorrection[], lines: { text: string; eventId?: number }[]): ConversationLinkHandlers {
  return handlersWith({
    onTranscript: (_role, text, eventId) => lines.push({ text, eventId }),
    onAgentLineHeard: (r) => heard.push(r),
    onAgentLineCorrected: (c) => corrections.push(c),
  });
}

const MEDIA: MediaConfig = {
  externalMediaHost: '127.0.0.1',
  externalMediaAdvertiseHost: '127.0.0.1',
  externalMediaFormat: 'slin',
  rtpPortMin: 47000,
  rtpPortMax: 47999,
  audioChunkSizeMs: 20,
  resamplerConverter: 'sinc_fastest',
};

for (const where of LINK_HOMES) describe(`heard transcript: playout against the simulator (${where})`, function () {
  this.timeout(20_000);
  const pool = new ResamplerPool();
  const mediaClock = new MediaClock();
  let opener: TestLinkOpener | undefined;
  let sim: ElevenLabsSimulator;
  let sink: RtpSink;
  let link: ConversationLink | undefined;

  function linkOpener(): LinkOpener {
    opener = testLinkOpener(where, { apiUrl: sim.apiUrl, agentId: AGENT, media: MEDIA, pool, mediaClock });
    return opener.open;
  }

  beforeEach(async () => {
    sim = await ElevenLabsSimulator.start({
      defaults: { pingIntervalMs: 60_000, turnTimeoutMs: -1, interruptLatencyMs: 0, llmLatencyMs: 10, alignment: true, speedFactor: 4 },
    });
    sink = new RtpSink();
  });

  afterEach(async () => {
    await link?.close();
    link = undefined;
    await opener?.stop();
    opener = undefined;
    await sink.close();
    await sim.close();
  });

  after(() => {
    mediaClock.stop();
    pool.close();
  });

  async function open(greeting: { text: string; durationMs: number }): Promise<{ conv: SimConversation; heard: AgentLineHeard[]; corrections: AgentLineCorrection[]; lines: { text: string; eventId?: number }[] }> {
    sim.agent(AGENT, {
      firstMessage: greeting.text,
      greeting: { freqHz: 440, durationMs: greeting.durationMs },
      clientEvents: ['audio', 'interruption', 'agent_response', 'agent_response_correction', 'user_transcript', 'ping'],
    });
    const remote = await sink.open();
    link = await linkOpener()('call-heard', {}, new AbortController().signal);
    const conv = await sim.nextConversation();
    const heard: AgentLineHeard[] = [];
    const corrections: AgentLineCorrection[] = [];
    const lines: { text: string; eventId?: number }[] = [];
    link.setHandlers(handlers(heard, corrections, lines));
    link.start(remote);
    return { conv, heard, corrections, lines };
  }

  it('a barge-in: the line is cut after exactly the audio that left, at the character the alignment puts there', async () => {
    const { conv, heard, corrections, lines } = await open({ text: GREETING, durationMs: GREETING_MS });
    await waitFor(() => link!.metrics().ai_to_caller.packets >= 40, { what: '800 ms of greeting played' });
    await conv.interrupt({ transcript: 'Stop.' });
    const report = await waitFor(() => heard.find((r) => r.eventId === 1), { what: 'heard report of the greeting' });
    // Nothing is sent after the cut: the line's packets (20 ms each) are all there is.
    await waitFor(() => sink.payloads.length * 20 >= report.heardMs, { what: 'every packet sent has arrived' });

    assert.equal(report.isComplete, false);
    assert.ok(report.totalMs > report.heardMs, JSON.stringify(report));
    // What the caller got: a 440 Hz tone exactly as long as the report says (20 ms resolution).
    const runs = audibleRuns(sink.samples());
    const tone = runs[0];
    assert.ok(tone !== undefined && runs.length === 1, `runs: ${JSON.stringify(runs)}`);
    assert.ok(Math.abs(tone.endMs - tone.startMs - report.heardMs) <= 20, `tone ${tone.endMs - tone.startMs} ms, report ${report.heardMs} ms`);
    assert.ok(Math.abs(dominantFrequencyHz(segment(sink.samples(), tone), 8000) - 440) < 5);
    // The characters whose sound had begun by then, per the agent's alignment.
    const length = [...GREETING].length;
    let expectedChars = 0;
    while (expectedChars < length && charStartMs(expectedChars, length, GREETING_MS) < report.heardMs) expectedChars++;
    assert.ok(Math.abs((report.cutAtChar ?? -1) - expectedChars) <= 1, `cut at ${report.cutAtChar}, expected ${expectedChars} (${report.heardMs} ms)`);
    assert.equal(report.heardText, GREETING.slice(0, report.cutAtChar));
    // The line itself came with its event id, and the agent's correction names it too.
    assert.deepEqual(lines[0], { text: GREETING, eventId: 1 });
    const correction = await waitFor(() => corrections[0], { what: 'agent_response_correction' });
    assert.equal(correction.eventId, 1);
    assert.equal(correction.originalText, GREETING);
  });

  it('a line played to its end is reported complete, with all of its characters', async () => {
    const { heard } = await open({ text: 'Hi there!', durationMs: 400 });
    const report = await waitFor(() => heard.find((r) => r.eventId === 1), { timeoutMs: 5000, what: 'heard report' });
    assert.equal(report.isComplete, true);
    assert.ok(Math.abs(report.heardMs - 400) <= 20, JSON.stringify(report));
    assert.equal(report.cutAtChar, 9);
    assert.equal(report.heardText, 'Hi there!');
  });
});
