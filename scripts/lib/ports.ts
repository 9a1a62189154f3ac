import dgram from 'node:dgram';
import net from 'node:net';

/** A socket address Asterisk will bind. */
export interface PortCheck {
  readonly protocol: 'udp' | 'tcp';
  readonly host: string;
  readonly port: number;
  /** What uses it, for the error: "SIP transport". */
  readonly purpose: string;
}

/** Try to bind `check` ourselves and release it: a bind error means someone else holds it. */
function probe(check: PortCheck): Promise<string | undefined> {
  return new Promise((resolve) => {
    const describe = (err: NodeJS.ErrnoException): string =>
      `${check.protocol} ${check.host}:${check.port} (${check.purpose}) is not free: ${err.code ?? err.message}`;
    if (check.protocol === 'udp') {
      const socket = dgram.createSocket(check.host.includes(':') ? 'udp6' : 'udp4');
      socket.once('error', (err) => {
        socket.close();
        resolve(describe(err));
      });
      socket.bind(check.port, check.host, () => socket.close(() => resolve(undefined)));
    } else {
      const server = net.createServer();
      server.once('error', (err) => resolve(describe(err)));
      server.listen(check.port, check.host, () => server.close(() => resolve(undefined)));
    }
  });
}

/** Some address an instance needs is taken. */
export class PortsInUseError extends Error {
  constructor(problems: readonly string[]) {
    super(
      `cannot start Asterisk:\n  - ${problems.join('\n  - ')}\n` +
        '  Another instance may be running: `npm run asterisk -- status`, `ss -lunpt | grep asterisk`.',
    );
    this.name = 'PortsInUseError';
  }
}

/**
 * Throw one error naming every address in `checks` that is already bound. Asterisk itself only
 * logs a failed bind and keeps running without that transport, which shows up much later as
 * "registration timed out" or "connection refused".
 */
export async function assertPortsFree(checks: readonly PortCheck[]): Promise<void> {
  const problems = (await Promise.all(checks.map(probe))).filter((p): p is string => p !== undefined);
  if (problems.length > 0) throw new PortsInUseError(problems);
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick; another process may take it before us). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
