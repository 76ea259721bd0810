
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_URL_H_INCLUDED_
#define _NGX_OIDC_URL_H_INCLUDED_


#include "ngx_oidc_types.h"


/* percent-encoding modes */
#define NGX_OIDC_URL_QUERY   0      /* a URI query component: " " -> %20 */
#define NGX_OIDC_URL_FORM    1      /* x-www-form-urlencoded: " " -> "+" */


/*
 * The exact length of ngx_oidc_url_escape()'s output: RFC 3986
 * unreserved characters (ALPHA DIGIT "-" "." "_" "~") are kept, a
 * space is "+" in NGX_OIDC_URL_FORM mode, every other byte is %XX
 * (upper-case hex).  A string is at most three times longer escaped.
 */
size_t ngx_oidc_url_escape_len(const unsigned char *src, size_t len,
    unsigned mode);
/* writes the escaped "src" into "dst" and returns the length written */
size_t ngx_oidc_url_escape(unsigned char *dst, const unsigned char *src,
    size_t len, unsigned mode);

/*
 * Percent-decodes "src" into "dst" (which may be "src": decoding never
 * grows; else it holds "len" bytes); in NGX_OIDC_URL_FORM mode "+" is a
 * space.  A "%" not followed by two hex digits is refused
 * (NGX_OIDC_DECLINED); any decoded byte, NUL included, is kept.
 */
int ngx_oidc_url_unescape(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len, unsigned mode);


/* a name=value pair; a NULL value.data means "absent" to the builders */
typedef struct {
    ngx_oidc_str_t        name;
    ngx_oidc_str_t        value;
    unsigned              dup:1;    /* parse: the name occurs again */
} ngx_oidc_param_t;


/* the most pairs a callback query or a form body may hold */
#define NGX_OIDC_FORM_MAX_PARAMS  64


/*
 * Parses a query string or an application/x-www-form-urlencoded body
 * ("a=1&b=x+y&c"; "+" is a space, as RFC 6749 4.1.2 responses are
 * form-encoded) into at most "max" pairs, *n the number found.
 * Names and values are decoded into "buf", which must hold "len" bytes;
 * params[i] point into it.  Empty pieces ("a=1&&b=2", a trailing "&")
 * are skipped; "c" alone is name "c" with an empty value; the first
 * "=" splits, so "a=b=c" is "a" = "b=c".
 * Every occurrence of a name that occurs more than once has "dup" set:
 * RFC 6749 3.1 and 3.2 forbid repeated parameters, and
 * ngx_oidc_form_get() refuses them.
 * Refused (NGX_OIDC_DECLINED, err->reason): "invalid percent-encoding",
 * "control character in parameter" (a decoded byte 0x00-0x1f or 0x7f
 * in a name or value: OAuth values are printable, and these end up in
 * logs and headers), "too many parameters".
 */
int ngx_oidc_form_parse(const unsigned char *src, size_t len,
    unsigned char *buf, ngx_oidc_param_t *params, size_t max, size_t *n,
    ngx_oidc_err_t *err);

/*
 * Looks "name" up in parsed pairs.  NGX_OIDC_OK with *value set when it
 * occurs once, or with value->data == NULL when it is absent (a present
 * but empty value has a non-NULL data and len 0); NGX_OIDC_DECLINED,
 * err->reason "duplicate parameter", when it occurs more than once.
 */
int ngx_oidc_form_get(const ngx_oidc_param_t *params, size_t n,
    const char *name, ngx_oidc_str_t *value, ngx_oidc_err_t *err);


/*
 * The exact length of ngx_oidc_form_build()'s output, and the builder:
 * "name=value" pairs joined with "&", names and values escaped in
 * "mode", pairs whose value.data is NULL left out (use an empty non-NULL
 * value for "name=").  For token request bodies (NGX_OIDC_URL_FORM).
 */
size_t ngx_oidc_form_build_len(const ngx_oidc_param_t *params, size_t n,
    unsigned mode);
size_t ngx_oidc_form_build(unsigned char *dst, const ngx_oidc_param_t *params,
    size_t n, unsigned mode);


/*
 * Checks raw extra arguments appended to an IdP URL as written, e.g.
 * "version=2.0.0&audience=x" or "prompt=login&resource=a%2Fb": one or
 * more "name[=value]" pieces joined by single "&", each name non-empty,
 * only RFC 3986 query characters (unreserved, sub-delims, ":", "@",
 * "/", "?") and well-formed %XX; no "#", space, control or non-ASCII
 * byte, and no ";" (some parsers split pairs on it: write %3B).
 * A name that, once decoded, equals one of the "n" reserved names is
 * refused, so that a configured extra can never repeat or override a
 * parameter the module sets (state, nonce, redirect_uri...).
 * Extra names may repeat among themselves (RFC 8707 "resource").
 * Returns NGX_OIDC_OK or NGX_OIDC_DECLINED (err->reason "invalid extra
 * arguments" or "extra argument overrides a parameter").
 */
int ngx_oidc_url_extra_check(const unsigned char *extra, size_t len,
    const ngx_oidc_str_t *reserved, size_t n, ngx_oidc_err_t *err);


/*
 * An IdP URL: "endpoint", then the present pairs of "params" escaped in
 * NGX_OIDC_URL_QUERY mode (a scope "openid email" is sent as
 * "openid%20email"), then "extra" (may be NULL or empty) as is.  The
 * endpoint may hold a query already: "?" or "&" is added as needed.
 * ngx_oidc_url_build_len() gives the exact length, unchecked.
 * Refused (NGX_OIDC_DECLINED): "invalid endpoint" (not http:// or
 * https://, a byte outside 0x21-0x7e, or a "#": RFC 6749 3.1 forbids a
 * fragment), an extra refused by ngx_oidc_url_extra_check() with the
 * names of "params" (present or not) as the reserved ones.
 * NGX_OIDC_ERROR when "size" is below the length.
 */
size_t ngx_oidc_url_build_len(const ngx_oidc_str_t *endpoint,
    const ngx_oidc_param_t *params, size_t n, const ngx_oidc_str_t *extra);
int ngx_oidc_url_build(const ngx_oidc_str_t *endpoint,
    const ngx_oidc_param_t *params, size_t n, const ngx_oidc_str_t *extra,
    unsigned char *dst, size_t size, size_t *len, ngx_oidc_err_t *err);


/* an OIDC Core 3.1.2.1 authentication request; empty members are omitted */
typedef struct {
    ngx_oidc_str_t        endpoint;             /* authorization_endpoint */
    ngx_oidc_str_t        response_type;        /* required: "code" */
    ngx_oidc_str_t        client_id;            /* required */
    ngx_oidc_str_t        redirect_uri;
    ngx_oidc_str_t        scope;                /* "openid profile" */
    ngx_oidc_str_t        state;
    ngx_oidc_str_t        nonce;
    ngx_oidc_str_t        code_challenge;
    ngx_oidc_str_t        code_challenge_method;  /* "S256" */
    ngx_oidc_str_t        extra;                /* raw "a=1&b=2" */
} ngx_oidc_authz_t;


/*
 * The authorization URL: ngx_oidc_url_build() with the members above in
 * this order; the eight parameter names are all reserved against
 * "extra", even those left out.  ngx_oidc_authz_url_len() is the exact
 * length.  Refused besides: "response_type missing", "client_id
 * missing".
 */
size_t ngx_oidc_authz_url_len(const ngx_oidc_authz_t *authz);
int ngx_oidc_authz_url_build(const ngx_oidc_authz_t *authz,
    unsigned char *dst, size_t size, size_t *len, ngx_oidc_err_t *err);


/* the longest return URL accepted */
#define NGX_OIDC_RETURN_URL_MAX  4096


/*
 * The post-login redirect target must stay on this origin.  Accepted:
 * a relative reference made of an absolute path and an optional query,
 * as nginx's r->unparsed_uri holds it ("/", "/a/b?x=1").  Refused
 * (NGX_OIDC_DECLINED, err->reason "unsafe return url", err->detail
 * says which rule):
 *   - empty, longer than NGX_OIDC_RETURN_URL_MAX, or not starting
 *     with "/" (so "https://evil", "javascript:..", "evil" are out);
 *   - any byte outside 0x21-0x7e (controls, space, non-ASCII: browsers
 *     drop tabs and newlines, so "/\t/evil" would become "//evil");
 *   - a "#" (the result is path + query only);
 *   - in the path: a second "/" or a "\" right after the first "/"
 *     ("//evil", "/\evil" are network-path references), a "\"
 *     anywhere (browsers read it as "/"), a "." or ".." segment, or an
 *     invalid %XX;
 *   - the same path rules after percent-decoding, applied again after
 *     each decoding (up to 3; a path still changing after that is
 *     refused): "/%2F%2Fevil", "/%5Cevil", "/%2e%2e/x", "/%252F/evil"
 *     and a decoded control byte ("/%0d%0a") are refused, although
 *     they are harmless in a Location header, because an application
 *     or proxy that decodes the path once more would make them a
 *     redirect elsewhere.
 * The query is not decoded: "?next=//evil" stays a query.
 */
int ngx_oidc_return_url_check(const unsigned char *url, size_t len,
    ngx_oidc_err_t *err);


#endif /* _NGX_OIDC_URL_H_INCLUDED_ */
