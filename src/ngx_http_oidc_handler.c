
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


static ngx_int_t ngx_http_oidc_authorize(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx);
static ngx_int_t ngx_http_oidc_challenge(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx,
    ngx_int_t status);
static u_char *ngx_http_oidc_quote(u_char *p, ngx_str_t *s);
static u_char *ngx_http_oidc_escape(u_char *p, ngx_str_t *s);
static void ngx_http_oidc_ctx_cleanup(void *data);


ngx_int_t
ngx_http_oidc_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_pool_cleanup_t        *cln;
    ngx_http_oidc_ctx_t       *ctx;
    ngx_http_oidc_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);

    if (!olcf->enable) {
        /* forged copies never pass, even where no token is checked */
        if (olcf->headers != NULL
            && ngx_http_oidc_headers_strip(r, olcf->headers, 0) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_oidc_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_oidc_ctx_cleanup;
        cln->data = ctx;

        ngx_http_set_ctx(r, ctx, ngx_http_oidc_module);

        /*
         * before any verdict: with "satisfy any" another access module
         * may let the request in whatever this one decides
         */
        if (olcf->headers != NULL
            && ngx_http_oidc_headers_strip(r, olcf->headers, 1) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->state == NGX_HTTP_OIDC_DONE) {
        return ctx->verdict;
    }

    if (ctx->state == NGX_HTTP_OIDC_START && olcf->smart != NULL) {
        /* SMART on FHIR: open capabilities, a POST _search's body */
        rc = ngx_http_oidc_smart_start(r, olcf, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = NGX_DECLINED;

    if (ctx->state == NGX_HTTP_OIDC_START) {
        /* the callback, a session cookie, or the login redirect */
        rc = ngx_http_oidc_browser_handler(r, olcf, ctx);

        if (rc == NGX_AGAIN || rc == NGX_DONE) {
            return rc;
        }
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_oidc_bearer_authenticate(r, olcf, ctx);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }
    }

    if (rc == NGX_OK) {
        rc = ngx_http_oidc_authorize(r, olcf, ctx);

        if (rc == NGX_DONE) {
            /* a refusal page was sent: the request may be freed */
            return NGX_DONE;
        }
    }

    if (rc == NGX_HTTP_UNAUTHORIZED || rc == NGX_HTTP_FORBIDDEN) {
        rc = ngx_http_oidc_challenge(r, olcf, ctx, rc);
    }

    if (rc != NGX_OK) {
        /*
         * with "satisfy any" another module may still let the request
         * in: the variables must not carry an identity refused here
         */
        ngx_str_null(&ctx->token);
        ngx_str_null(&ctx->id_token);

        if (ctx->claims != NULL) {
            json_decref(ctx->claims);
            ctx->claims = NULL;
        }
    }

    ctx->state = NGX_HTTP_OIDC_DONE;
    ctx->verdict = rc;

    return rc;
}


/* what the location requires of an authenticated token */

static ngx_int_t
ngx_http_oidc_authorize(ngx_http_request_t *r, ngx_http_oidc_loc_conf_t *olcf,
    ngx_http_oidc_ctx_t *ctx)
{
    json_t                    *claims;
    ngx_int_t                  rc;
    ngx_str_t                  val, *scope;
    ngx_uint_t                 i;
    ngx_http_complex_value_t  *cv;

    if (olcf->scopes != NULL) {
        claims = ngx_http_oidc_claims(r);
        if (claims == NULL) {
            return NGX_ERROR;
        }

        scope = olcf->scopes->elts;

        for (i = 0; i < olcf->scopes->nelts; i++) {
            if (!ngx_oidc_claims_has_scope(claims, scope[i].data,
                                           scope[i].len))
            {
                ngx_http_oidc_refuse(r, olcf->provider,
                                     NGX_HTTP_OIDC_M_TOKEN_REFUSED_SCOPE,
                                     "token lacks scope \"%V\"", &scope[i]);
                ctx->error = "insufficient_scope";
                return NGX_HTTP_FORBIDDEN;
            }
        }
    }

    if (olcf->require != NULL) {
        cv = olcf->require->elts;

        for (i = 0; i < olcf->require->nelts; i++) {
            if (ngx_http_complex_value(r, &cv[i], &val) != NGX_OK) {
                return NGX_ERROR;
            }

            if (val.len == 0 || (val.len == 1 && val.data[0] == '0')) {
                ngx_http_oidc_refuse(r, olcf->provider,
                                     NGX_HTTP_OIDC_M_TOKEN_REFUSED_REQUIRE,
                                     "auth_oidc_require \"%V\" not met",
                                     &cv[i].value);
                ctx->error = (olcf->require_status == NGX_HTTP_UNAUTHORIZED)
                             ? "invalid_token" : NULL;
                return olcf->require_status;
            }
        }
    }

    /* before the headers: they may pass $oidc_smart_patient */
    if (olcf->smart != NULL) {
        rc = ngx_http_oidc_smart_authorize(r, olcf, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_oidc_headers_apply(r, olcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* RFC 6750 section 3; 403 without an error code has no challenge */

static ngx_int_t
ngx_http_oidc_challenge(ngx_http_request_t *r, ngx_http_oidc_loc_conf_t *olcf,
    ngx_http_oidc_ctx_t *ctx, ngx_int_t status)
{
    ngx_str_t   *scopes;
    ngx_uint_t   n;

    if (status == NGX_HTTP_FORBIDDEN && ctx->error == NULL) {
        return status;
    }

    scopes = NULL;
    n = 0;

    if (status == NGX_HTTP_FORBIDDEN && olcf->scopes != NULL) {
        scopes = olcf->scopes->elts;
        n = olcf->scopes->nelts;
    }

    if (ngx_http_oidc_www_authenticate(r, &olcf->realm, ctx->error, scopes,
                                       n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return status;
}


ngx_int_t
ngx_http_oidc_www_authenticate(ngx_http_request_t *r, ngx_str_t *realm,
    const char *error, ngx_str_t *scopes, ngx_uint_t n)
{
    size_t            len;
    u_char           *p;
    ngx_str_t         err;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    len = sizeof("Bearer realm=\"\"") - 1 + 2 * realm->len;

    if (error != NULL) {
        len += sizeof(", error=\"\"") - 1 + ngx_strlen(error);
    }

    if (n > 0) {
        len += sizeof(", scope=\"\"") - 1;

        for (i = 0; i < n; i++) {
            len += 2 * scopes[i].len + 1;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value.data = p;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    p = ngx_cpymem(p, "Bearer realm=", sizeof("Bearer realm=") - 1);
    p = ngx_http_oidc_quote(p, realm);

    if (error != NULL) {
        err.data = (u_char *) error;
        err.len = ngx_strlen(error);

        p = ngx_cpymem(p, ", error=", sizeof(", error=") - 1);
        p = ngx_http_oidc_quote(p, &err);
    }

    if (n > 0) {
        p = ngx_cpymem(p, ", scope=\"", sizeof(", scope=\"") - 1);

        for (i = 0; i < n; i++) {
            if (i > 0) {
                *p++ = ' ';
            }

            p = ngx_http_oidc_escape(p, &scopes[i]);
        }

        *p++ = '"';
    }

    h->value.len = p - h->value.data;

    r->headers_out.www_authenticate = h;

    return NGX_OK;
}


/* a quoted-string: '"' and '\' escaped */

static u_char *
ngx_http_oidc_quote(u_char *p, ngx_str_t *s)
{
    *p++ = '"';
    p = ngx_http_oidc_escape(p, s);
    *p++ = '"';

    return p;
}


static u_char *
ngx_http_oidc_escape(u_char *p, ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '"' || s->data[i] == '\\') {
            *p++ = '\\';
        }

        *p++ = s->data[i];
    }

    return p;
}


static void
ngx_http_oidc_ctx_cleanup(void *data)
{
    ngx_http_oidc_ctx_t  *ctx = data;

    if (ctx->claims != NULL) {
        json_decref(ctx->claims);
        ctx->claims = NULL;
    }

    if (ctx->session != NULL) {
        json_decref(ctx->session);
        ctx->session = NULL;
    }
}
