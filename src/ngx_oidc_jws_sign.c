
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "ngx_oidc_b64.h"
#include "ngx_oidc_jws_sign.h"


#define NGX_OIDC_SIGN_RSA_MIN_BITS  2048
/* the largest R||S: P-521 */
#define NGX_OIDC_SIGN_EC_SIG_MAX    (2 * 66)

#define NGX_OIDC_SIGN_RSA                                                    \
    (NGX_OIDC_ALG_RS256|NGX_OIDC_ALG_RS384|NGX_OIDC_ALG_RS512               \
     |NGX_OIDC_ALG_PS256|NGX_OIDC_ALG_PS384|NGX_OIDC_ALG_PS512)
#define NGX_OIDC_SIGN_PSS                                                    \
    (NGX_OIDC_ALG_PS256|NGX_OIDC_ALG_PS384|NGX_OIDC_ALG_PS512)


typedef struct {
    const char           *group;        /* OpenSSL's name of the curve */
    size_t                coord;        /* bytes of R and of S */
    unsigned              alg;
} ngx_oidc_sign_curve_t;


static const ngx_oidc_sign_curve_t *ngx_oidc_sign_curve(EVP_PKEY *pkey);
static const EVP_MD *ngx_oidc_sign_md(unsigned alg);
static int ngx_oidc_sign_raw(EVP_PKEY *pkey, unsigned alg,
    const unsigned char *in, size_t in_len, unsigned char *sig,
    size_t *sig_len);
static int ngx_oidc_sign_ecdsa_raw(const ngx_oidc_sign_curve_t *curve,
    unsigned char *sig, size_t *sig_len);


static const ngx_oidc_sign_curve_t  ngx_oidc_sign_curves[] = {
    { "prime256v1", 32, NGX_OIDC_ALG_ES256 },
    { "secp384r1", 48, NGX_OIDC_ALG_ES384 },
    { "secp521r1", 66, NGX_OIDC_ALG_ES512 },
    { NULL, 0, 0 }
};


unsigned
ngx_oidc_jws_sign_alg(EVP_PKEY *pkey)
{
    const ngx_oidc_sign_curve_t  *curve;

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        return (EVP_PKEY_get_bits(pkey) >= NGX_OIDC_SIGN_RSA_MIN_BITS)
               ? NGX_OIDC_ALG_RS256 : 0;

    case EVP_PKEY_EC:
        curve = ngx_oidc_sign_curve(pkey);
        return curve ? curve->alg : 0;

    case EVP_PKEY_ED25519:
        return NGX_OIDC_ALG_EDDSA;

    default:
        return 0;
    }
}


int
ngx_oidc_jws_sign_check(EVP_PKEY *pkey, unsigned alg, ngx_oidc_err_t *err)
{
    unsigned  key_alg;

    key_alg = ngx_oidc_jws_sign_alg(pkey);

    if (key_alg == 0) {
        ngx_oidc_err_set(err, "unsupported signing key", "%s of %d bits",
                         EVP_PKEY_get0_type_name(pkey)
                         ? EVP_PKEY_get0_type_name(pkey) : "unknown type",
                         EVP_PKEY_get_bits(pkey));
        return NGX_OIDC_DECLINED;
    }

    /* one bit of what we sign with: never "none", never HS* */
    if (alg == 0 || (alg & (alg - 1)) != 0
        || (alg & NGX_OIDC_ALG_ASYMMETRIC) != alg)
    {
        ngx_oidc_err_set(err, "signing algorithm not supported", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (alg == key_alg
        || (key_alg == NGX_OIDC_ALG_RS256 && (alg & NGX_OIDC_SIGN_RSA)))
    {
        return NGX_OIDC_OK;
    }

    ngx_oidc_err_set(err, "algorithm does not fit the key", "%s key, %s",
                     EVP_PKEY_get0_type_name(pkey)
                     ? EVP_PKEY_get0_type_name(pkey) : "unknown",
                     ngx_oidc_alg_name(alg));

    return NGX_OIDC_DECLINED;
}


size_t
ngx_oidc_jws_sign_len(EVP_PKEY *pkey, size_t header_len, size_t payload_len)
{
    size_t  sig;

    /* EVP_PKEY_get_size(): the largest signature, DER for ECDSA */
    sig = (size_t) EVP_PKEY_get_size(pkey);

    if (sig < NGX_OIDC_SIGN_EC_SIG_MAX) {
        sig = NGX_OIDC_SIGN_EC_SIG_MAX;
    }

    return ngx_oidc_b64url_encoded_len(header_len) + 1
           + ngx_oidc_b64url_encoded_len(payload_len) + 1
           + ngx_oidc_b64url_encoded_len(sig);
}


int
ngx_oidc_jws_sign(EVP_PKEY *pkey, unsigned alg, const unsigned char *header,
    size_t header_len, const unsigned char *payload, size_t payload_len,
    unsigned char *dst, size_t *len, ngx_oidc_err_t *err)
{
    int             rc;
    size_t          n, sig_len;
    unsigned char  *sig;

    rc = ngx_oidc_jws_sign_check(pkey, alg, err);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    sig_len = (size_t) EVP_PKEY_get_size(pkey);

    if (sig_len < NGX_OIDC_SIGN_EC_SIG_MAX) {
        sig_len = NGX_OIDC_SIGN_EC_SIG_MAX;
    }

    sig = OPENSSL_malloc(sig_len);
    if (sig == NULL) {
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    n = ngx_oidc_b64url_encode(dst, header, header_len);
    dst[n++] = '.';
    n += ngx_oidc_b64url_encode(dst + n, payload, payload_len);

    /* the signing input is what was just written */
    rc = ngx_oidc_sign_raw(pkey, alg, dst, n, sig, &sig_len);

    if (rc != NGX_OIDC_OK) {
        OPENSSL_free(sig);
        ERR_clear_error();
        ngx_oidc_err_set(err, "signing failed", NULL);
        return NGX_OIDC_ERROR;
    }

    dst[n++] = '.';
    n += ngx_oidc_b64url_encode(dst + n, sig, sig_len);

    OPENSSL_free(sig);

    *len = n;

    return NGX_OIDC_OK;
}


static const ngx_oidc_sign_curve_t *
ngx_oidc_sign_curve(EVP_PKEY *pkey)
{
    char                          name[32];
    size_t                        len;
    const ngx_oidc_sign_curve_t  *c;

    if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1) {
        ERR_clear_error();
        return NULL;
    }

    for (c = ngx_oidc_sign_curves; c->group != NULL; c++) {
        if (strcmp(name, c->group) == 0) {
            return c;
        }
    }

    return NULL;
}


static const EVP_MD *
ngx_oidc_sign_md(unsigned alg)
{
    switch (alg) {

    case NGX_OIDC_ALG_RS256:
    case NGX_OIDC_ALG_PS256:
    case NGX_OIDC_ALG_ES256:
        return EVP_sha256();

    case NGX_OIDC_ALG_RS384:
    case NGX_OIDC_ALG_PS384:
    case NGX_OIDC_ALG_ES384:
        return EVP_sha384();

    case NGX_OIDC_ALG_RS512:
    case NGX_OIDC_ALG_PS512:
    case NGX_OIDC_ALG_ES512:
        return EVP_sha512();

    default:
        /* EdDSA hashes internally */
        return NULL;
    }
}


static int
ngx_oidc_sign_raw(EVP_PKEY *pkey, unsigned alg, const unsigned char *in,
    size_t in_len, unsigned char *sig, size_t *sig_len)
{
    int                           ok;
    EVP_MD_CTX                   *mctx;
    EVP_PKEY_CTX                 *pctx;
    const ngx_oidc_sign_curve_t  *curve;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return NGX_OIDC_ERROR;
    }

    ok = (EVP_DigestSignInit(mctx, &pctx, ngx_oidc_sign_md(alg), NULL, pkey)
          == 1);

    if (ok && (alg & NGX_OIDC_SIGN_PSS)) {
        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash */
        ok = (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
              && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                  RSA_PSS_SALTLEN_DIGEST)
                 == 1);
    }

    ok = ok && (EVP_DigestSign(mctx, sig, sig_len, in, in_len) == 1);

    EVP_MD_CTX_free(mctx);

    if (!ok) {
        return NGX_OIDC_ERROR;
    }

    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
        return NGX_OIDC_OK;
    }

    curve = ngx_oidc_sign_curve(pkey);
    if (curve == NULL) {
        return NGX_OIDC_ERROR;
    }

    return ngx_oidc_sign_ecdsa_raw(curve, sig, sig_len);
}


/* RFC 7518 3.4: OpenSSL's DER to R||S, each of the curve's size */

static int
ngx_oidc_sign_ecdsa_raw(const ngx_oidc_sign_curve_t *curve,
    unsigned char *sig, size_t *sig_len)
{
    int                   ok;
    ECDSA_SIG            *es;
    const BIGNUM         *r, *s;
    const unsigned char  *p;

    p = sig;

    es = d2i_ECDSA_SIG(NULL, &p, (long) *sig_len);
    if (es == NULL) {
        return NGX_OIDC_ERROR;
    }

    ECDSA_SIG_get0(es, &r, &s);

    /* the DER is read: the buffer (at least 2 * 66 bytes) is reused */
    ok = (BN_bn2binpad(r, sig, (int) curve->coord) == (int) curve->coord
          && BN_bn2binpad(s, sig + curve->coord, (int) curve->coord)
             == (int) curve->coord);

    ECDSA_SIG_free(es);

    if (!ok) {
        return NGX_OIDC_ERROR;
    }

    *sig_len = 2 * curve->coord;

    return NGX_OIDC_OK;
}
