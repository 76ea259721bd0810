
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_conf.h"
#include "ngx_http_oidc_http.h"
#include "ngx_http_oidc_client_auth.h"


/*
 * Where an "oidc_provider" block's provider is: its issuer and discovery
 * URL, the endpoints configured in the block (they win over discovery)
 * and what a location needs of them when nothing is discovered; and the
 * introspection directives (credentials, cache times).  The directives
 * are a table of their own, looked up by ngx_http_oidc_conf.c after its
 * own.
 */


static char *ngx_http_oidc_conf_set_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oidc_conf_set_endpoint(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_oidc_conf_set_cache_time(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_oidc_conf_url(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc, ngx_str_t *url, ngx_uint_t line,
    const char *directive);


#define ngx_http_oidc_endpoint_offset(field)                                  \
    offsetof(ngx_http_oidc_endpoints_t, field)


ngx_command_t  ngx_http_oidc_endpoint_commands[] = {

    /* NGINX Plus ngx_http_oidc_module */

    { ngx_string("issuer"), NGX_CONF_TAKE1, ngx_http_oidc_conf_set_url,
      0, ngx_http_oidc_provider_offset(issuer), NULL },

    { ngx_string("config_url"), NGX_CONF_TAKE1, ngx_http_oidc_conf_set_url,
      0, ngx_http_oidc_provider_offset(config_url), NULL },

    /* our additions: introspection (RFC 7662) */

    { ngx_string("introspection_client_id"), NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(introspection_client_id), NULL },

    { ngx_string("introspection_client_secret"), NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0, ngx_http_oidc_provider_offset(introspection_client_secret), NULL },

    { ngx_string("introspection_client_secret_file"), NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0, ngx_http_oidc_conf_offset(introspection_client_secret_file), NULL },

    { ngx_string("introspection_auth"), NGX_CONF_TAKE1,
      ngx_http_oidc_client_auth_set_method,
      0, ngx_http_oidc_provider_offset(introspection_auth), NULL },

    { ngx_string("introspection_private_key_file"), NGX_CONF_TAKE123,
      ngx_http_oidc_client_auth_set_key,
      0, ngx_http_oidc_provider_offset(introspection_auth), NULL },

    { ngx_string("introspection_cache_time"), NGX_CONF_TAKE12,
      ngx_http_oidc_conf_set_cache_time,
      0, 0, NULL },

    /* providers without (complete) discovery: configured endpoints win */

    { ngx_string("discovery"), NGX_CONF_FLAG, ngx_conf_set_flag_slot,
      0, ngx_http_oidc_provider_offset(discovery), NULL },

    { ngx_string("authorization_endpoint"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_endpoint,
      0, ngx_http_oidc_endpoint_offset(authorization_endpoint), NULL },

    { ngx_string("token_endpoint"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_endpoint,
      0, ngx_http_oidc_endpoint_offset(token_endpoint), NULL },

    { ngx_string("userinfo_endpoint"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_endpoint,
      0, ngx_http_oidc_endpoint_offset(userinfo_endpoint), NULL },

    { ngx_string("jwks_uri"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_endpoint,
      0, ngx_http_oidc_endpoint_offset(jwks_uri), NULL },

    { ngx_string("revocation_endpoint"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_endpoint,
      0, ngx_http_oidc_endpoint_offset(revocation_endpoint), NULL },

    { ngx_string("end_session_endpoint"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_endpoint,
      0, ngx_http_oidc_endpoint_offset(end_session_endpoint), NULL },

    { ngx_string("introspection_endpoint"), NGX_CONF_TAKE1,
      ngx_http_oidc_conf_set_endpoint,
      0, ngx_http_oidc_endpoint_offset(introspection_endpoint), NULL },

      ngx_null_command
};


static char *
ngx_http_oidc_conf_set_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_provider_conf_t *pc = conf;

    char  *rv;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (cmd->offset == ngx_http_oidc_provider_offset(issuer)) {
        pc->issuer_line = cf->conf_file->line;

    } else {
        pc->config_url_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}

static char *
ngx_http_oidc_conf_set_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_conf_t *pc = conf;

    ngx_str_t  *value, *ep;

    ep = (ngx_str_t *) ((u_char *) pc->provider.endpoints + cmd->offset);

    if (ep->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "is empty";
    }

    *ep = value[1];
    pc->endpoint_line[cmd->offset / sizeof(ngx_str_t)] = cf->conf_file->line;

    return NGX_CONF_OK;
}

/* introspection_cache_time TIME [negative=TIME]; */

static char *
ngx_http_oidc_conf_set_cache_time(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_conf_t *pc = conf;

    time_t      t;
    ngx_str_t  *value, s;

    if (pc->provider.introspection_cache_time != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    t = ngx_parse_time(&value[1], 1);
    if (t == (time_t) NGX_ERROR) {
        return "has an invalid time";
    }

    pc->provider.introspection_cache_time = t;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "negative=", 9) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"introspection_cache_time\": invalid parameter "
                           "\"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 9;
    s.len = value[2].len - 9;

    t = ngx_parse_time(&s, 1);
    if (t == (time_t) NGX_ERROR) {
        return "has an invalid \"negative\" time";
    }

    pc->provider.introspection_negative_time = t;

    return NGX_CONF_OK;
}

ngx_int_t
ngx_http_oidc_conf_urls(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    size_t                     len;
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;

    /* even with static keys: "iss" is always checked */
    if (p->issuer.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_provider \"%V\": \"issuer\" is required",
                           &p->name);
        return NGX_ERROR;
    }

    if (pc->static_keys) {
        if (p->config_url.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "oidc_provider \"%V\": \"config_url\" cannot "
                               "be used with \"jwks_file\" or "
                               "\"hmac_secret_file\"", &p->name);
            return NGX_ERROR;
        }

        /* nothing is fetched: the issuer is only compared with "iss" */
        return NGX_OK;
    }

    if (ngx_http_oidc_conf_url(cf, pc, &p->issuer, pc->issuer_line, "issuer")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!p->discovery) {
        if (p->config_url.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "oidc_provider \"%V\": \"config_url\" cannot "
                               "be used with \"discovery off\"", &p->name);
            return NGX_ERROR;
        }

        /* the endpoints are all configured: nothing is discovered */
        return NGX_OK;
    }

    if (p->config_url.len == 0) {
        /* OpenID Connect Discovery 1.0, 4: a trailing "/" is removed */
        len = p->issuer.len;

        if (p->issuer.data[len - 1] == '/') {
            len--;
        }

        p->config_url.len = len + sizeof("/.well-known/openid-configuration")
                            - 1;
        p->config_url.data = ngx_pnalloc(cf->pool, p->config_url.len);
        if (p->config_url.data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(p->config_url.data, "%*s/.well-known/openid-configuration",
                    len, p->issuer.data);

        return NGX_OK;
    }

    return ngx_http_oidc_conf_url(cf, pc, &p->config_url,
                                  pc->config_url_line, "config_url");
}

/* checked and resolved; messages point at the directive's line */

static ngx_int_t
ngx_http_oidc_conf_url(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc,
    ngx_str_t *url, ngx_uint_t line, const char *directive)
{
    ngx_int_t   rc;
    ngx_uint_t  saved;

    saved = cf->conf_file->line;
    cf->conf_file->line = line;

    rc = ngx_http_oidc_http_conf_url(cf, &pc->provider, url, directive);

    cf->conf_file->line = saved;

    return rc;
}

/* each configured endpoint checked and its host resolved, as the issuer */

ngx_int_t
ngx_http_oidc_conf_endpoints(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    ngx_str_t      *ep;
    ngx_command_t  *cmd;

    for (cmd = ngx_http_oidc_endpoint_commands; cmd->name.len; cmd++) {

        if (cmd->set != ngx_http_oidc_conf_set_endpoint) {
            continue;
        }

        ep = (ngx_str_t *) ((u_char *) pc->provider.endpoints + cmd->offset);

        if (ep->len == 0) {
            continue;
        }

        if (ngx_http_oidc_conf_url(cf, pc, ep,
                                   pc->endpoint_line[cmd->offset
                                                     / sizeof(ngx_str_t)],
                                   (char *) cmd->name.data)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}

/*
 * Introspection: its endpoint when configured, and its credentials,
 * the login client's unless any introspection_* credential is set.
 */

ngx_int_t
ngx_http_oidc_conf_introspection(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc)
{
    ngx_str_t                     id, secret;
    ngx_http_oidc_provider_t     *p;
    ngx_http_oidc_client_auth_t  *ca, *login;

    p = &pc->provider;
    login = p->client_auth;

    if (ngx_http_oidc_conf_client_secret(cf, p,
                                         &pc->introspection_client_secret_file,
                                         "introspection_client_secret_file",
                                         &p->introspection_client_secret)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (p->introspection_auth == NULL
        && p->introspection_client_id.len == 0
        && p->introspection_client_secret.len == 0)
    {
        p->introspection_auth = login;
        return NGX_OK;
    }

    if (p->introspection_auth == NULL) {
        p->introspection_auth = ngx_pcalloc(cf->pool,
                                         sizeof(ngx_http_oidc_client_auth_t));
        if (p->introspection_auth == NULL) {
            return NGX_ERROR;
        }
    }

    ca = p->introspection_auth;

    /* another client never borrows the login client's secret or key */
    if (p->introspection_client_id.len) {
        id = p->introspection_client_id;
        ngx_str_null(&secret);

    } else {
        id = p->client_id;
        secret = p->client_secret;

        if (ca->key == NULL
            && (ca->method == 0 || ca->method == NGX_HTTP_OIDC_AUTH_JWT))
        {
            ca->key = login->key;
            ca->alg = login->alg;
            ca->kid = login->kid;
        }
    }

    if (p->introspection_client_secret.len) {
        secret = p->introspection_client_secret;
    }

    return ngx_http_oidc_client_auth_setup(cf, p, ca, &id, &secret,
                                           "introspection_auth");
}

/*
 * What a location asks of a provider whose endpoints are all configured
 * ("discovery off", or static keys): nginx -t names the endpoint missing.
 */

ngx_int_t
ngx_http_oidc_provider_check(ngx_conf_t *cf, ngx_http_oidc_provider_t *p,
    ngx_uint_t need, const char *directive, u_char *file, ngx_uint_t line)
{
    const char                 *missing, *what;
    ngx_http_oidc_endpoints_t  *ep;

    if (p->discovery && p->static_jwks == NULL) {
        /* whatever is not configured may come from discovery */
        return NGX_OK;
    }

    ep = p->endpoints;
    missing = NULL;
    what = NULL;

    if (need & NGX_HTTP_OIDC_NEED_AUTH) {

        if (p->static_jwks == NULL && ep->jwks_uri.len == 0) {
            missing = "jwks_uri";
            what = "Bearer JWT and ID token validation (or static keys: "
                   "\"jwks_file\", \"hmac_secret_file\")";

        } else if (ep->authorization_endpoint.len
                   && ep->token_endpoint.len == 0)
        {
            missing = "token_endpoint";
            what = "browser login (\"authorization_endpoint\" is set)";

        } else if (ep->authorization_endpoint.len && p->userinfo
                   && ep->userinfo_endpoint.len == 0)
        {
            missing = "userinfo_endpoint";
            what = "\"userinfo on\"";

        } else if (ep->authorization_endpoint.len && p->logout_uri.len
                   && ep->end_session_endpoint.len == 0)
        {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "oidc_provider \"%V\" has no "
                          "\"end_session_endpoint\": \"logout_uri\" ends "
                          "only the local session (no RP-initiated logout) "
                          "for \"%s\" in %s:%ui", &p->name, directive,
                          file, line);
        }
    }

    if (missing == NULL && (need & NGX_HTTP_OIDC_NEED_TOKEN)
        && ep->token_endpoint.len == 0)
    {
        missing = "token_endpoint";
        what = "the client credentials grant";
    }

    if (missing == NULL) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "oidc_provider \"%V\" has no \"%s\" (%s), which %s needs "
                  "for \"%s\" in %s:%ui", &p->name, missing,
                  p->static_jwks ? "static keys, nothing is discovered"
                                 : "\"discovery off\"",
                  what, directive, file, line);

    return NGX_ERROR;
}
