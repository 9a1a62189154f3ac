/**
 * CLI: render the production Asterisk templates with the values of process.env.
 *
 *   node dist/src/deploy/render-asterisk-config.js [--prune] <templateDir> <outDir>
 *
 * --prune deletes other *.conf files in <outDir> (use it only on a folder that holds nothing else,
 * such as the compose volume).
 * Used by docker-compose (service `asterisk-config`) so containers and the local runner share one
 * renderer. Exit codes: 0 written, 1 bad environment or template, 2 usage.
 */
import path from 'node:path';
import { TemplateEnvError, TemplateSyntaxError } from './config-template';
import { ASTERISK_TEMPLATE_SCHEMA } from './asterisk-config';
import { renderTemplateDir } from './template-dir';

async function main(argv: readonly string[]): Promise<number> {
  const prune = argv[0] === '--prune';
  const [templateDir, outDir, ...rest] = prune ? argv.slice(1) : argv;
  if (templateDir === undefined || outDir === undefined || rest.length > 0) {
    process.stderr.write('usage: render-asterisk-config [--prune] <templateDir> <outDir>\n');
    return 2;
  }
  try {
    const { written, removed } = await renderTemplateDir(templateDir, outDir, ASTERISK_TEMPLATE_SCHEMA, process.env, { prune });
    const names = (paths: string[]): string => paths.map((p) => path.basename(p)).join(' ');
    process.stdout.write(`rendered ${written.length} files into ${outDir}: ${names(written)}\n`);
    if (removed.length > 0) process.stdout.write(`removed stale: ${names(removed)}\n`);
    return 0;
  } catch (err) {
    // Configuration mistakes are the user's to fix: print them plainly, without a stack.
    if (err instanceof TemplateEnvError || err instanceof TemplateSyntaxError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
