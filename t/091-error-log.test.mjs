// The error log as an operator reads it (error_log at info level): each
// refusal is one line with its reason and nginx's $request_id, never a
// token or a cookie; a provider failure is one [error] line for all workers
// and requests, until the provider works again. A scriptable provider
// (t/lib/fakeidp.mjs) fails on demand.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEcho, startNginx, stopAll, http, makeKeys, publicJwks } from './lib/harness.mjs';
import { startFakeIdp, logged } from './lib/fakeidp.mjs';

let fake, echo, ng, info, rid;

before(async () => {
  fake = await startFakeIdp();
  echo = await startEcho();
  ng = await startNginx({
    workers: 2,
    http: `
    error_log {{PREFIX}}/logs/info.log info;
    log_format rid '$request_id $status $request_uri';
    access_log {{PREFIX}}/logs/rid.log rid;

    oidc_provider fake {
        issuer ${fake.issuer};
        allow_insecure_http on;
        audience urn:api;
        client_id gw;
        client_secret gw-secret-0123456789abcdef0123456789;
        cookie_secure off;
        jwks_refetch_interval 1s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc fake;
            proxy_pass http://${echo.addr};
        }
        location /scoped/ {
            auth_oidc fake;
            auth_oidc_require_scope api:admin;
            proxy_pass http://${echo.addr};
        }
    }`,
  });
  info = (since = 0) => fs.readFileSync(path.join(ng.prefix, 'logs', 'info.log'), 'utf8').slice(since);
  // request id and status of the request for this URI
  rid = (uri) => {
    const lines = fs.readFileSync(path.join(ng.prefix, 'logs', 'rid.log'), 'utf8').split('\n');
    const l = lines.filter((x) => x.endsWith(` ${uri}`)).at(-1);
    assert.ok(l, `${uri} in the access log`);
    const [id, status] = l.split(' ');
    return { id, status: Number(status) };
  };
  // keys fetched
  assert.equal((await get('/warm', fake.token())).status, 200);
});

after(stopAll);

const get = (p, token, headers = {}) => http(ng.url(p), {
  headers: { Connection: 'close', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
});

test('each refusal: one info line, its reason and request id; no token, no cookie', async () => {
  const mark = info().length;
  const now = Math.floor(Date.now() / 1000);
  const other = (await makeKeys({ rsa: true, ec: false })).keys[0];
  const good = fake.token();
  const cases = [
    // [uri, token, extra headers, status, reason]
    ['/r/garbage', 'x.y.z', {}, 401, 'malformed'],
    ['/r/char', 'bad"char', {}, 400, 'malformed'],
    ['/r/expired', fake.token({ iat: now - 900, exp: now - 600 }), {}, 401, 'expired'],
    ['/r/audience', fake.token({ aud: 'urn:other' }), {}, 401, 'claims'],
    ['/r/forged', fake.token({}, { kid: fake.keys.keys[0].kid }, other), {}, 401, 'signature'],
    ['/scoped/r', good, {}, 403, 'scope'],
    ['/oidc_callback?code=c0de&state=' + 'S'.repeat(43), null,
      { Accept: 'text/html', Cookie: 'NGX_OIDC_SESSION_SSSSSSSS=cookie-secret-4242' }, 400, 'state'],
  ];
  for (const [uri, token, headers, status] of cases) {
    assert.equal((await get(uri, token, headers)).status, status, uri);
  }
  assert.equal((await get('/ok', good)).status, 200);

  const log = info(mark);
  const refusals = log.split('\n').filter((l) => /oidc: refused/.test(l));
  assert.equal(refusals.length, cases.length, refusals.join('\n'));
  for (const [uri, , , status, reason] of cases) {
    const r = rid(uri);
    assert.equal(r.status, status);
    assert.match(r.id, /^[0-9a-f]{32}$/);
    // the request's lines from the module: exactly one, the refusal
    const mine = log.split('\n').filter((l) => l.includes(r.id));
    assert.equal(mine.length, 1, `${uri}:\n${mine.join('\n')}`);
    assert.match(mine[0], new RegExp(`\\[info\\] .*oidc: refused \\(${reason}\\): .+, provider "fake", `
      + `request_id ${r.id}, client: 127\\.0\\.0\\.1`), uri);
    // not an error: a client's mistake does not page anyone
    assert.doesNotMatch(mine[0], /\[(error|crit|alert|emerg)\]/);
  }
  assert.equal(log.split('\n').filter((l) => l.includes(rid('/ok').id)).length, 0);

  // no token, no signature, no cookie value, at any level the module writes
  const oidcDebug = ng.errorLog().split('\n').filter((l) => l.includes('oidc:')).join('\n');
  for (const [, token] of cases.filter((c) => c[1] && c[1].length > 20)) {
    const sig = token.split('.')[2];
    for (const text of [log, oidcDebug]) {
      assert.ok(!text.includes(token), 'a token in the log');
      assert.ok(!text.includes(sig), 'a signature in the log');
    }
  }
  assert.ok(!log.includes('cookie-secret-4242') && !oidcDebug.includes('cookie-secret-4242'),
    'a cookie value in the log');
});

test('a provider failure: one [error] line for all requests and workers, again after a recovery', async () => {
  const dmark = ng.mark();
  const rot = await makeKeys({ rsa: true, ec: false, kidPrefix: 'rot' });
  const rot2 = await makeKeys({ rsa: true, ec: false, kidPrefix: 'rot2' });
  fake.on('/jwks', (req, res) => res.writeHead(500, { 'Content-Length': 0 }).end());

  // tokens under a new key while the JWKS fails: each may refetch (one per
  // second for all workers), every one fails
  const token = fake.token({}, {}, rot.keys[0]);
  const statuses = [];
  for (let i = 0; i < 12; i++) {
    statuses.push((await get(`/down/${i}`, token)).status);
    await sleep(200);
  }
  assert.deepEqual([...new Set(statuses)], [503]);
  assert.ok(fake.hits('/jwks') >= 3, `refetches: ${fake.hits('/jwks')}`);
  // on the main error_log: the keys are fetched from a timer, not a request
  const errors = () => ng.errorLog(dmark).split('\n').filter((l) => /\[error\].*oidc: provider "fake"/.test(l));
  assert.equal(errors().length, 1, errors().join('\n'));
  assert.match(errors()[0], /oidc: provider "fake": JWKS not fetched: status 500; the last good keys stay in use \(at most one line per 60s\)/);
  // the others were said at debug level
  assert.match(ng.errorLog(dmark), /\[debug\].*oidc: provider fake: JWKS not fetched: status 500.* \(again\)/);
  // a refusal is not a failure: not in these lines
  assert.ok(!errors()[0].includes(token.split('.')[2]));

  // the provider works again: the new key is fetched and the streak ends
  fake.json('/jwks', () => publicJwks({ keys: [...fake.keys.keys, ...rot.keys] }));
  await sleep(1100);
  assert.equal((await get('/up', token)).status, 200);

  // it fails again: a new streak gets its line at once
  fake.on('/jwks', (req, res) => res.writeHead(502, { 'Content-Length': 0 }).end());
  await sleep(1100);
  assert.equal((await get('/down-again', fake.token({}, {}, rot2.keys[0]))).status, 503);
  await logged(ng, /JWKS not fetched: status 502/, { since: dmark });
  assert.equal(errors().length, 2, errors().join('\n'));
  assert.match(errors()[1], /JWKS not fetched: status 502; the last good keys stay in use/);
});
