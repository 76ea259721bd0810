
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_conf.h"
#include "ngx_http_oidc_logout.h"
#include "ngx_http_oidc_http.h"
#include "ngx_http_oidc_client_auth.h"


/*
 * The "oidc_provider" block: its parsing, its own directives, defaults,
 * the cross-checks at the "}" and the provider's shared memory zone.
 * Where the provider is (issuer, endpoints) and introspection are in
 * ngx_http_oidc_conf_endpoints.c; what is read from files (secrets,
 * static keys) in ngx_http_oidc_conf_files.c.
 */


#define NGX_HTTP_OIDC_RESPONSE_MAX       (16 * 1024 * 1024)
#define NGX_HTTP_OIDC_ZONE_SLACK         (64 * 1024)


static ngx_http_oidc_provider_conf_t *ngx_http_oidc_provider_create(
    ngx_conf_t *cf, ngx_str_t *name);
static char *ngx_http_oidc_provider_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static ngx_command_t *ngx_http_oidc_provider_command(ngx_str_t *name);
static ngx_int_t ngx_http_oidc_conf_nargs(ngx_conf_t *cf, ngx_command_t *cmd);
static ngx_int_t ngx_http_oidc_conf_cookie(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p);
static char *ngx_http_oidc_provider_init(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);
static void ngx_http_oidc_conf_merge(ngx_http_oidc_provider_conf_t *pc);
static ngx_int_t ngx_http_oidc_conf_limits(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);
static ngx_int_t ngx_http_oidc_conf_uris(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p);
static ngx_int_t ngx_http_oidc_conf_audiences(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);
static ngx_int_t ngx_http_oidc_conf_algorithms(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);
static ngx_int_t ngx_http_oidc_conf_zone(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);

static char *ngx_http_oidc_conf_set_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oidc_conf_set_audience(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oidc_conf_set_algorithms(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oidc_conf_set_sec_off(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


static ngx_conf_enum_t  ngx_http_oidc_token_formats[] = {
    { ngx_string("form"), 0 },
    { ngx_string("json"), 1 },
    { ngx_null_string, 0 }
};


/*
 * The directives of an "oidc_provider" block, dispatched by hand; those
 * of its endpoints and introspection: ngx_http_oidc_endpoint_commands
 */
static ngx_command_t  ngx_http_oidc_provider_commands[] = {

    /* NGINX Plus ngx_http_oidc_module */

    { ngx_string("client_id"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(client_id), NULL },

    { ngx_string("client_secret"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(client_secret), NULL },

    { ngx_string("scope"), NGX_CONF_1MORE, ngx_http_oidc_conf_set_scope,
      0, ngx_http_oidc_provider_offset(scope), NULL },

    { ngx_string("redirect_uri"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(redirect_uri), NULL },

    { ngx_string("extra_auth_args"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(extra_auth_args), NULL },

    { ngx_string("logout_uri"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(logout_uri), NULL },

    { ngx_string("post_logout_uri"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(post_logout_uri), NULL },

    { ngx_string("logout_token_hint"), NGX_CONF_FLAG, ngx_conf_set_flag_slot,
      0, ngx_http_oidc_provider_offset(logout_token_hint), NULL },

    { ngx_string("frontchannel_logout_uri"), NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(frontchannel_logout_uri), NULL },

    { ngx_string("cookie_name"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(cookie_name), NULL },

    { ngx_string("session_store"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(session_store), NULL },

    { ngx_string("session_timeout"), NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
      0, ngx_http_oidc_provider_offset(session_timeout), NULL },

    { ngx_string("session_idle_timeout"), NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot, 0,
      ngx_http_oidc_provider_offset(session_idle_timeout), NULL },

    { ngx_string("cookie_secure"), NGX_CONF_FLAG, ngx_conf_set_flag_slot,
      0, ngx_http_oidc_provider_offset(cookie_secure), NULL },

    { ngx_string("ssl_trusted_certificate"), NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(ssl_trusted_certificate), NULL },

    { ngx_string("ssl_crl"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(ssl_crl), NULL },

    { ngx_string("userinfo"), NGX_CONF_FLAG, ngx_conf_set_flag_slot,
      0, ngx_http_oidc_provider_offset(userinfo), NULL },

    { ngx_string("pkce"), NGX_CONF_FLAG, ngx_conf_set_flag_slot,
      0, ngx_http_oidc_provider_offset(pkce), NULL },

    /* our additions */

    { ngx_string("backchannel_logout_uri"), NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(backchannel_logout_uri), NULL },

    { ngx_string("client_secret_file"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_conf_offset(client_secret_file), NULL },

    { ngx_string("token_endpoint_auth"), NGX_CONF_TAKE1,
      ngx_http_oidc_client_auth_set_method,
      0, ngx_http_oidc_provider_offset(client_auth), NULL },

    { ngx_string("client_private_key_file"), NGX_CONF_TAKE123,
      ngx_http_oidc_client_auth_set_key,
      0, ngx_http_oidc_provider_offset(client_auth), NULL },

    { ngx_string("audience"), NGX_CONF_TAKE1, ngx_http_oidc_conf_set_audience,
      0, 0, NULL },

    { ngx_string("jwks_file"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(jwks_file), NULL },

    { ngx_string("hmac_secret_file"), NGX_CONF_TAKE1, ngx_conf_set_str_slot,
      0, ngx_http_oidc_conf_offset(hmac_secret_file), NULL },

    { ngx_string("algorithms"), NGX_CONF_1MORE,
      ngx_http_oidc_conf_set_algorithms,
      0, 0, NULL },

    { ngx_string("leeway"), NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
      0, ngx_http_oidc_provider_offset(leeway), NULL },

    { ngx_string("max_token_age"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_sec_off,
      0, ngx_http_oidc_provider_offset(max_token_age), NULL },

    { ngx_string("require_typ_at_jwt"), NGX_CONF_FLAG, ngx_conf_set_flag_slot,
      0, ngx_http_oidc_provider_offset(require_typ_at_jwt), NULL },

    { ngx_string("max_token_size"), NGX_CONF_TAKE1, ngx_conf_set_size_slot,
      0, ngx_http_oidc_provider_offset(max_token_size), NULL },

    { ngx_string("allow_insecure_http"), NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0, ngx_http_oidc_provider_offset(allow_insecure_http), NULL },

    { ngx_string("connect_timeout"), NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
      0, ngx_http_oidc_provider_offset(connect_timeout), NULL },

    { ngx_string("read_timeout"), NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
      0, ngx_http_oidc_provider_offset(read_timeout), NULL },

    { ngx_string("max_response_size"), NGX_CONF_TAKE1, ngx_conf_set_size_slot,
      0, ngx_http_oidc_provider_offset(max_response_size), NULL },

    { ngx_string("jwks_refresh"), NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
      0, ngx_http_oidc_provider_offset(jwks_refresh), NULL },

    { ngx_string("jwks_refetch_interval"), NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0, ngx_http_oidc_provider_offset(jwks_refetch_interval), NULL },

    { ngx_string("refresh_before"), NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
      0, ngx_http_oidc_provider_offset(refresh_before), NULL },

    { ngx_string("refresh_backoff"), NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
      0, ngx_http_oidc_provider_offset(refresh_backoff), NULL },

    { ngx_string("zone_size"), NGX_CONF_TAKE1, ngx_conf_set_size_slot,
      0, ngx_http_oidc_conf_offset(zone_size), NULL },

    /* token requests */

    { ngx_string("token_request_format"), NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0, ngx_http_oidc_provider_offset(token_json),
      ngx_http_oidc_token_formats },

    { ngx_string("token_param"), NGX_CONF_TAKE3,
      ngx_http_oidc_client_auth_set_param,
      0, 0, NULL },

    { ngx_string("client_auth"), NGX_CONF_TAKE2,
      ngx_http_oidc_client_auth_set_call,
      0, ngx_http_oidc_provider_offset(client_auth), NULL },

      ngx_null_command
};


/* the block's own directives, then where its provider is (endpoints.c) */
static ngx_command_t  *ngx_http_oidc_provider_tables[] = {
    ngx_http_oidc_provider_commands,
    ngx_http_oidc_endpoint_commands,
    NULL
};


static ngx_uint_t  ngx_http_oidc_argument_number[] = {
    NGX_CONF_NOARGS,
    NGX_CONF_TAKE1,
    NGX_CONF_TAKE2,
    NGX_CONF_TAKE3,
    NGX_CONF_TAKE4,
    NGX_CONF_TAKE5,
    NGX_CONF_TAKE6,
    NGX_CONF_TAKE7
};


char *
ngx_http_oidc_provider_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_main_conf_t *omcf = conf;

    char                           *rv;
    u_char                         *c;
    ngx_str_t                      *value;
    ngx_conf_t                      save;
    ngx_http_oidc_provider_t      **pp;
    ngx_http_oidc_provider_conf_t  *pc;

    value = cf->args->elts;

    for (c = value[1].data; c < value[1].data + value[1].len; c++) {
        if (!ngx_http_oidc_isalnum(*c) && *c != '_' && *c != '-' && *c != '.')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid oidc_provider name \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (value[1].len == 0
        || ngx_http_oidc_provider_find(omcf, &value[1]) != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate or empty oidc_provider name \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    pc = ngx_http_oidc_provider_create(cf, &value[1]);
    if (pc == NULL) {
        return NGX_CONF_ERROR;
    }

    pp = ngx_array_push(&omcf->providers);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = &pc->provider;

    save = *cf;
    cf->handler = ngx_http_oidc_provider_directive;
    cf->handler_conf = pc;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_oidc_provider_init(cf, pc);
}


ngx_http_oidc_provider_t *
ngx_http_oidc_provider_find(ngx_http_oidc_main_conf_t *omcf, ngx_str_t *name)
{
    ngx_uint_t                  i;
    ngx_http_oidc_provider_t  **pp;

    pp = omcf->providers.elts;

    for (i = 0; i < omcf->providers.nelts; i++) {
        if (pp[i]->name.len == name->len
            && ngx_strncmp(pp[i]->name.data, name->data, name->len) == 0)
        {
            return pp[i];
        }
    }

    return NULL;
}


static ngx_http_oidc_provider_conf_t *
ngx_http_oidc_provider_create(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_http_oidc_provider_t       *p;
    ngx_http_oidc_provider_conf_t  *pc;

    pc = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_provider_conf_t));
    if (pc == NULL) {
        return NULL;
    }

    p = &pc->provider;

    p->http = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_http_conf_t));
    if (p->http == NULL) {
        return NULL;
    }

    p->endpoints = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_endpoints_t));
    if (p->endpoints == NULL) {
        return NULL;
    }

    if (ngx_array_init(&p->http->hosts, cf->pool, 1,
                       sizeof(ngx_http_oidc_http_host_t))
        != NGX_OK)
    {
        return NULL;
    }

    /* its resolver is known once the http block is merged */
    p->http->clcf = ngx_http_conf_get_module_loc_conf(cf,
                                                      ngx_http_core_module);

    /* the words of cf->args are reused by the block's directives */
    p->name = *name;
    p->file = cf->conf_file->file.name.data;
    p->line = cf->conf_file->line;

    p->session_timeout = NGX_CONF_UNSET;
    p->session_idle_timeout = NGX_CONF_UNSET;
    p->cookie_secure = NGX_CONF_UNSET;
    p->logout_token_hint = NGX_CONF_UNSET;
    p->userinfo = NGX_CONF_UNSET;
    p->pkce = NGX_CONF_UNSET;
    p->leeway = NGX_CONF_UNSET;
    p->max_token_age = NGX_CONF_UNSET;
    p->require_typ_at_jwt = NGX_CONF_UNSET;
    p->max_token_size = NGX_CONF_UNSET_SIZE;
    p->allow_insecure_http = NGX_CONF_UNSET;
    p->connect_timeout = NGX_CONF_UNSET_MSEC;
    p->read_timeout = NGX_CONF_UNSET_MSEC;
    p->max_response_size = NGX_CONF_UNSET_SIZE;
    p->jwks_refresh = NGX_CONF_UNSET;
    p->jwks_refetch_interval = NGX_CONF_UNSET;
    p->refresh_before = NGX_CONF_UNSET;
    p->refresh_backoff = NGX_CONF_UNSET;
    p->introspection_cache_time = NGX_CONF_UNSET;
    p->introspection_negative_time = NGX_CONF_UNSET;
    p->discovery = NGX_CONF_UNSET;
    p->token_json = NGX_CONF_UNSET_UINT;

    pc->zone_size = NGX_CONF_UNSET_SIZE;

    return pc;
}


/* what ngx_conf_handler() does, for the block's own directives */

static char *
ngx_http_oidc_provider_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    char           *rv;
    ngx_str_t      *name;
    ngx_command_t  *cmd;

    name = cf->args->elts;

    cmd = ngx_http_oidc_provider_command(name);

    if (cmd == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown directive \"%V\" in \"oidc_provider\"",
                           name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_oidc_conf_nargs(cf, cmd) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\" "
                           "directive", name);
        return NGX_CONF_ERROR;
    }

    rv = cmd->set(cf, cmd, conf);

    if (rv == NGX_CONF_OK || rv == NGX_CONF_ERROR) {
        return rv;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive %s",
                       name, rv);

    return NGX_CONF_ERROR;
}


static ngx_command_t *
ngx_http_oidc_provider_command(ngx_str_t *name)
{
    ngx_command_t  **table, *cmd;

    for (table = ngx_http_oidc_provider_tables; *table; table++) {
        for (cmd = *table; cmd->name.len; cmd++) {
            if (name->len == cmd->name.len
                && ngx_strcmp(name->data, cmd->name.data) == 0)
            {
                return cmd;
            }
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_oidc_conf_nargs(ngx_conf_t *cf, ngx_command_t *cmd)
{
    ngx_uint_t  n;

    n = cf->args->nelts;

    if (cmd->type & NGX_CONF_FLAG) {
        return (n == 2) ? NGX_OK : NGX_ERROR;
    }

    if (cmd->type & NGX_CONF_1MORE) {
        return (n >= 2) ? NGX_OK : NGX_ERROR;
    }

    if (n > NGX_CONF_MAX_ARGS) {
        return NGX_ERROR;
    }

    return (cmd->type & ngx_http_oidc_argument_number[n - 1]) ? NGX_OK
                                                             : NGX_ERROR;
}


/*
 * The session cookie's name, once: "__Host-" + cookie_name unless
 * "cookie_secure off" (or the name has the prefix already)
 */

static ngx_int_t
ngx_http_oidc_conf_cookie(ngx_conf_t *cf, ngx_http_oidc_provider_t *p)
{
    u_char  *s;

    s = ngx_pnalloc(cf->pool, sizeof("__Host-") - 1 + p->cookie_name.len);
    if (s == NULL) {
        return NGX_ERROR;
    }

    p->session_cookie.data = s;

    if (p->cookie_secure
        && !(p->cookie_name.len >= sizeof("__Host-") - 1
             && ngx_strncasecmp(p->cookie_name.data, (u_char *) "__Host-",
                                sizeof("__Host-") - 1) == 0))
    {
        s = ngx_cpymem(s, "__Host-", sizeof("__Host-") - 1);
    }

    s = ngx_cpymem(s, p->cookie_name.data, p->cookie_name.len);

    p->session_cookie.len = s - p->session_cookie.data;

    return NGX_OK;
}


/* defaults, cross-checks, files, TLS and shared memory, at the "}" */

static char *
ngx_http_oidc_provider_init(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    ngx_http_oidc_conf_merge(pc);

    pc->static_keys = (pc->provider.jwks_file.len
                       || pc->hmac_secret_file.len);

    if (ngx_http_oidc_conf_limits(cf, pc) != NGX_OK
        || ngx_http_oidc_conf_uris(cf, &pc->provider) != NGX_OK
        || ngx_http_oidc_conf_urls(cf, pc) != NGX_OK
        || ngx_http_oidc_conf_endpoints(cf, pc) != NGX_OK
        || ngx_http_oidc_conf_audiences(cf, pc) != NGX_OK
        || ngx_http_oidc_conf_algorithms(cf, pc) != NGX_OK
        || ngx_http_oidc_conf_client_secret(cf, &pc->provider,
                                            &pc->client_secret_file,
                                            "client_secret_file",
                                            &pc->provider.client_secret)
           != NGX_OK
        || ngx_http_oidc_client_auth_init(cf, &pc->provider) != NGX_OK
        || ngx_http_oidc_conf_introspection(cf, pc) != NGX_OK
        || ngx_http_oidc_conf_keys(cf, pc) != NGX_OK
        || ngx_http_oidc_conf_cookie(cf, &pc->provider) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (pc->static_keys) {
        /* nothing is fetched but introspection: no shared state */
        if (pc->provider.endpoints->introspection_endpoint.len
            && ngx_http_oidc_http_conf_ssl(cf, &pc->provider) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_http_oidc_http_conf_ssl(cf, &pc->provider) != NGX_OK
        || ngx_http_oidc_conf_zone(cf, pc) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_oidc_conf_merge(ngx_http_oidc_provider_conf_t *pc)
{
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;

    if (p->scope.data == NULL) {
        ngx_str_set(&p->scope, "openid");
    }

    if (p->redirect_uri.data == NULL) {
        ngx_str_set(&p->redirect_uri, "/oidc_callback");
    }

    if (p->cookie_name.data == NULL) {
        ngx_str_set(&p->cookie_name, "NGX_OIDC_SESSION");
    }

    ngx_conf_init_value(p->session_timeout, 8 * 3600);
    ngx_conf_init_value(p->session_idle_timeout, 0);
    ngx_conf_init_value(p->cookie_secure, 1);
    /* NGINX Plus: off; on, so that providers honour the return URL */
    ngx_conf_init_value(p->logout_token_hint, 1);
    ngx_conf_init_value(p->userinfo, 0);
    /* pkce stays NGX_CONF_UNSET: chosen from the provider's metadata */

    ngx_conf_init_value(p->leeway, 30);
    ngx_conf_init_value(p->max_token_age, 0);
    ngx_conf_init_value(p->require_typ_at_jwt, 0);
    ngx_conf_init_size_value(p->max_token_size, NGX_OIDC_JWS_MAX_LEN);
    ngx_conf_init_value(p->allow_insecure_http, 0);
    ngx_conf_init_msec_value(p->connect_timeout, 5000);
    ngx_conf_init_msec_value(p->read_timeout, 10000);
    ngx_conf_init_size_value(p->max_response_size, 256 * 1024);
    ngx_conf_init_value(p->jwks_refresh, 3600);
    ngx_conf_init_value(p->jwks_refetch_interval, 30);
    ngx_conf_init_value(p->refresh_before, 60);
    ngx_conf_init_value(p->refresh_backoff, 5);
    /* see README: how long a revoked token may still pass, vs. load */
    ngx_conf_init_value(p->introspection_cache_time, 60);
    ngx_conf_init_value(p->introspection_negative_time, 10);
    ngx_conf_init_value(p->discovery, 1);
    ngx_conf_init_uint_value(p->token_json, 0);
    ngx_conf_init_size_value(pc->zone_size, 1024 * 1024);
}


static ngx_int_t
ngx_http_oidc_conf_limits(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    const char                *what;
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;
    what = NULL;

    if (p->max_token_size < 256 || p->max_token_size > NGX_OIDC_JWS_MAX_LEN) {
        what = "\"max_token_size\" must be between 256 and 16384 bytes";

    } else if (p->max_response_size < 1024
               || p->max_response_size > NGX_HTTP_OIDC_RESPONSE_MAX)
    {
        what = "\"max_response_size\" must be between 1k and 16m";

    } else if (pc->zone_size
               < 2 * p->max_response_size + NGX_HTTP_OIDC_ZONE_SLACK)
    {
        /* the discovery document and the JWKS, each up to the maximum */
        what = "\"zone_size\" must be at least twice \"max_response_size\" "
               "plus 64k";

    } else if (p->connect_timeout == 0 || p->read_timeout == 0) {
        what = "\"connect_timeout\" and \"read_timeout\" must not be 0";

    } else if (p->jwks_refresh < 1 || p->jwks_refetch_interval < 1) {
        what = "\"jwks_refresh\" and \"jwks_refetch_interval\" must be at "
               "least 1s";

    } else if (p->client_secret.len && pc->client_secret_file.len) {
        what = "\"client_secret\" and \"client_secret_file\" are exclusive";

    } else if (p->introspection_client_secret.len
               && pc->introspection_client_secret_file.len)
    {
        what = "\"introspection_client_secret\" and "
               "\"introspection_client_secret_file\" are exclusive";
    }

    if (what) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "oidc_provider \"%V\": %s",
                           &p->name, what);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_conf_uris(ngx_conf_t *cf, ngx_http_oidc_provider_t *p)
{
    u_char      *c;
    const char  *what;

    what = NULL;

    for (c = p->cookie_name.data; c < p->cookie_name.data + p->cookie_name.len;
         c++)
    {
        if (!ngx_http_oidc_isalnum(*c)
            && ngx_strlchr((u_char *) "!#$%&'*+-.^_`|~",
                           (u_char *) "!#$%&'*+-.^_`|~" + 15, *c)
               == NULL)
        {
            break;
        }
    }

    if (p->cookie_name.len == 0
        || c != p->cookie_name.data + p->cookie_name.len)
    {
        what = "\"cookie_name\" is not a valid cookie name";

    } else if (p->redirect_uri.data[0] != '/'
               && ngx_strncmp(p->redirect_uri.data, "https://", 8) != 0
               && ngx_strncmp(p->redirect_uri.data, "http://", 7) != 0)
    {
        what = "\"redirect_uri\" must be a path or an absolute URI";

    } else if ((p->logout_uri.len && p->logout_uri.data[0] != '/')
               || (p->frontchannel_logout_uri.len
                   && p->frontchannel_logout_uri.data[0] != '/')
               || (p->backchannel_logout_uri.len
                   && p->backchannel_logout_uri.data[0] != '/'))
    {
        what = "\"logout_uri\", \"frontchannel_logout_uri\" and "
               "\"backchannel_logout_uri\" must be paths";

    } else {
        what = ngx_http_oidc_logout_conf_check(p);
    }

    if (what) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "oidc_provider \"%V\": %s",
                           &p->name, what);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_conf_audiences(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    ngx_str_t                 *aud;
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;

    if (pc->audience_off || p->audiences != NULL) {
        return NGX_OK;
    }

    /* an unset audience is never "any audience": that takes "off" */
    if (p->client_id.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_provider \"%V\": set \"audience\" (or "
                           "\"client_id\", its default), or \"audience off\" "
                           "to accept tokens for any audience", &p->name);
        return NGX_ERROR;
    }

    p->audiences = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
    if (p->audiences == NULL) {
        return NGX_ERROR;
    }

    aud = ngx_array_push(p->audiences);
    if (aud == NULL) {
        return NGX_ERROR;
    }

    *aud = p->client_id;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_conf_algorithms(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc)
{
    ngx_uint_t                 hmac;
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;
    hmac = (pc->hmac_secret_file.len != 0);

    if (p->algorithms == 0) {
        /* HS* only with a configured secret */
        p->algorithms = NGX_OIDC_ALG_ASYMMETRIC
                        | (hmac ? NGX_OIDC_ALG_HMAC : 0);
        return NGX_OK;
    }

    if ((p->algorithms & NGX_OIDC_ALG_HMAC) && !hmac) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_provider \"%V\": \"algorithms\" lists an "
                           "HS* algorithm, which needs \"hmac_secret_file\"",
                           &p->name);
        return NGX_ERROR;
    }

    if (hmac && !(p->algorithms & NGX_OIDC_ALG_HMAC)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "oidc_provider \"%V\": \"hmac_secret_file\" is "
                           "unused: \"algorithms\" lists no HS* algorithm",
                           &p->name);
    }

    return NGX_OK;
}


/*
 * The zone name carries a hash of where the keys come from, so that a
 * reload which changes the issuer never reuses the old provider's keys.
 */

static ngx_int_t
ngx_http_oidc_conf_zone(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    uint32_t                   crc;
    ngx_str_t                  name;
    ngx_shm_zone_t            *zone;
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, p->issuer.data, p->issuer.len);
    ngx_crc32_update(&crc, (u_char *) "\n", 1);
    ngx_crc32_update(&crc, p->config_url.data, p->config_url.len);
    ngx_crc32_update(&crc, (u_char *) "\n", 1);
    ngx_crc32_update(&crc, p->endpoints->jwks_uri.data,
                     p->endpoints->jwks_uri.len);
    ngx_crc32_final(crc);

    name.len = sizeof("oidc_provider__00000000") - 1 + p->name.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "oidc_provider_%V_%08xD", &p->name, crc);

    zone = ngx_http_oidc_zone_add(cf, &name, pc->zone_size,
                                  ngx_http_oidc_provider_init_zone, p);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    p->shm_zone = zone;

    return NGX_OK;
}




static char *
ngx_http_oidc_conf_set_scope(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_provider_conf_t *pc = conf;

    u_char      *p;
    size_t       len;
    ngx_str_t   *value;
    ngx_uint_t   i, openid;

    if (pc->provider.scope.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    len = sizeof("openid") - 1;
    openid = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        len += 1 + value[i].len;

        if (value[i].len == 6 && ngx_strncmp(value[i].data, "openid", 6) == 0)
        {
            openid = 1;
        }
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    pc->provider.scope.data = p;

    /* OpenID Connect requests always carry "openid" */
    if (!openid) {
        p = ngx_cpymem(p, "openid", 6);
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (p != pc->provider.scope.data) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, value[i].data, value[i].len);
    }

    pc->provider.scope.len = p - pc->provider.scope.data;

    return NGX_CONF_OK;
}


static char *
ngx_http_oidc_conf_set_audience(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_conf_t *pc = conf;

    ngx_str_t  *value, *aud;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (pc->audience_off || pc->provider.audiences) {
            return "\"off\" cannot be combined with other values";
        }

        pc->audience_off = 1;
        return NGX_CONF_OK;
    }

    if (pc->audience_off) {
        return "\"off\" cannot be combined with other values";
    }

    if (value[1].len == 0) {
        return "is empty";
    }

    if (pc->provider.audiences == NULL) {
        pc->provider.audiences = ngx_array_create(cf->pool, 2,
                                                  sizeof(ngx_str_t));
        if (pc->provider.audiences == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    aud = ngx_array_push(pc->provider.audiences);
    if (aud == NULL) {
        return NGX_CONF_ERROR;
    }

    *aud = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_oidc_conf_set_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_conf_t *pc = conf;

    unsigned     alg;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (pc->provider.algorithms) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        alg = ngx_oidc_alg_from_name(value[i].data, value[i].len);

        if (alg != 0) {
            pc->provider.algorithms |= alg;
            continue;
        }

        if (value[i].len == 4 && ngx_strncasecmp(value[i].data,
                                                 (u_char *) "none", 4) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"algorithms\": \"none\" is never accepted: "
                               "unsigned tokens would pass");
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"algorithms\": unknown algorithm \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_oidc_conf_set_sec_off(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    time_t     *tp;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") != 0) {
        return ngx_conf_set_sec_slot(cf, cmd, conf);
    }

    tp = (time_t *) ((char *) conf + cmd->offset);

    if (*tp != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    *tp = 0;

    return NGX_CONF_OK;
}
