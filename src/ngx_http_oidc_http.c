
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"
#include "ngx_http_oidc_http.h"


#define NGX_HTTP_OIDC_CA_BUNDLE        "/etc/ssl/certs/ca-certificates.crt"
#define NGX_HTTP_OIDC_VERIFY_DEPTH     9
#define NGX_HTTP_OIDC_HTTP_HEADER_MAX  16384
#define NGX_HTTP_OIDC_HTTP_ERRSTR_LEN  256
#define NGX_HTTP_OIDC_HTTP_ADDRS       16


struct ngx_http_oidc_http_s {
    ngx_pool_t                     *pool;
    ngx_log_t                       log;
    ngx_http_oidc_provider_t       *provider;
    ngx_str_t                       target;     /* the URL, copied */
    ngx_http_oidc_url_t             url;
    ngx_buf_t                      *request;
    ngx_buf_t                      *in;
    ngx_http_oidc_http_parser_t     parser;

    ngx_addr_t                     *addrs;
    ngx_uint_t                      naddrs;
    ngx_uint_t                      naddr;
    ngx_resolver_ctx_t             *resolver_ctx;
    ngx_peer_connection_t           peer;

    ngx_event_t                     timer;
    ngx_event_t                     done;
    ngx_http_oidc_http_done_pt      handler;
    void                           *data;
    ngx_msec_t                      start;      /* for the latency metric */
    ngx_http_oidc_endpoint_e        endpoint;

    u_char                          errstr[NGX_HTTP_OIDC_HTTP_ERRSTR_LEN];

    unsigned                        literal:1;  /* host is an address */
    unsigned                        connected:1;
    unsigned                        reading:1;
    unsigned                        finished:1;
};


static ngx_http_oidc_http_t *ngx_http_oidc_http_create(
    ngx_http_oidc_provider_t *p, ngx_str_t *url, ngx_log_t *log,
    ngx_http_oidc_http_done_pt handler, void *data);
static ngx_http_oidc_http_t *ngx_http_oidc_http_start(
    ngx_http_oidc_provider_t *p, ngx_str_t *url, ngx_str_t *form,
    ngx_str_t *headers, ngx_log_t *log, ngx_http_oidc_http_done_pt handler,
    void *data);
static ngx_int_t ngx_http_oidc_http_create_request(ngx_http_oidc_http_t *http,
    ngx_str_t *form, ngx_str_t *headers);
static void ngx_http_oidc_http_resolve(ngx_http_oidc_http_t *http);
static ngx_int_t ngx_http_oidc_http_conf_addrs(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_resolve_handler(ngx_resolver_ctx_t *ctx);
static ngx_int_t ngx_http_oidc_http_add_addr(ngx_http_oidc_http_t *http,
    struct sockaddr *sockaddr, socklen_t socklen);
static void ngx_http_oidc_http_connect(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_connected(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_ssl_init(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_ssl_handshake_handler(ngx_connection_t *c);
static ngx_int_t ngx_http_oidc_http_ssl_name(ngx_http_oidc_http_t *http);
static ngx_int_t ngx_http_oidc_http_check_host(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_ready(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_write_handler(ngx_event_t *wev);
static void ngx_http_oidc_http_send(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_http_oidc_http_process(ngx_http_oidc_http_t *http,
    ssize_t n);
static void ngx_http_oidc_http_timeout_handler(ngx_event_t *ev);
static void ngx_http_oidc_http_next(ngx_http_oidc_http_t *http,
    const char *fmt, ...);
static void ngx_http_oidc_http_fail(ngx_http_oidc_http_t *http,
    const char *fmt, ...);
static void ngx_http_oidc_http_error(ngx_http_oidc_http_t *http,
    const char *fmt, va_list args);
static void ngx_http_oidc_http_finish(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_close(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_close_connection(ngx_http_oidc_http_t *http);
static void ngx_http_oidc_http_done_handler(ngx_event_t *ev);
static void ngx_http_oidc_http_dummy_handler(ngx_event_t *ev);
static u_char *ngx_http_oidc_http_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


ngx_int_t
ngx_http_oidc_http_conf_ssl(ngx_conf_t *cf, ngx_http_oidc_provider_t *p)
{
    ngx_str_t            trusted;
    ngx_ssl_t           *ssl;
    ngx_file_info_t      fi;
    ngx_pool_cleanup_t  *cln;

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (ssl == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    p->ssl = ssl;
    trusted = p->ssl_trusted_certificate;

    if (trusted.len == 0) {
        ngx_str_set(&trusted, NGX_HTTP_OIDC_CA_BUNDLE);

        if (ngx_file_info(trusted.data, &fi) == NGX_FILE_ERROR) {

            if (!p->allow_insecure_http) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                   "oidc_provider \"%V\": no "
                                   "\"ssl_trusted_certificate\" and the "
                                   "system CA bundle \"%V\" cannot be used",
                                   &p->name, &trusted);
                return NGX_ERROR;
            }

            /* plain http only: https fetches will fail verification */
            ngx_str_null(&trusted);
        }
    }

    if (ngx_ssl_trusted_certificate(cf, ssl, &trusted,
                                    NGX_HTTP_OIDC_VERIFY_DEPTH)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_ssl_crl(cf, ssl, &p->ssl_crl) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_http_oidc_http_t *
ngx_http_oidc_http_get(ngx_http_oidc_provider_t *p, ngx_str_t *url,
    ngx_log_t *log, ngx_http_oidc_http_done_pt handler, void *data)
{
    return ngx_http_oidc_http_start(p, url, NULL, NULL, log, handler, data);
}


ngx_http_oidc_http_t *
ngx_http_oidc_http_get_headers(ngx_http_oidc_provider_t *p, ngx_str_t *url,
    ngx_str_t *headers, ngx_log_t *log, ngx_http_oidc_http_done_pt handler,
    void *data)
{
    return ngx_http_oidc_http_start(p, url, NULL, headers, log, handler,
                                    data);
}


ngx_http_oidc_http_t *
ngx_http_oidc_http_post_form(ngx_http_oidc_provider_t *p, ngx_str_t *url,
    ngx_str_t *form, ngx_str_t *headers, ngx_log_t *log,
    ngx_http_oidc_http_done_pt handler, void *data)
{
    return ngx_http_oidc_http_start(p, url, form, headers, log, handler,
                                    data);
}


void
ngx_http_oidc_http_cancel(ngx_http_oidc_http_t *http)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &http->log, 0,
                   "oidc: http fetch cancelled");

    if (http->done.posted) {
        ngx_delete_posted_event(&http->done);
    }

    ngx_http_oidc_http_close(http);
    ngx_destroy_pool(http->pool);
}


static ngx_http_oidc_http_t *
ngx_http_oidc_http_create(ngx_http_oidc_provider_t *p, ngx_str_t *url,
    ngx_log_t *log, ngx_http_oidc_http_done_pt handler, void *data)
{
    u_char                *s;
    ngx_pool_t            *pool;
    ngx_http_oidc_http_t  *http;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return NULL;
    }

    http = ngx_pcalloc(pool, sizeof(ngx_http_oidc_http_t));
    s = ngx_pnalloc(pool, url->len);

    if (http == NULL || s == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    http->in = ngx_create_temp_buf(pool, NGX_HTTP_OIDC_HTTP_HEADER_MAX);
    if (http->in == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    /* the URL is kept: the caller's copy may go away */
    ngx_memcpy(s, url->data, url->len);

    http->target.data = s;
    http->target.len = url->len;

    http->pool = pool;
    http->provider = p;
    http->handler = handler;
    http->data = data;
    http->start = ngx_current_msec;
    http->endpoint = ngx_http_oidc_provider_endpoint(p, &http->target);

    /*
     * the caller's log gives the file and level only: a request may end,
     * and free its connection's log, while the client still runs or in
     * the completion callback itself
     */
    http->log = *log;
    http->log.handler = ngx_http_oidc_http_log_error;
    http->log.data = http;
    http->log.action = "connecting to the OIDC provider";

    pool->log = &http->log;

    http->timer.handler = ngx_http_oidc_http_timeout_handler;
    http->timer.data = http;
    http->timer.log = &http->log;

    http->done.handler = ngx_http_oidc_http_done_handler;
    http->done.data = http;
    http->done.log = &http->log;

    ngx_http_oidc_http_parser_init(&http->parser, pool, p->max_response_size);

    return http;
}


static ngx_http_oidc_http_t *
ngx_http_oidc_http_start(ngx_http_oidc_provider_t *p, ngx_str_t *url,
    ngx_str_t *form, ngx_str_t *headers, ngx_log_t *log,
    ngx_http_oidc_http_done_pt handler, void *data)
{
    ngx_http_oidc_http_t  *http;

    http = ngx_http_oidc_http_create(p, url, log, handler, data);
    if (http == NULL) {
        return NULL;
    }

    if (ngx_http_oidc_http_parse_url(&http->target, &http->url) != NGX_OK) {
        ngx_http_oidc_http_fail(http, "invalid URL");
        return http;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, &http->log, 0,
                   "oidc: http %s %s://%V%V", form ? "POST" : "GET",
                   http->url.https ? "https" : "http",
                   &http->url.authority, &http->url.uri);

    if (ngx_http_oidc_http_create_request(http, form, headers) != NGX_OK) {
        ngx_destroy_pool(http->pool);
        return NULL;
    }

    if (!http->url.https && !p->allow_insecure_http) {
        ngx_http_oidc_http_fail(http, "http URL refused without "
                                "\"allow_insecure_http on\"");
        return http;
    }

    if (http->url.https && p->ssl == NULL) {
        ngx_http_oidc_http_fail(http, "no TLS context for https");
        return http;
    }

    ngx_http_oidc_http_resolve(http);

    return http;
}


static ngx_int_t
ngx_http_oidc_http_create_request(ngx_http_oidc_http_t *http, ngx_str_t *form,
    ngx_str_t *headers)
{
    size_t      len;
    ngx_buf_t  *b;

    len = sizeof("POST ") - 1 + http->url.uri.len
          + sizeof(" HTTP/1.1" CRLF "Host: ") - 1 + http->url.authority.len
          + sizeof(CRLF "Accept: application/json" CRLF
                   "User-Agent: nginx-oidc" CRLF
                   "Connection: close" CRLF) - 1
          + sizeof(CRLF) - 1;

    if (headers) {
        len += headers->len;
    }

    if (form) {
        len += sizeof("Content-Type: application/x-www-form-urlencoded" CRLF
                      "Content-Length: " CRLF) - 1
               + NGX_SIZE_T_LEN + form->len;
    }

    b = ngx_create_temp_buf(http->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last, "%s %V HTTP/1.1" CRLF "Host: %V" CRLF
                          "Accept: application/json" CRLF
                          "User-Agent: nginx-oidc" CRLF
                          "Connection: close" CRLF,
                          form ? "POST" : "GET", &http->url.uri,
                          &http->url.authority);

    if (headers) {
        b->last = ngx_cpymem(b->last, headers->data, headers->len);
    }

    if (form) {
        /* a form never starts with "{" (escaped): a JSON object does */
        b->last = ngx_sprintf(b->last, "Content-Type: %s" CRLF
                              "Content-Length: %uz" CRLF CRLF "%V",
                              (form->len && form->data[0] == '{')
                              ? "application/json"
                              : "application/x-www-form-urlencoded",
                              form->len, form);

    } else {
        *b->last++ = CR; *b->last++ = LF;
    }

    http->request = b;

    return NGX_OK;
}


/* IP literal, else the resolver, else addresses from configuration time */

static void
ngx_http_oidc_http_resolve(ngx_http_oidc_http_t *http)
{
    ngx_int_t                  rc;
    ngx_str_t                 *host;
    ngx_addr_t                 addr;
    ngx_resolver_ctx_t        *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    host = &http->url.host;
    clcf = http->provider->http->clcf;

    if (ngx_parse_addr(http->pool, &addr, host->data, host->len) == NGX_OK) {
        http->literal = 1;
        rc = ngx_http_oidc_http_add_addr(http, addr.sockaddr, addr.socklen);
        goto connect;
    }

    ctx = clcf->resolver ? ngx_resolve_start(clcf->resolver, NULL)
                         : NGX_NO_RESOLVER;

    if (ctx == NULL) {
        ngx_http_oidc_http_fail(http, "out of memory");
        return;
    }

    if (ctx != NGX_NO_RESOLVER) {
        ctx->name = *host;
        ctx->handler = ngx_http_oidc_http_resolve_handler;
        ctx->data = http;
        ctx->timeout = (clcf->resolver_timeout == NGX_CONF_UNSET_MSEC)
                       ? 30000 : clcf->resolver_timeout;

        http->resolver_ctx = ctx;
        http->log.action = "resolving the OIDC provider's host";

        if (ngx_resolve_name(ctx) != NGX_OK) {
            http->resolver_ctx = NULL;
            ngx_http_oidc_http_fail(http, "resolver failed");
        }

        return;
    }

    rc = ngx_http_oidc_http_conf_addrs(http);

    if (rc == NGX_DECLINED) {
        ngx_http_oidc_http_fail(http, "cannot resolve \"%V\": no "
                                "\"resolver\" is configured and the host "
                                "was not resolved at configuration time",
                                host);
        return;
    }

connect:

    if (rc != NGX_OK) {
        ngx_http_oidc_http_fail(http, "out of memory");
        return;
    }

    ngx_http_oidc_http_connect(http);
}


static ngx_int_t
ngx_http_oidc_http_conf_addrs(ngx_http_oidc_http_t *http)
{
    ngx_str_t                  *host;
    ngx_uint_t                  i, j;
    ngx_http_oidc_http_host_t  *h;

    host = &http->url.host;
    h = http->provider->http->hosts.elts;

    for (i = 0; i < http->provider->http->hosts.nelts; i++) {
        if (h[i].name.len != host->len
            || ngx_strncasecmp(h[i].name.data, host->data, host->len) != 0)
        {
            continue;
        }

        for (j = 0; j < h[i].naddrs; j++) {
            if (ngx_http_oidc_http_add_addr(http, h[i].addrs[j].sockaddr,
                                            h[i].addrs[j].socklen)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_http_oidc_http_resolve_handler(ngx_resolver_ctx_t *ctx)
{
    ngx_uint_t             i;
    ngx_http_oidc_http_t  *http;

    http = ctx->data;

    if (ctx->state) {
        ngx_http_oidc_http_fail(http, "\"%V\" could not be resolved (%i: %s)",
                                &ctx->name, ctx->state,
                                ngx_resolver_strerror(ctx->state));
        return;
    }

    for (i = 0; i < ctx->naddrs; i++) {
        if (ngx_http_oidc_http_add_addr(http, ctx->addrs[i].sockaddr,
                                        ctx->addrs[i].socklen)
            != NGX_OK)
        {
            ngx_http_oidc_http_fail(http, "out of memory");
            return;
        }
    }

    ngx_resolve_name_done(ctx);
    http->resolver_ctx = NULL;

    ngx_http_oidc_http_connect(http);
}


static ngx_int_t
ngx_http_oidc_http_add_addr(ngx_http_oidc_http_t *http,
    struct sockaddr *sockaddr, socklen_t socklen)
{
    u_char      *p;
    ngx_addr_t  *addr;

    if (http->addrs == NULL) {
        /* a resolver answer or a host resolved once hold a few addresses */
        http->addrs = ngx_pcalloc(http->pool,
                                  NGX_HTTP_OIDC_HTTP_ADDRS
                                  * sizeof(ngx_addr_t));
        if (http->addrs == NULL) {
            return NGX_ERROR;
        }
    }

    if (http->naddrs == NGX_HTTP_OIDC_HTTP_ADDRS) {
        return NGX_OK;
    }

    addr = &http->addrs[http->naddrs];

    addr->sockaddr = ngx_palloc(http->pool, socklen);
    p = ngx_pnalloc(http->pool, NGX_SOCKADDR_STRLEN);

    if (addr->sockaddr == NULL || p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(addr->sockaddr, sockaddr, socklen);
    ngx_inet_set_port(addr->sockaddr, http->url.port);

    addr->socklen = socklen;
    addr->name.data = p;
    addr->name.len = ngx_sock_ntop(addr->sockaddr, socklen, p,
                                   NGX_SOCKADDR_STRLEN, 1);

    http->naddrs++;

    return NGX_OK;
}


static void
ngx_http_oidc_http_connect(ngx_http_oidc_http_t *http)
{
    ngx_int_t          rc;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    if (http->naddr >= http->naddrs) {
        ngx_http_oidc_http_fail(http, "\"%V\" has no address",
                                &http->url.host);
        return;
    }

    addr = &http->addrs[http->naddr];

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &http->log, 0,
                   "oidc: http connect to %V (%ui)", &addr->name,
                   http->naddr);

    ngx_memzero(&http->peer, sizeof(ngx_peer_connection_t));

    http->peer.sockaddr = addr->sockaddr;
    http->peer.socklen = addr->socklen;
    http->peer.name = &addr->name;
    http->peer.get = ngx_event_get_peer;
    http->peer.log = &http->log;
    http->peer.log_error = NGX_ERROR_INFO;

    http->connected = 0;
    http->log.action = "connecting to the OIDC provider";

    rc = ngx_event_connect_peer(&http->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_oidc_http_next(http, "connect() to %V failed", &addr->name);
        return;
    }

    c = http->peer.connection;

    c->data = http;
    c->pool = http->pool;
    c->sendfile = 0;

    c->read->handler = ngx_http_oidc_http_read_handler;
    c->write->handler = ngx_http_oidc_http_write_handler;

    ngx_add_timer(&http->timer, http->provider->connect_timeout);

    if (rc == NGX_OK) {
        ngx_http_oidc_http_connected(http);
    }

    /* NGX_AGAIN: the write event tells that connect() is done */
}


static void
ngx_http_oidc_http_connected(ngx_http_oidc_http_t *http)
{
    int                err;
    u_char            *p, *last;
    socklen_t          len;
    ngx_connection_t  *c;

    c = http->peer.connection;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        last = http->errstr + sizeof(http->errstr) - 2;
        p = ngx_snprintf(http->errstr, last - http->errstr,
                         "connect() to %V failed (%d: ", http->peer.name,
                         err);
        p = ngx_strerror(err, p, last - p);
        *p++ = ')';
        *p = '\0';

        ngx_http_oidc_http_next(http, "%s", http->errstr);
        return;
    }

    http->connected = 1;

    if (http->url.https) {
        ngx_http_oidc_http_ssl_init(http);
        return;
    }

    ngx_http_oidc_http_ready(http);
}


static void
ngx_http_oidc_http_ssl_init(ngx_http_oidc_http_t *http)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = http->peer.connection;

    if (ngx_ssl_create_connection(http->provider->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_oidc_http_fail(http, "TLS connection not created");
        return;
    }

    if (ngx_http_oidc_http_ssl_name(http) != NGX_OK) {
        ngx_http_oidc_http_fail(http, "TLS server name not set");
        return;
    }

    http->log.action = "SSL handshaking to the OIDC provider";

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_oidc_http_ssl_handshake_handler;
        return;
    }

    ngx_http_oidc_http_ssl_handshake_handler(c);
}


static void
ngx_http_oidc_http_ssl_handshake_handler(ngx_connection_t *c)
{
    long                   rc;
    ngx_http_oidc_http_t  *http;

    http = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_oidc_http_fail(http, "SSL handshake with %V failed",
                                http->peer.name);
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_http_oidc_http_fail(http, "SSL certificate verify error: "
                                "(%l:%s)", rc,
                                X509_verify_cert_error_string(rc));
        return;
    }

    if (ngx_http_oidc_http_check_host(http) != NGX_OK) {
        ngx_http_oidc_http_fail(http, "SSL certificate does not match "
                                "\"%V\"", &http->url.host);
        return;
    }

    ngx_http_oidc_http_ready(http);
}


/* ngx_ssl_check_host() matches DNS names only: IP literals here */

static ngx_int_t
ngx_http_oidc_http_check_host(ngx_http_oidc_http_t *http)
{
    int      rc;
    X509    *cert;
    u_char  *ip;

    if (!http->literal) {
        return ngx_ssl_check_host(http->peer.connection, &http->url.host);
    }

    ip = ngx_pnalloc(http->pool, http->url.host.len + 1);
    if (ip == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(ip, http->url.host.data, http->url.host.len + 1);

    cert = SSL_get_peer_certificate(http->peer.connection->ssl->connection);
    if (cert == NULL) {
        return NGX_ERROR;
    }

    rc = X509_check_ip_asc(cert, (char *) ip, 0);

    X509_free(cert);

    return (rc == 1) ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_oidc_http_ssl_name(ngx_http_oidc_http_t *http)
{
    u_char     *p;
    ngx_str_t  *host;

    host = &http->url.host;

    /* RFC 6066: no IP literal in SNI */
    if (http->literal) {
        return NGX_OK;
    }

    p = ngx_pnalloc(http->pool, host->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(p, host->data, host->len + 1);

    if (SSL_set_tlsext_host_name(http->peer.connection->ssl->connection,
                                 (char *) p)
        == 0)
    {
        ngx_ssl_error(NGX_LOG_ERR, &http->log, 0,
                      "SSL_set_tlsext_host_name(\"%s\") failed", p);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_oidc_http_ready(ngx_http_oidc_http_t *http)
{
    ngx_connection_t  *c;

    c = http->peer.connection;

    /* one deadline for the whole exchange */
    http->reading = 1;
    ngx_add_timer(&http->timer, http->provider->read_timeout);

    http->log.action = "talking to the OIDC provider";

    c->read->handler = ngx_http_oidc_http_read_handler;
    c->write->handler = ngx_http_oidc_http_write_handler;

    ngx_http_oidc_http_send(http);
}


static void
ngx_http_oidc_http_write_handler(ngx_event_t *wev)
{
    ngx_connection_t      *c;
    ngx_http_oidc_http_t  *http;

    c = wev->data;
    http = c->data;

    if (c->close) {
        ngx_http_oidc_http_fail(http, "the worker is shutting down");
        return;
    }

    if (!http->connected) {
        ngx_http_oidc_http_connected(http);
        return;
    }

    ngx_http_oidc_http_send(http);
}


static void
ngx_http_oidc_http_send(ngx_http_oidc_http_t *http)
{
    ssize_t            n;
    ngx_buf_t         *b;
    ngx_connection_t  *c;

    c = http->peer.connection;
    b = http->request;

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_oidc_http_fail(http, "write event failed");
            }

            return;
        }

        if (n <= 0) {
            ngx_http_oidc_http_fail(http, "send() to %V failed",
                                    http->peer.name);
            return;
        }

        b->pos += n;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, &http->log, 0,
                   "oidc: http request sent");

    c->write->handler = ngx_http_oidc_http_dummy_handler;

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_oidc_http_fail(http, "write event failed");
        return;
    }

    if (c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }
}


static void
ngx_http_oidc_http_read_handler(ngx_event_t *rev)
{
    ssize_t                n;
    ngx_int_t              rc;
    ngx_buf_t             *b;
    ngx_connection_t      *c;
    ngx_http_oidc_http_t  *http;

    c = rev->data;
    http = c->data;

    if (c->close) {
        /* worker_shutdown_timeout */
        ngx_http_oidc_http_fail(http, "the worker is shutting down");
        return;
    }

    if (!http->connected) {
        ngx_http_oidc_http_connected(http);
        return;
    }

    b = http->in;

    do {
        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_oidc_http_fail(http, "read event failed");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_oidc_http_fail(http, "recv() from %V failed",
                                    http->peer.name);
            return;
        }

        rc = ngx_http_oidc_http_process(http, n);

    } while (rc == NGX_AGAIN);
}


/* "n" more bytes in http->in, 0 at the end of the connection */

static ngx_int_t
ngx_http_oidc_http_process(ngx_http_oidc_http_t *http, ssize_t n)
{
    ngx_int_t   rc;
    ngx_buf_t  *b;

    b = http->in;

    if (n == 0) {
        rc = ngx_http_oidc_http_parse_eof(&http->parser);

    } else {
        b->last += n;
        rc = ngx_http_oidc_http_parse(&http->parser, b);

        if (b->pos == b->last) {
            b->pos = b->start;
            b->last = b->start;
        }
    }

    if (rc == NGX_OK) {
        ngx_http_oidc_http_finish(http);

    } else if (rc == NGX_ERROR) {
        ngx_http_oidc_http_fail(http, "%s", http->parser.resp.error);
    }

    return rc;
}


static void
ngx_http_oidc_http_timeout_handler(ngx_event_t *ev)
{
    ngx_http_oidc_http_t  *http;

    http = ev->data;

    if (!http->reading) {
        ngx_http_oidc_http_next(http, "connection to %V timed out",
                                http->peer.name);
        return;
    }

    ngx_http_oidc_http_fail(http, "%V timed out (\"read_timeout\")",
                            http->peer.name);
}


/* the current address failed: try the next one, if any */

static void
ngx_http_oidc_http_next(ngx_http_oidc_http_t *http, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_http_oidc_http_error(http, fmt, args);
    va_end(args);

    ngx_http_oidc_http_close_connection(http);

    if (++http->naddr < http->naddrs) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &http->log, 0,
                       "oidc: http %s, next address", http->errstr);
        ngx_http_oidc_http_connect(http);
        return;
    }

    http->parser.resp.status = 0;
    http->parser.resp.body.len = 0;
    http->parser.resp.error = (const char *) http->errstr;

    ngx_http_oidc_http_finish(http);
}


static void
ngx_http_oidc_http_fail(ngx_http_oidc_http_t *http, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_http_oidc_http_error(http, fmt, args);
    va_end(args);

    http->parser.resp.status = 0;
    http->parser.resp.body.len = 0;
    http->parser.resp.error = (const char *) http->errstr;

    ngx_http_oidc_http_finish(http);
}


static void
ngx_http_oidc_http_error(ngx_http_oidc_http_t *http, const char *fmt,
    va_list args)
{
    u_char  *p;
    u_char   buf[NGX_HTTP_OIDC_HTTP_ERRSTR_LEN];

    /* fmt may be "%s" of errstr itself */
    p = ngx_vslprintf(buf, buf + sizeof(buf) - 1, fmt, args);
    *p = '\0';

    ngx_memcpy(http->errstr, buf, p - buf + 1);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &http->log, 0,
                   "oidc: http error: %s", http->errstr);
}


static void
ngx_http_oidc_http_finish(ngx_http_oidc_http_t *http)
{
    if (http->finished) {
        return;
    }

    http->finished = 1;

    if (http->parser.resp.error == NULL) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, &http->log, 0,
                       "oidc: http done, status %ui, %uz body bytes",
                       http->parser.resp.status,
                       http->parser.resp.body.len);
    }

    ngx_http_oidc_http_close(http);

    /* the callback always runs from the event loop */
    ngx_post_event(&http->done, &ngx_posted_events);
}


static void
ngx_http_oidc_http_close(ngx_http_oidc_http_t *http)
{
    if (http->resolver_ctx) {
        ngx_resolve_name_done(http->resolver_ctx);
        http->resolver_ctx = NULL;
    }

    if (http->timer.timer_set) {
        ngx_del_timer(&http->timer);
    }

    ngx_http_oidc_http_close_connection(http);
}


static void
ngx_http_oidc_http_close_connection(ngx_http_oidc_http_t *http)
{
    ngx_connection_t  *c;

    c = http->peer.connection;

    if (c == NULL) {
        return;
    }

    if (c->ssl) {
        /* Connection: close, nothing to wait for */
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        (void) ngx_ssl_shutdown(c);
    }

    ngx_close_connection(c);

    http->peer.connection = NULL;
}


static void
ngx_http_oidc_http_done_handler(ngx_event_t *ev)
{
    void                        *data;
    ngx_pool_t                  *pool;
    ngx_http_oidc_http_t        *http;
    ngx_http_oidc_http_done_pt   handler;

    http = ev->data;

    pool = http->pool;
    handler = http->handler;
    data = http->data;

    /* a 5xx is the provider's failure; a 4xx is an answer */
    ngx_http_oidc_metric_call(http->provider, http->endpoint,
                              ngx_current_msec - http->start,
                              http->parser.resp.status == 0
                              || http->parser.resp.status >= 500);

    handler(&http->parser.resp, data);

    ngx_destroy_pool(pool);
}


static void
ngx_http_oidc_http_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "oidc: http dummy handler");
}


static u_char *
ngx_http_oidc_http_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                *p, *q;
    ngx_str_t              path;
    ngx_http_oidc_http_t  *http;

    http = log->data;
    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    /* the query is left out: it is nobody's business */
    q = ngx_strlchr(http->url.uri.data, http->url.uri.data + http->url.uri.len,
                    '?');

    path.data = http->url.uri.data;
    path.len = (q ? q : http->url.uri.data + http->url.uri.len) - path.data;

    return ngx_snprintf(buf, len, ", oidc provider: \"%V\", url: \"%s://%V%V\"",
                        &http->provider->name,
                        http->url.https ? "https" : "http",
                        &http->url.authority, &path);
}


ngx_uint_t
ngx_http_oidc_http_keep(ngx_http_oidc_http_response_t *resp, ngx_pool_t *pool,
    ngx_str_t *body)
{
    ngx_str_null(body);

    if (resp->status == 0) {
        return 0;
    }

    body->data = ngx_pnalloc(pool, resp->body.len + 1);
    if (body->data == NULL) {
        return 0;
    }

    ngx_memcpy(body->data, resp->body.data, resp->body.len);
    body->len = resp->body.len;

    return resp->status;
}
