/**
 * Campaign views (the API's and the webhooks' shape) and their reports: `campaign` events on the
 * event bus, and `campaign.status` / `campaign.lead` webhook rows (written with the change).
 */
import type { CallEventBus } from '../events/call-events';
import {
  LEAD_STATES,
  type CampaignCounts,
  type CampaignView,
  type LeadReason,
  type LeadState,
  type LeadView,
} from '../model/campaign';
import type { StoredCampaign, StoredLead } from '../store/campaign-store';
import type { OutboxEvent } from '../store/webhook-outbox';
import type { WebhookPublisher } from '../webhooks/webhook-events';
import { isWindowOpen } from './calling-window';

export function campaignOrderKey(campaignId: string): string {
  return `campaign:${campaignId}`;
}

export function countsOf(rows: readonly { state: LeadState; reason: LeadReason | null; count: number }[]): CampaignCounts {
  const byState = Object.fromEntries(LEAD_STATES.map((s) => [s, 0])) as Record<LeadState, number>;
  const byReason: Partial<Record<LeadReason, number>> = {};
  let total = 0;
  for (const r of rows) {
    total += r.count;
    byState[r.state] += r.count;
    if (r.reason !== null) byReason[r.reason] = (byReason[r.reason] ?? 0) + r.count;
  }
  return { total, by_state: byState, by_reason: byReason };
}

/** Leads not in a final state. */
export function openLeads(counts: CampaignCounts): number {
  return counts.by_state.pending + counts.by_state.calling + counts.by_state.waiting;
}

export function campaignView(c: StoredCampaign, counts: CampaignCounts, nowMs: number): CampaignView {
  return {
    id: c.id,
    status: c.status,
    created_at: new Date(c.createdMs).toISOString(),
    updated_at: new Date(c.updatedMs).toISOString(),
    ...structuredClone(c.settings),
    counts,
    is_window_open: isWindowOpen(c.settings.window, nowMs),
  };
}

export function leadView(l: StoredLead): LeadView {
  return {
    row: l.row,
    phone_number: l.phoneNumber,
    dynamic_variables: l.variables === null ? null : { ...l.variables },
    state: l.state,
    reason: l.reason,
    attempts: l.attempts,
    next_attempt_at: l.nextAttemptMs === null ? null : new Date(l.nextAttemptMs).toISOString(),
    call_ids: [...l.callIds],
  };
}

/** Reports campaign changes on the bus and as webhook rows. */
export class CampaignReporter {
  readonly #bus: CallEventBus;
  readonly #webhooks: WebhookPublisher;
  readonly #nowMs: () => number;

  constructor(bus: CallEventBus, webhooks: WebhookPublisher, nowMs: () => number = Date.now) {
    this.#bus = bus;
    this.#webhooks = webhooks;
    this.#nowMs = nowMs;
  }

  /** `campaign.status`: the campaign as it is now (created, paused, resumed, cancelled, completed). */
  statusRows(view: CampaignView): OutboxEvent[] {
    return this.#webhooks.event('campaign.status', campaignOrderKey(view.id), view);
  }

  /** `campaign.lead`: a lead reached its final state. */
  leadRows(campaignId: string, lead: LeadView): OutboxEvent[] {
    return this.#webhooks.event('campaign.lead', campaignOrderKey(campaignId), { campaign_id: campaignId, lead });
  }

  publish(view: CampaignView, lead?: LeadView): void {
    this.#bus.publish({
      type: 'campaign',
      campaign_id: view.id,
      at: new Date(this.#nowMs()).toISOString(),
      status: view.status,
      counts: view.counts,
      ...(lead === undefined ? {} : { lead }),
    });
  }
}
