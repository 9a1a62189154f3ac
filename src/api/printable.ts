/** Text from a client made safe to echo in an error message or a log field. */

/** Escape C0/C1 controls, format chars (bidi overrides, zero-width) and line/paragraph separators. */
export function toPrintable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/** `text`, cut to `maxChars` with an ellipsis. */
export function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
