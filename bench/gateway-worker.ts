/**
 * Benchmark child: the measured gateway process. N calls on the gateway's real media path: the
 * conversation links src/app.ts opens (LocalLink: RtpMediaSession over a shared ResamplerPool and
 * a real AgentClient) on the simulator child, with Asterisk's side played by the rtp-peer child.
 * Nothing else runs here, so process CPU and memory are the gateway's.
 *
 *   rtp-peer ──RTP 20 ms──► RtpMediaSession ──user_audio_chunk──► AgentClient ──ws──► sim-child
 *   rtp-peer ◄──paced RTP── RtpMediaSession ◄──pushAgentAudio──── AgentClient ◄──bursty audio──
 */
import pino from 'pino';
import { ResamplerPool } from '../src/audio/resampler';
import type { RtpMediaSession } from '../src/media/media-session';
import { createLocalLinkOpener } from '../src/media/local-link';
import { MediaClock } from '../src/media/media-clock';
import type { ConversationLink } from '../src/media/conversation-link';
import { failChild, onParentMessage, readSpec, sendToParent } from './lib/child';
import { GatewayMeasure, memorySnapshot } from './lib/gateway-measure';
import { warmPool } from './lib/warm-pool';
import { openWorkerLinks } from './gateway-threads';
import { simAgentId, type GatewaySpec } from './lib/protocol';
import { handlersWith } from '../test/helpers/link-opener';

const spec = readSpec<GatewaySpec>();

/** process.hrtime in µs: the clock a `--cpu-prof` profile's samples are stamped with. */
function hrUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
/** Agent sockets opened at once while setting up (the simulator's handshake is cheap). */
const CONNECT_BATCH = 10;

async function main(): Promise<void> {
  const log = pino({ level: 'warn' }, pino.destination(2));
  const measure = new GatewayMeasure(); // its recorders are preallocated: before the baseline
  const base = memorySnapshot();
  const pool = new ResamplerPool({ maxIdle: spec.calls * 2 });
  const mediaClock = new MediaClock({ clock: measure.probe.clock });
  const warmStartMs = performance.now();
  await warmPool(pool, spec);
  const poolWarmMs = performance.now() - warmStartMs;
  const poolWarm = memorySnapshot();

  measure.probe.install();
  let isClosing = false;
  let unexpectedAgentCloses = 0;
  let windowStartUs = 0;
  const config = {
    externalMediaHost: '127.0.0.1',
    externalMediaAdvertiseHost: '127.0.0.1',
    externalMediaFormat: spec.format,
    rtpPortMin: spec.rtpPortMin,
    rtpPortMax: spec.rtpPortMax,
    audioChunkSizeMs: spec.chunkMs ?? 20,
    resamplerConverter: spec.converter,
  };
  const sessions: RtpMediaSession[] = [];
  const open = createLocalLinkOpener({
    agent: { apiUrl: spec.simUrl, apiKey: undefined, defaultAgentId: simAgentId(spec.agentFormat), connectTimeoutMs: 15_000 },
    media: { config, pool, mediaClock, log, clock: measure.probe.clock },
    log,
    onOpened: ({ client, media }) => {
      sessions.push(media);
      client.on('audio', (e) => measure.probe.notePushedAudio(e.byteLength, client.outputFormat));
    },
  });
  const links: ConversationLink[] = [];
  for (let i = 0; i < spec.calls; i += CONNECT_BATCH) {
    const batch = Math.min(CONNECT_BATCH, spec.calls - i);
    links.push(...(await Promise.all(Array.from({ length: batch }, (_, k) => open(`bench-${i + k}`, {}, new AbortController().signal)))));
  }
  for (const link of links) link.setHandlers(handlersWith({
    // Only the agent socket closing matters here: an unexpected close spoils the run.
    onAgentClosed: () => {
      if (!isClosing) unexpectedAgentCloses++;
    },
  }));

  const close = (): void => {
    if (isClosing) return;
    isClosing = true;
    measure.probe.uninstall();
    Promise.all(links.map((l) => l.close()))
      .then(() => {
        pool.close();
        sendToParent({ type: 'closed' });
        process.disconnect?.();
      })
      .catch(failChild);
  };
  onParentMessage((m) => {
    if (m.type === 'start') {
      m.remotes.forEach((remote, i) => links[i]?.start(remote));
      sendToParent({ type: 'started' });
    } else if (m.type === 'measure-start') {
      windowStartUs = hrUs();
      measure.start(sessions);
      sendToParent({ type: 'measuring' });
    } else if (m.type === 'measure-stop') {
      const windowUs = { startUs: windowStartUs, endUs: hrUs() };
      const result = measure.stop(sessions, { base, poolWarm, pool, poolWarmMs, unexpectedAgentCloses });
      sendToParent({ type: 'gateway-result', result: { ...result, windowUs } });
    } else if (m.type === 'close') close();
  }, close);
  sendToParent({ type: 'ready', ports: links.map((l) => Number(l.localRtpAddress.split(':').pop())), pid: process.pid });
}

/** MEDIA_WORKERS mode: the links in worker threads (bench/gateway-threads.ts). */
async function mainThreads(mediaWorkers: number): Promise<void> {
  const log = pino({ level: 'warn' }, pino.destination(2));
  const base = memorySnapshot();
  const media = {
    externalMediaHost: '127.0.0.1',
    externalMediaAdvertiseHost: '127.0.0.1',
    externalMediaFormat: spec.format,
    rtpPortMin: spec.rtpPortMin,
    rtpPortMax: spec.rtpPortMax,
    audioChunkSizeMs: spec.chunkMs ?? 20,
    resamplerConverter: spec.converter,
  };
  let isClosing = false;
  let unexpectedAgentCloses = 0;
  let windowStartUs = 0;
  const run = await openWorkerLinks({ ...spec, mediaWorkers }, media, log);
  const poolWarm = memorySnapshot();
  for (const link of run.links) link.setHandlers(handlersWith({
    // Only the agent socket closing matters here: an unexpected close spoils the run.
    onAgentClosed: () => {
      if (!isClosing) unexpectedAgentCloses++;
    },
  }));
  const close = (): void => {
    if (isClosing) return;
    isClosing = true;
    run
      .close()
      .then(() => {
        sendToParent({ type: 'closed' });
        process.disconnect?.();
      })
      .catch(failChild);
  };
  onParentMessage((m) => {
    if (m.type === 'start') {
      m.remotes.forEach((remote, i) => run.links[i]?.start(remote));
      sendToParent({ type: 'started' });
    } else if (m.type === 'measure-start') {
      windowStartUs = hrUs();
      run.start();
      sendToParent({ type: 'measuring' });
    } else if (m.type === 'measure-stop') {
      const windowUs = { startUs: windowStartUs, endUs: hrUs() };
      sendToParent({ type: 'gateway-result', result: { ...run.stop({ base, poolWarm, unexpectedAgentCloses }), windowUs } });
    } else if (m.type === 'close') close();
  }, close);
  run.announce();
}

(spec.mediaWorkers > 0 ? mainThreads(spec.mediaWorkers) : main()).catch(failChild);
