// The Host allow-list (allowed_hosts): a page on evil.example that DNS-rebinds
// its name to 127.0.0.1 reaches vigil with `Host: evil.example`; a listener
// told its own names refuses it. Entries without a port match any port.

const HOST_PORT_RE = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/;

/** Whether `host` (a Host header) is one of `allowed` (lower-case entries); an empty list allows any. */
export function hostAllowed(allowed: readonly string[], host: string | undefined): boolean {
  if (allowed.length === 0) return true;
  if (host === undefined) return false;
  const h = host.trim().toLowerCase();
  const m = HOST_PORT_RE.exec(h);
  if (!m) return false;
  return allowed.some((a) => (HOST_PORT_RE.exec(a)?.[2] !== undefined ? a === h : a === m[1]));
}
