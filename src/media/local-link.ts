import type { Logger } from 'pino';
import { connectAgent, type AgentConnectorOptions } from '../agent/agent-connector';
import type { AgentClient } from '../agent/agent-client';
import type { BridgeMetrics } from '../model/call-view';
import { CallerAudioHold, type HeldCallerAudio } from './caller-audio-hold';
import type { AgentConnectRequest, ConversationLink, ConversationLinkHandlers, EarlyMedia, LinkOpener } from './conversation-link';
import { advertisedRtpAddress, RtpMediaSession, type MediaSessionDeps } from './media-session';

/** What a link in this thread needs: how to reach the agent, and the media settings and pool. */
export interface LocalLinkDeps {
  agent: AgentConnectorOptions;
  media: MediaSessionDeps;
  log: Logger;
  /** Sees each link's parts as it opens (the benchmark measures the media sessions through it). */
  onOpened?: (parts: { client: AgentClient; media: RtpMediaSession }) => void;
}

/** Opens links whose agent socket and media run on this thread (the in-process mode). */
export function createLocalLinkOpener(deps: LocalLinkDeps): LinkOpener {
  return (callId, request, signal, early) => LocalLink.open(deps, callId, request, signal, early);
}

/**
 * The agent socket and the RTP media session of one call, wired to each other: caller audio goes
 * from the media session straight to the socket, agent audio from the socket to the playout
 * queue, and an interruption flushes the queue in the same turn of the event loop.
 */
export class LocalLink implements ConversationLink {
  readonly #client: AgentClient;
  readonly #media: RtpMediaSession;
  readonly #log: Logger;
  #handlers: ConversationLinkHandlers | undefined;
  #hasPlayedOut = false;
  /** The first caller frame's arrival, kept for setHandlers when it came before (audio kept while the agent connected). */
  #firstCallerAtEpochMs: number | undefined;
  #closed: Promise<void> | undefined;
  /** Caller audio kept until the Call starts the link (an agent connected before the answer). */
  #hold: CallerAudioHold | undefined;

  private constructor(client: AgentClient, media: RtpMediaSession, log: Logger, hold: CallerAudioHold | undefined) {
    this.#client = client;
    this.#media = media;
    this.#log = log;
    this.#hold = hold;
  }

  /**
   * The RTP endpoint first (its address goes to `early` at once), then the agent, then the media
   * session on that endpoint, started with the caller audio kept since the answer if it came, or
   * else when the Call starts it.
   */
  static async open(deps: LocalLinkDeps, callId: string, request: AgentConnectRequest, signal: AbortSignal, early?: EarlyMedia): Promise<LocalLink> {
    const log = deps.log.child({ callId });
    const endpoint = await RtpMediaSession.openEndpoint({ ...deps.media, log });
    const hold = new CallerAudioHold(endpoint);
    let client: AgentClient;
    try {
      if (early !== undefined) {
        early.joined.then((remote) => hold.join(remote), () => undefined);
        early.answered.then((atEpochMs) => hold.answer(atEpochMs), () => undefined);
        early.onLocalAddress(advertisedRtpAddress(deps.media.config.externalMediaAdvertiseHost, endpoint.localPort));
      }
      client = await connectAgent(deps.agent, request, signal, log);
    } catch (err) {
      hold.release();
      await endpoint.close();
      throw err;
    }
    let link: LocalLink | undefined;
    try {
      const media = await RtpMediaSession.open(
        { ...deps.media, log },
        {
          agentInputFormat: client.inputFormat,
          agentOutputFormat: client.outputFormat,
          onCallerAudio: (bytes) => client.sendAudio(bytes),
          onFirstPlayout: () => {
            if (link !== undefined) link.#onFirstPlayout();
          },
          onLineHeard: (report) => {
            if (link !== undefined) link.#handlers?.onAgentLineHeard?.(report);
          },
          onFirstCallerFrame: (atEpochMs) => {
            if (link !== undefined) link.#onFirstCallerFrame(atEpochMs);
          },
        },
        endpoint,
      );
      // Answered already: start now with what was kept. Otherwise the hold goes on until the Call
      // starts the link, and keeps what came between the answer and that start.
      link = new LocalLink(client, media, log, hold.isAnswered ? undefined : hold);
      if (hold.isAnswered) {
        const held = hold.release();
        if (held.remote !== undefined) link.#startWithHeld(held.remote, held);
      }
      deps.onOpened?.({ client, media });
      return link;
    } catch (err) {
      hold.release();
      await client.close(1000, 'call ended');
      throw err;
    }
  }

  get conversationId(): string {
    return this.#client.conversationId;
  }
  get inputFormat(): ConversationLink['inputFormat'] {
    return this.#client.inputFormat;
  }
  get outputFormat(): ConversationLink['outputFormat'] {
    return this.#client.outputFormat;
  }
  get localRtpAddress(): string {
    return this.#media.localAddress;
  }

  setHandlers(h: ConversationLinkHandlers): void {
    if (this.#handlers !== undefined) throw new Error('LocalLink handlers are set once');
    this.#handlers = h;
    const client = this.#client;
    const media = this.#media;
    client.on('audio', (e) => {
      // Refused before decoding: a huge frame costs neither a base64 decode nor a resample.
      if (!media.canQueueAgentBytes(e.byteLength)) {
        h.onFrameRefused(e.byteLength);
        return;
      }
      media.pushAgentAudio(Buffer.from(e.base64, 'base64'), { eventId: e.eventId, alignment: e.alignment });
    });
    client.on('interruption', () => {
      media.flushPlayout();
      h.onInterruption();
    });
    client.on('transcript', (e) => {
      if (!e.isCorrection) h.onTranscript(e.role, e.text, e.eventId);
      else h.onAgentLineCorrected?.({ eventId: e.eventId ?? null, text: e.text, originalText: e.originalText ?? '' });
    });
    client.on('clientToolCall', (e) => h.onToolCall({ toolName: e.toolName, toolCallId: e.toolCallId, parameters: e.parameters }));
    client.on('agentToolResponse', (e) => {
      if (e.isEndCall) h.onEndCallRequested();
    });
    client.on('mcpToolCall', (e) => h.onAgentSignal?.({ kind: 'mcp_tool_call', toolName: e.toolName, state: e.state, decision: e.decision }));
    client.on('contextUsage', (e) => h.onAgentSignal?.({ kind: 'context_usage', contextTokens: e.contextTokens, contextLimitTokens: e.contextLimitTokens }));
    client.on('guardrailTriggered', () => h.onAgentSignal?.({ kind: 'guardrail_triggered' }));
    client.on('close', (e) => h.onAgentClosed(e.code, e.reason, e.initiatedBy));
    client.resumeEvents();
    if (this.#hasPlayedOut) h.onFirstPlayout();
    if (this.#firstCallerAtEpochMs !== undefined) h.onFirstCallerFrame?.(this.#firstCallerAtEpochMs);
  }

  start(remote: { address: string; port: number }, callerFromEpochMs?: number): void {
    const hold = this.#hold;
    this.#hold = undefined;
    if (hold === undefined) return this.#media.start(remote);
    if (callerFromEpochMs !== undefined) hold.answer(callerFromEpochMs);
    this.#startWithHeld(remote, hold.release());
  }
  sendUserActivity(): void {
    this.#client.sendUserActivity();
  }
  sendUserMessage(text: string): void {
    this.#client.sendUserMessage(text);
  }
  sendContextualUpdate(text: string): void {
    this.#client.sendContextualUpdate(text);
  }
  sendToolResult(toolCallId: string, result: string, isError: boolean): void {
    this.#client.sendToolResult(toolCallId, result, isError);
  }
  stopCallerAudio(): void {
    this.#media.stopCallerAudio();
  }
  drainPlayout(timeoutMs: number): Promise<void> {
    return this.#media.waitPlayoutDrained(timeoutMs);
  }
  metrics(): BridgeMetrics {
    return this.#media.metrics();
  }
  playoutIssues(): { lateFrames: number; droppedFrames: number } {
    return this.#media.playoutIssues();
  }

  close(code = 1000, reason = 'call ended'): Promise<void> {
    this.#hold?.release();
    this.#hold = undefined;
    this.#closed ??= Promise.allSettled([this.#client.close(code, reason), this.#media.close()]).then((results) => {
      for (const r of results) if (r.status === 'rejected') this.#log.warn({ err: r.reason }, 'link release failed');
    });
    return this.#closed;
  }

  #startWithHeld(remote: { address: string; port: number }, held: HeldCallerAudio): void {
    if (held.dropped > 0) this.#log.warn({ dropped: held.dropped }, 'caller audio kept while the agent connected overflowed; the oldest was dropped');
    this.#media.startWithHeld(remote, held);
  }

  #onFirstPlayout(): void {
    if (this.#hasPlayedOut) return;
    this.#hasPlayedOut = true;
    this.#handlers?.onFirstPlayout();
  }

  #onFirstCallerFrame(atEpochMs: number): void {
    if (this.#handlers === undefined) this.#firstCallerAtEpochMs = atEpochMs;
    else this.#handlers.onFirstCallerFrame?.(atEpochMs);
  }
}
