/** The campaign store contract (src/store/campaign-store.ts), for the memory and the SQLite store. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CampaignSettings } from '../../../src/model/campaign';
import type { CampaignStore, StoredCampaign, StoredLead } from '../../../src/store/campaign-store';
import { MemoryCallStore } from '../../../src/store/call-store';
import { IN_MEMORY_DB_PATH, SqliteCallStore } from '../../../src/store/sqlite-call-store';
import type { OutboxEvent, WebhookOutbox } from '../../../src/store/webhook-outbox';

const settings: CampaignSettings = {
  name: 'December renewals',
  concurrency: 2,
  window: { time_zone: 'Europe/Moscow', start: '09:00', end: '20:00', days: ['mon', 'tue'] },
  retry: { busy: { attempts: 3, delay_s: 60 }, no_answer: { attempts: 2, delay_s: 600 }, failed: { attempts: 1, delay_s: 0 } },
  amd: 'hangup',
  call: { first_message: 'Hello {{name}}', ring_timeout_s: 20 },
};

const campaign = (id = 'c1', createdMs = 1000): StoredCampaign => ({ id, status: 'running', settings, requesterId: 'token-a', createdMs, updatedMs: createdMs });
const lead = (row: number, phone: string, variables: StoredLead['variables'] = null): StoredLead => ({
  campaignId: 'c1',
  row,
  phoneNumber: phone,
  variables,
  state: 'pending',
  reason: null,
  attempts: 0,
  nextAttemptMs: 1000,
  callIds: [],
});
const row = (eventId: string): OutboxEvent => ({ eventId, destination: 'https://x.example/h', orderKey: 'campaign:c1', type: 'campaign.status', body: '{}', createdMs: 1 });

const stores: [string, () => { campaigns: CampaignStore; outbox: WebhookOutbox; close(): Promise<void> }][] = [
  ['MemoryCallStore', () => new MemoryCallStore()],
  ['SqliteCallStore', () => SqliteCallStore.open({ path: IN_MEMORY_DB_PATH })],
];

for (const [name, create] of stores) {
  describe(`CampaignStore contract: ${name}`, () => {
    let s: ReturnType<typeof create>;
    beforeEach(async () => {
      s = create();
      await s.campaigns.createCampaign(campaign(), [lead(1, '+79990000001', { name: 'Ada' }), lead(3, '+79990000003')], [row('e1')]);
    });
    afterEach(() => s.close());

    it('keeps the campaign, its settings and leads (rows of refused leads missing), and its created event', async () => {
      assert.deepEqual(await s.campaigns.getCampaign('c1'), campaign());
      assert.deepEqual((await s.campaigns.listLeads('c1', { limit: 10 })).map((l) => [l.row, l.phoneNumber, l.variables]), [
        [1, '+79990000001', { name: 'Ada' }],
        [3, '+79990000003', null],
      ]);
      assert.equal((await s.outbox.stats()).pending, 1);
      assert.deepEqual((await s.campaigns.activeCampaigns()).map((c) => c.id), ['c1']);
    });

    it('an attempt: recorded before dialling, open until finished; the lead moves on', async () => {
      assert.deepEqual((await s.campaigns.dueLeads('c1', 1000, 10)).map((l) => l.row), [1, 3]);
      await s.campaigns.beginAttempt({ campaignId: 'c1', row: 1, attempt: 1, callId: 'call-1', startedMs: 2000 });
      assert.deepEqual((await s.campaigns.dueLeads('c1', 9999, 10)).map((l) => l.row), [3], 'a lead being called is never due');
      assert.deepEqual((await s.campaigns.openAttempts()).map((a) => [a.callId, a.attempt, a.outcome]), [['call-1', 1, null]]);
      await s.campaigns.finishAttempt(
        { campaignId: 'c1', row: 1, callId: 'call-1', outcome: 'busy', endedMs: 3000, lead: { state: 'waiting', reason: 'busy', nextAttemptMs: 63_000 } },
        [row('e2')],
      );
      assert.deepEqual(await s.campaigns.openAttempts(), []);
      const l1 = await s.campaigns.getLead('c1', 1);
      assert.deepEqual([l1?.state, l1?.reason, l1?.attempts, l1?.nextAttemptMs, l1?.callIds], ['waiting', 'busy', 1, 63_000, ['call-1']]);
      assert.deepEqual((await s.campaigns.dueLeads('c1', 62_999, 10)).map((l) => l.row), [3]);
      assert.deepEqual((await s.campaigns.dueLeads('c1', 63_000, 10)).map((l) => l.row), [3, 1], 'earliest due first');
      assert.equal((await s.outbox.stats()).pending, 2);
    });

    it('an attempt begins only for a lead that still awaits it: the same attempt again, a stale one, or a cancelled lead write nothing', async () => {
      assert.equal(await s.campaigns.beginAttempt({ campaignId: 'c1', row: 1, attempt: 1, callId: 'call-1', startedMs: 2000 }), true);
      // A second pass that read the lead before the first dialled it.
      assert.equal(await s.campaigns.beginAttempt({ campaignId: 'c1', row: 1, attempt: 1, callId: 'call-2', startedMs: 2001 }), false);
      await s.campaigns.finishAttempt({ campaignId: 'c1', row: 1, callId: 'call-1', outcome: 'busy', endedMs: 3000, lead: { state: 'waiting', reason: 'busy', nextAttemptMs: 4000 } });
      // Waiting again, but an attempt number read before the first one ended is stale.
      assert.equal(await s.campaigns.beginAttempt({ campaignId: 'c1', row: 1, attempt: 1, callId: 'call-3', startedMs: 5000 }), false);
      assert.equal(await s.campaigns.cancelLeads('c1', 5000), 2);
      assert.equal(await s.campaigns.beginAttempt({ campaignId: 'c1', row: 3, attempt: 1, callId: 'call-4', startedMs: 5001 }), false);
      const leads = await s.campaigns.listLeads('c1', { limit: 10 });
      assert.deepEqual(leads.map((l) => [l.row, l.state, l.attempts, l.callIds]), [
        [1, 'cancelled', 1, ['call-1']],
        [3, 'cancelled', 0, []],
      ]);
      assert.deepEqual((await s.campaigns.openAttempts()).map((a) => a.callId), []);
    });

    it('a voided attempt is as if it had not begun', async () => {
      await s.campaigns.beginAttempt({ campaignId: 'c1', row: 3, attempt: 1, callId: 'call-x', startedMs: 2000 });
      await s.campaigns.voidAttempt({ campaignId: 'c1', row: 3, callId: 'call-x', nextAttemptMs: 7000 });
      const l3 = await s.campaigns.getLead('c1', 3);
      assert.deepEqual([l3?.state, l3?.attempts, l3?.nextAttemptMs, l3?.callIds], ['pending', 0, 7000, []]);
      assert.deepEqual(await s.campaigns.openAttempts(), []);
    });

    it('counts leads by state and reason; cancels the ones not called; lists newest campaigns first', async () => {
      await s.campaigns.beginAttempt({ campaignId: 'c1', row: 1, attempt: 1, callId: 'call-1', startedMs: 2000 });
      assert.equal(await s.campaigns.cancelLeads('c1', 3000), 1);
      await s.campaigns.setCampaignStatus('c1', 'cancelled', 3000);
      const counts = (await s.campaigns.leadCounts('c1')).sort((a, b) => a.state.localeCompare(b.state));
      assert.deepEqual(counts, [
        { state: 'calling', reason: null, count: 1 },
        { state: 'cancelled', reason: 'cancelled', count: 1 },
      ]);
      assert.deepEqual(await s.campaigns.activeCampaigns(), []);
      await s.campaigns.createCampaign(campaign('c2', 5000), []);
      assert.deepEqual((await s.campaigns.listCampaigns(10)).map((c) => [c.id, c.status]), [['c2', 'running'], ['c1', 'cancelled']]);
    });
  });
}

describe('CampaignStore: SQLite survives a restart', () => {
  it('an attempt left open and a waiting lead are there when the file is opened again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vg-campaigns-'));
    try {
      const path = join(dir, 'calls.db');
      const first = SqliteCallStore.open({ path });
      await first.campaigns.createCampaign(campaign(), [lead(1, '+79990000001'), lead(2, '+79990000002')]);
      await first.campaigns.beginAttempt({ campaignId: 'c1', row: 1, attempt: 1, callId: 'call-1', startedMs: 2000 });
      // No close(): as after kill -9.
      const again = SqliteCallStore.open({ path });
      assert.deepEqual((await again.campaigns.openAttempts()).map((a) => a.callId), ['call-1']);
      assert.deepEqual((await again.campaigns.dueLeads('c1', 5000, 10)).map((l) => l.row), [2]);
      await again.close();
      await first.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
