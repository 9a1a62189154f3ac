import assert from 'node:assert/strict';
import { finalStatus, isEndingState, isUnansweredState, nextCallState } from '../../../src/call/call-state';

describe('call state machine', () => {
  it('allows the lifecycle moves and throws on any other', () => {
    assert.equal(nextCallState('dialing', 'ringing'), 'ringing');
    assert.equal(nextCallState('dialing', 'answered'), 'answered');
    assert.equal(nextCallState('ringing', 'answered'), 'answered');
    assert.equal(nextCallState('answered', 'ending'), 'ending');
    assert.equal(nextCallState('ending', 'ended'), 'ended');
    assert.throws(() => nextCallState('answered', 'ringing'), /illegal call state transition answered -> ringing/);
    assert.throws(() => nextCallState('ended', 'ending'), /illegal/);
    assert.throws(() => nextCallState('ringing', 'dialing'), /illegal/);
  });

  it('tells ending and unanswered states', () => {
    assert.deepEqual(['dialing', 'ringing', 'answered', 'ending', 'ended'].map((s) => isEndingState(s as never)), [false, false, false, true, true]);
    assert.deepEqual(['dialing', 'ringing', 'answered', 'ending', 'ended'].map((s) => isUnansweredState(s as never)), [true, true, false, false, false]);
  });

  it('maps the end reason to the final status', () => {
    assert.equal(finalStatus('callee', true, false), 'completed');
    assert.equal(finalStatus('api', false, false), 'failed');
    assert.equal(finalStatus('busy', false, false), 'busy');
    assert.equal(finalStatus('ring-timeout', false, false), 'no-answer');
    assert.equal(finalStatus('answering-machine', true, false), 'completed');
    assert.equal(finalStatus('agent', true, true), 'failed');
    assert.equal(finalStatus('at-capacity', false, false), 'failed');
  });
});
