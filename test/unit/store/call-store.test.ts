import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeCursor, encodeCursor, type CallListQuery, type CallRecord } from '../../../src/call/call-record';
import { MemoryCallStore, type CallStore } from '../../../src/call/call-store';
import type { CallStatus, CallView } from '../../../src/call/call-view';
import { CALL_DB_DIR_MODE, CALL_DB_FILE_MODE, CALL_DB_SCHEMA_VERSION, IN_MEMORY_DB_PATH, SqliteCallStore } from '../../../src/store/sqlite-call-store';
import { makeCallView } from '../../fakes/fake-call-api';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
const PHONE = '+14155550123';

/** A view created at T0 + `offsetS` seconds, with a readable id ordering. */
function viewAt(offsetS: number, status: CallStatus = 'dialing', id = `00000000-0000-4000-8000-${String(offsetS).padStart(12, '0')}`): CallView {
  return { ...makeCallView(PHONE, id), status, created_at: new Date(T0 + offsetS * 1000).toISOString() };
}

function finished(view: CallView, status: CallStatus = 'completed'): CallView {
  return {
    ...view,
    status,
    answered_at: new Date(Date.parse(view.created_at) + 5_000).toISOString(),
    ended_at: new Date(Date.parse(view.created_at) + 65_000).toISOString(),
    hangup_cause: 16,
    hangup_cause_text: 'Normal Clearing',
    hangup_sip_code: 486,
    end_reason: 'callee',
    conversation_id: 'conv_123',
    transcript: [
      { role: 'agent', text: 'Hello — ünïcødé "quotes" \n newline', at: new Date(T0 + 6_000).toISOString() },
      { role: 'user', text: 'Hi', at: new Date(T0 + 8_000).toISOString() },
    ],
    metrics: { caller_to_ai: { packets: 3000, bytes: 960_000 }, ai_to_caller: { packets: 2900, bytes: 928_000 }, resampling_ops: 5900, errors: 1 },
  };
}

const stores: [string, (nowMs: () => number) => CallStore][] = [
  ['MemoryCallStore', (nowMs) => new MemoryCallStore({ nowMs })],
  ['SqliteCallStore (:memory:)', (nowMs) => SqliteCallStore.open({ path: IN_MEMORY_DB_PATH, nowMs })],
];

for (const [name, create] of stores) {
  describe(`CallStore contract: ${name}`, () => {
    let store: CallStore;
    let nowMs: number;

    beforeEach(() => {
      nowMs = T0 + 3_600_000;
      store = create(() => nowMs);
    });
    afterEach(() => store.close());

    it('get of an unknown id is undefined', () => {
      assert.equal(store.get('nope'), undefined);
    });

    it('save upserts the whole record and get returns it with JSON columns intact', () => {
      const view = viewAt(0);
      store.save(view);
      store.save(finished(view));
      const { status_history: _history, ...rest } = store.get(view.id) as CallRecord;
      assert.deepEqual(rest, finished(view));
    });

    it('keeps a status history with timestamps from the view, or the clock for ringing', () => {
      const view = viewAt(0);
      store.save(view);
      store.save(view); // same status: no new entry
      nowMs = T0 + 2_000;
      store.save({ ...view, status: 'ringing' });
      store.save({ ...view, status: 'answered', answered_at: new Date(T0 + 5_000).toISOString() });
      store.save(finished(view));
      assert.deepEqual(store.get(view.id)?.status_history, [
        { status: 'dialing', at: new Date(T0).toISOString() },
        { status: 'ringing', at: new Date(T0 + 2_000).toISOString() },
        { status: 'answered', at: new Date(T0 + 5_000).toISOString() },
        { status: 'completed', at: new Date(T0 + 65_000).toISOString() },
      ]);
    });

    it('records handed out are copies', () => {
      const view = viewAt(0);
      store.save(view);
      const record = store.get(view.id) as CallRecord;
      record.transcript.push({ role: 'user', text: 'tampered', at: view.created_at });
      record.status_history.length = 0;
      assert.equal(store.get(view.id)?.transcript.length, 0);
      assert.equal(store.get(view.id)?.status_history.length, 1);
    });

    it('lists newest first and pages with a cursor until next_cursor is null', () => {
      for (let i = 0; i < 7; i++) store.save(viewAt(i));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = store.list({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.calls.map((c) => c.id));
        cursor = page.next_cursor ?? undefined;
        pages++;
      } while (cursor !== undefined);
      assert.equal(pages, 3);
      assert.deepEqual(seen, [6, 5, 4, 3, 2, 1, 0].map((i) => viewAt(i).id));
    });

    it('orders calls created in the same millisecond by id, and pages through them', () => {
      const ids = ['a', 'b', 'c', 'd'].map((c) => `${c.repeat(8)}-0000-4000-8000-000000000000`);
      for (const id of ids) store.save(viewAt(0, 'dialing', id));
      const first = store.list({ limit: 2 });
      const second = store.list({ limit: 2, cursor: first.next_cursor ?? '' });
      assert.deepEqual([...first.calls, ...second.calls].map((c) => c.id), [...ids].reverse());
      assert.equal(second.next_cursor, null);
    });

    it('a page exactly filling the limit has no next cursor', () => {
      for (let i = 0; i < 3; i++) store.save(viewAt(i));
      assert.equal(store.list({ limit: 3 }).next_cursor, null);
      assert.notEqual(store.list({ limit: 2 }).next_cursor, null);
    });

    it('new calls arriving between pages do not shift the next page (keyset, not offset)', () => {
      for (let i = 0; i < 4; i++) store.save(viewAt(i));
      const first = store.list({ limit: 2 });
      store.save(viewAt(100));
      const second = store.list({ limit: 2, cursor: first.next_cursor ?? '' });
      assert.deepEqual(second.calls.map((c) => c.id), [viewAt(1).id, viewAt(0).id]);
    });

    it('filters by status (any of several), by time range [from, to) and combines them', () => {
      store.save(finished(viewAt(0), 'completed'));
      store.save(finished(viewAt(10), 'busy'));
      store.save(finished(viewAt(20), 'failed'));
      store.save(viewAt(30, 'ringing'));
      const ids = (q: Omit<CallListQuery, 'limit'>) => store.list({ limit: 200, ...q }).calls.map((c) => c.id);
      assert.deepEqual(ids({ status: ['busy'] }), [viewAt(10).id]);
      assert.deepEqual(ids({ status: ['failed', 'completed'] }), [viewAt(20).id, viewAt(0).id]);
      assert.deepEqual(ids({ status: [] }).length, 4);
      assert.deepEqual(ids({ fromMs: T0 + 10_000, toMs: T0 + 30_000 }), [viewAt(20).id, viewAt(10).id]);
      assert.deepEqual(ids({ fromMs: T0 + 10_000, status: ['failed', 'ringing'] }), [viewAt(30).id, viewAt(20).id]);
      assert.deepEqual(ids({ toMs: T0 }), []);
    });

    it('rejects a bad limit or cursor as a programmer error', () => {
      assert.throws(() => store.list({ limit: 0 }), RangeError);
      assert.throws(() => store.list({ limit: 201 }), RangeError);
      assert.throws(() => store.list({ limit: 1.5 }), RangeError);
      assert.throws(() => store.list({ limit: 10, cursor: 'not a cursor' }), RangeError);
    });

    it('markInFlightAsFailed fails dialing/ringing/answered calls only, with the reason and a history entry', () => {
      store.save(viewAt(0, 'dialing'));
      store.save(viewAt(1, 'ringing'));
      store.save({ ...viewAt(2, 'answered'), answered_at: new Date(T0 + 3_000).toISOString() });
      store.save(finished(viewAt(3), 'completed'));
      nowMs = T0 + 7_200_000;
      const changed = store.markInFlightAsFailed('gateway restarted');
      assert.deepEqual([...changed].sort(), [viewAt(0).id, viewAt(1).id, viewAt(2).id]);
      const answered = store.get(viewAt(2).id) as CallRecord;
      assert.equal(answered.status, 'failed');
      assert.equal(answered.error, 'gateway restarted');
      assert.equal(answered.end_reason, 'gateway-restart');
      assert.equal(answered.ended_at, new Date(nowMs).toISOString());
      assert.deepEqual(answered.status_history.at(-1), { status: 'failed', at: new Date(nowMs).toISOString() });
      assert.equal(store.get(viewAt(3).id)?.status, 'completed');
      assert.deepEqual(store.markInFlightAsFailed('again'), []);
    });
  });
}

describe('SqliteCallStore on a file', () => {
  let dir: string;
  let path: string;
  const open: SqliteCallStore[] = [];
  const openStore = (): SqliteCallStore => {
    const store = SqliteCallStore.open({ path });
    open.push(store);
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vg-store-'));
    path = join(dir, 'nested', 'calls.db'); // the directory is created
  });
  afterEach(() => {
    for (const store of open.splice(0)) store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const modeOf = (file: string): string => (statSync(file).mode & 0o777).toString(8);

  it('creates its folder 0700 and the database, -wal and -shm 0600 (they hold numbers and transcripts)', () => {
    const store = openStore();
    store.save(viewAt(0)); // a write, so the WAL holds data
    assert.equal(CALL_DB_DIR_MODE, 0o700);
    assert.equal(CALL_DB_FILE_MODE, 0o600);
    assert.equal(modeOf(join(dir, 'nested')), '700');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(modeOf(file), '600', file);
  });

  it('tightens files an earlier build left world-readable; leaves an existing folder as it is', () => {
    mkdirSync(join(dir, 'nested'), { mode: 0o755 });
    chmodSync(join(dir, 'nested'), 0o755);
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      writeFileSync(file, '');
      chmodSync(file, 0o644);
    }
    rmSync(`${path}-wal`);
    rmSync(`${path}-shm`);
    writeFileSync(`${path}-shm`, ''); // an -shm left without its -wal: SQLite rebuilds it
    chmodSync(`${path}-shm`, 0o644);
    const store = openStore();
    store.save(viewAt(0));
    assert.equal(modeOf(join(dir, 'nested')), '755');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(modeOf(file), '600', file);
  });

  it('survives close and reopen with every field, history and paging intact', () => {
    const first = openStore();
    assert.equal(first.journalMode, 'wal');
    assert.equal(first.schemaVersion, CALL_DB_SCHEMA_VERSION);
    const done = finished(viewAt(0));
    first.save(viewAt(0));
    first.save(done);
    first.save(viewAt(5, 'ringing'));
    first.close();
    first.close(); // idempotent

    const second = openStore();
    assert.equal(second.schemaVersion, CALL_DB_SCHEMA_VERSION);
    const { status_history: history, ...rest } = second.get(done.id) as CallRecord;
    assert.deepEqual(rest, done);
    assert.deepEqual(history.map((h) => h.status), ['dialing', 'completed']);
    assert.deepEqual(second.list({ limit: 10 }).calls.map((c) => c.id), [viewAt(5).id, done.id]);
  });

  it('crash recovery on reopen: in-flight calls left by the last process become failed', () => {
    const crashed = openStore();
    crashed.save(viewAt(0, 'answered'));
    crashed.save(finished(viewAt(1)));
    // No close(): like kill -9, the WAL holds the committed rows.
    const restarted = openStore();
    assert.deepEqual(restarted.markInFlightAsFailed('gateway restarted'), [viewAt(0).id]);
    assert.equal(restarted.get(viewAt(0).id)?.status, 'failed');
  });

  it('a record committed by a process killed with SIGKILL is there after restart, and recovery marks it', async () => {
    const script = `
      const { SqliteCallStore } = require(${JSON.stringify(join(__dirname, '../../../src/store/sqlite-call-store.ts'))});
      const store = SqliteCallStore.open({ path: process.env.DB_PATH });
      store.save(JSON.parse(process.env.VIEW));
      process.kill(process.pid, 'SIGKILL');
    `;
    const view = { ...viewAt(0, 'answered'), answered_at: new Date(T0 + 1000).toISOString() };
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      env: { ...process.env, DB_PATH: path, VIEW: JSON.stringify(view) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.deepEqual([code, signal], [null, 'SIGKILL']);

    const restarted = openStore();
    assert.equal(restarted.get(view.id)?.status, 'answered');
    assert.deepEqual(restarted.markInFlightAsFailed('gateway restarted'), [view.id]);
    assert.equal(restarted.get(view.id)?.error, 'gateway restarted');
  });

  it('refuses a database whose schema is newer than this build', () => {
    openStore().close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(CALL_DB_SCHEMA_VERSION + 1, new Date().toISOString());
    db.close();
    assert.throws(() => openStore(), /schema version \d+ is newer than this build supports/);
  });

  it('applies migrations once: reopening does not add schema_version rows', () => {
    openStore().close();
    openStore().close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT version FROM schema_version').all();
    db.close();
    assert.deepEqual(
      rows,
      Array.from({ length: CALL_DB_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
    );
  });
});

describe('list cursors', () => {
  it('round-trip and reject anything else', () => {
    const cursor = encodeCursor({ id: '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42', created_at: '2025-03-01T10:00:00.000Z' });
    assert.deepEqual(decodeCursor(cursor), { createdMs: T0, id: '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42' });
    for (const bad of ['', '!!!', 'a'.repeat(200), Buffer.from('x.y').toString('base64url'), Buffer.from("1.a' OR 1=1").toString('base64url')]) {
      assert.equal(decodeCursor(bad), undefined, bad);
    }
  });
});
