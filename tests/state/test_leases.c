/* test_leases.c — one acquire per instrument however many leases; release on last end/expiry. */
#include <criterion/criterion.h>
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
