
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: input as a compact JWS -> ngx_oidc_jws_decode() and
 * ngx_oidc_jws_decode_raw() -> ngx_oidc_jws_verify() against a fixed
 * set: the RSA, P-256 and P-521 keys of RFC 7515 and RFC 7520, the
 * Ed25519 key of RFC 8037 and the HS256 secret of RFC 7515 A.1, so that
 * the published tokens in seeds/jws reach every verifier.  Besides
 * crashes and leaks it aborts when a decoded JWS breaks the contract.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_jws.c src/ngx_oidc_{err,b64,json,jose}.c \
 *       -ljansson -lcrypto -lm -o fuzz_jws
 *   ./fuzz_jws -max_total_time=60 corpus t/fuzz/seeds/jws
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_b64.h"
#include "ngx_oidc_jose.h"


static const char  fuzz_jwks_json[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"2010-12-29\","
    "\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-"
    "Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690"
    "r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7"
    "WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\","
    "\"e\":\"AQAB\"},"
    "{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\","
    "\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRoj"
    "dNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC"
    "0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5l"
    "FHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLq"
    "KnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw\","
    "\"e\":\"AQAB\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"EC\",\"kid\":\"bilbo.baggins@hobbiton.example\","
    "\"crv\":\"P-521\","
    "\"x\":\"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqv"
    "jyekWF-7ytDyRXYgCF5cj0Kt\","
    "\"y\":\"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgD"
    "PrwQrJmbnX9cwlGfP-HqHZR1\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
    "]}";

static const char  fuzz_secret_b64[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcg"
    "UuTwjAzZr1Z9CAow";


static ngx_oidc_jwks_t  *jwks;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_check(const ngx_oidc_jws_t *jws, const uint8_t *data,
    size_t size, int raw);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t          len;
    unsigned char   secret[64];
    ngx_oidc_err_t  err;

    (void) argc;
    (void) argv;

    jwks = ngx_oidc_jwks_parse((const unsigned char *) fuzz_jwks_json,
                               sizeof(fuzz_jwks_json) - 1, 65536, NULL, &err);

    if (jwks == NULL || ngx_oidc_jwks_count(jwks) != 5
        || ngx_oidc_b64url_decode(secret, &len,
                                  (const unsigned char *) fuzz_secret_b64,
                                  sizeof(fuzz_secret_b64) - 1)
           != NGX_OIDC_OK
        || ngx_oidc_jwks_add_secret(jwks, secret, len, NULL, &err)
           != NGX_OIDC_OK)
    {
        abort();
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             raw, rc;
    ngx_oidc_err_t  err;
    ngx_oidc_jws_t  jws;

    for (raw = 0; raw < 2; raw++) {
        rc = raw ? ngx_oidc_jws_decode_raw(&jws, data, size,
                                           NGX_OIDC_JWS_MAX_LEN, &err)
                 : ngx_oidc_jws_decode(&jws, data, size, NGX_OIDC_JWS_MAX_LEN,
                                       &err);

        if (rc != NGX_OIDC_OK) {
            /* a refusal leaves nothing to free, and says why */
            if (jws.header != NULL || jws.signature != NULL
                || err.reason == NULL)
            {
                abort();
            }

            continue;
        }

        fuzz_check(&jws, data, size, raw);

        rc = ngx_oidc_jws_verify(&jws, jwks,
                                 NGX_OIDC_ALG_ASYMMETRIC|NGX_OIDC_ALG_HMAC,
                                 &err);

        if (rc != NGX_OIDC_OK && rc != NGX_OIDC_DECLINED
            && rc != NGX_OIDC_NOKEY)
        {
            abort();
        }

        /* an empty allow-list lets nothing through */
        if (ngx_oidc_jws_verify(&jws, jwks, 0, &err) != NGX_OIDC_DECLINED) {
            abort();
        }

        ngx_oidc_jws_free(&jws);
    }

    return 0;
}


static void
fuzz_check(const ngx_oidc_jws_t *jws, const uint8_t *data, size_t size,
    int raw)
{
    const char  *name;

    name = ngx_oidc_alg_name(jws->alg);

    if (name == NULL || strcmp(name, "none") == 0
        || jws->signature_len == 0 || jws->signature == NULL
        || jws->header == NULL
        || (raw ? jws->payload != NULL : jws->payload == NULL)
        || jws->signing_input.data != data
        || jws->signing_input.len >= size
        || data[jws->signing_input.len] != '.'
        || json_object_get(jws->header, "crit") != NULL)
    {
        abort();
    }
}
