import type { Logger } from 'pino';
import { FRAME_MS, SAMPLES_PER_FRAME_8K, TELEPHONY_RATE_HZ, parseAgentAudioFormat, type AgentAudioFormat } from '../audio/frame';
import { Framer } from '../audio/framer';
import { decodeUlaw, linearToUlaw } from '../audio/g711';
import { readPcm16LE } from '../audio/pcm';
import { telephonyCodecFor, type TelephonyCodec } from './telephony-codec';
import type { Resampler, ResamplerPool } from '../audio/resampler';
import type { RtpPacket } from '../rtp/packet';
import { RtpPacketRing } from '../rtp/packet-ring';
import { systemClock, type Clock, type PacerTick } from './pacer';
import { MAX_CATCH_UP_SLOTS, type MediaClock, type MediaClockMembership } from './media-clock';
import { PlayoutLedger, type AgentLineHeard, type ChunkAlignment } from './playout-ledger';
import { RtpEndpoint } from '../rtp/rtp-endpoint';
import { epochNowMs } from '../lifecycle/timers';
import type { HeldCallerAudio } from './caller-audio-hold';
import { RtpReceiveStats, RtpSender } from '../rtp/sequencer';
import type { ConverterName } from '../audio/resampler';
import type { ExternalMediaFormat } from '../audio/frame';
import type { BridgeMetrics } from '../model/call-view';

/** Longest agent audio we hold for playout; the agent is never this far ahead in practice. */
const MAX_PLAYOUT_QUEUE_MS = 120_000;
/** Caller silence longer than this (Asterisk sends nothing for silence) is filled for the agent. */
const INBOUND_SILENCE_FILL_AFTER_MS = 3 * FRAME_MS;
/** A lost burst up to this long is replaced by silence, so the agent's clock stays right. */
const MAX_LOSS_CONCEALMENT_FRAMES = 5;
/**
 * A line that played to its end counts as heard in full after this long with nothing to play: the
 * agent's audio comes faster than real time, so a longer gap means the line is over.
 */
const HEARD_SETTLE_MS = 500;

/** The process-wide media settings (from EXTERNAL_MEDIA_*, RTP_PORT_*, AUDIO_CHUNK_SIZE_MS, RESAMPLER_CONVERTER). */
export interface MediaConfig {
  /** Address the RTP sockets bind. */
  externalMediaHost: string;
  /** Address Asterisk is told to send RTP to (Docker networks, NAT); usually the same. */
  externalMediaAdvertiseHost: string;
  externalMediaFormat: ExternalMediaFormat;
  rtpPortMin: number;
  rtpPortMax: number;
  audioChunkSizeMs: number;
  resamplerConverter: ConverterName;
}

export interface MediaSessionDeps {
  config: MediaConfig;
  pool: ResamplerPool;
  /** The thread's playout clock: every session's 20 ms slots come from it. */
  mediaClock: MediaClock;
  log: Logger;
  /** Monotonic time (silence fill for the agent, what the caller heard); default performance.now. */
  clock?: Clock;
}

/** One call's media session, per the agent's formats. */
export interface MediaSessionOptions {
  agentInputFormat: AgentAudioFormat;
  agentOutputFormat: AgentAudioFormat;
  /**
   * Caller audio for the agent, in agentInputFormat, one chunk per AUDIO_CHUNK_SIZE_MS. `bytes` is
   * the session's own buffer, refilled for the next chunk: use it (base64) or copy it before returning.
   */
  onCallerAudio(bytes: Buffer): void;
  /** The first agent audio packet left for the caller (once per session). */
  onFirstPlayout?(): void;
  /**
   * The first caller packet after `start` went to the agent (once per session); `atEpochMs` is
   * when it arrived (epochNowMs), which for audio kept while the agent connected is earlier.
   */
  onFirstCallerFrame?(atEpochMs: number): void;
  /** What the caller heard of an agent line, once known (src/media/playout-ledger.ts). */
  onLineHeard?(report: AgentLineHeard): void;
}

/** Which agent line a chunk of audio belongs to, and its character timing if the agent sent one. */
export interface AgentAudioLine {
  eventId: number;
  alignment?: ChunkAlignment;
}

/**
 * One call's media path over ExternalMedia RTP.
 *
 *   caller → RTP → decode (slin BE / G.711) → resample 8 kHz → agent rate → encode → chunk → agent
 *   agent → decode → resample agent rate → 8 kHz → Framer (20 ms) → media clock → encode → RTP → caller
 *
 * With ExternalMedia `ulaw` and an agent on `ulaw_8000` bytes pass through untouched both ways.
 * Owns its UDP socket, resamplers and its place on the thread's media clock; `close()` releases them once.
 */
export class RtpMediaSession {
  readonly #endpoint: RtpEndpoint;
  readonly #advertiseHost: string;
  readonly #codec: TelephonyCodec;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #options: MediaSessionOptions;
  readonly #toAgent: Resampler | undefined;
  readonly #fromAgent: Resampler | undefined;
  readonly #isPassThroughIn: boolean;
  readonly #isPassThroughOut: boolean;
  readonly #agentIn: { encoding: 'pcm' | 'ulaw'; sampleRateHz: number };
  readonly #agentOut: { encoding: 'pcm' | 'ulaw'; sampleRateHz: number };
  readonly #framer = new Framer({ sampleRateHz: TELEPHONY_RATE_HZ, frameMs: FRAME_MS, maxBufferedMs: MAX_PLAYOUT_QUEUE_MS, overflow: 'drop-newest' });
  readonly #mediaClock: MediaClock;
  #membership: MediaClockMembership | undefined;
  readonly #sender: RtpSender;
  readonly #rxStats = new RtpReceiveStats();
  readonly #ledger: PlayoutLedger;
  readonly #chunkBytes: number;
  /** The chunk being filled for the agent, reused once handed over (see onCallerAudio). */
  readonly #chunk: Buffer;
  #chunkFill = 0;
  #oddByte: number | undefined;
  /** Outgoing packets, built in place (src/rtp/packet-ring.ts). */
  readonly #packets: RtpPacketRing;
  readonly #silence8k = new Int16Array(SAMPLES_PER_FRAME_8K);
  readonly #ulawSilence = Buffer.alloc(SAMPLES_PER_FRAME_8K, 0xff);
  readonly #frameOut = new Int16Array(SAMPLES_PER_FRAME_8K);
  /** A caller packet decoded (resized only if the far end changes its packet time). */
  #callerFrame = new Int16Array(SAMPLES_PER_FRAME_8K);
  /** That frame at the agent's input rate. */
  #callerAtAgentRate = new Int16Array(0);
  /** Agent audio resampled to 8 kHz, until the framer has copied it. */
  #agentAt8k = new Int16Array(0);
  #isStarted = false;
  #hasForwardedCaller = false;
  /** When the first caller audio arrived, if before the session existed (startWithHeld). */
  #firstCallerAtEpochMs: number | undefined;
  #isCallerAudioStopped = false;
  #lastInboundMs = 0;
  #drainWaiters: (() => void)[] = [];
  #closed: Promise<void> | undefined;
  readonly #metrics: BridgeMetrics = {
    caller_to_ai: { packets: 0, bytes: 0 },
    ai_to_caller: { packets: 0, bytes: 0 },
    resampling_ops: 0,
    errors: 0,
  };

  private constructor(
    deps: MediaSessionDeps,
    options: MediaSessionOptions,
    endpoint: RtpEndpoint,
    resamplers: { toAgent: Resampler | undefined; fromAgent: Resampler | undefined },
  ) {
    this.#endpoint = endpoint;
    this.#advertiseHost = deps.config.externalMediaAdvertiseHost;
    this.#options = options;
    this.#log = deps.log;
    this.#clock = deps.clock ?? systemClock;
    this.#codec = telephonyCodecFor(deps.config.externalMediaFormat);
    this.#agentIn = mustParse(options.agentInputFormat);
    this.#agentOut = mustParse(options.agentOutputFormat);
    this.#isPassThroughIn = this.#codec.format === 'ulaw' && options.agentInputFormat === 'ulaw_8000';
    this.#isPassThroughOut = this.#codec.format === 'ulaw' && options.agentOutputFormat === 'ulaw_8000';
    this.#toAgent = resamplers.toAgent;
    this.#fromAgent = resamplers.fromAgent;
    const bytesPerSampleIn = this.#agentIn.encoding === 'ulaw' ? 1 : 2;
    this.#chunkBytes = Math.round((this.#agentIn.sampleRateHz * deps.config.audioChunkSizeMs) / 1000) * bytesPerSampleIn;
    this.#chunk = Buffer.allocUnsafe(this.#chunkBytes);
    this.#sender = new RtpSender({ payloadType: this.#codec.payloadType, clockRateHz: TELEPHONY_RATE_HZ });
    // One more slot than the clock's longest catch-up burst, twice over: a slot is reused only
    // after the tick it was sent in (src/rtp/packet-ring.ts).
    this.#packets = new RtpPacketRing(SAMPLES_PER_FRAME_8K * this.#codec.bytesPerSample, 2 * (MAX_CATCH_UP_SLOTS + 1));
    this.#ledger = new PlayoutLedger({
      sampleRateHz: TELEPHONY_RATE_HZ,
      settleMs: HEARD_SETTLE_MS,
      onHeard: (report) => options.onLineHeard?.(report),
    });
    this.#mediaClock = deps.mediaClock;
    endpoint.on('packet', (p) => this.#onPacket(p));
    endpoint.on('socket-error', () => {
      this.#metrics.errors += 1;
    });
  }

  /** Binds this call's RTP socket on EXTERNAL_MEDIA_HOST in [RTP_PORT_MIN, RTP_PORT_MAX]. */
  static openEndpoint(deps: Pick<MediaSessionDeps, 'config' | 'log'>): Promise<RtpEndpoint> {
    const { config } = deps;
    return RtpEndpoint.open({ host: config.externalMediaHost, portMin: config.rtpPortMin, portMax: config.rtpPortMax, log: deps.log });
  }

  /**
   * Takes the resamplers this format pair needs, on `endpoint` (bound already, its ownership passes
   * to the session, also when this rejects) or on a socket bound now.
   */
  static async open(deps: MediaSessionDeps, options: MediaSessionOptions, bound?: RtpEndpoint): Promise<RtpMediaSession> {
    const { config, pool } = deps;
    const endpoint = bound ?? (await RtpMediaSession.openEndpoint(deps));
    const taken: Resampler[] = [];
    try {
      const agentIn = mustParse(options.agentInputFormat);
      const agentOut = mustParse(options.agentOutputFormat);
      const isUlaw = config.externalMediaFormat === 'ulaw';
      const toAgent =
        isUlaw && options.agentInputFormat === 'ulaw_8000' ? undefined : await pool.acquire(TELEPHONY_RATE_HZ, agentIn.sampleRateHz, config.resamplerConverter);
      if (toAgent) taken.push(toAgent);
      const fromAgent =
        isUlaw && options.agentOutputFormat === 'ulaw_8000' ? undefined : await pool.acquire(agentOut.sampleRateHz, TELEPHONY_RATE_HZ, config.resamplerConverter);
      if (fromAgent) taken.push(fromAgent);
      return new RtpMediaSession(deps, options, endpoint, { toAgent, fromAgent });
    } catch (err) {
      for (const r of taken) r.destroy();
      await endpoint.close();
      throw err;
    }
  }

  /**
   * host:port Asterisk must send this call's RTP to: EXTERNAL_MEDIA_ADVERTISE_HOST with the port the
   * socket bound on EXTERNAL_MEDIA_HOST. The two differ behind NAT or across a Docker network.
   */
  get localAddress(): string {
    return advertisedRtpAddress(this.#advertiseHost, this.#endpoint.localPort);
  }

  get playoutQueuedMs(): number {
    return this.#framer.bufferedMs;
  }

  /**
   * True when `bytes` of agent audio (in its output format) fit in what is left of the playout
   * queue. Checked before the audio is decoded: a frame that does not fit is refused whole.
   */
  canQueueAgentBytes(bytes: number): boolean {
    const bytesPerMs = (this.#agentOut.sampleRateHz / 1000) * (this.#agentOut.encoding === 'ulaw' ? 1 : 2);
    return bytes / bytesPerMs <= MAX_PLAYOUT_QUEUE_MS - this.#framer.bufferedMs;
  }

  start(remote: { address: string; port: number }): void {
    if (this.#isStarted || this.#closed) return;
    this.#isStarted = true;
    this.#endpoint.setRemote(remote.address, remote.port);
    this.#lastInboundMs = this.#clock.now();
    this.#membership = this.#mediaClock.join({
      onSlot: (tick) => this.#onSlot(tick),
      onError: (err) => {
        this.#metrics.errors += 1;
        this.#log.error({ err }, 'playout stopped by an error');
      },
    });
  }

  /**
   * start(), then the caller audio kept since the answer while the agent connected
   * (src/media/caller-audio-hold.ts), in arrival order, before anything newer.
   */
  startWithHeld(remote: { address: string; port: number }, held: HeldCallerAudio): void {
    if (this.#isStarted || this.#closed) return;
    this.start(remote);
    this.#firstCallerAtEpochMs = held.firstAtEpochMs;
    for (const packet of held.packets) this.#onPacket(packet);
  }

  /** Agent audio for the playout queue; `line` says which agent line it is (for what the caller heard). */
  pushAgentAudio(bytes: Buffer, line?: AgentAudioLine): void {
    if (this.#closed) return;
    let samples: Int16Array;
    if (this.#isPassThroughOut) {
      // µ-law bytes ride through the framer one byte per Int16 slot and leave unchanged.
      samples = new Int16Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) samples[i] = bytes[i]!;
    } else {
      const decoded = this.#agentOut.encoding === 'ulaw' ? decodeUlaw(bytes) : this.#readPcmLE(bytes);
      samples = this.#atTelephonyRate(decoded);
    }
    const dropped = this.#framer.write(samples);
    if (dropped > 0) this.#metrics.errors += 1;
    if (line !== undefined) {
      const bytesPerMs = (this.#agentOut.sampleRateHz / 1000) * (this.#agentOut.encoding === 'ulaw' ? 1 : 2);
      this.#ledger.queued(line.eventId, samples.length - dropped, bytes.length / bytesPerMs, line.alignment);
    }
  }

  flushPlayout(): void {
    // An interruption already on the wire may arrive while the link closes: the resamplers are gone.
    if (this.#closed) return;
    this.#framer.clear();
    this.#ledger.flushed();
    this.#oddByte = undefined;
    // The filter's memory belongs to the interrupted reply; the next one starts clean.
    this.#fromAgent?.reset();
  }

  stopCallerAudio(): void {
    this.#isCallerAudioStopped = true;
  }

  waitPlayoutDrained(timeoutMs: number): Promise<void> {
    if (this.#closed || this.#framer.bufferedSamples === 0 || !this.#isStarted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#drainWaiters.push(done);
    });
  }

  metrics(): BridgeMetrics {
    const m = this.#metrics;
    return {
      caller_to_ai: { ...m.caller_to_ai },
      ai_to_caller: { ...m.ai_to_caller },
      resampling_ops: m.resampling_ops,
      errors: m.errors,
    };
  }

  playoutIssues(): { lateFrames: number; droppedFrames: number } {
    const stats = this.#slotStats();
    return { lateFrames: stats.lateTicks, droppedFrames: stats.skippedTicks };
  }

  /** RTP receive statistics (loss, duplicates, reordering) and playout slot timing, for logs and tests. */
  diagnostics(): { rx: ReturnType<RtpReceiveStats['snapshot']>; pacer: ReturnType<MediaClockMembership['stats']> & { framesSent: number } } {
    return { rx: this.#rxStats.snapshot(), pacer: { ...this.#slotStats(), framesSent: this.#metrics.ai_to_caller.packets } };
  }

  #slotStats(): ReturnType<MediaClockMembership['stats']> {
    return this.#membership?.stats() ?? { ticks: 0, lateTicks: 0, catchUpTicks: 0, skippedTicks: 0, stalls: 0, maxLateMs: 0 };
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#membership?.leave();
      this.#ledger.close();
      this.#resolveDrainWaiters();
      this.#toAgent?.destroy();
      this.#fromAgent?.destroy();
      await this.#endpoint.close();
      this.#log.debug({ rx: this.#rxStats.snapshot(), playout: this.#slotStats() }, 'media closed');
    })();
    return this.#closed;
  }

  // ---- caller → agent ----------------------------------------------------------------------

  #onPacket(packet: RtpPacket): void {
    // The bridge is built while the phone rings: what arrives before the answer is the network's
    // ringback or early media, not the caller, and the agent must not hear it.
    if (!this.#isStarted) return;
    if (packet.payloadType !== this.#codec.payloadType) {
      this.#metrics.errors += 1;
      return;
    }
    const verdict = this.#rxStats.record(packet.sequenceNumber, packet.ssrc);
    if (verdict === 'duplicate' || verdict === 'late') return;
    this.#lastInboundMs = this.#clock.now();
    if (verdict === 'gap') {
      const lost = Math.min(this.#rxStats.lastGapPackets, MAX_LOSS_CONCEALMENT_FRAMES);
      for (let i = 0; i < lost; i++) this.#forwardSilence();
    }
    this.#metrics.caller_to_ai.packets += 1;
    this.#metrics.caller_to_ai.bytes += packet.payload.length;
    if (this.#isCallerAudioStopped) return;
    if (this.#isPassThroughIn) {
      this.#appendToChunk(packet.payload);
      this.#noteCallerForwarded();
      return;
    }
    const samples = Math.floor(packet.payload.length / this.#codec.bytesPerSample);
    if (this.#callerFrame.length !== samples) this.#callerFrame = new Int16Array(samples);
    this.#forwardSamples(this.#codec.decode(packet.payload, this.#callerFrame));
    this.#noteCallerForwarded();
  }

  #noteCallerForwarded(): void {
    if (this.#hasForwardedCaller) return;
    this.#hasForwardedCaller = true;
    this.#options.onFirstCallerFrame?.(this.#firstCallerAtEpochMs ?? epochNowMs());
  }

  #forwardSilence(): void {
    if (this.#isCallerAudioStopped) return;
    if (this.#isPassThroughIn) {
      this.#appendToChunk(this.#ulawSilence);
      return;
    }
    this.#forwardSamples(this.#silence8k);
  }

  /** Resampled into scratch and encoded straight into the chunk: nothing allocated per frame. */
  #forwardSamples(samples8k: Int16Array): void {
    const resampler = this.#toAgent;
    if (resampler === undefined || resampler.isPassThrough) {
      this.#appendSamples(samples8k, samples8k.length);
      return;
    }
    const room = resampler.maxOutputSamples(samples8k.length);
    if (this.#callerAtAgentRate.length < room) this.#callerAtAgentRate = new Int16Array(room);
    this.#metrics.resampling_ops += 1;
    this.#appendSamples(this.#callerAtAgentRate, resampler.processInto(samples8k, this.#callerAtAgentRate));
  }

  /** The first `count` samples, encoded in the agent's input format (s16le or µ-law), into the chunk. */
  #appendSamples(samples: Int16Array, count: number): void {
    const chunk = this.#chunk;
    const isUlaw = this.#agentIn.encoding === 'ulaw';
    let fill = this.#chunkFill;
    for (let i = 0; i < count; i++) {
      const s = samples[i] as number;
      if (isUlaw) {
        chunk[fill++] = linearToUlaw(s);
      } else {
        // The chunk holds whole samples (an even byte count), so one never straddles two chunks.
        chunk[fill++] = s & 0xff;
        chunk[fill++] = (s >> 8) & 0xff;
      }
      if (fill === this.#chunkBytes) {
        this.#chunkFill = 0;
        this.#options.onCallerAudio(chunk);
        fill = 0;
      }
    }
    this.#chunkFill = fill;
  }

  /** Bytes already in the agent's input format (µ-law pass-through), into the chunk. */
  #appendToChunk(bytes: Uint8Array): void {
    const chunk = this.#chunk;
    let fill = this.#chunkFill;
    for (let i = 0; i < bytes.length; i++) {
      chunk[fill++] = bytes[i] as number;
      if (fill === this.#chunkBytes) {
        this.#chunkFill = 0;
        this.#options.onCallerAudio(chunk);
        fill = 0;
      }
    }
    this.#chunkFill = fill;
  }

  // ---- agent → caller ----------------------------------------------------------------------

  /** One 20 ms slot of the media clock: the next frame, if any, leaves now. */
  #onSlot(tick: PacerTick): void {
    const frame = this.#nextFrame();
    if (frame !== undefined) this.#sendFrame(frame, tick.deadlineMs);
  }

  /** Fills caller silence for the agent, then takes the next frame to play. */
  #nextFrame(): Int16Array | undefined {
    if (this.#clock.now() - this.#lastInboundMs > INBOUND_SILENCE_FILL_AFTER_MS) {
      this.#forwardSilence();
      this.#lastInboundMs += FRAME_MS;
    }
    // One reused frame buffer: #sendFrame encodes it synchronously, before the next tick.
    const out = this.#frameOut;
    const queuedBefore = this.#framer.bufferedSamples;
    const frame = this.#framer.read(out) ?? (this.#drainWaiters.length > 0 ? this.#framer.flush(out) : undefined);
    const sent = queuedBefore - this.#framer.bufferedSamples;
    // A last partial frame is padded with 0, which as a µ-law byte is full scale: pad with µ-law silence.
    if (frame !== undefined && this.#isPassThroughOut && sent < frame.length) frame.fill(0xff, sent);
    if (sent > 0) this.#ledger.played(sent, this.#clock.now());
    else this.#ledger.idle(this.#clock.now(), this.#framer.bufferedSamples);
    if (!frame && this.#drainWaiters.length > 0) this.#resolveDrainWaiters();
    return frame;
  }

  /** The frame encoded into the next packet of the ring, its header written in place, sent. */
  #sendFrame(frame: Int16Array, deadlineMs: number): void {
    const { packet, payload } = this.#packets.take(this.#endpoint.hasQueuedSends);
    if (this.#isPassThroughOut) {
      for (let i = 0; i < frame.length; i++) payload[i] = frame[i]!;
    } else {
      this.#codec.encode(frame, payload);
    }
    this.#sender.writeNextHeader(packet, SAMPLES_PER_FRAME_8K, deadlineMs);
    this.#endpoint.send(packet);
    this.#metrics.ai_to_caller.packets += 1;
    this.#metrics.ai_to_caller.bytes += payload.length;
    if (this.#metrics.ai_to_caller.packets === 1) this.#options.onFirstPlayout?.();
  }

  /** Agent audio at 8 kHz, in the session's scratch: the framer copies it before the next call. */
  #atTelephonyRate(decoded: Int16Array): Int16Array {
    const resampler = this.#fromAgent;
    if (resampler === undefined || resampler.isPassThrough) return decoded;
    const room = resampler.maxOutputSamples(decoded.length);
    if (this.#agentAt8k.length < room) this.#agentAt8k = new Int16Array(room);
    this.#metrics.resampling_ops += 1;
    return this.#agentAt8k.subarray(0, resampler.processInto(decoded, this.#agentAt8k));
  }

  /** s16le with a chunk boundary that may split a sample: keep the odd byte for the next chunk. */
  #readPcmLE(bytes: Buffer): Int16Array {
    let data = bytes;
    if (this.#oddByte !== undefined) {
      data = Buffer.concat([Buffer.of(this.#oddByte), bytes]);
      this.#oddByte = undefined;
    }
    if (data.length % 2 === 1) {
      this.#oddByte = data[data.length - 1];
      data = data.subarray(0, data.length - 1);
    }
    return readPcm16LE(data);
  }

  #resolveDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}

function mustParse(format: AgentAudioFormat): { encoding: 'pcm' | 'ulaw'; sampleRateHz: number } {
  const parsed = parseAgentAudioFormat(format);
  if (!parsed) throw new Error(`unsupported agent audio format ${format}`);
  return parsed;
}

/**
 * host:port Asterisk must send a call's RTP to: EXTERNAL_MEDIA_ADVERTISE_HOST (bracketed when IPv6)
 * with the port the socket bound on EXTERNAL_MEDIA_HOST.
 */
export function advertisedRtpAddress(advertiseHost: string, port: number): string {
  return advertiseHost.includes(':') ? `[${advertiseHost}]:${port}` : `${advertiseHost}:${port}`;
}
