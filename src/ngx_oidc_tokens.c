
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <string.h>

#include "ngx_oidc_tokens.h"


static int ngx_oidc_tokens_string(json_t *v, ngx_oidc_str_t *s,
    int printable);
static int ngx_oidc_tokens_expires_in(json_t *v, time_t *expires_in);


int
ngx_oidc_tokens_parse(json_t *response, ngx_oidc_tokens_t *tokens,
    ngx_oidc_err_t *err)
{
    json_t  *v;

    memset(tokens, 0, sizeof(ngx_oidc_tokens_t));

    if (!json_is_object(response)) {
        ngx_oidc_err_set(err, "not an object", NULL);
        return NGX_OIDC_DECLINED;
    }

    v = json_object_get(response, "access_token");

    if (v == NULL || json_is_null(v)) {
        ngx_oidc_err_set(err, "access_token missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (ngx_oidc_tokens_string(v, &tokens->access_token, 1) != NGX_OIDC_OK) {
        ngx_oidc_err_set(err, "invalid access_token", NULL);
        return NGX_OIDC_DECLINED;
    }

    v = json_object_get(response, "refresh_token");

    if (v != NULL && !json_is_null(v)
        && ngx_oidc_tokens_string(v, &tokens->refresh_token, 1)
           != NGX_OIDC_OK)
    {
        ngx_oidc_err_set(err, "invalid refresh_token", NULL);
        return NGX_OIDC_DECLINED;
    }

    v = json_object_get(response, "id_token");

    if (v != NULL && !json_is_null(v)
        && ngx_oidc_tokens_string(v, &tokens->id_token, 0) != NGX_OIDC_OK)
    {
        ngx_oidc_err_set(err, "invalid id_token", NULL);
        return NGX_OIDC_DECLINED;
    }

    v = json_object_get(response, "expires_in");

    if (v != NULL && !json_is_null(v)
        && ngx_oidc_tokens_expires_in(v, &tokens->expires_in) != NGX_OIDC_OK)
    {
        ngx_oidc_err_set(err, "invalid expires_in", NULL);
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


/* a non-empty string of at most NGX_OIDC_TOKEN_MAX bytes */

static int
ngx_oidc_tokens_string(json_t *v, ngx_oidc_str_t *s, int printable)
{
    size_t  i;

    if (!json_is_string(v)) {
        return NGX_OIDC_DECLINED;
    }

    s->data = (unsigned char *) json_string_value(v);
    s->len = json_string_length(v);

    if (s->len == 0 || s->len > NGX_OIDC_TOKEN_MAX) {
        return NGX_OIDC_DECLINED;
    }

    /* RFC 6749 A.12 and A.17 allow spaces; a Bearer credential cannot */
    for (i = 0; printable && i < s->len; i++) {
        if (s->data[i] < 0x21 || s->data[i] > 0x7e) {
            return NGX_OIDC_DECLINED;
        }
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_tokens_expires_in(json_t *v, time_t *expires_in)
{
    size_t       i, len;
    json_int_t   n;
    const char  *s;

    if (json_is_integer(v)) {
        n = json_integer_value(v);

    } else if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);

        if (len == 0 || len > 9) {
            return NGX_OIDC_DECLINED;
        }

        n = 0;

        for (i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return NGX_OIDC_DECLINED;
            }

            n = n * 10 + (s[i] - '0');
        }

    } else {
        return NGX_OIDC_DECLINED;
    }

    if (n < 1 || n > NGX_OIDC_EXPIRES_IN_MAX) {
        return NGX_OIDC_DECLINED;
    }

    *expires_in = (time_t) n;

    return NGX_OIDC_OK;
}


json_t *
ngx_oidc_tokens_extras(json_t *response)
{
    size_t       i;
    json_t      *extras, *value;
    const char  *name;

    static const char  *tokens[] = {
        "access_token", "refresh_token", "id_token", "token_type",
        "expires_in", NULL
    };

    if (!json_is_object(response)) {
        return NULL;
    }

    extras = json_object();
    if (extras == NULL) {
        return NULL;
    }

    json_object_foreach(response, name, value) {
        for (i = 0; tokens[i] != NULL; i++) {
            if (strcmp(name, tokens[i]) == 0) {
                break;
            }
        }

        if (tokens[i] == NULL
            && json_object_set(extras, name, value) != 0)
        {
            json_decref(extras);
            return NULL;
        }
    }

    if (json_object_size(extras) == 0) {
        json_decref(extras);
        return NULL;
    }

    return extras;
}
