
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_CLIENT_AUTH_H_INCLUDED_
#define _NGX_HTTP_OIDC_CLIENT_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_oidc.h"
#include "ngx_http_oidc_http.h"
#include "ngx_oidc_url.h"


/*
 * How the gateway authenticates itself at the provider's endpoints that
 * authenticate clients (token, revocation, introspection): the
 * "token_endpoint_auth" and "client_private_key_file" directives of an
 * oidc_provider block, and for introspection with other credentials,
 * "introspection_auth" and "introspection_private_key_file".
 */


#define NGX_HTTP_OIDC_AUTH_NONE       1     /* public client: client_id */
#define NGX_HTTP_OIDC_AUTH_BASIC      2     /* client_secret_basic */
#define NGX_HTTP_OIDC_AUTH_POST       3     /* client_secret_post */
#define NGX_HTTP_OIDC_AUTH_JWT        4     /* private_key_jwt */
#define NGX_HTTP_OIDC_AUTH_CLIENT_TOKEN  5  /* Bearer, the client's own
                                               client credentials token */

/* the calls the gateway makes to endpoints that authenticate it */
#define NGX_HTTP_OIDC_CALL_CODE           0     /* authorization_code */
#define NGX_HTTP_OIDC_CALL_REFRESH        1     /* refresh_token */
#define NGX_HTTP_OIDC_CALL_CLIENT         2     /* client_credentials */
#define NGX_HTTP_OIDC_CALL_REVOCATION     3
#define NGX_HTTP_OIDC_CALL_INTROSPECTION  4
#define NGX_HTTP_OIDC_CALLS               5

/* a client assertion is valid this long (RFC 7523 3: "exp" required) */
#define NGX_HTTP_OIDC_ASSERTION_TTL   60


struct ngx_http_oidc_client_auth_s {
    ngx_uint_t                    method;       /* NGX_HTTP_OIDC_AUTH_* */
    ngx_uint_t                    method_line;  /* 0: the default */
    EVP_PKEY                     *key;          /* client_private_key_file */
    unsigned                      alg;          /* NGX_OIDC_ALG_* */
    ngx_str_t                     kid;          /* empty: none */
    ngx_uint_t                    key_line;
    ngx_str_t                     client_id;    /* who authenticates */
    ngx_str_t                     client_secret;
    const char                   *directive;    /* for messages */
    ngx_uint_t                    call[NGX_HTTP_OIDC_CALLS];  /* 0: method */
    ngx_uint_t                    call_line[NGX_HTTP_OIDC_CALLS];
};


/* token_param CALL NAME VALUE: an extra parameter of a call */
typedef struct {
    ngx_uint_t                    calls;        /* 1 << NGX_HTTP_OIDC_CALL_* */
    ngx_str_t                     name;
    ngx_str_t                     value;
} ngx_http_oidc_token_param_t;


/*
 * Directive handlers; "conf" is the provider block's configuration,
 * which starts with its ngx_http_oidc_provider_t, and cmd->offset is
 * that of the ngx_http_oidc_client_auth_t pointer the directive sets
 * (client_auth or introspection_auth).  The key is read and parsed
 * here, once; it is freed with the configuration's pool.
 */
char *ngx_http_oidc_client_auth_set_method(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_oidc_client_auth_set_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* client_auth CALL METHOD; token_param CALL|all NAME VALUE */
char *ngx_http_oidc_client_auth_set_call(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oidc_client_auth_set_param(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/*
 * At the block's end, once the client secret is known: the default
 * method and the cross-checks.  Logs (naming the directive and its
 * line) and returns NGX_ERROR on a configuration that cannot work.
 */
ngx_int_t ngx_http_oidc_client_auth_init(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p);

/*
 * The same for another client of the provider "ca" (introspection with
 * its own credentials), authenticating as "client_id" with "secret"
 * (may be empty); "directive" names its method in messages.
 */
ngx_int_t ngx_http_oidc_client_auth_setup(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_client_auth_t *ca,
    ngx_str_t *client_id, ngx_str_t *secret, const char *directive);

/*
 * A fresh client assertion (RFC 7523 2.2, OpenID Connect Core 9) for a
 * call to "endpoint", in "pool".  NGX_OK or NGX_ERROR (logged).
 */
ngx_int_t ngx_http_oidc_client_assertion(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_client_auth_t *ca,
    ngx_str_t *endpoint, ngx_str_t *assertion);

/*
 * The request of one call: the caller's "params", the provider's
 * token_param ones for the call, and the client's authentication for it
 * (by default the "token_endpoint_auth" method; introspection with its
 * own credentials authenticates as that client), as a form or, with
 * "token_request_format json", a JSON object; built in "pool" and
 * started (the client copies what it sends).  NULL on failure (logged).
 */
ngx_http_oidc_http_t *ngx_http_oidc_client_call(ngx_pool_t *pool,
    ngx_log_t *log, ngx_http_oidc_provider_t *p, ngx_uint_t call,
    ngx_str_t *endpoint, ngx_oidc_param_t *params, size_t n,
    ngx_http_oidc_http_done_pt handler, void *data);


#endif /* _NGX_HTTP_OIDC_CLIENT_AUTH_H_INCLUDED_ */
