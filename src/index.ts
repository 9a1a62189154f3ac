import { existsSync } from 'node:fs';
import { App } from './app';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';

/** Composition root: the only module that touches `process`. */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel });
  const app = new App(config, log);
  let stopping = false;
  const shutdown = (why: string, exitCode: number): void => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'shutting down');
    app.stop().then(
      () => process.exit(exitCode),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  // The lint rules (no floating promises) keep these idle; they are the last line, not the design.
  // A stray rejection is one operation's failure: log, count, and let every call go on.
  process.on('unhandledRejection', (reason) => {
    app.metrics.processFault('unhandled_rejection');
    log.error({ err: reason }, 'unhandled promise rejection (a bug: every promise should be handled)');
  });
  // An exception that unwound to the event loop may have left any state half-changed: stop taking
  // calls, let the live ones finish within the shutdown grace (their media and agent keep going),
  // then exit non-zero so the supervisor starts a clean process.
  process.on('uncaughtException', (err) => {
    app.metrics.processFault('uncaught_exception');
    log.fatal({ err }, 'uncaught exception; draining and exiting');
    shutdown('uncaught exception', 1);
  });
  await app.start();
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
