/**
 * MediaWorkerPool with a real worker thread, the ElevenLabs simulator and a UDP socket playing
 * Asterisk's side of the ExternalMedia channel (docs/architecture.md#media-workers).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { MediaWorkerPool } from '../../src/media/worker/worker-pool';
import { ElevenLabsSimulator } from '../fakes/elevenlabs-simulator';
import { waitFor } from '../helpers/wait-for';

const AGENT_ID = 'worker-pool-agent';

describe('MediaWorkerPool (a real worker thread, the simulator, a UDP peer)', function () {
  let sim: ElevenLabsSimulator;
  let peer: dgram.Socket;
  let received = 0;

  before(async function () {
    sim = await ElevenLabsSimulator.start({ host: '127.0.0.1', port: 0 });
    sim.agent(AGENT_ID, {
      requiresAuth: false,
      inputFormat: 'pcm_16000',
      outputFormat: 'pcm_16000',
      greeting: { freqHz: 440, durationMs: 400 },
      turnTimeoutMs: -1,
      vad: { speechThreshold: 1_000_000_000 },
    });
    peer = dgram.createSocket('udp4');
    peer.on('message', () => void received++);
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  });

  after(async function () {
    await new Promise<void>((resolve) => peer.close(() => resolve()));
    await sim.close();
  });

  function newPool(rtpPortMin: number, statsIntervalMs: number, resamplerWarmCalls = 0): MediaWorkerPool {
    return new MediaWorkerPool({
      workers: 1,
      setup: {
        agent: { apiUrl: sim.apiUrl, apiKey: undefined, defaultAgentId: AGENT_ID, connectTimeoutMs: 10_000 },
        media: {
          externalMediaHost: '127.0.0.1',
          externalMediaAdvertiseHost: '127.0.0.1',
          externalMediaFormat: 'slin',
          rtpPortMin,
          rtpPortMax: rtpPortMin + 99,
          audioChunkSizeMs: 20,
          resamplerConverter: 'sinc_fastest',
        },
        logLevel: 'silent',
        resamplerMaxIdle: 4,
        resamplerWarmCalls,
        statsIntervalMs,
      },
      log: pino({ level: 'silent' }),
    });
  }

  it('a worker makes its share of resampler engines at start, in the background, and says when it is done', async function () {
    const pool = newPool(47400, 200, 2);
    try {
      await pool.warmed();
      // Two calls' worth: one engine each way per call.
      assert.deepEqual(pool.stats().warmedEngines, [4]);
    } finally {
      await pool.stop();
    }
  });

  it("a closed link's record keeps its final counters, even when the periodic report never ran", async function () {
    // Reports less often than the test lasts: only the close itself can bring the counters over.
    const pool = newPool(47100, 3_600_000);
    try {
      const link = await pool.open('call-1', {}, new AbortController().signal);
      const ignore = (): void => undefined;
      link.setHandlers({ onTranscript: ignore, onInterruption: ignore, onEndCallRequested: ignore, onToolCall: ignore, onAgentClosed: ignore, onFirstPlayout: ignore, onFrameRefused: ignore, onFailed: ignore });
      link.start({ address: '127.0.0.1', port: (peer.address() as AddressInfo).port });
      // The 400 ms greeting is 20 packets of 20 ms.
      await waitFor(() => received >= 20, { timeoutMs: 10_000, what: 'the greeting at the peer' });
      assert.equal(link.metrics().ai_to_caller.packets, 0, 'no periodic report arrived yet');
      await link.close();
      // Every packet the worker counted is one the peer gets (loopback UDP); wait for the last in flight.
      await waitFor(() => received === link.metrics().ai_to_caller.packets, { timeoutMs: 5_000, what: `${link.metrics().ai_to_caller.packets} packets at the peer, have ${received}` });
      assert.ok(link.metrics().ai_to_caller.packets >= 20);
    } finally {
      await pool.stop();
    }
  });

  it("a link command that throws in the worker fails that link only; the worker's other link plays on", async function () {
    const pool = newPool(47200, 200);
    try {
      const failures: Error[] = [];
      const ignore = (): void => undefined;
      const handlers = { onTranscript: ignore, onInterruption: ignore, onEndCallRequested: ignore, onToolCall: ignore, onAgentClosed: ignore, onFirstPlayout: ignore, onFrameRefused: ignore };
      const bad = await pool.open('call-bad', {}, new AbortController().signal);
      bad.setHandlers({ ...handlers, onFailed: (err) => failures.push(err) });
      const good = await pool.open('call-good', {}, new AbortController().signal);
      good.setHandlers({ ...handlers, onFailed: (err) => failures.push(err) });
      // Not an IP address: the RTP endpoint refuses it (a programmer error, thrown).
      bad.start({ address: 'not-an-address', port: 4000 });
      good.start({ address: '127.0.0.1', port: (peer.address() as AddressInfo).port });
      await waitFor(() => failures.length > 0, { timeoutMs: 5_000, what: 'the bad link failed' });
      assert.match(failures[0]!.message, /IP address/);
      const before = received;
      await waitFor(() => received >= before + 10 && good.metrics().ai_to_caller.packets > 0, { timeoutMs: 10_000, what: 'the good link still playing (and reporting)' });
      assert.equal(failures.length, 1, 'only the bad link failed');
      assert.equal(pool.stats().restarts, 0, 'the worker did not die');
      await Promise.all([bad.close(), good.close()]);
    } finally {
      await pool.stop();
    }
  });

  it('a wedged worker does not hold a call: a drain it never answers resolves at its deadline, and the worker answers again once it runs', async function () {
    const pool = newPool(47300, 200);
    let guard: NodeJS.Timeout | undefined;
    let isStalled = false;
    let release = (): void => undefined;
    const letGo = (): void => {
      clearTimeout(guard);
      isStalled = false;
      release();
    };
    try {
      const link = await pool.open('call-wedged', {}, new AbortController().signal);
      const ignore = (): void => undefined;
      link.setHandlers({ onTranscript: ignore, onInterruption: ignore, onEndCallRequested: ignore, onToolCall: ignore, onAgentClosed: ignore, onFirstPlayout: ignore, onFrameRefused: ignore, onFailed: ignore });
      release = pool.stall(0);
      isStalled = true;
      // Without a deadline on the main side the drain would wait for the thread: let it go late
      // then, so that the run ends and the assertion below says why.
      guard = setTimeout(letGo, 15_000);
      await link.drainPlayout(50);
      assert.ok(isStalled, 'the drain waited for the wedged worker: no deadline on the main side');
      letGo();
      await link.drainPlayout(50); // answered by the worker itself again
      await link.close();
      assert.equal(pool.stats().restarts, 0);
    } finally {
      letGo();
      await pool.stop();
    }
  });
});
