/** The webhook outbox contract (src/store/webhook-outbox.ts), for the memory and the SQLite store. */
import assert from 'node:assert/strict';
import { MemoryCallStore, type CallStore } from '../../../src/store/call-store';
import { IN_MEMORY_DB_PATH, SqliteCallStore } from '../../../src/store/sqlite-call-store';
import type { OutboxEvent, WebhookOutbox } from '../../../src/store/webhook-outbox';

const A = 'https://a.example/hook';
const B = 'https://b.example/hook';

function ev(eventId: string, orderKey: string, destination = A, createdMs = 1000): OutboxEvent {
  return { eventId, destination, orderKey, type: 'call.status', body: JSON.stringify({ id: eventId }), createdMs };
}

const stores: [string, () => CallStore & { outbox: WebhookOutbox }][] = [
  ['MemoryCallStore', () => new MemoryCallStore()],
  ['SqliteCallStore', () => SqliteCallStore.open({ path: IN_MEMORY_DB_PATH })],
];

for (const [name, create] of stores) {
  describe(`WebhookOutbox contract: ${name}`, () => {
    let store: CallStore & { outbox: WebhookOutbox };
    let outbox: WebhookOutbox;
    const enqueue = (...events: OutboxEvent[]): Promise<void> => store.write({ summaries: [], lines: [], outbox: events });

    beforeEach(() => {
      store = create();
      outbox = store.outbox;
    });
    afterEach(() => store.close());

    it('hands out rows of one key one at a time, in order; other keys and destinations in parallel', async () => {
      await enqueue(ev('e1', 'call:1'), ev('e2', 'call:1'), ev('e3', 'call:2'), ev('e1', 'call:1', B));
      const first = await outbox.claimDue(5000, 1000, 10);
      assert.deepEqual(first.map((d) => [d.eventId, d.destination]), [['e1', A], ['e3', A], ['e1', B]]);
      assert.deepEqual(await outbox.claimDue(5000, 1000, 10), [], 'leased rows are not handed out again, and e2 waits for e1');
      await outbox.delivered(first[0]!.seq);
      assert.deepEqual((await outbox.claimDue(5000, 1000, 10)).map((d) => d.eventId), ['e2']);
    });

    it('a failed row holds its key until its next attempt; a lease ends by itself', async () => {
      await enqueue(ev('e1', 'call:1'), ev('e2', 'call:1'));
      const [d1] = await outbox.claimDue(5000, 1000, 10);
      await outbox.retryLater(d1!.seq, 1, 8000, 'HTTP 500');
      assert.deepEqual(await outbox.claimDue(7999, 1000, 10), []);
      const again = await outbox.claimDue(8000, 1000, 10);
      assert.deepEqual(again.map((d) => [d.eventId, d.attempts, d.lastError]), [['e1', 1, 'HTTP 500']]);
      // Claimed at 8000 with a 1 s lease and never settled (a crash): due again from 9000.
      assert.deepEqual(await outbox.claimDue(8999, 1000, 10), []);
      assert.deepEqual((await outbox.claimDue(9000, 1000, 10)).map((d) => d.eventId), ['e1']);
    });

    it('dead letters are listed, no longer hold their key, and can be delivered again at the end of it', async () => {
      await enqueue(ev('e1', 'call:1'), ev('e2', 'call:1'));
      const [d1] = await outbox.claimDue(5000, 1000, 1);
      await outbox.deadLetter(d1!.seq, 12, 'HTTP 500', 6000);
      const dead = await outbox.listDead(10);
      assert.deepEqual(dead.map((d) => [d.eventId, d.attempts, d.lastError, d.deadMs]), [['e1', 12, 'HTTP 500', 6000]]);
      assert.deepEqual((await outbox.claimDue(6000, 1000, 10)).map((d) => d.eventId), ['e2']);
      assert.deepEqual(await outbox.stats(), { pending: 1, oldestPendingCreatedMs: 1000, dead: 1 });
      assert.equal(await outbox.redeliver(d1!.seq, 7000), true);
      assert.equal(await outbox.redeliver(d1!.seq, 7000), false, 'its old id is gone');
      assert.deepEqual(await outbox.listDead(10), []);
      assert.deepEqual(await outbox.claimDue(6500, 1000, 10), [], 'e2 is still leased, e1 waits behind it');
      assert.deepEqual((await outbox.claimDue(20_000, 1000, 10)).map((d) => [d.eventId, d.attempts]), [['e2', 0]], 'e2 first: e1 came back after it');
      assert.deepEqual(await outbox.stats(), { pending: 2, oldestPendingCreatedMs: 1000, dead: 0 });
    });

    it('respects the limit and pages dead letters', async () => {
      await enqueue(...['1', '2', '3'].map((k) => ev(`e${k}`, `call:${k}`)));
      const rows = await outbox.claimDue(5000, 1000, 2);
      assert.equal(rows.length, 2);
      for (const r of rows) await outbox.deadLetter(r.seq, 1, 'x', 5000);
      const page1 = await outbox.listDead(1);
      const page2 = await outbox.listDead(1, page1[0]!.seq);
      assert.deepEqual([...page1, ...page2].map((d) => d.eventId), ['e1', 'e2']);
    });
  });
}

describe('WebhookOutbox: SqliteCallStore transactions', () => {
  it('rows enqueued with a record change are written with it, or not at all', async () => {
    const store = SqliteCallStore.open({ path: IN_MEMORY_DB_PATH });
    // A summary the store refuses (no created_at) rolls the whole batch back, its events too.
    await assert.rejects(store.write({ summaries: [{ id: 'x' } as never], lines: [], outbox: [ev('e9', 'call:x')] }));
    assert.deepEqual(await store.outbox.stats(), { pending: 0, oldestPendingCreatedMs: null, dead: 0 });
    await store.close();
  });
});
