import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from 'ari-client';
import pino from 'pino';
import { AriConnection } from '../../../src/ari/ari-connection';
import { waitFor } from '../../helpers/wait-for';

/** A stand-in for ari-client's Client: `start()` resolves, and the test can emit its socket events. */
class FakeAriClient extends EventEmitter {
  async start(): Promise<void> {
    return;
  }
  close(): void {
    return;
  }
}

describe('AriConnection: retries with backoff', () => {
  let server: http.Server;
  let url: string;
  let lines: { msg: string; retryInMs?: number }[];
  let connection: AriConnection | undefined;

  beforeEach(async () => {
    // Answers the credentials check (GET /ari/asterisk/info) like Asterisk with the right password.
    server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    lines = [];
  });
  afterEach(async () => {
    await connection?.stop();
    connection = undefined;
    server.close();
    await once(server, 'close');
  });

  function connect(connectFn: () => Promise<Client>): AriConnection {
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string; retryInMs?: number }) });
    connection = new AriConnection({ url, username: 'gw', password: 'pw', app: 'test', log, initialRetryDelayMs: 5, maxRetryDelayMs: 20, connectFn });
    connection.start();
    return connection;
  }
  const retries = (): number[] => lines.filter((l) => l.msg === 'ARI connect failed').map((l) => l.retryInMs ?? -1);

  it('doubles the delay after each failure, up to the cap, and keeps trying', async () => {
    connect(() => Promise.reject(new Error('ECONNREFUSED')));
    await waitFor(() => retries().length >= 5, { what: 'five failed attempts' });
    assert.deepEqual(retries().slice(0, 5), [5, 10, 20, 20, 20]);
  });

  it('starts from the first delay again after it connected, when the client gives up later', async () => {
    let failuresLeft = 2;
    const clients: FakeAriClient[] = [];
    const c = connect(async () => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('ECONNREFUSED');
      }
      const client = new FakeAriClient();
      clients.push(client);
      return client as unknown as Client;
    });
    await waitFor(() => c.isConnected, { what: 'connected after two failures' });
    assert.deepEqual(retries(), [5, 10]);
    failuresLeft = 1;
    const disconnected = once(c, 'disconnected');
    clients[0]!.emit('WebSocketMaxRetries');
    await disconnected;
    await waitFor(() => c.isConnected, { what: 'connected again' });
    // The new client was tried after the first delay (5 ms); its failure schedules the second (10),
    // where a backoff that kept growing would have said 20.
    assert.deepEqual(retries(), [5, 10, 10], 'the backoff restarted from the first delay');
  });
});
