/**
 * Ids of the Asterisk objects a call creates. They carry the call id behind fixed prefixes so that
 * start-up recovery can tell our orphans from anything else in Asterisk (`ownerCallId`).
 */
export const ARI_ID_PREFIX = 'vg-';
export function callChannelId(callId: string): string {
  return `${ARI_ID_PREFIX}${callId}`;
}
/**
 * The ExternalMedia channel of the call's `generation`-th agent conversation (AGENT_CONNECT may
 * release one while the phone rings and open another on answer: a new link has a new RTP endpoint,
 * so a new channel). The first keeps the plain `vg-em-<call id>`; later ones are `vg-em<n>-<call id>`.
 */
export function mediaChannelId(callId: string, generation = 1): string {
  return generation === 1 ? `${ARI_ID_PREFIX}em-${callId}` : `${ARI_ID_PREFIX}em${generation}-${callId}`;
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

/**
 * The call id an Asterisk channel or bridge id names (any id above but the recording's and the
 * ringback's, which are no channels), or undefined when it is not one of ours. Call ids are UUIDs:
 * they never start with a prefix's letters.
 */
export function ownerCallId(objectId: string): string | undefined {
  return /^vg-(?:em[0-9]*-|br-|tr-)?(.+)$/.exec(objectId)?.[1];
}
