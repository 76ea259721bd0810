
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


#include <string.h>

#include "ngx_oidc_smart.h"


/*
 * References:
 *   [SMART]  SMART App Launch 2.x, "Scopes and Launch Context"
 *            (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
 *            "Scopes for requesting clinical data" (the c r u d s
 *            letters and what each covers, v1 read/write/"*"), "Finer-
 *            grained resource constraints using search parameters",
 *            "Batches and Transactions", "Clinical Scope Syntax".
 *   [REST]   FHIR R4 RESTful API (hl7.org/fhir/R4/http.html): 3.1.0.1.1
 *            the URL templates, 3.1.0.2 read, 3.1.0.3 vread, 3.1.0.4
 *            update (and conditional update), 3.1.0.6 patch, 3.1.0.7
 *            delete, 3.1.0.8 create (and If-None-Exist), 3.1.0.9
 *            search (GET and POST _search), 3.1.0.11 batch/transaction,
 *            3.1.0.12 history, 3.1.0.13 capabilities; compartment
 *            search: R4 search.html "Searching compartments".
 *   [COMP]   FHIR R4 Patient compartment definition
 *            (hl7.org/fhir/R4/compartmentdefinition-patient.html).
 */


typedef struct {
    const char         *type;
    const char         *params[6];          /* NULL-terminated */
} ngx_oidc_smart_compartment_t;


/*
 * [COMP]: the search parameters that put a resource of the type in the
 * patient's compartment, plus "patient" where the type defines it (the
 * subject when it is a Patient).  Common types only: a type not here
 * is never in the compartment for a patient/ scope.
 */
static const ngx_oidc_smart_compartment_t  ngx_oidc_smart_compartment[] = {
    { "Account",                  { "patient", "subject", NULL } },
    { "AdverseEvent",             { "subject", NULL } },
    { "AllergyIntolerance",       { "patient", "recorder", "asserter",
                                    NULL } },
    { "Appointment",              { "patient", "actor", NULL } },
    { "AppointmentResponse",      { "patient", "actor", NULL } },
    { "BodyStructure",            { "patient", NULL } },
    { "CarePlan",                 { "patient", "subject", "performer",
                                    NULL } },
    { "CareTeam",                 { "patient", "subject", "participant",
                                    NULL } },
    { "Claim",                    { "patient", "payee", NULL } },
    { "ClinicalImpression",       { "patient", "subject", NULL } },
    { "Communication",            { "patient", "subject", "sender",
                                    "recipient", NULL } },
    { "Composition",              { "patient", "subject", "author",
                                    "attester", NULL } },
    { "Condition",                { "patient", "subject", "asserter",
                                    NULL } },
    { "Consent",                  { "patient", NULL } },
    { "Coverage",                 { "patient", "policy-holder",
                                    "subscriber", "beneficiary", "payor",
                                    NULL } },
    { "DetectedIssue",            { "patient", NULL } },
    { "Device",                   { "patient", NULL } },
    { "DeviceRequest",            { "patient", "subject", "performer",
                                    NULL } },
    { "DiagnosticReport",         { "patient", "subject", NULL } },
    { "DocumentReference",        { "patient", "subject", "author",
                                    NULL } },
    { "Encounter",                { "patient", "subject", NULL } },
    { "EpisodeOfCare",            { "patient", NULL } },
    { "ExplanationOfBenefit",     { "patient", "payee", NULL } },
    { "FamilyMemberHistory",      { "patient", NULL } },
    { "Flag",                     { "patient", "subject", NULL } },
    { "Goal",                     { "patient", "subject", NULL } },
    { "ImagingStudy",             { "patient", "subject", NULL } },
    { "Immunization",             { "patient", NULL } },
    { "ImmunizationRecommendation", { "patient", NULL } },
    { "List",                     { "patient", "subject", "source", NULL } },
    { "Media",                    { "patient", "subject", NULL } },
    { "MedicationAdministration", { "patient", "subject", "performer",
                                    NULL } },
    { "MedicationDispense",       { "patient", "subject", "receiver",
                                    NULL } },
    { "MedicationRequest",        { "patient", "subject", NULL } },
    { "MedicationStatement",      { "patient", "subject", "source",
                                    NULL } },
    { "NutritionOrder",           { "patient", NULL } },
    { "Observation",              { "patient", "subject", "performer",
                                    NULL } },
    { "Procedure",                { "patient", "subject", "performer",
                                    NULL } },
    { "Provenance",               { "patient", NULL } },
    { "QuestionnaireResponse",    { "patient", "subject", "author",
                                    "source", NULL } },
    { "RelatedPerson",            { "patient", NULL } },
    { "RiskAssessment",           { "patient", "subject", NULL } },
    { "ServiceRequest",           { "patient", "subject", "performer",
                                    NULL } },
    { "Specimen",                 { "patient", "subject", NULL } },
    { "VisionPrescription",       { "patient", NULL } },
    { NULL,                       { NULL } }
};


static int ngx_oidc_smart_scope_parse(ngx_oidc_smart_scope_t *sc,
    unsigned char *p, size_t len);
static unsigned ngx_oidc_smart_perms(const unsigned char *p, size_t len,
    int *v1);
static int ngx_oidc_fhir_valid_type(const unsigned char *p, size_t len);
static int ngx_oidc_fhir_valid_op(const unsigned char *p, size_t len);
static int ngx_oidc_fhir_params(ngx_oidc_fhir_request_t *req,
    const ngx_oidc_str_t *src, unsigned char **pos, ngx_oidc_err_t *err);
static int ngx_oidc_smart_need(ngx_oidc_smart_verdict_t *v,
    const ngx_oidc_str_t *type, unsigned perms, unsigned context);
static int ngx_oidc_smart_grants(const ngx_oidc_smart_scopes_t *scopes,
    const ngx_oidc_fhir_request_t *req, const ngx_oidc_str_t *type,
    unsigned letter, int patient_ok, int *miss);
static int ngx_oidc_smart_restricted_ok(const ngx_oidc_smart_scope_t *sc,
    const ngx_oidc_fhir_request_t *req);
static int ngx_oidc_smart_has_include(const ngx_oidc_fhir_request_t *req);
static int ngx_oidc_smart_criteria_in(const ngx_oidc_fhir_request_t *req,
    const ngx_oidc_str_t *patient);
static int ngx_oidc_smart_ref_is(const ngx_oidc_str_t *value,
    const ngx_oidc_str_t *patient, int bare);


#define ngx_oidc_smart_eq(s, lit)                                            \
    ((s)->len == sizeof(lit) - 1                                             \
     && memcmp((s)->data, lit, sizeof(lit) - 1) == 0)

#define ngx_oidc_smart_str_eq(a, b)                                          \
    ((a)->len == (b)->len                                                    \
     && ((a)->len == 0 || memcmp((a)->data, (b)->data, (a)->len) == 0))


static const char  *ngx_oidc_fhir_names[] = {
    "invalid", "capabilities", "read", "vread", "update", "patch", "delete",
    "history-instance", "history-type", "history-system", "create",
    "search-type", "search-system", "search-compartment",
    "conditional-create", "conditional-update", "conditional-patch",
    "conditional-delete", "operation-system", "operation-type",
    "operation-instance", "batch/transaction"
};


size_t
ngx_oidc_smart_scopes_parse(ngx_oidc_smart_scopes_t *set, unsigned char *s,
    size_t len)
{
    size_t          added;
    unsigned char  *p, *last, *end;

    added = 0;
    p = s;
    last = s + len;

    while (p < last) {
        end = memchr(p, ' ', last - p);
        if (end == NULL) {
            end = last;
        }

        if (end > p) {
            if (set->n < NGX_OIDC_SMART_MAX_SCOPES
                && ngx_oidc_smart_scope_parse(&set->scope[set->n], p,
                                              end - p)
                   == NGX_OIDC_OK)
            {
                set->n++;
                added++;

            } else {
                set->ignored++;
            }
        }

        p = end + 1;
    }

    return added;
}


/* [SMART] "Clinical Scope Syntax" */

static int
ngx_oidc_smart_scope_parse(ngx_oidc_smart_scope_t *sc, unsigned char *p,
    size_t len)
{
    int             v1;
    size_t          n, plen;
    unsigned char  *slash, *dot, *q, *last, *perms;

    last = p + len;

    slash = memchr(p, '/', len);
    if (slash == NULL) {
        return NGX_OIDC_DECLINED;
    }

    n = slash - p;

    if (n == 7 && memcmp(p, "patient", 7) == 0) {
        sc->context = NGX_OIDC_SMART_PATIENT;

    } else if (n == 4 && memcmp(p, "user", 4) == 0) {
        sc->context = NGX_OIDC_SMART_USER;

    } else if (n == 6 && memcmp(p, "system", 6) == 0) {
        sc->context = NGX_OIDC_SMART_SYSTEM;

    } else {
        return NGX_OIDC_DECLINED;
    }

    p = slash + 1;

    dot = memchr(p, '.', last - p);
    if (dot == NULL) {
        return NGX_OIDC_DECLINED;
    }

    if (!(dot - p == 1 && p[0] == '*')
        && !ngx_oidc_fhir_valid_type(p, dot - p))
    {
        return NGX_OIDC_DECLINED;
    }

    sc->type.data = p;
    sc->type.len = dot - p;

    perms = dot + 1;
    q = memchr(perms, '?', last - perms);
    plen = (q ? q : last) - perms;

    sc->perms = ngx_oidc_smart_perms(perms, plen, &v1);
    if (sc->perms == 0) {
        return NGX_OIDC_DECLINED;
    }

    sc->nparams = 0;

    if (q == NULL) {
        return NGX_OIDC_OK;
    }

    /* v2 only; a restriction that cannot be read whole is no grant */
    if (v1 || q + 1 == last) {
        return NGX_OIDC_DECLINED;
    }

    if (ngx_oidc_form_parse(q + 1, last - q - 1, q + 1, sc->params,
                            NGX_OIDC_SMART_MAX_PARAMS, &n, NULL)
        != NGX_OIDC_OK
        || n == 0)
    {
        return NGX_OIDC_DECLINED;
    }

    for (sc->nparams = 0; sc->nparams < n; sc->nparams++) {
        if (sc->params[sc->nparams].name.len == 0) {
            return NGX_OIDC_DECLINED;
        }
    }

    return NGX_OIDC_OK;
}


/*
 * [SMART]: v1 ".read" = "rs", ".write" = "cud", ".*" = "cruds"; v2 a
 * subset of "cruds" in order (".dus", ".rr" are undefined: 0)
 */

static unsigned
ngx_oidc_smart_perms(const unsigned char *p, size_t len, int *v1)
{
    size_t       i, k;
    unsigned     perms;
    const char  *order = "cruds";

    *v1 = 1;

    if (len == 4 && memcmp(p, "read", 4) == 0) {
        return NGX_OIDC_SMART_R | NGX_OIDC_SMART_S;
    }

    if (len == 5 && memcmp(p, "write", 5) == 0) {
        return NGX_OIDC_SMART_C | NGX_OIDC_SMART_U | NGX_OIDC_SMART_D;
    }

    if (len == 1 && p[0] == '*') {
        return NGX_OIDC_SMART_CRUDS;
    }

    *v1 = 0;

    if (len == 0 || len > 5) {
        return 0;
    }

    perms = 0;
    k = 0;

    for (i = 0; i < len; i++) {
        while (k < 5 && order[k] != p[i]) {
            k++;
        }

        if (k == 5) {
            return 0;
        }

        perms |= 1u << k;
        k++;
    }

    return perms;
}


static int
ngx_oidc_fhir_valid_type(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_OIDC_FHIR_ID_MAX || p[0] < 'A' || p[0] > 'Z') {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z'))) {
            return 0;
        }
    }

    return 1;
}


int
ngx_oidc_fhir_valid_id(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_OIDC_FHIR_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '.'))
        {
            return 0;
        }
    }

    return 1;
}


/* "$" then a name: letters, digits, "-", "_", "." */

static int
ngx_oidc_fhir_valid_op(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len < 2 || len > NGX_OIDC_FHIR_ID_MAX || p[0] != '$') {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_'
              || p[i] == '.'))
        {
            return 0;
        }
    }

    return 1;
}


const char *
ngx_oidc_fhir_interaction_name(ngx_oidc_fhir_interaction_e i)
{
    if ((size_t) i >= sizeof(ngx_oidc_fhir_names) / sizeof(char *)) {
        return "invalid";
    }

    return ngx_oidc_fhir_names[i];
}


/* [REST] 3.1.0.1.1: the URL templates of each interaction */

int
ngx_oidc_fhir_classify(ngx_oidc_fhir_request_t *req,
    const ngx_oidc_str_t *method, const ngx_oidc_str_t *path,
    const ngx_oidc_str_t *query, const ngx_oidc_str_t *body,
    const ngx_oidc_str_t *if_none_exist, unsigned char *buf,
    ngx_oidc_err_t *err)
{
    enum { GET, POST, PUT, PATCH, DELETE }  m;

    size_t           n;
    unsigned char   *pos, *p, *last, *end;
    ngx_oidc_str_t   seg[5];

    memset(req, 0, sizeof(ngx_oidc_fhir_request_t));

    if (ngx_oidc_smart_eq(method, "GET") || ngx_oidc_smart_eq(method, "HEAD"))
    {
        m = GET;

    } else if (ngx_oidc_smart_eq(method, "POST")) {
        m = POST;

    } else if (ngx_oidc_smart_eq(method, "PUT")) {
        m = PUT;

    } else if (ngx_oidc_smart_eq(method, "PATCH")) {
        m = PATCH;

    } else if (ngx_oidc_smart_eq(method, "DELETE")) {
        m = DELETE;

    } else {
        ngx_oidc_err_set(err, "method not in FHIR REST", NULL);
        return NGX_OIDC_DECLINED;
    }

    /* up to 5 non-empty segments; "" and a trailing "/" are the base */
    n = 0;
    p = path->data;
    last = p + path->len;

    while (p < last) {
        end = memchr(p, '/', last - p);
        if (end == NULL) {
            end = last;
        }

        if (end == p || n == 5) {
            ngx_oidc_err_set(err, "path is not a FHIR interaction", NULL);
            return NGX_OIDC_DECLINED;
        }

        seg[n].data = p;
        seg[n].len = end - p;
        n++;

        p = end + 1;
    }

    pos = buf;

    if (ngx_oidc_fhir_params(req, query, &pos, err) != NGX_OIDC_OK) {
        return NGX_OIDC_DECLINED;
    }

    /* [REST] 3.1.0.13: capabilities; the SMART discovery document */
    if (m == GET
        && ((n == 1 && ngx_oidc_smart_eq(&seg[0], "metadata"))
            || (n == 2 && ngx_oidc_smart_eq(&seg[0], ".well-known")
                && ngx_oidc_smart_eq(&seg[1], "smart-configuration"))))
    {
        req->interaction = NGX_OIDC_FHIR_CAPABILITIES;
        return NGX_OIDC_OK;
    }

    if (n == 0) {
        /* 3.1.0.9 search-system; 3.1.0.11 batch/transaction */
        if (m == GET) {
            req->interaction = NGX_OIDC_FHIR_SEARCH_SYSTEM;
            return NGX_OIDC_OK;
        }

        if (m == POST) {
            req->interaction = NGX_OIDC_FHIR_BATCH;
            req->post = 1;
            return NGX_OIDC_OK;
        }

        goto invalid;
    }

    if (n == 1 && !ngx_oidc_fhir_valid_type(seg[0].data, seg[0].len)) {

        if (ngx_oidc_smart_eq(&seg[0], "_history") && m == GET) {
            req->interaction = NGX_OIDC_FHIR_HISTORY_SYSTEM;
            return NGX_OIDC_OK;
        }

        if (ngx_oidc_smart_eq(&seg[0], "_search") && m == POST) {
            req->interaction = NGX_OIDC_FHIR_SEARCH_SYSTEM;
            req->post = 1;
            req->search_post = 1;
            goto body;
        }

        if (ngx_oidc_fhir_valid_op(seg[0].data, seg[0].len)
            && (m == GET || m == POST))
        {
            req->interaction = NGX_OIDC_FHIR_OPERATION_SYSTEM;
            req->operation = seg[0];
            req->post = (m == POST);
            return NGX_OIDC_OK;
        }

        goto invalid;
    }

    if (!ngx_oidc_fhir_valid_type(seg[0].data, seg[0].len)) {
        goto invalid;
    }

    req->type = seg[0];

    if (n == 1) {
        switch (m) {

        case GET:
            req->interaction = NGX_OIDC_FHIR_SEARCH_TYPE;
            return NGX_OIDC_OK;

        case POST:
            if (if_none_exist->len == 0) {
                req->interaction = NGX_OIDC_FHIR_CREATE;
                return NGX_OIDC_OK;
            }

            /* 3.1.0.8.1: the criteria are in If-None-Exist */
            req->interaction = NGX_OIDC_FHIR_COND_CREATE;
            req->nparams = 0;
            pos = buf;

            if (ngx_oidc_fhir_params(req, if_none_exist, &pos, err)
                != NGX_OIDC_OK)
            {
                return NGX_OIDC_DECLINED;
            }

            if (req->nparams == 0) {
                goto invalid;
            }

            return NGX_OIDC_OK;

        default:
            /* conditional update, patch, delete need criteria */
            if (req->nparams == 0) {
                ngx_oidc_err_set(err, "conditional interaction without "
                                 "criteria", NULL);
                return NGX_OIDC_DECLINED;
            }

            req->interaction = (m == PUT) ? NGX_OIDC_FHIR_COND_UPDATE
                               : (m == PATCH) ? NGX_OIDC_FHIR_COND_PATCH
                               : NGX_OIDC_FHIR_COND_DELETE;
            return NGX_OIDC_OK;
        }
    }

    if (n == 2 && !ngx_oidc_fhir_valid_id(seg[1].data, seg[1].len)) {

        if (ngx_oidc_smart_eq(&seg[1], "_history") && m == GET) {
            req->interaction = NGX_OIDC_FHIR_HISTORY_TYPE;
            return NGX_OIDC_OK;
        }

        if (ngx_oidc_smart_eq(&seg[1], "_search") && m == POST) {
            req->interaction = NGX_OIDC_FHIR_SEARCH_TYPE;
            req->post = 1;
            req->search_post = 1;
            goto body;
        }

        if (ngx_oidc_fhir_valid_op(seg[1].data, seg[1].len)
            && (m == GET || m == POST))
        {
            req->interaction = NGX_OIDC_FHIR_OPERATION_TYPE;
            req->operation = seg[1];
            req->post = (m == POST);
            return NGX_OIDC_OK;
        }

        goto invalid;
    }

    if (!ngx_oidc_fhir_valid_id(seg[1].data, seg[1].len)) {
        goto invalid;
    }

    req->id = seg[1];

    if (n == 2) {
        req->interaction = (m == GET) ? NGX_OIDC_FHIR_READ
                           : (m == PUT) ? NGX_OIDC_FHIR_UPDATE
                           : (m == PATCH) ? NGX_OIDC_FHIR_PATCH
                           : (m == DELETE) ? NGX_OIDC_FHIR_DELETE
                           : NGX_OIDC_FHIR_INVALID;

        if (req->interaction == NGX_OIDC_FHIR_INVALID) {
            goto invalid;
        }

        return NGX_OIDC_OK;
    }

    if (ngx_oidc_smart_eq(&seg[2], "_history") && m == GET) {
        if (n == 3) {
            req->interaction = NGX_OIDC_FHIR_HISTORY_INSTANCE;
            return NGX_OIDC_OK;
        }

        if (n == 4 && ngx_oidc_fhir_valid_id(seg[3].data, seg[3].len)) {
            req->interaction = NGX_OIDC_FHIR_VREAD;
            req->vid = seg[3];
            return NGX_OIDC_OK;
        }

        goto invalid;
    }

    if (n == 3 && ngx_oidc_fhir_valid_op(seg[2].data, seg[2].len)
        && (m == GET || m == POST))
    {
        req->interaction = NGX_OIDC_FHIR_OPERATION_INSTANCE;
        req->operation = seg[2];
        req->post = (m == POST);
        return NGX_OIDC_OK;
    }

    /* search.html: [base]/[Compartment]/[id]/{[type]|*}[/_search] */
    if ((ngx_oidc_fhir_valid_type(seg[2].data, seg[2].len)
         || ngx_oidc_smart_eq(&seg[2], "*"))
        && ((n == 3 && m == GET)
            || (n == 4 && m == POST && ngx_oidc_smart_eq(&seg[3], "_search"))))
    {
        req->interaction = NGX_OIDC_FHIR_SEARCH_COMPARTMENT;
        req->compartment = seg[0];
        req->compartment_id = seg[1];
        req->type = seg[2];
        req->id.len = 0;
        req->id.data = NULL;

        if (n == 4) {
            req->post = 1;
            req->search_post = 1;
            goto body;
        }

        return NGX_OIDC_OK;
    }

invalid:

    ngx_oidc_err_set(err, "path is not a FHIR interaction", NULL);
    req->interaction = NGX_OIDC_FHIR_INVALID;

    return NGX_OIDC_DECLINED;

body:

    /* 3.1.0.9: POST _search, parameters in the body and the query */
    if (ngx_oidc_fhir_params(req, body, &pos, err) != NGX_OIDC_OK) {
        return NGX_OIDC_DECLINED;
    }

    return NGX_OIDC_OK;
}


/* appends the decoded parameters of "src" to req->params */

static int
ngx_oidc_fhir_params(ngx_oidc_fhir_request_t *req, const ngx_oidc_str_t *src,
    unsigned char **pos, ngx_oidc_err_t *err)
{
    size_t  n;

    if (src == NULL || src->len == 0) {
        return NGX_OIDC_OK;
    }

    if (ngx_oidc_form_parse(src->data, src->len, *pos,
                            req->params + req->nparams,
                            NGX_OIDC_FORM_MAX_PARAMS - req->nparams, &n, err)
        != NGX_OIDC_OK)
    {
        return NGX_OIDC_DECLINED;
    }

    /* decoding never grows: what was written fits in src->len bytes */
    *pos += src->len;
    req->nparams += n;

    return NGX_OIDC_OK;
}


/* a (type, letters) requirement; "any": patient/ scopes may grant it */

typedef struct {
    ngx_oidc_str_t          type;
    unsigned                perms;
    unsigned                any_context:1;
} ngx_oidc_smart_req_t;


#define NGX_OIDC_SMART_MISS_NONE         0
#define NGX_OIDC_SMART_MISS_COMPARTMENT  1
#define NGX_OIDC_SMART_MISS_RESTRICTION  2


int
ngx_oidc_smart_decide(const ngx_oidc_smart_scopes_t *scopes,
    const ngx_oidc_fhir_request_t *req, const ngx_oidc_str_t *patient,
    ngx_oidc_smart_verdict_t *v)
{
    int                    in, miss, m;
    size_t                 i, k, nreq;
    unsigned               letter, post_perms;
    unsigned char         *p, *last, *end;
    ngx_oidc_str_t         star = ngx_oidc_string("*");
    ngx_oidc_smart_req_t   r[NGX_OIDC_SMART_MAX_NEEDS];

    memset(v, 0, sizeof(ngx_oidc_smart_verdict_t));

    if (req->interaction == NGX_OIDC_FHIR_CAPABILITIES) {
        return NGX_OIDC_OK;
    }

    if (req->interaction == NGX_OIDC_FHIR_INVALID) {
        v->reason = "not a FHIR interaction";
        return NGX_OIDC_DECLINED;
    }

    in = ngx_oidc_smart_in_compartment(req, patient);

    nreq = 1;
    r[0].type = req->type;
    r[0].any_context = 1;
    post_perms = req->post ? NGX_OIDC_SMART_CRUDS : 0;

    /* [SMART] "Scopes for requesting clinical data": what each covers */
    switch (req->interaction) {

    case NGX_OIDC_FHIR_READ:
    case NGX_OIDC_FHIR_VREAD:
    case NGX_OIDC_FHIR_HISTORY_INSTANCE:
        r[0].perms = NGX_OIDC_SMART_R;
        break;

    case NGX_OIDC_FHIR_UPDATE:
    case NGX_OIDC_FHIR_PATCH:
        r[0].perms = NGX_OIDC_SMART_U;
        break;

    case NGX_OIDC_FHIR_DELETE:
        r[0].perms = NGX_OIDC_SMART_D;
        break;

    case NGX_OIDC_FHIR_CREATE:
        r[0].perms = NGX_OIDC_SMART_C;
        break;

    case NGX_OIDC_FHIR_SEARCH_TYPE:
    case NGX_OIDC_FHIR_HISTORY_TYPE:
    case NGX_OIDC_FHIR_SEARCH_COMPARTMENT:
        r[0].perms = NGX_OIDC_SMART_S;
        break;

    case NGX_OIDC_FHIR_HISTORY_SYSTEM:
        r[0].type = star;
        r[0].perms = NGX_OIDC_SMART_S;
        break;

    case NGX_OIDC_FHIR_SEARCH_SYSTEM:
        /* "s" on each type of _type, or on every type */
        r[0].type = star;
        r[0].perms = NGX_OIDC_SMART_S;
        nreq = 0;

        for (i = 0; i < req->nparams && nreq <= NGX_OIDC_SMART_MAX_NEEDS;
             i++)
        {
            if (!ngx_oidc_smart_eq(&req->params[i].name, "_type")) {
                continue;
            }

            p = req->params[i].value.data;
            last = p + req->params[i].value.len;

            for ( ;; ) {
                end = memchr(p, ',', last - p);
                if (end == NULL) {
                    end = last;
                }

                if (nreq == NGX_OIDC_SMART_MAX_NEEDS
                    || !ngx_oidc_fhir_valid_type(p, end - p))
                {
                    nreq = NGX_OIDC_SMART_MAX_NEEDS + 1;
                    break;
                }

                r[nreq].type.data = p;
                r[nreq].type.len = end - p;
                r[nreq].perms = NGX_OIDC_SMART_S;
                r[nreq].any_context = 1;
                nreq++;

                if (end == last) {
                    break;
                }

                p = end + 1;
            }
        }

        if (nreq == 0 || nreq > NGX_OIDC_SMART_MAX_NEEDS) {
            r[0].type = star;
            nreq = 1;
        }

        break;

    /* the criteria are a search: "s" too */
    case NGX_OIDC_FHIR_COND_CREATE:
        r[0].perms = NGX_OIDC_SMART_C | NGX_OIDC_SMART_S;
        break;

    case NGX_OIDC_FHIR_COND_UPDATE:
    case NGX_OIDC_FHIR_COND_PATCH:
        r[0].perms = NGX_OIDC_SMART_U | NGX_OIDC_SMART_S;
        break;

    case NGX_OIDC_FHIR_COND_DELETE:
        r[0].perms = NGX_OIDC_SMART_D | NGX_OIDC_SMART_S;
        break;

    /* a POSTed operation may do anything to what it is invoked on */
    case NGX_OIDC_FHIR_OPERATION_INSTANCE:
        r[0].perms = post_perms ? post_perms : NGX_OIDC_SMART_R;
        break;

    case NGX_OIDC_FHIR_OPERATION_TYPE:
        r[0].perms = post_perms ? post_perms : NGX_OIDC_SMART_S;
        break;

    case NGX_OIDC_FHIR_OPERATION_SYSTEM:
        r[0].type = star;
        r[0].perms = post_perms ? post_perms : NGX_OIDC_SMART_S;
        break;

    /* [SMART] "Batches and Transactions": entries are not looked into */
    case NGX_OIDC_FHIR_BATCH:
        r[0].type = star;
        r[0].perms = NGX_OIDC_SMART_CRUDS;
        r[0].any_context = 0;
        break;

    default:
        v->reason = "not a FHIR interaction";
        return NGX_OIDC_DECLINED;
    }

    /* included resources are of other types, outside any compartment */
    if (ngx_oidc_smart_has_include(req) && nreq < NGX_OIDC_SMART_MAX_NEEDS) {
        r[nreq].type = star;
        r[nreq].perms = NGX_OIDC_SMART_R;
        r[nreq].any_context = 0;
        nreq++;
    }

    miss = NGX_OIDC_SMART_MISS_NONE;

    for (k = 0; k < nreq; k++) {
        for (letter = 1; letter <= NGX_OIDC_SMART_S; letter <<= 1) {
            if (!(r[k].perms & letter)) {
                continue;
            }

            m = NGX_OIDC_SMART_MISS_NONE;

            if (ngx_oidc_smart_grants(scopes, req, &r[k].type, letter,
                                      in && r[k].any_context, &m))
            {
                continue;
            }

            if (m > miss) {
                miss = m;
            }

            /* ask for the patient/ scope where one would do */
            if (ngx_oidc_smart_need(v, &r[k].type, letter,
                                    (in && r[k].any_context)
                                    ? NGX_OIDC_SMART_PATIENT
                                    : NGX_OIDC_SMART_USER)
                != NGX_OIDC_OK)
            {
                break;
            }
        }
    }

    if (v->n == 0) {
        return NGX_OIDC_OK;
    }

    if (miss == NGX_OIDC_SMART_MISS_COMPARTMENT) {
        v->reason = (patient == NULL || patient->len == 0)
                    ? "patient/ scope without a launch patient"
                    : "not provably in the launch patient's compartment";

    } else if (miss == NGX_OIDC_SMART_MISS_RESTRICTION) {
        v->reason = "the search does not carry the scope's restriction";

    } else if (req->interaction == NGX_OIDC_FHIR_BATCH) {
        v->reason = "batch/transaction needs user/*.cruds or system/*.cruds";

    } else {
        v->reason = "no granted scope covers the interaction";
    }

    return NGX_OIDC_DECLINED;
}


/* records a missing (type, letter); the same type's letters merge */

static int
ngx_oidc_smart_need(ngx_oidc_smart_verdict_t *v, const ngx_oidc_str_t *type,
    unsigned perms, unsigned context)
{
    size_t  i;

    for (i = 0; i < v->n; i++) {
        if (v->need[i].context == context
            && ngx_oidc_smart_str_eq(&v->need[i].type, type))
        {
            v->need[i].perms |= perms;
            return NGX_OIDC_OK;
        }
    }

    if (v->n == NGX_OIDC_SMART_MAX_NEEDS) {
        return NGX_OIDC_DECLINED;
    }

    v->need[v->n].type = *type;
    v->need[v->n].perms = perms;
    v->need[v->n].context = context;
    v->n++;

    return NGX_OIDC_OK;
}


/*
 * 1 when a scope grants "letter" on "type" ("*": only a "*" scope);
 * "patient_ok": the request stays in the launch patient's compartment
 */

static int
ngx_oidc_smart_grants(const ngx_oidc_smart_scopes_t *scopes,
    const ngx_oidc_fhir_request_t *req, const ngx_oidc_str_t *type,
    unsigned letter, int patient_ok, int *miss)
{
    size_t                         i;
    const ngx_oidc_smart_scope_t  *sc;

    for (i = 0; i < scopes->n; i++) {
        sc = &scopes->scope[i];

        if (!(sc->perms & letter)) {
            continue;
        }

        if (!ngx_oidc_smart_eq(&sc->type, "*")
            && !ngx_oidc_smart_str_eq(&sc->type, type))
        {
            continue;
        }

        if (sc->context == NGX_OIDC_SMART_PATIENT && !patient_ok) {
            *miss = NGX_OIDC_SMART_MISS_COMPARTMENT;
            continue;
        }

        if (sc->nparams > 0
            && (letter != NGX_OIDC_SMART_S
                || !ngx_oidc_smart_restricted_ok(sc, req)))
        {
            if (*miss == NGX_OIDC_SMART_MISS_NONE) {
                *miss = NGX_OIDC_SMART_MISS_RESTRICTION;
            }

            continue;
        }

        return 1;
    }

    return 0;
}


/*
 * [SMART] "Finer-grained resource constraints": only a search can
 * prove it keeps to them, by carrying each param=value as is (one of
 * several ANDed occurrences is enough; "a,b" is an OR, and no proof)
 */

static int
ngx_oidc_smart_restricted_ok(const ngx_oidc_smart_scope_t *sc,
    const ngx_oidc_fhir_request_t *req)
{
    size_t  i, j;

    switch (req->interaction) {
    case NGX_OIDC_FHIR_SEARCH_TYPE:
    case NGX_OIDC_FHIR_SEARCH_COMPARTMENT:
    case NGX_OIDC_FHIR_COND_CREATE:
    case NGX_OIDC_FHIR_COND_UPDATE:
    case NGX_OIDC_FHIR_COND_PATCH:
    case NGX_OIDC_FHIR_COND_DELETE:
        break;
    default:
        return 0;
    }

    for (i = 0; i < sc->nparams; i++) {
        for (j = 0; j < req->nparams; j++) {
            if (ngx_oidc_smart_str_eq(&sc->params[i].name,
                                      &req->params[j].name)
                && ngx_oidc_smart_str_eq(&sc->params[i].value,
                                         &req->params[j].value))
            {
                break;
            }
        }

        if (j == req->nparams) {
            return 0;
        }
    }

    return 1;
}


static int
ngx_oidc_smart_has_include(const ngx_oidc_fhir_request_t *req)
{
    size_t                 i;
    const ngx_oidc_str_t  *n;

    for (i = 0; i < req->nparams; i++) {
        n = &req->params[i].name;

        if ((n->len >= 8 && memcmp(n->data, "_include", 8) == 0
             && (n->len == 8 || n->data[8] == ':'))
            || (n->len >= 11 && memcmp(n->data, "_revinclude", 11) == 0
                && (n->len == 11 || n->data[11] == ':')))
        {
            return 1;
        }
    }

    return 0;
}


int
ngx_oidc_smart_in_compartment(const ngx_oidc_fhir_request_t *req,
    const ngx_oidc_str_t *patient)
{
    if (patient == NULL || patient->len == 0
        || ngx_oidc_smart_has_include(req))
    {
        return 0;
    }

    switch (req->interaction) {

    case NGX_OIDC_FHIR_READ:
    case NGX_OIDC_FHIR_VREAD:
    case NGX_OIDC_FHIR_HISTORY_INSTANCE:
    case NGX_OIDC_FHIR_UPDATE:
    case NGX_OIDC_FHIR_PATCH:
    case NGX_OIDC_FHIR_DELETE:
    case NGX_OIDC_FHIR_OPERATION_INSTANCE:
        /* an instance of another type cannot be placed without reading it */
        return ngx_oidc_smart_eq(&req->type, "Patient")
               && ngx_oidc_smart_str_eq(&req->id, patient);

    case NGX_OIDC_FHIR_SEARCH_COMPARTMENT:
        return ngx_oidc_smart_eq(&req->compartment, "Patient")
               && ngx_oidc_smart_str_eq(&req->compartment_id, patient);

    case NGX_OIDC_FHIR_SEARCH_TYPE:
    case NGX_OIDC_FHIR_COND_CREATE:
    case NGX_OIDC_FHIR_COND_UPDATE:
    case NGX_OIDC_FHIR_COND_PATCH:
    case NGX_OIDC_FHIR_COND_DELETE:
        return ngx_oidc_smart_criteria_in(req, patient);

    default:
        return 0;
    }
}


/*
 * Search criteria that keep to the patient's compartment: Patient with
 * _id=<patient>; a type of the table with one of its linking
 * parameters (no modifier but the type modifier ":Patient") equal to
 * "Patient/<patient>", or to "<patient>" for "patient" and ":Patient",
 * which can only name a Patient.  Search parameters are ANDed, so one
 * such parameter restricts the whole result.
 */

static int
ngx_oidc_smart_criteria_in(const ngx_oidc_fhir_request_t *req,
    const ngx_oidc_str_t *patient)
{
    int                                  typed;
    size_t                               i, k;
    const char                          *name;
    unsigned char                       *colon;
    ngx_oidc_str_t                       base;
    const ngx_oidc_param_t              *pa;
    const ngx_oidc_smart_compartment_t  *c;

    if (ngx_oidc_smart_eq(&req->type, "Patient")) {
        for (i = 0; i < req->nparams; i++) {
            if (ngx_oidc_smart_eq(&req->params[i].name, "_id")
                && ngx_oidc_smart_str_eq(&req->params[i].value, patient))
            {
                return 1;
            }
        }

        return 0;
    }

    for (c = ngx_oidc_smart_compartment; c->type != NULL; c++) {
        if (req->type.len == strlen(c->type)
            && memcmp(req->type.data, c->type, req->type.len) == 0)
        {
            break;
        }
    }

    if (c->type == NULL) {
        return 0;
    }

    for (i = 0; i < req->nparams; i++) {
        pa = &req->params[i];
        base = pa->name;
        typed = 0;

        colon = (base.len > 0) ? memchr(base.data, ':', base.len) : NULL;

        if (colon != NULL) {
            if (base.data + base.len - colon - 1 != 7
                || memcmp(colon + 1, "Patient", 7) != 0)
            {
                continue;
            }

            base.len = colon - base.data;
            typed = 1;
        }

        for (k = 0; c->params[k] != NULL; k++) {
            name = c->params[k];

            if (base.len == strlen(name)
                && memcmp(base.data, name, base.len) == 0
                && ngx_oidc_smart_ref_is(&pa->value, patient,
                                         typed || strcmp(name, "patient") == 0))
            {
                return 1;
            }
        }
    }

    return 0;
}


static int
ngx_oidc_smart_ref_is(const ngx_oidc_str_t *value,
    const ngx_oidc_str_t *patient, int bare)
{
    if (bare && ngx_oidc_smart_str_eq(value, patient)) {
        return 1;
    }

    return value->len == 8 + patient->len
           && memcmp(value->data, "Patient/", 8) == 0
           && memcmp(value->data + 8, patient->data, patient->len) == 0;
}


size_t
ngx_oidc_smart_verdict_scope(const ngx_oidc_smart_verdict_t *v,
    unsigned char *dst)
{
    size_t          i, k, len;
    const char     *ctx;
    unsigned char  *p;

    len = 0;
    p = dst;

    for (i = 0; i < v->n; i++) {
        ctx = (v->need[i].context == NGX_OIDC_SMART_PATIENT) ? "patient"
              : (v->need[i].context == NGX_OIDC_SMART_SYSTEM) ? "system"
              : "user";

        len += (i > 0) + strlen(ctx) + 1 + v->need[i].type.len + 1;

        for (k = 0; k < 5; k++) {
            len += (v->need[i].perms >> k) & 1;
        }

        if (dst == NULL) {
            continue;
        }

        if (i > 0) {
            *p++ = ' ';
        }

        memcpy(p, ctx, strlen(ctx));
        p += strlen(ctx);
        *p++ = '/';
        memcpy(p, v->need[i].type.data, v->need[i].type.len);
        p += v->need[i].type.len;
        *p++ = '.';

        for (k = 0; k < 5; k++) {
            if ((v->need[i].perms >> k) & 1) {
                *p++ = "cruds"[k];
            }
        }
    }

    return len;
}
