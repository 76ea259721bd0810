
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_INTROSPECTION_H_INCLUDED_
#define _NGX_OIDC_INTROSPECTION_H_INCLUDED_


#include <jansson.h>

#include "ngx_oidc_types.h"
#include "ngx_oidc_claims.h"


/*
 * Reads an RFC 7662 introspection response ("len" bytes of "body") and
 * checks it as the access token it describes, in this order:
 *   the body is one JSON object of at most "max" bytes, no member name
 *     twice (as ngx_oidc_json_parse());
 *   "active" is present and a boolean ("active missing", "active is not
 *     a boolean": the answer is unusable);
 *   "active" is true ("token not active");
 *   "token_type", when present, names an access token: "Bearer" (any
 *     case), "access_token" or RFC 8693's access token URN, so that a
 *     refresh token sent as a Bearer token is refused ("token_type is not
 *     an access token");
 *   "iss", "aud", "exp", "nbf", "iat" as ngx_oidc_claims_check_access()
 *     does with "check" (no JWS header: typ is never checked); RFC 7662
 *     makes every member but "active" optional, so set check->require_exp
 *     and check->iss_optional as the caller's policy is.
 * Returns NGX_OIDC_OK with *claims the response object (the caller owns
 * it: json_decref()); NGX_OIDC_DECLINED when the token is not usable
 * (err->reason as above, or one of ngx_oidc_claims_check_access()'s);
 * NGX_OIDC_ERROR when the answer itself is unusable (not JSON, too large,
 * "active" missing or not a boolean) or "check" is not configured.
 */
int ngx_oidc_introspection_check(const unsigned char *body, size_t len,
    size_t max, const ngx_oidc_claims_check_t *check, json_t **claims,
    ngx_oidc_err_t *err);


/*
 * 1 when an error answer (RFC 6749 5.2 JSON, at most "max" bytes) is
 * "unsupported_token_type": the provider cannot introspect this kind of
 * token (oidc-provider answers so for JWTs), so the token is not one it
 * vouches for; 0 otherwise.
 */
int ngx_oidc_introspection_unsupported(const unsigned char *body,
    size_t len, size_t max);


/*
 * 1 when "token" has the shape of a compact JWS (three base64url parts,
 * header and payload JSON objects, at most "max" bytes) whose payload's
 * "iss" is "issuer" byte for byte: a token this provider signed, to be
 * verified locally; 0 otherwise (to be introspected).  The signature is
 * not looked at: the caller verifies it.
 */
int ngx_oidc_introspection_is_jwt(const unsigned char *token, size_t len,
    size_t max, const ngx_oidc_str_t *issuer);


#endif /* _NGX_OIDC_INTROSPECTION_H_INCLUDED_ */
