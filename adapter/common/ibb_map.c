/* ibb_map.c — open addressing with linear probing and backward-shift deletion (no tombstones). */
#include "ibb_map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *key;          /* NULL = empty slot; NUL-terminated copy of klen bytes */
    size_t klen;
    uint64_t hash;
    void *value;
} entry;

struct ibbMap {
    entry *slots;
    size_t cap;         /* power of two */
    size_t count;
};

static uint64_t hash_bytes(const void *key, size_t n)
{
    const unsigned char *p = key; /* FNV-1a, then a finaliser so low bits mix well */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

ibbStatus ibbMap_Create(ibbMap **out)
{
    if (!out)
        return IBB_ERR_INVALID_ARG;
    ibbMap *m = calloc(1, sizeof *m);
    if (!m)
        return IBB_ERR_NOMEM;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return IBB_ERR_NOMEM;
    }
    *out = m;
    return IBB_OK;
}

void ibbMap_Destroy(ibbMap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

size_t ibbMap_Count(const ibbMap *m) { return m ? m->count : 0; }

void ibbMap_Clear(ibbMap *m, void (*free_value)(void *))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        if (free_value)
            free_value(m->slots[i].value);
        free(m->slots[i].key);
        m->slots[i].key = NULL;
        m->slots[i].value = NULL;
    }
    m->count = 0;
}

static size_t find(const ibbMap *m, const void *key, size_t klen, uint64_t h, bool *found)
{
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].key) {
        const entry *e = &m->slots[i];
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
    *found = false;
    return i;
}

static ibbStatus grow(ibbMap *m)
{
    size_t ncap = m->cap * 2;
    entry *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return IBB_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return IBB_OK;
}

ibbStatus ibbMap_PutBytes(ibbMap *m, const void *key, size_t klen, void *value)
{
    if (!m || (!key && klen))
        return IBB_ERR_INVALID_ARG;
    if ((m->count + 1) * 4 > m->cap * 3 && grow(m) != IBB_OK)
        return IBB_ERR_NOMEM;
    uint64_t h = hash_bytes(key, klen);
    bool found;
    size_t i = find(m, key, klen, h, &found);
    if (found) {
        m->slots[i].value = value;
        return IBB_OK;
    }
    char *copy = malloc(klen + 1);
    if (!copy)
        return IBB_ERR_NOMEM;
    if (klen)
        memcpy(copy, key, klen);
    copy[klen] = '\0';
    m->slots[i] = (entry){copy, klen, h, value};
    m->count++;
    return IBB_OK;
}

void *ibbMap_GetBytes(const ibbMap *m, const void *key, size_t klen)
{
    if (!m)
        return NULL;
    bool found;
    size_t i = find(m, key, klen, hash_bytes(key, klen), &found);
    return found ? m->slots[i].value : NULL;
}

/* Removes slot i and shifts the following probe run back so lookups never stop early. */
static void remove_at(ibbMap *m, size_t i)
{
    size_t mask = m->cap - 1;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->count--;
    size_t j = (i + 1) & mask;
    while (m->slots[j].key) {
        size_t home = m->slots[j].hash & mask;
        /* move j into the hole i when its home is not in (i, j] cyclically */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
        j = (j + 1) & mask;
    }
}

void *ibbMap_DelBytes(ibbMap *m, const void *key, size_t klen)
{
    if (!m)
        return NULL;
    bool found;
    size_t i = find(m, key, klen, hash_bytes(key, klen), &found);
    if (!found)
        return NULL;
    void *v = m->slots[i].value;
    remove_at(m, i);
    return v;
}

ibbStatus ibbMap_Put(ibbMap *m, const char *key, void *value)
{
    return key ? ibbMap_PutBytes(m, key, strlen(key), value) : IBB_ERR_INVALID_ARG;
}
void *ibbMap_Get(const ibbMap *m, const char *key)
{
    return key ? ibbMap_GetBytes(m, key, strlen(key)) : NULL;
}
void *ibbMap_Del(ibbMap *m, const char *key) { return key ? ibbMap_DelBytes(m, key, strlen(key)) : NULL; }
ibbStatus ibbMap_PutInt(ibbMap *m, int64_t key, void *value)
{
    return ibbMap_PutBytes(m, &key, sizeof key, value);
}
void *ibbMap_GetInt(const ibbMap *m, int64_t key) { return ibbMap_GetBytes(m, &key, sizeof key); }
void *ibbMap_DelInt(ibbMap *m, int64_t key) { return ibbMap_DelBytes(m, &key, sizeof key); }

void ibbMapIter_Init(ibbMapIter *it, ibbMap *m)
{
    it->m = m;
    it->pos = 0;
}

int ibbMapIter_Next(ibbMapIter *it, const char **key, size_t *klen, void **value)
{
    if (!it->m)
        return 0;
    while (it->pos < it->m->cap) {
        entry *e = &it->m->slots[it->pos++];
        if (e->key) {
            if (key)
                *key = e->key;
            if (klen)
                *klen = e->klen;
            if (value)
                *value = e->value;
            return 1;
        }
    }
    return 0;
}
