
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_JSON_H_INCLUDED_
#define _NGX_OIDC_JSON_H_INCLUDED_


#include <jansson.h>

#include "ngx_oidc_types.h"


/* nesting deeper than this is refused (jansson's own limit is 2048) */
#define NGX_OIDC_JSON_MAX_DEPTH   32


/*
 * Parses "len" bytes as one JSON object.  Refused (NULL, err set):
 * more than "max" bytes, invalid JSON, anything but an object at the
 * top, a member name appearing twice in any object at any depth,
 * nesting deeper than NGX_OIDC_JSON_MAX_DEPTH, a NUL byte in a string.
 * The caller owns the result (json_decref()).
 */
json_t *ngx_oidc_json_parse(const unsigned char *data, size_t len,
    size_t max, ngx_oidc_err_t *err);


/*
 * 1 when "value" nests at most NGX_OIDC_JSON_MAX_DEPTH levels below
 * "depth" (the depth "value" itself is at), 0 otherwise.
 */
int ngx_oidc_json_depth_ok(json_t *value, int depth);


/*
 * A claim path: a sequence of member names from the top-level object,
 * e.g. "http://lifen.fr/userInfo", "uuid"; a segment is taken as is
 * (no dots or brackets are interpreted, so "a.b" names one member).
 * A segment in canonical decimal ("0", "12"; not "01", "+1") indexes
 * an array when the value there is an array and names a member
 * otherwise.  Compiled once (at configuration time).
 */
typedef struct ngx_oidc_claim_path_s  ngx_oidc_claim_path_t;

/*
 * Copies the segments (the caller keeps its own); free with
 * ngx_oidc_claim_path_free().  NULL on allocation failure or n == 0.
 * A segment holding a NUL byte is accepted and never matches.
 */
ngx_oidc_claim_path_t *ngx_oidc_claim_path_create(
    const ngx_oidc_str_t *segments, size_t n);
void ngx_oidc_claim_path_free(ngx_oidc_claim_path_t *path);

/*
 * A borrowed reference into "root" (valid while "root" lives), or NULL
 * when the path is absent: a missing member, an index past the end, or
 * a scalar where the path goes on.
 */
json_t *ngx_oidc_claim_path_get(json_t *root,
    const ngx_oidc_claim_path_t *path);


/* the most bytes ngx_oidc_json_render() produces */
#define NGX_OIDC_JSON_RENDER_MAX  65536


/*
 * Renders a claim value as a header/variable value into a malloc()ed
 * buffer (*out, *out_len; the caller free()s it):
 *   string        its characters, unquoted;
 *   number, bool  as JSON text ("42", "1.5", "true"); a real with the
 *                 fewest digits that read back exactly ("0.1", "100.0");
 *   null          the empty string;
 *   array         elements joined with ",", strings unquoted, others as
 *                 compact JSON (["a,b","c"] and ["a","b","c"] both give
 *                 "a,b,c": map the claim as JSON if that matters);
 *   object        compact JSON, members in document order, non-ASCII
 *                 UTF-8 kept as is, "/" not escaped.
 * The rendered bytes never contain a control byte: a value with a
 * control character (0x00-0x1f, 0x7f) in any string or member name, at
 * any depth, is refused, even where compact JSON would have escaped
 * it as "\n" or "\u001f".  *out is never NULL on NGX_OIDC_OK, even for
 * an empty result.
 * Returns NGX_OIDC_OK; NGX_OIDC_DECLINED for a control character, a
 * result over NGX_OIDC_JSON_RENDER_MAX bytes, or a value nested deeper
 * than NGX_OIDC_JSON_MAX_DEPTH; NGX_OIDC_ERROR on allocation failure
 * or a NULL argument.
 */
int ngx_oidc_json_render(json_t *value, unsigned char **out, size_t *out_len);


/* a string member, or NULL when absent or of another type */
const char *ngx_oidc_json_get_string(json_t *obj, const char *name,
    size_t *len);

/*
 * A NumericDate member: an integer, or a real (its fraction dropped,
 * rounding down).  NGX_OIDC_DECLINED when absent, of another type, or
 * out of range: beyond +-1e15 (about 31 million years), or beyond what
 * time_t holds.
 */
int ngx_oidc_json_get_time(json_t *obj, const char *name, time_t *value);


#endif /* _NGX_OIDC_JSON_H_INCLUDED_ */
