import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import Hapi, { type Server } from '@hapi/hapi';
import pino from 'pino';
import { eventRoutes } from '../../src/api/routes/events';
import { createServer } from '../../src/api/server';
import { CallEventBus, type SequencedCallEvent } from '../../src/events/call-events';
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

  it('a client that stops reading is disconnected once its buffer passes the limit', async () => {
    const slowBus = new CallEventBus(pino({ level: 'silent' }));
    const bare = Hapi.server({ host: '127.0.0.1', port: 0 });
    const events = eventRoutes({ bus: slowBus, log: pino({ level: 'silent' }), maxBufferedBytes: 64 * 1024 });
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
    } finally {
      await bare.stop({ timeout: 1000 });
    }
  });
});
