import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const FIXTURES = resolve(import.meta.dirname, '../fixtures/config');
/** The environment every fixture is loaded with: one variable set, one not. */
export const FIXTURE_ENV: NodeJS.ProcessEnv = { VIGIL_FIXTURE_TOKEN: 'fixture-token' };

/** A bad fixture's `# expect: ` lines: exactly the problem lines check-config prints. */
export function expectedLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n')
    .filter((l) => l.startsWith('# expect: '))
    .map((l) => l.slice('# expect: '.length));
}
