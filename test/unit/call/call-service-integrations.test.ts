/**
 * The call service's reports to the outside world: what the caller heard (record, event stream),
 * agent signals (metrics). Real service, store and writer; fakes of Asterisk and the link.
 */
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { AriEventRouter } from '../../../src/ari/ari-event-router';
import type { CallSettings } from '../../../src/call/call';
import { CallService } from '../../../src/call/call-service';
import { CallEventBus, type SequencedCallEvent } from '../../../src/events/call-events';
import { silentLogger } from '../../../src/logger';
import { GatewayMetrics } from '../../../src/metrics/metrics';
import { IntegrationMetrics } from '../../../src/metrics/integration-metrics';
import { RateLimiter } from '../../../src/policy/rate-limiter';
import { TransferDestinations } from '../../../src/policy/transfer-destinations';
import { MemoryCallStore } from '../../../src/store/call-store';
import { RecordWriter } from '../../../src/store/record-writer';
import type { StoreBatch } from '../../../src/store/call-store';
import { WebhookPublisher } from '../../../src/webhooks/webhook-events';
import { callChannelId } from '../../../src/call/ari-ids';
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
  dtmfToAgent: 'off',
  sendDtmfMaxDigits: 8,
  transfer: { destinations: new TransferDestinations([]), maxAttempts: 1, ringTimeoutS: 30, maxDurationS: 600 },
  checkDestination: () => null,
  releaseStepTimeoutMs: 200,
};

/** A memory store that can be made to fail; it records what each successful write carried. */
class FlakyStore extends MemoryCallStore {
  isFailing = false;
  readonly batches: StoreBatch[] = [];
  override async write(batch: StoreBatch): Promise<void> {
    if (this.isFailing) throw new Error('disk full');
    this.batches.push(batch);
    return super.write(batch);
  }
}

function setup() {
  const log = silentLogger();
  const router = new AriEventRouter(log);
  const control = new FakeCallControl(router);
  const links = new FakeLinkOpener();
  const store = new FlakyStore();
  let failures = 0;
  const writer = new RecordWriter({ store, log, retryMinMs: 5, retryMaxMs: 10, onWriteError: () => void (failures += 1) });
  const events = new CallEventBus(log);
  const seen: SequencedCallEvent[] = [];
  events.subscribe((e) => seen.push(e));
  const registry = new Registry();
  const integrationMetrics = new IntegrationMetrics(registry);
  const service = new CallService({
    control,
    router,
    openLink: links.open,
    settings,
    store,
    writer,
    log,
    isAriConnected: () => true,
    events,
    metrics: new GatewayMetrics({ isDefaultMetricsEnabled: false }),
    integrationMetrics,
    webhooks: new WebhookPublisher({ destinations: ['https://crm.example/hook'] }),
    inbound: { isEnabled: false, agents: {} },
    admission: { maxConcurrentCalls: 10, attemptLimiter: new RateLimiter({ burst: 100, perMinute: 100 }) },
  });
  return { control, links, store, writer, seen, registry, service, failures: () => failures };
}

/** The types and statuses of the outbox rows of call `id`, in outbox order. */
async function webhookTrail(store: MemoryCallStore, id: string): Promise<string[]> {
  const rows = await store.outbox.claimDue(Number.MAX_SAFE_INTEGER, 1, 100);
  // Rows of one call are handed out one at a time: deliver each to see the next.
  const trail: string[] = [];
  for (let row = rows.find((r) => r.orderKey === `call:${id}`); row !== undefined; ) {
    const body = JSON.parse(row.body) as { type: string; data: { status: string } };
    trail.push(`${body.type} ${body.data.status}`);
    await store.outbox.delivered(row.seq);
    row = (await store.outbox.claimDue(Number.MAX_SAFE_INTEGER, 1, 100)).find((r) => r.orderKey === `call:${id}`);
  }
  return trail;
}

describe('CallService: heard transcript and agent signals', () => {
  it('what the caller heard lands on the line in the record, the store and the event stream', async () => {
    const s = setup();
    const view = await s.service.startCall({ phoneNumber: '+79990001122' }, { id: 't' });
    const link = await waitFor(() => s.links.last);
    link.handlers!.onTranscript('agent', 'Hello, this is Ada calling about your order.', 1);
    link.handlers!.onTranscript('user', 'Stop.', 2);
    link.handlers!.onAgentLineCorrected!({ eventId: 1, text: 'Hello, this is', originalText: 'Hello, this is Ada calling about your order.' });
    link.handlers!.onAgentLineHeard!({ eventId: 1, heardMs: 820, totalMs: 2600, isComplete: false, cutAtChar: 14, heardText: 'Hello, this is' });
    const expected = {
      role: 'agent',
      text: 'Hello, this is',
      original_text: 'Hello, this is Ada calling about your order.',
      heard: { complete: false, ms: 820, total_ms: 2600, chars: 14, text: 'Hello, this is' },
    };
    const live = await s.service.getCall(view.id);
    assert.deepEqual({ ...live.transcript[0], at: undefined }, { ...expected, at: undefined });
    const heard = s.seen.filter((e) => e.type === 'heard');
    assert.equal(heard.length, 1, 'a correction before the line was heard publishes nothing; the heard report does');
    assert.deepEqual({ ...heard[0], at: undefined, seq: undefined }, {
      type: 'heard',
      call_id: view.id,
      at: undefined,
      seq: undefined,
      line: 0,
      text: 'Hello, this is',
      original_text: 'Hello, this is Ada calling about your order.',
      heard: expected.heard,
    });
    await s.service.hangupCall(view.id);
    await s.writer.flush(1000);
    const stored = await s.store.get(view.id);
    assert.deepEqual({ ...stored?.transcript[0], at: undefined }, { ...expected, at: undefined });
    assert.equal(stored?.transcript[1]?.heard, undefined, 'user lines carry no heard');
  });

  it('counts agent signals by kind', async () => {
    const s = setup();
    const view = await s.service.startCall({ phoneNumber: '+79990001122' }, { id: 't' });
    const link = await waitFor(() => s.links.last);
    link.handlers!.onAgentSignal!({ kind: 'mcp_tool_call', toolName: 'x', state: 'awaiting_approval', decision: 'denied' });
    link.handlers!.onAgentSignal!({ kind: 'mcp_tool_call', toolName: 'x', state: 'failure', decision: null });
    link.handlers!.onAgentSignal!({ kind: 'guardrail_triggered' });
    link.handlers!.onAgentSignal!({ kind: 'context_usage', contextTokens: 5, contextLimitTokens: 10 });
    const text = await s.registry.metrics();
    assert.match(text, /voice_gateway_agent_signals_total\{kind="mcp_denied"\} 1/);
    assert.match(text, /voice_gateway_agent_signals_total\{kind="mcp_approved"\} 0/);
    assert.match(text, /voice_gateway_agent_signals_total\{kind="guardrail_triggered"\} 1/);
    assert.match(text, /voice_gateway_agent_signals_total\{kind="context_usage"\} 1/);
    await s.service.hangupCall(view.id);
    await s.service.stop(0);
  });

  describe('webhook events', () => {
    it('call.status for each status and call.ended with the final record, each written with its change', async () => {
      const s = setup();
      const view = await s.service.startCall({ phoneNumber: '+79990001122' }, { id: 't' });
      await waitFor(() => s.links.last);
      s.control.emit({ type: 'ChannelStateChange', channel: { id: callChannelId(view.id), name: 'PJSIP/carrier-1', state: 'Ringing' } });
      s.control.emit({ type: 'ChannelDestroyed', cause: 17, cause_txt: 'User busy', channel: { id: callChannelId(view.id), name: 'PJSIP/carrier-1', state: 'Ringing' } });
      await waitFor(async () => (await s.service.getCall(view.id)).status === 'busy');
      await s.writer.flush(1000);
      assert.deepEqual(await webhookTrail(s.store, view.id), ['call.status dialing', 'call.status ringing', 'call.status busy', 'call.ended busy']);
      // Every event came in the same write as the summary it reports.
      for (const batch of s.store.batches) {
        for (const row of batch.outbox ?? []) {
          const data = (JSON.parse(row.body) as { data: { id: string; status: string } }).data;
          assert.ok(batch.summaries.some((sum) => sum.id === data.id), `${row.type} written without its record`);
        }
      }
      const ended = JSON.parse((s.store.batches.flatMap((b) => b.outbox ?? []).find((r) => r.type === 'call.ended'))!.body) as { data: { transcript: unknown[]; hangup_cause: number } };
      assert.equal(ended.data.hangup_cause, 17);
      assert.deepEqual(ended.data.transcript, []);
    });

    it('a store outage delays the events, loses none and keeps their order', async () => {
      const s = setup();
      const view = await s.service.startCall({ phoneNumber: '+79990001122' }, { id: 't' });
      await waitFor(() => s.links.last);
      s.store.isFailing = true;
      s.control.emit({ type: 'ChannelStateChange', channel: { id: callChannelId(view.id), name: 'PJSIP/carrier-1', state: 'Ringing' } });
      await waitFor(() => s.failures() >= 2, { what: 'two failed writes' });
      await s.service.hangupCall(view.id);
      s.store.isFailing = false;
      assert.equal(await s.writer.flush(2000), 0);
      assert.deepEqual(await webhookTrail(s.store, view.id), ['call.status dialing', 'call.status ringing', 'call.status failed', 'call.ended failed']);
    });
  });
});
