
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_HTTP_H_INCLUDED_
#define _NGX_HTTP_OIDC_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


/*
 * The module's own HTTP/1.1 client to the OpenID Provider, on nginx's
 * event loop: usable from a request and from a worker timer.  One fetch
 * is one connection ("Connection: close"), with its own pool.
 *
 * Addresses: IP literals are used as they are; host names go through
 * the http-level "resolver" when one is configured, else through the
 * addresses resolved at configuration time for the hosts of "issuer"
 * and "config_url".  Nothing blocks at run time.
 *
 * https: the provider's ngx_ssl_t (its CA list and CRL), SNI, the chain
 * verified (SSL_get_verify_result) and the host name checked against
 * the certificate.  Redirects are never followed: a 3xx is a failure.
 *
 * Timeouts: "connect_timeout" for the TCP connection and the TLS
 * handshake, "read_timeout" for sending the request and receiving the
 * whole response.  The body is capped at "max_response_size".
 */


/* an absolute http(s) URL; members point into the string parsed */
typedef struct {
    ngx_str_t                     host;         /* IPv6 without brackets */
    ngx_str_t                     authority;    /* host[:port], for Host */
    ngx_str_t                     uri;          /* path?query, "/" if none */
    in_port_t                     port;
    unsigned                      https:1;
} ngx_http_oidc_url_t;


/* a host name resolved at configuration time */
typedef struct {
    ngx_str_t                     name;
    ngx_addr_t                   *addrs;
    ngx_uint_t                    naddrs;
} ngx_http_oidc_http_host_t;


struct ngx_http_oidc_http_conf_s {
    ngx_http_core_loc_conf_t     *clcf;         /* its resolver */
    ngx_array_t                   hosts;        /* ngx_http_oidc_http_host_t */
};


typedef struct ngx_http_oidc_http_s  ngx_http_oidc_http_t;


typedef struct {
    ngx_uint_t                    status;       /* 0: failed, see error */
    ngx_str_t                     body;
    time_t                        max_age;      /* Cache-Control, -1: none */
    const char                   *error;        /* NULL unless failed */
} ngx_http_oidc_http_response_t;


/*
 * Called once per fetch that was not cancelled, always from the event
 * loop (never from within ngx_http_oidc_http_get/post_form).  "resp"
 * and the body live in the fetch's pool, destroyed when the callback
 * returns: copy what must be kept.  The handle is invalid from then on.
 * Any status other than a 3xx is reported with its body (callers check
 * it); status 0 means the fetch failed and "error" says why, without
 * secrets.  The client logs nothing above NGX_LOG_INFO itself: the
 * caller decides what to log and how often.
 */
typedef void (*ngx_http_oidc_http_done_pt)(ngx_http_oidc_http_response_t *resp,
    void *data);


/* the response parser, ngx_http_oidc_http_parse.c */
typedef struct {
    ngx_pool_t                     *pool;       /* for the body */
    size_t                          max;        /* body size limit */
    ngx_http_oidc_http_response_t   resp;
    size_t                          body_size;  /* allocated */
    off_t                           content_length;  /* -1: none */
    size_t                          chunk;      /* left in the chunk */
    size_t                          scan;       /* header bytes searched */
    ngx_uint_t                      state;
    u_char                          errstr[128];
    unsigned                        header_done:1;
    unsigned                        chunked:1;
} ngx_http_oidc_http_parser_t;


void ngx_http_oidc_http_parser_init(ngx_http_oidc_http_parser_t *hp,
    ngx_pool_t *pool, size_t max);

/*
 * Consumes input from b->pos (a full header must fit in b; the bytes of
 * an incomplete header may be moved to b->start): NGX_AGAIN for more,
 * NGX_OK when the response is complete (hp->resp), NGX_ERROR with
 * hp->resp.error set.  Interim 1xx responses are skipped; 101 and any
 * 3xx are errors.
 */
ngx_int_t ngx_http_oidc_http_parse(ngx_http_oidc_http_parser_t *hp,
    ngx_buf_t *b);

/* the peer closed the connection: NGX_OK if that ends the response */
ngx_int_t ngx_http_oidc_http_parse_eof(ngx_http_oidc_http_parser_t *hp);


/* NGX_OK or NGX_ERROR: not an absolute http(s) URL we can use */
ngx_int_t ngx_http_oidc_http_parse_url(ngx_str_t *url,
    ngx_http_oidc_url_t *u);

/*
 * Configuration time: checks an issuer or config_url of "p" (scheme
 * allowed, syntax) and resolves its host once, so that workers can
 * connect without a resolver.  Logs (quoting "directive") and returns
 * NGX_ERROR on a bad URL.
 */
ngx_int_t ngx_http_oidc_http_conf_url(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p, ngx_str_t *url, const char *directive);

/*
 * Configuration time: the provider's TLS client context (TLS 1.2 and
 * 1.3), trusting "ssl_trusted_certificate" or else the system CA bundle,
 * with "ssl_crl".  Logs and returns NGX_ERROR on failure.
 */
ngx_int_t ngx_http_oidc_http_conf_ssl(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p);

/*
 * Starts a GET, or a POST of an application/x-www-form-urlencoded
 * "form" (application/json when it starts with "{") with extra header
 * lines "headers" (each "Name: value" CRLF, e.g. Authorization: Basic;
 * may be NULL).  "log" gives the file and
 * level only (the client keeps a copy with its own handler), and the URL,
 * form and headers are copied: a fetch may outlive the request that
 * started it (a revocation at logout), else the caller cancels it from a
 * request pool cleanup.  Returns NULL on an immediate failure (logged at
 * NGX_LOG_ERR on "log"): no callback follows.
 */
ngx_http_oidc_http_t *ngx_http_oidc_http_get(ngx_http_oidc_provider_t *p,
    ngx_str_t *url, ngx_log_t *log, ngx_http_oidc_http_done_pt handler,
    void *data);
/* a GET with extra header lines, e.g. Authorization: Bearer (userinfo) */
ngx_http_oidc_http_t *ngx_http_oidc_http_get_headers(
    ngx_http_oidc_provider_t *p, ngx_str_t *url, ngx_str_t *headers,
    ngx_log_t *log, ngx_http_oidc_http_done_pt handler, void *data);
ngx_http_oidc_http_t *ngx_http_oidc_http_post_form(
    ngx_http_oidc_provider_t *p, ngx_str_t *url, ngx_str_t *form,
    ngx_str_t *headers, ngx_log_t *log, ngx_http_oidc_http_done_pt handler,
    void *data);

/*
 * In a callback: the answer's body copied into "pool" (a request's, to
 * outlive the fetch); returns its status, 0 when the fetch failed or
 * there was no memory.
 */
ngx_uint_t ngx_http_oidc_http_keep(ngx_http_oidc_http_response_t *resp,
    ngx_pool_t *pool, ngx_str_t *body);

/* stops a fetch that has not called back yet; its callback never runs */
void ngx_http_oidc_http_cancel(ngx_http_oidc_http_t *http);


#endif /* _NGX_HTTP_OIDC_HTTP_H_INCLUDED_ */
