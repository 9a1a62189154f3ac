import assert from 'node:assert/strict';
import { leadAfterAttempt, outcomeOf } from '../../../src/campaign/lead-outcome';
import type { RetryPolicy } from '../../../src/model/campaign';

const policy: RetryPolicy = { busy: { attempts: 3, delay_s: 60 }, no_answer: { attempts: 2, delay_s: 600 }, failed: { attempts: 1, delay_s: 0 } };

describe('lead outcome', () => {
  it('maps a call’s final status to an outcome and a reason', () => {
    assert.deepEqual(outcomeOf('completed', 'callee'), { outcome: 'completed', reason: 'answered' });
    assert.deepEqual(outcomeOf('completed', 'answering-machine'), { outcome: 'completed', reason: 'answering-machine' });
    assert.deepEqual(outcomeOf('busy', 'busy'), { outcome: 'busy', reason: 'busy' });
    assert.deepEqual(outcomeOf('no-answer', 'ring-timeout'), { outcome: 'no-answer', reason: 'no-answer' });
    assert.deepEqual(outcomeOf('failed', 'gateway-restart'), { outcome: 'failed', reason: 'failed' });
    assert.equal(outcomeOf('ringing', null), null);
  });

  it('an answered call completes the lead whatever ended it (a restart marks it failed)', () => {
    assert.deepEqual(outcomeOf('failed', 'gateway-restart', true), { outcome: 'completed', reason: 'answered' });
    assert.deepEqual(outcomeOf('failed', 'agent-error', true), { outcome: 'completed', reason: 'answered' });
    assert.equal(outcomeOf('answered', null, true), null, 'still live');
  });

  it('an answered call completes the lead', () => {
    assert.deepEqual(leadAfterAttempt({ outcome: 'completed', reason: 'answered' }, 1, policy, 0, true), { state: 'completed', reason: 'answered', nextAttemptMs: null });
  });

  it('retries by the rule of the outcome until the lead had that many attempts', () => {
    const busy = { outcome: 'busy' as const, reason: 'busy' as const };
    assert.deepEqual(leadAfterAttempt(busy, 1, policy, 1000, true), { state: 'waiting', reason: 'busy', nextAttemptMs: 61_000 });
    assert.deepEqual(leadAfterAttempt(busy, 2, policy, 1000, true), { state: 'waiting', reason: 'busy', nextAttemptMs: 61_000 });
    assert.deepEqual(leadAfterAttempt(busy, 3, policy, 1000, true), { state: 'failed', reason: 'busy', nextAttemptMs: null });
    assert.deepEqual(leadAfterAttempt({ outcome: 'failed', reason: 'failed' }, 1, policy, 0, true), { state: 'failed', reason: 'failed', nextAttemptMs: null });
    // Attempts count across outcomes: busy then no-answer is the second attempt, the last no_answer allows.
    assert.deepEqual(leadAfterAttempt({ outcome: 'no-answer', reason: 'no-answer' }, 2, policy, 0, true), { state: 'failed', reason: 'no-answer', nextAttemptMs: null });
  });

  it('a cancelled campaign retries nobody', () => {
    assert.deepEqual(leadAfterAttempt({ outcome: 'busy', reason: 'busy' }, 1, policy, 0, false), { state: 'cancelled', reason: 'cancelled', nextAttemptMs: null });
    assert.deepEqual(leadAfterAttempt({ outcome: 'busy', reason: 'busy' }, 3, policy, 0, false), { state: 'failed', reason: 'busy', nextAttemptMs: null });
  });
});
