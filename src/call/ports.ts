import type { AgentAudioFormat } from '../audio/frame';
import type { BridgeMetrics } from './call-view';

/** What the Call needs of a connected agent conversation (implemented over AgentClient). */
export interface AgentSession {
  readonly conversationId: string;
  readonly inputFormat: AgentAudioFormat;
  readonly outputFormat: AgentAudioFormat;
  /** Caller audio, already in `inputFormat`. */
  sendAudio(bytes: Buffer): void;
  /** Tells the agent someone is there (stops "are you still there?" while the phone rings). */
  sendUserActivity(): void;
  /** Text as if the caller said it (the agent answers). */
  sendUserMessage(text: string): void;
  /** Background information for the agent; it does not answer it. */
  sendContextualUpdate(text: string): void;
  /** Answer to an `onToolCall`; `result` is text, as the protocol requires. */
  sendToolResult(toolCallId: string, result: string, isError: boolean): void;
  setHandlers(handlers: AgentSessionHandlers): void;
  /** Idempotent; resolves when the socket is closed. */
  close(code?: number, reason?: string): Promise<void>;
}

export interface AgentSessionHandlers {
  /** Audio to play, in `outputFormat`, already filtered by the interruption watermark. */
  onAudio(bytes: Buffer): void;
  onInterruption(): void;
  onTranscript(role: 'user' | 'agent', text: string): void;
  /** The agent said it will end the call (end_call tool); the close follows. */
  onEndCallRequested(): void;
  /** The agent asks the gateway to run a client tool. */
  onToolCall(call: AgentToolCall): void;
  /** The socket closed, exactly once. `code` 1000 means the agent ended the conversation normally. */
  onClose(code: number, reason: string, initiatedBy: 'agent' | 'client' | 'network'): void;
}

export interface AgentToolCall {
  toolName: string;
  toolCallId: string;
  parameters: Record<string, unknown>;
}

export interface AgentConnectRequest {
  /** Agent to talk to; default the configured ELEVENLABS_AGENT_ID. */
  agentId?: string;
  voiceId?: string;
  dynamicVariables?: Record<string, string | number | boolean>;
  firstMessage?: string;
  prompt?: string;
  language?: string;
  userId?: string;
}

/** Opens one agent conversation; rejects with AgentConnectionError. */
export type AgentConnector = (request: AgentConnectRequest, signal: AbortSignal) => Promise<AgentSession>;

/** The media path of one call: RTP ⇄ codec ⇄ resampler ⇄ agent audio, with a paced playout. */
export interface MediaSession {
  /** Agent audio to play (in the agent's output format). Queued until `start`. */
  pushAgentAudio(bytes: Buffer): void;
  /** Barge-in: drop everything queued for playout. */
  flushPlayout(): void;
  /** Milliseconds of agent audio queued and not yet sent. */
  readonly playoutQueuedMs: number;
  /** Starts RTP both ways with Asterisk's ExternalMedia address. */
  start(remote: { address: string; port: number }): void;
  /** Stops forwarding caller audio (the agent has hung up; its goodbye still plays). */
  stopCallerAudio(): void;
  /** Resolves when the playout queue is empty or after `timeoutMs`. */
  waitPlayoutDrained(timeoutMs: number): Promise<void>;
  metrics(): BridgeMetrics;
  /** Playout timing problems so far: ticks that ran late, 20 ms slots skipped after a stall. */
  playoutIssues(): { lateFrames: number; droppedFrames: number };
  /** Address Asterisk must send RTP to (host:port): the advertised host and the bound port. */
  readonly localAddress: string;
  close(): Promise<void>;
}

export interface MediaSessionOptions {
  agentInputFormat: AgentAudioFormat;
  agentOutputFormat: AgentAudioFormat;
  /** Caller audio for the agent, in agentInputFormat, one chunk per AUDIO_CHUNK_SIZE_MS. */
  onCallerAudio(bytes: Buffer): void;
  /** The first agent audio packet left for the caller (once per session). */
  onFirstPlayout?(): void;
}

export type MediaSessionFactory = (options: MediaSessionOptions) => Promise<MediaSession>;
