import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../../src/config';

const base = { ARI_URL: 'http://127.0.0.1:8088', ARI_USERNAME: 'gw', ARI_PASSWORD: 'secret', ELEVENLABS_AGENT_ID: 'agent_1' };
const URL = 'postgres://vg:Db-Pa55word@10.0.0.5:5432/voice_gateway';
const TOKEN = 'c'.repeat(40);

describe('loadConfig: NODE_ID and the cluster settings', () => {
  it('without DATABASE_URL there is no cluster; NODE_ID defaults to a usable host name', () => {
    const c = loadConfig(base);
    assert.equal(c.cluster, undefined);
    assert.match(c.nodeId, /^[A-Za-z0-9_.-]{1,64}$/);
    assert.equal(loadConfig({ ...base, NODE_ID: 'gw-7' }).nodeId, 'gw-7');
    assert.throws(() => loadConfig({ ...base, NODE_ID: 'has space' }), /NODE_ID/);
  });

  it('DATABASE_URL makes a cluster node with defaults; the probe only with a port', () => {
    const cluster = loadConfig({ ...base, DATABASE_URL: URL, CLUSTER_TOKEN: TOKEN }).cluster;
    assert.deepEqual({ ...cluster, databaseUrl: undefined }, {
      databaseUrl: undefined, token: TOKEN, apiUrl: undefined, maxConcurrentCalls: undefined, heartbeatMs: 2000, nodeTimeoutMs: 10_000, probe: undefined,
    });
    const tuned = loadConfig({ ...base, DATABASE_URL: URL, CLUSTER_TOKEN: TOKEN, CLUSTER_PROBE_PORT: '5070', CLUSTER_API_URL: 'http://10.0.0.11:8000/', CLUSTER_MAX_CONCURRENT_CALLS: '80' }).cluster;
    assert.deepEqual([tuned?.probe, tuned?.apiUrl, tuned?.maxConcurrentCalls], [{ host: '127.0.0.1', port: 5070 }, 'http://10.0.0.11:8000', 80]);
  });

  it('refuses a cluster without CLUSTER_TOKEN, a short token, a non-postgres URL or a timeout under 3 heartbeats, never echoing the password', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ DATABASE_URL: URL }, /CLUSTER_TOKEN" is required/],
      [{ DATABASE_URL: URL, CLUSTER_TOKEN: 'short' }, /at least 32/],
      [{ DATABASE_URL: 'mysql://vg:Db-Pa55word@x/db', CLUSTER_TOKEN: TOKEN }, /DATABASE_URL/],
      [{ DATABASE_URL: URL, CLUSTER_TOKEN: TOKEN, CLUSTER_HEARTBEAT_MS: '2000', CLUSTER_NODE_TIMEOUT_MS: '5000' }, /3 × CLUSTER_HEARTBEAT_MS/],
    ];
    for (const [env, message] of cases) {
      assert.throws(() => loadConfig({ ...base, ...env }), (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('Db-Pa55word'));
    }
  });
});
