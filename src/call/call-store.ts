import type { CallView } from './call-view';

/**
 * Where call records live after (and while) a call runs. In memory for now; the interface is the
 * seam for an embedded or shared database.
 */
export interface CallStore {
  save(view: CallView): void;
  get(id: string): CallView | undefined;
  /** Newest first. */
  list(limit: number): CallView[];
}

/** Keeps the newest `capacity` records in memory. */
export class MemoryCallStore implements CallStore {
  readonly #records = new Map<string, CallView>();
  readonly #capacity: number;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  save(view: CallView): void {
    this.#records.delete(view.id);
    this.#records.set(view.id, view);
    if (this.#records.size > this.#capacity) {
      const oldest = this.#records.keys().next().value;
      if (oldest !== undefined) this.#records.delete(oldest);
    }
  }

  get(id: string): CallView | undefined {
    return this.#records.get(id);
  }

  list(limit: number): CallView[] {
    return [...this.#records.values()].reverse().slice(0, limit);
  }
}
