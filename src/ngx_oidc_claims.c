
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <limits.h>
#include <string.h>
#include <strings.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_claims.h"


/* the longest claim value quoted in err->detail */
#define NGX_OIDC_CLAIMS_QUOTE_MAX  48


/* results of ngx_oidc_claims_time() */
#define NGX_OIDC_CLAIM_ABSENT      0
#define NGX_OIDC_CLAIM_PRESENT     1


static int ngx_oidc_claims_check_typ(json_t *header, ngx_oidc_err_t *err);
static int ngx_oidc_claims_check_iss(json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err);
static int ngx_oidc_claims_check_aud(json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err);
static int ngx_oidc_claims_aud_match(const char *aud, size_t len,
    const ngx_oidc_claims_check_t *check);
static int ngx_oidc_claims_check_times(json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err);
static int ngx_oidc_claims_time(json_t *payload, const char *name,
    long long *value, ngx_oidc_err_t *err);
static long long ngx_oidc_claims_add(long long a, long long b);
static long long ngx_oidc_claims_sub(long long a, long long b);
static void ngx_oidc_claims_quote(char *dst, size_t size, const char *src,
    size_t len);
static int ngx_oidc_claims_has_word(const char *list, size_t list_len,
    const unsigned char *word, size_t len);


int
ngx_oidc_claims_check_access(json_t *header, json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err)
{
    int  rc;

    /* an unset issuer is a configuration bug: fail closed, loudly */
    if (check == NULL || check->issuer.len == 0 || check->issuer.data == NULL
        || (check->naudiences > 0 && check->audiences == NULL))
    {
        ngx_oidc_err_set(err, "claims check not configured", NULL);
        return NGX_OIDC_ERROR;
    }

    if (!json_is_object(payload)) {
        ngx_oidc_err_set(err, "bad claim type", "payload is not an object");
        return NGX_OIDC_DECLINED;
    }

    if (check->require_typ_at_jwt) {
        rc = ngx_oidc_claims_check_typ(header, err);
        if (rc != NGX_OIDC_OK) {
            return rc;
        }
    }

    rc = ngx_oidc_claims_check_iss(payload, check, err);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    rc = ngx_oidc_claims_check_aud(payload, check, err);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    return ngx_oidc_claims_check_times(payload, check, err);
}


/* RFC 9068 section 2.1; RFC 7515 section 4.1.9 allows "application/" off */

static int
ngx_oidc_claims_check_typ(json_t *header, ngx_oidc_err_t *err)
{
    size_t       len;
    json_t      *v;
    const char  *typ;

    v = json_is_object(header) ? json_object_get(header, "typ") : NULL;

    if (v == NULL) {
        ngx_oidc_err_set(err, "typ is not at+jwt", "typ missing");
        return NGX_OIDC_DECLINED;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "typ is not a string");
        return NGX_OIDC_DECLINED;
    }

    typ = json_string_value(v);
    len = json_string_length(v);

    if ((len == sizeof("at+jwt") - 1
         && strncasecmp(typ, "at+jwt", len) == 0)
        || (len == sizeof("application/at+jwt") - 1
            && strncasecmp(typ, "application/at+jwt", len) == 0))
    {
        return NGX_OIDC_OK;
    }

    ngx_oidc_err_set(err, "typ is not at+jwt", NULL);
    ngx_oidc_claims_quote(err->detail, sizeof(err->detail), typ, len);

    return NGX_OIDC_DECLINED;
}


static int
ngx_oidc_claims_check_iss(json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err)
{
    size_t       len;
    json_t      *v;
    const char  *iss;

    v = json_object_get(payload, "iss");

    if (v == NULL) {
        ngx_oidc_err_set(err, "iss missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "iss is not a string");
        return NGX_OIDC_DECLINED;
    }

    iss = json_string_value(v);
    len = json_string_length(v);

    /* RFC 7519 section 4.1.1: a case-sensitive exact match */
    if (len == check->issuer.len
        && memcmp(iss, check->issuer.data, len) == 0)
    {
        return NGX_OIDC_OK;
    }

    ngx_oidc_err_set(err, "issuer mismatch", NULL);
    ngx_oidc_claims_quote(err->detail, sizeof(err->detail), iss, len);

    return NGX_OIDC_DECLINED;
}


/* "aud" is type-checked even when no audience is configured */

static int
ngx_oidc_claims_check_aud(json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err)
{
    int      match;
    size_t   i;
    json_t  *v, *e;

    v = json_object_get(payload, "aud");

    if (v == NULL) {
        if (check->naudiences == 0) {
            return NGX_OIDC_OK;
        }

        ngx_oidc_err_set(err, "audience missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (json_is_string(v)) {
        match = ngx_oidc_claims_aud_match(json_string_value(v),
                                          json_string_length(v), check);

    } else if (json_is_array(v)) {
        match = 0;

        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                ngx_oidc_err_set(err, "bad claim type",
                                 "aud[%zu] is not a string", i);
                return NGX_OIDC_DECLINED;
            }

            if (!match) {
                match = ngx_oidc_claims_aud_match(json_string_value(e),
                                                  json_string_length(e),
                                                  check);
            }
        }

    } else {
        ngx_oidc_err_set(err, "bad claim type",
                         "aud is neither a string nor an array");
        return NGX_OIDC_DECLINED;
    }

    if (check->naudiences == 0 || match) {
        return NGX_OIDC_OK;
    }

    if (json_is_string(v)) {
        ngx_oidc_err_set(err, "audience mismatch", NULL);
        ngx_oidc_claims_quote(err->detail, sizeof(err->detail),
                              json_string_value(v), json_string_length(v));

    } else {
        ngx_oidc_err_set(err, "audience mismatch", "%zu audiences",
                         json_array_size(v));
    }

    return NGX_OIDC_DECLINED;
}


static int
ngx_oidc_claims_aud_match(const char *aud, size_t len,
    const ngx_oidc_claims_check_t *check)
{
    size_t  i;

    for (i = 0; i < check->naudiences; i++) {
        if (len == check->audiences[i].len
            && (len == 0
                || memcmp(aud, check->audiences[i].data, len) == 0))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * All arithmetic saturates: exp, nbf and iat are within +-1e15 (see
 * ngx_oidc_json_get_time()), but "now", "leeway" and "max_age" come
 * from the caller and may be anything a time_t holds.
 */

static int
ngx_oidc_claims_check_times(json_t *payload,
    const ngx_oidc_claims_check_t *check, ngx_oidc_err_t *err)
{
    int        rc;
    long long  now, leeway, exp, nbf, iat;

    now = (long long) check->now;
    leeway = check->leeway > 0 ? (long long) check->leeway : 0;

    rc = ngx_oidc_claims_time(payload, "exp", &exp, err);

    if (rc == NGX_OIDC_CLAIM_ABSENT) {
        if (check->require_exp) {
            ngx_oidc_err_set(err, "exp missing", NULL);
            return NGX_OIDC_DECLINED;
        }

    } else if (rc == NGX_OIDC_CLAIM_PRESENT) {
        if (now >= ngx_oidc_claims_add(exp, leeway)) {
            ngx_oidc_err_set(err, "token expired",
                             "exp %lld, now %lld, leeway %lld",
                             exp, now, leeway);
            return NGX_OIDC_DECLINED;
        }

    } else {
        return NGX_OIDC_DECLINED;
    }

    rc = ngx_oidc_claims_time(payload, "nbf", &nbf, err);

    if (rc == NGX_OIDC_CLAIM_PRESENT) {
        if (now < ngx_oidc_claims_sub(nbf, leeway)) {
            ngx_oidc_err_set(err, "token not yet valid",
                             "nbf %lld, now %lld, leeway %lld",
                             nbf, now, leeway);
            return NGX_OIDC_DECLINED;
        }

    } else if (rc != NGX_OIDC_CLAIM_ABSENT) {
        return NGX_OIDC_DECLINED;
    }

    rc = ngx_oidc_claims_time(payload, "iat", &iat, err);

    if (rc == NGX_OIDC_CLAIM_ABSENT) {
        /* without "iat" a max_age could not be enforced */
        if (check->max_age > 0) {
            ngx_oidc_err_set(err, "iat missing", "max_age %lld",
                             (long long) check->max_age);
            return NGX_OIDC_DECLINED;
        }

        return NGX_OIDC_OK;
    }

    if (rc != NGX_OIDC_CLAIM_PRESENT) {
        return NGX_OIDC_DECLINED;
    }

    if (iat > ngx_oidc_claims_add(now, leeway)) {
        ngx_oidc_err_set(err, "iat in the future",
                         "iat %lld, now %lld, leeway %lld",
                         iat, now, leeway);
        return NGX_OIDC_DECLINED;
    }

    if (check->max_age > 0
        && now > ngx_oidc_claims_add(ngx_oidc_claims_add(iat,
                                         (long long) check->max_age),
                                     leeway))
    {
        ngx_oidc_err_set(err, "token too old",
                         "iat %lld, now %lld, max_age %lld, leeway %lld",
                         iat, now, (long long) check->max_age, leeway);
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


/* NGX_OIDC_CLAIM_ABSENT, NGX_OIDC_CLAIM_PRESENT, or NGX_OIDC_DECLINED */

static int
ngx_oidc_claims_time(json_t *payload, const char *name, long long *value,
    ngx_oidc_err_t *err)
{
    time_t   t;
    json_t  *v;

    v = json_object_get(payload, name);

    if (v == NULL) {
        return NGX_OIDC_CLAIM_ABSENT;
    }

    /* booleans, strings ("1700000000"), null and the rest are refused */
    if (!json_is_number(v)) {
        ngx_oidc_err_set(err, "bad claim type", "%s is not a number", name);
        return NGX_OIDC_DECLINED;
    }

    if (ngx_oidc_json_get_time(payload, name, &t) != NGX_OIDC_OK) {
        ngx_oidc_err_set(err, "bad claim value", "%s out of range", name);
        return NGX_OIDC_DECLINED;
    }

    *value = (long long) t;

    return NGX_OIDC_CLAIM_PRESENT;
}


/* a + b for b >= 0, saturating at LLONG_MAX */

static long long
ngx_oidc_claims_add(long long a, long long b)
{
    return (a > LLONG_MAX - b) ? LLONG_MAX : a + b;
}


/* a - b for b >= 0, saturating at LLONG_MIN */

static long long
ngx_oidc_claims_sub(long long a, long long b)
{
    return (a < LLONG_MIN + b) ? LLONG_MIN : a - b;
}


/*
 * A claim value for err->detail: quoted, cut at NGX_OIDC_CLAIMS_QUOTE_MAX
 * bytes, anything but printable ASCII (and quotes, backslashes) as "?",
 * so a log line can't be forged or stretched through it.
 */

static void
ngx_oidc_claims_quote(char *dst, size_t size, const char *src, size_t len)
{
    size_t         i, n;
    unsigned char  c;

    if (size < sizeof("\"...\"")) {
        return;
    }

    n = 0;
    dst[n++] = '"';

    for (i = 0; i < len && i < NGX_OIDC_CLAIMS_QUOTE_MAX
                && n < size - sizeof("...\""); i++)
    {
        c = (unsigned char) src[i];
        dst[n++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
    }

    if (i < len) {
        memcpy(&dst[n], "...", 3);
        n += 3;
    }

    dst[n++] = '"';
    dst[n] = '\0';
}


int
ngx_oidc_claims_has_scope(json_t *payload, const unsigned char *scope,
    size_t len)
{
    size_t   i;
    json_t  *v, *e;

    /* an empty or multi-word scope can never be one granted word */
    if (!json_is_object(payload) || scope == NULL || len == 0
        || memchr(scope, ' ', len) != NULL)
    {
        return 0;
    }

    v = json_object_get(payload, "scope");

    if (json_is_string(v)
        && ngx_oidc_claims_has_word(json_string_value(v),
                                    json_string_length(v), scope, len))
    {
        return 1;
    }

    v = json_object_get(payload, "scp");

    if (json_is_string(v)) {
        return ngx_oidc_claims_has_word(json_string_value(v),
                                        json_string_length(v), scope, len);
    }

    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (json_is_string(e)
                && json_string_length(e) == len
                && memcmp(json_string_value(e), scope, len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/* RFC 6749 section 3.3: words separated by one or more spaces */

static int
ngx_oidc_claims_has_word(const char *list, size_t list_len,
    const unsigned char *word, size_t len)
{
    size_t       n;
    const char  *p, *last, *end;

    p = list;
    last = list + list_len;

    while (p < last) {
        while (p < last && *p == ' ') {
            p++;
        }

        end = memchr(p, ' ', last - p);
        if (end == NULL) {
            end = last;
        }

        n = end - p;

        if (n == len && memcmp(p, word, len) == 0) {
            return 1;
        }

        p = end;
    }

    return 0;
}
