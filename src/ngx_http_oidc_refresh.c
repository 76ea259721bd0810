
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"
#include "ngx_http_oidc_logout.h"
#include "ngx_oidc_tokens.h"


/* how often a request waiting for another one's renewal looks again */
#define NGX_HTTP_OIDC_REFRESH_POLL    75


typedef enum {
    NGX_HTTP_OIDC_REFRESH_FETCH = 0,    /* our grant is in flight */
    NGX_HTTP_OIDC_REFRESH_START,        /* the store answers later */
    NGX_HTTP_OIDC_REFRESH_ANSWER,       /* its answer is to be used */
    NGX_HTTP_OIDC_REFRESH_WAIT,         /* another request renews */
    NGX_HTTP_OIDC_REFRESH_WAITED,       /* it ended, or our wait did */
    NGX_HTTP_OIDC_REFRESH_DONE          /* one renewal per request */
} ngx_http_oidc_refresh_state_e;


/* a renewal or a wait for one: the request's own, in its pool */
typedef struct {
    ngx_http_request_t             *request;
    ngx_http_oidc_http_t           *http;       /* the grant in flight */
    ngx_str_t                       lock;       /* its store key */
    ngx_uint_t                      status;     /* of the token endpoint */
    ngx_str_t                       body;
    ngx_event_t                     poll;       /* a waiter's timer */
    ngx_msec_t                      deadline;   /* of a wait */
    ngx_http_oidc_refresh_state_e   state;
    ngx_uint_t                      level;      /* of the outcome's line */
    u_char                          why[160];   /* the outcome, no token */
    unsigned                        locked:1;
    unsigned                        backoff:1;  /* found the lock backing off */
} ngx_http_oidc_refresh_t;


static ngx_http_oidc_refresh_t *ngx_http_oidc_refresh_find(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_oidc_refresh_start(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf, ngx_str_t *key,
    ngx_oidc_session_t *s, ngx_uint_t valid);
static ngx_int_t ngx_http_oidc_refresh_reread(ngx_http_request_t *r,
    ngx_str_t *key, ngx_oidc_session_t *s);
static void ngx_http_oidc_refresh_done(ngx_http_oidc_http_response_t *resp,
    void *data);
static void ngx_http_oidc_refresh_poll_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_oidc_refresh_finish(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf, ngx_str_t *key,
    ngx_oidc_session_t *s);
static ngx_int_t ngx_http_oidc_refresh_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf,
    json_t **response, ngx_oidc_tokens_t *t);
static ngx_int_t ngx_http_oidc_refresh_id_token(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf,
    ngx_oidc_session_t *s, ngx_oidc_tokens_t *t, ngx_oidc_jws_t *jws);
static ngx_int_t ngx_http_oidc_refresh_store(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf, ngx_str_t *key,
    ngx_oidc_session_t *s, ngx_oidc_tokens_t *t, json_t *claims,
    json_t *response);
static void ngx_http_oidc_refresh_refusal(ngx_http_oidc_refresh_t *rf);
static void ngx_http_oidc_refresh_end(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *key);
static void ngx_http_oidc_refresh_why(ngx_http_oidc_refresh_t *rf,
    ngx_uint_t level, const char *fmt, ...);
static void ngx_http_oidc_refresh_unlock(ngx_http_oidc_refresh_t *rf);
static void ngx_http_oidc_refresh_back_off(ngx_http_oidc_refresh_t *rf,
    ngx_http_oidc_provider_t *p);
static ngx_int_t ngx_http_oidc_refresh_unavailable(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p);
static void ngx_http_oidc_refresh_cleanup(void *data);


/* the lock's value: a renewal in flight, or the pause after a failed one */
static ngx_str_t  ngx_http_oidc_refresh_renewing = ngx_string("1");
static ngx_str_t  ngx_http_oidc_refresh_pausing = ngx_string("b");


/*
 * A session whose access token expires within "refresh_before" is
 * renewed once per request, by one request at a time across workers
 * (a lock in the store that expires by itself); see the header.
 */

ngx_int_t
ngx_http_oidc_refresh(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *key, ngx_oidc_session_t *s)
{
    time_t                    now;
    ngx_uint_t                valid;
    ngx_pool_cleanup_t       *cln;
    ngx_http_oidc_refresh_t  *rf;

    now = ngx_time();
    valid = (s->access_expires == 0 || s->access_expires > now);

    rf = ngx_http_oidc_refresh_find(r);

    if (rf == NULL) {
        if (p->refresh_before == 0
            || s->refresh_token.len == 0
            || s->access_expires == 0
            || s->access_expires - p->refresh_before > now)
        {
            return NGX_OK;
        }

        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_oidc_refresh_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        rf = cln->data;
        ngx_memzero(rf, sizeof(ngx_http_oidc_refresh_t));

        rf->request = r;
        rf->state = NGX_HTTP_OIDC_REFRESH_DONE;
        rf->poll.handler = ngx_http_oidc_refresh_poll_handler;
        rf->poll.data = rf;
        rf->poll.log = r->connection->log;

        cln->handler = ngx_http_oidc_refresh_cleanup;

        return ngx_http_oidc_refresh_start(r, p, rf, key, s, valid);
    }

    switch (rf->state) {

    case NGX_HTTP_OIDC_REFRESH_START:
        return ngx_http_oidc_refresh_start(r, p, rf, key, s, valid);

    case NGX_HTTP_OIDC_REFRESH_FETCH:
    case NGX_HTTP_OIDC_REFRESH_WAIT:
        return NGX_AGAIN;

    case NGX_HTTP_OIDC_REFRESH_ANSWER:
        return ngx_http_oidc_refresh_finish(r, p, rf, key, s);

    case NGX_HTTP_OIDC_REFRESH_WAITED:
        rf->state = NGX_HTTP_OIDC_REFRESH_DONE;

        if (valid) {
            return NGX_OK;
        }

        if (rf->backoff) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "oidc: session renewal at provider \"%V\" failed "
                          "a moment ago and the access token has expired, "
                          "answering 503", &p->name);

        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oidc: no renewed session from provider \"%V\" "
                          "and the access token has expired, answering 503",
                          &p->name);
        }

        return ngx_http_oidc_refresh_unavailable(r, p);

    default: /* NGX_HTTP_OIDC_REFRESH_DONE: e.g. after a redirect */
        return valid ? NGX_OK : NGX_HTTP_SERVICE_UNAVAILABLE;
    }
}


void
ngx_http_oidc_refresh_abandon(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p)
{
    json_t                   *response;
    ngx_oidc_tokens_t         t;
    ngx_http_oidc_refresh_t  *rf;

    rf = ngx_http_oidc_refresh_find(r);

    if (rf == NULL || rf->state != NGX_HTTP_OIDC_REFRESH_ANSWER) {
        return;
    }

    rf->state = NGX_HTTP_OIDC_REFRESH_DONE;
    ngx_http_oidc_refresh_unlock(rf);

    response = NULL;

    if (ngx_http_oidc_refresh_check(r, p, rf, &response, &t) == NGX_OK
        && t.refresh_token.len)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: session ended during its renewal at provider "
                      "\"%V\", the new refresh token is revoked", &p->name);

        ngx_http_oidc_logout_revoke(r, p, (ngx_str_t *) &t.refresh_token);
    }

    if (response != NULL) {
        json_decref(response);
    }
}


/* the request's renewal, found among its pool cleanups */

static ngx_http_oidc_refresh_t *
ngx_http_oidc_refresh_find(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_oidc_refresh_t  *rf;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {

        if (cln->handler != ngx_http_oidc_refresh_cleanup) {
            continue;
        }

        rf = cln->data;

        if (rf->request == r) {
            return rf;
        }
    }

    return NULL;
}


/*
 * The lock taken: the refresh token grant is sent.  Another request
 * renewing: a valid access token is used at once, an expired one waits.
 */

static ngx_int_t
ngx_http_oidc_refresh_start(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf, ngx_str_t *key,
    ngx_oidc_session_t *s, ngx_uint_t valid)
{
    time_t            ttl;
    ngx_int_t         rc;
    ngx_oidc_param_t  params[2];

    /* outlives our fetch, which cannot take longer than both timeouts */
    ttl = (time_t) ((p->connect_timeout + p->read_timeout) / 1000) + 2;

    if (ngx_http_oidc_store_key(r, p, 'r', key, NULL, &rf->lock) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_oidc_store_insert(r, &rf->lock,
                                    &ngx_http_oidc_refresh_renewing,
                                    ngx_time() + ttl);

    if (rc == NGX_AGAIN) {
        /* Redis: the phases run again, and so does this */
        rf->state = NGX_HTTP_OIDC_REFRESH_START;
        return NGX_AGAIN;
    }

    rf->state = NGX_HTTP_OIDC_REFRESH_DONE;

    if (rc == NGX_BUSY) {
        if (valid) {
            return NGX_OK;
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oidc: waiting for another request's renewal");

        rf->state = NGX_HTTP_OIDC_REFRESH_WAIT;
        rf->deadline = ngx_current_msec + (ngx_msec_t) ttl * 1000;
        ngx_add_timer(&rf->poll, NGX_HTTP_OIDC_REFRESH_POLL);

        return NGX_AGAIN;
    }

    if (rc == NGX_OK) {
        rf->locked = 1;

        rc = ngx_http_oidc_refresh_reread(r, key, s);

        if (rc == NGX_AGAIN) {
            rf->state = NGX_HTTP_OIDC_REFRESH_START;
            return NGX_AGAIN;
        }

        if (rc != NGX_DONE) {
            /* renewed or ended since it was read: nothing to do */
            ngx_http_oidc_refresh_unlock(rf);
            return rc;
        }

        ngx_memzero(params, sizeof(params));

        ngx_http_oidc_ostr_set(params[0].name, "grant_type");
        ngx_http_oidc_ostr_set(params[0].value, "refresh_token");
        ngx_http_oidc_ostr_set(params[1].name, "refresh_token");
        params[1].value = s->refresh_token;

        rf->http = ngx_http_oidc_token_post(r, p, NGX_HTTP_OIDC_CALL_REFRESH,
                                            params, 2,
                                            ngx_http_oidc_refresh_done, rf);
        if (rf->http != NULL) {
            rf->state = NGX_HTTP_OIDC_REFRESH_FETCH;
            return NGX_AGAIN;
        }

        ngx_http_oidc_refresh_unlock(rf);

    } else if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* NGX_HTTP_SERVICE_UNAVAILABLE from Redis, or no grant sent */
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "oidc: session renewal at provider \"%V\" not started%s",
                  &p->name, valid ? "" : ", answering 503");

    return valid ? NGX_OK : NGX_HTTP_SERVICE_UNAVAILABLE;
}


/*
 * The record read again under the lock, as another worker may have
 * renewed it (and used a rotated refresh token) between our read and
 * the lock: NGX_DONE, unchanged, to be renewed; NGX_OK, *s replaced by
 * the renewed record; NGX_DECLINED, gone; NGX_AGAIN (Redis: read
 * again when the phases run again), NGX_HTTP_SERVICE_UNAVAILABLE,
 * NGX_ERROR.
 */

static ngx_int_t
ngx_http_oidc_refresh_reread(ngx_http_request_t *r, ngx_str_t *key,
    ngx_oidc_session_t *s)
{
    ngx_int_t           rc;
    ngx_str_t           value;
    ngx_oidc_err_t      err;
    ngx_oidc_session_t  fresh;

    rc = ngx_http_oidc_store_get(r, key, &value,
                                 NGX_HTTP_OIDC_STORE_GET_FRESH);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_oidc_session_decode(value.data, value.len, &fresh, &err)
        != NGX_OIDC_OK)
    {
        return NGX_ERROR;
    }

    if (fresh.access_expires == s->access_expires
        && fresh.refresh_token.len == s->refresh_token.len
        && ngx_memcmp(fresh.refresh_token.data, s->refresh_token.data,
                      s->refresh_token.len) == 0)
    {
        ngx_oidc_session_free(&fresh);
        return NGX_DONE;
    }

    ngx_oidc_session_free(s);
    *s = fresh;

    return NGX_OK;
}


static void
ngx_http_oidc_refresh_done(ngx_http_oidc_http_response_t *resp, void *data)
{
    ngx_http_oidc_refresh_t *rf = data;

    ngx_http_request_t  *r;

    r = rf->request;

    rf->http = NULL;
    rf->state = NGX_HTTP_OIDC_REFRESH_ANSWER;
    rf->status = ngx_http_oidc_http_keep(resp, r->pool, &rf->body);

    if (rf->status == 0) {
        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "%s",
                                  resp->error ? resp->error : "no memory");
    }

    ngx_http_post_request(r, NULL);
    ngx_http_run_posted_requests(r->connection);
}


/* the lock gone (renewal over) or the wait too long: resumed */

static void
ngx_http_oidc_refresh_poll_handler(ngx_event_t *ev)
{
    ngx_int_t                 rc;
    ngx_str_t                 value;
    ngx_http_request_t       *r;
    ngx_http_oidc_refresh_t  *rf;

    rf = ev->data;
    r = rf->request;

    /* Redis: NGX_AGAIN now, the outcome at the next look */
    rc = ngx_http_oidc_store_get(r, &rf->lock, &value,
                                 NGX_HTTP_OIDC_STORE_GET_FRESH);

    /* the renewal failed and the next is not due yet: no use waiting */
    rf->backoff = (rc == NGX_OK
                   && value.len == ngx_http_oidc_refresh_pausing.len
                   && ngx_memcmp(value.data, ngx_http_oidc_refresh_pausing.data,
                                 value.len) == 0);

    if ((rc == NGX_OK || rc == NGX_AGAIN) && !rf->backoff
        && (ngx_msec_int_t) (rf->deadline - ngx_current_msec) > 0)
    {
        ngx_add_timer(ev, NGX_HTTP_OIDC_REFRESH_POLL);
        return;
    }

    rf->state = NGX_HTTP_OIDC_REFRESH_WAITED;

    /* Redis: the session the phases read again is the renewed one */
    ngx_http_oidc_store_forget(r);

    ngx_http_post_request(r, NULL);
    ngx_http_run_posted_requests(r->connection);
}


/* the answer used: one log line per outcome, the lock released */

static ngx_int_t
ngx_http_oidc_refresh_finish(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf, ngx_str_t *key,
    ngx_oidc_session_t *s)
{
    json_t             *response;
    ngx_int_t           rc;
    ngx_uint_t          valid;
    ngx_oidc_jws_t      jws;
    ngx_oidc_tokens_t   t;

    response = NULL;
    ngx_memzero(&jws, sizeof(ngx_oidc_jws_t));

    rc = ngx_http_oidc_refresh_check(r, p, rf, &response, &t);

    if (rc == NGX_OK && t.id_token.len) {
        rc = ngx_http_oidc_refresh_id_token(r, p, rf, s, &t, &jws);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_oidc_refresh_store(r, p, rf, key, s, &t, jws.payload,
                                         response);
    }

    ngx_oidc_jws_free(&jws);

    if (response != NULL) {
        json_decref(response);
    }

    if (rc == NGX_AGAIN) {
        /* the provider's keys, or Redis's answer: called again then */
        return NGX_AGAIN;
    }

    rf->state = NGX_HTTP_OIDC_REFRESH_DONE;

    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_http_oidc_refresh_back_off(rf, p);

    } else {
        ngx_http_oidc_refresh_unlock(rf);
    }

    valid = (s->access_expires == 0 || s->access_expires > ngx_time());

    switch (rc) {

    case NGX_OK:
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_SESSION_RENEWED);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "oidc: session renewed at provider \"%V\"", &p->name);
        return NGX_OK;

    case NGX_DECLINED:
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_SESSION_RENEWAL_FAILED);
        ngx_log_error(rf->level, r->connection->log, 0,
                      "oidc: session renewal at provider \"%V\" refused "
                      "(%s), session ended", &p->name, rf->why);

        ngx_http_oidc_refresh_end(r, p, key);

        return NGX_DECLINED;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_SESSION_RENEWAL_FAILED);
        ngx_http_oidc_log_failure(r->connection->log, p,
                                  NGX_HTTP_OIDC_EP_TOKEN,
                                  "session renewal failed (%s), %s, "
                                  "retried after %T s", rf->why,
                                  valid ? "the current access token is used"
                                        : "answering 503",
                                  p->refresh_backoff);

        return valid ? NGX_OK : ngx_http_oidc_refresh_unavailable(r, p);

    default:
        return NGX_ERROR;
    }
}


/*
 * NGX_OK (*t from *response, which the caller releases);
 * NGX_DECLINED: the provider refused or broke the protocol, the
 * session ends; NGX_HTTP_SERVICE_UNAVAILABLE: the provider failed, a
 * later request may retry.  rf->why says which.
 */

static ngx_int_t
ngx_http_oidc_refresh_check(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf,
    json_t **response, ngx_oidc_tokens_t *t)
{
    ngx_oidc_err_t  err;

    if (rf->status == 0) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (rf->status != NGX_HTTP_OK) {
        /* RFC 6749 5.2: a refused grant is a 4xx, mostly invalid_grant */
        if (rf->status >= 400 && rf->status < 500
            && rf->status != NGX_HTTP_REQUEST_TIME_OUT
            && rf->status != NGX_HTTP_TOO_MANY_REQUESTS)
        {
            ngx_http_oidc_refresh_refusal(rf);
            return NGX_DECLINED;
        }

        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "status %ui", rf->status);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    *response = ngx_oidc_json_parse(rf->body.data, rf->body.len,
                                    rf->body.len, &err);

    if (*response == NULL) {
        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "unusable answer: %s",
                                  err.reason);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /* a well-formed answer breaking the protocol: the grant was used */
    if (ngx_oidc_tokens_parse(*response, t, &err) != NGX_OIDC_OK) {
        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "%s", err.reason);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* as at login (OIDC Core 12.2), without a nonce, and of the same sub */

static ngx_int_t
ngx_http_oidc_refresh_id_token(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf,
    ngx_oidc_session_t *s, ngx_oidc_tokens_t *t, ngx_oidc_jws_t *jws)
{
    json_t                    *sub;
    ngx_int_t                  rc;
    ngx_oidc_err_t             err;
    ngx_oidc_jwks_t           *jwks;
    ngx_oidc_id_token_check_t  check;

    rc = ngx_oidc_jws_decode(jws, t->id_token.data, t->id_token.len,
                             p->max_token_size, &err);

    if (rc == NGX_OIDC_OK) {
        rc = ngx_http_oidc_provider_keys(r, p, (ngx_str_t *) &jws->kid,
                                         &jwks);

        if (rc == NGX_AGAIN || rc == NGX_ERROR) {
            return rc;
        }

        if (rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
            ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "no keys");
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }

        if (rc != NGX_OK) {
            ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR,
                                      "no key for the id token");
            return NGX_DECLINED;
        }

        rc = ngx_oidc_jws_verify(jws, jwks, p->algorithms, &err);
    }

    if (rc == NGX_OIDC_OK) {
        ngx_memzero(&check, sizeof(ngx_oidc_id_token_check_t));

        ngx_http_oidc_ostr(check.issuer, p->issuer);
        ngx_http_oidc_ostr(check.client_id, p->client_id);
        check.access_token = t->access_token;
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
        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "invalid id token: %s%s%s",
                                  err.reason, err.detail[0] ? ", " : "",
                                  err.detail);
        return NGX_DECLINED;
    }

    sub = json_object_get(jws->payload, "sub");

    if (!json_is_string(sub)
        || json_string_length(sub) != s->sub.len
        || ngx_memcmp(json_string_value(sub), s->sub.data, s->sub.len) != 0)
    {
        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR,
                                  "id token of another subject");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The renewed record under the same id, expiring when the session
 * would have; *s then holds it (the request uses the new tokens).
 */

static ngx_int_t
ngx_http_oidc_refresh_store(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_refresh_t *rf, ngx_str_t *key,
    ngx_oidc_session_t *s, ngx_oidc_tokens_t *t, json_t *claims,
    json_t *response)
{
    json_t             *extras;
    time_t              now, expires;
    ngx_int_t           rc;
    ngx_str_t           value;
    ngx_oidc_err_t      err;
    ngx_oidc_session_t  n;

    now = ngx_time();

    n = *s;
    n.root = NULL;
    n.access_token = t->access_token;
    n.access_expires = t->expires_in ? now + t->expires_in : 0;
    n.last_seen = now;

    /* a rotated refresh token replaces the old one */
    if (t->refresh_token.len) {
        n.refresh_token = t->refresh_token;
    }

    if (t->id_token.len) {
        n.id_token = t->id_token;
        n.claims = claims;
    }

    /* a renewal's own extra members (a narrower "scope") replace them */
    extras = ngx_oidc_tokens_extras(response);

    if (extras != NULL) {
        n.response = extras;
    }

    rc = ngx_oidc_session_encode(&n, &value.data, &value.len, &err);

    if (extras != NULL) {
        json_decref(extras);
    }

    if (rc != NGX_OIDC_OK) {
        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "not encoded: %s",
                                  err.reason ? err.reason : "no memory");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    expires = s->created + p->session_timeout;

    if (p->session_idle_timeout) {
        expires = ngx_min(expires, now + p->session_idle_timeout);
    }

    /* a logout meanwhile deleted it: not brought back */
    rc = ngx_http_oidc_store_replace(r, key, &value, expires);

    if (rc == NGX_ABORT) {
        free(value.data);
        ngx_http_oidc_refresh_why(rf, NGX_LOG_INFO,
                                  "session ended during the renewal");

        /* the logout revoked the old one; nobody will use the new one */
        if (t->refresh_token.len) {
            ngx_http_oidc_logout_revoke(r, p,
                                        (ngx_str_t *) &t->refresh_token);
        }

        return NGX_DECLINED;
    }

    if (rc == NGX_AGAIN) {
        /* Redis: all of this again when the phases run again */
        free(value.data);
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        free(value.data);
        ngx_http_oidc_refresh_why(rf, NGX_LOG_ERR, "not stored");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /* workers holding the old tokens in their cache drop them */
    ngx_http_oidc_store_changed(r);

    ngx_oidc_session_free(s);

    rc = ngx_oidc_session_decode(value.data, value.len, s, &err);
    free(value.data);

    if (rc != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oidc: renewed session unreadable: %s", err.reason);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* rf->why: the status and the OAuth error code, when it is printable */

static void
ngx_http_oidc_refresh_refusal(ngx_http_oidc_refresh_t *rf)
{
    size_t           i, len;
    json_t          *j;
    const char      *code;
    ngx_oidc_err_t   err;

    j = ngx_oidc_json_parse(rf->body.data, rf->body.len, rf->body.len, &err);

    code = j ? json_string_value(json_object_get(j, "error")) : NULL;
    len = code ? ngx_strlen(code) : 0;

    /* RFC 6749 5.2: %x20-21 / %x23-5B / %x5D-7E */
    for (i = 0; i < len && i < 64; i++) {
        if (code[i] < 0x20 || code[i] > 0x7e || code[i] == '"'
            || code[i] == '\\')
        {
            break;
        }
    }

    if (len > 0 && i == len) {
        ngx_http_oidc_refresh_why(rf, NGX_LOG_INFO, "status %ui, %s",
                                  rf->status, code);

    } else {
        ngx_http_oidc_refresh_why(rf, NGX_LOG_INFO, "status %ui",
                                  rf->status);
    }

    if (j != NULL) {
        json_decref(j);
    }
}


/* the session ends: its record deleted, its cookie cleared */

static void
ngx_http_oidc_refresh_end(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_str_t *key)
{
    ngx_str_t  name;

    ngx_http_oidc_store_delete(r, key);
    ngx_http_oidc_store_changed(r);

    if (ngx_http_oidc_cookie_name(r, p, NULL, &name) == NGX_OK) {
        (void) ngx_http_oidc_cookie_set(r, p, &name, NULL, 0);
    }
}


static void
ngx_http_oidc_refresh_why(ngx_http_oidc_refresh_t *rf, ngx_uint_t level,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(rf->why, rf->why + sizeof(rf->why) - 1, fmt, args);
    va_end(args);

    *p = '\0';
    rf->level = level;
}


static void
ngx_http_oidc_refresh_unlock(ngx_http_oidc_refresh_t *rf)
{
    if (rf->locked) {
        ngx_http_oidc_store_delete(rf->request, &rf->lock);
        rf->locked = 0;
    }
}


/*
 * The provider failed: the lock stays "refresh_backoff" longer, so that
 * the session's requests do not each ask a failing provider again; they
 * use a valid access token, or get 503 at once.
 */

static void
ngx_http_oidc_refresh_back_off(ngx_http_oidc_refresh_t *rf,
    ngx_http_oidc_provider_t *p)
{
    if (!rf->locked) {
        return;
    }

    if (p->refresh_backoff == 0
        || ngx_http_oidc_store_set(rf->request, &rf->lock,
                                   &ngx_http_oidc_refresh_pausing,
                                   ngx_time() + p->refresh_backoff)
           != NGX_OK)
    {
        ngx_http_oidc_refresh_unlock(rf);
        return;
    }

    rf->locked = 0;
}


/* 503 with Retry-After: when the next renewal may be tried */

static ngx_int_t
ngx_http_oidc_refresh_unavailable(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p)
{
    ngx_str_t  v;

    v.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    v.len = ngx_sprintf(v.data, "%T", ngx_max(p->refresh_backoff, 1))
            - v.data;

    if (ngx_http_oidc_header_out(r, "Retry-After", &v, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


static void
ngx_http_oidc_refresh_cleanup(void *data)
{
    ngx_http_oidc_refresh_t  *rf = data;

    if (rf->http != NULL) {
        ngx_http_oidc_http_cancel(rf->http);
        rf->http = NULL;
    }

    if (rf->poll.timer_set) {
        ngx_del_timer(&rf->poll);
    }

    /* a request finalized while renewing lets the next one try */
    ngx_http_oidc_refresh_unlock(rf);
}
