import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AriEvent } from '../ari/ari-events';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import { AgentConnectionError, BridgeError } from '../errors';
import { DisposerStack } from '../lifecycle/disposer-stack';
import { withTimeout } from '../lifecycle/timers';
import { runAgentTool, type AgentToolHost } from './agent-tools';
import type { AmdMode, CallStatus, CallView, StartCallRequest, TranscriptEntry, BridgeMetrics } from './call-view';
import { classifyUnanswered, type EndReason } from './hangup-cause';
import type { AgentConnector, AgentSession, AgentToolCall, MediaSession, MediaSessionFactory } from './ports';
import { dialTransferLeg } from './transfer-leg';
import { bridgeId, callChannelId, mediaChannelId, recordingName, transferChannelId } from './ari-ids';
import { bridgeLegToMedia } from './media-bridge';

/**
 * Lifecycle of one call:
 *
 *   dialing ──Ringing──▶ ringing ──StasisStart (answer)──▶ answered ──▶ ending ──▶ ended
 *      │                    │                                  ▲
 *      └────────────────────┴── ChannelDestroyed / error / api ─┘
 *
 * Events arriving in `ending`/`ended` are dropped.
 */
export type CallState = 'dialing' | 'ringing' | 'answered' | 'ending' | 'ended';

const LEGAL: Record<CallState, readonly CallState[]> = {
  dialing: ['ringing', 'answered', 'ending'],
  ringing: ['answered', 'ending'],
  answered: ['ending'],
  ending: ['ended'],
  ended: [],
};

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
  /** Destination policy for transfers: an Error naming why a number may not be dialled, or null. */
  checkDestination: (phoneNumber: string) => Error | null;
}

/** Where a call comes from: we dial out, or a caller reached us on the trunk. */
export type CallOrigin =
  | { direction: 'outbound' }
  | { direction: 'inbound'; channelId: string; dialedNumber: string };

/** Dialplan context (asterisk-conf/extensions.conf) that runs AMD() and returns to Stasis with `amd,<status>,<cause>`. */
export const AMD_CONTEXT = 'vg-amd';

export interface CallDeps {
  control: CallControl;
  router: AriEventRouter;
  connectAgent: AgentConnector;
  createMedia: MediaSessionFactory;
  settings: CallSettings;
  log: Logger;
}

interface CallEvents {
  status: [CallStatus];
  transcript: [TranscriptEntry];
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
  /** The caller now talks to `phoneNumber`; the agent has left. */
  transferred: [phoneNumber: string];
  ended: [CallView];
}

/** `cause` bit of a soft ChannelHangupRequest sent while Asterisk shuts down (channel.h AST_SOFTHANGUP_SHUTDOWN). */
const AST_SOFTHANGUP_SHUTDOWN = 0x04;

/**
 * One phone call and everything it opened: the ARI subscription, the call leg, the agent socket,
 * the media session (RTP socket, resamplers, pacer), the bridge and the ExternalMedia channel, and
 * its timers. Each is registered for release where it is acquired; `end()` is the one teardown
 * path, runs once, never throws, and records the outcome.
 */
export class Call extends EventEmitter<CallEvents> {
  readonly id: string;
  readonly log: Logger;
  readonly #deps: CallDeps;
  readonly #request: StartCallRequest;
  readonly #origin: CallOrigin;
  readonly #abort = new AbortController();
  readonly #disposers: DisposerStack;
  readonly #channelId: string;
  #agentSession: AgentSession | undefined;
  #isInAmd = false;
  #amdResult: string | null = null;
  #transferredTo: string | null = null;
  #isTransferring = false;
  #isRecording = false;
  #state: CallState = 'dialing';
  #hasChannel = false;
  #status: CallStatus = 'dialing';
  #agent: Promise<AgentSession> | undefined;
  #media: MediaSession | undefined;
  #ended: Promise<void> | undefined;
  #endReason: EndReason | null = null;
  #error: string | null = null;
  #hangupCause: number | null = null;
  #hangupCauseText: string | null = null;
  #sipCode: number | null = null;
  #conversationId: string | null = null;
  readonly #createdAt = new Date();
  #answeredAt: Date | null = null;
  #answeredAtMs: number | undefined;
  #endedAt: Date | null = null;
  readonly #transcript: TranscriptEntry[] = [];
  #finalMetrics: BridgeMetrics | undefined;
  #isAgentEnding = false;

  constructor(id: string, request: StartCallRequest, deps: CallDeps, origin: CallOrigin = { direction: 'outbound' }) {
    super();
    this.id = id;
    this.#request = request;
    this.#deps = deps;
    this.#origin = origin;
    this.#channelId = origin.direction === 'inbound' ? origin.channelId : callChannelId(id);
    this.log = deps.log.child({ callId: id, direction: origin.direction });
    this.#disposers = new DisposerStack(this.log);
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

  /**
   * Places the call. Resolves once Asterisk accepted the originate (the phone is being dialled);
   * rejects, with the call already ended as failed, if it did not.
   */
  async start(): Promise<void> {
    if (this.#origin.direction !== 'outbound') throw new Error('start() is for outbound calls; use accept()');
    const { control, settings } = this.#deps;
    this.#subscribeCallLeg();
    const ringTimeoutS = this.#request.ringTimeoutS ?? settings.ringTimeoutS;

    // Open the agent while the phone rings, so its greeting is ready at answer.
    this.#agent = this.#openAgent();
    this.#agent.catch((err: unknown) => this.#fail('agent-error', err));

    try {
      await control.originate({
        endpoint: `PJSIP/${dialString(this.#request.phoneNumber)}@${settings.trunkEndpoint}`,
        channelId: this.#channelId,
        app: settings.ariApp,
        appArgs: `outbound,${this.id}`,
        callerId: this.#request.callerId ?? settings.callerId,
        timeoutS: ringTimeoutS,
        formats: 'alaw,ulaw',
        variables: { VG_CALL_ID: this.id, VG_AGENT_ID: this.#request.agentId ?? 'default' },
      });
    } catch (err) {
      await this.#fail('error', err);
      throw err;
    }
    // Registered after originate succeeded: before that there is no channel to hang up.
    this.#hasChannel = true;
    this.#disposers.defer('call-leg', () => control.hangup(this.#channelId));
    // Asterisk ends ringing itself at `timeout`; this guards against a lost ChannelDestroyed.
    this.#timer('ring-guard', (ringTimeoutS + 10) * 1000, () => {
      if (this.#state === 'dialing' || this.#state === 'ringing') void this.end('ring-timeout');
    });
  }

  /**
   * Takes an inbound call that is in Stasis and ringing: connects the agent first (the caller hears
   * ringing meanwhile), then answers and bridges. Never rejects; failures end the call.
   */
  async accept(): Promise<void> {
    if (this.#origin.direction !== 'inbound') throw new Error('accept() is for inbound calls; use start()');
    const { control, settings } = this.#deps;
    this.#hasChannel = true;
    this.#subscribeCallLeg();
    this.#disposers.defer('call-leg', () => control.hangup(this.#channelId));
    this.#transition('ringing', 'ringing');
    this.#agent = this.#openAgent();
    try {
      await withTimeout(this.#agent, settings.agentReadyTimeoutMs, () => new AgentConnectionError('AGENT_NOT_READY', 'agent not connected in time'));
      if (this.#isEnding()) return;
      await control.answer(this.#channelId);
      await control.setChannelVar(this.#channelId, 'VG_CALL_ID', this.id).catch((err: unknown) => this.log.debug({ err }, 'could not set VG_CALL_ID'));
      await this.#onAnswered();
    } catch (err) {
      await this.#fail(err instanceof AgentConnectionError ? 'agent-error' : 'error', err);
    }
  }

  #subscribeCallLeg(): void {
    const sub = this.#deps.router.subscribe(this.#channelId, (e) => this.#onCallLegEvent(e));
    this.#disposers.defer('ari-subscription', () => sub.cancel());
  }

  /**
   * Ends the call for `reason`; `error`, if given, is recorded as why it failed. Idempotent: later
   * calls return the first teardown.
   */
  end(reason: EndReason, error?: BridgeError): Promise<void> {
    if (!this.#ended) {
      if (error) this.#error = `${error.code}: ${error.message}`;
      this.#endReason = reason;
      this.#ended = this.#teardown();
    }
    return this.#ended;
  }

  /** Playout timing problems of this call so far (for metrics). */
  playoutIssues(): { lateFrames: number; droppedFrames: number } {
    return this.#media?.playoutIssues() ?? { lateFrames: 0, droppedFrames: 0 };
  }

  /** The stored recording's name when this call is recorded. */
  get recordingName(): string | undefined {
    return this.#isRecording ? recordingName(this.id) : undefined;
  }

  view(): CallView {
    return {
      id: this.id,
      direction: this.#origin.direction,
      phone_number: this.#request.phoneNumber,
      dialed_number: this.#origin.direction === 'inbound' ? this.#origin.dialedNumber : null,
      agent_id: this.#request.agentId ?? null,
      amd_result: this.#amdResult,
      transferred_to: this.#transferredTo,
      recording_url: this.#isRecording ? `/api/calls/${this.id}/recording` : null,
      status: this.#status,
      conversation_id: this.#conversationId,
      created_at: this.#createdAt.toISOString(),
      answered_at: this.#answeredAt?.toISOString() ?? null,
      ended_at: this.#endedAt?.toISOString() ?? null,
      hangup_cause: this.#hangupCause,
      hangup_cause_text: this.#hangupCauseText,
      hangup_sip_code: this.#sipCode,
      end_reason: this.#endReason,
      error: this.#error,
      transcript: [...this.#transcript],
      metrics: this.#finalMetrics ?? this.#media?.metrics() ?? emptyMetrics(),
    };
  }

  // ---- agent -------------------------------------------------------------------------------

  async #openAgent(): Promise<AgentSession> {
    const r = this.#request;
    const startedMs = performance.now();
    const session = await this.#deps.connectAgent(
      {
        agentId: r.agentId,
        voiceId: r.voiceId,
        dynamicVariables: r.dynamicVariables,
        firstMessage: r.firstMessage,
        prompt: r.prompt,
        language: r.language,
      },
      this.#abort.signal,
    );
    this.#disposers.defer('agent', () => session.close(1000, 'call ended'));
    if (this.#disposers.isDisposed) throw new AgentConnectionError('CALL_ENDED', 'call ended while the agent connected');
    this.#conversationId = session.conversationId;
    this.#agentSession = session;
    this.emit('agentConnected', performance.now() - startedMs);
    this.log.info({ conversationId: session.conversationId, in: session.inputFormat, out: session.outputFormat }, 'agent connected');

    const media = await this.#deps.createMedia({
      agentInputFormat: session.inputFormat,
      agentOutputFormat: session.outputFormat,
      onCallerAudio: (bytes) => session.sendAudio(bytes),
      onFirstPlayout: () => {
        if (this.#answeredAtMs !== undefined) this.emit('firstAudio', performance.now() - this.#answeredAtMs);
      },
    });
    this.#disposers.defer('media', () => media.close());
    if (this.#disposers.isDisposed) throw new AgentConnectionError('CALL_ENDED', 'call ended while media was prepared');
    this.#media = media;

    session.setHandlers({
      onAudio: (bytes) => media.pushAgentAudio(bytes),
      onInterruption: () => {
        media.flushPlayout();
        this.emit('interruption');
      },
      onTranscript: (role, text) => this.#addTranscript(role, text),
      onEndCallRequested: () => {
        this.#isAgentEnding = true;
      },
      onToolCall: (call) => void this.#onToolCall(session, call),
      onClose: (code, reason, by) => this.#onAgentClosed(code, reason, by),
    });

    if (this.#state === 'dialing' || this.#state === 'ringing') {
      const activity = setInterval(() => {
        if (this.#state === 'dialing' || this.#state === 'ringing') session.sendUserActivity();
      }, this.#deps.settings.ringingActivityIntervalMs);
      this.#disposers.defer('ringing-activity', () => clearInterval(activity));
    }
    return session;
  }

  #onAgentClosed(code: number, reason: string, by: 'agent' | 'client' | 'network'): void {
    // After a transfer the agent has left on purpose; the caller talks to the transfer target.
    if (this.#state === 'ending' || this.#state === 'ended' || this.#transferredTo !== null) return;
    this.log.info({ code, reason, by }, 'agent socket closed');
    if (code === 1000 && this.#state === 'answered') {
      // The agent ended the conversation (end_call or max duration): its goodbye is still queued.
      void this.#finishAfterGoodbye();
      return;
    }
    void this.#fail('agent-error', new AgentConnectionError('AGENT_CLOSED', `agent closed the conversation (${code} ${reason})`.trim(), { closeCode: code }));
  }

  async #finishAfterGoodbye(reason: EndReason = 'agent'): Promise<void> {
    const media = this.#media;
    if (media) {
      media.stopCallerAudio();
      await media.waitPlayoutDrained(this.#deps.settings.drainTimeoutMs);
    }
    await this.end(reason);
  }

  async #onToolCall(session: AgentSession, call: AgentToolCall): Promise<void> {
    this.log.info({ tool: call.toolName }, 'agent tool call');
    const host: AgentToolHost = {
      endCallAfterPlayout: () => {
        this.#isAgentEnding = true;
        void this.#finishAfterGoodbye();
      },
      sendDtmf: (digits) => this.#deps.control.sendDtmf(this.#channelId, digits),
      transfer: (number) => this.#transfer(number),
    };
    const { result, isError } = await runAgentTool(call, host);
    if (isError) this.log.warn({ tool: call.toolName, result }, 'agent tool failed');
    session.sendToolResult(call.toolCallId, result, isError);
  }

  /**
   * Dials `phoneNumber` and, when it answers, swaps the agent's ExternalMedia channel in the
   * bridge for the new leg: caller and target talk, the agent socket and media are released.
   */
  async #transfer(phoneNumber: string): Promise<string> {
    const { control, router, settings } = this.#deps;
    const refusal = settings.checkDestination(phoneNumber);
    if (refusal) throw refusal;
    if (this.#state !== 'answered' || this.#isTransferring) throw new BridgeError('TRANSFER_NOT_POSSIBLE', 'the call is not in a state that can be transferred');
    this.#isTransferring = true;
    const legId = transferChannelId(this.id);
    try {
      const leg = await dialTransferLeg(
        {
          control,
          router,
          channelId: legId,
          endpoint: `PJSIP/${dialString(phoneNumber)}@${settings.trunkEndpoint}`,
          app: settings.ariApp,
          callId: this.id,
          callerId: this.#request.callerId ?? settings.callerId,
          ringTimeoutS: this.#request.ringTimeoutS ?? settings.ringTimeoutS,
        },
        () => void this.end('callee'),
      );
      this.#disposers.defer('transfer-subscription', () => leg.subscription.cancel());
      this.#disposers.defer('transfer-leg', () => control.hangup(legId));
      if (this.#isEnding()) throw new BridgeError('CALL_ENDED', 'the call ended while the transfer target answered');
      const brId = bridgeId(this.id);
      const emId = mediaChannelId(this.id);
      await control.removeFromBridge(brId, [emId]);
      await control.addToBridge(brId, [legId]);
      this.#transferredTo = phoneNumber;
      this.emit('transferred', phoneNumber);
      this.log.info('call transferred; agent leaves');
      // Let the tool result go out before the agent socket closes.
      setImmediate(() => {
        void this.#agentSession?.close(1000, 'call transferred');
        void this.#media?.close();
        void control.hangup(emId);
      });
      return `transferred to ${phoneNumber}`;
    } catch (err) {
      await control.hangup(legId).catch((e: unknown) => this.log.debug({ err: e }, 'transfer leg hangup failed'));
      throw err;
    } finally {
      this.#isTransferring = false;
    }
  }

  #addTranscript(role: 'user' | 'agent', text: string): void {
    const entry: TranscriptEntry = { role, text, at: new Date().toISOString() };
    this.#transcript.push(entry);
    this.log.debug({ pii: { role, text } }, 'transcript');
    this.emit('transcript', entry);
  }

  // ---- ARI ---------------------------------------------------------------------------------

  #onCallLegEvent(event: AriEvent): void {
    // StasisEnd comes a few ms before ChannelDestroyed: the call is already ending, but its cause
    // is still worth recording.
    if (event.type === 'ChannelDestroyed' && this.#hangupCause === null) {
      this.#hangupCause = event.cause;
      this.#hangupCauseText = event.cause_txt;
      if (typeof event.tech_cause === 'number' && event.tech_cause > 0) this.#sipCode = event.tech_cause;
    }
    if (this.#state === 'ending' || this.#state === 'ended') {
      this.log.debug({ type: event.type }, 'event after end ignored');
      return;
    }
    switch (event.type) {
      case 'ChannelStateChange':
        if (event.channel.state === 'Ringing' && this.#state === 'dialing') this.#transition('ringing', 'ringing');
        return;
      case 'Dial':
        if (event.dialstatus === 'RINGING' && this.#state === 'dialing') this.#transition('ringing', 'ringing');
        return;
      case 'StasisStart':
        if (event.args[0] === 'amd') {
          void this.#onAmdResult(event.args[1] ?? 'NOTSURE', event.args[2] ?? '').catch((err: unknown) => this.#fail('error', err));
        } else if (this.#origin.direction === 'outbound' && !this.#answeredAt) {
          void this.#onOutboundAnswered().catch((err: unknown) => this.#fail('error', err));
        }
        return;
      case 'ChannelHangupRequest':
        // Asterisk shutting down hangs up every channel and then reports a plain Normal Clearing:
        // only this soft hangup request tells it apart from the callee hanging up.
        if (event.soft === true && ((event.cause ?? 0) & AST_SOFTHANGUP_SHUTDOWN) !== 0) {
          void this.#fail('error', new BridgeError('ASTERISK_SHUTDOWN', 'Asterisk shut down during the call'));
        }
        return;
      case 'ChannelDtmfReceived':
        this.#onDtmf(event.digit);
        return;
      case 'ChannelDestroyed':
        void this.end(this.#answeredAt ? 'callee' : classifyUnanswered(event.cause));
        return;
      case 'StasisEnd':
        // Leaving Stasis for the AMD dialplan is not a hangup: the channel comes back.
        if (this.#answeredAt && !this.#isInAmd) void this.end('callee');
        return;
      default:
        return;
    }
  }

  #onDtmf(digit: string): void {
    this.emit('dtmf', digit);
    const agent = this.#agentSession;
    const mode = this.#deps.settings.dtmfToAgent;
    if (!agent || mode === 'off' || this.#transferredTo !== null) return;
    const text = `The caller pressed the key "${digit}" on the phone keypad.`;
    if (mode === 'user_message') agent.sendUserMessage(text);
    else agent.sendContextualUpdate(text);
  }

  /** Outbound answer: straight to the agent, or first through AMD when the request asked for it. */
  async #onOutboundAnswered(): Promise<void> {
    const amd: AmdMode = this.#request.amd ?? 'off';
    if (amd === 'off') return this.#onAnswered();
    this.#markAnswered();
    this.#isInAmd = true;
    await this.#deps.control.continueInDialplan(this.#channelId, AMD_CONTEXT, 's');
  }

  async #onAmdResult(status: string, cause: string): Promise<void> {
    this.#isInAmd = false;
    this.#amdResult = status;
    this.emit('amd', status, cause);
    this.log.info({ amd: status, cause }, 'answering machine detection');
    if (status === 'MACHINE' && this.#request.amd === 'hangup') {
      await this.end('answering-machine');
      return;
    }
    // HUMAN, NOTSURE, or a machine that should get a message: AMD has waited for the greeting to
    // end, so the agent does not talk over it.
    await this.#onAnswered();
  }

  #markAnswered(): void {
    if (this.#answeredAt) return;
    this.#answeredAt = new Date();
    this.#answeredAtMs = performance.now();
    this.#transition('answered', 'answered');
    const maxS = this.#request.maxDurationS ?? this.#deps.settings.maxDurationS;
    this.#timer('max-duration', maxS * 1000, () => {
      this.log.info({ maxS }, 'maximum call duration reached');
      void this.#finishAfterGoodbye('max-duration');
    });
  }

  async #onAnswered(): Promise<void> {
    this.#markAnswered();
    const { control, router, settings } = this.#deps;

    const agent = await withTimeout(this.#agent!, settings.agentReadyTimeoutMs, () =>
      new AgentConnectionError('AGENT_NOT_READY', 'agent not connected in time after answer', { retryable: true }),
    );
    const media = this.#media!;
    if (this.#isEnding()) return;

    const remote = await bridgeLegToMedia({
      control,
      router,
      disposers: this.#disposers,
      app: settings.ariApp,
      format: settings.externalMediaFormat,
      callId: this.id,
      legChannelId: this.#channelId,
      localRtpAddress: media.localAddress,
      isEnding: () => this.#isEnding(),
    });
    if (!remote) return;
    const brId = bridgeId(this.id);
    media.start(remote);
    if (this.#request.record) {
      await control
        .recordBridge(brId, recordingName(this.id))
        .then(() => {
          this.#isRecording = true;
        })
        .catch((err: unknown) => this.log.warn({ err }, 'could not start the recording'));
    }
    this.log.info({ conversationId: agent.conversationId, rtpRemote: `${remote.address}:${remote.port}` }, 'call bridged to agent');
    void control
      .setChannelVar(this.#channelId, 'VG_CONVERSATION_ID', agent.conversationId)
      .catch((err: unknown) => this.log.debug({ err }, 'could not set VG_CONVERSATION_ID'));

    const metricsTimer = setInterval(() => {
      const metrics = media.metrics();
      this.log.info({ metrics }, 'bridge metrics');
      this.emit('metrics', metrics);
    }, settings.metricsLogIntervalMs);
    this.#disposers.defer('metrics-timer', () => clearInterval(metricsTimer));
  }

  // ---- teardown ----------------------------------------------------------------------------

  async #fail(reason: EndReason, err: unknown): Promise<void> {
    if (this.#ended) return this.#ended;
    this.#error = err instanceof BridgeError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    this.log.warn({ err, reason }, 'call failed');
    return this.end(reason);
  }

  async #teardown(): Promise<void> {
    const reason = this.#endReason!;
    const wasAnswered = this.#answeredAt !== null;
    this.#state = 'ending';
    this.#abort.abort();
    this.#finalMetrics = this.#media?.metrics();
    await this.#disposers.disposeAll();
    this.#finalMetrics = this.#media?.metrics() ?? this.#finalMetrics;
    this.#endedAt = new Date();
    this.#status = finalStatus(reason, wasAnswered, this.#error !== null);
    this.#state = 'ended';
    this.log.info(
      { status: this.#status, reason, hangupCause: this.#hangupCause, metrics: this.#finalMetrics, agentEnded: this.#isAgentEnding },
      'call ended',
    );
    this.emit('status', this.#status);
    this.emit('ended', this.view());
  }

  #transition(to: CallState, status: CallStatus): void {
    if (!LEGAL[this.#state].includes(to)) {
      throw new Error(`illegal call state transition ${this.#state} -> ${to}`);
    }
    this.#state = to;
    this.#status = status;
    this.log.info({ status }, 'call status');
    this.emit('status', status);
  }

  #isEnding(): boolean {
    return this.#state === 'ending' || this.#state === 'ended';
  }

  #timer(label: string, ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    this.#disposers.defer(label, () => clearTimeout(t));
  }
}

function finalStatus(reason: EndReason, wasAnswered: boolean, hasError: boolean): CallStatus {
  if (reason === 'answering-machine') return 'completed';
  if (reason === 'busy') return 'busy';
  if (reason === 'no-answer' || reason === 'ring-timeout') return 'no-answer';
  if (hasError || reason === 'rejected' || reason === 'error' || reason === 'agent-error') return 'failed';
  return wasAnswered ? 'completed' : 'failed';
}

/** Carriers take national E.164 digits without the '+'. */
function dialString(e164: string): string {
  return e164.replace(/^\+/, '');
}

function emptyMetrics(): BridgeMetrics {
  return { caller_to_ai: { packets: 0, bytes: 0 }, ai_to_caller: { packets: 0, bytes: 0 }, resampling_ops: 0, errors: 0 };
}
