/**
 * Webhooks that lose nothing, on the real Asterisk pair: the gateway runs as its own process
 * (`node -r tsx/cjs src/index.ts`) on a database file, posting to a local receiver that fails,
 * answers too slowly, and is down across a restart; the gateway is killed (-9) in the middle of a
 * delivery. Every event arrives, signed, in order per call; a repeat carries the same event id.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CallRecord } from '../../src/model/call-record';
import { ElevenLabsSimulator } from '../fakes/elevenlabs-simulator';
import { WebhookReceiver, type ReceivedDelivery } from '../fakes/webhook-receiver';
import { waitFor } from '../helpers/wait-for';
import { asteriskPair, type AsteriskPair } from './fixtures/asterisk-pair';
import { QUIET_VAD, gatewayTestEnv } from './fixtures/gateway-harness';
import { GatewayProcess } from './fixtures/gateway-process';

const AGENT_ID = 'agent_webhooks';
const SECRET = 'e2e-webhook-secret-7f3c9a1d2b';

describe('webhooks: failing, slow and absent receiver, gateway killed mid-delivery (real Asterisk pair)', function () {
  this.timeout(120_000);
  let pair: AsteriskPair;
  let sim: ElevenLabsSimulator;
  let rx: WebhookReceiver;
  let scratch: string;
  const children: GatewayProcess[] = [];

  before(async () => {
    pair = asteriskPair();
    sim = await ElevenLabsSimulator.start({});
    sim.agent(AGENT_ID, { requiresAuth: true, vad: QUIET_VAD, turnTimeoutMs: -1, greeting: { freqHz: 440, durationMs: 300 } });
    rx = await WebhookReceiver.start();
    scratch = await mkdtemp(path.join(tmpdir(), 'vg-webhooks-e2e-'));
  });

  after(async function () {
    for (const child of children) await child.stop();
    await rx.close();
    await sim.close();
    const isFailed = this.test?.parent?.tests.some((t) => t.state === 'failed') ?? false;
    if (isFailed || process.env['E2E_KEEP_LOGS'] !== undefined) process.stderr.write(`      logs and database kept in ${scratch}\n`);
    else await rm(scratch, { recursive: true, force: true });
  });

  async function startGateway(name: string): Promise<GatewayProcess> {
    const child = await GatewayProcess.start({
      cwd: scratch,
      logFile: path.join(scratch, `${name}.log`),
      env: gatewayTestEnv(pair, sim, AGENT_ID, {
        CALL_DB_PATH: path.join(scratch, 'calls.db'),
        LOG_LEVEL: 'info',
        WEBHOOK_URLS: rx.url,
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_TIMEOUT_MS: '800',
        WEBHOOK_RETRY_MIN_MS: '100',
        WEBHOOK_RETRY_MAX_MS: '400',
        WEBHOOK_MAX_ATTEMPTS: '100',
      }),
    });
    children.push(child);
    await waitFor(async () => (await fetch(`${child.baseUrl}/health`)).status === 200, { timeoutMs: 15_000, intervalMs: 100, what: `${name}: ARI connected` });
    return child;
  }

  async function placeAndEnd(gw: GatewayProcess, number: string): Promise<string> {
    const res = await fetch(`${gw.baseUrl}/api/calls/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone_number: `+${number}` }) });
    assert.equal(res.status, 201, await res.clone().text());
    const { id } = (await res.json()) as { id: string };
    await waitFor(async () => ['completed', 'busy', 'no-answer', 'failed'].includes(((await (await fetch(`${gw.baseUrl}/api/calls/${id}`)).json()) as CallRecord).status), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: `call ${id} ended`,
    });
    return id;
  }

  it('every event arrives, signed, in order per call, despite failures, a slow answer, an outage across a restart and a kill -9 mid-delivery', async () => {
    // The receiver: 500 twice, then an answer slower than WEBHOOK_TIMEOUT_MS, then 500 until the
    // test arms the kill; the next delivery is then held open and the gateway killed on its arrival.
    const killTarget: { gateway?: GatewayProcess } = {};
    let isKillArmed = false;
    let heldForKill: ReceivedDelivery | undefined;
    let killedAtMs = 0;
    rx.answer = (d) => {
      if (d.index === 2) return 'hold'; // never answered: the gateway gives up after 800 ms
      if (!isKillArmed || heldForKill !== undefined) return heldForKill === undefined ? 500 : 200;
      heldForKill = d;
      killedAtMs = Date.now();
      killTarget.gateway?.signal('SIGKILL'); // mid-delivery: the request is open, its answer never comes
      return 'hold';
    };
    const first = await startGateway('gateway-1');
    killTarget.gateway = first;
    const callIds = [await placeAndEnd(first, pair.numbers.busy()), await placeAndEnd(first, pair.numbers.answerThenHangUp(1))];
    isKillArmed = true;
    assert.equal((await first.waitExit(20_000)).signal, 'SIGKILL');
    assert.ok(heldForKill !== undefined);

    await rx.down();
    const second = await startGateway('gateway-2');
    callIds.push(await placeAndEnd(second, pair.numbers.busy())); // while the receiver is down
    await waitFor(async () => ((await (await fetch(`${second.baseUrl}/api/webhooks`)).json()) as { pending: number }).pending > 0, { what: 'events waiting for the receiver' });
    await rx.up();

    // What must arrive: for each call, a call.status per status it went through, then call.ended.
    const expected = new Map<string, string[]>();
    for (const id of callIds) {
      const record = (await (await fetch(`${second.baseUrl}/api/calls/${id}`)).json()) as CallRecord;
      expected.set(id, [...record.status_history.map((h) => `call.status ${h.status}`), `call.ended ${record.status}`]);
    }
    const delivered = (): Map<string, string[]> => {
      const byCall = new Map<string, string[]>();
      for (const d of rx.deliveredEvents()) {
        const data = d.event.data as { id: string; status: string };
        byCall.set(data.id, [...(byCall.get(data.id) ?? []), `${d.type} ${data.status}`]);
      }
      return byCall;
    };
    await waitFor(() => callIds.every((id) => delivered().get(id)?.length === expected.get(id)?.length), {
      timeoutMs: 30_000,
      what: 'every event delivered',
    }).catch((err: Error) => {
      throw new Error(`${err.message}: expected ${JSON.stringify([...expected])}, delivered ${JSON.stringify([...delivered()])}`);
    });
    for (const id of callIds) assert.deepEqual(delivered().get(id), expected.get(id), `events of call ${id}, in order`);

    // Every delivery signed with the secret; a repeat is the same event (same id, same body), and
    // no event came twice under two ids.
    assert.deepEqual(rx.badSignatures(SECRET).map((d) => d.index), []);
    const bodyOf = new Map<string, string>();
    for (const d of rx.deliveries) {
      assert.equal(bodyOf.get(d.eventId) ?? d.body, d.body, `event ${d.eventId} came with two bodies`);
      bodyOf.set(d.eventId, d.body);
    }
    const contents = [...bodyOf.values()].map((b) => {
      const e = JSON.parse(b) as { type: string; data: { id: string; status: string; status_history: unknown[] } };
      return `${e.data.id} ${e.type} ${e.data.status} ${e.data.status_history.length}`;
    });
    assert.equal(new Set(contents).size, contents.length, 'an event was sent under two ids');
    // The failures happened, and the delivery cut by kill -9 was made again, by the new process, with its id.
    assert.ok(rx.deliveries.some((d) => d.outcome === 500) && rx.deliveries.some((d) => d.outcome === 'aborted'));
    const held = heldForKill as ReceivedDelivery;
    const again = rx.deliveries.filter((d) => d.eventId === held.eventId && d.atMs > killedAtMs && d.outcome === 200);
    assert.equal(again.length, 1, 'the event held at the kill was delivered once after the restart');
    assert.ok(rx.deliveries.filter((d) => d.eventId === held.eventId).length >= 2);
    const status = (await (await fetch(`${second.baseUrl}/api/webhooks`)).json()) as { pending: number; dead: number };
    assert.deepEqual(status, { ...status, pending: 0, dead: 0 });
    const metrics = await (await fetch(`${second.baseUrl}/metrics`)).text();
    assert.match(metrics, /voice_gateway_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
    assert.match(metrics, /voice_gateway_webhook_deliveries_total\{outcome="retried"\} [1-9]/);
    second.signal('SIGTERM');
    assert.equal((await second.waitExit(15_000)).code, 0);
  });
});
