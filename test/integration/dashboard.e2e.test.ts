import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { App } from '../../src/app';
import type { CallView } from '../../src/model/call-view';
import { loadConfig } from '../../src/config';
import { createLogger, silentLogger } from '../../src/logger';
import { ElevenLabsSimulator, type SimConversation } from '../fakes/elevenlabs-simulator';
import { launchChromium } from '../helpers/chromium';
import { waitFor } from '../helpers/wait-for';
import { gatewayTestEnv } from './fixtures/gateway-harness';
import { asteriskPair, type AsteriskPair } from './fixtures/asterisk-pair';

const AGENT_ID = 'agent_dashboard';
const TOKEN = 'dashboard_e2e_token_0123456789';
const GREETING = 'Hello! How can I help you today?';
const SCREENSHOT_PATH = '/tmp/dashboard.png';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The operator page end to end: headless Chromium loads /dashboard from the gateway (API_TOKEN
 * set), places a call from the form through the real Asterisk pair to the ElevenLabs simulator,
 * watches it answer, streams its transcript over SSE, hangs it up from the page, and sees the
 * outcome; nothing is left in Asterisk.
 */
describe('dashboard in headless Chromium (real Asterisk pair + ElevenLabs simulator)', function () {
  this.timeout(90_000);
  let pair: AsteriskPair;
  let sim: ElevenLabsSimulator;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let app: App | undefined;
  let baseUrl: string;
  /** Console errors and uncaught exceptions of the page (CSP violations show up here). */
  let pageErrors: string[];

  async function startApp(env: Record<string, string> = {}): Promise<App> {
    const config = loadConfig(
      gatewayTestEnv(pair, sim, AGENT_ID, {
        API_TOKEN: TOKEN,
        METRICS_LOG_INTERVAL_MS: '1000', // metrics ticks every second, for the media column
        ...env,
      }),
    );
    const level = process.env['E2E_LOG'];
    const started = new App(config, level ? createLogger({ level: level as 'debug' }) : silentLogger());
    app = started;
    await started.start();
    baseUrl = started.server.info.uri;
    await waitFor(() => started.ari.isConnected, { timeoutMs: 10_000, what: 'ARI connected' });
    return started;
  }

  async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** Wait until the text of the first element matching `selector` matches `pattern`; returns the text. */
  async function waitForText(selector: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    let last: string | null = null;
    const textNow = async (): Promise<string | null> =>
      page
        .locator(selector)
        .first()
        .textContent({ timeout: 200 })
        .catch(() => null); // not in the page (yet)
    try {
      return await waitFor(
        async () => {
          last = await textNow();
          return last !== null && pattern.test(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `${selector} to match ${String(pattern)}` },
      );
    } catch (err) {
      throw new Error(`${String(err)} (text now: ${JSON.stringify(last)})`);
    }
  }

  async function openDashboard(): Promise<void> {
    context = await browser!.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // The first probe without a token is meant to get 401; Chrome logs every failed request.
      if (msg.type() === 'error' && !/status of 401/.test(msg.text())) pageErrors.push(`console: ${msg.text()}`);
    });
    const res = await page.goto(`${baseUrl}/dashboard`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'Voice gateway · live');
  }

  /** Enter the token in the page's form and wait for the live board. */
  async function signIn(): Promise<void> {
    await page.locator('#auth').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#token-button');
    await page.locator('#board').waitFor({ state: 'visible' });
    await waitForText('#stream-state', /^Live$/);
  }

  before(async function () {
    pair = asteriskPair();
    sim = await ElevenLabsSimulator.start({});
    // The carrier's steady 1 kHz tone must not count as speech, or the simulator would barge in.
    sim.agent(AGENT_ID, { turnTimeoutMs: -1, vad: { speechThreshold: 1_000_000 }, requiresAuth: true, greeting: { freqHz: 440, durationMs: 800 } });
    browser = await launchChromium();
  });

  beforeEach(function () {
    pageErrors = [];
  });

  afterEach(async function () {
    await context?.close();
    context = undefined;
    await app?.stop();
    app = undefined;
    if (this.currentTest?.state !== 'passed') await pair.cleanUpAri();
  });

  after(async function () {
    await browser?.close();
    await sim?.close();
  });

  it('token → place a call from the form → answered, transcript streams, media ticks → Hang up → completed in outcomes; Asterisk idle', async function () {
    await startApp();
    await openDashboard();

    // The shell is public; the data is not: the page asks for the token, and refuses a wrong one.
    await page.locator('#auth').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#board').isVisible(), false);
    await page.fill('#token', 'wrong_token_0123456789abcdef');
    await page.click('#token-button');
    await waitForText('#auth-error', /rejected this token/);
    await signIn();
    await waitForText('#ari-state', /^ARI connected$/);

    // Place a call from the form.
    const number = `+${pair.numbers.answer()}`;
    await page.fill('#phone', number);
    await page.click('#call-button');
    const row = page.locator('#active-calls tbody tr').first();
    await row.waitFor({ state: 'attached', timeout: 10_000 });
    const callId = await row.getAttribute('data-call-id');
    assert.match(callId ?? '', /^[0-9a-f-]{36}$/);
    const rowSel = `#active-calls tr[data-call-id="${callId}"]`;
    assert.equal(await page.locator(`${rowSel} td.number`).textContent(), number);
    await waitForText('#call-status', new RegExp(`^Call placed to ${escapeRegExp(number)}$`));

    // Answered, with the conversation id of the agent session.
    await waitForText(`${rowSel} .status`, /^answered$/);
    await waitForText(`${rowSel} td.conversation`, /^conv_/);
    await waitForText('#active-count', /^1 active$/);
    const conv: SimConversation = await waitFor(
      async () => {
        const id = app === undefined ? undefined : (await app.calls.getCall(callId!)).conversation_id;
        return id ? sim.conversations.find((c) => c.id === id) : undefined;
      },
      { timeoutMs: 10_000, what: 'agent conversation of the call' },
    );

    // The transcript streams in: the greeting, then a caller turn and the agent's reply.
    const cardSel = `#transcripts article[data-call-id="${callId}"]`;
    await waitForText(`${cardSel} .line-agent .text`, new RegExp(`^${escapeRegExp(GREETING)}$`));
    conv.userSays('Where is my parcel?');
    await waitForText(`${cardSel} .line-user .text`, /^Where is my parcel\?$/);
    await waitForText(`${cardSel} .line-agent:last-child .text`, /^You said: Where is my parcel\?$/);

    // The duration ticks, and metrics ticks fill the media column (packets both ways).
    const durationBefore = (await page.locator(`${rowSel} td.duration`).textContent()) ?? '';
    assert.match(durationBefore, /^\d+:\d\d$/);
    await waitForText(`${rowSel} td.duration`, new RegExp(`^(?!${escapeRegExp(durationBefore)}$)\\d+:\\d\\d$`), 3000);
    const media = await waitForText(`${rowSel} td.media`, /^↑ [1-9][\d,]* \/ ↓ [1-9][\d,]*$/, 5000);
    process.stderr.write(`      media column: ${media}\n`);

    await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });

    // Hang up from the page.
    await page.click(`${rowSel} button.hangup`);
    await page.locator(rowSel).waitFor({ state: 'detached', timeout: 10_000 });
    const outcomeSel = `#outcomes tr[data-call-id="${callId}"]`;
    await waitForText(`${outcomeSel} .status`, /^completed$/);
    await waitForText(`${outcomeSel} td.outcome .cause`, /hung up by operator/);
    assert.equal(await page.locator(`${outcomeSel} td.number`).textContent(), number);
    await waitForText(`${cardSel} .status`, /^completed$/);
    await waitForText('#active-count', /^0 active$/);
    assert.equal(await page.locator('#active-empty').isVisible(), true);
    await page.screenshot({ path: '/tmp/dashboard-ended.png', fullPage: true });

    const { body: view } = await api<CallView>('GET', `/api/calls/${callId}`);
    assert.equal(view.status, 'completed');
    assert.equal(view.end_reason, 'api');
    await pair.expectAriIdle(5000);
    assert.deepEqual(pageErrors, []);
  });

  it('the gateway restarts: the page reconnects with backoff, re-syncs, and shows calls placed after it', async function () {
    const first = await startApp();
    const port = first.server.info.port;
    await openDashboard();
    await signIn();

    await first.stop();
    app = undefined;
    await waitForText('#stream-state', /^Reconnecting in \d+ s$/);
    await waitForText('#ari-state', /^Gateway unreachable$/, 10_000);

    await startApp({ API_PORT: String(port) });
    await waitForText('#stream-state', /^Live$/, 20_000);
    await waitForText('#ari-state', /^ARI connected$/, 10_000);

    // Placed through the API (not the page): it arrives over the reconnected stream.
    const { status, body: call } = await api<CallView>('POST', '/api/calls', { phone_number: `+${pair.numbers.busy()}` });
    assert.equal(status, 201);
    const outcomeSel = `#outcomes tr[data-call-id="${call.id}"]`;
    await waitForText(`${outcomeSel} .status`, /^busy$/, 20_000);
    await waitForText(`${outcomeSel} td.outcome .cause`, /\(17\)/);
    await pair.expectAriIdle(5000);
    // Reloading after the restart still needs no new sign-in (sessionStorage keeps the token for the tab).
    await page.reload();
    await waitForText('#stream-state', /^Live$/);
    await waitForText(`${outcomeSel} .status`, /^busy$/);
    // The connection errors while the gateway was down are expected; nothing else.
    assert.deepEqual(
      pageErrors.filter((e) => !/net::ERR_CONNECTION_REFUSED/.test(e)),
      [],
    );
  });
});
