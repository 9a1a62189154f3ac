import assert from 'node:assert/strict';
import { TransferDestinations } from '../../../src/policy/transfer-destinations';

describe('TransferDestinations', () => {
  it('matches exact numbers and +prefix* entries, nothing else', () => {
    const d = new TransferDestinations(['+74951234567', '+7812555*']);
    assert.equal(d.match('+74951234567'), 'exact');
    assert.equal(d.match('+78125550000'), 'prefix');
    assert.equal(d.match('+74951234568'), 'none');
    assert.equal(d.match('+7495123456'), 'none', 'a prefix of a listed number is not listed');
    assert.equal(d.match('74951234567'), 'none', 'not E.164');
    assert.equal(d.isEmpty, false);
  });

  it('empty: nothing is listed', () => {
    const d = new TransferDestinations([]);
    assert.equal(d.isEmpty, true);
    assert.equal(d.match('+74951234567'), 'none');
  });

  it('refuses malformed entries', () => {
    assert.throws(() => new TransferDestinations(['+7495*123']), RangeError);
    assert.throws(() => new TransferDestinations(['7495']), RangeError);
  });
});
