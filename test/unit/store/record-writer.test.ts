import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/logger';
import type { CallRecord } from '../../../src/model/call-record';
import { MemoryCallStore, type CallStore, type CallSummary, type StoreBatch } from '../../../src/store/call-store';
import { RecordWriter, StoreUnavailableError } from '../../../src/store/record-writer';
import { makeCallView } from '../../fakes/fake-call-api';
import { waitFor } from '../../helpers/wait-for';

/** A store whose writes fail while `isFull` (like a full disk), and that counts writes. */
class FlakyStore implements CallStore {
  readonly inner = new MemoryCallStore();
  isFull = false;
  writes = 0;
  async write(batch: StoreBatch): Promise<void> {
    this.writes += 1;
    if (this.isFull) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    await this.inner.write(batch);
  }
  get(id: string): Promise<CallRecord | undefined> {
    return this.inner.get(id);
  }
  list: CallStore['list'] = (q) => this.inner.list(q);
  markInFlightAsFailed: CallStore['markInFlightAsFailed'] = (r) => this.inner.markInFlightAsFailed(r);
  close = (): Promise<void> => this.inner.close();
}

function summaryOf(id: string, status: CallSummary['status'] = 'dialing'): CallSummary {
  const { transcript: _t, ...view } = makeCallView('+79990001122', id);
  return { ...view, status, status_history: [{ status, at: view.created_at }] };
}
const line = (text: string) => ({ role: 'user' as const, text, at: '2026-01-01T00:00:00.000Z' });

describe('RecordWriter (write-behind)', () => {
  let store: FlakyStore;
  let writer: RecordWriter;
  let errors: number;
  beforeEach(() => {
    store = new FlakyStore();
    errors = 0;
    writer = new RecordWriter({ store, log: silentLogger(), onWriteError: () => void (errors += 1), retryMinMs: 5, retryMaxMs: 20 });
  });
  afterEach(() => writer.close());

  it('coalesces a burst of updates of one call into one write', async () => {
    await writer.insert(summaryOf('a'));
    const before = store.writes;
    writer.update(summaryOf('a', 'ringing'));
    writer.update(summaryOf('a', 'answered'));
    writer.append('a', 0, line('one'));
    writer.append('a', 1, line('two'));
    assert.equal(await writer.flush(1000), 0);
    assert.equal(store.writes - before, 1);
    const record = await store.get('a');
    assert.equal(record?.status, 'answered');
    assert.deepEqual(record?.transcript.map((t) => t.text), ['one', 'two']);
  });

  it('a full disk: the insert of a new call is refused; live calls keep going; nothing is lost once it writes again', async () => {
    await writer.insert(summaryOf('live'));
    store.isFull = true;
    writer.update(summaryOf('live', 'answered'));
    writer.append('live', 0, line('hello'));
    await waitFor(() => !writer.isHealthy, { what: 'the writer notices the failure' });
    await assert.rejects(writer.insert(summaryOf('new')), StoreUnavailableError);
    // What waits for the store is still visible.
    assert.equal(writer.pendingOf('live').summary?.status, 'answered');
    assert.deepEqual(writer.pendingOf('live').lines.map((l) => l.entry.text), ['hello']);
    writer.append('live', 1, line('still talking'));
    store.isFull = false;
    await waitFor(() => writer.isHealthy && writer.pendingCount === 0, { what: 'the backlog written' });
    const record = await store.get('live');
    assert.equal(record?.status, 'answered');
    assert.deepEqual(record?.transcript.map((t) => t.text), ['hello', 'still talking']);
    assert.equal(await store.get('new'), undefined, 'a refused call has no record');
    assert.ok(errors >= 1);
    await writer.insert(summaryOf('after'));
  });

  it('with nothing pending, an insert is the probe: it fails while the store fails and lands once it works', async () => {
    store.isFull = true;
    await assert.rejects(writer.insert(summaryOf('x')), StoreUnavailableError);
    assert.equal(writer.isHealthy, false);
    assert.equal(writer.pendingCount, 0, 'the refused call left nothing behind');
    store.isFull = false;
    await writer.insert(summaryOf('y'));
    assert.equal(writer.isHealthy, true);
  });

  it('a newer summary that arrived during a failed write wins over the failed one', async () => {
    await writer.insert(summaryOf('a'));
    store.isFull = true;
    writer.update(summaryOf('a', 'ringing'));
    await waitFor(() => !writer.isHealthy);
    writer.update(summaryOf('a', 'completed'));
    store.isFull = false;
    await writer.flush(1000);
    assert.equal((await store.get('a'))?.status, 'completed');
  });

  it('flush gives up after its timeout and says how much is left', async () => {
    await writer.insert(summaryOf('a'));
    store.isFull = true;
    writer.update(summaryOf('a', 'completed'));
    assert.equal(await writer.flush(30), 1);
  });
});
