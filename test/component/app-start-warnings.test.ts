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
