// Shared by the .deb tests: build it, and make sure this machine neither had
// vigil before nor keeps anything of it after.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Run { code: number; stdout: string; stderr: string }

export function sh(cmd: string, args: string[], timeout = 300_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => execFile(cmd, args, { timeout, maxBuffer: 16 << 20, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', ...env } }, (err, stdout, stderr) =>
    resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) })));
}
export const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
export const userExists = async (name: string) => (await sh('getent', ['passwd', name])).code === 0;
export const groupExists = async (name: string) => (await sh('getent', ['group', name])).code === 0;

/** Every path the package owns or makes; none may be left after purge. */
export const LEFTOVERS = ['/usr/bin/vigil', '/usr/lib/vigil', '/lib/systemd/system/vigil.service', '/etc/vigil', '/etc/default/vigil', '/var/lib/vigil', '/usr/share/doc/vigil'];

/** Never clobber a real installation, and start from a clean slate so "nothing left" means something. */
export async function assertNotInstalled(): Promise<void> {
  assert.equal(process.getuid?.(), 0, 'dpkg -i needs root');
  assert.notEqual((await sh('dpkg-query', ['-W', '-f=${Status}', 'vigil'])).stdout, 'install ok installed', 'vigil is already installed on this machine');
  assert.ok(!(await userExists('vigil')), 'a user "vigil" exists before the test');
  for (const p of LEFTOVERS) assert.ok(!existsSync(p), `${p} exists before the test`);
}

/** `npm run package` (its script); resolves with the .deb's path. Downloads are cached in build/cache. */
export async function buildDeb(repo: string, version?: string): Promise<string> {
  const built = await sh(process.execPath, [join(repo, 'scripts/package.mjs')], 540_000, version ? { VIGIL_PACKAGE_VERSION: version } : {});
  ok(built, 'npm run package');
  return built.stdout.trim().split('\n').at(-1)!;
}
