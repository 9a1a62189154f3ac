/**
 * What the caller heard, and when the agent connects, on the real Asterisk pair with the
 * ElevenLabs simulator: the record's heard transcript against the audio the carrier recorded, and
 * AGENT_CONNECT (parked while a slow phone rings, or opened on answer) against the recording too.
 */
import assert from 'node:assert/strict';
import type { App } from '../../src/app';
import type { SequencedBusEvent } from '../../src/events/call-events';
import { waitForRecording } from '../carrier/recording';
import { ElevenLabsSimulator } from '../fakes/elevenlabs-simulator';
import { charStartMs } from '../fakes/sim/alignment';
import type { SimConversation } from '../fakes/sim/conversation';
import { audibleRuns, dominantFrequencyHz, findGaps, rms, segment } from '../helpers/signal';
import { waitFor } from '../helpers/wait-for';
import { readWavFile } from '../helpers/wav';
import { asteriskPair, type AsteriskPair } from './fixtures/asterisk-pair';
import { GatewayHarness } from './fixtures/gateway-harness';

const GREETING = 'Hello! This is Ada from Acme deliveries, calling about your order today.';

/** 40 ms frames of an 8 kHz recording near `freqHz` (and loud): the span they cover, ms. */
function toneSpan(samples: Int16Array, freqHz: number): { startMs: number; endMs: number } | undefined {
  let start: number | undefined;
  let end: number | undefined;
  for (let ms = 0; ms + 40 <= samples.length / 8; ms += 20) {
    const frame = samples.subarray(ms * 8, (ms + 40) * 8);
    if (rms(frame) < 300 || Math.abs(dominantFrequencyHz(frame, 8000, { minHz: 200, maxHz: 2000 }) - freqHz) > 8) continue;
    start ??= ms;
    end = ms + 40;
  }
  return start === undefined || end === undefined ? undefined : { startMs: start, endMs: end };
}

describe('heard transcript and agent connect (real Asterisk pair + simulator)', function () {
  this.timeout(60_000);
  let pair: AsteriskPair;
  let sim: ElevenLabsSimulator;
  let gw: GatewayHarness;

  before(async () => {
    pair = asteriskPair();
    sim = await ElevenLabsSimulator.start({});
    gw = new GatewayHarness(pair, sim);
  });
  afterEach(async function () {
    await gw.stop();
    if (this.currentTest?.state !== 'passed') await pair.cleanUpAri();
  });
  after(() => sim.close());

  it('a barge-in with alignment: the line says what the carrier heard of the greeting — its ms and its characters', async () => {
    const app: App = await gw.start({
      greeting: { freqHz: 440, durationMs: 3000 },
      firstMessage: GREETING,
      alignment: true,
      interruptLatencyMs: 0,
      clientEvents: ['audio', 'interruption', 'agent_response', 'agent_response_correction', 'user_transcript', 'ping'],
    });
    const heardEvents: SequencedBusEvent[] = [];
    const sub = app.events.subscribe((e) => heardEvents.push(e), { includeCampaigns: true });
    try {
      const number = pair.numbers.answer();
      const call = await gw.placeCall(number);
      const conv: SimConversation = await gw.conversationOf(call.id);
      await gw.waitStatus(call.id, ['answered']);
      await gw.waitPlayout(call.id, 50); // a second of the 3 s greeting
      await conv.interrupt({ transcript: 'Stop, please.' });
      const line = await waitFor(async () => {
        const t = (await gw.call(call.id)).transcript[0];
        return t?.heard !== undefined ? t : undefined;
      }, { what: 'the greeting line knows what was heard' });
      await gw.endAndCheckClean(call.id);

      const heard = line.heard!;
      assert.equal(heard.complete, false);
      assert.ok(heard.ms >= 1000 && heard.ms < heard.total_ms, JSON.stringify(heard));
      // The carrier's recording of what the phone got: 440 Hz for as long as the line says.
      const wav = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, number)).rxWavPath);
      // The greeting by its frequency: what the carrier heard of it alone.
      const tone = toneSpan(wav.samples, 440);
      assert.ok(tone !== undefined, `no 440 Hz greeting at the carrier: ${JSON.stringify(audibleRuns(wav.samples))}`);
      assert.ok(Math.abs(dominantFrequencyHz(segment(wav.samples, tone), 8000) - 440) < 3);
      const toneMs = tone.endMs - tone.startMs;
      assert.ok(Math.abs(toneMs - heard.ms) <= 40, `the carrier heard ${toneMs} ms of the greeting; the line says ${heard.ms} ms`);
      // Its characters: those the agent's alignment starts before the cut.
      const length = [...GREETING].length;
      let expected = 0;
      while (expected < length && charStartMs(expected, length, 3000) < toneMs) expected++;
      assert.ok(Math.abs((heard.chars ?? -99) - expected) <= 1, `cut at character ${heard.chars}, the recording says ${expected}`);
      assert.equal(heard.text, GREETING.slice(0, heard.chars));
      // The agent's correction replaced the line's text, the original is kept.
      const final = (await gw.call(call.id)).transcript[0]!;
      assert.equal(final.original_text, GREETING);
      assert.ok(final.text.length < GREETING.length && GREETING.startsWith(final.text), final.text);
      // And the stream said so.
      const event = heardEvents.find((e) => e.type === 'heard' && e.call_id === call.id);
      assert.ok(event?.type === 'heard' && event.line === 0 && event.heard.ms === heard.ms, JSON.stringify(event));
    } finally {
      sub.cancel();
    }
  });

  it('a phone ringing longer than AGENT_PRECONNECT_MAX_S: the agent closes while it rings, reopens on answer, and the greeting is heard whole', async () => {
    await gw.start({ greeting: { freqHz: 660, durationMs: 2000 } }, { AGENT_PRECONNECT_MAX_S: '1' });
    const before = sim.conversations.length;
    const closedAtMs: number[] = [];
    const onConversation = (c: SimConversation): void => {
      c.once('close', () => closedAtMs.push(Date.now()));
    };
    sim.on('conversation', onConversation);
    try {
      const number = pair.numbers.answerAfterRinging(3);
      const call = await gw.placeCall(number);
      const channels = async (): Promise<string[]> => (await pair.ariGet<{ id: string }[]>('/channels')).map((c) => c.id);
      // Released while the phone rings: the conversation and its ExternalMedia channel (vg-em-…).
      await waitFor(async () => closedAtMs.length > 0 && !(await channels()).includes(`vg-em-${call.id}`), { what: 'the first conversation and its ExternalMedia released' });
      assert.equal((await gw.call(call.id)).status, 'ringing', 'released while the phone still rang');
      const answered = await gw.waitStatus(call.id, ['answered'], 15_000);
      await gw.waitPlayout(call.id, 100); // the whole greeting (2 s)
      assert.ok((await channels()).includes(`vg-em2-${call.id}`), 'the second conversation has an ExternalMedia channel of its own');
      const ended = await gw.endAndCheckClean(call.id);

      const convs = sim.conversations.slice(before);
      assert.equal(convs.length, 2, 'one conversation while ringing, one after answer');
      assert.equal(convs[0]!.closeInfo?.initiatedBy, 'client', 'the gateway closed the first');
      assert.ok(closedAtMs[0]! < Date.parse(answered.answered_at!), 'it closed while the phone rang');
      assert.equal(ended.conversation_id, convs[1]!.id, 'the call talked to the second');
      const wav = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, number)).rxWavPath);
      const greeting = toneSpan(wav.samples, 660);
      assert.ok(greeting !== undefined, `no 660 Hz greeting at the carrier: ${JSON.stringify(audibleRuns(wav.samples))}`);
      assert.ok(Math.abs(greeting.endMs - greeting.startMs - 2000) <= 80, `the greeting lasted ${greeting.endMs - greeting.startMs} ms at the carrier`);
      const gaps = findGaps(segment(wav.samples, greeting).subarray(160, -160), 8000, 20, { freqHz: 660 });
      assert.deepEqual([gaps.silentFrames.length, gaps.discontinuities.length], [0, 0], 'gap-free');
      process.stderr.write(`      AGENT_CONNECT=ringing, reopened on answer: answer → greeting at the carrier ${greeting.startMs} ms\n`);
    } finally {
      sim.off('conversation', onConversation);
    }
  });

  it('AGENT_CONNECT=answer: no conversation while the phone rings; ringback, then the whole greeting', async () => {
    await gw.start({ greeting: { freqHz: 660, durationMs: 2000 } }, { AGENT_CONNECT: 'answer' });
    const before = sim.conversations.length;
    const number = pair.numbers.answerAfterRinging(1);
    const call = await gw.placeCall(number);
    await gw.waitStatus(call.id, ['ringing'], 10_000);
    assert.equal(sim.conversations.length, before, 'nothing opened while ringing');
    await gw.waitStatus(call.id, ['answered'], 10_000);
    await gw.waitPlayout(call.id, 100);
    await gw.endAndCheckClean(call.id);
    assert.equal(sim.conversations.length, before + 1);
    const wav = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, number)).rxWavPath);
    const greeting = toneSpan(wav.samples, 660);
    assert.ok(greeting !== undefined, `no greeting: ${JSON.stringify(audibleRuns(wav.samples))}`);
    assert.ok(Math.abs(greeting.endMs - greeting.startMs - 2000) <= 80, `the greeting lasted ${greeting.endMs - greeting.startMs} ms`);
    const ringback = toneSpan(wav.samples.subarray(0, greeting.startMs * 8), 425);
    process.stderr.write(
      `      AGENT_CONNECT=answer: answer → greeting at the carrier ${greeting.startMs} ms; ringback before it: ${ringback === undefined ? 'none (connected first)' : `${ringback.endMs - ringback.startMs} ms of 425 Hz`}\n`,
    );
  });
});
