/* st_chains.c — option chains and their one-day cache; see st_chains.h. */
#include "st_chains.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibb_map.h"

typedef struct entry {
    stChain *chain;
    int64_t day;
} entry;

struct stChains {
    ibbMap *by_key;                  /* key -> entry* (owned) */
};

ibbStatus stChain_Create(stChain **out, const char *key, int64_t con_id)
{
    if (!out || !key || strlen(key) >= ST_KEY_MAX)
        return IBB_ERR_INVALID_ARG;
    stChain *c = calloc(1, sizeof *c);
    if (!c)
        return IBB_ERR_NOMEM;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->con_id = con_id;
    *out = c;
    return IBB_OK;
}

void stChain_Destroy(stChain *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->classes[i].expirations);
        free(c->classes[i].strikes);
    }
    free(c->classes);
    free(c);
}

/* Makes room for one more element of size sz in *arr (count n, capacity *cap). */
static bool grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, ncap * sz);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

stChainClass *stChain_AddClass(stChain *c, const char *exchange, const char *trading_class,
                               const char *multiplier, int64_t underlying_con_id)
{
    if (!grow((void **)&c->classes, c->n, &c->cap, sizeof *c->classes))
        return NULL;
    stChainClass *k = &c->classes[c->n++];
    memset(k, 0, sizeof *k);
    snprintf(k->exchange, sizeof k->exchange, "%s", exchange ? exchange : "");
    snprintf(k->trading_class, sizeof k->trading_class, "%s", trading_class ? trading_class : "");
    snprintf(k->multiplier, sizeof k->multiplier, "%s", multiplier ? multiplier : "");
    k->underlying_con_id = underlying_con_id;
    return k;
}

ibbStatus stChainClass_AddExpiration(stChainClass *k, const char *d)
{
    if (!d || strlen(d) != 8 || strspn(d, "0123456789") != 8)
        return IBB_ERR_INVALID_ARG;
    if (!grow((void **)&k->expirations, k->n_exp, &k->cap_exp, sizeof *k->expirations))
        return IBB_ERR_NOMEM;
    memcpy(k->expirations[k->n_exp++], d, 9);
    return IBB_OK;
}

ibbStatus stChainClass_AddStrike(stChainClass *k, double strike)
{
    if (!isfinite(strike) || strike <= 0)
        return IBB_ERR_INVALID_ARG;
    if (!grow((void **)&k->strikes, k->n_strikes, &k->cap_strikes, sizeof *k->strikes))
        return IBB_ERR_NOMEM;
    k->strikes[k->n_strikes++] = strike;
    return IBB_OK;
}

static int cmp_exp(const void *a, const void *b) { return strcmp(a, b); }
static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static int cmp_class(const void *a, const void *b)
{
    const stChainClass *x = a, *y = b;
    int c = strcmp(x->exchange, y->exchange);
    return c ? c : strcmp(x->trading_class, y->trading_class);
}

void stChain_Finish(stChain *c)
{
    for (size_t i = 0; i < c->n; i++) {
        stChainClass *k = &c->classes[i];
        size_t m = 0;
        if (k->n_exp)
            qsort(k->expirations, k->n_exp, sizeof *k->expirations, cmp_exp);
        for (size_t j = 0; j < k->n_exp; j++)
            if (m == 0 || strcmp(k->expirations[m - 1], k->expirations[j]) != 0)
                memmove(k->expirations[m++], k->expirations[j], sizeof *k->expirations);
        k->n_exp = m;
        m = 0;
        if (k->n_strikes)
            qsort(k->strikes, k->n_strikes, sizeof *k->strikes, cmp_dbl);
        for (size_t j = 0; j < k->n_strikes; j++)
            if (m == 0 || k->strikes[m - 1] != k->strikes[j])
                k->strikes[m++] = k->strikes[j];
        k->n_strikes = m;
    }
    if (c->n)
        qsort(c->classes, c->n, sizeof *c->classes, cmp_class);
}

bool stChain_HasExpiration(const stChain *c, const char *d)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->classes[i].n_exp; j++)
            if (strcmp(c->classes[i].expirations[j], d) == 0)
                return true;
    return false;
}

ibbStatus stChains_Create(stChains **out)
{
    stChains *cc = out ? calloc(1, sizeof *cc) : NULL;
    if (!cc || ibbMap_Create(&cc->by_key) != IBB_OK) {
        free(cc);
        return out ? IBB_ERR_NOMEM : IBB_ERR_INVALID_ARG;
    }
    *out = cc;
    return IBB_OK;
}

static void free_entry(void *v)
{
    entry *e = v;
    stChain_Destroy(e->chain);
    free(e);
}

void stChains_Destroy(stChains *cc)
{
    if (!cc)
        return;
    ibbMap_Clear(cc->by_key, free_entry);
    ibbMap_Destroy(cc->by_key);
    free(cc);
}

ibbStatus stChains_Put(stChains *cc, stChain *c, int64_t day)
{
    entry *e = malloc(sizeof *e);
    if (!e) {
        stChain_Destroy(c);
        return IBB_ERR_NOMEM;
    }
    e->chain = c;
    e->day = day;
    entry *old = ibbMap_Get(cc->by_key, c->key);
    if (ibbMap_Put(cc->by_key, c->key, e) != IBB_OK) {
        free_entry(e);
        return IBB_ERR_NOMEM;
    }
    if (old)
        free_entry(old);
    return IBB_OK;
}

const stChain *stChains_Get(stChains *cc, const char *key, int64_t day)
{
    entry *e = ibbMap_Get(cc->by_key, key);
    if (e && e->day != day) {
        ibbMap_Del(cc->by_key, key);
        free_entry(e);
        return NULL;
    }
    return e ? e->chain : NULL;
}

size_t stChains_Count(const stChains *cc) { return cc ? ibbMap_Count(cc->by_key) : 0; }
