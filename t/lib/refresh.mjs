// Shared by the session renewal tests (t/054-refresh*.test.mjs): the real
// oidc-provider, nginx with one provider block per scenario, and a small
// proxy in front of the token endpoint. The proxy passes requests on to the
// provider unchanged unless a test sets modes[block] to alter that block's
// refresh_token grants:
//   '500'              answer 500 server_error itself
//   'html'             answer 200 with an HTML page
//   'no-access-token'  the provider's answer without access_token
//   'resign'           the ID token re-signed with the provider's key
//   'other-sub'        the same, with sub "mallory"
//   'revoke'           revoke the refresh token at the provider first (a
//                      real revocation), then pass the grant on
// When the provider is down, the proxy drops the connection. hold(NAME)
// keeps the provider's answer to block NAME's next refresh_token grant
// until released. The revocation endpoint goes through the proxy too:
// revoked lists the tokens the gateway revoked.
//
// The provider issues atTtl-second access tokens at login and 300 s ones
// from the refresh_token grant, and rotates refresh tokens on every use, so
// a reused one is refused.

import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import {
  startProvider, startEcho, startNginx, http, freePort, onStop, CLIENTS,
} from './harness.mjs';
import { launchBrowser, devLogin } from './browser.mjs';

export const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
export const NAV = { Accept: HTML, 'Sec-Fetch-Mode': 'navigate' };
export const XHR = { Accept: 'application/json' };
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const send = (res, status, obj) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
};

// blocks: {name: refresh_before, or [refresh_before, more directives of
// that block]}; each block NAME protects /NAME/ and
// passes X-AT ($oidc_access_token), X-User and X-Iat upstream. httpExtra:
// more http-level configuration (an oidc_redis block); providerExtra: more
// directives in every provider block (session_store NAME).
export async function startRefreshStack({ blocks, atTtl, httpExtra = '', providerExtra = '' }) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const modes = {};
  const proxied = {};
  const holds = {};
  const revoked = [];
  const refreshTokens = new Set();
  let op;
  let browser = null;

  const proxySrv = nodeHttp.createServer((req, res) => proxy(req, res).catch((e) => {
    res.writeHead(500); res.end(String(e));
  }));
  await new Promise((r) => proxySrv.listen(0, '127.0.0.1', r));
  const proxyOrigin = `http://127.0.0.1:${proxySrv.address().port}`;
  onStop(() => new Promise((r) => { proxySrv.closeAllConnections(); proxySrv.close(r); }));
  onStop(async () => { await browser?.close(); });

  async function proxy(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const [, name, rest] = req.url.match(/^\/([^/]+)(\/.*)$/) || [];
    if (rest === '/.well-known/openid-configuration') {
      const d = await op.discovery();
      d.token_endpoint = `${proxyOrigin}/${name}/token`;
      d.revocation_endpoint = `${proxyOrigin}/${name}/revoke`;
      send(res, 200, d);
      return;
    }
    const body = Buffer.concat(chunks).toString();
    const form = new URLSearchParams(body);
    if (rest === '/revoke') {
      revoked.push(form.get('token'));
      const rv = await http((await op.discovery()).revocation_endpoint, {
        method: 'POST', body,
        headers: { 'Content-Type': req.headers['content-type'], Authorization: req.headers.authorization },
      });
      res.writeHead(rv.status, { 'Content-Type': 'application/json' });
      res.end(rv.body);
      return;
    }
    const refresh = form.get('grant_type') === 'refresh_token';
    const mode = refresh ? modes[name] : undefined;
    const headers = { 'Content-Type': req.headers['content-type'], Authorization: req.headers.authorization };
    if (refresh) {
      proxied[name] = (proxied[name] || 0) + 1;
      refreshTokens.add(form.get('refresh_token'));
    }
    if (mode === '500') { send(res, 500, { error: 'server_error' }); return; }
    if (mode === 'html') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>maintenance</html>');
      return;
    }
    let r;
    try {
      if (mode === 'revoke') {
        const d = await op.discovery();
        const rv = await http(d.revocation_endpoint, {
          method: 'POST', headers,
          body: new URLSearchParams({ token: form.get('refresh_token'), token_type_hint: 'refresh_token' })
            .toString(),
        });
        assert.equal(rv.status, 200);
      }
      r = await http(`${op.issuer}/token`, { method: 'POST', body, headers });
    } catch {
      req.socket.destroy();       // the provider is down: so is its endpoint
      return;
    }
    let text = r.body;
    if (r.status === 200 && refresh) {
      const t = JSON.parse(text);
      if (t.refresh_token) refreshTokens.add(t.refresh_token);
      if (mode === 'no-access-token') delete t.access_token;
      if (mode === 'resign' || mode === 'other-sub') {
        const [h, p] = t.id_token.split('.');
        const header = JSON.parse(Buffer.from(h, 'base64url'));
        const payload = JSON.parse(Buffer.from(p, 'base64url'));
        if (mode === 'other-sub') payload.sub = 'mallory';
        const key = op.keys.keys.find((k) => k.kid === header.kid);
        t.id_token = op.sign({ ...header, typ: header.typ }, payload, key);
      }
      text = JSON.stringify(t);
      const h = holds[name];
      if (h) {
        delete holds[name];
        h.reached();
        await h.released;
      }
    }
    send(res, r.status, text);
  }

  op = await startProvider({
    rpOrigin: origin,
    atTtl,
    env: { OP_AT_TTL_REFRESH: '300', OP_ROTATE_REFRESH: '1' },
    redirectUris: Object.keys(blocks).map((b) => `${origin}/${b}/oidc_callback`),
  });
  const echo = await startEcho();
  const conf = Object.entries(blocks).map(([b, v]) => [b, ...[v].flat()]).map(([b, before, own = '']) => `
    oidc_provider ${b} {
        issuer ${op.issuer};
        config_url ${proxyOrigin}/${b}/.well-known/openid-configuration;
        client_id gateway;
        client_secret ${CLIENTS.gateway};
        redirect_uri /${b}/oidc_callback;
        cookie_name ${b.toUpperCase()};
        refresh_before ${before};
        allow_insecure_http on;
        ${own}
        ${providerExtra}
    }`).join('\n');
  const locations = Object.keys(blocks).map((b) => `
        location /${b}/ {
            auth_oidc ${b};
            auth_oidc_header X-AT $oidc_access_token;
            auth_oidc_header X-User $oidc_claim_sub;
            auth_oidc_header X-Iat $oidc_claim_iat;
            proxy_pass http://${echo.addr};
        }`).join('\n');
  const ng = await startNginx({
    vars: { PORT: port },
    workers: 2,
    http: `
    ${httpExtra}
    ${conf}
    server {
        listen 127.0.0.1:{{PORT}};
        ${locations}
    }`,
  });

  const s = {
    op, ng, echo, origin, modes, proxied, refreshTokens, revoked,
    // holds the answer to block NAME's next renewal: {reached, release()}
    hold(name) {
      let release, reached;
      const h = {
        released: new Promise((r) => { release = r; }),
        reached: null,
      };
      const got = new Promise((r) => { reached = r; });
      h.reached = reached;
      holds[name] = h;
      return { reached: got, release };
    },
    refreshGrants: () => op.events('grant.success')
      .filter((e) => e.grant_type === 'refresh_token' && e.client === 'gateway').length,
    refreshErrors: () => op.events('grant.error').filter((e) => e.grant_type === 'refresh_token'),
    // a browser login on block NAME (one browser, its cookies cleared
    // first); the landing request /NAME/landing must pass. Returns the
    // session cookie as a Cookie header value.
    async login(name, user = 'alice') {
      browser ||= await launchBrowser();
      await browser.context.clearCookies();
      const { page } = browser;
      await page.goto(`${origin}/${name}/landing`);
      await devLogin(page, { login: user, until: (u) => u.origin === origin });
      assert.equal(page.url(), `${origin}/${name}/landing`);
      const body = JSON.parse(await page.textContent('body'));
      assert.equal(body.url, `/${name}/landing`);
      const c = (await browser.cookies(origin)).find((x) => x.name === `__Host-${name.toUpperCase()}`);
      assert.ok(c, 'session cookie');
      return `${c.name}=${c.value}`;
    },
    // a request with the session cookie: {status, at, user, iat, res}
    async get(name, cookie, path = '/x', headers = XHR) {
      const res = await http(`${origin}/${name}${path}`, { headers: { ...headers, Cookie: cookie } });
      if (res.status !== 200) return { status: res.status, res };
      const seen = res.json().headers;
      const h = (n) => seen.find(([k]) => k.toLowerCase() === n)?.[1];
      return { status: 200, at: h('x-at'), user: h('x-user'), iat: h('x-iat'), res };
    },
    // the response deletes block NAME's session cookie
    cleared: (res, name) => (res.headers['set-cookie'] || [])
      .some((c) => c.startsWith(`__Host-${name.toUpperCase()}=;`) && /Max-Age=0/.test(c)),
    // the module's own error.log lines since mark (no debug lines)
    oidcLog: (mark) => ng.errorLog(mark).split('\n')
      .filter((l) => l.includes(' oidc: ') && !l.includes('[debug]')).join('\n'),
  };
  return s;
}

// block NAME (with logout_uri /NAME/logout) logged out while a request
// renews its session: the renewal does not bring it back, and the refresh
// token of its answer is revoked (so is the old one, by the logout)
export async function logoutDuringRenewal(s, name, user) {
  const cookie = await s.login(name, user);
  const r0 = s.revoked.length;
  const held = s.hold(name);
  const pending = s.get(name, cookie);              // due: renewed, its answer held
  await held.reached;
  const issued = [...s.refreshTokens].at(-1);       // in the held answer
  const mark = s.ng.mark();
  const out = await http(`${s.origin}/${name}/logout`, {
    headers: { Cookie: cookie, 'Sec-Fetch-Site': 'same-origin', Accept: HTML },
  });
  assert.equal(out.status, 302, 'logged out');
  held.release();
  const r = await pending;
  assert.equal(r.status, 401, 'the renewal does not bring the session back');
  assert.equal((await s.get(name, cookie)).status, 401);
  // found gone when the request resumes (the zone), or when the renewal is
  // stored (Redis, whose read came before the logout): said either way
  assert.match(s.oidcLog(mark), /session ended during (its|the) renewal/);
  for (let i = 0; i < 100 && !s.revoked.includes(issued); i++) await sleep(50);
  assert.ok(s.revoked.includes(issued), 'the refresh token of the held answer was revoked');
  assert.equal(s.revoked.length - r0, 2);
  assert.doesNotMatch(s.ng.errorLog(mark), /revocation failed/);
}
