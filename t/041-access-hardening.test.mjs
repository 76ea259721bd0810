// The access phase against hostile clients, beyond t/010: protected headers
// under "satisfy any" and in locations with "auth_oidc off", the
// verified-token cache and "max_token_age", control characters from a token
// in the error log. The real oidc-provider issues the keys.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startProvider, startEcho, startNginx, stopAll, http, sign, makeKeys, makePrefix,
  headerValues,
} from './lib/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let op, echo, ng;

before(async () => {
  op = await startProvider({ keys: await makeKeys({ rsa: true, ec: false }) });
  echo = await startEcho();
  const root = makePrefix('root');
  ng = await startNginx({
    http: `
    underscores_in_headers on;

    oidc_provider p {
        issuer ${op.issuer};
        allow_insecure_http on;
        audience urn:gateway:api;
    }

    oidc_provider young {
        issuer ${op.issuer};
        allow_insecure_http on;
        audience urn:gateway:api;
        leeway 0;
        max_token_age 3s;
    }

    server {
        listen 127.0.0.1:{{PORT}};
        root ${root};

        auth_oidc_header X-User-Sub $oidc_claim_sub;

        location / {
            auth_oidc p;
            proxy_pass http://${echo.addr};
        }

        # a token, or a trusted address
        location /any {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_oidc p;
            proxy_pass http://${echo.addr};
        }

        # refused for scope, let in by address: no identity upstream
        location /any-scope {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_oidc p;
            auth_oidc_require_scope no:such:scope;
            proxy_set_header X-Token $oidc_access_token;
            proxy_set_header X-Claim-Sub $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }

        location /open {
            auth_oidc off;
            proxy_pass http://${echo.addr};
        }

        # checked here, proxied from a named location without auth_oidc
        location /app {
            auth_oidc p;
            try_files /nonexistent @app;
        }

        location @app {
            proxy_pass http://${echo.addr};
        }

        location /young {
            auth_oidc young;
            proxy_pass http://${echo.addr};
        }
    }
`,
  });
});

after(stopAll);

const forged = [
  ['X-User-Sub', 'forged'],
  ['x-user-sub', 'forged-lower'],
  ['X_User_Sub', 'forged-underscore'],
  ['x_uSER-sub', 'forged-mixed'],
];

// the values of X-User-Sub (in any spelling) that reached the upstream
function subs(r) {
  assert.equal(r.status, 200, r.body);
  return r.json().headers
    .filter(([n]) => n.toLowerCase().replace(/_/g, '-') === 'x-user-sub')
    .map(([, v]) => v);
}

test('satisfy any: forged identity headers are removed when the address lets the request in', async () => {
  // no token: auth_oidc says 401, "allow 127.0.0.1" says yes
  assert.deepEqual(subs(await http(ng.url('/any'), { headers: forged })), []);
  // a bad token: the same
  const bad = await http(ng.url('/any'), { headers: [['Authorization', 'Bearer x.y.z'], ...forged] });
  assert.deepEqual(subs(bad), []);
  // a good token: only the verified value
  const token = await op.token();
  const good = await http(ng.url('/any'), { headers: [['Authorization', `Bearer ${token}`], ...forged] });
  assert.deepEqual(subs(good), ['api-client']);
});

test('satisfy any: a token refused here leaves no identity in the variables', async () => {
  const token = await op.token();
  const r = await http(ng.url('/any-scope'), { headers: [['Authorization', `Bearer ${token}`]] });
  assert.equal(r.status, 200, r.body);
  const h = r.json().headers;
  assert.deepEqual(headerValues(h, 'X-Token'), []);
  assert.deepEqual(headerValues(h, 'X-Claim-Sub'), []);
  assert.deepEqual(subs(r), []);
});

test('auth_oidc off: forged copies of an inherited auth_oidc_header are removed', async () => {
  assert.deepEqual(subs(await http(ng.url('/open'), { headers: [...forged, ['X-Other', 'kept']] })), []);
  const r = await http(ng.url('/open'), { headers: [['X-Other', 'kept']] });
  assert.deepEqual(headerValues(r.json().headers, 'X-Other'), ['kept']);
});

test('verified headers survive an internal redirect to a location without auth_oidc', async () => {
  const token = await op.token();
  const r = await http(ng.url('/app'), { headers: [['Authorization', `Bearer ${token}`], ...forged] });
  assert.deepEqual(subs(r), ['api-client']);
  assert.equal((await http(ng.url('/app'), { headers: forged })).status, 401);
});

test('the verified-token cache never outlives max_token_age', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = op.sign({}, op.payload({ iat: now - 1, exp: now + 300 }));
  const auth = [['Authorization', `Bearer ${token}`]];
  assert.equal((await http(ng.url('/young'), { headers: auth })).status, 200);
  const mark = ng.mark();
  assert.equal((await http(ng.url('/young'), { headers: auth })).status, 200);
  assert.match(ng.errorLog(mark), /bearer token found in cache/);
  // iat + 3s has passed: the token is too old, cached or not
  await sleep(Math.max(0, (now + 3) * 1000 - Date.now()) + 1200);
  const late = await http(ng.url('/young'), { headers: auth });
  assert.equal(late.status, 401, 'a token older than max_token_age was served from the cache');
  assert.match(ng.errorLog(mark), /invalid bearer token: token too old/);
});

test('a cached verdict is not shared with a provider of a stricter policy', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = op.sign({}, op.payload({ iat: now - 60, exp: now + 300 }));
  const auth = [['Authorization', `Bearer ${token}`]];
  assert.equal((await http(ng.url('/'), { headers: auth })).status, 200);
  assert.equal((await http(ng.url('/young'), { headers: auth })).status, 401);
});

test('control characters from a token never reach the error log', async () => {
  const k = op.keys.keys[0];
  const tokens = [
    // an invalid JSON header: the parser quotes the bytes it stopped at
    `${Buffer.from('{"alg":"RS256",\u001b[2J\u0007}').toString('base64url')}.e30.c2ln`,
    // an invalid JSON payload
    `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"sub":"a",\u0001\u001b[31m}').toString('base64url')}.c2ln`,
    // an unknown kid with control characters
    sign({ alg: 'RS256', typ: 'at+jwt', kid: 'k\u001b[2J\r\nfake line\u0007' }, op.payload(), k),
  ];
  const mark = ng.mark();
  for (const t of tokens) {
    assert.equal((await http(ng.url('/'), { headers: { Authorization: `Bearer ${t}` } })).status, 401);
  }
  const lines = ng.errorLog(mark).split('\n').filter((l) => l.includes('oidc:'));
  assert.ok(lines.some((l) => /no key with kid/.test(l)), lines.join('\n'));
  const bad = lines.filter((l) => /[\u0000-\u0008\u000b-\u001f\u007f]/.test(l));
  assert.deepEqual(bad, []);
  assert.doesNotMatch(ng.errorLog(mark), /^fake line/m);
});
