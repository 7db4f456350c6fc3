#!/usr/bin/env node
// npm's "prepare": in a checkout (`npm ci`, `npm pack`) it compiles src/ to
// dist/ and links the vigil bin; in an installed package it does nothing.
// npm (11) treats "prepare" as an install script of a tarball (`npm install -g
// ./vigil-agent-*.tgz` runs it when scripts are allowed), where TypeScript, a
// devDependency, is absent: the tarball already carries dist/ (package.json
// "files"), and has no tsconfig.build.json, which is how this tells the two apart.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

if (existsSync('tsconfig.build.json')) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  await import('./link-bin.mjs');
}
