import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AriEvent } from '../ari/ari-events';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import { AgentConnectionError, BridgeError } from '../errors';
import { DisposerStack } from '../lifecycle/disposer-stack';
import { withTimeout } from '../lifecycle/timers';
import type { AgentToolCall, ConversationLink, LinkOpener } from '../media/conversation-link';
import type { CallRecord } from '../model/call-record';
import type { AmdMode, BridgeMetrics, CallStatus, StartCallRequest, TranscriptEntry } from '../model/call-view';
import type { AdmissionTicket } from './admission';
import { runAgentTool, type AgentToolHost } from './agent-tools';
import { bridgeId, callChannelId, recordingName } from './ari-ids';
import { CallFacts, type CallOrigin } from './call-facts';
import { finalStatus, isEndingState, isUnansweredState, nextCallState, type CallState } from './call-state';
import type { EndReason } from './hangup-cause';
import { interpretLegEvent, type LegIntent } from './leg-events';
import { bridgeLegToMedia } from './media-bridge';
import { CallTransfers, type TransferAttempt, type TransferSettings } from './transfer';

export type { CallOrigin } from './call-facts';
export type { CallState } from './call-state';

export interface CallSettings {
  ariApp: string;
  trunkEndpoint: string;
  callerId: string | undefined;
  ringTimeoutS: number;
  maxDurationS: number;
  externalMediaFormat: 'slin' | 'alaw' | 'ulaw';
  /** How long after answer the agent may still be connecting before the call fails. */
  agentReadyTimeoutMs: number;
  /** Longest goodbye we play after the agent ended the conversation. */
  drainTimeoutMs: number;
  /** While the phone rings, tell the agent someone is coming so it does not re-engage. */
  ringingActivityIntervalMs: number;
  metricsLogIntervalMs: number;
  /** How caller keypad digits reach the agent. */
  dtmfToAgent: 'user_message' | 'contextual_update' | 'off';
  /** Most DTMF digits the agent may send on one call (send_dtmf). */
  sendDtmfMaxDigits: number;
  transfer: TransferSettings;
  /** Destination policy: an Error naming why a number may not be dialled, or null. */
  checkDestination: (phoneNumber: string) => Error | null;
  /** Longest wait for one release at teardown (an agent close handshake, an ARI request). */
  releaseStepTimeoutMs: number;
  /** NODE_ID, written into the record of every call this process carries. */
  nodeId?: string;
}

/** Dialplan context (asterisk-conf/extensions.conf) that runs AMD() and returns to Stasis with `amd,<status>,<cause>`. */
export const AMD_CONTEXT = 'vg-amd';

export interface CallDeps {
  control: CallControl;
  router: AriEventRouter;
  openLink: LinkOpener;
  settings: CallSettings;
  log: Logger;
  /** A place for a transfer leg (capacity and the attempt rate limit); throws the refusal. */
  admitTransferLeg: () => AdmissionTicket;
}

interface CallEvents {
  status: [CallStatus];
  /** A new transcript line, the `seq`-th of the call (0-based). */
  transcript: [TranscriptEntry, number];
  /** The caller barged in; queued agent audio was dropped. */
  interruption: [];
  /** Every METRICS_LOG_INTERVAL_MS while bridged: cumulative media counters. */
  metrics: [BridgeMetrics];
  /** The agent conversation is ready, `ms` after the call started. */
  agentConnected: [ms: number];
  /** The first agent audio left for the caller, `ms` after answer. */
  firstAudio: [ms: number];
  /** The caller pressed a key. */
  dtmf: [digit: string];
  /** Answering-machine detection decided: HUMAN, MACHINE or NOTSURE, with Asterisk's cause. */
  amd: [result: string, cause: string];
  /** The agent asked for a transfer (allowed or refused). */
  transferAttempt: [TransferAttempt];
  /** The caller now talks to `phoneNumber`; the agent has left. */
  transferred: [phoneNumber: string];
  /** An agent audio frame too big for the playout queue was refused. */
  frameRefused: [bytes: number];
  ended: [CallRecord];
}

/**
 * One phone call: it owns everything it opens — the leg's ARI subscription, the call leg, the
 * conversation link (agent socket and media), the bridge and ExternalMedia channel, a transfer leg,
 * the recording and its timers — each registered for release where it is acquired. `end()` is the
 * one teardown path: it runs once, never throws, hangs up the caller's leg first and releases the
 * rest in parallel (docs/architecture.md). The rules live in pure cores: the state machine
 * (call-state.ts), the leg's events (leg-events.ts), the record (call-facts.ts), transfers
 * (transfer.ts) and agent tools (agent-tools.ts).
 */
export class Call extends EventEmitter<CallEvents> {
  readonly id: string;
  readonly log: Logger;
  readonly #deps: CallDeps;
  readonly #facts: CallFacts;
  readonly #abort = new AbortController();
  readonly #disposers: DisposerStack;
  /** The agent link and the ExternalMedia channel: released with the call, or earlier at a transfer. */
  readonly #conversation: DisposerStack;
  readonly #channelId: string;
  readonly #transfers: CallTransfers;
  #state: CallState = 'dialing';
  #hasChannel = false;
  #link: ConversationLink | undefined;
  #linkReady: Promise<ConversationLink> | undefined;
  #isLinkReleased = false;
  #isInAmd = false;
  #isAgentEnding = false;
  #answeredAtMs: number | undefined;
  #dtmfDigitsSent = 0;
  #ended: Promise<void> | undefined;

  constructor(id: string, request: StartCallRequest, deps: CallDeps, origin: CallOrigin = { direction: 'outbound' }) {
    super();
    this.id = id;
    this.#deps = deps;
    this.#facts = new CallFacts(id, request, origin, new Date(), 'dialing', deps.settings.nodeId ?? null);
    this.#channelId = origin.direction === 'inbound' ? origin.channelId : callChannelId(id);
    this.log = deps.log.child({ callId: id, direction: origin.direction });
    this.#disposers = new DisposerStack(this.log, { stepTimeoutMs: deps.settings.releaseStepTimeoutMs });
    this.#conversation = this.#disposers.child('conversation');
    this.#transfers = this.#createTransfers();
  }

  /** The call leg's ARI channel id. */
  get channelId(): string {
    return this.#channelId;
  }

  /** True once its call leg exists in Asterisk: the originate was accepted, or the call came in. */
  get hasChannel(): boolean {
    return this.#hasChannel;
  }

  get state(): CallState {
    return this.#state;
  }

  get isEnded(): boolean {
    return this.#state === 'ended';
  }

  /** The stored recording's name when this call is recorded. */
  get recordingName(): string | undefined {
    return this.#facts.isRecording ? recordingName(this.id) : undefined;
  }

  /**
   * Places the call. Resolves once Asterisk accepted the originate (the phone is being dialled);
   * rejects, with the call already ended as failed, if it did not.
   */
  async start(): Promise<void> {
    if (this.#facts.origin.direction !== 'outbound') throw new Error('start() is for outbound calls; use accept()');
    const { control, settings } = this.#deps;
    const request = this.#facts.request;
    this.#subscribeCallLeg();
    const ringTimeoutS = request.ringTimeoutS ?? settings.ringTimeoutS;
    // Open the agent while the phone rings, so its greeting is ready at answer.
    this.#linkReady = this.#openLink();
    this.#linkReady.catch((err: unknown) => this.#failInBackground('agent-error', err));
    try {
      await control.originate({
        endpoint: `PJSIP/${dialString(request.phoneNumber)}@${settings.trunkEndpoint}`,
        channelId: this.#channelId,
        app: settings.ariApp,
        appArgs: `outbound,${this.id}`,
        callerId: request.callerId ?? settings.callerId,
        timeoutS: ringTimeoutS,
        formats: 'alaw,ulaw',
        variables: { VG_CALL_ID: this.id, VG_AGENT_ID: request.agentId ?? 'default' },
      });
    } catch (err) {
      await this.#fail('error', err);
      throw err;
    }
    // Registered after originate succeeded: before that there is no channel to hang up.
    this.#hasChannel = true;
    this.#disposers.defer('call-leg', () => control.hangup(this.#channelId), 'first');
    // Asterisk ends ringing itself at `timeout`; this guards against a lost ChannelDestroyed.
    this.#timer('ring-guard', (ringTimeoutS + 10) * 1000, () => {
      if (isUnansweredState(this.#state)) this.#endInBackground('ring-timeout');
    });
  }

  /**
   * Takes an inbound call that is in Stasis and ringing: connects the agent first (the caller hears
   * ringing meanwhile), then answers and bridges. Never rejects; failures end the call.
   */
  async accept(): Promise<void> {
    if (this.#facts.origin.direction !== 'inbound') throw new Error('accept() is for inbound calls; use start()');
    const { control, settings } = this.#deps;
    this.#hasChannel = true;
    this.#subscribeCallLeg();
    this.#disposers.defer('call-leg', () => control.hangup(this.#channelId), 'first');
    this.#transition('ringing');
    this.#linkReady = this.#openLink();
    try {
      await withTimeout(this.#linkReady, settings.agentReadyTimeoutMs, () => new AgentConnectionError('AGENT_NOT_READY', 'agent not connected in time'));
      if (this.#isEnding()) return;
      await control.answer(this.#channelId);
      await control.setChannelVar(this.#channelId, 'VG_CALL_ID', this.id).catch((err: unknown) => this.log.debug({ err }, 'could not set VG_CALL_ID'));
      await this.#onAnswered();
    } catch (err) {
      await this.#fail(err instanceof AgentConnectionError ? 'agent-error' : 'error', err);
    }
  }

  /**
   * Ends the call for `reason`; `error`, if given, is recorded as why it failed. Idempotent: later
   * calls return the first teardown. Never rejects.
   */
  end(reason: EndReason, error?: BridgeError): Promise<void> {
    if (this.#ended === undefined) {
      if (error) this.#facts.recordError(`${error.code}: ${error.message}`);
      this.#facts.endReason = reason;
      this.#ended = this.#teardown();
    }
    return this.#ended;
  }

  /** Playout timing problems of this call so far (for metrics). */
  playoutIssues(): { lateFrames: number; droppedFrames: number } {
    return this.#link?.playoutIssues() ?? { lateFrames: 0, droppedFrames: 0 };
  }

  /** The call's record as of now. */
  view(): CallRecord {
    this.#refreshMetrics();
    return this.#facts.record();
  }

  /** The record without its transcript, for the store. */
  summary(): Omit<CallRecord, 'transcript'> {
    this.#refreshMetrics();
    return this.#facts.summary();
  }

  // ---- conversation (agent + media) --------------------------------------------------------

  async #openLink(): Promise<ConversationLink> {
    const r = this.#facts.request;
    const startedMs = performance.now();
    const link = await this.#deps.openLink(
      this.id,
      { agentId: r.agentId, voiceId: r.voiceId, dynamicVariables: r.dynamicVariables, firstMessage: r.firstMessage, prompt: r.prompt, language: r.language },
      this.#abort.signal,
    );
    // Registered before anything else can fail; runs at once if the call already ended.
    this.#conversation.defer('link', () => link.close(1000, 'call ended'));
    if (this.#conversation.isDisposed) throw new AgentConnectionError('CALL_ENDED', 'call ended while the agent connected');
    this.#link = link;
    this.#facts.conversationId = link.conversationId;
    this.#emit('agentConnected', performance.now() - startedMs);
    this.log.info({ conversationId: link.conversationId, in: link.inputFormat, out: link.outputFormat }, 'agent connected');
    link.setHandlers({
      onTranscript: (role, text) => this.#addTranscript(role, text),
      onInterruption: () => this.#emit('interruption'),
      onEndCallRequested: () => {
        this.#isAgentEnding = true;
      },
      onToolCall: (call) => {
        this.#runTool(link, call).catch((err: unknown) => this.log.error({ err, tool: call.toolName }, 'agent tool handling failed'));
      },
      onAgentClosed: (code, reason, by) => this.#onAgentClosed(code, reason, by),
      onFirstPlayout: () => {
        if (this.#answeredAtMs !== undefined) this.#emit('firstAudio', performance.now() - this.#answeredAtMs);
      },
      onFrameRefused: (bytes) => {
        this.log.warn({ bytes }, 'agent audio frame larger than the playout queue can take; refused');
        this.#emit('frameRefused', bytes);
      },
      onFailed: (err) => this.#failInBackground('error', err),
    });
    if (isUnansweredState(this.#state)) {
      const activity = setInterval(() => {
        if (isUnansweredState(this.#state)) link.sendUserActivity();
      }, this.#deps.settings.ringingActivityIntervalMs);
      this.#conversation.defer('ringing-activity', () => clearInterval(activity));
    }
    return link;
  }

  #onAgentClosed(code: number, reason: string, by: string): void {
    // After a transfer the agent has left on purpose; the caller talks to the transfer target.
    if (this.#isEnding() || this.#facts.transferredTo !== null) return;
    this.log.info({ code, reason, by }, 'agent socket closed');
    if (code === 1000 && this.#state === 'answered') {
      // The agent ended the conversation (end_call or max duration on its side): its goodbye is still queued.
      this.#finishAfterGoodbye('agent').catch((err: unknown) => this.log.error({ err }, 'goodbye failed'));
      return;
    }
    this.#failInBackground('agent-error', new AgentConnectionError('AGENT_CLOSED', `agent closed the conversation (${code} ${reason})`.trim(), { closeCode: code }));
  }

  async #finishAfterGoodbye(reason: EndReason): Promise<void> {
    const link = this.#isLinkReleased ? undefined : this.#link;
    if (link !== undefined) {
      link.stopCallerAudio();
      await link.drainPlayout(this.#deps.settings.drainTimeoutMs);
    }
    await this.end(reason);
  }

  async #runTool(link: ConversationLink, call: AgentToolCall): Promise<void> {
    this.log.info({ tool: call.toolName }, 'agent tool call');
    const host: AgentToolHost = {
      endCallAfterPlayout: () => {
        this.#isAgentEnding = true;
        this.#finishAfterGoodbye('agent').catch((err: unknown) => this.log.error({ err }, 'goodbye failed'));
      },
      sendDtmf: (digits) => this.#sendDtmf(digits),
      transfer: (phoneNumber) => this.#transfers.transfer(phoneNumber),
    };
    const { result, isError } = await runAgentTool(call, host);
    if (isError) this.log.warn({ tool: call.toolName, result }, 'agent tool failed');
    link.sendToolResult(call.toolCallId, result, isError);
    // After a transfer the agent leaves: released once its tool result went out.
    if (this.#facts.transferredTo !== null && !this.#isLinkReleased) await this.#releaseConversation();
  }

  async #sendDtmf(digits: string): Promise<void> {
    const max = this.#deps.settings.sendDtmfMaxDigits;
    if (this.#dtmfDigitsSent + digits.length > max) {
      throw new BridgeError('DTMF_LIMIT', `at most ${max} keypad digits may be sent on one call`);
    }
    this.#dtmfDigitsSent += digits.length;
    await this.#deps.control.sendDtmf(this.#channelId, digits);
  }

  async #releaseConversation(): Promise<void> {
    this.#refreshMetrics();
    this.#isLinkReleased = true;
    await this.#conversation.disposeAll();
  }

  #createTransfers(): CallTransfers {
    const { control, router, settings } = this.#deps;
    return new CallTransfers({
      callId: this.id,
      control,
      router,
      log: this.log,
      disposers: this.#disposers,
      signal: this.#abort.signal,
      settings: settings.transfer,
      dial: { app: settings.ariApp, trunkEndpoint: settings.trunkEndpoint, callerId: this.#facts.request.callerId ?? settings.callerId },
      checkDestination: (n) => settings.checkDestination(n),
      admitLeg: () => this.#deps.admitTransferLeg(),
      isAnswered: () => this.#state === 'answered',
      isEnding: () => this.#isEnding(),
      onAttempt: (attempt) => {
        this.log.warn({ isAllowed: attempt.isAllowed, reason: attempt.reason, pii: { phoneNumber: attempt.phoneNumber } }, 'transfer requested by the agent');
        this.#emit('transferAttempt', attempt);
      },
      onBridged: (phoneNumber) => {
        this.#refreshMetrics();
        this.#facts.transferredTo = phoneNumber;
        this.#emit('transferred', phoneNumber);
      },
      onTransferredCallEnded: (reason) => this.#endInBackground(reason),
    });
  }

  #addTranscript(role: 'user' | 'agent', text: string): void {
    const entry: TranscriptEntry = { role, text, at: new Date().toISOString() };
    const seq = this.#facts.transcript.push(entry) - 1;
    this.log.debug({ pii: { role, text } }, 'transcript');
    this.#emit('transcript', entry, seq);
  }

  #refreshMetrics(): void {
    if (this.#link !== undefined && !this.#isLinkReleased) this.#facts.metrics = this.#link.metrics();
  }

  // ---- the call leg ------------------------------------------------------------------------

  #subscribeCallLeg(): void {
    const sub = this.#deps.router.subscribe(this.#channelId, (e) => this.#onCallLegEvent(e));
    this.#disposers.defer('ari-subscription', () => sub.cancel(), 'last');
  }

  #onCallLegEvent(event: AriEvent): void {
    const context = {
      state: this.#state,
      direction: this.#facts.origin.direction,
      isAnswered: this.#facts.answeredAt !== null,
      isInAmd: this.#isInAmd,
    };
    const intents = interpretLegEvent(context, event);
    if (intents.length === 0 && isEndingState(this.#state)) this.log.debug({ type: event.type }, 'event after end ignored');
    for (const intent of intents) this.#apply(intent);
  }

  #apply(intent: LegIntent): void {
    const f = this.#facts;
    switch (intent.kind) {
      case 'record-hangup-cause':
        if (f.hangupCause === null) {
          f.hangupCause = intent.cause;
          f.hangupCauseText = intent.text;
          f.sipCode = intent.sipCode;
        }
        return;
      case 'ringing':
        this.#transition('ringing');
        return;
      case 'answered':
        this.#onOutboundAnswered().catch((err: unknown) => this.#failInBackground('error', err));
        return;
      case 'amd-result':
        this.#onAmdResult(intent.status, intent.cause).catch((err: unknown) => this.#failInBackground('error', err));
        return;
      case 'asterisk-shutdown':
        this.#failInBackground('error', new BridgeError('ASTERISK_SHUTDOWN', 'Asterisk shut down during the call'));
        return;
      case 'dtmf':
        this.#onDtmf(intent.digit);
        return;
      case 'end':
        this.#endInBackground(intent.reason);
        return;
    }
  }

  #onDtmf(digit: string): void {
    this.#emit('dtmf', digit);
    const mode = this.#deps.settings.dtmfToAgent;
    const link = this.#isLinkReleased ? undefined : this.#link;
    if (link === undefined || mode === 'off') return;
    const text = `The caller pressed the key "${digit}" on the phone keypad.`;
    if (mode === 'user_message') link.sendUserMessage(text);
    else link.sendContextualUpdate(text);
  }

  /** Outbound answer: straight to the agent, or first through AMD when the request asked for it. */
  async #onOutboundAnswered(): Promise<void> {
    const amd: AmdMode = this.#facts.request.amd ?? 'off';
    if (amd === 'off') return this.#onAnswered();
    this.#markAnswered();
    this.#isInAmd = true;
    await this.#deps.control.continueInDialplan(this.#channelId, AMD_CONTEXT, 's');
  }

  async #onAmdResult(status: string, cause: string): Promise<void> {
    this.#isInAmd = false;
    this.#facts.amdResult = status;
    this.#emit('amd', status, cause);
    this.log.info({ amd: status, cause }, 'answering machine detection');
    if (status === 'MACHINE' && this.#facts.request.amd === 'hangup') {
      await this.end('answering-machine');
      return;
    }
    // HUMAN, NOTSURE, or a machine that should get a message: AMD has waited for the greeting to
    // end, so the agent does not talk over it.
    await this.#onAnswered();
  }

  #markAnswered(): void {
    if (this.#facts.answeredAt !== null) return;
    this.#facts.answeredAt = new Date();
    this.#answeredAtMs = performance.now();
    this.#transition('answered');
    const maxS = this.#facts.request.maxDurationS ?? this.#deps.settings.maxDurationS;
    this.#timer('max-duration', maxS * 1000, () => {
      this.log.info({ maxS }, 'maximum call duration reached');
      this.#finishAfterGoodbye('max-duration').catch((err: unknown) => this.log.error({ err }, 'goodbye failed'));
    });
  }

  async #onAnswered(): Promise<void> {
    this.#markAnswered();
    const { control, router, settings } = this.#deps;
    const link = await withTimeout(this.#linkReady!, settings.agentReadyTimeoutMs, () =>
      new AgentConnectionError('AGENT_NOT_READY', 'agent not connected in time after answer', { retryable: true }),
    );
    if (this.#isEnding()) return;
    const remote = await bridgeLegToMedia({
      control,
      router,
      callDisposers: this.#disposers,
      mediaDisposers: this.#conversation,
      app: settings.ariApp,
      format: settings.externalMediaFormat,
      callId: this.id,
      legChannelId: this.#channelId,
      localRtpAddress: link.localRtpAddress,
      isEnding: () => this.#isEnding(),
    });
    if (!remote) return;
    link.start(remote);
    if (this.#facts.request.record === true) {
      await control
        .recordBridge(bridgeId(this.id), recordingName(this.id))
        .then(() => {
          this.#facts.isRecording = true;
        })
        .catch((err: unknown) => this.log.warn({ err }, 'could not start the recording'));
    }
    this.log.info({ conversationId: link.conversationId, rtpRemote: `${remote.address}:${remote.port}` }, 'call bridged to agent');
    control
      .setChannelVar(this.#channelId, 'VG_CONVERSATION_ID', link.conversationId)
      .catch((err: unknown) => this.log.debug({ err }, 'could not set VG_CONVERSATION_ID'));
    const metricsTimer = setInterval(() => {
      if (this.#isLinkReleased) return;
      this.#refreshMetrics();
      const metrics = this.#facts.metrics;
      this.log.info({ metrics }, 'bridge metrics');
      this.#emit('metrics', metrics);
    }, settings.metricsLogIntervalMs);
    this.#conversation.defer('metrics-timer', () => clearInterval(metricsTimer));
  }

  // ---- teardown ----------------------------------------------------------------------------

  /** Ends the call with `err` recorded as why it failed. Never rejects. */
  async #fail(reason: EndReason, err: unknown): Promise<void> {
    if (this.#ended !== undefined) return this.#ended;
    this.#facts.recordError(err instanceof BridgeError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err));
    this.log.warn({ err, reason }, 'call failed');
    return this.end(reason);
  }

  #failInBackground(reason: EndReason, err: unknown): void {
    this.#fail(reason, err).catch((e: unknown) => this.log.error({ err: e }, 'call teardown failed'));
  }

  #endInBackground(reason: EndReason): void {
    this.end(reason).catch((err: unknown) => this.log.error({ err }, 'call teardown failed'));
  }

  async #teardown(): Promise<void> {
    const f = this.#facts;
    const reason = f.endReason ?? 'error';
    const wasAnswered = f.answeredAt !== null;
    this.#state = 'ending';
    this.#abort.abort();
    this.#refreshMetrics();
    await this.#disposers.disposeAll();
    this.#refreshMetrics();
    this.#isLinkReleased = true;
    const now = new Date();
    f.endedAt = now;
    f.setStatus(finalStatus(reason, wasAnswered, f.error !== null), now);
    this.#state = 'ended';
    this.log.info(
      { status: f.status, reason, hangupCause: f.hangupCause, metrics: f.metrics, agentEnded: this.#isAgentEnding },
      'call ended',
    );
    this.#emit('status', f.status);
    this.#emit('ended', f.record());
  }

  #transition(to: CallState): void {
    this.#state = nextCallState(this.#state, to);
    const status: CallStatus = to === 'ringing' ? 'ringing' : 'answered';
    this.#facts.setStatus(status, new Date());
    this.log.info({ status }, 'call status');
    this.#emit('status', status);
  }

  #isEnding(): boolean {
    return isEndingState(this.#state);
  }

  #timer(label: string, ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    this.#disposers.defer(label, () => clearTimeout(t));
  }

  /**
   * Delivers an event to every listener even when one throws (logged): a faulty observer must not
   * keep the call from reporting its end, nor the registry from forgetting it.
   */
  #emit<K extends keyof CallEvents>(event: K, ...args: CallEvents[K]): void {
    for (const listener of this.rawListeners(event) as ((...a: CallEvents[K]) => void)[]) {
      try {
        listener.apply(this, args);
      } catch (err) {
        this.log.error({ err, event }, 'call event listener threw');
      }
    }
  }
}

/** Carriers take national E.164 digits without the '+'. */
function dialString(e164: string): string {
  return e164.replace(/^\+/, '');
}
