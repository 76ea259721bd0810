// Browser login (authorization code + PKCE) against the real oidc-provider,
// with real headless Chromium; attacks on the callback with plain HTTP.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import nodeHttp from 'node:http';
import {
  startProvider, startEcho, startNginx, stopAll, http, freePort, CLIENTS, headerValues,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, echo, ng, port, origin, hold, holdOrigin;
const held = [];
let tamper = null, tamperSrv, tamperOrigin;   // how the token proxy alters the ID token
const HOLD = '__Host-HOLD';
const COOKIE = '__Host-NGX_OIDC_SESSION';
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

before(async () => {
  port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  // the attack tests' provider block sends the browser back to this server,
  // which keeps the callback URL: the tests replay it at the gateway
  hold = nodeHttp.createServer((req, res) => { held.push(req.url); res.end('held'); });
  await new Promise((r) => hold.listen(0, '127.0.0.1', r));
  holdOrigin = `http://127.0.0.1:${hold.address().port}`;
  // a discovery + token endpoint proxy in front of the provider that can
  // alter the ID token (re-signed with the provider's own key, or not)
  tamperSrv = nodeHttp.createServer((req, res) => tamperProxy(req, res).catch((e) => {
    res.writeHead(500); res.end(String(e));
  }));
  await new Promise((r) => tamperSrv.listen(0, '127.0.0.1', r));
  tamperOrigin = `http://127.0.0.1:${tamperSrv.address().port}`;
  op = await startProvider({
    rpOrigin: origin,
    redirectUris: [`${origin}/oidc_callback`, `${holdOrigin}/hold/oidc_callback`,
      `${holdOrigin}/tamper/oidc_callback`],
  });
  echo = await startEcho();
  ng = await startNginx({
    vars: { PORT: port },
    http: `
    oidc_provider op {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        scope openid email profile;
        allow_insecure_http on;
    }
    oidc_provider op_hold {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        redirect_uri ${holdOrigin}/hold/oidc_callback;
        cookie_name HOLD;
        allow_insecure_http on;
    }
    oidc_provider op_tamper {
        issuer ${op.issuer};
        config_url ${tamperOrigin}/.well-known/openid-configuration;
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        redirect_uri ${holdOrigin}/tamper/oidc_callback;
        cookie_name TAMPER;
        allow_insecure_http on;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc op;
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Email $oidc_claim_email;
            auth_oidc_header X-Has-Access-Token $oidc_access_token;
            auth_oidc_header X-Has-Id-Token $oidc_id_token;
            proxy_pass http://${echo.addr};
        }
        location /tamper/ {
            auth_oidc op_tamper;
            proxy_pass http://${echo.addr};
        }
        location /hold/ {
            auth_oidc op_hold;
            auth_oidc_header X-User $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }
    }`,
  });
});

after(async () => { hold?.close(); tamperSrv?.close(); await stopAll(); });

async function tamperProxy(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  if (req.url.startsWith('/.well-known/')) {
    const d = await op.discovery();
    d.token_endpoint = `${tamperOrigin}/token`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(d));
    return;
  }
  const r = await http(`${op.issuer}/token`, {
    method: 'POST', body: Buffer.concat(chunks).toString(),
    headers: { 'Content-Type': req.headers['content-type'], Authorization: req.headers.authorization },
  });
  let body = r.body;
  if (r.status === 200 && tamper) {
    const t = JSON.parse(body);
    const [h, p, sig] = t.id_token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    const payload = JSON.parse(Buffer.from(p, 'base64url'));
    if (tamper === 'payload') {
      payload.sub = 'admin';
      t.id_token = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
    } else if (tamper === 'signature') {
      const b = Buffer.from(sig, 'base64url'); b[0] ^= 1;
      t.id_token = `${h}.${p}.${b.toString('base64url')}`;
    } else {
      if (tamper === 'nonce') payload.nonce = 'another-nonce';
      if (tamper === 'aud') payload.aud = 'someone-else';
      if (tamper === 'at_hash') payload.at_hash = 'AAAAAAAAAAAAAAAAAAAAAA';
      if (tamper === 'expired') { payload.exp = Math.floor(Date.now() / 1000) - 3600; }
      const key = op.keys.keys.find((k) => k.kid === header.kid);
      t.id_token = op.sign({ ...header, typ: header.typ }, payload, key);
    }
    body = JSON.stringify(t);
  }
  res.writeHead(r.status, { 'Content-Type': 'application/json' });
  res.end(body);
}

const seen = (url) => echo.requests.filter((q) => q.url === url);
const hdr = (q, name) => headerValues(q.headers, name)[0];

test('deep link: provider login, back on the deep link with its query, claims upstream', async () => {
  const b = await launchBrowser();
  try {
    const deep = '/app/deep?x=1&y=two%20words';
    const grants0 = op.events('grant.success').length;
    await b.page.goto(origin + deep);
    assert.match(b.page.url(), new RegExp(`^${op.issuer}/interaction/`));
    await devLogin(b.page, { login: 'alice', until: (u) => u.origin === origin });
    assert.equal(b.page.url(), origin + deep);
    const q = seen(deep).at(-1);
    assert.ok(q, 'the upstream saw the deep link');
    assert.equal(hdr(q, 'x-user'), 'alice');
    // oidc-provider puts scope claims in userinfo, not in the ID token
    assert.equal(hdr(q, 'x-email'), undefined);
    assert.ok(hdr(q, 'x-has-id-token')?.split('.').length === 3, 'id token variable');
    assert.ok(hdr(q, 'x-has-access-token'), 'access token variable');

    const cookies = await b.cookies(origin);
    const session = cookies.find((c) => c.name === COOKIE);
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Lax');
    assert.ok(session.value.length >= 43);
    assert.ok(!cookies.some((c) => c.name.startsWith(`${COOKIE}_`)), 'binding cookie removed');

    // a second request: no redirect, no provider round trip
    // the provider's event line may lag its answer: waited for, then counted
    assert.ok(await op.waitEvent('grant.success', () => true, { skip: grants0 }),
      'the code was exchanged at the provider');
    const grants = op.events('grant.success').length;
    assert.equal(grants, grants0 + 1);
    const resp = await b.page.goto(`${origin}/app/second`);
    assert.equal(resp.status(), 200);
    assert.equal(resp.request().redirectedFrom(), null);
    assert.equal(hdr(seen('/app/second').at(-1), 'x-user'), 'alice');
    assert.equal(op.events('grant.success').length, grants, 'no token request for a session');

    // the session cookie works for plain HTTP clients too; tokens never in a cookie
    const r = await http(`${origin}/app/api`, { headers: { Cookie: `${COOKIE}=${session.value}`, Accept: 'application/json' } });
    assert.equal(r.status, 200);
    assert.ok(!cookies.some((c) => c.value.includes('.') && c.value.split('.').length === 3));
  } finally {
    await b.close();
  }
});

test('XHR and API clients without a session get 401, not a redirect', async () => {
  const cases = [
    { Accept: 'application/json' },
    { Accept: HTML, 'X-Requested-With': 'XMLHttpRequest' },
    { Accept: HTML, 'Sec-Fetch-Mode': 'cors' },
    {},
  ];
  for (const headers of cases) {
    const r = await http(`${origin}/app/x`, { headers });
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.match(r.headers['www-authenticate'], /^Bearer realm="op"/);
    assert.equal(r.headers.location, undefined);
  }
  const post = await http(`${origin}/app/x`, { method: 'POST', headers: { Accept: HTML }, body: '' });
  assert.equal(post.status, 401);

  // a navigation gets the redirect, with every parameter
  const r = await http(`${origin}/app/x?a=b`, { headers: { Accept: HTML, 'Sec-Fetch-Mode': 'navigate' } });
  assert.equal(r.status, 302);
  const loc = new URL(r.headers.location);
  assert.equal(`${loc.origin}${loc.pathname}`, `${op.issuer}/auth`);
  const sp = loc.searchParams;
  assert.equal(sp.get('response_type'), 'code');
  assert.equal(sp.get('client_id'), 'gateway');
  assert.equal(sp.get('redirect_uri'), `${origin}/oidc_callback`);
  assert.equal(sp.get('scope'), 'openid email profile');
  assert.equal(sp.get('code_challenge_method'), 'S256');
  assert.equal(sp.get('code_challenge').length, 43);
  assert.ok(sp.get('state').length >= 22 && sp.get('nonce').length >= 22);
  const setCookie = r.headers['set-cookie'];
  assert.equal(setCookie.length, 1);
  assert.match(setCookie[0], new RegExp(`^${COOKIE}_${sp.get('state').slice(0, 8)}=`));
  assert.match(setCookie[0], /Max-Age=600/);
  assert.match(setCookie[0], /HttpOnly/);
  assert.match(setCookie[0], /Secure/);
  assert.match(setCookie[0], /SameSite=Lax/);
});

test('two tabs logging in at once both land where they started', async () => {
  const b = await launchBrowser();
  try {
    const p1 = b.page;
    const p2 = await b.context.newPage();
    await p1.goto(`${origin}/tab/one?t=1`);
    await p2.goto(`${origin}/tab/two?t=2`);
    assert.match(p1.url(), /\/interaction\//);
    assert.match(p2.url(), /\/interaction\//);
    await devLogin(p1, { login: 'bob', until: (u) => u.origin === origin });
    await devLogin(p2, { login: 'bob', until: (u) => u.origin === origin });
    assert.equal(p1.url(), `${origin}/tab/one?t=1`);
    assert.equal(p2.url(), `${origin}/tab/two?t=2`);
    assert.equal(hdr(seen('/tab/one?t=1').at(-1), 'x-user'), 'bob');
    assert.equal(hdr(seen('/tab/two?t=2').at(-1), 'x-user'), 'bob');
  } finally {
    await b.close();
  }
});

// Drives a login in Chromium up to the callback, which lands on the hold
// server: returns its URL at the gateway and the browser's binding cookie.
async function pendingCallback(path = '/hold/attack', login = 'mallory') {
  const b = await launchBrowser();
  const prefix = path.startsWith('/tamper/') ? '__Host-TAMPER' : HOLD;
  try {
    await b.page.goto(origin + path);
    await devLogin(b.page, { login, until: (u) => u.origin === holdOrigin });
    const u = new URL(b.page.url());
    const cookies = (await b.cookies(origin)).filter((c) => c.name.startsWith(`${prefix}_`));
    assert.equal(cookies.length, 1);
    return { url: new URL(`${origin}${u.pathname}${u.search}`), cookie: `${cookies[0].name}=${cookies[0].value}` };
  } finally {
    await b.close();
  }
}

const callback = (url, cookie) => http(url.href, { headers: { Accept: HTML, ...(cookie ? { Cookie: cookie } : {}) } });

test('callback attacks: binding, state, single use, replayed code', async () => {
  const a = await pendingCallback('/hold/attack?n=1');

  // no binding cookie: refused, and the pending login is not consumed
  let r = await callback(a.url);
  assert.equal(r.status, 400);
  assert.doesNotMatch(r.body, /<|code=/);

  // another state (well formed) with this browser's cookie
  const forged = new URL(a.url);
  forged.searchParams.set('state', crypto.randomBytes(24).toString('base64url'));
  r = await callback(forged, a.cookie);
  assert.equal(r.status, 400);

  // the right state and cookie: logged in, back where it started
  r = await callback(a.url, a.cookie);
  assert.equal(r.status, 302, r.body);
  assert.equal(new URL(r.headers.location, origin).href, `${origin}/hold/attack?n=1`);
  const set = r.headers['set-cookie'].find((c) => c.startsWith(`${HOLD}=`));
  assert.ok(set);
  const sid = set.split(';')[0].slice(HOLD.length + 1);
  const ok = await http(`${origin}/hold/api`, { headers: { Cookie: `${HOLD}=${sid}` } });
  assert.equal(ok.status, 200);
  assert.equal(hdr(echo.last(), 'x-user'), 'mallory');

  // the same callback again: the state was used
  r = await callback(a.url, a.cookie);
  assert.equal(r.status, 400);

  // a fresh pending login fed the code already redeemed
  const b = await pendingCallback('/hold/attack?n=2');
  const replay = new URL(b.url);
  replay.searchParams.set('code', a.url.searchParams.get('code'));
  r = await callback(replay, b.cookie);
  assert.equal(r.status, 400, r.body);
  assert.match(r.body, /invalid_grant/);
});

test('a new login from a browser that has a session ends that session (new id, old one gone)', async () => {
  const a = await pendingCallback('/hold/relogin?n=1', 'mallory');
  let r = await callback(a.url, a.cookie);
  assert.equal(r.status, 302, r.body);
  const first = r.headers['set-cookie'].find((c) => c.startsWith(`${HOLD}=`)).split(';')[0];
  assert.equal((await http(`${origin}/hold/api`, { headers: { Cookie: first } })).status, 200);

  // a second login completes in the browser that holds the first session
  const b = await pendingCallback('/hold/relogin?n=2', 'bob');
  r = await callback(b.url, `${b.cookie}; ${first}`);
  assert.equal(r.status, 302, r.body);
  const second = r.headers['set-cookie'].find((c) => c.startsWith(`${HOLD}=`)).split(';')[0];
  assert.notEqual(second, first);
  assert.equal((await http(`${origin}/hold/api`, { headers: { Cookie: second } })).status, 200);
  assert.equal(hdr(echo.last(), 'x-user'), 'bob');
  const old = await http(`${origin}/hold/api`, { headers: { Cookie: first, Accept: 'application/json' } });
  assert.equal(old.status, 401, 'the first session ended');
});

test('provider error reply: a clear page, nothing reflected raw', async () => {
  const a = await pendingCallback('/hold/err');
  const u = new URL(a.url);
  u.searchParams.delete('code');
  u.searchParams.set('error', 'access_denied');
  u.searchParams.set('error_description', '<script>alert(1)</script>');
  let r = await callback(u, a.cookie);
  assert.equal(r.status, 400);
  assert.match(r.headers['content-type'], /^text\/plain/);
  assert.match(r.body, /refused the login \(access_denied\)/);
  assert.doesNotMatch(r.body, /script/);

  const b = await pendingCallback('/hold/err2');
  const v = new URL(b.url);
  v.searchParams.delete('code');
  v.searchParams.set('error', '<img src=x>');
  r = await callback(v, b.cookie);
  assert.equal(r.status, 400);
  assert.doesNotMatch(r.body, /img/);
});

test('return URL: a protocol-relative start stays on the gateway', async () => {
  const b = await launchBrowser();
  try {
    await b.page.goto(`${origin}//evil.example/x`);
    await devLogin(b.page, { login: 'carol', until: (u) => u.origin === origin });
    const u = new URL(b.page.url());
    assert.equal(u.origin, origin);
    assert.equal(u.pathname, '/');
  } finally {
    await b.close();
  }
});

test('forged or unknown session cookies count as no session', async () => {
  const forged = crypto.randomBytes(32).toString('base64url');
  for (const value of [forged, 'short', `${forged}x`, '']) {
    const r = await http(`${origin}/app/x`, { headers: { Cookie: `${COOKIE}=${value}`, Accept: 'application/json' } });
    assert.equal(r.status, 401);
    const n = await http(`${origin}/app/x`, { headers: { Cookie: `${COOKIE}=${value}`, Accept: HTML } });
    assert.equal(n.status, 302);
    assert.ok(n.headers.location.startsWith(`${op.issuer}/auth?`));
  }
});

test('ID tokens altered on the way are refused: no session', async () => {
  for (const mode of ['payload', 'signature', 'nonce', 'aud', 'at_hash', 'expired', null]) {
    tamper = mode;
    const a = await pendingCallback('/tamper/x?m=1', 'trudy');
    const mark = ng.mark();
    const r = await callback(a.url, a.cookie);
    const sessions = (r.headers['set-cookie'] || []).filter((c) => c.startsWith('__Host-TAMPER='));
    if (mode === null) {
      assert.equal(r.status, 302, r.body);
      assert.equal(sessions.length, 1);
      continue;
    }
    assert.equal(r.status, 400, `${mode}: ${r.status} ${r.body}`);
    assert.equal(sessions.length, 0, mode);
    assert.match(ng.errorLog(mark), /oidc: refused \(id_token\): invalid id token/, mode);
  }
  tamper = null;
});
