// SMART on FHIR at the gateway (auth_oidc_smart): real client-credentials
// JWTs from oidc-provider carrying SMART scopes and a `patient` claim, a FHIR
// base in front of the echo upstream. Every refusal is checked not to reach
// the upstream; every allowed request to reach it, with the launch patient
// in X-Smart-Patient.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  startProvider, startEcho, startNginx, stopAll, http, headerValues, nginxTestConfig, REPO,
} from './lib/harness.mjs';

const FHIR = 'urn:gateway:fhir';
const SCOPES = [
  'launch/patient', 'patient/Patient.r', 'patient/Observation.rs', 'patient/*.rs',
  'patient/*.cruds', 'patient/Observation.rs?category=laboratory', 'user/*.cruds',
  'user/Observation.read', 'user/Observation.c', 'system/*.rs',
];

let op, echo, ng;

before(async () => {
  op = await startProvider({ resources: { [FHIR]: { scope: SCOPES.join(' '), format: 'jwt' } } });
  echo = await startEcho();
  ng = await startNginx({
    http: `
    oidc_provider test {
        issuer ${op.issuer};
        allow_insecure_http on;
        audience ${FHIR};
    }

    server {
        listen 127.0.0.1:{{PORT}};

        location /fhir/R4/ {
            auth_oidc test;
            auth_oidc_smart /fhir/R4;
            auth_oidc_header X-Smart-Patient $oidc_smart_patient;
            proxy_pass http://${echo.addr};
        }

        location /ehr/ {
            auth_oidc test;
            auth_oidc_smart /ehr/ patient_claim=launch_patient;
            auth_oidc_header X-Smart-Patient $oidc_smart_patient;
            proxy_pass http://${echo.addr};
        }
    }
`,
  });
});

after(stopAll);

const tokens = new Map();

// a signed JWT from the provider with these SMART scopes and claims
async function token(scope, claims = { patient: '123' }) {
  const key = `${scope}|${JSON.stringify(claims)}`;
  if (!tokens.has(key)) tokens.set(key, await op.token({ scope, resource: FHIR, claims }));
  return tokens.get(key);
}

async function call(method, p, tok, { body, headers = {} } = {}) {
  const before = echo.requests.length;
  const r = await http(ng.url(p), {
    method,
    body,
    headers: { ...(tok ? { Authorization: `Bearer ${tok}` } : {}), ...headers },
  });
  r.reached = echo.requests.length > before;
  r.upstream = r.reached ? echo.last() : null;
  return r;
}

async function allowed(method, p, tok, opts) {
  const r = await call(method, p, tok, opts);
  assert.equal(r.status, 200, `${method} ${p}: ${r.status} ${r.body}`);
  assert.ok(r.reached, `${method} ${p} did not reach the upstream`);
  return r;
}

// 403 insufficient_scope naming `scope`, an OperationOutcome, nothing upstream
async function refused(method, p, tok, scope, opts) {
  const r = await call(method, p, tok, opts);
  assert.equal(r.status, 403, `${method} ${p}: ${r.status} ${r.body}`);
  assert.equal(r.reached, false, `${method} ${p} reached the upstream`);
  assert.equal(r.headers['www-authenticate'],
    `Bearer realm="test", error="insufficient_scope", scope="${scope}"`);
  assert.match(r.headers['content-type'], /^application\/fhir\+json/);
  const oo = JSON.parse(r.body);
  assert.equal(oo.resourceType, 'OperationOutcome');
  assert.equal(oo.issue[0].severity, 'error');
  assert.equal(oo.issue[0].code, 'forbidden');
  assert.ok(oo.issue[0].diagnostics.includes(scope), oo.issue[0].diagnostics);
  return r;
}

test('the provider issues JWTs with the SMART scopes and the patient claim', async () => {
  const t = await token('patient/Observation.rs launch/patient');
  const p = JSON.parse(Buffer.from(t.split('.')[1], 'base64url'));
  assert.deepEqual(p.scope.split(' ').sort(), ['launch/patient', 'patient/Observation.rs']);
  assert.equal(p.patient, '123');
  assert.equal(p.aud, FHIR);
});

test('metadata and smart-configuration are open; other paths need a token', async () => {
  for (const p of ['/fhir/R4/metadata', '/fhir/R4/.well-known/smart-configuration']) {
    const r = await allowed('GET', p);
    assert.deepEqual(headerValues(r.upstream.headers, 'x-smart-patient'), []);
  }
  const r = await call('GET', '/fhir/R4/Patient/123');
  assert.equal(r.status, 401);
  assert.equal(r.reached, false);
  // not a read: POST metadata is not FHIR, and is refused
  const p = await call('POST', '/fhir/R4/metadata', await token('user/*.cruds'));
  assert.equal(p.status, 400);
  assert.equal(p.reached, false);
  assert.equal(JSON.parse(p.body).resourceType, 'OperationOutcome');
});

test('patient/ scope: the launch patient only, passed upstream', async () => {
  const t = await token('patient/Patient.r launch/patient');
  const r = await allowed('GET', '/fhir/R4/Patient/123', t, { headers: { 'X-Smart-Patient': '999' } });
  assert.deepEqual(headerValues(r.upstream.headers, 'x-smart-patient'), ['123']);
  await refused('GET', '/fhir/R4/Patient/456', t, 'user/Patient.r');
  // r does not cover search, nor another type
  await refused('GET', '/fhir/R4/Patient?_id=123', t, 'patient/Patient.s');
  await refused('GET', '/fhir/R4/Observation?patient=123', t, 'patient/Observation.s');
});

test('patient/ searches must be restricted to the launch patient', async () => {
  const t = await token('patient/Observation.rs');
  await allowed('GET', '/fhir/R4/Observation?patient=123&code=1234-5', t);
  await allowed('GET', '/fhir/R4/Observation?subject=Patient/123', t);
  await allowed('GET', '/fhir/R4/Patient/123/Observation?code=1234-5', t);
  await refused('GET', '/fhir/R4/Observation?patient=456', t, 'user/Observation.s');
  await refused('GET', '/fhir/R4/Observation?patient=123,456', t, 'user/Observation.s');
  await refused('GET', '/fhir/R4/Observation?code=1234-5', t, 'user/Observation.s');
  await refused('GET', '/fhir/R4/Patient/456/Observation', t, 'user/Observation.s');
  // an instance of another type cannot be placed in the compartment
  await refused('GET', '/fhir/R4/Observation/abc', t, 'user/Observation.r');
  await refused('GET', '/fhir/R4/Observation?patient=123&_include=Observation:performer', t,
    'user/Observation.s user/*.r');
});

test('a patient/ token without a patient claim is refused', async () => {
  const t = await token('patient/*.rs', {});
  await refused('GET', '/fhir/R4/Patient/123', t, 'user/Patient.r');
  const bad = await token('patient/*.rs', { patient: '../123' });
  await refused('GET', '/fhir/R4/Patient/123', bad, 'user/Patient.r');
});

test('v2 search-parameter restrictions: a search must carry them', async () => {
  const t = await token('patient/Observation.rs?category=laboratory');
  await allowed('GET', '/fhir/R4/Observation?patient=123&category=laboratory', t);
  await refused('GET', '/fhir/R4/Observation?patient=123', t, 'patient/Observation.s');
  await refused('GET', '/fhir/R4/Observation?patient=123&category=laboratory,vital-signs', t,
    'patient/Observation.s');
  // a read cannot prove it
  await refused('GET', '/fhir/R4/Patient/123/Observation', t, 'patient/Observation.s');
});

test('POST _search: the form body is read, checked and passed on', async () => {
  const t = await token('patient/*.rs');
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const r = await allowed('POST', '/fhir/R4/Observation/_search', t,
    { body: 'patient=123&code=1234-5', headers: form });
  assert.equal(r.upstream.body, 'patient=123&code=1234-5');
  assert.equal(r.upstream.url, '/fhir/R4/Observation/_search');
  await refused('POST', '/fhir/R4/Observation/_search', t, 'user/Observation.s',
    { body: 'patient=456', headers: form });
  await refused('POST', '/fhir/R4/Observation/_search', t, 'user/Observation.s',
    { body: 'code=1234-5', headers: form });
  // the same check whatever the token: a non-form body is not a search
  const j = await call('POST', '/fhir/R4/Observation/_search', t,
    { body: '{"patient":"123"}', headers: { 'Content-Type': 'application/json' } });
  assert.equal(j.status, 415);
  assert.equal(j.reached, false);
  // a body too large to check in memory
  const big = await call('POST', '/fhir/R4/Observation/_search', t,
    { body: `patient=123&x=${'a'.repeat(70000)}`, headers: form });
  assert.equal(big.status, 413);
  assert.equal(big.reached, false);
});

// headers first, the body in a later write: the phases resume when it comes
function slowPost(p, tok, body) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: ng.port, host: '127.0.0.1' });
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('end', () => resolve(data));
    s.on('error', reject);
    s.write(`POST ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${tok}\r\n`
      + 'Content-Type: application/x-www-form-urlencoded\r\n'
      + `Content-Length: ${body.length}\r\n\r\n`);
    setTimeout(() => s.write(body), 200);
  });
}

test('POST _search: a body that comes after the headers is waited for', async () => {
  const t = await token('patient/*.rs');
  let before = echo.requests.length;
  const ok = await slowPost('/fhir/R4/Observation/_search', t, 'patient=123');
  assert.match(ok, /^HTTP\/1\.1 200 /);
  assert.equal(echo.requests.length, before + 1);
  assert.equal(echo.last().body, 'patient=123');
  before = echo.requests.length;
  const no = await slowPost('/fhir/R4/Observation/_search', t, 'patient=456');
  assert.match(no, /^HTTP\/1\.1 403 /);
  assert.match(no, /insufficient_scope/);
  assert.equal(echo.requests.length, before);
});

test('v1 scopes: read = rs, write = cud', async () => {
  const t = await token('user/Observation.read');
  await allowed('GET', '/fhir/R4/Observation?code=1234-5', t);
  await allowed('GET', '/fhir/R4/Observation/abc/_history/2', t);
  await refused('DELETE', '/fhir/R4/Observation/abc', t, 'user/Observation.d');
  await refused('PUT', '/fhir/R4/Observation/abc', t, 'user/Observation.u', { body: '{}' });
  await refused('GET', '/fhir/R4/Condition/abc', t, 'user/Condition.r');
});

test('conditional create needs "s" for its If-None-Exist criteria', async () => {
  const c = await token('user/Observation.c');
  await allowed('POST', '/fhir/R4/Observation', c, { body: '{}' });
  await refused('POST', '/fhir/R4/Observation', c, 'user/Observation.s',
    { body: '{}', headers: { 'If-None-Exist': 'identifier=x' } });
  const all = await token('user/*.cruds');
  await allowed('POST', '/fhir/R4/Observation', all,
    { body: '{}', headers: { 'If-None-Exist': 'identifier=x' } });
});

test('batch/transaction needs user/*.cruds or system/*.cruds', async () => {
  const bundle = '{"resourceType":"Bundle","type":"transaction"}';
  await allowed('POST', '/fhir/R4/', await token('user/*.cruds'), { body: bundle });
  await refused('POST', '/fhir/R4/', await token('patient/*.cruds'), 'user/*.cruds', { body: bundle });
  await refused('POST', '/fhir/R4/', await token('system/*.rs'), 'user/*.cud', { body: bundle });
  await allowed('GET', '/fhir/R4/_history', await token('system/*.rs'));
});

test('paths are checked as the FHIR server will read them', async () => {
  const t = await token('patient/*.rs');
  for (const p of ['/fhir/R4/Patient%2F456', '/fhir/R4//Patient/456', '/fhir/R4/Patient/./456',
    '/fhir/R4/Patient/123/../456', '/fhir/R4/Patient/12%33']) {
    const r = await call('GET', p, t);
    assert.ok(r.status === 400 || r.status === 403, `${p}: ${r.status}`);
    assert.equal(r.reached, false, `${p} reached the upstream`);
  }
  const o = await call('GET', '/fhir/R4/Patient/123/foo/bar', t);
  assert.equal(o.status, 400);
  assert.equal(o.reached, false);
});

test('patient_claim= names the launch patient claim', async () => {
  const t = await token('patient/*.rs', { launch_patient: 'p1', patient: 'other' });
  const r = await allowed('GET', '/ehr/Patient/p1', t);
  assert.deepEqual(headerValues(r.upstream.headers, 'x-smart-patient'), ['p1']);
  await refused('GET', '/ehr/Patient/other', t, 'user/Patient.r');
});

test('the refusal is logged with the interaction and the reason, never the token', async () => {
  const t = await token('patient/Observation.rs');
  const mark = ng.mark();
  await refused('GET', '/fhir/R4/Observation?patient=456', t, 'user/Observation.s');
  const log = ng.errorLog(mark);
  assert.match(log, /SMART refused search-type Observation: not provably in the launch patient's compartment/);
  // the module's lines (nginx's own debug lines show request headers)
  const ours = log.split('\n').filter((l) => l.includes('oidc:')).join('\n');
  assert.match(ours, /SMART refused/);
  assert.ok(!ours.includes(t.split('.')[2]));
});

/* configuration */

const conf = (body) => `
    oidc_provider idp {
        issuer ${op.issuer};
        allow_insecure_http on;
        audience ${FHIR};
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /fhir/ {
${body}
            proxy_pass http://127.0.0.1:1;
        }
    }
`;

const lineOf = (text, needle) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

test('nginx -t: auth_oidc_smart needs auth_oidc, a clean base path, known parameters', async () => {
  let r = await nginxTestConfig(conf('            auth_oidc_smart /fhir/;'));
  assert.equal(r.ok, false);
  assert.match(r.stderr, new RegExp(`"auth_oidc_smart" in \\S+nginx\\.conf:${lineOf(r.conf, 'auth_oidc_smart')} needs "auth_oidc"`));

  for (const [bad, msg] of [['fhir/', /invalid FHIR base path/], ['/fhir/../x/', /invalid FHIR base path/],
    ['/fhir/%41/', /invalid FHIR base path/], ['/fhir/ patient_claim=', /invalid parameter/],
    ['/fhir/ nope=1', /invalid parameter "nope=1"/]]) {
    r = await nginxTestConfig(conf(`            auth_oidc idp;\n            auth_oidc_smart ${bad};`));
    assert.equal(r.ok, false, bad);
    assert.match(r.stderr, msg);
    assert.match(r.stderr, new RegExp(`nginx\\.conf:${lineOf(r.conf, 'auth_oidc_smart')}\\b`));
  }

  r = await nginxTestConfig(conf('            auth_oidc idp;\n            auth_oidc_smart /fhir/ patient_claim=pid;\n'
    + '            auth_oidc_header X-Smart-Patient $oidc_smart_patient;'));
  assert.equal(r.ok, true, r.stderr);
});

test('conf-examples/fhir-smart.conf passes nginx -t', async () => {
  const text = fs.readFileSync(path.join(REPO, 'conf-examples/fhir-smart.conf'), 'utf8')
    .replace(/issuer\s+\S+;/, `issuer ${op.issuer}; allow_insecure_http on;`)
    .replace('listen 443 ssl;', 'listen 127.0.0.1:{{PORT}};');
  const r = await nginxTestConfig(text);
  assert.equal(r.ok, true, r.stderr);
});
