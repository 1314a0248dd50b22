/* test_chains.c — option chains: sorting IB's unordered sets, validation, the one-day cache. */
#include <criterion/criterion.h>
#include <string.h>

#include "st_chains.h"

static stChain *sample(const char *key)
{
    stChain *c;
    cr_assert_eq(stChain_Create(&c, key, 265598), IBB_OK);
    stChainClass *k = stChain_AddClass(c, "SMART", "AAPL", "100", 265598);
    cr_assert_not_null(k);
    const char *exps[] = {"20261218", "20261120", "20261218", "20261127"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(stChainClass_AddExpiration(k, exps[i]), IBB_OK);
    const double strikes[] = {210, 190, 200, 200, 187.5};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(stChainClass_AddStrike(k, strikes[i]), IBB_OK);
    cr_assert_not_null(stChain_AddClass(c, "CBOE", "AAPL", "100", 265598));
    return c;
}

Test(chains, finish_sorts_and_dedups)
{
    stChain *c = sample("AAPL");
    stChain_Finish(c);
    cr_assert_eq(c->n, 2);
    cr_assert_str_eq(c->classes[0].exchange, "CBOE", "classes ordered by exchange");
    const stChainClass *k = &c->classes[1];
    cr_assert_eq(k->n_exp, 3);
    cr_assert_str_eq(k->expirations[0], "20261120");
    cr_assert_str_eq(k->expirations[2], "20261218");
    cr_assert_eq(k->n_strikes, 4);
    cr_assert_float_eq(k->strikes[0], 187.5, 1e-12);
    cr_assert_float_eq(k->strikes[3], 210, 1e-12);
    cr_assert(stChain_HasExpiration(c, "20261127"));
    cr_assert_not(stChain_HasExpiration(c, "20261128"));
    stChain_Destroy(c);
}

Test(chains, bad_values_are_refused)
{
    stChain *c = sample("AAPL");
    stChainClass *k = &c->classes[1]; /* CBOE: empty so far */
    cr_assert_eq(stChainClass_AddExpiration(k, "2026121"), IBB_ERR_INVALID_ARG);
    cr_assert_eq(stChainClass_AddExpiration(k, "2026-12-1"), IBB_ERR_INVALID_ARG);
    cr_assert_eq(stChainClass_AddExpiration(k, NULL), IBB_ERR_INVALID_ARG);
    cr_assert_eq(stChainClass_AddStrike(k, 0), IBB_ERR_INVALID_ARG);
    cr_assert_eq(stChainClass_AddStrike(k, -5), IBB_ERR_INVALID_ARG);
    cr_assert_eq(stChainClass_AddStrike(k, 1.7976931348623157e308 * 10), IBB_ERR_INVALID_ARG);
    cr_assert_eq(k->n_exp + k->n_strikes, 0);
    stChain_Destroy(c);
}

Test(chains, cache_holds_a_chain_for_its_day_only)
{
    stChains *cc;
    cr_assert_eq(stChains_Create(&cc), IBB_OK);
    cr_assert_null(stChains_Get(cc, "AAPL", 20000));
    cr_assert_eq(stChains_Put(cc, sample("AAPL"), 20000), IBB_OK);
    cr_assert_eq(stChains_Put(cc, sample("MSFT"), 20000), IBB_OK);
    const stChain *c = stChains_Get(cc, "AAPL", 20000);
    cr_assert_not_null(c);
    cr_assert_eq(c->con_id, 265598);
    cr_assert_eq(stChains_Count(cc), 2);
    cr_assert_eq(stChains_Put(cc, sample("AAPL"), 20000), IBB_OK, "a newer chain replaces the old");
    cr_assert_eq(stChains_Count(cc), 2);
    cr_assert_null(stChains_Get(cc, "AAPL", 20001), "the next day the chain is asked again");
    cr_assert_eq(stChains_Count(cc), 1, "and the stale one is gone");
    cr_assert_not_null(stChains_Get(cc, "MSFT", 20000));
    stChains_Destroy(cc);
}
