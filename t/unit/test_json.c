
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


#define TEST_MAX  65536


static const char  lifen[] =
    "{\"sub\":\"auth0|42\","
    "\"http://lifen.fr/userInfo\":{\"uuid\":\"u-1\","
    "\"currentWorkspaceId\":\"w-9\",\"roles\":[\"a\",\"b\"]}}";


static json_t *
parse(const char *s)
{
    ngx_oidc_err_t  err;

    return ngx_oidc_json_parse((const unsigned char *) s, strlen(s),
                               TEST_MAX, &err);
}


static void
assert_refused(const char *s, const char *reason)
{
    json_t          *j;
    ngx_oidc_err_t   err;

    err.reason = NULL;
    j = ngx_oidc_json_parse((const unsigned char *) s, strlen(s), TEST_MAX,
                            &err);
    assert_null(j);
    assert_non_null(err.reason);

    if (reason != NULL) {
        assert_string_equal(err.reason, reason);
    }
}


/* a path from NULL-terminated segments */

static ngx_oidc_claim_path_t *
path_make(const char *first, ...)
{
    size_t                  n;
    va_list                 args;
    const char             *s;
    ngx_oidc_str_t          segs[8];
    ngx_oidc_claim_path_t  *path;

    n = 0;
    va_start(args, first);

    for (s = first; s != NULL && n < 8; s = va_arg(args, const char *)) {
        segs[n].data = (unsigned char *) s;
        segs[n].len = strlen(s);
        n++;
    }

    va_end(args);

    path = ngx_oidc_claim_path_create(segs, n);
    assert_non_null(path);

    return path;
}


static json_t *
path_get(json_t *root, ngx_oidc_claim_path_t *path)
{
    json_t  *v;

    v = ngx_oidc_claim_path_get(root, path);
    ngx_oidc_claim_path_free(path);

    return v;
}


/* renders and compares; "expect" NULL means NGX_OIDC_DECLINED */

static void
assert_render(json_t *v, const char *expect)
{
    int             rc;
    size_t          len;
    unsigned char  *out;

    out = NULL;
    len = 12345;

    rc = ngx_oidc_json_render(v, &out, &len);

    if (expect == NULL) {
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        return;
    }

    assert_int_equal(rc, NGX_OIDC_OK);
    assert_non_null(out);
    assert_int_equal(len, strlen(expect));
    assert_memory_equal(out, expect, len);

    free(out);
}


static void
assert_render_doc(const char *doc, const char *expect)
{
    json_t  *root;

    root = parse(doc);
    assert_non_null(root);
    assert_render(json_object_get(root, "v"), expect);
    json_decref(root);
}


static char *
nested(const char *open, const char *inner, const char *close, int depth)
{
    int     i;
    char   *s;
    size_t  size;

    size = (strlen(open) + strlen(close)) * depth + strlen(inner) + 1;
    s = malloc(size);
    assert_non_null(s);
    s[0] = '\0';

    for (i = 0; i < depth; i++) {
        strcat(s, open);
    }

    strcat(s, inner);

    for (i = 0; i < depth; i++) {
        strcat(s, close);
    }

    return s;
}


static void
test_parse_ok(void **state)
{
    json_t          *j;
    ngx_oidc_err_t   err;

    (void) state;

    j = parse("{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{\"d\":1.5}}");
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    json_decref(j);

    /* the same member name in different objects is no duplicate */
    j = parse("{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}");
    assert_non_null(j);
    json_decref(j);

    /* exactly "max" bytes is allowed; "len" bounds the input, not a NUL */
    j = ngx_oidc_json_parse((const unsigned char *) "{\"a\":1}garbage", 7,
                            7, &err);
    assert_non_null(j);
    json_decref(j);
}


static void
test_parse_duplicates(void **state)
{
    (void) state;

    assert_refused("{\"a\":1,\"a\":2}", "invalid json");
    assert_refused("{\"a\":1,\"b\":2,\"a\":1}", "invalid json");

    /* jansson compares member names after unescaping */
    assert_refused("{\"a\":1,\"\\u0061\":2}", "invalid json");

    /* JSON_REJECT_DUPLICATES reaches nested objects too */
    assert_refused("{\"x\":{\"a\":1,\"a\":2}}", "invalid json");
    assert_refused("{\"x\":[{\"a\":1,\"a\":2}]}", "invalid json");
    assert_refused("{\"x\":{\"y\":[1,{\"z\":{\"a\":{},\"a\":[]}}]}}",
                   "invalid json");
    assert_refused("{\"http://lifen.fr/userInfo\":{\"uuid\":\"u-1\","
                   "\"uuid\":\"u-2\"}}", "invalid json");
}


static void
test_parse_not_object(void **state)
{
    (void) state;

    assert_refused("[]", "json document is not an object");
    assert_refused("[{\"a\":1}]", "json document is not an object");

    /* without JSON_DECODE_ANY jansson itself wants "[" or "{" first */
    assert_refused("\"s\"", "invalid json");
    assert_refused("1", "invalid json");
    assert_refused("null", "invalid json");
    assert_refused("true", "invalid json");
}


static void
test_parse_invalid(void **state)
{
    (void) state;

    assert_refused("", "invalid json");
    assert_refused("{", "invalid json");
    assert_refused("{\"a\":1}x", "invalid json");
    assert_refused("{\"a\":1}{}", "invalid json");
    assert_refused("{\"a\":'x'}", "invalid json");
    assert_refused("{\"a\":\"\xff\"}", "invalid json");
    assert_refused("{\"a\":\"\xc0\xaf\"}", "invalid json");
    assert_refused("{\"a\":\"\\ud800\"}", "invalid json");
    assert_refused("{\"a\":1,}", "invalid json");
    assert_refused("{\"a\":99999999999999999999}", "invalid json");
    assert_refused("{\"a\":1e400}", "invalid json");
    assert_refused("{\"a\":NaN}", "invalid json");
}


/* jansson quotes the bytes it stopped at; the detail goes to a log line */

static void
test_parse_detail_printable(void **state)
{
    size_t           i;
    json_t          *j;
    const char      *d;
    ngx_oidc_err_t   err;

    static const char  *docs[] = {
        "{\"alg\":\"RS256\",\x1b[31m}",
        "{\"a\":\x01}",
        "{\"a\":1,\x7f}",
        "{\"a\":tru\x1b}",
        "{\"a\":\"\xc3\xa9\",\xc3\xa9}",
    };

    (void) state;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        memset(&err, 0, sizeof(err));

        j = ngx_oidc_json_parse((const unsigned char *) docs[i],
                                strlen(docs[i]), 1024, &err);

        assert_null(j);
        assert_string_equal(err.reason, "invalid json");
        assert_true(err.detail[0] != '\0');

        for (d = err.detail; *d != '\0'; d++) {
            assert_true((unsigned char) *d >= 0x20
                        && (unsigned char) *d < 0x7f);
        }
    }
}


static void
test_parse_oversize(void **state)
{
    json_t          *j;
    ngx_oidc_err_t   err;
    const char      *s = "{\"a\":\"0123456789\"}";

    (void) state;

    j = ngx_oidc_json_parse((const unsigned char *) s, strlen(s),
                            strlen(s) - 1, &err);
    assert_null(j);
    assert_string_equal(err.reason, "json document too large");

    j = ngx_oidc_json_parse((const unsigned char *) s, strlen(s),
                            strlen(s), &err);
    assert_non_null(j);
    json_decref(j);
}


static void
test_parse_depth(void **state)
{
    char    *s, *doc;
    json_t  *j;

    (void) state;

    /* the innermost value at depth NGX_OIDC_JSON_MAX_DEPTH is allowed */
    s = nested("{\"a\":", "1", "}", NGX_OIDC_JSON_MAX_DEPTH);
    j = parse(s);
    assert_non_null(j);
    json_decref(j);
    free(s);

    s = nested("{\"a\":", "1", "}", NGX_OIDC_JSON_MAX_DEPTH + 1);
    assert_refused(s, "json document nested too deeply");
    free(s);

    /* arrays count as well: {"a":[[...[1]...]]} */
    s = nested("[", "1", "]", NGX_OIDC_JSON_MAX_DEPTH - 1);
    doc = nested("{\"a\":", s, "}", 1);
    j = parse(doc);
    assert_non_null(j);
    json_decref(j);
    free(doc);
    free(s);

    s = nested("[", "1", "]", NGX_OIDC_JSON_MAX_DEPTH);
    doc = nested("{\"a\":", s, "}", 1);
    assert_refused(doc, "json document nested too deeply");
    free(doc);
    free(s);

    /* beyond jansson's own limit (2048) the parser itself refuses */
    s = nested("{\"a\":", "1", "}", 5000);
    assert_refused(s, "invalid json");
    free(s);
}


static void
test_parse_nul(void **state)
{
    json_t          *j;
    ngx_oidc_err_t   err;

    (void) state;

    assert_refused("{\"a\":\"x\\u0000y\"}", "invalid json");
    assert_refused("{\"a\":[\"\\u0000\"]}", "invalid json");
    assert_refused("{\"a\\u0000b\":1}", "invalid json");

    /* a raw NUL byte is invalid JSON in any case */
    j = ngx_oidc_json_parse((const unsigned char *) "{\"a\":\"x\0y\"}", 11,
                            TEST_MAX, &err);
    assert_null(j);
}


static void
test_path_lifen(void **state)
{
    json_t  *root, *v;

    (void) state;

    root = parse(lifen);
    assert_non_null(root);

    v = path_get(root, path_make("http://lifen.fr/userInfo", "uuid", NULL));
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), "u-1");
    assert_render(v, "u-1");

    v = path_get(root, path_make("http://lifen.fr/userInfo",
                                 "currentWorkspaceId", NULL));
    assert_string_equal(json_string_value(v), "w-9");

    v = path_get(root, path_make("http://lifen.fr/userInfo", "roles",
                                 NULL));
    assert_true(json_is_array(v));
    assert_render(v, "a,b");

    v = path_get(root, path_make("http://lifen.fr/userInfo", NULL));
    assert_render(v, "{\"uuid\":\"u-1\",\"currentWorkspaceId\":\"w-9\","
                     "\"roles\":[\"a\",\"b\"]}");

    v = path_get(root, path_make("sub", NULL));
    assert_render(v, "auth0|42");

    json_decref(root);
}


static void
test_path_index(void **state)
{
    json_t  *root, *v;

    (void) state;

    root = parse(lifen);
    assert_non_null(root);

    v = path_get(root, path_make("http://lifen.fr/userInfo", "roles", "0",
                                 NULL));
    assert_string_equal(json_string_value(v), "a");

    v = path_get(root, path_make("http://lifen.fr/userInfo", "roles", "1",
                                 NULL));
    assert_string_equal(json_string_value(v), "b");

    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "roles", "2", NULL)));

    /* only canonical decimal indexes */
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "roles", "01", NULL)));
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "roles", "+1", NULL)));
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "roles", "-1", NULL)));
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "roles", "", NULL)));
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "roles",
                                         "184467440737095516160000",
                                         NULL)));

    json_decref(root);

    /* a digit segment names a member of an object */
    root = parse("{\"0\":\"zero\",\"a\":[[10,11],[20,21]]}");
    assert_non_null(root);

    v = path_get(root, path_make("0", NULL));
    assert_string_equal(json_string_value(v), "zero");

    v = path_get(root, path_make("a", "1", "0", NULL));
    assert_int_equal(json_integer_value(v), 20);

    json_decref(root);
}


static void
test_path_missing(void **state)
{
    json_t                 *root, *v;
    ngx_oidc_str_t          seg;
    ngx_oidc_claim_path_t  *path;

    (void) state;

    root = parse(lifen);
    assert_non_null(root);

    assert_null(path_get(root, path_make("nope", NULL)));
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "nope", NULL)));

    /* no dot syntax: "a.b" is one member name */
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo.uuid",
                                         NULL)));

    /* the path goes on past a string */
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo", "uuid",
                                         "x", NULL)));
    assert_null(path_get(root, path_make("sub", "0", NULL)));

    /* a name in an array */
    assert_null(path_get(root, path_make("http://lifen.fr/userInfo",
                                         "roles", "a", NULL)));

    /* matching is case-sensitive */
    assert_null(path_get(root, path_make("SUB", NULL)));

    assert_null(ngx_oidc_claim_path_get(NULL, NULL));

    json_decref(root);

    root = parse("{\"a.b\":1,\"a\":{\"b\":2},\"\":3,\"x\":null}");
    assert_non_null(root);

    v = path_get(root, path_make("a.b", NULL));
    assert_int_equal(json_integer_value(v), 1);

    v = path_get(root, path_make("a", "b", NULL));
    assert_int_equal(json_integer_value(v), 2);

    v = path_get(root, path_make("", NULL));
    assert_int_equal(json_integer_value(v), 3);

    /* present but null is not absent */
    v = path_get(root, path_make("x", NULL));
    assert_true(json_is_null(v));
    assert_null(path_get(root, path_make("x", "y", NULL)));

    /* a segment holding a NUL never matches, not even its prefix */
    seg.data = (unsigned char *) "a\0b";
    seg.len = 3;
    path = ngx_oidc_claim_path_create(&seg, 1);
    assert_non_null(path);
    assert_null(ngx_oidc_claim_path_get(root, path));
    ngx_oidc_claim_path_free(path);

    json_decref(root);

    assert_null(ngx_oidc_claim_path_create(&seg, 0));
    ngx_oidc_claim_path_free(NULL);
}


/* the caller's segments are copied */

static void
test_path_copies(void **state)
{
    char                    name[8];
    json_t                 *root, *v;
    ngx_oidc_str_t          seg;
    ngx_oidc_claim_path_t  *path;

    (void) state;

    strcpy(name, "sub");
    seg.data = (unsigned char *) name;
    seg.len = 3;

    path = ngx_oidc_claim_path_create(&seg, 1);
    assert_non_null(path);
    memset(name, 'x', sizeof(name));

    root = parse(lifen);
    assert_non_null(root);

    v = ngx_oidc_claim_path_get(root, path);
    assert_string_equal(json_string_value(v), "auth0|42");

    ngx_oidc_claim_path_free(path);
    json_decref(root);
}


static void
test_render_scalars(void **state)
{
    (void) state;

    assert_render_doc("{\"v\":\"abc\"}", "abc");
    assert_render_doc("{\"v\":\"\"}", "");
    assert_render_doc("{\"v\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
                      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_render_doc("{\"v\":\"\\u00e9\"}", "\xc3\xa9");
    assert_render_doc("{\"v\":\"a \\\"q\\\" \\\\ /\"}", "a \"q\" \\ /");
    assert_render_doc("{\"v\":42}", "42");
    assert_render_doc("{\"v\":-7}", "-7");
    assert_render_doc("{\"v\":0}", "0");
    assert_render_doc("{\"v\":9223372036854775807}", "9223372036854775807");
    assert_render_doc("{\"v\":1.5}", "1.5");
    assert_render_doc("{\"v\":0.1}", "0.1");
    assert_render_doc("{\"v\":-0.25}", "-0.25");
    assert_render_doc("{\"v\":100.0}", "100.0");
    assert_render_doc("{\"v\":1e2}", "100.0");
    assert_render_doc("{\"v\":1700000000.5}", "1700000000.5");
    assert_render_doc("{\"v\":1e20}", "1e20");
    assert_render_doc("{\"v\":1e-7}", "1e-7");
    assert_render_doc("{\"v\":0.30000000000000004}",
                      "0.30000000000000004");
    assert_render_doc("{\"v\":true}", "true");
    assert_render_doc("{\"v\":false}", "false");
    assert_render_doc("{\"v\":null}", "");
}


static void
test_render_arrays(void **state)
{
    (void) state;

    assert_render_doc("{\"v\":[\"a\",\"b\"]}", "a,b");
    assert_render_doc("{\"v\":[\"a\"]}", "a");
    assert_render_doc("{\"v\":[]}", "");
    assert_render_doc("{\"v\":[\"\",\"\"]}", ",");
    assert_render_doc("{\"v\":[1,\"x\",true,null,0.1,{\"k\":\"v\"},[1,\"y\"]]}",
                      "1,x,true,null,0.1,{\"k\":\"v\"},[1,\"y\"]");

    /* joined strings are not quoted: the commas are ambiguous */
    assert_render_doc("{\"v\":[\"a,b\",\"c\"]}", "a,b,c");
}


static void
test_render_objects(void **state)
{
    (void) state;

    assert_render_doc("{\"v\":{}}", "{}");

    /* compact, document order, non-ASCII kept, "/" not escaped */
    assert_render_doc("{\"v\":{ \"z\" : 1 , \"a\" : [ 1 , 2 ],"
                      " \"m\" : { \"n\" : \"\xc3\xa9/x\" }, \"r\": 2.5 }}",
                      "{\"z\":1,\"a\":[1,2],\"m\":{\"n\":\"\xc3\xa9/x\"},"
                      "\"r\":2.5}");

    /* quotes and backslashes are JSON-escaped, which is printable */
    assert_render_doc("{\"v\":{\"q\":\"a\\\"b\\\\c\"}}",
                      "{\"q\":\"a\\\"b\\\\c\"}");

    /* reals nested in JSON also get their shortest exact form */
    assert_render_doc("{\"v\":{\"a\":0.1,\"b\":[100.0,1.25]}}",
                      "{\"a\":0.1,\"b\":[100.0,1.25]}");
}


static void
test_render_control(void **state)
{
    (void) state;

    assert_render_doc("{\"v\":\"a\\nb\"}", NULL);
    assert_render_doc("{\"v\":\"a\\rb\"}", NULL);
    assert_render_doc("{\"v\":\"\\t\"}", NULL);
    assert_render_doc("{\"v\":\"\\u001f\"}", NULL);
    assert_render_doc("{\"v\":\"\\u007f\"}", NULL);
    assert_render_doc("{\"v\":\"x\x7fy\"}", NULL);

    /* inside arrays, joined unquoted or as JSON */
    assert_render_doc("{\"v\":[\"ok\",\"a\\nb\"]}", NULL);
    assert_render_doc("{\"v\":[[\"a\\nb\"]]}", NULL);
    assert_render_doc("{\"v\":[{\"k\":\"\\u0001\"}]}", NULL);

    /* inside objects, although compact JSON would escape them */
    assert_render_doc("{\"v\":{\"k\":\"a\\nb\"}}", NULL);
    assert_render_doc("{\"v\":{\"k\":{\"l\":[\"\\r\\n\"]}}}", NULL);
    assert_render_doc("{\"v\":{\"a\\nb\":1}}", NULL);

    /* jansson does not escape DEL: it would reach the bytes */
    assert_render_doc("{\"v\":{\"k\":\"\\u007f\"}}", NULL);

    /* C1 controls are not bytes below 0x20: U+0085 is 0xc2 0x85 */
    assert_render_doc("{\"v\":\"\\u0085\"}", "\xc2\x85");
}


static void
test_render_limits(void **state)
{
    int             rc;
    char           *s;
    size_t          len, i;
    json_t         *v, *a;
    unsigned char  *out;

    (void) state;

    s = malloc(NGX_OIDC_JSON_RENDER_MAX + 2);
    assert_non_null(s);
    memset(s, 'x', NGX_OIDC_JSON_RENDER_MAX + 1);
    s[NGX_OIDC_JSON_RENDER_MAX + 1] = '\0';

    v = json_string(s);
    assert_non_null(v);
    assert_render(v, NULL);
    json_decref(v);

    s[NGX_OIDC_JSON_RENDER_MAX] = '\0';
    v = json_string(s);
    assert_non_null(v);
    out = NULL;
    rc = ngx_oidc_json_render(v, &out, &len);
    assert_int_equal(rc, NGX_OIDC_OK);
    assert_int_equal(len, NGX_OIDC_JSON_RENDER_MAX);
    free(out);

    /* as a JSON string the quotes push it over */
    a = json_pack("{s:O}", "k", v);
    assert_non_null(a);
    assert_render(a, NULL);
    json_decref(a);
    json_decref(v);

    /* joined array: 2 * 32768 bytes plus one comma */
    s[NGX_OIDC_JSON_RENDER_MAX / 2] = '\0';
    a = json_array();
    json_array_append_new(a, json_string(s));
    json_array_append_new(a, json_string(s));
    assert_render(a, NULL);
    json_decref(a);

    free(s);

    /* many small elements */
    a = json_array();

    for (i = 0; i < 40000; i++) {
        json_array_append_new(a, json_integer(1));
    }

    assert_render(a, NULL);
    json_decref(a);

    /* deeper than any parsed document can be */
    v = json_integer(1);

    for (i = 0; i < NGX_OIDC_JSON_MAX_DEPTH + 1; i++) {
        a = json_array();
        json_array_append_new(a, v);
        v = a;
    }

    assert_render(v, NULL);
    json_decref(v);

    assert_int_equal(ngx_oidc_json_render(NULL, &out, &len), NGX_OIDC_ERROR);
}


static void
test_get_string(void **state)
{
    size_t       len;
    json_t      *root;
    const char  *s;

    (void) state;

    root = parse("{\"s\":\"abc\",\"n\":1,\"e\":\"\"}");
    assert_non_null(root);

    s = ngx_oidc_json_get_string(root, "s", &len);
    assert_string_equal(s, "abc");
    assert_int_equal(len, 3);

    s = ngx_oidc_json_get_string(root, "e", &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);

    assert_null(ngx_oidc_json_get_string(root, "n", &len));
    assert_null(ngx_oidc_json_get_string(root, "x", NULL));

    json_decref(root);
}


static void
test_get_time(void **state)
{
    time_t   t;
    json_t  *root;

    (void) state;

    root = parse("{\"i\":1700000000,\"r\":1700000000.9,\"neg\":-1.5,"
                 "\"zero\":0,\"s\":\"1700000000\",\"b\":true,\"n\":null,"
                 "\"big\":1000000000000001,\"bigr\":1e16,"
                 "\"max\":1000000000000000,\"huge\":9223372036854775807,"
                 "\"tiny\":-9223372036854775808}");
    assert_non_null(root);

    assert_int_equal(ngx_oidc_json_get_time(root, "i", &t), NGX_OIDC_OK);
    assert_int_equal(t, 1700000000);

    assert_int_equal(ngx_oidc_json_get_time(root, "r", &t), NGX_OIDC_OK);
    assert_int_equal(t, 1700000000);

    assert_int_equal(ngx_oidc_json_get_time(root, "neg", &t), NGX_OIDC_OK);
    assert_int_equal(t, -2);

    assert_int_equal(ngx_oidc_json_get_time(root, "zero", &t), NGX_OIDC_OK);
    assert_int_equal(t, 0);

    assert_int_equal(ngx_oidc_json_get_time(root, "max", &t), NGX_OIDC_OK);

    assert_int_equal(ngx_oidc_json_get_time(root, "s", &t),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_json_get_time(root, "b", &t),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_json_get_time(root, "n", &t),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_json_get_time(root, "x", &t),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_json_get_time(root, "big", &t),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_json_get_time(root, "bigr", &t),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_json_get_time(root, "huge", &t),
                     NGX_OIDC_DECLINED);
    assert_int_equal(ngx_oidc_json_get_time(root, "tiny", &t),
                     NGX_OIDC_DECLINED);

    json_decref(root);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_duplicates),
        cmocka_unit_test(test_parse_not_object),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_detail_printable),
        cmocka_unit_test(test_parse_oversize),
        cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_parse_nul),
        cmocka_unit_test(test_path_lifen),
        cmocka_unit_test(test_path_index),
        cmocka_unit_test(test_path_missing),
        cmocka_unit_test(test_path_copies),
        cmocka_unit_test(test_render_scalars),
        cmocka_unit_test(test_render_arrays),
        cmocka_unit_test(test_render_objects),
        cmocka_unit_test(test_render_control),
        cmocka_unit_test(test_render_limits),
        cmocka_unit_test(test_get_string),
        cmocka_unit_test(test_get_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
