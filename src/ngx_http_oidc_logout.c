
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"
#include "ngx_http_oidc_logout.h"
#include "ngx_oidc_b64.h"


static ngx_uint_t ngx_http_oidc_logout_path(ngx_http_request_t *r,
    ngx_str_t *path);
static ngx_int_t ngx_http_oidc_logout_rp(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);
static ngx_int_t ngx_http_oidc_logout_endpoints(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_endpoints_t **ep);
static ngx_int_t ngx_http_oidc_logout_csrf(ngx_http_request_t *r,
    ngx_str_t *id, ngx_str_t *csrf);
static ngx_uint_t ngx_http_oidc_logout_allowed(ngx_http_request_t *r,
    ngx_str_t *body, ngx_str_t *csrf);
static ngx_uint_t ngx_http_oidc_logout_csrf_valid(ngx_http_request_t *r,
    ngx_str_t *body, ngx_str_t *csrf);
static ngx_uint_t ngx_http_oidc_logout_same_origin(ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_logout_confirm(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_endpoints_t *ep,
    ngx_str_t *csrf);
static u_char *ngx_http_oidc_logout_csp_origin(u_char *dst, ngx_str_t *url);
static ngx_int_t ngx_http_oidc_logout_redirect(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_endpoints_t *ep,
    ngx_str_t *hint);
static void ngx_http_oidc_logout_revoked(ngx_http_oidc_http_response_t *resp,
    void *data);
static ngx_int_t ngx_http_oidc_logout_origin(ngx_http_request_t *r,
    ngx_str_t *origin);
static ngx_int_t ngx_http_oidc_logout_absolute(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_str_t *out);


ngx_int_t
ngx_http_oidc_logout_handler(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx)
{
    if (ngx_http_oidc_logout_path(r, &p->logout_uri)) {
        return ngx_http_oidc_logout_rp(r, p, ctx);
    }

    if (ngx_http_oidc_logout_path(r, &p->backchannel_logout_uri)) {
        return ngx_http_oidc_backchannel(r, p, ctx);
    }

    if (ngx_http_oidc_logout_path(r, &p->frontchannel_logout_uri)) {
        return ngx_http_oidc_frontchannel(r, p, ctx);
    }

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_http_oidc_logout_path(ngx_http_request_t *r, ngx_str_t *path)
{
    return path->len != 0
           && r->uri.len == path->len
           && ngx_strncmp(r->uri.data, path->data, path->len) == 0;
}


/*
 * RP-initiated logout: the local session ends (record, cookie), its
 * refresh token is revoked in the background, and the browser goes to
 * the provider's end_session_endpoint (OpenID Connect RP-Initiated
 * Logout 1.0), or to post_logout_uri when there is none.
 */

static ngx_int_t
ngx_http_oidc_logout_rp(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_str_t                   body, key, id, csrf, name, hint, *h;
    ngx_oidc_session_t          s;
    ngx_http_oidc_endpoints_t  *ep;

    ngx_str_null(&body);

    if (r->method == NGX_HTTP_POST) {
        rc = ngx_http_oidc_form_body(r, NGX_HTTP_OIDC_LOGOUT_BODY_MAX, &body);

        if (rc == NGX_DONE || rc == NGX_AGAIN) {
            return rc;
        }

        /* too large or not a form: no CSRF value, the page is shown */
        if (rc == NGX_DECLINED || rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            ngx_str_set(&body, "");

        } else if (rc != NGX_OK) {
            return rc;
        }

    } else if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_oidc_logout_endpoints(r, p, &ep);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memzero(&s, sizeof(ngx_oidc_session_t));

    rc = ngx_http_oidc_logout_session(r, p, &key, &id, &s);

    if (rc != NGX_OK && rc != NGX_DECLINED) {
        return rc;
    }

    h = NULL;

    if (rc == NGX_OK) {
        if (ngx_http_oidc_logout_csrf(r, &id, &csrf) != NGX_OK) {
            ngx_oidc_session_free(&s);
            return NGX_ERROR;
        }

        if (!ngx_http_oidc_logout_allowed(r, &body, &csrf)) {
            ngx_oidc_session_free(&s);

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oidc: logout not proven same-origin, "
                          "confirmation page sent");

            return ngx_http_oidc_logout_confirm(r, p, ep, &csrf);
        }

        ngx_http_oidc_store_delete(r, &key);
        ngx_http_oidc_store_changed(r);

        if (s.refresh_token.len) {
            ngx_http_oidc_logout_revoke(r, p, (ngx_str_t *) &s.refresh_token);
        }

        if (p->logout_token_hint) {
            hint.len = s.id_token.len;
            hint.data = ngx_pstrdup(r->pool, (ngx_str_t *) &s.id_token);

            if (hint.data == NULL) {
                ngx_oidc_session_free(&s);
                return NGX_ERROR;
            }

            h = &hint;
        }

        ngx_oidc_session_free(&s);

        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGOUT_RP);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: logout from provider \"%V\"", &p->name);
    }

    /* logging out twice, or without a session, is harmless */
    if (ngx_http_oidc_cookie_name(r, p, NULL, &name) != NGX_OK
        || ngx_http_oidc_cookie_set(r, p, &name, NULL, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_oidc_logout_redirect(r, p, ep, h);
}


/* NGX_OK, *ep NULL when the provider's metadata is not known */

static ngx_int_t
ngx_http_oidc_logout_endpoints(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_endpoints_t **ep)
{
    ngx_int_t         rc;
    ngx_str_t         kid;
    ngx_oidc_jwks_t  *jwks;

    *ep = ngx_http_oidc_provider_endpoints(p);

    if (*ep != NULL || p->static_jwks != NULL) {
        return NGX_OK;
    }

    /* the first discovery: wait for it, as the login redirect does */
    ngx_str_null(&kid);

    rc = ngx_http_oidc_provider_keys(r, p, &kid, &jwks);

    if (rc == NGX_AGAIN || rc == NGX_ERROR) {
        return rc;
    }

    /* an unreachable provider does not keep anyone logged in */
    *ep = ngx_http_oidc_provider_endpoints(p);

    return NGX_OK;
}


/* base64url(SHA-256("logout" NUL session id)): only the cookie knows it */

static ngx_int_t
ngx_http_oidc_logout_csrf(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *csrf)
{
    u_char  *buf, *s;
    u_char   md[NGX_OIDC_SHA256_LEN];

    buf = ngx_pnalloc(r->pool, sizeof("logout") + id->len);
    csrf->data = ngx_pnalloc(r->pool, NGX_HTTP_OIDC_HASH_LEN);

    if (buf == NULL || csrf->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(buf, "logout", sizeof("logout"));
    s = ngx_cpymem(s, id->data, id->len);

    if (ngx_oidc_sha256(buf, s - buf, md) != NGX_OIDC_OK) {
        return NGX_ERROR;
    }

    csrf->len = ngx_oidc_b64url_encode(csrf->data, md, sizeof(md));

    return NGX_OK;
}


/*
 * Logout CSRF: a cross-site page must not end the session.  A POST
 * needs the CSRF value of the confirmation page.  A GET or HEAD is
 * accepted when the browser says it is same-origin or user-initiated
 * (Sec-Fetch-Site "same-origin" or "none"); without Sec-Fetch-Site
 * (older browsers), when Origin, else Referer, is this origin.
 * "same-site" is refused: a sibling subdomain is another site's code.
 */

static ngx_uint_t
ngx_http_oidc_logout_allowed(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *csrf)
{
    ngx_table_elt_t  *h;

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_oidc_logout_csrf_valid(r, body, csrf);
    }

    h = ngx_http_oidc_header_in(r, "Sec-Fetch-Site",
                                sizeof("Sec-Fetch-Site") - 1);

    if (h != NULL) {
        return (h->value.len == sizeof("same-origin") - 1
                && ngx_strncasecmp(h->value.data, (u_char *) "same-origin",
                                   h->value.len) == 0)
               || (h->value.len == sizeof("none") - 1
                   && ngx_strncasecmp(h->value.data, (u_char *) "none",
                                      h->value.len) == 0);
    }

    return ngx_http_oidc_logout_same_origin(r);
}


static ngx_uint_t
ngx_http_oidc_logout_csrf_valid(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *csrf)
{
    u_char            *buf;
    size_t             n;
    ngx_str_t          v;
    ngx_oidc_err_t     err;
    ngx_oidc_param_t  *params;

    if (body->len == 0) {
        return 0;
    }

    buf = ngx_pnalloc(r->pool, body->len);
    params = ngx_palloc(r->pool,
                        NGX_OIDC_FORM_MAX_PARAMS * sizeof(ngx_oidc_param_t));

    if (buf == NULL || params == NULL) {
        return 0;
    }

    if (ngx_oidc_form_parse(body->data, body->len, buf, params,
                            NGX_OIDC_FORM_MAX_PARAMS, &n, &err)
        != NGX_OIDC_OK
        || ngx_oidc_form_get(params, n, "csrf", (ngx_oidc_str_t *) &v, &err)
           != NGX_OIDC_OK
        || v.data == NULL)
    {
        return 0;
    }

    return v.len == csrf->len
           && ngx_oidc_ct_equal(v.data, csrf->data, csrf->len);
}


static ngx_uint_t
ngx_http_oidc_logout_same_origin(ngx_http_request_t *r)
{
    u_char           *last;
    ngx_str_t         origin;
    ngx_table_elt_t  *h;

    if (ngx_http_oidc_logout_origin(r, &origin) != NGX_OK) {
        return 0;
    }

    h = ngx_http_oidc_header_in(r, "Origin", sizeof("Origin") - 1);

    if (h != NULL) {
        return h->value.len == origin.len
               && ngx_strncasecmp(h->value.data, origin.data, origin.len)
                  == 0;
    }

    h = r->headers_in.referer;

    if (h == NULL
        || h->value.len < origin.len
        || ngx_strncasecmp(h->value.data, origin.data, origin.len) != 0)
    {
        return 0;
    }

    /* "http://host" must not pass for "http://host.evil" */
    last = h->value.data + origin.len;

    return h->value.len == origin.len || *last == '/' || *last == '?';
}


/* a page that POSTs the logout with its CSRF value */

static ngx_int_t
ngx_http_oidc_logout_confirm(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_endpoints_t *ep,
    ngx_str_t *csrf)
{
    size_t     len;
    u_char    *s;
    uintptr_t  escape;
    ngx_str_t  page, csp;

    static u_char  head[] =
        "<!DOCTYPE html>\n"
        "<html><head><meta charset=\"utf-8\"><title>Sign out</title>"
        "</head>\n<body>\n<form method=\"post\" action=\"";
    static u_char  middle[] =
        "\">\n<p>Do you want to sign out?</p>\n"
        "<input type=\"hidden\" name=\"csrf\" value=\"";
    static u_char  tail[] =
        "\">\n<button type=\"submit\">Sign out</button>\n"
        "</form>\n</body></html>\n";

    escape = ngx_escape_html(NULL, p->logout_uri.data, p->logout_uri.len);

    len = sizeof(head) - 1 + p->logout_uri.len + escape
          + sizeof(middle) - 1 + csrf->len + sizeof(tail) - 1;

    page.data = ngx_pnalloc(r->pool, len);
    if (page.data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(page.data, head, sizeof(head) - 1);
    s = (u_char *) ngx_escape_html(s, p->logout_uri.data, p->logout_uri.len);
    s = ngx_cpymem(s, middle, sizeof(middle) - 1);
    s = ngx_cpymem(s, csrf->data, csrf->len);
    s = ngx_cpymem(s, tail, sizeof(tail) - 1);
    page.len = s - page.data;

    /*
     * form-action also governs the redirects that follow the POST
     * (Chromium): the provider's end-session endpoint and an absolute
     * post_logout_uri are allowed too
     */
    len = sizeof("default-src 'none'; form-action 'self'; "
                 "frame-ancestors 'none'") - 1
          + (ep ? ep->end_session_endpoint.len : 0) + 1
          + p->post_logout_uri.len + 1;

    csp.data = ngx_pnalloc(r->pool, len);
    if (csp.data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(csp.data, "default-src 'none'; form-action 'self'",
                   sizeof("default-src 'none'; form-action 'self'") - 1);

    if (ep != NULL) {
        s = ngx_http_oidc_logout_csp_origin(s, &ep->end_session_endpoint);
    }

    s = ngx_http_oidc_logout_csp_origin(s, &p->post_logout_uri);
    s = ngx_cpymem(s, "; frame-ancestors 'none'",
                   sizeof("; frame-ancestors 'none'") - 1);
    csp.len = s - csp.data;

    return ngx_http_oidc_logout_send(r, NGX_HTTP_OK,
                                     "text/html; charset=utf-8", &page,
                                     &csp, 1);
}


/* " scheme://authority" of an absolute URL, when it is a safe source */

static u_char *
ngx_http_oidc_logout_csp_origin(u_char *dst, ngx_str_t *url)
{
    u_char               c;
    ngx_uint_t           i;
    ngx_http_oidc_url_t  u;

    if (url->len == 0 || url->data[0] == '/'
        || ngx_http_oidc_http_parse_url(url, &u) != NGX_OK)
    {
        return dst;
    }

    for (i = 0; i < u.authority.len; i++) {
        c = u.authority.data[i];

        if (!ngx_http_oidc_isalnum(c) && c != '.' && c != '-' && c != ':'
            && c != '[' && c != ']')
        {
            return dst;
        }
    }

    return ngx_sprintf(dst, " %s://%V", u.https ? "https" : "http",
                       &u.authority);
}


static ngx_int_t
ngx_http_oidc_logout_redirect(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_endpoints_t *ep,
    ngx_str_t *hint)
{
    size_t            len;
    ngx_str_t         url, back;
    ngx_oidc_err_t    err;
    ngx_oidc_param_t  params[3];

    ngx_str_set(&url, "/");

    if (p->post_logout_uri.len) {
        url = p->post_logout_uri;
    }

    if (ep == NULL || ep->end_session_endpoint.len == 0) {
        return ngx_http_oidc_redirect(r, &url);
    }

    ngx_memzero(params, sizeof(params));

    ngx_http_oidc_ostr_set(params[0].name, "client_id");
    ngx_http_oidc_ostr(params[0].value, p->client_id);
    ngx_http_oidc_ostr_set(params[1].name, "post_logout_redirect_uri");
    ngx_http_oidc_ostr_set(params[2].name, "id_token_hint");

    if (p->post_logout_uri.len) {
        if (ngx_http_oidc_logout_absolute(r, &p->post_logout_uri, &back)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_oidc_ostr(params[1].value, back);
    }

    if (hint != NULL) {
        ngx_http_oidc_ostr(params[2].value, *hint);
    }

    len = ngx_oidc_url_build_len((ngx_oidc_str_t *) &ep->end_session_endpoint,
                                 params, 3, NULL);

    url.data = ngx_pnalloc(r->pool, len);
    if (url.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_url_build((ngx_oidc_str_t *) &ep->end_session_endpoint,
                           params, 3, NULL, url.data, len, &url.len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: unusable end_session_endpoint of provider "
                      "\"%V\": %s", &p->name,
                      err.reason ? err.reason : "error");

        if (p->post_logout_uri.len) {
            url = p->post_logout_uri;

        } else {
            ngx_str_set(&url, "/");
        }
    }

    return ngx_http_oidc_redirect(r, &url);
}


/*
 * RFC 7009, fire and forget: the browser does not wait.  The fetch has
 * its own pool and copies what it sends, and its log keeps only the
 * file and level of the request's (see ngx_http_oidc_http_create()),
 * so nothing of the request is used once it ends; nothing cancels the
 * fetch then, and it ends within read_timeout.  The completion handler
 * gets the provider, which outlives the fetch, and logs on
 * ngx_cycle->log: the request is long gone by then.
 */

void
ngx_http_oidc_logout_revoke(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *token)
{
    ngx_oidc_param_t            params[2];
    ngx_http_oidc_http_t       *http;
    ngx_http_oidc_endpoints_t  *ep;

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL || ep->revocation_endpoint.len == 0) {
        return;
    }

    ngx_memzero(params, sizeof(params));

    ngx_http_oidc_ostr_set(params[0].name, "token");
    ngx_http_oidc_ostr(params[0].value, *token);
    ngx_http_oidc_ostr_set(params[1].name, "token_type_hint");
    ngx_http_oidc_ostr_set(params[1].value, "refresh_token");

    http = ngx_http_oidc_client_call(r->pool, r->connection->log, p,
                                     NGX_HTTP_OIDC_CALL_REVOCATION,
                                     &ep->revocation_endpoint,
                                     params, 2, ngx_http_oidc_logout_revoked,
                                     p);

    if (http == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: refresh token revocation at provider \"%V\" "
                      "not started", &p->name);
    }
}


static void
ngx_http_oidc_logout_revoked(ngx_http_oidc_http_response_t *resp, void *data)
{
    ngx_http_oidc_provider_t *p = data;

    if (resp->status == NGX_HTTP_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "oidc: refresh token revoked at provider \"%V\"",
                       &p->name);
        return;
    }

    if (resp->status == 0) {
        ngx_http_oidc_log_failure(ngx_cycle->log, p,
                                  NGX_HTTP_OIDC_EP_REVOCATION,
                                  "refresh token revocation failed: %s",
                                  resp->error ? resp->error
                                              : "unknown error");
        return;
    }

    ngx_http_oidc_log_failure(ngx_cycle->log, p, NGX_HTTP_OIDC_EP_REVOCATION,
                              "refresh token revocation failed: status %ui",
                              resp->status);
}


/* "http(s)://Host" of this request */

static ngx_int_t
ngx_http_oidc_logout_origin(ngx_http_request_t *r, ngx_str_t *origin)
{
    ngx_str_t  host;

    if (r->headers_in.host != NULL) {
        host = r->headers_in.host->value;

    } else {
        host = r->headers_in.server;
    }

    origin->data = ngx_pnalloc(r->pool, sizeof("https://") - 1 + host.len);
    if (origin->data == NULL) {
        return NGX_ERROR;
    }

    origin->len = ngx_sprintf(origin->data, "%s://%V",
                              r->connection->ssl ? "https" : "http", &host)
                  - origin->data;

    return NGX_OK;
}


/* post_logout_uri: a path is made absolute on this host */

static ngx_int_t
ngx_http_oidc_logout_absolute(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *out)
{
    ngx_str_t  origin;

    if (uri->data[0] != '/') {
        *out = *uri;
        return NGX_OK;
    }

    if (ngx_http_oidc_logout_origin(r, &origin) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(r->pool, origin.len + uri->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_cpymem(ngx_cpymem(out->data, origin.data, origin.len),
                          uri->data, uri->len)
               - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_logout_session(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, ngx_str_t *id,
    ngx_oidc_session_t *s)
{
    ngx_int_t       rc;
    ngx_str_t       name, value;
    ngx_oidc_err_t  err;

    if (ngx_http_oidc_cookie_name(r, p, NULL, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_oidc_cookie_get(r, &name, id) != NGX_OK
        || !ngx_http_oidc_token_valid(id, NGX_HTTP_OIDC_SESSION_ID_LEN))
    {
        return NGX_DECLINED;
    }

    if (ngx_http_oidc_store_key(r, p, 's', id, NULL, key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_oidc_store_get(r, key, &value, 0);

    if (rc != NGX_OK) {
        /* also NGX_AGAIN and NGX_HTTP_SERVICE_UNAVAILABLE (Redis) */
        return rc;
    }

    rc = ngx_oidc_session_decode(value.data, value.len, s, &err);

    if (rc != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: unreadable session record: %s", err.reason);
        ngx_http_oidc_store_delete(r, key);
        return (rc == NGX_OIDC_ERROR) ? NGX_ERROR : NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_logout_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_str_t *body, ngx_str_t *csp, ngx_uint_t deny_frames)
{
    ngx_str_t  no_store = ngx_string("no-store");
    ngx_str_t  deny = ngx_string("DENY");
    ngx_str_t  nosniff = ngx_string("nosniff");

    if (ngx_http_oidc_header_out(r, "Cache-Control", &no_store, NULL)
        != NGX_OK
        || ngx_http_oidc_header_out(r, "X-Content-Type-Options", &nosniff,
                                    NULL)
           != NGX_OK
        || (csp != NULL
            && ngx_http_oidc_header_out(r, "Content-Security-Policy", csp,
                                        NULL)
               != NGX_OK)
        || (deny_frames
            && ngx_http_oidc_header_out(r, "X-Frame-Options", &deny, NULL)
               != NGX_OK))
    {
        return NGX_ERROR;
    }

    return ngx_http_oidc_send(r, status, type, body);
}


const char *
ngx_http_oidc_logout_conf_check(ngx_http_oidc_provider_t *p)
{
    ngx_str_t   *a, *b, *paths[4];
    ngx_uint_t   i, j;

    a = &p->post_logout_uri;

    for (i = 0; i < a->len; i++) {
        if (a->data[i] <= 0x20 || a->data[i] >= 0x7f) {
            return "\"post_logout_uri\" holds a space or a control "
                   "character";
        }
    }

    if (a->len
        && a->data[0] != '/'
        && ngx_strncmp(a->data, "https://", 8) != 0
        && ngx_strncmp(a->data, "http://", 7) != 0)
    {
        return "\"post_logout_uri\" must be a path or an absolute URI";
    }

    paths[0] = &p->logout_uri;
    paths[1] = &p->backchannel_logout_uri;
    paths[2] = &p->frontchannel_logout_uri;
    paths[3] = &p->redirect_uri;

    for (i = 0; i < 3; i++) {
        a = paths[i];

        for (j = i + 1; j < 4; j++) {
            b = paths[j];

            if (a->len && a->len == b->len
                && ngx_strncmp(a->data, b->data, a->len) == 0)
            {
                return "\"logout_uri\", \"backchannel_logout_uri\", "
                       "\"frontchannel_logout_uri\" and \"redirect_uri\" "
                       "must differ";
            }
        }
    }

    return NULL;
}
