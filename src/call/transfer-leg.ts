import type { AriEventRouter, Subscription } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import { BridgeError } from '../errors';
import { classifyUnanswered } from './hangup-cause';

export interface TransferLegOptions {
  control: CallControl;
  router: AriEventRouter;
  channelId: string;
  endpoint: string;
  app: string;
  callId: string;
  callerId: string | undefined;
  ringTimeoutS: number;
}

/**
 * Dials the transfer target into Stasis. Resolves once it answers (its StasisStart), with the
 * subscription still live so the caller keeps receiving the leg's events through `onEvent`;
 * rejects with a BridgeError naming why (busy, no answer, rejected) if it never answers.
 * The caller owns the returned leg: it must hang it up and cancel the subscription.
 */
export async function dialTransferLeg(
  o: TransferLegOptions,
  onEndedAfterAnswer: () => void,
): Promise<{ subscription: Subscription }> {
  let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const answered = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let isAnswered = false;
  const subscription = o.router.subscribe(o.channelId, (e) => {
    if (e.type === 'StasisStart' && !isAnswered) {
      isAnswered = true;
      settle?.resolve();
    } else if (e.type === 'ChannelDestroyed' || e.type === 'StasisEnd') {
      if (isAnswered) onEndedAfterAnswer();
      else if (e.type === 'ChannelDestroyed') {
        settle?.reject(new BridgeError('TRANSFER_NOT_ANSWERED', `transfer target did not answer (${classifyUnanswered(e.cause)}, cause ${e.cause})`));
      }
    }
  });
  try {
    await o.control.originate({
      endpoint: o.endpoint,
      channelId: o.channelId,
      app: o.app,
      appArgs: `transfer,${o.callId}`,
      callerId: o.callerId,
      timeoutS: o.ringTimeoutS,
      formats: 'alaw,ulaw',
      variables: { VG_CALL_ID: o.callId },
    });
    await answered;
    return { subscription };
  } catch (err) {
    subscription.cancel();
    throw err;
  }
}
