import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** scripts/provision-asterisk.sh: debootstraps Debian sid with the asterisk package (cached). */
export const PROVISION_SCRIPT = path.resolve(__dirname, '..', 'provision-asterisk.sh');

/** Host installations of asterisk that make provisioning unnecessary. */
const HOST_ASTERISK_BINARIES = ['/usr/sbin/asterisk', '/usr/local/sbin/asterisk'];

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false; // absent or not executable: both mean "not this one"
  }
}

let provisioned: Promise<string> | undefined;

/**
 * The root directory Asterisk runs in: `sidRoot` when given (it must hold usr/sbin/asterisk), `/`
 * when the host has asterisk installed, else the root that scripts/provision-asterisk.sh prints
 * (provisioned once per process; the script itself is cached across runs).
 */
export async function locateAsteriskRoot(sidRoot?: string): Promise<string> {
  if (sidRoot !== undefined) {
    if (!(await isExecutable(path.join(sidRoot, 'usr/sbin/asterisk')))) {
      throw new Error(`${sidRoot} holds no usr/sbin/asterisk; run scripts/provision-asterisk.sh`);
    }
    return sidRoot;
  }
  for (const binary of HOST_ASTERISK_BINARIES) if (await isExecutable(binary)) return '/';
  provisioned ??= provision();
  return provisioned;
}

async function provision(): Promise<string> {
  // The script logs to stderr and prints the root on its last stdout line.
  const { stdout } = await execFileAsync('bash', [PROVISION_SCRIPT], { maxBuffer: 16 * 1024 * 1024 }).catch(
    (err: Error & { stderr?: string }) => {
      throw new Error(`${PROVISION_SCRIPT} failed: ${err.message}\n${(err.stderr ?? '').slice(-2000)}`);
    },
  );
  const root = stdout.trim().split('\n').pop() ?? '';
  if (!root.startsWith('/')) throw new Error(`${PROVISION_SCRIPT} printed no root path (got ${JSON.stringify(root)})`);
  return root;
}

/** The command line that runs `asterisk <args>` inside `root`. */
export function asteriskCommand(root: string, args: readonly string[]): { file: string; args: string[] } {
  return root === '/' ? { file: 'asterisk', args: [...args] } : { file: 'chroot', args: [root, 'asterisk', ...args] };
}
