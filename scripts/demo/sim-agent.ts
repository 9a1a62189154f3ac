/**
 * The demo's stand-in for ElevenLabs: the project's simulator (test/fakes) with one private agent
 * that greets, answers each caller turn its energy VAD detects, and ends the call with a goodbye
 * after a few turns. Its "speech" is tones (the text is in the transcript); the caller's turns get
 * scripted transcripts, since a tone has no words.
 */
import { ElevenLabsSimulator } from '../../test/fakes/elevenlabs-simulator';

export const DEMO_AGENT_ID = 'demo-agent';
/** Agent audio format both ways; pcm_16000 is the ElevenLabs default and makes the gateway resample 8k ⇄ 16k. */
export const DEMO_AGENT_FORMAT = 'pcm_16000';

/** What the caller "says" in each turn, in order (the simulator cannot transcribe a tone). */
export const DEMO_CALLER_LINES = [
  "Hi, I'm calling about my order.",
  "It's A-1042.",
  'Tomorrow morning is fine.',
  "No, that's all. Thanks!",
] as const;

/** The agent's answer to caller turn i; the last turn is answered with the goodbye. */
const AGENT_REPLIES = [
  'Of course. What is the order number?',
  'Thanks. Order A-1042 is packed and can be delivered tomorrow between 9 and 12. Does that work for you?',
  'Great, I have booked it. Is there anything else I can help with?',
] as const;

/** Start the simulator on 127.0.0.1 (ephemeral port) with the demo agent. The caller must `close()` it. */
export async function startDemoSimulator(): Promise<ElevenLabsSimulator> {
  const sim = await ElevenLabsSimulator.start();
  sim.agent(DEMO_AGENT_ID, {
    requiresAuth: true, // a private agent: the gateway fetches a signed URL with xi-api-key first
    inputFormat: DEMO_AGENT_FORMAT,
    outputFormat: DEMO_AGENT_FORMAT,
    firstMessage: 'Hello! This is Ada from Acme deliveries, a simulated agent. How can I help you today?',
    greeting: { freqHz: 440, durationMs: 2500 },
    userTranscripts: [...DEMO_CALLER_LINES],
    reply: (turn) => ({ text: AGENT_REPLIES[turn.index] ?? 'Sorry, could you repeat that?', durationMs: 2000 }),
    replyFreqsHz: [660, 550, 770],
    goodbye: { text: 'Thank you for calling Acme. Goodbye!', freqHz: 880, durationMs: 1500 },
    endCallAfterUserTurns: DEMO_CALLER_LINES.length,
    // Overrides a user may try with POST /api/calls in --keep mode; anything else closes 1008 as on the real service.
    allowedOverrides: ['agent.first_message', 'agent.prompt.prompt', 'agent.language'],
    turnTimeoutMs: 10_000,
  });
  return sim;
}
