// The application of the partition lab, run as its own process INSIDE a
// host's network namespace (`node --import tsx partition-writer.ts HOST PORT
// NAME`, user and password in VIGIL_APP_USER / VIGIL_APP_PASSWORD): every
// 100 ms it INSERTs one row (a unique id, the client's send time, and the
// server's @@server_id) as a user without SUPER / READ ONLY ADMIN, so
// read_only stops it. It prints one JSON line per outcome on stdout:
//   {"kind":"ack","id","seq","server","serverId","sentAt","ackedAt"}  the server acknowledged the write
//   {"kind":"error","id","seq","sentAt","at","code","message"}        it did not (or the outcome is unknown)
// An ack is the evidence that a server accepted a write at that time, also
// when the server is cut off and cannot be sampled from outside.
import mysql from 'mysql2/promise';

const CONNECT_TIMEOUT_MS = 500;
const QUERY_TIMEOUT_MS = 1000;
const EVERY_MS = 100;

const [host, port, name] = process.argv.slice(2);
if (!host || !port || !name) {
  process.stderr.write('usage: partition-writer.ts HOST PORT NAME (VIGIL_APP_USER, VIGIL_APP_PASSWORD in the environment)\n');
  process.exit(2);
}
const user = process.env.VIGIL_APP_USER ?? 'app';
const password = process.env.VIGIL_APP_PASSWORD ?? '';
const emit = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let conn: mysql.Connection | undefined;
let serverId: number | undefined;
let seq = 0;

for (;;) {
  const sentAt = Date.now();
  const id = `${name}-${++seq}`;
  try {
    if (!conn) {
      const c = await mysql.createConnection({ host, port: Number(port), user, password, database: 'app', connectTimeout: CONNECT_TIMEOUT_MS });
      c.on('error', () => undefined); // a dead connection is noticed by the next query
      conn = c;
      const [rows] = await c.query({ sql: 'SELECT @@server_id AS id', timeout: QUERY_TIMEOUT_MS });
      serverId = Number((rows as Array<{ id: number }>)[0].id);
    }
    await conn.query({ sql: 'INSERT INTO writes (id, writer, sent_at, server_id) VALUES (?, ?, ?, @@server_id)', timeout: QUERY_TIMEOUT_MS },
      [id, name, sentAt]);
    emit({ kind: 'ack', id, seq, server: `${host}:${port}`, serverId, sentAt, ackedAt: Date.now() });
  } catch (err) {
    const e = err as { code?: string; message?: string; sqlState?: string; fatal?: boolean };
    emit({ kind: 'error', id, seq, sentAt, at: Date.now(), code: e.code ?? null, message: e.message ?? String(err) });
    // A statement the server refused (read_only) leaves the connection usable; anything else does not.
    if (!e.sqlState || e.fatal) { conn?.destroy(); conn = undefined; }
  }
  await sleep(Math.max(0, sentAt + EVERY_MS - Date.now()));
}
