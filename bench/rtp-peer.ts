/**
 * Benchmark child: Asterisk's side of N ExternalMedia streams, in its own process so its CPU is not
 * counted as the gateway's. Per call one UDP socket that
 *   - sends a 1 kHz tone as 20 ms RTP packets (slin big-endian PT 10, or µ-law PT 0) to the
 *     gateway's session port, on a drift-free schedule with a per-call phase (as Asterisk's
 *     channels are not aligned with each other), and
 *   - timestamps every packet the gateway sends back, for inter-packet interval and loss.
 * Arrival times are taken in JS when the datagram is delivered, so this process's own event-loop
 * delay is part of what it measures; it reports that delay next to the figures.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { SAMPLES_PER_FRAME_8K } from '../src/audio/frame';
import { encodeUlaw } from '../src/audio/g711';
import { writePcm16BE } from '../src/audio/pcm';
import { buildRtp, PT_L16_MONO, PT_PCMU, RTP_HEADER_BYTES } from '../src/rtp/packet';
import { failChild, LoadMeter, onParentMessage, readSpec, sendToParent } from './lib/child';
import type { PeerSpec } from './lib/protocol';
import { Recorder } from './lib/stats';

const spec = readSpec<PeerSpec>();
const FRAME_MS = 20;

interface PeerCall {
  readonly socket: dgram.Socket;
  readonly target: number;
  seq: number;
  ts: number;
  hasPrev: boolean;
  prevArrivalMs: number;
  prevSeq: number;
  prevTs: number;
  timer: NodeJS.Timeout | undefined;
}

/** One 20 ms frame of 1 kHz at 8 kHz: exactly 20 periods, so every frame is the same. */
function tonePayload(): Buffer {
  const samples = new Int16Array(SAMPLES_PER_FRAME_8K);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
  return spec.format === 'ulaw' ? encodeUlaw(samples) : writePcm16BE(samples);
}

async function main(): Promise<void> {
  const payload = tonePayload();
  const payloadType = spec.format === 'ulaw' ? PT_PCMU : PT_L16_MONO;
  const intervals = new Recorder();
  const deviations = new Recorder();
  let packets = 0;
  let lost = 0;
  let slotGaps = 0;
  let sent = 0;
  let over5 = 0;
  let isMeasuring = false;
  let isClosing = false;

  const calls: PeerCall[] = [];
  for (const target of spec.targets) {
    const socket = dgram.createSocket('udp4');
    socket.on('error', (err) => process.stderr.write(`rtp-peer socket error: ${err.message}\n`));
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const call: PeerCall = { socket, target, seq: 1, ts: 0, hasPrev: false, prevArrivalMs: 0, prevSeq: 0, prevTs: 0, timer: undefined };
    socket.on('message', (msg) => {
      const atMs = performance.now();
      if (msg.length < RTP_HEADER_BYTES) return;
      const seq = msg.readUInt16BE(2);
      const ts = msg.readUInt32BE(4);
      if (call.hasPrev && isMeasuring) {
        packets++;
        const seqDelta = (seq - call.prevSeq) & 0xffff;
        if (seqDelta > 1 && seqDelta < 0x8000) lost += seqDelta - 1;
        const slots = ((ts - call.prevTs) >>> 0) / SAMPLES_PER_FRAME_8K;
        if (seqDelta === 1 && slots === 1) {
          const interval = atMs - call.prevArrivalMs;
          intervals.record(interval);
          deviations.record(Math.abs(interval - FRAME_MS));
          if (Math.abs(interval - FRAME_MS) > 5) over5++;
        } else if (slots > 1) slotGaps++;
      }
      call.hasPrev = true;
      call.prevArrivalMs = atMs;
      call.prevSeq = seq;
      call.prevTs = ts;
    });
    calls.push(call);
  }

  const startSending = (): void => {
    const t0 = performance.now();
    calls.forEach((call, i) => {
      const phaseMs = (i * FRAME_MS) / calls.length;
      let n = 0;
      const tick = (): void => {
        call.timer = undefined;
        if (isClosing) return;
        // Drift-free: every due slot is sent, the timer aims at the next one.
        while (t0 + phaseMs + n * FRAME_MS <= performance.now()) {
          const packet = buildRtp({ payloadType, sequenceNumber: call.seq, timestamp: call.ts, ssrc: 0x5eed0000 + i, marker: n === 0 }, payload);
          call.socket.send(packet, call.target, '127.0.0.1');
          call.seq = (call.seq + 1) & 0xffff;
          call.ts = (call.ts + SAMPLES_PER_FRAME_8K) >>> 0;
          n++;
          if (isMeasuring) sent++;
        }
        call.timer = setTimeout(tick, Math.max(0, t0 + phaseMs + n * FRAME_MS - performance.now()));
      };
      call.timer = setTimeout(tick, phaseMs);
    });
  };

  const meter = new LoadMeter();
  const close = (): void => {
    if (isClosing) return;
    isClosing = true;
    for (const c of calls) clearTimeout(c.timer);
    Promise.all(calls.map((c) => new Promise<void>((resolve) => c.socket.close(() => resolve())))).then(
      () => {
        sendToParent({ type: 'closed' });
        process.disconnect?.();
      },
      (err: unknown) => failChild(err),
    );
  };
  onParentMessage((m) => {
    if (m.type === 'go') {
      startSending();
      sendToParent({ type: 'started' });
    } else if (m.type === 'measure-start') {
      intervals.reset();
      deviations.reset();
      packets = lost = slotGaps = sent = over5 = 0;
      isMeasuring = true;
      meter.start();
    } else if (m.type === 'measure-stop') {
      isMeasuring = false;
      const load = meter.stop();
      sendToParent({
        type: 'peer-result',
        result: {
          load,
          intervalMs: intervals.summary(),
          deviationMs: deviations.summary(),
          deviationFrac5ms: deviations.summary().count > 0 ? over5 / deviations.summary().count : 0,
          packets,
          lost,
          slotGaps,
          packetsSent: sent,
        },
      });
    } else if (m.type === 'close') close();
  }, close);
  sendToParent({ type: 'ready', ports: calls.map((c) => (c.socket.address()).port), pid: process.pid });
}

main().catch(failChild);
