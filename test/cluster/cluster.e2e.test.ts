/**
 * `npm run test:cluster`: two nodes behind Kamailio with PostgreSQL and the carrier stand-in
 * registered through Kamailio (fixtures/cluster-bed.ts; docs/cluster.md, "How it is proven").
 * The tests run in order on one bed: each leaves every call ended. Both nodes post webhooks to one
 * receiver from the outbox in PostgreSQL (docs/cluster.md#webhooks).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client } from 'pg';
import { pollUntil } from '../../scripts/lib/poll';
import { openEventStream, type EventStream } from '../../scripts/demo/sse-client';
import type { SequencedCallEvent } from '../../src/events/call-events';
import type { CallListPage, CallRecord } from '../../src/model/call-record';
import type { CallView } from '../../src/model/call-view';
import { ElevenLabsSimulator, type SimConversation } from '../fakes/elevenlabs-simulator';
import { WebhookReceiver, type ReceivedDelivery } from '../fakes/webhook-receiver';
import { assertGapFreeTone, assertToneHeard } from '../helpers/tone-checks';
import { readWavFile } from '../helpers/wav';
import { QUIET_VAD } from '../integration/fixtures/gateway-harness';
import { CLUSTER_TEST_PORT_BASE, ClusterBed, type BedNode } from './fixtures/cluster-bed';

const AGENT_ID = 'agent_cluster';
const GREETING = { freqHz: 440, durationMs: 2000 } as const;
const LOG_DIR = path.resolve(__dirname, '../../.tmp/cluster-test');
const WEBHOOK_SECRET = 'cluster-webhook-secret-0123456789';

describe('cluster: two nodes behind Kamailio, records in PostgreSQL', function () {
  this.timeout(120_000);
  let sim: ElevenLabsSimulator;
  let bed: ClusterBed;
  let n1: BedNode;
  let n2: BedNode;
  let stream: EventStream | undefined;
  let receiver: WebhookReceiver | undefined;
  const seenOnNode1: SequencedCallEvent[] = [];
  /** Every call of the run, for the record checks. */
  const calls = new Map<string, { number: string; direction: 'outbound' | 'inbound' }>();
  const log = (line: string): void => void process.stderr.write(`  [cluster] ${line}\n`);

  before(async function () {
    this.timeout(240_000); // a first run ever provisions Asterisk
    sim = await ElevenLabsSimulator.start({});
    sim.agent(AGENT_ID, { inputFormat: 'pcm_16000', outputFormat: 'pcm_16000', greeting: GREETING, turnTimeoutMs: -1, vad: QUIET_VAD, requiresAuth: true });
    receiver = await WebhookReceiver.start();
    const gatewayEnv = { WEBHOOK_URLS: receiver.url, WEBHOOK_SECRET, WEBHOOK_RETRY_MIN_MS: '100', WEBHOOK_RETRY_MAX_MS: '1000' };
    bed = new ClusterBed({ base: Number(process.env['CLUSTER_TEST_PORT_BASE'] || CLUSTER_TEST_PORT_BASE), nodes: 2, sim, agentId: AGENT_ID, logDir: LOG_DIR, log, gatewayEnv });
    const startedAt = Date.now();
    await bed.start();
    log(`PostgreSQL, carrier, Kamailio (registered) and 2 nodes (in rotation) up in ${Date.now() - startedAt} ms; logs in ${path.relative(process.cwd(), LOG_DIR)}`);
    [n1, n2] = bed.nodes as [BedNode, BedNode];
    stream = openEventStream({ url: `${n1.apiUrl}/api/events`, token: undefined, onEvent: (e) => seenOnNode1.push(e), onEnd: () => undefined });
    await stream.opened;
  });

  after(async function () {
    this.timeout(60_000);
    stream?.close();
    try {
      await bed?.stop();
    } finally {
      await sim?.close();
      await receiver?.close();
    }
  });

  /** The webhook events of call `id` the receiver took (each event id once), once its call.ended came. */
  const webhooksOf = (id: string): Promise<ReceivedDelivery[]> =>
    pollUntil(
      async () => {
        const events = receiver!.deliveredEvents().filter((d) => (d.event.data as { id?: string }).id === id);
        return events.some((d) => d.type === 'call.ended') ? { done: true, value: events } : { done: false, seen: events.map((d) => d.type).join(',') };
      },
      // A node killed mid-delivery holds its lease (WEBHOOK_TIMEOUT_MS + 1 s) before another node sends again.
      { timeoutMs: 30_000, intervalMs: 100, what: `the webhooks of call ${id} up to call.ended` },
    );

  const conversationOf = (callId: string, node: BedNode): Promise<SimConversation> =>
    pollUntil(
      async () => {
        const id = (await bed.api<CallView>(node, 'GET', `/api/calls/${callId}`)).body.conversation_id;
        const conv = sim.conversations.find((c) => c.id === id);
        return conv === undefined ? { done: false, seen: String(id) } : { done: true, value: conv };
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `the agent conversation of call ${callId}` },
    );

  /** Tone up (the carrier's 1 kHz at the agent) and the whole greeting played, read at the simulator. */
  const checkToneUpAndGreeting = async (callId: string, node: BedNode): Promise<void> => {
    const conv = await conversationOf(callId, node);
    await pollUntil(
      async () => {
        const turn = conv.agentTurns[0];
        const isDone = conv.userAudioMs >= 1500 && turn?.isComplete === true && conv.nowMs() > turn.playbackEndAtMs + 300;
        return isDone ? { done: true, value: undefined } : { done: false, seen: `${conv.userAudioMs} ms heard` };
      },
      { timeoutMs: 15_000, intervalMs: 100, what: `call ${callId}: 1.5 s of caller audio at the agent and the greeting played` },
    );
    assertToneHeard(conv.userAudio(), 16_000, 1000);
  };

  /** Tone down: the agent's greeting as the carrier recorded it, whole and gap-free. */
  const checkToneDown = async (number: string): Promise<void> => {
    const recording = await bed.carrier!.waitForRecording(number, 15_000);
    const wav = await readWavFile(recording.rxWavPath);
    assertGapFreeTone(wav.samples, GREETING);
  };

  const hangUp = async (via: BedNode, id: string): Promise<CallView> => {
    const res = await bed.api<CallView>(via, 'DELETE', `/api/calls/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return bed.waitStatus(via, id, ['completed', 'failed', 'busy', 'no-answer']);
  };

  const placeVia = async (via: BedNode, number: string): Promise<CallView> => {
    const res = await bed.api<CallView>(via, 'POST', '/api/calls/start', { phone_number: `+${number}` });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    calls.set(res.body.id, { number, direction: 'outbound' });
    return res.body;
  };

  /** The inbound call to `number`, as the records show it. */
  const inboundCall = (number: string): Promise<CallView> =>
    pollUntil<CallView>(
      async () => {
        const page = (await bed.api<CallListPage>(n1, 'GET', '/api/calls?limit=50')).body;
        const view = page.calls.find((c) => c.direction === 'inbound' && c.dialed_number === number && c.status === 'answered');
        return view === undefined ? { done: false } : { done: true, value: view };
      },
      { timeoutMs: 15_000, intervalMs: 100, what: `the inbound call to ${number} answered` },
    );

  const expectAsterisksIdle = async (): Promise<void> => {
    for (const node of bed.nodes) {
      await pollUntil(
        async () => {
          const left = await node.ariLeftovers();
          return left.length === 0 ? { done: true, value: undefined } : { done: false, seen: left.join(', ') };
        },
        { timeoutMs: 10_000, intervalMs: 200, what: `${node.nodeId}'s Asterisk to hold no channel or bridge` },
      );
    }
  };

  it('warm-up: a call per node, so that each has its resamplers and agent connection paths warm (as after any traffic)', async function () {
    // A new gateway creates its first resampler engines during its first calls, and each creation
    // holds the event loop for 10-40 ms (README, Benchmarks): a playout gap in a call already
    // talking. The audio checks below are about the cluster, so they run on warmed nodes.
    const warm: CallView[] = [];
    for (let i = 0; i < 10; i++) warm.push(await placeVia(n1, bed.numbers.answer()));
    for (const view of warm) await bed.waitStatus(n1, view.id, ['answered']);
    for (const view of warm) await hangUp(n1, view.id);
    for (const view of warm) calls.delete(view.id);
    await expectAsterisksIdle();
  });

  it('10 calls placed through node 1 spread over both nodes; tone up and gap-free tone down on both; hung up from node 2', async function () {
    const placed: { view: CallView; number: string }[] = [];
    for (let i = 0; i < 10; i++) {
      const number = bed.numbers.answer();
      placed.push({ view: await placeVia(n1, number), number });
    }
    const byNode = (id: string): number => placed.filter((p) => p.view.node_id === id).length;
    log(`outbound spread: node-1 ${byNode('node-1')}, node-2 ${byNode('node-2')}`);
    assert.ok(byNode('node-1') >= 3 && byNode('node-2') >= 3, `spread ${byNode('node-1')}/${byNode('node-2')}`);
    for (const p of placed) await bed.waitStatus(n1, p.view.id, ['answered']);
    for (const p of placed) await checkToneUpAndGreeting(p.view.id, n1);
    for (const p of placed) {
      const ended = await hangUp(n2, p.view.id);
      assert.deepEqual([ended.status, ended.end_reason, ended.node_id], ['completed', 'api', p.view.node_id], JSON.stringify({ ...ended, transcript: undefined }));
    }
    for (const p of placed) await checkToneDown(p.number);
    await expectAsterisksIdle();
  });

  it('6 calls from the carrier spread over both nodes, audio both ways', async function () {
    const inbound: { view: CallView; number: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const number = bed.numbers.answer();
      await bed.carrier!.callCustomer(number);
      const view = await inboundCall(number);
      calls.set(view.id, { number, direction: 'inbound' });
      inbound.push({ view, number });
    }
    const byNode = (id: string): number => inbound.filter((p) => p.view.node_id === id).length;
    log(`inbound spread: node-1 ${byNode('node-1')}, node-2 ${byNode('node-2')}`);
    assert.ok(byNode('node-1') >= 2 && byNode('node-2') >= 2, `spread ${byNode('node-1')}/${byNode('node-2')}`);
    for (const p of inbound) await checkToneUpAndGreeting(p.view.id, n1);
    for (const p of inbound) {
      const ended = await hangUp(n1, p.view.id);
      assert.deepEqual([ended.status, ended.end_reason], ['completed', 'api']);
    }
    for (const p of inbound) await checkToneDown(p.number);
    await expectAsterisksIdle();
  });

  it("node 1's event stream shows node 2's calls; every record is complete in PostgreSQL and the same from both nodes", async function () {
    const started = [...calls.keys()].filter((id) => seenOnNode1.some((e) => e.call_id === id && e.type === 'dialing'));
    assert.equal(started.length, calls.size, 'node 1 saw every call start');
    for (const id of calls.keys()) {
      const types = seenOnNode1.filter((e) => e.call_id === id).map((e) => e.type);
      assert.ok(types.includes('answered') && types.includes('ended'), `call ${id}: ${types.join(',')}`);
    }
    const db = new Client({ connectionString: bed.postgres!.url('voice_gateway') });
    await db.connect();
    try {
      const { rows } = await db.query<{ id: string; node_id: string; status: string; lines: number }>(
        `SELECT c.id, c.node_id, c.status, (SELECT COUNT(*)::int FROM transcript_lines t WHERE t.call_id = c.id) AS lines FROM calls c WHERE c.id = ANY($1::text[])`,
        [[...calls.keys()]],
      );
      assert.equal(rows.length, calls.size);
      assert.deepEqual(new Set(rows.map((r) => r.node_id)), new Set(['node-1', 'node-2']));
      for (const row of rows) assert.ok(row.status === 'completed' && row.lines >= 1, JSON.stringify(row));
    } finally {
      await db.end();
    }
    for (const [id, expected] of calls) {
      const [a, b] = [(await bed.api<CallRecord>(n1, 'GET', `/api/calls/${id}`)).body, (await bed.api<CallRecord>(n2, 'GET', `/api/calls/${id}`)).body];
      assert.deepEqual(a, b, `call ${id} reads the same from both nodes`);
      assert.equal(a.direction, expected.direction);
      assert.ok(a.answered_at !== null && a.ended_at !== null && a.conversation_id !== null, JSON.stringify({ ...a, transcript: undefined }));
      assert.equal(a.transcript[0]?.role, 'agent');
      // What the caller heard of the greeting: a line update, written to PostgreSQL after the line.
      assert.equal(a.transcript[0]?.heard?.complete, true, JSON.stringify(a.transcript[0]));
      assert.deepEqual(a.status_history.map((s) => s.status).at(-1), 'completed');
    }
  });

  it('webhooks from both nodes through the PostgreSQL outbox: every call\'s status changes in order, then its call.ended, signed', async function () {
    for (const [id] of calls) {
      const record = (await bed.api<CallRecord>(n1, 'GET', `/api/calls/${id}`)).body;
      const events = await webhooksOf(id);
      const types = events.map((d) => d.type);
      assert.equal(types.at(-1), 'call.ended', `call ${id}: ${types.join(',')}`);
      assert.equal(types.filter((t) => t === 'call.ended').length, 1);
      const statuses = events.filter((d) => d.type === 'call.status').map((d) => (d.event.data as { status: string }).status);
      assert.deepEqual(statuses.filter((st, i) => st !== statuses[i - 1]), record.status_history.map((h) => h.status), `call ${id}: ${statuses.join(',')}`);
      const ended = events.at(-1)!.event.data as unknown as CallRecord;
      assert.deepEqual([ended.status, ended.end_reason, ended.node_id], [record.status, record.end_reason, record.node_id]);
      assert.equal(ended.transcript[0]?.heard?.complete, true, 'call.ended carries what the caller heard');
    }
    assert.deepEqual(receiver!.badSignatures(WEBHOOK_SECRET).map((d) => d.eventId), []);
    const senders = new Set(receiver!.deliveredEvents().map((d) => (d.event.data as { node_id?: string }).node_id));
    assert.ok(senders.has('node-1') && senders.has('node-2'), 'calls of both nodes reported');
  });

  it('a node of the cluster runs no campaigns: /api/campaigns answers 501 CAMPAIGNS_NOT_IN_CLUSTER', async function () {
    const created = await bed.api<{ code: string }>(n1, 'POST', '/api/campaigns', { name: 'x', leads: [{ phone_number: `+${bed.numbers.answer()}` }] });
    assert.deepEqual([created.status, created.body.code], [501, 'CAMPAIGNS_NOT_IN_CLUSTER']);
    assert.equal((await bed.api(n2, 'GET', '/api/campaigns')).status, 501);
  });

  it('node 2 killed (gateway, then Asterisk): its calls end and are recorded as such, new calls go to node 1, nothing is left once it returns', async function () {
    // A call on each node: through node 2's API, with both idle, node 2 takes the first itself.
    const onNode2 = await placeVia(n2, bed.numbers.answer());
    const onNode1 = await placeVia(n1, bed.numbers.answer());
    assert.deepEqual([onNode2.node_id, onNode1.node_id], ['node-2', 'node-1']);
    await bed.waitStatus(n1, onNode2.id, ['answered']);
    await bed.waitStatus(n1, onNode1.id, ['answered']);

    const killedAt = Date.now();
    await n2.killGateway();
    await n2.killAsterisk();
    const lost = await bed.waitStatus(n1, onNode2.id, ['failed'], 15_000);
    log(`kill -9 → node 2's call recorded node-lost by node 1 in ${Date.now() - killedAt} ms (CLUSTER_NODE_TIMEOUT_MS 3000)`);
    assert.equal(lost.end_reason, 'node-lost', JSON.stringify({ ...lost, transcript: undefined }));
    // Its webhook consumers learn it from node 1: the final call.status, then call.ended.
    const lostEvents = await webhooksOf(onNode2.id);
    assert.deepEqual(lostEvents.slice(-2).map((d) => [d.type, (d.event.data as { status: string; end_reason: string }).status, (d.event.data as { end_reason: string }).end_reason]), [
      ['call.status', 'failed', 'node-lost'],
      ['call.ended', 'failed', 'node-lost'],
    ]);
    await pollUntil(
      async () => (seenOnNode1.some((e) => e.call_id === onNode2.id && e.type === 'ended') ? { done: true, value: undefined } : { done: false }),
      { timeoutMs: 5000, intervalMs: 100, what: "the lost call's ended event on node 1's stream" },
    );
    await bed.waitInRotation([n1]);
    log(`kill -9 → node 2 out of Kamailio's rotation after ${Date.now() - killedAt} ms (probe every 1 s, 2 s to answer)`);
    assert.equal((await bed.api<CallView>(n1, 'GET', `/api/calls/${onNode1.id}`)).body.status, 'answered', "node 1's call goes on");

    const after: CallView[] = [];
    for (let i = 0; i < 3; i++) after.push(await placeVia(n1, bed.numbers.answer()));
    assert.deepEqual(after.map((v) => v.node_id), ['node-1', 'node-1', 'node-1']);
    const inboundNumber = bed.numbers.answer();
    await bed.carrier!.callCustomer(inboundNumber);
    const inbound = await inboundCall(inboundNumber);
    assert.equal(inbound.node_id, 'node-1');
    for (const view of [...after, inbound, onNode1]) await hangUp(n1, view.id);

    await n2.startAsterisk();
    await n2.startGateway();
    await bed.waitInRotation([n1, n2]);
    await expectAsterisksIdle();
    assert.equal((await bed.api<CallView>(n2, 'GET', `/api/calls/${onNode2.id}`)).body.status, 'failed');
  });

  it('SIGTERM drains node 2: it leaves rotation, new calls go to node 1 (also through its own API), its live call goes on until hung up, then it exits 0', async function () {
    const live = await placeVia(n2, bed.numbers.answer());
    assert.equal(live.node_id, 'node-2');
    await bed.waitStatus(n1, live.id, ['answered']);
    const gateway = n2.gateway!;
    const termAt = Date.now();
    gateway.signal('SIGTERM');
    await pollUntil(async () => ((await bed.api(n2, 'GET', '/health')).status === 503 ? { done: true, value: undefined } : { done: false }), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: "node 2's /health to turn 503",
    });
    await bed.waitInRotation([n1]);
    log(`SIGTERM → node 2 out of Kamailio's rotation after ${Date.now() - termAt} ms`);
    const outbound = await placeVia(n2, bed.numbers.answer());
    assert.equal(outbound.node_id, 'node-1', 'the draining node hands new calls over');
    const inboundNumber = bed.numbers.answer();
    await bed.carrier!.callCustomer(inboundNumber);
    const inbound = await inboundCall(inboundNumber);
    assert.equal(inbound.node_id, 'node-1');
    assert.equal((await bed.api<CallView>(n1, 'GET', `/api/calls/${live.id}`)).body.status, 'answered', 'the draining node keeps its call');
    const ended = await hangUp(n1, live.id);
    assert.deepEqual([ended.status, ended.end_reason], ['completed', 'api']);
    assert.deepEqual(await gateway.waitExit(30_000), { code: 0, signal: null });
    n2.gateway = undefined;
    for (const view of [outbound, inbound]) await hangUp(n1, view.id);
    await expectAsterisksIdle();
  });
});
