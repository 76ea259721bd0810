// Session renewal (refresh_before) with the sessions in Redis: the renewal
// lock is a SET NX PX in Redis, the renewed record replaces the old one
// with SET XX PX, waiting requests poll the lock. Same scenarios as
// t/054-refresh.test.mjs; real redis-server, oidc-provider and Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopAll } from './lib/harness.mjs';
import { startRefreshStack, sleep, logoutDuringRenewal } from './lib/refresh.mjs';

const AT_TTL = 4;
let s, redis;

before(async () => {
  redis = await startRedis();
  s = await startRefreshStack({
    atTtl: AT_TTL,
    blocks: { due: '1h', soon: '60s', ended: ['1h', 'logout_uri /ended/logout;'] },
    httpExtra: `oidc_redis shared { server ${redis.addr}; prefix rf:; cache_time 0; }`,
    providerExtra: 'session_store shared; refresh_backoff 0;',
  });
});

after(stopAll);

test('a due session is renewed on its next request; the record in Redis is replaced', async () => {
  const cookie = await s.login('due');
  const g0 = s.refreshGrants();
  assert.ok(g0 >= 1, 'the landing request renewed');
  const a = await s.get('due', cookie, '/one');
  assert.equal(a.status, 200);
  assert.equal(s.refreshGrants(), g0 + 1);
  const b = await s.get('due', cookie, '/two');
  assert.equal(b.status, 200);
  assert.equal(s.refreshGrants(), g0 + 2);
  assert.notEqual(a.at, b.at, 'a new access token each time');
  assert.equal(b.user, 'alice');
  // refresh tokens rotate: the second renewal used the one the first stored
  assert.equal(s.refreshErrors().length, 0);
  const keys = (await redis.cli('--scan', '--pattern', 'rf:s:due:*')).stdout.trim().split('\n');
  assert.equal(keys.length, 1, 'one session record');
  assert.ok(Number((await redis.cli('PTTL', keys[0])).stdout) > 0, 'with its TTL');
});

test('an expired access token: 50 requests at once over 2 workers, one renewal, all use it', async () => {
  s.modes.soon = '500';
  const cookie = await s.login('soon', 'bob');
  const a = await s.get('soon', cookie);
  assert.equal(a.status, 200);
  s.modes.soon = undefined;
  await sleep(AT_TTL * 1000 + 1000);
  const g0 = s.refreshGrants();
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => s.get('soon', cookie, `/c${i}`)));
  assert.deepEqual(all.map((x) => x.status), Array(50).fill(200));
  assert.equal(s.refreshGrants(), g0 + 1, 'exactly one refresh_token grant');
  const ats = new Set(all.map((x) => x.at));
  assert.equal(ats.size, 1, 'every request used the renewed access token');
  assert.ok(!ats.has(a.at));
  // the lock is gone once the renewal is over
  assert.equal((await redis.cli('--scan', '--pattern', 'rf:r:*')).stdout.trim(), '');
});

test('a due but valid access token: requests during a renewal go on, one renewal at a time', async () => {
  const cookie = await s.login('due', 'carol');
  const g0 = s.refreshGrants();
  const e0 = s.refreshErrors().length;
  assert.equal((await s.get('due', cookie)).status, 200);
  assert.equal(s.refreshGrants(), g0 + 1);
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => s.get('due', cookie, `/v${i}`)));
  assert.deepEqual(all.map((x) => x.status), Array(20).fill(200));
  assert.ok(all.every((x) => x.user === 'carol'));
  assert.equal(s.refreshErrors().length, e0, 'no refresh token used twice');
  assert.ok(s.refreshGrants() - g0 - 1 < 20, 'requests during a renewal do not renew');
});

test('a logout while the renewal is in flight (Redis): the session stays ended, the new refresh token is revoked', async () => {
  await logoutDuringRenewal(s, 'ended', 'judy');
});
