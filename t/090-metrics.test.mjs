// oidc_status: the counters of every provider, kept in shared memory (the
// same numbers from every worker), shown as JSON and in the Prometheus text
// format, kept across a reload, and switched off by "oidc_metrics off".
// Real oidc-provider, real nginx with 2 workers, real headless Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startProvider, startEcho, startNginx, stopAll, http, freePort, CLIENTS, nginxTestConfig,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, echo, ng, port, origin, dead;

const conf = ({ metrics = '', extra = '' } = {}) => `
    ${metrics}
    oidc_provider op {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        audience urn:gateway:api;
    }
    oidc_provider down {
        issuer http://127.0.0.1:${dead};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        connect_timeout 1s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc op;
            proxy_pass http://${echo.addr};
        }
        location /scoped {
            auth_oidc op;
            auth_oidc_require_scope api:admin;
            proxy_pass http://${echo.addr};
        }
        location = /status {
            oidc_status;
            allow 127.0.0.1;
            deny all;
        }
        location = /metrics {
            oidc_status prometheus;
        }
        location = /status-denied {
            oidc_status;
            deny all;
        }
        ${extra}
    }`;

before(async () => {
  port = await freePort();
  dead = await freePort();
  origin = `http://127.0.0.1:${port}`;
  op = await startProvider({ rpOrigin: origin, redirectUris: [`${origin}/oidc_callback`] });
  echo = await startEcho();
  ng = await startNginx({ vars: { PORT: port }, workers: 2, http: conf() });
});

after(stopAll);

// each on a new connection, so that both workers answer
const get = (path, headers = {}) => http(origin + path, { headers: { Connection: 'close', ...headers } });
const bearer = (path, token) => get(path, { Authorization: `Bearer ${token}` });

async function status() {
  const r = await get('/status');
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'], /^application\/json/);
  return r.json();
}

// Prometheus samples as {"name{labels}": value}, after checking the syntax
async function prometheus(path = '/metrics') {
  const r = await get(path);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const samples = {};
  const types = [];
  for (const line of r.body.split('\n')) {
    if (line === '') continue;
    const t = line.match(/^# TYPE ([a-z_]+) (counter|gauge|histogram)$/);
    if (t) { types.push(t[1]); continue; }
    const m = line.match(/^([a-z_]+)(\{(?:[a-z_]+="(?:[^"\\\n]|\\.)*",?)*\})? (\d+(?:\.\d+)?)$/);
    assert.ok(m, `not a sample line: ${line}`);
    assert.ok(!(m[1] + (m[2] || '') in samples), `duplicate sample: ${line}`);
    samples[m[1] + (m[2] || '')] = Number(m[3]);
  }
  assert.equal(new Set(types).size, types.length, 'each family has one TYPE line');
  return { samples, body: r.body, types };
}

test('JSON: every provider, every counter, from shared memory', async () => {
  let s = await status();
  for (let i = 0; i < 100 && s.providers.op.keys.refreshed === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    s = await status();
  }
  assert.equal(s.metrics, true);
  assert.deepEqual(Object.keys(s.providers).sort(), ['down', 'op']);
  const p = s.providers.op;
  assert.deepEqual(Object.keys(p.logins.failed).sort(),
    ['id_token', 'provider', 'request', 'session', 'state', 'token', 'userinfo']);
  assert.deepEqual(Object.keys(p.tokens.refused).sort(),
    ['claims', 'expired', 'inactive', 'kid', 'malformed', 'require', 'scope', 'signature', 'smart']);
  assert.deepEqual(Object.keys(p.cache).sort(), ['introspection', 'sessions', 'tokens']);
  assert.deepEqual(Object.keys(p.logouts).sort(), ['backchannel', 'frontchannel', 'refused', 'rp']);
  assert.deepEqual(Object.keys(p.logouts.refused).sort(), ['backchannel', 'frontchannel']);
  assert.deepEqual(Object.keys(p.calls).sort(),
    ['discovery', 'introspection', 'jwks', 'other', 'revocation', 'token', 'userinfo']);
  assert.equal(typeof s.redis.calls, 'number');
  // the keys were fetched at start: discovery and JWKS, once for all workers
  assert.equal(p.calls.discovery.calls, 1);
  assert.equal(p.calls.jwks.calls, 1);
  assert.equal(p.calls.discovery.errors, 0);
  assert.equal(p.keys.refreshed, 1);
  const buckets = Object.values(p.calls.jwks.buckets).reduce((a, b) => a + b, 0);
  assert.equal(buckets, 1);
  // the provider that cannot be reached: failed calls, failed refreshes
  const d = s.providers.down;
  assert.ok(d.calls.discovery.calls >= 1 && d.calls.discovery.errors === d.calls.discovery.calls,
    JSON.stringify(d.calls.discovery));
  assert.ok(d.keys.refresh_failed >= 1);
  assert.equal(d.keys.refreshed, 0);
});

test('Bearer tokens: verified once, then cache hits on either worker; refusals by reason', async () => {
  const before = (await status()).providers.op;
  const token = await op.token();
  for (let i = 0; i < 6; i++) assert.equal((await bearer('/a', token)).status, 200);

  // refused: a forged signature, an expired token, garbage, a missing scope
  const [h, p, sig] = token.split('.');
  const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
  assert.equal((await bearer('/a', `${h}.${p}.${flipped}`)).status, 401);
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await bearer('/a', op.sign({}, op.payload({ iat: now - 900, exp: now - 600 })))).status, 401);
  assert.equal((await bearer('/a', 'not-a-jwt')).status, 401);
  assert.equal((await bearer('/a', 'bad"char')).status, 400);
  assert.equal((await bearer('/a', op.sign({ kid: 'nope' }))).status, 401);
  assert.equal((await bearer('/scoped', token)).status, 403);

  const after = (await status()).providers.op;
  const d = (f) => f(after) - f(before);
  // seven requests with one token: each a verification or a cache hit
  assert.equal(d((x) => x.tokens.verified) + d((x) => x.cache.tokens.hit), 7 /* and /scoped */);
  assert.ok(d((x) => x.tokens.verified) >= 1);
  assert.equal(d((x) => x.tokens.refused.signature), 1);
  assert.equal(d((x) => x.tokens.refused.expired), 1);
  assert.equal(d((x) => x.tokens.refused.malformed), 2);
  assert.equal(d((x) => x.tokens.refused.kid), 1);
  assert.equal(d((x) => x.tokens.refused.scope), 1);
  assert.equal(d((x) => x.tokens.refused.claims), 0);
  // every lookup that missed both caches led to a verification (or a refusal)
  assert.equal(d((x) => x.cache.tokens.miss),
    d((x) => x.tokens.verified) + 3 /* signature, expired, kid */ + 1 /* not-a-jwt */);
});

test('Prometheus: the same numbers, families grouped, histograms cumulative', async () => {
  const s = (await status()).providers.op;
  const { samples, types } = await prometheus();
  const v = (k) => samples[k];
  assert.equal(v('oidc_tokens_total{provider="op",result="verified"}'), s.tokens.verified);
  assert.equal(v('oidc_tokens_total{provider="op",result="refused",reason="signature"}'),
    s.tokens.refused.signature);
  assert.equal(v('oidc_cache_total{provider="op",cache="tokens",result="hit"}'), s.cache.tokens.hit);
  assert.equal(v('oidc_logins_total{provider="op",result="failed",reason="state"}'), s.logins.failed.state);
  assert.equal(v('oidc_key_refreshes_total{provider="op",result="ok"}'), s.keys.refreshed);
  assert.equal(v('oidc_sessions_live{provider="op"}'), s.sessions.live);
  assert.equal(v('oidc_provider_requests_total{provider="op",endpoint="jwks",result="ok"}'),
    s.calls.jwks.calls - s.calls.jwks.errors);
  assert.ok(v('oidc_provider_requests_total{provider="down",endpoint="discovery",result="error"}') >= 1);
  assert.equal(v('oidc_redis_requests_total{result="ok"}'), 0);
  for (const f of ['oidc_logins_total', 'oidc_tokens_total', 'oidc_cache_total', 'oidc_sessions_live',
    'oidc_provider_requests_total', 'oidc_provider_request_duration_seconds',
    'oidc_redis_requests_total', 'oidc_redis_request_duration_seconds', 'oidc_key_refreshes_total',
    'oidc_session_renewals_total', 'oidc_logouts_total']) {
    assert.ok(types.includes(f), `family ${f}`);
  }
  // a family's samples are contiguous
  const names = Object.keys(samples).map((k) => k.replace(/\{.*$/, '').replace(/_(bucket|sum|count)$/, ''));
  const seen = new Set();
  names.forEach((n, i) => {
    if (i > 0 && names[i - 1] !== n) assert.ok(!seen.has(n), `${n} is split`);
    seen.add(n);
  });
  // histogram: cumulative buckets, +Inf = count
  const lab = 'provider="op",endpoint="jwks"';
  const les = Object.keys(samples).filter((k) => k.startsWith(`oidc_provider_request_duration_seconds_bucket{${lab},`));
  assert.equal(les.length, 9);
  const vals = les.map((k) => samples[k]);
  for (let i = 1; i < vals.length; i++) assert.ok(vals[i] >= vals[i - 1], les.join('\n'));
  assert.ok(les.at(-1).endsWith('le="+Inf"}'));
  assert.equal(vals.at(-1), samples[`oidc_provider_request_duration_seconds_count{${lab}}`]);
  assert.equal(vals.at(-1), s.calls.jwks.calls);
  assert.ok(s.calls.jwks.calls >= 2, 'the unknown kid made a refetch');
  // ?format= picks the format on any oidc_status location
  const viaArg = await prometheus('/status?format=prometheus');
  assert.ok('oidc_tokens_total{provider="op",result="verified"}' in viaArg.samples);
  const json = await get('/metrics?format=json');
  assert.equal(json.json().providers.op.keys.refreshed, s.keys.refreshed);
  assert.equal((await get('/status?format=xml')).status, 400);
});

test('browser login: started, completed, failed by reason; live sessions; session cache', async () => {
  const before = (await status()).providers.op;
  // a callback with a state this browser never had
  const bad = await get('/oidc_callback?code=x&state=' + 'A'.repeat(43), { Accept: 'text/html' });
  assert.equal(bad.status, 400);
  const b = await launchBrowser();
  let cookie;
  try {
    await b.page.goto(`${origin}/page`);
    await devLogin(b.page, { login: 'mia', until: (u) => u.origin === origin });
    cookie = (await b.cookies(origin)).find((c) => c.name === '__Host-NGX_OIDC_SESSION');
    assert.ok(cookie, 'session cookie');
  } finally {
    await b.close();
  }
  for (let i = 0; i < 4; i++) {
    assert.equal((await get('/s', { Cookie: `${cookie.name}=${cookie.value}`, Accept: 'application/json' })).status, 200);
  }
  const after = (await status()).providers.op;
  const d = (f) => f(after) - f(before);
  assert.ok(d((x) => x.logins.started) >= 1);
  assert.equal(d((x) => x.logins.completed), 1);
  assert.equal(d((x) => x.logins.failed.state), 1);
  assert.equal(after.sessions.live, 1);
  assert.equal(d((x) => x.calls.token.calls), 1);
  assert.equal(d((x) => x.calls.token.errors), 0);
  // the first request of each worker reads the store, later ones the worker's copy
  assert.ok(d((x) => x.cache.sessions.miss) >= 1 && d((x) => x.cache.sessions.miss) <= 2);
  // the landing page and four requests (and perhaps the browser's /favicon.ico)
  assert.ok(d((x) => x.cache.sessions.hit) + d((x) => x.cache.sessions.miss) >= 5);
});

test('the status location is protected like any other: deny, methods', async () => {
  assert.equal((await get('/status-denied')).status, 403);
  const post = await http(`${origin}/status`, { method: 'POST', body: 'x', headers: { Connection: 'close' } });
  assert.equal(post.status, 405);
});

test('counters survive a reload; "oidc_metrics off" stops counting, on again resumes', async () => {
  const token = await op.token();
  assert.equal((await bearer('/a', token)).status, 200);
  const before = (await status()).providers.op;

  await ng.reload({ http: conf({ extra: 'location /new { auth_oidc op; proxy_pass http://' + echo.addr + '; }' }) });
  const kept = (await status()).providers.op;
  assert.equal(kept.tokens.verified, before.tokens.verified);
  assert.equal(kept.cache.tokens.hit, before.cache.tokens.hit);
  assert.equal(kept.logins.completed, before.logins.completed);
  assert.equal(kept.keys.refreshed, before.keys.refreshed, 'the keys were kept, not fetched again');
  assert.equal(kept.calls.discovery.calls, before.calls.discovery.calls);

  await ng.reload({ http: conf({ metrics: 'oidc_metrics off;' }) });
  const fresh = await op.token();
  assert.equal((await bearer('/a', fresh)).status, 200);
  assert.equal((await bearer('/a', 'garbage')).status, 401);
  const off = await status();
  assert.equal(off.metrics, false);
  assert.deepEqual(off.providers.op.tokens, kept.tokens);
  assert.deepEqual(off.providers.op.cache.tokens, kept.cache.tokens);

  await ng.reload({ http: conf() });
  assert.equal((await bearer('/a', 'garbage')).status, 401);
  const on = (await status()).providers.op;
  assert.equal(on.tokens.refused.malformed, kept.tokens.refused.malformed + 1);
});

test('nginx -t: oidc_status takes json or prometheus', async () => {
  const r = await nginxTestConfig(`
    server {
        listen 127.0.0.1:1;
        location /s { oidc_status xml; }
    }`);
  assert.equal(r.ok, false);
  assert.match(r.stderr, /invalid value "xml": json or prometheus in .*nginx\.conf:\d+/);
});
