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
});
