
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stdarg.h>
#include <stdio.h>

#include "ngx_oidc_types.h"


void
ngx_oidc_err_set(ngx_oidc_err_t *err, const char *reason, const char *fmt,
    ...)
{
    va_list  args;

    if (err == NULL) {
        return;
    }

    err->reason = reason;
    err->detail[0] = '\0';

    if (fmt != NULL) {
        va_start(args, fmt);
        (void) vsnprintf(err->detail, sizeof(err->detail), fmt, args);
        va_end(args);
    }
}
