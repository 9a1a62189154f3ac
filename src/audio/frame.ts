/** Telephony frame length. Every RTP packet we send carries exactly this much audio. */
export const FRAME_MS = 20;

/** ExternalMedia RTP formats that work in both directions (slin16 is one-way: docs/asterisk.md#slin16-is-one-way). */
export type ExternalMediaFormat = 'slin' | 'alaw' | 'ulaw';
/** Asterisk's side of ExternalMedia is always 8 kHz for the formats above. */
export const TELEPHONY_RATE_HZ = 8000;
export const SAMPLES_PER_FRAME_8K = (TELEPHONY_RATE_HZ * FRAME_MS) / 1000; // 160

/** Audio formats an ElevenLabs agent can be configured with, per direction. */
export const AGENT_AUDIO_FORMATS = [
  'pcm_8000',
  'pcm_16000',
  'pcm_22050',
  'pcm_24000',
  'pcm_44100',
  'pcm_48000',
  'ulaw_8000',
] as const;
export type AgentAudioFormat = (typeof AGENT_AUDIO_FORMATS)[number];

export interface AgentAudioFormatInfo {
  readonly encoding: 'pcm' | 'ulaw';
  readonly sampleRateHz: number;
}

export function parseAgentAudioFormat(format: string): AgentAudioFormatInfo | undefined {
  if (!(AGENT_AUDIO_FORMATS as readonly string[]).includes(format)) return undefined;
  const [encoding, rate] = format.split('_') as ['pcm' | 'ulaw', string];
  return { encoding, sampleRateHz: Number(rate) };
}
