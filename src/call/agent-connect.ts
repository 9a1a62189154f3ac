/**
 * When a call opens its agent conversation (AGENT_CONNECT): every conversation opened counts
 * against the agent account's concurrency and is billed, and the service closes one after 60 s
 * without user input, so an outbound call must not hold one for a phone that only rings.
 *
 *   ringing: open while the phone rings (the greeting is ready at answer), but for at most
 *            AGENT_PRECONNECT_MAX_S: still ringing then, the socket is closed ("parked") and a new
 *            one opened on answer. Busy, rejected and unanswered calls close it at once (teardown).
 *   answer:  open on answer; the callee hears ringback until the agent is connected.
 *
 * Inbound calls connect before they are answered (the caller hears ringing meanwhile) in both modes.
 */
import type { Logger } from 'pino';
import type { CallControl } from '../ari/call-control';
import type { ConversationLink, ConversationLinkHandlers } from '../media/conversation-link';

export type AgentConnectMode = 'ringing' | 'answer';

export interface AgentConnectSettings {
  mode: AgentConnectMode;
  /** Longest a conversation is held open for a phone that has not answered; undefined: no limit. */
  preconnectMaxMs?: number;
}

/** What the plan needs of its call. */
export interface AgentConnectHost {
  /** Opens a conversation owned by the call; `signal` aborts this attempt only. */
  open(signal: AbortSignal): Promise<ConversationLink>;
  /** Closes a conversation opened too early; its reports are ignored from now on. */
  release(link: ConversationLink): void;
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
  readonly link: Promise<ConversationLink>;
  readonly abort: AbortController;
  isReady: boolean;
  isParked: boolean;
}

export class AgentConnect {
  readonly #settings: AgentConnectSettings;
  readonly #host: AgentConnectHost;
  #attempt: ConnectAttempt | undefined;

  constructor(settings: AgentConnectSettings, host: AgentConnectHost) {
    this.#settings = settings;
    this.#host = host;
  }

  /** The phone is being dialled: in `ringing` mode the conversation opens now, for a while. */
  dialing(): void {
    if (this.#settings.mode !== 'ringing') return;
    const attempt = this.#open();
    attempt.link.catch((err: unknown) => {
      if (!attempt.isParked) this.#host.onFailed(err);
    });
    const maxMs = this.#settings.preconnectMaxMs;
    if (maxMs === undefined) return;
    this.#host.timer('agent-preconnect-limit', maxMs, () => {
      if (this.#host.isUnanswered() && this.#attempt === attempt) this.#park(attempt);
    });
  }

  /** Connect now (an inbound call, before it is answered). */
  now(): Promise<ConversationLink> {
    return (this.#attempt ?? this.#open()).link;
  }

  /** The call was answered: the conversation to bridge (opened now if there is none), and whether it is connected already. */
  atAnswer(): { link: Promise<ConversationLink>; isReady: boolean } {
    const attempt = this.#attempt ?? this.#open();
    return { link: attempt.link, isReady: attempt.isReady };
  }

  #open(): ConnectAttempt {
    const abort = new AbortController();
    const link = this.#host.open(AbortSignal.any([this.#host.signal, abort.signal]));
    const attempt: ConnectAttempt = { link, abort, isReady: false, isParked: false };
    link.then(
      () => void (attempt.isReady = true),
      () => undefined, // reported by whoever waits for it
    );
    this.#attempt = attempt;
    return attempt;
  }

  #park(attempt: ConnectAttempt): void {
    attempt.isParked = true;
    this.#attempt = undefined;
    attempt.abort.abort();
    this.#host.log.info({ preconnectMaxS: (this.#settings.preconnectMaxMs ?? 0) / 1000 }, 'phone still ringing: agent conversation closed, reopened on answer');
    attempt.link.then(
      (link) => this.#host.release(link),
      () => undefined, // aborted while connecting: nothing was left open
    );
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

/**
 * Plays ringback (the tone zone's `ring`, asterisk-conf/indications.conf) to an answered leg until
 * the returned stop is called. A failure to play is logged, never fatal: the callee then hears
 * silence for the same short while.
 */
export async function startRingback(control: CallControl, channelId: string, playbackId: string, log: Logger): Promise<() => Promise<void>> {
  if (control.playMedia === undefined || control.stopPlayback === undefined) return async () => undefined;
  const stop = control.stopPlayback.bind(control);
  try {
    await control.playMedia(channelId, playbackId, 'tone:ring');
  } catch (err) {
    log.debug({ err }, 'could not play ringback while the agent connects');
    return async () => undefined;
  }
  return async () => {
    await stop(playbackId).catch((err: unknown) => log.debug({ err }, 'could not stop ringback'));
  };
}
