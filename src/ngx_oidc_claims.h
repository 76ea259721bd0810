
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_CLAIMS_H_INCLUDED_
#define _NGX_OIDC_CLAIMS_H_INCLUDED_


#include <jansson.h>

#include "ngx_oidc_types.h"


typedef struct {
    ngx_oidc_str_t         issuer;          /* required, exact match */
    const ngx_oidc_str_t  *audiences;       /* "aud" must hold one */
    size_t                 naudiences;      /* 0: "aud" is not checked */
    time_t                 now;
    time_t                 leeway;          /* seconds, for exp/nbf/iat */
    time_t                 max_age;         /* iat not older; 0: no limit */
    unsigned               require_exp:1;
    unsigned               require_typ_at_jwt:1;   /* RFC 9068 */
    unsigned               iss_optional:1;  /* RFC 7662: may be absent */
} ngx_oidc_claims_check_t;


/*
 * Checks a verified access token (RFC 9068 / JWT profile), in this
 * order, stopping at the first failure:
 *   with require_typ_at_jwt the header "typ" is "at+jwt" or
 *     "application/at+jwt" (case-insensitive);
 *   "iss" is present (unless iss_optional) and equals the issuer byte
 *     for byte;
 *   "aud" (a string or an array of strings) contains one of the
 *     audiences; with naudiences == 0 it may be absent, but when
 *     present it must still be of the right type;
 *   "exp" (required when require_exp) is a number and now < exp + leeway;
 *   "nbf" when present: now >= nbf - leeway;
 *   "iat" when present: iat <= now + leeway and, with max_age > 0,
 *     now <= iat + max_age + leeway; with max_age > 0 "iat" is required.
 * Claims of the wrong JSON type (true as "aud", "1700000000" as "exp",
 * a number in an "aud" array) are refused, and so are times beyond
 * +-1e15.  A negative leeway counts as 0; arithmetic saturates, so
 * no value overflows.
 * Returns NGX_OIDC_OK; NGX_OIDC_DECLINED with err->reason a static
 * string ("typ is not at+jwt", "iss missing", "issuer mismatch",
 * "audience missing", "audience mismatch", "exp missing",
 * "token expired", "token not yet valid", "iat missing",
 * "iat in the future", "token too old", "bad claim type",
 * "bad claim value") and err->detail numbers (exp, now, leeway) or a
 * quoted, truncated, printable-ASCII copy of iss, aud or typ; or
 * NGX_OIDC_ERROR when "check" is unusable (no issuer configured).
 */
int ngx_oidc_claims_check_access(json_t *header, json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err);


/*
 * Returns 1 when the token grants "scope": it is one of the
 * space-separated words of a "scope" string claim (RFC 9068/8693), or
 * an element of an "scp" array or one of the words of an "scp" string
 * claim (Azure AD, Okta).  Words match whole and case-sensitively:
 * "api:read" is not granted by "api:readwrite" or "xapi:read".  An
 * empty "scope" argument, or one holding a space, is never granted.
 */
int ngx_oidc_claims_has_scope(json_t *payload, const unsigned char *scope,
    size_t len);


/* the OpenID Connect ID token rules: OIDC Core 3.1.3.7 */
typedef struct {
    ngx_oidc_str_t         issuer;          /* required, exact match */
    ngx_oidc_str_t         client_id;       /* required */
    ngx_oidc_str_t         nonce;           /* expected; empty: unchecked */
    ngx_oidc_str_t         access_token;    /* for at_hash; empty: none */
    unsigned               alg;             /* the token's NGX_OIDC_ALG_* */
    time_t                 now;
    time_t                 leeway;          /* seconds, for exp/nbf/iat */
    time_t                 max_age;         /* iat not older; 0: no limit */
} ngx_oidc_id_token_check_t;


/*
 * Checks the claims of a verified ID token, in this order, stopping at
 * the first failure (err->reason in parentheses):
 *   "iss" equals the issuer byte for byte ("iss missing", "issuer
 *     mismatch");
 *   "aud", a string or an array of strings, contains client_id
 *     ("audience missing", "audience mismatch");
 *   "azp" is required when "aud" is an array of more than one element
 *     ("azp missing") and, when present, must equal client_id ("azp
 *     mismatch");
 *   "iat" is present ("iat missing");
 *   "exp" is present and now < exp + leeway ("exp missing", "token
 *     expired"); "nbf", when present, now >= nbf - leeway ("token not
 *     yet valid"); iat <= now + leeway ("iat in the future") and, with
 *     max_age > 0, now <= iat + max_age + leeway ("token too old");
 *   "sub" is a non-empty string ("sub missing");
 *   with a non-empty expected nonce, "nonce" is present and equal, the
 *     bytes compared in constant time ("nonce missing", "nonce
 *     mismatch"); without one (refresh responses) it is not checked;
 *   "at_hash", when present and an access_token is given, matches it
 *     for "alg" (see ngx_oidc_token_hash(): EdDSA uses SHA-512)
 *     ("at_hash mismatch"); an at_hash is not required, since the code
 *     flow makes it optional.
 * A claim of the wrong JSON type gives "bad claim type"; times beyond
 * +-1e15 "bad claim value".
 * Returns NGX_OIDC_OK, NGX_OIDC_DECLINED, or NGX_OIDC_ERROR when
 * "check" is unusable: no issuer or client_id, or an access_token
 * without an alg.
 */
int ngx_oidc_claims_check_id_token(json_t *payload,
    const ngx_oidc_id_token_check_t *check, ngx_oidc_err_t *err);


#define NGX_OIDC_BACKCHANNEL_LOGOUT_EVENT                                    \
    "http://schemas.openid.net/event/backchannel-logout"


typedef struct {
    ngx_oidc_str_t         issuer;          /* required, exact match */
    ngx_oidc_str_t         client_id;       /* required */
    time_t                 now;
    time_t                 leeway;
    time_t                 max_age;         /* iat window; 0: no limit */
} ngx_oidc_logout_token_check_t;


/*
 * Checks the claims of a verified Logout Token (OIDC Back-Channel
 * Logout 1.0, 2.4 and 2.6), in this order:
 *   "iss", "aud" as for ID tokens (same reasons);
 *   "iat" is present ("iat missing"), not in the future beyond the
 *     leeway, and with max_age > 0 not older than max_age + leeway
 *     (set a short window, e.g. a few minutes: logout tokens are used
 *     at once); "exp" is optional, but when present must not have
 *     passed; "nbf" likewise;
 *   "jti" is a non-empty string ("jti missing"; the caller should
 *     refuse a jti it has already seen);
 *   "events" is an object ("events missing") with the member
 *     NGX_OIDC_BACKCHANNEL_LOGOUT_EVENT ("backchannel logout event
 *     missing") whose value is an object;
 *   "sid" or "sub" is present ("sid and sub missing"); each, when
 *     present, a non-empty string;
 *   "nonce" is absent ("nonce present": 2.4 forbids it, so that an ID
 *     token can never pass for a logout token).
 * Types and returns as for ngx_oidc_claims_check_id_token().
 */
int ngx_oidc_claims_check_logout_token(json_t *payload,
    const ngx_oidc_logout_token_check_t *check, ngx_oidc_err_t *err);

/*
 * The JWS header of a Logout Token (Back-Channel Logout 1.0, 2.4): a
 * "typ", when present, is "logout+jwt" or "application/logout+jwt"
 * (case-insensitive), so that no other kind of JWT the provider signs
 * can pass for one.  NGX_OIDC_OK, or NGX_OIDC_DECLINED ("typ is not
 * logout+jwt", the value quoted in err->detail; "bad claim type" for a
 * typ that is not a string).
 */
int ngx_oidc_claims_check_logout_typ(json_t *header, ngx_oidc_err_t *err);


#endif /* _NGX_OIDC_CLAIMS_H_INCLUDED_ */
