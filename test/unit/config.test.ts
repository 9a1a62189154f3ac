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

  it('RESAMPLER_WARM_CALLS: MAX_CONCURRENT_CALLS unless set, never more', () => {
    assert.equal(loadConfig(base).resamplerWarmCalls, 30);
    assert.equal(loadConfig({ ...base, MAX_CONCURRENT_CALLS: '12' }).resamplerWarmCalls, 12);
    assert.equal(loadConfig({ ...base, RESAMPLER_WARM_CALLS: '0' }).resamplerWarmCalls, 0);
    assert.throws(() => loadConfig({ ...base, MAX_CONCURRENT_CALLS: '5', RESAMPLER_WARM_CALLS: '6' }), /RESAMPLER_WARM_CALLS/);
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

  describe('API_TOKEN and METRICS_TOKEN: the rule auth parses headers with (RFC 6750 b64token, >= 16 chars)', () => {
    const good = 'tok_live_0123456789abcdef';

    it('accepts b64tokens, comma lists with spaces around the commas, and trailing "="', () => {
      const c = loadConfig({ ...base, API_TOKEN: `${good}, abc.def~ghi+jkl/mno==`, METRICS_TOKEN: 'metrics-0123456789' });
      assert.deepEqual(c.apiTokens, [good, 'abc.def~ghi+jkl/mno==']);
      assert.equal(c.metricsToken, 'metrics-0123456789');
    });

    for (const [name, value] of [
      ['API_TOKEN', 'short_token_123'], // 15 chars
      ['API_TOKEN', 'has!bang_0123456789'], // printable, but auth could never parse it from a header
      ['API_TOKEN', 'tök€n_0123456789abcdef'],
      ['API_TOKEN', `${good},,${good}`],
      ['API_TOKEN', `${good},short`],
      ['API_TOKEN', 'inner space 0123456789'],
      ['METRICS_TOKEN', 'has spaces in it, 123'],
      ['METRICS_TOKEN', `${good},${good}`], // one token only
      ['METRICS_TOKEN', 'a=b_0123456789abcdef'], // "=" only at the end
    ] as const) {
      it(`refuses ${name}=${JSON.stringify(value)} with a message that does not echo it`, () => {
        assert.throws(
          () => loadConfig({ ...base, [name]: value }),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.match(err.message, new RegExp(`"${name}" must be .*RFC 6750 b64token`));
            assert.ok(!err.message.includes(value), 'token echoed');
            return true;
          },
        );
      });
    }
  });

  describe('API_HOST without API_TOKEN: loopback decided by address', () => {
    for (const host of ['127.0.0.1', '127.10.20.30', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      it(`${host} may run without a token`, () => {
        assert.equal(loadConfig({ ...base, API_HOST: host }).apiHost, host);
      });
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '127.attacker.example', '127.0.0.1.nip.io', 'localhost.attacker.example', 'x.localhost', 'gateway.internal']) {
      it(`${host} needs API_TOKEN`, () => {
        assert.throws(() => loadConfig({ ...base, API_HOST: host }), /"API_TOKEN" is required when API_HOST .* is not a loopback address/);
        assert.equal(loadConfig({ ...base, API_HOST: host, API_TOKEN: 'tok_live_0123456789abcdef' }).apiHost, host);
      });
    }
  });

  describe('ARI_URL with credentials', () => {
    for (const url of ['http://gw:s3cret-pw@127.0.0.1:8088', 'http://gw@127.0.0.1:8088', 'https://:s3cret-pw@ari.internal:8088/']) {
      it(`refuses ${url.replace('s3cret-pw', '…')} naming the variable, without echoing it`, () => {
        assert.throws(
          () => loadConfig({ ...base, ARI_URL: url }),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.deepEqual(err.problems, ['"ARI_URL" must not carry credentials ("user:password@"): set ARI_USERNAME and ARI_PASSWORD instead']);
            assert.ok(!err.message.includes('s3cret') && !err.message.includes('gw@'), err.message);
            return true;
          },
        );
      });
    }

    it('a URL that does not parse is reported without its text', () => {
      assert.throws(
        () => loadConfig({ ...base, ARI_URL: 'http://gw:s3cret-pw@[bad' }),
        (err: unknown) => err instanceof ConfigError && /"ARI_URL" must be a valid uri/.test(err.message) && !err.message.includes('s3cret'),
      );
    });
  });

  describe('API_PUBLIC_HOSTS', () => {
    it('is a comma list of host or host:port, lower-cased; empty by default', () => {
      assert.deepEqual(loadConfig(base).apiPublicHosts, []);
      assert.deepEqual(loadConfig({ ...base, API_PUBLIC_HOSTS: 'Gateway.Example.com, 10.0.0.5:8000,[fd00::5]:8000' }).apiPublicHosts, [
        'gateway.example.com',
        '10.0.0.5:8000',
        '[fd00::5]:8000',
      ]);
    });

    for (const bad of ['https://gateway.example.com', 'gateway.example.com/api', '*.example.com', 'a,,b', 'host:99999', 'under_score.example']) {
      it(`refuses ${JSON.stringify(bad)}`, () => {
        assert.throws(() => loadConfig({ ...base, API_PUBLIC_HOSTS: bad }), /"API_PUBLIC_HOSTS" must be a comma list of host or host:port/);
      });
    }
  });

  describe('CALLER_IDS', () => {
    it('is a comma list of E.164 numbers; unset = empty (any caller_id)', () => {
      assert.deepEqual(loadConfig(base).callerIds, []);
      assert.deepEqual(loadConfig({ ...base, CALLER_IDS: '+74951234567, +74957654321' }).callerIds, ['+74951234567', '+74957654321']);
    });

    for (const bad of ['74951234567', '+7 495 123', '+74951234567,,+74957654321', 'anonymous']) {
      it(`refuses ${JSON.stringify(bad)}`, () => {
        assert.throws(() => loadConfig({ ...base, CALLER_IDS: bad }), /"CALLER_IDS" must be a comma list of E\.164 numbers/);
      });
    }

    it('CALLER_ID, the default, must be one of them (with or without its "+")', () => {
      assert.throws(() => loadConfig({ ...base, CALLER_IDS: '+74951234567', CALLER_ID: '+74950000000' }), /"CALLER_ID" must be one of CALLER_IDS/);
      assert.equal(loadConfig({ ...base, CALLER_IDS: '+74951234567', CALLER_ID: '74951234567' }).callerId, '74951234567');
    });
  });
});
