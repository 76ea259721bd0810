// Session renewal failures: the provider refusing (a revoked refresh token),
// breaking the protocol (no access token, an ID token of another subject),
// failing (a non-JSON answer) or down. The real oidc-provider and headless
// Chromium; see t/lib/refresh.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll } from './lib/harness.mjs';
import { startRefreshStack, sleep, NAV, logoutDuringRenewal } from './lib/refresh.mjs';

const AT_TTL = 4;
const PAUSE = 12;                        // s: outlasts the login token's AT_TTL
let s;

before(async () => {
  s = await startRefreshStack({
    atTtl: AT_TTL,
    // the first four retry on the next request (refresh_backoff 0); "pause"
    // waits PAUSE s after a failed renewal before it asks again
    blocks: {
      due: ['1h', 'refresh_backoff 0;'],
      tamper: ['1h', 'refresh_backoff 0;'],
      revoke: ['1h', 'refresh_backoff 0;'],
      expired: ['60s', 'refresh_backoff 0;'],
      pause: ['1h', `refresh_backoff ${PAUSE};`],
      ended: ['1h', 'refresh_backoff 0; logout_uri /ended/logout;'],
    },
  });
});

after(stopAll);

test('an answer without an access token ends the session (401 for XHR, cookie cleared)', async () => {
  s.modes.tamper = '500';                 // the landing request keeps the login token
  const cookie = await s.login('tamper', 'dave');
  s.modes.tamper = 'no-access-token';
  const mark = s.ng.mark();
  const r = await s.get('tamper', cookie);
  assert.equal(r.status, 401);
  assert.ok(s.cleared(r.res, 'tamper'), 'cookie cleared');
  assert.match(s.oidcLog(mark), /renewal at provider "tamper" refused \(access_token missing\), session ended/);
  // the session is gone: no further renewal is tried
  const n = s.proxied.tamper;
  s.modes.tamper = undefined;
  assert.equal((await s.get('tamper', cookie)).status, 401);
  assert.equal(s.proxied.tamper, n);
});

test('an ID token of another subject ends the session; re-signed with the same subject it does not', async () => {
  s.modes.tamper = '500';
  const cookie = await s.login('tamper', 'erin');
  s.modes.tamper = 'resign';              // control: the provider's key, same sub
  const ok = await s.get('tamper', cookie);
  assert.equal(ok.status, 200);
  assert.equal(ok.user, 'erin');
  s.modes.tamper = 'other-sub';
  const mark = s.ng.mark();
  const r = await s.get('tamper', cookie, '/nav', NAV);
  assert.equal(r.status, 302, 'a navigation goes to log in again');
  assert.match(r.res.headers.location, new RegExp(`^${s.op.issuer}/auth\\?`));
  assert.ok(s.cleared(r.res, 'tamper'));
  assert.match(s.oidcLog(mark), /refused \(id token of another subject\), session ended/);
  s.modes.tamper = undefined;
  assert.equal((await s.get('tamper', cookie)).status, 401);
});

test('a non-JSON 200 answer is a provider failure: kept while valid, then 503, then renewed', async () => {
  s.modes.tamper = '500';
  const cookie = await s.login('tamper', 'frank');
  s.modes.tamper = 'html';
  const mark = s.ng.mark();
  const r = await s.get('tamper', cookie);
  assert.equal(r.status, 200, 'the login access token is still valid');
  assert.match(s.oidcLog(mark), /failed \(unusable answer: [^)]*\), the current access token is used/);
  await sleep(AT_TTL * 1000 + 1000);
  const expired = await s.get('tamper', cookie);
  assert.equal(expired.status, 503, 'expired and not renewed: 503, not 401');
  assert.match(s.oidcLog(mark), /failed \(unusable answer: [^)]*\), answering 503/);
  s.modes.tamper = undefined;
  const later = await s.get('tamper', cookie);
  assert.equal(later.status, 200, 'the session was kept for a retry, which succeeds');
  assert.notEqual(later.at, r.at);
});

test('refresh_backoff: after a failed renewal the session does not ask again until the pause is over', async () => {
  // the landing request's renewal fails: the pause starts there
  s.modes.pause = '500';
  const mark = s.ng.mark();
  const cookie = await s.login('pause', 'ivy');
  assert.equal(s.proxied.pause, 1);
  assert.match(s.oidcLog(mark), new RegExp(`provider "pause": session renewal failed \\(status 500\\), the current access token is used, retried after ${PAUSE} s`));
  s.modes.pause = undefined;
  // the login token is valid: used, without asking the provider
  const first = await s.get('pause', cookie);
  assert.equal(first.status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await s.get('pause', cookie)).at, first.at);
  assert.equal(s.proxied.pause, 1, 'no renewal while pausing');
  // expired within the pause: 503 with Retry-After, still not asked
  await sleep(AT_TTL * 1000 + 1000);
  const r = await s.get('pause', cookie);
  assert.equal(r.status, 503);
  assert.equal(r.res.headers['retry-after'], String(PAUSE));
  assert.equal(s.proxied.pause, 1, 'no renewal while pausing');
  assert.match(s.oidcLog(mark), /renewal at provider "pause" failed a moment ago and the access token has expired, answering 503/);
  // once the pause is over, one renewal, and the session goes on
  let ok;
  for (let i = 0; i < 200 && !ok; i++) {
    const x = await s.get('pause', cookie);
    if (x.status === 200) ok = x;
    else { assert.equal(x.status, 503); await sleep(100); }
  }
  assert.ok(ok, 'renewed after the pause');
  assert.notEqual(ok.at, first.at, 'a renewed access token');
  assert.equal(s.proxied.pause, 2, 'exactly one renewal after the pause');
});

test('a logout while the renewal is in flight: the session stays ended, the new refresh token is revoked', async () => {
  await logoutDuringRenewal(s, 'ended', 'judy');
});

test('the provider refuses the refresh token (revoked): log in again, or 401; the session is gone', async () => {
  const nav = await s.login('revoke', 'gina');
  const xhr = await s.login('revoke', 'gina');
  s.modes.revoke = 'revoke';
  const e0 = s.refreshErrors().length;
  const mark = s.ng.mark();

  const r = await s.get('revoke', nav, '/page', NAV);
  assert.equal(r.status, 302);
  assert.match(r.res.headers.location, new RegExp(`^${s.op.issuer}/auth\\?`));
  assert.ok(s.cleared(r.res, 'revoke'));
  const x = await s.get('revoke', xhr);
  assert.equal(x.status, 401);
  assert.ok(s.cleared(x.res, 'revoke'));
  assert.match(x.res.headers['www-authenticate'], /^Bearer realm="revoke"/);

  assert.deepEqual(s.refreshErrors().slice(e0).map((e) => e.error), ['invalid_grant', 'invalid_grant']);
  assert.match(s.oidcLog(mark),
    /renewal at provider "revoke" refused \(status 400, invalid_grant\), session ended/);

  // gone: no session, no renewal attempt
  s.modes.revoke = undefined;
  const n = s.proxied.revoke;
  assert.equal((await s.get('revoke', xhr)).status, 401);
  assert.equal((await s.get('revoke', nav, '/page', NAV)).status, 302);
  assert.equal(s.proxied.revoke, n);
});

test('provider down: a valid access token goes on, an expired one gets 503; after a restart', async () => {
  // a due session with a valid token (300 s after its first renewal)
  const valid = await s.login('due', 'hank');
  const v0 = await s.get('due', valid);
  assert.equal(v0.status, 200);
  // a session whose login token is left to expire (its landing renewal fails)
  s.modes.expired = '500';
  const expired = await s.login('expired', 'hank');
  s.modes.expired = undefined;
  await sleep(AT_TTL * 1000 + 1000);

  await s.op.stop();
  const mark = s.ng.mark();
  const v = await s.get('due', valid);
  assert.equal(v.status, 200, 'the valid access token is used');
  assert.equal(v.at, v0.at);
  const all = await Promise.all([1, 2, 3].map((i) => s.get('expired', expired, `/e${i}`)));
  assert.deepEqual(all.map((x) => x.status), [503, 503, 503]);
  const log = s.oidcLog(mark);
  assert.match(log, /provider "due": session renewal failed \([^)]*\), the current access token is used/);
  assert.match(log, /provider "expired": session renewal failed \([^)]*\), answering 503/);

  // oidc-provider keeps its grants in memory: after a restart it no longer
  // knows the refresh tokens, answers invalid_grant, and the sessions end
  await s.op.restart();
  const e0 = s.refreshErrors().length;
  const after = await s.get('expired', expired);
  assert.equal(after.status, 401);
  assert.ok(s.cleared(after.res, 'expired'));
  assert.deepEqual(s.refreshErrors().slice(e0).map((e) => e.error), ['invalid_grant']);
  assert.equal((await s.get('due', valid)).status, 401);
});
