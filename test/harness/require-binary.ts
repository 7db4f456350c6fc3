// Real-component tests must fail (never skip) when a binary is missing, and
// say exactly how to install it.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// Debian keeps server binaries off PATH: mariadbd in /usr/sbin, postgres and
// initdb in /usr/lib/postgresql/<major>/bin (newest major first).
function postgresBinDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

export function requireBinary(name: string, aptPackage: string): string {
  const dirs = (process.env.PATH ?? '').split(delimiter)
    .concat(['/usr/sbin', '/sbin', '/lib/systemd'], postgresBinDirs());
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch { /* keep looking */ }
  }
  throw new Error(`${name} not found: install it with \`apt-get install -y ${aptPackage}\``);
}
