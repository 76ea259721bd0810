
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_oidc.h"


static ngx_int_t ngx_http_oidc_bearer_verify(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx,
    ngx_oidc_jws_t *jws);
static ngx_int_t ngx_http_oidc_bearer_cache_lookup(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx, ngx_str_t *key);
static time_t ngx_http_oidc_bearer_expires(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, json_t *claims);
static void ngx_http_oidc_bearer_cache_store(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx, ngx_str_t *key,
    ngx_str_t *payload);
static void ngx_http_oidc_bearer_miss(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_ctx_t *ctx);
static size_t ngx_http_oidc_bearer_printable(u_char *buf, size_t size,
    ngx_oidc_str_t *s);


/* RFC 6750 b64token: ALPHA DIGIT "-" "." "_" "~" "+" "/" and "=" */
static const u_char  ngx_http_oidc_b64token[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['+'] = 1, ['/'] = 1,
    ['='] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1
};


/*
 * Authorization: Bearer <b64token> (RFC 6750 section 2.1).
 * NGX_OK: *token set; NGX_DECLINED: no Bearer credentials;
 * NGX_HTTP_BAD_REQUEST: malformed; NGX_HTTP_UNAUTHORIZED: too large.
 */

ngx_int_t
ngx_http_oidc_bearer_token(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *token)
{
    u_char           *s, *last;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL) {
        return NGX_DECLINED;
    }

    s = h->value.data;
    last = s + h->value.len;

    if (h->value.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(s, (u_char *) "Bearer ", sizeof("Bearer ") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    s += sizeof("Bearer ") - 1;

    while (s < last && *s == ' ') {
        s++;
    }

    token->data = s;

    for ( /* void */ ; s < last; s++) {
        if (ngx_http_oidc_b64token[*s]) {
            continue;
        }

        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_TOKEN_REFUSED_MALFORMED,
                             "malformed bearer token");
        return NGX_HTTP_BAD_REQUEST;
    }

    token->len = last - token->data;

    if (token->len == 0) {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_TOKEN_REFUSED_MALFORMED,
                             "empty bearer token");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (token->len > p->max_token_size) {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_TOKEN_REFUSED_MALFORMED,
                             "bearer token of %uz bytes, more than %uz",
                             token->len, p->max_token_size);
        return NGX_HTTP_UNAUTHORIZED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_bearer_authenticate(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_str_t                  key, value;
    ngx_oidc_jws_t             jws;
    ngx_oidc_err_t             err;
    ngx_http_oidc_provider_t  *p;

    p = olcf->provider;

    if (ctx->state == NGX_HTTP_OIDC_START) {
        rc = ngx_http_oidc_bearer_token(r, p, &ctx->token);

        if (rc != NGX_OK) {
            ctx->error = (rc == NGX_DECLINED) ? NULL
                         : (rc == NGX_HTTP_BAD_REQUEST) ? "invalid_request"
                         : "invalid_token";

            return (rc == NGX_HTTP_BAD_REQUEST) ? rc : NGX_HTTP_UNAUTHORIZED;
        }
    }

    if (olcf->token_check != NGX_HTTP_OIDC_CHECK_JWT
        && ctx->state != NGX_HTTP_OIDC_KEYS_WAIT)
    {
        rc = ngx_http_oidc_introspect(r, olcf, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    ngx_str_null(&key);

    if (olcf->token_cache) {
        rc = ngx_http_oidc_bearer_cache_lookup(r, p, ctx, &key);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    rc = ngx_oidc_jws_decode(&jws, ctx->token.data, ctx->token.len,
                             p->max_token_size, &err);

    if (rc != NGX_OIDC_OK) {
        if (rc == NGX_OIDC_ERROR) {
            return NGX_ERROR;
        }

        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_TOKEN_REFUSED_MALFORMED,
                             "invalid bearer token: %s%s%s", err.reason,
                             err.detail[0] ? ", " : "", err.detail);
        ctx->error = "invalid_token";
        return NGX_HTTP_UNAUTHORIZED;
    }

    rc = ngx_http_oidc_bearer_verify(r, olcf, ctx, &jws);

    if (rc == NGX_OK && olcf->token_cache) {
        value.data = jws.raw_payload;
        value.len = jws.raw_payload_len;

        ngx_http_oidc_bearer_cache_store(r, p, ctx, &key, &value);
    }

    ngx_oidc_jws_free(&jws);

    return rc;
}


static ngx_int_t
ngx_http_oidc_bearer_verify(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx,
    ngx_oidc_jws_t *jws)
{
    size_t                     len;
    ngx_int_t                  rc;
    ngx_oidc_err_t             err;
    ngx_oidc_jwks_t           *jwks;
    ngx_http_oidc_metric_e     which;
    ngx_http_oidc_provider_t  *p;
    ngx_oidc_claims_check_t    check;
    u_char                     kid[64];

    p = olcf->provider;

    rc = ngx_http_oidc_provider_keys(r, p, (ngx_str_t *) &jws->kid, &jwks);

    if (rc == NGX_AGAIN) {
        ctx->state = NGX_HTTP_OIDC_KEYS_WAIT;
        return NGX_AGAIN;
    }

    ctx->state = NGX_HTTP_OIDC_START;

    if (rc == NGX_DECLINED) {
        /* the client's bytes: no control character reaches the log */
        len = ngx_http_oidc_bearer_printable(kid, sizeof(kid), &jws->kid);

        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_TOKEN_REFUSED_KID,
                             "invalid bearer token: no key with kid \"%*s\"",
                             len, kid);
        ctx->error = "invalid_token";
        return NGX_HTTP_UNAUTHORIZED;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_oidc_jws_verify(jws, jwks, p->algorithms, &err);

    if (rc == NGX_OIDC_ERROR) {
        return NGX_ERROR;
    }

    which = NGX_HTTP_OIDC_M_TOKEN_REFUSED_SIGNATURE;

    if (rc == NGX_OIDC_OK) {
        ngx_http_oidc_bearer_check_init(p, &check);

        check.require_exp = 1;
        check.require_typ_at_jwt = p->require_typ_at_jwt ? 1 : 0;

        rc = ngx_oidc_claims_check_access(jws->header, jws->payload, &check,
                                          &err);

        if (rc == NGX_OIDC_DECLINED) {
            which = (err.reason != NULL
                     && ngx_strcmp(err.reason, "token expired") == 0)
                    ? NGX_HTTP_OIDC_M_TOKEN_REFUSED_EXPIRED
                    : NGX_HTTP_OIDC_M_TOKEN_REFUSED_CLAIMS;
        }

        if (rc == NGX_OIDC_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "oidc: claims check failed: %s", err.reason);
            return NGX_ERROR;
        }
    }

    if (rc != NGX_OIDC_OK) {
        ngx_http_oidc_refuse(r, p, which, "invalid bearer token: %s%s%s",
                             err.reason, err.detail[0] ? ", " : "",
                             err.detail);
        ctx->error = "invalid_token";
        return NGX_HTTP_UNAUTHORIZED;
    }

    ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_TOKEN_VERIFIED);

    ctx->claims = json_incref(jws->payload);

    return NGX_OK;
}


void
ngx_http_oidc_bearer_check_init(ngx_http_oidc_provider_t *p,
    ngx_oidc_claims_check_t *check)
{
    ngx_memzero(check, sizeof(ngx_oidc_claims_check_t));

    check->issuer.len = p->issuer.len;
    check->issuer.data = p->issuer.data;
    check->audiences = p->audiences ? p->audiences->elts : NULL;
    check->naudiences = p->audiences ? p->audiences->nelts : 0;
    check->now = ngx_time();
    check->leeway = p->leeway;
    check->max_age = p->max_token_age;
}


/*
 * The key covers what the token was checked against, so a reload that
 * changes the issuer or the audiences never serves an old verdict.
 */

ngx_int_t
ngx_http_oidc_token_key(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oidc_provider_t *p, u_char type, ngx_str_t *token,
    ngx_str_t *key)
{
    ngx_str_t     *aud;
    ngx_uint_t     i;
    EVP_MD_CTX    *md;
    unsigned int   len;

    key->data = ngx_pnalloc(pool, 2 + EVP_MAX_MD_SIZE);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->data[0] = type;
    key->data[1] = ':';

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_ERROR;
    }

    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        goto failed;
    }

    (void) EVP_DigestUpdate(md, p->name.data, p->name.len + 1);
    (void) EVP_DigestUpdate(md, p->issuer.data, p->issuer.len + 1);

    if (p->audiences != NULL) {
        aud = p->audiences->elts;

        for (i = 0; i < p->audiences->nelts; i++) {
            (void) EVP_DigestUpdate(md, aud[i].data, aud[i].len + 1);
        }
    }

    (void) EVP_DigestUpdate(md, &p->algorithms, sizeof(p->algorithms));
    (void) EVP_DigestUpdate(md, &p->require_typ_at_jwt,
                            sizeof(p->require_typ_at_jwt));
    (void) EVP_DigestUpdate(md, &p->leeway, sizeof(p->leeway));
    (void) EVP_DigestUpdate(md, &p->max_token_age, sizeof(p->max_token_age));

    if (EVP_DigestUpdate(md, token->data, token->len) != 1
        || EVP_DigestFinal_ex(md, key->data + 2, &len) != 1)
    {
        goto failed;
    }

    EVP_MD_CTX_free(md);

    key->len = 2 + len;

    return NGX_OK;

failed:

    EVP_MD_CTX_free(md);

    ngx_log_error(NGX_LOG_ALERT, log, 0, "oidc: SHA-256 failed");

    return NGX_ERROR;
}


/*
 * The worker's cache first (parsed claims, no hashing), then the shared
 * one (claims as JSON, parsed once here and kept in the worker's cache).
 * NGX_OK: ctx->claims set; NGX_DECLINED: not cached, *key set when the
 * shared cache is in use; NGX_ERROR.
 */

static ngx_int_t
ngx_http_oidc_bearer_cache_lookup(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx, ngx_str_t *key)
{
    json_t                     *claims;
    time_t                      expires;
    ngx_int_t                   rc;
    ngx_str_t                   json;
    ngx_uint_t                  from_redis;
    ngx_oidc_err_t              err;
    ngx_http_oidc_main_conf_t  *omcf;

    from_redis = 0;

    claims = ngx_http_oidc_worker_cache_get(NGX_HTTP_OIDC_WORKER_CACHE_TOKENS,
                                            p, &ctx->token, 0);

    if (claims != NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oidc: bearer token found in cache (worker)");
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_TOKEN_CACHE_HIT);
        ctx->claims = json_incref(claims);
        return NGX_OK;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->token_cache == NULL) {
        ngx_http_oidc_bearer_miss(p, ctx);
        return NGX_DECLINED;
    }

    if (ngx_http_oidc_token_key(r->pool, r->connection->log, p, 'j',
                                &ctx->token, key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_shm_get(omcf->token_cache, key, r->pool, &json);

    if (rc == NGX_DECLINED && p->redis != NULL
        && ngx_http_oidc_redis_up(p->redis))
    {
        /* another gateway's verdict; Redis down: verified here */
        rc = ngx_http_oidc_store_get(r, key, &json, 0);

        if (rc == NGX_AGAIN || rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
            return rc;
        }

        from_redis = 1;
    }

    if (rc != NGX_OK) {
        ngx_http_oidc_bearer_miss(p, ctx);
        return rc;
    }

    claims = ngx_oidc_json_parse(json.data, json.len, json.len, &err);

    if (claims == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: cached claims unreadable: %s", err.reason);
        return NGX_DECLINED;
    }

    expires = ngx_http_oidc_bearer_expires(r, p, claims);

    if (expires <= ngx_time()) {
        /* from Redis, past its time on this gateway's clock */
        json_decref(claims);
        ngx_http_oidc_bearer_miss(p, ctx);
        return NGX_DECLINED;
    }

    if (from_redis) {
        /* the other workers of this gateway find it in the zone */
        (void) ngx_http_oidc_shm_set(omcf->token_cache, key, &json, expires,
                                     r->connection->log);
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oidc: bearer token found in cache (shared)");
    ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_TOKEN_CACHE_HIT);

    ctx->claims = claims;

    ngx_http_oidc_worker_cache_put(NGX_HTTP_OIDC_WORKER_CACHE_TOKENS, p,
                                   &ctx->token, claims, expires, 0,
                                   r->connection->log);

    return NGX_OK;
}


/*
 * Until the token's own expiry, at most the cache's max_ttl, and never
 * past "max_token_age": a cache hit checks no time.
 */

static time_t
ngx_http_oidc_bearer_expires(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, json_t *claims)
{
    time_t                      exp, iat, expires;
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (ngx_oidc_json_get_time(claims, "exp", &exp) != NGX_OIDC_OK) {
        return 0;
    }

    expires = ngx_time() + omcf->token_cache_max_ttl;

    if (exp < expires) {
        expires = exp;
    }

    if (p->max_token_age) {
        if (ngx_oidc_json_get_time(claims, "iat", &iat) != NGX_OIDC_OK) {
            return 0;
        }

        if (iat + p->max_token_age < expires) {
            expires = iat + p->max_token_age;
        }
    }

    return expires;
}


/* the verified payload, as decoded from the token, is what is shared */

static void
ngx_http_oidc_bearer_cache_store(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx, ngx_str_t *key,
    ngx_str_t *payload)
{
    time_t                      expires;
    ngx_http_oidc_main_conf_t  *omcf;

    expires = ngx_http_oidc_bearer_expires(r, p, ctx->claims);

    if (expires <= ngx_time()) {
        return;
    }

    ngx_http_oidc_worker_cache_put(NGX_HTTP_OIDC_WORKER_CACHE_TOKENS, p,
                                   &ctx->token, ctx->claims, expires, 0,
                                   r->connection->log);

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->token_cache == NULL || key->len == 0 || payload->len == 0) {
        return;
    }

    (void) ngx_http_oidc_shm_set(omcf->token_cache, key, payload, expires,
                                 r->connection->log);

    if (p->redis != NULL) {
        /* for the other gateways; not waited for, Redis expires it */
        (void) ngx_http_oidc_redis_send(p->redis, NGX_HTTP_OIDC_REDIS_SET, key,
                                        payload, expires, NULL, NULL, NULL);
    }
}


/* once per request: a lookup runs again after a wait for keys */

static void
ngx_http_oidc_bearer_miss(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_ctx_t *ctx)
{
    if (ctx->state == NGX_HTTP_OIDC_START) {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_TOKEN_CACHE_MISS);
    }
}


/* a copy of "s" fit for a log line: printable ASCII, cut to "size" */

static size_t
ngx_http_oidc_bearer_printable(u_char *buf, size_t size, ngx_oidc_str_t *s)
{
    size_t  i, n;

    n = ngx_min(s->len, size);

    for (i = 0; i < n; i++) {
        buf[i] = (s->data[i] >= 0x20 && s->data[i] < 0x7f) ? s->data[i] : '?';
    }

    return n;
}
