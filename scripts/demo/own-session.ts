/**
 * Ctrl+C in a terminal signals the whole foreground process group — and the Asterisk processes the
 * test bed spawns belong to it: they would quit at once, under a call in progress, before the demo
 * could hang up and stop them in order. So the demo runs itself again in a session of its own
 * (setsid, via `detached`) and this first process only forwards signals to it:
 *
 *   terminal ──SIGINT──▶ npm ─ tsx ─ demo (forwarder) ──SIGINT──▶ demo (worker, own session)
 *                                                                    ├─ gateway (child)
 *                                                                    ├─ asterisk carrier, pbx
 *                                                                    └─ simulator (in process)
 *
 * The worker keeps the terminal for output. If the forwarder dies (kill -9), the worker sees the
 * IPC channel close and cleans up by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const WORKER_ENV = 'VOICE_GATEWAY_DEMO_WORKER';

/** True in the worker process. */
export function isDemoWorker(): boolean {
  return process.env[WORKER_ENV] === '1';
}

/** Run `script` again as the worker and mirror its exit code. Never resolves: exits the process. */
export function runAsWorker(script: string): void {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [WORKER_ENV]: '1' },
  });
  const forward = (sig: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => forward(sig));
  child.once('error', (err) => {
    process.stderr.write(`demo: cannot start: ${err.message}\n`);
    process.exit(1);
  });
  child.once('exit', (code, sig) => process.exit(code ?? (sig === null ? 1 : 128 + signalNumber(sig))));
}

/** In the worker: call `onLost` if the forwarder goes away without a signal (killed with -9). */
export function watchForwarder(onLost: () => void): void {
  process.once('disconnect', onLost);
  // The IPC channel must not keep the worker alive once everything else is done.
  process.channel?.unref();
}

function signalNumber(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : sig === 'SIGHUP' ? 1 : 9;
}
