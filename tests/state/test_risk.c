/* test_risk.c — each limit rejects and names itself; the rate limit slides. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "st_risk.h"

Test(risk, every_limit_names_itself)
{
    static const char *const allowed[] = {"AAPL", "MSFT"};
    stRiskLimits l = {.max_order_qty = 1000, .max_order_notional = 50000, .allowed_symbols = allowed,
                      .n_allowed = 2, .max_orders_per_minute = 3};
    stRisk r;
    stRisk_Init(&r, &l);
    const char *lim = NULL;
    char msg[200];
    stRiskOrder ok = {.key = "AAPL", .symbol = "AAPL", .qty = 100, .ref_price = 185};
    cr_assert_eq(stRisk_Check(&r, &ok, 0, &lim, msg, sizeof msg), IBB_OK);
    stRiskOrder big = ok;
    big.qty = 1001;
    cr_assert_eq(stRisk_Check(&r, &big, 0, &lim, msg, sizeof msg), IBB_ERR_LIMIT);
    cr_assert_str_eq(lim, "max_order_qty");
    cr_assert(strstr(msg, "1001") && strstr(msg, "1000"), "%s", msg);
    stRiskOrder rich = ok;
    rich.qty = 500; /* 92,500 */
    cr_assert_eq(stRisk_Check(&r, &rich, 0, &lim, msg, sizeof msg), IBB_ERR_LIMIT);
    cr_assert_str_eq(lim, "max_order_notional");
    stRiskOrder noprice = ok;
    noprice.ref_price = NAN;
    cr_assert_eq(stRisk_Check(&r, &noprice, 0, &lim, msg, sizeof msg), IBB_ERR_LIMIT);
    cr_assert_str_eq(lim, "max_order_notional");
    stRiskOrder other = ok;
    other.key = other.symbol = "TSLA";
    cr_assert_eq(stRisk_Check(&r, &other, 0, &lim, msg, sizeof msg), IBB_ERR_LIMIT);
    cr_assert_str_eq(lim, "allowed_symbols");
    stRiskOrder neg = ok;
    neg.qty = -5;
    cr_assert_eq(stRisk_Check(&r, &neg, 0, &lim, msg, sizeof msg), IBB_ERR_LIMIT);
    cr_assert_str_eq(lim, "qty");
    /* rate: 1 accepted at t=0, two more fit, the 4th within the minute is refused, later it slides */
    cr_assert_eq(stRisk_Check(&r, &ok, 1000, &lim, msg, sizeof msg), IBB_OK);
    cr_assert_eq(stRisk_Check(&r, &ok, 2000, &lim, msg, sizeof msg), IBB_OK);
    cr_assert_eq(stRisk_Check(&r, &ok, 3000, &lim, msg, sizeof msg), IBB_ERR_LIMIT);
    cr_assert_str_eq(lim, "max_orders_per_minute");
    cr_assert_eq(stRisk_Check(&r, &ok, 60001, &lim, msg, sizeof msg), IBB_OK, "the t=0 order left the window");
}

Test(risk, read_only_refuses_everything)
{
    stRiskLimits l = {.read_only = true};
    stRisk r;
    stRisk_Init(&r, &l);
    const char *lim = NULL;
    char msg[200];
    stRiskOrder ok = {.key = "AAPL", .symbol = "AAPL", .qty = 1, .ref_price = 1};
    cr_assert_eq(stRisk_Check(&r, &ok, 0, &lim, msg, sizeof msg), IBB_ERR_STATE);
    cr_assert_str_eq(lim, "read_only");
    cr_assert(strstr(msg, "read_only"));
}
