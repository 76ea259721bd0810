// RFC 7662 introspection of opaque Bearer tokens (auth_oidc_token_check):
// real opaque access tokens from oidc-provider (client credentials grant
// with an opaque resource), the provider's own introspection endpoint, and
// its event log to count the calls the gateway made. Two workers, so that
// the one-call-per-token rule is proven across workers too. Then SMART on
// FHIR with an introspected token (issue 6), and what nginx -t refuses.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  REPO, startProvider, startEcho, startNginx, startHangingServer, stopAll, http, headerValues,
  nginxTestConfig, makePrefix, freePort, CLIENTS,
} from './lib/harness.mjs';

const OPAQUE = 'urn:gateway:opaque';
const SHORT = 'urn:gateway:opaque-short';
const FHIR = 'urn:gateway:fhir-opaque';
const SMART = ['launch/patient', 'patient/Observation.rs', 'patient/Patient.r', 'user/*.cruds'];
const CACHE = 3;           // introspection_cache_time of provider "op", seconds
const NEGATIVE = 2;        // its negative=

let op, echo, ng, hang, closedPort, keyFile;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// the error log without nginx's own debug lines (they show request headers)
const ours = (log) => log.split('\n').filter((l) => !l.includes('[debug]')).join('\n');
const calls = (client) => op.events('introspection').filter((e) => !client || e.client === client);
// the calls once the k-th after the first n is logged: the provider's event
// line may lag its answer (the count is then compared exactly)
async function callsAfter(n, k = 1) {
  assert.ok(await op.waitEvent('introspection', () => true, { skip: n + k - 1 }), `introspection call ${n + k}`);
  return calls();
}

before(async () => {
  // the private_key_jwt client "gateway-jwt" of the provider: our key
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  keyFile = path.join(makePrefix('keys'), 'gw.pem');
  fs.writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const clientJwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'gw-1', use: 'sig' }] };
  op = await startProvider({
    env: { OP_CLIENT_JWKS: JSON.stringify(clientJwks) },
    resources: {
      [SHORT]: { scope: 'api:read api:write', format: 'opaque', ttl: 1 },
      [FHIR]: { scope: SMART.join(' '), format: 'opaque' },
    },
  });
  echo = await startEcho();
  hang = await startHangingServer();
  closedPort = await freePort();

  const block = (name, more) => `
    oidc_provider ${name} {
        issuer ${op.issuer};
        allow_insecure_http on;
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        audience ${OPAQUE};
        audience ${SHORT};
        audience urn:gateway:api;
        connect_timeout 1s;
        read_timeout 1s;
        ${more}
    }`;
  const loc = (p, provider, more = '') => `
        location ${p} {
            auth_oidc ${provider};
            auth_oidc_token_check introspection;
            auth_oidc_header X-Client $oidc_claim_client_id;
            auth_oidc_header X-Scope $oidc_claim_scope;
            auth_oidc_header X-Aud $oidc_claim_aud;
            auth_oidc_header X-Active $oidc_claim_active;
            ${more}
            proxy_pass http://${echo.addr};
            add_header X-Worker $pid always;
        }`;

  ng = await startNginx({
    workers: 2,
    http: `
    ${block('op', `introspection_cache_time ${CACHE}s negative=${NEGATIVE}s;`)}
    ${block('basic', `introspection_client_id introspector-basic;
        introspection_client_secret ${CLIENTS['introspector-basic']};`)}
    ${block('post', `introspection_client_id introspector-post;
        introspection_client_secret ${CLIENTS['introspector-post']};
        introspection_auth client_secret_post;`)}
    ${block('jwt', `introspection_client_id gateway-jwt;
        introspection_private_key_file ${keyFile} kid=gw-1;`)}
    ${block('wrongsecret', `introspection_client_id introspector-basic;
        introspection_client_secret not-the-secret-0123456789;`)}
    ${block('hanging', `introspection_endpoint ${hang.url('/introspect')};`)}
    ${block('down', `introspection_endpoint http://127.0.0.1:${closedPort}/introspect;`)}
    oidc_provider fhir {
        issuer ${op.issuer};
        allow_insecure_http on;
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        audience ${FHIR};
    }

    server {
        listen 127.0.0.1:{{PORT}} reuseport;
        ${loc('/api/', 'op')}
        ${loc('/scoped/', 'op', 'auth_oidc_require_scope api:read;')}
        ${loc('/auto/', 'op', 'auth_oidc_token_check auto;').replace('auth_oidc_token_check introspection;', '')}
        ${loc('/basic/', 'basic')}
        ${loc('/post/', 'post')}
        ${loc('/jwt-auth/', 'jwt')}
        ${loc('/wrongsecret/', 'wrongsecret')}
        ${loc('/hanging/', 'hanging')}
        ${loc('/down/', 'down')}
        ${loc('/nocache/', 'op', 'auth_oidc_token_cache off;')}
        location = /status { oidc_status; }
        location /jwt/ {
            auth_oidc op;
            proxy_pass http://${echo.addr};
        }
        location /fhir/R4/ {
            auth_oidc fhir;
            auth_oidc_token_check introspection;
            auth_oidc_smart /fhir/R4;
            auth_oidc_header X-Smart-Patient $oidc_smart_patient;
            proxy_pass http://${echo.addr};
        }
    }
`,
  });
});

after(stopAll);

const opaque = (o = {}) => op.token({ resource: OPAQUE, ...o });

async function call(p, tok, headers = {}) {
  const before = echo.requests.length;
  const r = await http(ng.url(p), {
    headers: { ...(tok ? { Authorization: `Bearer ${tok}` } : {}), ...headers },
  });
  r.reached = echo.requests.length > before;
  r.upstream = r.reached ? echo.last() : null;
  return r;
}

async function refused(p, tok, status = 401) {
  const r = await call(p, tok);
  assert.equal(r.status, status, `${p}: ${r.status} ${r.body}`);
  assert.equal(r.reached, false, `${p} reached the upstream`);
  return r;
}

test('the provider issues opaque tokens and introspects them', async () => {
  const t = await opaque();
  assert.equal(t.split('.').length, 1, 'not an opaque token');
  const r = await http(op.url('/token/introspection'), {
    method: 'POST',
    body: new URLSearchParams({ token: t }).toString(),
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`gateway:${CLIENTS.gateway}`).toString('base64')}`,
    },
  });
  const j = r.json();
  assert.equal(j.active, true);
  assert.equal(j.aud, OPAQUE);
  assert.equal(j.iss, op.issuer);
});

test('an active token passes once introspected, its fields reach the upstream', async () => {
  const t = await opaque({ scope: 'api:read' });
  const n = calls().length;
  const r = await call('/api/x', t, { 'X-Client': 'forged' });
  assert.equal(r.status, 200, r.body);
  const h = (name) => headerValues(r.upstream.headers, name);
  assert.deepEqual(h('x-client'), ['api-client']);
  assert.deepEqual(h('x-scope'), ['api:read']);
  assert.deepEqual(h('x-aud'), [OPAQUE]);
  assert.deepEqual(h('x-active'), ['true']);
  // the token itself goes upstream untouched, as with JWTs
  assert.deepEqual(h('authorization'), [`Bearer ${t}`]);
  const c = await callsAfter(n);
  assert.equal(c.length, n + 1);
  const e = c.at(-1);
  assert.deepEqual([e.client, e.auth, e.active], ['gateway', 'client_secret_basic', true]);

  // cached: ten more requests, no further call
  for (let i = 0; i < 10; i++) assert.equal((await call('/api/y', t)).status, 200);
  assert.equal(calls().length, n + 1);

  // the scope requirement reads "scope" of the answer
  assert.equal((await call('/scoped/x', t)).status, 200);
  const w = await opaque({ scope: 'api:write' });
  const s = await refused('/scoped/x', w, 403);
  assert.match(s.headers['www-authenticate'], /error="insufficient_scope", scope="api:read"/);
});

test('a revoked token is refused once the cache lifetime is over, not before', async () => {
  const t = await opaque();
  const n = calls().length;
  assert.equal((await call('/api/r', t)).status, 200);
  const rv = await http(op.url('/token/revocation'), {
    method: 'POST',
    body: new URLSearchParams({ token: t }).toString(),
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`api-client:${CLIENTS['api-client']}`).toString('base64')}`,
    },
  });
  assert.equal(rv.status, 200);
  // still the cached answer: the provider is not asked
  assert.equal((await call('/api/r', t)).status, 200);
  assert.equal((await callsAfter(n)).length, n + 1);
  await sleep(CACHE * 1000 + 1100);
  const r = await refused('/api/r', t);
  assert.match(r.headers['www-authenticate'], /error="invalid_token"/);
  const c = await callsAfter(n, 2);
  assert.equal(c.length, n + 2);
  assert.equal(c.at(-1).active, false);
});

test('garbage and expired tokens are refused; a negative answer is cached briefly', async () => {
  const garbage = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
  const n = calls().length;
  const r = await refused('/api/g', garbage);
  assert.equal(r.headers['www-authenticate'], 'Bearer realm="op", error="invalid_token"');
  await refused('/api/g', garbage);
  assert.equal((await callsAfter(n)).length, n + 1, 'the negative answer was not cached');
  await sleep(NEGATIVE * 1000 + 1100);
  await refused('/api/g', garbage);
  assert.equal((await callsAfter(n, 2)).length, n + 2);

  const e = await op.token({ resource: SHORT });
  await sleep(2100);
  const m = calls().length;
  await refused('/api/e', e);
  assert.equal((await callsAfter(m)).at(-1).active, false);
  const log = ours(ng.errorLog());
  assert.ok(!log.includes(garbage) && !log.includes(e), 'a token reached the error log');
});

test('a token for another audience is refused (aud of the answer)', async () => {
  const t = await op.token({ resource: FHIR, scope: 'patient/Patient.r' });
  const r = await refused('/api/aud', t);
  assert.match(r.headers['www-authenticate'], /invalid_token/);
  assert.match(ng.errorLog(), /invalid bearer token: audience mismatch/);
});

test('100 concurrent requests with one fresh token: one introspection call', async () => {
  const t = await opaque();
  const n = calls().length;
  const status = async () => JSON.parse((await http(ng.url("/status"))).body).providers.op;
  const s0 = await status();
  const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => call(`/api/c${i}`, t)));
  assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
  // both workers answered: the cross-worker lock was exercised
  assert.equal(new Set(rs.map((r) => r.headers['x-worker'])).size, 2);
  assert.equal((await callsAfter(n)).length, n + 1);
  // the counters agree: one call made, every request a miss or a hit
  const s1 = await status();
  assert.equal(s1.calls.introspection.calls - s0.calls.introspection.calls, 1);
  assert.equal(s1.calls.introspection.errors - s0.calls.introspection.errors, 0);
  const hits = s1.cache.introspection.hit - s0.cache.introspection.hit;
  const misses = s1.cache.introspection.miss - s0.cache.introspection.miss;
  assert.ok(misses >= 1, `${misses} misses`);
  assert.equal(hits + misses, 100);

  // the same without the cache: each worker still asks once per burst at most
  const u = await opaque();
  const m = calls().length;
  const us = await Promise.all(Array.from({ length: 50 }, (_, i) => call(`/nocache/c${i}`, u)));
  assert.deepEqual([...new Set(us.map((r) => r.status))], [200]);
  const made = (await callsAfter(m)).length - m;
  assert.ok(made >= 1 && made <= 50, `${made} calls`);
});

test('auto: a JWT of the issuer is verified locally, an opaque token introspected', async () => {
  const jwt = await op.token({ resource: 'urn:gateway:api' });
  const n = calls().length;
  assert.equal((await call('/auto/j', jwt)).status, 200);
  assert.equal((await call('/auto/j', jwt)).status, 200);
  assert.equal(calls().length, n, 'a JWT was introspected');
  const t = await opaque();
  assert.equal((await call('/auto/o', t)).status, 200);
  assert.equal((await callsAfter(n)).length, n + 1);
  // a JWT location never introspects: the opaque token is malformed there
  await refused('/jwt/o', t);
  assert.equal(calls().length, n + 1);
  // a JWT of another issuer goes to introspection; oidc-provider answers
  // 400 unsupported_token_type (it introspects no JWT), which refuses it
  const forged = op.sign({}, op.payload({ iss: 'https://elsewhere.example' }));
  const before = op.events('introspection.error').length;
  const mark = ng.mark();
  const f = await refused('/auto/f', forged);
  assert.match(f.headers['www-authenticate'], /invalid_token/);
  assert.match(ours(ng.errorLog(mark)), /invalid bearer token: unsupported_token_type \(introspection\)/);
  assert.equal((await op.waitEvent('introspection.error', () => true, { skip: before }))?.error,
    'unsupported_token_type');
  // kept as a negative answer: not asked again
  const errors = op.events('introspection.error').length;
  await refused('/auto/f', forged);
  assert.equal(op.events('introspection.error').length, errors);
});

test('introspection credentials apart from the login client: Basic, client_secret_post, private_key_jwt', async () => {
  const t = await opaque();
  const n = calls().length;
  assert.equal((await call('/basic/x', t)).status, 200);
  let e = (await callsAfter(n)).at(-1);
  assert.deepEqual([e.client, e.auth, e.active], ['introspector-basic', 'client_secret_basic', true]);
  assert.equal((await call('/post/x', t)).status, 200);
  e = (await callsAfter(n, 2)).at(-1);
  assert.deepEqual([e.client, e.auth, e.active], ['introspector-post', 'client_secret_post', true]);
  assert.equal((await call('/jwt-auth/x', t)).status, 200);
  e = (await callsAfter(n, 3)).at(-1);
  assert.deepEqual([e.client, e.auth, e.active], ['gateway-jwt', 'private_key_jwt', true]);
});

test('the provider failing gives 503, never 401, and the log never holds the token', async () => {
  const t = await opaque();
  const mark = ng.mark();
  // wrong credentials: the provider answers 401 invalid_client
  const w = await refused('/wrongsecret/x', t, 503);
  assert.equal(w.headers['www-authenticate'], undefined);
  const h = await refused('/hanging/x', t, 503);
  assert.equal(h.headers['www-authenticate'], undefined);
  assert.ok(hang.accepted >= 1);
  await refused('/down/x', t, 503);
  const log = ours(ng.errorLog(mark));
  assert.match(log, /provider "wrongsecret": introspection failed: status 401, answering 503/);
  assert.match(log, /provider "hanging": introspection failed: .*, answering 503/);
  assert.match(log, /provider "down": introspection failed: .*, answering 503/);
  assert.ok(!log.includes(t), 'the token reached the error log');
  // failures are not cached: the provider that works still answers
  assert.equal((await call('/api/after', t)).status, 200);
});

test('a client gone while its request waits for the call: no harm to the others', async () => {
  const t = await opaque();
  // both wait on one call to the hanging endpoint; one client leaves early
  const gone = new Promise((resolve) => {
    const s = net.connect({ port: ng.port, host: '127.0.0.1' }, () => {
      s.write(`GET /hanging/gone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`);
      setTimeout(() => { s.destroy(); resolve(); }, 200);
    });
    s.on('error', resolve);
  });
  const stays = call('/hanging/stays', t);
  await gone;
  const r = await stays;
  assert.equal(r.status, 503);
  assert.equal(r.reached, false);
  assert.equal((await call('/api/alive', t)).status, 200);
});

test('SMART on FHIR with an introspected opaque token (patient compartment)', async () => {
  const scope = 'launch/patient patient/Observation.rs patient/Patient.r';
  const t = await op.token({ resource: FHIR, scope, claims: { patient: '123' } });
  assert.equal(t.split('.').length, 1, 'not an opaque token');
  const n = calls().length;
  const r = await call('/fhir/R4/Patient/123', t, { 'X-Smart-Patient': '999' });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(headerValues(r.upstream.headers, 'x-smart-patient'), ['123']);
  assert.equal((await call('/fhir/R4/Observation?patient=123', t)).status, 200);
  assert.equal((await call('/fhir/R4/Patient/123/Observation?code=1', t)).status, 200);

  const smartRefused = async (p, need) => {
    const o = await refused(p, t, 403);
    assert.equal(o.headers['www-authenticate'],
      `Bearer realm="fhir", error="insufficient_scope", scope="${need}"`);
    assert.equal(JSON.parse(o.body).resourceType, 'OperationOutcome');
  };
  await smartRefused('/fhir/R4/Patient/456', 'user/Patient.r');
  await smartRefused('/fhir/R4/Observation?patient=456', 'user/Observation.s');
  await smartRefused('/fhir/R4/Observation?code=1', 'user/Observation.s');
  await smartRefused('/fhir/R4/Condition?patient=123', 'patient/Condition.s');
  // one introspection for all of them
  assert.equal((await callsAfter(n)).length, n + 1);

  // no launch patient in the answer: patient/ scopes grant nothing
  const np = await op.token({ resource: FHIR, scope, claims: {} });
  const o = await refused('/fhir/R4/Patient/123', np, 403);
  assert.match(o.headers['www-authenticate'], /insufficient_scope/);
});

test('nginx -t: introspection needs an endpoint; bad directives', async () => {
  const dir = makePrefix('keys');
  const jwks = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwks, JSON.stringify(op.publicJwks));
  const server = (more) => `
    server {
        listen 127.0.0.1:1;
        location / {
            auth_oidc s;
${more}
            proxy_pass http://127.0.0.1:1;
        }
    }`;
  const stat = (more = '') => `
    oidc_provider s {
        issuer https://idp.example;
        jwks_file ${jwks};
        audience a;
        ${more}
    }`;

  let r = await nginxTestConfig(`${stat()}${server('            auth_oidc_token_check introspection;')}`);
  assert.equal(r.ok, false);
  assert.match(r.stderr, /"auth_oidc_token_check" needs an introspection endpoint, but oidc_provider "s" has static keys .* in \S+nginx\.conf:\d+/);
  r = await nginxTestConfig(`${stat()}${server('            auth_oidc_token_check auto;')}`);
  assert.equal(r.ok, false);
  // with an endpoint configured, static keys are fine
  r = await nginxTestConfig(`${stat('introspection_endpoint https://idp.example/introspect; client_id c; client_secret s;')}${server('            auth_oidc_token_check introspection;')}`);
  assert.equal(r.ok, true, r.stderr);
  r = await nginxTestConfig(`${stat()}${server('            auth_oidc_token_check jwt;')}`);
  assert.equal(r.ok, true, r.stderr);

  const bad = [
    ['auth_oidc_token_check maybe;', '', /invalid value "maybe" in "auth_oidc_token_check"/],
    ['', 'introspection_cache_time 1m neg=1s;', /invalid parameter "neg=1s"/],
    ['', 'introspection_cache_time soon;', /"introspection_cache_time" directive has an invalid time/],
    ['', 'introspection_auth client_secret_jwt;', /"introspection_auth": unknown method/],
    ['', 'introspection_client_id rs; introspection_auth client_secret_basic;',
      /"introspection_auth client_secret_basic" needs "introspection_client_secret" or "introspection_client_secret_file"/],
    ['', 'introspection_client_id rs; introspection_auth private_key_jwt;',
      /"introspection_auth private_key_jwt" needs "introspection_private_key_file"/],
    ['', 'introspection_endpoint ftp://x/;', /introspection_endpoint/],
    ['', 'introspection_client_secret a; introspection_client_secret_file /x;', /are exclusive/],
  ];
  for (const [loc, prov, re] of bad) {
    r = await nginxTestConfig(`${stat(`introspection_endpoint https://idp.example/i; ${prov}`)}${server(`            ${loc}`)}`);
    assert.equal(r.ok, false, `${loc}${prov} accepted`);
    assert.match(r.stderr, re);
  }
});

test('conf-examples/fhir-introspection.conf passes nginx -t', async () => {
  const secret = path.join(makePrefix('secret'), 'fhir-api.secret');
  fs.writeFileSync(secret, `${CLIENTS['introspector-basic']}\n`);
  const text = fs.readFileSync(path.join(REPO, 'conf-examples/fhir-introspection.conf'), 'utf8')
    .replace(/issuer\s+\S+;/, `issuer ${op.issuer}; allow_insecure_http on;`)
    .replace('/etc/nginx/secrets/fhir-api.secret', secret)
    .replace('listen 443 ssl;', 'listen 127.0.0.1:{{PORT}};');
  const r = await nginxTestConfig(text);
  assert.equal(r.ok, true, r.stderr);
});
