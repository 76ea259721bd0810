
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"


/* jansson's flags for claims rendered as JSON text */
#define NGX_OIDC_RENDER_FLAGS                                                \
    (JSON_COMPACT | JSON_ENCODE_ANY)

/* NumericDate values beyond +-1e15 s (31 million years) are refused */
#define NGX_OIDC_JSON_TIME_MAX    1000000000000000LL


typedef struct {
    char                 *name;        /* a NUL-terminated copy */
    size_t                len;
    size_t                index;       /* when is_index */
    unsigned              is_index:1;  /* canonical decimal, fits size_t */
    unsigned              has_nul:1;   /* can never name a member */
} ngx_oidc_claim_seg_t;


struct ngx_oidc_claim_path_s {
    size_t                n;
    ngx_oidc_claim_seg_t  seg[];
};


typedef struct {
    unsigned char        *data;
    size_t                len;
    size_t                size;
    unsigned              overflow:1;
    unsigned              nomem:1;
} ngx_oidc_render_buf_t;


static void ngx_oidc_claim_seg_init(ngx_oidc_claim_seg_t *seg);
static int ngx_oidc_render_inspect(json_t *value, int depth, int *precision);
static int ngx_oidc_render_has_ctl(const char *p, size_t len);
static int ngx_oidc_render_precision(double d);
static int ngx_oidc_render_append(const char *p, size_t len, void *data);


json_t *
ngx_oidc_json_parse(const unsigned char *data, size_t len, size_t max,
    ngx_oidc_err_t *err)
{
    json_t        *root;
    json_error_t   jerr;

    if (len > max) {
        ngx_oidc_err_set(err, "json document too large",
                         "%zu bytes, limit %zu", len, max);
        return NULL;
    }

    /*
     * JSON_REJECT_DUPLICATES applies to every object of the document;
     * without JSON_ALLOW_NUL jansson refuses "\u0000" in strings
     */
    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        ngx_oidc_err_set(err, "invalid json", "%.96s at %d", jerr.text,
                         jerr.position);
        return NULL;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        ngx_oidc_err_set(err, "json document is not an object", NULL);
        return NULL;
    }

    if (!ngx_oidc_json_depth_ok(root, 0)) {
        json_decref(root);
        ngx_oidc_err_set(err, "json document nested too deeply",
                         "limit %d", NGX_OIDC_JSON_MAX_DEPTH);
        return NULL;
    }

    return root;
}


int
ngx_oidc_json_depth_ok(json_t *value, int depth)
{
    size_t       i;
    json_t      *v;
    const char  *name;

    if (depth > NGX_OIDC_JSON_MAX_DEPTH) {
        return 0;
    }

    if (json_is_object(value)) {
        json_object_foreach(value, name, v) {
            if (!ngx_oidc_json_depth_ok(v, depth + 1)) {
                return 0;
            }
        }

    } else if (json_is_array(value)) {
        json_array_foreach(value, i, v) {
            if (!ngx_oidc_json_depth_ok(v, depth + 1)) {
                return 0;
            }
        }
    }

    return 1;
}


const char *
ngx_oidc_json_get_string(json_t *obj, const char *name, size_t *len)
{
    json_t  *v;

    v = json_object_get(obj, name);

    if (!json_is_string(v)) {
        return NULL;
    }

    if (len != NULL) {
        *len = json_string_length(v);
    }

    return json_string_value(v);
}


int
ngx_oidc_json_get_time(json_t *obj, const char *name, time_t *value)
{
    double      d;
    json_t     *v;
    json_int_t  i;

    v = json_object_get(obj, name);

    if (json_is_integer(v)) {
        i = json_integer_value(v);

    } else if (json_is_real(v)) {
        d = json_real_value(v);

        /* NumericDate may carry a fraction; refuse what time_t can't hold */
        if (!isfinite(d) || d < -1e15 || d > 1e15) {
            return NGX_OIDC_DECLINED;
        }

        /* floor() without libm: the pure units link with libc alone */
        i = (json_int_t) d;

        if ((double) i > d) {
            i--;
        }

    } else {
        return NGX_OIDC_DECLINED;
    }

    /* one range for both types; also keeps a 32-bit time_t exact */
    if (i < -NGX_OIDC_JSON_TIME_MAX || i > NGX_OIDC_JSON_TIME_MAX
        || (json_int_t) (time_t) i != i)
    {
        return NGX_OIDC_DECLINED;
    }

    *value = (time_t) i;

    return NGX_OIDC_OK;
}


ngx_oidc_claim_path_t *
ngx_oidc_claim_path_create(const ngx_oidc_str_t *segments, size_t n)
{
    char                   *p;
    size_t                  i, size;
    ngx_oidc_claim_path_t  *path;

    if (n == 0 || segments == NULL) {
        return NULL;
    }

    /* one allocation: the header, the segments, then their names */

    if (n > (SIZE_MAX - sizeof(ngx_oidc_claim_path_t))
            / sizeof(ngx_oidc_claim_seg_t))
    {
        return NULL;
    }

    size = sizeof(ngx_oidc_claim_path_t) + n * sizeof(ngx_oidc_claim_seg_t);

    for (i = 0; i < n; i++) {
        if (segments[i].len == SIZE_MAX
            || segments[i].len + 1 > SIZE_MAX - size
            || (segments[i].len > 0 && segments[i].data == NULL))
        {
            return NULL;
        }

        size += segments[i].len + 1;
    }

    path = malloc(size);
    if (path == NULL) {
        return NULL;
    }

    path->n = n;
    p = (char *) &path->seg[n];

    for (i = 0; i < n; i++) {
        path->seg[i].name = p;
        path->seg[i].len = segments[i].len;

        if (segments[i].len > 0) {
            memcpy(p, segments[i].data, segments[i].len);
        }

        p[segments[i].len] = '\0';
        p += segments[i].len + 1;

        ngx_oidc_claim_seg_init(&path->seg[i]);
    }

    return path;
}


static void
ngx_oidc_claim_seg_init(ngx_oidc_claim_seg_t *seg)
{
    size_t  i, d;

    /* jansson refuses NUL in member names: such a segment never matches */
    seg->has_nul = (strlen(seg->name) != seg->len);

    seg->is_index = 0;
    seg->index = 0;

    /* "0", "7", "12" index arrays; "", "01", "+1", "1e2" do not */
    if (seg->len == 0 || (seg->len > 1 && seg->name[0] == '0')) {
        return;
    }

    for (i = 0; i < seg->len; i++) {
        if (seg->name[i] < '0' || seg->name[i] > '9') {
            return;
        }

        d = (size_t) (seg->name[i] - '0');

        if (seg->index > (SIZE_MAX - d) / 10) {
            return;
        }

        seg->index = seg->index * 10 + d;
    }

    seg->is_index = 1;
}


void
ngx_oidc_claim_path_free(ngx_oidc_claim_path_t *path)
{
    free(path);
}


json_t *
ngx_oidc_claim_path_get(json_t *root, const ngx_oidc_claim_path_t *path)
{
    size_t                       i;
    json_t                      *v;
    const ngx_oidc_claim_seg_t  *seg;

    if (path == NULL) {
        return NULL;
    }

    v = root;

    for (i = 0; i < path->n && v != NULL; i++) {
        seg = &path->seg[i];

        if (json_is_object(v)) {
            v = seg->has_nul ? NULL : json_object_get(v, seg->name);

        } else if (json_is_array(v) && seg->is_index) {
            v = json_array_get(v, seg->index);

        } else {
            return NULL;
        }
    }

    return v;
}


int
ngx_oidc_json_render(json_t *value, unsigned char **out, size_t *out_len)
{
    int                     rc, precision;
    size_t                  i, flags;
    json_t                 *v;
    ngx_oidc_render_buf_t   buf;

    if (value == NULL || out == NULL || out_len == NULL) {
        return NGX_OIDC_ERROR;
    }

    precision = 0;

    rc = ngx_oidc_render_inspect(value, 0, &precision);
    if (rc != NGX_OIDC_OK) {
        return rc;
    }

    flags = NGX_OIDC_RENDER_FLAGS;

    if (precision > 0) {
        flags |= JSON_REAL_PRECISION(precision);
    }

    memset(&buf, 0, sizeof(ngx_oidc_render_buf_t));

    switch (json_typeof(value)) {

    case JSON_STRING:
        (void) ngx_oidc_render_append(json_string_value(value),
                                      json_string_length(value), &buf);
        break;

    case JSON_NULL:
        break;

    case JSON_ARRAY:
        json_array_foreach(value, i, v) {
            if (i > 0 && ngx_oidc_render_append(",", 1, &buf) != 0) {
                break;
            }

            if (json_is_string(v)) {
                if (ngx_oidc_render_append(json_string_value(v),
                                           json_string_length(v), &buf)
                    != 0)
                {
                    break;
                }

            } else if (json_dump_callback(v, ngx_oidc_render_append, &buf,
                                          flags)
                       != 0)
            {
                break;
            }
        }

        break;

    default:
        (void) json_dump_callback(value, ngx_oidc_render_append, &buf, flags);
        break;
    }

    if (buf.nomem) {
        free(buf.data);
        return NGX_OIDC_ERROR;
    }

    /*
     * the inspection made every string safe; this last look also covers
     * anything jansson itself might emit (it does not escape 0x7f)
     */
    if (buf.overflow || ngx_oidc_render_has_ctl((char *) buf.data, buf.len)) {
        free(buf.data);
        return NGX_OIDC_DECLINED;
    }

    if (buf.data == NULL) {
        /* an empty result is still a buffer the caller can free() */
        buf.data = malloc(1);
        if (buf.data == NULL) {
            return NGX_OIDC_ERROR;
        }
    }

    *out = buf.data;
    *out_len = buf.len;

    return NGX_OIDC_OK;
}


/*
 * Refuses a value holding a control character in any string or member
 * name at any depth, even where compact JSON would escape it, so that
 * "a\nb" is refused alike as a claim, an array element or deep inside
 * an object, and a consumer decoding our JSON never gets one back.
 * Also finds the precision that renders every real exactly.
 */

static int
ngx_oidc_render_inspect(json_t *value, int depth, int *precision)
{
    int          p, rc;
    size_t       i;
    json_t      *v;
    const char  *name;

    /* values from ngx_oidc_json_parse() are shallower; this bounds others */
    if (depth > NGX_OIDC_JSON_MAX_DEPTH) {
        return NGX_OIDC_DECLINED;
    }

    switch (json_typeof(value)) {

    case JSON_STRING:
        if (ngx_oidc_render_has_ctl(json_string_value(value),
                                    json_string_length(value)))
        {
            return NGX_OIDC_DECLINED;
        }

        return NGX_OIDC_OK;

    case JSON_REAL:
        p = ngx_oidc_render_precision(json_real_value(value));

        if (p > *precision) {
            *precision = p;
        }

        return NGX_OIDC_OK;

    case JSON_ARRAY:
        json_array_foreach(value, i, v) {
            rc = ngx_oidc_render_inspect(v, depth + 1, precision);
            if (rc != NGX_OIDC_OK) {
                return rc;
            }
        }

        return NGX_OIDC_OK;

    case JSON_OBJECT:
        json_object_foreach(value, name, v) {
            if (ngx_oidc_render_has_ctl(name, strlen(name))) {
                return NGX_OIDC_DECLINED;
            }

            rc = ngx_oidc_render_inspect(v, depth + 1, precision);
            if (rc != NGX_OIDC_OK) {
                return rc;
            }
        }

        return NGX_OIDC_OK;

    default:
        return NGX_OIDC_OK;
    }
}


static int
ngx_oidc_render_has_ctl(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) p[i] < 0x20 || (unsigned char) p[i] == 0x7f) {
            return 1;
        }
    }

    return 0;
}


/*
 * The fewest significant digits that give "d" back (so 0.1 renders as
 * "0.1", not jansson 2.14's default "0.10000000000000001"), yet at least
 * its integer digits, so that 100.0 is not written "1e2".
 */

static int
ngx_oidc_render_precision(double d)
{
    int     p, digits;
    char    text[64];
    double  x;

    x = (d < 0) ? -d : d;

    for (digits = 1; x >= 10 && digits < 17; digits++) {
        x /= 10;
    }

    for (p = digits; p < 17; p++) {
        /* snprintf() and strtod() agree on the locale's decimal point */
        (void) snprintf(text, sizeof(text), "%.*g", p, d);

        if (strtod(text, NULL) == d) {
            return p;
        }
    }

    return 17;
}


/* a json_dump_callback_t; keeps failing once it has failed */

static int
ngx_oidc_render_append(const char *p, size_t len, void *data)
{
    size_t                  size;
    unsigned char          *n;
    ngx_oidc_render_buf_t  *buf;

    buf = data;

    if (buf->overflow || buf->nomem) {
        return -1;
    }

    if (len > NGX_OIDC_JSON_RENDER_MAX - buf->len) {
        buf->overflow = 1;
        return -1;
    }

    if (buf->len + len > buf->size) {
        size = buf->size ? buf->size : 64;

        while (size < buf->len + len) {
            size *= 2;
        }

        if (size > NGX_OIDC_JSON_RENDER_MAX) {
            size = NGX_OIDC_JSON_RENDER_MAX;
        }

        n = realloc(buf->data, size);
        if (n == NULL) {
            buf->nomem = 1;
            return -1;
        }

        buf->data = n;
        buf->size = size;
    }

    if (len > 0) {
        memcpy(buf->data + buf->len, p, len);
        buf->len += len;
    }

    return 0;
}
