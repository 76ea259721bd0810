
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: the input is a Cookie header value, searched for a
 * few names with ngx_oidc_cookie_find(); then it is cut at "\n" into
 * name, value, path and domain for ngx_oidc_cookie_build(), its first
 * byte choosing the flags.  It aborts when a found value breaks the
 * cookie-octet contract or lies outside the header, when the built
 * length differs from ngx_oidc_cookie_build_len(), when a built cookie
 * holds a control byte or breaks the __Host- rules, or when a built
 * cookie's value is not found again under its name.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_cookie.c src/ngx_oidc_*.c \
 *       -ljansson -lcrypto -lm -o fuzz_cookie
 *   ./fuzz_cookie -max_total_time=60 corpus t/fuzz/seeds/cookie
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ngx_oidc_cookie.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const char  *fuzz_names[] = {
    "__Host-oidc_session", "oidc_state", "SID", "a", "lang",
};

#define FUZZ_NNAMES  (sizeof(fuzz_names) / sizeof(fuzz_names[0]))


static int
fuzz_is_octet(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';'
           && c != '\\';
}


static void
fuzz_find(const uint8_t *data, size_t size)
{
    int             rc;
    size_t          i, j, count;
    ngx_oidc_err_t  err;
    ngx_oidc_str_t  name, value;

    for (i = 0; i < FUZZ_NNAMES; i++) {
        name.data = (unsigned char *) fuzz_names[i];
        name.len = strlen(fuzz_names[i]);
        err.reason = NULL;
        count = (size_t) -1;

        rc = ngx_oidc_cookie_find(data, size, &name, &value, &count, &err);

        if (count > size) {
            abort();
        }

        if (rc != NGX_OIDC_OK) {
            if (rc != NGX_OIDC_DECLINED || err.reason == NULL) {
                abort();
            }

            continue;
        }

        if (count == 0
            || (value.len > 0
                && (value.data < data || value.data + value.len > data + size)))
        {
            abort();
        }

        for (j = 0; j < value.len; j++) {
            if (!fuzz_is_octet(value.data[j])) {
                abort();
            }
        }
    }
}


/* the next "\n"-terminated piece of [*p, last) */

static void
fuzz_piece(const uint8_t **p, const uint8_t *last, ngx_oidc_str_t *s)
{
    const uint8_t  *nl;

    nl = memchr(*p, '\n', last - *p);
    if (nl == NULL) {
        nl = last;
    }

    s->data = (unsigned char *) *p;
    s->len = nl - *p;
    *p = (nl < last) ? nl + 1 : last;
}


static void
fuzz_check_built(const ngx_oidc_cookie_t *c, const unsigned char *out,
    size_t len)
{
    int                   rc;
    size_t                i;
    ngx_oidc_str_t        v;
    const unsigned char  *semi;

    for (i = 0; i < len; i++) {
        if (out[i] < 0x20 || out[i] > 0x7e) {
            abort();
        }
    }

    if (c->name.len >= 7
        && strncasecmp((char *) c->name.data, "__Host-", 7) == 0
        && (!c->secure || c->domain.len != 0 || c->path.len != 1))
    {
        abort();
    }

    if (c->remove) {
        return;
    }

    /* what the browser sends back is "name=value" up to the first ";" */
    semi = memchr(out, ';', len);

    rc = ngx_oidc_cookie_find(out, semi ? (size_t) (semi - out) : len,
                              &c->name, &v, NULL, NULL);

    if (rc != NGX_OIDC_OK || v.len != c->value.len
        || (v.len > 0 && memcmp(v.data, c->value.data, v.len) != 0))
    {
        abort();
    }
}


static void
fuzz_build(const uint8_t *data, size_t size)
{
    int                 rc;
    size_t              len, need;
    unsigned char      *out;
    const uint8_t      *p, *last;
    ngx_oidc_err_t      err;
    ngx_oidc_cookie_t   c;

    if (size < 1) {
        return;
    }

    memset(&c, 0, sizeof(ngx_oidc_cookie_t));

    c.same_site = data[0] & 0x03;
    c.http_only = (data[0] >> 2) & 1;
    c.secure = (data[0] >> 3) & 1;
    c.remove = (data[0] >> 4) & 1;
    c.max_age = (data[0] >> 5) * 1000 - 1000;

    p = data + 1;
    last = data + size;

    fuzz_piece(&p, last, &c.name);
    fuzz_piece(&p, last, &c.value);
    fuzz_piece(&p, last, &c.path);
    fuzz_piece(&p, last, &c.domain);

    need = ngx_oidc_cookie_build_len(&c);

    out = malloc(need + 1);
    if (out == NULL) {
        return;
    }

    err.reason = NULL;
    len = 0;

    rc = ngx_oidc_cookie_build(&c, out, need, &len, &err);

    if (rc == NGX_OIDC_OK) {
        if (len != need) {
            abort();
        }

        fuzz_check_built(&c, out, len);

    } else if (rc != NGX_OIDC_DECLINED || err.reason == NULL) {
        abort();
    }

    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_find(data, size);
    fuzz_build(data, size);

    return 0;
}
