#!/usr/bin/env node
// Throughput of the module against a bare nginx proxy, measured in one run.
//
//   node bench/run.mjs [--seconds 5] [--rounds 3] [--connections 32]
//                      [--memory 1000000] [--redis 0]
//
// One nginx (1 worker) serves four front ports, all proxying to a local
// upstream (an nginx server answering 200 from memory) with the same
// ~1.4 KB Authorization header:
//   bare       no module on the location: the reference
//   repeated   auth_oidc, one valid RS256 token, verified-token cache on
//   distinct   auth_oidc, DISTINCT tokens (a wrk Lua script cycles through
//              them), cache on: each new token is verified once
//   nocache    auth_oidc, one token, cache off: a full verification
//              (decode, RS256 verify, claims) on every request
//   session    auth_oidc with a browser session: a login done once with
//              headless Chromium against the real oidc-provider
//              (t/lib/op.mjs), then every request carries the session
//              cookie; compared with
//   bare-cookie  no module, the same session cookie sent
//   redis      the session case with session_store on a local redis-server
//              (one connection per worker, copies kept cache_time 5s)
//   redis-nocache  the same with cache_time 0: Redis asked on every request
//              (--redis 0: without the two Redis cases, e.g. to measure a
//              build that has no Redis store)
// Each location passes 2 claims upstream as headers.  Runs are interleaved
// (bare, repeated, distinct, nocache, bare, ...) and the median of the rounds
// is reported, with each ratio to the bare proxy of the same run; absolute
// numbers are not comparable between machines.  On a shared machine,
// req/s swing with the neighbours' load: the worker's own CPU time per
// request (utime + stime from /proc, over each run) is also reported, with
// its ratio (the bare case's CPU per request / the case's), which the
// neighbours do not change much.  --memory N sends N more
// requests with distinct tokens and reports the worker's RSS before/after.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeKeys, publicJwks, sign, freePort, waitPort, startProvider, startRedis, stopAll, CLIENTS,
} from '../t/lib/harness.mjs';
import { launchBrowser, devLogin } from '../t/lib/browser.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 5);
const ROUNDS = arg('rounds', 3);
const CONNS = arg('connections', 32);
const MEMORY = arg('memory', 0);
const REDIS = arg('redis', 1);
const SESSIONS = REDIS ? ['session', 'redis', 'redis-nocache'] : ['session'];
const DISTINCT = arg('tokens', 100000);
const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';
const MODULE = path.resolve(REPO, process.env.MODULE_SO || '.build/deb/ngx_http_oidc_module.so');
const ISSUER = 'https://idp.bench.example';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-bench-'));
fs.chmodSync(dir, 0o755);
for (const d of ['logs', 'tmp']) fs.mkdirSync(path.join(dir, d));

const keys = await makeKeys({ rsa: true, ec: false });
const rsa = keys.keys[0];
fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(publicJwks(keys)));

const now = Math.floor(Date.now() / 1000);
// claims sized so that "Authorization: Bearer <token>" is about 1.4 KB
const payload = (i) => ({
  iss: ISSUER, sub: `user-${i}`, aud: 'urn:bench:api', iat: now, exp: now + 7200,
  scope: 'patient/*.read user/*.read openid', client_id: 'bench',
  jti: crypto.randomBytes(12).toString('base64url'),
  'http://lifen.fr/userInfo': { uuid: crypto.randomUUID(), currentWorkspaceId: 'ws-0042' },
  pad: 'x'.repeat(420),
});
const token = sign({ alg: 'RS256', typ: 'at+jwt', kid: rsa.kid }, payload(0), rsa);

// Distinct tokens: RS256 signing is the slow part here, not in nginx.
const ntok = Math.max(DISTINCT, MEMORY ? 1 : 0);
process.stderr.write(`signing ${ntok} distinct tokens ... `);
const pk = crypto.createPrivateKey({ key: rsa, format: 'jwk' });
const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: rsa.kid }))
  .toString('base64url');
const lines = [];
for (let i = 0; i < ntok; i++) {
  const input = `${header}.${Buffer.from(JSON.stringify(payload(i + 1))).toString('base64url')}`;
  lines.push(`${input}.${crypto.sign('sha256', Buffer.from(input), pk).toString('base64url')}`);
}
fs.writeFileSync(path.join(dir, 'tokens.txt'), lines.join('\n') + '\n');
process.stderr.write('done\n');

const lua = path.join(dir, 'distinct.lua');
fs.writeFileSync(lua, `
local tokens = {}
for line in io.lines("${dir}/tokens.txt") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
`);

const ports = { upstream: await freePort(), bare: await freePort(), repeated: await freePort(),
  distinct: await freePort(), nocache: await freePort(), 'bare-cookie': await freePort(),
  session: await freePort(), redis: await freePort(), 'redis-nocache': await freePort() };
const sessionOrigin = `http://127.0.0.1:${ports.session}`;
const origins = SESSIONS.map((k) => `http://127.0.0.1:${ports[k]}`);
const op = await startProvider({
  rpOrigin: sessionOrigin, redirectUris: origins.map((o) => `${o}/oidc_callback`),
});
const redis = REDIS ? await startRedis() : null;

const protectedServer = (port, cache) => `
    server {
        listen 127.0.0.1:${port};
        location / {
            auth_oidc bench;
            auth_oidc_token_cache ${cache};
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Workspace $workspace;
            proxy_pass http://upstream;
        }
    }`;

fs.writeFileSync(path.join(dir, 'nginx.conf'), `
load_module ${MODULE};
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;

    upstream upstream { server 127.0.0.1:${ports.upstream}; keepalive 64; }
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    oidc_provider bench {
        issuer ${ISSUER};
        jwks_file ${dir}/jwks.json;
        audience urn:bench:api;
    }
${REDIS ? `
    oidc_redis r { server ${redis.addr}; }
    oidc_redis r0 { server ${redis.addr}; cache_time 0; }` : ''}
${[['dev', ''], ['devr', 'session_store r;'], ['devr0', 'session_store r0;']].slice(0, SESSIONS.length)
    .map(([name, store]) => `
    oidc_provider ${name} {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        ${store}
    }`).join('')}
    oidc_token_cache_zone 64m;
    auth_oidc_claim_set $workspace "http://lifen.fr/userInfo" currentWorkspaceId;

    server {
        listen 127.0.0.1:${ports.upstream};
        location / { return 200 "ok\\n"; }
    }
    server {
        listen 127.0.0.1:${ports.bare};
        location / {
            # a location's proxy_set_header replaces the inherited ones
            proxy_set_header Connection "";
            proxy_set_header X-User "bench";
            proxy_set_header X-Workspace "ws-0042";
            proxy_pass http://upstream;
        }
    }
    server {
        listen 127.0.0.1:${ports['bare-cookie']};
        location / {
            proxy_set_header Connection "";
            proxy_set_header X-User "alice";
            proxy_set_header X-Token "at";
            proxy_pass http://upstream;
        }
    }
${SESSIONS.map((k, i) => `
    server {
        listen 127.0.0.1:${ports[k]};
        location / {
            auth_oidc ${['dev', 'devr', 'devr0'][i]};
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Token $oidc_access_token;
            proxy_pass http://upstream;
        }
    }`).join('')}
${protectedServer(ports.repeated, 'on')}
${protectedServer(ports.distinct, 'on')}
${protectedServer(ports.nocache, 'off')}
}
`);

const nginx = spawn(NGINX, ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', 'stderr'],
  { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => { try { nginx.kill('SIGQUIT'); } catch { /* gone */ } };
process.on('exit', stop);
await waitPort(ports.nocache, { child: nginx, what: 'nginx' });

// one browser login for each session case (a fresh browser: cookies are
// shared by the ports of a host)
async function browserLogin(origin) {
  const browser = await launchBrowser();
  try {
    await browser.page.goto(`${origin}/`);
    await devLogin(browser.page, { until: (u) => u.origin === origin });
    const c = (await browser.cookies(origin)).find((x) => x.name.endsWith('NGX_OIDC_SESSION'));
    if (!c) throw new Error('no session cookie after the login');
    return `${c.name}=${c.value}`;
  } finally {
    await browser.close();
  }
}
const cookies = {};
for (const [i, k] of SESSIONS.entries()) cookies[k] = await browserLogin(origins[i]);
const cookie = cookies.session;

function wrk(port, { script, seconds = SECONDS } = {}) {
  const args = ['-t1', `-c${CONNS}`, `-d${seconds}s`];
  if (script) args.push('-s', script);
  else if (port === ports.redis) args.push('-H', `Cookie: ${cookies.redis}`);
  else if (port === ports['redis-nocache']) args.push('-H', `Cookie: ${cookies['redis-nocache']}`);
  else if (port === ports.session || port === ports['bare-cookie']) args.push('-H', `Cookie: ${cookie}`);
  else args.push('-H', `Authorization: Bearer ${token}`);
  args.push(`http://127.0.0.1:${port}/`);
  const cpu0 = cpuTicks();
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const cpu = cpuTicks() - cpu0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`port ${port}: ${non2xx[1]} non-2xx responses\n${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  cpuPerRequest[port] ||= [];
  cpuPerRequest[port].push((cpu * 1e6) / CLK_TCK / requests);
  return rps;
}

// the worker's CPU time in clock ticks (fields 14 and 15 of its stat)
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const cpuPerRequest = {};
let worker;
function cpuTicks() {
  worker ||= workerPid();
  const f = fs.readFileSync(`/proc/${worker}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

const workerPid = () => {
  const kids = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(nginx.pid)], { encoding: 'utf8' });
  return Number(kids.split('\n').find((l) => l.includes('worker')).trim().split(/\s+/)[0]);
};
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

// --serve: keep the gateway up for profiling (perf record -p <worker>)
if (process.argv.includes('--serve')) {
  fs.writeFileSync(path.join(dir, 'token.txt'), token);
  console.log(JSON.stringify({ dir, ports, worker: workerPid(), cookies }));
  await new Promise(() => {});
}

// warm up: connections, keys, cache
for (const p of [ports.bare, ports.repeated, ports.nocache, ports['bare-cookie'],
  ...SESSIONS.map((k) => ports[k])]) {
  wrk(p, { seconds: 1 });
}

for (const p of Object.keys(cpuPerRequest)) delete cpuPerRequest[p];     // not the warm-up

const runs = { bare: [], repeated: [], distinct: [], nocache: [], 'bare-cookie': [] };
for (const k of SESSIONS) runs[k] = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const k of Object.keys(runs)) {
    runs[k].push(wrk(ports[k], k === 'distinct' ? { script: lua } : {}));
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const bare = median(runs.bare);
console.log(`${spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim()}, `
  + `${os.cpus().length} cores, 1 worker, wrk -t1 -c${CONNS}, ${SECONDS}s x ${ROUNDS} rounds, `
  + `Authorization header ${`Bearer ${token}`.length + 'Authorization: '.length} bytes`);
console.log('case          req/s (median)   ratio to bare   µs CPU/req   CPU ratio   runs');
const cpuOf = (k) => median(cpuPerRequest[ports[k]]);
for (const [k, v] of Object.entries(runs)) {
  // the session case is compared with the bare proxy sending its cookie
  const ref = ['session', 'bare-cookie', 'redis', 'redis-nocache'].includes(k)
    ? median(runs['bare-cookie']) : bare;
  const cpuRef = ['session', 'bare-cookie', 'redis', 'redis-nocache'].includes(k)
    ? cpuOf('bare-cookie') : cpuOf('bare');
  console.log(`${k.padEnd(14)}${median(v).toFixed(0).padStart(14)}   ${(median(v) / ref).toFixed(3).padStart(13)}`
    + `   ${cpuOf(k).toFixed(1).padStart(10)}   ${(cpuRef / cpuOf(k)).toFixed(3).padStart(9)}`
    + `   ${v.map((x) => x.toFixed(0)).join(' ')}`);
}

if (MEMORY) {
  const pid = workerPid();
  const before = rss(pid);
  let sent = 0;
  const start = Date.now();
  while (sent < MEMORY) {
    const rps = wrk(ports.distinct, { script: lua, seconds: 10 });
    sent += rps * 10;
  }
  const after = rss(pid);
  console.log(`memory: worker RSS ${before} kB before, ${after} kB after ~${Math.round(sent)} `
    + `more requests with distinct tokens (${((Date.now() - start) / 1000).toFixed(0)} s)`);
}

stop();
await stopAll();
fs.rmSync(dir, { recursive: true, force: true });
