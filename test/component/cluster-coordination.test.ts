import assert from 'node:assert/strict';
import { ClusterAttemptLimiter, ClusterCapacity } from '../../src/cluster/cluster-limits';
import { orderCandidates } from '../../src/cluster/cluster-call-api';
import { EventRelay } from '../../src/cluster/event-relay';
import { NodeRegistry, type NodeView } from '../../src/cluster/node-registry';
import { RateLimitError, ServiceUnavailableError } from '../../src/errors';
import { CallEventBus, type SequencedCallEvent } from '../../src/events/call-events';
import { silentLogger } from '../../src/logger';
import { PostgresCallStore } from '../../src/store/postgres-call-store';
import { waitFor } from '../helpers/wait-for';
import { testPostgres } from '../helpers/test-postgres';

const postgres = testPostgres();

describe('cluster coordination in PostgreSQL (component)', () => {
  let store: PostgresCallStore;
  let url: string;
  beforeEach(async () => {
    url = await postgres.freshDatabase();
    store = PostgresCallStore.open({ url, nodeId: 'node-a', log: silentLogger() });
    await store.ready();
  });
  afterEach(() => store.close());

  it('the attempt budget is one for the whole cluster: two nodes share a burst of 3', async () => {
    const [a, b] = [new ClusterAttemptLimiter(store.pool, { burst: 3, perMinute: 6 }), new ClusterAttemptLimiter(store.pool, { burst: 3, perMinute: 6 })];
    await a.charge('token-1');
    await b.charge('token-1');
    await a.charge('token-1');
    const refused = await b.charge('token-1').then(() => undefined, (err: unknown) => err);
    assert.ok(refused instanceof RateLimitError, String(refused));
    assert.ok(refused.retryAfterMs > 8000 && refused.retryAfterMs <= 10_000, `retry after ${refused.retryAfterMs} ms (one token at 6/min)`);
    await b.charge('token-2'); // another token has its own bucket
  });

  it('concurrent attempts from many connections never exceed the burst', async () => {
    const limiter = new ClusterAttemptLimiter(store.pool, { burst: 5, perMinute: 1 });
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => limiter.charge('busy')));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 5);
  });

  it('CLUSTER_MAX_CONCURRENT_CALLS counts live heartbeats and open reservations; a release frees the place', async () => {
    const registry = new NodeRegistry(store.pool, 5000);
    await registry.beat({ nodeId: 'node-b', apiUrl: 'http://127.0.0.1:1', maxCalls: 10, activeCalls: 1, isAccepting: true, isDraining: false });
    const capacity = new ClusterCapacity(store.pool, 3, 5000);
    const first = await capacity.reserve('node-a');
    await capacity.reserve('node-a');
    const refused = await capacity.reserve('node-a').then(() => undefined, (err: unknown) => err);
    assert.ok(refused instanceof ServiceUnavailableError && refused.code === 'CLUSTER_AT_CAPACITY', String(refused));
    assert.equal(await capacity.used(), 3);
    await first.release();
    await first.release(); // idempotent
    await capacity.reserve('node-a');
  });

  it('heartbeats: live while beating, free capacity only when accepting; silent nodes stop being live', async () => {
    const registry = new NodeRegistry(store.pool, 400);
    await registry.beat({ nodeId: 'node-a', apiUrl: 'http://a', maxCalls: 10, activeCalls: 4, isAccepting: true, isDraining: false });
    await registry.beat({ nodeId: 'node-b', apiUrl: 'http://b', maxCalls: 10, activeCalls: 0, isAccepting: false, isDraining: true });
    const nodes = await registry.list();
    assert.deepEqual(nodes.map((n) => [n.nodeId, n.isLive, n.freeCalls]), [['node-a', true, 6], ['node-b', true, 0]]);
    await waitFor(async () => (await registry.list()).every((n) => !n.isLive), { timeoutMs: 5000, what: 'both nodes silent past the timeout' });
    await registry.leave('node-b');
    assert.deepEqual((await registry.list()).map((n) => n.nodeId), ['node-a']);
  });

  it("the event relay: a node's events reach every other node's cluster bus in order (a large one through the table), and its own once", async () => {
    const buses = { aLocal: new CallEventBus(silentLogger()), aCluster: new CallEventBus(silentLogger()), bLocal: new CallEventBus(silentLogger()), bCluster: new CallEventBus(silentLogger()) };
    const relays = [
      new EventRelay({ nodeId: 'node-a', pool: store.pool, databaseUrl: url, local: buses.aLocal, cluster: buses.aCluster, log: silentLogger() }),
      new EventRelay({ nodeId: 'node-b', pool: store.pool, databaseUrl: url, local: buses.bLocal, cluster: buses.bCluster, log: silentLogger() }),
    ];
    const seenA: SequencedCallEvent[] = [];
    const seenB: SequencedCallEvent[] = [];
    buses.aCluster.subscribe((e) => seenA.push(e));
    buses.bCluster.subscribe((e) => seenB.push(e));
    try {
      for (const relay of relays) await relay.start();
      const at = new Date().toISOString();
      const long = 'x'.repeat(10_000);
      buses.aLocal.publish({ type: 'dialing', call_id: 'c1', at, direction: 'outbound', phone_number: '+74951234567' });
      buses.aLocal.publish({ type: 'ringing', call_id: 'c1', at });
      buses.aLocal.publish({ type: 'transcript', call_id: 'c1', at, role: 'agent', text: long });
      await waitFor(() => seenB.length === 3, { timeoutMs: 5000, what: "node b to see node a's three events" });
      assert.deepEqual(seenB.slice(0, 2).map((e) => e.type), ['dialing', 'ringing']);
      assert.equal(seenB.find((e) => e.type === 'transcript' && e.text === long)?.call_id, 'c1');
      assert.equal(seenA.length, 3, "node a's own events reach its cluster bus once");
      buses.bLocal.publish({ type: 'answered', call_id: 'c2', at });
      await waitFor(() => seenA.some((e) => e.call_id === 'c2'), { timeoutMs: 5000, what: "node a to see node b's event" });
    } finally {
      for (const relay of relays) await relay.stop();
    }
  });
});

describe('cluster dispatch order', () => {
  const node = (nodeId: string, freeCalls: number): NodeView => ({ nodeId, apiUrl: '', maxCalls: 10, activeCalls: 10 - freeCalls, isAccepting: true, isDraining: false, isLive: true, freeCalls, lastSeenAgoMs: 0 });
  it('most free capacity first, this node first among equals, full nodes never', () => {
    assert.deepEqual(orderCandidates([node('a', 3), node('b', 5), node('c', 0)], 'a').map((n) => n.nodeId), ['b', 'a']);
    assert.deepEqual(orderCandidates([node('b', 4), node('a', 4)], 'a').map((n) => n.nodeId), ['a', 'b']);
    assert.deepEqual(orderCandidates([node('b', 4), node('c', 4)], 'a').map((n) => n.nodeId), ['b', 'c']);
  });
});
