// @ts-check
/* global window, console, setTimeout, clearTimeout, setInterval, clearInterval */
/**
 * Voice gateway dashboard: wiring of the page (vanilla ES modules, no build step, self-only CSP).
 *
 *   GET /health every 5 s (public)          → header: ARI state, active calls, version
 *   GET /api/calls on every (re)connect     → active calls and the last 20 outcomes
 *   GET /api/events (SSE, access_token)     → live statuses, transcript lines, metrics ticks, outcomes
 *   POST /api/calls, DELETE /api/calls/{id} → "Call" and "Hang up"
 *   GET /api/campaigns, POST …/{id}/pause|resume|cancel → the campaigns panel (live on `campaign` events)
 *
 * Without a valid token (when the gateway wants one) only the token form shows; a 401 at any time
 * stops everything, forgets what was shown and asks again.
 */
import { ACTIVE_STATUSES, CallBoard, MAX_OUTCOMES, TERMINAL_STATUSES } from './call-board.js';
import { CampaignPanel } from './campaigns.js';
import { byId, errorText, setPill } from './format.js';
import { ApiError, GatewayClient, LiveEvents, tokenStore } from './gateway-client.js';
import { TranscriptPanel } from './transcripts.js';

const HEALTH_INTERVAL_MS = 5000;
const CALL_NOTE_MS = 10_000;
/** Calls listed as live on a re-sync (more than any one gateway carries). */
const MAX_LIVE_LISTED = 200;

const ui = {
  auth: byId('auth'),
  authForm: byId('auth-form'),
  authError: byId('auth-error'),
  tokenInput: /** @type {HTMLInputElement} */ (byId('token')),
  board: byId('board'),
  signOut: byId('sign-out'),
  version: byId('version'),
  ariState: byId('ari-state'),
  activeCount: byId('active-count'),
  streamState: byId('stream-state'),
  callForm: byId('call-form'),
  phone: /** @type {HTMLInputElement} */ (byId('phone')),
  callButton: /** @type {HTMLButtonElement} */ (byId('call-button')),
  callNote: byId('call-status'),
};

/** Server clock minus ours (Date header), so durations do not drift with a skewed client clock. */
let clockOffsetMs = 0;
const serverNow = () => Date.now() + clockOffsetMs;

const client = new GatewayClient({ token: tokenStore.get(), onUnauthorized: () => requireToken(client.token ? 'The gateway rejected this token.' : '') });
/** Calls whose view is being fetched (one request per call at a time). */
const detailsInFlight = new Set();
/** Calls whose detail was asked for again while a fetch was running. @type {Set<string>} */
const detailsAgain = new Set();

const board = new CallBoard({
  activeBody: /** @type {HTMLTableSectionElement} */ (byId('active-calls').querySelector('tbody')),
  activeEmpty: byId('active-empty'),
  activeTotal: byId('active-total'),
  outcomesBody: /** @type {HTMLTableSectionElement} */ (byId('outcomes').querySelector('tbody')),
  outcomesEmpty: byId('outcomes-empty'),
  transcripts: new TranscriptPanel(byId('transcripts'), byId('transcripts-empty')),
  now: serverNow,
  onHangUp: (id) => void hangUp(id),
  onCallsChanged: () => scheduleHealth(),
  needDetail: (id) => void fetchDetail(id),
});

const campaigns = new CampaignPanel({
  body: /** @type {HTMLTableSectionElement} */ (byId('campaigns').querySelector('tbody')),
  empty: byId('campaigns-empty'),
  note: byId('campaigns-note'),
  client,
});

const stream = new LiveEvents({
  url: () => client.eventsUrl(),
  onEvent: (event) => {
    board.applyEvent(event);
    campaigns.applyEvent(event);
  },
  onOpen: () => {
    void resync();
    void campaigns.load();
  },
  onState: (state, retryInMs) => {
    if (state === 'live') setPill(ui.streamState, 'Live', 'pill-ok');
    else if (state === 'connecting') setPill(ui.streamState, 'Events: connecting…', 'pill-unknown');
    else if (state === 'reconnecting') setPill(ui.streamState, `Reconnecting in ${Math.ceil((retryInMs ?? 0) / 1000)} s`, 'pill-warn');
    else setPill(ui.streamState, 'Events: off', 'pill-unknown');
  },
  // A 401 ends an EventSource without saying so: ask the API (a 401 there shows the token form).
  probe: async () => {
    try {
      await client.listCalls([], 1);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false;
      throw err;
    }
  },
});

/** @type {ReturnType<typeof setInterval> | undefined} */
let healthTimer;
/** @type {ReturnType<typeof setInterval> | undefined} */
let tickTimer;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let healthSoon;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let callNoteTimer;
let isLive = false;

// ---------------------------------------------------------------- data

/** Load live calls and recent outcomes; runs on every (re)connect, as events may have been missed. */
async function resync() {
  try {
    const [live, done] = await Promise.all([client.listCalls(ACTIVE_STATUSES, MAX_LIVE_LISTED), client.listCalls(TERMINAL_STATUSES, MAX_OUTCOMES)]);
    for (const view of done.calls) board.applyView(view);
    const liveIds = new Set(live.calls.map((c) => c.id));
    for (const view of live.calls) board.applyView(view);
    for (const id of board.activeIds()) {
      const call = board.activeCall(id);
      // Shown as live but not stored as live: ended while we were away. Stored records may also lag
      // the live call (conversation id): the call's own view is fresher.
      if (!liveIds.has(id) || (call?.status === 'answered' && !call.conversationId)) void fetchDetail(id);
    }
  } catch (err) {
    console.warn('re-sync failed', errorText(err));
  }
}

/** @param {string} id */
async function fetchDetail(id) {
  // Asked again while a fetch runs: the view it brings may predate what prompted the new ask (the
  // conversation id arrives after the answer), so fetch once more when it is done.
  if (detailsInFlight.has(id)) {
    detailsAgain.add(id);
    return;
  }
  detailsInFlight.add(id);
  try {
    board.applyView(await client.getCall(id));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) board.forget(id);
    else console.warn('call detail failed', id, errorText(err));
  } finally {
    detailsInFlight.delete(id);
    if (detailsAgain.delete(id)) void fetchDetail(id);
  }
}

/** @param {string} id */
async function hangUp(id) {
  board.setHangingUp(id, true);
  try {
    board.applyView(await client.hangUp(id));
  } catch (err) {
    board.setHangingUp(id, false);
    showCallNote(`Hang-up failed: ${errorText(err)}`, 'error');
  }
}

async function refreshHealth() {
  try {
    const { health, clockOffsetMs: offsetMs } = await client.health();
    clockOffsetMs = offsetMs;
    const isConnected = health.ari === 'connected';
    setPill(ui.ariState, isConnected ? 'ARI connected' : 'ARI disconnected', isConnected ? 'pill-ok' : 'pill-bad');
    ui.ariState.title = 'Connection to Asterisk (ARI)';
    setPill(ui.activeCount, `${health.active_calls} active`, 'pill-neutral');
    ui.version.textContent = typeof health.version === 'string' ? `v${health.version}` : '';
  } catch (err) {
    setPill(ui.ariState, 'Gateway unreachable', 'pill-bad');
    ui.ariState.title = errorText(err);
  }
}

/** Refresh the header soon after a call starts or ends (debounced). */
function scheduleHealth() {
  if (!isLive || healthSoon !== undefined) return;
  healthSoon = setTimeout(() => {
    healthSoon = undefined;
    void refreshHealth();
  }, 300);
}

// ---------------------------------------------------------------- forms

/**
 * The line under the call form; notes of success fade, errors stay until the next attempt.
 * @param {string} text
 * @param {'ok' | 'error' | ''} kind
 */
function showCallNote(text, kind) {
  clearTimeout(callNoteTimer);
  ui.callNote.textContent = text;
  ui.callNote.className = `hint ${kind}`;
  if (kind === 'ok') {
    callNoteTimer = setTimeout(() => {
      ui.callNote.textContent = '';
    }, CALL_NOTE_MS);
  }
}

ui.callForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const phoneNumber = ui.phone.value.trim();
  if (!phoneNumber) return;
  ui.callButton.disabled = true;
  showCallNote(`Calling ${phoneNumber}…`, '');
  client
    .placeCall(phoneNumber)
    .then((view) => {
      board.applyView(view);
      showCallNote(`Call placed to ${view.phone_number}`, 'ok');
      ui.phone.value = '';
    })
    .catch((err) => showCallNote(`Not placed: ${errorText(err)}`, 'error'))
    .finally(() => {
      ui.callButton.disabled = false;
    });
});

ui.authForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.tokenInput.value.trim();
  if (!token) return;
  client.token = token;
  tokenStore.set(token);
  ui.tokenInput.value = '';
  ui.authError.textContent = '';
  void start();
});

ui.signOut.addEventListener('click', () => {
  tokenStore.clear();
  client.token = '';
  requireToken('');
});

// ---------------------------------------------------------------- lifecycle

/**
 * Stop streaming and polling, forget what was shown, and ask for a token.
 * @param {string} message why (empty: just ask)
 */
function requireToken(message) {
  stopLive();
  board.clear();
  campaigns.clear();
  ui.board.hidden = true;
  ui.signOut.hidden = true;
  ui.auth.hidden = false;
  ui.authError.textContent = message;
  ui.tokenInput.focus();
}

function stopLive() {
  isLive = false;
  stream.stop();
  clearTimeout(healthSoon);
  clearTimeout(callNoteTimer);
  clearInterval(healthTimer);
  clearInterval(tickTimer);
  healthSoon = callNoteTimer = healthTimer = tickTimer = undefined;
}

/** Check the token (when the gateway wants one), then go live. */
async function start() {
  try {
    await client.listCalls([], 1);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // the token form is showing
    console.warn('gateway not reachable yet', errorText(err)); // the stream's backoff keeps trying
  }
  stopLive();
  ui.auth.hidden = true;
  ui.board.hidden = false;
  ui.signOut.hidden = !client.token;
  isLive = true;
  stream.start();
  void refreshHealth();
  healthTimer = setInterval(() => void refreshHealth(), HEALTH_INTERVAL_MS);
  tickTimer = setInterval(() => board.tick(), 1000);
}

window.addEventListener('pagehide', () => stopLive());
// Back from the back/forward cache: the stream and timers were stopped on pagehide.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) void start();
});
void refreshHealth(); // the header is public: show it even while the token form is up
void start();
