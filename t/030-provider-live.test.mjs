// The real oidc-provider changing under a running gateway: key rotation,
// and a provider that hangs while the gateway already has what it needs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startProvider, startEcho, startNginx, startHangingServer, stopAll, http,
  makeKeys, decodeJwt,
} from './lib/harness.mjs';

let op, echo, ng;

before(async () => {
  op = await startProvider({ keys: await makeKeys({ rsa: true, ec: false, kidPrefix: 'old-' }) });
  echo = await startEcho();
  ng = await startNginx({
    http: `
    oidc_provider live {
        issuer ${op.issuer};
        allow_insecure_http on;
        audience urn:gateway:api;
        jwks_refetch_interval 1s;
        read_timeout 4s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc live;
            auth_oidc_token_cache off;
            auth_oidc_header X-User $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }
        location /open {
            proxy_pass http://${echo.addr};
        }
    }`,
  });
});

after(stopAll);

const get = (path, token, timeout = 8000) => http(ng.url(path), {
  headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout,
});

test('key rotation at the provider is picked up without reloading nginx', async () => {
  const before = await op.token();
  assert.equal(decodeJwt(before).header.kid, 'old-rs1');
  assert.equal((await get('/', before)).status, 200);

  // the provider restarts with a new key only, as after a rotation
  await op.restart({ keys: await makeKeys({ rsa: true, ec: false, kidPrefix: 'new-' }) });
  const after = await op.token();
  assert.equal(decodeJwt(after).header.kid, 'new-rs1');

  const mark = ng.mark();
  const r = await get('/', after);
  assert.equal(r.status, 200, r.body);
  assert.match(ng.errorLog(mark), /oidc: .*(refetch|kid)/i);

  // the old key is gone from the provider's set: its tokens no longer pass
  // once the gateway has the new set (the verified-token cache is off here)
  assert.equal((await get('/', before)).status, 401);
});

test('a hanging provider does not delay requests that do not need it', async () => {
  const known = await op.token();
  assert.equal((await get('/', known)).status, 200);
  const sub = decodeJwt(known).payload.sub;

  // the provider now accepts connections and never answers
  await op.stop();
  const hang = await startHangingServer({ port: op.port });

  // past jwks_refetch_interval (1s) since the rotation test's refetch
  await new Promise((r) => setTimeout(r, 1200));

  // this request names a kid nobody knows: it waits for a JWKS refetch that
  // hangs until read_timeout
  const order = [];
  const stuck = get('/', op.sign({ kid: 'unknown-kid' }, op.payload()), 20000)
    .then((r) => { order.push('stuck'); return { r }; });
  for (let i = 0; i < 250 && hang.accepted === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(hang.accepted > 0, 'the gateway never called the provider');

  // meanwhile: a valid token with a known key, and an unprotected location,
  // are answered while the refetch is still hanging
  const fresh = op.sign({ kid: decodeJwt(known).header.kid }, op.payload({ sub }));
  const ok = await get('/', fresh);
  order.push('known-key');
  assert.equal(ok.status, 200, ok.body);
  const open = await get('/open');
  order.push('open');
  assert.equal(open.status, 200);
  assert.equal(hang.open > 0, true, 'the refetch should still be hanging');

  // the refetch failed: the kid may be a new key we cannot fetch, so this
  // is the provider's failure (503), not the token's (401)
  const { r } = await stuck;
  assert.equal(r.status, 503);
  assert.deepEqual(order, ['known-key', 'open', 'stuck']);
});
