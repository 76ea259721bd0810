
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <jwt.h>

#include "keys.h"


static void test_die(const char *what);
static char *test_strdup_printf(const char *fmt, ...);
static char *test_bn_b64(const BIGNUM *bn, size_t size);
static char *test_jwk_members(EVP_PKEY *pkey);
static char *test_bio_string(BIO *bio, size_t *len);
static const EVP_MD *test_alg_md(const char *alg);
static unsigned char *test_sign_hmac(const EVP_MD *md,
    const unsigned char *secret, size_t secret_len, const char *input,
    size_t *sig_len);
static unsigned char *test_sign_pkey(EVP_PKEY *pkey, const char *alg,
    const EVP_MD *md, const char *input, unsigned flags, size_t *sig_len);
static unsigned char *test_ecdsa_raw(EVP_PKEY *pkey, unsigned char *der,
    size_t der_len, size_t *sig_len);


static EVP_PKEY  *test_keys[TEST_KEY_COUNT];


static void
test_die(const char *what)
{
    fprintf(stderr, "keys.c: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}


static char *
test_strdup_printf(const char *fmt, ...)
{
    int       n;
    char     *p;
    va_list   args;

    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    p = malloc(n + 1);
    if (p == NULL) {
        test_die("malloc");
    }

    va_start(args, fmt);
    (void) vsnprintf(p, n + 1, fmt, args);
    va_end(args);

    return p;
}


EVP_PKEY *
test_key(test_key_e kind)
{
    EVP_PKEY  *pkey;

    if (test_keys[kind] != NULL) {
        return test_keys[kind];
    }

    switch (kind) {

    case TEST_KEY_RSA:
    case TEST_KEY_RSA_OTHER:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
        break;

    case TEST_KEY_RSA_1024:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
        break;

    case TEST_KEY_P256:
    case TEST_KEY_P256_OTHER:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;

    case TEST_KEY_P384:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;

    case TEST_KEY_P521:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
        break;

    case TEST_KEY_ED25519:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;

    default:
        pkey = NULL;
    }

    if (pkey == NULL) {
        test_die("key generation");
    }

    test_keys[kind] = pkey;

    return pkey;
}


void
test_keys_cleanup(void)
{
    int  i;

    for (i = 0; i < TEST_KEY_COUNT; i++) {
        EVP_PKEY_free(test_keys[i]);
        test_keys[i] = NULL;
    }
}


/* base64url through OpenSSL's base64 (not the code under test) */

char *
test_b64url(const void *data, size_t len)
{
    int     n, i, j;
    char   *out;

    out = malloc(4 * ((len + 2) / 3) + 1);
    if (out == NULL) {
        test_die("malloc");
    }

    n = EVP_EncodeBlock((unsigned char *) out, data, (int) len);

    for (i = 0, j = 0; i < n; i++) {
        if (out[i] == '=') {
            break;
        }

        out[j++] = out[i] == '+' ? '-' : (out[i] == '/' ? '_' : out[i]);
    }

    out[j] = '\0';

    return out;
}


static char *
test_bn_b64(const BIGNUM *bn, size_t size)
{
    char           *s;
    unsigned char   buf[1024];

    if (size == 0) {
        size = BN_num_bytes(bn);
    }

    if (size > sizeof(buf) || BN_bn2binpad(bn, buf, (int) size) < 0) {
        test_die("BN_bn2binpad");
    }

    s = test_b64url(buf, size);

    return s;
}


static char *
test_jwk_members(EVP_PKEY *pkey)
{
    char           *x, *y, *out;
    size_t          len, coord;
    BIGNUM         *a, *b;
    unsigned char   raw[32];

    a = NULL;
    b = NULL;

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &a)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b))
        {
            test_die("RSA n/e");
        }

        x = test_bn_b64(a, 0);
        y = test_bn_b64(b, 0);
        out = test_strdup_printf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"",
                                 x, y);

    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
        {
            test_die("EC x/y");
        }

        coord = (EVP_PKEY_get_bits(pkey) + 7) / 8;
        x = test_bn_b64(a, coord);
        y = test_bn_b64(b, coord);
        out = test_strdup_printf("\"kty\":\"EC\",\"crv\":\"%s\","
                                 "\"x\":\"%s\",\"y\":\"%s\"",
                                 coord == 32 ? "P-256"
                                 : coord == 48 ? "P-384" : "P-521", x, y);

    } else {
        len = sizeof(raw);

        if (!EVP_PKEY_get_raw_public_key(pkey, raw, &len)) {
            test_die("Ed25519 x");
        }

        x = test_b64url(raw, len);
        y = NULL;
        out = test_strdup_printf("\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                 "\"x\":\"%s\"", x);
    }

    BN_free(a);
    BN_free(b);
    free(x);
    free(y);

    return out;
}


char *
test_jwk(EVP_PKEY *pkey, const char *kid, const char *alg, const char *use)
{
    char  *members, *out, k[256], a[64], u[64];

    k[0] = a[0] = u[0] = '\0';

    if (kid != NULL) {
        (void) snprintf(k, sizeof(k), ",\"kid\":\"%s\"", kid);
    }

    if (alg != NULL) {
        (void) snprintf(a, sizeof(a), ",\"alg\":\"%s\"", alg);
    }

    if (use != NULL) {
        (void) snprintf(u, sizeof(u), ",\"use\":\"%s\"", use);
    }

    members = test_jwk_members(pkey);
    out = test_strdup_printf("{%s%s%s%s}", members, k, a, u);
    free(members);

    return out;
}


char *
test_jwks(const char *jwk, ...)
{
    char        *out, *p;
    size_t       len;
    va_list      args;
    const char  *s;

    len = sizeof("{\"keys\":[]}");

    va_start(args, jwk);
    for (s = jwk; s != NULL; s = va_arg(args, const char *)) {
        len += strlen(s) + 1;
    }
    va_end(args);

    out = malloc(len);
    if (out == NULL) {
        test_die("malloc");
    }

    p = out + sprintf(out, "{\"keys\":[");

    va_start(args, jwk);
    for (s = jwk; s != NULL; s = va_arg(args, const char *)) {
        p += sprintf(p, "%s%s", s == jwk ? "" : ",", s);
    }
    va_end(args);

    strcpy(p, "]}");

    return out;
}


static char *
test_bio_string(BIO *bio, size_t *len)
{
    char  *data, *out;
    long   n;

    n = BIO_get_mem_data(bio, &data);

    out = malloc(n + 1);
    if (out == NULL) {
        test_die("malloc");
    }

    memcpy(out, data, n);
    out[n] = '\0';

    if (len != NULL) {
        *len = n;
    }

    BIO_free(bio);

    return out;
}


char *
test_pem_public(EVP_PKEY *pkey, size_t *len)
{
    BIO  *bio;

    bio = BIO_new(BIO_s_mem());

    if (bio == NULL || !PEM_write_bio_PUBKEY(bio, pkey)) {
        test_die("PEM_write_bio_PUBKEY");
    }

    return test_bio_string(bio, len);
}


char *
test_pem_private(EVP_PKEY *pkey, size_t *len)
{
    BIO  *bio;

    bio = BIO_new(BIO_s_mem());

    if (bio == NULL
        || !PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL))
    {
        test_die("PEM_write_bio_PrivateKey");
    }

    return test_bio_string(bio, len);
}


unsigned char *
test_der_public(EVP_PKEY *pkey, size_t *len)
{
    int             n;
    unsigned char  *der;

    der = NULL;
    n = i2d_PUBKEY(pkey, &der);

    if (n <= 0) {
        test_die("i2d_PUBKEY");
    }

    *len = n;

    return der;
}


static const EVP_MD *
test_alg_md(const char *alg)
{
    if (strcmp(alg + 2, "256") == 0) {
        return EVP_sha256();
    }

    if (strcmp(alg + 2, "384") == 0) {
        return EVP_sha384();
    }

    if (strcmp(alg + 2, "512") == 0) {
        return EVP_sha512();
    }

    return NULL;
}


char *
test_jws_sign(const char *header, const char *payload, const char *alg,
    EVP_PKEY *pkey, const unsigned char *secret, size_t secret_len,
    unsigned flags)
{
    char            *h, *p, *s, *input, *token;
    size_t           sig_len;
    const EVP_MD    *md;
    unsigned char   *sig;

    h = test_b64url(header, strlen(header));
    p = test_b64url(payload, strlen(payload));
    input = test_strdup_printf("%s.%s", h, p);

    md = test_alg_md(alg);

    if (alg[0] == 'H') {
        sig = test_sign_hmac(md, secret, secret_len, input, &sig_len);

    } else {
        sig = test_sign_pkey(pkey, alg, md, input, flags, &sig_len);
    }

    s = test_b64url(sig, sig_len);
    token = test_strdup_printf("%s.%s", input, s);

    free(h);
    free(p);
    free(s);
    free(sig);
    free(input);

    return token;
}


char *
test_jws_join(const char *h, const char *p, const char *s)
{
    return test_strdup_printf("%s.%s.%s", h, p, s);
}


static unsigned char *
test_sign_hmac(const EVP_MD *md, const unsigned char *secret,
    size_t secret_len, const char *input, size_t *sig_len)
{
    unsigned int    len;
    unsigned char  *sig;

    sig = malloc(EVP_MAX_MD_SIZE);
    if (sig == NULL) {
        test_die("malloc");
    }

    /* HMAC() of an empty key is legal: tests forge with one */
    if (HMAC(md, secret_len ? secret : (const unsigned char *) "",
             (int) secret_len, (const unsigned char *) input, strlen(input),
             sig, &len)
        == NULL)
    {
        test_die("HMAC");
    }

    *sig_len = len;

    return sig;
}


static unsigned char *
test_sign_pkey(EVP_PKEY *pkey, const char *alg, const EVP_MD *md,
    const char *input, unsigned flags, size_t *sig_len)
{
    size_t           len;
    EVP_MD_CTX      *mctx;
    EVP_PKEY_CTX    *pctx;
    unsigned char   *sig;

    mctx = EVP_MD_CTX_new();

    if (mctx == NULL
        || EVP_DigestSignInit(mctx, &pctx, alg[0] == 'E' && alg[1] == 'd'
                                           ? NULL : md, NULL, pkey)
           != 1)
    {
        test_die("EVP_DigestSignInit");
    }

    if (alg[0] == 'P'
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                   (flags & TEST_SIGN_PSS_SALT_MAX) ? RSA_PSS_SALTLEN_MAX
                                                    : RSA_PSS_SALTLEN_DIGEST)
               <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0))
    {
        test_die("PSS parameters");
    }

    if (EVP_DigestSign(mctx, NULL, &len, (const unsigned char *) input,
                       strlen(input))
        != 1)
    {
        test_die("EVP_DigestSign");
    }

    sig = malloc(len);

    if (sig == NULL
        || EVP_DigestSign(mctx, sig, &len, (const unsigned char *) input,
                          strlen(input))
           != 1)
    {
        test_die("EVP_DigestSign");
    }

    EVP_MD_CTX_free(mctx);

    if (alg[0] == 'E' && alg[1] == 'S' && !(flags & TEST_SIGN_ECDSA_DER)) {
        return test_ecdsa_raw(pkey, sig, len, sig_len);
    }

    *sig_len = len;

    return sig;
}


/* RFC 7518 3.4: DER to R||S, each left-padded to the curve's size */

static unsigned char *
test_ecdsa_raw(EVP_PKEY *pkey, unsigned char *der, size_t der_len,
    size_t *sig_len)
{
    size_t                coord;
    ECDSA_SIG            *es;
    const BIGNUM         *r, *s;
    unsigned char        *raw;
    const unsigned char  *p;

    coord = (EVP_PKEY_get_bits(pkey) + 7) / 8;
    p = der;

    es = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
    raw = malloc(2 * coord);

    if (es == NULL || raw == NULL) {
        test_die("d2i_ECDSA_SIG");
    }

    ECDSA_SIG_get0(es, &r, &s);

    if (BN_bn2binpad(r, raw, (int) coord) < 0
        || BN_bn2binpad(s, raw + coord, (int) coord) < 0)
    {
        test_die("BN_bn2binpad");
    }

    ECDSA_SIG_free(es);
    free(der);

    *sig_len = 2 * coord;

    return raw;
}


char *
test_libjwt_sign(const char *alg, const unsigned char *key, size_t key_len,
    const char *grants_json)
{
    char   *token;
    jwt_t  *jwt;

    if (jwt_new(&jwt) != 0) {
        test_die("jwt_new");
    }

    if (jwt_set_alg(jwt, jwt_str_alg(alg), key, (int) key_len) != 0
        || jwt_add_grants_json(jwt, grants_json) != 0)
    {
        test_die("jwt_set_alg/jwt_add_grants_json");
    }

    token = jwt_encode_str(jwt);
    if (token == NULL) {
        test_die("jwt_encode_str");
    }

    jwt_free(jwt);

    return token;
}


int
test_libjwt_verify(const char *token, const unsigned char *key,
    size_t key_len)
{
    int     rc;
    jwt_t  *jwt;

    jwt = NULL;
    rc = jwt_decode(&jwt, token, key, (int) key_len);

    if (jwt != NULL) {
        jwt_free(jwt);
    }

    return rc == 0;
}
