
/**
 * What the API and logs show of a call. Field names are snake_case because they are the public JSON
 * shape (kept from the predecessor: `caller_to_ai`, `ai_to_caller`, `resampling_ops`, `errors`).
 */
export type CallStatus = 'dialing' | 'ringing' | 'answered' | 'completed' | 'busy' | 'no-answer' | 'failed';
export const TERMINAL_STATUSES: readonly CallStatus[] = ['completed', 'busy', 'no-answer', 'failed'];

export interface DirectionCounters {
  packets: number;
  bytes: number;
}

export interface BridgeMetrics {
  caller_to_ai: DirectionCounters;
  ai_to_caller: DirectionCounters;
  resampling_ops: number;
  errors: number;
}

/** What the caller heard of an agent line, measured at the playout (what left for the phone). */
export interface HeardInfo {
  /** Every sample of the line the gateway received reached the caller. False: a barge-in (or the call's end) cut it. */
  complete: boolean;
  /** Audio of the line the caller heard, ms. */
  ms: number;
  /** Audio of the line the gateway received for the caller, ms. */
  total_ms: number;
  /** With the agent's character alignment: characters whose sound had begun (all of them when complete). */
  chars?: number;
  /** With alignment: those characters, i.e. the words the caller heard. */
  text?: string;
}

export interface TranscriptEntry {
  role: 'user' | 'agent';
  text: string;
  at: string; // ISO-8601
  /** Agent lines: what the caller heard of it, once known (absent for a line without audio). */
  heard?: HeardInfo;
  /** An agent line the agent corrected after a barge-in: what it had meant to say (`text` is what it became). */
  original_text?: string;
}

export interface CallView {
  id: string;
  direction: 'outbound' | 'inbound';
  /** The other party: the number dialled (outbound) or the caller's number (inbound). */
  phone_number: string;
  /** Inbound: the number the caller dialled (our DID). */
  dialed_number: string | null;
  /** Agent this call talks to; null = the configured default. */
  agent_id: string | null;
  /** AMD verdict when requested: HUMAN, MACHINE, NOTSURE. */
  amd_result: string | null;
  /** Number the agent transferred the caller to. */
  transferred_to: string | null;
  /** Where to download the recording, when the call was recorded. */
  recording_url: string | null;
  /** NODE_ID of the gateway that carried the call (its Asterisk held the call leg); null when unknown. */
  node_id: string | null;
  status: CallStatus;
  conversation_id: string | null;
  created_at: string;
  answered_at: string | null;
  ended_at: string | null;
  /** Q.850 cause from Asterisk, e.g. 16 normal clearing, 17 busy, 19 no answer. */
  hangup_cause: number | null;
  hangup_cause_text: string | null;
  /** SIP response that ended the call when Asterisk reports one (e.g. 486 busy, 404 not found). */
  hangup_sip_code: number | null;
  /**
   * Who or what ended the call: callee, api, agent, agent-error, ring-timeout, no-answer, busy,
   * rejected, max-duration, answering-machine, error, shutdown, gateway-restart; an inbound call
   * refused by admission: at-capacity or rate-limited (docs/api.md).
   */
  end_reason: string | null;
  error: string | null;
  transcript: TranscriptEntry[];
  metrics: BridgeMetrics;
}

/** What to do when answering-machine detection finds a machine: hang up, or let the agent speak after the greeting. */
export type AmdMode = 'off' | 'hangup' | 'leave-message';

/** Per-call options from `POST /api/calls`. */
export interface StartCallRequest {
  phoneNumber: string;
  /**
   * The id the call gets, chosen by the caller of the service (a campaign stores it with its attempt
   * before dialling); never taken from an API request. Default: a new random UUID.
   */
  callId?: string;
  agentId?: string;
  voiceId?: string;
  callerId?: string;
  ringTimeoutS?: number;
  record?: boolean;
  amd?: AmdMode;
  dynamicVariables?: Record<string, string | number | boolean>;
  firstMessage?: string;
  prompt?: string;
  language?: string;
  maxDurationS?: number;
}

/**
 * The trunk endpoint's ARI state. Asterisk 22 exposes no outbound-registration status over ARI
 * (only AMI and the CLI have it); the endpoint state comes from qualifying its AOR contact with
 * OPTIONS, and with `qualify_2xx_only = yes` (asterisk-conf/pjsip.conf) it is `online` only while
 * the carrier answers our authenticated OPTIONS with 2xx: reachable and accepting our credentials.
 * `unknown` while ARI is down or does not answer.
 */
export interface TrunkHealth {
  endpoint: string;
  state: 'online' | 'offline' | 'unknown';
}
