/**
 * Which numbers the gateway may dial: a pure check against toll fraud (international revenue share
 * fraud pumps traffic to premium and satellite ranges through stolen API access).
 *
 * Rules, in order:
 *   1. the number must be E.164 (`+`, 8..15 digits, first 1-9);
 *   2. with ALLOWED_PREFIXES set, it must start with one of them;
 *   3. it is denied when it starts with a denied prefix (DENIED_PREFIXES plus, unless switched off,
 *      DEFAULT_DENIED_PREFIXES) — except when an allowed prefix that matches is *longer* than the
 *      longest matching denied one. So `ALLOWED_PREFIXES=+7809555` re-opens one premium range
 *      while `+7` alone does not open `+7809`. On equal length, deny wins.
 */
import { PolicyError } from '../errors';
import { HIGH_RISK_PREFIXES } from './high-risk-prefixes';

/** E.164 (ITU-T E.164 §6) as the API accepts it: "+", 8 to 15 digits, the first 1-9. */
export const E164_NUMBER_PATTERN = /^\+[1-9][0-9]{7,14}$/;
/** A configured prefix: "+" and 1 to 15 digits. */
export const PREFIX_PATTERN = /^\+[0-9]{1,15}$/;
/** The field named in every PolicyError (the API body field that carried the number). */
export const DESTINATION_FIELD = 'phone_number';

/** A denied range with the reason shown to operators and API clients. */
export interface DeniedPrefix {
  readonly prefix: string;
  readonly description: string;
}

/**
 * The built-in high-risk list (src/policy/high-risk-prefixes.ts): premium-rate ranges, satellite and
 * international network codes, NANP codes outside the US and Canada, and high-fraud countries.
 * Denied unless switched off or re-opened by a longer allowed prefix.
 */
export const DEFAULT_DENIED_PREFIXES: readonly DeniedPrefix[] = HIGH_RISK_PREFIXES;

/** Options of `DestinationPolicy`. Prefixes are "+digits", e.g. from `parsePrefixList`. */
export interface DestinationPolicyOptions {
  /** ALLOWED_PREFIXES: when non-empty, only numbers under one of them may be dialled. */
  allowedPrefixes?: readonly string[];
  /** DENIED_PREFIXES: added to the defaults. */
  deniedPrefixes?: readonly string[];
  /** Include DEFAULT_DENIED_PREFIXES. Default true. */
  isDefaultDenyEnabled?: boolean;
}

/** Parse a comma-separated prefix list ("+7809, +449"); throws TypeError naming a bad entry (config time). */
export function parsePrefixList(csv: string | undefined): string[] {
  if (csv === undefined || csv.trim() === '') return [];
  return csv.split(',').map((raw) => {
    const prefix = raw.trim();
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new TypeError(`invalid phone prefix ${JSON.stringify(prefix)}: expected "+" followed by 1-15 digits`);
    }
    return prefix;
  });
}

/** The dialling policy; immutable and side-effect free. */
export class DestinationPolicy {
  readonly #allowed: readonly string[];
  readonly #denied: readonly DeniedPrefix[];

  constructor(options: DestinationPolicyOptions = {}) {
    const { allowedPrefixes = [], deniedPrefixes = [], isDefaultDenyEnabled = true } = options;
    for (const p of [...allowedPrefixes, ...deniedPrefixes]) {
      if (!PREFIX_PATTERN.test(p)) throw new TypeError(`invalid phone prefix ${JSON.stringify(p)}`);
    }
    this.#allowed = [...allowedPrefixes];
    this.#denied = [
      ...(isDefaultDenyEnabled ? DEFAULT_DENIED_PREFIXES : []),
      ...deniedPrefixes.map((prefix) => ({ prefix, description: 'denied by configuration' })),
    ];
  }

  /** The denied prefixes in effect (defaults and configured). */
  get deniedPrefixes(): readonly DeniedPrefix[] {
    return this.#denied;
  }

  /**
   * Why `phoneNumber` may not be dialled, or null when it may. Error messages name the matching
   * prefix, never the full number (logs and responses stay free of it).
   */
  check(phoneNumber: string): PolicyError | null {
    if (!E164_NUMBER_PATTERN.test(phoneNumber)) {
      return new PolicyError('INVALID_DESTINATION', DESTINATION_FIELD, 'must be an E.164 number ("+" and 8-15 digits)');
    }
    const allowedMatch = longestMatch(phoneNumber, this.#allowed);
    if (this.#allowed.length > 0 && allowedMatch === undefined) {
      return new PolicyError('DESTINATION_NOT_ALLOWED', DESTINATION_FIELD, 'destination is outside the allowed prefixes');
    }
    const deniedMatch = longestMatch(phoneNumber, this.#denied.map((d) => d.prefix));
    if (deniedMatch !== undefined && (allowedMatch === undefined || allowedMatch.length <= deniedMatch.length)) {
      const description = this.#denied.find((d) => d.prefix === deniedMatch)?.description ?? 'denied';
      return new PolicyError('DESTINATION_DENIED', DESTINATION_FIELD, `destinations starting with ${deniedMatch} are not allowed (${description})`);
    }
    return null;
  }

  /** `check`, throwing the PolicyError (for use-case code that maps errors at the edge). */
  assertAllowed(phoneNumber: string): void {
    const error = this.check(phoneNumber);
    if (error !== null) throw error;
  }
}

function longestMatch(phoneNumber: string, prefixes: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const p of prefixes) {
    if (phoneNumber.startsWith(p) && (best === undefined || p.length > best.length)) best = p;
  }
  return best;
}
