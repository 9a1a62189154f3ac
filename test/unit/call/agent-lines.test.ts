import assert from 'node:assert/strict';
import { AgentLines } from '../../../src/call/agent-lines';
import type { TranscriptEntry } from '../../../src/model/call-view';

const at = '2026-12-01T00:00:00.000Z';

describe('AgentLines', () => {
  it('puts what the caller heard on the agent line of that event id', () => {
    const transcript: TranscriptEntry[] = [{ role: 'agent', text: 'Hello', at }, { role: 'user', text: 'Hi', at }];
    const lines = new AgentLines(transcript);
    lines.added(0, 1);
    lines.added(1, 2);
    const change = lines.heard({ eventId: 1, heardMs: 300, totalMs: 900, isComplete: false, cutAtChar: 2, heardText: 'He' });
    assert.deepEqual(change?.seq, 0);
    assert.deepEqual(transcript[0]?.heard, { complete: false, ms: 300, total_ms: 900, chars: 2, text: 'He' });
    assert.equal(transcript[1]?.heard, undefined);
  });

  it('keeps a report that came before its line and applies it when the line arrives', () => {
    const transcript: TranscriptEntry[] = [];
    const lines = new AgentLines(transcript);
    assert.equal(lines.heard({ eventId: 5, heardMs: 0, totalMs: 200, isComplete: false }), undefined);
    assert.equal(lines.corrected({ eventId: 5, text: 'Sure', originalText: 'Sure, let me check that' }), undefined);
    transcript.push({ role: 'agent', text: 'Sure, let me check that', at });
    lines.added(0, 5);
    assert.deepEqual(transcript[0], {
      role: 'agent',
      text: 'Sure',
      at,
      original_text: 'Sure, let me check that',
      heard: { complete: false, ms: 0, total_ms: 200 },
    });
  });

  it('a correction replaces the text and keeps the original once; without an event id it finds the line by its text', () => {
    const transcript: TranscriptEntry[] = [{ role: 'agent', text: 'one two three', at }, { role: 'agent', text: 'four five', at }];
    const lines = new AgentLines(transcript);
    lines.added(0, 1);
    lines.added(1, 3);
    assert.equal(lines.corrected({ eventId: null, text: 'one', originalText: 'one two three' })?.seq, 0);
    assert.equal(lines.corrected({ eventId: 1, text: 'one two', originalText: 'one two three' })?.seq, 0);
    assert.deepEqual(transcript[0], { role: 'agent', text: 'one two', at, original_text: 'one two three' });
  });

  it('ignores user lines and lines without an event id', () => {
    const transcript: TranscriptEntry[] = [{ role: 'user', text: 'x', at }];
    const lines = new AgentLines(transcript);
    lines.added(0, 1);
    assert.equal(lines.heard({ eventId: 1, heardMs: 1, totalMs: 1, isComplete: true }), undefined);
    assert.equal(transcript[0]?.heard, undefined);
  });
});
