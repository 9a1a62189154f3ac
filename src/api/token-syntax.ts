/**
 * What a bearer token may look like, in one place: the configuration checks API_TOKEN and
 * METRICS_TOKEN with it at start, and the auth scheme (src/api/auth.ts) parses the Authorization
 * header with the same character class, so a configured token can always be presented.
 */

/** Shortest token accepted; anything shorter is guessable. */
export const MIN_TOKEN_CHARS = 16;

/** RFC 6750 §2.1 `b64token` (letters, digits, `-._~+/`, then optional trailing `=`), unanchored source. */
export const B64TOKEN_SOURCE = '[A-Za-z0-9\\-._~+/]+=*';

/** A whole string that is a b64token. */
export const B64TOKEN_PATTERN = new RegExp(`^${B64TOKEN_SOURCE}$`);

/** The rule in words, for configuration errors (never echoes the token). */
export const TOKEN_RULE = `at least ${MIN_TOKEN_CHARS} characters of A-Z a-z 0-9 - . _ ~ + / (then optional trailing "=", RFC 6750 b64token)`;

/** True when `token` is a b64token of at least MIN_TOKEN_CHARS characters. */
export function isWellFormedToken(token: string): boolean {
  return token.length >= MIN_TOKEN_CHARS && B64TOKEN_PATTERN.test(token);
}
