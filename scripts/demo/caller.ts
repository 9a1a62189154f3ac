/**
 * The person on the phone, played by the carrier stand-in plus this module. The stand-in answers
 * and sends a continuous 1 kHz tone; a continuous sound is one endless "utterance" to any VAD. So
 * the demo gates it the way a person talks: the call leg on our PBX is muted (ARI
 * `POST /channels/{id}/mute?direction=in`: nothing from the phone reaches the bridge, and the
 * gateway sends the agent silence) and unmuted for a second or so each time it is the caller's
 * turn. The tone still travels the real path — carrier RTP → PBX → ExternalMedia RTP → gateway →
 * resampler → agent — and the agent's VAD finds the turns in it.
 *
 * Whose turn it is: with the simulator, 0.9 s after the simulator expects the agent's line to have
 * finished playing; with the real ElevenLabs, after an estimate from the agent's transcript text.
 */
import { ariAuthorization, type AriAccess } from '../lib/asterisk-instance';
import { callChannelId } from '../../src/call/ari-ids';
import type { SequencedCallEvent } from '../../src/events/call-events';
import type { ElevenLabsSimulator, SimAgentTurn, SimConversation } from '../../test/fakes/elevenlabs-simulator';
import type { GatewayApi } from './api-client';

/** Pause between the end of the agent's line and the caller's answer, ms. */
const REPLY_GAP_MS = 900;
/** How long the caller talks in successive turns, ms (varied, as people do). */
const TALK_MS = [1400, 1100, 1300, 1000] as const;
/** Real agent: no agent line this long after answer → the caller speaks first. */
const SPEAK_FIRST_AFTER_MS = 8000;

export interface DemoCallerOptions {
  readonly ari: AriAccess;
  readonly api: GatewayApi;
  /** The simulator, when the agent is simulated (turns are timed from its playback estimates). */
  readonly sim: ElevenLabsSimulator | undefined;
  /** A line for the timeline ("caller talks for 1.4 s"). */
  readonly note: (callId: string, text: string) => void;
}

interface CallerState {
  readonly callId: string;
  readonly channelId: string;
  isMuted: boolean;
  isEnded: boolean;
  turns: number;
  timer: NodeJS.Timeout | undefined;
  detach: (() => void) | undefined;
}

/** Drives the caller side of every call it sees on the event stream. `close()` clears its timers. */
export class DemoCaller {
  readonly #opts: DemoCallerOptions;
  readonly #calls = new Map<string, CallerState>();

  constructor(options: DemoCallerOptions) {
    this.#opts = options;
  }

  /** Feed every event of the stream, in order. */
  onEvent(event: SequencedCallEvent): void {
    switch (event.type) {
      case 'dialing':
        // Published before the originate: the channel may not exist yet; 'ringing' tries again.
        this.#background(this.#mute(this.#state(event.call_id), true));
        return;
      case 'ringing':
        this.#background(this.#mute(this.#state(event.call_id), true));
        return;
      case 'answered': {
        const s = this.#state(event.call_id);
        this.#background(this.#mute(s, true).then(() => this.#onAnswered(s)));
        return;
      }
      case 'transcript':
        if (event.role === 'agent' && this.#opts.sim === undefined) {
          // Real agent: its text arrives as its audio starts; ~70 ms a character is a calm speaking pace.
          const s = this.#calls.get(event.call_id);
          if (s !== undefined) this.#schedule(s, Math.min(15_000, Math.max(1500, event.text.length * 70)) + REPLY_GAP_MS);
        }
        return;
      case 'ended':
        this.#forget(event.call_id);
        return;
      default:
        return;
    }
  }

  /** Mute a call leg right after POST /api/calls returned (the channel exists by then). */
  async prepare(callId: string): Promise<void> {
    await this.#mute(this.#state(callId), true);
  }

  close(): void {
    for (const id of [...this.#calls.keys()]) this.#forget(id);
  }

  #state(callId: string): CallerState {
    let s = this.#calls.get(callId);
    if (s === undefined) {
      s = { callId, channelId: callChannelId(callId), isMuted: false, isEnded: false, turns: 0, timer: undefined, detach: undefined };
      this.#calls.set(callId, s);
    }
    return s;
  }

  #forget(callId: string): void {
    const s = this.#calls.get(callId);
    if (s === undefined) return;
    s.isEnded = true;
    clearTimeout(s.timer);
    s.detach?.();
    this.#calls.delete(callId);
  }

  async #onAnswered(s: CallerState): Promise<void> {
    const sim = this.#opts.sim;
    if (sim === undefined) {
      this.#schedule(s, SPEAK_FIRST_AFTER_MS);
      return;
    }
    const conv = await this.#conversationOf(s, sim);
    if (conv === undefined || s.isEnded) return;
    const onTurn = (turn: SimAgentTurn): void => this.#afterAgentTurn(s, conv, turn);
    conv.on('agentTurn', onTurn);
    s.detach = () => conv.off('agentTurn', onTurn);
    // The greeting may have been generated while the phone rang.
    const last = conv.agentTurns.at(-1);
    if (last?.isComplete === true) this.#afterAgentTurn(s, conv, last);
  }

  /** The simulator conversation of this call, by the conversation id the gateway reports. */
  async #conversationOf(s: CallerState, sim: ElevenLabsSimulator): Promise<SimConversation | undefined> {
    for (let attempt = 0; attempt < 30 && !s.isEnded; attempt++) {
      const view = await this.#opts.api.getCall(s.callId).catch(() => undefined); // ended or gateway gone: retry, then give up
      const conv = sim.conversations.find((c) => c.id === view?.conversation_id);
      if (conv !== undefined) return conv;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return undefined;
  }

  #afterAgentTurn(s: CallerState, conv: SimConversation, turn: SimAgentTurn): void {
    if (turn.kind === 'goodbye' || turn.kind === 'max_duration' || conv.closeInfo !== undefined) return;
    this.#schedule(s, Math.max(0, turn.playbackEndAtMs - conv.nowMs()) + REPLY_GAP_MS);
  }

  #schedule(s: CallerState, inMs: number): void {
    if (s.isEnded) return;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => this.#background(this.#talk(s)), inMs);
  }

  /** Runs `work` without waiting; a failure is reported on stderr rather than lost. */
  #background(work: Promise<unknown>): void {
    work.catch((err: unknown) => process.stderr.write(`caller step failed: ${String(err)}\n`));
  }

  async #talk(s: CallerState): Promise<void> {
    if (s.isEnded) return;
    const talkMs = TALK_MS[s.turns % TALK_MS.length]!;
    s.turns += 1;
    if (!(await this.#mute(s, false))) return;
    this.#opts.note(s.callId, `caller talks for ${(talkMs / 1000).toFixed(1)} s (the carrier's 1 kHz tone, unmuted)`);
    s.timer = setTimeout(() => this.#background(this.#mute(s, true)), talkMs);
  }

  /** Mute or unmute the phone's audio into the bridge; false if the channel is gone. */
  async #mute(s: CallerState, isMuted: boolean): Promise<boolean> {
    if (s.isEnded) return false;
    const { ari } = this.#opts;
    const url = `${ari.url}/ari/channels/${encodeURIComponent(s.channelId)}/mute?direction=in`;
    const response = await fetch(url, {
      method: isMuted ? 'POST' : 'DELETE',
      headers: { authorization: ariAuthorization(ari) },
      signal: AbortSignal.timeout(2000),
    }).catch((err: Error) => err);
    if (response instanceof Error) return false; // PBX stopping: the call is ending anyway
    await response.body?.cancel();
    if (response.status === 204) s.isMuted = isMuted;
    return response.status === 204;
  }
}
