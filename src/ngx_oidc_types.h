
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_TYPES_H_INCLUDED_
#define _NGX_OIDC_TYPES_H_INCLUDED_


/*
 * The vocabulary shared by the pure units (ngx_oidc_*): no nginx header
 * is included here or by any pure unit, so they build and are tested
 * with a plain C compiler, jansson and OpenSSL alone.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>


/* same layout as ngx_str_t, checked once by the nginx glue */
typedef struct {
    size_t                len;
    unsigned char        *data;
} ngx_oidc_str_t;


#define ngx_oidc_string(s)    { sizeof(s) - 1, (unsigned char *) s }
#define ngx_oidc_null_string  { 0, NULL }


/* return codes, mirroring nginx's */
#define NGX_OIDC_OK          0
#define NGX_OIDC_ERROR      -1
#define NGX_OIDC_DECLINED   -5      /* input rejected: 400/401/403 */
#define NGX_OIDC_NOKEY      -6      /* no key with the token's kid */


/*
 * Why an input was rejected: "reason" is a static string safe to log,
 * "detail" a short printable addition (never a token or a secret).
 */
typedef struct {
    const char           *reason;
    char                  detail[128];
} ngx_oidc_err_t;


void ngx_oidc_err_set(ngx_oidc_err_t *err, const char *reason,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 3, 4)))
#endif
    ;


#endif /* _NGX_OIDC_TYPES_H_INCLUDED_ */
