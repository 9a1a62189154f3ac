import assert from 'node:assert/strict';
import { AgentProtocolError } from '../../../src/errors';
import {
  buildInitiationMessage,
  decodeAgentMessage,
  encodeAgentMessage,
  encodeUserAudioChunk,
  type AgentServerMessage,
} from '../../../src/agent/agent-protocol';

function decodeOk(json: string): AgentServerMessage {
  const m = decodeAgentMessage(Buffer.from(json), false);
  if (m instanceof AgentProtocolError) throw new Error(`unexpected protocol error: ${m.code} ${m.message}`);
  return m;
}

function decodeErr(data: string | Buffer, isBinary = false): AgentProtocolError {
  const m = decodeAgentMessage(data, isBinary);
  assert.ok(m instanceof AgentProtocolError, `expected a protocol error, got ${JSON.stringify(m)}`);
  return m;
}

describe('agent-protocol', () => {
  describe('encode', () => {
    it('encodes user audio without a type field', () => {
      assert.equal(encodeUserAudioChunk(Buffer.from([0, 0, 0xff, 0xff, 1, 0])), '{"user_audio_chunk":"AAD//wEA"}');
      assert.equal(encodeAgentMessage({ user_audio_chunk: 'AAD//wEA' }), '{"user_audio_chunk":"AAD//wEA"}');
    });

    it('encodes pong, activity, contextual update, user message and tool result', () => {
      assert.equal(encodeAgentMessage({ type: 'pong', event_id: 7 }), '{"type":"pong","event_id":7}');
      assert.equal(encodeAgentMessage({ type: 'user_activity' }), '{"type":"user_activity"}');
      assert.equal(
        encodeAgentMessage({ type: 'contextual_update', text: 'queue: billing' }),
        '{"type":"contextual_update","text":"queue: billing"}',
      );
      assert.equal(encodeAgentMessage({ type: 'user_message', text: 'hi' }), '{"type":"user_message","text":"hi"}');
      assert.deepEqual(
        JSON.parse(encodeAgentMessage({ type: 'client_tool_result', tool_call_id: 't1', result: 'ok', is_error: false })),
        { type: 'client_tool_result', tool_call_id: 't1', result: 'ok', is_error: false },
      );
    });

    it('encodes an MCP approval result', () => {
      assert.equal(
        encodeAgentMessage({ type: 'mcp_tool_approval_result', tool_call_id: 'mcp_1', is_approved: false }),
        '{"type":"mcp_tool_approval_result","tool_call_id":"mcp_1","is_approved":false}',
      );
    });

    it('builds an initiation with only the fields that are set', () => {
      assert.deepEqual(buildInitiationMessage(), { type: 'conversation_initiation_client_data' });
      assert.deepEqual(buildInitiationMessage({ dynamicVariables: {} }), { type: 'conversation_initiation_client_data' });
      assert.deepEqual(
        buildInitiationMessage({
          prompt: 'Be brief.',
          firstMessage: 'Hi {{name}}',
          language: 'de',
          voiceId: 'v1',
          dynamicVariables: { name: 'Ada', vip: true, score: 1.5 },
          userId: '+4930123',
        }),
        {
          type: 'conversation_initiation_client_data',
          conversation_config_override: {
            agent: { prompt: { prompt: 'Be brief.' }, first_message: 'Hi {{name}}', language: 'de' },
            tts: { voice_id: 'v1' },
          },
          dynamic_variables: { name: 'Ada', vip: true, score: 1.5 },
          user_id: '+4930123',
        },
      );
      // An empty first message is a real override ("wait for the caller"), not "unset".
      assert.deepEqual(buildInitiationMessage({ firstMessage: '' }).conversation_config_override, { agent: { first_message: '' } });
    });
  });

  describe('decode', () => {
    it('decodes metadata, with and without the input format', () => {
      assert.deepEqual(
        decodeOk(
          '{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":' +
            '{"conversation_id":"conv_01jz34q5n2fhvsvz4ha965nrqt","agent_output_audio_format":"ulaw_8000","user_input_audio_format":"pcm_16000"}}',
        ),
        {
          type: 'conversation_initiation_metadata',
          conversationId: 'conv_01jz34q5n2fhvsvz4ha965nrqt',
          agentOutputAudioFormat: 'ulaw_8000',
          userInputAudioFormat: 'pcm_16000',
        },
      );
      const legacy = decodeOk(
        '{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{"conversation_id":"c","agent_output_audio_format":"pcm_22050"}}',
      );
      assert.equal(legacy.type === 'conversation_initiation_metadata' && legacy.userInputAudioFormat, undefined);
    });

    it('rejects metadata with an unsupported format', () => {
      const err = decodeErr(
        '{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{"conversation_id":"c","agent_output_audio_format":"mp3_44100"}}',
      );
      assert.equal(err.code, 'AGENT_UNSUPPORTED_AUDIO_FORMAT');
    });

    it('keeps audio as base64 with its decoded length, with a numeric or string event id', () => {
      const m = decodeOk('{"type":"audio","audio_event":{"audio_base_64":"AAD//wEA","event_id":3}}');
      assert.equal(m.type, 'audio');
      if (m.type !== 'audio') return;
      assert.equal(m.eventId, 3);
      assert.deepEqual([...Buffer.from(m.audioBase64, 'base64')], [0, 0, 0xff, 0xff, 1, 0]);
      assert.equal(m.audioBytes, 6);
      assert.equal(m.alignment, undefined);
      const s = decodeOk(
        '{"type":"audio","audio_event":{"audio_base_64":"","event_id":"12","alignment":{"chars":["H","i"],"char_start_times_ms":[0,60],"char_durations_ms":[60,80]}}}',
      );
      assert.ok(s.type === 'audio');
      assert.equal(s.eventId, 12);
      assert.deepEqual(s.alignment, { chars: ['H', 'i'], charStartTimesMs: [0, 60], charDurationsMs: [60, 80] });
    });

    it('rejects audio without an event id or payload', () => {
      assert.equal(decodeErr('{"type":"audio","audio_event":{"audio_base_64":"AAA="}}').code, 'AGENT_MESSAGE_INVALID');
      assert.equal(decodeErr('{"type":"audio","audio_event":{"audio_base_64":"AAA=","event_id":"x"}}').code, 'AGENT_MESSAGE_INVALID');
      assert.equal(decodeErr('{"type":"audio","audio_event":{"event_id":1}}').code, 'AGENT_MESSAGE_INVALID');
      assert.equal(decodeErr('{"type":"audio"}').code, 'AGENT_MESSAGE_INVALID');
    });

    it('decodes interruption and ping (ping_ms may be null)', () => {
      assert.deepEqual(decodeOk('{"type":"interruption","interruption_event":{"event_id":4}}'), {
        type: 'interruption',
        eventId: 4,
        reason: undefined,
      });
      assert.deepEqual(decodeOk('{"type":"ping","ping_event":{"event_id":"9","ping_ms":null}}'), { type: 'ping', eventId: 9, pingMs: null });
      assert.deepEqual(decodeOk('{"type":"ping","ping_event":{"event_id":10,"ping_ms":50}}'), { type: 'ping', eventId: 10, pingMs: 50 });
    });

    it('decodes transcripts and agent responses', () => {
      assert.deepEqual(decodeOk('{"type":"user_transcript","user_transcription_event":{"user_transcript":"I need help","event_id":4}}'), {
        type: 'user_transcript',
        text: 'I need help',
        eventId: 4,
      });
      assert.deepEqual(decodeOk('{"type":"user_transcript","user_transcription_event":{"user_transcript":"old server"}}'), {
        type: 'user_transcript',
        text: 'old server',
        eventId: undefined,
      });
      assert.deepEqual(
        decodeOk('{"type":"tentative_user_transcript","tentative_user_transcription_event":{"user_transcript":"I need","event_id":4}}'),
        { type: 'tentative_user_transcript', text: 'I need', eventId: 4 },
      );
      assert.deepEqual(decodeOk('{"type":"agent_response","agent_response_event":{"agent_response":"Sure.","event_id":4}}'), {
        type: 'agent_response',
        text: 'Sure.',
        eventId: 4,
      });
      assert.deepEqual(
        decodeOk(
          '{"type":"agent_response_correction","agent_response_correction_event":{"original_agent_response":"Let me tell you all","corrected_agent_response":"Let me","event_id":3}}',
        ),
        { type: 'agent_response_correction', originalText: 'Let me tell you all', correctedText: 'Let me', eventId: 3 },
      );
    });

    it('decodes tool messages', () => {
      assert.deepEqual(
        decodeOk(
          '{"type":"client_tool_call","client_tool_call":{"tool_name":"transfer","tool_call_id":"toolu_1","parameters":{"queue":"billing"},"event_id":5,"expects_response":true}}',
        ),
        {
          type: 'client_tool_call',
          toolName: 'transfer',
          toolCallId: 'toolu_1',
          parameters: { queue: 'billing' },
          eventId: 5,
          expectsResponse: true,
        },
      );
      assert.deepEqual(
        decodeOk('{"type":"agent_tool_request","agent_tool_request":{"tool_name":"end_call","tool_call_id":"e1","tool_type":"system","event_id":6}}'),
        { type: 'agent_tool_request', toolName: 'end_call', toolCallId: 'e1', toolType: 'system', eventId: 6 },
      );
      assert.deepEqual(
        decodeOk(
          '{"type":"agent_tool_response","agent_tool_response":{"tool_name":"end_call","tool_call_id":"e1","tool_type":"system","is_error":false,"is_called":true,"event_id":6}}',
        ),
        { type: 'agent_tool_response', toolName: 'end_call', toolCallId: 'e1', toolType: 'system', isError: false, isCalled: true, eventId: 6 },
      );
    });

    it('decodes the nested error shape', () => {
      assert.deepEqual(
        decodeOk(
          '{"type":"error","error_event":{"code":1008,"message":"Override for field is not allowed","error_type":"override_error","reason":"generic","debug_message":null,"details":null}}',
        ),
        { type: 'error', shape: 'nested', message: 'Override for field is not allowed', code: 1008, errorType: 'override_error', reason: 'generic' },
      );
    });

    it('decodes the flat error shape and finds the close code in its text', () => {
      assert.deepEqual(decodeOk('{"type":"error","message":"received 1002 (protocol error) This request exceeds your quota limit."}'), {
        type: 'error',
        shape: 'flat',
        message: 'received 1002 (protocol error) This request exceeds your quota limit.',
        code: 1002,
        errorType: undefined,
        reason: undefined,
      });
      const bare = decodeOk('{"type":"error"}');
      assert.ok(bare.type === 'error');
      assert.equal(bare.shape, 'flat');
      assert.equal(bare.code, undefined);
    });

    it('decodes MCP tool calls in every state, keeping states it does not know', () => {
      const base = { service_id: 'srv1', tool_call_id: 'mcp_1', tool_name: 'lookup', parameters: { q: 1 }, timestamp: '2026-12-01T00:00:00Z' };
      assert.deepEqual(decodeOk(JSON.stringify({ type: 'mcp_tool_call', mcp_tool_call: { ...base, state: 'awaiting_approval', approval_timeout_secs: 300 } })), {
        type: 'mcp_tool_call',
        toolCallId: 'mcp_1',
        toolName: 'lookup',
        serviceId: 'srv1',
        state: 'awaiting_approval',
        approvalTimeoutSecs: 300,
      });
      const later = decodeOk(JSON.stringify({ type: 'mcp_tool_call', mcp_tool_call: { ...base, state: 'queued_somewhere' } }));
      assert.ok(later.type === 'mcp_tool_call');
      assert.equal(later.state, 'queued_somewhere');
      assert.equal(later.approvalTimeoutSecs, undefined);
      assert.equal(decodeErr(JSON.stringify({ type: 'mcp_tool_call', mcp_tool_call: { tool_name: 'x', state: 'loading' } })).code, 'AGENT_MESSAGE_INVALID');
    });

    it('decodes context usage and guardrails whatever their payload key, every field optional', () => {
      assert.deepEqual(
        decodeOk('{"type":"context_usage","context_usage_event":{"event_id":4,"model":"gpt","context_tokens":900,"context_limit_tokens":8000}}'),
        { type: 'context_usage', eventId: 4, model: 'gpt', contextTokens: 900, contextLimitTokens: 8000 },
      );
      assert.deepEqual(decodeOk('{"type":"context_usage","context_tokens":10}'), {
        type: 'context_usage',
        eventId: undefined,
        model: undefined,
        contextTokens: 10,
        contextLimitTokens: undefined,
      });
      assert.deepEqual(decodeOk('{"type":"guardrail_triggered"}'), { type: 'guardrail_triggered', eventId: undefined });
      assert.deepEqual(decodeOk('{"type":"guardrail_triggered","guardrail_triggered_event":{"event_id":"7"}}'), { type: 'guardrail_triggered', eventId: 7 });
    });

    it('tolerates unknown types', () => {
      assert.deepEqual(decodeOk('{"type":"vad_score","vad_score_event":{"vad_score":0.9}}'), { type: 'unknown', originalType: 'vad_score' });
      assert.deepEqual(decodeOk('{"type":"some_future_event"}'), { type: 'unknown', originalType: 'some_future_event' });
    });

    it('returns protocol errors for frames that are not protocol messages', () => {
      assert.equal(decodeErr(Buffer.from([1, 2, 3]), true).code, 'AGENT_BINARY_FRAME');
      assert.equal(decodeErr('not json').code, 'AGENT_MESSAGE_NOT_JSON');
      assert.equal(decodeErr('[1,2]').code, 'AGENT_MESSAGE_INVALID');
      assert.equal(decodeErr('"str"').code, 'AGENT_MESSAGE_INVALID');
      assert.equal(decodeErr('{"no_type":1}').code, 'AGENT_MESSAGE_INVALID');
      assert.equal(decodeErr('{"type":"ping"}').code, 'AGENT_MESSAGE_INVALID');
    });

    it('accepts every RawData form ws hands out', () => {
      const json = '{"type":"ping","ping_event":{"event_id":1,"ping_ms":null}}';
      const buf = Buffer.from(json);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      for (const data of [json, buf, ab, [buf.subarray(0, 10), buf.subarray(10)]]) {
        assert.deepEqual(decodeAgentMessage(data, false), { type: 'ping', eventId: 1, pingMs: null });
      }
    });
  });
});
