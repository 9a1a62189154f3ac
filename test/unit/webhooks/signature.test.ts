import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { isValidSignature, signatureHeader } from '../../../src/webhooks/signature';
import { WebhookPublisher } from '../../../src/webhooks/webhook-events';

describe('webhook signature', () => {
  const secret = 'whsec-0123456789abcdef';
  const body = '{"id":"e1","type":"call.status","created_at":"2026-12-01T00:00:00.000Z","data":{}}';

  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">', () => {
    const expected = createHmac('sha256', secret).update(`1764547200.${body}`).digest('hex');
    assert.equal(signatureHeader(secret, 1764547200, body), `t=1764547200,v1=${expected}`);
  });

  it('verifies, and refuses another body, another secret, an old time or garbage', () => {
    const header = signatureHeader(secret, 1000, body);
    assert.equal(isValidSignature(secret, header, body, 1000), true);
    assert.equal(isValidSignature(secret, header, `${body} `, 1000), false);
    assert.equal(isValidSignature('another-secret-000000', header, body, 1000), false);
    assert.equal(isValidSignature(secret, header, body, 1000 + 301), false);
    assert.equal(isValidSignature(secret, 'v1=zz', body, 1000), false);
    assert.equal(isValidSignature(secret, '', body, 1000), false);
  });
});

describe('WebhookPublisher', () => {
  it('makes one row per destination with one id and one body', () => {
    const p = new WebhookPublisher({ destinations: ['https://a.example/h', 'https://b.example/h'], newId: () => 'evt-1', nowMs: () => Date.parse('2026-12-01T00:00:00Z') });
    const rows = p.event('call.ended', 'call:c1', { id: 'c1', status: 'completed' });
    assert.deepEqual(rows.map((r) => r.destination), ['https://a.example/h', 'https://b.example/h']);
    assert.deepEqual(new Set(rows.map((r) => `${r.eventId}|${r.orderKey}|${r.type}|${r.body}`)).size, 1);
    assert.deepEqual(JSON.parse(rows[0]!.body), { id: 'evt-1', type: 'call.ended', created_at: '2026-12-01T00:00:00.000Z', data: { id: 'c1', status: 'completed' } });
  });

  it('makes nothing without destinations', () => {
    assert.deepEqual(new WebhookPublisher({ destinations: [] }).event('call.status', 'call:x', {}), []);
  });
});
