
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"
#include "ngx_oidc_introspection.h"


/*
 * RFC 7662 introspection of Bearer tokens.  One call per unknown token:
 * requests of a worker carrying the same token wait on one "flight"
 * (found by the token's hash in a per-worker tree); across workers, a
 * lock entry in the token cache zone (inserted only if absent, expiring
 * by itself) lets one worker call while the others poll the zone for
 * the result, as session renewals do (ngx_http_oidc_refresh.c).
 */


/* how often a worker waiting for another one's call looks again */
#define NGX_HTTP_OIDC_INTROSPECT_POLL  75


typedef struct {
    ngx_str_node_t                sn;           /* str: the result key */
    ngx_pool_t                   *pool;         /* the flight's own */
    ngx_http_oidc_provider_t     *provider;
    ngx_shm_zone_t               *zone;         /* NULL: not cached */
    ngx_queue_t                   waiters;
    ngx_http_oidc_http_t         *http;
    ngx_event_t                   poll;         /* another worker calls */
    ngx_msec_t                    deadline;
    ngx_str_t                     lock;
    ngx_str_t                     token;        /* the worker cache's key */
    json_t                       *claims;       /* the outcome */
    ngx_int_t                     status;
    u_char                        why[160];     /* never the token */
    unsigned                      locked:1;
    unsigned                      listed:1;     /* in the tree */
} ngx_http_oidc_flight_t;


/* a request's wait for a flight; in its pool */
typedef struct {
    ngx_http_request_t           *request;
    ngx_queue_t                   queue;
    ngx_http_oidc_flight_t       *flight;       /* NULL: not waiting */
    json_t                       *claims;       /* a positive outcome */
    ngx_int_t                     status;       /* of the outcome */
    u_char                        why[160];
    unsigned                      done:1;
} ngx_http_oidc_introspect_wait_t;


static ngx_uint_t ngx_http_oidc_introspect_local(
    ngx_http_oidc_provider_t *p, ngx_str_t *token);
static ngx_int_t ngx_http_oidc_introspect_call(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx,
    ngx_http_oidc_introspect_wait_t *w, ngx_str_t *key, ngx_str_t *url);
static ngx_int_t ngx_http_oidc_introspect_cached(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx, ngx_str_t *key);
static ngx_int_t ngx_http_oidc_introspect_endpoint(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *url);
static ngx_int_t ngx_http_oidc_introspect_outcome(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx, ngx_int_t status,
    json_t *claims, u_char *why);
static ngx_http_oidc_flight_t *ngx_http_oidc_flight_create(
    ngx_http_request_t *r, ngx_http_oidc_loc_conf_t *olcf, ngx_str_t *key,
    ngx_str_t *token);
static ngx_int_t ngx_http_oidc_flight_start(ngx_http_request_t *r,
    ngx_http_oidc_flight_t *f, ngx_str_t *url);
static void ngx_http_oidc_flight_done(ngx_http_oidc_http_response_t *resp,
    void *data);
static void ngx_http_oidc_flight_answer(ngx_http_oidc_flight_t *f,
    ngx_str_t *body);
static void ngx_http_oidc_flight_negative(ngx_http_oidc_flight_t *f);
static time_t ngx_http_oidc_flight_expires(ngx_http_oidc_flight_t *f,
    json_t *claims);
static void ngx_http_oidc_flight_poll_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_oidc_flight_look(ngx_http_oidc_flight_t *f);
static void ngx_http_oidc_flight_why(ngx_http_oidc_flight_t *f,
    ngx_int_t status, const char *fmt, ...);
static void ngx_http_oidc_flight_end(ngx_http_oidc_flight_t *f);
static ngx_http_oidc_introspect_wait_t *ngx_http_oidc_introspect_waiter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_introspect_join(ngx_http_request_t *r,
    ngx_http_oidc_introspect_wait_t *w, ngx_http_oidc_flight_t *f);
static void ngx_http_oidc_introspect_wait_cleanup(void *data);

static ngx_int_t ngx_http_oidc_introspect_cache_get(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *token, ngx_pool_t *pool, ngx_log_t *log, json_t **claims);
static ngx_int_t ngx_http_oidc_introspect_cache_decode(ngx_str_t *value,
    time_t *expires, ngx_str_t *body);
static void ngx_http_oidc_introspect_cache_set(ngx_http_oidc_provider_t *p,
    ngx_shm_zone_t *zone, ngx_str_t *key, ngx_str_t *token, json_t *claims,
    ngx_str_t *body, time_t expires, ngx_pool_t *pool, ngx_log_t *log);


static ngx_rbtree_t       ngx_http_oidc_flights;
static ngx_rbtree_node_t  ngx_http_oidc_flights_sentinel;


ngx_conf_enum_t  ngx_http_oidc_token_checks[] = {
    { ngx_string("jwt"), NGX_HTTP_OIDC_CHECK_JWT },
    { ngx_string("introspection"), NGX_HTTP_OIDC_CHECK_INTROSPECTION },
    { ngx_string("auto"), NGX_HTTP_OIDC_CHECK_AUTO },
    { ngx_null_string, 0 }
};


/* auth_oidc_token_check jwt|introspection|auto; where it is, for nginx -t */

char *
ngx_http_oidc_token_check_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_loc_conf_t *olcf = conf;

    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    if (olcf->token_check != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* ngx_conf_set_enum_slot() would not name the directive */
    for (e = cmd->post; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcmp(e->name.data, value[1].data) == 0)
        {
            olcf->token_check = e->value;
            olcf->token_check_file = cf->conf_file->file.name.data;
            olcf->token_check_line = cf->conf_file->line;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" (jwt, introspection "
                       "or auto)", &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


void
ngx_http_oidc_introspect_merge(ngx_http_oidc_loc_conf_t *prev,
    ngx_http_oidc_loc_conf_t *conf)
{
    if (conf->token_check == NGX_CONF_UNSET_UINT) {
        conf->token_check = prev->token_check;
        conf->token_check_file = prev->token_check_file;
        conf->token_check_line = prev->token_check_line;
    }

    if (conf->token_check == NGX_CONF_UNSET_UINT) {
        conf->token_check = NGX_HTTP_OIDC_CHECK_JWT;
    }
}


char *
ngx_http_oidc_introspect_check_conf(ngx_conf_t *cf,
    ngx_http_oidc_loc_conf_t *conf)
{
    ngx_http_oidc_provider_t  *p;

    p = conf->provider;

    /* discovery may name an endpoint, unless nothing is discovered */
    if (conf->token_check == NGX_HTTP_OIDC_CHECK_JWT
        || (p->static_jwks == NULL && p->discovery)
        || p->endpoints->introspection_endpoint.len)
    {
        return NGX_CONF_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"auth_oidc_token_check\" needs an introspection "
                  "endpoint, but oidc_provider \"%V\" has %s and no "
                  "\"introspection_endpoint\" in %s:%ui", &p->name,
                  p->static_jwks ? "static keys (no discovery)"
                                 : "\"discovery off\"",
                  conf->token_check_file, conf->token_check_line);

    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_oidc_introspect(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx)
{
    json_t                           *claims;
    ngx_int_t                         rc;
    ngx_str_t                         key, url;
    ngx_http_oidc_provider_t         *p;
    ngx_http_oidc_introspect_wait_t  *w;

    p = olcf->provider;

    if (ctx->state == NGX_HTTP_OIDC_START
        && olcf->token_check == NGX_HTTP_OIDC_CHECK_AUTO
        && ngx_http_oidc_introspect_local(p, &ctx->token))
    {
        return NGX_DECLINED;
    }

    ctx->state = NGX_HTTP_OIDC_START;

    w = ngx_http_oidc_introspect_waiter(r);

    if (w != NULL && w->flight != NULL) {
        ctx->state = NGX_HTTP_OIDC_INTROSPECT_WAIT;
        return NGX_AGAIN;
    }

    if (w != NULL && w->done) {
        w->done = 0;
        claims = w->claims;
        w->claims = NULL;

        return ngx_http_oidc_introspect_outcome(r, p, ctx, w->status, claims,
                                                w->why);
    }

    ngx_str_null(&key);

    rc = ngx_http_oidc_introspect_cached(r, olcf, ctx, &key);

    if (rc != NGX_ABORT) {
        return rc;
    }

    rc = ngx_http_oidc_introspect_endpoint(r, p, &url);

    if (rc == NGX_AGAIN) {
        ctx->state = NGX_HTTP_OIDC_INTROSPECT_WAIT;
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (key.len == 0
        && ngx_http_oidc_token_key(r->pool, r->connection->log, p, 'i',
                                   &ctx->token, &key)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_oidc_introspect_call(r, olcf, ctx, w, &key, &url);
}


/* auto: a JWT this provider signed is verified locally */

static ngx_uint_t
ngx_http_oidc_introspect_local(ngx_http_oidc_provider_t *p, ngx_str_t *token)
{
    /* verified before: no need to look at it again */
    if (ngx_http_oidc_worker_cache_get(NGX_HTTP_OIDC_WORKER_CACHE_TOKENS, p,
                                       token, 0)
        != NULL)
    {
        return 1;
    }

    return ngx_oidc_introspection_is_jwt(token->data, token->len,
                                         p->max_token_size,
                                         (ngx_oidc_str_t *) &p->issuer);
}


/* the request joins the worker's call for this token, or starts one */

static ngx_int_t
ngx_http_oidc_introspect_call(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx,
    ngx_http_oidc_introspect_wait_t *w, ngx_str_t *key, ngx_str_t *url)
{
    json_t                  *claims;
    ngx_int_t                rc;
    ngx_http_oidc_flight_t  *f;

    if (ngx_http_oidc_flights.root == NULL) {
        ngx_rbtree_init(&ngx_http_oidc_flights,
                        &ngx_http_oidc_flights_sentinel,
                        ngx_str_rbtree_insert_value);
    }

    f = (ngx_http_oidc_flight_t *) ngx_str_rbtree_lookup(
                                  &ngx_http_oidc_flights, key,
                                  ngx_crc32_short(key->data, key->len));

    if (f == NULL) {
        f = ngx_http_oidc_flight_create(r, olcf, key, &ctx->token);
        if (f == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_oidc_flight_start(r, f, url);

        if (rc != NGX_AGAIN) {
            /* answered at once: from the cache, or a failure */
            claims = f->claims ? json_incref(f->claims) : NULL;
            rc = ngx_http_oidc_introspect_outcome(r, olcf->provider, ctx,
                                                  f->status, claims, f->why);
            ngx_http_oidc_flight_end(f);
            return rc;
        }
    }

    if (ngx_http_oidc_introspect_join(r, w, f) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->state = NGX_HTTP_OIDC_INTROSPECT_WAIT;

    return NGX_AGAIN;
}


/*
 * NGX_OK, NGX_HTTP_UNAUTHORIZED: a result from the caches; NGX_ABORT:
 * none (*key set when it was computed); NGX_ERROR.
 */

static ngx_int_t
ngx_http_oidc_introspect_cached(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx, ngx_str_t *key)
{
    json_t                     *claims;
    ngx_int_t                   rc;
    ngx_http_oidc_main_conf_t  *omcf;

    if (!olcf->token_cache) {
        return NGX_ABORT;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    rc = ngx_http_oidc_introspect_cache_get(r, olcf->provider,
                                            omcf->token_cache,
                                            key, &ctx->token, r->pool,
                                            r->connection->log, &claims);

    switch (rc) {

    case NGX_OK:
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oidc: introspection result found in cache");
        ngx_http_oidc_metric_inc(olcf->provider,
                                 NGX_HTTP_OIDC_M_INTROSPECTION_CACHE_HIT);
        ctx->claims = claims;
        return NGX_OK;

    case NGX_DECLINED:
        ngx_http_oidc_metric_inc(olcf->provider,
                                 NGX_HTTP_OIDC_M_INTROSPECTION_CACHE_HIT);
        ngx_http_oidc_refuse(r, olcf->provider,
                             NGX_HTTP_OIDC_M_TOKEN_REFUSED_INACTIVE,
                             "invalid bearer token: not active (cached "
                             "introspection result)");
        ctx->error = "invalid_token";
        return NGX_HTTP_UNAUTHORIZED;

    case NGX_ABORT:
        /* once per request: waiting for discovery looks again */
        if (ctx->state == NGX_HTTP_OIDC_START) {
            ngx_http_oidc_metric_inc(olcf->provider,
                                     NGX_HTTP_OIDC_M_INTROSPECTION_CACHE_MISS);
        }

        return rc;

    default:
        return rc;
    }
}


/* the configured endpoint, else discovery's (waited for if not yet known) */

static ngx_int_t
ngx_http_oidc_introspect_endpoint(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *url)
{
    ngx_int_t                   rc;
    ngx_str_t                   none = ngx_null_string;
    ngx_oidc_jwks_t            *jwks;
    ngx_http_oidc_endpoints_t  *ep;

    if (p->endpoints->introspection_endpoint.len) {
        /* configured: wins over discovery */
        *url = p->endpoints->introspection_endpoint;
        return NGX_OK;
    }

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL && p->static_jwks == NULL) {
        rc = ngx_http_oidc_provider_keys(r, p, &none, &jwks);

        if (rc == NGX_AGAIN || rc == NGX_ERROR) {
            return rc;
        }

        ep = ngx_http_oidc_provider_endpoints(p);
    }

    if (ep == NULL || ep->introspection_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: provider \"%V\" has no introspection endpoint "
                      "%s, answering 503", &p->name,
                      ep ? "in its discovery document" : "yet");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    *url = ep->introspection_endpoint;

    return NGX_OK;
}


/* the same status rules as the JWT path: 401 for the token, 503 else */

static ngx_int_t
ngx_http_oidc_introspect_outcome(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx, ngx_int_t status,
    json_t *claims, u_char *why)
{
    switch (status) {

    case NGX_OK:
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_TOKEN_VERIFIED);
        ctx->claims = claims;
        return NGX_OK;

    case NGX_HTTP_UNAUTHORIZED:
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_TOKEN_REFUSED_INACTIVE,
                             "invalid bearer token: %s (introspection)", why);
        ctx->error = "invalid_token";
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        /* once per interval: every waiting request has the same story */
        ngx_http_oidc_log_failure(r->connection->log, p,
                                  NGX_HTTP_OIDC_EP_INTROSPECTION,
                                  "introspection failed: %s, answering 503",
                                  why);
        break;

    default:
        status = NGX_ERROR;
    }

    if (claims != NULL) {
        json_decref(claims);
    }

    return status;
}


static ngx_http_oidc_flight_t *
ngx_http_oidc_flight_create(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_str_t *key, ngx_str_t *token)
{
    ngx_pool_t                 *pool;
    ngx_http_oidc_flight_t     *f;
    ngx_http_oidc_main_conf_t  *omcf;

    /* it outlives the request that starts it: the others wait on it */
    pool = ngx_create_pool(2048, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    f = ngx_pcalloc(pool, sizeof(ngx_http_oidc_flight_t));
    if (f == NULL) {
        goto failed;
    }

    f->pool = pool;
    f->provider = olcf->provider;
    f->status = NGX_ERROR;

    if (olcf->token_cache) {
        omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);
        f->zone = omcf->token_cache;
    }

    f->sn.str.data = ngx_pstrdup(pool, key);
    f->token.data = ngx_pstrdup(pool, token);
    f->lock.data = ngx_pstrdup(pool, key);

    if (f->sn.str.data == NULL || f->token.data == NULL
        || f->lock.data == NULL)
    {
        goto failed;
    }

    f->sn.node.key = ngx_crc32_short(key->data, key->len);
    f->sn.str.len = key->len;
    f->token.len = token->len;
    f->lock.len = key->len;
    f->lock.data[0] = 'l';

    ngx_queue_init(&f->waiters);

    f->poll.handler = ngx_http_oidc_flight_poll_handler;
    f->poll.data = f;
    f->poll.log = ngx_cycle->log;

    return f;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


/*
 * NGX_AGAIN: the call, or the wait for another worker's, is under way
 * and the flight is in the tree; otherwise its outcome is known already
 * (a result another worker stored meanwhile, or a failure).
 */

static ngx_int_t
ngx_http_oidc_flight_start(ngx_http_request_t *r, ngx_http_oidc_flight_t *f,
    ngx_str_t *url)
{
    time_t                     ttl;
    ngx_int_t                  rc;
    ngx_str_t                  one = ngx_string("1");
    ngx_oidc_param_t           params[2];
    ngx_http_oidc_provider_t  *p;

    p = f->provider;

    /* outlives our call, which cannot take longer than both timeouts */
    ttl = (time_t) ((p->connect_timeout + p->read_timeout) / 1000) + 2;

    /* the others read the result from the zone: both kinds must be kept */
    if (f->zone != NULL
        && p->introspection_cache_time > 0
        && p->introspection_negative_time > 0)
    {
        rc = ngx_http_oidc_shm_insert(f->zone, &f->lock, &one,
                                      ngx_time() + ttl, r->connection->log);

        if (rc == NGX_BUSY) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "oidc: waiting for another worker's "
                           "introspection");

            f->deadline = ngx_current_msec + (ngx_msec_t) ttl * 1000;
            ngx_add_timer(&f->poll, NGX_HTTP_OIDC_INTROSPECT_POLL);
            goto wait;
        }

        if (rc == NGX_OK) {
            f->locked = 1;

            /* another worker may have stored it since we looked */
            if (ngx_http_oidc_flight_look(f) == NGX_OK) {
                return NGX_OK;
            }
        }

        /* no room for the lock: the call is made all the same */
    }

    ngx_memzero(params, sizeof(params));

    ngx_http_oidc_ostr_set(params[0].name, "token");
    ngx_http_oidc_ostr(params[0].value, f->token);
    ngx_http_oidc_ostr_set(params[1].name, "token_type_hint");
    ngx_http_oidc_ostr_set(params[1].value, "access_token");

    f->http = ngx_http_oidc_client_call(r->pool, r->connection->log, p,
                                        NGX_HTTP_OIDC_CALL_INTROSPECTION, url,
                                        params, 2, ngx_http_oidc_flight_done,
                                        f);
    if (f->http == NULL) {
        ngx_http_oidc_flight_why(f, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "the call could not be started");
        return NGX_OK;
    }

wait:

    ngx_rbtree_insert(&ngx_http_oidc_flights, &f->sn.node);
    f->listed = 1;

    return NGX_AGAIN;
}


static void
ngx_http_oidc_flight_done(ngx_http_oidc_http_response_t *resp, void *data)
{
    ngx_http_oidc_flight_t  *f = data;

    f->http = NULL;

    if (resp->status == 0) {
        ngx_http_oidc_flight_why(f, NGX_HTTP_SERVICE_UNAVAILABLE, "%s",
                                 resp->error ? resp->error : "no answer");

    } else if (resp->status == NGX_HTTP_BAD_REQUEST
               && ngx_oidc_introspection_unsupported(resp->body.data,
                                                     resp->body.len,
                                                     resp->body.len))
    {
        /* the provider vouches for no such token: as inactive */
        ngx_http_oidc_flight_why(f, NGX_HTTP_UNAUTHORIZED,
                                 "unsupported_token_type");
        ngx_http_oidc_flight_negative(f);

    } else if (resp->status != NGX_HTTP_OK) {
        ngx_http_oidc_flight_why(f, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "status %ui", resp->status);

    } else {
        ngx_http_oidc_flight_answer(f, &resp->body);
    }

    ngx_http_oidc_flight_end(f);
}


static void
ngx_http_oidc_flight_answer(ngx_http_oidc_flight_t *f, ngx_str_t *body)
{
    json_t                    *claims;
    time_t                     expires;
    ngx_int_t                  rc;
    ngx_oidc_err_t             err;
    ngx_oidc_claims_check_t    check;
    ngx_http_oidc_provider_t  *p;

    p = f->provider;

    ngx_http_oidc_bearer_check_init(p, &check);

    /* RFC 7662 2.2: only "active" is required */
    check.iss_optional = 1;

    rc = ngx_oidc_introspection_check(body->data, body->len,
                                      p->max_response_size, &check, &claims,
                                      &err);

    if (rc == NGX_OIDC_OK) {
        f->status = NGX_OK;
        f->claims = claims;

        expires = ngx_http_oidc_flight_expires(f, claims);

        if (f->zone != NULL && expires > ngx_time()) {
            ngx_http_oidc_introspect_cache_set(p, f->zone, &f->sn.str,
                                               &f->token, claims, body,
                                               expires, f->pool,
                                               ngx_cycle->log);
        }

        return;
    }

    if (rc == NGX_OIDC_DECLINED) {
        ngx_http_oidc_flight_why(f, NGX_HTTP_UNAUTHORIZED, "%s%s%s",
                                 err.reason, err.detail[0] ? ", " : "",
                                 err.detail);
        ngx_http_oidc_flight_negative(f);
        return;
    }

    ngx_http_oidc_flight_why(f, NGX_HTTP_SERVICE_UNAVAILABLE,
                             "unusable answer: %s",
                             err.reason ? err.reason : "no memory");
}


/* a token the provider does not vouch for: kept "negative=" long */

static void
ngx_http_oidc_flight_negative(ngx_http_oidc_flight_t *f)
{
    ngx_str_t                  none = ngx_null_string;
    ngx_http_oidc_provider_t  *p;

    p = f->provider;

    if (f->zone == NULL || p->introspection_negative_time == 0) {
        return;
    }

    ngx_http_oidc_introspect_cache_set(p, f->zone, &f->sn.str, &f->token,
                                       NULL, &none,
                                       ngx_time()
                                       + p->introspection_negative_time,
                                       f->pool, ngx_cycle->log);
}


/*
 * A positive result lives "introspection_cache_time", never past the
 * token's "exp", "max_token_age" or the cache zone's max_ttl.
 */

static time_t
ngx_http_oidc_flight_expires(ngx_http_oidc_flight_t *f, json_t *claims)
{
    time_t                      exp, iat, expires;
    ngx_http_oidc_provider_t   *p;
    ngx_http_oidc_main_conf_t  *omcf;

    p = f->provider;
    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_oidc_module);

    expires = ngx_time() + ngx_min(p->introspection_cache_time,
                                   omcf->token_cache_max_ttl);

    if (ngx_oidc_json_get_time(claims, "exp", &exp) == NGX_OIDC_OK
        && exp < expires)
    {
        expires = exp;
    }

    if (p->max_token_age
        && ngx_oidc_json_get_time(claims, "iat", &iat) == NGX_OIDC_OK
        && iat + p->max_token_age < expires)
    {
        expires = iat + p->max_token_age;
    }

    return expires;
}


/* another worker's call: its result, or its lock gone, or too long */

static void
ngx_http_oidc_flight_poll_handler(ngx_event_t *ev)
{
    ngx_str_t                value;
    ngx_http_oidc_flight_t  *f;

    f = ev->data;

    if (ngx_http_oidc_flight_look(f) != NGX_OK) {

        if (ngx_http_oidc_shm_get(f->zone, &f->lock, f->pool, &value)
            == NGX_OK
            && (ngx_msec_int_t) (f->deadline - ngx_current_msec) > 0)
        {
            ngx_add_timer(ev, NGX_HTTP_OIDC_INTROSPECT_POLL);
            return;
        }

        ngx_http_oidc_flight_why(f, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "no result from another worker's call");
    }

    ngx_http_oidc_flight_end(f);
}


/* NGX_OK: the outcome is in the zone (now in the flight); NGX_DECLINED */

static ngx_int_t
ngx_http_oidc_flight_look(ngx_http_oidc_flight_t *f)
{
    json_t     *claims;
    ngx_int_t   rc;

    rc = ngx_http_oidc_introspect_cache_get(NULL, f->provider, f->zone,
                                            &f->sn.str,
                                            &f->token, f->pool,
                                            ngx_cycle->log, &claims);

    switch (rc) {

    case NGX_OK:
        f->status = NGX_OK;
        f->claims = claims;
        return NGX_OK;

    case NGX_DECLINED:
        ngx_http_oidc_flight_why(f, NGX_HTTP_UNAUTHORIZED, "not active");
        return NGX_OK;

    case NGX_ERROR:
        ngx_http_oidc_flight_why(f, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "cache unreadable");
        return NGX_OK;

    default:
        return NGX_DECLINED;
    }
}


static void
ngx_http_oidc_flight_why(ngx_http_oidc_flight_t *f, ngx_int_t status,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(f->why, f->why + sizeof(f->why) - 1, fmt, args);
    va_end(args);

    *p = '\0';
    f->status = status;
}


/*
 * The outcome goes to every waiting request, each posted to run its
 * phases again (as the provider's key waiters are), and the flight ends.
 */

static void
ngx_http_oidc_flight_end(ngx_http_oidc_flight_t *f)
{
    ngx_queue_t                      *q;
    ngx_connection_t                 *c;
    ngx_http_request_t               *r;
    ngx_http_oidc_introspect_wait_t  *w;

    if (f->listed) {
        /* a request coming now finds the caches, or starts anew */
        ngx_rbtree_delete(&ngx_http_oidc_flights, &f->sn.node);
        f->listed = 0;
    }

    if (f->locked) {
        ngx_http_oidc_shm_delete(f->zone, &f->lock);
        f->locked = 0;
    }

    if (f->poll.timer_set) {
        ngx_del_timer(&f->poll);
    }

    if (f->http != NULL) {
        ngx_http_oidc_http_cancel(f->http);
        f->http = NULL;
    }

    while (!ngx_queue_empty(&f->waiters)) {
        q = ngx_queue_head(&f->waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_oidc_introspect_wait_t, queue);

        w->flight = NULL;
        w->done = 1;
        w->status = f->status;
        w->claims = f->claims ? json_incref(f->claims) : NULL;
        ngx_memcpy(w->why, f->why, sizeof(w->why));

        r = w->request;
        c = r->connection;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "oidc: request resumed after introspection");

        if (ngx_http_post_request(r, NULL) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        ngx_http_run_posted_requests(c);
    }

    if (f->claims != NULL) {
        json_decref(f->claims);
    }

    ngx_explicit_memzero(f->token.data, f->token.len);

    ngx_destroy_pool(f->pool);
}


/* the request's wait, found among its pool cleanups */

static ngx_http_oidc_introspect_wait_t *
ngx_http_oidc_introspect_waiter(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_oidc_introspect_wait_t  *w;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {

        if (cln->handler != ngx_http_oidc_introspect_wait_cleanup) {
            continue;
        }

        w = cln->data;

        if (w->request == r) {
            return w;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_oidc_introspect_join(ngx_http_request_t *r,
    ngx_http_oidc_introspect_wait_t *w, ngx_http_oidc_flight_t *f)
{
    ngx_pool_cleanup_t  *cln;

    if (w == NULL) {
        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_oidc_introspect_wait_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        w = cln->data;
        ngx_memzero(w, sizeof(ngx_http_oidc_introspect_wait_t));

        w->request = r;

        cln->handler = ngx_http_oidc_introspect_wait_cleanup;
    }

    w->flight = f;
    ngx_queue_insert_tail(&f->waiters, &w->queue);

    return NGX_OK;
}


/* a request finalized while waiting leaves; the flight goes on */

static void
ngx_http_oidc_introspect_wait_cleanup(void *data)
{
    ngx_http_oidc_introspect_wait_t  *w = data;

    if (w->flight != NULL) {
        ngx_queue_remove(&w->queue);
        w->flight = NULL;
    }

    if (w->claims != NULL) {
        json_decref(w->claims);
        w->claims = NULL;
    }
}


/*
 * The introspection cache, the worker's then the shared one; the one
 * place that reads it (a Redis store plugs in here).  "key" is computed
 * into "pool" when empty.  NGX_OK: *claims (the caller's reference),
 * a positive result; NGX_DECLINED: a negative one; NGX_ABORT: nothing
 * cached; NGX_ERROR.  Values: "+EXPIRES BODY" or "-EXPIRES".
 */

static ngx_int_t
ngx_http_oidc_introspect_cache_get(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *token, ngx_pool_t *pool, ngx_log_t *log, json_t **claims)
{
    json_t          *j;
    time_t           expires;
    ngx_int_t        rc;
    ngx_str_t        value, body;
    ngx_oidc_err_t   err;

    j = ngx_http_oidc_worker_cache_get(NGX_HTTP_OIDC_WORKER_CACHE_INTROSPECTION,
                                       p, token, 0);

    if (j != NULL) {
        if (!json_is_object(j)) {
            return NGX_DECLINED;
        }

        *claims = json_incref(j);
        return NGX_OK;
    }

    if (zone == NULL) {
        return NGX_ABORT;
    }

    if (key->len == 0
        && ngx_http_oidc_token_key(pool, log, p, 'i', token, key) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_shm_get(zone, key, pool, &value);

    if (rc == NGX_DECLINED && r != NULL && p->redis != NULL
        && ngx_http_oidc_redis_up(p->redis))
    {
        /*
         * what other gateways learned; Redis down: the endpoint is asked
         * (polling workers of this gateway look in the zone only)
         */
        rc = ngx_http_oidc_store_get(r, key, &value, 0);

        if (rc == NGX_AGAIN || rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
            return rc;
        }

        if (rc == NGX_OK) {
            if (ngx_http_oidc_introspect_cache_decode(&value, &expires, &body)
                == NGX_ERROR || expires <= ngx_time())
            {
                /* unreadable, or past its time on this gateway's clock */
                rc = NGX_DECLINED;

            } else {
                /* the other workers of this gateway find it in the zone */
                (void) ngx_http_oidc_shm_set(zone, key, &value, expires, log);
            }
        }
    }

    if (rc == NGX_DECLINED) {
        return NGX_ABORT;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_introspect_cache_decode(&value, &expires, &body);

    if (rc == NGX_DECLINED) {
        ngx_http_oidc_worker_cache_put(
                                  NGX_HTTP_OIDC_WORKER_CACHE_INTROSPECTION, p,
                                  token, json_false(), expires, 0, log);
        return NGX_DECLINED;
    }

    j = (rc == NGX_OK) ? ngx_oidc_json_parse(body.data, body.len, body.len,
                                             &err)
                       : NULL;

    if (j == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "oidc: cached introspection result unreadable");
        return NGX_ABORT;
    }

    ngx_http_oidc_worker_cache_put(NGX_HTTP_OIDC_WORKER_CACHE_INTROSPECTION, p,
                                   token, j, expires, 0, log);

    *claims = j;

    return NGX_OK;
}


/* "+EXPIRES BODY": NGX_OK; "-EXPIRES": NGX_DECLINED; else NGX_ERROR */

static ngx_int_t
ngx_http_oidc_introspect_cache_decode(ngx_str_t *value, time_t *expires,
    ngx_str_t *body)
{
    u_char  *s, *last;

    s = value->data + 1;
    last = value->data + value->len;

    while (s < last && *s >= '0' && *s <= '9') {
        s++;
    }

    *expires = (value->len > 1) ? ngx_atotm(value->data + 1,
                                            s - value->data - 1)
                                : NGX_ERROR;

    if (*expires == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (value->data[0] == '-' && s == last) {
        return NGX_DECLINED;
    }

    if (value->data[0] != '+' || s == last || *s != ' ') {
        return NGX_ERROR;
    }

    body->data = s + 1;
    body->len = last - s - 1;

    return NGX_OK;
}


/* "claims" NULL: a negative result; "body": the provider's answer */

static void
ngx_http_oidc_introspect_cache_set(ngx_http_oidc_provider_t *p,
    ngx_shm_zone_t *zone, ngx_str_t *key, ngx_str_t *token, json_t *claims,
    ngx_str_t *body, time_t expires, ngx_pool_t *pool, ngx_log_t *log)
{
    ngx_str_t  value;

    ngx_http_oidc_worker_cache_put(NGX_HTTP_OIDC_WORKER_CACHE_INTROSPECTION, p,
                                   token, claims ? claims : json_false(),
                                   expires, 0, log);

    if (zone == NULL) {
        return;
    }

    value.data = ngx_pnalloc(pool, 1 + NGX_TIME_T_LEN + 1 + body->len);
    if (value.data == NULL) {
        return;
    }

    value.len = (claims ? ngx_sprintf(value.data, "+%T %V", expires, body)
                        : ngx_sprintf(value.data, "-%T", expires))
                - value.data;

    (void) ngx_http_oidc_shm_set(zone, key, &value, expires, log);

    if (p->redis != NULL) {
        /* for the other gateways; not waited for, Redis expires it */
        (void) ngx_http_oidc_redis_send(p->redis, NGX_HTTP_OIDC_REDIS_SET, key,
                                        &value, expires, NULL, NULL, NULL);
    }
}
