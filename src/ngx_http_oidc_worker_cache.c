
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


/*
 * Per-worker caches of parsed JSON in front of the shared stores: a token
 * (or a session) seen again in this worker is neither copied out of
 * shared memory nor parsed again.  Direct-mapped and of fixed size, so a
 * worker's memory stays flat whatever the number of distinct keys; a
 * collision simply replaces the entry (the shared store still has it).
 * An entry may carry the generation of the shared store it came from:
 * it is used only while that generation is unchanged.
 */

#define NGX_HTTP_OIDC_WORKER_CACHE_SIZE  1024    /* a power of 2 */


typedef struct {
    ngx_http_oidc_provider_t     *provider;
    u_char                       *key;           /* ngx_alloc()ed copy */
    size_t                        len;
    json_t                       *value;
    time_t                        expires;
    ngx_uint_t                    generation;
} ngx_http_oidc_worker_cache_entry_t;


static ngx_http_oidc_worker_cache_entry_t
    *ngx_http_oidc_worker_caches[NGX_HTTP_OIDC_WORKER_CACHES];


static ngx_http_oidc_worker_cache_entry_t *ngx_http_oidc_worker_cache_slot(
    ngx_uint_t which, ngx_str_t *key);
static void ngx_http_oidc_worker_cache_clear(
    ngx_http_oidc_worker_cache_entry_t *e);


json_t *
ngx_http_oidc_worker_cache_get(ngx_uint_t which, ngx_http_oidc_provider_t *p,
    ngx_str_t *key, ngx_uint_t generation)
{
    ngx_http_oidc_worker_cache_entry_t  *e;

    if (ngx_http_oidc_worker_caches[which] == NULL) {
        return NULL;
    }

    e = ngx_http_oidc_worker_cache_slot(which, key);

    if (e->value == NULL
        || e->provider != p
        || e->len != key->len
        || ngx_memcmp(e->key, key->data, key->len) != 0)
    {
        return NULL;
    }

    if (e->expires <= ngx_time() || e->generation != generation) {
        ngx_http_oidc_worker_cache_clear(e);
        return NULL;
    }

    return e->value;
}


void
ngx_http_oidc_worker_cache_put(ngx_uint_t which, ngx_http_oidc_provider_t *p,
    ngx_str_t *key, json_t *value, time_t expires, ngx_uint_t generation,
    ngx_log_t *log)
{
    ngx_http_oidc_worker_cache_entry_t  *e;

    if (ngx_http_oidc_worker_caches[which] == NULL) {
        ngx_http_oidc_worker_caches[which] = ngx_calloc(
                                  NGX_HTTP_OIDC_WORKER_CACHE_SIZE
                                  * sizeof(ngx_http_oidc_worker_cache_entry_t),
                                  log);
        if (ngx_http_oidc_worker_caches[which] == NULL) {
            return;
        }
    }

    e = ngx_http_oidc_worker_cache_slot(which, key);

    if (e->value != NULL) {
        ngx_http_oidc_worker_cache_clear(e);
    }

    e->key = ngx_alloc(key->len, log);
    if (e->key == NULL) {
        return;
    }

    ngx_memcpy(e->key, key->data, key->len);

    e->provider = p;
    e->len = key->len;
    e->value = json_incref(value);
    e->expires = expires;
    e->generation = generation;
}


void
ngx_http_oidc_worker_cache_free(void)
{
    ngx_uint_t                           i, which;
    ngx_http_oidc_worker_cache_entry_t  *cache;

    for (which = 0; which < NGX_HTTP_OIDC_WORKER_CACHES; which++) {
        cache = ngx_http_oidc_worker_caches[which];

        if (cache == NULL) {
            continue;
        }

        for (i = 0; i < NGX_HTTP_OIDC_WORKER_CACHE_SIZE; i++) {
            if (cache[i].value != NULL) {
                ngx_http_oidc_worker_cache_clear(&cache[i]);
            }
        }

        ngx_free(cache);
        ngx_http_oidc_worker_caches[which] = NULL;
    }
}


static ngx_http_oidc_worker_cache_entry_t *
ngx_http_oidc_worker_cache_slot(ngx_uint_t which, ngx_str_t *key)
{
    uint32_t  hash;

    hash = ngx_murmur_hash2(key->data, key->len);

    return &ngx_http_oidc_worker_caches[which]
                               [hash & (NGX_HTTP_OIDC_WORKER_CACHE_SIZE - 1)];
}


static void
ngx_http_oidc_worker_cache_clear(ngx_http_oidc_worker_cache_entry_t *e)
{
    json_decref(e->value);
    ngx_free(e->key);

    e->value = NULL;
    e->key = NULL;
    e->provider = NULL;
    e->len = 0;
}
