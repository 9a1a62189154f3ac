import assert from 'node:assert/strict';
import { DisposerStack } from '../../../src/lifecycle/disposer-stack';
import { silentLogger } from '../../../src/logger';

describe('DisposerStack', () => {
  it('runs first (in order), then main (together), then last (in reverse), each once', async () => {
    const stack = new DisposerStack(silentLogger());
    const order: string[] = [];
    let releaseSlow: (() => void) | undefined;
    stack.defer('sub-a', () => void order.push('sub-a'), 'last');
    stack.defer('leg', () => void order.push('leg'), 'first');
    stack.defer('slow', () => new Promise<void>((resolve) => (releaseSlow = () => {
      order.push('slow');
      resolve();
    })));
    stack.defer('fast', () => void order.push('fast'));
    stack.defer('sub-b', () => void order.push('sub-b'), 'last');
    const done = stack.disposeAll();
    // `fast` does not wait for `slow`: the main group runs at the same time.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['leg', 'fast']);
    releaseSlow?.();
    await done;
    await stack.disposeAll();
    assert.deepEqual(order, ['leg', 'fast', 'slow', 'sub-b', 'sub-a']);
  });

  it('goes on without a main release that hangs past its deadline', async () => {
    const stack = new DisposerStack(silentLogger(), { stepTimeoutMs: 20 });
    const order: string[] = [];
    stack.defer('hangs', () => new Promise<void>(() => undefined));
    stack.defer('sub', () => void order.push('sub'), 'last');
    await stack.disposeAll();
    assert.deepEqual(order, ['sub']);
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

  it('a child released early is not released again with its parent; one not released goes with it', async () => {
    const parent = new DisposerStack(silentLogger());
    const released: string[] = [];
    const early = parent.child('early');
    early.defer('agent', () => void released.push('agent'));
    const late = parent.child('late');
    late.defer('leg', () => void released.push('leg'));
    await early.disposeAll();
    assert.deepEqual(released, ['agent']);
    await parent.disposeAll();
    assert.deepEqual(released, ['agent', 'leg']);
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
