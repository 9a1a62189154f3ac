/**
 * Call campaigns as the API shows them (snake_case, the wire shape) and the use-cases the API needs
 * (implemented by CampaignService, src/campaign/campaign-service.ts). docs/campaigns.md describes
 * the behaviour.
 */
import type { CallRequester } from './call-api';
import type { AmdMode } from './call-view';

/** `running` dials (inside its window), `paused` does not; `completed` and `cancelled` are final. */
export type CampaignStatus = 'running' | 'paused' | 'completed' | 'cancelled';
export const CAMPAIGN_STATUSES = ['running', 'paused', 'completed', 'cancelled'] as const satisfies readonly CampaignStatus[];

/**
 * A lead's state: `pending` (never tried), `calling` (an attempt is being dialled or talks),
 * `waiting` (a retry is due at `next_attempt_at`), then exactly one final state: `completed`
 * (answered), `failed` (out of attempts, or refused by the destination policy), `cancelled`.
 */
export type LeadState = 'pending' | 'calling' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export const LEAD_STATES = ['pending', 'calling', 'waiting', 'completed', 'failed', 'cancelled'] as const satisfies readonly LeadState[];

/** A lead that may be dialled when due: not yet called, or waiting for its retry. */
export function isAwaitingCall(state: LeadState): boolean {
  return state === 'pending' || state === 'waiting';
}
export const FINAL_LEAD_STATES: readonly LeadState[] = ['completed', 'failed', 'cancelled'];

/**
 * Why a lead is where it is, from its last attempt: `answered`, `answering-machine` (answered by a
 * machine with amd=hangup), `busy`, `no-answer`, `failed`, `refused` (destination policy),
 * `cancelled` (the campaign was cancelled first). Null while nothing was tried.
 */
export type LeadReason = 'answered' | 'answering-machine' | 'busy' | 'no-answer' | 'failed' | 'refused' | 'cancelled';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const satisfies readonly Weekday[];

/** When calls may start: local time `start` (inclusive) to `end` (exclusive) on `days`, in `time_zone`. */
export interface CallingWindow {
  /** IANA time zone, e.g. `Europe/Moscow`. */
  time_zone: string;
  /** `HH:MM` or `HH:MM:SS`; an `end` before `start` spans midnight. */
  start: string;
  end: string;
  days: Weekday[];
}

/** After an attempt ended this way: retry while the lead has had fewer than `attempts` attempts, `delay_s` later. */
export interface RetryRule {
  attempts: number;
  delay_s: number;
}

export interface RetryPolicy {
  busy: RetryRule;
  no_answer: RetryRule;
  failed: RetryRule;
}

/** Options every call of the campaign is placed with (as in POST /api/calls). */
export interface CampaignCallOptions {
  agent_id?: string;
  first_message?: string;
  prompt?: string;
  language?: string;
  voice_id?: string;
  caller_id?: string;
  ring_timeout_s?: number;
  max_duration_s?: number;
  record?: boolean;
}

export interface CampaignSettings {
  name: string;
  /** Calls of this campaign at once (each also takes a place under MAX_CONCURRENT_CALLS). */
  concurrency: number;
  /** Null: any time. */
  window: CallingWindow | null;
  retry: RetryPolicy;
  amd: AmdMode;
  call: CampaignCallOptions;
}

/** One lead as uploaded, numbered from 1 in the upload's order (CSV: data rows, the header not counted). */
export interface LeadInput {
  row: number;
  phone_number: string;
  dynamic_variables?: Record<string, string | number | boolean>;
}

/** A lead refused at upload, and why; the other leads are taken. */
export interface RowError {
  row: number;
  field: string;
  message: string;
}

export interface CampaignCounts {
  total: number;
  by_state: Record<LeadState, number>;
  /** Leads by their last attempt's outcome (leads never tried are not counted here). */
  by_reason: Partial<Record<LeadReason, number>>;
}

export interface CampaignView extends CampaignSettings {
  id: string;
  status: CampaignStatus;
  created_at: string;
  updated_at: string;
  counts: CampaignCounts;
  /** The calling window is open now (always true without a window). */
  is_window_open: boolean;
}

export interface LeadView {
  row: number;
  phone_number: string;
  dynamic_variables: Record<string, string | number | boolean> | null;
  state: LeadState;
  reason: LeadReason | null;
  attempts: number;
  next_attempt_at: string | null;
  /** Calls placed for this lead, oldest first (GET /api/calls/{id}). */
  call_ids: string[];
}

export interface LeadPage {
  leads: LeadView[];
  next_after: number | null;
}

/** The campaign created (undefined when no lead was valid) and the rows refused. */
export interface CampaignCreated {
  campaign: CampaignView | undefined;
  rejected: RowError[];
}

export interface CampaignApi {
  /**
   * Creates a running campaign from the leads that pass (syntax was checked by the caller, which
   * hands over its `rejected` rows): the destination policy and duplicates refuse more rows.
   * Throws PolicyError when a campaign-wide setting is refused (its caller ID).
   */
  createCampaign(settings: CampaignSettings, leads: readonly LeadInput[], rejected: readonly RowError[], requester: CallRequester): Promise<CampaignCreated>;
  /** Throws NotFoundError. */
  getCampaign(id: string): Promise<CampaignView>;
  /** Newest first. */
  listCampaigns(limit: number): Promise<CampaignView[]>;
  listLeads(id: string, query: { state?: LeadState; limit: number; after?: number }): Promise<LeadPage>;
  /** Throw NotFoundError, or ConflictError when the campaign is over (completed or cancelled). */
  pause(id: string): Promise<CampaignView>;
  resume(id: string): Promise<CampaignView>;
  cancel(id: string): Promise<CampaignView>;
}
