import { PostgresInstance } from '../../scripts/lib/postgres-instance';

/** A test file's PostgreSQL: started on first use, a fresh database for each caller. */
export interface TestPostgres {
  /** Starts the server the first time; resolves to the URL of a new, empty database. */
  freshDatabase(): Promise<string>;
  /** The server, once started (undefined before). */
  readonly instance: PostgresInstance | undefined;
}

/**
 * Call once at the top of a test file. The server (scripts/lib/postgres-instance.ts: initdb into a
 * temporary folder, loopback only, a free port) starts when a test first asks for a database and
 * is stopped by its pid, its folder removed, after the file's run (a root `after` hook). Without
 * PostgreSQL's binaries every test asking for a database fails with a message saying what to install.
 */
export function testPostgres(): TestPostgres {
  let started: Promise<PostgresInstance> | undefined;
  let instance: PostgresInstance | undefined;
  let databases = 0;
  after(async function () {
    this.timeout(30_000);
    const pending = started;
    started = undefined;
    const server = await pending?.catch(() => undefined); // a failed start left nothing behind
    await server?.stop();
  });
  return {
    get instance() {
      return instance;
    },
    async freshDatabase(): Promise<string> {
      started ??= PostgresInstance.start({}).then((server) => (instance = server));
      const server = await started;
      databases += 1;
      return server.createDatabase(`t_${process.pid}_${databases}`);
    },
  };
}
