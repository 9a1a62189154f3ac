/**
 * The campaign upload against a real browser: a page of another origin cannot create a campaign,
 * neither with a CSV body (no-cors or CORS fetch) nor with a form; a same-origin page can.
 * Headless Chromium sends its own Origin and Sec-Fetch-* headers; the gateway is the real server
 * with a campaign API that records what it is asked to create.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from '@hapi/hapi';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import pino from 'pino';
import { createServer } from '../../src/api/server';
import type { CampaignApi, CampaignSettings, LeadInput } from '../../src/model/campaign';
import { FakeCallApi } from '../fakes/fake-call-api';
import { launchChromium } from '../helpers/chromium';

const CSV = 'phone_number,name\n+2693001234,Prize\n';

/** A campaign API that only records what it is asked to create. */
function recordingCampaigns(created: { settings: CampaignSettings; leads: readonly LeadInput[] }[]): CampaignApi {
  const unused = async (): Promise<never> => {
    throw new Error('not used here');
  };
  return {
    createCampaign: async (settings, leads) => {
      created.push({ settings, leads });
      const view = {
        ...settings,
        id: '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42',
        status: 'running' as const,
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
        counts: { total: leads.length, by_state: { pending: leads.length, calling: 0, waiting: 0, completed: 0, failed: 0, cancelled: 0 }, by_reason: {} },
        is_window_open: true,
      };
      return { campaign: view, rejected: [] };
    },
    getCampaign: unused,
    listCampaigns: async () => [],
    listLeads: unused,
    pause: unused,
    resume: unused,
    cancel: unused,
  };
}

describe('campaign upload guards in headless Chromium (real server)', function () {
  this.timeout(30_000);
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let server: Server | undefined;
  let attacker: http.Server | undefined;
  let gatewayUrl: string;
  let attackerUrl: string;
  let created: { settings: CampaignSettings; leads: readonly LeadInput[] }[];
  let statuses: number[];

  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    created = [];
    statuses = [];
    server = await createServer({ host: '127.0.0.1', port: 0, calls: new FakeCallApi(), log: pino({ level: 'silent' }), version: 'test', campaigns: recordingCampaigns(created) });
    server.events.on('response', (request) => {
      if (request.method !== 'post') return;
      const response = request.response as { statusCode?: number; output?: { statusCode: number } };
      statuses.push(response.output?.statusCode ?? response.statusCode ?? 0);
    });
    await server.start();
    gatewayUrl = `http://127.0.0.1:${server.info.port}`;
    const form =
      '<!doctype html><title>prize</title>' +
      `<form method="post" enctype="text/plain" action="${gatewayUrl}/api/campaigns?name=x"><input type="hidden" name="phone_number" value="x"><button id="go">Go</button></form>`;
    attacker = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(req.url === '/form' ? form : '<!doctype html><p>news</p>'));
    attacker.listen(0, '127.0.0.1');
    await once(attacker, 'listening');
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    assert.ok(browser);
    context = await browser.newContext();
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
    if (attacker !== undefined) {
      attacker.closeAllConnections();
      attacker.close();
      await once(attacker, 'close');
      attacker = undefined;
    }
    await server?.stop({ timeout: 1000 });
    server = undefined;
  });

  it('another page cannot create a campaign: a no-cors or CORS CSV fetch, or a form', async () => {
    await page.goto(attackerUrl);
    const results = await page.evaluate(
      async ({ url, csv }) => {
        const out: string[] = [];
        await fetch(url, { method: 'POST', mode: 'no-cors', body: new Blob([csv], { type: 'text/csv' }) }).then(
          (r) => out.push(`no-cors ${r.type}`),
          (e: Error) => out.push(`no-cors failed ${e.name}`),
        );
        await fetch(url, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv }).then(
          (r) => out.push(`cors ${r.status}`),
          (e: Error) => out.push(`cors failed ${e.name}`),
        );
        return out;
      },
      { url: `${gatewayUrl}/api/campaigns?name=prize`, csv: CSV },
    );
    // The no-cors answer is opaque to the page; the CORS one never gets a readable answer (no CORS headers).
    assert.deepEqual(results, ['no-cors opaque', 'cors failed TypeError']);
    await page.goto(`${attackerUrl}/form`);
    const navigation = page.waitForNavigation();
    await page.click('#go');
    assert.equal((await navigation)?.status(), 403);
    assert.deepEqual(created, [], 'nothing created');
    assert.ok(statuses.every((s) => s === 403 || s === 404), `statuses of what reached the gateway: ${statuses.join(',')}`);
  });

  it('a same-origin page can upload a CSV', async () => {
    await page.goto(`${gatewayUrl}/openapi.json`);
    const status = await page.evaluate(
      async ({ csv }) => (await fetch('/api/campaigns?name=mine', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv })).status,
      { csv: CSV },
    );
    assert.equal(status, 201);
    assert.deepEqual(created.map((c) => [c.settings.name, c.leads.map((l) => l.phone_number)]), [['mine', ['+2693001234']]]);
  });
});
