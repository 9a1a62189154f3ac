import assert from 'node:assert/strict';
import pino from 'pino';
import { App } from '../../src/app';
import { MemoryCallStore } from '../../src/store/call-store';
import { loadConfig } from '../../src/config';

/** An App with no Asterisk behind it (ARI_URL on a closed port): it starts, logs, and retries ARI until stopped. */
async function startAppLogging(env: Record<string, string>): Promise<{ lines: { level: number; msg: string }[]; app: App }> {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const config = loadConfig({
    ARI_URL: 'http://127.0.0.1:1',
    ARI_USERNAME: 'gw',
    ARI_PASSWORD: 'secret',
    ELEVENLABS_AGENT_ID: 'agent_1',
    API_PORT: '0',
    CALL_DB_PATH: ':memory:',
    ...env,
  });
  const app = new App(config, log, { store: new MemoryCallStore() });
  await app.start();
  return { lines, app };
}

describe('App start: warnings about what the trunk can reach', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.stop(0);
    app = undefined;
  });

  const WARN = 40;
  const reachWarning = /^ALLOWED_PREFIXES is empty: every country is reachable/;

  it('warns when ALLOWED_PREFIXES is empty', async () => {
    const started = await startAppLogging({});
    app = started.app;
    const warning = started.lines.find((l) => reachWarning.test(l.msg));
    assert.equal(warning?.level, WARN, JSON.stringify(started.lines));
  });

  it('is quiet about it with ALLOWED_PREFIXES set; warns when the built-in list is switched off', async () => {
    const started = await startAppLogging({ ALLOWED_PREFIXES: '+7', DENY_PREMIUM_PREFIXES: 'false' });
    app = started.app;
    assert.equal(started.lines.find((l) => reachWarning.test(l.msg)), undefined);
    assert.ok(started.lines.some((l) => l.level === WARN && /^DENY_PREMIUM_PREFIXES is off/.test(l.msg)), JSON.stringify(started.lines));
  });
});

describe('App start and stop: what is left after a failed start, and after stop', () => {
  function newApp(env: Record<string, string> = {}): App {
    const config = loadConfig({ ARI_URL: 'http://127.0.0.1:1', ARI_USERNAME: 'gw', ARI_PASSWORD: 'secret', ELEVENLABS_AGENT_ID: 'agent_1', API_PORT: '0', MEDIA_WORKERS: '1', ...env });
    return new App(config, pino({ level: 'silent' }), { store: new MemoryCallStore() });
  }
  const mediaStopped = (app: App): Promise<void> =>
    assert.rejects(app.mediaWorkers!.open('c1', {}, new AbortController().signal), (err: Error & { code?: string }) => err.code === 'MEDIA_STOPPED');

  it('a start that fails half-way (its port taken) releases what it started: the media workers are stopped, and it does not start again', async () => {
    const holder = newApp();
    await holder.start();
    try {
      const port = String(new URL(holder.server.info.uri).port);
      const app = newApp({ API_PORT: port });
      await assert.rejects(app.start(), /EADDRINUSE/);
      assert.equal(app.phase, 'closed');
      await mediaStopped(app);
      await assert.rejects(app.start(), /does not start again/);
      await app.stop(0); // a no-op now
    } finally {
      await holder.stop(0);
    }
    assert.equal(holder.phase, 'closed');
    await mediaStopped(holder);
  });

  it('an App stopped without ever starting releases its media workers', async () => {
    const app = newApp();
    await app.stop(0);
    assert.equal(app.phase, 'closed');
    await mediaStopped(app);
  });
});
