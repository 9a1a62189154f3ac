import assert from 'node:assert/strict';
import {
  buildRtp,
  isRtpParseError,
  parseRtp,
  PT_L16_MONO,
  PT_PCMA,
  PT_PCMU,
  RTP_HEADER_BYTES,
  rtpPacketBytes,
  type RtpPacket,
  type RtpParseError,
} from '../../../src/rtp/packet';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parsed(buf: Buffer): RtpPacket {
  const r = parseRtp(buf);
  if (isRtpParseError(r)) assert.fail(`unexpected parse error ${r.code}: ${r.message}`);
  return r;
}

function parseError(buf: Buffer): RtpParseError {
  const r = parseRtp(buf);
  if (!isRtpParseError(r)) assert.fail('expected a parse error');
  return r;
}

describe('rtp/packet', () => {
  it('has the RFC 3550/3551 constants', () => {
    assert.equal(RTP_HEADER_BYTES, 12);
    assert.deepEqual([PT_PCMU, PT_PCMA, PT_L16_MONO], [0, 8, 10]);
  });

  describe('parseRtp', () => {
    it('parses a minimal slin packet (V=2, PT 10, no CC/X/P)', () => {
      const p = parsed(hex('800a 1234 00000320 deadbeef  0102 0304'));
      assert.equal(p.marker, false);
      assert.equal(p.payloadType, 10);
      assert.equal(p.sequenceNumber, 0x1234);
      assert.equal(p.timestamp, 800);
      assert.equal(p.ssrc, 0xdeadbeef);
      assert.deepEqual(p.csrcs, []);
      assert.equal(p.extension, undefined);
      assert.equal(p.paddingBytes, 0);
      assert.deepEqual(p.payload, hex('01020304'));
    });

    it('reads the marker bit, PT 0 and full-range 16/32-bit fields', () => {
      const p = parsed(hex('8080 ffff ffffffff 00000001  ff'));
      assert.equal(p.marker, true);
      assert.equal(p.payloadType, PT_PCMU);
      assert.equal(p.sequenceNumber, 65535);
      assert.equal(p.timestamp, 0xffffffff);
      assert.equal(p.ssrc, 1);
      assert.deepEqual(p.payload, hex('ff'));
    });

    it('accepts an empty payload', () => {
      assert.equal(parsed(hex('8008 0001 00000000 00000002')).payload.length, 0);
    });

    it('skips CSRCs (CC=2)', () => {
      const p = parsed(hex('8208 0001 000000a0 11111111  aaaaaaaa bbbbbbbb  d5d5'));
      assert.deepEqual(p.csrcs, [0xaaaaaaaa, 0xbbbbbbbb]);
      assert.equal(p.payloadType, PT_PCMA);
      assert.deepEqual(p.payload, hex('d5d5'));
    });

    it('skips a header extension (X=1, one word) and exposes it', () => {
      const p = parsed(hex('900a 0002 00000140 22222222  bede 0001 11223344  0a0b'));
      assert.equal(p.extension?.profile, 0xbede);
      assert.deepEqual(p.extension?.data, hex('11223344'));
      assert.deepEqual(p.payload, hex('0a0b'));
    });

    it('accepts an extension with zero length', () => {
      const p = parsed(hex('900a 0002 00000140 22222222  1000 0000  0a0b'));
      assert.equal(p.extension?.data.length, 0);
      assert.deepEqual(p.payload, hex('0a0b'));
    });

    it('strips padding (P=1, last byte = count including itself)', () => {
      const p = parsed(hex('a00a 0003 00000000 33333333  0102  000003'));
      assert.equal(p.paddingBytes, 3);
      assert.deepEqual(p.payload, hex('0102'));
    });

    it('handles CSRC + extension + padding together', () => {
      const p = parsed(hex('b100 0004 00000010 44444444  cccccccc  0001 0002 0000000a 0000000b  beef  02 02'));
      assert.deepEqual(p.csrcs, [0xcccccccc]);
      assert.equal(p.extension?.profile, 1);
      assert.deepEqual(p.extension?.data, hex('0000000a0000000b'));
      assert.deepEqual(p.payload, hex('beef'));
      assert.equal(p.paddingBytes, 2);
    });

    it('returns the payload as a view of the datagram (no copy)', () => {
      const buf = hex('800a 0001 00000000 00000000  0102');
      const p = parsed(buf);
      buf[RTP_HEADER_BYTES] = 0x7f;
      assert.equal(p.payload[0], 0x7f);
    });

    const malformed: Array<[string, string, RtpParseError['code']]> = [
      ['empty datagram', '', 'RTP_TOO_SHORT'],
      ['11 bytes', '800a 0001 00000000 000000', 'RTP_TOO_SHORT'],
      ['version 1', '400a 0001 00000000 00000000 01', 'RTP_BAD_VERSION'],
      ['version 0 (e.g. STUN)', '0001 0000 2112a442 00000000 0000', 'RTP_BAD_VERSION'],
      ['version 3', 'c00a 0001 00000000 00000000', 'RTP_BAD_VERSION'],
      ['CC=3 with room for 1 CSRC', '830a 0001 00000000 00000000 aaaaaaaa', 'RTP_CSRC_TRUNCATED'],
      ['X=1 without extension header', '900a 0001 00000000 00000000 bede', 'RTP_EXTENSION_TRUNCATED'],
      ['extension length overruns', '900a 0001 00000000 00000000 bede 0002 11223344', 'RTP_EXTENSION_TRUNCATED'],
      ['padding count 0', 'a00a 0001 00000000 00000000 0102 00', 'RTP_BAD_PADDING'],
      ['padding larger than payload', 'a00a 0001 00000000 00000000 0102 05', 'RTP_BAD_PADDING'],
      ['padding eating into the extension', 'b00a 0001 00000000 00000000 bede 0001 11223344 06', 'RTP_BAD_PADDING'],
    ];
    for (const [name, bytes, code] of malformed) {
      it(`rejects ${name} with ${code}`, () => {
        const err = parseError(hex(bytes));
        assert.equal(err.code, code);
        assert.ok(err.message.length > 0);
      });
    }

    it('accepts padding that is exactly the whole body', () => {
      const p = parsed(hex('a00a 0001 00000000 00000000  00000004'));
      assert.equal(p.payload.length, 0);
      assert.equal(p.paddingBytes, 4);
    });
  });

  describe('buildRtp', () => {
    it('writes the exact bytes of a slin packet', () => {
      const buf = buildRtp({ payloadType: PT_L16_MONO, sequenceNumber: 0x1234, timestamp: 800, ssrc: 0xdeadbeef }, hex('01020304'));
      assert.deepEqual(buf, hex('800a 1234 00000320 deadbeef  0102 0304'));
    });

    it('writes marker, CSRCs, extension and padding as RFC 3550 §5.1/§5.3.1 lay them out', () => {
      const buf = buildRtp(
        {
          payloadType: 0,
          sequenceNumber: 4,
          timestamp: 16,
          ssrc: 0x44444444,
          marker: true,
          csrcs: [0xcccccccc],
          extension: { profile: 1, data: hex('0000000a0000000b') },
          paddingBytes: 2,
        },
        hex('beef'),
      );
      assert.deepEqual(buf, hex('b180 0004 00000010 44444444  cccccccc  0001 0002 0000000a 0000000b  beef  00 02'));
    });

    it('round-trips through parseRtp', () => {
      const header = { payloadType: 8, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 7, marker: true, csrcs: [1, 2, 3] };
      const payload = Buffer.alloc(160, 0xd5);
      const p = parsed(buildRtp(header, payload));
      assert.deepEqual(
        { payloadType: p.payloadType, sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, ssrc: p.ssrc, marker: p.marker, csrcs: p.csrcs },
        header,
      );
      assert.deepEqual(p.payload, payload);
    });

    it('writes into a caller buffer and returns the used slice', () => {
      const out = Buffer.alloc(200, 0xee);
      const header = { payloadType: 10, sequenceNumber: 1, timestamp: 2, ssrc: 3 };
      const buf = buildRtp(header, hex('0102'), out);
      assert.equal(buf.buffer, out.buffer);
      assert.equal(buf.length, rtpPacketBytes(header, 2));
      assert.equal(buf.length, 14);
      assert.equal(out[14], 0xee);
    });

    it('refuses a caller buffer that is too small', () => {
      assert.throws(() => buildRtp({ payloadType: 10, sequenceNumber: 1, timestamp: 2, ssrc: 3 }, Buffer.alloc(160), Buffer.alloc(100)), RangeError);
    });

    const bad: Array<[string, Parameters<typeof buildRtp>[0]]> = [
      ['PT 128', { payloadType: 128, sequenceNumber: 0, timestamp: 0, ssrc: 0 }],
      ['seq 65536', { payloadType: 0, sequenceNumber: 65536, timestamp: 0, ssrc: 0 }],
      ['negative timestamp', { payloadType: 0, sequenceNumber: 0, timestamp: -1, ssrc: 0 }],
      ['ssrc 2^32', { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 2 ** 32 }],
      ['fractional seq', { payloadType: 0, sequenceNumber: 1.5, timestamp: 0, ssrc: 0 }],
      ['16 CSRCs', { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, csrcs: new Array<number>(16).fill(1) }],
      ['extension of 3 bytes', { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, extension: { profile: 0, data: Buffer.alloc(3) } }],
      ['256 padding bytes', { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, paddingBytes: 256 }],
    ];
    for (const [name, header] of bad) {
      it(`throws RangeError for ${name}`, () => {
        assert.throws(() => buildRtp(header, Buffer.alloc(1)), RangeError);
      });
    }
  });
});
