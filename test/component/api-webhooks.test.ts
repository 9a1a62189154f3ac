/** /api/webhooks over a real WebhookAdmin and a memory outbox (server.inject). */
import assert from 'node:assert/strict';
import type { Server } from '@hapi/hapi';
import pino from 'pino';
import { createServer } from '../../src/api/server';
import { MemoryCallStore } from '../../src/store/call-store';
import { WebhookAdmin } from '../../src/webhooks/webhook-admin';
import { WebhookPublisher } from '../../src/webhooks/webhook-events';
import { FakeCallApi } from '../fakes/fake-call-api';

const DEST = 'https://crm.example.com/hooks/x?token=secret-in-url';
const TOKEN = 'api-token-0123456789';

describe('/api/webhooks (server.inject)', () => {
  let server: Server;
  let store: MemoryCallStore;
  let redelivered = 0;

  beforeEach(async () => {
    store = new MemoryCallStore();
    redelivered = 0;
    const webhooks = new WebhookAdmin({ outbox: store.outbox, destinations: [DEST], onRedeliver: () => void (redelivered += 1), nowMs: () => 10_000 });
    server = await createServer({
      host: '127.0.0.1',
      port: 0,
      calls: new FakeCallApi(),
      log: pino({ level: 'silent' }),
      version: 'test',
      validateResponses: true,
      apiTokens: [TOKEN],
      webhooks,
    });
    await server.initialize();
  });
  afterEach(() => server.stop());

  const auth = { authorization: `Bearer ${TOKEN}` };

  async function deadLetter(): Promise<number> {
    const rows = new WebhookPublisher({ destinations: [DEST], nowMs: () => 1000 }).event('call.ended', 'call:c1', { id: 'c1', status: 'busy' });
    await store.write({ summaries: [], lines: [], outbox: rows });
    const [row] = await store.outbox.claimDue(5000, 1000, 1);
    await store.outbox.deadLetter(row!.seq, 12, 'HTTP 500', 6000);
    return row!.seq;
  }

  it('GET /api/webhooks: destinations by origin only, pending, the oldest age, dead letters', async () => {
    await deadLetter();
    await store.write({ summaries: [], lines: [], outbox: new WebhookPublisher({ destinations: [DEST], nowMs: () => 4000 }).event('call.status', 'call:c2', {}) });
    const res = await server.inject({ url: '/api/webhooks', headers: auth });
    assert.equal(res.statusCode, 200, res.payload);
    assert.deepEqual(JSON.parse(res.payload), { destinations: ['https://crm.example.com'], pending: 1, oldest_pending_age_s: 6, dead: 1 });
    assert.doesNotMatch(res.payload, /secret-in-url/);
  });

  it('lists dead letters with the event that was posted, and queues one again', async () => {
    const id = await deadLetter();
    const list = await server.inject({ url: '/api/webhooks/dead-letters', headers: auth });
    assert.equal(list.statusCode, 200, list.payload);
    const body = JSON.parse(list.payload) as { dead_letters: { id: number; attempts: number; event: { type: string; data: unknown } }[]; next_after: number | null };
    assert.deepEqual(body.dead_letters.map((d) => [d.id, d.attempts, d.event.type, d.event.data]), [[id, 12, 'call.ended', { id: 'c1', status: 'busy' }]]);
    assert.equal(body.next_after, null);
    const again = await server.inject({ method: 'POST', url: `/api/webhooks/dead-letters/${id}/redeliver`, headers: auth });
    assert.equal(again.statusCode, 202, again.payload);
    assert.equal(redelivered, 1);
    assert.equal((await store.outbox.stats()).pending, 1);
    const missing = await server.inject({ method: 'POST', url: `/api/webhooks/dead-letters/${id}/redeliver`, headers: auth });
    assert.equal(missing.statusCode, 404);
    assert.equal((JSON.parse(missing.payload) as { code: string }).code, 'DEAD_LETTER_NOT_FOUND');
  });

  it('needs the token, refuses other web pages, and names a bad parameter', async () => {
    const id = await deadLetter();
    assert.equal((await server.inject('/api/webhooks/dead-letters')).statusCode, 401);
    const crossSite = await server.inject({ method: 'POST', url: `/api/webhooks/dead-letters/${id}/redeliver`, headers: { ...auth, origin: 'https://evil.example' } });
    assert.equal(crossSite.statusCode, 403);
    assert.equal(redelivered, 0);
    const bad = await server.inject({ url: '/api/webhooks/dead-letters?limit=0', headers: auth });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual((JSON.parse(bad.payload) as { validation: { keys: string[] } }).validation.keys, ['limit']);
  });
});
