
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


/*
 * "RS256" -> NGX_OIDC_ALG_RS256, case-sensitive (RFC 7515 4.1.1);
 * 0 for "none" and anything unknown
 */
unsigned ngx_oidc_alg_from_name(const unsigned char *name, size_t len);
/* the name of one NGX_OIDC_ALG_* bit; NULL for anything else */
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
 * RSA (n odd, of 2048 to 8192 bits; e odd, above 1, at most 64 bits;
 * OpenSSL's full RSA check, ~3 ms a key, is not run), EC (P-256, P-384,
 * P-521, coordinates of the exact size, point checked on the curve) and
 * OKP Ed25519 keys are imported; "oct" keys in a JWKS are ignored (HMAC
 * secrets come from configuration only).  A key with "use" other than
 * "sig", with "key_ops" not allowing "verify", with a "kid" that is not
 * a string, with an "alg" we do not implement or that does not fit its
 * type/curve, or that fails to import is skipped and counted in
 * *skipped (may be NULL); "oct" keys and elements that are not objects
 * are counted too.
 * Private members ("d", ...) are ignored.  Returns NULL with err set on
 * malformed JSON, a missing "keys" array, more than
 * NGX_OIDC_JWKS_MAX_KEYS keys, no usable key, or allocation failure.
 * On success err, when keys were skipped, holds the reason the last one
 * was (for a warning); it is untouched otherwise.
 */
ngx_oidc_jwks_t *ngx_oidc_jwks_parse(const unsigned char *data, size_t len,
    size_t max, size_t *skipped, ngx_oidc_err_t *err);

/* an empty set, to which secrets can be added */
ngx_oidc_jwks_t *ngx_oidc_jwks_create(void);

/*
 * Adds a shared HMAC secret with an optional kid (NULL or empty: none).
 * RFC 7518 3.2 wants a key at least as long as the hash: 32 bytes allow
 * HS256, 48 add HS384, 64 add HS512.  An empty secret, one shorter than
 * 32 or longer than 4096 bytes, or a set already holding
 * NGX_OIDC_JWKS_MAX_KEYS keys is refused (NGX_OIDC_DECLINED): an empty
 * key never verifies anything.  NGX_OIDC_ERROR on allocation failure.
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
 * A decoded compact JWS.  "header", "payload" and "raw_payload" are
 * owned by the structure; "kid" and "typ" point into "header";
 * "signing_input" points into the token passed to decode, which must
 * outlive the structure.
 */
typedef struct {
    json_t               *header;
    json_t               *payload;      /* NULL after decode_raw */
    unsigned              alg;          /* one NGX_OIDC_ALG_* bit */
    ngx_oidc_str_t        kid;          /* empty when absent or "" */
    ngx_oidc_str_t        typ;          /* empty when absent */
    ngx_oidc_str_t        signing_input;
    unsigned char        *signature;    /* malloc()ed */
    size_t                signature_len;
    unsigned char        *raw_payload;  /* the decoded bytes, malloc()ed */
    size_t                raw_payload_len;
} ngx_oidc_jws_t;


/*
 * Splits and decodes a compact JWS of at most "max" bytes (never more
 * than NGX_OIDC_JWS_MAX_LEN).  Refused (NGX_OIDC_DECLINED, err set):
 * not exactly three parts (JWE has five), invalid base64url, a header
 * over NGX_OIDC_JWS_HEADER_MAX bytes, header or payload not a JSON
 * object or with duplicate members, "alg" missing, not a string, "none"
 * (in any case) or not supported, "crit" present (we understand no
 * extension), "b64" other than true, "kid" or "typ" not a string, an
 * empty signature.  Header members "jku", "x5u", "jwk" and "x5c" are
 * never used to find a key.  Whatever the result, the caller may call
 * ngx_oidc_jws_free(); on failure nothing is left to free.
 * NGX_OIDC_ERROR on allocation failure.
 */
int ngx_oidc_jws_decode(ngx_oidc_jws_t *jws, const unsigned char *token,
    size_t len, size_t max, ngx_oidc_err_t *err);

/*
 * The same, but the payload may be any octets (RFC 7520 and RFC 8037
 * examples sign text): it is left in raw_payload and "payload" is NULL.
 * For published test vectors and tools, never for tokens whose claims
 * are read.
 */
int ngx_oidc_jws_decode_raw(ngx_oidc_jws_t *jws, const unsigned char *token,
    size_t len, size_t max, ngx_oidc_err_t *err);

/*
 * Verifies the signature with a key of "keys".  The token's alg must be
 * in "allowed" and fit the key: RSA keys for RS* and PS*, EC keys for
 * the ES* of their curve, Ed25519 for EdDSA, secrets long enough for
 * HS*; a key's own "alg", when it had one, must equal the token's.
 * With a kid only keys with that kid are tried; without one every
 * fitting key is tried (each try costs a signature check).  Signatures
 * have the exact size: the modulus for RSA, 64 bytes for Ed25519, the
 * hash for HMAC (compared in constant time); ES* are the raw R||S of
 * RFC 7518, R and S each of the curve's size (DER is refused); PS* use
 * MGF1 with the same hash and a salt as long as the hash.
 * Keys named by the token itself (jku, x5u, jwk, x5c) are never used.
 * Returns NGX_OIDC_OK, NGX_OIDC_NOKEY (the kid names no key: the
 * caller may refetch the set), NGX_OIDC_DECLINED (bad signature or no
 * fitting key), NGX_OIDC_ERROR.
 */
int ngx_oidc_jws_verify(const ngx_oidc_jws_t *jws,
    const ngx_oidc_jwks_t *keys, unsigned allowed, ngx_oidc_err_t *err);

void ngx_oidc_jws_free(ngx_oidc_jws_t *jws);


#endif /* _NGX_OIDC_JOSE_H_INCLUDED_ */
