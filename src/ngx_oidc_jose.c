
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "ngx_oidc_b64.h"
#include "ngx_oidc_json.h"
#include "ngx_oidc_jose.h"


#define NGX_OIDC_RSA_MIN_BITS      2048
/* the verify cost grows with the modulus: bound what an IdP can make us do */
#define NGX_OIDC_RSA_MAX_BITS      8192
/* OpenSSL refuses larger exponents with moduli over 3072 bits */
#define NGX_OIDC_RSA_MAX_E_BITS    64
#define NGX_OIDC_HMAC_MIN_LEN      32
#define NGX_OIDC_HMAC_MAX_LEN      4096
/* a decoded JWK member: the largest is an RSA modulus */
#define NGX_OIDC_JWK_MEMBER_MAX    (NGX_OIDC_RSA_MAX_BITS / 8 + 3)
#define NGX_OIDC_EC_COORD_MAX      66
#define NGX_OIDC_ED25519_LEN       32
#define NGX_OIDC_ED25519_SIG_LEN   64

#define NGX_OIDC_ALG_RSA                                                     \
    (NGX_OIDC_ALG_RS256|NGX_OIDC_ALG_RS384|NGX_OIDC_ALG_RS512               \
     |NGX_OIDC_ALG_PS256|NGX_OIDC_ALG_PS384|NGX_OIDC_ALG_PS512)
#define NGX_OIDC_ALG_PSS                                                     \
    (NGX_OIDC_ALG_PS256|NGX_OIDC_ALG_PS384|NGX_OIDC_ALG_PS512)
#define NGX_OIDC_ALG_ECDSA                                                   \
    (NGX_OIDC_ALG_ES256|NGX_OIDC_ALG_ES384|NGX_OIDC_ALG_ES512)


typedef const EVP_MD *(*ngx_oidc_md_pt)(void);


typedef struct {
    const char           *name;
    unsigned              alg;
    ngx_oidc_md_pt        md;           /* NULL for EdDSA */
} ngx_oidc_alg_t;


typedef struct {
    const char           *crv;
    const char           *group;        /* OpenSSL's name of the curve */
    size_t                coord;        /* bytes of a coordinate */
    unsigned              alg;
} ngx_oidc_curve_t;


typedef struct {
    EVP_PKEY             *pkey;         /* NULL for an HMAC secret */
    unsigned char        *secret;
    size_t                secret_len;
    size_t                sig_len;      /* exact size; 0 for HMAC */
    unsigned              algs;         /* what the key may verify */
    ngx_oidc_str_t        kid;          /* malloc()ed, NULL when none */
} ngx_oidc_jwk_t;


struct ngx_oidc_jwks_s {
    size_t                nkeys;
    ngx_oidc_jwk_t        keys[NGX_OIDC_JWKS_MAX_KEYS];
};


static ngx_oidc_jwks_t *ngx_oidc_jwks_import(json_t *keys, size_t *nskipped,
    ngx_oidc_err_t *kerr, ngx_oidc_err_t *err);
static int ngx_oidc_jwk_import(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err);
static int ngx_oidc_jwk_usable(json_t *obj, ngx_oidc_err_t *err);
static int ngx_oidc_jwk_member(json_t *obj, const char *name,
    unsigned char *buf, size_t size, size_t *len);
static int ngx_oidc_jwk_import_rsa(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err);
static int ngx_oidc_jwk_import_ec(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err);
static int ngx_oidc_jwk_import_okp(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err);
static int ngx_oidc_pkey_fromdata(const char *type, OSSL_PARAM *params,
    int check, EVP_PKEY **pkey);
static int ngx_oidc_jwk_restrict(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err);
static int ngx_oidc_jwk_kid_set(ngx_oidc_jwk_t *key, const unsigned char *kid,
    size_t len);
static void ngx_oidc_jwk_free(ngx_oidc_jwk_t *key);
static int ngx_oidc_jwk_named(const ngx_oidc_jwk_t *key,
    const ngx_oidc_str_t *kid);
static int ngx_oidc_jws_decode_internal(ngx_oidc_jws_t *jws,
    const unsigned char *token, size_t len, size_t max, int raw,
    ngx_oidc_err_t *err);
static int ngx_oidc_jws_split(const unsigned char *token, size_t len,
    ngx_oidc_str_t *parts, ngx_oidc_err_t *err);
static int ngx_oidc_jws_b64(const ngx_oidc_str_t *part, const char *what,
    unsigned char **out, size_t *out_len, ngx_oidc_err_t *err);
static int ngx_oidc_jws_json(const ngx_oidc_str_t *part, size_t max,
    const char *what, json_t **json, unsigned char **keep, size_t *keep_len,
    ngx_oidc_err_t *err);
static int ngx_oidc_jws_header_check(ngx_oidc_jws_t *jws,
    ngx_oidc_err_t *err);
static int ngx_oidc_jws_string(json_t *header, const char *name,
    ngx_oidc_str_t *value, ngx_oidc_err_t *err);
static const ngx_oidc_alg_t *ngx_oidc_alg_find(unsigned alg);
static int ngx_oidc_jwk_verify(const ngx_oidc_jwk_t *key,
    const ngx_oidc_jws_t *jws, const ngx_oidc_alg_t *a);
static int ngx_oidc_verify_hmac(const ngx_oidc_jwk_t *key,
    const ngx_oidc_jws_t *jws, const ngx_oidc_alg_t *a);
static int ngx_oidc_verify_ecdsa(const ngx_oidc_jwk_t *key,
    const ngx_oidc_jws_t *jws, const ngx_oidc_alg_t *a);
static int ngx_oidc_verify_pkey(EVP_PKEY *pkey, const ngx_oidc_jws_t *jws,
    const ngx_oidc_alg_t *a, const unsigned char *sig, size_t sig_len);


static const ngx_oidc_alg_t  ngx_oidc_algs[] = {
    { "RS256", NGX_OIDC_ALG_RS256, EVP_sha256 },
    { "RS384", NGX_OIDC_ALG_RS384, EVP_sha384 },
    { "RS512", NGX_OIDC_ALG_RS512, EVP_sha512 },
    { "PS256", NGX_OIDC_ALG_PS256, EVP_sha256 },
    { "PS384", NGX_OIDC_ALG_PS384, EVP_sha384 },
    { "PS512", NGX_OIDC_ALG_PS512, EVP_sha512 },
    { "ES256", NGX_OIDC_ALG_ES256, EVP_sha256 },
    { "ES384", NGX_OIDC_ALG_ES384, EVP_sha384 },
    { "ES512", NGX_OIDC_ALG_ES512, EVP_sha512 },
    { "EdDSA", NGX_OIDC_ALG_EDDSA, NULL },
    { "HS256", NGX_OIDC_ALG_HS256, EVP_sha256 },
    { "HS384", NGX_OIDC_ALG_HS384, EVP_sha384 },
    { "HS512", NGX_OIDC_ALG_HS512, EVP_sha512 },
    { NULL, 0, NULL }
};


static const ngx_oidc_curve_t  ngx_oidc_curves[] = {
    { "P-256", "prime256v1", 32, NGX_OIDC_ALG_ES256 },
    { "P-384", "secp384r1", 48, NGX_OIDC_ALG_ES384 },
    { "P-521", "secp521r1", 66, NGX_OIDC_ALG_ES512 },
    { NULL, NULL, 0, 0 }
};


unsigned
ngx_oidc_alg_from_name(const unsigned char *name, size_t len)
{
    const ngx_oidc_alg_t  *a;

    for (a = ngx_oidc_algs; a->name != NULL; a++) {
        if (len == strlen(a->name) && memcmp(name, a->name, len) == 0) {
            return a->alg;
        }
    }

    return 0;
}


const char *
ngx_oidc_alg_name(unsigned alg)
{
    const ngx_oidc_alg_t  *a;

    a = ngx_oidc_alg_find(alg);

    return a != NULL ? a->name : NULL;
}


static const ngx_oidc_alg_t *
ngx_oidc_alg_find(unsigned alg)
{
    const ngx_oidc_alg_t  *a;

    for (a = ngx_oidc_algs; a->name != NULL; a++) {
        if (a->alg == alg) {
            return a;
        }
    }

    return NULL;
}


ngx_oidc_jwks_t *
ngx_oidc_jwks_parse(const unsigned char *data, size_t len, size_t max,
    size_t *skipped, ngx_oidc_err_t *err)
{
    size_t            nskipped;
    json_t           *root, *keys;
    ngx_oidc_err_t    kerr;
    ngx_oidc_jwks_t  *jwks;

    root = ngx_oidc_json_parse(data, len, max, err);
    if (root == NULL) {
        return NULL;
    }

    keys = json_object_get(root, "keys");
    jwks = NULL;
    nskipped = 0;
    kerr.reason = NULL;
    kerr.detail[0] = '\0';

    if (!json_is_array(keys)) {
        ngx_oidc_err_set(err, "jwks has no \"keys\" array", NULL);

    } else if (json_array_size(keys) > NGX_OIDC_JWKS_MAX_KEYS) {
        ngx_oidc_err_set(err, "jwks has too many keys", "%zu, limit %d",
                         json_array_size(keys), NGX_OIDC_JWKS_MAX_KEYS);

    } else {
        jwks = ngx_oidc_jwks_import(keys, &nskipped, &kerr, err);
    }

    json_decref(root);

    if (skipped != NULL) {
        *skipped = nskipped;
    }

    if (jwks == NULL) {
        return NULL;
    }

    if (jwks->nkeys == 0) {
        ngx_oidc_jwks_free(jwks);
        ngx_oidc_err_set(err, "jwks has no usable key", "%zu skipped%s%s",
                         nskipped, kerr.reason ? ", last: " : "",
                         kerr.reason ? kerr.reason : "");
        return NULL;
    }

    if (nskipped && err != NULL) {
        *err = kerr;
    }

    return jwks;
}


/* imports the keys of the array, counting those skipped */

static ngx_oidc_jwks_t *
ngx_oidc_jwks_import(json_t *keys, size_t *nskipped, ngx_oidc_err_t *kerr,
    ngx_oidc_err_t *err)
{
    int               rc;
    size_t            i;
    ngx_oidc_jwks_t  *jwks;

    jwks = ngx_oidc_jwks_create();
    if (jwks == NULL) {
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NULL;
    }

    for (i = 0; i < json_array_size(keys); i++) {
        rc = ngx_oidc_jwk_import(json_array_get(keys, i),
                                 &jwks->keys[jwks->nkeys], kerr);

        if (rc == NGX_OIDC_OK) {
            jwks->nkeys++;

        } else if (rc == NGX_OIDC_DECLINED) {
            (*nskipped)++;

        } else {
            ngx_oidc_jwks_free(jwks);
            ngx_oidc_err_set(err, "jwk import failed internally", NULL);
            return NULL;
        }
    }

    return jwks;
}


/*
 * Imports one key into *key.  NGX_OIDC_DECLINED: the key is skipped
 * (err says why) and *key is left empty.
 */

static int
ngx_oidc_jwk_import(json_t *obj, ngx_oidc_jwk_t *key, ngx_oidc_err_t *err)
{
    int          rc;
    const char  *kty;

    memset(key, 0, sizeof(ngx_oidc_jwk_t));

    if (!json_is_object(obj)) {
        ngx_oidc_err_set(err, "jwk is not an object", NULL);
        return NGX_OIDC_DECLINED;
    }

    kty = ngx_oidc_json_get_string(obj, "kty", NULL);

    if (kty == NULL) {
        ngx_oidc_err_set(err, "jwk has no \"kty\"", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (ngx_oidc_jwk_usable(obj, err) != NGX_OIDC_OK) {
        return NGX_OIDC_DECLINED;
    }

    if (strcmp(kty, "RSA") == 0) {
        rc = ngx_oidc_jwk_import_rsa(obj, key, err);

    } else if (strcmp(kty, "EC") == 0) {
        rc = ngx_oidc_jwk_import_ec(obj, key, err);

    } else if (strcmp(kty, "OKP") == 0) {
        rc = ngx_oidc_jwk_import_okp(obj, key, err);

    } else {
        /* "oct" too: a secret published in a JWKS is no secret */
        ngx_oidc_err_set(err, "jwk \"kty\" not supported", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_jwk_restrict(obj, key, err);
    }

    if (rc != NGX_OIDC_OK) {
        ngx_oidc_jwk_free(key);
    }

    return rc;
}


static int
ngx_oidc_jwk_usable(json_t *obj, ngx_oidc_err_t *err)
{
    size_t       i;
    json_t      *use, *ops, *op;
    const char  *s;

    use = json_object_get(obj, "use");

    if (use != NULL
        && (!json_is_string(use) || strcmp(json_string_value(use), "sig")))
    {
        ngx_oidc_err_set(err, "jwk \"use\" is not \"sig\"", NULL);
        return NGX_OIDC_DECLINED;
    }

    ops = json_object_get(obj, "key_ops");

    if (ops == NULL) {
        return NGX_OIDC_OK;
    }

    if (json_is_array(ops)) {
        json_array_foreach(ops, i, op) {
            s = json_string_value(op);

            if (s != NULL && strcmp(s, "verify") == 0) {
                return NGX_OIDC_OK;
            }
        }
    }

    ngx_oidc_err_set(err, "jwk \"key_ops\" lacks \"verify\"", NULL);
    return NGX_OIDC_DECLINED;
}


/* decodes a base64url member into buf; DECLINED if absent or too long */

static int
ngx_oidc_jwk_member(json_t *obj, const char *name, unsigned char *buf,
    size_t size, size_t *len)
{
    size_t       slen;
    const char  *s;

    s = ngx_oidc_json_get_string(obj, name, &slen);

    if (s == NULL || slen == 0
        || ngx_oidc_b64url_decoded_len(slen) > size)
    {
        return NGX_OIDC_DECLINED;
    }

    return ngx_oidc_b64url_decode(buf, len, (const unsigned char *) s, slen);
}


static int
ngx_oidc_jwk_import_rsa(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err)
{
    int              rc, bits;
    size_t           n_len, e_len;
    BIGNUM          *n, *e;
    OSSL_PARAM      *params;
    unsigned char    nbuf[NGX_OIDC_JWK_MEMBER_MAX], ebuf[16];
    OSSL_PARAM_BLD  *bld;

    if (ngx_oidc_jwk_member(obj, "n", nbuf, sizeof(nbuf), &n_len)
        != NGX_OIDC_OK
        || ngx_oidc_jwk_member(obj, "e", ebuf, sizeof(ebuf), &e_len)
           != NGX_OIDC_OK)
    {
        ngx_oidc_err_set(err, "rsa jwk has no valid \"n\" or \"e\"", NULL);
        return NGX_OIDC_DECLINED;
    }

    n = BN_bin2bn(nbuf, (int) n_len, NULL);
    e = BN_bin2bn(ebuf, (int) e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    params = NULL;
    bits = n != NULL ? BN_num_bits(n) : 0;
    rc = NGX_OIDC_ERROR;

    if (n == NULL || e == NULL || bld == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
    {
        /* out of memory: rc stays NGX_OIDC_ERROR */

    } else if (bits < NGX_OIDC_RSA_MIN_BITS || bits > NGX_OIDC_RSA_MAX_BITS) {
        ngx_oidc_err_set(err, "rsa jwk modulus size not accepted",
                         "%d bits", bits);
        rc = NGX_OIDC_DECLINED;

    } else if (!BN_is_odd(n) || !BN_is_odd(e) || BN_is_one(e)
               || BN_num_bits(e) > NGX_OIDC_RSA_MAX_E_BITS)
    {
        ngx_oidc_err_set(err, "rsa jwk \"n\" or \"e\" not accepted", NULL);
        rc = NGX_OIDC_DECLINED;

    } else {
        /*
         * not OpenSSL's public check: its Miller-Rabin round costs ~3 ms
         * a key, in every worker, at every refresh
         */
        rc = ngx_oidc_pkey_fromdata("RSA", params, 0, &key->pkey);

        key->algs = NGX_OIDC_ALG_RSA;
        key->sig_len = (bits + 7) / 8;
    }

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    ERR_clear_error();

    return rc;
}


static int
ngx_oidc_jwk_import_ec(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err)
{
    int                      rc;
    size_t                   x_len, y_len;
    OSSL_PARAM               params[3];
    const char              *crv;
    unsigned char            x[NGX_OIDC_EC_COORD_MAX + 3];
    unsigned char            y[NGX_OIDC_EC_COORD_MAX + 3];
    unsigned char            point[1 + 2 * NGX_OIDC_EC_COORD_MAX];
    const ngx_oidc_curve_t  *c;

    crv = ngx_oidc_json_get_string(obj, "crv", NULL);

    for (c = ngx_oidc_curves; c->crv != NULL; c++) {
        if (crv != NULL && strcmp(crv, c->crv) == 0) {
            break;
        }
    }

    if (c->crv == NULL) {
        ngx_oidc_err_set(err, "ec jwk curve not supported", NULL);
        return NGX_OIDC_DECLINED;
    }

    /* RFC 7518 6.2.1.2: the full size, leading zeros kept */
    if (ngx_oidc_jwk_member(obj, "x", x, sizeof(x), &x_len) != NGX_OIDC_OK
        || ngx_oidc_jwk_member(obj, "y", y, sizeof(y), &y_len)
           != NGX_OIDC_OK
        || x_len != c->coord || y_len != c->coord)
    {
        ngx_oidc_err_set(err, "ec jwk has no valid \"x\" or \"y\"",
                         "%s", c->crv);
        return NGX_OIDC_DECLINED;
    }

    point[0] = 0x04;
    memcpy(point + 1, x, c->coord);
    memcpy(point + 1 + c->coord, y, c->coord);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) c->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  point, 1 + 2 * c->coord);
    params[2] = OSSL_PARAM_construct_end();

    rc = ngx_oidc_pkey_fromdata("EC", params, 1, &key->pkey);

    if (rc == NGX_OIDC_DECLINED) {
        ngx_oidc_err_set(err, "ec jwk point is not on the curve", "%s",
                         c->crv);
    }

    key->algs = c->alg;
    key->sig_len = 2 * c->coord;

    return rc;
}


static int
ngx_oidc_jwk_import_okp(json_t *obj, ngx_oidc_jwk_t *key,
    ngx_oidc_err_t *err)
{
    int             rc;
    size_t          x_len;
    OSSL_PARAM      params[2];
    const char     *crv;
    unsigned char   x[NGX_OIDC_ED25519_LEN + 3];

    crv = ngx_oidc_json_get_string(obj, "crv", NULL);

    if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
        ngx_oidc_err_set(err, "okp jwk curve not supported", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (ngx_oidc_jwk_member(obj, "x", x, sizeof(x), &x_len) != NGX_OIDC_OK
        || x_len != NGX_OIDC_ED25519_LEN)
    {
        ngx_oidc_err_set(err, "okp jwk has no valid \"x\"", NULL);
        return NGX_OIDC_DECLINED;
    }

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  x, x_len);
    params[1] = OSSL_PARAM_construct_end();

    rc = ngx_oidc_pkey_fromdata("ED25519", params, 1, &key->pkey);

    if (rc == NGX_OIDC_DECLINED) {
        ngx_oidc_err_set(err, "okp jwk failed to import", NULL);
    }

    key->algs = NGX_OIDC_ALG_EDDSA;
    key->sig_len = NGX_OIDC_ED25519_SIG_LEN;

    return rc;
}


/*
 * Builds a public key and, with "check", runs OpenSSL's public key
 * check on it (for EC: the point is on the curve and not at infinity).
 */

static int
ngx_oidc_pkey_fromdata(const char *type, OSSL_PARAM *params, int check,
    EVP_PKEY **pkey)
{
    int            rc;
    EVP_PKEY_CTX  *ctx;

    *pkey = NULL;
    rc = NGX_OIDC_ERROR;

    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
        rc = EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) == 1
             ? NGX_OIDC_OK : NGX_OIDC_DECLINED;
    }

    EVP_PKEY_CTX_free(ctx);

    if (rc == NGX_OIDC_OK && check) {
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, *pkey, NULL);

        if (ctx == NULL) {
            rc = NGX_OIDC_ERROR;

        } else if (EVP_PKEY_public_check(ctx) != 1) {
            rc = NGX_OIDC_DECLINED;
        }

        EVP_PKEY_CTX_free(ctx);
    }

    if (rc != NGX_OIDC_OK) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
    }

    /* leave nothing in the queue that nginx's ssl code would pick up */
    ERR_clear_error();

    return rc;
}


/* applies "alg" and "kid" to an imported key */

static int
ngx_oidc_jwk_restrict(json_t *obj, ngx_oidc_jwk_t *key, ngx_oidc_err_t *err)
{
    json_t      *v;
    unsigned     alg;
    const char  *s;

    v = json_object_get(obj, "alg");

    if (v != NULL) {
        s = json_string_value(v);
        alg = s ? ngx_oidc_alg_from_name((const unsigned char *) s,
                                         json_string_length(v))
                : 0;

        if ((alg & key->algs) == 0) {
            ngx_oidc_err_set(err, "jwk \"alg\" unknown or unfit for the key",
                             NULL);
            return NGX_OIDC_DECLINED;
        }

        key->algs = alg;
    }

    v = json_object_get(obj, "kid");

    if (v == NULL) {
        return NGX_OIDC_OK;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "jwk \"kid\" is not a string", NULL);
        return NGX_OIDC_DECLINED;
    }

    return ngx_oidc_jwk_kid_set(key, (const unsigned char *)
                                json_string_value(v), json_string_length(v));
}


static int
ngx_oidc_jwk_kid_set(ngx_oidc_jwk_t *key, const unsigned char *kid,
    size_t len)
{
    key->kid.data = malloc(len + 1);
    if (key->kid.data == NULL) {
        return NGX_OIDC_ERROR;
    }

    memcpy(key->kid.data, kid, len);
    key->kid.data[len] = '\0';
    key->kid.len = len;

    return NGX_OIDC_OK;
}


static void
ngx_oidc_jwk_free(ngx_oidc_jwk_t *key)
{
    EVP_PKEY_free(key->pkey);

    if (key->secret != NULL) {
        OPENSSL_cleanse(key->secret, key->secret_len);
        free(key->secret);
    }

    free(key->kid.data);

    memset(key, 0, sizeof(ngx_oidc_jwk_t));
}


ngx_oidc_jwks_t *
ngx_oidc_jwks_create(void)
{
    return calloc(1, sizeof(ngx_oidc_jwks_t));
}


int
ngx_oidc_jwks_add_secret(ngx_oidc_jwks_t *jwks, const unsigned char *secret,
    size_t len, const ngx_oidc_str_t *kid, ngx_oidc_err_t *err)
{
    ngx_oidc_jwk_t  *key;

    if (secret == NULL || len < NGX_OIDC_HMAC_MIN_LEN
        || len > NGX_OIDC_HMAC_MAX_LEN)
    {
        ngx_oidc_err_set(err, "hmac secret size not accepted",
                         "%zu bytes, %d to %d required", len,
                         NGX_OIDC_HMAC_MIN_LEN, NGX_OIDC_HMAC_MAX_LEN);
        return NGX_OIDC_DECLINED;
    }

    if (jwks->nkeys == NGX_OIDC_JWKS_MAX_KEYS) {
        ngx_oidc_err_set(err, "jwks has too many keys", "limit %d",
                         NGX_OIDC_JWKS_MAX_KEYS);
        return NGX_OIDC_DECLINED;
    }

    key = &jwks->keys[jwks->nkeys];
    memset(key, 0, sizeof(ngx_oidc_jwk_t));

    key->secret = malloc(len);

    if (key->secret == NULL
        || (kid != NULL && kid->len > 0
            && ngx_oidc_jwk_kid_set(key, kid->data, kid->len)
               != NGX_OIDC_OK))
    {
        ngx_oidc_jwk_free(key);
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    memcpy(key->secret, secret, len);
    key->secret_len = len;

    /* RFC 7518 3.2: a key at least as long as the hash */
    key->algs = NGX_OIDC_ALG_HS256
                | (len >= 48 ? NGX_OIDC_ALG_HS384 : 0)
                | (len >= 64 ? NGX_OIDC_ALG_HS512 : 0);

    jwks->nkeys++;

    return NGX_OIDC_OK;
}


void
ngx_oidc_jwks_free(ngx_oidc_jwks_t *jwks)
{
    size_t  i;

    if (jwks == NULL) {
        return;
    }

    for (i = 0; i < jwks->nkeys; i++) {
        ngx_oidc_jwk_free(&jwks->keys[i]);
    }

    free(jwks);
}


size_t
ngx_oidc_jwks_count(const ngx_oidc_jwks_t *jwks)
{
    return jwks != NULL ? jwks->nkeys : 0;
}


int
ngx_oidc_jwks_has_kid(const ngx_oidc_jwks_t *jwks, const unsigned char *kid,
    size_t len)
{
    size_t          i;
    ngx_oidc_str_t  name;

    name.data = (unsigned char *) kid;
    name.len = len;

    for (i = 0; jwks != NULL && i < jwks->nkeys; i++) {
        if (ngx_oidc_jwk_named(&jwks->keys[i], &name)) {
            return 1;
        }
    }

    return 0;
}


static int
ngx_oidc_jwk_named(const ngx_oidc_jwk_t *key, const ngx_oidc_str_t *kid)
{
    return key->kid.data != NULL && key->kid.len == kid->len
           && memcmp(key->kid.data, kid->data, kid->len) == 0;
}


int
ngx_oidc_jws_decode(ngx_oidc_jws_t *jws, const unsigned char *token,
    size_t len, size_t max, ngx_oidc_err_t *err)
{
    return ngx_oidc_jws_decode_internal(jws, token, len, max, 0, err);
}


int
ngx_oidc_jws_decode_raw(ngx_oidc_jws_t *jws, const unsigned char *token,
    size_t len, size_t max, ngx_oidc_err_t *err)
{
    return ngx_oidc_jws_decode_internal(jws, token, len, max, 1, err);
}


static int
ngx_oidc_jws_decode_internal(ngx_oidc_jws_t *jws, const unsigned char *token,
    size_t len, size_t max, int raw, ngx_oidc_err_t *err)
{
    int             rc;
    ngx_oidc_str_t  parts[3];

    memset(jws, 0, sizeof(ngx_oidc_jws_t));

    if (max > NGX_OIDC_JWS_MAX_LEN) {
        max = NGX_OIDC_JWS_MAX_LEN;
    }

    if (len == 0 || len > max) {
        ngx_oidc_err_set(err, "jws empty or too large", "%zu bytes, limit %zu",
                         len, max);
        return NGX_OIDC_DECLINED;
    }

    rc = ngx_oidc_jws_split(token, len, parts, err);

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_jws_json(&parts[0], NGX_OIDC_JWS_HEADER_MAX, "header",
                               &jws->header, NULL, NULL, err);
    }

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_jws_header_check(jws, err);
    }

    if (rc == NGX_OIDC_OK) {
        rc = raw ? ngx_oidc_jws_b64(&parts[1], "payload", &jws->raw_payload,
                                    &jws->raw_payload_len, err)
                 : ngx_oidc_jws_json(&parts[1], max, "payload",
                                     &jws->payload, &jws->raw_payload,
                                     &jws->raw_payload_len, err);
    }

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_jws_b64(&parts[2], "signature", &jws->signature,
                              &jws->signature_len, err);
    }

    if (rc == NGX_OIDC_OK && jws->signature_len == 0) {
        ngx_oidc_err_set(err, "jws signature is empty", NULL);
        rc = NGX_OIDC_DECLINED;
    }

    if (rc != NGX_OIDC_OK) {
        ngx_oidc_jws_free(jws);
        return rc;
    }

    jws->signing_input.data = (unsigned char *) token;
    jws->signing_input.len = parts[0].len + 1 + parts[1].len;

    return NGX_OIDC_OK;
}


static int
ngx_oidc_jws_split(const unsigned char *token, size_t len,
    ngx_oidc_str_t *parts, ngx_oidc_err_t *err)
{
    size_t                i, n;
    const unsigned char  *start;

    n = 0;
    start = token;

    for (i = 0; i < len; i++) {
        if (token[i] != '.') {
            continue;
        }

        if (n < 2) {
            parts[n].data = (unsigned char *) start;
            parts[n].len = &token[i] - start;
        }

        n++;
        start = &token[i + 1];
    }

    if (n != 2) {
        ngx_oidc_err_set(err, n == 4 ? "jwe not supported"
                                     : "jws is not three parts",
                         "%zu parts", n + 1);
        return NGX_OIDC_DECLINED;
    }

    parts[2].data = (unsigned char *) start;
    parts[2].len = token + len - start;

    return NGX_OIDC_OK;
}


/* a malloc()ed decoded part, NUL-terminated for convenience */

static int
ngx_oidc_jws_b64(const ngx_oidc_str_t *part, const char *what,
    unsigned char **out, size_t *out_len, ngx_oidc_err_t *err)
{
    unsigned char  *p;

    p = malloc(ngx_oidc_b64url_decoded_len(part->len) + 1);
    if (p == NULL) {
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    if (ngx_oidc_b64url_decode(p, out_len, part->data, part->len)
        != NGX_OIDC_OK)
    {
        free(p);
        ngx_oidc_err_set(err, "jws part is not valid base64url", "%s", what);
        return NGX_OIDC_DECLINED;
    }

    p[*out_len] = '\0';
    *out = p;

    return NGX_OIDC_OK;
}


/*
 * a base64url part holding a JSON object of at most "max" bytes; with
 * "keep" the decoded bytes are handed over too (they are the exact JSON
 * that was parsed, so nobody needs to serialise the object again)
 */

static int
ngx_oidc_jws_json(const ngx_oidc_str_t *part, size_t max, const char *what,
    json_t **json, unsigned char **keep, size_t *keep_len,
    ngx_oidc_err_t *err)
{
    int             rc;
    size_t          len;
    unsigned char  *p;

    if (part->len > ngx_oidc_b64url_encoded_len(max)) {
        ngx_oidc_err_set(err, "jws part too large", "%s, limit %zu", what,
                         max);
        return NGX_OIDC_DECLINED;
    }

    rc = ngx_oidc_jws_b64(part, what, &p, &len, err);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    *json = ngx_oidc_json_parse(p, len, max, err);

    if (*json != NULL && keep != NULL) {
        *keep = p;
        *keep_len = len;

    } else {
        free(p);
    }

    if (*json == NULL) {
        /* keep the parser's detail, say where */
        if (err != NULL) {
            err->reason = what[0] == 'h'
                          ? "jws header is not a valid json object"
                          : "jws payload is not a valid json object";
        }

        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_jws_header_check(ngx_oidc_jws_t *jws, ngx_oidc_err_t *err)
{
    json_t      *v;
    const char  *s;

    v = json_object_get(jws->header, "alg");
    s = json_string_value(v);

    if (s == NULL) {
        ngx_oidc_err_set(err, "jws \"alg\" missing or not a string", NULL);
        return NGX_OIDC_DECLINED;
    }

    /* "None" and "nOnE" are no algorithm either: say so in the log */
    if (json_string_length(v) == 4 && (s[0] | 0x20) == 'n'
        && (s[1] | 0x20) == 'o' && (s[2] | 0x20) == 'n'
        && (s[3] | 0x20) == 'e')
    {
        ngx_oidc_err_set(err, "unsecured jws refused", NULL);
        return NGX_OIDC_DECLINED;
    }

    jws->alg = ngx_oidc_alg_from_name((const unsigned char *) s,
                                      json_string_length(v));
    if (jws->alg == 0) {
        ngx_oidc_err_set(err, "jws \"alg\" not supported", NULL);
        return NGX_OIDC_DECLINED;
    }

    /* RFC 7515 4.1.11: an extension we do not understand must fail */
    if (json_object_get(jws->header, "crit") != NULL) {
        ngx_oidc_err_set(err, "jws \"crit\" refused", NULL);
        return NGX_OIDC_DECLINED;
    }

    v = json_object_get(jws->header, "b64");

    if (v != NULL && !json_is_true(v)) {
        ngx_oidc_err_set(err, "jws unencoded payload refused", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (ngx_oidc_jws_string(jws->header, "kid", &jws->kid, err)
        != NGX_OIDC_OK
        || ngx_oidc_jws_string(jws->header, "typ", &jws->typ, err)
           != NGX_OIDC_OK)
    {
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


/* an optional header member that must be a string when present */

static int
ngx_oidc_jws_string(json_t *header, const char *name, ngx_oidc_str_t *value,
    ngx_oidc_err_t *err)
{
    json_t  *v;

    v = json_object_get(header, name);

    if (v == NULL) {
        return NGX_OIDC_OK;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "jws header member is not a string", "\"%s\"",
                         name);
        return NGX_OIDC_DECLINED;
    }

    value->data = (unsigned char *) json_string_value(v);
    value->len = json_string_length(v);

    return NGX_OIDC_OK;
}


int
ngx_oidc_jws_verify(const ngx_oidc_jws_t *jws, const ngx_oidc_jwks_t *keys,
    unsigned allowed, ngx_oidc_err_t *err)
{
    int                    rc;
    size_t                 i, named, tried;
    const ngx_oidc_alg_t  *a;
    const ngx_oidc_jwk_t  *key;

    a = ngx_oidc_alg_find(jws->alg);

    if (a == NULL || (jws->alg & allowed) == 0) {
        ngx_oidc_err_set(err, "jws \"alg\" not allowed", "%s",
                         a ? a->name : "?");
        return NGX_OIDC_DECLINED;
    }

    if (keys == NULL || jws->signature == NULL) {
        ngx_oidc_err_set(err, "no key to verify the jws", NULL);
        return NGX_OIDC_DECLINED;
    }

    named = 0;
    tried = 0;

    for (i = 0; i < keys->nkeys; i++) {
        key = &keys->keys[i];

        if (jws->kid.len > 0 && !ngx_oidc_jwk_named(key, &jws->kid)) {
            continue;
        }

        named++;

        if ((key->algs & jws->alg) == 0) {
            continue;
        }

        tried++;

        rc = ngx_oidc_jwk_verify(key, jws, a);

        if (rc == NGX_OIDC_ERROR) {
            ngx_oidc_err_set(err, "jws verification failed internally", NULL);
        }

        if (rc != NGX_OIDC_DECLINED) {
            return rc;
        }
    }

    if (named == 0 && jws->kid.len > 0) {
        ngx_oidc_err_set(err, "no key with the jws \"kid\"", NULL);
        return NGX_OIDC_NOKEY;
    }

    if (tried == 0) {
        ngx_oidc_err_set(err, "no key fits the jws \"alg\"", "%s", a->name);
        return NGX_OIDC_DECLINED;
    }

    ngx_oidc_err_set(err, "jws signature is invalid", "%s, %zu key%s tried",
                     a->name, tried, tried > 1 ? "s" : "");
    return NGX_OIDC_DECLINED;
}


static int
ngx_oidc_jwk_verify(const ngx_oidc_jwk_t *key, const ngx_oidc_jws_t *jws,
    const ngx_oidc_alg_t *a)
{
    if (a->alg & NGX_OIDC_ALG_HMAC) {
        return ngx_oidc_verify_hmac(key, jws, a);
    }

    /* belt and braces: the algs bits already keep secrets out of here */
    if (key->pkey == NULL || jws->signature_len != key->sig_len) {
        return NGX_OIDC_DECLINED;
    }

    if (a->alg & NGX_OIDC_ALG_ECDSA) {
        return ngx_oidc_verify_ecdsa(key, jws, a);
    }

    return ngx_oidc_verify_pkey(key->pkey, jws, a, jws->signature,
                                jws->signature_len);
}


static int
ngx_oidc_verify_hmac(const ngx_oidc_jwk_t *key, const ngx_oidc_jws_t *jws,
    const ngx_oidc_alg_t *a)
{
    const EVP_MD   *md;
    unsigned int    len;
    unsigned char   mac[EVP_MAX_MD_SIZE];

    /* never an asymmetric key, never an empty or short secret */
    if (key->pkey != NULL || key->secret == NULL
        || key->secret_len < NGX_OIDC_HMAC_MIN_LEN)
    {
        return NGX_OIDC_DECLINED;
    }

    md = a->md();

    if (jws->signature_len != (size_t) EVP_MD_get_size(md)) {
        return NGX_OIDC_DECLINED;
    }

    if (HMAC(md, key->secret, (int) key->secret_len, jws->signing_input.data,
             jws->signing_input.len, mac, &len)
        == NULL)
    {
        ERR_clear_error();
        return NGX_OIDC_ERROR;
    }

    if (len != jws->signature_len
        || CRYPTO_memcmp(mac, jws->signature, len) != 0)
    {
        OPENSSL_cleanse(mac, sizeof(mac));
        return NGX_OIDC_DECLINED;
    }

    OPENSSL_cleanse(mac, sizeof(mac));

    return NGX_OIDC_OK;
}


/* RFC 7518 3.4: R||S, each of the curve's size, to the DER OpenSSL wants */

static int
ngx_oidc_verify_ecdsa(const ngx_oidc_jwk_t *key, const ngx_oidc_jws_t *jws,
    const ngx_oidc_alg_t *a)
{
    int             len;
    size_t          half;
    BIGNUM         *r, *s;
    ECDSA_SIG      *sig;
    unsigned char  *p, der[2 * (NGX_OIDC_EC_COORD_MAX + 8) + 8];

    half = jws->signature_len / 2;

    r = BN_bin2bn(jws->signature, (int) half, NULL);
    s = BN_bin2bn(jws->signature + half, (int) half, NULL);
    sig = ECDSA_SIG_new();

    /* on success sig owns r and s */
    if (r == NULL || s == NULL || sig == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return NGX_OIDC_ERROR;
    }

    /* at most 3 + 2 * (2 + 67) bytes for P-521: der is large enough */
    p = der;
    len = i2d_ECDSA_SIG(sig, &p);

    ECDSA_SIG_free(sig);

    if (len <= 0) {
        ERR_clear_error();
        return NGX_OIDC_ERROR;
    }

    return ngx_oidc_verify_pkey(key->pkey, jws, a, der, len);
}


static int
ngx_oidc_verify_pkey(EVP_PKEY *pkey, const ngx_oidc_jws_t *jws,
    const ngx_oidc_alg_t *a, const unsigned char *sig, size_t sig_len)
{
    int            rc;
    EVP_MD_CTX    *mctx;
    const EVP_MD  *md;
    EVP_PKEY_CTX  *pctx;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return NGX_OIDC_ERROR;
    }

    md = a->md ? a->md() : NULL;
    pctx = NULL;
    rc = NGX_OIDC_ERROR;

    if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pkey) != 1) {
        goto done;
    }

    if ((a->alg & NGX_OIDC_ALG_PSS)
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0))
    {
        goto done;
    }

    /* 0 and -1 alike: a malformed signature is a bad signature */
    rc = EVP_DigestVerify(mctx, sig, sig_len, jws->signing_input.data,
                          jws->signing_input.len) == 1
         ? NGX_OIDC_OK : NGX_OIDC_DECLINED;

done:

    EVP_MD_CTX_free(mctx);
    ERR_clear_error();

    return rc;
}


void
ngx_oidc_jws_free(ngx_oidc_jws_t *jws)
{
    if (jws->header != NULL) {
        json_decref(jws->header);
    }

    if (jws->payload != NULL) {
        json_decref(jws->payload);
    }

    free(jws->signature);
    free(jws->raw_payload);

    memset(jws, 0, sizeof(ngx_oidc_jws_t));
}
