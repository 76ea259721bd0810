
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: the input as an RFC 7662 introspection response
 * (ngx_oidc_introspection_check, with an audience and without, with
 * "exp" required and not), and as a Bearer token for the "auto" choice
 * (ngx_oidc_introspection_is_jwt), and as an error answer
 * (ngx_oidc_introspection_unsupported).  Besides crashes and leaks it aborts
 * when a refusal has no reason or an unprintable detail, or when an
 * accepted answer fails an independent look at it (active is true, iss
 * and aud as configured, exp when required).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_introspection.c src/ngx_oidc_*.c \
 *       -ljansson -lcrypto -lm -o fuzz_introspection
 *   ./fuzz_introspection -max_total_time=60 corpus t/fuzz/seeds/introspection
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_introspection.h"


#define FUZZ_ISSUER  "https://server.example.com"
#define FUZZ_AUD     "urn:fhir"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_check_err(const ngx_oidc_err_t *err)
{
    size_t  i;

    if (err->reason == NULL || strlen(err->detail) >= sizeof(err->detail)) {
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
fuzz_has_aud(json_t *claims)
{
    size_t   i;
    json_t  *aud, *e;

    aud = json_object_get(claims, "aud");

    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), FUZZ_AUD) == 0;
    }

    json_array_foreach(aud, i, e) {
        if (json_is_string(e) && strcmp(json_string_value(e), FUZZ_AUD) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static void
fuzz_response(const uint8_t *data, size_t size, unsigned variant)
{
    int                      rc;
    json_t                  *claims, *iss;
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;
    static const ngx_oidc_str_t  aud[] = { ngx_oidc_string(FUZZ_AUD) };

    memset(&c, 0, sizeof(ngx_oidc_claims_check_t));

    c.issuer.data = (unsigned char *) FUZZ_ISSUER;
    c.issuer.len = sizeof(FUZZ_ISSUER) - 1;
    c.audiences = (variant & 1) ? aud : NULL;
    c.naudiences = (variant & 1) ? 1 : 0;
    c.now = 1700000000;
    c.leeway = 30;
    c.require_exp = (variant & 2) ? 1 : 0;
    c.iss_optional = (variant & 4) ? 1 : 0;

    err.reason = NULL;
    err.detail[0] = '\0';
    claims = NULL;

    rc = ngx_oidc_introspection_check(data, size, 65536, &c, &claims, &err);

    if (rc != NGX_OIDC_OK) {
        if (claims != NULL) {
            abort();
        }

        fuzz_check_err(&err);
        return;
    }

    iss = json_object_get(claims, "iss");

    if (!json_is_true(json_object_get(claims, "active"))
        || (c.naudiences && !fuzz_has_aud(claims))
        || (c.require_exp && json_object_get(claims, "exp") == NULL)
        || (iss == NULL && !c.iss_optional)
        || (iss != NULL && (!json_is_string(iss)
                            || strcmp(json_string_value(iss), FUZZ_ISSUER)
                               != 0)))
    {
        abort();
    }

    json_decref(claims);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_oidc_str_t  issuer = ngx_oidc_string(FUZZ_ISSUER);

    fuzz_response(data, size, (unsigned) size);
    fuzz_response(data, size, (unsigned) size + 3);

    (void) ngx_oidc_introspection_is_jwt(data, size, 16384, &issuer);
    (void) ngx_oidc_introspection_unsupported(data, size, 65536);

    return 0;
}
