
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: input -> ngx_oidc_jwks_parse() -> the published
 * tokens of RFC 7515 A.2 (RS256), A.3 (ES256) and RFC 8037 A.4 (EdDSA)
 * verified against whatever keys came out, then a secret added.  It
 * aborts when a set is returned empty or too large, when a refusal
 * says nothing, or on a return code outside the contract.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_jwks.c src/ngx_oidc_{err,b64,json,jose}.c \
 *       -ljansson -lcrypto -lm -o fuzz_jwks
 *   ./fuzz_jwks -max_total_time=60 corpus t/fuzz/seeds/jwks
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_jose.h"


static const char  *fuzz_tokens[] = {

    /* RFC 7515 A.2 */
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
    "LmNvbS9pc19yb290Ijp0cnVlfQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4B"
    "h-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZ"
    "LgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_d"
    "O--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6"
    "LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",

    /* RFC 7515 A.3 */
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
    "LmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKT"
    "UJqPP3-Kg6NU1Q",

    /* RFC 8037 A.4 (a text payload) */
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7"
    "sVvpAr_MuM0KAg",
};

#define FUZZ_NTOKENS  (sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]))


static ngx_oidc_jws_t  tokens[FUZZ_NTOKENS];


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t          i;
    ngx_oidc_err_t  err;

    (void) argc;
    (void) argv;

    for (i = 0; i < FUZZ_NTOKENS; i++) {
        if (ngx_oidc_jws_decode_raw(&tokens[i],
                                    (const unsigned char *) fuzz_tokens[i],
                                    strlen(fuzz_tokens[i]),
                                    NGX_OIDC_JWS_MAX_LEN, &err)
            != NGX_OIDC_OK)
        {
            abort();
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               rc;
    size_t            i, skipped;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    static const unsigned char  secret[] = "0123456789abcdef0123456789abcdef";

    err.reason = NULL;
    skipped = (size_t) -1;

    set = ngx_oidc_jwks_parse(data, size, 65536, &skipped, &err);

    if (set == NULL) {
        if (err.reason == NULL) {
            abort();
        }

        return 0;
    }

    if (ngx_oidc_jwks_count(set) == 0
        || ngx_oidc_jwks_count(set) > NGX_OIDC_JWKS_MAX_KEYS
        || skipped > NGX_OIDC_JWKS_MAX_KEYS)
    {
        abort();
    }

    for (i = 0; i < FUZZ_NTOKENS; i++) {
        rc = ngx_oidc_jws_verify(&tokens[i], set,
                                 NGX_OIDC_ALG_ASYMMETRIC|NGX_OIDC_ALG_HMAC,
                                 &err);

        if (rc != NGX_OIDC_OK && rc != NGX_OIDC_DECLINED) {
            abort();
        }
    }

    rc = ngx_oidc_jwks_add_secret(set, secret, sizeof(secret) - 1, NULL,
                                  &err);

    if (rc != NGX_OIDC_OK
        && !(rc == NGX_OIDC_DECLINED
             && ngx_oidc_jwks_count(set) == NGX_OIDC_JWKS_MAX_KEYS))
    {
        abort();
    }

    ngx_oidc_jwks_free(set);

    return 0;
}
