/**
 * What an attempt's end means for its lead (pure): the outcome from the call's final status, then
 * retry or a final state by the campaign's retry policy (docs/campaigns.md).
 *
 *   completed, or answered then failed ────► completed (answered, or answering-machine)
 *   busy / no-answer / failed ─ attempts ≥ rule.attempts ─────────► failed (reason = outcome)
 *                             ├ the campaign was cancelled ────────► cancelled
 *                             └ otherwise ─────────────────────────► waiting (due delay_s later)
 */
import type { LeadReason, RetryPolicy, RetryRule } from '../model/campaign';
import type { CallStatus } from '../model/call-view';
import type { LeadAfterAttempt } from '../store/campaign-store';

const TERMINAL: readonly CallStatus[] = ['completed', 'busy', 'no-answer', 'failed'];

/** How a campaign call ended, as its retry policy sees it. */
export type AttemptOutcome = 'completed' | 'busy' | 'no-answer' | 'failed';

/**
 * The outcome of a call that ended with `status` (null while it has not ended). A call that was
 * answered reached its person whatever ended it afterwards (an agent error, a gateway restart):
 * it completes the lead, so nobody is called again after talking to the agent.
 */
export function outcomeOf(status: CallStatus, endReason: string | null, wasAnswered = false): { outcome: AttemptOutcome; reason: LeadReason } | null {
  if (wasAnswered && TERMINAL.includes(status)) return { outcome: 'completed', reason: endReason === 'answering-machine' ? 'answering-machine' : 'answered' };
  switch (status) {
    case 'completed':
      return { outcome: 'completed', reason: endReason === 'answering-machine' ? 'answering-machine' : 'answered' };
    case 'busy':
      return { outcome: 'busy', reason: 'busy' };
    case 'no-answer':
      return { outcome: 'no-answer', reason: 'no-answer' };
    case 'failed':
      return { outcome: 'failed', reason: 'failed' };
    default:
      return null;
  }
}

export function ruleFor(policy: RetryPolicy, outcome: Exclude<AttemptOutcome, 'completed'>): RetryRule {
  return outcome === 'busy' ? policy.busy : outcome === 'no-answer' ? policy.no_answer : policy.failed;
}

/**
 * Where the lead goes after its `attempts`-th attempt ended with `outcome`. `canRetry` is false once
 * the campaign is cancelled: nothing more is dialled for it.
 */
export function leadAfterAttempt(
  result: { outcome: AttemptOutcome; reason: LeadReason },
  attempts: number,
  policy: RetryPolicy,
  nowMs: number,
  canRetry: boolean,
): LeadAfterAttempt {
  if (result.outcome === 'completed') return { state: 'completed', reason: result.reason, nextAttemptMs: null };
  const rule = ruleFor(policy, result.outcome);
  if (attempts >= rule.attempts) return { state: 'failed', reason: result.reason, nextAttemptMs: null };
  if (!canRetry) return { state: 'cancelled', reason: 'cancelled', nextAttemptMs: null };
  return { state: 'waiting', reason: result.reason, nextAttemptMs: nowMs + rule.delay_s * 1000 };
}
