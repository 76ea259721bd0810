
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_claims.h"


#define NOW     1700000000
#define ISSUER  "https://idp.example.com/"


static const ngx_oidc_str_t  audiences[] = {
    ngx_oidc_string("api://orders"),
    ngx_oidc_string("api://billing"),
};


static ngx_oidc_claims_check_t
check_default(void)
{
    ngx_oidc_claims_check_t  c;

    memset(&c, 0, sizeof(ngx_oidc_claims_check_t));

    c.issuer.data = (unsigned char *) ISSUER;
    c.issuer.len = sizeof(ISSUER) - 1;
    c.audiences = audiences;
    c.naudiences = 2;
    c.now = NOW;
    c.leeway = 60;
    c.require_exp = 1;

    return c;
}


static json_t *
parse(const char *s)
{
    json_t          *j;
    ngx_oidc_err_t   err;

    j = ngx_oidc_json_parse((const unsigned char *) s, strlen(s), 65536,
                            &err);
    assert_non_null(j);

    return j;
}


/*
 * Runs the check on "payload" JSON text with "header" JSON text (NULL:
 * {"alg":"RS256"}) and returns the reason, NULL when accepted.
 */

static const char *
run(const ngx_oidc_claims_check_t *c, const char *header,
    const char *payload, ngx_oidc_err_t *err)
{
    int      rc;
    json_t  *h, *p;

    h = parse(header ? header : "{\"alg\":\"RS256\"}");
    p = parse(payload);

    memset(err, 0, sizeof(ngx_oidc_err_t));
    rc = ngx_oidc_claims_check_access(h, p, c, err);

    json_decref(h);
    json_decref(p);

    if (rc == NGX_OIDC_OK) {
        return NULL;
    }

    assert_int_equal(rc, NGX_OIDC_DECLINED);
    assert_non_null(err->reason);

    /* err->detail is always printable */
    assert_true(strlen(err->detail) < sizeof(err->detail));
    assert_null(strpbrk(err->detail, "\n\r\t\x7f"));

    return err->reason;
}


static const char *
run_payload(const char *payload)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    c = check_default();

    return run(&c, NULL, payload, &err);
}


#define assert_accepted(payload)                                             \
    assert_null(run_payload(payload))

#define assert_reason(payload, reason)                                       \
    do {                                                                     \
        const char  *r_ = run_payload(payload);                              \
        assert_non_null(r_);                                                 \
        assert_string_equal(r_, reason);                                     \
    } while (0)


#define ISS     "\"iss\":\"" ISSUER "\""
#define AUD     "\"aud\":\"api://orders\""
#define EXP     "\"exp\":1700003600"


static void
test_valid(void **state)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    (void) state;

    assert_accepted("{" ISS "," AUD "," EXP "}");
    assert_accepted("{" ISS "," AUD "," EXP ",\"nbf\":1699999000,"
                    "\"iat\":1699999000,\"sub\":\"u\",\"jti\":\"x\"}");

    /* the second configured audience */
    assert_accepted("{" ISS ",\"aud\":\"api://billing\"," EXP "}");

    /* exp as a real */
    assert_accepted("{" ISS "," AUD ",\"exp\":1700003600.5}");

    /* no audience configured: aud is optional */
    c = check_default();
    c.naudiences = 0;
    c.audiences = NULL;
    assert_null(run(&c, NULL, "{" ISS "," EXP "}", &err));
    assert_null(run(&c, NULL, "{" ISS ",\"aud\":\"any\"," EXP "}", &err));
    assert_null(run(&c, NULL, "{" ISS ",\"aud\":[]," EXP "}", &err));
}


static void
test_iss(void **state)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    (void) state;

    assert_reason("{" AUD "," EXP "}", "iss missing");
    assert_reason("{\"iss\":\"https://evil.example.com/\"," AUD "," EXP "}",
                  "issuer mismatch");

    /* exact: no trailing-slash, case or prefix leniency */
    assert_reason("{\"iss\":\"https://idp.example.com\"," AUD "," EXP "}",
                  "issuer mismatch");
    assert_reason("{\"iss\":\"HTTPS://IDP.EXAMPLE.COM/\"," AUD "," EXP "}",
                  "issuer mismatch");
    assert_reason("{\"iss\":\"https://idp.example.com/x\"," AUD "," EXP "}",
                  "issuer mismatch");
    assert_reason("{\"iss\":\"\"," AUD "," EXP "}", "issuer mismatch");

    assert_reason("{\"iss\":true," AUD "," EXP "}", "bad claim type");
    assert_reason("{\"iss\":[\"" ISSUER "\"]," AUD "," EXP "}",
                  "bad claim type");
    assert_reason("{\"iss\":null," AUD "," EXP "}", "bad claim type");

    /* the detail quotes a short, printable prefix of a long issuer */
    c = check_default();
    assert_string_equal(run(&c, NULL,
                            "{\"iss\":\"https://evil.example.com/\\n"
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                            AUD "," EXP "}", &err),
                        "issuer mismatch");
    assert_string_equal(err.detail,
                        "\"https://evil.example.com/?"
                        "aaaaaaaaaaaaaaaaaaaaaa...\"");

    assert_string_equal(run(&c, NULL,
                            "{\"iss\":\"x\\\"y\\u00e9\"," AUD "," EXP "}",
                            &err),
                        "issuer mismatch");
    assert_string_equal(err.detail, "\"x?y??\"");
}


static void
test_aud(void **state)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    (void) state;

    assert_reason("{" ISS "," EXP "}", "audience missing");
    assert_reason("{" ISS ",\"aud\":\"api://other\"," EXP "}",
                  "audience mismatch");
    assert_reason("{" ISS ",\"aud\":\"api://orders/\"," EXP "}",
                  "audience mismatch");
    assert_reason("{" ISS ",\"aud\":\"\"," EXP "}", "audience mismatch");

    /* arrays */
    assert_accepted("{" ISS ",\"aud\":[\"x\",\"api://orders\"]," EXP "}");
    assert_accepted("{" ISS ",\"aud\":[\"api://billing\"]," EXP "}");
    assert_reason("{" ISS ",\"aud\":[\"x\",\"y\"]," EXP "}",
                  "audience mismatch");
    assert_reason("{" ISS ",\"aud\":[]," EXP "}", "audience mismatch");

    /* wrong types, also inside an array that would match */
    assert_reason("{" ISS ",\"aud\":true," EXP "}", "bad claim type");
    assert_reason("{" ISS ",\"aud\":false," EXP "}", "bad claim type");
    assert_reason("{" ISS ",\"aud\":1," EXP "}", "bad claim type");
    assert_reason("{" ISS ",\"aud\":null," EXP "}", "bad claim type");
    assert_reason("{" ISS ",\"aud\":{\"api://orders\":1}," EXP "}",
                  "bad claim type");
    assert_reason("{" ISS ",\"aud\":[\"api://orders\",1]," EXP "}",
                  "bad claim type");
    assert_reason("{" ISS ",\"aud\":[[\"api://orders\"]]," EXP "}",
                  "bad claim type");

    /* the type is checked even when no audience is configured */
    c = check_default();
    c.naudiences = 0;
    assert_string_equal(run(&c, NULL, "{" ISS ",\"aud\":true," EXP "}",
                            &err),
                        "bad claim type");
}


static void
test_exp(void **state)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    (void) state;

    assert_reason("{" ISS "," AUD ",\"exp\":1600000000}", "token expired");

    /* leeway 60: valid while now < exp + 60 */
    assert_accepted("{" ISS "," AUD ",\"exp\":1699999941}");
    assert_reason("{" ISS "," AUD ",\"exp\":1699999940}", "token expired");

    /* a fraction is dropped, so a real exp never lasts longer */
    assert_reason("{" ISS "," AUD ",\"exp\":1699999940.9}", "token expired");

    c = check_default();
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1699999000}",
                            &err),
                        "token expired");
    assert_string_equal(err.detail,
                        "exp 1699999000, now 1700000000, leeway 60");

    /* no leeway: expired at exp itself */
    c.leeway = 0;
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1700000000}",
                            &err),
                        "token expired");
    assert_null(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1700000001}", &err));

    /* a negative leeway counts as 0 */
    c.leeway = -1000;
    assert_null(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1700000001}", &err));
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1700000000}",
                            &err),
                        "token expired");

    /* required or not */
    assert_reason("{" ISS "," AUD "}", "exp missing");
    c = check_default();
    c.require_exp = 0;
    assert_null(run(&c, NULL, "{" ISS "," AUD "}", &err));
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1}", &err),
                        "token expired");

    /* wrong types */
    assert_reason("{" ISS "," AUD ",\"exp\":\"1700003600\"}",
                  "bad claim type");
    assert_reason("{" ISS "," AUD ",\"exp\":true}", "bad claim type");
    assert_reason("{" ISS "," AUD ",\"exp\":null}", "bad claim type");
    assert_reason("{" ISS "," AUD ",\"exp\":[1700003600]}", "bad claim type");
}


/* no overflow anywhere: huge claims, leeway, max_age and now */

static void
test_time_extremes(void **state)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    (void) state;

    assert_reason("{" ISS "," AUD ",\"exp\":9223372036854775807}",
                  "bad claim value");
    assert_reason("{" ISS "," AUD ",\"exp\":-9223372036854775808}",
                  "bad claim value");
    assert_reason("{" ISS "," AUD ",\"exp\":1e300}", "bad claim value");
    assert_reason("{" ISS "," AUD "," EXP ",\"nbf\":-1e300}",
                  "bad claim value");
    assert_reason("{" ISS "," AUD "," EXP ",\"iat\":9223372036854775807}",
                  "bad claim value");

    /* the largest allowed exp is just far in the future */
    assert_accepted("{" ISS "," AUD ",\"exp\":1000000000000000}");
    assert_reason("{" ISS "," AUD ",\"exp\":-1000000000000000}",
                  "token expired");

    c = check_default();
    c.leeway = (time_t) LLONG_MAX;
    assert_null(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1,\"nbf\":1e15,"
                    "\"iat\":1e15}", &err));

    c = check_default();
    c.max_age = (time_t) LLONG_MAX;
    assert_null(run(&c, NULL, "{" ISS "," AUD "," EXP ",\"iat\":-1e15}",
                    &err));

    c = check_default();
    c.now = (time_t) LLONG_MAX;
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD ",\"exp\":1e15}", &err),
                        "token expired");

    c = check_default();
    c.now = (time_t) LLONG_MIN;
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD "," EXP
                            ",\"nbf\":-1e15}", &err),
                        "token not yet valid");
}


static void
test_nbf(void **state)
{
    (void) state;

    assert_reason("{" ISS "," AUD "," EXP ",\"nbf\":1700001000}",
                  "token not yet valid");

    /* leeway 60: valid from nbf - 60 */
    assert_accepted("{" ISS "," AUD "," EXP ",\"nbf\":1700000060}");
    assert_reason("{" ISS "," AUD "," EXP ",\"nbf\":1700000061}",
                  "token not yet valid");
    assert_accepted("{" ISS "," AUD "," EXP ",\"nbf\":1700000000}");
    assert_accepted("{" ISS "," AUD "," EXP ",\"nbf\":0}");

    assert_reason("{" ISS "," AUD "," EXP ",\"nbf\":\"0\"}",
                  "bad claim type");
    assert_reason("{" ISS "," AUD "," EXP ",\"nbf\":false}",
                  "bad claim type");
}


static void
test_iat(void **state)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    (void) state;

    assert_reason("{" ISS "," AUD "," EXP ",\"iat\":1700001000}",
                  "iat in the future");
    assert_accepted("{" ISS "," AUD "," EXP ",\"iat\":1700000060}");
    assert_reason("{" ISS "," AUD "," EXP ",\"iat\":1700000061}",
                  "iat in the future");

    /* without max_age any past iat will do */
    assert_accepted("{" ISS "," AUD "," EXP ",\"iat\":1}");

    assert_reason("{" ISS "," AUD "," EXP ",\"iat\":\"1\"}",
                  "bad claim type");
    assert_reason("{" ISS "," AUD "," EXP ",\"iat\":true}",
                  "bad claim type");

    /* max_age 3600 with leeway 60: iat >= now - 3660 */
    c = check_default();
    c.max_age = 3600;

    assert_null(run(&c, NULL, "{" ISS "," AUD "," EXP ",\"iat\":1699996340}",
                    &err));
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD "," EXP
                            ",\"iat\":1699996339}", &err),
                        "token too old");
    assert_string_equal(err.detail, "iat 1699996339, now 1700000000, "
                        "max_age 3600, leeway 60");
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD "," EXP
                            ",\"iat\":1600000000}", &err),
                        "token too old");
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD "," EXP
                            ",\"iat\":1700001000}", &err),
                        "iat in the future");

    /* an age limit needs iat */
    assert_string_equal(run(&c, NULL, "{" ISS "," AUD "," EXP "}", &err),
                        "iat missing");
}


static void
test_typ(void **state)
{
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  c;

    (void) state;

    c = check_default();
    c.require_typ_at_jwt = 1;

#define P  "{" ISS "," AUD "," EXP "}"

    assert_null(run(&c, "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", P, &err));
    assert_null(run(&c, "{\"alg\":\"RS256\",\"typ\":\"at+JWT\"}", P, &err));
    assert_null(run(&c, "{\"alg\":\"RS256\",\"typ\":\"application/at+jwt\"}",
                    P, &err));
    assert_null(run(&c, "{\"alg\":\"RS256\",\"typ\":\"Application/AT+JWT\"}",
                    P, &err));

    assert_string_equal(run(&c, "{\"alg\":\"RS256\"}", P, &err),
                        "typ is not at+jwt");
    assert_string_equal(run(&c, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", P,
                            &err),
                        "typ is not at+jwt");
    assert_string_equal(err.detail, "\"JWT\"");
    assert_string_equal(run(&c, "{\"typ\":\"at+jwt \"}", P, &err),
                        "typ is not at+jwt");
    assert_string_equal(run(&c, "{\"typ\":\"application/jwt\"}", P, &err),
                        "typ is not at+jwt");
    assert_string_equal(run(&c, "{\"typ\":\"x-application/at+jwt\"}", P,
                            &err),
                        "typ is not at+jwt");
    assert_string_equal(run(&c, "{\"typ\":\"at+jw\"}", P, &err),
                        "typ is not at+jwt");
    assert_string_equal(run(&c, "{\"typ\":true}", P, &err),
                        "bad claim type");
    assert_string_equal(run(&c, "{\"typ\":[\"at+jwt\"]}", P, &err),
                        "bad claim type");

    /* not required: any typ */
    c.require_typ_at_jwt = 0;
    assert_null(run(&c, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", P, &err));

#undef P
}


static void
test_misuse(void **state)
{
    json_t                   *h, *p;
    ngx_oidc_err_t            err;
    ngx_oidc_claims_check_t   c;

    (void) state;

    h = parse("{\"alg\":\"RS256\"}");
    p = parse("{" ISS "," AUD "," EXP "}");

    c = check_default();
    assert_int_equal(ngx_oidc_claims_check_access(h, p, &c, &err),
                     NGX_OIDC_OK);

    /* no issuer configured: an internal error, never an acceptance */
    c.issuer.len = 0;
    assert_int_equal(ngx_oidc_claims_check_access(h, p, &c, &err),
                     NGX_OIDC_ERROR);
    assert_int_equal(ngx_oidc_claims_check_access(h, p, NULL, &err),
                     NGX_OIDC_ERROR);

    c = check_default();
    json_decref(p);
    p = json_array();
    assert_int_equal(ngx_oidc_claims_check_access(h, p, &c, &err),
                     NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, "bad claim type");
    assert_int_equal(ngx_oidc_claims_check_access(h, NULL, &c, &err),
                     NGX_OIDC_DECLINED);

    /* err may be NULL */
    assert_int_equal(ngx_oidc_claims_check_access(h, p, &c, NULL),
                     NGX_OIDC_DECLINED);

    json_decref(h);
    json_decref(p);
}


static int
has_scope(const char *payload, const char *scope)
{
    int      r;
    json_t  *p;

    p = parse(payload);
    r = ngx_oidc_claims_has_scope(p, (const unsigned char *) scope,
                                  strlen(scope));
    json_decref(p);

    return r;
}


static void
test_scope_string(void **state)
{
    const char  *p = "{\"scope\":\"openid api:readwrite xapi:read"
                     " api:write\"}";

    (void) state;

    assert_true(has_scope(p, "openid"));
    assert_true(has_scope(p, "api:write"));
    assert_true(has_scope(p, "api:readwrite"));
    assert_true(has_scope(p, "xapi:read"));

    /* whole words only */
    assert_false(has_scope(p, "api:read"));
    assert_false(has_scope(p, "api"));
    assert_false(has_scope(p, "open"));
    assert_false(has_scope(p, "write"));
    assert_false(has_scope(p, "API:WRITE"));

    assert_true(has_scope("{\"scope\":\"api:read\"}", "api:read"));
    assert_false(has_scope("{\"scope\":\"api:readwrite\"}", "api:read"));
    assert_false(has_scope("{\"scope\":\"xapi:read\"}", "api:read"));
    assert_false(has_scope("{\"scope\":\"api:rea\"}", "api:read"));
    assert_true(has_scope("{\"scope\":\"  a   api:read  \"}", "api:read"));
    assert_false(has_scope("{\"scope\":\"a\\tapi:read\"}", "api:read"));
    assert_false(has_scope("{\"scope\":\"\"}", "api:read"));

    /* empty and multi-word requests, absent and mistyped claims */
    assert_false(has_scope(p, ""));
    assert_false(has_scope(p, "openid api:write"));
    assert_false(has_scope("{\"sub\":\"x\"}", "openid"));
    assert_false(has_scope("{\"scope\":true}", "true"));
    assert_false(has_scope("{\"scope\":[\"api:read\"]}", "api:read"));
    assert_false(ngx_oidc_claims_has_scope(NULL,
                                           (const unsigned char *) "a", 1));
}


static void
test_scope_scp(void **state)
{
    const char  *p = "{\"scp\":[\"api:readwrite\",\"xapi:read\",\"api:x\"]}";

    (void) state;

    assert_true(has_scope(p, "api:readwrite"));
    assert_true(has_scope(p, "api:x"));
    assert_false(has_scope(p, "api:read"));
    assert_false(has_scope(p, "api"));

    assert_true(has_scope("{\"scp\":[1,\"api:read\"]}", "api:read"));
    assert_false(has_scope("{\"scp\":[\"api:read write\"]}", "api:read"));
    assert_false(has_scope("{\"scp\":[]}", "api:read"));

    /* Azure AD: a space-separated string */
    assert_true(has_scope("{\"scp\":\"User.Read api:read\"}", "api:read"));
    assert_true(has_scope("{\"scp\":\"User.Read api:read\"}", "User.Read"));
    assert_false(has_scope("{\"scp\":\"api:readwrite\"}", "api:read"));
    assert_false(has_scope("{\"scp\":\"xapi:read\"}", "api:read"));

    /* either claim may grant it */
    assert_true(has_scope("{\"scope\":\"openid\",\"scp\":[\"api:read\"]}",
                          "api:read"));
    assert_true(has_scope("{\"scope\":\"api:read\",\"scp\":[\"x\"]}",
                          "api:read"));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_iss),
        cmocka_unit_test(test_aud),
        cmocka_unit_test(test_exp),
        cmocka_unit_test(test_time_extremes),
        cmocka_unit_test(test_nbf),
        cmocka_unit_test(test_iat),
        cmocka_unit_test(test_typ),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_scope_string),
        cmocka_unit_test(test_scope_scp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
