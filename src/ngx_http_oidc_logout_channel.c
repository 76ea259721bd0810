
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_logout.h"


static ngx_int_t ngx_http_oidc_backchannel_token(ngx_http_request_t *r,
    ngx_str_t *body, ngx_str_t *token);
static ngx_int_t ngx_http_oidc_backchannel_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_oidc_jws_t *jws, ngx_oidc_err_t *err);
static ngx_int_t ngx_http_oidc_backchannel_end(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, json_t *claims);
static ngx_int_t ngx_http_oidc_backchannel_refuse(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_uint_t status, const char *why,
    ngx_oidc_err_t *err);
static ngx_int_t ngx_http_oidc_frontchannel_refuse(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, const char *why);
static ngx_int_t ngx_http_oidc_logout_mark(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, const char *what, ngx_str_t *value);
static ngx_int_t ngx_http_oidc_logout_marked(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, const char *what, ngx_str_t *value,
    time_t created);


/*
 * OpenID Connect Back-Channel Logout 1.0: the provider POSTs a signed
 * logout_token; 200 once the sessions it names are ended, 400 with a
 * JSON error otherwise (2.8).
 */

ngx_int_t
ngx_http_oidc_backchannel(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_ctx_t *ctx)
{
    ngx_int_t       rc;
    ngx_str_t       body, token, empty;
    ngx_oidc_jws_t  jws;
    ngx_oidc_err_t  err;

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_oidc_backchannel_refuse(r, p, NGX_HTTP_NOT_ALLOWED,
                                                "method not allowed", NULL);
    }

    rc = ngx_http_oidc_form_body(r, NGX_HTTP_OIDC_LOGOUT_BODY_MAX, &body);

    if (rc == NGX_DONE || rc == NGX_AGAIN) {
        return rc;
    }

    if (rc == NGX_DECLINED || rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return ngx_http_oidc_backchannel_refuse(r, p, NGX_HTTP_BAD_REQUEST,
                                                "body too large or not a "
                                                "form", NULL);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_oidc_backchannel_token(r, &body, &token) != NGX_OK) {
        return ngx_http_oidc_backchannel_refuse(r, p, NGX_HTTP_BAD_REQUEST,
                                                "no logout_token", NULL);
    }

    rc = ngx_oidc_jws_decode(&jws, token.data, token.len, p->max_token_size,
                             &err);

    if (rc == NGX_OIDC_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OIDC_OK) {
        return ngx_http_oidc_backchannel_refuse(r, p, NGX_HTTP_BAD_REQUEST,
                                                "invalid logout_token",
                                                &err);
    }

    rc = ngx_http_oidc_backchannel_check(r, p, &jws, &err);

    if (rc == NGX_OK) {
        rc = ngx_http_oidc_backchannel_end(r, p, jws.payload);
    }

    ngx_oidc_jws_free(&jws);

    if (rc == NGX_DECLINED) {
        return ngx_http_oidc_backchannel_refuse(r, p, NGX_HTTP_BAD_REQUEST,
                                                "invalid logout_token",
                                                &err);
    }

    if (rc == NGX_BUSY) {
        return ngx_http_oidc_backchannel_refuse(r, p, NGX_HTTP_BAD_REQUEST,
                                                "logout_token replayed",
                                                NULL);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGOUT_BACKCHANNEL);
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oidc: back-channel logout from provider \"%V\"",
                  &p->name);

    ngx_str_set(&empty, "");

    return ngx_http_oidc_logout_send(r, NGX_HTTP_OK, "text/plain", &empty,
                                     NULL, 1);
}


/* the one "logout_token" of a form */

static ngx_int_t
ngx_http_oidc_backchannel_token(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *token)
{
    u_char            *buf;
    size_t             n;
    ngx_oidc_err_t     err;
    ngx_oidc_param_t  *params;

    buf = ngx_pnalloc(r->pool, body->len + 1);
    params = ngx_palloc(r->pool,
                        NGX_OIDC_FORM_MAX_PARAMS * sizeof(ngx_oidc_param_t));

    if (buf == NULL || params == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_form_parse(body->data, body->len, buf, params,
                            NGX_OIDC_FORM_MAX_PARAMS, &n, &err)
        != NGX_OIDC_OK
        || ngx_oidc_form_get(params, n, "logout_token",
                             (ngx_oidc_str_t *) token, &err)
           != NGX_OIDC_OK
        || token->data == NULL
        || token->len == 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Signature with the provider's keys, "typ", then the claims:
 * NGX_OK, NGX_DECLINED (err says why), NGX_AGAIN (keys being fetched:
 * the request comes back here), NGX_HTTP_SERVICE_UNAVAILABLE, NGX_ERROR.
 */

static ngx_int_t
ngx_http_oidc_backchannel_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_oidc_jws_t *jws, ngx_oidc_err_t *err)
{
    ngx_int_t                      rc;
    ngx_oidc_jwks_t               *jwks;
    ngx_oidc_logout_token_check_t  check;

    rc = ngx_http_oidc_provider_keys(r, p, (ngx_str_t *) &jws->kid, &jwks);

    if (rc == NGX_AGAIN || rc == NGX_ERROR
        || rc == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        return rc;
    }

    if (rc != NGX_OK) {
        ngx_oidc_err_set(err, "no key has the token's kid", NULL);
        return NGX_DECLINED;
    }

    rc = ngx_oidc_jws_verify(jws, jwks, p->algorithms, err);

    if (rc == NGX_OIDC_OK) {
        rc = ngx_oidc_claims_check_logout_typ(jws->header, err);
    }

    if (rc == NGX_OIDC_OK) {
        ngx_memzero(&check, sizeof(ngx_oidc_logout_token_check_t));

        ngx_http_oidc_ostr(check.issuer, p->issuer);
        ngx_http_oidc_ostr(check.client_id, p->client_id);
        check.now = ngx_time();
        check.leeway = p->leeway;
        check.max_age = NGX_HTTP_OIDC_LOGOUT_TOKEN_AGE;

        rc = ngx_oidc_claims_check_logout_token(jws->payload, &check, err);
    }

    if (rc == NGX_OIDC_ERROR) {
        return NGX_ERROR;
    }

    return (rc == NGX_OIDC_OK) ? NGX_OK : NGX_DECLINED;
}


/*
 * A verified token: its jti is single use (NGX_BUSY: seen), then the
 * sessions of its sid, or without one of its sub, are ended.
 */

static ngx_int_t
ngx_http_oidc_backchannel_end(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, json_t *claims)
{
    json_t     *v;
    ngx_int_t   rc;
    ngx_str_t   jti, key, value, sub;

    v = json_object_get(claims, "jti");
    jti.data = (u_char *) json_string_value(v);
    jti.len = json_string_length(v);

    if (ngx_http_oidc_store_key(r, p, 'j', &jti, NULL, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&value, "1");

    /* past this, "iat" is too old for the token to pass anyway */
    rc = ngx_http_oidc_store_insert(r, &key, &value,
                                    ngx_time() + NGX_HTTP_OIDC_LOGOUT_TOKEN_AGE
                                    + 2 * p->leeway + 1);

    if (rc == NGX_BUSY || rc == NGX_AGAIN) {
        return rc;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: logout_token jti not stored");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    v = json_object_get(claims, "sid");

    if (v != NULL) {
        sub.data = (u_char *) json_string_value(v);
        sub.len = json_string_length(v);

        return ngx_http_oidc_logout_mark(r, p, "sid", &sub);
    }

    v = json_object_get(claims, "sub");
    sub.data = (u_char *) json_string_value(v);
    sub.len = json_string_length(v);

    return ngx_http_oidc_logout_mark(r, p, "sub", &sub);
}


/* one log line, and a JSON error (2.8); never the token */

static ngx_int_t
ngx_http_oidc_backchannel_refuse(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_uint_t status, const char *why,
    ngx_oidc_err_t *err)
{
    u_char     *s;
    size_t      len;
    ngx_str_t   body, allow = ngx_string("POST");

    ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGOUT_BACKCHANNEL_REFUSED,
                         "back-channel logout refused: %s%s%s%s%s", why,
                         (err && err->reason) ? ": " : "",
                         (err && err->reason) ? err->reason : "",
                         (err && err->reason && err->detail[0]) ? ", " : "",
                         (err && err->reason) ? err->detail : "");

    if (status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_oidc_header_out(r, "Allow", &allow, NULL) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* "why" is one of our own strings: nothing to escape */
    len = sizeof("{\"error\":\"invalid_request\","
                 "\"error_description\":\"\"}") - 1 + ngx_strlen(why);

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_sprintf(body.data, "{\"error\":\"invalid_request\","
                               "\"error_description\":\"%s\"}", why);
    body.len = s - body.data;

    return ngx_http_oidc_logout_send(r, status, "application/json", &body,
                                     NULL, 1);
}


/*
 * OpenID Connect Front-Channel Logout 1.0: the provider loads this in
 * an iframe, with "iss" and "sid" (both or neither).  Without them the
 * session of the cookie ends, when the browser sends it (SameSite=Lax
 * cookies do not go to a cross-site iframe).  Framing stays allowed.
 */

ngx_int_t
ngx_http_oidc_frontchannel(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_ctx_t *ctx)
{
    u_char            *buf;
    size_t             n;
    ngx_int_t          rc;
    ngx_str_t          iss, sid, key, id, name, page, csp;
    ngx_oidc_err_t     err;
    ngx_oidc_param_t  *params;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    buf = ngx_pnalloc(r->pool, r->args.len + 1);
    params = ngx_palloc(r->pool,
                        NGX_OIDC_FORM_MAX_PARAMS * sizeof(ngx_oidc_param_t));

    if (buf == NULL || params == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_form_parse(r->args.data, r->args.len, buf, params,
                            NGX_OIDC_FORM_MAX_PARAMS, &n, &err)
        != NGX_OIDC_OK
        || ngx_oidc_form_get(params, n, "iss", (ngx_oidc_str_t *) &iss, &err)
           != NGX_OIDC_OK
        || ngx_oidc_form_get(params, n, "sid", (ngx_oidc_str_t *) &sid, &err)
           != NGX_OIDC_OK)
    {
        return ngx_http_oidc_frontchannel_refuse(r, p, "invalid query");
    }

    if (iss.data != NULL || sid.data != NULL) {

        if (iss.data == NULL || sid.data == NULL || sid.len == 0) {
            return ngx_http_oidc_frontchannel_refuse(r, p, "iss without sid "
                                                     "or sid without iss");
        }

        if (iss.len != p->issuer.len
            || ngx_strncmp(iss.data, p->issuer.data, iss.len) != 0)
        {
            return ngx_http_oidc_frontchannel_refuse(r, p,
                                                     "issuer mismatch");
        }

        if (ngx_http_oidc_logout_mark(r, p, "sid", &sid) != NGX_OK) {
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }

    } else {
        rc = ngx_http_oidc_logout_session(r, p, &key, &id, NULL);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            ngx_http_oidc_store_delete(r, &key);
            ngx_http_oidc_store_changed(r);

            if (ngx_http_oidc_cookie_name(r, p, NULL, &name) != NGX_OK
                || ngx_http_oidc_cookie_set(r, p, &name, NULL, 0) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGOUT_FRONTCHANNEL);
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oidc: front-channel logout from provider \"%V\"",
                  &p->name);

    ngx_str_set(&page, "<!DOCTYPE html>\n<title>Signed out</title>\n"
                       "<p>Signed out.</p>\n");
    ngx_str_set(&csp, "default-src 'none'");

    return ngx_http_oidc_logout_send(r, NGX_HTTP_OK,
                                     "text/html; charset=utf-8", &page, &csp,
                                     0);
}


static ngx_int_t
ngx_http_oidc_frontchannel_refuse(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, const char *why)
{
    ngx_str_t  page;

    ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGOUT_FRONTCHANNEL_REFUSED,
                         "front-channel logout refused: %s", why);

    ngx_str_set(&page, "Invalid logout request.\n");

    return ngx_http_oidc_logout_send(r, NGX_HTTP_BAD_REQUEST,
                                     "text/plain; charset=utf-8", &page,
                                     NULL, 0);
}


/*
 * A logout at the provider of every session of this sid or sub: a
 * marker holding the time, kept as long as such a session can live.
 */

static ngx_int_t
ngx_http_oidc_logout_mark(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    const char *what, ngx_str_t *value)
{
    u_char     buf[NGX_TIME_T_LEN];
    ngx_str_t  name, key, v;

    name.data = (u_char *) what;
    name.len = ngx_strlen(what);

    if (ngx_http_oidc_store_key(r, p, 'x', &name, value, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    v.data = buf;
    v.len = ngx_sprintf(buf, "%T", ngx_time()) - buf;

    if (ngx_http_oidc_store_set(r, &key, &v, ngx_time() + p->session_timeout)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: logout of provider \"%V\" not stored",
                      &p->name);
        return NGX_ERROR;
    }

    ngx_http_oidc_store_changed(r);

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_logout_ended(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_oidc_session_t *s)
{
    ngx_int_t    rc, sub;
    const char  *by;

    rc = ngx_http_oidc_logout_marked(r, p, "sid", (ngx_str_t *) &s->sid,
                                     s->created);
    by = "sid";

    if (rc == NGX_DECLINED || rc == NGX_AGAIN) {
        /* with Redis both reads are sent at once: one wait, not two */
        sub = ngx_http_oidc_logout_marked(r, p, "sub", (ngx_str_t *) &s->sub,
                                          s->created);

        if (rc == NGX_DECLINED) {
            rc = sub;
            by = "sub";
        }
    }

    if (rc == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: session ended by a logout at provider \"%V\" "
                      "(by %s)", &p->name, by);
    }

    return rc;
}


/*
 * Seconds only: a session created in the second of a logout counts as
 * ended (a login right after a logout by sub may have to be repeated)
 */

static ngx_int_t
ngx_http_oidc_logout_marked(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, const char *what, ngx_str_t *value,
    time_t created)
{
    time_t     t;
    ngx_int_t  rc;
    ngx_str_t  name, key, v;

    if (value->len == 0) {
        return NGX_DECLINED;
    }

    name.data = (u_char *) what;
    name.len = ngx_strlen(what);

    if (ngx_http_oidc_store_key(r, p, 'x', &name, value, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_store_get(r, &key, &v, 0);

    if (rc != NGX_OK) {
        /* also NGX_AGAIN and NGX_HTTP_SERVICE_UNAVAILABLE (Redis) */
        return rc;
    }

    /* ours, but unreadable: the session is refused all the same */
    t = ngx_atotm(v.data, v.len);

    if (t != NGX_ERROR && t < created) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}

