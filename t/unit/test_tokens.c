
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_tokens.h"


static int
check(const char *text, ngx_oidc_tokens_t *t, const char **reason)
{
    int              rc;
    json_t          *j;
    ngx_oidc_err_t   err;

    j = ngx_oidc_json_parse((const unsigned char *) text, strlen(text),
                            65536, &err);
    assert_non_null(j);

    err.reason = NULL;
    rc = ngx_oidc_tokens_parse(j, t, &err);
    *reason = err.reason;

    json_decref(j);

    return rc;
}


static void
refused(const char *text, const char *reason)
{
    const char         *why;
    ngx_oidc_tokens_t   t;

    assert_int_equal(check(text, &t, &why), NGX_OIDC_DECLINED);
    assert_non_null(why);
    assert_string_equal(why, reason);
}


static void
test_full(void **state)
{
    json_t             *j;
    ngx_oidc_err_t      err;
    ngx_oidc_tokens_t   t;
    const char         *text;

    (void) state;

    text = "{\"access_token\":\"at-1.x~y/z+=\",\"token_type\":\"Bearer\","
           "\"expires_in\":300,\"refresh_token\":\"rt\","
           "\"id_token\":\"a.b.c\",\"scope\":\"openid\"}";

    j = ngx_oidc_json_parse((const unsigned char *) text, strlen(text),
                            65536, &err);
    assert_non_null(j);
    assert_int_equal(ngx_oidc_tokens_parse(j, &t, &err), NGX_OIDC_OK);

    assert_int_equal(t.access_token.len, strlen("at-1.x~y/z+="));
    assert_memory_equal(t.access_token.data, "at-1.x~y/z+=",
                        t.access_token.len);
    assert_int_equal(t.refresh_token.len, 2);
    assert_memory_equal(t.refresh_token.data, "rt", 2);
    assert_int_equal(t.id_token.len, 5);
    assert_int_equal(t.expires_in, 300);

    json_decref(j);
}


static void
test_minimal(void **state)
{
    const char         *why;
    ngx_oidc_tokens_t   t;

    (void) state;

    assert_int_equal(check("{\"access_token\":\"x\"}", &t, &why),
                     NGX_OIDC_OK);
    assert_int_equal(t.access_token.len, 1);
    assert_int_equal(t.refresh_token.len, 0);
    assert_int_equal(t.id_token.len, 0);
    assert_int_equal(t.expires_in, 0);

    /* null members count as absent */
    assert_int_equal(check("{\"access_token\":\"x\",\"refresh_token\":null,"
                           "\"id_token\":null,\"expires_in\":null}",
                           &t, &why),
                     NGX_OIDC_OK);
    assert_int_equal(t.refresh_token.len, 0);

    /* a string of digits (Azure AD v1) */
    assert_int_equal(check("{\"access_token\":\"x\",\"expires_in\":\"3599\"}",
                           &t, &why),
                     NGX_OIDC_OK);
    assert_int_equal(t.expires_in, 3599);
}


static void
test_refused(void **state)
{
    char               *big;
    json_t             *a;
    const char         *why;
    ngx_oidc_err_t      err;
    ngx_oidc_tokens_t   t;

    (void) state;

    /* ngx_oidc_json_parse() gives objects only, but the check stands */
    a = json_array();
    assert_non_null(a);
    assert_int_equal(ngx_oidc_tokens_parse(a, &t, &err), NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, "not an object");
    json_decref(a);

    refused("{}", "access_token missing");
    refused("{\"access_token\":null}", "access_token missing");
    refused("{\"access_token\":1}", "invalid access_token");
    refused("{\"access_token\":\"\"}", "invalid access_token");
    refused("{\"access_token\":\"a b\"}", "invalid access_token");
    refused("{\"access_token\":\"a\\r\\nX: y\"}", "invalid access_token");
    refused("{\"access_token\":\"caf\\u00e9\"}", "invalid access_token");
    refused("{\"access_token\":\"a\",\"refresh_token\":\"\"}",
            "invalid refresh_token");
    refused("{\"access_token\":\"a\",\"refresh_token\":[\"x\"]}",
            "invalid refresh_token");
    refused("{\"access_token\":\"a\",\"refresh_token\":\"x\\ty\"}",
            "invalid refresh_token");
    refused("{\"access_token\":\"a\",\"id_token\":{}}", "invalid id_token");
    refused("{\"access_token\":\"a\",\"id_token\":\"\"}", "invalid id_token");
    refused("{\"access_token\":\"a\",\"expires_in\":0}", "invalid expires_in");
    refused("{\"access_token\":\"a\",\"expires_in\":-5}",
            "invalid expires_in");
    refused("{\"access_token\":\"a\",\"expires_in\":1.5}",
            "invalid expires_in");
    refused("{\"access_token\":\"a\",\"expires_in\":31536001}",
            "invalid expires_in");
    refused("{\"access_token\":\"a\",\"expires_in\":\"12a\"}",
            "invalid expires_in");
    refused("{\"access_token\":\"a\",\"expires_in\":\"\"}",
            "invalid expires_in");
    refused("{\"access_token\":\"a\",\"expires_in\":\"9999999999\"}",
            "invalid expires_in");
    refused("{\"access_token\":\"a\",\"expires_in\":true}",
            "invalid expires_in");

    /* the size cap, at and over */
    big = malloc(NGX_OIDC_TOKEN_MAX + 64);
    assert_non_null(big);

    memcpy(big, "{\"access_token\":\"", 17);
    memset(big + 17, 'a', NGX_OIDC_TOKEN_MAX + 1);
    memcpy(big + 17 + NGX_OIDC_TOKEN_MAX + 1, "\"}", 3);
    refused(big, "invalid access_token");

    memcpy(big + 17 + NGX_OIDC_TOKEN_MAX, "\"}", 3);
    assert_int_equal(check(big, &t, &why), NGX_OIDC_OK);
    assert_int_equal(t.access_token.len, NGX_OIDC_TOKEN_MAX);

    free(big);
}


static json_t *
parse(const char *text)
{
    json_t          *j;
    ngx_oidc_err_t   err;

    j = ngx_oidc_json_parse((const unsigned char *) text, strlen(text),
                            65536, &err);
    assert_non_null(j);

    return j;
}


/* a SMART launch context and Dintero's user_info are kept, tokens not */

static void
test_extras(void **state)
{
    json_t  *j, *x;

    (void) state;

    j = parse("{\"access_token\":\"at\",\"token_type\":\"Bearer\","
              "\"expires_in\":300,\"refresh_token\":\"rt\","
              "\"id_token\":\"a.b.c\",\"scope\":\"patient/*.rs\","
              "\"patient\":\"123\",\"need_patient_banner\":true,"
              "\"user_info\":{\"authority\":\"vipps\","
              "\"value\":{\"sub\":\"4711\"}}}");

    x = ngx_oidc_tokens_extras(j);
    assert_non_null(x);
    assert_int_equal(json_object_size(x), 4);
    assert_string_equal(json_string_value(json_object_get(x, "scope")),
                        "patient/*.rs");
    assert_string_equal(json_string_value(json_object_get(x, "patient")),
                        "123");
    assert_true(json_is_true(json_object_get(x, "need_patient_banner")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(x, "user_info"),
                                            "value"), "sub")), "4711");

    assert_null(json_object_get(x, "access_token"));
    assert_null(json_object_get(x, "refresh_token"));
    assert_null(json_object_get(x, "id_token"));
    assert_null(json_object_get(x, "token_type"));
    assert_null(json_object_get(x, "expires_in"));

    json_decref(x);
    json_decref(j);

    /* only tokens: nothing to keep */
    j = parse("{\"access_token\":\"at\",\"token_type\":\"Bearer\","
              "\"expires_in\":300}");
    assert_null(ngx_oidc_tokens_extras(j));
    json_decref(j);

    /* not an object */
    j = json_pack("[s]", "scope");
    assert_null(ngx_oidc_tokens_extras(j));
    json_decref(j);

    assert_null(ngx_oidc_tokens_extras(NULL));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_extras),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
