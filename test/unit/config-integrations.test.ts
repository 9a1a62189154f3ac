/** The configuration of webhooks, campaigns and the agent's protocol options (src/config.ts). */
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';

const base = {
  ARI_URL: 'http://127.0.0.1:8088/',
  ARI_USERNAME: 'gw',
  ARI_PASSWORD: 'secret',
  ELEVENLABS_AGENT_ID: 'agent_1',
};

describe('loadConfig: integrations', () => {
  describe('MCP_APPROVAL and AGENT_USER_ID', () => {
    it('deny MCP approvals and send the other party as user_id by default', () => {
      const c = loadConfig(base);
      assert.equal(c.mcpApproval, 'deny');
      assert.equal(c.agentUserId, undefined);
    });

    it('take auto and a fixed user id', () => {
      const c = loadConfig({ ...base, MCP_APPROVAL: 'auto', AGENT_USER_ID: 'crm-7' });
      assert.equal(c.mcpApproval, 'auto');
      assert.equal(c.agentUserId, 'crm-7');
    });

    it('refuse another MCP_APPROVAL, naming it', () => {
      assert.throws(() => loadConfig({ ...base, MCP_APPROVAL: 'ask' }), /MCP_APPROVAL/);
    });
  });

  describe('WEBHOOK_*', () => {
    it('is off by default, with the documented delivery settings', () => {
      const c = loadConfig(base);
      assert.deepEqual(c.webhookUrls, []);
      assert.equal(c.webhookSecret, undefined);
      assert.deepEqual([c.webhookMaxAttempts, c.webhookTimeoutMs, c.webhookRetryMinMs, c.webhookRetryMaxMs, c.webhookConcurrency], [12, 10_000, 1000, 300_000, 4]);
    });

    it('takes a list of URLs (duplicates once) with a secret', () => {
      const c = loadConfig({ ...base, WEBHOOK_URLS: 'https://a.example/h, http://10.0.0.5:9000/x,https://a.example/h', WEBHOOK_SECRET: 's'.repeat(16) });
      assert.deepEqual(c.webhookUrls, ['https://a.example/h', 'http://10.0.0.5:9000/x']);
    });

    it('requires WEBHOOK_SECRET (at least 16 characters) with WEBHOOK_URLS, and never echoes it', () => {
      assert.throws(() => loadConfig({ ...base, WEBHOOK_URLS: 'https://a.example/h' }), /"WEBHOOK_SECRET" is required when WEBHOOK_URLS is set/);
      assert.throws(
        () => loadConfig({ ...base, WEBHOOK_URLS: 'https://a.example/h', WEBHOOK_SECRET: 'short-secret' }),
        (err: Error) => /WEBHOOK_SECRET" must be at least 16 characters/.test(err.message) && !err.message.includes('short-secret'),
      );
    });

    for (const bad of ['ftp://a.example/h', 'https://user:pw@a.example/h', 'not a url', 'https://a.example/h,,']) {
      it(`refuses WEBHOOK_URLS=${JSON.stringify(bad)}`, () => {
        assert.throws(() => loadConfig({ ...base, WEBHOOK_URLS: bad, WEBHOOK_SECRET: 's'.repeat(16) }), /"WEBHOOK_URLS" must be a comma list of http/);
      });
    }

    it('refuses a maximum backoff below the minimum', () => {
      assert.throws(() => loadConfig({ ...base, WEBHOOK_RETRY_MIN_MS: '5000', WEBHOOK_RETRY_MAX_MS: '1000' }), /WEBHOOK_RETRY_MAX_MS/);
    });
  });

  describe('AGENT_CONNECT and AGENT_PRECONNECT_MAX_S', () => {
    it('connect while ringing for at most 20 s by default', () => {
      const c = loadConfig(base);
      assert.equal(c.agentConnect, 'ringing');
      assert.equal(c.agentPreconnectMaxMs, 20_000);
    });

    it('take answer and another limit; refuse other values, naming them', () => {
      const c = loadConfig({ ...base, AGENT_CONNECT: 'answer', AGENT_PRECONNECT_MAX_S: '5' });
      assert.deepEqual([c.agentConnect, c.agentPreconnectMaxMs], ['answer', 5000]);
      assert.throws(() => loadConfig({ ...base, AGENT_CONNECT: 'never' }), /AGENT_CONNECT/);
      assert.throws(() => loadConfig({ ...base, AGENT_PRECONNECT_MAX_S: '0' }), /AGENT_PRECONNECT_MAX_S/);
    });
  });
});
