/**
 * A small Server-Sent Events reader for `GET /api/events` (WHATWG HTML §9.2 framing: lines, `data:`
 * fields joined by "\n", a blank line ends an event, `:` starts a comment). It is what an ops tool
 * would write against the gateway, nothing more.
 */
import http from 'node:http';
import type { SequencedCallEvent } from '../../src/events/call-events';

/** Options of `openEventStream`. */
export interface EventStreamOptions {
  /** e.g. http://127.0.0.1:8000/api/events */
  readonly url: string;
  readonly token: string | undefined;
  readonly onEvent: (event: SequencedCallEvent) => void;
  /** The stream ended without close() (gateway gone) or failed; `err` says why. */
  readonly onEnd: (err: Error | undefined) => void;
}

/** An open stream; `close()` is idempotent. `opened` resolves once the response headers arrived. */
export interface EventStream {
  readonly opened: Promise<void>;
  close(): void;
}

/** Parses SSE text into the `data` of each event. Feed chunks in order. */
export class SseParser {
  #buffer = '';
  #data: string[] = [];

  push(chunk: string): string[] {
    this.#buffer += chunk;
    const out: string[] = [];
    let nl: number;
    while ((nl = this.#buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + (this.#buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.#data.length > 0) out.push(this.#data.join('\n'));
        this.#data = [];
      } else if (line.startsWith('data:')) {
        this.#data.push(line.slice(5).replace(/^ /, ''));
      }
      // `id:`, `retry:`, `event:` and comments need no handling here.
    }
    return out;
  }
}

function isCallEvent(value: unknown): value is SequencedCallEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['type'] === 'string' && typeof v['call_id'] === 'string' && typeof v['at'] === 'string';
}

/** Open the stream. Call `close()` when done; `onEnd` is not called after close(). */
export function openEventStream(options: EventStreamOptions): EventStream {
  const parser = new SseParser();
  let isClosed = false;
  const headers: http.OutgoingHttpHeaders = { accept: 'text/event-stream' };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const end = (err: Error | undefined): void => {
    if (isClosed) return;
    isClosed = true;
    options.onEnd(err);
  };
  let request: http.ClientRequest | undefined;
  const opened = new Promise<void>((resolve, reject) => {
    request = http.get(options.url, { headers }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        const err = new Error(`GET ${options.url}: HTTP ${response.statusCode ?? '?'}`);
        reject(err);
        end(err);
        return;
      }
      resolve();
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        for (const data of parser.push(chunk)) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(data);
          } catch (err) {
            end(new Error(`event stream sent invalid JSON: ${(err as Error).message}`));
            request?.destroy();
            return;
          }
          if (isCallEvent(parsed) && !isClosed) options.onEvent(parsed);
        }
      });
      response.on('end', () => end(new Error('the gateway closed the event stream')));
      response.on('error', (err) => end(err));
    });
    request.on('error', (err) => {
      reject(err);
      end(err);
    });
  });
  opened.catch(() => undefined); // reported through onEnd as well; callers may also await it
  return {
    opened,
    close() {
      isClosed = true;
      request?.destroy();
    },
  };
}
