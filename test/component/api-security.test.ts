import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Server, ServerInjectOptions, ServerInjectResponse } from '@hapi/hapi';
import pino from 'pino';
import { MIN_TOKEN_CHARS, isLoopbackHost, isTokenValid, tokenIdOf } from '../../src/api/auth';
import { createServer, type ServerOptions } from '../../src/api/server';
import { GatewayMetrics } from '../../src/metrics/metrics';
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

});
