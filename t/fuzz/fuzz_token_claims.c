
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: the input, parsed with ngx_oidc_json_parse(), is
 * checked as ID token claims (ngx_oidc_claims_check_id_token, with and
 * without an expected nonce and an access token for at_hash) and as
 * Logout Token claims (ngx_oidc_claims_check_logout_token).  Besides
 * crashes and leaks it aborts when a refusal has no reason or an
 * unprintable detail, or when an accepted token fails an independent
 * look at its claims (iss, sub, nonce, events, jti).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_token_claims.c src/ngx_oidc_*.c \
 *       -ljansson -lcrypto -lm -o fuzz_token_claims
 *   ./fuzz_token_claims -max_total_time=60 corpus t/fuzz/seeds/token_claims
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_jose.h"
#include "ngx_oidc_claims.h"


#define FUZZ_ISSUER  "https://server.example.com"
#define FUZZ_CLIENT  "s6BhdRkqt3"
#define FUZZ_NONCE   "n-0S6_WzA2Mj"
#define FUZZ_EVENT   "http://schemas.openid.net/event/backchannel-logout"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const unsigned  fuzz_algs[] = {
    NGX_OIDC_ALG_RS256, NGX_OIDC_ALG_ES384, NGX_OIDC_ALG_PS512,
    NGX_OIDC_ALG_EDDSA,
};


static void
fuzz_check_err(int rc, const ngx_oidc_err_t *err)
{
    size_t  i;

    if (rc != NGX_OIDC_DECLINED || err->reason == NULL
        || strlen(err->detail) >= sizeof(err->detail))
    {
        abort();
    }

    for (i = 0; err->detail[i] != '\0'; i++) {
        if ((unsigned char) err->detail[i] < 0x20
            || (unsigned char) err->detail[i] >= 0x7f)
        {
            abort();
        }
    }
}


static int
fuzz_str_is(json_t *obj, const char *name, const char *value)
{
    json_t  *v;

    v = json_object_get(obj, name);

    return json_is_string(v) && json_string_length(v) == strlen(value)
           && memcmp(json_string_value(v), value, strlen(value)) == 0;
}


static void
fuzz_id_token(json_t *root, size_t size)
{
    int                        rc;
    json_t                    *sub;
    ngx_oidc_err_t             err;
    ngx_oidc_id_token_check_t  c;

    memset(&c, 0, sizeof(ngx_oidc_id_token_check_t));

    c.issuer.data = (unsigned char *) FUZZ_ISSUER;
    c.issuer.len = sizeof(FUZZ_ISSUER) - 1;
    c.client_id.data = (unsigned char *) FUZZ_CLIENT;
    c.client_id.len = sizeof(FUZZ_CLIENT) - 1;
    c.now = 1471566164;
    c.leeway = 30;
    c.max_age = (size & 2) ? 600 : 0;

    if (size & 1) {
        c.nonce.data = (unsigned char *) FUZZ_NONCE;
        c.nonce.len = sizeof(FUZZ_NONCE) - 1;
        c.access_token.data = (unsigned char *) "jHkWEdUXMU1BwAsC4vtUsZwnNn";
        c.access_token.len = sizeof("jHkWEdUXMU1BwAsC4vtUsZwnNn") - 1;
        c.alg = fuzz_algs[(size >> 2) % 4];
    }

    err.reason = NULL;
    err.detail[0] = '\0';

    rc = ngx_oidc_claims_check_id_token(root, &c, &err);

    if (rc != NGX_OIDC_OK) {
        fuzz_check_err(rc, &err);
        return;
    }

    sub = json_object_get(root, "sub");

    if (!fuzz_str_is(root, "iss", FUZZ_ISSUER) || !json_is_string(sub)
        || json_string_length(sub) == 0
        || json_object_get(root, "exp") == NULL
        || json_object_get(root, "iat") == NULL
        || (c.nonce.len > 0 && !fuzz_str_is(root, "nonce", FUZZ_NONCE)))
    {
        abort();
    }
}


static void
fuzz_logout_token(json_t *root, size_t size)
{
    int                            rc;
    json_t                        *events, *jti;
    ngx_oidc_err_t                 err;
    ngx_oidc_logout_token_check_t  c;

    memset(&c, 0, sizeof(ngx_oidc_logout_token_check_t));

    c.issuer.data = (unsigned char *) FUZZ_ISSUER;
    c.issuer.len = sizeof(FUZZ_ISSUER) - 1;
    c.client_id.data = (unsigned char *) FUZZ_CLIENT;
    c.client_id.len = sizeof(FUZZ_CLIENT) - 1;
    c.now = 1471566164;
    c.leeway = 30;
    c.max_age = (size & 2) ? 120 : 0;

    err.reason = NULL;
    err.detail[0] = '\0';

    rc = ngx_oidc_claims_check_logout_token(root, &c, &err);

    if (rc != NGX_OIDC_OK) {
        fuzz_check_err(rc, &err);
        return;
    }

    events = json_object_get(root, "events");
    jti = json_object_get(root, "jti");

    if (!fuzz_str_is(root, "iss", FUZZ_ISSUER)
        || json_object_get(root, "nonce") != NULL
        || !json_is_object(json_object_get(events, FUZZ_EVENT))
        || !json_is_string(jti) || json_string_length(jti) == 0
        || (json_object_get(root, "sid") == NULL
            && json_object_get(root, "sub") == NULL))
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t          *root;
    ngx_oidc_err_t   err;

    root = ngx_oidc_json_parse(data, size, 65536, &err);
    if (root == NULL) {
        return 0;
    }

    fuzz_id_token(root, size);
    fuzz_logout_token(root, size);

    json_decref(root);

    return 0;
}
