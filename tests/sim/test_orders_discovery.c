/* test_orders_discovery.c — the server side (ib-sim's half of the codec) of what-if orders, the execution
 * filter, symbol search and the scanner (PROTOCOL.md §3.16, §3.18, §3.19) against
 * tests/ib/vectors/orders_discovery.jsonl.
 *
 *  - every request vector decodes with ib_decodeRequest at its server version, every field consumed,
 *    and re-encodes (client encoder) to the same bytes; what-if and filter values checked
 *  - symbolSamples, scannerData and scannerParameters re-encode (ib_encodeReply, from the decoder's
 *    readers and from arrays) to the vector's bytes; the what-if openOrder re-encodes to a message that
 *    decodes to the same margins and commissions */
#include "ib_msgs.h"
#include "../ib/orders_discovery_vectors.h"

static const char *first_payload(const ibWriter *w, size_t *len)
{
    const unsigned char *u = (const unsigned char *)ibWriter_Data(w);
    cr_assert(ibWriter_Len(w) >= 5);
    *len = ((size_t)u[0] << 24) | ((size_t)u[1] << 16) | ((size_t)u[2] << 8) | u[3];
    cr_assert_eq(*len + 4, ibWriter_Len(w), "one frame");
    return ibWriter_Data(w) + 4;
}

Test(server_dec, every_request_vector_round_trips)
{
    vecFile_Load(&g_od);
    int n = 0;
    for (int i = 0; i < g_od.n; i++) {
        const tvec *v = &g_od.v[i];
        if (!v->to_server)
            continue;
        ibRequest r;
        ibbStatus st = ib_decodeRequest(v->sv, v->payload, v->len, &r);
        cr_assert_eq(st, IBB_OK, "%s: %s", v->message, ibbStatus_Name(st));
        ibWriter w;
        ibWriter_Init(&w);
        cr_assert_eq(ib_encodeRequest(&w, v->sv, &r), IBB_OK, "%s re-encodes", v->message);
        size_t len;
        const char *p = first_payload(&w, &len);
        cr_assert_eq(len, v->len, "%s: length", v->message);
        cr_assert_eq(memcmp(p, v->payload, len), 0, "%s: bytes", v->message);
        ibWriter_Free(&w);
        n++;
    }
    cr_assert_eq(n, 8, "8 request vectors");
}

Test(server_dec, request_values)
{
    ibRequest r;
    const tvec *v = od_find("placeOrder_whatIf_LMT");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert(r.u.place_order.order.what_if, "whatIf read");
    cr_assert_eq(r.u.place_order.order.lmt_price, 185.0);
    v = od_find("reqScannerSubscription_filters");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_str_eq(r.u.scanner.scan_code, "TOP_PERC_GAIN");
    cr_assert_eq(r.u.scanner.number_of_rows, 50);
    cr_assert_eq(r.u.scanner.above_price, 5.0);
    cr_assert(ib_isUnsetDouble(r.u.scanner.below_price));
    cr_assert_str_eq(r.u.scanner.filter_options, "avgVolumeAbove=1000000;usdMarketCapAbove=10000;");
    v = od_find("reqScannerSubscription_defaults_sv142");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_str_eq(r.u.scanner.filter_options, "");
    cr_assert_eq(r.u.scanner.req_id, 7002);
    /* at 176 the version is read as the request id and the fields shift: the gate matters */
    cr_assert_neq(ib_decodeRequest(176, v->payload, v->len, &r), IBB_OK);
    v = od_find("reqMatchingSymbols");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_str_eq(r.u.matching_symbols.pattern, "IBKR");
    v = od_find("reqExecutions_filter");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_str_eq(r.u.executions.side, "BUY");
    cr_assert_str_eq(r.u.executions.time, "20250415-09:30:00");
}

static void expect_reencoded(const char *message)
{
    const tvec *v = od_find(message);
    ibReply r;
    cr_assert_eq(ib_decodeReply(v->sv, v->payload, v->len, &r), IBB_OK, "%s", message);
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, v->sv, &r, NULL), IBB_OK, "%s encodes", message);
    size_t len;
    const char *p = first_payload(&w, &len);
    cr_assert_eq(len, v->len, "%s: length %zu vs %zu", message, len, v->len);
    cr_assert_eq(memcmp(p, v->payload, len), 0, "%s: bytes", message);
    ibWriter_Free(&w);
}

Test(server_enc, replies_byte_exact)
{
    expect_reencoded("symbolSamples (79)");
    expect_reencoded("symbolSamples (79) at sv 175");
    expect_reencoded("scannerParameters (19)");
    expect_reencoded("scannerData (20) two rows");
}

Test(server_enc, symbol_samples_from_arrays)
{
    static const char *const derivs[] = {"OPT", "WAR"};
    static const char *const derivs2[] = {"OPT"};
    ibSymbolSample items[2] = {
        {.con_id = 265598,
         .symbol = "AAPL",
         .sec_type = "STK",
         .primary_exchange = "NASDAQ",
         .currency = "USD",
         .deriv_count = 2,
         .deriv_sec_types = derivs,
         .description = "Apple Inc.",
         .issuer_id = "AAPL123"},
        {.con_id = 276821,
         .symbol = "MSFT",
         .sec_type = "STK",
         .primary_exchange = "NASDAQ",
         .currency = "USD",
         .deriv_count = 1,
         .deriv_sec_types = derivs2,
         .description = "Microsoft Corporation",
         .issuer_id = "MSFT456"},
    };
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_SYMBOL_SAMPLES;
    r.u.symbol_samples.req_id = 9000;
    r.u.symbol_samples.count = 2;
    r.u.symbol_samples.samples = items;
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, 176, &r, NULL), IBB_OK);
    const tvec *v = od_find("symbolSamples (79)");
    size_t len;
    const char *p = first_payload(&w, &len);
    cr_assert_eq(len, v->len);
    cr_assert_eq(memcmp(p, v->payload, len), 0);
    ibWriter_Free(&w);
}

Test(server_enc, what_if_open_order)
{
    const tvec *v = od_find("openOrder (5) what-if");
    ibReply a, b;
    cr_assert_eq(ib_decodeReply(v->sv, v->payload, v->len, &a), IBB_OK);
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, v->sv, &a, NULL), IBB_OK);
    size_t len;
    const char *p = first_payload(&w, &len);
    cr_assert_eq(ib_decodeReply(v->sv, p, len, &b), IBB_OK, "ib-sim's what-if answer decodes");
    cr_assert(b.u.open_order.what_if);
    for (int i = 0; i < IB_MARGIN_COUNT; i++)
        cr_assert_eq(a.u.open_order.margins[i], b.u.open_order.margins[i], "margin %d", i);
    cr_assert_eq(b.u.open_order.min_commission, 0.323373);
    cr_assert(ib_isUnsetDouble(b.u.open_order.commission));
    ibWriter_Free(&w);
    /* an ordinary openOrder keeps the capture's unset margins whatever the struct holds */
    a.u.open_order.what_if = false;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, v->sv, &a, NULL), IBB_OK);
    p = first_payload(&w, &len);
    cr_assert_eq(ib_decodeReply(v->sv, p, len, &b), IBB_OK);
    cr_assert(ib_isUnsetDouble(b.u.open_order.margins[IB_MARGIN_INIT_CHANGE]));
    ibWriter_Free(&w);
}
