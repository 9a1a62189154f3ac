/**
 * A media worker thread: it runs the conversation links of the calls the main thread gives it —
 * each one's agent socket, RTP socket, resamplers — on one media clock, and answers commands.
 * Started by MediaWorkerPool (worker-pool.ts); nothing else imports this file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TELEPHONY_RATE_HZ } from '../../audio/frame';
import { ResamplerPool, WARM_AGENT_RATE_HZ } from '../../audio/resampler';
import { createLogger } from '../../logger';
import type { ConversationLink, ConversationLinkHandlers, EarlyMedia } from '../conversation-link';
import { LocalLink } from '../local-link';
import { MediaClock } from '../media-clock';
import { LINK_EVENT_NAMES, toWireError, type LinkEventName, type LinkStats, type MainToWorker, type MediaWorkerSetup, type WorkerToMain } from './link-protocol';

const port = parentPort;
if (port === null) throw new Error('media-worker.ts runs only as a worker thread');
const setup = workerData as MediaWorkerSetup;
const log = createLogger({ level: setup.logLevel, destinationFd: 1 }).child({ component: 'media', worker: setup.index });
const pool = new ResamplerPool({ maxIdle: setup.resamplerMaxIdle });
const mediaClock = new MediaClock();
const deps = { agent: setup.agent, media: { config: setup.media, pool, mediaClock, log }, log };
/** Links by id (the reqId of their open). */
const links = new Map<number, ConversationLink>();
const opening = new Map<number, AbortController>();
/** What the main thread tells links still opening with early media (EarlyMedia.joined, .answered). */
const earlyOf = new Map<number, { join: (remote: { address: string; port: number }) => void; answer: (atEpochMs: number) => void }>();

function send(message: WorkerToMain): void {
  port!.postMessage(message);
}

/** Handlers that forward every report (LINK_EVENT_NAMES: all of them) to the main thread, in order. */
function forwarding(linkId: number): ConversationLinkHandlers {
  const forward =
    (name: LinkEventName) =>
    (...args: unknown[]): void =>
      send({ t: 'event', linkId, name, args: name === 'onFailed' ? [toWireError(args[0])] : args });
  return Object.fromEntries(LINK_EVENT_NAMES.map((name) => [name, forward(name)])) as unknown as ConversationLinkHandlers;
}

async function open(m: Extract<MainToWorker, { t: 'open' }>): Promise<void> {
  const abort = new AbortController();
  opening.set(m.reqId, abort);
  let early: EarlyMedia | undefined;
  if (m.hasEarlyMedia) {
    let join!: (remote: { address: string; port: number }) => void;
    let answer!: (atEpochMs: number) => void;
    const joined = new Promise<{ address: string; port: number }>((resolve) => (join = resolve));
    const answered = new Promise<number>((resolve) => (answer = resolve));
    earlyOf.set(m.reqId, { join, answer });
    early = { onLocalAddress: (localRtpAddress) => send({ t: 'media-address', reqId: m.reqId, localRtpAddress }), joined, answered };
  }
  try {
    const link = await LocalLink.open(deps, m.callId, m.request, abort.signal, early);
    links.set(m.reqId, link);
    const info = { conversationId: link.conversationId, inputFormat: link.inputFormat, outputFormat: link.outputFormat, localRtpAddress: link.localRtpAddress };
    // 'opened' first: the main thread registers the link on it, and the reports that setHandlers
    // releases at once (the greeting's transcript) must find it there.
    send({ t: 'opened', reqId: m.reqId, info });
    link.setHandlers(forwarding(m.reqId));
  } catch (err) {
    send({ t: 'open-failed', reqId: m.reqId, error: toWireError(err) });
  } finally {
    opening.delete(m.reqId);
    earlyOf.delete(m.reqId);
  }
}

function command(m: Extract<MainToWorker, { t: 'cmd' }>): void {
  const link = links.get(m.linkId);
  if (link === undefined) return; // closed meanwhile: commands to a gone link are no-ops
  const method = link[m.name] as (...args: unknown[]) => void;
  try {
    method.apply(link, m.args);
  } catch (err) {
    // That link's failure, as it would be in-process: the other calls on this worker go on.
    log.error({ err, command: m.name }, 'link command failed');
    send({ t: 'event', linkId: m.linkId, name: 'onFailed', args: [toWireError(err)] });
  }
}

async function close(m: Extract<MainToWorker, { t: 'close' }>): Promise<void> {
  const link = links.get(m.linkId);
  links.delete(m.linkId);
  if (link !== undefined) {
    await link.close(m.code, m.reason);
    // The final counters, before the answer: the call's record keeps them (the timer below may not run again for it).
    send({ t: 'stats', links: [{ linkId: m.linkId, metrics: link.metrics(), issues: link.playoutIssues() }] });
  }
  send({ t: 'done', reqId: m.reqId });
}

async function drain(m: Extract<MainToWorker, { t: 'drain' }>): Promise<void> {
  await links.get(m.linkId)?.drainPlayout(m.timeoutMs);
  send({ t: 'done', reqId: m.reqId });
}

// As on the main thread (src/index.ts): a stray rejection is one operation's failure, not a reason
// to end every call this worker carries. Lint keeps this idle.
process.on('unhandledRejection', (reason) => {
  log.error({ err: reason }, 'unhandled promise rejection in a media worker (a bug: every promise should be handled)');
});

port.on('message', (m: MainToWorker) => {
  const failed = (err: unknown): void => log.error({ err, type: m.t }, 'media worker request failed');
  switch (m.t) {
    case 'open':
      open(m).catch(failed);
      return;
    case 'abort-open':
      opening.get(m.reqId)?.abort();
      return;
    case 'joined':
      earlyOf.get(m.reqId)?.join(m.remote);
      return;
    case 'answered':
      earlyOf.get(m.reqId)?.answer(m.atEpochMs);
      return;
    case 'cmd':
      command(m);
      return;
    case 'drain':
      drain(m).catch(failed);
      return;
    case 'close':
      close(m).catch(failed);
      return;
    case 'stall':
      // A wedged thread, for fault drills: nothing here runs until the main thread notifies.
      Atomics.wait(new Int32Array(m.gate), 0, 0);
      return;
  }
});

// Counters travel on a timer, not per packet: the main thread reads them for views and metrics.
const statsTimer = setInterval(() => {
  if (links.size === 0) return;
  const stats: LinkStats[] = [];
  for (const [linkId, link] of links) stats.push({ linkId, metrics: link.metrics(), issues: link.playoutIssues() });
  send({ t: 'stats', links: stats });
}, setup.statsIntervalMs);
statsTimer.unref();

send({ t: 'ready' });
// Toward pcm_16000, ElevenLabs' default agent format; another rate reconfigures an engine on
// acquire (a filter reset, not a new heap).
pool
  .warmForCalls(setup.resamplerWarmCalls, TELEPHONY_RATE_HZ, WARM_AGENT_RATE_HZ, setup.media.resamplerConverter)
  .then(
    (engines) => send({ t: 'warmed', engines }),
    (err: unknown) => log.warn({ err }, 'resampler warm-up failed; engines are made per call'),
  );
