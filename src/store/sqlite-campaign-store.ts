/**
 * Campaigns in the call database (schema version 8 of src/store/sqlite-call-store.ts): one row per
 * campaign, per lead and per call attempt. Each method is one transaction; those that report to
 * webhooks insert their outbox rows in it (src/store/campaign-store.ts has the contract).
 */
import type Database from 'better-sqlite3';
import { isAwaitingCall, type CampaignSettings, type CampaignStatus, type LeadReason, type LeadState } from '../model/campaign';
import type { CampaignStore, LeadAfterAttempt, StoredAttempt, StoredCampaign, StoredLead } from './campaign-store';
import type { OutboxEvent } from './webhook-outbox';

/** The campaign tables and their indexes (a migration of the call database). */
export const CAMPAIGN_SCHEMA = `
  CREATE TABLE campaigns (
    id           TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    settings     TEXT NOT NULL,
    requester_id TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX campaigns_newest ON campaigns (created_ms DESC, id DESC);
  CREATE TABLE campaign_leads (
    campaign_id     TEXT NOT NULL,
    lead_row        INTEGER NOT NULL,
    phone_number    TEXT NOT NULL,
    variables       TEXT,
    state           TEXT NOT NULL,
    reason          TEXT,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER,
    call_ids        TEXT NOT NULL,
    PRIMARY KEY (campaign_id, lead_row)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX campaign_leads_due ON campaign_leads (campaign_id, state, next_attempt_ms);
  CREATE TABLE campaign_attempts (
    call_id     TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    lead_row    INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    outcome     TEXT,
    ended_ms    INTEGER
  ) STRICT;
  CREATE INDEX campaign_attempts_open ON campaign_attempts (outcome) WHERE outcome IS NULL;
`;

interface CampaignRow {
  id: string;
  status: string;
  settings: string;
  requester_id: string;
  created_ms: number;
  updated_ms: number;
}

interface LeadRow {
  campaign_id: string;
  lead_row: number;
  phone_number: string;
  variables: string | null;
  state: string;
  reason: string | null;
  attempts: number;
  next_attempt_ms: number | null;
  call_ids: string;
}

interface AttemptRow {
  call_id: string;
  campaign_id: string;
  lead_row: number;
  attempt: number;
  started_ms: number;
  outcome: string | null;
  ended_ms: number | null;
}

/** Writes outbox rows inside the current transaction (the webhook outbox's `add`). */
export type OutboxWriter = (events: readonly OutboxEvent[]) => void;

export class SqliteCampaignStore implements CampaignStore {
  readonly #db: Database.Database;
  readonly #addOutbox: OutboxWriter;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: Database.Database, addOutbox: OutboxWriter) {
    this.#db = db;
    this.#addOutbox = addOutbox;
    this.#s = prepare(db);
  }

  async createCampaign(campaign: StoredCampaign, leads: readonly StoredLead[], outbox: readonly OutboxEvent[] = []): Promise<void> {
    this.#tx(() => {
      this.#s.insertCampaign.run(toCampaignRow(campaign));
      for (const lead of leads) this.#s.insertLead.run(toLeadRow(lead));
      this.#addOutbox(outbox);
    });
  }

  async getCampaign(id: string): Promise<StoredCampaign | undefined> {
    const row = this.#s.selectCampaign.get(id);
    return row === undefined ? undefined : fromCampaignRow(row);
  }

  async listCampaigns(limit: number): Promise<StoredCampaign[]> {
    return this.#s.selectNewest.all(limit).map(fromCampaignRow);
  }

  async activeCampaigns(): Promise<StoredCampaign[]> {
    return this.#s.selectActive.all().map(fromCampaignRow);
  }

  async setCampaignStatus(id: string, status: CampaignStatus, nowMs: number, outbox: readonly OutboxEvent[] = []): Promise<void> {
    this.#tx(() => {
      this.#s.setStatus.run({ id, status, now: nowMs });
      this.#addOutbox(outbox);
    });
  }

  async leadCounts(campaignId: string): Promise<{ state: LeadState; reason: LeadReason | null; count: number }[]> {
    return this.#s.counts.all(campaignId).map((r) => ({ state: r.state as LeadState, reason: r.reason as LeadReason | null, count: r.count }));
  }

  async dueLeads(campaignId: string, nowMs: number, limit: number): Promise<StoredLead[]> {
    return this.#s.selectDue.all({ campaign: campaignId, now: nowMs, limit }).map(fromLeadRow);
  }

  async listLeads(campaignId: string, query: { state?: LeadState; afterRow?: number; limit: number }): Promise<StoredLead[]> {
    return this.#s.selectLeads.all({ campaign: campaignId, state: query.state ?? null, after: query.afterRow ?? 0, limit: query.limit }).map(fromLeadRow);
  }

  async getLead(campaignId: string, row: number): Promise<StoredLead | undefined> {
    const r = this.#s.selectLead.get(campaignId, row);
    return r === undefined ? undefined : fromLeadRow(r);
  }

  async beginAttempt(a: Omit<StoredAttempt, 'outcome' | 'endedMs'>): Promise<boolean> {
    return this.#tx(() => {
      const lead = this.#s.selectLead.get(a.campaignId, a.row);
      if (lead === undefined) throw new Error(`campaign ${a.campaignId} has no lead ${a.row}`);
      if (!isAwaitingCall(lead.state as LeadState) || lead.attempts !== a.attempt - 1) return false;
      const callIds = [...(JSON.parse(lead.call_ids) as string[]), a.callId];
      this.#s.updateLead.run({ ...lead, state: 'calling', attempts: a.attempt, next_attempt_ms: null, call_ids: JSON.stringify(callIds) });
      this.#s.insertAttempt.run({ call_id: a.callId, campaign_id: a.campaignId, lead_row: a.row, attempt: a.attempt, started_ms: a.startedMs, outcome: null, ended_ms: null });
      return true;
    });
  }

  async finishAttempt(
    end: { campaignId: string; row: number; callId: string; outcome: string; endedMs: number; lead: LeadAfterAttempt },
    outbox: readonly OutboxEvent[] = [],
  ): Promise<void> {
    this.#tx(() => {
      this.#s.endAttempt.run({ call_id: end.callId, outcome: end.outcome, ended_ms: end.endedMs });
      const lead = this.#s.selectLead.get(end.campaignId, end.row);
      if (lead !== undefined) {
        this.#s.updateLead.run({ ...lead, state: end.lead.state, reason: end.lead.reason, next_attempt_ms: end.lead.nextAttemptMs });
      }
      this.#addOutbox(outbox);
    });
  }

  async voidAttempt(v: { campaignId: string; row: number; callId: string; nextAttemptMs: number }): Promise<void> {
    this.#tx(() => {
      this.#s.deleteAttempt.run(v.callId);
      const lead = this.#s.selectLead.get(v.campaignId, v.row);
      if (lead === undefined) return;
      const attempts = Math.max(0, lead.attempts - 1);
      const callIds = (JSON.parse(lead.call_ids) as string[]).filter((c) => c !== v.callId);
      this.#s.updateLead.run({ ...lead, state: attempts === 0 ? 'pending' : 'waiting', attempts, next_attempt_ms: v.nextAttemptMs, call_ids: JSON.stringify(callIds) });
    });
  }

  async openAttempts(): Promise<StoredAttempt[]> {
    return this.#s.selectOpen.all().map((r) => ({
      campaignId: r.campaign_id,
      row: r.lead_row,
      attempt: r.attempt,
      callId: r.call_id,
      startedMs: r.started_ms,
      outcome: r.outcome,
      endedMs: r.ended_ms,
    }));
  }

  async cancelLeads(campaignId: string, _nowMs: number): Promise<number> {
    return Number(this.#s.cancelLeads.run(campaignId).changes);
  }

  #tx<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }
}

function prepare(db: Database.Database) {
  return {
    insertCampaign: db.prepare<[CampaignRow]>(
      'INSERT INTO campaigns (id, status, settings, requester_id, created_ms, updated_ms) VALUES (@id, @status, @settings, @requester_id, @created_ms, @updated_ms)',
    ),
    selectCampaign: db.prepare<[string], CampaignRow>('SELECT * FROM campaigns WHERE id = ?'),
    selectNewest: db.prepare<[number], CampaignRow>('SELECT * FROM campaigns ORDER BY created_ms DESC, id DESC LIMIT ?'),
    selectActive: db.prepare<[], CampaignRow>("SELECT * FROM campaigns WHERE status IN ('running', 'paused') ORDER BY created_ms"),
    setStatus: db.prepare<[{ id: string; status: string; now: number }]>('UPDATE campaigns SET status = @status, updated_ms = @now WHERE id = @id'),
    insertLead: db.prepare<[LeadRow]>(`
      INSERT INTO campaign_leads (campaign_id, lead_row, phone_number, variables, state, reason, attempts, next_attempt_ms, call_ids)
      VALUES (@campaign_id, @lead_row, @phone_number, @variables, @state, @reason, @attempts, @next_attempt_ms, @call_ids)`),
    updateLead: db.prepare<[LeadRow]>(`
      UPDATE campaign_leads SET state = @state, reason = @reason, attempts = @attempts, next_attempt_ms = @next_attempt_ms, call_ids = @call_ids
      WHERE campaign_id = @campaign_id AND lead_row = @lead_row`),
    selectLead: db.prepare<[string, number], LeadRow>('SELECT * FROM campaign_leads WHERE campaign_id = ? AND lead_row = ?'),
    selectDue: db.prepare<[{ campaign: string; now: number; limit: number }], LeadRow>(`
      SELECT * FROM campaign_leads
      WHERE campaign_id = @campaign AND state IN ('pending', 'waiting') AND next_attempt_ms <= @now
      ORDER BY next_attempt_ms, lead_row
      LIMIT @limit`),
    selectLeads: db.prepare<[{ campaign: string; state: string | null; after: number; limit: number }], LeadRow>(`
      SELECT * FROM campaign_leads
      WHERE campaign_id = @campaign AND lead_row > @after AND (@state IS NULL OR state = @state)
      ORDER BY lead_row
      LIMIT @limit`),
    counts: db.prepare<[string], { state: string; reason: string | null; count: number }>(
      'SELECT state, reason, COUNT(*) AS count FROM campaign_leads WHERE campaign_id = ? GROUP BY state, reason',
    ),
    insertAttempt: db.prepare<[AttemptRow]>(`
      INSERT INTO campaign_attempts (call_id, campaign_id, lead_row, attempt, started_ms, outcome, ended_ms)
      VALUES (@call_id, @campaign_id, @lead_row, @attempt, @started_ms, @outcome, @ended_ms)`),
    endAttempt: db.prepare<[{ call_id: string; outcome: string; ended_ms: number }]>(
      'UPDATE campaign_attempts SET outcome = @outcome, ended_ms = @ended_ms WHERE call_id = @call_id',
    ),
    deleteAttempt: db.prepare<[string]>('DELETE FROM campaign_attempts WHERE call_id = ?'),
    selectOpen: db.prepare<[], AttemptRow>('SELECT * FROM campaign_attempts WHERE outcome IS NULL ORDER BY started_ms'),
    cancelLeads: db.prepare<[string]>(
      "UPDATE campaign_leads SET state = 'cancelled', reason = 'cancelled', next_attempt_ms = NULL WHERE campaign_id = ? AND state IN ('pending', 'waiting')",
    ),
  };
}

function toCampaignRow(c: StoredCampaign): CampaignRow {
  return { id: c.id, status: c.status, settings: JSON.stringify(c.settings), requester_id: c.requesterId, created_ms: c.createdMs, updated_ms: c.updatedMs };
}

function fromCampaignRow(r: CampaignRow): StoredCampaign {
  return {
    id: r.id,
    status: r.status as CampaignStatus,
    settings: JSON.parse(r.settings) as CampaignSettings,
    requesterId: r.requester_id,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  };
}

function toLeadRow(l: StoredLead): LeadRow {
  return {
    campaign_id: l.campaignId,
    lead_row: l.row,
    phone_number: l.phoneNumber,
    variables: l.variables === null ? null : JSON.stringify(l.variables),
    state: l.state,
    reason: l.reason,
    attempts: l.attempts,
    next_attempt_ms: l.nextAttemptMs,
    call_ids: JSON.stringify(l.callIds),
  };
}

function fromLeadRow(r: LeadRow): StoredLead {
  return {
    campaignId: r.campaign_id,
    row: r.lead_row,
    phoneNumber: r.phone_number,
    variables: r.variables === null ? null : (JSON.parse(r.variables) as Record<string, string | number | boolean>),
    state: r.state as LeadState,
    reason: r.reason as LeadReason | null,
    attempts: r.attempts,
    nextAttemptMs: r.next_attempt_ms,
    callIds: JSON.parse(r.call_ids) as string[],
  };
}
