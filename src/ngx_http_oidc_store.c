
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


/*
 * The session store: today the embedded shared memory zone only.  A
 * Redis store (session_store) goes behind these calls; it would
 * return NGX_AGAIN and resume the request as provider_keys() does.
 */

ngx_int_t
ngx_http_oidc_store_get(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, ngx_uint_t take)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_DECLINED;
    }

    if (take) {
        return ngx_http_oidc_shm_take(omcf->sessions, key, r->pool, value);
    }

    return ngx_http_oidc_shm_get(omcf->sessions, key, r->pool, value);
}


ngx_int_t
ngx_http_oidc_store_set(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_shm_set(omcf->sessions, key, value, expires,
                                 r->connection->log);
}


ngx_int_t
ngx_http_oidc_store_insert(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_shm_insert(omcf->sessions, key, value, expires,
                                    r->connection->log);
}


ngx_int_t
ngx_http_oidc_store_replace(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oidc_shm_replace(omcf->sessions, key, value, expires,
                                     r->connection->log);
}


void
ngx_http_oidc_store_delete(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions != NULL) {
        ngx_http_oidc_shm_delete(omcf->sessions, key);
    }
}


ngx_int_t
ngx_http_oidc_store_touch(ngx_http_request_t *r, ngx_str_t *key,
    time_t expires)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_oidc_shm_touch(omcf->sessions, key, expires);
}


ngx_uint_t
ngx_http_oidc_store_generation(ngx_http_request_t *r)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions == NULL) {
        return 0;
    }

    return ngx_http_oidc_shm_generation(omcf->sessions);
}


void
ngx_http_oidc_store_changed(ngx_http_request_t *r)
{
    ngx_http_oidc_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oidc_module);

    if (omcf->sessions != NULL) {
        ngx_http_oidc_shm_changed(omcf->sessions);
    }
}
