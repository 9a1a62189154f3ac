import assert from 'node:assert/strict';
import { AriEventRouter } from '../../../src/ari/ari-event-router';
import { toAriEvent, type AriEvent } from '../../../src/ari/ari-events';
import { silentLogger } from '../../../src/logger';

const chan = (id: string, state = 'Up') => ({ id, name: `PJSIP/x-${id}`, state });
const ev = (raw: Record<string, unknown>): AriEvent => {
  const e = toAriEvent({ application: 'app', timestamp: 't', ...raw });
  assert.ok(e);
  return e;
};

describe('AriEventRouter', () => {
  it('delivers events only to the subscribers of that channel id', () => {
    const router = new AriEventRouter(silentLogger());
    const a: string[] = [];
    const b: string[] = [];
    router.subscribe('a', (e) => a.push(e.type));
    router.subscribe('b', (e) => b.push(e.type));
    router.dispatch(ev({ type: 'StasisStart', args: [], channel: chan('a') }));
    router.dispatch(ev({ type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: chan('b') }));
    assert.deepEqual(a, ['StasisStart']);
    assert.deepEqual(b, ['ChannelDestroyed']);
  });

  it('routes Dial events by the peer channel and filters by type', () => {
    const router = new AriEventRouter(silentLogger());
    const got: string[] = [];
    router.subscribe('p', (e) => got.push(e.type), ['Dial']);
    router.dispatch(ev({ type: 'Dial', dialstatus: 'RINGING', peer: chan('p') }));
    router.dispatch(ev({ type: 'StasisEnd', channel: chan('p') }));
    assert.deepEqual(got, ['Dial']);
  });

  it('cancel() removes the subscription and leaves no entry behind', () => {
    const router = new AriEventRouter(silentLogger());
    const got: string[] = [];
    const sub = router.subscribe('a', (e) => got.push(e.type));
    assert.equal(router.subscribedIdCount, 1);
    sub.cancel();
    sub.cancel();
    router.dispatch(ev({ type: 'StasisEnd', channel: chan('a') }));
    assert.deepEqual(got, []);
    assert.equal(router.subscribedIdCount, 0);
  });

  it('hands StasisStart of unknown channels to the unclaimed handler', () => {
    const router = new AriEventRouter(silentLogger());
    const unclaimed: string[] = [];
    router.onUnclaimedStasisStart((e) => unclaimed.push(e.channel.id));
    router.subscribe('mine', () => undefined);
    router.dispatch(ev({ type: 'StasisStart', args: ['inbound', '100'], channel: chan('mine') }));
    router.dispatch(ev({ type: 'StasisStart', args: ['inbound', '100'], channel: chan('theirs') }));
    assert.deepEqual(unclaimed, ['theirs']);
  });

  it('keeps dispatching when a handler throws', () => {
    const router = new AriEventRouter(silentLogger());
    let reached = false;
    router.subscribe('a', () => {
      throw new Error('boom');
    });
    router.subscribe('a', () => {
      reached = true;
    });
    router.dispatch(ev({ type: 'StasisEnd', channel: chan('a') }));
    assert.ok(reached);
  });
});

describe('toAriEvent', () => {
  it('narrows known events and keeps unknown ones as Other', () => {
    assert.equal(toAriEvent({ type: 'ChannelVarset', channel: chan('a') })?.type, 'Other');
    assert.equal(toAriEvent({ type: 'StasisStart', channel: chan('a') })?.type, 'Other', 'StasisStart without args is not trusted');
    assert.equal(toAriEvent({ type: 'ChannelDestroyed', channel: chan('a'), cause: 17, cause_txt: 'User busy' })?.type, 'ChannelDestroyed');
    assert.equal(toAriEvent('nope'), undefined);
    assert.equal(toAriEvent({ notype: 1 }), undefined);
  });
});
