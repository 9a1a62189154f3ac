import assert from 'node:assert/strict';
import { once } from 'node:events';
import { AriEventRouter } from '../../../src/ari/ari-event-router';
import type { AdmissionTicket } from '../../../src/call/admission';
import { Call, type CallDeps, type CallOrigin, type CallSettings } from '../../../src/call/call';
import { callChannelId } from '../../../src/call/ari-ids';
import type { TransferAttempt } from '../../../src/call/transfer';
import type { CallRecord } from '../../../src/model/call-record';
import type { StartCallRequest } from '../../../src/model/call-view';
import { AgentConnectionError, ServiceUnavailableError } from '../../../src/errors';
import { silentLogger } from '../../../src/logger';
import { TransferDestinations } from '../../../src/policy/transfer-destinations';
import { FakeCallControl } from '../../fakes/fake-call-control';
import { FakeLinkOpener } from '../../fakes/fake-link';
import { waitFor } from '../../helpers/wait-for';

const TARGET = '+79995550000';

function makeSettings(overrides: Partial<CallSettings> = {}): CallSettings {
  return {
    ariApp: 'test-app',
    trunkEndpoint: 'carrier',
    callerId: undefined,
    ringTimeoutS: 30,
    maxDurationS: 600,
    externalMediaFormat: 'slin',
    agentReadyTimeoutMs: 1000,
    drainTimeoutMs: 5000,
    ringingActivityIntervalMs: 10,
    metricsLogIntervalMs: 10_000,
    dtmfToAgent: 'user_message',
    sendDtmfMaxDigits: 8,
    transfer: { destinations: new TransferDestinations([TARGET, '+7495111*']), maxAttempts: 1, ringTimeoutS: 30, maxDurationS: 600 },
    checkDestination: (n) => (n.startsWith('+7809') || n.startsWith('+7495111999') ? new Error('premium number denied') : null),
    releaseStepTimeoutMs: 200,
    ...overrides,
  };
}

interface Setup {
  router: AriEventRouter;
  control: FakeCallControl;
  links: FakeLinkOpener;
  call: Call;
  tickets: { released: number; taken: number };
  leg: () => { id: string; name: string; state: string };
}

function setup(
  opts: { id?: string; request?: Partial<StartCallRequest>; settings?: Partial<CallSettings>; origin?: CallOrigin; admit?: () => AdmissionTicket } = {},
): Setup {
  const id = opts.id ?? 'c1';
  const router = new AriEventRouter(silentLogger());
  const control = new FakeCallControl(router);
  const links = new FakeLinkOpener();
  const tickets = { released: 0, taken: 0 };
  const deps: CallDeps = {
    control,
    router,
    openLink: links.open,
    settings: makeSettings(opts.settings),
    log: silentLogger(),
    admitTransferLeg:
      opts.admit ??
      (() => {
        tickets.taken += 1;
        return { kind: 'transfer', release: () => void (tickets.released += 1) };
      }),
  };
  const call = new Call(id, { phoneNumber: '+79990001122', ...opts.request }, deps, opts.origin);
  const legId = opts.origin?.direction === 'inbound' ? opts.origin.channelId : callChannelId(id);
  return { router, control, links, call, tickets, leg: () => ({ id: legId, name: 'PJSIP/carrier-1', state: 'Up' }) };
}

/** Places the call, lets it ring and answer, and waits until the media started. */
async function answered(s: Setup): Promise<void> {
  await s.call.start();
  await waitFor(() => s.links.last, { what: 'link opened' });
  s.control.emit({ type: 'ChannelStateChange', channel: { ...s.leg(), state: 'Ringing' } });
  s.control.emit({ type: 'ChannelStateChange', channel: { ...s.leg(), state: 'Up' } });
  await waitFor(() => s.links.last?.startedWith, { what: 'media start' });
}

async function toolResult(s: Setup, toolName: string, parameters: Record<string, unknown>) {
  const link = s.links.last!;
  const before = link.toolResults.length;
  link.handlers!.onToolCall({ toolName, toolCallId: `t${before}`, parameters });
  return waitFor(() => link.toolResults[before], { what: `${toolName} result` });
}

describe('Call', () => {
  it('dials the trunk with alaw first, once the agent’s ExternalMedia channel is in the bridge, and reports ringing', async () => {
    const s = setup();
    const statuses: string[] = [];
    s.call.on('status', (st) => statuses.push(st));
    await s.call.start();
    assert.deepEqual(s.control.ops.slice(0, 3), ['createBridge vg-br-c1', 'create PJSIP/79990001122@carrier formats=alaw,ulaw', 'addToBridge vg-br-c1 vg-c1']);
    // A callee who answers at once and speaks is heard: the media path is whole before the phone rings.
    assert.ok(s.control.ops.indexOf('addToBridge vg-br-c1 vg-em-c1') < s.control.ops.indexOf('dial vg-c1 timeout=30'), s.control.ops.join(' | '));
    s.control.emit({ type: 'ChannelStateChange', channel: { ...s.leg(), state: 'Ringing' } });
    assert.equal(s.call.view().status, 'ringing');
    await s.call.end('api');
    assert.deepEqual(statuses, ['ringing', 'failed']);
    assert.deepEqual(s.call.view().status_history.map((h) => h.status), ['dialing', 'ringing', 'failed']);
  });

  it('a call hung up while its agent media still joins the bridge is never dialled', async () => {
    const s = setup();
    s.links.gate = new Promise(() => undefined); // the link (and so its RTP address) never comes
    const starting = s.call.start();
    await waitFor(() => s.control.ops.includes('addToBridge vg-br-c1 vg-c1'), { what: 'the leg in the bridge' });
    await s.call.end('api');
    await starting;
    assert.ok(!s.control.ops.some((op) => op.startsWith('dial ')), s.control.ops.join(' | '));
  });

  it('reports how long its release took, once, when everything it opened is released', async () => {
    const s = setup();
    await s.call.start();
    const link = await waitFor(() => s.links.last);
    let letClose!: () => void;
    link.closeGate = new Promise<void>((resolve) => (letClose = resolve));
    const released: number[] = [];
    s.call.on('released', (ms) => released.push(ms));
    const ending = s.call.end('api');
    await waitFor(() => link.closeCount === 1, { what: 'the link closing' });
    assert.deepEqual(released, [], 'not before the link is closed');
    letClose();
    await ending;
    assert.equal(released.length, 1);
    assert.ok(released[0]! >= 0);
    await s.call.end('api');
    assert.equal(released.length, 1, 'once');
  });

  it('busy: records cause 17 and releases the agent link', async () => {
    const s = setup();
    await s.call.start();
    await waitFor(() => s.links.last);
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'ChannelDestroyed', cause: 17, cause_txt: 'User busy', channel: s.leg() });
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.status, 'busy');
    assert.equal(view.hangup_cause, 17);
    assert.equal(view.end_reason, 'busy');
    assert.equal(s.links.last!.closedWith, 1000);
    assert.equal(s.router.subscribedIdCount, 0);
  });

  it('no answer (cause 19) gives no-answer', async () => {
    const s = setup();
    await s.call.start();
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'ChannelDestroyed', cause: 19, cause_txt: 'User alerting, no answer', channel: s.leg() });
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.status, 'no-answer');
  });

  it('keeps the agent from re-engaging while the phone rings', async () => {
    const s = setup();
    await s.call.start();
    await waitFor(() => (s.links.last?.activityCount ?? 0) >= 2, { what: 'user_activity while ringing' });
    await s.call.end('api');
  });

  it('builds the media path while the phone rings; the answer starts the media with no ARI request', async () => {
    const s = setup();
    await s.call.start();
    await waitFor(() => s.control.ops.includes('addToBridge vg-br-c1 vg-em-c1'), { what: 'ExternalMedia in the bridge while ringing' });
    assert.ok(s.control.ops.includes('externalMedia 127.0.0.1:45000 slin'));
    assert.equal(s.links.last!.startedWith, undefined, 'no audio before the answer');
    const link = s.links.last!;
    const start = link.start.bind(link);
    let opsAtStart = -1;
    link.start = (remote) => {
      opsAtStart = s.control.ops.length;
      start(remote);
    };
    const opsBeforeAnswer = s.control.ops.length;
    s.control.emit({ type: 'ChannelStateChange', channel: { ...s.leg(), state: 'Up' } });
    await waitFor(() => link.startedWith, { what: 'media start' });
    assert.deepEqual(link.startedWith, { address: '127.0.0.1', port: 40000 });
    assert.equal(opsAtStart, opsBeforeAnswer, `ARI requests between the answer and the media: ${s.control.ops.slice(opsBeforeAnswer, opsAtStart).join(', ')}`);
    assert.equal(s.call.view().status, 'answered');
    await s.call.end('api');
  });

  it('callee hangup releases every resource exactly once and leaves nothing in Asterisk', async () => {
    const s = setup();
    await answered(s);
    const ended = once(s.call, 'ended');
    s.control.channels.delete(callChannelId('c1'));
    s.control.emit({ type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: s.leg() });
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.status, 'completed');
    assert.equal(view.end_reason, 'callee');
    assert.equal(view.hangup_cause, 16);
    assert.equal(s.control.channels.size, 0, 'ExternalMedia channel hung up');
    assert.equal(s.control.bridges.size, 0, 'bridge destroyed');
    assert.equal(s.links.last!.closeCount, 1);
    assert.equal(s.router.subscribedIdCount, 0);
    await s.call.end('api');
    assert.equal(s.links.last!.closeCount, 1, 'a second end() releases nothing again');
    assert.equal(s.call.view().end_reason, 'callee', 'the first reason wins');
  });

  it('an API hang-up hangs up the caller leg first, without waiting for a stalled agent close', async () => {
    const s = setup();
    await answered(s);
    const link = s.links.last!;
    link.closeGate = new Promise(() => undefined); // the agent never answers the close handshake
    const opsBefore = s.control.ops.length;
    const ending = s.call.end('api');
    await waitFor(() => s.control.ops.length > opsBefore, { what: 'first release' });
    assert.equal(s.control.ops[opsBefore], 'hangup vg-c1', 'the caller leg goes first');
    await ending;
    assert.equal(s.call.view().status, 'completed');
    assert.equal(s.control.bridges.size, 0, 'the rest was released although the link close hangs');
  });

  it('emits ended exactly once even when a listener throws', async () => {
    const s = setup();
    await s.call.start();
    let seen = 0;
    s.call.once('ended', () => {
      throw new Error('faulty observer');
    });
    s.call.on('ended', () => void (seen += 1));
    await s.call.end('api');
    await s.call.end('api');
    assert.equal(seen, 1);
  });

  it('agent end of conversation (1000) plays out the goodbye, then hangs up', async () => {
    const s = setup();
    await answered(s);
    const link = s.links.last!;
    const ended = once(s.call, 'ended');
    link.remoteClose(1000, 'end_call');
    await waitFor(() => link.drainRequests === 1, { what: 'drain requested' });
    assert.ok(link.isCallerAudioStopped);
    assert.equal(s.call.state, 'answered', 'the call waits for the goodbye to play out');
    assert.ok(!s.control.ops.includes('hangup vg-c1'));
    link.finishPlayout();
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.status, 'completed');
    assert.equal(view.end_reason, 'agent');
    assert.ok(s.control.ops.includes('hangup vg-c1'));
  });

  it('an abnormal agent close ends the call as failed at once', async () => {
    const s = setup();
    await answered(s);
    const ended = once(s.call, 'ended');
    s.links.last!.remoteClose(1011, 'internal error');
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.status, 'failed');
    assert.equal(view.end_reason, 'agent-error');
    assert.match(view.error ?? '', /1011/);
  });

  it('an agent that cannot connect ends the ringing call as failed and hangs up the leg', async () => {
    const s = setup();
    s.links.error = new AgentConnectionError('AGENT_AUTH_FAILED', 'bad key');
    const ended = once(s.call, 'ended');
    await s.call.start().catch(() => undefined);
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.status, 'failed');
    assert.match(view.error ?? '', /AGENT_AUTH_FAILED/);
    await waitFor(() => s.control.ops.includes('hangup vg-c1') || !s.control.ops.some((o) => o.startsWith('originate')), { what: 'call leg hung up' });
  });

  it('a failed channel creation rejects start() and records the failure', async () => {
    const s = setup();
    s.control.originateError = new Error('Allocation failed');
    await assert.rejects(s.call.start(), /Allocation failed/);
    assert.equal(s.call.view().status, 'failed');
    assert.equal(s.router.subscribedIdCount, 0);
  });

  it('a transcript line is numbered in order', async () => {
    const s = setup();
    await answered(s);
    const lines: [string, number][] = [];
    s.call.on('transcript', (e, seq) => lines.push([e.text, seq]));
    s.links.last!.handlers!.onTranscript('user', 'hello');
    s.links.last!.handlers!.onTranscript('agent', 'hi there');
    assert.deepEqual(lines, [['hello', 0], ['hi there', 1]]);
    assert.equal(s.call.view().transcript[1]?.text, 'hi there');
    await s.call.end('api');
  });

  it('MAX duration: the goodbye plays out, then the call ends as max-duration', async () => {
    const s = setup({ request: { maxDurationS: 0.05 } });
    await answered(s);
    await waitFor(() => s.links.last!.drainRequests === 1, { what: 'drain at the limit' });
    const ended = once(s.call, 'ended');
    s.links.last!.finishPlayout();
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.end_reason, 'max-duration');
  });
});

describe('Call: agent tools', () => {
  it('send_dtmf plays the digits on the call leg, within a per-call budget', async () => {
    const s = setup();
    await answered(s);
    const r = await toolResult(s, 'send_dtmf', { digits: '12#' });
    assert.deepEqual([r.isError, s.control.ops.includes('dtmf vg-c1 12#')], [false, true]);
    const bad = await toolResult(s, 'send_dtmf', { digits: '1; rm -rf' });
    assert.equal(bad.isError, true);
    const overBudget = await toolResult(s, 'send_dtmf', { digits: '123456' });
    assert.equal(overBudget.isError, true);
    assert.match(overBudget.result, /at most 8 keypad digits/);
    assert.ok(!s.control.ops.includes('dtmf vg-c1 123456'));
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
    s.links.last!.finishPlayout();
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.end_reason, 'agent');
    assert.ok(s.links.last!.isCallerAudioStopped);
  });

  it('caller DTMF reaches the agent as a user message and is emitted', async () => {
    const s = setup();
    await answered(s);
    const digits: string[] = [];
    s.call.on('dtmf', (d) => digits.push(d));
    s.control.emit({ type: 'ChannelDtmfReceived', digit: '5', duration_ms: 120, channel: s.leg() });
    assert.deepEqual(digits, ['5']);
    assert.match(s.links.last!.userMessages[0] ?? '', /"5"/);
    await s.call.end('api');
  });
});

describe('Call: transfers', () => {
  function attempts(s: Setup): TransferAttempt[] {
    const seen: TransferAttempt[] = [];
    s.call.on('transferAttempt', (a) => seen.push(a));
    return seen;
  }

  for (const [what, number, reason] of [
    ['a number not in TRANSFER_DESTINATIONS', '+79995550001', /not one the caller may be transferred to/],
    ['a listed prefix the destination policy denies', '+74951119990', /may not be dialled/],
    ['a denied premium number', '+78091234567', /not one the caller may be transferred to/],
  ] as const) {
    it(`refuses ${what}: error result, nothing dialled, the call goes on`, async () => {
      const s = setup();
      await answered(s);
      const seen = attempts(s);
      const r = await toolResult(s, 'transfer_to_number', { phone_number: number });
      assert.equal(r.isError, true);
      assert.match(r.result, reason);
      assert.ok(!s.control.ops.some((o) => o.includes(number.slice(1))), 'nothing dialled');
      assert.deepEqual(seen.map((a) => [a.phoneNumber, a.isAllowed]), [[number, false]]);
      assert.equal(s.call.state, 'answered');
      assert.equal(s.links.last!.closeCount, 0, 'the agent stays');
      await s.call.end('api');
    });
  }

  it('bridges the caller to a listed target, lets the agent go after its tool result, refuses a second attempt', async () => {
    const s = setup();
    await answered(s);
    const seen = attempts(s);
    const link = s.links.last!;
    const resultP = toolResult(s, 'transfer_to_number', { phone_number: TARGET });
    await waitFor(() => s.control.ops.some((o) => o.startsWith('originate PJSIP/79995550000@carrier')), { what: 'transfer dialled' });
    assert.equal(s.tickets.taken, 1, 'the leg took a place');
    s.control.emit({ type: 'StasisStart', args: ['transfer', 'c1'], channel: { id: 'vg-tr-c1', name: 'PJSIP/carrier-2', state: 'Up' } });
    const r = await resultP;
    assert.equal(r.isError, false, r.result);
    assert.ok(s.control.ops.includes('removeFromBridge vg-br-c1 vg-em-c1'));
    assert.ok(s.control.ops.includes('addToBridge vg-br-c1 vg-tr-c1'));
    await waitFor(() => link.closedWith === 1000, { what: 'agent closed' });
    assert.ok(s.control.ops.includes('hangup vg-em-c1'), 'the ExternalMedia channel goes with the agent');
    assert.equal(s.call.view().transferred_to, TARGET);
    assert.equal(s.call.state, 'answered', 'the agent leaving does not end the call');
    // A second request on the same call (e.g. a late tool call) is refused.
    link.handlers!.onToolCall({ toolName: 'transfer_to_number', toolCallId: 'again', parameters: { phone_number: TARGET } });
    const second = await waitFor(() => link.toolResults.find((t) => t.toolCallId === 'again'));
    assert.equal(second.isError, true);
    assert.match(second.result, /no further transfer/);
    assert.deepEqual(seen.map((a) => a.isAllowed), [true, false]);
    // The target hangs up: the call ends, the caller leg is hung up and the place is freed.
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'StasisEnd', channel: { id: 'vg-tr-c1', name: 'PJSIP/carrier-2', state: 'Up' } });
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.end_reason, 'callee');
    assert.ok(s.control.ops.includes('hangup vg-c1'));
    assert.ok(s.control.ops.includes('hangup vg-tr-c1'));
    assert.equal(s.tickets.released, 1);
    assert.equal(s.router.subscribedIdCount, 0);
  });

  it('a busy target: error result, the leg released, the agent and the call go on', async () => {
    const s = setup();
    await answered(s);
    const resultP = toolResult(s, 'transfer_to_number', { phone_number: TARGET });
    await waitFor(() => s.control.ops.some((o) => o.startsWith('originate PJSIP/79995550000')));
    s.control.emit({ type: 'ChannelDestroyed', cause: 17, cause_txt: 'User busy', channel: { id: 'vg-tr-c1', name: 'PJSIP/carrier-2', state: 'Busy' } });
    const r = await resultP;
    assert.equal(r.isError, true);
    assert.match(r.result, /did not answer \(busy\)/);
    assert.equal(s.tickets.released, 1);
    assert.equal(s.call.state, 'answered');
    assert.equal(s.links.last!.closeCount, 0);
    await s.call.end('api');
  });

  it('the caller hanging up while the target rings cancels the transfer leg at once', async () => {
    const s = setup();
    await answered(s);
    const resultP = toolResult(s, 'transfer_to_number', { phone_number: TARGET });
    await waitFor(() => s.control.channels.has('vg-tr-c1'), { what: 'target ringing' });
    const ended = once(s.call, 'ended');
    s.control.channels.delete('vg-c1');
    s.control.emit({ type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: s.leg() });
    await ended;
    assert.ok(s.control.ops.includes('hangup vg-tr-c1'), 'the ringing leg was hung up');
    assert.ok(!s.control.channels.has('vg-tr-c1'));
    assert.equal(s.tickets.released, 1);
    const r = await resultP;
    assert.equal(r.isError, true);
  });

  it('no free place (capacity or rate limit): refused before dialling', async () => {
    const s = setup({
      admit: () => {
        throw new ServiceUnavailableError('AT_CAPACITY', 'the gateway is at its limit of 2 concurrent calls');
      },
    });
    await answered(s);
    const r = await toolResult(s, 'transfer_to_number', { phone_number: TARGET });
    assert.equal(r.isError, true);
    assert.match(r.result, /limit of 2 concurrent calls/);
    assert.ok(!s.control.ops.some((o) => o.includes('79995550000')));
    await s.call.end('api');
  });

  it('ARI failing during the swap: error result, the leg hung up once ARI works, no unhandled rejection', async () => {
    const s = setup();
    await answered(s);
    const resultP = toolResult(s, 'transfer_to_number', { phone_number: TARGET });
    await waitFor(() => s.control.channels.has('vg-tr-c1'));
    s.control.isDown = true;
    s.control.emit({ type: 'StasisStart', args: ['transfer', 'c1'], channel: { id: 'vg-tr-c1', name: 'PJSIP/carrier-2', state: 'Up' } });
    const r = await resultP;
    assert.equal(r.isError, true);
    assert.match(r.result, /not connected/);
    s.control.isDown = false;
    await s.call.end('api');
    assert.equal(s.control.channels.size, 0, 'nothing left in Asterisk');
    assert.equal(s.tickets.released, 1);
  });

  it('the bridged call has its own limit (TRANSFER_MAX_DURATION_S)', async () => {
    const s = setup({ settings: { transfer: { destinations: new TransferDestinations([TARGET]), maxAttempts: 1, ringTimeoutS: 30, maxDurationS: 0.05 } } });
    await answered(s);
    const resultP = toolResult(s, 'transfer_to_number', { phone_number: TARGET });
    await waitFor(() => s.control.channels.has('vg-tr-c1'));
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'StasisStart', args: ['transfer', 'c1'], channel: { id: 'vg-tr-c1', name: 'PJSIP/carrier-2', state: 'Up' } });
    await resultP;
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.end_reason, 'max-duration');
    assert.equal(view.transferred_to, TARGET);
  });
});

describe('Call: AMD, inbound, recording', () => {
  it('AMD: a machine with amd=hangup ends the call without bridging the agent', async () => {
    const s = setup({ id: 'c2', request: { amd: 'hangup' } });
    await s.call.start();
    s.control.emit({ type: 'ChannelStateChange', channel: { ...s.leg(), state: 'Up' } });
    await waitFor(() => s.control.ops.includes('continue vg-c2 vg-amd,s'), { what: 'sent to AMD' });
    s.control.emit({ type: 'StasisEnd', channel: s.leg() });
    assert.equal(s.call.state, 'answered', 'leaving Stasis for AMD is not a hangup');
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'StasisStart', args: ['amd', 'MACHINE', 'LONGGREETING-1500-1500'], channel: s.leg() });
    const [view] = (await ended) as [CallRecord];
    assert.equal(view.amd_result, 'MACHINE');
    assert.equal(view.end_reason, 'answering-machine');
    assert.equal(s.links.last?.startedWith, undefined, 'the agent never spoke to the machine');
  });

  it('inbound: connects the agent, answers, bridges; records who called which number', async () => {
    const s = setup({
      id: 'c3',
      request: { phoneNumber: '+74950000001', agentId: 'agent_sales' },
      origin: { direction: 'inbound', channelId: 'asterisk-123', dialedNumber: '74951234567' },
    });
    await s.call.accept();
    assert.equal(s.links.last!.request.agentId, 'agent_sales');
    assert.ok(s.control.ops.includes('answer asterisk-123'));
    assert.ok(s.control.ops.includes('addToBridge vg-br-c3 asterisk-123'));
    assert.ok(s.control.ops.includes('addToBridge vg-br-c3 vg-em-c3'));
    assert.ok(s.control.ops.indexOf('addToBridge vg-br-c3 vg-em-c3') < s.control.ops.indexOf('answer asterisk-123'), 'bridged before answering');
    assert.ok(s.links.last!.startedWith);
    const view = s.call.view();
    assert.deepEqual([view.direction, view.dialed_number, view.status], ['inbound', '74951234567', 'answered']);
    const ended = once(s.call, 'ended');
    s.control.emit({ type: 'StasisEnd', channel: { id: 'asterisk-123', name: 'PJSIP/exolve-1', state: 'Up' } });
    const [final] = (await ended) as [CallRecord];
    assert.equal(final.status, 'completed');
    assert.equal(s.router.subscribedIdCount, 0);
  });

  it('record: starts a bridge recording and exposes its download path', async () => {
    const s = setup({ id: 'c4', request: { record: true } });
    await answered(s);
    await waitFor(() => s.call.view().recording_url, { what: 'recording started' });
    assert.ok(s.control.ops.includes('recordBridge vg-br-c4 vg-rec-c4'));
    assert.equal(s.call.view().recording_url, '/api/calls/c4/recording');
    await s.call.end('api');
  });
});
