// SMART on FHIR with a browser session: the provider's token response
// carries the launch context (`patient`, `scope`) next to the tokens
// (SMART App Launch 2.x, "access token response"); the gateway keeps these
// members with the session, so auth_oidc_smart and $oidc_claim_* see them
// as they would see a token's claims. A proxy in front of the real
// oidc-provider's token endpoint adds the launch context; Chromium logs in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import {
  startProvider, startEcho, startNginx, stopAll, http, freePort, onStop, CLIENTS, headerValues,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, echo, ng, origin, proxyOrigin;
const COOKIE = '__Host-NGX_OIDC_SESSION';
const LAUNCH = { patient: '123', scope: 'openid launch/patient patient/Observation.rs', need_patient_banner: true };

before(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  op = await startProvider({ rpOrigin: origin });

  // discovery and the token endpoint through this proxy, which adds the
  // launch context to successful token responses
  const proxy = nodeHttp.createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      if (req.url.startsWith('/.well-known/')) {
        const d = await op.discovery();
        d.token_endpoint = `${proxyOrigin}/token`;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(d));
        return;
      }
      const r = await http(`${op.issuer}/token`, {
        method: 'POST', body: Buffer.concat(chunks).toString(),
        headers: { 'Content-Type': req.headers['content-type'], Authorization: req.headers.authorization },
      });
      const body = r.status === 200 ? JSON.stringify({ ...JSON.parse(r.body), ...LAUNCH }) : r.body;
      res.writeHead(r.status, { 'Content-Type': 'application/json' });
      res.end(body);
    } catch (e) {
      res.writeHead(500); res.end(String(e));
    }
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  proxyOrigin = `http://127.0.0.1:${proxy.address().port}`;
  onStop(() => new Promise((r) => { proxy.closeAllConnections(); proxy.close(r); }));

  echo = await startEcho();
  ng = await startNginx({
    vars: { PORT: port },
    http: `
    oidc_provider op {
        issuer ${op.issuer};
        config_url ${proxyOrigin}/.well-known/openid-configuration;
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        scope openid;
        allow_insecure_http on;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        # the callback (/oidc_callback) lands here
        location / {
            auth_oidc op;
            proxy_pass http://${echo.addr};
        }
        location /fhir/ {
            auth_oidc op;
            auth_oidc_smart /fhir/;
            auth_oidc_header X-Smart-Patient $oidc_smart_patient;
            auth_oidc_header X-Banner $oidc_claim_need_patient_banner;
            auth_oidc_header X-User $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }
    }`,
  });
});

after(stopAll);

test('the launch context of the token response is kept with the session and enforced', async () => {
  const b = await launchBrowser();
  let cookie;
  try {
    const deep = '/fhir/Observation?patient=Patient/123&category=vital-signs';
    await b.page.goto(origin + deep);
    await devLogin(b.page, { login: 'alice', until: (u) => u.origin === origin });
    assert.equal(b.page.url(), origin + deep);
    // (the browser may ask for /favicon.ico meanwhile)
    const q = echo.requests.filter((x) => x.url === deep).at(-1);
    assert.ok(q, 'the upstream saw the deep link');
    assert.equal(headerValues(q.headers, 'x-smart-patient')[0], '123');
    assert.equal(headerValues(q.headers, 'x-banner')[0], 'true');
    assert.equal(headerValues(q.headers, 'x-user')[0], 'alice');
    cookie = (await b.cookies(origin)).find((c) => c.name === COOKIE);
    assert.ok(cookie);
  } finally {
    await b.close();
  }

  const get = async (p) => {
    const n = echo.requests.length;
    const r = await http(origin + p, { headers: { Cookie: `${COOKIE}=${cookie.value}`, Accept: 'application/fhir+json' } });
    r.reached = echo.requests.length > n;
    return r;
  };

  // the patient of the launch context, and a scope it grants
  let r = await get('/fhir/Observation?patient=Patient/123');
  assert.equal(r.status, 200);
  assert.ok(r.reached);

  // another patient, and a type the scope does not grant: refused, never upstream
  r = await get('/fhir/Observation?patient=Patient/999');
  assert.equal(r.status, 403);
  assert.equal(r.reached, false);
  assert.match(r.headers['www-authenticate'], /insufficient_scope/);
  assert.equal(JSON.parse(r.body).resourceType, 'OperationOutcome');

  r = await get('/fhir/Condition?patient=Patient/123');
  assert.equal(r.status, 403);
  assert.equal(r.reached, false);
});
