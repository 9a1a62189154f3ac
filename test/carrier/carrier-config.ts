import path from 'node:path';
import { checkRtpRange, instanceDirectoryVars } from '../../src/deploy/asterisk-config';
import type { TemplateSchema } from '../../src/deploy/config-template';

/** Templates of the carrier stand-in (a second Asterisk playing sip.exolve.ru). */
export const CARRIER_TEMPLATE_DIR = path.join(__dirname, 'asterisk-conf');

/** Variables of the carrier templates; rendered by the same code as the production config. */
export const CARRIER_TEMPLATE_SCHEMA: TemplateSchema = {
  vars: {
    CARRIER_SIP_BIND_ADDRESS: { kind: 'ip', presence: { default: '127.0.0.1' }, doc: 'carrier SIP address' },
    CARRIER_SIP_PORT: { kind: 'port', presence: { default: '25060' }, doc: 'carrier SIP port' },
    CARRIER_ACCOUNT: { kind: 'name', presence: { default: '883140776920289' }, doc: 'the one customer account' },
    CARRIER_ACCOUNT_PASSWORD: { kind: 'secret', presence: { required: true }, doc: "the account's digest password" },
    CARRIER_REALM: { kind: 'name', presence: { default: 'carrier.test' }, doc: 'digest realm in challenges' },
    CARRIER_INBOUND_CALLER_ID: { kind: 'name', presence: { default: '74950000000' }, doc: 'caller number of carrier -> PBX calls' },
    CARRIER_RING_S: { kind: 'name', pattern: /^\d+(\.\d+)?$/, presence: { default: '0.2' }, doc: 'ringing before answer, s' },
    CARRIER_MAX_CALL_S: { kind: 'name', pattern: /^\d+$/, presence: { default: '60' }, doc: 'answered calls end after, s' },
    CARRIER_RTP_PORT_MIN: { kind: 'port', presence: { default: '25100' }, doc: 'first RTP port' },
    CARRIER_RTP_PORT_MAX: { kind: 'port', presence: { default: '25499' }, doc: 'last RTP port' },
    CARRIER_RECORDINGS_DIR: { kind: 'path', presence: { required: true }, doc: 'recordings, inside the Asterisk root' },
    ...instanceDirectoryVars(),
  },
  checks: [checkRtpRange('CARRIER_RTP_PORT_MIN', 'CARRIER_RTP_PORT_MAX')],
};
