/**
 * The one place where domain errors (src/errors.ts) become HTTP errors (G8). Handlers call
 * `throw toBoom(err)` in their catch and contain no status codes themselves.
 */
import Boom from '@hapi/boom';
import {
  AgentConnectionError,
  AgentProtocolError,
  AriError,
  BridgeError,
  CallNotFoundError,
  ConflictError,
  NotAvailableError,
  NotFoundError,
  PolicyError,
  RateLimitError,
  ServiceUnavailableError,
} from '../errors';

/** Seconds a client should wait before retrying after a 503 (sent as `Retry-After`). */
export const RETRY_AFTER_S = 5;

/**
 * Map an operational error to a Boom error, or rethrow it.
 *
 * | error                                   | HTTP                          |
 * |-----------------------------------------|-------------------------------|
 * | Boom                                    | unchanged                     |
 * | CallNotFoundError, NotFoundError        | 404                           |
 * | ConflictError                           | 409                           |
 * | NotAvailableError                       | 501 (not in this setup)       |
 * | PolicyError                             | 403, names `field`            |
 * | RateLimitError                          | 429 + Retry-After (its wait)  |
 * | ServiceUnavailableError                 | 503 + Retry-After             |
 * | AriError, retryable or no HTTP status   | 503 + Retry-After (ARI down)  |
 * | AriError with an HTTP status            | 502 (Asterisk refused)        |
 * | AgentConnectionError/AgentProtocolError | 502                           |
 * | other BridgeError, retryable            | 503 + Retry-After             |
 * | anything else                           | rethrown → hapi answers 500 and logs it |
 *
 * Bodies carry the stable `code`. 4xx and ServiceUnavailableError messages are written for clients
 * and passed through; 502/ARI messages may hold internal hosts, so they get a fixed text.
 *
 * @throws the input itself when it is not a known operational error (a programmer error).
 */
export function toBoom(err: unknown): Boom.Boom {
  if (Boom.isBoom(err)) {
    return err;
  }
  if (err instanceof CallNotFoundError || err instanceof NotFoundError) {
    return withCode(Boom.notFound(err.message), err);
  }
  if (err instanceof ConflictError) {
    return withCode(Boom.conflict(err.message), err);
  }
  if (err instanceof NotAvailableError) {
    return withCode(Boom.notImplemented(err.message), err);
  }
  if (err instanceof PolicyError) {
    const boom = withCode(Boom.forbidden(`"${err.field}": ${err.message}`), err);
    boom.output.payload.field = err.field;
    return boom;
  }
  if (err instanceof RateLimitError) {
    const boom = withCode(Boom.tooManyRequests(err.message), err);
    boom.output.headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    return boom;
  }
  if (err instanceof ServiceUnavailableError) {
    return retryLater(withCode(Boom.serverUnavailable(err.message), err));
  }
  if (err instanceof AriError) {
    return err.retryable || err.status === undefined
      ? retryLater(withCode(Boom.serverUnavailable('the telephony server (Asterisk) is unavailable'), err))
      : withCode(Boom.badGateway('the telephony server (Asterisk) rejected the request'), err);
  }
  if (err instanceof AgentConnectionError || err instanceof AgentProtocolError) {
    return withCode(Boom.badGateway('the voice agent service failed'), err);
  }
  if (err instanceof BridgeError && err.retryable) {
    return retryLater(withCode(Boom.serverUnavailable('temporarily unable to handle the request'), err));
  }
  throw err;
}

function withCode(boom: Boom.Boom, err: BridgeError): Boom.Boom {
  boom.output.payload.code = err.code;
  return boom;
}

function retryLater(boom: Boom.Boom): Boom.Boom {
  boom.output.headers['Retry-After'] = String(RETRY_AFTER_S);
  return boom;
}
