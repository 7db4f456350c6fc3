#!/usr/bin/env node
// The published entry point runs the compiled CLI (built by `npm ci` via the
// "prepare" script). Kept as plain JS so `npx vigil` needs no TypeScript loader.
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`vigil: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
