import type { AgentAudioFormat } from '../../src/audio/frame';
import type { BridgeMetrics } from '../../src/call/call-view';
import type { AgentSession, AgentSessionHandlers, MediaSession, MediaSessionOptions } from '../../src/call/ports';

/** An agent session the test drives: it records what the Call sent and lets the test speak. */
export class FakeAgentSession implements AgentSession {
  readonly conversationId = 'conv_fake';
  readonly inputFormat: AgentAudioFormat = 'pcm_16000';
  readonly outputFormat: AgentAudioFormat = 'pcm_16000';
  readonly sent: Buffer[] = [];
  activityCount = 0;
  closedWith: number | undefined;
  handlers: AgentSessionHandlers | undefined;

  sendAudio(bytes: Buffer): void {
    this.sent.push(bytes);
  }
  sendUserActivity(): void {
    this.activityCount += 1;
  }
  readonly userMessages: string[] = [];
  readonly contextualUpdates: string[] = [];
  readonly toolResults: { toolCallId: string; result: string; isError: boolean }[] = [];
  sendUserMessage(text: string): void {
    this.userMessages.push(text);
  }
  sendContextualUpdate(text: string): void {
    this.contextualUpdates.push(text);
  }
  sendToolResult(toolCallId: string, result: string, isError: boolean): void {
    this.toolResults.push({ toolCallId, result, isError });
  }
  setHandlers(handlers: AgentSessionHandlers): void {
    this.handlers = handlers;
  }
  async close(code = 1000): Promise<void> {
    if (this.closedWith !== undefined) return;
    this.closedWith = code;
  }
  /** The remote side closes. */
  remoteClose(code: number, reason = ''): void {
    this.closedWith = code;
    this.handlers?.onClose(code, reason, 'agent');
  }
}

/** A media session that records calls instead of moving audio. */
export class FakeMediaSession implements MediaSession {
  readonly localAddress = '127.0.0.1:45000';
  readonly pushed: Buffer[] = [];
  startedWith: { address: string; port: number } | undefined;
  isCallerAudioStopped = false;
  flushes = 0;
  closed = 0;
  queuedMs = 0;
  readonly options: MediaSessionOptions;

  constructor(options: MediaSessionOptions) {
    this.options = options;
  }
  get playoutQueuedMs(): number {
    return this.queuedMs;
  }
  pushAgentAudio(bytes: Buffer): void {
    this.pushed.push(bytes);
  }
  flushPlayout(): void {
    this.flushes += 1;
  }
  start(remote: { address: string; port: number }): void {
    this.startedWith = remote;
  }
  stopCallerAudio(): void {
    this.isCallerAudioStopped = true;
  }
  async waitPlayoutDrained(_timeoutMs: number): Promise<void> {
    return;
  }
  metrics(): BridgeMetrics {
    return { caller_to_ai: { packets: 0, bytes: 0 }, ai_to_caller: { packets: 0, bytes: 0 }, resampling_ops: 0, errors: 0 };
  }
  playoutIssues(): { lateFrames: number; droppedFrames: number } {
    return { lateFrames: 0, droppedFrames: 0 };
  }
  async close(): Promise<void> {
    this.closed += 1;
  }
}
