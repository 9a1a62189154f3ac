import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ASTERISK_TEMPLATE_SCHEMA, renderAsteriskConfig } from '../../../src/deploy/asterisk-config';
import { TemplateEnvError } from '../../../src/deploy/config-template';
import { readTemplateDir } from '../../../src/deploy/template-dir';
import { CARRIER_TEMPLATE_DIR, CARRIER_TEMPLATE_SCHEMA } from '../../carrier/carrier-config';
import { renderTemplates } from '../../../src/deploy/config-template';

const REPO = path.resolve(__dirname, '../../..');
const minimalEnv = { SIP_PASSWORD: 'trunk-pass', ARI_USERNAME: 'gateway', ARI_PASSWORD: 'ari-pass' };

/** `key = value` lines of one `[section]` (the first one with that name and `type`, if given). */
function section(conf: string, name: string, type?: string): Map<string, string> {
  const blocks = conf.split(/^(?=\[)/m);
  for (const block of blocks) {
    if (!block.startsWith(`[${name}]`)) continue;
    const entries = new Map<string, string>();
    for (const line of block.split('\n').slice(1)) {
      const m = /^\s*([a-z_]+)\s*=>?\s*(.*?)\s*(;.*)?$/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined) entries.set(m[1], m[2]);
    }
    if (type === undefined || entries.get('type') === type) return entries;
  }
  throw new Error(`no section [${name}]${type === undefined ? '' : ` of type ${type}`}`);
}

/** Config text without comments (`;` to end of line), so assertions look at settings only. */
function settingsOf(conf: string): string {
  return conf.replace(/;.*$/gm, '');
}

describe('deploy/asterisk-config (production templates in asterisk-conf/)', function () {
  let templates: Record<string, string>;

  before(async function () {
    templates = await readTemplateDir(path.join(REPO, 'asterisk-conf'));
  });

  it('renders every template with only the required variables set', function () {
    const rendered = renderAsteriskConfig(templates, minimalEnv);
    assert.deepEqual(Object.keys(rendered).sort(), [
      'amd.conf',
      'ari.conf',
      'asterisk.conf',
      'extensions.conf',
      'http.conf',
      'indications.conf',
      'logger.conf',
      'modules.conf',
      'pjsip.conf',
      'rtp.conf',
    ]);
    // Only dialplan variables may remain, and only in the dialplan.
    for (const [name, text] of Object.entries(rendered)) {
      if (name !== 'extensions.conf') assert.doesNotMatch(text, /\$\{/, `${name} has an unrendered placeholder`);
    }
  });

  it('refuses to render without the trunk and ARI secrets, naming each', function () {
    assert.throws(
      () => renderAsteriskConfig(templates, {}),
      (err: unknown) => err instanceof TemplateEnvError && err.missing.join() === 'SIP_PASSWORD,ARI_USERNAME,ARI_PASSWORD',
    );
  });

  it('builds the Exolve trunk with the defaults', function () {
    const pjsip = renderAsteriskConfig(templates, minimalEnv)['pjsip.conf'] ?? '';
    const endpoint = section(pjsip, 'exolve', 'endpoint');
    assert.equal(endpoint.get('allow'), 'alaw,ulaw');
    assert.equal(endpoint.get('outbound_auth'), 'exolve-auth');
    assert.equal(endpoint.get('from_user'), '883140776920289');
    assert.equal(endpoint.get('from_domain'), 'sip.exolve.ru');
    assert.equal(endpoint.get('direct_media'), 'no');
    for (const option of ['rtp_symmetric', 'force_rport', 'rewrite_contact', 'use_ptime']) {
      assert.equal(endpoint.get(option), 'yes', option);
    }
    assert.equal(endpoint.get('dtmf_mode'), 'rfc4733');
    const registration = section(pjsip, 'exolve-reg', 'registration');
    assert.equal(registration.get('server_uri'), 'sip:sip.exolve.ru:5060');
    assert.equal(registration.get('client_uri'), 'sip:883140776920289@sip.exolve.ru');
    assert.equal(registration.get('contact_user'), '883140776920289');
    assert.equal(section(pjsip, 'exolve-auth', 'auth').get('password'), 'trunk-pass');
    assert.equal(section(pjsip, 'exolve', 'identify').get('match'), 'sip.exolve.ru');
    assert.equal(section(pjsip, 'transport-udp').get('bind'), '0.0.0.0:5060');
    assert.doesNotMatch(settingsOf(pjsip), /external_media_address|local_net/, 'NAT settings only when configured');
  });

  it('adds NAT settings only when SIP_EXTERNAL_ADDRESS / SIP_LOCAL_NET are set', function () {
    const pjsip =
      renderAsteriskConfig(templates, { ...minimalEnv, SIP_EXTERNAL_ADDRESS: '203.0.113.10', SIP_LOCAL_NET: '10.0.0.0/8' })['pjsip.conf'] ?? '';
    const transport = section(pjsip, 'transport-udp');
    assert.equal(transport.get('external_media_address'), '203.0.113.10');
    assert.equal(transport.get('external_signaling_address'), '203.0.113.10');
    assert.equal(transport.get('local_net'), '10.0.0.0/8');
  });

  it('names the trunk objects after SIP_TRUNK_ENDPOINT', function () {
    const rendered = renderAsteriskConfig(templates, { ...minimalEnv, SIP_TRUNK_ENDPOINT: 'carrier2' });
    const pjsip = rendered['pjsip.conf'] ?? '';
    assert.equal(section(pjsip, 'carrier2', 'endpoint').get('aors'), 'carrier2');
    assert.equal(section(pjsip, 'carrier2-reg', 'registration').get('endpoint'), 'carrier2');
  });

  it('binds ARI to the private address and user from the environment, with no default password', function () {
    const rendered = renderAsteriskConfig(templates, { ...minimalEnv, ARI_PORT: '8089' });
    assert.equal(section(rendered['http.conf'] ?? '', 'general').get('bindaddr'), '127.0.0.1');
    assert.equal(section(rendered['http.conf'] ?? '', 'general').get('bindport'), '8089');
    const user = section(rendered['ari.conf'] ?? '', 'gateway');
    assert.equal(user.get('password'), 'ari-pass');
    assert.throws(() => renderAsteriskConfig(templates, { ...minimalEnv, ARI_BIND_ADDRESS: '0.0.0.0' }), /ARI_BIND_ADDRESS/);
  });

  it('sends trunk calls into the Stasis app with the dialled number', function () {
    const dialplan = renderAsteriskConfig(templates, { ...minimalEnv, ARI_APP: 'my-app' })['extensions.conf'] ?? '';
    assert.match(dialplan, /^\[from-trunk\]$/m);
    assert.match(dialplan, /Stasis\(my-app,inbound,\$\{EXTEN\}\)/);
    assert.doesNotMatch(settingsOf(dialplan), /Answer\(\)/, 'plain Answer() waits 500 ms for media; use Answer(,i) or answer over ARI');
  });

  it('uses the RTP range from the environment and checks it', function () {
    const rtp = renderAsteriskConfig(templates, { ...minimalEnv, ASTERISK_RTP_PORT_MIN: '20000', ASTERISK_RTP_PORT_MAX: '20100' })['rtp.conf'] ?? '';
    assert.equal(section(rtp, 'general').get('rtpstart'), '20000');
    assert.equal(section(rtp, 'general').get('rtpend'), '20100');
    assert.throws(
      () => renderAsteriskConfig(templates, { ...minimalEnv, ASTERISK_RTP_PORT_MIN: '20001', ASTERISK_RTP_PORT_MAX: '20000' }),
      /ASTERISK_RTP_PORT_MIN \(20001\) must be below.*\n.*must be even/,
    );
  });

  it("catches an ARI_URL whose port is not Asterisk's ARI_PORT", function () {
    assert.throws(
      () => renderAsteriskConfig(templates, { ...minimalEnv, ARI_URL: 'http://127.0.0.1:8088', ARI_PORT: '8089' }),
      /ARI_URL port 8088 differs from ARI_PORT 8089/,
    );
    renderAsteriskConfig(templates, { ...minimalEnv, ARI_URL: 'http://127.0.0.1:8088' });
  });

  it('an ARI_URL that does not parse is named, not echoed (it could hold a password)', function () {
    assert.throws(
      () => renderAsteriskConfig(templates, { ...minimalEnv, ARI_URL: 'http://gw:s3cret-pw@[bad' }),
      (err: unknown) => err instanceof Error && /ARI_URL is not a URL/.test(err.message) && !err.message.includes('s3cret'),
    );
  });

  it('loads the modules Asterisk 22 needs for ARI and ExternalMedia, and no autoload', function () {
    const modules = renderAsteriskConfig(templates, minimalEnv)['modules.conf'] ?? '';
    assert.match(modules, /^autoload = no$/m);
    for (const module of ['res_ari.so', 'res_websocket_client.so', 'chan_rtp.so', 'res_rtp_multicast.so', 'func_jitterbuffer.so', 'app_stasis.so']) {
      assert.match(modules, new RegExp(`^load => ${module.replace('.', '\\.')}`, 'm'), module);
    }
    // The trunk has no inbound auth: identifying it by From user would let anyone in.
    assert.doesNotMatch(modules, /^load => res_pjsip_endpoint_identifier_user/m);
  });

  it('renders the carrier stand-in templates with the same renderer', async function () {
    const carrier = await readTemplateDir(CARRIER_TEMPLATE_DIR);
    const rendered = renderTemplates(carrier, CARRIER_TEMPLATE_SCHEMA, {
      CARRIER_ACCOUNT_PASSWORD: 'x',
      CARRIER_RECORDINGS_DIR: '/srv/rec',
    });
    assert.match(rendered['extensions.conf'] ?? '', /MixMonitor\(\$\{REC\}-mix\.wav,r\(\$\{REC\}-rx\.wav\)/);
  });
});

describe('.env.example', function () {
  let example: Set<string>;

  before(async function () {
    const text = await readFile(path.join(REPO, '.env.example'), 'utf8');
    // Both `NAME=value` and commented-out `# NAME=value` lines document a variable.
    example = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? ''));
  });

  it('lists every variable of the Asterisk templates', function () {
    const missing = Object.keys(ASTERISK_TEMPLATE_SCHEMA.vars).filter((name) => !example.has(name));
    assert.deepEqual(missing, []);
  });

  it("lists every variable of the app's schema (src/config.ts)", async function () {
    // config.ts does not export its Joi schema; its keys are the `NAME: ` lines (`Joi.…` or a
    // helper that builds one, as for API_TOKEN).
    const source = await readFile(path.join(REPO, 'src/config.ts'), 'utf8');
    const appVars = [...source.matchAll(/^\s+([A-Z][A-Z0-9_]*): /gm)].map((m) => m[1] ?? '');
    assert.ok(appVars.includes('API_TOKEN') && appVars.includes('METRICS_TOKEN'), 'the keys built by a helper are found too');
    assert.ok(appVars.length > 10, 'expected to find the Joi keys of src/config.ts');
    assert.deepEqual(appVars.filter((name) => !example.has(name)), []);
  });
});
