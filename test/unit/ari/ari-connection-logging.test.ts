import assert from 'node:assert/strict';
import pino from 'pino';
import { AriConnection, describeError, withoutUserinfo } from '../../../src/ari/ari-connection';

const SECRET = 's3cret-pw';

describe('ARI_URL credentials never reach the log', () => {
  it('withoutUserinfo strips user and password and does not echo what does not parse', () => {
    assert.equal(withoutUserinfo(`http://gw:${SECRET}@127.0.0.1:8088`), 'http://127.0.0.1:8088/');
    assert.equal(withoutUserinfo('http://gw@127.0.0.1:8088/ari'), 'http://127.0.0.1:8088/ari');
    assert.equal(withoutUserinfo('http://127.0.0.1:8088'), 'http://127.0.0.1:8088');
    assert.equal(withoutUserinfo(`http://gw:${SECRET}@[bad`), '[not a URL]');
  });

  it('describeError redacts user:pass@ and api_key= in messages', () => {
    const fetchError = new TypeError(`Request cannot be constructed from a URL that includes credentials: http://gw:${SECRET}@127.0.0.1:8088/ari/asterisk/info`);
    assert.equal(describeError(fetchError).message, 'Request cannot be constructed from a URL that includes credentials: http://[redacted]@127.0.0.1:8088/ari/asterisk/info');
    assert.doesNotMatch(describeError(new Error(`ws://h/ari/events?app=a&api_key=gw:${SECRET}`)).message, new RegExp(SECRET));
  });

  it('"ARI connect failed" with a URL holding credentials logs neither them nor fetch\'s quote of them', async () => {
    let logText = '';
    let onLine: () => void = () => undefined;
    const logged = new Promise<void>((resolve) => (onLine = resolve));
    const log = pino({ level: 'debug' }, { write: (line: string) => ((logText += line), onLine()) });
    const connection = new AriConnection({
      url: `http://gw:${SECRET}@127.0.0.1:8088`,
      username: 'gw',
      password: 'other-password',
      app: 'test',
      log,
      // Never reached: the credentials check (fetch) refuses a URL with userinfo first.
      connectFn: () => Promise.reject(new Error('connectFn must not be called')),
    });
    connection.start();
    await logged;
    await connection.stop();
    assert.match(logText, /"msg":"ARI connect failed"/);
    assert.match(logText, /"url":"http:\/\/127\.0\.0\.1:8088\/"/);
    assert.ok(!logText.includes(SECRET), logText);
  });
});
