import assert from 'node:assert/strict';
import {
  renderTemplate,
  resolveTemplateValues,
  TemplateEnvError,
  TemplateSyntaxError,
  type TemplateSchema,
} from '../../../src/deploy/config-template';

const schema: TemplateSchema = {
  vars: {
    HOST: { kind: 'host', presence: { default: 'sip.example.net' }, doc: 'host' },
    MATCH: { kind: 'match-list', presence: { defaultFrom: 'HOST' }, doc: 'match' },
    PORT: { kind: 'port', presence: { default: '5060' }, doc: 'port' },
    USER: { kind: 'name', presence: { required: true }, doc: 'user' },
    PASSWORD: { kind: 'secret', presence: { required: true }, doc: 'password' },
    NAT: { kind: 'host', presence: { optional: true }, doc: 'nat' },
    NETS: { kind: 'cidr-list', presence: { optional: true }, doc: 'nets' },
    BIND: { kind: 'private-ip', presence: { default: '127.0.0.1' }, doc: 'bind' },
    DIR: { kind: 'path', presence: { default: '/var/lib/x' }, doc: 'dir' },
  },
};

const valid = { USER: 'alice', PASSWORD: 's3cret!$x' };

describe('deploy/config-template', function () {
  describe('resolveTemplateValues', function () {
    it('applies literal defaults and defaults taken from another variable', function () {
      const values = resolveTemplateValues(schema, { ...valid, HOST: '10.1.2.3' });
      assert.equal(values['PORT'], '5060');
      assert.equal(values['MATCH'], '10.1.2.3');
      assert.equal(values['NAT'], '');
    });

    it('treats empty strings as unset, as src/config.ts does', function () {
      const values = resolveTemplateValues(schema, { ...valid, PORT: '' });
      assert.equal(values['PORT'], '5060');
    });

    it('names every missing required variable in one error', function () {
      assert.throws(
        () => resolveTemplateValues(schema, {}),
        (err: unknown) => {
          assert.ok(err instanceof TemplateEnvError);
          assert.deepEqual(err.missing, ['USER', 'PASSWORD']);
          assert.match(err.message, /missing required variable\(s\): USER, PASSWORD/);
          return true;
        },
      );
    });

    it('reports missing and invalid variables together', function () {
      assert.throws(
        () => resolveTemplateValues(schema, { USER: 'alice', PORT: '70000' }),
        (err: unknown) => err instanceof TemplateEnvError && /PASSWORD/.test(err.message) && /PORT="70000" is not a port/.test(err.message),
      );
    });

    const injections: [string, Record<string, string>, RegExp][] = [
      ['a newline in a password (would start a new config line)', { PASSWORD: 'x\n[evil]\ntype=endpoint' }, /PASSWORD contains a line break/],
      ['a carriage return', { USER: 'alice\r' }, /USER.* contains a line break/],
      ["';' in a password (Asterisk would cut the password there)", { PASSWORD: 'abc;def' }, /PASSWORD contains ';'/],
      ['spaces around a password', { PASSWORD: ' abc' }, /leading or trailing spaces/],
      ['a section header in a name', { USER: '[alice]' }, /USER="\[alice\]" may only contain/],
      ['a comma in a host', { HOST: 'a.example,b.example' }, /HOST=.* is not a host/],
      ['a public address for a private-only bind', { BIND: '8.8.8.8' }, /BIND=.* must be a loopback or private address/],
      ['a relative path', { DIR: 'var/lib' }, /DIR=.* is not an absolute path/],
      ['a path with a space', { DIR: '/var/my dir' }, /DIR=.* is not an absolute path/],
      ['a network with a bad prefix', { NETS: '10.0.0.0/33' }, /NETS=.* is not a comma-separated list of networks/],
    ];
    for (const [what, env, message] of injections) {
      it(`rejects ${what}`, function () {
        assert.throws(() => resolveTemplateValues(schema, { ...valid, ...env }), message);
      });
    }

    it('never shows a secret value in its errors', function () {
      assert.throws(
        () => resolveTemplateValues(schema, { ...valid, PASSWORD: 'top;secret' }),
        (err: unknown) => err instanceof Error && !err.message.includes('top'),
      );
    });

    it('accepts private addresses, CIDR lists and hosts where they belong', function () {
      const values = resolveTemplateValues(schema, {
        ...valid,
        BIND: '192.168.10.5',
        NETS: '10.0.0.0/8,192.168.0.0/16,fd00::/8',
        MATCH: 'sip.example.net,203.0.113.0/24',
      });
      assert.equal(values['NETS'], '10.0.0.0/8,192.168.0.0/16,fd00::/8');
    });

    it('runs cross-variable checks only on otherwise valid values', function () {
      const checked: TemplateSchema = { ...schema, checks: [(v) => (v['PORT'] === '5060' ? ['PORT must not be 5060 here'] : [])] };
      assert.throws(() => resolveTemplateValues(checked, valid), /PORT must not be 5060 here/);
      assert.throws(() => resolveTemplateValues(checked, {}), (err: unknown) => !String(err).includes('5060 here'));
    });
  });

  describe('renderTemplate', function () {
    const values = resolveTemplateValues(schema, valid);

    it('substitutes ${NAME} and turns $$ into a literal $', function () {
      const text = 'username = ${USER}\nexten => _X.,1,Stasis(app,$${EXTEN})\ncost = $$5';
      assert.equal(renderTemplate(text, values), 'username = alice\nexten => _X.,1,Stasis(app,${EXTEN})\ncost = $5');
    });

    it('does not re-scan substituted values', function () {
      assert.equal(renderTemplate('password = ${PASSWORD}', values), 'password = s3cret!$x');
    });

    it('keeps a ;@if line only when its variable has a value', function () {
      const text = 'a\n;@if NAT external_media_address = ${NAT}\nb';
      assert.equal(renderTemplate(text, values), 'a\nb');
      const withNat = resolveTemplateValues(schema, { ...valid, NAT: '203.0.113.7' });
      assert.equal(renderTemplate(text, withNat), 'a\nexternal_media_address = 203.0.113.7\nb');
    });

    it('fails on an unknown variable, naming the file and line', function () {
      assert.throws(
        () => renderTemplate('ok\nport = ${PROT}', values, 'pjsip.conf'),
        (err: unknown) => err instanceof TemplateSyntaxError && err.message === 'pjsip.conf:2: unknown variable ${PROT}',
      );
    });

    it('fails on an unknown ;@if guard', function () {
      assert.throws(() => renderTemplate(';@if NOPE x = 1', values, 'a.conf'), /a.conf:1: unknown variable \$\{NOPE\}/);
    });

    it('fails on a dialplan variable written without the doubled dollar', function () {
      assert.throws(() => renderTemplate('exten => s,1,NoOp(${EXTEN:1})', values, 'extensions.conf'), /malformed placeholder/);
      assert.throws(() => renderTemplate('exten => s,1,NoOp(${CALLERID(num)})', values, 'extensions.conf'), /malformed placeholder/);
    });
  });
});
