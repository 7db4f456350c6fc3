// The admin bearer token: kept out of logs, JSON and util.inspect by
// construction, and compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { inspect } from 'node:util';

export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  get empty(): boolean {
    return this.#value.length === 0;
  }

  /**
   * Constant-time comparison. Both sides are hashed first so neither the
   * length nor a common prefix leaks through timing.
   */
  matches(candidate: string): boolean {
    if (this.#value.length === 0) return false;
    const a = createHash('sha256').update(this.#value).digest();
    const b = createHash('sha256').update(candidate).digest();
    return timingSafeEqual(a, b);
  }

  toJSON(): string {
    return '<redacted>';
  }

  toString(): string {
    return '<redacted>';
  }

  [inspect.custom](): string {
    return 'SecretValue(<redacted>)';
  }
}

/** The token from an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Why the token file is exposed (readable by group or others), or undefined when it is not. */
export function tokenFileWarning(file: string): string | undefined {
  try {
    const mode = statSync(file).mode & 0o777;
    return mode & 0o077 ? `admin token file ${file} is readable by group or others (mode ${mode.toString(8)}); chmod 600 ${file}` : undefined;
  } catch {
    return undefined; // unreadable now: the config check already said why
  }
}
