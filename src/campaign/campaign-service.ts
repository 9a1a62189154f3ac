/**
 * The campaign use-cases behind the REST API (src/model/campaign.ts): create (leads checked
 * against the destination policy, duplicates refused row by row), read, pause, resume, cancel.
 * Dialling is the runner's (src/campaign/campaign-runner.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BridgeError, ConflictError, NotFoundError, PolicyError, storeUnavailable } from '../errors';
import type { CallRequester } from '../model/call-api';
import type {
  CampaignApi,
  CampaignCreated,
  CampaignSettings,
  CampaignStatus,
  CampaignView,
  LeadInput,
  LeadPage,
  LeadState,
  RowError,
} from '../model/campaign';
import type { CampaignStore, StoredCampaign, StoredLead } from '../store/campaign-store';
import type { CampaignRunner } from './campaign-runner';
import { campaignView, countsOf, leadView, type CampaignReporter } from './campaign-views';

export interface CampaignServiceDeps {
  store: CampaignStore;
  runner: CampaignRunner;
  reporter: CampaignReporter;
  /** The destination and caller ID policy of every call (throws PolicyError naming the field). */
  destinationGuard: { assertAllowed(phoneNumber: string, callerId?: string): void };
  log: Logger;
  /** A write carried webhook rows (wake the deliverer). */
  onOutboxWritten?: () => void;
  nowMs?: () => number;
  newId?: () => string;
}

export class CampaignService implements CampaignApi {
  readonly #d: CampaignServiceDeps;
  readonly #nowMs: () => number;

  constructor(deps: CampaignServiceDeps) {
    this.#d = deps;
    this.#nowMs = deps.nowMs ?? Date.now;
  }

  createCampaign(settings: CampaignSettings, leads: readonly LeadInput[], rejected: readonly RowError[], requester: CallRequester): Promise<CampaignCreated> {
    return storeGuard(() => this.#create(settings, leads, rejected, requester));
  }

  async #create(settings: CampaignSettings, leads: readonly LeadInput[], rejected: readonly RowError[], requester: CallRequester): Promise<CampaignCreated> {
    const { store, runner, reporter, destinationGuard, log } = this.#d;
    const refused: RowError[] = [...rejected];
    const accepted: LeadInput[] = [];
    const rowOfNumber = new Map<string, number>();
    for (const lead of leads) {
      const first = rowOfNumber.get(lead.phone_number);
      if (first !== undefined) {
        refused.push({ row: lead.row, field: 'phone_number', message: `duplicate of row ${first}: a number is called once per campaign` });
        continue;
      }
      try {
        destinationGuard.assertAllowed(lead.phone_number, settings.call.caller_id);
      } catch (err) {
        // The caller ID is the campaign's own setting: refused for every lead, so for the campaign.
        if (err instanceof PolicyError && err.field === 'caller_id') throw err;
        if (!(err instanceof PolicyError)) throw err;
        refused.push({ row: lead.row, field: err.field, message: err.message });
        continue;
      }
      rowOfNumber.set(lead.phone_number, lead.row);
      accepted.push(lead);
    }
    refused.sort((a, b) => a.row - b.row);
    if (accepted.length === 0) return { campaign: undefined, rejected: refused };

    const now = this.#nowMs();
    const campaign: StoredCampaign = { id: (this.#d.newId ?? randomUUID)(), status: 'running', settings, requesterId: requester.id, createdMs: now, updatedMs: now };
    const stored: StoredLead[] = accepted.map((l) => ({
      campaignId: campaign.id,
      row: l.row,
      phoneNumber: l.phone_number,
      variables: l.dynamic_variables === undefined || Object.keys(l.dynamic_variables).length === 0 ? null : { ...l.dynamic_variables },
      state: 'pending',
      reason: null,
      attempts: 0,
      nextAttemptMs: now,
      callIds: [],
    }));
    const view = campaignView(campaign, countsOf([{ state: 'pending', reason: null, count: stored.length }]), now);
    const outbox = reporter.statusRows(view);
    await store.createCampaign(campaign, stored, outbox);
    if (outbox.length > 0) this.#d.onOutboxWritten?.();
    log.info({ campaignId: campaign.id, leads: stored.length, rejected: refused.length, concurrency: settings.concurrency }, 'campaign created');
    runner.track(campaign);
    reporter.publish(view);
    return { campaign: view, rejected: refused };
  }

  getCampaign(id: string): Promise<CampaignView> {
    return storeGuard(async () => this.#view(await this.#stored(id)));
  }

  listCampaigns(limit: number): Promise<CampaignView[]> {
    return storeGuard(async () => {
      const stored = await this.#d.store.listCampaigns(limit);
      return Promise.all(stored.map((c) => this.#view(this.#d.runner.campaign(c.id) ?? c)));
    });
  }

  listLeads(id: string, query: { state?: LeadState; limit: number; after?: number }): Promise<LeadPage> {
    return storeGuard(async () => {
      await this.#stored(id);
      const rows = await this.#d.store.listLeads(id, { state: query.state, afterRow: query.after, limit: query.limit + 1 });
      const page = rows.slice(0, query.limit);
      return { leads: page.map(leadView), next_after: rows.length > query.limit ? (page[page.length - 1]?.row ?? null) : null };
    });
  }

  pause(id: string): Promise<CampaignView> {
    return storeGuard(() => this.#setStatus(id, 'paused', ['running', 'paused']));
  }

  resume(id: string): Promise<CampaignView> {
    return storeGuard(() => this.#setStatus(id, 'running', ['running', 'paused']));
  }

  /** Stops calling: leads not yet called, or waiting for a retry, are cancelled; calls going on end by themselves. */
  cancel(id: string): Promise<CampaignView> {
    return storeGuard(async () => {
      const c = await this.#stored(id);
      assertActive(c, ['running', 'paused']);
      await this.#d.store.cancelLeads(id, this.#nowMs());
      return this.#setStatus(id, 'cancelled', ['running', 'paused']);
    });
  }

  async #setStatus(id: string, status: CampaignStatus, from: readonly CampaignStatus[]): Promise<CampaignView> {
    const c = await this.#stored(id);
    assertActive(c, from);
    if (c.status === status) return this.#view(c);
    const now = this.#nowMs();
    const changed: StoredCampaign = { ...c, status, updatedMs: now };
    const view = await this.#view(changed);
    const outbox = this.#d.reporter.statusRows(view);
    await this.#d.store.setCampaignStatus(id, status, now, outbox);
    if (outbox.length > 0) this.#d.onOutboxWritten?.();
    this.#d.log.info({ campaignId: id, status }, 'campaign status changed');
    this.#d.runner.track(changed);
    this.#d.reporter.publish(view);
    return view;
  }

  async #stored(id: string): Promise<StoredCampaign> {
    const c = this.#d.runner.campaign(id) ?? (await this.#d.store.getCampaign(id));
    if (c === undefined) throw new NotFoundError('CAMPAIGN_NOT_FOUND', `campaign ${id} not found`);
    return c;
  }

  async #view(c: StoredCampaign): Promise<CampaignView> {
    return campaignView(c, countsOf(await this.#d.store.leadCounts(c.id)), this.#nowMs());
  }
}

function assertActive(c: StoredCampaign, allowed: readonly CampaignStatus[]): void {
  if (!allowed.includes(c.status)) throw new ConflictError('CAMPAIGN_OVER', `campaign ${c.id} is ${c.status}: it can no longer be changed`);
}

/** Store failures become 503 STORE_UNAVAILABLE; the service's own errors pass. */
async function storeGuard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    throw storeUnavailable('campaigns cannot be read or written now', err);
  }
}
