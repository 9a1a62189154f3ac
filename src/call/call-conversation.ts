/**
 * A call's side of its agent conversation: opens the link (agent socket + media), routes what the
 * agent reports, runs its tools, plays out its goodbye, and lets it go (with the call, or earlier
 * at a transfer). Everything it opens is on the `disposers` stack it is given (a child of the
 * call's), so it is released along the call's one teardown path.
 *
 * A call may open more than one link (AGENT_CONNECT parks one while the phone rings,
 * src/call/agent-connect.ts): each is opened on a stack of its own, a child of this one, and only
 * the latest opened is the call's; a parked one's reports go nowhere.
 */
import type { Logger } from 'pino';
import type { CallControl } from '../ari/call-control';
import { AgentConnectionError, BridgeError } from '../errors';
import type { DisposerStack } from '../lifecycle/disposer-stack';
import type { AgentConnectRequest, AgentLineCorrection, AgentLineHeard, AgentSignal, AgentToolCall, ConversationLink, EarlyMedia, LinkOpener } from '../media/conversation-link';
import type { BridgeMetrics } from '../model/call-view';
import { whileCurrent } from './agent-connect';
import { runAgentTool, type AgentToolHost } from './agent-tools';
import type { EndReason } from './hangup-cause';

/** What the conversation needs of its call. */
export interface ConversationHost {
  readonly callId: string;
  readonly log: Logger;
  readonly control: CallControl;
  /** The call leg (DTMF goes there). */
  readonly channelId: string;
  readonly openLink: LinkOpener;
  readonly settings: {
    ringingActivityIntervalMs: number;
    drainTimeoutMs: number;
    sendDtmfMaxDigits: number;
    dtmfToAgent: 'user_message' | 'contextual_update' | 'off';
  };
  isUnanswered(): boolean;
  isAnswered(): boolean;
  isEnding(): boolean;
  /** performance.now() of the answer, once answered. */
  answeredAtMs(): number | undefined;
  /** The caller is now with a transfer target (the agent's closing is expected). */
  isTransferred(): boolean;
  /** A final transcript line; `eventId` is the agent's id of the turn, when it gave one. */
  addTranscript(role: 'user' | 'agent', text: string, eventId?: number): void;
  transfer(phoneNumber: string): Promise<string>;
  end(reason: EndReason): Promise<void>;
  fail(reason: EndReason, err: unknown): void;
  report: {
    agentConnected(ms: number): void;
    interruption(): void;
    firstAudio(ms: number): void;
    /** Answer → the first caller audio sent to the agent. */
    firstCallerFrame(ms: number): void;
    frameRefused(bytes: number): void;
    agentSignal(signal: AgentSignal): void;
    lineHeard(report: AgentLineHeard): void;
    lineCorrected(correction: AgentLineCorrection): void;
  };
}

export class CallConversation {
  readonly #host: ConversationHost;
  readonly #disposers: DisposerStack;
  #link: ConversationLink | undefined;
  #isReleased = false;
  #isAgentEnding = false;
  #dtmfDigitsSent = 0;

  constructor(host: ConversationHost, disposers: DisposerStack) {
    this.#host = host;
    this.#disposers = disposers;
  }

  /** The link while the agent is on the call. */
  get link(): ConversationLink | undefined {
    return this.#isReleased ? undefined : this.#link;
  }

  /** True once the agent said it ends the call (end_call) or asked to. */
  get isAgentEnding(): boolean {
    return this.#isAgentEnding;
  }

  /** The latest media counters; a closed link keeps its final ones (the worker sends them with the close). */
  metrics(): BridgeMetrics | undefined {
    return this.#link?.metrics();
  }

  /**
   * Opens a link, which becomes the call's, with its releases on `disposers` (a child of the
   * conversation's stack; the whole stack when not given). Rejects with AgentConnectionError, also
   * when the call ended (or `disposers` was released) meanwhile.
   */
  async open(request: AgentConnectRequest, signal: AbortSignal, disposers: DisposerStack = this.#disposers, early?: EarlyMedia): Promise<ConversationLink> {
    const h = this.#host;
    const startedMs = performance.now();
    const link = await h.openLink(h.callId, request, signal, early);
    // Registered before anything else can fail; runs at once if the call already ended.
    disposers.defer('link', () => link.close(1000, 'call ended'));
    if (disposers.isDisposed) throw new AgentConnectionError('CALL_ENDED', 'call ended while the agent connected');
    this.#link = link;
    // Released while the call goes on and keeps its agent (parked while the phone rings): no
    // longer the call's. At a transfer or the call's end it stays, so its last reports (what the
    // caller heard of the last line) still land.
    disposers.defer('current-link', () => {
      if (!h.isEnding() && !this.#isReleased && this.#link === link) this.#link = undefined;
    }, 'first');
    h.report.agentConnected(performance.now() - startedMs);
    h.log.info({ conversationId: link.conversationId, in: link.inputFormat, out: link.outputFormat }, 'agent connected');
    // Only the call's own link reports to it: one released while the phone rang says nothing more.
    link.setHandlers(whileCurrent(() => this.#link === link, {
      onTranscript: (role, text, eventId) => h.addTranscript(role, text, eventId),
      onInterruption: () => h.report.interruption(),
      onEndCallRequested: () => {
        this.#isAgentEnding = true;
      },
      onToolCall: (call) => {
        this.#runTool(link, call).catch((err: unknown) => h.log.error({ err, tool: call.toolName }, 'agent tool handling failed'));
      },
      onAgentClosed: (code, reason, by) => this.#onAgentClosed(code, reason, by),
      onFirstPlayout: () => {
        const answeredAtMs = h.answeredAtMs();
        if (answeredAtMs !== undefined) h.report.firstAudio(performance.now() - answeredAtMs);
      },
      onFrameRefused: (bytes) => {
        h.log.warn({ bytes }, 'agent audio frame larger than the playout queue can take; refused');
        h.report.frameRefused(bytes);
      },
      onFailed: (err) => h.fail('error', err),
      onAgentSignal: (signal) => h.report.agentSignal(signal),
      onAgentLineHeard: (report) => h.report.lineHeard(report),
      onAgentLineCorrected: (correction) => h.report.lineCorrected(correction),
      onFirstCallerFrame: (atEpochMs) => {
        // The frame's arrival in the link's thread, not this report's: a media worker's message
        // waits behind whatever this thread is doing.
        const answeredAtMs = h.answeredAtMs();
        // Audio that came just before the answer reached this thread counts as at the answer.
        if (answeredAtMs !== undefined) h.report.firstCallerFrame(Math.max(0, atEpochMs - (performance.timeOrigin + answeredAtMs)));
      },
    }));
    if (h.isUnanswered()) {
      const activity = setInterval(() => {
        if (h.isUnanswered()) link.sendUserActivity();
      }, h.settings.ringingActivityIntervalMs);
      disposers.defer('ringing-activity', () => clearInterval(activity));
    }
    return link;
  }

  /** The caller pressed a key: tell the agent, as configured. */
  forwardDtmf(digit: string): void {
    const link = this.link;
    const mode = this.#host.settings.dtmfToAgent;
    if (link === undefined || mode === 'off') return;
    const text = `The caller pressed the key "${digit}" on the phone keypad.`;
    if (mode === 'user_message') link.sendUserMessage(text);
    else link.sendContextualUpdate(text);
  }

  /** Lets the queued agent audio play out (caller audio stopped), then ends the call for `reason`. */
  async finishAfterGoodbye(reason: EndReason): Promise<void> {
    const link = this.link;
    if (link !== undefined) {
      link.stopCallerAudio();
      await link.drainPlayout(this.#host.settings.drainTimeoutMs);
    }
    await this.#host.end(reason);
  }

  /** The agent leaves the call now (after a transfer): the link and the ExternalMedia channel go. */
  async release(): Promise<void> {
    this.#isReleased = true;
    await this.#disposers.disposeAll();
  }

  #onAgentClosed(code: number, reason: string, by: string): void {
    const h = this.#host;
    // After a transfer the agent has left on purpose; the caller talks to the transfer target.
    if (h.isEnding() || h.isTransferred()) return;
    h.log.info({ code, reason, by }, 'agent socket closed');
    if (code === 1000 && h.isAnswered()) {
      // The agent ended the conversation (end_call or max duration on its side): its goodbye is still queued.
      this.finishAfterGoodbye('agent').catch((err: unknown) => h.log.error({ err }, 'goodbye failed'));
      return;
    }
    h.fail('agent-error', new AgentConnectionError('AGENT_CLOSED', `agent closed the conversation (${code} ${reason})`.trim(), { closeCode: code }));
  }

  async #runTool(link: ConversationLink, call: AgentToolCall): Promise<void> {
    const h = this.#host;
    h.log.info({ tool: call.toolName }, 'agent tool call');
    const tools: AgentToolHost = {
      endCallAfterPlayout: () => {
        this.#isAgentEnding = true;
        this.finishAfterGoodbye('agent').catch((err: unknown) => h.log.error({ err }, 'goodbye failed'));
      },
      sendDtmf: (digits) => this.#sendDtmf(digits),
      transfer: (phoneNumber) => h.transfer(phoneNumber),
    };
    const { result, isError } = await runAgentTool(call, tools);
    if (isError) h.log.warn({ tool: call.toolName, result }, 'agent tool failed');
    link.sendToolResult(call.toolCallId, result, isError);
    // After a transfer the agent leaves: released once its tool result went out.
    if (h.isTransferred() && !this.#isReleased) await this.release();
  }

  async #sendDtmf(digits: string): Promise<void> {
    const max = this.#host.settings.sendDtmfMaxDigits;
    if (this.#dtmfDigitsSent + digits.length > max) {
      throw new BridgeError('DTMF_LIMIT', `at most ${max} keypad digits may be sent on one call`);
    }
    this.#dtmfDigitsSent += digits.length;
    await this.#host.control.sendDtmf(this.#host.channelId, digits);
  }
}
