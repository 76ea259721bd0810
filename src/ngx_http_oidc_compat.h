
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_COMPAT_H_INCLUDED_
#define _NGX_HTTP_OIDC_COMPAT_H_INCLUDED_


/* nginx 1.22 (Debian 12) to current: version differences live here */

#if (nginx_version < 1022000)
#error ngx_http_oidc_module needs nginx 1.22.0 or newer
#endif


#endif /* _NGX_HTTP_OIDC_COMPAT_H_INCLUDED_ */
