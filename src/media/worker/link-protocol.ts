/**
 * Messages between the main thread and a media worker. Audio never crosses: a worker owns its
 * calls' RTP sockets, resamplers, playout clock and agent sockets; only control (commands) and
 * reports (a link's handler calls, periodic counters) do (docs/architecture.md#media-workers).
 * Everything here is plain data, as structured clone needs.
 */
import type { AgentAudioFormat } from '../../audio/frame';
import type { LogLevel } from '../../logger';
import type { BridgeMetrics } from '../../model/call-view';
import type { AgentConnectorOptions } from '../../agent/agent-connector';
import type { AgentConnectRequest, ConversationLink, ConversationLinkHandlers } from '../conversation-link';
import type { MediaConfig } from '../media-session';

/** What a worker is started with (its `workerData`). */
export interface MediaWorkerSetup {
  readonly index: number;
  readonly agent: AgentConnectorOptions;
  readonly media: MediaConfig;
  /** The main thread's logger level (`silent` included), so the worker logs as it does. */
  readonly logLevel: LogLevel | 'silent';
  /** Idle resampler engines the worker's pool keeps. */
  readonly resamplerMaxIdle: number;
  /** Calls' worth of resampler engines the worker makes at start, in the background (its share of RESAMPLER_WARM_CALLS). */
  readonly resamplerWarmCalls: number;
  /** How often the worker reports its calls' counters, ms. */
  readonly statsIntervalMs: number;
}

/** A link's fire-and-forget commands (methods of ConversationLink without a result). */
export type LinkCommandName = 'start' | 'sendUserActivity' | 'sendUserMessage' | 'sendContextualUpdate' | 'sendToolResult' | 'stopCallerAudio';
/** A link's reports (the handler methods, the optional ones included). */
export type LinkEventName = keyof ConversationLinkHandlers;

/**
 * Every report a link makes; the worker forwards each as it comes. A handler added to
 * ConversationLinkHandlers must be added here too (the type says so), or its reports would stay in
 * the worker.
 */
const LINK_EVENTS: Record<LinkEventName, true> = {
  onTranscript: true,
  onInterruption: true,
  onEndCallRequested: true,
  onToolCall: true,
  onAgentClosed: true,
  onFirstPlayout: true,
  onFrameRefused: true,
  onFailed: true,
  onAgentSignal: true,
  onAgentLineHeard: true,
  onAgentLineCorrected: true,
  onFirstCallerFrame: true,
};
export const LINK_EVENT_NAMES = Object.keys(LINK_EVENTS) as LinkEventName[];

/** An error as it crosses the thread boundary. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  retryable?: boolean;
  closeCode?: number;
}

/** What is known of a link once it opened. */
export interface LinkInfo {
  conversationId: string;
  inputFormat: AgentAudioFormat;
  outputFormat: AgentAudioFormat;
  localRtpAddress: string;
}

/**
 * A link is named by the `reqId` of its `open` (its `linkId`), not by its call: a call may have two
 * links at once, one being closed while the next opens (AGENT_CONNECT, src/call/agent-connect.ts).
 */
export type MainToWorker =
  | { t: 'open'; reqId: number; callId: string; request: AgentConnectRequest; hasEarlyMedia: boolean }
  | { t: 'abort-open'; reqId: number }
  /** EarlyMedia.joined and .answered of link `reqId` while it opens (an open link ignores them: its Call starts it). */
  | { t: 'joined'; reqId: number; remote: { address: string; port: number } }
  | { t: 'answered'; reqId: number; atEpochMs: number }
  | { t: 'cmd'; linkId: number; name: LinkCommandName; args: unknown[] }
  | { t: 'drain'; reqId: number; linkId: number; timeoutMs: number }
  | { t: 'close'; reqId: number; linkId: number; code: number; reason: string }
  /** A fault drill: block the worker's thread until `gate[0]` is notified (MediaWorkerPool.stall). */
  | { t: 'stall'; gate: SharedArrayBuffer };

export interface LinkStats {
  linkId: number;
  metrics: BridgeMetrics;
  issues: ReturnType<ConversationLink['playoutIssues']>;
}

export type WorkerToMain =
  | { t: 'ready' }
  /** The start-up warm of the resampler pool is done: `engines` made. */
  | { t: 'warmed'; engines: number }
  /** EarlyMedia.onLocalAddress of link `reqId`, before it opened. */
  | { t: 'media-address'; reqId: number; localRtpAddress: string }
  | { t: 'opened'; reqId: number; info: LinkInfo }
  | { t: 'open-failed'; reqId: number; error: WireError }
  | { t: 'event'; linkId: number; name: LinkEventName; args: unknown[] }
  | { t: 'done'; reqId: number }
  | { t: 'stats'; links: LinkStats[] };

/** An Error (or anything thrown) as plain data. */
export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; retryable?: unknown; closeCode?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.retryable === 'boolean' ? { retryable: e.retryable } : {}),
    ...(typeof e.closeCode === 'number' ? { closeCode: e.closeCode } : {}),
  };
}
