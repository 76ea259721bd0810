
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <string.h>
#include <strings.h>

#include "ngx_oidc_introspection.h"
#include "ngx_oidc_json.h"
#include "ngx_oidc_jose.h"


static int ngx_oidc_introspection_token_type(json_t *claims,
    ngx_oidc_err_t *err);


int
ngx_oidc_introspection_check(const unsigned char *body, size_t len,
    size_t max, const ngx_oidc_claims_check_t *check, json_t **claims,
    ngx_oidc_err_t *err)
{
    int      rc;
    json_t  *j, *active;

    *claims = NULL;

    if (check == NULL || check->issuer.len == 0) {
        ngx_oidc_err_set(err, "claims check not configured", NULL);
        return NGX_OIDC_ERROR;
    }

    j = ngx_oidc_json_parse(body, len, max, err);

    if (j == NULL) {
        return NGX_OIDC_ERROR;
    }

    active = json_object_get(j, "active");

    if (active == NULL) {
        ngx_oidc_err_set(err, "active missing", NULL);
        rc = NGX_OIDC_ERROR;
        goto failed;
    }

    /* RFC 7662 2.2: a boolean; "true" or 1 is a broken answer */
    if (!json_is_boolean(active)) {
        ngx_oidc_err_set(err, "active is not a boolean", NULL);
        rc = NGX_OIDC_ERROR;
        goto failed;
    }

    if (!json_is_true(active)) {
        ngx_oidc_err_set(err, "token not active", NULL);
        rc = NGX_OIDC_DECLINED;
        goto failed;
    }

    rc = ngx_oidc_introspection_token_type(j, err);
    if (rc != NGX_OIDC_OK) {
        goto failed;
    }

    rc = ngx_oidc_claims_check_access(NULL, j, check, err);
    if (rc != NGX_OIDC_OK) {
        goto failed;
    }

    *claims = j;

    return NGX_OIDC_OK;

failed:

    json_decref(j);

    return rc;
}


static int
ngx_oidc_introspection_token_type(json_t *claims, ngx_oidc_err_t *err)
{
    size_t       len;
    json_t      *v;
    const char  *s;

    v = json_object_get(claims, "token_type");

    if (v == NULL) {
        return NGX_OIDC_OK;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "token_type is not a string");
        return NGX_OIDC_DECLINED;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if ((len == 6 && strncasecmp(s, "bearer", 6) == 0)
        || (len == 12 && memcmp(s, "access_token", 12) == 0)
        || (len == sizeof("urn:ietf:params:oauth:token-type:access_token") - 1
            && memcmp(s, "urn:ietf:params:oauth:token-type:access_token",
                      len) == 0))
    {
        return NGX_OIDC_OK;
    }

    ngx_oidc_err_set(err, "token_type is not an access token", NULL);

    return NGX_OIDC_DECLINED;
}


int
ngx_oidc_introspection_unsupported(const unsigned char *body, size_t len,
    size_t max)
{
    int              yes;
    json_t          *j;
    const char      *code;
    ngx_oidc_err_t   err;

    j = ngx_oidc_json_parse(body, len, max, &err);

    if (j == NULL) {
        return 0;
    }

    code = json_string_value(json_object_get(j, "error"));

    yes = (code != NULL && strcmp(code, "unsupported_token_type") == 0);

    json_decref(j);

    return yes;
}


int
ngx_oidc_introspection_is_jwt(const unsigned char *token, size_t len,
    size_t max, const ngx_oidc_str_t *issuer)
{
    int              ours;
    size_t           i, dots;
    json_t          *iss;
    ngx_oidc_jws_t   jws;
    ngx_oidc_err_t   err;

    /* the common opaque token costs a scan, not a decode */
    dots = 0;

    for (i = 0; i < len; i++) {
        if (token[i] == '.') {
            dots++;
        }
    }

    if (dots != 2) {
        return 0;
    }

    if (ngx_oidc_jws_decode(&jws, token, len, max, &err) != NGX_OIDC_OK) {
        return 0;
    }

    iss = json_object_get(jws.payload, "iss");

    ours = json_is_string(iss)
           && json_string_length(iss) == issuer->len
           && memcmp(json_string_value(iss), issuer->data, issuer->len) == 0;

    ngx_oidc_jws_free(&jws);

    return ours;
}
