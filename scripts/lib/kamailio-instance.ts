import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, constants, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderKamailioDir, resolveKamailioValues } from '../../src/deploy/kamailio-config';
import type { EnvLike, TemplateValues } from '../../src/deploy/config-template';
import { pollUntil } from './poll';
import { isRunning, waitForExit } from './process-by-pid';
import { assertPortsFree } from './ports';

const execFileAsync = promisify(execFile);

/** Debian's `kamailio` package puts its binaries here. */
const KAMAILIO_BIN = '/usr/sbin/kamailio';
const KAMCMD_BIN = '/usr/sbin/kamcmd';

/** asterisk-conf/kamailio/: the SIP edge's templates. */
export const KAMAILIO_TEMPLATE_DIR = path.resolve(__dirname, '../../asterisk-conf/kamailio');

/** No Kamailio on this machine: the message says what to install. */
export class KamailioMissingError extends Error {
  constructor() {
    super(`Kamailio not found (${KAMAILIO_BIN}): install Debian's "kamailio" package (apt-get install kamailio; .ci/run does)`);
    this.name = 'KamailioMissingError';
  }
}

export interface KamailioStartOptions {
  /** The SIP edge's variables (src/deploy/kamailio-config.ts); its folders are set by the runner. */
  readonly env: EnvLike;
  readonly log?: (line: string) => void;
  /** Deadline for the control socket to answer. Default 15 s. */
  readonly startTimeoutMs?: number;
  /** Where Kamailio's log goes (kept after stop); default a file in its temporary folder. */
  readonly logFile?: string;
}

/**
 * One Kamailio of our own: asterisk-conf/kamailio/ rendered into a temporary folder, run in the
 * foreground (`-DD -E`: the pid we hold is the main process; its children follow it), controlled
 * with kamcmd over its own socket, stopped by pid and its folder removed.
 *
 * Lifecycle: start() → [rpc()…] → stop(). The caller must stop() it.
 */
export class KamailioInstance {
  readonly pid: number;
  readonly dir: string;
  readonly values: TemplateValues;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stopped: Promise<void> | undefined;

  private constructor(child: ChildProcess, dir: string, values: TemplateValues, logFile: string) {
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.dir = dir;
    this.values = values;
    this.logFile = logFile;
    this.#exited = child.exitCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined);
  }

  static async start(options: KamailioStartOptions): Promise<KamailioInstance> {
    try {
      await access(KAMAILIO_BIN, constants.X_OK);
    } catch {
      throw new KamailioMissingError();
    }
    const log = options.log ?? (() => undefined);
    const dir = await mkdtemp(path.join(tmpdir(), 'vg-kamailio-'));
    const etc = path.join(dir, 'etc');
    const run = path.join(dir, 'run');
    const env = { ...options.env, KAMAILIO_ETC_DIR: etc, KAMAILIO_RUN_DIR: run };
    let child: ChildProcess | undefined;
    try {
      const values = resolveKamailioValues(env);
      await assertPortsFree([{ protocol: 'udp', host: values['KAMAILIO_SIP_ADDRESS'] ?? '', port: Number(values['KAMAILIO_SIP_PORT']), purpose: 'Kamailio SIP' }]);
      await mkdir(run, { recursive: true });
      await renderKamailioDir(KAMAILIO_TEMPLATE_DIR, etc, env);
      const logFile = options.logFile ?? path.join(dir, 'kamailio.log');
      const out = openSync(logFile, 'a');
      const startedAt = Date.now();
      try {
        child = spawn(
          KAMAILIO_BIN,
          ['-f', path.join(etc, 'kamailio.cfg'), '-DD', '-E', '-Y', run, '-P', path.join(run, 'kamailio.pid'), '-m', '64', '-M', '8', '-w', dir],
          { cwd: dir, stdio: ['ignore', out, out] },
        );
        await once(child, 'spawn');
      } finally {
        closeSync(out);
      }
      const instance = new KamailioInstance(child, dir, values, logFile);
      try {
        await pollUntil(
          async () => {
            if (child?.exitCode !== null) throw new Error(`kamailio exited during start (code ${child?.exitCode})`);
            const uptime = await instance.rpc('core.uptime').catch((err: Error) => err);
            return uptime instanceof Error ? { done: false, seen: uptime.message } : { done: true, value: undefined };
          },
          { timeoutMs: options.startTimeoutMs ?? 15_000, intervalMs: 100, what: 'Kamailio to answer on its control socket' },
        );
      } catch (err) {
        const tail = await readFile(logFile, 'utf8').catch(() => '');
        await instance.stop();
        throw new Error(`${(err as Error).message}\n--- kamailio log:\n${tail.split('\n').slice(-25).join('\n')}`);
      }
      log(`kamailio ${values['KAMAILIO_SIP_ADDRESS']}:${values['KAMAILIO_SIP_PORT']}: pid ${instance.pid}, ready in ${Date.now() - startedAt} ms`);
      return instance;
    } catch (err) {
      if (child === undefined) await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** `kamcmd <command> <args…>` on this instance's control socket; resolves to its output. */
  async rpc(command: string, ...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(KAMCMD_BIN, ['-s', `unix:${path.join(this.dir, 'run', 'kamailio_ctl')}`, command, ...args], { timeout: 5000 });
    return stdout;
  }

  /** Wait until the carrier registration is up (uac.reg_info: flags with the registered bit, 16). */
  async waitRegistered(user: string, timeoutMs = 20_000): Promise<void> {
    await pollUntil(
      async () => {
        const info = await this.rpc('uac.reg_info', 'l_uuid', `s:${user}`).catch((err: Error) => err.message);
        const flags = /flags:\s*(\d+)/.exec(info)?.[1];
        return flags !== undefined && (Number(flags) & 16) !== 0 ? { done: true, value: undefined } : { done: false, seen: info.replace(/\s+/g, ' ').slice(0, 200) };
      },
      { timeoutMs, intervalMs: 200, what: `Kamailio's registration of ${user} at the carrier` },
    );
  }

  /** The dispatcher's view of each node: URI → flags (AP active and probing, IP inactive, …). */
  async nodeStates(): Promise<Map<string, string>> {
    const text = await this.rpc('dispatcher.list');
    const states = new Map<string, string>();
    for (const m of text.matchAll(/URI:\s*(\S+)\s*\n\s*FLAGS:\s*(\S+)/g)) states.set(m[1] ?? '', m[2] ?? '');
    return states;
  }

  /** SIGTERM, SIGKILL after `timeoutMs`; then its folder (config with the SIP password, logs) is removed. Idempotent. */
  stop(timeoutMs = 5000): Promise<void> {
    this.#stopped ??= this.#stop(timeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
      await this.#exited;
      clearTimeout(timer);
    }
    if (await isRunning(this.pid)) await waitForExit(this.pid, 5000);
    await rm(this.dir, { recursive: true, force: true });
  }
}
