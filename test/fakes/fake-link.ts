import type { AgentAudioFormat } from '../../src/audio/frame';
import type { BridgeMetrics } from '../../src/model/call-view';
import {
  emptyBridgeMetrics,
  type AgentConnectRequest,
  type ConversationLink,
  type ConversationLinkHandlers,
  type LinkOpener,
} from '../../src/media/conversation-link';

/**
 * A conversation link the test drives: it records what the Call sent and lets the test speak as
 * the agent. `drain` decides when a drain resolves: at once, never (the timeout decides), or when
 * the test calls `finishPlayout()`.
 */
export class FakeLink implements ConversationLink {
  readonly conversationId = 'conv_fake';
  readonly inputFormat: AgentAudioFormat = 'pcm_16000';
  readonly outputFormat: AgentAudioFormat = 'pcm_16000';
  readonly localRtpAddress = '127.0.0.1:45000';
  readonly request: AgentConnectRequest;
  handlers: ConversationLinkHandlers | undefined;
  startedWith: { address: string; port: number } | undefined;
  activityCount = 0;
  readonly userMessages: string[] = [];
  readonly contextualUpdates: string[] = [];
  readonly toolResults: { toolCallId: string; result: string; isError: boolean }[] = [];
  isCallerAudioStopped = false;
  drainRequests = 0;
  closedWith: number | undefined;
  closeCount = 0;
  metricsNow: BridgeMetrics = emptyBridgeMetrics();
  /** What `close()` waits for (a stalled agent close handshake). */
  closeGate: Promise<void> = Promise.resolve();
  #drainWaiters: (() => void)[] = [];

  /** Called when the Call starts the link (to see what had happened by then). */
  readonly #onStart: (() => void) | undefined;

  constructor(request: AgentConnectRequest, onStart?: () => void) {
    this.request = request;
    this.#onStart = onStart;
  }

  setHandlers(handlers: ConversationLinkHandlers): void {
    this.handlers = handlers;
  }
  start(remote: { address: string; port: number }): void {
    this.startedWith = remote;
    this.#onStart?.();
  }
  sendUserActivity(): void {
    this.activityCount += 1;
  }
  sendUserMessage(text: string): void {
    this.userMessages.push(text);
  }
  sendContextualUpdate(text: string): void {
    this.contextualUpdates.push(text);
  }
  sendToolResult(toolCallId: string, result: string, isError: boolean): void {
    this.toolResults.push({ toolCallId, result, isError });
  }
  stopCallerAudio(): void {
    this.isCallerAudioStopped = true;
  }
  /** Resolves when the test calls `finishPlayout()` (as a real playout drains), or at the timeout. */
  drainPlayout(timeoutMs: number): Promise<void> {
    this.drainRequests += 1;
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#drainWaiters.push(done);
    });
  }
  /** The queued agent audio has played out. */
  finishPlayout(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
  get pendingDrains(): number {
    return this.#drainWaiters.length;
  }
  metrics(): BridgeMetrics {
    return this.metricsNow;
  }
  playoutIssues(): { lateFrames: number; droppedFrames: number } {
    return { lateFrames: 0, droppedFrames: 0 };
  }
  async close(code = 1000): Promise<void> {
    this.closeCount += 1;
    this.closedWith ??= code;
    this.finishPlayout();
    await this.closeGate;
  }
  /** The agent closes the socket. */
  remoteClose(code: number, reason = ''): void {
    this.handlers?.onAgentClosed(code, reason, 'agent');
  }
}

/** A LinkOpener handing out FakeLinks (or failing with `error`); `links` holds every one opened. */
export class FakeLinkOpener {
  readonly links: FakeLink[] = [];
  error: Error | undefined;
  /** Resolves opens only when the test says so (an agent that connects slowly). */
  gate: Promise<void> = Promise.resolve();
  /** Called whenever a link of this opener is started. */
  onStart: (() => void) | undefined;

  /** The abort signal of every open, in order (an open the caller gave up on is aborted). */
  readonly signals: AbortSignal[] = [];

  /**
   * When set, opens give this RTP address through their EarlyMedia at once, before the gate (a
   * link that binds its endpoint before the agent connects); `answers` then gets what each
   * EarlyMedia.answered resolved with.
   */
  earlyAddress: string | undefined;
  readonly answers: { address: string; port: number }[] = [];

  readonly open: LinkOpener = async (_callId, request, signal, early) => {
    this.signals.push(signal);
    if (early !== undefined && this.earlyAddress !== undefined) {
      early.onLocalAddress(this.earlyAddress);
      Promise.all([early.joined, early.answered]).then(([remote]) => this.answers.push(remote), () => undefined);
    }
    await this.gate;
    if (signal.aborted) throw new Error('aborted');
    if (this.error) throw this.error;
    const link = new FakeLink(request, () => this.onStart?.());
    this.links.push(link);
    return link;
  };

  get last(): FakeLink | undefined {
    return this.links[this.links.length - 1];
  }
}
