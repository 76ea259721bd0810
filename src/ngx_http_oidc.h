
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_HTTP_OIDC_H_INCLUDED_
#define _NGX_HTTP_OIDC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_oidc_types.h"
#include "ngx_oidc_json.h"
#include "ngx_oidc_jose.h"
#include "ngx_oidc_claims.h"
#include "ngx_http_oidc_compat.h"


#if !(NGX_HTTP_SSL)
#error ngx_http_oidc_module needs nginx built with SSL (--with-http_ssl_module)
#endif


#define ngx_http_oidc_isalnum(c)                                           \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z')               \
     || ((c) >= 'A' && (c) <= 'Z'))


typedef struct ngx_http_oidc_provider_rt_s  ngx_http_oidc_provider_rt_t;
typedef struct ngx_http_oidc_http_conf_s    ngx_http_oidc_http_conf_t;
typedef struct ngx_http_oidc_client_auth_s  ngx_http_oidc_client_auth_t;
typedef struct ngx_http_oidc_redis_s        ngx_http_oidc_redis_t;


/* one "oidc_provider NAME { ... }" block */
typedef struct {
    ngx_str_t                     name;

    /* NGINX Plus ngx_http_oidc_module directives */
    ngx_str_t                     issuer;
    ngx_str_t                     config_url;
    ngx_str_t                     client_id;
    ngx_str_t                     client_secret;
    ngx_str_t                     scope;
    ngx_str_t                     redirect_uri;
    ngx_str_t                     extra_auth_args;
    ngx_str_t                     logout_uri;
    ngx_str_t                     post_logout_uri;
    ngx_str_t                     cookie_name;
    ngx_str_t                     ssl_trusted_certificate;
    ngx_str_t                     ssl_crl;
    time_t                        session_timeout;
    time_t                        session_idle_timeout;   /* 0: off */
    ngx_flag_t                    logout_token_hint;
    ngx_flag_t                    userinfo;
    ngx_flag_t                    pkce;             /* UNSET: automatic */
    ngx_str_t                     frontchannel_logout_uri;
    ngx_str_t                     session_store;
    ngx_flag_t                    cookie_secure;    /* __Host- and Secure */
    ngx_str_t                     session_cookie;   /* cookie_name with
                                                       its prefix */

    /* our additions */
    ngx_str_t                     backchannel_logout_uri;
    ngx_array_t                  *audiences;        /* NULL: "audience off" */
    ngx_str_t                     jwks_file;
    ngx_oidc_jwks_t              *static_jwks;      /* jwks_file, secrets */
    unsigned                      algorithms;       /* NGX_OIDC_ALG_* */
    time_t                        leeway;
    time_t                        max_token_age;    /* 0: off */
    ngx_flag_t                    require_typ_at_jwt;
    size_t                        max_token_size;
    ngx_flag_t                    allow_insecure_http;
    ngx_msec_t                    connect_timeout;
    ngx_msec_t                    read_timeout;
    size_t                        max_response_size;
    time_t                        jwks_refresh;
    time_t                        jwks_refetch_interval;
    time_t                        refresh_before;   /* 0: no renewal */

    ngx_ssl_t                    *ssl;
    ngx_http_oidc_http_conf_t    *http;             /* http.c: addresses */
    ngx_shm_zone_t               *shm_zone;
    ngx_http_oidc_provider_rt_t  *rt;               /* provider.c's state */
    ngx_http_oidc_client_auth_t  *client_auth;      /* client_auth.c */
    ngx_http_oidc_redis_t        *redis;            /* session_store; NULL:
                                                       the sessions zone */

    u_char                       *file;             /* where it is defined */
    ngx_uint_t                    line;
} ngx_http_oidc_provider_t;


/* a variable bound to a nested claim: auth_oidc_claim_set $var a b c; */
typedef struct {
    ngx_oidc_claim_path_t        *path;
    ngx_int_t                     index;            /* of the variable */
} ngx_http_oidc_claim_var_t;


typedef struct {
    ngx_array_t                   providers;        /* provider pointers */
    ngx_array_t                   claim_vars;       /* claim_var_t */
    ngx_array_t                   header_keys;      /* u_char *: norm of
                                                     every auth_oidc_header */
    ngx_shm_zone_t               *token_cache;
    time_t                        token_cache_max_ttl;
    ngx_shm_zone_t               *sessions;         /* and pending logins */
    ngx_array_t                  *redis;            /* oidc_redis blocks */
} ngx_http_oidc_main_conf_t;


/* auth_oidc_header NAME VALUE */
typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     norm;             /* lowercase, '_' as '-' */
    ngx_http_complex_value_t      value;
} ngx_http_oidc_header_t;


typedef struct {
    ngx_http_oidc_provider_t     *provider;         /* NULL: off */
    ngx_str_t                     provider_name;
    ngx_flag_t                    enable;           /* UNSET: inherit */
    ngx_str_t                     realm;
    ngx_array_t                  *scopes;           /* ngx_str_t */
    ngx_array_t                  *require;          /* complex values */
    ngx_uint_t                    require_status;
    ngx_array_t                  *headers;          /* header_t */
    ngx_flag_t                    token_cache;
    void                         *smart;            /* auth_oidc_smart */

    u_char                       *file;             /* auth_oidc's place */
    ngx_uint_t                    line;
} ngx_http_oidc_loc_conf_t;


typedef enum {
    NGX_HTTP_OIDC_START = 0,
    NGX_HTTP_OIDC_KEYS_WAIT,
    NGX_HTTP_OIDC_DONE
} ngx_http_oidc_state_e;


/* per request; never in configuration or shared memory */
typedef struct {
    ngx_http_oidc_state_e         state;
    ngx_int_t                     verdict;          /* when DONE */
    const char                   *error;            /* RFC 6750 code */
    ngx_str_t                     token;
    json_t                       *claims;           /* verified payload */
    ngx_str_t                     id_token;         /* of the session */
    json_t                       *session;          /* holds the tokens */
    void                         *browser;          /* browser.c: callback */
    void                         *smart;            /* smart.c: request */
    void                         *body;             /* web.c: body read */
    void                         *store;            /* store.c: its memo */
} ngx_http_oidc_ctx_t;


extern ngx_module_t  ngx_http_oidc_module;


/* ngx_http_oidc_conf.c: the "oidc_provider" block */
char *ngx_http_oidc_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_oidc_provider_t *ngx_http_oidc_provider_find(
    ngx_http_oidc_main_conf_t *omcf, ngx_str_t *name);
/* a whole file of at most "max" bytes into cf->temp_pool; logs failures */
ngx_int_t ngx_http_oidc_conf_read_file(ngx_conf_t *cf, ngx_str_t *name,
    size_t max, const char *directive, ngx_str_t *out);

/* ngx_http_oidc_provider.c: discovery and keys at run time */
ngx_int_t ngx_http_oidc_provider_init_process(ngx_cycle_t *cycle,
    ngx_http_oidc_provider_t *p);
void ngx_http_oidc_provider_exit_process(ngx_cycle_t *cycle,
    ngx_http_oidc_provider_t *p);

/*
 * The key set to verify a token naming "kid" (empty: no kid):
 *   NGX_OK        *jwks set, usable until control returns to the event
 *                 loop (verify at once, never keep it across a wait);
 *   NGX_AGAIN     keys are being fetched (first fetch, or one refetch
 *                 for an unknown kid): the request is posted when the
 *                 fetch ends, and calls again;
 *   NGX_DECLINED  no key has this kid and a refetch is not due, or the
 *                 refetch found none;
 *   NGX_HTTP_SERVICE_UNAVAILABLE  no usable keys, or an unknown kid
 *                 while the provider is unreachable or its answers
 *                 unusable (logged);
 *   NGX_ERROR     internal error.
 *
 * Waiting, for the access-phase caller (as njs's js_access does):
 * - on NGX_AGAIN return NGX_AGAIN from the phase handler; do not touch
 *   r->main->count and do not finalize: the phase engine keeps the
 *   request, nothing else ends it meanwhile;
 * - the request waits in a per-worker queue; when the fetch ends
 *   (success or failure), a posted event wakes every waiter with
 *   ngx_http_post_request() + ngx_http_run_posted_requests(), which
 *   runs r->write_event_handler (ngx_http_core_run_phases unless the
 *   caller set its own) and so re-enters the access handler, which must
 *   call this function again with the same kid;
 * - calls while still queued (a write event re-running the phases)
 *   return NGX_AGAIN again and queue nothing twice;
 * - a request finalized or terminated while waiting leaves the queue by
 *   its pool cleanup; per-request wait state lives in that cleanup's
 *   data (r->pool), so an internal redirect keeps it;
 * - a request waits at most once for an unknown kid (then NGX_DECLINED)
 *   and at most once for the first keys (then 503), each wait bounded
 *   by about 2 * (connect_timeout + read_timeout) (+ the resolver's).
 */
ngx_int_t ngx_http_oidc_provider_keys(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *kid, ngx_oidc_jwks_t **jwks);

/* the provider's metadata, from its last good discovery document */
typedef struct {
    ngx_str_t                     issuer;
    ngx_str_t                     jwks_uri;
    ngx_str_t                     authorization_endpoint;
    ngx_str_t                     token_endpoint;
    ngx_str_t                     userinfo_endpoint;
    ngx_str_t                     end_session_endpoint;
    ngx_str_t                     introspection_endpoint;
    ngx_str_t                     revocation_endpoint;
    json_t                       *metadata;         /* the whole document */
} ngx_http_oidc_endpoints_t;

/*
 * NULL until a discovery document was fetched (always NULL with static
 * keys, "jwks_file" or "hmac_secret_file").  Absent endpoints are empty
 * strings.  Valid until control returns to the event loop (a refresh
 * may replace it): copy what must outlive a wait.  Borrowed, never freed.
 */
ngx_http_oidc_endpoints_t *ngx_http_oidc_provider_endpoints(
    ngx_http_oidc_provider_t *p);

/* the provider's shared memory zone (created by ngx_http_oidc_conf.c) */
ngx_int_t ngx_http_oidc_provider_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

/*
 * ngx_http_oidc_shm.c: a key-value store in a shared memory zone, shared
 * by all workers and kept across reloads; entries expire at an absolute
 * time and the least recently used ones are evicted when it is full.
 */
ngx_shm_zone_t *ngx_http_oidc_shm_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size);
/* NGX_OK: *value copied into "pool"; NGX_DECLINED: absent or expired */
ngx_int_t ngx_http_oidc_shm_get(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_pool_t *pool, ngx_str_t *value);
ngx_int_t ngx_http_oidc_shm_set(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_log_t *log);
/* stores only if no live entry has this key: NGX_OK, NGX_BUSY (one has) */
ngx_int_t ngx_http_oidc_shm_insert(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_log_t *log);
/* stores only over a live entry of this key: NGX_OK, NGX_ABORT (none) */
ngx_int_t ngx_http_oidc_shm_replace(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_str_t *value, time_t expires, ngx_log_t *log);
void ngx_http_oidc_shm_delete(ngx_shm_zone_t *zone, ngx_str_t *key);
/* a live entry's new expiry: NGX_OK, NGX_DECLINED (absent or expired) */
ngx_int_t ngx_http_oidc_shm_touch(ngx_shm_zone_t *zone, ngx_str_t *key,
    time_t expires);
/*
 * A counter of the zone, changed whenever its user says entries that
 * workers may hold copies of have changed or gone (a session ended or
 * renewed): a copy is good while the counter is what it was.
 */
ngx_uint_t ngx_http_oidc_shm_generation(ngx_shm_zone_t *zone);
void ngx_http_oidc_shm_changed(ngx_shm_zone_t *zone);
/* as ngx_http_oidc_shm_get(), and the entry is removed (single use) */
ngx_int_t ngx_http_oidc_shm_take(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_pool_t *pool, ngx_str_t *value);

/*
 * ngx_http_oidc_store.c: where sessions and pending logins live; the
 * embedded store is the "sessions" shared memory zone, and a Redis
 * store plugs in behind the same calls (which may then return
 * NGX_AGAIN).  get: NGX_OK (*value in r->pool), NGX_DECLINED (absent or
 * expired), NGX_ERROR; with "take" the entry is removed atomically.
 * set: NGX_OK, NGX_DECLINED (no room), NGX_ERROR.  insert: as set, but
 * only when no live entry has the key, else NGX_BUSY (a lock, a replay).
 */
ngx_int_t ngx_http_oidc_store_get(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, ngx_uint_t take);
ngx_int_t ngx_http_oidc_store_set(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires);
ngx_int_t ngx_http_oidc_store_insert(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires);
/* as set, but only over a live entry, else NGX_ABORT (it ended meanwhile) */
ngx_int_t ngx_http_oidc_store_replace(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, time_t expires);
void ngx_http_oidc_store_delete(ngx_http_request_t *r, ngx_str_t *key);
/* a live session's new expiry (idle timeout): NGX_OK, NGX_DECLINED */
ngx_int_t ngx_http_oidc_store_touch(ngx_http_request_t *r, ngx_str_t *key,
    time_t expires);
/*
 * Sessions: copies held by workers are good while the generation is the
 * same; "changed" after a session ends or is rewritten.
 */
ngx_uint_t ngx_http_oidc_store_generation(ngx_http_request_t *r);
void ngx_http_oidc_store_changed(ngx_http_request_t *r);
/*
 * Redis: every call may also return NGX_AGAIN (the request is posted
 * when the reply comes, and makes the same call again: callers must be
 * re-entrant and pass NGX_AGAIN up) and NGX_HTTP_SERVICE_UNAVAILABLE
 * (Redis unreachable or failing: Retry-After is set, pass it up).  set
 * and delete are sent without waiting.  The store is the one of the
 * request's provider (auth_oidc).  get with "take" NGX_HTTP_OIDC_STORE_
 * GET_FRESH reads again each time its outcome was given (polling).
 * keep: until when a worker may use a copy valid until "valid".
 */
#define NGX_HTTP_OIDC_STORE_GET_FRESH  2

time_t ngx_http_oidc_store_keep(ngx_http_request_t *r, time_t valid);
/* after waiting for another request: outcomes known so far are dropped */
void ngx_http_oidc_store_forget(ngx_http_request_t *r);

/*
 * ngx_http_oidc_redis.c: "oidc_redis NAME { ... }" and one connection
 * per worker to it on nginx events (hiredis's asynchronous API).
 */
typedef enum {
    NGX_HTTP_OIDC_REDIS_GET = 0,
    NGX_HTTP_OIDC_REDIS_TAKE,           /* GETDEL */
    NGX_HTTP_OIDC_REDIS_SET,            /* SET PX */
    NGX_HTTP_OIDC_REDIS_INSERT,         /* SET PX NX: NGX_BUSY if present */
    NGX_HTTP_OIDC_REDIS_REPLACE,        /* SET PX XX: NGX_ABORT if absent */
    NGX_HTTP_OIDC_REDIS_DELETE,         /* DEL */
    NGX_HTTP_OIDC_REDIS_TOUCH           /* PEXPIRE: NGX_DECLINED if absent */
} ngx_http_oidc_redis_op_e;

/* rc: NGX_OK (value: GET's, valid during the call), NGX_DECLINED, ... */
typedef void (*ngx_http_oidc_redis_done_pt)(void *data, ngx_int_t rc,
    ngx_str_t *value);

char *ngx_http_oidc_redis_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* the block of this name (marked used), or NULL */
ngx_http_oidc_redis_t *ngx_http_oidc_redis_find(
    ngx_http_oidc_main_conf_t *omcf, ngx_str_t *name);
ngx_int_t ngx_http_oidc_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_oidc_main_conf_t *omcf);
void ngx_http_oidc_redis_exit_process(ngx_cycle_t *cycle,
    ngx_http_oidc_main_conf_t *omcf);
/*
 * NGX_OK: sent, "handler" (may be NULL) called once with the outcome
 * unless detached; NGX_DECLINED: not connected; NGX_ERROR
 */
ngx_int_t ngx_http_oidc_redis_send(ngx_http_oidc_redis_t *rd, ngx_uint_t op,
    ngx_str_t *key, ngx_str_t *value, time_t expires,
    ngx_http_oidc_redis_done_pt handler, void *data, void **cmd);
void ngx_http_oidc_redis_detach(void *cmd);
time_t ngx_http_oidc_redis_cache_time(ngx_http_oidc_redis_t *rd);
time_t ngx_http_oidc_redis_retry_after(ngx_http_oidc_redis_t *rd);
/* a request refused for it: logged once per interval */
void ngx_http_oidc_redis_refused(ngx_http_oidc_redis_t *rd, ngx_log_t *log);

/*
 * ngx_http_oidc_browser.c: sessions, the login redirect and the
 * callback.  NGX_DECLINED: not for the browser flow (Bearer
 * credentials); NGX_OK: a valid session, ctx->claims set; NGX_AGAIN:
 * waiting (token endpoint, keys); NGX_DONE: a page was sent;
 * otherwise a status (302 login/callback redirect, 401, 503...).
 */
ngx_int_t ngx_http_oidc_browser_handler(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx);

/*
 * ngx_http_oidc_worker_cache.c: parsed JSON per worker, by key: the claims
 * of verified tokens (TOKENS, key: the token, generation 0) and loaded
 * sessions (SESSIONS, key: the store key, generation: the store's).  get
 * returns a borrowed reference, valid until control returns to the event
 * loop (json_incref() what must live longer).
 */
#define NGX_HTTP_OIDC_WORKER_CACHE_TOKENS    0
#define NGX_HTTP_OIDC_WORKER_CACHE_SESSIONS  1
#define NGX_HTTP_OIDC_WORKER_CACHES          2

json_t *ngx_http_oidc_worker_cache_get(ngx_uint_t which,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, ngx_uint_t generation);
void ngx_http_oidc_worker_cache_put(ngx_uint_t which,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, json_t *value,
    time_t expires, ngx_uint_t generation, ngx_log_t *log);
void ngx_http_oidc_worker_cache_free(void);

/* a request body read in the access phase: the request's own (ctx->body) */
typedef struct {
    ngx_str_t                     body;
    ngx_int_t                     status;       /* of reading it */
    size_t                        max;
    unsigned                      read:1;
} ngx_http_oidc_body_t;

/*
 * ngx_http_oidc_web.c.  form_body: the request's
 * application/x-www-form-urlencoded body, at most "max" bytes and in
 * memory, the phases run again once it is read: NGX_OK (*body; empty
 * without a body), NGX_DONE (the read was started: return it),
 * NGX_AGAIN (still reading), NGX_DECLINED (not a form),
 * NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, NGX_ERROR or another status; one
 * body per request, whoever asks for it.  send: a whole response after
 * the caller's headers, NGX_DONE (the request finalized).
 */
ngx_int_t ngx_http_oidc_form_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);
ngx_int_t ngx_http_oidc_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_str_t *body);

/*
 * ngx_http_oidc_handler.c: an RFC 6750 challenge, WWW-Authenticate:
 * Bearer realm="...", error="..." (NULL: none), scope="..." (n > 0)
 */
ngx_int_t ngx_http_oidc_www_authenticate(ngx_http_request_t *r,
    ngx_str_t *realm, const char *error, ngx_str_t *scopes, ngx_uint_t n);

/* ngx_http_oidc_bearer.c */
ngx_int_t ngx_http_oidc_bearer_token(ngx_http_request_t *r,
    ngx_http_oidc_provider_t *p, ngx_str_t *token);
ngx_int_t ngx_http_oidc_bearer_authenticate(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx);

/* ngx_http_oidc_headers.c: claims to variables and headers */
char *ngx_http_oidc_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_oidc_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_oidc_headers_apply(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf);
/*
 * Removes the client-sent copies of the "headers" names (any case, "_"
 * for "-"); with "ours", also those that auth_oidc_header set earlier in
 * the request (before an internal redirect).
 */
ngx_int_t ngx_http_oidc_headers_strip(ngx_http_request_t *r,
    ngx_array_t *headers, ngx_uint_t ours);
json_t *ngx_http_oidc_claims(ngx_http_request_t *r);

/*
 * ngx_http_oidc_smart.c: SMART on FHIR (auth_oidc_smart).  start, before
 * authentication: NGX_OK (authenticate), NGX_DECLINED (capabilities:
 * open), NGX_DONE/NGX_AGAIN (a page sent, or reading a POST _search
 * body), else a status; authorize, after it: NGX_OK, NGX_DONE (403 sent).
 */
char *ngx_http_oidc_smart_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oidc_smart_merge(ngx_conf_t *cf,
    ngx_http_oidc_loc_conf_t *prev, ngx_http_oidc_loc_conf_t *conf);
ngx_int_t ngx_http_oidc_smart_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_oidc_smart_start(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx);
ngx_int_t ngx_http_oidc_smart_authorize(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx);


#endif /* _NGX_HTTP_OIDC_H_INCLUDED_ */
