// Integration-test harness for ngx_http_oidc_module (node:test).
//
// Each test file owns its parts: it starts the provider, nginx, the echo
// upstream ... through the functions below, which pick free ports (bind to
// port 0), create their own mkdtemp prefixes (chmod 0755: nginx workers run
// as nobody when the tests run as root) and register every child process.
// A test file ends with `after(stopAll)`.
//
//   startProvider(opts)     t/lib/op.mjs (oidc-provider) as a child: issuer,
//                           token(), sign(), payload(), keys, restart({keys})
//   startNginx(opts)        nginx (daemon off) in its own prefix: url(),
//                           errorLog(), mark(), reload(), stop(), workers()
//   nginxTestConfig(snip)   nginx -t → {ok, stderr, conf}
//   startEcho()             the echo upstream (in process): requests, last()
//   startHangingServer()    accepts TCP connections, never answers
//   holdRequests()          an HTTP handler holding requests until released
//   startRedis(opts)        redis-server as a child: port, socket, cli(),
//                           stop(), restart() (same port and dir)
//   makeKeys(), makeTls(), sign(), decodeJwt(), publicJwks(), http()
//
// Environment:
//   NGINX_BIN          nginx binary (default /usr/sbin/nginx)
//   MODULE_SO          module to load_module (default .build/deb/ngx_http_oidc_module.so)
//   SANITIZER_LOG_DIR  when set, nginx runs with ASAN_OPTIONS/UBSAN_OPTIONS
//                      log_path=$SANITIZER_LOG_DIR/{asan,ubsan}
//   TEST_TMPDIR        where prefixes go (default os.tmpdir(); nginx workers,
//                      running as nobody, must be able to enter it)
//   KEEP_TMP=1         keep the prefixes (they are always kept, and listed on
//                      stderr, when a test in the file failed)

import { spawn, execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http_ from 'node:http';
import https_ from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, exportJWK } from 'jose';
import { CLIENTS } from './clients.mjs';
import { createEchoServer, headerValues } from './echo.mjs';

export { CLIENTS, headerValues };

export const LIB = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(LIB, '../..');
export const NGINX_BIN = process.env.NGINX_BIN || '/usr/sbin/nginx';
export const MODULE_SO = path.resolve(REPO, process.env.MODULE_SO
  || '.build/deb/ngx_http_oidc_module.so');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* ------------------------------------------------------------------ */
/* bookkeeping: everything started here is stopped by stopAll()        */

const stoppers = [];        // async functions, run in reverse order
const prefixes = [];
const liveProcs = new Set();
const liveGroups = new Set();   // process groups (nginx master + its workers)

function killGroup(pgid) {
  try { process.kill(-pgid, 'SIGKILL'); } catch { /* none left */ }
  liveGroups.delete(pgid);
}

// Last resort at exit: kill what is left, then remove the prefixes, unless
// a test failed (kept for inspection: logs, configs) or KEEP_TMP is set.
process.on('exit', (code) => {
  for (const p of liveProcs) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  for (const g of liveGroups) killGroup(g);
  if (!prefixes.length) return;
  if (code === 0 && !process.env.KEEP_TMP) {
    for (const d of prefixes.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  } else {
    process.stderr.write(`harness: kept ${prefixes.length} test prefixes: ${prefixes.join(' ')}\n`);
  }
});

// registers fn to run at stopAll() (for helpers in t/lib)
export function onStop(fn) {
  stoppers.push(fn);
  return fn;
}

// Stops everything started so far (latest first). The prefixes stay until
// the process exits (see above).
export async function stopAll() {
  const errors = [];
  while (stoppers.length) {
    const fn = stoppers.pop();
    try { await fn(); } catch (e) { errors.push(e); }
  }
  if (errors.length) throw errors[0];
}

export function makePrefix(tag = 't') {
  const root = process.env.TEST_TMPDIR || os.tmpdir();
  fs.mkdirSync(root, { recursive: true });
  const dir = fs.mkdtempSync(path.join(root, `oidc-${tag}-`));
  fs.chmodSync(dir, 0o755);
  prefixes.push(dir);
  return dir;
}

/* ------------------------------------------------------------------ */
/* ports                                                               */

const handedOut = new Set();

export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port: p } = s.address();
        s.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no free port found');
}

function canConnect(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/* wait until `port` accepts connections; stop early if `child` exits */
export async function waitPort(port, { timeout = 10000, child, what = `port ${port}` } = {}) {
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`${what}: process exited (${child.exitCode}) before listening`);
    if (child && child.signalCode) throw new Error(`${what}: process killed (${child.signalCode}) before listening`);
    if (await canConnect(port)) return;
    await sleep(25);
  }
  throw new Error(`${what}: not listening after ${timeout} ms`);
}

/* ------------------------------------------------------------------ */
/* child processes                                                     */

function tail(text, n = 40) {
  return text.split('\n').slice(-n).join('\n');
}

function readText(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return ''; }
}

// Spawn a child whose output goes to `log`; resolves once `ready` (a RegExp)
// matched a stdout line, or immediately when no `ready` is given.
async function spawnChild(cmd, args, { env, log, ready, timeout = 15000, name = cmd, group = false }) {
  const out = fs.openSync(log, 'a');
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', out], detached: group,
  });
  if (group) liveGroups.add(child.pid);
  fs.closeSync(out);
  liveProcs.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    liveProcs.delete(child);
    resolve({ code, signal });
  }));
  let buf = '';
  let matched = !ready;
  let wake = () => {};
  child.stdout.on('data', (d) => {
    fs.appendFileSync(log, d);
    if (matched) return;
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();                        // keep the incomplete line
    for (const line of lines) {
      const m = line.match(ready);
      if (m && !matched) { matched = m; wake(); }
    }
  });
  if (!ready) return child;
  const t0 = Date.now();
  while (!matched) {
    if (child.exitCode !== null || child.signalCode) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before ready:\n${tail(readText(log))}`);
    }
    if (Date.now() - t0 > timeout) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready after ${timeout} ms:\n${tail(readText(log))}`);
    }
    await Promise.race([new Promise((r) => { wake = r; }), sleep(25)]);
  }
  child.readyMatch = matched;
  return child;
}

async function killChild(child, signal = 'SIGTERM', grace = 5000) {
  if (!child || child.exitCode !== null || child.signalCode) return child?.exited;
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), grace);
  const r = await child.exited;
  clearTimeout(t);
  return r;
}

/* ------------------------------------------------------------------ */
/* keys, JWS, TLS                                                      */

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export function publicJwk(jwk) {
  const pub = { ...jwk };
  for (const m of PRIVATE_JWK_MEMBERS) delete pub[m];
  return pub;
}

export function publicJwks(jwks) {
  return { keys: jwks.keys.filter((k) => k.kty !== 'oct').map(publicJwk) };
}

// Private JWKS: rsa → RS256 "<p>rs1", ec → ES256 "<p>es1", ec384 → ES384
// "<p>es384", ed → EdDSA/Ed25519 "<p>ed1", ps → PS256 "<p>ps1".
export async function makeKeys({ rsa = true, ec = true, ec384 = false, ed = false, ps = false,
  kidPrefix = '' } = {}) {
  const want = [];
  if (rsa) want.push(['RS256', 'rs1', {}]);
  if (ec) want.push(['ES256', 'es1', {}]);
  if (ec384) want.push(['ES384', 'es384', {}]);
  if (ed) want.push(['EdDSA', 'ed1', { crv: 'Ed25519' }]);
  if (ps) want.push(['PS256', 'ps1', {}]);
  const keys = [];
  for (const [alg, kid, opts] of want) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true, ...opts });
    keys.push({ ...(await exportJWK(privateKey)), kid: `${kidPrefix}${kid}`, alg, use: 'sig' });
  }
  return { keys };
}

const b64u = (x) => Buffer.from(x).toString('base64url');
const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

// Compact JWS, signed with node:crypto so that tests can also build what a
// careful library refuses to: alg "none" (key null), HMAC with any bytes
// (e.g. the provider's public key PEM), an alg that does not match the key.
//   header   object (serialized as is) or a raw string
//   payload  object, raw string or Buffer
//   key      private JWK | Buffer/Uint8Array/string (HMAC secret) | null
export function sign(header, payload, key) {
  const h = typeof header === 'string' ? header : JSON.stringify(header);
  const p = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  const input = `${b64u(h)}.${b64u(p)}`;
  const alg = (typeof header === 'object' && header.alg) || '';
  if (key === null || key === undefined) return `${input}.`;
  const bits = alg.slice(2);
  let secret;
  if (typeof key === 'string' || key instanceof Uint8Array) secret = Buffer.from(key);
  else if (key.kty === 'oct') secret = Buffer.from(key.k, 'base64url');
  if (secret !== undefined) {
    return `${input}.${crypto.createHmac(HASH[bits] || 'sha256', secret).update(input).digest('base64url')}`;
  }
  const k = crypto.createPrivateKey({ key, format: 'jwk' });
  let sig;
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    sig = crypto.sign(null, Buffer.from(input), k);
  } else if (alg.startsWith('PS')) {
    sig = crypto.sign(HASH[bits], Buffer.from(input), {
      key: k, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8,
    });
  } else if (alg.startsWith('ES')) {
    sig = crypto.sign(HASH[bits], Buffer.from(input), { key: k, dsaEncoding: 'ieee-p1363' });
  } else {
    sig = crypto.sign(HASH[bits] || 'sha256', Buffer.from(input), k);
  }
  return `${input}.${b64u(sig)}`;
}

export function decodeJwt(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

// A CA and a server certificate signed by it (EC P-256, 30 days) via the
// openssl CLI. hosts: IP addresses and DNS names for subjectAltName.
export function makeTls(dir, { hosts = ['127.0.0.1', 'localhost'], name = 'server' } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const f = (x) => path.join(dir, x);
  const ossl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const caKey = f('ca.key');
  const caCert = f('ca.crt');
  if (!fs.existsSync(caCert)) {
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', caKey, '-out', caCert, '-days', '30', '-subj', '/CN=oidc test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  const key = f(`${name}.key`);
  const cert = f(`${name}.crt`);
  const san = hosts.map((h) => (net.isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  fs.writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`
    + 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', f(`${name}.csr`), '-subj', `/CN=${hosts[0]}`);
  ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', caCert, '-CAkey', caKey,
    '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', '30',
    '-out', cert, '-extfile', f(`${name}.ext`));
  fs.chmodSync(key, 0o644);      // readable by nginx workers (nobody)
  return { caCert, caKey, cert, key };
}

/* ------------------------------------------------------------------ */
/* HTTP client (node:http: raw header names, duplicates, no fetch magic) */

// headers: {name: value | [values]} or [[name, value], ...] (order and case
// kept; a Host header is added unless the list has one)
export function http(url, { method = 'GET', headers = {}, body, timeout = 5000, ca } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https_ : http_;
  let hdrs = headers;
  if (Array.isArray(headers)) {
    // node adds no Host header to a raw header list: add it unless given
    hdrs = headers.some(([k]) => k.toLowerCase() === 'host') ? [] : ['Host', u.host];
    for (const [k, v] of headers) hdrs.push(k, v);
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers: hdrs, agent: false, ...(ca ? { ca: readCa(ca) } : {}) },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: text,
            json: () => JSON.parse(text),
          });
        });
      });
    const timer = setTimeout(() => {
      const e = new Error(`${method} ${url}: no response after ${timeout} ms`);
      e.code = 'ETIMEDOUT';
      req.destroy(e);
    }, timeout);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function readCa(ca) {
  return typeof ca === 'string' && !ca.includes('-----BEGIN') ? fs.readFileSync(ca) : ca;
}

/* ------------------------------------------------------------------ */
/* the OpenID Provider (t/lib/op.mjs as a child)                       */

// opts: keys (private JWKS; default makeKeys()), tls (true → makeTls, or
// {cert, key, caCert}), env (extra OP_* variables), atAlg, atTtl,
// resources (OP_RESOURCES object), rpOrigin, redirectUris ([...]).
export async function startProvider(opts = {}) {
  const dir = makePrefix('op');
  const port = opts.port || await freePort();
  let keys = opts.keys || await makeKeys();
  let tls = opts.tls || null;
  if (tls === true) tls = makeTls(path.join(dir, 'tls'));
  const keysFile = path.join(dir, 'keys.json');
  const log = path.join(dir, 'op.log');
  const env = {
    OP_PORT: String(port),
    OP_KEYS_FILE: keysFile,
    ...(tls ? { OP_TLS_CERT: tls.cert, OP_TLS_KEY: tls.key } : {}),
    ...(opts.atAlg ? { OP_AT_ALG: opts.atAlg } : {}),
    ...(opts.atTtl ? { OP_AT_TTL: String(opts.atTtl) } : {}),
    ...(opts.resources ? { OP_RESOURCES: JSON.stringify(opts.resources) } : {}),
    ...(opts.rpOrigin ? { OP_RP_ORIGIN: opts.rpOrigin } : {}),
    ...(opts.redirectUris ? { OP_REDIRECT_URIS: opts.redirectUris.join(',') } : {}),
    ...(opts.env || {}),
  };
  let child = null;

  const start = async () => {
    fs.writeFileSync(keysFile, JSON.stringify(keys));
    child = await spawnChild(process.execPath, [path.join(LIB, 'op.mjs')], {
      env, log, ready: /^op ready (\S+)/, name: 'op.mjs',
    });
    return child.readyMatch[1];
  };

  const issuer = await start();
  const ca = tls ? tls.caCert : undefined;

  const op = {
    issuer, port, dir, tls, ca,
    get keys() { return keys; },
    get publicJwks() { return publicJwks(keys); },
    url: (p = '/') => new URL(p, `${issuer}/`).href,
    log: () => readText(log),
    // protocol events seen so far ("op event" lines of op.mjs), optionally
    // only those named `name`: [{name, client, grant_type, ...}]
    events(name) {
      return readText(log).split('\n')
        .filter((l) => l.startsWith('op event '))
        .map((l) => JSON.parse(l.slice('op event '.length)))
        .filter((e) => !name || e.name === name);
    },
    // the first event named `name` after the first `skip` ones that `pred`
    // accepts, once its line is written: the provider may log an event just
    // after its answer reached the gateway (polls; undefined after `timeout`)
    async waitEvent(name, pred = () => true, { skip = 0, timeout = 5000 } = {}) {
      for (const end = Date.now() + timeout; ;) {
        const e = this.events(name).slice(skip).find(pred);
        if (e || Date.now() > end) return e;
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async stop() { await killChild(child); },
    // Same port and settings; new keys (key rotation) or env if given.
    async restart({ keys: newKeys, env: newEnv } = {}) {
      await killChild(child);
      if (newKeys) keys = newKeys;
      if (newEnv) Object.assign(env, newEnv);
      await start();
    },
    async discovery() {
      const r = await http(`${issuer}/.well-known/openid-configuration`, { ca });
      if (r.status !== 200) throw new Error(`discovery: ${r.status} ${r.body}`);
      return r.json();
    },
    // client_credentials grant; the full response {status, json, body}
    async tokenResponse({ scope = 'api:read api:write', resource = 'urn:gateway:api', claims,
      client = 'api-client', secret = CLIENTS[client] } = {}) {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (scope) form.set('scope', scope);
      if (resource) form.set('resource', resource);
      if (claims) form.set('extra_claims', JSON.stringify(claims));
      const r = await http(`${issuer}/token`, {
        method: 'POST', ca, body: form.toString(),
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}`,
        },
      });
      return { status: r.status, body: r.body, json: r.status === 200 ? r.json() : null };
    },
    // client_credentials grant → the access token (string)
    async token(o = {}) {
      const r = await op.tokenResponse(o);
      if (r.status !== 200) throw new Error(`token: ${r.status} ${r.body}`);
      return r.json.access_token;
    },
    // Claims of a token as this provider would issue it; `undefined` drops one.
    payload(over = {}) {
      const now = Math.floor(Date.now() / 1000);
      const p = {
        iss: issuer, sub: 'api-client', aud: 'urn:gateway:api', iat: now, exp: now + 300,
        scope: 'api:read api:write', client_id: 'api-client', jti: crypto.randomBytes(12).toString('base64url'),
        ...over,
      };
      for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
      return p;
    },
    // Forge a token. key defaults to the provider key for header.alg (or
    // the first key); header defaults to {alg, typ: 'at+jwt', kid}; a header
    // member set to undefined is dropped.
    sign(header = {}, payload = op.payload(), key) {
      const k = key === undefined
        ? (keys.keys.find((x) => header.alg && x.alg === header.alg) || keys.keys[0]) : key;
      const h = { alg: k?.alg, typ: 'at+jwt', ...(k?.kid ? { kid: k.kid } : {}), ...header };
      for (const m of Object.keys(h)) if (h[m] === undefined) delete h[m];
      return sign(h, payload, k);
    },
  };
  onStop(() => op.stop());
  return op;
}

/* ------------------------------------------------------------------ */
/* redis-server (child)                                                */

// opts: unixSocket (true: also listen on <prefix>/redis.sock, mode 0777),
// args (extra redis-server arguments, e.g. ['--requirepass', 'x']).
export async function startRedis({ unixSocket = false, args = [] } = {}) {
  const dir = makePrefix('redis');
  const port = await freePort();
  const socket = unixSocket ? path.join(dir, 'redis.sock') : null;
  const log = path.join(dir, 'redis.log');
  const argv = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', ...(socket ? ['--unixsocket', socket, '--unixsocketperm', '777'] : []),
    ...args];
  const launch = async () => {
    const c = await spawnChild('redis-server', argv, { env: {}, log, name: 'redis-server' });
    try {
      await waitPort(port, { child: c, what: 'redis-server' });
    } catch (e) {
      await killChild(c, 'SIGKILL');
      e.message += `\n${tail(readText(log))}`;
      throw e;
    }
    return c;
  };
  let child = await launch();
  const redis = {
    port, socket, dir, addr: `127.0.0.1:${port}`,
    log: () => readText(log),
    // redis-cli against this server: resolves to {code, stdout, stderr}
    cli: (...a) => run('redis-cli', ['-p', String(port), ...a], {}),
    async stop() { await killChild(child); },
    // the same server again (port, dir: its data if "--appendonly yes")
    async restart() { await killChild(child); child = await launch(); },
  };
  onStop(() => redis.stop());
  return redis;
}

/* ------------------------------------------------------------------ */
/* small servers, in process                                           */

export async function startEcho() {
  const server = createEchoServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const echo = {
    port,
    addr: `127.0.0.1:${port}`,
    url: (p = '/') => `http://127.0.0.1:${port}${p}`,
    requests: server.requests,
    last: () => server.requests[server.requests.length - 1],
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  onStop(() => echo.stop());
  return echo;
}

// Accepts TCP connections and never answers (a hanging IdP or upstream).
// port: listen there (e.g. where a stopped provider was), else a free one
export async function startHangingServer({ port: want = 0 } = {}) {
  const sockets = new Set();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.resume();               // read and discard, never write
  });
  await new Promise((r) => server.listen(want, '127.0.0.1', r));
  const { port } = server.address();
  const hang = {
    port,
    addr: `127.0.0.1:${port}`,
    url: (p = '/') => `http://127.0.0.1:${port}${p}`,
    get accepted() { return accepted; },
    get open() { return sockets.size; },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  onStop(() => hang.stop());
  return hang;
}

// An HTTP handler that holds every request it gets until the test releases
// it, so that a test asserts an order of events rather than durations:
// handle(req, res) for a server (fakeidp's on(path, ...)); seen (requests so
// far), held (waiting now), next() resolves once one is held, release(fn)
// answers the held ones with fn(req, res); later ones are held again.
export function holdRequests() {
  const held = [];
  const waiters = [];
  let seen = 0;
  const hold = {
    get seen() { return seen; },
    get held() { return held.length; },
    handle(req, res) {
      seen++;
      held.push({ req, res });
      for (const w of waiters.splice(0)) w();
    },
    next() { return held.length ? Promise.resolve() : new Promise((r) => waiters.push(r)); },
    release(fn) { for (const { req, res } of held.splice(0)) fn(req, res); },
  };
  onStop(() => { for (const { res } of held.splice(0)) res.destroy(); });
  return hold;
}

/* ------------------------------------------------------------------ */
/* nginx                                                               */

// ASan/UBSan settings for nginx when SANITIZER_LOG_DIR is set (the ASan
// build): every report goes to a file there, and the caller fails the run
// if the directory is not empty. `control` is for short-lived `nginx -t`
// and `nginx -s` processes: nginx itself never frees the pool main()
// creates on those paths, so LeakSanitizer is off there (ASan and UBSan
// stay on); masters and workers run with detect_leaks=1.
export function sanitizerEnv({ control = false } = {}) {
  const dir = process.env.SANITIZER_LOG_DIR;
  if (!dir) return {};
  fs.mkdirSync(dir, { recursive: true });
  try { fs.chmodSync(dir, 0o1777); } catch { /* not ours */ }   // workers run as nobody
  return {
    ASAN_OPTIONS: `detect_leaks=${control ? 0 : 1}:log_path=${dir}/asan`,
    UBSAN_OPTIONS: `print_stacktrace=1:log_path=${dir}/ubsan`,
  };
}

// Fill {{NAME}} placeholders. {{PORT}}, {{PORT2}} ... get free ports (the
// same name always the same port); {{PREFIX}}, {{MODULE}}, {{REPO}} are
// known; other names come from `vars`. An unknown name is an error.
async function substitute(text, vars) {
  const names = new Set([...text.matchAll(/\{\{([A-Za-z0-9_]+)\}\}/g)].map((m) => m[1]));
  for (const n of names) {
    if (vars[n] === undefined && /^PORT\d*$/.test(n)) vars[n] = await freePort();
  }
  return text.replace(/\{\{([A-Za-z0-9_]+)\}\}/g, (m, n) => {
    if (vars[n] === undefined) throw new Error(`nginx config: unknown placeholder ${m}`);
    return String(vars[n]);
  });
}

function nginxConf({ http = '', main = '', events = '', module = true, workers = 1, moduleSo = MODULE_SO }) {
  return `# written by t/lib/harness.mjs
${module ? `load_module ${moduleSo};` : '# (no module)'}
daemon off;
master_process on;
worker_processes ${workers};
pid {{PREFIX}}/nginx.pid;
error_log {{PREFIX}}/logs/error.log debug;

${main}

events {
    worker_connections 256;
${events}
}

http {
    access_log {{PREFIX}}/logs/access.log;
    client_body_temp_path {{PREFIX}}/tmp/body;
    proxy_temp_path {{PREFIX}}/tmp/proxy;
    fastcgi_temp_path {{PREFIX}}/tmp/fastcgi;
    uwsgi_temp_path {{PREFIX}}/tmp/uwsgi;
    scgi_temp_path {{PREFIX}}/tmp/scgi;

${http}
}
`;
}

function preparePrefix(tag) {
  const prefix = makePrefix(tag);
  for (const d of ['logs', 'tmp', 'html']) fs.mkdirSync(path.join(prefix, d), { mode: 0o755 });
  fs.writeFileSync(path.join(prefix, 'html', 'index.html'), 'ok\n');
  return prefix;
}

function run(cmd, args, env) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function workerPids(master) {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== master) continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('worker process')) pids.push(Number(d));
    } catch { /* raced with exit */ }
  }
  return pids.sort();
}

// opts: http (text inside http{}), main (top level), events, module
// (false: no load_module), vars ({NAME: value} for {{NAME}}), workers,
// env (extra env for nginx), timeout (ms to wait for the port).
export async function startNginx(opts = {}) {
  const prefix = preparePrefix('nginx');
  const vars = { PREFIX: prefix, MODULE: MODULE_SO, REPO, ...(opts.vars || {}) };
  const confFile = path.join(prefix, 'nginx.conf');
  const errLog = path.join(prefix, 'logs', 'error.log');
  const stderrLog = path.join(prefix, 'logs', 'stderr.log');
  const env = { ...sanitizerEnv(), ...(opts.env || {}) };
  const ctlEnv = { ...sanitizerEnv({ control: true }), ...(opts.env || {}) };
  const args = ['-p', `${prefix}/`, '-c', confFile, '-e', 'stderr'];
  let current = { ...opts };

  const write = async (o) => {
    const text = await substitute(nginxConf(o), vars);
    fs.writeFileSync(confFile, text);
    return text;
  };
  await write(current);
  if (vars.PORT === undefined) {
    throw new Error('startNginx: the config must listen on {{PORT}} (e.g. "listen 127.0.0.1:{{PORT}};")');
  }

  // own process group: if the master dies (a crash under ASan), stop()
  // still reaps the orphaned workers
  const child = await spawnChild(NGINX_BIN, args, { env, log: stderrLog, name: 'nginx', group: true });
  const why = () => `\n--- stderr ---\n${tail(readText(stderrLog))}\n--- error.log ---\n${tail(readText(errLog))}`;
  try {
    await waitPort(vars.PORT, { child, timeout: opts.timeout || 15000, what: 'nginx' });
  } catch (e) {
    await killChild(child, 'SIGKILL');
    killGroup(child.pid);
    e.message += why();
    throw e;
  }

  const pidFile = path.join(prefix, 'nginx.pid');
  let stopped = null;
  const ng = {
    prefix,
    port: vars.PORT,
    vars,
    pid: child.pid,
    confFile,
    url: (p = '/') => `http://127.0.0.1:${vars.PORT}${p}`,
    conf: () => readText(confFile),
    // error.log text; since = a value from mark() to get only what came after
    errorLog: (since = 0) => readText(errLog).slice(since),
    mark: () => readText(errLog).length,
    stderr: () => readText(stderrLog),
    workers: () => workerPids(child.pid),
    // Graceful stop (SIGQUIT); waits for the pid file to go and the master to exit.
    stop(timeout = 10000) {
      stopped ||= (async () => {
        if (child.exitCode === null && !child.signalCode) {
          child.kill('SIGQUIT');
          const until = Date.now() + timeout;
          while (fs.existsSync(pidFile) && Date.now() < until) await sleep(10);
          const t = setTimeout(() => child.kill('SIGKILL'), Math.max(0, until - Date.now()) + 1000);
          await child.exited;
          clearTimeout(t);
        }
        killGroup(child.pid);          // workers left behind by a dead master
        return child.exited;
      })();
      return stopped;
    },
    // nginx -s reload (with a new http/main snippet if given). Waits until
    // new workers run and the old ones are gone. A rejected config throws,
    // unless expectFailure: then returns the error.log lines it produced.
    async reload(newOpts = {}, { expectFailure = false, timeout = 15000 } = {}) {
      const { expectFailure: ef, ...o } = newOpts;
      const fail = expectFailure || ef;
      if (Object.keys(o).length) {
        current = { ...current, ...o };
        await write(current);
      }
      const old = new Set(workerPids(child.pid));
      const mark = ng.mark();
      if (child.exitCode !== null || child.signalCode) throw new Error(`nginx reload: the master is gone${why()}`);
      const r = await run(NGINX_BIN, [...args, '-s', 'reload'], ctlEnv);
      if (r.code !== 0) throw new Error(`nginx -s reload: exit ${r.code}\n${r.stderr}`);
      const until = Date.now() + timeout;
      while (Date.now() < until) {
        if (child.exitCode !== null || child.signalCode) {
          throw new Error(`nginx reload: the master died (${child.exitCode ?? child.signalCode})${why()}`);
        }
        const log = ng.errorLog(mark);
        if (/\[emerg\]/.test(log)) {
          if (fail) return log;
          throw new Error(`nginx reload rejected:\n${tail(log)}`);
        }
        const now = workerPids(child.pid);
        if (now.length && now.every((p) => !old.has(p))) {
          if (fail) throw new Error('nginx reload: expected a failure, new workers started');
          return log;
        }
        await sleep(25);
      }
      throw new Error(`nginx reload: no new workers after ${timeout} ms${why()}`);
    },
  };
  onStop(() => ng.stop());
  return ng;
}

// nginx -t on a config: snippet = text inside http{} or
// {http, main, events, module, vars}. Returns {ok, code, stderr, conf, prefix}.
export async function nginxTestConfig(snippet) {
  const o = typeof snippet === 'string' ? { http: snippet } : { ...snippet };
  const prefix = preparePrefix('nginx-t');
  const vars = { PREFIX: prefix, MODULE: MODULE_SO, REPO, ...(o.vars || {}) };
  const confFile = path.join(prefix, 'nginx.conf');
  const text = await substitute(nginxConf(o), vars);
  fs.writeFileSync(confFile, text);
  const r = await run(NGINX_BIN, ['-p', `${prefix}/`, '-c', confFile, '-e', 'stderr', '-t'],
    { ...sanitizerEnv({ control: true }), ...(o.env || {}) });
  return { ok: r.code === 0, code: r.code, stderr: r.stderr, conf: text, confFile, prefix };
}
