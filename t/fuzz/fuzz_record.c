
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: the input is decoded as a pending-login record and
 * as a session record; whatever decodes is encoded again, and that
 * encoding must decode to the same values (only "record too large" may
 * refuse it: reals can grow when rewritten, e.g. 1e5 -> 100000.0).  It
 * aborts on any other refusal, on a changed value, on a return code
 * outside the contract, or when a refusal gives no reason.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_record.c src/ngx_oidc_*.c \
 *       -ljansson -lcrypto -lm -o fuzz_record
 *   ./fuzz_record -max_total_time=60 corpus t/fuzz/seeds/record
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_record.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
fuzz_str_equal(const ngx_oidc_str_t *a, const ngx_oidc_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}


/* a re-encoding may only be refused for its size */

static int
fuzz_encoded(int rc, ngx_oidc_err_t *err)
{
    if (rc == NGX_OIDC_OK) {
        return 1;
    }

    if (rc != NGX_OIDC_DECLINED || err->reason == NULL
        || strcmp(err->reason, "record too large") != 0)
    {
        abort();
    }

    return 0;
}


static void
fuzz_login(const uint8_t *data, size_t size)
{
    int                rc;
    size_t             len;
    unsigned char     *out;
    ngx_oidc_err_t     err;
    ngx_oidc_login_t   l, again;

    err.reason = NULL;

    rc = ngx_oidc_login_decode(data, size, &l, &err);

    if (rc != NGX_OIDC_OK) {
        if (rc != NGX_OIDC_DECLINED || err.reason == NULL || l.root != NULL) {
            abort();
        }

        return;
    }

    out = NULL;
    err.reason = NULL;

    if (fuzz_encoded(ngx_oidc_login_encode(&l, &out, &len, &err), &err)) {
        if (ngx_oidc_login_decode(out, len, &again, &err) != NGX_OIDC_OK
            || !fuzz_str_equal(&l.state, &again.state)
            || !fuzz_str_equal(&l.nonce, &again.nonce)
            || !fuzz_str_equal(&l.code_verifier, &again.code_verifier)
            || !fuzz_str_equal(&l.return_to, &again.return_to)
            || l.created != again.created)
        {
            abort();
        }

        ngx_oidc_login_free(&again);
        free(out);
    }

    ngx_oidc_login_free(&l);
}


static void
fuzz_session_compare(const ngx_oidc_session_t *a,
    const ngx_oidc_session_t *b)
{
    if (!fuzz_str_equal(&a->sub, &b->sub)
        || !fuzz_str_equal(&a->sid, &b->sid)
        || !fuzz_str_equal(&a->id_token, &b->id_token)
        || !fuzz_str_equal(&a->access_token, &b->access_token)
        || !fuzz_str_equal(&a->refresh_token, &b->refresh_token)
        || a->access_expires != b->access_expires
        || a->created != b->created || a->last_seen != b->last_seen
        || !json_equal(a->claims, b->claims)
        || (a->userinfo == NULL) != (b->userinfo == NULL)
        || (a->userinfo != NULL && !json_equal(a->userinfo, b->userinfo)))
    {
        abort();
    }
}


static void
fuzz_session(const uint8_t *data, size_t size)
{
    int                  rc;
    size_t               len;
    unsigned char       *out;
    ngx_oidc_err_t       err;
    ngx_oidc_session_t   s, again;

    err.reason = NULL;

    rc = ngx_oidc_session_decode(data, size, &s, &err);

    if (rc != NGX_OIDC_OK) {
        if (rc != NGX_OIDC_DECLINED || err.reason == NULL || s.root != NULL) {
            abort();
        }

        return;
    }

    if (!json_is_object(s.claims)
        || (s.userinfo != NULL && !json_is_object(s.userinfo)))
    {
        abort();
    }

    out = NULL;
    err.reason = NULL;

    if (fuzz_encoded(ngx_oidc_session_encode(&s, &out, &len, &err), &err)) {
        if (ngx_oidc_session_decode(out, len, &again, &err) != NGX_OIDC_OK) {
            abort();
        }

        fuzz_session_compare(&s, &again);

        ngx_oidc_session_free(&again);
        free(out);
    }

    ngx_oidc_session_free(&s);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_login(data, size);
    fuzz_session(data, size);

    return 0;
}
