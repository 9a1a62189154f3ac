import assert from 'node:assert/strict';
import { AriEventRouter } from '../../../src/ari/ari-event-router';
import type { CallSettings } from '../../../src/call/call';
import { CallService } from '../../../src/call/call-service';
import { CallEventBus, type SequencedCallEvent } from '../../../src/events/call-events';
import { PolicyError, RateLimitError, ServiceUnavailableError } from '../../../src/errors';
import { silentLogger } from '../../../src/logger';
import { GatewayMetrics } from '../../../src/metrics/metrics';
import type { CallRecord } from '../../../src/model/call-record';
import { DestinationPolicy } from '../../../src/policy/destination-policy';
import { RateLimiter } from '../../../src/policy/rate-limiter';
import { TransferDestinations } from '../../../src/policy/transfer-destinations';
import { MemoryCallStore, type CallStore, type StoreBatch } from '../../../src/store/call-store';
import { RecordWriter } from '../../../src/store/record-writer';
import { FakeCallControl } from '../../fakes/fake-call-control';
import { FakeLinkOpener } from '../../fakes/fake-link';
import { waitFor } from '../../helpers/wait-for';

const settings: CallSettings = {
  ariApp: 'test-app',
  trunkEndpoint: 'carrier',
  callerId: undefined,
  ringTimeoutS: 30,
  maxDurationS: 600,
  externalMediaFormat: 'slin',
  agentReadyTimeoutMs: 1000,
  drainTimeoutMs: 1000,
  ringingActivityIntervalMs: 1000,
  metricsLogIntervalMs: 10_000,
  dtmfToAgent: 'user_message',
  sendDtmfMaxDigits: 8,
  transfer: { destinations: new TransferDestinations([]), maxAttempts: 1, ringTimeoutS: 30, maxDurationS: 600 },
  checkDestination: () => null,
  releaseStepTimeoutMs: 200,
};

/** A memory store that can be made to fail (a full disk). */
class FailingStore extends MemoryCallStore {
  isFailing = false;
  override async write(batch: StoreBatch): Promise<void> {
    if (this.isFailing) throw new Error('database or disk is full');
    return super.write(batch);
  }
}

function setup(opts: { maxConcurrentCalls?: number; burst?: number; inboundBurst?: number } = {}) {
  const router = new AriEventRouter(silentLogger());
  const control = new FakeCallControl(router);
  const links = new FakeLinkOpener();
  const store = new FailingStore();
  const writer = new RecordWriter({ store, log: silentLogger(), retryMinMs: 5, retryMaxMs: 20 });
  const events = new CallEventBus(silentLogger());
  const seen: SequencedCallEvent[] = [];
  events.subscribe((e) => seen.push(e));
  const metrics = new GatewayMetrics({ isDefaultMetricsEnabled: false });
  let isAriConnected = true;
  const service = new CallService({
    control,
    router,
    openLink: links.open,
    settings,
    store: store as CallStore,
    writer,
    log: silentLogger(),
    isAriConnected: () => isAriConnected,
    events,
    metrics,
    inbound: { isEnabled: true, agents: { '74951234567': 'agent_sales' } },
    admission: {
      maxConcurrentCalls: opts.maxConcurrentCalls ?? 10,
      attemptLimiter: new RateLimiter({ burst: opts.burst ?? 100, perMinute: 60 }),
      inboundLimiter: new RateLimiter({ burst: opts.inboundBurst ?? 100, perMinute: 60 }),
    },
    destinationGuard: new DestinationPolicy({ allowedPrefixes: ['+7'] }),
  });
  const inbound = (channelId: string, caller: string): void =>
    control.emit({ type: 'StasisStart', args: ['inbound', '74951234567'], channel: { id: channelId, name: 'PJSIP/exolve-1', state: 'Ring', caller: { name: '', number: caller } } });
  return { router, control, links, store, writer, events, seen, metrics, service, inbound, setAri: (v: boolean) => void (isAriConnected = v) };
}

const requester = { id: 'token-a' };

describe('CallService', () => {
  it('places a call once its record is written, and records every status and transcript line', async () => {
    const s = setup();
    const view = await s.service.startCall({ phoneNumber: '+79990001122' }, requester);
    assert.equal(view.status, 'dialing');
    assert.equal((await s.store.get(view.id))?.status, 'dialing', 'written before dialling');
    await waitFor(() => s.links.last);
    s.links.last!.handlers!.onTranscript('agent', 'Hello');
    await s.service.hangupCall(view.id);
    await s.writer.flush(1000);
    const record = (await s.store.get(view.id)) as CallRecord;
    assert.equal(record.status, 'failed');
    assert.equal(record.end_reason, 'api');
    assert.deepEqual(record.transcript.map((t) => t.text), ['Hello']);
    assert.equal(s.service.legCounts.total, 0, 'its place is free again');
  });

  it('charges the attempt before the destination policy: a refused number costs an attempt, a valid one after the budget gets 429', async () => {
    const s = setup({ burst: 1 });
    await assert.rejects(s.service.startCall({ phoneNumber: '+4930123456789' }, requester), PolicyError);
    await assert.rejects(s.service.startCall({ phoneNumber: '+79990001122' }, requester), RateLimitError);
    assert.equal(s.control.ops.length, 0, 'nothing dialled');
    await s.service.startCall({ phoneNumber: '+79990001122' }, { id: 'token-b' });
  });

  it('refuses new calls with 503 STORE_UNAVAILABLE while records cannot be written; the live call goes on; nothing lost after', async () => {
    const s = setup();
    const live = await s.service.startCall({ phoneNumber: '+79990001122' }, requester);
    await waitFor(() => s.links.last);
    s.store.isFailing = true;
    s.links.last!.handlers!.onTranscript('user', 'are you there?');
    await waitFor(() => s.service.health().store === 'failing', { what: 'store reported failing' });
    await assert.rejects(s.service.startCall({ phoneNumber: '+79990001123' }, requester), (e: unknown) => e instanceof ServiceUnavailableError && e.code === 'STORE_UNAVAILABLE');
    assert.equal(s.service.activeCalls, 1, 'the refused call is not counted');
    assert.equal(s.service.legCounts.total, 1);
    assert.equal((await s.service.getCall(live.id)).transcript.length, 1, 'the live call is whole');
    await s.service.hangupCall(live.id);
    const ended = await s.service.getCall(live.id);
    assert.equal(ended.end_reason, 'api', 'an ended call whose record waits for the store is still served');
    s.store.isFailing = false;
    await waitFor(() => s.service.health().store === 'ok', { what: 'store writing again' });
    await s.writer.flush(1000);
    const record = await s.store.get(live.id);
    assert.equal(record?.end_reason, 'api');
    assert.deepEqual(record?.transcript.map((t) => t.text), ['are you there?']);
  });

  it('capacity counts inbound calls too: at the limit the API gets 503 AT_CAPACITY, the next inbound call is ended with congestion and recorded', async () => {
    const s = setup({ maxConcurrentCalls: 2 });
    s.inbound('in-1', '+74950000001');
    s.inbound('in-2', '+74950000002');
    await waitFor(() => s.service.activeCalls === 2, { what: 'two inbound calls live' });
    await assert.rejects(s.service.startCall({ phoneNumber: '+79990001122' }, requester), /limit of 2 concurrent calls/);
    s.control.channels.set('in-3', { id: 'in-3', name: 'PJSIP/exolve-3', state: 'Ring' });
    s.inbound('in-3', '+74950000003');
    await waitFor(() => s.control.ops.includes('hangup in-3'), { what: 'the third call refused' });
    assert.ok(!s.control.ops.includes('answer in-3'), 'never answered');
    await s.writer.flush(1000);
    const refused = (await s.store.list({ limit: 10, status: ['failed'] })).calls;
    assert.deepEqual(refused.map((r) => [r.direction, r.end_reason, r.dialed_number]), [['inbound', 'at-capacity', '74951234567']]);
    assert.match(await s.metrics.render(), /voice_gateway_calls_refused_total\{direction="inbound",reason="at-capacity"\} 1/);
    await s.service.stop(0);
  });

  it('a caller calling again and again is refused with busy', async () => {
    const s = setup({ inboundBurst: 1 });
    s.inbound('in-1', '+74950000001');
    await waitFor(() => s.service.activeCalls === 1);
    s.inbound('in-2', '+74950000001');
    await waitFor(() => s.control.ops.some((o) => o.startsWith('hangup in-2')), { what: 'second call refused' });
    await s.service.stop(0);
  });

  it('while draining: new API calls get 503 SHUTTING_DOWN and inbound calls are ended with congestion', async () => {
    const s = setup();
    const stopped = s.service.stop(0);
    await assert.rejects(s.service.startCall({ phoneNumber: '+79990001122' }, requester), /shutting down/);
    s.inbound('in-1', '+74950000001');
    await waitFor(() => s.control.ops.includes('hangup in-1'));
    await stopped;
  });

  it('reconcile: ends calls whose leg Asterisk lost, hangs up and destroys what no live call owns', async () => {
    const s = setup();
    const live = await s.service.startCall({ phoneNumber: '+79990001122' }, requester);
    s.control.channels.set('vg-em-gone', { id: 'vg-em-gone', name: 'UnicastRTP/x', state: 'Up' });
    s.control.bridges.set('vg-br-gone', { id: 'vg-br-gone', technology: 'simple_bridge', bridge_type: 'mixing', channels: [] });
    s.control.channels.set('other', { id: 'other', name: 'PJSIP/someone', state: 'Up' });
    s.control.channels.delete(`vg-${live.id}`); // Asterisk restarted: the leg is gone
    await s.service.reconcile();
    await waitFor(async () => (await s.service.getCall(live.id)).status === 'failed', { what: 'lost call ended' });
    assert.match((await s.service.getCall(live.id)).error ?? '', /ARI_CHANNEL_GONE/);
    assert.ok(s.control.ops.includes('hangup vg-em-gone'));
    assert.ok(s.control.ops.includes('destroyBridge vg-br-gone'));
    assert.ok(!s.control.ops.includes('hangup other'), 'foreign channels are left alone');
  });

  it('reconcile: a live call\'s later ExternalMedia channel (vg-em<n>-) is its own; an orphan one is hung up', async () => {
    const s = setup();
    const live = await s.service.startCall({ phoneNumber: '+79990001122' }, requester);
    const orphan = '0a0b0c0d-0000-4000-8000-000000000001';
    for (const id of [`vg-em2-${live.id}`, `vg-em3-${orphan}`]) s.control.channels.set(id, { id, name: 'UnicastRTP/x', state: 'Up' });
    await s.service.reconcile();
    assert.ok(s.control.ops.includes(`hangup vg-em3-${orphan}`));
    assert.ok(!s.control.ops.includes(`hangup vg-em2-${live.id}`), 'the live call keeps its second ExternalMedia channel');
    assert.ok(!s.control.ops.includes(`hangup vg-${live.id}`));
    await s.service.hangupCall(live.id);
  });

  it('ARI down: 503 ARI_UNAVAILABLE before anything is dialled', async () => {
    const s = setup();
    s.setAri(false);
    await assert.rejects(s.service.startCall({ phoneNumber: '+79990001122' }, requester), (e: unknown) => e instanceof ServiceUnavailableError && e.code === 'ARI_UNAVAILABLE');
    assert.equal(s.control.ops.length, 0);
  });
});
