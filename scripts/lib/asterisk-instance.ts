import { execFile, spawn } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  ASTERISK_TEMPLATE_SCHEMA,
  INSTANCE_DIRECTORY_VARS,
} from '../../src/deploy/asterisk-config';
import { resolveTemplateValues, type EnvLike, type TemplateSchema, type TemplateValues } from '../../src/deploy/config-template';
import { renderTemplateDir } from '../../src/deploy/template-dir';
import { asteriskCommand, locateAsteriskRoot } from './asterisk-root';
import { pollUntil, PollTimeoutError } from './poll';
import { isRunning, readCommandLine, readPidFile, signal, waitForExit } from './process-by-pid';
import { acquireOwnerLock, releaseOwnerLock } from './owner-lock';
import { assertPortsFree, type PortCheck } from './ports';

const execFileAsync = promisify(execFile);

/** Instance folders live here, inside the Asterisk root (the chroot), one per instance name. */
export const INSTANCE_BASE_DIR = '/srv/voice-gateway';

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,40}$/;

/** How to reach an instance's ARI, when its config enables ARI. */
export interface AriAccess {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8088 (REST is under /ari). */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly app: string;
}

export interface AsteriskStartOptions {
  /** Instance name: folder <root>/srv/voice-gateway/<name>. Lower-case letters, digits, '-'. */
  readonly name: string;
  /** Host folder of `*.conf` templates (asterisk-conf/ or test/carrier/asterisk-conf/). */
  readonly templateDir: string;
  /** Template variables. The instance directories (ASTERISK_*_DIR) are always set by the runner. */
  readonly env: EnvLike;
  /** Schema of the templates. Default: the production schema. */
  readonly schema?: TemplateSchema;
  /** Root holding usr/sbin/asterisk. Default: `/` if the host has asterisk, else the provisioned sid root. */
  readonly sidRoot?: string;
  /** Addresses that must be free before starting. Default: derived from the production variables. */
  readonly ports?: readonly PortCheck[];
  /** Deadline for "fully booted" and ARI answering. Default 30 s. */
  readonly bootTimeoutMs?: number;
  /** Let Asterisk outlive this process (the `asterisk start` command). Default false: tests. */
  readonly detach?: boolean;
  /** Wipe the instance folder first (logs, astdb, recordings). Tests want this. Default false. */
  readonly fresh?: boolean;
  /**
   * An instance of this name still runs although the process that started it is gone (a killed
   * test run, or the detached `asterisk start` command): `fail` (default) throws
   * InstanceBusyError, `replace` stops it first. An instance whose starter is alive is never
   * touched: InstanceBusyError.
   */
  readonly ifRunning?: 'fail' | 'replace';
  /** Progress lines ("asterisk pbx-test: fully booted in 812 ms"). Default: silent. */
  readonly log?: (line: string) => void;
}

/** Paths of one instance, inside the Asterisk root. */
interface InstancePaths {
  readonly dir: string;
  readonly conf: string;
  readonly pidFile: string;
  readonly messagesLog: string;
  readonly consoleLog: string;
  /** Lock file naming the process that owns the instance (outside `dir`, which `fresh` wipes). */
  readonly ownerLock: string;
  readonly dirs: Readonly<Record<(typeof INSTANCE_DIRECTORY_VARS)[number], string>>;
}

function instancePaths(name: string): InstancePaths {
  if (!NAME_RE.test(name)) throw new Error(`instance name ${JSON.stringify(name)} must match ${String(NAME_RE)}`);
  const dir = path.posix.join(INSTANCE_BASE_DIR, name);
  return {
    dir,
    conf: `${dir}/etc/asterisk.conf`,
    pidFile: `${dir}/run/asterisk.pid`,
    messagesLog: `${dir}/log/messages.log`,
    consoleLog: `${dir}/console.log`,
    ownerLock: `${dir}.owner`,
    dirs: {
      ASTERISK_ETC_DIR: `${dir}/etc`,
      ASTERISK_RUN_DIR: `${dir}/run`,
      ASTERISK_LOG_DIR: `${dir}/log`,
      ASTERISK_SPOOL_DIR: `${dir}/spool`,
      ASTERISK_LIB_DIR: `${dir}/lib`,
    },
  };
}

/** The instance name is taken: by another live process (`ownerPid`), or by a running Asterisk. */
export class InstanceBusyError extends Error {
  constructor(name: string, ownerPid: number | undefined, asteriskPid?: number) {
    super(
      ownerPid !== undefined
        ? `asterisk instance ${name} belongs to running process ${ownerPid}`
        : `asterisk instance ${name} is already running (pid ${asteriskPid}); stop it with: npm run asterisk -- stop --name ${name}`,
    );
    this.name = 'InstanceBusyError';
  }
}

/**
 * One Asterisk process with its own rendered config and folders, run in the foreground
 * (`asterisk -f`) inside the Asterisk root and controlled through its own CLI socket. Several run side by side when their
 * names and ports differ. `stop()` ends exactly this process, by the pid in its pid file.
 *
 * Lifecycle: start() → [cli()…] → stop(). The caller owns the instance and must stop() it.
 */
export class AsteriskInstance {
  readonly name: string;
  /** Root directory Asterisk runs in (`/` for a host install). */
  readonly root: string;
  /** Pid of the running asterisk (from its pid file). */
  readonly pid: number;
  /** Resolved template values (secrets included: do not log). Empty for attach()ed instances. */
  readonly values: TemplateValues;
  /** ARI access when the config enables it (production templates), else undefined. */
  readonly ari: AriAccess | undefined;
  readonly #paths: InstancePaths;
  readonly #log: (line: string) => void;
  /** Whether stop() releases the owner lock: only for the instance this process start()ed. */
  readonly #ownsLock: boolean;
  #stopped: Promise<void> | undefined;

  private constructor(
    name: string,
    root: string,
    pid: number,
    values: TemplateValues,
    paths: InstancePaths,
    log: (line: string) => void,
    ownsLock = false,
  ) {
    this.name = name;
    this.#log = log;
    this.#ownsLock = ownsLock;
    this.root = root;
    this.pid = pid;
    this.values = values;
    this.#paths = paths;
    this.ari = ariAccessOf(values);
  }

  /**
   * Render the templates into the instance folder, start asterisk, and resolve once it is fully
   * booted and (when configured) ARI answers. On failure nothing is left running and the error
   * carries the tail of the instance's log.
   */
  static async start(options: AsteriskStartOptions): Promise<AsteriskInstance> {
    const log = options.log ?? (() => undefined);
    const paths = instancePaths(options.name);
    const schema = options.schema ?? ASTERISK_TEMPLATE_SCHEMA;
    const values = resolveTemplateValues(schema, { ...options.env, ...paths.dirs });
    const root = await locateAsteriskRoot(options.sidRoot);
    const host = (p: string): string => path.join(root, p);

    // Another live process (a concurrent test run, another checkout) owns this name: leave it alone.
    await mkdir(host(INSTANCE_BASE_DIR), { recursive: true });
    const owner = await acquireOwnerLock(host(paths.ownerLock));
    if (owner !== undefined) throw new InstanceBusyError(options.name, owner);
    try {
      const running = await AsteriskInstance.#runningPid(root, paths);
      if (running !== undefined) {
        // Its starter is gone (a killed test run, or the `asterisk start` command).
        if (options.ifRunning !== 'replace') throw new InstanceBusyError(options.name, undefined, running);
        log(`asterisk ${options.name}: stopping the instance left running (pid ${running})`);
        await new AsteriskInstance(options.name, root, running, values, paths, log).stop();
      }
      await assertPortsFree(options.ports ?? productionPorts(values));

      if (options.fresh === true) await rm(host(paths.dir), { recursive: true, force: true });
      for (const dir of Object.values(paths.dirs)) await mkdir(host(dir), { recursive: true });
      // ARI recordings fail with ENOENT unless <spool>/recording exists; the package creates it, we must too.
      await mkdir(host(`${paths.dirs.ASTERISK_SPOOL_DIR}/recording`), { recursive: true });
      await rm(host(paths.pidFile), { force: true });
      await renderTemplateDir(options.templateDir, host(paths.dirs.ASTERISK_ETC_DIR), schema, { ...options.env, ...paths.dirs });
      const startedAt = Date.now();
      const pid = await AsteriskInstance.#launch(root, paths, options.detach === true);
      const instance = new AsteriskInstance(options.name, root, pid, values, paths, log, true);
      try {
        await instance.#waitUntilReady(options.bootTimeoutMs ?? 30_000);
      } catch (err) {
        await instance.stop(); // also releases the lock
        throw err;
      }
      log(`asterisk ${options.name}: pid ${pid}, ready in ${Date.now() - startedAt} ms`);
      return instance;
    } catch (err) {
      await releaseOwnerLock(host(paths.ownerLock));
      throw err;
    }
  }

  /**
   * The instance `name` that is already running (started by an earlier process, e.g.
   * `npm run asterisk -- start`), or undefined if none is.
   */
  static async attach(options: {
    name: string;
    sidRoot?: string;
    log?: (line: string) => void;
  }): Promise<AsteriskInstance | undefined> {
    const paths = instancePaths(options.name);
    const root = await locateAsteriskRoot(options.sidRoot);
    const pid = await AsteriskInstance.#runningPid(root, paths);
    if (pid === undefined) return undefined;
    // Its template values are not known here: `values` is empty and `ari` undefined.
    return new AsteriskInstance(options.name, root, pid, {}, paths, options.log ?? (() => undefined));
  }

  /** Host path of a path inside the Asterisk root (e.g. a recording the instance wrote). */
  hostPath(pathInRoot: string): string {
    return path.join(this.root, pathInRoot);
  }

  /** Instance folders inside the root, as the templates saw them (ASTERISK_SPOOL_DIR, …). */
  get dirs(): InstancePaths['dirs'] {
    return this.#paths.dirs;
  }

  /** Run one CLI command (`asterisk -rx`) and return its output. Throws if the CLI cannot connect. */
  async cli(command: string, timeoutMs = 10_000): Promise<string> {
    const { file, args } = asteriskCommand(this.root, ['-C', this.#paths.conf, '-rx', command]);
    try {
      const { stdout } = await execFileAsync(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL' });
      return stdout;
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`asterisk ${this.name} CLI "${command}" failed: ${e.message.split('\n')[0]} ${e.stdout ?? ''}${e.stderr ?? ''}`.trim());
    }
  }

  /** Poll a CLI command until its output matches `pattern`; returns the matching output. */
  async waitForCli(command: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return pollUntil(
      async () => {
        const out = await this.cli(command);
        return pattern.test(out) ? { done: true, value: out } : { done: false, seen: out.trim().slice(0, 500) };
      },
      { timeoutMs, intervalMs: 200, what: `asterisk ${this.name}: "${command}" to match ${String(pattern)}` },
    );
  }

  /** The last `lines` lines of console.log and messages.log, for error messages. */
  async logTail(lines = 40): Promise<string> {
    return tailOf([this.hostPath(this.#paths.consoleLog), this.hostPath(this.#paths.messagesLog)], lines);
  }

  /**
   * Stop this instance: `core stop now`, then SIGTERM, then SIGKILL to its pid, waiting for the
   * process to be gone after each. Idempotent; resolves when the pid no longer runs.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop().then(async () => {
      if (this.#ownsLock) await releaseOwnerLock(this.hostPath(this.#paths.ownerLock));
    });
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    if (!(await isRunning(this.pid))) return;
    try {
      await this.cli('core stop now', 5000);
    } catch (err) {
      // A wedged CLI is exactly what the signals below are for.
      this.#log(`asterisk ${this.name}: ${(err as Error).message}; falling back to signals`);
    }
    if (await waitForExit(this.pid, 10_000)) return;
    this.#log(`asterisk ${this.name}: still running 10 s after "core stop now"; SIGTERM to pid ${this.pid}`);
    signal(this.pid, 'SIGTERM');
    if (await waitForExit(this.pid, 5000)) return;
    this.#log(`asterisk ${this.name}: SIGKILL to pid ${this.pid}`);
    signal(this.pid, 'SIGKILL');
    if (!(await waitForExit(this.pid, 5000))) throw new Error(`asterisk ${this.name} (pid ${this.pid}) survived SIGKILL`);
  }

  async #waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const remaining = (): number => Math.max(0, deadline - Date.now());
    const failWith = async (message: string): Promise<never> => {
      throw new Error(`asterisk ${this.name} did not start: ${message}\n${await this.logTail()}`);
    };
    try {
      await pollUntil(
        async () => {
          if (!(await isRunning(this.pid))) return failWith(`process ${this.pid} exited`);
          // Blocks until boot completes; fails fast while the control socket does not exist yet.
          const out = await this.cli('core waitfullybooted', Math.max(500, remaining())).catch((err: Error) => err.message);
          return /fully booted/i.test(out) ? { done: true, value: undefined } : { done: false, seen: out.trim() };
        },
        { timeoutMs: remaining(), intervalMs: 100, what: 'core waitfullybooted' },
      );
      // stop() and later processes find the instance by its pid file: it must name our child.
      const pidInFile = await readPidFile(this.hostPath(this.#paths.pidFile));
      if (pidInFile !== this.pid) return failWith(`pid file ${this.#paths.pidFile} says ${pidInFile}, started ${this.pid}`);
      const ari = this.ari;
      if (ari !== undefined) await waitForAri(ari, remaining());
    } catch (err) {
      if (err instanceof PollTimeoutError) return failWith(err.message);
      throw err;
    }
  }

  /**
   * Start `asterisk -f -n` (foreground, no colour codes in console.log) and return its pid.
   * chroot execs asterisk, so the child's pid is Asterisk's. Attached, the child is reaped by this
   * process, and a forgotten instance keeps it from exiting (mocha runs without --exit, so a leak
   * shows as a hang). Detached, it outlives this process (the `asterisk start` command).
   */
  static async #launch(root: string, paths: InstancePaths, detach: boolean): Promise<number> {
    const consoleFile = await open(path.join(root, paths.consoleLog), 'a');
    try {
      const { file, args } = asteriskCommand(root, ['-f', '-n', '-C', paths.conf]);
      const child = spawn(file, args, { stdio: ['ignore', consoleFile.fd, consoleFile.fd], detached: detach });
      await new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', resolve);
      });
      if (detach) child.unref();
      if (child.pid === undefined) throw new Error(`${file} started without a pid`);
      return child.pid;
    } finally {
      await consoleFile.close(); // the child has its own copy of the descriptor
    }
  }

  /** Pid of a live asterisk started with this instance's config, if any. */
  static async #runningPid(root: string, paths: InstancePaths): Promise<number | undefined> {
    const pid = await readPidFile(path.join(root, paths.pidFile));
    if (pid === undefined || !(await isRunning(pid))) return undefined;
    // A pid file can outlive its process and the pid be reused: check it is our asterisk.
    const argv = await readCommandLine(pid);
    return argv?.includes(paths.conf) === true ? pid : undefined;
  }
}

/** Last `lines` lines of each existing, non-empty file, labelled, for error messages. */
async function tailOf(files: readonly string[], lines = 40): Promise<string> {
  const parts: string[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => ''); // a log not written yet has no tail
    if (text.trim() === '') continue;
    parts.push(`--- last lines of ${file}:\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
  }
  return parts.join('\n');
}

/** ARI access from production-schema values; undefined for templates without ARI. */
function ariAccessOf(values: TemplateValues): AriAccess | undefined {
  const { ARI_BIND_ADDRESS: host, ARI_PORT: port, ARI_USERNAME: username, ARI_PASSWORD: password, ARI_APP: app } = values;
  if (host === undefined || port === undefined || username === undefined || password === undefined || app === undefined) {
    return undefined;
  }
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${hostInUrl}:${port}`, username, password, app };
}

/** Addresses the production templates bind: the SIP transport and ARI's HTTP server. */
export function productionPorts(values: TemplateValues): PortCheck[] {
  const checks: PortCheck[] = [];
  if (values['SIP_BIND_ADDRESS'] !== undefined && values['SIP_BIND_PORT'] !== undefined) {
    checks.push({ protocol: 'udp', host: values['SIP_BIND_ADDRESS'], port: Number(values['SIP_BIND_PORT']), purpose: 'SIP transport' });
  }
  if (values['ARI_BIND_ADDRESS'] !== undefined && values['ARI_PORT'] !== undefined) {
    checks.push({ protocol: 'tcp', host: values['ARI_BIND_ADDRESS'], port: Number(values['ARI_PORT']), purpose: 'ARI HTTP' });
  }
  return checks;
}

/** Basic-auth header for ARI. */
export function ariAuthorization(ari: Pick<AriAccess, 'username' | 'password'>): string {
  return `Basic ${Buffer.from(`${ari.username}:${ari.password}`).toString('base64')}`;
}

/** Wait until GET /ari/asterisk/info answers 200. A 401 is final: the credentials are wrong. */
async function waitForAri(ari: AriAccess, timeoutMs: number): Promise<void> {
  await pollUntil(
    async () => {
      const response = await fetch(`${ari.url}/ari/asterisk/info`, {
        headers: { authorization: ariAuthorization(ari) },
        signal: AbortSignal.timeout(2000),
      }).catch((err: Error) => err);
      if (response instanceof Error) return { done: false, seen: `${response.message} ${String((response.cause as Error | undefined)?.message ?? '')}` };
      await response.body?.cancel();
      if (response.status === 200) return { done: true, value: undefined };
      if (response.status === 401) throw new Error(`ARI at ${ari.url} refused user ${ari.username} (401)`);
      return { done: false, seen: `HTTP ${response.status}` };
    },
    { timeoutMs, intervalMs: 100, what: `ARI at ${ari.url} to answer GET /ari/asterisk/info` },
  );
}
