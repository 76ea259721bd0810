
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_LOGOUT_H_INCLUDED_
#define _NGX_HTTP_OIDC_LOGOUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"
#include "ngx_oidc_record.h"


/*
 * Logout: at the gateway (logout_uri: RP-initiated, with revocation of
 * the refresh token; ngx_http_oidc_logout.c) and from the provider
 * (backchannel_logout_uri, frontchannel_logout_uri;
 * ngx_http_oidc_logout_channel.c).
 *
 * The provider names the sessions to end by "sid" or "sub", and the
 * store has no index of sessions: a logout from the provider leaves a
 * marker under hash(provider, "sid", sid) or hash(provider, "sub", sub)
 * holding the time of the logout, for session_timeout, and a session
 * created at or before that time is refused when it is next loaded.
 */


/* the largest request body read: a form holding one logout token */
#define NGX_HTTP_OIDC_LOGOUT_BODY_MAX   16384

/* how old a logout token may be ("iat"), besides the leeway */
#define NGX_HTTP_OIDC_LOGOUT_TOKEN_AGE  300


/*
 * From ngx_http_oidc_browser_handler(): NGX_DECLINED when the request
 * is not for one of the provider's logout paths; otherwise as the
 * browser handler (NGX_AGAIN, NGX_DONE: a page sent or a body being
 * read, a status).
 */
ngx_int_t ngx_http_oidc_logout_handler(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);

/*
 * From ngx_http_oidc_session_load(): NGX_OK when a logout at the
 * provider ended this session (a marker of its sid or sub at or after
 * its creation), NGX_DECLINED when none did, NGX_ERROR.
 */
ngx_int_t ngx_http_oidc_logout_ended(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_oidc_session_t *s);

/*
 * A refresh token the gateway will not use again, revoked at the
 * provider's revocation_endpoint (RFC 7009) if it has one; in the
 * background, the outcome only logged.
 */
void ngx_http_oidc_logout_revoke(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *token);

/* configuration time: NULL, or why the logout directives are refused */
const char *ngx_http_oidc_logout_conf_check(ngx_http_oidc_provider_t *p);


/*
 * ngx_http_oidc_logout_channel.c: the provider's logout requests, with
 * the results of ngx_http_oidc_logout_handler()
 */
ngx_int_t ngx_http_oidc_backchannel(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);
ngx_int_t ngx_http_oidc_frontchannel(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);


/* ngx_http_oidc_logout.c, for ngx_http_oidc_logout_channel.c */

/*
 * The session of the request's cookie: NGX_OK with *key (its store
 * key) and, when "s" is not NULL, the decoded record (the caller frees
 * it); NGX_DECLINED (no session), NGX_ERROR.
 */
ngx_int_t ngx_http_oidc_logout_session(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, ngx_str_t *id,
    ngx_oidc_session_t *s);

/* sends a whole response: NGX_DONE (the request finalized) */
ngx_int_t ngx_http_oidc_logout_send(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, ngx_str_t *body, ngx_str_t *csp,
    ngx_uint_t deny_frames);


#endif /* _NGX_HTTP_OIDC_LOGOUT_H_INCLUDED_ */
