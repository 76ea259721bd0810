// Tokens for the upstream (auth_oidc_client_token, $oidc_client_token) and
// providers that are not quite standard (issue 7): the real oidc-provider
// (client credentials with resource indicators, form-encoded requests) and
// t/lib/dintero.mjs, which follows Dintero's account auth API (no
// discovery, JSON bodies only, an audience on every grant, Basic then
// Bearer client authentication, user_info in the token response).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startProvider, startEcho, startNginx, stopAll, http, headerValues, decodeJwt, CLIENTS,
} from './lib/harness.mjs';
import { startDintero } from './lib/dintero.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const NAV = { Accept: 'text/html', 'Sec-Fetch-Mode': 'navigate' };

let op, dintero, echo, ng;

before(async () => {
  op = await startProvider();
  dintero = await startDintero();
  echo = await startEcho();
  const d = dintero;
  ng = await startNginx({
    workers: 2,
    http: `
    oidc_provider op {
        issuer ${op.issuer};
        client_id api-client;
        client_secret ${CLIENTS['api-client']};
        allow_insecure_http on;
    }

    oidc_provider dintero {
        issuer ${d.issuer};
        discovery off;
        authorization_endpoint ${d.authorizeUrl};
        token_endpoint ${d.tokenUrl};
        jwks_uri ${d.jwksUrl};
        revocation_endpoint ${d.revokeUrl};
        client_id ${d.clientId};
        client_secret ${d.clientSecret};
        allow_insecure_http on;
        cookie_secure off;
        token_request_format json;
        token_param client_credentials audience ${d.audience};
        token_param authorization_code audience ${d.audience};
        token_param refresh_token audience ${d.audience};
        client_auth authorization_code client_token;
        client_auth refresh_token client_token;
        client_auth revocation client_token;
        refresh_before 600;
        logout_uri /app/logout;
        post_logout_uri /bye;
    }

    # the seed's revocation: posted to the token endpoint
    oidc_provider dintero_seed {
        issuer ${d.issuer};
        discovery off;
        authorization_endpoint ${d.authorizeUrl};
        token_endpoint ${d.tokenUrl};
        jwks_uri ${d.jwksUrl};
        revocation_endpoint ${d.tokenUrl};
        client_id ${d.clientId};
        client_secret ${d.clientSecret};
        allow_insecure_http on;
        cookie_secure off;
        cookie_name SEED;
        redirect_uri /seed/oidc_callback;
        token_request_format json;
        token_param all audience ${d.audience};
        client_auth authorization_code client_token;
        client_auth refresh_token client_token;
        client_auth revocation client_token;
        logout_uri /seed/logout;
        post_logout_uri /bye;
    }

    # the same account, asked in a form: Dintero refuses it
    oidc_provider dintero_form {
        issuer ${d.issuer};
        discovery off;
        token_endpoint ${d.tokenUrl};
        client_id ${d.clientId};
        client_secret ${d.clientSecret};
        allow_insecure_http on;
        token_param client_credentials audience ${d.audience};
    }

    auth_oidc_claim_set $vipps_sub user_info value sub;
    auth_oidc_claim_set $vipps_name user_info value name;
    auth_oidc_claim_set $vipps_authority user_info authority;

    server {
        listen 127.0.0.1:{{PORT}};

        location /op/ {
            auth_oidc_client_token op scope=api:read resource=urn:gateway:api;
            proxy_set_header Authorization "Bearer $oidc_client_token";
            proxy_pass http://${echo.addr};
        }

        location /dintero/ {
            auth_oidc_client_token dintero;
            proxy_set_header Authorization "Bearer $oidc_client_token";
            proxy_pass http://${echo.addr};
        }

        location /burst/ {
            auth_oidc_client_token dintero scope=burst;
            proxy_set_header Authorization "Bearer $oidc_client_token";
            proxy_pass http://${echo.addr};
        }

        location /burst-static/ {
            auth_oidc_client_token dintero scope=burst;
            alias {{PREFIX}}/html/;
        }

        location /ahead/ {
            auth_oidc_client_token dintero scope=ahead;
            proxy_set_header Authorization "Bearer $oidc_client_token";
            proxy_pass http://${echo.addr};
        }

        location /gone/ {
            auth_oidc_client_token dintero scope=gone;
            proxy_set_header Authorization "Bearer $oidc_client_token";
            proxy_pass http://${echo.addr};
        }

        location /form/ {
            auth_oidc_client_token dintero_form;
            proxy_set_header Authorization "Bearer $oidc_client_token";
            proxy_pass http://${echo.addr};
        }

        location /app/ {
            auth_oidc dintero;
            auth_oidc_header X-Vipps-Sub $vipps_sub;
            auth_oidc_header X-Vipps-Name $vipps_name;
            auth_oidc_header X-Vipps-Authority $vipps_authority;
            auth_oidc_header X-AT $oidc_access_token;
            proxy_pass http://${echo.addr};
        }

        location /seed/ {
            auth_oidc dintero_seed;
            auth_oidc_header X-Vipps-Sub $vipps_sub;
            proxy_pass http://${echo.addr};
        }

        location /oidc_callback {
            auth_oidc dintero;
            proxy_pass http://${echo.addr};
        }
    }
`,
  });
});

after(stopAll);

const bearerSeen = (req) => headerValues(req.headers, 'authorization')[0];
const ccGrants = (scope) => dintero.state.log.filter((l) => l.grant === 'client_credentials'
  && (scope === undefined || l.body?.scope === scope)).length;
const opGrants = () => op.events('grant.success').filter((e) => e.grant_type === 'client_credentials').length;

// the module's own log lines never carry a token or the secret
function assertNoSecretsLogged(tokens) {
  const ours = ng.errorLog().split('\n').filter((l) => l.includes('oidc:')).join('\n');
  for (const t of [...tokens, dintero.clientSecret, CLIENTS['api-client']]) {
    assert.equal(ours.includes(t), false, 'a token or secret in an oidc: log line');
  }
}

test('oidc-provider: a client credentials token with a resource, cached across requests and workers', async () => {
  const before = opGrants();
  const all = op.events('grant.success').length;
  const r = await http(ng.url('/op/a'));
  assert.equal(r.status, 200, r.body);
  const auth = bearerSeen(echo.last());
  assert.match(auth, /^Bearer ey/);
  const claims = decodeJwt(auth.slice(7)).payload;
  assert.equal(claims.aud, 'urn:gateway:api');
  assert.equal(claims.client_id, 'api-client');
  assert.equal(claims.scope, 'api:read');
  for (let i = 0; i < 20; i++) {
    const again = await http(ng.url(`/op/${i}`));
    assert.equal(again.status, 200);
    assert.equal(bearerSeen(echo.last()), auth);
  }
  // the provider's event line may lag its answer: waited for, then counted
  assert.ok(await op.waitEvent('grant.success', (e) => e.grant_type === 'client_credentials', { skip: all }));
  assert.equal(opGrants() - before, 1);
  // the token never reaches the client
  assert.equal(r.rawHeaders.some((h) => h.includes(auth.slice(7))), false);
  assertNoSecretsLogged([auth.slice(7)]);
});

test('Dintero: the client credentials grant in JSON with Basic and the audience; the token injected', async () => {
  const r = await http(ng.url('/dintero/x'));
  assert.equal(r.status, 200, r.body);
  const auth = bearerSeen(echo.last());
  const cc = dintero.state.log.filter((l) => l.grant === 'client_credentials' && !l.body.scope);
  assert.ok(cc.length >= 1);
  for (const l of cc) {
    assert.equal(l.contentType, 'application/json');
    assert.equal(l.auth, 'Basic');
    assert.deepEqual(Object.keys(l.body).sort(), ['audience', 'grant_type']);
    assert.equal(l.body.audience, dintero.audience);
  }
  assert.ok(dintero.state.clientTokens.has(auth.slice(7)), 'a token the provider issued');
});

test('Dintero refuses a form: no token, 502 with a clear log line', async () => {
  const mark = ng.mark();
  const r = await http(ng.url('/form/x'));
  assert.equal(r.status, 502);
  assert.ok(dintero.calls('refused-form') >= 1);
  const log = ng.errorLog(mark);
  assert.match(log, /client credentials grant at provider "dintero_form" refused: status 415/);
  assert.match(log, /no valid client credentials token from provider "dintero_form", answering 502/);
});

test('200 concurrent requests when the token has expired cause one renewal', async () => {
  dintero.state.ttl = 2;
  let r = await http(ng.url('/burst/first'));
  assert.equal(r.status, 200);
  const first = bearerSeen(echo.last());
  const grants = ccGrants('burst');
  // the token's own lifetime (2 s) runs out
  while (dintero.state.clientTokens.get(first.slice(7)) > Date.now() - 1100) await sleep(100);
  dintero.state.ttl = 300;
  const all = await Promise.all(Array.from({ length: 200 },
    (_, i) => http(ng.url(`/burst-static/index.html?${i}`), { timeout: 20000 })));
  assert.deepEqual([...new Set(all.map((x) => x.status))], [200]);
  assert.equal(ccGrants('burst') - grants, 1);
  r = await http(ng.url('/burst/after'));
  assert.equal(r.status, 200);
  const renewed = bearerSeen(echo.last());
  assert.notEqual(renewed, first);
  assert.equal(renewed.slice(7), dintero.lastClientToken());
});

test('a token is renewed ahead of expiry while the cached one keeps being used', async () => {
  dintero.state.ttl = 8;
  let r = await http(ng.url('/ahead/one'));
  assert.equal(r.status, 200);
  const first = bearerSeen(echo.last());
  const grants = ccGrants('ahead');
  dintero.state.ttl = 300;
  // past half its life (renewed from then on), well before its end
  while (dintero.state.clientTokens.get(first.slice(7)) > Date.now() + 3500) await sleep(100);
  r = await http(ng.url('/ahead/two'));
  assert.equal(r.status, 200);
  assert.equal(bearerSeen(echo.last()), first, 'the valid token, without waiting');
  let renewed = first;
  for (let i = 0; i < 100 && renewed === first; i++) {
    await sleep(50);
    r = await http(ng.url('/ahead/three'));
    assert.equal(r.status, 200);
    renewed = bearerSeen(echo.last());
  }
  assert.notEqual(renewed, first);
  assert.equal(ccGrants('ahead') - grants, 1);
});

test('provider down: the cached token is used until it expires, then 502', async () => {
  dintero.state.ttl = 3;
  let r = await http(ng.url('/gone/one'));
  assert.equal(r.status, 200);
  dintero.state.ttl = 300;
  const cached = bearerSeen(echo.last());
  const mark = ng.mark();
  dintero.setDown(true);
  try {
    r = await http(ng.url('/gone/two'));
    assert.equal(r.status, 200, 'still valid: still used');
    assert.equal(bearerSeen(echo.last()), cached);
    while (dintero.state.clientTokens.get(cached.slice(7)) > Date.now() - 1100) await sleep(100);
    r = await http(ng.url('/gone/three'));
    assert.equal(r.status, 502);
    const log = ng.errorLog(mark);
    assert.match(log, /client credentials grant at provider "dintero" failed/);
    assert.match(log, /no valid client credentials token from provider "dintero", answering 502/);
  } finally {
    dintero.setDown(false);
  }
  r = await http(ng.url('/gone/back'));
  assert.equal(r.status, 200);
  assert.notEqual(bearerSeen(echo.last()), cached);
  assertNoSecretsLogged([cached.slice(7)]);
});

/* a browser login through Dintero's federated login: a small cookie jar */

function jar() {
  const cookies = new Map();
  return {
    take(res) {
      for (const c of [].concat(res.headers['set-cookie'] || [])) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        const name = pair.slice(0, i).trim();
        const value = pair.slice(i + 1).trim();
        if (value === '' || /max-age=0/i.test(c)) cookies.delete(name); else cookies.set(name, value);
      }
    },
    header: () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
  };
}

async function login(j, path = '/app/home') {
  let r = await http(ng.url(path), { headers: NAV });
  assert.equal(r.status, 302, r.body);
  j.take(r);
  const authz = new URL(r.headers.location);
  assert.equal(authz.origin + authz.pathname, dintero.authorizeUrl);
  r = await http(authz.href);
  assert.equal(r.status, 302, r.body);
  r = await http(r.headers.location, { headers: { ...NAV, Cookie: j.header() } });
  assert.equal(r.status, 302, r.body);
  j.take(r);
  return r;
}

test('Dintero login: JSON code grant with Bearer client auth and audience; user_info by claim path', async () => {
  const j = jar();
  await login(j);
  const code = dintero.state.log.filter((l) => l.grant === 'authorization_code');
  assert.equal(code.length, 1);
  assert.equal(code[0].contentType, 'application/json');
  assert.equal(code[0].auth, 'Bearer');
  assert.equal(code[0].body.audience, dintero.audience);
  assert.ok(code[0].body.code_verifier);
  const r = await http(ng.url('/app/home'), { headers: { ...NAV, Cookie: j.header() } });
  assert.equal(r.status, 200, r.body);
  const seen = echo.last();
  assert.deepEqual(headerValues(seen.headers, 'x-vipps-sub'), ['vipps:alice']);
  assert.deepEqual(headerValues(seen.headers, 'x-vipps-name'), ['Vipps User alice']);
  assert.deepEqual(headerValues(seen.headers, 'x-vipps-authority'), ['vipps']);
});

test('Dintero refresh and revocation: JSON, Bearer client auth, audience on the grant', async () => {
  const j = jar();
  await login(j);
  const before = dintero.state.log.filter((l) => l.grant === 'refresh_token').length;
  // refresh_before (600 s) exceeds the tokens' life (300 s): renewed now
  let r = await http(ng.url('/app/r1'), { headers: { ...NAV, Cookie: j.header() } });
  assert.equal(r.status, 200, r.body);
  const refresh = dintero.state.log.filter((l) => l.grant === 'refresh_token');
  assert.equal(refresh.length - before, 1);
  const last = refresh[refresh.length - 1];
  assert.equal(last.contentType, 'application/json');
  assert.equal(last.auth, 'Bearer');
  assert.equal(last.body.audience, dintero.audience);
  const rt = last.body.refresh_token;
  assert.ok(rt);
  assert.deepEqual(headerValues(echo.last().headers, 'x-vipps-sub'), ['vipps:alice']);

  r = await http(ng.url('/app/logout'), { headers: { Cookie: j.header(), 'Sec-Fetch-Site': 'same-origin' } });
  assert.equal(r.status, 302, r.body);
  for (let i = 0; i < 100 && !dintero.state.refreshTokens.get(rt).revoked; i++) await sleep(50);
  assert.equal(dintero.state.refreshTokens.get(rt).revoked, true);
  const rev = dintero.state.log.filter((l) => l.grant === 'revoke');
  const lr = rev[rev.length - 1];
  assert.equal(lr.path, new URL(dintero.revokeUrl).pathname);
  assert.equal(lr.auth, 'Bearer');
  assert.equal(lr.contentType, 'application/json');
  assert.equal(lr.body.token, rt);
  assertNoSecretsLogged([rt]);
});

test('Dintero revocation posted to the token endpoint (the seed\'s form), audience on every call', async () => {
  const j = jar();
  await login(j, '/seed/home');
  let r = await http(ng.url('/seed/home'), { headers: { ...NAV, Cookie: j.header() } });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(headerValues(echo.last().headers, 'x-vipps-sub'), ['vipps:alice']);
  const code = dintero.state.log.filter((l) => l.grant === 'authorization_code');
  r = await http(ng.url('/seed/logout'), { headers: { Cookie: j.header(), 'Sec-Fetch-Site': 'same-origin' } });
  assert.equal(r.status, 302, r.body);
  const revoked = () => dintero.state.log.filter((l) => l.grant === 'revoke'
    && l.path === new URL(dintero.tokenUrl).pathname);
  for (let i = 0; i < 100 && revoked().length === 0; i++) await sleep(50);
  const rev = revoked();
  assert.equal(rev.length, 1);
  assert.equal(rev[0].auth, 'Bearer');
  assert.equal(rev[0].contentType, 'application/json');
  assert.equal(rev[0].body.audience, dintero.audience, '"token_param all" reaches revocation too');
  assert.equal(dintero.state.refreshTokens.get(rev[0].body.token).revoked, true);
  assert.equal(code[code.length - 1].body.audience, dintero.audience);
});
