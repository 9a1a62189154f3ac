/**
 * Webhook signatures (docs/webhooks.md): `X-Voice-Gateway-Signature: t=<unix seconds>,v1=<hex>`
 * where the hex is HMAC-SHA256(WEBHOOK_SECRET, "<t>.<raw body>"). The time is part of what is
 * signed, so a receiver can refuse old replays; each attempt is signed anew.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names of a delivery. */
export const SIGNATURE_HEADER = 'X-Voice-Gateway-Signature';
export const EVENT_ID_HEADER = 'X-Voice-Gateway-Event-Id';
export const EVENT_TYPE_HEADER = 'X-Voice-Gateway-Event-Type';
export const ATTEMPT_HEADER = 'X-Voice-Gateway-Delivery-Attempt';

/** The signature header's value for `body` signed at `unixSeconds`. */
export function signatureHeader(secret: string, unixSeconds: number, body: string): string {
  const digest = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${digest}`;
}

/**
 * True when `header` signs `body` with `secret` and its time is within `toleranceS` of `nowS`.
 * What a receiver does (docs/webhooks.md has the same in a few lines); the tests check deliveries with it.
 */
export function isValidSignature(secret: string, header: string, body: string, nowS: number, toleranceS = 300): boolean {
  const parts = new Map(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowS - t) > toleranceS || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = signatureHeader(secret, t, body).slice(`t=${t},v1=`.length);
  return timingSafeEqual(Buffer.from(v1, 'hex'), Buffer.from(expected, 'hex'));
}
