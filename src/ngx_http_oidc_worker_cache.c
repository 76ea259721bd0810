
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


/*
 * A per-worker cache of parsed claims in front of the shared one: a token
 * seen again in this worker is neither hashed, copied out of shared memory
 * nor parsed again.  Direct-mapped and of fixed size, so a worker's memory
 * stays flat whatever the number of distinct tokens; a collision simply
 * replaces the entry (the shared cache still has it).
 */

#define NGX_HTTP_OIDC_WORKER_CACHE_SIZE  1024    /* a power of 2 */


typedef struct {
    ngx_http_oidc_provider_t     *provider;
    u_char                       *token;         /* ngx_alloc()ed copy */
    size_t                        len;
    json_t                       *claims;
    time_t                        expires;
} ngx_http_oidc_worker_cache_entry_t;


static ngx_http_oidc_worker_cache_entry_t  *ngx_http_oidc_worker_cache;


static void ngx_http_oidc_worker_cache_clear(
    ngx_http_oidc_worker_cache_entry_t *e);


static ngx_http_oidc_worker_cache_entry_t *
ngx_http_oidc_worker_cache_slot(ngx_str_t *token)
{
    uint32_t  hash;

    hash = ngx_murmur_hash2(token->data, token->len);

    return &ngx_http_oidc_worker_cache[hash
                                       & (NGX_HTTP_OIDC_WORKER_CACHE_SIZE - 1)];
}


json_t *
ngx_http_oidc_worker_cache_get(ngx_http_oidc_provider_t *p, ngx_str_t *token)
{
    ngx_http_oidc_worker_cache_entry_t  *e;

    if (ngx_http_oidc_worker_cache == NULL) {
        return NULL;
    }

    e = ngx_http_oidc_worker_cache_slot(token);

    if (e->claims == NULL
        || e->provider != p
        || e->len != token->len
        || ngx_memcmp(e->token, token->data, token->len) != 0)
    {
        return NULL;
    }

    if (e->expires <= ngx_time()) {
        ngx_http_oidc_worker_cache_clear(e);
        return NULL;
    }

    return e->claims;
}


void
ngx_http_oidc_worker_cache_put(ngx_http_oidc_provider_t *p,
    ngx_str_t *token, json_t *claims, time_t expires, ngx_log_t *log)
{
    ngx_http_oidc_worker_cache_entry_t  *e;

    if (ngx_http_oidc_worker_cache == NULL) {
        ngx_http_oidc_worker_cache = ngx_calloc(
                                  NGX_HTTP_OIDC_WORKER_CACHE_SIZE
                                  * sizeof(ngx_http_oidc_worker_cache_entry_t),
                                  log);
        if (ngx_http_oidc_worker_cache == NULL) {
            return;
        }
    }

    e = ngx_http_oidc_worker_cache_slot(token);

    if (e->claims != NULL) {
        ngx_http_oidc_worker_cache_clear(e);
    }

    e->token = ngx_alloc(token->len, log);
    if (e->token == NULL) {
        return;
    }

    ngx_memcpy(e->token, token->data, token->len);

    e->provider = p;
    e->len = token->len;
    e->claims = json_incref(claims);
    e->expires = expires;
}


void
ngx_http_oidc_worker_cache_free(void)
{
    ngx_uint_t  i;

    if (ngx_http_oidc_worker_cache == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_OIDC_WORKER_CACHE_SIZE; i++) {
        if (ngx_http_oidc_worker_cache[i].claims != NULL) {
            ngx_http_oidc_worker_cache_clear(&ngx_http_oidc_worker_cache[i]);
        }
    }

    ngx_free(ngx_http_oidc_worker_cache);
    ngx_http_oidc_worker_cache = NULL;
}


static void
ngx_http_oidc_worker_cache_clear(ngx_http_oidc_worker_cache_entry_t *e)
{
    json_decref(e->claims);
    ngx_free(e->token);

    e->claims = NULL;
    e->token = NULL;
    e->provider = NULL;
    e->len = 0;
}
