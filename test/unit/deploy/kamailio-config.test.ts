import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { renderAsteriskConfig } from '../../../src/deploy/asterisk-config';
import { TemplateEnvError } from '../../../src/deploy/config-template';
import { KAMAILIO_FILES, KAMAILIO_TEMPLATE_SCHEMA, renderKamailioConfig } from '../../../src/deploy/kamailio-config';
import { readTemplateDir } from '../../../src/deploy/template-dir';

const REPO = path.resolve(__dirname, '../../..');
const KAMAILIO_DIR = path.join(REPO, 'asterisk-conf/kamailio');
const env = {
  SIP_HOST: 'sip.example.net',
  SIP_PASSWORD: 'pa:ss\\word',
  KAMAILIO_SIP_ADDRESS: '203.0.113.5',
  KAMAILIO_NODES: 'node-1=10.0.0.11:5060/5070,node-2=10.0.0.12:5062/5072',
};

describe('deploy/kamailio-config (the SIP edge in asterisk-conf/kamailio/)', function () {
  let templates: Record<string, string>;
  before(async function () {
    templates = Object.fromEntries(await Promise.all(Object.keys(KAMAILIO_FILES).map(async (n) => [n, await readFile(path.join(KAMAILIO_DIR, n), 'utf8')] as const)));
  });

  it('renders kamailio.cfg, dispatcher.list and the db_text tables, leaving no placeholder', function () {
    const out = renderKamailioConfig(templates, env);
    assert.deepEqual(Object.keys(out).sort(), ['db/uacreg', 'db/version', 'dispatcher.list', 'kamailio.cfg']);
    for (const [name, text] of Object.entries(out)) assert.doesNotMatch(text, /\$\{/, `${name} has an unrendered placeholder`);
    assert.match(out['kamailio.cfg'] ?? '', /^listen=udp:203\.0\.113\.5:5060$/m);
    assert.doesNotMatch(out['kamailio.cfg'] ?? '', /is_in_subnet/, 'no carrier networks set: no subnet check');
  });

  it('one dispatcher line per node: its Asterisk as the destination, its gateway as the probe (obproxy)', function () {
    const lines = (renderKamailioConfig(templates, env)['dispatcher.list'] ?? '').split('\n').filter((l) => !l.startsWith('#') && l.trim() !== '');
    assert.deepEqual(lines, [
      '1 sip:10.0.0.11:5060 0 0 duid=node-1;obproxy=sip:10.0.0.11:5070',
      '1 sip:10.0.0.12:5062 0 0 duid=node-2;obproxy=sip:10.0.0.12:5072',
    ]);
  });

  it("the registration row escapes db_text's separator in the password and the carrier's address", function () {
    const out = renderKamailioConfig(templates, { ...env, SIP_PORT: '5080' });
    const [header = '', row = ''] = (out['db/uacreg'] ?? '').split('\n');
    const columns = header.trim().split(' ').map((c) => c.replace(/\(.*$/, ''));
    // Split on ':' not preceded by an escape.
    const fields = row.split(/(?<!\\):/);
    const field = (name: string): string | undefined => fields[columns.indexOf(name)];
    assert.equal(field('auth_password'), 'pa\\:ss\\\\word');
    assert.equal(field('r_domain'), 'sip.example.net\\:5080');
    assert.equal(field('l_uuid'), '883140776920289');
    assert.equal(field('auth_proxy'), 'sip\\:sip.example.net\\:5080');
    assert.match(out['db/version'] ?? '', /^1:uacreg:5$/m);
  });

  it('refuses a bad node list or a missing address, naming each, and never echoes the password', function () {
    for (const nodes of ['node-1=10.0.0.11:5060', 'node-1=host.example:5060/5070', 'a=10.0.0.1:5060/5070,a=10.0.0.2:5060/5070']) {
      assert.throws(() => renderKamailioConfig(templates, { ...env, KAMAILIO_NODES: nodes }), (err: Error) => err instanceof TemplateEnvError && /KAMAILIO_NODES/.test(err.message));
    }
    assert.throws(
      () => renderKamailioConfig(templates, { SIP_PASSWORD: 'secret-pw' }),
      (err: Error) => err instanceof TemplateEnvError && /KAMAILIO_SIP_ADDRESS/.test(err.message) && /KAMAILIO_NODES/.test(err.message) && !err.message.includes('secret-pw'),
    );
    assert.throws(() => renderKamailioConfig(templates, { ...env, KAMAILIO_NODES: 'n=203.0.113.5:5060/5070' }), /uses the edge's own address/);
  });

  it('carrier networks add a subnet check', function () {
    assert.match(renderKamailioConfig(templates, { ...env, KAMAILIO_CARRIER_NETWORKS: '198.51.100.0/24' })['kamailio.cfg'] ?? '', /is_in_subnet\("\$si", "198\.51\.100\.0\/24"\)/);
  });

  it('.env.example lists every Kamailio variable', async function () {
    const text = await readFile(path.join(REPO, '.env.example'), 'utf8');
    const listed = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? ''));
    assert.deepEqual(Object.keys(KAMAILIO_TEMPLATE_SCHEMA.vars).filter((n) => !listed.has(n)), []);
  });
});

describe('asterisk-conf/pjsip.conf as a cluster node (SIP_EDGE_HOST)', function () {
  const base = { SIP_PASSWORD: 'trunk-pass', ARI_USERNAME: 'gateway', ARI_PASSWORD: 'ari-pass' };
  let templates: Record<string, string>;
  before(async function () {
    templates = await readTemplateDir(path.join(REPO, 'asterisk-conf'));
  });

  it('without it: registers, no outbound proxy (as before)', function () {
    const pjsip = renderAsteriskConfig(templates, base)['pjsip.conf'] ?? '';
    assert.match(pjsip, /^type = registration$/m);
    assert.doesNotMatch(pjsip, /outbound_proxy/);
  });

  it('with it: no registration, every request through the edge, calls from the edge are trunk calls', function () {
    const pjsip = renderAsteriskConfig(templates, { ...base, SIP_EDGE_HOST: '10.0.0.2', SIP_EDGE_PORT: '5080' })['pjsip.conf'] ?? '';
    assert.doesNotMatch(pjsip, /type = registration/);
    assert.doesNotMatch(pjsip, /-reg\]/);
    assert.equal(pjsip.match(/^outbound_proxy = sip:10\.0\.0\.2:5080\\;lr$/gm)?.length, 2, 'endpoint and aor');
    assert.match(pjsip, /^match = 10\.0\.0\.2$/m);
  });
});
