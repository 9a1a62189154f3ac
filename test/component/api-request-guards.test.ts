import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { Server, ServerInjectOptions, ServerInjectResponse } from '@hapi/hapi';
import pino from 'pino';
import { parseHost } from '../../src/api/host-syntax';
import { ApiHosts } from '../../src/api/request-guards';
import { createServer, type ServerOptions } from '../../src/api/server';
import { CallEventBus } from '../../src/events/call-events';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { FakeCallApi, makeCallView } from '../fakes/fake-call-api';

const TOKEN = 'tok_live_0123456789abcdef';
/** A number under a high-fraud country code, as in the issue's measurement. */
const ISSUE_NUMBER = '+2693001234';
const PHONE = '+14155550123';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
}

describe('request guards: Host, Origin, Content-Type (real server, server.inject)', () => {
  let fake: FakeCallApi;
  let server: Server | undefined;
  let port: number;

  /** Starts listening (port 0), so Host headers carry the real port as a browser's would. */
  const start = async (options: Partial<ServerOptions> = {}): Promise<Server> => {
    const log = pino({ level: 'silent' });
    server = await createServer({
      host: '127.0.0.1',
      port: 0,
      calls: fake,
      log,
      version: 'test',
      validateResponses: true,
      metrics: new GatewayMetrics({ isDefaultMetricsEnabled: false }),
      events: new CallEventBus(log),
      ...options,
    });
    await server.start();
    port = Number(server.info.port);
    return server;
  };
  const inject = (options: ServerInjectOptions): Promise<ServerInjectResponse> => {
    assert.ok(server);
    return server.inject(options);
  };
  const own = (): Record<string, string> => ({ host: `127.0.0.1:${port}` });
  const errorOf = (res: ServerInjectResponse): ErrorBody => JSON.parse(res.payload) as ErrorBody;
  const postCall = (headers: Record<string, string>, payload: string | object = { phone_number: PHONE }, url = '/api/calls') =>
    inject({ method: 'POST', url, payload, headers: { ...own(), ...headers } });

  beforeEach(() => {
    fake = new FakeCallApi();
  });
  afterEach(async () => {
    await server?.stop({ timeout: 1000 });
    server = undefined;
  });

  describe("the issue's no-preflight request: no Content-Type, a JSON string as the body", () => {
    beforeEach(() => start());

    for (const url of ['/api/calls', '/api/calls/start']) {
      it(`POST ${url} → 415 UNSUPPORTED_MEDIA_TYPE, nothing placed`, async () => {
        // fetch(url, { method: 'POST', mode: 'no-cors', body: new Blob(['{"phone_number":"+2693001234"}']) })
        // minus the browser's Origin / Sec-Fetch-* headers (a non-browser client sending the same bytes).
        const res = await inject({ method: 'POST', url, payload: `{"phone_number":"${ISSUE_NUMBER}"}`, headers: own() });
        assert.equal(res.request.headers['content-type'], undefined, 'the request really has no Content-Type');
        assert.equal(res.statusCode, 415);
        assert.deepEqual(errorOf(res), {
          statusCode: 415,
          error: 'Unsupported Media Type',
          message: 'Unsupported Media Type: send the body as JSON with "Content-Type: application/json"',
          code: 'UNSUPPORTED_MEDIA_TYPE',
        });
        assert.deepEqual(fake.startCalls, []);
      });

      it(`POST ${url} as the browser sends it (Origin, Sec-Fetch-Site: cross-site) → 403 CROSS_SITE_REQUEST, nothing placed`, async () => {
        const res = await inject({
          method: 'POST',
          url,
          payload: `{"phone_number":"${ISSUE_NUMBER}"}`,
          headers: { ...own(), origin: 'https://news.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'empty' },
        });
        assert.equal(res.statusCode, 403);
        assert.equal(errorOf(res).code, 'CROSS_SITE_REQUEST');
        assert.deepEqual(fake.startCalls, []);
      });
    }

    it('other non-JSON types → 415; JSON with parameters or in upper case → 201', async () => {
      for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/merge-patch+json', 'application/jsonx', 'json', 'application/json; charset=a; charset=b', '']) {
        const res = await postCall({ 'content-type': type }, JSON.stringify({ phone_number: PHONE }));
        assert.equal(res.statusCode, 415, type);
        assert.equal(errorOf(res).code, 'UNSUPPORTED_MEDIA_TYPE', type);
      }
      assert.deepEqual(fake.startCalls, []);
      for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON']) {
        const res = await postCall({ 'content-type': type }, JSON.stringify({ phone_number: PHONE }));
        assert.equal(res.statusCode, 201, `${type}: ${res.payload}`);
      }
      assert.equal(fake.startCalls.length, 3);
    });

    it('an empty POST without a type is 415 too; with the JSON type it is the 400 naming the body', async () => {
      const bare = await inject({ method: 'POST', url: '/api/calls', headers: own() });
      assert.equal(bare.statusCode, 415);
      const typed = await postCall({ 'content-type': 'application/json' }, '');
      assert.equal(typed.statusCode, 400);
      assert.match(errorOf(typed).message, /request payload must be a JSON object/);
    });
  });

  describe('DELETE: no body, no Content-Type needed; the Origin rule covers it', () => {
    beforeEach(() => start());

    it('a body-less DELETE (curl -X DELETE, the dashboard) → 200', async () => {
      const view = fake.addCall(makeCallView(PHONE));
      const res = await inject({ method: 'DELETE', url: `/api/calls/${view.id}`, headers: own() });
      assert.equal(res.statusCode, 200, res.payload);
      assert.deepEqual(fake.hangups, [view.id]);
    });

    it('a body of another declared type → 415; a JSON body is accepted (and ignored)', async () => {
      const view = fake.addCall(makeCallView(PHONE));
      const plain = await inject({ method: 'DELETE', url: `/api/calls/${view.id}`, payload: 'x', headers: { ...own(), 'content-type': 'text/plain' } });
      assert.equal(plain.statusCode, 415);
      assert.deepEqual(fake.hangups, []);
      const json = await inject({ method: 'DELETE', url: `/api/calls/${view.id}`, payload: {}, headers: own() });
      assert.equal(json.statusCode, 200);
    });

    it('a DELETE from another origin → 403, the call is not hung up', async () => {
      const view = fake.addCall(makeCallView(PHONE));
      for (const headers of [{ origin: 'https://news.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }]) {
        const res = await inject({ method: 'DELETE', url: `/api/calls/${view.id}`, headers: { ...own(), ...headers } });
        assert.equal(res.statusCode, 403, JSON.stringify(headers));
        assert.equal(errorOf(res).code, 'CROSS_SITE_REQUEST');
      }
      assert.deepEqual(fake.hangups, []);
    });
  });

  describe('Origin and Sec-Fetch-Site on state-changing routes', () => {
    beforeEach(() => start());

    it('foreign, null, malformed and other-port origins → 403 CROSS_SITE_REQUEST; nothing placed', async () => {
      for (const origin of [
        'https://news.example',
        'http://rebind.attacker.example:' + String(port),
        'null',
        'http://127.0.0.1:3000', // another program on this machine: same site, other origin
        'http://localhost', // port 80
        'file://',
        'chrome-extension://abcdefghijklmnop',
        `http://127.0.0.1:${port}/dashboard`, // not an origin serialisation
        `http://127.0.0.1:${port}, https://news.example`, // two Origin headers joined
        'http://127.attacker.example:' + String(port),
        '',
      ]) {
        const res = await postCall({ origin });
        assert.equal(res.statusCode, 403, `${origin}: ${res.payload}`);
        assert.equal(errorOf(res).code, 'CROSS_SITE_REQUEST');
        assert.match(errorOf(res).message, /requests from other web pages may not place, end or change calls/);
      }
      assert.deepEqual(fake.startCalls, []);
    });

    it('Sec-Fetch-Site cross-site or same-site → 403 even with no Origin; same-origin and none pass', async () => {
      for (const site of ['cross-site', 'same-site']) {
        const res = await postCall({ 'sec-fetch-site': site });
        assert.equal(res.statusCode, 403, site);
        assert.equal(errorOf(res).code, 'CROSS_SITE_REQUEST');
      }
      assert.deepEqual(fake.startCalls, []);
      for (const site of ['same-origin', 'none']) assert.equal((await postCall({ 'sec-fetch-site': site })).statusCode, 201, site);
    });

    it("the API's own origins pass: the loopback names with its port, as the dashboard and /docs send them", async () => {
      for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`, `HTTP://LOCALHOST:${port}`]) {
        const res = await postCall({ origin: origin.toLowerCase() === origin ? origin : origin, 'sec-fetch-site': 'same-origin' });
        assert.equal(res.statusCode, 201, `${origin}: ${res.payload}`);
      }
      assert.equal(fake.startCalls.length, 4);
    });

    it('cookies are not read: junk a browser sends for 127.0.0.1 (set by other local programs) breaks nothing', async () => {
      for (const cookie of [' ', 'a', '=;;=', 'session="unterminated', 'x=\u00ff']) {
        const res = await postCall({ cookie });
        assert.equal(res.statusCode, 201, `${JSON.stringify(cookie)}: ${res.payload}`);
      }
    });

    it('a valid token does not make a cross-site request acceptable', async () => {
      await server?.stop();
      await start({ apiTokens: [TOKEN] });
      const res = await postCall({ authorization: `Bearer ${TOKEN}`, origin: 'https://news.example' });
      assert.equal(res.statusCode, 403);
      assert.deepEqual(fake.startCalls, []);
    });

    it('reads are not refused for their Origin (a link to a recording from another site still opens)', async () => {
      const view = fake.addCall(makeCallView(PHONE));
      const res = await inject({ method: 'GET', url: `/api/calls/${view.id}`, headers: { ...own(), origin: 'https://crm.example', 'sec-fetch-site': 'cross-site' } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['access-control-allow-origin'], undefined, 'no CORS: the other site cannot read it');
    });
  });

  describe('Host must name the API (DNS rebinding) → 421 on every route', () => {
    beforeEach(() => start());

    const routes = ['/api/calls', '/api/calls/3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42', '/api/calls/3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42/recording', '/api/events', '/docs', '/openapi.json', '/dashboard', '/dashboard/app.js', '/metrics', '/health', '/no-such-route'];

    it('rebind.attacker.example:<port> → 421 MISDIRECTED_REQUEST everywhere, for GET and for placing a call', async () => {
      const host = `rebind.attacker.example:${port}`;
      for (const url of routes) {
        const res = await inject({ method: 'GET', url, headers: { host } });
        assert.equal(res.statusCode, 421, url);
        assert.deepEqual(errorOf(res), {
          statusCode: 421,
          error: 'Misdirected Request',
          message: `this gateway does not answer to the host "${host}": use 127.0.0.1, localhost or [::1] with its port, or add the name to API_PUBLIC_HOSTS`,
          code: 'MISDIRECTED_REQUEST',
        });
      }
      const post = await inject({ method: 'POST', url: '/api/calls', payload: { phone_number: PHONE }, headers: { host } });
      assert.equal(post.statusCode, 421);
      assert.deepEqual(fake.startCalls, []);
      assert.deepEqual(fake.getCalls, []);
    });

    it('other names, wrong ports and odd forms → 421; the echoed host is printable and short', async () => {
      for (const host of [
        'localhost:3000',
        `127.0.0.1:${port + 1 > 65_535 ? port - 1 : port + 1}`,
        '127.0.0.1', // port 80
        `127.attacker.example:${port}`,
        `127.0.0.1.nip.io:${port}`,
        `localhost.:${port}`,
        `x.localhost:${port}`,
        `[127.0.0.1]:${port}`,
        `2130706433:${port}`,
        `127.0.0.1:${port}:${port}`,
        `user@127.0.0.1:${port}`,
        `0.0.0.0:${port}`,
        '',
        `a\u202eb:${port}`,
        'x'.repeat(300),
      ]) {
        const res = await inject({ method: 'GET', url: '/health', headers: { host } });
        assert.equal(res.statusCode, 421, JSON.stringify(host));
        assert.ok(errorOf(res).message.length < 260, 'message bounded');
        assert.doesNotMatch(errorOf(res).message, /\u202e/);
      }
    });

    it('loopback names with the port are served: 127.0.0.1, 127.x, localhost, [::1] in any case', async () => {
      for (const host of [`127.0.0.1:${port}`, `127.0.0.2:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`, `[0:0:0:0:0:0:0:1]:${port}`]) {
        const res = await inject({ method: 'GET', url: '/health', headers: { host } });
        assert.equal(res.statusCode, 200, host);
      }
    });

    it('over a real socket too: a foreign Host on the wire gets 421 and no body from the route', async () => {
      const request = http.get({ host: '127.0.0.1', port, path: '/api/calls', headers: { host: `rebind.attacker.example:${port}` } });
      const [response] = (await once(request, 'response')) as [IncomingMessage];
      let text = '';
      for await (const chunk of response.setEncoding('utf8')) text += String(chunk);
      assert.equal(response.statusCode, 421);
      assert.equal((JSON.parse(text) as ErrorBody).code, 'MISDIRECTED_REQUEST');
    });
  });

  describe('API_PUBLIC_HOSTS', () => {
    it('allows the names listed (host = any port, host:port = that port), for Host and Origin', async () => {
      await start({ publicHosts: ['gateway.example.com', 'ops.example.com:8443', '[fd00::5]:8000'] });
      for (const host of ['gateway.example.com', 'gateway.example.com:443', 'GATEWAY.example.com:8000', 'ops.example.com:8443', '[fd00::5]:8000']) {
        assert.equal((await inject({ method: 'GET', url: '/health', headers: { host } })).statusCode, 200, host);
      }
      for (const host of ['ops.example.com', 'ops.example.com:8000', 'example.com', 'evil.gateway.example.com', '[fd00::5]:80']) {
        assert.equal((await inject({ method: 'GET', url: '/health', headers: { host } })).statusCode, 421, host);
      }
      // Behind a TLS proxy that keeps the Host: the page's origin is https://gateway.example.com.
      const res = await inject({
        method: 'POST',
        url: '/api/calls',
        payload: { phone_number: PHONE },
        headers: { host: 'gateway.example.com', origin: 'https://gateway.example.com', 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(res.statusCode, 201, res.payload);
      const foreign = await inject({ method: 'POST', url: '/api/calls', payload: { phone_number: PHONE }, headers: { host: 'gateway.example.com', origin: 'https://ops.example.com' } });
      assert.equal(foreign.statusCode, 403, 'ops.example.com is listed with port 8443 only');
    });

    it('the listen address is a name of the API with its port; a wildcard address is not', async () => {
      const hosts = new ApiHosts({ listenHost: '10.0.0.5', listenPort: () => 8000 });
      assert.equal(hosts.includes('10.0.0.5:8000', 80), true);
      assert.equal(hosts.includes('10.0.0.5:8001', 80), false);
      const ipv6 = new ApiHosts({ listenHost: 'FD00::5', listenPort: () => 8000 });
      assert.equal(ipv6.includes('[fd00::5]:8000', 80), true);
      for (const wildcard of ['0.0.0.0', '::']) {
        const any = new ApiHosts({ listenHost: wildcard, listenPort: () => 8000 });
        assert.equal(any.includes(`${wildcard.includes(':') ? `[${wildcard}]` : wildcard}:8000`, 80), false, wildcard);
        assert.equal(any.includes('127.0.0.1:8000', 80), true);
      }
    });

    it('parseHost takes host and host:port only', () => {
      assert.deepEqual(parseHost('Example.COM:8443'), { name: 'example.com', port: 8443 });
      assert.deepEqual(parseHost('[::1]'), { name: '[::1]', port: undefined });
      for (const bad of ['', ':80', 'a:', 'a:99999', 'a b', 'a_b.example', '[not-ipv6]:80', '[1.2.3.4]', 'http://a', 'a/b', '-a.example', 'a.example.']) {
        assert.equal(parseHost(bad), undefined, bad);
      }
      assert.throws(() => new ApiHosts({ listenHost: '127.0.0.1', listenPort: () => 1, publicHosts: ['https://gateway.example.com'] }), TypeError);
    });
  });
});
