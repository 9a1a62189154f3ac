/**
 * Timing probes around the gateway's real code paths, installed from outside src/:
 *
 * - inbound: every `dgram` 'message' emit in this process (only RTP sockets use dgram here), so
 *   one sample = RtpEndpoint parse → RtpMediaSession decode → resample → encode → chunk →
 *   AgentClient.sendAudio (base64, JSON, ws frame) for one 20 ms packet. Also the packets'
 *   inter-arrival time per socket (what the far end's pacing looks like from here).
 * - outbound tick: a Clock handed to the MediaClock whose timers time their callback: one slot of
 *   the clock, over every session on it (framer read → encode into the packet ring → socket.send,
 *   for each). The same clock records how late each timer fired against the delay asked for.
 * - outbound agent audio: every `ws` 'message' emit that ended in `pushAgentAudio`, i.e. JSON
 *   parse → base64 decode → watermark → decode → resample → framer write, normalized per 20 ms
 *   of audio carried.
 *
 * Patching prototypes is a benchmark-only device; `uninstall()` restores them.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { parseAgentAudioFormat, SAMPLES_PER_FRAME_8K, type AgentAudioFormat } from '../../src/audio/frame';
import type { Clock } from '../../src/media/pacer';
import { Recorder } from './stats';

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;
interface Emitting {
  emit: Emit;
}

const FRAME_MS = 20;
const RTP_TS_OFFSET = 4;
const RTP_SEQ_OFFSET = 2;

interface ArrivalState {
  atMs: number;
  seq: number;
  ts: number;
}

/** Recorders for one measurement window; µs for processing times, ms for timing. */
export class GatewayProbe {
  readonly inboundFrameUs = new Recorder();
  readonly outboundTickUs = new Recorder();
  readonly outboundAgentPer20msUs = new Recorder();
  readonly outboundAgentMsgUs = new Recorder();
  readonly timerLateMs = new Recorder();
  readonly inboundIntervalMs = new Recorder();
  readonly inboundDeviationMs = new Recorder();
  readonly #arrivals = new WeakMap<object, ArrivalState>();
  #pushedAudioMs = 0;
  #restore: (() => void) | undefined;

  /** Patch dgram and ws emit. Idempotent until `uninstall()`. */
  install(): void {
    if (this.#restore !== undefined) return;
    const dgramProto = dgram.Socket.prototype as unknown as Emitting;
    const wsProto = WebSocket.prototype as unknown as Emitting;
    const hadOwnWsEmit = Object.prototype.hasOwnProperty.call(wsProto, 'emit');
    const originalDgramEmit = dgramProto.emit;
    const originalWsEmit = wsProto.emit;
    const baseEmit = EventEmitter.prototype.emit as unknown as Emit;
    const arrival = (socket: unknown, msg: unknown, atMs: number): void => this.#arrival(socket as object, msg, atMs);
    const inbound = this.inboundFrameUs;
    const agentMsg = this.outboundAgentMsgUs;
    const agentPer20ms = this.outboundAgentPer20msUs;
    const takePushedMs = (): number => {
      const ms = this.#pushedAudioMs;
      this.#pushedAudioMs = 0;
      return ms;
    };
    dgramProto.emit = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
      if (event !== 'message') return originalDgramEmit.call(this, event, ...args);
      const t0 = performance.now();
      arrival(this, args[0], t0);
      const result = originalDgramEmit.call(this, event, ...args);
      inbound.record((performance.now() - t0) * 1000);
      return result;
    };
    wsProto.emit = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
      const emit = hadOwnWsEmit ? originalWsEmit : baseEmit;
      if (event !== 'message') return emit.call(this, event, ...args);
      takePushedMs();
      const t0 = performance.now();
      const result = emit.call(this, event, ...args);
      const us = (performance.now() - t0) * 1000;
      const pushedMs = takePushedMs();
      if (pushedMs > 0) {
        agentMsg.record(us);
        agentPer20ms.record((us * FRAME_MS) / pushedMs);
      }
      return result;
    };
    this.#restore = () => {
      dgramProto.emit = originalDgramEmit;
      if (hadOwnWsEmit) wsProto.emit = originalWsEmit;
      else delete (wsProto as Partial<Emitting>).emit;
    };
  }

  uninstall(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  /** Call around `pushAgentAudio` so the enclosing ws message is attributed to agent audio. */
  notePushedAudio(bytes: number, format: AgentAudioFormat): void {
    const info = parseAgentAudioFormat(format);
    if (info === undefined) return;
    const bytesPerSample = info.encoding === 'ulaw' ? 1 : 2;
    this.#pushedAudioMs += (bytes / bytesPerSample / info.sampleRateHz) * 1000;
  }

  /** A real-time Clock whose timers record their callback's duration and their lateness. */
  readonly clock: Clock = {
    now: () => performance.now(),
    setTimer: (callback, delayMs) => {
      const dueMs = performance.now() + delayMs;
      return setTimeout(() => {
        const t0 = performance.now();
        this.timerLateMs.record(t0 - dueMs);
        callback();
        this.outboundTickUs.record((performance.now() - t0) * 1000);
      }, delayMs);
    },
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };

  /** Start of the measurement window. */
  reset(): void {
    for (const r of this.#all()) r.reset();
  }

  /** End of the measurement window. */
  stop(): void {
    for (const r of this.#all()) r.stop();
  }

  #all(): Recorder[] {
    return [
      this.inboundFrameUs,
      this.outboundTickUs,
      this.outboundAgentPer20msUs,
      this.outboundAgentMsgUs,
      this.timerLateMs,
      this.inboundIntervalMs,
      this.inboundDeviationMs,
    ];
  }

  /** Inter-arrival of consecutive 20 ms packets (seq +1, ts +160) on one socket. */
  #arrival(socket: object, msg: unknown, atMs: number): void {
    if (!Buffer.isBuffer(msg) || msg.length < 12) return;
    const seq = msg.readUInt16BE(RTP_SEQ_OFFSET);
    const ts = msg.readUInt32BE(RTP_TS_OFFSET);
    const prev = this.#arrivals.get(socket);
    if (prev === undefined) {
      this.#arrivals.set(socket, { atMs, seq, ts });
      return;
    }
    if (((seq - prev.seq) & 0xffff) === 1 && ((ts - prev.ts) >>> 0) === SAMPLES_PER_FRAME_8K) {
      const interval = atMs - prev.atMs;
      this.inboundIntervalMs.record(interval);
      this.inboundDeviationMs.record(Math.abs(interval - FRAME_MS));
    }
    prev.atMs = atMs;
    prev.seq = seq;
    prev.ts = ts;
  }
}
