
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"
#include "ngx_oidc_tokens.h"


/*
 * The gateway's own access token, from the client credentials grant.
 * One cache entry per provider and grant parameters in the token cache
 * zone, "<renew at>:<expires at>:<token>"; one renewal at a time across
 * workers: a lock entry inserted only if absent, which expires by itself
 * should its worker die.  The grant is the worker's, not a request's: it
 * outlives the request that started it.  Requests without a valid token
 * wait on their own timer, looking at the zone (as session renewals do).
 */


#define NGX_HTTP_OIDC_CT_POLL         50        /* a waiter looks, ms */
#define NGX_HTTP_OIDC_CT_RETRY        1000      /* warm: busy or failed, ms */
#define NGX_HTTP_OIDC_CT_TTL          300       /* no "expires_in", s */
#define NGX_HTTP_OIDC_CT_LOG          60        /* 502 reminders, s */


typedef struct ngx_http_oidc_client_token_rt_s  ngx_http_oidc_client_token_rt_t;


/* one token: a provider and its grant's parameters */
typedef struct {
    ngx_http_oidc_provider_t         *provider;
    ngx_str_t                         provider_name;
    ngx_array_t                      *params;   /* ngx_oidc_param_t */
    ngx_str_t                         key;      /* in the zone */
    ngx_str_t                         lock;
    ngx_shm_zone_t                   *zone;
    ngx_http_oidc_client_token_rt_t  *rt;       /* this worker's */
    u_char                           *file;     /* of the directive */
    ngx_uint_t                        line;
    unsigned                          warm:1;   /* renewed by a timer */
} ngx_http_oidc_client_token_t;


/* per worker */
struct ngx_http_oidc_client_token_rt_s {
    ngx_http_oidc_client_token_t     *ct;
    ngx_log_t                         log;
    ngx_event_t                       timer;    /* warm renewals */
    ngx_http_oidc_http_t             *fetch;    /* our grant in flight */
    time_t                            logged;   /* the last 502 line */
};


/* a request's token, or its wait for one; in the request's pool */
typedef struct {
    ngx_http_request_t               *request;
    ngx_http_oidc_client_token_t     *ct;
    ngx_str_t                         token;    /* empty: none yet */
    ngx_event_t                       poll;
    ngx_msec_t                        deadline;
    unsigned                          waiting:1;
    unsigned                          waited:1;
} ngx_http_oidc_client_token_req_t;


typedef struct {
    ngx_str_t                         token;
    time_t                            renew;
    time_t                            expires;
} ngx_http_oidc_client_token_value_t;


static ngx_int_t ngx_http_oidc_client_token_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_client_token_none(ngx_http_request_t *r,
    ngx_http_oidc_client_token_req_t *cr);
static ngx_http_oidc_client_token_req_t *ngx_http_oidc_client_token_req(
    ngx_http_request_t *r);
static ngx_http_oidc_client_token_req_t *ngx_http_oidc_client_token_find(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_client_token_wait(ngx_http_request_t *r,
    ngx_http_oidc_client_token_req_t *cr);
static void ngx_http_oidc_client_token_poll(ngx_event_t *ev);
static void ngx_http_oidc_client_token_req_cleanup(void *data);
static ngx_int_t ngx_http_oidc_client_token_read(
    ngx_http_oidc_client_token_t *ct, ngx_pool_t *pool,
    ngx_http_oidc_client_token_value_t *v);
static ngx_int_t ngx_http_oidc_client_token_start(
    ngx_http_oidc_client_token_rt_t *rt);
static ngx_http_oidc_http_t *ngx_http_oidc_client_token_grant(
    ngx_http_oidc_client_token_rt_t *rt, ngx_str_t *endpoint);
static void ngx_http_oidc_client_token_done(
    ngx_http_oidc_http_response_t *resp, void *data);
static ngx_int_t ngx_http_oidc_client_token_store(
    ngx_http_oidc_client_token_rt_t *rt, ngx_http_oidc_http_response_t *resp,
    time_t *renew);
static ngx_int_t ngx_http_oidc_client_token_cache(
    ngx_http_oidc_client_token_rt_t *rt, ngx_oidc_tokens_t *t, time_t *renew);
static void ngx_http_oidc_client_token_timer(ngx_event_t *ev);
static void ngx_http_oidc_client_token_arm(
    ngx_http_oidc_client_token_rt_t *rt, ngx_msec_t delay);
static ngx_int_t ngx_http_oidc_client_token_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_oidc_client_token_t *ngx_http_oidc_client_token_create(
    ngx_conf_t *cf);
static ngx_int_t ngx_http_oidc_client_token_key(ngx_conf_t *cf,
    ngx_http_oidc_client_token_t *ct);


static ngx_str_t  ngx_http_oidc_client_token_name =
    ngx_string("oidc_client_token");


/*
 * auth_oidc_client_token PROVIDER [scope=..] [audience=..] [resource=..]
 * (any NAME=VALUE: a parameter of the grant) | off
 */

char *
ngx_http_oidc_client_token_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_loc_conf_t *olcf = conf;

    u_char                        *eq;
    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_oidc_param_t              *param;
    ngx_http_oidc_client_token_t  *ct;

    if (olcf->client_token != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no parameters with \"off\"";
        }

        olcf->client_token = NULL;
        return NGX_CONF_OK;
    }

    ct = ngx_http_oidc_client_token_create(cf);
    if (ct == NULL) {
        return NGX_CONF_ERROR;
    }

    ct->provider_name = value[1];

    for (i = 2; i < cf->args->nelts; i++) {
        eq = (u_char *) ngx_strchr(value[i].data, '=');

        if (eq == NULL || eq == value[i].data
            || ngx_strncmp(value[i].data, "grant_type=", 11) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"auth_oidc_client_token\": invalid parameter "
                               "\"%V\" (NAME=VALUE, e.g. scope=, audience=, "
                               "resource=)", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (ct->params == NULL) {
            ct->params = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_oidc_param_t));
            if (ct->params == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        param = ngx_array_push(ct->params);
        if (param == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(param, sizeof(ngx_oidc_param_t));

        param->name.data = value[i].data;
        param->name.len = eq - value[i].data;
        param->value.data = eq + 1;
        param->value.len = value[i].data + value[i].len - (eq + 1);
    }

    olcf->client_token = ct;

    return NGX_CONF_OK;
}


void *
ngx_http_oidc_client_token_add(ngx_conf_t *cf, ngx_http_oidc_provider_t *p)
{
    ngx_http_oidc_client_token_t  *ct;

    ct = ngx_http_oidc_client_token_create(cf);
    if (ct == NULL) {
        return NULL;
    }

    ct->provider = p;
    ct->provider_name = p->name;
    ct->warm = 1;

    return ct;
}


static ngx_http_oidc_client_token_t *
ngx_http_oidc_client_token_create(ngx_conf_t *cf)
{
    ngx_http_oidc_main_conf_t      *omcf;
    ngx_http_oidc_client_token_t   *ct, **ctp;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oidc_module);

    if (omcf->client_tokens.elts == NULL
        && ngx_array_init(&omcf->client_tokens, cf->pool, 2,
                          sizeof(ngx_http_oidc_client_token_t *))
           != NGX_OK)
    {
        return NULL;
    }

    ct = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_client_token_t));
    if (ct == NULL) {
        return NULL;
    }

    ct->file = cf->conf_file->file.name.data;
    ct->line = cf->conf_file->line;

    ctp = ngx_array_push(&omcf->client_tokens);
    if (ctp == NULL) {
        return NULL;
    }

    *ctp = ct;

    return ct;
}


ngx_int_t
ngx_http_oidc_client_token_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_oidc_client_token_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_oidc_client_token_variable;

    return NGX_OK;
}


/* postconfiguration: providers resolved, keys built, the phase handler */

ngx_int_t
ngx_http_oidc_client_token_init(ngx_conf_t *cf)
{
    ngx_uint_t                      i, method;
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_oidc_main_conf_t      *omcf;
    ngx_http_oidc_client_auth_t    *ca;
    ngx_http_oidc_client_token_t  **ctp, *ct;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oidc_module);

    if (omcf->client_tokens.nelts == 0) {
        return NGX_OK;
    }

    ctp = omcf->client_tokens.elts;

    for (i = 0; i < omcf->client_tokens.nelts; i++) {
        ct = ctp[i];

        if (ct->provider == NULL) {
            ct->provider = ngx_http_oidc_provider_find(omcf,
                                                       &ct->provider_name);
        }

        if (ct->provider == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "no oidc_provider \"%V\" for "
                          "\"auth_oidc_client_token\" in %s:%ui",
                          &ct->provider_name, ct->file, ct->line);
            return NGX_ERROR;
        }

        ca = ct->provider->client_auth;
        method = ca->call[NGX_HTTP_OIDC_CALL_CLIENT];

        if (method == 0) {
            method = ca->method;
        }

        if (ct->provider->client_id.len == 0
            || method == NGX_HTTP_OIDC_AUTH_NONE)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "oidc_provider \"%V\" has no \"client_id\" and "
                          "client credentials (a secret or a key), which the "
                          "client credentials grant needs for \"%s\" in "
                          "%s:%ui", &ct->provider_name,
                          ct->warm ? "client_auth" : "auth_oidc_client_token",
                          ct->file, ct->line);
            return NGX_ERROR;
        }

        if (ngx_http_oidc_provider_check(cf, ct->provider,
                                         NGX_HTTP_OIDC_NEED_TOKEN,
                                         ct->warm ? "client_auth"
                                                  : "auth_oidc_client_token",
                                         ct->file, ct->line)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ct->zone = omcf->token_cache;

        if (ngx_http_oidc_client_token_key(cf, ct) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* after access: only authorized requests cause a grant */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_oidc_client_token_handler;

    return NGX_OK;
}


/* "T" NAME "\n" (PARAM "=" VALUE "\n")*: tokens of equal grants shared */

static ngx_int_t
ngx_http_oidc_client_token_key(ngx_conf_t *cf,
    ngx_http_oidc_client_token_t *ct)
{
    u_char            *s;
    size_t             len;
    ngx_uint_t         i;
    ngx_oidc_param_t  *param;

    param = ct->params ? ct->params->elts : NULL;
    len = sizeof("T\n") - 1 + ct->provider->name.len;

    for (i = 0; param && i < ct->params->nelts; i++) {
        len += param[i].name.len + param[i].value.len + 2;
    }

    s = ngx_pnalloc(cf->pool, 2 * len + sizeof("L") - 1);
    if (s == NULL) {
        return NGX_ERROR;
    }

    ct->key.data = s;

    s = ngx_sprintf(s, "T%V\n", &ct->provider->name);

    for (i = 0; param && i < ct->params->nelts; i++) {
        s = ngx_sprintf(s, "%*s=%*s\n", param[i].name.len, param[i].name.data,
                        param[i].value.len, param[i].value.data);
    }

    ct->key.len = s - ct->key.data;

    ct->lock.data = s;
    *s++ = 'L';
    s = ngx_cpymem(s, ct->key.data + 1, ct->key.len - 1);
    ct->lock.len = s - ct->lock.data;

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_client_token_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_http_oidc_main_conf_t        *omcf;
    ngx_http_oidc_client_token_t    **ctp;
    ngx_http_oidc_client_token_rt_t  *rt;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_oidc_module);

    if (omcf == NULL || omcf->client_tokens.nelts == 0) {
        return NGX_OK;
    }

    ctp = omcf->client_tokens.elts;

    for (i = 0; i < omcf->client_tokens.nelts; i++) {
        rt = ngx_pcalloc(cycle->pool,
                         sizeof(ngx_http_oidc_client_token_rt_t));
        if (rt == NULL) {
            return NGX_ERROR;
        }

        rt->ct = ctp[i];
        rt->log = *cycle->log;

        rt->timer.handler = ngx_http_oidc_client_token_timer;
        rt->timer.data = rt;
        rt->timer.log = &rt->log;
        rt->timer.cancelable = 1;

        ctp[i]->rt = rt;

        if (ctp[i]->warm) {
            /* workers need not all ask at once */
            ngx_http_oidc_client_token_arm(rt, ngx_random() % 100);
        }
    }

    return NGX_OK;
}


void
ngx_http_oidc_client_token_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_http_oidc_main_conf_t        *omcf;
    ngx_http_oidc_client_token_t    **ctp;
    ngx_http_oidc_client_token_rt_t  *rt;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_oidc_module);

    if (omcf == NULL || omcf->client_tokens.nelts == 0) {
        return;
    }

    ctp = omcf->client_tokens.elts;

    for (i = 0; i < omcf->client_tokens.nelts; i++) {
        rt = ctp[i]->rt;

        if (rt == NULL) {
            continue;
        }

        ctp[i]->rt = NULL;

        if (rt->timer.timer_set) {
            ngx_del_timer(&rt->timer);
        }

        if (rt->fetch) {
            ngx_http_oidc_http_cancel(rt->fetch);
            rt->fetch = NULL;
            ngx_http_oidc_shm_delete(ctp[i]->zone, &ctp[i]->lock);
        }
    }
}


ngx_int_t
ngx_http_oidc_client_token_current(ngx_http_oidc_provider_t *p,
    ngx_pool_t *pool, ngx_log_t *log, ngx_str_t *token)
{
    ngx_http_oidc_client_token_t        *ct;
    ngx_http_oidc_client_token_value_t   v;

    ct = p->client_token;

    if (ct == NULL || ct->rt == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_oidc_client_token_read(ct, pool, &v) == NGX_OK) {
        if (ngx_time() >= v.renew) {
            (void) ngx_http_oidc_client_token_start(ct->rt);
        }

        *token = v.token;
        return NGX_OK;
    }

    (void) ngx_http_oidc_client_token_start(ct->rt);

    return NGX_DECLINED;
}


/*
 * Precontent phase: the location's token in the request (for the
 * variable), or a wait for one; 502 when none came.
 */

static ngx_int_t
ngx_http_oidc_client_token_handler(ngx_http_request_t *r)
{
    ngx_http_oidc_loc_conf_t            *olcf;
    ngx_http_oidc_client_token_t        *ct;
    ngx_http_oidc_client_token_req_t    *cr;
    ngx_http_oidc_client_token_value_t   v;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);
    ct = olcf->client_token;

    if (ct == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    if (ct->rt == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cr = ngx_http_oidc_client_token_find(r);

    if (cr == NULL) {
        cr = ngx_http_oidc_client_token_req(r);
        if (cr == NULL) {
            return NGX_ERROR;
        }
    }

    if (cr->waiting) {
        return NGX_AGAIN;
    }

    if (cr->ct != ct) {
        /* another location after an internal redirect */
        cr->ct = ct;
        cr->waited = 0;
        ngx_str_null(&cr->token);
    }

    if (cr->token.len) {
        return NGX_DECLINED;
    }

    if (ngx_http_oidc_client_token_read(ct, r->pool, &v) == NGX_OK) {
        if (ngx_time() >= v.renew) {
            /* renewed ahead of expiry; this request does not wait */
            (void) ngx_http_oidc_client_token_start(ct->rt);
        }

        cr->token = v.token;
        return NGX_DECLINED;
    }

    return ngx_http_oidc_client_token_none(r, cr);
}


/* no valid token: a grant and a wait for it, or 502 after the wait */

static ngx_int_t
ngx_http_oidc_client_token_none(ngx_http_request_t *r,
    ngx_http_oidc_client_token_req_t *cr)
{
    time_t                            now;
    ngx_int_t                         rc;
    ngx_str_t                         kid;
    ngx_oidc_jwks_t                  *jwks;
    ngx_http_oidc_client_token_t     *ct;
    ngx_http_oidc_client_token_rt_t  *rt;

    ct = cr->ct;
    rt = ct->rt;
    now = ngx_time();

    if (ngx_http_oidc_provider_endpoints(ct->provider) == NULL) {
        /* the first discovery: wait for it as a login redirect does */
        ngx_str_null(&kid);

        rc = ngx_http_oidc_provider_keys(r, ct->provider, &kid, &jwks);

        if (rc == NGX_AGAIN || rc == NGX_ERROR) {
            return rc;
        }
    }

    if (!cr->waited) {
        rc = ngx_http_oidc_client_token_start(rt);

        if (rc == NGX_OK || rc == NGX_BUSY) {
            return ngx_http_oidc_client_token_wait(r, cr);
        }
    }

    if (now - rt->logged >= NGX_HTTP_OIDC_CT_LOG || !cr->waited) {
        rt->logged = now;

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: no valid client credentials token from "
                      "provider \"%V\", answering 502", &ct->provider->name);
    }

    return NGX_HTTP_BAD_GATEWAY;
}


static ngx_http_oidc_client_token_req_t *
ngx_http_oidc_client_token_req(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t                *cln;
    ngx_http_oidc_client_token_req_t  *cr;

    cln = ngx_pool_cleanup_add(r->pool,
                               sizeof(ngx_http_oidc_client_token_req_t));
    if (cln == NULL) {
        return NULL;
    }

    cr = cln->data;
    ngx_memzero(cr, sizeof(ngx_http_oidc_client_token_req_t));

    cr->request = r;
    cr->poll.handler = ngx_http_oidc_client_token_poll;
    cr->poll.data = cr;
    cr->poll.log = r->connection->log;

    cln->handler = ngx_http_oidc_client_token_req_cleanup;

    return cr;
}


/* the request's state, found among its pool cleanups */

static ngx_http_oidc_client_token_req_t *
ngx_http_oidc_client_token_find(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t                *cln;
    ngx_http_oidc_client_token_req_t  *cr;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {

        if (cln->handler != ngx_http_oidc_client_token_req_cleanup) {
            continue;
        }

        cr = cln->data;

        if (cr->request == r->main) {
            return cr;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_oidc_client_token_wait(ngx_http_request_t *r,
    ngx_http_oidc_client_token_req_t *cr)
{
    ngx_http_oidc_provider_t  *p;

    p = cr->ct->provider;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oidc: waiting for a client credentials token");

    /* a grant ends within both timeouts, and its lock with it */
    cr->waiting = 1;
    cr->deadline = ngx_current_msec + p->connect_timeout + p->read_timeout
                   + 2000;

    ngx_add_timer(&cr->poll, NGX_HTTP_OIDC_CT_POLL);

    return NGX_AGAIN;
}


/* a valid token, or no grant running any more: resumed */

static void
ngx_http_oidc_client_token_poll(ngx_event_t *ev)
{
    ngx_str_t                           value;
    ngx_http_request_t                 *r;
    ngx_http_oidc_client_token_t       *ct;
    ngx_http_oidc_client_token_req_t   *cr;
    ngx_http_oidc_client_token_value_t  v;

    cr = ev->data;
    r = cr->request;
    ct = cr->ct;

    if (ngx_http_oidc_client_token_read(ct, r->pool, &v) != NGX_OK
        && ngx_http_oidc_shm_get(ct->zone, &ct->lock, r->pool, &value)
           == NGX_OK
        && (ngx_msec_int_t) (cr->deadline - ngx_current_msec) > 0)
    {
        ngx_add_timer(ev, NGX_HTTP_OIDC_CT_POLL);
        return;
    }

    cr->waiting = 0;
    cr->waited = 1;

    ngx_http_post_request(r, NULL);
    ngx_http_run_posted_requests(r->connection);
}


static void
ngx_http_oidc_client_token_req_cleanup(void *data)
{
    ngx_http_oidc_client_token_req_t  *cr = data;

    if (cr->poll.timer_set) {
        ngx_del_timer(&cr->poll);
    }
}


/* NGX_OK: a token that has not expired, *v in "pool"; else NGX_DECLINED */

static ngx_int_t
ngx_http_oidc_client_token_read(ngx_http_oidc_client_token_t *ct,
    ngx_pool_t *pool, ngx_http_oidc_client_token_value_t *v)
{
    u_char     *p, *last, *colon;
    ngx_str_t   value;

    if (ngx_http_oidc_shm_get(ct->zone, &ct->key, pool, &value) != NGX_OK) {
        return NGX_DECLINED;
    }

    p = value.data;
    last = value.data + value.len;

    colon = ngx_strlchr(p, last, ':');
    if (colon == NULL) {
        return NGX_DECLINED;
    }

    v->renew = ngx_atotm(p, colon - p);
    p = colon + 1;

    colon = ngx_strlchr(p, last, ':');
    if (colon == NULL) {
        return NGX_DECLINED;
    }

    v->expires = ngx_atotm(p, colon - p);

    v->token.data = colon + 1;
    v->token.len = last - (colon + 1);

    if (v->renew == NGX_ERROR || v->expires == NGX_ERROR
        || v->token.len == 0 || v->expires <= ngx_time())
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The grant, when no worker runs one: NGX_OK (ours runs), NGX_BUSY
 * (another worker's), NGX_ERROR (not started, logged).
 */

static ngx_int_t
ngx_http_oidc_client_token_start(ngx_http_oidc_client_token_rt_t *rt)
{
    time_t                         lease;
    ngx_int_t                      rc;
    ngx_str_t                      pid;
    ngx_http_oidc_provider_t      *p;
    ngx_http_oidc_endpoints_t     *ep;
    ngx_http_oidc_client_token_t  *ct;
    u_char                         buf[NGX_INT_T_LEN];

    if (rt->fetch) {
        return NGX_OK;
    }

    ct = rt->ct;
    p = ct->provider;

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL || ep->token_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, &rt->log, 0,
                      "oidc: provider \"%V\" has no token endpoint%s for the "
                      "client credentials grant", &p->name,
                      ep ? "" : " known yet");
        return NGX_ERROR;
    }

    /* outlives our grant, which ends within both timeouts */
    lease = (time_t) ((p->connect_timeout + p->read_timeout) / 1000) + 2;

    pid.data = buf;
    pid.len = ngx_sprintf(buf, "%P", ngx_pid) - buf;

    rc = ngx_http_oidc_shm_insert(ct->zone, &ct->lock, &pid,
                                  ngx_time() + lease, &rt->log);

    if (rc != NGX_OK) {
        return (rc == NGX_BUSY) ? NGX_BUSY : NGX_ERROR;
    }

    rt->fetch = ngx_http_oidc_client_token_grant(rt, &ep->token_endpoint);

    if (rt->fetch == NULL) {
        ngx_http_oidc_shm_delete(ct->zone, &ct->lock);

        ngx_log_error(NGX_LOG_ERR, &rt->log, 0,
                      "oidc: client credentials grant at provider \"%V\" "
                      "not started", &p->name);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &rt->log, 0,
                   "oidc: client credentials grant at provider \"%V\"",
                   &p->name);

    return NGX_OK;
}


/* grant_type, the location's parameters; the provider adds its own */

static ngx_http_oidc_http_t *
ngx_http_oidc_client_token_grant(ngx_http_oidc_client_token_rt_t *rt,
    ngx_str_t *endpoint)
{
    size_t                         n;
    ngx_uint_t                     i;
    ngx_pool_t                    *pool;
    ngx_oidc_param_t               params[NGX_OIDC_FORM_MAX_PARAMS], *extra;
    ngx_http_oidc_http_t          *http;
    ngx_http_oidc_client_token_t  *ct;

    ct = rt->ct;

    ngx_memzero(params, sizeof(params));

    ngx_http_oidc_ostr_set(params[0].name, "grant_type");
    ngx_http_oidc_ostr_set(params[0].value, "client_credentials");
    n = 1;

    extra = ct->params ? ct->params->elts : NULL;

    for (i = 0; extra && i < ct->params->nelts
                && n < NGX_OIDC_FORM_MAX_PARAMS; i++)
    {
        params[n++] = extra[i];
    }

    /* what the request is built in; the client copies what it sends */
    pool = ngx_create_pool(1024, &rt->log);
    if (pool == NULL) {
        return NULL;
    }

    http = ngx_http_oidc_client_call(pool, &rt->log, ct->provider,
                                     NGX_HTTP_OIDC_CALL_CLIENT, endpoint,
                                     params, n,
                                     ngx_http_oidc_client_token_done, rt);
    ngx_destroy_pool(pool);

    return http;
}


static void
ngx_http_oidc_client_token_done(ngx_http_oidc_http_response_t *resp,
    void *data)
{
    ngx_http_oidc_client_token_rt_t *rt = data;

    time_t                         renew;
    ngx_int_t                      rc;
    ngx_http_oidc_client_token_t  *ct;

    ct = rt->ct;
    rt->fetch = NULL;

    rc = ngx_http_oidc_client_token_store(rt, resp, &renew);

    /* the next grant may start, here or in another worker */
    ngx_http_oidc_shm_delete(ct->zone, &ct->lock);

    if (ct->warm) {
        ngx_http_oidc_client_token_arm(rt, (rc == NGX_OK)
                                     ? (ngx_msec_t) (renew - ngx_time()) * 1000
                                     : NGX_HTTP_OIDC_CT_RETRY);
    }
}


/* the answer checked and cached: NGX_OK, or NGX_ERROR (logged) */

static ngx_int_t
ngx_http_oidc_client_token_store(ngx_http_oidc_client_token_rt_t *rt,
    ngx_http_oidc_http_response_t *resp, time_t *renew)
{
    json_t                    *json;
    ngx_int_t                  rc;
    ngx_oidc_err_t             err;
    ngx_oidc_tokens_t          t;
    ngx_http_oidc_provider_t  *p;

    p = rt->ct->provider;

    if (resp->status == 0) {
        ngx_log_error(NGX_LOG_ERR, &rt->log, 0,
                      "oidc: client credentials grant at provider \"%V\" "
                      "failed: %s; a cached token stays in use until it "
                      "expires", &p->name,
                      resp->error ? resp->error : "unknown error");
        return NGX_ERROR;
    }

    if (resp->status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, &rt->log, 0,
                      "oidc: client credentials grant at provider \"%V\" "
                      "refused: status %ui; a cached token stays in use "
                      "until it expires", &p->name, resp->status);
        return NGX_ERROR;
    }

    ngx_memzero(&err, sizeof(ngx_oidc_err_t));

    json = ngx_oidc_json_parse(resp->body.data, resp->body.len,
                               p->max_response_size, &err);

    if (json == NULL || ngx_oidc_tokens_parse(json, &t, &err) != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, &rt->log, 0,
                      "oidc: client credentials grant at provider \"%V\": "
                      "unusable answer: %s", &p->name,
                      err.reason ? err.reason : "no memory");

        if (json != NULL) {
            json_decref(json);
        }

        return NGX_ERROR;
    }

    rc = ngx_http_oidc_client_token_cache(rt, &t, renew);

    json_decref(json);

    return rc;
}


/* "<renew at>:<expires at>:<token>" until it expires */

static ngx_int_t
ngx_http_oidc_client_token_cache(ngx_http_oidc_client_token_rt_t *rt,
    ngx_oidc_tokens_t *t, time_t *renew)
{
    time_t                     now, ttl, before;
    u_char                    *s;
    ngx_int_t                  rc;
    ngx_str_t                  value;
    ngx_http_oidc_provider_t  *p;

    p = rt->ct->provider;
    now = ngx_time();
    ttl = t->expires_in ? t->expires_in : NGX_HTTP_OIDC_CT_TTL;

    /* renewed "refresh_before" ahead, and at least half-way */
    before = ngx_min(ngx_max(p->refresh_before, 1), ttl / 2);
    *renew = now + ttl - before;

    value.data = ngx_alloc(2 * NGX_TIME_T_LEN + 2 + t->access_token.len,
                           &rt->log);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_sprintf(value.data, "%T:%T:", *renew, now + ttl);
    s = ngx_cpymem(s, t->access_token.data, t->access_token.len);
    value.len = s - value.data;

    rc = ngx_http_oidc_shm_set(rt->ct->zone, &rt->ct->key, &value, now + ttl,
                               &rt->log);

    ngx_explicit_memzero(value.data, value.len);
    ngx_free(value.data);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, &rt->log, 0,
                      "oidc: client credentials token of provider \"%V\" "
                      "not cached (token cache zone full?)", &p->name);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, &rt->log, 0,
                  "oidc: client credentials token from provider \"%V\", "
                  "valid for %Ts", &p->name, ttl);

    return NGX_OK;
}


/* the provider's own token, for Bearer client authentication: kept fresh */

static void
ngx_http_oidc_client_token_timer(ngx_event_t *ev)
{
    time_t                               now;
    ngx_int_t                            rc;
    ngx_pool_t                          *pool;
    ngx_http_oidc_client_token_rt_t     *rt;
    ngx_http_oidc_client_token_value_t   v;

    rt = ev->data;

    if (ngx_exiting) {
        return;
    }

    pool = ngx_create_pool(1024, &rt->log);
    if (pool == NULL) {
        ngx_http_oidc_client_token_arm(rt, NGX_HTTP_OIDC_CT_RETRY);
        return;
    }

    now = ngx_time();

    if (ngx_http_oidc_client_token_read(rt->ct, pool, &v) == NGX_OK
        && now < v.renew)
    {
        ngx_http_oidc_client_token_arm(rt, (ngx_msec_t) (v.renew - now)
                                           * 1000);
        ngx_destroy_pool(pool);
        return;
    }

    ngx_destroy_pool(pool);

    rc = ngx_http_oidc_client_token_start(rt);

    if (rc != NGX_OK) {
        /* another worker renews, or the provider is not known yet */
        ngx_http_oidc_client_token_arm(rt, NGX_HTTP_OIDC_CT_RETRY);
    }

    /* ours: the timer is armed again when the grant ends */
}


static void
ngx_http_oidc_client_token_arm(ngx_http_oidc_client_token_rt_t *rt,
    ngx_msec_t delay)
{
    if (rt->timer.timer_set) {
        ngx_del_timer(&rt->timer);
    }

    /* workers need not all wake at once */
    ngx_add_timer(&rt->timer, delay + ngx_random() % 100);
}


static ngx_int_t
ngx_http_oidc_client_token_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_oidc_client_token_req_t  *cr;

    cr = ngx_http_oidc_client_token_find(r);

    if (cr == NULL || cr->token.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = cr->token.data;
    v->len = cr->token.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
