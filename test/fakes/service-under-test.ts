/**
 * The real CallService (admission, policies, store writer) over fakes of Asterisk and the agent
 * link, for API tests that must see what the service decides: the route in front, the real service
 * behind, and `dialled()` saying what reached "Asterisk".
 */
import { AriEventRouter } from '../../src/ari/ari-event-router';
import type { CallSettings } from '../../src/call/call';
import { CallService } from '../../src/call/call-service';
import { CallEventBus } from '../../src/events/call-events';
import { silentLogger } from '../../src/logger';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { CallerIdPolicy } from '../../src/policy/caller-id-policy';
import { DestinationPolicy } from '../../src/policy/destination-policy';
import { RateLimiter } from '../../src/policy/rate-limiter';
import { TransferDestinations } from '../../src/policy/transfer-destinations';
import { MemoryCallStore } from '../../src/store/call-store';
import { RecordWriter } from '../../src/store/record-writer';
import { FakeCallControl } from './fake-call-control';
import { FakeLinkOpener } from './fake-link';

export interface ServiceUnderTestOptions {
  maxConcurrentCalls?: number;
  /** Call attempts per requester: burst, then per minute (default: effectively unlimited). */
  attemptBurst?: number;
  attemptPerMinute?: number;
  /** Clock of the rate limiters. */
  nowMs?: () => number;
  allowedPrefixes?: string[];
  deniedPrefixes?: string[];
  callerIds?: string[];
}

export interface ServiceUnderTest {
  readonly service: CallService;
  readonly control: FakeCallControl;
  readonly links: FakeLinkOpener;
  readonly store: MemoryCallStore;
  /** E.164 numbers of the call legs made so far (created, then dialled), in order. */
  dialled(): string[];
  /** Calls hung up through the API or the service, by call id. */
  hungUp(): string[];
  /** Ends every call and releases timers; call in `after`/`afterEach`. */
  stop(): Promise<void>;
}

export function createServiceUnderTest(o: ServiceUnderTestOptions = {}): ServiceUnderTest {
  const log = silentLogger();
  const router = new AriEventRouter(log);
  const control = new FakeCallControl(router);
  const links = new FakeLinkOpener();
  const store = new MemoryCallStore();
  const writer = new RecordWriter({ store, log });
  const settings: CallSettings = {
    ariApp: 'test-app',
    trunkEndpoint: 'carrier',
    callerId: undefined,
    ringTimeoutS: 30,
    maxDurationS: 600,
    externalMediaFormat: 'slin',
    agentReadyTimeoutMs: 1000,
    drainTimeoutMs: 100,
    ringingActivityIntervalMs: 60_000,
    metricsLogIntervalMs: 60_000,
    dtmfToAgent: 'off',
    sendDtmfMaxDigits: 8,
    transfer: { destinations: new TransferDestinations([]), maxAttempts: 1, ringTimeoutS: 30, maxDurationS: 600 },
    checkDestination: () => null,
    releaseStepTimeoutMs: 200,
  };
  const policy = new DestinationPolicy({ allowedPrefixes: o.allowedPrefixes ?? [], deniedPrefixes: o.deniedPrefixes ?? [] });
  const callerIds = new CallerIdPolicy(o.callerIds ?? []);
  const nowMs = o.nowMs ?? (() => performance.now());
  const service = new CallService({
    control,
    router,
    openLink: links.open,
    settings,
    store,
    writer,
    log,
    isAriConnected: () => true,
    events: new CallEventBus(log),
    metrics: new GatewayMetrics({ isDefaultMetricsEnabled: false }),
    inbound: { isEnabled: true, agents: {} },
    admission: {
      maxConcurrentCalls: o.maxConcurrentCalls ?? 100_000,
      attemptLimiter: new RateLimiter({ burst: o.attemptBurst ?? 1_000_000, perMinute: o.attemptPerMinute ?? 1_000_000, nowMs }),
    },
    destinationGuard: {
      assertAllowed: (phoneNumber, callerId) => {
        policy.assertAllowed(phoneNumber);
        callerIds.assertAllowed(callerId);
      },
    },
  });
  return {
    service,
    control,
    links,
    store,
    dialled: () => control.ops.filter((op) => op.startsWith('create ')).map((op) => `+${/PJSIP\/(\d+)@/.exec(op)?.[1] ?? ''}`),
    /** Call legs hung up (not the agent's ExternalMedia channels, vg-em-/vg-em<n>-, nor transfer legs). */
    hungUp: () => control.ops.filter((op) => /^hangup vg-(?!em[0-9]*-|tr-)/.test(op)).map((op) => op.slice('hangup vg-'.length)),
    stop: async () => {
      await service.stop(0);
      await writer.flush(1000);
      writer.close();
    },
  };
}
