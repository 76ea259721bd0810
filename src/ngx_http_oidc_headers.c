
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


static ngx_int_t ngx_http_oidc_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_oidc_claim_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_oidc_token_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_oidc_render(ngx_http_request_t *r, json_t *value,
    ngx_http_variable_value_t *v);
static void ngx_http_oidc_claim_path_cleanup(void *data);
static ngx_uint_t ngx_http_oidc_header_match(ngx_table_elt_t *h,
    ngx_array_t *headers, ngx_http_oidc_main_conf_t *omcf, ngx_uint_t ours);


static ngx_http_variable_t  ngx_http_oidc_vars[] = {

    { ngx_string("oidc_claim_"), NULL, ngx_http_oidc_claim_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("oidc_access_token"), NULL, ngx_http_oidc_token_variable,
      offsetof(ngx_http_oidc_ctx_t, token), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oidc_id_token"), NULL, ngx_http_oidc_token_variable,
      offsetof(ngx_http_oidc_ctx_t, id_token), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_oidc_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_oidc_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* the verified claims of this request */

json_t *
ngx_http_oidc_claims(ngx_http_request_t *r)
{
    ngx_http_oidc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);

    return (ctx != NULL) ? ctx->claims : NULL;
}


static ngx_int_t
ngx_http_oidc_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    json_t     *claims;
    ngx_str_t  *name = (ngx_str_t *) data;

    u_char     *p;
    size_t      prefix;

    v->not_found = 1;

    claims = ngx_http_oidc_claims(r);

    if (claims == NULL) {
        return NGX_OK;
    }

    prefix = sizeof("oidc_claim_") - 1;

    /* jansson looks members up by NUL-terminated name */
    p = ngx_pnalloc(r->pool, name->len - prefix + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(p, name->data + prefix, name->len - prefix + 1);

    return ngx_http_oidc_render(r, json_object_get(claims, (char *) p), v);
}


static ngx_int_t
ngx_http_oidc_claim_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_oidc_claim_var_t  *cvar = (ngx_http_oidc_claim_var_t *) data;

    json_t  *claims;

    v->not_found = 1;

    claims = ngx_http_oidc_claims(r);

    if (claims == NULL) {
        return NGX_OK;
    }

    return ngx_http_oidc_render(r, ngx_oidc_claim_path_get(claims,
                                                           cvar->path), v);
}


static ngx_int_t
ngx_http_oidc_render(ngx_http_request_t *r, json_t *value,
    ngx_http_variable_value_t *v)
{
    int       rc;
    size_t    len;
    u_char   *out;

    if (value == NULL) {
        return NGX_OK;
    }

    rc = ngx_oidc_json_render(value, &out, &len);

    if (rc == NGX_OIDC_DECLINED) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oidc: claim value ignored: it has a control "
                      "character, is nested too deeply or is too long");
        return NGX_OK;
    }

    if (rc != NGX_OIDC_OK) {
        return NGX_ERROR;
    }

    v->data = ngx_pnalloc(r->pool, len);
    if (v->data == NULL) {
        free(out);
        return NGX_ERROR;
    }

    ngx_memcpy(v->data, out, len);
    free(out);

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_token_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t            *token;
    ngx_http_oidc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);

    /* claims are set once the token or session is verified */
    if (ctx == NULL || ctx->claims == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* "data": the offset of the token's ngx_str_t in the request ctx */
    token = (ngx_str_t *) ((u_char *) ctx + data);

    if (token->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = token->data;
    v->len = token->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* auth_oidc_claim_set $variable name [name ...]; */

char *
ngx_http_oidc_claim_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_main_conf_t *omcf = conf;

    ngx_str_t                  *value, name;
    ngx_pool_cleanup_t         *cln;
    ngx_http_variable_t        *v;
    ngx_http_oidc_claim_var_t  *cvar;

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = value[1].len - 1;
    name.data = value[1].data + 1;

    cvar = ngx_array_push(&omcf->claim_vars);
    if (cvar == NULL) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cvar->path = ngx_oidc_claim_path_create((ngx_oidc_str_t *) &value[2],
                                            cf->args->nelts - 2);
    if (cvar->path == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_oidc_claim_path_cleanup;
    cln->data = cvar->path;

    v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_CHANGEABLE);
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    cvar->index = ngx_http_get_variable_index(cf, &name);
    if (cvar->index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    v->get_handler = ngx_http_oidc_claim_set_variable;
    v->data = (uintptr_t) cvar;

    return NGX_CONF_OK;
}


static void
ngx_http_oidc_claim_path_cleanup(void *data)
{
    ngx_oidc_claim_path_free(data);
}


/*
 * auth_oidc_header NAME VALUE: every client-sent copy of NAME, in any
 * case and with "_" for "-" (X_User for X-User), is removed first, so
 * an upstream that folds "_" into "-" cannot be given a forged value;
 * then NAME is added with VALUE unless VALUE is empty.  The removal is
 * done by the access handler when it first sees the request in this
 * location (ngx_http_oidc_headers_strip()), before any verdict.
 */

ngx_int_t
ngx_http_oidc_headers_apply(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf)
{
    ngx_str_t                value;
    ngx_uint_t               i, j;
    ngx_table_elt_t         *h;
    ngx_http_oidc_header_t  *oh;

    if (olcf->headers == NULL) {
        return NGX_OK;
    }

    oh = olcf->headers->elts;

    for (i = 0; i < olcf->headers->nelts; i++) {

        if (ngx_http_complex_value(r, &oh[i].value, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (value.len == 0) {
            continue;
        }

        for (j = 0; j < value.len; j++) {
            if (value.data[j] < 0x20 || value.data[j] == 0x7f) {
                break;
            }
        }

        if (j < value.len) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "oidc: header \"%V\" not set: value has a "
                          "control character", &oh[i].name);
            continue;
        }

        h = ngx_list_push(&r->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->key = oh[i].name;
        h->value = value;
        h->lowcase_key = oh[i].norm.data;
        h->hash = ngx_hash_key(oh[i].norm.data, oh[i].norm.len);
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
    }

    return NGX_OK;
}


/* rebuilds the list of request headers without the protected names */

ngx_int_t
ngx_http_oidc_headers_strip(ngx_http_request_t *r, ngx_array_t *headers,
    ngx_uint_t ours)
{
    ngx_uint_t                  i, n;
    ngx_list_t                  old;
    ngx_table_elt_t            *h, *nh;
    ngx_list_part_t            *part;
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            n += ngx_http_oidc_header_match(&h[i], headers, omcf, ours);
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oidc: removing %ui protected headers", n);

    /* in place: a list's "last" points into the list structure itself */
    old = r->headers_in.headers;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (part = &old.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_oidc_header_match(&h[i], headers, omcf, ours)) {
                continue;
            }

            nh = ngx_list_push(&r->headers_in.headers);
            if (nh == NULL) {
                return NGX_ERROR;
            }

            *nh = h[i];
        }
    }

    return NGX_OK;
}


/*
 * 1 if "h" has one of the protected names; a header this module added
 * (its lowcase_key points to a directive's name) only if "ours" is set
 */

static ngx_uint_t
ngx_http_oidc_header_match(ngx_table_elt_t *h, ngx_array_t *headers,
    ngx_http_oidc_main_conf_t *omcf, ngx_uint_t ours)
{
    u_char                   c, **key;
    ngx_uint_t               i, k;
    ngx_http_oidc_header_t  *oh;

    oh = headers->elts;

    for (i = 0; i < headers->nelts; i++) {

        if (h->key.len != oh[i].norm.len) {
            continue;
        }

        for (k = 0; k < h->key.len; k++) {
            c = ngx_tolower(h->key.data[k]);

            if (c == '_') {
                c = '-';
            }

            if (c != oh[i].norm.data[k]) {
                break;
            }
        }

        if (k == h->key.len) {
            break;
        }
    }

    if (i == headers->nelts) {
        return 0;
    }

    if (ours) {
        return 1;
    }

    key = omcf->header_keys.elts;

    for (i = 0; i < omcf->header_keys.nelts; i++) {
        if (h->lowcase_key == key[i]) {
            return 0;
        }
    }

    return 1;
}
