// The provider runtime: discovery and JWKS fetched by the module's own HTTP
// client, shared by the workers, refreshed, and its failure modes. The real
// oidc-provider serves the happy paths; a small scriptable server in this
// file stands in where a failure must be injected (a wrong issuer, a
// redirect, an oversized or malformed answer, chunked bodies).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import {
  startProvider, startEcho, startNginx, startHangingServer, holdRequests, nginxTestConfig, stopAll,
  http, sign, makeKeys, publicJwks, makeTls, makePrefix, freePort,
} from './lib/harness.mjs';
import { startFakeIdp, logged } from './lib/fakeidp.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mine = [];

after(async () => {
  for (const s of mine.splice(0)) await s();
  await stopAll();
});

/* ------------------------------------------------------------------ */
/* helpers                                                             */

let echo;

async function upstream() {
  echo ||= await startEcho();
  return echo;
}

// nginx protecting / with provider "p"; `body` goes inside oidc_provider
async function gateway(issuer, body = '', { workers = 1, http: extra = '', main = '' } = {}) {
  const e = await upstream();
  return startNginx({
    workers,
    main,
    http: `
    ${extra}
    oidc_provider p {
        issuer ${issuer};
        allow_insecure_http on;
        audience urn:api;
        audience urn:gateway:api;
${body}
    }

    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc p;
            proxy_pass http://${e.addr};
        }
    }
`,
  });
}

const get = (ng, token) => http(ng.url('/'), { headers: { Authorization: `Bearer ${token}` } });

const count = (text, re) => (text.match(new RegExp(re.source, `${re.flags.replace('g', '')}g`)) || []).length;

// errors only, not the debug lines that repeat the same message
const errors = (ng, since = 0) => ng.errorLog(since).split('\n')
  .filter((l) => /\[(error|crit|alert|emerg)\]/.test(l)).join('\n');

// A tiny DNS server: A 127.0.0.1 for names under .test, nothing else.
async function startDns() {
  const sock = dgram.createSocket('udp4');
  let queries = 0;
  sock.on('message', (msg, rinfo) => {
    queries++;
    let o = 12;
    const labels = [];
    while (msg[o] !== 0) { labels.push(msg.subarray(o + 1, o + 1 + msg[o]).toString()); o += msg[o] + 1; }
    const qtype = msg.readUInt16BE(o + 1);
    const question = msg.subarray(12, o + 5);
    const name = labels.join('.');
    const answer = qtype === 1 && name.endsWith('.test');
    const head = Buffer.alloc(12);
    msg.copy(head, 0, 0, 2);
    head.writeUInt16BE(answer ? 0x8180 : 0x8180, 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(answer ? 1 : 0, 6);
    const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    sock.send(Buffer.concat([head, question, ...(answer ? [rr] : [])]), rinfo.port, rinfo.address);
  });
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  mine.push(() => new Promise((r) => sock.close(r)));
  return { port: sock.address().port, get queries() { return queries; } };
}

/* ------------------------------------------------------------------ */
/* start-up and sharing                                                */

test('discovery and JWKS are fetched at start by one worker and shared', async () => {
  const op = await startProvider();
  const ng = await gateway(op.issuer, '', { workers: 2 });

  await logged(ng, /oidc: provider "p": 2 keys fetched, generation 1/);
  await logged(ng, /oidc: provider "p": keys of generation 1 imported/);
  assert.equal(count(ng.errorLog(), /oidc: provider "p": fetching discovery/), 1);
  assert.equal(count(ng.errorLog(), /oidc: provider "p": fetching JWKS/), 1);

  const token = await op.token();
  for (let i = 0; i < 6; i++) {
    const r = await get(ng, token);
    assert.equal(r.status, 200, r.body);
  }
  assert.equal(errors(ng), '');
});

test('a reload keeps the keys: new workers import them, nothing is fetched', async () => {
  const op = await startProvider();
  const ng = await gateway(op.issuer);
  await logged(ng, /keys fetched, generation 1/);

  const mark = ng.mark();
  await ng.reload();
  await logged(ng, /keys of generation 1 imported/, { since: mark });
  assert.equal((await get(ng, await op.token())).status, 200);
  assert.doesNotMatch(ng.errorLog(mark), /fetching discovery/);
});

test('a host name resolved at configuration time serves without a resolver', async () => {
  const port = await freePort();
  const op = await startProvider({ port, env: { OP_HOST: 'localhost' } });
  assert.equal(op.issuer, `http://localhost:${port}`);
  const ng = await gateway(op.issuer);
  assert.equal((await get(ng, await op.token())).status, 200);
});

test('with a "resolver", host names are resolved at run time', async () => {
  const dns = await startDns();
  const port = await freePort();
  const op = await startProvider({ port, env: { OP_HOST: 'idp.test' } });
  const ng = await gateway(op.issuer, '', { http: `resolver 127.0.0.1:${dns.port} ipv6=off;` });
  // node cannot resolve idp.test: sign with the provider's own key
  const token = op.sign({}, op.payload({ aud: 'urn:gateway:api' }));
  assert.equal((await get(ng, token)).status, 200);
  assert.ok(dns.queries > 0, 'the resolver was asked');
});

test('a jwks_uri host that cannot be resolved fails with a clear message', async () => {
  const fake = await startFakeIdp({ discovery: { jwks_uri: 'http://jwks.invalid/jwks' } });
  const ng = await gateway(fake.issuer);
  await logged(ng, /cannot resolve "jwks\.invalid": no "resolver" is configured/);
  assert.equal((await get(ng, fake.token())).status, 503);
});

/* ------------------------------------------------------------------ */
/* failures                                                            */

test('an issuer that does not match the discovery document is refused', async () => {
  const fake = await startFakeIdp({ discovery: { issuer: 'http://evil.example' } });
  const ng = await gateway(fake.issuer);
  await logged(ng, /\[error\].*oidc: provider "p": discovery document's "issuer" "http:\/\/evil\.example" does not match/);
  assert.equal(fake.hits('/jwks'), 0);
  for (let i = 0; i < 3; i++) assert.equal((await get(ng, fake.token())).status, 503);
  await sleep(1500);
  // once per failure streak, not per request nor per retry
  assert.equal(count(errors(ng), /does not match/), 1);
  assert.equal(count(errors(ng), /no usable keys, answering 503/), 1);
});

test('provider down at start, then up: keys arrive without a reload', async () => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const ng = await gateway(issuer);
  await logged(ng, /\[error\].*oidc: provider "p": discovery document not fetched: .*no usable keys yet/);
  assert.equal((await get(ng, 'x.y.z')).status, 401);

  const op = await startProvider({ port });
  const token = await op.token();
  const until = Date.now() + 15000;
  let status;
  while (Date.now() < until) {
    status = (await get(ng, token)).status;
    if (status === 200) break;
    assert.equal(status, 503);
    await sleep(200);
  }
  assert.equal(status, 200);
  await logged(ng, /\[notice\].*oidc: provider "p": keys fetched after \d+ failed attempts/);
});

test('a provider that never answers times out after read_timeout', async () => {
  const hang = await startHangingServer();
  const fake = await startFakeIdp();          // signs a well-formed token
  const ng = await gateway(`http://127.0.0.1:${hang.port}`, 'read_timeout 1500ms;');

  // the request waits for the first keys, then gets 503: the fetch's
  // read_timeout is logged before the waiting requests are answered
  assert.equal((await get(ng, fake.token())).status, 503);
  assert.match(ng.errorLog(),
    /discovery document not fetched: 127\.0\.0\.1:\d+ timed out \("read_timeout"\); no usable keys yet/);
  assert.doesNotMatch(ng.errorLog(), /connection to 127\.0\.0\.1:\d+ timed out/);
  assert.ok(hang.accepted >= 1);
});

// nginx protecting / with provider "p" (a read_timeout far beyond the
// test's needs: the test, not nginx, ends a held fetch), /h/ with static
// keys, /open/ with no auth_oidc and the status page
async function gatewayWithOthers(fake, body = '') {
  const e = await upstream();
  return startNginx({
    http: `
    oidc_provider p {
        issuer ${fake.issuer};
        allow_insecure_http on;
        audience urn:api;
        read_timeout 120s;
${body}
    }
${hmacProvider()}
    server {
        listen 127.0.0.1:{{PORT}};
        location / { auth_oidc p; proxy_pass http://${e.addr}; }
        location /h/ { auth_oidc h; proxy_pass http://${e.addr}; }
        location /open/ { proxy_pass http://${e.addr}; }
        location = /status { oidc_status; }
    }
`,
  });
}

// provider "h": HS256 with a secret in a file (followed by a newline)
const HMAC_SECRET = 'a-shared-secret-of-at-least-32-bytes!!';

function hmacProvider() {
  const file = path.join(makePrefix('keys'), 'hmac.key');
  fs.writeFileSync(file, `${HMAC_SECRET}\n`);
  return `
    oidc_provider h {
        issuer urn:static;
        hmac_secret_file ${file};
        audience urn:api;
    }`;
}

const hmacToken = () => {
  const now = Math.floor(Date.now() / 1000);
  return sign({ alg: 'HS256' }, { iss: 'urn:static', aud: 'urn:api', sub: 'bob', iat: now, exp: now + 300 },
    HMAC_SECRET);
};

const sendJson = (obj, status = 200) => (req, res) => {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};

// a request whose end the test can look at without waiting for it
function pending(promise) {
  const p = { settled: false };
  p.done = promise.finally(() => { p.settled = true; });
  return p;
}

// what needs no provider "p" is answered while p's fetch is held
async function othersAnswered(ng, what) {
  assert.equal((await http(ng.url('/open/x'))).status, 200, `${what}: a location without auth_oidc`);
  const h = await http(ng.url('/h/x'), { headers: { Authorization: `Bearer ${hmacToken()}` } });
  assert.equal(h.status, 200, `${what}: a provider with static keys`);
  const st = await http(ng.url('/status'));
  assert.equal(st.status, 200, `${what}: the status page`);
  assert.ok(JSON.parse(st.body).providers.p, `${what}: the status page lists p`);
}

test('a slow provider delays no request that does not wait for it', async () => {
  const fake = await startFakeIdp();
  const hold = holdRequests();
  fake.on('/.well-known/openid-configuration', hold.handle);
  const ng = await gatewayWithOthers(fake, 'jwks_refresh 1s;');

  // the first fetch is held: a Bearer request of p waits for it
  const waiting = pending(http(ng.url('/'), {
    headers: { Authorization: `Bearer ${fake.token()}` }, timeout: 100000,
  }));
  await hold.next();
  await logged(ng, /oidc: provider "p": waiting for keys/);
  await othersAnswered(ng, 'first fetch held');
  assert.equal(waiting.settled, false, 'the request of p waits for the keys');
  assert.equal(hold.held, 1);

  // released: the waiting request resumes with the keys
  hold.release(sendJson(fake.discovery));
  assert.equal((await waiting.done).status, 200);
  await logged(ng, /keys fetched, generation 1\b/);

  // a refresh held: tokens of p verify with the keys already known
  await hold.next();
  for (let i = 0; i < 5; i++) {
    assert.equal((await get(ng, fake.token({ sub: `user-${i}` }))).status, 200, `token ${i} during the refresh`);
  }
  await othersAnswered(ng, 'refresh held');
  assert.equal(hold.held, 1, 'still the one refresh');
  assert.doesNotMatch(ng.errorLog(), /generation 2\b/);
  hold.release(sendJson(fake.discovery));
  await logged(ng, /keys fetched, generation 2\b/);
  assert.equal((await get(ng, fake.token())).status, 200);
  assert.equal(errors(ng), '');
});

test('while backing off, a request gets 503 without waiting for a fetch', async () => {
  const fake = await startFakeIdp();
  fake.on('/.well-known/openid-configuration', (req, res) => res.writeHead(500).end('oops'));
  const ng = await gatewayWithOthers(fake);
  const token = fake.token();

  // failures in a row back off up to 5 s without keys (1, 2, 4, 5 s)
  await logged(ng, /oidc: provider "p": failure 4, next try in 5s/, { timeout: 30000 });
  const hold = holdRequests();
  fake.on('/.well-known/openid-configuration', hold.handle);

  // within the backoff: answered 503 before any fetch starts (a request
  // waiting for a fetch would stay unanswered while the fetch is held)
  const answer = get(ng, token);
  const first = await Promise.race([answer.then(() => 'answer'), hold.next().then(() => 'fetch')]);
  assert.equal(first, 'answer', 'answered before a fetch started');
  assert.equal((await answer).status, 503);
  assert.equal(hold.seen, 0);
  await othersAnswered(ng, 'backing off');

  // the backoff over, a fetch starts by itself; released, keys arrive
  await hold.next();
  hold.release(sendJson(fake.discovery));
  await logged(ng, /\[notice\].*oidc: provider "p": keys fetched after \d+ failed attempts/);
  assert.equal((await get(ng, token)).status, 200);
});

// A listening socket whose accept queue is full: connect() hangs there.
// Node always accepts, so python3 holds it (the test is skipped without).
const hasPython = spawnSync('python3', ['-c', '1']).status === 0;

async function startFullBacklog() {
  const child = spawn('python3', ['-u', '-c', `
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
cs = []
for i in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    cs.append(c)
print(s.getsockname()[1], flush=True)
time.sleep(120)
`], { stdio: ['ignore', 'pipe', 'inherit'] });
  mine.push(async () => { child.kill('SIGKILL'); });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', () => reject(new Error('python3 exited')));
  });
  return port;
}

test('a provider that never accepts times out after connect_timeout', { skip: !hasPython }, async () => {
  const port = await startFullBacklog();
  const fake = await startFakeIdp();
  const ng = await gateway(`http://127.0.0.1:${port}`, 'connect_timeout 700ms;');
  // the connect timeout is logged before the waiting request is answered
  assert.equal((await get(ng, fake.token())).status, 503);
  assert.match(ng.errorLog(), /discovery document not fetched: connection to 127\.0\.0\.1:\d+ timed out/);
  assert.doesNotMatch(ng.errorLog(), /"read_timeout"/);
});

test('requests waiting for the first keys all resume with one fetch', async () => {
  const fake = await startFakeIdp();
  // the discovery document is held until every request waits
  const hold = holdRequests();
  fake.on('/.well-known/openid-configuration', hold.handle);
  const ng = await gateway(fake.issuer);
  const token = fake.token();
  await hold.next();

  // a client that gives up while waiting: its request leaves the queue
  const gone = http(ng.url('/'), { headers: { Authorization: `Bearer ${token}` }, timeout: 200 })
    .then(() => 'answered', (e) => e.code);
  assert.equal(await gone, 'ETIMEDOUT');
  const all = Promise.all(Array.from({ length: 20 }, () => http(ng.url('/'), {
    headers: { Authorization: `Bearer ${token}` }, timeout: 100000,
  })));
  for (let i = 0; i < 400 && count(ng.errorLog(), /oidc: provider "p": waiting for keys/) < 21; i++) await sleep(25);
  assert.equal(count(ng.errorLog(), /oidc: provider "p": waiting for keys/), 21, 'all waiting');
  assert.equal(hold.seen, 1);
  hold.release(sendJson(fake.discovery));
  assert.deepEqual((await all).map((r) => r.status), Array(20).fill(200));
  assert.equal((await get(ng, token)).status, 200);
  assert.equal(fake.hits('/.well-known/openid-configuration'), 1);
  // the 20, and the one whose client left if nginx has not seen it go yet
  assert.ok(count(ng.errorLog(), /oidc: request resumed after keys fetch/) >= 20);
});

test('a graceful stop answers the requests waiting for keys first', async () => {
  const fake = await startFakeIdp();
  const hold = holdRequests();
  fake.on('/.well-known/openid-configuration', hold.handle);
  const ng = await gateway(fake.issuer, 'read_timeout 120s;');
  const waiting = pending(http(ng.url('/'), {
    headers: { Authorization: `Bearer ${fake.token()}` }, timeout: 100000,
  }));
  await hold.next();
  await logged(ng, /oidc: provider "p": waiting for keys/);

  // the worker shuts down but keeps the request until its fetch ends
  const stopping = ng.stop(100000);
  await logged(ng, /\[notice\].*gracefully shutting down/);
  assert.equal(waiting.settled, false, 'the worker waits for the fetch');
  hold.release((req, res) => res.writeHead(500).end('oops'));
  assert.equal((await waiting.done).status, 503);
  await stopping;
  assert.doesNotMatch(ng.errorLog(), /open socket|\[alert\]/);
});

test('worker_shutdown_timeout closes a waiting request (its pool cleanup runs)', async () => {
  const fake = await startFakeIdp();
  const hold = holdRequests();
  fake.on('/.well-known/openid-configuration', hold.handle);
  const ng = await gateway(fake.issuer, 'read_timeout 120s;', { main: 'worker_shutdown_timeout 300ms;' });
  const pending_ = get(ng, fake.token()).then((r) => r.status, (e) => e.code || e.message);
  await hold.next();
  await logged(ng, /oidc: provider "p": waiting for keys/);
  // the fetch is never answered: only worker_shutdown_timeout ends the worker
  await ng.stop(100000);
  assert.notEqual(await pending_, 200);
  assert.equal(hold.held, 1, 'the fetch was never answered');
  assert.match(ng.errorLog(), /oidc: a request waiting for keys was closed/);
  assert.match(ng.errorLog(), /oidc: http error: the worker is shutting down/);
  assert.doesNotMatch(ng.errorLog(), /exited on signal|\[alert\]/);
});

test('a redirect is never followed', async () => {
  const op = await startProvider();
  const fake = await startFakeIdp();
  fake.on('/.well-known/openid-configuration', (req, res) => {
    res.writeHead(302, { Location: `${op.issuer}/.well-known/openid-configuration`, 'Content-Length': 0 });
    res.end();
  });
  const ng = await gateway(fake.issuer);
  await logged(ng, /discovery document not fetched: redirect \(302\) not followed/);
  assert.equal((await get(ng, fake.token())).status, 503);
});

test('an answer above max_response_size is refused (Content-Length)', async () => {
  const fake = await startFakeIdp();
  fake.discovery.padding = 'x'.repeat(3000);
  const ng = await gateway(fake.issuer, 'max_response_size 2k;');
  await logged(ng, /response of \d+ bytes is larger than "max_response_size"/);
});

test('an answer above max_response_size is refused (chunked)', async () => {
  const fake = await startFakeIdp();
  fake.discovery.padding = 'x'.repeat(3000);
  fake.chunked('/.well-known/openid-configuration', fake.discovery, {}, 5);
  const ng = await gateway(fake.issuer, 'max_response_size 2k;');
  await logged(ng, /discovery document not fetched: response is larger than "max_response_size"/);
});

test('chunked answers and Cache-Control max-age (clamped to 60s..24h)', async () => {
  const fake = await startFakeIdp();
  fake.chunked('/.well-known/openid-configuration', fake.discovery, {}, 7);
  fake.chunked('/jwks', publicJwks(fake.keys), { 'Cache-Control': 'public, max-age=120' }, 4);
  const ng = await gateway(fake.issuer);
  await logged(ng, /1 keys fetched, generation 1, refresh in 120\b/);
  assert.equal((await get(ng, fake.token())).status, 200);

  const fake2 = await startFakeIdp();
  fake2.json('/jwks', publicJwks(fake2.keys), { 'Cache-Control': 'max-age=5' });
  const ng2 = await gateway(fake2.issuer);
  await logged(ng2, /refresh in 60\b/);
});

test('a malformed JWKS on refresh keeps the last good keys', async () => {
  const fake = await startFakeIdp();
  const ng = await gateway(fake.issuer, 'jwks_refresh 1s;');
  await logged(ng, /generation 1\b/);
  const token = fake.token();
  assert.equal((await get(ng, token)).status, 200);

  fake.json('/jwks', '{"keys": [ {"kty": "RSA"');
  await logged(ng, /\[error\].*oidc: provider "p": JWKS refused: .*the last good keys stay in use/);
  assert.equal((await get(ng, fake.token())).status, 200);

  fake.json('/jwks', { keys: [] });
  await sleep(1200);
  assert.equal((await get(ng, fake.token())).status, 200);

  fake.json('/jwks', () => publicJwks(fake.keys));
  await logged(ng, /\[notice\].*keys fetched after \d+ failed attempts/, { timeout: 15000 });
  assert.equal((await get(ng, fake.token())).status, 200);
});

test('a 5xx from the provider keeps the last good keys', async () => {
  const fake = await startFakeIdp();
  const ng = await gateway(fake.issuer, 'jwks_refresh 1s;');
  await logged(ng, /generation 1\b/);
  fake.on('/.well-known/openid-configuration', (req, res) => res.writeHead(500).end('oops'));
  await logged(ng, /discovery document not fetched: status 500; the last good keys stay in use/);
  assert.equal((await get(ng, fake.token())).status, 200);
});

/* ------------------------------------------------------------------ */
/* key rotation                                                        */

test('an unknown kid triggers one JWKS refetch, rate limited', async () => {
  const op = await startProvider({ keys: await makeKeys({ rsa: true, ec: false }) });
  const ng = await gateway(op.issuer, 'jwks_refetch_interval 2s;');
  assert.equal((await get(ng, await op.token())).status, 200);

  // the provider rotates its keys
  await op.restart({ keys: await makeKeys({ rsa: true, ec: false, kidPrefix: 'b-' }) });
  const mark = ng.mark();
  const rotated = await op.token();
  assert.equal((await get(ng, rotated)).status, 200);
  assert.equal(count(ng.errorLog(mark), /fetching JWKS/), 1);
  assert.doesNotMatch(ng.errorLog(mark), /fetching discovery/);

  // kids nobody knows: the first may refetch, the next ones do not
  await sleep(2100);
  const mark2 = ng.mark();
  const k = op.keys.keys[0];
  for (const kid of ['nope-1', 'nope-2', 'nope-3']) {
    const forged = sign({ alg: 'RS256', typ: 'at+jwt', kid }, op.payload({ aud: 'urn:gateway:api' }), k);
    assert.equal((await get(ng, forged)).status, 401);
  }
  assert.equal(count(ng.errorLog(mark2), /fetching JWKS/), 1);
});

/* ------------------------------------------------------------------ */
/* https                                                               */

test('https: the provider is verified against ssl_trusted_certificate', async () => {
  const op = await startProvider({ tls: true });
  assert.match(op.issuer, /^https:/);
  const ng = await gateway(op.issuer, `ssl_trusted_certificate ${op.ca};`);
  assert.equal((await get(ng, await op.token())).status, 200);
  assert.equal(errors(ng), '');
});

test('https: a certificate for another host name is refused', async () => {
  const tls = makeTls(path.join(makePrefix('tls'), 'tls'), { hosts: ['other.example'] });
  const op = await startProvider({ tls });
  const ng = await gateway(op.issuer, `ssl_trusted_certificate ${tls.caCert};`);
  await logged(ng, /SSL certificate does not match "127\.0\.0\.1"/);
  assert.equal((await get(ng, 'x.y.z')).status, 401);
});

test('https with a host name: SNI and the name are checked', async () => {
  const tls = makeTls(path.join(makePrefix('tls'), 'tls'), { hosts: ['localhost'] });
  const port = await freePort();
  const op = await startProvider({ port, tls, env: { OP_HOST: 'localhost' } });
  assert.equal(op.issuer, `https://localhost:${port}`);
  const ng = await gateway(op.issuer, `ssl_trusted_certificate ${tls.caCert};`);
  const token = op.sign({}, op.payload({ aud: 'urn:gateway:api' }));
  assert.equal((await get(ng, token)).status, 200);

  const other = makeTls(path.join(makePrefix('tls'), 'other'), { hosts: ['other.example'] });
  const port2 = await freePort();
  const op2 = await startProvider({ port: port2, tls: other, env: { OP_HOST: 'localhost' } });
  const ng2 = await gateway(op2.issuer, `ssl_trusted_certificate ${other.caCert};`);
  await logged(ng2, /SSL certificate does not match "localhost"/);
});

test('https: a certificate from another CA is refused', async () => {
  const op = await startProvider({ tls: true });
  const other = makeTls(path.join(makePrefix('tls'), 'other'));
  const ng = await gateway(op.issuer, `ssl_trusted_certificate ${other.caCert};`);
  await logged(ng, /SSL certificate verify error: \(\d+:[^)]*\)/);
});

/* ------------------------------------------------------------------ */
/* static keys                                                         */

test('jwks_file: static keys, nothing is fetched', async () => {
  const keys = await makeKeys({ rsa: false, ec: true });
  const dir = makePrefix('keys');
  const file = path.join(dir, 'jwks.json');
  fs.writeFileSync(file, JSON.stringify(publicJwks(keys)));
  const e = await upstream();
  const ng = await startNginx({
    http: `
    oidc_provider s {
        issuer https://static.example;
        jwks_file ${file};
        audience urn:api;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { auth_oidc s; proxy_pass http://${e.addr}; }
    }
`,
  });
  const now = Math.floor(Date.now() / 1000);
  const token = sign({ alg: 'ES256', kid: 'es1' },
    { iss: 'https://static.example', aud: 'urn:api', sub: 'bob', iat: now, exp: now + 60 }, keys.keys[0]);
  assert.equal((await get(ng, token)).status, 200);
  const unknown = sign({ alg: 'ES256', kid: 'es2' },
    { iss: 'https://static.example', aud: 'urn:api', sub: 'bob', iat: now, exp: now + 60 }, keys.keys[0]);
  assert.equal((await get(ng, unknown)).status, 401);
  assert.doesNotMatch(ng.errorLog(), /fetching/);
});

test('hmac_secret_file: HS256 accepted with the configured secret only', async () => {
  const secret = HMAC_SECRET;
  const e = await upstream();
  const ng = await startNginx({
    http: `
${hmacProvider()}
    server {
        listen 127.0.0.1:{{PORT}};
        location / { auth_oidc h; proxy_pass http://${e.addr}; }
    }
`,
  });
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: 'urn:static', aud: 'urn:api', sub: 'bob', iat: now, exp: now + 60 };
  assert.equal((await get(ng, sign({ alg: 'HS256' }, payload, secret))).status, 200);
  assert.equal((await get(ng, sign({ alg: 'HS256' }, payload, `${secret}\n`))).status, 401);
  assert.equal((await get(ng, sign({ alg: 'HS256' }, payload, 'x'.repeat(40)))).status, 401);
});

/* ------------------------------------------------------------------ */
/* configuration                                                       */

const lineOf = (conf, needle) => conf.split('\n').findIndex((l) => l.includes(needle)) + 1;

async function refused(block, message, needle) {
  const r = await nginxTestConfig(`
    oidc_provider p {
${block}
    }
`);
  assert.equal(r.ok, false, `accepted:\n${r.conf}`);
  assert.match(r.stderr, message);
  if (needle) assert.match(r.stderr, new RegExp(`nginx\\.conf:${lineOf(r.conf, needle)}\\b`), r.stderr);
  return r;
}

test('config: defaults pass with an issuer and a client_id', async () => {
  const r = await nginxTestConfig(`
    oidc_provider p {
        issuer https://127.0.0.1:9;
        client_id gateway;
    }
`);
  assert.equal(r.ok, true, r.stderr);
});

test('config: no audience and no client_id is refused, "audience off" accepted', async () => {
  await refused('        issuer https://127.0.0.1:9;', /set "audience" \(or "client_id", its default\), or "audience off"/);
  const r = await nginxTestConfig(`
    oidc_provider p {
        issuer https://127.0.0.1:9;
        audience off;
    }
`);
  assert.equal(r.ok, true, r.stderr);
  await refused('        issuer https://127.0.0.1:9;\n        audience off;\n        audience x;',
    /"audience" directive "off" cannot be combined/, 'audience x');
});

test('config: a config_url with http is refused at its line', async () => {
  await refused('        issuer https://127.0.0.1:9;\n        client_id c;\n'
    + '        config_url http://127.0.0.1:9/conf;', /"config_url" "http:\/\/127\.0\.0\.1:9\/conf" uses http/,
  'config_url');
});

test('config: HS* algorithms need hmac_secret_file', async () => {
  await refused('        issuer https://127.0.0.1:9;\n        client_id c;\n        algorithms RS256 HS256;',
    /lists an HS\* algorithm, which needs "hmac_secret_file"/);
  await refused('        issuer https://127.0.0.1:9;\n        client_id c;\n        algorithms RS256 XX1;',
    /unknown algorithm "XX1"/, 'algorithms');
});

test('config: limits', async () => {
  const base = '        issuer https://127.0.0.1:9;\n        client_id c;\n';
  await refused(`${base}        max_token_size 32k;`, /"max_token_size" must be between 256 and 16384/);
  await refused(`${base}        max_response_size 1m;`, /"zone_size" must be at least twice "max_response_size"/);
  await refused(`${base}        jwks_refetch_interval 0;`, /at least 1s/);
  await refused(`${base}        scope openid;\n        scope email;`, /"scope" directive is duplicate/, 'scope email');
  await refused(`${base}        leeway;`, /invalid number of arguments in "leeway" directive/, 'leeway');
});

test('config: secrets from files', async () => {
  const dir = makePrefix('secret');
  const empty = path.join(dir, 'empty');
  fs.writeFileSync(empty, '\n');
  const base = '        issuer https://127.0.0.1:9;\n        client_id c;\n';
  await refused(`${base}        client_secret_file ${empty};`, /"client_secret_file" ".*empty" is empty/);
  await refused(`${base}        client_secret_file ${dir}/missing;`, /"client_secret_file": open\(\) ".*missing" failed/);
  await refused(`${base}        client_secret s;\n        client_secret_file ${empty};`,
    /"client_secret" and "client_secret_file" are exclusive/);
  const short = path.join(dir, 'short');
  fs.writeFileSync(short, 'too-short\n');
  await refused(`        issuer urn:x;\n        hmac_secret_file ${short};\n        audience a;`, /"hmac_secret_file"/);
  await refused(`        hmac_secret_file ${short};\n        audience a;`, /"issuer" is required/);
  const ok = path.join(dir, 'ok');
  fs.writeFileSync(ok, 'x'.repeat(40));
  await refused(`        issuer urn:x;\n        hmac_secret_file ${ok};\n        audience a;\n        config_url https://a.example/x;`,
    /"config_url" cannot be used with "jwks_file" or "hmac_secret_file"/);
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, '{"keys": []}');
  await refused(`        issuer urn:x;\n        jwks_file ${bad};\n        audience a;`, /"jwks_file" ".*bad\.json": /);
});

test('config: the system CA bundle is the default trust', async () => {
  const r = await nginxTestConfig(`
    oidc_provider p {
        issuer https://127.0.0.1:9;
        client_id c;
        ssl_trusted_certificate /nonexistent/ca.pem;
    }
`);
  assert.equal(r.ok, false);
  assert.match(r.stderr, /\/nonexistent\/ca\.pem/);
});
