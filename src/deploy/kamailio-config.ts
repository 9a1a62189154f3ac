/**
 * The SIP edge of a cluster (docs/cluster.md): Kamailio's templates in asterisk-conf/kamailio/,
 * rendered from the same `.env` as the nodes by the same renderer and checks. SIP_* mean what they
 * mean for Asterisk (src/deploy/asterisk-config.ts): the carrier and the account.
 *
 * Template files and where they are written (Kamailio's names; db_text tables have no extension):
 *
 *   kamailio.conf   → kamailio.cfg       routing, modules
 *   dispatcher.conf → dispatcher.list    the nodes (one line per KAMAILIO_NODES entry)
 *   uacreg.conf     → db/uacreg          the carrier registration (holds SIP_PASSWORD: 0640)
 *   version.conf    → db/version         db_text's table versions
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ASTERISK_TEMPLATE_SCHEMA } from './asterisk-config';
import { parseNodeList, renderTemplates, resolveTemplateValues, type EnvLike, type TemplateSchema, type TemplateValues } from './config-template';

/** Template file → path of the rendered file below the output folder. */
export const KAMAILIO_FILES: Readonly<Record<string, string>> = {
  'kamailio.conf': 'kamailio.cfg',
  'dispatcher.conf': 'dispatcher.list',
  'uacreg.conf': 'db/uacreg',
  'version.conf': 'db/version',
};

const shared = (name: string) => {
  const spec = ASTERISK_TEMPLATE_SCHEMA.vars[name];
  if (spec === undefined) throw new Error(`schema: ${name} is not an Asterisk template variable`);
  return spec;
};

/** db_text separates columns with ':' and escapes it (and its escape character) with '\'. */
function dbText(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** `host` or `host:port` for the carrier's domain (the port only when it is not 5060). */
function carrierDomain(values: TemplateValues): string {
  const port = values['SIP_PORT'] ?? '5060';
  return port === '5060' ? (values['SIP_HOST'] ?? '') : `${values['SIP_HOST']}:${port}`;
}

export const KAMAILIO_TEMPLATE_SCHEMA: TemplateSchema = {
  vars: {
    SIP_HOST: shared('SIP_HOST'),
    SIP_PORT: shared('SIP_PORT'),
    SIP_USERNAME: shared('SIP_USERNAME'),
    SIP_PASSWORD: shared('SIP_PASSWORD'),
    KAMAILIO_SIP_ADDRESS: {
      kind: 'ip',
      presence: { required: true },
      doc: 'address the SIP edge listens on and registers at the carrier as (the carrier sends calls there)',
    },
    KAMAILIO_SIP_PORT: { kind: 'port', presence: { default: '5060' }, doc: 'SIP UDP port of the SIP edge' },
    KAMAILIO_NODES: {
      kind: 'node-list',
      presence: { required: true },
      doc: 'the nodes: name=ip:sip-port/probe-port of each node\'s Asterisk and its gateway\'s CLUSTER_PROBE_PORT',
    },
    KAMAILIO_CARRIER_NETWORKS: {
      kind: 'cidr-list',
      presence: { optional: true },
      doc: 'networks the carrier sends from, besides SIP_HOST (its published ranges)',
    },
    KAMAILIO_PROBE_INTERVAL_S: {
      kind: 'name',
      pattern: /^[1-9][0-9]?$/,
      presence: { default: '2' },
      doc: 'seconds between OPTIONS probes of each node (1-99)',
    },
    KAMAILIO_MODULES_DIR: { kind: 'path', presence: { default: '/usr/lib/x86_64-linux-gnu/kamailio/modules' }, doc: "Kamailio's modules (Debian's path)" },
    KAMAILIO_ETC_DIR: { kind: 'path', presence: { default: '/etc/kamailio' }, doc: 'where the rendered files are (kamailio.cfg, dispatcher.list, db/)' },
    KAMAILIO_RUN_DIR: { kind: 'path', presence: { default: '/var/run/kamailio' }, doc: 'control socket (kamcmd) and pid file' },
  },
  derived: (values) => {
    const nodes = parseNodeList(values['KAMAILIO_NODES'] ?? '') ?? [];
    const user = values['SIP_USERNAME'] ?? '';
    const domain = carrierDomain(values);
    const edge = `${values['KAMAILIO_SIP_ADDRESS']}:${values['KAMAILIO_SIP_PORT']}`;
    // id:l_uuid:l_username:l_domain:r_username:r_domain:realm:auth_username:auth_password:auth_ha1:
    // auth_proxy:expires:flags:reg_delay:contact_addr:socket. The Contact's user is l_uuid: the
    // carrier's INVITEs come to sip:<SIP_USERNAME>@<edge>, as they came to a registered Asterisk.
    const row = [
      '1', user, user, dbText(edge), user, dbText(domain), '', user, dbText(values['SIP_PASSWORD'] ?? ''), '',
      dbText(`sip:${values['SIP_HOST']}:${values['SIP_PORT']}`), '300', '0', '0', '', '',
    ].join(':');
    const host = (ip: string): string => (ip.includes(':') ? `[${ip}]` : ip);
    return {
      KAMAILIO_UACREG_ROW: row,
      KAMAILIO_DISPATCHER_LIST: nodes.map((n) => `1 sip:${host(n.ip)}:${n.sipPort} 0 0 duid=${n.name};obproxy=sip:${host(n.ip)}:${n.probePort}`).join('\n'),
    };
  },
  checks: [
    (values) => {
      const nodes = parseNodeList(values['KAMAILIO_NODES'] ?? '') ?? [];
      const edge = `${values['KAMAILIO_SIP_ADDRESS']}:${values['KAMAILIO_SIP_PORT']}`;
      return nodes.flatMap((n) =>
        `${n.ip}:${n.sipPort}` === edge || `${n.ip}:${n.probePort}` === edge
          ? [`KAMAILIO_NODES: node ${n.name} uses the edge's own address ${edge}`]
          : n.sipPort === n.probePort
            ? [`KAMAILIO_NODES: node ${n.name} has the same port for Asterisk and its probe (${n.sipPort})`]
            : [],
      );
    },
  ],
};

/** Render the Kamailio templates (template file name → text); the result is keyed by KAMAILIO_FILES' paths. */
export function renderKamailioConfig(templates: Readonly<Record<string, string>>, env: EnvLike): Record<string, string> {
  const rendered = renderTemplates(templates, KAMAILIO_TEMPLATE_SCHEMA, env);
  return Object.fromEntries(
    Object.entries(rendered).map(([name, text]) => {
      const target = KAMAILIO_FILES[name];
      if (target === undefined) throw new Error(`unexpected Kamailio template ${name}`);
      return [target, text];
    }),
  );
}

/** The resolved values (for a runner that needs the ports and folders). */
export function resolveKamailioValues(env: EnvLike): TemplateValues {
  return resolveTemplateValues(KAMAILIO_TEMPLATE_SCHEMA, env);
}

/**
 * Render asterisk-conf/kamailio/ into `outDir` (nothing is written unless every file renders; each
 * replaced atomically; mode 0640: db/uacreg holds the SIP password). Returns the written paths.
 */
export async function renderKamailioDir(templateDir: string, outDir: string, env: EnvLike): Promise<string[]> {
  const templates = Object.fromEntries(
    await Promise.all(Object.keys(KAMAILIO_FILES).map(async (name) => [name, await readFile(path.join(templateDir, name), 'utf8')] as const)),
  );
  const rendered = renderKamailioConfig(templates, env);
  const written: string[] = [];
  for (const [relative, text] of Object.entries(rendered)) {
    const target = path.join(outDir, relative);
    await mkdir(path.dirname(target), { recursive: true });
    const temp = `${target}.tmp-${process.pid}`;
    await writeFile(temp, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o640 });
    await rename(temp, target);
    written.push(target);
  }
  return written;
}
