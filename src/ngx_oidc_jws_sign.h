
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_JWS_SIGN_H_INCLUDED_
#define _NGX_OIDC_JWS_SIGN_H_INCLUDED_


#include <openssl/evp.h>

#include "ngx_oidc_types.h"
#include "ngx_oidc_jose.h"


/*
 * Compact JWS signing with our own private key (RFC 7515), for client
 * assertions (RFC 7523).  We sign with RS256/384/512 and PS256/384/512
 * (RSA keys of at least 2048 bits), ES256/ES384/ES512 (P-256, P-384,
 * P-521 keys: the curve decides) and EdDSA (Ed25519); never "none" nor
 * HS*.
 */


/* the algorithm a key signs with by default; 0: a key we do not use */
unsigned ngx_oidc_jws_sign_alg(EVP_PKEY *pkey);

/*
 * NGX_OIDC_OK when "alg" (one NGX_OIDC_ALG_* bit) is one we sign with
 * and fits the key; else NGX_OIDC_DECLINED, err says why ("unsupported
 * signing key", "signing algorithm not supported", "algorithm does not
 * fit the key").
 */
int ngx_oidc_jws_sign_check(EVP_PKEY *pkey, unsigned alg,
    ngx_oidc_err_t *err);

/* an upper bound of the JWS length for header and payload of these sizes */
size_t ngx_oidc_jws_sign_len(EVP_PKEY *pkey, size_t header_len,
    size_t payload_len);

/*
 * Writes "b64url(header).b64url(payload).b64url(signature)" into "dst",
 * which holds ngx_oidc_jws_sign_len() bytes; *len gets the length (no
 * NUL).  Header and payload are used as given (the caller serialises
 * them; the header's "alg" must name "alg").  ES* signatures are the
 * fixed-size R||S of RFC 7518 3.4, PS* use a salt as long as the hash.
 * NGX_OIDC_DECLINED as ngx_oidc_jws_sign_check(); NGX_OIDC_ERROR when
 * OpenSSL fails.
 */
int ngx_oidc_jws_sign(EVP_PKEY *pkey, unsigned alg,
    const unsigned char *header, size_t header_len,
    const unsigned char *payload, size_t payload_len,
    unsigned char *dst, size_t *len, ngx_oidc_err_t *err);


#endif /* _NGX_OIDC_JWS_SIGN_H_INCLUDED_ */
