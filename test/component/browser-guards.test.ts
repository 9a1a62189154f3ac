import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from '@hapi/hapi';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import pino from 'pino';
import { createServer } from '../../src/api/server';
import { CallEventBus } from '../../src/events/call-events';
import { FakeCallApi } from '../fakes/fake-call-api';
import { launchChromium } from '../helpers/chromium';
import { waitFor } from '../helpers/wait-for';

/** The name a DNS-rebinding attacker points at 127.0.0.1 (Chromium's resolver is told so below). */
const REBIND_NAME = 'rebind.attacker.example';
const ISSUE_NUMBER = '+2693001234';

const headerOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The attacker's page with a form that posts text/plain to `action` (a plain HTML form needs no script). */
const formPage = (action: string): string =>
  '<!doctype html><title>win a prize</title>' +
  `<form method="post" enctype="text/plain" action="${action}">` +
  `<input type="hidden" name='{"phone_number":"${ISSUE_NUMBER}","x":"' value='"}'><button id="go">Claim</button></form>`;

interface SeenRequest {
  method: string;
  path: string;
  statusCode: number;
  origin: string | undefined;
  site: string | undefined;
}

/**
 * The request guards against a real browser: headless Chromium sends its own Origin and
 * Sec-Fetch-* headers, which is what the guards judge. The gateway is the real server (listening)
 * with a fake CallApi that records every startCall; the "attacker" is a page served from another
 * port of 127.0.0.1, or from a name that resolves to 127.0.0.1.
 */
describe('request guards in headless Chromium (real server, fake CallApi)', function () {
  this.timeout(30_000);
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let fake: FakeCallApi;
  let bus: CallEventBus;
  let server: Server | undefined;
  let attacker: http.Server | undefined;
  let gatewayUrl: string;
  let attackerUrl: string;
  let seen: SeenRequest[];
  let pageErrors: string[];

  before(async function () {
    browser = await launchChromium([`--host-resolver-rules=MAP ${REBIND_NAME} 127.0.0.1`]);
  });
  after(async function () {
    await browser?.close();
  });

  beforeEach(async function () {
    fake = new FakeCallApi();
    const log = pino({ level: 'silent' });
    bus = new CallEventBus(log);
    server = await createServer({ host: '127.0.0.1', port: 0, calls: fake, log, version: 'test', events: bus });
    seen = [];
    server.events.on('response', (request) => {
      const response = request.response as { statusCode?: number; output?: { statusCode: number } };
      seen.push({
        method: request.method.toUpperCase(),
        path: request.path,
        statusCode: response.output?.statusCode ?? response.statusCode ?? 0,
        origin: headerOf(request.headers.origin),
        site: headerOf(request.headers['sec-fetch-site']),
      });
    });
    await server.start();
    gatewayUrl = `http://127.0.0.1:${server.info.port}`;
    attacker = http.createServer((req, res) => {
      const html = req.url === '/form' ? formPage(`${gatewayUrl}/api/calls`) : '<!doctype html><title>news</title><p>news</p>';
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    attacker.listen(0, '127.0.0.1');
    await once(attacker, 'listening');
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    assert.ok(browser);
    context = await browser.newContext();
    page = await context.newPage();
    pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  });

  afterEach(async function () {
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

  it("the issue's no-cors fetch from another page on this machine reaches the gateway and places nothing (403)", async function () {
    await page.goto(attackerUrl);
    for (const path of ['/api/calls', '/api/calls/start']) {
      await page.evaluate(
        async ({ url, number }) => {
          await fetch(url, { method: 'POST', mode: 'no-cors', body: new Blob([`{"phone_number":"${number}"}`]) });
        },
        { url: `${gatewayUrl}${path}`, number: ISSUE_NUMBER },
      );
    }
    const posts = seen.filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => [r.path, r.statusCode, r.origin]),
      [
        ['/api/calls', 403, attackerUrl],
        ['/api/calls/start', 403, attackerUrl],
      ],
      'both requests arrived, with the page origin, and were refused',
    );
    assert.deepEqual(fake.startCalls, []);
  });

  it('a form posted from another page (text/plain, a navigation) places nothing', async function () {
    await page.goto(`${attackerUrl}/form`);
    const navigation = page.waitForNavigation();
    await page.click('#go');
    const response = await navigation;
    assert.equal(response?.status(), 403);
    assert.deepEqual(
      seen.filter((r) => r.method === 'POST').map((r) => [r.statusCode, r.site]),
      [[403, 'same-site']],
      'Chromium calls another port of 127.0.0.1 same-site',
    );
    assert.deepEqual(fake.startCalls, []);
  });

  it('DNS rebinding: a page served under the attacker\'s name gets 421 for every route, its same-origin calls too', async function () {
    const rebound = `http://${REBIND_NAME}:${String(server?.info.port)}`;
    const dashboard = await page.goto(`${rebound}/dashboard`);
    assert.equal(dashboard?.status(), 421);
    const statuses = await page.evaluate(async () => {
      const get = await fetch('/api/calls');
      const post = await fetch('/api/calls', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"phone_number":"+2693001234"}' });
      const health = await fetch('/health');
      return [get.status, post.status, health.status];
    });
    assert.deepEqual(statuses, [421, 421, 421]);
    assert.deepEqual(fake.startCalls, []);
    assert.deepEqual(fake.listQueries, []);
  });

  it('the dashboard still loads, streams, places a call and hangs it up (same-origin requests pass)', async function () {
    await page.goto(`${gatewayUrl}/dashboard`);
    await page.locator('#board').waitFor({ state: 'visible' });
    await waitFor(async () => (await page.locator('#stream-state').textContent()) === 'Live', { timeoutMs: 10_000, what: 'event stream live' });

    await page.fill('#phone', '+14155550123');
    await page.click('#call-button');
    const row = page.locator('#active-calls tbody tr').first();
    await row.waitFor({ state: 'attached' });
    const callId = (await row.getAttribute('data-call-id')) ?? '';
    assert.deepEqual(fake.startCalls, [{ phoneNumber: '+14155550123' }]);
    const placed = seen.find((r) => r.method === 'POST');
    assert.deepEqual(placed && [placed.statusCode, placed.origin, placed.site], [201, gatewayUrl, 'same-origin']);

    bus.publish({ type: 'transcript', call_id: callId, at: new Date().toISOString(), role: 'agent', text: 'Hello from the stream' });
    await page.locator(`#transcripts article[data-call-id="${callId}"] .line-agent .text`).filter({ hasText: 'Hello from the stream' }).waitFor();

    await page.click(`#active-calls tr[data-call-id="${callId}"] button.hangup`);
    await waitFor(() => fake.hangups.length === 1, { what: 'DELETE from the page' });
    assert.deepEqual(fake.hangups, [callId]);
    const deleted = seen.find((r) => r.method === 'DELETE');
    assert.deepEqual(deleted && [deleted.statusCode, deleted.origin, deleted.site], [200, gatewayUrl, 'same-origin']);
    assert.deepEqual(pageErrors, []);
  });

  it('/docs loads, and a request from its page (what "Try it out" sends) places the call', async function () {
    const docs = await page.goto(`${gatewayUrl}/docs`, { waitUntil: 'domcontentloaded' });
    assert.equal(docs?.status(), 200);
    const status = await page.evaluate(async () => {
      const res = await fetch('/api/calls', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{"phone_number":"+14155550123"}' });
      return res.status;
    });
    assert.equal(status, 201);
    assert.deepEqual(fake.startCalls, [{ phoneNumber: '+14155550123' }]);
  });
});
