import assert from 'node:assert/strict';
import { bridgeId, callChannelId, mediaChannelId, ownerCallId, recordingName, ringbackId, transferChannelId } from '../../../src/call/ari-ids';

const CALL = '3f2a9c1e-5b7d-4e21-9a0c-6d8e1f2b3c4d';

describe('ARI ids', () => {
  it('an ExternalMedia channel per agent conversation: the first keeps vg-em-<call>, later ones vg-em<n>-<call>', () => {
    assert.equal(mediaChannelId(CALL), `vg-em-${CALL}`);
    assert.equal(mediaChannelId(CALL, 1), `vg-em-${CALL}`);
    assert.equal(mediaChannelId(CALL, 2), `vg-em2-${CALL}`);
    assert.notEqual(mediaChannelId(CALL, 2), mediaChannelId(CALL, 3));
  });

  it('every channel and bridge id names its call; other ids are not ours', () => {
    for (const id of [callChannelId(CALL), mediaChannelId(CALL), mediaChannelId(CALL, 2), mediaChannelId(CALL, 12), bridgeId(CALL), transferChannelId(CALL)]) {
      assert.equal(ownerCallId(id), CALL, id);
    }
    assert.equal(ownerCallId('PJSIP/carrier-0000001'), undefined);
    assert.equal(ownerCallId('1733912345.17'), undefined);
    assert.ok(ringbackId(CALL).startsWith('vg-rb-') && recordingName(CALL).startsWith('vg-rec-'));
  });
});
