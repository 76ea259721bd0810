
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
#include "ngx_oidc_record.h"


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


#define assert_str(s, v)                                                     \
    do {                                                                     \
        assert_int_equal((s).len, strlen(v));                                \
        assert_memory_equal((s).data, v, strlen(v));                         \
    } while (0)


static ngx_oidc_login_t
login_default(void)
{
    ngx_oidc_login_t  l;

    memset(&l, 0, sizeof(ngx_oidc_login_t));

    set_str(&l.state, "st4te");
    set_str(&l.nonce, "n0nce");
    set_str(&l.code_verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    set_str(&l.return_to, "/app?x=1");
    l.created = 1700000000;

    return l;
}


/* encodes, returns the reason or NULL; *out NUL-terminated on success */

static const char *
login_encode(const ngx_oidc_login_t *l, char **out)
{
    int             rc;
    size_t          len;
    unsigned char  *buf;
    ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));
    buf = NULL;

    rc = ngx_oidc_login_encode(l, &buf, &len, &err);

    if (rc != NGX_OIDC_OK) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
        assert_null(buf);
        return err.reason;
    }

    *out = malloc(len + 1);
    assert_non_null(*out);
    memcpy(*out, buf, len);
    (*out)[len] = '\0';
    free(buf);

    return NULL;
}


static const char *
login_decode(const char *text, ngx_oidc_login_t *l)
{
    int             rc;
    ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_login_decode((const unsigned char *) text, strlen(text), l,
                               &err);

    if (rc != NGX_OIDC_OK) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
        assert_null(l->root);
        return err.reason;
    }

    assert_non_null(l->root);

    return NULL;
}


static void
test_login_roundtrip(void **state)
{
    char              *text;
    ngx_oidc_login_t   l, d;

    (void) state;

    l = login_default();

    assert_null(login_encode(&l, &text));
    assert_string_equal(text, "{\"v\":1,\"state\":\"st4te\","
                              "\"nonce\":\"n0nce\",\"code_verifier\":"
                              "\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\","
                              "\"return_to\":\"/app?x=1\","
                              "\"created\":1700000000}");

    assert_null(login_decode(text, &d));
    assert_str(d.state, "st4te");
    assert_str(d.nonce, "n0nce");
    assert_str(d.code_verifier,
               "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_str(d.return_to, "/app?x=1");
    assert_int_equal(d.created, 1700000000);

    ngx_oidc_login_free(&d);
    assert_null(d.root);
    ngx_oidc_login_free(&d);
    free(text);

    /* an empty return_to is kept as "" */
    l.return_to.len = 0;
    l.created = 0;
    assert_null(login_encode(&l, &text));
    assert_non_null(strstr(text, "\"return_to\":\"\""));
    assert_null(login_decode(text, &d));
    assert_int_equal(d.return_to.len, 0);
    assert_int_equal(d.created, 0);
    ngx_oidc_login_free(&d);
    free(text);

    /* strings are JSON-escaped and come back byte for byte */
    set_str(&l.return_to, "/a\"b\\c/\xc3\xa9\x01");
    assert_null(login_encode(&l, &text));
    assert_null(login_decode(text, &d));
    assert_str(d.return_to, "/a\"b\\c/\xc3\xa9\x01");
    ngx_oidc_login_free(&d);
    free(text);
}


static void
test_login_encode_refused(void **state)
{
    char              *big, *text;
    ngx_oidc_login_t   l;

    (void) state;

    l = login_default();
    l.state.len = 0;
    assert_string_equal(login_encode(&l, &text), "missing record field");

    l = login_default();
    l.nonce.len = 0;
    assert_string_equal(login_encode(&l, &text), "missing record field");

    l = login_default();
    l.code_verifier.len = 0;
    assert_string_equal(login_encode(&l, &text), "missing record field");

    l = login_default();
    l.created = -1;
    assert_string_equal(login_encode(&l, &text), "invalid record field");

    /* a NUL byte could not be read back */
    l = login_default();
    l.state.data = (unsigned char *) "a\0b";
    l.state.len = 3;
    assert_string_equal(login_encode(&l, &text), "invalid record field");

    l = login_default();
    set_str(&l.return_to, "/\xff\xfe");
    assert_string_equal(login_encode(&l, &text), "invalid record field");

    /* over NGX_OIDC_LOGIN_MAX */
    big = malloc(NGX_OIDC_LOGIN_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', NGX_OIDC_LOGIN_MAX);
    big[NGX_OIDC_LOGIN_MAX] = '\0';
    big[0] = '/';

    l = login_default();
    set_str(&l.return_to, big);
    assert_string_equal(login_encode(&l, &text), "record too large");
    free(big);
}


#define LOGIN_BODY                                                           \
    "\"state\":\"s\",\"nonce\":\"n\",\"code_verifier\":\"c\","              \
    "\"return_to\":\"/\",\"created\":1"

#define VERSION    "unsupported record version"
#define MISSING    "missing record field"
#define INVALID    "invalid record field"


static void
test_login_decode_refused(void **state)
{
    ngx_oidc_login_t  d;

    (void) state;

    assert_null(login_decode("{\"v\":1," LOGIN_BODY "}", &d));
    ngx_oidc_login_free(&d);

    /* members a version does not know are ignored */
    assert_null(login_decode("{\"v\":1," LOGIN_BODY ",\"x\":[1]}", &d));
    ngx_oidc_login_free(&d);

    /* not a record */
    assert_string_equal(login_decode("", &d), "invalid json");
    assert_string_equal(login_decode("[1]", &d),
                        "json document is not an object");
    assert_string_equal(login_decode("{\"v\":1," LOGIN_BODY ",\"v\":1}", &d),
                        "invalid json");

    /* versions */
    assert_string_equal(login_decode("{" LOGIN_BODY "}", &d), VERSION);
    assert_string_equal(login_decode("{\"v\":2," LOGIN_BODY "}", &d),
                        VERSION);
    assert_string_equal(login_decode("{\"v\":0," LOGIN_BODY "}", &d),
                        VERSION);
    assert_string_equal(login_decode("{\"v\":\"1\"," LOGIN_BODY "}", &d),
                        VERSION);
    assert_string_equal(login_decode("{\"v\":1.0," LOGIN_BODY "}", &d),
                        VERSION);

    /* freeing a zeroed or refused record is harmless */
    ngx_oidc_login_free(&d);
    ngx_oidc_login_free(NULL);
}


static void
test_login_decode_fields(void **state)
{
    char               *big;
    ngx_oidc_login_t    d;

    (void) state;

    /* each field missing */
    assert_string_equal(login_decode("{\"v\":1,\"nonce\":\"n\","
                                     "\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\",\"created\":1}",
                                     &d),
                        MISSING);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\",\"created\":1}",
                                     &d),
                        MISSING);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\","
                                     "\"return_to\":\"/\",\"created\":1}",
                                     &d),
                        MISSING);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\",\"code_verifier\":\"c\","
                                     "\"created\":1}",
                                     &d),
                        MISSING);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\",\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\"}",
                                     &d),
                        MISSING);

    /* wrong types and values */
    assert_string_equal(login_decode("{\"v\":1,\"state\":1,\"nonce\":\"n\","
                                     "\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\",\"created\":1}",
                                     &d),
                        INVALID);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"\","
                                     "\"nonce\":\"n\","
                                     "\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\",\"created\":1}",
                                     &d),
                        INVALID);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\",\"code_verifier\":\"c\","
                                     "\"return_to\":null,\"created\":1}",
                                     &d),
                        INVALID);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\",\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\",\"created\":-1}",
                                     &d),
                        INVALID);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\",\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\",\"created\":1.5}",
                                     &d),
                        INVALID);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\",\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\","
                                     "\"created\":\"1\"}",
                                     &d),
                        INVALID);
    assert_string_equal(login_decode("{\"v\":1,\"state\":\"s\","
                                     "\"nonce\":\"n\",\"code_verifier\":\"c\","
                                     "\"return_to\":\"/\","
                                     "\"created\":10000000000000000}",
                                     &d),
                        INVALID);

    /* the size cap applies when reading too */
    big = malloc(NGX_OIDC_LOGIN_MAX + 64);
    assert_non_null(big);
    strcpy(big, "{\"v\":1," LOGIN_BODY ",\"pad\":\"");
    memset(big + strlen(big), 'a', NGX_OIDC_LOGIN_MAX - strlen(big));
    strcpy(big + NGX_OIDC_LOGIN_MAX - 1, "\"}");
    assert_int_equal(strlen(big), NGX_OIDC_LOGIN_MAX + 1);
    assert_string_equal(login_decode(big, &d), "json document too large");
    free(big);
}


static ngx_oidc_session_t
session_default(json_t *claims)
{
    ngx_oidc_session_t  s;

    memset(&s, 0, sizeof(ngx_oidc_session_t));

    set_str(&s.sub, "248289761001");
    set_str(&s.sid, "08a5019c-17e1-4977-8f42-65a12843ea02");
    set_str(&s.id_token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln");
    set_str(&s.access_token, "SlAV32hkKG");
    set_str(&s.refresh_token, "8xLOxBtZp8");
    s.access_expires = 1700003600;
    s.created = 1700000000;
    s.last_seen = 1700000100;
    s.claims = claims;

    return s;
}


static const char *
session_encode(const ngx_oidc_session_t *s, char **out)
{
    int             rc;
    size_t          len;
    unsigned char  *buf;
    ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));
    buf = NULL;

    rc = ngx_oidc_session_encode(s, &buf, &len, &err);

    if (rc != NGX_OIDC_OK) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
        assert_null(buf);
        return err.reason;
    }

    *out = malloc(len + 1);
    assert_non_null(*out);
    memcpy(*out, buf, len);
    (*out)[len] = '\0';
    free(buf);

    return NULL;
}


static const char *
session_decode(const char *text, ngx_oidc_session_t *s)
{
    int             rc;
    ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_session_decode((const unsigned char *) text, strlen(text),
                                 s, &err);

    if (rc != NGX_OIDC_OK) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
        assert_null(s->root);
        assert_null(s->claims);
        return err.reason;
    }

    return NULL;
}


static void
test_session_roundtrip(void **state)
{
    char                *text;
    json_t              *claims, *userinfo, *response;
    ngx_oidc_session_t   s, d;

    (void) state;

    claims = parse("{\"sub\":\"248289761001\",\"email\":\"j@example.com\","
                   "\"roles\":[\"a\",\"b\"]}");
    userinfo = parse("{\"name\":\"Jane Doe\"}");
    response = parse("{\"patient\":\"123\"}");

    s = session_default(claims);
    s.userinfo = userinfo;
    s.response = response;

    assert_null(session_encode(&s, &text));
    assert_string_equal(text,
        "{\"v\":1,\"sub\":\"248289761001\","
        "\"sid\":\"08a5019c-17e1-4977-8f42-65a12843ea02\","
        "\"id_token\":\"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln\","
        "\"access_token\":\"SlAV32hkKG\",\"refresh_token\":\"8xLOxBtZp8\","
        "\"access_expires\":1700003600,\"created\":1700000000,"
        "\"last_seen\":1700000100,"
        "\"claims\":{\"sub\":\"248289761001\",\"email\":\"j@example.com\","
        "\"roles\":[\"a\",\"b\"]},"
        "\"userinfo\":{\"name\":\"Jane Doe\"},"
        "\"response\":{\"patient\":\"123\"}}");

    /* the caller's objects are untouched */
    assert_int_equal(claims->refcount, 1);

    assert_null(session_decode(text, &d));
    assert_str(d.sub, "248289761001");
    assert_str(d.sid, "08a5019c-17e1-4977-8f42-65a12843ea02");
    assert_str(d.id_token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln");
    assert_str(d.access_token, "SlAV32hkKG");
    assert_str(d.refresh_token, "8xLOxBtZp8");
    assert_int_equal(d.access_expires, 1700003600);
    assert_int_equal(d.created, 1700000000);
    assert_int_equal(d.last_seen, 1700000100);
    assert_true(json_equal(d.claims, claims));
    assert_true(json_equal(d.userinfo, userinfo));
    assert_true(json_equal(d.response, response));

    ngx_oidc_session_free(&d);
    ngx_oidc_session_free(&d);
    free(text);

    /* optional members left out when empty */
    s.sid.len = 0;
    s.access_token.len = 0;
    s.refresh_token.len = 0;
    s.access_expires = 0;
    s.userinfo = NULL;
    s.response = NULL;

    assert_null(session_encode(&s, &text));
    assert_null(strstr(text, "sid"));
    assert_null(strstr(text, "access"));
    assert_null(strstr(text, "refresh"));
    assert_null(strstr(text, "userinfo"));

    assert_null(session_decode(text, &d));
    assert_int_equal(d.sid.len, 0);
    assert_null(d.sid.data);
    assert_int_equal(d.access_expires, 0);
    assert_null(d.userinfo);
    assert_null(d.response);
    assert_non_null(d.claims);
    ngx_oidc_session_free(&d);
    free(text);

    json_decref(claims);
    json_decref(userinfo);
    json_decref(response);
}


static void
test_session_encode_refused(void **state)
{
    int                  i;
    char                *text, *big;
    json_t              *claims, *deep, *v;
    ngx_oidc_session_t   s;

    (void) state;

    claims = parse("{\"sub\":\"1\"}");

    s = session_default(claims);
    s.sub.len = 0;
    assert_string_equal(session_encode(&s, &text), MISSING);

    s = session_default(claims);
    s.id_token.len = 0;
    assert_string_equal(session_encode(&s, &text), MISSING);

    s = session_default(NULL);
    assert_string_equal(session_encode(&s, &text), MISSING);

    s = session_default(claims);
    s.last_seen = -5;
    assert_string_equal(session_encode(&s, &text), INVALID);

    s = session_default(claims);
    s.access_expires = -1;
    assert_string_equal(session_encode(&s, &text), INVALID);

    s = session_default(claims);
    set_str(&s.access_token, "\xc0\xaf");
    assert_string_equal(session_encode(&s, &text), INVALID);

    /* objects only */
    v = json_array();
    s = session_default(v);
    assert_string_equal(session_encode(&s, &text), INVALID);
    s = session_default(claims);
    s.userinfo = v;
    assert_string_equal(session_encode(&s, &text), INVALID);
    s = session_default(claims);
    s.response = v;
    assert_string_equal(session_encode(&s, &text), INVALID);
    json_decref(v);

    /* claims as deep as a parse allows would be one level too deep here */
    deep = json_object();
    v = deep;

    for (i = 0; i < NGX_OIDC_JSON_MAX_DEPTH; i++) {
        json_object_set_new(v, "a", json_object());
        v = json_object_get(v, "a");
    }

    s = session_default(deep);
    assert_string_equal(session_encode(&s, &text), INVALID);
    json_decref(deep);

    /* over NGX_OIDC_SESSION_MAX */
    big = malloc(NGX_OIDC_SESSION_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', NGX_OIDC_SESSION_MAX);
    big[NGX_OIDC_SESSION_MAX] = '\0';

    s = session_default(claims);
    set_str(&s.access_token, big);
    assert_string_equal(session_encode(&s, &text), "record too large");
    free(big);

    json_decref(claims);
}


#define SESSION_HEAD  "{\"v\":1,\"sub\":\"u\",\"id_token\":\"t\","
#define SESSION_TIMES "\"created\":1,\"last_seen\":2"


static void
test_session_decode_refused(void **state)
{
    ngx_oidc_session_t  d;

    (void) state;

    /* the smallest valid session */
    assert_null(session_decode(SESSION_HEAD SESSION_TIMES ",\"claims\":{}}",
                               &d));
    ngx_oidc_session_free(&d);

    assert_string_equal(session_decode("{\"v\":3,\"sub\":\"u\"}", &d),
                        VERSION);
    assert_string_equal(session_decode("{\"sub\":\"u\"}", &d), VERSION);

    /* required members */
    assert_string_equal(session_decode("{\"v\":1,\"id_token\":\"t\","
                                       SESSION_TIMES ",\"claims\":{}}", &d),
                        MISSING);
    assert_string_equal(session_decode("{\"v\":1,\"sub\":\"u\","
                                       SESSION_TIMES ",\"claims\":{}}", &d),
                        MISSING);
    assert_string_equal(session_decode(SESSION_HEAD "\"last_seen\":2,"
                                       "\"claims\":{}}", &d),
                        MISSING);
    assert_string_equal(session_decode(SESSION_HEAD "\"created\":1,"
                                       "\"claims\":{}}", &d),
                        MISSING);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES "}", &d),
                        MISSING);

    /* types */
    assert_string_equal(session_decode("{\"v\":1,\"sub\":\"\","
                                       "\"id_token\":\"t\"," SESSION_TIMES
                                       ",\"claims\":{}}", &d),
                        INVALID);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES
                                       ",\"claims\":[]}", &d),
                        INVALID);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES
                                       ",\"claims\":{},\"userinfo\":\"x\"}",
                                       &d),
                        INVALID);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES
                                       ",\"claims\":{},\"sid\":1}", &d),
                        INVALID);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES
                                       ",\"claims\":{},"
                                       "\"access_token\":null}", &d),
                        INVALID);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES
                                       ",\"claims\":{},"
                                       "\"refresh_token\":[]}", &d),
                        INVALID);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES
                                       ",\"claims\":{},"
                                       "\"access_expires\":\"1\"}", &d),
                        INVALID);
    assert_string_equal(session_decode(SESSION_HEAD SESSION_TIMES
                                       ",\"claims\":{},"
                                       "\"access_expires\":-1}", &d),
                        INVALID);

    /* an optional member that is present may be empty */
    assert_null(session_decode(SESSION_HEAD SESSION_TIMES
                               ",\"claims\":{},\"sid\":\"\"}", &d));
    assert_int_equal(d.sid.len, 0);
    ngx_oidc_session_free(&d);

    ngx_oidc_session_free(NULL);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_login_roundtrip),
        cmocka_unit_test(test_login_encode_refused),
        cmocka_unit_test(test_login_decode_refused),
        cmocka_unit_test(test_login_decode_fields),
        cmocka_unit_test(test_session_roundtrip),
        cmocka_unit_test(test_session_encode_refused),
        cmocka_unit_test(test_session_decode_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
