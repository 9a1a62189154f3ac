import type { Logger } from 'pino';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import type { AgentSignal, LinkOpener } from '../media/conversation-link';
import type { CallRecord } from '../model/call-record';
import type { BridgeMetrics, CallStatus, TranscriptEntry } from '../model/call-view';
import type { AdmissionTicket } from './admission';
import type { AgentConnectSettings } from './agent-connect';
import type { TransferAttempt, TransferSettings } from './transfer';

/** The process-wide settings every call runs with (from the config). */
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
  /** AGENT_USER_ID: the agent's `user_id` for every call; absent: the other party's number. */
  agentUserId?: string;
  /** AGENT_CONNECT and AGENT_PRECONNECT_MAX_S (src/call/agent-connect.ts); absent: while ringing, no limit. */
  agentConnect?: AgentConnectSettings;
}

/** What a call is built with. */
export interface CallDeps {
  control: CallControl;
  router: AriEventRouter;
  openLink: LinkOpener;
  settings: CallSettings;
  log: Logger;
  /** A place for a transfer leg (capacity and the attempt rate limit); throws the refusal. */
  admitTransferLeg: () => AdmissionTicket;
}

/** What a call reports, in order, to its observers (the call service). */
export interface CallEvents {
  status: [CallStatus];
  /** A new transcript line, the `seq`-th of the call (0-based). */
  transcript: [TranscriptEntry, number];
  /** Line `seq` changed: what the caller heard of it became known, or the agent corrected it. */
  lineUpdated: [TranscriptEntry, number];
  /** The caller barged in; queued agent audio was dropped. */
  interruption: [];
  /** Every METRICS_LOG_INTERVAL_MS while bridged: cumulative media counters. */
  metrics: [BridgeMetrics];
  /** The agent conversation is ready, `ms` after it was asked for. */
  agentConnected: [ms: number];
  /** The first agent audio left for the caller, `ms` after answer. */
  firstAudio: [ms: number];
  firstCallerFrame: [ms: number];
  /** The teardown released everything the call had opened, `ms` after it began. */
  released: [ms: number];
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
  /** The agent reported context use, a guardrail, or an MCP tool call (answered by policy). */
  agentSignal: [AgentSignal];
  ended: [CallRecord];
}

/** Dialplan context (asterisk-conf/extensions.conf) that runs AMD() and returns to Stasis with `amd,<status>,<cause>`. */
export const AMD_CONTEXT = 'vg-amd';
