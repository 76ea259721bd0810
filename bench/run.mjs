#!/usr/bin/env node
// Throughput of the module against a bare nginx proxy, measured in one run.
//
//   node bench/run.mjs [--seconds 5] [--rounds 3] [--connections 32]
//                      [--memory 1000000]
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
//   introspected auth_oidc_token_check introspection with an opaque access
//              token from the same oidc-provider: introspected once, then
//              served from the cache (the worker's, then the shared one);
//              compared with
//   bare-opaque  no module, the same opaque Authorization header sent
//   redis      the session case with session_store on a local redis-server
//              (one connection per worker, copies kept cache_time 5s)
//   redis-nocache  the same with cache_time 0: Redis asked on every request
//              (--redis 0: without the two Redis cases)
//   repeated-off, session-off  the same two cases on a second nginx
//              (1 worker) whose only difference is "oidc_metrics off":
//              what the counters cost (ratio on/off of the same run)
// Each location passes 2 claims upstream as headers.  Runs are interleaved
// (bare, repeated, distinct, nocache, bare, ...) and the median of the rounds
// is reported, with each ratio to the bare proxy of the same run; absolute
// numbers are not comparable between machines.  --memory N sends N more
// requests with distinct tokens and reports the worker's RSS before/after.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeKeys, publicJwks, sign, freePort, waitPort, startProvider, startRedis, stopAll,
  CLIENTS,
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
const DISTINCT = arg('tokens', 100000);
const REDIS = arg('redis', 1);
const REDIS_CASES = REDIS ? ['redis', 'redis-nocache'] : [];
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
  session: await freePort(), 'bare-opaque': await freePort(), introspected: await freePort(),
  'repeated-off': await freePort(), 'session-off': await freePort(), 'upstream-off': await freePort(),
  redis: await freePort(), 'redis-nocache': await freePort() };
const sessionOrigin = `http://127.0.0.1:${ports.session}`;
const sessionOffOrigin = `http://127.0.0.1:${ports['session-off']}`;
const redisOrigins = REDIS_CASES.map((k) => `http://127.0.0.1:${ports[k]}`);
// access tokens outlive the run: the introspected case stays cached
const op = await startProvider({ rpOrigin: sessionOrigin, atTtl: 3600,
  redirectUris: [sessionOrigin, sessionOffOrigin, ...redisOrigins].map((o) => `${o}/oidc_callback`) });
const redis = REDIS ? await startRedis() : null;
const opaque = await op.token({ resource: 'urn:gateway:opaque' });

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

const sessionServer = (port, provider = 'dev') => `
    server {
        listen 127.0.0.1:${port};
        location / {
            auth_oidc ${provider};
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Token $oidc_access_token;
            proxy_pass http://upstream;
        }
    }`;

// the second nginx has the same module configuration, counters off
const head = (name, metrics) => `
load_module ${MODULE};
daemon off;
worker_processes 1;
pid ${dir}/${name}.pid;
error_log ${dir}/logs/${name}.log warn;
events { worker_connections 1024; }
http {
    oidc_metrics ${metrics};
    access_log off;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
`;
const common = `
    upstream upstream { server 127.0.0.1:${ports.upstream}; keepalive 64; }
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    oidc_provider bench {
        issuer ${ISSUER};
        jwks_file ${dir}/jwks.json;
        audience urn:bench:api;
    }
    oidc_provider dev {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
    }
${REDIS ? `
    oidc_redis r { server ${redis.addr}; }
    oidc_redis r0 { server ${redis.addr}; cache_time 0; }
${[['devr', 'r'], ['devr0', 'r0']].map(([name, store]) => `
    oidc_provider ${name} {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        session_store ${store};
    }`).join('')}` : ''}
    oidc_provider intro {
        issuer ${op.issuer};
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        allow_insecure_http on;
        audience urn:gateway:opaque;
        introspection_cache_time 1h;
    }
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
${sessionServer(ports.session)}
${REDIS ? `${sessionServer(ports.redis, 'devr')}
${sessionServer(ports['redis-nocache'], 'devr0')}` : ''}
    server {
        listen 127.0.0.1:${ports['bare-opaque']};
        location / {
            proxy_set_header Connection "";
            proxy_set_header X-Client "api-client";
            proxy_set_header X-Scope "api:read api:write";
            proxy_pass http://upstream;
        }
    }
    server {
        listen 127.0.0.1:${ports.introspected};
        location / {
            auth_oidc intro;
            auth_oidc_token_check introspection;
            auth_oidc_header X-Client $oidc_claim_client_id;
            auth_oidc_header X-Scope $oidc_claim_scope;
            proxy_pass http://upstream;
        }
    }
${protectedServer(ports.repeated, 'on')}
${protectedServer(ports.distinct, 'on')}
${protectedServer(ports.nocache, 'off')}
}
`;
fs.writeFileSync(path.join(dir, 'nginx.conf'), `${head('nginx', 'on')}${common}`);
// with its own upstream server: the same work in the measured worker
fs.writeFileSync(path.join(dir, 'off.conf'), `${head('off', 'off')}${common}`
  .replaceAll(`127.0.0.1:${ports.upstream};`, `127.0.0.1:${ports['upstream-off']};`)
  .replace(/\n    server \{\n        listen 127\.0\.0\.1:\d+;\n        location \/ \{ return[\s\S]*$/, `
    server {
        listen 127.0.0.1:${ports['upstream-off']};
        location / { return 200 "ok\\n"; }
    }
${protectedServer(ports['repeated-off'], 'on')}
${sessionServer(ports['session-off'])}
}
`));

const nginx = spawn(NGINX, ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', 'stderr'],
  { stdio: ['ignore', 'inherit', 'inherit'] });
const off = spawn(NGINX, ['-p', `${dir}/`, '-c', `${dir}/off.conf`, '-e', 'stderr'],
  { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => {
  for (const n of [nginx, off]) { try { n.kill('SIGQUIT'); } catch { /* gone */ } }
};
process.on('exit', stop);
await waitPort(ports.nocache, { child: nginx, what: 'nginx' });
await waitPort(ports['session-off'], { child: off, what: 'nginx (oidc_metrics off)' });

// one browser login for each session case
async function login(origin) {
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
const cookie = await login(sessionOrigin);
const cookieOff = await login(sessionOffOrigin);
const redisCookies = {};
for (const [i, k] of REDIS_CASES.entries()) redisCookies[ports[k]] = await login(redisOrigins[i]);

function wrk(port, { script, seconds = SECONDS } = {}) {
  const args = ['-t1', `-c${CONNS}`, `-d${seconds}s`];
  if (script) args.push('-s', script);
  else if (port === ports.session || port === ports['bare-cookie']) args.push('-H', `Cookie: ${cookie}`);
  else if (port === ports.introspected || port === ports['bare-opaque']) {
    args.push('-H', `Authorization: Bearer ${opaque}`);
  }
  else if (port === ports['session-off']) args.push('-H', `Cookie: ${cookieOff}`);
  else if (redisCookies[port]) args.push('-H', `Cookie: ${redisCookies[port]}`);
  else args.push('-H', `Authorization: Bearer ${token}`);
  args.push(`http://127.0.0.1:${port}/`);
  // the worker's CPU time per request: unlike req/s, it hardly depends on
  // what else the machine runs
  const worker = workerPid(port === ports['repeated-off'] || port === ports['session-off'] ? off : nginx);
  const cpu0 = cpuTicks(worker);
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const cpu1 = cpuTicks(worker);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`port ${port}: ${non2xx[1]} non-2xx responses\n${out}`);
  cpuPerRequest[port] = ((cpu1 - cpu0) * 1e6) / TICKS / requests;
  return rps;
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const cpuPerRequest = {};
// utime + stime of a process, in clock ticks
const cpuTicks = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};

const workerPid = (master = nginx) => {
  const kids = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(master.pid)], { encoding: 'utf8' });
  return Number(kids.split('\n').find((l) => l.includes('worker')).trim().split(/\s+/)[0]);
};
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

// --serve: keep the gateway up for profiling (perf record -p <worker>)
if (process.argv.includes('--serve')) {
  fs.writeFileSync(path.join(dir, 'token.txt'), token);
  console.log(JSON.stringify({ dir, ports, worker: workerPid() }));
  await new Promise(() => {});
}

// warm up: connections, keys, cache
for (const p of [ports.bare, ports.repeated, ports.nocache, ports['bare-cookie'], ports.session,
  ports['bare-opaque'], ports.introspected, ports['repeated-off'], ports['session-off'],
  ...REDIS_CASES.map((k) => ports[k])]) {
  wrk(p, { seconds: 1 });
}

const runs = { bare: [], repeated: [], distinct: [], nocache: [], 'bare-cookie': [], session: [],
  'bare-opaque': [], introspected: [], 'repeated-off': [], 'session-off': [] };
for (const k of REDIS_CASES) runs[k] = [];
const cpus = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (let i = 0; i < ROUNDS; i++) {
  for (const k of Object.keys(runs)) {
    runs[k].push(wrk(ports[k], k === 'distinct' ? { script: lua } : {}));
    cpus[k].push(cpuPerRequest[ports[k]]);
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const bare = median(runs.bare);
console.log(`${spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim()}, `
  + `${os.cpus().length} cores, 1 worker, wrk -t1 -c${CONNS}, ${SECONDS}s x ${ROUNDS} rounds, `
  + `Authorization header ${`Bearer ${token}`.length + 'Authorization: '.length} bytes`);
console.log('case          req/s (median)   ratio to bare   worker CPU µs/req (median)   runs');
for (const [k, v] of Object.entries(runs)) {
  // the session case is compared with the bare proxy sending its cookie
  // and the introspected one with the bare proxy sending its opaque token
  const ref = k.startsWith('session') || k.startsWith('redis') || k === 'bare-cookie'
    ? median(runs['bare-cookie'])
    : k === 'introspected' || k === 'bare-opaque' ? median(runs['bare-opaque']) : bare;
  console.log(`${k.padEnd(14)}${median(v).toFixed(0).padStart(14)}   ${(median(v) / ref).toFixed(3).padStart(13)}`
    + `   ${median(cpus[k]).toFixed(1).padStart(26)}   ${v.map((x) => x.toFixed(0)).join(' ')}`);
}

// the cost of the counters: the same case with "oidc_metrics off", same run
for (const k of ['repeated', 'session']) {
  console.log(`metrics on/off, ${k}: req/s ${(median(runs[k]) / median(runs[`${k}-off`])).toFixed(3)}`
    + ` (rounds: ${runs[k].map((x, i) => (x / runs[`${k}-off`][i]).toFixed(3)).join(' ')}),`
    + ` CPU per request ${(median(cpus[k]) / median(cpus[`${k}-off`])).toFixed(3)}`
    + ` (rounds: ${cpus[k].map((x, i) => (x / cpus[`${k}-off`][i]).toFixed(3)).join(' ')})`);
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
