// TEST-ONLY STAND-IN for a vigil agent's role endpoint, used by
// group-lab.harness.test.ts while the agent has no `groups:` yet: it answers
// GET /role/<group> with a fixed status (200 = "active", 503 = "standby"), so
// the lab's HAProxy wiring can be proven before the real agent exists. Phase 2
// runs the real agent on this port instead; nothing else may use this file.
// Prints "listening" once bound.
// Usage: node stand-in-role.mjs <addr> <port> <group> <status>
import { createServer } from 'node:http';

const [addr, port, group, status] = process.argv.slice(2);
if (!addr || !port || !group || !status) { console.error('usage: stand-in-role.mjs <addr> <port> <group> <status>'); process.exit(2); }

createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === `/role/${group}`) {
    res.statusCode = Number(status);
    res.end(JSON.stringify({ group, role: res.statusCode === 200 ? 'active' : 'standby', stand_in: true }));
  } else { res.statusCode = 404; res.end('{}'); }
}).listen(Number(port), addr, () => console.log('listening'));
