
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_logout.h"

static ngx_int_t ngx_http_oidc_login_redirect(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p);
static ngx_int_t ngx_http_oidc_login_create(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_oidc_login_t *login,
    ngx_str_t *challenge);
static ngx_int_t ngx_http_oidc_authz_url(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *endpoint,
    ngx_oidc_login_t *login, ngx_str_t *challenge, ngx_str_t *url);
static ngx_uint_t ngx_http_oidc_is_navigation(ngx_http_request_t *r);

ngx_int_t
ngx_http_oidc_browser_handler(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_oidc_browser_t   *b;
    ngx_http_oidc_provider_t  *p;

    p = olcf->provider;
    b = ctx->browser;

    if (b != NULL) {
        if (b->waiting) {
            return NGX_AGAIN;
        }

        return ngx_http_oidc_callback_finish(r, p, b);
    }

    if (ngx_http_oidc_is_callback(r, p)) {
        return ngx_http_oidc_callback_start(r, p, ctx);
    }

    /* logout_uri, backchannel_logout_uri, frontchannel_logout_uri */
    rc = ngx_http_oidc_logout_handler(r, p, ctx);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (r->headers_in.authorization != NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_oidc_session_load(r, p, ctx);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (!ngx_http_oidc_is_navigation(r)) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    return ngx_http_oidc_login_redirect(r, p);
}


/* no session: 302 to the authorization endpoint, the login pending */

static ngx_int_t
ngx_http_oidc_login_redirect(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p)
{
    ngx_int_t                   rc;
    ngx_str_t                   kid, challenge, url, key, value, name, bind;
    ngx_oidc_err_t              err;
    ngx_oidc_jwks_t            *jwks;
    ngx_oidc_login_t            login;
    ngx_http_oidc_endpoints_t  *ep;

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL) {
        /* the first discovery: wait for it as a token would for keys */
        ngx_str_null(&kid);

        rc = ngx_http_oidc_provider_keys(r, p, &kid, &jwks);

        if (rc == NGX_AGAIN || rc == NGX_ERROR
            || rc == NGX_HTTP_SERVICE_UNAVAILABLE)
        {
            return rc;
        }

        ep = ngx_http_oidc_provider_endpoints(p);
    }

    if (ep == NULL || ep->authorization_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: provider \"%V\" has no authorization endpoint",
                      &p->name);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_oidc_login_create(r, p, &login, &challenge) != NGX_OK
        || ngx_http_oidc_authz_url(r, p, &ep->authorization_endpoint, &login,
                                   &challenge, &url)
           != NGX_OK
        || ngx_http_oidc_random(r, NGX_OIDC_STATE_BYTES, &bind) != NGX_OK
        || ngx_http_oidc_store_key(r, p, 'l', (ngx_str_t *) &login.state,
                                   &bind, &key)
           != NGX_OK
        || ngx_http_oidc_cookie_name(r, p, (ngx_str_t *) &login.state, &name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_oidc_login_encode(&login, &value.data, &value.len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: pending login not encoded: %s",
                      err.reason ? err.reason : "no memory");
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_store_set(r, &key, &value,
                                 ngx_time() + NGX_HTTP_OIDC_LOGIN_TTL);
    free(value.data);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: pending login not stored");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_oidc_cookie_set(r, p, &name, &bind,
                                 NGX_HTTP_OIDC_LOGIN_TTL) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oidc: redirect to the authorization endpoint");

    ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_STARTED);

    return ngx_http_oidc_redirect(r, &url);
}


/* state, nonce, PKCE verifier (and its challenge), the URL to return to */

static ngx_int_t
ngx_http_oidc_login_create(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_oidc_login_t *login, ngx_str_t *challenge)
{
    ngx_str_t       s;
    ngx_oidc_err_t  err;

    ngx_memzero(login, sizeof(ngx_oidc_login_t));

    if (ngx_http_oidc_random(r, NGX_OIDC_STATE_BYTES, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_oidc_ostr(login->state, s);

    if (ngx_http_oidc_random(r, NGX_OIDC_NONCE_BYTES, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_oidc_ostr(login->nonce, s);

    login->code_verifier.data = ngx_pnalloc(r->pool,
                                            NGX_OIDC_PKCE_VERIFIER_MIN);
    challenge->data = ngx_pnalloc(r->pool, NGX_OIDC_PKCE_CHALLENGE_LEN);

    if (login->code_verifier.data == NULL || challenge->data == NULL) {
        return NGX_ERROR;
    }

    login->code_verifier.len = NGX_OIDC_PKCE_VERIFIER_MIN;
    challenge->len = NGX_OIDC_PKCE_CHALLENGE_LEN;

    if (ngx_oidc_pkce_verifier(login->code_verifier.data, &err)
        != NGX_OIDC_OK
        || ngx_oidc_pkce_challenge(login->code_verifier.data,
                                   login->code_verifier.len,
                                   challenge->data, &err)
           != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: PKCE failed");
        return NGX_ERROR;
    }

    /* checked when used: an unsafe one sends the browser to "/" */
    if (r->unparsed_uri.len <= NGX_OIDC_RETURN_URL_MAX) {
        login->return_to.len = r->unparsed_uri.len;
        login->return_to.data = r->unparsed_uri.data;
    }

    login->created = ngx_time();

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_authz_url(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *endpoint, ngx_oidc_login_t *login, ngx_str_t *challenge,
    ngx_str_t *url)
{
    size_t            len;
    ngx_str_t         redirect_uri;
    ngx_oidc_err_t    err;
    ngx_oidc_authz_t  authz;

    if (ngx_http_oidc_redirect_uri(r, p, &redirect_uri) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&authz, sizeof(ngx_oidc_authz_t));

    ngx_http_oidc_ostr(authz.endpoint, *endpoint);
    authz.response_type.len = sizeof("code") - 1;
    authz.response_type.data = (u_char *) "code";
    ngx_http_oidc_ostr(authz.client_id, p->client_id);
    ngx_http_oidc_ostr(authz.redirect_uri, redirect_uri);
    ngx_http_oidc_ostr(authz.scope, p->scope);
    authz.state = login->state;
    authz.nonce = login->nonce;
    ngx_http_oidc_ostr(authz.code_challenge, *challenge);
    authz.code_challenge_method.len = sizeof("S256") - 1;
    authz.code_challenge_method.data = (u_char *) "S256";
    ngx_http_oidc_ostr(authz.extra, p->extra_auth_args);

    len = ngx_oidc_authz_url_len(&authz);

    url->data = ngx_pnalloc(r->pool, len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_authz_url_build(&authz, url->data, len, &url->len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: no authorization url for provider \"%V\": %s",
                      &p->name, err.reason ? err.reason : "error");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A top-level browser navigation, which may be sent to the provider:
 * GET or HEAD asking for HTML, not XHR or fetch().
 */

static ngx_uint_t
ngx_http_oidc_is_navigation(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return 0;
    }

    h = ngx_http_oidc_header_in(r, "Accept", sizeof("Accept") - 1);

    if (h == NULL
        || ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                            (u_char *) "text/html", sizeof("text/html") - 2)
           == NULL)
    {
        return 0;
    }

    h = ngx_http_oidc_header_in(r, "X-Requested-With",
                                sizeof("X-Requested-With") - 1);

    if (h != NULL
        && h->value.len == sizeof("XMLHttpRequest") - 1
        && ngx_strncasecmp(h->value.data, (u_char *) "XMLHttpRequest",
                           h->value.len) == 0)
    {
        return 0;
    }

    h = ngx_http_oidc_header_in(r, "Sec-Fetch-Mode",
                                sizeof("Sec-Fetch-Mode") - 1);

    if (h != NULL
        && !(h->value.len == sizeof("navigate") - 1
             && ngx_strncasecmp(h->value.data, (u_char *) "navigate",
                                h->value.len) == 0))
    {
        return 0;
    }

    return 1;
}
