// Logout: at the gateway (RP-initiated, with revocation of the refresh
// token) and from the provider (back-channel, front-channel), against the
// real oidc-provider and headless Chromium; forged requests with plain HTTP.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  startProvider, startEcho, startNginx, stopAll, http, freePort, CLIENTS, headerValues,
  makeKeys, makePrefix, nginxTestConfig, publicJwks,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, echo, ng, port, origin;
let B;                    // one browser for the whole file
const COOKIE = '__Host-NGX_OIDC_SESSION';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const FORM = 'application/x-www-form-urlencoded';

before(async () => {
  port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  op = await startProvider({
    rpOrigin: origin,
    env: {
      OP_BACKCHANNEL_LOGOUT_URI: `${origin}/bc-logout`,
      OP_POST_LOGOUT_REDIRECT_URIS: `${origin}/logged-out`,
    },
  });
  echo = await startEcho();
  // a provider with static keys: no discovery, so no end_session_endpoint
  const dir = makePrefix('jwks');
  const jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify(publicJwks(op.keys)));
  ng = await startNginx({
    vars: { PORT: port },
    http: `
    oidc_provider op {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        logout_uri /logout;
        post_logout_uri /logged-out;
        backchannel_logout_uri /bc-logout;
        frontchannel_logout_uri /fc-logout;
    }
    oidc_provider op_static {
        issuer ${op.issuer};
        client_id gateway;
        jwks_file ${jwksFile};
        cookie_name STATIC;
        logout_uri /static/logout;
        post_logout_uri https://app.example/bye;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc op;
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Sid $oidc_claim_sid;
            proxy_pass http://${echo.addr};
        }
        location = /logged-out {
            proxy_pass http://${echo.addr};
        }
        location /static/ {
            auth_oidc op_static;
            proxy_pass http://${echo.addr};
        }
    }`,
  });
  B = await launchBrowser();
});

after(async () => { await B?.close(); await stopAll(); });

const hdr = (q, name) => headerValues(q.headers, name)[0];

// A new gateway session for `user` in the shared browser (every cookie
// cleared first: a full login at the provider). Returns {cookie, sid}.
async function login(user) {
  const tag = crypto.randomBytes(6).toString('hex');
  await B.context.clearCookies();
  await B.page.goto(`${origin}/app/${tag}`);
  await devLogin(B.page, { login: user, until: (u) => u.origin === origin && u.pathname === `/app/${tag}` });
  const q = echo.requests.filter((x) => x.url === `/app/${tag}`).at(-1);
  assert.ok(q, 'logged in');
  assert.equal(hdr(q, 'x-user'), user);
  const c = (await B.cookies(origin)).find((x) => x.name === COOKIE);
  assert.ok(c, 'session cookie');
  return { cookie: c.value, sid: hdr(q, 'x-sid') };
}

// 200 with the session, 401 without (an API client: no login redirect)
async function alive(cookie) {
  const r = await http(`${origin}/app/check`, { headers: { Cookie: `${COOKIE}=${cookie}`, Accept: 'application/json' } });
  assert.ok(r.status === 200 || r.status === 401, `status ${r.status}`);
  return r.status === 200;
}

test('logout CSRF: cross-site requests get a confirmation page, its form logs out', async () => {
  const s = await login('bob');
  const cookie = `${COOKIE}=${s.cookie}`;
  const refused = [
    { 'Sec-Fetch-Site': 'cross-site' },
    { 'Sec-Fetch-Site': 'same-site' },
    {},                                                       // nothing proves the origin
    { Origin: 'http://evil.example' },
    { Origin: 'null' },
    { Referer: 'http://evil.example/page' },
    { Referer: `${origin}.evil.example/` },
  ];
  let page;
  for (const h of refused) {
    const r = await http(`${origin}/logout`, { headers: { Cookie: cookie, ...h } });
    assert.equal(r.status, 200, JSON.stringify(h));
    assert.equal(r.headers.location, undefined);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['x-frame-options'], 'DENY');
    const csp = r.headers['content-security-policy'];
    assert.match(csp, /^default-src 'none'; form-action 'self' http:\/\/127\.0\.0\.1:\d+; frame-ancestors 'none'$/);
    assert.equal(r.headers['set-cookie'], undefined, 'the cookie stays');
    assert.match(r.body, /<form method="post" action="\/logout">/);
    page = r.body;
  }
  assert.equal(await alive(s.cookie), true, 'still logged in');

  const csrf = page.match(/name="csrf" value="([A-Za-z0-9_-]+)"/)[1];
  const post = (body, headers = {}) => http(`${origin}/logout`, {
    method: 'POST', body, headers: { Cookie: cookie, 'Content-Type': FORM, ...headers },
  });
  const flipped = csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A');
  for (const body of [`csrf=${flipped}`, '', 'csrf=', `csrf=${csrf}&csrf=${csrf}`,
    `csrf=${crypto.randomBytes(32).toString('base64url')}`]) {
    const r = await post(body);
    assert.equal(r.status, 200, body);
    assert.match(r.body, /<form method="post"/);
  }
  const text = await post(`csrf=${csrf}`, { 'Content-Type': 'text/plain' });
  assert.equal(text.status, 200, 'not a form: no CSRF value');
  assert.equal(await alive(s.cookie), true, 'wrong CSRF values end nothing');

  // the page's form, as the browser posts it
  const r = await post(`csrf=${csrf}`);
  assert.equal(r.status, 302, r.body);
  assert.equal(r.headers['cache-control'], 'no-store');
  const loc = new URL(r.headers.location);
  assert.equal(`${loc.origin}${loc.pathname}`, `${op.issuer}/session/end`);
  assert.ok(loc.searchParams.get('id_token_hint'));
  const del = r.headers['set-cookie'].find((c) => c.startsWith(`${COOKIE}=`));
  assert.match(del, /Max-Age=0/);
  assert.match(del, /Path=\//);
  assert.match(del, /HttpOnly/);
  assert.match(del, /Secure/);
  assert.equal(await alive(s.cookie), false, 'logged out');

  // again, or without a session: the same redirect, no id_token_hint
  const again = await post(`csrf=${csrf}`);
  assert.equal(again.status, 302);
  const l2 = new URL(again.headers.location);
  assert.equal(l2.searchParams.get('id_token_hint'), null);
  assert.equal(l2.searchParams.get('client_id'), 'gateway');
  const none = await http(`${origin}/logout`, { headers: { 'Sec-Fetch-Site': 'cross-site' } });
  assert.equal(none.status, 302);

  const put = await http(`${origin}/logout`, { method: 'PUT', headers: { Cookie: cookie } });
  assert.equal(put.status, 405);
});

test('logout CSRF in the browser: a cross-site link gets the page, its button logs out', async () => {
  const b = B;
  try {
    const s = await login('bob');
    // a page on another site links to the logout
    await b.page.route('http://evil.example/**', (route) => route.fulfill({
      contentType: 'text/html', body: `<a id="out" href="${origin}/logout">free stuff</a>`,
    }));
    await b.page.goto('http://evil.example/');
    const [resp] = await Promise.all([b.page.waitForNavigation(), b.page.click('#out')]);
    assert.equal(resp.status(), 200);
    assert.equal(new URL(b.page.url()).pathname, '/logout');
    assert.equal(await alive(s.cookie), true, 'a cross-site link ends nothing');

    // the user confirms: the POST, then the redirects (allowed by form-action)
    await Promise.all([b.page.waitForURL(`${op.issuer}/session/end**`), b.page.click('button[type=submit]')]);
    assert.equal(await alive(s.cookie), false);
  } finally {
    await b.page.unroute('http://evil.example/**');
  }
});

test('logout CSRF: same-origin proofs without Sec-Fetch-Site', async () => {
  const sessions = [];
  for (let i = 0; i < 3; i++) sessions.push(await login('bob'));
  const proofs = [
    { 'Sec-Fetch-Site': 'same-origin' },
    { Origin: origin },
    { Referer: `${origin}/app/page?x=1` },
  ];
  for (let i = 0; i < proofs.length; i++) {
    const r = await http(`${origin}/logout`, { headers: { Cookie: `${COOKIE}=${sessions[i].cookie}`, ...proofs[i] } });
    assert.equal(r.status, 302, JSON.stringify(proofs[i]));
    assert.equal(await alive(sessions[i].cookie), false);
  }
});

test('logout without an end_session_endpoint: straight to post_logout_uri', async () => {
  const r = await http(`${origin}/static/logout`, { headers: { 'Sec-Fetch-Site': 'none' } });
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'https://app.example/bye');
  assert.match(r.headers['set-cookie'][0], /^__Host-STATIC=; Path=\/; Max-Age=0/);
});

function logoutToken(over = {}, header = {}, key) {
  const now = Math.floor(Date.now() / 1000);
  const p = {
    iss: op.issuer, aud: 'gateway', iat: now, jti: crypto.randomBytes(12).toString('base64url'),
    events: { [EVENT]: {} }, ...over,
  };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  return op.sign({ alg: 'RS256', typ: 'logout+jwt', ...header }, p, key);
}

const backchannel = (body, { method = 'POST', type = FORM } = {}) => http(`${origin}/bc-logout`, {
  method, body, headers: type ? { 'Content-Type': type } : {},
});

// A POST whose body comes after the header, in two pieces: nginx reads it
// asynchronously (the body handler resumes the phases). Resolves to the
// status code.
function slowPost(urlPath, body) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('error', reject);
    sock.on('end', () => resolve(Number(data.split(' ')[1])));
    sock.write(`POST ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`
      + `Content-Type: ${FORM}\r\nContent-Length: ${body.length}\r\n\r\n`);
    const half = Math.floor(body.length / 2);
    setTimeout(() => sock.write(body.slice(0, half)), 100);
    setTimeout(() => sock.write(body.slice(half)), 200);
  });
}

test('back-channel: forged, altered, replayed and malformed logout tokens are refused', async () => {
  const s = await login('dave');
  const other = await makeKeys({ ec: false });
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    'wrong signature': logoutToken({ sid: s.sid }, {}, { ...other.keys[0], kid: 'rs1' }),
    'unknown key': logoutToken({ sid: s.sid }, { kid: 'nope' }, other.keys[0]),
    'wrong iss': logoutToken({ sid: s.sid, iss: `${op.issuer}/x` }),
    'wrong aud': logoutToken({ sid: s.sid, aud: 'someone-else' }),
    'nonce present': logoutToken({ sid: s.sid, nonce: 'n' }),
    'events missing': logoutToken({ sid: s.sid, events: undefined }),
    'other event': logoutToken({ sid: s.sid, events: { 'http://example/x': {} } }),
    'neither sid nor sub': logoutToken({}),
    'jti missing': logoutToken({ sid: s.sid, jti: undefined }),
    'iat too old': logoutToken({ sid: s.sid, iat: now - 3600 }),
    'expired': logoutToken({ sid: s.sid, exp: now - 3600 }),
    'typ of an access token': logoutToken({ sid: s.sid }, { typ: 'at+jwt' }),
    'unsigned': logoutToken({ sid: s.sid }, { alg: 'none' }, null),
  };
  for (const [what, token] of Object.entries(cases)) {
    const mark = ng.mark();
    const r = await backchannel(`logout_token=${token}`);
    assert.equal(r.status, 400, what);
    assert.equal(r.json().error, 'invalid_request', what);
    assert.equal(r.headers['cache-control'], 'no-store', what);
    assert.match(ng.errorLog(mark), /oidc: refused \(backchannel\): back-channel logout refused: .*provider "op", request_id /, what);
    const sig = token.split('.')[2];
    assert.ok(!sig || !ng.errorLog(mark).includes(sig), 'the token is never logged');
  }
  const good = logoutToken({ sid: s.sid });
  const bad = {
    'no logout_token': 'x=1',
    'logout_token twice': `logout_token=${good}&logout_token=${good}`,
    'body too large': `logout_token=${good}&pad=${'a'.repeat(20000)}`,
  };
  for (const [what, body] of Object.entries(bad)) {
    const r = await backchannel(body);
    assert.equal(r.status, 400, what);
    assert.equal(r.json().error, 'invalid_request', what);
  }
  const json = await backchannel(JSON.stringify({ logout_token: good }), { type: 'application/json' });
  assert.equal(json.status, 400, 'not a form');
  const get = await backchannel(undefined, { method: 'GET', type: null });
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, 'POST');
  assert.equal(get.json().error, 'invalid_request');
  assert.equal(await alive(s.cookie), true, 'nothing above ended the session');

  // the same token, signed by the provider and unaltered: accepted once
  const ok = await slowPost('/bc-logout', `logout_token=${good}`);
  assert.equal(ok, 200);
  assert.equal(await alive(s.cookie), false, 'ended');
  const replay = await backchannel(`logout_token=${good}`);
  assert.equal(replay.status, 400, 'a replayed jti');
  assert.match(replay.body, /replayed/);
});

test('back-channel by sub ends every session of that user, and only those', async () => {
  const e1 = await login('erin');
  const e2 = await login('erin');
  const f = await login('frank');
  assert.notEqual(e1.cookie, e2.cookie);
  const r = await backchannel(`logout_token=${logoutToken({ sub: 'erin' })}`);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(await alive(e1.cookie), false);
  assert.equal(await alive(e2.cookie), false);
  assert.equal(await alive(f.cookie), true, 'another user keeps the session');
  assert.match(ng.errorLog(), /session ended by a logout at provider "op" \(by sub\)/);
});

test('front-channel logout: iss and sid end the session, a wrong iss does not', async () => {
  const s = await login('grace');
  const t = await login('heidi');
  const fc = (q, headers = {}) => http(`${origin}/fc-logout?${q}`, { headers });
  const iss = encodeURIComponent(op.issuer);
  for (const q of [`iss=${encodeURIComponent(`${op.issuer}/x`)}&sid=${s.sid}`, `sid=${s.sid}`,
    `iss=${iss}`, `iss=${iss}&sid=`, `iss=${iss}&sid=${s.sid}&sid=${s.sid}`, `iss=${iss}&sid=%zz`]) {
    const r = await fc(q);
    assert.equal(r.status, 400, q);
  }
  assert.equal(await alive(s.cookie), true, 'refused requests end nothing');

  const r = await fc(`iss=${iss}&sid=${encodeURIComponent(s.sid)}`);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(r.headers['x-frame-options'], undefined, 'the provider frames it');
  assert.match(r.body, /Signed out/);
  assert.equal(await alive(s.cookie), false);
  assert.equal(await alive(t.cookie), true, 'another sid is untouched');

  // neither iss nor sid: the session of the cookie
  const c = await fc('', { Cookie: `${COOKIE}=${t.cookie}` });
  assert.equal(c.status, 200);
  assert.match(c.headers['set-cookie'][0], /Max-Age=0/);
  assert.equal(await alive(t.cookie), false);

  const post = await http(`${origin}/fc-logout`, { method: 'POST', body: 'x=1', headers: { 'Content-Type': FORM } });
  assert.equal(post.status, 405);
});

test('logout at the gateway: session, cookie, provider session and refresh token all gone', async () => {
  const b = B;
  const toProvider = [];
  const onRequest = (req) => {
    if (req.url().startsWith(`${op.issuer}/session/end`)) toProvider.push(req.url());
  };
  try {
    const s = await login('alice');
    assert.ok(s.sid, 'the ID token has a sid');
    assert.equal(await alive(s.cookie), true);
    const revoked = op.events('revocation.success').length;
    const ended = op.events('end_session.success').length;

    b.page.on('request', onRequest);

    // from a page of the site: a same-origin navigation
    await b.page.goto(`${origin}/app/page`);
    await b.page.evaluate((href) => {
      const a = document.createElement('a');
      a.href = href; a.id = 'out'; a.textContent = 'sign out';
      document.body.appendChild(a);
    }, `${origin}/logout`);
    await Promise.all([b.page.waitForURL(`${op.issuer}/session/end**`), b.page.click('#out')]);

    // the gateway's part is done before the provider asks anything
    assert.equal(await alive(s.cookie), false, 'gateway session ended');
    assert.ok(!(await b.cookies(origin)).some((c) => c.name === COOKIE), 'cookie cleared');
    const u = new URL(toProvider[0]);
    assert.equal(u.searchParams.get('client_id'), 'gateway');
    assert.equal(u.searchParams.get('post_logout_redirect_uri'), `${origin}/logged-out`);
    assert.equal(u.searchParams.get('id_token_hint')?.split('.').length, 3);

    // oidc-provider asks "sign out?"; yes: back on post_logout_uri
    await b.page.waitForSelector('button[name=logout][value=yes]');
    await Promise.all([b.page.waitForURL(`${origin}/logged-out**`), b.page.click('button[name=logout][value=yes]')]);
    // the provider's event line may lag its answer: waited for, then counted
    assert.ok(await op.waitEvent('end_session.success', () => true, { skip: ended }), 'the provider ended its session');
    assert.equal(op.events('end_session.success').length, ended + 1);

    const rev = await op.waitEvent('revocation.success', () => true, { skip: revoked, timeout: 10000 });
    assert.ok(rev, 'the refresh token revocation');
    assert.equal(op.events('revocation.success').length, revoked + 1);
    assert.equal(rev.client, 'gateway');
    assert.equal(rev.kind, 'RefreshToken');

    // the provider's session is gone too: the next login asks again
    await b.page.goto(`${origin}/app/again`);
    assert.match(b.page.url(), new RegExp(`^${op.issuer}/interaction/`));
    await b.page.waitForSelector('input[name=login]');
  } finally {
    b.page.off('request', onRequest);
  }
  assert.doesNotMatch(ng.errorLog(), /revocation failed/);
});

test('back-channel logout from the provider ends the gateway session', async () => {
  const b = B;
  const s = await login('carol');
  const n = op.events('backchannel.success').length;
  // log out at the provider itself, not through the gateway
  await b.page.goto(`${op.issuer}/session/end`);
  await b.page.waitForSelector('button[name=logout][value=yes]');
  await Promise.all([b.page.waitForNavigation(), b.page.click('button[name=logout][value=yes]')]);
  const ev = await op.waitEvent('backchannel.success', () => true, { skip: n, timeout: 10000 });
  assert.ok(ev, 'the back-channel logout');
  assert.equal(ev.client, 'gateway');
  assert.equal(ev.sid, s.sid);
  assert.equal(await alive(s.cookie), false, 'session refused');
  assert.match(ng.errorLog(), /oidc: back-channel logout from provider "op"/);
  assert.match(ng.errorLog(), /session ended by a logout at provider "op" \(by sid\)/);
  // and the browser is sent to log in again
  await b.page.goto(`${origin}/app/after`);
  assert.match(b.page.url(), new RegExp(`^${op.issuer}/interaction/`));
  assert.equal(op.events('backchannel.error').length, 0);
});

test('configuration: logout paths and post_logout_uri are checked', async () => {
  const base = `issuer https://idp.example; client_id x; jwks_file /dev/null;`;
  const cases = [
    ['backchannel_logout_uri bc;', /must be paths/],
    ['post_logout_uri ftp://x/;', /"post_logout_uri" must be a path or an absolute URI/],
    ['logout_uri /a; backchannel_logout_uri /a;', /must differ/],
    ['frontchannel_logout_uri /oidc_callback;', /must differ/],
  ];
  for (const [extra, re] of cases) {
    const r = await nginxTestConfig(`oidc_provider p { ${base} ${extra} }`);
    assert.equal(r.ok, false, extra);
    assert.match(r.stderr, re, extra);
    assert.match(r.stderr, /nginx\.conf:\d+/, extra);
  }
});
