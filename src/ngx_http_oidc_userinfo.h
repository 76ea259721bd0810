
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_USERINFO_H_INCLUDED_
#define _NGX_HTTP_OIDC_USERINFO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"


/*
 * The userinfo request of a login ("userinfo on"), between the ID
 * token's checks and the session: GET userinfo_endpoint with the access
 * token (OpenID Connect Core 5.3).  NGX_OK: *userinfo is the answer (a
 * JSON object whose "sub" is the ID token's, owned by the login,
 * released with the request), or NULL when "userinfo" is off or the
 * provider has no userinfo endpoint; NGX_AGAIN: waiting (b->waiting,
 * the request is posted when the answer is in, and calls again); else
 * what the access handler returns (an error page was sent, logged).
 */
ngx_int_t ngx_http_oidc_userinfo(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    json_t *id_claims, json_t **userinfo);

/*
 * The claims a session shows: the ID token's, then the userinfo members
 * the ID token lacks.  A new reference; NULL on allocation failure.
 */
json_t *ngx_http_oidc_userinfo_merge(json_t *claims, json_t *userinfo);


#endif /* _NGX_HTTP_OIDC_USERINFO_H_INCLUDED_ */
