
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_JOSE_H_INCLUDED_
#define _NGX_OIDC_JOSE_H_INCLUDED_


#include <jansson.h>

#include "ngx_oidc_types.h"


/* the JWS algorithms we implement, as bits of an allow-list */
#define NGX_OIDC_ALG_RS256    0x0001
#define NGX_OIDC_ALG_RS384    0x0002
#define NGX_OIDC_ALG_RS512    0x0004
#define NGX_OIDC_ALG_PS256    0x0008
#define NGX_OIDC_ALG_PS384    0x0010
#define NGX_OIDC_ALG_PS512    0x0020
#define NGX_OIDC_ALG_ES256    0x0040
#define NGX_OIDC_ALG_ES384    0x0080
#define NGX_OIDC_ALG_ES512    0x0100
#define NGX_OIDC_ALG_EDDSA    0x0200
#define NGX_OIDC_ALG_HS256    0x0400
#define NGX_OIDC_ALG_HS384    0x0800
#define NGX_OIDC_ALG_HS512    0x1000

#define NGX_OIDC_ALG_ASYMMETRIC  0x03ff
#define NGX_OIDC_ALG_HMAC        0x1c00


/* "RS256" -> NGX_OIDC_ALG_RS256; 0 for "none" and anything unknown */
unsigned ngx_oidc_alg_from_name(const unsigned char *name, size_t len);
const char *ngx_oidc_alg_name(unsigned alg);


/* limits on what we decode */
#define NGX_OIDC_JWS_MAX_LEN        16384
#define NGX_OIDC_JWS_HEADER_MAX     8192
#define NGX_OIDC_JWKS_MAX_KEYS      64


/*
 * A key set, parsed once into OpenSSL keys and then shared read-only.
 */
typedef struct ngx_oidc_jwks_s  ngx_oidc_jwks_t;


/*
 * Imports a JWKS document ({"keys": [...]}) of at most "max" bytes,
 * parsed with ngx_oidc_json_parse() (duplicate members refused).
 * RSA (n, e; at least 2048 bits), EC (P-256, P-384, P-521, point
 * checked on the curve) and OKP Ed25519 keys are imported; "oct" keys
 * in a JWKS are ignored (HMAC secrets come from configuration only).
 * A key with "use" other than "sig", with "key_ops" not allowing
 * "verify", with an "alg" we do not implement or that does not fit its
 * type/curve, or that fails to import is skipped and counted in
 * *skipped (may be NULL).  Private members ("d", ...) are ignored.
 * Returns NULL with err set on malformed JSON, a missing "keys" array,
 * more than NGX_OIDC_JWKS_MAX_KEYS keys, or no usable key.
 */
ngx_oidc_jwks_t *ngx_oidc_jwks_parse(const unsigned char *data, size_t len,
    size_t max, size_t *skipped, ngx_oidc_err_t *err);

/* an empty set, to which secrets can be added */
ngx_oidc_jwks_t *ngx_oidc_jwks_create(void);

/*
 * Adds a shared HMAC secret (HS256/384/512) with an optional kid.
 * An empty secret, or one shorter than 32 bytes, is refused
 * (NGX_OIDC_DECLINED): an empty key never verifies anything.
 */
int ngx_oidc_jwks_add_secret(ngx_oidc_jwks_t *jwks,
    const unsigned char *secret, size_t len, const ngx_oidc_str_t *kid,
    ngx_oidc_err_t *err);

void ngx_oidc_jwks_free(ngx_oidc_jwks_t *jwks);
size_t ngx_oidc_jwks_count(const ngx_oidc_jwks_t *jwks);
/* 1 if a key with that kid exists */
int ngx_oidc_jwks_has_kid(const ngx_oidc_jwks_t *jwks,
    const unsigned char *kid, size_t len);


/*
 * A decoded compact JWS.  "header" and "payload" are owned by the
 * structure; strings point into the token passed to decode, which must
 * outlive it.
 */
typedef struct {
    json_t               *header;
    json_t               *payload;
    unsigned              alg;          /* one NGX_OIDC_ALG_* bit */
    ngx_oidc_str_t        kid;          /* empty when absent */
    ngx_oidc_str_t        typ;          /* empty when absent */
    ngx_oidc_str_t        signing_input;
    unsigned char        *signature;    /* malloc()ed */
    size_t                signature_len;
} ngx_oidc_jws_t;


/*
 * Splits and decodes a compact JWS of at most "max" bytes (never more
 * than NGX_OIDC_JWS_MAX_LEN).  Refused (NGX_OIDC_DECLINED, err set):
 * not exactly three parts (JWE has five), invalid base64url, header or
 * payload not a JSON object or with duplicate members, "alg" missing,
 * "none" or not implemented, "crit" present (we understand no
 * extension), "b64": false.  Header members "jku", "x5u", "jwk" and
 * "x5c" are never used to find a key.  On success the caller calls
 * ngx_oidc_jws_free().  NGX_OIDC_ERROR on allocation failure.
 */
int ngx_oidc_jws_decode(ngx_oidc_jws_t *jws, const unsigned char *token,
    size_t len, size_t max, ngx_oidc_err_t *err);

/*
 * Verifies the signature with a key of "keys".  The token's alg must be
 * in "allowed" and fit the key: RSA keys for RS* and PS*, EC keys for
 * the ES* of their curve, Ed25519 for EdDSA, secrets for HS*; a key's
 * own "alg", when it had one, must equal the token's.  With a kid only
 * keys with that kid are tried; without one every fitting key is tried.
 * ES* signatures are the raw R||S of RFC 7518, of the exact size.
 * Returns NGX_OIDC_OK, NGX_OIDC_NOKEY (the kid names no key: the
 * caller may refetch the set), NGX_OIDC_DECLINED (bad signature or no
 * fitting key), NGX_OIDC_ERROR.
 */
int ngx_oidc_jws_verify(const ngx_oidc_jws_t *jws,
    const ngx_oidc_jwks_t *keys, unsigned allowed, ngx_oidc_err_t *err);

void ngx_oidc_jws_free(ngx_oidc_jws_t *jws);


#endif /* _NGX_OIDC_JOSE_H_INCLUDED_ */
