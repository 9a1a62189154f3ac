import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { Server, ServerInjectOptions } from '@hapi/hapi';
import fc from 'fast-check';
import pino from 'pino';
import { createServer } from '../../src/api/server';
import { createServiceUnderTest, type ServiceUnderTest } from '../fakes/service-under-test';

/** Seed of the run; a failure prints it. Re-run one with API_FUZZ_SEED=<seed> npx mocha test/component/api-fuzz.test.ts. */
const SEED = Number(process.env['API_FUZZ_SEED'] ?? 20_261_108);
const RUNS = 1500;

const TOKEN = 'fuzz_token_0123456789abcdef';
const PUBLIC_HOST = 'gateway.example.com';
const OWN_CALLER_ID = '+74951234567';
/** Numbers the policy below allows, and numbers it refuses (outside +1/+7, or high-risk). */
const ALLOWED_NUMBERS = ['+79161234567', '+14155550123', '+74957654321', '+12125550199'];
const REFUSED_NUMBERS = ['+2693001234', '+18765550123', '+78095551234', '+493012345678', '+883140776920289', '+19005550123'];

/** One generated request, kept as data so the oracle can judge it. */
interface FuzzRequest {
  method: string;
  path: string;
  host: string;
  origin: string | undefined;
  site: string | undefined;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string | Buffer | undefined;
  extraHeaders: Record<string, string>;
}

const asciiString = (maxLength: number) => fc.string({ maxLength, unit: 'grapheme-ascii' });
const E164 = /^\+[1-9][0-9]{7,14}$/;

/**
 * A generated fuzz of the whole API surface: methods, paths, hosts, origins, Sec-Fetch-Site,
 * content types, tokens, bodies and odd headers, against the real server (createServer, every
 * guard on, server.inject) and the real call service (its admission and policies) over a fake
 * Asterisk that records every call dialled and hung up.
 *
 * Properties of every request: never a 5xx; a call is placed only by a POST to a start route that
 * names this API, is same-origin (or not from a browser), carries the token and a JSON body with an
 * allowed number and nothing the route refuses; a hang-up likewise only by such a DELETE. And every
 * canonical valid request does place its call.
 */
describe(`API fuzz: ${RUNS} generated requests against the real server (seed ${SEED})`, function () {
  this.timeout(120_000);
  let server: Server;
  let sut: ServiceUnderTest;
  let port: number;
  let knownId: string;

  before(async () => {
    sut = createServiceUnderTest({ allowedPrefixes: ['+1', '+7'], callerIds: [OWN_CALLER_ID] });
    knownId = (await sut.service.startCall({ phoneNumber: '+79161234567' }, { id: 'setup' })).id;
    server = await createServer({
      host: '127.0.0.1',
      port: 0,
      calls: sut.service,
      log: pino({ level: 'silent' }),
      version: 'fuzz',
      validateResponses: true,
      apiTokens: [TOKEN],
      publicHosts: [PUBLIC_HOST],
    });
    await server.start();
    port = Number(server.info.port);
  });
  after(async () => {
    await server.stop({ timeout: 1000 });
    await sut.stop();
  });

  const ownHosts = () => [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, PUBLIC_HOST, `${PUBLIC_HOST}:443`];
  const ownOrigins = () => [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`, `https://${PUBLIC_HOST}`, `http://${PUBLIC_HOST}:8080`];

  const callBody = fc.record(
    {
      phone_number: fc.oneof(
        fc.constantFrom(...ALLOWED_NUMBERS, ...REFUSED_NUMBERS),
        fc.constantFrom(` ${ALLOWED_NUMBERS[0]}\t`, '+7916 123 45 67', '79161234567', '+7916123456789012', '', '+７９１６１２３４５６７'),
        asciiString(20),
        fc.integer(),
        fc.constant(null),
        fc.array(fc.constantFrom(...ALLOWED_NUMBERS), { maxLength: 2 }),
      ),
      caller_id: fc.constantFrom(OWN_CALLER_ID, OWN_CALLER_ID.slice(1), '+74950000000', 'anonymous'),
      record: fc.oneof(fc.boolean(), fc.constant('yes')),
      max_duration_s: fc.oneof(fc.integer({ min: -5, max: 20_000 }), fc.constant('60')),
      dynamic_variables: fc.dictionary(asciiString(8), fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean())),
      __proto__extra: fc.constant({ polluted: true }),
      phone_numbr: fc.constantFrom(...ALLOWED_NUMBERS),
    },
    { requiredKeys: [] },
  );

  const body: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
    { weight: 6, arbitrary: callBody.map((b) => JSON.stringify(b).replace('"__proto__extra"', '"__proto__"')) },
    { weight: 3, arbitrary: fc.constantFrom(...ALLOWED_NUMBERS).map((n) => JSON.stringify({ phone_number: n })) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: asciiString(64) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.constantFrom('{"phone_number":', `{"phone_number":"${ALLOWED_NUMBERS[0]}"`, 'null', '[]', '""', `phone_number=${ALLOWED_NUMBERS[0]}`, '{"a":' + '['.repeat(3000) + ']'.repeat(3000) + '}') },
    { weight: 1, arbitrary: fc.constant(JSON.stringify({ phone_number: ALLOWED_NUMBERS[0], first_message: 'x'.repeat(17 * 1024) })) },
    { weight: 2, arbitrary: fc.constant(undefined) },
  );

  // Each field is mostly valid (weight 8 of 10 or so), so about one request in ten is a valid call
  // request and the rest differ from one in one or a few fields: the edges the oracle must judge.
  const request: fc.Arbitrary<FuzzRequest> = fc.record({
    method: fc.oneof({ weight: 7, arbitrary: fc.constant('POST') }, { weight: 3, arbitrary: fc.constantFrom('GET', 'DELETE', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD') }),
    path: fc.oneof(
      { weight: 14, arbitrary: fc.constantFrom('/api/calls', '/api/calls/start', '/api/calls', '/api/calls/start', '/api/calls/', '/api/calls?limit=1') },
      { weight: 2, arbitrary: fc.constantFrom('/api/calls/{known}', '/api/calls/{known}/recording', '/api/calls/{KNOWN}', '/api/calls/3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42') },
      { weight: 2, arbitrary: fc.constantFrom('/health', '/metrics', '/docs', '/openapi.json', '/dashboard', '/dashboard/app.js', '/nope', '/api/call', '/API/CALLS', '/api/calls/..%2f..%2fetc%2fpasswd', '//api/calls') },
      { weight: 1, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
      { weight: 1, arbitrary: asciiString(30).map((s) => `/api/calls/${encodeURIComponent(s)}`) },
    ),
    host: fc.oneof(
      { weight: 8, arbitrary: fc.constant('{own}') },
      { weight: 1, arbitrary: fc.constantFrom('rebind.attacker.example:{port}', 'localhost:3000', '127.0.0.1', '127.attacker.example:{port}', '127.0.0.1.nip.io:{port}', '', '[127.0.0.1]:{port}', 'gateway.example.com.evil:443', '0.0.0.0:{port}') },
      { weight: 1, arbitrary: fc.oneof(fc.tuple(fc.domain(), fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: undefined })).map(([d, p]) => (p === undefined ? d : `${d}:${p}`)), asciiString(40)) },
    ),
    origin: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 4, arbitrary: fc.constant('{own}') },
      { weight: 1, arbitrary: fc.constantFrom('https://news.example', 'null', 'http://127.0.0.1:3000', '', 'http://localhost', `http://${PUBLIC_HOST}.evil`, 'file://') },
      { weight: 1, arbitrary: fc.oneof(fc.webUrl(), asciiString(30)) },
    ),
    site: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(undefined, undefined, 'same-origin', 'none') },
      { weight: 2, arbitrary: fc.constantFrom('same-site', 'cross-site', 'CROSS-SITE', 'garbage', '') },
    ),
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON') },
      {
        weight: 2,
        arbitrary: fc.oneof(
          fc.constantFrom(undefined, undefined, 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/merge-patch+json', '', 'json', 'application/json; charset=a; charset=b'),
          asciiString(30),
        ),
      },
    ),
    authorization: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(`Bearer ${TOKEN}`, `bearer ${TOKEN}`) },
      { weight: 2, arbitrary: fc.oneof(fc.constantFrom(undefined, 'Bearer wrong_token_0123456789', `Bearer ${TOKEN}x`, 'Basic dXNlcjpwYXNz', 'Bearer', ''), asciiString(40)) },
    ),
    body,
    extraHeaders: fc.oneof(
      { weight: 8, arbitrary: fc.constant({}) },
      {
        weight: 2,
        arbitrary: fc.dictionary(
          fc.constantFrom('x-forwarded-host', 'x-forwarded-for', 'forwarded', 'accept', 'accept-encoding', 'content-encoding', 'transfer-encoding', 'cookie', 'x-http-method-override', 'referer'),
          asciiString(24),
          { maxKeys: 2 },
        ),
      },
    ),
  });

  /** The request as injected, with the placeholders filled in. */
  const toInject = (r: FuzzRequest, pick: number): ServerInjectOptions => {
    const own = ownHosts();
    const origins = ownOrigins();
    const host = r.host === '{own}' ? (own[pick % own.length] ?? '') : r.host.replaceAll('{port}', String(port));
    const headers: Record<string, string> = { ...r.extraHeaders, host };
    if (r.origin !== undefined) headers['origin'] = r.origin === '{own}' ? (origins[pick % origins.length] ?? '') : r.origin;
    if (r.site !== undefined) headers['sec-fetch-site'] = r.site;
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (r.authorization !== undefined) headers['authorization'] = r.authorization;
    const url = r.path.replaceAll('{known}', knownId).replaceAll('{KNOWN}', knownId.toUpperCase());
    return { method: r.method, url, headers, ...(r.body === undefined ? {} : { payload: r.body }) };
  };

  // ---- the oracle: an independent statement of who may place or end a call ----

  const isApiHost = (host: string): boolean =>
    new RegExp(`^(127\\.0\\.0\\.1|localhost|\\[::1\\]):${port}$`, 'i').test(host) || /^gateway\.example\.com(:\d{1,5})?$/i.test(host);
  const isOwnOrigin = (origin: string | undefined): boolean =>
    origin === undefined || new RegExp(`^http://(127\\.0\\.0\\.1|localhost|\\[::1\\]):${port}$`).test(origin) || /^https?:\/\/gateway\.example\.com(:\d{1,5})?$/.test(origin);
  const isBrowserSameOrigin = (headers: Record<string, string>): boolean =>
    isOwnOrigin(headers['origin']) && headers['sec-fetch-site'] !== 'cross-site' && headers['sec-fetch-site'] !== 'same-site';
  const hasToken = (headers: Record<string, string>): boolean => new RegExp(`^bearer +${TOKEN} *$`, 'i').test(headers['authorization'] ?? '');
  const isJsonType = (headers: Record<string, string>): boolean => (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
  const pathOf = (url: string): string => (url.split('?')[0] ?? '').replace(/\/+$/, '');
  const mayReachRoute = (options: ServerInjectOptions, headers: Record<string, string>): boolean =>
    isApiHost(headers['host'] ?? '') && isBrowserSameOrigin(headers) && hasToken(headers);

  /** The phone number a request may place a call to, or undefined when it may place none. */
  const mayPlace = (options: ServerInjectOptions): string | undefined => {
    const headers = options.headers as Record<string, string>;
    const path = pathOf(options.url as string);
    if (options.method !== 'POST' || (path !== '/api/calls' && path !== '/api/calls/start')) return undefined;
    if (!mayReachRoute(options, headers) || !isJsonType(headers) || typeof options.payload !== 'string') return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(options.payload);
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const fields = parsed as Record<string, unknown>;
    const number = typeof fields['phone_number'] === 'string' ? fields['phone_number'].trim() : undefined;
    if (number === undefined || !E164.test(number) || !ALLOWED_NUMBERS.includes(number)) return undefined;
    if (path === '/api/calls/start' && Object.keys(fields).some((k) => k !== 'phone_number')) return undefined;
    const callerId = fields['caller_id'];
    if (callerId !== undefined && callerId !== OWN_CALLER_ID && callerId !== OWN_CALLER_ID.slice(1)) return undefined;
    return number;
  };
  /** The canonical valid call requests: these must place their call. */
  const mustPlace = (options: ServerInjectOptions): boolean => {
    const headers = options.headers as Record<string, string>;
    const url = options.url as string;
    return (
      options.method === 'POST' &&
      (url === '/api/calls' || url === '/api/calls/start') &&
      ownHosts().includes(headers['host'] ?? '') &&
      (headers['origin'] === undefined || ownOrigins().includes(headers['origin'])) &&
      [undefined, 'same-origin', 'none'].includes(headers['sec-fetch-site']) &&
      ['application/json', 'application/json; charset=utf-8', 'Application/JSON'].includes(headers['content-type'] ?? '') &&
      (headers['authorization'] === `Bearer ${TOKEN}` || headers['authorization'] === `bearer ${TOKEN}`) &&
      Object.keys(headers).every((h) => ['host', 'origin', 'sec-fetch-site', 'content-type', 'authorization', 'accept', 'x-forwarded-host', 'x-forwarded-for', 'forwarded', 'cookie', 'referer'].includes(h)) &&
      typeof options.payload === 'string' &&
      ALLOWED_NUMBERS.some((n) => options.payload === JSON.stringify({ phone_number: n }))
    );
  };
  const mayHangUp = (options: ServerInjectOptions): boolean => {
    const headers = options.headers as Record<string, string>;
    const path = pathOf(options.url as string).toLowerCase();
    return options.method === 'DELETE' && /^\/api\/calls\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(path) && mayReachRoute(options, headers);
  };

  it('no 5xx; calls placed and hung up only by valid same-origin requests; every canonical valid request places its call', async () => {
    let statuses = new Map<number, number>();
    let placedTotal = 0;
    const property = fc.asyncProperty(request, fc.nat(), async (generated, pick) => {
      const options = toInject(generated, pick);
      const callsBefore = sut.dialled().length;
      const hangupsBefore = sut.hungUp().length;
      const res = await server.inject(options);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const described = `${options.method} ${String(options.url)} ${JSON.stringify(options.headers)} body=${JSON.stringify(typeof options.payload === 'string' ? options.payload.slice(0, 200) : options.payload)} → ${res.statusCode} ${res.payload.slice(0, 300)}`;

      assert.ok(res.statusCode < 500, `5xx: ${described}`);
      const placed = sut.dialled().slice(callsBefore);
      assert.ok(placed.length <= 1, described);
      const allowedNumber = mayPlace(options);
      if (placed.length === 1) {
        placedTotal += 1;
        assert.equal(res.statusCode, 201, described);
        assert.ok(allowedNumber !== undefined, `placed a call the oracle forbids: ${described}`);
        assert.equal(placed[0], allowedNumber, described);
      }
      if (mustPlace(options)) assert.equal(placed.length, 1, `a canonical valid request placed nothing: ${described}`);
      const hungUp = sut.hungUp().slice(hangupsBefore);
      if (hungUp.length > 0) assert.ok(mayHangUp(options), `hung up for a request the oracle forbids: ${described}`);
    });
    try {
      await fc.assert(property, { seed: SEED, numRuns: RUNS });
    } catch (err) {
      throw new Error(`API fuzz failed (seed ${SEED}; re-run with API_FUZZ_SEED=${SEED}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    // The generator reached the interesting outcomes, so the properties were not vacuous.
    for (const status of [201, 400, 401, 403, 404, 415, 421]) assert.ok((statuses.get(status) ?? 0) > 0, `no ${status} in ${JSON.stringify([...statuses])}`);
    assert.ok(placedTotal >= 20, `only ${placedTotal} calls placed`);
    statuses = new Map();
  });

  it('the process and server are alive afterwards: a real HTTP request is served', async () => {
    const request = http.get({ host: '127.0.0.1', port, path: '/health' });
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    response.resume();
    assert.equal(response.statusCode, 200);
  });
});
