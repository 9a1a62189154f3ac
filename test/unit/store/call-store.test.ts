import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeCursor, encodeCursor, type CallListQuery, type CallRecord, type StatusChange } from '../../../src/model/call-record';
import { MemoryCallStore, type CallStore } from '../../../src/store/call-store';
import type { CallStatus, CallView } from '../../../src/model/call-view';
import { CALL_DB_DIR_MODE, CALL_DB_FILE_MODE, CALL_DB_SCHEMA_VERSION, IN_MEMORY_DB_PATH, MIGRATIONS, SqliteCallStore } from '../../../src/store/sqlite-call-store';
import { makeCallView } from '../../fakes/fake-call-api';
import { PostgresCallStore } from '../../../src/store/postgres-call-store';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from '../../../src/store/postgres-migrations';
import { silentLogger } from '../../../src/logger';
import { testPostgres } from '../../helpers/test-postgres';
import { endedCallEvents, WebhookPublisher } from '../../../src/webhooks/webhook-events';

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

/** The record of `view` with the status history given (default: its one status at created_at). */
function recordOf(view: CallView, history?: StatusChange[]): CallRecord {
  return { ...view, status_history: history ?? [{ status: view.status, at: view.created_at }] };
}

/** Writes `view` whole: its summary and every transcript line. */
async function save(store: CallStore, view: CallView, history?: StatusChange[]): Promise<void> {
  const { transcript, ...summary } = recordOf(view, history);
  await store.write({ summaries: [summary], lines: transcript.map((entry, seq) => ({ callId: view.id, seq, entry })) });
}

/** The node the stores under test belong to (crash recovery is per node). */
const NODE = 'node-a';

/** PostgreSQL of this test file: its own server (test/helpers/test-postgres.ts), a fresh database per test. */
const postgres = testPostgres();

const stores: [string, (nowMs: () => number) => CallStore | Promise<CallStore>][] = [
  ['MemoryCallStore', (nowMs) => new MemoryCallStore({ nowMs, nodeId: NODE })],
  ['SqliteCallStore (:memory:)', (nowMs) => SqliteCallStore.open({ path: IN_MEMORY_DB_PATH, nowMs, nodeId: NODE })],
  ['PostgresCallStore', async (nowMs) => PostgresCallStore.open({ url: await postgres.freshDatabase(), nowMs, nodeId: NODE, log: silentLogger() })],
];

for (const [name, create] of stores) {
  describe(`CallStore contract: ${name}`, () => {
    let store: CallStore;
    let nowMs: number;
    const get = async (id: string): Promise<CallRecord | undefined> => store.get(id);
    const ids = async (q: CallListQuery): Promise<string[]> => (await store.list(q)).calls.map((c) => c.id);

    beforeEach(async () => {
      nowMs = T0 + 3_600_000;
      store = await create(() => nowMs);
    });
    afterEach(() => store.close());

    it('get of an unknown id is undefined', async () => {
      assert.equal(await get('nope'), undefined);
    });

    it('a summary upserts the record; get returns it with its transcript and JSON columns intact', async () => {
      const view = viewAt(0);
      await save(store, view);
      const history: StatusChange[] = [
        { status: 'dialing', at: view.created_at },
        { status: 'completed', at: new Date(T0 + 65_000).toISOString() },
      ];
      await save(store, finished(view), history);
      assert.deepEqual(await get(view.id), recordOf(finished(view), history));
    });

    it('appends transcript lines across writes, in order, and keeps a re-sent line once', async () => {
      const view = viewAt(0);
      const { transcript: _t, ...summary } = recordOf(view);
      const line = (seq: number, text: string) => ({ callId: view.id, seq, entry: { role: 'user' as const, text, at: view.created_at } });
      await store.write({ summaries: [summary], lines: [line(0, 'one')] });
      await store.write({ summaries: [], lines: [line(1, 'two'), line(2, 'three')] });
      await store.write({ summaries: [{ ...summary, status: 'answered' }], lines: [line(2, 'three')] });
      const record = await get(view.id);
      assert.deepEqual(record?.transcript.map((t) => t.text), ['one', 'two', 'three']);
      assert.equal(record?.status, 'answered');
    });

    it('records handed out are copies', async () => {
      const view = viewAt(0);
      await save(store, view);
      const record = (await get(view.id)) as CallRecord;
      record.transcript.push({ role: 'user', text: 'tampered', at: view.created_at });
      record.status_history.length = 0;
      assert.equal((await get(view.id))?.transcript.length, 0);
      assert.equal((await get(view.id))?.status_history.length, 1);
    });

    it('lists newest first and pages with a cursor until next_cursor is null', async () => {
      for (let i = 0; i < 7; i++) await save(store, viewAt(i));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.calls.map((c) => c.id));
        cursor = page.next_cursor ?? undefined;
        pages++;
      } while (cursor !== undefined);
      assert.equal(pages, 3);
      assert.deepEqual(seen, [6, 5, 4, 3, 2, 1, 0].map((i) => viewAt(i).id));
    });

    it('orders calls created in the same millisecond by id, and pages through them', async () => {
      const callIds = ['a', 'b', 'c', 'd'].map((c) => `${c.repeat(8)}-0000-4000-8000-000000000000`);
      for (const id of callIds) await save(store, viewAt(0, 'dialing', id));
      const first = await store.list({ limit: 2 });
      const second = await store.list({ limit: 2, cursor: first.next_cursor ?? '' });
      assert.deepEqual([...first.calls, ...second.calls].map((c) => c.id), [...callIds].reverse());
      assert.equal(second.next_cursor, null);
    });

    it('a page exactly filling the limit has no next cursor', async () => {
      for (let i = 0; i < 3; i++) await save(store, viewAt(i));
      assert.equal((await store.list({ limit: 3 })).next_cursor, null);
      assert.notEqual((await store.list({ limit: 2 })).next_cursor, null);
    });

    it('new calls arriving between pages do not shift the next page (keyset, not offset)', async () => {
      for (let i = 0; i < 4; i++) await save(store, viewAt(i));
      const first = await store.list({ limit: 2 });
      await save(store, viewAt(100));
      assert.deepEqual(await ids({ limit: 2, cursor: first.next_cursor ?? '' }), [viewAt(1).id, viewAt(0).id]);
    });

    it('filters by status (any of several), by time range [from, to) and combines them', async () => {
      await save(store, finished(viewAt(0), 'completed'));
      await save(store, finished(viewAt(10), 'busy'));
      await save(store, finished(viewAt(20), 'failed'));
      await save(store, viewAt(30, 'ringing'));
      const q = (filter: Omit<CallListQuery, 'limit'>) => ids({ limit: 200, ...filter });
      assert.deepEqual(await q({ status: ['busy'] }), [viewAt(10).id]);
      assert.deepEqual(await q({ status: ['failed', 'completed'] }), [viewAt(20).id, viewAt(0).id]);
      assert.deepEqual((await q({ status: [] })).length, 4);
      assert.deepEqual(await q({ fromMs: T0 + 10_000, toMs: T0 + 30_000 }), [viewAt(20).id, viewAt(10).id]);
      assert.deepEqual(await q({ fromMs: T0 + 10_000, status: ['failed', 'ringing'] }), [viewAt(30).id, viewAt(20).id]);
      assert.deepEqual(await q({ toMs: T0 }), []);
    });

    it('rejects a bad limit or cursor as a programmer error', async () => {
      await assert.rejects(store.list({ limit: 0 }), RangeError);
      await assert.rejects(store.list({ limit: 201 }), RangeError);
      await assert.rejects(store.list({ limit: 1.5 }), RangeError);
      await assert.rejects(store.list({ limit: 10, cursor: 'not a cursor' }), RangeError);
    });

    it('markInFlightAsFailed fails dialing/ringing/answered calls only, with the reason and a history entry', async () => {
      await save(store, viewAt(0, 'dialing'));
      await save(store, viewAt(1, 'ringing'));
      await save(store, { ...viewAt(2, 'answered'), answered_at: new Date(T0 + 3_000).toISOString() });
      await save(store, finished(viewAt(3), 'completed'));
      nowMs = T0 + 7_200_000;
      const changed = await store.markInFlightAsFailed('gateway restarted');
      assert.deepEqual([...changed].sort(), [viewAt(0).id, viewAt(1).id, viewAt(2).id]);
      const answered = (await get(viewAt(2).id)) as CallRecord;
      assert.equal(answered.status, 'failed');
      assert.equal(answered.error, 'gateway restarted');
      assert.equal(answered.end_reason, 'gateway-restart');
      assert.equal(answered.ended_at, new Date(nowMs).toISOString());
      assert.deepEqual(answered.status_history.at(-1), { status: 'failed', at: new Date(nowMs).toISOString() });
      assert.equal((await get(viewAt(3).id))?.status, 'completed');
      assert.deepEqual(await store.markInFlightAsFailed('again'), []);
    });

    it('markInFlightAsFailed leaves the calls of other nodes alone; node_id round-trips', async () => {
      await save(store, { ...viewAt(0, 'answered'), node_id: NODE });
      await save(store, { ...viewAt(1, 'answered'), node_id: 'node-b' });
      await save(store, viewAt(2, 'ringing')); // a record from before calls named their node
      assert.deepEqual([...(await store.markInFlightAsFailed('gateway restarted'))].sort(), [viewAt(0).id, viewAt(2).id]);
      assert.equal((await get(viewAt(1).id))?.status, 'answered');
      assert.equal((await get(viewAt(1).id))?.node_id, 'node-b');
      assert.equal((await get(viewAt(0).id))?.node_id, NODE);
    });
  });
}

describe('SqliteCallStore on a file', () => {
  let dir: string;
  let path: string;
  const open: SqliteCallStore[] = [];
  const openStore = (busyTimeoutMs?: number): SqliteCallStore => {
    const store = SqliteCallStore.open({ path, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
    open.push(store);
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vg-store-'));
    path = join(dir, 'nested', 'calls.db'); // the directory is created
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const modeOf = (file: string): string => (statSync(file).mode & 0o777).toString(8);

  it('creates its folder 0700 and the database, -wal and -shm 0600 (they hold numbers and transcripts)', async () => {
    const store = openStore();
    await save(store, viewAt(0)); // a write, so the WAL holds data
    assert.equal(CALL_DB_DIR_MODE, 0o700);
    assert.equal(CALL_DB_FILE_MODE, 0o600);
    assert.equal(modeOf(join(dir, 'nested')), '700');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(modeOf(file), '600', file);
  });

  it('tightens files an earlier build left world-readable; leaves an existing folder as it is', async () => {
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
    await save(store, viewAt(0));
    assert.equal(modeOf(join(dir, 'nested')), '755');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(modeOf(file), '600', file);
  });

    it('survives close and reopen with every field, history, transcript and paging intact', async () => {
    const first = openStore();
    assert.equal(first.journalMode, 'wal');
    assert.equal(first.schemaVersion, CALL_DB_SCHEMA_VERSION);
    const done = finished(viewAt(0));
    await save(first, viewAt(0));
    await save(first, done, [{ status: 'dialing', at: done.created_at }, { status: 'completed', at: done.ended_at ?? '' }]);
    await save(first, viewAt(5, 'ringing'));
    await first.close();
    await first.close(); // idempotent

    const second = openStore();
    assert.equal(second.schemaVersion, CALL_DB_SCHEMA_VERSION);
    const { status_history: history, ...rest } = (await second.get(done.id)) as CallRecord;
    assert.deepEqual(rest, done);
    assert.deepEqual(history.map((h) => h.status), ['dialing', 'completed']);
    assert.deepEqual((await second.list({ limit: 10 })).calls.map((c) => c.id), [viewAt(5).id, done.id]);
  });

  it('a batch is all or nothing: a bad summary leaves the good ones and the lines unwritten', async () => {
    const store = openStore();
    const good = recordOf(finished(viewAt(0)));
    const { transcript, ...summary } = good;
    const bad = { ...summary, id: 'bad', created_at: 'not a date' };
    await assert.rejects(store.write({ summaries: [summary, bad], lines: transcript.map((entry, seq) => ({ callId: good.id, seq, entry })) }));
    assert.equal(await store.get(good.id), undefined);
  });

  it('takes the write lock up front: while another connection holds it, a write fails after the busy timeout instead of hanging', async () => {
    const store = openStore(50);
    await save(store, viewAt(0));
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      await assert.rejects(save(store, viewAt(1)), /database is locked/);
      other.exec('ROLLBACK');
      await save(store, viewAt(1));
      assert.equal((await store.get(viewAt(1).id))?.id, viewAt(1).id);
    } finally {
      other.close();
    }
  });

  it('migrates a version-3 database: transcripts move into their own table, line by line', async () => {
    mkdirSync(dirname(path), { recursive: true });
    const old = new Database(path);
    old.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT');
    for (const m of MIGRATIONS.filter((m) => m.version <= 3)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_version VALUES (?, ?)').run(m.version, new Date(T0).toISOString());
    }
    const done = finished(viewAt(0));
    old.prepare(
      `INSERT INTO calls (id, direction, phone_number, status, created_ms, created_at, status_history, transcript, metrics, updated_ms)
       VALUES (?, 'outbound', ?, 'completed', ?, ?, '[]', ?, ?, ?)`,
    ).run(done.id, PHONE, T0, done.created_at, JSON.stringify(done.transcript), JSON.stringify(done.metrics), T0);
    old.close();
    const store = openStore();
    assert.equal(store.schemaVersion, CALL_DB_SCHEMA_VERSION);
    assert.deepEqual((await store.get(done.id))?.transcript, done.transcript);
  });

  it('migration 5 names the opening node on the rows written before calls named their node', async () => {
    mkdirSync(dirname(path), { recursive: true });
    const old = new Database(path);
    old.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT');
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_version VALUES (?, ?)').run(m.version, new Date(T0).toISOString());
    }
    old.prepare(
      `INSERT INTO calls (id, direction, phone_number, status, created_ms, created_at, status_history, metrics, updated_ms)
       VALUES (?, 'outbound', ?, 'answered', ?, ?, '[]', ?, ?)`,
    ).run(viewAt(0).id, PHONE, T0, viewAt(0).created_at, JSON.stringify(viewAt(0).metrics), T0);
    old.close();
    const store = SqliteCallStore.open({ path, nodeId: 'gw-1' });
    open.push(store);
    assert.equal((await store.get(viewAt(0).id))?.node_id, 'gw-1');
    assert.deepEqual(await store.markInFlightAsFailed('gateway restarted'), [viewAt(0).id]);
  });

  it('crash recovery on reopen: in-flight calls left by the last process become failed', async () => {
    const crashed = openStore();
    await save(crashed, viewAt(0, 'answered'));
    await save(crashed, finished(viewAt(1)));
    // No close(): like kill -9, the WAL holds the committed rows.
    const restarted = openStore();
    assert.deepEqual(await restarted.markInFlightAsFailed('gateway restarted'), [viewAt(0).id]);
    assert.equal((await restarted.get(viewAt(0).id))?.status, 'failed');
  });

  it('a record committed by a process killed with SIGKILL is there after restart, and recovery marks it', async () => {
    const script = `
      const { SqliteCallStore } = require(${JSON.stringify(join(__dirname, '../../../src/store/sqlite-call-store.ts'))});
      const store = SqliteCallStore.open({ path: process.env.DB_PATH });
      const { transcript, ...summary } = JSON.parse(process.env.RECORD);
      store.write({ summaries: [summary], lines: [] }).then(() => process.kill(process.pid, 'SIGKILL'));
    `;
    const view = { ...viewAt(0, 'answered'), answered_at: new Date(T0 + 1000).toISOString() };
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      env: { ...process.env, DB_PATH: path, RECORD: JSON.stringify(recordOf(view)) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.deepEqual([code, signal], [null, 'SIGKILL']);

    const restarted = openStore();
    assert.equal((await restarted.get(view.id))?.status, 'answered');
    assert.deepEqual(await restarted.markInFlightAsFailed('gateway restarted'), [view.id]);
    assert.equal((await restarted.get(view.id))?.error, 'gateway restarted');
  });

  it('refuses a database whose schema is newer than this build', async () => {
    await openStore().close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(CALL_DB_SCHEMA_VERSION + 1, new Date().toISOString());
    db.close();
    assert.throws(() => openStore(), /schema version \d+ is newer than this build supports/);
  });

  it('applies migrations once: reopening does not add schema_version rows', async () => {
    await openStore().close();
    await openStore().close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT version FROM schema_version').all();
    db.close();
    assert.deepEqual(
      rows,
      Array.from({ length: CALL_DB_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })),
    );
  });
});

describe('PostgresCallStore on a shared database', () => {
  const open: PostgresCallStore[] = [];
  const openStore = (url: string, nodeId = NODE): PostgresCallStore => {
    const store = PostgresCallStore.open({ url, nodeId, log: silentLogger() });
    open.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });

  it('nodes starting together apply each migration once, and a second store sees the first one\'s records', async () => {
    const url = await postgres.freshDatabase();
    const [a, b] = [openStore(url, 'node-a'), openStore(url, 'node-b')];
    assert.deepEqual(await Promise.all([a.ready(), b.ready()]), [POSTGRES_SCHEMA_VERSION, POSTGRES_SCHEMA_VERSION]);
    const { rows } = await a.pool.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version');
    assert.deepEqual(rows.map((r) => r.version), POSTGRES_MIGRATIONS.map((m) => m.version));
    const done = finished({ ...viewAt(0), node_id: 'node-a' });
    await save(a, done);
    assert.deepEqual((await b.get(done.id))?.transcript, done.transcript);
    assert.deepEqual((await b.list({ limit: 10 })).calls.map((c) => c.node_id), ['node-a']);
  });

  it('a batch is all or nothing: a bad summary leaves the good ones and the lines unwritten', async () => {
    const store = openStore(await postgres.freshDatabase());
    const good = recordOf(finished(viewAt(0)));
    const { transcript, ...summary } = good;
    await assert.rejects(store.write({ summaries: [summary, { ...summary, id: 'bad', created_at: 'not a date' }], lines: transcript.map((entry, seq) => ({ callId: good.id, seq, entry })) }));
    await store.write({ summaries: [], lines: [{ callId: good.id, seq: 0, entry: { role: 'user', text: 'x', at: good.created_at } }, { callId: good.id, seq: 0, entry: { role: 'user', text: 'dup', at: good.created_at } }] });
    assert.equal(await store.get(good.id), undefined);
  });

  it('markNodeInFlightAsFailed ends the live calls of a node that is gone, and only those', async () => {
    const url = await postgres.freshDatabase();
    const store = openStore(url, 'node-a');
    await save(store, { ...viewAt(0, 'answered'), node_id: 'node-b' });
    await save(store, { ...viewAt(1, 'ringing'), node_id: 'node-a' });
    await save(store, finished({ ...viewAt(2), node_id: 'node-b' }));
    const webhooks = new WebhookPublisher({ destinations: ['https://crm.example/hook'] });
    const ended = await store.markNodeInFlightAsFailed('node-b', 'node node-b stopped heartbeating', 'node-lost', endedCallEvents(webhooks));
    assert.deepEqual(ended.map((r) => [r.id, r.status, r.end_reason, r.error]), [[viewAt(0).id, 'failed', 'node-lost', 'node node-b stopped heartbeating']]);
    assert.equal(ended[0]?.status_history.at(-1)?.status, 'failed');
    assert.equal((await store.get(viewAt(1).id))?.status, 'ringing');
    // Its webhook consumers learn it too: the final call.status and call.ended, written with it.
    const rows = await store.outbox.claimDue(Date.now(), 1000, 10);
    assert.deepEqual(rows.map((r) => [r.type, r.orderKey]), [['call.status', `call:${viewAt(0).id}`]]);
    assert.equal((await store.outbox.stats()).pending, 2);
  });

  it('refuses a database whose schema is newer than this build', async () => {
    const url = await postgres.freshDatabase();
    const first = openStore(url);
    await first.ready();
    await first.pool.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [POSTGRES_SCHEMA_VERSION + 1, new Date().toISOString()]);
    await assert.rejects(openStore(url).ready(), /schema version \d+ is newer than this build supports/);
  });

  it('a database that is not there yet: writes reject (the writer retries), then succeed once it exists', async () => {
    const server = postgres.instance;
    assert.ok(server, 'the server was started by the tests above');
    const name = `late_${process.pid}`;
    const store = openStore(server.url(name));
    await assert.rejects(save(store, viewAt(0)), /does not exist/);
    await server.createDatabase(name);
    await save(store, viewAt(0));
    assert.equal((await store.get(viewAt(0).id))?.id, viewAt(0).id);
  });
});

describe('list cursors', () => {
  it('round-trip and reject anything else', async () => {
    const cursor = encodeCursor({ id: '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42', created_at: '2025-03-01T10:00:00.000Z' });
    assert.deepEqual(decodeCursor(cursor), { createdMs: T0, id: '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42' });
    for (const bad of ['', '!!!', 'a'.repeat(200), Buffer.from('x.y').toString('base64url'), Buffer.from("1.a' OR 1=1").toString('base64url')]) {
      assert.equal(decodeCursor(bad), undefined, bad);
    }
  });
});
