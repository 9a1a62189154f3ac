/**
 * Benchmark child: the ElevenLabs simulator (test/fakes) in its own process, so its CPU is not
 * counted as the gateway's. One agent per audio format (`bench-<format>`), each one talking
 * continuously as the real service does: utterances of `utteranceMs`, sent `speedFactor` × faster
 * than real time in 110 ms chunks, started on a drift-free schedule once the caller's audio flows.
 * The carrier's steady tone must not count as speech (it would barge in on every utterance), so the
 * VAD threshold is out of reach.
 */
import { ElevenLabsSimulator, type SimConversation } from '../test/fakes/elevenlabs-simulator';
import { failChild, LoadMeter, onParentMessage, readSpec, sendToParent } from './lib/child';
import { simAgentId, type SimSpec } from './lib/protocol';

const spec = readSpec<SimSpec>();
/** Recorded frames are trimmed to this many per conversation (the simulator keeps every frame). */
const MAX_KEPT_FRAMES = 200;

async function main(): Promise<void> {
  const sim = await ElevenLabsSimulator.start({ host: '127.0.0.1', port: 0 });
  for (const format of spec.formats) {
    sim.agent(simAgentId(format), {
      requiresAuth: false,
      inputFormat: format,
      outputFormat: format,
      firstMessage: '',
      turnTimeoutMs: -1,
      vad: { speechThreshold: 1_000_000_000 },
      speedFactor: spec.speedFactor,
      inputTimeoutMs: 120_000,
    });
  }
  const timers = new Set<NodeJS.Timeout>();
  let isClosing = false;
  sim.on('conversation', (conv) => talk(conv, timers, () => isClosing));
  const trim = setInterval(() => {
    for (const c of sim.conversations) if (c.frames.length > MAX_KEPT_FRAMES) c.frames.splice(0, c.frames.length - MAX_KEPT_FRAMES);
  }, 1000);

  const meter = new LoadMeter();
  let chunksAtStart = 0;
  const chunksOut = (): number => sim.conversations.reduce((n, c) => n + c.counters.audioChunksOut, 0);
  const close = (): void => {
    if (isClosing) return;
    isClosing = true;
    clearInterval(trim);
    for (const t of timers) clearTimeout(t);
    timers.clear();
    sim.close().then(
      () => {
        sendToParent({ type: 'closed' });
        process.disconnect?.();
      },
      (err: unknown) => failChild(err),
    );
  };
  onParentMessage((m) => {
    if (m.type === 'measure-start') {
      meter.start();
      chunksAtStart = chunksOut();
    } else if (m.type === 'measure-stop') {
      const load = meter.stop();
      sendToParent({ type: 'sim-result', result: { load, conversations: sim.activeConversations.length, audioChunksOut: chunksOut() - chunksAtStart } });
    } else if (m.type === 'close') close();
  }, close);
  sendToParent({ type: 'ready', apiUrl: sim.apiUrl, pid: process.pid });
}

/**
 * Speak `utteranceMs` every `utteranceMs` from the first caller audio on, on a schedule that does
 * not drift. Each conversation gets a random phase, so the calls' bursts are not all aligned; the
 * first utterance covers the phase plus half a period, so the playout queue never runs dry.
 */
function talk(conv: SimConversation, timers: Set<NodeJS.Timeout>, isClosing: () => boolean): void {
  const onFrame = (f: { dir: string; type: string }): void => {
    if (f.dir !== 'in' || f.type !== 'user_audio_chunk') return;
    conv.off('frame', onFrame);
    const phaseMs = Math.round(Math.random() * spec.utteranceMs);
    const firstAtMs = performance.now() + phaseMs;
    let n = 0;
    const next = (): void => {
      if (isClosing() || conv.closeInfo !== undefined) return;
      if (n > 0) conv.sayAgent({ freqHz: 440, durationMs: spec.utteranceMs, text: 'benchmark speech' }).catch(() => undefined);
      n++;
      const t = setTimeout(() => {
        timers.delete(t);
        next();
      }, firstAtMs + (n - 1) * spec.utteranceMs - performance.now());
      timers.add(t);
    };
    conv.sayAgent({ freqHz: 440, durationMs: spec.utteranceMs / 2 + phaseMs, text: 'lead' }).catch(() => undefined);
    next();
  };
  conv.on('frame', onFrame);
}

main().catch(failChild);
