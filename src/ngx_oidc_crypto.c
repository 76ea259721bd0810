
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ngx_oidc_jose.h"
#include "ngx_oidc_crypto.h"


static const EVP_MD *ngx_oidc_token_hash_md(unsigned alg);


int
ngx_oidc_random_token(unsigned char *dst, size_t nbytes, ngx_oidc_err_t *err)
{
    unsigned char  raw[NGX_OIDC_TOKEN_MAX_BYTES];

    if (nbytes < NGX_OIDC_TOKEN_MIN_BYTES || nbytes > NGX_OIDC_TOKEN_MAX_BYTES)
    {
        ngx_oidc_err_set(err, "bad random token size", "%zu bytes", nbytes);
        return NGX_OIDC_ERROR;
    }

    /* RAND_bytes() fails rather than return weak bytes: fail closed */
    if (RAND_bytes(raw, (int) nbytes) != 1) {
        ngx_oidc_err_set(err, "RAND_bytes() failed", NULL);
        return NGX_OIDC_ERROR;
    }

    (void) ngx_oidc_b64url_encode(dst, raw, nbytes);

    OPENSSL_cleanse(raw, sizeof(raw));

    return NGX_OIDC_OK;
}


int
ngx_oidc_pkce_verifier(unsigned char *dst, ngx_oidc_err_t *err)
{
    return ngx_oidc_random_token(dst, NGX_OIDC_PKCE_VERIFIER_BYTES, err);
}


int
ngx_oidc_pkce_verifier_valid(const unsigned char *verifier, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (verifier == NULL || len < NGX_OIDC_PKCE_VERIFIER_MIN
        || len > NGX_OIDC_PKCE_VERIFIER_MAX)
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = verifier[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
              || c == '~'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_oidc_pkce_challenge(const unsigned char *verifier, size_t len,
    unsigned char *dst, ngx_oidc_err_t *err)
{
    unsigned char  md[NGX_OIDC_SHA256_LEN];

    if (!ngx_oidc_pkce_verifier_valid(verifier, len)) {
        ngx_oidc_err_set(err, "invalid code_verifier", "%zu characters",
                         len);
        return NGX_OIDC_DECLINED;
    }

    if (ngx_oidc_sha256(verifier, len, md) != NGX_OIDC_OK) {
        ngx_oidc_err_set(err, "SHA-256 failed", NULL);
        return NGX_OIDC_ERROR;
    }

    (void) ngx_oidc_b64url_encode(dst, md, sizeof(md));

    return NGX_OIDC_OK;
}


/* the hash of a JWS alg; NULL unless "alg" is exactly one known bit */

static const EVP_MD *
ngx_oidc_token_hash_md(unsigned alg)
{
    switch (alg) {

    case NGX_OIDC_ALG_RS256:
    case NGX_OIDC_ALG_PS256:
    case NGX_OIDC_ALG_ES256:
    case NGX_OIDC_ALG_HS256:
        return EVP_sha256();

    case NGX_OIDC_ALG_RS384:
    case NGX_OIDC_ALG_PS384:
    case NGX_OIDC_ALG_ES384:
    case NGX_OIDC_ALG_HS384:
        return EVP_sha384();

    case NGX_OIDC_ALG_RS512:
    case NGX_OIDC_ALG_PS512:
    case NGX_OIDC_ALG_ES512:
    case NGX_OIDC_ALG_HS512:
    /* Ed25519 hashes with SHA-512 (RFC 8032 5.1) */
    case NGX_OIDC_ALG_EDDSA:
        return EVP_sha512();

    default:
        return NULL;
    }
}


int
ngx_oidc_token_hash(unsigned alg, const unsigned char *token, size_t len,
    unsigned char *dst, size_t *dst_len, ngx_oidc_err_t *err)
{
    unsigned int   n;
    const EVP_MD  *md;
    unsigned char  digest[EVP_MAX_MD_SIZE];

    md = ngx_oidc_token_hash_md(alg);

    if (md == NULL) {
        ngx_oidc_err_set(err, "unsupported alg", "0x%x", alg);
        return NGX_OIDC_DECLINED;
    }

    if (EVP_Digest(len ? token : (const unsigned char *) "", len, digest,
                   &n, md, NULL)
        != 1)
    {
        ngx_oidc_err_set(err, "token hash failed", NULL);
        return NGX_OIDC_ERROR;
    }

    /* the left-most half of the digest */
    *dst_len = ngx_oidc_b64url_encode(dst, digest, n / 2);

    return NGX_OIDC_OK;
}


int
ngx_oidc_token_hash_check(unsigned alg, const unsigned char *token,
    size_t len, const unsigned char *hash, size_t hash_len,
    ngx_oidc_err_t *err)
{
    int            rc;
    size_t         n;
    unsigned char  expected[NGX_OIDC_TOKEN_HASH_MAX];

    rc = ngx_oidc_token_hash(alg, token, len, expected, &n, err);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    /* the length is public (it follows from alg); the bytes are not */
    if (hash == NULL || hash_len != n
        || !ngx_oidc_ct_equal(expected, hash, n))
    {
        ngx_oidc_err_set(err, "token hash mismatch", NULL);
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


int
ngx_oidc_sha256(const unsigned char *data, size_t len,
    unsigned char out[NGX_OIDC_SHA256_LEN])
{
    unsigned int  n;

    if (EVP_Digest(len ? data : (const unsigned char *) "", len, out, &n,
                   EVP_sha256(), NULL)
        != 1)
    {
        return NGX_OIDC_ERROR;
    }

    return NGX_OIDC_OK;
}


int
ngx_oidc_hmac_sha256(const unsigned char *key, size_t key_len,
    const unsigned char *data, size_t len,
    unsigned char out[NGX_OIDC_SHA256_LEN])
{
    unsigned int  n;

    if (key == NULL || key_len == 0 || key_len > INT_MAX) {
        return NGX_OIDC_ERROR;
    }

    if (HMAC(EVP_sha256(), key, (int) key_len,
             len ? data : (const unsigned char *) "", len, out, &n)
        == NULL)
    {
        return NGX_OIDC_ERROR;
    }

    return NGX_OIDC_OK;
}
