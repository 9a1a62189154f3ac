/**
 * What an ARI event of the call's own leg means for the call: a pure interpreter from events to
 * intents, so the rules (which event ends a call, and why; what a StasisStart after AMD is) are
 * tested without Asterisk. The Call carries the intents out.
 */
import type { AriEvent } from '../ari/ari-events';
import { isEndingState, isUnansweredState, type CallState } from './call-state';
import { classifyUnanswered, type EndReason } from './hangup-cause';

/** `cause` bit of a soft ChannelHangupRequest sent while Asterisk shuts down (channel.h AST_SOFTHANGUP_SHUTDOWN). */
const AST_SOFTHANGUP_SHUTDOWN = 0x04;

/** What the call knows when an event of its leg arrives. */
export interface LegContext {
  readonly state: CallState;
  readonly direction: 'outbound' | 'inbound';
  readonly isAnswered: boolean;
  /** The leg left Stasis for the AMD dialplan and comes back with `amd,<status>,<cause>`. */
  readonly isInAmd: boolean;
}

/** One thing the call must do because of an event. */
export type LegIntent =
  | { kind: 'record-hangup-cause'; cause: number; text: string; sipCode: number | null }
  | { kind: 'ringing' }
  | { kind: 'answered' }
  | { kind: 'amd-result'; status: string; cause: string }
  | { kind: 'asterisk-shutdown' }
  | { kind: 'dtmf'; digit: string }
  | { kind: 'end'; reason: EndReason };

/** The intents of `event` in `ctx`, in the order to carry them out. */
export function interpretLegEvent(ctx: LegContext, event: AriEvent): LegIntent[] {
  const intents: LegIntent[] = [];
  // StasisEnd comes a few ms before ChannelDestroyed: the call may already be ending, but its
  // cause is still worth recording.
  if (event.type === 'ChannelDestroyed') {
    const sipCode = typeof event.tech_cause === 'number' && event.tech_cause > 0 ? event.tech_cause : null;
    intents.push({ kind: 'record-hangup-cause', cause: event.cause, text: event.cause_txt, sipCode });
  }
  if (isEndingState(ctx.state)) return intents;
  // An outbound leg is created in Stasis and dialled from there (docs/asterisk.md#early-bridge):
  // its answer is the channel going Up (or the Dial ANSWER that comes with it), not a StasisStart.
  const isOutboundAnswer = ctx.direction === 'outbound' && !ctx.isAnswered && isUnansweredState(ctx.state);
  switch (event.type) {
    case 'ChannelStateChange':
      if (event.channel.state === 'Ringing' && ctx.state === 'dialing') intents.push({ kind: 'ringing' });
      else if (event.channel.state === 'Up' && isOutboundAnswer) intents.push({ kind: 'answered' });
      break;
    case 'Dial':
      if (event.dialstatus === 'RINGING' && ctx.state === 'dialing') intents.push({ kind: 'ringing' });
      else if (event.dialstatus === 'ANSWER' && isOutboundAnswer) intents.push({ kind: 'answered' });
      break;
    case 'StasisStart':
      // A leg back from the AMD dialplan; the outbound leg's first StasisStart is its creation.
      if (event.args[0] === 'amd') intents.push({ kind: 'amd-result', status: event.args[1] ?? 'NOTSURE', cause: event.args[2] ?? '' });
      break;
    case 'ChannelHangupRequest':
      // Asterisk shutting down hangs up every channel and then reports a plain Normal Clearing:
      // only this soft hangup request tells it apart from the callee hanging up.
      if (event.soft === true && ((event.cause ?? 0) & AST_SOFTHANGUP_SHUTDOWN) !== 0) intents.push({ kind: 'asterisk-shutdown' });
      break;
    case 'ChannelDtmfReceived':
      intents.push({ kind: 'dtmf', digit: event.digit });
      break;
    case 'ChannelDestroyed':
      intents.push({ kind: 'end', reason: ctx.isAnswered ? 'callee' : classifyUnanswered(event.cause) });
      break;
    case 'StasisEnd':
      // Leaving Stasis for the AMD dialplan is not a hang-up: the channel comes back. An inbound
      // leg may never get ChannelDestroyed while it stays in the app, so StasisEnd ends it.
      if (ctx.isAnswered && !ctx.isInAmd) intents.push({ kind: 'end', reason: 'callee' });
      break;
    default:
      break;
  }
  return intents;
}
