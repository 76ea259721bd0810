
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"


#define NGX_HTTP_OIDC_TOKEN_PARAMS_MAX  16


static ngx_int_t ngx_http_oidc_client_authenticate(ngx_pool_t *pool,
    ngx_log_t *log, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_client_auth_t *ca, ngx_uint_t method, ngx_str_t *endpoint, ngx_oidc_param_t *params, size_t *n,
    ngx_str_t *auth, ngx_str_t **hdr);
static ngx_int_t ngx_http_oidc_client_body(ngx_pool_t *pool,
    ngx_http_oidc_provider_t *p, ngx_oidc_param_t *params, size_t n,
    ngx_str_t *body);
static ngx_int_t ngx_http_oidc_client_basic(ngx_pool_t *pool,
    ngx_http_oidc_client_auth_t *ca, ngx_str_t *header);
static ngx_int_t ngx_http_oidc_client_bearer(ngx_pool_t *pool,
    ngx_log_t *log, ngx_http_oidc_provider_t *p, ngx_str_t *header);


ngx_http_oidc_http_t *
ngx_http_oidc_token_post(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_uint_t call, ngx_oidc_param_t *params, size_t n,
    ngx_http_oidc_http_done_pt handler, void *data)
{
    ngx_http_oidc_endpoints_t  *ep;

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL || ep->token_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: provider \"%V\" has no token endpoint", &p->name);
        return NULL;
    }

    return ngx_http_oidc_client_call(r->pool, r->connection->log, p, call,
                                     &ep->token_endpoint, params, n, handler,
                                     data);
}



ngx_http_oidc_http_t *
ngx_http_oidc_client_call(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oidc_provider_t *p, ngx_uint_t call, ngx_str_t *endpoint,
    ngx_oidc_param_t *params, size_t n, ngx_http_oidc_http_done_pt handler,
    void *data)
{
    size_t                        i;
    ngx_str_t                     body, url, auth, *hdr;
    ngx_uint_t                    method;
    ngx_oidc_param_t              all[NGX_HTTP_OIDC_TOKEN_PARAMS_MAX];
    ngx_http_oidc_client_auth_t  *ca;
    ngx_http_oidc_token_param_t  *tp;

    if (n > NGX_HTTP_OIDC_TOKEN_PARAMS_MAX) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        all[i] = params[i];
    }

    /* the provider's extra parameters of this call (audience, ...) */
    tp = p->token_params ? p->token_params->elts : NULL;

    for (i = 0; tp && i < p->token_params->nelts; i++) {
        if (!(tp[i].calls & ((ngx_uint_t) 1 << call))) {
            continue;
        }

        /* room kept for the two parameters of client authentication */
        if (n + 2 >= NGX_HTTP_OIDC_TOKEN_PARAMS_MAX) {
            return NULL;
        }

        ngx_memzero(&all[n], sizeof(ngx_oidc_param_t));
        ngx_http_oidc_ostr(all[n].name, tp[i].name);
        ngx_http_oidc_ostr(all[n].value, tp[i].value);
        n++;
    }

    if (n + 2 > NGX_HTTP_OIDC_TOKEN_PARAMS_MAX) {
        return NULL;
    }

    ngx_memzero(&all[n], 2 * sizeof(ngx_oidc_param_t));

    /* introspection may have credentials of its own */
    ca = (call == NGX_HTTP_OIDC_CALL_INTROSPECTION && p->introspection_auth)
         ? p->introspection_auth : p->client_auth;

    method = ca->call[call] ? ca->call[call] : ca->method;

    if (ngx_http_oidc_client_authenticate(pool, log, p, ca, method, endpoint,
                                          &all[n], &n, &auth, &hdr)
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_http_oidc_client_body(pool, p, all, n, &body) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oidc: request to provider \"%V\" not built", &p->name);
        return NULL;
    }

    url.data = ngx_pstrdup(pool, endpoint);
    if (url.data == NULL) {
        return NULL;
    }

    url.len = endpoint->len;

    return ngx_http_oidc_http_post_form(p, &url, &body, hdr, log, handler,
                                        data);
}


/*
 * The client's authentication by "method": a header line in *auth (*hdr
 * points to it), or up to two parameters at "params" (*n grows)
 */

static ngx_int_t
ngx_http_oidc_client_authenticate(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_client_auth_t *ca,
    ngx_uint_t method, ngx_str_t *endpoint,
    ngx_oidc_param_t *params, size_t *n, ngx_str_t *auth, ngx_str_t **hdr)
{
    ngx_str_t  assertion;

    *hdr = NULL;

    switch (method) {

    case NGX_HTTP_OIDC_AUTH_BASIC:
        if (ngx_http_oidc_client_basic(pool, ca, auth) != NGX_OK) {
            return NGX_ERROR;
        }

        *hdr = auth;
        break;

    case NGX_HTTP_OIDC_AUTH_CLIENT_TOKEN:
        /* Dintero: the client's own client credentials token */
        if (ngx_http_oidc_client_bearer(pool, log, p, auth) != NGX_OK) {
            return NGX_ERROR;
        }

        *hdr = auth;
        break;

    case NGX_HTTP_OIDC_AUTH_POST:
        /* RFC 6749 2.3.1: both in the body */
        ngx_http_oidc_ostr_set(params[0].name, "client_id");
        ngx_http_oidc_ostr(params[0].value, ca->client_id);
        ngx_http_oidc_ostr_set(params[1].name, "client_secret");
        ngx_http_oidc_ostr(params[1].value, ca->client_secret);
        *n += 2;
        break;

    case NGX_HTTP_OIDC_AUTH_JWT:
        /* RFC 7523 2.2, a new assertion for each call */
        if (ngx_http_oidc_client_assertion(pool, log, p, ca, endpoint,
                                           &assertion)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_oidc_ostr_set(params[0].name, "client_assertion_type");
        ngx_http_oidc_ostr_set(params[0].value,
                               "urn:ietf:params:oauth:client-assertion-type:"
                               "jwt-bearer");
        ngx_http_oidc_ostr_set(params[1].name, "client_assertion");
        ngx_http_oidc_ostr(params[1].value, assertion);
        *n += 2;
        break;

    default: /* NGX_HTTP_OIDC_AUTH_NONE */
        /* a public client (PKCE) names itself in the body */
        ngx_http_oidc_ostr_set(params[0].name, "client_id");
        ngx_http_oidc_ostr(params[0].value, ca->client_id);
        (*n)++;
    }

    return NGX_OK;
}


/*
 * A form (RFC 6749), or for providers that take only JSON (Dintero) an
 * object of strings; the client sends a body starting with "{" as JSON
 */

static ngx_int_t
ngx_http_oidc_client_body(ngx_pool_t *pool, ngx_http_oidc_provider_t *p,
    ngx_oidc_param_t *params, size_t n, ngx_str_t *body)
{
    char    *text;
    size_t   i, len;
    json_t  *obj;

    if (!p->token_json) {
        len = ngx_oidc_form_build_len(params, n, NGX_OIDC_URL_FORM);

        body->data = ngx_pnalloc(pool, len);
        if (body->data == NULL) {
            return NGX_ERROR;
        }

        body->len = ngx_oidc_form_build(body->data, params, n,
                                        NGX_OIDC_URL_FORM);
        return NGX_OK;
    }

    obj = json_object();
    if (obj == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        /* names are configuration or ours: no NUL in them */
        if (json_object_setn_new(obj, (char *) params[i].name.data,
                                 params[i].name.len,
                                 json_stringn((char *) params[i].value.data,
                                              params[i].value.len))
            != 0)
        {
            json_decref(obj);
            return NGX_ERROR;
        }
    }

    text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);

    if (text == NULL) {
        return NGX_ERROR;
    }

    body->len = ngx_strlen(text);
    body->data = ngx_pnalloc(pool, body->len);

    if (body->data != NULL) {
        ngx_memcpy(body->data, text, body->len);
    }

    /* it may hold a secret or a refresh token */
    ngx_explicit_memzero(text, body->len);
    free(text);

    return body->data ? NGX_OK : NGX_ERROR;
}


/* client_secret_basic: RFC 6749 2.3.1, each part form-encoded */

static ngx_int_t
ngx_http_oidc_client_basic(ngx_pool_t *pool, ngx_http_oidc_client_auth_t *ca,
    ngx_str_t *header)
{
    size_t     len;
    u_char    *s;
    ngx_str_t  cred, b64;

    len = ngx_oidc_url_escape_len(ca->client_id.data, ca->client_id.len,
                                  NGX_OIDC_URL_FORM)
          + 1 + ngx_oidc_url_escape_len(ca->client_secret.data,
                                        ca->client_secret.len,
                                        NGX_OIDC_URL_FORM);

    cred.data = ngx_pnalloc(pool, len);
    header->data = ngx_pnalloc(pool, sizeof("Authorization: Basic ") - 1
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


/* Authorization: Bearer, the provider's own client credentials token */

static ngx_int_t
ngx_http_oidc_client_bearer(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oidc_provider_t *p, ngx_str_t *header)
{
    u_char     *s;
    ngx_str_t   token;

    if (ngx_http_oidc_client_token_current(p, pool, log, &token) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oidc: provider \"%V\": no client credentials token "
                      "for the client's authentication yet", &p->name);
        return NGX_ERROR;
    }

    header->data = ngx_pnalloc(pool, sizeof("Authorization: Bearer " CRLF)
                                     - 1 + token.len);
    if (header->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(header->data, "Authorization: Bearer ",
                   sizeof("Authorization: Bearer ") - 1);
    s = ngx_cpymem(s, token.data, token.len);
    *s++ = CR; *s++ = LF;
    header->len = s - header->data;

    return NGX_OK;
}
