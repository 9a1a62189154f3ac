/**
 * The agent's `transfer_to_number`: permission, the transfer leg, and the swap in the bridge.
 *
 *   request ──► allowed? (listed, policy, attempts left, a free place) ──no──► refused, nothing dialled
 *      │ yes
 *      ▼
 *   leg registered on the call's teardown ──► originate ──► answered? ──no (busy, no answer,
 *      │                                                    │            timeout, call ended)──► leg hung up
 *      ▼ yes                                                ▼
 *   bridge: ExternalMedia out, leg in ──► caller and target talk until either hangs up or
 *                                         TRANSFER_MAX_DURATION_S
 *
 * The leg belongs to the call from before it is dialled: if the caller hangs up while it rings,
 * the call's teardown hangs it up at once.
 */
import type { Logger } from 'pino';
import type { AriEventRouter } from '../ari/ari-event-router';
import type { CallControl } from '../ari/call-control';
import { BridgeError } from '../errors';
import type { DisposerStack } from '../lifecycle/disposer-stack';
import type { TransferDestinations } from '../policy/transfer-destinations';
import type { AdmissionTicket } from './admission';
import { bridgeId, transferChannelId } from './ari-ids';
import { classifyUnanswered } from './hangup-cause';

/** The transfer settings (TRANSFER_*). */
export interface TransferSettings {
  destinations: TransferDestinations;
  /** Dialled transfers allowed per call. */
  maxAttempts: number;
  /** How long the target may ring. */
  ringTimeoutS: number;
  /** Longest the caller and the target may talk once bridged. */
  maxDurationS: number;
}

/** One transfer request, as reported (warn log, `transfer_attempt` event). */
export interface TransferAttempt {
  phoneNumber: string;
  isAllowed: boolean;
  /** Why it was refused, or how the number was listed. */
  reason: string;
}

/** What a transfer needs of its call. */
export interface TransferHost {
  readonly callId: string;
  readonly control: CallControl;
  readonly router: AriEventRouter;
  readonly log: Logger;
  /** The call's teardown: the leg is registered here (as a child) before it is dialled. */
  readonly disposers: DisposerStack;
  /** Aborted when the call ends. */
  readonly signal: AbortSignal;
  readonly settings: TransferSettings;
  readonly dial: { app: string; trunkEndpoint: string; callerId: string | undefined };
  /** The destination policy (toll fraud); an Error naming the refusal, or null. */
  checkDestination(phoneNumber: string): Error | null;
  /** Capacity and the call-attempt rate limit for the leg; throws the refusal. */
  admitLeg(): AdmissionTicket;
  isAnswered(): boolean;
  isEnding(): boolean;
  /** The agent's ExternalMedia channel in the bridge now (it leaves for the target); undefined: none. */
  mediaChannelId(): string | undefined;
  onAttempt(attempt: TransferAttempt): void;
  /** The target answered and is bridged with the caller; the agent must leave. */
  onBridged(phoneNumber: string): void;
  /** The bridged target hung up, or the bridged call reached its limit. */
  onTransferredCallEnded(reason: 'callee' | 'max-duration'): void;
}

/** A refusal the agent can say to the caller; the call goes on. */
export class TransferRefusedError extends BridgeError {}

/** Runs the transfers of one call (at most `maxAttempts` dialled, one at a time). */
export class CallTransfers {
  readonly #host: TransferHost;
  #dialled = 0;
  #isBusy = false;

  constructor(host: TransferHost) {
    this.#host = host;
  }

  /** Resolves with a sentence for the agent once the target is bridged; rejects with why not. */
  async transfer(phoneNumber: string): Promise<string> {
    const ticket = this.#admit(phoneNumber);
    this.#isBusy = true;
    try {
      await this.#dialAndBridge(phoneNumber, ticket);
      return `transferred to ${phoneNumber}`;
    } finally {
      this.#isBusy = false;
    }
  }

  /** Checks every rule; reports the attempt either way. Returns the leg's admission ticket. */
  #admit(phoneNumber: string): AdmissionTicket {
    const h = this.#host;
    const refuse = (code: string, reason: string): never => {
      h.onAttempt({ phoneNumber, isAllowed: false, reason });
      throw new TransferRefusedError(code, reason);
    };
    if (!h.isAnswered() || h.isEnding() || this.#isBusy) refuse('TRANSFER_NOT_POSSIBLE', 'the call cannot be transferred right now');
    const listing = h.settings.destinations.match(phoneNumber);
    if (listing === 'none') refuse('TRANSFER_NOT_ALLOWED', 'this number is not one the caller may be transferred to');
    const policy = h.checkDestination(phoneNumber);
    if (policy !== null) refuse('TRANSFER_NOT_ALLOWED', `this number may not be dialled: ${policy.message}`);
    if (this.#dialled >= h.settings.maxAttempts) refuse('TRANSFER_LIMIT', 'no further transfer is allowed on this call');
    let ticket: AdmissionTicket | undefined;
    try {
      ticket = h.admitLeg();
    } catch (err) {
      refuse('TRANSFER_NO_CAPACITY', `the transfer cannot be placed now (${err instanceof Error ? err.message : String(err)})`);
    }
    this.#dialled += 1;
    h.onAttempt({ phoneNumber, isAllowed: true, reason: listing === 'exact' ? 'listed number' : 'listed prefix' });
    return ticket!;
  }

  async #dialAndBridge(phoneNumber: string, ticket: AdmissionTicket): Promise<void> {
    const h = this.#host;
    const legId = transferChannelId(h.callId);
    // Everything of the leg is released with the call, or earlier here when the transfer fails.
    const leg = h.disposers.child('transfer');
    leg.defer('transfer-ticket', () => ticket.release());
    leg.defer('transfer-leg', () => h.control.hangup(legId));
    // Hanging up is idempotent: when it failed above (ARI down), the call's own teardown tries again.
    h.disposers.defer('transfer-leg-retry', () => h.control.hangup(legId));

    let isBridged = false;
    let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
    const answered = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Rejections are awaited below; this keeps one that comes first from being unhandled.
    answered.catch(() => undefined);
    const subscription = h.router.subscribe(legId, (e) => {
      if (e.type === 'StasisStart') settle?.resolve();
      else if (e.type === 'ChannelDestroyed' || e.type === 'StasisEnd') {
        if (isBridged) h.onTransferredCallEnded('callee');
        else if (e.type === 'ChannelDestroyed') {
          settle?.reject(new TransferRefusedError('TRANSFER_NOT_ANSWERED', `the transfer target did not answer (${classifyUnanswered(e.cause)})`));
        }
      }
    });
    leg.defer('transfer-subscription', () => subscription.cancel(), 'last');
    const ringTimer = setTimeout(
      () => settle?.reject(new TransferRefusedError('TRANSFER_NOT_ANSWERED', 'the transfer target did not answer in time')),
      (h.settings.ringTimeoutS + 2) * 1000,
    );
    leg.defer('transfer-ring-timer', () => clearTimeout(ringTimer));
    const onAbort = (): void => settle?.reject(new BridgeError('CALL_ENDED', 'the call ended during the transfer'));
    h.signal.addEventListener('abort', onAbort, { once: true });
    leg.defer('transfer-abort-listener', () => h.signal.removeEventListener('abort', onAbort));

    try {
      if (h.signal.aborted) onAbort();
      await h.control.originate({
        endpoint: `PJSIP/${phoneNumber.replace(/^\+/, '')}@${h.dial.trunkEndpoint}`,
        channelId: legId,
        app: h.dial.app,
        appArgs: `transfer,${h.callId}`,
        callerId: h.dial.callerId,
        timeoutS: h.settings.ringTimeoutS,
        formats: 'alaw,ulaw',
        variables: { VG_CALL_ID: h.callId },
      });
      await answered;
      clearTimeout(ringTimer);
      if (h.isEnding()) throw new BridgeError('CALL_ENDED', 'the call ended while the transfer target answered');
      const agentMedia = h.mediaChannelId();
      if (agentMedia !== undefined) await h.control.removeFromBridge(bridgeId(h.callId), [agentMedia]);
      await h.control.addToBridge(bridgeId(h.callId), [legId]);
      isBridged = true;
    } catch (err) {
      await leg.disposeAll();
      throw err;
    }
    const limitTimer = setTimeout(() => h.onTransferredCallEnded('max-duration'), h.settings.maxDurationS * 1000);
    leg.defer('transfer-max-duration', () => clearTimeout(limitTimer));
    h.log.info('call transferred; agent leaves');
    h.onBridged(phoneNumber);
  }
}
