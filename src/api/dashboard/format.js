// @ts-check
/* global document */
/**
 * DOM and formatting helpers of the dashboard. Text from the server always goes into the page as
 * text (`textContent`), never as markup.
 */

/**
 * The element with this id; the page and the script ship together, so a missing one is a bug.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`dashboard markup lacks #${id}`);
  return found;
}

/**
 * A new element with a class and text content.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @param {HTMLElement} node
 * @param {string} text
 * @param {'pill-ok' | 'pill-bad' | 'pill-warn' | 'pill-unknown' | 'pill-neutral'} kind
 */
export function setPill(node, text, kind) {
  node.textContent = text;
  node.className = `pill ${kind}`;
}

/**
 * A status badge (`status status-answered`); an unexpected status gets the neutral style.
 * @param {HTMLElement} node
 * @param {string} status
 */
export function setStatusBadge(node, status) {
  node.textContent = status;
  node.className = `status status-${/^[a-z-]+$/.test(status) ? status : 'unknown'}`;
}

/**
 * `m:ss`, or `h:mm:ss` from an hour on.
 * @param {number} ms
 */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * Wall-clock time (24 h), with the day when it is not today.
 * @param {number} ms
 */
export function formatTime(ms) {
  const date = new Date(ms);
  const isToday = date.toDateString() === new Date().toDateString();
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return isToday ? time : `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

/** @param {unknown} err */
export function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}
