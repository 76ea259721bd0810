
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_conf.h"


/*
 * What an "oidc_provider" block reads from files at configuration time:
 * client secrets, and the static keys ("jwks_file", "hmac_secret_file")
 * that replace the provider's JWKS.
 */


#define NGX_HTTP_OIDC_SECRET_FILE_MAX    4096
#define NGX_HTTP_OIDC_JWKS_FILE_MAX      (1024 * 1024)


static ngx_int_t ngx_http_oidc_conf_hmac(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);
static void ngx_http_oidc_conf_jwks_cleanup(void *data);


/* a secret read from "file" (client_secret_file and the like) */

ngx_int_t
ngx_http_oidc_conf_client_secret(ngx_conf_t *cf, ngx_http_oidc_provider_t *p,
    ngx_str_t *file, const char *directive, ngx_str_t *secret)
{
    ngx_str_t  s;

    if (file->len == 0) {
        return NGX_OK;
    }

    if (ngx_http_oidc_conf_read_file(cf, file, NGX_HTTP_OIDC_SECRET_FILE_MAX,
                                     directive, &s)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (s.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_provider \"%V\": \"%s\" \"%V\" is empty",
                           &p->name, directive, file);
        return NGX_ERROR;
    }

    secret->data = ngx_pnalloc(cf->pool, s.len);
    if (secret->data == NULL) {
        ngx_explicit_memzero(s.data, s.len);
        return NGX_ERROR;
    }

    secret->len = s.len;
    ngx_memcpy(secret->data, s.data, s.len);

    ngx_explicit_memzero(s.data, s.len);

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_conf_keys(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    size_t                     skipped;
    ngx_str_t                  s;
    ngx_oidc_err_t             err;
    ngx_pool_cleanup_t        *cln;
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;

    if (p->jwks_file.len) {
        if (ngx_http_oidc_conf_read_file(cf, &p->jwks_file,
                                         NGX_HTTP_OIDC_JWKS_FILE_MAX,
                                         "jwks_file", &s)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        skipped = 0;
        ngx_memzero(&err, sizeof(ngx_oidc_err_t));

        p->static_jwks = ngx_oidc_jwks_parse(s.data, s.len, s.len, &skipped,
                                             &err);
        if (p->static_jwks == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "oidc_provider \"%V\": \"jwks_file\" \"%V\": "
                               "%s%s%s", &p->name, &p->jwks_file,
                               err.reason ? err.reason : "unusable",
                               err.detail[0] ? ", " : "", err.detail);
            return NGX_ERROR;
        }

        cln->handler = ngx_http_oidc_conf_jwks_cleanup;
        cln->data = p->static_jwks;

        if (skipped) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "oidc_provider \"%V\": \"jwks_file\" \"%V\": "
                               "%uz keys skipped (last: %s%s%s)", &p->name,
                               &p->jwks_file, skipped,
                               err.reason ? err.reason : "unusable",
                               err.detail[0] ? ", " : "", err.detail);
        }
    }

    return ngx_http_oidc_conf_hmac(cf, pc);
}


static ngx_int_t
ngx_http_oidc_conf_hmac(ngx_conf_t *cf, ngx_http_oidc_provider_conf_t *pc)
{
    int                        rc;
    ngx_str_t                  s;
    ngx_oidc_err_t             err;
    ngx_pool_cleanup_t        *cln;
    ngx_http_oidc_provider_t  *p;

    p = &pc->provider;

    if (pc->hmac_secret_file.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_oidc_conf_read_file(cf, &pc->hmac_secret_file,
                                     NGX_HTTP_OIDC_SECRET_FILE_MAX,
                                     "hmac_secret_file", &s)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (p->static_jwks == NULL) {
        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            goto failed;
        }

        p->static_jwks = ngx_oidc_jwks_create();
        if (p->static_jwks == NULL) {
            goto failed;
        }

        cln->handler = ngx_http_oidc_conf_jwks_cleanup;
        cln->data = p->static_jwks;
    }

    ngx_memzero(&err, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_jwks_add_secret(p->static_jwks, s.data, s.len, NULL, &err);

    ngx_explicit_memzero(s.data, s.len);

    if (rc != NGX_OIDC_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_provider \"%V\": \"hmac_secret_file\" "
                           "\"%V\": %s%s%s", &p->name, &pc->hmac_secret_file,
                           err.reason ? err.reason : "not usable",
                           err.detail[0] ? ", " : "", err.detail);
        return NGX_ERROR;
    }

    return NGX_OK;

failed:

    ngx_explicit_memzero(s.data, s.len);

    return NGX_ERROR;
}


/* a whole small file into cf->temp_pool, trailing CR and LF stripped */

ngx_int_t
ngx_http_oidc_conf_read_file(ngx_conf_t *cf, ngx_str_t *name, size_t max,
    const char *directive, ngx_str_t *out)
{
    off_t            size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%s\": " ngx_open_file_n " \"%V\" failed",
                           directive, name);
        return NGX_ERROR;
    }

    size = (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) ? -1 : ngx_file_size(&fi);

    if (size < 0 || size > (off_t) max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, (size < 0) ? ngx_errno : 0,
                           "\"%s\": \"%V\" %s", directive, name,
                           (size < 0) ? ngx_fd_info_n " failed"
                                      : "is too large");
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(cf->temp_pool, (size_t) size + 1);
    n = out->data ? ngx_read_fd(fd, out->data, (size_t) size) : -1;

    ngx_close_file(fd);

    if (n != (ssize_t) size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, (n == -1) ? ngx_errno : 0,
                           "\"%s\": " ngx_read_fd_n " \"%V\" failed",
                           directive, name);

        if (out->data) {
            ngx_explicit_memzero(out->data, (size_t) size);
        }

        return NGX_ERROR;
    }

    out->len = (size_t) size;

    while (out->len
           && (out->data[out->len - 1] == LF || out->data[out->len - 1] == CR))
    {
        out->len--;
    }

    return NGX_OK;
}


static void
ngx_http_oidc_conf_jwks_cleanup(void *data)
{
    ngx_oidc_jwks_free(data);
}
