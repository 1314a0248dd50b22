/* wave2_vectors.h — loads tests/ib/vectors/market_depth_ticks.jsonl (IBB_WAVE2_VECTORS), the
 * market depth, tick-by-tick, real-time bar and option lines of the protocol's vector file (§3.12-3.15),
 * copied with their source fields. Header-only for the tests of tests/ib and tests/sim. A missing
 * file or a missing vector FAILS the calling test (never skips). */
#ifndef WAVE2_VECTORS_H
#define WAVE2_VECTORS_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wvec {
    bool to_server;                  /* client->server */
    char message[160];
    int sv;                          /* 0 when null in the file */
    int nfields;
    char **fields;
    char *payload;                   /* fields joined, each NUL-terminated */
    size_t len;
} wvec;

static wvec *g_wv;
static int g_nwv;

static inline void wv_load(void)
{
    if (g_wv)
        return;
    FILE *f = fopen(IBB_WAVE2_VECTORS, "r");
    cr_assert_not_null(f, "vectors file %s must exist", IBB_WAVE2_VECTORS);
    char *line = NULL;
    size_t cap = 0;
    g_wv = calloc(64, sizeof *g_wv);
    while (getline(&line, &cap, f) > 1) {
        cr_assert(g_nwv < 64, "more vectors than expected");
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        cr_assert_not_null(o, "bad JSON: %s", jerr.text);
        cr_assert(json_is_string(json_object_get(o, "source")), "every line keeps its source");
        wvec *v = &g_wv[g_nwv++];
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
    cr_assert_eq(g_nwv, 35, "35 wave-2 vectors expected, got %d", g_nwv);
}

/* The vector whose message starts with this prefix. */
static inline const wvec *wv_find(const char *prefix)
{
    wv_load();
    for (int i = 0; i < g_nwv; i++)
        if (strncmp(g_wv[i].message, prefix, strlen(prefix)) == 0)
            return &g_wv[i];
    cr_assert_fail("no vector '%s'", prefix);
    return NULL;
}

#endif
