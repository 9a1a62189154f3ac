import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Server, ServerInjectOptions, ServerInjectResponse } from '@hapi/hapi';
import pino from 'pino';
import { MIN_TOKEN_CHARS, isLoopbackHost, isTokenValid, tokenIdOf } from '../../src/api/auth';
import { createServer, type ServerOptions } from '../../src/api/server';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { CallerIdPolicy } from '../../src/policy/caller-id-policy';
import { DestinationPolicy } from '../../src/policy/destination-policy';
import { FakeCallApi, makeCallView } from '../fakes/fake-call-api';

const PHONE = '+14155550123';
const TOKEN = 'tok_live_0123456789abcdef';
const OTHER_TOKEN = 'tok_live_fedcba9876543210';
const METRICS_TOKEN = 'metrics_0123456789abcdef';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
  field?: string;
  validation?: { source: string; keys: string[] };
}

describe('API security (server.inject)', () => {
  let fake: FakeCallApi;
  let server: Server | undefined;
  let logText: string;
  let nowMs: number;

  const start = async (options: Partial<ServerOptions> = {}): Promise<Server> => {
    const log = pino({ level: 'debug' }, { write: (line: string) => void (logText += line) });
    server = await createServer({ host: '127.0.0.1', port: 0, calls: fake, log, version: 'test', validateResponses: true, ...options });
    await server.initialize();
    return server;
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
    fake = new FakeCallApi();
    logText = '';
    nowMs = 10_000;
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  describe('bearer token on /api/*', () => {
    beforeEach(() => start({ apiTokens: [TOKEN, OTHER_TOKEN] }));

    it('missing token → 401 with WWW-Authenticate and no error code (RFC 6750 §3), nothing placed', async () => {
      const res = await post({});
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="voice-gateway"');
      assert.deepEqual(errorOf(res), {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'missing bearer token: send "Authorization: Bearer <token>"',
        code: 'MISSING_TOKEN',
      });
      assert.equal(fake.startCalls.length, 0);
    });

    it('wrong tokens of any length or content → 401 invalid_token (never 500), token not echoed', async () => {
      const wrong = [
        TOKEN.slice(0, -1), // a prefix
        `${TOKEN}x`, // one longer
        TOKEN.toUpperCase(),
        `${TOKEN.slice(0, -1)}${TOKEN.at(-1) === 'f' ? 'e' : 'f'}`, // last char differs
        'x'.repeat(4096),
        'a',
        METRICS_TOKEN, // valid elsewhere, not here
      ];
      for (const token of wrong) {
        const res = await post(bearer(token));
        assert.equal(res.statusCode, 401, token);
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="voice-gateway", error="invalid_token"');
        assert.equal(errorOf(res).code, 'INVALID_TOKEN');
        if (token.length > 8) assert.ok(!res.payload.includes(token), 'token echoed');
      }
      assert.equal(fake.startCalls.length, 0);
    });

    it('malformed Authorization headers → 401 invalid_request', async () => {
      for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', `Bearer ${TOKEN} extra`, `Token ${TOKEN}`, `Bearer\t${TOKEN}`, 'Bearer tök€n_0123456789abcdef']) {
        const res = await post({ authorization: header });
        assert.equal(res.statusCode, 401, header);
        assert.equal(errorOf(res).code, 'MALFORMED_AUTHORIZATION', header);
        assert.match(String(res.headers['www-authenticate']), /error="invalid_request"/);
      }
    });

    it('the right token → 201 (either configured token; the scheme name is case-insensitive)', async () => {
      assert.equal((await post(bearer(TOKEN))).statusCode, 201);
      assert.equal((await post(bearer(OTHER_TOKEN))).statusCode, 201);
      assert.equal((await post({ authorization: `bearer ${TOKEN}` })).statusCode, 201);
      assert.equal(fake.startCalls.length, 3);
    });

    it('every /api route needs it; ?access_token is refused outside the event stream', async () => {
      const view = fake.addCall(makeCallView(PHONE));
      for (const options of [
        `/api/calls/${view.id}`,
        '/api/calls',
        { method: 'DELETE', url: `/api/calls/${view.id}` },
        { method: 'POST', url: '/api/calls/start', payload: { phone_number: PHONE } },
        `/api/calls?access_token=${TOKEN}`,
      ] as const) {
        const res = await inject(options);
        assert.equal(res.statusCode, 401, JSON.stringify(options));
      }
      assert.deepEqual(fake.hangups, []);
      assert.equal((await inject({ url: `/api/calls/${view.id}`, headers: bearer(TOKEN) })).statusCode, 200);
    });

    it('/health, /docs and /openapi.json stay open; unknown routes still 404', async () => {
      assert.equal((await inject('/health')).statusCode, 200);
      assert.equal((await inject('/docs')).statusCode, 200);
      const docs = await inject('/openapi.json');
      assert.equal(docs.statusCode, 200);
      const doc = JSON.parse(docs.payload) as { components: { securitySchemes?: unknown }; security?: unknown };
      assert.deepEqual(doc.components.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
      assert.deepEqual(doc.security, [{ bearer: [] }]);
      assert.equal((await inject('/nope')).statusCode, 404);
    });

    it('the token never reaches the logs', async () => {
      await post(bearer(TOKEN));
      await post(bearer(`${TOKEN}wrong`));
      assert.ok(logText.length > 0);
      assert.ok(!logText.includes(TOKEN), 'token logged');
    });
  });

  describe('token comparison', () => {
    it('isTokenValid compares SHA-256 digests: any length, no throw, all tokens checked', () => {
      // The digests the server keeps.
      const digests = [TOKEN, OTHER_TOKEN].map((t) => createHash('sha256').update(t).digest());
      assert.equal(isTokenValid(TOKEN, digests), true);
      assert.equal(isTokenValid(OTHER_TOKEN, digests), true);
      for (const wrong of ['', 'a', TOKEN.slice(0, 10), `${TOKEN}${TOKEN}`, '\u0000'.repeat(32)]) {
        assert.equal(isTokenValid(wrong, digests), false, wrong);
      }
      assert.equal(isTokenValid(TOKEN, []), false);
    });

    it('tokenIdOf is a stable 12-hex id that does not contain the token', () => {
      assert.match(tokenIdOf(TOKEN), /^[0-9a-f]{12}$/);
      assert.equal(tokenIdOf(TOKEN), tokenIdOf(TOKEN));
      assert.notEqual(tokenIdOf(TOKEN), tokenIdOf(OTHER_TOKEN));
    });

    it(`tokens shorter than ${MIN_TOKEN_CHARS} characters or outside b64token are refused at start`, async () => {
      await assert.rejects(start({ apiTokens: ['short'] }), TypeError);
      await assert.rejects(start({ apiTokens: [TOKEN], metricsToken: 'has spaces in it, 123' }), TypeError);
    });

    it('isLoopbackHost decides by address; localhost is the one name', () => {
      for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LocalHost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '[::ffff:7f00:1]']) {
        assert.equal(isLoopbackHost(host), true, host);
      }
      for (const host of ['0.0.0.0', '::', '10.0.0.5', 'gateway.example', '128.0.0.1', '127.attacker.example', '127.0.0.1.nip.io', 'x.localhost', 'localhost.', '[127.0.0.1]', '2130706433', '127.1', '']) {
        assert.equal(isLoopbackHost(host), false, host);
      }
    });
  });

  describe('GET /metrics', () => {
    it('Prometheus text format; open when METRICS_TOKEN is unset, even with API tokens', async () => {
      const metrics = new GatewayMetrics();
      metrics.callStarted('a');
      await start({ apiTokens: [TOKEN], metrics });
      const res = await inject('/metrics');
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.match(res.payload, /^# TYPE voice_gateway_calls_total counter$/m);
      assert.match(res.payload, /^voice_gateway_active_calls 1$/m);
      assert.match(res.payload, /^process_resident_memory_bytes \d+/m);
      assert.equal(res.headers['cache-control'], 'no-store');
    });

    it('with METRICS_TOKEN: only that token; the API token does not scrape and the metrics token does not place calls', async () => {
      await start({ apiTokens: [TOKEN], metricsToken: METRICS_TOKEN, metrics: new GatewayMetrics({ isDefaultMetricsEnabled: false }) });
      assert.equal((await inject('/metrics')).statusCode, 401);
      assert.equal((await inject({ url: '/metrics', headers: bearer(TOKEN) })).statusCode, 401);
      assert.equal((await inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) })).statusCode, 200);
      assert.equal((await post(bearer(METRICS_TOKEN))).statusCode, 401);
    });

    it('absent without metrics', async () => {
      await start();
      assert.equal((await inject('/metrics')).statusCode, 404);
    });
  });

  describe('per-token rate limit of call attempts', () => {
    beforeEach(() => start({ apiTokens: [TOKEN, OTHER_TOKEN], rateLimit: { burst: 2, perMinute: 6, nowMs: () => nowMs } }));

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
      assert.equal(fake.startCalls.length, 2);
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
    await start({ rateLimit: { burst: 1, perMinute: 1, nowMs: () => nowMs } });
    assert.equal((await post({})).statusCode, 201);
    assert.equal((await post({})).statusCode, 429);
  });

  describe('MAX_CONCURRENT_CALLS', () => {
    it('at the limit → 503 AT_CAPACITY with Retry-After; below it again → 201', async () => {
      await start({ maxConcurrentCalls: 2 });
      assert.equal((await post({})).statusCode, 201);
      const second = await post({});
      assert.equal(second.statusCode, 201);
      const full = await post({}, { phone_number: PHONE }, '/api/calls/start');
      assert.equal(full.statusCode, 503);
      assert.equal(full.headers['retry-after'], '5');
      assert.equal(errorOf(full).code, 'AT_CAPACITY');
      assert.match(errorOf(full).message, /limit of 2 concurrent calls/);
      assert.equal(fake.startCalls.length, 2);
      await inject({ method: 'DELETE', url: `/api/calls/${(JSON.parse(second.payload) as { id: string }).id}` });
      assert.equal((await post({})).statusCode, 201);
    });
  });

  describe('destination policy', () => {
    beforeEach(() => start({ destinationPolicy: new DestinationPolicy({ allowedPrefixes: ['+1', '+7'], deniedPrefixes: ['+1212'] }) }));

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
      assert.equal(fake.startCalls.length, 0);
      assert.equal((await post({})).statusCode, 201);
    });

    it('policy refusals (403) are charged to the call-attempt budget', async () => {
      await server?.stop();
      await start({
        destinationPolicy: new DestinationPolicy({ allowedPrefixes: ['+1', '+7'] }),
        rateLimit: { burst: 2, perMinute: 6, nowMs: () => nowMs },
      });
      assert.equal((await post({}, { phone_number: '+4930123456789' })).statusCode, 403);
      assert.equal((await post({}, { phone_number: '+78095551234' })).statusCode, 403);
      const limited = await post({});
      assert.equal(limited.statusCode, 429);
      assert.equal(errorOf(limited).code, 'RATE_LIMITED');
      assert.equal(fake.startCalls.length, 0);
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
      await start({ callerIdPolicy: new CallerIdPolicy([OWN, '+74957654321']) });
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
      assert.equal(fake.startCalls.length, 0);
      for (const callerId of [OWN, OWN.slice(1), '+74957654321']) {
        assert.equal((await post({}, { phone_number: PHONE, caller_id: callerId })).statusCode, 201, callerId);
      }
      assert.equal((await post({}, { phone_number: PHONE })).statusCode, 201, 'no caller_id: the configured default is used');
      assert.deepEqual(fake.startCalls.map((r) => r.callerId), [OWN, OWN.slice(1), '+74957654321', undefined]);
    });

    it('unset: any caller_id the schema accepts goes through, as before', async () => {
      await start({ callerIdPolicy: new CallerIdPolicy([]) });
      assert.equal((await post({}, { phone_number: PHONE, caller_id: '+74950000000' })).statusCode, 201);
    });

    it('a refused caller_id is charged to the call-attempt budget, like a refused destination', async () => {
      await start({ callerIdPolicy: new CallerIdPolicy([OWN]), rateLimit: { burst: 1, perMinute: 1, nowMs: () => nowMs } });
      assert.equal((await post({}, { phone_number: PHONE, caller_id: '+74950000000' })).statusCode, 403);
      assert.equal((await post({}, { phone_number: PHONE, caller_id: OWN })).statusCode, 429);
    });
  });
});
