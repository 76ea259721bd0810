
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#ifndef _NGX_OIDC_SMART_H_INCLUDED_
#define _NGX_OIDC_SMART_H_INCLUDED_


#include "ngx_oidc_types.h"
#include "ngx_oidc_url.h"


/*
 * SMART on FHIR authorization, as pure functions: the scopes a token
 * grants (SMART App Launch 2.x, "Scopes and Launch Context"), what a
 * FHIR R4 REST request is (FHIR R4 http.html), and whether the first
 * allow the second.  The rules are in README.md ("SMART on FHIR").
 */


/* SMART App Launch 2.x, "Scopes for requesting clinical data" */
#define NGX_OIDC_SMART_C           0x01     /* create */
#define NGX_OIDC_SMART_R           0x02     /* read, vread, instance history */
#define NGX_OIDC_SMART_U           0x04     /* update, patch */
#define NGX_OIDC_SMART_D           0x08     /* delete */
#define NGX_OIDC_SMART_S           0x10     /* search, type/system history */
#define NGX_OIDC_SMART_CRUDS       0x1f

#define NGX_OIDC_SMART_PATIENT     1
#define NGX_OIDC_SMART_USER        2
#define NGX_OIDC_SMART_SYSTEM      3

/* more scopes, or restrictions in one scope, are ignored */
#define NGX_OIDC_SMART_MAX_SCOPES  64
#define NGX_OIDC_SMART_MAX_PARAMS  8

/* FHIR R4 id: [A-Za-z0-9\-\.]{1,64}; resource types are shorter */
#define NGX_OIDC_FHIR_ID_MAX       64


typedef struct {
    unsigned                context;        /* NGX_OIDC_SMART_PATIENT... */
    unsigned                perms;          /* NGX_OIDC_SMART_C... */
    ngx_oidc_str_t          type;           /* "*": every type */
    size_t                  nparams;        /* v2 "?param=value&..." */
    ngx_oidc_param_t        params[NGX_OIDC_SMART_MAX_PARAMS];
} ngx_oidc_smart_scope_t;


typedef struct {
    size_t                  n;
    size_t                  ignored;        /* words that are not SMART */
    ngx_oidc_smart_scope_t  scope[NGX_OIDC_SMART_MAX_SCOPES];
} ngx_oidc_smart_scopes_t;


/*
 * Adds the SMART clinical scopes among the space-separated words of
 * "s" (a "scope" claim, or one "scp" element) to "set"; call it once
 * per string, "set" zeroed first.  A word is a clinical scope when it
 * is context "/" type "." permissions with context "patient", "user" or
 * "system", type a FHIR resource type ([A-Z][A-Za-z]*) or "*", and
 * permissions v1 "read" (= "rs"), "write" (= "cud"), "*" (= "cruds"),
 * or v2 a non-empty subset of "cruds" in that order; v2 permissions may
 * be followed by "?" and "param=value" pairs joined by "&" (decoded as
 * a query string, in place: "s" is modified there).  Any other word
 * (openid, fhirUser, launch/patient, offline_access, ".dus", ".rd?")
 * is ignored, as the specification allows.  Scopes point into "s".
 * Returns the number of scopes added.
 */
size_t ngx_oidc_smart_scopes_parse(ngx_oidc_smart_scopes_t *set,
    unsigned char *s, size_t len);


/* FHIR R4 RESTful interactions (http.html), as the gateway tells them */
typedef enum {
    NGX_OIDC_FHIR_INVALID = 0,
    NGX_OIDC_FHIR_CAPABILITIES,         /* metadata, smart-configuration */
    NGX_OIDC_FHIR_READ,
    NGX_OIDC_FHIR_VREAD,
    NGX_OIDC_FHIR_UPDATE,
    NGX_OIDC_FHIR_PATCH,
    NGX_OIDC_FHIR_DELETE,
    NGX_OIDC_FHIR_HISTORY_INSTANCE,
    NGX_OIDC_FHIR_HISTORY_TYPE,
    NGX_OIDC_FHIR_HISTORY_SYSTEM,
    NGX_OIDC_FHIR_CREATE,
    NGX_OIDC_FHIR_SEARCH_TYPE,
    NGX_OIDC_FHIR_SEARCH_SYSTEM,
    NGX_OIDC_FHIR_SEARCH_COMPARTMENT,
    NGX_OIDC_FHIR_COND_CREATE,
    NGX_OIDC_FHIR_COND_UPDATE,
    NGX_OIDC_FHIR_COND_PATCH,
    NGX_OIDC_FHIR_COND_DELETE,
    NGX_OIDC_FHIR_OPERATION_SYSTEM,
    NGX_OIDC_FHIR_OPERATION_TYPE,
    NGX_OIDC_FHIR_OPERATION_INSTANCE,
    NGX_OIDC_FHIR_BATCH                 /* batch or transaction */
} ngx_oidc_fhir_interaction_e;


typedef struct {
    ngx_oidc_fhir_interaction_e  interaction;
    ngx_oidc_str_t          type;           /* "*" in Patient/1/"*" */
    ngx_oidc_str_t          id;
    ngx_oidc_str_t          vid;
    ngx_oidc_str_t          compartment;    /* search-compartment */
    ngx_oidc_str_t          compartment_id;
    ngx_oidc_str_t          operation;      /* with its "$" */
    unsigned                post:1;         /* POST _search, POST $op */
    unsigned                search_post:1;  /* a POST _search */
    size_t                  nparams;
    ngx_oidc_param_t        params[NGX_OIDC_FORM_MAX_PARAMS];
} ngx_oidc_fhir_request_t;


/*
 * Classifies a FHIR REST request.  "method" as sent ("GET", "HEAD" is
 * taken as "GET"); "path" relative to the FHIR base, without its
 * leading "/" ("" for the base itself, "Patient/1/_history/2"), never
 * percent-encoded (the caller refuses such paths); "query" the raw
 * query string; "body" the x-www-form-urlencoded body of a POST
 * _search (empty otherwise); "if_none_exist" the If-None-Exist header
 * of a create (empty: none).  Parameters from query, body and header
 * are decoded into "buf", which must hold query.len + body.len +
 * if_none_exist.len bytes, and req->params point there.
 * Returns NGX_OIDC_OK; NGX_OIDC_DECLINED (err->reason) for anything
 * that is not a FHIR R4 interaction: an unknown method or path shape,
 * a segment that is not a resource type ([A-Z][A-Za-z]{0,63}), an id
 * ([A-Za-z0-9.-]{1,64}), "_history", "_search" or "$" + name, a bad
 * query ("invalid percent-encoding", "too many parameters"...), a
 * PUT/PATCH/DELETE on a type without criteria.
 */
int ngx_oidc_fhir_classify(ngx_oidc_fhir_request_t *req,
    const ngx_oidc_str_t *method, const ngx_oidc_str_t *path,
    const ngx_oidc_str_t *query, const ngx_oidc_str_t *body,
    const ngx_oidc_str_t *if_none_exist, unsigned char *buf,
    ngx_oidc_err_t *err);

/* 1 for a FHIR R4 id ([A-Za-z0-9.-]{1,64}) */
int ngx_oidc_fhir_valid_id(const unsigned char *p, size_t len);

/* a static name of the interaction ("read", "search-type"...) */
const char *ngx_oidc_fhir_interaction_name(ngx_oidc_fhir_interaction_e i);


/* what a refused request would have needed */
#define NGX_OIDC_SMART_MAX_NEEDS   16

typedef struct {
    unsigned                context;        /* the one to ask for */
    unsigned                perms;
    ngx_oidc_str_t          type;
} ngx_oidc_smart_need_t;


typedef struct {
    const char             *reason;         /* static, safe to log */
    size_t                  n;
    ngx_oidc_smart_need_t   need[NGX_OIDC_SMART_MAX_NEEDS];
} ngx_oidc_smart_verdict_t;


/*
 * Decides whether "scopes" allow "req", for a token whose launch
 * patient is "patient" (empty: none).  NGX_OIDC_OK: allowed.
 * NGX_OIDC_DECLINED: refused, v->reason says why and v->need[] the
 * scopes that would have allowed it (see
 * ngx_oidc_smart_verdict_scope()).  The rules:
 *   each (type, letter) the interaction needs must be granted by a
 *   scope of that type or "*" holding the letter;
 *   a scope with v2 search restrictions grants only "s", and only to a
 *   search whose parameters hold every restriction as is;
 *   a patient/ scope grants only when the request provably stays in
 *   the launch patient's compartment: Patient/<patient> itself, a
 *   Patient/<patient>/... compartment search, or a search (or the
 *   criteria of a conditional write) on a type of the compartment table
 *   with a linking parameter equal to the patient; never with
 *   _include / _revinclude;
 *   _include / _revinclude also need a user/ or system/ "*" read;
 *   batch and transaction need a user/ or system/ "*.cruds" scope;
 *   capabilities need nothing.
 */
int ngx_oidc_smart_decide(const ngx_oidc_smart_scopes_t *scopes,
    const ngx_oidc_fhir_request_t *req, const ngx_oidc_str_t *patient,
    ngx_oidc_smart_verdict_t *v);

/*
 * The needed scopes as a space-separated list ("patient/Observation.s
 * user/<all>.cruds"), for WWW-Authenticate: its length with dst NULL, else
 * written to "dst" (which holds that many bytes).
 */
size_t ngx_oidc_smart_verdict_scope(const ngx_oidc_smart_verdict_t *v,
    unsigned char *dst);

/*
 * 1 when "req" provably stays in the compartment of Patient "patient"
 * (see ngx_oidc_smart_decide()).
 */
int ngx_oidc_smart_in_compartment(const ngx_oidc_fhir_request_t *req,
    const ngx_oidc_str_t *patient);


#endif /* _NGX_OIDC_SMART_H_INCLUDED_ */
