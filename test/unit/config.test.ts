import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config';

const base = {
  ARI_URL: 'http://127.0.0.1:8088/',
  ARI_USERNAME: 'gw',
  ARI_PASSWORD: 'secret',
  ELEVENLABS_AGENT_ID: 'agent_1',
};

const pick = (c: ReturnType<typeof loadConfig>): [string, string] => [c.externalMediaHost, c.externalMediaAdvertiseHost];

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

  it('takes EXTERNAL_MEDIA_HOST as an IP address, and advertises it unless EXTERNAL_MEDIA_ADVERTISE_HOST says otherwise', () => {
    assert.deepEqual(pick(loadConfig(base)), ['127.0.0.1', '127.0.0.1']);
    assert.deepEqual(pick(loadConfig({ ...base, EXTERNAL_MEDIA_HOST: '10.0.0.5' })), ['10.0.0.5', '10.0.0.5']);
    assert.deepEqual(pick(loadConfig({ ...base, EXTERNAL_MEDIA_HOST: '0.0.0.0', EXTERNAL_MEDIA_ADVERTISE_HOST: '172.18.0.3' })), ['0.0.0.0', '172.18.0.3']);
    assert.deepEqual(pick(loadConfig({ ...base, EXTERNAL_MEDIA_HOST: '::1' })), ['::1', '::1']);
    assert.deepEqual(pick(loadConfig({ ...base, EXTERNAL_MEDIA_ADVERTISE_HOST: '' })), ['127.0.0.1', '127.0.0.1']);
  });

  for (const [env, name] of [
    [{ EXTERNAL_MEDIA_HOST: 'localhost' }, 'EXTERNAL_MEDIA_HOST'],
    [{ EXTERNAL_MEDIA_HOST: 'gateway.example.com' }, 'EXTERNAL_MEDIA_HOST'],
    [{ EXTERNAL_MEDIA_HOST: '10.0.0.0/8' }, 'EXTERNAL_MEDIA_HOST'],
    [{ EXTERNAL_MEDIA_ADVERTISE_HOST: 'app' }, 'EXTERNAL_MEDIA_ADVERTISE_HOST'],
    // A wildcard bind needs a real address for Asterisk to send to.
    [{ EXTERNAL_MEDIA_HOST: '0.0.0.0' }, 'EXTERNAL_MEDIA_ADVERTISE_HOST'],
    [{ EXTERNAL_MEDIA_HOST: '::' }, 'EXTERNAL_MEDIA_ADVERTISE_HOST'],
    [{ EXTERNAL_MEDIA_HOST: '0.0.0.0', EXTERNAL_MEDIA_ADVERTISE_HOST: '0.0.0.0' }, 'EXTERNAL_MEDIA_ADVERTISE_HOST'],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}, naming ${name}`, () => {
      assert.throws(
        () => loadConfig({ ...base, ...env }),
        (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes(`"${name}"`)),
      );
    });
  }

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
