
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"


#define NGX_HTTP_OIDC_TOKEN_PARAMS_MAX  16


static ngx_int_t ngx_http_oidc_client_basic(ngx_http_request_t *r,
    ngx_http_oidc_client_auth_t *ca, ngx_str_t *header);


ngx_http_oidc_http_t *
ngx_http_oidc_token_post(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_oidc_param_t *params, size_t n, ngx_http_oidc_http_done_pt handler,
    void *data)
{
    ngx_http_oidc_endpoints_t  *ep;

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL || ep->token_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: provider \"%V\" has no token endpoint", &p->name);
        return NULL;
    }

    return ngx_http_oidc_client_post(r, p, &ep->token_endpoint, params, n,
                                     handler, data);
}


ngx_http_oidc_http_t *
ngx_http_oidc_client_post(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *endpoint, ngx_oidc_param_t *params, size_t n,
    ngx_http_oidc_http_done_pt handler, void *data)
{
    return ngx_http_oidc_client_post_as(r, p, p->client_auth, endpoint,
                                        params, n, handler, data);
}


ngx_http_oidc_http_t *
ngx_http_oidc_client_post_as(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_client_auth_t *ca,
    ngx_str_t *endpoint, ngx_oidc_param_t *params, size_t n,
    ngx_http_oidc_http_done_pt handler, void *data)
{
    size_t             len, i;
    ngx_str_t          form, url, basic, assertion, *hdr;
    ngx_oidc_param_t   all[NGX_HTTP_OIDC_TOKEN_PARAMS_MAX];

    /* room for the two parameters of client authentication */
    if (n + 2 > NGX_HTTP_OIDC_TOKEN_PARAMS_MAX) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        all[i] = params[i];
    }

    hdr = NULL;

    switch (ca->method) {

    case NGX_HTTP_OIDC_AUTH_BASIC:
        if (ngx_http_oidc_client_basic(r, ca, &basic) != NGX_OK) {
            return NULL;
        }

        hdr = &basic;
        break;

    case NGX_HTTP_OIDC_AUTH_POST:
        /* RFC 6749 2.3.1: both in the body */
        ngx_http_oidc_ostr_set(all[n].name, "client_id");
        ngx_http_oidc_ostr(all[n].value, ca->client_id);
        ngx_http_oidc_ostr_set(all[n + 1].name, "client_secret");
        ngx_http_oidc_ostr(all[n + 1].value, ca->client_secret);
        n += 2;
        break;

    case NGX_HTTP_OIDC_AUTH_JWT:
        /* RFC 7523 2.2, a new assertion for each call */
        if (ngx_http_oidc_client_assertion(r, p, ca, endpoint, &assertion)
            != NGX_OK)
        {
            return NULL;
        }

        ngx_http_oidc_ostr_set(all[n].name, "client_assertion_type");
        ngx_http_oidc_ostr_set(all[n].value,
                               "urn:ietf:params:oauth:client-assertion-type:"
                               "jwt-bearer");
        ngx_http_oidc_ostr_set(all[n + 1].name, "client_assertion");
        ngx_http_oidc_ostr(all[n + 1].value, assertion);
        n += 2;
        break;

    default: /* NGX_HTTP_OIDC_AUTH_NONE */
        /* a public client (PKCE) names itself in the body */
        ngx_http_oidc_ostr_set(all[n].name, "client_id");
        ngx_http_oidc_ostr(all[n].value, ca->client_id);
        n++;
    }

    len = ngx_oidc_form_build_len(all, n, NGX_OIDC_URL_FORM);

    form.data = ngx_pnalloc(r->pool, len);
    url.data = ngx_pstrdup(r->pool, endpoint);

    if (form.data == NULL || url.data == NULL) {
        return NULL;
    }

    form.len = ngx_oidc_form_build(form.data, all, n, NGX_OIDC_URL_FORM);
    url.len = endpoint->len;

    return ngx_http_oidc_http_post_form(p, &url, &form, hdr,
                                        r->connection->log, handler, data);
}


/* client_secret_basic: RFC 6749 2.3.1, each part form-encoded */

static ngx_int_t
ngx_http_oidc_client_basic(ngx_http_request_t *r,
    ngx_http_oidc_client_auth_t *ca, ngx_str_t *header)
{
    size_t     len;
    u_char    *s;
    ngx_str_t  cred, b64;

    len = ngx_oidc_url_escape_len(ca->client_id.data, ca->client_id.len,
                                  NGX_OIDC_URL_FORM)
          + 1 + ngx_oidc_url_escape_len(ca->client_secret.data,
                                        ca->client_secret.len,
                                        NGX_OIDC_URL_FORM);

    cred.data = ngx_pnalloc(r->pool, len);
    header->data = ngx_pnalloc(r->pool, sizeof("Authorization: Basic ") - 1
                               + ngx_base64_encoded_length(len) + 2);
    if (cred.data == NULL || header->data == NULL) {
        return NGX_ERROR;
    }

    s = cred.data;
    s += ngx_oidc_url_escape(s, ca->client_id.data, ca->client_id.len,
                             NGX_OIDC_URL_FORM);
    *s++ = ':';
    s += ngx_oidc_url_escape(s, ca->client_secret.data, ca->client_secret.len,
                             NGX_OIDC_URL_FORM);
    cred.len = s - cred.data;

    s = ngx_cpymem(header->data, "Authorization: Basic ",
                   sizeof("Authorization: Basic ") - 1);
    b64.data = s;
    ngx_encode_base64(&b64, &cred);
    s += b64.len;
    *s++ = CR; *s++ = LF;
    header->len = s - header->data;

    return NGX_OK;
}
