/**
 * The call's lifecycle as a pure state machine, and the status it ends in.
 *
 *   dialing ──Ringing──▶ ringing ──answer──▶ answered ──▶ ending ──▶ ended
 *      │                    │                               ▲
 *      └────────────────────┴── hang-up / error / API ──────┘
 *
 * Inbound calls start in `ringing` (the caller hears ringing while the agent connects).
 */
import type { CallStatus } from '../model/call-view';
import type { EndReason } from './hangup-cause';

export type CallState = 'dialing' | 'ringing' | 'answered' | 'ending' | 'ended';

const LEGAL: Readonly<Record<CallState, readonly CallState[]>> = {
  dialing: ['ringing', 'answered', 'ending'],
  ringing: ['answered', 'ending'],
  answered: ['ending'],
  ending: ['ended'],
  ended: [],
};

/** The state after moving `from` → `to`; an illegal move is a programmer error and throws. */
export function nextCallState(from: CallState, to: CallState): CallState {
  if (!LEGAL[from].includes(to)) throw new Error(`illegal call state transition ${from} -> ${to}`);
  return to;
}

/** True once teardown began: events are ignored from here on. */
export function isEndingState(state: CallState): boolean {
  return state === 'ending' || state === 'ended';
}

/** True while the far end has not answered yet. */
export function isUnansweredState(state: CallState): boolean {
  return state === 'dialing' || state === 'ringing';
}

/** The terminal status of a call that ended for `reason`. */
export function finalStatus(reason: EndReason, wasAnswered: boolean, hasError: boolean): CallStatus {
  if (reason === 'answering-machine') return 'completed';
  if (reason === 'busy') return 'busy';
  if (reason === 'no-answer' || reason === 'ring-timeout') return 'no-answer';
  if (hasError || reason === 'rejected' || reason === 'error' || reason === 'agent-error' || reason === 'at-capacity') return 'failed';
  return wasAnswered ? 'completed' : 'failed';
}
