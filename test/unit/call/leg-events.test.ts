import assert from 'node:assert/strict';
import { toAriEvent, type AriEvent } from '../../../src/ari/ari-events';
import { interpretLegEvent, type LegContext } from '../../../src/call/leg-events';

const channel = { id: 'vg-c1', name: 'PJSIP/carrier-1', state: 'Up' };
function event(raw: Record<string, unknown>): AriEvent {
  const e = toAriEvent({ application: 'test', timestamp: '2026-01-01T00:00:00.000Z', channel, ...raw });
  if (e === undefined) throw new Error('bad event');
  return e;
}
const ctx = (over: Partial<LegContext> = {}): LegContext => ({ state: 'dialing', direction: 'outbound', isAnswered: false, isInAmd: false, ...over });

describe('interpretLegEvent', () => {
  it('ringing: from a Ringing state change or a RINGING dial status, only while dialing', () => {
    assert.deepEqual(interpretLegEvent(ctx(), event({ type: 'ChannelStateChange', channel: { ...channel, state: 'Ringing' } })), [{ kind: 'ringing' }]);
    assert.deepEqual(interpretLegEvent(ctx(), event({ type: 'Dial', peer: channel, dialstatus: 'RINGING' })), [{ kind: 'ringing' }]);
    assert.deepEqual(interpretLegEvent(ctx({ state: 'ringing' }), event({ type: 'Dial', peer: channel, dialstatus: 'RINGING' })), []);
  });

  it('an outbound leg is answered when it goes Up (or Dial says ANSWER); its StasisStart at creation is not an answer', () => {
    const up = event({ type: 'ChannelStateChange', channel: { ...channel, state: 'Up' } });
    const dialAnswer = event({ type: 'Dial', peer: channel, dialstatus: 'ANSWER' });
    assert.deepEqual(interpretLegEvent(ctx({ state: 'ringing' }), up), [{ kind: 'answered' }]);
    assert.deepEqual(interpretLegEvent(ctx({ state: 'ringing' }), dialAnswer), [{ kind: 'answered' }]);
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true }), up), [], 'once only');
    assert.deepEqual(interpretLegEvent(ctx({ direction: 'inbound', state: 'ringing' }), up), [], 'we answer inbound calls ourselves');
    assert.deepEqual(interpretLegEvent(ctx(), event({ type: 'StasisStart', args: ['outbound', 'c1'] })), []);
  });

  it('a StasisStart back from the AMD dialplan carries its verdict', () => {
    const back = event({ type: 'StasisStart', args: ['amd', 'MACHINE', 'LONGGREETING-1500-1500'] });
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true, isInAmd: true }), back), [
      { kind: 'amd-result', status: 'MACHINE', cause: 'LONGGREETING-1500-1500' },
    ]);
  });

  it('ChannelDestroyed records the cause and SIP code, then ends: callee after answer, else by cause', () => {
    const destroyed = (cause: number, tech?: number) => event({ type: 'ChannelDestroyed', cause, cause_txt: 'x', ...(tech ? { tech_cause: tech } : {}) });
    assert.deepEqual(interpretLegEvent(ctx(), destroyed(17, 486)), [
      { kind: 'record-hangup-cause', cause: 17, text: 'x', sipCode: 486 },
      { kind: 'end', reason: 'busy' },
    ]);
    assert.deepEqual(interpretLegEvent(ctx(), destroyed(19))[1], { kind: 'end', reason: 'no-answer' });
    assert.deepEqual(interpretLegEvent(ctx(), destroyed(1))[1], { kind: 'end', reason: 'rejected' });
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true }), destroyed(16))[1], { kind: 'end', reason: 'callee' });
  });

  it('while ending only the hang-up cause is still recorded', () => {
    const destroyed = event({ type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing' });
    assert.deepEqual(interpretLegEvent(ctx({ state: 'ending', isAnswered: true }), destroyed), [
      { kind: 'record-hangup-cause', cause: 16, text: 'Normal Clearing', sipCode: null },
    ]);
    assert.deepEqual(interpretLegEvent(ctx({ state: 'ending' }), event({ type: 'ChannelDtmfReceived', digit: '1', duration_ms: 100 })), []);
  });

  it('StasisEnd ends an answered call, unless the leg only went to AMD', () => {
    const end = event({ type: 'StasisEnd' });
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true }), end), [{ kind: 'end', reason: 'callee' }]);
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true, isInAmd: true }), end), []);
    assert.deepEqual(interpretLegEvent(ctx({ state: 'ringing' }), end), []);
  });

  it('a soft hang-up request with the shutdown bit means Asterisk is stopping; a plain one means nothing yet', () => {
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true }), event({ type: 'ChannelHangupRequest', soft: true, cause: 4 })), [
      { kind: 'asterisk-shutdown' },
    ]);
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true }), event({ type: 'ChannelHangupRequest', cause: 16 })), []);
  });

  it('keypad digits become dtmf intents', () => {
    assert.deepEqual(interpretLegEvent(ctx({ state: 'answered', isAnswered: true }), event({ type: 'ChannelDtmfReceived', digit: '#', duration_ms: 100 })), [
      { kind: 'dtmf', digit: '#' },
    ]);
  });
});
