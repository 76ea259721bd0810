// Bearer JWT access tokens end to end: the real oidc-provider issues them,
// Debian's nginx with the module verifies them, an echo upstream shows what
// reached it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startProvider, startEcho, startNginx, stopAll, http, sign, decodeJwt,
  makeKeys, headerValues,
} from './lib/harness.mjs';

let op, echo, ng;

const http_conf = (op, echo) => `
    underscores_in_headers on;

    oidc_provider test {
        issuer ${op.issuer};
        allow_insecure_http on;
        audience urn:gateway:api;
        audience urn:gateway:es256;
        jwks_refetch_interval 1s;
        max_token_size 4k;
    }

    auth_oidc_claim_set $lifen_uuid "http://lifen.fr/userInfo" uuid;
    auth_oidc_claim_set $lifen_ws "http://lifen.fr/userInfo" currentWorkspaceId;
    auth_oidc_claim_set $lifen_roles "http://lifen.fr/userInfo" roles;
    auth_oidc_claim_set $lifen_info "http://lifen.fr/userInfo";

    server {
        listen 127.0.0.1:{{PORT}};

        auth_oidc test;
        auth_oidc_header X-User-Sub $oidc_claim_sub;
        auth_oidc_header X-User-Email $oidc_claim_email;
        auth_oidc_header X-Lifen-Uuid $lifen_uuid;
        auth_oidc_header X-Lifen-Workspace $lifen_ws;
        auth_oidc_header X-Lifen-Roles $lifen_roles;
        auth_oidc_header X-Lifen-Info $lifen_info;

        location / {
            proxy_set_header X-Token $oidc_access_token;
            proxy_pass http://${echo.addr};
        }

        location /admin {
            auth_oidc_require_scope api:admin;
            proxy_pass http://${echo.addr};
        }

        location /read {
            auth_oidc_require_scope api:read;
            proxy_pass http://${echo.addr};
        }

        location /workspace {
            auth_oidc_require $lifen_ws;
            proxy_pass http://${echo.addr};
        }

        location /open {
            auth_oidc off;
            proxy_pass http://${echo.addr};
        }
    }
`;

before(async () => {
  op = await startProvider({ keys: await makeKeys({ rsa: true, ec: true }) });
  echo = await startEcho();
  ng = await startNginx({ http: http_conf(op, echo) });
});

after(stopAll);

const get = (path, token, headers = {}) => http(ng.url(path), {
  headers: token === undefined ? headers : { Authorization: `Bearer ${token}`, ...headers },
});

const challenge = (r) => r.headers['www-authenticate'];

test('a token from the provider reaches the upstream with its claims', async () => {
  const token = await op.token();
  const r = await get('/api/Patient?x=1', token);
  assert.equal(r.status, 200, r.body);
  const seen = r.json();
  const h = (n) => headerValues(seen.headers, n);
  const claims = decodeJwt(token).payload;
  assert.deepEqual(h('X-User-Sub'), [claims.sub]);
  assert.deepEqual(h('X-User-Email'), ['api-client@example.test']);
  assert.deepEqual(h('X-Lifen-Uuid'), ['6f1c2a0e-4b7d-4e8a-9c3b-2d5e7f9a1b3c']);
  assert.deepEqual(h('X-Lifen-Workspace'), ['ws-0042']);
  assert.deepEqual(h('X-Lifen-Roles'), ['doctor,admin']);
  assert.deepEqual(JSON.parse(h('X-Lifen-Info')[0]), claims['http://lifen.fr/userInfo']);
  assert.deepEqual(h('X-Token'), [token]);
});

test('an ES256 token is verified with the EC key', async () => {
  const token = await op.token({ resource: 'urn:gateway:es256' });
  assert.equal(decodeJwt(token).header.alg, 'ES256');
  const r = await get('/', token);
  assert.equal(r.status, 200, r.body);
});

test('a token seen again is served from the verified-token cache', async () => {
  const token = await op.token();
  assert.equal((await get('/', token)).status, 200);
  const mark = ng.mark();
  assert.equal((await get('/', token)).status, 200);
  assert.match(ng.errorLog(mark), /bearer token found in cache/);
});

test('no token: 401 with a Bearer challenge and no error code', async () => {
  const r = await get('/');
  assert.equal(r.status, 401);
  assert.equal(challenge(r), 'Bearer realm="test"');
  const basic = await get('/', undefined, { Authorization: 'Basic YTpi' });
  assert.equal(basic.status, 401);
  assert.equal(challenge(basic), 'Bearer realm="test"');
});

test('unprotected location needs no token', async () => {
  assert.equal((await get('/open')).status, 200);
});

test('malformed credentials: 400 invalid_request', async () => {
  const r = await get('/', undefined, { Authorization: 'Bearer a"b' });
  assert.equal(r.status, 400);
});

const refused = [
  ['garbage', () => 'not-a-jwt'],
  ['expired', () => op.sign({}, op.payload({ exp: Math.floor(Date.now() / 1000) - 3600 }))],
  ['not yet valid', () => op.sign({}, op.payload({ nbf: Math.floor(Date.now() / 1000) + 3600 }))],
  ['issued in the future', () => op.sign({}, op.payload({ iat: Math.floor(Date.now() / 1000) + 3600 }))],
  ['without exp', () => op.sign({}, op.payload({ exp: undefined }))],
  ['wrong issuer', () => op.sign({}, op.payload({ iss: 'https://evil.example' }))],
  ['wrong audience', () => op.sign({}, op.payload({ aud: 'urn:other:api' }))],
  ['no audience', () => op.sign({}, op.payload({ aud: undefined }))],
  ['alg none', () => sign({ alg: 'none', typ: 'at+jwt' }, op.payload(), null)],
  ['alg none with a kid', () => `${op.sign({ alg: 'none', kid: 'rs1' }, op.payload(), null)}`],
  ['HS256 signed with the provider public key (CVE-2016-10555)', () => {
    const rsa = op.keys.keys.find((k) => k.kty === 'RSA');
    const pem = crypto.createPublicKey({ key: rsa, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' });
    return sign({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid }, op.payload(), pem);
  }],
  ['HS256 with an empty key', () => sign({ alg: 'HS256', typ: 'at+jwt' }, op.payload(), Buffer.alloc(0))],
  ['empty signature', () => op.sign({}, op.payload()).replace(/\.[^.]+$/, '.')],
  ['bad signature', () => {
    const t = op.sign({}, op.payload());
    const i = t.lastIndexOf('.') + 5;
    return t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
  }],
  ['signature of another payload', () => {
    const a = op.sign({}, op.payload()).split('.');
    const b = op.sign({}, op.payload({ sub: 'admin' })).split('.');
    return [b[0], b[1], a[2]].join('.');
  }],
  ['RS256 alg on the EC key', () => {
    const ec = op.keys.keys.find((k) => k.kty === 'EC');
    return op.sign({ alg: 'RS256', kid: ec.kid }, op.payload(), op.keys.keys.find((k) => k.kty === 'RSA'));
  }],
  ['unknown kid', () => op.sign({ kid: 'nope' }, op.payload())],
  ['attacker key in jwk header', async () => {
    const evil = (await makeKeys({ rsa: true, ec: false, kidPrefix: 'evil-' })).keys[0];
    const { d, p, q, dp, dq, qi, ...pub } = evil;
    return sign({ alg: 'RS256', typ: 'at+jwt', kid: evil.kid, jwk: pub }, op.payload(), evil);
  }],
  ['attacker key by jku', async () => {
    const evil = (await makeKeys({ rsa: true, ec: false, kidPrefix: 'jku-' })).keys[0];
    return sign({ alg: 'RS256', typ: 'at+jwt', kid: evil.kid, jku: 'http://127.0.0.1:1/jwks' },
      op.payload(), evil);
  }],
  ['crit header', () => op.sign({ crit: ['exp'] }, op.payload())],
  ['duplicate member in the payload', () => {
    const p = JSON.stringify(op.payload()).replace(/^\{/, '{"sub":"admin",');
    return op.sign({}, p);
  }],
  ['JWE (five parts)', () => 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d'],
  ['larger than max_token_size', () => op.sign({}, op.payload({ pad: 'x'.repeat(4000) }))],
];

for (const [name, make] of refused) {
  test(`refused: ${name} → 401 invalid_token`, async () => {
    const token = await make();
    const mark = ng.mark();
    const r = await get('/', token);
    assert.equal(r.status, 401, `${name}: ${r.status} ${r.body}`);
    assert.equal(challenge(r), 'Bearer realm="test", error="invalid_token"');
    // the module's own lines (nginx's debug log prints request headers)
    const log = ng.errorLog(mark).split('\n').filter((l) => l.includes('oidc:')).join('\n');
    assert.match(log, /oidc: .*(invalid bearer token|bytes, more than)/);
    const sig = token.split('.').pop();
    if (sig.length > 8) assert.ok(!log.includes(sig), 'token signature in the error log');
    assert.ok(!log.includes(token), 'token in the error log');
  });
}

test('missing scope: 403 insufficient_scope with the scope required', async () => {
  const token = await op.token();
  const r = await get('/admin', token);
  assert.equal(r.status, 403);
  assert.equal(challenge(r), 'Bearer realm="test", error="insufficient_scope", scope="api:admin"');
  assert.equal((await get('/read', token)).status, 200);
});

test('scope words match whole words only', async () => {
  const token = op.sign({}, op.payload({ scope: 'api:readwrite xapi:read' }));
  assert.equal((await get('/read', token)).status, 403);
});

test('auth_oidc_require: a claim that is present passes, absent gets 403', async () => {
  assert.equal((await get('/workspace', await op.token())).status, 200);
  const r = await get('/workspace', op.sign({}, op.payload()));
  assert.equal(r.status, 403);
  assert.equal(challenge(r), undefined);
});

test('client-sent copies of claim headers never reach the upstream', async () => {
  const token = await op.token();
  const r = await http(ng.url('/'), {
    headers: [
      ['Authorization', `Bearer ${token}`],
      ['X-User-Sub', 'forged'],
      ['x-user-sub', 'forged-lower'],
      ['X_User_Sub', 'forged-underscore'],
      ['x_uSER-sub', 'forged-mixed'],
      ['X-Lifen-Uuid', 'forged'],
      ['X-Other', 'kept'],
    ],
  });
  assert.equal(r.status, 200, r.body);
  const seen = r.json();
  const names = seen.headers.map(([n, v]) => [n.toLowerCase().replace(/_/g, '-'), v]);
  const sub = names.filter(([n]) => n === 'x-user-sub').map(([, v]) => v);
  assert.deepEqual(sub, [decodeJwt(token).payload.sub]);
  assert.deepEqual(names.filter(([n]) => n === 'x-lifen-uuid').map(([, v]) => v),
    ['6f1c2a0e-4b7d-4e8a-9c3b-2d5e7f9a1b3c']);
  assert.deepEqual(names.filter(([n]) => n === 'x-other').map(([, v]) => v), ['kept']);
});

test('a claim with a control character never reaches a header', async () => {
  const token = op.sign({}, op.payload({ sub: 'alice\r\nX-Injected: 1', email: 'a@b\u0001c' }));
  const r = await get('/', token, { 'X-User-Sub': 'forged' });
  assert.equal(r.status, 200, r.body);
  const seen = r.json();
  const h = (n) => headerValues(seen.headers, n);
  assert.deepEqual(h('X-User-Sub'), []);
  assert.deepEqual(h('X-User-Email'), []);
  assert.deepEqual(h('X-Injected'), []);
});
