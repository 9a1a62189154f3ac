/**
 * `npm run demo`: one call through a complete local stack, shown as it happens.
 *
 *   1. the Asterisk test bed: a carrier stand-in and our PBX (asterisk-conf/), registered
 *      (test/integration/fixtures/asterisk-pair.ts, port base ASTERISK_TESTBED_PORT_BASE, default 14000);
 *   2. the agent: the ElevenLabs simulator (test/fakes), or the real ElevenLabs when .env sets
 *      ELEVENLABS_AGENT_ID (the phone side is still the carrier stand-in);
 *   3. the gateway, started as `npm start` starts it (src/index.ts), on http://127.0.0.1:8000;
 *   4. `POST /api/calls/start {"phone_number": …}`, then the call's events from `GET /api/events`
 *      (status changes, transcript lines, bridge metrics every 10 s) until it ends, the final record
 *      from `GET /api/calls/{id}`, and a summary;
 *   5. everything stopped again, by pid / handle (also on Ctrl+C at any point).
 *
 * Options: --number, --duration, --keep, --simulator (see scripts/demo/args.ts).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { CallView } from '../src/model/call-view';
import type { SequencedCallEvent } from '../src/events/call-events';
import type { ElevenLabsSimulator } from '../test/fakes/elevenlabs-simulator';
import { startAsteriskPair, stopAsteriskPair, type AsteriskPair } from '../test/integration/fixtures/asterisk-pair';
import { assertPortsFree, PortsInUseError } from './lib/ports';
import { isRunning } from './lib/process-by-pid';
import { ApiError, GatewayApi } from './demo/api-client';
import { parseDemoArgs, USAGE, type DemoOptions } from './demo/args';
import { DemoCaller } from './demo/caller';
import { CleanupStack } from './demo/cleanup-stack';
import { apiTokenOf, chooseAgent, readUserEnv, type AgentChoice } from './demo/env';
import { GatewayProcess } from './demo/gateway-process';
import { isDemoWorker, runAsWorker, watchForwarder } from './demo/own-session';
import { DEMO_AGENT_FORMAT, DEMO_AGENT_ID, startDemoSimulator } from './demo/sim-agent';
import { openEventStream, type EventStream } from './demo/sse-client';
import { createStyle, metricsBlock, outcomeOf, Timeline } from './demo/timeline';

const REPO = path.resolve(__dirname, '..');
/** Demo files (gateway log, call database); /.tmp/ is git-ignored. */
const DEMO_DIR = path.join(REPO, '.tmp', 'demo');
/** Test-bed port base of the demo: clear of the integration tests' 25000-28000. */
const DEFAULT_PORT_BASE = '14000';
const DEFAULT_API_PORT = 8000;

const style = createStyle(process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined);
const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const rel = (p: string): string => path.relative(process.cwd(), p) || p;

/** Ctrl+C (SIGINT), SIGTERM or SIGHUP arrived, or the forwarding parent vanished. */
class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** Resolves on the first stop request; later ones are only acknowledged. */
function listenForStop(): { readonly requested: Promise<void>; readonly isRequested: () => boolean } {
  let isRequested = false;
  let resolve!: () => void;
  const requested = new Promise<void>((r) => (resolve = r));
  const onStop = (why: string): void => {
    if (isRequested) {
      out(style.dim(`(${why} again: still cleaning up, one moment)`));
      return;
    }
    isRequested = true;
    out();
    out(style.yellow(`${why}: stopping the demo`));
    resolve();
  };
  process.on('SIGINT', () => onStop('Ctrl+C'));
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGHUP', () => onStop('SIGHUP'));
  watchForwarder(() => onStop('the demo parent process went away'));
  return { requested, isRequested: () => isRequested };
}

/** Everything the run started, for the summary and the leftovers check. */
interface Stack {
  pair?: AsteriskPair;
  sim?: ElevenLabsSimulator;
  gateway?: GatewayProcess;
  events?: EventStream;
  caller?: DemoCaller;
}

async function main(): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseDemoArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  if (options.isHelp) {
    out(USAGE);
    return 0;
  }
  const stop = listenForStop();
  const cleanup = new CleanupStack();
  const stack: Stack = {};
  let exitCode = 0;
  try {
    exitCode = await run(options, stack, cleanup, stop);
  } catch (err) {
    if (err instanceof Interrupted) {
      exitCode = 0;
    } else {
      out(style.red(`demo failed: ${err instanceof Error ? err.message : String(err)}`));
      exitCode = 1;
    }
  }
  out();
  out(style.bold('Stopping what the demo started'));
  stack.caller?.close();
  stack.events?.close();
  const failures = await cleanup.unwind((line) => out(`  ${line}`));
  const left = await leftovers(stack);
  if (failures.length === 0 && left.length === 0) {
    out(`  ${style.green('nothing left running')} ${style.dim(pidsLine(stack))}`);
  } else {
    for (const l of left) out(style.red(`  still running: ${l}`));
    exitCode = 1;
  }
  return exitCode;
}

async function run(options: DemoOptions, stack: Stack, cleanup: CleanupStack, stop: ReturnType<typeof listenForStop>): Promise<number> {
  const checkpoint = (): void => {
    if (stop.isRequested()) throw new Interrupted();
  };
  const { env: userEnv, hasDotEnv } = readUserEnv(REPO);
  const agent = chooseAgent(userEnv, options.isSimulatorForced);
  mkdirSync(DEMO_DIR, { recursive: true });
  // The test-bed fixture reads its port base from process.env; .env may set it like the other tooling variables.
  process.env['ASTERISK_TESTBED_PORT_BASE'] = userEnv['ASTERISK_TESTBED_PORT_BASE'] || DEFAULT_PORT_BASE;

  out(style.bold('voice-gateway demo') + style.dim(' — one call through a local stack; everything stops when the demo ends (Ctrl+C any time)'));
  out(style.dim(hasDotEnv ? '.env found: the gateway reads it, except the settings the demo sets for the local stack' : 'no .env: the environment and defaults'));
  out();

  // 1. Asterisk: carrier stand-in + our PBX, registered.
  out(`${label('asterisk')}starting the carrier stand-in and our PBX ${style.dim('(the first run ever provisions Asterisk: about a minute)')}`);
  const pairStartedAt = Date.now();
  const pair = await startAsteriskPair({ log: (line) => out(style.dim(`${' '.repeat(12)}${line}`)), sidRoot: userEnv['ASTERISK_SID_ROOT'] || undefined });
  stack.pair = pair;
  cleanup.push(`Asterisk ${pair.pbx.name} (pid ${pair.pbx.pid}) and ${pair.carrier.instance.name} (pid ${pair.carrier.instance.pid})`, () => stopPair(pair));
  out(
    `${label('')}carrier ${pair.carrier.instance.name}: SIP 127.0.0.1:${pair.ports.carrierSip}; ` +
      `PBX ${pair.pbx.name}: SIP :${pair.ports.pbxSip}, ARI :${pair.ports.ari}; registered in ${secondsSince(pairStartedAt)}`,
  );
  checkpoint();

  // 2. The agent.
  const agentEnv = await startAgent(agent, stack, cleanup);
  checkpoint();

  // 3. The gateway.
  const apiPort = await chooseApiPort(userEnv['API_PORT'], pair.ports.base + 80);
  const baseUrl = `http://127.0.0.1:${apiPort}`;
  const logFile = path.join(DEMO_DIR, 'gateway.log');
  const gatewayEnv: Record<string, string> = {
    ...pair.appEnv,
    ...agentEnv,
    API_HOST: '127.0.0.1',
    API_PORT: String(apiPort),
    EXTERNAL_MEDIA_HOST: '127.0.0.1',
    RTP_PORT_MIN: String(pair.ports.spareRtp[0]),
    RTP_PORT_MAX: String(pair.ports.spareRtp[1]),
    CALL_DB_PATH: path.join(DEMO_DIR, 'calls.db'),
    SHUTDOWN_GRACE_S: '0', // Ctrl+C: hang up at once
  };
  out(`${label('gateway')}starting src/index.ts (as npm start does) on ${baseUrl}`);
  const gatewayStartedAt = Date.now();
  const gateway = await GatewayProcess.start({ repoDir: REPO, env: gatewayEnv, logFile, baseUrl });
  stack.gateway = gateway;
  cleanup.push(`gateway (pid ${gateway.pid})`, () => gateway.stop());
  out(`${label('')}pid ${gateway.pid}, ARI connected, GET /health 200 after ${secondsSince(gatewayStartedAt)}; log: ${rel(logFile)}`);
  checkpoint();

  // 4. Watch the event stream, as an ops dashboard would, then place the call.
  const api = new GatewayApi(baseUrl, apiTokenOf(userEnv));
  const timeline = new Timeline(style);
  const caller = new DemoCaller({ ari: pair.ari, api, sim: stack.sim, note: (id, text) => printIfShown(id, timeline.note(id, text)) });
  stack.caller = caller;
  // Set once POST /api/calls/start answered; events of the call that arrive before are held in `early`.
  const main: { callId: string | undefined } = { callId: undefined };
  const early: SequencedCallEvent[] = [];
  let onMainEnded: ((e: SequencedCallEvent) => void) | undefined;
  let streamLost: ((err: Error) => void) | undefined;
  function printIfShown(callId: string, line: string): void {
    if (main.callId === callId || options.isKeep) out(line);
  }
  const show = (event: SequencedCallEvent): void => {
    for (const line of timeline.format(event)) printIfShown(event.call_id, line);
    if (event.call_id === main.callId && event.type === 'ended') onMainEnded?.(event);
  };
  const events = openEventStream({
    url: `${baseUrl}/api/events`,
    token: api.token,
    onEvent: (event) => {
      caller.onEvent(event);
      if (main.callId === undefined) early.push(event);
      else show(event);
    },
    onEnd: (err) => streamLost?.(err ?? new Error('event stream ended')),
  });
  stack.events = events;
  await events.opened;
  out(`${label('events')}GET ${baseUrl}/api/events open (Server-Sent Events)`);
  out();

  const phoneNumber = options.number ?? `+${pair.numbers.answer()}`;
  const auth = api.token === undefined ? '' : ' -H "Authorization: Bearer $API_TOKEN"';
  out(style.bold(`$ curl${auth} -X POST ${baseUrl}/api/calls/start -H 'Content-Type: application/json' -d '{"phone_number": "${phoneNumber}"}'`));
  let created: CallView;
  try {
    created = await api.startCall(phoneNumber);
  } catch (err) {
    if (err instanceof ApiError) {
      out(style.red(`HTTP ${err.status} ${JSON.stringify(err.body)}`));
      return 1;
    }
    throw err;
  }
  main.callId = created.id;
  timeline.mainCallId = created.id;
  caller.prepare(created.id).catch((err: unknown) => out(`caller: could not prepare the call (${String(err)})`));
  out(`HTTP 201 ${JSON.stringify({ id: created.id, status: created.status })}`);
  out();
  const ended = new Promise<SequencedCallEvent>((resolve) => (onMainEnded = resolve));
  const lost = new Promise<never>((_, reject) => (streamLost = reject));
  lost.catch(() => undefined); // raced below; an unobserved loss after the call is not an error
  for (const event of early.splice(0)) show(event);

  // Until the call ends: by itself, by --duration, or by Ctrl+C (then hang it up first).
  let durationTimer: NodeJS.Timeout | undefined;
  const durationUp = new Promise<'duration'>((resolve) => (durationTimer = setTimeout(() => resolve('duration'), options.durationS * 1000)));
  const first = await Promise.race([ended.then(() => 'ended' as const), durationUp, stop.requested.then(() => 'stop' as const), lost]);
  clearTimeout(durationTimer);
  if (first !== 'ended') {
    out(style.dim(first === 'duration' ? `--duration ${options.durationS} s reached: hanging up` : 'hanging up the call first'));
    out(style.bold(`$ curl${auth} -X DELETE ${baseUrl}/api/calls/${created.id}`));
    await api.hangUp(created.id).catch((err: Error) => out(style.red(`hang-up failed: ${err.message}`)));
    await Promise.race([ended, delayMs(5000), lost]);
  }

  // 5. The record and a summary.
  const view = await api.getCall(created.id);
  out();
  out(style.bold(`$ curl${auth} ${baseUrl}/api/calls/${created.id}`));
  out(JSON.stringify(view, null, 2));
  await printSummary(view, stack, logFile, phoneNumber);

  if (options.isKeep && !stop.isRequested()) {
    printKeepHelp(baseUrl, auth, pair, created.id);
    await Promise.race([stop.requested, lost]);
  }
  const isDefaultCallFailed = options.number === undefined && view.status === 'failed';
  return isDefaultCallFailed ? 1 : 0;
}

/** Start the simulator (or describe the real agent); returns the gateway's ELEVENLABS_* settings. */
async function startAgent(agent: AgentChoice, stack: Stack, cleanup: CleanupStack): Promise<Record<string, string>> {
  if (agent.kind === 'elevenlabs') {
    out(
      `${label('agent')}real ElevenLabs agent ${agent.agentId} at ${agent.apiUrl} (${agent.hasApiKey ? 'signed URL with ELEVENLABS_API_KEY' : 'public agent: no API key'})`,
    );
    out(style.dim(`${' '.repeat(12)}the phone is still the local carrier stand-in: the agent hears 1 kHz tone bursts, not words; --simulator uses the simulator`));
    return {}; // the gateway reads ELEVENLABS_* from .env / the environment itself
  }
  const sim = await startDemoSimulator();
  stack.sim = sim;
  cleanup.push('ElevenLabs simulator', () => sim.close());
  out(`${label('agent')}ElevenLabs simulator at ${sim.apiUrl}: private agent "${DEMO_AGENT_ID}", ${DEMO_AGENT_FORMAT} both ways`);
  out(style.dim(`${' '.repeat(12)}its voice is tones (the words are in the transcript); the caller's turns get scripted transcripts`));
  return { ELEVENLABS_API_URL: sim.apiUrl, ELEVENLABS_API_KEY: sim.apiKey, ELEVENLABS_AGENT_ID: DEMO_AGENT_ID };
}

/** API_PORT when set (must be free); else 8000, or `fallback` when something already listens there. */
async function chooseApiPort(requested: string | undefined, fallback: number): Promise<number> {
  const isFree = async (port: number): Promise<boolean> => {
    try {
      await assertPortsFree([{ protocol: 'tcp', host: '127.0.0.1', port, purpose: 'gateway API' }]);
      return true;
    } catch (err) {
      if (err instanceof PortsInUseError) return false;
      throw err;
    }
  };
  if (requested !== undefined && requested.trim() !== '') {
    const port = Number(requested);
    if (!(await isFree(port))) throw new Error(`API_PORT ${port} is in use; set another one: API_PORT=8001 npm run demo`);
    return port;
  }
  if (await isFree(DEFAULT_API_PORT)) return DEFAULT_API_PORT;
  out(style.yellow(`${label('')}port ${DEFAULT_API_PORT} is in use: the gateway takes ${fallback} instead`));
  if (!(await isFree(fallback))) throw new Error(`ports ${DEFAULT_API_PORT} and ${fallback} are in use; choose one: API_PORT=8001 npm run demo`);
  return fallback;
}

async function printSummary(view: CallView, stack: Stack, logFile: string, phoneNumber: string): Promise<void> {
  const lines = (role: 'user' | 'agent'): number => view.transcript.filter((t) => t.role === role).length;
  const seconds = (from: string | null, to: string | null): string =>
    from === null || to === null ? '–' : `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)} s`;
  out();
  out(style.bold('Summary'));
  out(`  outcome       ${outcomeOf(view)}`);
  out(`  timing        answered after ${seconds(view.created_at, view.answered_at)}, talked ${seconds(view.answered_at, view.ended_at)}, ${seconds(view.created_at, view.ended_at)} in all`);
  out(`  conversation  ${view.conversation_id === null ? 'none' : `${view.conversation_id}: ${lines('agent')} agent lines, ${lines('user')} caller lines`}`);
  const [, ...metrics] = metricsBlock(view.metrics);
  out(`  metrics       ${metrics.map((m) => m.trim()).join(', ')}`);
  if (view.answered_at !== null && stack.pair !== undefined) {
    const recording = await stack.pair.carrier.waitForRecording(phoneNumber.replace(/^\+/, ''), 8000).catch(() => undefined); // absent: say so below
    out(`  recording     ${recording === undefined ? '(the carrier has not finished its recording)' : `what the phone received: ${recording.rxWavPath}`}`);
  }
  out(`  gateway log   ${rel(logFile)} ${style.dim('(JSON lines; the per-call "bridge metrics" line every 10 s)')}`);
}

/** `auth`: '' or ` -H "Authorization: Bearer $API_TOKEN"` for the curl lines. */
function printKeepHelp(baseUrl: string, auth: string, pair: AsteriskPair, callId: string): void {
  out();
  out(style.bold('--keep: the stack stays up until Ctrl+C. Try:'));
  for (const line of [
    `curl${auth} -X POST ${baseUrl}/api/calls/start -H 'Content-Type: application/json' -d '{"phone_number": "+${pair.numbers.answer()}"}'`,
    `curl${auth} -X POST ${baseUrl}/api/calls -H 'Content-Type: application/json' -d '{"phone_number": "+${pair.numbers.answer()}", "first_message": "Hi, it is Ada again."}'`,
    `curl${auth} ${baseUrl}/api/calls/${callId}`,
    `curl${auth} '${baseUrl}/api/calls?limit=5'`,
    `curl${auth} -X DELETE ${baseUrl}/api/calls/<id>`,
    `curl${auth} -N ${baseUrl}/api/events`,
    `curl ${baseUrl}/health`,
    `curl -s ${baseUrl}/metrics | grep ^voice_gateway_`,
    `npm run asterisk -- cli "core show channels" --name ${pair.pbx.name}`,
  ]) {
    out(`  ${line}`);
  }
  out(`  API docs: ${baseUrl}/docs`);
  out(style.dim('  numbers: +486… busy, +999… no answer, +2225… hangs up after 5 s, other numbers answer (1 kHz for 60 s)'));
  out(style.dim('  events of every call are printed below as they happen'));
  out();
}

/**
 * stopAsteriskPair, tolerating one known race: a process that exits while /proc/<pid>/stat is
 * being read makes the read fail with ESRCH (scripts/lib/process-by-pid.ts handles only ENOENT).
 * Then the stop did its job if both pids are gone.
 */
async function stopPair(pair: AsteriskPair): Promise<void> {
  try {
    await stopAsteriskPair(pair);
  } catch (err) {
    const isExitRace = err instanceof Error && err.message.includes('ESRCH');
    if (!isExitRace || (await isRunning(pair.pbx.pid)) || (await isRunning(pair.carrier.instance.pid))) throw err;
  }
}

/** Processes of the stack still alive after cleanup ("gateway pid 42"). */
async function leftovers(stack: Stack): Promise<string[]> {
  const pids: [string, number | undefined][] = [
    ['gateway', stack.gateway?.pid],
    [`asterisk ${stack.pair?.pbx.name ?? ''}`, stack.pair?.pbx.pid],
    [`asterisk ${stack.pair?.carrier.instance.name ?? ''}`, stack.pair?.carrier.instance.pid],
  ];
  const left: string[] = [];
  for (const [name, pid] of pids) if (pid !== undefined && (await isRunning(pid))) left.push(`${name} pid ${pid}`);
  return left;
}

function pidsLine(stack: Stack): string {
  const pids = [stack.gateway?.pid, stack.pair?.pbx.pid, stack.pair?.carrier.instance.pid].filter((p) => p !== undefined);
  return pids.length === 0 ? '' : `(pids ${pids.join(', ')} are gone)`;
}

function label(name: string): string {
  return name === '' ? ' '.repeat(12) : `${style.cyan(name)}${' '.repeat(Math.max(1, 12 - name.length))}`;
}

function secondsSince(startMs: number): string {
  return `${((Date.now() - startMs) / 1000).toFixed(1)} s`;
}

function delayMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

if (isDemoWorker()) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  runAsWorker(__filename);
}
