import type { Logger } from 'pino';
import type { CallControl } from '../ari/call-control';
import { BridgeError } from '../errors';
import { ownerCallId } from './ari-ids';
import type { Call } from './call';

/** What reconciling needs: Asterisk's side, and our live calls. */
export interface ReconcileOptions {
  control: CallControl;
  log: Logger;
  /** ARI_APP: inbound legs are ours when they sit in this Stasis app. */
  app: string;
  /** The live calls, read again after Asterisk's listing: a call placed meanwhile owns what it made. */
  calls: () => readonly Call[];
}

/**
 * After (re)connecting to ARI: end calls whose channels Asterisk no longer has (it restarted), and
 * remove our channels and bridges that no live call owns (we crashed or restarted). Asterisk keeps
 * them for ever otherwise (docs/asterisk.md).
 */
export async function reconcileAsterisk(o: ReconcileOptions): Promise<void> {
  const { control, log } = o;
  // Only a call whose leg existed before the listing can be missing from it: one placed while the
  // listing runs (right after the reconnect) is not in it yet.
  const placed = o.calls().filter((c) => c.hasChannel);
  const [channels, bridges] = await Promise.all([control.listChannels(), control.listBridges()]);
  // Calls placed while the listing ran made their bridge (and maybe their leg) during it: they are
  // live, not orphans.
  const calls = o.calls();
  const present = new Set(channels.map((c) => c.id));
  for (const call of placed) {
    if (!present.has(call.channelId) && call.state !== 'ended') {
      log.warn({ callId: call.id }, 'call leg gone after ARI reconnect');
      call
        .end('error', new BridgeError('ARI_CHANNEL_GONE', 'the call leg was gone when ARI reconnected (Asterisk restarted?)'))
        .catch((err: unknown) => log.error({ err, callId: call.id }, 'ending a call after reconnect failed'));
    }
  }
  await removeOrphans(o, channels, bridges, calls, true);
}

/**
 * Every so often while ARI is up: remove our channels and bridges that no live call owns. A call's
 * teardown may fail to release one (an ARI request that timed out under load: Asterisk keeps an
 * ExternalMedia channel and its RTP port for ever, docs/asterisk.md), and nothing else would.
 * Only objects named for a call: an inbound leg sits in Stasis for a moment before its call is
 * live (admission, its first record), and must not be taken for an orphan then.
 */
export async function sweepOrphans(o: ReconcileOptions): Promise<void> {
  const [channels, bridges] = await Promise.all([o.control.listChannels(), o.control.listBridges()]);
  await removeOrphans(o, channels, bridges, o.calls(), false);
}

async function removeOrphans(
  o: ReconcileOptions,
  channels: Awaited<ReturnType<CallControl['listChannels']>>,
  bridges: Awaited<ReturnType<CallControl['listBridges']>>,
  calls: readonly Call[],
  withInboundLegs: boolean,
): Promise<void> {
  const { control, log } = o;
  const live = new Set(calls.map((c) => c.id));
  const owner = ownerCallId;
  const liveChannels = new Set(calls.map((c) => c.channelId));
  // Inbound legs keep Asterisk's channel id; they are ours when they sit in our Stasis app.
  const isOurInbound = (ch: (typeof channels)[number]): boolean =>
    ch.dialplan?.app_name === 'Stasis' && (ch.dialplan.app_data ?? '').startsWith(`${o.app},inbound`);
  for (const ch of channels) {
    const callId = owner(ch.id);
    const isOrphan = callId ? !live.has(callId) : withInboundLegs && isOurInbound(ch) && !liveChannels.has(ch.id);
    if (isOrphan) {
      log.warn({ channelId: ch.id }, 'hanging up orphaned channel');
      await control.hangup(ch.id).catch((err: unknown) => log.warn({ err, channelId: ch.id }, 'orphan hangup failed'));
    }
  }
  for (const br of bridges) {
    const callId = owner(br.id);
    if (callId && !live.has(callId)) {
      log.warn({ bridgeId: br.id }, 'destroying orphaned bridge');
      await control.destroyBridge(br.id).catch((err: unknown) => log.warn({ err, bridgeId: br.id }, 'orphan bridge destroy failed'));
    }
  }
}
