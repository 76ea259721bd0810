// The harness and the real parts work, without the module: provider,
// client_credentials JWT access tokens, echo upstream behind a plain nginx
// (and its reload), nginx -t errors, a hanging server that really hangs, an
// https provider with its own CA, key rotation on restart, forged tokens,
// redis-server.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import {
  startProvider, startEcho, startNginx, startHangingServer, startRedis, nginxTestConfig,
  makeKeys, http, headerValues, decodeJwt, stopAll,
} from './lib/harness.mjs';

after(stopAll);

const provider = await startProvider();

test('client_credentials grant gives a JWT access token the JWKS verifies', async () => {
  const meta = await provider.discovery();
  assert.equal(meta.issuer, provider.issuer);
  assert.match(meta.jwks_uri, /^http:\/\/127\.0\.0\.1:\d+\//);

  const at = await provider.token({ scope: 'api:read api:write', resource: 'urn:gateway:api' });
  const header = decodeProtectedHeader(at);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, 'rs1');

  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload } = await jwtVerify(at, jwks, {
    issuer: provider.issuer, audience: 'urn:gateway:api', typ: 'at+jwt',
  });
  assert.equal(payload.client_id, 'api-client');
  assert.equal(payload.sub, 'api-client');
  assert.equal(payload.scope, 'api:read api:write');
  assert.ok(payload.exp > payload.iat);
  assert.equal(payload.email, 'api-client@example.test');
  assert.deepEqual(payload['http://lifen.fr/userInfo'].roles, ['doctor', 'admin']);
  assert.equal(typeof payload['http://lifen.fr/userInfo'].uuid, 'string');
  assert.equal(typeof payload['http://lifen.fr/userInfo'].currentWorkspaceId, 'string');
});

test('token options: ES256 resource, scope subset, extra claims, opaque, unknown resource', async () => {
  const es = await provider.token({ resource: 'urn:gateway:es256', scope: 'api:read' });
  const { header, payload } = decodeJwt(es);
  assert.equal(header.alg, 'ES256');
  assert.equal(header.kid, 'es1');
  assert.equal(payload.scope, 'api:read');
  assert.equal(payload.aud, 'urn:gateway:es256');

  const extra = decodeJwt(await provider.token({ claims: { tenant: 't1', iss: 'evil' } })).payload;
  assert.equal(extra.tenant, 't1');
  assert.equal(extra.iss, provider.issuer, 'standard claims win over extra ones');

  const opaque = await provider.token({ resource: 'urn:gateway:opaque' });
  assert.doesNotMatch(opaque, /\./);

  const bad = await provider.tokenResponse({ resource: 'urn:nope' });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /invalid_target/);
});

test('forged tokens: provider keys verify them, alg none and HS256 are built', async () => {
  const jwks = createLocalJWKSet(provider.publicJwks);
  const expired = provider.sign({}, provider.payload({ exp: Math.floor(Date.now() / 1000) - 60 }));
  await assert.rejects(jwtVerify(expired, jwks), /"exp" claim timestamp check failed/);
  const es = provider.sign({ alg: 'ES256' }, provider.payload({ aud: 'urn:other' }));
  const { payload, protectedHeader } = await jwtVerify(es, jwks, { issuer: provider.issuer });
  assert.equal(protectedHeader.kid, 'es1');
  assert.equal(payload.aud, 'urn:other');

  const none = provider.sign({ alg: 'none', kid: undefined }, provider.payload(), null);
  assert.match(none, /^[\w-]+\.[\w-]+\.$/);
  assert.deepEqual(decodeJwt(none).header, { alg: 'none', typ: 'at+jwt' });
  const hs = provider.sign({ alg: 'HS256' }, provider.payload(), JSON.stringify(provider.publicJwks.keys[0]));
  assert.equal(decodeJwt(hs).header.alg, 'HS256');
  assert.equal(hs.split('.')[2].length, 43);
});

test('plain nginx proxies to the echo upstream; X_User and duplicates arrive as sent', async () => {
  const echo = await startEcho();
  const nginx = await startNginx({
    module: false,
    http: `
      server {
        listen 127.0.0.1:{{PORT}};
        underscores_in_headers on;
        location / { proxy_pass http://{{ECHO}}; }
      }`,
    vars: { ECHO: echo.addr },
  });
  const r = await http(nginx.url('/hello?x=1'), {
    headers: [['X_User', 'alice'], ['X-Dup', 'one'], ['X-Dup', 'two']],
  });
  assert.equal(r.status, 200);
  const seen = r.json();
  assert.equal(seen.url, '/hello?x=1');
  assert.deepEqual(headerValues(seen.headers, 'X_User'), ['alice']);
  assert.ok(seen.headers.some(([k]) => k === 'X_User'), 'header name kept verbatim');
  assert.deepEqual(headerValues(seen.headers, 'x-dup'), ['one', 'two']);
  assert.equal(echo.last().url, '/hello?x=1');
  assert.match(nginx.errorLog(), /\[debug\]/, 'error.log is at debug level');

  const mark = nginx.mark();
  const before = nginx.workers();
  await nginx.reload();
  assert.notDeepEqual(nginx.workers(), before);
  assert.match(nginx.errorLog(mark), /reconfiguring/);
  assert.equal((await http(nginx.url('/'))).status, 200);

  const code = await nginx.stop();
  assert.equal(code.code, 0);
});

test('nginx -t reports a broken config with file and line', async () => {
  const good = await nginxTestConfig({ module: false, http: 'server { listen 127.0.0.1:{{PORT}}; }' });
  assert.ok(good.ok, good.stderr);
  const bad = await nginxTestConfig({ module: false, http: 'server {\n  listen 127.0.0.1:{{PORT}};\n  no_such_directive on;\n}' });
  assert.equal(bad.ok, false);
  assert.match(bad.stderr, /unknown directive "no_such_directive" in \S+nginx\.conf:\d+/);
});

test('the hanging server accepts and never answers', async () => {
  const hang = await startHangingServer();
  const t0 = Date.now();
  await assert.rejects(http(hang.url('/'), { timeout: 300 }), { code: 'ETIMEDOUT' });
  const waited = Date.now() - t0;
  assert.ok(waited >= 290 && waited < 2000, `waited ${waited} ms`);
  assert.equal(hang.accepted, 1);
});

test('https provider with its own CA; restart with new keys (rotation)', async () => {
  const op = await startProvider({ tls: true });
  assert.match(op.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
  await assert.rejects(http(`${op.issuer}/.well-known/openid-configuration`), /self-signed|unable to verify|certificate/);
  const meta = await op.discovery();                // uses the CA
  assert.equal(meta.issuer, op.issuer);
  const r = await http(meta.jwks_uri, { ca: op.ca });
  assert.deepEqual(r.json().keys.map((k) => k.kid).sort(), ['es1', 'rs1']);

  const t1 = await op.token();
  assert.equal(decodeJwt(t1).header.kid, 'rs1');

  const port = op.port;
  await op.restart({ keys: await makeKeys({ ec: false, kidPrefix: 'next-' }) });
  assert.equal(op.port, port);
  const r2 = await http(meta.jwks_uri, { ca: op.ca });
  assert.deepEqual(r2.json().keys.map((k) => k.kid), ['next-rs1']);
  assert.equal(decodeJwt(await op.token()).header.kid, 'next-rs1');
});

test('redis-server on a port and a unix socket', async () => {
  const redis = await startRedis({ unixSocket: true });
  assert.equal((await redis.cli('ping')).stdout.trim(), 'PONG');
  const viaSocket = await redis.cli('-s', redis.socket, 'ping');
  assert.equal(viaSocket.stdout.trim(), 'PONG');
});
