/** AGENT_CONNECT on a Call: when its agent conversation opens, is parked, and reopened (src/call/agent-connect.ts). */
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
  const leg = { id: callChannelId('c1'), name: 'PJSIP/carrier-1', state: 'Up' };
  return {
    control,
    links,
    call,
    ring: () => control.emit({ type: 'ChannelStateChange', channel: { ...leg, state: 'Ringing' } }),
    answer: () => control.emit({ type: 'StasisStart', args: ['outbound', 'c1'], channel: leg }),
    busy: () => control.emit({ type: 'ChannelDestroyed', cause: 17, cause_txt: 'User busy', channel: { ...leg, state: 'Ringing' } }),
  };
}

describe('Call: AGENT_CONNECT', () => {
  it('ringing: the conversation opens while the phone rings and is ready at answer (no ringback)', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 10_000 });
    await s.call.start();
    const link = await waitFor(() => s.links.last, { what: 'link opened while ringing' });
    s.ring();
    s.answer();
    await waitFor(() => link.startedWith, { what: 'bridged' });
    assert.equal(s.links.links.length, 1);
    assert.ok(!s.control.ops.some((op) => op.startsWith('play ')), 'no ringback');
    await s.call.end('api');
  });

  it('ringing longer than AGENT_PRECONNECT_MAX_S: closed while ringing, reopened on answer with ringback until it connects', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 30 });
    await s.call.start();
    const first = await waitFor(() => s.links.last, { what: 'first link' });
    s.ring();
    await waitFor(() => first.closeCount === 1, { what: 'the first conversation closed while ringing' });
    assert.equal(s.call.view().status, 'ringing', 'the call goes on');
    let letConnect!: () => void;
    s.links.gate = new Promise<void>((resolve) => (letConnect = resolve));
    s.answer();
    await waitFor(() => s.control.ops.some((op) => op === 'play vg-c1 tone:ring vg-rb-c1'), { what: 'ringback while the agent connects' });
    letConnect();
    const second = await waitFor(() => (s.links.links.length === 2 ? s.links.last : undefined), { what: 'second link' });
    await waitFor(() => second.startedWith, { what: 'bridged to the new conversation' });
    const ops = s.control.ops;
    assert.ok(ops.indexOf('stopPlayback vg-rb-c1') < ops.findIndex((op) => op.startsWith('addToBridge')), `ringback stopped before bridging: ${ops.join(' | ')}`);
    // The parked conversation says nothing more to the call: its close does not fail it.
    first.remoteClose(1011, 'late');
    assert.equal(s.call.view().status, 'answered');
    assert.equal(s.call.view().error, null);
    await s.call.end('api');
  });

  it('answer: nothing opens while the phone rings; on answer it opens, the callee hears ringback until it is connected', async () => {
    const s = setup({ mode: 'answer', preconnectMaxMs: 10_000 });
    await s.call.start();
    s.ring();
    assert.equal(s.links.links.length, 0);
    s.answer();
    const link = await waitFor(() => s.links.last, { what: 'opened on answer' });
    await waitFor(() => link.startedWith, { what: 'bridged' });
    assert.ok(s.control.ops.includes('play vg-c1 tone:ring vg-rb-c1'));
    assert.ok(s.control.ops.includes('stopPlayback vg-rb-c1'));
    await s.call.end('api');
  });

  it('answer: a busy number never opens a conversation', async () => {
    const s = setup({ mode: 'answer' });
    await s.call.start();
    const ended = once(s.call, 'ended');
    s.busy();
    const [record] = (await ended) as [CallRecord];
    assert.equal(record.status, 'busy');
    assert.equal(s.links.links.length, 0);
  });

  it('ringing: a busy number closes the conversation at once', async () => {
    const s = setup({ mode: 'ringing', preconnectMaxMs: 10_000 });
    await s.call.start();
    const link = await waitFor(() => s.links.last);
    s.busy();
    await waitFor(() => link.closeCount === 1, { what: 'closed at the busy' });
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
    await waitFor(() => link.startedWith, { what: 'bridged' });
    assert.equal(s.links.signals.length, 2);
    assert.equal(s.call.view().error, null);
    await s.call.end('api');
  });
});
