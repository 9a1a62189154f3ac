/**
 * The campaign runner and service over the memory store, with a fake dialer standing in for the
 * call service: calls "end" when the test publishes their `ended` event, as the call service does.
 * Time is the test's clock (due times, windows); the runner's own timer only makes it look again.
 */
import assert from 'node:assert/strict';
import { CampaignRunner, type CampaignDialer } from '../../../src/campaign/campaign-runner';
import { CampaignService } from '../../../src/campaign/campaign-service';
import { CampaignReporter } from '../../../src/campaign/campaign-views';
import { CallNotFoundError, PolicyError, RateLimitError, ServiceUnavailableError } from '../../../src/errors';
import { CallEventBus, type SequencedBusEvent } from '../../../src/events/call-events';
import { silentLogger } from '../../../src/logger';
import type { CallRecord } from '../../../src/model/call-record';
import type { CampaignSettings, LeadInput } from '../../../src/model/campaign';
import type { CallStatus, CallView, StartCallRequest } from '../../../src/model/call-view';
import { MemoryCallStore } from '../../../src/store/call-store';
import { WebhookPublisher } from '../../../src/webhooks/webhook-events';
import { makeCallView } from '../../fakes/fake-call-api';
import { waitFor } from '../../helpers/wait-for';

const T0 = Date.parse('2026-12-07T07:00:00Z'); // a Monday, 10:00 in Moscow

/** Places nothing: records each request, and throws what the test queued for the number. */
class FakeDialer implements CampaignDialer {
  readonly requests: StartCallRequest[] = [];
  /** Reads of call records that fail (the store unavailable) before they work again. */
  failingReads = 0;
  /** Whose rate limit each placed call was charged to. */
  readonly requesters: string[] = [];
  readonly refusals = new Map<string, Error>();
  readonly records = new Map<string, CallRecord>();

  async startCall(request: StartCallRequest, requester: { id: string }): Promise<CallView> {
    const refusal = this.refusals.get(request.phoneNumber);
    if (refusal !== undefined) throw refusal;
    this.requests.push(request);
    this.requesters.push(requester.id);
    return { ...makeCallView(request.phoneNumber, request.callId), status: 'dialing' };
  }

  async getCall(id: string): Promise<CallRecord> {
    if (this.failingReads > 0) {
      this.failingReads -= 1;
      throw new ServiceUnavailableError('STORE_UNAVAILABLE', 'the call store is unavailable');
    }
    const r = this.records.get(id);
    if (r === undefined) throw new CallNotFoundError(id);
    return r;
  }

  /** The calls placed to `number`, oldest first. */
  callsTo(number: string): StartCallRequest[] {
    return this.requests.filter((r) => r.phoneNumber === number);
  }
}

function settings(overrides: Partial<CampaignSettings> = {}): CampaignSettings {
  return {
    name: 'test',
    concurrency: 2,
    window: null,
    retry: { busy: { attempts: 2, delay_s: 60 }, no_answer: { attempts: 1, delay_s: 0 }, failed: { attempts: 1, delay_s: 0 } },
    amd: 'off',
    call: {},
    ...overrides,
  };
}

const leads = (...numbers: string[]): LeadInput[] => numbers.map((phone_number, i) => ({ row: i + 1, phone_number }));

function setup(opts: { store?: MemoryCallStore; dialer?: FakeDialer; deny?: string[] } = {}) {
  let now = T0;
  const store = opts.store ?? new MemoryCallStore();
  const dialer = opts.dialer ?? new FakeDialer();
  const bus = new CallEventBus(silentLogger());
  const seen: SequencedBusEvent[] = [];
  bus.subscribe((e) => seen.push(e), { includeCampaigns: true });
  const reporter = new CampaignReporter(bus, new WebhookPublisher({ destinations: ['https://crm.example/h'], nowMs: () => now }), () => now);
  const runner = new CampaignRunner({ store: store.campaigns, dialer, bus, reporter, log: silentLogger(), tickMs: 20, deferMs: 1000, nowMs: () => now });
  const service = new CampaignService({
    store: store.campaigns,
    runner,
    reporter,
    destinationGuard: {
      assertAllowed: (n, callerId) => {
        if (callerId === '+70000000000') throw new PolicyError('CALLER_ID_NOT_ALLOWED', 'caller_id', 'not ours');
        if ((opts.deny ?? []).some((p) => n.startsWith(p))) throw new PolicyError('DESTINATION_DENIED', 'phone_number', `destinations starting with ${n.slice(0, 5)} are not allowed`);
      },
    },
    log: silentLogger(),
    nowMs: () => now,
  });
  /** The call of `request` ends with `status` (as the call service publishes it). */
  const end = (request: StartCallRequest | undefined, status: CallStatus, endReason: string | null = null): void => {
    assert.ok(request?.callId, 'no such call');
    bus.publish({ type: 'ended', call_id: request.callId, at: new Date(now).toISOString(), status, end_reason: endReason, hangup_cause: null, hangup_cause_text: null, error: null, duration_ms: 1, metrics: makeCallView('+1').metrics });
  };
  return {
    store,
    dialer,
    runner,
    service,
    seen,
    end,
    advance: (ms: number) => {
      now += ms;
      runner.wake();
    },
  };
}

describe('CampaignRunner + CampaignService', function () {
  this.timeout(5000);
  const running: CampaignRunner[] = [];
  afterEach(async () => {
    for (const r of running.splice(0)) await r.close();
  });
  function start(s: ReturnType<typeof setup>): ReturnType<typeof setup> {
    running.push(s.runner);
    s.runner.start();
    return s;
  }

  it('dials at most `concurrency` leads at once, with the campaign’s options and the lead’s variables, charged to its creator', async () => {
    const s = start(setup());
    const created = await s.service.createCampaign(
      settings({ amd: 'hangup', call: { first_message: 'Hi {{name}}', ring_timeout_s: 20 } }),
      [{ row: 1, phone_number: '+79990000001', dynamic_variables: { name: 'Ada' } }, ...leads('+79990000002', '+79990000003').map((l, i) => ({ ...l, row: i + 2 }))],
      [],
      { id: 'token-a' },
    );
    assert.equal(created.campaign?.counts.by_state.pending, 3);
    await waitFor(() => s.dialer.requests.length === 2, { what: 'two calls placed' });
    assert.equal(s.dialer.requests.length, 2, 'not a third one');
    assert.deepEqual({ ...s.dialer.requests[0], callId: undefined }, {
      phoneNumber: '+79990000001',
      callId: undefined,
      dynamicVariables: { name: 'Ada' },
      amd: 'hangup',
      firstMessage: 'Hi {{name}}',
      ringTimeoutS: 20,
    });
    assert.deepEqual(s.dialer.requesters, ['token-a', 'token-a']);
    s.end(s.dialer.requests[0], 'completed', 'callee');
    await waitFor(() => s.dialer.requests.length === 3, { what: 'the third lead once a place was free' });
  });

  it('retries busy after its delay, up to its attempts; completes the campaign when every lead is final, and reports it', async () => {
    const s = start(setup());
    const { campaign } = await s.service.createCampaign(settings(), leads('+79990000001', '+79990000002'), [], { id: 't' });
    await waitFor(() => s.dialer.requests.length === 2);
    s.end(s.dialer.callsTo('+79990000001')[0], 'busy', 'busy');
    s.end(s.dialer.callsTo('+79990000002')[0], 'no-answer', 'ring-timeout');
    await waitFor(async () => (await s.service.getCampaign(campaign!.id)).counts.by_state.waiting === 1, { what: 'busy lead waiting' });
    s.advance(59_000);
    await waitFor(async () => (await s.store.campaigns.dueLeads(campaign!.id, T0 + 59_000, 10)).length === 0);
    assert.equal(s.dialer.callsTo('+79990000001').length, 1, 'not before its delay');
    s.advance(1000);
    await waitFor(() => s.dialer.callsTo('+79990000001').length === 2, { what: 'the retry' });
    s.end(s.dialer.callsTo('+79990000001')[1], 'busy', 'busy');
    const done = await waitFor(async () => {
      const v = await s.service.getCampaign(campaign!.id);
      return v.status === 'completed' ? v : undefined;
    }, { what: 'campaign completed' });
    assert.deepEqual(done.counts.by_state, { pending: 0, calling: 0, waiting: 0, completed: 0, failed: 2, cancelled: 0 });
    assert.deepEqual(done.counts.by_reason, { busy: 1, 'no-answer': 1 });
    assert.equal(s.dialer.callsTo('+79990000002').length, 1, 'no-answer allowed one attempt');
    const rows = await s.store.outbox.claimDue(Number.MAX_SAFE_INTEGER, 1, 100);
    assert.deepEqual(rows.map((r) => r.type), ['campaign.status'], 'one key: delivered one at a time');
    const events = s.seen.filter((e) => e.type === 'campaign').map((e) => (e.type === 'campaign' ? `${e.status}:${e.lead?.state ?? '-'}` : ''));
    assert.deepEqual(events, ['running:-', 'running:failed', 'running:failed', 'completed:-']);
  });

  it('a lead the destination policy refuses at dial time ends failed/refused; a rate limit or capacity defers without counting', async () => {
    const s = start(setup());
    s.dialer.refusals.set('+79990000001', new PolicyError('DESTINATION_DENIED', 'phone_number', 'denied'));
    s.dialer.refusals.set('+79990000002', new RateLimitError('too many', 30_000));
    s.dialer.refusals.set('+79990000003', new ServiceUnavailableError('AT_CAPACITY', 'full'));
    const { campaign } = await s.service.createCampaign(settings({ concurrency: 3 }), leads('+79990000001', '+79990000002', '+79990000003'), [], { id: 't' });
    await waitFor(async () => (await s.store.campaigns.getLead(campaign!.id, 1))?.reason === 'refused', { what: 'lead 1 refused' });
    await waitFor(async () => (await s.store.campaigns.getLead(campaign!.id, 3))?.nextAttemptMs === T0 + 1000, { what: 'lead 3 deferred' });
    const l2 = await s.store.campaigns.getLead(campaign!.id, 2);
    assert.deepEqual([l2?.state, l2?.attempts, l2?.nextAttemptMs], ['pending', 0, T0 + 30_000], 'deferred by Retry-After, the attempt not counted');
    s.dialer.refusals.clear();
    s.advance(30_000);
    await waitFor(() => s.dialer.requests.length === 2, { what: 'both placed once allowed' });
    assert.equal((await s.store.campaigns.getLead(campaign!.id, 2))?.attempts, 1);
  });

  it('refuses duplicate and denied numbers per row; a refused caller ID refuses the campaign', async () => {
    const s = start(setup({ deny: ['+7809'] }));
    const created = await s.service.createCampaign(settings(), leads('+79990000001', '+78091234567', '+79990000001'), [{ row: 4, field: 'phone_number', message: 'bad' }], { id: 't' });
    assert.deepEqual(created.rejected.map((r) => [r.row, r.field]), [[2, 'phone_number'], [3, 'phone_number'], [4, 'phone_number']]);
    assert.match(created.rejected[1]?.message ?? '', /duplicate of row 1/);
    assert.equal(created.campaign?.counts.total, 1);
    await assert.rejects(s.service.createCampaign(settings({ call: { caller_id: '+70000000000' } }), leads('+79990000001'), [], { id: 't' }), PolicyError);
    const none = await s.service.createCampaign(settings(), leads('+78091234567'), [], { id: 't' });
    assert.equal(none.campaign, undefined);
  });

  it('pause stops new calls (calls going on go on), resume goes on; cancel cancels what was not called; an ended campaign cannot change', async () => {
    const s = start(setup());
    const { campaign } = await s.service.createCampaign(settings({ concurrency: 1 }), leads('+79990000001', '+79990000002', '+79990000003'), [], { id: 't' });
    const id = campaign!.id;
    await waitFor(() => s.dialer.requests.length === 1);
    assert.equal((await s.service.pause(id)).status, 'paused');
    s.end(s.dialer.requests[0], 'completed', 'callee');
    await waitFor(async () => (await s.service.getCampaign(id)).counts.by_state.completed === 1);
    s.advance(10_000);
    await waitFor(async () => (await s.store.campaigns.dueLeads(id, T0 + 10_000, 10)).length === 2);
    assert.equal(s.dialer.requests.length, 1, 'nothing dialled while paused');
    await s.service.resume(id);
    await waitFor(() => s.dialer.requests.length === 2, { what: 'dialling again' });
    const cancelled = await s.service.cancel(id);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.counts.by_state.cancelled, 1);
    s.end(s.dialer.requests[1], 'busy', 'busy'); // would be retried: the campaign is over
    await waitFor(async () => (await s.store.campaigns.getLead(id, 2))?.state === 'cancelled', { what: 'no retry after cancel' });
    await assert.rejects(s.service.resume(id), /CAMPAIGN_OVER|can no longer be changed/);
  });

  it('an answered call whose record cannot be read when it ends is settled once the store reads again, as answered: never dialled twice', async () => {
    const s = start(setup());
    const { campaign } = await s.service.createCampaign(settings({ concurrency: 1 }), leads('+79990000003'), [], { id: 't' });
    await waitFor(() => s.dialer.requests.length === 1, { what: 'the lead dialled' });
    const request = s.dialer.requests[0]!;
    // Answered, then the agent failed: the attempt counts as answered, not as a failure to retry.
    s.dialer.records.set(request.callId!, { ...makeCallView(request.phoneNumber, request.callId), status: 'failed', end_reason: 'agent-error', answered_at: new Date(T0).toISOString(), status_history: [] });
    s.dialer.failingReads = 1;
    s.end(request, 'failed', 'agent-error');
    await waitFor(async () => (await s.service.getCampaign(campaign!.id)).status === 'completed', { what: 'the campaign completed' });
    assert.equal(s.dialer.failingReads, 0, 'the failing read happened');
    assert.equal((await s.store.campaigns.getLead(campaign!.id, 1))?.state, 'completed');
    assert.equal(s.dialer.callsTo('+79990000003').length, 1);
  });

  it('calls only inside its window', async () => {
    const s = start(setup());
    // 10:00 in Moscow now; the window opens at 10:00:30.
    const { campaign } = await s.service.createCampaign(
      settings({ window: { time_zone: 'Europe/Moscow', start: '10:00:30', end: '18:00', days: ['mon'] } }),
      leads('+79990000001'),
      [],
      { id: 't' },
    );
    assert.equal(campaign?.is_window_open, false);
    s.advance(29_000);
    await waitFor(async () => (await s.service.getCampaign(campaign!.id)).is_window_open === false);
    assert.equal(s.dialer.requests.length, 0);
    s.advance(1000);
    await waitFor(() => s.dialer.requests.length === 1, { what: 'dialled once the window opened' });
  });

  describe('after a restart (a new runner over the same store)', () => {
    it('an attempt whose call was never recorded is voided and dialled once; one whose call ended is settled, not dialled again', async () => {
      const store = new MemoryCallStore();
      const first = setup({ store });
      const { campaign } = await first.service.createCampaign(settings({ concurrency: 2 }), leads('+79990000001', '+79990000002'), [], { id: 't' });
      const id = campaign!.id;
      // The first process recorded both attempts, then died: one call was never recorded, the other was answered.
      await store.campaigns.beginAttempt({ campaignId: id, row: 1, attempt: 1, callId: 'never-placed', startedMs: T0 });
      await store.campaigns.beginAttempt({ campaignId: id, row: 2, attempt: 1, callId: 'answered-call', startedMs: T0 });
      const dialer = new FakeDialer();
      dialer.records.set('answered-call', {
        ...makeCallView('+79990000002', 'answered-call'),
        status: 'failed',
        end_reason: 'gateway-restart',
        answered_at: new Date(T0).toISOString(),
        status_history: [],
      });
      const s = start(setup({ store, dialer }));
      await waitFor(() => s.dialer.requests.length === 1, { what: 'the never-placed lead dialled' });
      assert.deepEqual(s.dialer.requests.map((r) => r.phoneNumber), ['+79990000001']);
      const l1 = await store.campaigns.getLead(id, 1);
      assert.equal(l1?.attempts, 1, 'the voided attempt did not count');
      assert.deepEqual((await store.campaigns.getLead(id, 2))?.state, 'completed');
      s.end(s.dialer.requests[0], 'completed', 'callee');
      await waitFor(async () => (await s.service.getCampaign(id)).status === 'completed', { what: 'completed' });
      assert.equal(s.dialer.callsTo('+79990000002').length, 0, 'the answered lead was never called again');
    });
  });
});
