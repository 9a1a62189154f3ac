import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AriEvent } from '../ari/ari-events';
import type { ExternalMediaAddress } from '../ari/call-control';
import { AgentConnectionError, BridgeError } from '../errors';
import { DisposerStack } from '../lifecycle/disposer-stack';
import { SafeEmitter } from '../lifecycle/safe-emitter';
import { epochNowMs, withTimeout } from '../lifecycle/timers';
import type { CallRecord } from '../model/call-record';
import type { AmdMode, CallStatus, StartCallRequest, TranscriptEntry } from '../model/call-view';
import { AgentConnect, startRingback, type AgentLeg } from './agent-connect';
import { AgentLines, type LineChange } from './agent-lines';
import { agentRequestOf } from './agent-request';
import { bridgeId, callChannelId, mediaChannelId, recordingName, ringbackId } from './ari-ids';
import { CallConversation } from './call-conversation';
import { CallFacts, type CallOrigin } from './call-facts';
import { finalStatus, isEndingState, isUnansweredState, nextCallState, type CallState } from './call-state';
import { AMD_CONTEXT, type CallDeps, type CallEvents } from './call-types';
import type { EndReason } from './hangup-cause';
import { interpretLegEvent, type LegIntent } from './leg-events';
import { createCallBridge, joinAgentMedia, startConversationMedia } from './media-bridge';
import { CallTransfers } from './transfer';

/**
 * Longest a dial waits for the conversation's ExternalMedia channel to join the bridge: it takes a
 * few ARI requests (tens of ms; longer when Asterisk is loaded), and a dial must not hang on it.
 */
const MEDIA_BEFORE_DIAL_MAX_MS = 2000;

export type { CallOrigin } from './call-facts';
export type { CallState } from './call-state';
export { AMD_CONTEXT, type CallDeps, type CallEvents, type CallSettings } from './call-types';

/**
 * One phone call: it owns everything it opens — the leg's ARI subscription, the call leg, the
 * conversation (agent socket and media), the bridge and ExternalMedia channel, a transfer leg,
 * the recording and its timers — each registered for release where it is acquired. `end()` is the
 * one teardown path: it runs once, never throws, hangs up the caller's leg first and releases the
 * rest in parallel (docs/architecture.md). The rules live in small cores it composes: the state
 * machine (call-state.ts), the leg's events (leg-events.ts), the record (call-facts.ts), the
 * conversation (call-conversation.ts) and transfers (transfer.ts).
 */
export class Call extends SafeEmitter<CallEvents> {
  readonly id: string;
  readonly log: Logger;
  readonly #deps: CallDeps;
  readonly #facts: CallFacts;
  readonly #agentLines: AgentLines;
  readonly #abort = new AbortController();
  readonly #disposers: DisposerStack;
  /** The agent's part (link, ExternalMedia channel): released with the call, or at a transfer. */
  readonly #conversationDisposers: DisposerStack;
  readonly #conversation: CallConversation;
  /** When the agent's side (link + ExternalMedia channel) opens: AGENT_CONNECT. */
  readonly #connect: AgentConnect;
  readonly #transfers: CallTransfers;
  readonly #channelId: string;
  #state: CallState = 'dialing';
  #hasChannel = false;
  /** The leg in the call's bridge and, outbound, dialled. */
  #placed: Promise<void> | undefined;
  /** The bridge exists with the leg in it (outbound: not dialled yet): an agent leg joins the bridge after it. */
  #bridged: Promise<void> | undefined;
  /** Settles when the first conversation's ExternalMedia channel joined the bridge or failed to (the dial waits for it). */
  readonly #firstMediaJoin: Promise<void>;
  #settleFirstMediaJoin!: () => void;
  #isInAmd = false;
  #answeredAtMs: number | undefined;
  #ended: Promise<void> | undefined;

  constructor(id: string, request: StartCallRequest, deps: CallDeps, origin: CallOrigin = { direction: 'outbound' }) {
    super();
    this.id = id;
    this.#deps = deps;
    this.#facts = new CallFacts(id, request, origin, new Date(), 'dialing', deps.settings.nodeId ?? null);
    this.#agentLines = new AgentLines(this.#facts.transcript);
    this.#channelId = origin.direction === 'inbound' ? origin.channelId : callChannelId(id);
    this.log = deps.log.child({ callId: id, direction: origin.direction });
    this.#disposers = new DisposerStack(this.log, { stepTimeoutMs: deps.settings.releaseStepTimeoutMs });
    this.#conversationDisposers = this.#disposers.child('conversation');
    this.#firstMediaJoin = new Promise<void>((resolve) => (this.#settleFirstMediaJoin = resolve));
    this.#conversation = this.#createConversation();
    this.#connect = this.#createConnect();
    this.#transfers = this.#createTransfers();
  }

  /** The call leg's ARI channel id. */
  get channelId(): string {
    return this.#channelId;
  }

  /** True once its call leg exists in Asterisk: created in Stasis (outbound), or the call came in. */
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
   * Places the call: the call's bridge, the leg created in Stasis and put into the bridge, then
   * dialled. Resolves once the phone is being dialled; rejects, with the call already ended as
   * failed, if Asterisk refused. With AGENT_CONNECT=ringing the agent connects meanwhile and its
   * ExternalMedia channel joins the bridge while the phone rings, so the answer starts the audio
   * with no ARI request (docs/asterisk.md#early-bridge).
   */
  async start(): Promise<void> {
    if (this.#facts.origin.direction !== 'outbound') throw new Error('start() is for outbound calls; use accept()');
    const { settings } = this.#deps;
    const ringTimeoutS = this.#facts.request.ringTimeoutS ?? settings.ringTimeoutS;
    this.#subscribeCallLeg();
    this.#bridged = this.#bridgeLeg();
    // AGENT_CONNECT=ringing: the agent opens while the phone rings (its greeting ready at answer);
    // its ExternalMedia channel joins the bridge before the leg is dialled.
    this.#connect.dialing();
    this.#placed = this.#dialLeg(ringTimeoutS, this.#connect.generation !== undefined);
    try {
      await this.#placed;
    } catch (err) {
      await this.#fail('error', err);
      throw err;
    }
    // Asterisk ends ringing itself at `timeout`; this guards against a lost ChannelDestroyed.
    this.#timer('ring-guard', (ringTimeoutS + 10) * 1000, () => {
      if (isUnansweredState(this.#state)) this.#endInBackground('ring-timeout');
    });
  }

  /**
   * Dials the bridged leg; with a conversation opening (`hasMedia`), once its ExternalMedia channel
   * joined the bridge, or failed to, or after MEDIA_BEFORE_DIAL_MAX_MS: a phone answered before the
   * channel is in the bridge loses what the callee says first, in Asterisk, before it reaches us
   * (docs/architecture.md#the-caller-is-heard-from-the-answer).
   */
  async #dialLeg(ringTimeoutS: number, hasMedia: boolean): Promise<void> {
    await this.#bridged;
    if (hasMedia && !this.#isEnding()) {
      // The limit's timer ends early with the call, or once the channel joined.
      const joined = new AbortController();
      const limit = sleep(MEDIA_BEFORE_DIAL_MAX_MS, undefined, { signal: AbortSignal.any([this.#abort.signal, joined.signal]) });
      await Promise.race([this.#firstMediaJoin, limit.catch(() => undefined)]);
      joined.abort();
    }
    // Ended meanwhile (an API hang-up while the media joined): nothing to dial, the leg is going.
    if (this.#isEnding()) return;
    await this.#deps.control.dial(this.#channelId, ringTimeoutS);
  }

  /** The call's bridge, and the leg created in Stasis and put into it, not dialled yet. */
  async #bridgeLeg(): Promise<void> {
    const { control, settings } = this.#deps;
    const request = this.#facts.request;
    const callerId = request.callerId ?? settings.callerId;
    // A created channel enters Stasis a moment after the request returns; bridging it before then
    // fails with 422 (docs/asterisk.md#the-bridging-race).
    const inStasis = new Promise<void>((resolve) => {
      const sub = this.#deps.router.subscribe(this.#channelId, () => resolve(), ['StasisStart']);
      this.#disposers.defer('leg-stasis-subscription', () => sub.cancel(), 'last');
    });
    await createCallBridge(control, this.#disposers, this.id);
    await control.createChannel({
      endpoint: `PJSIP/${request.phoneNumber.replace(/^\+/, '')}@${settings.trunkEndpoint}`,
      channelId: this.#channelId,
      app: settings.ariApp,
      appArgs: `outbound,${this.id}`,
      formats: 'alaw,ulaw',
      variables: { VG_CALL_ID: this.id, VG_AGENT_ID: request.agentId ?? 'default', ...(callerId === undefined ? {} : { 'CALLERID(num)': callerId }) },
    });
    // Registered once the channel exists: before that there is nothing to hang up.
    this.#hasChannel = true;
    this.#disposers.defer('call-leg', () => control.hangup(this.#channelId), 'first');
    await withTimeout(inStasis, 3000, () => new BridgeError('LEG_NOT_IN_STASIS', 'the call leg did not enter Stasis'));
    await control.addToBridge(bridgeId(this.id), [this.#channelId]);
  }

  /**
   * Takes an inbound call that is in Stasis and ringing: connects the agent and builds the media
   * path first (the caller hears ringing meanwhile), then answers. Never rejects; failures end the call.
   */
  async accept(): Promise<void> {
    if (this.#facts.origin.direction !== 'inbound') throw new Error('accept() is for inbound calls; use start()');
    const { control, settings } = this.#deps;
    this.#hasChannel = true;
    this.#subscribeCallLeg();
    this.#disposers.defer('call-leg', () => control.hangup(this.#channelId), 'first');
    this.#transition('ringing');
    this.#placed = (async () => {
      await createCallBridge(control, this.#disposers, this.id);
      await control.addToBridge(bridgeId(this.id), [this.#channelId]);
    })();
    this.#bridged = this.#placed;
    const agent = this.#connect.now();
    try {
      await this.#placed;
      await withTimeout(agent, settings.agentReadyTimeoutMs, () => new AgentConnectionError('AGENT_NOT_READY', 'agent not connected in time'));
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
    return this.#conversation.link?.playoutIssues() ?? { lateFrames: 0, droppedFrames: 0 };
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

  // ---- parts -------------------------------------------------------------------------------

  /**
   * One AGENT_CONNECT attempt: the link and its ExternalMedia channel in the call's bridge. The
   * channel joins as soon as the link's RTP endpoint is bound, while the agent still connects, and
   * the caller's audio from the answer on is kept for the agent (docs/architecture.md#the-caller-is-heard-from-the-answer).
   */
  async #openAgentLeg(generation: number, signal: AbortSignal, disposers: DisposerStack, answered: Promise<number>): Promise<AgentLeg> {
    const { control, router, settings } = this.#deps;
    const request = agentRequestOf(this.#facts.request, settings.agentUserId);
    let onLocalAddress!: (address: string) => void;
    const localAddress = new Promise<string>((resolve) => (onLocalAddress = resolve));
    let onJoined!: (remote: ExternalMediaAddress) => void;
    const joined = new Promise<ExternalMediaAddress>((resolve) => (onJoined = resolve));
    const opening = this.#conversation.open(request, signal, disposers, { onLocalAddress, joined, answered });
    // The record names the conversation as soon as it is open, whether or not the media joined yet.
    opening.then((link) => void (this.#facts.conversationId = link.conversationId), () => undefined);
    let remote: ExternalMediaAddress | undefined;
    try {
      // An opener without early media (a test's) gives its address only with the link.
      const address = await Promise.race([localAddress, opening.then((link) => link.localRtpAddress)]);
      await this.#bridged;
      remote = await joinAgentMedia({
        control,
        router,
        mediaDisposers: disposers,
        app: settings.ariApp,
        format: settings.externalMediaFormat,
        callId: this.id,
        generation,
        localRtpAddress: address,
        isEnding: () => this.#isEnding() || disposers.isDisposed,
      });
    } finally {
      this.#settleFirstMediaJoin();
    }
    if (remote !== undefined) onJoined(remote);
    const link = await opening;
    return { link, remote };
  }

  #createConnect(): AgentConnect {
    return new AgentConnect(this.#deps.settings.agentConnect ?? { mode: 'ringing' }, {
      open: (generation, signal, disposers, answered) => this.#openAgentLeg(generation, signal, disposers, answered),
      disposers: this.#conversationDisposers,
      isUnanswered: () => isUnansweredState(this.#state),
      timer: (label, ms, fn) => this.#timer(label, ms, fn),
      onFailed: (err) => this.#failInBackground(err instanceof AgentConnectionError ? 'agent-error' : 'error', err),
      signal: this.#abort.signal,
      log: this.log,
    });
  }

  #createConversation(): CallConversation {
    const { control, openLink, settings } = this.#deps;
    return new CallConversation(
      {
        callId: this.id,
        log: this.log,
        control,
        channelId: this.#channelId,
        openLink,
        settings,
        isUnanswered: () => isUnansweredState(this.#state),
        isAnswered: () => this.#state === 'answered',
        isEnding: () => this.#isEnding(),
        answeredAtMs: () => this.#answeredAtMs,
        isTransferred: () => this.#facts.transferredTo !== null,
        addTranscript: (role, text, eventId) => this.#addTranscript(role, text, eventId),
        transfer: (phoneNumber) => this.#transfers.transfer(phoneNumber),
        end: (reason) => this.end(reason),
        fail: (reason, err) => this.#failInBackground(reason, err),
        report: {
          agentConnected: (ms) => this.#emit('agentConnected', ms),
          interruption: () => this.#emit('interruption'),
          firstAudio: (ms) => this.#emit('firstAudio', ms),
          firstCallerFrame: (ms) => this.#emit('firstCallerFrame', ms),
          frameRefused: (bytes) => this.#emit('frameRefused', bytes),
          agentSignal: (signal) => this.#emit('agentSignal', signal),
          lineHeard: (report) => this.#lineChanged(this.#agentLines.heard(report)),
          lineCorrected: (correction) => this.#lineChanged(this.#agentLines.corrected(correction)),
        },
      },
      this.#conversationDisposers,
    );
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
      mediaChannelId: () => {
        const generation = this.#connect.generation;
        return generation === undefined ? undefined : mediaChannelId(this.id, generation);
      },
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

  #addTranscript(role: 'user' | 'agent', text: string, eventId?: number): void {
    const entry: TranscriptEntry = { role, text, at: new Date().toISOString() };
    const seq = this.#facts.transcript.push(entry) - 1;
    this.#agentLines.added(seq, eventId);
    this.log.debug({ pii: { role, text } }, 'transcript');
    this.#emit('transcript', { ...entry }, seq);
  }

  #lineChanged(change: LineChange | undefined): void {
    if (change === undefined || this.#state === 'ended') return;
    const { heard, text, original_text: originalText } = change.entry;
    this.log.debug({ seq: change.seq, complete: heard?.complete, heardMs: heard?.ms, isCorrected: originalText !== undefined, pii: { text, heard: heard?.text } }, 'agent line updated');
    this.#emit('lineUpdated', { ...change.entry }, change.seq);
  }

  #refreshMetrics(): void {
    const metrics = this.#conversation.metrics();
    if (metrics !== undefined) this.#facts.metrics = metrics;
  }

  // ---- the call leg ------------------------------------------------------------------------

  #subscribeCallLeg(): void {
    const sub = this.#deps.router.subscribe(this.#channelId, (e) => this.#onCallLegEvent(e));
    this.#disposers.defer('ari-subscription', () => sub.cancel(), 'last');
  }

  #onCallLegEvent(event: AriEvent): void {
    const context = { state: this.#state, direction: this.#facts.origin.direction, isAnswered: this.#facts.answeredAt !== null, isInAmd: this.#isInAmd };
    const intents = interpretLegEvent(context, event);
    if (intents.length === 0 && isEndingState(this.#state)) this.log.debug({ type: event.type }, 'event after end ignored');
    for (const intent of intents) this.#apply(intent);
  }

  #apply(intent: LegIntent): void {
    const f = this.#facts;
    switch (intent.kind) {
      case 'record-hangup-cause':
        if (f.hangupCause === null) [f.hangupCause, f.hangupCauseText, f.sipCode] = [intent.cause, intent.text, intent.sipCode];
        return;
      case 'ringing':
        this.#transition('ringing');
        return;
      case 'answered':
        this.#onOutboundAnswered().catch((err: unknown) => this.#failInBackground(err instanceof AgentConnectionError ? 'agent-error' : 'error', err));
        return;
      case 'amd-result':
        this.#onAmdResult(intent.status, intent.cause).catch((err: unknown) => this.#failInBackground('error', err));
        return;
      case 'asterisk-shutdown':
        this.#failInBackground('error', new BridgeError('ASTERISK_SHUTDOWN', 'Asterisk shut down during the call'));
        return;
      case 'dtmf':
        this.#emit('dtmf', intent.digit);
        this.#conversation.forwardDtmf(intent.digit);
        return;
      case 'end':
        this.#endInBackground(intent.reason);
        return;
    }
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
    if (status === 'MACHINE' && this.#facts.request.amd === 'hangup') return this.end('answering-machine');
    // HUMAN, NOTSURE, or a machine that should get a message: AMD has waited for the greeting to
    // end, so the agent does not talk over it. Leaving Stasis took the leg out of the bridge.
    await this.#deps.control.addToBridge(bridgeId(this.id), [this.#channelId]);
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
      this.#conversation.finishAfterGoodbye('max-duration').catch((err: unknown) => this.log.error({ err }, 'goodbye failed'));
    });
  }

  /** The far end is there: its audio and the agent's start flowing (and the recording, if asked). */
  async #onAnswered(): Promise<void> {
    this.#markAnswered();
    // The callee is there from now: at the answer, or after AMD when the leg is back in the bridge.
    const callerFromEpochMs = epochNowMs();
    const { control, settings } = this.#deps;
    const connecting = this.#connect.atAnswer(callerFromEpochMs);
    // A conversation opened only now (AGENT_CONNECT=answer, or parked while ringing): the callee
    // hears ringback, stopped before the agent's audio starts (src/call/agent-connect.ts).
    const ringback = { channelId: this.#channelId, bridgeId: bridgeId(this.id), playbackId: ringbackId(this.id) };
    const stopRingback = connecting.hasRingback ? await startRingback(control, ringback, this.log) : undefined;
    let leg: AgentLeg;
    try {
      leg = await withTimeout(connecting.leg, settings.agentReadyTimeoutMs, () =>
        new AgentConnectionError('AGENT_NOT_READY', 'agent not connected in time after answer', { retryable: true }),
      );
    } finally {
      await stopRingback?.();
    }
    const { link, remote } = leg;
    if (this.#isEnding() || remote === undefined) return;
    const started = await startConversationMedia({
      control,
      log: this.log,
      link,
      remote,
      callerFromEpochMs,
      callId: this.id,
      legChannelId: this.#channelId,
      isRecorded: this.#facts.request.record === true,
    });
    this.#facts.isRecording = started.isRecording;
    const metricsTimer = setInterval(() => {
      if (this.#conversation.link === undefined) return;
      this.#refreshMetrics();
      this.log.info({ metrics: this.#facts.metrics }, 'bridge metrics');
      this.#emit('metrics', this.#facts.metrics);
    }, settings.metricsLogIntervalMs);
    // On the conversation's stack: it goes with the agent (at a transfer too), not only with the call.
    this.#conversationDisposers.defer('metrics-timer', () => clearInterval(metricsTimer));
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
    const startedMs = performance.now();
    this.#abort.abort();
    this.#refreshMetrics();
    await this.#disposers.disposeAll();
    const releaseMs = performance.now() - startedMs;
    // The link's final counters (a media worker sends them with its close answer).
    this.#refreshMetrics();
    const now = new Date();
    f.endedAt = now;
    f.setStatus(finalStatus(reason, wasAnswered, f.error !== null), now);
    this.#state = 'ended';
    this.log.info({ status: f.status, reason, hangupCause: f.hangupCause, metrics: f.metrics, agentEnded: this.#conversation.isAgentEnding }, 'call ended');
    this.#emit('released', releaseMs);
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

  #emit<K extends keyof CallEvents & string>(event: K, ...args: CallEvents[K]): void {
    this.safeEmit(this.log, event, ...args);
  }

}
