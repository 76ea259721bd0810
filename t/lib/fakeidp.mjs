// A scriptable identity provider for failure modes, shared by the provider
// tests: a discovery document and a JWKS (our own keys), each path answering
// with a replaceable handler; `raw` handlers write bytes to the socket
// themselves (for what node:http would refuse to send). `tls`: https with a
// certificate of one CA per test process. Tokens are signed with
// `fake.token()`. Stopped by the harness's stopAll().

import fs from 'node:fs';
import http_ from 'node:http';
import https_ from 'node:https';
import path from 'node:path';
import { onStop, sign, makeKeys, publicJwks, makeTls, makePrefix } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let tlsDir;
let serial = 0;

// one CA for the process; a certificate per server (127.0.0.1 and localhost)
function tlsFor(name) {
  tlsDir ||= path.join(makePrefix('tls'), 'tls');
  return makeTls(tlsDir, { hosts: ['127.0.0.1', 'localhost'], name });
}

const jsonText = (obj) => (typeof obj === 'string' ? obj : JSON.stringify(obj));

// opts: discovery (members over the defaults), keys (private JWKS), tls,
// kidPrefix (for the generated keys)
export async function startFakeIdp({ discovery = {}, keys, tls = false, kidPrefix = '' } = {}) {
  const k = keys || await makeKeys({ rsa: true, ec: false, kidPrefix });
  const hits = {};
  const handlers = {};
  const onRequest = (req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    hits[p] = (hits[p] || 0) + 1;
    const h = handlers[p];
    if (h) return h(req, res);
    res.writeHead(404, { 'Content-Length': 0 }).end();
  };
  const cert = tls ? tlsFor(`idp${serial++}`) : null;
  const server = tls
    ? https_.createServer({ key: fs.readFileSync(cert.key), cert: fs.readFileSync(cert.cert) }, onRequest)
    : http_.createServer(onRequest);
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const fake = {
    port,
    issuer,
    keys: k,
    ca: cert?.caCert,
    discovery: { issuer, jwks_uri: `${issuer}/jwks`, token_endpoint: `${issuer}/token`, ...discovery },
    hits: (p) => hits[p] || 0,
    get open() { return sockets.size; },
    on(p, h) { handlers[p] = h; },
    json(p, obj, headers = {}) {
      fake.on(p, (req, res) => {
        const text = jsonText(typeof obj === 'function' ? obj() : obj);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text),
          ...headers });
        res.end(text);
      });
    },
    // the body in several chunks (Transfer-Encoding: chunked)
    chunked(p, obj, headers = {}, pieces = 3) {
      fake.on(p, (req, res) => {
        const text = jsonText(obj);
        res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
        const n = Math.ceil(text.length / pieces);
        for (let i = 0; i < text.length; i += n) res.write(text.slice(i, i + n));
        res.end();
      });
    },
    // fn(socket, req): the whole answer, bytes as they are
    raw(p, fn) {
      fake.on(p, (req) => fn(req.socket, req));
    },
    token(over = {}, header = {}, key = k.keys[0]) {
      const now = Math.floor(Date.now() / 1000);
      return sign({ alg: key.alg || 'RS256', typ: 'at+jwt', kid: key.kid, ...header },
        { iss: issuer, aud: 'urn:api', sub: 'alice', iat: now, exp: now + 300, ...over }, key);
    },
  };
  fake.json('/.well-known/openid-configuration', () => fake.discovery);
  fake.json('/jwks', () => publicJwks(k));
  onStop(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return fake;
}

// polls nginx's error log until `re` matches (returns the match)
export async function logged(ng, re, { timeout = 10000, since = 0 } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const m = ng.errorLog(since).match(re);
    if (m) return m;
    if (Date.now() > until) {
      throw new Error(`not in the error log after ${timeout} ms: ${re}\n`
        + ng.errorLog(since).split('\n').filter((l) => !l.includes('[debug]')).slice(-20).join('\n'));
    }
    await sleep(25);
  }
}
