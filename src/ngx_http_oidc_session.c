
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_userinfo.h"



/* NGX_OK: a live session, its claims and tokens in ctx; NGX_DECLINED */

ngx_int_t
ngx_http_oidc_session_load(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_ctx_t *ctx)
{
    ngx_int_t           rc;
    ngx_str_t           name, id, key, value;
    ngx_oidc_err_t      err;
    ngx_oidc_session_t  s;

    if (ngx_http_oidc_cookie_name(r, p, NULL, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_oidc_cookie_get(r, &name, &id) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (!ngx_http_oidc_token_valid(&id, NGX_HTTP_OIDC_SESSION_ID_LEN)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: malformed session cookie ignored");
        return NGX_DECLINED;
    }

    if (ngx_http_oidc_store_key(r, p, 's', &id, NULL, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_store_get(r, &key, &value, 0);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: unknown or expired session");
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_oidc_session_decode(value.data, value.len, &s, &err);

    if (rc != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: unreadable session record: %s", err.reason);
        ngx_http_oidc_store_delete(r, &key);
        return (rc == NGX_OIDC_ERROR) ? NGX_ERROR : NGX_DECLINED;
    }

    if (s.created + p->session_timeout <= ngx_time()) {
        ngx_oidc_session_free(&s);
        ngx_http_oidc_store_delete(r, &key);
        return NGX_DECLINED;
    }

    ctx->claims = ngx_http_oidc_userinfo_merge(s.claims, s.userinfo);

    ctx->token.len = s.access_token.len;
    ctx->token.data = ngx_pstrdup(r->pool, (ngx_str_t *) &s.access_token);
    ctx->id_token.len = s.id_token.len;
    ctx->id_token.data = ngx_pstrdup(r->pool, (ngx_str_t *) &s.id_token);

    ngx_oidc_session_free(&s);

    if ((ctx->token.len && ctx->token.data == NULL)
        || ctx->id_token.data == NULL || ctx->claims == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_session_create(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, json_t *tokens, json_t *claims,
    json_t *userinfo)
{
    ngx_int_t           rc;
    ngx_str_t           id, key, value, name;
    json_t             *v;
    ngx_oidc_err_t      err;
    ngx_oidc_session_t  s;

    ngx_memzero(&s, sizeof(ngx_oidc_session_t));

#define ngx_http_oidc_member(obj, m, dst)                                     \
    v = json_object_get(obj, m);                                              \
    (dst).data = (u_char *) (json_is_string(v) ? json_string_value(v) : "");  \
    (dst).len = json_is_string(v) ? json_string_length(v) : 0

    ngx_http_oidc_member(claims, "sub", s.sub);
    ngx_http_oidc_member(claims, "sid", s.sid);
    ngx_http_oidc_member(tokens, "id_token", s.id_token);
    ngx_http_oidc_member(tokens, "access_token", s.access_token);
    ngx_http_oidc_member(tokens, "refresh_token", s.refresh_token);

#undef ngx_http_oidc_member

    v = json_object_get(tokens, "expires_in");
    if (json_is_integer(v) && json_integer_value(v) > 0
        && json_integer_value(v) < 365 * 86400)
    {
        s.access_expires = ngx_time() + (time_t) json_integer_value(v);
    }

    s.created = ngx_time();
    s.last_seen = s.created;
    s.claims = claims;
    s.userinfo = userinfo;

    /* a new id on every login: no session fixation */
    if (ngx_http_oidc_random(r, NGX_OIDC_SESSION_ID_BYTES, &id) != NGX_OK
        || ngx_http_oidc_store_key(r, p, 's', &id, NULL, &key) != NGX_OK
        || ngx_http_oidc_cookie_name(r, p, NULL, &name) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_oidc_session_encode(&s, &value.data, &value.len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: session not encoded: %s",
                      err.reason ? err.reason : "no memory");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    rc = ngx_http_oidc_store_set(r, &key, &value,
                                 s.created + p->session_timeout);
    free(value.data);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: session not stored");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_oidc_cookie_set(r, p, &name, &id, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
