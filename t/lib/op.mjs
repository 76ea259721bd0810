#!/usr/bin/env node
// The local OpenID Provider: the real `oidc-provider` npm package, configured
// for the module's tests and for ./scripts/run. Standalone only; configured
// through the environment:
//
//   OP_PORT            listen port (default 9000)
//   OP_LISTEN          listen address (default 127.0.0.1; the compose example: 0.0.0.0)
//   OP_HOST            host name used in the issuer (default 127.0.0.1)
//   OP_ISSUER          full issuer URL (overrides scheme/host/port above)
//   OP_KEYS_FILE       private JWKS ({"keys":[...]}) to sign with; default:
//                      fresh RS256 (kid rs1) + ES256 (kid es1) keys per start
//   OP_TLS_CERT/_KEY   PEM files: serve https (the issuer becomes https://)
//   OP_RP_ORIGIN       origin of the gateway (default http://127.0.0.1:8080)
//   OP_REDIRECT_URIS   comma list of the gateway's redirect URIs
//                      (default $OP_RP_ORIGIN/oidc_callback, the module's default)
//   OP_POST_LOGOUT_REDIRECT_URIS  comma list (default $OP_RP_ORIGIN/logged-out)
//   OP_BACKCHANNEL_LOGOUT_URI     (default none)
//   OP_AT_ALG          JWS alg of access tokens for urn:gateway:api (RS256)
//   OP_AT_TTL          access token lifetime in seconds (default 300)
//   OP_AT_TTL_REFRESH  lifetime of access tokens from the refresh_token grant
//                      (default $OP_AT_TTL)
//   OP_ROTATE_REFRESH  "1": every refresh_token grant rotates the refresh
//                      token (default: oidc-provider's rule, rarely for a
//                      confidential client)
//   OP_RESOURCES       JSON object merged over the default resource servers:
//                      {"urn:x": {"alg": "ES256", "scope": "api:read",
//                                 "format": "jwt"|"opaque", "ttl": 60}}
//   OP_EXTRA_CLAIMS    JSON object: extra claims for client_credentials tokens
//                      (default: the Auth0-style claims below)
//   OP_EXTRA_CLAIMS_PARAM  "0" disables the test-only token endpoint
//                      parameter `extra_claims` (a JSON object merged into
//                      the token's extra claims; standard claims always win)
//   OP_CLIENT_JWKS     public JWKS ({"keys":[...]}) of the private_key_jwt
//                      client "gateway-jwt" (default: that client is absent)
//
// Browser-login clients, one per token endpoint authentication method
// (secrets in clients.mjs): gateway (client_secret_basic), gateway-post
// (client_secret_post), gateway-jwt (private_key_jwt), gateway-public
// (none, PKCE only). Introspection-only clients (a resource server with
// its own credentials): introspector-basic (client_secret_basic),
// introspector-post (client_secret_post).
//
// Events (op.events()) include "introspection" for every answered
// introspection call: {client, auth, active}.
//
// Prints one line "op ready <issuer>" on stdout once listening.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';
import { CLIENTS } from './clients.mjs';

const env = process.env;
const PORT = Number(env.OP_PORT || 9000);
const TLS = Boolean(env.OP_TLS_CERT && env.OP_TLS_KEY);
const ISSUER = env.OP_ISSUER
  || `${TLS ? 'https' : 'http'}://${env.OP_HOST || '127.0.0.1'}:${PORT}`;
const RP = env.OP_RP_ORIGIN || 'http://127.0.0.1:8080';
const list = (v, dflt) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : dflt);
const json = (name, dflt) => {
  if (!env[name]) return dflt;
  try { return JSON.parse(env[name]); } catch (e) {
    throw new Error(`${name} is not valid JSON: ${e.message}`);
  }
};


async function loadKeys() {
  if (env.OP_KEYS_FILE) {
    const jwks = JSON.parse(fs.readFileSync(env.OP_KEYS_FILE, 'utf8'));
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
      throw new Error(`${env.OP_KEYS_FILE}: no "keys" array`);
    }
    return jwks;
  }
  const rs = await generateKeyPair('RS256', { extractable: true });
  const es = await generateKeyPair('ES256', { extractable: true });
  return {
    keys: [
      { ...(await exportJWK(rs.privateKey)), kid: 'rs1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(es.privateKey)), kid: 'es1', alg: 'ES256', use: 'sig' },
    ],
  };
}

const AT_TTL = Number(env.OP_AT_TTL || 300);
const AT_TTL_REFRESH = Number(env.OP_AT_TTL_REFRESH || AT_TTL);

// Resource servers (RFC 8707 resource indicators). JWT access tokens need one.
const RESOURCES = {
  'urn:gateway:api': { alg: env.OP_AT_ALG || 'RS256', scope: 'api:read api:write', format: 'jwt' },
  'urn:gateway:es256': { alg: 'ES256', scope: 'api:read api:write', format: 'jwt' },
  'urn:gateway:other': { alg: 'RS256', scope: 'api:read api:write', format: 'jwt' },
  'urn:gateway:opaque': { scope: 'api:read api:write', format: 'opaque' },
  ...json('OP_RESOURCES', {}),
};

const CC_CLAIMS = json('OP_EXTRA_CLAIMS', {
  'http://lifen.fr/userInfo': {
    uuid: '6f1c2a0e-4b7d-4e8a-9c3b-2d5e7f9a1b3c',
    currentWorkspaceId: 'ws-0042',
    roles: ['doctor', 'admin'],
  },
  email: 'api-client@example.test',
});

function uuidFor(s) {
  const h = crypto.createHash('sha256').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const jwks = await loadKeys();
const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'api:read', 'api:write'];
const CLIENT_JWKS = json('OP_CLIENT_JWKS', null);

// a browser-login client like "gateway", authenticating with `method`
const loginClient = (client_id, method, more = {}) => ({
  client_id,
  redirect_uris: list(env.OP_REDIRECT_URIS, [`${RP}/oidc_callback`]),
  post_logout_redirect_uris: list(env.OP_POST_LOGOUT_REDIRECT_URIS, [`${RP}/logged-out`]),
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: SCOPES.join(' '),
  token_endpoint_auth_method: method,
  ...more,
});

const provider = new Provider(ISSUER, {
  jwks,
  cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
  clients: [
    {
      client_id: 'gateway',
      client_secret: CLIENTS.gateway,
      redirect_uris: list(env.OP_REDIRECT_URIS, [`${RP}/oidc_callback`]),
      post_logout_redirect_uris: list(env.OP_POST_LOGOUT_REDIRECT_URIS, [`${RP}/logged-out`]),
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      scope: SCOPES.join(' '),
      token_endpoint_auth_method: 'client_secret_basic',
      ...(env.OP_BACKCHANNEL_LOGOUT_URI ? {
        backchannel_logout_uri: env.OP_BACKCHANNEL_LOGOUT_URI,
        backchannel_logout_session_required: true,
      } : {}),
    },
    {
      client_id: 'api-client',
      client_secret: CLIENTS['api-client'],
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'api:read api:write',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    loginClient('gateway-post', 'client_secret_post', { client_secret: CLIENTS['gateway-post'] }),
    ...['basic', 'post'].map((m) => ({
      client_id: `introspector-${m}`,
      client_secret: CLIENTS[`introspector-${m}`],
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: `client_secret_${m}`,
    })),
    loginClient('gateway-public', 'none'),
    ...(CLIENT_JWKS ? [loginClient('gateway-jwt', 'private_key_jwt', { jwks: CLIENT_JWKS })] : []),
  ],
  pkce: { required: () => true },
  scopes: SCOPES,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: `${sub}@example.test`, email_verified: true, name: `User ${sub}` }),
  }),
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  extraTokenClaims: async (ctx, token) => {
    let extra;
    if (token.kind === 'ClientCredentials') {
      extra = structuredClone(CC_CLAIMS);
    } else if (token.kind === 'AccessToken' && token.accountId) {
      extra = {
        'http://lifen.fr/userInfo': {
          uuid: uuidFor(token.accountId), currentWorkspaceId: 'ws-0001', roles: ['doctor'],
        },
        email: `${token.accountId}@example.test`,
      };
    }
    const raw = env.OP_EXTRA_CLAIMS_PARAM !== '0' && ctx?.oidc?.body?.extra_claims;
    if (raw) {
      const add = JSON.parse(raw);
      extra = { ...(extra || {}), ...add };
    }
    return extra;
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async (ctx, client) => client.clientAuthMethod !== 'none' },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf || env.OP_DEFAULT_RESOURCE || undefined,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource) => {
        const rs = RESOURCES[resource];
        if (!rs) throw new errors.InvalidTarget();
        const info = {
          scope: rs.scope || 'api:read api:write',
          audience: rs.audience || resource,
          accessTokenTTL: rs.ttl || AT_TTL,
          accessTokenFormat: rs.format || 'jwt',
        };
        if (info.accessTokenFormat === 'jwt') info.jwt = { sign: { alg: rs.alg || 'RS256' } };
        return info;
      },
    },
  },
  // REQUIRED on loopback: v9's SSRF guard drops outbound sockets to 127/8
  // (back-channel logout to the gateway would fail).
  fetch: (url, options) => { delete options.dispatcher; return globalThis.fetch(url, options); },
  ...(env.OP_ROTATE_REFRESH === '1' ? { rotateRefreshToken: true } : {}),
  ttl: {
    AccessToken: (ctx) => (ctx?.oidc?.params?.grant_type === 'refresh_token' ? AT_TTL_REFRESH : AT_TTL),
    // a resource server's "ttl" (OP_RESOURCES) wins
    ClientCredentials: (ctx, token) => token?.resourceServer?.accessTokenTTL || AT_TTL,
    IdToken: 300, RefreshToken: 3600,
    Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60,
  },
});

provider.on('server_error', (ctx, err) => { console.error('op server_error:', err); });

// One stdout line per protocol event, for tests to count what the gateway
// asked for (harness: op.events()): "op event {json}". Never a token.
const event = (name, more = {}) => {
  console.log(`op event ${JSON.stringify({ name, ...more })}`);
};
const client = (ctx) => ctx?.oidc?.client?.clientId;
// the alg of a client assertion's header (never the assertion itself)
const assertionAlg = (ctx) => {
  try {
    const h = ctx.oidc.params?.client_assertion?.split('.')[0];
    return h ? JSON.parse(Buffer.from(h, 'base64url')).alg : undefined;
  } catch { return 'unreadable'; }
};
// auth: how the client authenticated (the provider accepts only the
// method the client is registered with)
provider.on('grant.success', (ctx) => event('grant.success', {
  client: client(ctx), grant_type: ctx.oidc.params?.grant_type,
  auth: ctx.oidc.client?.clientAuthMethod, assertion_alg: assertionAlg(ctx),
}));
provider.on('grant.error', (ctx, err) => event('grant.error', {
  client: client(ctx), grant_type: ctx.oidc?.params?.grant_type, error: err.error || err.message,
}));
// oidc-provider 9 emits no "revocation.success": a token the revocation
// endpoint found (an entity of the request) was revoked; unknown ones get
// 200 too (RFC 7009) but no event
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route !== 'revocation' || ctx.status !== 200) return;
  const kind = ['RefreshToken', 'AccessToken', 'ClientCredentials'].find((k) => ctx.oidc.entities?.[k]);
  if (kind) event('revocation.success', { client: client(ctx), kind });
});
// nor an "introspection.success": every answered call is counted here
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route !== 'introspection' || ctx.status !== 200) return;
  event('introspection', {
    client: client(ctx), auth: ctx.oidc.client?.clientAuthMethod, active: ctx.body?.active,
  });
});
provider.on('revocation.error', (ctx, err) => event('revocation.error', {
  client: client(ctx), error: err.error || err.message,
}));
provider.on('end_session.success', (ctx) => event('end_session.success', { client: client(ctx) }));
provider.on('end_session.error', (ctx, err) => event('end_session.error', {
  error: err.error || err.message,
}));
provider.on('backchannel.success', (ctx, c, accountId, sid) => event('backchannel.success', {
  client: c?.clientId, sub: accountId, sid,
}));
provider.on('backchannel.error', (ctx, err, c) => event('backchannel.error', {
  client: c?.clientId, error: err.message,
}));
provider.on('introspection.error', (ctx, err) => event('introspection.error', {
  error: err.error || err.message,
}));
provider.on('userinfo.error', (ctx, err) => event('userinfo.error', {
  error: err.error || err.message,
}));

const server = TLS
  ? https.createServer({ cert: fs.readFileSync(env.OP_TLS_CERT), key: fs.readFileSync(env.OP_TLS_KEY) },
    provider.callback())
  : http.createServer(provider.callback());

server.listen(PORT, env.OP_LISTEN || '127.0.0.1', () => {
  console.log(`op ready ${ISSUER}`);
});

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
