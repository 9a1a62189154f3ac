/**
 * Prometheus metrics of the gateway on a private prom-client Registry (never the global one, so
 * two apps in one test process do not share counters). Callers use the typed methods below and
 * never touch prom-client.
 *
 * Units: methods take milliseconds (our convention); histograms are exported in seconds
 * (Prometheus convention: base units, `_seconds` suffix).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BridgeMetrics, CallView } from '../model/call-view';
import { TERMINAL_STATUSES } from '../model/call-view';
import type { CallEventBus, CallEventSubscription } from '../events/call-events';

/** Prefix of every gateway metric (process/Node defaults keep their standard names). */
export const METRICS_PREFIX = 'voice_gateway_';

/** RTP direction label values, named as in `BridgeMetrics`. */
export type RtpDirection = 'caller_to_ai' | 'ai_to_caller';
/** Frame problem label values: sent after their slot (`late`) or never sent (`dropped`). */
export type FrameIssueKind = 'late' | 'dropped';
/** Which event-stream cap refused a client: EVENT_STREAMS_MAX or EVENT_STREAMS_PER_TOKEN_MAX. */
export type EventStreamLimit = 'total' | 'per_token';

/** Histogram buckets for connect-type latencies, seconds. */
const LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];
/** Frame-scale latencies (the target is one 20 ms frame). */
const FRAME_LATENCY_BUCKETS_S = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56];
/** A release step gives up after 3 s (src/app.ts releaseStepTimeoutMs): up to there, and a little beyond. */
const RELEASE_BUCKETS_S = [...FRAME_LATENCY_BUCKETS_S, 5.12];
const MAX_REMEMBERED_ENDED = 1000;

/** Options of `GatewayMetrics`. */
export interface GatewayMetricsOptions {
  /** Add prom-client's default process and Node.js metrics. Default true. */
  isDefaultMetricsEnabled?: boolean;
}

type RtpTotals = Record<RtpDirection, { packets: number; bytes: number }>;

/** The gateway's metrics and their registry. One per App. */
export class GatewayMetrics {
  /** The registry `/metrics` renders. */
  readonly registry = new Registry();
  readonly #activeCallIds = new Set<string>();
  /** Cumulative RTP counts already added to the counters, per live call. */
  readonly #rtpSeen = new Map<string, RtpTotals>();
  /** Recently ended ids (the newest MAX_REMEMBERED_ENDED), so a repeated callEnded counts once. */
  readonly #endedIds = new Set<string>();
  readonly #callsTotal: Counter<'outcome'>;
  readonly #rtpPackets: Counter<'direction'>;
  readonly #rtpBytes: Counter<'direction'>;
  readonly #frameIssues: Counter<'kind'>;
  readonly #agentConnect: Histogram;
  readonly #answerToFirstAudio: Histogram;
  readonly #answerToFirstCallerFrame: Histogram;
  readonly #callRelease: Histogram;
  readonly #interruptions: Counter;
  readonly #ariReconnects: Counter;
  readonly #storeErrors: Counter;
  readonly #callsRefused: Counter<'direction' | 'reason'>;
  readonly #agentFramesRefused: Counter;
  readonly #transferAttempts: Counter<'outcome'>;
  readonly #processFaults: Counter<'kind'>;
  readonly #eventStreamsOpen: Gauge;
  readonly #eventStreamsRefused: Counter<'limit'>;
  readonly #eventStreamsSlow: Counter;

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    const activeCallIds = this.#activeCallIds;
    new Gauge({
      name: `${METRICS_PREFIX}active_calls`,
      help: 'Calls placed and not yet ended',
      registers,
      collect() {
        this.set(activeCallIds.size);
      },
    });
    this.#callsTotal = new Counter({
      name: `${METRICS_PREFIX}calls_total`,
      help: 'Ended calls by outcome (final status)',
      labelNames: ['outcome'],
      registers,
    });
    this.#rtpPackets = new Counter({
      name: `${METRICS_PREFIX}rtp_packets_total`,
      help: 'RTP packets bridged, by direction',
      labelNames: ['direction'],
      registers,
    });
    this.#rtpBytes = new Counter({
      name: `${METRICS_PREFIX}rtp_bytes_total`,
      help: 'RTP payload bytes bridged, by direction',
      labelNames: ['direction'],
      registers,
    });
    this.#frameIssues = new Counter({
      name: `${METRICS_PREFIX}frame_issues_total`,
      help: 'Audio frames sent late or dropped by the playout pacer',
      labelNames: ['kind'],
      registers,
    });
    this.#agentConnect = new Histogram({
      name: `${METRICS_PREFIX}agent_connect_seconds`,
      help: 'Time to open the agent conversation (WebSocket connect and handshake)',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#answerToFirstAudio = new Histogram({
      name: `${METRICS_PREFIX}answer_to_first_audio_seconds`,
      help: 'Time from answer to the first agent audio frame sent to the caller',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#answerToFirstCallerFrame = new Histogram({
      name: `${METRICS_PREFIX}answer_to_first_caller_frame_seconds`,
      help: 'Time from answer (the leg going Up, as the gateway saw it) to the first caller audio sent to the agent',
      buckets: FRAME_LATENCY_BUCKETS_S,
      registers,
    });
    this.#callRelease = new Histogram({
      name: `${METRICS_PREFIX}call_release_seconds`,
      help: "Time from the start of a call's teardown (a hang-up on either side, the API, an error) to every resource it opened released",
      buckets: RELEASE_BUCKETS_S,
      registers,
    });
    this.#interruptions = new Counter({ name: `${METRICS_PREFIX}interruptions_total`, help: 'Caller barge-ins', registers });
    this.#ariReconnects = new Counter({ name: `${METRICS_PREFIX}ari_reconnects_total`, help: 'ARI WebSocket reconnects', registers });
    this.#storeErrors = new Counter({ name: `${METRICS_PREFIX}store_errors_total`, help: 'Failed writes of call records (each retried)', registers });
    this.#callsRefused = new Counter({
      name: `${METRICS_PREFIX}calls_refused_total`,
      help: 'Calls refused before they were placed or answered, by direction and reason',
      labelNames: ['direction', 'reason'],
      registers,
    });
    this.#agentFramesRefused = new Counter({
      name: `${METRICS_PREFIX}agent_frames_refused_total`,
      help: 'Agent audio frames refused undecoded because the playout queue could not take them',
      registers,
    });
    this.#transferAttempts = new Counter({
      name: `${METRICS_PREFIX}transfer_attempts_total`,
      help: 'Transfers the agent asked for, allowed or refused',
      labelNames: ['outcome'],
      registers,
    });
    this.#processFaults = new Counter({
      name: `${METRICS_PREFIX}process_faults_total`,
      help: 'Unhandled rejections and uncaught exceptions caught by the process handler',
      labelNames: ['kind'],
      registers,
    });
    for (const outcome of ['allowed', 'refused'] as const) this.#transferAttempts.inc({ outcome }, 0);
    for (const kind of ['unhandled_rejection', 'uncaught_exception'] as const) this.#processFaults.inc({ kind }, 0);
    this.#eventStreamsOpen = new Gauge({ name: `${METRICS_PREFIX}event_streams_open`, help: 'GET /api/events streams open now', registers });
    this.#eventStreamsRefused = new Counter({
      name: `${METRICS_PREFIX}event_streams_refused_total`,
      help: 'GET /api/events refused with 503 at a cap (total: EVENT_STREAMS_MAX, per_token: EVENT_STREAMS_PER_TOKEN_MAX)',
      labelNames: ['limit'],
      registers,
    });
    this.#eventStreamsSlow = new Counter({
      name: `${METRICS_PREFIX}event_stream_slow_disconnects_total`,
      help: 'Event stream clients disconnected because they fell too far behind',
      registers,
    });

    // Every label value exported from the start, so rate() works before the first event.
    for (const outcome of TERMINAL_STATUSES) this.#callsTotal.inc({ outcome }, 0);
    for (const direction of ['caller_to_ai', 'ai_to_caller'] as const) {
      this.#rtpPackets.inc({ direction }, 0);
      this.#rtpBytes.inc({ direction }, 0);
    }
    for (const kind of ['late', 'dropped'] as const) this.#frameIssues.inc({ kind }, 0);
    for (const limit of ['total', 'per_token'] as const) this.#eventStreamsRefused.inc({ limit }, 0);

    if (options.isDefaultMetricsEnabled !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Content-Type of `render()` (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for `GET /metrics`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** A call was placed. Idempotent per id. */
  callStarted(callId: string): void {
    this.#activeCallIds.add(callId);
  }

  /** Cumulative media counters of a live call (e.g. every metrics tick); adds what is new since the last. */
  callMetrics(callId: string, metrics: BridgeMetrics): void {
    const seen = this.#rtpSeen.get(callId) ?? { caller_to_ai: { packets: 0, bytes: 0 }, ai_to_caller: { packets: 0, bytes: 0 } };
    for (const direction of ['caller_to_ai', 'ai_to_caller'] as const) {
      const now = metrics[direction];
      const before = seen[direction];
      // Counters only go up; a smaller value (a restarted counter) adds nothing and re-bases.
      this.#rtpPackets.inc({ direction }, Math.max(0, now.packets - before.packets));
      this.#rtpBytes.inc({ direction }, Math.max(0, now.bytes - before.bytes));
      seen[direction] = { packets: now.packets, bytes: now.bytes };
    }
    this.#rtpSeen.set(callId, seen);
  }

  /** A call ended: counts its outcome, adds its last media counts and forgets it. Idempotent per id. */
  callEnded(view: Pick<CallView, 'id' | 'status' | 'metrics'>): void {
    if (this.#endedIds.has(view.id)) return;
    this.callMetrics(view.id, view.metrics);
    this.#callsTotal.inc({ outcome: view.status });
    this.#activeCallIds.delete(view.id);
    this.#rtpSeen.delete(view.id);
    this.#rememberEnded(view.id);
  }

  /** Frames the playout sent late or dropped (deltas, e.g. from pacer stats). */
  frameIssues(kind: FrameIssueKind, count: number): void {
    if (count > 0) this.#frameIssues.inc({ kind }, count);
  }

  /** Time the agent conversation took to open, ms. */
  observeAgentConnectMs(ms: number): void {
    this.#agentConnect.observe(ms / 1000);
  }

  /** Time from answer to the first agent audio sent to the caller, ms. */
  observeAnswerToFirstAudioMs(ms: number): void {
    this.#answerToFirstAudio.observe(ms / 1000);
  }

  observeAnswerToFirstCallerFrameMs(ms: number): void {
    this.#answerToFirstCallerFrame.observe(ms / 1000);
  }

  /** A call's teardown took `ms` to release everything it had opened. */
  observeCallReleaseMs(ms: number): void {
    this.#callRelease.observe(ms / 1000);
  }

  /** The caller interrupted the agent. */
  interruption(): void {
    this.#interruptions.inc();
  }

  /** A write of call records failed (it is retried). */
  storeError(): void {
    this.#storeErrors.inc();
  }

  /** A call was refused by admission or because its record could not be written. */
  callRefused(direction: 'inbound' | 'outbound', reason: string): void {
    this.#callsRefused.inc({ direction, reason });
  }

  /** An agent audio frame was refused undecoded (bigger than the playout queue could take). */
  agentFrameRefused(): void {
    this.#agentFramesRefused.inc();
  }

  /** The agent asked for a transfer. */
  transferAttempt(isAllowed: boolean): void {
    this.#transferAttempts.inc({ outcome: isAllowed ? 'allowed' : 'refused' });
  }

  /** The process-level handler caught something (see src/index.ts). */
  processFault(kind: 'unhandled_rejection' | 'uncaught_exception'): void {
    this.#processFaults.inc({ kind });
  }

  /** The ARI connection was re-established after a loss. */
  ariReconnected(): void {
    this.#ariReconnects.inc();
  }

  /** Event streams open now (GET /api/events). */
  eventStreamsOpen(count: number): void {
    this.#eventStreamsOpen.set(count);
  }

  /** An event stream was refused at a cap. */
  eventStreamRefused(limit: EventStreamLimit): void {
    this.#eventStreamsRefused.inc({ limit });
  }

  /** An event stream client was disconnected for falling behind (its backlog passed the limit). */
  eventStreamSlowDisconnect(): void {
    this.#eventStreamsSlow.inc();
  }

  /**
   * Feed these metrics from the event bus: dialing → started, metrics ticks → RTP counters,
   * interruption, ended → outcome. The caller must `cancel()` the subscription at shutdown.
   */
  observeBus(bus: CallEventBus): CallEventSubscription {
    return bus.subscribe((event) => {
      switch (event.type) {
        case 'dialing':
          this.callStarted(event.call_id);
          return;
        case 'metrics':
          this.callMetrics(event.call_id, event.metrics);
          return;
        case 'interruption':
          this.interruption();
          return;
        case 'ended':
          this.callEnded({ id: event.call_id, status: event.status, metrics: event.metrics });
          return;
        default:
          return;
      }
    });
  }

  #rememberEnded(id: string): void {
    this.#endedIds.add(id);
    if (this.#endedIds.size > MAX_REMEMBERED_ENDED) {
      const oldest = this.#endedIds.values().next().value;
      if (oldest !== undefined) this.#endedIds.delete(oldest);
    }
  }
}
