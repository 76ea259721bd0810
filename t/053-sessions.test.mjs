// Sessions in the shared memory store: a new session id on every login (the
// old session ends), idle and absolute timeouts, kept across a reload, and
// the same answer from every worker although each keeps copies of sessions
// in its own cache. Real oidc-provider, real headless Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startProvider, startEcho, startNginx, stopAll, http, freePort, CLIENTS, headerValues,
} from './lib/harness.mjs';
import { launchBrowser, devLogin } from './lib/browser.mjs';

let op, echo, ng, port, origin;
const IDLE = 'IDLE';
const SHORT = 'SHORT';

const provider = (name, extra = '') => `
    oidc_provider ${name} {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        ${extra}
    }`;

before(async () => {
  port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  op = await startProvider({
    rpOrigin: origin,
    redirectUris: [`${origin}/oidc_callback`, `${origin}/idle/cb`, `${origin}/short/cb`],
  });
  echo = await startEcho();
  ng = await startNginx({
    vars: { PORT: port },
    workers: 2,
    http: `
    ${provider('op')}
    ${provider('op_idle', `redirect_uri /idle/cb; cookie_name ${IDLE}; session_idle_timeout 5s;`)}
    ${provider('op_short', `redirect_uri /short/cb; cookie_name ${SHORT}; session_timeout 4s;`)}
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc op;
            auth_oidc_header X-User $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }
        location /idle/ {
            auth_oidc op_idle;
            auth_oidc_header X-User $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }
        location /short/ {
            auth_oidc op_short;
            auth_oidc_header X-User $oidc_claim_sub;
            proxy_pass http://${echo.addr};
        }
    }`,
  });
});

after(stopAll);

// a browser login at `path`; the session cookie's value
async function login(b, path, name, user = 'alice') {
  await b.page.goto(origin + path);
  await devLogin(b.page, { login: user, until: (u) => u.origin === origin });
  const c = (await b.cookies(origin)).find((x) => x.name === `__Host-${name}`);
  assert.ok(c, `session cookie ${name} set`);
  return c.value;
}

// plain requests with a session cookie, each on a new connection (so both
// workers answer); the statuses
async function statuses(path, name, value, n = 12) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await http(origin + path, {
      headers: { Cookie: `__Host-${name}=${value}`, Accept: 'application/json', Connection: 'close' },
    });
    out.push(r.status);
  }
  return out;
}

test('idle timeout: activity keeps the session, idleness ends it on every worker', async () => {
  const b = await launchBrowser();
  let value;
  try {
    value = await login(b, '/idle/start', IDLE);
    // used at once (closing the browser may take a while on a busy machine)
    assert.deepEqual(await statuses('/idle/a', IDLE, value, 2), [200, 200]);
  } finally {
    await b.close();
  }
  // active: a request every second for longer than the idle timeout (5 s)
  for (let i = 0; i < 7; i++) {
    assert.deepEqual(await statuses('/idle/a', IDLE, value, 2), [200, 200]);
    await sleep(1000);
  }
  // idle for longer than the timeout: ended, whichever worker answers
  await sleep(6500);
  assert.deepEqual(new Set(await statuses('/idle/b', IDLE, value)), new Set([401]));
  assert.match(ng.errorLog(), /unknown or expired session|session ended while idle/);
});

test('session_timeout: the session ends after it, active or not', async () => {
  const b = await launchBrowser();
  let value;
  try {
    value = await login(b, '/short/start', SHORT);
  } finally {
    await b.close();
  }
  assert.deepEqual(new Set(await statuses('/short/a', SHORT, value, 4)), new Set([200]));
  await sleep(4500);
  assert.deepEqual(new Set(await statuses('/short/b', SHORT, value)), new Set([401]));
});

test('sessions survive nginx -s reload, and every worker agrees', async () => {
  const b = await launchBrowser();
  let value;
  try {
    value = await login(b, '/app/start', 'NGX_OIDC_SESSION', 'carol');
  } finally {
    await b.close();
  }
  assert.deepEqual(new Set(await statuses('/app/a', 'NGX_OIDC_SESSION', value)), new Set([200]));
  await ng.reload();
  assert.deepEqual(new Set(await statuses('/app/b', 'NGX_OIDC_SESSION', value)), new Set([200]));
  assert.equal(headerValues(echo.requests.at(-1).headers, 'x-user')[0], 'carol');
  // a forged id next to it: refused by every worker
  const forged = `${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`;
  assert.deepEqual(new Set(await statuses('/app/c', 'NGX_OIDC_SESSION', forged)), new Set([401]));
});
