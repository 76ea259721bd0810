
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <limits.h>
#include <string.h>
#include <strings.h>

#include "ngx_oidc_b64.h"
#include "ngx_oidc_json.h"
#include "ngx_oidc_crypto.h"
#include "ngx_oidc_claims.h"


/* the longest claim value quoted in err->detail */
#define NGX_OIDC_CLAIMS_QUOTE_MAX  48


/* results of ngx_oidc_claims_time() */
#define NGX_OIDC_CLAIM_ABSENT      0
#define NGX_OIDC_CLAIM_PRESENT     1


static int ngx_oidc_claims_check_typ(json_t *header, ngx_oidc_err_t *err);
static int ngx_oidc_claims_typ_is(json_t *header, const char *media,
    int required, const char *reason, ngx_oidc_err_t *err);
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
static void ngx_oidc_claims_base(ngx_oidc_claims_check_t *c,
    const ngx_oidc_str_t *issuer, const ngx_oidc_str_t *client_id,
    time_t now, time_t leeway, time_t max_age);
static int ngx_oidc_claims_check_azp(json_t *payload,
    const ngx_oidc_str_t *client_id, ngx_oidc_err_t *err);
static int ngx_oidc_claims_check_iat_times(json_t *payload,
    const ngx_oidc_claims_check_t *c, ngx_oidc_err_t *err);
static int ngx_oidc_claims_str(json_t *payload, const char *name,
    const char **value, size_t *len, ngx_oidc_err_t *err);
static int ngx_oidc_claims_check_nonce(json_t *payload,
    const ngx_oidc_str_t *nonce, ngx_oidc_err_t *err);
static int ngx_oidc_claims_check_at_hash(json_t *payload,
    const ngx_oidc_id_token_check_t *check, ngx_oidc_err_t *err);
static int ngx_oidc_claims_check_events(json_t *payload,
    ngx_oidc_err_t *err);
static int ngx_oidc_claims_check_logout_subject(json_t *payload,
    ngx_oidc_err_t *err);


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


/* RFC 9068 section 2.1 */

static int
ngx_oidc_claims_check_typ(json_t *header, ngx_oidc_err_t *err)
{
    return ngx_oidc_claims_typ_is(header, "at+jwt", 1, "typ is not at+jwt",
                                  err);
}


/*
 * The header's "typ" is the media type "media" (RFC 7515 section 4.1.9:
 * "application/" may be left off; case-insensitive); an absent "typ"
 * is refused only when "required".
 */

static int
ngx_oidc_claims_typ_is(json_t *header, const char *media, int required,
    const char *reason, ngx_oidc_err_t *err)
{
    size_t       len, mlen, plen;
    json_t      *v;
    const char  *typ;

    v = json_is_object(header) ? json_object_get(header, "typ") : NULL;

    if (v == NULL) {
        if (!required) {
            return NGX_OIDC_OK;
        }

        ngx_oidc_err_set(err, reason, "typ missing");
        return NGX_OIDC_DECLINED;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "typ is not a string");
        return NGX_OIDC_DECLINED;
    }

    typ = json_string_value(v);
    len = json_string_length(v);
    mlen = strlen(media);
    plen = sizeof("application/") - 1;

    if (len >= plen && strncasecmp(typ, "application/", plen) == 0) {
        typ += plen;
        len -= plen;
    }

    if (len == mlen && strncasecmp(typ, media, mlen) == 0) {
        return NGX_OIDC_OK;
    }

    ngx_oidc_err_set(err, reason, NULL);
    ngx_oidc_claims_quote(err->detail, sizeof(err->detail),
                          json_string_value(v), json_string_length(v));

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

    if (v == NULL && check->iss_optional) {
        return NGX_OIDC_OK;
    }

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


/* a check struct for the shared iss/aud/time helpers */

static void
ngx_oidc_claims_base(ngx_oidc_claims_check_t *c, const ngx_oidc_str_t *issuer,
    const ngx_oidc_str_t *client_id, time_t now, time_t leeway,
    time_t max_age)
{
    memset(c, 0, sizeof(ngx_oidc_claims_check_t));

    c->issuer = *issuer;
    c->audiences = client_id;
    c->naudiences = 1;
    c->now = now;
    c->leeway = leeway;
    c->max_age = max_age;
}


int
ngx_oidc_claims_check_id_token(json_t *payload,
    const ngx_oidc_id_token_check_t *check, ngx_oidc_err_t *err)
{
    int                      rc;
    const char              *sub;
    size_t                   len;
    ngx_oidc_claims_check_t  c;

    if (check == NULL || check->issuer.len == 0 || check->issuer.data == NULL
        || check->client_id.len == 0 || check->client_id.data == NULL
        || (check->access_token.len > 0 && check->alg == 0))
    {
        ngx_oidc_err_set(err, "claims check not configured", NULL);
        return NGX_OIDC_ERROR;
    }

    if (!json_is_object(payload)) {
        ngx_oidc_err_set(err, "bad claim type", "payload is not an object");
        return NGX_OIDC_DECLINED;
    }

    ngx_oidc_claims_base(&c, &check->issuer, &check->client_id, check->now,
                         check->leeway, check->max_age);
    c.require_exp = 1;

    rc = ngx_oidc_claims_check_iss(payload, &c, err);

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_claims_check_aud(payload, &c, err);
    }

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_claims_check_azp(payload, &check->client_id, err);
    }

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_claims_check_iat_times(payload, &c, err);
    }

    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    rc = ngx_oidc_claims_str(payload, "sub", &sub, &len, err);

    if (rc == NGX_OIDC_CLAIM_ABSENT) {
        ngx_oidc_err_set(err, "sub missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (rc != NGX_OIDC_CLAIM_PRESENT) {
        return rc;
    }

    rc = ngx_oidc_claims_check_nonce(payload, &check->nonce, err);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    return ngx_oidc_claims_check_at_hash(payload, check, err);
}


/* OIDC Core 3.1.3.7 items 4 and 5 */

static int
ngx_oidc_claims_check_azp(json_t *payload, const ngx_oidc_str_t *client_id,
    ngx_oidc_err_t *err)
{
    json_t  *v, *aud;

    v = json_object_get(payload, "azp");

    if (v == NULL) {
        aud = json_object_get(payload, "aud");

        if (json_is_array(aud) && json_array_size(aud) > 1) {
            ngx_oidc_err_set(err, "azp missing", "%zu audiences",
                             json_array_size(aud));
            return NGX_OIDC_DECLINED;
        }

        return NGX_OIDC_OK;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "azp is not a string");
        return NGX_OIDC_DECLINED;
    }

    if (json_string_length(v) == client_id->len
        && memcmp(json_string_value(v), client_id->data, client_id->len) == 0)
    {
        return NGX_OIDC_OK;
    }

    ngx_oidc_err_set(err, "azp mismatch", NULL);
    ngx_oidc_claims_quote(err->detail, sizeof(err->detail),
                          json_string_value(v), json_string_length(v));

    return NGX_OIDC_DECLINED;
}


/* "iat" required, then exp/nbf/iat as for access tokens */

static int
ngx_oidc_claims_check_iat_times(json_t *payload,
    const ngx_oidc_claims_check_t *c, ngx_oidc_err_t *err)
{
    if (json_object_get(payload, "iat") == NULL) {
        ngx_oidc_err_set(err, "iat missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    return ngx_oidc_claims_check_times(payload, c, err);
}


/*
 * A string claim: NGX_OIDC_CLAIM_ABSENT, NGX_OIDC_CLAIM_PRESENT (and a
 * non-empty *value), or NGX_OIDC_DECLINED for another type or ""
 */

static int
ngx_oidc_claims_str(json_t *payload, const char *name, const char **value,
    size_t *len, ngx_oidc_err_t *err)
{
    json_t  *v;

    v = json_object_get(payload, name);

    if (v == NULL) {
        return NGX_OIDC_CLAIM_ABSENT;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "%s is not a string", name);
        return NGX_OIDC_DECLINED;
    }

    if (json_string_length(v) == 0) {
        ngx_oidc_err_set(err, "bad claim value", "%s is empty", name);
        return NGX_OIDC_DECLINED;
    }

    *value = json_string_value(v);
    *len = json_string_length(v);

    return NGX_OIDC_CLAIM_PRESENT;
}


static int
ngx_oidc_claims_check_nonce(json_t *payload, const ngx_oidc_str_t *nonce,
    ngx_oidc_err_t *err)
{
    json_t  *v;

    if (nonce->len == 0) {
        return NGX_OIDC_OK;
    }

    v = json_object_get(payload, "nonce");

    if (v == NULL) {
        ngx_oidc_err_set(err, "nonce missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "nonce is not a string");
        return NGX_OIDC_DECLINED;
    }

    /* the length is not secret: ours is fixed */
    if (json_string_length(v) != nonce->len
        || !ngx_oidc_ct_equal(json_string_value(v), nonce->data, nonce->len))
    {
        ngx_oidc_err_set(err, "nonce mismatch", NULL);
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_claims_check_at_hash(json_t *payload,
    const ngx_oidc_id_token_check_t *check, ngx_oidc_err_t *err)
{
    int      rc;
    json_t  *v;

    v = json_object_get(payload, "at_hash");

    if (v == NULL || check->access_token.len == 0) {
        return NGX_OIDC_OK;
    }

    if (!json_is_string(v)) {
        ngx_oidc_err_set(err, "bad claim type", "at_hash is not a string");
        return NGX_OIDC_DECLINED;
    }

    rc = ngx_oidc_token_hash_check(check->alg, check->access_token.data,
                                   check->access_token.len,
                                   (const unsigned char *)
                                       json_string_value(v),
                                   json_string_length(v), err);

    if (rc == NGX_OIDC_DECLINED) {
        ngx_oidc_err_set(err, "at_hash mismatch", NULL);
    }

    return rc;
}


int
ngx_oidc_claims_check_logout_token(json_t *payload,
    const ngx_oidc_logout_token_check_t *check, ngx_oidc_err_t *err)
{
    int                      rc;
    size_t                   len;
    const char              *jti;
    ngx_oidc_claims_check_t  c;

    if (check == NULL || check->issuer.len == 0 || check->issuer.data == NULL
        || check->client_id.len == 0 || check->client_id.data == NULL)
    {
        ngx_oidc_err_set(err, "claims check not configured", NULL);
        return NGX_OIDC_ERROR;
    }

    if (!json_is_object(payload)) {
        ngx_oidc_err_set(err, "bad claim type", "payload is not an object");
        return NGX_OIDC_DECLINED;
    }

    ngx_oidc_claims_base(&c, &check->issuer, &check->client_id, check->now,
                         check->leeway, check->max_age);

    rc = ngx_oidc_claims_check_iss(payload, &c, err);

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_claims_check_aud(payload, &c, err);
    }

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_claims_check_iat_times(payload, &c, err);
    }

    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    rc = ngx_oidc_claims_str(payload, "jti", &jti, &len, err);

    if (rc == NGX_OIDC_CLAIM_ABSENT) {
        ngx_oidc_err_set(err, "jti missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (rc != NGX_OIDC_CLAIM_PRESENT) {
        return rc;
    }

    rc = ngx_oidc_claims_check_events(payload, err);

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_claims_check_logout_subject(payload, err);
    }

    if (rc == NGX_OIDC_OK && json_object_get(payload, "nonce") != NULL) {
        ngx_oidc_err_set(err, "nonce present", NULL);
        rc = NGX_OIDC_DECLINED;
    }

    return rc;
}


static int
ngx_oidc_claims_check_events(json_t *payload, ngx_oidc_err_t *err)
{
    json_t  *events, *v;

    events = json_object_get(payload, "events");

    if (events == NULL) {
        ngx_oidc_err_set(err, "events missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    if (!json_is_object(events)) {
        ngx_oidc_err_set(err, "bad claim type", "events is not an object");
        return NGX_OIDC_DECLINED;
    }

    v = json_object_get(events, NGX_OIDC_BACKCHANNEL_LOGOUT_EVENT);

    if (v == NULL) {
        ngx_oidc_err_set(err, "backchannel logout event missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    /* 2.4: "the value ... MUST be a JSON object", usually {} */
    if (!json_is_object(v)) {
        ngx_oidc_err_set(err, "bad claim type",
                         "backchannel logout event is not an object");
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_claims_check_logout_subject(json_t *payload, ngx_oidc_err_t *err)
{
    int          sub, sid;
    size_t       len;
    const char  *v;

    sub = ngx_oidc_claims_str(payload, "sub", &v, &len, err);
    if (sub == NGX_OIDC_DECLINED) {
        return NGX_OIDC_DECLINED;
    }

    sid = ngx_oidc_claims_str(payload, "sid", &v, &len, err);
    if (sid == NGX_OIDC_DECLINED) {
        return NGX_OIDC_DECLINED;
    }

    if (sub == NGX_OIDC_CLAIM_ABSENT && sid == NGX_OIDC_CLAIM_ABSENT) {
        ngx_oidc_err_set(err, "sid and sub missing", NULL);
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


int
ngx_oidc_claims_check_logout_typ(json_t *header, ngx_oidc_err_t *err)
{
    /* Back-Channel Logout 1.0 section 2.4: explicit typing recommended */
    return ngx_oidc_claims_typ_is(header, "logout+jwt", 0,
                                  "typ is not logout+jwt", err);
}
