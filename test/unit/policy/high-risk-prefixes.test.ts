import assert from 'node:assert/strict';
import { DEFAULT_DENIED_PREFIXES, DestinationPolicy, PREFIX_PATTERN } from '../../../src/policy/destination-policy';
import { HIGH_RISK_PREFIXES } from '../../../src/policy/high-risk-prefixes';

/** The +1 area codes that are neither the US nor Canada (the NANP administrator's list of countries and territories). */
const NANP_OUTSIDE_US_CANADA = [
  '+1242', '+1246', '+1264', '+1268', '+1284', '+1340', '+1345', '+1441', '+1473', '+1649', '+1658', '+1664', '+1670', '+1671',
  '+1684', '+1721', '+1758', '+1767', '+1784', '+1787', '+1809', '+1829', '+1849', '+1868', '+1869', '+1876', '+1939',
];

describe('the built-in high-risk prefix list', () => {
  it('is the default deny list: well-formed, unique prefixes, each with a reason', () => {
    assert.equal(DEFAULT_DENIED_PREFIXES, HIGH_RISK_PREFIXES);
    const prefixes = HIGH_RISK_PREFIXES.map((p) => p.prefix);
    assert.equal(new Set(prefixes).size, prefixes.length, 'duplicates');
    for (const { prefix, description } of HIGH_RISK_PREFIXES) {
      assert.match(prefix, PREFIX_PATTERN);
      assert.ok(description.length > 3, prefix);
    }
  });

  it('covers every NANP code outside the US and Canada, and nothing else under +1 but +1900', () => {
    const underOne = HIGH_RISK_PREFIXES.filter((p) => p.prefix.startsWith('+1')).map((p) => p.prefix);
    assert.deepEqual([...underOne].sort(), [...NANP_OUTSIDE_US_CANADA, '+1900'].sort());
  });

  it('with the default policy, the issue\'s destinations are refused, naming the range', () => {
    const policy = new DestinationPolicy();
    for (const [phone, prefix] of [
      ['+2693001234', '+269'], // Comoros
      ['+67570001234', '+675'], // Papua New Guinea
      ['+2399001234', '+239'], // São Tomé and Príncipe
      ['+18765550123', '+1876'],
      ['+18095550123', '+1809'],
      ['+12845550123', '+1284'],
      ['+16495550123', '+1649'],
      ['+881612345678', '+881'],
      ['+882345678901', '+882'],
      ['+883140776920289', '+883'], // the trunk account's own number: a destination like any other
      ['+97912345678', '+979'],
    ] as const) {
      const error = policy.check(phone);
      assert.equal(error?.code, 'DESTINATION_DENIED', phone);
      assert.match(error?.message ?? '', new RegExp(`^destinations starting with \\${prefix} are not allowed \\(`), phone);
    }
  });

  it('ordinary destinations stay open: US, Canada, Russia, Kazakhstan, Europe', () => {
    const policy = new DestinationPolicy();
    for (const phone of ['+14155550123', '+14165550123', '+12125550123', '+79161234567', '+77011234567', '+4420795550123', '+493012345678', '+33123456789']) {
      assert.equal(policy.check(phone), null, phone);
    }
  });

  it('a longer allowed prefix re-opens one range; ALLOWED_PREFIXES=+1 does not open the Caribbean', () => {
    assert.equal(new DestinationPolicy({ allowedPrefixes: ['+1'] }).check('+18765550123')?.code, 'DESTINATION_DENIED');
    assert.equal(new DestinationPolicy({ allowedPrefixes: ['+1', '+1787'] }).check('+17875550123')?.code, 'DESTINATION_DENIED', 'equal length: deny wins');
    assert.equal(new DestinationPolicy({ allowedPrefixes: ['+17875'] }).check('+17875550123'), null);
  });
});
