
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"


/*
 * The session store: the "sessions" shared memory zone, or the Redis
 * server that the provider's "session_store" names.  The zone answers
 * at once.  Redis answers later: the request keeps a memo of its
 * operations (operation and key: outcome); a call finds its outcome
 * there, or sends the command and returns NGX_AGAIN, and the reply
 * posts the request, whose phases run again and make the same calls,
 * now answered from the memo.  Writes whose outcome nobody waits for
 * (set, delete) are pipelined on the worker's connection and not
 * waited for: later commands of this worker come after them.
 */


/* a fresh read: a completed outcome is given once, then forgotten */
#define NGX_HTTP_OIDC_STORE_FRESH    0x100


typedef struct ngx_http_oidc_store_op_s  ngx_http_oidc_store_op_t;

typedef struct {
    ngx_http_request_t           *request;
    ngx_http_oidc_store_op_t     *ops;
    ngx_event_t                   wake;
    unsigned                      retry_after:1;
} ngx_http_oidc_store_memo_t;

struct ngx_http_oidc_store_op_s {
    ngx_http_oidc_store_op_t     *next;
    ngx_http_oidc_store_memo_t   *memo;
    ngx_uint_t                    op;
    ngx_str_t                     key;
    ngx_int_t                     rc;               /* NGX_AGAIN: sent */
    ngx_str_t                     value;
    void                         *cmd;              /* while in flight */
};


static ngx_http_oidc_redis_t *ngx_http_oidc_store_redis_of(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_store_redis(ngx_http_request_t *r,
    ngx_http_oidc_redis_t *rd, ngx_uint_t op, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_str_t *out);
static void ngx_http_oidc_store_live(ngx_http_request_t *r,
    ngx_http_oidc_redis_t *rd, ngx_uint_t op, ngx_str_t *key,
    time_t expires);
static ngx_http_oidc_store_memo_t *ngx_http_oidc_store_memo(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_store_unavailable(ngx_http_request_t *r,
    ngx_http_oidc_redis_t *rd, ngx_http_oidc_store_memo_t *memo);
static void ngx_http_oidc_store_done(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_oidc_store_wake(ngx_event_t *ev);
static void ngx_http_oidc_store_cleanup(void *data);


ngx_int_t
ngx_http_oidc_store_get(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, ngx_uint_t take)
{
    ngx_uint_t                  op;
    ngx_http_oidc_redis_t      *rd;
    ngx_http_oidc_main_conf_t  *omcf;

    rd = ngx_http_oidc_store_redis_of(r);

    if (rd != NULL) {
        op = (take == 1) ? NGX_HTTP_OIDC_REDIS_TAKE
             : (take == NGX_HTTP_OIDC_STORE_GET_FRESH)
               ? (NGX_HTTP_OIDC_REDIS_GET|NGX_HTTP_OIDC_STORE_FRESH)
               : NGX_HTTP_OIDC_REDIS_GET;

        return ngx_http_oidc_store_redis(r, rd, op, key, NULL, 0, value);
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_DECLINED;
    }

    if (take == 1) {
        return ngx_http_oidc_shm_take(omcf->sessions, key, r->pool, value);
    }

    return ngx_http_oidc_shm_get(omcf->sessions, key, r->pool, value);
}


ngx_int_t
ngx_http_oidc_store_set(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires)
{
    ngx_http_oidc_redis_t      *rd;
    ngx_http_oidc_main_conf_t  *omcf;

    rd = ngx_http_oidc_store_redis_of(r);

    if (rd != NULL) {
        return ngx_http_oidc_store_redis(r, rd, NGX_HTTP_OIDC_REDIS_SET, key,
                                         value, expires, NULL);
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_shm_set(omcf->sessions, key, value, expires,
                                 r->connection->log);
}


ngx_int_t
ngx_http_oidc_store_insert(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires)
{
    ngx_http_oidc_redis_t      *rd;
    ngx_http_oidc_main_conf_t  *omcf;

    rd = ngx_http_oidc_store_redis_of(r);

    if (rd != NULL) {
        return ngx_http_oidc_store_redis(r, rd, NGX_HTTP_OIDC_REDIS_INSERT,
                                         key, value, expires, NULL);
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_shm_insert(omcf->sessions, key, value, expires,
                                    r->connection->log);
}


ngx_int_t
ngx_http_oidc_store_replace(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires)
{
    ngx_http_oidc_redis_t      *rd;
    ngx_http_oidc_main_conf_t  *omcf;

    rd = ngx_http_oidc_store_redis_of(r);

    if (rd != NULL) {
        return ngx_http_oidc_store_redis(r, rd, NGX_HTTP_OIDC_REDIS_REPLACE,
                                         key, value, expires, NULL);
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_shm_replace(omcf->sessions, key, value, expires,
                                     r->connection->log);
}


void
ngx_http_oidc_store_delete(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_http_oidc_redis_t      *rd;
    ngx_http_oidc_main_conf_t  *omcf;

    rd = ngx_http_oidc_store_redis_of(r);

    if (rd != NULL) {
        (void) ngx_http_oidc_store_redis(r, rd, NGX_HTTP_OIDC_REDIS_DELETE,
                                         key, NULL, 0, NULL);
        return;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions != NULL) {
        ngx_http_oidc_shm_delete(omcf->sessions, key);
    }
}


ngx_int_t
ngx_http_oidc_store_touch(ngx_http_request_t *r, ngx_str_t *key,
    time_t expires)
{
    ngx_http_oidc_redis_t      *rd;
    ngx_http_oidc_main_conf_t  *omcf;

    rd = ngx_http_oidc_store_redis_of(r);

    if (rd != NULL) {
        return ngx_http_oidc_store_redis(r, rd, NGX_HTTP_OIDC_REDIS_TOUCH,
                                         key, NULL, expires, NULL);
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_oidc_shm_touch(omcf->sessions, key, expires);
}


/*
 * The generation is the zone's with either store: a change made on this
 * gateway reaches its workers at once; one made on another gateway
 * (Redis) within the copies' lifetime, see ngx_http_oidc_store_keep().
 */

ngx_uint_t
ngx_http_oidc_store_generation(ngx_http_request_t *r)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return 0;
    }

    return ngx_http_oidc_shm_generation(omcf->sessions);
}


void
ngx_http_oidc_store_changed(ngx_http_request_t *r)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions != NULL) {
        ngx_http_oidc_shm_changed(omcf->sessions);
    }
}


time_t
ngx_http_oidc_store_keep(ngx_http_request_t *r, time_t valid)
{
    ngx_http_oidc_redis_t  *rd;

    rd = ngx_http_oidc_store_redis_of(r);

    if (rd == NULL) {
        return valid;
    }

    return ngx_min(valid, ngx_time() + ngx_http_oidc_redis_cache_time(rd));
}


/* what the request read before a wait is read again after it */

void
ngx_http_oidc_store_forget(ngx_http_request_t *r)
{
    ngx_http_oidc_ctx_t          *ctx;
    ngx_http_oidc_store_op_t     *o, **prev;
    ngx_http_oidc_store_memo_t   *memo;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);

    if (ctx == NULL || ctx->store == NULL) {
        return;
    }

    memo = ctx->store;
    prev = &memo->ops;

    for (o = memo->ops; o; o = o->next) {
        if (o->rc == NGX_AGAIN) {
            /* in flight: kept, its reply has to find it */
            *prev = o;
            prev = &o->next;
        }
    }

    *prev = NULL;
}


/* the store of the request's provider: NULL for the zone */

static ngx_http_oidc_redis_t *
ngx_http_oidc_store_redis_of(ngx_http_request_t *r)
{
    ngx_http_oidc_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);

    return (olcf->provider != NULL) ? olcf->provider->redis : NULL;
}


static ngx_int_t
ngx_http_oidc_store_redis(ngx_http_request_t *r, ngx_http_oidc_redis_t *rd,
    ngx_uint_t op, ngx_str_t *key, ngx_str_t *value, time_t expires,
    ngx_str_t *out)
{
    ngx_int_t                    rc;
    ngx_http_oidc_store_op_t    *o, **prev;
    ngx_http_oidc_store_memo_t  *memo;

    memo = ngx_http_oidc_store_memo(r);
    if (memo == NULL) {
        return NGX_ERROR;
    }

    for (prev = &memo->ops, o = memo->ops; o; prev = &o->next, o = o->next) {
        if (o->op == op && o->key.len == key->len
            && ngx_memcmp(o->key.data, key->data, key->len) == 0)
        {
            break;
        }
    }

    if (o != NULL) {
        if (o->rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (op & NGX_HTTP_OIDC_STORE_FRESH) {
            *prev = o->next;
        }

        if (o->rc == NGX_ERROR) {
            return ngx_http_oidc_store_unavailable(r, rd, memo);
        }

        if (out != NULL) {
            *out = o->value;
        }

        return o->rc;
    }

    if (op == NGX_HTTP_OIDC_REDIS_SET || op == NGX_HTTP_OIDC_REDIS_DELETE) {
        rc = ngx_http_oidc_redis_send(rd, op, key, value, expires, NULL, NULL,
                                      NULL);

        if (rc != NGX_OK) {
            return ngx_http_oidc_store_unavailable(r, rd, memo);
        }

        ngx_http_oidc_store_live(r, rd, op, key, expires);

        return NGX_OK;
    }

    o = ngx_pcalloc(r->pool, sizeof(ngx_http_oidc_store_op_t));
    if (o == NULL) {
        return NGX_ERROR;
    }

    o->key.data = ngx_pstrdup(r->pool, key);
    if (o->key.data == NULL) {
        return NGX_ERROR;
    }

    o->key.len = key->len;
    o->memo = memo;
    o->op = op;
    o->rc = NGX_AGAIN;

    rc = ngx_http_oidc_redis_send(rd, op & ~NGX_HTTP_OIDC_STORE_FRESH, key,
                                  value, expires, ngx_http_oidc_store_done, o,
                                  &o->cmd);

    if (rc != NGX_OK) {
        return ngx_http_oidc_store_unavailable(r, rd, memo);
    }

    ngx_http_oidc_store_live(r, rd, o->op & ~NGX_HTTP_OIDC_STORE_FRESH, key,
                             expires);

    o->next = memo->ops;
    memo->ops = o;

    return NGX_AGAIN;
}


/*
 * A session written, renewed or deleted in Redis: its entry in the
 * provider's set of live sessions follows, pipelined behind it and not
 * waited for.  Only "oidc_status" reads the set: a lost entry makes
 * the count wrong at most until the session's expiry.
 */

static void
ngx_http_oidc_store_live(ngx_http_request_t *r, ngx_http_oidc_redis_t *rd,
    ngx_uint_t op, ngx_str_t *key, time_t expires)
{
    ngx_uint_t                 live;
    ngx_http_oidc_loc_conf_t  *olcf;

    /* "s:NAME:...", see ngx_http_oidc_store_key() */
    if (key->len < 2 || key->data[0] != 's' || key->data[1] != ':') {
        return;
    }

    switch (op) {

    case NGX_HTTP_OIDC_REDIS_SET:
    case NGX_HTTP_OIDC_REDIS_INSERT:
        live = NGX_HTTP_OIDC_REDIS_LIVE_ADD;
        break;

    case NGX_HTTP_OIDC_REDIS_REPLACE:
    case NGX_HTTP_OIDC_REDIS_TOUCH:
        live = NGX_HTTP_OIDC_REDIS_LIVE_UPDATE;
        break;

    case NGX_HTTP_OIDC_REDIS_DELETE:
    case NGX_HTTP_OIDC_REDIS_TAKE:
        live = NGX_HTTP_OIDC_REDIS_LIVE_REMOVE;
        break;

    default: /* a read */
        return;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);

    (void) ngx_http_oidc_redis_live(rd, live, olcf->provider, key, expires,
                                    NULL, NULL, NULL);
}


static ngx_http_oidc_store_memo_t *
ngx_http_oidc_store_memo(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_oidc_ctx_t         *ctx;
    ngx_http_oidc_store_memo_t  *memo;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);

    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->store != NULL) {
        return ctx->store;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_oidc_store_memo_t));
    if (cln == NULL) {
        return NULL;
    }

    memo = cln->data;
    ngx_memzero(memo, sizeof(ngx_http_oidc_store_memo_t));

    memo->request = r;
    memo->wake.handler = ngx_http_oidc_store_wake;
    memo->wake.data = memo;
    memo->wake.log = r->connection->log;

    cln->handler = ngx_http_oidc_store_cleanup;

    ctx->store = memo;

    return memo;
}


/* Redis is down or failed: 503 with Retry-After, logged once a while */

static ngx_int_t
ngx_http_oidc_store_unavailable(ngx_http_request_t *r,
    ngx_http_oidc_redis_t *rd, ngx_http_oidc_store_memo_t *memo)
{
    ngx_str_t  v;

    ngx_http_oidc_redis_refused(rd, r->connection->log);

    if (memo->retry_after) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    v.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    v.len = ngx_sprintf(v.data, "%T", ngx_http_oidc_redis_retry_after(rd))
            - v.data;

    if (ngx_http_oidc_header_out(r, "Retry-After", &v, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    memo->retry_after = 1;

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


static void
ngx_http_oidc_store_done(void *data, ngx_int_t rc, ngx_str_t *value)
{
    ngx_http_oidc_store_op_t *o = data;

    ngx_http_oidc_store_memo_t  *memo;

    memo = o->memo;
    o->cmd = NULL;

    if (rc == NGX_OK && value->len) {
        o->value.data = ngx_pnalloc(memo->request->pool, value->len);

        if (o->value.data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(o->value.data, value->data, value->len);
            o->value.len = value->len;
        }
    }

    o->rc = rc;

    /* not from inside hiredis: the phases may send commands again */
    if (!memo->wake.posted) {
        ngx_post_event(&memo->wake, &ngx_posted_events);
    }
}


static void
ngx_http_oidc_store_wake(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_oidc_store_memo_t  *memo;

    memo = ev->data;
    r = memo->request;
    c = r->connection;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "oidc: request resumed after a redis reply");

    if (ngx_http_post_request(r, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_oidc_store_cleanup(void *data)
{
    ngx_http_oidc_store_memo_t *memo = data;

    ngx_http_oidc_store_op_t  *o;

    for (o = memo->ops; o; o = o->next) {
        if (o->cmd != NULL) {
            ngx_http_oidc_redis_detach(o->cmd);
            o->cmd = NULL;
        }
    }

    if (memo->wake.posted) {
        ngx_delete_posted_event(&memo->wake);
    }
}
