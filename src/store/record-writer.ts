import type { Logger } from 'pino';
import type { TranscriptEntry } from '../model/call-view';
import type { CallStore, CallSummary, StoreBatch, TranscriptLine } from './call-store';
import type { OutboxEvent } from './webhook-outbox';

/** Options of `RecordWriter`. */
export interface RecordWriterOptions {
  store: CallStore;
  log: Logger;
  /** Each failed write (for the store-errors counter). */
  onWriteError?: (err: unknown) => void;
  /** Backoff after a failed write: starts here, doubles, capped at `retryMaxMs`; ±20 % jitter. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** A write that carried webhook events landed (the deliverer can look for them now). */
  onOutboxWritten?: () => void;
}

/** Why `insert` refused: the store cannot write now, so the call must not be placed. */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the call record could not be written', { cause });
    this.name = 'StoreUnavailableError';
  }
}

interface PendingInsert {
  readonly id: string;
  /** Its webhook events: dropped with it if it is refused. */
  readonly outbox: readonly OutboxEvent[];
  readonly resolve: () => void;
  readonly reject: (err: StoreUnavailableError) => void;
}

/**
 * Write-behind between live calls and the `CallStore`. Calls hand over their latest summary and
 * each new transcript line and go on at once; the writer batches everything pending into one store
 * write per turn of the event loop, so a call's many updates in a burst cost one row write.
 *
 * A failed write is logged, counted and retried with backoff; nothing is thrown back into a call,
 * and pending updates stay in memory (newer summaries replace older ones, lines keep their order)
 * until the store takes them, so none is lost while it is down. `insert` is the exception on
 * purpose: a new call waits for its first write, and is refused if it fails — a call that cannot
 * be recorded is not placed.
 *
 *   update/append ──► pending ──(next macrotask)──► store.write(batch)
 *                        ▲                              │ fails
 *                        └──── re-queued, retry in 100 ms … 5 s ◄──┘
 */
export class RecordWriter {
  readonly #store: CallStore;
  readonly #log: Logger;
  readonly #onWriteError: (err: unknown) => void;
  readonly #onOutboxWritten: (() => void) | undefined;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  #summaries = new Map<string, CallSummary>();
  #lines: TranscriptLine[] = [];
  /** Changed lines by `lineKey`; the newest change of a line replaces an older one. */
  #lineUpdates = new Map<string, TranscriptLine>();
  /** Webhook events, in the order their changes happened (never coalesced: each reports one change). */
  #outbox: OutboxEvent[] = [];
  #inserts: PendingInsert[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failures = 0;
  #isHealthy = true;
  #isClosed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: RecordWriterOptions) {
    this.#store = options.store;
    this.#log = options.log;
    this.#onWriteError = options.onWriteError ?? (() => undefined);
    this.#onOutboxWritten = options.onOutboxWritten;
    this.#retryMinMs = options.retryMinMs ?? 100;
    this.#retryMaxMs = options.retryMaxMs ?? 5000;
  }

  /** False from a failed write until a write succeeds again. */
  get isHealthy(): boolean {
    return this.#isHealthy;
  }

  /** Summaries and lines waiting for the store. */
  get pendingCount(): number {
    return this.#summaries.size + this.#lines.length + this.#lineUpdates.size + this.#outbox.length;
  }

  /**
   * The first write of a new call. Resolves once it landed; rejects with StoreUnavailableError when
   * the store cannot write (at once while earlier writes are still failing).
   */
  insert(summary: CallSummary, outbox: readonly OutboxEvent[] = []): Promise<void> {
    if (this.#isClosed) return Promise.reject(new StoreUnavailableError(new Error('record writer closed')));
    // While older writes wait for a retry the store is known to be failing: refuse now rather than
    // hold the request until the next attempt. With nothing pending, this write is the probe.
    if (!this.#isHealthy && this.pendingCount > 0) return Promise.reject(new StoreUnavailableError(new Error('the store is failing')));
    return new Promise<void>((resolve, reject) => {
      this.#summaries.set(summary.id, summary);
      this.#outbox.push(...outbox);
      this.#inserts.push({ id: summary.id, outbox, resolve, reject });
      this.#schedule(0);
    });
  }

  /**
   * The call's latest summary; replaces any not yet written. `outbox`: webhook events reporting
   * this change, written in the same store transaction (never coalesced, kept in order).
   */
  update(summary: CallSummary, outbox: readonly OutboxEvent[] = []): void {
    if (this.#isClosed) return;
    this.#summaries.set(summary.id, summary);
    this.#outbox.push(...outbox);
    this.#schedule(0);
  }

  /** A new transcript line of `callId`, the `seq`-th (0-based). */
  append(callId: string, seq: number, entry: TranscriptEntry): void {
    if (this.#isClosed) return;
    this.#lines.push({ callId, seq, entry });
    this.#schedule(0);
  }

  /**
   * Line `seq` of `callId` changed after it was appended (what the caller heard, a correction).
   * A line still waiting to be written is changed where it waits.
   */
  replaceLine(callId: string, seq: number, entry: TranscriptEntry): void {
    if (this.#isClosed) return;
    const waiting = this.#lines.findIndex((l) => l.callId === callId && l.seq === seq);
    if (waiting >= 0) this.#lines[waiting] = { callId, seq, entry };
    else this.#lineUpdates.set(lineKey(callId, seq), { callId, seq, entry });
    this.#schedule(0);
  }

  /**
   * What is still waiting for the store for `callId` (the freshest data, when the call is no longer
   * live): its summary, and its new and changed lines in `seq` order.
   */
  pendingOf(callId: string): { summary: CallSummary | undefined; lines: TranscriptLine[] } {
    const lines = [...this.#lines, ...this.#lineUpdates.values()].filter((l) => l.callId === callId).sort((a, b) => a.seq - b.seq);
    return { summary: this.#summaries.get(callId), lines };
  }

  /**
   * Waits until everything pending was written, or `timeoutMs` passed (the store may be down).
   * Resolves to the number of summaries and lines still pending.
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.#isIdle()) return 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule(0);
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      this.#idleWaiters.push(resolve);
    });
    clearTimeout(timer);
    return this.pendingCount;
  }

  /** Stops writing; pending data is dropped (call `flush` first). Idempotent. */
  close(): void {
    this.#isClosed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const insert of this.#inserts) insert.reject(new StoreUnavailableError(new Error('record writer closed')));
    this.#inserts = [];
    this.#wakeIdleWaiters();
  }

  #isIdle(): boolean {
    return this.pendingCount === 0 && this.#running === undefined;
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined || this.#running !== undefined || this.#isClosed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
        if (this.pendingCount > 0) this.#schedule(this.#isHealthy ? 0 : this.#backoffMs());
        else this.#wakeIdleWaiters();
      });
    }, delayMs);
  }

  async #run(): Promise<void> {
    const batch: StoreBatch = {
      summaries: [...this.#summaries.values()],
      lines: this.#lines,
      lineUpdates: [...this.#lineUpdates.values()],
      outbox: this.#outbox,
    };
    const inserts = this.#inserts;
    this.#summaries = new Map();
    this.#lines = [];
    this.#lineUpdates = new Map();
    this.#outbox = [];
    this.#inserts = [];
    if (batch.summaries.length === 0 && batch.lines.length === 0 && batch.lineUpdates?.length === 0 && batch.outbox?.length === 0) return;
    try {
      await this.#store.write(batch);
      if ((batch.outbox?.length ?? 0) > 0) this.#onOutboxWritten?.();
      if (!this.#isHealthy) this.#log.info({ failedAttempts: this.#failures }, 'call store writes again');
      this.#failures = 0;
      this.#isHealthy = true;
      for (const insert of inserts) insert.resolve();
    } catch (err) {
      this.#failures += 1;
      this.#isHealthy = false;
      this.#onWriteError(err);
      // The first failure of a streak is worth a warning; the retries of the same fault are not.
      if (this.#failures === 1) this.#log.warn({ err, pending: batch.summaries.length + batch.lines.length }, 'call store write failed; retrying');
      else this.#log.debug({ err, attempt: this.#failures }, 'call store write failed again');
      const refused = new Set(inserts.map((i) => i.id));
      for (const insert of inserts) insert.reject(new StoreUnavailableError(err));
      this.#requeue(batch, refused, new Set(inserts.flatMap((i) => i.outbox)));
    }
  }

  /** Puts a failed batch back in front of what arrived meanwhile; refused new calls are dropped. */
  #requeue(batch: StoreBatch, refused: ReadonlySet<string>, refusedEvents: ReadonlySet<OutboxEvent>): void {
    const newer = this.#summaries;
    this.#summaries = new Map();
    for (const summary of batch.summaries) {
      if (!refused.has(summary.id) && !newer.has(summary.id)) this.#summaries.set(summary.id, summary);
    }
    for (const [id, summary] of newer) this.#summaries.set(id, summary);
    this.#lines = [...batch.lines.filter((l) => !refused.has(l.callId)), ...this.#lines];
    const newerUpdates = this.#lineUpdates;
    this.#lineUpdates = new Map();
    for (const line of batch.lineUpdates ?? []) if (!refused.has(line.callId)) this.#lineUpdates.set(lineKey(line.callId, line.seq), line);
    for (const [key, line] of newerUpdates) this.#lineUpdates.set(key, line);
    // Events of refused new calls go with them; the rest go first, in their order.
    this.#outbox = [...(batch.outbox ?? []).filter((e) => !refusedEvents.has(e)), ...this.#outbox];
  }

  #backoffMs(): number {
    const base = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** Math.max(0, this.#failures - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  #wakeIdleWaiters(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

function lineKey(callId: string, seq: number): string {
  return `${callId}\u0000${seq}`;
}
