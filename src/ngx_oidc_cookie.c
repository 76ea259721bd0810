
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ngx_oidc_cookie.h"


#define NGX_OIDC_COOKIE_NAME_MAX  256

#define NGX_OIDC_COOKIE_EPOCH     "Thu, 01 Jan 1970 00:00:00 GMT"


/* indexed by NGX_OIDC_COOKIE_SAMESITE_* */
static const char  *ngx_oidc_cookie_samesite[] = {
    "", "Lax", "Strict", "None"
};


/* a writer that only counts when "dst" is NULL */
typedef struct {
    unsigned char        *dst;
    size_t                len;
} ngx_oidc_cookie_buf_t;


static int ngx_oidc_cookie_is_tchar(unsigned char c);
static int ngx_oidc_cookie_is_octet(unsigned char c);
static int ngx_oidc_cookie_value_valid(const unsigned char *p, size_t len);
static int ngx_oidc_cookie_next(const unsigned char **p,
    const unsigned char *last, ngx_oidc_str_t *name, ngx_oidc_str_t *value);
static void ngx_oidc_cookie_trim(const unsigned char **start,
    const unsigned char **end);
static int ngx_oidc_cookie_unquote(ngx_oidc_str_t *value);
static int ngx_oidc_cookie_check(const ngx_oidc_cookie_t *cookie,
    ngx_oidc_err_t *err);
static int ngx_oidc_cookie_check_prefix(const ngx_oidc_cookie_t *cookie,
    ngx_oidc_err_t *err);
static int ngx_oidc_cookie_path_valid(const ngx_oidc_str_t *path);
static int ngx_oidc_cookie_domain_valid(const ngx_oidc_str_t *domain);
static int ngx_oidc_cookie_has_prefix(const ngx_oidc_str_t *name,
    const char *prefix);
static void ngx_oidc_cookie_write(const ngx_oidc_cookie_t *cookie,
    ngx_oidc_cookie_buf_t *buf);
static void ngx_oidc_cookie_put(ngx_oidc_cookie_buf_t *buf, const void *p,
    size_t len);


int
ngx_oidc_cookie_name_valid(const unsigned char *name, size_t len)
{
    size_t  i;

    if (name == NULL || len == 0 || len > NGX_OIDC_COOKIE_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!ngx_oidc_cookie_is_tchar(name[i])) {
            return 0;
        }
    }

    return 1;
}


/* RFC 9110 5.6.2 tchar */

static int
ngx_oidc_cookie_is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
    {
        return 1;
    }

    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}


/* RFC 6265 4.1.1 cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */

static int
ngx_oidc_cookie_is_octet(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';'
           && c != '\\';
}


static int
ngx_oidc_cookie_value_valid(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (!ngx_oidc_cookie_is_octet(p[i])) {
            return 0;
        }
    }

    return 1;
}


int
ngx_oidc_cookie_find(const unsigned char *header, size_t len,
    const ngx_oidc_str_t *name, ngx_oidc_str_t *value, size_t *count,
    ngx_oidc_err_t *err)
{
    size_t                n;
    ngx_oidc_str_t        pname, pvalue, first;
    const unsigned char  *p, *last;

    if (name == NULL || name->len == 0 || name->data == NULL) {
        ngx_oidc_err_set(err, "cookie name not configured", NULL);
        return NGX_OIDC_ERROR;
    }

    n = 0;
    first.len = 0;
    first.data = NULL;

    p = header;
    last = (header != NULL) ? header + len : NULL;

    while (p < last) {
        if (!ngx_oidc_cookie_next(&p, last, &pname, &pvalue)
            || pname.len != name->len
            || memcmp(pname.data, name->data, name->len) != 0)
        {
            continue;
        }

        if (n++ == 0) {
            first = pvalue;
        }
    }

    if (count != NULL) {
        *count = n;
    }

    if (n == 0) {
        ngx_oidc_err_set(err, "cookie not found", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (!ngx_oidc_cookie_unquote(&first)
        || !ngx_oidc_cookie_value_valid(first.data, first.len))
    {
        ngx_oidc_err_set(err, "invalid cookie value", "%zu bytes", first.len);
        return NGX_OIDC_DECLINED;
    }

    *value = first;

    return NGX_OIDC_OK;
}


/*
 * Splits the next ";"-separated pair off [*p, last) into its trimmed
 * name and value; 0 for a pair without "="
 */

static int
ngx_oidc_cookie_next(const unsigned char **p, const unsigned char *last,
    ngx_oidc_str_t *name, ngx_oidc_str_t *value)
{
    const unsigned char  *start, *end, *eq, *ns, *ne, *vs, *ve;

    start = *p;

    end = memchr(start, ';', last - start);
    if (end == NULL) {
        end = last;
    }

    *p = (end < last) ? end + 1 : last;

    eq = memchr(start, '=', end - start);
    if (eq == NULL) {
        return 0;
    }

    ns = start;
    ne = eq;
    ngx_oidc_cookie_trim(&ns, &ne);

    vs = eq + 1;
    ve = end;
    ngx_oidc_cookie_trim(&vs, &ve);

    name->data = (unsigned char *) ns;
    name->len = ne - ns;
    value->data = (unsigned char *) vs;
    value->len = ve - vs;

    return 1;
}


/* drops spaces and tabs on both sides of [*start, *end) */

static void
ngx_oidc_cookie_trim(const unsigned char **start, const unsigned char **end)
{
    while (*start < *end && (**start == ' ' || **start == '\t')) {
        (*start)++;
    }

    while (*end > *start && (*(*end - 1) == ' ' || *(*end - 1) == '\t')) {
        (*end)--;
    }
}


/* strips one pair of enclosing DQUOTEs; 0 for a lone or unpaired one */

static int
ngx_oidc_cookie_unquote(ngx_oidc_str_t *value)
{
    if (value->len == 0 || value->data[0] != '"') {
        return 1;
    }

    if (value->len < 2 || value->data[value->len - 1] != '"') {
        return 0;
    }

    value->data++;
    value->len -= 2;

    return 1;
}


size_t
ngx_oidc_cookie_build_len(const ngx_oidc_cookie_t *cookie)
{
    ngx_oidc_cookie_buf_t  buf;

    buf.dst = NULL;
    buf.len = 0;

    ngx_oidc_cookie_write(cookie, &buf);

    return buf.len;
}


int
ngx_oidc_cookie_build(const ngx_oidc_cookie_t *cookie, unsigned char *dst,
    size_t size, size_t *len, ngx_oidc_err_t *err)
{
    int                    rc;
    ngx_oidc_cookie_buf_t  buf;

    rc = ngx_oidc_cookie_check(cookie, err);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    if (dst == NULL || size < ngx_oidc_cookie_build_len(cookie)) {
        ngx_oidc_err_set(err, "cookie buffer too small", NULL);
        return NGX_OIDC_ERROR;
    }

    buf.dst = dst;
    buf.len = 0;

    ngx_oidc_cookie_write(cookie, &buf);

    *len = buf.len;

    return NGX_OIDC_OK;
}


static int
ngx_oidc_cookie_check(const ngx_oidc_cookie_t *cookie, ngx_oidc_err_t *err)
{
    size_t  vlen;

    if (!ngx_oidc_cookie_name_valid(cookie->name.data, cookie->name.len)) {
        ngx_oidc_err_set(err, "invalid cookie name", NULL);
        return NGX_OIDC_DECLINED;
    }

    vlen = cookie->remove ? 0 : cookie->value.len;

    if (vlen > 0 && (cookie->value.data == NULL
                     || !ngx_oidc_cookie_value_valid(cookie->value.data,
                                                     vlen)))
    {
        ngx_oidc_err_set(err, "invalid cookie value", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (vlen > NGX_OIDC_COOKIE_MAX - cookie->name.len) {
        ngx_oidc_err_set(err, "cookie too large", "%zu bytes",
                         cookie->name.len + vlen);
        return NGX_OIDC_DECLINED;
    }

    if (cookie->path.len > 0 && !ngx_oidc_cookie_path_valid(&cookie->path)) {
        ngx_oidc_err_set(err, "invalid cookie path", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (cookie->domain.len > 0
        && !ngx_oidc_cookie_domain_valid(&cookie->domain))
    {
        ngx_oidc_err_set(err, "invalid cookie domain", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (cookie->max_age < 0) {
        ngx_oidc_err_set(err, "invalid max-age", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (cookie->same_site == NGX_OIDC_COOKIE_SAMESITE_NONE
        && !cookie->secure)
    {
        ngx_oidc_err_set(err, "samesite none requires secure", NULL);
        return NGX_OIDC_DECLINED;
    }

    return ngx_oidc_cookie_check_prefix(cookie, err);
}


/* RFC 6265bis 4.1.3: the __Secure- and __Host- prefixes */

static int
ngx_oidc_cookie_check_prefix(const ngx_oidc_cookie_t *cookie,
    ngx_oidc_err_t *err)
{
    if (ngx_oidc_cookie_has_prefix(&cookie->name, "__Secure-")
        && !cookie->secure)
    {
        ngx_oidc_err_set(err, "cookie prefix violated",
                         "__Secure- requires Secure");
        return NGX_OIDC_DECLINED;
    }

    if (!ngx_oidc_cookie_has_prefix(&cookie->name, "__Host-")) {
        return NGX_OIDC_OK;
    }

    if (!cookie->secure) {
        ngx_oidc_err_set(err, "cookie prefix violated",
                         "__Host- requires Secure");
        return NGX_OIDC_DECLINED;
    }

    if (cookie->path.len != 1 || cookie->path.data[0] != '/') {
        ngx_oidc_err_set(err, "cookie prefix violated",
                         "__Host- requires Path=/");
        return NGX_OIDC_DECLINED;
    }

    if (cookie->domain.len > 0) {
        ngx_oidc_err_set(err, "cookie prefix violated",
                         "__Host- forbids Domain");
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


/* path-value: any CHAR except CTLs or ";", and an absolute path */

static int
ngx_oidc_cookie_path_valid(const ngx_oidc_str_t *path)
{
    size_t  i;

    if (path->data == NULL || path->data[0] != '/') {
        return 0;
    }

    for (i = 0; i < path->len; i++) {
        if (path->data[i] < 0x20 || path->data[i] > 0x7e
            || path->data[i] == ';')
        {
            return 0;
        }
    }

    return 1;
}


static int
ngx_oidc_cookie_domain_valid(const ngx_oidc_str_t *domain)
{
    size_t         i;
    unsigned char  c;

    if (domain->data == NULL || domain->len > 253) {
        return 0;
    }

    for (i = 0; i < domain->len; i++) {
        c = domain->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '.'))
        {
            return 0;
        }
    }

    return 1;
}


static int
ngx_oidc_cookie_has_prefix(const ngx_oidc_str_t *name, const char *prefix)
{
    size_t  n;

    n = strlen(prefix);

    return name->len >= n
           && strncasecmp((const char *) name->data, prefix, n) == 0;
}


static void
ngx_oidc_cookie_write(const ngx_oidc_cookie_t *cookie,
    ngx_oidc_cookie_buf_t *buf)
{
    int          n;
    char         num[32];
    const char  *ss;

    ngx_oidc_cookie_put(buf, cookie->name.data, cookie->name.len);
    ngx_oidc_cookie_put(buf, "=", 1);

    if (!cookie->remove) {
        ngx_oidc_cookie_put(buf, cookie->value.data, cookie->value.len);
    }

    if (cookie->path.len > 0) {
        ngx_oidc_cookie_put(buf, "; Path=", sizeof("; Path=") - 1);
        ngx_oidc_cookie_put(buf, cookie->path.data, cookie->path.len);
    }

    if (cookie->domain.len > 0) {
        ngx_oidc_cookie_put(buf, "; Domain=", sizeof("; Domain=") - 1);
        ngx_oidc_cookie_put(buf, cookie->domain.data, cookie->domain.len);
    }

    if (cookie->remove) {
        /* Max-Age for RFC 6265 browsers, Expires for older ones */
        ngx_oidc_cookie_put(buf, "; Max-Age=0; Expires=",
                            sizeof("; Max-Age=0; Expires=") - 1);
        ngx_oidc_cookie_put(buf, NGX_OIDC_COOKIE_EPOCH,
                            sizeof(NGX_OIDC_COOKIE_EPOCH) - 1);

    } else if (cookie->max_age > 0) {
        n = snprintf(num, sizeof(num), "; Max-Age=%lld",
                     (long long) cookie->max_age);
        ngx_oidc_cookie_put(buf, num, (size_t) n);
    }

    if (cookie->http_only) {
        ngx_oidc_cookie_put(buf, "; HttpOnly", sizeof("; HttpOnly") - 1);
    }

    if (cookie->secure) {
        ngx_oidc_cookie_put(buf, "; Secure", sizeof("; Secure") - 1);
    }

    if (cookie->same_site != NGX_OIDC_COOKIE_SAMESITE_UNSET) {
        ss = ngx_oidc_cookie_samesite[cookie->same_site];

        ngx_oidc_cookie_put(buf, "; SameSite=", sizeof("; SameSite=") - 1);
        ngx_oidc_cookie_put(buf, ss, strlen(ss));
    }
}


static void
ngx_oidc_cookie_put(ngx_oidc_cookie_buf_t *buf, const void *p, size_t len)
{
    if (buf->dst != NULL && len > 0) {
        memcpy(buf->dst + buf->len, p, len);
    }

    buf->len += len;
}
