
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

#include "ngx_oidc_b64.h"


typedef struct {
    const char  *plain;
    const char  *encoded;
} test_vector_t;


/* RFC 4648 section 10, with the padding RFC 7515 base64url leaves off */
static const test_vector_t  rfc4648_vectors[] = {
    { "", "" },
    { "f", "Zg" },
    { "fo", "Zm8" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg" },
    { "fooba", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy" },
};


static int
decode_str(const char *in, unsigned char *out, size_t *out_len)
{
    return ngx_oidc_b64url_decode(out, out_len, (const unsigned char *) in,
                                  strlen(in));
}


static void
test_rfc4648_encode(void **state)
{
    size_t         i, n;
    unsigned char  buf[16];

    (void) state;

    for (i = 0; i < sizeof(rfc4648_vectors) / sizeof(test_vector_t); i++) {
        n = ngx_oidc_b64url_encode(buf,
                           (const unsigned char *) rfc4648_vectors[i].plain,
                           strlen(rfc4648_vectors[i].plain));

        assert_int_equal(n, strlen(rfc4648_vectors[i].encoded));
        assert_int_equal(n, ngx_oidc_b64url_encoded_len(
                                 strlen(rfc4648_vectors[i].plain)));
        assert_memory_equal(buf, rfc4648_vectors[i].encoded, n);
    }
}


static void
test_rfc4648_decode(void **state)
{
    size_t         i, n;
    unsigned char  buf[16];

    (void) state;

    for (i = 0; i < sizeof(rfc4648_vectors) / sizeof(test_vector_t); i++) {
        n = 99;
        assert_int_equal(decode_str(rfc4648_vectors[i].encoded, buf, &n),
                         NGX_OIDC_OK);
        assert_int_equal(n, strlen(rfc4648_vectors[i].plain));
        assert_memory_equal(buf, rfc4648_vectors[i].plain, n);
        assert_true(n <= ngx_oidc_b64url_decoded_len(
                             strlen(rfc4648_vectors[i].encoded)));
    }
}


/* the two characters that differ from RFC 4648 section 4: "-" and "_" */

static void
test_url_alphabet(void **state)
{
    size_t                n;
    unsigned char         buf[8];
    static unsigned char  bytes[] = { 0xfb, 0xff, 0xbf, 0xff, 0xfe };

    (void) state;

    n = ngx_oidc_b64url_encode(buf, bytes, sizeof(bytes));
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "-_-___4", 7);

    n = 0;
    assert_int_equal(decode_str("-_-___4", buf, &n), NGX_OIDC_OK);
    assert_int_equal(n, sizeof(bytes));
    assert_memory_equal(buf, bytes, sizeof(bytes));
}


static void
test_round_trip(void **state)
{
    size_t         len, i, n, m;
    unsigned char  plain[100], enc[140], dec[140];

    (void) state;

    srand(4648);

    for (len = 0; len <= sizeof(plain); len++) {
        for (i = 0; i < len; i++) {
            plain[i] = (unsigned char) (rand() & 0xff);
        }

        n = ngx_oidc_b64url_encode(enc, plain, len);
        assert_int_equal(n, ngx_oidc_b64url_encoded_len(len));
        assert_true(n % 4 != 1);

        for (i = 0; i < n; i++) {
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_", enc[i]));
        }

        assert_int_equal(ngx_oidc_b64url_decode(dec, &m, enc, n),
                         NGX_OIDC_OK);
        assert_int_equal(m, len);
        assert_memory_equal(dec, plain, len);
    }
}


static void
test_refuse_padding(void **state)
{
    size_t         n;
    unsigned char  buf[16];

    (void) state;

    assert_int_equal(decode_str("Zg==", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm8=", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zg=", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9v====", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("=", buf, &n), NGX_OIDC_DECLINED);
}


static void
test_refuse_standard_alphabet(void **state)
{
    size_t         n;
    unsigned char  buf[16];

    (void) state;

    /* the same bytes as "-_-___4" in RFC 4648 section 4's alphabet */
    assert_int_equal(decode_str("+/+///4", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9+", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9/", buf, &n), NGX_OIDC_DECLINED);
}


static void
test_refuse_whitespace_and_others(void **state)
{
    size_t         n;
    unsigned char  buf[16];

    (void) state;

    assert_int_equal(decode_str("Zm 9v", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9v\n", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9v\r\n", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str(" Zm9v", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm\t9v", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9.", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9\xc3\xa9", buf, &n), NGX_OIDC_DECLINED);

    /* a NUL inside the counted input is not an end */
    assert_int_equal(ngx_oidc_b64url_decode(buf, &n,
                                            (const unsigned char *) "Zm\0v",
                                            4),
                     NGX_OIDC_DECLINED);
}


static void
test_refuse_len_mod4_1(void **state)
{
    size_t         n;
    unsigned char  buf[16];

    (void) state;

    assert_int_equal(decode_str("Z", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9vY", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9vYmFyZ", buf, &n), NGX_OIDC_DECLINED);
}


/* one encoding per value: the unused bits of the last character are 0 */

static void
test_refuse_non_canonical(void **state)
{
    size_t         n;
    unsigned char  buf[16];

    (void) state;

    assert_int_equal(decode_str("QQ", buf, &n), NGX_OIDC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(buf[0], 'A');

    assert_int_equal(decode_str("QR", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("QX", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Q_", buf, &n), NGX_OIDC_DECLINED);

    assert_int_equal(decode_str("QUE", buf, &n), NGX_OIDC_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "AA", 2);

    assert_int_equal(decode_str("QUF", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("QUH", buf, &n), NGX_OIDC_DECLINED);

    /* "Zh" and "Zm9" are "Zg" and "Zm8" with stray bits */
    assert_int_equal(decode_str("Zh", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9", buf, &n), NGX_OIDC_DECLINED);
    assert_int_equal(decode_str("Zm9vZh", buf, &n), NGX_OIDC_DECLINED);
}


static void
test_ct_equal(void **state)
{
    (void) state;

    assert_int_equal(ngx_oidc_ct_equal("abcdef", "abcdef", 6), 1);
    assert_int_equal(ngx_oidc_ct_equal("abcdef", "abcdeg", 6), 0);
    assert_int_equal(ngx_oidc_ct_equal("xbcdef", "abcdef", 6), 0);
    assert_int_equal(ngx_oidc_ct_equal("a", "b", 0), 1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_rfc4648_encode),
        cmocka_unit_test(test_rfc4648_decode),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refuse_padding),
        cmocka_unit_test(test_refuse_standard_alphabet),
        cmocka_unit_test(test_refuse_whitespace_and_others),
        cmocka_unit_test(test_refuse_len_mod4_1),
        cmocka_unit_test(test_refuse_non_canonical),
        cmocka_unit_test(test_ct_equal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
