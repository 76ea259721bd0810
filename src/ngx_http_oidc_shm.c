
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


/* how ngx_http_oidc_shm_store() treats an entry of the same key */
#define NGX_HTTP_OIDC_SHM_ANY       0     /* replaced */
#define NGX_HTTP_OIDC_SHM_NEW       1     /* kept: nothing stored */
#define NGX_HTTP_OIDC_SHM_EXISTING  2     /* needed: replaced */


/* entries evicted at most to make room for one new entry */
#define NGX_HTTP_OIDC_SHM_EVICT_MAX  64


typedef struct {
    ngx_rbtree_node_t             node;     /* key: crc32 of the key */
    ngx_queue_t                   queue;    /* most recently used first */
    time_t                        expires;
    u_short                       key_len;
    uint32_t                      value_len;
    u_char                        data[1];  /* key, then value */
} ngx_http_oidc_shm_node_t;


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;
    ngx_atomic_t                  generation;   /* see shm_changed() */
} ngx_http_oidc_shm_sh_t;


typedef struct {
    ngx_http_oidc_shm_sh_t       *sh;
    ngx_slab_pool_t              *shpool;
} ngx_http_oidc_shm_ctx_t;


static ngx_int_t ngx_http_oidc_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_oidc_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_oidc_shm_node_t *ngx_http_oidc_shm_lookup(
    ngx_http_oidc_shm_ctx_t *ctx, ngx_str_t *key, uint32_t hash);
static ngx_int_t ngx_http_oidc_shm_store(ngx_shm_zone_t *zone,
    ngx_str_t *key, ngx_str_t *value, time_t expires, ngx_uint_t mode,
    ngx_log_t *log);
static void ngx_http_oidc_shm_free_node(ngx_http_oidc_shm_ctx_t *ctx,
    ngx_http_oidc_shm_node_t *sn);
static void *ngx_http_oidc_shm_alloc(ngx_http_oidc_shm_ctx_t *ctx,
    size_t size);


ngx_shm_zone_t *
ngx_http_oidc_shm_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_http_oidc_shm_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_shm_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    return ngx_http_oidc_zone_add(cf, name, size, ngx_http_oidc_shm_init_zone,
                                  ctx);
}


ngx_shm_zone_t *
ngx_http_oidc_zone_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_shm_zone_init_pt init, void *data)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_http_oidc_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already defined",
                           name);
        return NULL;
    }

    shm_zone->init = init;
    shm_zone->data = data;

    return shm_zone;
}


void *
ngx_http_oidc_zone_sh(ngx_shm_zone_t *shm_zone, size_t size,
    ngx_uint_t *fresh)
{
    size_t            len;
    void             *sh;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    *fresh = 0;

    if (shm_zone->shm.exists) {
        return shpool->data;
    }

    sh = ngx_slab_calloc(shpool, size);
    if (sh == NULL) {
        return NULL;
    }

    shpool->data = sh;

    len = sizeof(" in oidc zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NULL;
    }

    ngx_sprintf(shpool->log_ctx, " in oidc zone \"%V\"%Z",
                &shm_zone->shm.name);

    *fresh = 1;

    return sh;
}


static ngx_int_t
ngx_http_oidc_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_oidc_shm_ctx_t  *octx = data;

    ngx_uint_t                fresh;
    ngx_http_oidc_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    /* a reload keeps the entries of the previous cycle's zone */
    if (octx) {
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    ctx->sh = ngx_http_oidc_zone_sh(shm_zone, sizeof(ngx_http_oidc_shm_sh_t),
                                    &fresh);
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    if (!fresh) {
        return NGX_OK;
    }

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_oidc_shm_rbtree_insert_value);

    ngx_queue_init(&ctx->sh->queue);
    ctx->sh->generation = 1;

    /* eviction is normal here, not worth a log line per failed alloc */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_oidc_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t         **p;
    ngx_http_oidc_shm_node_t   *sn, *snt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            sn = (ngx_http_oidc_shm_node_t *) node;
            snt = (ngx_http_oidc_shm_node_t *) temp;

            p = (ngx_memn2cmp(sn->data, snt->data, sn->key_len,
                              snt->key_len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_oidc_shm_node_t *
ngx_http_oidc_shm_lookup(ngx_http_oidc_shm_ctx_t *ctx, ngx_str_t *key,
    uint32_t hash)
{
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_oidc_shm_node_t  *sn;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        sn = (ngx_http_oidc_shm_node_t *) node;

        rc = ngx_memn2cmp(key->data, sn->data, key->len, sn->key_len);

        if (rc == 0) {
            return sn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_int_t
ngx_http_oidc_shm_get(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_pool_t *pool, ngx_str_t *value)
{
    uint32_t                   hash;
    ngx_int_t                  rc;
    ngx_http_oidc_shm_ctx_t   *ctx;
    ngx_http_oidc_shm_node_t  *sn;

    ctx = zone->data;
    hash = ngx_crc32_short(key->data, key->len);
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oidc_shm_lookup(ctx, key, hash);

    if (sn == NULL) {
        goto done;
    }

    if (sn->expires <= ngx_time()) {
        ngx_http_oidc_shm_free_node(ctx, sn);
        goto done;
    }

    value->data = ngx_pnalloc(pool, sn->value_len);
    if (value->data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    value->len = sn->value_len;
    ngx_memcpy(value->data, sn->data + sn->key_len, sn->value_len);

    ngx_queue_remove(&sn->queue);
    ngx_queue_insert_head(&ctx->sh->queue, &sn->queue);

    rc = NGX_OK;

done:

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/* a single-use read: the entry is removed under the same lock */

ngx_int_t
ngx_http_oidc_shm_take(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_pool_t *pool, ngx_str_t *value)
{
    ngx_int_t                  rc;
    ngx_http_oidc_shm_ctx_t   *ctx;
    ngx_http_oidc_shm_node_t  *sn;

    ctx = zone->data;
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oidc_shm_lookup(ctx, key,
                                  ngx_crc32_short(key->data, key->len));

    if (sn != NULL && sn->expires > ngx_time()) {
        value->data = ngx_pnalloc(pool, sn->value_len);

        if (value->data == NULL) {
            rc = NGX_ERROR;

        } else {
            value->len = sn->value_len;
            ngx_memcpy(value->data, sn->data + sn->key_len, sn->value_len);
            rc = NGX_OK;
        }
    }

    if (sn != NULL && rc != NGX_ERROR) {
        ngx_http_oidc_shm_free_node(ctx, sn);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_oidc_shm_set(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_log_t *log)
{
    return ngx_http_oidc_shm_store(zone, key, value, expires,
                                   NGX_HTTP_OIDC_SHM_ANY, log);
}


ngx_int_t
ngx_http_oidc_shm_insert(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_log_t *log)
{
    return ngx_http_oidc_shm_store(zone, key, value, expires,
                                   NGX_HTTP_OIDC_SHM_NEW, log);
}


ngx_int_t
ngx_http_oidc_shm_replace(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_log_t *log)
{
    return ngx_http_oidc_shm_store(zone, key, value, expires,
                                   NGX_HTTP_OIDC_SHM_EXISTING, log);
}


/*
 * NEW: a live entry of this key is kept and NGX_BUSY returned;
 * EXISTING: without a live entry of this key nothing is stored
 * (NGX_ABORT), so what ended meanwhile is not brought back
 */

static ngx_int_t
ngx_http_oidc_shm_store(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_uint_t mode, ngx_log_t *log)
{
    size_t                     size;
    uint32_t                   hash;
    ngx_uint_t                 live;
    ngx_http_oidc_shm_ctx_t   *ctx;
    ngx_http_oidc_shm_node_t  *sn;

    if (key->len > 0xffff || value->len > 0xffffffff) {
        return NGX_DECLINED;
    }

    ctx = zone->data;
    hash = ngx_crc32_short(key->data, key->len);
    size = offsetof(ngx_http_oidc_shm_node_t, data) + key->len + value->len;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oidc_shm_lookup(ctx, key, hash);

    live = (sn != NULL && sn->expires > ngx_time());

    if ((mode == NGX_HTTP_OIDC_SHM_NEW && live)
        || (mode == NGX_HTTP_OIDC_SHM_EXISTING && !live))
    {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return live ? NGX_BUSY : NGX_ABORT;
    }

    if (sn != NULL) {
        ngx_http_oidc_shm_free_node(ctx, sn);
    }

    sn = ngx_http_oidc_shm_alloc(ctx, size);

    if (sn == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oidc: no room for %uz bytes in zone \"%V\"",
                      size, &zone->shm.name);
        return NGX_DECLINED;
    }

    sn->node.key = hash;
    sn->expires = expires;
    sn->key_len = (u_short) key->len;
    sn->value_len = (uint32_t) value->len;

    ngx_memcpy(sn->data, key->data, key->len);
    ngx_memcpy(sn->data + key->len, value->data, value->len);

    ngx_rbtree_insert(&ctx->sh->rbtree, &sn->node);
    ngx_queue_insert_head(&ctx->sh->queue, &sn->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


void
ngx_http_oidc_shm_delete(ngx_shm_zone_t *zone, ngx_str_t *key)
{
    ngx_http_oidc_shm_ctx_t   *ctx;
    ngx_http_oidc_shm_node_t  *sn;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oidc_shm_lookup(ctx, key,
                                  ngx_crc32_short(key->data, key->len));
    if (sn != NULL) {
        ngx_http_oidc_shm_free_node(ctx, sn);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


static void
ngx_http_oidc_shm_free_node(ngx_http_oidc_shm_ctx_t *ctx,
    ngx_http_oidc_shm_node_t *sn)
{
    ngx_queue_remove(&sn->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &sn->node);
    ngx_slab_free_locked(ctx->shpool, sn);
}


/*
 * Allocates with the mutex held; when the zone is full, evicts the least
 * recently used entries, a bounded number of them.
 */

static void *
ngx_http_oidc_shm_alloc(ngx_http_oidc_shm_ctx_t *ctx, size_t size)
{
    void                      *p;
    ngx_uint_t                 n;
    ngx_queue_t               *q;
    ngx_http_oidc_shm_node_t  *sn;

    p = ngx_slab_alloc_locked(ctx->shpool, size);

    for (n = 0; p == NULL && n < NGX_HTTP_OIDC_SHM_EVICT_MAX; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return NULL;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        sn = ngx_queue_data(q, ngx_http_oidc_shm_node_t, queue);

        ngx_http_oidc_shm_free_node(ctx, sn);

        p = ngx_slab_alloc_locked(ctx->shpool, size);
    }

    return p;
}


ngx_uint_t
ngx_http_oidc_shm_generation(ngx_shm_zone_t *zone)
{
    ngx_http_oidc_shm_ctx_t  *ctx;

    ctx = zone->data;

    return ctx->sh->generation;
}


void
ngx_http_oidc_shm_changed(ngx_shm_zone_t *zone)
{
    ngx_http_oidc_shm_ctx_t  *ctx;

    ctx = zone->data;

    (void) ngx_atomic_fetch_add(&ctx->sh->generation, 1);
}


ngx_int_t
ngx_http_oidc_shm_touch(ngx_shm_zone_t *zone, ngx_str_t *key, time_t expires)
{
    uint32_t                   hash;
    ngx_int_t                  rc;
    ngx_http_oidc_shm_ctx_t   *ctx;
    ngx_http_oidc_shm_node_t  *sn;

    ctx = zone->data;
    hash = ngx_crc32_short(key->data, key->len);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oidc_shm_lookup(ctx, key, hash);

    if (sn != NULL && sn->expires > ngx_time()) {
        sn->expires = expires;
        rc = NGX_OK;

    } else {
        rc = NGX_DECLINED;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


ngx_uint_t
ngx_http_oidc_shm_count(ngx_shm_zone_t *zone, ngx_str_t *prefix)
{
    time_t                     now;
    ngx_uint_t                 n;
    ngx_queue_t               *q;
    ngx_http_oidc_shm_ctx_t   *ctx;
    ngx_http_oidc_shm_node_t  *sn;

    ctx = zone->data;
    now = ngx_time();
    n = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(&ctx->sh->queue);
         q != ngx_queue_sentinel(&ctx->sh->queue);
         q = ngx_queue_next(q))
    {
        sn = ngx_queue_data(q, ngx_http_oidc_shm_node_t, queue);

        if (sn->expires > now && sn->key_len >= prefix->len
            && ngx_memcmp(sn->data, prefix->data, prefix->len) == 0)
        {
            n++;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return n;
}
