/**
 * One simulated ElevenLabs conversation on one accepted socket (docs/agent-protocol.md#the-simulator):
 *
 *   handshake ──(initiation | first other frame | initGraceMs)──► validate ──bad──► [error] close 1008
 *                                                                 │ ok (after metadataDelayMs)
 *                                                                 ▼
 *   active: metadata, pings, greeting → LISTENING ⇄ AGENT_SPEAKING (until estimated playback end)
 *           VAD / user_message → user turn (new event id; interruption{id} if the agent is speaking)
 *           → user_transcript{id} → llmLatencyMs → agent_response{id} + audio{id}
 *   closed: every timer cleared, every sleeper woken, tool waiters settled.
 *
 * Everything the test needs to assert on is recorded: frames both ways, pongs, turns, user audio.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import type { Logger } from 'pino';
import { chunkAlignment } from './alignment';
import { concatSamples, createRandom, decodeBytes, encodeSamples, simFormatInfo, synthTone } from './audio';
import { SIM_FAILURES, type AgentUtterance, type SimAgentConfig, type SimClientEvent, type SimFailure, type SimUserTurnInfo } from './config';
import { applyInitiation, isHandshakeProblem, type SimEffectiveSettings, type SimHandshakeProblem } from './handshake';
import { EnergyVad } from './vad';
import {
  clampCloseReason,
  errorFrame,
  isStrictBase64,
  newConversationId,
  parseClientFrame,
  serverMsg,
  type JsonObject,
  type SimErrorShape,
} from './wire';

/** One frame as it crossed the socket. `atMs` is relative to the socket being accepted. */
export interface SimFrame {
  dir: 'in' | 'out';
  atMs: number;
  /** `type` of the JSON, `user_audio_chunk` for caller audio, `invalid` for unparseable input. */
  type: string;
  /** Parsed JSON, or the raw text / a description for invalid input. */
  data: JsonObject | string;
}

/** A pong received for one of our pings. */
export interface SimPong {
  eventId: number;
  rttMs: number;
  atMs: number;
}

/** One agent turn (greeting, reply, re-engagement, scripted line, goodbye). */
export interface SimAgentTurn {
  eventId: number;
  kind: 'greeting' | 'reply' | 'reengage' | 'script' | 'goodbye' | 'max_duration';
  text: string;
  freqHz: number;
  durationMs: number;
  /** Generation start, relative to accept. */
  startedAtMs: number;
  /** When the client is estimated to finish playing it (real time from first audio). */
  playbackEndAtMs: number;
  chunksSent: number;
  bytesSent: number;
  /** Old-id chunks sent after the interruption (`lateStaleChunks`). */
  staleChunksSent: number;
  isInterrupted: boolean;
  isComplete: boolean;
}

/** One user turn (from VAD, `user_message`, or the scripting API). */
export interface SimUserTurn extends SimUserTurnInfo {
  startedAtMs: number;
  endedAtMs: number | undefined;
  /** The turn barged in on agent speech and produced an `interruption`. */
  didInterrupt: boolean;
}

/** How the socket ended. `initiatedBy: 'drop'` = we cut TCP without a close frame. */
export interface SimCloseInfo {
  code: number;
  reason: string;
  initiatedBy: 'client' | 'server' | 'drop';
  atMs: number;
}

/** A `client_tool_result` the client sent. */
export interface SimToolResult {
  toolCallId: string;
  result: string;
  isError: boolean;
}

/** Counters per conversation. */
export interface SimConversationCounters {
  audioChunksIn: number;
  audioBytesIn: number;
  audioChunksOut: number;
  audioBytesOut: number;
  staleChunksSent: number;
  interruptions: number;
  pingsSent: number;
  pongsReceived: number;
  /** Pings currently without pong. */
  pongsOutstanding: number;
  reengagements: number;
  /** Non-strict base64 in `user_audio_chunk` (ignored, not fatal). */
  invalidAudioChunks: number;
  /** PCM chunks with an odd byte count (the byte is carried to the next chunk). */
  oddLengthAudioChunks: number;
  invalidMessages: number;
}

/** Typed events of a conversation. */
export interface SimConversationEvents {
  frame: [SimFrame];
  started: [];
  userTurn: [SimUserTurn];
  agentTurn: [SimAgentTurn];
  close: [SimCloseInfo];
}

/** How the simulator hands a socket to a conversation. */
export interface SimConversationInit {
  agentId: string;
  config: SimAgentConfig;
  log: Logger;
  /** Close 1008 right away (unknown agent / bad signature with the `close1008` policy, concurrency). */
  rejection?: { code: number; errorType: string; message: string };
  /** Id reserved by a signed URL with `include_conversation_id=true`. */
  conversationId?: string;
  /** The client's `Sec-WebSocket-Extensions` offer, if it made one. */
  offeredExtensions?: string;
}

interface Generation {
  turn: SimAgentTurn;
  chunks: Buffer[];
  next: number;
  isCancelled: boolean;
  wake: (() => void) | undefined;
}

/** A live simulated conversation. Created by `ElevenLabsSimulator`; scripted by tests. */
export class SimConversation extends EventEmitter<SimConversationEvents> {
  /** `conv_` + 26 characters. */
  readonly id: string;
  readonly agentId: string;
  /** The client's `Sec-WebSocket-Extensions` offer (e.g. permessage-deflate), if it made one. */
  readonly offeredExtensions: string | undefined;
  readonly config: SimAgentConfig;
  readonly frames: SimFrame[] = [];
  readonly pongs: SimPong[] = [];
  readonly agentTurns: SimAgentTurn[] = [];
  readonly userTurns: SimUserTurn[] = [];
  readonly contextualUpdates: string[] = [];
  readonly userMessages: string[] = [];
  readonly toolResults: SimToolResult[] = [];
  /** Every `mcp_tool_approval_result` the client sent. */
  readonly mcpApprovals: { toolCallId: string; isApproved: boolean }[] = [];
  readonly counters: SimConversationCounters = {
    audioChunksIn: 0,
    audioBytesIn: 0,
    audioChunksOut: 0,
    audioBytesOut: 0,
    staleChunksSent: 0,
    interruptions: 0,
    pingsSent: 0,
    pongsReceived: 0,
    pongsOutstanding: 0,
    reengagements: 0,
    invalidAudioChunks: 0,
    oddLengthAudioChunks: 0,
    invalidMessages: 0,
  };
  /** The `conversation_initiation_client_data` as received, if any. */
  initiation: JsonObject | undefined;
  /** Settings after overrides; set once the handshake validated. */
  effective: SimEffectiveSettings | undefined;
  closeInfo: SimCloseInfo | undefined;
  /** Resolves when the socket is closed (any side). */
  readonly closed: Promise<SimCloseInfo>;
  /** Resolves true once metadata was sent, false if the socket closed first. */
  readonly started: Promise<boolean>;

  readonly #ws: WebSocket;
  readonly #log: Logger;
  readonly #t0 = performance.now();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #random: () => number;
  readonly #vad: EnergyVad;
  readonly #inputEncoding: 'pcm' | 'ulaw';
  readonly #userAudio: Int16Array[] = [];
  readonly #transcripts: string[];
  readonly #toolWaiters = new Map<string, (r: SimToolResult | undefined) => void>();
  readonly #approvalWaiters = new Map<string, (isApproved: boolean | undefined) => void>();
  readonly #generations = new Set<Generation>();
  #phase: 'handshake' | 'starting' | 'active' | 'closed' = 'handshake';
  #eventId = 0;
  #pingId = 0;
  readonly #pingSentAt = new Map<number, number>();
  #lastRttMs: number | null = null;
  #pingTimer: NodeJS.Timeout | undefined;
  #inputTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #pendingReply: NodeJS.Timeout | undefined;
  #turnTimeout: NodeJS.Timeout | undefined;
  #genChain: Promise<void> = Promise.resolve();
  #playbackEndAt = 0;
  #playingKind: SimAgentTurn['kind'] | undefined;
  #current: Generation | undefined;
  #userTurn: SimUserTurn | undefined;
  #repliesGiven = 0;
  #isEnding = false;
  #isStalled = false;
  #closeInitiatedBy: SimCloseInfo['initiatedBy'] | undefined;
  #carryByte: number | undefined;
  #resolveClosed!: (c: SimCloseInfo) => void;
  #resolveStarted!: (ok: boolean) => void;

  constructor(ws: WebSocket, init: SimConversationInit) {
    super();
    this.#ws = ws;
    this.agentId = init.agentId;
    this.offeredExtensions = init.offeredExtensions;
    this.config = init.config;
    this.id = init.conversationId ?? newConversationId(randomBytes);
    this.#log = init.log.child({ conversationId: this.id, agentId: init.agentId });
    this.#random = createRandom(init.config.seed);
    const input = simFormatInfo(init.config.inputFormat);
    this.#inputEncoding = input.encoding;
    this.#vad = new EnergyVad(input.rateHz, init.config.vad);
    this.#transcripts = [...init.config.userTranscripts];
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.started = new Promise((resolve) => (this.#resolveStarted = resolve));

    ws.on('message', this.#onMessage);
    ws.on('close', this.#onClose);
    ws.on('error', (err) => this.#log.debug({ err }, 'simulator socket error'));

    if (init.rejection !== undefined) {
      const r = init.rejection;
      this.#phase = 'starting';
      this.#background(this.closeWith(r.code, r.message, this.config.handshakeErrorShape, r.errorType), 'close');
      return;
    }
    this.#graceTimer = this.#after(this.config.initGraceMs, () => {
      if (this.#phase === 'handshake') this.#begin(undefined);
    });
  }

  // --- observation ----------------------------------------------------------------------------

  /** Milliseconds since the socket was accepted. */
  nowMs(): number {
    return performance.now() - this.#t0;
  }

  /** True while the client is estimated to be playing agent audio. */
  get isAgentSpeaking(): boolean {
    return this.#phase === 'active' && performance.now() < this.#playbackEndAt;
  }

  /** Highest event id allocated so far. */
  get lastEventId(): number {
    return this.#eventId;
  }

  /** All caller audio received, decoded from `inputFormat`, at the input rate. */
  userAudio(): Int16Array {
    return concatSamples(this.#userAudio);
  }

  /** Duration of caller audio received so far. */
  get userAudioMs(): number {
    const samples = this.#userAudio.reduce((n, b) => n + b.length, 0);
    return (samples * 1000) / simFormatInfo(this.config.inputFormat).rateHz;
  }

  /** Recorded frames of one `type` (and direction). */
  framesOf(type: string, dir?: 'in' | 'out'): SimFrame[] {
    return this.frames.filter((f) => f.type === type && (dir === undefined || f.dir === dir));
  }

  /** Resolve with the first frame (already recorded or future) matching `predicate`. */
  waitForFrame(predicate: (f: SimFrame) => boolean, timeoutMs = 5000): Promise<SimFrame> {
    const existing = this.frames.find(predicate);
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('frame', onFrame);
        this.off('close', onClose);
      };
      const onFrame = (f: SimFrame): void => {
        if (!predicate(f)) return;
        done();
        resolve(f);
      };
      const onClose = (): void => {
        done();
        reject(new Error('simulator: conversation closed before a matching frame'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`simulator: no matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('frame', onFrame);
      if (this.#phase === 'closed') onClose();
      else this.on('close', onClose);
    });
  }

  // --- scripting ------------------------------------------------------------------------------

  /** Make the agent say something unprompted (new event id). Resolves when all its audio was sent. */
  sayAgent(u: Partial<AgentUtterance> = {}): Promise<SimAgentTurn> {
    this.#clearTurnTimeout();
    return this.#speak(++this.#eventId, { text: u.text ?? 'Scripted agent line.', freqHz: u.freqHz ?? 500, durationMs: u.durationMs ?? 1000, amplitude: u.amplitude }, 'script');
  }

  /**
   * A complete user turn without audio, as if the VAD heard `text`: barge-in if the agent is
   * speaking, `user_transcript`, then the reply after `llmLatencyMs`.
   */
  userSays(text: string, speechMs = 1000): SimUserTurn {
    const turn = this.#startUserTurn('script');
    turn.transcript = text;
    // As on the real service the interruption (speech start) precedes the transcript (speech end).
    if (turn.didInterrupt) this.#background(this.#genChain.then(() => this.#endUserTurn(turn, speechMs, text)), 'user turn');
    else this.#endUserTurn(turn, speechMs, text);
    return turn;
  }

  /** Queue transcripts for the next audio turns (before `config.userTranscripts` left-overs). */
  queueUserTranscript(...texts: string[]): void {
    this.#transcripts.unshift(...texts);
  }

  /**
   * Force a barge-in now, even if the agent is not estimated to be speaking: new user turn id `I`,
   * `interruption{I}` (after `interruptLatencyMs`), optional stale chunks, then `user_transcript{I}`
   * and the reply with id `I`. Resolves with `I` once `interruption` was sent.
   */
  async interrupt(opts: { transcript?: string; lateStaleChunks?: number } = {}): Promise<number> {
    const turn = this.#startUserTurn('script', true, opts.lateStaleChunks);
    await this.#genChain;
    this.#endUserTurn(turn, 500, opts.transcript ?? 'Sorry, wait.');
    return turn.eventId;
  }

  /**
   * `end_call` system tool: goodbye (agent_response + audio, paced as usual), then
   * `agent_tool_request`/`agent_tool_response` (if enabled), then close 1000 after
   * `endCallCloseDelayMs` — while the client still has goodbye audio to play. Resolves when closed.
   */
  endCall(goodbye: Partial<AgentUtterance> = {}): Promise<SimCloseInfo> {
    if (this.#isEnding || !this.#isLive) return this.closed;
    return this.#endCall(++this.#eventId, goodbye);
  }

  #endCall(id: number, goodbye: Partial<AgentUtterance>): Promise<SimCloseInfo> {
    this.#isEnding = true;
    this.#clearTurnTimeout();
    this.#cancel(this.#pendingReply);
    const goodbyeDone = this.#speak(id, { ...this.config.goodbye, ...goodbye }, 'goodbye').then(() => {
      if (!this.#isLive) return;
      const toolCallId = `end_call_${randomBytes(8).toString('hex')}`;
      if (this.#isEnabled('agent_tool_request')) this.#send(serverMsg.agentToolRequest('end_call', toolCallId, id));
      if (this.#isEnabled('agent_tool_response')) this.#send(serverMsg.agentToolResponse('end_call', toolCallId, id));
      const close = (): void => this.#closeServer(1000, '');
      if (this.config.endCallCloseDelayMs <= 0) close();
      else this.#after(this.config.endCallCloseDelayMs, close);
    });
    this.#background(goodbyeDone, 'goodbye');
    return this.closed;
  }

  /** Send an error frame of `shape` (unless 'none') and close with `code`/`reason`. */
  /** Runs `work` without waiting for it; a failure is logged, never unhandled. */
  #background(work: Promise<unknown>, what: string): void {
    work.catch((err: unknown) => this.#log.warn({ err, what }, 'simulator step failed'));
  }

  closeWith(code: number, reason: string, shape: SimErrorShape = 'none', errorType = 'unknown'): Promise<SimCloseInfo> {
    if (this.#phase === 'closed' || this.#closeInitiatedBy !== undefined) return this.closed;
    const frame = errorFrame(shape, code, errorType, reason);
    if (frame !== undefined) this.#send(frame);
    this.#closeServer(code, reason);
    return this.closed;
  }

  /** A `SIM_FAILURES` preset, e.g. `fail('quota', 'flat')`. */
  fail(preset: SimFailure, shape: SimErrorShape = 'nested'): Promise<SimCloseInfo> {
    const f = SIM_FAILURES[preset];
    return this.closeWith(f.code, f.reason, shape, f.errorType);
  }

  /** Abrupt TCP drop, no close frame (client sees 1006). */
  drop(): Promise<SimCloseInfo> {
    if (this.#phase !== 'closed') {
      this.#closeInitiatedBy ??= 'drop';
      this.#ws.terminate();
    }
    return this.closed;
  }

  /** Stop reading the socket and sending anything: a hung server (WS-level pings go unanswered too). */
  stall(): void {
    this.#isStalled = true;
    this.#ws.pause();
  }

  /** Send a ping now (besides the periodic ones); resolves with its pong, or undefined if none in `timeoutMs`. */
  ping(timeoutMs = 5000): Promise<SimPong | undefined> {
    const id = this.#sendPing();
    return this.waitForFrame((f) => f.dir === 'in' && f.type === 'pong' && Number((f.data as JsonObject).event_id) === id, timeoutMs).then(
      () => this.pongs.find((p) => p.eventId === id),
      () => undefined,
    );
  }

  /** `client_tool_call`; resolves with the client's result, or undefined on timeout / close. */
  callClientTool(toolName: string, parameters: JsonObject = {}, opts: { timeoutMs?: number; expectsResponse?: boolean } = {}): Promise<SimToolResult | undefined> {
    const toolCallId = `toolu_${randomBytes(8).toString('hex')}`;
    const expectsResponse = opts.expectsResponse ?? true;
    this.#send(serverMsg.clientToolCall(toolName, toolCallId, parameters, this.#eventId, expectsResponse));
    if (!expectsResponse) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = this.#after(opts.timeoutMs ?? 5000, () => settle(undefined));
      const settle = (r: SimToolResult | undefined): void => {
        this.#cancel(timer);
        this.#toolWaiters.delete(toolCallId);
        resolve(r);
      };
      this.#toolWaiters.set(toolCallId, settle);
    });
  }

  /**
   * An MCP tool the agent wants to run needs approval: `mcp_tool_call` in state `awaiting_approval`
   * (if `mcp_tool_call` is a client event; otherwise the client never learns, as on the real
   * service), then wait for `mcp_tool_approval_result` up to `approvalTimeoutSecs`. Approved: state
   * `success` and the agent says so; denied or no answer: state `failure` and the agent says it
   * could not. Resolves with the client's answer, or undefined when none came.
   */
  async requestMcpApproval(
    toolName: string,
    opts: { approvalTimeoutSecs?: number; parameters?: JsonObject } = {},
  ): Promise<boolean | undefined> {
    const call = { toolCallId: `mcp_${randomBytes(8).toString('hex')}`, toolName, serviceId: 'sim-mcp-server', parameters: opts.parameters ?? {} };
    const timeoutSecs = opts.approvalTimeoutSecs ?? 300;
    const isVisible = this.#isEnabled('mcp_tool_call');
    if (isVisible) this.#send(serverMsg.mcpToolCall(call, 'awaiting_approval', { approval_timeout_secs: timeoutSecs }));
    const answer = await new Promise<boolean | undefined>((resolve) => {
      const timer = this.#after(timeoutSecs * 1000, () => settle(undefined));
      const settle = (isApproved: boolean | undefined): void => {
        this.#cancel(timer);
        this.#approvalWaiters.delete(call.toolCallId);
        resolve(isApproved);
      };
      this.#approvalWaiters.set(call.toolCallId, settle);
    });
    if (!this.#isLive) return answer;
    if (answer === true) {
      if (isVisible) this.#send(serverMsg.mcpToolCall(call, 'success', { result: [{ type: 'text', text: 'done' }] }));
      await this.sayAgent({ text: `Done: ${toolName}.`, freqHz: 600, durationMs: 600 });
    } else {
      const reason = answer === false ? 'Tool call was not approved' : 'Tool approval timed out';
      if (isVisible) this.#send(serverMsg.mcpToolCall(call, 'failure', { error_message: reason }));
      await this.sayAgent({ text: `Sorry, I could not use ${toolName}.`, freqHz: 620, durationMs: 600 });
    }
    return answer;
  }

  /** `context_usage` (if enabled) with the current event id. */
  reportContextUsage(contextTokens: number, contextLimitTokens: number): boolean {
    return this.#isEnabled('context_usage') && this.#send(serverMsg.contextUsage(this.#eventId, contextTokens, contextLimitTokens));
  }

  /** `guardrail_triggered` (if enabled). */
  triggerGuardrail(): boolean {
    return this.#isEnabled('guardrail_triggered') && this.#send(serverMsg.guardrailTriggered(this.#eventId));
  }

  /** Send any frame verbatim (an object is JSON-encoded) — for robustness tests. */
  sendRaw(frame: JsonObject | string): boolean {
    return this.#send(frame);
  }

  /** Terminate without ceremony (simulator shutdown). */
  dispose(): Promise<SimCloseInfo> {
    return this.drop();
  }

  // --- socket ---------------------------------------------------------------------------------

  readonly #onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    const text = isBinary ? undefined : rawText(data);
    const frame = parseClientFrame(text);
    const recorded: SimFrame = {
      dir: 'in',
      atMs: this.nowMs(),
      type: frame.kind === 'audio' ? 'user_audio_chunk' : frame.kind === 'message' ? frame.type : 'invalid',
      data: frame.kind === 'audio' ? { user_audio_chunk: frame.base64 } : frame.kind === 'message' ? frame.body : (text ?? `<binary ${rawLength(data)} bytes>`),
    };
    this.#record(recorded);
    // Never refresh a fired or cleared timer: refresh() would re-arm it.
    if (this.#isLive) this.#inputTimer?.refresh();
    if (this.#phase === 'closed') return;

    if (this.#phase === 'handshake') {
      if (frame.kind === 'message' && frame.type === 'conversation_initiation_client_data') {
        this.initiation = frame.body;
        this.#begin(frame.body);
        return;
      }
      // No initiation (the Twilio inbound example sends none): start with agent defaults.
      this.#begin(undefined);
    }
    switch (frame.kind) {
      case 'invalid':
        this.#onInvalid('invalid_message', `Invalid message received: ${frame.why}`);
        return;
      case 'audio':
        this.#onAudio(frame.base64);
        return;
      case 'message':
        this.#onClientMessage(frame.type, frame.body);
    }
  };

  readonly #onClose = (code: number, reason: Buffer): void => {
    const info: SimCloseInfo = {
      code,
      reason: reason.toString('utf8'),
      initiatedBy: this.#closeInitiatedBy ?? 'client',
      atMs: this.nowMs(),
    };
    this.#stopEverything();
    this.#phase = 'closed';
    this.closeInfo = info;
    this.#log.debug({ code, initiatedBy: info.initiatedBy }, 'simulated conversation closed');
    this.#resolveStarted(false);
    this.#resolveClosed(info);
    this.emit('close', info);
  };

  #stopEverything(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#inputTimer = undefined;
    this.#turnTimeout = undefined;
    this.#pendingReply = undefined;
    this.#graceTimer = undefined;
    for (const g of this.#generations) {
      g.isCancelled = true;
      g.wake?.();
    }
    for (const settle of [...this.#toolWaiters.values()]) settle(undefined);
    for (const settle of [...this.#approvalWaiters.values()]) settle(undefined);
  }

  #send(msg: JsonObject | string): boolean {
    if (this.#isStalled || this.#ws.readyState !== this.#ws.OPEN) return false;
    const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
    this.#ws.send(text);
    const type = typeof msg === 'string' ? 'raw' : typeof msg.type === 'string' ? msg.type : 'raw';
    this.#record({ dir: 'out', atMs: this.nowMs(), type, data: msg });
    return true;
  }

  #record(f: SimFrame): void {
    this.frames.push(f);
    this.emit('frame', f);
  }

  #closeServer(code: number, reason: string): void {
    if (this.#phase === 'closed' || this.#closeInitiatedBy !== undefined) return;
    this.#closeInitiatedBy = 'server';
    this.#stopEverything();
    this.#ws.close(code, clampCloseReason(reason));
  }

  #after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  #cancel(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.#timers.delete(t);
  }

  /** Active and not closing. */
  get #isLive(): boolean {
    return this.#phase === 'active' && this.#closeInitiatedBy === undefined;
  }

  #isEnabled(ev: SimClientEvent): boolean {
    return this.config.clientEvents.includes(ev);
  }

  // --- handshake ------------------------------------------------------------------------------

  #begin(init: JsonObject | undefined): void {
    this.#cancel(this.#graceTimer);
    this.#phase = 'starting';
    const result = applyInitiation(this.config, init);
    if (isHandshakeProblem(result)) {
      this.#failHandshake(result);
      return;
    }
    this.effective = result;
    if (result.ignoredOverrides.length > 0) this.#log.debug({ ignored: result.ignoredOverrides }, 'overrides ignored');
    const delay = this.config.metadataDelayMs;
    if (delay === Infinity) return; // a server that never answers: connect-timeout tests
    if (delay <= 0) this.#start();
    else this.#after(delay, () => this.#start());
  }

  #failHandshake(p: SimHandshakeProblem): void {
    this.#background(this.closeWith(1008, p.message, this.config.handshakeErrorShape, p.errorType), 'close');
  }

  #start(): void {
    if (this.#phase !== 'starting') return;
    for (const m of this.config.injectBeforeMetadata) this.#send(m);
    const inputFormat = this.config.omitInputFormatInMetadata ? undefined : this.config.inputFormat;
    this.#send(serverMsg.metadata(this.id, this.config.outputFormat, inputFormat));
    this.#phase = 'active';
    this.#resolveStarted(true);
    this.emit('started');
    this.#pingTimer = setInterval(() => this.#onPingTick(), this.config.pingIntervalMs);
    this.#inputTimer = this.#after(this.config.inputTimeoutMs, () => {
      this.#inputTimer = undefined;
      this.#onInputTimeout();
    });
    this.#after(this.config.maxDurationS * 1000, () => this.#background(this.#onMaxDuration(), 'max duration'));
    const first = this.effective?.firstMessage ?? '';
    if (first !== '') this.#background(this.#speak(++this.#eventId, { ...this.config.greeting, text: first }, 'greeting'), 'greeting');
    else this.#armTurnTimeout();
  }

  // --- keepalive and global timers ------------------------------------------------------------

  #onPingTick(): void {
    const limit = this.config.missedPongLimit;
    if (limit > 0 && this.#pingSentAt.size >= limit) {
      this.#background(this.closeWith(1002, 'ping timeout', 'none', 'websocket_disconnect'), 'close');
      return;
    }
    this.#sendPing();
  }

  #sendPing(): number {
    const id = ++this.#pingId;
    if (this.#send(serverMsg.ping(id, this.#lastRttMs))) {
      this.#pingSentAt.set(id, performance.now());
      this.counters.pingsSent += 1;
      this.counters.pongsOutstanding = this.#pingSentAt.size;
    }
    return id;
  }

  #onPong(eventId: number): void {
    const sentAt = this.#pingSentAt.get(eventId);
    if (sentAt === undefined) {
      this.#log.debug({ eventId }, 'pong for unknown ping');
      return;
    }
    this.#pingSentAt.delete(eventId);
    const rttMs = performance.now() - sentAt;
    this.#lastRttMs = Math.round(rttMs);
    this.counters.pongsReceived += 1;
    this.counters.pongsOutstanding = this.#pingSentAt.size;
    this.pongs.push({ eventId, rttMs, atMs: this.nowMs() });
  }

  #onInputTimeout(): void {
    const seconds = Math.round(this.config.inputTimeoutMs / 100) / 10;
    this.#background(this.closeWith(1002, `No user input received for ${seconds} seconds`, 'nested', 'transport_receive_timeout'), 'close');
  }

  async #onMaxDuration(): Promise<void> {
    if (!this.#isLive) return;
    this.#isEnding = true;
    this.#clearTurnTimeout();
    this.#cancel(this.#pendingReply);
    if (this.config.maxDurationMessage !== undefined) {
      await this.#speak(++this.#eventId, this.config.maxDurationMessage, 'max_duration');
    }
    if (this.config.legacyMaxDuration) {
      this.#background(this.closeWith(1011, 'Unexpected error in websocket endpoint: Conversation has exceeded maximum duration'), 'close');
    } else {
      this.#background(this.closeWith(1000, 'Conversation has exceeded maximum duration', 'nested', 'max_duration_exceeded'), 'close');
    }
  }

  // --- client messages ------------------------------------------------------------------------

  #onInvalid(errorType: string, message: string): void {
    this.counters.invalidMessages += 1;
    this.#log.debug({ errorType }, 'invalid client message');
    if (this.config.unknownMessagePolicy === 'close1008') this.#background(this.closeWith(1008, message, 'nested', errorType), 'close');
  }

  #onClientMessage(type: string, body: JsonObject): void {
    const str = (k: string): string | undefined => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    switch (type) {
      case 'pong': {
        const id = Number(body.event_id);
        if (body.event_id === undefined || !Number.isFinite(id)) this.#onInvalid('missing_fields', 'pong: event_id is required');
        else this.#onPong(id);
        return;
      }
      case 'user_activity':
        if (this.#turnTimeout !== undefined) this.#armTurnTimeout();
        return;
      case 'contextual_update': {
        const text = str('text');
        if (text === undefined) this.#onInvalid('missing_fields', 'contextual_update: text is required');
        else this.contextualUpdates.push(text);
        return;
      }
      case 'user_message': {
        const text = str('text');
        if (text === undefined) {
          this.#onInvalid('missing_fields', 'user_message: text is required');
          return;
        }
        this.userMessages.push(text);
        if (this.#isLive) this.#endUserTurn(this.#startUserTurn('user_message'), 0, text, false);
        return;
      }
      case 'client_tool_result': {
        const toolCallId = str('tool_call_id');
        const result = str('result');
        if (toolCallId === undefined || result === undefined || typeof body.is_error !== 'boolean') {
          this.#onInvalid('missing_fields', 'client_tool_result: tool_call_id, result (string) and is_error are required');
          return;
        }
        const r: SimToolResult = { toolCallId, result, isError: body.is_error };
        this.toolResults.push(r);
        this.#toolWaiters.get(toolCallId)?.(r);
        return;
      }
      case 'mcp_tool_approval_result': {
        const toolCallId = str('tool_call_id');
        if (toolCallId === undefined || typeof body.is_approved !== 'boolean') {
          this.#onInvalid('missing_fields', 'mcp_tool_approval_result: tool_call_id and is_approved (boolean) are required');
          return;
        }
        this.mcpApprovals.push({ toolCallId, isApproved: body.is_approved });
        this.#approvalWaiters.get(toolCallId)?.(body.is_approved);
        return;
      }
      case 'conversation_initiation_client_data':
      case 'feedback':
      case 'multimodal_message':
        return; // recorded in `frames`; nothing else to do
      default:
        this.#onInvalid('invalid_message', `Invalid message received: unknown type '${type}'`);
    }
  }

  #onAudio(base64: string): void {
    if (!isStrictBase64(base64)) {
      this.counters.invalidAudioChunks += 1;
      return;
    }
    let bytes = Buffer.from(base64, 'base64');
    this.counters.audioChunksIn += 1;
    this.counters.audioBytesIn += bytes.length;
    if (this.#inputEncoding === 'pcm') {
      if (bytes.length % 2 === 1) this.counters.oddLengthAudioChunks += 1;
      if (this.#carryByte !== undefined) bytes = Buffer.concat([Buffer.from([this.#carryByte]), bytes]);
      this.#carryByte = bytes.length % 2 === 1 ? bytes[bytes.length - 1] : undefined;
    }
    const samples = decodeBytes(bytes, this.config.inputFormat);
    this.#userAudio.push(samples);
    if (!this.#isLive || this.#isEnding) return;
    for (const ev of this.#vad.push(samples)) {
      if (ev.kind === 'speech-start') this.#startUserTurn('audio');
      else if (this.#userTurn !== undefined) this.#endUserTurn(this.#userTurn, ev.speechMs);
    }
  }

  // --- turns ----------------------------------------------------------------------------------

  #startUserTurn(source: SimUserTurn['source'], forceInterrupt = false, lateStaleChunks?: number): SimUserTurn {
    this.#cancel(this.#pendingReply);
    this.#pendingReply = undefined;
    this.#clearTurnTimeout();
    const turn: SimUserTurn = {
      eventId: ++this.#eventId,
      index: this.userTurns.length,
      transcript: '',
      speechMs: 0,
      source,
      startedAtMs: this.nowMs(),
      endedAtMs: undefined,
      didInterrupt: false,
    };
    this.userTurns.push(turn);
    this.#userTurn = turn;
    const isInterruptible =
      this.#isEnabled('interruption') &&
      !(this.config.disableFirstMessageInterruptions && this.#playingKind === 'greeting');
    if (forceInterrupt || (this.isAgentSpeaking && isInterruptible)) {
      turn.didInterrupt = true;
      this.#interrupt(turn.eventId, lateStaleChunks ?? this.config.lateStaleChunks);
    }
    return turn;
  }

  #endUserTurn(turn: SimUserTurn, speechMs: number, text?: string, sendTranscript = true): void {
    if (!this.#isLive) return;
    if (this.#userTurn === turn) this.#userTurn = undefined;
    turn.speechMs = speechMs;
    turn.endedAtMs = this.nowMs();
    turn.transcript = text ?? this.#transcripts.shift() ?? `(${speechMs} ms of speech)`;
    if (sendTranscript) {
      if (this.#isEnabled('tentative_user_transcript')) this.#send(serverMsg.tentativeUserTranscript(turn.transcript, turn.eventId));
      if (this.#isEnabled('user_transcript')) this.#send(serverMsg.userTranscript(turn.transcript, turn.eventId));
    }
    this.emit('userTurn', turn);
    this.#pendingReply = this.#after(this.config.llmLatencyMs, () => {
      this.#pendingReply = undefined;
      this.#reply(turn);
    });
  }

  #reply(turn: SimUserTurn): void {
    if (!this.#isLive || this.#isEnding) return;
    const index = this.#repliesGiven++;
    const isLast = this.config.endCallAfterUserTurns > 0 && index + 1 >= this.config.endCallAfterUserTurns;
    const r = this.config.reply(turn);
    if (r === 'end_call' || isLast) {
      // The goodbye answers this turn, so it carries the turn's id like any reply.
      this.#background(this.#endCall(turn.eventId, {}), 'end call');
      return;
    }
    const freqs = this.config.replyFreqsHz;
    const reply = this.#speak(
      turn.eventId,
      {
        text: r.text ?? `You said: ${turn.transcript}`,
        freqHz: r.freqHz ?? freqs[index % freqs.length] ?? 660,
        durationMs: r.durationMs ?? this.config.replyDurationMs,
        amplitude: r.amplitude,
      },
      'reply',
    );
    this.#background(reply, 'reply');
  }

  /** Barge-in: stop generating everything older than `newId`, tell the client, maybe leak stale chunks. */
  #interrupt(newId: number, lateStaleChunks: number): void {
    const cur = this.#current;
    const now = performance.now();
    // The line the client is estimated to be playing: the one being generated, or one whose audio
    // was all sent but whose estimated playback has not ended (audio comes faster than real time).
    const nowMs = now - this.#t0;
    const speaking = cur?.turn ?? this.agentTurns.findLast((t) => t.playbackEndAtMs > nowMs && t.playbackEndAtMs - t.durationMs <= nowMs);
    const playedFraction =
      speaking === undefined ? 0 : Math.min(1, Math.max(0, (nowMs - (speaking.playbackEndAtMs - speaking.durationMs)) / speaking.durationMs));
    for (const g of this.#generations) {
      if (g.turn.eventId >= newId) continue;
      g.isCancelled = true;
      g.turn.isInterrupted = true;
      g.wake?.();
    }
    this.#playbackEndAt = now; // the client flushes its queue
    this.counters.interruptions += 1;
    const sent = new Promise<void>((resolve) => {
      this.#after(this.config.interruptLatencyMs, () => {
        this.#send(serverMsg.interruption(newId));
        if (cur !== undefined) {
          for (let k = 0; k < lateStaleChunks; k++) {
            const chunk = cur.chunks[Math.min(cur.next + k, cur.chunks.length - 1)];
            if (chunk === undefined) break;
            if (this.#send(serverMsg.audio(chunk, cur.turn.eventId))) {
              cur.turn.staleChunksSent += 1;
              this.counters.staleChunksSent += 1;
            }
          }
        }
        if (speaking !== undefined && this.#isEnabled('agent_response_correction')) {
          const words = speaking.text.split(' ');
          const kept = words.slice(0, Math.max(1, Math.round(words.length * playedFraction))).join(' ');
          this.#send(serverMsg.agentResponseCorrection(speaking.text, kept, speaking.eventId));
        }
        resolve();
      });
    });
    // Nothing for the new turn may be sent before the interruption itself.
    this.#genChain = this.#genChain.then(() => sent);
  }

  #speak(eventId: number, u: AgentUtterance, kind: SimAgentTurn['kind']): Promise<SimAgentTurn> {
    const turn: SimAgentTurn = {
      eventId,
      kind,
      text: u.text,
      freqHz: u.freqHz,
      durationMs: u.durationMs,
      startedAtMs: 0,
      playbackEndAtMs: 0,
      chunksSent: 0,
      bytesSent: 0,
      staleChunksSent: 0,
      isInterrupted: false,
      isComplete: false,
    };
    this.agentTurns.push(turn);
    const g: Generation = { turn, chunks: [], next: 0, isCancelled: false, wake: undefined };
    this.#generations.add(g);
    const run = this.#genChain.then(() => this.#generate(g, u));
    this.#genChain = run;
    return run.then(() => turn);
  }

  async #generate(g: Generation, u: AgentUtterance): Promise<void> {
    try {
      if (g.isCancelled || !this.#isLive) return;
      const out = simFormatInfo(this.config.outputFormat);
      const bytes = encodeSamples(synthTone(u, out.rateHz), this.config.outputFormat);
      g.chunks = this.#chunk(bytes, out.rateHz, out.bytesPerSample);
      const now = performance.now();
      const playbackStart = Math.max(now, this.#playbackEndAt);
      this.#playbackEndAt = playbackStart + u.durationMs;
      g.turn.startedAtMs = now - this.#t0;
      g.turn.playbackEndAtMs = this.#playbackEndAt - this.#t0;
      this.#current = g;
      this.#playingKind = g.turn.kind;
      const sayText = (): void => {
        if (this.#isEnabled('agent_response')) this.#send(serverMsg.agentResponse(u.text, g.turn.eventId));
      };
      if (this.config.agentResponseOrder === 'before-audio') sayText();
      const speed = this.config.speedFactor;
      let chunkStartMs = 0;
      for (let i = 0; i < g.chunks.length; i++) {
        if (g.isCancelled || !this.#isLive) return;
        const chunk = g.chunks[i]!;
        const chunkEndMs = chunkStartMs + (chunk.length / out.bytesPerSample / out.rateHz) * 1000;
        const alignment = this.config.alignment ? chunkAlignment(u.text, u.durationMs, chunkStartMs, chunkEndMs) : undefined;
        chunkStartMs = chunkEndMs;
        if (this.#isEnabled('audio') && this.#send(serverMsg.audio(chunk, g.turn.eventId, alignment))) {
          g.turn.chunksSent += 1;
          g.turn.bytesSent += chunk.length;
          this.counters.audioChunksOut += 1;
          this.counters.audioBytesOut += chunk.length;
        }
        g.next = i + 1;
        if (i === 0 && this.config.agentResponseOrder === 'after-first-chunk') sayText();
        if (speed !== 'burst' && i < g.chunks.length - 1) {
          const chunkMs = (chunk.length / out.bytesPerSample / out.rateHz) * 1000;
          await this.#sleep(chunkMs / speed, g);
        }
      }
      if (g.isCancelled) return;
      g.turn.isComplete = true;
      if (this.#isEnabled('agent_response_complete')) this.#send(serverMsg.agentResponseComplete(g.turn.eventId));
      this.emit('agentTurn', g.turn);
    } finally {
      this.#generations.delete(g);
      if (this.#current === g) this.#current = undefined;
      if (this.#generations.size === 0 && this.#pendingReply === undefined && this.#userTurn === undefined) this.#armTurnTimeout();
    }
  }

  #chunk(bytes: Buffer, rateHz: number, bytesPerSample: number): Buffer[] {
    const chunks: Buffer[] = [];
    let at = 0;
    while (at < bytes.length) {
      const ms = this.config.randomChunks ? 40 + this.#random() * 460 : this.config.chunkMs;
      const samples = Math.max(1, Math.round((ms * rateHz) / 1000));
      const end = Math.min(bytes.length, at + samples * bytesPerSample);
      chunks.push(bytes.subarray(at, end));
      at = end;
    }
    return chunks;
  }

  #sleep(ms: number, g: Generation): Promise<void> {
    return new Promise((resolve) => {
      const t = this.#after(ms, () => {
        g.wake = undefined;
        resolve();
      });
      g.wake = () => {
        this.#cancel(t);
        g.wake = undefined;
        resolve();
      };
    });
  }

  #armTurnTimeout(): void {
    this.#clearTurnTimeout();
    if (this.config.turnTimeoutMs < 0 || !this.#isLive || this.#isEnding) return;
    const delay = Math.max(0, this.#playbackEndAt - performance.now()) + this.config.turnTimeoutMs;
    this.#turnTimeout = this.#after(delay, () => {
      this.#turnTimeout = undefined;
      this.counters.reengagements += 1;
      this.#background(this.#speak(++this.#eventId, this.config.reengage, 'reengage'), 'reengage');
    });
  }

  #clearTurnTimeout(): void {
    this.#cancel(this.#turnTimeout);
    this.#turnTimeout = undefined;
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function rawLength(data: WebSocket.RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}
