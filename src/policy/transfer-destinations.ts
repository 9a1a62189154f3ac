/**
 * TRANSFER_DESTINATIONS: the numbers an agent may transfer a caller to. A transfer is a call the
 * caller can steer (they talk to the agent, the agent obeys), so it is its own permission on top
 * of the destination policy: only numbers the operator named are dialled.
 *
 * Entries are exact E.164 numbers (`+74951234567`), or prefixes written with a trailing `*`
 * (`+7495123*`). A prefix lets the caller pick any number under it: prefer exact numbers.
 */
import { E164_NUMBER_PATTERN } from './destination-policy';

/** One entry as configured: an exact number, or a prefix ending in `*`. */
export const TRANSFER_DESTINATION_PATTERN = /^\+[1-9][0-9]{7,14}$|^\+[0-9]{1,15}\*$/;

/** The parsed TRANSFER_DESTINATIONS list. Empty: no transfer is allowed. */
export class TransferDestinations {
  readonly #exact: ReadonlySet<string>;
  readonly #prefixes: readonly string[];

  /** Throws RangeError for an entry that is neither form (config validation catches it first). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      if (!TRANSFER_DESTINATION_PATTERN.test(entry)) throw new RangeError(`not an E.164 number or +prefix*: ${entry}`);
    }
    this.#exact = new Set(entries.filter((e) => !e.endsWith('*')));
    this.#prefixes = entries.filter((e) => e.endsWith('*')).map((e) => e.slice(0, -1));
  }

  get isEmpty(): boolean {
    return this.#exact.size === 0 && this.#prefixes.length === 0;
  }

  /** How `phoneNumber` is listed: exactly, under a prefix, or not at all. */
  match(phoneNumber: string): 'exact' | 'prefix' | 'none' {
    if (!E164_NUMBER_PATTERN.test(phoneNumber)) return 'none';
    if (this.#exact.has(phoneNumber)) return 'exact';
    return this.#prefixes.some((p) => phoneNumber.startsWith(p)) ? 'prefix' : 'none';
  }
}
