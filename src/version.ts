import { readFileSync } from 'node:fs';

/**
 * The package version. src/ and dist/ sit one level below package.json; the
 * single-file bundle of the .deb (/usr/lib/vigil/vigil.js) sits next to its own.
 */
export function packageVersion(): string {
  for (const rel of ['../package.json', './package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'vigil-agent') return pkg.version;
    } catch { /* try the next place */ }
  }
  return 'unknown';
}
