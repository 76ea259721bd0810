
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"
#include "ngx_http_oidc_userinfo.h"

static ngx_int_t ngx_http_oidc_callback_login(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *state, ngx_oidc_login_t *login);
static ngx_int_t ngx_http_oidc_code_request(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    ngx_str_t *code);
static void ngx_http_oidc_token_done(ngx_http_oidc_http_response_t *resp,
    void *data);
static ngx_int_t ngx_http_oidc_tokens_parse(ngx_http_request_t *r,
    ngx_http_oidc_browser_t *b);
static ngx_int_t ngx_http_oidc_id_token_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    ngx_oidc_jws_t *jws);
static ngx_int_t ngx_http_oidc_return(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b);
static void ngx_http_oidc_browser_cleanup(void *data);

ngx_uint_t
ngx_http_oidc_is_callback(ngx_http_request_t *r, ngx_http_oidc_provider_t *p)
{
    u_char     *s, *last;
    ngx_str_t   path;

    path = p->redirect_uri;

    if (path.len && path.data[0] != '/') {
        /* an absolute URI: its path */
        s = ngx_strlchr(path.data, path.data + path.len, ':');
        last = path.data + path.len;

        if (s == NULL || last - s < 3) {
            return 0;
        }

        s = ngx_strlchr(s + 3, last, '/');
        if (s == NULL) {
            return 0;
        }

        path.len = last - s;
        path.data = s;
    }

    s = ngx_strlchr(path.data, path.data + path.len, '?');
    if (s != NULL) {
        path.len = s - path.data;
    }

    return r->uri.len == path.len
           && ngx_strncmp(r->uri.data, path.data, path.len) == 0;
}


/* the redirect URI: state, binding cookie, then the token request */

ngx_int_t
ngx_http_oidc_callback_start(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx)
{
    u_char                   *buf;
    size_t                    n;
    ngx_int_t                 rc;
    ngx_str_t                 state, code, error;
    ngx_oidc_err_t            err;
    ngx_oidc_param_t         *params;
    ngx_pool_cleanup_t       *cln;
    ngx_http_oidc_browser_t  *b;

    buf = ngx_pnalloc(r->pool, r->args.len + 1);
    params = ngx_palloc(r->pool,
                        NGX_OIDC_FORM_MAX_PARAMS * sizeof(ngx_oidc_param_t));
    b = ngx_pcalloc(r->pool, sizeof(ngx_http_oidc_browser_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (buf == NULL || params == NULL || b == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    b->request = r;
    cln->handler = ngx_http_oidc_browser_cleanup;
    cln->data = b;

    if (ngx_oidc_form_parse(r->args.data, r->args.len, buf, params,
                            NGX_OIDC_FORM_MAX_PARAMS, &n, &err)
        != NGX_OIDC_OK
        || ngx_oidc_form_get(params, n, "state", (ngx_oidc_str_t *) &state,
                             &err)
           != NGX_OIDC_OK
        || ngx_oidc_form_get(params, n, "code", (ngx_oidc_str_t *) &code,
                             &err)
           != NGX_OIDC_OK
        || ngx_oidc_form_get(params, n, "error", (ngx_oidc_str_t *) &error,
                             &err)
           != NGX_OIDC_OK)
    {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_REQUEST,
                             "invalid callback query: %s", err.reason);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_HTTP_OIDC_MSG_INVALID, NULL);
    }

    rc = ngx_http_oidc_callback_login(r, p, &state, &b->login);

    if (rc != NGX_OK) {
        return rc;
    }

    if (error.data != NULL) {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_PROVIDER,
                             "the provider refused the login");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        "The identity provider refused "
                                        "the login", &error);
    }

    if (code.data == NULL || code.len == 0) {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_REQUEST,
                             "callback without a code");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_HTTP_OIDC_MSG_INVALID, NULL);
    }

    ctx->browser = b;

    return ngx_http_oidc_code_request(r, p, b, &code);
}


/* the token response: the ID token checked, then the session */

ngx_int_t
ngx_http_oidc_callback_finish(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b)
{
    ngx_int_t        rc;
    json_t          *userinfo;
    const char      *id_token;
    ngx_oidc_jws_t   jws;
    ngx_oidc_err_t   err;

    if (b->tokens == NULL) {
        rc = ngx_http_oidc_tokens_parse(r, b);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    id_token = json_string_value(json_object_get(b->tokens, "id_token"));

    rc = ngx_oidc_jws_decode(&jws, (u_char *) id_token,
                             ngx_strlen(id_token), p->max_token_size, &err);

    if (rc != NGX_OIDC_OK) {
        if (rc == NGX_OIDC_ERROR) {
            return NGX_ERROR;
        }

        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_ID_TOKEN,
                             "invalid id token: %s", err.reason);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    userinfo = NULL;

    rc = ngx_http_oidc_id_token_check(r, p, b, &jws);

    if (rc == NGX_OK) {
        rc = ngx_http_oidc_userinfo(r, p, b, jws.payload, &userinfo);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_oidc_session_create(r, p, b->tokens, jws.payload,
                                          userinfo);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_oidc_return(r, p, b);
    }

    ngx_oidc_jws_free(&jws);

    return rc;
}


/*
 * The pending login of "state", if this browser holds its binding
 * cookie: taken from the store (single use), the cookie deleted.
 * NGX_OK, or what the handler returns (an error page was sent).
 */

static ngx_int_t
ngx_http_oidc_callback_login(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *state, ngx_oidc_login_t *login)
{
    ngx_int_t       rc;
    ngx_str_t       name, bind, key, value;
    ngx_oidc_err_t  err;

    if (state->data == NULL
        || !ngx_http_oidc_token_valid(state, NGX_HTTP_OIDC_STATE_LEN))
    {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_STATE,
                             "callback without a valid state");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_HTTP_OIDC_MSG_INVALID, NULL);
    }

    if (ngx_http_oidc_cookie_name(r, p, state, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_oidc_cookie_get(r, &name, &bind) != NGX_OK) {
        ngx_str_null(&bind);
        rc = NGX_DECLINED;

    } else if (ngx_http_oidc_store_key(r, p, 'l', state, &bind, &key)
               != NGX_OK)
    {
        return NGX_ERROR;

    } else {
        rc = ngx_http_oidc_store_get(r, &key, &value, 1);
    }

    /* waiting for Redis: the cookie is cleared when the phases run again */
    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (ngx_http_oidc_cookie_set(r, p, &name, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (bind.data == NULL) {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_STATE,
                             "callback without this login's browser cookie");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_HTTP_OIDC_MSG_EXPIRED, NULL);
    }

    if (rc == NGX_DECLINED) {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_STATE,
                             "unknown, used or expired login state");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_HTTP_OIDC_MSG_EXPIRED, NULL);
    }

    if (rc != NGX_OK) {
        /* NGX_HTTP_SERVICE_UNAVAILABLE (Redis), NGX_ERROR */
        return rc;
    }

    rc = ngx_oidc_login_decode(value.data, value.len, login, &err);

    if (rc != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: unreadable pending login: %s", err.reason);
        return NGX_ERROR;
    }

    /* the key holds the state's hash; the record must agree */
    if (login->state.len != state->len
        || !ngx_oidc_ct_equal(login->state.data, state->data, state->len))
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: pending login of another state");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_code_request(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b, ngx_str_t *code)
{
    ngx_str_t          redirect_uri;
    ngx_oidc_param_t   params[4];

    if (ngx_http_oidc_redirect_uri(r, p, &redirect_uri) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(params, sizeof(params));

    ngx_http_oidc_ostr_set(params[0].name, "grant_type");
    ngx_http_oidc_ostr_set(params[0].value, "authorization_code");
    ngx_http_oidc_ostr_set(params[1].name, "code");
    ngx_http_oidc_ostr(params[1].value, *code);
    ngx_http_oidc_ostr_set(params[2].name, "redirect_uri");
    ngx_http_oidc_ostr(params[2].value, redirect_uri);
    ngx_http_oidc_ostr_set(params[3].name, "code_verifier");
    params[3].value = b->login.code_verifier;

    b->http = ngx_http_oidc_token_post(r, p, NGX_HTTP_OIDC_CALL_CODE, params,
                                       4, ngx_http_oidc_token_done, b);
    if (b->http == NULL) {
        return ngx_http_oidc_error_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    b->waiting = 1;

    return NGX_AGAIN;
}


static void
ngx_http_oidc_token_done(ngx_http_oidc_http_response_t *resp, void *data)
{
    ngx_http_oidc_browser_t *b = data;

    ngx_http_request_t        *r;
    ngx_http_oidc_provider_t  *p;
    ngx_http_oidc_loc_conf_t  *olcf;

    r = b->request;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);
    p = olcf->provider;

    b->http = NULL;
    b->waiting = 0;
    b->status = ngx_http_oidc_http_keep(resp, r->pool, &b->body);

    if (resp->status == 0) {
        ngx_http_oidc_log_failure(r->connection->log, p,
                                  NGX_HTTP_OIDC_EP_TOKEN,
                                  "token request failed: %s",
                                  resp->error ? resp->error
                                              : "unknown error");
    }

    ngx_http_post_request(r, NULL);
    ngx_http_run_posted_requests(r->connection);
}


static ngx_int_t
ngx_http_oidc_tokens_parse(ngx_http_request_t *r, ngx_http_oidc_browser_t *b)
{
    json_t                    *tokens;
    const char                *code;
    ngx_str_t                  error;
    ngx_oidc_err_t             err;
    ngx_http_oidc_provider_t  *p;
    ngx_http_oidc_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);
    p = olcf->provider;

    if (b->status == 0) {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_TOKEN);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    tokens = ngx_oidc_json_parse(b->body.data, b->body.len, b->body.len,
                                 &err);

    if (b->status != NGX_HTTP_OK) {
        code = tokens ? json_string_value(json_object_get(tokens, "error"))
                      : NULL;
        error.data = (u_char *) (code ? code : "");
        error.len = ngx_strlen(error.data);

        /* invalid_grant and the like: the code; else our client or it */
        if (b->status != NGX_HTTP_BAD_REQUEST) {
            ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_TOKEN);
            ngx_http_oidc_log_failure(r->connection->log, p,
                                      NGX_HTTP_OIDC_EP_TOKEN,
                                      "token endpoint answered %ui",
                                      b->status);

        } else {
            ngx_http_oidc_refuse(r, p,
                                 NGX_HTTP_OIDC_M_LOGIN_FAILED_TOKEN,
                                 "token endpoint answered %ui",
                                 b->status);
        }

        b->tokens = tokens;

        return ngx_http_oidc_error_page(r, (b->status >= 500)
                                           ? NGX_HTTP_BAD_GATEWAY
                                           : NGX_HTTP_BAD_REQUEST,
                                        NGX_HTTP_OIDC_MSG_FAILED,
                                        error.len ? &error : NULL);
    }

    if (tokens == NULL
        || !json_is_string(json_object_get(tokens, "id_token"))
        || (json_object_get(tokens, "access_token") != NULL
            && !json_is_string(json_object_get(tokens, "access_token"))))
    {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_TOKEN);
        ngx_http_oidc_log_failure(r->connection->log, p,
                                  NGX_HTTP_OIDC_EP_TOKEN,
                                  "token response without an id token");
        if (tokens != NULL) {
            json_decref(tokens);
        }

        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    b->tokens = tokens;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_id_token_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    ngx_oidc_jws_t *jws)
{
    ngx_int_t                  rc;
    const char                *at;
    ngx_oidc_err_t             err;
    ngx_oidc_jwks_t           *jwks;
    ngx_oidc_id_token_check_t  check;

    rc = ngx_http_oidc_provider_keys(r, p, (ngx_str_t *) &jws->kid, &jwks);

    if (rc == NGX_AGAIN || rc == NGX_ERROR) {
        return rc;
    }

    if (rc != NGX_OK) {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_ID_TOKEN);
        ngx_http_oidc_log_failure(r->connection->log, p,
                                  NGX_HTTP_OIDC_EP_JWKS,
                                  "no key for the id token");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    rc = ngx_oidc_jws_verify(jws, jwks, p->algorithms, &err);

    if (rc == NGX_OIDC_OK) {
        at = json_string_value(json_object_get(b->tokens, "access_token"));

        ngx_memzero(&check, sizeof(ngx_oidc_id_token_check_t));

        ngx_http_oidc_ostr(check.issuer, p->issuer);
        ngx_http_oidc_ostr(check.client_id, p->client_id);
        check.nonce = b->login.nonce;
        check.access_token.data = (u_char *) at;
        check.access_token.len = at ? ngx_strlen(at) : 0;
        check.alg = jws->alg;
        check.now = ngx_time();
        check.leeway = p->leeway;
        check.max_age = p->max_token_age;

        rc = ngx_oidc_claims_check_id_token(jws->payload, &check, &err);
    }

    if (rc == NGX_OIDC_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OIDC_OK) {
        ngx_http_oidc_refuse(r, p, NGX_HTTP_OIDC_M_LOGIN_FAILED_ID_TOKEN,
                             "invalid id token: %s%s%s", err.reason,
                             err.detail[0] ? ", " : "", err.detail);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    return NGX_OK;
}


/* back to the page the login started from: a same-origin path only */

static ngx_int_t
ngx_http_oidc_return(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_browser_t *b)
{
    ngx_str_t       url;
    ngx_oidc_err_t  err;

    url.data = b->login.return_to.data;
    url.len = b->login.return_to.len;

    if (ngx_oidc_return_url_check(url.data, url.len, &err) != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: unsafe return url replaced by \"/\": %s",
                      err.detail);
        ngx_str_set(&url, "/");
    }

    url.data = ngx_pstrdup(r->pool, &url);
    if (url.data == NULL) {
        return NGX_ERROR;
    }

    ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_COMPLETED);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oidc: login to provider \"%V\" completed", &p->name);

    return ngx_http_oidc_redirect(r, &url);
}


static void
ngx_http_oidc_browser_cleanup(void *data)
{
    ngx_http_oidc_browser_t *b = data;

    if (b->http != NULL) {
        ngx_http_oidc_http_cancel(b->http);
        b->http = NULL;
    }

    if (b->tokens != NULL) {
        json_decref(b->tokens);
        b->tokens = NULL;
    }

    ngx_oidc_login_free(&b->login);
}
