// The container image, without a container engine (these machines have
// none): docker/Dockerfile is checked for its shape (a build stage that runs
// scripts/package, a final stage without compilers that installs the .deb
// and runs as an unprivileged user), and the image's own nginx
// configuration (docker/nginx.conf + docker/gateway.conf) is run here as an
// unprivileged user in front of a real provider and an upstream standing in
// for the FHIR server. The .deb itself is built and installed by the test
// part "package" (scripts/package check).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import {
  REPO, NGINX_BIN, MODULE_SO, startProvider, startEcho, stopAll, onStop, makePrefix, freePort,
  waitPort, http, sanitizerEnv,
} from './lib/harness.mjs';

const dockerfile = fs.readFileSync(path.join(REPO, 'docker/Dockerfile'), 'utf8');

// the stages: [{from, as, lines}]
function stages() {
  const out = [];
  for (const raw of dockerfile.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (m) out.push({ from: m[1], as: m[2], lines: [] });
    else out.at(-1).lines.push(line);
  }
  return out;
}

test('Dockerfile: a build stage running scripts/package, a small final stage', () => {
  const s = stages();
  assert.equal(s.length, 2, 'two stages');
  assert.match(s[0].lines.join('\n'), /scripts\/package/);
  assert.ok(fs.statSync(path.join(REPO, 'scripts/package')).mode & 0o111, 'scripts/package is executable');
  const final = s[1].lines.join('\n');
  assert.match(final, /COPY --from=build \S*libnginx-mod-http-oidc_\*\.deb/);
  assert.match(final, /apt-get install[^\n]*libnginx-mod-http-oidc_\*\.deb/);
  for (const tool of ['build-essential', 'gcc', 'clang', 'make', '-dev ', 'dpkg-dev', 'debhelper']) {
    assert.ok(!final.includes(tool), `no ${tool.trim()} in the final image`);
  }
  const user = /^USER\s+(\S+)/m.exec(final);
  assert.ok(user && !['root', '0'].includes(user[1]), 'runs as an unprivileged user');
  assert.match(final, /COPY docker\/nginx\.conf \/etc\/nginx\/nginx\.conf/);
  assert.match(final, /COPY docker\/gateway\.conf \/etc\/nginx\/conf\.d\/gateway\.conf/);
  for (const f of ['docker/nginx.conf', 'docker/gateway.conf', 'docker/compose.yaml']) {
    assert.ok(fs.existsSync(path.join(REPO, f)), f);
  }
});

let op, echo, dir, port, nginx;

before(async () => {
  op = await startProvider();
  echo = await startEcho();
  port = await freePort();
  dir = makePrefix('docker');
  fs.mkdirSync(path.join(dir, 'cache'));
  fs.mkdirSync(path.join(dir, 'conf.d'));
  spawnSync('chown', ['-R', 'nobody', dir]);
  // the image's files, with the container's paths and host names mapped
  // onto this machine: the module from the build instead of the package
  // snippet, the provider and "FHIR server" on loopback
  const conf = fs.readFileSync(path.join(REPO, 'docker/nginx.conf'), 'utf8')
    .replace('include /etc/nginx/modules-enabled/*.conf;', `load_module ${MODULE_SO};`)
    .replaceAll('/var/cache/nginx-gateway', path.join(dir, 'cache'))
    .replace('include /etc/nginx/conf.d/*.conf;', `include ${dir}/conf.d/*.conf;`)
    .replace('error_log stderr info;', `error_log ${dir}/error.log info;`)
    .replace('access_log /dev/stdout;', 'access_log off;')
    .replace('worker_processes auto;', 'worker_processes 1;');
  const gateway = fs.readFileSync(path.join(REPO, 'docker/gateway.conf'), 'utf8')
    .replace('http://op:9000', op.issuer)
    .replaceAll('http://fhir:8080', `http://${echo.addr}`)
    .replace('listen 8080;', `listen 127.0.0.1:${port};`);
  assert.notEqual(conf, fs.readFileSync(path.join(REPO, 'docker/nginx.conf'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  fs.writeFileSync(path.join(dir, 'conf.d/gateway.conf'), gateway);
  const asNobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', NGINX_BIN,
    '-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`];
  const env = { ...process.env, ...sanitizerEnv() };
  // nginx -t exits without freeing its cycle: a control run for the sanitizers
  const t = spawnSync('setpriv', [...asNobody, '-t'], {
    encoding: 'utf8', env: { ...process.env, ...sanitizerEnv({ control: true }) },
  });
  assert.equal(t.status, 0, `nginx -t as nobody:\n${t.stderr}`);
  nginx = spawn('setpriv', [...asNobody, '-g', 'daemon off;'], { stdio: 'ignore', env });
  onStop(() => new Promise((resolve) => {
    if (nginx.exitCode !== null) { resolve(); return; }
    nginx.once('exit', resolve);
    nginx.kill('SIGQUIT');
  }));
  await waitPort(port, { child: nginx, what: 'the image\'s nginx' });
});

after(stopAll);

test('the image\'s configuration runs unprivileged: public metadata, protected FHIR API', async () => {
  const base = `http://127.0.0.1:${port}`;
  assert.equal((await http(`${base}/healthz`)).status, 200);
  assert.equal((await http(`${base}/fhir/metadata`)).status, 200, 'the capability statement is public');
  const none = await http(`${base}/fhir/Patient`, { headers: { Accept: 'application/fhir+json' } });
  assert.equal(none.status, 401);
  assert.match(none.headers['www-authenticate'], /^Bearer /);
  const token = await op.token();
  const ok = await http(`${base}/fhir/Patient`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.equal(echo.last().url, '/fhir/Patient');
  // a browser is sent to the provider's login, with the callback in /fhir/
  const nav = await http(`${base}/fhir/Patient`, { headers: { Accept: 'text/html' } });
  assert.equal(nav.status, 302);
  const loc = new URL(nav.headers.location);
  assert.equal(loc.origin, op.issuer);
  assert.equal(loc.searchParams.get('redirect_uri'), `${base}/fhir/oidc_callback`);
  // the workers really are unprivileged
  const ps = spawnSync('ps', ['-o', 'user=', '--ppid', String(nginx.pid)], { encoding: 'utf8' });
  assert.ok(ps.stdout.trim().split('\n').every((u) => u.trim() === 'nobody'), ps.stdout);
});
