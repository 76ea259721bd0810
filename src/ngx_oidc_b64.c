
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <openssl/crypto.h>

#include "ngx_oidc_b64.h"


static const char  ngx_oidc_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


/* 0-63 for the alphabet, 0xff for anything else */
static const unsigned char  ngx_oidc_b64url_values[256] = {
#define X 0xff
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X
#undef X
};


size_t
ngx_oidc_b64url_encode(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    unsigned char  *d;

    d = dst;

    while (len >= 3) {
        *d++ = ngx_oidc_b64url_alphabet[src[0] >> 2];
        *d++ = ngx_oidc_b64url_alphabet[((src[0] & 0x03) << 4)
                                        | (src[1] >> 4)];
        *d++ = ngx_oidc_b64url_alphabet[((src[1] & 0x0f) << 2)
                                        | (src[2] >> 6)];
        *d++ = ngx_oidc_b64url_alphabet[src[2] & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len > 0) {
        *d++ = ngx_oidc_b64url_alphabet[src[0] >> 2];

        if (len == 1) {
            *d++ = ngx_oidc_b64url_alphabet[(src[0] & 0x03) << 4];

        } else {
            *d++ = ngx_oidc_b64url_alphabet[((src[0] & 0x03) << 4)
                                            | (src[1] >> 4)];
            *d++ = ngx_oidc_b64url_alphabet[(src[1] & 0x0f) << 2];
        }
    }

    return d - dst;
}


int
ngx_oidc_b64url_decode(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len)
{
    size_t          i;
    unsigned char   v[4], *d;

    /* a single trailing character cannot encode a byte */
    if (len % 4 == 1) {
        return NGX_OIDC_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if (ngx_oidc_b64url_values[src[i]] == 0xff) {
            return NGX_OIDC_DECLINED;
        }
    }

    d = dst;

    while (len >= 4) {
        v[0] = ngx_oidc_b64url_values[src[0]];
        v[1] = ngx_oidc_b64url_values[src[1]];
        v[2] = ngx_oidc_b64url_values[src[2]];
        v[3] = ngx_oidc_b64url_values[src[3]];

        *d++ = (unsigned char) (v[0] << 2 | v[1] >> 4);
        *d++ = (unsigned char) (v[1] << 4 | v[2] >> 2);
        *d++ = (unsigned char) (v[2] << 6 | v[3]);

        src += 4;
        len -= 4;
    }

    if (len > 0) {
        v[0] = ngx_oidc_b64url_values[src[0]];
        v[1] = ngx_oidc_b64url_values[src[1]];

        *d++ = (unsigned char) (v[0] << 2 | v[1] >> 4);

        if (len == 2) {
            /* non-canonical: unused low bits set */
            if (v[1] & 0x0f) {
                return NGX_OIDC_DECLINED;
            }

        } else {
            v[2] = ngx_oidc_b64url_values[src[2]];

            if (v[2] & 0x03) {
                return NGX_OIDC_DECLINED;
            }

            *d++ = (unsigned char) (v[1] << 4 | v[2] >> 2);
        }
    }

    *dst_len = d - dst;

    return NGX_OIDC_OK;
}


int
ngx_oidc_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
