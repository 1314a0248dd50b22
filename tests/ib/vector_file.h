/* vector_file.h — loads one file of labelled IB wire vectors (JSON lines with source, direction,
 * message, server_version, fields) for the codec tests of tests/ib and tests/sim: each line becomes a
 * tvec with its fields and its NUL-joined payload. Header-only. A missing file, a line without its
 * source, or a count other than the one expected FAILS the calling test (never skips). */
#ifndef VECTOR_FILE_H
#define VECTOR_FILE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tvec {
    bool to_server;                  /* client->server */
    char message[160];
    int sv;                          /* 0 when null in the file */
    int nfields;
    char **fields;
    char *payload;                   /* fields joined, each NUL-terminated */
    size_t len;
} tvec;

typedef struct vecFile {
    const char *path;
    int expected;                    /* how many lines the file must hold */
    tvec *v;
    int n;
} vecFile;

static inline void vecFile_Load(vecFile *vf)
{
    if (vf->v)
        return;
    FILE *f = fopen(vf->path, "r");
    cr_assert_not_null(f, "vectors file %s must exist", vf->path);
    char *line = NULL;
    size_t cap = 0;
    vf->v = calloc((size_t)vf->expected + 1, sizeof *vf->v);
    while (getline(&line, &cap, f) > 1) {
        cr_assert(vf->n < vf->expected, "%s: more than %d vectors", vf->path, vf->expected);
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        cr_assert_not_null(o, "bad JSON: %s", jerr.text);
        cr_assert(json_is_string(json_object_get(o, "source")), "every line keeps its source");
        tvec *v = &vf->v[vf->n++];
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
    cr_assert_eq(vf->n, vf->expected, "%s: %d vectors expected, got %d", vf->path, vf->expected, vf->n);
}

/* The vector whose message starts with this prefix. */
/* be32(len) + payload of one vector, in a malloc'd buffer. */
static inline char *tvec_Frame(const tvec *v, size_t *flen)
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

static inline const tvec *vecFile_Find(vecFile *vf, const char *prefix)
{
    vecFile_Load(vf);
    for (int i = 0; i < vf->n; i++)
        if (strncmp(vf->v[i].message, prefix, strlen(prefix)) == 0)
            return &vf->v[i];
    cr_assert_fail("no vector '%s' in %s", prefix, vf->path);
    return NULL;
}

#endif
