
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_userinfo.h"


typedef enum {
    NGX_HTTP_OIDC_USERINFO_WAIT = 0,
    NGX_HTTP_OIDC_USERINFO_DONE
} ngx_http_oidc_userinfo_state_e;


/* one login's userinfo request, in the request's pool */
typedef struct {
    ngx_http_oidc_browser_t        *browser;
    ngx_http_oidc_userinfo_state_e  state;
    ngx_uint_t                      status;     /* 0: the fetch failed */
    ngx_str_t                       body;
    json_t                         *object;
} ngx_http_oidc_userinfo_t;


static ngx_int_t ngx_http_oidc_userinfo_start(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    ngx_str_t *endpoint);
static void ngx_http_oidc_userinfo_done(ngx_http_oidc_http_response_t *resp,
    void *data);
static ngx_int_t ngx_http_oidc_userinfo_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_userinfo_t *ui,
    json_t *id_claims);
static ngx_uint_t ngx_http_oidc_userinfo_is_jwt(ngx_str_t *body);
static void ngx_http_oidc_userinfo_cleanup(void *data);


ngx_int_t
ngx_http_oidc_userinfo(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_browser_t *b, json_t *id_claims, json_t **userinfo)
{
    ngx_int_t                   rc;
    ngx_http_oidc_userinfo_t   *ui;
    ngx_http_oidc_endpoints_t  *ep;

    *userinfo = NULL;
    ui = b->userinfo;

    if (ui == NULL) {
        if (!p->userinfo) {
            return NGX_OK;
        }

        ep = ngx_http_oidc_provider_endpoints(p);

        if (ep == NULL || ep->userinfo_endpoint.len == 0) {
            /* the ID token's claims are all there is */
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oidc: provider \"%V\" has no userinfo endpoint",
                          &p->name);
            return NGX_OK;
        }

        return ngx_http_oidc_userinfo_start(r, p, b,
                                            &ep->userinfo_endpoint);
    }

    if (ui->state == NGX_HTTP_OIDC_USERINFO_WAIT) {
        return NGX_AGAIN;
    }

    if (ui->object == NULL) {
        rc = ngx_http_oidc_userinfo_check(r, p, ui, id_claims);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    *userinfo = ui->object;

    return NGX_OK;
}


json_t *
ngx_http_oidc_userinfo_merge(json_t *claims, json_t *userinfo)
{
    json_t  *merged;

    if (userinfo == NULL) {
        return json_incref(claims);
    }

    /* a shallow copy: the members are shared, not copied */
    merged = json_copy(claims);

    if (merged != NULL && json_object_update_missing(merged, userinfo) != 0) {
        json_decref(merged);
        return NULL;
    }

    return merged;
}


static ngx_int_t
ngx_http_oidc_userinfo_start(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_browser_t *b,
    ngx_str_t *endpoint)
{
    u_char                    *s;
    json_t                    *at;
    ngx_str_t                  hdr;
    ngx_pool_cleanup_t        *cln;
    ngx_http_oidc_userinfo_t  *ui;

    at = json_object_get(b->tokens, "access_token");

    if (!json_is_string(at) || json_string_length(at) == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "oidc: no access token for the userinfo endpoint of "
                      "provider \"%V\"", &p->name);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    ui = ngx_pcalloc(r->pool, sizeof(ngx_http_oidc_userinfo_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    hdr.len = sizeof("Authorization: Bearer " CRLF) - 1
              + json_string_length(at);
    hdr.data = ngx_pnalloc(r->pool, hdr.len);

    if (ui == NULL || cln == NULL || hdr.data == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_oidc_userinfo_cleanup;
    cln->data = ui;

    s = ngx_cpymem(hdr.data, "Authorization: Bearer ",
                   sizeof("Authorization: Bearer ") - 1);
    s = ngx_cpymem(s, json_string_value(at), json_string_length(at));
    *s++ = CR; *s = LF;

    ui->browser = b;

    /* b->http: the login's cleanup cancels it if the request goes away */
    b->http = ngx_http_oidc_http_get_headers(p, endpoint, &hdr,
                                             r->connection->log,
                                             ngx_http_oidc_userinfo_done, ui);
    if (b->http == NULL) {
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    b->userinfo = ui;
    b->waiting = 1;

    return NGX_AGAIN;
}


static void
ngx_http_oidc_userinfo_done(ngx_http_oidc_http_response_t *resp, void *data)
{
    ngx_http_oidc_userinfo_t *ui = data;

    ngx_http_request_t        *r;
    ngx_http_oidc_browser_t   *b;
    ngx_http_oidc_loc_conf_t  *olcf;

    b = ui->browser;
    r = b->request;

    b->http = NULL;
    b->waiting = 0;

    ui->state = NGX_HTTP_OIDC_USERINFO_DONE;
    ui->status = ngx_http_oidc_http_keep(resp, r->pool, &ui->body);

    if (resp->status == 0) {
        olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);

        ngx_http_oidc_log_failure(r->connection->log, olcf->provider,
                                  NGX_HTTP_OIDC_EP_USERINFO,
                                  "userinfo request failed: %s",
                                  resp->error ? resp->error
                                              : "unknown error");
    }

    ngx_http_post_request(r, NULL);
    ngx_http_run_posted_requests(r->connection);
}


/* a 200 with a JSON object about the same user, or no login */

static ngx_int_t
ngx_http_oidc_userinfo_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_userinfo_t *ui,
    json_t *id_claims)
{
    json_t          *obj, *sub, *id_sub;
    const char      *why;
    ngx_oidc_err_t   err;

    if (ui->status == 0) {
        /* logged when the fetch ended */
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_USERINFO);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    obj = NULL;
    why = NULL;
    ngx_memzero(&err, sizeof(ngx_oidc_err_t));

    if (ui->status != NGX_HTTP_OK) {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_USERINFO);
        ngx_http_oidc_log_failure(r->connection->log, p,
                                  NGX_HTTP_OIDC_EP_USERINFO,
                                  "userinfo endpoint answered %ui",
                                  ui->status);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    if (ngx_http_oidc_userinfo_is_jwt(&ui->body)) {
        why = "a signed or encrypted (application/jwt) answer, "
              "which is not supported";

    } else {
        obj = ngx_oidc_json_parse(ui->body.data, ui->body.len,
                                  p->max_response_size, &err);

        if (obj == NULL) {
            why = err.reason ? err.reason : "not a JSON object";
        }
    }

    if (obj != NULL) {
        sub = json_object_get(obj, "sub");
        id_sub = json_object_get(id_claims, "sub");

        /* OpenID Connect Core 5.3.2: else it may be another user's */
        if (!json_is_string(sub) || !json_is_string(id_sub)
            || !json_equal(sub, id_sub))
        {
            why = "its \"sub\" is not the id token's";
            json_decref(obj);
            obj = NULL;
        }
    }

    if (obj == NULL) {
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_LOGIN_FAILED_USERINFO);
        ngx_http_oidc_log_failure(r->connection->log, p,
                                  NGX_HTTP_OIDC_EP_USERINFO,
                                  "invalid userinfo: %s", why);
        return ngx_http_oidc_error_page(r, NGX_HTTP_BAD_GATEWAY,
                                        NGX_HTTP_OIDC_MSG_FAILED, NULL);
    }

    ui->object = obj;

    return NGX_OK;
}


/* a compact JWS or JWE instead of JSON: three or five base64url parts */

static ngx_uint_t
ngx_http_oidc_userinfo_is_jwt(ngx_str_t *body)
{
    u_char      *c, *last;
    ngx_uint_t   dots;

    last = body->data + body->len;

    while (last > body->data && (last[-1] == CR || last[-1] == LF)) {
        last--;
    }

    dots = 0;

    for (c = body->data; c < last; c++) {
        if (*c == '.') {
            dots++;

        } else if (!ngx_http_oidc_isalnum(*c) && *c != '-' && *c != '_') {
            return 0;
        }
    }

    return (dots == 2 || dots == 4);
}


static void
ngx_http_oidc_userinfo_cleanup(void *data)
{
    ngx_http_oidc_userinfo_t *ui = data;

    if (ui->object != NULL) {
        json_decref(ui->object);
        ui->object = NULL;
    }
}
