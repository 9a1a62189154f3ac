/**
 * The agent conversation as a pure reducer: `(state, message) → state, events, replies`. No socket,
 * no timers, no logging: the shell (src/agent/agent-client.ts) feeds it decoded frames, sends the
 * replies, emits the events and counts. The rules it encodes are in docs/agent-protocol.md.
 */
import type { AgentAudioFormat } from '../audio/frame';
import { AgentProtocolError } from '../errors';
import {
  DEFAULT_USER_INPUT_AUDIO_FORMAT,
  type AgentClientMessage,
  type AgentServerMessage,
  type AudioAlignment,
} from './agent-protocol';

/** Agent speech that passed the interruption watermark, in `format` (the metadata's output format). */
export interface AgentAudioEvent {
  eventId: number;
  /** The audio, still base64: decode with `Buffer.from(base64, 'base64')` only if it is kept. */
  base64: string;
  /** Decoded length, bytes. */
  byteLength: number;
  format: AgentAudioFormat;
  alignment: AudioAlignment | undefined;
}

/** Barge-in: flush every queued agent sample now. `watermark` = audio ids below it are dropped from here on. */
export interface AgentInterruptionEvent {
  eventId: number;
  watermark: number;
}

/** A final transcript line. `isCorrection`: the agent's reply as actually heard after an interruption. */
export interface AgentTranscriptEvent {
  role: 'user' | 'agent';
  text: string;
  eventId: number | undefined;
  isCorrection: boolean;
  /** For corrections: the full text the agent had planned to say. */
  originalText?: string;
}

/** The agent asks us to run a client tool; answer with a `client_tool_result`. */
export interface AgentClientToolCallEvent {
  toolName: string;
  toolCallId: string;
  parameters: Record<string, unknown>;
  eventId: number | undefined;
  expectsResponse: boolean | undefined;
}

/** A server-side tool ran (or is about to). `isEndCall`: the agent is hanging up; expect close 1000. */
export interface AgentToolEvent {
  toolName: string;
  toolCallId: string;
  toolType: string | undefined;
  eventId: number | undefined;
  isEndCall: boolean;
  /** Only on responses. */
  isError?: boolean;
}

/** An `error` frame in either shape. The socket may or may not close after it. */
export interface AgentErrorEvent {
  shape: 'nested' | 'flat';
  message: string;
  code: number | undefined;
  errorType: string | undefined;
}

/** A tool on the agent's MCP server; `awaiting_approval` means the agent waits for our answer. */
export interface AgentMcpToolCallEvent {
  toolCallId: string;
  toolName: string;
  serviceId: string | undefined;
  state: string;
}

/** The agent's LLM context use (fields the server left out are null). */
export interface AgentContextUsageEvent {
  model: string | null;
  contextTokens: number | null;
  contextLimitTokens: number | null;
}

/** An application ping was answered. `rttMs` is the server's estimate (null on the first ping). */
export interface AgentPingEvent {
  eventId: number;
  rttMs: number | null;
}

/** What one message means to the client. `connected` and the notes are for the shell only. */
export type ConversationEvent =
  | { type: 'connected'; conversationId: string; inputFormat: AgentAudioFormat; outputFormat: AgentAudioFormat; hasInputFormat: boolean }
  | { type: 'connect-failed'; error: AgentProtocolError }
  | { type: 'audio'; event: AgentAudioEvent }
  | { type: 'stale-audio'; eventId: number }
  | { type: 'interruption'; event: AgentInterruptionEvent }
  | { type: 'transcript'; event: AgentTranscriptEvent }
  | { type: 'clientToolCall'; event: AgentClientToolCallEvent }
  | { type: 'agentToolRequest'; event: AgentToolEvent }
  | { type: 'agentToolResponse'; event: AgentToolEvent }
  | { type: 'agentError'; event: AgentErrorEvent; isBeforeMetadata: boolean }
  | { type: 'ping'; event: AgentPingEvent }
  | { type: 'mcpToolCall'; event: AgentMcpToolCallEvent }
  | { type: 'contextUsage'; event: AgentContextUsageEvent }
  | { type: 'guardrailTriggered' }
  | { type: 'protocol-error'; error: AgentProtocolError }
  | { type: 'ignored'; what: string };

/** The conversation as far as the client knows it. */
export interface ConversationState {
  readonly phase: 'awaiting-metadata' | 'open';
  readonly conversationId: string;
  readonly inputFormat: AgentAudioFormat;
  readonly outputFormat: AgentAudioFormat;
  /** Audio with a lower event id than this belongs to an interrupted reply and is dropped. */
  readonly watermark: number;
  /** The last error frame, for the close event. */
  readonly lastError: AgentErrorEvent | undefined;
}

/** One reducer step: the next state, what happened, and what to send back. */
export interface ConversationStep {
  readonly state: ConversationState;
  readonly events: readonly ConversationEvent[];
  readonly replies: readonly AgentClientMessage[];
}

/** State of a socket that has sent its initiation and waits for the metadata. */
export function initialConversation(): ConversationState {
  return {
    phase: 'awaiting-metadata',
    conversationId: '',
    inputFormat: DEFAULT_USER_INPUT_AUDIO_FORMAT,
    outputFormat: DEFAULT_USER_INPUT_AUDIO_FORMAT,
    watermark: 0,
    lastError: undefined,
  };
}

const step = (state: ConversationState, events: ConversationEvent[] = [], replies: AgentClientMessage[] = []): ConversationStep => ({
  state,
  events,
  replies,
});

/** Applies one decoded frame (or a decoding failure) to the conversation. */
export function reduceConversation(state: ConversationState, msg: AgentServerMessage | AgentProtocolError): ConversationStep {
  if (msg instanceof AgentProtocolError) {
    // An agent whose formats we cannot play is no conversation at all.
    if (state.phase === 'awaiting-metadata' && msg.code === 'AGENT_UNSUPPORTED_AUDIO_FORMAT') return step(state, [{ type: 'connect-failed', error: msg }]);
    return step(state, [{ type: 'protocol-error', error: msg }]);
  }
  // A ping must be answered in every phase: the server may ping before the metadata.
  if (msg.type === 'ping') {
    return step(state, [{ type: 'ping', event: { eventId: msg.eventId, rttMs: msg.pingMs } }], [{ type: 'pong', event_id: msg.eventId }]);
  }
  if (msg.type === 'error') {
    const event: AgentErrorEvent = { shape: msg.shape, message: msg.message, code: msg.code, errorType: msg.errorType };
    return step({ ...state, lastError: event }, [{ type: 'agentError', event, isBeforeMetadata: state.phase === 'awaiting-metadata' }]);
  }
  if (state.phase === 'awaiting-metadata') {
    if (msg.type !== 'conversation_initiation_metadata') return step(state, [{ type: 'ignored', what: `${msg.type} before conversation metadata` }]);
    const next: ConversationState = {
      ...state,
      phase: 'open',
      conversationId: msg.conversationId,
      outputFormat: msg.agentOutputAudioFormat,
      inputFormat: msg.userInputAudioFormat ?? DEFAULT_USER_INPUT_AUDIO_FORMAT,
    };
    return step(next, [
      {
        type: 'connected',
        conversationId: next.conversationId,
        inputFormat: next.inputFormat,
        outputFormat: next.outputFormat,
        hasInputFormat: msg.userInputAudioFormat !== undefined,
      },
    ]);
  }
  switch (msg.type) {
    case 'audio':
      // Drop only ids *below* the watermark: the reply to the interrupting turn carries the same id.
      if (msg.eventId < state.watermark) return step(state, [{ type: 'stale-audio', eventId: msg.eventId }]);
      return step(state, [
        {
          type: 'audio',
          event: { eventId: msg.eventId, base64: msg.audioBase64, byteLength: msg.audioBytes, format: state.outputFormat, alignment: msg.alignment },
        },
      ]);
    case 'interruption': {
      const watermark = Math.max(state.watermark, msg.eventId);
      return step({ ...state, watermark }, [{ type: 'interruption', event: { eventId: msg.eventId, watermark } }]);
    }
    case 'user_transcript':
    case 'agent_response':
      return step(state, [
        { type: 'transcript', event: { role: msg.type === 'user_transcript' ? 'user' : 'agent', text: msg.text, eventId: msg.eventId, isCorrection: false } },
      ]);
    case 'agent_response_correction':
      return step(state, [
        {
          type: 'transcript',
          event: { role: 'agent', text: msg.correctedText, eventId: msg.eventId, isCorrection: true, originalText: msg.originalText },
        },
      ]);
    case 'client_tool_call': {
      const { type: _type, ...event } = msg;
      return step(state, [{ type: 'clientToolCall', event }]);
    }
    case 'agent_tool_request':
      return step(state, [
        {
          type: 'agentToolRequest',
          event: { toolName: msg.toolName, toolCallId: msg.toolCallId, toolType: msg.toolType, eventId: msg.eventId, isEndCall: msg.toolName === 'end_call' },
        },
      ]);
    case 'agent_tool_response':
      return step(state, [
        {
          type: 'agentToolResponse',
          event: {
            toolName: msg.toolName,
            toolCallId: msg.toolCallId,
            toolType: msg.toolType,
            eventId: msg.eventId,
            isEndCall: msg.toolName === 'end_call',
            isError: msg.isError,
          },
        },
      ]);
    case 'mcp_tool_call':
      return step(state, [{ type: 'mcpToolCall', event: { toolCallId: msg.toolCallId, toolName: msg.toolName, serviceId: msg.serviceId, state: msg.state } }]);
    case 'context_usage':
      return step(state, [
        {
          type: 'contextUsage',
          event: { model: msg.model ?? null, contextTokens: msg.contextTokens ?? null, contextLimitTokens: msg.contextLimitTokens ?? null },
        },
      ]);
    case 'guardrail_triggered':
      return step(state, [{ type: 'guardrailTriggered' }]);
    case 'conversation_initiation_metadata':
      return step(state, [{ type: 'ignored', what: 'duplicate conversation metadata' }]);
    case 'tentative_user_transcript':
      return step(state);
    case 'unknown':
      return step(state, [{ type: 'ignored', what: msg.originalType }]);
  }
}
