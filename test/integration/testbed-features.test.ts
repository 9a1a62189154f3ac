import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ChannelDtmfReceived, Event } from 'ari-client';
import { ariAuthorization } from '../../scripts/lib/asterisk-instance';
import { delay, pollUntil } from '../../scripts/lib/poll';
import { CARRIER_SENT_DTMF, HANGUP_CAUSE } from '../carrier/number-plan';
import { dominantFrequencyHz, fitSine, rms } from '../helpers/signal';
import { parseWav, readWavFile, type WavAudio } from '../helpers/wav';
import { AriTestClient, type AriEventJson } from './fixtures/ari-test-client';
import { asteriskPair, type AsteriskPair } from './fixtures/asterisk-pair';

/** One ChannelDtmfReceived event as Asterisk sent it (the fields the tests read). */
interface DtmfEvent {
  readonly digit: string;
  readonly durationMs: number;
  readonly channelId: string;
  readonly receivedAt: number;
  /** Top-level fields of the event as sent (for the log). */
  readonly fields: readonly string[];
}

/** Amplitude of the `freqHz` component of `samples` (least-squares sine fit), in PCM16 units. */
function toneAmplitude(samples: Int16Array, rateHz: number, freqHz: number): number {
  return fitSine(samples, rateHz, freqHz).amplitude;
}

/** The middle `ms` of a recording (skips the call's start and end). */
function middle(audio: WavAudio, ms: number): Int16Array {
  const n = Math.min(audio.samples.length, Math.round((audio.sampleRateHz * ms) / 1000));
  const start = Math.floor((audio.samples.length - n) / 2);
  return audio.samples.subarray(start, start + n);
}

/**
 * Features the gateway builds on, proven on the real pair over ARI (no gateway app): answering
 * machine detection in our dialplan ([vg-amd]), DTMF in both directions over the trunk (RFC 4733),
 * bridge recording with download over ARI, and inbound calls bridged to a second (transfer) leg.
 */
describe('Asterisk test bed: AMD, DTMF, bridge recording, inbound + transfer', function () {
  let pair: AsteriskPair;
  let ari: AriTestClient;
  const dtmf: DtmfEvent[] = [];
  const onDtmf = (event: ChannelDtmfReceived): void => {
    dtmf.push({
      digit: event.digit,
      durationMs: event.duration_ms,
      channelId: event.channel.id,
      receivedAt: Date.now(),
      fields: Object.keys(event).filter((key) => !key.startsWith('_')),
    });
  };
  const log = (line: string): void => {
    process.stderr.write(`      [testbed-features] ${line}\n`);
  };

  before(async function () {
    pair = asteriskPair();
    ari = await AriTestClient.connect(pair.ari);
    (ari.client.on as (type: string, listener: (event: ChannelDtmfReceived) => void) => void)('ChannelDtmfReceived', onDtmf);
  });

  after(function () {
    ari?.client.removeListener('ChannelDtmfReceived', onDtmf as (event: Event) => void);
    ari?.close();
  });

  // A passing test must leave no channel or bridge behind; after a failed one only clean up.
  afterEach(async function () {
    if (this.currentTest?.state === 'passed') await pair.expectAriIdle();
    else await pair.cleanUpAri();
  });

  const originate = (number: string, timeoutS?: number): Promise<string> =>
    ari.originateToTrunk({ number, trunk: pair.trunkEndpoint, app: pair.ari.app, idPrefix: 'tbf', timeoutS });
  const waitForAnswer = (channelId: string): Promise<AriEventJson> => ari.waitForAnswer(channelId);
  const hangup = (channelId: string, endEvent?: 'ChannelDestroyed' | 'StasisEnd'): Promise<AriEventJson> =>
    ari.hangupAndWait(channelId, endEvent);


  /** A raw ARI request (path after /ari); returns the response, which the caller must consume. */
  async function ariFetch(method: string, resourcePath: string): Promise<Response> {
    return fetch(`${pair.ari.url}/ari${resourcePath}`, { method, headers: { authorization: ariAuthorization(pair.ari) } });
  }

  describe('answering-machine detection ([vg-amd] in asterisk-conf/extensions.conf)', function () {
    /**
     * Originate to `number`, send the answered channel to [vg-amd] and return the args of the
     * StasisStart it comes back with, and how long AMD took (continue request -> StasisStart).
     */
    async function runAmd(number: string): Promise<{ channelId: string; args: readonly string[]; amdMs: number }> {
      const channelId = await originate(number);
      const first = await waitForAnswer(channelId);
      assert.deepEqual(first.args, ['outbound', channelId]);
      const continuedAt = Date.now();
      await ari.client.channels.continueInDialplan({ channelId, context: 'vg-amd', extension: 's', priority: 1 });
      await ari.waitForChannel('StasisEnd', channelId);
      const back = await ari.waitFor(
        `StasisStart of ${channelId} after AMD`,
        (e) => e.channel?.id === channelId && ((e.type === 'StasisStart' && e.args?.[0] === 'amd') || e.type === 'ChannelDestroyed'),
        10_000,
      );
      if (back.type === 'ChannelDestroyed') assert.fail(`call ended during AMD: cause ${back.cause} (${back.cause_txt})`);
      return { channelId, args: back.args ?? [], amdMs: Date.now() - continuedAt };
    }

    it('a person saying "hello" is HUMAN: StasisStart args ["amd", "HUMAN", "HUMAN-<silence>-<after_greeting_silence>"]', async function () {
      const number = pair.numbers.answerHuman();
      const { channelId, args, amdMs } = await runAmd(number);
      log(`human: args ${JSON.stringify(args)}, AMD took ${amdMs} ms`);
      assert.equal(args.length, 3, `args ${JSON.stringify(args)}`);
      assert.equal(args[1], 'HUMAN', `AMD said ${args[1]} (${args[2]})`);
      assert.match(args[2] ?? '', /^HUMAN-\d+-\d+$/);
      await hangup(channelId);
      const recording = await pair.carrier.waitForRecording(number);
      assert.ok((await stat(recording.rxWavPath)).size > 44, 'the carrier recorded the call');
    });

    it('an answering machine greeting is MACHINE: StasisStart args ["amd", "MACHINE", "<cause>"]', async function () {
      const number = pair.numbers.answerMachine();
      const { channelId, args, amdMs } = await runAmd(number);
      log(`machine: args ${JSON.stringify(args)}, AMD took ${amdMs} ms`);
      assert.equal(args.length, 3, `args ${JSON.stringify(args)}`);
      assert.equal(args[1], 'MACHINE', `AMD said ${args[1]} (${args[2]})`);
      assert.match(args[2] ?? '', /^(LONGGREETING|MAXWORDS|MAXWORDLENGTH)-[\d-]+$/);
      await hangup(channelId);
      await pair.carrier.waitForRecording(number);
    });

    it('a continuous tone (no words, no pause) is not taken for a person', async function () {
      // 1 kHz without a break: one "word" that never ends -> LONGGREETING once greeting ms of voice passed.
      const number = pair.numbers.answer();
      const { channelId, args, amdMs } = await runAmd(number);
      log(`1 kHz tone: args ${JSON.stringify(args)}, AMD took ${amdMs} ms`);
      assert.notEqual(args[1], 'HUMAN', `args ${JSON.stringify(args)}`);
      await hangup(channelId);
      await pair.carrier.waitForRecording(number);
    });

    it('a callee hanging up during AMD: the app sees the channel end, not a second StasisStart', async function () {
      const channelId = await originate(pair.numbers.answerThenHangUp(1));
      await waitForAnswer(channelId);
      await ari.client.channels.continueInDialplan({ channelId, context: 'vg-amd', extension: 's', priority: 1 });
      const end = await ari.waitFor(
        `the end of ${channelId} during AMD`,
        (e) => e.channel?.id === channelId && (e.type === 'ChannelDestroyed' || (e.type === 'StasisStart' && e.args?.[0] === 'amd')),
        10_000,
      );
      log(`hangup during AMD: ${end.type} ${JSON.stringify(end.args ?? end.cause)}`);
      assert.equal(end.type, 'ChannelDestroyed', `got ${end.type} ${JSON.stringify(end.args)}`);
      assert.equal(end.cause, HANGUP_CAUSE.normalClearing);
    });
  });

  describe('DTMF over the trunk (RFC 4733)', function () {
    it(`digits the callee presses arrive as ChannelDtmfReceived events (${CARRIER_SENT_DTMF})`, async function () {
      const number = pair.numbers.answerAndSendDtmf();
      const channelId = await originate(number);
      await waitForAnswer(channelId);
      const answeredAt = Date.now();
      const received = (): DtmfEvent[] => dtmf.filter((d) => d.channelId === channelId);
      const events = await pollUntil(
        async () => {
          const got = received();
          return got.length >= CARRIER_SENT_DTMF.length ? { done: true, value: got } : { done: false, seen: got.map((d) => d.digit).join('') };
        },
        { timeoutMs: 5000, intervalMs: 50, what: `ChannelDtmfReceived ${CARRIER_SENT_DTMF} on ${channelId}` },
      );
      log(
        `caller DTMF: ${events.map((d) => `${d.digit} ${d.durationMs} ms @${d.receivedAt - answeredAt} ms`).join(', ')} (times after StasisStart)`,
      );
      log(`ChannelDtmfReceived fields: ${events[0]?.fields.join(', ') ?? 'none'}`);
      assert.equal(events.map((d) => d.digit).join(''), CARRIER_SENT_DTMF);
      // SendDTMF: 100 ms per digit (Asterisk's default), 250 ms between digits.
      for (const d of events) assert.ok(d.durationMs >= 80 && d.durationMs <= 200, `digit ${d.digit} lasted ${d.durationMs} ms (SendDTMF: 100)`);
      const gaps = events.slice(1).map((d, i) => d.receivedAt - (events[i]?.receivedAt ?? 0));
      for (const gap of gaps) assert.ok(gap >= 250 && gap <= 800, `digits ${gaps.join(', ')} ms apart (SendDTMF: 100 + 250)`);
      assert.ok((events[0]?.receivedAt ?? 0) - answeredAt >= 700, 'the carrier waits ~1 s after answering');
      await hangup(channelId);
      await pair.carrier.waitForRecording(number);
    });

    it('digits we send with POST /channels/{id}/dtmf reach the callee (an IVR on the carrier)', async function () {
      const number = pair.numbers.answerAndCollectDtmf();
      const channelId = await originate(number);
      await waitForAnswer(channelId);
      const sent = '0123456789*#ABCD';
      const sentAt = Date.now();
      await ari.client.channels.sendDTMF({ channelId, dtmf: sent });
      const digits = await pair.carrier.waitForReceivedDigits(number, sent, 15_000);
      log(`IVR received "${digits}" ${Date.now() - sentAt} ms after the request (${sent.length} digits, ARI defaults 100 ms + 100 ms gap)`);
      // Our own DTMF is not echoed to us as ChannelDtmfReceived.
      assert.deepEqual(dtmf.filter((d) => d.channelId === channelId), []);
      await hangup(channelId);
      await pair.carrier.waitForRecording(number);
    });
  });

  describe('recording a bridge over ARI', function () {
    it('POST /bridges/{id}/record records both legs; GET /recordings/stored/{name}/file downloads the wav', async function () {
      const modules = await pair.pbx.cli('module show like res_stasis_recording');
      assert.match(modules, /res_stasis_recording\.so\s.*Running/);
      const recordingDir = pair.pbx.hostPath(path.posix.join(pair.pbx.dirs.ASTERISK_SPOOL_DIR, 'recording'));
      assert.ok((await stat(recordingDir)).isDirectory(), `${recordingDir} must exist before the first recording`);

      const a = await originate(pair.numbers.answer()); // plays 1 kHz
      const b = await originate(pair.numbers.answer440Hz());
      await waitForAnswer(a);
      await waitForAnswer(b);
      const bridgeId = `tbf-bridge-${randomUUID()}`;
      await ari.client.bridges.create({ type: 'mixing', bridgeId });
      await ari.client.bridges.addChannel({ bridgeId, channel: [a, b] });

      const technology = async (): Promise<string> => (await pair.ariGet<{ technology: string }>(`/bridges/${bridgeId}`)).technology;
      const before = await technology();
      const name = `tbf-${randomUUID()}`;
      await ari.client.bridges.record({ bridgeId, name, format: 'wav', ifExists: 'fail', maxDurationSeconds: 30 });
      await delay(2000); // two seconds of conversation
      log(`bridge technology: ${before} before recording, ${await technology()} while recording`);
      const stopResponse = await ariFetch('POST', `/recordings/live/${encodeURIComponent(name)}/stop`);
      await stopResponse.body?.cancel();
      assert.equal(stopResponse.status, 204);
      const finished = await ari.waitFor(`recording ${name}`, (e) => e.recording?.name === name);
      assert.equal(finished.type, 'RecordingFinished', `recording failed: ${finished.recording?.cause ?? ''}`);

      const download = await ariFetch('GET', `/recordings/stored/${encodeURIComponent(name)}/file`);
      if (download.status !== 200) assert.fail(`download: HTTP ${download.status} ${await download.text()}`);
      log(`bridge recording download: ${download.headers.get('content-type')}, ${download.headers.get('content-length')} bytes`);
      const wav = parseWav(Buffer.from(await download.arrayBuffer()));
      assert.equal(wav.sampleRateHz, 8000);
      const seconds = wav.samples.length / wav.sampleRateHz;
      assert.ok(seconds > 1.5 && seconds < 3, `recorded ${seconds.toFixed(2)} s`);
      // Both parties are in the mix: the 1 kHz leg and the 440 Hz leg.
      const mid = middle(wav, 1000);
      const at1k = toneAmplitude(mid, wav.sampleRateHz, 1000);
      const at440 = toneAmplitude(mid, wav.sampleRateHz, 440);
      log(`bridge recording: ${seconds.toFixed(2)} s, rms ${rms(mid).toFixed(0)}, 1 kHz amplitude ${at1k.toFixed(0)}, 440 Hz amplitude ${at440.toFixed(0)}`);
      assert.ok(at1k > 1000 && at440 > 1000, `1 kHz ${at1k.toFixed(0)}, 440 Hz ${at440.toFixed(0)}`);

      const removed = await ariFetch('DELETE', `/recordings/stored/${encodeURIComponent(name)}`);
      await removed.body?.cancel();
      assert.equal(removed.status, 204);
      const gone = await ariFetch('GET', `/recordings/stored/${encodeURIComponent(name)}/file`);
      await gone.body?.cancel();
      assert.equal(gone.status, 404);

      await hangup(a);
      await hangup(b);
      await ari.client.bridges.destroy({ bridgeId });
    });

    it('a bridge recording ends with RecordingFinished when the bridge is destroyed', async function () {
      const a = await originate(pair.numbers.answer());
      await waitForAnswer(a);
      const bridgeId = `tbf-bridge-${randomUUID()}`;
      await ari.client.bridges.create({ type: 'mixing', bridgeId });
      await ari.client.bridges.addChannel({ bridgeId, channel: a });
      const name = `tbf-${randomUUID()}`;
      await ari.client.bridges.record({ bridgeId, name, format: 'wav' });
      await delay(1000);
      await hangup(a);
      await ari.client.bridges.destroy({ bridgeId });
      const finished = await ari.waitFor(`recording ${name}`, (e) => e.recording?.name === name);
      assert.equal(finished.type, 'RecordingFinished', `recording failed: ${finished.recording?.cause ?? ''}`);
      const file = pair.pbx.hostPath(path.posix.join(pair.pbx.dirs.ASTERISK_SPOOL_DIR, 'recording', `${name}.wav`));
      const audio = await readWavFile(file);
      const found = dominantFrequencyHz(middle(audio, 500), audio.sampleRateHz);
      assert.ok(Math.abs(found - 1000) < 5, `dominant ${found.toFixed(1)} Hz`);
      const removed = await ariFetch('DELETE', `/recordings/stored/${encodeURIComponent(name)}`);
      await removed.body?.cancel();
      assert.equal(removed.status, 204);
    });
  });

  describe('inbound calls and a transfer leg', function () {
    it('an inbound call arrives as ["inbound", DID] with the caller id, is answered and bridged to a second leg (transfer)', async function () {
      const did = pair.numbers.answer(); // the carrier files its recording of the inbound call under the DID
      const target = pair.numbers.answer440Hz(); // a person to transfer to: answers, says 440 Hz, records
      await pair.carrier.callCustomer(did);
      const start = await ari.waitFor(`inbound StasisStart for ${did}`, (e) => e.type === 'StasisStart' && e.args?.[1] === did);
      assert.deepEqual(start.args, ['inbound', did]);
      assert.equal(start.channel?.caller?.number, '74950000000', 'CARRIER_INBOUND_CALLER_ID');
      assert.equal(start.channel?.state, 'Ring');
      const caller = start.channel?.id ?? assert.fail('StasisStart without channel');
      await ari.client.channels.answer({ channelId: caller });

      const transferLeg = await originate(target);
      await waitForAnswer(transferLeg);
      const bridgeId = `tbf-bridge-${randomUUID()}`;
      await ari.client.bridges.create({ type: 'mixing', bridgeId });
      await ari.client.bridges.addChannel({ bridgeId, channel: [caller, transferLeg] });
      await delay(1500); // the two talk

      await hangup(caller, 'StasisEnd');
      await hangup(transferLeg);
      await ari.client.bridges.destroy({ bridgeId });

      // Each leg's far end heard the other one: the inbound caller got 440 Hz, the target 1 kHz.
      const heardByCaller = await readWavFile((await pair.carrier.waitForRecording(did)).rxWavPath);
      const heardByTarget = await readWavFile((await pair.carrier.waitForRecording(target)).rxWavPath);
      const callerTone = dominantFrequencyHz(middle(heardByCaller, 800), heardByCaller.sampleRateHz);
      const targetTone = dominantFrequencyHz(middle(heardByTarget, 800), heardByTarget.sampleRateHz);
      assert.ok(Math.abs(callerTone - 440) < 5, `the inbound caller heard ${callerTone.toFixed(1)} Hz, expected the target's 440 Hz`);
      assert.ok(Math.abs(targetTone - 1000) < 5, `the transfer target heard ${targetTone.toFixed(1)} Hz, expected the caller's 1 kHz`);
    });
  });
});
