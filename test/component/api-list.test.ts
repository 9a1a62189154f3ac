import assert from 'node:assert/strict';
import type { Server, ServerInjectResponse } from '@hapi/hapi';
import pino from 'pino';
import { createServer } from '../../src/api/server';
import type { CallRecord } from '../../src/model/call-record';
import type { CallApi } from '../../src/model/call-api';
import type { CallStatus, CallView } from '../../src/model/call-view';
import { FakeCallApi, makeCallView } from '../fakes/fake-call-api';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');

interface ListBody {
  calls: CallRecord[];
  next_cursor: string | null;
}
interface ErrorBody {
  statusCode: number;
  message: string;
  validation?: { source: string; keys: string[] };
}

describe('GET /api/calls (server.inject, fake CallApi)', () => {
  let fake: FakeCallApi;
  let server: Server;

  const at = (offsetS: number): string => new Date(T0 + offsetS * 1000).toISOString();
  const add = (offsetS: number, status: CallStatus): CallView => fake.addCall({ ...makeCallView('+14155550123'), created_at: at(offsetS), status });
  const get = (url: string): Promise<ServerInjectResponse> => server.inject(url);
  const bodyOf = (res: ServerInjectResponse): ListBody => JSON.parse(res.payload) as ListBody;

  beforeEach(async () => {
    fake = new FakeCallApi();
    server = await createServer({ host: '127.0.0.1', port: 0, calls: fake, log: pino({ level: 'silent' }), version: 'test', validateResponses: true });
    await server.initialize();
  });
  afterEach(() => server.stop());

  it('lists newest first with status history (response schema checked) and the default limit', async () => {
    const older = add(0, 'completed');
    const newer = add(60, 'ringing');
    const res = await get('/api/calls');
    assert.equal(res.statusCode, 200, res.payload);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = bodyOf(res);
    assert.deepEqual(body.calls.map((c) => c.id), [newer.id, older.id]);
    assert.deepEqual(body.calls[0]?.status_history.map((h) => h.status), ['ringing']);
    assert.equal(body.next_cursor, null);
    assert.deepEqual(fake.listQueries, [{ limit: 50 }]);
  });

  it('pages with next_cursor until it is null', async () => {
    for (let i = 0; i < 5; i++) add(i, 'completed');
    const ids: string[] = [];
    let url = '/api/calls?limit=2';
    for (let page = 0; page < 10; page++) {
      const body = bodyOf(await get(url));
      ids.push(...body.calls.map((c) => c.id));
      if (body.next_cursor === null) break;
      url = `/api/calls?limit=2&cursor=${encodeURIComponent(body.next_cursor)}`;
    }
    assert.equal(ids.length, 5);
    assert.equal(new Set(ids).size, 5);
    assert.equal(fake.listQueries.length, 3);
  });

  it('filters: one or several statuses, from (inclusive) / to (exclusive) as ISO timestamps', async () => {
    const busy = add(0, 'busy');
    const failed = add(10, 'failed');
    const done = add(20, 'completed');
    const ids = async (query: string) => bodyOf(await get(`/api/calls?${query}`)).calls.map((c) => c.id);
    assert.deepEqual(await ids('status=busy'), [busy.id]);
    assert.deepEqual(await ids('status=busy&status=failed'), [failed.id, busy.id]);
    assert.deepEqual(await ids(`from=${at(10)}`), [done.id, failed.id]);
    assert.deepEqual(await ids(`from=${at(0)}&to=${at(20)}`), [failed.id, busy.id]);
    assert.deepEqual(await ids(`status=completed&to=${at(20)}`), []);
    assert.deepEqual(fake.listQueries.at(-1), { limit: 50, status: ['completed'], toMs: T0 + 20_000 });
    assert.deepEqual(await ids('from=2025-03-01T11:00:10%2B01:00'), [done.id, failed.id]); // offsets are honoured
  });

  it('bad queries → 400 naming the parameter, and the service is not asked', async () => {
    for (const [query, key, message] of [
      ['limit=0', 'limit', /"limit" must be greater than or equal to 1/],
      ['limit=201', 'limit', /"limit" must be less than or equal to 200/],
      ['limit=ten', 'limit', /"limit" must be a number/],
      ['limit=1.5', 'limit', /"limit" must be an integer/],
      ['status=on-hold', 'status', /"status" must be one of/],
      ['from=yesterday', 'from', /"from" must be in ISO 8601 date format/],
      [`from=${at(10)}&to=${at(10)}`, 'to', /"to" must be greater than/],
      ['cursor=abc', 'cursor', /"cursor" is not a cursor returned by this API/],
      [`cursor=${'A'.repeat(200)}`, 'cursor', /"cursor" length must be less than or equal to 128/],
      ['sort=asc', 'sort', /"sort" is not allowed/],
    ] as const) {
      const res = await get(`/api/calls?${query}`);
      assert.equal(res.statusCode, 400, query);
      const body = JSON.parse(res.payload) as ErrorBody;
      assert.deepEqual(body.validation, { source: 'query', keys: [key] }, query);
      assert.match(body.message, message, query);
    }
    assert.equal(fake.listQueries.length, 0);
  });

  it('a service without listCalls has no list route (404)', async () => {
    const { listCalls: _omit, ...rest } = {
      startCall: fake.startCall.bind(fake),
      getCall: fake.getCall.bind(fake),
      hangupCall: fake.hangupCall.bind(fake),
      health: fake.health.bind(fake),
      listCalls: undefined,
    };
    const bare: CallApi = rest;
    const other = await createServer({ host: '127.0.0.1', port: 0, calls: bare, log: pino({ level: 'silent' }), version: 'test' });
    assert.equal((await other.inject('/api/calls')).statusCode, 404);
    await other.stop();
  });
});
