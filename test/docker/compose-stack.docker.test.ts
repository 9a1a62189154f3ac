import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CleanupStack } from '../../scripts/demo/cleanup-stack';
import { pollUntil } from '../../scripts/lib/poll';
import { assertPortsFree } from '../../scripts/lib/ports';
import type { CallView } from '../../src/model/call-view';
import { CarrierStandIn } from '../carrier/carrier-stand-in';
import { createNumberPlan } from '../carrier/number-plan';
import { waitForRecording } from '../carrier/recording';
import { ElevenLabsSimulator } from '../fakes/elevenlabs-simulator';
import type { SimConversation } from '../fakes/sim/conversation';
import { assertGapFreeTone, assertToneHeard } from '../helpers/tone-checks';
import { waitFor } from '../helpers/wait-for';
import { readWavFile } from '../helpers/wav';
import { TEST_SIP_ACCOUNT } from '../integration/fixtures/asterisk-pair';
import { QUIET_VAD } from '../integration/fixtures/gateway-harness';
import { ComposeProject } from './fixtures/compose-project';
import { DEFAULT_DOCKER_STATE_DIR, DockerDaemon } from './fixtures/docker-daemon';
import { fetchCompose, makeBaseImages, REPO } from './fixtures/docker-tools';
import { formatEnvFile, newStackSecrets, stackEnv, stackPorts } from './fixtures/stack-env';

/**
 * The deployment as docker-compose.yml describes it, built and run on a Docker engine of the
 * test's own, from base images made on this machine:
 *
 *   test ──REST──▶ app container ──ARI, ExternalMedia RTP──▶ asterisk container ──SIP/RTP──▶ carrier stand-in
 *                  (user node)                               (rendered by asterisk-config)     (host, records rx)
 *                        └──────────── agent WebSocket ────▶ ElevenLabs simulator (host)
 *
 * All on the host's network (the compose file's network_mode: host), ports from stack-env.ts.
 * The steps run in order on one stack: each `it` builds on what the ones before it left.
 */

const STATE_DIR = process.env['VG_DOCKER_STATE_DIR'] || DEFAULT_DOCKER_STATE_DIR;
/** The run's .env, build log and compose log; /.tmp/ is git-ignored and outside the build context. */
const WORK_DIR = path.join(REPO, '.tmp', 'docker-test');
const PROJECT = 'vg-docker-test';
const AGENT_ID = 'agent_docker';
/** SIGTERM grace: longer than the drained call, shorter than the compose file's stop_grace_period (30 s). */
const SHUTDOWN_GRACE_S = 20;

const log = (line: string): void => void process.stderr.write(`  [docker] ${line}\n`);

async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const startedAt = Date.now();
  const result = await run();
  log(`${what}: ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return result;
}

describe('docker compose: the stack built from local base images, one call through it, restarts and SIGTERM', function () {
  this.timeout(120_000);
  const ports = stackPorts();
  const secrets = newStackSecrets();
  const numbers = createNumberPlan();
  const cleanup = new CleanupStack();
  const apiUrl = `http://127.0.0.1:${ports.api}`;
  let daemon: DockerDaemon;
  let compose: ComposeProject;
  let carrier: CarrierStandIn;
  let sim: ElevenLabsSimulator;
  /** What the steps leave for the ones after them. */
  const seen: { audioCall?: CallView; drainedCallId?: string; appContainerId?: string } = {};

  const api = async <T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${secrets.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  };
  const placeCall = async (number: string): Promise<CallView> => {
    const res = await api<CallView>('POST', '/api/calls/start', { phone_number: `+${number}` });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const waitStatus = async (id: string, statuses: readonly CallView['status'][], timeoutMs = 15_000): Promise<CallView> => {
    let last: CallView | undefined;
    try {
      return await waitFor(
        async () => {
          last = (await api<CallView>('GET', `/api/calls/${id}`)).body;
          return statuses.includes(last.status) ? last : undefined;
        },
        { timeoutMs, intervalMs: 100, what: `call ${id} to reach ${statuses.join('|')}` },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; call: ${JSON.stringify({ ...last, transcript: undefined })}`);
    }
  };

  /**
   * `up -d`, then the two signs of a working stack: the trunk registered from the container, /health
   * 200. A failure carries the end of the containers' logs (a crash loop says why there).
   */
  const upAndWait = async (): Promise<void> => {
    try {
      await waitUntilUp();
    } catch (err) {
      const logs = await compose.run(['logs', '--no-color', '--tail', '15']).catch((logErr: Error) => ({ stdout: logErr.message, stderr: '' }));
      throw new Error(`${(err as Error).message}\n--- last lines of the containers' logs:\n${logs.stdout}${logs.stderr}`);
    }
  };
  const waitUntilUp = async (): Promise<void> => {
    await compose.run(['up', '--detach', '--no-build'], 5 * 60_000);
    await pollUntil(
      async () => {
        const out = await compose
          .exec('asterisk', ['asterisk', '-C', '/etc/asterisk/asterisk.conf', '-rx', 'pjsip show registrations'])
          .catch((err: Error) => err.message);
        return /exolve-reg\/\S+\s+\S+\s+Registered/.test(out) ? { done: true, value: undefined } : { done: false, seen: out.trim().slice(-300) };
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the asterisk container to register at the carrier stand-in' },
    );
    await pollUntil(
      async () => {
        const res = await api<{ ari: string }>('GET', '/health').catch((err: Error) => err);
        if (res instanceof Error) return { done: false, seen: res.message };
        return res.status === 200 ? { done: true, value: undefined } : { done: false, seen: `${res.status} ${JSON.stringify(res.body)}` };
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `GET ${apiUrl}/health to answer 200` },
    );
  };

  /** Save the containers' logs, `down -v`, and check that nothing of the project is left. */
  const composeDown = async (): Promise<void> => {
    const logs = await compose.run(['logs', '--no-color', '--timestamps']).catch((err: Error) => ({ stdout: err.message, stderr: '' }));
    await writeFile(path.join(WORK_DIR, 'compose.log'), logs.stdout + logs.stderr);
    await compose.run(['down', '--volumes', '--remove-orphans', '--timeout', '10'], 120_000);
    const label = `label=com.docker.compose.project=${PROJECT}`;
    const left = [
      ...(await daemon.docker(['ps', '--all', '--quiet', '--filter', label])).stdout.split('\n').filter(Boolean).map((id) => `container ${id}`),
      ...(await daemon.docker(['volume', 'ls', '--quiet', '--filter', label])).stdout.split('\n').filter(Boolean).map((v) => `volume ${v}`),
      ...(await daemon.docker(['network', 'ls', '--quiet', '--filter', label])).stdout.split('\n').filter(Boolean).map((n) => `network ${n}`),
    ];
    if (left.length > 0) throw new Error(`docker compose down -v left ${left.join(', ')}`);
  };

  before(async function () {
    this.timeout(40 * 60_000); // a first run on a new machine makes both bases and builds from scratch
    await mkdir(WORK_DIR, { recursive: true });
    const dockerConfigDir = await timed('Compose v2', () => fetchCompose(path.join(STATE_DIR, 'config')));
    daemon = await timed('dockerd', () => DockerDaemon.start({ stateDir: STATE_DIR, dockerConfigDir, log }));
    cleanup.push(`dockerd (pid ${daemon.pid})`, () => daemon.stop());
    const bases = await timed('base images', () => makeBaseImages(daemon));
    log(`bases: ${bases.NODE_BASE_IMAGE}, ${bases.ASTERISK_BASE_IMAGE}`);

    sim = await ElevenLabsSimulator.start({});
    cleanup.push('ElevenLabs simulator', () => sim.close());
    sim.agent(AGENT_ID, {
      inputFormat: 'pcm_16000',
      outputFormat: 'pcm_16000',
      greeting: { freqHz: 440, durationMs: 2000 },
      turnTimeoutMs: -1,
      vad: QUIET_VAD,
      requiresAuth: true,
    });
    carrier = await CarrierStandIn.start({
      name: `carrier-${ports.base}`,
      sipHost: '127.0.0.1',
      sipPort: ports.carrierSip,
      account: TEST_SIP_ACCOUNT,
      accountPassword: secrets.sipPassword,
      rtpPortMin: ports.carrierRtp[0],
      rtpPortMax: ports.carrierRtp[1],
      sidRoot: process.env['ASTERISK_SID_ROOT'] || undefined,
      ifRunning: 'replace',
      log,
    });
    cleanup.push(`carrier stand-in ${carrier.instance.name}`, () => carrier.stop());

    // Asterisk in a container only logs a failed bind; say it here instead.
    await assertPortsFree([
      { protocol: 'udp', host: '127.0.0.1', port: ports.pbxSip, purpose: 'SIP of the asterisk container' },
      { protocol: 'tcp', host: '127.0.0.1', port: ports.ari, purpose: 'ARI of the asterisk container' },
      { protocol: 'tcp', host: '127.0.0.1', port: ports.api, purpose: 'API of the app container' },
    ]);
    const envFile = path.join(WORK_DIR, '.env');
    const env = stackEnv({ ports, secrets, agent: { apiUrl: sim.apiUrl, apiKey: sim.apiKey, agentId: AGENT_ID }, shutdownGraceS: SHUTDOWN_GRACE_S });
    await writeFile(envFile, formatEnvFile(env), { mode: 0o600 });
    // The registry is reached through a TLS proxy whose CA the host trusts; without one, an empty file.
    let buildCa = process.env['NODE_EXTRA_CA_CERTS'] ?? '';
    if (buildCa === '') {
      buildCa = path.join(WORK_DIR, 'no-build-ca.pem');
      await writeFile(buildCa, '');
    }
    compose = new ComposeProject(daemon, {
      name: PROJECT,
      projectDir: REPO,
      files: ['docker-compose.yml', 'test/docker/compose.test.yml'],
      envFile,
      vars: { ...bases, VG_TEST_ENV_FILE: envFile, VG_TEST_BUILD_CA: buildCa },
    });
    cleanup.push(`compose project ${PROJECT} (down -v)`, composeDown);
    const buildLog = path.join(WORK_DIR, 'build.log');
    await writeFile(buildLog, '');
    await timed(`docker compose build (log: ${path.relative(REPO, buildLog)})`, () => compose.runLogged(['build', '--progress', 'plain'], buildLog, 30 * 60_000));
    await timed('docker compose up, trunk registered, /health 200', upAndWait);
  });

  after(async function () {
    this.timeout(5 * 60_000);
    const failures = await cleanup.unwind(log);
    if (failures.length > 0) throw new Error(`cleanup failed:\n${failures.join('\n')}`);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') log(`container logs are saved to ${path.join(WORK_DIR, 'compose.log')} when the stack goes down`);
  });

  it('the asterisk container is registered at the carrier stand-in, and the app is healthy', async function () {
    const contact = await carrier.registeredContact();
    assert.match(contact ?? '(none)', new RegExp(`@127\\.0\\.0\\.1:${ports.pbxSip}\\b`), 'the carrier holds the registration of the container');
    const health = await api<{ status: string; ari: string; accepting_calls: boolean; trunk: { endpoint: string } }>('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.ari, 'connected');
    assert.equal(health.body.accepting_calls, true);
    assert.equal(health.body.trunk.endpoint, 'exolve');
  });

  it('the app runs as a user other than root and keeps its records in the named volume app-data', async function () {
    const id = await compose.containerId('app');
    assert.ok(id, 'an app container exists');
    seen.appContainerId = id;
    const info = await compose.inspect(id);
    assert.equal(info.State.Status, 'running');
    // The process as the host's kernel sees it: real, effective, saved and filesystem uid.
    const status = await readFile(`/proc/${info.State.Pid}/status`, 'utf8');
    const uids = (/^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(status) ?? []).slice(1).map(Number);
    assert.equal(uids.length, 4, status);
    assert.ok(uids.every((uid) => uid !== 0), `the app process (host pid ${info.State.Pid}) runs with uids ${uids.join(',')}`);
    const [dataOwner, dbOwner, appOwner] = (await compose.exec('app', ['stat', '-c', '%u', '/app/data', '/app/data/calls.db', '/app'])).trim().split('\n').map(Number);
    assert.equal(dataOwner, uids[0], 'the data folder belongs to the service user');
    assert.equal(dbOwner, uids[0], 'the service created its database there');
    assert.equal(appOwner, 0, 'the code stays root-owned: only the data folder is writable');
    const data = info.Mounts.find((m) => m.Destination === '/app/data');
    assert.deepEqual([data?.Type, data?.Name], ['volume', `${PROJECT}_app-data`], JSON.stringify(info.Mounts));
    // The build CA was a build secret of the build stage: neither the image's environment nor its files hold it.
    assert.deepEqual(info.Config.Env.filter((v) => /CA_CERT|cafile/i.test(v)), []);
    assert.equal((await compose.exec('app', ['sh', '-c', 'ls -A /run/secrets 2>/dev/null | wc -l'])).trim(), '0');
  });

  it("a call through the API: the carrier's 1 kHz reaches the agent, the agent's 440 Hz greeting reaches the carrier gap-free", async function () {
    const number = numbers.answer();
    const call = await placeCall(number);
    await waitStatus(call.id, ['answered']);
    // The record names the conversation once the agent is connected, which may be after the answer.
    const conv: SimConversation = await waitFor(
      async () => {
        const id = (await api<CallView>('GET', `/api/calls/${call.id}`)).body.conversation_id;
        return id === null ? undefined : sim.conversations.find((c) => c.id === id);
      },
      { timeoutMs: 10_000, what: "the call's conversation at the simulator" },
    );
    // Tone up: the carrier's tone, through both containers, at the agent's 16 kHz.
    await waitFor(() => conv.userAudioMs >= 1500, { timeoutMs: 10_000, what: '1.5 s of caller audio at the agent' });
    assertToneHeard(conv.userAudio(), 16_000, 1000);
    await waitFor(async () => (await api<CallView>('GET', `/api/calls/${call.id}`)).body.metrics.ai_to_caller.packets >= 100, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: '2 s of greeting played out',
    });
    const deleted = await api<CallView>('DELETE', `/api/calls/${call.id}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    const ended = await waitStatus(call.id, ['completed', 'failed']);
    assert.deepEqual([ended.status, ended.end_reason], ['completed', 'api'], JSON.stringify({ ...ended, transcript: undefined }));
    seen.audioCall = ended;

    // Tone down: what the carrier recorded from the asterisk container.
    const recording = await waitForRecording(carrier.recordingsDir, number);
    const wav = await readWavFile(recording.rxWavPath);
    assert.equal(wav.sampleRateHz, 8000);
    assertGapFreeTone(wav.samples, { freqHz: 440, durationMs: 2000 });
  });

  it('SIGTERM drains: new calls get 503, the live call goes on until the callee hangs up, then the app exits 0', async function () {
    const id = seen.appContainerId ?? (await compose.containerId('app'));
    assert.ok(id, 'an app container exists');
    const call = await placeCall(numbers.answerThenHangUp(4));
    await waitStatus(call.id, ['answered']);
    seen.drainedCallId = call.id;
    // `docker compose stop` sends SIGTERM and waits (stop_grace_period) for the process to exit.
    const stopping = compose.run(['stop', 'app'], 60_000);
    try {
      await waitFor(async () => (await api('GET', '/health')).status === 503, { timeoutMs: 10_000, intervalMs: 100, what: '/health 503 after SIGTERM' });
      const refused = await api<{ code: string }>('POST', '/api/calls/start', { phone_number: `+${numbers.answer()}` });
      assert.deepEqual([refused.status, refused.body.code], [503, 'SHUTTING_DOWN'], JSON.stringify(refused.body));
      const live = await api<CallView>('GET', `/api/calls/${call.id}`);
      assert.equal(live.body.status, 'answered', 'the call is still up while the app drains');
    } finally {
      await stopping;
    }
    const info = await compose.inspect(id);
    assert.deepEqual([info.State.Status, info.State.ExitCode, info.State.OOMKilled], ['exited', 0, false], 'exited by itself, not killed after the grace period');
  });

  it('the records survive recreating the stack (docker compose down, up): the volume keeps them', async function () {
    const audioCall = seen.audioCall;
    const drainedCallId = seen.drainedCallId;
    assert.ok(audioCall && drainedCallId, 'the earlier steps placed their calls');
    await compose.run(['down', '--timeout', '10'], 120_000);
    await upAndWait();
    const id = await compose.containerId('app');
    assert.ok(id && id !== seen.appContainerId, 'a new app container');

    const kept = await api<CallView>('GET', `/api/calls/${audioCall.id}`);
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    assert.deepEqual(kept.body, audioCall, 'the record reads back as it was before the restart');
    const drained = await api<CallView>('GET', `/api/calls/${drainedCallId}`);
    assert.deepEqual(
      [drained.body.status, drained.body.end_reason],
      ['completed', 'callee'],
      `the drained call ended by itself, not by the shutdown: ${JSON.stringify({ ...drained.body, transcript: undefined })}`,
    );
  });
});
