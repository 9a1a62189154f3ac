/**
 * Benchmark child: the whole gateway (App: REST, ARI, Call, media) against the real Asterisk pair,
 * with the simulator in another child. Calls are placed through `POST /api/calls/start`; the carrier
 * stand-in answers, plays 1 kHz and records what it receives. In-process (mediaWorkers 0) the
 * conversation links are the real LocalLink, opened by an injected opener (AppDeps.openLink) that
 * only adds the timing clock and records which media sessions exist; with media workers the App
 * opens its own (MEDIA_WORKERS), and the figures are the whole process's and the carrier's.
 */
import pino from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { App } from '../src/app';
import { ResamplerPool } from '../src/audio/resampler';
import type { RtpMediaSession } from '../src/media/media-session';
import { createLocalLinkOpener } from '../src/media/local-link';
import { MediaClock } from '../src/media/media-clock';
import { loadConfig } from '../src/config';
import { failChild, onParentMessage, readSpec, sendToParent } from './lib/child';
import { GatewayMeasure, memorySnapshot } from './lib/gateway-measure';
import { simAgentId, type AsteriskWorkerSpec } from './lib/protocol';
import { warmPool } from './lib/warm-pool';

const spec = readSpec<AsteriskWorkerSpec>();
const SETUP_TIMEOUT_MS = 60_000;

interface CallStatusView {
  id: string;
  status: string;
  metrics?: { ai_to_caller?: { packets?: number } };
}

async function main(): Promise<void> {
  const log = pino({ level: 'warn' }, pino.destination(2));
  const calls = spec.numbers.length;
  const measure = new GatewayMeasure(); // its recorders are preallocated: before the baseline
  const pool = new ResamplerPool({ maxIdle: calls * 2 });
  const mediaClock = new MediaClock({ clock: measure.probe.clock });

  const config = loadConfig({
    ...spec.appEnv,
    ELEVENLABS_API_URL: spec.simUrl,
    ELEVENLABS_AGENT_ID: simAgentId(spec.agentFormat),
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    EXTERNAL_MEDIA_HOST: '127.0.0.1',
    EXTERNAL_MEDIA_FORMAT: spec.format,
    RTP_PORT_MIN: String(spec.rtpPortMin),
    RTP_PORT_MAX: String(spec.rtpPortMax),
    RESAMPLER_CONVERTER: spec.converter,
    RING_TIMEOUT_S: '10',
    CALL_DB_PATH: ':memory:',
    SHUTDOWN_GRACE_S: '0',
    LOG_LEVEL: 'warn',
    MEDIA_WORKERS: String(spec.mediaWorkers),
  });
  const isInProcess = spec.mediaWorkers === 0;
  const sessions: RtpMediaSession[] = [];
  const openLink = createLocalLinkOpener({
    agent: { apiUrl: config.elevenLabsApiUrl, apiKey: undefined, defaultAgentId: config.elevenLabsAgentId, connectTimeoutMs: config.agentConnectTimeoutMs },
    media: { config, pool, mediaClock, log, clock: measure.probe.clock },
    log,
    onOpened: ({ client, media }) => {
      sessions.push(media);
      client.on('audio', (e) => measure.probe.notePushedAudio(e.byteLength, client.outputFormat));
    },
  });
  const app = new App(config, log, isInProcess ? { openLink } : {});
  await app.start();
  const baseUrl = app.server.info.uri;
  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const until = async (what: string, check: () => Promise<boolean> | boolean): Promise<void> => {
    const deadline = Date.now() + SETUP_TIMEOUT_MS;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };

  let base = memorySnapshot();
  let poolWarm = base;
  let poolWarmMs = 0;
  let isClosing = false;
  const callIds: string[] = [];
  const close = (): void => {
    if (isClosing) return;
    isClosing = true;
    (async () => {
      for (const id of callIds) await api('DELETE', `/api/calls/${id}`).catch(() => undefined);
      await until('calls to end', async () => {
        const views = await Promise.all(callIds.map(async (id) => (await api<CallStatusView>('GET', `/api/calls/${id}`)).body));
        return views.every((v) => !['dialing', 'ringing', 'answered'].includes(v.status));
      }).catch((err: unknown) => log.warn({ err }, 'calls did not all end'));
      // Every call hung up at once: how long each teardown took to release what the call had opened.
      const release = histogramOf(await app.metrics.render(), 'voice_gateway_call_release_seconds');
      process.stderr.write(`bench:   hang-up → released (all ${callIds.length} calls hung up at once): mean ${release.meanMs.toFixed(1)} ms, all ≤ ${release.allWithinMs ?? '∞'} ms (${release.count} calls)\n`);
      measure.probe.uninstall();
      await app.stop(0);
      pool.close();
      sendToParent({ type: 'closed' });
      process.disconnect?.();
    })().catch(failChild);
  };
  onParentMessage((m) => {
    if (m.type === 'measure-start') {
      measure.start(sessions);
      sendToParent({ type: 'measuring' });
    } else if (m.type === 'measure-stop') {
      const measured = measure.stop(sessions, { base, poolWarm, pool, poolWarmMs, unexpectedAgentCloses: 0 });
      // With workers no session is on this thread: the calls are the API's (all answered before
      // the window), and the heap figures would be the main thread's only, not the calls'.
      const gateway = isInProcess ? measured : { ...measured, calls: callIds.length, heapAllocatedMb: undefined };
      const p = measure.probe;
      (async () => {
        const answerToFirstCallerFrame = histogramOf(await app.metrics.render(), 'voice_gateway_answer_to_first_caller_frame_seconds');
        sendToParent({
          type: 'asterisk-result',
          result: {
            gateway,
            inboundIntervalMs: p.inboundIntervalMs.summary(),
            inboundDeviationMs: p.inboundDeviationMs.summary(),
            callIds,
            answered: isInProcess ? sessions.length : callIds.length,
            answerToFirstCallerFrame,
          },
        });
      })().catch(failChild);
    } else if (m.type === 'close') close();
  }, close);

  await until('ARI connected', () => app.ari.isConnected);
  // Per-call figures are over the started App (its HTTP server, ARI client), not over an empty process.
  base = memorySnapshot();
  const warmStartMs = performance.now();
  // The workers keep pools of their own; this one serves the in-process links only.
  if (isInProcess) await warmPool(pool, { calls, format: spec.format, agentFormat: spec.agentFormat, converter: spec.converter });
  // With workers, the App's own warm-up (RESAMPLER_WARM_CALLS) runs from its start; wait for it.
  else await app.mediaWorkers?.warmed();
  poolWarmMs = performance.now() - warmStartMs;
  poolWarm = memorySnapshot();
  measure.probe.install();
  for (const number of spec.numbers) {
    const res = await api<CallStatusView>('POST', '/api/calls/start', { phone_number: `+${number}` });
    if (res.status !== 201) throw new Error(`POST /api/calls/start: ${res.status} ${JSON.stringify(res.body)}`);
    callIds.push(res.body.id);
  }
  await until('every call answered with agent audio flowing', async () => {
    const views = await Promise.all(callIds.map(async (id) => (await api<CallStatusView>('GET', `/api/calls/${id}`)).body));
    const failed = views.find((v) => !['dialing', 'ringing', 'answered'].includes(v.status));
    if (failed !== undefined) throw new Error(`call ${failed.id} ended during setup: ${failed.status}`);
    return views.every((v) => v.status === 'answered' && (v.metrics?.ai_to_caller?.packets ?? 0) > 0);
  });
  sendToParent({ type: 'ready', pid: process.pid });
}

/** A histogram of seconds from the metrics text: count, mean, and the smallest bucket holding every observation, in ms. */
function histogramOf(text: string, name: string): { count: number; meanMs: number; allWithinMs: number | undefined } {
  const value = (suffix: string): number => Number(new RegExp(`^${name}_${suffix} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const count = value('count');
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))].map((m) => ({ le: Number(m[1]), n: Number(m[2]) }));
  const within = buckets.find((b) => Number.isFinite(b.le) && b.n === count);
  return { count, meanMs: (value('sum') / count) * 1000, allWithinMs: within === undefined ? undefined : within.le * 1000 };
}

main().catch(failChild);
