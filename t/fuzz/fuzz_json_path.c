
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * libFuzzer target: input -> ngx_oidc_json_parse() -> claim paths ->
 * ngx_oidc_json_render(), plus the claim checks that walk the same
 * document.  Besides crashes and leaks it aborts when a rendered value
 * breaks the contract (a control byte, an oversize result).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *       t/fuzz/fuzz_json_path.c src/ngx_oidc_{err,b64,json,claims}.c \
 *       -ljansson -lcrypto -lm -o fuzz_json_path
 *   ./fuzz_json_path -max_total_time=60 corpus t/fuzz/seeds/json_path
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_claims.h"


#define FUZZ_MAX   65536
#define FUZZ_SEGS  4


static const char  *fuzz_paths[][FUZZ_SEGS] = {
    { "http://lifen.fr/userInfo", "uuid", NULL, NULL },
    { "http://lifen.fr/userInfo", "currentWorkspaceId", NULL, NULL },
    { "http://lifen.fr/userInfo", "roles", NULL, NULL },
    { "http://lifen.fr/userInfo", "roles", "0", NULL },
    { "http://lifen.fr/userInfo", NULL, NULL, NULL },
    { "sub", NULL, NULL, NULL },
    { "a", "0", "b", "1" },
    { "0", "1", NULL, NULL },
    { "", NULL, NULL, NULL },
};

#define FUZZ_NPATHS  (sizeof(fuzz_paths) / sizeof(fuzz_paths[0]))


static const ngx_oidc_str_t  fuzz_audiences[] = {
    ngx_oidc_string("api://orders"),
};


static ngx_oidc_claim_path_t  *paths[FUZZ_NPATHS];


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t          i, n;
    ngx_oidc_str_t  segs[FUZZ_SEGS];

    (void) argc;
    (void) argv;

    for (i = 0; i < FUZZ_NPATHS; i++) {
        for (n = 0; n < FUZZ_SEGS && fuzz_paths[i][n] != NULL; n++) {
            segs[n].data = (unsigned char *) fuzz_paths[i][n];
            segs[n].len = strlen(fuzz_paths[i][n]);
        }

        paths[i] = ngx_oidc_claim_path_create(segs, n);
        if (paths[i] == NULL) {
            abort();
        }
    }

    return 0;
}


static void
fuzz_render(json_t *v)
{
    int             rc;
    size_t          i, len;
    unsigned char  *out;

    if (v == NULL) {
        return;
    }

    out = NULL;
    len = 0;

    rc = ngx_oidc_json_render(v, &out, &len);

    if (rc != NGX_OIDC_OK) {
        if (rc != NGX_OIDC_DECLINED && rc != NGX_OIDC_ERROR) {
            abort();
        }

        return;
    }

    if (out == NULL || len > NGX_OIDC_JSON_RENDER_MAX) {
        abort();
    }

    for (i = 0; i < len; i++) {
        if (out[i] < 0x20 || out[i] == 0x7f) {
            abort();
        }
    }

    /* a string renders as itself */
    if (json_is_string(v)
        && (len != json_string_length(v)
            || memcmp(out, json_string_value(v), len) != 0))
    {
        abort();
    }

    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                   i;
    json_t                  *root, *v;
    const char              *name;
    ngx_oidc_err_t           err;
    ngx_oidc_claims_check_t  check;

    err.reason = NULL;

    root = ngx_oidc_json_parse(data, size, FUZZ_MAX, &err);
    if (root == NULL) {
        if (err.reason == NULL) {
            abort();
        }

        return 0;
    }

    for (i = 0; i < FUZZ_NPATHS; i++) {
        fuzz_render(ngx_oidc_claim_path_get(root, paths[i]));
    }

    json_object_foreach(root, name, v) {
        fuzz_render(v);
    }

    fuzz_render(root);

    /* the same document as both header and payload */
    memset(&check, 0, sizeof(ngx_oidc_claims_check_t));
    check.issuer.data = (unsigned char *) "https://idp.example.com/";
    check.issuer.len = sizeof("https://idp.example.com/") - 1;
    check.audiences = fuzz_audiences;
    check.naudiences = 1;
    check.now = 1700000000;
    check.leeway = 60;
    check.max_age = 3600;
    check.require_exp = 1;
    check.require_typ_at_jwt = size & 1;

    err.reason = NULL;

    if (ngx_oidc_claims_check_access(root, root, &check, &err)
        != NGX_OIDC_OK)
    {
        if (err.reason == NULL || strlen(err.detail) >= sizeof(err.detail)) {
            abort();
        }

        for (i = 0; err.detail[i] != '\0'; i++) {
            if ((unsigned char) err.detail[i] < 0x20
                || (unsigned char) err.detail[i] >= 0x7f)
            {
                abort();
            }
        }
    }

    (void) ngx_oidc_claims_has_scope(root, (const unsigned char *) "api:read",
                                     sizeof("api:read") - 1);

    json_decref(root);

    return 0;
}
