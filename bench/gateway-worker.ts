/**
 * Benchmark child: the measured gateway process. N calls on the gateway's real media path
 * (RtpMediaSession over a shared ResamplerPool) each wired to a real agent socket (AgentClient via
 * createAgentConnector, as src/app.ts does) on the simulator child, with Asterisk's side played by
 * the rtp-peer child. Nothing else runs here, so process CPU and memory are the gateway's.
 *
 *   rtp-peer ──RTP 20 ms──► RtpMediaSession ──user_audio_chunk──► AgentClient ──ws──► sim-child
 *   rtp-peer ◄──paced RTP── RtpMediaSession ◄──pushAgentAudio──── AgentClient ◄──bursty audio──
 */
import pino from 'pino';
import { ResamplerPool } from '../src/audio/resampler';
import { createAgentConnector } from '../src/agent/agent-session';
import { RtpMediaSession } from '../src/call/media-session';
import type { AgentSession } from '../src/call/ports';
import { failChild, onParentMessage, readSpec, sendToParent } from './lib/child';
import { GatewayMeasure, memorySnapshot } from './lib/gateway-measure';
import { warmPool } from './lib/warm-pool';
import { simAgentId, type GatewaySpec } from './lib/protocol';

const spec = readSpec<GatewaySpec>();
/** Agent sockets opened at once while setting up (the simulator's handshake is cheap). */
const CONNECT_BATCH = 10;

async function main(): Promise<void> {
  const log = pino({ level: 'warn' }, pino.destination(2));
  const measure = new GatewayMeasure(); // its recorders are preallocated: before the baseline
  const base = memorySnapshot();
  const pool = new ResamplerPool({ maxIdle: spec.calls * 2 });
  const warmStartMs = performance.now();
  await warmPool(pool, spec);
  const poolWarmMs = performance.now() - warmStartMs;
  const poolWarm = memorySnapshot();

  measure.probe.install();
  const connect = createAgentConnector(
    { elevenLabsApiUrl: spec.simUrl, elevenLabsApiKey: undefined, elevenLabsAgentId: simAgentId(spec.agentFormat), agentConnectTimeoutMs: 15_000 },
    log,
  );
  const agents: AgentSession[] = [];
  for (let i = 0; i < spec.calls; i += CONNECT_BATCH) {
    const batch = Math.min(CONNECT_BATCH, spec.calls - i);
    agents.push(...(await Promise.all(Array.from({ length: batch }, () => connect({}, new AbortController().signal)))));
  }

  let isClosing = false;
  let unexpectedAgentCloses = 0;
  const config = {
    externalMediaHost: '127.0.0.1',
    externalMediaAdvertiseHost: '127.0.0.1',
    externalMediaFormat: spec.format,
    rtpPortMin: spec.rtpPortMin,
    rtpPortMax: spec.rtpPortMax,
    audioChunkSizeMs: 20,
    resamplerConverter: spec.converter,
  };
  const sessions: RtpMediaSession[] = [];
  for (const agent of agents) {
    const media = await RtpMediaSession.open(
      { config, pool, log, clock: measure.probe.clock },
      { agentInputFormat: agent.inputFormat, agentOutputFormat: agent.outputFormat, onCallerAudio: (bytes) => agent.sendAudio(bytes) },
    );
    sessions.push(media);
    const outputFormat = agent.outputFormat;
    agent.setHandlers({
      onAudio: (bytes) => {
        measure.probe.notePushedAudio(bytes.length, outputFormat);
        media.pushAgentAudio(bytes);
      },
      onInterruption: () => media.flushPlayout(),
      onTranscript: () => undefined,
      onEndCallRequested: () => undefined,
      onToolCall: () => undefined,
      onClose: () => {
        if (!isClosing) unexpectedAgentCloses++;
      },
    });
  }

  const close = (): void => {
    if (isClosing) return;
    isClosing = true;
    measure.probe.uninstall();
    Promise.all([...sessions.map((s) => s.close()), ...agents.map((a) => a.close())])
      .then(() => {
        pool.close();
        sendToParent({ type: 'closed' });
        process.disconnect?.();
      })
      .catch(failChild);
  };
  onParentMessage((m) => {
    if (m.type === 'start') {
      m.remotes.forEach((remote, i) => sessions[i]?.start(remote));
      sendToParent({ type: 'started' });
    } else if (m.type === 'measure-start') {
      measure.start(sessions);
      sendToParent({ type: 'measuring' });
    } else if (m.type === 'measure-stop') {
      const result = measure.stop(sessions, { base, poolWarm, pool, poolWarmMs, unexpectedAgentCloses });
      sendToParent({ type: 'gateway-result', result });
    } else if (m.type === 'close') close();
  }, close);
  sendToParent({ type: 'ready', ports: sessions.map((s) => Number(s.localAddress.split(':').pop())), pid: process.pid });
}

main().catch(failChild);
