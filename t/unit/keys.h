
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _KEYS_H_INCLUDED_
#define _KEYS_H_INCLUDED_


/*
 * Test helpers shared by the unit tests: keys generated at run time
 * and tokens signed with OpenSSL directly (and with libjwt), never with
 * the code under test, so that the verifier is not checked only against
 * itself.  Every function aborts the test program on an OpenSSL error;
 * strings returned are malloc()ed and free()d by the caller.
 */

#include <stddef.h>

#include <openssl/evp.h>


typedef enum {
    TEST_KEY_RSA = 0,               /* 2048 bits */
    TEST_KEY_RSA_1024,
    TEST_KEY_P256,
    TEST_KEY_P384,
    TEST_KEY_P521,
    TEST_KEY_ED25519,
    TEST_KEY_RSA_OTHER,             /* a second 2048-bit key */
    TEST_KEY_P256_OTHER,
    TEST_KEY_COUNT
} test_key_e;


/* test_jws_sign() flags */
#define TEST_SIGN_ECDSA_DER     0x01    /* DER instead of R||S */
#define TEST_SIGN_PSS_SALT_MAX  0x02    /* PSS with the largest salt */


/* a key of that kind, generated on first use and kept until cleanup */
EVP_PKEY *test_key(test_key_e kind);
void test_keys_cleanup(void);

/*
 * The public JWK of a key: {"kty":..., "kid":..., "alg":..., "use":...,
 * members}; kid, alg and use are left out when NULL.
 */
char *test_jwk(EVP_PKEY *pkey, const char *kid, const char *alg,
    const char *use);
/* {"keys":[jwk1,jwk2,...]} from NULL-terminated JWK strings */
char *test_jwks(const char *jwk, ...);

/* PEM (SubjectPublicKeyInfo / PKCS#8) and DER forms of a key */
char *test_pem_public(EVP_PKEY *pkey, size_t *len);
char *test_pem_private(EVP_PKEY *pkey, size_t *len);
unsigned char *test_der_public(EVP_PKEY *pkey, size_t *len);

/* base64url without padding of "len" bytes */
char *test_b64url(const void *data, size_t len);

/*
 * A compact JWS of the header and payload JSON texts (used as given),
 * signed with "alg" by pkey, or for HS* by secret/secret_len.  "alg" is
 * only the signing algorithm: the header is not checked against it.
 */
char *test_jws_sign(const char *header, const char *payload, const char *alg,
    EVP_PKEY *pkey, const unsigned char *secret, size_t secret_len,
    unsigned flags);

/* "h.p.s" from three base64url parts */
char *test_jws_join(const char *h, const char *p, const char *s);

/*
 * A token signed by libjwt 1.10 (RS*, ES*, HS*): key is a PEM private
 * key, or the HMAC secret.  libjwt adds {"typ":"JWT","alg":...}.
 */
char *test_libjwt_sign(const char *alg, const unsigned char *key,
    size_t key_len, const char *grants_json);

/* 1 when libjwt 1.10 verifies the token with the key (PEM or secret) */
int test_libjwt_verify(const char *token, const unsigned char *key,
    size_t key_len);


#endif /* _KEYS_H_INCLUDED_ */
