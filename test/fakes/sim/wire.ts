/**
 * Wire shapes the simulator sends (server → client) and its parser for what clients send. Kept
 * separate from `src/agent/agent-protocol.ts` on purpose: the simulator follows the notes
 * (docs/agent-protocol.md), not our client's types.
 */

/** A JSON object as sent or received. */
export type JsonObject = Record<string, unknown>;

/** Error shapes a server close can be preceded by: nested `error_event`, flat `{type,message}`, or none. */
export type SimErrorShape = 'nested' | 'flat' | 'none';

/** Close-code names as the Python `websockets` library prints them in the flat quota message. */
const CODE_NAMES: Record<number, string> = {
  1000: 'OK',
  1002: 'protocol error',
  1008: 'policy violation',
  1011: 'internal error',
};

/** Server → client message builders, snake_case exactly as on the wire. */
export const serverMsg = {
  metadata(conversationId: string, outputFormat: string, inputFormat: string | undefined): JsonObject {
    const ev: JsonObject = { conversation_id: conversationId, agent_output_audio_format: outputFormat };
    if (inputFormat !== undefined) ev.user_input_audio_format = inputFormat;
    return { type: 'conversation_initiation_metadata', conversation_initiation_metadata_event: ev };
  },
  audio(bytes: Buffer, eventId: number, alignment?: JsonObject): JsonObject {
    const event: JsonObject = { audio_base_64: bytes.toString('base64'), event_id: eventId };
    if (alignment !== undefined) event.alignment = alignment;
    return { type: 'audio', audio_event: event };
  },
  agentResponse(text: string, eventId: number): JsonObject {
    return { type: 'agent_response', agent_response_event: { agent_response: text, event_id: eventId } };
  },
  agentResponseCorrection(original: string, corrected: string, eventId: number): JsonObject {
    return {
      type: 'agent_response_correction',
      agent_response_correction_event: {
        original_agent_response: original,
        corrected_agent_response: corrected,
        event_id: eventId,
      },
    };
  },
  agentResponseComplete(eventId: number): JsonObject {
    return { type: 'agent_response_complete', agent_response_complete_event: { event_id: eventId } };
  },
  userTranscript(text: string, eventId: number): JsonObject {
    return { type: 'user_transcript', user_transcription_event: { user_transcript: text, event_id: eventId } };
  },
  tentativeUserTranscript(text: string, eventId: number): JsonObject {
    return {
      type: 'tentative_user_transcript',
      tentative_user_transcription_event: { user_transcript: text, event_id: eventId },
    };
  },
  interruption(eventId: number): JsonObject {
    return { type: 'interruption', interruption_event: { event_id: eventId } };
  },
  ping(eventId: number, pingMs: number | null): JsonObject {
    return { type: 'ping', ping_event: { event_id: eventId, ping_ms: pingMs } };
  },
  vadScore(score: number): JsonObject {
    return { type: 'vad_score', vad_score_event: { vad_score: score } };
  },
  clientToolCall(toolName: string, toolCallId: string, parameters: JsonObject, eventId: number, expectsResponse: boolean): JsonObject {
    return {
      type: 'client_tool_call',
      client_tool_call: { tool_name: toolName, tool_call_id: toolCallId, parameters, event_id: eventId, expects_response: expectsResponse },
    };
  },
  agentToolRequest(toolName: string, toolCallId: string, eventId: number): JsonObject {
    return { type: 'agent_tool_request', agent_tool_request: { tool_name: toolName, tool_call_id: toolCallId, tool_type: 'system', event_id: eventId } };
  },
  agentToolResponse(toolName: string, toolCallId: string, eventId: number): JsonObject {
    return {
      type: 'agent_tool_response',
      agent_tool_response: {
        tool_name: toolName,
        tool_call_id: toolCallId,
        tool_type: 'system',
        is_error: false,
        is_called: true,
        event_id: eventId,
      },
    };
  },
  /** An MCP tool call in one of its states (loading, awaiting_approval, success, failure). */
  mcpToolCall(call: { toolCallId: string; toolName: string; serviceId: string; parameters: JsonObject }, state: string, extra: JsonObject = {}): JsonObject {
    return {
      type: 'mcp_tool_call',
      mcp_tool_call: {
        service_id: call.serviceId,
        tool_call_id: call.toolCallId,
        tool_name: call.toolName,
        parameters: call.parameters,
        timestamp: new Date().toISOString(),
        state,
        ...extra,
      },
    };
  },
  contextUsage(eventId: number, contextTokens: number, contextLimitTokens: number): JsonObject {
    return { type: 'context_usage', context_usage_event: { event_id: eventId, model: 'sim-llm', context_tokens: contextTokens, context_limit_tokens: contextLimitTokens } };
  },
  /** Only the type is in the schema; the payload here is the simulator's guess. */
  guardrailTriggered(eventId: number): JsonObject {
    return { type: 'guardrail_triggered', guardrail_triggered_event: { event_id: eventId } };
  },
  /** Newer servers (docs/agent-protocol.md#error-frames). */
  errorNested(code: number, errorType: string, message: string): JsonObject {
    return {
      type: 'error',
      error_event: {
        code,
        message,
        error_type: errorType,
        reason: 'generic reason without sensitive details',
        debug_message: null,
        details: null,
      },
    };
  },
  /** As seen on a real quota termination (packages #911). */
  errorFlat(code: number, message: string): JsonObject {
    return { type: 'error', message: `received ${code} (${CODE_NAMES[code] ?? 'error'}) ${message}` };
  },
};

/** The error frame for `shape`, or undefined for `none`. */
export function errorFrame(shape: SimErrorShape, code: number, errorType: string, message: string): JsonObject | undefined {
  if (shape === 'nested') return serverMsg.errorNested(code, errorType, message);
  if (shape === 'flat') return serverMsg.errorFlat(code, message);
  return undefined;
}

/** A WebSocket close reason is limited to 123 bytes (RFC 6455 §5.5). */
export function clampCloseReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

/** A parsed client frame. */
export type ClientFrame =
  | { kind: 'audio'; base64: string }
  | { kind: 'message'; type: string; body: JsonObject }
  | { kind: 'invalid'; why: string };

/** Parse one client frame as the real server would (JSON text; audio detected by `user_audio_chunk`). */
export function parseClientFrame(text: string | undefined): ClientFrame {
  if (text === undefined) return { kind: 'invalid', why: 'binary frame' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'invalid', why: 'not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { kind: 'invalid', why: 'not an object' };
  const body = parsed as JsonObject;
  if ('user_audio_chunk' in body) {
    return typeof body.user_audio_chunk === 'string'
      ? { kind: 'audio', base64: body.user_audio_chunk }
      : { kind: 'invalid', why: 'user_audio_chunk is not a string' };
  }
  if (typeof body.type !== 'string') return { kind: 'invalid', why: 'no type' };
  return { kind: 'message', type: body.type, body };
}

/** Strict base64 (what a real server's decoder accepts). */
export function isStrictBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

/** Conversation id like the real ones: `conv_` + 26 lower-case Crockford base32 characters. */
export function newConversationId(randomBytes: (n: number) => Buffer): string {
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  const bytes = randomBytes(26);
  let id = 'conv_';
  for (const b of bytes) id += alphabet[b & 31];
  return id;
}
