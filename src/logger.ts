import pino, { type Logger } from 'pino';

/** LOG_LEVEL values. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Paths pino removes from every log line. Secrets are always redacted; `pii.*` holds phone numbers
 * and transcripts, which are kept only at debug level and below.
 */
const SECRET_PATHS = [
  'password',
  '*.password',
  'ariPassword',
  '*.ariPassword',
  'apiKey',
  '*.apiKey',
  'elevenLabsApiKey',
  '*.elevenLabsApiKey',
  'signedUrl',
  '*.signedUrl',
  'webhookSecret',
  '*.webhookSecret',
  'secret',
  '*.secret',
  'req.headers.authorization',
  'req.headers["xi-api-key"]',
];

/** Root logger of the process. Per-call loggers are `log.child({ callId })`. */
export function createLogger(options: { level: LogLevel | 'silent'; pretty?: boolean; destinationFd?: number } = { level: 'info' }): Logger {
  const keepPii = options.level === 'debug' || options.level === 'trace';
  const settings = {
    level: options.level,
    base: { service: 'voice-gateway' },
    redact: { paths: keepPii ? SECRET_PATHS : [...SECRET_PATHS, 'pii', '*.pii'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // A worker thread writes its lines straight to the file descriptor: its process.stdout is a
  // stream relayed by the main thread, which would put every media log line on the main loop.
  return options.destinationFd === undefined ? pino(settings) : pino(settings, pino.destination({ fd: options.destinationFd, sync: true }));
}

/** A logger that writes nothing, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
