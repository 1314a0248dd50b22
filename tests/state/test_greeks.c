/* test_greeks.c — option computations in the quote book: sides, IB's unset values as NAN (absent). */
#include <criterion/criterion.h>
#include <math.h>

#include "st_quotebook.h"

static ibReply comp(int64_t id, int type, double iv, double delta, double price, double und)
{
    ibReply r = {.id = IB_MSG_TICK_OPTION_COMPUTATION};
    r.u.option_computation = (ibTickOptionComputation){
        .req_id = id, .tick_type = type, .implied_vol = iv, .delta = delta, .opt_price = price,
        .pv_dividend = 0.0, .gamma = 0.02, .vega = 0.3, .theta = -0.05, .und_price = und};
    return r;
}

Test(greeks, sides_of_tick_types)
{
    cr_assert_eq(stGreeks_Side(IB_TICK_BID_OPTION), ST_GREEKS_BID);
    cr_assert_eq(stGreeks_Side(IB_TICK_DELAYED_ASK_OPTION), ST_GREEKS_ASK);
    cr_assert_eq(stGreeks_Side(IB_TICK_LAST_OPTION), ST_GREEKS_LAST);
    cr_assert_eq(stGreeks_Side(IB_TICK_DELAYED_MODEL_OPTION), ST_GREEKS_MODEL);
    cr_assert_eq(stGreeks_Side(IB_TICK_CUST_OPTION), -1);
    cr_assert_eq(stGreeks_Side(IB_TICK_BID), -1);
    cr_assert_str_eq(stGreeksSide_Name(ST_GREEKS_MODEL), "model");
}

Test(greeks, unset_values_become_nan)
{
    ibTickOptionComputation t = {.tick_type = IB_TICK_BID_OPTION, .implied_vol = -1, .delta = -2,
                                 .opt_price = -1, .pv_dividend = IB_UNSET_DOUBLE, .gamma = -2,
                                 .vega = INFINITY, .theta = NAN, .und_price = -1};
    stGreeks g;
    stGreeks_FromTick(&g, &t);
    cr_assert(isnan(g.implied_vol) && isnan(g.delta) && isnan(g.opt_price) && isnan(g.pv_dividend));
    cr_assert(isnan(g.gamma) && isnan(g.vega) && isnan(g.theta) && isnan(g.und_price));
    t = (ibTickOptionComputation){.tick_type = IB_TICK_MODEL_OPTION, .implied_vol = 0.25, .delta = -0.4,
                                  .opt_price = 3.5, .pv_dividend = 0, .gamma = 0.01, .vega = 0.2,
                                  .theta = -0.03, .und_price = 187.5};
    stGreeks_FromTick(&g, &t);
    cr_assert_float_eq(g.implied_vol, 0.25, 1e-12);
    cr_assert_float_eq(g.delta, -0.4, 1e-12, "a put's negative delta is a value, not a sentinel");
    cr_assert_float_eq(g.pv_dividend, 0, 1e-12);
    cr_assert_float_eq(g.theta, -0.03, 1e-12);
    cr_assert_float_eq(g.und_price, 187.5, 1e-12);
}

Test(greeks, computations_merge_into_the_quote)
{
    stQuoteBook *qb;
    cr_assert_eq(stQuoteBook_Create(&qb), IBB_OK);
    stQuote *q = stQuoteBook_Add(qb, "OPT:AAPL:SMART:USD:20261218:C:200:100", NULL);
    cr_assert_eq(stQuoteBook_Bind(qb, q, 7), IBB_OK);
    cr_assert_eq(q->greeks_seen, 0);
    cr_assert(isnan(q->greeks[ST_GREEKS_MODEL].delta));
    ibReply m = comp(7, IB_TICK_MODEL_OPTION, 0.3, 0.55, 4.2, 200.1);
    cr_assert_eq(stQuoteBook_Apply(qb, &m, 1), q);
    cr_assert_eq(q->greeks_seen, 1u << ST_GREEKS_MODEL);
    cr_assert_float_eq(q->greeks[ST_GREEKS_MODEL].delta, 0.55, 1e-12);
    cr_assert(isnan(q->greeks[ST_GREEKS_BID].delta), "other sides stay unknown");
    cr_assert_eq(stQuoteBook_Flush(qb, NULL, NULL), 1);
    cr_assert_null(stQuoteBook_Apply(qb, &m, 2), "the same computation again is no event");
    ibReply unset = comp(7, IB_TICK_BID_OPTION, -1, -2, -1, -1);
    unset.u.option_computation.gamma = unset.u.option_computation.vega = IB_UNSET_DOUBLE;
    unset.u.option_computation.theta = IB_UNSET_DOUBLE;
    cr_assert_eq(stQuoteBook_Apply(qb, &unset, 3), q, "a first, empty bid computation is seen");
    cr_assert_eq(q->greeks_seen, (1u << ST_GREEKS_MODEL) | (1u << ST_GREEKS_BID));
    cr_assert(isnan(q->greeks[ST_GREEKS_BID].implied_vol) && isnan(q->greeks[ST_GREEKS_BID].opt_price));
    ibReply cust = comp(7, IB_TICK_CUST_OPTION, 0.3, 0.5, 4, 200);
    cr_assert_eq(stQuoteBook_Flush(qb, NULL, NULL), 1);
    cr_assert_null(stQuoteBook_Apply(qb, &cust, 4), "custom computations are not carried");
    stQuoteBook_Destroy(qb);
}
