
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
typedef struct ngx_http_oidc_endpoints_s    ngx_http_oidc_endpoints_t;
typedef struct ngx_http_oidc_metrics_s      ngx_http_oidc_metrics_t;
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
    time_t                        refresh_backoff;  /* after a failure */
    ngx_flag_t                    discovery;        /* off: none fetched */
    ngx_http_oidc_endpoints_t    *endpoints;        /* configured ones win
                                                       over discovery's */
    ngx_uint_t                    token_json;       /* token requests in
                                                       JSON, not a form */
    ngx_array_t                  *token_params;     /* token_param_t */
    void                         *client_token;     /* client_token.c: the
                                                       provider's own */

    /* RFC 7662 introspection (ngx_http_oidc_introspect.c) */
    ngx_str_t                     introspection_client_id;
    ngx_str_t                     introspection_client_secret;
    time_t                        introspection_cache_time;
    time_t                        introspection_negative_time;
    ngx_http_oidc_client_auth_t  *introspection_auth;  /* client_auth when
                                                          not set apart */

    ngx_ssl_t                    *ssl;
    ngx_http_oidc_http_conf_t    *http;             /* http.c: addresses */
    ngx_shm_zone_t               *shm_zone;
    ngx_http_oidc_provider_rt_t  *rt;               /* provider.c's state */
    ngx_http_oidc_client_auth_t  *client_auth;      /* client_auth.c */
    ngx_http_oidc_metrics_t      *metrics;          /* NULL: off */
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
    ngx_array_t                   client_tokens;    /* client_token.c */
    ngx_flag_t                    metrics;          /* oidc_metrics */
    ngx_shm_zone_t               *metrics_zone;
    ngx_int_t                     request_id;       /* its variable */
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
    ngx_uint_t                    token_check;      /* NGX_HTTP_OIDC_CHECK_* */
    u_char                       *token_check_file;
    ngx_uint_t                    token_check_line;
    void                         *client_token;     /* NULL: off */

    u_char                       *file;             /* auth_oidc's place */
    ngx_uint_t                    line;
} ngx_http_oidc_loc_conf_t;


typedef enum {
    NGX_HTTP_OIDC_START = 0,
    NGX_HTTP_OIDC_KEYS_WAIT,
    NGX_HTTP_OIDC_INTROSPECT_WAIT,
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
    void                         *record;           /* session.c: decoded */
} ngx_http_oidc_ctx_t;


extern ngx_module_t  ngx_http_oidc_module;


/*
 * ngx_http_oidc_conf.c: the "oidc_provider" block (its endpoints:
 * ngx_http_oidc_conf_endpoints.c; files: ngx_http_oidc_conf_files.c)
 */
char *ngx_http_oidc_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_oidc_provider_t *ngx_http_oidc_provider_find(
    ngx_http_oidc_main_conf_t *omcf, ngx_str_t *name);
/*
 * ngx_http_oidc_conf_files.c: a whole file of at most "max" bytes into
 * cf->temp_pool; logs failures
 */
ngx_int_t ngx_http_oidc_conf_read_file(ngx_conf_t *cf, ngx_str_t *name,
    size_t max, const char *directive, ngx_str_t *out);

/*
 * ngx_http_oidc_conf_endpoints.c:
 * what a location asks of its provider ("auth_oidc": keys, and the token
 * endpoint when a browser login is configured; a client token: the token
 * endpoint), checked when nothing is discovered: NGX_OK, or NGX_ERROR
 * logged with the missing endpoint, "directive" and its file:line.
 */
#define NGX_HTTP_OIDC_NEED_AUTH       0x01
#define NGX_HTTP_OIDC_NEED_TOKEN      0x02

ngx_int_t ngx_http_oidc_provider_check(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p, ngx_uint_t need, const char *directive,
    u_char *file, ngx_uint_t line);

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

/*
 * The provider's metadata, from its last good discovery document, each
 * endpoint replaced by the one configured in the provider block if any
 */
struct ngx_http_oidc_endpoints_s {
    ngx_str_t                     issuer;
    ngx_str_t                     jwks_uri;
    ngx_str_t                     authorization_endpoint;
    ngx_str_t                     token_endpoint;
    ngx_str_t                     userinfo_endpoint;
    ngx_str_t                     end_session_endpoint;
    ngx_str_t                     introspection_endpoint;
    ngx_str_t                     revocation_endpoint;
    json_t                       *metadata;         /* the whole document */
};

/*
 * NULL until a discovery document was fetched; with "discovery off" or
 * static keys ("jwks_file", "hmac_secret_file"), the configured
 * endpoints at once (metadata NULL).  Absent endpoints are empty
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
/*
 * Any zone of this module: added (NULL, logged, if the name is taken);
 * in its init, its first structure ("size" bytes, zeroed, with the zone's
 * log_ctx; *fresh = 1) or the existing one of a zone that survived; NULL:
 * no memory.
 */
ngx_shm_zone_t *ngx_http_oidc_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, ngx_shm_zone_init_pt init, void *data);
void *ngx_http_oidc_zone_sh(ngx_shm_zone_t *shm_zone, size_t size,
    ngx_uint_t *fresh);
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
    NGX_HTTP_OIDC_REDIS_TOUCH,          /* PEXPIRE: NGX_DECLINED if absent */
    NGX_HTTP_OIDC_REDIS_LIVE_ADD,       /* the set of live sessions: ZADD */
    NGX_HTTP_OIDC_REDIS_LIVE_UPDATE,    /* ZADD XX: a new expiry */
    NGX_HTTP_OIDC_REDIS_LIVE_REMOVE,    /* ZREM */
    NGX_HTTP_OIDC_REDIS_LIVE_COUNT      /* ZCOUNT: the number as value */
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
/* the provider's set of live sessions; only COUNT has a handler */
ngx_int_t ngx_http_oidc_redis_live(ngx_http_oidc_redis_t *rd, ngx_uint_t op,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, time_t expires,
    ngx_http_oidc_redis_done_pt handler, void *data, void **cmd);
void ngx_http_oidc_redis_detach(void *cmd);
time_t ngx_http_oidc_redis_cache_time(ngx_http_oidc_redis_t *rd);
time_t ngx_http_oidc_redis_retry_after(ngx_http_oidc_redis_t *rd);
/* connected (a command sent now is answered, or times out) */
ngx_uint_t ngx_http_oidc_redis_up(ngx_http_oidc_redis_t *rd);
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
 * of verified tokens (TOKENS, key: the token, generation 0), loaded
 * sessions (SESSIONS, key: the store key, generation: the store's) and
 * introspection results (INTROSPECTION, key: the token; json false for
 * a token found not active).  get
 * returns a borrowed reference, valid until control returns to the event
 * loop (json_incref() what must live longer).
 */
#define NGX_HTTP_OIDC_WORKER_CACHE_TOKENS    0
#define NGX_HTTP_OIDC_WORKER_CACHE_SESSIONS  1
#define NGX_HTTP_OIDC_WORKER_CACHE_INTROSPECTION  2
#define NGX_HTTP_OIDC_WORKER_CACHES          3

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
/* what a token of "p" is checked against (issuer, audiences, times) */
void ngx_http_oidc_bearer_check_init(ngx_http_oidc_provider_t *p,
    ngx_oidc_claims_check_t *check);
/*
 * The shared token cache's key for "token": "type" ('j' verified JWT,
 * 'i' introspection result, 'l' introspection lock), then SHA-256 of the
 * provider, its checking policy and the token; in "pool".
 */
ngx_int_t ngx_http_oidc_token_key(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oidc_provider_t *p, u_char type, ngx_str_t *token,
    ngx_str_t *key);

/*
 * ngx_http_oidc_introspect.c: RFC 7662 introspection of Bearer tokens
 * (auth_oidc_token_check).  introspect: NGX_DECLINED (auto: a JWT of
 * this issuer, for the JWT path), NGX_OK (ctx->claims set), NGX_AGAIN
 * (waiting: the request is posted when the answer is known),
 * NGX_HTTP_UNAUTHORIZED (ctx->error set), NGX_HTTP_SERVICE_UNAVAILABLE,
 * NGX_ERROR.
 */
#define NGX_HTTP_OIDC_CHECK_JWT            0
#define NGX_HTTP_OIDC_CHECK_INTROSPECTION  1
#define NGX_HTTP_OIDC_CHECK_AUTO           2

extern ngx_conf_enum_t  ngx_http_oidc_token_checks[];

char *ngx_http_oidc_token_check_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
void ngx_http_oidc_introspect_merge(ngx_http_oidc_loc_conf_t *prev,
    ngx_http_oidc_loc_conf_t *conf);
/* once the location's provider is known: can it introspect at all */
char *ngx_http_oidc_introspect_check_conf(ngx_conf_t *cf,
    ngx_http_oidc_loc_conf_t *conf);
ngx_int_t ngx_http_oidc_introspect(ngx_http_request_t *r,
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

/*
 * ngx_http_oidc_client_token.c: the gateway's own access token from the
 * client credentials grant, for the upstream ("auth_oidc_client_token",
 * $oidc_client_token) and for Bearer client authentication ("client_auth
 * CALL client_token").  Cached in the "oidc_token_cache" zone for all
 * workers, renewed before it expires by one worker at a time.
 */
char *ngx_http_oidc_client_token_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
/* the provider's own token (no extra parameters), registered once */
void *ngx_http_oidc_client_token_add(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p);
ngx_int_t ngx_http_oidc_client_token_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_oidc_client_token_init(ngx_conf_t *cf);
ngx_int_t ngx_http_oidc_client_token_init_process(ngx_cycle_t *cycle);
void ngx_http_oidc_client_token_exit_process(ngx_cycle_t *cycle);
/*
 * The provider's own token as it is cached now, copied into "pool":
 * NGX_OK, or NGX_DECLINED (none valid: a renewal is started, logged).
 */
ngx_int_t ngx_http_oidc_client_token_current(ngx_http_oidc_provider_t *p,
    ngx_pool_t *pool, ngx_log_t *log, ngx_str_t *token);


/*
 * ngx_http_oidc_metrics.c: counters per provider in the "oidc_metrics"
 * shared memory zone (all workers; kept across reloads, keyed by the
 * provider's name; lost by a binary upgrade), shown by "oidc_status".
 * Increments are lock-free atomic adds: call them where an outcome is
 * decided, with the provider (p may be NULL: nothing is counted):
 *
 *     ngx_http_oidc_metric_inc(p, NGX_HTTP_OIDC_M_TOKEN_VERIFIED);
 *     ngx_http_oidc_metric_call(p, NGX_HTTP_OIDC_EP_TOKEN, ms, failed);
 *     ngx_http_oidc_metric_redis(ms, failed);
 *
 * The HTTP client counts every provider call itself (endpoint told by
 * its URL, see ngx_http_oidc_provider_endpoint()).  README lists the
 * Prometheus name and labels of each counter.
 */
typedef enum {
    NGX_HTTP_OIDC_M_LOGIN_STARTED = 0,
    NGX_HTTP_OIDC_M_LOGIN_COMPLETED,
    NGX_HTTP_OIDC_M_LOGIN_FAILED_REQUEST,     /* malformed callback */
    NGX_HTTP_OIDC_M_LOGIN_FAILED_STATE,       /* unknown state, cookie */
    NGX_HTTP_OIDC_M_LOGIN_FAILED_PROVIDER,    /* error=... from the OP */
    NGX_HTTP_OIDC_M_LOGIN_FAILED_TOKEN,       /* token endpoint */
    NGX_HTTP_OIDC_M_LOGIN_FAILED_ID_TOKEN,
    NGX_HTTP_OIDC_M_LOGIN_FAILED_USERINFO,
    NGX_HTTP_OIDC_M_LOGIN_FAILED_SESSION,     /* not stored */

    NGX_HTTP_OIDC_M_TOKEN_VERIFIED,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_MALFORMED,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_KID,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_SIGNATURE,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_EXPIRED,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_CLAIMS,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_INACTIVE,   /* introspection */
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_SCOPE,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_REQUIRE,
    NGX_HTTP_OIDC_M_TOKEN_REFUSED_SMART,

    NGX_HTTP_OIDC_M_TOKEN_CACHE_HIT,
    NGX_HTTP_OIDC_M_TOKEN_CACHE_MISS,
    NGX_HTTP_OIDC_M_INTROSPECTION_CACHE_HIT,
    NGX_HTTP_OIDC_M_INTROSPECTION_CACHE_MISS,
    NGX_HTTP_OIDC_M_SESSION_CACHE_HIT,        /* the worker's copy */
    NGX_HTTP_OIDC_M_SESSION_CACHE_MISS,       /* read from the store */

    NGX_HTTP_OIDC_M_SESSION_RENEWED,
    NGX_HTTP_OIDC_M_SESSION_RENEWAL_FAILED,
    NGX_HTTP_OIDC_M_LOGOUT_RP,
    NGX_HTTP_OIDC_M_LOGOUT_BACKCHANNEL,
    NGX_HTTP_OIDC_M_LOGOUT_FRONTCHANNEL,
    NGX_HTTP_OIDC_M_LOGOUT_BACKCHANNEL_REFUSED,
    NGX_HTTP_OIDC_M_LOGOUT_FRONTCHANNEL_REFUSED,

    NGX_HTTP_OIDC_M_KEYS_REFRESHED,
    NGX_HTTP_OIDC_M_KEYS_REFRESH_FAILED,

    NGX_HTTP_OIDC_M_N
} ngx_http_oidc_metric_e;

/* the provider's endpoints, for calls, latency and failure lines */
typedef enum {
    NGX_HTTP_OIDC_EP_DISCOVERY = 0,
    NGX_HTTP_OIDC_EP_JWKS,
    NGX_HTTP_OIDC_EP_TOKEN,
    NGX_HTTP_OIDC_EP_USERINFO,
    NGX_HTTP_OIDC_EP_REVOCATION,
    NGX_HTTP_OIDC_EP_INTROSPECTION,
    NGX_HTTP_OIDC_EP_OTHER,
    NGX_HTTP_OIDC_EP_REDIS,                   /* the store-wide slot */
    NGX_HTTP_OIDC_EP_N
} ngx_http_oidc_endpoint_e;

/* latency buckets (ms): upper bounds; the last one is +Inf */
#define NGX_HTTP_OIDC_METRIC_BUCKETS  9

typedef struct {
    ngx_atomic_t                  calls;
    ngx_atomic_t                  errors;
    ngx_atomic_t                  ms;           /* sum */
    ngx_atomic_t                  buckets[NGX_HTTP_OIDC_METRIC_BUCKETS];
    ngx_atomic_t                  logged;       /* last failure line, s */
    ngx_atomic_t                  what;         /* its CRC */
} ngx_http_oidc_metric_calls_t;

struct ngx_http_oidc_metrics_s {
    ngx_queue_t                   queue;        /* of the zone */
    ngx_str_t                     name;         /* in the zone */
    ngx_atomic_t                  counters[NGX_HTTP_OIDC_M_N];
    ngx_http_oidc_metric_calls_t  calls[NGX_HTTP_OIDC_EP_N];
};

static ngx_inline void
ngx_http_oidc_metric_inc(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_metric_e which)
{
    if (p != NULL && p->metrics != NULL) {
        (void) ngx_atomic_fetch_add(&p->metrics->counters[which], 1);
    }
}

void ngx_http_oidc_metric_call(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_endpoint_e endpoint, ngx_msec_t ms, ngx_uint_t failed);
void ngx_http_oidc_metric_redis(ngx_msec_t ms, ngx_uint_t failed);

/*
 * Provider and Redis failures: one line at NGX_LOG_ERR per interval
 * (60 s) per provider, endpoint and line, across all workers; the others
 * at debug level (another line, another failure, is logged at once; for
 * NGX_HTTP_OIDC_EP_DISCOVERY, the key fetches, any line is the same
 * failure streak).  p NULL: the Redis store (endpoint ignored).  Never
 * pass a token or secret.
 */
void ngx_http_oidc_log_failure(ngx_log_t *log, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_endpoint_e endpoint, const char *fmt, ...);
/* the endpoint works again: its next failure is logged at once */
void ngx_http_oidc_log_failure_reset(ngx_http_oidc_provider_t *p,
    ngx_http_oidc_endpoint_e endpoint);

/*
 * A refusal: counted and logged as one line at NGX_LOG_INFO with the
 * reason of "which" (a *_REFUSED_* or LOGIN_FAILED_* counter), the
 * provider and $request_id:
 *     oidc: refused (REASON): DETAIL, provider "P", request_id ID
 * Never pass a token, secret or cookie in DETAIL.
 */
void ngx_http_oidc_refuse(ngx_http_request_t *r, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_metric_e which, const char *fmt, ...);

char *ngx_http_oidc_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_oidc_metrics_conf(ngx_conf_t *cf,
    ngx_http_oidc_main_conf_t *omcf);

/* provider.c: which endpoint of "p" a URL is (by its last discovery) */
ngx_http_oidc_endpoint_e ngx_http_oidc_provider_endpoint(
    ngx_http_oidc_provider_t *p, ngx_str_t *url);

/* shm.c: live entries whose key starts with "prefix" (walks the zone) */
ngx_uint_t ngx_http_oidc_shm_count(ngx_shm_zone_t *zone, ngx_str_t *prefix);


#endif /* _NGX_HTTP_OIDC_H_INCLUDED_ */
