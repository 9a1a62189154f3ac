/**
 * CLI: render the SIP edge's templates (asterisk-conf/kamailio/) with the values of process.env.
 *
 *   node dist/src/deploy/render-kamailio-config.js <templateDir> <outDir>
 *
 * Writes kamailio.cfg, dispatcher.list and db/ (src/deploy/kamailio-config.ts). Used by
 * docker-compose.cluster.yml (service `kamailio-config`). Exit codes: 0 written, 1 bad environment
 * or template, 2 usage.
 */
import { TemplateEnvError, TemplateSyntaxError } from './config-template';
import { renderKamailioDir } from './kamailio-config';

async function main(argv: readonly string[]): Promise<number> {
  const [templateDir, outDir, ...rest] = argv;
  if (templateDir === undefined || outDir === undefined || rest.length > 0) {
    process.stderr.write('usage: render-kamailio-config <templateDir> <outDir>\n');
    return 2;
  }
  try {
    const written = await renderKamailioDir(templateDir, outDir, process.env);
    process.stdout.write(`rendered ${written.length} files into ${outDir}\n`);
    return 0;
  } catch (err) {
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
