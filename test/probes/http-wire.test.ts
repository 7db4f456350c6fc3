// http-wire (the http probe's fresh-connection client) against real servers
// on 127.0.0.1: node:http/https, and raw TCP servers that send exactly the
// bytes a test scripts, split, malformed or endless.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { exchange, prepareRequest, WireTls, MAX_HEAD_BYTES, type ExchangeOptions, type WireResponse } from '../../src/probes/http-wire.js';
import { classifyNetworkError } from '../../src/probes/net-errors.js';
import { buildProbe, observation } from '../helpers/probe.js';
import { closedPort, startHttpServer, startHttpsServer, startSilentServer, type TestServer } from '../helpers/servers.js';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls.js';
import { sleep, waitUntil } from '../helpers/wait.js';

interface RawServer {
  readonly port: number;
  readonly origin: string;
  /** Each request's head as received (up to the blank line), in order. */
  readonly requests: string[];
  connections(): number;
  /** Accepted sockets not yet closed. */
  open(): number;
  close(): Promise<void>;
}

/** A TCP server that reads one request head and hands the socket to `respond`. */
async function rawServer(respond: (socket: net.Socket, head: string) => void | Promise<void>): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // the client cutting a response off resets it
    socket.setNoDelay(true);
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      requests.push(got.slice(0, end));
      void respond(socket, got.slice(0, end));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port, origin: `http://127.0.0.1:${port}`, requests,
    connections: () => count,
    open: () => sockets.size,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** Writes `text` in pieces of `size` bytes, each after a pause, so the client reads them separately. */
async function trickle(socket: net.Socket, text: string, size = 1, pauseMs = 1): Promise<void> {
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length && !socket.destroyed; i += size) {
    socket.write(bytes.subarray(i, i + size));
    await sleep(pauseMs);
  }
}

/** Keeps writing `chunk` until the client goes away. */
function flood(socket: net.Socket, chunk: string): void {
  // ~16 KiB per write: with one tiny write per line, a loaded machine (CI with the other suites
  // running) took longer than the probe's 3 s timeout to deliver 64 KiB, and the test read "timed out".
  const buf = Buffer.from(chunk.repeat(Math.max(1, Math.floor(16384 / chunk.length))), 'latin1');
  const pump = () => {
    while (!socket.destroyed && socket.write(buf));
    if (!socket.destroyed) socket.once('drain', pump);
  };
  pump();
}

const OPTS: ExchangeOptions = { limit: 1024 * 1024, keepBody: true, stopAtRedirect: false };

function get(url: string, opts: Partial<ExchangeOptions> = {}, signal = new AbortController().signal, method = 'GET'): Promise<WireResponse> {
  return exchange(prepareRequest(new URL(url), method, {}, undefined), { ...OPTS, ...opts }, signal);
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.fail('expected a rejection');
}

/** A raw server that answers every request with `response` and then closes (unless `keepOpen`). */
function scripted(response: string, { keepOpen = false } = {}): Promise<RawServer> {
  return rawServer((socket) => {
    socket.write(Buffer.from(response, 'latin1'));
    if (!keepOpen) socket.end();
  });
}

describe('body framing', { timeout: 20_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startHttpServer((req, res) => {
      if (req.url === '/chunked') { res.write('hello '); setTimeout(() => res.end('world'), 5); return; }
      if (req.url === '/length') { res.setHeader('content-length', 11); res.end('hello world'); return; }
      res.statusCode = 404;
      res.end();
    });
  });
  after(async () => { await server.close(); });

  test('chunked (node:http server): decoded', async () => {
    const res = await get(`${server.origin}/chunked`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hello world');
    assert.equal(res.bodyBytes, 11);
    assert.equal(res.truncated, false);
  });

  test('chunked with extensions and trailers: extensions and trailers ignored', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext="a"\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n', { keepOpen: true });
    try {
      // keepOpen: completes on the last chunk, not on the close.
      const res = await get(`${raw.origin}/`);
      assert.equal(res.body, 'hello world');
    } finally { await raw.close(); }
  });

  test('Content-Length (node:http server)', async () => {
    const res = await get(`${server.origin}/length`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hello world');
  });

  test('Content-Length: completes at the length though the server keeps the connection open, extra bytes ignored', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\ncontent-LENGTH: 5\r\n\r\nhelloEXTRA', { keepOpen: true });
    try {
      const started = performance.now();
      const res = await get(`${raw.origin}/`);
      assert.equal(res.body, 'hello');
      assert.ok(performance.now() - started < 1000);
      await waitUntil('the client to close its connection', () => raw.open() === 0);
    } finally { await raw.close(); }
  });

  test('after a complete response the client waits for the server to close (TIME_WAIT stays on the server side)', async () => {
    let clientClosedFirst: boolean | undefined;
    const raw = await rawServer(async (socket) => {
      let serverEnded = false;
      socket.once('end', () => { clientClosedFirst ??= !serverEnded; });
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      await sleep(100);
      serverEnded = true;
      socket.end();
    });
    try {
      const started = performance.now();
      assert.equal((await get(`${raw.origin}/`)).body, 'ok');
      assert.ok(performance.now() - started < 90, 'resolved at the end of the body, not at the close');
      await waitUntil('the connection to close', () => raw.open() === 0);
      assert.equal(clientClosedFirst, false);
    } finally { await raw.close(); }
  });

  test('a request with its own Connection: keep-alive is closed at once: the server will not close it', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', { keepOpen: true });
    try {
      const req = prepareRequest(new URL(`${raw.origin}/`), 'GET', { Connection: 'keep-alive' }, undefined);
      assert.equal((await exchange(req, OPTS, new AbortController().signal)).body, 'ok');
      const started = performance.now();
      await waitUntil('the client to close', () => raw.open() === 0);
      assert.ok(performance.now() - started < 500, `closed after ${(performance.now() - started).toFixed(0)} ms`);
    } finally { await raw.close(); }
  });

  test('no framing: the body runs until the server closes', async () => {
    const raw = await rawServer(async (socket) => {
      socket.write('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst ');
      await sleep(20);
      socket.end('second');
    });
    try {
      const res = await get(`${raw.origin}/`);
      assert.equal(res.body, 'first second');
    } finally { await raw.close(); }
  });

  test('HEAD: no body read whatever Content-Length says', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n', { keepOpen: true });
    try {
      const res = await get(`${raw.origin}/`, {}, undefined, 'HEAD');
      assert.equal(res.status, 200);
      assert.equal(res.body, '');
      assert.match(raw.requests[0], /^HEAD \/ HTTP\/1\.1\r\n/);
    } finally { await raw.close(); }
  });

  for (const status of [204, 304]) {
    test(`${status}: no body even with a Content-Length, no wait for the close`, async () => {
      const raw = await scripted(`HTTP/1.1 ${status} X\r\nContent-Length: 42\r\n\r\n`, { keepOpen: true });
      try {
        const res = await get(`${raw.origin}/`);
        assert.equal(res.status, status);
        assert.equal(res.body, '');
      } finally { await raw.close(); }
    });
  }

  test('100 Continue and 103 Early Hints before the real response are skipped', async () => {
    const raw = await scripted('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\nLocation: /not-this\r\n\r\n'
      + 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
    try {
      const res = await get(`${raw.origin}/`);
      assert.equal(res.status, 201);
      assert.equal(res.body, 'ok');
      assert.equal(res.location, undefined);
    } finally { await raw.close(); }
  });

  test('a response written one byte at a time (status, headers, chunked body)', async () => {
    const response = 'HTTP/1.1 302 Found\r\nLOCATION: /next\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
    const raw = await rawServer((socket) => trickle(socket, response));
    try {
      const res = await get(`${raw.origin}/`);
      assert.equal(res.status, 302);
      assert.equal(res.location, '/next');
      assert.equal(res.body, 'abcde');
    } finally { await raw.close(); }
  });

  test('bare LF line ends are accepted', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\nContent-Length: 2\n\nok');
    try {
      assert.equal((await get(`${raw.origin}/`)).body, 'ok');
    } finally { await raw.close(); }
  });

  test('stopAtRedirect: a redirect resolves at its head; its (stalled) body is never waited for', async () => {
    const raw = await scripted('HTTP/1.1 301 Moved\r\nLocation: https://elsewhere/\r\nContent-Length: 100\r\n\r\npart', { keepOpen: true });
    try {
      const res = await get(`${raw.origin}/`, { stopAtRedirect: true });
      assert.equal(res.status, 301);
      assert.equal(res.location, 'https://elsewhere/');
    } finally { await raw.close(); }
  });
});

describe('body size limit', { timeout: 20_000 }, () => {
  test('an endless body is cut off just past the limit and the connection closed', async () => {
    const raw = await rawServer((socket) => { socket.write('HTTP/1.1 200 OK\r\n\r\n'); flood(socket, 'x'.repeat(4096)); });
    try {
      const res = await get(`${raw.origin}/`, { limit: 10_000 });
      assert.equal(res.truncated, true);
      assert.equal(res.body, undefined);
      assert.ok(res.bodyBytes > 10_000 && res.bodyBytes < 10_000 + 256 * 1024, `read ${res.bodyBytes} bytes`);
      await waitUntil('the client to close the flooding connection', () => raw.open() === 0, { timeoutMs: 2000 });
    } finally { await raw.close(); }
  });

  test('a body of exactly the limit is whole; one byte more is cut off', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789');
    try {
      assert.equal((await get(`${raw.origin}/`, { limit: 10 })).body, '0123456789');
      const over = await get(`${raw.origin}/`, { limit: 9 });
      assert.equal(over.truncated, true);
      assert.equal(over.body, undefined);
    } finally { await raw.close(); }
  });

  test('keepBody false: counted, not kept', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789');
    try {
      const res = await get(`${raw.origin}/`, { keepBody: false });
      assert.equal(res.body, undefined);
      assert.equal(res.bodyBytes, 10);
      assert.equal(res.truncated, false);
    } finally { await raw.close(); }
  });
});

describe('malformed and hostile responses fail, never hang', { timeout: 20_000 }, () => {
  const cases: Array<[string, string, RegExp]> = [
    ['an SSH banner', 'SSH-2.0-OpenSSH_9.2p1\r\n', /^invalid HTTP response: status line "SSH-2\.0-OpenSSH_9\.2p1"$/],
    ['binary garbage without a newline', '\x16\x03\x01\x02\x00\x01', /^invalid HTTP response: status line /],
    ['a status that is not a number', 'HTTP/1.1 abc OK\r\n\r\n', /^invalid HTTP response: status line "HTTP\/1\.1 abc OK"$/],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nnot a header\r\n\r\n', /^invalid HTTP response: header line "not a header"$/],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc', /Content-Length "3"/],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size "zz"/],
    ['both Transfer-Encoding and Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok', /both Transfer-Encoding and Content-Length/],
    ['a folded Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 0\r\n\r\nok', /folded header line/],
  ];
  for (const [what, response, message] of cases) {
    test(`${what}: parse error, at once (the server keeps the connection open)`, async () => {
      const raw = await scripted(response, { keepOpen: true });
      try {
        const started = performance.now();
        const err = await rejection(get(`${raw.origin}/`));
        assert.equal(err.code, 'VIGIL_E_HTTP_PARSE');
        assert.match(err.message, message);
        assert.ok(performance.now() - started < 1000);
        await waitUntil('the client to close the connection', () => raw.open() === 0, { timeoutMs: 2000 });
      } finally { await raw.close(); }
    });
  }

  test('bytes after a complete response: the client closes instead of lingering', async () => {
    // A 2-byte body, then a byte every 200 ms: an idle-time linger would never end.
    const raw = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      const t = setInterval(() => { if (socket.destroyed) clearInterval(t); else socket.write('x'); }, 200);
    });
    try {
      const r = await get(`${raw.origin}/`, { keepBody: true });
      assert.equal(r.body, 'ok');
      await waitUntil('the client to close the connection', () => raw.open() === 0, { timeoutMs: 1500 });
    } finally { await raw.close(); }
  });

  test('a kept body of many tiny chunks with long extensions holds about the limit in memory, not thousands of times it', async () => {
    // 1-byte chunks, each behind ~4000 bytes of chunk extension, up to 4x the limit.
    const limit = 64 * 1024;
    const chunk = `1;${'e'.repeat(4000)}\r\nx\r\n`;
    const raw = await rawServer((socket) => { socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'); flood(socket, chunk); });
    try {
      let peak = 0;
      const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().arrayBuffers); }, 5);
      const base = process.memoryUsage().arrayBuffers;
      const r = await get(`${raw.origin}/`, { keepBody: true, limit });
      clearInterval(sample);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      assert.equal(r.truncated, true);
      // Views into each read pinned ~250 MiB here; copies leave ~35 MiB of read
      // buffers that are garbage the collector has not reached yet.
      assert.ok(peak - base < 128 * 2 ** 20, `arrayBuffers grew by ${((peak - base) / 2 ** 20).toFixed(1)} MiB for a ${limit / 1024} KiB limit`);
    } finally { await raw.close(); }
  });

  test('an endless header section fails at the header limit and the connection is closed', async () => {
    const raw = await rawServer((socket) => { socket.write('HTTP/1.1 200 OK\r\n'); flood(socket, 'X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'); });
    try {
      const err = await rejection(get(`${raw.origin}/`));
      assert.equal(err.code, 'VIGIL_E_HTTP_PARSE');
      assert.equal(err.message, `invalid HTTP response: header section larger than ${MAX_HEAD_BYTES} bytes`);
      await waitUntil('the client to close the connection', () => raw.open() === 0, { timeoutMs: 2000 });
    } finally { await raw.close(); }
  });

  test('one endless header line (no newline ever) also fails at the limit', async () => {
    const raw = await rawServer((socket) => { socket.write('HTTP/1.1 200 OK\r\nX-Junk: '); flood(socket, 'a'.repeat(1000)); });
    try {
      const err = await rejection(get(`${raw.origin}/`));
      assert.equal(err.message, `invalid HTTP response: header section larger than ${MAX_HEAD_BYTES} bytes`);
    } finally { await raw.close(); }
  });

  test('endless interim responses count against the header limit too', async () => {
    const raw = await rawServer((socket) => flood(socket, 'HTTP/1.1 100 Continue\r\n\r\n'));
    try {
      const err = await rejection(get(`${raw.origin}/`));
      assert.equal(err.code, 'VIGIL_E_HTTP_PARSE');
    } finally { await raw.close(); }
  });

  for (const [what, response] of [
    ['a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'],
    ['a chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\npartial'],
  ]) {
    test(`the server closes in the middle of ${what}: ECONNRESET, the status is kept`, async () => {
      const raw = await scripted(response);
      try {
        const err = await rejection(get(`${raw.origin}/`));
        assert.equal(err.code, 'ECONNRESET');
        assert.equal(err.message, 'the response ended before its body did');
        assert.equal((err as { httpStatus?: number }).httpStatus, 200);
        assert.equal(classifyNetworkError(err, false).reason, 'connect_refused');
      } finally { await raw.close(); }
    });
  }

  test('the server closes without a response: socket hang up (ECONNRESET), as node:http says', async () => {
    const raw = await rawServer((socket) => { socket.end(); });
    try {
      const err = await rejection(get(`${raw.origin}/`));
      assert.equal(err.code, 'ECONNRESET');
      assert.equal(err.message, 'socket hang up');
    } finally { await raw.close(); }
  });

  test('connection refused keeps node\'s code', async () => {
    const err = await rejection(get(`http://127.0.0.1:${await closedPort()}/`));
    assert.equal(err.code, 'ECONNREFUSED');
  });
});

describe('abort', { timeout: 20_000 }, () => {
  let silent: TestServer;
  before(async () => { silent = await startSilentServer(); });
  after(async () => { await silent.close(); });

  test('aborting while waiting for a silent server rejects at once with ABORT_ERR', async () => {
    const ac = new AbortController();
    const p = get(`${silent.origin}/`, {}, ac.signal);
    await sleep(50);
    const started = performance.now();
    ac.abort(new Error('probe timeout'));
    const err = await rejection(p);
    assert.ok(performance.now() - started < 100, `took ${(performance.now() - started).toFixed(0)} ms after the abort`);
    assert.equal(err.name, 'AbortError');
    assert.equal(err.code, 'ABORT_ERR');
    assert.equal(classifyNetworkError(err, true).reason, 'timeout');
  });

  test('aborting in the middle of a body closes the connection', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial', { keepOpen: true });
    try {
      const ac = new AbortController();
      const p = get(`${raw.origin}/`, {}, ac.signal);
      await waitUntil('the request', () => raw.requests.length === 1);
      await sleep(30);
      ac.abort();
      const err = await rejection(p);
      assert.equal(err.code, 'ABORT_ERR');
      assert.equal((err as { httpStatus?: number }).httpStatus, 200);
      await waitUntil('the client to close the connection', () => raw.open() === 0, { timeoutMs: 2000 });
    } finally { await raw.close(); }
  });

  test('an already aborted signal rejects without connecting', async () => {
    const before = silent.connections();
    const err = await rejection(get(`${silent.origin}/`, {}, AbortSignal.abort()));
    assert.equal(err.code, 'ABORT_ERR');
    await sleep(30);
    assert.equal(silent.connections(), before);
  });
});

describe('the request on the wire', { timeout: 20_000 }, () => {
  /** What node:http's request(url, {agent: false}) sends, captured by a raw server. */
  async function nodeSends(raw: RawServer, url: string, method: string, headers: Record<string, string>, body?: string): Promise<string> {
    const n = raw.requests.length;
    await new Promise<void>((resolve, reject) => {
      const req = http.request(new URL(url), { method, headers, agent: false }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
      req.end(body);
    });
    return raw.requests[n];
  }

  test('the same head as node:http for GET, POST with a body, HEAD, URL credentials and a custom Host', async () => {
    const raw = await scripted('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    try {
      const cases: Array<[string, string, Record<string, string>, string | undefined]> = [
        [`${raw.origin}/p?q=1#frag`, 'GET', {}, undefined],
        [`${raw.origin}/echo`, 'POST', { 'X-Probe': 'vigil', 'Content-Type': 'application/json' }, '{"é":1}'],
        [`${raw.origin}/`, 'POST', {}, undefined],
        [`http://localhost:${raw.port}/a%20b`, 'HEAD', {}, undefined],
        [`http://us%40er:p%3Ass@127.0.0.1:${raw.port}/`, 'GET', {}, undefined],
        [`${raw.origin}/`, 'GET', { Host: 'example.test', Connection: 'keep-alive' }, undefined],
      ];
      for (const [url, method, headers, body] of cases) {
        const expected = await nodeSends(raw, url, method, headers, body);
        const res = await exchange(prepareRequest(new URL(url), method, headers, body), OPTS, new AbortController().signal);
        assert.equal(res.status, 200);
        assert.equal(raw.requests.at(-1), expected, `${method} ${url}`);
      }
      // http-wire's POST (the 4th head): the length in bytes of the UTF-8 body, not in characters.
      assert.match(raw.requests[3], /\r\nContent-Length: 8$/);
    } finally { await raw.close(); }
  });

  test('Host carries the port only when it is not the default', () => {
    assert.match(prepareRequest(new URL('http://example.test:80/'), 'GET', {}, undefined).bytes.toString(), /\r\nHost: example\.test\r\n/);
    assert.match(prepareRequest(new URL('https://example.test:8443/'), 'GET', {}, undefined).bytes.toString(), /\r\nHost: example\.test:8443\r\n/);
    assert.match(prepareRequest(new URL('http://[::1]:81/'), 'GET', {}, undefined).bytes.toString(), /\r\nHost: \[::1\]:81\r\n/);
    const v6 = prepareRequest(new URL('https://[::1]/'), 'GET', {}, undefined);
    assert.equal(v6.host, '::1');
    assert.equal(v6.port, 443);
    assert.equal(v6.servername, undefined);
  });

  test('a header value with CR LF is refused (never reaches the wire); the probe config refuses it at load', () => {
    assert.throws(() => prepareRequest(new URL('http://127.0.0.1/'), 'GET', { 'X-A': 'a\r\nX-Injected: 1' }, undefined), { code: 'ERR_INVALID_CHAR' });
    assert.throws(() => buildProbe({ type: 'http', url: 'http://127.0.0.1/', headers: { 'X-A': 'a\r\nX-Injected: 1' } }),
      /must not contain CR, LF or other control characters/);
  });
});

describe('through the probe: failures are results', { timeout: 20_000 }, () => {
  test('garbage instead of a status line', async () => {
    const raw = await scripted('SSH-2.0-OpenSSH_9.2p1\r\n', { keepOpen: true });
    try {
      const r = await buildProbe({ type: 'http', url: `${raw.origin}/`, timeout: '2s' }).run();
      assert.equal(r.ok, false);
      assert.equal(r.reason, 'protocol');
      assert.equal(r.message, `GET ${raw.origin}/: VIGIL_E_HTTP_PARSE: invalid HTTP response: status line "SSH-2.0-OpenSSH_9.2p1"`);
      assert.equal(observation(r, 'http_status_code'), 0);
      assert.ok(r.durationSeconds < 1, `took ${r.durationSeconds} s`);
    } finally { await raw.close(); }
  });

  test('a server that closes mid-body: connect_refused, and the status that arrived is observed', async () => {
    const raw = await scripted('HTTP/1.1 503 Busy\r\nContent-Length: 100\r\n\r\npartial');
    try {
      const r = await buildProbe({ type: 'http', url: `${raw.origin}/` }).run();
      assert.equal(r.ok, false);
      assert.equal(r.reason, 'connect_refused');
      assert.equal(r.message, `GET ${raw.origin}/: ECONNRESET: the response ended before its body did`);
      assert.equal(observation(r, 'http_status_code'), 503);
    } finally { await raw.close(); }
  });

  test('an endless header section', async () => {
    const raw = await rawServer((socket) => { socket.write('HTTP/1.1 200 OK\r\n'); flood(socket, 'X-Junk: a\r\n'); });
    try {
      const r = await buildProbe({ type: 'http', url: `${raw.origin}/`, timeout: '3s' }).run();
      assert.equal(r.ok, false);
      assert.match(r.message ?? '', /header section larger than 65536 bytes/);
    } finally { await raw.close(); }
  });

  test('a redirect chain is one fresh connection per hop', async () => {
    const raw = await rawServer((socket, head) => {
      const to = head.startsWith('GET /a ') ? '/b' : head.startsWith('GET /b ') ? '/c' : undefined;
      socket.end(to ? `HTTP/1.1 302 Found\r\nLocation: ${to}\r\nContent-Length: 0\r\n\r\n` : 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone');
    });
    try {
      const r = await buildProbe({ type: 'http', url: `${raw.origin}/a`, fail_if_body_not_matches_regexp: ['^done$'] }).run();
      assert.equal(r.ok, true, r.message);
      assert.equal(raw.connections(), 3);
      assert.deepEqual(raw.requests.map((h) => h.split(' ')[1]), ['/a', '/b', '/c']);
    } finally { await raw.close(); }
  });
});

describe('TLS', { timeout: 20_000 }, () => {
  let cert: TestCert;
  let server: TestServer;
  const sni: Array<string | false | null> = [];
  before(async () => {
    cert = makeSelfSignedCert({ cn: 'localhost', days: 20 });
    server = await startHttpsServer(cert, (req, res) => {
      sni.push((req.socket as TLSSocket).servername);
      res.end('secure');
    });
  });
  after(async () => { await server.close(); cert.cleanup(); });

  test('verifies against the CA, hands over the peer certificate at the handshake, SNI from the host name', async () => {
    const certs: Array<{ valid_to: string }> = [];
    const res = await get(`https://localhost:${server.port}/`, { tls: new WireTls({ ca: cert.cert }), onPeerCertificate: (c) => certs.push(c) });
    assert.equal(res.body, 'secure');
    assert.equal(certs.length, 1);
    assert.equal(Date.parse(certs[0].valid_to) / 1000, cert.notAfter);
    assert.equal(sni.at(-1), 'localhost');
  });

  test('no SNI for an IP address; insecure skips verification', async () => {
    const res = await get(`https://127.0.0.1:${server.port}/`, { tls: new WireTls({ rejectUnauthorized: false }) });
    assert.equal(res.body, 'secure');
    assert.equal(sni.at(-1), false);
  });

  test('a self-signed certificate without its CA fails with the TLS code (reason tls), no certificate handed over', async () => {
    let handed = 0;
    const err = await rejection(get(`https://localhost:${server.port}/`, { tls: new WireTls({}), onPeerCertificate: () => { handed++; } }));
    assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(classifyNetworkError(err, false).reason, 'tls');
    assert.equal(handed, 0);
  });

  test('a configured server name overrides the host name (and must match the certificate)', async () => {
    const err = await rejection(get(`https://localhost:${server.port}/`, { tls: new WireTls({ ca: cert.cert, servername: 'other.example' }) }));
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(sni.length > 0, true);
  });

  test('a certificate for another name: not handed over when refused; handed over once when accepted unverified', async () => {
    let handed = 0;
    const err = await rejection(get(`https://localhost:${server.port}/`, {
      tls: new WireTls({ ca: cert.cert, servername: 'other.example' }), onPeerCertificate: () => { handed++; },
    }));
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(handed, 0);
    // The chain verified, the name did not (the certificate Node converted for its name check is the one handed over).
    const certs: Array<{ valid_to: string }> = [];
    const res = await get(`https://localhost:${server.port}/`, {
      tls: new WireTls({ ca: cert.cert, servername: 'other.example', rejectUnauthorized: false }), onPeerCertificate: (c) => certs.push(c),
    });
    assert.equal(res.body, 'secure');
    // The chain did not verify either (no CA): no name check ran, the certificate is read at the handshake.
    await get(`https://localhost:${server.port}/`, { tls: new WireTls({ rejectUnauthorized: false }), onPeerCertificate: (c) => certs.push(c) });
    assert.deepEqual(certs.map((c) => Date.parse(c.valid_to) / 1000), [cert.notAfter, cert.notAfter]);
  });

  test('a plain HTTP server behind an https URL fails with reason tls, never hangs', async () => {
    // Answers at once: a TLS ClientHello never ends in a blank line for rawServer to wait for.
    const accepted: net.Socket[] = [];
    const plain = net.createServer((s) => { accepted.push(s); s.on('error', () => undefined); s.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'); });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const port = (plain.address() as net.AddressInfo).port;
      const err = await rejection(get(`https://127.0.0.1:${port}/`, { tls: new WireTls({ rejectUnauthorized: false }) }));
      assert.equal(classifyNetworkError(err, false).reason, 'tls', `${err.code}: ${err.message}`);
    } finally {
      for (const s of accepted) s.destroy();
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });
});
