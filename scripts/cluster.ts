/**
 * `npm run cluster` (or `npm run demo -- --nodes 2`): a local cluster in one command (docs/cluster.md).
 *
 *   1. PostgreSQL (Debian's binaries, initdb into a temporary folder), the carrier stand-in, and
 *      Kamailio (Debian's package) as the SIP edge, registered at the carrier;
 *   2. N nodes (default 2): our Asterisk with SIP_EDGE_HOST plus a gateway (src/index.ts with
 *      DATABASE_URL) each, all talking to the ElevenLabs simulator;
 *   3. calls placed through node 1's API only (POST /api/calls/start), and where each one went,
 *      read back from node 2 (GET /api/calls) and seen on node 1's event stream; then calls from
 *      the carrier, which Kamailio spreads;
 *   4. everything stopped again by pid (also on Ctrl+C), and the figures printed.
 *
 * Port base 15000 (CLUSTER_PORT_BASE moves it): clear of the demo (14000), the docker test (17000),
 * the cluster test (21000) and the integration tests (25000-28000).
 */
import path from 'node:path';
import type { SequencedCallEvent } from '../src/events/call-events';
import type { CallListPage } from '../src/model/call-record';
import type { CallView } from '../src/model/call-view';
import { ClusterBed } from '../test/cluster/fixtures/cluster-bed';
import type { ElevenLabsSimulator } from '../test/fakes/elevenlabs-simulator';
import { pollUntil } from './lib/poll';
import { isRunning } from './lib/process-by-pid';
import { openEventStream, type EventStream } from './demo/sse-client';
import { DEMO_AGENT_ID, startDemoSimulator } from './demo/sim-agent';

const REPO = path.resolve(__dirname, '..');
const LOG_DIR = path.join(REPO, '.tmp', 'cluster');
const USAGE = `usage: npm run cluster -- [--nodes N] [--calls N] [--inbound N] [--keep]

  --nodes N     nodes behind Kamailio (1-3, default 2)
  --calls N     calls placed through node 1's API (default 6)
  --inbound N   calls from the carrier, spread by Kamailio (default 4)
  --keep        leave the cluster running after the calls, with curl examples, until Ctrl+C`;

interface Options {
  nodes: number;
  calls: number;
  inbound: number;
  isKeep: boolean;
}

function parseArgs(argv: readonly string[]): Options | string {
  const o: Options = { nodes: 2, calls: 6, inbound: 4, isKeep: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const int = (min: number, max: number): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${arg} must be a whole number ${min}..${max}`);
      return v;
    };
    try {
      if (arg === '--nodes') o.nodes = int(1, 3);
      else if (arg === '--calls') o.calls = int(0, 20);
      else if (arg === '--inbound') o.inbound = int(0, 20);
      else if (arg === '--keep') o.isKeep = true;
      else if (arg === '--help' || arg === '-h') return USAGE;
      else return `unknown option ${arg}\n${USAGE}`;
    } catch (err) {
      return `${(err as Error).message}\n${USAGE}`;
    }
  }
  return o;
}

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const ms = (from: number): string => `${((Date.now() - from) / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    out(parsed);
    return parsed === USAGE ? 0 : 2;
  }
  let stop!: () => void;
  const stopRequested = new Promise<void>((resolve) => (stop = resolve));
  let isStopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (!isStopping) out(`\n${sig}: stopping the cluster`);
      isStopping = true;
      stop();
    });
  }
  let sim: ElevenLabsSimulator | undefined;
  let bed: ClusterBed | undefined;
  let stream: EventStream | undefined;
  let code = 0;
  try {
    sim = await startDemoSimulator();
    bed = new ClusterBed({
      base: Number(process.env['CLUSTER_PORT_BASE'] || 15_000),
      nodes: parsed.nodes,
      sim,
      agentId: DEMO_AGENT_ID,
      logDir: LOG_DIR,
      log: (line) => out(`  ${line}`),
      gatewayEnv: { LOG_LEVEL: 'info', SHUTDOWN_GRACE_S: '0' },
    });
    out(`Starting PostgreSQL, the carrier stand-in, Kamailio and ${parsed.nodes} node(s) (the first run ever provisions Asterisk: about a minute)`);
    const startedAt = Date.now();
    // Ctrl+C during the start takes effect once it is done: stopping half-started processes races them.
    await bed.start();
    if (isStopping) return 0;
    out(`Cluster up in ${ms(startedAt)}: Kamailio 127.0.0.1:${bed.kamailioPort} registered at the carrier, every node in rotation`);
    for (const node of bed.nodes) out(`  ${node.nodeId}: API ${node.apiUrl}, Asterisk SIP ${node.sipAddress}:${node.port(61)}, probe :${node.port(71)}`);
    out(`  logs: ${path.relative(process.cwd(), LOG_DIR)}/`);

    const [first, last] = [bed.nodes[0]!, bed.nodes[bed.nodes.length - 1]!];
    const events: SequencedCallEvent[] = [];
    stream = openEventStream({ url: `${first.apiUrl}/api/events`, token: undefined, onEvent: (e) => events.push(e), onEnd: () => undefined });
    await stream.opened;

    out();
    out(`${parsed.calls} calls through ${first.nodeId}'s API (POST ${first.apiUrl}/api/calls/start):`);
    const placed: { view: CallView; ms: number }[] = [];
    for (let i = 0; i < parsed.calls && !isStopping; i++) {
      const t0 = performance.now();
      const res = await bed.api<CallView>(first, 'POST', '/api/calls/start', { phone_number: `+${bed.numbers.answer()}` });
      const took = performance.now() - t0;
      if (res.status !== 201) throw new Error(`POST answered ${res.status} ${JSON.stringify(res.body)}`);
      placed.push({ view: res.body, ms: took });
      out(`  call ${res.body.id.slice(0, 8)} → carried by ${res.body.node_id} (201 in ${took.toFixed(0)} ms${res.body.node_id === first.nodeId ? '' : ', handed over'})`);
    }
    for (const { view } of placed) await bed.waitStatus(last, view.id, ['answered', 'failed', 'completed']);

    const inbound: CallView[] = [];
    if (parsed.inbound > 0 && !isStopping) out(`${parsed.inbound} calls from the carrier (Kamailio picks the node):`);
    for (let i = 0; i < parsed.inbound && !isStopping; i++) {
      const number = bed.numbers.answer();
      await bed.carrier!.callCustomer(number);
      const view = await pollUntil<CallView>(
        async () => {
          const page = (await bed!.api<CallListPage>(first, 'GET', '/api/calls?limit=50')).body;
          const found = page.calls.find((c) => c.direction === 'inbound' && c.dialed_number === number);
          return found === undefined ? { done: false } : { done: true, value: found };
        },
        { timeoutMs: 15_000, intervalMs: 100, what: `the carrier's call to ${number}` },
      );
      inbound.push(view);
      out(`  call to ${number} → answered by ${view.node_id}`);
    }

    const list = (await bed.api<CallListPage>(last, 'GET', '/api/calls?limit=100')).body.calls;
    const ids = new Set([...placed.map((p) => p.view.id), ...inbound.map((v) => v.id)]);
    out();
    out(`GET ${last.apiUrl}/api/calls (${last.nodeId}) sees all ${[...ids].filter((id) => list.some((c) => c.id === id)).length} of ${ids.size} calls:`);
    for (const node of bed.nodes) {
      const mine = list.filter((c) => ids.has(c.id) && c.node_id === node.nodeId);
      out(`  ${node.nodeId}: ${mine.length} calls (${mine.filter((c) => c.direction === 'outbound').length} out, ${mine.filter((c) => c.direction === 'inbound').length} in)`);
    }
    const seen = new Set(events.filter((e) => e.type === 'dialing').map((e) => e.call_id));
    out(`${first.nodeId}'s event stream saw ${[...ids].filter((id) => seen.has(id)).length} of ${ids.size} calls start`);
    const local = placed.filter((p) => p.view.node_id === first.nodeId).map((p) => p.ms);
    const remote = placed.filter((p) => p.view.node_id !== first.nodeId).map((p) => p.ms);
    const median = (xs: number[]): string => (xs.length === 0 ? '–' : `${[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]?.toFixed(0)} ms`);
    out(`POST /api/calls/start to 201: placed here ${median(local)} median, handed over ${median(remote)} median`);

    if (parsed.isKeep && !isStopping) {
      out();
      out('Running until Ctrl+C. Try:');
      out(`  curl -X POST ${first.apiUrl}/api/calls/start -H 'Content-Type: application/json' -d '{"phone_number": "+${bed.numbers.answer()}"}'`);
      out(`  curl ${last.apiUrl}/api/calls`);
      out(`  curl -N ${first.apiUrl}/api/events`);
      out(`  kamcmd -s unix:${bed.kamailio!.dir}/run/kamailio_ctl dispatcher.list`);
      await stopRequested;
    }
    out();
    out('Hanging up every call through the last node');
    for (const id of ids) await bed.api(last, 'DELETE', `/api/calls/${id}`).catch(() => undefined); // a call already ended is fine
  } catch (err) {
    if (!isStopping) {
      out(`cluster failed: ${err instanceof Error ? err.message : String(err)}`);
      code = 1;
    }
  } finally {
    stream?.close();
    out('Stopping what was started (by pid)');
    const stoppedAt = Date.now();
    const pids = [bed?.postgres?.pid, bed?.kamailio?.pid, bed?.carrier?.instance.pid, ...(bed?.nodes ?? []).flatMap((n) => [n.asterisk?.pid, n.gateway?.pid])].filter(
      (pid): pid is number => pid !== undefined,
    );
    try {
      await bed?.stop();
      await sim?.close();
      const left: number[] = [];
      for (const pid of pids) if (await isRunning(pid)) left.push(pid);
      if (left.length > 0) {
        out(`  still running: pids ${left.join(', ')}`);
        code = 1;
      } else {
        out(`  stopped in ${ms(stoppedAt)}; pids ${pids.join(', ')} are gone`);
      }
    } catch (err) {
      out(`  stopping failed: ${String(err)}`);
      code = 1;
    }
  }
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
