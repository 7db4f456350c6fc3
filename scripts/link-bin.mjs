#!/usr/bin/env node
// npm links the bins of dependencies into node_modules/.bin, but not the
// package's own. Linking it here makes `npx vigil …` work in a checkout right
// after `npm ci` (without it npx would look for a registry package named vigil).
import { mkdirSync, rmSync, symlinkSync, chmodSync } from 'node:fs';

mkdirSync('node_modules/.bin', { recursive: true });
rmSync('node_modules/.bin/vigil', { force: true });
symlinkSync('../../bin/vigil.js', 'node_modules/.bin/vigil');
chmodSync('bin/vigil.js', 0o755);
