import assert from 'node:assert/strict';
import { optionsResponse } from '../../../src/cluster/sip-probe';

const OPTIONS = [
  'OPTIONS sip:10.0.0.11:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK.abc;rport',
  'To: <sip:10.0.0.11:5060>',
  'From: <sip:edge@10.0.0.2>;tag=f1',
  'CSeq: 10 OPTIONS',
  'Call-ID: 1a2b3c',
  'Max-Forwards: 70',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

describe('cluster/sip-probe optionsResponse', () => {
  it('answers OPTIONS with the status asked, copying Via, From, Call-ID, CSeq and tagging To', () => {
    const response = optionsResponse(OPTIONS, 200, 't1') ?? '';
    const lines = response.split('\r\n');
    assert.equal(lines[0], 'SIP/2.0 200 OK');
    assert.ok(lines.includes('Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK.abc;rport'));
    assert.ok(lines.includes('To: <sip:10.0.0.11:5060>;tag=t1'));
    assert.ok(lines.includes('From: <sip:edge@10.0.0.2>;tag=f1'));
    assert.ok(lines.includes('Call-ID: 1a2b3c') && lines.includes('CSeq: 10 OPTIONS'));
    assert.ok(!lines.some((l) => l.startsWith('Max-Forwards')));
    assert.ok(response.endsWith('Content-Length: 0\r\n\r\n'));
  });

  it('503 with Retry-After while the node is draining or full', () => {
    const lines = (optionsResponse(OPTIONS, 503, 't1') ?? '').split('\r\n');
    assert.equal(lines[0], 'SIP/2.0 503 Service Unavailable');
    assert.ok(lines.includes('Retry-After: 5'));
  });

  it('405 to other methods, nothing to ACK, responses or garbage', () => {
    assert.match(optionsResponse(OPTIONS.replace(/OPTIONS/g, 'INVITE'), 200, 't') ?? '', /^SIP\/2\.0 405 Method Not Allowed/);
    assert.equal(optionsResponse(OPTIONS.replace('OPTIONS sip', 'ACK sip'), 200, 't'), undefined);
    assert.equal(optionsResponse('SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n', 200, 't'), undefined);
    assert.equal(optionsResponse('hello', 200, 't'), undefined);
    assert.equal(optionsResponse('OPTIONS sip:x SIP/2.0\r\nVia: a\r\n\r\n', 200, 't'), undefined, 'no To, Call-ID or CSeq');
  });

  it('keeps a tag the To header already has', () => {
    assert.ok((optionsResponse(OPTIONS.replace('To: <sip:10.0.0.11:5060>', 'To: <sip:x>;tag=old'), 200, 'new') ?? '').includes('To: <sip:x>;tag=old\r\n'));
  });
});
