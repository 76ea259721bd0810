
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


#define NGX_HTTP_OIDC_CACHE_SIZE     (10 * 1024 * 1024)
#define NGX_HTTP_OIDC_SESSIONS_SIZE  (10 * 1024 * 1024)


static void *ngx_http_oidc_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_oidc_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_oidc_session_stores(ngx_conf_t *cf,
    ngx_http_oidc_main_conf_t *omcf);
static void *ngx_http_oidc_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_oidc_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_oidc_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_oidc_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_oidc_init_process(ngx_cycle_t *cycle);
static void ngx_http_oidc_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_oidc_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oidc_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oidc_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oidc_token_cache_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oidc_session_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_http_oidc_access_handler(ngx_http_request_t *r);


static ngx_command_t  ngx_http_oidc_commands[] = {

    { ngx_string("oidc_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_oidc_provider_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oidc_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_oidc_redis_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oidc_token_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_oidc_token_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oidc_session_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_oidc_session_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oidc_metrics"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_oidc_main_conf_t, metrics),
      NULL },

    { ngx_string("oidc_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_oidc_status_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_oidc_claim_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_oidc_claim_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_oidc"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oidc_auth,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_oidc_realm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oidc_loc_conf_t, realm),
      NULL },

    { ngx_string("auth_oidc_require_scope"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oidc_loc_conf_t, scopes),
      NULL },

    { ngx_string("auth_oidc_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oidc_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_oidc_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_oidc_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_oidc_smart"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_oidc_smart_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_oidc_token_check"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oidc_token_check_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oidc_loc_conf_t, token_check),
      ngx_http_oidc_token_checks },

    { ngx_string("auth_oidc_client_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oidc_client_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_oidc_token_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oidc_loc_conf_t, token_cache),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_oidc_module_ctx = {
    ngx_http_oidc_preconfiguration,        /* preconfiguration */
    ngx_http_oidc_postconfiguration,       /* postconfiguration */

    ngx_http_oidc_create_main_conf,        /* create main configuration */
    ngx_http_oidc_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_oidc_create_loc_conf,         /* create location configuration */
    ngx_http_oidc_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_oidc_module = {
    NGX_MODULE_V1,
    &ngx_http_oidc_module_ctx,             /* module context */
    ngx_http_oidc_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_oidc_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_oidc_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_oidc_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&omcf->providers, cf->pool, 2,
                       sizeof(ngx_http_oidc_provider_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&omcf->claim_vars, cf->pool, 4,
                       sizeof(ngx_http_oidc_claim_var_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&omcf->header_keys, cf->pool, 4, sizeof(u_char *))
        != NGX_OK)
    {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     omcf->token_cache = NULL;
     */

    omcf->token_cache_max_ttl = NGX_CONF_UNSET;
    omcf->metrics = NGX_CONF_UNSET;

    return omcf;
}


static char *
ngx_http_oidc_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_oidc_main_conf_t *omcf = conf;

    ngx_str_t  name = ngx_string("oidc_token_cache");
    ngx_str_t  sessions = ngx_string("oidc_sessions");

    ngx_conf_init_value(omcf->token_cache_max_ttl, 3600);
    ngx_conf_init_value(omcf->metrics, 1);

    if (omcf->providers.nelts > 0
        && ngx_http_oidc_metrics_conf(cf, omcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_oidc_session_stores(cf, omcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (omcf->sessions == NULL && omcf->providers.nelts > 0) {
        omcf->sessions = ngx_http_oidc_shm_add(cf, &sessions,
                                               NGX_HTTP_OIDC_SESSIONS_SIZE);
        if (omcf->sessions == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (omcf->token_cache == NULL && omcf->providers.nelts > 0) {
        omcf->token_cache = ngx_http_oidc_shm_add(cf, &name,
                                                    NGX_HTTP_OIDC_CACHE_SIZE);
        if (omcf->token_cache == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* session_store NAME: an oidc_redis block (NGINX Plus: a keyval_zone) */

static ngx_int_t
ngx_http_oidc_session_stores(ngx_conf_t *cf, ngx_http_oidc_main_conf_t *omcf)
{
    ngx_uint_t                  i;
    ngx_http_oidc_provider_t  **pp, *p;

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        p = pp[i];

        if (p->session_store.len == 0) {
            continue;
        }

        p->redis = ngx_http_oidc_redis_find(omcf, &p->session_store);

        if (p->redis == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "no oidc_redis \"%V\" for \"session_store\" of "
                          "oidc_provider \"%V\" in %s:%ui",
                          &p->session_store, &p->name, p->file, p->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void *
ngx_http_oidc_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_oidc_loc_conf_t  *olcf;

    olcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_loc_conf_t));
    if (olcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     olcf->provider = NULL;
     *     olcf->provider_name = { 0, NULL };
     *     olcf->realm = { 0, NULL };
     *     olcf->file = NULL;
     */

    olcf->enable = NGX_CONF_UNSET;
    olcf->scopes = NGX_CONF_UNSET_PTR;
    olcf->require = NGX_CONF_UNSET_PTR;
    olcf->require_status = NGX_CONF_UNSET_UINT;
    olcf->headers = NGX_CONF_UNSET_PTR;
    olcf->token_cache = NGX_CONF_UNSET;
    olcf->smart = NGX_CONF_UNSET_PTR;
    olcf->token_check = NGX_CONF_UNSET_UINT;
    olcf->client_token = NGX_CONF_UNSET_PTR;

    return olcf;
}


static char *
ngx_http_oidc_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_oidc_loc_conf_t *prev = parent;
    ngx_http_oidc_loc_conf_t *conf = child;

    ngx_http_oidc_main_conf_t  *omcf;

    if (conf->enable == NGX_CONF_UNSET) {
        conf->enable = prev->enable;
        conf->provider_name = prev->provider_name;
        conf->file = prev->file;
        conf->line = prev->line;
    }

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->realm, prev->realm, "");
    ngx_conf_merge_ptr_value(conf->scopes, prev->scopes, NULL);
    ngx_conf_merge_ptr_value(conf->require, prev->require, NULL);
    ngx_conf_merge_uint_value(conf->require_status, prev->require_status,
                              NGX_HTTP_FORBIDDEN);
    ngx_conf_merge_ptr_value(conf->headers, prev->headers, NULL);
    ngx_conf_merge_value(conf->token_cache, prev->token_cache, 1);
    ngx_conf_merge_ptr_value(conf->client_token, prev->client_token, NULL);

    if (ngx_http_oidc_smart_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_http_oidc_introspect_merge(prev, conf);

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    /* providers are all known here: merging runs after the http block */
    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oidc_module);

    conf->provider = ngx_http_oidc_provider_find(omcf, &conf->provider_name);

    if (conf->provider == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no oidc_provider \"%V\" for \"auth_oidc\" in %s:%ui",
                      &conf->provider_name, conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->realm.len == 0) {
        conf->realm = conf->provider->name;
    }

    if (ngx_http_oidc_provider_check(cf, conf->provider,
                                     NGX_HTTP_OIDC_NEED_AUTH, "auth_oidc",
                                     conf->file, conf->line)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_oidc_introspect_check_conf(cf, conf);
}


static ngx_int_t
ngx_http_oidc_preconfiguration(ngx_conf_t *cf)
{
    /* pure units use a copy of ngx_str_t's layout */
    if (sizeof(ngx_oidc_str_t) != sizeof(ngx_str_t)
        || offsetof(ngx_oidc_str_t, len) != offsetof(ngx_str_t, len)
        || offsetof(ngx_oidc_str_t, data) != offsetof(ngx_str_t, data))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "ngx_oidc_str_t does not match ngx_str_t");
        return NGX_ERROR;
    }

    if (ngx_http_oidc_smart_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_oidc_client_token_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_add_variables(cf);
}


static ngx_int_t
ngx_http_oidc_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_oidc_access_handler;

    return ngx_http_oidc_client_token_init(cf);
}


static ngx_int_t
ngx_http_oidc_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_http_oidc_provider_t  **pp;
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_oidc_module);

    if (omcf == NULL) {
        return NGX_OK;
    }

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (ngx_http_oidc_provider_init_process(cycle, pp[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_oidc_client_token_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_redis_init_process(cycle, omcf);
}


static void
ngx_http_oidc_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_http_oidc_provider_t  **pp;
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_oidc_module);

    if (omcf == NULL) {
        return;
    }

    pp = omcf->providers.elts;

    ngx_http_oidc_client_token_exit_process(cycle);

    for (i = 0; i < omcf->providers.nelts; i++) {
        ngx_http_oidc_provider_exit_process(cycle, pp[i]);
    }

    ngx_http_oidc_redis_exit_process(cycle, omcf);

    ngx_http_oidc_worker_cache_free();
}


static char *
ngx_http_oidc_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_loc_conf_t *olcf = conf;

    ngx_str_t  *value;

    if (olcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        olcf->enable = 0;
        return NGX_CONF_OK;
    }

    olcf->enable = 1;
    olcf->provider_name = value[1];
    olcf->file = cf->conf_file->file.name.data;
    olcf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_http_oidc_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_loc_conf_t *olcf = conf;

    ngx_int_t                          status;
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    if (olcf->require != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    olcf->require = ngx_array_create(cf->pool, cf->args->nelts,
                                     sizeof(ngx_http_complex_value_t));
    if (olcf->require == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "error=", 6) == 0) {
            status = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (status != NGX_HTTP_UNAUTHORIZED
                && status != NGX_HTTP_FORBIDDEN)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\": "
                                   "only error=401 and error=403 are allowed",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            olcf->require_status = status;
            continue;
        }

        cv = ngx_array_push(olcf->require);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (olcf->require->nelts == 0) {
        return "requires at least one value";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_oidc_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_loc_conf_t *olcf = conf;

    u_char                            *p, **key;
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_oidc_header_t            *h;
    ngx_http_oidc_main_conf_t         *omcf;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (olcf->headers == NGX_CONF_UNSET_PTR) {
        olcf->headers = ngx_array_create(cf->pool, 4,
                                         sizeof(ngx_http_oidc_header_t));
        if (olcf->headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 0; i < value[1].len; i++) {
        if (!(ngx_http_oidc_isalnum(value[1].data[i])
              || value[1].data[i] == '-'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid header name \"%V\": letters, digits "
                               "and \"-\" only", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    h = ngx_array_push(olcf->headers);
    if (h == NULL) {
        return NGX_CONF_ERROR;
    }

    h->name = value[1];

    h->norm.len = value[1].len;
    h->norm.data = ngx_pnalloc(cf->pool, value[1].len);
    if (h->norm.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = h->norm.data;

    for (i = 0; i < value[1].len; i++) {
        *p++ = ngx_tolower(value[1].data[i]);
    }

    /* the headers this module adds point here: how they are told apart */
    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oidc_module);

    key = ngx_array_push(&omcf->header_keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    *key = h->norm.data;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &h->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_oidc_token_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_main_conf_t *omcf = conf;

    ssize_t     size;
    ngx_str_t  *value, name = ngx_string("oidc_token_cache");

    if (omcf->token_cache != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid token cache size \"%V\", "
                           "at least %uz bytes", &value[1],
                           8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "max_ttl=", 8) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        value[2].data += 8;
        value[2].len -= 8;

        omcf->token_cache_max_ttl = ngx_parse_time(&value[2], 1);

        if (omcf->token_cache_max_ttl == (time_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid max_ttl \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    omcf->token_cache = ngx_http_oidc_shm_add(cf, &name, size);
    if (omcf->token_cache == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* oidc_session_zone SIZE; sessions and pending logins of every provider */

static char *
ngx_http_oidc_session_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_main_conf_t *omcf = conf;

    ssize_t     size;
    ngx_str_t  *value, name = ngx_string("oidc_sessions");

    if (omcf->sessions != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session zone size \"%V\", "
                           "at least %uz bytes", &value[1],
                           8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    omcf->sessions = ngx_http_oidc_shm_add(cf, &name, size);
    if (omcf->sessions == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
