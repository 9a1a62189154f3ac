import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { Server } from '@hapi/hapi';
import pino from 'pino';
import { AriCallControl } from '../../src/ari/call-control';
import { createServer } from '../../src/api/server';
import { AriError } from '../../src/errors';
import { FakeCallApi, makeCallView } from '../fakes/fake-call-api';

const RIFF = Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1');

/** A FakeCallApi whose recordings are streams the test writes into. */
class RecordingCallApi extends FakeCallApi {
  readonly recordings = new Map<string, PassThrough>();
  async getRecording(id: string): Promise<Readable | undefined> {
    await this.getCall(id);
    return this.recordings.get(id);
  }
}

/** The first chunk of `response`, read as it arrives. */
async function firstChunk(response: IncomingMessage): Promise<Buffer> {
  const [chunk] = (await once(response, 'data')) as [Buffer];
  response.pause();
  return chunk;
}

describe('GET /api/calls/{id}/recording streams the wav (real server)', () => {
  let fake: RecordingCallApi;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    fake = new RecordingCallApi();
    server = await createServer({ host: '127.0.0.1', port: 0, calls: fake, log: pino({ level: 'silent' }), version: 'test' });
    await server.start();
    base = `http://127.0.0.1:${server.info.port}`;
  });
  afterEach(async () => {
    await server.stop({ timeout: 1000 });
  });

  it('the client gets the first bytes while the recording is still being read, then all of it', async () => {
    const view = fake.addCall(makeCallView('+14155550123'));
    const source = new PassThrough();
    fake.recordings.set(view.id, source);
    const request = http.get(`${base}/api/calls/${view.id}/recording`);
    source.write(RIFF); // Node sends the response head with the first body bytes
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'audio/wav');
    assert.equal(response.headers['content-disposition'], `attachment; filename="call-${view.id}.wav"`);
    assert.deepEqual(await firstChunk(response), RIFF, 'sent before the source ended: not buffered whole');
    assert.equal(source.writableEnded, false);

    const rest = Buffer.alloc(256 * 1024, 7);
    const received: Buffer[] = [];
    response.on('data', (chunk: Buffer) => received.push(chunk));
    response.resume();
    source.end(rest);
    await once(response, 'end');
    assert.deepEqual(Buffer.concat(received), rest);
  });

  it('a client that goes away mid-download releases the source', async () => {
    const view = fake.addCall(makeCallView('+14155550123'));
    const source = new PassThrough();
    fake.recordings.set(view.id, source);
    const request = http.get(`${base}/api/calls/${view.id}/recording`);
    source.write(RIFF);
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    await firstChunk(response);
    const closed = once(source, 'close');
    request.destroy();
    await closed;
    assert.equal(source.destroyed, true);
  });

  it('no recording → 404 CALL_NOT_FOUND', async () => {
    const view = fake.addCall(makeCallView('+14155550123'));
    const res = await server.inject(`/api/calls/${view.id}/recording`);
    assert.equal(res.statusCode, 404);
    assert.equal((JSON.parse(res.payload) as { code: string }).code, 'CALL_NOT_FOUND');
  });
});

describe('AriCallControl.downloadRecording against an HTTP peer standing in for ARI', () => {
  let peer: http.Server;
  let onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  let control: AriCallControl;

  beforeEach(async () => {
    peer = http.createServer((req, res) => onRequest(req, res));
    peer.listen(0, '127.0.0.1');
    await once(peer, 'listening');
    const url = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
    control = new AriCallControl(
      () => {
        throw new Error('no ari-client in this test');
      },
      pino({ level: 'silent' }),
      { url, username: 'gw', password: 'pw' },
    );
  });
  afterEach(async () => {
    peer.closeAllConnections();
    peer.close();
    await once(peer, 'close');
  });

  it('resolves with a stream once Asterisk answers, before the body is complete; Basic auth; name encoded', async () => {
    let seen: http.IncomingMessage | undefined;
    let peerResponse: http.ServerResponse | undefined;
    onRequest = (req, res) => {
      seen = req;
      peerResponse = res;
      res.writeHead(200, { 'content-type': 'audio/x-wav' });
      res.write(RIFF);
    };
    const stream = await control.downloadRecording('vg-rec-a b');
    assert.ok(stream);
    assert.equal(seen?.url, '/ari/recordings/stored/vg-rec-a%20b/file');
    assert.equal(seen?.headers.authorization, `Basic ${Buffer.from('gw:pw').toString('base64')}`);
    const [first] = (await once(stream, 'data')) as [Buffer];
    assert.deepEqual(first, RIFF);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    peerResponse?.end(Buffer.from('data'));
    await once(stream, 'end');
    assert.equal(Buffer.concat(chunks).toString(), 'data');
  });

  it('destroying the stream cancels the download at the peer', async () => {
    let peerRequest: http.IncomingMessage | undefined;
    onRequest = (req, res) => {
      peerRequest = req;
      res.writeHead(200, { 'content-type': 'audio/x-wav' });
      res.write(RIFF);
    };
    const stream = await control.downloadRecording('vg-rec-x');
    assert.ok(stream && peerRequest);
    const gone = once(peerRequest.socket, 'close');
    stream.destroy();
    await gone;
  });

  it('404 → undefined; another status → AriError with it', async () => {
    onRequest = (_req, res) => res.writeHead(404).end('{"message":"Recording not found"}');
    assert.equal(await control.downloadRecording('vg-rec-missing'), undefined);
    onRequest = (_req, res) => res.writeHead(500).end('oops');
    await assert.rejects(control.downloadRecording('vg-rec-x'), (err: unknown) => err instanceof AriError && err.status === 500 && err.code === 'ARI_REQUEST_FAILED');
  });
});
