
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_b64.h"
#include "ngx_oidc_json.h"
#include "ngx_oidc_claims.h"
#include "ngx_oidc_introspection.h"


#define NOW     1700000000
#define ISSUER  "https://idp.example.com"
#define MAX     65536


static const ngx_oidc_str_t  audiences[] = {
    ngx_oidc_string("urn:fhir"),
};


static ngx_oidc_claims_check_t
check_default(void)
{
    ngx_oidc_claims_check_t  c;

    memset(&c, 0, sizeof(ngx_oidc_claims_check_t));

    c.issuer.data = (unsigned char *) ISSUER;
    c.issuer.len = sizeof(ISSUER) - 1;
    c.audiences = audiences;
    c.naudiences = 1;
    c.now = NOW;
    c.leeway = 30;
    c.iss_optional = 1;

    return c;
}


/* the result code; *reason the refusal's reason (NULL when accepted) */

static int
run(const ngx_oidc_claims_check_t *c, const char *body, const char **reason,
    json_t **claims)
{
    int              rc;
    json_t          *j;
    ngx_oidc_err_t   err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));

    j = (json_t *) 0x1;
    rc = ngx_oidc_introspection_check((const unsigned char *) body,
                                      strlen(body), MAX, c, &j, &err);

    *reason = (rc == NGX_OIDC_OK) ? NULL : err.reason;

    if (rc != NGX_OIDC_OK) {
        assert_null(j);
        assert_non_null(err.reason);
    }

    if (claims != NULL) {
        *claims = j;

    } else if (j != NULL) {
        json_decref(j);
    }

    return rc;
}


static void
expect(const ngx_oidc_claims_check_t *c, const char *body, int want,
    const char *reason)
{
    int          rc;
    const char  *why;

    rc = run(c, body, &why, NULL);

    if (rc != want || (reason && (why == NULL || strcmp(why, reason) != 0))) {
        fail_msg("%s: rc %d (want %d), reason \"%s\" (want \"%s\")", body, rc,
                 want, why ? why : "", reason ? reason : "");
    }
}


static void
test_active(void **state)
{
    json_t                   *claims;
    const char               *why;
    ngx_oidc_claims_check_t   c;

    (void) state;

    c = check_default();

    assert_int_equal(run(&c, "{\"active\":true,\"aud\":\"urn:fhir\","
                             "\"iss\":\"" ISSUER "\",\"exp\":1700000100,"
                             "\"scope\":\"patient/Observation.rs\","
                             "\"patient\":\"123\",\"sub\":\"alice\"}",
                         &why, &claims),
                     NGX_OIDC_OK);

    /* every member is a claim, and "scope" grants as in a JWT */
    assert_string_equal(json_string_value(json_object_get(claims, "patient")),
                        "123");
    assert_true(ngx_oidc_claims_has_scope(claims,
                                          (const unsigned char *)
                                          "patient/Observation.rs", 22));
    assert_false(ngx_oidc_claims_has_scope(claims,
                                           (const unsigned char *)
                                           "patient/Observation.r", 21));
    json_decref(claims);

    /* RFC 7662: only "active" is required */
    c.naudiences = 0;
    expect(&c, "{\"active\":true}", NGX_OIDC_OK, NULL);
}


static void
test_inactive(void **state)
{
    ngx_oidc_claims_check_t  c;

    (void) state;

    c = check_default();

    expect(&c, "{\"active\":false}", NGX_OIDC_DECLINED, "token not active");
    /* members beside active:false are never looked at */
    expect(&c, "{\"active\":false,\"aud\":\"urn:fhir\",\"exp\":1}",
           NGX_OIDC_DECLINED, "token not active");
}


static void
test_unusable(void **state)
{
    char                     *big;
    size_t                    n;
    const char               *why;
    ngx_oidc_err_t            err;
    json_t                   *j;
    ngx_oidc_claims_check_t   c;

    (void) state;

    c = check_default();

    /* a broken answer is the provider's failure (503), not the token's */
    expect(&c, "", NGX_OIDC_ERROR, NULL);
    expect(&c, "not json", NGX_OIDC_ERROR, NULL);
    expect(&c, "[true]", NGX_OIDC_ERROR, NULL);
    expect(&c, "{\"active\":true", NGX_OIDC_ERROR, NULL);
    expect(&c, "{}", NGX_OIDC_ERROR, "active missing");
    expect(&c, "{\"active\":\"true\",\"aud\":\"urn:fhir\"}", NGX_OIDC_ERROR,
           "active is not a boolean");
    expect(&c, "{\"active\":1,\"aud\":\"urn:fhir\"}", NGX_OIDC_ERROR,
           "active is not a boolean");
    expect(&c, "{\"active\":null}", NGX_OIDC_ERROR,
           "active is not a boolean");

    /* duplicate names: which "active" would another parser read? */
    expect(&c, "{\"active\":false,\"aud\":\"urn:fhir\",\"active\":true}",
           NGX_OIDC_ERROR, NULL);
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"aud\":\"x\"}",
           NGX_OIDC_ERROR, NULL);

    /* the size cap */
    n = 4096;
    big = malloc(n + 64);
    assert_non_null(big);
    n = (size_t) snprintf(big, 64, "{\"active\":true,\"aud\":\"urn:fhir\","
                          "\"x\":\"");
    memset(big + n, 'a', 4096);
    n += 4096;
    memcpy(big + n, "\"}", 3);
    n += 2;

    j = NULL;
    memset(&err, 0, sizeof(ngx_oidc_err_t));
    assert_int_equal(ngx_oidc_introspection_check((unsigned char *) big, n,
                                                  n - 1, &c, &j, &err),
                     NGX_OIDC_ERROR);
    assert_null(j);
    assert_int_equal(ngx_oidc_introspection_check((unsigned char *) big, n,
                                                  n, &c, &j, &err),
                     NGX_OIDC_OK);
    json_decref(j);
    free(big);

    /* no issuer: a configuration bug, fail closed */
    c.issuer.len = 0;
    assert_int_equal(run(&c, "{\"active\":true}", &why, NULL),
                     NGX_OIDC_ERROR);
}


static void
test_times(void **state)
{
    ngx_oidc_claims_check_t  c;

    (void) state;

    c = check_default();

    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"exp\":1699999000}",
           NGX_OIDC_DECLINED, "token expired");
    /* within the leeway */
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"exp\":1699999990}",
           NGX_OIDC_OK, NULL);
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"exp\":\"1800000000\"}",
           NGX_OIDC_DECLINED, "bad claim type");
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"nbf\":1700000100}",
           NGX_OIDC_DECLINED, "token not yet valid");
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"iat\":1700000100}",
           NGX_OIDC_DECLINED, "iat in the future");

    /* exp absent: accepted unless the caller requires it */
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\"}", NGX_OIDC_OK, NULL);
    c.require_exp = 1;
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\"}", NGX_OIDC_DECLINED,
           "exp missing");

    c.max_age = 60;
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"exp\":1700000100,"
               "\"iat\":1699990000}", NGX_OIDC_DECLINED, "token too old");
}


static void
test_iss_aud(void **state)
{
    ngx_oidc_claims_check_t  c;

    (void) state;

    c = check_default();

    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\","
               "\"iss\":\"https://evil.example.com\"}",
           NGX_OIDC_DECLINED, "issuer mismatch");
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"iss\":\"" ISSUER "/\"}",
           NGX_OIDC_DECLINED, "issuer mismatch");
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"iss\":42}",
           NGX_OIDC_DECLINED, "bad claim type");
    c.iss_optional = 0;
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\"}", NGX_OIDC_DECLINED,
           "iss missing");

    c = check_default();

    expect(&c, "{\"active\":true,\"aud\":\"urn:other\"}", NGX_OIDC_DECLINED,
           "audience mismatch");
    expect(&c, "{\"active\":true,\"aud\":[\"urn:a\",\"urn:fhir\"]}",
           NGX_OIDC_OK, NULL);
    expect(&c, "{\"active\":true,\"aud\":[\"urn:a\",7]}", NGX_OIDC_DECLINED,
           "bad claim type");
    /* an audience is configured: the answer must name it */
    expect(&c, "{\"active\":true}", NGX_OIDC_DECLINED, "audience missing");
}


static void
test_token_type(void **state)
{
    ngx_oidc_claims_check_t  c;

    (void) state;

    c = check_default();

    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"token_type\":"
               "\"Bearer\"}", NGX_OIDC_OK, NULL);
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"token_type\":"
               "\"bearer\"}", NGX_OIDC_OK, NULL);
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"token_type\":"
               "\"access_token\"}", NGX_OIDC_OK, NULL);
    /* a refresh token sent as a Bearer token */
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"token_type\":"
               "\"refresh_token\"}", NGX_OIDC_DECLINED,
           "token_type is not an access token");
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"token_type\":"
               "\"Bearerx\"}", NGX_OIDC_DECLINED,
           "token_type is not an access token");
    expect(&c, "{\"active\":true,\"aud\":\"urn:fhir\",\"token_type\":1}",
           NGX_OIDC_DECLINED, "bad claim type");
}


/* base64url(header) "." base64url(payload) ".sig" */

static char *
jws(const char *header, const char *payload)
{
    char    *t;
    size_t   n;

    t = malloc(4096);
    assert_non_null(t);

    n = ngx_oidc_b64url_encode((unsigned char *) t,
                               (const unsigned char *) header,
                               strlen(header));
    t[n++] = '.';
    n += ngx_oidc_b64url_encode((unsigned char *) t + n,
                                (const unsigned char *) payload,
                                strlen(payload));
    memcpy(t + n, ".c2ln", 6);

    return t;
}


static void
test_is_jwt(void **state)
{
    char            *t;
    ngx_oidc_str_t   iss = ngx_oidc_string(ISSUER);

    (void) state;

    t = jws("{\"alg\":\"RS256\",\"kid\":\"k\"}", "{\"iss\":\"" ISSUER "\"}");
    assert_true(ngx_oidc_introspection_is_jwt((unsigned char *) t, strlen(t),
                                              16384, &iss));
    /* too large for the JWT path: introspected */
    assert_false(ngx_oidc_introspection_is_jwt((unsigned char *) t, strlen(t),
                                               16, &iss));
    free(t);

    /* another issuer's JWT (a provider's reference tokens may be JWTs) */
    t = jws("{\"alg\":\"RS256\"}", "{\"iss\":\"" ISSUER "/other\"}");
    assert_false(ngx_oidc_introspection_is_jwt((unsigned char *) t, strlen(t),
                                               16384, &iss));
    free(t);

    t = jws("{\"alg\":\"none\"}", "{\"iss\":\"" ISSUER "\"}");
    assert_false(ngx_oidc_introspection_is_jwt((unsigned char *) t, strlen(t),
                                               16384, &iss));
    free(t);

    t = jws("{\"alg\":\"RS256\"}", "{\"iss\":[\"" ISSUER "\"]}");
    assert_false(ngx_oidc_introspection_is_jwt((unsigned char *) t, strlen(t),
                                               16384, &iss));
    free(t);

    assert_false(ngx_oidc_introspection_is_jwt((unsigned char *)
                                               "2YotnFZFEjr1zCsicMWpAA", 22,
                                               16384, &iss));
    assert_false(ngx_oidc_introspection_is_jwt((unsigned char *) "a.b.c", 5,
                                               16384, &iss));
    assert_false(ngx_oidc_introspection_is_jwt((unsigned char *) "", 0,
                                               16384, &iss));
}


static void
test_unsupported(void **state)
{
    (void) state;

#define unsupported(s)                                                        \
    ngx_oidc_introspection_unsupported((const unsigned char *) s,           \
                                       sizeof(s) - 1, 1024)

    assert_true(unsupported("{\"error\":\"unsupported_token_type\"}"));
    assert_false(unsupported("{\"error\":\"invalid_client\"}"));
    assert_false(unsupported("{\"error\":\"unsupported_token_typex\"}"));
    assert_false(unsupported("{\"error\":[\"unsupported_token_type\"]}"));
    assert_false(unsupported("unsupported_token_type"));
    assert_false(unsupported("{\"error\":\"unsupported_token_type\","
                             "\"error\":\"x\"}"));
    assert_false(unsupported(""));

#undef unsupported
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_active),
        cmocka_unit_test(test_inactive),
        cmocka_unit_test(test_unusable),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_iss_aud),
        cmocka_unit_test(test_token_type),
        cmocka_unit_test(test_is_jwt),
        cmocka_unit_test(test_unsupported),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
