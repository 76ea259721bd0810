
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
 * Checks a verified access token (RFC 9068 / JWT profile): "iss"
 * equals the issuer; "aud" (a string or an array of strings) contains
 * one of the audiences; "exp" (required when require_exp) is a number
 * and now < exp + leeway; "nbf" when present: now >= nbf - leeway;
 * "iat" when present: not after now + leeway, and not older than
 * max_age; with require_typ_at_jwt the header "typ" is "at+jwt" or
 * "application/at+jwt" (case-insensitive).  Claims of the wrong JSON
 * type are refused.  Returns NGX_OIDC_OK or NGX_OIDC_DECLINED (err set,
 * e.g. reason "token expired").
 */
int ngx_oidc_claims_check_access(json_t *header, json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err);


/*
 * Returns 1 when the token grants "scope": it is one of the
 * space-separated words of a "scope" string claim (RFC 9068/8693), or
 * an element of an "scp" array or string claim (Azure AD, Okta).
 */
int ngx_oidc_claims_has_scope(json_t *payload, const unsigned char *scope,
    size_t len);


#endif /* _NGX_OIDC_CLAIMS_H_INCLUDED_ */
