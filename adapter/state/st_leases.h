/* st_leases.h — streaming leases: reference-counted interest in instruments, with expiry.
 *
 * Single-threaded (the loop thread); time is passed in (ms, monotonic), so tests need no clock.
 * Many leases may name one instrument key; the table calls `acquire(key)` when the first lease
 * takes a key and `release(key)` when the last one lets go (end, renewal without the key, or
 * expiry). The owner turns those into one reqMktData / cancelMktData per instrument.
 * A lease with ttl_ms <= 0 never expires (the configured watchlist). Lease ids are 32 hex chars,
 * unguessable (from /dev/urandom), so one consumer cannot end another's lease by guessing. */
#ifndef ST_LEASES_H
#define ST_LEASES_H

#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"

#define ST_LEASE_ID_LEN 32

typedef struct stLeases stLeases;

typedef struct stLeaseHooks {
    void (*acquire)(void *ud, const char *key);
    void (*release)(void *ud, const char *key);
    void *ud;
} stLeaseHooks;

ibbStatus stLeases_Create(stLeases **out, const stLeaseHooks *hooks);
void stLeases_Destroy(stLeases *lt);   /* NULL-safe; calls no hooks */

/* Creates a lease (lease_id NULL or "") or renews one (its key set is replaced by `keys` and its
 * expiry moved to now + ttl). id_out receives the id (ST_LEASE_ID_LEN + 1 bytes).
 * IBB_ERR_NOT_FOUND for an unknown or expired lease id. Duplicate keys are counted once. */
ibbStatus stLeases_Grant(stLeases *lt, const char *lease_id, const char *const *keys, size_t nkeys,
                         int64_t ttl_ms, int64_t now_ms, char *id_out);
/* Recreates a lease known elsewhere (a hot standby taking over: leases live in KV) under its own id
 * (ST_LEASE_ID_LEN lower-case hex chars), expiring at now + ttl_ms (> 0). IBB_ERR_CONFLICT when the id
 * is already in the table, IBB_ERR_INVALID_ARG for a malformed id. */
ibbStatus stLeases_Restore(stLeases *lt, const char *lease_id, const char *const *keys, size_t nkeys,
                           int64_t ttl_ms, int64_t now_ms);
/* Ends a lease now. IBB_ERR_NOT_FOUND when unknown. */
ibbStatus stLeases_End(stLeases *lt, const char *lease_id);
/* Ends every lease whose expiry is <= now; returns how many. */
size_t stLeases_Expire(stLeases *lt, int64_t now_ms);
/* Earliest expiry of any lease, or INT64_MAX when none expires. */
int64_t stLeases_NextExpiry(const stLeases *lt);
/* Expiry time of one lease (INT64_MAX = never); -1 when unknown. */
int64_t stLeases_ExpiresAt(const stLeases *lt, const char *lease_id);

/* How many leases hold key (0 when none). */
int stLeases_RefCount(const stLeases *lt, const char *key);
/* Distinct keys held by any lease (= market-data lines wanted). */
size_t stLeases_KeyCount(const stLeases *lt);
size_t stLeases_LeaseCount(const stLeases *lt);
/* How many of `keys` no lease holds yet (what a new grant would add). */
size_t stLeases_NewKeys(const stLeases *lt, const char *const *keys, size_t nkeys);
/* The keys of one lease (borrowed: valid until the lease changes). IBB_ERR_NOT_FOUND when unknown. */
ibbStatus stLeases_Keys(const stLeases *lt, const char *lease_id, const char *const **keys, size_t *nkeys);
/* Calls fn for each lease (any order) with its keys (borrowed for the call) and its expiry (INT64_MAX =
 * never), at most `max` times; returns how many. fn must not change the table. */
typedef void (*stLeaseVisitFn)(void *ud, const char *const *keys, size_t nkeys, int64_t expires_ms);
size_t stLeases_Visit(const stLeases *lt, size_t max, stLeaseVisitFn fn, void *ud);

#endif
