/* test_orders.c — the ledger reports each status change, fill and commission once. */
#include <criterion/criterion.h>
#include <string.h>

#include "st_orders.h"

static ibOrderStatus status(int64_t id, const char *s, double filled, double remaining)
{
    return (ibOrderStatus){.order_id = id, .status = s, .filled = filled, .remaining = remaining, .perm_id = 77};
}

Test(orders, statuses_are_deduplicated_and_terminal_sticks)
{
    stOrders *ol;
    cr_assert_eq(stOrders_Create(&ol), IBB_OK);
    stOrder t = {.order_id = 5, .qty = 100};
    strcpy(t.client_order_id, "abc-1");
    stOrder *o;
    cr_assert_eq(stOrders_Add(ol, &t, 0, &o), IBB_OK);
    cr_assert_eq(stOrders_Add(ol, &t, 0, NULL), IBB_ERR_INVALID_ARG, "same order id twice");
    stOrder t2 = {.order_id = 6};
    strcpy(t2.client_order_id, "abc-1");
    cr_assert_eq(stOrders_Add(ol, &t2, 0, NULL), IBB_ERR_INVALID_ARG, "same client order id twice");
    cr_assert_eq(stOrders_ByClientId(ol, "abc-1"), o);
    cr_assert_eq(o->remaining, 100);
    ibOrderStatus pre = status(5, "PreSubmitted", 0, 100), part = status(5, "Submitted", 40, 60),
                  done = status(5, "Filled", 100, 0), late = status(5, "Submitted", 40, 60);
    cr_assert(stOrders_ApplyStatus(ol, &pre, 1, NULL));
    cr_assert(!stOrders_ApplyStatus(ol, &pre, 2, NULL), "a repeated orderStatus is not a new event");
    cr_assert(stOrders_ApplyStatus(ol, &part, 3, NULL));
    cr_assert(stOrders_ApplyStatus(ol, &done, 4, NULL));
    cr_assert(o->terminal && o->acked);
    cr_assert_eq(o->perm_id, 77);
    cr_assert(!stOrders_ApplyStatus(ol, &done, 5, NULL));
    cr_assert(!stOrders_ApplyStatus(ol, &late, 6, NULL), "a stale replay never reopens a filled order");
    cr_assert_str_eq(o->status, "Filled");
    ibOrderStatus unknown = status(99, "Filled", 1, 0);
    stOrder *none;
    cr_assert(!stOrders_ApplyStatus(ol, &unknown, 7, &none));
    cr_assert_null(none);
    stOrders_Destroy(ol);
}

Test(orders, executions_and_commissions_once)
{
    stOrders *ol;
    stOrders_Create(&ol);
    cr_assert(stOrders_NewExec(ol, "0000e0d5.67fe667b.01.01"));
    cr_assert(!stOrders_NewExec(ol, "0000e0d5.67fe667b.01.01"));
    cr_assert(stOrders_NewCommission(ol, "0000e0d5.67fe667b.01.01"));
    cr_assert(!stOrders_NewCommission(ol, "0000e0d5.67fe667b.01.01"));
    cr_assert(!stOrders_NewExec(ol, ""), "an empty exec id is never new");
    stOrders_Destroy(ol);
}

static int open_seen;
static void count_open(void *ud, stOrder *o) { (void)ud; (void)o; open_seen++; }

Test(orders, open_orders_from_before_a_restart_are_adopted_by_order_ref)
{
    stOrders *ol;
    stOrders_Create(&ol);
    ibOpenOrder oo = {0};
    oo.order = (ibOrder){.order_id = 12, .action = "BUY", .total_qty = 10, .order_type = "LMT", .lmt_price = 100,
                         .aux_price = IB_UNSET_DOUBLE, .tif = "GTC", .account = "DU1234567", .order_ref = "cid-12"};
    oo.status = "Submitted";
    oo.perm_id = 123;
    bool created;
    stOrder *o = stOrders_ApplyOpenOrder(ol, &oo, "AAPL", 10, &created);
    cr_assert_not_null(o);
    cr_assert(created);
    cr_assert_str_eq(o->client_order_id, "cid-12");
    cr_assert_eq(stOrders_ByClientId(ol, "cid-12"), o);
    cr_assert_str_eq(o->key, "AAPL");
    cr_assert_eq(o->perm_id, 123);
    oo.order.lmt_price = 101; /* a modify */
    cr_assert_eq(stOrders_ApplyOpenOrder(ol, &oo, "AAPL", 11, &created), o);
    cr_assert(!created);
    cr_assert_float_eq(o->lmt_price, 101, 1e-9);
    open_seen = 0;
    stOrders_ForEachOpen(ol, count_open, NULL);
    cr_assert_eq(open_seen, 1);
    cr_assert(stOrders_Finish(ol, o, "Cancelled", 12));
    cr_assert(!stOrders_Finish(ol, o, "Cancelled", 13));
    open_seen = 0;
    stOrders_ForEachOpen(ol, count_open, NULL);
    cr_assert_eq(open_seen, 0);
    stOrders_Destroy(ol);
}

Test(orders, an_order_moves_out_of_the_way_of_ibs_own_under_its_id)
{
    stOrders *ol;
    stOrders_Create(&ol);
    stOrder t = {.order_id = 214, .client_order_id = "chaos-a-214", .qty = 1};
    stOrder *ours = NULL;
    cr_assert_eq(stOrders_Add(ol, &t, 1, &ours), IBB_OK);
    stOrder other = {.order_id = 215, .client_order_id = "x"};
    cr_assert_eq(stOrders_Add(ol, &other, 1, NULL), IBB_OK);
    cr_assert_eq(stOrders_Rekey(ol, ours, 215), IBB_ERR_INVALID_ARG, "a taken id is refused");
    cr_assert_eq(ours->order_id, 214);
    cr_assert_eq(stOrders_Rekey(ol, ours, -214), IBB_OK);
    cr_assert_eq(ours->order_id, -214);
    cr_assert_null(stOrders_ById(ol, 214), "the id is free for IB's order");
    cr_assert_eq(stOrders_ById(ol, -214), ours);
    cr_assert_eq(stOrders_ByClientId(ol, "chaos-a-214"), ours, "still found by its client order id");
    ibOpenOrder oo = {0};
    oo.order = (ibOrder){.order_id = 214, .action = "BUY", .total_qty = 1, .order_type = "LMT", .lmt_price = 1,
                         .aux_price = IB_UNSET_DOUBLE, .tif = "DAY", .order_ref = "chaos-b-215"};
    oo.status = "Filled";
    bool created = false;
    stOrder *ibs = stOrders_ApplyOpenOrder(ol, &oo, "AAPL", 2, &created);
    cr_assert(created, "IB's order is adopted under its own id");
    cr_assert_str_eq(ibs->client_order_id, "chaos-b-215");
    cr_assert_neq(ibs, ours);
    stOrders_Destroy(ol);
}
