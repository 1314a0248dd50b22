/* test_leases.c — one acquire per instrument however many leases; release on last end/expiry. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "st_leases.h"

static int acquired, released;
static char last_key[64];
static void on_acquire(void *ud, const char *key) { (void)ud; acquired++; strcpy(last_key, key); }
static void on_release(void *ud, const char *key) { (void)ud; released++; strcpy(last_key, key); }

static stLeases *make(void)
{
    acquired = released = 0;
    stLeaseHooks h = {on_acquire, on_release, NULL};
    stLeases *lt;
    cr_assert_eq(stLeases_Create(&lt, &h), IBB_OK);
    return lt;
}

Test(leases, twenty_consumers_one_subscription)
{
    stLeases *lt = make();
    const char *keys[] = {"AAPL"};
    char ids[20][ST_LEASE_ID_LEN + 1];
    for (int i = 0; i < 20; i++)
        cr_assert_eq(stLeases_Grant(lt, NULL, keys, 1, 30000, 0, ids[i]), IBB_OK);
    cr_assert_eq(acquired, 1);
    cr_assert_eq(stLeases_RefCount(lt, "AAPL"), 20);
    cr_assert_neq(strcmp(ids[0], ids[1]), 0, "lease ids are unique");
    cr_assert_eq(strlen(ids[0]), ST_LEASE_ID_LEN);
    for (int i = 0; i < 19; i++)
        cr_assert_eq(stLeases_End(lt, ids[i]), IBB_OK);
    cr_assert_eq(released, 0);
    cr_assert_eq(stLeases_End(lt, ids[19]), IBB_OK);
    cr_assert_eq(released, 1);
    cr_assert_str_eq(last_key, "AAPL");
    cr_assert_eq(stLeases_End(lt, ids[19]), IBB_ERR_NOT_FOUND);
    cr_assert_eq(stLeases_KeyCount(lt), 0);
    stLeases_Destroy(lt);
}

Test(leases, expiry_renewal_and_watchlist)
{
    stLeases *lt = make();
    const char *ab[] = {"AAPL", "MSFT", "AAPL"}, *b[] = {"MSFT"}, *w[] = {"SPY"};
    char id[ST_LEASE_ID_LEN + 1], wid[ST_LEASE_ID_LEN + 1], id2[ST_LEASE_ID_LEN + 1];
    cr_assert_eq(stLeases_Grant(lt, NULL, w, 1, 0, 0, wid), IBB_OK); /* watchlist: never expires */
    cr_assert_eq(stLeases_Grant(lt, NULL, ab, 3, 1000, 0, id), IBB_OK);
    cr_assert_eq(acquired, 3, "duplicates count once");
    cr_assert_eq(stLeases_NextExpiry(lt), 1000);
    cr_assert_eq(stLeases_NewKeys(lt, ab, 3), 0);
    const char *nk[] = {"TSLA", "AAPL", "TSLA"};
    cr_assert_eq(stLeases_NewKeys(lt, nk, 3), 1);
    /* renew at t=900 keeping only MSFT: AAPL released, MSFT never released in between */
    cr_assert_eq(stLeases_Grant(lt, id, b, 1, 1000, 900, id2), IBB_OK);
    cr_assert_str_eq(id2, id, "renewal keeps the id");
    cr_assert_eq(released, 1);
    cr_assert_str_eq(last_key, "AAPL");
    cr_assert_eq(stLeases_Expire(lt, 1500), 0, "renewed until 1900");
    cr_assert_eq(stLeases_Expire(lt, 1900), 1);
    cr_assert_eq(released, 2);
    cr_assert_str_eq(last_key, "MSFT");
    cr_assert_eq(stLeases_Grant(lt, id, b, 1, 1000, 2000, id2), IBB_ERR_NOT_FOUND, "an expired lease is gone");
    cr_assert_eq(stLeases_Expire(lt, INT64_MAX - 1), 0, "the watchlist never expires");
    cr_assert_eq(stLeases_RefCount(lt, "SPY"), 1);
    cr_assert_eq(stLeases_LeaseCount(lt), 1);
    stLeases_Destroy(lt);
}

typedef struct visitSeen {
    size_t calls, keys, never;
    int64_t latest;
} visitSeen;

static void on_visit(void *ud, const char *const *keys, size_t nkeys, int64_t expires_ms)
{
    visitSeen *s = ud;
    s->calls++;
    s->keys += nkeys;
    for (size_t i = 0; i < nkeys; i++)
        cr_assert(keys[i] && keys[i][0]);
    if (expires_ms == INT64_MAX)
        s->never++;
    else if (expires_ms > s->latest)
        s->latest = expires_ms;
}

Test(leases, visit_lists_every_lease_up_to_max)
{
    stLeases *lt = make();
    const char *w[] = {"W"}, *ab[] = {"A", "B"};
    char id1[ST_LEASE_ID_LEN + 1], id2[ST_LEASE_ID_LEN + 1];
    cr_assert_eq(stLeases_Grant(lt, NULL, w, 1, 0, 0, id1), IBB_OK);
    cr_assert_eq(stLeases_Grant(lt, NULL, ab, 2, 5000, 100, id2), IBB_OK);
    visitSeen s = {0};
    cr_assert_eq(stLeases_Visit(lt, 10, on_visit, &s), 2);
    cr_assert_eq(s.calls, 2);
    cr_assert_eq(s.keys, 3);
    cr_assert_eq(s.never, 1, "the watchlist never expires");
    cr_assert_eq(s.latest, 5100);
    visitSeen one = {0};
    cr_assert_eq(stLeases_Visit(lt, 1, on_visit, &one), 1, "at most max");
    cr_assert_eq(one.calls, 1);
    stLeases_Destroy(lt);
}

Test(leases, restore_keeps_the_id)
{
    stLeases *lt = make();
    const char *ab[] = {"AAPL", "MSFT"};
    const char *id = "0123456789abcdef0123456789abcdef";
    cr_assert_eq(stLeases_Restore(lt, id, ab, 2, 5000, 100), IBB_OK);
    cr_assert_eq(acquired, 2, "restored keys are acquired like granted ones");
    cr_assert_eq(stLeases_ExpiresAt(lt, id), 5100);
    cr_assert_eq(stLeases_Restore(lt, id, ab, 2, 5000, 100), IBB_ERR_CONFLICT, "already there");
    cr_assert_eq(stLeases_Restore(lt, "not-hex", ab, 2, 5000, 100), IBB_ERR_INVALID_ARG);
    cr_assert_eq(stLeases_Restore(lt, "0123456789ABCDEF0123456789abcdef", ab, 2, 5000, 100), IBB_ERR_INVALID_ARG);
    cr_assert_eq(stLeases_Restore(lt, "ffffffffffffffffffffffffffffffff", ab, 2, 0, 100), IBB_ERR_INVALID_ARG,
                 "a restored lease always expires");
    char id2[ST_LEASE_ID_LEN + 1];
    cr_assert_eq(stLeases_Grant(lt, id, ab, 1, 1000, 200, id2), IBB_OK, "a restored lease can be renewed");
    cr_assert_str_eq(id2, id);
    cr_assert_eq(stLeases_End(lt, id), IBB_OK);
    cr_assert_eq(stLeases_LeaseCount(lt), 0);
    stLeases_Destroy(lt);
}
