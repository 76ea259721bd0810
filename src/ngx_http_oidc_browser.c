
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"
#include "ngx_http_oidc_http.h"
#include "ngx_oidc_b64.h"
#include "ngx_oidc_cookie.h"
#include "ngx_oidc_crypto.h"
#include "ngx_oidc_record.h"
#include "ngx_oidc_url.h"


/* a pending login lives this long, and so does its binding cookie */
#define NGX_HTTP_OIDC_LOGIN_TTL       600

/* the binding cookie's name ends with this many characters of the state */
#define NGX_HTTP_OIDC_BIND_PREFIX     8

#define NGX_HTTP_OIDC_STATE_LEN                                             \
    ngx_oidc_random_token_len(NGX_OIDC_STATE_BYTES)
#define NGX_HTTP_OIDC_SESSION_ID_LEN                                        \
    ngx_oidc_random_token_len(NGX_OIDC_SESSION_ID_BYTES)
#define NGX_HTTP_OIDC_HASH_LEN                                              \
    ngx_oidc_b64url_encoded_len(NGX_OIDC_SHA256_LEN)


/* copies between ngx_str_t and ngx_oidc_str_t (same layout) */
#define ngx_http_oidc_ostr(dst, src)                                        \
    (dst).len = (src).len; (dst).data = (src).data

#define ngx_http_oidc_ostr_set(dst, text)                                   \
    (dst).len = sizeof(text) - 1; (dst).data = (u_char *) text


/* a callback in progress: the request's own, in its pool */
typedef struct {
    ngx_http_request_t           *request;
    ngx_http_oidc_http_t         *http;         /* token request in flight */
    ngx_oidc_login_t              login;        /* the pending login */
    json_t                       *tokens;       /* the token response */
    ngx_uint_t                    status;       /* of the token endpoint */
    ngx_str_t                     body;
    unsigned                      waiting:1;
} ngx_http_oidc_browser_t;


static ngx_int_t ngx_http_oidc_session_load(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);
static ngx_int_t ngx_http_oidc_login_redirect(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p);
static ngx_int_t ngx_http_oidc_login_create(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_oidc_login_t *login,
    ngx_str_t *challenge);
static ngx_int_t ngx_http_oidc_authz_url(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *endpoint,
    ngx_oidc_login_t *login, ngx_str_t *challenge, ngx_str_t *url);
static ngx_int_t ngx_http_oidc_callback_start(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_ctx_t *ctx);
static ngx_int_t ngx_http_oidc_callback_login(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *state, ngx_oidc_login_t *login);
static ngx_int_t ngx_http_oidc_token_request(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    ngx_str_t *code);
static void ngx_http_oidc_token_done(ngx_http_oidc_http_response_t *resp,
    void *data);
static ngx_int_t ngx_http_oidc_callback_finish(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b);
static ngx_int_t ngx_http_oidc_tokens_parse(ngx_http_request_t *r,
    ngx_http_oidc_browser_t *b);
static ngx_int_t ngx_http_oidc_id_token_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    ngx_oidc_jws_t *jws);
static ngx_int_t ngx_http_oidc_session_create(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    json_t *claims);
static ngx_uint_t ngx_http_oidc_is_callback(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p);
static ngx_uint_t ngx_http_oidc_is_navigation(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_oidc_header_in(ngx_http_request_t *r,
    const char *name, size_t len);
static ngx_int_t ngx_http_oidc_redirect_uri(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *uri);
static ngx_int_t ngx_http_oidc_cookie_name(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *state, ngx_str_t *name);
static ngx_int_t ngx_http_oidc_cookie_get(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_oidc_cookie_set(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *name, ngx_str_t *value,
    time_t max_age);
static ngx_int_t ngx_http_oidc_header_out(ngx_http_request_t *r,
    const char *name, ngx_str_t *value, ngx_table_elt_t **out);
static ngx_int_t ngx_http_oidc_store_key(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, u_char kind, ngx_str_t *a, ngx_str_t *b,
    ngx_str_t *key);
static ngx_uint_t ngx_http_oidc_token_valid(ngx_str_t *s, size_t len);
static ngx_int_t ngx_http_oidc_random(ngx_http_request_t *r, size_t nbytes,
    ngx_str_t *out);
static ngx_int_t ngx_http_oidc_redirect(ngx_http_request_t *r,
    ngx_str_t *url);
static ngx_int_t ngx_http_oidc_error_page(ngx_http_request_t *r,
    ngx_uint_t status, const char *text, ngx_str_t *code);
static void ngx_http_oidc_browser_cleanup(void *data);


static const char  ngx_http_oidc_msg_expired[] =
    "This login was not started in this browser, was already completed, "
    "or has expired. Please go back and try again.";

static const char  ngx_http_oidc_msg_invalid[] =
    "Invalid login callback.";

static const char  ngx_http_oidc_msg_failed[] =
    "The login could not be completed.";


ngx_int_t
ngx_http_oidc_browser_handler(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_oidc_browser_t   *b;
    ngx_http_oidc_provider_t  *p;

    p = olcf->provider;
    b = ctx->browser;

    if (b != NULL) {
        if (b->waiting) {
            return NGX_AGAIN;
        }

        return ngx_http_oidc_callback_finish(r, p, b);
    }

    if (ngx_http_oidc_is_callback(r, p)) {
        return ngx_http_oidc_callback_start(r, p, ctx);
    }

    if (r->headers_in.authorization != NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_oidc_session_load(r, p, ctx);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (!ngx_http_oidc_is_navigation(r)) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    return ngx_http_oidc_login_redirect(r, p);
}


/* NGX_OK: a live session, its claims and tokens in ctx; NGX_DECLINED */

static ngx_int_t
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

    ctx->claims = json_incref(s.claims);

    ctx->token.len = s.access_token.len;
    ctx->token.data = ngx_pstrdup(r->pool, (ngx_str_t *) &s.access_token);
    ctx->id_token.len = s.id_token.len;
    ctx->id_token.data = ngx_pstrdup(r->pool, (ngx_str_t *) &s.id_token);

    ngx_oidc_session_free(&s);

    if ((ctx->token.len && ctx->token.data == NULL)
        || ctx->id_token.data == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* no session: 302 to the authorization endpoint, the login pending */

static ngx_int_t
ngx_http_oidc_login_redirect(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p)
{
    ngx_int_t                   rc;
    ngx_str_t                   kid, challenge, url, key, value, name, bind;
    ngx_oidc_err_t              err;
    ngx_oidc_jwks_t            *jwks;
    ngx_oidc_login_t            login;
    ngx_http_oidc_endpoints_t  *ep;

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL) {
        /* the first discovery: wait for it as a token would for keys */
        ngx_str_null(&kid);

        rc = ngx_http_oidc_provider_keys(r, p, &kid, &jwks);

        if (rc == NGX_AGAIN || rc == NGX_ERROR
            || rc == NGX_HTTP_SERVICE_UNAVAILABLE)
        {
            return rc;
        }

        ep = ngx_http_oidc_provider_endpoints(p);
    }

    if (ep == NULL || ep->authorization_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: provider \"%V\" has no authorization endpoint",
                      &p->name);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_oidc_login_create(r, p, &login, &challenge) != NGX_OK
        || ngx_http_oidc_authz_url(r, p, &ep->authorization_endpoint, &login,
                                   &challenge, &url)
           != NGX_OK
        || ngx_http_oidc_random(r, NGX_OIDC_STATE_BYTES, &bind) != NGX_OK
        || ngx_http_oidc_store_key(r, p, 'l', (ngx_str_t *) &login.state,
                                   &bind, &key)
           != NGX_OK
        || ngx_http_oidc_cookie_name(r, p, (ngx_str_t *) &login.state, &name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_oidc_login_encode(&login, &value.data, &value.len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: pending login not encoded: %s",
                      err.reason ? err.reason : "no memory");
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_store_set(r, &key, &value,
                                 ngx_time() + NGX_HTTP_OIDC_LOGIN_TTL);
    free(value.data);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: pending login not stored");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_oidc_cookie_set(r, p, &name, &bind,
                                 NGX_HTTP_OIDC_LOGIN_TTL) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oidc: redirect to the authorization endpoint");

    return ngx_http_oidc_redirect(r, &url);
}


/* state, nonce, PKCE verifier (and its challenge), the URL to return to */

static ngx_int_t
ngx_http_oidc_login_create(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_oidc_login_t *login, ngx_str_t *challenge)
{
    ngx_str_t       s;
    ngx_oidc_err_t  err;

    ngx_memzero(login, sizeof(ngx_oidc_login_t));

    if (ngx_http_oidc_random(r, NGX_OIDC_STATE_BYTES, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_oidc_ostr(login->state, s);

    if (ngx_http_oidc_random(r, NGX_OIDC_NONCE_BYTES, &s) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_oidc_ostr(login->nonce, s);

    login->code_verifier.data = ngx_pnalloc(r->pool,
                                            NGX_OIDC_PKCE_VERIFIER_MIN);
    challenge->data = ngx_pnalloc(r->pool, NGX_OIDC_PKCE_CHALLENGE_LEN);

    if (login->code_verifier.data == NULL || challenge->data == NULL) {
        return NGX_ERROR;
    }

    login->code_verifier.len = NGX_OIDC_PKCE_VERIFIER_MIN;
    challenge->len = NGX_OIDC_PKCE_CHALLENGE_LEN;

    if (ngx_oidc_pkce_verifier(login->code_verifier.data, &err)
        != NGX_OIDC_OK
        || ngx_oidc_pkce_challenge(login->code_verifier.data,
                                   login->code_verifier.len,
                                   challenge->data, &err)
           != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: PKCE failed");
        return NGX_ERROR;
    }

    /* checked when used: an unsafe one sends the browser to "/" */
    if (r->unparsed_uri.len <= NGX_OIDC_RETURN_URL_MAX) {
        login->return_to.len = r->unparsed_uri.len;
        login->return_to.data = r->unparsed_uri.data;
    }

    login->created = ngx_time();

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_authz_url(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *endpoint, ngx_oidc_login_t *login, ngx_str_t *challenge,
    ngx_str_t *url)
{
    size_t            len;
    ngx_str_t         redirect_uri;
    ngx_oidc_err_t    err;
    ngx_oidc_authz_t  authz;

    if (ngx_http_oidc_redirect_uri(r, p, &redirect_uri) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&authz, sizeof(ngx_oidc_authz_t));

    ngx_http_oidc_ostr(authz.endpoint, *endpoint);
    authz.response_type.len = sizeof("code") - 1;
    authz.response_type.data = (u_char *) "code";
    ngx_http_oidc_ostr(authz.client_id, p->client_id);
    ngx_http_oidc_ostr(authz.redirect_uri, redirect_uri);
    ngx_http_oidc_ostr(authz.scope, p->scope);
    authz.state = login->state;
    authz.nonce = login->nonce;
    ngx_http_oidc_ostr(authz.code_challenge, *challenge);
    authz.code_challenge_method.len = sizeof("S256") - 1;
    authz.code_challenge_method.data = (u_char *) "S256";
    ngx_http_oidc_ostr(authz.extra, p->extra_auth_args);

    len = ngx_oidc_authz_url_len(&authz);

    url->data = ngx_pnalloc(r->pool, len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_authz_url_build(&authz, url->data, len, &url->len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: no authorization url for provider \"%V\": %s",
                      &p->name, err.reason ? err.reason : "error");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the redirect URI: state, binding cookie, then the token request */

static ngx_int_t
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
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: invalid callback query: %s", err.reason);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        ngx_http_oidc_msg_invalid, NULL);
    }

    rc = ngx_http_oidc_callback_login(r, p, &state, &b->login);

    if (rc != NGX_OK) {
        return rc;
    }

    if (error.data != NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: provider \"%V\" refused the login", &p->name);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        "The identity provider refused "
                                        "the login", &error);
    }

    if (code.data == NULL || code.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: callback without a code");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        ngx_http_oidc_msg_invalid, NULL);
    }

    ctx->browser = b;

    return ngx_http_oidc_token_request(r, p, b, &code);
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
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: callback without a valid state");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        ngx_http_oidc_msg_invalid, NULL);
    }

    if (ngx_http_oidc_cookie_name(r, p, state, &name) != NGX_OK
        || ngx_http_oidc_cookie_set(r, p, &name, NULL, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_oidc_cookie_get(r, &name, &bind) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: callback without this login's browser cookie");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        ngx_http_oidc_msg_expired, NULL);
    }

    if (ngx_http_oidc_store_key(r, p, 'l', state, &bind, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_store_get(r, &key, &value, 1);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: unknown, used or expired login state");
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        ngx_http_oidc_msg_expired, NULL);
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
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
ngx_http_oidc_token_request(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b, ngx_str_t *code)
{
    size_t                      len;
    u_char                     *s;
    ngx_str_t                   form, url, redirect_uri, cred, basic, *hdr;
    ngx_oidc_param_t            params[5];
    ngx_http_oidc_endpoints_t  *ep;

    ep = ngx_http_oidc_provider_endpoints(p);

    if (ep == NULL || ep->token_endpoint.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: provider \"%V\" has no token endpoint", &p->name);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

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
    ngx_http_oidc_ostr_set(params[4].name, "client_id");

    hdr = NULL;

    if (p->client_secret.len == 0) {
        /* a public client (PKCE) names itself in the body */
        ngx_http_oidc_ostr(params[4].value, p->client_id);

    } else {
        /* client_secret_basic: RFC 6749 2.3.1, each part form-encoded */
        len = ngx_oidc_url_escape_len(p->client_id.data, p->client_id.len,
                                      NGX_OIDC_URL_FORM)
              + 1 + ngx_oidc_url_escape_len(p->client_secret.data,
                                            p->client_secret.len,
                                            NGX_OIDC_URL_FORM);

        cred.data = ngx_pnalloc(r->pool, len);
        basic.data = ngx_pnalloc(r->pool, sizeof("Authorization: Basic ")
                                 - 1 + ngx_base64_encoded_length(len) + 2);
        if (cred.data == NULL || basic.data == NULL) {
            return NGX_ERROR;
        }

        s = cred.data;
        s += ngx_oidc_url_escape(s, p->client_id.data, p->client_id.len,
                                 NGX_OIDC_URL_FORM);
        *s++ = ':';
        s += ngx_oidc_url_escape(s, p->client_secret.data,
                                 p->client_secret.len, NGX_OIDC_URL_FORM);
        cred.len = s - cred.data;

        s = ngx_cpymem(basic.data, "Authorization: Basic ",
                       sizeof("Authorization: Basic ") - 1);
        url.data = s;
        ngx_encode_base64(&url, &cred);
        s += url.len;
        *s++ = CR; *s++ = LF;
        basic.len = s - basic.data;
        hdr = &basic;
    }

    len = ngx_oidc_form_build_len(params, 5, NGX_OIDC_URL_FORM);

    form.data = ngx_pnalloc(r->pool, len);
    url.data = ngx_pstrdup(r->pool, &ep->token_endpoint);

    if (form.data == NULL || url.data == NULL) {
        return NGX_ERROR;
    }

    form.len = ngx_oidc_form_build(form.data, params, 5, NGX_OIDC_URL_FORM);
    url.len = ep->token_endpoint.len;

    b->http = ngx_http_oidc_http_post_form(p, &url, &form, hdr,
                                           r->connection->log,
                                           ngx_http_oidc_token_done, b);
    if (b->http == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    b->waiting = 1;

    return NGX_AGAIN;
}


static void
ngx_http_oidc_token_done(ngx_http_oidc_http_response_t *resp, void *data)
{
    ngx_http_oidc_browser_t *b = data;

    ngx_http_request_t  *r;

    r = b->request;

    b->http = NULL;
    b->waiting = 0;
    b->status = resp->status;

    if (resp->status == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: token request failed: %s",
                      resp->error ? resp->error : "unknown error");

    } else {
        b->body.len = resp->body.len;
        b->body.data = ngx_pnalloc(r->pool, resp->body.len + 1);

        if (b->body.data == NULL) {
            b->status = 0;

        } else {
            ngx_memcpy(b->body.data, resp->body.data, resp->body.len);
        }
    }

    ngx_http_post_request(r, NULL);
    ngx_http_run_posted_requests(r->connection);
}


/* the token response: the ID token checked, then the session */

static ngx_int_t
ngx_http_oidc_callback_finish(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b)
{
    ngx_int_t        rc;
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

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: invalid id token from provider \"%V\": %s",
                      &p->name, err.reason);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        ngx_http_oidc_msg_failed, NULL);
    }

    rc = ngx_http_oidc_id_token_check(r, p, b, &jws);

    if (rc == NGX_OK) {
        rc = ngx_http_oidc_session_create(r, p, b, jws.payload);
    }

    ngx_oidc_jws_free(&jws);

    return rc;
}


static ngx_int_t
ngx_http_oidc_tokens_parse(ngx_http_request_t *r, ngx_http_oidc_browser_t *b)
{
    json_t          *tokens;
    const char      *code;
    ngx_str_t        error;
    ngx_oidc_err_t   err;

    if (b->status == 0) {
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        ngx_http_oidc_msg_failed, NULL);
    }

    tokens = ngx_oidc_json_parse(b->body.data, b->body.len, b->body.len,
                                 &err);

    if (b->status != NGX_HTTP_OK) {
        code = tokens ? json_string_value(json_object_get(tokens, "error"))
                      : NULL;
        error.data = (u_char *) (code ? code : "");
        error.len = ngx_strlen(error.data);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: token endpoint answered %ui", b->status);

        b->tokens = tokens;

        return ngx_http_oidc_error_page(r, (b->status >= 500)
                                           ? NGX_HTTP_BAD_GATEWAY
                                           : NGX_HTTP_BAD_REQUEST,
                                        ngx_http_oidc_msg_failed,
                                        error.len ? &error : NULL);
    }

    if (tokens == NULL
        || !json_is_string(json_object_get(tokens, "id_token"))
        || (json_object_get(tokens, "access_token") != NULL
            && !json_is_string(json_object_get(tokens, "access_token"))))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: token response without an id token");
        if (tokens != NULL) {
            json_decref(tokens);
        }

        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        ngx_http_oidc_msg_failed, NULL);
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
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: no key for the id token of provider \"%V\"",
                      &p->name);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        ngx_http_oidc_msg_failed, NULL);
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
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: invalid id token from provider \"%V\": %s%s%s",
                      &p->name, err.reason, err.detail[0] ? ", " : "",
                      err.detail);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_REQUEST,
                                        ngx_http_oidc_msg_failed, NULL);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_session_create(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b, json_t *claims)
{
    ngx_int_t           rc;
    ngx_str_t           id, key, value, name, url;
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
    ngx_http_oidc_member(b->tokens, "id_token", s.id_token);
    ngx_http_oidc_member(b->tokens, "access_token", s.access_token);
    ngx_http_oidc_member(b->tokens, "refresh_token", s.refresh_token);

#undef ngx_http_oidc_member

    v = json_object_get(b->tokens, "expires_in");
    if (json_is_integer(v) && json_integer_value(v) > 0
        && json_integer_value(v) < 365 * 86400)
    {
        s.access_expires = ngx_time() + (time_t) json_integer_value(v);
    }

    s.created = ngx_time();
    s.last_seen = s.created;
    s.claims = claims;

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
                                        ngx_http_oidc_msg_failed, NULL);
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

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "oidc: login to provider \"%V\" completed", &p->name);

    return ngx_http_oidc_redirect(r, &url);
}


static ngx_uint_t
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


/*
 * A top-level browser navigation, which may be sent to the provider:
 * GET or HEAD asking for HTML, not XHR or fetch().
 */

static ngx_uint_t
ngx_http_oidc_is_navigation(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return 0;
    }

    h = ngx_http_oidc_header_in(r, "Accept", sizeof("Accept") - 1);

    if (h == NULL
        || ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                            (u_char *) "text/html", sizeof("text/html") - 2)
           == NULL)
    {
        return 0;
    }

    h = ngx_http_oidc_header_in(r, "X-Requested-With",
                                sizeof("X-Requested-With") - 1);

    if (h != NULL
        && h->value.len == sizeof("XMLHttpRequest") - 1
        && ngx_strncasecmp(h->value.data, (u_char *) "XMLHttpRequest",
                           h->value.len) == 0)
    {
        return 0;
    }

    h = ngx_http_oidc_header_in(r, "Sec-Fetch-Mode",
                                sizeof("Sec-Fetch-Mode") - 1);

    if (h != NULL
        && !(h->value.len == sizeof("navigate") - 1
             && ngx_strncasecmp(h->value.data, (u_char *) "navigate",
                                h->value.len) == 0))
    {
        return 0;
    }

    return 1;
}


static ngx_table_elt_t *
ngx_http_oidc_header_in(ngx_http_request_t *r, const char *name, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* the configured redirect_uri; a path is made absolute on this host */

static ngx_int_t
ngx_http_oidc_redirect_uri(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *uri)
{
    u_char     *s;
    ngx_str_t   host;

    if (p->redirect_uri.data[0] != '/') {
        *uri = p->redirect_uri;
        return NGX_OK;
    }

    if (r->headers_in.host != NULL) {
        host = r->headers_in.host->value;

    } else {
        host = r->headers_in.server;
    }

    uri->data = ngx_pnalloc(r->pool, sizeof("https://") - 1 + host.len
                                     + p->redirect_uri.len);
    if (uri->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_sprintf(uri->data, "%s://%V%V",
                    r->connection->ssl ? "https" : "http", &host,
                    &p->redirect_uri);

    uri->len = s - uri->data;

    return NGX_OK;
}


/*
 * The session cookie's name ("state" NULL) or the binding cookie's of a
 * pending login: "__Host-" unless "cookie_secure off".
 */

static ngx_int_t
ngx_http_oidc_cookie_name(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *state, ngx_str_t *name)
{
    u_char  *s;

    name->data = ngx_pnalloc(r->pool, sizeof("__Host-") - 1
                             + p->cookie_name.len + 1
                             + NGX_HTTP_OIDC_BIND_PREFIX);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    s = name->data;

    if (p->cookie_secure
        && !(p->cookie_name.len >= sizeof("__Host-") - 1
             && ngx_strncasecmp(p->cookie_name.data, (u_char *) "__Host-",
                                sizeof("__Host-") - 1) == 0))
    {
        s = ngx_cpymem(s, "__Host-", sizeof("__Host-") - 1);
    }

    s = ngx_cpymem(s, p->cookie_name.data, p->cookie_name.len);

    if (state != NULL) {
        *s++ = '_';
        s = ngx_cpymem(s, state->data, NGX_HTTP_OIDC_BIND_PREFIX);
    }

    name->len = s - name->data;

    return NGX_OK;
}


/* NGX_OK when exactly one cookie has this name and a valid value */

static ngx_int_t
ngx_http_oidc_cookie_get(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    size_t            count, total;
    ngx_uint_t        i, found;
    ngx_str_t         v;
    ngx_oidc_err_t    err;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    total = 0;
    found = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Cookie") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Cookie",
                               sizeof("Cookie") - 1) != 0)
        {
            continue;
        }

        count = 0;

        if (ngx_oidc_cookie_find(h[i].value.data, h[i].value.len,
                                 (ngx_oidc_str_t *) name,
                                 (ngx_oidc_str_t *) &v, &count, &err)
            == NGX_OIDC_OK && !found)
        {
            *value = v;
            found = 1;
        }

        total += count;
    }

    if (!found || total != 1) {
        if (total > 1) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oidc: cookie \"%V\" sent %uz times, ignored",
                          name, total);
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_cookie_set(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *name, ngx_str_t *value, time_t max_age)
{
    size_t             len;
    ngx_str_t          out;
    ngx_oidc_err_t     err;
    ngx_oidc_cookie_t  c;

    ngx_memzero(&c, sizeof(ngx_oidc_cookie_t));

    ngx_http_oidc_ostr(c.name, *name);
    c.path.len = 1;
    c.path.data = (u_char *) "/";
    c.same_site = NGX_OIDC_COOKIE_SAMESITE_LAX;
    c.http_only = 1;
    c.secure = p->cookie_secure ? 1 : 0;
    c.max_age = max_age;

    /* no value: a cookie that deletes this one */
    if (value != NULL) {
        ngx_http_oidc_ostr(c.value, *value);

    } else {
        c.remove = 1;
    }

    len = ngx_oidc_cookie_build_len(&c);

    out.data = ngx_pnalloc(r->pool, len);
    if (out.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_cookie_build(&c, out.data, len, &out.len, &err)
        != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: cookie \"%V\" not built: %s", name,
                      err.reason ? err.reason : "error");
        return NGX_ERROR;
    }

    return ngx_http_oidc_header_out(r, "Set-Cookie", &out, NULL);
}


static ngx_int_t
ngx_http_oidc_header_out(ngx_http_request_t *r, const char *name,
    ngx_str_t *value, ngx_table_elt_t **out)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    if (out != NULL) {
        *out = h;
    }

    return NGX_OK;
}


/*
 * A store key that reveals no secret: kind ":" provider ":"
 * base64url(SHA-256(a NUL b)); for a pending login a is the state and
 * b the browser's binding value, so both are needed to find it.
 */

static ngx_int_t
ngx_http_oidc_store_key(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    u_char kind, ngx_str_t *a, ngx_str_t *b, ngx_str_t *key)
{
    u_char  *buf, *s;
    u_char   md[NGX_OIDC_SHA256_LEN];

    buf = ngx_pnalloc(r->pool, a->len + 1 + (b ? b->len : 0));
    key->data = ngx_pnalloc(r->pool, 2 + p->name.len + 1
                                     + NGX_HTTP_OIDC_HASH_LEN);
    if (buf == NULL || key->data == NULL) {
        return NGX_ERROR;
    }

    s = ngx_cpymem(buf, a->data, a->len);
    *s++ = '\0';

    if (b != NULL) {
        s = ngx_cpymem(s, b->data, b->len);
    }

    if (ngx_oidc_sha256(buf, s - buf, md) != NGX_OIDC_OK) {
        return NGX_ERROR;
    }

    s = key->data;
    *s++ = kind;
    *s++ = ':';
    s = ngx_cpymem(s, p->name.data, p->name.len);
    *s++ = ':';
    s += ngx_oidc_b64url_encode(s, md, sizeof(md));

    key->len = s - key->data;

    return NGX_OK;
}


/* exactly "len" base64url characters, as ngx_oidc_random_token() makes */

static ngx_uint_t
ngx_http_oidc_token_valid(ngx_str_t *s, size_t len)
{
    size_t  i;
    u_char  c;

    if (s->len != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s->data[i];

        if (!(ngx_http_oidc_isalnum(c) || c == '-' || c == '_')) {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_oidc_random(ngx_http_request_t *r, size_t nbytes, ngx_str_t *out)
{
    ngx_oidc_err_t  err;

    out->len = ngx_oidc_random_token_len(nbytes);
    out->data = ngx_pnalloc(r->pool, out->len);

    if (out->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_oidc_random_token(out->data, nbytes, &err) != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: random generator failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_redirect(ngx_http_request_t *r, ngx_str_t *url)
{
    ngx_str_t  no_store = ngx_string("no-store");

    if (ngx_http_oidc_header_out(r, "Location", url,
                                 &r->headers_out.location)
        != NGX_OK
        || ngx_http_oidc_header_out(r, "Cache-Control", &no_store, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_HTTP_MOVED_TEMPORARILY;
}


/*
 * A short text/plain page, sent here: NGX_DONE.  "code", an OAuth error
 * code from the provider or the client, is shown only when it is one
 * (RFC 6749 5.2: letters, digits, "_"), so nothing is reflected raw.
 */

static ngx_int_t
ngx_http_oidc_error_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *text, ngx_str_t *code)
{
    size_t        len, i;
    u_char       *p;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     no_store = ngx_string("no-store");
    ngx_chain_t   out;

    if (code != NULL) {
        for (i = 0; i < code->len && i < 64; i++) {
            if (!(ngx_http_oidc_isalnum(code->data[i])
                  || code->data[i] == '_'))
            {
                break;
            }
        }

        if (i == 0 || i != code->len) {
            code = NULL;
        }
    }

    len = ngx_strlen(text) + sizeof(" ().\n") + (code ? code->len : 0);

    p = ngx_pnalloc(r->pool, len);
    b = ngx_calloc_buf(r->pool);

    if (p == NULL || b == NULL) {
        return NGX_ERROR;
    }

    b->pos = p;
    b->last = (code != NULL) ? ngx_sprintf(p, "%s (%V).\n", text, code)
                             : ngx_sprintf(p, "%s\n", text);
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK
        || ngx_http_oidc_header_out(r, "Cache-Control", &no_store, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        out.buf = b;
        out.next = NULL;
        rc = ngx_http_output_filter(r, &out);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
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
