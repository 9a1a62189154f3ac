/**
 * The gateway as a child process, started the way `npm start` starts it (src/index.ts: reads
 * `.env`, validates the config, serves the API), with the demo's settings in its environment
 * (variables in the environment win over `.env`). Its log (pino JSON lines) goes to a file.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pollUntil } from '../lib/poll';
import { isRunning, signal, waitForExit } from '../lib/process-by-pid';

export interface GatewayProcessOptions {
  readonly repoDir: string;
  /** Variables set for the child on top of the inherited environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
  /** e.g. http://127.0.0.1:8000 */
  readonly baseUrl: string;
  readonly readyTimeoutMs?: number;
}

/** A running gateway. The caller must `stop()` it. */
export class GatewayProcess {
  readonly pid: number;
  readonly logFile: string;
  #exitCode: number | null | undefined;
  readonly #exited: Promise<void>;

  private constructor(pid: number, logFile: string, exited: Promise<number | null>) {
    this.pid = pid;
    this.logFile = logFile;
    this.#exited = exited.then((code) => {
      this.#exitCode = code;
    });
  }

  /** Start the gateway and resolve once `GET /health` answers 200 (ARI connected). */
  static async start(options: GatewayProcessOptions): Promise<GatewayProcess> {
    const fd = openSync(options.logFile, 'w');
    let gateway: GatewayProcess;
    try {
      // `--require tsx/cjs` runs the TypeScript entry point in this one process (no build, no wrapper).
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join('src', 'index.ts')], {
        cwd: options.repoDir,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', fd, fd],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', resolve);
      });
      if (child.pid === undefined) throw new Error('the gateway started without a pid');
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      gateway = new GatewayProcess(child.pid, options.logFile, exited);
    } finally {
      closeSync(fd); // the child holds its own copy
    }
    try {
      await pollUntil(
        async () => {
          if (gateway.#exitCode !== undefined) throw new Error(`the gateway exited with code ${String(gateway.#exitCode)}`);
          const response = await fetch(`${options.baseUrl}/health`, { signal: AbortSignal.timeout(1000) }).catch((err: Error) => err);
          if (response instanceof Error) return { done: false, seen: response.message };
          const body = await response.text();
          return response.status === 200 ? { done: true, value: undefined } : { done: false, seen: `HTTP ${response.status} ${body}` };
        },
        { timeoutMs: options.readyTimeoutMs ?? 30_000, intervalMs: 200, what: `the gateway at ${options.baseUrl}/health to answer 200` },
      );
    } catch (err) {
      await gateway.stop();
      throw new Error(`${(err as Error).message}\n--- last lines of ${options.logFile}:\n${gateway.logTail(15)}`);
    }
    return gateway;
  }

  /** The last `lines` lines of the gateway's log. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch (err) {
      return `(cannot read ${this.logFile}: ${(err as Error).message})`;
    }
  }

  /**
   * SIGTERM (the gateway hangs up its calls after SHUTDOWN_GRACE_S and exits 0), then SIGKILL if
   * it is still there after `timeoutMs`. Resolves once the process is gone.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#exitCode !== undefined || !(await isRunning(this.pid))) return;
    signal(this.pid, 'SIGTERM');
    const hasExited = await Promise.race([this.#exited.then(() => true), waitForExit(this.pid, timeoutMs)]);
    if (hasExited) return;
    signal(this.pid, 'SIGKILL');
    await this.#exited;
  }
}
