import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AsteriskInstance } from '../../scripts/lib/asterisk-instance';
import { HANGUP_CAUSE } from '../carrier/number-plan';
import { dominantFrequencyHz, generateTone, rms, tonePurity } from '../helpers/signal';
import { readWavFile, writeWavFile } from '../helpers/wav';
import { AriTestClient, type AriEventJson } from './fixtures/ari-test-client';
import { asteriskPair, PBX_TEMPLATE_DIR, type AsteriskPair } from './fixtures/asterisk-pair';

/** `samples` are mostly one tone of `frequencyHz` (what a G.711 trunk leaves of a sine). */
function assertTone(samples: Int16Array, rateHz: number, frequencyHz: number): void {
  const found = dominantFrequencyHz(samples, rateHz);
  assert.ok(Math.abs(found - frequencyHz) < 5, `dominant frequency ${found.toFixed(1)} Hz, expected ${frequencyHz} Hz`);
  const purity = tonePurity(samples, rateHz);
  assert.ok(purity > 0.8, `tone purity ${purity.toFixed(2)} (1.0 = pure tone)`);
}

/**
 * The test bed itself: our production Asterisk config (asterisk-conf/) against the carrier
 * stand-in, driven over ARI the way the app will drive it.
 */
describe('Asterisk test bed: PBX from asterisk-conf/ + carrier stand-in', function () {
  let pair: AsteriskPair;
  let ari: AriTestClient;

  before(async function () {
    pair = asteriskPair();
    ari = await AriTestClient.connect(pair.ari);
  });

  after(function () {
    ari?.close();
  });

  // A passing test must leave no channel or bridge behind. After a failed test only clean up:
  // a failing hook would make mocha skip the rest of the suite.
  afterEach(async function () {
    if (this.currentTest?.state === 'passed') await pair.expectAriIdle();
    else await pair.cleanUpAri();
  });

  const originate = (number: string, timeoutS?: number): Promise<string> =>
    ari.originateToTrunk({ number, trunk: pair.trunkEndpoint, app: pair.ari.app, idPrefix: 'tb', timeoutS });
  const waitForAnswer = (channelId: string): Promise<AriEventJson> => ari.waitForAnswer(channelId);
  const hangup = (channelId: string, endEvent?: 'ChannelDestroyed' | 'StasisEnd'): Promise<AriEventJson> =>
    ari.hangupAndWait(channelId, endEvent);


  it('registers to the carrier, which then routes the account to our PBX', async function () {
    const registrations = await pair.pbx.cli('pjsip show registrations');
    assert.match(registrations, /exolve-reg\/sip:127\.0\.0\.1:\d+\s+exolve-auth\s+Registered/);
    const contact = await pair.carrier.registeredContact();
    assert.ok(contact?.includes(`:${pair.ports.pbxSip}`), `carrier's contact ${contact} should point at our PBX`);
  });

  it('an answered outbound call enters Stasis, and audio flows both ways', async function () {
    const number = pair.numbers.answer();
    const channelId = await originate(number);

    const start = await waitForAnswer(channelId);
    assert.deepEqual(start.args, ['outbound', channelId]);
    assert.equal(start.channel?.state, 'Up');

    // Carrier -> us: record 1 s of what the carrier plays (1 kHz).
    const recordingName = `tb-rx-${channelId}`;
    await ari.client.channels.record({ channelId, name: recordingName, format: 'wav', maxDurationSeconds: 1, ifExists: 'overwrite' });
    const finished = await ari.waitFor(`recording ${recordingName}`, (e) => e.recording?.name === recordingName);
    assert.equal(finished.type, 'RecordingFinished', `recording failed: ${finished.recording?.cause ?? ''}`);
    const heard = await readWavFile(pair.pbx.hostPath(path.posix.join(pair.pbx.dirs.ASTERISK_SPOOL_DIR, 'recording', `${recordingName}.wav`)));
    assert.ok(rms(heard.samples) > 500, `we should hear the carrier's tone (rms ${rms(heard.samples).toFixed(0)})`);
    assertTone(heard.samples, heard.sampleRateHz, 1000);

    // Us -> carrier: play a known 440 Hz file; the carrier records what it receives.
    const toneName = 'tb-tone-440hz';
    const toneDir = pair.pbx.hostPath(path.posix.join(pair.pbx.dirs.ASTERISK_SPOOL_DIR, 'recording'));
    await mkdir(toneDir, { recursive: true });
    await writeWavFile(path.join(toneDir, `${toneName}.wav`), {
      sampleRateHz: 8000,
      samples: generateTone({ freqHz: 440, rateHz: 8000, durationMs: 1500, amplitude: 8000 }),
    });
    const playbackId = `tb-play-${channelId}`;
    await ari.client.channels.play({ channelId, playbackId, media: `recording:${toneName}` });
    await ari.waitFor(`playback ${playbackId} to finish`, (e) => e.type === 'PlaybackFinished' && e.playback?.id === playbackId);

    const destroyed = await hangup(channelId);
    assert.equal(destroyed.cause, HANGUP_CAUSE.normalClearing);
    const recording = await pair.carrier.waitForRecording(number);
    assert.equal(recording.callerId, '883140776920289', 'the carrier sees our account as the caller by default');
    const received = await readWavFile(recording.rxWavPath);
    assertTone(received.samples, received.sampleRateHz, 440);
  });

  it('the carrier hanging up ends the call with cause 16', async function () {
    const channelId = await originate(pair.numbers.answerThenHangUp(1));
    await waitForAnswer(channelId);
    const destroyed = await ari.waitForChannel('ChannelDestroyed', channelId, 5000);
    assert.equal(destroyed.cause, HANGUP_CAUSE.normalClearing);
  });

  const failures: [string, (p: AsteriskPair) => string, number, number?][] = [
    ['a busy number', (p) => p.numbers.busy(), HANGUP_CAUSE.userBusy],
    ['an unallocated number', (p) => p.numbers.unallocated(), HANGUP_CAUSE.unallocated],
    ['a congested number', (p) => p.numbers.congestion(), HANGUP_CAUSE.congestion],
    ['a number that never answers (originate timeout 2 s)', (p) => p.numbers.noAnswer(), HANGUP_CAUSE.noAnswer, 2],
  ];
  for (const [outcome, numberOf, cause, timeoutS] of failures) {
    it(`${outcome} never enters Stasis and ends with cause ${cause}`, async function () {
      const channelId = await originate(numberOf(pair), timeoutS);
      const destroyed = await ari.waitForChannel('ChannelDestroyed', channelId, 10_000);
      assert.equal(destroyed.cause, cause, `cause_txt: ${destroyed.cause_txt}`);
      assert.deepEqual(ari.events((e) => e.type === 'StasisStart' && e.channel?.id === channelId), []);
    });
  }

  it('an inbound call from the carrier enters Stasis with the dialled number', async function () {
    const number = pair.numbers.answer();
    await pair.carrier.callCustomer(number);
    const start = await ari.waitFor(
      `inbound StasisStart for ${number}`,
      (e) => e.type === 'StasisStart' && e.args?.[0] === 'inbound' && e.args[1] === number,
    );
    const channelId = start.channel?.id ?? assert.fail('StasisStart without channel');
    assert.equal(start.channel?.caller?.number, '74950000000');
    await ari.client.channels.answer({ channelId });
    await ari.waitFor('inbound channel Up', (e) => e.type === 'ChannelStateChange' && e.channel?.id === channelId && e.channel.state === 'Up');
    await hangup(channelId, 'StasisEnd');
    // The carrier's side of the call was answered and recorded.
    const recording = await pair.carrier.waitForRecording(number);
    assert.equal(recording.number, number);
  });

  it('a wrong trunk password is rejected and visible in pjsip show registrations', async function () {
    const { spareSip, spareAri, spareRtp } = pair.ports;
    const wrong = await AsteriskInstance.start({
      name: `pbx-wrong-password-${pair.ports.base}`,
      templateDir: PBX_TEMPLATE_DIR,
      env: {
        ...pair.pbxEnv,
        SIP_PASSWORD: 'definitely-not-the-password',
        SIP_BIND_PORT: String(spareSip),
        ARI_PORT: String(spareAri),
        ASTERISK_RTP_PORT_MIN: String(spareRtp[0]),
        ASTERISK_RTP_PORT_MAX: String(spareRtp[1]),
      },
      sidRoot: pair.pbx.root,
      fresh: true,
      ifRunning: 'replace',
    });
    try {
      const out = await wrong.waitForCli('pjsip show registrations', /exolve-reg\/\S+\s+\S+\s+Rejected/, 15_000);
      assert.doesNotMatch(out, /\sRegistered\s/);
      // The failed attempt did not take over the account: the carrier still reaches our PBX.
      const contact = await pair.carrier.registeredContact();
      assert.ok(contact?.includes(`:${pair.ports.pbxSip}`), `carrier's contact is ${contact}`);
    } finally {
      await wrong.stop();
    }
  });
});
