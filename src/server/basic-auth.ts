// HTTP basic auth against the bcrypt hashes of a web config file. bcrypt is
// slow on purpose (~100 ms at cost 10), so a verdict is cached, keyed by a
// SHA-256 of (user, stored hash, password): a scrape every second costs one
// hash and a map lookup. Good and bad verdicts live in separate bounded
// maps, so a stream of wrong passwords cannot push Prometheus's good entry
// out. The password itself is never stored, logged or compared in the open.
import { createHash, timingSafeEqual } from 'node:crypto';
import { BcryptWorker } from './bcrypt-worker.js';

/** 'unavailable': the password could not be checked (the bcrypt worker failed); not remembered. */
export type AuthVerdict = 'ok' | 'denied' | 'busy' | 'unavailable';

/** User and password from `Authorization: Basic …`, or undefined. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Insertion-ordered map that forgets its oldest entry past `max` (a hit moves an entry to the end). */
class BoundedSet {
  readonly #keys = new Map<string, true>();
  constructor(private readonly max: number) {}
  has(key: string): boolean {
    if (!this.#keys.has(key)) return false;
    this.#keys.delete(key);
    this.#keys.set(key, true);
    return true;
  }
  add(key: string): void {
    this.#keys.set(key, true);
    if (this.#keys.size > this.max) this.#keys.delete(this.#keys.keys().next().value as string);
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class BasicAuth {
  readonly #good = new BoundedSet(64);
  readonly #bad = new BoundedSet(1024);
  readonly #inflight = new Map<string, Promise<AuthVerdict>>();

  constructor(private readonly bcrypt: BcryptWorker = new BcryptWorker()) {}

  /** Checks an Authorization header against `users` (name → bcrypt hash). */
  check(users: ReadonlyMap<string, string>, header: string | undefined): Promise<AuthVerdict> {
    const cred = basicCredentials(header);
    if (!cred) return Promise.resolve('denied');
    const hash = lookup(users, cred.user);
    const key = createHash('sha256').update(cred.user).update('\0').update(hash ?? '').update('\0').update(cred.password).digest('hex');
    if (hash !== undefined && this.#good.has(key)) return Promise.resolve('ok');
    if (this.#bad.has(key)) return Promise.resolve('denied');
    // The same credentials arriving together (a retry, two scrapers) share one comparison.
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#verify(cred.password, hash, users, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  close(): Promise<void> {
    return this.bcrypt.close();
  }

  async #verify(password: string, hash: string | undefined, users: ReadonlyMap<string, string>, key: string): Promise<AuthVerdict> {
    const first = users.values().next().value;
    const cost = first ? Number(first.slice(4, 6)) : 10;
    const r = await this.bcrypt.compare(password, hash, cost);
    if (r === 'busy') return 'busy';
    if (r === 'failed') return 'unavailable';
    const ok = r && hash !== undefined;
    (ok ? this.#good : this.#bad).add(key);
    return ok ? 'ok' : 'denied';
  }
}

/** The stored hash of `user`, looked up without an early exit: every name is compared, in constant time. */
function lookup(users: ReadonlyMap<string, string>, user: string): string | undefined {
  const wanted = sha256(user);
  let found: string | undefined;
  for (const [name, hash] of users) {
    if (timingSafeEqual(sha256(name), wanted) && found === undefined) found = hash;
  }
  return found;
}
