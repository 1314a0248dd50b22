/* completed_vectors.h — loads tests/ib/vectors/completed_orders.jsonl (IBB_COMPLETED_VECTORS), the
 * reqCompletedOrders / completedOrder / completedOrdersEnd lines of the protocol's vector file,
 * copied with their source fields. Header-only for the tests of tests/ib and tests/sim. A missing
 * file or a missing vector FAILS the calling test (never skips). */
#ifndef COMPLETED_VECTORS_H
#define COMPLETED_VECTORS_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cvec {
    bool to_server;                  /* client->server */
    char message[160];
    int sv;                          /* 0 when null in the file */
    int nfields;
    char **fields;
    char *payload;                   /* fields joined, each NUL-terminated */
    size_t len;
} cvec;

static cvec *g_cv;
static int g_ncv;

static inline void cv_load(void)
{
    if (g_cv)
        return;
    FILE *f = fopen(IBB_COMPLETED_VECTORS, "r");
    cr_assert_not_null(f, "vectors file %s must exist", IBB_COMPLETED_VECTORS);
    char *line = NULL;
    size_t cap = 0;
    g_cv = calloc(16, sizeof *g_cv);
    while (getline(&line, &cap, f) > 1) {
        cr_assert(g_ncv < 16, "more vectors than expected");
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        cr_assert_not_null(o, "bad JSON: %s", jerr.text);
        cr_assert(json_is_string(json_object_get(o, "source")), "every line keeps its source");
        cvec *v = &g_cv[g_ncv++];
        v->to_server = strcmp(json_string_value(json_object_get(o, "direction")), "client->server") == 0;
        snprintf(v->message, sizeof v->message, "%s", json_string_value(json_object_get(o, "message")));
        json_t *sv = json_object_get(o, "server_version");
        v->sv = json_is_integer(sv) ? (int)json_integer_value(sv) : 0;
        json_t *fl = json_object_get(o, "fields");
        v->nfields = (int)json_array_size(fl);
        v->fields = calloc((size_t)v->nfields + 1, sizeof(char *));
        size_t total = 0;
        for (int i = 0; i < v->nfields; i++) {
            v->fields[i] = strdup(json_string_value(json_array_get(fl, (size_t)i)));
            total += strlen(v->fields[i]) + 1;
        }
        v->payload = malloc(total + 1);
        for (int i = 0; i < v->nfields; i++) {
            size_t l = strlen(v->fields[i]) + 1;
            memcpy(v->payload + v->len, v->fields[i], l);
            v->len += l;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    cr_assert_eq(g_ncv, 6, "6 completed-order vectors expected, got %d", g_ncv);
}

/* The vector whose message starts with this prefix. */
static inline const cvec *cv_find(const char *prefix)
{
    cv_load();
    for (int i = 0; i < g_ncv; i++)
        if (strncmp(g_cv[i].message, prefix, strlen(prefix)) == 0)
            return &g_cv[i];
    cr_assert_fail("no vector '%s'", prefix);
    return NULL;
}

#endif
