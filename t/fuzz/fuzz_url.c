
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: the input is read as a form body / query string
 * (ngx_oidc_form_parse), a percent-encoded string (unescape, then
 * escape and unescape again), a return URL (ngx_oidc_return_url_check)
 * and extra authorization arguments (ngx_oidc_url_extra_check, then
 * ngx_oidc_authz_url_build).  It aborts when a parsed pair holds a
 * control byte or points outside the buffer, when escaping does not
 * round-trip, when an accepted return URL fails an independent check
 * (it must start with one "/", hold no "\", no byte outside 0x21-0x7e,
 * no "#", and its decoded path must not start with "//"), or when an
 * accepted extra lets a reserved parameter appear twice in the URL.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_url.c src/ngx_oidc_*.c \
 *       -ljansson -lcrypto -lm -o fuzz_url
 *   ./fuzz_url -max_total_time=60 corpus t/fuzz/seeds/url
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_url.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_form(const uint8_t *data, size_t size)
{
    int               rc;
    char              name[64];
    size_t            i, j, n;
    unsigned char    *buf;
    ngx_oidc_err_t    err;
    ngx_oidc_str_t    v;
    ngx_oidc_param_t  params[NGX_OIDC_FORM_MAX_PARAMS];

    buf = malloc(size + 1);
    if (buf == NULL) {
        return;
    }

    err.reason = NULL;
    n = (size_t) -1;

    rc = ngx_oidc_form_parse(data, size, buf, params,
                             NGX_OIDC_FORM_MAX_PARAMS, &n, &err);

    if (rc != NGX_OIDC_OK) {
        if (rc != NGX_OIDC_DECLINED || err.reason == NULL) {
            abort();
        }

        free(buf);
        return;
    }

    if (n > NGX_OIDC_FORM_MAX_PARAMS) {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (params[i].name.data < buf
            || params[i].value.data + params[i].value.len > buf + size)
        {
            abort();
        }

        for (j = 0; j < params[i].value.len; j++) {
            if (params[i].value.data[j] < 0x20
                || params[i].value.data[j] == 0x7f)
            {
                abort();
            }
        }

        /* a name that looks up fine occurs once */
        if (params[i].name.len > 0 && params[i].name.len < 64
            && memchr(params[i].name.data, '\0', params[i].name.len) == NULL)
        {
            memcpy(name, params[i].name.data, params[i].name.len);
            name[params[i].name.len] = '\0';

            rc = ngx_oidc_form_get(params, n, name, &v, &err);

            if ((rc == NGX_OIDC_OK) == params[i].dup) {
                abort();
            }
        }
    }

    free(buf);
}


static void
fuzz_escape(const uint8_t *data, size_t size)
{
    size_t          n, m, k;
    unsigned char  *dec, *enc, *again;

    dec = malloc(size + 1);
    enc = malloc(3 * size + 1);
    again = malloc(3 * size + 1);

    if (dec == NULL || enc == NULL || again == NULL) {
        goto done;
    }

    if (ngx_oidc_url_unescape(dec, &n, data, size, NGX_OIDC_URL_FORM)
        != NGX_OIDC_OK)
    {
        goto done;
    }

    if (n > size) {
        abort();
    }

    m = ngx_oidc_url_escape(enc, dec, n, size & 1);

    if (m != ngx_oidc_url_escape_len(dec, n, size & 1) || m > 3 * n) {
        abort();
    }

    if (ngx_oidc_url_unescape(again, &k, enc, m, size & 1) != NGX_OIDC_OK
        || k != n || (n > 0 && memcmp(again, dec, n) != 0))
    {
        abort();
    }

done:

    free(dec);
    free(enc);
    free(again);
}


static int
fuzz_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


/* the first two bytes of the path once percent-decoded */

static void
fuzz_decoded_start(const uint8_t *p, size_t len, unsigned char out[2])
{
    size_t  i, n;

    out[0] = '\0';
    out[1] = '\0';

    for (i = 0, n = 0; i < len && n < 2; n++) {
        if (p[i] == '%' && len - i >= 3 && fuzz_hex(p[i + 1]) >= 0
            && fuzz_hex(p[i + 2]) >= 0)
        {
            out[n] = (unsigned char) (fuzz_hex(p[i + 1]) << 4
                                      | fuzz_hex(p[i + 2]));
            i += 3;

        } else {
            out[n] = p[i++];
        }
    }
}


static void
fuzz_return_url(const uint8_t *data, size_t size)
{
    size_t          i, plen;
    unsigned char   start[2];
    const uint8_t  *q;

    if (ngx_oidc_return_url_check(data, size, NULL) != NGX_OIDC_OK) {
        return;
    }

    if (size == 0 || size > NGX_OIDC_RETURN_URL_MAX || data[0] != '/') {
        abort();
    }

    for (i = 0; i < size; i++) {
        if (data[i] < 0x21 || data[i] > 0x7e || data[i] == '#') {
            abort();
        }
    }

    q = memchr(data, '?', size);
    plen = q ? (size_t) (q - data) : size;

    if (memchr(data, '\\', plen) != NULL) {
        abort();
    }

    fuzz_decoded_start(data, plen, start);

    if (plen > 1 && (start[1] == '/' || start[1] == '\\')) {
        abort();
    }
}


/* no reserved parameter twice, and the state we set is the state sent */

static void
fuzz_extra_reparse(const unsigned char *query, size_t len)
{
    size_t            i, n;
    unsigned char    *buf;
    ngx_oidc_err_t    err;
    ngx_oidc_str_t    v;
    ngx_oidc_param_t  params[NGX_OIDC_FORM_MAX_PARAMS];

    static const char  *reserved[] = {
        "response_type", "client_id", "redirect_uri", "scope", "state",
        "nonce", "code_challenge", "code_challenge_method",
    };

    buf = malloc(len + 1);
    if (buf == NULL) {
        return;
    }

    /* an extra with more pairs than we parse, or a %00, is not checked */
    if (ngx_oidc_form_parse(query, len, buf, params,
                            NGX_OIDC_FORM_MAX_PARAMS, &n, &err)
        != NGX_OIDC_OK)
    {
        free(buf);
        return;
    }

    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (ngx_oidc_form_get(params, n, reserved[i], &v, &err)
            != NGX_OIDC_OK)
        {
            abort();
        }
    }

    if (ngx_oidc_form_get(params, n, "state", &v, &err) != NGX_OIDC_OK
        || v.len != 3 || memcmp(v.data, "xyz", 3) != 0)
    {
        abort();
    }

    free(buf);
}


static void
fuzz_extra(const uint8_t *data, size_t size)
{
    size_t            len, n;
    unsigned char    *url;
    ngx_oidc_err_t    err;
    ngx_oidc_authz_t  a;

    memset(&a, 0, sizeof(ngx_oidc_authz_t));

    a.endpoint.data = (unsigned char *) "https://idp.example.com/authorize";
    a.endpoint.len = sizeof("https://idp.example.com/authorize") - 1;
    a.response_type.data = (unsigned char *) "code";
    a.response_type.len = 4;
    a.client_id.data = (unsigned char *) "client";
    a.client_id.len = 6;
    a.state.data = (unsigned char *) "xyz";
    a.state.len = 3;
    a.extra.data = (unsigned char *) data;
    a.extra.len = size;

    len = ngx_oidc_authz_url_len(&a);

    url = malloc(len + 1);
    if (url == NULL) {
        return;
    }

    err.reason = NULL;

    if (ngx_oidc_authz_url_build(&a, url, len, &n, &err) != NGX_OIDC_OK) {
        if (err.reason == NULL) {
            abort();
        }

        free(url);
        return;
    }

    if (n != len || memchr(url, '#', n) != NULL || url[a.endpoint.len] != '?')
    {
        abort();
    }

    fuzz_extra_reparse(url + a.endpoint.len + 1, n - a.endpoint.len - 1);

    free(url);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_form(data, size);
    fuzz_escape(data, size);
    fuzz_return_url(data, size);
    fuzz_extra(data, size);

    return 0;
}
