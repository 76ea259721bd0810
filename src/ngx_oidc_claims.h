
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
} ngx_oidc_claims_check_t;


/*
 * Checks a verified access token (RFC 9068 / JWT profile), in this
 * order, stopping at the first failure:
 *   with require_typ_at_jwt the header "typ" is "at+jwt" or
 *     "application/at+jwt" (case-insensitive);
 *   "iss" is present and equals the issuer byte for byte;
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


#endif /* _NGX_OIDC_CLAIMS_H_INCLUDED_ */
