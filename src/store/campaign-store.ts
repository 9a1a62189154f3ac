/**
 * Where campaigns, their leads and their call attempts live, so that a restart (or kill -9) resumes
 * a campaign where it was without calling anyone twice (docs/campaigns.md):
 *
 *   beginAttempt (lead → calling, attempt recorded with its call id) ──► then the call is dialled
 *   finishAttempt (outcome; lead → waiting / final)          voidAttempt (the call was never placed)
 *
 * An attempt without an outcome after a restart is resolved from its call's record: no record
 * means it was never dialled. Every write that reports something to webhooks takes the outbox rows
 * and writes them in the same transaction (src/store/webhook-outbox.ts).
 *
 * Implementations: MemoryCampaignStore (below), SqliteCampaignStore. All methods are asynchronous
 * and reject when the store cannot be written or read.
 */
import { isAwaitingCall, type CampaignSettings, type CampaignStatus, type LeadReason, type LeadState } from '../model/campaign';
import type { MemoryWebhookOutbox, OutboxEvent } from './webhook-outbox';

export interface StoredCampaign {
  readonly id: string;
  readonly status: CampaignStatus;
  readonly settings: CampaignSettings;
  /** Whose rate limit its calls are charged to (the API token that created it). */
  readonly requesterId: string;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface StoredLead {
  readonly campaignId: string;
  /** 1-based position in the upload; the lead's id within its campaign. */
  readonly row: number;
  readonly phoneNumber: string;
  readonly variables: Readonly<Record<string, string | number | boolean>> | null;
  readonly state: LeadState;
  readonly reason: LeadReason | null;
  readonly attempts: number;
  /** When a `pending` or `waiting` lead may be dialled next; null for the other states. */
  readonly nextAttemptMs: number | null;
  readonly callIds: readonly string[];
}

export interface StoredAttempt {
  readonly campaignId: string;
  readonly row: number;
  /** 1 for a lead's first attempt. */
  readonly attempt: number;
  readonly callId: string;
  readonly startedMs: number;
  /** Null while the call has not ended (or its end was not recorded before a crash). */
  readonly outcome: string | null;
  readonly endedMs: number | null;
}

/** How the lead stands after an attempt ended. */
export interface LeadAfterAttempt {
  state: LeadState;
  reason: LeadReason;
  nextAttemptMs: number | null;
}

export interface CampaignStore {
  /** A new campaign and all its leads (state `pending`, due at `nextAttemptMs`), at once. */
  createCampaign(campaign: StoredCampaign, leads: readonly StoredLead[], outbox?: readonly OutboxEvent[]): Promise<void>;
  getCampaign(id: string): Promise<StoredCampaign | undefined>;
  /** Newest first. */
  listCampaigns(limit: number): Promise<StoredCampaign[]>;
  /** Campaigns `running` or `paused`: what the runner takes up at start. */
  activeCampaigns(): Promise<StoredCampaign[]>;
  setCampaignStatus(id: string, status: CampaignStatus, nowMs: number, outbox?: readonly OutboxEvent[]): Promise<void>;
  /** Lead counts by state and reason (one entry per pair present). */
  leadCounts(campaignId: string): Promise<{ state: LeadState; reason: LeadReason | null; count: number }[]>;
  /** Up to `limit` `pending` or `waiting` leads due at `nowMs`, earliest due first, then by row. */
  dueLeads(campaignId: string, nowMs: number, limit: number): Promise<StoredLead[]>;
  /** Leads by row, after `afterRow`, optionally in one state. */
  listLeads(campaignId: string, query: { state?: LeadState; afterRow?: number; limit: number }): Promise<StoredLead[]>;
  getLead(campaignId: string, row: number): Promise<StoredLead | undefined>;
  /**
   * Before dialling: the attempt (with the call id it will use) is recorded and the lead is
   * `calling`, in one step and only if the lead still awaits exactly this attempt (`pending` or
   * `waiting`, `attempt - 1` attempts so far). False, with nothing written, otherwise: someone
   * dialled or cancelled it since it was read, and it must not be dialled.
   */
  beginAttempt(attempt: Omit<StoredAttempt, 'outcome' | 'endedMs'>): Promise<boolean>;
  /** The attempt's call ended with `outcome`; the lead moves on as `lead` says. */
  finishAttempt(
    end: { campaignId: string; row: number; callId: string; outcome: string; endedMs: number; lead: LeadAfterAttempt },
    outbox?: readonly OutboxEvent[],
  ): Promise<void>;
  /** The attempt's call was never placed (refused for capacity or a rate limit): as if it had not begun. */
  voidAttempt(v: { campaignId: string; row: number; callId: string; nextAttemptMs: number }): Promise<void>;
  /** Attempts without an outcome (after a crash: resolve each from its call's record). */
  openAttempts(): Promise<StoredAttempt[]>;
  /** The campaign's `pending` and `waiting` leads become `cancelled`; resolves to how many. */
  cancelLeads(campaignId: string, nowMs: number): Promise<number>;
}

/** A store that keeps campaigns beside its call records (and its webhook outbox). */
export interface HasCampaignStore {
  readonly campaigns: CampaignStore;
}

export function hasCampaignStore(store: object): store is HasCampaignStore {
  return 'campaigns' in store && typeof (store as { campaigns: unknown }).campaigns === 'object';
}

/** Campaigns in memory (MemoryCallStore's): nothing survives a restart. */
export class MemoryCampaignStore implements CampaignStore {
  readonly #campaigns = new Map<string, StoredCampaign>();
  /** Leads by campaign, then by row (rows of refused leads are missing). */
  readonly #leads = new Map<string, Map<number, StoredLead>>();
  readonly #attempts: StoredAttempt[] = [];
  readonly #outbox: MemoryWebhookOutbox;

  constructor(outbox: MemoryWebhookOutbox) {
    this.#outbox = outbox;
  }

  async createCampaign(campaign: StoredCampaign, leads: readonly StoredLead[], outbox: readonly OutboxEvent[] = []): Promise<void> {
    this.#campaigns.set(campaign.id, structuredClone(campaign));
    this.#leads.set(campaign.id, new Map([...leads].sort((a, b) => a.row - b.row).map((l) => [l.row, structuredClone(l)])));
    this.#outbox.add(outbox);
  }

  async getCampaign(id: string): Promise<StoredCampaign | undefined> {
    const c = this.#campaigns.get(id);
    return c === undefined ? undefined : structuredClone(c);
  }

  async listCampaigns(limit: number): Promise<StoredCampaign[]> {
    return [...this.#campaigns.values()]
      .sort((a, b) => b.createdMs - a.createdMs || (a.id < b.id ? 1 : -1))
      .slice(0, limit)
      .map((c) => structuredClone(c));
  }

  async activeCampaigns(): Promise<StoredCampaign[]> {
    return [...this.#campaigns.values()].filter((c) => c.status === 'running' || c.status === 'paused').map((c) => structuredClone(c));
  }

  async setCampaignStatus(id: string, status: CampaignStatus, nowMs: number, outbox: readonly OutboxEvent[] = []): Promise<void> {
    const c = this.#campaigns.get(id);
    if (c === undefined) return;
    this.#campaigns.set(id, { ...c, status, updatedMs: nowMs });
    this.#outbox.add(outbox);
  }

  async leadCounts(campaignId: string): Promise<{ state: LeadState; reason: LeadReason | null; count: number }[]> {
    const counts = new Map<string, { state: LeadState; reason: LeadReason | null; count: number }>();
    for (const l of this.#leadsOf(campaignId)) {
      const key = `${l.state}|${l.reason ?? ''}`;
      const entry = counts.get(key) ?? { state: l.state, reason: l.reason, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
    return [...counts.values()];
  }

  async dueLeads(campaignId: string, nowMs: number, limit: number): Promise<StoredLead[]> {
    return this.#leadsOf(campaignId)
      .filter((l) => (l.state === 'pending' || l.state === 'waiting') && (l.nextAttemptMs ?? Infinity) <= nowMs)
      .sort((a, b) => (a.nextAttemptMs ?? 0) - (b.nextAttemptMs ?? 0) || a.row - b.row)
      .slice(0, limit)
      .map((l) => structuredClone(l));
  }

  async listLeads(campaignId: string, query: { state?: LeadState; afterRow?: number; limit: number }): Promise<StoredLead[]> {
    return this.#leadsOf(campaignId)
      .filter((l) => l.row > (query.afterRow ?? 0) && (query.state === undefined || l.state === query.state))
      .slice(0, query.limit)
      .map((l) => structuredClone(l));
  }

  async getLead(campaignId: string, row: number): Promise<StoredLead | undefined> {
    const l = this.#leads.get(campaignId)?.get(row);
    return l === undefined ? undefined : structuredClone(l);
  }

  async beginAttempt(a: Omit<StoredAttempt, 'outcome' | 'endedMs'>): Promise<boolean> {
    const lead = this.#leads.get(a.campaignId)?.get(a.row);
    if (lead === undefined || !isAwaitingCall(lead.state) || lead.attempts !== a.attempt - 1) return false;
    this.#update(a.campaignId, a.row, (l) => ({ ...l, state: 'calling', attempts: a.attempt, nextAttemptMs: null, callIds: [...l.callIds, a.callId] }));
    this.#attempts.push({ ...a, outcome: null, endedMs: null });
    return true;
  }

  async finishAttempt(
    end: { campaignId: string; row: number; callId: string; outcome: string; endedMs: number; lead: { state: LeadState; reason: LeadReason; nextAttemptMs: number | null } },
    outbox: readonly OutboxEvent[] = [],
  ): Promise<void> {
    const i = this.#attempts.findIndex((a) => a.callId === end.callId);
    if (i >= 0) this.#attempts[i] = { ...this.#attempts[i]!, outcome: end.outcome, endedMs: end.endedMs };
    this.#update(end.campaignId, end.row, (l) => ({ ...l, ...end.lead }));
    this.#outbox.add(outbox);
  }

  async voidAttempt(v: { campaignId: string; row: number; callId: string; nextAttemptMs: number }): Promise<void> {
    const i = this.#attempts.findIndex((a) => a.callId === v.callId);
    if (i >= 0) this.#attempts.splice(i, 1);
    this.#update(v.campaignId, v.row, (l) => {
      const attempts = Math.max(0, l.attempts - 1);
      return { ...l, state: attempts === 0 ? 'pending' : 'waiting', attempts, nextAttemptMs: v.nextAttemptMs, callIds: l.callIds.filter((c) => c !== v.callId) };
    });
  }

  async openAttempts(): Promise<StoredAttempt[]> {
    return this.#attempts.filter((a) => a.outcome === null).map((a) => ({ ...a }));
  }

  async cancelLeads(campaignId: string, _nowMs: number): Promise<number> {
    let n = 0;
    for (const l of this.#leadsOf(campaignId)) {
      if (l.state !== 'pending' && l.state !== 'waiting') continue;
      this.#update(campaignId, l.row, (x) => ({ ...x, state: 'cancelled', reason: 'cancelled', nextAttemptMs: null }));
      n += 1;
    }
    return n;
  }

  #leadsOf(campaignId: string): StoredLead[] {
    return [...(this.#leads.get(campaignId)?.values() ?? [])];
  }

  #update(campaignId: string, row: number, change: (l: StoredLead) => StoredLead): void {
    const leads = this.#leads.get(campaignId);
    const lead = leads?.get(row);
    if (leads === undefined || lead === undefined) return;
    leads.set(row, change(lead));
  }
}
