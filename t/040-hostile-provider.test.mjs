// A hostile or broken provider, end to end: what the module accepts from the
// discovery document, the JWKS and the HTTP exchange that carries them.
//
// Rules tested here:
// - a JSON document with a member name twice (discovery or JWKS, at any
//   depth) is refused, never resolved by first- or last-one-wins;
// - a refused or unusable JWKS never replaces the last good key set; with
//   none yet, requests get 503 and the log says why;
// - keys come only from the jwks_uri the provider's own discovery document
//   names: another origin is accepted over https (Google and others serve
//   the JWKS from another host), never over http when the discovery document
//   came over https, and a redirect is never followed;
// - responses are capped at max_response_size however they are framed, and
//   a provider that drips bytes is cut off at read_timeout;
// - the HTTP framing: interim 1xx answers are skipped, 101/204/304 refused,
//   lines split across reads are fine, an oversized header is refused,
//   Content-Length and chunk sizes cannot overflow;
// - nothing a provider sends puts a control character in the error log.
//
// The failure-injecting provider is t/lib/fakeidp.mjs (node:http, or
// node:https with a CA made by makeTls); handlers can also write raw bytes.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startNginx, startEcho, stopAll, http, sign, makeKeys, publicJwks, publicJwk,
} from './lib/harness.mjs';
import { startFakeIdp as startFake, logged } from './lib/fakeidp.mjs';

let serial = 0;

// each fake provider of this file gets its own kid prefix
const startFakeIdp = (o = {}) => startFake({ kidPrefix: `k${serial++}-`, ...o });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mine = [];

after(async () => {
  for (const s of mine.splice(0)) await s();
  await stopAll();
});

/* ------------------------------------------------------------------ */
/* helpers                                                             */

let echo;

// nginx protecting / with provider "p"; `body` goes inside oidc_provider
async function gateway(issuer, body = '', { insecure = true } = {}) {
  echo ||= await startEcho();
  return startNginx({
    http: `
    oidc_provider p {
        issuer ${issuer};
        ${insecure ? 'allow_insecure_http on;' : ''}
        audience urn:api;
${body}
    }

    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            auth_oidc p;
            proxy_pass http://${echo.addr};
        }
    }
`,
  });
}

const get = (ng, token) => http(ng.url('/'), { headers: { Authorization: `Bearer ${token}` } });

// the module's own lines above debug
const errors = (ng, since = 0) => ng.errorLog(since).split('\n')
  .filter((l) => /\[(warn|error|crit|alert|emerg)\]/.test(l)).join('\n');

// a complete HTTP/1.1 answer with a JSON body, as a string
const answer = (obj, head = 'HTTP/1.1 200 OK', extra = '') => {
  const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
  return `${head}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n`
    + `Connection: close\r\n${extra}\r\n${text}`;
};

// waits until `fn()` is true (polling), or fails
async function until(fn, what, timeout = 10000) {
  const end = Date.now() + timeout;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`${what}: not after ${timeout} ms`);
    await sleep(20);
  }
}

// a refresh every second; the first keys are in (generation 1)
async function warm(fake, extra = '') {
  const ng = await gateway(fake.issuer, `jwks_refresh 1s;\n${extra}`);
  await logged(ng, /keys fetched, generation 1\b/);
  assert.equal((await get(ng, fake.token())).status, 200);
  return ng;
}

// an RSA key of `bits` as a private JWK for RS256
function rsaJwk(bits, kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

/* ------------------------------------------------------------------ */
/* duplicate member names                                              */

test('discovery: "jwks_uri" twice is refused (neither first nor last wins)', async () => {
  const fake = await startFakeIdp();
  const evil = await startFakeIdp();          // a JWKS the attacker controls
  const legit = JSON.stringify(fake.discovery);
  const docs = [
    legit.replace(/^\{/, `{"jwks_uri":"${evil.issuer}/jwks",`),      // attacker's first
    legit.replace(/\}$/, `,"jwks_uri":"${evil.issuer}/jwks"}`),      // attacker's last
  ];
  for (const doc of docs) {
    fake.json('/.well-known/openid-configuration', doc);
    const ng = await gateway(fake.issuer);
    await logged(ng, /\[error\].*oidc: provider "p": invalid discovery document: invalid json, duplicate object key near '"jwks_uri"'.*; no usable keys yet/);
    assert.equal((await get(ng, fake.token())).status, 503);
    assert.equal((await get(ng, evil.token({ iss: fake.issuer }))).status, 503);
    await ng.stop();
  }
  assert.equal(fake.hits('/jwks'), 0);
  assert.equal(evil.hits('/jwks'), 0);
});

test('discovery: "issuer" twice is refused', async () => {
  const fake = await startFakeIdp();
  const legit = JSON.stringify(fake.discovery);
  fake.json('/.well-known/openid-configuration',
    legit.replace(/^\{/, '{"issuer":"https://evil.example",'));
  const ng = await gateway(fake.issuer);
  await logged(ng, /\[error\].*invalid discovery document: invalid json, duplicate object key near '"issuer"'/);
  assert.equal((await get(ng, fake.token())).status, 503);
  assert.equal(fake.hits('/jwks'), 0);
});

test('discovery: a member twice in a nested object is refused too', async () => {
  const fake = await startFakeIdp();
  fake.json('/.well-known/openid-configuration',
    JSON.stringify(fake.discovery).replace(/\}$/, ',"mtls_endpoint_aliases":{"a":"x","a":"y"}}'));
  const ng = await gateway(fake.issuer);
  await logged(ng, /invalid discovery document: invalid json, duplicate object key near '"a"'/);
  assert.equal((await get(ng, fake.token())).status, 503);
});

test('JWKS: "keys" twice is refused, the last good set stays', async () => {
  const fake = await startFakeIdp();
  const ng = await warm(fake);
  const evil = await makeKeys({ rsa: true, ec: false, kidPrefix: 'evil-' });
  const good = JSON.stringify(publicJwks(fake.keys).keys);
  const bad = JSON.stringify(publicJwks(evil).keys);
  const mark = ng.mark();
  fake.json('/jwks', `{"keys":${good},"keys":${bad}}`);
  await logged(ng, /\[error\].*oidc: provider "p": JWKS refused: invalid json, duplicate object key near '"keys"'.*the last good keys stay in use/,
    { since: mark });
  assert.equal((await get(ng, fake.token())).status, 200);
  // an unknown kid while the provider's answers are refused: 503, never 200
  assert.equal((await get(ng, fake.token({}, {}, evil.keys[0]))).status, 503);

  // the other order: the attacker's set first
  const mark2 = ng.mark();
  fake.json('/jwks', `{"keys":${bad},"keys":${good}}`);
  await logged(ng, /JWKS refused: invalid json, duplicate object key near '"keys"'/, { since: mark2 });
  assert.equal((await get(ng, fake.token({}, {}, evil.keys[0]))).status, 503);
  assert.equal((await get(ng, fake.token())).status, 200);
  assert.doesNotMatch(ng.errorLog(mark), /generation 2\b/);
});

test('JWKS: a key with "n" twice is refused, the last good set stays', async () => {
  const fake = await startFakeIdp();
  const ng = await warm(fake);
  const pub = publicJwk(fake.keys.keys[0]);
  const evil = rsaJwk(2048, pub.kid);
  const { n, ...rest } = pub;
  const mark = ng.mark();
  for (const [first, last] of [[n, evil.n], [evil.n, n]]) {
    const m = ng.mark();
    fake.json('/jwks', `{"keys":[${JSON.stringify(rest).replace(/\}$/, `,"n":"${first}","n":"${last}"}`)}]}`);
    await logged(ng, /JWKS refused: invalid json, duplicate object key near '"n"'/, { since: m });
    // the attacker's modulus under the real kid is never used
    assert.equal((await get(ng, fake.token({}, {}, evil))).status, 401);
    assert.equal((await get(ng, fake.token())).status, 200);
  }
  assert.doesNotMatch(ng.errorLog(mark), /generation 2\b/);
});

test('JWKS: a duplicate member on the first fetch means no keys: 503', async () => {
  const fake = await startFakeIdp();
  const pub = publicJwks(fake.keys);
  fake.json('/jwks', JSON.stringify(pub).replace(/\}$/, `,"keys":${JSON.stringify(pub.keys)}}`));
  const ng = await gateway(fake.issuer);
  await logged(ng, /\[error\].*JWKS refused: invalid json, duplicate object key near '"keys"'.*no usable keys yet/);
  assert.equal((await get(ng, fake.token())).status, 503);
  await logged(ng, /\[error\].*oidc: provider "p": no usable keys, answering 503/);
});

/* ------------------------------------------------------------------ */
/* unusable keys                                                       */

test('JWKS of unusable keys only (oct, RSA 1024): the last good set stays', async () => {
  const fake = await startFakeIdp();
  const ng = await warm(fake);
  const secret = crypto.randomBytes(32);
  const oct = { kty: 'oct', kid: 'h1', alg: 'HS256', k: secret.toString('base64url') };
  const weak = rsaJwk(1024, 'weak1');
  const sets = [
    [{ keys: [oct] }, () => fake.token({}, { alg: 'HS256', kid: 'h1' }, secret)],
    [{ keys: [publicJwk(weak)] }, () => fake.token({}, {}, weak)],
    [{ keys: [oct, publicJwk(weak)] }, () => fake.token({}, {}, weak)],
  ];
  const mark = ng.mark();
  for (const [set, forge] of sets) {
    const m = ng.mark();
    fake.json('/jwks', set);
    await logged(ng, /JWKS refused: jwks has no usable key/, { since: m, timeout: 15000 });
    // its kid is unknown and the provider's answer unusable: 503, never 200
    assert.equal((await get(ng, forge())).status, 503);
    assert.equal((await get(ng, fake.token())).status, 200);
  }
  assert.match(errors(ng, mark), /\[error\].*JWKS refused: jwks has no usable key.*the last good keys stay in use/);
  assert.doesNotMatch(ng.errorLog(mark), /generation 2\b/);
});

test('JWKS of unusable keys on the first fetch: 503, logged why', async () => {
  const fake = await startFakeIdp();
  const weak = rsaJwk(1024, 'weak1');
  fake.json('/jwks', { keys: [publicJwk(weak)] });
  const ng = await gateway(fake.issuer);
  await logged(ng, /\[error\].*JWKS refused: jwks has no usable key, 1 skipped.*no usable keys yet/);
  assert.equal((await get(ng, fake.token({}, {}, weak))).status, 503);
});

test('a JWKS with a few unusable keys keeps the usable ones (warned)', async () => {
  const fake = await startFakeIdp();
  const weak = rsaJwk(1024, 'weak1');
  fake.json('/jwks', () => ({ keys: [publicJwk(weak), ...publicJwks(fake.keys).keys] }));
  const ng = await gateway(fake.issuer);
  await logged(ng, /\[warn\].*oidc: provider "p": 1 JWKS keys skipped/);
  assert.equal((await get(ng, fake.token())).status, 200);
  assert.equal((await get(ng, fake.token({}, {}, weak))).status, 401);
});

/* ------------------------------------------------------------------ */
/* status codes while the provider fails                               */

test('provider failing: a known kid still verifies (never 401), forgeries still 401', async () => {
  const fake = await startFakeIdp();
  const ng = await warm(fake, 'jwks_refetch_interval 1s;');
  const other = (await makeKeys({ rsa: true, ec: false, kidPrefix: 'other-' })).keys[0];

  const mark = ng.mark();
  fake.on('/.well-known/openid-configuration', (req, res) => res.writeHead(502).end('bad gateway'));
  fake.on('/jwks', (req, res) => res.writeHead(502).end('bad gateway'));
  await logged(ng, /\[error\].*discovery document not fetched: status 502; the last good keys stay in use/,
    { since: mark });
  await sleep(1100);
  for (let i = 0; i < 3; i++) {
    // a token under a known kid: verified with the last good keys, never 401 nor 503
    assert.equal((await get(ng, fake.token({ jti: `t${i}` }))).status, 200);
    // a forged signature under the known kid is a bad token whatever the provider does
    assert.equal((await get(ng, fake.token({}, { kid: fake.keys.keys[0].kid }, other))).status, 401);
  }
  // an unknown kid waits for at most one refetch, which fails: it may be a
  // new key we cannot fetch, so 503, the provider's failure (t/030 too)
  const r = await get(ng, fake.token({}, {}, other));
  assert.equal(r.status, 503);
  assert.equal(errors(ng, mark).split('\n').filter((l) => /\[error\]/.test(l)
    && /not fetched/.test(l)).length, 1, 'one error line per failure streak');
});

/* ------------------------------------------------------------------ */
/* where keys may come from                                            */

test('https: a jwks_uri on another https origin is used (Google-style)', async () => {
  const fake = await startFakeIdp({ tls: true });
  const keyHost = await startFakeIdp({ tls: true, keys: fake.keys });
  fake.discovery.jwks_uri = `${keyHost.issuer}/certs`;
  keyHost.json('/certs', publicJwks(fake.keys));
  const ng = await gateway(fake.issuer, `ssl_trusted_certificate ${fake.ca};`, { insecure: false });
  await logged(ng, /keys fetched, generation 1\b/);
  assert.equal((await get(ng, fake.token())).status, 200);
  assert.equal(keyHost.hits('/certs'), 1);
  assert.equal(fake.hits('/jwks'), 0);
});

test('https: a jwks_uri over http is refused, even with allow_insecure_http', async () => {
  for (const insecure of [false, true]) {
    const fake = await startFakeIdp({ tls: true });
    const plain = await startFakeIdp({ keys: fake.keys });     // same keys, over http
    fake.discovery.jwks_uri = `${plain.issuer}/jwks`;
    const ng = await gateway(fake.issuer, `ssl_trusted_certificate ${fake.ca};`, { insecure });
    await logged(ng, /\[error\].*oidc: provider "p": discovery document has no usable https "jwks_uri"/);
    assert.equal((await get(ng, fake.token())).status, 503);
    assert.equal(plain.hits('/jwks'), 0, `allow_insecure_http ${insecure}: keys fetched over http`);
    await ng.stop();
  }
});

test('http (allow_insecure_http): a jwks_uri on another http origin is used', async () => {
  const fake = await startFakeIdp();
  const keyHost = await startFakeIdp({ keys: fake.keys });
  fake.discovery.jwks_uri = `${keyHost.issuer}/jwks`;
  const ng = await gateway(fake.issuer);
  await logged(ng, /keys fetched, generation 1\b/);
  assert.equal((await get(ng, fake.token())).status, 200);
  assert.equal(keyHost.hits('/jwks'), 1);
});

test('a jwks_uri that redirects is never followed (301, 302, 303, 307, 308)', async () => {
  const good = await startFakeIdp();
  for (const status of [301, 302, 303, 307, 308]) {
    const fake = await startFakeIdp({ keys: good.keys });
    fake.on('/jwks', (req, res) => {
      res.writeHead(status, { Location: `${good.issuer}/jwks`, 'Content-Length': 0 }).end();
    });
    const ng = await gateway(fake.issuer);
    await logged(ng, new RegExp(`\\[error\\].*JWKS not fetched: redirect \\(${status}\\) not followed`));
    assert.equal((await get(ng, fake.token())).status, 503);
    await ng.stop();
  }
  assert.equal(good.hits('/jwks'), 0);
});

test('a jwks_uri that is not a usable URL is refused', async () => {
  for (const uri of ['/jwks', 'ftp://127.0.0.1/jwks', 'http://user@127.0.0.1/jwks', 'http://127.0.0.1/a b',
    'http://127.0.0.1:99999/jwks', 'http://127.0.0.1/\r\nX: y']) {
    const fake = await startFakeIdp();
    fake.discovery.jwks_uri = uri;
    const ng = await gateway(fake.issuer);
    await logged(ng, /discovery document has no usable https "jwks_uri"/);
    assert.equal((await get(ng, fake.token())).status, 503);
    await ng.stop();
  }
});

/* ------------------------------------------------------------------ */
/* size                                                                */

test('an answer far larger than max_response_size, without Content-Length, is cut short', async () => {
  const fake = await startFakeIdp();
  let written = 0;
  let closedAt = 0;
  fake.raw('/.well-known/openid-configuration', (s) => {
    s.on('error', () => {});
    s.on('close', () => { closedAt = Date.now(); });
    s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"issuer":"');
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (!s.destroyed && written < 256 * 1024 * 1024) {
        written += chunk.length;
        if (!s.write(chunk)) { s.once('drain', pump); return; }
      }
      s.end();
    };
    pump();
  });
  const ng = await gateway(fake.issuer);       // max_response_size 256k (default)
  await logged(ng, /\[error\].*discovery document not fetched: response is larger than "max_response_size"/);
  assert.equal((await get(ng, fake.token())).status, 503);
  // the gateway closed it: the provider had far more to send
  await until(() => closedAt, 'the provider connection closed');
  assert.ok(written < 64 * 1024 * 1024, `the provider could write ${written} bytes`);
});

test('a chunked answer far larger than max_response_size is cut short', async () => {
  const fake = await startFakeIdp();
  let written = 0;
  fake.on('/jwks', (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });       // chunked
    res.on('error', () => {});
    const chunk = Buffer.alloc(16 * 1024, ' ');
    const pump = () => {
      while (!res.destroyed && written < 256 * 1024 * 1024) {
        written += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    res.write('{"keys":[');
    pump();
  });
  const ng = await gateway(fake.issuer, 'max_response_size 8k;');
  await logged(ng, /\[error\].*JWKS not fetched: response is larger than "max_response_size"/);
  assert.equal((await get(ng, fake.token())).status, 503);
  await sleep(200);
  assert.ok(written < 64 * 1024 * 1024, `the provider could write ${written} bytes`);
});

const framing = [
  ['a Content-Length above max_response_size (a lie: nothing follows)',
    'HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n{}',
    /response of 10737418240 bytes is larger than "max_response_size"/],
  ['a Content-Length that overflows off_t',
    'HTTP/1.1 200 OK\r\nContent-Length: 184467440737095516160\r\n\r\n{}', /invalid Content-Length/],
  ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}', /invalid Content-Length/],
  ['two different Content-Length values',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', /invalid Content-Length/],
  ['a chunk size that overflows size_t',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000000002\r\n{}\r\n0\r\n\r\n',
    /invalid chunked body/],
  ['a chunk size above max_response_size',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffff\r\n{}', /response is larger than|invalid chunked body/],
  ['a chunked body without its last chunk',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n', /connection closed prematurely/],
  ['a body shorter than its Content-Length',
    'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}', /connection closed prematurely/],
  ['an unknown Transfer-Encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}',
    /unsupported Transfer-Encoding/],
  ['a compressed body', 'HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}',
    /unsupported Content-Encoding/],
  ['an obsolete folded header line', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 2\r\n\r\n{}',
    /invalid header line/],
  ['HTTP/2 in an HTTP/1.1 status line', 'HTTP/2 200\r\nContent-Length: 2\r\n\r\n{}', /invalid status line/],
  ['no header at all', '', /connection closed before the response header/],
  ['a header line longer than the header buffer',
    `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20000)}\r\nContent-Length: 2\r\n\r\n{}`,
    /response header is longer than 16384 bytes/],
  ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n',
    /unexpected status 101/],
  ['204 No Content', 'HTTP/1.1 204 No Content\r\n\r\n', /^status 204$/],
  ['304 Not Modified (we never ask for it)', 'HTTP/1.1 304 Not Modified\r\n\r\n', /unexpected status 304/],
];

for (const [name, bytes, re] of framing) {
  test(`refused: ${name}`, async () => {
    const fake = await startFakeIdp();
    fake.raw('/.well-known/openid-configuration', (s) => {
      s.on('error', () => {});
      s.end(bytes);
    });
    const ng = await gateway(fake.issuer);
    const m = await logged(ng, /\[error\].*oidc: provider "p": discovery document not fetched: (.*); no usable keys yet/);
    assert.match(m[1], re);
    assert.equal((await get(ng, fake.token())).status, 503);
  });
}

/* ------------------------------------------------------------------ */
/* framing that must be accepted                                       */

test('interim 1xx answers before the final one are skipped (RFC 9110 15.2)', async () => {
  const fake = await startFakeIdp();
  fake.raw('/.well-known/openid-configuration', (s) => {
    s.end('HTTP/1.1 100 Continue\r\n\r\n'
      + 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'
      + `${answer(fake.discovery)}`);
  });
  fake.raw('/jwks', (s) => {
    s.end(`HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${answer(publicJwks(fake.keys))}`);
  });
  const ng = await gateway(fake.issuer);
  await logged(ng, /keys fetched, generation 1\b/);
  assert.equal((await get(ng, fake.token())).status, 200);
});

test('header lines split across reads, and no Content-Length with Connection: close', async () => {
  const fake = await startFakeIdp();
  const pieces = (text, cuts) => {
    const out = [];
    let at = 0;
    for (const c of cuts) { out.push(text.slice(at, c)); at = c; }
    out.push(text.slice(at));
    return out;
  };
  const drip = async (s, parts) => {
    s.on('error', () => {});
    for (const p of parts) {
      s.write(p);
      await sleep(30);
    }
    s.end();
  };
  fake.raw('/.well-known/openid-configuration', (s) => {
    const text = answer(fake.discovery);
    // a cut inside the status line, after a CR, between CRLF and CRLF
    const i = text.indexOf('\r\n\r\n');
    drip(s, pieces(text, [5, 16, text.indexOf('Content-Length') + 3, i + 1, i + 2, i + 3, i + 5]));
  });
  fake.raw('/jwks', (s) => {
    const text = `HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(publicJwks(fake.keys))}`;
    drip(s, pieces(text, [1, 2, 3, 40, 60, 80]));
  });
  const ng = await gateway(fake.issuer);
  await logged(ng, /keys fetched, generation 1\b/);
  assert.equal((await get(ng, fake.token())).status, 200);
});

test('a chunked JWKS with extensions and trailers is read', async () => {
  const fake = await startFakeIdp();
  fake.raw('/jwks', (s) => {
    const text = JSON.stringify(publicJwks(fake.keys));
    const a = text.slice(0, 10);
    const b = text.slice(10);
    s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
      + `${a.length.toString(16)};ext=1\r\n${a}\r\n00${b.length.toString(16).toUpperCase()}\r\n${b}\r\n`
      + '0\r\nX-Trailer: t\r\n\r\n');
  });
  const ng = await gateway(fake.issuer);
  await logged(ng, /keys fetched, generation 1\b/);
  assert.equal((await get(ng, fake.token())).status, 200);
});

/* ------------------------------------------------------------------ */
/* slow providers                                                      */

// answers `text` one byte every `ms`, until done or the peer closes; each
// connection is recorded in conns: {closed, sent} (bytes of text written)
function dripper(text, ms, conns) {
  return (s) => {
    const c = { closed: false, sent: 0, length: text.length };
    conns.push(c);
    s.on('error', () => {});
    s.on('close', () => { c.closed = true; });
    let i = 0;
    const t = setInterval(() => {
      if (s.destroyed || i >= text.length) { clearInterval(t); return; }
      s.write(text[i++]);
      c.sent = i;
    }, ms);
    mine.push(async () => clearInterval(t));
  };
}

test('a provider dripping its header a byte per 100 ms is cut at read_timeout', async () => {
  const fake = await startFakeIdp();
  const conns = [];
  fake.raw('/.well-known/openid-configuration', dripper(answer(fake.discovery), 100, conns));
  const ng = await gateway(fake.issuer, 'read_timeout 1500ms;');
  const r = await get(ng, fake.token());
  assert.equal(r.status, 503);
  await logged(ng, /\[error\].*discovery document not fetched: 127\.0\.0\.1:\d+ timed out \("read_timeout"\)/);
  // cut by the gateway long before the last byte: each byte does not
  // start read_timeout again (the whole answer would take minutes)
  await until(() => conns[0]?.closed, 'the dripping connection closed');
  assert.ok(conns[0].sent > 0 && conns[0].sent < conns[0].length / 2,
    `closed after ${conns[0].sent} of ${conns[0].length} bytes`);
});

test('a provider dripping its body a byte per 100 ms is cut at read_timeout', async () => {
  const fake = await startFakeIdp();
  const conns = [];
  const text = JSON.stringify(publicJwks(fake.keys));
  fake.raw('/jwks', (s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\n\r\n`);
    dripper(text, 100, conns)(s);
  });
  const ng = await gateway(fake.issuer, 'read_timeout 1500ms;');
  assert.equal((await get(ng, fake.token())).status, 503);
  await logged(ng, /\[error\].*JWKS not fetched: 127\.0\.0\.1:\d+ timed out \("read_timeout"\)/);
  await until(() => conns[0]?.closed, 'the dripping connection closed');
  assert.ok(conns[0].sent > 0 && conns[0].sent < conns[0].length / 2,
    `closed after ${conns[0].sent} of ${conns[0].length} bytes`);
});

test('a dripping refresh delays no request: the known keys answer at once', async () => {
  const fake = await startFakeIdp();
  const ng = await warm(fake, 'read_timeout 8s;');
  const conns = [];
  fake.raw('/.well-known/openid-configuration', dripper(answer(fake.discovery), 100, conns));
  await until(() => conns.length, 'a refresh started', 15000);
  const token = fake.token();
  // answered while the refresh is still in flight (its connection open)
  for (let i = 0; i < 5; i++) {
    assert.equal((await get(ng, token)).status, 200);
    assert.equal(conns[0].closed, false, `request ${i} waited for the refresh`);
  }
  await logged(ng, /discovery document not fetched: .*timed out \("read_timeout"\); the last good keys stay in use/);
  assert.equal((await get(ng, token)).status, 200);
});

/* ------------------------------------------------------------------ */
/* the error log                                                       */

// the module's log lines holding a control character (a tab aside)
const controls = (ng) => ng.errorLog().split('\n')
  .filter((l) => l.includes('oidc:') && /[\u0000-\u0008\u000b-\u001f\u007f]/.test(l));

test('control characters a provider sends never reach the error log', async () => {
  const fake = await startFakeIdp();
  fake.json('/.well-known/openid-configuration', '{"issuer": \u001b[2J\u0007}');
  const ng = await gateway(fake.issuer);
  await logged(ng, /\[error\].*invalid discovery document: invalid json/);
  assert.deepEqual(controls(ng), []);

  const fake2 = await startFakeIdp();
  fake2.discovery.issuer = 'http://evil\u001b[31m.example\u0007';
  const ng2 = await gateway(fake2.issuer);
  await logged(ng2, /does not match/);
  assert.deepEqual(controls(ng2), []);
});
