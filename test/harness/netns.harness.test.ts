// Proves the network-namespace lab gives real partitions: a host that is cut
// is unreachable from another host and from the test process (connects time
// out, nothing answers), while an application inside it still reaches its
// local server; healing restores the path; stop() leaves nothing behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { startNetLab, type NetLab } from './netns.js';

const PORT = 4100;
let lab: NetLab;
let server: ChildProcess;

// A client that prints "reached" or "timeout"/an error code, for use inside a namespace.
const CLIENT = `const s=require('net').connect({host:process.argv[1],port:${PORT}});
s.setTimeout(1000,()=>{console.log('timeout');process.exit(0)});
s.on('data',()=>{console.log('reached');process.exit(0)});
s.on('error',(e)=>{console.log(e.code);process.exit(0)});`;

function fromRoot(host: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port: PORT });
    const done = (v: string) => { s.destroy(); resolve(v); };
    s.setTimeout(1000, () => done('timeout'));
    s.once('data', () => done('reached'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

async function fromHost(from: string, host: string): Promise<string> {
  return (await lab.exec(from, process.execPath, ['-e', CLIENT, host], { timeoutMs: 10_000 })).trim();
}

before(async () => {
  const t0 = Date.now();
  lab = await startNetLab({ hosts: ['a', 'b'] });
  console.log(`# netns lab ${lab.prefix} on ${lab.subnet} ready in ${Date.now() - t0} ms`);
  server = lab.spawn('a', process.execPath, ['-e',
    `require('net').createServer((s)=>s.end('hi\\n')).listen(${PORT}, process.argv[1], ()=>console.log('listening'))`, lab.addr('a')],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(server.stdout!, 'data');
  assert.equal(String(line).trim(), 'listening');
});
after(() => lab?.stop());

test('each host has its own address; both are distinct from the root address', () => {
  assert.notEqual(lab.addr('a'), lab.addr('b'));
  assert.match(lab.addr('a'), /^10\.213\.\d+\.\d+$/);
  assert.ok(lab.subnet.startsWith(lab.rootAddr.replace(/\.1$/, '.')));
});

test('a server in host a is reached from host b and from the root namespace', async () => {
  assert.equal(await fromHost('b', lab.addr('a')), 'reached');
  assert.equal(await fromRoot(lab.addr('a')), 'reached');
});

test('cut(a): connects from b and from root time out; a still reaches itself', async () => {
  await lab.cut('a');
  assert.equal(lab.isCut('a'), true);
  const [b, root] = await Promise.all([fromHost('b', lab.addr('a')), fromRoot(lab.addr('a'))]);
  assert.equal(b, 'timeout');
  assert.equal(root, 'timeout');
  assert.equal(await fromHost('a', lab.addr('a')), 'reached', 'an application inside a reaches its server');
  assert.equal(server.exitCode, null, 'the server keeps running while cut');
});

test('heal(a): reached again from both', async () => {
  await lab.heal('a');
  assert.equal(await fromHost('b', lab.addr('a')), 'reached');
  assert.equal(await fromRoot(lab.addr('a')), 'reached');
});

test('a namespace process is killed by stop() and no namespace or veth of the prefix is left', async () => {
  const pid = server.pid!;
  await lab.stop();
  await lab.stop(); // idempotent
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  assert.deepEqual(namespaces().filter((n) => n.startsWith(lab.prefix)), []);
  assert.doesNotMatch(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }), new RegExp(`${lab.prefix}root`));
});

test('a lab whose test process was SIGKILLed is swept by the next startNetLab', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `const { startNetLab } = await import(${JSON.stringify(new URL('./netns.ts', import.meta.url).href)});
     const l = await startNetLab({ hosts: ['x'] }); l.spawn('x', 'sleep', ['600']); console.log(l.prefix);`],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  const [out] = await once(child.stdout!, 'data');
  const orphan = String(out).trim();
  assert.match(orphan, /^v[0-9a-f]{4}$/);
  assert.ok(namespaces().some((n) => n.startsWith(orphan)), 'the orphan lab exists');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(namespaces().some((n) => n.startsWith(orphan)), 'SIGKILL left it behind (no exit hook ran)');
  const next = await startNetLab({ hosts: ['y'] });
  try {
    assert.deepEqual(namespaces().filter((n) => n.startsWith(orphan)), [], 'swept');
  } finally {
    await next.stop();
  }
});
