
/*
 * Copyright (C) ngx_http_oidc_module developers
 */


/*
 * SMART on FHIR decisions: a table of (granted scopes, launch patient,
 * FHIR request) -> allowed, or refused with the scopes it would need.
 * The cases follow SMART App Launch 2.x "Scopes and Launch Context"
 * ([SMART] below: what c r u d s cover, v1 equivalence, search-parameter
 * restrictions, wildcards, batch) and FHIR R4 http.html ([REST]: the URL
 * of each interaction) with the R4 Patient compartment ([COMP]).
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_oidc_smart.h"


typedef struct {
    const char  *scopes;
    const char  *patient;
    const char  *method;
    const char  *path;
    const char  *query;
    const char  *body;            /* POST _search */
    const char  *ine;             /* If-None-Exist */
    int          allowed;
    const char  *need;            /* the scope="..." of a refusal */
    const char  *interaction;
} smart_case_t;


#define ALLOW  1
#define DENY   0


static const smart_case_t  cases[] = {

    /* [SMART] "r": read, vread, instance history */
    { "user/Observation.r", "", "GET", "Observation/1", "", "", "",
      ALLOW, NULL, "read" },
    { "user/Observation.r", "", "GET", "Observation/1/_history/2", "", "",
      "", ALLOW, NULL, "vread" },
    { "user/Observation.r", "", "GET", "Observation/1/_history", "", "", "",
      ALLOW, NULL, "history-instance" },
    { "user/Observation.s", "", "GET", "Observation/1", "", "", "",
      DENY, "user/Observation.r", "read" },
    { "user/Condition.r", "", "GET", "Observation/1", "", "", "",
      DENY, "user/Observation.r", "read" },
    { "user/Observation.r", "", "HEAD", "Observation/1", "", "", "",
      ALLOW, NULL, "read" },

    /* "s": type search, type and system history, system search */
    { "user/Observation.s", "", "GET", "Observation", "code=1234-5", "", "",
      ALLOW, NULL, "search-type" },
    { "user/Observation.r", "", "GET", "Observation", "code=1234-5", "", "",
      DENY, "user/Observation.s", "search-type" },
    { "user/Observation.s", "", "GET", "Observation/_history", "", "", "",
      ALLOW, NULL, "history-type" },
    { "user/Observation.s", "", "GET", "_history", "", "", "",
      DENY, "user/*.s", "history-system" },
    { "user/*.s", "", "GET", "_history", "", "", "",
      ALLOW, NULL, "history-system" },
    { "system/*.rs", "", "GET", "", "_lastUpdated=gt2024", "", "",
      ALLOW, NULL, "search-system" },
    { "user/Observation.s", "", "GET", "", "_type=Observation", "", "",
      ALLOW, NULL, "search-system" },
    { "user/Observation.s", "", "GET", "", "_type=Observation,Condition",
      "", "", DENY, "user/Condition.s", "search-system" },
    { "user/Observation.s", "", "GET", "", "name=x", "", "",
      DENY, "user/*.s", "search-system" },
    { "user/Observation.s", "", "POST", "Observation/_search", "",
      "code=1234-5", "", ALLOW, NULL, "search-type" },
    { "user/Observation.rs", "", "POST", "_search", "", "_type=Observation",
      "", ALLOW, NULL, "search-system" },

    /* "c", "u", "d" */
    { "user/Observation.c", "", "POST", "Observation", "", "", "",
      ALLOW, NULL, "create" },
    { "user/Observation.rs", "", "POST", "Observation", "", "", "",
      DENY, "user/Observation.c", "create" },
    { "user/Observation.u", "", "PUT", "Observation/1", "", "", "",
      ALLOW, NULL, "update" },
    { "user/Observation.u", "", "PATCH", "Observation/1", "", "", "",
      ALLOW, NULL, "patch" },
    { "user/Observation.cr", "", "PUT", "Observation/1", "", "", "",
      DENY, "user/Observation.u", "update" },
    { "user/Observation.d", "", "DELETE", "Observation/1", "", "", "",
      ALLOW, NULL, "delete" },
    { "user/Observation.cus", "", "DELETE", "Observation/1", "", "", "",
      DENY, "user/Observation.d", "delete" },

    /* conditional variants: the criteria are a search too */
    { "user/Observation.cs", "", "POST", "Observation", "", "",
      "identifier=x", ALLOW, NULL, "conditional-create" },
    { "user/Observation.c", "", "POST", "Observation", "", "",
      "identifier=x", DENY, "user/Observation.s", "conditional-create" },
    { "user/Observation.us", "", "PUT", "Observation", "identifier=x", "",
      "", ALLOW, NULL, "conditional-update" },
    { "user/Observation.u", "", "PATCH", "Observation", "identifier=x", "",
      "", DENY, "user/Observation.s", "conditional-patch" },
    { "user/Observation.ds", "", "DELETE", "Observation", "identifier=x",
      "", "", ALLOW, NULL, "conditional-delete" },
    { "user/Observation.s", "", "DELETE", "Observation", "identifier=x", "",
      "", DENY, "user/Observation.d", "conditional-delete" },

    /* [SMART] v1: read = rs, write = cud, * = cruds */
    { "user/Observation.read", "", "GET", "Observation", "", "", "",
      ALLOW, NULL, "search-type" },
    { "user/Observation.read", "", "DELETE", "Observation/1", "", "", "",
      DENY, "user/Observation.d", "delete" },
    { "user/Observation.write", "", "PUT", "Observation/1", "", "", "",
      ALLOW, NULL, "update" },
    { "user/Observation.write", "", "GET", "Observation/1", "", "", "",
      DENY, "user/Observation.r", "read" },
    { "user/Observation.*", "", "DELETE", "Observation/1", "", "", "",
      ALLOW, NULL, "delete" },
    { "user/*.*", "", "POST", "Encounter", "", "", "",
      ALLOW, NULL, "create" },

    /* wildcards and scope equivalence (".rs" = ".r .s") */
    { "user/*.cruds", "", "PATCH", "MedicationRequest/7", "", "", "",
      ALLOW, NULL, "patch" },
    { "user/Observation.r user/Observation.s", "", "GET", "Observation",
      "", "", "", ALLOW, NULL, "search-type" },
    { "patient/*.rs user/Observation.rs", "", "GET", "Observation/1", "",
      "", "", ALLOW, NULL, "read" },

    /* undefined or out-of-order permissions are ignored ([SMART]) */
    { "user/Observation.dus", "", "DELETE", "Observation/1", "", "", "",
      DENY, "user/Observation.d", "delete" },
    { "user/Observation.sr", "", "GET", "Observation/1", "", "", "",
      DENY, "user/Observation.r", "read" },
    { "user/observation.r", "", "GET", "Observation/1", "", "", "",
      DENY, "user/Observation.r", "read" },
    { "openid fhirUser launch/patient offline_access", "", "GET",
      "Observation/1", "", "", "", DENY, "user/Observation.r", "read" },
    { "admin/Observation.r", "", "GET", "Observation/1", "", "", "",
      DENY, "user/Observation.r", "read" },

    /* patient context: Patient/<launch patient> itself */
    { "patient/Patient.r", "123", "GET", "Patient/123", "", "", "",
      ALLOW, NULL, "read" },
    { "patient/Patient.r", "123", "GET", "Patient/456", "", "", "",
      DENY, "user/Patient.r", "read" },
    { "patient/Patient.r", "", "GET", "Patient/123", "", "", "",
      DENY, "user/Patient.r", "read" },
    { "patient/*.rs", "123", "GET", "Patient/123/_history/3", "", "", "",
      ALLOW, NULL, "vread" },
    { "patient/Patient.u", "123", "PUT", "Patient/123", "", "", "",
      ALLOW, NULL, "update" },
    { "patient/Patient.rs", "123", "GET", "Patient", "_id=123", "", "",
      ALLOW, NULL, "search-type" },
    { "patient/Patient.rs", "123", "GET", "Patient", "name=smith", "", "",
      DENY, "user/Patient.s", "search-type" },
    { "patient/*.rs", "123", "GET", "Patient/123/$everything", "", "", "",
      ALLOW, NULL, "operation-instance" },

    /* [COMP]: searches with a linking parameter equal to the patient */
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient=123&code=1234-5", "", "", ALLOW, NULL, "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "subject=Patient/123", "", "", ALLOW, NULL, "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "subject=123", "", "", DENY, "user/Observation.s", "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "subject:Patient=123", "", "", ALLOW, NULL, "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient=Patient%2F123", "", "", ALLOW, NULL, "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "performer=Patient/123", "", "", ALLOW, NULL, "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient=456", "", "", DENY, "user/Observation.s", "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient=123,456", "", "", DENY, "user/Observation.s",
      "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient:not=123", "", "", DENY, "user/Observation.s",
      "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient:missing=true", "", "", DENY, "user/Observation.s",
      "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient.name=123", "", "", DENY, "user/Observation.s",
      "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "code=1234-5", "", "", DENY, "user/Observation.s", "search-type" },
    { "patient/Observation.rs", "123", "GET", "Observation",
      "patient=456&patient=123", "", "", ALLOW, NULL, "search-type" },
    { "patient/Condition.rs", "123", "GET", "Condition", "patient=123", "",
      "", ALLOW, NULL, "search-type" },
    { "patient/Condition.rs", "123", "GET", "Condition", "patient=456", "",
      "", DENY, "user/Condition.s", "search-type" },
    { "patient/*.rs", "123", "GET", "Practitioner", "patient=123", "", "",
      DENY, "user/Practitioner.s", "search-type" },
    { "patient/*.rs", "123", "GET", "Observation", "", "patient=123", "",
      DENY, "user/Observation.s", "search-type" },
    { "patient/*.rs", "123", "POST", "Observation/_search", "",
      "patient=123", "", ALLOW, NULL, "search-type" },
    { "patient/*.rs", "123", "POST", "Observation/_search", "patient=123",
      "", "", ALLOW, NULL, "search-type" },
    { "patient/*.rs", "123", "POST", "Observation/_search", "",
      "code=x", "", DENY, "user/Observation.s", "search-type" },

    /* instances of other types cannot be placed in the compartment */
    { "patient/Observation.rs", "123", "GET", "Observation/1", "", "", "",
      DENY, "user/Observation.r", "read" },
    { "patient/Observation.cruds", "123", "POST", "Observation", "", "", "",
      DENY, "user/Observation.c", "create" },
    { "patient/Observation.cruds", "123", "PUT", "Observation",
      "identifier=x&patient=123", "", "", ALLOW, NULL,
      "conditional-update" },
    { "patient/Observation.rs", "123", "GET", "Observation/_history", "",
      "", "", DENY, "user/Observation.s", "history-type" },

    /* compartment searches ([REST] search.html) */
    { "patient/Observation.rs", "123", "GET", "Patient/123/Observation",
      "code=1234-5", "", "", ALLOW, NULL, "search-compartment" },
    { "patient/Observation.rs", "123", "GET", "Patient/456/Observation",
      "", "", "", DENY, "user/Observation.s", "search-compartment" },
    { "patient/*.rs", "123", "GET", "Patient/123/*", "", "", "",
      ALLOW, NULL, "search-compartment" },
    { "patient/Observation.rs", "123", "GET", "Patient/123/*", "", "", "",
      DENY, "patient/*.s", "search-compartment" },
    { "user/Observation.rs", "", "GET", "Encounter/9/Observation", "", "",
      "", ALLOW, NULL, "search-compartment" },
    { "patient/*.rs", "123", "POST", "Patient/123/Observation/_search", "",
      "code=x", "", ALLOW, NULL, "search-compartment" },

    /* v2 search-parameter restrictions: searches must carry them */
    { "patient/Observation.rs?category=laboratory", "123", "GET",
      "Observation", "patient=123&category=laboratory", "", "",
      ALLOW, NULL, "search-type" },
    { "patient/Observation.rs?category=laboratory", "123", "GET",
      "Observation", "patient=123", "", "", DENY, "patient/Observation.s",
      "search-type" },
    { "patient/Observation.rs?category=laboratory", "123", "GET",
      "Observation", "patient=123&category=laboratory,vital-signs", "", "",
      DENY, "patient/Observation.s", "search-type" },
    { "patient/Observation.rs?category=laboratory", "123", "GET",
      "Observation/1", "", "", "", DENY, "user/Observation.r", "read" },
    { "patient/Observation.rs?category=laboratory", "123", "GET",
      "Patient/123/Observation", "category=laboratory", "", "",
      ALLOW, NULL, "search-compartment" },
    { "user/Observation.rs?category=http://terminology.hl7.org/CodeSystem/"
      "observation-category|laboratory", "", "GET", "Observation",
      "category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2F"
      "observation-category%7Claboratory", "", "", ALLOW, NULL,
      "search-type" },
    { "user/Observation.rs?category=laboratory&status=final", "", "GET",
      "Observation", "category=laboratory", "", "", DENY,
      "user/Observation.s", "search-type" },
    { "user/Observation.rs?category=laboratory&status=final", "", "GET",
      "Observation", "status=final&category=laboratory", "", "",
      ALLOW, NULL, "search-type" },
    { "user/Observation.rs?category=laboratory user/Observation.r", "",
      "GET", "Observation/1", "", "", "", ALLOW, NULL, "read" },
    { "user/Observation.read?category=laboratory", "", "GET", "Observation",
      "category=laboratory", "", "", DENY, "user/Observation.s",
      "search-type" },

    /* _include / _revinclude: other types, outside any compartment */
    { "patient/*.rs", "123", "GET", "Observation",
      "patient=123&_include=Observation:performer", "", "", DENY,
      "user/Observation.s user/*.r", "search-type" },
    { "user/*.rs", "", "GET", "Observation",
      "_revinclude:iterate=Provenance:target", "", "", ALLOW, NULL,
      "search-type" },
    { "user/Observation.rs", "", "GET", "Observation",
      "_include=Observation:subject", "", "", DENY, "user/*.r",
      "search-type" },

    /* operations: GET reads or searches, POST needs everything */
    { "user/ValueSet.s", "", "GET", "ValueSet/$expand", "url=x", "", "",
      ALLOW, NULL, "operation-type" },
    { "user/ValueSet.rs", "", "POST", "ValueSet/$expand", "", "", "",
      DENY, "user/ValueSet.cud", "operation-type" },
    { "user/*.cruds", "", "POST", "$convert", "", "", "",
      ALLOW, NULL, "operation-system" },
    { "user/Patient.r", "", "GET", "Patient/1/$everything", "", "", "",
      ALLOW, NULL, "operation-instance" },

    /* [SMART] batch/transaction: only "*" scopes covering everything */
    { "user/*.cruds", "", "POST", "", "", "", "",
      ALLOW, NULL, "batch/transaction" },
    { "system/*.*", "", "POST", "", "", "", "",
      ALLOW, NULL, "batch/transaction" },
    { "patient/*.cruds", "123", "POST", "", "", "", "",
      DENY, "user/*.cruds", "batch/transaction" },
    { "user/*.rs", "", "POST", "", "", "", "",
      DENY, "user/*.cud", "batch/transaction" },

    /* capabilities are open, whatever the scopes */
    { "", "", "GET", "metadata", "", "", "", ALLOW, NULL, "capabilities" },
    { "", "", "GET", ".well-known/smart-configuration", "", "", "",
      ALLOW, NULL, "capabilities" },

    /* not FHIR REST: refused without naming a scope */
    { "user/*.cruds", "", "POST", "metadata", "", "", "",
      DENY, "", "invalid" },
    { "user/*.cruds", "", "GET", "Observation/1/_history/2/x", "", "", "",
      DENY, "", "invalid" },
    { "user/*.cruds", "", "GET", "observation/1", "", "", "",
      DENY, "", "invalid" },
    { "user/*.cruds", "", "GET", "Observation/a_b", "", "", "",
      DENY, "", "invalid" },
    { "user/*.cruds", "", "PUT", "Observation", "", "", "",
      DENY, "", "invalid" },
    { "user/*.cruds", "", "OPTIONS", "Observation", "", "", "",
      DENY, "", "invalid" },
    { "user/*.cruds", "", "GET", "Observation//1", "", "", "",
      DENY, "", "invalid" },
    { "user/*.cruds", "", "GET", "Observation", "code=%zz", "", "",
      DENY, "", "invalid" },
};


static void
str(ngx_oidc_str_t *s, const char *v)
{
    s->data = (unsigned char *) v;
    s->len = strlen(v);
}


static void
run_case(const smart_case_t *c)
{
    int                        rc;
    char                       scope[512], need[512];
    size_t                     n;
    unsigned char              buf[1024];
    ngx_oidc_err_t             err;
    ngx_oidc_str_t             method, path, query, body, ine, patient;
    ngx_oidc_fhir_request_t    req;
    ngx_oidc_smart_scopes_t    scopes;
    ngx_oidc_smart_verdict_t   v;

    memset(&scopes, 0, sizeof(scopes));
    snprintf(scope, sizeof(scope), "%s", c->scopes);
    ngx_oidc_smart_scopes_parse(&scopes, (unsigned char *) scope,
                                strlen(scope));

    str(&method, c->method);
    str(&path, c->path);
    str(&query, c->query);
    str(&body, c->body);
    str(&ine, c->ine);
    str(&patient, c->patient);

    err.reason = NULL;
    rc = ngx_oidc_fhir_classify(&req, &method, &path, &query, &body, &ine,
                                buf, &err);

    if (strcmp(c->interaction, "invalid") == 0) {
        if (rc != NGX_OIDC_DECLINED || err.reason == NULL) {
            fail_msg("%s %s?%s: classified as %s", c->method, c->path,
                     c->query, ngx_oidc_fhir_interaction_name(req.interaction));
        }

        rc = ngx_oidc_smart_decide(&scopes, &req, &patient, &v);
        assert_int_equal(rc, NGX_OIDC_DECLINED);
        assert_int_equal(v.n, 0);
        return;
    }

    if (rc != NGX_OIDC_OK) {
        fail_msg("%s %s?%s: not classified: %s", c->method, c->path,
                 c->query, err.reason);
    }

    if (strcmp(ngx_oidc_fhir_interaction_name(req.interaction),
               c->interaction) != 0)
    {
        fail_msg("%s %s?%s: %s, expected %s", c->method, c->path, c->query,
                 ngx_oidc_fhir_interaction_name(req.interaction),
                 c->interaction);
    }

    rc = ngx_oidc_smart_decide(&scopes, &req, &patient, &v);

    if ((rc == NGX_OIDC_OK) != c->allowed) {
        fail_msg("[%s] patient \"%s\" %s %s?%s: %s (%s)", c->scopes,
                 c->patient, c->method, c->path, c->query,
                 rc == NGX_OIDC_OK ? "allowed" : "refused",
                 v.reason ? v.reason : "");
    }

    if (c->allowed) {
        return;
    }

    assert_non_null(v.reason);

    n = ngx_oidc_smart_verdict_scope(&v, NULL);
    assert_true(n < sizeof(need));
    assert_int_equal(ngx_oidc_smart_verdict_scope(&v, (unsigned char *) need),
                     n);
    need[n] = '\0';

    if (strcmp(need, c->need) != 0) {
        fail_msg("[%s] %s %s?%s: needs \"%s\", expected \"%s\"", c->scopes,
                 c->method, c->path, c->query, need, c->need);
    }
}


static void
test_table(void **state)
{
    size_t  i;

    (void) state;

    assert_true(sizeof(cases) / sizeof(cases[0]) >= 60);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
    }
}


static void
test_scopes_parse(void **state)
{
    char                     s[256];
    ngx_oidc_smart_scopes_t  set;

    (void) state;

    memset(&set, 0, sizeof(set));
    snprintf(s, sizeof(s), "openid fhirUser launch/patient "
             "patient/Observation.rs?category=a%%7Cb&code=x "
             "user/*.cruds system/Patient.read  patient/*.dus user/X.rs?");

    assert_int_equal(ngx_oidc_smart_scopes_parse(&set, (unsigned char *) s,
                                                 strlen(s)), 3);
    assert_int_equal(set.n, 3);
    assert_int_equal(set.ignored, 5);

    assert_int_equal(set.scope[0].context, NGX_OIDC_SMART_PATIENT);
    assert_int_equal(set.scope[0].perms, NGX_OIDC_SMART_R | NGX_OIDC_SMART_S);
    assert_int_equal(set.scope[0].nparams, 2);
    assert_memory_equal(set.scope[0].params[0].value.data, "a|b", 3);
    assert_int_equal(set.scope[0].params[0].value.len, 3);

    assert_int_equal(set.scope[1].context, NGX_OIDC_SMART_USER);
    assert_int_equal(set.scope[1].perms, NGX_OIDC_SMART_CRUDS);
    assert_int_equal(set.scope[1].type.len, 1);

    assert_int_equal(set.scope[2].context, NGX_OIDC_SMART_SYSTEM);
    assert_int_equal(set.scope[2].perms, NGX_OIDC_SMART_R | NGX_OIDC_SMART_S);
}


/* more restrictions than are kept: the scope is dropped, not widened */

static void
test_scopes_too_many_restrictions(void **state)
{
    char                     s[256];
    ngx_oidc_smart_scopes_t  set;

    (void) state;

    memset(&set, 0, sizeof(set));
    snprintf(s, sizeof(s), "user/Observation.s?a=1&b=2&c=3&d=4&e=5&f=6&g=7"
             "&h=8&i=9");

    assert_int_equal(ngx_oidc_smart_scopes_parse(&set, (unsigned char *) s,
                                                 strlen(s)), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_scopes_parse),
        cmocka_unit_test(test_scopes_too_many_restrictions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
