// Every file in conf-examples/ passes nginx -t with the module, as an
// include of http {} (each one says so in its header), made runnable here:
// provider and upstream host names become loopback addresses (nginx -t
// resolves them, and this machine may have no DNS), "listen" lines become
// the test's port without TLS, and secret files become a file of the
// test's. Nothing else is changed, so a broken example fails here.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { nginxTestConfig, makePrefix, stopAll, REPO } from './lib/harness.mjs';

after(stopAll);

const DIR = path.join(REPO, 'conf-examples');
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.conf')).sort();

const secrets = makePrefix('secrets');
const SECRET = path.join(secrets, 'secret');
fs.writeFileSync(SECRET, 'example-secret-0123456789abcdef0123456789abcdef\n', { mode: 0o644 });

export function runnable(text) {
  return text
    // URLs outside quotes (claim names such as "http://lifen.fr/userInfo" stay)
    .replace(/(^|[^"])\bhttps?:\/\/(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+)(:\d+)?/g, '$1http://127.0.0.1:9')
    .replace(/^\s*allow_insecure_http\s+\S+;.*\n/gm, '')
    .replace(/oidc_provider\s+(\S+)\s*\{/g, (m) => `${m}\n    allow_insecure_http on;`)
    .replace(/^(\s*)listen\s+[^;]+;/gm, '$1listen 127.0.0.1:{{PORT}};')
    .replace(/^(\s*)(client_secret_file|introspection_client_secret_file|hmac_secret_file)\s+\S+;/gm, `$1$2 ${SECRET};`);
}

test('conf-examples/ has examples', () => {
  for (const f of ['dintero-sidecar.conf', 'keycloak.conf', 'auth0-namespaced-claims.conf', 'fhir-introspection.conf']) {
    assert.ok(FILES.includes(f), `${f} is there`);
  }
});

for (const f of FILES) {
  test(`conf-examples/${f} passes nginx -t`, async () => {
    const text = runnable(fs.readFileSync(path.join(DIR, f), 'utf8'));
    const r = await nginxTestConfig(text);
    assert.equal(r.ok, true, `${f}:\n${r.stderr}`);
  });
}
