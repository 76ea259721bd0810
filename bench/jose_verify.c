
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * Per-verify cost: libjwt 1.10 jwt_decode() with a PEM public key (the
 * key is parsed again on every call: that API has no other way) against
 * ngx_oidc_jws_decode() + ngx_oidc_jws_verify() with the JWKS parsed
 * once.  Keys and tokens come from t/unit/keys.c.
 *
 *   cc -std=c99 -D_DEFAULT_SOURCE -O2 -I src -I t/unit bench/jose_verify.c \
 *       t/unit/keys.c src/ngx_oidc_{err,b64,json,jose}.c \
 *       -ljwt -ljansson -lcrypto -lm -o /tmp/jose_verify
 *   /tmp/jose_verify [seconds per measurement, default 2]
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "ngx_oidc_jose.h"
#include "keys.h"


#define PAYLOAD                                                              \
    "{\"iss\":\"https://op.example\",\"sub\":\"alice\",\"aud\":\"api\","     \
    "\"exp\":4102444800,\"iat\":1700000000,\"scope\":\"openid profile\"}"


#define BENCH_ROUNDS  5


typedef struct {
    const char           *token;
    const unsigned char  *key;
    size_t                key_len;
    ngx_oidc_jwks_t      *jwks;
    ngx_oidc_jws_t        jws;
} bench_case_t;


typedef int (*bench_pt)(bench_case_t *c);


typedef struct {
    const char           *name;
    bench_pt              fn;
} bench_method_t;


static double bench_now(void);
static double bench_once(bench_pt fn, bench_case_t *c, double seconds,
    long *calls);
static void bench_compare(bench_case_t *c, const bench_method_t *m, int n,
    double seconds, double *median);
static int bench_libjwt(bench_case_t *c);
static int bench_ours(bench_case_t *c);
static int bench_ours_verify_only(bench_case_t *c);


static double
bench_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* microseconds per call of one timed run */

static double
bench_once(bench_pt fn, bench_case_t *c, double seconds, long *calls)
{
    long    n, i;
    double  start, elapsed;

    n = 0;
    start = bench_now();

    do {
        for (i = 0; i < 20; i++) {
            (void) fn(c);
        }

        n += 20;
        elapsed = bench_now() - start;

    } while (elapsed < seconds);

    *calls += n;

    return elapsed * 1e6 / n;
}


/*
 * The methods are run in turn, BENCH_ROUNDS times, and the median of
 * each is kept: on a shared machine the noise then falls on all alike.
 */

static void
bench_compare(bench_case_t *c, const bench_method_t *m, int n,
    double seconds, double *median)
{
    int     i, r, k;
    long    calls[8];
    double  us[8][BENCH_ROUNDS], t;

    for (i = 0; i < n; i++) {
        for (k = 0; k < 50; k++) {
            if (m[i].fn(c) != 0) {
                fprintf(stderr, "%s: verification failed\n", m[i].name);
                exit(1);
            }
        }

        calls[i] = 0;
    }

    for (r = 0; r < BENCH_ROUNDS; r++) {
        for (i = 0; i < n; i++) {
            us[i][r] = bench_once(m[i].fn, c, seconds / BENCH_ROUNDS,
                                  &calls[i]);

            for (k = r; k > 0 && us[i][k - 1] > us[i][k]; k--) {
                t = us[i][k];
                us[i][k] = us[i][k - 1];
                us[i][k - 1] = t;
            }
        }
    }

    for (i = 0; i < n; i++) {
        median[i] = us[i][BENCH_ROUNDS / 2];
        printf("  %-36s %9.2f us/verify  (median of %d, %ld calls)\n",
               m[i].name, median[i], BENCH_ROUNDS, calls[i]);
    }
}


static int
bench_libjwt(bench_case_t *c)
{
    int     rc;
    jwt_t  *jwt;

    jwt = NULL;
    rc = jwt_decode(&jwt, c->token, c->key, (int) c->key_len);

    if (jwt != NULL) {
        jwt_free(jwt);
    }

    return rc;
}


static int
bench_ours(bench_case_t *c)
{
    int             rc;
    ngx_oidc_err_t  err;
    ngx_oidc_jws_t  jws;

    rc = ngx_oidc_jws_decode(&jws, (const unsigned char *) c->token,
                             strlen(c->token), NGX_OIDC_JWS_MAX_LEN, &err);

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_jws_verify(&jws, c->jwks,
                                 NGX_OIDC_ALG_ASYMMETRIC|NGX_OIDC_ALG_HMAC,
                                 &err);
        ngx_oidc_jws_free(&jws);
    }

    return rc;
}


static int
bench_ours_verify_only(bench_case_t *c)
{
    ngx_oidc_err_t  err;

    return ngx_oidc_jws_verify(&c->jws, c->jwks,
                               NGX_OIDC_ALG_ASYMMETRIC|NGX_OIDC_ALG_HMAC,
                               &err);
}


int
main(int argc, char **argv)
{
    int              i, n;
    char            *pem_priv, *pem_pub, *jwk, *set, *tokens[4];
    size_t           len, pub_len;
    double           seconds, t_lib, t_ours, start, median[3];
    EVP_PKEY        *pkey;
    bench_case_t     c;
    ngx_oidc_err_t   err;

    static const struct {
        const char  *alg;
        test_key_e   kind;
        int          libjwt;
    } cases[] = {
        { "RS256", TEST_KEY_RSA, 1 },
        { "ES256", TEST_KEY_P256, 1 },
        { "EdDSA", TEST_KEY_ED25519, 0 },
        { "HS256", TEST_KEY_COUNT, 1 },
    };

    static const bench_method_t  methods[] = {
        { "libjwt jwt_decode (key per call)", bench_libjwt },
        { "ours decode + verify (JWKS once)", bench_ours },
        { "ours verify only", bench_ours_verify_only },
    };

    static const unsigned char  secret[] =
        "bench-secret-bench-secret-bench-secret-0123456789";

    seconds = argc > 1 ? atof(argv[1]) : 2.0;

    printf("%s, libjwt 1.10 (Debian 12), %.1f s per measurement\n",
           OpenSSL_version(OPENSSL_VERSION), seconds);

    for (i = 0; i < 4; i++) {
        memset(&c, 0, sizeof(c));

        if (cases[i].kind == TEST_KEY_COUNT) {
            c.jwks = ngx_oidc_jwks_create();
            (void) ngx_oidc_jwks_add_secret(c.jwks, secret,
                                            sizeof(secret) - 1, NULL, &err);
            tokens[i] = test_libjwt_sign("HS256", secret, sizeof(secret) - 1,
                                         PAYLOAD);
            c.key = secret;
            c.key_len = sizeof(secret) - 1;
            pem_priv = pem_pub = jwk = set = NULL;

        } else {
            pkey = test_key(cases[i].kind);
            pem_priv = test_pem_private(pkey, &len);
            pem_pub = test_pem_public(pkey, &pub_len);
            jwk = test_jwk(pkey, NULL, NULL, NULL);
            set = test_jwks(jwk, NULL);

            start = bench_now();
            c.jwks = ngx_oidc_jwks_parse((unsigned char *) set, strlen(set),
                                         65536, NULL, &err);
            printf("%s: JWKS parse (once per refresh): %.1f us\n",
                   cases[i].alg, (bench_now() - start) * 1e6);

            /* libjwt's tokens where it can sign: what an IdP sends */
            tokens[i] = cases[i].libjwt
                        ? test_libjwt_sign(cases[i].alg,
                                           (unsigned char *) pem_priv, len,
                                           PAYLOAD)
                        : test_jws_sign("{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}",
                                        PAYLOAD, "EdDSA", pkey, NULL, 0, 0);
            c.key = (unsigned char *) pem_pub;
            c.key_len = pub_len;
        }

        if (c.jwks == NULL) {
            fprintf(stderr, "jwks: %s\n", err.reason);
            return 1;
        }

        c.token = tokens[i];

        if (cases[i].kind != TEST_KEY_COUNT) {
            printf("%s:\n", cases[i].alg);
        } else {
            printf("HS256:\n");
        }

        if (ngx_oidc_jws_decode(&c.jws, (unsigned char *) c.token,
                                strlen(c.token), NGX_OIDC_JWS_MAX_LEN, &err)
            != NGX_OIDC_OK)
        {
            return 1;
        }

        /* libjwt 1.10 has no EdDSA: then only ours is measured */
        n = cases[i].libjwt ? 3 : 2;
        bench_compare(&c, cases[i].libjwt ? methods : methods + 1, n, seconds,
                      median);
        ngx_oidc_jws_free(&c.jws);

        t_lib = cases[i].libjwt ? median[0] : 0;
        t_ours = median[n - 2];

        if (t_lib > 0) {
            printf("  ratio libjwt / ours: %.2fx\n", t_lib / t_ours);
        }

        ngx_oidc_jwks_free(c.jwks);
        free(pem_priv);
        free(pem_pub);
        free(jwk);
        free(set);
        free(tokens[i]);
    }

    test_keys_cleanup();

    return 0;
}
