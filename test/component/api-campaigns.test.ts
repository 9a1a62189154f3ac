/** /api/campaigns over the real CampaignService and a memory store (server.inject); nothing is dialled. */
import assert from 'node:assert/strict';
import type { Server, ServerInjectOptions } from '@hapi/hapi';
import pino from 'pino';
import { createServer } from '../../src/api/server';
import { CampaignRunner } from '../../src/campaign/campaign-runner';
import { CampaignService } from '../../src/campaign/campaign-service';
import { CampaignReporter } from '../../src/campaign/campaign-views';
import { CampaignsUnavailable } from '../../src/campaign/campaigns-unavailable';
import { PolicyError } from '../../src/errors';
import { CallEventBus } from '../../src/events/call-events';
import { silentLogger } from '../../src/logger';
import type { CampaignView, LeadView, RowError } from '../../src/model/campaign';
import { MemoryCallStore } from '../../src/store/call-store';
import { WebhookPublisher } from '../../src/webhooks/webhook-events';
import { FakeCallApi } from '../fakes/fake-call-api';

const TOKEN = 'api-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

interface Created {
  campaign: CampaignView;
  rejected: RowError[];
}

describe('/api/campaigns (server.inject, real campaign service)', () => {
  let server: Server;
  let store: MemoryCallStore;

  beforeEach(async () => {
    store = new MemoryCallStore();
    const bus = new CallEventBus(silentLogger());
    const reporter = new CampaignReporter(bus, new WebhookPublisher({ destinations: [] }));
    const calls = new FakeCallApi();
    // The runner is never started: these tests are about the API, and nothing may be dialled.
    const runner = new CampaignRunner({ store: store.campaigns, dialer: { startCall: (r, q) => calls.startCall(r, q), getCall: (id) => calls.getCall(id) }, bus, reporter, log: silentLogger() });
    const campaigns = new CampaignService({
      store: store.campaigns,
      runner,
      reporter,
      destinationGuard: {
        assertAllowed: (n) => {
          if (n.startsWith('+7809')) throw new PolicyError('DESTINATION_DENIED', 'phone_number', 'destinations starting with +7809 are not allowed (premium rate)');
        },
      },
      log: silentLogger(),
    });
    server = await createServer({ host: '127.0.0.1', port: 0, calls, log: pino({ level: 'silent' }), version: 'test', validateResponses: true, apiTokens: [TOKEN], campaigns });
    await server.initialize();
  });
  afterEach(() => server.stop());

  const post = (options: Omit<ServerInjectOptions, 'method'>) => server.inject({ method: 'POST', ...options, headers: { ...auth, ...options.headers } });
  const json = <T>(payload: string): T => JSON.parse(payload) as T;

  it('creates a campaign from JSON leads; bad leads are reported per row and the others taken', async () => {
    const res = await post({
      url: '/api/campaigns',
      payload: {
        name: 'Renewals',
        concurrency: 3,
        window: { time_zone: 'Europe/Moscow', start: '09:00', end: '20:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'] },
        retry: { busy: { attempts: 3, delay_s: 120 } },
        amd: 'hangup',
        call: { first_message: 'Hello {{name}}', ring_timeout_s: 25 },
        leads: [
          { phone_number: '+79990000001', dynamic_variables: { name: 'Ada' } },
          { phone_number: '89990000002' },
          { phone_number: '+79990000003', dynamic_variables: { 'bad name': 'x' } },
          { phone_number: '+78091234567' },
          { phone_number: '+79990000001' },
          { phone_number: '+79990000006', extra: 1 },
        ],
      },
    });
    assert.equal(res.statusCode, 201, res.payload);
    const body = json<Created>(res.payload);
    assert.equal(res.headers.location, `/api/campaigns/${body.campaign.id}`);
    assert.deepEqual(body.rejected.map((r) => [r.row, r.field]), [
      [2, 'phone_number'],
      [3, 'dynamic_variables.bad name'],
      [4, 'phone_number'],
      [5, 'phone_number'],
      [6, 'extra'],
    ]);
    assert.match(body.rejected[0]!.message, /E\.164/);
    assert.doesNotMatch(body.rejected[0]!.message, /89990000002/, 'the number is not echoed');
    assert.match(body.rejected[2]!.message, /premium/);
    assert.match(body.rejected[3]!.message, /duplicate of row 1/);
    assert.deepEqual([body.campaign.status, body.campaign.counts.total, body.campaign.concurrency, body.campaign.amd], ['running', 1, 3, 'hangup']);
    assert.deepEqual(body.campaign.retry, { busy: { attempts: 3, delay_s: 120 }, no_answer: { attempts: 2, delay_s: 600 }, failed: { attempts: 1, delay_s: 300 } });
    const leads = json<{ leads: LeadView[] }>((await server.inject({ url: `/api/campaigns/${body.campaign.id}/leads`, headers: auth })).payload).leads;
    assert.deepEqual(leads.map((l) => [l.row, l.phone_number, l.state, l.dynamic_variables]), [[1, '+79990000001', 'pending', { name: 'Ada' }]]);
  });

  it('takes a text/csv upload with the settings in the query; a short row is reported, not fatal', async () => {
    const csv = 'phone_number,name,order_id\r\n+79990000001,Ada,A-1\r\n+79990000002,"Bob, Jr.",\r\n+79990000003,Cy\r\n';
    const res = await post({
      url: '/api/campaigns?name=CSV%20run&concurrency=2&time_zone=Europe/Moscow&window=09:00-20:00&days=mon-fri&retry_busy=3x60&amd=leave-message&ring_timeout_s=20',
      headers: { 'content-type': 'text/csv; charset=utf-8' },
      payload: csv,
    });
    assert.equal(res.statusCode, 201, res.payload);
    const body = json<Created>(res.payload);
    assert.deepEqual(body.rejected, [{ row: 3, field: 'csv', message: 'line 4 has 2 fields, the header 3' }]);
    assert.deepEqual(body.campaign.window, { time_zone: 'Europe/Moscow', start: '09:00', end: '20:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'] });
    assert.deepEqual(body.campaign.retry.busy, { attempts: 3, delay_s: 60 });
    assert.deepEqual(body.campaign.call, { ring_timeout_s: 20 });
    const leads = json<{ leads: LeadView[] }>((await server.inject({ url: `/api/campaigns/${body.campaign.id}/leads`, headers: auth })).payload).leads;
    assert.deepEqual(leads.map((l) => l.dynamic_variables), [{ name: 'Ada', order_id: 'A-1' }, { name: 'Bob, Jr.' }]);
  });

  it('names what is wrong: settings fields, a CSV header, no valid lead at all', async () => {
    const bad = await post({ url: '/api/campaigns', payload: { name: '', concurrency: 0, window: { time_zone: 'Mars/Base', start: '9am', end: '20:00' }, leads: [{ phone_number: '+79990000001' }] } });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(json<{ validation: { keys: string[] } }>(bad.payload).validation.keys.sort(), ['concurrency', 'name', 'window.start', 'window.time_zone']);
    const header = await post({ url: '/api/campaigns?name=x', headers: { 'content-type': 'text/csv' }, payload: 'number,name\n+79990000001,Ada\n' });
    assert.equal(header.statusCode, 400);
    assert.deepEqual(json<{ validation: { keys: string[] } }>(header.payload).validation.keys, ['phone_number']);
    const none = await post({ url: '/api/campaigns', payload: { name: 'x', leads: [{ phone_number: 'nope' }, { phone_number: '+78091234567' }] } });
    assert.equal(none.statusCode, 400);
    const noneBody = json<{ code: string; rejected: RowError[] }>(none.payload);
    assert.equal(noneBody.code, 'NO_VALID_LEADS');
    assert.deepEqual(noneBody.rejected.map((r) => r.row), [1, 2]);
    const jsonWithQuery = await post({ url: '/api/campaigns?name=x', payload: { name: 'x', leads: [{ phone_number: '+79990000001' }] } });
    assert.equal(jsonWithQuery.statusCode, 400);
  });

  it('keeps the guards: token, other web pages (a text/csv body included), content types', async () => {
    const csv = { url: '/api/campaigns?name=x', headers: { 'content-type': 'text/csv' }, payload: 'phone_number\n+79990000001\n' };
    assert.equal((await server.inject({ method: 'POST', ...csv })).statusCode, 401, 'no token');
    assert.equal((await post({ ...csv, headers: { ...csv.headers, origin: 'https://evil.example' } })).statusCode, 403);
    assert.equal((await post({ ...csv, headers: { ...csv.headers, 'sec-fetch-site': 'cross-site' } })).statusCode, 403);
    assert.equal((await post({ ...csv, headers: { 'content-type': 'text/plain' } })).statusCode, 415, 'the simple-request type is refused');
    assert.equal((await post({ ...csv, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).statusCode, 415);
    assert.equal((await post({ url: '/api/campaigns', payload: '{}', headers: { 'content-type': 'application/octet-stream' } })).statusCode, 415, 'a body without a JSON or CSV type');
    assert.deepEqual(await store.campaigns.listCampaigns(10), [], 'none of these created anything');
  });

  it('reads, pauses, resumes and cancels; 404 for another id, 409 once it is over', async () => {
    const created = json<Created>((await post({ url: '/api/campaigns', payload: { name: 'x', leads: [{ phone_number: '+79990000001' }, { phone_number: '+79990000002' }] } })).payload);
    const id = created.campaign.id;
    assert.equal(json<CampaignView>((await post({ url: `/api/campaigns/${id}/pause` })).payload).status, 'paused');
    assert.equal(json<CampaignView>((await post({ url: `/api/campaigns/${id}/resume` })).payload).status, 'running');
    const cancelled = json<CampaignView>((await post({ url: `/api/campaigns/${id}/cancel` })).payload);
    assert.deepEqual([cancelled.status, cancelled.counts.by_state.cancelled, cancelled.counts.by_reason], ['cancelled', 2, { cancelled: 2 }]);
    const again = await post({ url: `/api/campaigns/${id}/resume` });
    assert.equal(again.statusCode, 409);
    assert.equal(json<{ code: string }>(again.payload).code, 'CAMPAIGN_OVER');
    const missing = await server.inject({ url: '/api/campaigns/3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42', headers: auth });
    assert.equal(missing.statusCode, 404);
    assert.equal(json<{ code: string }>(missing.payload).code, 'CAMPAIGN_NOT_FOUND');
    const list = json<{ campaigns: CampaignView[] }>((await server.inject({ url: '/api/campaigns', headers: auth })).payload);
    assert.deepEqual(list.campaigns.map((c) => c.id), [id]);
  });
});

describe('/api/campaigns on a node of a cluster (server.inject)', () => {
  let server: Server;

  beforeEach(async () => {
    server = await createServer({ host: '127.0.0.1', port: 0, calls: new FakeCallApi(), log: pino({ level: 'silent' }), version: 'test', validateResponses: true, apiTokens: [TOKEN], campaigns: new CampaignsUnavailable() });
    await server.initialize();
  });
  afterEach(() => server.stop());

  it('every route answers 501 CAMPAIGNS_NOT_IN_CLUSTER, saying why, behind the same guards', async () => {
    const id = '3f2a9c1e-5b7d-4e21-9a0c-6d8e1f2b3c4d';
    const requests: ServerInjectOptions[] = [
      { method: 'POST', url: '/api/campaigns', payload: { name: 'x', leads: [{ phone_number: '+79990000001' }] } },
      { method: 'POST', url: '/api/campaigns?name=x', headers: { 'content-type': 'text/csv' }, payload: 'phone_number\n+79990000001\n' },
      { method: 'GET', url: '/api/campaigns' },
      { method: 'GET', url: `/api/campaigns/${id}` },
      { method: 'GET', url: `/api/campaigns/${id}/leads` },
      { method: 'POST', url: `/api/campaigns/${id}/pause` },
      { method: 'POST', url: `/api/campaigns/${id}/resume` },
      { method: 'POST', url: `/api/campaigns/${id}/cancel` },
    ];
    for (const r of requests) {
      const res = await server.inject({ ...r, headers: { ...auth, ...(r.headers as Record<string, string> | undefined) } });
      assert.equal(res.statusCode, 501, `${r.method} ${r.url}: ${res.payload}`);
      const body = JSON.parse(res.payload) as { code: string; message: string };
      assert.equal(body.code, 'CAMPAIGNS_NOT_IN_CLUSTER');
      assert.match(body.message, /node of a cluster/);
    }
    assert.equal((await server.inject({ method: 'GET', url: '/api/campaigns' })).statusCode, 401, 'no token: refused before anything else');
    const crossSite = await server.inject({ method: 'POST', url: '/api/campaigns', payload: { name: 'x', leads: [] }, headers: { ...auth, origin: 'https://evil.example' } });
    assert.equal(crossSite.statusCode, 403);
  });
});
