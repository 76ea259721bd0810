
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
    char     *p;
    va_list   args;

    if (err == NULL) {
        return;
    }

    err->reason = reason;
    err->detail[0] = '\0';

    if (fmt == NULL) {
        return;
    }

    va_start(args, fmt);
    (void) vsnprintf(err->detail, sizeof(err->detail), fmt, args);
    va_end(args);

    /*
     * the detail goes to a log line and may quote input (jansson's
     * "near '...'" holds the raw bytes it stopped at): printable only
     */
    for (p = err->detail; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f) {
            *p = '?';
        }
    }
}
