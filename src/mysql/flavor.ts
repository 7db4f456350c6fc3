// MariaDB or MySQL: they share the protocol and most statements, and differ
// in GTIDs, replica-status columns and super_read_only. Told once, here, from
// the server's version string.
export type Flavor = 'mariadb' | 'mysql';

export function flavorOf(version: unknown): Flavor {
  return /mariadb/i.test(String(version)) ? 'mariadb' : 'mysql';
}
