import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import Hapi, { type Server } from '@hapi/hapi';
import pino from 'pino';
import { SSE_MAX_BUFFERED_BYTES, eventRoutes } from '../../src/api/routes/events';
import { createServer } from '../../src/api/server';
import { CallEventBus, type SequencedCallEvent } from '../../src/events/call-events';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { FakeCallApi } from '../fakes/fake-call-api';
import { waitFor } from '../helpers/wait-for';

const TOKEN = 'tok_live_0123456789abcdef';
const CALL_A = '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42';
const CALL_B = '9a4d4c55-8d2e-4b6a-8c1f-9e423f0c7b1e';
const AT = '2025-03-01T10:00:00.000Z';

/** A raw SSE client over node:http: collects frames ("…\n\n" blocks) as they arrive. */
class SseClient {
  readonly frames: string[] = [];
  #buffer = '';
  #waiters: (() => void)[] = [];

  private constructor(
    readonly request: ClientRequest,
    readonly response: IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end: number;
      while ((end = this.#buffer.indexOf('\n\n')) !== -1) {
        this.frames.push(this.#buffer.slice(0, end));
        this.#buffer = this.#buffer.slice(end + 2);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const request = http.get(url, { headers: { accept: 'text/event-stream', 'accept-encoding': 'gzip, deflate', ...headers } });
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    return new SseClient(request, response);
  }

  /** Wait for a frame satisfying `match`, at most `timeoutMs`. */
  async waitForFrame(match: (frame: string) => boolean, timeoutMs = 2000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SSE frame; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Events (data frames) received so far. */
  events(): SequencedCallEvent[] {
    return this.frames
      .map((f) => /^id: (\d+)\ndata: (.*)$/s.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => {
        const event = JSON.parse(m[2] ?? '') as SequencedCallEvent;
        assert.equal(String(event.seq), m[1], 'SSE id is the event seq');
        return event;
      });
  }

  close(): void {
    this.request.destroy();
  }
}

describe('GET /api/events (SSE on a real listening server)', () => {
  let bus: CallEventBus;
  let server: Server;
  let base: string;
  const clients: SseClient[] = [];

  const connect = async (path = '/api/events', headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<SseClient> => {
    const client = await SseClient.open(`${base}${path}`, headers);
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    const log = pino({ level: 'silent' });
    bus = new CallEventBus(log);
    server = await createServer({
      host: '127.0.0.1',
      port: 0,
      calls: new FakeCallApi(),
      log,
      version: 'test',
      apiTokens: [TOKEN],
      events: bus,
      eventsHeartbeatMs: 50,
      eventStreamsPerTokenMax: 10,
    });
    await server.start();
    base = `http://127.0.0.1:${server.info.port}`;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.stop({ timeout: 1000 });
  });

  it('streams events with SSE headers, ids and heartbeats; disconnecting leaves no subscriber behind', async () => {
    const client = await connect();
    assert.equal(client.response.statusCode, 200);
    assert.equal(client.response.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.response.headers['content-encoding'], undefined, 'SSE must not be compressed');
    assert.equal(client.response.headers['cache-control'], 'no-store, no-transform');
    await client.waitForFrame((f) => f.startsWith('retry: 3000'));
    assert.equal(bus.subscriberCount, 1);

    bus.publish({ type: 'dialing', call_id: CALL_A, at: AT, direction: 'outbound', phone_number: '+14155550123' });
    bus.publish({ type: 'transcript', call_id: CALL_A, at: AT, role: 'user', text: 'line one\nline two\r\n"quoted" \u2028' });
    bus.publish({ type: 'interruption', call_id: CALL_A, at: AT });
    await client.waitForFrame((f) => f.includes('"interruption"'));
    await client.waitForFrame((f) => f === ': heartbeat');
    assert.deepEqual(
      client.events().map(({ type, seq }) => [type, seq]),
      [
        ['dialing', 1],
        ['transcript', 2],
        ['interruption', 3],
      ],
    );
    const transcript = client.events()[1];
    assert.equal(transcript?.type === 'transcript' ? transcript.text : undefined, 'line one\nline two\r\n"quoted" \u2028');

    client.close();
    await waitFor(() => bus.subscriberCount === 0, { what: 'subscription cancelled after disconnect' });
    // The bus keeps working with nobody listening.
    bus.publish({ type: 'interruption', call_id: CALL_A, at: AT });
  });

  it('?call_id filters to one call', async () => {
    const onlyB = await connect(`/api/events?call_id=${CALL_B.toUpperCase()}`);
    const all = await connect();
    await onlyB.waitForFrame((f) => f.startsWith('retry:'));
    bus.publish({ type: 'ringing', call_id: CALL_A, at: AT });
    bus.publish({ type: 'ringing', call_id: CALL_B, at: AT });
    await all.waitForFrame((f) => f.includes(CALL_B));
    await onlyB.waitForFrame((f) => f.includes(CALL_B));
    assert.deepEqual(onlyB.events().map((e) => e.call_id), [CALL_B]);
    assert.deepEqual(all.events().map((e) => e.call_id), [CALL_A, CALL_B]);
  });

  it('auth: 401 JSON without a token; ?access_token is accepted here (EventSource cannot send headers)', async () => {
    const refused = await connect('/api/events', {});
    assert.equal(refused.response.statusCode, 401);
    assert.match(String(refused.response.headers['content-type']), /^application\/json/);
    const wrong = await connect('/api/events?access_token=tok_live_wrong_token_000', {});
    assert.equal(wrong.response.statusCode, 401);
    const viaQuery = await connect(`/api/events?access_token=${TOKEN}`, {});
    assert.equal(viaQuery.response.statusCode, 200);
    await viaQuery.waitForFrame((f) => f.startsWith('retry:'));
    assert.equal(bus.subscriberCount, 1);
  });

  it('a bad call_id → 400 naming it; no subscription is made', async () => {
    const request = http.get(`${base}/api/events?call_id=nope`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    assert.equal(response.statusCode, 400);
    let text = '';
    for await (const chunk of response.setEncoding('utf8')) text += String(chunk);
    const body = JSON.parse(text) as { validation: { keys: string[] } };
    assert.deepEqual(body.validation.keys, ['call_id']);
    assert.equal(bus.subscriberCount, 0);
  });

  it('server.stop() ends open streams at once and releases their subscriptions', async () => {
    const clientA = await connect();
    const clientB = await connect(`/api/events?call_id=${CALL_A}`);
    await clientA.waitForFrame((f) => f.startsWith('retry:'));
    await clientB.waitForFrame((f) => f.startsWith('retry:'));
    assert.equal(bus.subscriberCount, 2);
    const ended = Promise.all([once(clientA.response, 'end'), once(clientB.response, 'end')]);
    const startedMs = Date.now();
    await server.stop({ timeout: 5000 });
    await ended;
    assert.ok(Date.now() - startedMs < 1000, `stop took ${Date.now() - startedMs} ms`);
    assert.equal(bus.subscriberCount, 0);
  });

  it('many clients connecting and leaving leave nothing behind', async () => {
    for (let round = 0; round < 3; round++) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => connect()));
      await Promise.all(batch.map((c) => c.waitForFrame((f) => f.startsWith('retry:'))));
      assert.equal(bus.subscriberCount, 10);
      for (const c of batch) c.close();
      await waitFor(() => bus.subscriberCount === 0, { what: 'all subscriptions cancelled' });
    }
  });

  it('a client that stops reading is disconnected once its 64 KiB backlog is exceeded, and counted', async () => {
    assert.equal(SSE_MAX_BUFFERED_BYTES, 64 * 1024);
    const slowBus = new CallEventBus(pino({ level: 'silent' }));
    const bare = Hapi.server({ host: '127.0.0.1', port: 0 });
    const metrics = new GatewayMetrics({ isDefaultMetricsEnabled: false });
    const events = eventRoutes({ bus: slowBus, log: pino({ level: 'silent' }), metrics });
    bare.route(events.routes);
    await bare.start();
    try {
      const client = await SseClient.open(`http://127.0.0.1:${bare.info.port}/api/events`);
      clients.push(client);
      client.response.pause(); // stop reading: the socket and then our buffer fill up
      const text = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 2000 && slowBus.subscriberCount > 0; i++) {
        slowBus.publish({ type: 'transcript', call_id: CALL_A, at: AT, role: 'agent', text });
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(slowBus.subscriberCount, 0, 'slow client still subscribed');
      assert.equal(events.openStreams, 0);
      assert.equal(events.slowClientsDropped, 1);
      const exposition = await metrics.render();
      assert.match(exposition, /^voice_gateway_event_stream_slow_disconnects_total 1$/m);
      assert.match(exposition, /^voice_gateway_event_streams_open 0$/m);
    } finally {
      await bare.stop({ timeout: 1000 });
    }
  });

  describe('caps (EVENT_STREAMS_MAX, EVENT_STREAMS_PER_TOKEN_MAX)', () => {
    const OTHER_TOKEN = 'tok_live_fedcba9876543210';
    let capped: Server;
    let cappedBase: string;
    let metrics: GatewayMetrics;

    beforeEach(async () => {
      const log = pino({ level: 'silent' });
      metrics = new GatewayMetrics({ isDefaultMetricsEnabled: false });
      capped = await createServer({
        host: '127.0.0.1',
        port: 0,
        calls: new FakeCallApi(),
        log,
        version: 'test',
        apiTokens: [TOKEN, OTHER_TOKEN],
        events: bus,
        metrics,
        eventStreamsMax: 3,
        eventStreamsPerTokenMax: 2,
      });
      await capped.start();
      cappedBase = `http://127.0.0.1:${capped.info.port}`;
    });
    afterEach(async () => {
      for (const client of clients.splice(0)) client.close();
      await capped.stop({ timeout: 1000 });
    });

    const open = async (token: string, viaQuery = false): Promise<SseClient> => {
      const client = viaQuery
        ? await SseClient.open(`${cappedBase}/api/events?access_token=${token}`)
        : await SseClient.open(`${cappedBase}/api/events`, { authorization: `Bearer ${token}` });
      clients.push(client);
      return client;
    };
    const bodyOf = async (client: SseClient): Promise<{ code: string; message: string }> => {
      let text = '';
      for await (const chunk of client.response) text += String(chunk);
      return JSON.parse(text) as { code: string; message: string };
    };

    it('per token: the third stream of a token → 503 with Retry-After and TOO_MANY_EVENT_STREAMS_FOR_TOKEN; another token still gets one', async () => {
      const first = await open(TOKEN);
      await first.waitForFrame((f) => f.startsWith('retry:'));
      const second = await open(TOKEN, true); // ?access_token= counts for the same token
      await second.waitForFrame((f) => f.startsWith('retry:'));
      const third = await open(TOKEN);
      assert.equal(third.response.statusCode, 503);
      assert.equal(third.response.headers['retry-after'], '5');
      const body = await bodyOf(third);
      assert.equal(body.code, 'TOO_MANY_EVENT_STREAMS_FOR_TOKEN');
      assert.match(body.message, /already has 2 event streams open/);
      assert.equal(bus.subscriberCount, 2, 'the refused stream subscribed to nothing');
      const other = await open(OTHER_TOKEN);
      assert.equal(other.response.statusCode, 200);
      assert.match(await metrics.render(), /^voice_gateway_event_streams_refused_total\{limit="per_token"\} 1$/m);
    });

    it('in total: beyond EVENT_STREAMS_MAX → 503 TOO_MANY_EVENT_STREAMS; once one closes, a new stream is admitted', async () => {
      const streams = [await open(TOKEN), await open(TOKEN), await open(OTHER_TOKEN)];
      await Promise.all(streams.map((c) => c.waitForFrame((f) => f.startsWith('retry:'))));
      const refused = await open(OTHER_TOKEN);
      assert.equal(refused.response.statusCode, 503);
      assert.equal(refused.response.headers['retry-after'], '5');
      const body = await bodyOf(refused);
      assert.equal(body.code, 'TOO_MANY_EVENT_STREAMS');
      assert.match(body.message, /at most 3 event streams/);
      assert.match(await metrics.render(), /^voice_gateway_event_streams_open 3$/m);

      streams[2]?.close();
      await waitFor(() => bus.subscriberCount === 2, { what: 'the closed stream released' });
      const again = await open(OTHER_TOKEN);
      assert.equal(again.response.statusCode, 200);
      await again.waitForFrame((f) => f.startsWith('retry:'));
      assert.match(await metrics.render(), /^voice_gateway_event_streams_refused_total\{limit="total"\} 1$/m);
    });
  });

  it('each event is serialised once, however many clients receive it', async () => {
    const fanBus = new CallEventBus(pino({ level: 'silent' }));
    const bare = Hapi.server({ host: '127.0.0.1', port: 0, compression: false }); // createServer turns gzip off for SSE
    const events = eventRoutes({ bus: fanBus, log: pino({ level: 'silent' }), maxStreamsPerClient: 10 });
    bare.route(events.routes);
    await bare.start();
    try {
      const fans = await Promise.all(Array.from({ length: 5 }, () => SseClient.open(`http://127.0.0.1:${bare.info.port}/api/events`)));
      clients.push(...fans);
      await Promise.all(fans.map((c) => c.waitForFrame((f) => f.startsWith('retry:'))));
      fanBus.publish({ type: 'ringing', call_id: CALL_A, at: AT });
      fanBus.publish({ type: 'answered', call_id: CALL_A, at: AT });
      fanBus.publish({ type: 'transcript', call_id: CALL_A, at: AT, role: 'agent', text: 'hello' });
      await Promise.all(fans.map((c) => c.waitForFrame((f) => f.includes('"transcript"'))));
      for (const fan of fans) assert.deepEqual(fan.events().map((e) => e.seq), [1, 2, 3]);
      assert.equal(events.framesSerialised, 3);
    } finally {
      for (const client of clients.splice(0)) client.close();
      await bare.stop({ timeout: 1000 });
    }
  });
});
