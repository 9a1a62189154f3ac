import assert from 'node:assert/strict';
import { once } from 'node:events';
import { AriEventRouter } from '../../../src/ari/ari-event-router';
import { Call, type CallSettings } from '../../../src/call/call';
import { callChannelId } from '../../../src/call/ari-ids';
import type { CallView } from '../../../src/call/call-view';
import { AgentConnectionError } from '../../../src/errors';
import { silentLogger } from '../../../src/logger';
import { FakeCallControl } from '../../fakes/fake-call-control';
import { FakeAgentSession, FakeMediaSession } from '../../fakes/fake-call-ports';
import { waitFor } from '../../helpers/wait-for';

const settings: CallSettings = {
  ariApp: 'test-app',
  trunkEndpoint: 'carrier',
  callerId: undefined,
  ringTimeoutS: 30,
  maxDurationS: 600,
  externalMediaFormat: 'slin',
  agentReadyTimeoutMs: 1000,
  drainTimeoutMs: 1000,
  ringingActivityIntervalMs: 10,
  metricsLogIntervalMs: 10_000,
  dtmfToAgent: 'user_message',
  checkDestination: (n) => (n.startsWith('+7809') ? new Error('premium number denied') : null),
};

function setup(opts: { agentError?: Error } = {}) {
  const router = new AriEventRouter(silentLogger());
  const control = new FakeCallControl(router);
  const agent = new FakeAgentSession();
  const media: FakeMediaSession[] = [];
  const call = new Call('c1', { phoneNumber: '+79990001122' }, {
    control,
    router,
    settings,
    log: silentLogger(),
    connectAgent: async () => {
      if (opts.agentError) throw opts.agentError;
      return agent;
    },
    createMedia: async (o) => {
      const m = new FakeMediaSession(o);
      media.push(m);
      return m;
    },
  });
  const leg = () => ({ id: callChannelId('c1'), name: 'PJSIP/carrier-1', state: 'Up' });
  return { router, control, agent, media, call, leg };
}

async function answered(s: ReturnType<typeof setup>): Promise<void> {
  await s.call.start();
  await waitFor(() => s.media.length === 1, { what: 'media session' });
  s.control.emit({ type: 'ChannelStateChange', channel: { ...s.leg(), state: 'Ringing' } });
  s.control.emit({ type: 'StasisStart', args: ['outbound', 'c1'], channel: s.leg() });
  await waitFor(() => s.media[0]!.startedWith, { what: 'media start' });
}

describe('Call', () => {
  it('dials the trunk with alaw first and reports ringing', async () => {
    const s = setup();
    const statuses: string[] = [];
    s.call.on('status', (st) => statuses.push(st));
    await s.call.start();
    assert.deepEqual(s.control.ops[0], 'originate PJSIP/79990001122@carrier formats=alaw,ulaw');
    s.control.emit({ type: 'ChannelStateChange', channel: { ...s.leg(), state: 'Ringing' } });
    assert.equal(s.call.view().status, 'ringing');
    await s.call.end('api');
    assert.deepEqual(statuses, ['ringing', 'failed']);
  });

  it('busy: records cause 17 and releases the agent and media', async () => {
    const s = setup();
    await s.call.start();
    await waitFor(() => s.media.length === 1);
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'ChannelDestroyed', cause: 17, cause_txt: 'User busy', channel: s.leg() });
    const [view] = (await ended) as [CallView];
    assert.equal(view.status, 'busy');
    assert.equal(view.hangup_cause, 17);
    assert.equal(view.end_reason, 'busy');
    assert.equal(s.agent.closedWith, 1000);
    assert.equal(s.media[0]!.closed, 1);
    assert.equal(s.router.subscribedIdCount, 0);
  });

  it('no answer (cause 19) gives no-answer', async () => {
    const s = setup();
    await s.call.start();
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'ChannelDestroyed', cause: 19, cause_txt: 'User alerting, no answer', channel: s.leg() });
    const [view] = (await ended) as [CallView];
    assert.equal(view.status, 'no-answer');
  });

  it('keeps the agent from re-engaging while the phone rings', async () => {
    const s = setup();
    await s.call.start();
    await waitFor(() => s.agent.activityCount >= 2, { what: 'user_activity while ringing' });
    await s.call.end('api');
  });

  it('on answer bridges the call with ExternalMedia and starts media at its address', async () => {
    const s = setup();
    await answered(s);
    const ops = s.control.ops.join('\n');
    assert.match(ops, /createBridge vg-br-c1/);
    assert.match(ops, /externalMedia 127\.0\.0\.1:45000 slin/);
    assert.match(ops, /addToBridge vg-br-c1 vg-c1,vg-em-c1/);
    assert.deepEqual(s.media[0]!.startedWith, { address: '127.0.0.1', port: 40000 });
    assert.equal(s.call.view().status, 'answered');
    await s.call.end('api');
  });

  it('callee hangup releases every resource exactly once and leaves nothing in Asterisk', async () => {
    const s = setup();
    await answered(s);
    const ended = once(s.call, 'ended');
    s.control.channels.delete(callChannelId('c1'));
    s.control.emit({ type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: s.leg() });
    const [view] = (await ended) as [CallView];
    assert.equal(view.status, 'completed');
    assert.equal(view.end_reason, 'callee');
    assert.equal(view.hangup_cause, 16);
    assert.equal(s.control.channels.size, 0, 'ExternalMedia channel hung up');
    assert.equal(s.control.bridges.size, 0, 'bridge destroyed');
    assert.equal(s.media[0]!.closed, 1);
    assert.equal(s.agent.closedWith, 1000);
    assert.equal(s.router.subscribedIdCount, 0);
    await s.call.end('api');
    assert.equal(s.media[0]!.closed, 1, 'a second end() releases nothing again');
    assert.equal(s.call.view().end_reason, 'callee', 'the first reason wins');
  });

  it('agent end of conversation (1000) plays out the goodbye, then hangs up', async () => {
    const s = setup();
    await answered(s);
    const ended = once(s.call, 'ended');
    s.agent.remoteClose(1000, 'end_call');
    const [view] = (await ended) as [CallView];
    assert.ok(s.media[0]!.isCallerAudioStopped);
    assert.equal(view.status, 'completed');
    assert.equal(view.end_reason, 'agent');
    assert.ok(s.control.ops.includes('hangup vg-c1'));
  });

  it('an abnormal agent close ends the call as failed at once', async () => {
    const s = setup();
    await answered(s);
    const ended = once(s.call, 'ended');
    s.agent.remoteClose(1011, 'internal error');
    const [view] = (await ended) as [CallView];
    assert.equal(view.status, 'failed');
    assert.equal(view.end_reason, 'agent-error');
    assert.match(view.error ?? '', /1011/);
  });

  it('an agent that cannot connect ends the ringing call as failed', async () => {
    const s = setup({ agentError: new AgentConnectionError('AGENT_AUTH_FAILED', 'bad key') });
    const ended = once(s.call, 'ended');
    await s.call.start().catch(() => undefined);
    const [view] = (await ended) as [CallView];
    assert.equal(view.status, 'failed');
    assert.match(view.error ?? '', /AGENT_AUTH_FAILED/);
    await waitFor(() => s.control.ops.includes('hangup vg-c1') || !s.control.ops.some((o) => o.startsWith('originate')), {
      what: 'call leg hung up',
    });
  });

  it('a failed originate rejects start() and records the failure', async () => {
    const s = setup();
    s.control.originateError = new Error('Allocation failed');
    await assert.rejects(s.call.start(), /Allocation failed/);
    assert.equal(s.call.view().status, 'failed');
    assert.equal(s.router.subscribedIdCount, 0);
  });

  it('barge-in flushes playout', async () => {
    const s = setup();
    await answered(s);
    s.agent.handlers!.onInterruption();
    assert.equal(s.media[0]!.flushes, 1);
    s.agent.handlers!.onTranscript('user', 'hello');
    assert.equal(s.call.view().transcript[0]?.text, 'hello');
    await s.call.end('api');
  });
});

describe('Call: conversation features', () => {
  async function toolResult(s: ReturnType<typeof setup>, toolName: string, parameters: Record<string, unknown>) {
    const before = s.agent.toolResults.length;
    s.agent.handlers!.onToolCall({ toolName, toolCallId: `t${before}`, parameters });
    return waitFor(() => s.agent.toolResults[before], { what: `${toolName} result` });
  }

  it('send_dtmf plays the digits on the call leg and reports success', async () => {
    const s = setup();
    await answered(s);
    const r = await toolResult(s, 'send_dtmf', { digits: '12#' });
    assert.deepEqual([r.isError, s.control.ops.includes('dtmf vg-c1 12#')], [false, true]);
    const bad = await toolResult(s, 'send_dtmf', { digits: '1; rm -rf' });
    assert.equal(bad.isError, true);
    await s.call.end('api');
  });

  it('an unknown tool gets an error result, and the call goes on', async () => {
    const s = setup();
    await answered(s);
    const r = await toolResult(s, 'launch_rockets', {});
    assert.equal(r.isError, true);
    assert.match(r.result, /unknown tool/);
    assert.equal(s.call.state, 'answered');
    await s.call.end('api');
  });

  it('end_call finishes the playout and hangs up as ended by the agent', async () => {
    const s = setup();
    await answered(s);
    const ended = once(s.call, 'ended');
    await toolResult(s, 'end_call', {});
    const [view] = (await ended) as [CallView];
    assert.equal(view.end_reason, 'agent');
    assert.ok(s.media[0]!.isCallerAudioStopped);
  });

  it('transfer_to_number refuses a denied destination without dialling', async () => {
    const s = setup();
    await answered(s);
    const r = await toolResult(s, 'transfer_to_number', { phone_number: '+78091234567' });
    assert.equal(r.isError, true);
    assert.ok(!s.control.ops.some((o) => o.includes('78091234567')));
    await s.call.end('api');
  });

  it('transfer_to_number bridges the caller to the answered target and lets the agent go', async () => {
    const s = setup();
    await answered(s);
    const resultP = toolResult(s, 'transfer_to_number', { phone_number: '+79995550000' });
    await waitFor(() => s.control.ops.some((o) => o.startsWith('originate PJSIP/79995550000@carrier')), { what: 'transfer dialled' });
    s.control.emit({ type: 'StasisStart', args: ['transfer', 'c1'], channel: { id: 'vg-tr-c1', name: 'PJSIP/carrier-2', state: 'Up' } });
    const r = await resultP;
    assert.equal(r.isError, false, r.result);
    assert.ok(s.control.ops.includes('removeFromBridge vg-br-c1 vg-em-c1'));
    assert.ok(s.control.ops.includes('addToBridge vg-br-c1 vg-tr-c1'));
    await waitFor(() => s.agent.closedWith === 1000, { what: 'agent closed' });
    assert.equal(s.call.view().transferred_to, '+79995550000');
    assert.equal(s.call.state, 'answered', 'the agent leaving does not end the call');
    // The target hangs up: the call ends and the caller leg is hung up too.
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'StasisEnd', channel: { id: 'vg-tr-c1', name: 'PJSIP/carrier-2', state: 'Up' } });
    await ended;
    assert.ok(s.control.ops.includes('hangup vg-c1'));
    assert.ok(s.control.ops.includes('hangup vg-tr-c1'));
  });

  it('caller DTMF reaches the agent as a user message and is emitted', async () => {
    const s = setup();
    await answered(s);
    const digits: string[] = [];
    s.call.on('dtmf', (d) => digits.push(d));
    s.control.emit({ type: 'ChannelDtmfReceived', digit: '5', duration_ms: 120, channel: s.leg() });
    assert.deepEqual(digits, ['5']);
    assert.match(s.agent.userMessages[0] ?? '', /"5"/);
    await s.call.end('api');
  });

  it('AMD: a machine with amd=hangup ends the call without bridging the agent', async () => {
    const router = new AriEventRouter(silentLogger());
    const control = new FakeCallControl(router);
    const agent = new FakeAgentSession();
    const call = new Call('c2', { phoneNumber: '+79990001122', amd: 'hangup' }, {
      control,
      router,
      settings,
      log: silentLogger(),
      connectAgent: async () => agent,
      createMedia: async (o) => new FakeMediaSession(o),
    });
    await call.start();
    const leg = { id: callChannelId('c2'), name: 'PJSIP/carrier-1', state: 'Up' };
    control.emit({ type: 'StasisStart', args: ['outbound', 'c2'], channel: leg });
    await waitFor(() => control.ops.includes('continue vg-c2 vg-amd,s'), { what: 'sent to AMD' });
    control.emit({ type: 'StasisEnd', channel: leg });
    assert.equal(call.state, 'answered', 'leaving Stasis for AMD is not a hangup');
    const ended = once(call, 'ended');
    control.emit({ type: 'StasisStart', args: ['amd', 'MACHINE', 'LONGGREETING-1500-1500'], channel: leg });
    const [view] = (await ended) as [CallView];
    assert.equal(view.amd_result, 'MACHINE');
    assert.equal(view.end_reason, 'answering-machine');
    assert.ok(!control.ops.some((o) => o.startsWith('createBridge')));
  });

  it('inbound: connects the agent, answers, bridges; records who called which number', async () => {
    const router = new AriEventRouter(silentLogger());
    const control = new FakeCallControl(router);
    const agent = new FakeAgentSession();
    let requestedAgent: string | undefined;
    const media: FakeMediaSession[] = [];
    const call = new Call(
      'c3',
      { phoneNumber: '+74950000001', agentId: 'agent_sales' },
      {
        control,
        router,
        settings,
        log: silentLogger(),
        connectAgent: async (r) => {
          requestedAgent = r.agentId;
          return agent;
        },
        createMedia: async (o) => {
          const m = new FakeMediaSession(o);
          media.push(m);
          return m;
        },
      },
      { direction: 'inbound', channelId: 'asterisk-123', dialedNumber: '74951234567' },
    );
    await call.accept();
    assert.equal(requestedAgent, 'agent_sales');
    assert.ok(control.ops.includes('answer asterisk-123'));
    assert.ok(control.ops.includes('addToBridge vg-br-c3 asterisk-123,vg-em-c3'));
    assert.ok(media[0]!.startedWith);
    const view = call.view();
    assert.deepEqual([view.direction, view.dialed_number, view.status], ['inbound', '74951234567', 'answered']);
    const ended = once(call, 'ended');
    control.emit({ type: 'StasisEnd', channel: { id: 'asterisk-123', name: 'PJSIP/exolve-1', state: 'Up' } });
    const [final] = (await ended) as [CallView];
    assert.equal(final.status, 'completed');
    assert.equal(router.subscribedIdCount, 0);
  });

  it('record: starts a bridge recording and exposes its download path', async () => {
    const router = new AriEventRouter(silentLogger());
    const control = new FakeCallControl(router);
    const media: FakeMediaSession[] = [];
    const call = new Call('c4', { phoneNumber: '+79990001122', record: true }, {
      control,
      router,
      settings,
      log: silentLogger(),
      connectAgent: async () => new FakeAgentSession(),
      createMedia: async (o) => {
        const m = new FakeMediaSession(o);
        media.push(m);
        return m;
      },
    });
    await call.start();
    await waitFor(() => media.length === 1);
    control.emit({ type: 'StasisStart', args: ['outbound', 'c4'], channel: { id: 'vg-c4', name: 'PJSIP/x', state: 'Up' } });
    await waitFor(() => call.view().recording_url, { what: 'recording started' });
    assert.ok(control.ops.includes('recordBridge vg-br-c4 vg-rec-c4'));
    assert.equal(call.view().recording_url, '/api/calls/c4/recording');
    await call.end('api');
  });
});
