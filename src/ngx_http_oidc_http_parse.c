
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"
#include "ngx_http_oidc_http.h"


/*
 * What the module's HTTP client parses: URLs (at configuration time and
 * from discovery documents), and HTTP/1.x responses: the status line,
 * the few header fields that matter (Content-Length, Transfer-Encoding,
 * Content-Encoding, Cache-Control), an identity or chunked body capped
 * at "max".  Input arrives in pieces; nothing here touches a connection.
 */


#define NGX_HTTP_OIDC_HTTP_BODY_MIN  4096


typedef enum {
    sw_chunk_size_start = 0,
    sw_chunk_size,
    sw_chunk_extension,
    sw_chunk_size_lf,
    sw_chunk_data,
    sw_chunk_data_cr,
    sw_chunk_data_lf,
    sw_chunk_trailer_start,
    sw_chunk_trailer,
    sw_chunk_last_lf
} ngx_http_oidc_chunk_state_e;


static ngx_int_t ngx_http_oidc_http_parse_authority(ngx_http_oidc_url_t *u);
static ngx_int_t ngx_http_oidc_http_conf_host(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_url_t *u,
    const char *directive);
static ngx_int_t ngx_http_oidc_http_parse_header(
    ngx_http_oidc_http_parser_t *hp, ngx_buf_t *b);
static ngx_int_t ngx_http_oidc_http_parse_lines(
    ngx_http_oidc_http_parser_t *hp, u_char *p, u_char *last);
static ngx_int_t ngx_http_oidc_http_parse_status(
    ngx_http_oidc_http_parser_t *hp, u_char *p, u_char *last);
static ngx_int_t ngx_http_oidc_http_parse_field(
    ngx_http_oidc_http_parser_t *hp, ngx_str_t *name, ngx_str_t *value);
static time_t ngx_http_oidc_http_max_age(ngx_str_t *value, time_t max_age);
static ngx_int_t ngx_http_oidc_http_check_header(
    ngx_http_oidc_http_parser_t *hp);
static ngx_int_t ngx_http_oidc_http_parse_body(
    ngx_http_oidc_http_parser_t *hp, ngx_buf_t *b);
static ngx_int_t ngx_http_oidc_http_parse_chunked(
    ngx_http_oidc_http_parser_t *hp, ngx_buf_t *b);
static ngx_int_t ngx_http_oidc_http_chunk_size(
    ngx_http_oidc_http_parser_t *hp, u_char ch);
static ngx_int_t ngx_http_oidc_http_chunk_end(
    ngx_http_oidc_http_parser_t *hp, u_char ch);
static ngx_int_t ngx_http_oidc_http_append(ngx_http_oidc_http_parser_t *hp,
    u_char *p, size_t n);
static ngx_int_t ngx_http_oidc_http_parse_error(
    ngx_http_oidc_http_parser_t *hp, const char *fmt, ...);


ngx_int_t
ngx_http_oidc_http_parse_url(ngx_str_t *url, ngx_http_oidc_url_t *u)
{
    u_char  *p, *q, *last;

    ngx_memzero(u, sizeof(ngx_http_oidc_url_t));

    p = url->data;
    last = p + url->len;

    /* it goes into a request line: no space, control or 8-bit byte */
    for (q = p; q < last; q++) {
        if (*q <= ' ' || *q >= 0x7f || *q == '\\') {
            return NGX_ERROR;
        }
    }

    if (url->len > 8 && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0) {
        u->https = 1;
        u->port = 443;
        p += 8;

    } else if (url->len > 7
               && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0)
    {
        u->port = 80;
        p += 7;

    } else {
        return NGX_ERROR;
    }

    for (q = p; q < last && *q != '/' && *q != '?' && *q != '#'; q++) {
        /* void */
    }

    u->authority.data = p;
    u->authority.len = q - p;

    if (ngx_http_oidc_http_parse_authority(u) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the fragment is never sent */
    p = ngx_strlchr(q, last, '#');

    u->uri.data = q;
    u->uri.len = (p ? p : last) - q;

    if (u->uri.len == 0) {
        ngx_str_set(&u->uri, "/");

    } else if (*q != '/') {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_http_parse_authority(ngx_http_oidc_url_t *u)
{
    u_char     *p, *last, *port;
    ngx_int_t   n;

    p = u->authority.data;
    last = p + u->authority.len;

    if (p == last || ngx_strlchr(p, last, '@') != NULL) {
        /* userinfo is never sent */
        return NGX_ERROR;
    }

    if (*p == '[') {
        u->host.data = ++p;
        p = ngx_strlchr(p, last, ']');

        if (p == NULL) {
            return NGX_ERROR;
        }

        u->host.len = p - u->host.data;
        port = (p + 1 < last) ? p + 1 : NULL;

        if (port && *port != ':') {
            return NGX_ERROR;
        }

    } else {
        port = ngx_strlchr(p, last, ':');

        u->host.data = p;
        u->host.len = (port ? port : last) - p;
    }

    if (u->host.len == 0) {
        return NGX_ERROR;
    }

    for (p = u->host.data; p < u->host.data + u->host.len; p++) {
        if (!ngx_http_oidc_isalnum(*p)
            && *p != '.' && *p != '-' && *p != '_' && *p != ':')
        {
            return NGX_ERROR;
        }
    }

    if (port) {
        n = ngx_atoi(port + 1, last - port - 1);

        if (n < 1 || n > 65535) {
            return NGX_ERROR;
        }

        u->port = (in_port_t) n;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_http_conf_url(ngx_conf_t *cf, ngx_http_oidc_provider_t *p,
    ngx_str_t *url, const char *directive)
{
    ngx_addr_t           addr;
    ngx_http_oidc_url_t  u;

    if (ngx_http_oidc_http_parse_url(url, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_provider \"%V\": \"%s\" \"%V\" is not "
                           "an absolute http or https URL",
                           &p->name, directive, url);
        return NGX_ERROR;
    }

    if (!u.https && !p->allow_insecure_http) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_provider \"%V\": \"%s\" \"%V\" uses http, "
                           "which is refused unless \"allow_insecure_http "
                           "on\" is set", &p->name, directive, url);
        return NGX_ERROR;
    }

    if (ngx_parse_addr(cf->pool, &addr, u.host.data, u.host.len) == NGX_OK) {
        return NGX_OK;
    }

    return ngx_http_oidc_http_conf_host(cf, p, &u, directive);
}


/* resolved once, in the master, as nginx does for proxy_pass */

static ngx_int_t
ngx_http_oidc_http_conf_host(ngx_conf_t *cf, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_url_t *u, const char *directive)
{
    ngx_url_t                   nu;
    ngx_uint_t                  i;
    ngx_http_oidc_http_host_t  *h;

    h = p->http->hosts.elts;

    for (i = 0; i < p->http->hosts.nelts; i++) {
        if (h[i].name.len == u->host.len
            && ngx_strncasecmp(h[i].name.data, u->host.data, u->host.len) == 0)
        {
            return NGX_OK;
        }
    }

    ngx_memzero(&nu, sizeof(ngx_url_t));

    nu.url = u->host;
    nu.default_port = u->port;

    if (ngx_parse_url(cf->pool, &nu) != NGX_OK || nu.naddrs == 0) {
        /* a "resolver" may still be configured: checked at run time */
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "oidc_provider \"%V\": host \"%V\" of \"%s\" was "
                           "not resolved at configuration time (%s), "
                           "a \"resolver\" is needed", &p->name, &u->host,
                           directive, nu.err ? nu.err : "no address");
        return NGX_OK;
    }

    h = ngx_array_push(&p->http->hosts);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->name = u->host;
    h->addrs = nu.addrs;
    h->naddrs = nu.naddrs;

    return NGX_OK;
}


void
ngx_http_oidc_http_parser_init(ngx_http_oidc_http_parser_t *hp,
    ngx_pool_t *pool, size_t max)
{
    ngx_memzero(hp, sizeof(ngx_http_oidc_http_parser_t));

    hp->pool = pool;
    hp->max = max;
    hp->content_length = -1;
    hp->resp.max_age = -1;
}


ngx_int_t
ngx_http_oidc_http_parse(ngx_http_oidc_http_parser_t *hp, ngx_buf_t *b)
{
    ngx_int_t  rc;

    /* more than one header: interim 1xx responses come first */
    while (!hp->header_done) {
        rc = ngx_http_oidc_http_parse_header(hp, b);

        if (rc == NGX_DONE) {
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return ngx_http_oidc_http_parse_body(hp, b);
}


ngx_int_t
ngx_http_oidc_http_parse_eof(ngx_http_oidc_http_parser_t *hp)
{
    if (!hp->header_done) {
        return ngx_http_oidc_http_parse_error(hp, "connection closed before "
                                              "the response header");
    }

    if (hp->chunked
        || (hp->content_length != -1
            && (off_t) hp->resp.body.len < hp->content_length))
    {
        return ngx_http_oidc_http_parse_error(hp, "connection closed "
                                              "prematurely");
    }

    return NGX_OK;
}


/*
 * NGX_OK: a body follows, or (header_done still unset) an interim 1xx
 * response was skipped and another header follows; NGX_DONE: the
 * response has no body
 */

static ngx_int_t
ngx_http_oidc_http_parse_header(ngx_http_oidc_http_parser_t *hp,
    ngx_buf_t *b)
{
    u_char  *p, *end;
    size_t   n;

    end = NULL;

    /* what was searched before is not searched again (a dripping peer) */
    for (p = b->pos + hp->scan; p < b->last; p++) {
        if (*p != LF) {
            continue;
        }

        if (p + 1 < b->last && p[1] == LF) {
            end = p + 2;
            break;
        }

        if (p + 2 < b->last && p[1] == CR && p[2] == LF) {
            end = p + 3;
            break;
        }
    }

    if (end == NULL) {
        n = b->last - b->pos;

        if (b->pos != b->start) {
            /* after an interim response: the whole buffer for this one */
            ngx_memmove(b->start, b->pos, n);
            b->pos = b->start;
            b->last = b->start + n;
        }

        if (b->last == b->end) {
            return ngx_http_oidc_http_parse_error(hp, "response header is "
                                                  "longer than %uz bytes",
                                                  (size_t) (b->end - b->start));
        }

        /* the last two bytes may start the blank line */
        hp->scan = (n > 2) ? n - 2 : 0;

        return NGX_AGAIN;
    }

    if (ngx_http_oidc_http_parse_lines(hp, b->pos, end) != NGX_OK) {
        return NGX_ERROR;
    }

    b->pos = end;
    hp->scan = 0;

    if (hp->resp.status < 200 && hp->resp.status != 101) {
        /* RFC 9110 15.2: skipped, the final response follows */
        hp->content_length = -1;
        hp->chunked = 0;
        hp->resp.max_age = -1;

        return NGX_OK;
    }

    hp->header_done = 1;

    return ngx_http_oidc_http_check_header(hp);
}


static ngx_int_t
ngx_http_oidc_http_parse_lines(ngx_http_oidc_http_parser_t *hp, u_char *p,
    u_char *last)
{
    u_char     *eol, *e, *colon, *q;
    ngx_str_t   name, value;

    eol = ngx_strlchr(p, last, LF);
    e = (eol > p && eol[-1] == CR) ? eol - 1 : eol;

    if (ngx_http_oidc_http_parse_status(hp, p, e) != NGX_OK) {
        return ngx_http_oidc_http_parse_error(hp, "invalid status line");
    }

    for (p = eol + 1; p < last; p = eol + 1) {
        eol = ngx_strlchr(p, last, LF);
        e = (eol > p && eol[-1] == CR) ? eol - 1 : eol;

        if (e == p) {
            break;
        }

        colon = ngx_strlchr(p, e, ':');

        for (q = p; q < (colon ? colon : p); q++) {
            if (!ngx_http_oidc_isalnum(*q) && *q != '-' && *q != '_') {
                break;
            }
        }

        /* also refuses obsolete line folding */
        if (colon == NULL || colon == p || q != colon) {
            return ngx_http_oidc_http_parse_error(hp, "invalid header line");
        }

        name.data = p;
        name.len = colon - p;

        for (q = colon + 1; q < e && (*q == ' ' || *q == '\t'); q++) {
            /* void */
        }

        while (e > q && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        value.data = q;
        value.len = e - q;

        if (ngx_http_oidc_http_parse_field(hp, &name, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_http_parse_status(ngx_http_oidc_http_parser_t *hp, u_char *p,
    u_char *last)
{
    /* "HTTP/1.x NNN[ reason]" */

    if (last - p < 12
        || ngx_strncmp(p, "HTTP/1.", 7) != 0
        || (p[7] != '0' && p[7] != '1')
        || p[8] != ' '
        || (last - p > 12 && p[12] != ' '))
    {
        return NGX_ERROR;
    }

    if (p[9] < '1' || p[9] > '5'
        || p[10] < '0' || p[10] > '9'
        || p[11] < '0' || p[11] > '9')
    {
        return NGX_ERROR;
    }

    hp->resp.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    return NGX_OK;
}


#define ngx_http_oidc_http_is(s, lit)                                         \
    ((s)->len == sizeof(lit) - 1                                              \
     && ngx_strncasecmp((s)->data, (u_char *) lit, sizeof(lit) - 1) == 0)


static ngx_int_t
ngx_http_oidc_http_parse_field(ngx_http_oidc_http_parser_t *hp,
    ngx_str_t *name, ngx_str_t *value)
{
    off_t  n;

    if (ngx_http_oidc_http_is(name, "Content-Length")) {
        n = ngx_atoof(value->data, value->len);

        if (n == NGX_ERROR
            || (hp->content_length != -1 && hp->content_length != n))
        {
            return ngx_http_oidc_http_parse_error(hp, "invalid "
                                                  "Content-Length");
        }

        hp->content_length = n;

    } else if (ngx_http_oidc_http_is(name, "Transfer-Encoding")) {

        if (!ngx_http_oidc_http_is(value, "chunked")) {
            return ngx_http_oidc_http_parse_error(hp, "unsupported "
                                                  "Transfer-Encoding");
        }

        hp->chunked = 1;

    } else if (ngx_http_oidc_http_is(name, "Content-Encoding")) {

        /* we send no Accept-Encoding */
        if (!ngx_http_oidc_http_is(value, "identity")) {
            return ngx_http_oidc_http_parse_error(hp, "unsupported "
                                                  "Content-Encoding");
        }

    } else if (ngx_http_oidc_http_is(name, "Cache-Control")) {
        hp->resp.max_age = ngx_http_oidc_http_max_age(value,
                                                      hp->resp.max_age);
    }

    return NGX_OK;
}


/* "max-age=N" (or "no-cache", "no-store": 0) of a Cache-Control value */

static time_t
ngx_http_oidc_http_max_age(ngx_str_t *value, time_t max_age)
{
    u_char     *p, *last, *name, *arg;
    size_t      len;
    ngx_int_t   n;

    p = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',' || *p == '\t')) {
            p++;
        }

        name = p;

        while (p < last && *p != ',' && *p != '=' && *p != ' ') {
            p++;
        }

        len = p - name;

        if (len == 8
            && (ngx_strncasecmp(name, (u_char *) "no-store", 8) == 0
                || ngx_strncasecmp(name, (u_char *) "no-cache", 8) == 0))
        {
            return 0;
        }

        if (p < last && *p == '=') {
            arg = ++p;

            while (p < last && *p != ',' && *p != ' ') {
                p++;
            }

            if (len == 7
                && ngx_strncasecmp(name, (u_char *) "max-age", 7) == 0)
            {
                n = ngx_atoi(arg, p - arg);

                if (n != NGX_ERROR) {
                    max_age = (time_t) n;
                }
            }
        }

        while (p < last && *p != ',') {
            p++;
        }
    }

    return max_age;
}


static ngx_int_t
ngx_http_oidc_http_check_header(ngx_http_oidc_http_parser_t *hp)
{
    ngx_uint_t  status;

    status = hp->resp.status;

    /* 101, and 304 (we never send a conditional request) */
    if (status < 200 || status == 304) {
        return ngx_http_oidc_http_parse_error(hp, "unexpected status %ui",
                                              status);
    }

    if (status >= 300 && status < 400) {
        return ngx_http_oidc_http_parse_error(hp, "redirect (%ui) not "
                                              "followed", status);
    }

    if (!hp->chunked && hp->content_length > (off_t) hp->max) {
        return ngx_http_oidc_http_parse_error(hp, "response of %O bytes is "
                                              "larger than "
                                              "\"max_response_size\"",
                                              hp->content_length);
    }

    if (status == 204 || (!hp->chunked && hp->content_length == 0)) {
        return NGX_DONE;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_http_parse_body(ngx_http_oidc_http_parser_t *hp, ngx_buf_t *b)
{
    size_t  n;

    if (hp->chunked) {
        return ngx_http_oidc_http_parse_chunked(hp, b);
    }

    n = b->last - b->pos;

    /* bytes past Content-Length are ignored */
    if (hp->content_length != -1
        && (off_t) n > hp->content_length - (off_t) hp->resp.body.len)
    {
        n = (size_t) (hp->content_length - (off_t) hp->resp.body.len);
    }

    if (ngx_http_oidc_http_append(hp, b->pos, n) != NGX_OK) {
        return NGX_ERROR;
    }

    b->pos = b->last;

    if (hp->content_length != -1
        && (off_t) hp->resp.body.len == hp->content_length)
    {
        return NGX_OK;
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_oidc_http_parse_chunked(ngx_http_oidc_http_parser_t *hp,
    ngx_buf_t *b)
{
    u_char     *p;
    size_t      n;
    ngx_int_t   rc;

    for (p = b->pos; p < b->last; p++) {

        if (hp->state == sw_chunk_data) {
            n = ngx_min(hp->chunk, (size_t) (b->last - p));

            if (ngx_http_oidc_http_append(hp, p, n) != NGX_OK) {
                return NGX_ERROR;
            }

            p += n - 1;
            hp->chunk -= n;

            if (hp->chunk == 0) {
                hp->state = sw_chunk_data_cr;
            }

            continue;
        }

        if (hp->state < sw_chunk_data) {
            rc = ngx_http_oidc_http_chunk_size(hp, *p);

        } else {
            rc = ngx_http_oidc_http_chunk_end(hp, *p);
        }

        if (rc != NGX_AGAIN) {
            /* the last chunk and trailer are in: the rest is ignored */
            b->pos = b->last;
            return rc;
        }
    }

    b->pos = b->last;

    return NGX_AGAIN;
}


/* one byte of a chunk-size line */

static ngx_int_t
ngx_http_oidc_http_chunk_size(ngx_http_oidc_http_parser_t *hp, u_char ch)
{
    ngx_int_t  d;

    switch (hp->state) {

    case sw_chunk_size_start:
    case sw_chunk_size:
        d = ngx_hextoi(&ch, 1);

        if (d != NGX_ERROR) {
            /* no overflow: the size stays below 16 times the limit */
            if (hp->chunk > hp->max) {
                goto invalid;
            }

            hp->chunk = hp->chunk * 16 + d;
            hp->state = sw_chunk_size;
            return NGX_AGAIN;
        }

        if (hp->state == sw_chunk_size_start) {
            goto invalid;
        }

        if (ch == ';' || ch == ' ' || ch == '\t') {
            hp->state = sw_chunk_extension;
            return NGX_AGAIN;
        }

        /* fall through */

    case sw_chunk_extension:
        if (ch == CR) {
            hp->state = sw_chunk_size_lf;
            return NGX_AGAIN;
        }

        if (ch != LF) {
            if (hp->state != sw_chunk_extension) {
                goto invalid;
            }

            return NGX_AGAIN;
        }

        break;

    default: /* sw_chunk_size_lf */
        if (ch != LF) {
            goto invalid;
        }

        break;
    }

    hp->state = (hp->chunk == 0) ? sw_chunk_trailer_start : sw_chunk_data;

    return NGX_AGAIN;

invalid:

    return ngx_http_oidc_http_parse_error(hp, "invalid chunked body");
}


/* one byte after a chunk's data, or of the trailer: NGX_OK at the end */

static ngx_int_t
ngx_http_oidc_http_chunk_end(ngx_http_oidc_http_parser_t *hp, u_char ch)
{
    switch (hp->state) {

    case sw_chunk_data_cr:
        if (ch == CR) {
            hp->state = sw_chunk_data_lf;
            return NGX_AGAIN;
        }

        /* fall through */

    case sw_chunk_data_lf:
        if (ch != LF) {
            break;
        }

        hp->state = sw_chunk_size_start;
        return NGX_AGAIN;

    case sw_chunk_trailer_start:
        if (ch == LF) {
            return NGX_OK;
        }

        hp->state = (ch == CR) ? sw_chunk_last_lf : sw_chunk_trailer;
        return NGX_AGAIN;

    case sw_chunk_trailer:
        if (ch == LF) {
            hp->state = sw_chunk_trailer_start;
        }

        return NGX_AGAIN;

    default: /* sw_chunk_last_lf */
        if (ch == LF) {
            return NGX_OK;
        }

        break;
    }

    return ngx_http_oidc_http_parse_error(hp, "invalid chunked body");
}


static ngx_int_t
ngx_http_oidc_http_append(ngx_http_oidc_http_parser_t *hp, u_char *p,
    size_t n)
{
    u_char     *data;
    size_t      size;
    ngx_str_t  *body;

    body = &hp->resp.body;

    if (n == 0) {
        return NGX_OK;
    }

    if (body->len + n > hp->max) {
        return ngx_http_oidc_http_parse_error(hp, "response is larger than "
                                              "\"max_response_size\"");
    }

    if (body->len + n > hp->body_size) {

        if (hp->content_length != -1 && !hp->chunked) {
            size = (size_t) hp->content_length;

        } else {
            size = ngx_max(hp->body_size, NGX_HTTP_OIDC_HTTP_BODY_MIN);

            while (size < body->len + n) {
                size *= 2;
            }

            size = ngx_min(size, hp->max);
        }

        data = ngx_pnalloc(hp->pool, size);
        if (data == NULL) {
            return ngx_http_oidc_http_parse_error(hp, "out of memory");
        }

        if (body->len) {
            ngx_memcpy(data, body->data, body->len);
        }

        body->data = data;
        hp->body_size = size;
    }

    ngx_memcpy(body->data + body->len, p, n);
    body->len += n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_http_parse_error(ngx_http_oidc_http_parser_t *hp,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(hp->errstr, hp->errstr + sizeof(hp->errstr) - 1, fmt,
                      args);
    va_end(args);

    *p = '\0';

    hp->resp.error = (const char *) hp->errstr;

    return NGX_ERROR;
}
