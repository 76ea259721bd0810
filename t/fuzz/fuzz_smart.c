
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: SMART scopes and FHIR requests.  The input is
 * "scopes\nMETHOD\npath\nquery\nbody\nif-none-exist\npatient" (missing
 * parts are empty).  It aborts when a parsed scope or parameter points
 * outside its input, when a scope has no permission or a bad context,
 * when the decision names no scope for an authorization refusal of a
 * classified request, when the needed scope list's length disagrees
 * with what is written, or when a patient/ scope alone allows a request
 * outside the patient's compartment.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_smart.c src/ngx_oidc_*.c \
 *       -ljansson -lcrypto -lm -o fuzz_smart
 *   ./fuzz_smart -max_total_time=60 corpus t/fuzz/seeds/smart
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_smart.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_check_scopes(const ngx_oidc_smart_scopes_t *set,
    const unsigned char *s, size_t len)
{
    size_t                         i, j;
    const ngx_oidc_smart_scope_t  *sc;

    if (set->n > NGX_OIDC_SMART_MAX_SCOPES) {
        abort();
    }

    for (i = 0; i < set->n; i++) {
        sc = &set->scope[i];

        if (sc->perms == 0 || sc->perms > NGX_OIDC_SMART_CRUDS
            || sc->context < NGX_OIDC_SMART_PATIENT
            || sc->context > NGX_OIDC_SMART_SYSTEM
            || sc->type.len == 0 || sc->type.data < s
            || sc->type.data + sc->type.len > s + len
            || sc->nparams > NGX_OIDC_SMART_MAX_PARAMS)
        {
            abort();
        }

        for (j = 0; j < sc->nparams; j++) {
            if (sc->params[j].name.len == 0
                || sc->params[j].name.data < s
                || sc->params[j].value.data + sc->params[j].value.len
                   > s + len)
            {
                abort();
            }
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        rc, prc;
    size_t                     i, n, len;
    unsigned char             *copy, *buf, *need, *p, *last, *end;
    ngx_oidc_str_t             part[7];
    ngx_oidc_err_t             err;
    ngx_oidc_fhir_request_t    req;
    ngx_oidc_smart_scopes_t    set, pset;
    ngx_oidc_smart_verdict_t   v;

    copy = malloc(size + 1);
    buf = malloc(size + 1);

    if (copy == NULL || buf == NULL) {
        goto done;
    }

    memcpy(copy, data, size);

    memset(part, 0, sizeof(part));
    p = copy;
    last = copy + size;

    for (i = 0; i < 7; i++) {
        end = memchr(p, '\n', last - p);
        if (end == NULL || i == 6) {
            end = last;
        }

        part[i].data = p;
        part[i].len = end - p;

        if (end == last) {
            break;
        }

        p = end + 1;
    }

    for (i = 0; i < 7; i++) {
        if (part[i].data == NULL) {
            part[i].data = last;
        }
    }

    memset(&set, 0, sizeof(set));
    ngx_oidc_smart_scopes_parse(&set, part[0].data, part[0].len);
    fuzz_check_scopes(&set, part[0].data, part[0].len);

    err.reason = NULL;

    rc = ngx_oidc_fhir_classify(&req, &part[1], &part[2], &part[3],
                                &part[4], &part[5], buf, &err);

    if (rc != NGX_OIDC_OK) {
        if (rc != NGX_OIDC_DECLINED || err.reason == NULL) {
            abort();
        }

        req.interaction = NGX_OIDC_FHIR_INVALID;
    }

    for (i = 0; i < req.nparams && rc == NGX_OIDC_OK; i++) {
        if (req.params[i].name.data < buf
            || req.params[i].value.data + req.params[i].value.len
               > buf + size)
        {
            abort();
        }
    }

    rc = ngx_oidc_smart_decide(&set, &req, &part[6], &v);

    if (rc == NGX_OIDC_DECLINED) {
        if (v.reason == NULL
            || (req.interaction != NGX_OIDC_FHIR_INVALID && v.n == 0))
        {
            abort();
        }

        len = ngx_oidc_smart_verdict_scope(&v, NULL);
        need = malloc(len + 1);

        if (need != NULL) {
            n = ngx_oidc_smart_verdict_scope(&v, need);

            if (n != len || memchr(need, '"', n) != NULL) {
                abort();
            }

            free(need);
        }

    } else if (rc != NGX_OIDC_OK) {
        abort();
    }

    /* the patient/ scopes alone grant only inside the compartment */
    pset = set;
    pset.n = 0;

    for (i = 0; i < set.n; i++) {
        if (set.scope[i].context == NGX_OIDC_SMART_PATIENT) {
            pset.scope[pset.n++] = set.scope[i];
        }
    }

    prc = ngx_oidc_smart_decide(&pset, &req, &part[6], &v);

    if (prc == NGX_OIDC_OK
        && req.interaction != NGX_OIDC_FHIR_CAPABILITIES
        && !ngx_oidc_smart_in_compartment(&req, &part[6]))
    {
        abort();
    }

done:

    free(copy);
    free(buf);

    return 0;
}
