
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "ngx_oidc_b64.h"
#include "ngx_oidc_jose.h"
#include "ngx_oidc_jws_sign.h"
#include "keys.h"


/*
 * RFC 7515 A.2: RS256 (RSASSA-PKCS1-v1_5 is deterministic, so signing
 * must give the published JWS exactly); the key's n, e and d as printed
 */
#define A2_N                                                                  \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-"      \
    "Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690" \
    "r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7" \
    "WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-" \
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define A2_E    "AQAB"
#define A2_D                                                                  \
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_G"       \
    "Q5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-Gj" \
    "BVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV" \
    "_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDV" \
    "ZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"

/* the JWS Protected Header and Payload octets of RFC 7515 A.1/A.2 */
#define A2_HEADER   "{\"alg\":\"RS256\"}"
#define A2_PAYLOAD                                                            \
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n"                          \
    " \"http://example.com/is_root\":true}"

static const char  rfc7515_a2_jws[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
    "LmNvbS9pc19yb290Ijp0cnVlfQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4B"
    "h-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZ"
    "LgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_d"
    "O--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6"
    "LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

/* RFC 8037 A.1 (the Ed25519 private key) and A.4 (its signature) */
#define A1_ED_D     "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define A4_HEADER   "{\"alg\":\"EdDSA\"}"
#define A4_PAYLOAD  "Example of Ed25519 signing"

static const char  rfc8037_a4_jws[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7"
    "sVvpAr_MuM0KAg";


static unsigned char *
b64url_decode(const char *s, size_t *len)
{
    unsigned char  *out;

    out = malloc(ngx_oidc_b64url_decoded_len(strlen(s)));
    assert_non_null(out);
    assert_int_equal(ngx_oidc_b64url_decode(out, len, (unsigned char *) s,
                                            strlen(s)),
                     NGX_OIDC_OK);
    return out;
}


static BIGNUM *
b64url_bn(const char *s)
{
    size_t          len;
    BIGNUM         *bn;
    unsigned char  *bin;

    bin = b64url_decode(s, &len);
    bn = BN_bin2bn(bin, (int) len, NULL);
    free(bin);
    assert_non_null(bn);

    return bn;
}


/* the RFC 7515 A.2 private key from n, e and d (no CRT members) */
static EVP_PKEY *
rfc7515_a2_key(void)
{
    BIGNUM          *n, *e, *d;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    n = b64url_bn(A2_N);
    e = b64url_bn(A2_E);
    d = b64url_bn(A2_D);

    bld = OSSL_PARAM_BLD_new();
    assert_non_null(bld);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d), 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    assert_non_null(ctx);
    pkey = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params),
                     1);

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    BN_free(d);

    return pkey;
}


/* signs; the JWS as a NUL-terminated malloc()ed string, or NULL */
static char *
sign(EVP_PKEY *pkey, unsigned alg, const char *header, const char *payload,
    int *rc, ngx_oidc_err_t *err)
{
    char    *out;
    size_t   max, len;

    max = ngx_oidc_jws_sign_len(pkey, strlen(header), strlen(payload));
    out = malloc(max + 1);
    assert_non_null(out);

    /* the bound holds: poison what follows the JWS */
    memset(out, 'X', max + 1);

    len = 0;
    *rc = ngx_oidc_jws_sign(pkey, alg, (unsigned char *) header,
                            strlen(header), (unsigned char *) payload,
                            strlen(payload), (unsigned char *) out, &len,
                            err);
    if (*rc != NGX_OIDC_OK) {
        free(out);
        return NULL;
    }

    assert_true(len <= max);
    assert_int_equal(out[max], 'X');
    out[len] = '\0';

    return out;
}


/* verifies "jws" with the public half of "pkey" through jose.c */
static int
verify(const char *jws, EVP_PKEY *pkey, unsigned allowed)
{
    int               rc;
    char             *jwk, *set;
    size_t            skipped;
    ngx_oidc_err_t    err;
    ngx_oidc_jws_t    dec;
    ngx_oidc_jwks_t  *keys;

    jwk = test_jwk(pkey, NULL, NULL, NULL);
    set = test_jwks(jwk, NULL);
    keys = ngx_oidc_jwks_parse((unsigned char *) set, strlen(set),
                               strlen(set), &skipped, &err);
    assert_non_null(keys);

    rc = ngx_oidc_jws_decode(&dec, (unsigned char *) jws, strlen(jws),
                             NGX_OIDC_JWS_MAX_LEN, &err);
    assert_int_equal(rc, NGX_OIDC_OK);

    rc = ngx_oidc_jws_verify(&dec, keys, allowed, &err);

    ngx_oidc_jws_free(&dec);
    ngx_oidc_jwks_free(keys);
    free(set);
    free(jwk);

    return rc;
}


static void
test_rfc7515_a2_rs256_exact(void **state)
{
    int              rc;
    char            *jws;
    EVP_PKEY        *pkey;
    ngx_oidc_err_t   err;

    (void) state;

    pkey = rfc7515_a2_key();

    assert_int_equal(ngx_oidc_jws_sign_alg(pkey), NGX_OIDC_ALG_RS256);

    jws = sign(pkey, NGX_OIDC_ALG_RS256, A2_HEADER, A2_PAYLOAD, &rc, &err);
    assert_int_equal(rc, NGX_OIDC_OK);
    assert_string_equal(jws, rfc7515_a2_jws);

    free(jws);
    EVP_PKEY_free(pkey);
}


static void
test_rfc8037_a4_eddsa_exact(void **state)
{
    int              rc;
    char            *jws;
    size_t           len;
    EVP_PKEY        *pkey;
    unsigned char   *d;
    ngx_oidc_err_t   err;

    (void) state;

    d = b64url_decode(A1_ED_D, &len);
    assert_int_equal(len, 32);
    pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, len);
    free(d);
    assert_non_null(pkey);

    assert_int_equal(ngx_oidc_jws_sign_alg(pkey), NGX_OIDC_ALG_EDDSA);

    jws = sign(pkey, NGX_OIDC_ALG_EDDSA, A4_HEADER, A4_PAYLOAD, &rc, &err);
    assert_int_equal(rc, NGX_OIDC_OK);
    assert_string_equal(jws, rfc8037_a4_jws);

    free(jws);
    EVP_PKEY_free(pkey);
}


/* randomized algorithms: what we sign, our verifier accepts */

static void
test_round_trips(void **state)
{
    int              rc;
    char            *jws, *dot;
    size_t           slen;
    unsigned char   *sig;
    size_t           i, n;
    EVP_PKEY        *pkey;
    ngx_oidc_err_t   err;

    static const struct {
        test_key_e   key;
        unsigned     alg;
        const char  *header;
        size_t       sig_len;           /* 0: the modulus */
    } cases[] = {
        { TEST_KEY_P256, NGX_OIDC_ALG_ES256, "{\"alg\":\"ES256\"}", 64 },
        { TEST_KEY_P384, NGX_OIDC_ALG_ES384, "{\"alg\":\"ES384\"}", 96 },
        { TEST_KEY_P521, NGX_OIDC_ALG_ES512, "{\"alg\":\"ES512\"}", 132 },
        { TEST_KEY_RSA, NGX_OIDC_ALG_PS256, "{\"alg\":\"PS256\"}", 256 },
        { TEST_KEY_RSA, NGX_OIDC_ALG_RS512, "{\"alg\":\"RS512\"}", 256 },
        { TEST_KEY_ED25519, NGX_OIDC_ALG_EDDSA, "{\"alg\":\"EdDSA\"}", 64 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pkey = test_key(cases[i].key);

        /* many: a short R or S must still be padded to its full size */
        for (n = 0; n < 32; n++) {
            jws = sign(pkey, cases[i].alg, cases[i].header,
                       "{\"iss\":\"gateway\",\"sub\":\"gateway\"}", &rc, &err);
            assert_int_equal(rc, NGX_OIDC_OK);

            dot = strrchr(jws, '.');
            sig = b64url_decode(dot + 1, &slen);
            assert_int_equal(slen, cases[i].sig_len);
            free(sig);

            assert_int_equal(verify(jws, pkey, cases[i].alg), NGX_OIDC_OK);

            /* and a tampered signature is refused */
            dot[5] = (dot[5] == 'A') ? 'B' : 'A';
            if (verify(jws, pkey, cases[i].alg) == NGX_OIDC_OK) {
                fail_msg("tampered JWS verified (case %u)", (unsigned) i);
            }

            free(jws);
        }
    }
}


static void
test_default_algs(void **state)
{
    (void) state;

    assert_int_equal(ngx_oidc_jws_sign_alg(test_key(TEST_KEY_RSA)),
                     NGX_OIDC_ALG_RS256);
    assert_int_equal(ngx_oidc_jws_sign_alg(test_key(TEST_KEY_P256)),
                     NGX_OIDC_ALG_ES256);
    assert_int_equal(ngx_oidc_jws_sign_alg(test_key(TEST_KEY_P384)),
                     NGX_OIDC_ALG_ES384);
    assert_int_equal(ngx_oidc_jws_sign_alg(test_key(TEST_KEY_P521)),
                     NGX_OIDC_ALG_ES512);
    assert_int_equal(ngx_oidc_jws_sign_alg(test_key(TEST_KEY_ED25519)),
                     NGX_OIDC_ALG_EDDSA);
    /* too small to sign with */
    assert_int_equal(ngx_oidc_jws_sign_alg(test_key(TEST_KEY_RSA_1024)), 0);
}


static void
test_refused(void **state)
{
    int              rc;
    char            *jws;
    size_t           i;
    ngx_oidc_err_t   err;

    static const struct {
        test_key_e   key;
        unsigned     alg;
        const char  *reason;
    } cases[] = {
        /* alg and key do not fit */
        { TEST_KEY_RSA, NGX_OIDC_ALG_ES256, "algorithm does not fit the key" },
        { TEST_KEY_RSA, NGX_OIDC_ALG_EDDSA, "algorithm does not fit the key" },
        { TEST_KEY_P256, NGX_OIDC_ALG_RS256, "algorithm does not fit the key" },
        { TEST_KEY_P256, NGX_OIDC_ALG_ES384, "algorithm does not fit the key" },
        { TEST_KEY_P384, NGX_OIDC_ALG_ES256, "algorithm does not fit the key" },
        { TEST_KEY_P521, NGX_OIDC_ALG_PS256, "algorithm does not fit the key" },
        { TEST_KEY_ED25519, NGX_OIDC_ALG_ES256,
          "algorithm does not fit the key" },
        /* "none", HS*, unknown bits, several bits at once */
        { TEST_KEY_RSA, 0, "signing algorithm not supported" },
        { TEST_KEY_RSA, NGX_OIDC_ALG_HS256, "signing algorithm not supported" },
        { TEST_KEY_P256, 0x8000, "signing algorithm not supported" },
        { TEST_KEY_RSA, NGX_OIDC_ALG_RS256 | NGX_OIDC_ALG_PS256,
          "signing algorithm not supported" },
        /* a key we never sign with */
        { TEST_KEY_RSA_1024, NGX_OIDC_ALG_RS256, "unsupported signing key" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&err, 0, sizeof(err));

        jws = sign(test_key(cases[i].key), cases[i].alg, "{\"alg\":\"x\"}",
                   "{}", &rc, &err);

        if (rc != NGX_OIDC_DECLINED || jws != NULL) {
            fail_msg("case %u signed (rc %d)", (unsigned) i, rc);
        }

        assert_string_equal(err.reason, cases[i].reason);

        assert_int_equal(ngx_oidc_jws_sign_check(test_key(cases[i].key),
                                                 cases[i].alg, NULL),
                         NGX_OIDC_DECLINED);
    }

    /* the fitting ones pass the check */
    assert_int_equal(ngx_oidc_jws_sign_check(test_key(TEST_KEY_RSA),
                                             NGX_OIDC_ALG_PS256, NULL),
                     NGX_OIDC_OK);
    assert_int_equal(ngx_oidc_jws_sign_check(test_key(TEST_KEY_P521),
                                             NGX_OIDC_ALG_ES512, NULL),
                     NGX_OIDC_OK);
}


static int
group_teardown(void **state)
{
    (void) state;

    test_keys_cleanup();

    return 0;
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_rfc7515_a2_rs256_exact),
        cmocka_unit_test(test_rfc8037_a4_eddsa_exact),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_default_algs),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests_name("jws_sign", tests, NULL,
                                       group_teardown);
}
