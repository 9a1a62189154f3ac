/**
 * Read and write 16-bit PCM RIFF/WAVE files, e.g. Asterisk MixMonitor's `.wav` (8 kHz, 16-bit,
 * mono). Note: Asterisk's `.WAV` (upper case) is GSM, not PCM, and is rejected here.
 */
import { readFile, writeFile } from 'node:fs/promises';

/** Decoded PCM16 audio. `samples` is interleaved when `channels > 1`. */
export interface WavAudio {
  readonly sampleRateHz: number;
  readonly channels: number;
  readonly samples: Int16Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/**
 * Parse a WAV file held in memory. Walks the RIFF chunks (skipping LIST, fact, …, honouring
 * the pad byte after odd-sized chunks). A `data` size larger than the file, as left by a writer
 * that was killed before fixing its header, is clamped to the bytes present.
 */
export function parseWav(buf: Buffer): WavAudio {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let format: { channels: number; sampleRateHz: number; blockAlign: number } | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('latin1', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new Error(`fmt chunk of ${size} bytes is too short`);
      let tag = buf.readUInt16LE(body);
      if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 40) tag = buf.readUInt16LE(body + 24); // SubFormat GUID starts with the tag
      const channels = buf.readUInt16LE(body + 2);
      const sampleRateHz = buf.readUInt32LE(body + 4);
      const blockAlign = buf.readUInt16LE(body + 12);
      const bits = buf.readUInt16LE(body + 14);
      if (tag !== WAVE_FORMAT_PCM || bits !== 16) {
        throw new Error(`unsupported WAV format tag ${tag} with ${bits} bits; only 16-bit PCM is supported`);
      }
      if (channels < 1 || blockAlign !== 2 * channels) throw new Error(`bad WAV channels ${channels} / blockAlign ${blockAlign}`);
      format = { channels, sampleRateHz, blockAlign };
    } else if (id === 'data') {
      if (format === undefined) throw new Error('WAV data chunk before fmt chunk');
      const available = Math.min(size, buf.length - body);
      const bytes = available - (available % format.blockAlign);
      const samples = new Int16Array(bytes / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(body + 2 * i);
      return { sampleRateHz: format.sampleRateHz, channels: format.channels, samples };
    }
    offset = body + size + (size & 1);
  }
  throw new Error('WAV file has no data chunk');
}

/** Encode PCM16 as a canonical 44-byte-header WAV. `channels` defaults to 1. */
export function encodeWav(audio: { sampleRateHz: number; samples: Int16Array; channels?: number }): Buffer {
  const channels = audio.channels ?? 1;
  if (audio.samples.length % channels !== 0) throw new RangeError('sample count is not a multiple of channels');
  const dataBytes = audio.samples.length * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'latin1');
  buf.write('fmt ', 12, 'latin1');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(audio.sampleRateHz, 24);
  buf.writeUInt32LE(audio.sampleRateHz * channels * 2, 28);
  buf.writeUInt16LE(channels * 2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'latin1');
  buf.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < audio.samples.length; i++) buf.writeInt16LE(audio.samples[i] as number, 44 + 2 * i);
  return buf;
}

/** Read and parse a WAV file. */
export async function readWavFile(path: string): Promise<WavAudio> {
  return parseWav(await readFile(path));
}

/** Encode and write a WAV file. */
export async function writeWavFile(path: string, audio: { sampleRateHz: number; samples: Int16Array; channels?: number }): Promise<void> {
  await writeFile(path, encodeWav(audio));
}
