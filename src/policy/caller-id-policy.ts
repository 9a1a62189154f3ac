/**
 * Which numbers a call may present as its caller ID. With CALLER_IDS set, a request's `caller_id`
 * must be one of them: presenting a number the operator does not own is spoofing (and the carrier
 * may bill or block the trunk for it). Unset, any `caller_id` the API schema accepts goes through,
 * as before. Pure, like the destination policy.
 */
import { PolicyError } from '../errors';

/** The API body field the caller ID comes in. */
export const CALLER_ID_FIELD = 'caller_id';

/** The same number with or without its "+": CALLER_IDS holds E.164, `caller_id` may omit the "+". */
function digitsOf(number: string): string {
  return number.startsWith('+') ? number.slice(1) : number;
}

/** The caller-ID rule; immutable. */
export class CallerIdPolicy {
  readonly #allowed: ReadonlySet<string>;

  /** `allowed`: CALLER_IDS (E.164). Empty: every caller ID the schema accepts is allowed. */
  constructor(allowed: readonly string[] = []) {
    this.#allowed = new Set(allowed.map(digitsOf));
  }

  /** True when a list is configured. */
  get isRestricted(): boolean {
    return this.#allowed.size > 0;
  }

  /** Why `callerId` may not be presented, or null when it may (or none was asked for). Never echoes it. */
  check(callerId: string | undefined): PolicyError | null {
    if (callerId === undefined || !this.isRestricted || this.#allowed.has(digitsOf(callerId))) return null;
    return new PolicyError('CALLER_ID_NOT_ALLOWED', CALLER_ID_FIELD, "must be one of the gateway's own numbers (CALLER_IDS)");
  }

  /** `check`, throwing the PolicyError. */
  assertAllowed(callerId: string | undefined): void {
    const error = this.check(callerId);
    if (error !== null) throw error;
  }
}
