import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderTemplates, type EnvLike, type TemplateSchema } from './config-template';

/** Every `*.conf` file of a template folder, by file name. */
export async function readTemplateDir(templateDir: string): Promise<Record<string, string>> {
  const names = (await readdir(templateDir)).filter((name) => name.endsWith('.conf')).sort();
  if (names.length === 0) throw new Error(`no *.conf templates in ${templateDir}`);
  const entries = await Promise.all(
    names.map(async (name) => [name, await readFile(path.join(templateDir, name), 'utf8')] as const),
  );
  return Object.fromEntries(entries);
}

/**
 * Render every `*.conf` of `templateDir` into `outDir` and return the written paths.
 * Nothing is written unless every template renders, and each file is replaced atomically
 * (write + rename) so a running Asterisk never reads half a file on `reload`.
 * Files hold secrets (pjsip.conf, ari.conf): mode 0640, readable by the owner's group only.
 * `prune` also deletes other `*.conf` files in `outDir` (left from an older template set), so a
 * removed template cannot linger in a persistent volume; only for folders the renderer owns.
 */
export async function renderTemplateDir(
  templateDir: string,
  outDir: string,
  schema: TemplateSchema,
  env: EnvLike,
  options: { fileMode?: number; prune?: boolean } = {},
): Promise<{ written: string[]; removed: string[] }> {
  const rendered = renderTemplates(await readTemplateDir(templateDir), schema, env);
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(rendered)) {
    const target = path.join(outDir, name);
    const temp = `${target}.tmp-${process.pid}`;
    await writeFile(temp, text, { mode: options.fileMode ?? 0o640 });
    await rename(temp, target);
    written.push(target);
  }
  const removed: string[] = [];
  if (options.prune === true) {
    for (const name of await readdir(outDir)) {
      if (!name.endsWith('.conf') || name in rendered) continue;
      await rm(path.join(outDir, name));
      removed.push(path.join(outDir, name));
    }
  }
  return { written, removed };
}
