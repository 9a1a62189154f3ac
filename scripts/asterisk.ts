/**
 * Local Asterisk runner: the production config (asterisk-conf/) rendered with .env, running in the
 * provisioned Debian sid root (or the host's asterisk).
 *
 *   npm run asterisk -- start  [--name local]   render, start, wait for boot + ARI, show registration
 *   npm run asterisk -- stop   [--name local]   core stop now → SIGTERM → SIGKILL, by pid
 *   npm run asterisk -- status [--name local]   uptime and registrations
 *   npm run asterisk -- cli "<command>" [--name local]
 *
 * --name selects an instance folder (<root>/srv/voice-gateway/<name>); test beds use carrier-<port
 * base> and pbx-<port base>, so `--name pbx-25000` reaches a test run's PBX.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TemplateEnvError } from '../src/deploy/config-template';
import { AsteriskInstance, InstanceBusyError } from './lib/asterisk-instance';
import { PollTimeoutError } from './lib/poll';
import { PortsInUseError } from './lib/ports';

const REPO = path.resolve(__dirname, '..');
const TEMPLATE_DIR = path.join(REPO, 'asterisk-conf');
const USAGE = 'usage: npm run asterisk -- start|stop|status|cli "<command>" [--name <instance>]';

interface Args {
  readonly command: string;
  readonly cliCommand: string | undefined;
  readonly name: string;
}

function parseArgs(argv: readonly string[]): Args | undefined {
  const rest = [...argv];
  let name = 'local';
  const nameAt = rest.indexOf('--name');
  if (nameAt !== -1) {
    const value = rest[nameAt + 1];
    if (value === undefined) return undefined;
    name = value;
    rest.splice(nameAt, 2);
  }
  const [command, ...more] = rest;
  if (command === undefined) return undefined;
  if (command === 'cli') return more.length === 1 ? { command, cliCommand: more[0], name } : undefined;
  return more.length === 0 ? { command, cliCommand: undefined, name } : undefined;
}

/** `.env` of the repo into process.env (variables already set win, as with dotenv). */
function loadDotEnv(): void {
  const file = path.join(REPO, '.env');
  if (!existsSync(file)) {
    console.error(`no ${path.relative(process.cwd(), file) || '.env'}: using the environment only (cp .env.example .env)`);
    return;
  }
  process.loadEnvFile(file);
}

const sidRoot = (): string | undefined => process.env['ASTERISK_SID_ROOT'] || undefined;
const log = (line: string): void => console.error(line);

async function attachOrExplain(name: string): Promise<AsteriskInstance | undefined> {
  const instance = await AsteriskInstance.attach({ name, sidRoot: sidRoot(), log });
  if (instance === undefined) console.error(`asterisk ${name}: not running`);
  return instance;
}

/** Registration status lines of `pjsip show registrations` ("exolve-reg/sip:… Registered"). */
function registrationLines(output: string): string[] {
  return output.split('\n').filter((line) => /-reg\//.test(line)).map((line) => line.trim().replace(/\s+/g, ' '));
}

async function start(name: string): Promise<number> {
  loadDotEnv();
  const instance = await AsteriskInstance.start({
    name,
    templateDir: TEMPLATE_DIR,
    env: process.env,
    sidRoot: sidRoot(),
    detach: true,
    log,
  });
  const v = instance.values;
  console.log(`asterisk ${name} running: pid ${instance.pid}`);
  console.log(`  SIP   udp ${v['SIP_BIND_ADDRESS']}:${v['SIP_BIND_PORT']} -> trunk ${v['SIP_TRUNK_ENDPOINT']} (${v['SIP_HOST']}:${v['SIP_PORT']})`);
  console.log(`  ARI   ${instance.ari?.url}/ari  user ${instance.ari?.username}  app ${instance.ari?.app}`);
  console.log(`  RTP   ${v['ASTERISK_RTP_PORT_MIN']}-${v['ASTERISK_RTP_PORT_MAX']}`);
  console.log(`  logs  ${instance.hostPath(instance.dirs.ASTERISK_LOG_DIR)}/messages.log`);
  // The first REGISTER goes out right after boot; give the carrier a moment to answer it.
  const registrations = await instance
    .waitForCli('pjsip show registrations', /\s(Registered|Rejected)\s/, 10_000)
    .catch(async (err: unknown) => {
      if (!(err instanceof PollTimeoutError)) throw err;
      return instance.cli('pjsip show registrations');
    });
  for (const line of registrationLines(registrations)) console.log(`  registration  ${line}`);
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === undefined) {
    console.error(USAGE);
    return 2;
  }
  switch (args.command) {
    case 'start':
      return start(args.name);
    case 'stop': {
      const instance = await attachOrExplain(args.name);
      if (instance === undefined) return 0;
      await instance.stop();
      console.log(`asterisk ${args.name}: stopped (pid ${instance.pid})`);
      return 0;
    }
    case 'status': {
      const instance = await attachOrExplain(args.name);
      if (instance === undefined) return 3;
      console.log(`asterisk ${args.name}: running, pid ${instance.pid}, root ${instance.root}`);
      process.stdout.write(await instance.cli('core show uptime'));
      process.stdout.write(await instance.cli('pjsip show registrations'));
      return 0;
    }
    case 'cli': {
      const instance = await attachOrExplain(args.name);
      if (instance === undefined) return 3;
      process.stdout.write(await instance.cli(args.cliCommand ?? ''));
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Operator mistakes get their message only; anything else keeps its stack.
    const known = err instanceof TemplateEnvError || err instanceof InstanceBusyError || err instanceof PortsInUseError;
    console.error(known ? (err as Error).message : err);
    process.exitCode = 1;
  },
);
