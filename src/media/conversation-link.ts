/**
 * What a Call holds of its conversation: the agent socket and the media path (RTP ⇄ codec ⇄
 * resampler ⇄ agent audio, with the paced playout), behind one handle. The audio never crosses
 * this boundary: caller audio goes from the RTP socket to the agent socket, agent audio from the
 * agent socket to the playout, all inside the link. Only control and reports cross it, so the same
 * interface serves a link in this thread and one in a media worker (docs/architecture.md).
 */
import type { AgentAudioFormat } from '../audio/frame';
import type { BridgeMetrics } from '../model/call-view';
import type { AgentLineHeard } from './playout-ledger';

export type { AgentLineHeard } from './playout-ledger';

/** The agent's own account of a line cut by a barge-in (`agent_response_correction`). */
export interface AgentLineCorrection {
  /** The agent line it corrects; null when the agent did not say. */
  eventId: number | null;
  /** What the line became. */
  text: string;
  /** What the agent had meant to say. */
  originalText: string;
}

/** What the agent conversation is opened with (per call). */
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

/** A client tool the agent asks the gateway to run. */
export interface AgentToolCall {
  toolName: string;
  toolCallId: string;
  parameters: Record<string, unknown>;
}

/**
 * Something the agent reported that the gateway logs and counts. Plain data, as every report of a
 * link: it may cross a thread boundary.
 */
export type AgentSignal =
  | { kind: 'context_usage'; contextTokens: number | null; contextLimitTokens: number | null }
  | { kind: 'guardrail_triggered' }
  | { kind: 'mcp_tool_call'; toolName: string; state: string; decision: 'approved' | 'denied' | null };

/** Who ended the agent socket. */
export type AgentCloser = 'agent' | 'client' | 'network';

/** Reports of a link, delivered in order from `setHandlers` on. */
export interface ConversationLinkHandlers {
  /**
   * A final transcript line (corrections are not reported as new lines). `eventId` is the agent's
   * id of the turn, when it gave one: later reports about the line (heard, corrected) name it.
   */
  onTranscript(role: 'user' | 'agent', text: string, eventId?: number): void;
  /** The caller barged in; queued agent audio was dropped. */
  onInterruption(): void;
  /** The agent said it will end the call (end_call tool); the close follows. */
  onEndCallRequested(): void;
  onToolCall(call: AgentToolCall): void;
  /** The agent socket closed, exactly once. `code` 1000 from the agent: it ended the conversation. */
  onAgentClosed(code: number, reason: string, initiatedBy: AgentCloser): void;
  /** The first agent audio left for the caller. */
  onFirstPlayout(): void;
  /** An agent audio frame larger than the playout queue could take was refused undecoded. */
  onFrameRefused(bytes: number): void;
  /** The link failed (its media worker died, a socket error it cannot recover from). */
  onFailed(error: Error): void;
  // Reports added later are optional, so an owner that does not need them (a benchmark) need not
  // implement them.
  /** The agent reported its context use, a guardrail, or an MCP tool call (answered by policy inside the link). */
  onAgentSignal?(signal: AgentSignal): void;
  /** What the caller heard of an agent line: in full, or cut after some ms (and characters). */
  onAgentLineHeard?(report: AgentLineHeard): void;
  /**
   * The first caller audio after the answer reached the link, bound for the agent (sent, or kept
   * until the agent is connected); `atEpochMs` is when (performance.timeOrigin + now(): comparable
   * across threads).
   */
  onFirstCallerFrame?(atEpochMs: number): void;
  /** The agent corrected a line after a barge-in: its text is what the line became. */
  onAgentLineCorrected?(correction: AgentLineCorrection): void;
}

/**
 * One call's conversation. Opened by a `LinkOpener`; the owner (the Call) must `close()` it.
 * Commands are fire-and-forget: a link that has gone away ignores them.
 */
export interface ConversationLink {
  readonly conversationId: string;
  readonly inputFormat: AgentAudioFormat;
  readonly outputFormat: AgentAudioFormat;
  /** host:port Asterisk must send the call's RTP to (the ExternalMedia `external_host`). */
  readonly localRtpAddress: string;
  /** Starts delivering reports; those that came before are delivered now, in order. */
  setHandlers(handlers: ConversationLinkHandlers): void;
  /**
   * Starts RTP both ways with Asterisk's ExternalMedia address. The caller's audio that came since
   * `callerFromEpochMs` (epochNowMs() when the callee was there: the answer, as this thread saw it)
   * goes to the agent first: on a media worker this command comes later than the audio.
   */
  start(remote: { address: string; port: number }, callerFromEpochMs?: number): void;
  /** Tells the agent someone is there (no "are you still there?" while the phone rings). */
  sendUserActivity(): void;
  /** Text as if the caller said it (the agent answers). */
  sendUserMessage(text: string): void;
  /** Background information for the agent; it does not answer it. */
  sendContextualUpdate(text: string): void;
  /** Answer to `onToolCall`; `result` is text, as the protocol requires. */
  sendToolResult(toolCallId: string, result: string, isError: boolean): void;
  /** Stops forwarding caller audio (the agent has hung up; its goodbye still plays). */
  stopCallerAudio(): void;
  /** Resolves when the queued agent audio has played out, or after `timeoutMs`. */
  drainPlayout(timeoutMs: number): Promise<void>;
  /** The latest media counters (a link in a worker reports them periodically). */
  metrics(): BridgeMetrics;
  /** Playout timing problems so far: ticks that ran late, 20 ms slots skipped after a stall. */
  playoutIssues(): { lateFrames: number; droppedFrames: number };
  /** Closes the agent socket (with `code`) and the media path. Idempotent; never rejects. */
  close(code?: number, reason?: string): Promise<void>;
}

/**
 * The media path ahead of the agent (docs/architecture.md#the-caller-is-heard-from-the-answer):
 * the link binds its RTP endpoint first and says where, so the ExternalMedia channel joins the
 * call's bridge while the agent still connects; from the answer on the caller's audio is kept,
 * and sent to the agent in order the moment it is connected. A callee who speaks first ("Hello?")
 * is heard whole, however long the agent takes.
 */
export interface EarlyMedia {
  /** The RTP endpoint is bound, before the agent connects: host:port for ExternalMedia. */
  onLocalAddress(localRtpAddress: string): void;
  /** Resolves when the ExternalMedia channel is in the bridge, with where Asterisk takes our RTP; may never resolve. */
  readonly joined: Promise<{ address: string; port: number }>;
  /** Resolves when the far end answered, with epochNowMs() of the answer; may never resolve. */
  readonly answered: Promise<number>;
}

/**
 * Opens the link of call `callId`; rejects with AgentConnectionError (or a media error) and leaves
 * nothing open. `signal` aborts the attempt. With `early`, the media path opens before the agent.
 */
export type LinkOpener = (callId: string, request: AgentConnectRequest, signal: AbortSignal, early?: EarlyMedia) => Promise<ConversationLink>;

/** Counters of a link that has not moved audio yet. */
export function emptyBridgeMetrics(): BridgeMetrics {
  return { caller_to_ai: { packets: 0, bytes: 0 }, ai_to_caller: { packets: 0, bytes: 0 }, resampling_ops: 0, errors: 0 };
}
