import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { Server, ServerInjectOptions, ServerInjectResponse } from '@hapi/hapi';
import pino from 'pino';
import { toBoom } from '../../src/api/error-mapping';
import { createServer, MAX_PAYLOAD_BYTES } from '../../src/api/server';
import {
  AgentConnectionError,
  AriError,
  CallNotFoundError,
  PolicyError,
  RtpError,
  ServiceUnavailableError,
} from '../../src/errors';
import { FakeCallApi, makeCallView } from '../fakes/fake-call-api';

const PHONE = '+14155550123'; // NANP fictional range
const UNKNOWN_ID = '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
  field?: string;
  validation?: { source: string; keys: string[] };
}

describe('REST API (server.inject, fake CallApi)', () => {
  let fake: FakeCallApi;
  let server: Server;
  let logLines: string[];

  beforeEach(async () => {
    fake = new FakeCallApi();
    logLines = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    server = await createServer({ host: '127.0.0.1', port: 0, calls: fake, log, version: '9.9.9-test', validateResponses: true });
    await server.initialize(); // runs plugin `after` hooks (the /docs route); opens no socket
  });

  afterEach(async () => {
    await server.stop();
  });

  const inject = (options: ServerInjectOptions | string): Promise<ServerInjectResponse> => server.inject(options);
  const postJson = (url: string, payload: object): Promise<ServerInjectResponse> => inject({ method: 'POST', url, payload });
  const errorOf = (res: ServerInjectResponse): ErrorBody => JSON.parse(res.payload) as ErrorBody;

  describe('happy paths', () => {
    it('POST /api/calls/start (the predecessor API) → 201, Location and the call', async () => {
      const res = await postJson('/api/calls/start', { phone_number: PHONE });
      assert.equal(res.statusCode, 201);
      const body = JSON.parse(res.payload) as { id: string; status: string; phone_number: string };
      assert.equal(body.status, 'dialing');
      assert.equal(body.phone_number, PHONE);
      assert.equal(res.headers.location, `/api/calls/${body.id}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(fake.startCalls, [{ phoneNumber: PHONE }]);
    });

    it('POST /api/calls maps every snake_case option to the camelCase request', async () => {
      const res = await postJson('/api/calls', {
        phone_number: ` ${PHONE}\t`,
        dynamic_variables: { customer_name: 'Ada', order_no: 42, is_vip: true, _private: '' },
        first_message: 'Hello {{customer_name}}',
        prompt: 'Be brief.',
        language: 'PT-BR',
        max_duration_s: 600,
      });
      assert.equal(res.statusCode, 201);
      assert.deepEqual(fake.startCalls, [
        {
          phoneNumber: PHONE, // trimmed
          dynamicVariables: { customer_name: 'Ada', order_no: 42, is_vip: true, _private: '' },
          firstMessage: 'Hello {{customer_name}}',
          prompt: 'Be brief.',
          language: 'pt-br', // normalised
          maxDurationS: 600,
        },
      ]);
    });

    it('accepts the limits themselves: 15 and 8 digits, 50 variables, 10 s and 14400 s, empty first_message', async () => {
      const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`v${i}`, 'x'.repeat(1000)]));
      for (const payload of [
        { phone_number: '+123456789012345' },
        { phone_number: '+12345678', first_message: '' },
        { phone_number: PHONE, dynamic_variables: { [`a${'b'.repeat(63)}`]: 1 } },
        { phone_number: PHONE, max_duration_s: 10 },
        { phone_number: PHONE, max_duration_s: 14_400, language: 'ru' },
      ]) {
        const res = await postJson('/api/calls', payload);
        assert.equal(res.statusCode, 201, `${JSON.stringify(payload)}: ${res.payload}`);
      }
      // 50 × 1000-char values exceed 16 KiB, so the count limit is checked with short values.
      const res = await postJson('/api/calls', { phone_number: PHONE, dynamic_variables: Object.fromEntries(Object.keys(fifty).map((k) => [k, 1])) });
      assert.equal(res.statusCode, 201, res.payload);
    });

    it('GET /api/calls/{id} → the call; upper-case ids are normalised; a trailing slash is ignored', async () => {
      const view = fake.addCall(makeCallView(PHONE));
      for (const url of [`/api/calls/${view.id}`, `/api/calls/${view.id.toUpperCase()}`, `/api/calls/${view.id}/`]) {
        const res = await inject(url);
        assert.equal(res.statusCode, 200, url);
        assert.deepEqual(JSON.parse(res.payload), { ...view, status_history: [{ status: 'dialing', at: view.created_at }] });
        assert.equal(res.headers['cache-control'], 'no-store');
      }
      assert.deepEqual(fake.getCalls, [view.id, view.id, view.id]);
    });

    it('DELETE /api/calls/{id} → 200 with the ended call, and again 200 (idempotent)', async () => {
      const view = fake.addCall(makeCallView(PHONE));
      const first = await inject({ method: 'DELETE', url: `/api/calls/${view.id}` });
      assert.equal(first.statusCode, 200);
      const ended = JSON.parse(first.payload) as { status: string; end_reason: string };
      assert.equal(ended.status, 'completed');
      assert.equal(ended.end_reason, 'api');
      const second = await inject({ method: 'DELETE', url: `/api/calls/${view.id}` });
      assert.equal(second.statusCode, 200);
      assert.deepEqual(JSON.parse(second.payload), JSON.parse(first.payload));
      assert.deepEqual(fake.hangups, [view.id, view.id]);
    });

    it('GET /health → 200 while ARI is connected, 503 + Retry-After with ari:"disconnected" otherwise', async () => {
      fake.addCall(makeCallView(PHONE));
      const up = await inject('/health');
      assert.equal(up.statusCode, 200);
      const ready = { status: 'ok', ari: 'connected', active_calls: 1, accepting_calls: true, store: 'ok', version: '9.9.9-test' };
      assert.deepEqual(JSON.parse(up.payload), ready);

      fake.ari = 'disconnected';
      const down = await inject('/health');
      assert.equal(down.statusCode, 503);
      assert.equal(down.headers['retry-after'], '5');
      assert.deepEqual(JSON.parse(down.payload), { ...ready, status: 'unavailable', ari: 'disconnected' });
    });

    it('unknown routes and methods → 404 JSON', async () => {
      for (const options of ['/nope', '/api/call', { method: 'PATCH', url: '/api/calls' }, { method: 'PUT', url: '/api/calls/start' }] as const) {
        const res = await inject(options);
        assert.equal(res.statusCode, 404);
        assert.deepEqual(errorOf(res), { statusCode: 404, error: 'Not Found', message: 'Not Found' });
      }
    });
  });

  describe('hostile or malformed POST bodies → 4xx naming the problem, and no startCall', () => {
    interface HostileCase {
      name: string;
      url?: string;
      /** An object is sent as JSON; a string or Buffer is sent raw. */
      body: object | string | Buffer | null;
      headers?: Record<string, string>;
      status: number;
      keys?: string[];
      message: RegExp;
    }

    const E164 = /"phone_number" must be in E\.164 format/;
    const withPhone = (extra: object): object => ({ phone_number: PHONE, ...extra });
    const json = { 'content-type': 'application/json' };
    const phoneCase = (name: string, phone: unknown, message: RegExp = E164): HostileCase => ({
      name,
      body: { phone_number: phone },
      status: 400,
      keys: ['phone_number'],
      message,
    });

    const cases: HostileCase[] = [
      { name: 'missing phone_number', body: {}, status: 400, keys: ['phone_number'], message: /"phone_number" is required/ },
      phoneCase('phone_number as a number', 14155550123, /"phone_number" must be a string/),
      phoneCase('phone_number as an array', [PHONE], /"phone_number" must be a string/),
      phoneCase('phone_number as an object', { number: PHONE }, /"phone_number" must be a string/),
      phoneCase('phone_number null', null, /"phone_number" must be a string/),
      phoneCase('phone_number boolean', true, /"phone_number" must be a string/),
      phoneCase('empty phone_number', '', /"phone_number" must not be empty/),
      phoneCase('whitespace-only phone_number', '   ', /"phone_number" must not be empty/),
      phoneCase('letters', '+1415555CALL'),
      phoneCase('too short (7 digits)', '+1234567'),
      phoneCase('too long (16 digits)', '+1234567890123456'),
      phoneCase('spaces inside', '+1 415 555 0123'),
      phoneCase('dashes and parentheses', '+1 (415) 555-0123'),
      phoneCase('leading 00 instead of +', '0014155550123'),
      phoneCase('missing +', '14155550123'),
      phoneCase('country code starting with 0', '+04155550123'),
      phoneCase('double +', '++14155550123'),
      phoneCase('fullwidth digits', '+１４１５５５５０１２３'),
      phoneCase('arabic-indic digits', '+١٤١٥٥٥٥٠١٢٣'),
      phoneCase('RTL override inside', '+1415\u202e5550123'),
      phoneCase('zero-width space at the end (not whitespace, not trimmed)', `${PHONE}\u200b`),
      phoneCase('zero-width joiner inside', '+1415\u200d5550123'),
      phoneCase('CRLF header injection', `${PHONE}\r\nX-Injected: 1`),
      phoneCase('newline inside', '+1415\n5550123'),
      phoneCase('NUL byte', `${PHONE}\u0000`),
      phoneCase('SQL-ish', "+1' OR '1'='1"),
      phoneCase('shell-ish', `${PHONE}; rm -rf /`),
      phoneCase('command substitution', '$(reboot)'),
      phoneCase('path traversal', '../../etc/passwd'),
      phoneCase('dial-string injection', `${PHONE}&Local/1000@default`),
      phoneCase('very long digit string', `+${'1'.repeat(5000)}`),
      {
        name: 'deeply nested JSON as phone_number',
        body: `{"phone_number":${'['.repeat(5000)}${']'.repeat(5000)}}`,
        headers: json,
        status: 400,
        keys: ['phone_number'],
        message: /"phone_number" must be a string/,
      },
      {
        name: 'deeply nested JSON in a dynamic variable',
        body: `{"phone_number":"${PHONE}","dynamic_variables":{"a":${'{"b":'.repeat(2000)}1${'}'.repeat(2000)}}}`,
        headers: json,
        status: 400,
        keys: ['dynamic_variables.a'],
        message: /"dynamic_variables\.a" must be a string .*, a number or a boolean/,
      },
      {
        name: 'body over 16 KiB',
        body: withPhone({ first_message: 'x'.repeat(MAX_PAYLOAD_BYTES) }),
        status: 413,
        message: /greater than maximum allowed: 16384/,
      },
      {
        name: 'gzip bomb: 200 KiB JSON in a 1 KiB gzip body',
        body: gzipSync(JSON.stringify(withPhone({ prompt: ' '.repeat(200 * 1024) }))),
        headers: { ...json, 'content-encoding': 'gzip' },
        status: 413,
        message: /maximum allowed/,
      },
      { name: 'not JSON at all', body: 'phone_number=+14155550123', headers: json, status: 400, message: /Invalid request payload JSON format: / },
      { name: 'truncated JSON', body: `{"phone_number": "${PHONE}"`, headers: json, status: 400, message: /Invalid request payload JSON format/ },
      { name: 'empty body', body: '', headers: json, status: 400, message: /request payload must be a JSON object/ },
      { name: 'JSON null', body: 'null', headers: json, status: 400, message: /request payload must be a JSON object/ },
      { name: 'JSON array', body: `[{"phone_number":"${PHONE}"}]`, headers: json, status: 400, message: /request payload must be a JSON object/ },
      { name: 'JSON string', body: `"${PHONE}"`, headers: json, status: 400, message: /request payload must be a JSON object/ },
      {
        name: 'text/plain',
        body: `{"phone_number":"${PHONE}"}`,
        headers: { 'content-type': 'text/plain' },
        status: 415,
        message: /Content-Type: application\/json/,
      },
      {
        name: 'form-encoded (curl -d without -H)',
        body: `phone_number=${encodeURIComponent(PHONE)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 415,
        message: /Unsupported Media Type/,
      },
      {
        name: 'multipart',
        body: '--x\r\nContent-Disposition: form-data; name="phone_number"\r\n\r\n+14155550123\r\n--x--\r\n',
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
        status: 415,
        message: /Unsupported Media Type/,
      },
      {
        name: 'typo in a field name (unknown fields are rejected)',
        body: { phone_numbr: PHONE },
        status: 400,
        keys: ['phone_number', 'phone_numbr'],
        message: /"phone_numbr" is not allowed/,
      },
      { name: 'extra unknown field', body: withPhone({ callback_url: 'http://x' }), status: 400, keys: ['callback_url'], message: /"callback_url" is not allowed/ },
      {
        name: 'options on the predecessor route',
        url: '/api/calls/start',
        body: withPhone({ first_message: 'hi' }),
        status: 400,
        keys: ['first_message'],
        message: /"first_message" is not allowed/,
      },
      {
        name: 'unknown key with a bidi override is echoed escaped',
        body: withPhone({ 'a\u202eb': 1 }),
        status: 400,
        keys: ['a\\u202eb'],
        message: /"a\\u202eb" is not allowed/,
      },
      {
        name: 'reserved system__ dynamic variable',
        body: withPhone({ dynamic_variables: { system__caller_id: '+1' } }),
        status: 400,
        keys: ['dynamic_variables.system__caller_id'],
        message: /reserved by ElevenLabs/,
      },
      {
        name: 'reserved SYSTEM__ dynamic variable in upper case',
        body: withPhone({ dynamic_variables: { SYSTEM__x: 1 } }),
        status: 400,
        keys: ['dynamic_variables.SYSTEM__x'],
        message: /reserved by ElevenLabs/,
      },
      {
        name: '51 dynamic variables',
        body: withPhone({ dynamic_variables: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`v${i}`, i])) }),
        status: 400,
        keys: ['dynamic_variables'],
        message: /"dynamic_variables" must have at most 50 keys/,
      },
      {
        name: 'nested object as a dynamic variable value',
        body: withPhone({ dynamic_variables: { customer: { name: 'Ada' } } }),
        status: 400,
        keys: ['dynamic_variables.customer'],
        message: /must be a string .*, a number or a boolean/,
      },
      {
        name: 'null as a dynamic variable value',
        body: withPhone({ dynamic_variables: { a: null } }),
        status: 400,
        keys: ['dynamic_variables.a'],
        message: /must be a string .*, a number or a boolean/,
      },
      {
        name: 'dynamic variable value over 1000 chars',
        body: withPhone({ dynamic_variables: { note: 'x'.repeat(1001) } }),
        status: 400,
        keys: ['dynamic_variables.note'],
        message: /"dynamic_variables\.note" length must be less than or equal to 1000/,
      },
      {
        name: 'dynamic variable names with a dash, a leading digit, 65 chars',
        body: withPhone({ dynamic_variables: { 'bad-key': 1, '1abc': 2, [`a${'b'.repeat(64)}`]: 3 } }),
        status: 400,
        keys: ['dynamic_variables.bad-key', 'dynamic_variables.1abc', `dynamic_variables.a${'b'.repeat(64)}`],
        message: /"dynamic_variables\.bad-key" is not allowed: variable names are/,
      },
      {
        name: 'dynamic_variables as an array',
        body: withPhone({ dynamic_variables: ['a'] }),
        status: 400,
        keys: ['dynamic_variables'],
        message: /"dynamic_variables" must be an object/,
      },
      {
        name: '__proto__ at the top level (prototype pollution)',
        body: `{"phone_number":"${PHONE}","__proto__":{"isAdmin":true}}`,
        headers: json,
        status: 400,
        message: /forbidden prototype property/,
      },
      {
        name: '__proto__ inside dynamic_variables',
        body: `{"phone_number":"${PHONE}","dynamic_variables":{"__proto__":{"polluted":1}}}`,
        headers: json,
        status: 400,
        message: /forbidden prototype property/,
      },
      {
        name: 'constructor.prototype at the top level (Bourne passes it; Joi refuses the unknown key)',
        body: `{"phone_number":"${PHONE}","constructor":{"prototype":{"polluted":1}}}`,
        headers: json,
        status: 400,
        keys: ['constructor'],
        message: /"constructor" is not allowed/,
      },
      {
        name: 'constructor as a dynamic variable',
        body: withPhone({ dynamic_variables: { constructor: 'x', prototype: 'y' } }),
        status: 400,
        keys: ['dynamic_variables.constructor', 'dynamic_variables.prototype'],
        message: /reserved JavaScript property name/,
      },
      ...(
        [
          ['below 10', 9, /"max_duration_s" must be greater than or equal to 10/],
          ['above 14400', 14_401, /"max_duration_s" must be less than or equal to 14400/],
          ['a float', 60.5, /"max_duration_s" must be an integer/],
          ['a numeric string', '60', /"max_duration_s" must be a number/],
          ['negative', -60, /"max_duration_s" must be greater than or equal to 10/],
        ] as const
      ).map(([what, value, message]): HostileCase => ({
        name: `max_duration_s ${what}`,
        body: withPhone({ max_duration_s: value }),
        status: 400,
        keys: ['max_duration_s'],
        message,
      })),
      { name: 'language not ISO 639-1', body: withPhone({ language: 'english' }), status: 400, keys: ['language'], message: /"language" must be an ISO 639-1 code/ },
      {
        name: 'first_message over 2000 chars',
        body: withPhone({ first_message: 'x'.repeat(2001) }),
        status: 400,
        keys: ['first_message'],
        message: /"first_message" length must be less than or equal to 2000/,
      },
      { name: 'empty prompt', body: withPhone({ prompt: '' }), status: 400, keys: ['prompt'], message: /"prompt" is not allowed to be empty/ },
      {
        name: 'several problems at once are all reported',
        body: { phone_number: 'abc', max_duration_s: 1, language: 1 },
        status: 400,
        keys: ['phone_number', 'language', 'max_duration_s'],
        message: /"phone_number" must be in E\.164.*"language" must be a string.*"max_duration_s" must be greater/,
      },
    ];

    it('has at least 30 cases', () => assert.ok(cases.length >= 30, String(cases.length)));

    for (const c of cases) {
      it(`${c.name} → ${c.status}`, async () => {
        const res = await inject({
          method: 'POST',
          url: c.url ?? '/api/calls',
          payload: c.body === null ? undefined : c.body,
          headers: c.headers ?? {},
        });
        assert.equal(res.statusCode, c.status, res.payload);
        const body = errorOf(res);
        assert.equal(body.statusCode, c.status);
        assert.match(body.message, c.message);
        if (c.keys !== undefined) {
          assert.deepEqual(body.validation, { source: 'payload', keys: c.keys });
        }
        assert.doesNotMatch(res.payload, /[\p{Cc}\p{Cf}]/u, 'control, bidi or zero-width character echoed');
        assert.equal(fake.startCalls.length, 0, 'startCall must not be called');
      });
    }

    it('the phone number never reaches the logs, even at debug', async () => {
      await postJson('/api/calls', { phone_number: PHONE });
      await postJson('/api/calls', { phone_number: `${PHONE}x` });
      await new Promise(setImmediate); // hapi emits "response" just after inject() settles
      assert.ok(logLines.length >= 2, String(logLines.length));
      assert.ok(logLines.every((line) => !line.includes('4155550123')), logLines.join(''));
      assert.ok(logLines.some((line) => line.includes('"invalidKeys":["phone_number"]')), logLines.join(""));
    });
  });

  describe('phone_number fuzzing (seeded, no dependency)', () => {
    // Independent of the schema's regex: a hand-written E.164 check.
    function isE164(raw: string): boolean {
      const s = raw.trim();
      if (s[0] !== '+') return false;
      const digits = s.slice(1);
      if (digits.length < 8 || digits.length > 15 || digits[0] === '0') return false;
      for (const ch of digits) {
        const code = ch.charCodeAt(0);
        if (code < 48 || code > 57) return false;
      }
      return true;
    }

    function mulberry32(seed: number): () => number {
      let a = seed;
      return () => {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    it('accepts exactly the E.164 strings, forwards them trimmed, and names phone_number otherwise', async () => {
      const random = mulberry32(0x5eed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const digits = '0123456789'.split('');
      const noise = [' ', '\t', '\n', '\r', '+', '-', '(', ')', '.', 'a', 'Z', '#', '*', '\u0000', '\u00a0', '\u200b', '\u202e', '\ufeff', '٣', '１', '𝟙'];
      const mutations: ((s: string) => string)[] = [
        (s) => s.slice(0, 1 + Math.floor(random() * (s.length - 1))) + pick(noise) + s.slice(1 + Math.floor(random() * (s.length - 1))),
        (s) => s.replace(/\d/, pick(noise)),
        (s) => s.slice(0, Math.floor(random() * s.length)),
        (s) => s + pick(digits).repeat(Math.floor(random() * 4)),
        (s) => s.replace('+', pick(['', '00', '+0', '++', '\uff0b'])),
        (s) => `${pick([' ', '\t', '\n', '\u00a0', '\ufeff'])}${s}${pick([' ', '\r\n', ''])}`, // trimmed: stays valid
      ];
      let accepted = 0;
      for (let i = 0; i < 300; i++) {
        // A valid number (6-16 digits, so the length limits get hit too), then 0-2 random mutations.
        let s = `+${pick(digits.slice(1))}`;
        const moreDigits = 5 + Math.floor(random() * 11);
        for (let j = 0; j < moreDigits; j++) s += pick(digits);
        const mutationCount = Math.floor(random() * 3);
        for (let m = 0; m < mutationCount; m++) s = pick(mutations)(s);

        const before = fake.startCalls.length;
        const res = await postJson('/api/calls/start', { phone_number: s });
        if (isE164(s)) {
          accepted++;
          assert.equal(res.statusCode, 201, `${JSON.stringify(s)}: ${res.payload}`);
          assert.equal(fake.startCalls[before]?.phoneNumber, s.trim());
        } else {
          assert.equal(res.statusCode, 400, JSON.stringify(s));
          assert.deepEqual(errorOf(res).validation, { source: 'payload', keys: ['phone_number'] }, JSON.stringify(s));
          assert.equal(fake.startCalls.length, before);
        }
      }
      assert.ok(accepted > 30 && accepted < 270, `fuzzer balance: ${accepted} accepted`);
    });
  });

  describe('invalid ids → 400, not 404', () => {
    const badIds = [
      'nope',
      '123',
      '..%2F..%2Fetc%2Fpasswd',
      `{${UNKNOWN_ID}}`,
      UNKNOWN_ID.replaceAll('-', ''),
      `${UNKNOWN_ID}0`,
      "1'%20OR%20'1'%3D'1",
      '%E2%80%AE' + UNKNOWN_ID.slice(1),
    ];
    for (const method of ['GET', 'DELETE'] as const) {
      for (const id of badIds) {
        it(`${method} /api/calls/${id}`, async () => {
          const res = await inject({ method, url: `/api/calls/${id}` });
          assert.equal(res.statusCode, 400, res.payload);
          const body = errorOf(res);
          assert.match(body.message, /"id" must be a UUID/);
          assert.deepEqual(body.validation, { source: 'params', keys: ['id'] });
          assert.deepEqual([fake.getCalls, fake.hangups], [[], []]);
        });
      }
    }
  });

  describe('error mapping', () => {
    it('CallNotFoundError → 404 JSON with the code', async () => {
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await inject({ method, url: `/api/calls/${UNKNOWN_ID}` });
        assert.equal(res.statusCode, 404);
        assert.deepEqual(errorOf(res), { statusCode: 404, error: 'Not Found', message: `call ${UNKNOWN_ID} not found`, code: 'CALL_NOT_FOUND' });
      }
    });

    it('ServiceUnavailableError → 503 with Retry-After', async () => {
      fake.failNext('startCall', new ServiceUnavailableError('ARI_DISCONNECTED', 'not connected to Asterisk; try again shortly'));
      const res = await postJson('/api/calls', { phone_number: PHONE });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '5');
      assert.deepEqual(errorOf(res), {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'not connected to Asterisk; try again shortly',
        code: 'ARI_DISCONNECTED',
      });
    });

    it('PolicyError → 403 naming the field', async () => {
      fake.failNext('startCall', new PolicyError('DESTINATION_DENIED', 'phone_number', 'premium-rate destinations are not allowed'));
      const res = await postJson('/api/calls', { phone_number: PHONE });
      assert.equal(res.statusCode, 403);
      assert.deepEqual(errorOf(res), {
        statusCode: 403,
        error: 'Forbidden',
        message: '"phone_number": premium-rate destinations are not allowed',
        code: 'DESTINATION_DENIED',
        field: 'phone_number',
      });
    });

    it('AgentConnectionError → 502; AriError → 502 when Asterisk answered, 503 when unreachable', async () => {
      const cases = [
        [new AgentConnectionError('AGENT_HANDSHAKE_TIMEOUT', 'wss://api.elevenlabs.io/... timed out'), 502, undefined],
        [new AriError('ARI_ORIGINATE_FAILED', 'POST http://ari:8088/ari/channels → 500', { status: 500 }), 502, undefined],
        [new AriError('ARI_UNREACHABLE', 'connect ECONNREFUSED 10.0.0.5:8088'), 503, '5'],
        [new RtpError('RTP_NO_PORT', 'no free RTP port', { retryable: true }), 503, '5'],
      ] as const;
      for (const [error, status, retryAfter] of cases) {
        fake.failNext('startCall', error);
        const res = await postJson('/api/calls', { phone_number: PHONE });
        assert.equal(res.statusCode, status, error.code);
        assert.equal(res.headers['retry-after'], retryAfter, error.code);
        const body = errorOf(res);
        assert.equal(body.code, error.code);
        assert.doesNotMatch(body.message, /elevenlabs\.io|8088|10\.0\.0\.5/, 'internal detail leaked');
      }
    });

    it('an unexpected error → 500 without message or stack in the body, logged at error', async () => {
      fake.failNext('hangupCall', new TypeError('cannot read properties of undefined (secret internals)'));
      const view = fake.addCall(makeCallView(PHONE));
      const res = await inject({ method: 'DELETE', url: `/api/calls/${view.id}` });
      assert.equal(res.statusCode, 500);
      assert.deepEqual(errorOf(res), { statusCode: 500, error: 'Internal Server Error', message: 'An internal server error occurred' });
      assert.doesNotMatch(res.payload, /secret internals|TypeError|\bat\b/);
      const errorLine = logLines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } }).find((l) => l.level === 50);
      assert.equal(errorLine?.msg, 'request failed');
      assert.match(errorLine?.err?.message ?? '', /secret internals/);
    });

    it('toBoom rethrows anything that is not an operational error', () => {
      const bug = new RangeError('invariant broken');
      assert.throws(() => toBoom(bug), (err) => err === bug);
      assert.throws(() => toBoom('a string'), (err) => err === 'a string');
      assert.throws(() => toBoom(new RtpError('RTP_BAD', 'not retryable')), RtpError);
      assert.equal(toBoom(new CallNotFoundError('x')).output.statusCode, 404);
    });

    it('a response that breaks its schema is caught when validateResponses is on', async () => {
      const view = fake.addCall({ ...makeCallView(PHONE), status: 'on-hold' as 'dialing' });
      const res = await inject(`/api/calls/${view.id}`);
      assert.equal(res.statusCode, 500);
    });
  });

  describe('documentation', () => {
    it('GET /docs serves the Swagger UI page', async () => {
      const res = await inject('/docs');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(res.payload, /swagger-ui/);
    });

    it('GET /openapi.json lists every route with its request and response schemas', async () => {
      const res = await inject('/openapi.json');
      assert.equal(res.statusCode, 200);
      type Operation = { requestBody?: unknown; parameters?: { name: string }[]; responses: Record<string, unknown> };
      const doc = JSON.parse(res.payload) as {
        openapi: string;
        info: { version: string };
        paths: Record<string, Record<string, Operation>>;
        components: { schemas: Record<string, { properties?: Record<string, { pattern?: string; maximum?: number }>; required?: string[] }> };
      };
      assert.equal(doc.openapi, '3.0.0');
      assert.equal(doc.info.version, '9.9.9-test');
      const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      assert.deepEqual(routes.sort(), ['DELETE /api/calls/{id}', 'GET /api/calls', 'GET /api/calls/{id}', 'GET /health', 'POST /api/calls', 'POST /api/calls/start']);
      assert.ok(doc.paths['/api/calls']?.post?.responses['201']);
      assert.ok(doc.paths['/api/calls']?.post?.responses['400']);
      assert.deepEqual(doc.paths['/api/calls/{id}']?.get?.parameters?.map((p) => p.name), ['id']);

      const start = doc.components.schemas.StartCallRequest;
      assert.equal(start?.properties?.phone_number?.pattern, '^\\+[1-9][0-9]{7,14}$');
      assert.equal(start?.properties?.max_duration_s?.maximum, 14_400);
      assert.deepEqual(start?.required, ['phone_number']);
      assert.deepEqual(Object.keys(doc.components.schemas.StartCallLegacyRequest?.properties ?? {}), ['phone_number']);
      for (const name of ['CallView', 'BridgeMetrics', 'DirectionCounters', 'TranscriptEntry', 'Health', 'Error']) {
        assert.ok(doc.components.schemas[name], `${name} missing`);
      }
    });
  });
});
