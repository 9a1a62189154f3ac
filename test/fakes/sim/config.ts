/**
 * Per-agent configuration of the simulator (the real service keeps this per agent, set in the
 * dashboard or REST). Everything has a default; tests override what they exercise.
 */
import type { AgentAudioFormat } from '../../../src/audio/frame';
import type { ToneSpec } from './audio';
import { DEFAULT_VAD, type VadOptions } from './vad';
import type { SimErrorShape } from './wire';

/** Something the agent says: transcript text plus the tone that stands in for the speech. */
export interface AgentUtterance extends ToneSpec {
  text: string;
}

/** Override paths the real service knows (docs/agent-protocol.md#initiation-and-overrides); each must be allowed per agent. */
export type OverridePath =
  | 'agent.prompt.prompt'
  | 'agent.prompt.llm'
  | 'agent.first_message'
  | 'agent.language'
  | 'tts.voice_id'
  | 'tts.speed'
  | 'tts.stability'
  | 'tts.similarity_boost'
  | 'asr.keywords'
  | 'conversation.text_only';

/** Server → client event types the agent may be configured to emit (`client_events`). */
export type SimClientEvent =
  | 'audio'
  | 'interruption'
  | 'agent_response'
  | 'agent_response_correction'
  | 'agent_response_complete'
  | 'user_transcript'
  | 'tentative_user_transcript'
  | 'conversation_initiation_metadata'
  | 'ping'
  | 'client_tool_call'
  | 'agent_tool_request'
  | 'agent_tool_response'
  | 'vad_score'
  | 'mcp_tool_call'
  | 'context_usage'
  | 'guardrail_triggered';

/**
 * The real default list (S1) plus `agent_tool_response` and `client_tool_call`. The real default does
 * NOT include `agent_tool_response`; a bridge agent should enable it (docs/agent-protocol.md#the-agents-client-events). Set `clientEvents`
 * explicitly to test the real default.
 */
export const DEFAULT_CLIENT_EVENTS: readonly SimClientEvent[] = [
  'audio',
  'interruption',
  'agent_response',
  'user_transcript',
  'tentative_user_transcript',
  'conversation_initiation_metadata',
  'ping',
  'client_tool_call',
  'agent_tool_response',
];

/** What a finished user turn looked like, handed to `reply`. */
export interface SimUserTurnInfo {
  eventId: number;
  /** 0-based index of this user turn in the conversation. */
  index: number;
  transcript: string;
  speechMs: number;
  source: 'audio' | 'user_message' | 'script';
}

/** Per-agent settings. Durations in ms unless the name says otherwise. */
export interface SimAgentConfig {
  /** Private agent: sockets need a signature from the signed-URL endpoint. Default false. */
  requiresAuth: boolean;
  inputFormat: AgentAudioFormat;
  outputFormat: AgentAudioFormat;
  /** Greeting text; `{{var}}` is filled from dynamic variables. '' = wait for the caller. */
  firstMessage: string;
  /** Tone of the greeting. Default 440 Hz for 2000 ms. */
  greeting: ToneSpec;
  language: string;
  allowedOverrides: readonly OverridePath[];
  /** Disallowed override: error + close 1008 (docs), or silently drop it (a 2026 report). */
  overridePolicy: 'close1008' | 'ignore';
  requiredDynamicVariables: readonly string[];
  /** Error frame before a handshake-time 1008 (override / dynamic variable / auth). */
  handshakeErrorShape: SimErrorShape;
  clientEvents: readonly SimClientEvent[];
  /** Reply to a user turn; fields left out come from `replyFreqsHz` / `replyDurationMs`. Return `'end_call'` to say goodbye and hang up. */
  reply: (turn: SimUserTurnInfo) => Partial<AgentUtterance> | 'end_call';
  /** Reply tones cycle through this list by user-turn index. Default [660, 550, 770]. */
  replyFreqsHz: readonly number[];
  replyDurationMs: number;
  /** Transcripts for audio turns, consumed in order; afterwards `(N ms of speech)`. */
  userTranscripts: readonly string[];
  /** Goodbye used by `endCall()` and by `reply` returning `'end_call'`. Default 880 Hz, 1500 ms. */
  goodbye: AgentUtterance;
  /** Say goodbye and end the call after this many user turns were answered. 0 = never. */
  endCallAfterUserTurns: number;
  /** Delay between the last goodbye byte sent and close 1000. Default 0: the client still has audio to play. */
  endCallCloseDelayMs: number;
  llmLatencyMs: number;
  /** Delay from detecting barge-in to sending `interruption`. Default 150. */
  interruptLatencyMs: number;
  /** Chunks with the old event id sent after `interruption` (in-flight audio). Default 0. */
  lateStaleChunks: number;
  /** Audio pacing relative to real time (4 = four times faster), or 'burst' = all chunks at once. */
  speedFactor: number | 'burst';
  /** Audio per `audio` event. Default 110 (deliberately not a multiple of 20 ms frames). */
  chunkMs: number;
  /** Random chunk sizes of 40–500 ms (whole samples, never frame-aligned by design). */
  randomChunks: boolean;
  /** Per-chunk character `alignment` on `audio` (the text spread evenly over the utterance). Default false. */
  alignment: boolean;
  agentResponseOrder: 'before-audio' | 'after-first-chunk';
  vad: VadOptions;
  /** Greeting cannot be interrupted. */
  disableFirstMessageInterruptions: boolean;
  /** Re-engage ("Are you still there?") after this much caller silence past playback end. -1 = off. Default 7000. */
  turnTimeoutMs: number;
  reengage: AgentUtterance;
  /** No client frame for this long → `transport_receive_timeout`, close 1002. Default 60 000. */
  inputTimeoutMs: number;
  /** Conversation length limit (fractions allowed). Default 600. */
  maxDurationS: number;
  /** Spoken before the max-duration close, if set. */
  maxDurationMessage: AgentUtterance | undefined;
  /** Older servers closed 1011 with a reason instead of error + 1000. */
  legacyMaxDuration: boolean;
  /** Application pings. Default 2000 (real cadence undocumented). */
  pingIntervalMs: number;
  /** Simulator policy (the real one is undocumented): close 1002 after this many unanswered pings. 0 = ignore. */
  missedPongLimit: number;
  /** Wait this long for the first client frame before starting with defaults. Default 2000. */
  initGraceMs: number;
  /** Delay before metadata; `Infinity` = never send it (connect-timeout tests). */
  metadataDelayMs: number;
  /** Legacy servers: metadata without `user_input_audio_format`. */
  omitInputFormatInMetadata: boolean;
  /** Raw frames sent before the metadata (robustness). */
  injectBeforeMetadata: readonly (Record<string, unknown> | string)[];
  /** Unknown client `type` / invalid JSON: error invalid_message + close 1008 (default), or ignore. */
  unknownMessagePolicy: 'close1008' | 'ignore';
  /** Seed for randomized chunking. */
  seed: number;
}

/** Defaults, realistic where the notes give a value, fast where they do not. */
export const DEFAULT_AGENT_CONFIG: SimAgentConfig = {
  requiresAuth: false,
  inputFormat: 'pcm_16000',
  outputFormat: 'pcm_16000',
  firstMessage: 'Hello! How can I help you today?',
  greeting: { freqHz: 440, durationMs: 2000 },
  language: 'en',
  allowedOverrides: [],
  overridePolicy: 'close1008',
  requiredDynamicVariables: [],
  handshakeErrorShape: 'nested',
  clientEvents: DEFAULT_CLIENT_EVENTS,
  reply: (turn) => ({ text: `You said: ${turn.transcript}` }),
  replyFreqsHz: [660, 550, 770],
  replyDurationMs: 1000,
  userTranscripts: [],
  goodbye: { text: 'Thank you for calling. Goodbye!', freqHz: 880, durationMs: 1500 },
  endCallAfterUserTurns: 0,
  endCallCloseDelayMs: 0,
  llmLatencyMs: 300,
  interruptLatencyMs: 150,
  lateStaleChunks: 0,
  speedFactor: 4,
  chunkMs: 110,
  randomChunks: false,
  alignment: false,
  agentResponseOrder: 'before-audio',
  vad: DEFAULT_VAD,
  disableFirstMessageInterruptions: false,
  turnTimeoutMs: 7000,
  reengage: { text: 'Are you still there?', freqHz: 330, durationMs: 800 },
  inputTimeoutMs: 60_000,
  maxDurationS: 600,
  maxDurationMessage: undefined,
  legacyMaxDuration: false,
  pingIntervalMs: 2000,
  missedPongLimit: 0,
  initGraceMs: 2000,
  metadataDelayMs: 0,
  omitInputFormatInMetadata: false,
  injectBeforeMetadata: [],
  unknownMessagePolicy: 'close1008',
  seed: 1,
};

/** Closes the simulator can be told to perform, with the texts seen on the real service where known. */
export const SIM_FAILURES = {
  /** Real text (packages #911); arrived with a flat error frame. */
  quota: { code: 1002, errorType: 'quota_exceeded', reason: 'This request exceeds your quota limit.' },
  /** Real text (examples #137). `errorType` is a guess. */
  misconfigured: { code: 1002, errorType: 'custom_llm_error', reason: 'The AI agent you are trying to reach appears to be misconfigured' },
  llmTimeout: { code: 1002, errorType: 'llm_timeout', reason: 'LLM response took too long' },
  inputTimeout: { code: 1002, errorType: 'transport_receive_timeout', reason: 'No user input received for too long' },
  overrideError: { code: 1008, errorType: 'override_error', reason: 'Override for field is not allowed by config' },
  missingDynamicVariable: { code: 1008, errorType: 'missing_dynamic_variable', reason: 'Missing required dynamic variables' },
  invalidMessage: { code: 1008, errorType: 'invalid_message', reason: 'Invalid message received' },
  internal: { code: 1011, errorType: 'unknown_websocket_crash', reason: 'Unexpected error in websocket endpoint' },
} as const;

/** Name of a `SIM_FAILURES` preset. */
export type SimFailure = keyof typeof SIM_FAILURES;
