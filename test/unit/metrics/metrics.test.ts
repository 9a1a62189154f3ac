import assert from 'node:assert/strict';
import pino from 'pino';
import type { BridgeMetrics } from '../../../src/model/call-view';
import { CallEventBus } from '../../../src/events/call-events';
import { GatewayMetrics } from '../../../src/metrics/metrics';

function bridge(inPackets: number, outPackets: number): BridgeMetrics {
  return {
    caller_to_ai: { packets: inPackets, bytes: inPackets * 320 },
    ai_to_caller: { packets: outPackets, bytes: outPackets * 320 },
    resampling_ops: 0,
    errors: 0,
  };
}

describe('GatewayMetrics', () => {
  let metrics: GatewayMetrics;
  beforeEach(() => {
    metrics = new GatewayMetrics({ isDefaultMetricsEnabled: false });
  });

  /** Value of `name` with exactly these labels (0 when absent). */
  async function valueOf(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = metrics.registry.getSingleMetric(name);
    assert.ok(metric, `${name} is not registered`);
    const { values } = await metric.get();
    // Histogram buckets come as `<name>_bucket` with a numeric `le`.
    const match = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
    return match?.value ?? 0;
  }

  it('active calls follow started/ended; outcomes are counted once per call', async () => {
    metrics.callStarted('a');
    metrics.callStarted('a'); // idempotent
    metrics.callStarted('b');
    assert.equal(await valueOf('voice_gateway_active_calls'), 2);
    metrics.callEnded({ id: 'a', status: 'completed', metrics: bridge(0, 0) });
    metrics.callEnded({ id: 'a', status: 'completed', metrics: bridge(0, 0) }); // repeated
    metrics.callEnded({ id: 'b', status: 'busy', metrics: bridge(0, 0) });
    assert.equal(await valueOf('voice_gateway_active_calls'), 0);
    assert.equal(await valueOf('voice_gateway_calls_total', { outcome: 'completed' }), 1);
    assert.equal(await valueOf('voice_gateway_calls_total', { outcome: 'busy' }), 1);
    assert.equal(await valueOf('voice_gateway_calls_total', { outcome: 'failed' }), 0);
  });

  it('RTP counters add the growth of cumulative per-call counts, each way, through the final count', async () => {
    metrics.callStarted('a');
    metrics.callMetrics('a', bridge(100, 50));
    metrics.callMetrics('a', bridge(250, 120));
    metrics.callStarted('b');
    metrics.callMetrics('b', bridge(10, 0));
    metrics.callEnded({ id: 'a', status: 'completed', metrics: bridge(300, 200) });
    assert.equal(await valueOf('voice_gateway_rtp_packets_total', { direction: 'caller_to_ai' }), 310);
    assert.equal(await valueOf('voice_gateway_rtp_packets_total', { direction: 'ai_to_caller' }), 200);
    assert.equal(await valueOf('voice_gateway_rtp_bytes_total', { direction: 'caller_to_ai' }), 310 * 320);
    // A counter that went backwards adds nothing.
    metrics.callMetrics('b', bridge(5, 0));
    assert.equal(await valueOf('voice_gateway_rtp_packets_total', { direction: 'caller_to_ai' }), 310);
  });

  it('latency histograms take ms and export seconds', async () => {
    metrics.observeAgentConnectMs(420);
    metrics.observeAgentConnectMs(1800);
    metrics.observeAnswerToFirstAudioMs(900);
    assert.equal(await valueOf('voice_gateway_agent_connect_seconds', { le: '0.5' }), 1);
    assert.equal(await valueOf('voice_gateway_agent_connect_seconds', { le: '2' }), 2);
    const text = await metrics.render();
    assert.match(text, /^voice_gateway_agent_connect_seconds_sum 2\.22$/m);
    assert.match(text, /^voice_gateway_answer_to_first_audio_seconds_count 1$/m);
    // Answer → first caller frame at the agent: frame-scale buckets.
    metrics.observeAnswerToFirstCallerFrameMs(15);
    assert.equal(await valueOf('voice_gateway_answer_to_first_caller_frame_seconds', { le: '0.01' }), 0);
    assert.equal(await valueOf('voice_gateway_answer_to_first_caller_frame_seconds', { le: '0.02' }), 1);
  });

  it('frame issues, interruptions and ARI reconnects', async () => {
    metrics.frameIssues('late', 3);
    metrics.frameIssues('dropped', 2);
    metrics.frameIssues('late', 0);
    metrics.interruption();
    metrics.interruption();
    metrics.ariReconnected();
    assert.equal(await valueOf('voice_gateway_frame_issues_total', { kind: 'late' }), 3);
    assert.equal(await valueOf('voice_gateway_frame_issues_total', { kind: 'dropped' }), 2);
    assert.equal(await valueOf('voice_gateway_interruptions_total'), 2);
    assert.equal(await valueOf('voice_gateway_ari_reconnects_total'), 1);
  });

  it('every label value is exported from the start (rate() works before the first call)', async () => {
    const text = await metrics.render();
    for (const line of [
      'voice_gateway_calls_total{outcome="no-answer"} 0',
      'voice_gateway_rtp_packets_total{direction="ai_to_caller"} 0',
      'voice_gateway_frame_issues_total{kind="dropped"} 0',
      'voice_gateway_active_calls 0',
      'voice_gateway_event_streams_refused_total{limit="per_token"} 0',
      'voice_gateway_event_stream_slow_disconnects_total 0',
    ]) {
      assert.ok(text.includes(line), line);
    }
  });

  it('feeds from the event bus, and cancelling leaves the bus without subscribers', async () => {
    const bus = new CallEventBus(pino({ level: 'silent' }));
    const subscription = metrics.observeBus(bus);
    const at = new Date().toISOString();
    bus.publish({ type: 'dialing', call_id: 'x', at, direction: 'outbound', phone_number: '+14155550123' });
    bus.publish({ type: 'metrics', call_id: 'x', at, metrics: bridge(40, 30) });
    bus.publish({ type: 'interruption', call_id: 'x', at });
    assert.equal(await valueOf('voice_gateway_active_calls'), 1);
    bus.publish({
      type: 'ended', call_id: 'x', at, status: 'no-answer', end_reason: 'no-answer', hangup_cause: 19,
      hangup_cause_text: 'No answer', error: null, duration_ms: 45_000, metrics: bridge(50, 30),
    });
    assert.equal(await valueOf('voice_gateway_active_calls'), 0);
    assert.equal(await valueOf('voice_gateway_calls_total', { outcome: 'no-answer' }), 1);
    assert.equal(await valueOf('voice_gateway_rtp_packets_total', { direction: 'caller_to_ai' }), 50);
    assert.equal(await valueOf('voice_gateway_interruptions_total'), 1);
    subscription.cancel();
    assert.equal(bus.subscriberCount, 0);
  });

  it('registries are private: two instances do not share counters; defaults are included when asked', async () => {
    const other = new GatewayMetrics();
    metrics.interruption();
    const otherText = await other.render();
    assert.match(otherText, /^voice_gateway_interruptions_total 0$/m);
    assert.match(otherText, /^process_cpu_user_seconds_total /m);
    assert.match(otherText, /^nodejs_eventloop_lag_seconds /m);
    assert.doesNotMatch(await metrics.render(), /process_cpu_user_seconds_total/);
    assert.equal(other.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  });
});
