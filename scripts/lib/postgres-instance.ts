import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { access, chown, constants, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { pollUntil } from './poll';
import { isRunning, waitForExit } from './process-by-pid';
import { assertPortsFree, findFreePort } from './ports';

/**
 * A PostgreSQL server of our own for tests, the cluster demo and its test: `initdb` into a fresh
 * temporary folder, `postgres` in the foreground on 127.0.0.1:<port> with password auth, stopped by
 * its pid and its folder removed. PostgreSQL refuses to run as root, so as root both run as the
 * `postgres` user of Debian's package (through `setpriv`, which execs: the pid we hold is the
 * server's). Debian's `postgresql` package provides the binaries; `.ci/run` installs it.
 *
 * Lifecycle: start() → [createDatabase()…] → stop(). The caller must stop() it.
 */

/** Where Debian's packages put the server binaries (one folder per major version). */
const DEBIAN_PG_LIB = '/usr/lib/postgresql';
/** The role our databases belong to (not a superuser name anyone guesses). */
export const POSTGRES_TEST_USER = 'voice_gateway';

/** Thrown when no PostgreSQL server binaries are installed: the message says what to install. */
export class PostgresMissingError extends Error {
  constructor(looked: readonly string[]) {
    super(
      `PostgreSQL server binaries (initdb, postgres) not found (looked in ${looked.join(', ')}): ` +
        'install Debian\'s "postgresql" package (apt-get install postgresql; .ci/run does) or put them on PATH',
    );
    this.name = 'PostgresMissingError';
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable: both mean "not here"
  }
}

/** The folder holding `initdb` and `postgres`: Debian's newest version, else PATH. */
export async function locatePostgresBin(): Promise<string> {
  const looked: string[] = [];
  const versions = await readdir(DEBIAN_PG_LIB).catch(() => [] as string[]); // no package: try PATH
  for (const version of versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))) {
    const bin = path.join(DEBIAN_PG_LIB, version, 'bin');
    looked.push(bin);
    if ((await isExecutable(path.join(bin, 'initdb'))) && (await isExecutable(path.join(bin, 'postgres')))) return bin;
  }
  for (const dir of (process.env['PATH'] ?? '').split(':').filter((d) => d !== '')) {
    looked.push(dir);
    if ((await isExecutable(path.join(dir, 'initdb'))) && (await isExecutable(path.join(dir, 'postgres')))) return dir;
  }
  throw new PostgresMissingError(looked.length > 0 ? looked : [DEBIAN_PG_LIB, 'PATH']);
}

/** uid and gid of the account the server runs as: ourselves, or `postgres` when we are root. */
async function serverAccount(): Promise<{ uid: number; gid: number; name: string } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error('running as root, PostgreSQL needs an unprivileged account: there is no user "postgres" (Debian\'s postgresql package creates it)');
  }
  return { uid: Number(uid), gid: Number(gid), name: 'postgres' };
}

export interface PostgresStartOptions {
  /** TCP port on 127.0.0.1. Default: one the kernel says is free. */
  readonly port?: number;
  /** Progress lines. Default: silent. */
  readonly log?: (line: string) => void;
  /** Deadline for the server to accept connections. Default 30 s. */
  readonly startTimeoutMs?: number;
}

export class PostgresInstance {
  readonly port: number;
  readonly pid: number;
  /** The temporary folder holding the data directory, socket and log; removed by stop(). */
  readonly dir: string;
  readonly #password: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stopped: Promise<void> | undefined;

  private constructor(port: number, dir: string, password: string, child: ChildProcess) {
    this.port = port;
    this.dir = dir;
    this.#password = password;
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.#exited = once(child, 'exit').then(() => undefined);
  }

  /** A `postgres://` URL of `database` for our role (holds the password: never log it). */
  url(database = 'postgres'): string {
    return `postgres://${POSTGRES_TEST_USER}:${encodeURIComponent(this.#password)}@127.0.0.1:${this.port}/${database}`;
  }

  /** The URL with the password masked, for messages. */
  describe(database = 'postgres'): string {
    return `postgres://${POSTGRES_TEST_USER}:***@127.0.0.1:${this.port}/${database}`;
  }

  /**
   * initdb a new cluster in a temporary folder and start it; resolves once it takes connections.
   * On failure nothing is left running or on disk, and the error carries the server's log.
   */
  static async start(options: PostgresStartOptions): Promise<PostgresInstance> {
    const log = options.log ?? (() => undefined);
    const bin = await locatePostgresBin();
    const account = await serverAccount();
    const port = options.port ?? (await findFreePort());
    await assertPortsFree([{ protocol: 'tcp', host: '127.0.0.1', port, purpose: 'PostgreSQL' }]);
    const dir = await mkdtemp(path.join(tmpdir(), 'vg-postgres-'));
    const data = path.join(dir, 'data');
    const password = randomBytes(18).toString('base64url');
    let child: ChildProcess | undefined;
    try {
      await mkdir(data, { mode: 0o700 });
      await writeFile(path.join(dir, 'pwfile'), `${password}\n`, { mode: 0o600 });
      if (account !== undefined) {
        for (const p of [dir, data, path.join(dir, 'pwfile')]) await chown(p, account.uid, account.gid);
      }
      const asServer = (file: string, args: string[]): { file: string; args: string[] } =>
        account === undefined
          ? { file, args }
          : { file: 'setpriv', args: [`--reuid=${account.uid}`, `--regid=${account.gid}`, '--init-groups', '--reset-env', '--', file, ...args] };
      const startedAt = Date.now();
      const init = asServer(path.join(bin, 'initdb'), [
        '-D', data, '-U', POSTGRES_TEST_USER, '--pwfile', path.join(dir, 'pwfile'),
        '--auth=scram-sha-256', '--locale=C', '--encoding=UTF8', '--no-sync',
      ]);
      await run(init.file, init.args, dir);
      await rm(path.join(dir, 'pwfile'));
      // Loopback only; the socket in our folder (not /var/run/postgresql, which may not exist);
      // fsync off: these databases are thrown away, and a test needs no durability from the disk.
      const server = asServer(path.join(bin, 'postgres'), [
        '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`,
        '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=100',
      ]);
      const logPath = path.join(dir, 'postgres.log');
      const out = openSync(logPath, 'a');
      try {
        child = spawn(server.file, server.args, { cwd: dir, stdio: ['ignore', out, out] });
        await once(child, 'spawn');
      } finally {
        closeSync(out); // the child holds its own copy
      }
      const instance = new PostgresInstance(port, dir, password, child);
      try {
        await pollUntil(
          async () => {
            if (child?.exitCode !== null) throw new Error(`postgres exited during start (code ${child?.exitCode})`);
            const client = new Client({ connectionString: instance.url(), connectionTimeoutMillis: 1000 });
            client.on('error', () => undefined); // a refused connection is reported by connect() below
            try {
              await client.connect();
              await client.query('SELECT 1');
              return { done: true, value: undefined };
            } catch (err) {
              return { done: false, seen: (err as Error).message };
            } finally {
              await client.end().catch(() => undefined); // never connected: nothing to end
            }
          },
          { timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 100, what: `PostgreSQL on 127.0.0.1:${port}` },
        );
      } catch (err) {
        const tail = await readFile(logPath, 'utf8').catch(() => '');
        await instance.stop();
        throw new Error(`${(err as Error).message}\n--- postgres log:\n${tail.split('\n').slice(-20).join('\n')}`);
      }
      log(`postgres 127.0.0.1:${port}: pid ${instance.pid}, ready in ${Date.now() - startedAt} ms`);
      return instance;
    } catch (err) {
      if (child === undefined) await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** CREATE DATABASE `name` (letters, digits, _); returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must be lower-case letters, digits and _`);
    await this.#admin(`CREATE DATABASE ${name}`);
    return this.url(name);
  }

  /** DROP DATABASE `name`, ending its connections first. */
  async dropDatabase(name: string): Promise<void> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must be lower-case letters, digits and _`);
    await this.#admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  async #admin(sql: string): Promise<void> {
    const client = new Client({ connectionString: this.url(), connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  /**
   * Fast shutdown (SIGINT: open sessions are ended), SIGKILL after `timeoutMs`, then the folder is
   * removed. Idempotent.
   */
  stop(timeoutMs = 10_000): Promise<void> {
    this.#stopped ??= this.#stop(timeoutMs);
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGINT');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
      await this.#exited;
      clearTimeout(timer);
    }
    // The postmaster's children go with it; wait for any straggler by pid before removing its files.
    if (await isRunning(this.pid)) await waitForExit(this.pid, 5000);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Run a command to completion; rejects with its output when it fails. */
async function run(file: string, args: string[], cwd: string): Promise<void> {
  const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${path.basename(args.find((a) => a.includes('/')) ?? file)} failed (exit ${code}):\n${output.slice(-2000)}`);
}
