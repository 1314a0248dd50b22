/* test_completed_orders.c — the server side of reqCompletedOrders / completedOrder /
 * completedOrdersEnd (ib_server_dec.c, ib_server_enc.c), PROTOCOL.md §3.16.
 *
 *  - both request vectors decode with ib_decodeRequest, every field consumed
 *  - the decoded AAPL capture, encoded again at 170..176, gives the captured bytes (except #81
 *    trailStopPrice, which ibCompletedOrder does not keep)
 *  - server encode -> client decode over every gated server version 100..200, values intact,
 *    and the re-encoding is a fixed point
 *  - completedOrdersEnd is just "102"; PEG BENCH is refused */
#include <math.h>

#include "ib_msgs.h"
#include "../ib/completed_vectors.h"

static const char *first_payload(const ibWriter *w, size_t *len)
{
    const unsigned char *u = (const unsigned char *)ibWriter_Data(w);
    cr_assert(ibWriter_Len(w) >= 5);
    *len = ((size_t)u[0] << 24) | ((size_t)u[1] << 16) | ((size_t)u[2] << 8) | u[3];
    cr_assert_eq(*len + 4, ibWriter_Len(w), "one frame");
    return ibWriter_Data(w) + 4;
}

Test(server_dec, req_completed_orders_vectors)
{
    const char *names[] = { "reqCompletedOrders_all", "reqCompletedOrders_apiOnly" };
    for (int i = 0; i < 2; i++) {
        const cvec *v = cv_find(names[i]);
        ibRequest r;
        cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK, "%s", names[i]);
        cr_assert_eq(r.id, IB_REQ_COMPLETED_ORDERS);
        cr_assert_eq(r.u.api_only, i == 1);
    }
    ibRequest r;
    cr_assert_eq(ib_decodeRequest(176, "99\0" "1\0" "7\0", 7, &r), IBB_ERR_TRAILING, "no reqId");
    cr_assert_neq(ib_decodeRequest(176, "99\0" "x\0", 5, &r), IBB_OK);
}

Test(server_enc, completed_order_matches_the_aapl_capture)
{
    const cvec *v = cv_find("completedOrder (101) AAPL");
    for (int sv = 170; sv <= 176; sv++) {
        ibReply m;
        cr_assert_eq(ib_decodeReply(sv, v->payload, v->len, &m), IBB_OK);
        ibWriter w;
        ibWriter_Init(&w);
        cr_assert_eq(ib_encodeReply(&w, sv, &m, NULL), IBB_OK);
        size_t len;
        const char *p = first_payload(&w, &len);
        const char *end = p + len;
        int i = 0;
        for (; p < end; i++) {
            cr_assert(i < v->nfields, "sv %d: more fields than the capture", sv);
            if (i != 81)
                cr_assert_str_eq(p, v->fields[i], "sv %d field #%d", sv, i);
            p += strlen(p) + 1;
        }
        cr_assert_eq(i, v->nfields, "sv %d: %d fields, the capture has %d", sv, i, v->nfields);
        ibWriter_Free(&w);
    }
}

static void sim_like_order(ibReply *r)
{
    memset(r, 0, sizeof *r);
    r->id = IB_MSG_COMPLETED_ORDER;
    ibCompletedOrder *o = &r->u.completed_order;
    o->contract.con_id = 265598;
    o->contract.symbol = "AAPL";
    o->contract.sec_type = "STK";
    o->contract.strike = IB_UNSET_DOUBLE;
    o->contract.exchange = "SMART";
    o->contract.currency = "USD";
    o->contract.local_symbol = "AAPL";
    o->contract.trading_class = "NMS";
    o->order.action = "SELL";
    o->order.total_qty = 250;
    o->order.order_type = "STP LMT";
    o->order.lmt_price = 184.5;
    o->order.aux_price = 185.25;
    o->order.tif = "GTC";
    o->order.account = "DU1234567";
    o->order.order_ref = "cli-ord-42";
    o->order.outside_rth = true;
    o->perm_id = 900000123;
    o->parent_perm_id = IB_UNSET_INT;
    o->status = "Filled";
    o->filled_qty = 250;
    o->completed_time = "20261204 10:15:02 America/New_York";
    o->completed_status = "Filled Size: 250";
}

/* Every server version where a field of completedOrder appears or goes, and the ends of the range. */
static const int SVS[] = { 100, 101, 102, 103, 110, 111, 140, 141, 144, 145, 150, 169, 170, 173, 176,
                           177, 182, 183, 184, 197, 198, 200 };

Test(roundtrip, server_encode_client_decode_over_versions)
{
    ibReply in;
    sim_like_order(&in);
    for (size_t k = 0; k < sizeof SVS / sizeof *SVS; k++) {
        int sv = SVS[k];
        ibWriter w, w2;
        ibWriter_Init(&w);
        ibWriter_Init(&w2);
        cr_assert_eq(ib_encodeReply(&w, sv, &in, NULL), IBB_OK, "sv %d", sv);
        size_t len;
        const char *p = first_payload(&w, &len);
        ibReply out;
        ibbStatus st = ib_decodeReply(sv, p, len, &out);
        cr_assert_eq(st, IBB_OK, "sv %d: %s", sv, ibbStatus_Name(st));
        const ibCompletedOrder *o = &out.u.completed_order;
        cr_assert_eq(out.id, IB_MSG_COMPLETED_ORDER);
        cr_assert_eq(o->contract.con_id, 265598);
        cr_assert_str_eq(o->contract.symbol, "AAPL");
        cr_assert_str_eq(o->contract.trading_class, "NMS");
        cr_assert_str_eq(o->order.action, "SELL");
        cr_assert_eq(o->order.total_qty, 250);
        cr_assert_str_eq(o->order.order_type, "STP LMT");
        cr_assert_eq(o->order.lmt_price, 184.5);
        cr_assert_eq(o->order.aux_price, 185.25);
        cr_assert_str_eq(o->order.tif, "GTC");
        cr_assert_str_eq(o->order.account, "DU1234567");
        cr_assert_str_eq(o->order.order_ref, "cli-ord-42", "sv %d", sv);
        cr_assert(o->order.outside_rth);
        cr_assert_not(o->order.hidden);
        cr_assert_eq(o->perm_id, 900000123);
        cr_assert_eq(o->parent_perm_id, IB_UNSET_INT);
        cr_assert_str_eq(o->status, "Filled");
        cr_assert_eq(o->filled_qty, 250);
        cr_assert_eq(o->remaining, 0);
        cr_assert_str_eq(o->completed_time, "20261204 10:15:02 America/New_York");
        cr_assert_str_eq(o->completed_status, "Filled Size: 250");
        /* decode -> encode is a fixed point */
        cr_assert_eq(ib_encodeReply(&w2, sv, &out, NULL), IBB_OK);
        cr_assert_eq(ibWriter_Len(&w2), ibWriter_Len(&w), "sv %d", sv);
        cr_assert_eq(memcmp(ibWriter_Data(&w2), ibWriter_Data(&w), ibWriter_Len(&w)), 0, "sv %d", sv);
        ibWriter_Free(&w);
        ibWriter_Free(&w2);
    }
}

/* A cancelled order with a parent and a partial fill keeps both through the round trip. */
Test(roundtrip, partial_fill_and_parent_perm_id)
{
    ibReply in;
    sim_like_order(&in);
    in.u.completed_order.status = "Cancelled";
    in.u.completed_order.filled_qty = 100;
    in.u.completed_order.parent_perm_id = 900000122;
    in.u.completed_order.completed_status = "Cancelled by Trader";
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, 176, &in, NULL), IBB_OK);
    size_t len;
    const char *p = first_payload(&w, &len);
    ibReply out;
    cr_assert_eq(ib_decodeReply(176, p, len, &out), IBB_OK);
    cr_assert_eq(out.u.completed_order.filled_qty, 100);
    cr_assert_eq(out.u.completed_order.remaining, 150);
    cr_assert_eq(out.u.completed_order.parent_perm_id, 900000122);
    cr_assert_str_eq(out.u.completed_order.status, "Cancelled");
    ibWriter_Free(&w);
}

Test(server_enc, completed_orders_end_and_refusals)
{
    ibReply end = { .id = IB_MSG_COMPLETED_ORDERS_END };
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, 176, &end, NULL), IBB_OK);
    const cvec *v = cv_find("completedOrdersEnd");
    cr_assert_eq(ibWriter_Len(&w), 4 + v->len);
    cr_assert_eq(memcmp(ibWriter_Data(&w) + 4, v->payload, v->len), 0);
    ibReply peg;
    sim_like_order(&peg);
    peg.u.completed_order.order.order_type = "PEG BENCH";
    size_t before = ibWriter_Len(&w);
    cr_assert_eq(ib_encodeReply(&w, 176, &peg, NULL), IBB_ERR_INVALID_ARG);
    cr_assert_eq(ibWriter_Len(&w), before, "a refused reply leaves earlier frames alone");
    ibWriter_Free(&w);
}
