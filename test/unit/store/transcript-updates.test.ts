/** Lines that change after they were written (what the caller heard, the agent's correction): stores and the writer. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../../../src/logger';
import type { TranscriptEntry } from '../../../src/model/call-view';
import { MemoryCallStore, type CallStore, type CallSummary } from '../../../src/store/call-store';
import { RecordWriter } from '../../../src/store/record-writer';
import { PostgresCallStore } from '../../../src/store/postgres-call-store';
import { CAMPAIGN_SCHEMA } from '../../../src/store/sqlite-campaign-store';
import { CALL_DB_SCHEMA_VERSION, IN_MEMORY_DB_PATH, MIGRATIONS, SqliteCallStore } from '../../../src/store/sqlite-call-store';
import { WEBHOOK_OUTBOX_SCHEMA } from '../../../src/store/sqlite-webhook-outbox';
import { makeCallView } from '../../fakes/fake-call-api';
import { testPostgres } from '../../helpers/test-postgres';
import { waitFor } from '../../helpers/wait-for';

/** PostgreSQL of this test file (test/helpers/test-postgres.ts). */
const postgres = testPostgres();

const ID = '00000000-0000-4000-8000-000000000001';
const at = '2026-12-01T10:00:00.000Z';

function summary(): CallSummary {
  const { transcript: _t, ...rest } = { ...makeCallView('+79990001122', ID), status_history: [{ status: 'dialing' as const, at }] };
  return rest;
}

const line = (text: string): TranscriptEntry => ({ role: 'agent', text, at });
const heardLine: TranscriptEntry = {
  role: 'agent',
  text: 'Hello, this',
  at,
  original_text: 'Hello, this is Ada.',
  heard: { complete: false, ms: 640, total_ms: 1500, chars: 11, text: 'Hello, this' },
};

const stores: [string, () => CallStore | Promise<CallStore>][] = [
  ['MemoryCallStore', () => new MemoryCallStore()],
  ['SqliteCallStore', () => SqliteCallStore.open({ path: IN_MEMORY_DB_PATH })],
  ['PostgresCallStore', async () => PostgresCallStore.open({ url: await postgres.freshDatabase(), nodeId: 'node-a', log: silentLogger() })],
];

for (const [name, create] of stores) {
  describe(`line updates: ${name}`, () => {
    it('replace the stored line, append a line not stored yet, and leave other lines alone', async () => {
      const store = await create();
      await store.write({ summaries: [summary()], lines: [{ callId: ID, seq: 0, entry: line('Hello, this is Ada.') }, { callId: ID, seq: 1, entry: { role: 'user', text: 'Stop', at } }] });
      await store.write({ summaries: [], lines: [], lineUpdates: [{ callId: ID, seq: 0, entry: heardLine }, { callId: ID, seq: 2, entry: line('Sorry.') }] });
      const transcript = (await store.get(ID))?.transcript;
      assert.deepEqual(transcript, [heardLine, { role: 'user', text: 'Stop', at }, line('Sorry.')]);
      // A plain append of a line already stored does not overwrite it.
      await store.write({ summaries: [], lines: [{ callId: ID, seq: 0, entry: line('stale') }] });
      assert.deepEqual((await store.get(ID))?.transcript[0], heardLine);
      await store.close();
    });
  });
}

describe('line updates: SqliteCallStore migration', () => {
  it('a version-4 database gains the heard and original_text columns; its lines read back unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vg-heard-'));
    try {
      const path = join(dir, 'calls.db');
      const old = new Database(path);
      old.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT');
      for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
        old.exec(m.sql);
        old.prepare('INSERT INTO schema_version VALUES (?, ?)').run(m.version, at);
      }
      old.close();
      const store = SqliteCallStore.open({ path });
      await store.write({ summaries: [summary()], lines: [{ callId: ID, seq: 0, entry: line('Hi') }] });
      assert.deepEqual((await store.get(ID))?.transcript, [line('Hi')]);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A database file at `version` as this build's migrations leave it, with one call and one line. */
function databaseAt(path: string, version: number): void {
  const old = new Database(path);
  old.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT');
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
    old.exec(m.sql);
    old.prepare('INSERT INTO schema_version VALUES (?, ?)').run(m.version, at);
  }
  old.close();
}

describe('SqliteCallStore: a database of any earlier version migrates', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vg-migrate-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (let version = 0; version < CALL_DB_SCHEMA_VERSION; version++) {
    it(`version ${version} → ${CALL_DB_SCHEMA_VERSION}: heard lines, the webhook outbox and campaigns work`, async () => {
      const path = join(dir, 'calls.db');
      databaseAt(path, version);
      const store = SqliteCallStore.open({ path, nodeId: 'node-a' });
      try {
        assert.equal(store.schemaVersion, CALL_DB_SCHEMA_VERSION);
        await store.write({ summaries: [summary()], lines: [{ callId: ID, seq: 0, entry: line('Hello, this is Ada.') }], lineUpdates: [{ callId: ID, seq: 0, entry: heardLine }], outbox: [{ eventId: 'e1', destination: 'https://a.example', orderKey: `call:${ID}`, type: 'call.status', body: '{}', createdMs: 1 }] });
        assert.deepEqual((await store.get(ID))?.transcript, [heardLine]);
        assert.equal((await store.outbox.stats()).pending, 1);
        assert.deepEqual(await store.campaigns.listCampaigns(10), []);
      } finally {
        await store.close();
      }
    });
  }

  it('a database numbered before node_id took migration 5 (heard 5, outbox 6, campaigns 7) gains node_id and keeps its rows', async () => {
    const path = join(dir, 'calls.db');
    databaseAt(path, 4);
    const old = new Database(path);
    old.exec(`
      ALTER TABLE transcript_lines ADD COLUMN heard TEXT;
      ALTER TABLE transcript_lines ADD COLUMN original_text TEXT;
      ${WEBHOOK_OUTBOX_SCHEMA}
      ${CAMPAIGN_SCHEMA}`);
    for (const v of [5, 6, 7]) old.prepare('INSERT INTO schema_version VALUES (?, ?)').run(v, at);
    const row = summary();
    old.prepare(`INSERT INTO calls (id, direction, phone_number, status, conversation_id, created_ms, created_at, status_history, metrics, updated_ms)
      VALUES (?, ?, ?, 'answered', NULL, 1, ?, '[]', ?, 1)`).run(ID, row.direction, row.phone_number, row.created_at, JSON.stringify(row.metrics));
    old.prepare("INSERT INTO transcript_lines (call_id, seq, role, text, at, heard, original_text) VALUES (?, 0, 'agent', 'Hello, this', ?, ?, 'Hello, this is Ada.')").run(ID, at, JSON.stringify(heardLine.heard));
    old.prepare("INSERT INTO webhook_outbox (event_id, destination, order_key, type, body, created_ms, next_attempt_ms) VALUES ('e1', 'https://a.example', 'call:x', 'call.status', '{}', 1, 1)").run();
    old.close();

    const store = SqliteCallStore.open({ path, nodeId: 'node-a' });
    try {
      assert.equal(store.schemaVersion, CALL_DB_SCHEMA_VERSION);
      const record = await store.get(ID);
      assert.equal(record?.node_id, 'node-a', 'migration 5 named the node on the old row');
      assert.deepEqual(record?.transcript, [heardLine]);
      assert.equal((await store.outbox.stats()).pending, 1);
      assert.deepEqual(await store.markInFlightAsFailed('restart'), [ID]);
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      assert.deepEqual(check.prepare('SELECT version FROM schema_version ORDER BY version').all(), MIGRATIONS.map((m) => ({ version: m.version })));
    } finally {
      check.close();
    }
  });
});

describe('RecordWriter.replaceLine', () => {
  it('changes a line still waiting in place, and sends a change of a written line as an update', async () => {
    const store = new MemoryCallStore();
    const writer = new RecordWriter({ store, log: silentLogger() });
    await writer.insert(summary());
    writer.append(ID, 0, line('Hello, this is Ada.'));
    writer.replaceLine(ID, 0, heardLine);
    assert.deepEqual(writer.pendingOf(ID).lines.map((l) => l.entry), [heardLine], 'one line waits, changed');
    await writer.flush(1000);
    assert.deepEqual((await store.get(ID))?.transcript, [heardLine]);
    const corrected = { ...heardLine, text: 'Hello' };
    writer.replaceLine(ID, 0, corrected);
    assert.deepEqual(writer.pendingOf(ID).lines.map((l) => l.entry.text), ['Hello']);
    await writer.flush(1000);
    assert.deepEqual((await store.get(ID))?.transcript, [corrected]);
    writer.close();
  });

  it('keeps changes across a failed write, newest first', async () => {
    let isFailing = true;
    const store = new (class extends MemoryCallStore {
      override async write(batch: Parameters<MemoryCallStore['write']>[0]): Promise<void> {
        if (isFailing) throw new Error('disk full');
        return super.write(batch);
      }
    })();
    isFailing = false;
    let failures = 0;
    const writer = new RecordWriter({ store, log: silentLogger(), retryMinMs: 5, retryMaxMs: 10, onWriteError: () => void (failures += 1) });
    await writer.insert(summary());
    writer.append(ID, 0, line('a'));
    await writer.flush(1000);
    isFailing = true;
    writer.replaceLine(ID, 0, line('b'));
    await waitFor(() => failures >= 1, { what: 'a failed write of the change' });
    assert.deepEqual(writer.pendingOf(ID).lines.map((l) => l.entry.text), ['b'], 'the change is kept for the retry');
    writer.replaceLine(ID, 0, line('c'));
    isFailing = false;
    assert.equal(await writer.flush(1000), 0);
    assert.deepEqual((await store.get(ID))?.transcript, [line('c')]);
    writer.close();
  });
});
