import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Server } from '@hapi/hapi';
import pino from 'pino';
import { DEFAULT_HTTP_LIMITS } from '../../src/api/http-listener';
import { EVENTS_PATH } from '../../src/api/routes/events';
import { createServer, SOCKET_IDLE_TIMEOUT_MS, type ServerOptions } from '../../src/api/server';
import { CallEventBus } from '../../src/events/call-events';
import { FakeCallApi } from '../fakes/fake-call-api';
import { waitFor } from '../helpers/wait-for';

/** Frames of an SSE response as they arrive; `next(match)` resolves with the next matching one. */
function frames(response: IncomingMessage): { next(match: (frame: string) => boolean): Promise<string>; count: () => number } {
  let buffer = '';
  let seen = 0;
  const waiters: { match: (f: string) => boolean; resolve: (f: string) => void }[] = [];
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      seen += 1;
      for (const waiter of waiters.splice(0)) {
        if (waiter.match(frame)) waiter.resolve(frame);
        else waiters.push(waiter);
      }
    }
  });
  return {
    next: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
    count: () => seen,
  };
}

describe('HTTP listener limits (real server)', () => {
  let bus: CallEventBus;
  let server: Server | undefined;
  let port: number;
  const requests: http.ClientRequest[] = [];

  const start = async (options: Partial<ServerOptions> = {}): Promise<Server> => {
    const log = pino({ level: 'silent' });
    bus = new CallEventBus(log);
    server = await createServer({ host: '127.0.0.1', port: 0, calls: new FakeCallApi(), log, version: 'test', events: bus, ...options });
    await server.start();
    port = Number(server.info.port);
    return server;
  };
  const openStream = async (): Promise<IncomingMessage> => {
    const request = http.get({ host: '127.0.0.1', port, path: EVENTS_PATH });
    requests.push(request);
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    return response;
  };

  afterEach(async () => {
    for (const request of requests.splice(0)) request.destroy();
    await server?.stop({ timeout: 1000 });
    server = undefined;
  });

  it('runs with the documented limits; the connection cap follows EVENT_STREAMS_MAX', async () => {
    const s = await start();
    assert.deepEqual(DEFAULT_HTTP_LIMITS, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, connectionsCheckingIntervalMs: 1_000, keepAliveTimeoutMs: 5_000, maxConnections: 256 });
    assert.equal(s.listener.headersTimeout, 10_000);
    assert.equal(s.listener.requestTimeout, 30_000);
    assert.equal(s.listener.keepAliveTimeout, 5_000);
    assert.equal(s.listener.maxConnections, 256);
    const health = s.table().find((r) => r.path === '/health');
    assert.deepEqual(health?.settings.timeout, { server: false, socket: SOCKET_IDLE_TIMEOUT_MS });
    const events = s.table().find((r) => r.path === EVENTS_PATH);
    assert.equal(events?.settings.timeout?.socket, false, 'the event stream is never cut for idleness');
    await s.stop();
    assert.equal((await start({ eventStreamsMax: 100 })).listener.maxConnections, 292);
  });

  it('a client trickling its request head is disconnected at headersTimeout', async () => {
    await start({ httpLimits: { headersTimeoutMs: 200, requestTimeoutMs: 400, connectionsCheckingIntervalMs: 50 } });
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `); // never finished
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    await once(socket, 'close');
    // Node reports the timeout as a client error, which hapi answers 400 for every kind.
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it('the event stream outlives the request and header timeouts', async () => {
    await start({ eventsHeartbeatMs: 20, httpLimits: { headersTimeoutMs: 100, requestTimeoutMs: 150, connectionsCheckingIntervalMs: 20 } });
    const response = await openStream();
    assert.equal(response.statusCode, 200);
    let isEnded = false;
    response.once('close', () => (isEnded = true));
    const stream = frames(response);
    // Heartbeats are the clock: 20 of them span 400 ms, well past both timeouts and many checks.
    for (let i = 0; i < 20; i++) await stream.next((f) => f === ': heartbeat');
    assert.equal(isEnded, false);
    bus.publish({ type: 'ringing', call_id: '3f0c7b1e-9a4d-4c55-8d2e-0b6a7c1f9e42', at: new Date().toISOString() });
    assert.match(await stream.next((f) => f.includes('"ringing"')), /^id: 1\n/);
  });

  it('beyond maxConnections new connections are closed unanswered; a freed slot serves again', async () => {
    await start({ httpLimits: { maxConnections: 2 } });
    const held = [await openStream(), await openStream()];
    assert.deepEqual(held.map((r) => r.statusCode), [200, 200]);

    const refused = http.get({ host: '127.0.0.1', port, path: '/health', agent: false });
    requests.push(refused);
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.match(String(err.code), /ECONNRESET|EPIPE/);

    const closed = once(held[0]!.socket, 'close');
    requests[0]?.destroy();
    await closed;
    const connections = (): Promise<number> => new Promise((resolve, reject) => server?.listener.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    await waitFor(async () => (await connections()) < 2, { what: 'the server to see the stream connection closed' });
    const served = http.get({ host: '127.0.0.1', port, path: '/health', agent: false });
    requests.push(served);
    const [response] = (await once(served, 'response')) as [IncomingMessage];
    assert.equal(response.statusCode, 200);
    response.resume();
  });
});
