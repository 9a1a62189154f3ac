/**
 * A ResamplerPool as it looks after some traffic: engines for every call already created and their
 * (per-instance, wasm2js) code run hot, so the measured calls pay neither creation nor warm-up.
 */
import { TELEPHONY_RATE_HZ, parseAgentAudioFormat, type AgentAudioFormat, type ExternalMediaFormat } from '../../src/audio/frame';
import type { Resampler, ResamplerPool } from '../../src/audio/resampler';
import type { ConverterName } from '../../src/config';

/** Frames run through every pooled engine before the calls. */
const WARM_FRAMES = 100;

export async function warmPool(
  pool: ResamplerPool,
  o: { calls: number; format: ExternalMediaFormat; agentFormat: AgentAudioFormat; converter: ConverterName },
): Promise<void> {
  const agent = parseAgentAudioFormat(o.agentFormat);
  if (agent === undefined) throw new Error(`bad agent format ${o.agentFormat}`);
  const isPassThrough = o.format === 'ulaw' && o.agentFormat === 'ulaw_8000';
  if (isPassThrough || agent.sampleRateHz === TELEPHONY_RATE_HZ) return;
  const pairs: [number, number][] = [
    [TELEPHONY_RATE_HZ, agent.sampleRateHz],
    [agent.sampleRateHz, TELEPHONY_RATE_HZ],
  ];
  for (const [inHz, outHz] of pairs) await pool.warm(o.calls, inHz, outHz, o.converter);
  const taken: Resampler[] = [];
  for (const [inHz, outHz] of pairs) {
    for (let i = 0; i < o.calls; i++) taken.push(await pool.acquire(inHz, outHz, o.converter));
  }
  for (const r of taken) {
    const frame = new Int16Array(r.inputRateHz / 50);
    for (let k = 0; k < WARM_FRAMES; k++) r.process(frame);
    r.destroy();
  }
}
