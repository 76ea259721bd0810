
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

#include "ngx_oidc_b64.h"
#include "ngx_oidc_jose.h"
#include "ngx_oidc_crypto.h"


#define S(s)  (const unsigned char *) (s), sizeof(s) - 1


/* RFC 7636 appendix B */
#define RFC7636_VERIFIER   "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC7636_CHALLENGE  "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


static void
test_random_token(void **state)
{
    size_t          i, nbytes, len, dlen;
    unsigned char   a[128], b[128], raw[96];
    ngx_oidc_err_t  err;
    static size_t   sizes[] = { NGX_OIDC_TOKEN_MIN_BYTES,
                                NGX_OIDC_STATE_BYTES,
                                NGX_OIDC_SESSION_ID_BYTES,
                                33, NGX_OIDC_TOKEN_MAX_BYTES };

    (void) state;

    assert_int_equal(ngx_oidc_random_token_len(NGX_OIDC_STATE_BYTES), 32);
    assert_int_equal(ngx_oidc_random_token_len(NGX_OIDC_SESSION_ID_BYTES),
                     43);

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        nbytes = sizes[i];
        len = ngx_oidc_random_token_len(nbytes);

        memset(a, '#', sizeof(a));
        assert_int_equal(ngx_oidc_random_token(a, nbytes, &err),
                         NGX_OIDC_OK);
        assert_int_equal(ngx_oidc_random_token(b, nbytes, &err),
                         NGX_OIDC_OK);

        /* exactly "len" characters written, all base64url */
        assert_int_equal(a[len], '#');
        assert_int_equal(ngx_oidc_b64url_decode(raw, &dlen, a, len),
                         NGX_OIDC_OK);
        assert_int_equal(dlen, nbytes);

        /* 2^-128 or less: a collision means a broken generator */
        assert_memory_not_equal(a, b, len);
    }
}


static void
test_random_token_sizes(void **state)
{
    unsigned char   buf[256];
    ngx_oidc_err_t  err;

    (void) state;

    /* below 128 bits is refused: a guessable state or nonce */
    assert_int_equal(ngx_oidc_random_token(buf, 0, &err), NGX_OIDC_ERROR);
    assert_int_equal(ngx_oidc_random_token(buf, NGX_OIDC_TOKEN_MIN_BYTES - 1,
                                           &err),
                     NGX_OIDC_ERROR);
    assert_string_equal(err.reason, "bad random token size");
    assert_int_equal(ngx_oidc_random_token(buf, NGX_OIDC_TOKEN_MAX_BYTES + 1,
                                           &err),
                     NGX_OIDC_ERROR);
}


static void
test_pkce_rfc7636(void **state)
{
    unsigned char   challenge[NGX_OIDC_PKCE_CHALLENGE_LEN];
    ngx_oidc_err_t  err;

    (void) state;

    assert_true(ngx_oidc_pkce_verifier_valid(S(RFC7636_VERIFIER)));
    assert_int_equal(ngx_oidc_pkce_challenge(S(RFC7636_VERIFIER), challenge,
                                             &err),
                     NGX_OIDC_OK);
    assert_memory_equal(challenge, RFC7636_CHALLENGE,
                        NGX_OIDC_PKCE_CHALLENGE_LEN);
}


static void
test_pkce_generated(void **state)
{
    unsigned char   v[NGX_OIDC_PKCE_VERIFIER_MIN + 1], v2[64];
    unsigned char   c[NGX_OIDC_PKCE_CHALLENGE_LEN];
    unsigned char   c2[NGX_OIDC_PKCE_CHALLENGE_LEN];
    ngx_oidc_err_t  err;

    (void) state;

    v[NGX_OIDC_PKCE_VERIFIER_MIN] = '#';

    assert_int_equal(ngx_oidc_pkce_verifier(v, &err), NGX_OIDC_OK);
    assert_int_equal(v[NGX_OIDC_PKCE_VERIFIER_MIN], '#');
    assert_true(ngx_oidc_pkce_verifier_valid(v, NGX_OIDC_PKCE_VERIFIER_MIN));

    assert_int_equal(ngx_oidc_pkce_challenge(v, NGX_OIDC_PKCE_VERIFIER_MIN,
                                             c, &err),
                     NGX_OIDC_OK);

    /* another verifier, another challenge */
    assert_int_equal(ngx_oidc_pkce_verifier(v2, &err), NGX_OIDC_OK);
    assert_memory_not_equal(v, v2, NGX_OIDC_PKCE_VERIFIER_MIN);
    assert_int_equal(ngx_oidc_pkce_challenge(v2, NGX_OIDC_PKCE_VERIFIER_MIN,
                                             c2, &err),
                     NGX_OIDC_OK);
    assert_memory_not_equal(c, c2, NGX_OIDC_PKCE_CHALLENGE_LEN);
}


static void
test_pkce_verifier_valid(void **state)
{
    unsigned char  v[200];

    (void) state;

    memset(v, 'a', sizeof(v));

    assert_true(ngx_oidc_pkce_verifier_valid(v, 43));
    assert_true(ngx_oidc_pkce_verifier_valid(v, 128));
    assert_false(ngx_oidc_pkce_verifier_valid(v, 42));
    assert_false(ngx_oidc_pkce_verifier_valid(v, 129));
    assert_false(ngx_oidc_pkce_verifier_valid(v, 0));
    assert_false(ngx_oidc_pkce_verifier_valid(NULL, 43));

    /* the unreserved set: ALPHA DIGIT - . _ ~ */
    memcpy(v, "AZaz09-._~", 10);
    assert_true(ngx_oidc_pkce_verifier_valid(v, 43));

    v[5] = '+';
    assert_false(ngx_oidc_pkce_verifier_valid(v, 43));
    v[5] = '/';
    assert_false(ngx_oidc_pkce_verifier_valid(v, 43));
    v[5] = '=';
    assert_false(ngx_oidc_pkce_verifier_valid(v, 43));
    v[5] = ' ';
    assert_false(ngx_oidc_pkce_verifier_valid(v, 43));
    v[5] = '%';
    assert_false(ngx_oidc_pkce_verifier_valid(v, 43));
    v[5] = '\0';
    assert_false(ngx_oidc_pkce_verifier_valid(v, 43));
    v[5] = 0xc3;
    assert_false(ngx_oidc_pkce_verifier_valid(v, 43));
}


static void
test_pkce_challenge_refused(void **state)
{
    unsigned char   c[NGX_OIDC_PKCE_CHALLENGE_LEN];
    ngx_oidc_err_t  err;

    (void) state;

    assert_int_equal(ngx_oidc_pkce_challenge(S("short"), c, &err),
                     NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, "invalid code_verifier");

    assert_int_equal(ngx_oidc_pkce_challenge(
                         S("dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk"), c,
                         &err),
                     NGX_OIDC_DECLINED);
}


/* the token hash of "token" for "alg", NUL-terminated in "out" */

static void
token_hash(unsigned alg, const char *token, char *out)
{
    size_t          len;
    ngx_oidc_err_t  err;

    assert_int_equal(ngx_oidc_token_hash(alg, (const unsigned char *) token,
                                         strlen(token), (unsigned char *) out,
                                         &len, &err),
                     NGX_OIDC_OK);
    assert_true(len <= NGX_OIDC_TOKEN_HASH_MAX);
    out[len] = '\0';
}


#define assert_hash(alg, token, expected)                                    \
    do {                                                                     \
        char  h_[NGX_OIDC_TOKEN_HASH_MAX + 1];                               \
        token_hash(alg, token, h_);                                          \
        assert_string_equal(h_, expected);                                   \
    } while (0)


static void
test_token_hash_vectors(void **state)
{
    (void) state;

    /* OIDC Core A.4's c_hash of its authorization code (RS256) */
    assert_hash(NGX_OIDC_ALG_RS256,
                "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk",
                "LDktKdoQak3Pk0cnXxCltA");

    /* Ping Identity's published at_hash walk-through (RS256) */
    assert_hash(NGX_OIDC_ALG_RS256, "dNZX1hEZ9wBCzNL40Upu646bdzQA",
                "wfgvmE9VxjAudsl9lc6TqA");

    /* every *256 alg hashes alike */
    assert_hash(NGX_OIDC_ALG_PS256, "dNZX1hEZ9wBCzNL40Upu646bdzQA",
                "wfgvmE9VxjAudsl9lc6TqA");
    assert_hash(NGX_OIDC_ALG_ES256, "dNZX1hEZ9wBCzNL40Upu646bdzQA",
                "wfgvmE9VxjAudsl9lc6TqA");
    assert_hash(NGX_OIDC_ALG_HS256, "dNZX1hEZ9wBCzNL40Upu646bdzQA",
                "wfgvmE9VxjAudsl9lc6TqA");

    /* SHA-384 and SHA-512 halves, computed with Python's hashlib */
    assert_hash(NGX_OIDC_ALG_RS384, "jHkWEdUXMU1BwAsC4vtUsZwnNn",
                "96YpxQjCkbaMoTsALnxwghQ9BllMGIGA");
    assert_hash(NGX_OIDC_ALG_ES384, "jHkWEdUXMU1BwAsC4vtUsZwnNn",
                "96YpxQjCkbaMoTsALnxwghQ9BllMGIGA");
    assert_hash(NGX_OIDC_ALG_PS512, "jHkWEdUXMU1BwAsC4vtUsZwnNn",
                "MmkzYOUtjDYXQqHFgX7fIVjPbu-ZKciehuH5S1Pac6U");

    /* EdDSA (Ed25519): SHA-512, by the OIDC convention */
    assert_hash(NGX_OIDC_ALG_EDDSA, "jHkWEdUXMU1BwAsC4vtUsZwnNn",
                "MmkzYOUtjDYXQqHFgX7fIVjPbu-ZKciehuH5S1Pac6U");
    assert_hash(NGX_OIDC_ALG_EDDSA, "",
                "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg_SpIdNs6c4");
}


static void
test_token_hash_refused(void **state)
{
    size_t          len;
    unsigned char   out[NGX_OIDC_TOKEN_HASH_MAX];
    ngx_oidc_err_t  err;

    (void) state;

    assert_int_equal(ngx_oidc_token_hash(0, S("x"), out, &len, &err),
                     NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, "unsupported alg");

    assert_int_equal(ngx_oidc_token_hash(NGX_OIDC_ALG_RS256
                                         | NGX_OIDC_ALG_RS512,
                                         S("x"), out, &len, &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_token_hash(0x2000, S("x"), out, &len, &err),
                     NGX_OIDC_DECLINED);
}


static void
test_token_hash_check(void **state)
{
    ngx_oidc_err_t  err;

    (void) state;

    assert_int_equal(ngx_oidc_token_hash_check(NGX_OIDC_ALG_RS256,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQA"),
                         S("wfgvmE9VxjAudsl9lc6TqA"), &err),
                     NGX_OIDC_OK);

    /* one character off */
    assert_int_equal(ngx_oidc_token_hash_check(NGX_OIDC_ALG_RS256,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQA"),
                         S("wfgvmE9VxjAudsl9lc6TqB"), &err),
                     NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, "token hash mismatch");

    /* another token */
    assert_int_equal(ngx_oidc_token_hash_check(NGX_OIDC_ALG_RS256,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQB"),
                         S("wfgvmE9VxjAudsl9lc6TqA"), &err),
                     NGX_OIDC_DECLINED);

    /* a prefix, an extension, nothing */
    assert_int_equal(ngx_oidc_token_hash_check(NGX_OIDC_ALG_RS256,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQA"),
                         S("wfgvmE9VxjAudsl9lc6Tq"), &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_token_hash_check(NGX_OIDC_ALG_RS256,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQA"),
                         S("wfgvmE9VxjAudsl9lc6TqAA"), &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_token_hash_check(NGX_OIDC_ALG_RS256,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQA"), NULL, 0, &err),
                     NGX_OIDC_DECLINED);

    /* the right hash for the wrong alg */
    assert_int_equal(ngx_oidc_token_hash_check(NGX_OIDC_ALG_RS384,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQA"),
                         S("wfgvmE9VxjAudsl9lc6TqA"), &err),
                     NGX_OIDC_DECLINED);

    assert_int_equal(ngx_oidc_token_hash_check(0,
                         S("dNZX1hEZ9wBCzNL40Upu646bdzQA"),
                         S("wfgvmE9VxjAudsl9lc6TqA"), &err),
                     NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, "unsupported alg");
}


static void
hex(const unsigned char *p, size_t len, char *out)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        sprintf(out + 2 * i, "%02x", p[i]);
    }
}


static void
test_sha256_hmac(void **state)
{
    char           h[2 * NGX_OIDC_SHA256_LEN + 1];
    unsigned char  md[NGX_OIDC_SHA256_LEN];

    (void) state;

    /* FIPS 180-2 */
    assert_int_equal(ngx_oidc_sha256(S("abc"), md), NGX_OIDC_OK);
    hex(md, sizeof(md), h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223"
                           "b00361a396177a9cb410ff61f20015ad");

    assert_int_equal(ngx_oidc_sha256(NULL, 0, md), NGX_OIDC_OK);
    hex(md, sizeof(md), h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb924"
                           "27ae41e4649b934ca495991b7852b855");

    /* RFC 4231 4.3 (test case 2) */
    assert_int_equal(ngx_oidc_hmac_sha256(S("Jefe"),
                                          S("what do ya want for nothing?"),
                                          md),
                     NGX_OIDC_OK);
    hex(md, sizeof(md), h);
    assert_string_equal(h, "5bdcc146bf60754e6a042426089575c7"
                           "5a003f089d2739839dec58b964ec3843");

    assert_int_equal(ngx_oidc_hmac_sha256(S("Jefe"), NULL, 0, md),
                     NGX_OIDC_OK);

    /* an empty key would make the MAC a plain hash */
    assert_int_equal(ngx_oidc_hmac_sha256(NULL, 0, S("x"), md),
                     NGX_OIDC_ERROR);
    assert_int_equal(ngx_oidc_hmac_sha256(S(""), S("x"), md),
                     NGX_OIDC_ERROR);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_random_token),
        cmocka_unit_test(test_random_token_sizes),
        cmocka_unit_test(test_pkce_rfc7636),
        cmocka_unit_test(test_pkce_generated),
        cmocka_unit_test(test_pkce_verifier_valid),
        cmocka_unit_test(test_pkce_challenge_refused),
        cmocka_unit_test(test_token_hash_vectors),
        cmocka_unit_test(test_token_hash_refused),
        cmocka_unit_test(test_token_hash_check),
        cmocka_unit_test(test_sha256_hmac),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
