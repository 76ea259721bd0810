// Reload and binary upgrade, as an operator does them.
// - nginx -s reload with a changed provider (client_secret, scope, a new
//   location) keeps the sessions, the verified-token cache, the keys and
//   the metrics; a provider whose issuer changed accepts neither the old
//   issuer's sessions nor its tokens.
// - USR2 (a new master from the same binary), then QUIT to the old one:
//   Bearer requests pass throughout; shared memory is not inherited across
//   exec, so sessions and counters start again (browsers log in again).
// Real oidc-provider (two of them), real nginx with 2 workers (a daemon for
// the upgrade), Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import {
  startProvider, startEcho, startNginx, stopAll, http, freePort, CLIENTS, headerValues,
  makePrefix, MODULE_SO, NGINX_BIN, sanitizerEnv, onStop, waitPort,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, op2, echo, ng, port, port2, origin;
const XHR = { Accept: 'application/json' };

const conf = ({ issuer = op.issuer, secret = CLIENTS.gateway, scope = '', extra = '' } = {}) => `
    oidc_provider op {
        issuer ${issuer};
        client_id gateway;
        client_secret ${secret};
        allow_insecure_http on;
        audience urn:gateway:api;
        ${scope}
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc op;
            auth_oidc_header X-User $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }
        location = /status {
            oidc_status;
        }
        ${extra}
    }`;

before(async () => {
  port = await freePort();
  port2 = await freePort();
  origin = `http://127.0.0.1:${port}`;
  op = await startProvider({ rpOrigin: origin,
    redirectUris: [`${origin}/oidc_callback`, `http://127.0.0.1:${port2}/oidc_callback`] });
  op2 = await startProvider({ rpOrigin: origin, redirectUris: [`${origin}/oidc_callback`] });
  echo = await startEcho();
  ng = await startNginx({ vars: { PORT: port }, workers: 2, http: conf() });
});

after(stopAll);

const get = (p, headers = {}) => http(origin + p, { headers: { Connection: 'close', ...headers } });
const status = async () => (await get('/status')).json().providers.op;

let session;   // "name=value" of the browser's session cookie
let token;     // a Bearer JWT of op

async function login(o = origin) {
  const b = await launchBrowser();
  try {
    await b.page.goto(`${o}/start`);
    await devLogin(b.page, { login: 'rita', until: (u) => u.origin === o });
    const c = (await b.cookies(o)).find((x) => x.name === '__Host-NGX_OIDC_SESSION');
    assert.ok(c, 'session cookie');
    return `${c.name}=${c.value}`;
  } finally {
    await b.close();
  }
}

test('reload with a changed client_secret, scope and a new location: sessions, caches, keys, counters stay', async () => {
  session = await login();
  token = await op.token();
  assert.equal((await get('/a', { Cookie: session, ...XHR })).status, 200);
  assert.equal((await get('/a', { Authorization: `Bearer ${token}` })).status, 200);
  const before = await status();
  assert.equal(before.logins.completed, 1);

  await ng.reload({ http: conf({ secret: 'another-secret-0123456789abcdef0123456789', scope: 'scope openid email;',
    extra: `location /new/ { auth_oidc op; auth_oidc_header X-User $oidc_claim_sub; proxy_pass http://${echo.addr}; }` }) });

  for (const p of ['/b', '/new/b']) {
    const r = await get(p, { Cookie: session, ...XHR });
    assert.equal(r.status, 200, `${p}: the session is kept`);
    assert.deepEqual(headerValues(r.json().headers, 'X-User'), ['rita']);
    assert.equal((await get(p, { Authorization: `Bearer ${token}` })).status, 200);
  }
  const after = await status();
  // counters kept and going on; the token came from the cache, the keys
  // and the discovery document were not fetched again
  assert.equal(after.logins.completed, 1);
  assert.equal(after.tokens.verified, before.tokens.verified);
  assert.ok(after.cache.tokens.hit >= before.cache.tokens.hit + 2);
  assert.equal(after.calls.discovery.calls, before.calls.discovery.calls);
  assert.equal(after.calls.jwks.calls, before.calls.jwks.calls);
  assert.equal(after.sessions.live, 1);
});

test('reload with another issuer: the old issuer\'s sessions and tokens are refused', async () => {
  await ng.reload({ http: conf({ issuer: op2.issuer }) });
  const s = await get('/c', { Cookie: session, ...XHR });
  assert.equal(s.status, 401, 'the old issuer\'s session is not this provider\'s');
  const nav = await get('/c', { Cookie: session, Accept: 'text/html' });
  assert.equal(nav.status, 302);
  assert.ok(nav.headers.location.startsWith(`${op2.issuer}/`), 'a new login at the new issuer');
  // the old issuer's token: not served from the cache, refused
  assert.equal((await get('/c', { Authorization: `Bearer ${token}` })).status, 401);
  // the new issuer's tokens pass
  assert.equal((await get('/c', { Authorization: `Bearer ${await op2.token()}` })).status, 200);
  assert.equal((await status()).sessions.live, 1, 'counted by provider name: the record itself stays');

  // back to the first issuer: its session (still in the store) is good again
  await ng.reload({ http: conf() });
  assert.equal((await get('/d', { Cookie: session, ...XHR })).status, 200);
  assert.equal((await get('/d', { Authorization: `Bearer ${token}` })).status, 200);
});

// nginx ignores USR2 while its parent is the one that started it (it takes
// itself for a new binary whose old master still runs): an upgrade needs a
// daemon, as in production. This one is started by hand, not by the harness.
async function startDaemon(port) {
  const prefix = makePrefix('nginx-usr2');
  for (const d of ['logs', 'tmp']) fs.mkdirSync(path.join(prefix, d), { mode: 0o755 });
  const confFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(confFile, `
load_module ${MODULE_SO};
daemon on;
master_process on;
worker_processes 2;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log info;
env ASAN_OPTIONS;
env UBSAN_OPTIONS;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
${conf().replace('{{PORT}}', String(port))}
}
`);
  const pidFile = path.join(prefix, 'nginx.pid');
  const r = spawnSync(NGINX_BIN, ['-p', `${prefix}/`, '-c', confFile],
    { env: { ...process.env, ...sanitizerEnv() }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await waitPort(port, { what: 'nginx (daemon)' });
  const stop = async () => {
    for (const f of [`${pidFile}.oldbin`, pidFile]) {
      try { process.kill(Number(fs.readFileSync(f, 'utf8')), 'SIGQUIT'); } catch { /* gone */ }
    }
    for (let i = 0; i < 400 && (fs.existsSync(pidFile) || fs.existsSync(`${pidFile}.oldbin`)); i++) {
      await sleep(25);
    }
  };
  onStop(stop);
  return { prefix, pidFile, stop, log: () => fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8') };
}

test('binary upgrade (USR2, then QUIT the old master): Bearer requests never fail; sessions start again', async () => {
  const d = await startDaemon(port2);
  const o2 = `http://127.0.0.1:${port2}`;
  const get2 = (p, headers = {}) => http(o2 + p, { headers: { Connection: 'close', ...headers } });
  const status2 = async () => (await get2('/status')).json().providers.op;

  const cookie = await login(o2);
  assert.equal((await get2('/a', { Cookie: cookie, ...XHR })).status, 200);
  assert.equal((await get2('/a', { Authorization: `Bearer ${token}` })).status, 200);
  const before = await status2();
  assert.equal(before.logins.completed, 1);
  assert.equal(before.sessions.live, 1);

  // Bearer requests all along, each on a new connection
  let stop = false;
  const results = [];
  const load = (async () => {
    let i = 0;
    while (!stop) {
      const r = await get2(`/load/${i++}`, { Authorization: `Bearer ${token}` })
        .catch((e) => ({ status: e.code }));
      results.push(r.status);
      await sleep(5);
    }
  })();

  try {
    await sleep(200);
    const oldPid = Number(fs.readFileSync(d.pidFile, 'utf8'));
    process.kill(oldPid, 'SIGUSR2');
    // the new master writes nginx.pid, the old one's moves to nginx.pid.oldbin
    let newPid;
    for (let i = 0; i < 400 && !newPid; i++) {
      try {
        const p = Number(fs.readFileSync(d.pidFile, 'utf8'));
        if (p && p !== oldPid && fs.existsSync(`${d.pidFile}.oldbin`)) newPid = p;
      } catch { /* being written */ }
      if (!newPid) await sleep(25);
    }
    assert.ok(newPid, `a new master started\n${d.log().split('\n').slice(-5).join('\n')}`);
    // both generations serve for a while, then the old one leaves
    await sleep(1000);
    process.kill(oldPid, 'SIGQUIT');
    for (let i = 0; i < 400 && fs.existsSync(`${d.pidFile}.oldbin`); i++) await sleep(25);
    assert.ok(!fs.existsSync(`${d.pidFile}.oldbin`), 'the old master is gone');
    await sleep(1000);
    stop = true;
    await load;

    assert.ok(results.length > 50, `requests during the switch: ${results.length}`);
    assert.deepEqual([...new Set(results)], [200],
      `not all 200: ${JSON.stringify(results.filter((x) => x !== 200))}`);

    // the new master's zones are new: counters from zero, keys fetched
    // again, the session store empty (the browser has to log in again)
    const now = await status2();
    assert.equal(now.logins.completed, 0);
    assert.equal(now.sessions.live, 0);
    assert.ok(now.tokens.verified >= 1 && now.tokens.verified <= 2, JSON.stringify(now.tokens));
    assert.equal(now.keys.refreshed, 1);
    assert.equal((await get2('/e', { Cookie: cookie, ...XHR })).status, 401);
    const nav = await get2('/e', { Cookie: cookie, Accept: 'text/html' });
    assert.equal(nav.status, 302);
    assert.ok(nav.headers.location.startsWith(`${op.issuer}/`));
    // a new login works on the new master
    const again = await login(o2);
    assert.equal((await get2('/f', { Cookie: again, ...XHR })).status, 200);
    assert.doesNotMatch(d.log(), /\[(alert|emerg)\]|exited on signal/);
  } finally {
    stop = true;
    await load;
    await d.stop();
  }
});
