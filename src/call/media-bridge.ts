/**
 * The call's bridge and the agent's ExternalMedia channel in it. The media path is built while the
 * phone rings: bridge, call leg and ExternalMedia channel are joined before the answer, so the
 * answer itself needs no ARI request before audio flows both ways (docs/asterisk.md#early-bridge).
 */
import type { Logger } from 'pino';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl, ExternalMediaAddress } from '../ari/call-control';
import { BridgeError } from '../errors';
import type { DisposerStack } from '../lifecycle/disposer-stack';
import { withTimeout } from '../lifecycle/timers';
import type { ConversationLink } from '../media/conversation-link';
import { bridgeId, mediaChannelId, recordingName } from './ari-ids';

/** Makes the call's mixing bridge; it is destroyed with the call (Asterisk keeps it otherwise). */
export async function createCallBridge(control: CallControl, disposers: DisposerStack, callId: string): Promise<void> {
  await control.createBridge(bridgeId(callId));
  disposers.defer('bridge', () => control.destroyBridge(bridgeId(callId)));
}

export interface JoinMediaOptions {
  control: CallControl;
  router: AriEventRouter;
  /** The conversation's teardown: the ExternalMedia channel goes with the agent (e.g. at a transfer). */
  mediaDisposers: DisposerStack;
  app: string;
  format: 'slin' | 'alaw' | 'ulaw';
  callId: string;
  /** The conversation's attempt (src/call/agent-connect.ts): names the channel. */
  generation: number;
  /** host:port of our RTP endpoint; Asterisk sends the call's audio there. */
  localRtpAddress: string;
  isEnding: () => boolean;
}

/**
 * Adds a new ExternalMedia channel for our RTP endpoint to the call's bridge. Resolves with the
 * address Asterisk receives our RTP on, or undefined when the call ended meanwhile.
 */
export async function joinAgentMedia(o: JoinMediaOptions): Promise<ExternalMediaAddress | undefined> {
  const { control, router } = o;
  const emId = mediaChannelId(o.callId, o.generation);
  // Adding the ExternalMedia channel before its StasisStart can fail with 422; wait for it.
  const emReady = new Promise<void>((resolve) => {
    const sub = router.subscribe(emId, () => resolve(), ['StasisStart']);
    o.mediaDisposers.defer('em-subscription', () => sub.cancel(), 'last');
  });
  const remote = await control.createExternalMedia({ channelId: emId, app: o.app, externalHost: o.localRtpAddress, format: o.format, data: `media,${o.callId}` });
  o.mediaDisposers.defer('external-media', () => control.hangup(emId));
  await withTimeout(emReady, 3000, () => new BridgeError('EM_NOT_IN_STASIS', 'ExternalMedia channel did not enter Stasis'));
  if (o.isEnding()) return undefined;
  await control.addToBridge(bridgeId(o.callId), [emId]);
  return remote;
}

export interface StartMediaOptions {
  control: CallControl;
  log: Logger;
  link: ConversationLink;
  remote: ExternalMediaAddress;
  /** epochNowMs() from which the caller's audio is the callee's (ConversationLink.start). */
  callerFromEpochMs: number;
  callId: string;
  legChannelId: string;
  /** The request asked for a recording of the bridge. */
  isRecorded: boolean;
}

/**
 * The far end answered and the media path is in place: start the link (caller audio to the agent,
 * the agent's held greeting to the caller) at once, then the recording when asked, and put the
 * conversation id on the leg for `core show channel`.
 */
export async function startConversationMedia(o: StartMediaOptions): Promise<{ isRecording: boolean }> {
  const { control, link, log, remote } = o;
  link.start(remote, o.callerFromEpochMs);
  let isRecording = false;
  if (o.isRecorded) {
    await control
      .recordBridge(bridgeId(o.callId), recordingName(o.callId))
      .then(() => void (isRecording = true))
      .catch((err: unknown) => log.warn({ err }, 'could not start the recording'));
  }
  log.info({ conversationId: link.conversationId, rtpRemote: `${remote.address}:${remote.port}` }, 'call bridged to agent');
  control.setChannelVar(o.legChannelId, 'VG_CONVERSATION_ID', link.conversationId).catch((err: unknown) => log.debug({ err }, 'could not set VG_CONVERSATION_ID'));
  return { isRecording };
}
