import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open as openFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AsteriskInstance } from '../../scripts/lib/asterisk-instance';
import { App } from '../../src/app';
import type { CallRecord } from '../../src/model/call-record';
import type { CallView } from '../../src/model/call-view';
import { loadConfig } from '../../src/config';
import { createLogger, silentLogger } from '../../src/logger';
import { SqliteCallStore } from '../../src/store/sqlite-call-store';
import { ElevenLabsSimulator } from '../fakes/elevenlabs-simulator';
import type { SimConversation } from '../fakes/sim/conversation';
import { waitFor } from '../helpers/wait-for';
import { gatewayTestEnv } from './fixtures/gateway-harness';
import { asteriskPair, type AsteriskPair } from './fixtures/asterisk-pair';
import { GatewayProcess } from './fixtures/gateway-process';
import { ensurePbxRunning, startPbxAgain, startPbxVariant, stopPbx } from './fixtures/pbx-control';
import { TcpProxy } from './fixtures/tcp-proxy';

const AGENT_ID = 'agent_faults';
/** The carrier's steady 1 kHz tone must not count as speech, or the simulator would barge in. */
const QUIET_VAD = { speechThreshold: 1_000_000 };

interface HealthBody {
  status: 'ok' | 'unavailable';
  ari: 'connected' | 'disconnected';
  active_calls: number;
  accepting_calls?: boolean;
  trunk?: { endpoint: string; state: string };
}
interface ErrorBody {
  statusCode: number;
  code?: string;
  message: string;
}
interface Res<T> {
  status: number;
  body: T;
  headers: Headers;
}

async function api<T>(baseUrl: string, method: string, urlPath: string, body?: unknown): Promise<Res<T>> {
  const res = await fetch(`${baseUrl}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

async function placeCall(baseUrl: string, number: string): Promise<CallView> {
  const res = await api<CallView>(baseUrl, 'POST', '/api/calls/start', { phone_number: `+${number}` });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function waitStatus(baseUrl: string, id: string, statuses: CallView['status'][], timeoutMs = 15_000): Promise<CallRecord> {
  let last: CallRecord | undefined;
  return waitFor(
    async () => {
      last = (await api<CallRecord>(baseUrl, 'GET', `/api/calls/${id}`)).body;
      return statuses.includes(last.status) ? last : undefined;
    },
    { timeoutMs, intervalMs: 50, what: `call ${id} status ${statuses.join('|')}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${JSON.stringify(last)}`);
  });
}

async function waitHealth(baseUrl: string, status: 200 | 503, timeoutMs = 15_000): Promise<Res<HealthBody>> {
  return waitFor(
    async () => {
      const res = await api<HealthBody>(baseUrl, 'GET', '/health');
      return res.status === status ? res : undefined;
    },
    { timeoutMs, intervalMs: 50, what: `GET /health ${status}` },
  );
}

/** Ids of the PBX's channels and bridges. */
async function ariObjects(pair: AsteriskPair): Promise<{ channels: string[]; bridges: string[] }> {
  const channels = await pair.ariGet<{ id: string }[]>('/channels');
  const bridges = await pair.ariGet<{ id: string }[]>('/bridges');
  return { channels: channels.map((c) => c.id), bridges: bridges.map((b) => b.id) };
}

/** Wait until the call is bridged in Asterisk: its leg and ExternalMedia channel in its bridge. */
async function waitBridged(pair: AsteriskPair, callId: string): Promise<void> {
  await waitFor(
    async () => {
      const bridges = await pair.ariGet<{ id: string; channels: string[] }[]>('/bridges');
      const bridge = bridges.find((b) => b.id === `vg-br-${callId}`);
      return bridge?.channels.length === 2;
    },
    { timeoutMs: 10_000, intervalMs: 50, what: `call ${callId} bridged in Asterisk` },
  );
}

/** UDP sockets this process holds (the in-process gateway's RTP endpoints among them). */
const run = promisify(execFile);

/** File systems mounted by this suite and not yet unmounted. */
const mounted = new Set<string>();

/**
 * Mounts a tmpfs of `sizeKb` at `dir` (a file system the test can fill); returns its unmount. A
 * mount still busy when its test failed (a gateway child holds the database) is unmounted by
 * afterEach once the children are stopped.
 */
async function mountSmallFs(dir: string, sizeKb: number): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir]);
  mounted.add(dir);
  return () => unmountSmallFs(dir);
}

async function unmountSmallFs(dir: string): Promise<void> {
  await run('umount', [dir]);
  mounted.delete(dir);
}

/** Writes zeros into `file` until the file system is full (ENOSPC). */
async function fillUp(file: string): Promise<void> {
  const handle = await openFile(file, 'w');
  const chunk = Buffer.alloc(16 * 1024);
  try {
    for (;;) await handle.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** A counter of the gateway's /metrics, 0 when absent. */
async function metricValue(baseUrl: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const match = text.split('\n').find((l) => line.test(l));
  return match === undefined ? 0 : Number(match.split(' ').at(-1));
}

/** The stored record of `id` in the SQLite file at `db` (opened and closed here). */
async function readRecord(db: string, id: string): Promise<CallRecord | undefined> {
  const store = SqliteCallStore.open({ path: db });
  try {
    return await store.get(id);
  } finally {
    await store.close();
  }
}

function udpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
}

/**
 * Faults the operator will meet: a restart, a crash (kill -9), Asterisk restarting or the ARI link
 * dropping under live calls, a wrong trunk password, and SIGTERM. Each runs on the real Asterisk
 * pair with the ElevenLabs simulator; the gateway runs in-process where the test needs to look
 * inside, and as a child process (`node -r tsx/cjs src/index.ts`) where the fault is the process.
 */
describe('faults: restarts, crashes, Asterisk and ARI outages, shutdown (real Asterisk pair + simulator)', function () {
  this.timeout(90_000);
  let pair: AsteriskPair;
  let sim: ElevenLabsSimulator;
  /** Databases and child logs; kept when a test fails (or with E2E_KEEP_LOGS=1). */
  let scratch: string;
  let isScratchKept = process.env['E2E_KEEP_LOGS'] !== undefined;
  const apps: App[] = [];
  const children: GatewayProcess[] = [];
  const variants: AsteriskInstance[] = [];
  const proxies: TcpProxy[] = [];

  /** The gateway's environment on the test bed, as src/config.ts reads it. */
  function gatewayEnv(env: Record<string, string> = {}): Record<string, string> {
    return gatewayTestEnv(pair, sim, AGENT_ID, { LOG_LEVEL: 'info', ...env });
  }

  /** An in-process App; stopped in afterEach. Resolves once ARI is connected. */
  async function startApp(env: Record<string, string> = {}, { beforeStart = (_app: App): void => undefined } = {}): Promise<App> {
    const config = loadConfig(gatewayEnv(env));
    const level = process.env['E2E_LOG'];
    const app = new App(config, level ? createLogger({ level: level as 'debug' }) : silentLogger());
    apps.push(app);
    beforeStart(app);
    await app.start();
    await waitFor(() => app.ari.isConnected, { timeoutMs: 10_000, what: 'ARI connected' });
    return app;
  }

  /** The gateway as a child process; killed in afterEach. Resolves once /health is 200. */
  async function startChild(env: Record<string, string>): Promise<GatewayProcess> {
    const gw = await GatewayProcess.start({
      env: gatewayEnv(env),
      cwd: scratch,
      logFile: path.join(scratch, `gateway-${children.length + 1}.log`),
    });
    children.push(gw);
    await waitHealth(gw.baseUrl, 200);
    return gw;
  }

  async function conversationOf(baseUrl: string, callId: string): Promise<SimConversation> {
    return waitFor(
      async () => {
        const { body } = await api<CallView>(baseUrl, 'GET', `/api/calls/${callId}`);
        return body.conversation_id ? sim.conversations.find((c) => c.id === body.conversation_id) : undefined;
      },
      { timeoutMs: 10_000, what: 'agent conversation of the call' },
    );
  }

  before(async function () {
    pair = asteriskPair();
    sim = await ElevenLabsSimulator.start({});
    sim.agent(AGENT_ID, { turnTimeoutMs: -1, vad: QUIET_VAD, requiresAuth: true, greeting: { freqHz: 440, durationMs: 600 } });
    scratch = await mkdtemp(path.join(tmpdir(), 'vg-faults-'));
  });

  afterEach(async function () {
    const failed = this.currentTest?.state !== 'passed';
    if (failed) {
      isScratchKept = true;
      for (const gw of children) process.stderr.write(`      gateway child log: ${gw.logFile}\n`);
    }
    await Promise.allSettled(children.splice(0).map((gw) => gw.stop()));
    await Promise.allSettled(apps.splice(0).map((app) => app.stop(0)));
    await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
    await Promise.allSettled(variants.splice(0).map((v) => v.stop()));
    for (const dir of [...mounted]) await unmountSmallFs(dir);
    // A test that stopped the PBX and failed before starting it again must not break later tests.
    await ensurePbxRunning(pair);
    if (failed) await pair.cleanUpAri();
  });

  after(async function () {
    await sim?.close();
    if (scratch && !isScratchKept) await rm(scratch, { recursive: true, force: true });
  });

  it('call records survive a restart: the same record, transcript, metrics and status history from a new App on the same file', async function () {
    const db = path.join(scratch, 'records.db');
    const first = await startApp({ CALL_DB_PATH: db });
    const base1 = first.server.info.uri;
    const call = await placeCall(base1, pair.numbers.answerThenHangUp(2));
    const ended = await waitStatus(base1, call.id, ['completed', 'failed'], 20_000);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.end_reason, 'callee');
    assert.ok(ended.transcript.some((t) => t.role === 'agent' && t.text.length > 0), `agent greeting in the transcript: ${JSON.stringify(ended.transcript)}`);
    assert.ok(ended.metrics.caller_to_ai.packets > 0 && ended.metrics.ai_to_caller.packets > 0, JSON.stringify(ended.metrics));
    await first.stop(0);

    const second = await startApp({ CALL_DB_PATH: db });
    const base2 = second.server.info.uri;
    const reread = await api<CallRecord>(base2, 'GET', `/api/calls/${call.id}`);
    assert.equal(reread.status, 200);
    assert.deepEqual(reread.body, ended, 'GET /api/calls/{id} after the restart is the record as it was');
    const statuses = reread.body.status_history.map((s) => s.status);
    assert.equal(statuses[0], 'dialing');
    assert.deepEqual(statuses.slice(-2), ['answered', 'completed'], `history ${statuses.join(' → ')}`);
    const times = reread.body.status_history.map((s) => Date.parse(s.at));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'history times ascend');

    const list = await api<{ calls: CallRecord[] }>(base2, 'GET', '/api/calls?limit=50');
    assert.equal(list.status, 200);
    const listed = list.body.calls.find((c) => c.id === call.id);
    assert.deepEqual(listed, ended, 'GET /api/calls lists the same record');
    await pair.expectAriIdle(5000);
  });

  it('crash recovery: after kill -9 mid-call, the next start hangs up the orphans and marks the record failed', async function () {
    const db = path.join(scratch, 'crash.db');
    const gw1 = await startChild({ CALL_DB_PATH: db });
    const call = await placeCall(gw1.baseUrl, pair.numbers.answer());
    await waitStatus(gw1.baseUrl, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(gw1.baseUrl, call.id);

    gw1.signal('SIGKILL');
    assert.equal((await gw1.waitExit(5000)).signal, 'SIGKILL');
    // Asterisk keeps a dead app's channels in Stasis: the call leg, ExternalMedia and the bridge are orphans now.
    const orphans = await ariObjects(pair);
    for (const id of [`vg-${call.id}`, `vg-em-${call.id}`]) assert.ok(orphans.channels.includes(id), `orphan channel ${id} in ${orphans.channels.join(',')}`);
    assert.ok(orphans.bridges.includes(`vg-br-${call.id}`), `orphan bridge in ${orphans.bridges.join(',')}`);
    await waitFor(() => conv.closeInfo, { what: 'the dead gateway’s agent socket closed' });

    const restartedAt = Date.now();
    const gw2 = await startChild({ CALL_DB_PATH: db });
    const upMs = Date.now() - restartedAt;
    await pair.expectAriIdle(5000);
    const idleMs = Date.now() - restartedAt;
    const record = await api<CallRecord>(gw2.baseUrl, 'GET', `/api/calls/${call.id}`);
    assert.equal(record.status, 200);
    assert.equal(record.body.status, 'failed');
    assert.equal(record.body.end_reason, 'gateway-restart');
    assert.match(record.body.error ?? '', /gateway restarted while the call was in progress/);
    assert.ok(record.body.answered_at !== null && record.body.ended_at !== null);
    assert.deepEqual(record.body.status_history.map((s) => s.status).slice(-2), ['answered', 'failed']);
    process.stderr.write(`      restart → API healthy ${upMs} ms, → Asterisk clean ${idleMs} ms\n`);

    gw2.signal('SIGTERM');
    assert.deepEqual(await gw2.waitExit(10_000), { code: 0, signal: null });
  });

  it('a call placed the moment ARI connects is not taken for a vanished one by the reconcile that runs then', async function () {
    let placing: Promise<CallView> | undefined;
    const app = await startApp({}, {
      // The App's own 'connected' listener has just sent the reconcile's channel listing.
      beforeStart: (a) =>
        a.ari.once('connected', () => {
          placing = a.calls.startCall({ phoneNumber: `+${pair.numbers.answerThenHangUp(2)}` }, { id: 'test' });
          // Awaited below; this keeps an early rejection from being unhandled meanwhile.
          placing.catch(() => undefined);
        }),
    });
    const call = await waitFor(() => placing, { what: 'the call placed on connect' });
    const ended = await waitStatus(app.server.info.uri, (await call).id, ['completed', 'failed'], 20_000);
    assert.equal(ended.status, 'completed', JSON.stringify(ended));
    assert.equal(ended.end_reason, 'callee');
    await pair.expectAriIdle(5000);
  });

  it('orphans are swept while ARI is up (a release that failed in a teardown): a bridge no call owns goes, a live call keeps everything', async function () {
    const app = await startApp({ ORPHAN_SWEEP_INTERVAL_S: '1' });
    const call = await app.calls.startCall({ phoneNumber: `+${pair.numbers.answer()}` }, { id: 'test' });
    await waitStatus(app.server.info.uri, call.id, ['answered']);
    const bridges = async (): Promise<string[]> => (await pair.ariGet<{ id: string }[]>('/bridges')).map((b) => b.id);
    // Two orphans in turn, each named as a call's bridge would be: each one gone proves a sweep ran.
    for (let i = 0; i < 2; i++) {
      const orphan = `vg-br-${randomUUID()}`;
      await pair.ariPost(`/bridges?type=mixing&bridgeId=${orphan}`);
      await waitFor(async () => !(await bridges()).includes(orphan), { timeoutMs: 10_000, what: `orphan ${orphan} swept` });
    }
    const view = await (await fetch(`${app.server.info.uri}/api/calls/${call.id}`)).json() as CallView;
    assert.equal(view.status, 'answered', 'the live call goes on');
    assert.ok((await bridges()).includes(`vg-br-${call.id}`), 'its bridge is kept');
    assert.ok((await pair.ariGet<{ id: string }[]>('/channels')).some((c) => c.id === `vg-em-${call.id}`), 'its ExternalMedia channel is kept');
    await app.calls.hangupCall(call.id);
    await waitStatus(app.server.info.uri, call.id, ['completed']);
    await pair.expectAriIdle(5000);
  });

  it('Asterisk restart mid-call: /health and POST say 503 ARI_UNAVAILABLE while it is down, the call ends failed and releases everything, a new call works after', async function () {
    const udpBefore = udpSockets();
    const app = await startApp();
    const base = app.server.info.uri;
    const call = await placeCall(base, pair.numbers.answer());
    await waitStatus(base, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(base, call.id);
    await waitFor(() => conv.userAudioMs >= 300, { what: 'caller audio at the agent' });

    const downAt = Date.now();
    await stopPbx(pair);
    const down = await waitHealth(base, 503, 10_000);
    const detectMs = Date.now() - downAt;
    assert.equal(down.body.ari, 'disconnected');
    assert.equal(down.body.status, 'unavailable');
    const refused = await api<ErrorBody>(base, 'POST', '/api/calls/start', { phone_number: `+${pair.numbers.answer()}` });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'ARI_UNAVAILABLE');
    assert.match(refused.body.message, /ARI/);
    assert.ok(refused.headers.get('retry-after'), 'Retry-After on 503');

    const restartedAt = Date.now();
    await startPbxAgain(pair);
    const up = await waitHealth(base, 200, 30_000);
    const reconnectMs = Date.now() - restartedAt;
    assert.equal(up.body.ari, 'connected');

    // Asterisk hung the call up while shutting down: not the callee's doing, and the record says so.
    const ended = await waitStatus(base, call.id, ['failed', 'completed'], 10_000);
    assert.equal(ended.status, 'failed', `the call did not complete normally: ${JSON.stringify(ended)}`);
    assert.equal(ended.end_reason, 'error');
    assert.match(ended.error ?? '', /^ASTERISK_SHUTDOWN: /);
    await waitFor(() => conv.closeInfo, { what: 'agent socket closed' });
    assert.equal(app.calls.activeCalls, 0);
    await waitFor(() => udpSockets() === udpBefore, { what: `UDP sockets back to ${udpBefore} (now ${udpSockets()})` });
    await pair.expectAriIdle(5000);
    process.stderr.write(`      PBX stop → /health 503 in ${detectMs} ms; PBX start (boot + registration) → /health 200 in ${reconnectMs} ms\n`);

    // A new call after the restart works end to end.
    const next = await placeCall(base, pair.numbers.answer());
    await waitStatus(base, next.id, ['answered']);
    const nextConv = await conversationOf(base, next.id);
    await waitFor(() => nextConv.userAudioMs >= 500, { what: 'caller audio at the agent on the new call' });
    await waitFor(async () => (await api<CallView>(base, 'GET', `/api/calls/${next.id}`)).body.metrics.ai_to_caller.packets >= 25, {
      what: 'agent audio to the caller on the new call',
    });
    await api(base, 'DELETE', `/api/calls/${next.id}`);
    const nextEnded = await waitStatus(base, next.id, ['completed', 'failed']);
    assert.equal(nextEnded.status, 'completed');
    await pair.expectAriIdle(5000);
  });

  it('Asterisk killed (-9) mid-call: once it is back, the call is recorded failed ARI_CHANNEL_GONE and everything is released', async function () {
    const udpBefore = udpSockets();
    const app = await startApp();
    const base = app.server.info.uri;
    const call = await placeCall(base, pair.numbers.answer());
    await waitStatus(base, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(base, call.id);

    process.kill(pair.pbx.pid, 'SIGKILL');
    await stopPbx(pair); // waits until the pid is gone
    await waitHealth(base, 503, 10_000);
    await startPbxAgain(pair);
    await waitHealth(base, 200, 30_000);
    // Asterisk sent nothing before dying; the reconnect finds the leg gone.
    const ended = await waitStatus(base, call.id, ['failed', 'completed'], 10_000);
    assert.equal(ended.status, 'failed');
    assert.equal(ended.end_reason, 'error');
    assert.match(ended.error ?? '', /^ARI_CHANNEL_GONE: /);
    await waitFor(() => conv.closeInfo, { what: 'agent socket closed' });
    assert.equal(app.calls.activeCalls, 0);
    await waitFor(() => udpSockets() === udpBefore, { what: `UDP sockets back to ${udpBefore} (now ${udpSockets()})` });
    await pair.expectAriIdle(5000);
  });

  it('ARI link drop with Asterisk up: the live call keeps its media and goes on after the reconnect; new calls get 503 meanwhile', async function () {
    const ariUrl = new URL(pair.ari.url);
    const proxy = await TcpProxy.start({ host: ariUrl.hostname, port: Number(ariUrl.port) });
    proxies.push(proxy);
    const app = await startApp({ ARI_URL: `http://127.0.0.1:${proxy.port}` });
    const base = app.server.info.uri;
    const call = await placeCall(base, pair.numbers.answer());
    await waitStatus(base, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(base, call.id);
    await waitFor(() => conv.userAudioMs >= 300, { what: 'caller audio at the agent' });

    proxy.cut();
    await waitHealth(base, 503, 10_000);
    const refused = await api<ErrorBody>(base, 'POST', '/api/calls/start', { phone_number: `+${pair.numbers.answer()}` });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'ARI_UNAVAILABLE');
    // Media does not go through ARI: caller audio keeps reaching the agent during the outage.
    const heardAtCut = conv.userAudioMs;
    await waitFor(() => conv.userAudioMs >= heardAtCut + 1000, { timeoutMs: 5000, what: '1 s more caller audio while ARI is cut' });
    proxy.restore();
    await waitHealth(base, 200, 30_000);

    const view = (await api<CallView>(base, 'GET', `/api/calls/${call.id}`)).body;
    assert.equal(view.status, 'answered', `the call survived the ARI outage: ${JSON.stringify(view)}`);
    assert.equal(conv.closeInfo, undefined, 'agent socket still open');
    const sent = view.metrics.ai_to_caller.packets;
    await waitFor(async () => (await api<CallView>(base, 'GET', `/api/calls/${call.id}`)).body.metrics.caller_to_ai.packets > view.metrics.caller_to_ai.packets, {
      what: 'media still flowing after the reconnect',
    });
    // ARI control works again on the same call: hang it up through the API.
    await api(base, 'DELETE', `/api/calls/${call.id}`);
    const ended = await waitStatus(base, call.id, ['completed', 'failed']);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.end_reason, 'api');
    assert.ok(ended.metrics.ai_to_caller.packets >= sent);
    await pair.expectAriIdle(5000);
  });

  it('a call hung up during an ARI outage releases its agent socket and RTP at once; its Asterisk leftovers go at the reconnect', async function () {
    const udpBefore = udpSockets();
    const ariUrl = new URL(pair.ari.url);
    const proxy = await TcpProxy.start({ host: ariUrl.hostname, port: Number(ariUrl.port) });
    proxies.push(proxy);
    const app = await startApp({ ARI_URL: `http://127.0.0.1:${proxy.port}` });
    const base = app.server.info.uri;
    const call = await placeCall(base, pair.numbers.answer());
    await waitStatus(base, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(base, call.id);

    proxy.cut();
    await waitHealth(base, 503, 10_000);
    const hangupAt = Date.now();
    const hangup = await api<CallView>(base, 'DELETE', `/api/calls/${call.id}`);
    assert.equal(hangup.status, 200, JSON.stringify(hangup.body));
    const ended = await waitStatus(base, call.id, ['completed', 'failed'], 2000);
    assert.equal(ended.end_reason, 'api');
    await waitFor(() => conv.closeInfo, { timeoutMs: 2000, what: 'agent socket closed' });
    await waitFor(() => udpSockets() === udpBefore, { timeoutMs: 2000, what: `UDP sockets back to ${udpBefore} (now ${udpSockets()})` });
    const releasedMs = Date.now() - hangupAt;
    assert.equal(app.calls.activeCalls, 0);
    // Asterisk could not be told: the leg, ExternalMedia channel and bridge are still there.
    const left = await ariObjects(pair);
    assert.ok(left.channels.includes(`vg-${call.id}`) && left.bridges.includes(`vg-br-${call.id}`), JSON.stringify(left));

    proxy.restore();
    await waitHealth(base, 200, 30_000);
    await pair.expectAriIdle(5000);
    process.stderr.write(`      hang-up during the outage → agent and RTP released in ${releasedMs} ms\n`);
  });

  it('/health reports the trunk: online with the right SIP password, offline with a wrong one', async function () {
    const good = await startApp();
    const okHealth = await waitFor(
      async () => {
        // Asterisk qualifies the trunk at a random moment within qualify_frequency; ask for it now.
        await pair.pbx.cli(`pjsip qualify ${pair.trunkEndpoint}`);
        const res = await api<HealthBody>(good.server.info.uri, 'GET', '/health');
        return res.body.trunk?.state === 'online' ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 500, what: 'trunk online with the right password' },
    );
    assert.equal(okHealth.status, 200);
    assert.deepEqual(okHealth.body.trunk, { endpoint: pair.trunkEndpoint, state: 'online' });
    await good.stop(0);

    const bad = await startPbxVariant(pair, 'pbx-badpw', { SIP_PASSWORD: 'not-the-password' });
    variants.push(bad);
    await bad.waitForCli('pjsip show registrations', /-reg\/\S+\s+\S+\s+Rejected/, 10_000);
    const badApp = await startApp({ ARI_URL: bad.ari!.url, ARI_USERNAME: bad.ari!.username, ARI_PASSWORD: bad.ari!.password, ARI_APP: bad.ari!.app });
    await bad.cli(`pjsip qualify ${pair.trunkEndpoint}`);
    const badHealth = await waitFor(
      async () => {
        const res = await api<HealthBody>(badApp.server.info.uri, 'GET', '/health');
        return res.body.trunk?.state === 'offline' ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'trunk offline with a wrong password' },
    ).catch(async (err: Error) => {
      const res = await api<HealthBody>(badApp.server.info.uri, 'GET', '/health');
      throw new Error(`${err.message}; last /health: ${JSON.stringify(res.body)}`);
    });
    assert.equal(badHealth.body.ari, 'connected');
    assert.deepEqual(badHealth.body.trunk, { endpoint: pair.trunkEndpoint, state: 'offline' });
  });

  it('SIGTERM drains: new calls get 503 at once, the live call goes on until its callee hangs up, then the process exits 0; nothing left', async function () {
    const db = path.join(scratch, 'sigterm.db');
    // A grace far longer than the call: the drain must end when the last call does, not at the deadline.
    const gw = await startChild({ CALL_DB_PATH: db, SHUTDOWN_GRACE_S: '60' });
    const call = await placeCall(gw.baseUrl, pair.numbers.answerThenHangUp(4));
    await waitStatus(gw.baseUrl, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(gw.baseUrl, call.id);

    gw.signal('SIGTERM');
    // The handler logs, then stops accepting, in one tick: once the line is out, no call may start.
    await waitFor(() => gw.logLines().some((l) => l['msg'] === 'shutting down'), { timeoutMs: 2000, what: '"shutting down" in the log' });
    const refused = await api<ErrorBody>(gw.baseUrl, 'POST', '/api/calls/start', { phone_number: `+${pair.numbers.answer()}` });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'SHUTTING_DOWN');
    assert.ok(refused.headers.get('retry-after'), 'Retry-After on 503');
    const health = await api<HealthBody>(gw.baseUrl, 'GET', '/health');
    assert.equal(health.status, 503, `/health during the drain: ${JSON.stringify(health.body)}`);
    assert.equal(health.body.accepting_calls, false);
    assert.equal(health.body.ari, 'connected');
    assert.equal(health.body.active_calls, 1);
    const during = await api<CallView>(gw.baseUrl, 'GET', `/api/calls/${call.id}`);
    assert.equal(during.body.status, 'answered', 'the live call goes on during the drain');

    assert.deepEqual(await gw.waitExit(30_000), { code: 0, signal: null });
    const record = await readRecord(db, call.id);
    assert.equal(record?.status, 'completed');
    assert.equal(record?.end_reason, 'callee', 'the callee ended it: the drain did not cut it short');
    assert.equal(record?.status_history.at(-1)?.status, 'completed');
    assert.ok(conv.closeInfo, 'agent socket closed');
    await pair.expectAriIdle(3000);
  });

  it('SIGTERM with the grace period over: the live call is hung up as shutdown and recorded; exit 0, nothing left', async function () {
    const db = path.join(scratch, 'sigterm-0.db');
    const gw = await startChild({ CALL_DB_PATH: db, SHUTDOWN_GRACE_S: '0' });
    const call = await placeCall(gw.baseUrl, pair.numbers.answer());
    await waitStatus(gw.baseUrl, call.id, ['answered']);
    await waitBridged(pair, call.id);
    gw.signal('SIGTERM');
    assert.deepEqual(await gw.waitExit(20_000), { code: 0, signal: null });
    const record = await readRecord(db, call.id);
    assert.equal(record?.status, 'completed');
    assert.equal(record?.end_reason, 'shutdown');
    await pair.expectAriIdle(3000);
  });

  // ---- the store fails: no call decides its fate on it ----

  /**
   * A live call while the records cannot be written: it goes on with its audio and transcript,
   * new calls are refused with 503 STORE_UNAVAILABLE, and once the store writes again every line
   * lands. `breakStore` makes writes fail; its result repairs them.
   */
  async function callThroughStoreOutage(db: string, breakStore: () => Promise<() => Promise<void>>): Promise<void> {
    const gw = await startChild({ CALL_DB_PATH: db });
    const call = await placeCall(gw.baseUrl, pair.numbers.answer());
    await waitStatus(gw.baseUrl, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(gw.baseUrl, call.id);

    const repair = await breakStore();
    await conv.sayAgent({ text: 'Written while the store fails.', freqHz: 550, durationMs: 400 });
    const failing = await waitHealth(gw.baseUrl, 503, 10_000);
    assert.deepEqual([failing.body.ari, (failing.body as { store?: string }).store], ['connected', 'failing']);
    const refused = await api<ErrorBody>(gw.baseUrl, 'POST', '/api/calls/start', { phone_number: `+${pair.numbers.answer()}` });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'STORE_UNAVAILABLE');
    // The live call goes on: audio both ways, and its transcript in the API.
    const before = (await api<CallView>(gw.baseUrl, 'GET', `/api/calls/${call.id}`)).body.metrics;
    await conv.sayAgent({ text: 'Still talking.', freqHz: 660, durationMs: 400 });
    await waitFor(
      async () => {
        const m = (await api<CallView>(gw.baseUrl, 'GET', `/api/calls/${call.id}`)).body.metrics;
        return m.ai_to_caller.packets >= before.ai_to_caller.packets + 15 && m.caller_to_ai.packets > before.caller_to_ai.packets;
      },
      { what: 'audio both ways during the store outage' },
    );
    const live = (await api<CallView>(gw.baseUrl, 'GET', `/api/calls/${call.id}`)).body;
    assert.equal(live.status, 'answered');
    assert.ok(live.transcript.some((t) => t.text === 'Still talking.'), JSON.stringify(live.transcript));

    await repair();
    await waitHealth(gw.baseUrl, 200, 15_000);
    await api(gw.baseUrl, 'DELETE', `/api/calls/${call.id}`);
    await waitStatus(gw.baseUrl, call.id, ['completed']);
    assert.ok((await metricValue(gw.baseUrl, /^voice_gateway_store_errors_total /)) >= 1, 'the failed writes were counted');
    assert.equal(await metricValue(gw.baseUrl, /^voice_gateway_process_faults_total\{kind="unhandled_rejection"\}/), 0);
    gw.signal('SIGTERM');
    assert.deepEqual(await gw.waitExit(20_000), { code: 0, signal: null });
    const record = await readRecord(db, call.id);
    assert.equal(record?.end_reason, 'api');
    const lines = record?.transcript.map((t) => t.text) ?? [];
    for (const text of ['Written while the store fails.', 'Still talking.']) assert.ok(lines.includes(text), `"${text}" lost: ${JSON.stringify(lines)}`);
    await pair.expectAriIdle(3000);
  }

  it('the records\' file system fills up mid-call: the process and the call go on, new calls get 503 STORE_UNAVAILABLE, nothing is lost once there is room', async function () {
    const fsDir = path.join(scratch, 'small-fs');
    const unmount = await mountSmallFs(fsDir, 2048);
    try {
      await callThroughStoreOutage(path.join(fsDir, 'calls.db'), async () => {
        const filler = path.join(fsDir, 'filler');
        await fillUp(filler);
        return async () => rm(filler);
      });
    } finally {
      // Busy when the test failed with its gateway still up: afterEach unmounts it after the children.
      await unmount().catch(() => undefined);
    }
  });

  it('another writer holds the database lock: the same, and writes land once it lets go', async function () {
    const db = path.join(scratch, 'locked.db');
    await callThroughStoreOutage(db, async () => {
      const other = new Database(db);
      other.exec('BEGIN IMMEDIATE');
      return async () => {
        other.exec('ROLLBACK');
        other.close();
      };
    });
  });

  it('ARI drops while a transfer target rings: no unhandled rejection, the call ends cleanly, nothing left in Asterisk', async function () {
    const ariUrl = new URL(pair.ari.url);
    const proxy = await TcpProxy.start({ host: ariUrl.hostname, port: Number(ariUrl.port) });
    proxies.push(proxy);
    const target = pair.numbers.noAnswer();
    const gw = await startChild({ CALL_DB_PATH: path.join(scratch, 'transfer-ari.db'), ARI_URL: `http://127.0.0.1:${proxy.port}`, TRANSFER_DESTINATIONS: `+${target}` });
    const call = await placeCall(gw.baseUrl, pair.numbers.answer());
    await waitStatus(gw.baseUrl, call.id, ['answered']);
    await waitBridged(pair, call.id);
    const conv = await conversationOf(gw.baseUrl, call.id);
    const result = conv.callClientTool('transfer_to_number', { phone_number: `+${target}` }, { timeoutMs: 60_000 });
    await waitFor(async () => (await ariObjects(pair)).channels.includes(`vg-tr-${call.id}`), { what: 'the transfer target ringing' });
    proxy.cut();
    await waitHealth(gw.baseUrl, 503, 10_000);
    proxy.restore();
    await waitHealth(gw.baseUrl, 200, 30_000);
    await api(gw.baseUrl, 'DELETE', `/api/calls/${call.id}`);
    const ended = await waitStatus(gw.baseUrl, call.id, ['completed', 'failed']);
    assert.equal(ended.end_reason, 'api');
    // No transfer happened: the tool answered with an error, or not at all (the agent left with the call).
    assert.notEqual((await result)?.isError, false, 'the transfer did not happen');
    await pair.expectAriIdle(5000);
    assert.equal(await metricValue(gw.baseUrl, /^voice_gateway_process_faults_total\{kind="unhandled_rejection"\}/), 0);
  });

});
