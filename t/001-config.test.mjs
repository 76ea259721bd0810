// Configuration: what nginx -t accepts and what it refuses, with the
// directive and the line in the message.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { nginxTestConfig, stopAll } from './lib/harness.mjs';

after(stopAll);

const provider = (body = '') => `
    oidc_provider idp {
        issuer http://127.0.0.1:1;
        allow_insecure_http on;
        audience urn:api;
${body}
    }
`;

const server = (body) => `
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
${body}
            proxy_pass http://127.0.0.1:1;
        }
    }
`;

// The line of the first occurrence of `needle` in the generated config.
const lineOf = (conf, needle) => conf.split('\n').findIndex((l) => l.includes(needle)) + 1;

async function refused(http, needle, message) {
  const r = await nginxTestConfig(http);
  assert.equal(r.ok, false, `accepted:\n${r.conf}`);
  assert.match(r.stderr, message);
  if (needle) {
    assert.match(r.stderr, new RegExp(`nginx\\.conf:${lineOf(r.conf, needle)}\\b`),
      `line of "${needle}" not in:\n${r.stderr}`);
  }
  return r;
}

test('a complete configuration passes nginx -t', async () => {
  const r = await nginxTestConfig(provider() + `
    auth_oidc_claim_set $uuid "http://lifen.fr/userInfo" uuid;
` + server(`
            auth_oidc idp;
            auth_oidc_realm "FHIR API";
            auth_oidc_require_scope patient/*.read;
            auth_oidc_require $uuid error=401;
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_token_cache off;
`));
  assert.equal(r.ok, true, r.stderr);
});

test('auth_oidc naming no provider is refused', async () => {
  await refused(provider() + server('            auth_oidc nosuch;'), 'auth_oidc nosuch',
    /no oidc_provider "nosuch"/);
});

test('auth_oidc_require error= accepts only 401 and 403', async () => {
  await refused(provider() + server('            auth_oidc idp; auth_oidc_require $arg_x error=500;'),
    'error=500', /only error=401 and error=403/);
});

test('auth_oidc_header refuses a header name with "_" or spaces', async () => {
  await refused(provider() + server('            auth_oidc idp; auth_oidc_header X_User $oidc_claim_sub;'),
    'X_User', /invalid header name "X_User"/);
});

test('auth_oidc_claim_set needs a variable', async () => {
  await refused(provider() + '    auth_oidc_claim_set uuid a b;\n' + server('auth_oidc idp;'),
    'auth_oidc_claim_set', /invalid variable name "uuid"/);
});

test('oidc_token_cache_zone refuses a tiny zone', async () => {
  await refused(provider() + '    oidc_token_cache_zone 1k;\n' + server('auth_oidc idp;'),
    'oidc_token_cache_zone', /invalid token cache size/);
});

test('an unknown directive inside oidc_provider is refused', async () => {
  await refused(provider('        no_such_thing on;'), 'no_such_thing', /no_such_thing/);
});

test('an http:// issuer is refused unless allow_insecure_http is on', async () => {
  await refused(`
    oidc_provider idp {
        issuer http://127.0.0.1:1;
        audience urn:api;
    }
`, 'issuer http', /allow_insecure_http/);
});

test('alg "none" can never be allowed', async () => {
  await refused(provider('        algorithms RS256 none;'), 'algorithms', /none/);
});

test('a provider needs an issuer', async () => {
  await refused(`
    oidc_provider idp {
        audience urn:api;
    }
`, null, /issuer/);
});

test('duplicate provider names are refused', async () => {
  await refused(provider() + provider(), null, /duplicate|already/);
});
