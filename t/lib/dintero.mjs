// A small test provider following Dintero's account auth API, for the tests
// of non-standard providers (t/070-client-token.test.mjs). It runs in the
// test's own process: startDintero() returns its URLs, counters and switches.
//
// Dintero's documented API, as issue 7 describes it (followed exactly):
//   POST /v1/accounts/{aid}/auth/token      JSON bodies only: a form (or any
//        other Content-Type) is refused with 415.
//     {"grant_type": "client_credentials", "audience": "..."}
//        authenticated with HTTP Basic (client_id:client_secret); "audience"
//        is required (400 invalid_request without it) → {access_token,
//        token_type: "Bearer", expires_in}
//     {"grant_type": "refresh_token", "refresh_token": "...", "audience"}
//        authenticated with "Authorization: Bearer <the client's own client
//        credentials token>"; refresh tokens never expire and are not rotated
//     {"token": "..."} without grant_type: revocation of a refresh token, as
//        the seed posts it to the token endpoint (Bearer client auth)
//   POST /v1/accounts/{aid}/auth/revoke     {"token": "..."}, Bearer client
//        auth: revocation as Dintero's API reference has it (same effect)
//   A federated login (Vipps) is answered with
//     {access_token, token_type, expires_in, refresh_token,
//      user_info: {authority: "vipps", value: {sub, name}}}
//
// Test scaffolding (not Dintero's documented API, only what a browser login
// through the gateway needs):
//   GET  /v1/accounts/{aid}/auth/authorize  no login page: answers 302 to
//        redirect_uri with a code and the state at once (the user is "vipps
//        user <login_hint or 'alice'>"); PKCE S256 is required
//   {"grant_type": "authorization_code", "code", "redirect_uri",
//    "code_verifier", "audience"} at the token endpoint (Bearer client auth,
//        JSON only) → the federated-login answer above plus an RS256
//        "id_token" (iss = the account's issuer, aud = client_id, the nonce),
//        since the gateway verifies one at every login
//   GET  /v1/accounts/{aid}/auth/.well-known/jwks.json  the id_token's key
//   No discovery document anywhere (Dintero publishes none).
//
// Every request is counted in `calls` ({grant_type|'revoke': n}) and kept
// in `log` ({path, grant, auth, contentType, body}); no token is printed.

import crypto from 'node:crypto';
import http from 'node:http';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { onStop } from './harness.mjs';

export async function startDintero({
  aid = 'T-11223344', clientId = 'gw-client', clientSecret = 'gw-secret-0123456789abcdef',
  audience, ttl = 300, userTtl = 300,
} = {}) {
  const base = `/v1/accounts/${aid}`;
  const state = {
    ttl, userTtl, down: false,
    calls: {}, log: [],
    clientTokens: new Map(),   // token -> expires (ms)
    userTokens: new Map(),
    refreshTokens: new Map(),  // token -> {sub, name, revoked}
    codes: new Map(),
    issued: [],                // client tokens in order
  };
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'dintero-1', alg: 'RS256', use: 'sig' };

  const server = http.createServer((req, res) => handle(req, res).catch((e) => {
    send(res, 500, { error: { message: String(e) } });
  }));
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}${base}`;
  const aud = audience || `${origin}${base}`;

  const send = (res, status, obj) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(obj));
  };
  const fail = (res, status, code, message) => send(res, status, { error: { code, message } });
  const count = (what) => { state.calls[what] = (state.calls[what] || 0) + 1; };
  const random = () => crypto.randomBytes(24).toString('base64url');

  function clientBasic(req) {
    const m = /^Basic (.+)$/.exec(req.headers.authorization || '');
    if (!m) return false;
    const [id, secret] = Buffer.from(m[1], 'base64').toString().split(':');
    return decodeURIComponent(id) === clientId && decodeURIComponent(secret || '') === clientSecret;
  }

  function clientBearer(req) {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
    const exp = m && state.clientTokens.get(m[1]);
    return Boolean(exp && exp > Date.now());
  }

  async function handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    const url = new URL(req.url, origin);
    const path = url.pathname;

    if (req.method === 'GET' && path === `${base}/auth/.well-known/jwks.json`) {
      send(res, 200, { keys: [jwk] });
      return;
    }
    if (req.method === 'GET' && path === `${base}/auth/authorize`) {
      authorize(url, res);
      return;
    }
    const isToken = path === `${base}/auth/token`;
    const isRevoke = path === `${base}/auth/revoke`;
    if (req.method !== 'POST' || (!isToken && !isRevoke)) {
      fail(res, 404, 'not_found', 'no such endpoint');
      return;
    }
    let body = null;
    const contentType = (req.headers['content-type'] || '').split(';')[0].trim();
    if (contentType === 'application/json') {
      try { body = JSON.parse(raw); } catch { body = null; }
    }
    const grant = body && typeof body === 'object' ? body.grant_type : undefined;
    const auth = (req.headers.authorization || '').split(' ')[0] || 'none';
    state.log.push({ path, grant: grant || (isRevoke || (body && body.token) ? 'revoke' : undefined),
      auth, contentType, body });
    if (state.down) { req.socket.destroy(); return; }
    if (contentType !== 'application/json') {
      count('refused-form');
      fail(res, 415, 'unsupported_media_type', 'JSON bodies only');
      return;
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      fail(res, 400, 'invalid_request', 'a JSON object');
      return;
    }
    if (isRevoke || (grant === undefined && body.token !== undefined)) {
      revoke(req, res, body);
      return;
    }
    count(grant);
    if (body.audience !== aud) {
      fail(res, 400, 'invalid_request', 'audience required');
      return;
    }
    if (grant === 'client_credentials') {
      if (!clientBasic(req)) { fail(res, 401, 'invalid_client', 'Basic client auth'); return; }
      const token = random();
      state.clientTokens.set(token, Date.now() + state.ttl * 1000);
      state.issued.push(token);
      send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: state.ttl });
      return;
    }
    if (!clientBearer(req)) {
      fail(res, 401, 'invalid_client', 'the client token as Bearer');
      return;
    }
    if (grant === 'refresh_token') {
      const rt = state.refreshTokens.get(body.refresh_token);
      if (!rt || rt.revoked) { fail(res, 400, 'invalid_grant', 'unknown refresh token'); return; }
      send(res, 200, userAnswer(rt));
      return;
    }
    if (grant === 'authorization_code') {
      await codeGrant(res, body);
      return;
    }
    fail(res, 400, 'unsupported_grant_type', String(grant));
  }

  function authorize(url, res) {
    const q = url.searchParams;
    if (q.get('client_id') !== clientId || q.get('response_type') !== 'code'
        || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
      fail(res, 400, 'invalid_request', 'authorize');
      return;
    }
    const code = random();
    const login = q.get('login_hint') || 'alice';
    state.codes.set(code, {
      challenge: q.get('code_challenge'), redirect: q.get('redirect_uri'), nonce: q.get('nonce'),
      sub: `vipps:${login}`, name: `Vipps User ${login}`, query: Object.fromEntries(q),
    });
    const to = new URL(q.get('redirect_uri'));
    to.searchParams.set('code', code);
    to.searchParams.set('state', q.get('state'));
    res.writeHead(302, { Location: to.href });
    res.end();
  }

  async function codeGrant(res, body) {
    const c = state.codes.get(body.code);
    state.codes.delete(body.code);
    const verifier = crypto.createHash('sha256').update(String(body.code_verifier || '')).digest('base64url');
    if (!c || c.redirect !== body.redirect_uri || verifier !== c.challenge) {
      fail(res, 400, 'invalid_grant', 'code');
      return;
    }
    const refresh = random();
    const rt = { sub: c.sub, name: c.name, revoked: false };
    state.refreshTokens.set(refresh, rt);
    const answer = userAnswer(rt);
    answer.refresh_token = refresh;
    const now = Math.floor(Date.now() / 1000);
    answer.id_token = await new SignJWT({ nonce: c.nonce, name: c.name })
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
      .setIssuer(issuer).setAudience(clientId).setSubject(c.sub)
      .setIssuedAt(now).setExpirationTime(now + 300)
      .sign(privateKey);
    send(res, 200, answer);
  }

  function userAnswer(rt) {
    const token = random();
    state.userTokens.set(token, Date.now() + state.userTtl * 1000);
    return {
      access_token: token, token_type: 'Bearer', expires_in: state.userTtl,
      user_info: { authority: 'vipps', value: { sub: rt.sub, name: rt.name } },
    };
  }

  function revoke(req, res, body) {
    count('revoke');
    if (!clientBearer(req)) {
      fail(res, 401, 'invalid_client', 'the client token as Bearer');
      return;
    }
    const rt = state.refreshTokens.get(body.token);
    if (rt) rt.revoked = true;
    send(res, 200, {});
  }

  const dintero = {
    aid, issuer, origin, port, clientId, clientSecret, audience: aud, state,
    tokenUrl: `${issuer}/auth/token`,
    revokeUrl: `${issuer}/auth/revoke`,
    authorizeUrl: `${issuer}/auth/authorize`,
    jwksUrl: `${issuer}/auth/.well-known/jwks.json`,
    calls: (what) => state.calls[what] || 0,
    lastClientToken: () => state.issued[state.issued.length - 1],
    refreshTokens: () => [...state.refreshTokens.entries()],
    // connections dropped without an answer while down (the provider is gone)
    setDown(down) {
      state.down = down;
      if (down) for (const s of sockets) s.destroy();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  onStop(() => dintero.stop());
  return dintero;
}
