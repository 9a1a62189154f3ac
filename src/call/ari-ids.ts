/**
 * Ids of the Asterisk objects a call creates. They carry the call id behind fixed prefixes so that
 * start-up recovery can tell our orphans from anything else in Asterisk.
 */
export const ARI_ID_PREFIX = 'vg-';
export function callChannelId(callId: string): string {
  return `${ARI_ID_PREFIX}${callId}`;
}
export function mediaChannelId(callId: string): string {
  return `${ARI_ID_PREFIX}em-${callId}`;
}
export function bridgeId(callId: string): string {
  return `${ARI_ID_PREFIX}br-${callId}`;
}
export function transferChannelId(callId: string): string {
  return `${ARI_ID_PREFIX}tr-${callId}`;
}
/** Name of the call's stored recording in Asterisk (ARI /recordings/stored/{name}). */
export function recordingName(callId: string): string {
  return `${ARI_ID_PREFIX}rec-${callId}`;
}

/** Playback of ringback to the call leg while the agent connects after answer (AGENT_CONNECT). */
export function ringbackId(callId: string): string {
  return `${ARI_ID_PREFIX}rb-${callId}`;
}
