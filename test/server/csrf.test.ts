// Requests a web page could make a browser send: refused on POST /-/reload
// (and any state-changing method of the main listener) and on every admin
// call, before a route runs — so the reload or the pause never happens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { StatusBook } from '../../src/health/status-book.js';
import { buildApp } from '../../src/server/app.js';
import { buildAdminApp, type RemediationControl } from '../../src/server/admin.js';
import { SecretValue } from '../../src/server/admin-token.js';
import { crossSiteReason } from '../../src/server/csrf.js';
import type { AgentView } from '../../src/server/view.js';

const H = (h: Record<string, string>) => ({ host: '127.0.0.1:9817', ...h });

test('crossSiteReason: the table', () => {
  const cases: Array<[string, Record<string, string>, string | undefined]> = [
    ['POST', {}, undefined], // curl -X POST
    ['POST', { 'content-type': 'application/json' }, undefined],
    ['POST', { 'content-type': 'application/x-www-form-urlencoded' }, 'form_content_type'],
    ['POST', { 'content-type': 'multipart/form-data; boundary=x' }, 'form_content_type'],
    ['POST', { 'content-type': 'Text/Plain;charset=UTF-8' }, 'form_content_type'],
    ['POST', { origin: 'http://127.0.0.1:9817' }, undefined], // the agent's own page
    ['POST', { origin: 'http://evil.example' }, 'cross_site'],
    ['POST', { origin: 'http://127.0.0.1:9818' }, 'cross_site'], // another port is another origin
    ['POST', { origin: 'https://127.0.0.1:9817' }, 'cross_site'], // another scheme too
    ['POST', { origin: 'null' }, 'cross_site'], // sandboxed frame, file:
    ['POST', { 'sec-fetch-site': 'cross-site' }, 'cross_site'],
    ['POST', { 'sec-fetch-site': 'same-site' }, 'cross_site'],
    ['POST', { 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:9817' }, undefined],
    ['POST', { 'sec-fetch-site': 'none' }, undefined],
    ['GET', { origin: 'http://evil.example' }, undefined], // a read: CORS keeps the answer from the page
  ];
  for (const [method, headers, want] of cases) {
    assert.equal(crossSiteReason({ method, headers: H(headers) }, 'http', 'unsafe-methods'), want, `${method} ${JSON.stringify(headers)}`);
  }
  assert.equal(crossSiteReason({ method: 'GET', headers: H({ origin: 'http://evil.example' }) }, 'http', 'all'), 'cross_site');
  assert.equal(crossSiteReason({ method: 'POST', headers: { host: 'localhost', origin: 'http://localhost:80' } }, 'http', 'all'), undefined, 'default port');
  assert.equal(crossSiteReason({ method: 'POST', headers: { host: '[::1]:9817', origin: 'http://[::1]:9817' } }, 'http', 'all'), undefined);
});

test('POST /-/reload from a web page is refused and does not reload', async () => {
  let reloads = 0;
  const view: AgentView = {
    registry: new Registry(), status: new StatusBook(),
    info: () => ({ version: 't', startedAt: 0, configFile: 'f', lastReload: { ok: true, at: 0, problems: [] } }),
    livenessProblems: () => [],
    reload: async () => { reloads++; return { ok: true }; },
    statusSections: () => ({}),
    groupRole: () => undefined,
    mysqlRole: () => undefined,
  };
  const app = buildApp(view);
  try {
    const post = (headers: Record<string, string>, payload?: string) => app.inject({ method: 'POST', url: '/-/reload', headers, payload });
    let r = await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'a=b');
    assert.deepEqual([r.statusCode, r.json().code], [415, 'VIGIL_E_FORM_CONTENT_TYPE']);
    r = await post({ 'content-type': 'text/plain' }, 'x');
    assert.deepEqual([r.statusCode, r.json().code], [415, 'VIGIL_E_FORM_CONTENT_TYPE']);
    r = await post({ origin: 'http://evil.example' });
    assert.deepEqual([r.statusCode, r.json().code], [403, 'VIGIL_E_CROSS_SITE']);
    assert.match(r.json().message, /use curl/);
    assert.equal(reloads, 0);
    r = await post({});
    assert.equal(r.statusCode, 200);
    r = await post({ 'content-type': 'application/json' }, '{}');
    assert.equal(r.statusCode, 200);
    assert.equal(reloads, 2);
    r = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://evil.example' } });
    assert.equal(r.statusCode, 200, 'reads stay open on the main listener');
  } finally {
    await app.close();
  }
});

test('admin API: every call from a web page is refused, even with the token', async () => {
  let paused = 0;
  const control: RemediationControl = {
    status: () => ({ rules: {} }), ruleNames: () => [],
    setPaused: async (p) => { paused++; return { paused: p }; },
    resetBreaker: async () => false, runNow: async () => undefined,
  };
  const app = buildAdminApp(control, () => new SecretValue('t'.repeat(32)), pino({ level: 'silent' }));
  try {
    const auth = { authorization: `Bearer ${'t'.repeat(32)}` };
    let r = await app.inject({ method: 'POST', url: '/v1/remediation/pause', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'note' });
    assert.deepEqual([r.statusCode, r.json().code], [415, 'VIGIL_E_FORM_CONTENT_TYPE']);
    r = await app.inject({ method: 'GET', url: '/v1/remediation', headers: { ...auth, 'sec-fetch-site': 'cross-site' } });
    assert.deepEqual([r.statusCode, r.json().code], [403, 'VIGIL_E_CROSS_SITE']);
    r = await app.inject({ method: 'POST', url: '/v1/remediation/pause', headers: { ...auth, origin: 'https://evil.example' } });
    assert.deepEqual([r.statusCode, r.json().code], [403, 'VIGIL_E_CROSS_SITE']);
    assert.equal(paused, 0);
    r = await app.inject({ method: 'POST', url: '/v1/remediation/pause', headers: auth });
    assert.equal(r.statusCode, 200);
    assert.equal(paused, 1);
  } finally {
    await app.close();
  }
});
