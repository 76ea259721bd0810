
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <string.h>
#include <strings.h>

#include "ngx_oidc_url.h"


/* decodings of a return path after the first one, at most */
#define NGX_OIDC_RETURN_ROUNDS  3

#define NGX_OIDC_AUTHZ_NPARAMS  8


/* a writer that only counts when "dst" is NULL */
typedef struct {
    unsigned char        *dst;
    size_t                len;
} ngx_oidc_url_buf_t;


static int ngx_oidc_url_hex(unsigned char c);
static int ngx_oidc_url_is_unreserved(unsigned char c);
static int ngx_oidc_url_is_query_char(unsigned char c);
static int ngx_oidc_url_has_ctl(const unsigned char *p, size_t len);
static int ngx_oidc_form_piece(const unsigned char *p,
    const unsigned char *end, unsigned char **pos, ngx_oidc_param_t *param,
    ngx_oidc_err_t *err);
static void ngx_oidc_form_mark_dups(ngx_oidc_param_t *params, size_t n);
static void ngx_oidc_url_put(ngx_oidc_url_buf_t *buf, const void *p,
    size_t len);
static void ngx_oidc_url_put_escaped(ngx_oidc_url_buf_t *buf,
    const ngx_oidc_str_t *s, unsigned mode);
static void ngx_oidc_form_write(ngx_oidc_url_buf_t *buf,
    const ngx_oidc_param_t *params, size_t n, unsigned mode);
static int ngx_oidc_url_extra_piece(const unsigned char *p, size_t len,
    const ngx_oidc_str_t *reserved, size_t n, ngx_oidc_err_t *err);
static int ngx_oidc_url_name_is(const unsigned char *p, size_t len,
    const ngx_oidc_str_t *name);
static int ngx_oidc_url_endpoint_valid(const ngx_oidc_str_t *endpoint);
static void ngx_oidc_url_write(ngx_oidc_url_buf_t *buf,
    const ngx_oidc_str_t *endpoint, const ngx_oidc_param_t *params,
    size_t n, const ngx_oidc_str_t *extra);
static void ngx_oidc_authz_params(const ngx_oidc_authz_t *authz,
    ngx_oidc_param_t *params);
static const char *ngx_oidc_return_path_check(const unsigned char *p,
    size_t len);
static int ngx_oidc_return_path_decode(unsigned char *p, size_t *len);


static const char  ngx_oidc_url_hexdigits[] = "0123456789ABCDEF";


/* in the order they are sent; all reserved against extra arguments */
static const ngx_oidc_str_t  ngx_oidc_authz_names[NGX_OIDC_AUTHZ_NPARAMS] = {
    ngx_oidc_string("response_type"),
    ngx_oidc_string("client_id"),
    ngx_oidc_string("redirect_uri"),
    ngx_oidc_string("scope"),
    ngx_oidc_string("state"),
    ngx_oidc_string("nonce"),
    ngx_oidc_string("code_challenge"),
    ngx_oidc_string("code_challenge_method"),
};


/* the value of a hex digit, or -1 */

static int
ngx_oidc_url_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
ngx_oidc_url_is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}


/*
 * RFC 3986 3.4 query characters but "%" and ";": some form parsers
 * (Python's before 3.9.2, HTML 4) split pairs on ";" too
 */

static int
ngx_oidc_url_is_query_char(unsigned char c)
{
    return ngx_oidc_url_is_unreserved(c)
           || (c != '\0' && strchr("!$&'()*+,=:@/?", c) != NULL);
}


static int
ngx_oidc_url_has_ctl(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            return 1;
        }
    }

    return 0;
}


size_t
ngx_oidc_url_escape_len(const unsigned char *src, size_t len, unsigned mode)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (ngx_oidc_url_is_unreserved(src[i])
            || (mode == NGX_OIDC_URL_FORM && src[i] == ' '))
        {
            n++;

        } else {
            n += 3;
        }
    }

    return n;
}


size_t
ngx_oidc_url_escape(unsigned char *dst, const unsigned char *src,
    size_t len, unsigned mode)
{
    size_t          i;
    unsigned char  *d;

    d = dst;

    for (i = 0; i < len; i++) {
        if (ngx_oidc_url_is_unreserved(src[i])) {
            *d++ = src[i];

        } else if (mode == NGX_OIDC_URL_FORM && src[i] == ' ') {
            *d++ = '+';

        } else {
            *d++ = '%';
            *d++ = ngx_oidc_url_hexdigits[src[i] >> 4];
            *d++ = ngx_oidc_url_hexdigits[src[i] & 0x0f];
        }
    }

    return d - dst;
}


int
ngx_oidc_url_unescape(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len, unsigned mode)
{
    int             hi, lo;
    size_t          i;
    unsigned char  *d;

    d = dst;

    for (i = 0; i < len; i++) {
        if (src[i] == '%') {
            if (len - i < 3) {
                return NGX_OIDC_DECLINED;
            }

            hi = ngx_oidc_url_hex(src[i + 1]);
            lo = ngx_oidc_url_hex(src[i + 2]);

            if (hi < 0 || lo < 0) {
                return NGX_OIDC_DECLINED;
            }

            *d++ = (unsigned char) (hi << 4 | lo);
            i += 2;

        } else if (src[i] == '+' && mode == NGX_OIDC_URL_FORM) {
            *d++ = ' ';

        } else {
            *d++ = src[i];
        }
    }

    *dst_len = d - dst;

    return NGX_OIDC_OK;
}


int
ngx_oidc_form_parse(const unsigned char *src, size_t len, unsigned char *buf,
    ngx_oidc_param_t *params, size_t max, size_t *n, ngx_oidc_err_t *err)
{
    int                   rc;
    size_t                count;
    unsigned char        *pos;
    const unsigned char  *p, *last, *end;

    count = 0;
    pos = buf;
    p = src;
    last = (src != NULL) ? src + len : NULL;

    while (p < last) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        if (end > p) {
            if (count == max) {
                ngx_oidc_err_set(err, "too many parameters", "limit %zu",
                                 max);
                return NGX_OIDC_DECLINED;
            }

            rc = ngx_oidc_form_piece(p, end, &pos, &params[count], err);
            if (rc != NGX_OIDC_OK) {
                return rc;
            }

            count++;
        }

        p = (end < last) ? end + 1 : last;
    }

    ngx_oidc_form_mark_dups(params, count);

    *n = count;

    return NGX_OIDC_OK;
}


/* decodes one "name[=value]" into *pos and advances it */

static int
ngx_oidc_form_piece(const unsigned char *p, const unsigned char *end,
    unsigned char **pos, ngx_oidc_param_t *param, ngx_oidc_err_t *err)
{
    size_t                nlen, vlen;
    const unsigned char  *eq;

    eq = memchr(p, '=', end - p);

    if (ngx_oidc_url_unescape(*pos, &nlen, p, (eq ? eq : end) - p,
                              NGX_OIDC_URL_FORM)
        != NGX_OIDC_OK)
    {
        ngx_oidc_err_set(err, "invalid percent-encoding", NULL);
        return NGX_OIDC_DECLINED;
    }

    param->name.data = *pos;
    param->name.len = nlen;
    *pos += nlen;

    vlen = 0;

    if (eq != NULL
        && ngx_oidc_url_unescape(*pos, &vlen, eq + 1, end - eq - 1,
                                 NGX_OIDC_URL_FORM)
           != NGX_OIDC_OK)
    {
        ngx_oidc_err_set(err, "invalid percent-encoding", NULL);
        return NGX_OIDC_DECLINED;
    }

    param->value.data = *pos;
    param->value.len = vlen;
    param->dup = 0;
    *pos += vlen;

    if (ngx_oidc_url_has_ctl(param->name.data, nlen)
        || ngx_oidc_url_has_ctl(param->value.data, vlen))
    {
        ngx_oidc_err_set(err, "control character in parameter", NULL);
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


/* quadratic, but n <= NGX_OIDC_FORM_MAX_PARAMS in practice */

static void
ngx_oidc_form_mark_dups(ngx_oidc_param_t *params, size_t n)
{
    size_t  i, j;

    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            if (params[i].name.len == params[j].name.len
                && (params[i].name.len == 0
                    || memcmp(params[i].name.data, params[j].name.data,
                              params[i].name.len) == 0))
            {
                params[i].dup = 1;
                params[j].dup = 1;
            }
        }
    }
}


int
ngx_oidc_form_get(const ngx_oidc_param_t *params, size_t n,
    const char *name, ngx_oidc_str_t *value, ngx_oidc_err_t *err)
{
    size_t  i, len;

    len = strlen(name);

    value->data = NULL;
    value->len = 0;

    for (i = 0; i < n; i++) {
        if (params[i].name.len != len
            || memcmp(params[i].name.data, name, len) != 0)
        {
            continue;
        }

        if (params[i].dup) {
            value->data = NULL;
            value->len = 0;

            ngx_oidc_err_set(err, "duplicate parameter", "%.64s", name);
            return NGX_OIDC_DECLINED;
        }

        *value = params[i].value;

        /* present but empty: still non-NULL */
        if (value->data == NULL) {
            value->data = (unsigned char *) "";
        }

        return NGX_OIDC_OK;
    }

    return NGX_OIDC_OK;
}


static void
ngx_oidc_url_put(ngx_oidc_url_buf_t *buf, const void *p, size_t len)
{
    if (buf->dst != NULL && len > 0) {
        memcpy(buf->dst + buf->len, p, len);
    }

    buf->len += len;
}


static void
ngx_oidc_url_put_escaped(ngx_oidc_url_buf_t *buf, const ngx_oidc_str_t *s,
    unsigned mode)
{
    if (buf->dst != NULL) {
        buf->len += ngx_oidc_url_escape(buf->dst + buf->len, s->data, s->len,
                                        mode);

    } else {
        buf->len += ngx_oidc_url_escape_len(s->data, s->len, mode);
    }
}


static void
ngx_oidc_form_write(ngx_oidc_url_buf_t *buf, const ngx_oidc_param_t *params,
    size_t n, unsigned mode)
{
    size_t  i;
    int     first;

    first = 1;

    for (i = 0; i < n; i++) {
        if (params[i].value.data == NULL) {
            continue;
        }

        if (!first) {
            ngx_oidc_url_put(buf, "&", 1);
        }

        first = 0;

        ngx_oidc_url_put_escaped(buf, &params[i].name, mode);
        ngx_oidc_url_put(buf, "=", 1);
        ngx_oidc_url_put_escaped(buf, &params[i].value, mode);
    }
}


size_t
ngx_oidc_form_build_len(const ngx_oidc_param_t *params, size_t n,
    unsigned mode)
{
    ngx_oidc_url_buf_t  buf;

    buf.dst = NULL;
    buf.len = 0;

    ngx_oidc_form_write(&buf, params, n, mode);

    return buf.len;
}


size_t
ngx_oidc_form_build(unsigned char *dst, const ngx_oidc_param_t *params,
    size_t n, unsigned mode)
{
    ngx_oidc_url_buf_t  buf;

    buf.dst = dst;
    buf.len = 0;

    ngx_oidc_form_write(&buf, params, n, mode);

    return buf.len;
}


int
ngx_oidc_url_extra_check(const unsigned char *extra, size_t len,
    const ngx_oidc_str_t *reserved, size_t n, ngx_oidc_err_t *err)
{
    int                   rc;
    const unsigned char  *p, *last, *end;

    if (extra == NULL || len == 0) {
        ngx_oidc_err_set(err, "invalid extra arguments", "empty");
        return NGX_OIDC_DECLINED;
    }

    p = extra;
    last = extra + len;

    for ( ;; ) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        rc = ngx_oidc_url_extra_piece(p, end - p, reserved, n, err);
        if (rc != NGX_OIDC_OK) {
            return rc;
        }

        if (end == last) {
            return NGX_OIDC_OK;
        }

        p = end + 1;
    }
}


static int
ngx_oidc_url_extra_piece(const unsigned char *p, size_t len,
    const ngx_oidc_str_t *reserved, size_t n, ngx_oidc_err_t *err)
{
    size_t                i, nlen;
    const unsigned char  *eq;

    eq = memchr(p, '=', len);
    nlen = eq ? (size_t) (eq - p) : len;

    if (nlen == 0) {
        ngx_oidc_err_set(err, "invalid extra arguments", "empty name");
        return NGX_OIDC_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if (p[i] == '%') {
            if (len - i < 3 || ngx_oidc_url_hex(p[i + 1]) < 0
                || ngx_oidc_url_hex(p[i + 2]) < 0)
            {
                ngx_oidc_err_set(err, "invalid extra arguments",
                                 "invalid percent-encoding");
                return NGX_OIDC_DECLINED;
            }

        } else if (!ngx_oidc_url_is_query_char(p[i])) {
            ngx_oidc_err_set(err, "invalid extra arguments",
                             "character 0x%02x", p[i]);
            return NGX_OIDC_DECLINED;
        }
    }

    for (i = 0; i < n; i++) {
        if (ngx_oidc_url_name_is(p, nlen, &reserved[i])) {
            ngx_oidc_err_set(err, "extra argument overrides a parameter",
                             "%.*s", (int) (reserved[i].len < 64
                                            ? reserved[i].len : 64),
                             (const char *) reserved[i].data);
            return NGX_OIDC_DECLINED;
        }
    }

    return NGX_OIDC_OK;
}


/* 1 if the encoded name "p" decodes (form rules) to "name" */

static int
ngx_oidc_url_name_is(const unsigned char *p, size_t len,
    const ngx_oidc_str_t *name)
{
    int            hi, lo;
    size_t         i, j;
    unsigned char  c;

    j = 0;

    for (i = 0; i < len; i++) {
        c = p[i];

        if (c == '%' && len - i >= 3) {
            hi = ngx_oidc_url_hex(p[i + 1]);
            lo = ngx_oidc_url_hex(p[i + 2]);

            if (hi < 0 || lo < 0) {
                return 0;
            }

            c = (unsigned char) (hi << 4 | lo);
            i += 2;

        } else if (c == '+') {
            c = ' ';
        }

        if (j == name->len || name->data[j] != c) {
            return 0;
        }

        j++;
    }

    return j == name->len;
}


static int
ngx_oidc_url_endpoint_valid(const ngx_oidc_str_t *endpoint)
{
    size_t                i;
    const unsigned char  *p;

    p = endpoint->data;

    if (p == NULL
        || !((endpoint->len > sizeof("https://") - 1
              && strncasecmp((const char *) p, "https://", 8) == 0)
             || (endpoint->len > sizeof("http://") - 1
                 && strncasecmp((const char *) p, "http://", 7) == 0)))
    {
        return 0;
    }

    for (i = 0; i < endpoint->len; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '#') {
            return 0;
        }
    }

    return 1;
}


static void
ngx_oidc_url_write(ngx_oidc_url_buf_t *buf, const ngx_oidc_str_t *endpoint,
    const ngx_oidc_param_t *params, size_t n, const ngx_oidc_str_t *extra)
{
    int            have_params, have_extra;
    size_t         i;
    unsigned char  last;

    have_params = 0;

    for (i = 0; i < n; i++) {
        if (params[i].value.data != NULL) {
            have_params = 1;
        }
    }

    have_extra = (extra != NULL && extra->len > 0);

    ngx_oidc_url_put(buf, endpoint->data, endpoint->len);

    if (!have_params && !have_extra) {
        return;
    }

    last = endpoint->len ? endpoint->data[endpoint->len - 1] : '\0';

    if (endpoint->len == 0
        || memchr(endpoint->data, '?', endpoint->len) == NULL)
    {
        ngx_oidc_url_put(buf, "?", 1);

    } else if (last != '?' && last != '&') {
        ngx_oidc_url_put(buf, "&", 1);
    }

    ngx_oidc_form_write(buf, params, n, NGX_OIDC_URL_QUERY);

    if (have_extra) {
        if (have_params) {
            ngx_oidc_url_put(buf, "&", 1);
        }

        ngx_oidc_url_put(buf, extra->data, extra->len);
    }
}


size_t
ngx_oidc_url_build_len(const ngx_oidc_str_t *endpoint,
    const ngx_oidc_param_t *params, size_t n, const ngx_oidc_str_t *extra)
{
    ngx_oidc_url_buf_t  buf;

    buf.dst = NULL;
    buf.len = 0;

    ngx_oidc_url_write(&buf, endpoint, params, n, extra);

    return buf.len;
}


int
ngx_oidc_url_build(const ngx_oidc_str_t *endpoint,
    const ngx_oidc_param_t *params, size_t n, const ngx_oidc_str_t *extra,
    unsigned char *dst, size_t size, size_t *len, ngx_oidc_err_t *err)
{
    size_t              i;
    ngx_oidc_str_t      names[NGX_OIDC_FORM_MAX_PARAMS];
    ngx_oidc_url_buf_t  buf;

    if (!ngx_oidc_url_endpoint_valid(endpoint)) {
        ngx_oidc_err_set(err, "invalid endpoint", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (n > NGX_OIDC_FORM_MAX_PARAMS) {
        ngx_oidc_err_set(err, "too many parameters", NULL);
        return NGX_OIDC_ERROR;
    }

    if (extra != NULL && extra->len > 0) {
        for (i = 0; i < n; i++) {
            names[i] = params[i].name;
        }

        if (ngx_oidc_url_extra_check(extra->data, extra->len, names, n, err)
            != NGX_OIDC_OK)
        {
            return NGX_OIDC_DECLINED;
        }
    }

    if (dst == NULL || size < ngx_oidc_url_build_len(endpoint, params, n,
                                                     extra))
    {
        ngx_oidc_err_set(err, "url buffer too small", NULL);
        return NGX_OIDC_ERROR;
    }

    buf.dst = dst;
    buf.len = 0;

    ngx_oidc_url_write(&buf, endpoint, params, n, extra);

    *len = buf.len;

    return NGX_OIDC_OK;
}


static void
ngx_oidc_authz_params(const ngx_oidc_authz_t *authz, ngx_oidc_param_t *p)
{
    size_t                 i;
    const ngx_oidc_str_t  *v[NGX_OIDC_AUTHZ_NPARAMS];

    v[0] = &authz->response_type;
    v[1] = &authz->client_id;
    v[2] = &authz->redirect_uri;
    v[3] = &authz->scope;
    v[4] = &authz->state;
    v[5] = &authz->nonce;
    v[6] = &authz->code_challenge;
    v[7] = &authz->code_challenge_method;

    for (i = 0; i < NGX_OIDC_AUTHZ_NPARAMS; i++) {
        p[i].name = ngx_oidc_authz_names[i];
        p[i].value.len = v[i]->len;
        p[i].value.data = v[i]->len > 0 ? v[i]->data : NULL;
        p[i].dup = 0;
    }
}


size_t
ngx_oidc_authz_url_len(const ngx_oidc_authz_t *authz)
{
    ngx_oidc_param_t  params[NGX_OIDC_AUTHZ_NPARAMS];

    ngx_oidc_authz_params(authz, params);

    return ngx_oidc_url_build_len(&authz->endpoint, params,
                                  NGX_OIDC_AUTHZ_NPARAMS, &authz->extra);
}


int
ngx_oidc_authz_url_build(const ngx_oidc_authz_t *authz, unsigned char *dst,
    size_t size, size_t *len, ngx_oidc_err_t *err)
{
    ngx_oidc_param_t  params[NGX_OIDC_AUTHZ_NPARAMS];

    if (authz->response_type.len == 0) {
        ngx_oidc_err_set(err, "response_type missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (authz->client_id.len == 0) {
        ngx_oidc_err_set(err, "client_id missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    ngx_oidc_authz_params(authz, params);

    return ngx_oidc_url_build(&authz->endpoint, params,
                              NGX_OIDC_AUTHZ_NPARAMS, &authz->extra, dst,
                              size, len, err);
}


int
ngx_oidc_return_url_check(const unsigned char *url, size_t len,
    ngx_oidc_err_t *err)
{
    int                   round;
    size_t                i, plen;
    const char           *why;
    const unsigned char  *q;
    unsigned char         path[NGX_OIDC_RETURN_URL_MAX];

    if (url == NULL || len == 0 || len > NGX_OIDC_RETURN_URL_MAX) {
        ngx_oidc_err_set(err, "unsafe return url", "empty or too long");
        return NGX_OIDC_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if (url[i] < 0x21 || url[i] > 0x7e || url[i] == '#') {
            ngx_oidc_err_set(err, "unsafe return url", "character 0x%02x",
                             url[i]);
            return NGX_OIDC_DECLINED;
        }
    }

    q = memchr(url, '?', len);
    plen = q ? (size_t) (q - url) : len;

    memcpy(path, url, plen);

    for (round = 0; ; round++) {
        why = ngx_oidc_return_path_check(path, plen);
        if (why != NULL) {
            ngx_oidc_err_set(err, "unsafe return url", "%s", why);
            return NGX_OIDC_DECLINED;
        }

        /* the raw path must be well-formed; later rounds may hold a "%" */
        if (round == 0
            && ngx_oidc_url_unescape(path, &plen, path, plen,
                                     NGX_OIDC_URL_QUERY)
               != NGX_OIDC_OK)
        {
            ngx_oidc_err_set(err, "unsafe return url",
                             "invalid percent-encoding");
            return NGX_OIDC_DECLINED;
        }

        if (round > 0 && !ngx_oidc_return_path_decode(path, &plen)) {
            return NGX_OIDC_OK;
        }

        if (round == NGX_OIDC_RETURN_ROUNDS) {
            ngx_oidc_err_set(err, "unsafe return url", "encoded too deeply");
            return NGX_OIDC_DECLINED;
        }
    }
}


/* NULL when the path is safe, else which rule it breaks */

static const char *
ngx_oidc_return_path_check(const unsigned char *p, size_t len)
{
    size_t  i, s;

    if (len == 0 || p[0] != '/') {
        return "not an absolute path";
    }

    if (len > 1 && (p[1] == '/' || p[1] == '\\')) {
        return "network-path reference";
    }

    if (memchr(p, '\\', len) != NULL) {
        return "backslash";
    }

    if (ngx_oidc_url_has_ctl(p, len)) {
        return "control character";
    }

    /* a "." or ".." segment */
    for (s = 1, i = 1; i <= len; i++) {
        if (i == len || p[i] == '/') {
            if ((i - s == 1 && p[s] == '.')
                || (i - s == 2 && p[s] == '.' && p[s + 1] == '.'))
            {
                return "dot segment";
            }

            s = i + 1;
        }
    }

    return NULL;
}


/*
 * Decodes the valid %XX of "p" in place, leaving a "%" that starts no
 * valid sequence as it is; returns 1 if anything was decoded.
 */

static int
ngx_oidc_return_path_decode(unsigned char *p, size_t *len)
{
    int     hi, lo, changed;
    size_t  i, j;

    changed = 0;

    for (i = 0, j = 0; i < *len; i++, j++) {
        if (p[i] == '%' && *len - i >= 3) {
            hi = ngx_oidc_url_hex(p[i + 1]);
            lo = ngx_oidc_url_hex(p[i + 2]);

            if (hi >= 0 && lo >= 0) {
                p[j] = (unsigned char) (hi << 4 | lo);
                i += 2;
                changed = 1;
                continue;
            }
        }

        p[j] = p[i];
    }

    *len = j;

    return changed;
}
