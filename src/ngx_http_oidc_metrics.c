
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


/*
 * Counters in the "oidc_metrics" zone: one slot per provider name, made
 * by the master when a configuration loads and never freed, so that a
 * reload finds its counters again (nginx reuses a zone of the same name
 * and size).  Workers only add to them, without a lock.
 */


#define NGX_HTTP_OIDC_METRICS_SIZE    (256 * 1024)
#define NGX_HTTP_OIDC_FAILURE_LOG     60        /* s, per provider endpoint */


typedef struct {
    ngx_queue_t                   slots;        /* ngx_http_oidc_metrics_t */
    ngx_http_oidc_metrics_t       redis;        /* the store, provider-less */
} ngx_http_oidc_metrics_sh_t;


typedef struct {
    ngx_http_oidc_metrics_sh_t   *sh;
    ngx_slab_pool_t              *shpool;
    ngx_http_oidc_main_conf_t    *omcf;
} ngx_http_oidc_metrics_ctx_t;


/*
 * A status request: the live sessions of each provider, counted in the
 * zone at once, or asked of Redis; the page is made when all are in.
 */
typedef struct ngx_http_oidc_status_s  ngx_http_oidc_status_t;

typedef struct {
    ngx_http_oidc_status_t       *status;
    ngx_int_t                     n;            /* -1: not known */
    void                         *cmd;          /* in flight */
} ngx_http_oidc_status_live_t;

struct ngx_http_oidc_status_s {
    ngx_http_request_t           *request;
    ngx_http_oidc_metrics_ctx_t  *ctx;
    ngx_http_oidc_status_live_t  *live;         /* by provider */
    ngx_uint_t                    pending;
    ngx_uint_t                    prometheus;
    ngx_event_t                   wake;
};


/* a counter's Prometheus family and labels, and where it goes in JSON */
typedef struct {
    const char                   *family;
    const char                   *labels;
    const char                   *group;
    const char                   *sub;          /* NULL: none */
    const char                   *key;          /* also a refusal's reason */
} ngx_http_oidc_metric_desc_t;


static ngx_int_t ngx_http_oidc_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_oidc_metrics_t *ngx_http_oidc_metrics_slot(
    ngx_http_oidc_metrics_ctx_t *ctx, ngx_str_t *name);
static ngx_http_oidc_metric_calls_t *ngx_http_oidc_metrics_calls(
    ngx_http_oidc_provider_t *p, ngx_http_oidc_endpoint_e endpoint);
static void ngx_http_oidc_metric_calls_add(ngx_http_oidc_metric_calls_t *c,
    ngx_msec_t ms, ngx_uint_t failed);
static ngx_int_t ngx_http_oidc_status_json_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_status_prometheus_handler(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_status_handler(ngx_http_request_t *r,
    ngx_uint_t prometheus);
static ngx_int_t ngx_http_oidc_status_send(ngx_http_oidc_status_t *st);
static void ngx_http_oidc_status_counted(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_oidc_status_wake(ngx_event_t *ev);
static void ngx_http_oidc_status_cleanup(void *data);
static ngx_int_t ngx_http_oidc_status_json(ngx_http_request_t *r,
    ngx_http_oidc_metrics_ctx_t *ctx, ngx_http_oidc_status_live_t *live,
    ngx_str_t *out);
static json_t *ngx_http_oidc_status_json_calls(
    ngx_http_oidc_metric_calls_t *c);
static ngx_int_t ngx_http_oidc_status_prometheus(ngx_http_request_t *r,
    ngx_http_oidc_metrics_ctx_t *ctx, ngx_http_oidc_status_live_t *live,
    ngx_str_t *out);
static u_char *ngx_http_oidc_status_calls_text(u_char *p, u_char *last,
    const char *family, ngx_str_t *labels, ngx_http_oidc_metric_calls_t *c);
static ngx_int_t ngx_http_oidc_status_live(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p);
static size_t ngx_http_oidc_label_escape(u_char *dst, ngx_str_t *src);


static const ngx_http_oidc_metric_desc_t  ngx_http_oidc_metric_descs[] = {

#define ngx_http_oidc_login(labels, sub, key)                                 \
    { "oidc_logins_total", labels, "logins", sub, key }

    ngx_http_oidc_login("result=\"started\"", NULL, "started"),
    ngx_http_oidc_login("result=\"completed\"", NULL, "completed"),
    ngx_http_oidc_login("result=\"failed\",reason=\"request\"", "failed",
                        "request"),
    ngx_http_oidc_login("result=\"failed\",reason=\"state\"", "failed",
                        "state"),
    ngx_http_oidc_login("result=\"failed\",reason=\"provider\"", "failed",
                        "provider"),
    ngx_http_oidc_login("result=\"failed\",reason=\"token\"", "failed",
                        "token"),
    ngx_http_oidc_login("result=\"failed\",reason=\"id_token\"", "failed",
                        "id_token"),
    ngx_http_oidc_login("result=\"failed\",reason=\"userinfo\"", "failed",
                        "userinfo"),
    ngx_http_oidc_login("result=\"failed\",reason=\"session\"", "failed",
                        "session"),

#define ngx_http_oidc_token(labels, sub, key)                                 \
    { "oidc_tokens_total", labels, "tokens", sub, key }

    ngx_http_oidc_token("result=\"verified\"", NULL, "verified"),
    ngx_http_oidc_token("result=\"refused\",reason=\"malformed\"", "refused",
                        "malformed"),
    ngx_http_oidc_token("result=\"refused\",reason=\"kid\"", "refused",
                        "kid"),
    ngx_http_oidc_token("result=\"refused\",reason=\"signature\"", "refused",
                        "signature"),
    ngx_http_oidc_token("result=\"refused\",reason=\"expired\"", "refused",
                        "expired"),
    ngx_http_oidc_token("result=\"refused\",reason=\"claims\"", "refused",
                        "claims"),
    ngx_http_oidc_token("result=\"refused\",reason=\"inactive\"", "refused",
                        "inactive"),
    ngx_http_oidc_token("result=\"refused\",reason=\"scope\"", "refused",
                        "scope"),
    ngx_http_oidc_token("result=\"refused\",reason=\"require\"", "refused",
                        "require"),
    ngx_http_oidc_token("result=\"refused\",reason=\"smart\"", "refused",
                        "smart"),

#define ngx_http_oidc_cache(labels, sub, key)                                 \
    { "oidc_cache_total", labels, "cache", sub, key }

    ngx_http_oidc_cache("cache=\"tokens\",result=\"hit\"", "tokens", "hit"),
    ngx_http_oidc_cache("cache=\"tokens\",result=\"miss\"", "tokens", "miss"),
    ngx_http_oidc_cache("cache=\"introspection\",result=\"hit\"",
                        "introspection", "hit"),
    ngx_http_oidc_cache("cache=\"introspection\",result=\"miss\"",
                        "introspection", "miss"),
    ngx_http_oidc_cache("cache=\"sessions\",result=\"hit\"", "sessions",
                        "hit"),
    ngx_http_oidc_cache("cache=\"sessions\",result=\"miss\"", "sessions",
                        "miss"),

    { "oidc_session_renewals_total", "result=\"renewed\"", "sessions", NULL,
      "renewed" },
    { "oidc_session_renewals_total", "result=\"failed\"", "sessions", NULL,
      "renewal_failed" },

    { "oidc_logouts_total", "channel=\"rp\",result=\"ok\"", "logouts", NULL,
      "rp" },
    { "oidc_logouts_total", "channel=\"backchannel\",result=\"ok\"",
      "logouts", NULL, "backchannel" },
    { "oidc_logouts_total", "channel=\"frontchannel\",result=\"ok\"",
      "logouts", NULL, "frontchannel" },
    { "oidc_logouts_total", "channel=\"backchannel\",result=\"refused\"",
      "logouts", "refused", "backchannel" },
    { "oidc_logouts_total", "channel=\"frontchannel\",result=\"refused\"",
      "logouts", "refused", "frontchannel" },

    { "oidc_key_refreshes_total", "result=\"ok\"", "keys", NULL,
      "refreshed" },
    { "oidc_key_refreshes_total", "result=\"failed\"", "keys", NULL,
      "refresh_failed" },

#undef ngx_http_oidc_login
#undef ngx_http_oidc_token
#undef ngx_http_oidc_cache
};


static const char  *ngx_http_oidc_endpoint_names[] = {
    "discovery", "jwks", "token", "userinfo", "revocation", "introspection",
    "other", "redis"
};


/* upper bounds in ms; the last bucket is +Inf */
static const ngx_msec_t  ngx_http_oidc_bucket_ms[] = {
    5, 10, 25, 50, 100, 250, 500, 1000
};


char *
ngx_http_oidc_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 1 || ngx_strcmp(value[1].data, "json") == 0) {
        clcf->handler = ngx_http_oidc_status_json_handler;

    } else if (ngx_strcmp(value[1].data, "prometheus") == 0) {
        clcf->handler = ngx_http_oidc_status_prometheus_handler;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\": json or prometheus",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* http level, once the providers are known (init_main_conf) */

ngx_int_t
ngx_http_oidc_metrics_conf(ngx_conf_t *cf, ngx_http_oidc_main_conf_t *omcf)
{
    ngx_str_t                     name = ngx_string("oidc_metrics");
    ngx_str_t                     request_id = ngx_string("request_id");
    ngx_shm_zone_t               *zone;
    ngx_http_oidc_metrics_ctx_t  *ctx;

    if (sizeof(ngx_http_oidc_metric_descs)
        != NGX_HTTP_OIDC_M_N * sizeof(ngx_http_oidc_metric_desc_t))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc: the metric table does not match its enum");
        return NGX_ERROR;
    }

    omcf->request_id = ngx_http_get_variable_index(cf, &request_id);
    if (omcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_metrics_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->omcf = omcf;

    /* always there: it also paces the failure lines */
    zone = ngx_http_oidc_zone_add(cf, &name, NGX_HTTP_OIDC_METRICS_SIZE,
                                  ngx_http_oidc_metrics_init_zone, ctx);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    omcf->metrics_zone = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_oidc_metrics_ctx_t  *octx = data;

    ngx_uint_t                     i, fresh;
    ngx_http_oidc_metrics_t       *slot;
    ngx_http_oidc_provider_t     **pp;
    ngx_http_oidc_metrics_ctx_t   *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload: the counters go on */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;

    } else {
        ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
        ctx->sh = ngx_http_oidc_zone_sh(shm_zone,
                                        sizeof(ngx_http_oidc_metrics_sh_t),
                                        &fresh);
        if (ctx->sh == NULL) {
            return NGX_ERROR;
        }

        if (fresh) {
            ngx_queue_init(&ctx->sh->slots);
        }
    }

    pp = ctx->omcf->providers.elts;

    for (i = 0; i < ctx->omcf->providers.nelts; i++) {
        slot = ngx_http_oidc_metrics_slot(ctx, &pp[i]->name);

        if (slot == NULL) {
            slot = ngx_slab_calloc(ctx->shpool,
                                   sizeof(ngx_http_oidc_metrics_t));
            if (slot == NULL) {
                return NGX_ERROR;
            }

            slot->name.data = ngx_slab_alloc(ctx->shpool, pp[i]->name.len);
            if (slot->name.data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(slot->name.data, pp[i]->name.data, pp[i]->name.len);
            slot->name.len = pp[i]->name.len;

            /*
             * the old cycle's workers may walk the list meanwhile
             * (failure lines): the slot is complete before it is linked
             */
            slot->queue.next = &ctx->sh->slots;
            slot->queue.prev = ctx->sh->slots.prev;
            ngx_memory_barrier();
            ctx->sh->slots.prev->next = &slot->queue;
            ctx->sh->slots.prev = &slot->queue;
        }

        pp[i]->metrics = ctx->omcf->metrics ? slot : NULL;
    }

    return NGX_OK;
}


static ngx_http_oidc_metrics_t *
ngx_http_oidc_metrics_slot(ngx_http_oidc_metrics_ctx_t *ctx, ngx_str_t *name)
{
    ngx_queue_t              *q;
    ngx_http_oidc_metrics_t  *slot;

    for (q = ngx_queue_head(&ctx->sh->slots);
         q != ngx_queue_sentinel(&ctx->sh->slots);
         q = ngx_queue_next(q))
    {
        slot = ngx_queue_data(q, ngx_http_oidc_metrics_t, queue);

        if (slot->name.len == name->len
            && ngx_strncmp(slot->name.data, name->data, name->len) == 0)
        {
            return slot;
        }
    }

    return NULL;
}


void
ngx_http_oidc_metric_call(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_endpoint_e endpoint, ngx_msec_t ms, ngx_uint_t failed)
{
    if (p != NULL && p->metrics != NULL) {
        ngx_http_oidc_metric_calls_add(&p->metrics->calls[endpoint], ms,
                                       failed);
    }
}


void
ngx_http_oidc_metric_redis(ngx_msec_t ms, ngx_uint_t failed)
{
    ngx_http_oidc_main_conf_t    *omcf;
    ngx_http_oidc_metrics_ctx_t  *ctx;

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_oidc_module);

    if (omcf == NULL || !omcf->metrics || omcf->metrics_zone == NULL) {
        return;
    }

    ctx = omcf->metrics_zone->data;

    ngx_http_oidc_metric_calls_add(
        &ctx->sh->redis.calls[NGX_HTTP_OIDC_EP_REDIS], ms, failed);
}


static void
ngx_http_oidc_metric_calls_add(ngx_http_oidc_metric_calls_t *c,
    ngx_msec_t ms, ngx_uint_t failed)
{
    ngx_uint_t  i;

    (void) ngx_atomic_fetch_add(&c->calls, 1);
    (void) ngx_atomic_fetch_add(&c->ms, ms);

    if (failed) {
        (void) ngx_atomic_fetch_add(&c->errors, 1);
    }

    for (i = 0; i < NGX_HTTP_OIDC_METRIC_BUCKETS - 1; i++) {
        if (ms <= ngx_http_oidc_bucket_ms[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&c->buckets[i], 1);
}


void
ngx_http_oidc_log_failure(ngx_log_t *log, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_endpoint_e endpoint, const char *fmt, ...)
{
    u_char                        *last;
    va_list                        args;
    uint32_t                       crc;
    ngx_atomic_uint_t              logged, now;
    ngx_http_oidc_metric_calls_t  *c;
    u_char                         msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    c = ngx_http_oidc_metrics_calls(p, endpoint);

    if (c != NULL) {
        /*
         * another failure (another line) is logged at once, except for
         * the keys: discovery and JWKS failures are one streak
         */
        crc = (endpoint == NGX_HTTP_OIDC_EP_DISCOVERY)
              ? 0 : ngx_crc32_short(msg, last - msg);
        now = (ngx_atomic_uint_t) ngx_time();
        logged = c->logged;

        /* one worker wins the interval; the others say it at debug level */
        if ((c->what == crc && now - logged < NGX_HTTP_OIDC_FAILURE_LOG)
            || !ngx_atomic_cmp_set(&c->logged, logged, now))
        {
            ngx_log_debug5(NGX_LOG_DEBUG_HTTP, log, 0,
                           "oidc: %s%*s: %*s (again)",
                           p ? "provider " : "redis",
                           p ? p->name.len : 0,
                           p ? p->name.data : (u_char *) "",
                           (size_t) (last - msg), msg);
            return;
        }

        c->what = crc;
    }

    if (p == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oidc: redis: %*s (at most one line per %ds)",
                      last - msg, msg, NGX_HTTP_OIDC_FAILURE_LOG);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "oidc: provider \"%V\": %*s (at most one line per %ds)",
                  &p->name, last - msg, msg, NGX_HTTP_OIDC_FAILURE_LOG);
}


void
ngx_http_oidc_log_failure_reset(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_endpoint_e endpoint)
{
    ngx_http_oidc_metric_calls_t  *c;

    c = ngx_http_oidc_metrics_calls(p, endpoint);

    if (c != NULL && c->logged) {
        c->logged = 0;
        c->what = 0;
    }
}


/* the slot of a provider's endpoint, or the store's (p NULL) */

static ngx_http_oidc_metric_calls_t *
ngx_http_oidc_metrics_calls(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_endpoint_e endpoint)
{
    ngx_http_oidc_metrics_t      *slot;
    ngx_http_oidc_main_conf_t    *omcf;
    ngx_http_oidc_metrics_ctx_t  *ctx;

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_oidc_module);

    if (omcf == NULL || omcf->metrics_zone == NULL) {
        return NULL;
    }

    ctx = omcf->metrics_zone->data;

    if (ctx->sh == NULL) {
        return NULL;
    }

    if (p == NULL) {
        return &ctx->sh->redis.calls[NGX_HTTP_OIDC_EP_REDIS];
    }

    slot = ngx_http_oidc_metrics_slot(ctx, &p->name);

    return slot ? &slot->calls[endpoint] : NULL;
}


void
ngx_http_oidc_refuse(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_metric_e which, const char *fmt, ...)
{
    u_char                     *last;
    va_list                     args;
    ngx_str_t                   none = ngx_string("-");
    ngx_str_t                   id;
    ngx_http_variable_value_t  *vv;
    ngx_http_oidc_main_conf_t  *omcf;
    u_char                      msg[NGX_MAX_ERROR_STR];

    ngx_http_oidc_metric_inc(p, which);

    if (r->connection->log->log_level < NGX_LOG_INFO) {
        return;
    }

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    id = none;

    if (omcf->metrics_zone != NULL) {
        vv = ngx_http_get_indexed_variable(r, omcf->request_id);

        if (vv != NULL && !vv->not_found) {
            id.len = vv->len;
            id.data = vv->data;
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oidc: refused (%s): %*s, provider \"%V\", request_id %V",
                  ngx_http_oidc_metric_descs[which].key, last - msg, msg,
                  p ? &p->name : &none, &id);
}


static ngx_int_t
ngx_http_oidc_status_json_handler(ngx_http_request_t *r)
{
    return ngx_http_oidc_status_handler(r, 0);
}


static ngx_int_t
ngx_http_oidc_status_prometheus_handler(ngx_http_request_t *r)
{
    return ngx_http_oidc_status_handler(r, 1);
}


static ngx_int_t
ngx_http_oidc_status_handler(ngx_http_request_t *r, ngx_uint_t prometheus)
{
    ngx_int_t                     rc;
    ngx_str_t                     format;
    ngx_uint_t                    i;
    ngx_pool_cleanup_t           *cln;
    ngx_http_oidc_status_t       *st;
    ngx_http_oidc_provider_t    **pp;
    ngx_http_oidc_main_conf_t    *omcf;
    ngx_http_oidc_status_live_t  *live;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            prometheus = 1;

        } else if (format.len == 4
                   && ngx_strncmp(format.data, "json", 4) == 0)
        {
            prometheus = 0;

        } else {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->metrics_zone == NULL) {
        /* no oidc_provider at all: nothing to count */
        return NGX_HTTP_NOT_FOUND;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_oidc_status_t));
    live = ngx_pcalloc(r->pool, (omcf->providers.nelts + 1)
                                * sizeof(ngx_http_oidc_status_live_t));
    if (cln == NULL || live == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = cln->data;
    ngx_memzero(st, sizeof(ngx_http_oidc_status_t));

    st->request = r;
    st->ctx = omcf->metrics_zone->data;
    st->live = live;
    st->prometheus = prometheus;
    st->wake.handler = ngx_http_oidc_status_wake;
    st->wake.data = st;
    st->wake.log = r->connection->log;

    cln->handler = ngx_http_oidc_status_cleanup;

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        live[i].status = st;

        if (pp[i]->redis == NULL) {
            live[i].n = ngx_http_oidc_status_live(r, pp[i]);
            continue;
        }

        /* Redis down: not known, and the page is not held up for it */
        live[i].n = -1;

        rc = ngx_http_oidc_redis_live(pp[i]->redis,
                                      NGX_HTTP_OIDC_REDIS_LIVE_COUNT,
                                      pp[i], NULL, 0,
                                      ngx_http_oidc_status_counted, &live[i],
                                      &live[i].cmd);
        if (rc == NGX_OK) {
            st->pending++;
        }
    }

    /* send() finalizes the request; the content phase finalizes it again */
    r->main->count++;

    if (st->pending) {
        /* at most the Redis timeout: a late command fails */
        return NGX_DONE;
    }

    return ngx_http_oidc_status_send(st);
}


static ngx_int_t
ngx_http_oidc_status_send(ngx_http_oidc_status_t *st)
{
    ngx_int_t            rc;
    ngx_str_t            out;
    ngx_http_request_t  *r;

    r = st->request;

    rc = st->prometheus
         ? ngx_http_oidc_status_prometheus(r, st->ctx, st->live, &out)
         : ngx_http_oidc_status_json(r, st->ctx, st->live, &out);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    return ngx_http_oidc_send(r, NGX_HTTP_OK,
                              st->prometheus
                              ? "text/plain; version=0.0.4; charset=utf-8"
                              : "application/json",
                              &out);
}


/* ZCOUNT's reply; an error leaves the count not known */

static void
ngx_http_oidc_status_counted(void *data, ngx_int_t rc, ngx_str_t *value)
{
    ngx_http_oidc_status_live_t *live = data;

    ngx_int_t                n;
    ngx_http_oidc_status_t  *st;

    st = live->status;
    live->cmd = NULL;

    if (rc == NGX_OK) {
        n = ngx_atoi(value->data, value->len);
        live->n = (n == NGX_ERROR) ? -1 : n;
    }

    if (--st->pending == 0) {
        /* not from inside hiredis */
        ngx_post_event(&st->wake, &ngx_posted_events);
    }
}


static void
ngx_http_oidc_status_wake(ngx_event_t *ev)
{
    ngx_connection_t        *c;
    ngx_http_oidc_status_t  *st;

    st = ev->data;
    c = st->request->connection;

    (void) ngx_http_oidc_status_send(st);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_oidc_status_cleanup(void *data)
{
    ngx_http_oidc_status_t *st = data;

    ngx_uint_t  i;

    if (st->live == NULL) {
        return;
    }

    for (i = 0; st->live[i].status != NULL; i++) {
        if (st->live[i].cmd != NULL) {
            ngx_http_oidc_redis_detach(st->live[i].cmd);
            st->live[i].cmd = NULL;
        }
    }

    if (st->wake.posted) {
        ngx_delete_posted_event(&st->wake);
    }
}


/*
 * {"metrics": true, "providers": {"NAME": {"logins": {...}, "tokens":
 * {...}, "cache": {...}, "sessions": {"live": N, ...}, "logouts": {...},
 * "keys": {...}, "calls": {"token": {"calls": N, "errors": N, "ms": N,
 * "buckets": {"5": N, ..., "+Inf": N}}, ...}}}, "redis": {...}}
 */

static ngx_int_t
ngx_http_oidc_status_json(ngx_http_request_t *r,
    ngx_http_oidc_metrics_ctx_t *ctx, ngx_http_oidc_status_live_t *live,
    ngx_str_t *out)
{
    char                               *text;
    u_char                             *name;
    json_t                             *root, *providers, *prov, *group, *sub;
    json_t                             *calls, *v;
    ngx_uint_t                          i, j;
    ngx_http_oidc_metrics_t            *m;
    ngx_http_oidc_provider_t          **pp;
    const ngx_http_oidc_metric_desc_t  *d;

    root = json_object();
    providers = json_object();

    if (root == NULL || providers == NULL
        || json_object_set_new(root, "metrics",
                               json_boolean(ctx->omcf->metrics)) != 0
        || json_object_set_new(root, "providers", providers) != 0)
    {
        goto failed;
    }

    pp = ctx->omcf->providers.elts;

    for (i = 0; i < ctx->omcf->providers.nelts; i++) {
        m = ngx_http_oidc_metrics_slot(ctx, &pp[i]->name);
        if (m == NULL) {
            continue;
        }

        name = ngx_pnalloc(r->pool, pp[i]->name.len + 1);
        if (name == NULL) {
            goto failed;
        }

        *ngx_cpymem(name, pp[i]->name.data, pp[i]->name.len) = '\0';

        prov = json_object();
        if (json_object_set_new(providers, (char *) name, prov) != 0) {
            goto failed;
        }

        for (j = 0; j < NGX_HTTP_OIDC_M_N; j++) {
            d = &ngx_http_oidc_metric_descs[j];

            group = json_object_get(prov, d->group);

            if (group == NULL) {
                group = json_object();
                if (json_object_set_new(prov, d->group, group) != 0) {
                    goto failed;
                }
            }

            if (d->sub) {
                sub = json_object_get(group, d->sub);

                if (sub == NULL) {
                    sub = json_object();
                    if (json_object_set_new(group, d->sub, sub) != 0) {
                        goto failed;
                    }
                }

                group = sub;
            }

            if (json_object_set_new(group, d->key,
                                    json_integer(m->counters[j]))
                != 0)
            {
                goto failed;
            }
        }

        /* Redis not answering: null, not a wrong 0 */
        if (json_object_set_new(json_object_get(prov, "sessions"), "live",
                                live[i].n < 0 ? json_null()
                                : json_integer(live[i].n))
            != 0)
        {
            goto failed;
        }

        calls = json_object();
        if (json_object_set_new(prov, "calls", calls) != 0) {
            goto failed;
        }

        for (j = 0; j < NGX_HTTP_OIDC_EP_REDIS; j++) {
            v = ngx_http_oidc_status_json_calls(&m->calls[j]);

            if (json_object_set_new(calls, ngx_http_oidc_endpoint_names[j], v)
                != 0)
            {
                goto failed;
            }
        }
    }

    v = ngx_http_oidc_status_json_calls(
                                &ctx->sh->redis.calls[NGX_HTTP_OIDC_EP_REDIS]);

    if (json_object_set_new(root, "redis", v) != 0) {
        goto failed;
    }

    text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);

    if (text == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_strlen(text) + 1;
    out->data = ngx_pnalloc(r->pool, out->len);

    if (out->data != NULL) {
        ngx_memcpy(out->data, text, out->len - 1);
        out->data[out->len - 1] = '\n';
    }

    free(text);

    return out->data ? NGX_OK : NGX_ERROR;

failed:

    json_decref(root);

    return NGX_ERROR;
}


static json_t *
ngx_http_oidc_status_json_calls(ngx_http_oidc_metric_calls_t *c)
{
    json_t      *o, *b;
    ngx_uint_t   i;
    char         le[NGX_INT_T_LEN + 1];

    b = json_object();
    o = json_pack("{s:I, s:I, s:I, s:o}",
                  "calls", (json_int_t) c->calls,
                  "errors", (json_int_t) c->errors,
                  "ms", (json_int_t) c->ms,
                  "buckets", b);
    if (o == NULL) {
        return NULL;
    }

    for (i = 0; i < NGX_HTTP_OIDC_METRIC_BUCKETS; i++) {
        if (i < NGX_HTTP_OIDC_METRIC_BUCKETS - 1) {
            *ngx_sprintf((u_char *) le, "%M", ngx_http_oidc_bucket_ms[i])
                = '\0';

        } else {
            ngx_cpystrn((u_char *) le, (u_char *) "+Inf", sizeof(le));
        }

        /* not cumulative here; Prometheus' buckets are */
        if (json_object_set_new(b, le, json_integer(c->buckets[i])) != 0) {
            json_decref(o);
            return NULL;
        }
    }

    return o;
}


/*
 * The text exposition format 0.0.4: each family once, its samples
 * together, every provider's among them.
 */

static ngx_int_t
ngx_http_oidc_status_prometheus(ngx_http_request_t *r,
    ngx_http_oidc_metrics_ctx_t *ctx, ngx_http_oidc_status_live_t *live,
    ngx_str_t *out)
{
    size_t                              size, len;
    u_char                             *p, *last;
    ngx_str_t                          *labels, l;
    ngx_uint_t                          i, j, k, nprov;
    ngx_http_oidc_metrics_t           **slots;
    ngx_http_oidc_provider_t          **pp;
    const ngx_http_oidc_metric_desc_t  *d;

    pp = ctx->omcf->providers.elts;
    nprov = ctx->omcf->providers.nelts;

    slots = ngx_pcalloc(r->pool, (nprov + 1) * sizeof(void *));
    labels = ngx_pcalloc(r->pool, (nprov + 1) * sizeof(ngx_str_t));
    if (slots == NULL || labels == NULL) {
        return NGX_ERROR;
    }

    /* provider="NAME" with the name escaped, once per provider */
    for (i = 0; i < nprov; i++) {
        slots[i] = ngx_http_oidc_metrics_slot(ctx, &pp[i]->name);

        labels[i].data = ngx_pnalloc(r->pool, sizeof("provider=\"\"")
                                              + 2 * pp[i]->name.len);
        if (labels[i].data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(labels[i].data, "provider=\"", 10);
        p += ngx_http_oidc_label_escape(p, &pp[i]->name);
        *p++ = '"';
        labels[i].len = p - labels[i].data;
    }

    /* a line is at most 256 bytes plus the provider label */
    len = 256;

    for (i = 0; i < nprov; i++) {
        len = ngx_max(len, 256 + labels[i].len);
    }

    size = 8192 + len * (nprov + 1)
                  * (NGX_HTTP_OIDC_M_N + 1
                     + NGX_HTTP_OIDC_EP_N * (NGX_HTTP_OIDC_METRIC_BUCKETS + 4));

    out->data = ngx_pnalloc(r->pool, size);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;
    last = out->data + size;

    for (j = 0; j < NGX_HTTP_OIDC_M_N; j++) {
        d = &ngx_http_oidc_metric_descs[j];

        if (j == 0 || ngx_strcmp(d->family,
                                 ngx_http_oidc_metric_descs[j - 1].family)
                      != 0)
        {
            p = ngx_slprintf(p, last, "# TYPE %s counter\n", d->family);

            /* every sample of the family, provider by provider */
            for (i = 0; i < nprov; i++) {
                if (slots[i] == NULL) {
                    continue;
                }

                for (k = j; k < NGX_HTTP_OIDC_M_N; k++) {
                    if (ngx_strcmp(ngx_http_oidc_metric_descs[k].family,
                                   d->family)
                        != 0)
                    {
                        break;
                    }

                    p = ngx_slprintf(p, last, "%s{%V,%s} %uA\n", d->family,
                                     &labels[i],
                                     ngx_http_oidc_metric_descs[k].labels,
                                     slots[i]->counters[k]);
                }
            }
        }
    }

    p = ngx_slprintf(p, last, "# TYPE oidc_sessions_live gauge\n");

    for (i = 0; i < nprov; i++) {
        if (live[i].n >= 0) {
            p = ngx_slprintf(p, last, "oidc_sessions_live{%V} %i\n",
                             &labels[i], live[i].n);
        }
    }

    p = ngx_slprintf(p, last,
                     "# TYPE oidc_provider_requests_total counter\n");

    for (i = 0; i < nprov; i++) {
        for (k = 0; slots[i] && k < NGX_HTTP_OIDC_EP_REDIS; k++) {
            p = ngx_slprintf(p, last,
                             "oidc_provider_requests_total{%V,"
                             "endpoint=\"%s\",result=\"ok\"} %uA\n"
                             "oidc_provider_requests_total{%V,"
                             "endpoint=\"%s\",result=\"error\"} %uA\n",
                             &labels[i], ngx_http_oidc_endpoint_names[k],
                             slots[i]->calls[k].calls
                             - slots[i]->calls[k].errors,
                             &labels[i], ngx_http_oidc_endpoint_names[k],
                             slots[i]->calls[k].errors);
        }
    }

    p = ngx_slprintf(p, last, "# TYPE oidc_provider_request_duration_seconds "
                     "histogram\n");

    for (i = 0; i < nprov; i++) {
        for (k = 0; slots[i] && k < NGX_HTTP_OIDC_EP_REDIS; k++) {
            l.data = ngx_pnalloc(r->pool, labels[i].len + 64);
            if (l.data == NULL) {
                return NGX_ERROR;
            }

            l.len = ngx_sprintf(l.data, "%V,endpoint=\"%s\"", &labels[i],
                                ngx_http_oidc_endpoint_names[k])
                    - l.data;

            p = ngx_http_oidc_status_calls_text(p, last,
                                   "oidc_provider_request_duration_seconds",
                                   &l, &slots[i]->calls[k]);
        }
    }

    p = ngx_slprintf(p, last,
                     "# TYPE oidc_redis_requests_total counter\n"
                     "oidc_redis_requests_total{result=\"ok\"} %uA\n"
                     "oidc_redis_requests_total{result=\"error\"} %uA\n"
                     "# TYPE oidc_redis_request_duration_seconds "
                     "histogram\n",
                     ctx->sh->redis.calls[NGX_HTTP_OIDC_EP_REDIS].calls
                     - ctx->sh->redis.calls[NGX_HTTP_OIDC_EP_REDIS].errors,
                     ctx->sh->redis.calls[NGX_HTTP_OIDC_EP_REDIS].errors);

    l.len = 0;
    l.data = NULL;

    p = ngx_http_oidc_status_calls_text(p, last,
                                "oidc_redis_request_duration_seconds", &l,
                                &ctx->sh->redis.calls[NGX_HTTP_OIDC_EP_REDIS]);

    if (p == last) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: status page truncated");
        return NGX_ERROR;
    }

    out->len = p - out->data;

    return NGX_OK;
}


/* a histogram's buckets (cumulative), sum in seconds, and count */

static u_char *
ngx_http_oidc_status_calls_text(u_char *p, u_char *last, const char *family,
    ngx_str_t *labels, ngx_http_oidc_metric_calls_t *c)
{
    ngx_uint_t         i;
    ngx_msec_t         ms;
    ngx_atomic_uint_t  total, count;
    const char        *sep;

    sep = labels->len ? "," : "";
    total = 0;

    /* read once: the buckets must not outgrow the count */
    count = c->calls;

    for (i = 0; i < NGX_HTTP_OIDC_METRIC_BUCKETS; i++) {
        total += c->buckets[i];

        if (i < NGX_HTTP_OIDC_METRIC_BUCKETS - 1) {
            ms = ngx_http_oidc_bucket_ms[i];
            p = ngx_slprintf(p, last, "%s_bucket{%V%sle=\"%M.%03M\"} %uA\n",
                             family, labels, sep, ms / 1000, ms % 1000,
                             ngx_min(total, count));

        } else {
            p = ngx_slprintf(p, last, "%s_bucket{%V%sle=\"+Inf\"} %uA\n",
                             family, labels, sep, count);
        }
    }

    ms = c->ms;

    if (labels->len) {
        p = ngx_slprintf(p, last, "%s_sum{%V} %M.%03M\n%s_count{%V} %uA\n",
                         family, labels, ms / 1000, ms % 1000,
                         family, labels, count);

    } else {
        p = ngx_slprintf(p, last, "%s_sum %M.%03M\n%s_count %uA\n",
                         family, ms / 1000, ms % 1000, family, count);
    }

    return p;
}


/* the provider's live sessions in the embedded store ("s:NAME:...") */

static ngx_int_t
ngx_http_oidc_status_live(ngx_http_request_t *r, ngx_http_oidc_provider_t *p)
{
    u_char                     *s;
    ngx_str_t                   prefix;
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return 0;
    }

    prefix.len = p->name.len + 3;
    prefix.data = ngx_pnalloc(r->pool, prefix.len);
    if (prefix.data == NULL) {
        return -1;
    }

    s = ngx_cpymem(prefix.data, "s:", 2);
    s = ngx_cpymem(s, p->name.data, p->name.len);
    *s = ':';

    return (ngx_int_t) ngx_http_oidc_shm_count(omcf->sessions, &prefix);
}


/* a label value: '\', '"' and a newline escaped (the text format's rule) */

static size_t
ngx_http_oidc_label_escape(u_char *dst, ngx_str_t *src)
{
    u_char      *p;
    ngx_uint_t   i;

    p = dst;

    for (i = 0; i < src->len; i++) {
        switch (src->data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = src->data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = src->data[i];
        }
    }

    return p - dst;
}
