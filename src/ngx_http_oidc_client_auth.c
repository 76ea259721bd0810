
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ngx_http_oidc_browser.h"
#include "ngx_http_oidc_client_auth.h"
#include "ngx_oidc_jws_sign.h"


#define NGX_HTTP_OIDC_KEY_FILE_MAX    (64 * 1024)
/* RFC 7523 3: a unique "jti"; 192 random bits */
#define NGX_HTTP_OIDC_JTI_BYTES       24


typedef struct {
    const char                   *name;
    ngx_uint_t                    method;
} ngx_http_oidc_auth_method_t;


static ngx_http_oidc_client_auth_t *ngx_http_oidc_client_auth_get(
    ngx_conf_t *cf, ngx_command_t *cmd, ngx_http_oidc_provider_t *p);
static EVP_PKEY *ngx_http_oidc_client_key_read(ngx_conf_t *cf,
    ngx_str_t *name);
static int ngx_http_oidc_client_key_no_password(char *buf, int size,
    int rwflag, void *u);
static void ngx_http_oidc_client_key_cleanup(void *data);
static const char *ngx_http_oidc_client_auth_name(ngx_uint_t method);
static ngx_int_t ngx_http_oidc_client_auth_check(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_client_auth_t *ca,
    ngx_uint_t method, ngx_uint_t line);
static ngx_int_t ngx_http_oidc_call_from_name(ngx_str_t *name);
static ngx_uint_t ngx_http_oidc_auth_method(ngx_str_t *name);
static void ngx_http_oidc_client_auth_error(ngx_conf_t *cf,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_client_auth_t *ca,
    ngx_uint_t level, ngx_uint_t line, const char *what);


static ngx_http_oidc_auth_method_t  ngx_http_oidc_auth_methods[] = {
    { "none", NGX_HTTP_OIDC_AUTH_NONE },
    { "client_secret_basic", NGX_HTTP_OIDC_AUTH_BASIC },
    { "client_secret_post", NGX_HTTP_OIDC_AUTH_POST },
    { "private_key_jwt", NGX_HTTP_OIDC_AUTH_JWT },
    { "client_token", NGX_HTTP_OIDC_AUTH_CLIENT_TOKEN },
    { NULL, 0 }
};


/* the calls, as "client_auth" and "token_param" name them */
static const char  *ngx_http_oidc_calls[] = {
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "revocation",
    "introspection",
    NULL
};


char *
ngx_http_oidc_client_auth_set_method(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_t *p = conf;

    ngx_str_t                    *value;
    ngx_uint_t                    method;
    ngx_http_oidc_client_auth_t  *ca;

    ca = ngx_http_oidc_client_auth_get(cf, cmd, p);
    if (ca == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ca->method) {
        return "is duplicate";
    }

    value = cf->args->elts;

    method = ngx_http_oidc_auth_method(&value[1]);

    /* client_token is per call: the grant that gets it needs another */
    if (method && method != NGX_HTTP_OIDC_AUTH_CLIENT_TOKEN) {
        ca->method = method;
        ca->method_line = cf->conf_file->line;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": unknown method \"%V\" "
                       "(client_secret_basic, client_secret_post, "
                       "private_key_jwt or none)", &cmd->name, &value[1]);

    return NGX_CONF_ERROR;
}


/* client_private_key_file FILE [kid=KID] [alg=ALG]; */

char *
ngx_http_oidc_client_auth_set_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_t *p = conf;

    u_char                       *c;
    unsigned                      alg;
    ngx_str_t                    *value, s;
    ngx_uint_t                    i;
    ngx_oidc_err_t                err;
    ngx_http_oidc_client_auth_t  *ca;

    ca = ngx_http_oidc_client_auth_get(cf, cmd, p);
    if (ca == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ca->key) {
        return "is duplicate";
    }

    value = cf->args->elts;
    alg = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "kid=", 4) == 0 && ca->kid.len == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            /* it goes into a JSON header: printable ASCII only */
            for (c = s.data; c < s.data + s.len; c++) {
                if (*c <= 0x20 || *c >= 0x7f) {
                    break;
                }
            }

            if (s.len == 0 || c != s.data + s.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"client_private_key_file\": invalid "
                                   "\"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            ca->kid = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "alg=", 4) == 0 && alg == 0) {
            alg = ngx_oidc_alg_from_name(value[i].data + 4, value[i].len - 4);

            if (alg == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"client_private_key_file\": unknown "
                                   "algorithm \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"client_private_key_file\": invalid or "
                           "duplicate parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    ca->key = ngx_http_oidc_client_key_read(cf, &value[1]);
    if (ca->key == NULL) {
        return NGX_CONF_ERROR;
    }

    ca->key_line = cf->conf_file->line;

    if (ngx_oidc_jws_sign_alg(ca->key) == 0) {
        (void) ngx_oidc_jws_sign_check(ca->key, 0, &err);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"client_private_key_file\" \"%V\": %s (%s); "
                           "RSA of at least 2048 bits, EC P-256, P-384, "
                           "P-521 or Ed25519", &value[1], err.reason,
                           err.detail);
        return NGX_CONF_ERROR;
    }

    ca->alg = alg ? alg : ngx_oidc_jws_sign_alg(ca->key);

    if (ngx_oidc_jws_sign_check(ca->key, ca->alg, &err) != NGX_OIDC_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"client_private_key_file\" \"%V\": %s (%s)",
                           &value[1], err.reason, err.detail);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_oidc_client_auth_init(ngx_conf_t *cf, ngx_http_oidc_provider_t *p)
{
    if (p->client_auth == NULL) {
        p->client_auth = ngx_pcalloc(cf->pool,
                                     sizeof(ngx_http_oidc_client_auth_t));
        if (p->client_auth == NULL) {
            return NGX_ERROR;
        }
    }

    return ngx_http_oidc_client_auth_setup(cf, p, p->client_auth,
                                           &p->client_id, &p->client_secret,
                                           "token_endpoint_auth");
}


ngx_int_t
ngx_http_oidc_client_auth_setup(ngx_conf_t *cf, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_client_auth_t *ca, ngx_str_t *client_id, ngx_str_t *secret,
    const char *directive)
{
    ngx_uint_t  i, used;

    ca->client_id = *client_id;
    ca->client_secret = *secret;
    ca->directive = directive;

    if (ca->method == 0) {
        /* a key or a secret says how the client was registered */
        ca->method = ca->key ? NGX_HTTP_OIDC_AUTH_JWT
                     : secret->len ? NGX_HTTP_OIDC_AUTH_BASIC
                     : NGX_HTTP_OIDC_AUTH_NONE;
    }

    if (ngx_http_oidc_client_auth_check(cf, p, ca, ca->method,
                                        ca->method_line)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    used = (ca->method == NGX_HTTP_OIDC_AUTH_JWT);

    for (i = 0; i < NGX_HTTP_OIDC_CALLS; i++) {
        if (ca->call[i] == 0) {
            continue;
        }

        if (ngx_http_oidc_client_auth_check(cf, p, ca, ca->call[i],
                                            ca->call_line[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ca->call[i] == NGX_HTTP_OIDC_AUTH_JWT) {
            used = 1;
        }

        if (ca->call[i] == NGX_HTTP_OIDC_AUTH_CLIENT_TOKEN
            && p->client_token == NULL)
        {
            /* the provider's own token, kept fresh for these calls */
            p->client_token = ngx_http_oidc_client_token_add(cf, p);
            if (p->client_token == NULL) {
                return NGX_ERROR;
            }
        }
    }

    if (ca->key && !used) {
        ngx_http_oidc_client_auth_error(cf, p, ca, NGX_LOG_WARN, ca->key_line,
                                        (ca == p->client_auth)
                                        ? "leaves \"client_private_key_file\" "
                                          "unused"
                                        : "leaves \"introspection_private_"
                                          "key_file\" unused");
    }

    return NGX_OK;
}


/* what a method needs, for the default and for each call */

static ngx_int_t
ngx_http_oidc_client_auth_check(ngx_conf_t *cf, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_client_auth_t *ca, ngx_uint_t method, ngx_uint_t line)
{
    json_t  *id;

    switch (method) {

    case NGX_HTTP_OIDC_AUTH_BASIC:
    case NGX_HTTP_OIDC_AUTH_POST:
        if (ca->client_secret.len == 0) {
            ngx_http_oidc_client_auth_error(cf, p, ca, NGX_LOG_EMERG, line,
                                            (ca == p->client_auth)
                                            ? "needs \"client_secret\" or "
                                              "\"client_secret_file\""
                                            : "needs \"introspection_client_"
                                              "secret\" or \"introspection_"
                                              "client_secret_file\"");
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_OIDC_AUTH_JWT:
        if (ca->key == NULL) {
            ngx_http_oidc_client_auth_error(cf, p, ca, NGX_LOG_EMERG, line,
                                            (ca == p->client_auth)
                                            ? "needs \"client_private_key_"
                                              "file\""
                                            : "needs \"introspection_private_"
                                              "key_file\"");
            return NGX_ERROR;
        }

        /* "iss" and "sub" of the assertion: a JSON string */
        id = json_stringn((char *) ca->client_id.data, ca->client_id.len);

        if (id == NULL || ca->client_id.len == 0) {
            ngx_http_oidc_client_auth_error(cf, p, ca, NGX_LOG_EMERG, line,
                                            "needs a \"client_id\" (UTF-8)");
            return NGX_ERROR;
        }

        json_decref(id);

        break;

    case NGX_HTTP_OIDC_AUTH_CLIENT_TOKEN:
        /* the client credentials grant itself authenticates otherwise */
        if (ca->call[NGX_HTTP_OIDC_CALL_CLIENT]
            == NGX_HTTP_OIDC_AUTH_CLIENT_TOKEN
            || (ca->call[NGX_HTTP_OIDC_CALL_CLIENT] == 0
                && ca->method == NGX_HTTP_OIDC_AUTH_NONE))
        {
            ngx_http_oidc_client_auth_error(cf, p, ca, NGX_LOG_EMERG, line,
                                            "needs the client credentials "
                                            "grant authenticated otherwise "
                                            "(\"client_auth client_credentials"
                                            " client_secret_basic\")");
            return NGX_ERROR;
        }

        break;

    default: /* NGX_HTTP_OIDC_AUTH_NONE */
        break;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oidc_client_assertion(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_oidc_provider_t *p, ngx_http_oidc_client_auth_t *ca,
    ngx_str_t *endpoint, ngx_str_t *assertion)
{
    int                           rc;
    char                         *h, *c;
    time_t                        now;
    size_t                        len;
    json_t                       *header, *claims;
    ngx_str_t                     jti;
    ngx_oidc_err_t                err;

    jti.len = ngx_oidc_random_token_len(NGX_HTTP_OIDC_JTI_BYTES);
    jti.data = ngx_pnalloc(pool, jti.len);

    if (jti.data == NULL
        || ngx_oidc_random_token(jti.data, NGX_HTTP_OIDC_JTI_BYTES, &err)
           != NGX_OIDC_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "oidc: client assertion: no random \"jti\"");
        return NGX_ERROR;
    }

    now = ngx_time();

    header = json_pack("{s:s, s:s}", "alg", ngx_oidc_alg_name(ca->alg),
                       "typ", "JWT");

    if (header != NULL && ca->kid.len
        && json_object_set_new(header, "kid",
                               json_stringn((char *) ca->kid.data,
                                            ca->kid.len))
           != 0)
    {
        json_decref(header);
        header = NULL;
    }

    /* RFC 7523 3; "aud": the endpoint called, as OIDC Core 9 suggests */
    claims = json_pack("{s:s%, s:s%, s:s%, s:s%, s:I, s:I}",
                       "iss", ca->client_id.data, ca->client_id.len,
                       "sub", ca->client_id.data, ca->client_id.len,
                       "aud", endpoint->data, endpoint->len,
                       "jti", jti.data, jti.len,
                       "iat", (json_int_t) now,
                       "exp", (json_int_t) (now
                                            + NGX_HTTP_OIDC_ASSERTION_TTL));

    h = header ? json_dumps(header, JSON_COMPACT) : NULL;
    c = claims ? json_dumps(claims, JSON_COMPACT) : NULL;

    if (header) {
        json_decref(header);
    }

    if (claims) {
        json_decref(claims);
    }

    if (h == NULL || c == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oidc: client assertion for provider \"%V\" not built",
                      &p->name);
        rc = NGX_OIDC_ERROR;
        goto done;
    }

    len = ngx_oidc_jws_sign_len(ca->key, ngx_strlen(h), ngx_strlen(c));

    assertion->data = ngx_pnalloc(pool, len);
    if (assertion->data == NULL) {
        rc = NGX_OIDC_ERROR;
        goto done;
    }

    rc = ngx_oidc_jws_sign(ca->key, ca->alg, (u_char *) h, ngx_strlen(h),
                           (u_char *) c, ngx_strlen(c), assertion->data,
                           &assertion->len, &err);

    if (rc != NGX_OIDC_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oidc: client assertion for provider \"%V\": %s",
                      &p->name, err.reason);
    }

done:

    free(h);
    free(c);

    return (rc == NGX_OIDC_OK) ? NGX_OK : NGX_ERROR;
}


static ngx_http_oidc_client_auth_t *
ngx_http_oidc_client_auth_get(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_oidc_provider_t *p)
{
    ngx_http_oidc_client_auth_t  **ca;

    /* the login client's or the introspection client's */
    ca = (ngx_http_oidc_client_auth_t **) ((char *) p + cmd->offset);

    if (*ca == NULL) {
        *ca = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_client_auth_t));
    }

    return *ca;
}


/* a PEM private key (PKCS#8 or traditional, not encrypted), parsed once */

static EVP_PKEY *
ngx_http_oidc_client_key_read(ngx_conf_t *cf, ngx_str_t *name)
{
    BIO                 *bio;
    EVP_PKEY            *pkey;
    ngx_str_t            pem;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    if (ngx_http_oidc_conf_read_file(cf, name, NGX_HTTP_OIDC_KEY_FILE_MAX,
                                     "client_private_key_file", &pem)
        != NGX_OK)
    {
        return NULL;
    }

    pkey = NULL;
    bio = BIO_new_mem_buf(pem.data, (int) pem.len);

    if (bio != NULL) {
        /* never a passphrase prompt on the terminal */
        pkey = PEM_read_bio_PrivateKey(bio, NULL,
                                       ngx_http_oidc_client_key_no_password,
                                       NULL);
        BIO_free(bio);
    }

    ngx_explicit_memzero(pem.data, pem.len);

    /* OpenSSL's reasons may quote the file: none is logged */
    ERR_clear_error();

    if (pkey == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"client_private_key_file\": no PEM private key "
                           "(PKCS#8 or traditional, not encrypted) in \"%V\"",
                           name);
        return NULL;
    }

    cln->handler = ngx_http_oidc_client_key_cleanup;
    cln->data = pkey;

    return pkey;
}


static int
ngx_http_oidc_client_key_no_password(char *buf, int size, int rwflag,
    void *u)
{
    return -1;
}


static void
ngx_http_oidc_client_key_cleanup(void *data)
{
    EVP_PKEY_free(data);
}


static const char *
ngx_http_oidc_client_auth_name(ngx_uint_t method)
{
    ngx_http_oidc_auth_method_t  *m;

    for (m = ngx_http_oidc_auth_methods; m->name; m++) {
        if (m->method == method) {
            return m->name;
        }
    }

    return "unknown";
}


/* at the directive's line when it was written, else at the block's end */

static void
ngx_http_oidc_client_auth_error(ngx_conf_t *cf, ngx_http_oidc_provider_t *p,
    ngx_http_oidc_client_auth_t *ca, ngx_uint_t level, ngx_uint_t line,
    const char *what)
{
    ngx_uint_t  i, saved;

    saved = cf->conf_file->line;

    if (line) {
        cf->conf_file->line = line;
    }

    for (i = 0; i < NGX_HTTP_OIDC_CALLS; i++) {
        if (line && ca->call[i] && ca->call_line[i] == line) {
            break;
        }
    }

    if (i < NGX_HTTP_OIDC_CALLS) {
        ngx_conf_log_error(level, cf, 0,
                           "oidc_provider \"%V\": \"client_auth %s %s\" %s",
                           &p->name, ngx_http_oidc_calls[i],
                           ngx_http_oidc_client_auth_name(ca->call[i]), what);

    } else {
        ngx_conf_log_error(level, cf, 0,
                           "oidc_provider \"%V\": \"%s %s\" %s",
                           &p->name, ca->directive,
                           ngx_http_oidc_client_auth_name(ca->method), what);
    }

    cf->conf_file->line = saved;
}


/* client_auth CALL METHOD */

char *
ngx_http_oidc_client_auth_set_call(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_t *p = conf;

    ngx_int_t                     call;
    ngx_str_t                    *value;
    ngx_http_oidc_client_auth_t  *ca;

    ca = ngx_http_oidc_client_auth_get(cf, cmd, p);
    if (ca == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    call = ngx_http_oidc_call_from_name(&value[1]);

    if (call == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"client_auth\": unknown call \"%V\" "
                           "(authorization_code, refresh_token, "
                           "client_credentials, revocation or "
                           "introspection)", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ca->call[call]) {
        return "is duplicate";
    }

    ca->call[call] = ngx_http_oidc_auth_method(&value[2]);

    if (ca->call[call]) {
        ca->call_line[call] = cf->conf_file->line;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"client_auth\": unknown method \"%V\" "
                       "(client_secret_basic, client_secret_post, "
                       "private_key_jwt, client_token or none)", &value[2]);

    return NGX_CONF_ERROR;
}


/* token_param CALL|all NAME VALUE */

char *
ngx_http_oidc_client_auth_set_param(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oidc_provider_t *p = conf;

    ngx_int_t                     call;
    ngx_str_t                    *value;
    ngx_http_oidc_token_param_t  *tp;

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "all", 3) == 0) {
        call = -1;

    } else {
        call = ngx_http_oidc_call_from_name(&value[1]);

        if (call == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"token_param\": unknown call \"%V\" "
                               "(authorization_code, refresh_token, "
                               "client_credentials, revocation, "
                               "introspection or all)", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (value[2].len == 0) {
        return "has an empty name";
    }

    if (p->token_params == NULL) {
        p->token_params = ngx_array_create(cf->pool, 2,
                                           sizeof(ngx_http_oidc_token_param_t));
        if (p->token_params == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    tp = ngx_array_push(p->token_params);
    if (tp == NULL) {
        return NGX_CONF_ERROR;
    }

    tp->calls = (call == -1) ? (1 << NGX_HTTP_OIDC_CALLS) - 1
                             : (ngx_uint_t) 1 << call;
    tp->name = value[2];
    tp->value = value[3];

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_oidc_call_from_name(ngx_str_t *name)
{
    ngx_int_t  i;

    for (i = 0; ngx_http_oidc_calls[i]; i++) {
        if (ngx_strcmp(name->data, ngx_http_oidc_calls[i]) == 0) {
            return i;
        }
    }

    return NGX_ERROR;
}


static ngx_uint_t
ngx_http_oidc_auth_method(ngx_str_t *name)
{
    ngx_http_oidc_auth_method_t  *m;

    for (m = ngx_http_oidc_auth_methods; m->name; m++) {
        if (ngx_strcmp(name->data, m->name) == 0) {
            return m->method;
        }
    }

    return 0;
}
