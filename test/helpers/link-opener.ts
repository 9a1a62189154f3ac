/**
 * A link opener for component tests that run a link both ways the gateway does: in this thread
 * (LocalLink) and in a media worker thread (WorkerLink), on the ElevenLabs simulator.
 */
import type { ResamplerPool } from '../../src/audio/resampler';
import { silentLogger } from '../../src/logger';
import type { ConversationLinkHandlers, LinkOpener } from '../../src/media/conversation-link';
import { createLocalLinkOpener } from '../../src/media/local-link';
import type { MediaClock } from '../../src/media/media-clock';
import type { MediaConfig } from '../../src/media/media-session';
import { MediaWorkerPool } from '../../src/media/worker/worker-pool';

export type LinkHome = 'in-process' | 'media worker';
export const LINK_HOMES: readonly LinkHome[] = ['in-process', 'media worker'];

export interface TestLinkOpener {
  readonly open: LinkOpener;
  /** Stops the media worker, if one was started (its links with it). */
  stop(): Promise<void>;
}

/** In-process links share the caller's `pool` and `mediaClock`; a worker has its own. */
export function testLinkOpener(
  where: LinkHome,
  o: { apiUrl: string; agentId: string; media: MediaConfig; pool: ResamplerPool; mediaClock: MediaClock },
): TestLinkOpener {
  const agent = { apiUrl: o.apiUrl, apiKey: undefined, defaultAgentId: o.agentId, connectTimeoutMs: 3000 };
  if (where === 'in-process') {
    return { open: createLocalLinkOpener({ agent, media: { config: o.media, pool: o.pool, mediaClock: o.mediaClock, log: silentLogger() }, log: silentLogger() }), stop: () => Promise.resolve() };
  }
  const workers = new MediaWorkerPool({
    workers: 1,
    setup: { agent, media: o.media, logLevel: 'silent', resamplerMaxIdle: 2, resamplerWarmCalls: 0, statsIntervalMs: 20 },
    log: silentLogger(),
  });
  return { open: workers.open, stop: () => workers.stop() };
}

/** Handlers that ignore every report but those given. */
export function handlersWith(some: Partial<ConversationLinkHandlers>): ConversationLinkHandlers {
  const none = (): void => undefined;
  return {
    onTranscript: none,
    onInterruption: none,
    onEndCallRequested: none,
    onToolCall: none,
    onAgentClosed: none,
    onFirstPlayout: none,
    onFrameRefused: none,
    onFailed: none,
    ...some,
  };
}
