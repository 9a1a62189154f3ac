/**
 * The simulator's own behaviour, driven by a bare `ws` client (not our AgentClient), so that a bug
 * in the client cannot hide a bug in the simulator.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { AgentAudioFormat } from '../../src/audio/frame';
import {
  ElevenLabsSimulator,
  estimateFrequencyHz,
  linearToUlaw,
  synthTone,
  ulawToLinear,
  type SimAgentOptions,
} from '../fakes/elevenlabs-simulator';
import { waitFor } from '../helpers/wait-for';

type Msg = Record<string, unknown> & { type?: string };

/** A raw client that records every message with its arrival time. */
class RawClient {
  readonly msgs: { at: number; m: Msg }[] = [];
  readonly ws: WebSocket;
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  #autoPong = true;

  constructor(url: string, protocols: string[] = []) {
    this.ws = new WebSocket(url, protocols);
    this.ws.on('error', () => undefined); // failures surface as close codes in the tests
    this.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Msg;
      this.msgs.push({ at: performance.now(), m });
      if (this.#autoPong && m.type === 'ping') {
        const id = (m.ping_event as { event_id: number }).event_id;
        this.ws.send(JSON.stringify({ type: 'pong', event_id: id }));
      }
    });
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
  }

  /** `init: null` = send no initiation message. */
  static async open(url: string, init: Msg | null = { type: 'conversation_initiation_client_data' }, protocols: string[] = []): Promise<RawClient> {
    const c = new RawClient(url, protocols);
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
    });
    if (init !== null) c.send(init);
    return c;
  }

  set autoPong(v: boolean) {
    this.#autoPong = v;
  }

  send(m: Msg): void {
    this.ws.send(JSON.stringify(m));
  }

  sendAudio(bytes: Buffer): void {
    this.ws.send(JSON.stringify({ user_audio_chunk: bytes.toString('base64') }));
  }

  of(type: string): Msg[] {
    return this.msgs.filter((x) => x.m.type === type).map((x) => x.m);
  }

  audio(eventId?: number): { at: number; bytes: Buffer; eventId: number }[] {
    return this.msgs
      .filter((x) => x.m.type === 'audio')
      .map((x) => {
        const ev = x.m.audio_event as { audio_base_64: string; event_id: number };
        return { at: x.at, bytes: Buffer.from(ev.audio_base_64, 'base64'), eventId: ev.event_id };
      })
      .filter((a) => eventId === undefined || a.eventId === eventId);
  }

  next(type: string, pred: (m: Msg) => boolean = () => true, timeoutMs = 3000): Promise<Msg> {
    return waitFor(() => this.of(type).find(pred), { timeoutMs, intervalMs: 5, what: `'${type}' message` });
  }

  close(): Promise<number> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'test done');
    return this.closed;
  }
}

function s16le(samples: Int16Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => b.writeInt16LE(s, i * 2));
  return b;
}

function readS16le(b: Buffer): Int16Array {
  const out = new Int16Array(b.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(i * 2);
  return out;
}

/** Stream `ms` of tone (or silence) as 20 ms s16le chunks at 16 kHz. */
function streamPcm16k(c: RawClient, ms: number, freqHz: number | undefined): void {
  const samples = freqHz === undefined ? new Int16Array((16000 * ms) / 1000) : synthTone({ freqHz, durationMs: ms }, 16000);
  const bytes = s16le(samples);
  for (let at = 0; at < bytes.length; at += 640) c.sendAudio(bytes.subarray(at, at + 640));
}

describe('ElevenLabs simulator', function () {
  this.timeout(10_000);
  let sim: ElevenLabsSimulator;
  let clients: RawClient[];

  beforeEach(async () => {
    clients = [];
    sim = await ElevenLabsSimulator.start({
      apiKey: 'k',
      defaults: { pingIntervalMs: 60_000, turnTimeoutMs: -1, llmLatencyMs: 10, interruptLatencyMs: 0, greeting: { freqHz: 440, durationMs: 300 } },
    });
  });

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
  });

  async function open(agentId: string, agent: SimAgentOptions = {}, init?: Msg | null, protocols?: string[]): Promise<RawClient> {
    sim.agent(agentId, agent);
    const c = await RawClient.open(sim.publicUrl(agentId), init, protocols);
    clients.push(c);
    return c;
  }

  describe('HTTP', () => {
    it('serves signed URLs on both path spellings, with 401/422/404 errors', async () => {
      sim.agent('a1', { requiresAuth: true });
      const get = async (path: string, key?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
        const res = await fetch(`${sim.apiUrl}${path}`, { headers: key === undefined ? {} : { 'xi-api-key': key } });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      for (const p of ['get-signed-url', 'get_signed_url']) {
        const ok = await get(`/v1/convai/conversation/${p}?agent_id=a1`, 'k');
        assert.equal(ok.status, 200);
        assert.match(String(ok.body.signed_url), /conversation_signature=/);
      }
      assert.equal((await get('/v1/convai/conversation/get-signed-url?agent_id=a1')).status, 401);
      assert.deepEqual((await get('/v1/convai/conversation/get-signed-url?agent_id=a1', 'bad')).body, {
        detail: { status: 'invalid_api_key', message: 'Invalid API key' },
      });
      assert.equal((await get('/v1/convai/conversation/get-signed-url', 'k')).status, 422);
      assert.equal((await get('/v1/convai/conversation/get-signed-url?agent_id=zz', 'k')).status, 404);
    });

    it('include_conversation_id: single-use signature, id in the body and used for the conversation', async () => {
      sim.agent('a1', { requiresAuth: true });
      const res = await fetch(`${sim.apiUrl}/v1/convai/conversation/get-signed-url?agent_id=a1&include_conversation_id=true`, {
        headers: { 'xi-api-key': 'k' },
      });
      const body = (await res.json()) as { signed_url: string; conversation_id: string };
      assert.match(body.conversation_id, /^conv_[0-9a-z]{26}$/);
      const c = await RawClient.open(body.signed_url);
      clients.push(c);
      const meta = await c.next('conversation_initiation_metadata');
      assert.equal((meta.conversation_initiation_metadata_event as { conversation_id: string }).conversation_id, body.conversation_id);
      const again = await RawClient.open(body.signed_url);
      clients.push(again);
      assert.equal(await again.closed, 1008);
    });
  });

  describe('handshake', () => {
    it('sends metadata first, echoes the convai sub-protocol, then greets with event id 1', async () => {
      const c = await open('a1', {}, null, ['convai']);
      assert.equal(c.ws.protocol, 'convai');
      c.send({ type: 'conversation_initiation_client_data' });
      await c.next('agent_response');
      assert.equal(c.msgs[0]?.m.type, 'conversation_initiation_metadata');
      const meta = c.msgs[0]!.m.conversation_initiation_metadata_event as Record<string, string>;
      assert.match(meta.conversation_id!, /^conv_[0-9a-z]{26}$/);
      assert.deepEqual([meta.agent_output_audio_format, meta.user_input_audio_format], ['pcm_16000', 'pcm_16000']);
      assert.deepEqual(c.of('agent_response')[0], { type: 'agent_response', agent_response_event: { agent_response: 'Hello! How can I help you today?', event_id: 1 } });
    });

    it('starts with agent defaults when the client sends no initiation (grace period)', async () => {
      const c = await open('a1', { initGraceMs: 30 }, null);
      await c.next('conversation_initiation_metadata');
      const conv = await sim.nextConversation();
      assert.equal(conv.initiation, undefined);
    });

    it('drops a disallowed override silently with overridePolicy "ignore"', async () => {
      const c = await open('lax', { overridePolicy: 'ignore' }, {
        type: 'conversation_initiation_client_data',
        conversation_config_override: { agent: { first_message: 'Overridden' } },
      });
      const greeting = await c.next('agent_response');
      assert.equal((greeting.agent_response_event as { agent_response: string }).agent_response, 'Hello! How can I help you today?');
      const conv = await sim.nextConversation();
      assert.deepEqual(conv.effective?.ignoredOverrides, ['agent.first_message']);
    });

    it('closes 1008 with a nested override_error frame by default', async () => {
      const c = await open('strict', {}, {
        type: 'conversation_initiation_client_data',
        conversation_config_override: { tts: { voice_id: 'v' } },
      });
      assert.equal(await c.closed, 1008);
      assert.equal(c.msgs.length, 1);
      assert.deepEqual((c.msgs[0]!.m.error_event as Record<string, unknown>).error_type, 'override_error');
    });
  });

  describe('audio out', () => {
    const formats: AgentAudioFormat[] = ['pcm_8000', 'pcm_16000', 'pcm_22050', 'pcm_24000', 'pcm_44100', 'pcm_48000', 'ulaw_8000'];
    for (const format of formats) {
      it(`encodes the greeting exactly in ${format}`, async () => {
        const c = await open(`f-${format}`, { outputFormat: format, speedFactor: 'burst', greeting: { freqHz: 440, durationMs: 500 } });
        const rate = Number(format.split('_')[1]);
        const isUlaw = format === 'ulaw_8000';
        const expectedBytes = (rate / 2) * (isUlaw ? 1 : 2);
        await waitFor(() => c.audio().reduce((n, a) => n + a.bytes.length, 0) === expectedBytes, { what: `${expectedBytes} bytes` });
        const bytes = Buffer.concat(c.audio().map((a) => a.bytes));
        // Decode independently of the simulator's decoder: s16le by hand, µ-law via the G.711 table.
        const samples = isUlaw ? Int16Array.from(bytes, (b) => ulawToLinear(b)) : readS16le(bytes);
        const freq = estimateFrequencyHz(samples, rate);
        assert.ok(Math.abs(freq - 440) < 2, `${freq} Hz`);
        const peak = samples.reduce((m, s) => Math.max(m, Math.abs(s)), 0);
        assert.ok(peak > 9000 && peak < 10500, `peak ${peak} (0.3 FS)`);
      });
    }

    it('uses the G.711 µ-law code points', () => {
      assert.equal(linearToUlaw(0), 0xff);
      assert.equal(linearToUlaw(32767), 0x80);
      assert.equal(linearToUlaw(-32768), 0x00);
      assert.equal(ulawToLinear(0x80), 32124);
      assert.equal(ulawToLinear(0x00), -32124);
      assert.equal(ulawToLinear(0xff), 0);
      for (const s of [-20000, -1000, -10, 10, 1000, 20000]) assert.ok(Math.abs(ulawToLinear(linearToUlaw(s)) - s) <= Math.abs(s) * 0.04 + 8);
    });

    it('paces at speedFactor × real time, or all at once in burst mode', async () => {
      const paced = await open('paced', { speedFactor: 4, chunkMs: 100, greeting: { freqHz: 440, durationMs: 2000 } });
      await waitFor(() => paced.audio().length === 20, { what: '20 chunks' });
      const spanPaced = paced.audio()[19]!.at - paced.audio()[0]!.at;
      // 19 gaps × 100 ms / 4 = 475 ms.
      assert.ok(spanPaced > 400 && spanPaced < 900, `paced span ${spanPaced} ms`);

      const burst = await open('burst', { speedFactor: 'burst', chunkMs: 100, greeting: { freqHz: 440, durationMs: 2000 } });
      await waitFor(() => burst.audio().length === 20, { what: '20 chunks' });
      const spanBurst = burst.audio()[19]!.at - burst.audio()[0]!.at;
      assert.ok(spanBurst < 100, `burst span ${spanBurst} ms`);
    });

    it('chunks are not frame-aligned by default, and random sizes are reproducible per seed', async () => {
      const c = await open('chunks', { speedFactor: 'burst' });
      await c.next('audio');
      await waitFor(() => c.audio().reduce((n, a) => n + a.bytes.length, 0) === 9600, { what: 'greeting' });
      assert.equal(c.audio()[0]!.bytes.length, 110 * 32, '110 ms at 16 kHz s16le');
      assert.notEqual((c.audio()[0]!.bytes.length / 2) % 320, 0);
      const sizes = async (id: string): Promise<number[]> => {
        const r = await open(id, { speedFactor: 'burst', randomChunks: true, seed: 7, greeting: { freqHz: 440, durationMs: 3000 } });
        await waitFor(() => r.audio().reduce((n, a) => n + a.bytes.length, 0) === 96000, { what: 'greeting' });
        return r.audio().map((a) => a.bytes.length);
      };
      const a = await sizes('r1');
      const b = await sizes('r2');
      assert.deepEqual(a, b);
      assert.ok(new Set(a).size > 1);
    });
  });

  describe('turns', () => {
    it('VAD: speech then silence → user_transcript → agent_response + audio with the same id', async () => {
      const c = await open('vad', { firstMessage: '', userTranscripts: ['I want to pay my bill'], speedFactor: 'burst' });
      await c.next('conversation_initiation_metadata');
      streamPcm16k(c, 600, 300);
      streamPcm16k(c, 800, undefined);
      const t = await c.next('user_transcript');
      assert.deepEqual(t.user_transcription_event, { user_transcript: 'I want to pay my bill', event_id: 1 });
      const r = await c.next('agent_response');
      assert.deepEqual(r.agent_response_event, { agent_response: 'You said: I want to pay my bill', event_id: 1 });
      await waitFor(() => c.audio(1).reduce((n, a) => n + a.bytes.length, 0) === 32000, { what: 'reply audio' });
      const freq = estimateFrequencyHz(readS16le(Buffer.concat(c.audio(1).map((a) => a.bytes))), 16000);
      assert.ok(Math.abs(freq - 660) < 2, `${freq} Hz`);
      const conv = await sim.nextConversation();
      assert.equal(conv.userTurns[0]?.speechMs, 600);
      assert.ok(Math.abs(estimateFrequencyHz(conv.userAudio().subarray(0, 9600), 16000) - 300) < 2);
    });

    it('VAD barge-in during the greeting → interruption with a new id, reply carries that id', async () => {
      const c = await open('barge', { speedFactor: 1, greeting: { freqHz: 440, durationMs: 3000 } });
      await c.next('audio');
      streamPcm16k(c, 400, 300);
      const i = await c.next('interruption');
      assert.deepEqual(i.interruption_event, { event_id: 2 });
      streamPcm16k(c, 800, undefined);
      await c.next('agent_response', (m) => (m.agent_response_event as { event_id: number }).event_id === 2);
      const conv = await sim.nextConversation();
      assert.ok(conv.agentTurns[0]!.isInterrupted);
      assert.ok(conv.agentTurns[0]!.chunksSent < 30, 'greeting generation stopped');
      assert.equal(conv.userTurns[0]?.didInterrupt, true);
    });

    it('interrupts on estimated playback, even after the last byte was sent', async () => {
      const c = await open('late', { speedFactor: 'burst', greeting: { freqHz: 440, durationMs: 2000 } });
      await waitFor(() => c.audio().reduce((n, a) => n + a.bytes.length, 0) === 64000, { what: 'whole greeting' });
      c.send({ type: 'user_message', text: 'wait' });
      const i = await c.next('interruption');
      assert.deepEqual(i.interruption_event, { event_id: 2 });
    });

    it('does not interrupt a non-interruptible greeting', async () => {
      const c = await open('polite', { disableFirstMessageInterruptions: true, speedFactor: 'burst', greeting: { freqHz: 440, durationMs: 2000 } });
      await c.next('agent_response');
      c.send({ type: 'user_message', text: 'hello?' });
      await c.next('agent_response', (m) => (m.agent_response_event as { event_id: number }).event_id === 2);
      assert.equal(c.of('interruption').length, 0);
    });

    it('re-engages after the turn timeout, and user_activity pushes it back', async () => {
      const c = await open('quiet', { firstMessage: '', turnTimeoutMs: 200 });
      const conv = await sim.nextConversation();
      await c.next('conversation_initiation_metadata');
      await waitFor(() => conv.nowMs() >= 100, { intervalMs: 5, what: '100 ms' });
      c.send({ type: 'user_activity' });
      const activity = await conv.waitForFrame((f) => f.type === 'user_activity');
      const reengage = await conv.waitForFrame((f) => f.type === 'agent_response');
      assert.equal((reengage.data as { agent_response_event: { agent_response: string } }).agent_response_event.agent_response, 'Are you still there?');
      assert.ok(reengage.atMs >= activity.atMs + 195, `re-engaged at ${reengage.atMs}, activity at ${activity.atMs}`);
      assert.equal(conv.counters.reengagements, 1);
    });

    it('can send agent_response after the first audio chunk (order is not guaranteed on the real service)', async () => {
      const c = await open('order', { agentResponseOrder: 'after-first-chunk', speedFactor: 'burst' });
      await c.next('agent_response');
      const types = c.msgs.map((x) => x.m.type).filter((t) => t === 'audio' || t === 'agent_response');
      assert.deepEqual(types.slice(0, 2), ['audio', 'agent_response']);
    });

    it('max duration: nested max_duration_exceeded + 1000, or legacy 1011', async () => {
      const c = await open('cap', { maxDurationS: 0.1 });
      assert.equal(await c.closed, 1000);
      assert.equal((c.of('error')[0]!.error_event as Record<string, unknown>).error_type, 'max_duration_exceeded');
      const legacy = await open('cap-legacy', { maxDurationS: 0.1, legacyMaxDuration: true });
      assert.equal(await legacy.closed, 1011);
      assert.equal(legacy.of('error').length, 0);
    });

    it('end_call after N user turns: goodbye, agent_tool_response, close 1000', async () => {
      const c = await open('short', { endCallAfterUserTurns: 1, speedFactor: 'burst' });
      await c.next('agent_response');
      c.send({ type: 'user_message', text: 'that is all' });
      assert.equal(await c.closed, 1000);
      const tool = c.of('agent_tool_response')[0]!.agent_tool_response as Record<string, unknown>;
      assert.deepEqual([tool.tool_name, tool.tool_type, tool.event_id], ['end_call', 'system', 2]);
      assert.equal(c.audio(2).reduce((n, a) => n + a.bytes.length, 0), 48000, 'full 1500 ms goodbye');
    });
  });

  describe('protocol errors and keepalive', () => {
    it('closes 1008 invalid_message on an unknown client type', async () => {
      const c = await open('picky');
      await c.next('conversation_initiation_metadata');
      c.send({ type: 'interrupt' });
      assert.equal(await c.closed, 1008);
      const err = c.of('error')[0]!.error_event as Record<string, unknown>;
      assert.equal(err.error_type, 'invalid_message');
      assert.equal(err.code, 1008);
    });

    it('pings with ping_ms null first, then the measured RTT; closes 1002 after missed pongs', async () => {
      const c = await open('pinger', { pingIntervalMs: 20 });
      await waitFor(() => c.of('ping').length >= 3, { what: '3 pings' });
      const pings = c.of('ping').map((m) => m.ping_event as { event_id: number; ping_ms: number | null });
      assert.deepEqual(pings.slice(0, 3).map((p) => p.event_id), [1, 2, 3]);
      assert.equal(pings[0]!.ping_ms, null);
      assert.equal(typeof pings[2]!.ping_ms, 'number');

      const deaf = await open('deaf', { pingIntervalMs: 20, missedPongLimit: 2 });
      deaf.autoPong = false;
      assert.equal(await deaf.closed, 1002);
    });

    it('rebuilds samples split across odd-sized PCM chunks', async () => {
      const c = await open('odd', { firstMessage: '' });
      await c.next('conversation_initiation_metadata');
      const bytes = s16le(synthTone({ freqHz: 250, durationMs: 300 }, 16000));
      for (let at = 0; at < bytes.length; at += 333) c.sendAudio(bytes.subarray(at, at + 333));
      const conv = await sim.nextConversation();
      await waitFor(() => conv.counters.audioBytesIn === bytes.length, { what: 'all audio' });
      assert.ok(conv.counters.oddLengthAudioChunks > 0);
      assert.equal(conv.userAudio().length, 4800);
      assert.ok(Math.abs(estimateFrequencyHz(conv.userAudio(), 16000) - 250) < 2);
    });

    it('close() ends open conversations and everything it started', async () => {
      const c = await open('x', { pingIntervalMs: 10 });
      await c.next('ping');
      await sim.close();
      assert.equal(await c.closed, 1006);
      assert.equal(sim.activeConversations.length, 0);
    });
  });
});
