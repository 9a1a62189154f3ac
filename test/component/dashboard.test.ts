import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Hapi, { type Server, type ServerInjectResponse } from '@hapi/hapi';
import Inert from '@hapi/inert';
import pino from 'pino';
import { DASHBOARD_ASSETS, DASHBOARD_CSP, DASHBOARD_PATH, dashboardRoutes, findDashboardDir } from '../../src/api/routes/dashboard';
import { createServer, type ServerOptions } from '../../src/api/server';
import { CallEventBus } from '../../src/events/call-events';
import { FakeCallApi, makeCallView } from '../fakes/fake-call-api';

const TOKEN = 'tok_live_0123456789abcdef';
const ASSETS_DIR = path.resolve(__dirname, '../../src/api/dashboard');
const readAsset = (file: string): string => readFileSync(path.join(ASSETS_DIR, file), 'utf8');

describe('dashboard page (server.inject)', () => {
  let server: Server | undefined;
  let fake: FakeCallApi;

  const start = async (options: Partial<ServerOptions> = {}): Promise<Server> => {
    const log = pino({ level: 'silent' });
    server = await createServer({ host: '127.0.0.1', port: 0, calls: fake, log, version: 'test', events: new CallEventBus(log), ...options });
    await server.initialize();
    return server;
  };
  const get = (url: string, headers: Record<string, string> = {}): Promise<ServerInjectResponse> => {
    assert.ok(server);
    return server.inject({ method: 'GET', url, headers });
  };

  beforeEach(() => {
    fake = new FakeCallApi();
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  describe('files, types and headers', () => {
    beforeEach(() => start());

    for (const asset of DASHBOARD_ASSETS) {
      it(`GET ${asset.path} → 200 ${asset.type}, the file's bytes, self-only CSP and hardening headers`, async () => {
        const res = await get(asset.path);
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], asset.type);
        assert.equal(res.payload, readAsset(asset.file));
        assert.equal(res.headers['content-security-policy'], DASHBOARD_CSP);
        assert.equal(res.headers['x-frame-options'], 'DENY');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.equal(res.headers['referrer-policy'], 'no-referrer');
        assert.equal(res.headers['cache-control'], 'no-cache');
        assert.ok(res.headers['etag'], 'an ETag for revalidation');
      });
    }

    it('serves every file of the page folder, with the expected types', () => {
      const files = readdirSync(ASSETS_DIR).sort();
      assert.deepEqual(DASHBOARD_ASSETS.map((a) => a.file).sort(), files);
      const typeOf = (file: string) => DASHBOARD_ASSETS.find((a) => a.file === file)?.type;
      assert.equal(typeOf('index.html'), 'text/html; charset=utf-8');
      assert.equal(typeOf('app.js'), 'text/javascript; charset=utf-8');
      assert.equal(typeOf('style.css'), 'text/css; charset=utf-8');
    });

    it('the CSP allows only this origin: no inline script or style, no eval, no framing, no form posts', () => {
      const directives = new Map(DASHBOARD_CSP.split(';').map((d) => d.trim().split(/\s+/) as [string, ...string[]]).map(([k, ...v]) => [k, v]));
      assert.deepEqual(directives.get('default-src'), ["'none'"]);
      for (const name of ['script-src', 'style-src', 'img-src', 'connect-src']) assert.deepEqual(directives.get(name), ["'self'"], name);
      assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
      assert.deepEqual(directives.get('form-action'), ["'none'"]);
      assert.deepEqual(directives.get('base-uri'), ["'none'"]);
      assert.doesNotMatch(DASHBOARD_CSP, /unsafe-|\*|https?:|data:/);
    });

    it('a trailing slash serves the page; a revalidation with the ETag gets 304', async () => {
      assert.equal((await get('/dashboard/')).statusCode, 200);
      const first = await get('/dashboard/app.js');
      const again = await get('/dashboard/app.js', { 'if-none-match': String(first.headers['etag']) });
      assert.equal(again.statusCode, 304);
    });

    it('serves only the listed files: no directory listing, no traversal', async () => {
      for (const url of ['/dashboard/index.html', '/dashboard/../package.json', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/app.js.map']) {
        const res = await get(url);
        assert.ok(res.statusCode === 404 || res.statusCode === 400, `${url} → ${res.statusCode}`);
        assert.doesNotMatch(res.payload, /"name": "voice-gateway"/);
      }
    });

    it('is not in the API docs', async () => {
      const doc = JSON.parse((await get('/openapi.json')).payload) as { paths: Record<string, unknown> };
      assert.ok(Object.keys(doc.paths).every((p) => !p.startsWith(DASHBOARD_PATH)));
    });
  });

  describe('with API tokens', () => {
    beforeEach(() => start({ apiTokens: [TOKEN] }));

    it('the page and its assets are public', async () => {
      for (const asset of DASHBOARD_ASSETS) {
        const res = await get(asset.path);
        assert.equal(res.statusCode, 200, asset.path);
      }
    });

    it('/api/* still needs the token (the calls the page makes)', async () => {
      const view = fake.addCall(makeCallView('+14155550123'));
      const urls = ['/api/calls', `/api/calls/${view.id}`, '/api/events'];
      for (const url of urls) {
        const res = await get(url);
        assert.equal(res.statusCode, 401, url);
        assert.match(String(res.headers['www-authenticate']), /^Bearer realm=/);
      }
      assert.equal((await get('/api/calls', { authorization: `Bearer ${TOKEN}` })).statusCode, 200);
      assert.equal((await get(`/api/calls/${view.id}`, { authorization: `Bearer ${TOKEN}` })).statusCode, 200);
      assert.ok(server);
      const hangup = await server.inject({ method: 'DELETE', url: `/api/calls/${view.id}` });
      assert.equal(hangup.statusCode, 401);
      assert.deepEqual(fake.hangups, []);
    });

    it('no asset carries the token or any other secret', async () => {
      for (const asset of DASHBOARD_ASSETS) {
        const res = await get(asset.path);
        assert.ok(!res.payload.includes(TOKEN), asset.path);
        assert.doesNotMatch(res.payload, /api[_-]?key\s*[:=]|password\s*[:=]/i, asset.path);
      }
    });
  });

  describe('the page source (what the CSP and the escaping rule demand)', () => {
    const html = readAsset('index.html');
    const scripts = DASHBOARD_ASSETS.filter((a) => a.file.endsWith('.js')).map((a) => ({ file: a.file, source: readAsset(a.file) }));

    it('HTML: no inline script, style or event handler; every asset from /dashboard/', () => {
      assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/i, 'every <script> has a src');
      assert.doesNotMatch(html, /<style/i);
      assert.doesNotMatch(html, /\sstyle=/i);
      assert.doesNotMatch(html, /\son[a-z]+=/i);
      const refs = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
      assert.ok(refs.length >= 3);
      for (const ref of refs) assert.match(ref ?? '', /^\/dashboard\/[a-z-]+\.(js|css|svg)$/, ref);
    });

    it('JS: text goes in as text (no innerHTML, insertAdjacentHTML, document.write or eval), no inline styles', () => {
      for (const { file, source } of scripts) {
        assert.doesNotMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, file);
        assert.doesNotMatch(source, /\.style\.|setAttribute\('style'/, `${file}: style-src is self only`);
      }
    });

    it('JS: every module imported is one the server serves', () => {
      const served = new Set(DASHBOARD_ASSETS.map((a) => a.file));
      let imports = 0;
      for (const { file, source } of scripts) {
        for (const [, target] of source.matchAll(/^import [^;]* from '([^']+)';$/gm)) {
          imports += 1;
          assert.match(target ?? '', /^\.\/[a-z-]+\.js$/, `${file} imports ${target}`);
          assert.ok(served.has((target ?? '').slice(2)), `${file} imports ${target}, which is not served`);
        }
      }
      assert.ok(imports >= 4, `found ${imports} imports`);
    });

    it('every element the script looks up exists in the page', () => {
      const ids = scripts.flatMap(({ source }) => [...source.matchAll(/byId\('([a-z-]+)'\)/g)].map((m) => m[1] ?? ''));
      assert.ok(ids.length > 10);
      for (const id of ids) assert.match(html, new RegExp(`\\sid="${id}"`), `#${id}`);
    });
  });

  describe('locating the files', () => {
    it('finds them beside the routes in src, and in the source tree when run from dist/', () => {
      assert.equal(findDashboardDir(), ASSETS_DIR);
      assert.equal(findDashboardDir(path.resolve(__dirname, '../../dist/src/api/routes')), ASSETS_DIR);
      assert.equal(findDashboardDir('/nonexistent/a/b/c/d'), undefined);
    });

    it('a build without the files answers 404 and logs why, and the rest of the server is unaffected', async () => {
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
      const bare = Hapi.server();
      await bare.register(Inert);
      bare.route([...dashboardRoutes({ log, assetsDir: '/nonexistent/dashboard' }), { method: 'GET', path: '/ok', handler: () => 'ok' }]);
      try {
        const res = await bare.inject('/dashboard');
        assert.equal(res.statusCode, 404);
        assert.match(res.payload, /dashboard files are not installed/);
        assert.equal((await bare.inject('/ok')).statusCode, 200);
        assert.equal(lines.length, 1);
        assert.match(lines[0] ?? '', /dashboard files not found/);
      } finally {
        await bare.stop();
      }
    });
  });
});
