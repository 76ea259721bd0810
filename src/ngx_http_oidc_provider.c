
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"
#include "ngx_http_oidc_http.h"


/*
 * Discovery and keys at run time.  One worker at a time fetches (a lease
 * in shared memory) and stores the documents there with a generation
 * number; every worker imports them once per generation into its own
 * key set (EVP_PKEY cannot live in shared memory).  The last good set
 * stays in use whatever happens to later fetches.
 */


#define NGX_HTTP_OIDC_TTL_MIN         60        /* max-age clamped, s */
#define NGX_HTTP_OIDC_TTL_MAX         86400
#define NGX_HTTP_OIDC_BACKOFF_COLD    5         /* no keys yet, s */
#define NGX_HTTP_OIDC_BACKOFF_WARM    60        /* keys known, s */
#define NGX_HTTP_OIDC_POLL            100       /* another worker fetches, ms */
#define NGX_HTTP_OIDC_TICK_MAX        60000     /* ms */


/* in the provider's shared memory zone */
typedef struct {
    ngx_uint_t                    generation;   /* of the documents, 0: none */
    u_char                       *discovery;
    size_t                        discovery_len;
    u_char                       *jwks;
    size_t                        jwks_len;
    time_t                        refresh;      /* the next refresh is due */
    time_t                        refetch;      /* last unknown-kid refetch */
    time_t                        retry;        /* no fetch before (backoff) */
    ngx_uint_t                    failures;     /* in a row */
    time_t                        lease;        /* a fetch runs until, or 0 */
    ngx_pid_t                     pid;          /* the worker fetching */
} ngx_http_oidc_provider_sh_t;


typedef enum {
    NGX_HTTP_OIDC_FETCH_DISCOVERY = 0,
    NGX_HTTP_OIDC_FETCH_JWKS
} ngx_http_oidc_fetch_e;


/* per worker */
struct ngx_http_oidc_provider_rt_s {
    ngx_http_oidc_provider_t     *provider;
    ngx_slab_pool_t              *shpool;
    ngx_http_oidc_provider_sh_t  *sh;
    ngx_log_t                     log;
    ngx_event_t                   timer;
    ngx_event_t                   wake;
    ngx_queue_t                   waiting;      /* requests */
    time_t                        lease;        /* how long a fetch may run */

    ngx_http_oidc_http_t         *fetch;        /* in progress */
    ngx_http_oidc_fetch_e         stage;
    json_t                       *pending;      /* discovery, before JWKS */
    ngx_str_t                     pending_raw;  /* ngx_alloc()ed */
    ngx_str_t                     pending_uri;  /* JWKS URL being fetched */

    ngx_uint_t                    generation;   /* imported */
    ngx_oidc_jwks_t              *jwks;
    ngx_http_oidc_endpoints_t     endpoints;    /* metadata NULL: none */
    ngx_http_oidc_endpoints_t     merged;       /* configured ones win */
};


/* a request waiting for keys; lives in the request's pool */
typedef struct {
    ngx_queue_t                   queue;
    ngx_http_request_t           *request;
    ngx_http_oidc_provider_rt_t  *rt;
    unsigned                      queued:1;
    unsigned                      woken:1;
    unsigned                      kid:1;        /* waited for an unknown kid */
} ngx_http_oidc_provider_wait_t;


static ngx_int_t ngx_http_oidc_provider_static_keys(
    ngx_http_oidc_provider_t *p, ngx_str_t *kid, ngx_oidc_jwks_t **jwks);
static ngx_int_t ngx_http_oidc_provider_cold(ngx_http_request_t *r,
    ngx_http_oidc_provider_rt_t *rt, ngx_http_oidc_provider_wait_t *w);
static ngx_http_oidc_provider_wait_t *ngx_http_oidc_provider_waiter(
    ngx_http_request_t *r, ngx_http_oidc_provider_rt_t *rt);
static ngx_int_t ngx_http_oidc_provider_wait(ngx_http_request_t *r,
    ngx_http_oidc_provider_rt_t *rt, ngx_http_oidc_provider_wait_t *w,
    ngx_uint_t kid);
static void ngx_http_oidc_provider_wait_cleanup(void *data);
static void ngx_http_oidc_provider_wake_handler(ngx_event_t *ev);
static void ngx_http_oidc_provider_timer_handler(ngx_event_t *ev);
static void ngx_http_oidc_provider_arm(ngx_http_oidc_provider_rt_t *rt);
static ngx_int_t ngx_http_oidc_provider_start(ngx_http_oidc_provider_rt_t *rt,
    ngx_uint_t kid);
static ngx_int_t ngx_http_oidc_provider_fetch(ngx_http_oidc_provider_rt_t *rt,
    ngx_http_oidc_fetch_e stage, ngx_str_t *url);
static void ngx_http_oidc_provider_fetch_done(
    ngx_http_oidc_http_response_t *resp, void *data);
static void ngx_http_oidc_provider_discovery_done(
    ngx_http_oidc_provider_rt_t *rt, ngx_http_oidc_http_response_t *resp);
static json_t *ngx_http_oidc_provider_discovery(
    ngx_http_oidc_provider_rt_t *rt, ngx_str_t *body, u_char *buf,
    size_t size);
static void ngx_http_oidc_provider_jwks_done(ngx_http_oidc_provider_rt_t *rt,
    ngx_http_oidc_http_response_t *resp);
static ngx_uint_t ngx_http_oidc_provider_store(ngx_http_oidc_provider_rt_t *rt,
    ngx_str_t *jwks, time_t ttl);
static u_char *ngx_http_oidc_provider_shm_copy(ngx_slab_pool_t *shpool,
    u_char *old, u_char *data, size_t len);
static void ngx_http_oidc_provider_failure(ngx_http_oidc_provider_rt_t *rt,
    const char *fmt, ...);
static void ngx_http_oidc_provider_release(ngx_http_oidc_provider_rt_t *rt);
static void ngx_http_oidc_provider_sync(ngx_http_oidc_provider_rt_t *rt);
static ngx_int_t ngx_http_oidc_provider_copy_out(
    ngx_http_oidc_provider_rt_t *rt, ngx_str_t *discovery, ngx_str_t *jwks,
    ngx_uint_t *generation);
static void ngx_http_oidc_provider_install(ngx_http_oidc_provider_rt_t *rt,
    ngx_oidc_jwks_t *jwks, json_t *discovery, ngx_uint_t generation);
static void ngx_http_oidc_provider_set_endpoints(
    ngx_http_oidc_endpoints_t *ep, json_t *json);
static void ngx_http_oidc_provider_merge(ngx_http_oidc_provider_rt_t *rt);
static ngx_str_t *ngx_http_oidc_provider_jwks_uri(
    ngx_http_oidc_provider_rt_t *rt, json_t *discovery);
static void ngx_http_oidc_provider_drop_pending(
    ngx_http_oidc_provider_rt_t *rt);
static u_char *ngx_http_oidc_provider_printable(u_char *buf, size_t size,
    const char *s, size_t len);


/* the endpoints of a discovery document, all ngx_str_t */
static const struct {
    const char  *name;
    size_t       offset;
} ngx_http_oidc_provider_fields[] = {
    { "issuer", offsetof(ngx_http_oidc_endpoints_t, issuer) },
    { "jwks_uri", offsetof(ngx_http_oidc_endpoints_t, jwks_uri) },
    { "authorization_endpoint",
      offsetof(ngx_http_oidc_endpoints_t, authorization_endpoint) },
    { "token_endpoint", offsetof(ngx_http_oidc_endpoints_t, token_endpoint) },
    { "userinfo_endpoint",
      offsetof(ngx_http_oidc_endpoints_t, userinfo_endpoint) },
    { "end_session_endpoint",
      offsetof(ngx_http_oidc_endpoints_t, end_session_endpoint) },
    { "introspection_endpoint",
      offsetof(ngx_http_oidc_endpoints_t, introspection_endpoint) },
    { "revocation_endpoint",
      offsetof(ngx_http_oidc_endpoints_t, revocation_endpoint) }
};


ngx_int_t
ngx_http_oidc_provider_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t  fresh;

    if (data) {
        /* a reload with the same issuer: the keys stay */
        return NGX_OK;
    }

    if (ngx_http_oidc_zone_sh(shm_zone, sizeof(ngx_http_oidc_provider_sh_t),
                              &fresh)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_provider_init_process(ngx_cycle_t *cycle,
    ngx_http_oidc_provider_t *p)
{
    ngx_http_oidc_provider_rt_t  *rt;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    rt = ngx_pcalloc(cycle->pool, sizeof(ngx_http_oidc_provider_rt_t));
    if (rt == NULL) {
        return NGX_ERROR;
    }

    rt->provider = p;
    ngx_queue_init(&rt->waiting);

    p->rt = rt;

    if (p->static_jwks
        || (!p->discovery && p->endpoints->jwks_uri.len == 0))
    {
        /* nothing to fetch: keys from files, or none (checked at -t) */
        return NGX_OK;
    }

    rt->shpool = (ngx_slab_pool_t *) p->shm_zone->shm.addr;
    rt->sh = rt->shpool->data;

    rt->log = *cycle->log;

    /* discovery and JWKS, each within both timeouts, and the resolver's */
    rt->lease = 2 * (p->connect_timeout + p->read_timeout) / 1000 + 35;

    rt->timer.handler = ngx_http_oidc_provider_timer_handler;
    rt->timer.data = rt;
    rt->timer.log = &rt->log;
    rt->timer.cancelable = 1;

    rt->wake.handler = ngx_http_oidc_provider_wake_handler;
    rt->wake.data = rt;
    rt->wake.log = &rt->log;

    /* keys already fetched by the previous workers, if any */
    ngx_http_oidc_provider_sync(rt);

    ngx_add_timer(&rt->timer, ngx_random() % NGX_HTTP_OIDC_POLL);

    return NGX_OK;
}


void
ngx_http_oidc_provider_exit_process(ngx_cycle_t *cycle,
    ngx_http_oidc_provider_t *p)
{
    ngx_http_oidc_provider_rt_t  *rt;

    rt = p->rt;

    if (rt == NULL) {
        return;
    }

    p->rt = NULL;

    if (rt->timer.timer_set) {
        ngx_del_timer(&rt->timer);
    }

    if (rt->wake.posted) {
        ngx_delete_posted_event(&rt->wake);
    }

    if (rt->fetch) {
        ngx_http_oidc_http_cancel(rt->fetch);
        rt->fetch = NULL;

        ngx_http_oidc_provider_release(rt);
    }

    ngx_http_oidc_provider_drop_pending(rt);

    if (rt->jwks) {
        ngx_oidc_jwks_free(rt->jwks);
        rt->jwks = NULL;
    }

    if (rt->endpoints.metadata) {
        json_decref(rt->endpoints.metadata);
        rt->endpoints.metadata = NULL;
    }
}


ngx_int_t
ngx_http_oidc_provider_keys(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *kid, ngx_oidc_jwks_t **jwks)
{
#if (NGX_DEBUG)
    size_t                          len;
    u_char                          text[64];
#endif
    ngx_int_t                       rc;
    ngx_http_oidc_provider_rt_t    *rt;
    ngx_http_oidc_provider_wait_t  *w;

    rt = p->rt;

    if (rt == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: provider \"%V\" is not running", &p->name);
        return NGX_ERROR;
    }

    if (p->static_jwks) {
        return ngx_http_oidc_provider_static_keys(p, kid, jwks);
    }

    if (rt->sh == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: provider \"%V\" has no keys: \"discovery off\" "
                      "and no \"jwks_uri\"", &p->name);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    w = ngx_http_oidc_provider_waiter(r, rt);

    if (w && w->queued) {
        /* run again before its turn, e.g. by a write event */
        return NGX_AGAIN;
    }

    ngx_http_oidc_provider_sync(rt);

    if (rt->jwks == NULL) {
        return ngx_http_oidc_provider_cold(r, rt, w);
    }

    if (kid->len == 0
        || ngx_oidc_jwks_has_kid(rt->jwks, kid->data, kid->len))
    {
        *jwks = rt->jwks;
        return NGX_OK;
    }

    /*
     * one refetch per request; when the provider is failing, the kid may
     * well be a new key we cannot fetch: a dependency failure, not a 401
     */

    if (w && w->kid) {
        return rt->sh->failures ? NGX_HTTP_SERVICE_UNAVAILABLE : NGX_DECLINED;
    }

    rc = rt->fetch ? NGX_BUSY : ngx_http_oidc_provider_start(rt, 1);

    if (rc != NGX_OK && rc != NGX_BUSY) {
        return rt->sh->failures ? NGX_HTTP_SERVICE_UNAVAILABLE : NGX_DECLINED;
    }

#if (NGX_DEBUG)
    /* the client's bytes: no control character reaches the log */
    len = ngx_http_oidc_provider_printable(text, sizeof(text),
                                           (char *) kid->data, kid->len)
          - text;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oidc: provider \"%V\": unknown kid \"%*s\", "
                   "waiting for the JWKS", &p->name, len, text);
#endif

    return ngx_http_oidc_provider_wait(r, rt, w, 1);
}


ngx_http_oidc_endpoints_t *
ngx_http_oidc_provider_endpoints(ngx_http_oidc_provider_t *p)
{
    ngx_http_oidc_provider_rt_t  *rt;

    rt = p->rt;

    if (rt == NULL) {
        return NULL;
    }

    if (p->static_jwks || !p->discovery) {
        return p->endpoints;
    }

    ngx_http_oidc_provider_sync(rt);

    return rt->endpoints.metadata ? &rt->merged : NULL;
}


ngx_http_oidc_endpoint_e
ngx_http_oidc_provider_endpoint(ngx_http_oidc_provider_t *p, ngx_str_t *url)
{
    size_t                        len;
    ngx_uint_t                    i;
    const char                   *s;
    ngx_http_oidc_endpoints_t    *ep;
    ngx_http_oidc_provider_rt_t  *rt;

    static const struct {
        size_t                    offset;
        ngx_http_oidc_endpoint_e  endpoint;
    } known[] = {
        { offsetof(ngx_http_oidc_endpoints_t, token_endpoint),
          NGX_HTTP_OIDC_EP_TOKEN },
        { offsetof(ngx_http_oidc_endpoints_t, jwks_uri),
          NGX_HTTP_OIDC_EP_JWKS },
        { offsetof(ngx_http_oidc_endpoints_t, userinfo_endpoint),
          NGX_HTTP_OIDC_EP_USERINFO },
        { offsetof(ngx_http_oidc_endpoints_t, revocation_endpoint),
          NGX_HTTP_OIDC_EP_REVOCATION },
        { offsetof(ngx_http_oidc_endpoints_t, introspection_endpoint),
          NGX_HTTP_OIDC_EP_INTROSPECTION }
    };

#define ngx_http_oidc_same(a, b)                                              \
    ((a)->len == (b)->len && ngx_strncmp((a)->data, (b)->data, (a)->len) == 0)

    if (ngx_http_oidc_same(url, &p->config_url)) {
        return NGX_HTTP_OIDC_EP_DISCOVERY;
    }

    rt = p->rt;

    if (rt == NULL) {
        return NGX_HTTP_OIDC_EP_OTHER;
    }

    /* the JWKS right after a new discovery document */
    if (rt->pending) {
        s = ngx_oidc_json_get_string(rt->pending, "jwks_uri", &len);

        if (s && len == url->len && ngx_strncmp(s, url->data, len) == 0) {
            return NGX_HTTP_OIDC_EP_JWKS;
        }
    }

    ep = &rt->endpoints;

    if (ep->metadata == NULL) {
        return NGX_HTTP_OIDC_EP_OTHER;
    }

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (ngx_http_oidc_same(url,
                               (ngx_str_t *) ((u_char *) ep + known[i].offset)))
        {
            return known[i].endpoint;
        }
    }

#undef ngx_http_oidc_same

    return NGX_HTTP_OIDC_EP_OTHER;
}


static ngx_int_t
ngx_http_oidc_provider_static_keys(ngx_http_oidc_provider_t *p,
    ngx_str_t *kid, ngx_oidc_jwks_t **jwks)
{
    if (kid->len
        && !ngx_oidc_jwks_has_kid(p->static_jwks, kid->data, kid->len))
    {
        return NGX_DECLINED;
    }

    *jwks = p->static_jwks;

    return NGX_OK;
}


/* no usable key yet: wait for a fetch, or fail while backing off */

static ngx_int_t
ngx_http_oidc_provider_cold(ngx_http_request_t *r,
    ngx_http_oidc_provider_rt_t *rt, ngx_http_oidc_provider_wait_t *w)
{
    ngx_int_t  rc;

    if (w == NULL || !w->woken) {
        rc = rt->fetch ? NGX_BUSY : ngx_http_oidc_provider_start(rt, 0);

        if (rc == NGX_OK || rc == NGX_BUSY) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "oidc: provider \"%V\": waiting for keys",
                           &rt->provider->name);

            return ngx_http_oidc_provider_wait(r, rt, w, 0);
        }
    }

    ngx_http_oidc_log_failure(r->connection->log, rt->provider,
                              NGX_HTTP_OIDC_EP_JWKS,
                              "no usable keys, answering 503");

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/* the request's waiter, found among its pool cleanups */

static ngx_http_oidc_provider_wait_t *
ngx_http_oidc_provider_waiter(ngx_http_request_t *r,
    ngx_http_oidc_provider_rt_t *rt)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_oidc_provider_wait_t  *w;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {

        if (cln->handler != ngx_http_oidc_provider_wait_cleanup) {
            continue;
        }

        w = cln->data;

        if (w->rt == rt && w->request == r) {
            return w;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_oidc_provider_wait(ngx_http_request_t *r,
    ngx_http_oidc_provider_rt_t *rt, ngx_http_oidc_provider_wait_t *w,
    ngx_uint_t kid)
{
    ngx_pool_cleanup_t  *cln;

    if (w == NULL) {
        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_oidc_provider_wait_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        w = cln->data;
        ngx_memzero(w, sizeof(ngx_http_oidc_provider_wait_t));

        w->request = r;
        w->rt = rt;

        cln->handler = ngx_http_oidc_provider_wait_cleanup;
    }

    w->queued = 1;

    if (kid) {
        w->kid = 1;
    }

    ngx_queue_insert_tail(&rt->waiting, &w->queue);

    /* with another worker fetching, watch the shared state */
    ngx_http_oidc_provider_arm(rt);

    return NGX_AGAIN;
}


static void
ngx_http_oidc_provider_wait_cleanup(void *data)
{
    ngx_http_oidc_provider_wait_t  *w = data;

    if (w->queued) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &w->rt->log, 0,
                       "oidc: a request waiting for keys was closed");

        ngx_queue_remove(&w->queue);
        w->queued = 0;
    }
}


/*
 * Posted, so that requests never resume from within another request's
 * handler; each one re-enters its phase handlers (njs's resume).
 */

static void
ngx_http_oidc_provider_wake_handler(ngx_event_t *ev)
{
    ngx_queue_t                     waking, *q;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_oidc_provider_rt_t    *rt;
    ngx_http_oidc_provider_wait_t  *w;

    rt = ev->data;

    if (ngx_queue_empty(&rt->waiting)) {
        return;
    }

    /* a finalized request leaves this list through its pool cleanup */
    ngx_queue_init(&waking);
    ngx_queue_add(&waking, &rt->waiting);
    ngx_queue_init(&rt->waiting);

    while (!ngx_queue_empty(&waking)) {
        q = ngx_queue_head(&waking);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_oidc_provider_wait_t, queue);
        w->queued = 0;
        w->woken = 1;

        r = w->request;
        c = r->connection;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "oidc: request resumed after keys fetch");

        if (ngx_http_post_request(r, NULL) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        ngx_http_run_posted_requests(c);
    }
}


static void
ngx_http_oidc_provider_timer_handler(ngx_event_t *ev)
{
    ngx_http_oidc_provider_rt_t  *rt;

    rt = ev->data;

    if (ngx_exiting && ngx_queue_empty(&rt->waiting)) {
        return;
    }

    ngx_http_oidc_provider_sync(rt);

    if (rt->fetch == NULL) {
        (void) ngx_http_oidc_provider_start(rt, 0);
    }

    if (rt->fetch == NULL && !ngx_queue_empty(&rt->waiting)) {
        ngx_shmtx_lock(&rt->shpool->mutex);

        if (rt->sh->lease <= ngx_time()) {
            /* another worker's fetch is over: let the requests see */
            ngx_post_event(&rt->wake, &ngx_posted_events);
        }

        ngx_shmtx_unlock(&rt->shpool->mutex);
    }

    ngx_http_oidc_provider_arm(rt);
}


static void
ngx_http_oidc_provider_arm(ngx_http_oidc_provider_rt_t *rt)
{
    time_t                        now, due;
    ngx_msec_t                    delay;
    ngx_http_oidc_provider_sh_t  *sh;

    if (rt->fetch) {
        /* a fetch in progress arms the timer when it ends */
        return;
    }

    if (!ngx_queue_empty(&rt->waiting)) {
        /* a graceful shutdown waits for the requests' answer */
        rt->timer.cancelable = 0;
        ngx_add_timer(&rt->timer, NGX_HTTP_OIDC_POLL);
        return;
    }

    if (ngx_exiting) {
        return;
    }

    rt->timer.cancelable = 1;

    sh = rt->sh;
    now = ngx_time();

    ngx_shmtx_lock(&rt->shpool->mutex);

    if (sh->lease > now) {
        due = now + 1;

    } else if (rt->jwks == NULL || sh->generation == 0) {
        due = ngx_max(sh->retry, now);

    } else {
        due = ngx_max(sh->refresh, sh->retry);
    }

    ngx_shmtx_unlock(&rt->shpool->mutex);

    delay = (due > now) ? (ngx_msec_t) (due - now) * 1000 : 0;
    delay = ngx_min(delay, NGX_HTTP_OIDC_TICK_MAX);

    /* workers need not all wake at once */
    delay += ngx_random() % 250;

    ngx_add_timer(&rt->timer, delay);
}


/*
 * Takes the lease and starts a fetch when one is due: NGX_OK started,
 * NGX_BUSY another worker fetches, NGX_DECLINED not due (refresh time,
 * backoff, refetch interval), NGX_ERROR.
 */

static ngx_int_t
ngx_http_oidc_provider_start(ngx_http_oidc_provider_rt_t *rt, ngx_uint_t kid)
{
    time_t                        now;
    ngx_int_t                     rc;
    ngx_http_oidc_provider_t     *p;
    ngx_http_oidc_provider_sh_t  *sh;

    p = rt->provider;
    sh = rt->sh;
    now = ngx_time();

    ngx_shmtx_lock(&rt->shpool->mutex);

    if (sh->lease > now) {
        rc = NGX_BUSY;

    } else if (kid) {
        rc = (now - sh->refetch < p->jwks_refetch_interval) ? NGX_DECLINED
                                                             : NGX_OK;
        if (rc == NGX_OK) {
            sh->refetch = now;
        }

    } else if ((rt->jwks && sh->generation && now < sh->refresh)
               || now < sh->retry)
    {
        rc = NGX_DECLINED;

    } else {
        rc = NGX_OK;
    }

    if (rc == NGX_OK) {
        sh->lease = now + rt->lease;
        sh->pid = ngx_pid;
    }

    ngx_shmtx_unlock(&rt->shpool->mutex);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!p->discovery
        || (kid && rt->endpoints.metadata && rt->merged.jwks_uri.len))
    {
        /* no discovery at all, or the document is recent enough */
        return ngx_http_oidc_provider_fetch(rt, NGX_HTTP_OIDC_FETCH_JWKS,
                                            ngx_http_oidc_provider_jwks_uri(
                                                rt, rt->endpoints.metadata));
    }

    return ngx_http_oidc_provider_fetch(rt, NGX_HTTP_OIDC_FETCH_DISCOVERY,
                                        &p->config_url);
}


static ngx_int_t
ngx_http_oidc_provider_fetch(ngx_http_oidc_provider_rt_t *rt,
    ngx_http_oidc_fetch_e stage, ngx_str_t *url)
{
    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &rt->log, 0,
                   "oidc: provider \"%V\": fetching %s \"%V\"",
                   &rt->provider->name,
                   stage == NGX_HTTP_OIDC_FETCH_JWKS ? "JWKS" : "discovery",
                   url);

    rt->stage = stage;
    rt->fetch = ngx_http_oidc_http_get(rt->provider, url, &rt->log,
                                       ngx_http_oidc_provider_fetch_done, rt);

    if (rt->fetch == NULL) {
        ngx_http_oidc_provider_failure(rt, "fetch not started");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_oidc_provider_fetch_done(ngx_http_oidc_http_response_t *resp,
    void *data)
{
    ngx_http_oidc_provider_rt_t *rt = data;

    const char  *what;

    rt->fetch = NULL;

    what = (rt->stage == NGX_HTTP_OIDC_FETCH_JWKS) ? "JWKS"
                                                   : "discovery document";

    if (resp->status == 0) {
        ngx_http_oidc_provider_failure(rt, "%s not fetched: %s", what,
                                       resp->error);
        return;
    }

    if (resp->status != NGX_HTTP_OK) {
        ngx_http_oidc_provider_failure(rt, "%s not fetched: status %ui",
                                       what, resp->status);
        return;
    }

    if (rt->stage == NGX_HTTP_OIDC_FETCH_DISCOVERY) {
        ngx_http_oidc_provider_discovery_done(rt, resp);
        return;
    }

    ngx_http_oidc_provider_jwks_done(rt, resp);
}


static void
ngx_http_oidc_provider_discovery_done(ngx_http_oidc_provider_rt_t *rt,
    ngx_http_oidc_http_response_t *resp)
{
    json_t      *json;
    u_char       err[NGX_MAX_CONF_ERRSTR];

    json = ngx_http_oidc_provider_discovery(rt, &resp->body, err,
                                            sizeof(err));
    if (json == NULL) {
        ngx_http_oidc_provider_failure(rt, "%s", err);
        return;
    }

    ngx_http_oidc_provider_drop_pending(rt);

    rt->pending = json;
    rt->pending_raw.data = ngx_alloc(resp->body.len, &rt->log);

    if (rt->pending_raw.data == NULL) {
        ngx_http_oidc_provider_failure(rt, "out of memory");
        return;
    }

    rt->pending_raw.len = resp->body.len;
    ngx_memcpy(rt->pending_raw.data, resp->body.data, resp->body.len);

    (void) ngx_http_oidc_provider_fetch(rt, NGX_HTTP_OIDC_FETCH_JWKS,
                                        ngx_http_oidc_provider_jwks_uri(rt,
                                                                       json));
}


/* a discovery document we can use, or NULL and why in "buf" */

static json_t *
ngx_http_oidc_provider_discovery(ngx_http_oidc_provider_rt_t *rt,
    ngx_str_t *body, u_char *buf, size_t size)
{
    size_t                     len;
    u_char                    *last, text[128];
    json_t                    *json;
    ngx_str_t                  s;
    ngx_oidc_err_t             err;
    ngx_http_oidc_url_t        u;
    ngx_http_oidc_provider_t  *p;

    p = rt->provider;
    last = buf + size - 1;

    ngx_memzero(&err, sizeof(ngx_oidc_err_t));

    json = ngx_oidc_json_parse(body->data, body->len, p->max_response_size,
                               &err);
    if (json == NULL) {
        *ngx_snprintf(buf, last - buf, "invalid discovery document: %s%s%s",
                      err.reason ? err.reason : "unknown error",
                      err.detail[0] ? ", " : "", err.detail) = '\0';
        return NULL;
    }

    s.data = (u_char *) ngx_oidc_json_get_string(json, "issuer", &s.len);

    if (s.data == NULL || s.len != p->issuer.len
        || ngx_strncmp(s.data, p->issuer.data, s.len) != 0)
    {
        len = ngx_http_oidc_provider_printable(text, sizeof(text),
                                               (char *) s.data, s.len) - text;
        *ngx_snprintf(buf, last - buf, "discovery document's \"issuer\" "
                      "\"%*s\" does not match \"%V\"", len, text, &p->issuer)
            = '\0';
        goto failed;
    }

    if (p->endpoints->jwks_uri.len) {
        /* the configured one wins: the document need not have one */
        return json;
    }

    s.data = (u_char *) ngx_oidc_json_get_string(json, "jwks_uri", &s.len);

    /*
     * Keys come from where the provider's own document says, another
     * origin included (some providers serve them from another host), but
     * never over http when the document itself came over https.
     */
    if (s.data == NULL || ngx_http_oidc_http_parse_url(&s, &u) != NGX_OK
        || (!u.https
            && (!p->allow_insecure_http
                || ngx_strncasecmp(p->config_url.data, (u_char *) "https://",
                                   8) == 0)))
    {
        *ngx_snprintf(buf, last - buf, "discovery document has no usable "
                      "https \"jwks_uri\"") = '\0';
        goto failed;
    }

    return json;

failed:

    json_decref(json);

    return NULL;
}


static void
ngx_http_oidc_provider_jwks_done(ngx_http_oidc_provider_rt_t *rt,
    ngx_http_oidc_http_response_t *resp)
{
    time_t                     ttl;
    size_t                     skipped;
    ngx_uint_t                 generation;
    ngx_oidc_err_t             err;
    ngx_oidc_jwks_t           *jwks;
    ngx_http_oidc_provider_t  *p;

    p = rt->provider;
    skipped = 0;

    ngx_memzero(&err, sizeof(ngx_oidc_err_t));

    jwks = ngx_oidc_jwks_parse(resp->body.data, resp->body.len,
                               p->max_response_size, &skipped, &err);
    if (jwks == NULL) {
        ngx_http_oidc_provider_failure(rt, "JWKS refused: %s%s%s",
                                       err.reason ? err.reason : "unusable",
                                       err.detail[0] ? ", " : "", err.detail);
        return;
    }

    if (skipped) {
        ngx_log_error(NGX_LOG_WARN, &rt->log, 0,
                      "oidc: provider \"%V\": %uz JWKS keys skipped "
                      "(last: %s%s%s)", &p->name, skipped,
                      err.reason ? err.reason : "unusable",
                      err.detail[0] ? ", " : "", err.detail);
    }

    ttl = resp->max_age;

    if (ttl < 0) {
        ttl = p->jwks_refresh;

    } else {
        ttl = ngx_max(ttl, NGX_HTTP_OIDC_TTL_MIN);
        ttl = ngx_min(ttl, NGX_HTTP_OIDC_TTL_MAX);
    }

    generation = ngx_http_oidc_provider_store(rt, &resp->body, ttl);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, &rt->log, 0,
                   "oidc: provider \"%V\": %uz keys fetched, generation %ui, "
                   "refresh in %T", &p->name, ngx_oidc_jwks_count(jwks),
                   generation, ttl);

    ngx_http_oidc_provider_install(rt, jwks, rt->pending, generation);

    rt->pending = NULL;
    ngx_http_oidc_provider_drop_pending(rt);

    ngx_post_event(&rt->wake, &ngx_posted_events);
    ngx_http_oidc_provider_arm(rt);
}


/* the good documents go to shared memory; the lease ends */

static ngx_uint_t
ngx_http_oidc_provider_store(ngx_http_oidc_provider_rt_t *rt, ngx_str_t *jwks,
    time_t ttl)
{
    ngx_uint_t                    generation, failures;
    ngx_http_oidc_provider_sh_t  *sh;

    sh = rt->sh;

    ngx_shmtx_lock(&rt->shpool->mutex);

    if (rt->pending_raw.data) {
        sh->discovery = ngx_http_oidc_provider_shm_copy(rt->shpool,
                                                        sh->discovery,
                                                        rt->pending_raw.data,
                                                        rt->pending_raw.len);
        sh->discovery_len = sh->discovery ? rt->pending_raw.len : 0;
    }

    sh->jwks = ngx_http_oidc_provider_shm_copy(rt->shpool, sh->jwks,
                                               jwks->data, jwks->len);
    sh->jwks_len = sh->jwks ? jwks->len : 0;

    generation = ++sh->generation;
    failures = sh->failures;

    sh->refresh = ngx_time() + ttl;
    sh->retry = 0;
    sh->failures = 0;
    sh->lease = 0;

    ngx_shmtx_unlock(&rt->shpool->mutex);

    ngx_http_oidc_metric_inc(rt->provider, NGX_HTTP_OIDC_M_KEYS_REFRESHED);
    ngx_http_oidc_log_failure_reset(rt->provider, NGX_HTTP_OIDC_EP_DISCOVERY);

    if (failures) {
        ngx_log_error(NGX_LOG_NOTICE, &rt->log, 0,
                      "oidc: provider \"%V\": keys fetched after %ui failed "
                      "attempts", &rt->provider->name, failures);
    }

    return generation;
}


static u_char *
ngx_http_oidc_provider_shm_copy(ngx_slab_pool_t *shpool, u_char *old,
    u_char *data, size_t len)
{
    u_char  *p;

    /* the old copy goes first: room for the new one */
    if (old) {
        ngx_slab_free_locked(shpool, old);
    }

    /* on failure (logged by the slab allocator) workers keep their keys */
    p = ngx_slab_alloc_locked(shpool, len ? len : 1);

    if (p) {
        ngx_memcpy(p, data, len);
    }

    return p;
}


static void
ngx_http_oidc_provider_failure(ngx_http_oidc_provider_rt_t *rt,
    const char *fmt, ...)
{
    time_t                        backoff, cap;
    u_char                       *p;
    va_list                       args;
    ngx_uint_t                    failures;
    ngx_http_oidc_provider_sh_t  *sh;
    u_char                        msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    ngx_http_oidc_provider_drop_pending(rt);

    sh = rt->sh;

    ngx_shmtx_lock(&rt->shpool->mutex);

    failures = ++sh->failures;

    cap = rt->jwks ? NGX_HTTP_OIDC_BACKOFF_WARM : NGX_HTTP_OIDC_BACKOFF_COLD;

    backoff = (failures < 8) ? (time_t) 1 << (failures - 1) : 128;
    backoff = ngx_min(backoff, cap);

    sh->retry = ngx_time() + backoff;

    if (sh->pid == ngx_pid) {
        sh->lease = 0;
    }

    ngx_shmtx_unlock(&rt->shpool->mutex);

    ngx_http_oidc_metric_inc(rt->provider,
                             NGX_HTTP_OIDC_M_KEYS_REFRESH_FAILED);

    /*
     * the first failure after keys were fetched, then once per interval,
     * whichever worker meets it; discovery and JWKS share the pace
     */
    ngx_http_oidc_log_failure(&rt->log, rt->provider,
                              NGX_HTTP_OIDC_EP_DISCOVERY,
                              "%s; %s", msg,
                              rt->jwks ? "the last good keys stay in use"
                                       : "no usable keys yet");

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &rt->log, 0,
                   "oidc: provider \"%V\": failure %ui, next try in %Ts",
                   &rt->provider->name, failures, backoff);

    ngx_post_event(&rt->wake, &ngx_posted_events);
    ngx_http_oidc_provider_arm(rt);
}


static void
ngx_http_oidc_provider_release(ngx_http_oidc_provider_rt_t *rt)
{
    ngx_shmtx_lock(&rt->shpool->mutex);

    if (rt->sh->pid == ngx_pid) {
        rt->sh->lease = 0;
    }

    ngx_shmtx_unlock(&rt->shpool->mutex);
}


/* imports what another worker stored, once per generation */

static void
ngx_http_oidc_provider_sync(ngx_http_oidc_provider_rt_t *rt)
{
    json_t           *json;
    ngx_str_t         discovery, jwks_raw;
    ngx_uint_t        generation;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *jwks;

    if (rt->sh->generation == rt->generation) {
        return;
    }

    if (ngx_http_oidc_provider_copy_out(rt, &discovery, &jwks_raw,
                                        &generation)
        != NGX_OK)
    {
        return;
    }

    ngx_memzero(&err, sizeof(ngx_oidc_err_t));

    jwks = NULL;
    json = NULL;

    if (jwks_raw.data) {
        jwks = ngx_oidc_jwks_parse(jwks_raw.data, jwks_raw.len, jwks_raw.len,
                                   NULL, &err);
        ngx_free(jwks_raw.data);

        if (jwks == NULL) {
            ngx_log_error(NGX_LOG_ALERT, &rt->log, 0,
                          "oidc: provider \"%V\": shared keys unusable: %s",
                          &rt->provider->name,
                          err.reason ? err.reason : "unknown error");
        }
    }

    if (discovery.data) {
        json = ngx_oidc_json_parse(discovery.data, discovery.len,
                                   discovery.len, &err);
        ngx_free(discovery.data);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &rt->log, 0,
                   "oidc: provider \"%V\": keys of generation %ui imported",
                   &rt->provider->name, generation);

    ngx_http_oidc_provider_install(rt, jwks, json, generation);
}


static ngx_int_t
ngx_http_oidc_provider_copy_out(ngx_http_oidc_provider_rt_t *rt,
    ngx_str_t *discovery, ngx_str_t *jwks, ngx_uint_t *generation)
{
    ngx_int_t                     rc;
    ngx_http_oidc_provider_sh_t  *sh;

    sh = rt->sh;
    rc = NGX_OK;

    ngx_str_null(discovery);
    ngx_str_null(jwks);

    ngx_shmtx_lock(&rt->shpool->mutex);

    *generation = sh->generation;

    if (sh->discovery) {
        discovery->data = ngx_alloc(sh->discovery_len, &rt->log);

        if (discovery->data) {
            discovery->len = sh->discovery_len;
            ngx_memcpy(discovery->data, sh->discovery, discovery->len);

        } else {
            rc = NGX_ERROR;
        }
    }

    if (sh->jwks && rc == NGX_OK) {
        jwks->data = ngx_alloc(sh->jwks_len, &rt->log);

        if (jwks->data) {
            jwks->len = sh->jwks_len;
            ngx_memcpy(jwks->data, sh->jwks, jwks->len);

        } else {
            rc = NGX_ERROR;
        }
    }

    ngx_shmtx_unlock(&rt->shpool->mutex);

    if (rc != NGX_OK && discovery->data) {
        ngx_free(discovery->data);
    }

    return rc;
}


/* NULL keeps the current one: a worker never drops a good key set */

static void
ngx_http_oidc_provider_install(ngx_http_oidc_provider_rt_t *rt,
    ngx_oidc_jwks_t *jwks, json_t *discovery, ngx_uint_t generation)
{
    if (jwks) {
        if (rt->jwks) {
            ngx_oidc_jwks_free(rt->jwks);
        }

        rt->jwks = jwks;
    }

    if (discovery) {
        if (rt->endpoints.metadata) {
            json_decref(rt->endpoints.metadata);
        }

        ngx_http_oidc_provider_set_endpoints(&rt->endpoints, discovery);
        ngx_http_oidc_provider_merge(rt);
    }

    rt->generation = generation;
}


static void
ngx_http_oidc_provider_set_endpoints(ngx_http_oidc_endpoints_t *ep,
    json_t *json)
{
    ngx_uint_t   i;
    ngx_str_t   *s;
    const char  *v;

    ep->metadata = json;

    for (i = 0; i < sizeof(ngx_http_oidc_provider_fields)
                    / sizeof(ngx_http_oidc_provider_fields[0]); i++)
    {
        s = (ngx_str_t *) ((u_char *) ep
                           + ngx_http_oidc_provider_fields[i].offset);

        /* strings stay valid as long as the document */
        v = ngx_oidc_json_get_string(json,
                                     ngx_http_oidc_provider_fields[i].name,
                                     &s->len);

        if (v == NULL) {
            ngx_str_set(s, "");
            continue;
        }

        s->data = (u_char *) v;
    }
}


/* what discovery says, each endpoint configured in the block winning */

static void
ngx_http_oidc_provider_merge(ngx_http_oidc_provider_rt_t *rt)
{
    size_t       offset;
    ngx_str_t   *conf;
    ngx_uint_t   i;

    rt->merged = rt->endpoints;

    for (i = 0; i < sizeof(ngx_http_oidc_provider_fields)
                    / sizeof(ngx_http_oidc_provider_fields[0]); i++)
    {
        offset = ngx_http_oidc_provider_fields[i].offset;
        conf = (ngx_str_t *) ((u_char *) rt->provider->endpoints + offset);

        if (conf->len) {
            *(ngx_str_t *) ((u_char *) &rt->merged + offset) = *conf;
        }
    }
}


/* the configured "jwks_uri", else the document's (checked usable) */

static ngx_str_t *
ngx_http_oidc_provider_jwks_uri(ngx_http_oidc_provider_rt_t *rt,
    json_t *discovery)
{
    const char  *s;

    if (rt->provider->endpoints->jwks_uri.len || discovery == NULL) {
        return &rt->provider->endpoints->jwks_uri;
    }

    s = ngx_oidc_json_get_string(discovery, "jwks_uri",
                                 &rt->pending_uri.len);
    rt->pending_uri.data = (u_char *) s;

    return &rt->pending_uri;
}


static void
ngx_http_oidc_provider_drop_pending(ngx_http_oidc_provider_rt_t *rt)
{
    if (rt->pending) {
        json_decref(rt->pending);
        rt->pending = NULL;
    }

    if (rt->pending_raw.data) {
        ngx_free(rt->pending_raw.data);
        ngx_str_null(&rt->pending_raw);
    }
}


/* a value from the provider, fit for a log line */

static u_char *
ngx_http_oidc_provider_printable(u_char *buf, size_t size, const char *s,
    size_t len)
{
    u_char  *p, *last;

    p = buf;
    last = buf + size;

    if (s == NULL) {
        return ngx_cpymem(buf, "(none)", ngx_min(size, 6));
    }

    while (len-- && p < last) {
        *p++ = (*s >= 0x20 && *s < 0x7f) ? (u_char) *s : '?';
        s++;
    }

    return p;
}
