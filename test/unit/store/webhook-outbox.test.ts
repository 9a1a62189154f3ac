/** The webhook outbox contract (src/store/webhook-outbox.ts), for the memory, SQLite and PostgreSQL stores. */
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/logger';
import type { CallRecord } from '../../../src/model/call-record';
import { MemoryCallStore, type CallStore, type CallSummary } from '../../../src/store/call-store';
import { PostgresCallStore } from '../../../src/store/postgres-call-store';
import { IN_MEMORY_DB_PATH, SqliteCallStore } from '../../../src/store/sqlite-call-store';
import type { OutboxEvent, WebhookOutbox } from '../../../src/store/webhook-outbox';
import { endedCallEvents, WebhookPublisher } from '../../../src/webhooks/webhook-events';
import { makeCallView } from '../../fakes/fake-call-api';
import { testPostgres } from '../../helpers/test-postgres';

/** PostgreSQL of this test file (test/helpers/test-postgres.ts), a fresh database per store. */
const postgres = testPostgres();

const A = 'https://a.example/hook';
const B = 'https://b.example/hook';

function ev(eventId: string, orderKey: string, destination = A, createdMs = 1000): OutboxEvent {
  return { eventId, destination, orderKey, type: 'call.status', body: JSON.stringify({ id: eventId }), createdMs };
}

type OutboxStore = CallStore & { outbox: WebhookOutbox };
const stores: [string, () => OutboxStore | Promise<OutboxStore>][] = [
  ['MemoryCallStore', () => new MemoryCallStore()],
  ['SqliteCallStore', () => SqliteCallStore.open({ path: IN_MEMORY_DB_PATH })],
  ['PostgresCallStore', async () => PostgresCallStore.open({ url: await postgres.freshDatabase(), nodeId: 'node-a', log: silentLogger() })],
];

for (const [name, create] of stores) {
  describe(`WebhookOutbox contract: ${name}`, () => {
    let store: CallStore & { outbox: WebhookOutbox };
    let outbox: WebhookOutbox;
    const enqueue = (...events: OutboxEvent[]): Promise<void> => store.write({ summaries: [], lines: [], outbox: events });

    beforeEach(async () => {
      store = await create();
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

for (const [name, create] of stores.filter(([n]) => n !== 'MemoryCallStore')) {
  describe(`WebhookOutbox: ${name} transactions`, () => {
    it('rows enqueued with a record change are written with it, or not at all', async () => {
      const store = await create();
      try {
        // A summary the store refuses (no created_at) rolls the whole batch back, its events too.
        await assert.rejects(store.write({ summaries: [{ id: 'x' } as never], lines: [], outbox: [ev('e9', 'call:x')] }));
        assert.deepEqual(await store.outbox.stats(), { pending: 0, oldestPendingCreatedMs: null, dead: 0 });
        await store.write({ summaries: [], lines: [], outbox: [ev('e1', 'call:x'), ev('e2', 'call:x')] });
        assert.deepEqual(await store.outbox.stats(), { pending: 2, oldestPendingCreatedMs: 1000, dead: 0 });
      } finally {
        await store.close();
      }
    });
  });
}

const ANSWERED_ID = '00000000-0000-4000-8000-0000000000a1';
const ENDED_ID = '00000000-0000-4000-8000-0000000000a2';

function summaryOf(id: string, status: CallSummary['status']): CallSummary {
  const { transcript: _t, ...summary } = { ...makeCallView('+79990001122', id), status, node_id: 'node-a', status_history: [{ status, at: '2026-12-01T10:00:00.000Z' }] };
  return summary;
}

for (const [name, create] of stores) {
  describe(`WebhookOutbox: calls ended by crash recovery (${name})`, () => {
    it('each gets its final call.status and call.ended, written with the record that ends it', async () => {
      const store = await create();
      try {
        const webhooks = new WebhookPublisher({ destinations: [A], nowMs: () => 2000 });
        await store.write({
          summaries: [summaryOf(ANSWERED_ID, 'answered'), summaryOf(ENDED_ID, 'completed')],
          lines: [{ callId: ANSWERED_ID, seq: 0, entry: { role: 'agent', text: 'Hello', at: '2026-12-01T10:00:01.000Z' } }],
        });
        const changed = await store.markInFlightAsFailed('gateway restarted', endedCallEvents(webhooks));
        assert.deepEqual(changed, [ANSWERED_ID]);
        const rows = await store.outbox.claimDue(5000, 1000, 10);
        assert.deepEqual(rows.map((r) => [r.type, r.orderKey]), [['call.status', `call:${ANSWERED_ID}`]], 'in order: call.ended waits behind call.status');
        await store.outbox.delivered(rows[0]!.seq);
        const [ended] = await store.outbox.claimDue(5000, 1000, 10);
        assert.equal(ended?.type, 'call.ended');
        const data = (JSON.parse(ended!.body) as { data: CallRecord }).data;
        assert.deepEqual([data.status, data.end_reason, data.transcript.map((l) => l.text)], ['failed', 'gateway-restart', ['Hello']]);
        assert.equal((JSON.parse(rows[0]!.body) as { data: CallRecord }).data.status, 'failed');
      } finally {
        await store.close();
      }
    });
  });
}

describe('WebhookOutbox: PostgresCallStore shared by nodes', () => {
  it('deliverers of two nodes claiming at once never get the same row, nor two rows of one key', async () => {
    const url = await postgres.freshDatabase();
    const [a, b] = [PostgresCallStore.open({ url, nodeId: 'node-a', log: silentLogger() }), PostgresCallStore.open({ url, nodeId: 'node-b', log: silentLogger() })];
    try {
      const events = Array.from({ length: 40 }, (_, i) => ev(`e${i}`, `call:${i % 8}`));
      await a.write({ summaries: [], lines: [], outbox: events });
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).outbox.claimDue(5000, 60_000, 5)));
      const claimed = claims.flat();
      assert.equal(new Set(claimed.map((d) => d.seq)).size, claimed.length, 'no row handed out twice');
      assert.deepEqual([...new Set(claimed.map((d) => d.orderKey))].sort(), Array.from({ length: 8 }, (_, i) => `call:${i}`).sort());
      assert.equal(claimed.length, 8, 'one row per key: the first of each');
      assert.deepEqual(claimed.map((d) => d.eventId).sort(), Array.from({ length: 8 }, (_, i) => `e${i}`).sort());
      // Node b delivers what node a leased once a's lease ran out (a crashed mid-delivery).
      const [first] = claims[0]!;
      assert.deepEqual(await b.outbox.claimDue(64_999, 60_000, 40), []);
      const after = await b.outbox.claimDue(65_000, 60_000, 40);
      assert.ok(after.some((d) => d.seq === first!.seq), 'the expired lease is claimed again');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
