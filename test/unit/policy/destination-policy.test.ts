import assert from 'node:assert/strict';
import { PolicyError } from '../../../src/errors';
import { DEFAULT_DENIED_PREFIXES, DestinationPolicy, parsePrefixList } from '../../../src/policy/destination-policy';

function codeOf(policy: DestinationPolicy, phone: string): string | null {
  return policy.check(phone)?.code ?? null;
}

describe('DestinationPolicy', () => {
  it('allows an ordinary number with the defaults', () => {
    assert.equal(new DestinationPolicy().check('+14155550123'), null);
    assert.equal(new DestinationPolicy().check('+79161234567'), null); // Russian mobile
  });

  it('refuses what is not E.164, naming phone_number and never echoing the number', () => {
    const policy = new DestinationPolicy();
    for (const bad of ['', '14155550123', '+0123456789', '+1234567', '+1234567890123456', '+1415555012a', ' +14155550123', '+1415\u200b5550123', '+１４１５５５５０１２３']) {
      const error = policy.check(bad);
      assert.ok(error instanceof PolicyError, JSON.stringify(bad));
      assert.equal(error.code, 'INVALID_DESTINATION');
      assert.equal(error.field, 'phone_number');
    }
  });

  it('denies every default premium or high-cost range, naming the prefix but not the number', () => {
    const policy = new DestinationPolicy();
    for (const { prefix, description } of DEFAULT_DENIED_PREFIXES) {
      const phone = `${prefix}${'5'.repeat(12 - prefix.length + 1)}`;
      const error = policy.check(phone);
      assert.equal(error?.code, 'DESTINATION_DENIED', phone);
      assert.equal(error?.field, 'phone_number');
      assert.equal(error?.message, `destinations starting with ${prefix} are not allowed (${description})`);
      assert.ok(!error?.message.includes(phone));
    }
    assert.equal(codeOf(policy, '+78095551234'), 'DESTINATION_DENIED'); // Russia 8-809
    assert.equal(codeOf(policy, '+19005550123'), 'DESTINATION_DENIED'); // NANP 900
    assert.equal(codeOf(policy, '+4420795550123'), null); // London is fine; UK 09 is not
    assert.equal(codeOf(policy, '+449055501234'), 'DESTINATION_DENIED');
  });

  it('ALLOWED_PREFIXES limits destinations; a shorter allowed prefix does not re-open a denied range', () => {
    const policy = new DestinationPolicy({ allowedPrefixes: ['+7', '+4930'] });
    assert.equal(codeOf(policy, '+79161234567'), null);
    assert.equal(codeOf(policy, '+493012345678'), null);
    assert.equal(codeOf(policy, '+14155550123'), 'DESTINATION_NOT_ALLOWED');
    assert.equal(codeOf(policy, '+78095551234'), 'DESTINATION_DENIED');
  });

  it('a longer allowed prefix re-opens part of a denied range; equal length: deny wins', () => {
    assert.equal(codeOf(new DestinationPolicy({ allowedPrefixes: ['+7809555'] }), '+78095551234'), null);
    assert.equal(codeOf(new DestinationPolicy({ allowedPrefixes: ['+7809555'] }), '+78094441234'), 'DESTINATION_NOT_ALLOWED');
    assert.equal(codeOf(new DestinationPolicy({ allowedPrefixes: ['+7809'] }), '+78095551234'), 'DESTINATION_DENIED');
  });

  it('DENIED_PREFIXES adds to the defaults, and defaults can be switched off', () => {
    const policy = new DestinationPolicy({ deniedPrefixes: ['+1212', '+1646'] });
    assert.equal(policy.check('+12125550123')?.message, 'destinations starting with +1212 are not allowed (denied by configuration)');
    assert.equal(codeOf(policy, '+19005550123'), 'DESTINATION_DENIED');
    const open = new DestinationPolicy({ isDefaultDenyEnabled: false });
    assert.equal(codeOf(open, '+19005550123'), null);
    assert.equal(open.deniedPrefixes.length, 0);
  });

  it('assertAllowed throws the PolicyError', () => {
    assert.throws(() => new DestinationPolicy().assertAllowed('+979123456789'), (err: unknown) => err instanceof PolicyError && err.code === 'DESTINATION_DENIED');
    new DestinationPolicy().assertAllowed('+14155550123');
  });

  it('parsePrefixList reads comma lists and names a bad entry; the constructor refuses bad prefixes', () => {
    assert.deepEqual(parsePrefixList(undefined), []);
    assert.deepEqual(parsePrefixList('  '), []);
    assert.deepEqual(parsePrefixList('+7809, +449 ,+1'), ['+7809', '+449', '+1']);
    assert.throws(() => parsePrefixList('+7809,7810'), /invalid phone prefix "7810"/);
    assert.throws(() => parsePrefixList('+7809,,+1'), /invalid phone prefix ""/);
    assert.throws(() => new DestinationPolicy({ deniedPrefixes: ['+1 900'] }), TypeError);
  });
});
