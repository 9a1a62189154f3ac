import assert from 'node:assert/strict';
import type { CallListPage } from '../../src/model/call-record';
import type { CallView } from '../../src/model/call-view';
import { CARRIER_SENT_DTMF } from '../carrier/number-plan';
import { waitForRecording } from '../carrier/recording';
import { ElevenLabsSimulator } from '../fakes/elevenlabs-simulator';
import { audibleRuns, dominantFrequencyHz, segment } from '../helpers/signal';
import { waitFor } from '../helpers/wait-for';
import { parseWav, readWavFile } from '../helpers/wav';
import { asteriskPair, type AsteriskPair } from './fixtures/asterisk-pair';
import { GatewayHarness } from './fixtures/gateway-harness';

/** Hz of the loudest audible run in an 8 kHz recording whose frequency is near `hz`, or undefined. */
function findTone(samples: Int16Array, hz: number): { startMs: number; endMs: number } | undefined {
  return audibleRuns(samples).find((r) => Math.abs(dominantFrequencyHz(segment(samples, r), 8000) - hz) < 5);
}

/**
 * What callers and agent designers expect beyond the basic conversation, on the real Asterisk pair:
 * inbound calls, agent tools, keypad digits, answering-machine detection, recordings.
 */
describe('conversation features (real Asterisk pair + ElevenLabs simulator)', function () {
  this.timeout(60_000);
  let pair: AsteriskPair;
  let sim: ElevenLabsSimulator;
  let gw: GatewayHarness;

  before(async function () {
    pair = asteriskPair();
    sim = await ElevenLabsSimulator.start({});
    gw = new GatewayHarness(pair, sim);
  });

  afterEach(async function () {
    await gw.stop();
    if (this.currentTest?.state !== 'passed') await pair.cleanUpAri();
  });

  after(async function () {
    await sim?.close();
  });

  it('inbound: a call to a DID is answered by the agent mapped to it, and recorded like outbound calls', async function () {
    const did = `7495${String(Date.now() % 10_000_000).padStart(7, '0')}`;
    sim.agent('agent_sales', { greeting: { freqHz: 550, durationMs: 1000 }, turnTimeoutMs: -1, vad: { speechThreshold: 1_000_000 } });
    await gw.start({}, { INBOUND_AGENTS: `${did}=agent_sales` });
    await pair.carrier.callCustomer(did);
    const call = await waitFor(
      async () => (await gw.api<CallListPage>('GET', '/api/calls?limit=10')).body.calls.find((c) => c.dialed_number === did),
      { timeoutMs: 10_000, what: 'inbound call record' },
    );
    const answered = await gw.waitStatus(call.id, ['answered']);
    assert.equal(answered.direction, 'inbound');
    assert.equal(answered.agent_id, 'agent_sales');
    assert.match(answered.phone_number, /^\+?\d+$/, 'the caller number is recorded');
    const conv = await gw.conversationOf(call.id);
    assert.equal(conv.agentId, 'agent_sales');
    await gw.waitPlayout(call.id, 50);
    await gw.endAndCheckClean(call.id);
    // The carrier side (the caller) recorded the greeting of the sales agent.
    const wav = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, did)).rxWavPath);
    assert.ok(findTone(wav.samples, 550), `the caller did not hear the 550 Hz greeting: ${JSON.stringify(audibleRuns(wav.samples))}`);
  });

  it("caller keypad digits reach the agent as user messages and the event stream, in order", async function () {
    await gw.start({});
    const events: string[] = [];
    const sub = gw.app.events.subscribe((e) => {
      if (e.type === 'dtmf') events.push(e.digit);
    });
    try {
      const call = await gw.placeCall(pair.numbers.answerAndSendDtmf());
      const conv = await gw.conversationOf(call.id);
      const messages = await waitFor(
        () => {
          const texts = conv.framesOf('user_message', 'in').map((f) => (typeof f.data === 'string' ? '' : String(f.data['text'])));
          return texts.length >= CARRIER_SENT_DTMF.length ? texts : undefined;
        },
        { timeoutMs: 10_000, what: 'digits at the agent' },
      );
      const digits = messages.map((t) => /"(.)"/.exec(t)?.[1]).join('');
      assert.equal(digits, CARRIER_SENT_DTMF);
      assert.equal(events.join(''), CARRIER_SENT_DTMF);
      await gw.endAndCheckClean(call.id);
    } finally {
      sub.cancel();
    }
  });

  it('agent tool send_dtmf plays digits the callee (an IVR) receives', async function () {
    await gw.start({});
    const number = pair.numbers.answerAndCollectDtmf();
    const call = await gw.placeCall(number);
    const conv = await gw.conversationOf(call.id);
    await gw.waitStatus(call.id, ['answered']);
    const result = await conv.callClientTool('send_dtmf', { digits: '42#' }, { timeoutMs: 10_000 });
    assert.equal(result?.isError, false, JSON.stringify(result));
    assert.equal(await pair.carrier.waitForReceivedDigits(number, '42#'), '42#');
    await gw.endAndCheckClean(call.id);
  });

  it('agent tool end_call: the goodbye plays out, then the gateway hangs up', async function () {
    await gw.start({ greeting: { freqHz: 440, durationMs: 1500 } });
    const number = pair.numbers.answer();
    const call = await gw.placeCall(number);
    const conv = await gw.conversationOf(call.id);
    await gw.waitStatus(call.id, ['answered']);
    await gw.waitPlayout(call.id, 5);
    const result = await conv.callClientTool('end_call', {});
    assert.equal(result?.isError, false);
    const view = await gw.waitStatus(call.id, ['completed', 'failed']);
    assert.equal(view.end_reason, 'agent');
    await pair.expectAriIdle(5000);
    const wav = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, number)).rxWavPath);
    const greeting = findTone(wav.samples, 440);
    assert.ok(greeting && greeting.endMs - greeting.startMs >= 1400, `the goodbye was cut: ${JSON.stringify(audibleRuns(wav.samples))}`);
  });

  it('an unknown tool gets an error result and the call goes on', async function () {
    await gw.start({});
    const call = await gw.placeCall(pair.numbers.answer());
    const conv = await gw.conversationOf(call.id);
    await gw.waitStatus(call.id, ['answered']);
    const result = await conv.callClientTool('order_pizza', { size: 'xl' });
    assert.equal(result?.isError, true);
    assert.match(result?.result ?? '', /unknown tool/);
    assert.equal((await gw.call(call.id)).status, 'answered');
    await gw.endAndCheckClean(call.id);
  });

  it('agent tool transfer_to_number: only TRANSFER_DESTINATIONS are dialled, at most TRANSFER_MAX_ATTEMPTS per call', async function () {
    const busy = pair.numbers.busy();
    const target = pair.numbers.answer440Hz();
    const unlisted = pair.numbers.answer440Hz();
    await gw.start({ greeting: { freqHz: 660, durationMs: 300 } }, { TRANSFER_DESTINATIONS: `+${busy},+${target}`, TRANSFER_MAX_ATTEMPTS: '1' });
    const call = await gw.placeCall(pair.numbers.answer());
    const conv = await gw.conversationOf(call.id);
    await gw.waitStatus(call.id, ['answered']);
    const attempts: { allowed: boolean; reason: string }[] = [];
    const sub = gw.app.events.subscribe((e) => {
      if (e.type === 'transfer_attempt') attempts.push({ allowed: e.allowed, reason: e.reason });
    }, { callId: call.id });
    // Ids, not the listing: Asterisk has been seen to list one channel twice for a moment.
    const channelsNow = async (): Promise<string[]> => [...new Set((await pair.ariGet<{ id: string }[]>('/channels')).map((c) => c.id))].sort();
    const before = await channelsNow();

    // A number the destination policy allows, but not listed: refused, nothing dialled, the call goes on.
    const refused = await conv.callClientTool('transfer_to_number', { phone_number: `+${unlisted}` });
    assert.equal(refused?.isError, true, JSON.stringify(refused));
    assert.match(refused?.result ?? '', /not one the caller may be transferred to/);
    assert.deepEqual(await channelsNow(), before, 'no transfer leg was created');
    const played = (await gw.call(call.id)).metrics.ai_to_caller.packets;
    await conv.sayAgent({ text: 'Still here.', freqHz: 550, durationMs: 400 });
    await gw.waitPlayout(call.id, played + 15);

    // A listed number that is busy: dialled once, fails, the call goes on.
    const failed = await conv.callClientTool('transfer_to_number', { phone_number: `+${busy}` }, { timeoutMs: 15_000 });
    assert.equal(failed?.isError, true, JSON.stringify(failed));
    assert.match(failed?.result ?? '', /did not answer \(busy\)/);
    // The attempt is spent: the listed target is refused now.
    const limited = await conv.callClientTool('transfer_to_number', { phone_number: `+${target}` });
    assert.equal(limited?.isError, true);
    assert.match(limited?.result ?? '', /no further transfer/);
    sub.cancel();
    assert.deepEqual(attempts.map((a) => a.allowed), [false, true, false]);
    assert.equal((await gw.call(call.id)).status, 'answered');
    await gw.endAndCheckClean(call.id);
  });

  it('agent tool transfer_to_number bridges the caller to the target; the agent leaves', async function () {
    const caller = pair.numbers.answer();
    const target = pair.numbers.answer440Hz();
    await gw.start({ greeting: { freqHz: 660, durationMs: 300 } }, { TRANSFER_DESTINATIONS: `+${target}` });
    const call = await gw.placeCall(caller);
    const conv = await gw.conversationOf(call.id);
    await gw.waitStatus(call.id, ['answered']);

    const denied = await conv.callClientTool('transfer_to_number', { phone_number: '+78091234567' });
    assert.equal(denied?.isError, true, 'premium destinations are refused');

    const transfers: string[] = [];
    const sub = gw.app.events.subscribe((e) => {
      if (e.type === 'transferred') transfers.push(e.to);
    }, { callId: call.id });
    const result = await conv.callClientTool('transfer_to_number', { phone_number: `+${target}` }, { timeoutMs: 15_000 });
    sub.cancel();
    assert.equal(result?.isError, false, JSON.stringify(result));
    assert.deepEqual(transfers, [`+${target}`], 'the event stream tells of the transfer');
    await waitFor(() => conv.closeInfo, { what: 'agent socket closed after the transfer' });
    assert.equal((await gw.call(call.id)).transferred_to, `+${target}`);
    // Caller and target talk through the bridge: wait until a second of the target's audio went to the caller.
    const legTx = async (id: string): Promise<number> => (await pair.ariGet<{ txcount: number }>(`/channels/${id}/rtp_statistics`)).txcount;
    const atTransfer = await legTx(`vg-${call.id}`);
    await waitFor(async () => (await legTx(`vg-${call.id}`)) - atTransfer >= 50, { timeoutMs: 5000, what: '1 s of the target toward the caller' });
    const view = await gw.endAndCheckClean(call.id);
    assert.equal(view.status, 'completed');
    const callerHeard = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, caller)).rxWavPath);
    const targetHeard = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, target)).rxWavPath);
    const runsHz = (x: Int16Array) => JSON.stringify(audibleRuns(x, 50).map((r) => ({ ...r, hz: Math.round(dominantFrequencyHz(segment(x, r), 8000)) })));
    assert.ok(findTone(callerHeard.samples, 440), `the caller never heard the target's 440 Hz: ${runsHz(callerHeard.samples)} (tx ${atTransfer}, caller rec ${callerHeard.samples.length / 8} ms; target heard ${runsHz(targetHeard.samples)} in ${targetHeard.samples.length / 8} ms)`);
    assert.ok(findTone(targetHeard.samples, 1000), "the target never heard the caller's 1 kHz");
  });

  it('answering-machine detection: a machine is hung up on when asked; a human gets the agent', async function () {
    await gw.start({ greeting: { freqHz: 440, durationMs: 800 } });
    const verdicts: string[] = [];
    const sub = gw.app.events.subscribe((e) => {
      if (e.type === 'amd') verdicts.push(e.result);
    });
    const machine = await gw.placeCall(pair.numbers.answerMachine(), { amd: 'hangup' });
    const m = await gw.waitStatus(machine.id, ['completed', 'failed'], 20_000);
    assert.equal(m.amd_result, 'MACHINE');
    assert.deepEqual(verdicts, ['MACHINE'], 'the event stream tells the verdict');
    sub.cancel();
    assert.equal(m.end_reason, 'answering-machine');
    assert.equal(m.metrics.ai_to_caller.packets, 0, 'the agent never spoke to the machine');

    const humanNumber = pair.numbers.answerHuman();
    const human = await gw.placeCall(humanNumber, { amd: 'hangup' });
    await waitFor(async () => (await gw.call(human.id)).amd_result, { timeoutMs: 15_000, what: 'AMD verdict' });
    assert.equal((await gw.call(human.id)).amd_result, 'HUMAN');
    await gw.waitPlayout(human.id, 40);
    await gw.endAndCheckClean(human.id);
    const wav = await readWavFile((await waitForRecording(pair.carrier.recordingsDir, humanNumber)).rxWavPath);
    const greeting = findTone(wav.samples, 440);
    assert.ok(greeting, 'the human heard the agent');
    // The agent speaks only after AMD let the callee's "hello" finish.
    assert.ok(greeting.startMs >= 800, `the agent started ${greeting.startMs} ms after answer, over the callee's hello`);
    await pair.expectAriIdle(5000);
  });

  it('the call leg carries its call id, agent and conversation id for `core show channel`', async function () {
    await gw.start({});
    const call = await gw.placeCall(pair.numbers.answer());
    await gw.waitStatus(call.id, ['answered']);
    const conversationId = await waitFor(async () => (await gw.call(call.id)).conversation_id, { what: 'conversation id' });
    const { name } = await pair.ariGet<{ name: string }>(`/channels/vg-${call.id}`);
    const shown = await waitFor(async () => {
      const out = await pair.pbx.cli(`core show channel ${name}`);
      return out.includes(`VG_CONVERSATION_ID=${conversationId}`) ? out : undefined;
    }, { what: 'channel variables in core show channel' });
    assert.match(shown, new RegExp(`VG_CALL_ID=${call.id}`));
    assert.match(shown, /VG_AGENT_ID=default/);
    await gw.endAndCheckClean(call.id);
  });

  it('record: the call is recorded and the wav is downloadable from the API', async function () {
    await gw.start({ greeting: { freqHz: 440, durationMs: 1000 } });
    const call = await gw.placeCall(pair.numbers.answer(), { record: true });
    await gw.waitStatus(call.id, ['answered']);
    await gw.waitPlayout(call.id, 50);
    const ended: CallView = await gw.endAndCheckClean(call.id);
    assert.equal(ended.recording_url, `/api/calls/${call.id}/recording`);
    const res = await fetch(`${gw.app.server.info.uri}${ended.recording_url}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    const wav = parseWav(Buffer.from(await res.arrayBuffer()));
    assert.ok(findTone(wav.samples, 440), 'the agent is in the recording');
    assert.ok(findTone(wav.samples, 1000) || audibleRuns(wav.samples).length > 0, 'the callee is in the recording');
  });

  it('the caller hanging up while the transfer target rings cancels the target at once', async function () {
    const target = pair.numbers.noAnswer();
    await gw.start({ greeting: { freqHz: 660, durationMs: 300 } }, { TRANSFER_DESTINATIONS: `+${target}`, TRANSFER_RING_TIMEOUT_S: '60' });
    const call = await gw.placeCall(pair.numbers.answer());
    const conv = await gw.conversationOf(call.id);
    await gw.waitStatus(call.id, ['answered']);
    const result = conv.callClientTool('transfer_to_number', { phone_number: `+${target}` }, { timeoutMs: 30_000 });
    const channels = async (): Promise<string[]> => (await pair.ariGet<{ id: string }[]>('/channels')).map((c) => c.id);
    await waitFor(async () => (await channels()).includes(`vg-tr-${call.id}`), { what: 'the transfer target ringing' });
    // The caller hangs up (as the far end would): Asterisk destroys the leg.
    await fetch(`${pair.ari.url}/ari/channels/vg-${call.id}`, {
      method: 'DELETE',
      headers: { authorization: `Basic ${Buffer.from(`${pair.ari.username}:${pair.ari.password}`).toString('base64')}` },
    });
    const ended = await gw.waitStatus(call.id, ['completed', 'failed']);
    assert.equal(ended.end_reason, 'callee');
    // Well inside TRANSFER_RING_TIMEOUT_S (60 s): the ringing target went with the call.
    await pair.expectAriIdle(5000);
    // The agent left with the call: no tool result, or an error one; never a transfer.
    assert.notEqual((await result)?.isError, false);
  });

  it('inbound calls count against MAX_CONCURRENT_CALLS: of four at once, two are answered, two are refused with congestion and recorded; nothing is left', async function () {
    await gw.start({ greeting: { freqHz: 550, durationMs: 300 } }, { MAX_CONCURRENT_CALLS: '2', INBOUND_RATE_LIMIT_BURST: '10' });
    const dids = Array.from({ length: 4 }, (_, i) => `7496${String((Date.now() + i) % 10_000_000).padStart(7, '0')}`);
    await Promise.all(dids.map((did) => pair.carrier.callCustomer(did)));
    const records = await waitFor(
      async () => {
        const { calls } = (await gw.api<CallListPage>('GET', '/api/calls?limit=20')).body;
        const ours = calls.filter((c) => c.dialed_number !== null && dids.includes(c.dialed_number));
        const answered = ours.filter((c) => c.status === 'answered');
        const refused = ours.filter((c) => c.end_reason === 'at-capacity');
        return answered.length === 2 && refused.length === 2 ? { answered, refused } : undefined;
      },
      { timeoutMs: 15_000, what: 'two answered and two refused inbound calls' },
    );
    for (const r of records.refused) {
      assert.equal(r.status, 'failed');
      assert.equal(r.answered_at, null, 'a refused call is never answered');
      assert.equal(r.direction, 'inbound');
    }
    const metrics = await gw.app.metrics.render();
    assert.match(metrics, /voice_gateway_calls_refused_total\{direction="inbound",reason="at-capacity"\} 2/);
    for (const r of records.answered) await gw.api('DELETE', `/api/calls/${r.id}`);
    for (const r of records.answered) assert.equal((await gw.waitStatus(r.id, ['completed', 'failed'])).status, 'completed');
    await pair.expectAriIdle(5000);
  });

});
