
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_CRYPTO_H_INCLUDED_
#define _NGX_OIDC_CRYPTO_H_INCLUDED_


#include "ngx_oidc_types.h"
#include "ngx_oidc_b64.h"


/* random bytes behind each token: state and nonce >= 128 bits, ids 256 */
#define NGX_OIDC_TOKEN_MIN_BYTES       16
#define NGX_OIDC_TOKEN_MAX_BYTES       64
#define NGX_OIDC_STATE_BYTES           24      /* 32 characters */
#define NGX_OIDC_NONCE_BYTES           24      /* 32 characters */
#define NGX_OIDC_SESSION_ID_BYTES      32      /* 43 characters */
#define NGX_OIDC_PKCE_VERIFIER_BYTES   32      /* 43 characters */

/* the characters ngx_oidc_random_token() writes for "nbytes" */
#define ngx_oidc_random_token_len(nbytes)  ngx_oidc_b64url_encoded_len(nbytes)


/*
 * Writes the base64url encoding (no padding) of "nbytes" bytes from
 * OpenSSL's CSPRNG (RAND_bytes) into "dst", which must hold
 * ngx_oidc_random_token_len(nbytes) bytes; no NUL is added.
 * Returns NGX_OIDC_OK; NGX_OIDC_ERROR when "nbytes" is outside
 * NGX_OIDC_TOKEN_MIN_BYTES..NGX_OIDC_TOKEN_MAX_BYTES or the generator
 * fails (never a weaker fallback).
 */
int ngx_oidc_random_token(unsigned char *dst, size_t nbytes,
    ngx_oidc_err_t *err);


/* RFC 7636 4.1: a code_verifier has 43 to 128 characters */
#define NGX_OIDC_PKCE_VERIFIER_MIN     43
#define NGX_OIDC_PKCE_VERIFIER_MAX     128
/* base64url of a SHA-256 digest */
#define NGX_OIDC_PKCE_CHALLENGE_LEN    43


/*
 * A new code_verifier: NGX_OIDC_PKCE_VERIFIER_BYTES random bytes as
 * base64url, 43 characters written to "dst" (RFC 7636 7.1's advice).
 * Same results as ngx_oidc_random_token().
 */
int ngx_oidc_pkce_verifier(unsigned char *dst, ngx_oidc_err_t *err);

/*
 * Returns 1 when "verifier" is a valid RFC 7636 4.1 code_verifier: 43
 * to 128 characters of ALPHA / DIGIT / "-" / "." / "_" / "~".
 */
int ngx_oidc_pkce_verifier_valid(const unsigned char *verifier,
    size_t len);

/*
 * The S256 code_challenge of "verifier" (RFC 7636 4.2):
 * base64url(SHA-256(ASCII(verifier))), NGX_OIDC_PKCE_CHALLENGE_LEN
 * characters written to "dst".  Returns NGX_OIDC_OK; NGX_OIDC_DECLINED
 * ("invalid code_verifier") when ngx_oidc_pkce_verifier_valid() says
 * no; NGX_OIDC_ERROR when OpenSSL fails.
 */
int ngx_oidc_pkce_challenge(const unsigned char *verifier, size_t len,
    unsigned char *dst, ngx_oidc_err_t *err);


/* base64url of half a SHA-512 digest: the longest token hash */
#define NGX_OIDC_TOKEN_HASH_MAX        43


/*
 * An OIDC Core 3.1.3.6 / 3.3.2.11 token hash (at_hash, c_hash) for an
 * ID token signed with "alg" (one NGX_OIDC_ALG_* bit): the base64url
 * encoding of the left half of the hash of the ASCII token, the hash
 * being the one of the alg (SHA-256 for *256, SHA-384 for *384, SHA-512
 * for *512).  For EdDSA, whose JWS alg names no hash, SHA-512 is used:
 * the hash Ed25519 itself uses, which is what OpenID Foundation
 * certified providers emit (Ed448 would take SHAKE256; we do not
 * verify Ed448).  "dst" must hold NGX_OIDC_TOKEN_HASH_MAX bytes;
 * *dst_len gets 22, 32 or 43.
 * Returns NGX_OIDC_OK; NGX_OIDC_DECLINED for an alg that is not exactly
 * one known bit ("unsupported alg"); NGX_OIDC_ERROR if OpenSSL fails.
 */
int ngx_oidc_token_hash(unsigned alg, const unsigned char *token,
    size_t len, unsigned char *dst, size_t *dst_len, ngx_oidc_err_t *err);

/*
 * Compares a received at_hash / c_hash with the one computed for
 * "token", in constant time once the lengths agree.  Returns
 * NGX_OIDC_OK, NGX_OIDC_DECLINED ("token hash mismatch", or the
 * reasons of ngx_oidc_token_hash()), NGX_OIDC_ERROR.
 */
int ngx_oidc_token_hash_check(unsigned alg, const unsigned char *token,
    size_t len, const unsigned char *hash, size_t hash_len,
    ngx_oidc_err_t *err);


#define NGX_OIDC_SHA256_LEN            32


/* SHA-256 of "data" into "out"; NGX_OIDC_OK or NGX_OIDC_ERROR */
int ngx_oidc_sha256(const unsigned char *data, size_t len,
    unsigned char out[NGX_OIDC_SHA256_LEN]);

/*
 * HMAC-SHA256 of "data" under "key" into "out" (e.g. to bind a
 * cookie to a record, or to key a store entry by a secret's digest);
 * compare MACs with ngx_oidc_ct_equal().  An empty key is refused
 * (NGX_OIDC_ERROR), as is an OpenSSL failure.
 */
int ngx_oidc_hmac_sha256(const unsigned char *key, size_t key_len,
    const unsigned char *data, size_t len,
    unsigned char out[NGX_OIDC_SHA256_LEN]);


#endif /* _NGX_OIDC_CRYPTO_H_INCLUDED_ */
