
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * ngx_oidc_claims_check_id_token() and
 * ngx_oidc_claims_check_logout_token(): one accepted token, then each
 * check broken alone.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_jose.h"
#include "ngx_oidc_claims.h"


/* OIDC Core 3.1.3.1 / Back-Channel Logout 2.4 example values */
#define ISSUER     "https://server.example.com"
#define CLIENT     "s6BhdRkqt3"
#define NONCE      "n-0S6_WzA2Mj"
#define NOW        1471566164
#define AT         "dNZX1hEZ9wBCzNL40Upu646bdzQA"
#define AT_HASH    "wfgvmE9VxjAudsl9lc6TqA"          /* RS256 of AT */
#define EVENT      "http://schemas.openid.net/event/backchannel-logout"


static void
set_str(ngx_oidc_str_t *s, const char *v)
{
    s->data = (unsigned char *) v;
    s->len = strlen(v);
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


static ngx_oidc_id_token_check_t
id_check(void)
{
    ngx_oidc_id_token_check_t  c;

    memset(&c, 0, sizeof(ngx_oidc_id_token_check_t));

    set_str(&c.issuer, ISSUER);
    set_str(&c.client_id, CLIENT);
    set_str(&c.nonce, NONCE);
    set_str(&c.access_token, AT);
    c.alg = NGX_OIDC_ALG_RS256;
    c.now = NOW;
    c.leeway = 30;
    c.max_age = 600;

    return c;
}


/* the reason "payload" is refused for, NULL when accepted */

static const char *
id_run(const ngx_oidc_id_token_check_t *c, const char *payload)
{
    int                    rc;
    json_t                *p;
    static ngx_oidc_err_t  err;

    p = parse(payload);
    memset(&err, 0, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_claims_check_id_token(p, c, &err);
    json_decref(p);

    if (rc == NGX_OIDC_OK) {
        return NULL;
    }

    assert_int_equal(rc, NGX_OIDC_DECLINED);
    assert_non_null(err.reason);
    assert_null(strpbrk(err.detail, "\n\r\t\x7f"));

    return err.reason;
}


static const char *
id(const char *payload)
{
    ngx_oidc_id_token_check_t  c;

    c = id_check();

    return id_run(&c, payload);
}


#define assert_id_ok(payload)  assert_null(id(payload))

#define assert_id_refused(payload, why)                                      \
    do {                                                                     \
        const char  *r_ = id(payload);                                       \
        assert_non_null(r_);                                                 \
        assert_string_equal(r_, why);                                        \
    } while (0)


#define ISS      "\"iss\":\"" ISSUER "\""
#define SUB      "\"sub\":\"248289761001\""
#define AUD      "\"aud\":\"" CLIENT "\""
#define NON      "\"nonce\":\"" NONCE "\""
#define EXP      "\"exp\":1471569754"
#define IAT      "\"iat\":1471566154"
#define ATH      "\"at_hash\":\"" AT_HASH "\""

#define ID_ALL   ISS "," SUB "," AUD "," NON "," EXP "," IAT


static void
test_id_valid(void **state)
{
    ngx_oidc_id_token_check_t  c;

    (void) state;

    assert_id_ok("{" ID_ALL "}");
    assert_id_ok("{" ID_ALL "," ATH ",\"auth_time\":1471566000}");
    assert_id_ok("{" ID_ALL ",\"azp\":\"" CLIENT "\"}");

    /* several audiences with azp = client_id */
    assert_id_ok("{" ISS "," SUB "," NON "," EXP "," IAT ","
                 "\"aud\":[\"" CLIENT "\",\"api\"],\"azp\":\"" CLIENT "\"}");

    /* one audience in an array needs no azp */
    assert_id_ok("{" ISS "," SUB "," NON "," EXP "," IAT ","
                 "\"aud\":[\"" CLIENT "\"]}");

    /* without an expected nonce (refresh), any or none is accepted */
    c = id_check();
    c.nonce.len = 0;
    assert_null(id_run(&c, "{" ISS "," SUB "," AUD "," EXP "," IAT "}"));
    assert_null(id_run(&c, "{" ISS "," SUB "," AUD "," EXP "," IAT ","
                           "\"nonce\":\"other\"}"));

    /* no max_age: an old iat is fine */
    c = id_check();
    c.max_age = 0;
    assert_null(id_run(&c, "{" ISS "," SUB "," AUD "," NON "," EXP ","
                           "\"iat\":1000}"));
}


static void
test_id_iss(void **state)
{
    (void) state;

    assert_id_refused("{" SUB "," AUD "," NON "," EXP "," IAT "}",
                      "iss missing");
    assert_id_refused("{\"iss\":\"https://server.example.com/\"," SUB ","
                      AUD "," NON "," EXP "," IAT "}",
                      "issuer mismatch");
    assert_id_refused("{\"iss\":\"https://SERVER.example.com\"," SUB ","
                      AUD "," NON "," EXP "," IAT "}",
                      "issuer mismatch");
    assert_id_refused("{\"iss\":[\"" ISSUER "\"]," SUB "," AUD "," NON ","
                      EXP "," IAT "}",
                      "bad claim type");
}


static void
test_id_aud(void **state)
{
    (void) state;

    assert_id_refused("{" ISS "," SUB "," NON "," EXP "," IAT "}",
                      "audience missing");
    assert_id_refused("{" ISS "," SUB ",\"aud\":\"other\"," NON "," EXP ","
                      IAT "}",
                      "audience mismatch");
    assert_id_refused("{" ISS "," SUB ",\"aud\":[\"a\",\"b\"],"
                      "\"azp\":\"" CLIENT "\"," NON "," EXP "," IAT "}",
                      "audience mismatch");
    assert_id_refused("{" ISS "," SUB ",\"aud\":[],\"azp\":\"" CLIENT "\","
                      NON "," EXP "," IAT "}",
                      "audience mismatch");
    assert_id_refused("{" ISS "," SUB ",\"aud\":[\"" CLIENT "\",1],"
                      NON "," EXP "," IAT "}",
                      "bad claim type");
    assert_id_refused("{" ISS "," SUB ",\"aud\":{}," NON "," EXP "," IAT "}",
                      "bad claim type");
}


static void
test_id_azp(void **state)
{
    (void) state;

    /* several audiences: azp required */
    assert_id_refused("{" ISS "," SUB "," NON "," EXP "," IAT ","
                      "\"aud\":[\"" CLIENT "\",\"api\"]}",
                      "azp missing");
    assert_id_refused("{" ISS "," SUB "," NON "," EXP "," IAT ","
                      "\"aud\":[\"" CLIENT "\",\"" CLIENT "\"]}",
                      "azp missing");

    /* present: must be client_id */
    assert_id_refused("{" ID_ALL ",\"azp\":\"api\"}", "azp mismatch");
    assert_id_refused("{" ISS "," SUB "," NON "," EXP "," IAT ","
                      "\"aud\":[\"" CLIENT "\",\"api\"],\"azp\":\"api\"}",
                      "azp mismatch");
    assert_id_refused("{" ID_ALL ",\"azp\":\"\"}", "azp mismatch");
    assert_id_refused("{" ID_ALL ",\"azp\":null}", "bad claim type");
}


static void
test_id_times(void **state)
{
    (void) state;

    /* iat */
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," EXP "}",
                      "iat missing");
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," EXP ","
                      "\"iat\":1471566195}",
                      "iat in the future");
    assert_id_ok("{" ISS "," SUB "," AUD "," NON "," EXP ","
                 "\"iat\":1471566194}");
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," EXP ","
                      "\"iat\":1471565533}",
                      "token too old");
    assert_id_ok("{" ISS "," SUB "," AUD "," NON "," EXP ","
                 "\"iat\":1471565534}");
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," EXP ","
                      "\"iat\":\"1471566154\"}",
                      "bad claim type");

    /* exp, with the 30 s leeway */
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," IAT "}",
                      "exp missing");
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," IAT ","
                      "\"exp\":1471566134}",
                      "token expired");
    assert_id_ok("{" ISS "," SUB "," AUD "," NON "," IAT ","
                 "\"exp\":1471566135}");
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," IAT ","
                      "\"exp\":true}",
                      "bad claim type");
    assert_id_refused("{" ISS "," SUB "," AUD "," NON "," IAT ","
                      "\"exp\":1e300}",
                      "bad claim value");

    /* nbf, when present */
    assert_id_refused("{" ID_ALL ",\"nbf\":1471566195}",
                      "token not yet valid");
    assert_id_ok("{" ID_ALL ",\"nbf\":1471566194}");
}


static void
test_id_sub(void **state)
{
    (void) state;

    assert_id_refused("{" ISS "," AUD "," NON "," EXP "," IAT "}",
                      "sub missing");
    assert_id_refused("{" ISS ",\"sub\":248289761001," AUD "," NON "," EXP
                      "," IAT "}",
                      "bad claim type");
    assert_id_refused("{" ISS ",\"sub\":\"\"," AUD "," NON "," EXP "," IAT
                      "}",
                      "bad claim value");
}


static void
test_id_nonce(void **state)
{
    (void) state;

    assert_id_refused("{" ISS "," SUB "," AUD "," EXP "," IAT "}",
                      "nonce missing");
    /* same length, last byte differs */
    assert_id_refused("{" ISS "," SUB "," AUD "," EXP "," IAT ","
                      "\"nonce\":\"n-0S6_WzA2Mk\"}",
                      "nonce mismatch");
    assert_id_refused("{" ISS "," SUB "," AUD "," EXP "," IAT ","
                      "\"nonce\":\"n-0S6_WzA2M\"}",
                      "nonce mismatch");
    assert_id_refused("{" ISS "," SUB "," AUD "," EXP "," IAT ","
                      "\"nonce\":\"n-0S6_WzA2Mj \"}",
                      "nonce mismatch");
    assert_id_refused("{" ISS "," SUB "," AUD "," EXP "," IAT ","
                      "\"nonce\":\"\"}",
                      "nonce mismatch");
    assert_id_refused("{" ISS "," SUB "," AUD "," EXP "," IAT ","
                      "\"nonce\":null}",
                      "bad claim type");
}


static void
test_id_at_hash(void **state)
{
    ngx_oidc_id_token_check_t  c;

    (void) state;

    assert_id_refused("{" ID_ALL ",\"at_hash\":\"wfgvmE9VxjAudsl9lc6TqB\"}",
                      "at_hash mismatch");
    assert_id_refused("{" ID_ALL ",\"at_hash\":\"\"}", "at_hash mismatch");
    assert_id_refused("{" ID_ALL ",\"at_hash\":1}", "bad claim type");

    /* another access token */
    c = id_check();
    set_str(&c.access_token, "dNZX1hEZ9wBCzNL40Upu646bdzQB");
    assert_string_equal(id_run(&c, "{" ID_ALL "," ATH "}"),
                        "at_hash mismatch");

    /* the alg's hash: RS384 takes SHA-384, EdDSA SHA-512 */
    c = id_check();
    c.alg = NGX_OIDC_ALG_RS384;
    assert_string_equal(id_run(&c, "{" ID_ALL "," ATH "}"),
                        "at_hash mismatch");
    c.alg = NGX_OIDC_ALG_EDDSA;
    set_str(&c.access_token, "jHkWEdUXMU1BwAsC4vtUsZwnNn");
    assert_null(id_run(&c, "{" ID_ALL ",\"at_hash\":"
                           "\"MmkzYOUtjDYXQqHFgX7fIVjPbu-ZKciehuH5S1Pac6U\"}"));

    /* no access token given: at_hash is not checked */
    c = id_check();
    c.access_token.len = 0;
    c.alg = 0;
    assert_null(id_run(&c, "{" ID_ALL ",\"at_hash\":\"garbage\"}"));
}


static void
test_id_misuse(void **state)
{
    json_t                     *p;
    ngx_oidc_err_t              err;
    ngx_oidc_id_token_check_t   c;

    (void) state;

    p = parse("{" ID_ALL "}");

    c = id_check();
    c.issuer.len = 0;
    assert_int_equal(ngx_oidc_claims_check_id_token(p, &c, &err),
                     NGX_OIDC_ERROR);

    c = id_check();
    c.client_id.len = 0;
    assert_int_equal(ngx_oidc_claims_check_id_token(p, &c, &err),
                     NGX_OIDC_ERROR);

    /* at_hash cannot be checked without the alg */
    c = id_check();
    c.alg = 0;
    assert_int_equal(ngx_oidc_claims_check_id_token(p, &c, &err),
                     NGX_OIDC_ERROR);

    assert_int_equal(ngx_oidc_claims_check_id_token(p, NULL, &err),
                     NGX_OIDC_ERROR);

    json_decref(p);

    c = id_check();
    assert_int_equal(ngx_oidc_claims_check_id_token(NULL, &c, &err),
                     NGX_OIDC_DECLINED);
}


static ngx_oidc_logout_token_check_t
lo_check(void)
{
    ngx_oidc_logout_token_check_t  c;

    memset(&c, 0, sizeof(ngx_oidc_logout_token_check_t));

    set_str(&c.issuer, ISSUER);
    set_str(&c.client_id, CLIENT);
    c.now = NOW;
    c.leeway = 30;
    c.max_age = 120;

    return c;
}


static const char *
lo(const char *payload)
{
    int                            rc;
    json_t                        *p;
    static ngx_oidc_err_t          err;
    ngx_oidc_logout_token_check_t  c;

    c = lo_check();
    p = parse(payload);
    memset(&err, 0, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_claims_check_logout_token(p, &c, &err);
    json_decref(p);

    if (rc == NGX_OIDC_OK) {
        return NULL;
    }

    assert_int_equal(rc, NGX_OIDC_DECLINED);
    assert_non_null(err.reason);

    return err.reason;
}


#define assert_lo_ok(payload)  assert_null(lo(payload))

#define assert_lo_refused(payload, why)                                      \
    do {                                                                     \
        const char  *r_ = lo(payload);                                       \
        assert_non_null(r_);                                                 \
        assert_string_equal(r_, why);                                        \
    } while (0)


#define JTI      "\"jti\":\"bWJq\""
#define SID      "\"sid\":\"08a5019c-17e1-4977-8f42-65a12843ea02\""
#define EVENTS   "\"events\":{\"" EVENT "\":{}}"

#define LO_ALL   ISS "," SUB "," AUD "," IAT "," JTI "," SID "," EVENTS


static void
test_logout_valid(void **state)
{
    (void) state;

    /* Back-Channel Logout 1.0 2.4's example */
    assert_lo_ok("{" LO_ALL "}");

    /* sid or sub alone; exp when present and valid; other events */
    assert_lo_ok("{" ISS "," AUD "," IAT "," JTI "," SID "," EVENTS "}");
    assert_lo_ok("{" ISS "," AUD "," IAT "," JTI "," SUB "," EVENTS "}");
    assert_lo_ok("{" LO_ALL ",\"exp\":1471566274}");
    assert_lo_ok("{" ISS "," SUB "," AUD "," IAT "," JTI ","
                 "\"events\":{\"" EVENT "\":{\"x\":1},\"urn:other\":1}}");
    assert_lo_ok("{" ISS "," SUB ",\"aud\":[\"x\",\"" CLIENT "\"]," IAT ","
                 JTI "," EVENTS "}");
}


static void
test_logout_iss_aud(void **state)
{
    (void) state;

    assert_lo_refused("{" SUB "," AUD "," IAT "," JTI "," EVENTS "}",
                      "iss missing");
    assert_lo_refused("{\"iss\":\"https://evil\"," SUB "," AUD "," IAT ","
                      JTI "," EVENTS "}",
                      "issuer mismatch");
    assert_lo_refused("{" ISS "," SUB "," IAT "," JTI "," EVENTS "}",
                      "audience missing");
    assert_lo_refused("{" ISS "," SUB ",\"aud\":\"other\"," IAT "," JTI ","
                      EVENTS "}",
                      "audience mismatch");
}


static void
test_logout_times(void **state)
{
    (void) state;

    assert_lo_refused("{" ISS "," SUB "," AUD "," JTI "," EVENTS "}",
                      "iat missing");
    assert_lo_refused("{" ISS "," SUB "," AUD ",\"iat\":1471566195," JTI ","
                      EVENTS "}",
                      "iat in the future");
    /* older than max_age 120 + leeway 30 */
    assert_lo_refused("{" ISS "," SUB "," AUD ",\"iat\":1471566013," JTI ","
                      EVENTS "}",
                      "token too old");
    assert_lo_ok("{" ISS "," SUB "," AUD ",\"iat\":1471566014," JTI ","
                 EVENTS "}");
    assert_lo_refused("{" LO_ALL ",\"exp\":1471566134}", "token expired");
    assert_lo_refused("{" LO_ALL ",\"exp\":\"x\"}", "bad claim type");
    assert_lo_refused("{" LO_ALL ",\"nbf\":1471566200}",
                      "token not yet valid");
}


static void
test_logout_jti(void **state)
{
    (void) state;

    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT "," EVENTS "}",
                      "jti missing");
    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT ",\"jti\":1,"
                      EVENTS "}",
                      "bad claim type");
    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT ",\"jti\":\"\","
                      EVENTS "}",
                      "bad claim value");
}


static void
test_logout_events(void **state)
{
    (void) state;

    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT "," JTI "}",
                      "events missing");
    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT "," JTI ","
                      "\"events\":[\"" EVENT "\"]}",
                      "bad claim type");
    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT "," JTI ","
                      "\"events\":{}}",
                      "backchannel logout event missing");
    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT "," JTI ","
                      "\"events\":{\"http://schemas.openid.net/event/"
                      "backchannel-logout/\":{}}}",
                      "backchannel logout event missing");
    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT "," JTI ","
                      "\"events\":{\"" EVENT "\":true}}",
                      "bad claim type");
    assert_lo_refused("{" ISS "," SUB "," AUD "," IAT "," JTI ","
                      "\"events\":{\"" EVENT "\":[]}}",
                      "bad claim type");
}


static void
test_logout_subject(void **state)
{
    (void) state;

    assert_lo_refused("{" ISS "," AUD "," IAT "," JTI "," EVENTS "}",
                      "sid and sub missing");
    assert_lo_refused("{" ISS "," AUD "," IAT "," JTI "," EVENTS ","
                      "\"sub\":1}",
                      "bad claim type");
    assert_lo_refused("{" ISS "," AUD "," IAT "," JTI "," EVENTS ","
                      "\"sid\":\"\"," SUB "}",
                      "bad claim value");
}


static void
test_logout_nonce(void **state)
{
    (void) state;

    /* 2.4: a nonce is forbidden, so an ID token never passes */
    assert_lo_refused("{" LO_ALL "," NON "}", "nonce present");
    assert_lo_refused("{" LO_ALL ",\"nonce\":null}", "nonce present");

    /* an ID token lacks events and jti */
    assert_lo_refused("{" ID_ALL "}", "jti missing");
    assert_lo_refused("{" ID_ALL "," JTI "}", "events missing");
}


static void
test_logout_misuse(void **state)
{
    json_t                         *p;
    ngx_oidc_err_t                  err;
    ngx_oidc_logout_token_check_t   c;

    (void) state;

    p = parse("{" LO_ALL "}");

    c = lo_check();
    c.issuer.len = 0;
    assert_int_equal(ngx_oidc_claims_check_logout_token(p, &c, &err),
                     NGX_OIDC_ERROR);

    c = lo_check();
    c.client_id.data = NULL;
    assert_int_equal(ngx_oidc_claims_check_logout_token(p, &c, &err),
                     NGX_OIDC_ERROR);

    assert_int_equal(ngx_oidc_claims_check_logout_token(p, NULL, &err),
                     NGX_OIDC_ERROR);

    json_decref(p);

    p = json_array();
    c = lo_check();
    assert_int_equal(ngx_oidc_claims_check_logout_token(p, &c, &err),
                     NGX_OIDC_DECLINED);
    json_decref(p);
}


static const char *
lo_typ(const char *header)
{
    int                    rc;
    json_t                *h;
    static ngx_oidc_err_t  err;

    h = parse(header);
    memset(&err, 0, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_claims_check_logout_typ(h, &err);
    json_decref(h);

    if (rc == NGX_OIDC_OK) {
        return NULL;
    }

    assert_int_equal(rc, NGX_OIDC_DECLINED);
    assert_non_null(err.reason);

    return err.reason;
}


static void
test_logout_typ(void **state)
{
    (void) state;

    /* absent, or the media type with or without "application/" */
    assert_null(lo_typ("{\"alg\":\"RS256\"}"));
    assert_null(lo_typ("{\"alg\":\"RS256\",\"typ\":\"logout+jwt\"}"));
    assert_null(lo_typ("{\"typ\":\"application/logout+jwt\"}"));
    assert_null(lo_typ("{\"typ\":\"Logout+JWT\"}"));

    /* an ID token, an access token, a plain JWT: never a logout token */
    assert_string_equal(lo_typ("{\"typ\":\"JWT\"}"),
                        "typ is not logout+jwt");
    assert_string_equal(lo_typ("{\"typ\":\"at+jwt\"}"),
                        "typ is not logout+jwt");
    assert_string_equal(lo_typ("{\"typ\":\"logout+jwtx\"}"),
                        "typ is not logout+jwt");
    assert_string_equal(lo_typ("{\"typ\":\"\"}"),
                        "typ is not logout+jwt");
    assert_string_equal(lo_typ("{\"typ\":1}"), "bad claim type");
    assert_string_equal(lo_typ("{\"typ\":null}"), "bad claim type");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_id_iss),
        cmocka_unit_test(test_id_aud),
        cmocka_unit_test(test_id_azp),
        cmocka_unit_test(test_id_times),
        cmocka_unit_test(test_id_sub),
        cmocka_unit_test(test_id_nonce),
        cmocka_unit_test(test_id_at_hash),
        cmocka_unit_test(test_id_misuse),
        cmocka_unit_test(test_logout_valid),
        cmocka_unit_test(test_logout_iss_aud),
        cmocka_unit_test(test_logout_times),
        cmocka_unit_test(test_logout_jti),
        cmocka_unit_test(test_logout_events),
        cmocka_unit_test(test_logout_subject),
        cmocka_unit_test(test_logout_nonce),
        cmocka_unit_test(test_logout_misuse),
        cmocka_unit_test(test_logout_typ),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
