
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_logout.h"
#include "ngx_http_oidc_userinfo.h"
#include "ngx_oidc_tokens.h"


/* a decoded record kept across a wait, see ngx_http_oidc_session_keep() */
typedef struct {
    u_char              *of;                /* the store's value */
    size_t               len;
    ngx_oidc_session_t   session;
    unsigned             full:1;
} ngx_http_oidc_session_kept_t;


static ngx_int_t ngx_http_oidc_session_read(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, ngx_uint_t generation,
    json_t **live);
static ngx_int_t ngx_http_oidc_session_keep(ngx_http_request_t *r,
    ngx_str_t *value, ngx_oidc_session_t *s);
static ngx_uint_t ngx_http_oidc_session_kept(ngx_http_request_t *r,
    ngx_str_t *value, ngx_oidc_session_t *s);
static void ngx_http_oidc_session_kept_cleanup(void *data);
static ngx_int_t ngx_http_oidc_session_use(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, json_t *live,
    ngx_http_oidc_ctx_t *ctx);


/*
 * NGX_OK: a live session, its claims and tokens in ctx (see the header).
 * Workers keep live sessions in their cache as one JSON object with what
 * a request needs: "claims", "access_token" (absent: none), "id_token",
 * and "touched" (when its idle expiry was last pushed back by this
 * worker).
 */

ngx_int_t
ngx_http_oidc_session_load(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_ctx_t *ctx)
{
    json_t      *live;
    ngx_int_t    rc;
    ngx_str_t    name, id, key;
    ngx_uint_t   generation;

    if (ngx_http_oidc_cookie_name(r, p, NULL, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_oidc_cookie_get(r, &name, &id) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (!ngx_http_oidc_token_valid(&id, NGX_HTTP_OIDC_SESSION_ID_LEN)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: malformed session cookie ignored");
        return NGX_DECLINED;
    }

    if (ngx_http_oidc_store_key(r, p, 's', &id, NULL, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    /* read before the store: a change meanwhile makes the copy stale */
    generation = ngx_http_oidc_store_generation(r);

    live = ngx_http_oidc_worker_cache_get(NGX_HTTP_OIDC_WORKER_CACHE_SESSIONS,
                                          p, &key, generation);

    if (live != NULL) {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_SESSION_CACHE_HIT);
        json_incref(live);

    } else {
        rc = ngx_http_oidc_session_read(r, p, &key, generation, &live);

        /* once per request: a read from Redis runs this again */
        if (rc != NGX_AGAIN) {
            ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_SESSION_CACHE_MISS);
        }

        /* ended (a logout) while this request renewed it: the new tokens go */
        if (rc == NGX_DECLINED) {
            ngx_http_oidc_refresh_abandon(r, p);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_oidc_session_use(r, p, &key, live, ctx);

    json_decref(live);

    return rc;
}


/* from the store: NGX_OK and *live (a new reference), or NGX_DECLINED */

static ngx_int_t
ngx_http_oidc_session_read(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *key, ngx_uint_t generation, json_t **live)
{
    json_t             *claims, *merged;
    time_t              valid;
    ngx_int_t           rc;
    ngx_str_t           value;
    ngx_oidc_err_t      err;
    ngx_oidc_session_t  s;

    rc = ngx_http_oidc_store_get(r, key, &value, 0);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: unknown or expired session");

        /* evicted from Redis: its entry among the live ones goes too */
        ngx_http_oidc_store_delete(r, key);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        /* NGX_AGAIN, NGX_HTTP_SERVICE_UNAVAILABLE (Redis), NGX_ERROR */
        return rc;
    }

    if (!ngx_http_oidc_session_kept(r, &value, &s)) {
        rc = ngx_oidc_session_decode(value.data, value.len, &s, &err);

        if (rc != NGX_OIDC_OK) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "oidc: unreadable session record: %s", err.reason);
            ngx_http_oidc_store_delete(r, key);
            ngx_http_oidc_store_changed(r);
            return (rc == NGX_OIDC_ERROR) ? NGX_ERROR : NGX_DECLINED;
        }
    }

    /* ended by a logout at the provider (back- or front-channel) */
    rc = ngx_http_oidc_logout_ended(r, p, &s);

    if (rc == NGX_AGAIN) {
        /* Redis: the same record comes back with the markers' answer */
        return ngx_http_oidc_session_keep(r, &value, &s);
    }

    if (rc != NGX_DECLINED) {
        ngx_oidc_session_free(&s);

        if (rc == NGX_OK) {
            ngx_http_oidc_store_delete(r, key);
            ngx_http_oidc_store_changed(r);
            return NGX_DECLINED;
        }

        return rc;
    }

    valid = s.created + p->session_timeout;

    if (valid <= ngx_time()) {
        ngx_oidc_session_free(&s);
        ngx_http_oidc_store_delete(r, key);
        ngx_http_oidc_store_changed(r);
        return NGX_DECLINED;
    }

    rc = ngx_http_oidc_refresh(r, p, key, &s);

    if (rc != NGX_OK) {
        ngx_oidc_session_free(&s);
        return rc;
    }

    /* a renewal due: the next request comes back here for it */
    if (s.refresh_token.len && s.access_expires && p->refresh_before) {
        valid = ngx_min(valid, s.access_expires - p->refresh_before);
    }

    /*
     * the ID token's claims, then what only the token response has, then
     * what only userinfo has: merged once, kept in the worker's cache
     */
    claims = ngx_http_oidc_userinfo_merge(s.claims, s.response);

    if (claims != NULL && s.userinfo != NULL) {
        merged = ngx_http_oidc_userinfo_merge(claims, s.userinfo);
        json_decref(claims);
        claims = merged;
    }

    *live = (claims == NULL) ? NULL
            : json_pack("{s:o, s:s%, s:I}",
                        "claims", claims,
                        "id_token", s.id_token.data, s.id_token.len,
                        "touched", (json_int_t) 0);

    if (*live != NULL && s.access_token.len
        && json_object_set_new(*live, "access_token",
                               json_stringn((char *) s.access_token.data,
                                            s.access_token.len))
           != 0)
    {
        json_decref(*live);
        *live = NULL;
    }

    ngx_oidc_session_free(&s);

    if (*live == NULL) {
        return NGX_ERROR;
    }

    ngx_http_oidc_worker_cache_put(NGX_HTTP_OIDC_WORKER_CACHE_SESSIONS, p, key,
                                   *live, ngx_http_oidc_store_keep(r, valid),
                                   generation, r->connection->log);

    return NGX_OK;
}


/*
 * With Redis the record is read, then its logout markers, and the
 * phases run again after each answer: the record decoded before the
 * markers' wait is kept for when the same bytes come back, rather than
 * decoded twice.
 */

static ngx_int_t
ngx_http_oidc_session_keep(ngx_http_request_t *r, ngx_str_t *value,
    ngx_oidc_session_t *s)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_oidc_ctx_t           *ctx;
    ngx_http_oidc_session_kept_t  *k;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);
    k = ctx->record;

    if (k == NULL) {
        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_oidc_session_kept_t));
        if (cln == NULL) {
            ngx_oidc_session_free(s);
            return NGX_ERROR;
        }

        k = cln->data;
        k->full = 0;

        cln->handler = ngx_http_oidc_session_kept_cleanup;
        ctx->record = k;
    }

    if (k->full) {
        ngx_oidc_session_free(&k->session);
    }

    k->of = value->data;
    k->len = value->len;
    k->session = *s;
    k->full = 1;

    return NGX_AGAIN;
}


/* the record kept for these very bytes: *s takes it over */

static ngx_uint_t
ngx_http_oidc_session_kept(ngx_http_request_t *r, ngx_str_t *value,
    ngx_oidc_session_t *s)
{
    ngx_http_oidc_ctx_t           *ctx;
    ngx_http_oidc_session_kept_t  *k;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);
    k = ctx->record;

    if (k == NULL || !k->full) {
        return 0;
    }

    k->full = 0;

    if (k->of != value->data || k->len != value->len) {
        ngx_oidc_session_free(&k->session);
        return 0;
    }

    *s = k->session;

    return 1;
}


static void
ngx_http_oidc_session_kept_cleanup(void *data)
{
    ngx_http_oidc_session_kept_t *k = data;

    if (k->full) {
        ngx_oidc_session_free(&k->session);
        k->full = 0;
    }
}


/* a live session for this request: its claims and tokens in ctx */

static ngx_int_t
ngx_http_oidc_session_use(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *key, json_t *live, ngx_http_oidc_ctx_t *ctx)
{
    json_t     *v;
    time_t      now, touched;
    ngx_int_t   rc;

    now = ngx_time();

    if (p->session_idle_timeout) {
        /* push the idle expiry back, at most every tenth of the timeout */
        touched = (time_t) json_integer_value(json_object_get(live,
                                                              "touched"));

        if (now - touched >= ngx_max(p->session_idle_timeout / 10, 1)) {
            rc = ngx_http_oidc_store_touch(r, key,
                                           now + p->session_idle_timeout);

            if (rc == NGX_DECLINED) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "oidc: session ended while idle");

                /* gone from the store: its traces go too (Redis' set) */
                ngx_http_oidc_store_delete(r, key);
                ngx_http_oidc_store_changed(r);
                return NGX_DECLINED;
            }

            if (rc != NGX_OK) {
                return rc;
            }

            json_object_set_new(live, "touched", json_integer(now));
        }
    }

    ctx->claims = json_incref(json_object_get(live, "claims"));

    /* the tokens are read in place: the request holds the session */
    ctx->session = json_incref(live);

    v = json_object_get(live, "access_token");

    if (v != NULL) {
        ctx->token.len = json_string_length(v);
        ctx->token.data = (u_char *) json_string_value(v);
    }

    v = json_object_get(live, "id_token");

    ctx->id_token.len = json_string_length(v);
    ctx->id_token.data = (u_char *) json_string_value(v);

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_session_create(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, json_t *tokens, json_t *claims,
    json_t *userinfo)
{
    time_t              expires;
    ngx_int_t           rc;
    ngx_str_t           id, key, value, name;
    json_t             *v;
    ngx_oidc_err_t      err;
    ngx_oidc_session_t  s;

    ngx_memzero(&s, sizeof(ngx_oidc_session_t));

#define ngx_http_oidc_member(obj, m, dst)                                     \
    v = json_object_get(obj, m);                                              \
    (dst).data = (u_char *) (json_is_string(v) ? json_string_value(v) : "");  \
    (dst).len = json_is_string(v) ? json_string_length(v) : 0

    ngx_http_oidc_member(claims, "sub", s.sub);
    ngx_http_oidc_member(claims, "sid", s.sid);
    ngx_http_oidc_member(tokens, "id_token", s.id_token);
    ngx_http_oidc_member(tokens, "access_token", s.access_token);
    ngx_http_oidc_member(tokens, "refresh_token", s.refresh_token);

#undef ngx_http_oidc_member

    v = json_object_get(tokens, "expires_in");
    if (json_is_integer(v) && json_integer_value(v) > 0
        && json_integer_value(v) < 365 * 86400)
    {
        s.access_expires = ngx_time() + (time_t) json_integer_value(v);
    }

    s.created = ngx_time();
    s.last_seen = s.created;
    s.claims = claims;
    s.userinfo = userinfo;

    if (ngx_http_oidc_cookie_name(r, p, NULL, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the session this browser had (another user's, perhaps) ends */
    if (ngx_http_oidc_cookie_get(r, &name, &id) == NGX_OK
        && ngx_http_oidc_token_valid(&id, NGX_HTTP_OIDC_SESSION_ID_LEN))
    {
        if (ngx_http_oidc_store_key(r, p, 's', &id, NULL, &key) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_oidc_store_delete(r, &key);
        ngx_http_oidc_store_changed(r);
    }

    /* a new id on every login: no session fixation */
    if (ngx_http_oidc_random(r, NGX_OIDC_SESSION_ID_BYTES, &id) != NGX_OK
        || ngx_http_oidc_store_key(r, p, 's', &id, NULL, &key) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* what the token response adds (SMART launch context, ...) is kept */
    s.response = ngx_oidc_tokens_extras(tokens);

    rc = ngx_oidc_session_encode(&s, &value.data, &value.len, &err);

    if (s.response != NULL) {
        json_decref(s.response);
    }

    if (rc != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: session not encoded: %s",
                      err.reason ? err.reason : "no memory");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    expires = s.created + p->session_timeout;

    if (p->session_idle_timeout) {
        expires = ngx_min(expires, s.created + p->session_idle_timeout);
    }

    rc = ngx_http_oidc_store_set(r, &key, &value, expires);
    free(value.data);

    if (rc != NGX_OK) {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_SESSION);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: session not stored");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_oidc_cookie_set(r, p, &name, &id, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
