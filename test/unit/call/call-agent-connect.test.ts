/**
 * AGENT_CONNECT on a Call built on the early bridge: when its agent conversation and that
 * conversation's ExternalMedia channel open, are released while the phone rings, and reopen on
 * answer (src/call/agent-connect.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { AriEventRouter } from '../../../src/ari/ari-event-router';
import type { AgentConnectSettings } from '../../../src/call/agent-connect';
import { callChannelId } from '../../../src/call/ari-ids';
import { Call, type CallSettings } from '../../../src/call/call';
import { silentLogger } from '../../../src/logger';
import type { CallRecord } from '../../../src/model/call-record';
import { TransferDestinations } from '../../../src/policy/transfer-destinations';
import { FakeCallControl } from '../../fakes/fake-call-control';
import { FakeLinkOpener } from '../../fakes/fake-link';
import { waitFor } from '../../helpers/wait-for';

function setup(agentConnect: AgentConnectSettings) {
  const router = new AriEventRouter(silentLogger());
  const control = new FakeCallControl(router);
  const links = new FakeLinkOpener();
  const settings: CallSettings = {
    ariApp: 'test-app',
    trunkEndpoint: 'carrier',
    callerId: undefined,
    ringTimeoutS: 30,
    maxDurationS: 600,
    externalMediaFormat: 'slin',
    agentReadyTimeoutMs: 1000,
    drainTimeoutMs: 100,
    ringingActivityIntervalMs: 60_000,
    metricsLogIntervalMs: 60_000,
    dtmfToAgent: 'off',
    sendDtmfMaxDigits: 8,
    transfer: { destinations: new TransferDestinations([]), maxAttempts: 1, ringTimeoutS: 30, maxDurationS: 600 },
    checkDestination: () => null,
    releaseStepTimeoutMs: 200,
    agentConnect,
  };
  const call = new Call('c1', { phoneNumber: '+79990001122' }, { control, router, openLink: links.open, settings, log: silentLogger(), admitTransferLeg: () => ({ kind: 'transfer', release: () => undefined }) });
  const leg = { id: callChannelId('c1'), name: 'PJSIP/carrier-1', state: 'Ringing' };
  /** The ARI operations made when each link was started (the answer itself makes none). */
  const opsAtStart: string[][] = [];
  links.onStart = () => opsAtStart.push([...control.ops]);
  return {
    control,
    links,
    call,
    opsAtStart,
    ring: () => control.emit({ type: 'ChannelStateChange', channel: leg }),
    answer: () => control.emit({ type: 'ChannelStateChange', channel: { ...leg, state: 'Up' } }),
    busy: () => control.emit({ type: 'ChannelDestroyed', cause: 17, cause_txt: 'User busy', channel: leg }),
  };
}

describe('Call: AGENT_CONNECT on the early bridge', () => {
  it('ringing: the conversation opens and its ExternalMedia joins the bridge while the phone rings; the answer starts it with no ARI request and no ringback', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 10_000 });
    await s.call.start();
    const link = await waitFor(() => s.links.last, { what: 'link opened while ringing' });
    s.ring();
    await waitFor(() => s.control.ops.includes('addToBridge vg-br-c1 vg-em-c1'), { what: 'ExternalMedia in the bridge while ringing' });
    const beforeAnswer = s.control.ops.length;
    s.answer();
    await waitFor(() => link.startedWith, { what: 'started' });
    assert.equal(s.opsAtStart[0]!.length, beforeAnswer, `no ARI request between answer and start: ${s.opsAtStart[0]!.slice(beforeAnswer).join(' | ')}`);
    assert.equal(s.links.links.length, 1);
    assert.ok(!s.control.ops.some((op) => op.startsWith('play ')), 'no ringback');
    await s.call.end('api');
    assert.ok(s.control.ops.includes('hangup vg-em-c1'));
  });

  it('the ExternalMedia channel joins while the agent still connects, and the answer reaches the opening link with its address (the caller is kept from then on)', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 10_000 });
    s.links.earlyAddress = '127.0.0.1:45002';
    let letConnect!: () => void;
    s.links.gate = new Promise<void>((resolve) => (letConnect = resolve));
    await s.call.start();
    await waitFor(() => s.control.ops.includes('addToBridge vg-br-c1 vg-em-c1'), { what: 'ExternalMedia in the bridge before the agent connected' });
    assert.equal(s.links.links.length, 0, 'the agent is still connecting');
    s.ring();
    await Promise.resolve();
    assert.equal(s.links.answers.length, 0, 'nothing is kept while the phone rings');
    s.answer();
    await waitFor(() => s.links.answers[0], { what: 'the answer, at the link still opening' });
    assert.ok(s.control.ops.includes('externalMedia 127.0.0.1:45002 slin'), s.control.ops.join(' | '));
    letConnect();
    const link = await waitFor(() => s.links.last, { what: 'the agent connected' });
    await waitFor(() => link.startedWith, { what: 'started' });
    assert.deepEqual(link.startedWith, s.links.answers[0]);
    await s.call.end('api');
    assert.ok(s.control.ops.includes('hangup vg-em-c1'));
  });

  it('ringing longer than AGENT_PRECONNECT_MAX_S: conversation and ExternalMedia released while ringing; on answer a new pair, ringback until it connects', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 30 });
    await s.call.start();
    const first = await waitFor(() => s.links.last, { what: 'first link' });
    s.ring();
    await waitFor(() => first.closeCount === 1, { what: 'the first conversation closed while ringing' });
    await waitFor(() => s.control.ops.includes('hangup vg-em-c1'), { what: 'its ExternalMedia channel hung up while ringing' });
    assert.ok(s.control.ops.includes('addToBridge vg-br-c1 vg-em-c1'), 'it had joined the bridge');
    assert.equal(s.call.view().status, 'ringing', 'the call goes on');
    assert.ok(!s.control.channels.has('vg-em-c1'));
    let letConnect!: () => void;
    s.links.gate = new Promise<void>((resolve) => (letConnect = resolve));
    s.answer();
    await waitFor(() => s.control.ops.includes('play vg-c1 tone:ring vg-rb-c1'), { what: 'ringback while the agent connects' });
    letConnect();
    const second = await waitFor(() => (s.links.links.length === 2 ? s.links.last : undefined), { what: 'second link' });
    await waitFor(() => second.startedWith, { what: 'started with the new conversation' });
    const atStart = s.opsAtStart[0]!;
    assert.ok(atStart.includes('addToBridge vg-br-c1 vg-em2-c1'), `a new ExternalMedia channel for the new link: ${atStart.join(' | ')}`);
    assert.ok(atStart.includes('stopPlayback vg-rb-c1'), `ringback stopped before the agent's audio starts: ${atStart.join(' | ')}`);
    // The leg hears ringback out of the bridge, and rejoins it after the ringback, before the start.
    const left = atStart.lastIndexOf('removeFromBridge vg-br-c1 vg-c1');
    assert.ok(left >= 0 && left < atStart.indexOf('play vg-c1 tone:ring vg-rb-c1'), atStart.join(' | '));
    assert.ok(atStart.lastIndexOf('addToBridge vg-br-c1 vg-c1') > atStart.indexOf('stopPlayback vg-rb-c1'), atStart.join(' | '));
    assert.equal(s.opsAtStart.length, 1, 'the parked link was never started');
    // The parked conversation says nothing more to the call: its close does not fail it.
    first.remoteClose(1011, 'late');
    first.handlers?.onTranscript('agent', 'from the parked conversation');
    assert.equal(s.call.view().status, 'answered');
    assert.equal(s.call.view().error, null);
    assert.deepEqual(s.call.view().transcript, []);
    await s.call.end('api');
    assert.ok(s.control.ops.includes('hangup vg-em2-c1'));
    assert.equal(second.closeCount, 1);
  });

  it('answer: nothing opens while the phone rings; on answer it opens with its ExternalMedia, the callee hears ringback until it is connected', async () => {
    const s = setup({ mode: 'answer', preconnectMaxMs: 10_000 });
    await s.call.start();
    s.ring();
    assert.equal(s.links.links.length, 0);
    assert.ok(!s.control.ops.some((op) => op.startsWith('externalMedia')), 'no ExternalMedia while ringing');
    s.answer();
    const link = await waitFor(() => s.links.last, { what: 'opened on answer' });
    await waitFor(() => link.startedWith, { what: 'started' });
    const atStart = s.opsAtStart[0]!;
    const play = atStart.indexOf('play vg-c1 tone:ring vg-rb-c1');
    assert.ok(play >= 0 && play < atStart.indexOf('addToBridge vg-br-c1 vg-em-c1'), `ringback from the answer on: ${atStart.join(' | ')}`);
    assert.ok(atStart.indexOf('stopPlayback vg-rb-c1') > atStart.indexOf('addToBridge vg-br-c1 vg-em-c1'), 'stopped once connected, before the start');
    assert.ok(atStart.indexOf('removeFromBridge vg-br-c1 vg-c1') < play, 'out of the bridge while it hears ringback');
    assert.ok(atStart.lastIndexOf('addToBridge vg-br-c1 vg-c1') > atStart.indexOf('stopPlayback vg-rb-c1'), 'back in the bridge after it');
    await s.call.end('api');
  });

  it('ringing: a phone answered while the conversation opened at dialling still connects hears no ringback; the agent starts as soon as it is there', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 10_000 });
    let letConnect!: () => void;
    s.links.gate = new Promise<void>((resolve) => (letConnect = resolve));
    await s.call.start();
    s.ring();
    s.answer();
    await waitFor(() => s.call.view().status === 'answered', { what: 'answered' });
    letConnect();
    const link = await waitFor(() => s.links.last, { what: 'the conversation opened while ringing' });
    await waitFor(() => link.startedWith, { what: 'started' });
    assert.equal(s.links.links.length, 1, 'the same conversation: nothing parked');
    assert.ok(!s.control.ops.some((op) => op.startsWith('play ') || op.startsWith('removeFromBridge')), `no ringback: ${s.control.ops.join(' | ')}`);
    await s.call.end('api');
  });

  it('answer: a busy number never opens a conversation nor an ExternalMedia channel', async () => {
    const s = setup({ mode: 'answer' });
    await s.call.start();
    const ended = once(s.call, 'ended');
    s.busy();
    const [record] = (await ended) as [CallRecord];
    assert.equal(record.status, 'busy');
    assert.equal(s.links.links.length, 0);
    assert.ok(!s.control.ops.some((op) => op.startsWith('externalMedia')));
  });

  it('ringing: a busy number releases the conversation and its ExternalMedia at once', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 10_000 });
    await s.call.start();
    const link = await waitFor(() => s.links.last);
    await waitFor(() => s.control.ops.includes('addToBridge vg-br-c1 vg-em-c1'), { what: 'ExternalMedia in the bridge' });
    const ended = once(s.call, 'ended');
    s.busy();
    await ended;
    assert.equal(link.closeCount, 1);
    assert.ok(s.control.ops.includes('hangup vg-em-c1'));
  });

  it('a conversation still connecting when the limit comes is aborted, and that is no failure', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 20 });
    let letConnect!: () => void;
    s.links.gate = new Promise<void>((resolve) => (letConnect = resolve));
    await s.call.start();
    s.ring();
    await waitFor(() => s.links.signals[0]?.aborted === true, { what: 'the first open aborted at the limit' });
    letConnect();
    s.answer();
    const link = await waitFor(() => s.links.last, { what: 'the conversation opened on answer' });
    await waitFor(() => link.startedWith, { what: 'started' });
    assert.equal(s.links.signals.length, 2);
    assert.equal(s.links.links.length, 1, 'the aborted open left nothing open');
    assert.deepEqual(s.control.ops.filter((op) => op.startsWith('externalMedia')).length, 1, 'one ExternalMedia channel: the second attempt\'s');
    assert.ok(s.control.ops.includes('addToBridge vg-br-c1 vg-em2-c1'));
    assert.equal(s.call.view().error, null);
    await s.call.end('api');
  });
});
