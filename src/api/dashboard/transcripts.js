// @ts-check
/**
 * The live transcript panel: one card per call, lines appended as they stream in. Cards of ended
 * calls stay (dimmed, closable) so the operator can read how a call went; the oldest ended ones go
 * first when there are too many.
 */
import { el, formatTime, setStatusBadge } from './format.js';

const MAX_CARDS = 8;
const MAX_LINES_PER_CARD = 300;
/** Within this distance of the bottom, a new line scrolls the card; further up, the reader keeps their place. */
const STICKY_BOTTOM_PX = 24;

/**
 * @typedef {{
 *   article: HTMLElement, list: HTMLOListElement, statusEl: HTMLElement, numberEl: HTMLElement,
 *   closeButton: HTMLButtonElement, keys: Set<string>, isEnded: boolean, seq: number
 * }} Card
 */

export class TranscriptPanel {
  /** @type {Map<string, Card>} */
  #cards = new Map();
  #container;
  #emptyNote;
  #seq = 0;

  /**
   * @param {HTMLElement} container where cards go (newest first)
   * @param {HTMLElement} emptyNote shown while there is no card
   */
  constructor(container, emptyNote) {
    this.#container = container;
    this.#emptyNote = emptyNote;
  }

  /** @param {string} id */
  has(id) {
    return this.#cards.has(id);
  }

  /**
   * The card of a call, created on first use.
   * @param {string} id
   * @param {{ phoneNumber: string, status: string, isEnded: boolean }} call
   * @returns {Card}
   */
  ensure(id, call) {
    const existing = this.#cards.get(id);
    if (existing) return existing;
    const article = el('article', 'transcript');
    article.dataset.callId = id;
    const header = el('header');
    const numberEl = el('span', 'number', call.phoneNumber || '…');
    const statusEl = el('span', 'status');
    setStatusBadge(statusEl, call.status);
    const closeButton = el('button', 'icon-button', '×');
    closeButton.type = 'button';
    closeButton.title = 'Close transcript';
    closeButton.setAttribute('aria-label', 'Close transcript');
    closeButton.addEventListener('click', () => this.remove(id));
    header.append(numberEl, statusEl, el('span', 'spacer'), closeButton);
    const list = el('ol');
    list.setAttribute('aria-live', 'polite');
    list.append(el('li', 'waiting', 'Waiting for the conversation…'));
    article.append(header, list);
    /** @type {Card} */
    const card = { article, list, statusEl, numberEl, closeButton, keys: new Set(), isEnded: call.isEnded, seq: ++this.#seq };
    closeButton.hidden = !call.isEnded;
    article.classList.toggle('ended', call.isEnded);
    this.#cards.set(id, card);
    this.#container.prepend(article);
    this.#prune();
    this.#render();
    return card;
  }

  /**
   * @param {string} id
   * @param {string} phoneNumber
   */
  setNumber(id, phoneNumber) {
    const card = this.#cards.get(id);
    if (card) card.numberEl.textContent = phoneNumber;
  }

  /**
   * @param {string} id
   * @param {string} status
   */
  setStatus(id, status) {
    const card = this.#cards.get(id);
    if (card) setStatusBadge(card.statusEl, status);
  }

  /**
   * Append one line to an existing card; the same line from the stream and from a re-sync shows once.
   * @param {string} id
   * @param {'user' | 'agent' | 'system'} role
   * @param {string} text
   * @param {number} atMs
   */
  addLine(id, role, text, atMs) {
    const card = this.#cards.get(id);
    if (!card) return;
    const key = `${atMs}|${role}|${text}`;
    if (card.keys.has(key)) return;
    card.keys.add(key);
    const list = card.list;
    const isAtBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - STICKY_BOTTOM_PX;
    list.querySelector('.waiting')?.remove();
    const li = el('li', `line line-${role}`);
    if (role === 'system') {
      li.textContent = text;
    } else {
      li.append(el('span', 'who', `${role === 'agent' ? 'Agent' : 'Caller'} · ${formatTime(atMs)}`), el('span', 'text', text));
    }
    list.append(li);
    while (list.children.length > MAX_LINES_PER_CARD) list.firstElementChild?.remove();
    if (isAtBottom) list.scrollTop = list.scrollHeight;
  }

  /**
   * The call ended: dim the card, show its outcome, let the operator close it.
   * @param {string} id
   * @param {string} status
   */
  markEnded(id, status) {
    const card = this.#cards.get(id);
    if (!card || card.isEnded) return;
    card.isEnded = true;
    card.article.classList.add('ended');
    setStatusBadge(card.statusEl, status);
    card.closeButton.hidden = false;
    card.list.querySelector('.waiting')?.remove();
    this.#prune();
  }

  /** @param {string} id */
  remove(id) {
    this.#cards.get(id)?.article.remove();
    this.#cards.delete(id);
    this.#render();
  }

  clear() {
    this.#cards.clear();
    this.#container.replaceChildren();
    this.#render();
  }

  /** At most MAX_CARDS: the oldest ended cards go first; live calls keep theirs. */
  #prune() {
    const ended = [...this.#cards.entries()].filter(([, c]) => c.isEnded).sort(([, a], [, b]) => a.seq - b.seq);
    while (this.#cards.size > MAX_CARDS && ended.length > 0) {
      const oldest = ended.shift();
      if (oldest) this.remove(oldest[0]);
    }
  }

  #render() {
    this.#emptyNote.hidden = this.#cards.size > 0;
  }
}
