/**
 * The App wires webhooks: events a store write carries are posted at once (the writer wakes the
 * deliverer), the secret never reaches the log, and /api/webhooks answers. No Asterisk behind it.
 */
import assert from 'node:assert/strict';
import pino from 'pino';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { MemoryCallStore } from '../../src/store/call-store';
import { makeCallView } from '../fakes/fake-call-api';
import { WebhookReceiver } from '../fakes/webhook-receiver';
import { waitFor } from '../helpers/wait-for';

const SECRET = 'app-webhook-secret-0123456789';

describe('App: webhooks', function () {
  this.timeout(10_000);
  let app: App | undefined;
  let rx: WebhookReceiver;
  const lines: string[] = [];

  beforeEach(async () => {
    rx = await WebhookReceiver.start();
    lines.length = 0;
  });
  afterEach(async () => {
    await app?.stop(0);
    app = undefined;
    await rx.close();
  });

  it('posts what the record writer enqueues, signed; the secret is in none of its log lines (at debug)', async () => {
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const config = loadConfig({
      ARI_URL: 'http://127.0.0.1:1',
      ARI_USERNAME: 'gw',
      ARI_PASSWORD: 'secret',
      ELEVENLABS_AGENT_ID: 'agent_1',
      API_PORT: '0',
      WEBHOOK_URLS: rx.url,
      WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: 'debug',
    });
    const store = new MemoryCallStore();
    app = new App(config, log, { store });
    await app.start();
    const { transcript: _t, ...rest } = { ...makeCallView('+79990001122'), status_history: [] };
    app.writer.update(rest, app.webhooks.event('call.status', `call:${rest.id}`, rest));
    await waitFor(() => rx.deliveredEvents().length === 1, { what: 'the event delivered' });
    assert.deepEqual(rx.badSignatures(SECRET), []);
    const res = await fetch(`${app.server.info.uri}/api/webhooks`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { pending: number }).pending, 0);
    assert.deepEqual(lines.filter((l) => l.includes(SECRET)), [], 'the secret was logged');
  });
});
