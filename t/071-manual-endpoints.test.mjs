// Endpoints configured in the provider block (issue 7): without discovery
// ("discovery off": keys from the configured jwks_uri, never the discovery
// document), a configured endpoint winning over discovery's, and nginx -t
// naming the endpoint a location needs but cannot get.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startProvider, startEcho, startNginx, stopAll, http, headerValues, nginxTestConfig,
} from './lib/harness.mjs';
import { startDintero } from './lib/dintero.mjs';

let op, dintero, echo, ng;

before(async () => {
  op = await startProvider();
  dintero = await startDintero();
  echo = await startEcho();
  const d = await op.discovery();
  ng = await startNginx({
    http: `
    oidc_provider nodisco {
        issuer ${op.issuer};
        discovery off;
        jwks_uri ${d.jwks_uri};
        audience urn:gateway:api;
        allow_insecure_http on;
    }

    # discovery on, but the token endpoint is another one (configured wins)
    oidc_provider override {
        issuer ${op.issuer};
        token_endpoint ${dintero.tokenUrl};
        client_id ${dintero.clientId};
        client_secret ${dintero.clientSecret};
        token_request_format json;
        token_param client_credentials audience ${dintero.audience};
        allow_insecure_http on;
        audience urn:gateway:api;
    }

    server {
        listen 127.0.0.1:{{PORT}};

        location /nodisco/ {
            auth_oidc nodisco;
            auth_oidc_header X-Sub $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }

        location /override/ {
            auth_oidc override;
            auth_oidc_client_token override;
            proxy_set_header X-Upstream-Token $oidc_client_token;
            proxy_pass http://${echo.addr};
        }
    }
`,
  });
});

after(stopAll);

test('discovery off: Bearer JWTs verified with keys from the configured jwks_uri only', async () => {
  const token = await op.token();
  let r = await http(ng.url('/nodisco/a'), { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(headerValues(echo.last().headers, 'x-sub'), ['api-client']);
  r = await http(ng.url('/nodisco/a'), { headers: { Authorization: 'Bearer x.y.z' } });
  assert.equal(r.status, 401);
  const log = ng.errorLog();
  assert.match(log, /provider "nodisco": fetching JWKS/);
  assert.doesNotMatch(log, /provider "nodisco": fetching discovery/);
});

test('a configured token endpoint wins over the discovery document', async () => {
  const token = await op.token();
  const r = await http(ng.url('/override/a'), { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, r.body);
  const upstream = headerValues(echo.last().headers, 'x-upstream-token')[0];
  assert.ok(dintero.state.clientTokens.has(upstream), 'the configured endpoint issued it');
  assert.ok(dintero.calls('client_credentials') >= 1);
});

const PROVIDER = (body) => `
    oidc_provider p {
        issuer http://127.0.0.1:9/realm;
        client_id c;
        client_secret s3cret;
        allow_insecure_http on;
${body}
    }
`;
const SERVER = (loc) => `
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
${loc}
            proxy_pass http://127.0.0.1:9;
        }
    }
`;

test('nginx -t names the endpoint a location needs and cannot get', async () => {
  const cases = [
    [PROVIDER('        discovery off;\n        token_endpoint http://127.0.0.1:9/t;'),
      '            auth_oidc p;',
      /oidc_provider "p" has no "jwks_uri" \("discovery off"\), which Bearer JWT and ID token validation .* needs for "auth_oidc" in \S+nginx\.conf:\d+/],
    [PROVIDER('        discovery off;\n        jwks_uri http://127.0.0.1:9/k;\n'
      + '        authorization_endpoint http://127.0.0.1:9/a;'),
      '            auth_oidc p;',
      /oidc_provider "p" has no "token_endpoint" \("discovery off"\), which browser login .* needs for "auth_oidc" in \S+nginx\.conf:\d+/],
    [PROVIDER('        discovery off;\n        jwks_uri http://127.0.0.1:9/k;'),
      '            auth_oidc_client_token p scope=x;',
      /oidc_provider "p" has no "token_endpoint" \("discovery off"\), which the client credentials grant needs for "auth_oidc_client_token" in \S+nginx\.conf:\d+/],
    [PROVIDER('        discovery off;\n        jwks_uri http://127.0.0.1:9/k;\n'
      + '        client_auth refresh_token client_token;'),
      '',
      /oidc_provider "p" has no "token_endpoint" \("discovery off"\), which the client credentials grant needs for "client_auth"/],
    [PROVIDER('        discovery off;\n        config_url http://127.0.0.1:9/c;'),
      '',
      /"config_url" cannot be used with "discovery off"/],
    [PROVIDER('        token_endpoint_auth none;\n        client_auth refresh_token client_token;'),
      '',
      /"client_auth refresh_token client_token" needs the client credentials grant authenticated otherwise/],
    [PROVIDER('        client_auth client_credentials client_token;'),
      '',
      /"client_auth client_credentials client_token" needs the client credentials grant authenticated otherwise .* in \S+nginx\.conf:\d+/],
    [PROVIDER('        token_param bogus audience x;'), '', /"token_param": unknown call "bogus"/],
    [PROVIDER('        client_auth refresh_token magic;'), '', /"client_auth": unknown method "magic"/],
    [PROVIDER('        token_endpoint ftp://x/;'), '', /token_endpoint/],
    [PROVIDER('        token_endpoint_auth none;'), '            auth_oidc_client_token p;',
      /oidc_provider "p" has no "client_id" and client credentials \(a secret or a key\), which the client credentials grant needs for "auth_oidc_client_token" in \S+nginx\.conf:\d+/],
    [PROVIDER(''), '            auth_oidc_client_token nope;',
      /no oidc_provider "nope" for "auth_oidc_client_token" in \S+nginx\.conf:\d+/],
    [PROVIDER(''), '            auth_oidc_client_token p grant_type=password;',
      /"auth_oidc_client_token": invalid parameter "grant_type=password"/],
  ];
  for (const [provider, loc, re] of cases) {
    const r = await nginxTestConfig(provider + SERVER(loc));
    assert.equal(r.ok, false, `refused: ${re}`);
    assert.match(r.stderr, re);
  }
});

test('nginx -t accepts complete manual endpoints; a logout without end_session only warns', async () => {
  const full = PROVIDER(`        discovery off;
        jwks_uri http://127.0.0.1:9/k;
        authorization_endpoint http://127.0.0.1:9/a;
        token_endpoint http://127.0.0.1:9/t;
        revocation_endpoint http://127.0.0.1:9/r;
        userinfo_endpoint http://127.0.0.1:9/u;
        token_request_format json;
        token_param all audience x;
        client_auth refresh_token client_token;
        client_auth revocation client_token;
        logout_uri /logout;`);
  const r = await nginxTestConfig(full + SERVER('            auth_oidc p;\n'
    + '            auth_oidc_client_token p audience=y resource=urn:z;\n'
    + '            proxy_set_header Authorization "Bearer $oidc_client_token";'));
  assert.equal(r.ok, true, r.stderr);
  assert.match(r.stderr, /\[warn\].*oidc_provider "p" has no "end_session_endpoint": "logout_uri" ends only the local session/);
  // with discovery, nothing is missing at configuration time
  const d = await nginxTestConfig(PROVIDER('') + SERVER('            auth_oidc p;\n'
    + '            auth_oidc_client_token p;'));
  assert.equal(d.ok, true, d.stderr);
});
