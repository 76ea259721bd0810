
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_COOKIE_H_INCLUDED_
#define _NGX_OIDC_COOKIE_H_INCLUDED_


#include "ngx_oidc_types.h"


/* browsers keep at most 4096 bytes of name and value (RFC 6265 6.1) */
#define NGX_OIDC_COOKIE_MAX           4096


/*
 * Returns 1 when "name" may name a cookie: a non-empty RFC 9110 token
 * (letters, digits and !#$%&'*+-.^_`|~), at most 256 bytes.
 */
int ngx_oidc_cookie_name_valid(const unsigned char *name, size_t len);

/*
 * Finds the cookie "name" in one Cookie header value ("a=1; b=2"; with
 * several Cookie header lines the caller calls this once per line and
 * adds the counts up).  The syntax of RFC 6265 5.4 is read tolerantly,
 * as 5.2 does for Set-Cookie: pairs are split on ";", spaces and tabs
 * around names and values are dropped, a pair without "=" and pairs of
 * other names are skipped whatever they hold.  Names match exactly and
 * case-sensitively.  A value in double quotes (4.1.1) is returned
 * without them.
 *
 * The matching value must be a 4.1.1 cookie-value: cookie-octets only,
 * i.e. no control character, space, DQUOTE (but the enclosing pair),
 * comma, semicolon, backslash or byte above 0x7e.
 *
 * Several cookies of that name: the value of the FIRST is returned, and
 * *count (may be NULL) gets how many pairs had the name, valid or not.
 * A browser sends the cookie with the longest path first, so the first
 * one is not necessarily "ours" when a sibling host or a path-scoped
 * cookie injected another: callers using the value as a session or
 * state id should treat *count > 1 as ambiguous and refuse it (a
 * __Host- cookie cannot be injected that way, see below).
 *
 * "value" points into "header" (no copy).  An empty value ("a=" or
 * a="") is returned as found with value->len == 0.
 * Returns NGX_OIDC_OK; NGX_OIDC_DECLINED with err->reason "cookie not
 * found" or "invalid cookie value" (the first match is malformed);
 * NGX_OIDC_ERROR for an empty "name".
 */
int ngx_oidc_cookie_find(const unsigned char *header, size_t len,
    const ngx_oidc_str_t *name, ngx_oidc_str_t *value, size_t *count,
    ngx_oidc_err_t *err);


#define NGX_OIDC_COOKIE_SAMESITE_UNSET   0     /* no attribute */
#define NGX_OIDC_COOKIE_SAMESITE_LAX     1
#define NGX_OIDC_COOKIE_SAMESITE_STRICT  2
#define NGX_OIDC_COOKIE_SAMESITE_NONE    3


typedef struct {
    ngx_oidc_str_t        name;
    ngx_oidc_str_t        value;        /* ignored when "remove" */
    ngx_oidc_str_t        path;         /* empty: no Path attribute */
    ngx_oidc_str_t        domain;       /* empty: host-only cookie */
    time_t                max_age;      /* > 0: Max-Age; 0: session cookie */
    unsigned              same_site:2;  /* NGX_OIDC_COOKIE_SAMESITE_* */
    unsigned              http_only:1;
    unsigned              secure:1;
    unsigned              remove:1;     /* a deletion cookie */
} ngx_oidc_cookie_t;


/*
 * The exact length of the Set-Cookie value ngx_oidc_cookie_build()
 * writes for "cookie" (nothing is checked here).
 */
size_t ngx_oidc_cookie_build_len(const ngx_oidc_cookie_t *cookie);

/*
 * Writes a Set-Cookie header value into "dst" (no NUL is added), e.g.
 *   name=value; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax
 * and, with "remove", a cookie that deletes it in every browser:
 *   name=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; ...
 * (the deletion must carry the same name, Path and Domain as the
 * cookie it deletes).  Refused (NGX_OIDC_DECLINED, err->reason):
 *   "invalid cookie name"     not a token (ngx_oidc_cookie_name_valid);
 *   "invalid cookie value"    not cookie-octets (no quoting is done:
 *                             base64url and hex values need none);
 *   "cookie too large"        name and value over NGX_OIDC_COOKIE_MAX;
 *   "invalid cookie path"     not starting with "/", or holding a
 *                             control character, ";" or a byte > 0x7e;
 *   "invalid cookie domain"   anything but letters, digits, "-", ".";
 *   "invalid max-age"         a negative max_age;
 *   "samesite none requires secure"  (browsers drop such cookies);
 *   "cookie prefix violated"  a name starting with "__Secure-" without
 *                             "secure", or with "__Host-" without
 *                             "secure", with a Path other than "/" or
 *                             with a Domain (RFC 6265bis 4.1.3; the
 *                             prefixes are matched case-insensitively,
 *                             as current browsers do).
 * "size" must be at least ngx_oidc_cookie_build_len(cookie), else
 * NGX_OIDC_ERROR.  *len gets the length written.
 */
int ngx_oidc_cookie_build(const ngx_oidc_cookie_t *cookie,
    unsigned char *dst, size_t size, size_t *len, ngx_oidc_err_t *err);


#endif /* _NGX_OIDC_COOKIE_H_INCLUDED_ */
