
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_json.h"
#include "ngx_oidc_record.h"


/* field kinds */
#define NGX_OIDC_FIELD_STR        0     /* ngx_oidc_str_t */
#define NGX_OIDC_FIELD_TIME       1     /* time_t */
#define NGX_OIDC_FIELD_OBJ        2     /* json_t *, an object */

/* presence rules */
#define NGX_OIDC_RECORD_OPTIONAL  0     /* left out when empty, 0 or NULL */
#define NGX_OIDC_RECORD_REQUIRED  1     /* non-empty string, any time */
#define NGX_OIDC_RECORD_ALWAYS    2     /* a string written even empty */


typedef struct {
    const char           *name;
    size_t                offset;
    unsigned              kind;
    int                   required;
} ngx_oidc_record_field_t;


static const ngx_oidc_record_field_t  ngx_oidc_login_fields[] = {
    { "state", offsetof(ngx_oidc_login_t, state),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_REQUIRED },
    { "nonce", offsetof(ngx_oidc_login_t, nonce),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_REQUIRED },
    { "code_verifier", offsetof(ngx_oidc_login_t, code_verifier),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_REQUIRED },
    { "return_to", offsetof(ngx_oidc_login_t, return_to),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_ALWAYS },
    { "created", offsetof(ngx_oidc_login_t, created),
      NGX_OIDC_FIELD_TIME, NGX_OIDC_RECORD_REQUIRED },
    { NULL, 0, 0, 0 }
};


static const ngx_oidc_record_field_t  ngx_oidc_session_fields[] = {
    { "sub", offsetof(ngx_oidc_session_t, sub),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_REQUIRED },
    { "sid", offsetof(ngx_oidc_session_t, sid),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_OPTIONAL },
    { "id_token", offsetof(ngx_oidc_session_t, id_token),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_REQUIRED },
    { "access_token", offsetof(ngx_oidc_session_t, access_token),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_OPTIONAL },
    { "refresh_token", offsetof(ngx_oidc_session_t, refresh_token),
      NGX_OIDC_FIELD_STR, NGX_OIDC_RECORD_OPTIONAL },
    { "access_expires", offsetof(ngx_oidc_session_t, access_expires),
      NGX_OIDC_FIELD_TIME, NGX_OIDC_RECORD_OPTIONAL },
    { "created", offsetof(ngx_oidc_session_t, created),
      NGX_OIDC_FIELD_TIME, NGX_OIDC_RECORD_REQUIRED },
    { "last_seen", offsetof(ngx_oidc_session_t, last_seen),
      NGX_OIDC_FIELD_TIME, NGX_OIDC_RECORD_REQUIRED },
    { "claims", offsetof(ngx_oidc_session_t, claims),
      NGX_OIDC_FIELD_OBJ, NGX_OIDC_RECORD_REQUIRED },
    { "userinfo", offsetof(ngx_oidc_session_t, userinfo),
      NGX_OIDC_FIELD_OBJ, NGX_OIDC_RECORD_OPTIONAL },
    { "response", offsetof(ngx_oidc_session_t, response),
      NGX_OIDC_FIELD_OBJ, NGX_OIDC_RECORD_OPTIONAL },
    { NULL, 0, 0, 0 }
};


static int ngx_oidc_record_encode(const ngx_oidc_record_field_t *fields,
    const void *record, size_t max, unsigned char **out, size_t *len,
    ngx_oidc_err_t *err);
static int ngx_oidc_record_set_str(json_t *obj, const char *name,
    const ngx_oidc_str_t *s, int required, ngx_oidc_err_t *err);
static int ngx_oidc_record_set_time(json_t *obj, const char *name, time_t t,
    int required, ngx_oidc_err_t *err);
static int ngx_oidc_record_set_obj(json_t *obj, const char *name,
    json_t *value, int required, ngx_oidc_err_t *err);
static int ngx_oidc_record_dump(json_t *root, size_t max, unsigned char **out,
    size_t *len, ngx_oidc_err_t *err);
static json_t *ngx_oidc_record_decode(const ngx_oidc_record_field_t *fields,
    void *record, const unsigned char *data, size_t len, size_t max,
    ngx_oidc_err_t *err);
static int ngx_oidc_record_get_str(json_t *obj, const char *name,
    ngx_oidc_str_t *s, int required, ngx_oidc_err_t *err);
static int ngx_oidc_record_get_time(json_t *obj, const char *name,
    time_t *t, int required, ngx_oidc_err_t *err);
static int ngx_oidc_record_get_obj(json_t *obj, const char *name,
    json_t **value, int required, ngx_oidc_err_t *err);


int
ngx_oidc_login_encode(const ngx_oidc_login_t *login, unsigned char **out,
    size_t *len, ngx_oidc_err_t *err)
{
    return ngx_oidc_record_encode(ngx_oidc_login_fields, login,
                                  NGX_OIDC_LOGIN_MAX, out, len, err);
}


int
ngx_oidc_session_encode(const ngx_oidc_session_t *session,
    unsigned char **out, size_t *len, ngx_oidc_err_t *err)
{
    return ngx_oidc_record_encode(ngx_oidc_session_fields, session,
                                  NGX_OIDC_SESSION_MAX, out, len, err);
}


static int
ngx_oidc_record_encode(const ngx_oidc_record_field_t *fields,
    const void *record, size_t max, unsigned char **out, size_t *len,
    ngx_oidc_err_t *err)
{
    int                             rc;
    json_t                         *root;
    const char                     *p;
    const ngx_oidc_record_field_t  *f;

    root = json_object();
    if (root == NULL
        || json_object_set_new(root, "v",
                               json_integer(NGX_OIDC_RECORD_VERSION))
           != 0)
    {
        json_decref(root);
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    rc = NGX_OIDC_OK;
    p = record;

    for (f = fields; f->name != NULL && rc == NGX_OIDC_OK; f++) {
        switch (f->kind) {

        case NGX_OIDC_FIELD_STR:
            rc = ngx_oidc_record_set_str(root, f->name,
                                         (const ngx_oidc_str_t *)
                                             (p + f->offset),
                                         f->required, err);
            break;

        case NGX_OIDC_FIELD_TIME:
            rc = ngx_oidc_record_set_time(root, f->name,
                                          *(const time_t *) (p + f->offset),
                                          f->required, err);
            break;

        default: /* NGX_OIDC_FIELD_OBJ */
            rc = ngx_oidc_record_set_obj(root, f->name,
                                         *(json_t * const *) (p + f->offset),
                                         f->required, err);
            break;
        }
    }

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_record_dump(root, max, out, len, err);
    }

    json_decref(root);

    return rc;
}



static int
ngx_oidc_record_set_str(json_t *obj, const char *name,
    const ngx_oidc_str_t *s, int required, ngx_oidc_err_t *err)
{
    json_t  *v;

    if (s->len == 0) {
        if (required == NGX_OIDC_RECORD_REQUIRED) {
            ngx_oidc_err_set(err, "missing record field", "%s", name);
            return NGX_OIDC_DECLINED;
        }

        if (required == NGX_OIDC_RECORD_OPTIONAL) {
            return NGX_OIDC_OK;
        }
    }

    /* jansson would write "\u0000", which the strict parser refuses */
    if (s->len > 0 && (s->data == NULL || memchr(s->data, '\0', s->len))) {
        ngx_oidc_err_set(err, "invalid record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    v = json_stringn(s->len ? (const char *) s->data : "", s->len);

    if (v == NULL) {
        /* invalid UTF-8, unless the unchecked copy fails too */
        v = json_stringn_nocheck(s->len ? (const char *) s->data : "",
                                 s->len);
        if (v == NULL) {
            ngx_oidc_err_set(err, "out of memory", NULL);
            return NGX_OIDC_ERROR;
        }

        json_decref(v);

        ngx_oidc_err_set(err, "invalid record field", "%s is not UTF-8",
                         name);
        return NGX_OIDC_DECLINED;
    }

    if (json_object_set_new(obj, name, v) != 0) {
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_record_set_time(json_t *obj, const char *name, time_t t,
    int required, ngx_oidc_err_t *err)
{
    if (t < 0) {
        ngx_oidc_err_set(err, "invalid record field", "%s is negative",
                         name);
        return NGX_OIDC_DECLINED;
    }

    if (t == 0 && required == NGX_OIDC_RECORD_OPTIONAL) {
        return NGX_OIDC_OK;
    }

    if (json_object_set_new(obj, name, json_integer((json_int_t) t)) != 0) {
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_record_set_obj(json_t *obj, const char *name, json_t *value,
    int required, ngx_oidc_err_t *err)
{
    if (value == NULL) {
        if (required == NGX_OIDC_RECORD_REQUIRED) {
            ngx_oidc_err_set(err, "missing record field", "%s", name);
            return NGX_OIDC_DECLINED;
        }

        return NGX_OIDC_OK;
    }

    /* nested one level down, the value must still parse back */
    if (!json_is_object(value) || !ngx_oidc_json_depth_ok(value, 1)) {
        ngx_oidc_err_set(err, "invalid record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    /* shared, not copied: the record is dumped before "value" changes */
    if (json_object_set(obj, name, value) != 0) {
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_record_dump(json_t *root, size_t max, unsigned char **out,
    size_t *len, ngx_oidc_err_t *err)
{
    size_t          size;
    unsigned char  *buf;

    size = json_dumpb(root, NULL, 0, JSON_COMPACT);

    if (size == 0) {
        ngx_oidc_err_set(err, "record encoding failed", NULL);
        return NGX_OIDC_ERROR;
    }

    if (size > max) {
        ngx_oidc_err_set(err, "record too large", "%zu bytes, limit %zu",
                         size, max);
        return NGX_OIDC_DECLINED;
    }

    buf = malloc(size);
    if (buf == NULL) {
        ngx_oidc_err_set(err, "out of memory", NULL);
        return NGX_OIDC_ERROR;
    }

    if (json_dumpb(root, (char *) buf, size, JSON_COMPACT) != size) {
        free(buf);
        ngx_oidc_err_set(err, "record encoding failed", NULL);
        return NGX_OIDC_ERROR;
    }

    *out = buf;
    *len = size;

    return NGX_OIDC_OK;
}


int
ngx_oidc_login_decode(const unsigned char *data, size_t len,
    ngx_oidc_login_t *login, ngx_oidc_err_t *err)
{
    memset(login, 0, sizeof(ngx_oidc_login_t));

    login->root = ngx_oidc_record_decode(ngx_oidc_login_fields, login, data,
                                         len, NGX_OIDC_LOGIN_MAX, err);

    if (login->root == NULL) {
        memset(login, 0, sizeof(ngx_oidc_login_t));
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


int
ngx_oidc_session_decode(const unsigned char *data, size_t len,
    ngx_oidc_session_t *session, ngx_oidc_err_t *err)
{
    memset(session, 0, sizeof(ngx_oidc_session_t));

    session->root = ngx_oidc_record_decode(ngx_oidc_session_fields, session,
                                           data, len, NGX_OIDC_SESSION_MAX,
                                           err);

    if (session->root == NULL) {
        memset(session, 0, sizeof(ngx_oidc_session_t));
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


/*
 * Fills the fields of "record" (zeroed by the caller) and returns the
 * parsed root owning them, or NULL with err set; on failure the record
 * may hold dangling pointers, so the caller zeroes it again.
 */

static json_t *
ngx_oidc_record_decode(const ngx_oidc_record_field_t *fields, void *record,
    const unsigned char *data, size_t len, size_t max, ngx_oidc_err_t *err)
{
    int                             rc;
    char                           *p;
    json_t                         *root, *v;
    const ngx_oidc_record_field_t  *f;

    root = ngx_oidc_json_parse(data, len, max, err);
    if (root == NULL) {
        return NULL;
    }

    v = json_object_get(root, "v");

    if (!json_is_integer(v)
        || json_integer_value(v) != NGX_OIDC_RECORD_VERSION)
    {
        ngx_oidc_err_set(err, "unsupported record version", "%lld",
                         json_is_integer(v)
                         ? (long long) json_integer_value(v) : -1LL);
        json_decref(root);
        return NULL;
    }

    rc = NGX_OIDC_OK;
    p = record;

    for (f = fields; f->name != NULL && rc == NGX_OIDC_OK; f++) {
        switch (f->kind) {

        case NGX_OIDC_FIELD_STR:
            rc = ngx_oidc_record_get_str(root, f->name,
                                         (ngx_oidc_str_t *) (p + f->offset),
                                         f->required, err);
            break;

        case NGX_OIDC_FIELD_TIME:
            rc = ngx_oidc_record_get_time(root, f->name,
                                          (time_t *) (p + f->offset),
                                          f->required, err);
            break;

        default: /* NGX_OIDC_FIELD_OBJ */
            rc = ngx_oidc_record_get_obj(root, f->name,
                                         (json_t **) (p + f->offset),
                                         f->required, err);
            break;
        }
    }

    if (rc != NGX_OIDC_OK) {
        json_decref(root);
        return NULL;
    }

    return root;
}


static int
ngx_oidc_record_get_str(json_t *obj, const char *name, ngx_oidc_str_t *s,
    int required, ngx_oidc_err_t *err)
{
    json_t  *v;

    v = json_object_get(obj, name);

    if (v == NULL) {
        if (required == NGX_OIDC_RECORD_OPTIONAL) {
            return NGX_OIDC_OK;
        }

        ngx_oidc_err_set(err, "missing record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    if (!json_is_string(v)
        || (required == NGX_OIDC_RECORD_REQUIRED
            && json_string_length(v) == 0))
    {
        ngx_oidc_err_set(err, "invalid record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    s->data = (unsigned char *) json_string_value(v);
    s->len = json_string_length(v);

    return NGX_OIDC_OK;
}


static int
ngx_oidc_record_get_time(json_t *obj, const char *name, time_t *t,
    int required, ngx_oidc_err_t *err)
{
    json_t  *v;

    v = json_object_get(obj, name);

    if (v == NULL) {
        if (required == NGX_OIDC_RECORD_OPTIONAL) {
            return NGX_OIDC_OK;
        }

        ngx_oidc_err_set(err, "missing record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    /* we write integers; get_time() also bounds them to what time_t holds */
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || ngx_oidc_json_get_time(obj, name, t) != NGX_OIDC_OK)
    {
        ngx_oidc_err_set(err, "invalid record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


static int
ngx_oidc_record_get_obj(json_t *obj, const char *name, json_t **value,
    int required, ngx_oidc_err_t *err)
{
    json_t  *v;

    v = json_object_get(obj, name);

    if (v == NULL) {
        if (required == NGX_OIDC_RECORD_OPTIONAL) {
            return NGX_OIDC_OK;
        }

        ngx_oidc_err_set(err, "missing record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    if (!json_is_object(v)) {
        ngx_oidc_err_set(err, "invalid record field", "%s", name);
        return NGX_OIDC_DECLINED;
    }

    *value = v;

    return NGX_OIDC_OK;
}


void
ngx_oidc_login_free(ngx_oidc_login_t *login)
{
    if (login != NULL && login->root != NULL) {
        json_decref(login->root);
        memset(login, 0, sizeof(ngx_oidc_login_t));
    }
}


void
ngx_oidc_session_free(ngx_oidc_session_t *session)
{
    if (session != NULL && session->root != NULL) {
        json_decref(session->root);
        memset(session, 0, sizeof(ngx_oidc_session_t));
    }
}
