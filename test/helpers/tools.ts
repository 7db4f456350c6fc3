// Tests of real components fail (never skip) when a tool is missing, and say
// how to install it.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findTool(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch { /* next */ }
  }
  return undefined;
}

export function requireTool(name: string, aptPackage: string): string {
  const p = findTool(name);
  if (!p) throw new Error(`${name} not found: install it with \`apt-get install -y ${aptPackage}\``);
  return p;
}
