
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

#include "ngx_oidc_cookie.h"


/*
 * Looks "name" up in the "len" bytes of "header"; on NGX_OIDC_OK the
 * value is copied, NUL-terminated, into "out" (256 bytes).
 */

static int
find_n(const char *header, size_t len, const char *name, char *out,
    size_t *count, const char **reason)
{
    int             rc;
    ngx_oidc_err_t  err;
    ngx_oidc_str_t  n, v;

    n.data = (unsigned char *) name;
    n.len = strlen(name);
    v.data = NULL;
    v.len = 0;
    memset(&err, 0, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_cookie_find((const unsigned char *) header, len, &n, &v,
                              count, &err);

    if (rc == NGX_OIDC_OK) {
        assert_true(v.len < 256);
        assert_true(v.len == 0 || v.data != NULL);

        /* the value points into the header */
        if (v.len > 0) {
            assert_true(v.data >= (unsigned char *) header
                        && v.data + v.len <= (unsigned char *) header + len);
        }

        memcpy(out, v.data, v.len);
        out[v.len] = '\0';

    } else {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
    }

    if (reason != NULL) {
        *reason = err.reason;
    }

    return rc;
}


static int
find(const char *header, const char *name, char *out)
{
    return find_n(header, strlen(header), name, out, NULL, NULL);
}


#define assert_found(header, name, expected)                                 \
    do {                                                                     \
        char  out_[256];                                                     \
        assert_int_equal(find(header, name, out_), NGX_OIDC_OK);             \
        assert_string_equal(out_, expected);                                 \
    } while (0)

#define assert_refused(header, name, why)                                    \
    do {                                                                     \
        char         out_[256];                                              \
        const char  *r_;                                                     \
        assert_int_equal(find_n(header, strlen(header), name, out_, NULL,    \
                                &r_),                                        \
                         NGX_OIDC_DECLINED);                                 \
        assert_string_equal(r_, why);                                        \
    } while (0)


/* RFC 6265 3.1 */

static void
test_find_rfc6265(void **state)
{
    (void) state;

    assert_found("SID=31d4d96e407aad42", "SID", "31d4d96e407aad42");
    assert_found("SID=31d4d96e407aad42; lang=en-US", "SID",
                 "31d4d96e407aad42");
    assert_found("SID=31d4d96e407aad42; lang=en-US", "lang", "en-US");

    assert_refused("SID=31d4d96e407aad42; lang=en-US", "session",
                   "cookie not found");
    assert_refused("", "SID", "cookie not found");
}


static void
test_find_spaces(void **state)
{
    (void) state;

    assert_found("a=1;b=2;c=3", "b", "2");
    assert_found("a=1;  b=2  ;c=3", "b", "2");
    assert_found("  a = 1 ", "a", "1");
    assert_found("x=0;\tb\t=\t2\t", "b", "2");
    assert_found("a=1; b=2;", "b", "2");
    assert_found(";;; b=2 ;;", "b", "2");

    /* a space inside the value is not a cookie-octet */
    assert_refused("b=2 3", "b", "invalid cookie value");
}


static void
test_find_quoted(void **state)
{
    (void) state;

    assert_found("a=\"xyz\"", "a", "xyz");
    assert_found("a=\"\"; b=1", "a", "");
    assert_found("a=", "a", "");
    assert_found("a= ; b=1", "a", "");

    assert_refused("a=\"xyz", "a", "invalid cookie value");
    assert_refused("a=xyz\"", "a", "invalid cookie value");
    assert_refused("a=\"", "a", "invalid cookie value");
    assert_refused("a=x\"y", "a", "invalid cookie value");
    assert_refused("a=\"x\"y\"", "a", "invalid cookie value");
}


static void
test_find_controls(void **state)
{
    char         out[256];
    const char  *reason;

    (void) state;

    assert_refused("a=x\x01y", "a", "invalid cookie value");
    assert_refused("a=x\x7fy", "a", "invalid cookie value");
    assert_refused("a=x\ry", "a", "invalid cookie value");
    assert_refused("a=x\ny", "a", "invalid cookie value");
    assert_refused("a=x,y", "a", "invalid cookie value");
    assert_refused("a=x\\y", "a", "invalid cookie value");
    assert_refused("a=caf\xc3\xa9", "a", "invalid cookie value");

    /* a NUL byte inside the value */
    assert_int_equal(find_n("a=x\0y; b=1", 10, "a", out, NULL, &reason),
                     NGX_OIDC_DECLINED);
    assert_string_equal(reason, "invalid cookie value");

    /* a NUL elsewhere does not stop the scan */
    assert_int_equal(find_n("z=\0; a=ok", 9, "a", out, NULL, NULL),
                     NGX_OIDC_OK);
    assert_string_equal(out, "ok");

    /* garbage in other cookies is not our business */
    assert_found("junk=\x01\x02 \"; a=ok; more=\x7f", "a", "ok");
}


static void
test_find_duplicates(void **state)
{
    char         out[256];
    size_t       count;
    const char  *reason;
    const char  *h;

    (void) state;

    /* the first is returned, and the count tells the caller */
    h = "a=1; b=x; a=2";
    assert_int_equal(find_n(h, strlen(h), "a", out, &count, NULL),
                     NGX_OIDC_OK);
    assert_string_equal(out, "1");
    assert_int_equal(count, 2);

    h = "b=x; a=1";
    assert_int_equal(find_n(h, strlen(h), "a", out, &count, NULL),
                     NGX_OIDC_OK);
    assert_int_equal(count, 1);

    /* a malformed first one is not skipped in favour of the second */
    h = "a=\x01; a=2; a=3";
    assert_int_equal(find_n(h, strlen(h), "a", out, &count, &reason),
                     NGX_OIDC_DECLINED);
    assert_string_equal(reason, "invalid cookie value");
    assert_int_equal(count, 3);

    h = "b=1";
    assert_int_equal(find_n(h, strlen(h), "a", out, &count, NULL),
                     NGX_OIDC_DECLINED);
    assert_int_equal(count, 0);
}


static void
test_find_names(void **state)
{
    ngx_oidc_err_t  err;
    ngx_oidc_str_t  n, v;

    (void) state;

    /* exact, case-sensitive */
    assert_refused("A=1", "a", "cookie not found");
    assert_refused("ab=1", "a", "cookie not found");
    assert_refused("b=1", "ab", "cookie not found");
    assert_found("ab=1; a=2", "a", "2");
    assert_found("__Host-s=1; s=2", "s", "2");
    assert_found("__Host-s=1; s=2", "__Host-s", "1");

    /* a pair without "=" and a nameless pair never match */
    assert_refused("a", "a", "cookie not found");
    assert_found("a; =x; a=y", "a", "y");

    /* only the first "=" splits */
    assert_found("a==b", "a", "=b");

    /* an empty name is a caller bug */
    n.data = (unsigned char *) "";
    n.len = 0;
    assert_int_equal(ngx_oidc_cookie_find((const unsigned char *) "=x", 2,
                                          &n, &v, NULL, &err),
                     NGX_OIDC_ERROR);

    /* a NULL header of length 0 */
    n.data = (unsigned char *) "a";
    n.len = 1;
    assert_int_equal(ngx_oidc_cookie_find(NULL, 0, &n, &v, NULL, &err),
                     NGX_OIDC_DECLINED);
}


static void
test_name_valid(void **state)
{
    char  big[300];

    (void) state;

    assert_true(ngx_oidc_cookie_name_valid((const unsigned char *) "oidc", 4));
    assert_true(ngx_oidc_cookie_name_valid(
                    (const unsigned char *) "__Host-oidc_session", 19));
    assert_true(ngx_oidc_cookie_name_valid(
                    (const unsigned char *) "a!#$%&'*+-.^_`|~9", 17));

    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "", 0));
    assert_false(ngx_oidc_cookie_name_valid(NULL, 3));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "a b", 3));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "a=b", 3));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "a;b", 3));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "a\"", 2));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "a\x01",
                                            2));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "a\0", 2));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "(a)", 3));
    assert_false(ngx_oidc_cookie_name_valid((const unsigned char *) "\xc3\xa9",
                                            2));

    memset(big, 'a', sizeof(big));
    assert_true(ngx_oidc_cookie_name_valid((unsigned char *) big, 256));
    assert_false(ngx_oidc_cookie_name_valid((unsigned char *) big, 257));
}


static ngx_oidc_cookie_t
cookie(const char *name, const char *value)
{
    ngx_oidc_cookie_t  c;

    memset(&c, 0, sizeof(ngx_oidc_cookie_t));

    c.name.data = (unsigned char *) name;
    c.name.len = strlen(name);
    c.value.data = (unsigned char *) value;
    c.value.len = strlen(value);

    return c;
}


static void
set_str(ngx_oidc_str_t *s, const char *v)
{
    s->data = (unsigned char *) v;
    s->len = strlen(v);
}


/* builds "c", checks the length contract, returns the reason or NULL */

static const char *
build(const ngx_oidc_cookie_t *c, char *out, size_t size)
{
    int             rc;
    size_t          len, need;
    ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));
    need = ngx_oidc_cookie_build_len(c);
    len = 0;

    rc = ngx_oidc_cookie_build(c, (unsigned char *) out, size - 1, &len,
                               &err);

    if (rc != NGX_OIDC_OK) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
        return err.reason;
    }

    assert_int_equal(len, need);
    out[len] = '\0';

    return NULL;
}


#define assert_built(c, expected)                                            \
    do {                                                                     \
        char  out_[8192];                                                    \
        assert_null(build(c, out_, sizeof(out_)));                           \
        assert_string_equal(out_, expected);                                 \
    } while (0)

#define assert_build_refused(c, why)                                         \
    do {                                                                     \
        char         out_[8192];                                             \
        const char  *r_ = build(c, out_, sizeof(out_));                      \
        assert_non_null(r_);                                                 \
        assert_string_equal(r_, why);                                        \
    } while (0)


/* RFC 6265 3.1 examples, our attribute order */

static void
test_build_rfc6265(void **state)
{
    ngx_oidc_cookie_t  c;

    (void) state;

    c = cookie("SID", "31d4d96e407aad42");
    assert_built(&c, "SID=31d4d96e407aad42");

    set_str(&c.path, "/");
    set_str(&c.domain, "example.com");
    assert_built(&c, "SID=31d4d96e407aad42; Path=/; Domain=example.com");

    c = cookie("SID", "31d4d96e407aad42");
    set_str(&c.path, "/");
    c.secure = 1;
    c.http_only = 1;
    assert_built(&c, "SID=31d4d96e407aad42; Path=/; HttpOnly; Secure");

    c = cookie("lang", "en-US");
    set_str(&c.path, "/");
    set_str(&c.domain, "example.com");
    assert_built(&c, "lang=en-US; Path=/; Domain=example.com");
}


static void
test_build_attributes(void **state)
{
    ngx_oidc_cookie_t  c;

    (void) state;

    c = cookie("__Host-oidc", "abc_-DEF");
    set_str(&c.path, "/");
    c.max_age = 3600;
    c.http_only = 1;
    c.secure = 1;
    c.same_site = NGX_OIDC_COOKIE_SAMESITE_LAX;
    assert_built(&c, "__Host-oidc=abc_-DEF; Path=/; Max-Age=3600; HttpOnly; "
                     "Secure; SameSite=Lax");

    c.same_site = NGX_OIDC_COOKIE_SAMESITE_STRICT;
    c.max_age = 0;
    assert_built(&c, "__Host-oidc=abc_-DEF; Path=/; HttpOnly; Secure; "
                     "SameSite=Strict");

    c.same_site = NGX_OIDC_COOKIE_SAMESITE_NONE;
    assert_built(&c, "__Host-oidc=abc_-DEF; Path=/; HttpOnly; Secure; "
                     "SameSite=None");

    c = cookie("__Secure-x", "1");
    c.secure = 1;
    set_str(&c.path, "/app");
    set_str(&c.domain, "example.com");
    assert_built(&c, "__Secure-x=1; Path=/app; Domain=example.com; Secure");

    /* an empty value is allowed */
    c = cookie("a", "");
    c.max_age = 1;
    assert_built(&c, "a=; Max-Age=1");
}


static void
test_build_delete(void **state)
{
    ngx_oidc_cookie_t  c;

    (void) state;

    c = cookie("__Host-oidc", "ignored");
    set_str(&c.path, "/");
    c.http_only = 1;
    c.secure = 1;
    c.same_site = NGX_OIDC_COOKIE_SAMESITE_LAX;
    c.max_age = 3600;
    c.remove = 1;

    assert_built(&c, "__Host-oidc=; Path=/; Max-Age=0; "
                     "Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
                     "Secure; SameSite=Lax");

    /* the value is not checked when deleting */
    c = cookie("s", "bad value;");
    c.remove = 1;
    assert_built(&c, "s=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
}


static void
test_build_refused(void **state)
{
    ngx_oidc_cookie_t  c;

    (void) state;

    c = cookie("a b", "1");
    assert_build_refused(&c, "invalid cookie name");
    c = cookie("", "1");
    assert_build_refused(&c, "invalid cookie name");
    c = cookie("a\r\nSet-Cookie: x", "1");
    assert_build_refused(&c, "invalid cookie name");

    c = cookie("a", "1 2");
    assert_build_refused(&c, "invalid cookie value");
    c = cookie("a", "1;Domain=evil");
    assert_build_refused(&c, "invalid cookie value");
    c = cookie("a", "\"1\"");
    assert_build_refused(&c, "invalid cookie value");
    c = cookie("a", "1\r\n");
    assert_build_refused(&c, "invalid cookie value");
    c = cookie("a", "1,2");
    assert_build_refused(&c, "invalid cookie value");
    c = cookie("a", "1\\2");
    assert_build_refused(&c, "invalid cookie value");
}


static void
test_build_refused_size(void **state)
{
    char               out[16], *big, *o;
    size_t             len;
    ngx_oidc_err_t     err;
    ngx_oidc_cookie_t  c;

    (void) state;

    big = malloc(NGX_OIDC_COOKIE_MAX + 1);
    o = malloc(NGX_OIDC_COOKIE_MAX + 64);
    assert_non_null(big);
    assert_non_null(o);
    memset(big, 'v', NGX_OIDC_COOKIE_MAX);
    big[NGX_OIDC_COOKIE_MAX] = '\0';

    /* name + value at the limit is fine, one more byte is not */
    c = cookie("a", big + 1);
    assert_null(build(&c, o, NGX_OIDC_COOKIE_MAX + 64));

    c = cookie("ab", big + 1);
    assert_build_refused(&c, "cookie too large");

    free(o);
    free(big);

    /* a buffer shorter than build_len() */
    c = cookie("a", "12345678901234567890");
    assert_int_equal(ngx_oidc_cookie_build(&c, (unsigned char *) out,
                                           sizeof(out), &len, &err),
                     NGX_OIDC_ERROR);
}


static void
test_build_refused_attributes(void **state)
{
    ngx_oidc_cookie_t  c;

    (void) state;

    c = cookie("a", "1");
    set_str(&c.path, "app");
    assert_build_refused(&c, "invalid cookie path");
    set_str(&c.path, "/a;b");
    assert_build_refused(&c, "invalid cookie path");
    set_str(&c.path, "/a\nb");
    assert_build_refused(&c, "invalid cookie path");
    set_str(&c.path, "/caf\xc3\xa9");
    assert_build_refused(&c, "invalid cookie path");

    c = cookie("a", "1");
    set_str(&c.domain, "example.com; Secure");
    assert_build_refused(&c, "invalid cookie domain");
    set_str(&c.domain, "ex ample.com");
    assert_build_refused(&c, "invalid cookie domain");

    c = cookie("a", "1");
    c.max_age = -1;
    assert_build_refused(&c, "invalid max-age");

    c = cookie("a", "1");
    c.same_site = NGX_OIDC_COOKIE_SAMESITE_NONE;
    assert_build_refused(&c, "samesite none requires secure");
}


static void
test_build_prefixes(void **state)
{
    char               out[64];
    ngx_oidc_cookie_t  c;

    (void) state;

    c = cookie("__Secure-a", "1");
    assert_build_refused(&c, "cookie prefix violated");

    /* __Host-: Secure, Path=/, no Domain */
    c = cookie("__Host-a", "1");
    set_str(&c.path, "/");
    assert_build_refused(&c, "cookie prefix violated");

    c.secure = 1;
    assert_null(build(&c, out, sizeof(out)));

    c.path.len = 0;
    assert_build_refused(&c, "cookie prefix violated");

    set_str(&c.path, "/app");
    assert_build_refused(&c, "cookie prefix violated");

    set_str(&c.path, "/");
    set_str(&c.domain, "example.com");
    assert_build_refused(&c, "cookie prefix violated");

    /* matched case-insensitively, as browsers now do */
    c = cookie("__host-a", "1");
    set_str(&c.path, "/");
    assert_build_refused(&c, "cookie prefix violated");

    c = cookie("__SECURE-a", "1");
    assert_build_refused(&c, "cookie prefix violated");

    /* deleting obeys the same rules */
    c = cookie("__Host-a", "");
    c.remove = 1;
    c.secure = 1;
    assert_build_refused(&c, "cookie prefix violated");
}


/* a built cookie's value is found again */

static void
test_roundtrip(void **state)
{
    char               out[256], header[512];
    ngx_oidc_cookie_t  c;

    (void) state;

    c = cookie("__Host-oidc_session", "f4Qy-0_aZ9");
    set_str(&c.path, "/");
    c.secure = 1;
    assert_null(build(&c, out, sizeof(out)));

    /* the browser sends back name=value only */
    memcpy(header, "other=1; ", 9);
    memcpy(header + 9, out, strchr(out, ';') - out);
    header[9 + (strchr(out, ';') - out)] = '\0';

    assert_found(header, "__Host-oidc_session", "f4Qy-0_aZ9");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_find_rfc6265),
        cmocka_unit_test(test_find_spaces),
        cmocka_unit_test(test_find_quoted),
        cmocka_unit_test(test_find_controls),
        cmocka_unit_test(test_find_duplicates),
        cmocka_unit_test(test_find_names),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_build_rfc6265),
        cmocka_unit_test(test_build_attributes),
        cmocka_unit_test(test_build_delete),
        cmocka_unit_test(test_build_refused),
        cmocka_unit_test(test_build_refused_size),
        cmocka_unit_test(test_build_refused_attributes),
        cmocka_unit_test(test_build_prefixes),
        cmocka_unit_test(test_roundtrip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
