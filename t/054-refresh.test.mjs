// Session renewal with the refresh token (refresh_before): the renewal
// itself, one at a time across workers, and refresh_before 0. The real
// oidc-provider and headless Chromium; see t/lib/refresh.mjs (failures:
// t/054-refresh-failure.test.mjs).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll, nginxTestConfig } from './lib/harness.mjs';
import { startRefreshStack, sleep } from './lib/refresh.mjs';

const AT_TTL = 4;
let s;

before(async () => {
  s = await startRefreshStack({
    atTtl: AT_TTL,
    blocks: {
      due: '1h',        // longer than any access token: every request is due
      soon: '60s',      // due from login (4 s tokens); a renewed one (300 s) is not
      never: '0',
    },
    // a failed renewal is retried by the next request (see t/054-refresh-failure
    // for the pause, refresh_backoff)
    providerExtra: 'refresh_backoff 0;',
  });
});

after(stopAll);

test('refresh_before: bad values fail nginx -t with the directive and line', async () => {
  const conf = (v) => `
    oidc_provider p {
        issuer http://127.0.0.1:1;
        client_id c;
        allow_insecure_http on;
        refresh_before ${v};
    }`;
  for (const v of ['abc', '-1', '1x']) {
    const r = await nginxTestConfig(conf(v));
    assert.equal(r.ok, false, v);
    assert.match(r.stderr, /"refresh_before" directive invalid value in .*nginx\.conf:\d+/, v);
  }
  for (const v of ['0', '30s', '2m']) {
    const r = await nginxTestConfig(conf(v));
    assert.equal(r.ok, true, `${v}: ${r.stderr}`);
  }
});

test('a due session is renewed on its next request; the upstream gets the new access token', async () => {
  const mark = s.ng.mark();
  const cookie = await s.login('due');
  // the landing request was already due (4 s token, refresh_before 1h)
  const g0 = s.refreshGrants();
  assert.ok(g0 >= 1, 'the landing request renewed');

  const a = await s.get('due', cookie, '/one');
  assert.equal(a.status, 200);
  assert.equal(s.refreshGrants(), g0 + 1, 'one refresh_token grant from the gateway');
  const b = await s.get('due', cookie, '/two');
  assert.equal(b.status, 200);
  assert.equal(s.refreshGrants(), g0 + 2);
  assert.notEqual(a.at, b.at, 'a new access token each time');
  assert.equal(b.user, 'alice', 'the session continues');
  // refresh tokens rotate at this provider: the second renewal only works
  // with the refresh token the first one stored
  assert.equal(s.refreshErrors().length, 0);

  const log = s.oidcLog(mark);
  assert.match(log, /session renewed at provider "due"/);
  assert.ok(s.refreshTokens.size >= 3);
  for (const t of [a.at, b.at, ...s.refreshTokens]) assert.ok(!log.includes(t), 'no token in the log');
});

test('refresh_before 0: never renewed, the access token stays', async () => {
  const cookie = await s.login('never');
  const g0 = s.refreshGrants();
  const a = await s.get('never', cookie);
  const b = await s.get('never', cookie);
  assert.equal(a.status, 200);
  assert.equal(b.at, a.at);
  assert.equal(s.proxied.never || 0, 0);
  assert.equal(s.refreshGrants(), g0);
});

test('an expired access token: 50 requests at once over 2 workers, one renewal, all use it', async () => {
  // the landing request fails to renew (500) and goes on with the login
  // token, still valid; so does the next request, which retries
  s.modes.soon = '500';
  const mark = s.ng.mark();
  const cookie = await s.login('soon', 'bob');
  assert.equal(s.proxied.soon, 1);
  const a = await s.get('soon', cookie);
  assert.equal(a.status, 200);
  assert.equal(s.proxied.soon, 2, 'each request retries while it fails');
  assert.match(s.oidcLog(mark),
    /provider "soon": session renewal failed \(status 500\), the current access token is used/);

  s.modes.soon = undefined;
  await sleep(AT_TTL * 1000 + 1000);
  const g0 = s.refreshGrants();
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => s.get('soon', cookie, `/c${i}`)));
  assert.deepEqual(all.map((x) => x.status), Array(50).fill(200));
  assert.equal(s.refreshGrants(), g0 + 1, 'exactly one refresh_token grant');
  assert.equal(s.proxied.soon, 3);
  const ats = new Set(all.map((x) => x.at));
  assert.equal(ats.size, 1, 'every request used the renewed access token');
  assert.ok(!ats.has(a.at));
  assert.ok(Number(all[0].iat) > Number(a.iat), 'claims of the new ID token');
  // the renewed token (300 s) is not due with refresh_before 60s
  const c = await s.get('soon', cookie);
  assert.equal(c.at, all[0].at);
  assert.equal(s.refreshGrants(), g0 + 1);
});

test('a due but valid access token: requests during a renewal go on, one renewal at a time', async () => {
  const cookie = await s.login('due', 'carol');
  const g0 = s.refreshGrants();
  const e0 = s.refreshErrors().length;
  assert.equal((await s.get('due', cookie)).status, 200);     // now 300 s, and still due
  assert.equal(s.refreshGrants(), g0 + 1);
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => s.get('due', cookie, `/v${i}`)));
  assert.deepEqual(all.map((x) => x.status), Array(20).fill(200));
  assert.ok(all.every((x) => x.user === 'carol'));
  // refresh tokens rotate: two renewals at once would send the same one
  // twice, which the provider refuses (and revokes the grant for)
  assert.equal(s.refreshErrors().length, e0, 'no refresh token used twice');
  assert.ok(s.refreshGrants() - g0 - 1 < 20, 'requests during a renewal do not renew');
});
