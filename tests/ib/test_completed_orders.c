/* test_completed_orders.c — the client codec for reqCompletedOrders (out 99), completedOrder (in 101)
 * and completedOrdersEnd (in 102), PROTOCOL.md §3.16, against tests/ib/vectors/completed_orders.jsonl.
 *
 * Encoder: both request vectors byte for byte at 176; refused below sv 150. Decoder: the three live
 * completedOrder captures decode at 170..176 with every field consumed and the kept values checked;
 * at 169 five fields are left (no PEG BEST/MID block) and at 177 the layout shifts (faProfile gone),
 * exactly as the official decoder reports; completedOrdersEnd decodes; every truncation fails. */
#include <math.h>

#include "ib_msgs.h"
#include "completed_vectors.h"
#include "vector_check.h"


static void check_request(const char *message, bool api_only)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_COMPLETED_ORDERS);
    r.u.api_only = api_only;
    tvec_ExpectRequest(cv_find(message), &r);
}

Test(enc, req_completed_orders_176)
{
    check_request("reqCompletedOrders_all", false);
    check_request("reqCompletedOrders_apiOnly", true);
}

Test(enc, req_completed_orders_version_gate)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_COMPLETED_ORDERS);
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeRequest(&w, 149, &r), IBB_ERR_UNSUPPORTED_VERSION);
    cr_assert_eq(ibWriter_Len(&w), 0u, "a refused request writes nothing");
    cr_assert_eq(ib_encodeRequest(&w, 150, &r), IBB_OK);
    cr_assert_eq(ib_encodeRequest(&w, 200, &r), IBB_OK);
    cr_assert_eq(ibWriter_Len(&w), 2u * (4 + 5), "two frames of '99\\0' '0\\0'");
    ibWriter_Free(&w);
    cr_assert_str_eq(ib_requestName(IB_REQ_COMPLETED_ORDERS), "reqCompletedOrders");
}

/* ---- decoder ----------------------------------------------------------------------------------- */

static ibbStatus dec(const cvec *v, int sv, ibReply *m)
{
    return ib_decodeReply(sv, v->payload, v->len, m);
}

static const ibCompletedOrder *dec_ok(const cvec *v, int sv, ibReply *m)
{
    ibbStatus st = dec(v, sv, m);
    cr_assert_eq(st, IBB_OK, "'%s' at sv %d: %s", v->message, sv, ibbStatus_Name(st));
    cr_assert_eq(m->id, IB_MSG_COMPLETED_ORDER);
    return &m->u.completed_order;
}

Test(dec, aapl_lmt_cancelled_capture)
{
    const cvec *v = cv_find("completedOrder (101) AAPL");
    cr_assert_eq(v->nfields, 101);
    ibReply m;
    int svs[] = { 170, 173, 176 };
    for (size_t k = 0; k < sizeof svs / sizeof *svs; k++) {
        const ibCompletedOrder *o = dec_ok(v, svs[k], &m);
        cr_assert_eq(o->contract.con_id, 265598);
        cr_assert_str_eq(o->contract.symbol, "AAPL");
        cr_assert_str_eq(o->contract.sec_type, "STK");
        cr_assert_str_eq(o->contract.exchange, "SMART");
        cr_assert_str_eq(o->contract.currency, "USD");
        cr_assert_str_eq(o->contract.local_symbol, "AAPL");
        cr_assert_str_eq(o->contract.trading_class, "NMS");
        cr_assert_str_eq(o->contract.right, "?");
        cr_assert_str_eq(o->contract.primary_exchange ? o->contract.primary_exchange : "", "");
        cr_assert_eq(o->order.order_id, 0, "no orderId on the wire");
        cr_assert_str_eq(o->order.action, "BUY");
        cr_assert_eq(o->order.total_qty, 1.0);
        cr_assert_str_eq(o->order.order_type, "LMT");
        cr_assert_eq(o->order.lmt_price, 100.0);
        cr_assert_eq(o->order.aux_price, 0.0);
        cr_assert_str_eq(o->order.tif, "DAY");
        cr_assert_str_eq(o->order.oca_group, "");
        cr_assert_str_eq(o->order.account, "DU1236109");
        cr_assert_str_eq(o->order.order_ref, "");
        cr_assert_not(o->order.outside_rth);
        cr_assert_not(o->order.hidden);
        cr_assert_eq(o->perm_id, 1295810623);
        cr_assert_eq(o->parent_perm_id, IB_UNSET_INT, "9223372036854775807 means none");
        cr_assert_str_eq(o->status, "Cancelled");
        cr_assert_eq(o->filled_qty, 0.0);
        cr_assert_eq(o->remaining, 1.0);
        cr_assert_str_eq(o->completed_time, "20250924 01:21:07 America/New_York");
        cr_assert_str_eq(o->completed_status, "Cancelled by Trader");
    }
}

Test(dec, es_fut_gtc_capture)
{
    ibReply m;
    const ibCompletedOrder *o = dec_ok(cv_find("completedOrder (101) ES"), 176, &m);
    cr_assert_eq(o->contract.con_id, 637533641);
    cr_assert_str_eq(o->contract.sec_type, "FUT");
    cr_assert_str_eq(o->contract.last_trade_date, "20250919");
    cr_assert_str_eq(o->contract.multiplier, "50");
    cr_assert_str_eq(o->contract.exchange, "CME");
    cr_assert_str_eq(o->contract.local_symbol, "ESU5");
    cr_assert_str_eq(o->order.tif, "GTC");
    cr_assert_eq(o->order.lmt_price, 1000.0);
    cr_assert_eq(o->perm_id, 616088517);
    cr_assert_str_eq(o->status, "Cancelled");
    cr_assert_str_eq(o->completed_time, "20250810 09:07:39 America/Los_Angeles");
}

Test(dec, mym_stp_filled_capture)
{
    ibReply m;
    const ibCompletedOrder *o = dec_ok(cv_find("completedOrder (101) MYM"), 176, &m);
    cr_assert_str_eq(o->contract.local_symbol, "MYM  DEC 22");
    cr_assert_str_eq(o->contract.multiplier, "0.5");
    cr_assert_str_eq(o->order.action, "SELL");
    cr_assert_eq(o->order.total_qty, 0.0);
    cr_assert_str_eq(o->order.order_type, "STP");
    cr_assert_eq(o->order.aux_price, 32849.0);
    cr_assert_str_eq(o->order.oca_group, "1580482311");
    cr_assert_str_eq(o->order.account, "DU3853587");
    cr_assert(o->order.outside_rth);
    cr_assert_eq(o->perm_id, 1580482313);
    cr_assert_eq(o->parent_perm_id, 1580482311);
    cr_assert_str_eq(o->status, "Filled");
    cr_assert_eq(o->filled_qty, 1.0);
    cr_assert_eq(o->remaining, 0.0, "never negative (IB reports totalQuantity 0 once filled here)");
    cr_assert_str_eq(o->completed_status, "Filled Size: 1");
}

/* What the official decoder reports at the neighbouring versions (the vectors' decoder check). */
Test(dec, version_gates_match_the_official_decoder)
{
    const char *names[] = { "completedOrder (101) AAPL", "completedOrder (101) ES", "completedOrder (101) MYM" };
    for (int i = 0; i < 3; i++) {
        const cvec *v = cv_find(names[i]);
        ibReply m;
        cr_assert_eq(dec(v, 169, &m), IBB_ERR_TRAILING, "%s at 169: 5 fields left", names[i]);
        cr_assert_neq(dec(v, 177, &m), IBB_OK, "%s at 177: faProfile is gone, the layout shifts", names[i]);
        for (int sv = 170; sv <= 176; sv++)
            cr_assert_eq(dec(v, sv, &m), IBB_OK, "%s at %d", names[i], sv);
    }
}

Test(dec, completed_orders_end)
{
    const cvec *v = cv_find("completedOrdersEnd");
    cr_assert_eq(v->nfields, 1);
    ibReply m;
    cr_assert_eq(dec(v, 176, &m), IBB_OK);
    cr_assert_eq(m.id, IB_MSG_COMPLETED_ORDERS_END);
    cr_assert_eq(ib_decodeReply(176, "102\0" "1\0", 6, &m), IBB_ERR_TRAILING, "no version field");
    cr_assert_str_eq(ib_replyName(IB_MSG_COMPLETED_ORDER), "completedOrder");
    cr_assert_str_eq(ib_replyName(IB_MSG_COMPLETED_ORDERS_END), "completedOrdersEnd");
}

/* Every prefix of a capture that ends on a field boundary is missing fields: an error, no crash;
 * one field more is IBB_ERR_TRAILING. */
Test(dec, truncated_and_extended_fail)
{
    const cvec *v = cv_find("completedOrder (101) MYM");
    ibReply m;
    size_t off = 0;
    for (int i = 0; i + 1 < v->nfields; i++) {
        off += strlen(v->fields[i]) + 1;
        char *p = malloc(off);
        memcpy(p, v->payload, off);
        cr_assert_neq(ib_decodeReply(176, p, off, &m), IBB_OK, "%d of %d fields", i + 1, v->nfields);
        free(p);
    }
    char *p = malloc(v->len + 2);
    memcpy(p, v->payload, v->len);
    memcpy(p + v->len, "x", 2);
    cr_assert_eq(ib_decodeReply(176, p, v->len + 2, &m), IBB_ERR_TRAILING);
    free(p);
}

/* An absurd combo-leg count is an error value, never an allocation or a read past the payload. */
Test(dec, absurd_counts_fail)
{
    const cvec *v = cv_find("completedOrder (101) AAPL");
    char *p = malloc(v->len + 16);
    size_t n = 0;
    for (int i = 0; i < v->nfields; i++) {
        const char *f = i == 64 ? "99999999" : v->fields[i];   /* #64 comboLegsCount */
        size_t l = strlen(f) + 1;
        memcpy(p + n, f, l);
        n += l;
    }
    ibReply m;
    cr_assert_eq(ib_decodeReply(176, p, n, &m), IBB_ERR_PROTOCOL);
    free(p);
}
