/**
 * Dials the campaigns' leads (docs/campaigns.md): on its own timer, for each running campaign whose
 * calling window is open, up to `concurrency` calls at once, through the call service's
 * `startCall` like any API call (admission, destination policy, caller ID policy, rate limits of
 * the token that created the campaign).
 *
 *   due lead ──► beginAttempt (stored: lead `calling`, attempt with its call id) ──► startCall
 *     refused before a call existed: policy ─► lead failed (refused)
 *                                    capacity, rate limit, ARI down ─► voidAttempt (due again later)
 *     the call's `ended` event ─► finishAttempt: completed, or retry (waiting), or failed
 *
 * At most one call per attempt: the attempt is stored before it is dialled, and a lead in `calling`
 * is never due. After a restart, an attempt without an outcome is resolved from its call's record
 * (no record: it was never dialled, and is voided).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CallNotFoundError, PolicyError, RateLimitError } from '../errors';
import type { CallEventBus, CallEventSubscription, EndedEvent } from '../events/call-events';
import type { CallRequester } from '../model/call-api';
import type { CallRecord } from '../model/call-record';
import { FINAL_LEAD_STATES } from '../model/campaign';
import { TERMINAL_STATUSES, type CallStatus, type CallView, type StartCallRequest } from '../model/call-view';
import type { CampaignStore, LeadAfterAttempt, StoredCampaign, StoredLead } from '../store/campaign-store';
import { isWindowOpen } from './calling-window';
import { campaignView, countsOf, leadView, openLeads, type CampaignReporter } from './campaign-views';
import { leadAfterAttempt, outcomeOf } from './lead-outcome';
import { PassLoop } from '../lifecycle/pass-loop';

/** What the runner needs of the call service (CallService implements it). */
export interface CampaignDialer {
  startCall(request: StartCallRequest, requester: CallRequester): Promise<CallView>;
  getCall(id: string): Promise<CallRecord>;
}

export interface CampaignRunnerOptions {
  store: CampaignStore;
  dialer: CampaignDialer;
  bus: CallEventBus;
  reporter: CampaignReporter;
  log: Logger;
  metrics?: { campaignAttempt(outcome: string): void };
  /** A write carried webhook rows (wake the deliverer). */
  onOutboxWritten?: () => void;
  /** How often campaigns are looked at when nothing wakes the runner. Default 1000. */
  tickMs?: number;
  /** A lead refused for capacity or with ARI down is due again this much later. Default 5000. */
  deferMs?: number;
  nowMs?: () => number;
  newCallId?: () => string;
}

interface Attempt {
  campaignId: string;
  row: number;
  attempt: number;
  callId: string;
}

export class CampaignRunner {
  readonly #o: CampaignRunnerOptions;
  readonly #nowMs: () => number;
  readonly #campaigns = new Map<string, StoredCampaign>();
  /** Attempts whose call may still be going on, by call id. */
  readonly #inFlight = new Map<string, Attempt>();
  /** Outcomes being written (awaited by `close`). */
  readonly #writes = new Set<Promise<void>>();
  /** Outcomes the store refused: written again on the next pass. */
  #unwritten: { attempt: Attempt; status: CallStatus; endReason: string | null; wasAnswered: boolean | undefined }[] = [];
  #subscription: CallEventSubscription | undefined;
  readonly #loop = new PassLoop(() => this.#runPass());
  #needsRecovery = true;

  constructor(options: CampaignRunnerOptions) {
    this.#o = options;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Takes up the stored campaigns (resolving attempts a crash left open) and starts dialling. */
  start(): void {
    if (this.#loop.isRunning) return;
    this.#subscription ??= this.#o.bus.subscribe((event) => {
      if (event.type === 'ended') this.#onEnded(event);
    });
    this.#loop.start();
  }

  /** A campaign was created or changed status. */
  track(campaign: StoredCampaign): void {
    if (campaign.status === 'running' || campaign.status === 'paused' || this.#inFlightOf(campaign.id) > 0) this.#campaigns.set(campaign.id, campaign);
    else this.#campaigns.delete(campaign.id);
    this.wake();
  }

  /** The campaign as the runner holds it (fresher than the store while a change is written). */
  campaign(id: string): StoredCampaign | undefined {
    return this.#campaigns.get(id);
  }

  /** Calls of the campaign that may still be going on. */
  inFlightOf(campaignId: string): number {
    return this.#inFlightOf(campaignId);
  }

  wake(): void {
    this.#loop.wake();
  }

  /** No new calls from here on; the pass running finishes first. Calls placed go on. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** After the calls ended (at shutdown): stops following them and waits for their outcomes to be written. */
  async close(): Promise<void> {
    await this.stop();
    this.#subscription?.cancel();
    this.#subscription = undefined;
    await Promise.allSettled([...this.#writes]);
  }

  #inFlightOf(campaignId: string): number {
    let n = 0;
    for (const a of this.#inFlight.values()) if (a.campaignId === campaignId) n += 1;
    return n;
  }

  /** One look at every campaign. Never rejects. */
  async #runPass(): Promise<void> {
    try {
      if (this.#needsRecovery) await this.#recover();
      const unwritten = this.#unwritten;
      this.#unwritten = [];
      for (const u of unwritten) await this.#finish(u.attempt, u.status, u.endReason, u.wasAnswered);
      const now = this.#nowMs();
      // Settled, not all: a campaign whose store write failed must not end the pass while the others
      // still dial from what they read (the next pass would read the same leads again).
      const served = await Promise.allSettled([...this.#campaigns.values()].map((c) => this.#serve(c.id, now)));
      for (const r of served) if (r.status === 'rejected') this.#o.log.warn({ err: r.reason }, 'campaign pass failed; retrying');
    } catch (err) {
      this.#o.log.warn({ err }, 'campaign pass failed; retrying');
    }
    this.#loop.next(this.#o.tickMs ?? 1000);
  }

  /** Dials what is due for one campaign, then completes it if nothing is left. */
  async #serve(campaignId: string, now: number): Promise<void> {
    const c = this.#campaigns.get(campaignId);
    if (c === undefined) return;
    if (c.status === 'running' && isWindowOpen(c.settings.window, now)) {
      const free = c.settings.concurrency - this.#inFlightOf(c.id);
      const due = free > 0 ? await this.#o.store.dueLeads(c.id, now, free) : [];
      for (const lead of due) {
        if (!this.#loop.isRunning || this.#campaigns.get(c.id)?.status !== 'running') break;
        await this.#dial(c, lead);
      }
    }
    if (this.#inFlightOf(c.id) === 0) await this.#completeIfDone(c.id);
  }

  async #dial(c: StoredCampaign, lead: StoredLead): Promise<void> {
    const o = this.#o;
    const attempt: Attempt = { campaignId: c.id, row: lead.row, attempt: lead.attempts + 1, callId: (o.newCallId ?? randomUUID)() };
    // Stored before the call exists: after a crash the attempt is found, never dialled twice. Refused
    // when the lead was dialled or cancelled since this pass read it.
    if (!(await o.store.beginAttempt({ ...attempt, startedMs: this.#nowMs() }))) return;
    this.#inFlight.set(attempt.callId, attempt);
    try {
      await o.dialer.startCall(requestOf(c, lead, attempt.callId), { id: c.requesterId });
    } catch (err) {
      // Placed and ended at once (Asterisk refused it): its `ended` event already settled it.
      if (!this.#inFlight.delete(attempt.callId)) return;
      if (err instanceof PolicyError) {
        o.log.info({ campaignId: c.id, row: lead.row, code: err.code }, 'campaign lead refused by policy');
        try {
          await this.#settle(attempt, { state: 'failed', reason: 'refused', nextAttemptMs: null }, 'refused');
        } catch (writeErr) {
          // As below: the attempt stays open in the store (lead `calling`); recovery settles it.
          this.#needsRecovery = true;
          throw writeErr;
        }
        return;
      }
      // Not placed (capacity, a rate limit, ARI down, the store): as if not tried, due again later.
      const waitMs = err instanceof RateLimitError ? Math.max(err.retryAfterMs, 100) : (o.deferMs ?? 5000);
      o.metrics?.campaignAttempt('deferred');
      o.log.info({ campaignId: c.id, row: lead.row, code: (err as { code?: string }).code, retryInMs: waitMs }, 'campaign call not placed now; deferred');
      try {
        await o.store.voidAttempt({ campaignId: c.id, row: lead.row, callId: attempt.callId, nextAttemptMs: this.#nowMs() + waitMs });
      } catch (writeErr) {
        // The attempt stays open in the store; recovery voids it once the store writes again.
        this.#needsRecovery = true;
        throw writeErr;
      }
    }
  }

  #onEnded(event: EndedEvent): void {
    const attempt = this.#inFlight.get(event.call_id);
    if (attempt === undefined) return;
    this.#inFlight.delete(event.call_id);
    const write: Promise<void> = this.#finish(attempt, event.status, event.end_reason).finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }

  /** Records how an attempt's call ended and moves its lead on. Never rejects (a failed write is retried). */
  /**
   * `wasAnswered` when the caller read the call's record already (recovery); otherwise it is read
   * here, and a read that fails is retried with the write: an answered call taken for unanswered
   * would be dialled again.
   */
  async #finish(attempt: Attempt, status: CallStatus, endReason: string | null, wasAnswered?: boolean): Promise<void> {
    try {
      const c = this.#campaigns.get(attempt.campaignId) ?? (await this.#o.store.getCampaign(attempt.campaignId));
      if (c === undefined) return;
      // Whether it was answered is on its record (the ended event does not say).
      wasAnswered ??= await this.#wasAnswered(attempt.callId);
      const result = outcomeOf(status, endReason, wasAnswered) ?? { outcome: 'failed' as const, reason: 'failed' as const };
      this.#o.metrics?.campaignAttempt(result.outcome);
      const canRetry = c.status === 'running' || c.status === 'paused';
      await this.#settle(attempt, leadAfterAttempt(result, attempt.attempt, c.settings.retry, this.#nowMs(), canRetry), result.outcome);
    } catch (err) {
      this.#o.log.warn({ err, campaignId: attempt.campaignId, row: attempt.row }, 'campaign attempt outcome not written; retrying');
      this.#unwritten.push({ attempt, status, endReason, wasAnswered });
    }
    this.wake();
  }

  /** From the call's record; a call with no record was never answered. Rejects when the store fails. */
  async #wasAnswered(callId: string): Promise<boolean> {
    try {
      return (await this.#o.dialer.getCall(callId)).answered_at !== null;
    } catch (err) {
      if (err instanceof CallNotFoundError) return false;
      throw err;
    }
  }

  /** Writes the attempt's outcome and the lead's next state; a final state is reported. */
  async #settle(attempt: Attempt, after: LeadAfterAttempt, outcome: string): Promise<void> {
    const { store, reporter } = this.#o;
    const isFinal = FINAL_LEAD_STATES.includes(after.state);
    const lead = await store.getLead(attempt.campaignId, attempt.row);
    const view = lead === undefined ? undefined : leadView({ ...lead, ...after });
    const outbox = isFinal && view !== undefined ? reporter.leadRows(attempt.campaignId, view) : [];
    await store.finishAttempt({ campaignId: attempt.campaignId, row: attempt.row, callId: attempt.callId, outcome, endedMs: this.#nowMs(), lead: after }, outbox);
    if (outbox.length > 0) this.#o.onOutboxWritten?.();
    if (isFinal && view !== undefined) await this.#report(attempt.campaignId, view);
  }

  async #report(campaignId: string, lead?: ReturnType<typeof leadView>): Promise<void> {
    const c = this.#campaigns.get(campaignId) ?? (await this.#o.store.getCampaign(campaignId));
    if (c === undefined) return;
    this.#o.reporter.publish(campaignView(c, countsOf(await this.#o.store.leadCounts(campaignId)), this.#nowMs()), lead);
  }

  /** A campaign with no lead left to call is completed (a cancelled one just stops being followed). */
  async #completeIfDone(campaignId: string): Promise<void> {
    const c = this.#campaigns.get(campaignId);
    if (c === undefined) return;
    if (c.status === 'cancelled' || c.status === 'completed') {
      this.#campaigns.delete(campaignId);
      return;
    }
    const counts = countsOf(await this.#o.store.leadCounts(campaignId));
    if (openLeads(counts) > 0) return;
    const now = this.#nowMs();
    const done: StoredCampaign = { ...c, status: 'completed', updatedMs: now };
    const view = campaignView(done, counts, now);
    const outbox = this.#o.reporter.statusRows(view);
    await this.#o.store.setCampaignStatus(c.id, 'completed', now, outbox);
    if (outbox.length > 0) this.#o.onOutboxWritten?.();
    this.#campaigns.delete(campaignId);
    this.#o.log.info({ campaignId, counts: counts.by_state }, 'campaign completed');
    this.#o.reporter.publish(view);
  }

  /** At start: take up the stored campaigns and resolve attempts left without an outcome. */
  async #recover(): Promise<void> {
    const { store, dialer, log } = this.#o;
    for (const c of await store.activeCampaigns()) if (!this.#campaigns.has(c.id)) this.#campaigns.set(c.id, c);
    for (const a of await store.openAttempts()) {
      if (this.#inFlight.has(a.callId)) continue;
      const attempt: Attempt = { campaignId: a.campaignId, row: a.row, attempt: a.attempt, callId: a.callId };
      let record: CallRecord | undefined;
      try {
        record = await dialer.getCall(a.callId);
      } catch (err) {
        if (!(err instanceof CallNotFoundError)) throw err;
      }
      if (record === undefined) {
        // No record of its call: it was never placed (a call is recorded before it is dialled).
        log.info({ campaignId: a.campaignId, row: a.row }, 'campaign attempt without a call found after a restart; voided');
        await store.voidAttempt({ campaignId: a.campaignId, row: a.row, callId: a.callId, nextAttemptMs: this.#nowMs() });
      } else if (TERMINAL_STATUSES.includes(record.status)) {
        log.info({ campaignId: a.campaignId, row: a.row, status: record.status }, 'campaign attempt settled after a restart from its call record');
        await this.#finish(attempt, record.status, record.end_reason, record.answered_at !== null);
      } else {
        this.#inFlight.set(a.callId, attempt); // still live in this process: its end will come
      }
    }
    this.#needsRecovery = false;
  }
}

/** The call request of one attempt: the lead's number and variables, the campaign's options. */
export function requestOf(c: StoredCampaign, lead: StoredLead, callId: string): StartCallRequest {
  const o = c.settings.call;
  const r: StartCallRequest = { phoneNumber: lead.phoneNumber, callId };
  if (lead.variables !== null) r.dynamicVariables = { ...lead.variables };
  if (c.settings.amd !== 'off') r.amd = c.settings.amd;
  if (o.agent_id !== undefined) r.agentId = o.agent_id;
  if (o.first_message !== undefined) r.firstMessage = o.first_message;
  if (o.prompt !== undefined) r.prompt = o.prompt;
  if (o.language !== undefined) r.language = o.language;
  if (o.voice_id !== undefined) r.voiceId = o.voice_id;
  if (o.caller_id !== undefined) r.callerId = o.caller_id;
  if (o.ring_timeout_s !== undefined) r.ringTimeoutS = o.ring_timeout_s;
  if (o.max_duration_s !== undefined) r.maxDurationS = o.max_duration_s;
  if (o.record !== undefined) r.record = o.record;
  return r;
}
