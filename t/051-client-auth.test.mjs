// Client authentication at the provider's token endpoint (client_secret_basic,
// client_secret_post, private_key_jwt, none) and the userinfo call of a
// login, with real Chromium logins against the real oidc-provider; then what
// nginx -t refuses.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import nodeHttp from 'node:http';
import {
  startProvider, startEcho, startNginx, stopAll, http, freePort, CLIENTS, headerValues,
  makePrefix, nginxTestConfig,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, echo, ng, port, origin, keyDir, uiSrv, uiOrigin;
let uiMode = null;       // how the userinfo proxy answers (null: the provider's, shadowed)

const hdr = (q, name) => headerValues(q.headers, name)[0];

// Our private keys, in the PEM forms the directive reads, and their public JWKs.
function makeKey(name, type, opts, exportAs) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync(type, opts);
  const file = path.join(keyDir, `${name}.pem`);
  fs.writeFileSync(file, privateKey.export({ format: 'pem', ...exportAs }));
  return { file, jwk: publicKey.export({ format: 'jwk' }) };
}

// the blocks of the gateway: one per method, and the failure cases
const BLOCKS = {
  basic: { client: 'gateway', auth: `client_secret ${CLIENTS.gateway};` },
  post: { client: 'gateway-post', auth: `client_secret ${CLIENTS['gateway-post']};\n        token_endpoint_auth client_secret_post;` },
  public: { client: 'gateway-public', auth: '' },
  jwtrs: { client: 'gateway-jwt', auth: 'client_private_key_file {{KEYS}}/rs.pem kid=gw-rs;' },
  jwtes: { client: 'gateway-jwt', auth: 'client_private_key_file {{KEYS}}/es.pem kid=gw-es;\n        token_endpoint_auth private_key_jwt;' },
  jwted: { client: 'gateway-jwt', auth: 'client_private_key_file {{KEYS}}/ed.pem kid=gw-ed;' },
  jwtunknown: { client: 'gateway-jwt', auth: 'client_private_key_file {{KEYS}}/unknown.pem kid=gw-rs;' },
  postwrong: { client: 'gateway-post', auth: 'client_secret wrong-secret-0123456789abcdef;\n        token_endpoint_auth client_secret_post;' },
  ui: { client: 'gateway', auth: `client_secret ${CLIENTS.gateway};\n        userinfo on;`, proxy: true },
};

before(async () => {
  keyDir = path.join(makePrefix('keys'), 'keys');
  fs.mkdirSync(keyDir, { recursive: true });
  const rs = makeKey('rs', 'rsa', { modulusLength: 2048 }, { type: 'pkcs8' });
  const es = makeKey('es', 'ec', { namedCurve: 'P-256' }, { type: 'sec1' });   // traditional
  const ed = makeKey('ed', 'ed25519', {}, { type: 'pkcs8' });
  makeKey('unknown', 'rsa', { modulusLength: 2048 }, { type: 'pkcs1' });       // traditional
  const clientJwks = {
    keys: [
      { ...rs.jwk, kid: 'gw-rs', use: 'sig' },
      { ...es.jwk, kid: 'gw-es', use: 'sig' },
      { ...ed.jwk, kid: 'gw-ed', use: 'sig' },
    ],
  };

  port = await freePort();
  origin = `http://127.0.0.1:${port}`;

  // in front of the provider for the "ui" block: discovery names this
  // server's /userinfo, which answers as uiMode says
  uiSrv = nodeHttp.createServer((req, res) => userinfoProxy(req, res).catch((e) => {
    res.writeHead(500); res.end(String(e));
  }));
  await new Promise((r) => uiSrv.listen(0, '127.0.0.1', r));
  uiOrigin = `http://127.0.0.1:${uiSrv.address().port}`;

  op = await startProvider({
    rpOrigin: origin,
    redirectUris: Object.keys(BLOCKS).map((b) => `${origin}/${b}/oidc_callback`),
    env: { OP_CLIENT_JWKS: JSON.stringify(clientJwks) },
  });
  echo = await startEcho();

  let conf = '';
  let locations = '';
  for (const [name, b] of Object.entries(BLOCKS)) {
    conf += `
    oidc_provider ${name} {
        issuer ${op.issuer};
        ${b.proxy ? `config_url ${uiOrigin}/.well-known/openid-configuration;` : ''}
        client_id ${b.client};
        ${b.auth.replaceAll('{{KEYS}}', keyDir)}
        redirect_uri /${name}/oidc_callback;
        cookie_name ${name.toUpperCase()};
        scope openid email profile;
        allow_insecure_http on;
    }`;
    locations += `
        location /${name}/ {
            auth_oidc ${name};
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Email $oidc_claim_email;
            auth_oidc_header X-Iss $oidc_claim_iss;
            proxy_pass http://${echo.addr};
        }`;
  }
  ng = await startNginx({
    vars: { PORT: port },
    http: `${conf}
    server {
        listen 127.0.0.1:{{PORT}};${locations}
    }`,
  });
});

after(async () => { await browser?.close(); uiSrv?.close(); await stopAll(); });

async function userinfoProxy(req, res) {
  if (req.url.startsWith('/.well-known/')) {
    const d = await op.discovery();
    d.userinfo_endpoint = `${uiOrigin}/userinfo`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(d));
    return;
  }
  if (uiMode === 'fail') {
    res.writeHead(500, { 'Content-Type': 'application/json' });
    res.end('{"error":"server_error"}');
    return;
  }
  if (uiMode === 'jwt') {
    res.writeHead(200, { 'Content-Type': 'application/jwt' });
    res.end('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');
    return;
  }
  const d = await op.discovery();
  const r = await http(d.userinfo_endpoint, { headers: { Authorization: req.headers.authorization } });
  let body = r.body;
  if (r.status === 200) {
    const u = JSON.parse(body);
    // a member the ID token has too: the ID token's must win
    u.iss = 'https://shadow.example';
    if (uiMode === 'lie') u.sub = 'admin';
    body = JSON.stringify(u);
  }
  res.writeHead(r.status, { 'Content-Type': 'application/json' });
  res.end(body);
}

// A Chromium login through block `name`: the callback's status and body,
// where the browser ends, and its cookies. One browser for the file (a launch
// costs more than a login); no cookie survives from one login to the next.
let browser;
async function login(name, user) {
  browser ||= await launchBrowser();
  const { page, context } = browser;
  await context.clearCookies();
  // the whole login, not one action: a generous bound on a loaded machine
  const cb = page.waitForResponse((r) => new URL(r.url()).pathname === `/${name}/oidc_callback`,
    { timeout: 60000 });
  await page.goto(`${origin}/${name}/page?x=1`);
  assert.match(page.url(), new RegExp(`^${op.issuer}/interaction/`));
  await devLogin(page, { login: user, until: (u) => u.origin === origin });
  const resp = await cb;
  const body = resp.status() < 300 || resp.status() >= 400 ? await resp.text().catch(() => '') : '';
  const cookies = await browser.cookies(origin);
  return {
    status: resp.status(), body, url: page.url(),
    session: cookies.find((c) => c.name === `__Host-${name.toUpperCase()}`),
  };
}

const oidcErrors = (mark) => ng.errorLog(mark).split('\n').filter((l) => /\[(error|crit|alert|emerg)\].*oidc:/.test(l));

for (const [name, client, auth, alg] of [
  ['basic', 'gateway', 'client_secret_basic'],
  ['post', 'gateway-post', 'client_secret_post'],
  ['public', 'gateway-public', 'none'],
  ['jwtrs', 'gateway-jwt', 'private_key_jwt', 'RS256'],
  ['jwtes', 'gateway-jwt', 'private_key_jwt', 'ES256'],
  ['jwted', 'gateway-jwt', 'private_key_jwt', 'EdDSA'],
]) {
  test(`login with ${auth}${alg ? ` (${alg})` : ''}: the provider saw that method`, async () => {
    const before = op.events('grant.success').length;
    const mark = ng.mark();
    const r = await login(name, `user-${name}`);
    assert.equal(r.status, 302, r.body);
    assert.equal(r.url, `${origin}/${name}/page?x=1`);
    assert.ok(r.session, 'session cookie');
    const q = echo.requests.filter((e) => e.url === `/${name}/page?x=1`).at(-1);
    assert.equal(hdr(q, 'x-user'), `user-${name}`);
    // userinfo off: scope claims stay in userinfo, never fetched
    assert.equal(hdr(q, 'x-email'), undefined);
    // the provider's event line may lag its answer: waited for, then counted
    const g = await op.waitEvent('grant.success', () => true, { skip: before });
    assert.ok(g, 'the code was exchanged');
    assert.equal(op.events('grant.success').length, before + 1);
    assert.equal(g.client, client);
    assert.equal(g.grant_type, 'authorization_code');
    assert.equal(g.auth, auth);
    assert.equal(g.assertion_alg, alg);
    assert.deepEqual(oidcErrors(mark), []);
    assert.doesNotMatch(ng.errorLog(mark), /PRIVATE KEY|eyJ/, 'no key or token in the log');
  });
}

// A pending login of block `name` started with plain HTTP, and its callback
// fed a made-up code: the provider checks the client before the code, so
// the answer says whether the client authentication was accepted.
async function callbackWithBogusCode(name) {
  const start = await http(`${origin}/${name}/x`, { headers: { Accept: 'text/html' } });
  assert.equal(start.status, 302);
  const state = new URL(start.headers.location).searchParams.get('state');
  const cookie = start.headers['set-cookie'][0].split(';')[0];
  const mark = ng.mark();
  const r = await http(`${origin}/${name}/oidc_callback?code=${'c'.repeat(43)}&state=${state}`,
    { headers: { Accept: 'text/html', Cookie: cookie } });
  const session = (r.headers['set-cookie'] || []).filter((c) => c.startsWith(`__Host-${name.toUpperCase()}=`));
  return { ...r, session, errors: oidcErrors(mark) };
}

test('a refused client authentication fails the login: error page, one log line, no session', async () => {
  // controls: the right key and the right secret pass, the code does not
  for (const name of ['jwtrs', 'post']) {
    const r = await callbackWithBogusCode(name);
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /invalid_grant/, name);
  }
  // a private key the provider does not know, a wrong client_secret_post
  for (const name of ['jwtunknown', 'postwrong']) {
    const before = op.events('grant.error').length;
    const r = await callbackWithBogusCode(name);
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /invalid_client/, name);
    assert.deepEqual(r.session, [], name);
    assert.equal(r.errors.length, 1, r.errors.join('\n'));
    assert.match(r.errors[0], /token endpoint answered 401/);
    assert.ok(await op.waitEvent('grant.error', (e) => e.error === 'invalid_client', { skip: before }), name);
  }
});

test('userinfo on: its members reach the upstream, the ID token\'s claims win', async () => {
  uiMode = null;
  const r = await login('ui', 'ulrich');
  assert.equal(r.status, 302, r.body);
  assert.ok(r.session);
  const q = echo.requests.filter((e) => e.url === '/ui/page?x=1').at(-1);
  assert.equal(hdr(q, 'x-user'), 'ulrich');
  assert.equal(hdr(q, 'x-email'), 'ulrich@example.test');
  assert.equal(hdr(q, 'x-iss'), op.issuer);

  // later requests of the session see the same merged claims
  const again = await http(`${origin}/ui/again`, {
    headers: { Cookie: `${r.session.name}=${r.session.value}`, Accept: 'application/json' },
  });
  assert.equal(again.status, 200);
  assert.equal(hdr(echo.last(), 'x-email'), 'ulrich@example.test');
  assert.equal(hdr(echo.last(), 'x-iss'), op.issuer);
});

for (const [mode, log] of [
  ['lie', /provider "ui": invalid userinfo: its "sub" is not the id token's/],
  ['fail', /provider "ui": userinfo endpoint answered 500/],
  ['jwt', /provider "ui": invalid userinfo: a signed or encrypted \(application\/jwt\) answer/],
]) {
  test(`userinfo ${mode}: the login fails with 502, one log line, no session`, async () => {
    uiMode = mode;
    try {
      const mark = ng.mark();
      const r = await login('ui', 'mallory');
      assert.equal(r.status, 502, r.body);
      assert.match(r.body, /could not be completed/);
      assert.equal(r.session, undefined);
      const lines = oidcErrors(mark);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0], log);
    } finally {
      uiMode = null;
    }
  });
}

/* ---------------------------------------------------------------- */
/* nginx -t                                                          */

const block = (body) => `
    oidc_provider idp {
        issuer http://127.0.0.1:1;
        allow_insecure_http on;
        client_id gw;
${body}
    }
`;

const lineOf = (conf, needle) => conf.split('\n').findIndex((l) => l.includes(needle)) + 1;

async function refused(body, needle, message) {
  const r = await nginxTestConfig(block(body));
  assert.equal(r.ok, false, `accepted:\n${r.conf}`);
  assert.match(r.stderr, message);
  assert.match(r.stderr, new RegExp(`nginx\\.conf:${lineOf(r.conf, needle)}\\b`),
    `line of "${needle}" not in:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /BEGIN|PRIVATE KEY-----/);
}

test('nginx -t accepts each method with what it needs', async () => {
  for (const body of [
    '        client_secret s3cret;',
    '        client_secret s3cret; token_endpoint_auth client_secret_post;',
    `        client_private_key_file ${keyDir}/rs.pem kid=k1 alg=PS256;`,
    `        client_private_key_file ${keyDir}/unknown.pem;`,
    `        token_endpoint_auth private_key_jwt; client_private_key_file ${keyDir}/es.pem alg=ES256;`,
    `        client_private_key_file ${keyDir}/ed.pem;`,
    '        token_endpoint_auth none;',
    '',
  ]) {
    const r = await nginxTestConfig(block(body));
    assert.equal(r.ok, true, `${body}\n${r.stderr}`);
  }
});

test('nginx -t refuses private_key_jwt without a key, and client_secret_* without a secret', async () => {
  await refused('        token_endpoint_auth private_key_jwt;', 'token_endpoint_auth',
    /"token_endpoint_auth private_key_jwt" needs "client_private_key_file"/);
  await refused('        token_endpoint_auth client_secret_post;', 'token_endpoint_auth',
    /"token_endpoint_auth client_secret_post" needs "client_secret" or "client_secret_file"/);
  await refused('        token_endpoint_auth client_secret_basic;', 'token_endpoint_auth',
    /"token_endpoint_auth client_secret_basic" needs/);
  await refused('        token_endpoint_auth client_secret_jwt;', 'token_endpoint_auth',
    /unknown method "client_secret_jwt"/);
});

test('nginx -t refuses an unreadable, non-key or unusable key file, and an alg that does not fit', async () => {
  fs.writeFileSync(path.join(keyDir, 'text.pem'), 'not a key\n');
  const pub = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  fs.writeFileSync(path.join(keyDir, 'public.pem'), pub.export({ format: 'pem', type: 'spki' }));
  const small = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  fs.writeFileSync(path.join(keyDir, 'small.pem'), small.export({ format: 'pem', type: 'pkcs8' }));
  const k1 = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
  fs.writeFileSync(path.join(keyDir, 'k1.pem'), k1.export({ format: 'pem', type: 'pkcs8' }));
  const enc = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  fs.writeFileSync(path.join(keyDir, 'enc.pem'), enc.export({
    format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw',
  }));

  const cases = [
    [`${keyDir}/missing.pem`, /open\(\) ".*missing\.pem" failed/],
    [`${keyDir}/text.pem`, /no PEM private key/],
    [`${keyDir}/public.pem`, /no PEM private key/],
    [`${keyDir}/enc.pem`, /no PEM private key/],
    [`${keyDir}/small.pem`, /unsupported signing key/],
    [`${keyDir}/k1.pem`, /unsupported signing key/],
    [`${keyDir}/es.pem alg=RS256`, /algorithm does not fit the key/],
    [`${keyDir}/rs.pem alg=ES256`, /algorithm does not fit the key/],
    [`${keyDir}/ed.pem alg=ES256`, /algorithm does not fit the key/],
    [`${keyDir}/rs.pem alg=HS256`, /signing algorithm not supported/],
    [`${keyDir}/rs.pem alg=none`, /unknown algorithm "alg=none"/],
    [`${keyDir}/rs.pem size=1`, /invalid or duplicate parameter "size=1"/],
  ];
  for (const [args, message] of cases) {
    await refused(`        token_endpoint_auth private_key_jwt;\n        client_private_key_file ${args};`,
      'client_private_key_file', message);
  }
});
