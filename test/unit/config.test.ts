import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config';

const base = {
  ARI_URL: 'http://127.0.0.1:8088/',
  ARI_USERNAME: 'gw',
  ARI_PASSWORD: 'secret',
  ELEVENLABS_AGENT_ID: 'agent_1',
};

describe('loadConfig', () => {
  it('applies defaults and units', () => {
    const c = loadConfig(base);
    assert.equal(c.ariUrl, 'http://127.0.0.1:8088');
    assert.equal(c.audioChunkSizeMs, 20);
    assert.equal(c.externalMediaFormat, 'slin');
    assert.equal(c.elevenLabsApiUrl, 'https://api.elevenlabs.io');
    assert.equal(c.elevenLabsApiKey, undefined);
    assert.ok(Object.isFrozen(c));
  });

  it('lists every problem at once, naming the variables', () => {
    assert.throws(
      () => loadConfig({ ARI_URL: 'not a url', EXTERNAL_MEDIA_FORMAT: 'slin16', RTP_PORT_MIN: '5000', RTP_PORT_MAX: '4000' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        for (const name of ['ARI_URL', 'ARI_USERNAME', 'ARI_PASSWORD', 'ELEVENLABS_AGENT_ID', 'EXTERNAL_MEDIA_FORMAT', 'RTP_PORT_MAX']) {
          assert.match(text, new RegExp(name), `${name} missing from: ${text}`);
        }
        return true;
      },
    );
  });

  it('treats empty strings as unset and ignores unrelated variables', () => {
    const c = loadConfig({ ...base, ELEVENLABS_API_KEY: '', PATH: '/usr/bin', CALLER_ID: '' });
    assert.equal(c.elevenLabsApiKey, undefined);
    assert.equal(c.callerId, undefined);
  });

  it('does not put the password in error messages', () => {
    try {
      loadConfig({ ...base, ARI_PASSWORD: 'hunter2', API_PORT: 'x' });
      assert.fail('expected ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.doesNotMatch(err.message, /hunter2/);
    }
  });
});
