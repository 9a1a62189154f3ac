/**
 * WebhookDeliverer against a real HTTP receiver on 127.0.0.1: signatures, order per call, retries
 * with backoff, timeouts, dead letters, redirects, removed destinations, bounded concurrency and
 * stopping mid-request.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../src/logger';
import { MemoryCallStore } from '../../src/store/call-store';
import { WebhookDeliverer, type WebhookDelivererOptions } from '../../src/webhooks/webhook-deliverer';
import { WebhookPublisher } from '../../src/webhooks/webhook-events';
import { WebhookReceiver } from '../fakes/webhook-receiver';
import { waitFor } from '../helpers/wait-for';

const SECRET = 'test-webhook-secret-0123456789';

describe('WebhookDeliverer (real HTTP receiver)', function () {
  this.timeout(15_000);
  let rx: WebhookReceiver;
  let store: MemoryCallStore;
  let deliverer: WebhookDeliverer | undefined;
  const outcomes: string[] = [];

  beforeEach(async () => {
    rx = await WebhookReceiver.start();
    store = new MemoryCallStore();
    outcomes.length = 0;
  });

  afterEach(async () => {
    await deliverer?.stop(100);
    deliverer = undefined;
    await rx.close();
  });

  function start(options: Partial<WebhookDelivererOptions> = {}, destinations = [rx.url]): WebhookDeliverer {
    deliverer = new WebhookDeliverer({
      outbox: store.outbox,
      destinations,
      secret: SECRET,
      timeoutMs: 1000,
      maxAttempts: 5,
      retryMinMs: 20,
      retryMaxMs: 80,
      concurrency: 4,
      pollMs: 50,
      log: silentLogger(),
      observer: { webhookAttempt: (o) => outcomes.push(o), webhookBacklog: () => undefined },
      ...options,
    });
    deliverer.start();
    return deliverer;
  }

  /** Enqueues `n` events of each call, as the call service does: with its record writes. */
  async function enqueue(calls: string[], n: number, destinations = [rx.url]): Promise<string[]> {
    const publisher = new WebhookPublisher({ destinations });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      for (const call of calls) {
        const rows = publisher.event('call.status', `call:${call}`, { id: call, step: i });
        ids.push(rows[0]!.eventId);
        await store.write({ summaries: [], lines: [], outbox: rows });
      }
    }
    deliverer?.wake();
    return ids;
  }

  it('posts each event once, signed, with its id and type, in order per call', async () => {
    start();
    const ids = await enqueue(['a', 'b'], 3);
    await waitFor(() => rx.deliveredEvents().length === 6, { what: 'six events delivered' });
    // The receiver has the requests; the deliverer marks each row once it has read the answer.
    await waitFor(async () => (await store.outbox.stats()).pending === 0 && outcomes.length === 6, { what: 'six answers read' });
    assert.deepEqual(rx.badSignatures(SECRET), []);
    assert.equal(rx.deliveries.length, 6, 'no duplicates');
    assert.deepEqual(new Set(rx.deliveries.map((d) => d.eventId)), new Set(ids));
    for (const call of ['a', 'b']) {
      const steps = rx.deliveries.filter((d) => d.event.data.id === call).map((d) => d.event.data.step);
      assert.deepEqual(steps, [0, 1, 2], `call ${call} in order`);
    }
    const d = rx.deliveries[0]!;
    assert.equal(d.type, 'call.status');
    assert.equal(d.event.type, 'call.status');
    assert.equal(d.event.id, d.eventId);
    assert.equal(d.attempt, 1);
    assert.deepEqual(outcomes, ['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered']);
  });

  it('retries a failing receiver with growing waits, keeps the call’s later events behind, and stops at the first 2xx', async () => {
    rx.answer = (d) => (d.index < 3 ? 503 : 200);
    start();
    await enqueue(['a'], 2);
    await waitFor(() => rx.deliveredEvents().length === 2, { what: 'both events delivered' });
    const first = rx.deliveries.filter((d) => d.eventId === rx.deliveries[0]!.eventId);
    assert.deepEqual(first.map((d) => d.attempt), [1, 2, 3, 4]);
    assert.equal(rx.deliveries.length, 5, 'the second event waited for the first, then went once');
    assert.deepEqual(rx.deliveries.map((d) => d.event.data.step), [0, 0, 0, 0, 1]);
    // Backoff: min 20 ms doubling; each wait is half to all of its base.
    const gaps = first.slice(1).map((d, i) => d.atMs - first[i]!.atMs);
    assert.ok(gaps[2]! >= 40 - 15, `third wait ${gaps[2]} ms, expected ≥ 40 ms (half of 80)`);
    assert.deepEqual(outcomes.filter((o) => o === 'retried').length, 3);
  });

  it('a receiver that does not answer in time counts as a failure and gets the event again, same id', async () => {
    rx.answer = (d) => (d.index === 0 ? 'hold' : 200);
    start({ timeoutMs: 300 });
    const [id] = await enqueue(['a'], 1);
    await waitFor(() => rx.deliveredEvents().length === 1, { what: 'delivered after the timeout' });
    assert.deepEqual(rx.deliveries.map((d) => [d.eventId, d.attempt]), [[id, 1], [id, 2]]);
    assert.equal(rx.deliveries[0]!.outcome, 'aborted');
  });

  it('after its last attempt an event becomes a dead letter and no longer holds its call’s events back', async () => {
    rx.answer = (d) => (d.event.data.step === 0 ? 500 : 200);
    start({ maxAttempts: 3 });
    await enqueue(['a'], 2);
    await waitFor(() => rx.deliveredEvents().length === 1, { what: 'the second event delivered' });
    const dead = await store.outbox.listDead(10);
    assert.deepEqual(dead.map((d) => [d.attempts, d.lastError]), [[3, 'HTTP 500']]);
    assert.ok(outcomes.includes('failed'));
    assert.equal(rx.deliveries.filter((d) => d.event.data.step === 0).length, 3);
  });

  it('does not follow redirects: a 3xx is a failure', async () => {
    rx.answer = () => 302;
    start({ maxAttempts: 1 });
    await enqueue(['a'], 1);
    await waitFor(async () => (await store.outbox.stats()).dead === 1, { what: 'dead-lettered' });
    assert.equal((await store.outbox.listDead(1))[0]?.lastError, 'HTTP 302');
  });

  it('dead-letters rows for a destination no longer configured without posting them', async () => {
    start({}, []);
    await enqueue(['a'], 1, [rx.url]);
    await waitFor(async () => (await store.outbox.stats()).dead === 1, { what: 'dead-lettered' });
    assert.equal(rx.deliveries.length, 0);
    assert.match((await store.outbox.listDead(1))[0]?.lastError ?? '', /no longer in WEBHOOK_URLS/);
  });

  it('has at most `concurrency` requests in flight', async () => {
    rx.answer = () => 'hold';
    start({ concurrency: 2, timeoutMs: 5000 });
    await enqueue(['a', 'b', 'c', 'd'], 1);
    await waitFor(() => rx.heldCount === 2, { what: 'two requests held' });
    assert.equal(rx.deliveries.length, 2);
    rx.answer = () => 200;
    rx.release(200);
    await waitFor(() => rx.deliveredEvents().length === 4, { what: 'all four delivered' });
  });

  it('stop() aborts what is still in flight after its grace, without counting that attempt', async () => {
    rx.answer = () => 'hold';
    const d = start({ timeoutMs: 5000 });
    await enqueue(['a'], 1);
    await waitFor(() => rx.heldCount === 1, { what: 'request held' });
    await d.stop(50);
    deliverer = undefined;
    const [row] = await store.outbox.claimDue(Date.now(), 1000, 1);
    assert.equal(row?.attempts, 0, 'the attempt cut by our own stop does not count');
  });

  it('a connection refused is retried, not fatal', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/x`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    start({ maxAttempts: 2 }, [url]);
    await enqueue(['a'], 1, [url]);
    await waitFor(async () => (await store.outbox.stats()).dead === 1, { what: 'dead after two refused attempts' });
    assert.match((await store.outbox.listDead(1))[0]?.lastError ?? '', /ECONNREFUSED/);
  });
});
