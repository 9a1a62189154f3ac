/**
 * Why a call ended, as recorded on the call:
 * - callee: the phone hung up after answering
 * - api: DELETE /api/calls/{id}
 * - agent: the agent ended the conversation (end_call, max duration on its side)
 * - agent-error: the agent socket failed or closed abnormally
 * - ring-timeout / no-answer / busy / rejected: the call was never answered
 * - max-duration: our own limit for the call
 * - answering-machine: AMD found a machine and the request asked to hang up on machines
 * - error: ARI or media failure
 * - shutdown: the service stopped
 * - at-capacity / rate-limited: an inbound call refused by admission (src/call/admission.ts), ended
 *   with a cause that sends the carrier elsewhere, never answered
 */
export type EndReason =
  | 'callee'
  | 'api'
  | 'agent'
  | 'agent-error'
  | 'ring-timeout'
  | 'no-answer'
  | 'busy'
  | 'rejected'
  | 'max-duration'
  | 'answering-machine'
  | 'error'
  | 'shutdown'
  | 'at-capacity'
  | 'rate-limited';

/** Q.850 causes Asterisk reports in ChannelDestroyed for calls that never answered. */
export const Q850 = {
  UNALLOCATED_NUMBER: 1,
  NORMAL_CLEARING: 16,
  USER_BUSY: 17,
  NO_USER_RESPONSE: 18,
  NO_ANSWER: 19,
  CALL_REJECTED: 21,
  CONGESTION: 34,
} as const;

/** Maps the hangup cause of an unanswered call to why it ended. */
export function classifyUnanswered(cause: number): EndReason {
  switch (cause) {
    case Q850.USER_BUSY:
      return 'busy';
    case Q850.NO_USER_RESPONSE:
    case Q850.NO_ANSWER:
      return 'no-answer';
    default:
      return 'rejected';
  }
}
