
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_oidc.h"
#include "ngx_oidc_smart.h"


/*
 * auth_oidc_smart BASE [patient_claim=NAME]: SMART on FHIR scopes
 * enforced on the FHIR REST API under BASE (ngx_oidc_smart.c decides;
 * the rules are in README.md).  Before authentication the request is
 * classified (a POST _search's form body is read first), capabilities
 * pass without a token; after it, the token's scopes and launch patient
 * must allow the interaction, else 403 with an OperationOutcome.
 */


/* a POST _search body larger than this is refused, never parsed */
#define NGX_HTTP_OIDC_SMART_BODY_MAX  65536


typedef struct {
    ngx_str_t                     base;             /* ends with "/" */
    ngx_str_t                     patient_claim;    /* NUL-terminated */
    u_char                       *file;
    ngx_uint_t                    line;
} ngx_http_oidc_smart_conf_t;


typedef struct {
    ngx_oidc_fhir_request_t       req;
    ngx_str_t                     patient;          /* when allowed */
    unsigned                      body_checked:1;
} ngx_http_oidc_smart_ctx_t;


static ngx_int_t ngx_http_oidc_smart_classify(ngx_http_request_t *r,
    ngx_http_oidc_smart_conf_t *sc, ngx_http_oidc_smart_ctx_t *sctx,
    ngx_str_t *body);
static ngx_int_t ngx_http_oidc_smart_scopes(ngx_http_request_t *r,
    json_t *claims, ngx_oidc_smart_scopes_t *set);
static ngx_int_t ngx_http_oidc_smart_scope_add(ngx_http_request_t *r,
    json_t *value, ngx_oidc_smart_scopes_t *set);
static ngx_int_t ngx_http_oidc_smart_refuse(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_uint_t status, const char *code,
    const char *text, ngx_str_t *scope);
static ngx_int_t ngx_http_oidc_smart_patient_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_oidc_smart_patient_name =
    ngx_string("oidc_smart_patient");


char *
ngx_http_oidc_smart_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oidc_loc_conf_t *olcf = conf;

    u_char                      *p;
    ngx_str_t                   *value, base;
    ngx_uint_t                   i;
    ngx_http_oidc_smart_conf_t  *sc;

    if (olcf->smart != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no parameter with \"off\"";
        }

        olcf->smart = NULL;
        return NGX_CONF_OK;
    }

    base = value[1];

    /* r->uri is compared with it as is: a plain, normalized path */
    if (base.data[0] != '/' || ngx_strstr(base.data, "//") != NULL
        || ngx_strstr(base.data, "/./") != NULL
        || ngx_strstr(base.data, "/../") != NULL)
    {
        goto invalid;
    }

    for (i = 0; i < base.len; i++) {
        if (!(ngx_http_oidc_isalnum(base.data[i]) || base.data[i] == '/'
              || base.data[i] == '-' || base.data[i] == '_'
              || base.data[i] == '.' || base.data[i] == '~'))
        {
            goto invalid;
        }
    }

    sc = ngx_pcalloc(cf->pool, sizeof(ngx_http_oidc_smart_conf_t));
    if (sc == NULL) {
        return NGX_CONF_ERROR;
    }

    sc->base.len = base.len + (base.data[base.len - 1] != '/');
    sc->base.data = ngx_pnalloc(cf->pool, sc->base.len);
    if (sc->base.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(sc->base.data, base.data, base.len);
    if (sc->base.len > base.len) {
        *p = '/';
    }

    ngx_str_set(&sc->patient_claim, "patient");

    for (i = 2; i < cf->args->nelts; i++) {
        if (value[i].len > 14
            && ngx_strncmp(value[i].data, "patient_claim=", 14) == 0)
        {
            /* value[] strings are NUL-terminated: jansson's keys are */
            sc->patient_claim.data = value[i].data + 14;
            sc->patient_claim.len = value[i].len - 14;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    sc->file = cf->conf_file->file.name.data;
    sc->line = cf->conf_file->line;

    olcf->smart = sc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid FHIR base path \"%V\": an absolute path of "
                       "letters, digits, \"-._~/\", no \"//\", \".\" or "
                       "\"..\" segments", &base);
    return NGX_CONF_ERROR;
}


char *
ngx_http_oidc_smart_merge(ngx_conf_t *cf, ngx_http_oidc_loc_conf_t *prev,
    ngx_http_oidc_loc_conf_t *conf)
{
    ngx_http_oidc_smart_conf_t  *sc;

    if (conf->smart == NGX_CONF_UNSET_PTR) {
        conf->smart = (prev->smart == NGX_CONF_UNSET_PTR) ? NULL
                                                          : prev->smart;
        return NGX_CONF_OK;
    }

    /* set here: enforcement without authentication would enforce nothing */
    sc = conf->smart;

    if (sc != NULL && !conf->enable) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_oidc_smart\" in %s:%ui needs \"auth_oidc\"",
                      sc->file, sc->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_oidc_smart_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_oidc_smart_patient_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_oidc_smart_patient_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oidc_smart_patient_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_oidc_ctx_t        *ctx;
    ngx_http_oidc_smart_ctx_t  *sctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oidc_module);
    sctx = (ctx != NULL) ? ctx->smart : NULL;

    if (sctx == NULL || sctx->patient.len == 0 || ctx->claims == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = sctx->patient.data;
    v->len = sctx->patient.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Before authentication.  NGX_OK: authenticate, then
 * ngx_http_oidc_smart_authorize(); NGX_DECLINED: capabilities, let
 * through without a token (ctx is DONE); NGX_DONE / NGX_AGAIN: a page
 * was sent, or the body is being read (the phases run again when it
 * is); NGX_ERROR or a status.
 */

ngx_int_t
ngx_http_oidc_smart_start(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_str_t                    body;
    ngx_http_oidc_smart_ctx_t   *sctx;
    ngx_http_oidc_smart_conf_t  *sc;

    sc = olcf->smart;
    sctx = ctx->smart;

    if (sctx == NULL) {
        sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_oidc_smart_ctx_t));
        if (sctx == NULL) {
            return NGX_ERROR;
        }

        ctx->smart = sctx;

        rc = ngx_http_oidc_smart_classify(r, sc, sctx, NULL);
        if (rc != NGX_OK) {
            return rc;
        }

        if (sctx->req.interaction == NGX_OIDC_FHIR_CAPABILITIES) {
            ctx->state = NGX_HTTP_OIDC_DONE;
            ctx->verdict = NGX_DECLINED;
            return NGX_DECLINED;
        }

    }

    if (!sctx->req.search_post) {
        return NGX_OK;
    }

    /* [REST] 3.1.0.9: POST _search carries a form, classified again */
    rc = ngx_http_oidc_form_body(r, NGX_HTTP_OIDC_SMART_BODY_MAX, &body);

    switch (rc) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_http_oidc_smart_refuse(r, NULL,
                                          NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                          "not-supported",
                                          "POST _search needs an "
                                          "application/x-www-form-urlencoded "
                                          "body", NULL);

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_http_oidc_refuse(r, olcf->provider,
                             NGX_HTTP_OIDC_M_TOKEN_REFUSED_SMART,
                             "SMART refused: POST _search body larger than "
                             "client_body_buffer_size or %d bytes",
                             NGX_HTTP_OIDC_SMART_BODY_MAX);
        return ngx_http_oidc_smart_refuse(r, NULL,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          "too-costly",
                                          "POST _search body too large",
                                          NULL);

    default: /* NGX_DONE, NGX_AGAIN: being read; errors */
        return rc;
    }

    if (sctx->body_checked) {
        return NGX_OK;
    }

    sctx->body_checked = 1;

    return ngx_http_oidc_smart_classify(r, sc, sctx, &body);
}


/*
 * The request as the upstream will see it: proxy_pass without a URI
 * sends the client's unparsed URI, so that must be exactly r->uri (no
 * percent-encoding, no "//" or dot segment nginx resolved), or nginx
 * and the FHIR server could read two different paths.
 */

static ngx_int_t
ngx_http_oidc_smart_classify(ngx_http_request_t *r,
    ngx_http_oidc_smart_conf_t *sc, ngx_http_oidc_smart_ctx_t *sctx,
    ngx_str_t *body)
{
    u_char                    *buf, *q;
    size_t                     raw;
    ngx_uint_t                 i, n;
    ngx_str_t                  path, ine, empty;
    ngx_oidc_err_t             err;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h, *inh;
    ngx_http_oidc_loc_conf_t  *olcf;

    /* the provider, for the refusal lines */
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oidc_module);

    if (r->valid_unparsed_uri) {
        q = ngx_strlchr(r->unparsed_uri.data,
                        r->unparsed_uri.data + r->unparsed_uri.len, '?');
        raw = (q ? q : r->unparsed_uri.data + r->unparsed_uri.len)
              - r->unparsed_uri.data;

        if (raw != r->uri.len
            || ngx_strncmp(r->unparsed_uri.data, r->uri.data, raw) != 0)
        {
            ngx_http_oidc_refuse(r, olcf->provider,
                                 NGX_HTTP_OIDC_M_TOKEN_REFUSED_SMART,
                                 "SMART refused: encoded or unnormalized "
                                 "path");
            return ngx_http_oidc_smart_refuse(r, NULL, NGX_HTTP_BAD_REQUEST,
                                              "invalid",
                                              "FHIR paths are not "
                                              "percent-encoded", NULL);
        }
    }

    if (r->uri.len + 1 == sc->base.len
        && ngx_strncmp(r->uri.data, sc->base.data, r->uri.len) == 0)
    {
        ngx_str_set(&path, "");

    } else if (r->uri.len >= sc->base.len
               && ngx_strncmp(r->uri.data, sc->base.data, sc->base.len) == 0)
    {
        path.data = r->uri.data + sc->base.len;
        path.len = r->uri.len - sc->base.len;

    } else {
        ngx_http_oidc_refuse(r, olcf->provider,
                             NGX_HTTP_OIDC_M_TOKEN_REFUSED_SMART,
                             "SMART refused: \"%V\" is outside the FHIR base "
                             "\"%V\"", &r->uri, &sc->base);
        return ngx_http_oidc_smart_refuse(r, NULL, NGX_HTTP_FORBIDDEN,
                                          "forbidden",
                                          "outside the FHIR base", NULL);
    }

    /* a second If-None-Exist could be the one the FHIR server reads */
    ngx_str_null(&ine);
    inh = NULL;
    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == sizeof("If-None-Exist") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "If-None-Exist",
                                   sizeof("If-None-Exist") - 1) == 0)
            {
                inh = &h[i];
                n++;
            }
        }
    }

    if (n > 1) {
        return ngx_http_oidc_smart_refuse(r, NULL, NGX_HTTP_BAD_REQUEST,
                                          "invalid",
                                          "more than one If-None-Exist",
                                          NULL);
    }

    if (inh != NULL) {
        ine = inh->value;
    }

    ngx_str_null(&empty);

    if (body == NULL) {
        body = &empty;
    }

    buf = ngx_pnalloc(r->pool, r->args.len + body->len + ine.len + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    err.reason = NULL;

    if (ngx_oidc_fhir_classify(&sctx->req, (ngx_oidc_str_t *) &r->method_name,
                               (ngx_oidc_str_t *) &path,
                               (ngx_oidc_str_t *) &r->args,
                               (ngx_oidc_str_t *) body,
                               (ngx_oidc_str_t *) &ine, buf, &err)
        != NGX_OIDC_OK)
    {
        ngx_http_oidc_refuse(r, olcf->provider,
                             NGX_HTTP_OIDC_M_TOKEN_REFUSED_SMART,
                             "SMART refused %V \"%V\": %s",
                             &r->method_name, &path,
                             err.reason ? err.reason : "invalid");
        return ngx_http_oidc_smart_refuse(r, NULL, NGX_HTTP_BAD_REQUEST,
                                          "not-supported",
                                          err.reason ? err.reason
                                                     : "invalid request",
                                          NULL);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oidc: SMART %s \"%V\" %uz parameters",
                   ngx_oidc_fhir_interaction_name(sctx->req.interaction),
                   &path, sctx->req.nparams);

    return NGX_OK;
}


/*
 * After authentication, before auth_oidc_header: NGX_OK (allowed,
 * $oidc_smart_patient set), NGX_DONE (refused: the 403 was sent and the
 * request finalized, so the caller must not touch it), NGX_ERROR.
 */

ngx_int_t
ngx_http_oidc_smart_authorize(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_http_oidc_ctx_t *ctx)
{
    json_t                      *claims, *pv;
    size_t                       len;
    u_char                       text[256];
    ngx_str_t                    patient, scope;
    ngx_oidc_smart_verdict_t     v;
    ngx_oidc_smart_scopes_t     *set;
    ngx_http_oidc_smart_ctx_t   *sctx;
    ngx_http_oidc_smart_conf_t  *sc;

    sc = olcf->smart;
    sctx = ctx->smart;
    claims = ctx->claims;

    if (sctx == NULL || claims == NULL) {
        return NGX_ERROR;
    }

    set = ngx_pcalloc(r->pool, sizeof(ngx_oidc_smart_scopes_t));
    if (set == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oidc_smart_scopes(r, claims, set) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the launch patient: a claim, or the introspection member */
    ngx_str_null(&patient);

    pv = json_object_get(claims, (char *) sc->patient_claim.data);

    if (json_is_string(pv)) {
        patient.data = (u_char *) json_string_value(pv);
        patient.len = json_string_length(pv);

        if (!ngx_oidc_fhir_valid_id(patient.data, patient.len)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "oidc: SMART: claim \"%V\" is not a FHIR id, "
                          "ignored", &sc->patient_claim);
            ngx_str_null(&patient);
        }

    } else if (pv != NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "oidc: SMART: claim \"%V\" is not a string, ignored",
                      &sc->patient_claim);
    }

    if (ngx_oidc_smart_decide(set, &sctx->req, (ngx_oidc_str_t *) &patient,
                              &v)
        == NGX_OIDC_OK)
    {
        if (patient.len > 0) {
            sctx->patient.data = ngx_pstrdup(r->pool, &patient);
            if (sctx->patient.data == NULL) {
                return NGX_ERROR;
            }

            sctx->patient.len = patient.len;
        }

        return NGX_OK;
    }

    len = ngx_oidc_smart_verdict_scope(&v, NULL);

    scope.data = ngx_pnalloc(r->pool, len + 1);
    if (scope.data == NULL) {
        return NGX_ERROR;
    }

    scope.len = ngx_oidc_smart_verdict_scope(&v, scope.data);

    ngx_http_oidc_refuse(r, olcf->provider, NGX_HTTP_OIDC_M_TOKEN_REFUSED_SMART,
                         "SMART refused %s %V: %s; needs \"%V\" "
                         "(%uz SMART scopes granted)",
                         ngx_oidc_fhir_interaction_name(sctx->req.interaction),
                         &sctx->req.type, v.reason, &scope, set->n);

    ngx_snprintf(text, sizeof(text) - 1, "%s%Z", v.reason);

    return ngx_http_oidc_smart_refuse(r, olcf, NGX_HTTP_FORBIDDEN,
                                      "forbidden", (char *) text,
                                      (v.n > 0) ? &scope : NULL);
}


/* the granted scopes: "scope" words, "scp" words or elements */

static ngx_int_t
ngx_http_oidc_smart_scopes(ngx_http_request_t *r, json_t *claims,
    ngx_oidc_smart_scopes_t *set)
{
    size_t   i;
    json_t  *scp;

    if (ngx_http_oidc_smart_scope_add(r, json_object_get(claims, "scope"),
                                      set)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    scp = json_object_get(claims, "scp");

    if (json_is_array(scp)) {
        for (i = 0; i < json_array_size(scp); i++) {
            if (ngx_http_oidc_smart_scope_add(r, json_array_get(scp, i), set)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    return ngx_http_oidc_smart_scope_add(r, scp, set);
}


static ngx_int_t
ngx_http_oidc_smart_scope_add(ngx_http_request_t *r, json_t *value,
    ngx_oidc_smart_scopes_t *set)
{
    u_char  *p;
    size_t   len;

    if (!json_is_string(value)) {
        return NGX_OK;
    }

    /* parsed in place: restrictions are decoded there */
    len = json_string_length(value);

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, json_string_value(value), len);

    (void) ngx_oidc_smart_scopes_parse(set, p, len);

    return NGX_OK;
}


/*
 * A refusal FHIR clients understand: an OperationOutcome (R4
 * operationoutcome.html), and with "scope" an RFC 6750 challenge
 * naming it.  "text" and "scope" come from validated or static strings
 * (no '"', '\' or control character), so they go into JSON as is.
 */

static ngx_int_t
ngx_http_oidc_smart_refuse(ngx_http_request_t *r,
    ngx_http_oidc_loc_conf_t *olcf, ngx_uint_t status, const char *code,
    const char *text, ngx_str_t *scope)
{
    size_t      len;
    u_char     *p;
    ngx_str_t   outcome;

    if (scope != NULL && olcf != NULL
        && ngx_http_oidc_www_authenticate(r, &olcf->realm,
                                          "insufficient_scope", scope, 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    len = sizeof("{\"resourceType\":\"OperationOutcome\",\"issue\":[{"
                 "\"severity\":\"error\",\"code\":\"\",\"diagnostics\":\"\""
                 "}]}\n") + ngx_strlen(code) + ngx_strlen(text)
          + sizeof("; needed scope: ") + (scope ? scope->len : 0);

    outcome.data = ngx_pnalloc(r->pool, len);
    if (outcome.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(outcome.data, "{\"resourceType\":\"OperationOutcome\","
                    "\"issue\":[{\"severity\":\"error\",\"code\":\"%s\","
                    "\"diagnostics\":\"%s", code, text);

    if (scope != NULL) {
        p = ngx_sprintf(p, "; needed scope: %V", scope);
    }

    p = ngx_cpymem(p, "\"}]}\n", sizeof("\"}]}\n") - 1);
    outcome.len = p - outcome.data;

    return ngx_http_oidc_send(r, status, "application/fhir+json", &outcome);
}
