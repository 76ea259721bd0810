
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ngx_oidc_b64.h"
#include "ngx_oidc_jose.h"
#include "keys.h"


#define ALL_ALGS  (NGX_OIDC_ALG_ASYMMETRIC|NGX_OIDC_ALG_HMAC)
#define HDR(alg)  "{\"alg\":\"" alg "\"}"
#define PAYLOAD   "{\"iss\":\"https://op.example\",\"sub\":\"alice\"}"


/* RFC 7515 A.1: HS256 */
static const char  rfc7515_a1_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcg"
    "UuTwjAzZr1Z9CAow";
static const char  rfc7515_a1_jws[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
    "LmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/* RFC 7515 A.2: RS256; the JWK as printed, private members included */
static const char  rfc7515_a2_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\","
    "\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-"
    "Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690"
    "r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7"
    "WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\","
    "\"e\":\"AQAB\","
    "\"d\":\"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_G"
    "Q5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-Gj"
    "BVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV"
    "_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDV"
    "ZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ\"}]}";
static const char  rfc7515_a2_jws[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
    "LmNvbS9pc19yb290Ijp0cnVlfQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4B"
    "h-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZ"
    "LgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_d"
    "O--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6"
    "LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

/* RFC 7515 A.3: ES256 */
static const char  rfc7515_a3_jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
    "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}]}";
static const char  rfc7515_a3_jws[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
    "LmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKT"
    "UJqPP3-Kg6NU1Q";

/* RFC 7520 3.3 (RSA public key) and 3.1 (P-521 public key) */
static const char  rfc7520_rsa_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\","
    "\"use\":\"sig\","
    "\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRoj"
    "dNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC"
    "0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5l"
    "FHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLq"
    "KnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw\","
    "\"e\":\"AQAB\"}]}";
static const char  rfc7520_ec_jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"bilbo.baggins@hobbiton.example\","
    "\"use\":\"sig\",\"crv\":\"P-521\","
    "\"x\":\"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqv"
    "jyekWF-7ytDyRXYgCF5cj0Kt\","
    "\"y\":\"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgD"
    "PrwQrJmbnX9cwlGfP-HqHZR1\"}]}";

/* the payload of RFC 7520 4: a line of text, not JSON */
#define RFC7520_PAYLOAD                                                       \
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9v" \
    "ci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIg" \
    "ZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9m" \
    "ZiB0by4"

/* RFC 7520 4.1: RS256 */
static const char  rfc7520_41_jws[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9."
    RFC7520_PAYLOAD "."
    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U"
    "4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0Rn"
    "ltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9Uzp"
    "ERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4"
    "uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg";

/* RFC 7520 4.2: PS384 (randomized: verify only) */
static const char  rfc7520_42_jws[] =
    "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9."
    RFC7520_PAYLOAD "."
    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6V"
    "rklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlf"
    "z28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shn"
    "r2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAj"
    "VKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw";

/* RFC 7520 4.3: ES512 */
static const char  rfc7520_43_jws[] =
    "eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9."
    RFC7520_PAYLOAD "."
    "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRT"
    "zoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890jl8e2puQens_IEK"
    "BpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2";

/* RFC 8037 A.2 and A.4: Ed25519 */
static const char  rfc8037_jwks[] =
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
static const char  rfc8037_a4_jws[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7"
    "sVvpAr_MuM0KAg";


/* members of the keys above, for variations */
#define A3_X    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y    "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define ED_X    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_X31  "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUQ"
#define ZERO32  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define OKP(crv, x)                                                           \
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"" crv "\",\"x\":\"" x "\"}]}"


/* a 64-byte secret for HS256/384/512 */
static const unsigned char  test_secret[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
#define TEST_SECRET_LEN  64


/* the keys of the tests: one of each kind with a kid, and a secret */
static ngx_oidc_jwks_t  *jwks;


static int
group_setup(void **state)
{
    char            *rsa, *p256, *p384, *p521, *ed, *set;
    size_t           skipped;
    ngx_oidc_str_t   kid = ngx_oidc_string("hs");
    ngx_oidc_err_t   err;

    (void) state;

    rsa = test_jwk(test_key(TEST_KEY_RSA), "rsa", NULL, "sig");
    p256 = test_jwk(test_key(TEST_KEY_P256), "p256", "ES256", NULL);
    p384 = test_jwk(test_key(TEST_KEY_P384), "p384", NULL, NULL);
    p521 = test_jwk(test_key(TEST_KEY_P521), "p521", NULL, NULL);
    ed = test_jwk(test_key(TEST_KEY_ED25519), "ed", "EdDSA", NULL);
    set = test_jwks(rsa, p256, p384, p521, ed, NULL);

    jwks = ngx_oidc_jwks_parse((unsigned char *) set, strlen(set), 65536,
                               &skipped, &err);

    free(rsa);
    free(p256);
    free(p384);
    free(p521);
    free(ed);
    free(set);

    if (jwks == NULL || skipped != 0
        || ngx_oidc_jwks_add_secret(jwks, test_secret, TEST_SECRET_LEN, &kid,
                                    &err)
           != NGX_OIDC_OK)
    {
        return -1;
    }

    return 0;
}


static int
group_teardown(void **state)
{
    (void) state;

    ngx_oidc_jwks_free(jwks);
    test_keys_cleanup();

    return 0;
}


static ngx_oidc_jwks_t *
parse_jwks(const char *json, size_t *skipped, ngx_oidc_err_t *err)
{
    return ngx_oidc_jwks_parse((const unsigned char *) json, strlen(json),
                               65536, skipped, err);
}


/* the decode result alone */
static int
decode_rc(const char *token, ngx_oidc_err_t *err)
{
    int             rc;
    ngx_oidc_jws_t  jws;

    rc = ngx_oidc_jws_decode(&jws, (const unsigned char *) token,
                             strlen(token), NGX_OIDC_JWS_MAX_LEN, err);

    ngx_oidc_jws_free(&jws);

    return rc;
}


/* the verify result of a token that must decode */
static int
verify_rc_ex(const char *token, const ngx_oidc_jwks_t *keys,
    unsigned allowed, int raw, ngx_oidc_err_t *err)
{
    int             rc;
    ngx_oidc_jws_t  jws;

    if (raw) {
        rc = ngx_oidc_jws_decode_raw(&jws, (const unsigned char *) token,
                                     strlen(token), NGX_OIDC_JWS_MAX_LEN, err);
    } else {
        rc = ngx_oidc_jws_decode(&jws, (const unsigned char *) token,
                                 strlen(token), NGX_OIDC_JWS_MAX_LEN, err);
    }

    if (rc != NGX_OIDC_OK) {
        print_error("decode: %s (%s)\n", err->reason, err->detail);
        fail();
    }

    rc = ngx_oidc_jws_verify(&jws, keys, allowed, err);

    ngx_oidc_jws_free(&jws);

    /* no error may be left for nginx's ssl code to find */
    assert_int_equal(ERR_peek_error(), 0);

    return rc;
}


static int
verify_rc(const char *token, const ngx_oidc_jwks_t *keys, unsigned allowed)
{
    ngx_oidc_err_t  err;

    return verify_rc_ex(token, keys, allowed, 0, &err);
}


static void
assert_reason(const ngx_oidc_err_t *err, const char *part)
{
    if (err->reason == NULL || strstr(err->reason, part) == NULL) {
        print_error("reason \"%s\" lacks \"%s\"\n",
                    err->reason ? err->reason : "(null)", part);
        fail();
    }
}


/* a token signed with a key of the test set, with kid and alg */
static char *
sign(const char *alg, const char *kid, test_key_e kind)
{
    char  header[256];

    (void) snprintf(header, sizeof(header),
                    "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                    alg, kid);

    if (alg[0] == 'H') {
        return test_jws_sign(header, PAYLOAD, alg, NULL, test_secret,
                             TEST_SECRET_LEN, 0);
    }

    return test_jws_sign(header, PAYLOAD, alg, test_key(kind), NULL, 0, 0);
}


/* flips one bit of the character at "pos" of the last part */
static void
flip_signature(char *token, size_t pos)
{
    char  *s;

    s = strrchr(token, '.') + 1;
    s[pos] = s[pos] == 'A' ? 'B' : 'A';
}


/* a copy of s with the first "from" replaced by "to" */
static char *
replace(const char *s, const char *from, const char *to)
{
    char        *out;
    const char  *at;

    at = strstr(s, from);
    assert_non_null(at);

    out = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
    assert_non_null(out);

    sprintf(out, "%.*s%s%s", (int) (at - s), s, to, at + strlen(from));

    return out;
}


/* the string value of a JWK member, decoded from base64url */
static unsigned char *
member(const char *jwk, const char *name, size_t *len)
{
    char            key[16];
    const char     *v, *end;
    unsigned char  *out;

    (void) snprintf(key, sizeof(key), "\"%s\":\"", name);
    v = strstr(jwk, key);
    assert_non_null(v);
    v += strlen(key);
    end = strchr(v, '"');

    out = malloc(end - v + 4);
    assert_non_null(out);
    assert_int_equal(ngx_oidc_b64url_decode(out, len, (unsigned char *) v,
                                            end - v),
                     NGX_OIDC_OK);

    return out;
}


/* a JWK with a member changed to the base64url of other bytes */
static char *
with_member(const char *jwk, const char *name, const unsigned char *value,
    size_t len)
{
    char           *from, *to, *b64, *out;
    size_t          old_len;
    unsigned char  *old;

    old = member(jwk, name, &old_len);
    b64 = test_b64url(old, old_len);
    from = malloc(strlen(b64) + 16);
    sprintf(from, "\"%s\":\"%s\"", name, b64);
    free(b64);

    b64 = test_b64url(value, len);
    to = malloc(strlen(b64) + 16);
    sprintf(to, "\"%s\":\"%s\"", name, b64);

    out = replace(jwk, from, to);

    free(old);
    free(b64);
    free(from);
    free(to);

    return out;
}


/* a JWK with more members */
static char *
jwk_with(const char *jwk, const char *extra)
{
    char  *out;

    out = malloc(strlen(jwk) + strlen(extra) + 2);
    assert_non_null(out);
    sprintf(out, "%.*s,%s}", (int) strlen(jwk) - 1, jwk, extra);

    return out;
}


/* 1 when a set of that one JWK is refused */
static int
jwk_refused(const char *jwk)
{
    char             *set_json;
    size_t            skipped;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    set_json = test_jwks(jwk, NULL);
    set = parse_jwks(set_json, &skipped, &err);
    free(set_json);

    if (set != NULL) {
        ngx_oidc_jwks_free(set);
        return 0;
    }

    return skipped == 1;
}


/* ---- published vectors ---- */


static void
test_rfc7515_a1_hs256(void **state)
{
    size_t           klen;
    ngx_oidc_jws_t   jws;
    ngx_oidc_err_t   err;
    unsigned char    k[128];
    ngx_oidc_jwks_t *set;

    (void) state;

    assert_int_equal(ngx_oidc_b64url_decode(k, &klen,
                         (const unsigned char *) rfc7515_a1_k,
                         strlen(rfc7515_a1_k)), NGX_OIDC_OK);
    assert_int_equal(klen, 64);

    set = ngx_oidc_jwks_create();
    assert_non_null(set);
    assert_int_equal(ngx_oidc_jwks_add_secret(set, k, klen, NULL, &err),
                     NGX_OIDC_OK);

    assert_int_equal(ngx_oidc_jws_decode(&jws,
                         (const unsigned char *) rfc7515_a1_jws,
                         strlen(rfc7515_a1_jws), NGX_OIDC_JWS_MAX_LEN, &err),
                     NGX_OIDC_OK);
    assert_int_equal(jws.alg, NGX_OIDC_ALG_HS256);
    assert_int_equal(jws.typ.len, 3);
    assert_memory_equal(jws.typ.data, "JWT", 3);
    assert_int_equal(jws.kid.len, 0);
    assert_string_equal(json_string_value(json_object_get(jws.payload,
                                                          "iss")), "joe");
    assert_int_equal(ngx_oidc_jws_verify(&jws, set, NGX_OIDC_ALG_HS256, &err),
                     NGX_OIDC_OK);
    ngx_oidc_jws_free(&jws);

    ngx_oidc_jwks_free(set);
}


static void
test_rfc7515_a2_rs256(void **state)
{
    size_t            skipped;
    ngx_oidc_jws_t    jws;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    static const char  payload[] =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n"
        " \"http://example.com/is_root\":true}";

    (void) state;

    set = parse_jwks(rfc7515_a2_jwks, &skipped, &err);
    assert_non_null(set);
    assert_int_equal(skipped, 0);
    assert_int_equal(ngx_oidc_jwks_count(set), 1);

    assert_int_equal(verify_rc(rfc7515_a2_jws, set, NGX_OIDC_ALG_RS256),
                     NGX_OIDC_OK);

    /* the same key refuses PS256 and the RS256 token if RS256 is barred */
    assert_int_equal(verify_rc(rfc7515_a2_jws, set, NGX_OIDC_ALG_PS256),
                     NGX_OIDC_DECLINED);

    /* decode keeps the payload's exact bytes (the RFC's, CRLFs included) */
    assert_int_equal(ngx_oidc_jws_decode(&jws,
                                         (const unsigned char *) rfc7515_a2_jws,
                                         sizeof(rfc7515_a2_jws) - 1,
                                         NGX_OIDC_JWS_MAX_LEN, &err),
                     NGX_OIDC_OK);
    assert_int_equal(jws.raw_payload_len, sizeof(payload) - 1);
    assert_memory_equal(jws.raw_payload, payload, sizeof(payload) - 1);
    assert_non_null(jws.payload);
    ngx_oidc_jws_free(&jws);

    ngx_oidc_jwks_free(set);
}


static void
test_rfc7515_a3_es256(void **state)
{
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    set = parse_jwks(rfc7515_a3_jwks, NULL, &err);
    assert_non_null(set);

    assert_int_equal(verify_rc(rfc7515_a3_jws, set, ALL_ALGS), NGX_OIDC_OK);

    ngx_oidc_jwks_free(set);
}


static void
test_rfc7520_41_rs256(void **state)
{
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    set = parse_jwks(rfc7520_rsa_jwks, NULL, &err);
    assert_non_null(set);
    assert_true(ngx_oidc_jwks_has_kid(set,
                    (const unsigned char *) "bilbo.baggins@hobbiton.example",
                    30));

    assert_int_equal(verify_rc_ex(rfc7520_41_jws, set, ALL_ALGS, 1, &err),
                     NGX_OIDC_OK);

    /* the payload is text: the claims decoder refuses it */
    assert_int_equal(decode_rc(rfc7520_41_jws, &err), NGX_OIDC_DECLINED);
    assert_reason(&err, "payload");

    ngx_oidc_jwks_free(set);
}


static void
test_rfc7520_42_ps384(void **state)
{
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;
    ngx_oidc_jws_t    jws;

    (void) state;

    set = parse_jwks(rfc7520_rsa_jwks, NULL, &err);
    assert_non_null(set);

    assert_int_equal(verify_rc_ex(rfc7520_42_jws, set, ALL_ALGS, 1, &err),
                     NGX_OIDC_OK);

    assert_int_equal(ngx_oidc_jws_decode_raw(&jws,
                         (const unsigned char *) rfc7520_42_jws,
                         strlen(rfc7520_42_jws), NGX_OIDC_JWS_MAX_LEN, &err),
                     NGX_OIDC_OK);
    assert_null(jws.payload);
    assert_int_equal(jws.raw_payload_len, 167);
    assert_memory_equal(jws.raw_payload, "It\xe2\x80\x99s a dangerous", 18);
    ngx_oidc_jws_free(&jws);

    ngx_oidc_jwks_free(set);
}


static void
test_rfc7520_43_es512(void **state)
{
    char             *bad;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    set = parse_jwks(rfc7520_ec_jwks, NULL, &err);
    assert_non_null(set);

    assert_int_equal(verify_rc_ex(rfc7520_43_jws, set, ALL_ALGS, 1, &err),
                     NGX_OIDC_OK);

    bad = strdup(rfc7520_43_jws);
    flip_signature(bad, 40);
    assert_int_equal(verify_rc_ex(bad, set, ALL_ALGS, 1, &err),
                     NGX_OIDC_DECLINED);
    free(bad);

    ngx_oidc_jwks_free(set);
}


static void
test_rfc8037_a4_eddsa(void **state)
{
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    set = parse_jwks(rfc8037_jwks, NULL, &err);
    assert_non_null(set);

    assert_int_equal(verify_rc_ex(rfc8037_a4_jws, set, NGX_OIDC_ALG_EDDSA, 1,
                                  &err),
                     NGX_OIDC_OK);
    assert_int_equal(verify_rc_ex(rfc8037_a4_jws, set, NGX_OIDC_ALG_ES256, 1,
                                  &err),
                     NGX_OIDC_DECLINED);

    ngx_oidc_jwks_free(set);
}


/* ---- run-time keys, every algorithm ---- */


static void
test_roundtrip_all_algs(void **state)
{
    char        *token;
    size_t       i;
    const char  *name;

    static const struct {
        const char  *alg;
        const char  *kid;
        test_key_e   kind;
    } cases[] = {
        { "RS256", "rsa", TEST_KEY_RSA }, { "RS384", "rsa", TEST_KEY_RSA },
        { "RS512", "rsa", TEST_KEY_RSA }, { "PS256", "rsa", TEST_KEY_RSA },
        { "PS384", "rsa", TEST_KEY_RSA }, { "PS512", "rsa", TEST_KEY_RSA },
        { "ES256", "p256", TEST_KEY_P256 }, { "ES384", "p384", TEST_KEY_P384 },
        { "ES512", "p521", TEST_KEY_P521 }, { "EdDSA", "ed", TEST_KEY_ED25519 },
        { "HS256", "hs", 0 }, { "HS384", "hs", 0 }, { "HS512", "hs", 0 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        token = sign(cases[i].alg, cases[i].kid, cases[i].kind);

        name = ngx_oidc_alg_name(
                   ngx_oidc_alg_from_name((const unsigned char *) cases[i].alg,
                                          strlen(cases[i].alg)));
        assert_non_null(name);
        assert_string_equal(name, cases[i].alg);

        if (verify_rc(token, jwks, ALL_ALGS) != NGX_OIDC_OK) {
            print_error("%s did not verify\n", cases[i].alg);
            fail();
        }

        /* the allow-list alone turns it down */
        assert_int_equal(verify_rc(token, jwks,
                                   ALL_ALGS & ~ngx_oidc_alg_from_name(
                                       (const unsigned char *) cases[i].alg,
                                       5)),
                         NGX_OIDC_DECLINED);

        flip_signature(token, 3);
        assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);

        free(token);
    }
}


static void
test_alg_names(void **state)
{
    (void) state;

    assert_int_equal(ngx_oidc_alg_from_name((const unsigned char *) "none", 4),
                     0);
    assert_int_equal(ngx_oidc_alg_from_name((const unsigned char *) "rs256",
                                            5), 0);
    assert_int_equal(ngx_oidc_alg_from_name((const unsigned char *) "RS2560",
                                            6), 0);
    assert_int_equal(ngx_oidc_alg_from_name((const unsigned char *) "RS25",
                                            4), 0);
    assert_int_equal(ngx_oidc_alg_from_name((const unsigned char *) "ES256K",
                                            6), 0);
    assert_int_equal(ngx_oidc_alg_from_name((const unsigned char *) "", 0), 0);
    assert_null(ngx_oidc_alg_name(0));
    assert_null(ngx_oidc_alg_name(NGX_OIDC_ALG_RS256|NGX_OIDC_ALG_RS384));
    assert_string_equal(ngx_oidc_alg_name(NGX_OIDC_ALG_EDDSA), "EdDSA");
}


/* ---- differential: libjwt 1.10 signs, we verify; and the reverse ---- */


static void
test_libjwt_signs_we_verify(void **state)
{
    char            *pem, *token, *jwk, *set_json;
    size_t           i, len;
    ngx_oidc_err_t   err;
    ngx_oidc_jwks_t *set;

    static const struct {
        const char  *alg;
        test_key_e   kind;
    } cases[] = {
        { "RS256", TEST_KEY_RSA }, { "RS384", TEST_KEY_RSA },
        { "RS512", TEST_KEY_RSA }, { "ES256", TEST_KEY_P256 },
        { "ES384", TEST_KEY_P384 }, { "ES512", TEST_KEY_P521 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pem = test_pem_private(test_key(cases[i].kind), &len);
        token = test_libjwt_sign(cases[i].alg, (unsigned char *) pem, len,
                                 PAYLOAD);

        /* libjwt puts no kid in the header: every fitting key is tried */
        if (verify_rc(token, jwks, ALL_ALGS) != NGX_OIDC_OK) {
            print_error("libjwt %s did not verify\n", cases[i].alg);
            fail();
        }

        /* and a set with only another key of the same type refuses it */
        jwk = test_jwk(test_key(cases[i].kind == TEST_KEY_RSA
                                ? TEST_KEY_RSA_OTHER : TEST_KEY_P256_OTHER),
                       NULL, NULL, NULL);
        set_json = test_jwks(jwk, NULL);
        set = parse_jwks(set_json, NULL, &err);
        assert_non_null(set);
        assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);

        ngx_oidc_jwks_free(set);
        free(set_json);
        free(jwk);
        free(token);
        free(pem);
    }

    for (i = 0; i < 3; i++) {
        token = test_libjwt_sign(i == 0 ? "HS256" : i == 1 ? "HS384"
                                                           : "HS512",
                                 test_secret, TEST_SECRET_LEN, PAYLOAD);
        assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_OK);
        free(token);
    }
}


static void
test_we_sign_libjwt_verifies(void **state)
{
    char        *pem, *token;
    size_t       i, len;

    static const struct {
        const char  *alg;
        test_key_e   kind;
    } cases[] = {
        { "RS256", TEST_KEY_RSA }, { "RS512", TEST_KEY_RSA },
        { "ES256", TEST_KEY_P256 }, { "ES384", TEST_KEY_P384 },
        { "ES512", TEST_KEY_P521 },
    };

    (void) state;

    /* checks the helpers of keys.c against a second implementation */
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pem = test_pem_public(test_key(cases[i].kind), &len);
        token = sign(cases[i].alg, "x", cases[i].kind);

        assert_true(test_libjwt_verify(token, (unsigned char *) pem, len));

        flip_signature(token, 5);
        assert_false(test_libjwt_verify(token, (unsigned char *) pem, len));

        free(token);
        free(pem);
    }

    token = sign("HS256", "hs", 0);
    assert_true(test_libjwt_verify(token, test_secret, TEST_SECRET_LEN));
    free(token);
}


/* ---- refusals ---- */


static void
test_bad_signature(void **state)
{
    char            *token, *other;
    ngx_oidc_err_t   err;

    (void) state;

    token = sign("RS256", "rsa", TEST_KEY_RSA);
    flip_signature(token, 100);
    assert_int_equal(verify_rc_ex(token, jwks, ALL_ALGS, 0, &err),
                     NGX_OIDC_DECLINED);
    assert_reason(&err, "signature is invalid");
    free(token);

    /* the signature of one payload on another */
    token = sign("ES256", "p256", TEST_KEY_P256);
    other = test_jws_sign("{\"alg\":\"ES256\",\"kid\":\"p256\",\"typ\":"
                          "\"JWT\"}", "{\"sub\":\"mallory\"}", "ES256",
                          test_key(TEST_KEY_P256), NULL, 0, 0);
    strcpy(strrchr(other, '.'), strrchr(token, '.'));
    assert_int_equal(verify_rc(other, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(other);
    free(token);

    /* a signature made by another key of the same kind */
    token = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD,
                          "RS256", test_key(TEST_KEY_RSA_OTHER), NULL, 0, 0);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);
}


static void
test_alg_none(void **state)
{
    char            *h, *p, *token;
    size_t           i;
    ngx_oidc_err_t   err;

    static const char  *nones[] = {
        "{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"nOnE\"}",
        "{\"alg\":\"NONE\"}", "{\"alg\":\"none\",\"kid\":\"rsa\"}",
    };

    (void) state;

    p = test_b64url(PAYLOAD, strlen(PAYLOAD));

    for (i = 0; i < sizeof(nones) / sizeof(nones[0]); i++) {
        h = test_b64url(nones[i], strlen(nones[i]));

        /* with the empty signature "none" has, and with some signature */
        token = test_jws_join(h, p, "");
        assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
        free(token);

        token = test_jws_join(h, p, "c2lnbmF0dXJl");
        assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
        assert_reason(&err, "unsecured");
        free(token);

        free(h);
    }

    free(p);
}


static void
test_alg_unusable(void **state)
{
    char            *token;
    size_t           i;
    ngx_oidc_err_t   err;

    static const char  *headers[] = {
        "{\"kid\":\"rsa\"}", "{\"alg\":null}", "{\"alg\":256}",
        "{\"alg\":[\"RS256\"]}", "{\"alg\":\"rs256\"}", "{\"alg\":\"RS1\"}",
        "{\"alg\":\"ES256K\"}", "{\"alg\":\"RSA-OAEP\"}", "{\"alg\":\"\"}",
        "{\"alg\":\"RS256 \"}", "{\"alg\":\"Ed25519\"}",
    };

    (void) state;

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        token = test_jws_sign(headers[i], PAYLOAD, "RS256",
                              test_key(TEST_KEY_RSA), NULL, 0, 0);
        assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
        assert_reason(&err, "alg");
        free(token);
    }
}


/* CVE-2016-10555: HS256 with the RSA public key as the HMAC secret */
static void
test_key_confusion(void **state)
{
    int               pass;
    char             *pem, *token, *jwk, *set_json;
    size_t            len;
    ngx_oidc_err_t    err;
    unsigned char    *der;
    ngx_oidc_jwks_t  *set;

    (void) state;

    pem = test_pem_public(test_key(TEST_KEY_RSA), &len);
    der = test_der_public(test_key(TEST_KEY_RSA), &len);
    jwk = test_jwk(test_key(TEST_KEY_RSA), "rsa", NULL, NULL);
    set_json = test_jwks(jwk, NULL);

    for (pass = 0; pass < 2; pass++) {
        set = parse_jwks(set_json, NULL, &err);
        assert_non_null(set);

        /* second pass: a secret is configured, under the same kid too */
        if (pass == 1) {
            ngx_oidc_str_t  kid = ngx_oidc_string("rsa");

            assert_int_equal(ngx_oidc_jwks_add_secret(set, test_secret, 32,
                                                      &kid, &err),
                             NGX_OIDC_OK);
        }

        token = test_jws_sign("{\"alg\":\"HS256\",\"kid\":\"rsa\"}", PAYLOAD,
                              "HS256", NULL, (unsigned char *) pem,
                              strlen(pem), 0);
        assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);
        free(token);

        token = test_jws_sign("{\"alg\":\"HS256\"}", PAYLOAD, "HS256", NULL,
                              der, len, 0);
        assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);
        free(token);

        /* and the n of the JWK, raw, as a secret */
        token = test_jws_sign("{\"alg\":\"HS512\"}", PAYLOAD, "HS512", NULL,
                              (unsigned char *) jwk, strlen(jwk), 0);
        assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);
        free(token);

        ngx_oidc_jwks_free(set);
    }

    OPENSSL_free(der);
    free(set_json);
    free(jwk);
    free(pem);
}


/* ruby-jwt CVE-2026-45363, fast-jwt GHSA-gmvf-9v4p-v8jc: empty keys */
static void
test_empty_hmac_key(void **state)
{
    char             *token, *h, *p, *jwk, *set_json;
    ngx_oidc_str_t    kid = ngx_oidc_string("hs");
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    set = ngx_oidc_jwks_create();
    assert_non_null(set);

    assert_int_equal(ngx_oidc_jwks_add_secret(set, (unsigned char *) "", 0,
                                              &kid, &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_jwks_add_secret(set, NULL, 0, NULL, &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_jwks_add_secret(set, test_secret, 31, NULL,
                                              &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_jwks_count(set), 0);

    /* signed with the empty key: nothing can verify it */
    token = test_jws_sign("{\"alg\":\"HS256\",\"kid\":\"hs\"}", PAYLOAD,
                          "HS256", NULL, NULL, 0, 0);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_NOKEY);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    token = test_jws_sign("{\"alg\":\"HS256\"}", PAYLOAD, "HS256", NULL,
                          NULL, 0, 0);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    /* an empty signature is refused before any key is looked at */
    h = test_b64url("{\"alg\":\"HS256\"}", 15);
    p = test_b64url(PAYLOAD, strlen(PAYLOAD));
    token = test_jws_join(h, p, "");
    assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
    assert_reason(&err, "signature is empty");
    free(token);
    free(h);
    free(p);

    /* an "oct" JWK with an empty (or any) "k" never becomes a key */
    jwk = strdup("{\"kty\":\"oct\",\"k\":\"\",\"kid\":\"hs\"}");
    set_json = test_jwks(jwk, NULL);
    assert_null(parse_jwks(set_json, NULL, &err));
    free(set_json);
    free(jwk);

    ngx_oidc_jwks_free(set);
}


static void
test_hmac_tag_and_key_length(void **state)
{
    char             *token, *s, *b64;
    size_t            len;
    unsigned char     tag[64];
    ngx_oidc_str_t    kid = ngx_oidc_string("short");
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    /* a truncated tag is refused: the whole tag is compared */
    token = sign("HS256", "hs", 0);
    s = strrchr(token, '.') + 1;
    assert_int_equal(ngx_oidc_b64url_decode(tag, &len, (unsigned char *) s,
                                            strlen(s)),
                     NGX_OIDC_OK);
    assert_int_equal(len, 32);

    for (len = 1; len < 32; len += 15) {
        b64 = test_b64url(tag, len);
        strcpy(s, b64);
        free(b64);
        assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    }

    free(token);

    /* 32 bytes are enough for HS256 only (RFC 7518 3.2) */
    set = ngx_oidc_jwks_create();
    assert_int_equal(ngx_oidc_jwks_add_secret(set, test_secret, 32, &kid,
                                              &err),
                     NGX_OIDC_OK);

    token = test_jws_sign("{\"alg\":\"HS256\",\"kid\":\"short\"}", PAYLOAD,
                          "HS256", NULL, test_secret, 32, 0);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_OK);
    free(token);

    token = test_jws_sign("{\"alg\":\"HS512\",\"kid\":\"short\"}", PAYLOAD,
                          "HS512", NULL, test_secret, 32, 0);
    assert_int_equal(verify_rc_ex(token, set, ALL_ALGS, 0, &err),
                     NGX_OIDC_DECLINED);
    assert_reason(&err, "no key fits");
    free(token);

    ngx_oidc_jwks_free(set);
}


static void
test_kid_selection(void **state)
{
    char             *token, *a, *b, *set_json;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    /* a kid that names no key: the caller may refetch the set */
    token = sign("RS256", "unknown", TEST_KEY_RSA);
    assert_int_equal(verify_rc_ex(token, jwks, ALL_ALGS, 0, &err),
                     NGX_OIDC_NOKEY);
    free(token);

    /* the right key under the wrong kid */
    token = sign("RS256", "p256", TEST_KEY_RSA);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    /* no kid: every fitting key is tried */
    token = test_jws_sign("{\"alg\":\"ES384\"}", PAYLOAD, "ES384",
                          test_key(TEST_KEY_P384), NULL, 0, 0);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_OK);
    free(token);

    /* two keys under one kid (rotation): the second one signs */
    a = test_jwk(test_key(TEST_KEY_RSA_OTHER), "k", NULL, NULL);
    b = test_jwk(test_key(TEST_KEY_RSA), "k", NULL, NULL);
    set_json = test_jwks(a, b, NULL);
    set = parse_jwks(set_json, NULL, &err);
    assert_non_null(set);
    assert_true(ngx_oidc_jwks_has_kid(set, (unsigned char *) "k", 1));
    assert_false(ngx_oidc_jwks_has_kid(set, (unsigned char *) "kk", 2));
    assert_false(ngx_oidc_jwks_has_kid(set, (unsigned char *) "", 0));

    token = sign("RS256", "k", TEST_KEY_RSA);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_OK);
    free(token);

    /* keys without a kid are not tried for a token with one */
    token = sign("EdDSA", "ed2", TEST_KEY_ED25519);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_NOKEY);
    free(token);

    ngx_oidc_jwks_free(set);
    free(set_json);
    free(a);
    free(b);
}


static void
test_alg_key_mismatch(void **state)
{
    char             *token, *jwk, *set_json;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    /* ES256 token against the RSA key (kid of the RSA key) */
    token = test_jws_sign("{\"alg\":\"ES256\",\"kid\":\"rsa\"}", PAYLOAD,
                          "ES256", test_key(TEST_KEY_P256), NULL, 0, 0);
    assert_int_equal(verify_rc_ex(token, jwks, ALL_ALGS, 0, &err),
                     NGX_OIDC_DECLINED);
    assert_reason(&err, "no key fits");
    free(token);

    /* ES384 token against the P-256 key */
    token = test_jws_sign("{\"alg\":\"ES384\",\"kid\":\"p256\"}", PAYLOAD,
                          "ES384", test_key(TEST_KEY_P256), NULL, 0, 0);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    /* ES512 header on a P-256 signature, no kid */
    token = test_jws_sign("{\"alg\":\"ES512\"}", PAYLOAD, "ES256",
                          test_key(TEST_KEY_P256), NULL, 0, 0);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    /* EdDSA token under the RSA kid, RS256 under the Ed25519 kid */
    token = sign("EdDSA", "rsa", TEST_KEY_ED25519);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    token = sign("RS256", "ed", TEST_KEY_RSA);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    /* a PKCS#1 v1.5 signature presented as PS256 */
    token = test_jws_sign("{\"alg\":\"PS256\",\"kid\":\"rsa\"}", PAYLOAD,
                          "RS256", test_key(TEST_KEY_RSA), NULL, 0, 0);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    /* the key's own "alg" pins it: RS256 refused for a PS256 key */
    jwk = test_jwk(test_key(TEST_KEY_RSA), "pss", "PS256", "sig");
    set_json = test_jwks(jwk, NULL);
    set = parse_jwks(set_json, NULL, &err);
    assert_non_null(set);

    token = sign("RS256", "pss", TEST_KEY_RSA);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    token = sign("PS384", "pss", TEST_KEY_RSA);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    token = sign("PS256", "pss", TEST_KEY_RSA);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_OK);
    free(token);

    ngx_oidc_jwks_free(set);
    free(set_json);
    free(jwk);
}


static void
test_pss_salt_length(void **state)
{
    char  *token;

    (void) state;

    /* RFC 7518 3.5: the salt is as long as the hash, nothing else */
    token = test_jws_sign("{\"alg\":\"PS256\",\"kid\":\"rsa\"}", PAYLOAD,
                          "PS256", test_key(TEST_KEY_RSA), NULL, 0,
                          TEST_SIGN_PSS_SALT_MAX);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);
}


static void
test_jwk_use_and_key_ops(void **state)
{
    char             *enc, *sig, *ops_enc, *ops_sig, *set_json, *token;
    size_t            skipped;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    enc = test_jwk(test_key(TEST_KEY_P256), "enc", NULL, "enc");
    sig = test_jwk(test_key(TEST_KEY_P256_OTHER), "sig", NULL, "sig");
    set_json = test_jwks(enc, sig, NULL);
    set = parse_jwks(set_json, &skipped, &err);
    assert_non_null(set);
    assert_int_equal(skipped, 1);
    assert_int_equal(ngx_oidc_jwks_count(set), 1);
    assert_reason(&err, "use");
    assert_false(ngx_oidc_jwks_has_kid(set, (unsigned char *) "enc", 3));

    token = sign("ES256", "enc", TEST_KEY_P256);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_NOKEY);
    free(token);

    token = test_jws_sign("{\"alg\":\"ES256\"}", PAYLOAD, "ES256",
                          test_key(TEST_KEY_P256), NULL, 0, 0);
    assert_int_equal(verify_rc(token, set, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    ngx_oidc_jwks_free(set);
    free(set_json);

    /* only "enc" keys: nothing usable */
    set_json = test_jwks(enc, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    assert_reason(&err, "no usable key");
    free(set_json);

    /* key_ops */
    free(enc);
    enc = test_jwk(test_key(TEST_KEY_P256), "enc", NULL, NULL);
    ops_enc = jwk_with(enc, "\"key_ops\":[\"encrypt\",\"wrapKey\"]");
    ops_sig = jwk_with(enc, "\"key_ops\":[\"sign\",\"verify\"]");

    set_json = test_jwks(ops_enc, sig, NULL);
    set = parse_jwks(set_json, &skipped, &err);
    assert_non_null(set);
    assert_int_equal(skipped, 1);
    assert_reason(&err, "key_ops");
    ngx_oidc_jwks_free(set);
    free(set_json);

    set_json = test_jwks(ops_sig, NULL);
    set = parse_jwks(set_json, &skipped, &err);
    assert_non_null(set);
    assert_int_equal(skipped, 0);
    ngx_oidc_jwks_free(set);
    free(set_json);

    free(ops_enc);
    ops_enc = jwk_with(enc, "\"key_ops\":\"verify\"");
    assert_true(jwk_refused(ops_enc));
    free(ops_sig);
    ops_sig = jwk_with(enc, "\"use\":\"sig\",\"key_ops\":[\"verify\"]");
    assert_false(jwk_refused(ops_sig));
    free(ops_sig);
    ops_sig = jwk_with(enc, "\"use\":1");
    assert_true(jwk_refused(ops_sig));

    free(ops_enc);
    free(ops_sig);
    free(enc);
    free(sig);
}


static void
test_oversized(void **state)
{
    char            *token, *payload, *header;
    size_t           n;
    ngx_oidc_err_t   err;
    ngx_oidc_jws_t   jws;

    (void) state;

    /* a payload that makes the token longer than NGX_OIDC_JWS_MAX_LEN */
    n = NGX_OIDC_JWS_MAX_LEN;
    payload = malloc(n + 32);
    sprintf(payload, "{\"x\":\"%0*d\"}", (int) n - 10, 0);
    token = test_jws_sign("{\"alg\":\"HS256\"}", payload, "HS256", NULL,
                          test_secret, TEST_SECRET_LEN, 0);
    assert_true(strlen(token) > NGX_OIDC_JWS_MAX_LEN);
    assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
    assert_reason(&err, "too large");

    /* the caller's own limit, and "max" never above the hard one */
    assert_int_equal(ngx_oidc_jws_decode(&jws, (unsigned char *) token,
                                         strlen(token), (size_t) -1, &err),
                     NGX_OIDC_DECLINED);
    free(token);
    free(payload);

    token = sign("HS256", "hs", 0);
    assert_int_equal(ngx_oidc_jws_decode(&jws, (unsigned char *) token,
                                         strlen(token), 64, &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_jws_decode(&jws, (unsigned char *) token, 0,
                                         1024, &err),
                     NGX_OIDC_DECLINED);
    free(token);

    /* a header over NGX_OIDC_JWS_HEADER_MAX, the token under the limit */
    header = malloc(NGX_OIDC_JWS_HEADER_MAX + 64);
    sprintf(header, "{\"alg\":\"HS256\",\"x\":\"%0*d\"}",
            NGX_OIDC_JWS_HEADER_MAX - 20, 0);
    token = test_jws_sign(header, "{}", "HS256", NULL, test_secret,
                          TEST_SECRET_LEN, 0);
    assert_true(strlen(token) < NGX_OIDC_JWS_MAX_LEN);
    assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
    assert_reason(&err, "too large");
    assert_non_null(strstr(err.detail, "header"));
    free(token);
    free(header);
}


static void
test_malformed_base64url(void **state)
{
    char            *good, *bad, *dot;
    size_t           i;
    ngx_oidc_err_t   err;

    static const char  *inserts[] = { "=", "+", "/", "*", " ", "\n", "\t",
                                      "\xc3\xa9", "%" };

    (void) state;

    good = sign("HS256", "hs", 0);
    assert_int_equal(decode_rc(good, &err), NGX_OIDC_OK);

    for (i = 0; i < sizeof(inserts) / sizeof(inserts[0]); i++) {
        bad = malloc(strlen(good) + 8);

        /* in the signature: at its end (padding) and at its start */
        sprintf(bad, "%s%s", good, inserts[i]);
        assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);

        dot = strrchr(good, '.');
        sprintf(bad, "%.*s%s%s", (int) (dot - good + 1), good, inserts[i],
                dot + 1);
        assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);

        /* in the header */
        sprintf(bad, "%s%s", inserts[i], good);
        assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);

        /* in the payload */
        dot = strchr(good, '.');
        sprintf(bad, "%.*s%s%s", (int) (dot - good + 1), good, inserts[i],
                dot + 1);
        assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);

        free(bad);
    }

    /* HS256 tags are 32 bytes: 43 characters, the last with 2 spare bits */
    bad = strdup(good);
    dot = bad + strlen(bad) - 1;
    *dot = *dot == 'A' ? 'B' : (*dot == 'E' ? 'F' : *dot + 1);
    assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);
    assert_reason(&err, "base64url");
    free(bad);

    /* a signature that is standard base64 with padding */
    bad = malloc(strlen(good) + 8);
    sprintf(bad, "%s=", good);
    assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);
    free(bad);

    free(good);
}


static void
test_bad_json(void **state)
{
    char            *token;
    size_t           i;
    ngx_oidc_err_t   err;

    static const char  *headers[] = {
        "{alg:\"HS256\"}", "[\"HS256\"]", "null", "\"HS256\"", "",
        "{\"alg\":\"HS256\"", "{\"alg\":\"HS256\"}x", "{\"alg\":\"HS256\",}",
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"alg\":\"none\"}",
        "{\"alg\":\"HS256\",\"x\":{\"a\":1,\"a\":2}}",
        "{\"alg\":\"HS256\",\"kid\":\"a\\u0000b\"}",
    };

    static const char  *payloads[] = {
        "{\"sub\":\"a\",\"sub\":\"b\"}", "[]", "", "42", "{\"a\":",
        "{\"a\":{\"b\":{\"c\":1,\"c\":1}}}",
    };

    (void) state;

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        token = test_jws_sign(headers[i], PAYLOAD, "HS256", NULL,
                              test_secret, TEST_SECRET_LEN, 0);
        if (decode_rc(token, &err) != NGX_OIDC_DECLINED) {
            print_error("header %s accepted\n", headers[i]);
            fail();
        }
        free(token);
    }

    for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        token = test_jws_sign("{\"alg\":\"HS256\"}", payloads[i], "HS256",
                              NULL, test_secret, TEST_SECRET_LEN, 0);
        assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
        assert_reason(&err, "payload");
        free(token);
    }
}


static void
test_part_count(void **state)
{
    char            *good, *bad;
    ngx_oidc_err_t   err;
    ngx_oidc_jws_t   jws;

    (void) state;

    good = sign("HS256", "hs", 0);
    bad = malloc(strlen(good) + 64);

    /* two parts */
    strcpy(bad, good);
    *strrchr(bad, '.') = '\0';
    assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);
    assert_reason(&err, "three parts");

    /* four parts, five (the shape of a JWE), six */
    sprintf(bad, "%s.c2ln", good);
    assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);

    sprintf(bad, "%s.c2ln.c2ln", good);
    assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);
    assert_reason(&err, "jwe");

    sprintf(bad, "%s...", good);
    assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);

    /* a real JWE compact serialization (RFC 7516 A.3 shape) */
    assert_int_equal(decode_rc("eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhT"
                               "MjU2In0.6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizk"
                               "DTHzBC2IlrT1oOQ.AxY8DCtDaGlsbGljb3RoZQ.KDlTtXch"
                               "hZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.U0m_YmjN04D"
                               "Jvceb1pd5Ahg", &err),
                     NGX_OIDC_DECLINED);

    /* one part, only dots */
    assert_int_equal(decode_rc("eyJhbGciOiJIUzI1NiJ9", &err),
                     NGX_OIDC_DECLINED);
    assert_int_equal(decode_rc("..", &err), NGX_OIDC_DECLINED);
    assert_int_equal(decode_rc(".", &err), NGX_OIDC_DECLINED);

    /* a failed decode leaves nothing behind, and free is idempotent */
    assert_int_equal(ngx_oidc_jws_decode(&jws, (unsigned char *) "a.b", 3,
                                         1024, &err),
                     NGX_OIDC_DECLINED);
    assert_null(jws.header);
    assert_null(jws.signature);
    ngx_oidc_jws_free(&jws);
    ngx_oidc_jws_free(&jws);

    free(bad);
    free(good);
}


static void
test_ecdsa_signature_format(void **state)
{
    char            *token, *h, *p, *s, *dot;
    size_t           i;
    unsigned char    sig[200];
    ngx_oidc_err_t   err;

    static const size_t  lengths[] = { 0, 1, 32, 63, 65, 96, 128, 132 };

    (void) state;

    /* DER, as OpenSSL makes it, is not the JWS form */
    token = test_jws_sign("{\"alg\":\"ES256\",\"kid\":\"p256\"}", PAYLOAD,
                          "ES256", test_key(TEST_KEY_P256), NULL, 0,
                          TEST_SIGN_ECDSA_DER);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    token = test_jws_sign("{\"alg\":\"ES512\",\"kid\":\"p521\"}", PAYLOAD,
                          "ES512", test_key(TEST_KEY_P521), NULL, 0,
                          TEST_SIGN_ECDSA_DER);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(token);

    /* a good R||S, cut or extended by a byte, or of another size */
    token = sign("ES256", "p256", TEST_KEY_P256);
    dot = strrchr(token, '.');
    assert_int_equal(ngx_oidc_b64url_decode(sig, &i,
                         (unsigned char *) dot + 1, strlen(dot + 1)),
                     NGX_OIDC_OK);
    assert_int_equal(i, 64);
    sig[64] = 0;

    h = strndup(token, strchr(token, '.') - token);
    p = strndup(strchr(token, '.') + 1, dot - strchr(token, '.') - 1);

    for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        char  *bad;

        s = test_b64url(sig, lengths[i]);
        bad = test_jws_join(h, p, s);

        if (lengths[i] == 0) {
            assert_int_equal(decode_rc(bad, &err), NGX_OIDC_DECLINED);

        } else {
            assert_int_equal(verify_rc(bad, jwks, ALL_ALGS),
                             NGX_OIDC_DECLINED);
        }

        free(bad);
        free(s);
    }

    /* R = 0, S = 0 */
    memset(sig, 0, 64);
    s = test_b64url(sig, 64);
    free(token);
    token = test_jws_join(h, p, s);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_DECLINED);

    free(s);
    free(h);
    free(p);
    free(token);
}


static void
test_other_signature_lengths(void **state)
{
    char            *token, *dot, *s, *bad;
    size_t           len;
    unsigned char    sig[600];

    (void) state;

    /* an RSA signature one byte short (leading zero dropped) or long */
    token = sign("RS256", "rsa", TEST_KEY_RSA);
    dot = strrchr(token, '.');
    assert_int_equal(ngx_oidc_b64url_decode(sig, &len,
                         (unsigned char *) dot + 1, strlen(dot + 1)),
                     NGX_OIDC_OK);
    assert_int_equal(len, 256);
    *dot = '\0';

    s = test_b64url(sig + 1, 255);
    bad = malloc(strlen(token) + 600);
    sprintf(bad, "%s.%s", token, s);
    assert_int_equal(verify_rc(bad, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(s);

    memmove(sig + 1, sig, 256);
    sig[0] = 0;
    s = test_b64url(sig, 257);
    sprintf(bad, "%s.%s", token, s);
    assert_int_equal(verify_rc(bad, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(s);
    free(token);

    /* Ed25519: 63 and 65 bytes */
    token = sign("EdDSA", "ed", TEST_KEY_ED25519);
    dot = strrchr(token, '.');
    assert_int_equal(ngx_oidc_b64url_decode(sig, &len,
                         (unsigned char *) dot + 1, strlen(dot + 1)),
                     NGX_OIDC_OK);
    assert_int_equal(len, 64);
    *dot = '\0';
    sig[64] = 0;

    s = test_b64url(sig, 63);
    sprintf(bad, "%s.%s", token, s);
    assert_int_equal(verify_rc(bad, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(s);

    s = test_b64url(sig, 65);
    sprintf(bad, "%s.%s", token, s);
    assert_int_equal(verify_rc(bad, jwks, ALL_ALGS), NGX_OIDC_DECLINED);
    free(s);

    free(bad);
    free(token);
}


/* jku, x5u, jwk, x5c: the token never chooses its own key */
static void
test_header_keys_ignored(void **state)
{
    char        *attacker_jwk, *header, *token, pem_b64[4096];
    size_t       i, len;
    EVP_PKEY    *attacker;
    const char  *fmt;

    static const char  *fmts[] = {
        "{\"alg\":\"ES256\",\"jwk\":%s}",
        "{\"alg\":\"ES256\",\"kid\":\"evil\",\"jwk\":%s}",
        "{\"alg\":\"ES256\",\"kid\":\"p256\",\"jwk\":%s}",
        "{\"alg\":\"ES256\",\"jku\":\"https://evil.example/jwks\",\"x\":%s}",
        "{\"alg\":\"ES256\",\"x5u\":\"https://evil.example/c.pem\",\"x\":%s}",
        "{\"alg\":\"ES256\",\"x5c\":[\"%s\"]}",
    };

    (void) state;

    /* the attacker's P-256 key: the "other" one, absent from the set */
    attacker = test_key(TEST_KEY_P256_OTHER);
    attacker_jwk = test_jwk(attacker, "evil", "ES256", "sig");

    {
        unsigned char  *der = test_der_public(attacker, &len);
        char           *b64 = test_b64url(der, len);

        (void) snprintf(pem_b64, sizeof(pem_b64), "%s", b64);
        free(b64);
        OPENSSL_free(der);
    }

    header = malloc(8192);

    for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        fmt = fmts[i];
        sprintf(header, fmt, i == 5 ? pem_b64 : attacker_jwk);

        token = test_jws_sign(header, PAYLOAD, "ES256", attacker, NULL, 0, 0);

        if (i == 1) {
            assert_int_equal(verify_rc(token, jwks, ALL_ALGS),
                             NGX_OIDC_NOKEY);

        } else {
            assert_int_equal(verify_rc(token, jwks, ALL_ALGS),
                             NGX_OIDC_DECLINED);
        }

        free(token);
    }

    /* the same members on a token our key signed change nothing */
    sprintf(header, "{\"alg\":\"ES256\",\"kid\":\"p256\",\"jwk\":%s,"
            "\"jku\":\"https://evil.example/\"}", attacker_jwk);
    token = test_jws_sign(header, PAYLOAD, "ES256", test_key(TEST_KEY_P256),
                          NULL, 0, 0);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_OK);
    free(token);

    free(header);
    free(attacker_jwk);
}


static void
test_crit_b64_kid_typ(void **state)
{
    char            *token;
    size_t           i;
    ngx_oidc_err_t   err;

    static const struct {
        const char  *header;
        const char  *reason;
    } cases[] = {
        { "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", "crit" },
        { "{\"alg\":\"RS256\",\"crit\":[]}", "crit" },
        { "{\"alg\":\"RS256\",\"crit\":null}", "crit" },
        { "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"]}", "crit" },
        { "{\"alg\":\"RS256\",\"b64\":false}", "unencoded" },
        { "{\"alg\":\"RS256\",\"b64\":0}", "unencoded" },
        { "{\"alg\":\"RS256\",\"kid\":1}", "not a string" },
        { "{\"alg\":\"RS256\",\"kid\":null}", "not a string" },
        { "{\"alg\":\"RS256\",\"kid\":[\"rsa\"]}", "not a string" },
        { "{\"alg\":\"RS256\",\"typ\":{}}", "not a string" },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        token = test_jws_sign(cases[i].header, PAYLOAD, "RS256",
                              test_key(TEST_KEY_RSA), NULL, 0, 0);
        assert_int_equal(decode_rc(token, &err), NGX_OIDC_DECLINED);
        assert_reason(&err, cases[i].reason);
        free(token);
    }

    /* "b64": true is the default, and an empty kid is no kid */
    token = test_jws_sign("{\"alg\":\"RS256\",\"b64\":true,\"kid\":\"\"}",
                          PAYLOAD, "RS256", test_key(TEST_KEY_RSA), NULL, 0,
                          0);
    assert_int_equal(verify_rc(token, jwks, ALL_ALGS), NGX_OIDC_OK);
    free(token);
}


static void
test_jwks_rsa_checks(void **state)
{
    char             *jwk, *ed, *bad, *set_json;
    size_t            skipped, len;
    ngx_oidc_err_t    err;
    unsigned char    *n, e[9];
    ngx_oidc_jwks_t  *set;

    (void) state;

    /* 1024 bits: skipped, alone and beside a good key */
    jwk = test_jwk(test_key(TEST_KEY_RSA_1024), "small", NULL, NULL);
    set_json = test_jwks(jwk, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    assert_int_equal(skipped, 1);
    assert_reason(&err, "no usable key");
    free(set_json);

    ed = test_jwk(test_key(TEST_KEY_ED25519), "ed", NULL, NULL);
    set_json = test_jwks(jwk, ed, NULL);
    set = parse_jwks(set_json, &skipped, &err);
    assert_non_null(set);
    assert_int_equal(skipped, 1);
    assert_reason(&err, "modulus");
    assert_false(ngx_oidc_jwks_has_kid(set, (unsigned char *) "small", 5));
    ngx_oidc_jwks_free(set);
    free(set_json);
    free(jwk);
    free(ed);

    /* an even modulus */
    jwk = test_jwk(test_key(TEST_KEY_RSA), NULL, NULL, NULL);
    n = member(jwk, "n", &len);
    assert_int_equal(len, 256);
    n[255] &= 0xfe;
    bad = with_member(jwk, "n", n, len);
    assert_true(jwk_refused(bad));
    free(bad);

    /* a leading zero octet does not change the key */
    free(n);
    n = member(jwk, "n", &len);
    {
        unsigned char  padded[257];

        padded[0] = 0;
        memcpy(padded + 1, n, 256);
        bad = with_member(jwk, "n", padded, 257);
        assert_false(jwk_refused(bad));
        free(bad);
    }

    /* e = 1 and e = 2 are refused, e = 3 passes; e over 64 bits */
    for (e[0] = 1; e[0] <= 3; e[0]++) {
        bad = with_member(jwk, "e", e, 1);
        assert_int_equal(jwk_refused(bad), e[0] < 3);
        free(bad);
    }

    memset(e, 0xff, sizeof(e));
    bad = with_member(jwk, "e", e, 8);
    assert_false(jwk_refused(bad));
    free(bad);
    e[8] = 0x01;
    bad = with_member(jwk, "e", e, 9);
    assert_true(jwk_refused(bad));
    free(bad);

    bad = replace(jwk, "\"e\":\"AQAB\"", "\"e\":\"AQAB=\"");
    assert_true(jwk_refused(bad));
    free(bad);
    bad = replace(jwk, "\"e\":\"AQAB\"", "\"x\":\"AQAB\"");
    assert_true(jwk_refused(bad));
    free(bad);
    bad = replace(jwk, "\"e\":\"AQAB\"", "\"e\":65537");
    assert_true(jwk_refused(bad));
    free(bad);
    bad = replace(jwk, "\"n\":\"", "\"n\":\"+");
    assert_true(jwk_refused(bad));
    free(bad);

    free(n);
    free(jwk);

    assert_null(parse_jwks("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"\","
                           "\"e\":\"AQAB\"}]}", NULL, &err));
}


static void
test_jwks_ec_checks(void **state)
{
    char             *jwk, *set_json, *bad;
    size_t            skipped, len;
    ngx_oidc_err_t    err;
    unsigned char    *c;

    (void) state;

    /* a point not on the curve: y changed */
    jwk = test_jwk(test_key(TEST_KEY_P256), "p", NULL, NULL);
    c = member(jwk, "y", &len);
    assert_int_equal(len, 32);
    c[31] ^= 0x01;
    bad = with_member(jwk, "y", c, len);
    assert_true(jwk_refused(bad));
    set_json = test_jwks(bad, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    assert_non_null(strstr(err.detail, "not on the curve"));
    free(set_json);
    free(bad);
    free(c);

    /* a coordinate one byte short or long, y above the field prime */
    c = member(jwk, "x", &len);
    bad = with_member(jwk, "x", c + 1, 31);
    assert_true(jwk_refused(bad));
    free(bad);
    free(c);

    c = member(jwk, "x", &len);
    {
        unsigned char  longer[33];

        longer[0] = 0;
        memcpy(longer + 1, c, 32);
        bad = with_member(jwk, "x", longer, 33);
        assert_true(jwk_refused(bad));
        free(bad);
    }
    free(c);

    {
        unsigned char  ff[32];

        memset(ff, 0xff, sizeof(ff));
        bad = with_member(jwk, "y", ff, 32);
        assert_true(jwk_refused(bad));
        free(bad);
    }
    free(jwk);

    /* a P-256 key claiming P-384, an unknown curve, the point at zero */
    jwk = test_jwk(test_key(TEST_KEY_P256), "p", NULL, NULL);
    memcpy(strstr(jwk, "P-256"), "P-384", 5);
    set_json = test_jwks(jwk, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    free(set_json);
    memcpy(strstr(jwk, "P-384"), "P-257", 5);
    set_json = test_jwks(jwk, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    free(set_json);
    free(jwk);

    assert_null(parse_jwks("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                           "\"x\":\"" ZERO32 "\",\"y\":\"" ZERO32 "\"}]}",
                           NULL, &err));

    /* a key whose own alg does not fit its curve, a non-string kid */
    jwk = test_jwk(test_key(TEST_KEY_P256), "p", "ES384", NULL);
    set_json = test_jwks(jwk, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    free(set_json);
    free(jwk);

    jwk = test_jwk(test_key(TEST_KEY_P256), NULL, "RS256", NULL);
    set_json = test_jwks(jwk, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    free(set_json);
    free(jwk);

    jwk = test_jwk(test_key(TEST_KEY_P256), NULL, "none", NULL);
    set_json = test_jwks(jwk, NULL);
    assert_null(parse_jwks(set_json, &skipped, &err));
    free(set_json);
    free(jwk);

    assert_null(parse_jwks("{\"keys\":[{\"kty\":\"EC\",\"kid\":7,"
                           "\"crv\":\"P-256\",\"x\":\"" A3_X "\","
                           "\"y\":\"" A3_Y "\"}]}", NULL, &err));
}


static void
test_jwks_okp_checks(void **state)
{
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    (void) state;

    /* the RFC 8037 key is fine; 31 bytes, 33 bytes, Ed448, X25519 are not */
    assert_non_null(set = parse_jwks(OKP("Ed25519", ED_X), NULL, &err));
    ngx_oidc_jwks_free(set);

    assert_null(parse_jwks(OKP("Ed25519", ED_X31), NULL, &err));
    assert_null(parse_jwks(OKP("Ed25519", ED_X "A"), NULL, &err));
    assert_null(parse_jwks(OKP("Ed448", ED_X), NULL, &err));
    assert_null(parse_jwks(OKP("X25519", ED_X), NULL, &err));
}


static void
test_jwks_document_checks(void **state)
{
    char             *jwk, *set_json, *p;
    size_t            i, skipped;
    ngx_oidc_err_t    err;
    ngx_oidc_jwks_t  *set;

    static const char  *refused[] = {
        "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}", "{\"keys\":[]}",
        "{\"keys\":[1,\"a\",null,[]]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
        "ODlhYmNkZWY\"}]}",
        "{\"keys\":[{\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}],\"keys\":[]}",
    };

    (void) state;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (parse_jwks(refused[i], &skipped, &err) != NULL) {
            print_error("jwks %s accepted\n", refused[i]);
            fail();
        }
    }

    /* a document over the caller's limit */
    assert_null(ngx_oidc_jwks_parse((const unsigned char *) rfc8037_jwks,
                                    strlen(rfc8037_jwks), 16, NULL, &err));

    /* 64 keys are fine, 65 are not */
    jwk = test_jwk(test_key(TEST_KEY_ED25519), "e", NULL, NULL);
    set_json = malloc(65 * (strlen(jwk) + 1) + 32);

    for (i = 64; i <= 65; i++) {
        size_t  k;

        p = set_json + sprintf(set_json, "{\"keys\":[");
        for (k = 0; k < i; k++) {
            p += sprintf(p, "%s%s", k ? "," : "", jwk);
        }
        strcpy(p, "]}");

        set = parse_jwks(set_json, &skipped, &err);

        if (i == 64) {
            assert_non_null(set);
            assert_int_equal(ngx_oidc_jwks_count(set), 64);

            /* and no room for a secret */
            assert_int_equal(ngx_oidc_jwks_add_secret(set, test_secret, 32,
                                                      NULL, &err),
                             NGX_OIDC_DECLINED);
            ngx_oidc_jwks_free(set);

        } else {
            assert_null(set);
            assert_reason(&err, "too many keys");
        }
    }

    free(set_json);
    free(jwk);

    /* oct keys and junk elements are skipped beside a good key */
    set = parse_jwks("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"},7,"
                     "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
                     "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}"
                     "]}", &skipped, &err);
    assert_non_null(set);
    assert_int_equal(skipped, 2);
    assert_int_equal(ngx_oidc_jwks_count(set), 1);
    ngx_oidc_jwks_free(set);

    ngx_oidc_jwks_free(NULL);
    assert_int_equal(ngx_oidc_jwks_count(NULL), 0);
}


static void *
verify_thread(void *arg)
{
    int    i, *ok;
    char  *tokens[3];

    ok = arg;
    tokens[0] = sign("RS256", "rsa", TEST_KEY_RSA);
    tokens[1] = sign("ES256", "p256", TEST_KEY_P256);
    tokens[2] = sign("EdDSA", "ed", TEST_KEY_ED25519);

    *ok = 1;

    for (i = 0; i < 300; i++) {
        ngx_oidc_err_t  err;
        ngx_oidc_jws_t  jws;

        if (ngx_oidc_jws_decode(&jws, (unsigned char *) tokens[i % 3],
                                strlen(tokens[i % 3]), NGX_OIDC_JWS_MAX_LEN,
                                &err) != NGX_OIDC_OK
            || ngx_oidc_jws_verify(&jws, jwks, ALL_ALGS, &err) != NGX_OIDC_OK)
        {
            *ok = 0;
        }

        ngx_oidc_jws_free(&jws);
    }

    free(tokens[0]);
    free(tokens[1]);
    free(tokens[2]);

    return NULL;
}


/* a parsed set is read-only: threads may share it */
static void
test_shared_set_threads(void **state)
{
    int        i, ok[4];
    pthread_t  t[4];

    (void) state;

    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, verify_thread, &ok[i]),
                         0);
    }

    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(ok[i]);
    }
}


int
main(void)
{
    int  rc;

    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_rfc7515_a1_hs256),
        cmocka_unit_test(test_rfc7515_a2_rs256),
        cmocka_unit_test(test_rfc7515_a3_es256),
        cmocka_unit_test(test_rfc7520_41_rs256),
        cmocka_unit_test(test_rfc7520_42_ps384),
        cmocka_unit_test(test_rfc7520_43_es512),
        cmocka_unit_test(test_rfc8037_a4_eddsa),
        cmocka_unit_test(test_roundtrip_all_algs),
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_libjwt_signs_we_verify),
        cmocka_unit_test(test_we_sign_libjwt_verifies),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_alg_unusable),
        cmocka_unit_test(test_key_confusion),
        cmocka_unit_test(test_empty_hmac_key),
        cmocka_unit_test(test_hmac_tag_and_key_length),
        cmocka_unit_test(test_kid_selection),
        cmocka_unit_test(test_alg_key_mismatch),
        cmocka_unit_test(test_pss_salt_length),
        cmocka_unit_test(test_jwk_use_and_key_ops),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_malformed_base64url),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_part_count),
        cmocka_unit_test(test_ecdsa_signature_format),
        cmocka_unit_test(test_other_signature_lengths),
        cmocka_unit_test(test_header_keys_ignored),
        cmocka_unit_test(test_crit_b64_kid_typ),
        cmocka_unit_test(test_jwks_rsa_checks),
        cmocka_unit_test(test_jwks_ec_checks),
        cmocka_unit_test(test_jwks_okp_checks),
        cmocka_unit_test(test_jwks_document_checks),
        cmocka_unit_test(test_shared_set_threads),
    };

    rc = cmocka_run_group_tests_name("jose", tests, group_setup,
                                     group_teardown);

    return rc;
}
