import { mkdir } from 'node:fs/promises';
import { AsteriskInstance, type AsteriskStartOptions } from '../../scripts/lib/asterisk-instance';
import { CARRIER_TEMPLATE_DIR, CARRIER_TEMPLATE_SCHEMA } from './carrier-config';
import { receivedDigits, waitForReceivedDigits, waitForRecording, type CarrierRecording } from './recording';

export interface CarrierOptions {
  readonly name: string;
  readonly sipHost: string;
  readonly sipPort: number;
  readonly account: string;
  readonly accountPassword: string;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  readonly sidRoot?: string;
  readonly ifRunning?: AsteriskStartOptions['ifRunning'];
  readonly log?: (line: string) => void;
}

/**
 * A second real Asterisk playing the carrier (sip.exolve.ru): a registrar with digest auth for one
 * account, the number plan of test/carrier/number-plan.ts, and recordings of what it receives.
 * The caller owns it and must stop() it.
 */
export class CarrierStandIn {
  readonly instance: AsteriskInstance;
  readonly sipHost: string;
  readonly sipPort: number;
  readonly account: string;
  /** Host path of the folder where recordings and their `.done` files appear. */
  readonly recordingsDir: string;

  private constructor(instance: AsteriskInstance, options: CarrierOptions, recordingsDir: string) {
    this.instance = instance;
    this.sipHost = options.sipHost;
    this.sipPort = options.sipPort;
    this.account = options.account;
    this.recordingsDir = recordingsDir;
  }

  static async start(options: CarrierOptions): Promise<CarrierStandIn> {
    const recordingsInRoot = `/srv/voice-gateway/${options.name}/spool/recordings`;
    const instance = await AsteriskInstance.start({
      name: options.name,
      templateDir: CARRIER_TEMPLATE_DIR,
      schema: CARRIER_TEMPLATE_SCHEMA,
      env: {
        CARRIER_SIP_BIND_ADDRESS: options.sipHost,
        CARRIER_SIP_PORT: String(options.sipPort),
        CARRIER_ACCOUNT: options.account,
        CARRIER_ACCOUNT_PASSWORD: options.accountPassword,
        CARRIER_RTP_PORT_MIN: String(options.rtpPortMin),
        CARRIER_RTP_PORT_MAX: String(options.rtpPortMax),
        CARRIER_RECORDINGS_DIR: recordingsInRoot,
      },
      ports: [{ protocol: 'udp', host: options.sipHost, port: options.sipPort, purpose: 'carrier SIP' }],
      sidRoot: options.sidRoot,
      fresh: true, // old recordings and registrations must not answer for this run
      ifRunning: options.ifRunning,
      log: options.log,
    });
    const recordingsDir = instance.hostPath(recordingsInRoot);
    await mkdir(recordingsDir, { recursive: true });
    return new CarrierStandIn(instance, options, recordingsDir);
  }

  /** The finished recording of the call to `number` (see recording.ts). */
  waitForRecording(number: string, timeoutMs?: number): Promise<CarrierRecording> {
    return waitForRecording(this.recordingsDir, number, timeoutMs);
  }

  /**
   * Wait until the answerAndCollectDtmf() number `number` has received exactly the DTMF digits
   * `expected` (RFC 4733 from our side, e.g. ARI POST /channels/{id}/dtmf). Fails at once on a
   * wrong digit; on timeout the error names what did arrive. Returns the digits.
   */
  waitForReceivedDigits(number: string, expected: string, timeoutMs?: number): Promise<string> {
    return waitForReceivedDigits(this.recordingsDir, number, expected, timeoutMs);
  }

  /** The DTMF digits the answerAndCollectDtmf() number `number` has received so far ('' if none). */
  receivedDigits(number: string): Promise<string> {
    return receivedDigits(this.recordingsDir, number);
  }

  /**
   * Call our PBX's registered Contact as the carrier would for an inbound call to `number`, with
   * caller ID CARRIER_INBOUND_CALLER_ID. Once the PBX answers, the carrier plays 1 kHz and records
   * what it receives (waitForRecording(number)). Returns when the call has been started.
   */
  async callCustomer(number: string): Promise<void> {
    if (!/^\d+$/.test(number)) throw new Error(`number must be digits, got ${number}`);
    await this.instance.cli(`channel originate Local/${number}@carrier-dial-customer/n extension ${number}@carrier-caller`);
  }

  /** The Contact URI the account is registered with, or undefined (the `contact` line of `pjsip show aor`). */
  async registeredContact(): Promise<string | undefined> {
    const out = await this.instance.cli(`pjsip show aor ${this.account}`);
    return /^\s*contact\s+:\s*(sip:\S+)/m.exec(out)?.[1];
  }

  stop(): Promise<void> {
    return this.instance.stop();
  }
}
