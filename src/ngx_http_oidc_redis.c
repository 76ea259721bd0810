
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_oidc.h"


/*
 * One "oidc_redis NAME { ... }" block and its connection: one per worker,
 * hiredis's asynchronous API driven by nginx events (the blocking API is
 * never used).  Commands are pipelined on it; replies come back in order,
 * so the oldest command in flight carries the deadline of the link.
 */


#define NGX_HTTP_OIDC_REDIS_BACKOFF_MIN   100
#define NGX_HTTP_OIDC_REDIS_BACKOFF_MAX   2000


typedef enum {
    NGX_HTTP_OIDC_REDIS_DOWN = 0,
    NGX_HTTP_OIDC_REDIS_CONNECTING,
    NGX_HTTP_OIDC_REDIS_UP
} ngx_http_oidc_redis_state_e;


struct ngx_http_oidc_redis_s {
    ngx_str_t                     name;
    ngx_str_t                     host;             /* an address, text */
    in_port_t                     port;
    ngx_str_t                     unix_path;
    ngx_str_t                     user;
    ngx_str_t                     password;
    ngx_int_t                     database;
    ngx_str_t                     prefix;
    ngx_msec_t                    connect_timeout;
    ngx_msec_t                    timeout;
    time_t                        cache_time;
    ngx_uint_t                    used;             /* by a provider */

    /* the worker's connection */
    redisAsyncContext            *ac;
    ngx_connection_t             *conn;
    ngx_http_oidc_redis_state_e   state;
    ngx_queue_t                   flight;           /* commands sent */
    ngx_event_t                   timer;            /* connect, commands */
    ngx_event_t                   retry;            /* reconnect */
    ngx_msec_t                    backoff;
    ngx_log_t                    *log;
    unsigned                      exiting:1;
    unsigned                      was_up:1;
    unsigned                      writing:1;        /* in HandleWrite */
};


typedef struct {
    ngx_queue_t                   queue;
    ngx_http_oidc_redis_t        *rd;
    ngx_uint_t                    op;
    ngx_msec_t                    start;            /* for the metrics */
    ngx_msec_t                    deadline;
    ngx_http_oidc_redis_done_pt   handler;          /* NULL: detached */
    void                         *data;
    u_char                        number[NGX_INT64_LEN];
} ngx_http_oidc_redis_cmd_t;


static char *ngx_http_oidc_redis_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_oidc_redis_server(ngx_conf_t *cf,
    ngx_http_oidc_redis_t *rd, ngx_str_t *value);
static ngx_int_t ngx_http_oidc_redis_command(ngx_http_oidc_redis_t *rd,
    ngx_uint_t op, ngx_http_oidc_redis_done_pt handler, void *data,
    void **out, const char *format, ...);
static void ngx_http_oidc_redis_connect(ngx_http_oidc_redis_t *rd);
static void ngx_http_oidc_redis_setup_done(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_oidc_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_oidc_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static ngx_int_t ngx_http_oidc_redis_result(ngx_http_oidc_redis_cmd_t *cmd,
    redisReply *reply, ngx_str_t *value);
static void ngx_http_oidc_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_oidc_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_oidc_redis_event_handler(ngx_event_t *ev);
static void ngx_http_oidc_redis_event(ngx_http_oidc_redis_t *rd,
    ngx_uint_t write, ngx_uint_t on);
static void ngx_http_oidc_redis_add_read(void *data);
static void ngx_http_oidc_redis_del_read(void *data);
static void ngx_http_oidc_redis_add_write(void *data);
static void ngx_http_oidc_redis_del_write(void *data);
static void ngx_http_oidc_redis_cleanup(void *data);
static void ngx_http_oidc_redis_down(ngx_http_oidc_redis_t *rd,
    const char *why);


/* by ngx_http_oidc_redis_op_e: prefix, key, value ("" if none), PX ms */
static const char  *ngx_http_oidc_redis_formats[] = {
    "GET %b%b",
    "GETDEL %b%b",
    "SET %b%b %b PX %lld",
    "SET %b%b %b PX %lld NX",
    "SET %b%b %b PX %lld XX",
    "DEL %b%b",
    "PEXPIRE %b%b %b%lld"
};


static ngx_command_t  ngx_http_oidc_redis_commands[] = {

    { ngx_string("server"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, 0, NULL },
    { ngx_string("user"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, offsetof(ngx_http_oidc_redis_t, user), NULL },
    { ngx_string("password"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, offsetof(ngx_http_oidc_redis_t, password), NULL },
    { ngx_string("database"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, offsetof(ngx_http_oidc_redis_t, database), NULL },
    { ngx_string("prefix"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, offsetof(ngx_http_oidc_redis_t, prefix), NULL },
    { ngx_string("connect_timeout"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, offsetof(ngx_http_oidc_redis_t, connect_timeout), NULL },
    { ngx_string("timeout"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, offsetof(ngx_http_oidc_redis_t, timeout), NULL },
    { ngx_string("cache_time"), NGX_CONF_TAKE1, ngx_http_oidc_redis_set,
      0, offsetof(ngx_http_oidc_redis_t, cache_time), NULL },

      ngx_null_command
};


/* oidc_redis NAME { ... } */

char *
ngx_http_oidc_redis_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_main_conf_t *omcf = conf;

    char                    *rv;
    ngx_str_t               *value;
    ngx_conf_t               save;
    ngx_http_oidc_redis_t   *rd, **rdp;

    value = cf->args->elts;

    if (omcf->redis == NULL) {
        omcf->redis = ngx_array_create(cf->pool, 1,
                                       sizeof(ngx_http_oidc_redis_t *));
        if (omcf->redis == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_oidc_redis_find(omcf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate oidc_redis \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_redis_t));
    rdp = ngx_array_push(omcf->redis);
    if (rd == NULL || rdp == NULL) {
        return NGX_CONF_ERROR;
    }

    *rdp = rd;

    rd->name = value[1];
    rd->database = NGX_CONF_UNSET;
    rd->connect_timeout = NGX_CONF_UNSET_MSEC;
    rd->timeout = NGX_CONF_UNSET_MSEC;
    rd->cache_time = NGX_CONF_UNSET;

    save = *cf;
    cf->handler = ngx_http_oidc_redis_set;
    cf->handler_conf = (char *) rd;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (rd->host.len == 0 && rd->unix_path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_redis \"%V\" has no \"server\"", &rd->name);
        return NGX_CONF_ERROR;
    }

    if (rd->user.len && rd->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oidc_redis \"%V\": \"user\" without \"password\"",
                           &rd->name);
        return NGX_CONF_ERROR;
    }

    if (rd->prefix.data == NULL) {
        ngx_str_set(&rd->prefix, "");
    }

    ngx_conf_init_value(rd->database, 0);
    ngx_conf_init_msec_value(rd->connect_timeout, 1000);
    ngx_conf_init_msec_value(rd->timeout, 1000);
    ngx_conf_init_value(rd->cache_time, 5);

    return NGX_CONF_OK;
}


/* the block's directives: cf->handler, one at a time */

static char *
ngx_http_oidc_redis_set(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_oidc_redis_t *rd = conf;

    char           *p;
    ngx_int_t       n;
    ngx_str_t      *value, *s;
    ngx_msec_t      ms;
    ngx_command_t  *cmd;

    value = cf->args->elts;

    for (cmd = ngx_http_oidc_redis_commands; cmd->name.len; cmd++) {
        if (cmd->name.len == value[0].len
            && ngx_strcmp(cmd->name.data, value[0].data) == 0)
        {
            break;
        }
    }

    if (cmd->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown directive \"%V\" in oidc_redis",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\"",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    p = (char *) rd + cmd->offset;

    if (value[0].len == sizeof("server") - 1
        && ngx_strcmp(value[0].data, "server") == 0)
    {
        if (rd->host.len || rd->unix_path.len) {
            goto duplicate;
        }

        return ngx_http_oidc_redis_server(cf, rd, &value[1]);
    }

    if (value[0].len == sizeof("database") - 1
        && ngx_strcmp(value[0].data, "database") == 0)
    {
        n = ngx_atoi(value[1].data, value[1].len);

        if (n == NGX_ERROR || n > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"database\" \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        rd->database = n;
        return NGX_CONF_OK;
    }

    if (cmd->offset == offsetof(ngx_http_oidc_redis_t, connect_timeout)
        || cmd->offset == offsetof(ngx_http_oidc_redis_t, timeout)
        || cmd->offset == offsetof(ngx_http_oidc_redis_t, cache_time))
    {
        ms = ngx_parse_time(&value[1], 0);

        if (ms == (ngx_msec_t) NGX_ERROR
            || (ms == 0 && cmd->offset != offsetof(ngx_http_oidc_redis_t,
                                                   cache_time)))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" \"%V\"", &value[0], &value[1]);
            return NGX_CONF_ERROR;
        }

        if (cmd->offset == offsetof(ngx_http_oidc_redis_t, cache_time)) {
            rd->cache_time = (time_t) (ms / 1000);

        } else {
            *(ngx_msec_t *) p = ms;
        }

        return NGX_CONF_OK;
    }

    s = (ngx_str_t *) p;

    if (s->data != NULL) {
        goto duplicate;
    }

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty \"%V\"", &value[0]);
        return NGX_CONF_ERROR;
    }

    *s = value[1];

    return NGX_CONF_OK;

duplicate:

    /* cf->handler's messages are printed alone: the name goes in them */
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive is duplicate",
                       &value[0]);
    return NGX_CONF_ERROR;
}


/*
 * "unix:/path" or host:port; a host name is resolved here, once, as
 * hiredis would otherwise resolve it blocking at each connect
 */

static char *
ngx_http_oidc_redis_server(ngx_conf_t *cf, ngx_http_oidc_redis_t *rd,
    ngx_str_t *value)
{
    u_char     *p;
    ngx_url_t   u;

    if (value->len > 5 && ngx_strncmp(value->data, "unix:", 5) == 0) {
        rd->unix_path.len = value->len - 5;
        rd->unix_path.data = ngx_pnalloc(cf->pool, rd->unix_path.len + 1);
        if (rd->unix_path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_cpymem(rd->unix_path.data, value->data + 5,
                       rd->unix_path.len);
        *p = '\0';

        return NGX_CONF_OK;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *value;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"server\" \"%V\"%s%s", value,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_CONF_ERROR;
    }

    rd->port = ngx_inet_get_port(u.addrs[0].sockaddr);

    rd->host.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (rd->host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    rd->host.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                                 rd->host.data, NGX_SOCKADDR_STRLEN, 0);
    rd->host.data[rd->host.len] = '\0';

    return NGX_CONF_OK;
}


ngx_http_oidc_redis_t *
ngx_http_oidc_redis_find(ngx_http_oidc_main_conf_t *omcf, ngx_str_t *name)
{
    ngx_uint_t               i;
    ngx_http_oidc_redis_t  **rdp;

    if (omcf->redis == NULL) {
        return NULL;
    }

    rdp = omcf->redis->elts;

    for (i = 0; i < omcf->redis->nelts; i++) {
        if (rdp[i]->name.len == name->len
            && ngx_strncmp(rdp[i]->name.data, name->data, name->len) == 0)
        {
            rdp[i]->used = 1;
            return rdp[i];
        }
    }

    return NULL;
}


time_t
ngx_http_oidc_redis_cache_time(ngx_http_oidc_redis_t *rd)
{
    return rd->cache_time;
}


/* how long a client should wait: the next reconnect, at least 1 second */

ngx_uint_t
ngx_http_oidc_redis_up(ngx_http_oidc_redis_t *rd)
{
    return rd->state == NGX_HTTP_OIDC_REDIS_UP;
}


time_t
ngx_http_oidc_redis_retry_after(ngx_http_oidc_redis_t *rd)
{
    return (time_t) ngx_max((rd->backoff + 999) / 1000, 1);
}


ngx_int_t
ngx_http_oidc_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_oidc_main_conf_t *omcf)
{
    ngx_uint_t               i;
    ngx_http_oidc_redis_t  **rdp, *rd;

    if (omcf->redis == NULL) {
        return NGX_OK;
    }

    rdp = omcf->redis->elts;

    for (i = 0; i < omcf->redis->nelts; i++) {
        rd = rdp[i];

        if (!rd->used) {
            continue;
        }

        ngx_queue_init(&rd->flight);

        rd->log = cycle->log;
        rd->timer.handler = ngx_http_oidc_redis_timer_handler;
        rd->timer.data = rd;
        rd->timer.log = cycle->log;
        rd->timer.cancelable = 1;
        rd->retry.handler = ngx_http_oidc_redis_retry_handler;
        rd->retry.data = rd;
        rd->retry.log = cycle->log;
        rd->retry.cancelable = 1;
        rd->backoff = NGX_HTTP_OIDC_REDIS_BACKOFF_MIN;

        ngx_http_oidc_redis_connect(rd);
    }

    return NGX_OK;
}


void
ngx_http_oidc_redis_exit_process(ngx_cycle_t *cycle,
    ngx_http_oidc_main_conf_t *omcf)
{
    ngx_uint_t               i;
    ngx_http_oidc_redis_t  **rdp, *rd;

    if (omcf->redis == NULL) {
        return;
    }

    rdp = omcf->redis->elts;

    for (i = 0; i < omcf->redis->nelts; i++) {
        rd = rdp[i];
        rd->exiting = 1;

        if (rd->ac != NULL) {
            redisAsyncFree(rd->ac);
        }
    }
}


static void
ngx_http_oidc_redis_connect(ngx_http_oidc_redis_t *rd)
{
    redisAsyncContext  *ac;
    ngx_connection_t   *c;

    if (rd->unix_path.len) {
        ac = redisAsyncConnectUnix((char *) rd->unix_path.data);

    } else {
        ac = redisAsyncConnect((char *) rd->host.data, rd->port);
    }

    if (ac == NULL || ac->err) {
        ngx_http_oidc_redis_down(rd, ac ? ac->errstr : "no memory");

        if (ac != NULL) {
            redisAsyncFree(ac);
        }

        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_oidc_redis_down(rd, "no free connection");
        return;
    }

    c->data = rd;
    c->read->handler = ngx_http_oidc_redis_event_handler;
    c->write->handler = ngx_http_oidc_redis_event_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;

    rd->ac = ac;
    rd->conn = c;
    rd->state = NGX_HTTP_OIDC_REDIS_CONNECTING;

    ac->data = rd;
    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_oidc_redis_add_read;
    ac->ev.delRead = ngx_http_oidc_redis_del_read;
    ac->ev.addWrite = ngx_http_oidc_redis_add_write;
    ac->ev.delWrite = ngx_http_oidc_redis_del_write;
    ac->ev.cleanup = ngx_http_oidc_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_oidc_redis_connected);

    /* the first write event tells the connect's outcome */
    ngx_http_oidc_redis_add_write(rd);

    /* queued now, sent first: every later command runs authenticated */
    if (rd->password.len) {
        if (rd->user.len) {
            redisAsyncCommand(ac, ngx_http_oidc_redis_setup_done, "AUTH",
                              "AUTH %b %b", rd->user.data,
                              rd->user.len, rd->password.data,
                              rd->password.len);

        } else {
            redisAsyncCommand(ac, ngx_http_oidc_redis_setup_done, "AUTH",
                              "AUTH %b", rd->password.data,
                              rd->password.len);
        }
    }

    if (rd->database) {
        redisAsyncCommand(ac, ngx_http_oidc_redis_setup_done, "SELECT",
                          "SELECT %d", (int) rd->database);
    }

    ngx_add_timer(&rd->timer, rd->connect_timeout);
}


static void
ngx_http_oidc_redis_setup_done(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply             *rr = reply;
    ngx_http_oidc_redis_t  *rd;

    rd = ac->data;

    if (rr != NULL && rr->type == REDIS_REPLY_ERROR) {
        /* the server's message names no secret ("WRONGPASS ...") */
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "oidc: redis \"%V\" refused %s: %*s", &rd->name,
                      (char *) privdata, (size_t) ngx_min(rr->len, 128),
                      rr->str);
        redisAsyncDisconnect(ac);
    }
}


static void
ngx_http_oidc_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_oidc_redis_t  *rd;

    rd = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context: the cleanup hook says "down" */
        return;
    }

    rd->state = NGX_HTTP_OIDC_REDIS_UP;
    rd->backoff = NGX_HTTP_OIDC_REDIS_BACKOFF_MIN;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (!ngx_queue_empty(&rd->flight)) {
        ngx_add_timer(&rd->timer, rd->timeout);
    }

    ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                  "oidc: redis \"%V\" connected%s", &rd->name,
                  rd->was_up ? " again" : "");

    rd->was_up = 1;

    /* its next failure is said at once */
    ngx_http_oidc_log_failure_reset(NULL, NGX_HTTP_OIDC_EP_REDIS);
}


/*
 * A command: NGX_OK, *out in flight, "handler" called exactly once with
 * its outcome unless detached before; NGX_DECLINED: Redis is not
 * connected (the caller answers 503); NGX_ERROR.
 */

ngx_int_t
ngx_http_oidc_redis_send(ngx_http_oidc_redis_t *rd, ngx_uint_t op,
    ngx_str_t *key, ngx_str_t *value, time_t expires,
    ngx_http_oidc_redis_done_pt handler, void *data, void **out)
{
    long long  ms;

    /* Redis expires it: never 0 or less, which it would refuse */
    ms = (long long) ngx_max(expires - ngx_time(), 1) * 1000;

    /* every format takes the same arguments, and uses those it needs */
    return ngx_http_oidc_redis_command(rd, op, handler, data, out,
                                       ngx_http_oidc_redis_formats[op],
                                       rd->prefix.data, rd->prefix.len,
                                       key->data, key->len,
                                       value ? value->data : (u_char *) "",
                                       value ? value->len : 0, ms);
}


/*
 * The provider's live sessions in Redis: the sorted set "sessions:NAME"
 * of their keys, each scored with its expiry (s).  An entry goes with
 * its session; one whose session expired is past its score, not
 * counted, and trimmed at the next login.  The set itself lives as long
 * as a session written now could, so it outlives every entry.
 */

ngx_int_t
ngx_http_oidc_redis_live(ngx_http_oidc_redis_t *rd, ngx_uint_t op,
    ngx_http_oidc_provider_t *p, ngx_str_t *key, time_t expires,
    ngx_http_oidc_redis_done_pt handler, void *data, void **out)
{
    ngx_int_t   rc;
    long long   ms;
    ngx_str_t  *name;

    name = &p->name;

    switch (op) {

    case NGX_HTTP_OIDC_REDIS_LIVE_ADD:
        rc = ngx_http_oidc_redis_command(rd, op, NULL, NULL, NULL,
                                         "ZREMRANGEBYSCORE %bsessions:%b "
                                         "-inf %lld",
                                         rd->prefix.data, rd->prefix.len,
                                         name->data, name->len,
                                         (long long) ngx_time());
        break;

    case NGX_HTTP_OIDC_REDIS_LIVE_UPDATE:
        rc = NGX_OK;
        break;

    case NGX_HTTP_OIDC_REDIS_LIVE_REMOVE:
        return ngx_http_oidc_redis_command(rd, op, NULL, NULL, NULL,
                                           "ZREM %bsessions:%b %b",
                                           rd->prefix.data, rd->prefix.len,
                                           name->data, name->len,
                                           key->data, key->len);

    default: /* NGX_HTTP_OIDC_REDIS_LIVE_COUNT: those not yet expired */
        return ngx_http_oidc_redis_command(rd, op, handler, data, out,
                                           "ZCOUNT %bsessions:%b (%lld +inf",
                                           rd->prefix.data, rd->prefix.len,
                                           name->data, name->len,
                                           (long long) ngx_time());
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* an update (XX) never brings back an entry a delete took */
    rc = ngx_http_oidc_redis_command(rd, op, NULL, NULL, NULL,
                                     (op == NGX_HTTP_OIDC_REDIS_LIVE_ADD)
                                     ? "ZADD %bsessions:%b %lld %b"
                                     : "ZADD %bsessions:%b XX %lld %b",
                                     rd->prefix.data, rd->prefix.len,
                                     name->data, name->len,
                                     (long long) expires,
                                     key->data, key->len);
    if (rc != NGX_OK) {
        return rc;
    }

    ms = (long long) ngx_max(p->session_timeout, p->session_idle_timeout)
         * 1000;

    return ngx_http_oidc_redis_command(rd, op, NULL, NULL, NULL,
                                       "PEXPIRE %bsessions:%b %lld",
                                       rd->prefix.data, rd->prefix.len,
                                       name->data, name->len, ms);
}


static ngx_int_t
ngx_http_oidc_redis_command(ngx_http_oidc_redis_t *rd, ngx_uint_t op,
    ngx_http_oidc_redis_done_pt handler, void *data, void **out,
    const char *format, ...)
{
    int                         rc;
    va_list                     args;
    ngx_http_oidc_redis_cmd_t  *cmd;

    if (rd->state == NGX_HTTP_OIDC_REDIS_DOWN) {
        return NGX_DECLINED;
    }

    cmd = ngx_alloc(sizeof(ngx_http_oidc_redis_cmd_t), rd->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->rd = rd;
    cmd->op = op;
    cmd->start = ngx_current_msec;
    cmd->deadline = cmd->start + rd->timeout;
    cmd->handler = handler;
    cmd->data = data;

    va_start(args, format);
    rc = redisvAsyncCommand(rd->ac, ngx_http_oidc_redis_reply, cmd, format,
                            args);
    va_end(args);

    if (rc != REDIS_OK) {
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&rd->flight, &cmd->queue);

    if (!rd->timer.timer_set) {
        ngx_add_timer(&rd->timer, rd->timeout);
    }

    if (out != NULL) {
        *out = cmd;
    }

    /*
     * a write nobody waits for goes out now, before the response that
     * follows it: a browser's next request, wherever it lands, comes
     * after it (this may close the link: nothing is touched after)
     */
    if (handler == NULL && rd->state == NGX_HTTP_OIDC_REDIS_UP) {
        rd->writing = 1;
        redisAsyncHandleWrite(rd->ac);
        rd->writing = 0;
    }

    return NGX_OK;
}


/* the caller is gone (its request ended): the reply will be dropped */

void
ngx_http_oidc_redis_detach(void *cmd)
{
    ngx_http_oidc_redis_cmd_t  *c = cmd;

    c->handler = NULL;
}


static void
ngx_http_oidc_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    ngx_http_oidc_redis_cmd_t *cmd = privdata;

    ngx_int_t   rc;
    ngx_str_t   value;

    ngx_queue_remove(&cmd->queue);

    ngx_str_null(&value);

    rc = ngx_http_oidc_redis_result(cmd, reply, &value);

    ngx_http_oidc_metric_redis(ngx_current_msec - cmd->start,
                               rc == NGX_ERROR);

    if (cmd->handler != NULL) {
        cmd->handler(cmd->data, rc, &value);
    }

    ngx_free(cmd);
}


/* a reply as the store's codes; the value is valid during the handler */

static ngx_int_t
ngx_http_oidc_redis_result(ngx_http_oidc_redis_cmd_t *cmd, redisReply *reply,
    ngx_str_t *value)
{
    ngx_http_oidc_redis_t  *rd;

    rd = cmd->rd;

    if (reply == NULL) {
        /* the connection went: already logged */
        return NGX_ERROR;
    }

    switch (reply->type) {

    case REDIS_REPLY_ERROR:
        ngx_http_oidc_log_failure(rd->log, NULL, NGX_HTTP_OIDC_EP_REDIS,
                                  "redis \"%V\" answered an error: %*s",
                                  &rd->name, (size_t) ngx_min(reply->len, 128),
                                  reply->str);

        return NGX_ERROR;

    case REDIS_REPLY_NIL:
        return (cmd->op == NGX_HTTP_OIDC_REDIS_INSERT) ? NGX_BUSY
               : (cmd->op == NGX_HTTP_OIDC_REDIS_REPLACE) ? NGX_ABORT
               : NGX_DECLINED;

    case REDIS_REPLY_STRING:
        value->data = (u_char *) reply->str;
        value->len = reply->len;
        return NGX_OK;

    case REDIS_REPLY_INTEGER:
        if (cmd->op == NGX_HTTP_OIDC_REDIS_LIVE_COUNT) {
            value->data = cmd->number;
            value->len = ngx_sprintf(cmd->number, "%L",
                                     (int64_t) reply->integer)
                         - cmd->number;
            return NGX_OK;
        }

        return (cmd->op == NGX_HTTP_OIDC_REDIS_TOUCH && reply->integer == 0)
               ? NGX_DECLINED : NGX_OK;

    default: /* REDIS_REPLY_STATUS: "OK" */
        return NGX_OK;
    }
}


/* connect timeout, or the oldest command in flight is late */

static void
ngx_http_oidc_redis_timer_handler(ngx_event_t *ev)
{
    ngx_queue_t                *q;
    ngx_msec_int_t              left;
    ngx_http_oidc_redis_t      *rd;
    ngx_http_oidc_redis_cmd_t  *cmd;

    rd = ev->data;

    if (rd->ac == NULL) {
        return;
    }

    if (rd->state == NGX_HTTP_OIDC_REDIS_CONNECTING) {
        ngx_http_oidc_redis_down(rd, "connect timed out");
        redisAsyncFree(rd->ac);
        return;
    }

    if (ngx_queue_empty(&rd->flight)) {
        return;
    }

    q = ngx_queue_head(&rd->flight);
    cmd = ngx_queue_data(q, ngx_http_oidc_redis_cmd_t, queue);

    left = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    if (left > 0) {
        ngx_add_timer(&rd->timer, (ngx_msec_t) left);
        return;
    }

    /* every command in flight fails, and the link is made again */
    ngx_http_oidc_redis_down(rd, "command timed out");
    redisAsyncFree(rd->ac);
}


static void
ngx_http_oidc_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_oidc_redis_t  *rd;

    rd = ev->data;

    if (!rd->exiting && rd->ac == NULL) {
        ngx_http_oidc_redis_connect(rd);
    }
}


/*
 * Level-triggered events: hiredis reads at most 16 KiB per call, and an
 * edge-triggered event would not come back for the rest.
 */

static void
ngx_http_oidc_redis_event_handler(ngx_event_t *ev)
{
    ngx_connection_t       *c;
    ngx_http_oidc_redis_t  *rd;

    c = ev->data;
    rd = c->data;

    if (rd->ac == NULL) {
        return;
    }

    if (ev->write) {
        rd->writing = 1;
        redisAsyncHandleWrite(rd->ac);
        rd->writing = 0;

    } else {
        redisAsyncHandleRead(rd->ac);
    }
}


/* hiredis's hooks: each asks for one direction on or off */

static void
ngx_http_oidc_redis_event(ngx_http_oidc_redis_t *rd, ngx_uint_t write,
    ngx_uint_t on)
{
    ngx_int_t     event;
    ngx_event_t  *ev;

    ev = write ? rd->conn->write : rd->conn->read;
    event = write ? NGX_WRITE_EVENT : NGX_READ_EVENT;

    if (on && !ev->active) {
        (void) ngx_add_event(ev, event, NGX_LEVEL_EVENT);

    } else if (!on && ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


static void
ngx_http_oidc_redis_add_read(void *data)
{
    ngx_http_oidc_redis_event(data, 0, 1);
}


static void
ngx_http_oidc_redis_del_read(void *data)
{
    ngx_http_oidc_redis_event(data, 0, 0);
}


/*
 * A new command on a connected link: written with the others of this
 * turn of the event loop by a posted write event, in one write() and
 * with no epoll change; the kernel is asked to tell when the socket is
 * writable only when a write could not finish.
 */

static void
ngx_http_oidc_redis_add_write(void *data)
{
    ngx_http_oidc_redis_t *rd = data;

    ngx_event_t  *wev;

    wev = rd->conn->write;

    if (rd->state == NGX_HTTP_OIDC_REDIS_UP && !rd->writing) {
        if (!wev->active && !wev->posted) {
            ngx_post_event(wev, &ngx_posted_events);
        }

        return;
    }

    ngx_http_oidc_redis_event(rd, 1, 1);
}


static void
ngx_http_oidc_redis_del_write(void *data)
{
    ngx_http_oidc_redis_t *rd = data;

    if (rd->conn->write->posted) {
        ngx_delete_posted_event(rd->conn->write);
    }

    ngx_http_oidc_redis_event(rd, 1, 0);
}


/*
 * hiredis frees the context (an error, a disconnect, our free): the
 * commands it held have had their NULL replies; hiredis closes the fd.
 */

static void
ngx_http_oidc_redis_cleanup(void *data)
{
    ngx_http_oidc_redis_t *rd = data;

    ngx_connection_t  *c;

    c = rd->conn;

    if (c != NULL) {
        ngx_http_oidc_redis_event(rd, 0, 0);
        ngx_http_oidc_redis_event(rd, 1, 0);

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
    }

    rd->conn = NULL;
    rd->ac = NULL;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->exiting) {
        return;
    }

    if (rd->state != NGX_HTTP_OIDC_REDIS_DOWN) {
        ngx_http_oidc_redis_down(rd, "connection closed");
    }

    ngx_add_timer(&rd->retry, rd->backoff);
    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_OIDC_REDIS_BACKOFF_MAX);
}


/* the link is down: said once per interval, not for every attempt */

static void
ngx_http_oidc_redis_down(ngx_http_oidc_redis_t *rd, const char *why)
{
    ngx_uint_t  was;

    was = (rd->state == NGX_HTTP_OIDC_REDIS_UP);

    rd->state = NGX_HTTP_OIDC_REDIS_DOWN;

    if (rd->ac == NULL && !rd->retry.timer_set && !rd->exiting) {
        /* no context to clean up: the retry is armed here */
        ngx_add_timer(&rd->retry, rd->backoff);
        rd->backoff = ngx_min(rd->backoff * 2,
                              NGX_HTTP_OIDC_REDIS_BACKOFF_MAX);
    }

    if (was) {
        /* the link that worked went: said at once, by each worker */
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "oidc: redis \"%V\" unavailable: %s, requests that "
                      "need it are answered 503 until it is back",
                      &rd->name, why);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "oidc: redis \"%V\": %s", &rd->name, why);

    /* one line for every later attempt and refusal, once per interval */
    ngx_http_oidc_redis_refused(rd, rd->log);
}


/* the error of a request refused because of it, once per interval */

void
ngx_http_oidc_redis_refused(ngx_http_oidc_redis_t *rd, ngx_log_t *log)
{
    ngx_http_oidc_log_failure(log, NULL, NGX_HTTP_OIDC_EP_REDIS,
                              "redis \"%V\" unavailable, answering 503",
                              &rd->name);
}
