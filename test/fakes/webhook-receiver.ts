/**
 * A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records every delivery and
 * answers as the test says — 200, an error status, or not at all until released (a slow or hung
 * receiver). It can go down and come back on the same port (a receiver outage).
 *
 *   const rx = await WebhookReceiver.start();
 *   rx.answer = (d) => (d.index < 2 ? 500 : 200);    // or 'hold'
 *   … rx.deliveries, rx.events() (first arrival of each event id, in order) …
 *   await rx.close();
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isValidSignature } from '../../src/webhooks/signature';

/** One request as received. */
export interface ReceivedDelivery {
  /** 0-based, over the receiver's whole life. */
  index: number;
  eventId: string;
  type: string;
  attempt: number;
  signature: string;
  body: string;
  /** The parsed body. */
  event: { id: string; type: string; created_at: string; data: Record<string, unknown> };
  atMs: number;
  /** What was answered: a status, or 'aborted' when the client went away first. */
  outcome: number | 'aborted' | 'pending';
}

/** What to answer a delivery: a status, or hold it open until `release()` (or the client gives up). */
export type Answer = number | 'hold';

export class WebhookReceiver {
  readonly deliveries: ReceivedDelivery[] = [];
  /** Decides each answer; default 200. */
  answer: (d: ReceivedDelivery) => Answer = () => 200;
  #server: Server;
  #port: number;
  readonly #sockets = new Set<Socket>();
  readonly #held = new Map<ReceivedDelivery, ServerResponse>();
  #isUp = false;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.#port = port;
  }

  static async start(port = 0): Promise<WebhookReceiver> {
    const rx = new WebhookReceiver(createServer(), port);
    await rx.up();
    return rx;
  }

  /** URL to configure in WEBHOOK_URLS. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks/voice-gateway?token=t0ps3cret`;
  }

  get isUp(): boolean {
    return this.#isUp;
  }

  /** (Re)start listening on the same port. */
  async up(): Promise<void> {
    if (this.#isUp) return;
    this.#server = createServer((req, res) => this.#onRequest(req, res));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#isUp = true;
  }

  /** Stop listening and cut every connection (held requests included): the receiver is down. */
  async down(): Promise<void> {
    if (!this.#isUp) return;
    this.#isUp = false;
    for (const socket of this.#sockets) socket.destroy();
    this.#held.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Answer every held request with `status`. */
  release(status = 200): void {
    for (const [d, res] of this.#held) {
      d.outcome = status;
      res.writeHead(status).end();
    }
    this.#held.clear();
  }

  get heldCount(): number {
    return this.#held.size;
  }

  /** Each event id once, in the order it first arrived with a 2xx answer. */
  deliveredEvents(): ReceivedDelivery[] {
    const seen = new Set<string>();
    const out: ReceivedDelivery[] = [];
    for (const d of this.deliveries) {
      if (typeof d.outcome !== 'number' || d.outcome < 200 || d.outcome >= 300 || seen.has(d.eventId)) continue;
      seen.add(d.eventId);
      out.push(d);
    }
    return out;
  }

  /** Deliveries whose signature does not verify with `secret` (checked at their arrival time). */
  badSignatures(secret: string): ReceivedDelivery[] {
    return this.deliveries.filter((d) => !isValidSignature(secret, d.signature, d.body, Math.floor(d.atMs / 1000)));
  }

  async close(): Promise<void> {
    await this.down();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string): string => String(req.headers[name] ?? '');
      let event: ReceivedDelivery['event'];
      try {
        event = JSON.parse(body) as ReceivedDelivery['event'];
      } catch {
        res.writeHead(400).end();
        return;
      }
      const d: ReceivedDelivery = {
        index: this.deliveries.length,
        eventId: header('x-voice-gateway-event-id'),
        type: header('x-voice-gateway-event-type'),
        attempt: Number(header('x-voice-gateway-delivery-attempt')),
        signature: header('x-voice-gateway-signature'),
        body,
        event,
        atMs: Date.now(),
        outcome: 'pending',
      };
      this.deliveries.push(d);
      const answer = this.answer(d);
      if (answer === 'hold') {
        this.#held.set(d, res);
        res.on('close', () => {
          if (this.#held.delete(d)) d.outcome = 'aborted';
        });
        return;
      }
      d.outcome = answer;
      res.writeHead(answer).end();
    });
  }
}
