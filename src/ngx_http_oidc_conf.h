
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_CONF_H_INCLUDED_
#define _NGX_HTTP_OIDC_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"


/*
 * An "oidc_provider" block while it is parsed, shared by
 * ngx_http_oidc_conf.c (the block), ngx_http_oidc_conf_endpoints.c (its
 * endpoints and introspection) and ngx_http_oidc_conf_files.c (secrets
 * and keys read from files); configuration time only.
 */


/* the ngx_str_t members of ngx_http_oidc_endpoints_t */
#define NGX_HTTP_OIDC_ENDPOINTS                                               \
    (offsetof(ngx_http_oidc_endpoints_t, metadata) / sizeof(ngx_str_t))


/* one block at configuration time; the provider comes first (offsets) */
typedef struct {
    ngx_http_oidc_provider_t      provider;
    ngx_str_t                     client_secret_file;
    ngx_str_t                     hmac_secret_file;
    ngx_str_t                     introspection_client_secret_file;
    size_t                        zone_size;
    ngx_uint_t                    issuer_line;
    ngx_uint_t                    config_url_line;
    ngx_uint_t                    endpoint_line[NGX_HTTP_OIDC_ENDPOINTS];
    unsigned                      audience_off:1;
    unsigned                      static_keys:1;
} ngx_http_oidc_provider_conf_t;


#define ngx_http_oidc_provider_offset(field)                                  \
    offsetof(ngx_http_oidc_provider_t, field)

#define ngx_http_oidc_conf_offset(field)                                      \
    offsetof(ngx_http_oidc_provider_conf_t, field)


/*
 * ngx_http_oidc_conf_files.c: a secret read from "file" into *secret
 * (nothing when "file" is empty); the static keys ("jwks_file",
 * "hmac_secret_file") into p->static_jwks
 */
ngx_int_t ngx_http_oidc_conf_client_secret(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p, ngx_str_t *file, const char *directive,
    ngx_str_t *secret);
ngx_int_t ngx_http_oidc_conf_keys(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);

/*
 * ngx_http_oidc_conf_endpoints.c: the block's directives that say where
 * the provider is, and introspection's; looked up after the block's own
 */
extern ngx_command_t  ngx_http_oidc_endpoint_commands[];

/* at the "}", in this order: the issuer and discovery URL checked */
ngx_int_t ngx_http_oidc_conf_urls(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);
/* each configured endpoint checked and its host resolved */
ngx_int_t ngx_http_oidc_conf_endpoints(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);
/* introspection's credentials (after the login client's) */
ngx_int_t ngx_http_oidc_conf_introspection(ngx_conf_t *cf,
    ngx_http_oidc_provider_conf_t *pc);


#endif /* _NGX_HTTP_OIDC_CONF_H_INCLUDED_ */
