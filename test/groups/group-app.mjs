// The "app" on a group-lab member host: what HAProxy sends traffic to and
// what the member's `api` probe checks. Plain .mjs (no tsx) so a restart in
// a takeover test costs ~50 ms of node start-up, not a TypeScript compile.
// Answers 200 "<member>\n" on / and /health, 404 elsewhere; prints
// "listening" once bound, so the lab knows when it is up.
// Usage: node group-app.mjs <addr> <port> <member>
import { createServer } from 'node:http';

const [addr, port, member] = process.argv.slice(2);
if (!addr || !port || !member) { console.error('usage: group-app.mjs <addr> <port> <member>'); process.exit(2); }

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  res.setHeader('content-type', 'text/plain');
  if (path === '/' || path === '/health') { res.statusCode = 200; res.end(`${member}\n`); } else { res.statusCode = 404; res.end('not found\n'); }
});
server.keepAliveTimeout = 1000;
server.listen(Number(port), addr, () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
