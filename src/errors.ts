/**
 * Operational errors: things that go wrong on a phone line or a network and that the service
 * reports and survives. Programmer errors (broken invariants) are plain `Error`s and are not caught.
 *
 * `code` is a stable string for logs, metrics and API clients; `retryable` says whether the same
 * request may succeed later without change.
 */
export class BridgeError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** ARI REST or WebSocket failure. `status` is the HTTP status Asterisk answered with, if any. */
export class AriError extends BridgeError {
  readonly status: number | undefined;
  constructor(code: string, message: string, options: { status?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
    this.status = options.status;
  }
}

export class RtpError extends BridgeError {}

/** The agent socket could not be opened, or closed abnormally. */
export class AgentConnectionError extends BridgeError {
  readonly closeCode: number | undefined;
  constructor(code: string, message: string, options: { closeCode?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
    this.closeCode = options.closeCode;
  }
}

/** The agent sent something that does not follow the protocol. */
export class AgentProtocolError extends BridgeError {}

export class CallNotFoundError extends BridgeError {
  constructor(callId: string) {
    super('CALL_NOT_FOUND', `call ${callId} not found`);
  }
}

/** The service cannot take a call right now (ARI down, shutting down, at capacity). */
export class ServiceUnavailableError extends BridgeError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retryable: true, cause: options.cause });
  }
}

/** 503 STORE_UNAVAILABLE for a failure of the store (`cause`); `message` says what could not be done. */
export function storeUnavailable(message: string, cause: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError('STORE_UNAVAILABLE', message, { cause });
}

/** A request that is well-formed but not allowed (e.g. a destination the policy denies). */
export class PolicyError extends BridgeError {
  readonly field: string;
  constructor(code: string, field: string, message: string) {
    super(code, message);
    this.field = field;
  }
}

/** A client sent more requests than its rate limit allows; it may retry after `retryAfterMs`. */
export class RateLimitError extends BridgeError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super('RATE_LIMITED', message, { retryable: true });
    this.retryAfterMs = retryAfterMs;
  }
}

/** A resource other than a call does not exist (404, `code` names what: CAMPAIGN_NOT_FOUND…). */
export class NotFoundError extends BridgeError {}

/** The request does not fit the resource's state (409), e.g. pausing a campaign that is over. */
export class ConflictError extends BridgeError {}

/** A feature this gateway's setup does not offer (e.g. campaigns on a node of a cluster); not worth retrying. */
export class NotAvailableError extends BridgeError {}
