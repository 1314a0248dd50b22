/* ib_vectors.h — loads tests/ib/vectors/vectors.jsonl (IBB_VECTORS) for the codec tests.
 * Header-only (static functions) so each test_*.c executable stands alone. A missing or
 * unreadable file FAILS the calling test (never skips). */
#ifndef IB_VECTORS_H
#define IB_VECTORS_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ib_msgs.h"

typedef struct tvec {
    int index;                       /* 0-based line number */
    bool to_server;                  /* client->server */
    char *message;
    int sv;                          /* 0 when null */
    char *kind;
    char *check;                     /* official_decoder_check or "" */
    int nfields;
    char **fields;
    char *payload;                   /* fields joined, each NUL-terminated */
    size_t len;
} tvec;

static tvec *g_vecs;
static int g_nvec;

static inline char *dup_or_empty(json_t *s) { return strdup(json_is_string(s) ? json_string_value(s) : ""); }

static inline void vectors_load(void)
{
    if (g_vecs)
        return;
    FILE *f = fopen(IBB_VECTORS, "r");
    cr_assert_not_null(f, "vectors file %s must exist", IBB_VECTORS);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int alloc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (n <= 1)
            continue;
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        cr_assert_not_null(o, "bad JSON on line %d: %s", g_nvec + 1, jerr.text);
        if (g_nvec == alloc) {
            alloc = alloc ? alloc * 2 : 128;
            g_vecs = realloc(g_vecs, (size_t)alloc * sizeof *g_vecs);
        }
        tvec *v = &g_vecs[g_nvec];
        memset(v, 0, sizeof *v);
        v->index = g_nvec;
        v->to_server = strcmp(json_string_value(json_object_get(o, "direction")), "client->server") == 0;
        v->message = dup_or_empty(json_object_get(o, "message"));
        json_t *sv = json_object_get(o, "server_version");
        v->sv = json_is_integer(sv) ? (int)json_integer_value(sv) : 0;
        v->kind = dup_or_empty(json_object_get(o, "kind"));
        v->check = dup_or_empty(json_object_get(o, "official_decoder_check"));
        json_t *fields = json_object_get(o, "fields");
        cr_assert(json_is_array(fields));
        v->nfields = (int)json_array_size(fields);
        v->fields = calloc((size_t)v->nfields + 1, sizeof(char *));
        size_t total = 0;
        for (int i = 0; i < v->nfields; i++) {
            v->fields[i] = dup_or_empty(json_array_get(fields, (size_t)i));
            total += strlen(v->fields[i]) + 1;
        }
        v->payload = malloc(total + 1);
        v->len = 0;
        for (int i = 0; i < v->nfields; i++) {
            size_t l = strlen(v->fields[i]);
            memcpy(v->payload + v->len, v->fields[i], l + 1);
            v->len += l + 1;
        }
        json_decref(o);
        g_nvec++;
    }
    free(line);
    fclose(f);
    cr_assert_eq(g_nvec, 96, "expected 96 vectors, got %d", g_nvec);
}

/* The vector with this exact message name (and sv, unless sv < 0). Fails the test if absent. */
static inline tvec *vec_find(const char *message, int sv)
{
    vectors_load();
    for (int i = 0; i < g_nvec; i++)
        if (strcmp(g_vecs[i].message, message) == 0 && (sv < 0 || g_vecs[i].sv == sv))
            return &g_vecs[i];
    cr_assert_fail("no vector '%s' at sv %d", message, sv);
    return NULL;
}

static inline tvec *vec_at(int index)
{
    vectors_load();
    cr_assert(index >= 0 && index < g_nvec);
    return &g_vecs[index];
}

/* be32(len) + payload, in a malloc'd buffer. */
static inline char *vec_frame(const tvec *v, size_t *flen)
{
    char *b = malloc(v->len + 4);
    b[0] = (char)(v->len >> 24);
    b[1] = (char)(v->len >> 16);
    b[2] = (char)(v->len >> 8);
    b[3] = (char)v->len;
    memcpy(b + 4, v->payload, v->len);
    *flen = v->len + 4;
    return b;
}

#endif
