
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_RECORD_H_INCLUDED_
#define _NGX_OIDC_RECORD_H_INCLUDED_


#include <jansson.h>

#include "ngx_oidc_types.h"


/*
 * The two records the module keeps server-side (in shm or Redis), as
 * compact JSON with a version member "v".  A record is read back only
 * when "v" is NGX_OIDC_RECORD_VERSION; a change old workers could
 * misread (during a reload both versions run) takes a new version.
 * Members a version does not know are ignored, so adding an optional
 * member keeps the version.
 */
#define NGX_OIDC_RECORD_VERSION   1

/* size caps, applied when encoding and when decoding */
#define NGX_OIDC_LOGIN_MAX        8192
#define NGX_OIDC_SESSION_MAX      131072


/* a pending login, stored under its state from redirect to callback */
typedef struct {
    ngx_oidc_str_t        state;          /* non-empty */
    ngx_oidc_str_t        nonce;          /* non-empty */
    ngx_oidc_str_t        code_verifier;  /* non-empty */
    ngx_oidc_str_t        return_to;      /* may be empty */
    time_t                created;        /* >= 0 */
    json_t               *root;           /* decode: owns the strings */
} ngx_oidc_login_t;


/* a session, stored under its id */
typedef struct {
    ngx_oidc_str_t        sub;            /* non-empty */
    ngx_oidc_str_t        sid;            /* empty: none */
    ngx_oidc_str_t        id_token;       /* non-empty (id_token_hint) */
    ngx_oidc_str_t        access_token;   /* empty: none */
    ngx_oidc_str_t        refresh_token;  /* empty: none */
    time_t                access_expires; /* 0: unknown */
    time_t                created;        /* >= 0 */
    time_t                last_seen;      /* >= 0 */
    json_t               *claims;         /* the ID token's claims: object */
    json_t               *userinfo;       /* object, or NULL: none */
    json_t               *response;       /* the token response's other
                                             members: object, or NULL */
    json_t               *root;           /* decode: owns all of the above */
} ngx_oidc_session_t;


/*
 * Encodes a record as compact JSON into a malloc()ed buffer (*out,
 * *len; the caller free()s it; no NUL counted).  Strings must be valid
 * UTF-8 without NUL bytes; "claims" and "userinfo" objects must come
 * from ngx_oidc_json_parse() (their nesting must leave room for the
 * record's own level: at most NGX_OIDC_JSON_MAX_DEPTH - 1).
 * Returns NGX_OIDC_OK; NGX_OIDC_DECLINED (err->reason "missing record
 * field", "invalid record field", "record too large") for a record
 * ngx_oidc_*_decode() would refuse; NGX_OIDC_ERROR on allocation
 * failure.  The "root" member is ignored.
 */
int ngx_oidc_login_encode(const ngx_oidc_login_t *login, unsigned char **out,
    size_t *len, ngx_oidc_err_t *err);
int ngx_oidc_session_encode(const ngx_oidc_session_t *session,
    unsigned char **out, size_t *len, ngx_oidc_err_t *err);

/*
 * Decodes a record, parsed with ngx_oidc_json_parse() under the size
 * cap.  On NGX_OIDC_OK every string and object of the structure points
 * into record->root, which the caller releases with
 * ngx_oidc_login_free() / ngx_oidc_session_free().  Refused
 * (NGX_OIDC_DECLINED, nothing to free): invalid JSON, "v" missing or
 * other than NGX_OIDC_RECORD_VERSION ("unsupported record version"), a
 * required member missing, a member of the wrong type, an empty
 * required string, a negative time ("invalid record field").
 */
int ngx_oidc_login_decode(const unsigned char *data, size_t len,
    ngx_oidc_login_t *login, ngx_oidc_err_t *err);
int ngx_oidc_session_decode(const unsigned char *data, size_t len,
    ngx_oidc_session_t *session, ngx_oidc_err_t *err);

/* releases what decode holds; safe on a zeroed or already freed record */
void ngx_oidc_login_free(ngx_oidc_login_t *login);
void ngx_oidc_session_free(ngx_oidc_session_t *session);


#endif /* _NGX_OIDC_RECORD_H_INCLUDED_ */
