// Small pieces every one-transaction snapshot (clusters, groups, fleets)
// reads etcd with: a prefix as a key range, and a stored JSON record checked
// against its schema without ever trusting or throwing on what is there.
import type { z } from 'zod';

/** The end of a prefix range: the prefix with its last byte incremented. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  b[b.length - 1]++;
  return b;
}

/** A txn request for every key under `prefix`. */
export function prefixRange(prefix: string): { request_range: { key: Buffer; range_end: Buffer } } {
  return { request_range: { key: Buffer.from(prefix), range_end: prefixEnd(prefix) } };
}

/** A JSON value of `schema`, or undefined when the key holds something else (never trusted, never thrown). */
export function parseOr<T>(schema: z.ZodType<T>, raw: Buffer | undefined): T | undefined {
  if (!raw) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(raw.toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
