/* st_leases.c — lease table; see st_leases.h. */
#include "st_leases.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ibb_map.h"

typedef struct lease {
    char id[ST_LEASE_ID_LEN + 1];
    int64_t expires_ms;      /* INT64_MAX = never */
    char **keys;
    size_t nkeys;
} lease;

struct stLeases {
    stLeaseHooks hooks;
    ibbMap *leases;          /* id -> lease* (owned) */
    ibbMap *refs;            /* key -> (intptr_t) refcount */
};

ibbStatus stLeases_Create(stLeases **out, const stLeaseHooks *hooks)
{
    if (!out)
        return IBB_ERR_INVALID_ARG;
    stLeases *lt = calloc(1, sizeof *lt);
    if (!lt || ibbMap_Create(&lt->leases) != IBB_OK || ibbMap_Create(&lt->refs) != IBB_OK) {
        stLeases_Destroy(lt);
        return IBB_ERR_NOMEM;
    }
    if (hooks)
        lt->hooks = *hooks;
    *out = lt;
    return IBB_OK;
}

static void free_lease(lease *l)
{
    for (size_t i = 0; i < l->nkeys; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l);
}

void stLeases_Destroy(stLeases *lt)
{
    if (!lt)
        return;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, lt->leases);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        free_lease(v);
    ibbMap_Destroy(lt->leases);
    ibbMap_Destroy(lt->refs);
    free(lt);
}

int stLeases_RefCount(const stLeases *lt, const char *key)
{
    return (int)(intptr_t)ibbMap_Get(lt->refs, key);
}
size_t stLeases_KeyCount(const stLeases *lt) { return ibbMap_Count(lt->refs); }
size_t stLeases_LeaseCount(const stLeases *lt) { return ibbMap_Count(lt->leases); }

static ibbStatus ref_key(stLeases *lt, const char *key)
{
    intptr_t n = (intptr_t)ibbMap_Get(lt->refs, key);
    if (ibbMap_Put(lt->refs, key, (void *)(n + 1)) != IBB_OK)
        return IBB_ERR_NOMEM;
    if (n == 0 && lt->hooks.acquire)
        lt->hooks.acquire(lt->hooks.ud, key);
    return IBB_OK;
}

static void unref_key(stLeases *lt, const char *key)
{
    intptr_t n = (intptr_t)ibbMap_Get(lt->refs, key);
    if (n > 1) {
        ibbMap_Put(lt->refs, key, (void *)(n - 1)); /* replacing never allocates */
        return;
    }
    if (n == 1) {
        ibbMap_Del(lt->refs, key);
        if (lt->hooks.release)
            lt->hooks.release(lt->hooks.ud, key);
    }
}

static void new_id(char *out)
{
    unsigned char raw[ST_LEASE_ID_LEN / 2];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof raw) { /* no urandom: still unique, less unguessable */
        static uint64_t counter;
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ ++counter;
        for (size_t i = 0; i < sizeof raw; i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
            raw[i] = (unsigned char)(x >> 56);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Copies keys without duplicates into a new array; NULL on OOM (with *n = 0 meaning empty). */
static char **copy_keys(const char *const *keys, size_t nkeys, size_t *n)
{
    *n = 0;
    if (nkeys == 0)
        return NULL;
    char **out = calloc(nkeys, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < nkeys; i++) {
        bool dup = false;
        for (size_t j = 0; j < *n && !dup; j++)
            dup = strcmp(out[j], keys[i]) == 0;
        if (dup)
            continue;
        if (!(out[*n] = strdup(keys[i]))) {
            for (size_t j = 0; j < *n; j++)
                free(out[j]);
            free(out);
            *n = 0;
            return NULL;
        }
        (*n)++;
    }
    return out;
}

static ibbStatus put_lease(stLeases *lt, lease *old, const char *fixed_id, const char *const *keys, size_t nkeys,
                           int64_t ttl_ms, int64_t now_ms, char *id_out);

ibbStatus stLeases_Grant(stLeases *lt, const char *lease_id, const char *const *keys, size_t nkeys,
                         int64_t ttl_ms, int64_t now_ms, char *id_out)
{
    if (!lt || (nkeys && !keys) || !id_out)
        return IBB_ERR_INVALID_ARG;
    lease *old = (lease_id && *lease_id) ? ibbMap_Get(lt->leases, lease_id) : NULL;
    if (lease_id && *lease_id && (!old || old->expires_ms <= now_ms))
        return IBB_ERR_NOT_FOUND;
    return put_lease(lt, old, NULL, keys, nkeys, ttl_ms, now_ms, id_out);
}

ibbStatus stLeases_Restore(stLeases *lt, const char *lease_id, const char *const *keys, size_t nkeys,
                           int64_t ttl_ms, int64_t now_ms)
{
    if (!lt || (nkeys && !keys) || !lease_id || strlen(lease_id) != ST_LEASE_ID_LEN || ttl_ms <= 0)
        return IBB_ERR_INVALID_ARG;
    for (const char *p = lease_id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return IBB_ERR_INVALID_ARG;
    if (ibbMap_Get(lt->leases, lease_id))
        return IBB_ERR_CONFLICT;
    char id[ST_LEASE_ID_LEN + 1];
    return put_lease(lt, NULL, lease_id, keys, nkeys, ttl_ms, now_ms, id);
}

static ibbStatus put_lease(stLeases *lt, lease *old, const char *fixed_id, const char *const *keys, size_t nkeys,
                           int64_t ttl_ms, int64_t now_ms, char *id_out)
{
    lease *l = calloc(1, sizeof *l);
    if (!l)
        return IBB_ERR_NOMEM;
    l->keys = copy_keys(keys, nkeys, &l->nkeys);
    if (nkeys && !l->keys) {
        free(l);
        return IBB_ERR_NOMEM;
    }
    l->expires_ms = ttl_ms > 0 ? now_ms + ttl_ms : INT64_MAX;
    if (old)
        memcpy(l->id, old->id, sizeof l->id);
    else if (fixed_id)
        memcpy(l->id, fixed_id, sizeof l->id);
    else
        new_id(l->id);
    /* Take the new keys before dropping the old ones so a renewal never cancels a kept key. */
    for (size_t i = 0; i < l->nkeys; i++)
        if (ref_key(lt, l->keys[i]) != IBB_OK) {
            for (size_t j = 0; j < i; j++)
                unref_key(lt, l->keys[j]);
            free_lease(l);
            return IBB_ERR_NOMEM;
        }
    if (ibbMap_Put(lt->leases, l->id, l) != IBB_OK) {
        for (size_t j = 0; j < l->nkeys; j++)
            unref_key(lt, l->keys[j]);
        free_lease(l);
        return IBB_ERR_NOMEM;
    }
    if (old) {
        for (size_t i = 0; i < old->nkeys; i++)
            unref_key(lt, old->keys[i]);
        free_lease(old);
    }
    memcpy(id_out, l->id, sizeof l->id);
    return IBB_OK;
}

static void end_lease(stLeases *lt, lease *l)
{
    ibbMap_Del(lt->leases, l->id);
    for (size_t i = 0; i < l->nkeys; i++)
        unref_key(lt, l->keys[i]);
    free_lease(l);
}

ibbStatus stLeases_End(stLeases *lt, const char *lease_id)
{
    lease *l = lt && lease_id ? ibbMap_Get(lt->leases, lease_id) : NULL;
    if (!l)
        return IBB_ERR_NOT_FOUND;
    end_lease(lt, l);
    return IBB_OK;
}

size_t stLeases_Expire(stLeases *lt, int64_t now_ms)
{
    size_t n = 0, cap = 0;
    lease **due = NULL;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, lt->leases);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        lease *l = v;
        if (l->expires_ms > now_ms)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            lease **nd = realloc(due, ncap * sizeof *nd);
            if (!nd)
                break; /* the rest expire on the next call */
            due = nd;
            cap = ncap;
        }
        due[n++] = l;
    }
    for (size_t i = 0; i < n; i++)
        end_lease(lt, due[i]);
    free(due);
    return n;
}

int64_t stLeases_NextExpiry(const stLeases *lt)
{
    int64_t next = INT64_MAX;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, (ibbMap *)lt->leases);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        if (((lease *)v)->expires_ms < next)
            next = ((lease *)v)->expires_ms;
    return next;
}

int64_t stLeases_ExpiresAt(const stLeases *lt, const char *lease_id)
{
    lease *l = ibbMap_Get(lt->leases, lease_id);
    return l ? l->expires_ms : -1;
}

size_t stLeases_NewKeys(const stLeases *lt, const char *const *keys, size_t nkeys)
{
    size_t n = 0;
    for (size_t i = 0; i < nkeys; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(keys[j], keys[i]) == 0;
        if (!seen && !ibbMap_Get(lt->refs, keys[i]))
            n++;
    }
    return n;
}

ibbStatus stLeases_Keys(const stLeases *lt, const char *lease_id, const char *const **keys, size_t *nkeys)
{
    const lease *l = lt && lease_id ? ibbMap_Get(lt->leases, lease_id) : NULL;
    if (!l)
        return IBB_ERR_NOT_FOUND;
    *keys = (const char *const *)l->keys;
    *nkeys = l->nkeys;
    return IBB_OK;
}

size_t stLeases_Visit(const stLeases *lt, size_t max, stLeaseVisitFn fn, void *ud)
{
    ibbMapIter it;
    void *v;
    size_t n = 0;
    ibbMapIter_Init(&it, (ibbMap *)lt->leases);
    while (n < max && ibbMapIter_Next(&it, NULL, NULL, &v)) {
        const lease *l = v;
        fn(ud, (const char *const *)l->keys, l->nkeys, l->expires_ms);
        n++;
    }
    return n;
}
