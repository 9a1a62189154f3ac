import type { Logger } from 'pino';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl, ExternalMediaAddress } from '../ari/call-control';
import { BridgeError } from '../errors';
import type { DisposerStack } from '../lifecycle/disposer-stack';
import { withTimeout } from '../lifecycle/timers';
import type { ConversationLink } from '../media/conversation-link';
import { bridgeId, mediaChannelId, recordingName } from './ari-ids';

export interface MediaBridgeOptions {
  control: CallControl;
  router: AriEventRouter;
  /** The call's teardown: the bridge is released with the call. */
  callDisposers: DisposerStack;
  /** The conversation's teardown: the ExternalMedia channel goes with the agent (e.g. at a transfer). */
  mediaDisposers: DisposerStack;
  app: string;
  format: 'slin' | 'alaw' | 'ulaw';
  callId: string;
  legChannelId: string;
  /** host:port of our RTP endpoint; Asterisk sends the call's audio there. */
  localRtpAddress: string;
  isEnding: () => boolean;
}

/**
 * Joins a call leg and a new ExternalMedia channel in one mixing bridge. Resolves with the address
 * Asterisk receives our RTP on, or undefined when the call ended meanwhile. The bridge and the
 * ExternalMedia channel outlive the call leg in Asterisk (docs/asterisk.md), so both are
 * registered for teardown as soon as they exist.
 */
export async function bridgeLegToMedia(o: MediaBridgeOptions): Promise<ExternalMediaAddress | undefined> {
  const { control, router } = o;
  const emId = mediaChannelId(o.callId);
  const brId = bridgeId(o.callId);
  // Adding the ExternalMedia channel before its StasisStart can fail with 422; wait for it.
  const emReady = new Promise<void>((resolve) => {
    const sub = router.subscribe(emId, () => resolve(), ['StasisStart']);
    o.mediaDisposers.defer('em-subscription', () => sub.cancel(), 'last');
  });
  await control.createBridge(brId);
  o.callDisposers.defer('bridge', () => control.destroyBridge(brId));
  const remote = await control.createExternalMedia({
    channelId: emId,
    app: o.app,
    externalHost: o.localRtpAddress,
    format: o.format,
    data: `media,${o.callId}`,
  });
  o.mediaDisposers.defer('external-media', () => control.hangup(emId));
  await withTimeout(emReady, 3000, () => new BridgeError('EM_NOT_IN_STASIS', 'ExternalMedia channel did not enter Stasis'));
  if (o.isEnding()) return undefined;
  await control.addToBridge(brId, [o.legChannelId, emId]);
  return remote;
}

/** Options of `connectLegToAgent`: those of the bridge, plus the link and the call's wishes. */
export interface ConnectLegOptions extends Omit<MediaBridgeOptions, 'localRtpAddress'> {
  log: Logger;
  link: ConversationLink;
  /** The request asked for a recording of the bridge. */
  isRecorded: boolean;
}

/**
 * An answered leg meets its agent: bridged with the link's ExternalMedia channel, media started,
 * the recording started when asked, the conversation id put on the leg for `core show channel`.
 * Resolves undefined when the call ended meanwhile.
 */
export async function connectLegToAgent(o: ConnectLegOptions): Promise<{ isRecording: boolean } | undefined> {
  const { control, link, log } = o;
  const remote = await bridgeLegToMedia({ ...o, localRtpAddress: link.localRtpAddress });
  if (!remote) return undefined;
  link.start(remote);
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
