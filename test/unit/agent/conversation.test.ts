import assert from 'node:assert/strict';
import { decodeAgentMessage } from '../../../src/agent/agent-protocol';
import { initialConversation, reduceConversation, type ConversationState } from '../../../src/agent/conversation';

/** Feeds wire frames through decode + reducer, as the client does; returns the last step and the state. */
function feed(state: ConversationState, ...frames: object[]) {
  let s = state;
  const steps = frames.map((f) => {
    const step = reduceConversation(s, decodeAgentMessage(JSON.stringify(f), false));
    s = step.state;
    return step;
  });
  return { state: s, steps };
}

const metadata = (out = 'pcm_16000', input = 'pcm_16000') => ({
  type: 'conversation_initiation_metadata',
  conversation_initiation_metadata_event: { conversation_id: 'conv_1', agent_output_audio_format: out, ...(input ? { user_input_audio_format: input } : {}) },
});
const audio = (eventId: number, b64 = 'AAABAA==') => ({ type: 'audio', audio_event: { event_id: eventId, audio_base_64: b64 } });

describe('conversation reducer', () => {
  it('opens on the metadata with its formats; input defaults to pcm_16000 when absent', () => {
    const { state, steps } = feed(initialConversation(), metadata('ulaw_8000', ''));
    assert.equal(state.phase, 'open');
    assert.deepEqual(steps[0]!.events, [{ type: 'connected', conversationId: 'conv_1', inputFormat: 'pcm_16000', outputFormat: 'ulaw_8000', hasInputFormat: false }]);
  });

  it('answers a ping with a pong of the same id in every phase', () => {
    const { steps } = feed(initialConversation(), { type: 'ping', ping_event: { event_id: 7, ping_ms: 40 } });
    assert.deepEqual(steps[0]!.replies, [{ type: 'pong', event_id: 7 }]);
  });

  it('ignores anything but the metadata before it; an unplayable format fails the connect', () => {
    const { steps } = feed(initialConversation(), audio(1));
    assert.equal(steps[0]!.events[0]?.type, 'ignored');
    const bad = feed(initialConversation(), metadata('opus_48000'));
    assert.equal(bad.steps[0]!.events[0]?.type, 'connect-failed');
  });

  it('interruption watermark: drops audio with a lower event id, keeps the same id, never lowers', () => {
    const opened = feed(initialConversation(), metadata()).state;
    const { state, steps } = feed(
      opened,
      audio(1),
      { type: 'interruption', interruption_event: { event_id: 2 } },
      audio(1),
      audio(2),
      { type: 'interruption', interruption_event: { event_id: 1 } },
      audio(1),
    );
    assert.deepEqual(steps.map((s) => s.events[0]?.type), ['audio', 'interruption', 'stale-audio', 'audio', 'interruption', 'stale-audio']);
    assert.equal(state.watermark, 2);
  });

  it('audio stays base64 with its decoded length and the output format', () => {
    const opened = feed(initialConversation(), metadata('pcm_24000')).state;
    const { steps } = feed(opened, audio(3, 'AAD//wEA'));
    const e = steps[0]!.events[0];
    assert.ok(e?.type === 'audio');
    assert.deepEqual([e.event.base64, e.event.byteLength, e.event.format, e.event.eventId], ['AAD//wEA', 6, 'pcm_24000', 3]);
  });

  it('transcripts, corrections, tool calls and end_call become events; errors are remembered for the close', () => {
    const opened = feed(initialConversation(), metadata()).state;
    const { state, steps } = feed(
      opened,
      { type: 'user_transcript', user_transcription_event: { user_transcript: 'hi', event_id: 1 } },
      { type: 'agent_response_correction', agent_response_correction_event: { original_agent_response: 'a b c', corrected_agent_response: 'a b', event_id: 2 } },
      { type: 'client_tool_call', client_tool_call: { tool_name: 'send_dtmf', tool_call_id: 't1', parameters: { digits: '1' } } },
      { type: 'agent_tool_response', agent_tool_response: { tool_name: 'end_call', tool_call_id: 't2', tool_type: 'system', is_error: false } },
      { type: 'error', error_event: { code: 1011, message: 'boom', error_type: 'internal' } },
    );
    const events = steps.map((s) => s.events[0]);
    assert.deepEqual(events[0], { type: 'transcript', event: { role: 'user', text: 'hi', eventId: 1, isCorrection: false } });
    assert.ok(events[1]?.type === 'transcript' && events[1].event.isCorrection && events[1].event.text === 'a b');
    assert.ok(events[2]?.type === 'clientToolCall' && events[2].event.toolCallId === 't1');
    assert.ok(events[3]?.type === 'agentToolResponse' && events[3].event.isEndCall);
    assert.equal(state.lastError?.code, 1011);
  });

  it('a frame that is not JSON or not a known shape is a protocol error, not a state change', () => {
    const opened = feed(initialConversation(), metadata()).state;
    const step = reduceConversation(opened, decodeAgentMessage('not json', false));
    assert.equal(step.events[0]?.type, 'protocol-error');
    assert.equal(step.state, opened);
  });
});
