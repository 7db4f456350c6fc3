// The npm package: `npm pack` then `npm install -g ./vigil-agent-*.tgz` (into a
// temporary prefix) gives a working vigil: dist/ is in the tarball and nothing
// is compiled at install time (TypeScript is a devDependency, not installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/ports.js';

const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
interface Run { code: number; stdout: string; stderr: string }
function sh(cmd: string, args: string[], cwd: string, timeout = 300_000): Promise<Run> {
  return new Promise((resolve) => execFile(cmd, args, { cwd, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
    resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) })));
}
const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);

test('npm pack + npm install -g gives a working vigil', { timeout: 420_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-npm-pack-'));
  try {
    const t0 = Date.now();
    const packed = await sh('npm', ['pack', '--json', '--pack-destination', dir], REPO);
    ok(packed, 'npm pack');
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info[0].files.map((f) => f.path);
    for (const f of ['bin/vigil.js', 'dist/bin.js', 'dist/cli.js', 'package.json']) assert.ok(files.includes(f), `${f} not in the tarball`);
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'sources or tests in the tarball');
    console.log(`# npm pack: ${files.length} files in ${Date.now() - t0} ms`);

    const prefix = join(dir, 'prefix');
    const t1 = Date.now();
    ok(await sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(dir, info[0].filename)], dir), 'npm install -g');
    console.log(`# npm install -g in ${Date.now() - t1} ms`);
    const installed = join(prefix, 'lib/node_modules/vigil-agent');
    assert.ok(!existsSync(join(installed, 'node_modules/typescript')), 'TypeScript was installed');
    const vigil = join(prefix, 'bin/vigil');

    const version = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version as string;
    const v = await sh(vigil, ['--version'], dir);
    ok(v, 'vigil --version');
    assert.equal(v.stdout.trim(), `vigil ${version} (node ${process.version})`);
    ok(await sh(vigil, ['check-config', join(installed, 'examples/vigil.yaml')], dir), 'check-config');

    const port = await freePort();
    const cfg = join(dir, 'vigil.yaml');
    await writeFile(cfg, `agent:\n  listen: 127.0.0.1:${port}\n  state_dir: ${dir}\nprobes:\n  - name: root-disk\n    type: disk\n    path: /\n    interval: 1s\n`);
    const agent = spawn(vigil, ['run', '--config', cfg], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 20_000;
      let body = '';
      while (!/vigil_probe_success\{[^}]*probe="root-disk"[^}]*\} 1/.test(body)) {
        assert.ok(Date.now() < deadline && agent.exitCode === null, `no scrape (exit ${agent.exitCode}): ${body.slice(0, 500)}`);
        await new Promise((r) => setTimeout(r, 200));
        body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
      }
    } finally {
      const exited = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
