// HTTP probe against real node:http and node:https servers on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { buildProbe, observation } from '../helpers/probe.js';
import { closedPort, startHttpServer, startHttpsServer, startSilentServer, type TestServer } from '../helpers/servers.js';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls.js';

interface Seen { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }

let server: TestServer;
let lastSeen: Seen = { headers: {}, body: '' };

function routes(req: http.IncomingMessage, res: http.ServerResponse) {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    lastSeen = { method: req.method, url: req.url, headers: req.headers, body };
    const u = new URL(req.url ?? '/', 'http://x');
    switch (u.pathname) {
      case '/ok': res.end('{"status":"up","version":"1.2.3"}'); break;
      case '/down': res.end('{"status":"down"}'); break;
      case '/error': res.statusCode = 500; res.end('boom'); break;
      case '/missing': res.statusCode = 404; res.end('not here'); break;
      case '/old': res.statusCode = 302; res.setHeader('location', '/ok'); res.end(); break;
      case '/loop': res.statusCode = 302; res.setHeader('location', '/loop'); res.end(); break;
      case '/see-other': res.statusCode = 303; res.setHeader('location', '/echo'); res.end(); break;
      case '/temporary': res.statusCode = 307; res.setHeader('location', '/echo'); res.end(); break;
      case '/chain': {
        const n = Number(u.searchParams.get('n'));
        res.statusCode = 302;
        res.setHeader('location', n > 1 ? `/chain?n=${n - 1}` : '/ok');
        res.end();
        break;
      }
      case '/away': res.statusCode = 302; res.setHeader('location', String(req.headers['x-away'])); res.end(); break;
      case '/big': res.end('x'.repeat(64 * 1024)); break;
      case '/echo': res.setHeader('content-type', 'text/plain'); res.end(`${req.method} ${req.headers['x-probe'] ?? ''} ${body}`); break;
      case '/stall-body': res.writeHead(200); res.write('partial'); break; // never ends
      default: res.statusCode = 404; res.end();
    }
  });
}

before(async () => { server = await startHttpServer(routes); });
after(async () => { await server.close(); });

describe('status codes', () => {
  test('200 is a success; the status code is observed', async () => {
    const p = buildProbe({ type: 'http', url: `${server.origin}/ok` });
    const r = await p.run();
    assert.equal(r.ok, true, r.message);
    assert.equal(observation(r, 'http_status_code'), 200);
    assert.equal(r.message, `GET ${server.origin}/ok returned 200`);
    assert.ok(r.durationSeconds > 0 && r.durationSeconds < 2);
  });

  test('500 fails with reason status', async () => {
    const r = await buildProbe({ type: 'http', url: `${server.origin}/error` }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'status');
    assert.equal(observation(r, 'http_status_code'), 500);
    assert.equal(r.message, `GET ${server.origin}/error returned status 500`);
  });

  test('valid_status_codes: a code, a class and a range', async () => {
    for (const [codes, ok] of [[[404], true], [['4xx'], true], [['400-404'], true], [['2xx'], false], [[200, '405-499'], false]] as const) {
      const r = await buildProbe({ type: 'http', url: `${server.origin}/missing`, valid_status_codes: codes }).run();
      assert.equal(r.ok, ok, `${JSON.stringify(codes)}: ${r.message}`);
    }
  });
});

describe('request: method, headers, body', () => {
  test('POST with headers (one from ${ENV}) and a body', async () => {
    const p = buildProbe({
      type: 'http', url: `${server.origin}/echo?token=secret`, method: 'POST',
      headers: { 'X-Probe': 'vigil', Authorization: 'Bearer ${PROBE_TOKEN}', 'Content-Type': 'application/json' },
      body: '{"ping":1}', fail_if_body_not_matches_regexp: ['^POST vigil \\{"ping":1\\}$'],
    }, { env: { PROBE_TOKEN: 't0k3n' } });
    const r = await p.run();
    assert.equal(r.ok, true, r.message);
    assert.equal(lastSeen.method, 'POST');
    assert.equal(lastSeen.url, '/echo?token=secret');
    assert.equal(lastSeen.headers.authorization, 'Bearer t0k3n');
    assert.equal(lastSeen.body, '{"ping":1}');
    // The query string (where tokens live) never reaches the message.
    assert.equal(r.message, `POST ${server.origin}/echo?… returned 200`);
  });

  test('credentials in the URL never reach the message', async () => {
    const r = await buildProbe({ type: 'http', url: `http://user:hunter2@127.0.0.1:${server.port}/error` }).run();
    assert.equal(r.ok, false);
    assert.doesNotMatch(r.message ?? '', /hunter2|user/);
  });
});

describe('body checks', () => {
  test('fail_if_body_not_matches_regexp', async () => {
    const good = await buildProbe({ type: 'http', url: `${server.origin}/ok`, fail_if_body_not_matches_regexp: ['"status":"up"'] }).run();
    assert.equal(good.ok, true, good.message);
    const bad = await buildProbe({ type: 'http', url: `${server.origin}/down`, fail_if_body_not_matches_regexp: ['"status":"up"'] }).run();
    assert.equal(bad.ok, false);
    assert.equal(bad.reason, 'body');
    assert.equal(bad.message, 'body does not match "status":"up"');
  });

  test('fail_if_body_matches_regexp', async () => {
    const bad = await buildProbe({ type: 'http', url: `${server.origin}/down`, fail_if_body_matches_regexp: ['"status":\\s*"down"'] }).run();
    assert.equal(bad.ok, false);
    assert.equal(bad.reason, 'body');
    const good = await buildProbe({ type: 'http', url: `${server.origin}/ok`, fail_if_body_matches_regexp: ['"status":\\s*"down"'] }).run();
    assert.equal(good.ok, true, good.message);
  });

  test('without body checks a body over the limit is cut off, not a failure', async () => {
    const r = await buildProbe({ type: 'http', url: `${server.origin}/big`, body_size_limit: '1KiB' }).run();
    assert.equal(r.ok, true, r.message);
  });

  test('HEAD', async () => {
    const r = await buildProbe({ type: 'http', url: `${server.origin}/ok`, method: 'HEAD' }).run();
    assert.equal(r.ok, true, r.message);
    assert.equal(lastSeen.method, 'HEAD');
  });

  test('a body over body_size_limit fails the body check instead of being read whole', async () => {
    const r = await buildProbe({ type: 'http', url: `${server.origin}/big`, body_size_limit: '1KiB', fail_if_body_not_matches_regexp: ['x'] }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'body');
    assert.equal(r.message, 'body larger than body_size_limit (1024 bytes)');
    const fits = await buildProbe({ type: 'http', url: `${server.origin}/big`, body_size_limit: '64KiB', fail_if_body_not_matches_regexp: ['x'] }).run();
    assert.equal(fits.ok, true, fits.message);
  });
});

describe('redirects', () => {
  test('followed by default', async () => {
    const r = await buildProbe({ type: 'http', url: `${server.origin}/old`, fail_if_body_not_matches_regexp: ['"up"'] }).run();
    assert.equal(r.ok, true, r.message);
    assert.equal(observation(r, 'http_status_code'), 200);
    assert.equal(lastSeen.url, '/ok');
  });

  test('follow_redirects: false sees the 302 itself', async () => {
    const r = await buildProbe({ type: 'http', url: `${server.origin}/old`, follow_redirects: false }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'status');
    assert.equal(observation(r, 'http_status_code'), 302);
    const ok = await buildProbe({ type: 'http', url: `${server.origin}/old`, follow_redirects: false, valid_status_codes: [302] }).run();
    assert.equal(ok.ok, true, ok.message);
  });

  test('a redirect loop stops at max_redirects and fails', async () => {
    const r = await buildProbe({ type: 'http', url: `${server.origin}/loop`, max_redirects: 3 }).run();
    assert.equal(r.ok, false, r.message);
    assert.equal(r.reason, 'status');
    assert.equal(observation(r, 'http_status_code'), 302);
  });

  test('max_redirects is the number of redirects followed', async () => {
    const three = await buildProbe({ type: 'http', url: `${server.origin}/chain?n=3`, max_redirects: 3 }).run();
    assert.equal(three.ok, true, three.message);
    const four = await buildProbe({ type: 'http', url: `${server.origin}/chain?n=4`, max_redirects: 3 }).run();
    assert.equal(four.ok, false);
  });

  test('303 continues as GET without the body; 307 keeps the method and body', async () => {
    let r = await buildProbe({ type: 'http', url: `${server.origin}/see-other`, method: 'POST', body: 'payload', fail_if_body_not_matches_regexp: ['^GET'] }).run();
    assert.equal(r.ok, true, r.message);
    assert.equal(lastSeen.method, 'GET');
    assert.equal(lastSeen.body, '');
    r = await buildProbe({ type: 'http', url: `${server.origin}/temporary`, method: 'POST', body: 'payload', fail_if_body_not_matches_regexp: ['^POST  payload$'] }).run();
    assert.equal(r.ok, true, r.message);
  });

  test('a redirect to another origin does not carry the Authorization header', async () => {
    const other = await startHttpServer((req, res) => { res.end(`auth=${req.headers.authorization ?? 'none'} x=${req.headers['x-away'] ?? ''}`); });
    try {
      const r = await buildProbe({
        type: 'http', url: `${server.origin}/away`,
        headers: { Authorization: 'Bearer secret', 'X-Away': `${other.origin}/landing` },
        fail_if_body_not_matches_regexp: ['^auth=none x=http'],
      }).run();
      assert.equal(r.ok, true, r.message);
    } finally {
      await other.close();
    }
  });
});

describe('secret headers and redirects', () => {
  let server: TestServer;
  before(async () => { server = await startHttpServer((req, res) => { res.writeHead(302, { location: String(req.headers['x-away']) }); res.end(); }); });
  after(async () => { await server.close(); });

  test('a header configured as a secret ({ file: } or ${ENV}) is not sent on to another origin; a plain one is', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'vigil-hdr-'));
    writeFileSync(join(dir, 'key'), 'file-secret\n');
    const seen: http.IncomingHttpHeaders[] = [];
    const other = await startHttpServer((req, res) => { seen.push(req.headers); res.end('landed'); });
    try {
      const r = await buildProbe({
        type: 'http', url: `${server.origin}/away`,
        headers: { 'X-Api-Key': { file: join(dir, 'key') }, 'X-Env-Token': '${VIGIL_TEST_TOKEN}', 'X-Away': `${other.origin}/landing`, 'X-Plain': 'hello' },
      }, { env: { VIGIL_TEST_TOKEN: 'env-secret' } }).run();
      assert.equal(r.ok, true, r.message);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]['x-api-key'], undefined, 'the file secret stayed home');
      assert.equal(seen[0]['x-env-token'], undefined, 'the ${ENV} secret stayed home');
      assert.equal(seen[0]['x-plain'], 'hello', 'a plain header follows the redirect');
    } finally {
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a peer that echoes the request', () => {
  test('a query string, a credential header and a secret header echoed back never reach the message', async () => {
    const net = await import('node:net');
    // Answers with the first line of the request (or of the chosen header) as its "status line".
    const echo = (pick: (lines: string[]) => string) => net.createServer((sock) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) sock.end(`${pick(buf.split('\r\n'))}\r\n\r\n`);
      });
      sock.on('error', () => undefined);
    });
    for (const [pick, secretText] of [
      [(l: string[]) => l[0], 'token=s3cret-query'],
      [(l: string[]) => l.find((x) => /^authorization:/i.test(x)) ?? '', 'Bearer-abcdef123456'],
      [(l: string[]) => l.find((x) => /^x-api-key:/i.test(x)) ?? '', 'key-0123456789'],
    ] as const) {
      const srv = echo(pick).listen(0, '127.0.0.1');
      await new Promise((r) => srv.once('listening', r));
      const port = (srv.address() as import('node:net').AddressInfo).port;
      try {
        const r = await buildProbe({
          type: 'http', url: `http://127.0.0.1:${port}/health?token=s3cret-query`,
          headers: { Authorization: 'Bearer Bearer-abcdef123456', 'X-Api-Key': '${KEY}' },
        }, { env: { KEY: 'key-0123456789' } }).run();
        assert.equal(r.ok, false);
        assert.equal(r.reason, 'protocol', r.message);
        assert.doesNotMatch(r.message ?? '', new RegExp(secretText), `leaked: ${r.message}`);
      } finally {
        srv.close();
      }
    }
  });
});

describe('failure reasons that name what happened', () => {
  test('a redirect to file:// is a protocol failure, not internal', async () => {
    const srv = await startHttpServer((_q, res) => { res.writeHead(302, { location: 'file:///etc/passwd' }); res.end(); });
    try {
      const r = await buildProbe({ type: 'http', url: `${srv.origin}/` }).run();
      assert.equal(r.reason, 'protocol', r.message);
      assert.match(r.message ?? '', /redirected \(302\) to a file: URL; only http and https redirects are followed/);
    } finally {
      await srv.close();
    }
  });

  test('an invalid chunk size is a protocol failure with keepalive too (node:http only said "aborted")', async () => {
    const net = await import('node:net');
    const srv = net.createServer((sock) => {
      sock.on('data', () => sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n'));
      sock.on('error', () => undefined);
    }).listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    try {
      const port = (srv.address() as import('node:net').AddressInfo).port;
      for (const keepalive of [true, false]) {
        const r = await buildProbe({ type: 'http', url: `http://127.0.0.1:${port}/`, keepalive, fail_if_body_matches_regexp: ['nope'] }).run();
        assert.equal(r.reason, 'protocol', `keepalive ${keepalive}: ${r.message}`);
      }
    } finally {
      srv.close();
    }
  });

  test('out of file descriptors (EMFILE) says so and what to raise', async () => {
    const { execFileSync } = await import('node:child_process');
    // A real EMFILE: a child with a descriptor limit of 30 opens sockets until it gets one, then classifies it.
    const script = `
      import net from 'node:net';
      import { classifyNetworkError } from './src/probes/net-errors.ts';
      const keep = [];
      const srv = net.createServer((c) => keep.push(c)).on('error', () => {});
      await new Promise((r) => srv.listen(0, '127.0.0.1', r));
      const port = srv.address().port;
      const tryOne = () => new Promise((res) => { const s = net.connect(port, '127.0.0.1'); keep.push(s); s.on('connect', () => res(undefined)); s.on('error', res); });
      for (let i = 0; i < 100; i++) { const e = await tryOne(); if (e && e.code === 'EMFILE') { console.log(JSON.stringify(classifyNetworkError(e, false))); process.exit(0); } }
      console.log('no EMFILE'); process.exit(1);`;
    const out = execFileSync('sh', ['-c', `ulimit -n 30 && exec ${process.execPath} --import tsx --input-type=module -e "$0"`, script], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { reason: string; message: string };
    assert.match(r.message, /EMFILE.*raise the agent's open-file limit, LimitNOFILE/);
  });
});

describe('network failures', () => {
  test('connection refused', async () => {
    const port = await closedPort();
    const r = await buildProbe({ type: 'http', url: `http://127.0.0.1:${port}/` }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'connect_refused', r.message);
    assert.equal(observation(r, 'http_status_code'), 0);
    assert.match(r.message ?? '', /ECONNREFUSED/);
  });

  test('a server that accepts and never answers: the timeout is honoured', async () => {
    const silent = await startSilentServer();
    try {
      const p = buildProbe({ type: 'http', url: `${silent.origin}/`, interval: '5s', timeout: '400ms' });
      const started = performance.now();
      const r = await p.run();
      const took = performance.now() - started;
      assert.equal(r.ok, false);
      assert.equal(r.reason, 'timeout', r.message);
      assert.ok(took >= 380, `returned after ${took.toFixed(0)} ms, before the timeout`);
      assert.ok(took < 1400, `returned after ${took.toFixed(0)} ms: the timeout was not honoured`);
    } finally {
      await silent.close();
    }
  });

  test('headers arrive but the body stalls: still the timeout', async () => {
    const p = buildProbe({ type: 'http', url: `${server.origin}/stall-body`, interval: '5s', timeout: '400ms', fail_if_body_not_matches_regexp: ['done'] });
    const started = performance.now();
    const r = await p.run();
    const took = performance.now() - started;
    assert.equal(r.reason, 'timeout', r.message);
    assert.ok(took >= 380 && took < 1400, `took ${took.toFixed(0)} ms`);
  });

  test('a name that does not resolve fails with reason dns', async () => {
    const r = await buildProbe({ type: 'http', url: 'http://vigil-test.invalid/', timeout: '3s' }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'dns', r.message);
  });
});

describe('connections', () => {
  test('a fresh connection per run by default', async () => {
    const p = buildProbe({ type: 'http', url: `${server.origin}/ok` });
    const before = server.connections();
    for (let i = 0; i < 3; i++) assert.equal((await p.run()).ok, true);
    assert.equal(server.connections() - before, 3);
    await p.close();
  });

  test('keepalive: true reuses one connection', async () => {
    const p = buildProbe({ type: 'http', url: `${server.origin}/ok`, keepalive: true });
    const before = server.connections();
    for (let i = 0; i < 3; i++) assert.equal((await p.run()).ok, true);
    assert.equal(server.connections() - before, 1);
    await p.close();
  });
});

describe('https with a self-signed certificate', () => {
  let cert: TestCert;
  let tls: TestServer;
  before(async () => {
    cert = makeSelfSignedCert({ cn: 'localhost', days: 30 });
    tls = await startHttpsServer(cert, routes);
  });
  after(async () => { await tls.close(); cert.cleanup(); });

  test('without ca_file: fails with reason tls', async () => {
    const r = await buildProbe({ type: 'http', url: `https://localhost:${tls.port}/ok` }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'tls', r.message);
    assert.match(r.message ?? '', /self[- ]signed/i);
  });

  test('with ca_file: succeeds and exports the certificate expiry', async () => {
    const r = await buildProbe({ type: 'http', url: `https://localhost:${tls.port}/ok`, tls: { ca_file: cert.certFile } }).run();
    assert.equal(r.ok, true, r.message);
    assert.equal(observation(r, 'tls_cert_expiry_timestamp_seconds'), cert.notAfter);
    const days = (cert.notAfter - Date.now() / 1000) / 86400;
    assert.ok(days > 29 && days <= 30, `expires in ${days} days`);
  });

  test('insecure_skip_verify accepts it (and still reports the expiry)', async () => {
    const r = await buildProbe({ type: 'http', url: `https://127.0.0.1:${tls.port}/ok`, tls: { insecure_skip_verify: true } }).run();
    assert.equal(r.ok, true, r.message);
    assert.equal(observation(r, 'tls_cert_expiry_timestamp_seconds'), cert.notAfter);
  });

  test('with keepalive the expiry is still reported on every run', async () => {
    const p = buildProbe({ type: 'http', url: `https://localhost:${tls.port}/ok`, keepalive: true, tls: { ca_file: cert.certFile } });
    for (let i = 0; i < 2; i++) {
      const r = await p.run();
      assert.equal(r.ok, true, r.message);
      assert.equal(observation(r, 'tls_cert_expiry_timestamp_seconds'), cert.notAfter, `run ${i + 1}`);
    }
    await p.close();
  });

  test('a wrong server_name fails with reason tls', async () => {
    const r = await buildProbe({ type: 'http', url: `https://localhost:${tls.port}/ok`, tls: { ca_file: cert.certFile, server_name: 'other.example' } }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'tls', r.message);
  });

  test('fail_if_not_ssl fails a plain http URL and passes https', async () => {
    const plain = await buildProbe({ type: 'http', url: `${server.origin}/ok`, fail_if_not_ssl: true }).run();
    assert.equal(plain.ok, false);
    assert.equal(plain.reason, 'tls');
    const secure = await buildProbe({ type: 'http', url: `https://localhost:${tls.port}/ok`, fail_if_not_ssl: true, tls: { ca_file: cert.certFile } }).run();
    assert.equal(secure.ok, true, secure.message);
  });
});
