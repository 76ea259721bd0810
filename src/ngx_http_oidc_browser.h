
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_BROWSER_H_INCLUDED_
#define _NGX_HTTP_OIDC_BROWSER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"
#include "ngx_http_oidc_http.h"
#include "ngx_oidc_crypto.h"
#include "ngx_oidc_record.h"
#include "ngx_oidc_url.h"


/*
 * The browser flow's parts: the login redirect (browser.c), the
 * callback (callback.c), sessions (session.c), requests to the token
 * endpoint (token_endpoint.c) and the cookies, redirects and pages they
 * share (web.c).
 */


/* a pending login lives this long, and so does its binding cookie */
#define NGX_HTTP_OIDC_LOGIN_TTL       600

/* the binding cookie's name ends with this many characters of the state */
#define NGX_HTTP_OIDC_BIND_PREFIX     8

#define NGX_HTTP_OIDC_STATE_LEN                                             \
    ngx_oidc_random_token_len(NGX_OIDC_STATE_BYTES)
#define NGX_HTTP_OIDC_SESSION_ID_LEN                                        \
    ngx_oidc_random_token_len(NGX_OIDC_SESSION_ID_BYTES)
#define NGX_HTTP_OIDC_HASH_LEN                                              \
    ngx_oidc_b64url_encoded_len(NGX_OIDC_SHA256_LEN)

#define NGX_HTTP_OIDC_MSG_EXPIRED                                           \
    "This login was not started in this browser, was already completed, "  \
    "or has expired. Please go back and try again."
#define NGX_HTTP_OIDC_MSG_INVALID     "Invalid login callback."
#define NGX_HTTP_OIDC_MSG_FAILED      "The login could not be completed."


/* copies between ngx_str_t and ngx_oidc_str_t (same layout) */
#define ngx_http_oidc_ostr(dst, src)                                        \
    (dst).len = (src).len; (dst).data = (src).data

#define ngx_http_oidc_ostr_set(dst, text)                                   \
    (dst).len = sizeof(text) - 1; (dst).data = (u_char *) text


/* a callback in progress: the request's own, in its pool */
typedef struct {
    ngx_http_request_t           *request;
    ngx_http_oidc_http_t         *http;         /* token request in flight */
    ngx_oidc_login_t              login;        /* the pending login */
    json_t                       *tokens;       /* the token response */
    ngx_uint_t                    status;       /* of the token endpoint */
    ngx_str_t                     body;
    void                         *userinfo;     /* userinfo.c's request */
    unsigned                      waiting:1;
} ngx_http_oidc_browser_t;


/* ngx_http_oidc_callback.c */
ngx_uint_t ngx_http_oidc_is_callback(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p);
ngx_int_t ngx_http_oidc_callback_start(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);
ngx_int_t ngx_http_oidc_callback_finish(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b);

/*
 * ngx_http_oidc_session.c.  load: NGX_OK (a live session, its claims
 * and tokens in ctx), NGX_DECLINED (none, or it just ended), NGX_AGAIN
 * (being renewed), NGX_HTTP_SERVICE_UNAVAILABLE, NGX_ERROR.  create: stores
 * the session of a completed login and sets its cookie; NGX_OK, or a
 * status (an error page may have been sent: NGX_DONE).
 */
ngx_int_t ngx_http_oidc_session_load(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);
ngx_int_t ngx_http_oidc_session_create(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, json_t *tokens, json_t *claims,
    json_t *userinfo);

/*
 * ngx_http_oidc_refresh.c: the session "s", stored under "key", renewed
 * with its refresh token when its access token expires within
 * "refresh_before".  Called on every session load (and again when the
 * request resumes); one renewal per session at a time across workers,
 * one per request.  NGX_OK: use *s (a renewed record replaced what it
 * held); NGX_AGAIN: waiting (the token endpoint, keys, or another
 * request's renewal when the access token has expired); NGX_DECLINED:
 * the provider refused, the session was ended (record deleted, cookie
 * cleared); NGX_HTTP_SERVICE_UNAVAILABLE: the access token has expired
 * and no renewal came; NGX_ERROR.  The caller frees *s in every case.
 */
ngx_int_t ngx_http_oidc_refresh(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, ngx_oidc_session_t *s);

/*
 * The session this request was renewing is gone (a logout while the
 * grant was in flight): the refresh token of the answer is revoked.
 */
void ngx_http_oidc_refresh_abandon(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p);

/*
 * ngx_http_oidc_token_endpoint.c: ngx_http_oidc_client_call()
 * (ngx_http_oidc_client_auth.h) of the grant "call"
 * (NGX_HTTP_OIDC_CALL_*) to the token endpoint, with the request's pool
 * and log; NULL also when there is none (logged).
 */
ngx_http_oidc_http_t *ngx_http_oidc_token_post(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_uint_t call, ngx_oidc_param_t *params,
    size_t n, ngx_http_oidc_http_done_pt handler, void *data);

/* ngx_http_oidc_web.c */
ngx_table_elt_t *ngx_http_oidc_header_in(ngx_http_request_t *r,
    const char *name, size_t len);
ngx_int_t ngx_http_oidc_header_out(ngx_http_request_t *r, const char *name,
    ngx_str_t *value, ngx_table_elt_t **out);
ngx_int_t ngx_http_oidc_redirect_uri(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *uri);
ngx_int_t ngx_http_oidc_cookie_name(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *state, ngx_str_t *name);
ngx_int_t ngx_http_oidc_cookie_get(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value);
ngx_int_t ngx_http_oidc_cookie_set(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *name, ngx_str_t *value,
    time_t max_age);
ngx_int_t ngx_http_oidc_store_key(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, u_char kind, ngx_str_t *a, ngx_str_t *b,
    ngx_str_t *key);
ngx_uint_t ngx_http_oidc_token_valid(ngx_str_t *s, size_t len);
ngx_int_t ngx_http_oidc_random(ngx_http_request_t *r, size_t nbytes,
    ngx_str_t *out);
ngx_int_t ngx_http_oidc_redirect(ngx_http_request_t *r, ngx_str_t *url);
ngx_int_t ngx_http_oidc_error_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *text, ngx_str_t *code);


#endif /* _NGX_HTTP_OIDC_BROWSER_H_INCLUDED_ */
