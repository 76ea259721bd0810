
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"


static int ngx_oidc_json_depth_ok(json_t *value, int depth);


json_t *
ngx_oidc_json_parse(const unsigned char *data, size_t len, size_t max,
    ngx_oidc_err_t *err)
{
    json_t        *root;
    json_error_t   jerr;

    if (len > max) {
        ngx_oidc_err_set(err, "json document too large",
                         "%zu bytes, limit %zu", len, max);
        return NULL;
    }

    /*
     * JSON_REJECT_DUPLICATES applies to every object of the document;
     * without JSON_ALLOW_NUL jansson refuses "\u0000" in strings
     */
    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        ngx_oidc_err_set(err, "invalid json", "%.96s at %d", jerr.text,
                         jerr.position);
        return NULL;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        ngx_oidc_err_set(err, "json document is not an object", NULL);
        return NULL;
    }

    if (!ngx_oidc_json_depth_ok(root, 0)) {
        json_decref(root);
        ngx_oidc_err_set(err, "json document nested too deeply",
                         "limit %d", NGX_OIDC_JSON_MAX_DEPTH);
        return NULL;
    }

    return root;
}


static int
ngx_oidc_json_depth_ok(json_t *value, int depth)
{
    size_t       i;
    json_t      *v;
    const char  *name;

    if (depth > NGX_OIDC_JSON_MAX_DEPTH) {
        return 0;
    }

    if (json_is_object(value)) {
        json_object_foreach(value, name, v) {
            if (!ngx_oidc_json_depth_ok(v, depth + 1)) {
                return 0;
            }
        }

    } else if (json_is_array(value)) {
        json_array_foreach(value, i, v) {
            if (!ngx_oidc_json_depth_ok(v, depth + 1)) {
                return 0;
            }
        }
    }

    return 1;
}


const char *
ngx_oidc_json_get_string(json_t *obj, const char *name, size_t *len)
{
    json_t  *v;

    v = json_object_get(obj, name);

    if (!json_is_string(v)) {
        return NULL;
    }

    if (len != NULL) {
        *len = json_string_length(v);
    }

    return json_string_value(v);
}


int
ngx_oidc_json_get_time(json_t *obj, const char *name, time_t *value)
{
    double   d;
    json_t  *v;

    v = json_object_get(obj, name);

    if (json_is_integer(v)) {
        *value = (time_t) json_integer_value(v);
        return NGX_OIDC_OK;
    }

    if (json_is_real(v)) {
        d = json_real_value(v);

        /* NumericDate may carry a fraction; refuse what time_t can't hold */
        if (!isfinite(d) || d < -1e15 || d > 1e15) {
            return NGX_OIDC_DECLINED;
        }

        *value = (time_t) floor(d);
        return NGX_OIDC_OK;
    }

    return NGX_OIDC_DECLINED;
}
