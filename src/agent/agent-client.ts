/**
 * One ElevenLabs agent conversation: the socket shell (src/agent/agent-socket.ts) driven by the
 * pure conversation reducer (src/agent/conversation.ts). This file holds what needs both: connect
 * with a timeout and an abort signal that settles once, the gate that holds events until the owner
 * listens, and the counters.
 *
 *   connect() ──► socket open: send initiation ── metadata ──► resolved (events held or next tick)
 *      │ timeout / abort / refused upgrade / close / unplayable format
 *      └──► rejected with AgentConnectionError, socket terminated
 *
 * The socket URL (a signed URL for private agents) and the API key are credentials: never logged.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { AgentConnectionError } from '../errors';
import type { AgentAudioFormat } from '../audio/frame';
import {
  buildInitiationMessage,
  decodeAgentMessage,
  encodeAgentMessage,
  encodeUserAudioChunk,
  type AgentClientMessage,
  type AgentInitiation,
  type AgentRawData,
} from './agent-protocol';
import { AgentSocket, type AgentCloseInitiator } from './agent-socket';
import {
  initialConversation,
  reduceConversation,
  type AgentAudioEvent,
  type AgentClientToolCallEvent,
  type AgentContextUsageEvent,
  type AgentErrorEvent,
  type AgentInterruptionEvent,
  type AgentMcpToolCallEvent,
  type AgentPingEvent,
  type AgentToolEvent,
  type AgentTranscriptEvent,
  type ConversationEvent,
  type ConversationState,
} from './conversation';

export { fetchSignedUrl, publicAgentUrl, type FetchSignedUrlOptions } from './signed-url';
export { DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_LIVENESS_INTERVAL_MS, MAX_AGENT_FRAME_BYTES, type AgentCloseInitiator } from './agent-socket';
export type {
  AgentAudioEvent,
  AgentClientToolCallEvent,
  AgentContextUsageEvent,
  AgentErrorEvent,
  AgentInterruptionEvent,
  AgentPingEvent,
  AgentToolEvent,
  AgentTranscriptEvent,
} from './conversation';

/** Close reason the official JS SDK sends when the user hangs up. */
export const CLIENT_CLOSE_REASON = 'User ended conversation';

/**
 * What to answer an MCP tool call that waits for approval (MCP_APPROVAL): `auto` approves it,
 * `deny` refuses it. Either way the agent gets its answer at once instead of waiting out its
 * approval timeout (300 s by default) in silence.
 */
export type McpApprovalPolicy = 'auto' | 'deny';

/** An MCP tool call as reported, with the answer given when it waited for approval (else null). */
export interface AgentMcpToolCallReport extends AgentMcpToolCallEvent {
  decision: 'approved' | 'denied' | null;
}

/** Emitted exactly once per connected client. */
export interface AgentCloseEvent {
  code: number;
  reason: string;
  initiatedBy: AgentCloseInitiator;
  /** The last `error` frame received before the close, if any. */
  lastError: AgentErrorEvent | undefined;
}

/** Typed event map of `AgentClient`. */
export interface AgentClientEvents {
  audio: [AgentAudioEvent];
  interruption: [AgentInterruptionEvent];
  transcript: [AgentTranscriptEvent];
  clientToolCall: [AgentClientToolCallEvent];
  agentToolRequest: [AgentToolEvent];
  agentToolResponse: [AgentToolEvent];
  agentError: [AgentErrorEvent];
  ping: [AgentPingEvent];
  mcpToolCall: [AgentMcpToolCallReport];
  contextUsage: [AgentContextUsageEvent];
  guardrailTriggered: [];
  close: [AgentCloseEvent];
}

/** Counters for metrics; a snapshot is returned by `AgentClient.counters`. */
export interface AgentClientCounters {
  audioChunksIn: number;
  audioBytesIn: number;
  audioChunksOut: number;
  audioBytesOut: number;
  /** Audio chunks dropped because their event id was below the interruption watermark. */
  staleChunksDropped: number;
  interruptions: number;
  pingsReceived: number;
  pongsSent: number;
  /** Sends attempted when the socket was not open (no-ops). */
  sendsAfterClose: number;
  protocolErrors: number;
  unknownMessages: number;
  lastPingRttMs: number | null;
  /** MCP tool calls that waited for approval and were answered (approved or denied). */
  mcpApprovalsAnswered: number;
  contextUsageReports: number;
  guardrailTriggers: number;
}

/** Options of `AgentClient.connect`. */
export interface AgentConnectOptions {
  /** Socket URL from `fetchSignedUrl` (a credential; never logged). */
  url: string;
  initiation?: AgentInitiation;
  /** Budget for socket open + `conversation_initiation_metadata`. */
  connectTimeoutMs: number;
  /** Per-call logger; the client logs lifecycle only, nothing per audio chunk. */
  log: Logger;
  /** Aborts the connect attempt only; once connected, use `close()`. */
  signal?: AbortSignal;
  /** Protocol-level ping interval; 0 disables. */
  livenessIntervalMs?: number;
  closeTimeoutMs?: number;
  /** Send buffer past which the socket ends as a network failure (src/agent/agent-socket.ts MAX_SEND_BUFFER_BYTES). */
  maxSendBufferBytes?: number;
  /** WebSocket sub-protocols to offer (the JS SDK offers `convai`); default none, like the Python SDK. */
  protocols?: string[];
  /**
   * Hold every event after the metadata until `resumeEvents()` (e.g. while the media path is built
   * from the formats). Pings are still answered and the watermark still applied meanwhile.
   * Default false: held events are delivered from the next macrotask.
   */
  holdEvents?: boolean;
  /** Answer to MCP tool calls awaiting approval; default `deny`. */
  mcpApproval?: McpApprovalPolicy;
}

/**
 * One agent conversation over one socket. Obtain with `AgentClient.connect`; the caller owns it and
 * must `close()` it (idempotent). Attach listeners synchronously after `await connect()`: events that
 * arrived together with the metadata are delivered from the next macrotask, so none are lost. If
 * listeners come later (after more awaits), connect with `holdEvents` and call `resumeEvents()`.
 */
export class AgentClient extends EventEmitter<AgentClientEvents> {
  readonly #socket: AgentSocket;
  readonly #log: Logger;
  readonly #opts: AgentConnectOptions;
  #conversation: ConversationState = initialConversation();
  #isConnected = false;
  #counters: AgentClientCounters = {
    audioChunksIn: 0,
    audioBytesIn: 0,
    audioChunksOut: 0,
    audioBytesOut: 0,
    staleChunksDropped: 0,
    interruptions: 0,
    pingsReceived: 0,
    pongsSent: 0,
    sendsAfterClose: 0,
    protocolErrors: 0,
    unknownMessages: 0,
    lastPingRttMs: null,
    mcpApprovalsAnswered: 0,
    contextUsageReports: 0,
    guardrailTriggers: 0,
  };
  #connect: { resolve: (c: AgentClient) => void; reject: (e: AgentConnectionError) => void; timer: NodeJS.Timeout } | undefined;
  readonly #onAbort = (): void => this.#failConnect(new AgentConnectionError('AGENT_CONNECT_ABORTED', 'agent connect aborted', { cause: this.#opts.signal?.reason }));
  /** Events queued between the metadata and the owner listening. */
  #pending: (() => void)[] | undefined;
  #flushImmediate: NodeJS.Immediate | undefined;
  #closeRequested: Promise<void> | undefined;

  private constructor(opts: AgentConnectOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.log;
    this.#socket = new AgentSocket(
      { url: opts.url, protocols: opts.protocols, log: opts.log, livenessIntervalMs: opts.livenessIntervalMs, closeTimeoutMs: opts.closeTimeoutMs, maxSendBufferBytes: opts.maxSendBufferBytes },
      {
        onOpen: () => {
          this.#socket.send(encodeAgentMessage(buildInitiationMessage(this.#opts.initiation)));
          this.#log.debug('agent socket open; initiation sent');
        },
        onMessage: (data, isBinary) => this.#onMessage(data, isBinary),
        onUpgradeRefused: (status) => this.#onUpgradeRefused(status),
        onClose: (code, reason, initiatedBy, lastError) => this.#onClose(code, reason, initiatedBy, lastError),
      },
    );
  }

  /**
   * Open the socket, send `conversation_initiation_client_data`, and resolve once
   * `conversation_initiation_metadata` arrived. Rejects with `AgentConnectionError`:
   * `AGENT_HANDSHAKE_TIMEOUT` (retryable), `AGENT_CONNECT_ABORTED`, `AGENT_AUTH_FAILED` / `AGENT_NOT_FOUND`
   * (HTTP upgrade refused), `AGENT_CONNECT_FAILED` (network; retryable), `AGENT_CLOSED_DURING_HANDSHAKE`
   * (close before metadata, with `closeCode`, e.g. 1008 override_error), `AGENT_UNSUPPORTED_AUDIO_FORMAT`.
   */
  static connect(opts: AgentConnectOptions): Promise<AgentClient> {
    if (opts.signal?.aborted === true) {
      return Promise.reject(new AgentConnectionError('AGENT_CONNECT_ABORTED', 'agent connect aborted', { cause: opts.signal.reason }));
    }
    let client: AgentClient;
    try {
      client = new AgentClient(opts);
    } catch (err) {
      // `ws` throws synchronously on a malformed URL. Its message quotes the URL (a credential), so
      // neither the message nor the error is passed on.
      const name = err instanceof Error ? err.name : 'Error';
      return Promise.reject(new AgentConnectionError('AGENT_CONNECT_FAILED', `invalid agent socket URL (${name})`));
    }
    return new Promise<AgentClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        const phase = client.#socket.isConnecting ? 'socket open' : 'conversation metadata';
        client.#failConnect(new AgentConnectionError('AGENT_HANDSHAKE_TIMEOUT', `no ${phase} within ${opts.connectTimeoutMs} ms`, { retryable: true }));
      }, opts.connectTimeoutMs);
      client.#connect = { resolve, reject, timer };
      opts.signal?.addEventListener('abort', client.#onAbort, { once: true });
    });
  }

  /** `conv_…` id from the metadata. */
  get conversationId(): string {
    return this.#conversation.conversationId;
  }

  /** Format the agent expects our audio in (`pcm_16000` when the server did not say). */
  get inputFormat(): AgentAudioFormat {
    return this.#conversation.inputFormat;
  }

  /** Format of the agent's audio events. */
  get outputFormat(): AgentAudioFormat {
    return this.#conversation.outputFormat;
  }

  /** Current interruption watermark: audio with a lower event id is dropped. */
  get watermark(): number {
    return this.#conversation.watermark;
  }

  /** True until the socket starts closing. */
  get isOpen(): boolean {
    return this.#isConnected && this.#socket.isOpen;
  }

  /** Snapshot of the counters. */
  get counters(): Readonly<AgentClientCounters> {
    return { ...this.#counters };
  }

  /** Send caller audio, already in `inputFormat`. Returns false (and counts) if the socket is not open. */
  sendAudio(bytes: Buffer): boolean {
    if (!this.#sendText(encodeUserAudioChunk(bytes))) return false;
    this.#counters.audioChunksOut += 1;
    this.#counters.audioBytesOut += bytes.length;
    return true;
  }

  /** Reset the agent's turn timeout (caller present but silent). */
  sendUserActivity(): boolean {
    return this.#send({ type: 'user_activity' });
  }

  /** Non-interrupting context for the agent's LLM. */
  sendContextualUpdate(text: string): boolean {
    return this.#send({ type: 'contextual_update', text });
  }

  /** A user turn as text; interrupts the agent if it is speaking. */
  sendUserMessage(text: string): boolean {
    return this.#send({ type: 'user_message', text });
  }

  /** Answer a `clientToolCall`. `result` is sent as a string, as the protocol requires. */
  sendToolResult(toolCallId: string, result: string, isError = false): boolean {
    return this.#send({ type: 'client_tool_result', tool_call_id: toolCallId, result, is_error: isError });
  }

  /** Deliver events held since the metadata (see `holdEvents`), in order, now. Idempotent. */
  resumeEvents(): void {
    if (this.#pending !== undefined) this.#flushPending();
  }

  /**
   * Close with `code` (1000 or 3000–4999) and resolve once the socket is closed (and the `close`
   * event delivered); `terminate()`s if the server does not answer within the close timeout.
   * Idempotent: every call returns the same promise.
   */
  close(code = 1000, reason = CLIENT_CLOSE_REASON): Promise<void> {
    this.#closeRequested ??= this.#socket.close(code, reason).then(
      // Let queued events (including 'close') reach listeners before close() resolves.
      () => new Promise<void>((resolve) => (this.#flushImmediate === undefined ? resolve() : setImmediate(resolve))),
    );
    return this.#closeRequested;
  }

  // --- sending --------------------------------------------------------------------------------

  #send(m: AgentClientMessage): boolean {
    return this.#sendText(encodeAgentMessage(m));
  }

  /** False (and counted) once we or the server started closing: sends then are no-ops, not errors. */
  #sendText(text: string): boolean {
    if (this.#socket.send(text)) return true;
    this.#counters.sendsAfterClose += 1;
    return false;
  }

  // --- receiving ------------------------------------------------------------------------------

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const { state, events, replies } = reduceConversation(this.#conversation, decodeAgentMessage(data as AgentRawData, isBinary));
    this.#conversation = state;
    for (const reply of replies) {
      if (this.#send(reply) && 'type' in reply && reply.type === 'pong') this.#counters.pongsSent += 1;
    }
    for (const event of events) this.#apply(event);
  }

  #apply(e: ConversationEvent): void {
    const c = this.#counters;
    switch (e.type) {
      case 'connected':
        if (!e.hasInputFormat) this.#log.debug('metadata has no user_input_audio_format; assuming pcm_16000');
        this.#succeedConnect();
        return;
      case 'connect-failed':
        c.protocolErrors += 1;
        this.#failConnect(new AgentConnectionError(e.error.code, e.error.message, { cause: e.error }));
        return;
      case 'protocol-error':
        c.protocolErrors += 1;
        this.#log.warn({ code: e.error.code, detail: e.error.message }, 'agent protocol error; message ignored');
        return;
      case 'stale-audio':
        c.audioChunksIn += 1;
        c.staleChunksDropped += 1;
        return;
      case 'audio':
        c.audioChunksIn += 1;
        c.audioBytesIn += e.event.byteLength;
        this.#deliver(() => this.emit('audio', e.event));
        return;
      case 'ping':
        c.pingsReceived += 1;
        c.lastPingRttMs = e.event.rttMs;
        if (this.#isConnected) this.#deliver(() => this.emit('ping', e.event));
        return;
      case 'interruption':
        c.interruptions += 1;
        this.#deliver(() => this.emit('interruption', e.event));
        return;
      case 'transcript':
        this.#deliver(() => this.emit('transcript', e.event));
        return;
      case 'clientToolCall':
        this.#deliver(() => this.emit('clientToolCall', e.event));
        return;
      case 'agentToolRequest':
        this.#deliver(() => this.emit('agentToolRequest', e.event));
        return;
      case 'agentToolResponse':
        if (e.event.isEndCall) this.#log.info('agent ended the call (end_call)');
        this.#deliver(() => this.emit('agentToolResponse', e.event));
        return;
      case 'mcpToolCall':
        this.#onMcpToolCall(e.event);
        return;
      case 'contextUsage':
        c.contextUsageReports += 1;
        this.#log.debug({ model: e.event.model, contextTokens: e.event.contextTokens, contextLimitTokens: e.event.contextLimitTokens }, 'agent context usage');
        this.#deliver(() => this.emit('contextUsage', e.event));
        return;
      case 'guardrailTriggered':
        c.guardrailTriggers += 1;
        this.#log.warn('agent guardrail triggered');
        this.#deliver(() => this.emit('guardrailTriggered'));
        return;
      case 'agentError':
        this.#log.warn({ code: e.event.code, errorType: e.event.errorType, shape: e.event.shape }, e.isBeforeMetadata ? 'agent error before metadata' : 'agent error');
        if (!e.isBeforeMetadata) this.#deliver(() => this.emit('agentError', e.event));
        return;
      case 'ignored':
        if (e.what.endsWith('before conversation metadata') || e.what.startsWith('duplicate')) this.#log.warn({ what: e.what }, 'agent message ignored');
        else {
          c.unknownMessages += 1;
          this.#log.debug({ type: e.what }, 'agent message type ignored');
        }
        return;
    }
  }

  /**
   * An MCP tool call waiting for approval is answered here, by policy and at once (even while
   * events are held), so the agent never sits out its approval timeout. Tool names and decisions
   * are logged; parameters are not (they may carry what the caller said).
   */
  #onMcpToolCall(e: AgentMcpToolCallEvent): void {
    let decision: AgentMcpToolCallReport['decision'] = null;
    if (e.state === 'awaiting_approval') {
      const isApproved = (this.#opts.mcpApproval ?? 'deny') === 'auto';
      decision = isApproved ? 'approved' : 'denied';
      if (this.#send({ type: 'mcp_tool_approval_result', tool_call_id: e.toolCallId, is_approved: isApproved })) this.#counters.mcpApprovalsAnswered += 1;
      this.#log.info({ tool: e.toolName, serviceId: e.serviceId, decision, policy: this.#opts.mcpApproval ?? 'deny' }, 'agent MCP tool call answered by policy');
    } else {
      this.#log.debug({ tool: e.toolName, state: e.state }, 'agent MCP tool call');
    }
    this.#deliver(() => this.emit('mcpToolCall', { ...e, decision }));
  }

  #deliver(fn: () => void): void {
    if (this.#pending !== undefined) this.#pending.push(fn);
    else fn();
  }

  readonly #flushPending = (): void => {
    clearImmediate(this.#flushImmediate);
    this.#flushImmediate = undefined;
    const pending = this.#pending ?? [];
    this.#pending = undefined;
    for (const deliver of pending) deliver();
  };

  // --- connect --------------------------------------------------------------------------------

  #settleConnect(): { resolve: (c: AgentClient) => void; reject: (e: AgentConnectionError) => void } | undefined {
    const connect = this.#connect;
    if (connect === undefined) return undefined;
    this.#connect = undefined;
    clearTimeout(connect.timer);
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    return connect;
  }

  #failConnect(err: AgentConnectionError): void {
    const connect = this.#settleConnect();
    if (connect === undefined) return;
    if (err.code === 'AGENT_CONNECT_ABORTED') this.#log.debug('agent connect aborted');
    else this.#log.warn({ code: err.code, closeCode: err.closeCode }, 'agent connect failed');
    this.#socket.terminate();
    connect.reject(err);
  }

  #succeedConnect(): void {
    const connect = this.#settleConnect();
    if (connect === undefined) return;
    this.#isConnected = true;
    this.#socket.startLiveness();
    // Frames that came in the same TCP read as the metadata are emitted synchronously by `ws`,
    // before the caller's `await` resumes. Hold events until the next macrotask.
    this.#pending = [];
    if (this.#opts.holdEvents !== true) this.#flushImmediate = setImmediate(this.#flushPending);
    this.#log.info({ conversationId: this.conversationId, inputFormat: this.inputFormat, outputFormat: this.outputFormat }, 'agent connected');
    connect.resolve(this);
  }

  #onUpgradeRefused(status: number): void {
    const message = `agent refused the WebSocket upgrade with HTTP ${status}`;
    this.#failConnect(
      status === 401 || status === 403
        ? new AgentConnectionError('AGENT_AUTH_FAILED', message)
        : status === 404
          ? new AgentConnectionError('AGENT_NOT_FOUND', message)
          : new AgentConnectionError('AGENT_CONNECT_FAILED', message, { retryable: status === 429 || status >= 500 }),
    );
  }

  #onClose(code: number, reason: string, initiatedBy: AgentCloseInitiator, lastSocketError: Error | undefined): void {
    if (this.#connect !== undefined) this.#failConnect(this.#closedDuringHandshakeError(code, reason, lastSocketError));
    if (!this.#isConnected) return;
    const lastError = this.#conversation.lastError;
    this.#log.info({ code, reason, initiatedBy, counters: this.#counters }, 'agent socket closed');
    this.#deliver(() => this.emit('close', { code, reason, initiatedBy, lastError }));
  }

  #closedDuringHandshakeError(code: number, reason: string, lastSocketError: Error | undefined): AgentConnectionError {
    if (code === 1006) {
      return new AgentConnectionError('AGENT_CONNECT_FAILED', 'agent socket failed before conversation metadata', {
        closeCode: code,
        retryable: true,
        cause: lastSocketError,
      });
    }
    const errorType = this.#conversation.lastError?.errorType;
    const detail = [errorType, reason].filter((s) => s !== undefined && s !== '').join(': ');
    return new AgentConnectionError('AGENT_CLOSED_DURING_HANDSHAKE', `agent closed the socket before conversation metadata (${code}${detail === '' ? '' : ` ${detail}`})`, {
      closeCode: code,
      retryable: code === 1011,
    });
  }
}
