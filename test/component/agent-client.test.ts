/**
 * AgentClient against the real ElevenLabs simulator (HTTP + WebSocket on 127.0.0.1:0).
 * No --exit: a timer or socket left behind by the client or the simulator hangs the run.
 */
import assert from 'node:assert/strict';
import pino from 'pino';
import { AgentConnectionError } from '../../src/errors';
import {
  AgentClient,
  fetchSignedUrl,
  publicAgentUrl,
  type AgentClientEvents,
  type AgentConnectOptions,
} from '../../src/agent/agent-client';
import {
  ElevenLabsSimulator,
  decodeBytes,
  encodeSamples,
  estimateFrequencyHz,
  synthTone,
  type SimAgentOptions,
  type SimConversation,
} from '../fakes/elevenlabs-simulator';
import { waitFor } from '../helpers/wait-for';

const log = pino({ level: 'silent' });
const API_KEY = 'test-key-123';

type EventName = keyof AgentClientEvents;
type EventOf<K extends EventName> = AgentClientEvents[K][0];

/** Records every client event in arrival order; `next` awaits one (already seen or future). */
class Recorder {
  readonly events: { name: EventName; ev: unknown }[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(client: AgentClient) {
    const names: EventName[] = [
      'audio',
      'interruption',
      'transcript',
      'clientToolCall',
      'agentToolRequest',
      'agentToolResponse',
      'agentError',
      'ping',
      'mcpToolCall',
      'contextUsage',
      'guardrailTriggered',
      'close',
    ];
    for (const name of names) {
      client.on(name, (ev: unknown) => {
        this.events.push({ name, ev });
        for (const l of [...this.#listeners]) l();
      });
    }
  }

  all<K extends EventName>(name: K): EventOf<K>[] {
    return this.events.filter((e) => e.name === name).map((e) => e.ev as EventOf<K>);
  }

  indexOf<K extends EventName>(name: K, pred: (ev: EventOf<K>) => boolean = () => true): number {
    return this.events.findIndex((e) => e.name === name && pred(e.ev as EventOf<K>));
  }

  next<K extends EventName>(name: K, pred: (ev: EventOf<K>) => boolean = () => true, timeoutMs = 3000): Promise<EventOf<K>> {
    const find = (): EventOf<K> | undefined => this.all(name).find(pred);
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const ev = find();
        if (ev === undefined) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(ev);
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`no '${name}' event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#listeners.add(check);
    });
  }
}

describe('AgentClient (against the ElevenLabs simulator)', function () {
  this.timeout(10_000);
  let sim: ElevenLabsSimulator;
  let clients: AgentClient[];

  beforeEach(async () => {
    clients = [];
    sim = await ElevenLabsSimulator.start({
      apiKey: API_KEY,
      defaults: {
        pingIntervalMs: 60_000,
        greeting: { freqHz: 440, durationMs: 300 },
        speedFactor: 'burst',
        llmLatencyMs: 10,
        interruptLatencyMs: 0,
        turnTimeoutMs: -1,
      },
    });
  });

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
  });

  async function connect(agentId: string, agent: SimAgentOptions = {}, opts: Partial<AgentConnectOptions> = {}): Promise<{ client: AgentClient; rec: Recorder; conv: SimConversation }> {
    sim.agent(agentId, agent);
    const url = opts.url ?? (await fetchSignedUrl({ apiUrl: sim.apiUrl, apiKey: API_KEY, agentId }));
    const client = await AgentClient.connect({ connectTimeoutMs: 2000, log, ...opts, url });
    clients.push(client);
    const rec = new Recorder(client);
    const conv = await sim.nextConversation();
    return { client, rec, conv };
  }

  async function connectError(p: Promise<unknown>): Promise<AgentConnectionError> {
    try {
      const c = await p;
      if (c instanceof AgentClient) clients.push(c);
    } catch (err) {
      assert.ok(err instanceof AgentConnectionError, `expected AgentConnectionError, got ${String(err)}`);
      return err;
    }
    assert.fail('expected the connect to fail');
  }

  describe('signed URL', () => {
    it('fetches a signed URL with the key and connects to a private agent', async () => {
      sim.agent('private', { requiresAuth: true });
      const url = await fetchSignedUrl({ apiUrl: sim.apiUrl, apiKey: API_KEY, agentId: 'private' });
      assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/v1\/convai\/conversation\?agent_id=private&conversation_signature=[\w-]+$/);
      assert.deepEqual(sim.httpRequests.map((r) => [r.path, r.status, r.hasValidApiKey]), [['/v1/convai/conversation/get-signed-url', 200, true]]);
      const { client } = await connect('private', {}, { url });
      assert.ok(client.isOpen);
    });

    it('without a key returns the public URL (http→ws, https→wss)', async () => {
      const url = await fetchSignedUrl({ apiUrl: sim.apiUrl, apiKey: undefined, agentId: 'pub lic' });
      assert.equal(url, sim.publicUrl('pub lic'));
      assert.equal(sim.httpRequests.length, 0);
      assert.equal(publicAgentUrl('https://api.elevenlabs.io/', 'a1'), 'wss://api.elevenlabs.io/v1/convai/conversation?agent_id=a1');
      const { client } = await connect('pub lic', {}, { url });
      assert.ok(client.isOpen);
    });

    it('maps 401 to AGENT_AUTH_FAILED without echoing the key', async () => {
      sim.agent('a1');
      const err = await connectError(fetchSignedUrl({ apiUrl: sim.apiUrl, apiKey: 'wrong-secret-key', agentId: 'a1' }));
      assert.equal(err.code, 'AGENT_AUTH_FAILED');
      assert.match(err.message, /401.*invalid_api_key/);
      assert.doesNotMatch(err.message + String(err.stack), /wrong-secret-key/);
      assert.equal(err.retryable, false);
    });

    it('maps 404 to AGENT_NOT_FOUND and a network failure to a retryable AGENT_SIGNED_URL_FAILED', async () => {
      const notFound = await connectError(fetchSignedUrl({ apiUrl: sim.apiUrl, apiKey: API_KEY, agentId: 'nobody' }));
      assert.equal(notFound.code, 'AGENT_NOT_FOUND');
      const closed = await ElevenLabsSimulator.start();
      const deadUrl = closed.apiUrl;
      await closed.close();
      const down = await connectError(fetchSignedUrl({ apiUrl: deadUrl, apiKey: API_KEY, agentId: 'a1' }));
      assert.equal(down.code, 'AGENT_SIGNED_URL_FAILED');
      assert.equal(down.retryable, true);
    });

    it('a private agent without signature is refused: close 1008 or HTTP 403', async () => {
      sim.agent('private', { requiresAuth: true });
      const closed = await connectError(AgentClient.connect({ url: sim.publicUrl('private'), connectTimeoutMs: 2000, log }));
      assert.equal(closed.code, 'AGENT_CLOSED_DURING_HANDSHAKE');
      assert.equal(closed.closeCode, 1008);

      const strict = await ElevenLabsSimulator.start({ badSignaturePolicy: 'reject-upgrade', unknownAgentPolicy: 'reject-upgrade' });
      try {
        strict.agent('private', { requiresAuth: true });
        const refused = await connectError(AgentClient.connect({ url: strict.publicUrl('private'), connectTimeoutMs: 2000, log }));
        assert.equal(refused.code, 'AGENT_AUTH_FAILED');
        const unknown = await connectError(AgentClient.connect({ url: strict.publicUrl('ghost'), connectTimeoutMs: 2000, log }));
        assert.equal(unknown.code, 'AGENT_NOT_FOUND');
      } finally {
        await strict.close();
      }
    });
  });

  describe('handshake', () => {
    it('resolves on metadata with the conversation id and both formats', async () => {
      const { client, conv } = await connect('a1', { inputFormat: 'pcm_22050', outputFormat: 'ulaw_8000' });
      assert.match(client.conversationId, /^conv_[0-9a-z]{26}$/);
      assert.equal(client.conversationId, conv.id);
      assert.equal(client.inputFormat, 'pcm_22050');
      assert.equal(client.outputFormat, 'ulaw_8000');
    });

    it('does not offer WebSocket compression, even to a server that would accept it (deflating each 20 ms frame costs ~20 times the CPU)', async () => {
      const compressing = await ElevenLabsSimulator.start({ acceptCompression: true });
      try {
        compressing.agent('deflate', {});
        const client = await AgentClient.connect({ url: compressing.publicUrl('deflate'), connectTimeoutMs: 2000, log });
        clients.push(client);
        const conv = await compressing.nextConversation();
        assert.equal(conv.offeredExtensions, undefined);
      } finally {
        await compressing.close();
      }
    });

    it('falls back to pcm_16000 input when metadata omits it', async () => {
      const { client } = await connect('legacy', { inputFormat: 'ulaw_8000', omitInputFormatInMetadata: true });
      assert.equal(client.inputFormat, 'pcm_16000');
    });

    it('ignores a non-metadata first message, answers an early ping, and still connects', async () => {
      const { client, conv } = await connect('odd', {
        injectBeforeMetadata: [{ type: 'vad_score', vad_score_event: { vad_score: 0.1 } }, { type: 'ping', ping_event: { event_id: 99, ping_ms: null } }],
      });
      assert.ok(client.isOpen);
      await conv.waitForFrame((f) => f.type === 'pong' && (f.data as { event_id: number }).event_id === 99);
      assert.equal(client.counters.sendsAfterClose, 0);
    });

    it('sends the initiation: overrides, dynamic variables and user id reach the server', async () => {
      const { conv, rec } = await connect(
        'ov',
        { allowedOverrides: ['agent.first_message', 'agent.prompt.prompt', 'agent.language', 'tts.voice_id'] },
        {
          initiation: {
            firstMessage: 'Hi {{name}}, calling about {{topic}}?',
            prompt: 'Be brief.',
            language: 'de',
            voiceId: 'voice-1',
            dynamicVariables: { name: 'Ada', topic: 'billing', vip: true },
            userId: '+4930123',
          },
        },
      );
      assert.deepEqual(conv.initiation, {
        type: 'conversation_initiation_client_data',
        conversation_config_override: {
          agent: { prompt: { prompt: 'Be brief.' }, first_message: 'Hi {{name}}, calling about {{topic}}?', language: 'de' },
          tts: { voice_id: 'voice-1' },
        },
        dynamic_variables: { name: 'Ada', topic: 'billing', vip: true },
        user_id: '+4930123',
      });
      assert.equal(conv.effective?.language, 'de');
      const greeting = await rec.next('transcript', (t) => t.role === 'agent');
      assert.equal(greeting.text, 'Hi Ada, calling about billing?');
      assert.equal(greeting.eventId, 1);
    });

    it('rejects with the close code when an override is not allowed (1008 override_error)', async () => {
      sim.agent('strict');
      const url = await fetchSignedUrl({ apiUrl: sim.apiUrl, apiKey: API_KEY, agentId: 'strict' });
      const err = await connectError(AgentClient.connect({ url, connectTimeoutMs: 2000, log, initiation: { firstMessage: 'Hello' } }));
      assert.equal(err.code, 'AGENT_CLOSED_DURING_HANDSHAKE');
      assert.equal(err.closeCode, 1008);
      assert.match(err.message, /override_error/);
      assert.match(err.message, /agent\.first_message/);
    });

    it('rejects when a required dynamic variable is missing (1008 missing_dynamic_variable)', async () => {
      sim.agent('vars', { firstMessage: 'Hello {{customer_name}}' });
      const err = await connectError(AgentClient.connect({ url: sim.publicUrl('vars'), connectTimeoutMs: 2000, log }));
      assert.equal(err.closeCode, 1008);
      assert.match(err.message, /missing_dynamic_variable/);
    });

    it('times out when the server never sends metadata, and terminates the socket', async () => {
      sim.agent('silent', { metadataDelayMs: Infinity });
      const started = Date.now();
      const err = await connectError(AgentClient.connect({ url: sim.publicUrl('silent'), connectTimeoutMs: 200, log }));
      assert.equal(err.code, 'AGENT_HANDSHAKE_TIMEOUT');
      assert.equal(err.retryable, true);
      assert.ok(Date.now() - started < 1500);
      const conv = await sim.nextConversation();
      const closed = await conv.closed;
      assert.equal(closed.code, 1006, 'terminate() sends no close frame');
    });

    it('honours an AbortSignal during connect and before it', async () => {
      sim.agent('slow', { metadataDelayMs: Infinity });
      const ac = new AbortController();
      const pending = AgentClient.connect({ url: sim.publicUrl('slow'), connectTimeoutMs: 5000, log, signal: ac.signal });
      const conv = await sim.nextConversation();
      ac.abort(new Error('caller hung up'));
      const err = await connectError(pending);
      assert.equal(err.code, 'AGENT_CONNECT_ABORTED');
      await conv.closed;

      const before = await connectError(AgentClient.connect({ url: sim.publicUrl('slow'), connectTimeoutMs: 5000, log, signal: AbortSignal.abort() }));
      assert.equal(before.code, 'AGENT_CONNECT_ABORTED');
      assert.equal(sim.conversations.length, 1, 'no socket opened for an already-aborted signal');
    });

    it('fails fast with AGENT_CONNECT_FAILED when nothing listens', async () => {
      const gone = await ElevenLabsSimulator.start();
      const url = gone.publicUrl('a1');
      await gone.close();
      const err = await connectError(AgentClient.connect({ url, connectTimeoutMs: 2000, log }));
      assert.equal(err.code, 'AGENT_CONNECT_FAILED');
      assert.equal(err.retryable, true);
    });
  });

  describe('conversation', () => {
    it('answers every ping with a pong carrying its event id', async () => {
      const { client, rec, conv } = await connect('pinger', { pingIntervalMs: 20 });
      await waitFor(() => conv.pongs.length >= 3, { what: '3 pongs' });
      const pingIds = conv.framesOf('ping', 'out').map((f) => ((f.data as { ping_event: { event_id: number } }).ping_event.event_id));
      const pongIds = conv.framesOf('pong', 'in').map((f) => (f.data as { event_id: number }).event_id);
      assert.deepEqual(pongIds, pingIds.slice(0, pongIds.length));
      const pings = rec.all('ping');
      assert.equal(pings[0]?.rttMs, null, 'first ping has no RTT estimate');
      assert.equal(typeof pings[1]?.rttMs, 'number');
      assert.ok(client.counters.pongsSent >= 3);
    });

    it('emits greeting audio decoded, complete, in the output format, even when it arrives with the metadata', async () => {
      for (const format of ['pcm_16000', 'ulaw_8000', 'pcm_44100'] as const) {
        const { client, rec, conv } = await connect(`fmt-${format}`, { outputFormat: format, greeting: { freqHz: 440, durationMs: 400 } });
        const turn = await new Promise<void>((resolve) => (conv.agentTurns[0]?.isComplete === true ? resolve() : conv.once('agentTurn', () => resolve())));
        void turn;
        const expectedChunks = conv.agentTurns[0]!.chunksSent;
        await waitFor(() => rec.all('audio').length === expectedChunks, { what: `${expectedChunks} audio events` });
        const audio = rec.all('audio');
        assert.ok(audio.every((a) => a.eventId === 1 && a.format === format));
        const bytes = Buffer.concat(audio.map((a) => Buffer.from(a.base64, 'base64')));
        assert.equal(bytes.length, conv.agentTurns[0]!.bytesSent);
        const rate = format === 'ulaw_8000' ? 8000 : Number(format.split('_')[1]);
        const freq = estimateFrequencyHz(decodeBytes(bytes, format), rate);
        assert.ok(Math.abs(freq - 440) < 3, `${format}: ${freq} Hz`);
        assert.equal(client.counters.audioChunksIn, expectedChunks);
        await client.close();
      }
    });

    it('holds events until resumeEvents() when asked to, answering pings meanwhile', async () => {
      const { client, conv } = await connect('held', { pingIntervalMs: 20 }, { holdEvents: true });
      await waitFor(() => conv.agentTurns[0]?.isComplete === true && client.counters.audioChunksIn === conv.agentTurns[0].chunksSent, {
        what: 'greeting received',
      });
      await waitFor(() => conv.pongs.length >= 2, { what: 'pongs while held' });
      const rec = new Recorder(client); // attached late, after several awaits
      assert.equal(rec.events.length, 0);
      client.resumeEvents();
      client.resumeEvents();
      assert.equal(rec.all('audio').length, conv.agentTurns[0]!.chunksSent);
      assert.equal(rec.all('transcript')[0]?.text, 'Hello! How can I help you today?');
      assert.ok(rec.all('ping').length >= 2);
    });

    it('applies the interruption watermark: stale chunks dropped, the reply with the same id kept', async () => {
      const { client, rec, conv } = await connect('barge', {
        greeting: { freqHz: 440, durationMs: 3000 },
        speedFactor: 1,
        chunkMs: 50,
        lateStaleChunks: 3,
        reply: () => ({ text: 'Reply after barge-in', freqHz: 660, durationMs: 200 }),
      });
      await rec.next('audio');
      const interruptId = await conv.interrupt({ transcript: 'stop' });
      assert.equal(interruptId, 2);
      const interruption = await rec.next('interruption');
      assert.deepEqual(interruption, { eventId: 2, watermark: 2 });
      await rec.next('transcript', (t) => t.role === 'agent' && t.eventId === 2);
      await waitFor(() => conv.agentTurns[1]?.isComplete === true, { what: 'reply sent' });
      await waitFor(() => rec.all('audio').filter((a) => a.eventId === 2).length === conv.agentTurns[1]!.chunksSent, { what: 'reply audio' });

      assert.equal(conv.counters.staleChunksSent, 3);
      assert.equal(client.counters.staleChunksDropped, 3);
      assert.equal(client.watermark, 2);
      const cut = rec.indexOf('interruption');
      const after = rec.events.slice(cut).filter((e) => e.name === 'audio').map((e) => e.ev as EventOf<'audio'>);
      assert.ok(after.length > 0 && after.every((a) => a.eventId === 2), 'after the interruption only the new turn plays');
      const replyFreq = estimateFrequencyHz(decodeBytes(Buffer.concat(after.map((a) => Buffer.from(a.base64, 'base64'))), 'pcm_16000'), 16000);
      assert.ok(Math.abs(replyFreq - 660) < 3, `${replyFreq} Hz`);
      assert.equal(rec.all('transcript').find((t) => t.role === 'user')?.text, 'stop');
    });

    it('reports agent_response_correction as a correction', async () => {
      const { rec, conv } = await connect('corr', {
        greeting: { freqHz: 440, durationMs: 2000 },
        firstMessage: 'one two three four five six seven eight',
        speedFactor: 1,
        clientEvents: ['audio', 'interruption', 'agent_response', 'agent_response_correction', 'user_transcript', 'ping'],
      });
      await rec.next('audio');
      await conv.interrupt();
      const corr = await rec.next('transcript', (t) => t.isCorrection);
      assert.equal(corr.role, 'agent');
      assert.equal(corr.eventId, 1);
      assert.equal(corr.originalText, 'one two three four five six seven eight');
      assert.ok(corr.text.length < corr.originalText!.length);
    });

    it('emits user and agent transcripts for a turn', async () => {
      const { rec, conv } = await connect('talk');
      const turn = conv.userSays('I need help with my bill');
      const user = await rec.next('transcript', (t) => t.role === 'user');
      assert.deepEqual(user, { role: 'user', text: 'I need help with my bill', eventId: turn.eventId, isCorrection: false });
      const agent = await rec.next('transcript', (t) => t.role === 'agent' && t.eventId === turn.eventId);
      assert.equal(agent.text, 'You said: I need help with my bill');
    });

    it('end_call: goodbye audio, agent_tool_response end_call, then close 1000 while audio is still unplayed', async () => {
      const { rec, conv } = await connect('bye', { speedFactor: 4, goodbye: { text: 'Goodbye!', freqHz: 880, durationMs: 1000 } });
      await conv.endCall();
      const close = await rec.next('close');
      assert.equal(close.code, 1000);
      assert.equal(close.initiatedBy, 'agent');
      const tool = rec.all('agentToolResponse')[0];
      assert.ok(tool?.isEndCall);
      const goodbye = conv.agentTurns.find((t) => t.kind === 'goodbye')!;
      assert.equal(tool.eventId, goodbye.eventId);
      const audioIdx = rec.events.map((e, i) => (e.name === 'audio' && (e.ev as EventOf<'audio'>).eventId === goodbye.eventId ? i : -1)).filter((i) => i >= 0);
      assert.equal(audioIdx.length, goodbye.chunksSent, 'every goodbye chunk delivered');
      assert.ok(Math.max(...audioIdx) < rec.indexOf('agentToolResponse'));
      assert.ok(rec.indexOf('agentToolResponse') < rec.indexOf('close'));
      assert.ok(conv.closeInfo!.atMs < goodbye.playbackEndAtMs, 'server closed before the client could have played the goodbye');
      assert.equal(rec.all('close').length, 1);
    });

    const closeCases = [
      { name: '1002 quota, flat error frame', preset: 'quota', shape: 'flat', code: 1002, errorType: undefined },
      { name: '1002 quota, no error frame', preset: 'quota', shape: 'none', code: 1002, errorType: undefined },
      { name: '1008 invalid message, nested error frame', preset: 'invalidMessage', shape: 'nested', code: 1008, errorType: 'invalid_message' },
      { name: '1011 internal, nested error frame', preset: 'internal', shape: 'nested', code: 1011, errorType: 'unknown_websocket_crash' },
      { name: '1011 internal, no error frame', preset: 'internal', shape: 'none', code: 1011, errorType: undefined },
    ] as const;
    for (const c of closeCases) {
      it(`surfaces ${c.name}`, async () => {
        const { client, rec, conv } = await connect('failing');
        await conv.fail(c.preset, c.shape);
        const close = await rec.next('close');
        assert.equal(close.code, c.code);
        assert.equal(close.initiatedBy, 'agent');
        assert.ok(close.reason.length > 0);
        if (c.shape === 'none') {
          assert.equal(close.lastError, undefined);
          assert.equal(rec.all('agentError').length, 0);
        } else {
          assert.equal(close.lastError?.shape, c.shape);
          assert.equal(close.lastError?.code, c.code);
          assert.equal(close.lastError?.errorType, c.errorType);
          assert.ok(rec.indexOf('agentError') < rec.indexOf('close'));
        }
        assert.equal(client.isOpen, false);
      });
    }

    it('surfaces an abrupt TCP drop as 1006 from the network', async () => {
      const { rec, conv } = await connect('dropper');
      await conv.drop();
      const close = await rec.next('close');
      assert.equal(close.code, 1006);
      assert.equal(close.initiatedBy, 'network');
    });

    it('reports error frames in both shapes without assuming a close follows', async () => {
      const { client, rec, conv } = await connect('errs');
      conv.sendRaw({ type: 'error', message: 'received 1002 (protocol error) This request exceeds your quota limit.' });
      conv.sendRaw({ type: 'error', error_event: { code: 1002, message: 'LLM response took too long', error_type: 'llm_timeout' } });
      await waitFor(() => rec.all('agentError').length === 2, { what: '2 errors' });
      assert.deepEqual(rec.all('agentError'), [
        { shape: 'flat', message: 'received 1002 (protocol error) This request exceeds your quota limit.', code: 1002, errorType: undefined },
        { shape: 'nested', message: 'LLM response took too long', code: 1002, errorType: 'llm_timeout' },
      ]);
      assert.ok(client.isOpen);
    });

    it('closes 1002 transport_receive_timeout when the client sends nothing, and 1000 on max duration', async () => {
      const idle = await connect('idle', { inputTimeoutMs: 150 });
      const c1 = await idle.rec.next('close');
      assert.equal(c1.code, 1002);
      assert.equal(c1.lastError?.errorType, 'transport_receive_timeout');

      const long = await connect('long', { maxDurationS: 0.2 });
      const c2 = await long.rec.next('close');
      assert.equal(c2.code, 1000);
      assert.equal(c2.lastError?.errorType, 'max_duration_exceeded');
    });

    it('tolerates unknown and malformed server messages', async () => {
      const { client, rec, conv } = await connect('noisy', { pingIntervalMs: 60_000 });
      conv.sendRaw({ type: 'internal_turn_probability', turn_probability_internal_event: { turn_probability: 0.8 } });
      conv.sendRaw('this is not json');
      conv.sendRaw({ type: 'audio', audio_event: { event_id: 5 } });
      conv.sendRaw({ type: 'audio', audio_event: { event_id: '7', audio_base_64: 'AAABAA==' } });
      const stringId = await rec.next('audio', (a) => a.eventId === 7);
      assert.deepEqual([...Buffer.from(stringId.base64, 'base64')], [0, 0, 1, 0]);
      assert.equal(stringId.byteLength, 4);
      const pong = await conv.ping();
      assert.ok(pong !== undefined, 'still answering pings');
      assert.equal(client.counters.unknownMessages, 1);
      assert.equal(client.counters.protocolErrors, 2);
      assert.ok(client.isOpen);
    });

    it('sends caller audio and text messages in the agent input format', async () => {
      const { client, conv } = await connect('ears', { inputFormat: 'ulaw_8000', firstMessage: '' });
      const tone = encodeSamples(synthTone({ freqHz: 300, durationMs: 500 }, 8000), 'ulaw_8000');
      for (let at = 0; at < tone.length; at += 160) assert.ok(client.sendAudio(tone.subarray(at, at + 160)));
      assert.ok(client.sendContextualUpdate('caller is in the billing queue'));
      assert.ok(client.sendUserActivity());
      await waitFor(() => conv.framesOf('user_activity', 'in').length === 1, { what: 'user_activity' });
      assert.equal(conv.counters.audioBytesIn, tone.length);
      assert.equal(client.counters.audioBytesOut, tone.length);
      assert.equal(client.counters.audioChunksOut, 25);
      const freq = estimateFrequencyHz(conv.userAudio(), 8000);
      assert.ok(Math.abs(freq - 300) < 3, `${freq} Hz`);
      assert.deepEqual(conv.contextualUpdates, ['caller is in the billing queue']);
      assert.ok(client.sendUserMessage('what are your hours?'));
      await waitFor(() => conv.userMessages.length === 1, { what: 'user message' });
      assert.deepEqual(conv.userMessages, ['what are your hours?']);
    });

    it('runs a client tool call round trip', async () => {
      const { client, rec, conv } = await connect('tools');
      client.on('clientToolCall', (call) => {
        client.sendToolResult(call.toolCallId, JSON.stringify({ balance: 42, params: call.parameters }));
      });
      const result = await conv.callClientTool('get_balance', { account: 'A-1' });
      assert.deepEqual(result && { ...result, toolCallId: '' }, { toolCallId: '', result: '{"balance":42,"params":{"account":"A-1"}}', isError: false });
      assert.equal(rec.all('clientToolCall')[0]?.toolName, 'get_balance');
      assert.equal(rec.all('clientToolCall')[0]?.expectsResponse, true);
    });

    describe('MCP approvals, context usage and guardrails', () => {
      const events: SimAgentOptions['clientEvents'] = ['audio', 'interruption', 'agent_response', 'user_transcript', 'ping', 'mcp_tool_call', 'context_usage', 'guardrail_triggered'];

      it('denies an MCP tool call awaiting approval by default, at once, and the agent goes on', async () => {
        const { client, rec, conv } = await connect('mcp-deny', { clientEvents: events });
        const answer = await conv.requestMcpApproval('delete_account', { approvalTimeoutSecs: 5, parameters: { id: 'A-1' } });
        assert.equal(answer, false);
        const report = await rec.next('mcpToolCall', (e) => e.state === 'awaiting_approval');
        assert.equal(report.toolName, 'delete_account');
        assert.equal(report.decision, 'denied');
        // The agent was not left waiting: it said it could not, in its next line.
        await rec.next('transcript', (t) => t.role === 'agent' && t.text === 'Sorry, I could not use delete_account.');
        await rec.next('mcpToolCall', (e) => e.state === 'failure');
        assert.equal(rec.all('mcpToolCall').find((e) => e.state === 'failure')?.decision, null);
        assert.equal(client.counters.mcpApprovalsAnswered, 1);
        assert.deepEqual(conv.mcpApprovals.map((a) => a.isApproved), [false]);
      });

      it('approves it with MCP_APPROVAL=auto', async () => {
        const { rec, conv } = await connect('mcp-auto', { clientEvents: events }, { mcpApproval: 'auto' });
        assert.equal(await conv.requestMcpApproval('lookup_order', { approvalTimeoutSecs: 5 }), true);
        assert.equal((await rec.next('mcpToolCall', (e) => e.state === 'awaiting_approval')).decision, 'approved');
        await rec.next('transcript', (t) => t.role === 'agent' && t.text === 'Done: lookup_order.');
      });

      it('answers an approval even while events are held', async () => {
        const { client, conv } = await connect('mcp-held', { clientEvents: events }, { holdEvents: true });
        const seen: string[] = [];
        client.on('mcpToolCall', (e) => seen.push(e.decision ?? 'none'));
        assert.equal(await conv.requestMcpApproval('t', { approvalTimeoutSecs: 5 }), false);
        assert.deepEqual(seen, []);
        client.resumeEvents();
        assert.deepEqual(seen.slice(0, 1), ['denied']);
      });

      it('reports context usage and guardrails, and counts them', async () => {
        const { client, rec, conv } = await connect('signals', { clientEvents: events });
        assert.ok(conv.reportContextUsage(1200, 8000));
        assert.ok(conv.triggerGuardrail());
        assert.deepEqual(await rec.next('contextUsage'), { model: 'sim-llm', contextTokens: 1200, contextLimitTokens: 8000 });
        // The event carries nothing, so look for its occurrence rather than a value.
        await waitFor(() => rec.indexOf('guardrailTriggered') >= 0, { what: 'guardrailTriggered' });
        assert.equal(client.counters.contextUsageReports, 1);
        assert.equal(client.counters.guardrailTriggers, 1);
        assert.equal(client.counters.unknownMessages, 0);
      });
    });

    it('terminates when protocol-level pongs stop (liveness)', async () => {
      const { rec, conv } = await connect('hung', {}, { livenessIntervalMs: 50 });
      conv.stall();
      const close = await rec.next('close');
      assert.equal(close.code, 1006);
      assert.equal(close.initiatedBy, 'network');
      assert.equal(close.reason, 'liveness timeout');
    });

    it('ends the socket as a network failure once the agent stops reading and the send buffer passes its cap', async () => {
      const maxSendBufferBytes = 256 * 1024;
      const { client, rec, conv } = await connect('not-reading', {}, { maxSendBufferBytes });
      conv.stall();
      const chunk = Buffer.alloc(640, 7); // 20 ms of pcm_16000
      let sentBytes = 0;
      // The kernel's buffers on both sides take a few MB first; the guard only stops a broken cap.
      const guardBytes = 256 * 1024 * 1024;
      while (client.sendAudio(chunk) && sentBytes < guardBytes) sentBytes += chunk.length;
      assert.ok(sentBytes < guardBytes, `still sending after ${sentBytes} bytes: the cap never ended the socket`);
      const close = await rec.next('close');
      assert.equal(close.initiatedBy, 'network');
      assert.equal(close.reason, 'send buffer full');
    });
  });

  describe('close', () => {
    it('is idempotent, emits close once, and turns later sends into counted no-ops', async () => {
      const { client, rec, conv } = await connect('closer');
      const p1 = client.close();
      const p2 = client.close(4000, 'other');
      assert.equal(p1, p2);
      await p1;
      await client.close();
      assert.equal(rec.all('close').length, 1);
      assert.deepEqual(rec.all('close')[0], { code: 1000, reason: 'User ended conversation', initiatedBy: 'client', lastError: undefined });
      const serverSide = await conv.closed;
      assert.deepEqual([serverSide.code, serverSide.reason, serverSide.initiatedBy], [1000, 'User ended conversation', 'client']);
      assert.equal(client.sendAudio(Buffer.alloc(320)), false);
      assert.equal(client.sendUserMessage('late'), false);
      assert.equal(client.counters.sendsAfterClose, 2);
      assert.equal(client.isOpen, false);
    });

    it('terminates when the server does not answer the close handshake in time', async () => {
      const { client, rec, conv } = await connect('mute', {}, { closeTimeoutMs: 100 });
      conv.stall();
      const started = Date.now();
      await client.close();
      assert.ok(Date.now() - started < 1000);
      const close = await rec.next('close');
      assert.equal(close.code, 1006);
      assert.equal(close.initiatedBy, 'client');
    });

    it('close() after the agent already closed resolves at once', async () => {
      const { client, rec, conv } = await connect('gone');
      await conv.closeWith(1000, '');
      await rec.next('close');
      await client.close();
      assert.equal(rec.all('close').length, 1);
      assert.equal(rec.all('close')[0]?.initiatedBy, 'agent');
    });
  });
});
