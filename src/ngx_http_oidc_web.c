
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_oidc_b64.h"
#include "ngx_oidc_cookie.h"


static void ngx_http_oidc_form_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_form_body_copy(ngx_http_request_t *r,
    ngx_http_oidc_body_t *rb);


ngx_table_elt_t *
ngx_http_oidc_header_in(ngx_http_request_t *r, const char *name, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


ngx_int_t
ngx_http_oidc_header_out(ngx_http_request_t *r, const char *name,
    ngx_str_t *value, ngx_table_elt_t **out)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    if (out != NULL) {
        *out = h;
    }

    return NGX_OK;
}


/* the configured redirect_uri; a path is made absolute on this host */

ngx_int_t
ngx_http_oidc_redirect_uri(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *uri)
{
    u_char     *s;
    ngx_str_t   host;

    if (p->redirect_uri.data[0] != '/') {
        *uri = p->redirect_uri;
        return NGX_OK;
    }

    if (r->headers_in.host != NULL) {
        host = r->headers_in.host->value;

    } else {
        host = r->headers_in.server;
    }

    uri->data = ngx_pnalloc(r->pool, sizeof("https://") - 1 + host.len
                                     + p->redirect_uri.len);
    if (uri->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_sprintf(uri->data, "%s://%V%V",
                    r->connection->ssl ? "https" : "http", &host,
                    &p->redirect_uri);

    uri->len = s - uri->data;

    return NGX_OK;
}


/*
 * The session cookie's name ("state" NULL) or the binding cookie's of a
 * pending login: "__Host-" unless "cookie_secure off".
 */

ngx_int_t
ngx_http_oidc_cookie_name(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *state, ngx_str_t *name)
{
    u_char  *s;

    if (state == NULL) {
        /* made once, at configuration time */
        *name = p->session_cookie;
        return NGX_OK;
    }

    name->data = ngx_pnalloc(r->pool, p->session_cookie.len + 1
                                      + NGX_HTTP_OIDC_BIND_PREFIX);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(name->data, p->session_cookie.data,
                   p->session_cookie.len);
    *s++ = '_';
    s = ngx_cpymem(s, state->data, NGX_HTTP_OIDC_BIND_PREFIX);

    name->len = s - name->data;

    return NGX_OK;
}


/* NGX_OK when exactly one cookie has this name and a valid value */

ngx_int_t
ngx_http_oidc_cookie_get(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    size_t            count, total;
    ngx_uint_t        i, found;
    ngx_str_t         v;
    ngx_oidc_err_t    err;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    total = 0;
    found = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Cookie") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Cookie",
                               sizeof("Cookie") - 1) != 0)
        {
            continue;
        }

        count = 0;

        if (ngx_oidc_cookie_find(h[i].value.data, h[i].value.len,
                                 (ngx_oidc_str_t *) name,
                                 (ngx_oidc_str_t *) &v, &count, &err)
            == NGX_OIDC_OK && !found)
        {
            *value = v;
            found = 1;
        }

        total += count;
    }

    if (!found || total != 1) {
        if (total > 1) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oidc: cookie \"%V\" sent %uz times, ignored",
                          name, total);
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_cookie_set(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *name, ngx_str_t *value, time_t max_age)
{
    size_t             len;
    ngx_str_t          out;
    ngx_oidc_err_t     err;
    ngx_oidc_cookie_t  c;

    ngx_memzero(&c, sizeof(ngx_oidc_cookie_t));

    ngx_http_oidc_ostr(c.name, *name);
    c.path.len = 1;
    c.path.data = (u_char *) "/";
    c.same_site = NGX_OIDC_COOKIE_SAMESITE_LAX;
    c.http_only = 1;
    c.secure = p->cookie_secure ? 1 : 0;
    c.max_age = max_age;

    /* no value: a cookie that deletes this one */
    if (value != NULL) {
        ngx_http_oidc_ostr(c.value, *value);

    } else {
        c.remove = 1;
    }

    len = ngx_oidc_cookie_build_len(&c);

    out.data = ngx_pnalloc(r->pool, len);
    if (out.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_cookie_build(&c, out.data, len, &out.len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: cookie \"%V\" not built: %s", name,
                      err.reason ? err.reason : "error");
        return NGX_ERROR;
    }

    return ngx_http_oidc_header_out(r, "Set-Cookie", &out, NULL);
}


/*
 * A store key that reveals no secret: kind ":" provider ":"
 * base64url(SHA-256(issuer NUL a NUL b)); for a pending login a is the
 * state and b the browser's binding value, so both are needed to find it.
 */

ngx_int_t
ngx_http_oidc_store_key(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    u_char kind, ngx_str_t *a, ngx_str_t *b, ngx_str_t *key)
{
    u_char  *buf, *s;
    u_char   md[NGX_OIDC_SHA256_LEN];

    buf = ngx_pnalloc(r->pool, p->issuer.len + 1 + a->len + 1
                               + (b ? b->len : 0));
    key->data = ngx_pnalloc(r->pool, 2 + p->name.len + 1
                                     + NGX_HTTP_OIDC_HASH_LEN);
    if (buf == NULL || key->data == NULL) {
        return NGX_ERROR;
    }

    /*
     * the issuer too: after a reload that gives the provider another
     * issuer, the old issuer's sessions, logins and markers are not found
     */
    s = ngx_cpymem(buf, p->issuer.data, p->issuer.len);
    *s++ = '\0';
    s = ngx_cpymem(s, a->data, a->len);
    *s++ = '\0';

    if (b != NULL) {
        s = ngx_cpymem(s, b->data, b->len);
    }

    if (ngx_oidc_sha256(buf, s - buf, md) != NGX_OIDC_OK) {
        return NGX_ERROR;
    }

    s = key->data;
    *s++ = kind;
    *s++ = ':';
    s = ngx_cpymem(s, p->name.data, p->name.len);
    *s++ = ':';
    s += ngx_oidc_b64url_encode(s, md, sizeof(md));

    key->len = s - key->data;

    return NGX_OK;
}


/* exactly "len" base64url characters, as ngx_oidc_random_token() makes */

ngx_uint_t
ngx_http_oidc_token_valid(ngx_str_t *s, size_t len)
{
    size_t  i;
    u_char  c;

    if (s->len != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s->data[i];

        if (!(ngx_http_oidc_isalnum(c) || c == '-' || c == '_')) {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_http_oidc_random(ngx_http_request_t *r, size_t nbytes, ngx_str_t *out)
{
    ngx_oidc_err_t  err;

    out->len = ngx_oidc_random_token_len(nbytes);
    out->data = ngx_pnalloc(r->pool, out->len);

    if (out->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_random_token(out->data, nbytes, &err) != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: random generator failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_redirect(ngx_http_request_t *r, ngx_str_t *url)
{
    ngx_str_t  no_store = ngx_string("no-store");

    if (ngx_http_oidc_header_out(r, "Location", url,
                                 &r->headers_out.location)
        != NGX_OK
        || ngx_http_oidc_header_out(r, "Cache-Control", &no_store, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_HTTP_MOVED_TEMPORARILY;
}


/*
 * A short text/plain page, sent here: NGX_DONE.  "code", an OAuth error
 * code from the provider or the client, is shown only when it is one
 * (RFC 6749 5.2: letters, digits, "_"), so nothing is reflected raw.
 */

ngx_int_t
ngx_http_oidc_error_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *text, ngx_str_t *code)
{
    size_t      len, i;
    ngx_str_t   page, no_store = ngx_string("no-store");

    if (code != NULL) {
        for (i = 0; i < code->len && i < 64; i++) {
            if (!(ngx_http_oidc_isalnum(code->data[i])
                  || code->data[i] == '_'))
            {
                break;
            }
        }

        if (i == 0 || i != code->len) {
            code = NULL;
        }
    }

    len = ngx_strlen(text) + sizeof(" ().\n") + (code ? code->len : 0);

    page.data = ngx_pnalloc(r->pool, len);
    if (page.data == NULL) {
        return NGX_ERROR;
    }

    page.len = ((code != NULL) ? ngx_sprintf(page.data, "%s (%V).\n", text,
                                             code)
                               : ngx_sprintf(page.data, "%s\n", text))
               - page.data;

    if (ngx_http_oidc_header_out(r, "Cache-Control", &no_store, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_oidc_send(r, status, "text/plain; charset=utf-8", &page);
}


/*
 * The body of a request read in the access phase, as nginx's mirror
 * module does: the read is started, the request finalized with NGX_DONE
 * (the read holds its own reference), and the body handler records that
 * it is done and runs the phases again, which brings the request back
 * here.  The body stays for the upstream (preserve_body).
 */

ngx_int_t
ngx_http_oidc_form_body(ngx_http_request_t *r, size_t max, ngx_str_t *body)
{
    size_t                 len;
    ngx_int_t              rc;
    ngx_table_elt_t       *ct;
    ngx_http_oidc_ctx_t   *ctx;
    ngx_http_oidc_body_t  *rb;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);
    rb = ctx->body;

    if (rb != NULL) {
        if (!rb->read) {
            /* an event while the body is still coming */
            return NGX_AGAIN;
        }

        *body = rb->body;

        return rb->status;
    }

    ngx_str_set(body, "");

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return NGX_OK;
    }

    ct = r->headers_in.content_type;
    len = sizeof("application/x-www-form-urlencoded") - 1;

    if (ct == NULL
        || ct->value.len < len
        || ngx_strncasecmp(ct->value.data,
                           (u_char *) "application/x-www-form-urlencoded",
                           len)
           != 0)
    {
        return NGX_DECLINED;
    }

    if (r->headers_in.content_length_n > (off_t) max) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_oidc_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    rb->max = max;
    ctx->body = rb;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_oidc_form_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


static void
ngx_http_oidc_form_body_handler(ngx_http_request_t *r)
{
    ngx_http_oidc_ctx_t   *ctx;
    ngx_http_oidc_body_t  *rb;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);
    rb = ctx->body;

    rb->read = 1;
    rb->status = ngx_http_oidc_form_body_copy(r, rb);

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* the body in one piece: in memory and bounded, or too large */

static ngx_int_t
ngx_http_oidc_form_body_copy(ngx_http_request_t *r, ngx_http_oidc_body_t *rb)
{
    u_char       *p;
    size_t        len;
    ngx_chain_t  *cl;

    ngx_str_set(&rb->body, "");

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    if (r->request_body->temp_file != NULL) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    if (len > rb->max) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rb->body.data = p;
    rb->body.len = len;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    return NGX_OK;
}


/*
 * A whole response of "type" with "body" (may be empty), the headers
 * the caller added kept: NGX_DONE, the request finalized.
 */

ngx_int_t
ngx_http_oidc_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_str_t *body)
{
    u_char       *semi;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (body->len) {
        b->pos = body->data;
        b->last = body->data + body->len;
        b->memory = 1;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);

    semi = (u_char *) ngx_strchr(type, ';');
    r->headers_out.content_type_len = semi ? (size_t) (semi - (u_char *) type)
                                           : r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        out.buf = b;
        out.next = NULL;
        rc = ngx_http_output_filter(r, &out);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}
