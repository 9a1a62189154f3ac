import assert from 'node:assert/strict';
import { agentRequestOf } from '../../../src/call/agent-request';

describe('agentRequestOf', () => {
  it('sends the other party as user_id unless AGENT_USER_ID names one', () => {
    assert.equal(agentRequestOf({ phoneNumber: '+79990001122' }, undefined).userId, '+79990001122');
    assert.equal(agentRequestOf({ phoneNumber: '+79990001122' }, 'crm-account-7').userId, 'crm-account-7');
  });

  it('sends no user_id for a caller without caller ID', () => {
    assert.equal('userId' in agentRequestOf({ phoneNumber: 'anonymous' }, undefined), false);
    assert.equal(agentRequestOf({ phoneNumber: 'anonymous' }, 'fixed').userId, 'fixed');
  });

  it('passes the per-call options through', () => {
    const r = agentRequestOf(
      { phoneNumber: '+79990001122', agentId: 'a1', voiceId: 'v1', firstMessage: '', prompt: 'p', language: 'ru', dynamicVariables: { x: 1 } },
      undefined,
    );
    assert.deepEqual(r, { agentId: 'a1', voiceId: 'v1', dynamicVariables: { x: 1 }, firstMessage: '', prompt: 'p', language: 'ru', userId: '+79990001122' });
  });
});
