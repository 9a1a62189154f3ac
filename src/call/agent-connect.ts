/**
 * When a call opens its agent conversation (AGENT_CONNECT): every conversation opened counts
 * against the agent account's concurrency and is billed, and the service closes one after 60 s
 * without user input, so an outbound call must not hold one for a phone that only rings.
 *
 *   ringing: open while the phone rings (the greeting is ready at answer), but for at most
 *            AGENT_PRECONNECT_MAX_S: still ringing then, the conversation and its ExternalMedia
 *            channel are released ("parked") and a new pair is opened on answer. Busy, rejected and
 *            unanswered calls release it at once (teardown).
 *   answer:  open on answer; the callee hears ringback until the agent is connected.
 *
 * Ringback plays only while a conversation opened at the answer connects (answer mode, or after a
 * park): a whole connect. A phone answered while the conversation opened at dialling is still
 * connecting waits the rest of that connect in silence, as it would for a person saying hello: a
 * ring burst after the pickup sounds like a fault, and stopping it (and rejoining the bridge) would
 * sit between the agent being ready and its greeting (docs/asterisk.md#early-bridge).
 *
 * Inbound calls connect before they are answered (the caller hears ringing meanwhile) in both modes.
 *
 * What one attempt opens is the agent's side of the early bridge (docs/asterisk.md#early-bridge):
 * the link (agent socket + RTP endpoint) and an ExternalMedia channel for that RTP endpoint in the
 * call's bridge. A new link has a new RTP endpoint, so each attempt has its own ExternalMedia
 * channel, named by the attempt's generation (src/call/ari-ids.ts `mediaChannelId`). Everything an
 * attempt opens is on its own disposer stack, a child of the conversation's: parking releases just
 * that, the call's teardown releases whatever is left.
 */
import type { Logger } from 'pino';
import type { CallControl, ExternalMediaAddress } from '../ari/call-control';
import type { DisposerStack } from '../lifecycle/disposer-stack';
import type { ConversationLink, ConversationLinkHandlers } from '../media/conversation-link';

export type AgentConnectMode = 'ringing' | 'answer';

export interface AgentConnectSettings {
  mode: AgentConnectMode;
  /** Longest a conversation is held open for a phone that has not answered; undefined: no limit. */
  preconnectMaxMs?: number;
}

/** The agent's side of the call's bridge, once connected. */
export interface AgentLeg {
  readonly link: ConversationLink;
  /** Where Asterisk takes our RTP; undefined when the call ended while it joined. */
  readonly remote: ExternalMediaAddress | undefined;
}

/** What the plan needs of its call. */
export interface AgentConnectHost {
  /**
   * Opens a conversation and joins its ExternalMedia channel (named for `generation`) to the
   * call's bridge, registering every release on `disposers`; `signal` aborts this attempt only.
   * `answered` resolves when the call is answered, with epochNowMs() of the answer: the caller's
   * audio is kept from then on, also while the agent still connects (src/media/caller-audio-hold.ts).
   */
  open(generation: number, signal: AbortSignal, disposers: DisposerStack, answered: Promise<number>): Promise<AgentLeg>;
  /** The conversation's disposer stack: each attempt gets a child of it. */
  readonly disposers: DisposerStack;
  isUnanswered(): boolean;
  /** A timer released with the call. */
  timer(label: string, ms: number, fn: () => void): void;
  /** A conversation opened ahead failed (not parked): the call fails. */
  onFailed(err: unknown): void;
  /** The call's teardown aborts this. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

interface ConnectAttempt {
  readonly generation: number;
  /** Resolves the attempt's `answered` (AgentConnectHost.open). */
  readonly answer: (atEpochMs: number) => void;
  readonly leg: Promise<AgentLeg>;
  readonly abort: AbortController;
  readonly disposers: DisposerStack;
  isParked: boolean;
}

export class AgentConnect {
  readonly #settings: AgentConnectSettings;
  readonly #host: AgentConnectHost;
  #attempt: ConnectAttempt | undefined;
  #generations = 0;

  constructor(settings: AgentConnectSettings, host: AgentConnectHost) {
    this.#settings = settings;
    this.#host = host;
  }

  /** The generation of the attempt the call uses now (its ExternalMedia channel); undefined when none. */
  get generation(): number | undefined {
    return this.#attempt?.generation;
  }

  /** The phone is being dialled: in `ringing` mode the conversation opens now, for a while. */
  dialing(): void {
    if (this.#settings.mode !== 'ringing') return;
    const attempt = this.#open();
    attempt.leg.catch((err: unknown) => {
      if (!attempt.isParked) this.#host.onFailed(err);
    });
    const maxMs = this.#settings.preconnectMaxMs;
    if (maxMs === undefined) return;
    this.#host.timer('agent-preconnect-limit', maxMs, () => {
      if (this.#host.isUnanswered() && this.#attempt === attempt) this.#park(attempt);
    });
  }

  /** Connect now (an inbound call, before it is answered). */
  now(): Promise<AgentLeg> {
    return (this.#attempt ?? this.#open()).leg;
  }

  /**
   * The call was answered: the agent leg to start, and whether the callee hears ringback until it
   * is there (only when it opens now: see the top of this file).
   */
  atAnswer(atEpochMs: number): { leg: Promise<AgentLeg>; hasRingback: boolean } {
    if (this.#attempt !== undefined) {
      this.#attempt.answer(atEpochMs);
      return { leg: this.#attempt.leg, hasRingback: false };
    }
    const attempt = this.#open();
    attempt.answer(atEpochMs);
    return { leg: attempt.leg, hasRingback: true };
  }

  #open(): ConnectAttempt {
    const generation = ++this.#generations;
    const abort = new AbortController();
    const disposers = this.#host.disposers.child(`agent-${generation}`);
    let answer!: (atEpochMs: number) => void;
    const answered = new Promise<number>((resolve) => (answer = resolve));
    const state = { generation, answer, abort, disposers, isParked: false };
    const leg = this.#host.open(generation, AbortSignal.any([this.#host.signal, abort.signal]), disposers, answered);
    const attempt: ConnectAttempt = Object.assign(state, { leg });
    leg.catch(() => undefined); // reported by whoever waits for it
    this.#attempt = attempt;
    return attempt;
  }

  #park(attempt: ConnectAttempt): void {
    attempt.isParked = true;
    this.#attempt = undefined;
    attempt.abort.abort();
    this.#host.log.info({ preconnectMaxS: (this.#settings.preconnectMaxMs ?? 0) / 1000 }, 'phone still ringing: agent conversation and its media released, reopened on answer');
    // The link and the ExternalMedia channel go now (or, when still opening, as soon as they exist:
    // a disposed stack releases what is registered on it at once).
    attempt.disposers.disposeAll().catch((err: unknown) => this.#host.log.debug({ err }, 'parked agent leg not released cleanly'));
  }
}

/**
 * Handlers that pass reports on only while `isCurrent()` says the link is the call's own: a
 * conversation parked while the phone rang says nothing more to the call.
 */
export function whileCurrent(isCurrent: () => boolean, handlers: ConversationLinkHandlers): ConversationLinkHandlers {
  const guarded: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(handlers) as [string, ((...args: unknown[]) => void) | undefined][]) {
    if (typeof fn !== 'function') continue;
    guarded[name] = (...args: unknown[]): void => {
      if (isCurrent()) fn(...args);
    };
  }
  return guarded as unknown as ConversationLinkHandlers;
}

/** Where ringback plays: the answered leg, the call's bridge it is in, the playback's id. */
export interface RingbackTarget {
  channelId: string;
  bridgeId: string;
  playbackId: string;
}

/**
 * Plays ringback (the tone zone's `ring`, asterisk-conf/indications.conf) to the answered leg until
 * the returned stop is called. The leg leaves the call's bridge meanwhile and rejoins it on stop:
 * played to a bridged leg, the tone and then the bridge's audio went out as one RTP stream whose
 * timestamps jump where the one source gives way to the other, and the far end then heard nothing
 * of the agent; a leg joining a bridge starts a new stream (docs/asterisk.md#early-bridge). A
 * failure to play is logged, never fatal: the callee then hears silence for the same short while.
 * The stop rejects only when the leg cannot rejoin the bridge (the call has no audio then).
 */
export async function startRingback(control: CallControl, target: RingbackTarget, log: Logger): Promise<() => Promise<void>> {
  const { channelId, bridgeId, playbackId } = target;
  if (control.playMedia === undefined || control.stopPlayback === undefined) return async () => undefined;
  const stopPlayback = control.stopPlayback.bind(control);
  try {
    await control.removeFromBridge(bridgeId, [channelId]);
  } catch (err) {
    log.debug({ err }, 'could not take the leg out of the bridge for ringback; no ringback');
    return async () => undefined;
  }
  const rejoin = (): Promise<void> => control.addToBridge(bridgeId, [channelId]);
  try {
    await control.playMedia(channelId, playbackId, 'tone:ring');
  } catch (err) {
    log.debug({ err }, 'could not play ringback while the agent connects');
    return rejoin;
  }
  return async () => {
    await stopPlayback(playbackId).catch((err: unknown) => log.debug({ err }, 'could not stop ringback'));
    await rejoin();
  };
}
