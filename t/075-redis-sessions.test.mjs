// Sessions in Redis (session_store NAME → oidc_redis NAME { ... }): two
// gateways on one redis-server share sessions, pending logins and logout
// markers; Redis stopped and started again (its data kept: appendonly);
// AUTH with an ACL user, a database number and a unix socket; nginx -t
// errors. Real redis-server, real oidc-provider, real headless Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startProvider, startEcho, startNginx, startRedis, stopAll, http, freePort, CLIENTS,
  headerValues, nginxTestConfig, makePrefix, publicJwks, startHangingServer,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, echo, redis, acl, hang, A, B, C, B_;
let originA, originB, originC;
const COOKIE = '__Host-NGX_OIDC_SESSION';
const CACHE = 1;                       // cache_time: the staleness bound, s
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hdr = (q, name) => headerValues(q.headers, name)[0];

// polls fn() every 50 ms for at most `seconds`; true once it held
async function within(seconds, fn) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (await fn()) return true;
    await sleep(50);
  }
  return false;
}

const provider = (store, extra = '') => `
    oidc_provider op {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        audience urn:gateway:api;
        audience urn:gateway:opaque;
        session_store ${store};
        logout_uri /logout;
        post_logout_uri /bye;
        backchannel_logout_uri /bc-logout;
        ${extra}
    }`;

const locations = () => `
        location / {
            auth_oidc op;
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Sid $oidc_claim_sid;
            proxy_pass http://${echo.addr};
        }
        location /intro/ {
            auth_oidc op;
            auth_oidc_token_check introspection;
            auth_oidc_header X-User $oidc_claim_client_id;
            proxy_pass http://${echo.addr};
        }
        location = /status {
            oidc_status;
        }`;

before(async () => {
  redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  // an ACL user (the default user has a password too), on a unix socket
  acl = await startRedis({
    unixSocket: true,
    // the gateway's user may run only the commands README lists
    args: ['--requirepass', 'default-secret-0123', '--user', 'gw', 'on', '>gw-secret-0123', '~*',
      ...'get set getdel del pexpire select auth zadd zrem zremrangebyscore zcount'.split(' ').map((c) => `+${c}`)],
  });
  hang = await startHangingServer();          // accepts, never answers
  const [pa, pb, pc] = [await freePort(), await freePort(), await freePort()];
  [originA, originB, originC] = [pa, pb, pc].map((p) => `http://127.0.0.1:${p}`);
  op = await startProvider({
    rpOrigin: originA,
    redirectUris: [`${originA}/oidc_callback`, `${originB}/oidc_callback`, `${originC}/oidc_callback`],
    env: { OP_BACKCHANNEL_LOGOUT_URI: `${originA}/bc-logout` },
  });
  echo = await startEcho();
  const shared = `
    oidc_redis shared {
        server ${redis.addr};
        prefix gw:;
        cache_time ${CACHE}s;
        connect_timeout 500ms;
        timeout 1s;
    }`;
  const gateway = (port) => ({
    vars: { PORT: port },
    workers: 2,
    http: `${shared}${provider('shared')}
    server {
        listen 127.0.0.1:{{PORT}};${locations()}
    }`,
  });
  A = await startNginx(gateway(pa));
  B = await startNginx(gateway(pb));
  C = await startNginx({
    vars: { PORT: pc },
    http: `
    oidc_redis acl {
        server unix:${acl.socket};
        user gw;
        password gw-secret-0123;
        database 3;
        cache_time 0;
    }
    oidc_redis wrong {
        server unix:${acl.socket};
        user gw;
        password not-the-password;
    }
    oidc_redis hang {
        server ${hang.addr};
        timeout 300ms;
    }
    ${provider('acl', 'session_idle_timeout 1h;')}
    oidc_provider slow {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        session_store hang;
        redirect_uri /slow/cb;
        cookie_name SLOW;
    }
    oidc_provider bad {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        session_store wrong;
        redirect_uri /bad/cb;
        cookie_name BAD;
    }
    server {
        listen 127.0.0.1:{{PORT}};${locations()}
        location /bad/ {
            auth_oidc bad;
            proxy_pass http://${echo.addr};
        }
        location /slow/ {
            auth_oidc slow;
            proxy_pass http://${echo.addr};
        }
    }`,
  });
  B_ = await launchBrowser();
});

after(async () => {
  await B_?.close();
  await stopAll();
});

// a browser login at `origin`; the session cookie and the sid
async function login(origin, user) {
  const tag = crypto.randomBytes(6).toString('hex');
  await B_.context.clearCookies();
  await B_.page.goto(`${origin}/app/${tag}`);
  await devLogin(B_.page, { login: user, until: (u) => u.origin === origin && u.pathname === `/app/${tag}` });
  const q = echo.requests.filter((x) => x.url === `/app/${tag}`).at(-1);
  assert.ok(q, 'logged in');
  assert.equal(hdr(q, 'x-user'), user);
  const c = (await B_.cookies(origin)).find((x) => x.name === COOKIE);
  assert.ok(c, 'session cookie');
  return { cookie: c.value, sid: hdr(q, 'x-sid') };
}

// a request with the session at a gateway (an API client: no redirect)
const use = (origin, cookie, headers = {}) => http(`${origin}/app/check`, {
  headers: { Cookie: `${COOKIE}=${cookie}`, Accept: 'application/json', Connection: 'close', ...headers },
});

const status = async (origin, cookie) => (await use(origin, cookie)).status;

// oidc_status: a provider's live sessions (JSON), as the gateway sees them
const live = async (origin, name = 'op') =>
  JSON.parse((await http(`${origin}/status`)).body).providers[name].sessions.live;

test('a login on one gateway is a session on the other; the record is in Redis with its TTL', async () => {
  const before = await live(originB);
  assert.equal(typeof before, 'number', 'live sessions counted in Redis');
  assert.equal(await live(originA), before, 'the same count on both gateways');
  const s = await login(originA, 'alice');
  for (let i = 0; i < 4; i++) {
    const r = await use(originB, s.cookie);
    assert.equal(r.status, 200);
  }
  assert.equal(hdr(echo.last(), 'x-user'), 'alice');
  const keys = (await redis.cli('--scan', '--pattern', 'gw:s:op:*')).stdout.trim().split('\n');
  assert.ok(keys.length >= 1 && keys[0].startsWith('gw:s:op:'), `session keys: ${keys}`);
  for (const k of keys) {
    const ttl = Number((await redis.cli('PTTL', k)).stdout);
    assert.ok(ttl > 0 && ttl <= 8 * 3600 * 1000, `${k} expires (${ttl} ms)`);
  }
  // the commands are counted (all workers, one zone)
  const m = JSON.parse((await http(`${originB}/status`)).body);
  assert.ok(m.redis.calls >= 1 && m.redis.errors === 0, JSON.stringify(m.redis));
  // sessions in Redis, counted from any gateway: the one made on A is on B
  assert.equal(m.providers.op.sessions.live, before + 1);
  assert.equal(await live(originA), before + 1);
  const prom = (await http(`${originB}/status?format=prometheus`)).body;
  assert.match(prom, new RegExp(`\\noidc_sessions_live\\{provider="op"\\} ${before + 1}\\n`));
  assert.match(prom, /oidc_redis_requests_total/);
  // the count is a sorted set of the session keys, scored with their expiry
  const members = (await redis.cli('ZRANGE', 'gw:sessions:op', '0', '-1', 'WITHSCORES')).stdout.trim().split('\n');
  const scored = new Map();
  for (let i = 0; i + 1 < members.length; i += 2) scored.set(members[i], Number(members[i + 1]));
  for (const k of keys) {
    const at = scored.get(k.slice('gw:'.length));
    assert.ok(at, `${k} is in the set`);
    const ttl = Number((await redis.cli('PTTL', k)).stdout) / 1000;
    assert.ok(Math.abs(at - Date.now() / 1000 - ttl) < 3, `scored with its expiry (${at})`);
  }
  assert.ok(!members.some((x) => x.includes(s.cookie)), 'no session id in the set');
  // the set outlives its entries, and goes when no session is left
  const setTtl = Number((await redis.cli('PTTL', 'gw:sessions:op')).stdout);
  assert.ok(setTtl > Math.max(...scored.values()) * 1000 - Date.now() - 3000 && setTtl <= 8 * 3600 * 1000,
    `the set expires (${setTtl} ms)`);
  // the pending login was taken (GETDEL): none is left behind
  assert.equal((await redis.cli('--scan', '--pattern', 'gw:l:*')).stdout.trim(), '');
  // the id never appears in a key (keys hold its hash)
  assert.ok(!keys.some((k) => k.includes(s.cookie)));
});

test('a logout on the other gateway: the first refuses the session within the bound', async () => {
  const s = await login(originA, 'bob');
  assert.equal(await status(originA, s.cookie), 200);
  assert.equal(await status(originB, s.cookie), 200);
  const n = await live(originA);
  const out = await http(`${originB}/logout`, {
    headers: { Cookie: `${COOKIE}=${s.cookie}`, 'Sec-Fetch-Site': 'same-origin' },
  });
  assert.equal(out.status, 302);
  assert.equal(await status(originB, s.cookie), 401, 'at once where it ended');
  assert.equal(await live(originA), n - 1, 'not counted any more, on either gateway');
  assert.ok(await within(CACHE + 2, async () => (await status(originA, s.cookie)) === 401),
    `refused on the other gateway within ${CACHE} s (+ margin)`);
  // every worker of A, not just one, once the bound has passed for all
  await sleep(CACHE * 1000 + 100);
  for (let i = 0; i < 6; i++) assert.equal(await status(originA, s.cookie), 401);
});

test('a back-channel logout reaches both gateways', async () => {
  const s = await login(originA, 'carol');
  assert.equal(await status(originB, s.cookie), 200);
  const n = op.events('backchannel.success').length;
  await B_.page.goto(`${op.issuer}/session/end`);
  await B_.page.waitForSelector('button[name=logout][value=yes]');
  await Promise.all([B_.page.waitForNavigation(), B_.page.click('button[name=logout][value=yes]')]);
  const ev = await op.waitEvent('backchannel.success', () => true, { skip: n, timeout: 10000 });
  assert.ok(ev, 'back-channel logout sent');
  assert.equal(ev.sid, s.sid);
  for (const origin of [originA, originB]) {
    assert.ok(await within(CACHE + 2, async () => (await status(origin, s.cookie)) === 401), origin);
  }
  assert.match(B.errorLog() + A.errorLog(), /session ended by a logout at provider "op" \(by sid\)/);
  // the marker is in Redis, with a TTL
  const markers = (await redis.cli('--scan', '--pattern', 'gw:x:op:*')).stdout.trim().split('\n');
  assert.ok(markers[0].startsWith('gw:x:op:'), 'marker stored');
});

test('an introspection result is shared through Redis: the other gateway does not ask again', async () => {
  const t = await op.token({ resource: 'urn:gateway:opaque' });
  const calls = () => op.events('introspection').length;
  const n = calls();
  const get = (origin) => http(`${origin}/intro/x`, { headers: { Authorization: `Bearer ${t}` } });
  assert.equal((await get(originA)).status, 200);
  assert.ok(await op.waitEvent('introspection', () => true, { skip: n }));
  assert.equal(calls(), n + 1);
  // B has it in no worker nor zone of its own: it reads what A stored
  for (let i = 0; i < 4; i++) assert.equal((await get(originB)).status, 200);
  assert.equal(hdr(echo.last(), 'x-user'), 'api-client');
  assert.equal(calls(), n + 1, 'B asked the provider again');
  // keys hold the token's hash (binary): looked at from inside Redis
  const ttl = Number((await redis.cli('EVAL',
    "local k = redis.call('KEYS', ARGV[1]); if #k == 0 then return -3 end; return redis.call('PTTL', k[1])",
    '0', 'gw:i:*')).stdout);
  assert.ok(ttl > 0 && ttl <= 60 * 1000, `expires with the cache time (${ttl} ms)`);
});

test('a verified JWT is shared through Redis: the other gateway takes the verdict', async () => {
  const jwt = op.sign();
  const metrics = async (origin) => JSON.parse((await http(`${origin}/status`)).body).providers.op;
  const get = (origin) => http(`${origin}/api/shared`, { headers: { Authorization: `Bearer ${jwt}` } });
  const a0 = await metrics(originA);
  assert.equal((await get(originA)).status, 200);
  const a1 = await metrics(originA);
  assert.equal(a1.tokens.verified - a0.tokens.verified, 1, 'A verified it');
  const b0 = await metrics(originB);
  assert.equal((await get(originB)).status, 200);
  assert.equal(hdr(echo.last(), 'x-user'), 'api-client');
  const b1 = await metrics(originB);
  assert.equal(b1.tokens.verified - b0.tokens.verified, 0, 'B verified it again');
  assert.equal(b1.cache.tokens.hit - b0.cache.tokens.hit, 1);
  const ttl = Number((await redis.cli('EVAL',
    "local k = redis.call('KEYS', ARGV[1]); if #k == 0 then return -3 end; return redis.call('PTTL', k[1])",
    '0', 'gw:j:*')).stdout);
  assert.ok(ttl > 0, `the verdict is in Redis and expires (${ttl} ms)`);
});

test('Redis stopped and started: 503 with Retry-After, Bearer still works, sessions survive', async () => {
  const s = await login(originA, 'dave');
  assert.equal(await status(originB, s.cookie), 200);
  const pidsA = A.workers().sort();
  const pidsB = B.workers().sort();
  const markA = A.mark();
  const bearer = op.sign();

  await redis.stop();

  // once the copies are stale: 503 with Retry-After on both gateways
  for (const origin of [originA, originB]) {
    assert.ok(await within(CACHE + 3, async () => (await status(origin, s.cookie)) === 503), origin);
  }
  // past the bound, no worker of either gateway uses its copy
  await sleep(CACHE * 1000 + 100);
  for (let i = 0; i < 20; i++) {
    const r = await use(i % 2 ? originA : originB, s.cookie);
    assert.equal(r.status, 503);
    assert.match(r.headers['retry-after'], /^[1-9]\d*$/);
  }
  // the status page answers without Redis: its sessions are not known
  const page = await http(`${originA}/status`);
  assert.equal(page.status, 200);
  assert.equal(JSON.parse(page.body).providers.op.sessions.live, null);
  assert.doesNotMatch((await http(`${originA}/status?format=prometheus`)).body,
    /oidc_sessions_live\{provider="op"\}/, 'no sample rather than a wrong 0');
  // a new login cannot start (its pending login has nowhere to go)
  const nav = await http(`${originA}/app/new`, { headers: { Accept: 'text/html' } });
  assert.equal(nav.status, 503);
  // a Bearer JWT needs no Redis
  const api = await http(`${originA}/api/x`, { headers: { Authorization: `Bearer ${bearer}` } });
  assert.equal(api.status, 200);
  assert.equal(hdr(echo.last(), 'x-user'), 'api-client');
  // said once per interval, not once per request
  const lines = A.errorLog(markA).split('\n').filter((l) => /\[error\].*redis "shared" unavailable/.test(l));
  assert.ok(lines.length >= 1 && lines.length <= 4, `${lines.length} lines:\n${lines.join('\n')}`);

  await redis.restart();

  for (const origin of [originA, originB]) {
    assert.ok(await within(10, async () => (await status(origin, s.cookie)) === 200),
      `the session made before the outage works again at ${origin}`);
  }
  assert.match(A.errorLog(markA), /redis "shared" connected again/);
  assert.deepEqual(A.workers().sort(), pidsA, 'no worker of A died or restarted');
  assert.deepEqual(B.workers().sort(), pidsB, 'no worker of B died or restarted');
  assert.doesNotMatch(A.errorLog(markA) + B.errorLog(), /signal \d+|\[alert\]|\[emerg\]/);
  // and new logins work again
  const t = await login(originB, 'erin');
  assert.equal(await status(originA, t.cookie), 200);
});

test('a reload: new workers connect to Redis, sessions go on, old workers leave', async () => {
  const s = await login(originA, 'gina');
  // the browser's idle (preconnected) sockets would hold the old workers
  await B_.close();
  B_ = await launchBrowser();
  const log = await A.reload();
  assert.ok(await within(5, () => /redis "shared" connected/.test(A.errorLog())), 'new workers connected');
  assert.doesNotMatch(log, /\[alert\]|\[crit\]|signal \d+ .*exited on/);
  for (let i = 0; i < 4; i++) assert.equal(await status(originA, s.cookie), 200);
  assert.equal(await status(originB, s.cookie), 200);
});

test('ACL user and password, database number, unix socket', async () => {
  const s = await login(originC, 'frank');
  assert.equal(await status(originC, s.cookie), 200);
  const cli = (...a) => acl.cli('-s', acl.socket, '--pass', 'default-secret-0123', '--no-auth-warning', ...a);
  const db3 = (await cli('-n', '3', '--scan', '--pattern', 's:op:*')).stdout.trim();
  assert.match(db3, /^s:op:/, 'the session is in database 3, without a prefix');
  assert.equal((await cli('-n', '0', '--scan', '--pattern', 's:op:*')).stdout.trim(), '', 'not in database 0');
  // session_idle_timeout: each use pushes the expiry back (PEXPIRE)
  const pttl = async () => Number((await cli('-n', '3', 'PTTL', db3)).stdout);
  assert.ok(await pttl() <= 3600 * 1000, 'the idle timeout bounds the first TTL');
  await cli('-n', '3', 'PEXPIRE', db3, '60000');
  assert.ok(await pttl() <= 60000);
  assert.equal(await status(originC, s.cookie), 200);
  assert.ok(await pttl() > 3000 * 1000, 'pushed back to the idle timeout');
  // ... and its entry in the set of live sessions with it
  const score = Number((await cli('-n', '3', 'ZSCORE', 'sessions:op', db3)).stdout);
  assert.ok(Math.abs(score - Date.now() / 1000 - (await pttl()) / 1000) < 3, `rescored (${score})`);
  // a wrong password: refused by Redis, logged, the request gets 503
  const r = await http(`${originC}/bad/x`, { headers: { Accept: 'text/html' } });
  assert.equal(r.status, 503);
  assert.ok(r.headers['retry-after']);
  assert.ok(await within(5, () => /redis "wrong" refused AUTH: WRONGPASS/.test(C.errorLog())));
  assert.doesNotMatch(C.errorLog(), /not-the-password|gw-secret/, 'no password in the log');
  // a Redis that accepts and never answers: the command times out (nginx
  // timer), 503 with Retry-After, and the link is made again
  const mark = C.mark();
  const slow = await http(`${originC}/slow/x`, {
    headers: { Cookie: `__Host-SLOW=${s.cookie}`, Accept: 'application/json' },
  });
  assert.equal(slow.status, 503);
  assert.ok(slow.headers['retry-after']);
  assert.match(C.errorLog(mark), /redis "hang" unavailable: command timed out/);
  assert.ok(await within(5, () => hang.accepted >= 2), 'connected again after the timeout');
  // (the status page asks every Redis, the hanging one too: after the
  // check above)
  // a session gone from Redis before its time (evicted, deleted by hand)
  // is refused, and its entry goes when the browser comes back with it
  const n = await live(originC);
  assert.ok(n >= 1);
  await cli('-n', '3', 'DEL', db3);
  assert.equal(await status(originC, s.cookie), 401);
  assert.equal(await live(originC), n - 1);
  // a Redis that never answers holds the page up to its timeout, one that
  // refuses AUTH not at all: both counts are not known
  const page = JSON.parse((await http(`${originC}/status`)).body);
  assert.equal(page.providers.slow.sessions.live, null);
  assert.equal(page.providers.bad.sessions.live, null);
  assert.equal(typeof page.providers.op.sessions.live, 'number');
});

test('nginx -t: bad oidc_redis blocks and session_store names fail with the line', async () => {
  const jwks = path.join(makePrefix('jwks'), 'jwks.json');
  fs.writeFileSync(jwks, JSON.stringify(publicJwks(op.keys)));
  const base = `issuer https://idp.example; client_id x; jwks_file ${jwks};`;
  const cases = [
    [`oidc_provider p { ${base} session_store nope; }`, /no oidc_redis "nope" for "session_store" of oidc_provider "p" in .*nginx\.conf:\d+/],
    ['oidc_redis r { prefix x; }', /oidc_redis "r" has no "server" in .*nginx\.conf:\d+/],
    ['oidc_redis r { server 127.0.0.1:6379; database -1; }', /invalid "database" "-1" in .*nginx\.conf:\d+/],
    ['oidc_redis r { server 127.0.0.1:6379; colour blue; }', /unknown directive "colour" in oidc_redis in .*nginx\.conf:\d+/],
    ['oidc_redis r { server 127.0.0.1:6379; user u; }', /"user" without "password"/],
    ['oidc_redis r { server 127.0.0.1:6379; timeout 0; }', /invalid "timeout" "0"/],
    ['oidc_redis r { server 127.0.0.1:6379; } oidc_redis r { server 127.0.0.1:6379; }', /duplicate oidc_redis "r"/],
    ['oidc_redis r { server 127.0.0.1:6379; server 127.0.0.1:6380; }', /"server" directive is duplicate/],
  ];
  for (const [conf, re] of cases) {
    const r = await nginxTestConfig(conf);
    assert.equal(r.ok, false, conf);
    assert.match(r.stderr, re, conf);
  }
  const ok = await nginxTestConfig(`oidc_redis r { server unix:/run/redis.sock; password p; database 2; }
    oidc_provider p { ${base} session_store r; }`);
  assert.equal(ok.ok, true, ok.stderr);
});
