/**
 * ElevenLabs Agents (ConvAI) WebSocket protocol: the message unions and a pure codec.
 *
 * Client → server messages are typed in their wire shape (snake_case) and encoded with
 * `encodeAgentMessage`. Server → client messages are validated once in `decodeAgentMessage` and
 * come out normalised (camelCase, numeric event ids), so the socket shell never touches raw JSON.
 * The protocol as implemented: docs/agent-protocol.md.
 *
 * No I/O here; imports only `errors` and the audio format table.
 */
import { AgentProtocolError } from '../errors';
import { parseAgentAudioFormat, type AgentAudioFormat } from '../audio/frame';

// ---------------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------------

/** A `dynamic_variables` value: fills `{{name}}` placeholders in the agent's prompt/first message. */
export type DynamicVariableValue = string | number | boolean;

/** The per-conversation overrides we use. Each field must be enabled in the agent's security settings. */
export interface ConversationConfigOverride {
  agent?: {
    prompt?: { prompt?: string };
    first_message?: string;
    language?: string;
  };
  tts?: { voice_id?: string };
}

/** First message on a new socket (docs/agent-protocol.md#initiation-and-overrides). */
export interface ConversationInitiationClientData {
  type: 'conversation_initiation_client_data';
  conversation_config_override?: ConversationConfigOverride;
  dynamic_variables?: Record<string, DynamicVariableValue>;
  user_id?: string;
}

/** Caller audio in the agent's `user_input_audio_format`, base64. The only message without `type` (docs/agent-protocol.md#messages-we-send). */
export interface UserAudioChunkMessage {
  user_audio_chunk: string;
}

/** Answer to `ping`, echoing its event id (docs/agent-protocol.md#ping-and-pong). */
export interface PongMessage {
  type: 'pong';
  event_id: number;
}

/** Resets the server's turn timeout, e.g. while the caller is known to be present but silent (docs/agent-protocol.md#messages-we-send). */
export interface UserActivityMessage {
  type: 'user_activity';
}

/** Non-interrupting context for the LLM (docs/agent-protocol.md#messages-we-send). */
export interface ContextualUpdateMessage {
  type: 'contextual_update';
  text: string;
}

/** Text treated as a user turn; interrupts the agent if it is speaking (docs/agent-protocol.md#messages-we-send). */
export interface UserMessageMessage {
  type: 'user_message';
  text: string;
}

/** Result of a `client_tool_call`; `result` must be a string (docs/agent-protocol.md#client-tools). */
export interface ClientToolResultMessage {
  type: 'client_tool_result';
  tool_call_id: string;
  result: string;
  is_error: boolean;
}

/** Answer to an `mcp_tool_call` in state `awaiting_approval`: the agent waits for it (docs/agent-protocol.md#mcp-tools-context-use-and-guardrails). */
export interface McpToolApprovalResultMessage {
  type: 'mcp_tool_approval_result';
  tool_call_id: string;
  is_approved: boolean;
}

/** Every message this client sends. Narrow with `'user_audio_chunk' in m` first, then on `type`. */
export type AgentClientMessage =
  | ConversationInitiationClientData
  | UserAudioChunkMessage
  | PongMessage
  | UserActivityMessage
  | ContextualUpdateMessage
  | UserMessageMessage
  | ClientToolResultMessage
  | McpToolApprovalResultMessage;

/** Serialise a client message to the JSON text frame sent on the socket. */
export function encodeAgentMessage(m: AgentClientMessage): string {
  return JSON.stringify(m);
}

/**
 * Hot path: the `user_audio_chunk` frame for raw audio bytes, without building an object first.
 * Base64 needs no JSON escaping, so concatenation is exact.
 */
export function encodeUserAudioChunk(bytes: Buffer): string {
  return `{"user_audio_chunk":"${bytes.toString('base64')}"}`;
}

/** What the bridge wants to say at conversation start, in our naming. Empty fields are omitted on the wire. */
export interface AgentInitiation {
  /** System prompt override (`agent.prompt.prompt`). */
  prompt?: string;
  /** Greeting override (`agent.first_message`); empty string means "wait for the caller". */
  firstMessage?: string;
  /** Language code override (`agent.language`), e.g. `en`, `de`, `pt-br`. */
  language?: string;
  /** TTS voice override (`tts.voice_id`). */
  voiceId?: string;
  dynamicVariables?: Record<string, DynamicVariableValue>;
  userId?: string;
}

/**
 * Build the `conversation_initiation_client_data` message. Only fields that are set appear, because
 * the server rejects (close 1008) overrides for fields the agent does not allow (docs/agent-protocol.md#initiation-and-overrides), and an
 * override object we did not mean to send would trip that.
 */
export function buildInitiationMessage(i: AgentInitiation = {}): ConversationInitiationClientData {
  const msg: ConversationInitiationClientData = { type: 'conversation_initiation_client_data' };
  const agent: NonNullable<ConversationConfigOverride['agent']> = {};
  if (i.prompt !== undefined) agent.prompt = { prompt: i.prompt };
  if (i.firstMessage !== undefined) agent.first_message = i.firstMessage;
  if (i.language !== undefined) agent.language = i.language;
  const override: ConversationConfigOverride = {};
  if (Object.keys(agent).length > 0) override.agent = agent;
  if (i.voiceId !== undefined) override.tts = { voice_id: i.voiceId };
  if (Object.keys(override).length > 0) msg.conversation_config_override = override;
  if (i.dynamicVariables !== undefined && Object.keys(i.dynamicVariables).length > 0) {
    msg.dynamic_variables = { ...i.dynamicVariables };
  }
  if (i.userId !== undefined) msg.user_id = i.userId;
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Server → client (normalised)
// ---------------------------------------------------------------------------------------------

/** Input format assumed when metadata lacks `user_input_audio_format` (older servers; JS SDK does the same). */
export const DEFAULT_USER_INPUT_AUDIO_FORMAT: AgentAudioFormat = 'pcm_16000';

/** First server message: conversation id and the audio formats of this agent (docs/agent-protocol.md#conversation-metadata). */
export interface ConversationInitiationMetadata {
  type: 'conversation_initiation_metadata';
  conversationId: string;
  agentOutputAudioFormat: AgentAudioFormat;
  /** `undefined` when the server omitted it; callers fall back to `DEFAULT_USER_INPUT_AUDIO_FORMAT`. */
  userInputAudioFormat: AgentAudioFormat | undefined;
}

/** Character timing that may accompany an audio chunk. */
export interface AudioAlignment {
  chars: string[];
  charStartTimesMs: number[];
  charDurationsMs: number[];
}

/**
 * One chunk of agent speech in `agentOutputAudioFormat`; all chunks of one reply share `eventId`.
 * The audio stays base64 until a consumer wants it: a chunk below the interruption watermark, or
 * one too big for the playout queue, is dropped without being decoded (docs/agent-protocol.md).
 */
export interface AgentAudioMessage {
  type: 'audio';
  eventId: number;
  audioBase64: string;
  /** Length of the decoded audio, bytes. */
  audioBytes: number;
  alignment: AudioAlignment | undefined;
}

/** Barge-in: `eventId` is the new watermark (docs/agent-protocol.md#interruption-watermark). */
export interface InterruptionMessage {
  type: 'interruption';
  eventId: number;
  reason: string | undefined;
}

/** Application-level ping; answer with `pong{event_id}` immediately. `pingMs` is the server's RTT estimate. */
export interface PingMessage {
  type: 'ping';
  eventId: number;
  pingMs: number | null;
}

/** Final (or, for `tentative_user_transcript`, partial) ASR of a user turn. */
export interface UserTranscriptMessage {
  type: 'user_transcript' | 'tentative_user_transcript';
  text: string;
  eventId: number | undefined;
}

/** The agent's full text for a reply. Order relative to its audio is not guaranteed (docs/agent-protocol.md#transcripts). */
export interface AgentResponseMessage {
  type: 'agent_response';
  text: string;
  eventId: number | undefined;
}

/** The agent's reply as actually heard, after an interruption truncated it (docs/agent-protocol.md#transcripts). */
export interface AgentResponseCorrectionMessage {
  type: 'agent_response_correction';
  originalText: string;
  correctedText: string;
  eventId: number | undefined;
}

/** The agent asks the client to run a tool; answer with `client_tool_result` (docs/agent-protocol.md#client-tools). */
export interface ClientToolCallMessage {
  type: 'client_tool_call';
  toolName: string;
  toolCallId: string;
  parameters: Record<string, unknown>;
  eventId: number | undefined;
  expectsResponse: boolean | undefined;
}

/** A server-side tool (e.g. `end_call`) is about to run (docs/agent-protocol.md#server-tools). */
export interface AgentToolRequestMessage {
  type: 'agent_tool_request';
  toolName: string;
  toolCallId: string;
  toolType: string | undefined;
  eventId: number | undefined;
}

/** A server-side tool ran; `toolName === 'end_call'` means the agent is hanging up (docs/agent-protocol.md#server-tools). */
export interface AgentToolResponseMessage {
  type: 'agent_tool_response';
  toolName: string;
  toolCallId: string;
  toolType: string | undefined;
  isError: boolean;
  isCalled: boolean | undefined;
  eventId: number | undefined;
}

/**
 * Error frame. Newer servers nest it in `error_event` with `code`/`error_type`; a real quota kill
 * arrived flat as `{type:'error', message}` (docs/agent-protocol.md#error-frames). `shape` says which one we saw.
 */
export interface AgentErrorMessage {
  type: 'error';
  shape: 'nested' | 'flat';
  message: string;
  code: number | undefined;
  errorType: string | undefined;
  reason: string | undefined;
}

/**
 * A tool on an MCP server the agent uses. In state `awaiting_approval` the server waits up to
 * `approvalTimeoutSecs` (default 300) for `mcp_tool_approval_result`; the other states only report.
 */
export interface McpToolCallMessage {
  type: 'mcp_tool_call';
  toolCallId: string;
  toolName: string;
  serviceId: string | undefined;
  /** `loading`, `awaiting_approval`, `success` or `failure` in the schema; others are passed on as they are. */
  state: string;
  approvalTimeoutSecs: number | undefined;
}

/** How much of the LLM's context window the conversation uses. Every field is optional on the wire. */
export interface ContextUsageMessage {
  type: 'context_usage';
  eventId: number | undefined;
  model: string | undefined;
  contextTokens: number | undefined;
  contextLimitTokens: number | undefined;
}

/** A guardrail of the agent fired (its payload is not in the schema: only the type is relied on). */
export interface GuardrailTriggeredMessage {
  type: 'guardrail_triggered';
  eventId: number | undefined;
}

/** A message type we do not handle. Tolerated (the server adds event types over time), logged at debug. */
export interface UnknownServerMessage {
  type: 'unknown';
  originalType: string;
}

/** Every server message after `decodeAgentMessage`. */
export type AgentServerMessage =
  | ConversationInitiationMetadata
  | AgentAudioMessage
  | InterruptionMessage
  | PingMessage
  | UserTranscriptMessage
  | AgentResponseMessage
  | AgentResponseCorrectionMessage
  | ClientToolCallMessage
  | AgentToolRequestMessage
  | AgentToolResponseMessage
  | AgentErrorMessage
  | McpToolCallMessage
  | ContextUsageMessage
  | GuardrailTriggeredMessage
  | UnknownServerMessage;

/** Bytes `base64` decodes to (RFC 4648 §4: 3 bytes per 4 characters, less the padding). */
export function base64DecodedBytes(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - padding);
}

/** Raw frame payload as handed over by `ws` (`RawData`), or a string. */
export type AgentRawData = Buffer | ArrayBuffer | Buffer[] | string;

type Json = Record<string, unknown>;

/** Thrown inside the decoder and turned into a returned `AgentProtocolError` at its boundary. */
class DecodeFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function rawToString(data: AgentRawData): string {
  if (typeof data === 'string') return data;
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function payload(msg: Json, key: string, type: string): Json {
  const p = msg[key];
  if (!isObject(p)) throw new DecodeFailure('AGENT_MESSAGE_INVALID', `${type}: missing object "${key}"`);
  return p;
}

function reqString(o: Json, key: string, type: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new DecodeFailure('AGENT_MESSAGE_INVALID', `${type}: "${key}" must be a string`);
  return v;
}

function optString(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function optBoolean(o: Json, key: string): boolean | undefined {
  const v = o[key];
  return typeof v === 'boolean' ? v : undefined;
}

/** Event ids are integers in the schema but SDK tests send strings ("123"); accept both (docs/agent-protocol.md#audio). */
function toEventId(v: unknown): number | undefined {
  if (typeof v !== 'number' && typeof v !== 'string') return undefined;
  if (typeof v === 'string' && v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function reqEventId(o: Json, type: string): number {
  const id = toEventId(o.event_id);
  if (id === undefined) throw new DecodeFailure('AGENT_MESSAGE_INVALID', `${type}: "event_id" must be a number`);
  return id;
}

function optEventId(o: Json, type: string): number | undefined {
  if (o.event_id === undefined || o.event_id === null) return undefined;
  return reqEventId(o, type);
}

function audioFormat(v: unknown, field: string): AgentAudioFormat {
  if (typeof v !== 'string' || parseAgentAudioFormat(v) === undefined) {
    throw new DecodeFailure('AGENT_UNSUPPORTED_AUDIO_FORMAT', `conversation_initiation_metadata: unsupported ${field}`);
  }
  return v as AgentAudioFormat;
}

function optNumber(o: Json, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The payload object of a message whose payload key is not pinned down by the schema we read:
 * the first of `keys` that holds an object, else the message itself (fields at the top level).
 */
function loosePayload(msg: Json, keys: readonly string[]): Json {
  for (const key of keys) {
    const p = msg[key];
    if (isObject(p)) return p;
  }
  return msg;
}

function numberArray(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

function decodeAlignment(v: unknown): AudioAlignment | undefined {
  if (!isObject(v)) return undefined;
  const chars = Array.isArray(v.chars) && v.chars.every((c) => typeof c === 'string') ? (v.chars as string[]) : undefined;
  const starts = numberArray(v.char_start_times_ms);
  const durations = numberArray(v.char_durations_ms);
  if (chars === undefined || starts === undefined || durations === undefined) return undefined;
  return { chars, charStartTimesMs: starts, charDurationsMs: durations };
}

function decodeObject(msg: Json): AgentServerMessage {
  const type = msg.type;
  if (typeof type !== 'string' || type === '') {
    throw new DecodeFailure('AGENT_MESSAGE_INVALID', 'message has no "type"');
  }
  switch (type) {
    case 'conversation_initiation_metadata': {
      const p = payload(msg, 'conversation_initiation_metadata_event', type);
      return {
        type,
        conversationId: reqString(p, 'conversation_id', type),
        agentOutputAudioFormat: audioFormat(p.agent_output_audio_format, 'agent_output_audio_format'),
        userInputAudioFormat:
          p.user_input_audio_format === undefined || p.user_input_audio_format === null
            ? undefined
            : audioFormat(p.user_input_audio_format, 'user_input_audio_format'),
      };
    }
    case 'audio': {
      const p = payload(msg, 'audio_event', type);
      const audioBase64 = reqString(p, 'audio_base_64', type);
      return { type, eventId: reqEventId(p, type), audioBase64, audioBytes: base64DecodedBytes(audioBase64), alignment: decodeAlignment(p.alignment) };
    }
    case 'interruption': {
      const p = payload(msg, 'interruption_event', type);
      return { type, eventId: reqEventId(p, type), reason: optString(p, 'reason') };
    }
    case 'ping': {
      const p = payload(msg, 'ping_event', type);
      const pingMs = p.ping_ms;
      return { type, eventId: reqEventId(p, type), pingMs: typeof pingMs === 'number' && Number.isFinite(pingMs) ? pingMs : null };
    }
    case 'user_transcript':
    case 'tentative_user_transcript': {
      const key = type === 'user_transcript' ? 'user_transcription_event' : 'tentative_user_transcription_event';
      const p = payload(msg, key, type);
      return { type, text: reqString(p, 'user_transcript', type), eventId: optEventId(p, type) };
    }
    case 'agent_response': {
      const p = payload(msg, 'agent_response_event', type);
      return { type, text: reqString(p, 'agent_response', type), eventId: optEventId(p, type) };
    }
    case 'agent_response_correction': {
      const p = payload(msg, 'agent_response_correction_event', type);
      return {
        type,
        originalText: reqString(p, 'original_agent_response', type),
        correctedText: reqString(p, 'corrected_agent_response', type),
        eventId: optEventId(p, type),
      };
    }
    case 'client_tool_call': {
      const p = payload(msg, 'client_tool_call', type);
      const params = p.parameters;
      return {
        type,
        toolName: reqString(p, 'tool_name', type),
        toolCallId: reqString(p, 'tool_call_id', type),
        parameters: isObject(params) ? params : {},
        eventId: optEventId(p, type),
        expectsResponse: optBoolean(p, 'expects_response'),
      };
    }
    case 'agent_tool_request': {
      const p = payload(msg, 'agent_tool_request', type);
      return {
        type,
        toolName: reqString(p, 'tool_name', type),
        toolCallId: reqString(p, 'tool_call_id', type),
        toolType: optString(p, 'tool_type'),
        eventId: optEventId(p, type),
      };
    }
    case 'agent_tool_response':
    case 'agent_tool_response_full_payload': {
      // The full-payload variant's payload key is not in the schema we read; try both spellings.
      const p = isObject(msg[type]) ? payload(msg, type, type) : payload(msg, 'agent_tool_response', type);
      return {
        type: 'agent_tool_response',
        toolName: reqString(p, 'tool_name', type),
        toolCallId: reqString(p, 'tool_call_id', type),
        toolType: optString(p, 'tool_type'),
        isError: optBoolean(p, 'is_error') ?? false,
        isCalled: optBoolean(p, 'is_called'),
        eventId: optEventId(p, type),
      };
    }
    case 'error': {
      const nested = msg.error_event;
      if (isObject(nested)) {
        const code = toEventId(nested.code);
        return {
          type,
          shape: 'nested',
          message: optString(nested, 'message') ?? optString(nested, 'reason') ?? '',
          code,
          errorType: optString(nested, 'error_type'),
          reason: optString(nested, 'reason'),
        };
      }
      // Flat shape seen on a real quota kill: {"type":"error","message":"received 1002 (protocol error) …"}.
      const message = optString(msg, 'message') ?? '';
      const codeMatch = /\b(10\d\d)\b/.exec(message);
      return {
        type,
        shape: 'flat',
        message,
        code: codeMatch?.[1] === undefined ? undefined : Number(codeMatch[1]),
        errorType: optString(msg, 'error_type'),
        reason: undefined,
      };
    }
    case 'mcp_tool_call': {
      const p = payload(msg, 'mcp_tool_call', type);
      return {
        type,
        toolCallId: reqString(p, 'tool_call_id', type),
        toolName: reqString(p, 'tool_name', type),
        serviceId: optString(p, 'service_id'),
        state: reqString(p, 'state', type),
        approvalTimeoutSecs: optNumber(p, 'approval_timeout_secs'),
      };
    }
    case 'context_usage': {
      const p = loosePayload(msg, ['context_usage_event', 'context_usage']);
      return {
        type,
        eventId: toEventId(p.event_id),
        model: optString(p, 'model'),
        contextTokens: optNumber(p, 'context_tokens'),
        contextLimitTokens: optNumber(p, 'context_limit_tokens'),
      };
    }
    case 'guardrail_triggered': {
      const p = loosePayload(msg, ['guardrail_triggered_event', 'guardrail_triggered']);
      return { type, eventId: toEventId(p.event_id) };
    }
    default:
      return { type: 'unknown', originalType: type };
  }
}

/**
 * Validate and normalise one frame from the agent. Never throws for bad input: returns an
 * `AgentProtocolError` (codes `AGENT_BINARY_FRAME`, `AGENT_MESSAGE_NOT_JSON`, `AGENT_MESSAGE_INVALID`,
 * `AGENT_UNSUPPORTED_AUDIO_FORMAT`) that the caller logs and survives.
 */
export function decodeAgentMessage(data: AgentRawData, isBinary: boolean): AgentServerMessage | AgentProtocolError {
  if (isBinary) return new AgentProtocolError('AGENT_BINARY_FRAME', 'agent sent a binary frame; protocol is JSON text only');
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawToString(data));
  } catch (err) {
    return new AgentProtocolError('AGENT_MESSAGE_NOT_JSON', 'agent sent a frame that is not JSON', { cause: err });
  }
  if (!isObject(parsed)) return new AgentProtocolError('AGENT_MESSAGE_INVALID', 'agent message is not a JSON object');
  try {
    return decodeObject(parsed);
  } catch (err) {
    if (err instanceof DecodeFailure) return new AgentProtocolError(err.code, err.message);
    throw err;
  }
}
