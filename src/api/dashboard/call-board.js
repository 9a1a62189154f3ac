// @ts-check
/**
 * What the page knows about calls, and their rows: the active-calls table (status, ticking
 * duration, conversation id, media counters, Hang up), the recent outcomes, and the transcript
 * cards (through TranscriptPanel). Fed by call views (REST) and live events (SSE), in any order:
 * statuses only move forward, an ended call never comes back, a line shows once.
 */
import { el, formatDuration, formatTime, setStatusBadge } from './format.js';

/**
 * @typedef {import('./gateway-client.js').CallView} CallView
 * @typedef {import('./gateway-client.js').Metrics} Metrics
 * @typedef {import('./transcripts.js').TranscriptPanel} TranscriptPanel
 */

/** Statuses of a call in progress, in the order they happen. */
export const ACTIVE_STATUSES = /** @type {const} */ (['dialing', 'ringing', 'answered']);
export const TERMINAL_STATUSES = /** @type {const} */ (['completed', 'busy', 'no-answer', 'failed']);
/** Rows in "Recent outcomes". */
export const MAX_OUTCOMES = 20;

/** `end_reason` values (src/call) in the operator's words. */
const END_REASONS = /** @type {Record<string, string>} */ ({
  callee: 'callee hung up',
  api: 'hung up by operator',
  agent: 'agent ended the call',
  'agent-error': 'agent connection failed',
  'ring-timeout': 'no answer in time',
  'max-duration': 'maximum duration reached',
  error: 'error',
  shutdown: 'gateway shutdown',
  'gateway-restart': 'gateway restarted',
});

/**
 * @typedef {{
 *   phoneNumber: string, status: string, createdMs: number, conversationId: string | null,
 *   tr: HTMLTableRowElement, numberEl: HTMLElement, statusEl: HTMLElement, durationEl: HTMLElement,
 *   conversationEl: HTMLElement, mediaEl: HTMLElement, hangupButton: HTMLButtonElement
 * }} ActiveCall
 * @typedef {{
 *   id: string, phoneNumber: string, status: string, endedMs: number, durationMs: number,
 *   hangupCause: number | null, hangupCauseText: string | null, endReason: string | null, error: string | null
 * }} Outcome
 * @typedef {{
 *   activeBody: HTMLTableSectionElement, activeEmpty: HTMLElement, activeTotal: HTMLElement,
 *   outcomesBody: HTMLTableSectionElement, outcomesEmpty: HTMLElement,
 *   transcripts: TranscriptPanel,
 *   now: () => number,
 *   onHangUp: (id: string) => void,
 *   onCallsChanged: () => void,
 *   needDetail: (id: string) => void,
 * }} CallBoardOptions
 */

/** @param {string} status */
const isTerminal = (status) => /** @type {readonly string[]} */ (TERMINAL_STATUSES).includes(status);
/** @param {string} status */
const rankOf = (status) => /** @type {readonly string[]} */ (ACTIVE_STATUSES).indexOf(status);

export class CallBoard {
  /** @type {Map<string, ActiveCall>} */
  #active = new Map();
  /** @type {Map<string, Outcome>} */
  #outcomes = new Map();
  #o;

  /** @param {CallBoardOptions} options */
  constructor(options) {
    this.#o = options;
  }

  /** Ids of the calls shown as in progress. */
  activeIds() {
    return [...this.#active.keys()];
  }

  /**
   * What the board knows of a live call (undefined: not shown as live).
   * @param {string} id
   */
  activeCall(id) {
    const call = this.#active.get(id);
    return call && { phoneNumber: call.phoneNumber, status: call.status, conversationId: call.conversationId };
  }

  /**
   * A call view from the API: live calls are added or updated, ended ones move to the outcomes.
   * @param {CallView} view
   */
  applyView(view) {
    if (isTerminal(view.status)) {
      this.finish(outcomeOfView(view, this.#o.now()));
      return;
    }
    if (!this.#upsert(view)) return;
    if (view.metrics) this.#showMetrics(view.id, view.metrics);
    if (view.status === 'answered' || view.transcript.length > 0) {
      this.#card(view.id);
      for (const line of view.transcript) this.#o.transcripts.addLine(view.id, line.role, line.text, this.#ms(line.at));
    }
  }

  /**
   * One event from /api/events (src/events/call-events.ts). Unknown types are ignored.
   * @param {unknown} raw
   */
  applyEvent(raw) {
    if (typeof raw !== 'object' || raw === null) return;
    const ev = /** @type {Record<string, unknown>} */ (raw);
    const id = ev.call_id;
    if (typeof id !== 'string') return;
    const atMs = this.#ms(typeof ev.at === 'string' ? ev.at : null);
    const str = (/** @type {string} */ key) => (typeof ev[key] === 'string' ? /** @type {string} */ (ev[key]) : null);
    const num = (/** @type {string} */ key) => (typeof ev[key] === 'number' ? /** @type {number} */ (ev[key]) : null);
    switch (ev.type) {
      case 'dialing':
        this.#upsert({ id, status: 'dialing', createdMs: atMs, phone_number: str('phone_number') });
        break;
      case 'ringing':
      case 'answered': {
        const call = this.#upsert({ id, status: ev.type });
        if (!call) break;
        if (ev.type === 'answered') this.#card(id);
        // Events carry no number (after a reconnect) nor the conversation id: ask for the view.
        if (!call.phoneNumber || (ev.type === 'answered' && !call.conversationId)) this.#o.needDetail(id);
        break;
      }
      case 'transcript': {
        const role = ev.role === 'user' || ev.role === 'agent' ? ev.role : null;
        const text = str('text');
        const call = this.#upsert({ id });
        if (!call || role === null || text === null) break;
        this.#card(id);
        this.#o.transcripts.addLine(id, role, text, atMs);
        if (!call.conversationId || !call.phoneNumber) this.#o.needDetail(id);
        break;
      }
      case 'interruption':
        if (this.#active.has(id)) this.#o.transcripts.addLine(id, 'system', 'caller interrupted the agent', atMs);
        break;
      case 'dtmf':
        if (this.#active.has(id)) this.#o.transcripts.addLine(id, 'system', `caller pressed ${str('digit') ?? '?'}`, atMs);
        break;
      case 'amd':
        if (this.#active.has(id)) this.#o.transcripts.addLine(id, 'system', `answering-machine detection: ${str('result') ?? '?'}`, atMs);
        break;
      case 'transferred':
        if (this.#active.has(id)) this.#o.transcripts.addLine(id, 'system', `transferred to ${str('to') ?? '?'}; the agent left`, atMs);
        break;
      case 'metrics':
        this.#showMetrics(id, /** @type {Metrics} */ (ev.metrics));
        break;
      case 'ended':
        this.finish({
          id,
          phoneNumber: this.#active.get(id)?.phoneNumber ?? '',
          status: str('status') ?? 'completed',
          endedMs: atMs,
          durationMs: num('duration_ms') ?? 0,
          hangupCause: num('hangup_cause'),
          hangupCauseText: str('hangup_cause_text'),
          endReason: str('end_reason'),
          error: str('error'),
        });
        if (!this.#outcomes.get(id)?.phoneNumber) this.#o.needDetail(id);
        break;
      default:
        break; // a newer gateway's event type
    }
  }

  /**
   * A call ended: out of the active table, into the outcomes; its transcript card stays, marked ended.
   * @param {Outcome} outcome
   */
  finish(outcome) {
    const call = this.#active.get(outcome.id);
    if (call) {
      call.tr.remove();
      this.#active.delete(outcome.id);
      this.#o.onCallsChanged();
    }
    const known = this.#outcomes.get(outcome.id);
    const phoneNumber = outcome.phoneNumber || call?.phoneNumber || known?.phoneNumber || '';
    this.#outcomes.set(outcome.id, { ...outcome, phoneNumber });
    this.#o.transcripts.markEnded(outcome.id, outcome.status);
    this.#renderOutcomes();
    this.#renderCounts();
  }

  /**
   * A call the API does not know (404): drop it.
   * @param {string} id
   */
  forget(id) {
    this.#active.get(id)?.tr.remove();
    this.#active.delete(id);
    this.#renderCounts();
  }

  /**
   * Show that a hang-up is under way (or failed and can be retried).
   * @param {string} id
   * @param {boolean} isBusy
   */
  setHangingUp(id, isBusy) {
    const call = this.#active.get(id);
    if (!call) return;
    call.hangupButton.disabled = isBusy;
    call.hangupButton.textContent = isBusy ? 'Hanging up…' : 'Hang up';
  }

  /** Advance the duration of every live call (once a second). */
  tick() {
    const now = this.#o.now();
    for (const call of this.#active.values()) call.durationEl.textContent = formatDuration(now - call.createdMs);
  }

  /** Forget everything shown (signed out). */
  clear() {
    this.#active.clear();
    this.#outcomes.clear();
    this.#o.activeBody.replaceChildren();
    this.#o.transcripts.clear();
    this.#renderOutcomes();
    this.#renderCounts();
  }

  /**
   * Add or update a live call; undefined when it has already ended.
   * @param {{ id: string, phone_number?: string | null, status?: string, created_at?: string, createdMs?: number, conversation_id?: string | null }} info
   * @returns {ActiveCall | undefined}
   */
  #upsert(info) {
    if (this.#outcomes.has(info.id)) return undefined;
    const createdMs = info.createdMs ?? (info.created_at ? this.#ms(info.created_at) : undefined);
    let call = this.#active.get(info.id);
    if (call === undefined) {
      call = this.#createRow(info.id, createdMs ?? this.#o.now());
      this.#active.set(info.id, call);
      this.#o.activeBody.append(call.tr);
      this.#o.onCallsChanged();
    } else if (createdMs !== undefined) {
      call.createdMs = createdMs;
    }
    if (info.phone_number && info.phone_number !== call.phoneNumber) {
      call.phoneNumber = info.phone_number;
      call.numberEl.textContent = info.phone_number;
      this.#o.transcripts.setNumber(info.id, info.phone_number);
    }
    if (info.status && rankOf(info.status) > rankOf(call.status)) {
      call.status = info.status;
      setStatusBadge(call.statusEl, info.status);
      this.#o.transcripts.setStatus(info.id, info.status);
    }
    if (info.conversation_id && info.conversation_id !== call.conversationId) {
      call.conversationId = info.conversation_id;
      call.conversationEl.textContent = info.conversation_id;
      call.conversationEl.title = info.conversation_id;
    }
    call.durationEl.textContent = formatDuration(this.#o.now() - call.createdMs);
    this.#renderCounts();
    return call;
  }

  /**
   * @param {string} id
   * @param {number} createdMs
   * @returns {ActiveCall}
   */
  #createRow(id, createdMs) {
    const tr = el('tr');
    tr.dataset.callId = id;
    const numberEl = el('td', 'number', '…');
    const statusCell = el('td');
    const statusEl = el('span', 'status');
    statusCell.append(statusEl);
    const durationEl = el('td', 'duration num', '0:00');
    const conversationEl = el('td', 'conversation', '–');
    const mediaEl = el('td', 'media num', '–');
    mediaEl.title = 'RTP packets: caller → agent / agent → caller (updated with each metrics tick)';
    const actions = el('td', 'actions');
    const hangupButton = el('button', 'danger hangup', 'Hang up');
    hangupButton.type = 'button';
    hangupButton.addEventListener('click', () => this.#o.onHangUp(id));
    actions.append(hangupButton);
    tr.append(numberEl, statusCell, durationEl, conversationEl, mediaEl, actions);
    return { phoneNumber: '', status: '', createdMs, conversationId: null, tr, numberEl, statusEl, durationEl, conversationEl, mediaEl, hangupButton };
  }

  /** @param {string} id */
  #card(id) {
    const call = this.#active.get(id);
    return this.#o.transcripts.ensure(id, { phoneNumber: call?.phoneNumber ?? '', status: call?.status || 'answered', isEnded: this.#outcomes.has(id) });
  }

  /**
   * @param {string} id
   * @param {Metrics} metrics
   */
  #showMetrics(id, metrics) {
    const call = this.#active.get(id);
    if (!call || !metrics?.caller_to_ai || !metrics.ai_to_caller) return;
    const up = metrics.caller_to_ai;
    const down = metrics.ai_to_caller;
    call.mediaEl.textContent = `↑ ${up.packets.toLocaleString()} / ↓ ${down.packets.toLocaleString()}`;
    call.mediaEl.title = `caller → agent: ${up.packets} packets, ${up.bytes} bytes; agent → caller: ${down.packets} packets, ${down.bytes} bytes; errors: ${metrics.errors}`;
    // Replay the highlight: drop the class, force a style flush, add it again.
    call.mediaEl.classList.remove('tick');
    void call.mediaEl.offsetWidth;
    call.mediaEl.classList.add('tick');
  }

  #renderOutcomes() {
    const sorted = [...this.#outcomes.values()].sort((a, b) => b.endedMs - a.endedMs);
    for (const stale of sorted.slice(MAX_OUTCOMES)) this.#outcomes.delete(stale.id);
    const rows = sorted.slice(0, MAX_OUTCOMES).map((o) => {
      const tr = el('tr');
      tr.dataset.callId = o.id;
      const ended = el('td', 'time', formatTime(o.endedMs));
      ended.title = new Date(o.endedMs).toISOString();
      const number = el('td', 'number', o.phoneNumber || '–');
      number.title = `call ${o.id}`;
      const outcome = el('td', 'outcome');
      const badge = el('span', 'status');
      setStatusBadge(badge, o.status);
      outcome.append(badge, el('div', 'cause', causeText(o)));
      if (o.error) outcome.append(el('div', 'error', o.error));
      tr.append(ended, number, outcome, el('td', 'duration num', formatDuration(o.durationMs)));
      return tr;
    });
    this.#o.outcomesBody.replaceChildren(...rows);
    this.#o.outcomesEmpty.hidden = rows.length > 0;
  }

  #renderCounts() {
    this.#o.activeTotal.textContent = String(this.#active.size);
    this.#o.activeEmpty.hidden = this.#active.size > 0;
  }

  /**
   * A server timestamp in ms; a missing or bad one counts as now.
   * @param {string | null | undefined} iso
   */
  #ms(iso) {
    const ms = iso ? Date.parse(iso) : NaN;
    return Number.isFinite(ms) ? ms : this.#o.now();
  }
}

/**
 * @param {CallView} view
 * @param {number} nowMs used for a missing end time
 * @returns {Outcome}
 */
export function outcomeOfView(view, nowMs) {
  const createdMs = Date.parse(view.created_at);
  const endedMs = view.ended_at ? Date.parse(view.ended_at) : nowMs;
  return {
    id: view.id,
    phoneNumber: view.phone_number,
    status: view.status,
    endedMs,
    durationMs: Number.isFinite(createdMs) ? Math.max(0, endedMs - createdMs) : 0,
    hangupCause: view.hangup_cause,
    hangupCauseText: view.hangup_cause_text,
    endReason: view.end_reason,
    error: view.error,
  };
}

/**
 * "Normal Clearing (16) · hung up by operator".
 * @param {Outcome} o
 */
export function causeText(o) {
  const parts = [];
  if (o.hangupCauseText) parts.push(o.hangupCause !== null ? `${o.hangupCauseText} (${o.hangupCause})` : o.hangupCauseText);
  else if (o.hangupCause !== null) parts.push(`cause ${o.hangupCause}`);
  if (o.endReason) parts.push(END_REASONS[o.endReason] ?? o.endReason);
  return parts.length > 0 ? parts.join(' · ') : '–';
}
