import assert from 'node:assert/strict';
import type { Server, ServerInjectOptions, ServerInjectResponse } from '@hapi/hapi';
import pino from 'pino';
import { createServer, type ServerOptions } from '../../src/api/server';
import { createServiceUnderTest, type ServiceUnderTest, type ServiceUnderTestOptions } from '../fakes/service-under-test';

const PHONE = '+14155550123';
const TOKEN = 'tok_live_0123456789abcdef';
const OTHER_TOKEN = 'tok_live_fedcba9876543210';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
  field?: string;
  validation?: { source: string; keys: string[] };
}

/**
 * Admission as a client meets it: the real server in front of the real call service, whose rate
 * limit, destination and caller-ID policies and capacity decide, over a fake Asterisk that says
 * what was dialled.
 */
describe('API admission: rate limits, policies and capacity (server.inject + the real call service)', () => {
  let sut: ServiceUnderTest | undefined;
  let server: Server | undefined;
  let nowMs: number;

  const start = async (options: Partial<ServerOptions> = {}, service: ServiceUnderTestOptions = {}): Promise<Server> => {
    sut = createServiceUnderTest({ nowMs: () => nowMs, ...service });
    server = await createServer({ host: '127.0.0.1', port: 0, calls: sut.service, log: pino({ level: 'silent' }), version: 'test', validateResponses: true, ...options });
    await server.initialize();
    return server;
  };
  const stop = async (): Promise<void> => {
    await server?.stop();
    await sut?.stop();
    server = undefined;
    sut = undefined;
  };
  const inject = (options: ServerInjectOptions | string): Promise<ServerInjectResponse> => {
    assert.ok(server);
    return server.inject(options);
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const post = (headers: Record<string, string>, payload: object = { phone_number: PHONE }, url = '/api/calls') =>
    inject({ method: 'POST', url, payload, headers });
  const errorOf = (res: ServerInjectResponse): ErrorBody => JSON.parse(res.payload) as ErrorBody;

  beforeEach(() => {
    nowMs = 10_000;
  });
  afterEach(stop);

  describe('per-token rate limit of call attempts', () => {
    beforeEach(() => start({ apiTokens: [TOKEN, OTHER_TOKEN] }, { attemptBurst: 2, attemptPerMinute: 6 }));

    it('→ 429 with Retry-After in seconds and code RATE_LIMITED; nothing placed; refills with time', async () => {
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
      assert.equal((await post(bearer(TOKEN), { phone_number: PHONE }, '/api/calls/start')).statusCode, 201);
      const limited = await post(bearer(TOKEN));
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.headers['retry-after'], '10');
      assert.deepEqual(errorOf(limited), {
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'too many call attempts for this token; retry later',
        code: 'RATE_LIMITED',
      });
      assert.equal(sut!.dialled().length, 2);
      nowMs += 10_000;
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
    });

    it('each token has its own bucket; reads are not limited', async () => {
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
      assert.equal((await post(bearer(TOKEN))).statusCode, 429);
      assert.equal((await post(bearer(OTHER_TOKEN))).statusCode, 201);
      for (let i = 0; i < 5; i++) assert.equal((await inject({ url: '/api/calls', headers: bearer(TOKEN) })).statusCode, 200);
    });

    it('malformed requests are not charged: the 11th bad request in a burst still gets its 400 naming the field', async () => {
      const bad: [object, string][] = [
        [{ phone_number: 'not a number' }, 'phone_number'],
        [{}, 'phone_number'],
        [{ phone_number: PHONE, max_duration_s: '60' }, 'max_duration_s'],
        [{ phone_number: PHONE, typo: 1 }, 'typo'],
      ];
      for (let i = 0; i < 11; i++) {
        const [payload, key] = bad[i % bad.length] ?? [{}, 'phone_number'];
        const res = await post(bearer(TOKEN), payload);
        assert.equal(res.statusCode, 400, `request ${i + 1}: ${res.payload}`);
        assert.ok(errorOf(res).validation?.keys.includes(key), res.payload);
      }
      // Nor are requests refused before validation (bad JSON, wrong type, another web page).
      assert.equal((await inject({ method: 'POST', url: '/api/calls', payload: '{"phone_number":', headers: { ...bearer(TOKEN), 'content-type': 'application/json' } })).statusCode, 400);
      assert.equal((await inject({ method: 'POST', url: '/api/calls', payload: JSON.stringify({ phone_number: PHONE }), headers: bearer(TOKEN) })).statusCode, 415);
      assert.equal((await post({ ...bearer(TOKEN), origin: 'https://news.example' })).statusCode, 403);
      // The whole burst is still there.
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
      assert.equal((await post(bearer(TOKEN))).statusCode, 429);
    });

    it('unauthenticated requests are refused before they can drain a bucket', async () => {
      for (let i = 0; i < 5; i++) assert.equal((await post({})).statusCode, 401);
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
    });
  });

  it('without API tokens the limiter keys on the client address', async () => {
    await start({}, { attemptBurst: 1, attemptPerMinute: 1 });
    assert.equal((await post({})).statusCode, 201);
    assert.equal((await post({})).statusCode, 429);
  });

  describe('MAX_CONCURRENT_CALLS', () => {
    it('at the limit → 503 AT_CAPACITY with Retry-After; below it again → 201', async () => {
      await start({}, { maxConcurrentCalls: 2 });
      assert.equal((await post({})).statusCode, 201);
      const second = await post({});
      assert.equal(second.statusCode, 201);
      const full = await post({}, { phone_number: PHONE }, '/api/calls/start');
      assert.equal(full.statusCode, 503);
      assert.equal(full.headers['retry-after'], '5');
      assert.equal(errorOf(full).code, 'AT_CAPACITY');
      assert.match(errorOf(full).message, /limit of 2 concurrent calls/);
      assert.equal(sut!.dialled().length, 2);
      await inject({ method: 'DELETE', url: `/api/calls/${(JSON.parse(second.payload) as { id: string }).id}` });
      assert.equal((await post({})).statusCode, 201);
    });
  });

  describe('destination policy', () => {
    beforeEach(() => start({}, { allowedPrefixes: ['+1', '+7'], deniedPrefixes: ['+1212'] }));

    it('denied ranges → 403 naming phone_number, on both start routes, nothing placed', async () => {
      for (const [url, phone, code, message] of [
        ['/api/calls', '+78095551234', 'DESTINATION_DENIED', '"phone_number": destinations starting with +7809 are not allowed (Russia premium rate (8-809))'],
        ['/api/calls/start', '+19005550123', 'DESTINATION_DENIED', '"phone_number": destinations starting with +1900 are not allowed (NANP premium rate (900))'],
        ['/api/calls', '+12125550123', 'DESTINATION_DENIED', '"phone_number": destinations starting with +1212 are not allowed (denied by configuration)'],
        ['/api/calls', '+18765550123', 'DESTINATION_DENIED', '"phone_number": destinations starting with +1876 are not allowed (NANP outside the US and Canada: Jamaica)'],
        ['/api/calls', '+4930123456789', 'DESTINATION_NOT_ALLOWED', '"phone_number": destination is outside the allowed prefixes'],
      ] as const) {
        const res = await post({}, { phone_number: phone }, url);
        assert.equal(res.statusCode, 403, phone);
        assert.deepEqual(errorOf(res), { statusCode: 403, error: 'Forbidden', message, code, field: 'phone_number' });
        assert.ok(!res.payload.includes(phone), 'number echoed');
      }
      assert.equal(sut!.dialled().length, 0);
      assert.equal((await post({})).statusCode, 201);
    });

    it('policy refusals (403) are charged to the call-attempt budget', async () => {
      await stop();
      await start({}, { allowedPrefixes: ['+1', '+7'], attemptBurst: 2, attemptPerMinute: 6 });
      assert.equal((await post({}, { phone_number: '+4930123456789' })).statusCode, 403);
      assert.equal((await post({}, { phone_number: '+78095551234' })).statusCode, 403);
      const limited = await post({});
      assert.equal(limited.statusCode, 429);
      assert.equal(errorOf(limited).code, 'RATE_LIMITED');
      assert.equal(sut!.dialled().length, 0);
    });

    it('malformed numbers are still a 400 from validation (before the policy)', async () => {
      const res = await post({}, { phone_number: '+1 900 555' });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(errorOf(res).validation?.keys, ['phone_number']);
    });
  });

  describe('CALLER_IDS', () => {
    const OWN = '+74951234567';

    it('a caller_id outside the list → 403 naming caller_id, nothing placed; the listed ones (with or without "+") pass', async () => {
      await start({}, { callerIds: [OWN, '+74957654321'] });
      const refused = await post({}, { phone_number: PHONE, caller_id: '+74950000000' });
      assert.equal(refused.statusCode, 403);
      assert.deepEqual(errorOf(refused), {
        statusCode: 403,
        error: 'Forbidden',
        message: '"caller_id": must be one of the gateway\'s own numbers (CALLER_IDS)',
        code: 'CALLER_ID_NOT_ALLOWED',
        field: 'caller_id',
      });
      assert.ok(!refused.payload.includes('74950000000'), 'caller id echoed');
      assert.equal(sut!.dialled().length, 0);
      for (const callerId of [OWN, OWN.slice(1), '+74957654321']) {
        assert.equal((await post({}, { phone_number: PHONE, caller_id: callerId })).statusCode, 201, callerId);
      }
      assert.equal((await post({}, { phone_number: PHONE })).statusCode, 201, 'no caller_id: the configured default is used');
      assert.equal(sut!.dialled().length, 4);
    });

    it('unset: any caller_id the schema accepts goes through, as before', async () => {
      await start({}, { callerIds: [] });
      assert.equal((await post({}, { phone_number: PHONE, caller_id: '+74950000000' })).statusCode, 201);
    });

    it('a refused caller_id is charged to the call-attempt budget, like a refused destination', async () => {
      await start({}, { callerIds: [OWN], attemptBurst: 1, attemptPerMinute: 1 });
      assert.equal((await post({}, { phone_number: PHONE, caller_id: '+74950000000' })).statusCode, 403);
      assert.equal((await post({}, { phone_number: PHONE, caller_id: OWN })).statusCode, 429);
    });
  });
});
