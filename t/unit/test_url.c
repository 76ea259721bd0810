
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

#include "ngx_oidc_url.h"


#define S(s)  (const unsigned char *) (s), sizeof(s) - 1


static void
set_str(ngx_oidc_str_t *s, const char *v)
{
    s->data = (unsigned char *) v;
    s->len = strlen(v);
}


/* escapes "len" bytes and checks escape_len() agrees */

static void
assert_escaped(const char *src, size_t len, unsigned mode,
    const char *expected)
{
    char    out[512];
    size_t  n;

    n = ngx_oidc_url_escape((unsigned char *) out,
                            (const unsigned char *) src, len, mode);
    assert_int_equal(n, ngx_oidc_url_escape_len((const unsigned char *) src,
                                                len, mode));
    out[n] = '\0';
    assert_string_equal(out, expected);
}


static void
test_escape(void **state)
{
    (void) state;

    assert_escaped("", 0, NGX_OIDC_URL_QUERY, "");
    assert_escaped("AZaz09-._~", 10, NGX_OIDC_URL_QUERY, "AZaz09-._~");
    assert_escaped("openid profile", 14, NGX_OIDC_URL_QUERY,
                   "openid%20profile");
    assert_escaped("openid profile", 14, NGX_OIDC_URL_FORM,
                   "openid+profile");
    assert_escaped("https://client.example.org/cb?a=1&b=2", 37,
                   NGX_OIDC_URL_QUERY,
                   "https%3A%2F%2Fclient.example.org%2Fcb%3Fa%3D1%26b%3D2");
    assert_escaped("+%#*!'()", 8, NGX_OIDC_URL_FORM,
                   "%2B%25%23%2A%21%27%28%29");
    assert_escaped("\0\x01\x7f\x80\xff", 5, NGX_OIDC_URL_QUERY,
                   "%00%01%7F%80%FF");
    assert_escaped("caf\xc3\xa9", 5, NGX_OIDC_URL_FORM, "caf%C3%A9");
}


static int
unescape(const char *src, unsigned mode, char *out)
{
    int     rc;
    size_t  n;

    n = 0;
    rc = ngx_oidc_url_unescape((unsigned char *) out,
                               &n, (const unsigned char *) src, strlen(src),
                               mode);
    out[rc == NGX_OIDC_OK ? n : 0] = '\0';

    return rc;
}


static void
test_unescape(void **state)
{
    char    out[256];
    size_t  n;

    (void) state;

    assert_int_equal(unescape("a%20b+c", NGX_OIDC_URL_FORM, out),
                     NGX_OIDC_OK);
    assert_string_equal(out, "a b c");
    assert_int_equal(unescape("a%20b+c", NGX_OIDC_URL_QUERY, out),
                     NGX_OIDC_OK);
    assert_string_equal(out, "a b+c");
    assert_int_equal(unescape("%2f%2F%e9", NGX_OIDC_URL_QUERY, out),
                     NGX_OIDC_OK);
    assert_string_equal(out, "//\xe9");
    assert_int_equal(unescape("", NGX_OIDC_URL_QUERY, out), NGX_OIDC_OK);
    assert_string_equal(out, "");

    assert_int_equal(unescape("%", NGX_OIDC_URL_FORM, out),
                     NGX_OIDC_DECLINED);
    assert_int_equal(unescape("a%4", NGX_OIDC_URL_FORM, out),
                     NGX_OIDC_DECLINED);
    assert_int_equal(unescape("%zz", NGX_OIDC_URL_FORM, out),
                     NGX_OIDC_DECLINED);
    assert_int_equal(unescape("%4g", NGX_OIDC_URL_FORM, out),
                     NGX_OIDC_DECLINED);
    assert_int_equal(unescape("%%41", NGX_OIDC_URL_FORM, out),
                     NGX_OIDC_DECLINED);

    /* in place; a NUL is decoded like any byte */
    strcpy(out, "x%00y%41");
    assert_int_equal(ngx_oidc_url_unescape((unsigned char *) out, &n,
                                           (unsigned char *) out, 8,
                                           NGX_OIDC_URL_QUERY),
                     NGX_OIDC_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "x\0yA", 4);
}


/* parses "src"; returns the rc and the reason on a refusal */

static int
parse(const char *src, ngx_oidc_param_t *params, size_t max, size_t *n,
    unsigned char *buf, const char **reason)
{
    int             rc;
    ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));
    *n = 0;

    rc = ngx_oidc_form_parse((const unsigned char *) src, strlen(src), buf,
                             params, max, n, &err);

    if (rc != NGX_OIDC_OK) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
    }

    if (reason != NULL) {
        *reason = err.reason;
    }

    return rc;
}


#define assert_param(p, n_, v_)                                              \
    do {                                                                     \
        assert_int_equal((p).name.len, strlen(n_));                          \
        assert_memory_equal((p).name.data, n_, strlen(n_));                  \
        assert_int_equal((p).value.len, strlen(v_));                         \
        assert_memory_equal((p).value.data, v_, strlen(v_));                 \
    } while (0)


static void
test_form_parse(void **state)
{
    size_t            n;
    unsigned char     buf[256];
    ngx_oidc_param_t  p[8];

    (void) state;

    /* RFC 6749 4.1.2 */
    assert_int_equal(parse("code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", p, 8, &n,
                           buf, NULL),
                     NGX_OIDC_OK);
    assert_int_equal(n, 2);
    assert_param(p[0], "code", "SplxlOBeZQQYbYS6WxSbIA");
    assert_param(p[1], "state", "xyz");
    assert_false(p[0].dup);

    /* RFC 6749 4.1.2.1 */
    assert_int_equal(parse("error=access_denied&error_description="
                           "The+user+said+%22no%22&state=xyz",
                           p, 8, &n, buf, NULL),
                     NGX_OIDC_OK);
    assert_int_equal(n, 3);
    assert_param(p[1], "error_description", "The user said \"no\"");

    /* empty pieces, bare names, the first "=" splits */
    assert_int_equal(parse("&a=1&&b&c=&d=x=y&", p, 8, &n, buf, NULL),
                     NGX_OIDC_OK);
    assert_int_equal(n, 4);
    assert_param(p[0], "a", "1");
    assert_param(p[1], "b", "");
    assert_param(p[2], "c", "");
    assert_param(p[3], "d", "x=y");

    /* names are decoded too */
    assert_int_equal(parse("st%61te=1&a+b=2", p, 8, &n, buf, NULL),
                     NGX_OIDC_OK);
    assert_param(p[0], "state", "1");
    assert_param(p[1], "a b", "2");

    assert_int_equal(parse("", p, 8, &n, buf, NULL), NGX_OIDC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ngx_oidc_form_parse(NULL, 0, NULL, NULL, 0, &n, NULL),
                     NGX_OIDC_OK);
    assert_int_equal(n, 0);

    /* non-ASCII is kept */
    assert_int_equal(parse("a=caf%C3%A9", p, 8, &n, buf, NULL), NGX_OIDC_OK);
    assert_param(p[0], "a", "caf\xc3\xa9");
}


static void
test_form_parse_refused(void **state)
{
    size_t             n;
    const char        *why;
    unsigned char      buf[256];
    ngx_oidc_param_t   p[4];

    (void) state;

    assert_int_equal(parse("a=%zz", p, 4, &n, buf, &why), NGX_OIDC_DECLINED);
    assert_string_equal(why, "invalid percent-encoding");
    assert_int_equal(parse("a=%4", p, 4, &n, buf, &why), NGX_OIDC_DECLINED);
    assert_string_equal(why, "invalid percent-encoding");
    assert_int_equal(parse("%=1", p, 4, &n, buf, &why), NGX_OIDC_DECLINED);
    assert_string_equal(why, "invalid percent-encoding");

    assert_int_equal(parse("a=x%0Ay", p, 4, &n, buf, &why),
                     NGX_OIDC_DECLINED);
    assert_string_equal(why, "control character in parameter");
    assert_int_equal(parse("a=x%00", p, 4, &n, buf, &why),
                     NGX_OIDC_DECLINED);
    assert_string_equal(why, "control character in parameter");
    assert_int_equal(parse("a%7F=1", p, 4, &n, buf, &why),
                     NGX_OIDC_DECLINED);
    assert_string_equal(why, "control character in parameter");
    assert_int_equal(parse("a=\r\n", p, 4, &n, buf, &why),
                     NGX_OIDC_DECLINED);
    assert_string_equal(why, "control character in parameter");

    assert_int_equal(parse("a=1&b=2&c=3&d=4", p, 4, &n, buf, &why),
                     NGX_OIDC_OK);
    assert_int_equal(parse("a=1&b=2&c=3&d=4&e=5", p, 4, &n, buf, &why),
                     NGX_OIDC_DECLINED);
    assert_string_equal(why, "too many parameters");
}


static void
test_form_duplicates(void **state)
{
    size_t            n;
    const char       *why;
    unsigned char     buf[256];
    ngx_oidc_err_t    err;
    ngx_oidc_str_t    v;
    ngx_oidc_param_t  p[8];

    (void) state;

    assert_int_equal(parse("state=1&code=c&state=2&x=", p, 8, &n, buf, &why),
                     NGX_OIDC_OK);
    assert_int_equal(n, 4);
    assert_true(p[0].dup);
    assert_false(p[1].dup);
    assert_true(p[2].dup);
    assert_false(p[3].dup);

    /* RFC 6749 3.1: a repeated parameter is refused */
    assert_int_equal(ngx_oidc_form_get(p, n, "state", &v, &err),
                     NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, "duplicate parameter");
    assert_null(v.data);

    assert_int_equal(ngx_oidc_form_get(p, n, "code", &v, &err), NGX_OIDC_OK);
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.data, "c", 1);

    /* present but empty vs absent */
    assert_int_equal(ngx_oidc_form_get(p, n, "x", &v, &err), NGX_OIDC_OK);
    assert_non_null(v.data);
    assert_int_equal(v.len, 0);

    assert_int_equal(ngx_oidc_form_get(p, n, "error", &v, &err), NGX_OIDC_OK);
    assert_null(v.data);

    /* an encoded duplicate is a duplicate */
    assert_int_equal(parse("code=1&c%6Fde=2", p, 8, &n, buf, &why),
                     NGX_OIDC_OK);
    assert_int_equal(ngx_oidc_form_get(p, n, "code", &v, &err),
                     NGX_OIDC_DECLINED);
}


static void
test_form_build(void **state)
{
    char              out[512];
    size_t            n;
    ngx_oidc_param_t  p[5];

    (void) state;

    memset(p, 0, sizeof(p));

    /* RFC 6749 4.1.3, with "." left unescaped */
    set_str(&p[0].name, "grant_type");
    set_str(&p[0].value, "authorization_code");
    set_str(&p[1].name, "code");
    set_str(&p[1].value, "SplxlOBeZQQYbYS6WxSbIA");
    set_str(&p[2].name, "redirect_uri");
    set_str(&p[2].value, "https://client.example.com/cb");
    set_str(&p[3].name, "absent");
    set_str(&p[4].name, "scope");
    set_str(&p[4].value, "a b");

    n = ngx_oidc_form_build((unsigned char *) out, p, 5, NGX_OIDC_URL_FORM);
    assert_int_equal(n, ngx_oidc_form_build_len(p, 5, NGX_OIDC_URL_FORM));
    out[n] = '\0';
    assert_string_equal(out, "grant_type=authorization_code"
                             "&code=SplxlOBeZQQYbYS6WxSbIA"
                             "&redirect_uri=https%3A%2F%2Fclient.example.com"
                             "%2Fcb&scope=a+b");

    /* an empty non-NULL value is sent as "name=" */
    set_str(&p[3].value, "");
    n = ngx_oidc_form_build((unsigned char *) out, p + 3, 1,
                            NGX_OIDC_URL_QUERY);
    out[n] = '\0';
    assert_string_equal(out, "absent=");

    assert_int_equal(ngx_oidc_form_build_len(p, 0, NGX_OIDC_URL_FORM), 0);
}


static ngx_oidc_authz_t
authz_default(void)
{
    ngx_oidc_authz_t  a;

    memset(&a, 0, sizeof(ngx_oidc_authz_t));

    set_str(&a.endpoint, "https://server.example.com/authorize");
    set_str(&a.response_type, "code");
    set_str(&a.client_id, "s6BhdRkqt3");
    set_str(&a.redirect_uri, "https://client.example.org/cb");
    set_str(&a.scope, "openid profile email");
    set_str(&a.state, "af0ifjsldkj");

    return a;
}


/* builds, checks the length contract, returns the reason or NULL */

static const char *
authz(const ngx_oidc_authz_t *a, char *out, size_t size)
{
    int             rc;
    size_t          len;
    ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));

    rc = ngx_oidc_authz_url_build(a, (unsigned char *) out, size - 1, &len,
                                  &err);

    if (rc != NGX_OIDC_OK) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_non_null(err.reason);
        return err.reason;
    }

    assert_int_equal(len, ngx_oidc_authz_url_len(a));
    out[len] = '\0';

    return NULL;
}


#define assert_authz(a, expected)                                            \
    do {                                                                     \
        char  out_[2048];                                                    \
        assert_null(authz(a, out_, sizeof(out_)));                           \
        assert_string_equal(out_, expected);                                 \
    } while (0)

#define assert_authz_refused(a, why)                                         \
    do {                                                                     \
        char         out_[2048];                                             \
        const char  *r_ = authz(a, out_, sizeof(out_));                      \
        assert_non_null(r_);                                                 \
        assert_string_equal(r_, why);                                        \
    } while (0)


/* OIDC Core 3.1.2.1's example, in our parameter order */

static void
test_authz_url(void **state)
{
    ngx_oidc_authz_t  a;

    (void) state;

    a = authz_default();
    assert_authz(&a, "https://server.example.com/authorize?response_type=code"
                     "&client_id=s6BhdRkqt3"
                     "&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb"
                     "&scope=openid%20profile%20email&state=af0ifjsldkj");

    set_str(&a.nonce, "n-0S6_WzA2Mj");
    set_str(&a.code_challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    set_str(&a.code_challenge_method, "S256");
    set_str(&a.extra, "version=2.0.0&audience=x");
    set_str(&a.endpoint, "https://login.example.com/oauth2/authorize"
                         "?p=B2C_1_signin");
    assert_authz(&a, "https://login.example.com/oauth2/authorize"
                     "?p=B2C_1_signin&response_type=code"
                     "&client_id=s6BhdRkqt3"
                     "&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb"
                     "&scope=openid%20profile%20email&state=af0ifjsldkj"
                     "&nonce=n-0S6_WzA2Mj"
                     "&code_challenge="
                     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
                     "&code_challenge_method=S256"
                     "&version=2.0.0&audience=x");

    /* an endpoint ending in "?" or "&" gets no separator */
    a = authz_default();
    a.redirect_uri.len = 0;
    a.scope.len = 0;
    a.state.len = 0;
    set_str(&a.endpoint, "https://idp/authorize?");
    assert_authz(&a, "https://idp/authorize?response_type=code"
                     "&client_id=s6BhdRkqt3");
    set_str(&a.endpoint, "https://idp/authorize?x=1&");
    assert_authz(&a, "https://idp/authorize?x=1&response_type=code"
                     "&client_id=s6BhdRkqt3");
    set_str(&a.endpoint, "HTTP://idp/authorize");
    assert_authz(&a, "HTTP://idp/authorize?response_type=code"
                     "&client_id=s6BhdRkqt3");
}


static void
test_authz_url_refused(void **state)
{
    char              out[64];
    size_t            len;
    ngx_oidc_err_t    err;
    ngx_oidc_authz_t  a;

    (void) state;

    a = authz_default();
    a.response_type.len = 0;
    assert_authz_refused(&a, "response_type missing");

    a = authz_default();
    a.client_id.len = 0;
    assert_authz_refused(&a, "client_id missing");

    a = authz_default();
    set_str(&a.endpoint, "server.example.com/authorize");
    assert_authz_refused(&a, "invalid endpoint");
    set_str(&a.endpoint, "ftp://server.example.com/authorize");
    assert_authz_refused(&a, "invalid endpoint");
    set_str(&a.endpoint, "https://");
    assert_authz_refused(&a, "invalid endpoint");
    set_str(&a.endpoint, "https://server.example.com/authorize#f");
    assert_authz_refused(&a, "invalid endpoint");
    set_str(&a.endpoint, "https://server.example.com/a b");
    assert_authz_refused(&a, "invalid endpoint");
    set_str(&a.endpoint, "https://server.example.com/a\r\nX: y");
    assert_authz_refused(&a, "invalid endpoint");
    a.endpoint.len = 0;
    assert_authz_refused(&a, "invalid endpoint");
    a.endpoint.data = NULL;
    assert_authz_refused(&a, "invalid endpoint");

    /* the length of anything is computable, valid or not */
    memset(&a, 0, sizeof(ngx_oidc_authz_t));
    assert_int_equal(ngx_oidc_authz_url_len(&a), 0);
    set_str(&a.client_id, "c");
    assert_int_equal(ngx_oidc_authz_url_len(&a), sizeof("?client_id=c") - 1);

    /* a buffer shorter than the URL */
    a = authz_default();
    assert_int_equal(ngx_oidc_authz_url_build(&a, (unsigned char *) out,
                                              sizeof(out), &len, &err),
                     NGX_OIDC_ERROR);
}


static const char *
extra(const char *s)
{
    ngx_oidc_err_t  err;
    ngx_oidc_str_t  reserved[2];

    set_str(&reserved[0], "state");
    set_str(&reserved[1], "redirect_uri");
    memset(&err, 0, sizeof(ngx_oidc_err_t));

    if (ngx_oidc_url_extra_check((const unsigned char *) s, strlen(s),
                                 reserved, 2, &err)
        == NGX_OIDC_OK)
    {
        return NULL;
    }

    assert_non_null(err.reason);

    return err.reason;
}


#define INVALID   "invalid extra arguments"
#define OVERRIDE  "extra argument overrides a parameter"


static void
test_extra(void **state)
{
    ngx_oidc_authz_t  a;

    (void) state;

    assert_null(extra("version=2.0.0&audience=x"));
    assert_null(extra("prompt=login&resource=a%2Fb&resource=c"));
    assert_null(extra("a"));
    assert_null(extra("a=&b"));
    assert_null(extra("claims=%7B%22id_token%22%3A%7B%7D%7D"));
    assert_null(extra("x=a:b@c/d?e!$'()*+,=f~"));
    assert_null(extra("x=a%3Bstate=1"));
    assert_null(extra("STATE=x"));              /* names are case-sensitive */
    assert_null(extra("states=x&stat=y"));

    assert_string_equal(extra(""), INVALID);
    assert_string_equal(extra("a=b#c"), INVALID);
    assert_string_equal(extra("a=b c"), INVALID);
    assert_string_equal(extra("&a=1"), INVALID);
    assert_string_equal(extra("a=1&"), INVALID);
    assert_string_equal(extra("a=1&&b=2"), INVALID);
    assert_string_equal(extra("=x"), INVALID);
    assert_string_equal(extra("a=%zz"), INVALID);
    assert_string_equal(extra("a=%4"), INVALID);
    assert_string_equal(extra("a=[1]"), INVALID);
    assert_string_equal(extra("a=\"1\""), INVALID);
    assert_string_equal(extra("a=1\r\nX: y"), INVALID);
    assert_string_equal(extra("a=caf\xc3\xa9"), INVALID);
    assert_string_equal(extra("a=\\"), INVALID);
    assert_string_equal(extra("a=1;state=evil"), INVALID);

    assert_string_equal(extra("state=x"), OVERRIDE);
    assert_string_equal(extra("a=1&state"), OVERRIDE);
    assert_string_equal(extra("st%61te=x"), OVERRIDE);
    assert_string_equal(extra("redirect_uri=https://evil"), OVERRIDE);
    assert_string_equal(extra("redirect%5Furi=x"), OVERRIDE);

    /* the authorization URL reserves all eight names, even unused ones */
    a = authz_default();
    set_str(&a.extra, "nonce=x");
    assert_authz_refused(&a, OVERRIDE);
    set_str(&a.extra, "code_challenge_method=plain");
    assert_authz_refused(&a, OVERRIDE);
    set_str(&a.extra, "response_type=token");
    assert_authz_refused(&a, OVERRIDE);
    set_str(&a.extra, "a=1#frag");
    assert_authz_refused(&a, INVALID);
}


static void
test_url_build(void **state)
{
    char              out[256];
    size_t            len;
    ngx_oidc_err_t    err;
    ngx_oidc_str_t    endpoint, ex;
    ngx_oidc_param_t  p[2];

    (void) state;

    /* RP-initiated logout */
    memset(p, 0, sizeof(p));
    set_str(&endpoint, "https://idp.example.com/logout");
    set_str(&p[0].name, "id_token_hint");
    set_str(&p[0].value, "eyJ.eyJ.sig");
    set_str(&p[1].name, "post_logout_redirect_uri");
    set_str(&p[1].value, "https://rp/");

    assert_int_equal(ngx_oidc_url_build(&endpoint, p, 2, NULL,
                                        (unsigned char *) out, sizeof(out),
                                        &len, &err),
                     NGX_OIDC_OK);
    assert_int_equal(len, ngx_oidc_url_build_len(&endpoint, p, 2, NULL));
    out[len] = '\0';
    assert_string_equal(out, "https://idp.example.com/logout"
                             "?id_token_hint=eyJ.eyJ.sig"
                             "&post_logout_redirect_uri=https%3A%2F%2Frp%2F");

    /* nothing to add: the endpoint as is */
    p[0].value.data = NULL;
    p[1].value.data = NULL;
    assert_int_equal(ngx_oidc_url_build(&endpoint, p, 2, NULL,
                                        (unsigned char *) out, sizeof(out),
                                        &len, &err),
                     NGX_OIDC_OK);
    out[len] = '\0';
    assert_string_equal(out, "https://idp.example.com/logout");

    /* extra only */
    set_str(&ex, "a=1");
    assert_int_equal(ngx_oidc_url_build(&endpoint, p, 2, &ex,
                                        (unsigned char *) out, sizeof(out),
                                        &len, &err),
                     NGX_OIDC_OK);
    out[len] = '\0';
    assert_string_equal(out, "https://idp.example.com/logout?a=1");

    /* an absent parameter's name is still reserved */
    set_str(&ex, "id_token_hint=x");
    assert_int_equal(ngx_oidc_url_build(&endpoint, p, 2, &ex,
                                        (unsigned char *) out, sizeof(out),
                                        &len, &err),
                     NGX_OIDC_DECLINED);
    assert_string_equal(err.reason, OVERRIDE);
}


/* NULL when safe, else the rule broken (valid until the next call) */

static const char *
ret(const unsigned char *url, size_t len)
{
    static ngx_oidc_err_t  err;

    memset(&err, 0, sizeof(ngx_oidc_err_t));

    if (ngx_oidc_return_url_check(url, len, &err) == NGX_OIDC_OK) {
        return NULL;
    }

    assert_non_null(err.reason);
    assert_string_equal(err.reason, "unsafe return url");
    assert_true(err.detail[0] != '\0');

    return err.detail;
}


#define assert_safe(url)    assert_null(ret(S(url)))
#define assert_unsafe(url)  assert_non_null(ret(S(url)))

#define assert_unsafe_why(url, why)                                          \
    do {                                                                     \
        const char  *w_ = ret(S(url));                                       \
        assert_non_null(w_);                                                 \
        assert_string_equal(w_, why);                                        \
    } while (0)


static void
test_return_url_safe(void **state)
{
    (void) state;

    assert_safe("/");
    assert_safe("/a");
    assert_safe("/a/b/?x=1&y=2");
    assert_safe("/a//b");
    assert_safe("/a/%2F%2Fb");
    assert_safe("/a%20b");
    assert_safe("/100%25");
    assert_safe("/100%2525");
    assert_safe("/.well-known/x");
    assert_safe("/a..b/...");
    assert_safe("/caf%C3%A9");
    assert_safe("/@evil.com");
    assert_safe("/a;b=c");

    /* the query is not decoded or path-checked */
    assert_safe("/?next=//evil");
    assert_safe("/a?x=%2F%2Fevil&y=\\");
    assert_safe("/a?b?c");
    assert_safe("/?");
}


static void
test_return_url_unsafe(void **state)
{
    (void) state;

    assert_unsafe("");
    assert_unsafe("a");
    assert_unsafe("?x=1");
    assert_unsafe("https://evil.com/");
    assert_unsafe("javascript:alert(1)");
    assert_unsafe("//evil.com");
    assert_unsafe("//");
    assert_unsafe("/\\evil.com");
    assert_unsafe("\\\\evil.com");
    assert_unsafe("/a\\b");
    assert_unsafe("/a#b");
    assert_unsafe("/#");

    /* control, space, non-ASCII bytes anywhere */
    assert_unsafe("/\t/evil.com");
    assert_unsafe("/a\r\nSet-Cookie:x");
    assert_unsafe("/a b");
    assert_unsafe("/caf\xc3\xa9");
    assert_unsafe("/a?x=\x7f");
    assert_unsafe("/a?x= ");
    assert_int_equal(ngx_oidc_return_url_check((const unsigned char *) "/a\0",
                                               3, NULL),
                     NGX_OIDC_DECLINED);

    assert_int_equal(ngx_oidc_return_url_check(NULL, 0, NULL),
                     NGX_OIDC_DECLINED);
}


static void
test_return_url_encoded(void **state)
{
    char  *big;

    (void) state;

    /* encoded variants */
    assert_unsafe("/%2F%2Fevil.com");
    assert_unsafe("/%2f/evil.com");
    assert_unsafe("/%5Cevil.com");
    assert_unsafe("/%5cevil.com");
    assert_unsafe("/a%5Cb");
    assert_unsafe("/%252F%252Fevil.com");
    assert_unsafe("/%25252F/evil.com");
    assert_unsafe("/%2525252F/evil.com");
    assert_unsafe("/%0d%0aSet-Cookie:x");
    assert_unsafe("/%00");
    assert_unsafe("/%09/evil.com");

    /* dot segments, raw or encoded */
    assert_unsafe("/./x");
    assert_unsafe("/.");
    assert_unsafe("/..");
    assert_unsafe("/a/../b");
    assert_unsafe("/a/..?x");
    assert_unsafe("/..//evil.com");
    assert_unsafe("/%2e%2e/x");
    assert_unsafe("/a/%2E/b");

    /* malformed percent-encoding in the path */
    assert_unsafe("/%zz");
    assert_unsafe("/%");
    assert_unsafe("/a%4");

    /* the rule each one breaks */
    assert_unsafe_why("https://evil.com/", "not an absolute path");
    assert_unsafe_why("//evil.com", "network-path reference");
    assert_unsafe_why("/\\evil.com", "network-path reference");
    assert_unsafe_why("/%2F%2Fevil.com", "network-path reference");
    assert_unsafe_why("/%252F%252Fevil.com", "network-path reference");
    assert_unsafe_why("/%25252F/evil.com", "network-path reference");
    assert_unsafe_why("/%2525252F/evil.com", "encoded too deeply");
    assert_unsafe_why("/a\\b", "backslash");
    assert_unsafe_why("/a%5Cb", "backslash");
    assert_unsafe_why("/%0d%0a", "control character");
    assert_unsafe_why("/a/%2e%2e/b", "dot segment");
    assert_unsafe_why("/%zz", "invalid percent-encoding");
    assert_unsafe_why("/a b", "character 0x20");

    /* length */
    big = malloc(NGX_OIDC_RETURN_URL_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', NGX_OIDC_RETURN_URL_MAX + 1);
    big[0] = '/';
    assert_null(ret((unsigned char *) big, NGX_OIDC_RETURN_URL_MAX));
    assert_non_null(ret((unsigned char *) big, NGX_OIDC_RETURN_URL_MAX + 1));
    free(big);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_form_parse),
        cmocka_unit_test(test_form_parse_refused),
        cmocka_unit_test(test_form_duplicates),
        cmocka_unit_test(test_form_build),
        cmocka_unit_test(test_authz_url),
        cmocka_unit_test(test_authz_url_refused),
        cmocka_unit_test(test_extra),
        cmocka_unit_test(test_url_build),
        cmocka_unit_test(test_return_url_safe),
        cmocka_unit_test(test_return_url_unsafe),
        cmocka_unit_test(test_return_url_encoded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
