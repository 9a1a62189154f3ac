/**
 * Standalone ElevenLabs simulator for a local demo: `npx tsx test/fakes/run-simulator.ts`.
 * Prints the settings to point the gateway at it, logs each conversation turn, and runs until
 * SIGINT/SIGTERM.
 *
 * Environment: SIM_HOST (127.0.0.1), SIM_PORT (8787), SIM_API_KEY (sim-api-key; '' = public agent),
 * SIM_AGENT_ID (demo-agent), SIM_FORMAT (input and output format, default ulaw_8000),
 * SIM_LOG_LEVEL (info).
 */
import pino from 'pino';
import { AGENT_AUDIO_FORMATS, type AgentAudioFormat } from '../../src/audio/frame';
import { ElevenLabsSimulator, type SimConversation } from './elevenlabs-simulator';

const DEMO_LINES = [
  'Sure, I can help with that. What is your account number?',
  'Thanks. I have found your account.',
  'Is there anything else I can do for you?',
];

function formatFromEnv(value: string | undefined): AgentAudioFormat {
  const v = value ?? 'ulaw_8000';
  if (!(AGENT_AUDIO_FORMATS as readonly string[]).includes(v)) {
    throw new Error(`SIM_FORMAT must be one of ${AGENT_AUDIO_FORMATS.join(', ')}`);
  }
  return v as AgentAudioFormat;
}

function watch(conv: SimConversation, log: pino.Logger): void {
  const clog = log.child({ conversationId: conv.id });
  clog.info({ agentId: conv.agentId }, 'conversation accepted');
  conv.on('started', () => clog.info({ effective: conv.effective }, 'conversation started'));
  conv.on('frame', (f) => {
    if (f.dir === 'out' && f.type === 'agent_response' && typeof f.data === 'object') {
      const ev = f.data.agent_response_event as { agent_response: string; event_id: number };
      clog.info({ eventId: ev.event_id, text: ev.agent_response }, 'agent says');
    }
    if (f.dir === 'out' && f.type === 'interruption') clog.info('caller barged in: interruption sent');
  });
  conv.on('userTurn', (t) => clog.info({ eventId: t.eventId, transcript: t.transcript, speechMs: t.speechMs }, 'caller turn'));
  conv.on('close', (c) => {
    clog.info({ ...c, counters: conv.counters, userAudioMs: Math.round(conv.userAudioMs) }, 'conversation closed');
  });
}

async function main(): Promise<void> {
  const log = pino({
    level: process.env.SIM_LOG_LEVEL ?? 'info',
    transport: process.stdout.isTTY ? { target: 'pino-pretty' } : undefined,
  });
  const format = formatFromEnv(process.env.SIM_FORMAT);
  const agentId = process.env.SIM_AGENT_ID ?? 'demo-agent';
  const apiKey = process.env.SIM_API_KEY ?? 'sim-api-key';
  const sim = await ElevenLabsSimulator.start({
    host: process.env.SIM_HOST ?? '127.0.0.1',
    port: Number(process.env.SIM_PORT ?? 8787),
    apiKey: apiKey === '' ? 'unused' : apiKey,
    log: log.child({ component: 'simulator' }),
  });
  sim.agent(agentId, {
    requiresAuth: apiKey !== '',
    inputFormat: format,
    outputFormat: format,
    firstMessage: 'Hello! This is the simulated agent. How can I help you today?',
    greeting: { freqHz: 440, durationMs: 2000 },
    allowedOverrides: ['agent.first_message', 'agent.prompt.prompt', 'agent.language', 'tts.voice_id'],
    reply: (turn) => ({ text: DEMO_LINES[turn.index % DEMO_LINES.length]!, durationMs: 1200 }),
    turnTimeoutMs: 10_000,
    endCallAfterUserTurns: 4,
    speedFactor: 4,
  });
  sim.on('conversation', (conv) => watch(conv, log));

  process.stdout.write(
    [
      `ElevenLabs simulator listening on ${sim.apiUrl}`,
      `  ELEVENLABS_API_URL=${sim.apiUrl}`,
      `  ELEVENLABS_AGENT_ID=${agentId}`,
      apiKey === '' ? '  ELEVENLABS_API_KEY=   (public agent)' : `  ELEVENLABS_API_KEY=${apiKey}   (simulator key, not a secret)`,
      `  agent audio format: ${format} (both directions)`,
      '',
    ].join('\n'),
  );

  let isStopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (isStopping) return;
    isStopping = true;
    log.info({ signal }, 'stopping simulator');
    sim.close().then(
      () => log.flush(() => process.exit(0)),
      (err: unknown) => {
        log.error({ err }, 'simulator close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator failed to start: ${String(err)}\n`);
  process.exit(1);
});
