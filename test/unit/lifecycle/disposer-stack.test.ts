import assert from 'node:assert/strict';
import { DisposerStack } from '../../../src/lifecycle/disposer-stack';
import { silentLogger } from '../../../src/logger';

describe('DisposerStack', () => {
  it('runs releases in reverse order, once', async () => {
    const stack = new DisposerStack(silentLogger());
    const order: string[] = [];
    stack.defer('a', () => void order.push('a'));
    stack.defer('b', async () => {
      await Promise.resolve();
      order.push('b');
    });
    stack.defer('c', () => void order.push('c'));
    await stack.disposeAll();
    await stack.disposeAll();
    assert.deepEqual(order, ['c', 'b', 'a']);
  });

  it('keeps going when a release throws', async () => {
    const stack = new DisposerStack(silentLogger());
    const order: string[] = [];
    stack.defer('a', () => void order.push('a'));
    stack.defer('bad', () => {
      throw new Error('fail');
    });
    await stack.disposeAll();
    assert.deepEqual(order, ['a']);
  });

  it('releases at once what is registered after disposal', async () => {
    const stack = new DisposerStack(silentLogger());
    await stack.disposeAll();
    let released = false;
    stack.defer('late', () => {
      released = true;
    });
    await Promise.resolve();
    assert.ok(released);
  });
});
