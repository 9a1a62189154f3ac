/**
 * The subset of ARI events the gateway acts on, as a discriminated union on `type`
 * (Asterisk 22 REST API 10.x, events.json). Everything else is `OtherAriEvent` and only logged.
 */

export interface AriChannelJson {
  id: string;
  name: string;
  state: string; // Down | Rsrved | OffHook | Dialing | Ring | Ringing | Up | Busy | ...
  caller?: { name: string; number: string };
  connected?: { name: string; number: string };
  dialplan?: { context: string; exten: string; priority: number; app_name?: string; app_data?: string };
  channelvars?: Record<string, string>;
}

export interface AriBridgeJson {
  id: string;
  technology: string;
  bridge_type: string;
  channels: string[];
}

interface AriEventBase {
  application: string;
  timestamp: string;
  asterisk_id?: string;
}

export interface StasisStartEvent extends AriEventBase {
  type: 'StasisStart';
  args: string[];
  channel: AriChannelJson;
  replace_channel?: AriChannelJson;
}
export interface StasisEndEvent extends AriEventBase {
  type: 'StasisEnd';
  channel: AriChannelJson;
}
export interface ChannelStateChangeEvent extends AriEventBase {
  type: 'ChannelStateChange';
  channel: AriChannelJson;
}
export interface ChannelDestroyedEvent extends AriEventBase {
  type: 'ChannelDestroyed';
  channel: AriChannelJson;
  /** Q.850 cause code. */
  cause: number;
  cause_txt: string;
  /** Technology cause; for PJSIP the SIP response code that ended the call (e.g. 486). */
  tech_cause?: number;
}
export interface ChannelHangupRequestEvent extends AriEventBase {
  type: 'ChannelHangupRequest';
  channel: AriChannelJson;
  cause?: number;
  soft?: boolean;
}
export interface DialEvent extends AriEventBase {
  type: 'Dial';
  peer: AriChannelJson;
  caller?: AriChannelJson;
  dialstatus: string; // '' while dialing, then RINGING | ANSWER | BUSY | NOANSWER | CONGESTION | CHANUNAVAIL | CANCEL
  dialstring?: string;
}
export interface ChannelDtmfReceivedEvent extends AriEventBase {
  type: 'ChannelDtmfReceived';
  channel: AriChannelJson;
  digit: string;
  duration_ms: number;
}
export interface BridgeDestroyedEvent extends AriEventBase {
  type: 'BridgeDestroyed';
  bridge: AriBridgeJson;
}
export interface OtherAriEvent extends AriEventBase {
  type: 'Other';
  originalType: string;
}

export type AriEvent =
  | StasisStartEvent
  | StasisEndEvent
  | ChannelStateChangeEvent
  | ChannelDestroyedEvent
  | ChannelHangupRequestEvent
  | DialEvent
  | ChannelDtmfReceivedEvent
  | BridgeDestroyedEvent
  | OtherAriEvent;

export type AriEventType = AriEvent['type'];

const KNOWN: ReadonlySet<string> = new Set([
  'StasisStart',
  'StasisEnd',
  'ChannelStateChange',
  'ChannelDestroyed',
  'ChannelHangupRequest',
  'Dial',
  'ChannelDtmfReceived',
  'BridgeDestroyed',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Narrows a raw event from the ARI WebSocket. Events of known types missing the fields we rely on
 * are returned as `Other` rather than trusted.
 */
export function toAriEvent(raw: unknown): AriEvent | undefined {
  if (!isRecord(raw) || typeof raw.type !== 'string') return undefined;
  const base = {
    application: typeof raw.application === 'string' ? raw.application : '',
    timestamp: typeof raw.timestamp === 'string' ? raw.timestamp : '',
  };
  const other: OtherAriEvent = { ...base, type: 'Other', originalType: raw.type };
  if (!KNOWN.has(raw.type)) return other;
  const channelOk = (c: unknown): c is AriChannelJson => isRecord(c) && typeof c.id === 'string';
  switch (raw.type) {
    case 'Dial':
      return channelOk(raw.peer) ? (raw as unknown as DialEvent) : other;
    case 'BridgeDestroyed':
      return isRecord(raw.bridge) && typeof raw.bridge.id === 'string' ? (raw as unknown as BridgeDestroyedEvent) : other;
    case 'StasisStart':
      return channelOk(raw.channel) && Array.isArray(raw.args) ? (raw as unknown as StasisStartEvent) : other;
    case 'ChannelDestroyed':
      return channelOk(raw.channel) && typeof raw.cause === 'number' ? (raw as unknown as ChannelDestroyedEvent) : other;
    default:
      return channelOk(raw.channel) ? (raw as unknown as AriEvent) : other;
  }
}

/** The ids an event concerns, for routing: the channel (or Dial peer) and the bridge. */
export function routingIds(event: AriEvent): string[] {
  switch (event.type) {
    case 'Dial':
      return [event.peer.id];
    case 'BridgeDestroyed':
      return [event.bridge.id];
    case 'Other':
      return [];
    default:
      return [event.channel.id];
  }
}
