import type { BridgeMetrics } from '../../model/call-view';
import { emptyBridgeMetrics, type ConversationLink, type ConversationLinkHandlers } from '../conversation-link';
import type { LinkCommandName, LinkEventName, LinkInfo } from './link-protocol';

/** How a WorkerLink reaches its worker (provided by MediaWorkerPool). */
export interface WorkerLinkChannel {
  command(name: LinkCommandName, args: unknown[]): void;
  request(message: { t: 'drain'; linkId: number; timeoutMs: number } | { t: 'close'; linkId: number; code: number; reason: string }): Promise<void>;
  /** The link is closed: the pool forgets it. */
  forget(): void;
}

/**
 * A conversation link that runs in a media worker, as the Call sees it: commands are posted,
 * reports arrive as handler calls (held until `setHandlers`, then in order), counters come from
 * the worker's periodic stats.
 */
export class WorkerLink implements ConversationLink {
  /** The link's id in its worker (the reqId of its open). */
  readonly linkId: number;
  readonly callId: string;
  readonly conversationId: string;
  readonly inputFormat: ConversationLink['inputFormat'];
  readonly outputFormat: ConversationLink['outputFormat'];
  readonly localRtpAddress: string;
  readonly #channel: WorkerLinkChannel;
  #handlers: ConversationLinkHandlers | undefined;
  #held: [LinkEventName, unknown[]][] = [];
  #metrics: BridgeMetrics = emptyBridgeMetrics();
  #issues = { lateFrames: 0, droppedFrames: 0 };
  #closed: Promise<void> | undefined;
  #isFailed = false;

  constructor(linkId: number, callId: string, info: LinkInfo, channel: WorkerLinkChannel) {
    this.linkId = linkId;
    this.callId = callId;
    this.conversationId = info.conversationId;
    this.inputFormat = info.inputFormat;
    this.outputFormat = info.outputFormat;
    this.localRtpAddress = info.localRtpAddress;
    this.#channel = channel;
  }

  setHandlers(handlers: ConversationLinkHandlers): void {
    if (this.#handlers !== undefined) throw new Error('WorkerLink handlers are set once');
    this.#handlers = handlers;
    const held = this.#held;
    this.#held = [];
    for (const [name, args] of held) this.#call(name, args);
  }

  /** A report from the worker. */
  deliver(name: LinkEventName, args: unknown[]): void {
    if (this.#handlers === undefined) this.#held.push([name, args]);
    else this.#call(name, args);
  }

  /** The latest counters from the worker. */
  updateStats(metrics: BridgeMetrics, issues: { lateFrames: number; droppedFrames: number }): void {
    this.#metrics = metrics;
    this.#issues = issues;
  }

  /** The worker carrying this link is gone: report it once; a close needs no answer any more. */
  fail(err: Error): void {
    if (this.#isFailed) return;
    this.#isFailed = true;
    this.#closed ??= Promise.resolve();
    this.deliver('onFailed', [err]);
  }

  start(remote: { address: string; port: number }, callerFromEpochMs?: number): void {
    this.#channel.command('start', [remote, callerFromEpochMs]);
  }
  sendUserActivity(): void {
    this.#channel.command('sendUserActivity', []);
  }
  sendUserMessage(text: string): void {
    this.#channel.command('sendUserMessage', [text]);
  }
  sendContextualUpdate(text: string): void {
    this.#channel.command('sendContextualUpdate', [text]);
  }
  sendToolResult(toolCallId: string, result: string, isError: boolean): void {
    this.#channel.command('sendToolResult', [toolCallId, result, isError]);
  }
  stopCallerAudio(): void {
    this.#channel.command('stopCallerAudio', []);
  }
  drainPlayout(timeoutMs: number): Promise<void> {
    if (this.#isFailed) return Promise.resolve();
    return this.#channel.request({ t: 'drain', linkId: this.linkId, timeoutMs });
  }
  metrics(): BridgeMetrics {
    return this.#metrics;
  }
  playoutIssues(): { lateFrames: number; droppedFrames: number } {
    return this.#issues;
  }

  close(code = 1000, reason = 'call ended'): Promise<void> {
    this.#closed ??= this.#channel.request({ t: 'close', linkId: this.linkId, code, reason }).finally(() => this.#channel.forget());
    return this.#closed;
  }

  #call(name: LinkEventName, args: unknown[]): void {
    const handler = this.#handlers?.[name] as ((...a: unknown[]) => void) | undefined;
    handler?.apply(this.#handlers, args);
  }
}
