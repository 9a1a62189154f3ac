// @ts-check
/**
 * The dashboard's campaigns panel: each campaign with its progress (leads done of all, and how
 * they stand), kept live by the `campaign` events of the stream, with Pause / Resume / Cancel.
 * Text from the server goes in as text only.
 */
import { el, errorText, setStatusBadge } from './format.js';

/**
 * @typedef {{ total: number, by_state: Record<string, number>, by_reason: Record<string, number> }} Counts
 * @typedef {{ id: string, name: string, status: string, counts: Counts, is_window_open: boolean }} CampaignView
 * @typedef {{ request: (method: string, path: string, body?: unknown) => Promise<unknown> }} Requester
 */

const SHOWN = 20;
const FINAL = ['completed', 'failed', 'cancelled'];

export class CampaignPanel {
  /** @type {Map<string, { view: CampaignView, row: HTMLTableRowElement }>} */
  #rows = new Map();
  #o;

  /**
   * @param {{ body: HTMLTableSectionElement, empty: HTMLElement, note: HTMLElement, client: Requester }} options
   */
  constructor(options) {
    this.#o = options;
  }

  /** Load the newest campaigns (on every (re)connect of the stream). */
  async load() {
    try {
      const list = /** @type {{ campaigns: CampaignView[] }} */ (await this.#o.client.request('GET', `/api/campaigns?limit=${SHOWN}`));
      for (const view of [...list.campaigns].reverse()) this.#show(view);
    } catch (err) {
      // A gateway without a campaign store has no such route: the panel stays empty.
      this.#o.note.textContent = errorText(err);
    }
  }

  /** @param {unknown} raw an event of the stream; only `campaign` ones concern the panel */
  applyEvent(raw) {
    if (typeof raw !== 'object' || raw === null) return;
    const ev = /** @type {Record<string, unknown>} */ (raw);
    if (ev.type !== 'campaign' || typeof ev.campaign_id !== 'string') return;
    const known = this.#rows.get(ev.campaign_id);
    if (known === undefined) {
      void this.#refresh(ev.campaign_id);
      return;
    }
    const counts = /** @type {Counts} */ (ev.counts);
    this.#show({ ...known.view, status: typeof ev.status === 'string' ? ev.status : known.view.status, counts });
  }

  clear() {
    this.#rows.clear();
    this.#o.body.replaceChildren();
    this.#o.empty.hidden = false;
  }

  /** @param {string} id */
  async #refresh(id) {
    try {
      this.#show(/** @type {CampaignView} */ (await this.#o.client.request('GET', `/api/campaigns/${encodeURIComponent(id)}`)));
    } catch (err) {
      this.#o.note.textContent = errorText(err);
    }
  }

  /** @param {CampaignView} view */
  #show(view) {
    const row = this.#rows.get(view.id)?.row ?? this.#newRow();
    this.#rows.set(view.id, { view, row });
    const [name, status, progress, detail, actions] = /** @type {HTMLTableCellElement[]} */ ([...row.cells]);
    name.textContent = view.name;
    setStatusBadge(/** @type {HTMLElement} */ (status.firstChild), view.status === 'running' && !view.is_window_open ? 'waiting-window' : view.status);
    const done = FINAL.reduce((n, s) => n + (view.counts.by_state[s] ?? 0), 0);
    progress.textContent = `${done} / ${view.counts.total}`;
    detail.textContent = [
      ...['calling', 'waiting'].filter((s) => (view.counts.by_state[s] ?? 0) > 0).map((s) => `${s} ${view.counts.by_state[s]}`),
      ...Object.entries(view.counts.by_reason).map(([reason, n]) => `${reason} ${n}`),
    ].join(' · ');
    actions.replaceChildren(...this.#buttons(view));
    this.#o.empty.hidden = this.#rows.size > 0;
  }

  #newRow() {
    const row = el('tr');
    const statusCell = el('td');
    statusCell.append(el('span'));
    row.append(el('td'), statusCell, el('td', 'num'), el('td', 'detail'), el('td', 'actions'));
    this.#o.body.prepend(row);
    return row;
  }

  /** @param {CampaignView} view */
  #buttons(view) {
    if (view.status !== 'running' && view.status !== 'paused') return [];
    const action = /** @type {(name: 'pause' | 'resume' | 'cancel', label: string) => HTMLButtonElement} */ ((name, label) => {
      const button = el('button', name === 'cancel' ? 'danger' : 'plain', label);
      button.type = 'button';
      button.addEventListener('click', () => {
        button.disabled = true;
        this.#o.client
          .request('POST', `/api/campaigns/${encodeURIComponent(view.id)}/${name}`)
          .then((next) => this.#show(/** @type {CampaignView} */ (next)))
          .catch((err) => {
            button.disabled = false;
            this.#o.note.textContent = `${label} failed: ${errorText(err)}`;
          });
      });
      return button;
    });
    return [view.status === 'running' ? action('pause', 'Pause') : action('resume', 'Resume'), action('cancel', 'Cancel')];
  }
}
