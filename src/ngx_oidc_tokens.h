
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_TOKENS_H_INCLUDED_
#define _NGX_OIDC_TOKENS_H_INCLUDED_


#include <jansson.h>

#include "ngx_oidc_types.h"


/* the longest access or refresh token accepted from a token endpoint */
#define NGX_OIDC_TOKEN_MAX        16384

/* expires_in above this (a year) is refused */
#define NGX_OIDC_EXPIRES_IN_MAX   (365 * 86400)


/* the members of a successful token response (RFC 6749 5.1) we use */
typedef struct {
    ngx_oidc_str_t        access_token;   /* non-empty */
    ngx_oidc_str_t        refresh_token;  /* empty: none sent */
    ngx_oidc_str_t        id_token;       /* empty: none sent */
    time_t                expires_in;     /* 0: none sent */
} ngx_oidc_tokens_t;


/*
 * Reads a token response, parsed with ngx_oidc_json_parse(); the
 * strings point into "response".  Refused (NGX_OIDC_DECLINED, in this
 * order): not an object ("not an object"); "access_token" missing
 * ("access_token missing"), not a string, empty, longer than
 * NGX_OIDC_TOKEN_MAX or with a byte outside 0x21-0x7e ("invalid
 * access_token"); "refresh_token" present but not such a string
 * ("invalid refresh_token"); "id_token" present but not a non-empty
 * string ("invalid id_token", its content is the caller's to check);
 * "expires_in" present but not an integer, or a string of digits (some
 * providers send one), from 1 to NGX_OIDC_EXPIRES_IN_MAX ("invalid
 * expires_in").  A null member counts as absent.  Never NGX_OIDC_ERROR.
 */
int ngx_oidc_tokens_parse(json_t *response, ngx_oidc_tokens_t *tokens,
    ngx_oidc_err_t *err);

/*
 * What a token response says besides the tokens: its members other than
 * access_token, refresh_token, id_token, token_type and expires_in (a
 * SMART launch context's "patient" and "scope", Dintero's "user_info",
 * ...), as a new object (shallow copy), or NULL when there are none,
 * "response" is not an object, or on allocation failure.
 */
json_t *ngx_oidc_tokens_extras(json_t *response);


#endif /* _NGX_OIDC_TOKENS_H_INCLUDED_ */
