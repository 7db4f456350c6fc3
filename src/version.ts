import { readFileSync } from 'node:fs';

/** The package version; src/ and dist/ both sit one level below package.json. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
