/* test_orders_discovery.c — the client codec for what-if orders, the execution filter, symbol search and
 * the scanner against tests/ib/vectors/orders_discovery.jsonl (PROTOCOL.md §3.16, §3.18, §3.19).
 *
 * Requests: byte for byte from structs filled by hand at the vector's server version. Replies: decoded
 * at their server version with every field consumed and the values checked; a truncation or an extra
 * field fails. */
#include "ib_msgs.h"
#include "orders_discovery_vectors.h"
#include "vector_check.h"

static void expect_bytes(const char *message, const ibRequest *r)
{
    tvec_ExpectRequest(od_find(message), r);
}

static void decode(const char *message, ibReply *r)
{
    const tvec *v = od_find(message);
    cr_assert(!v->to_server, "%s is a reply", message);
    ibbStatus st = ib_decodeReply(v->sv, v->payload, v->len, r);
    cr_assert_eq(st, IBB_OK, "%s: %s", message, ibbStatus_Name(st));
}

/* Every strict prefix (whole fields dropped) fails, and an extra field fails. */
static void robust(const char *message, ibReplyId id)
{
    const tvec *v = od_find(message);
    ibReply r;
    size_t cut = 0;
    for (int f = 1; f < v->nfields; f++) {
        cut += strlen(v->fields[f - 1]) + 1;
        ibbStatus st = ib_decodeReply(v->sv, v->payload, cut, &r);
        cr_assert_neq(st, IBB_OK, "%s cut after %d fields decoded", message, f);
    }
    char *more = malloc(v->len + 3);
    memcpy(more, v->payload, v->len);
    memcpy(more + v->len, "7", 2);
    cr_assert_eq(ib_decodeReply(v->sv, more, v->len + 2, &r), IBB_ERR_TRAILING, "%s + 1 field", message);
    cr_assert_eq(r.id, id);
    free(more);
}

Test(enc, place_order_what_if)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_PLACE_ORDER);
    ibPlaceOrder *p = &r.u.place_order;
    p->contract.symbol = "AAPL";
    p->contract.sec_type = "STK";
    p->contract.exchange = "SMART";
    p->contract.currency = "USD";
    p->order.order_id = 12;
    p->order.action = "BUY";
    p->order.total_qty = 100;
    p->order.order_type = "LMT";
    p->order.lmt_price = 185.0;
    p->order.tif = "DAY";
    p->order.what_if = true;
    expect_bytes("placeOrder_whatIf_LMT", &r);
}

Test(enc, executions_filter)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_EXECUTIONS);
    ibReqExecutions *x = &r.u.executions;
    x->req_id = 4002;
    x->client_id = 7;
    x->account = "DU1234567";
    x->time = "20250415-09:30:00";
    x->symbol = "AAPL";
    x->sec_type = "STK";
    x->exchange = "SMART";
    x->side = "BUY";
    expect_bytes("reqExecutions_filter", &r);
}

Test(enc, matching_symbols)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_MATCHING_SYMBOLS);
    r.u.matching_symbols.req_id = 8001;
    r.u.matching_symbols.pattern = "IBKR";
    expect_bytes("reqMatchingSymbols", &r);
    ibWriter w;
    ibWriter_Init(&w);
    r.u.matching_symbols.pattern = "";
    cr_assert_eq(ib_encodeRequest(&w, 176, &r), IBB_ERR_INVALID_ARG, "an empty pattern is refused");
    r.u.matching_symbols.pattern = "IBKR";
    cr_assert_eq(ib_encodeRequest(&w, 107, &r), IBB_ERR_UNSUPPORTED_VERSION, "below 108");
    ibWriter_Free(&w);
}

Test(enc, scanner_requests)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_SCANNER_PARAMETERS);
    expect_bytes("reqScannerParameters", &r);
    ibRequest_Init(&r, IB_REQ_CANCEL_SCANNER_SUBSCRIPTION);
    r.u.cancel.req_id = 7001;
    expect_bytes("cancelScannerSubscription", &r);
    ibRequest_Init(&r, IB_REQ_SCANNER_SUBSCRIPTION);
    cr_assert_eq(r.u.scanner.number_of_rows, -1, "rows not specified by default");
    r.u.scanner.req_id = 7002;
    r.u.scanner.instrument = "STK";
    r.u.scanner.location_code = "STK.US.MAJOR";
    r.u.scanner.scan_code = "HOT_BY_VOLUME";
    expect_bytes("reqScannerSubscription_defaults", &r);
    expect_bytes("reqScannerSubscription_defaults_sv142", &r);
    r.u.scanner.req_id = 7001;
    r.u.scanner.number_of_rows = 50;
    r.u.scanner.scan_code = "TOP_PERC_GAIN";
    r.u.scanner.above_price = 5.0;
    r.u.scanner.filter_options = "avgVolumeAbove=1000000;usdMarketCapAbove=10000;";
    expect_bytes("reqScannerSubscription_filters", &r);
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeRequest(&w, 142, &r), IBB_ERR_INVALID_ARG, "filter options need sv 143");
    r.u.scanner.filter_options = NULL;
    r.u.scanner.scan_code = "";
    cr_assert_eq(ib_encodeRequest(&w, 176, &r), IBB_ERR_INVALID_ARG, "a scan code is required");
    cr_assert_eq(ibWriter_Len(&w), 0u, "refused requests leave nothing");
    ibWriter_Free(&w);
}

Test(dec, open_order_what_if)
{
    ibReply r;
    decode("openOrder (5) what-if", &r);
    const ibOpenOrder *o = &r.u.open_order;
    cr_assert(o->what_if);
    cr_assert_str_eq(o->status, "PreSubmitted");
    cr_assert_eq(o->order.order_id, 12);
    const double want[IB_MARGIN_COUNT] = {15841.63, 15841.63, 110154.78, 114.0, 114.0, -2.789999999993597,
                                          15955.63, 15955.63, 110151.99};
    for (int i = 0; i < IB_MARGIN_COUNT; i++)
        cr_assert_eq(o->margins[i], want[i], "margin %d: %.17g", i, o->margins[i]);
    cr_assert(ib_isUnsetDouble(o->commission), "commission is IB's unset value");
    cr_assert_eq(o->min_commission, 0.323373);
    cr_assert_eq(o->max_commission, 0.385373);
    cr_assert_str_eq(o->commission_currency, "USD");
    robust("openOrder (5) what-if", IB_MSG_OPEN_ORDER);
}

Test(dec, symbol_samples_176)
{
    ibReply r;
    decode("symbolSamples (79)", &r);
    ibSymbolSamples *s = &r.u.symbol_samples;
    cr_assert_eq(s->req_id, 9000);
    cr_assert_eq(ibReply_ReqId(&r), 9000);
    cr_assert_eq(s->count, 2);
    ibSymbolSample it;
    const char *d;
    cr_assert(ibSymbolSamples_Next(s, &it));
    cr_assert_eq(it.con_id, 265598);
    cr_assert_str_eq(it.symbol, "AAPL");
    cr_assert_str_eq(it.primary_exchange, "NASDAQ");
    cr_assert_eq(it.deriv_count, 2);
    cr_assert(ibSymbolSample_NextDeriv(&it, &d) && !strcmp(d, "OPT"));
    cr_assert(ibSymbolSample_NextDeriv(&it, &d) && !strcmp(d, "WAR"));
    cr_assert(!ibSymbolSample_NextDeriv(&it, &d));
    cr_assert_str_eq(it.description, "Apple Inc.");
    cr_assert_str_eq(it.issuer_id, "AAPL123");
    cr_assert(ibSymbolSamples_Next(s, &it));
    cr_assert_str_eq(it.symbol, "MSFT");
    cr_assert_str_eq(it.description, "Microsoft Corporation");
    cr_assert(!ibSymbolSamples_Next(s, &it));
    robust("symbolSamples (79)", IB_MSG_SYMBOL_SAMPLES);
}

Test(dec, symbol_samples_175)
{
    ibReply r;
    decode("symbolSamples (79) at sv 175", &r);
    ibSymbolSample it;
    const char *d;
    cr_assert(ibSymbolSamples_Next(&r.u.symbol_samples, &it));
    cr_assert_str_eq(it.symbol, "IBKR");
    cr_assert_eq(it.deriv_count, 4);
    int n = 0;
    while (ibSymbolSample_NextDeriv(&it, &d))
        n++;
    cr_assert_eq(n, 4);
    cr_assert_str_eq(it.description, "");
    const tvec *v = od_find("symbolSamples (79) at sv 175");
    cr_assert_neq(ib_decodeReply(176, v->payload, v->len, &r), IBB_OK, "the 175 layout is short at 176");
}

Test(dec, scanner_parameters)
{
    ibReply r;
    decode("scannerParameters (19)", &r);
    cr_assert(strstr(r.u.scanner_params.xml, "<ScanType>TOP_PERC_GAIN</ScanType>") != NULL);
    robust("scannerParameters (19)", IB_MSG_SCANNER_PARAMETERS);
}

Test(dec, scanner_data)
{
    ibReply r;
    decode("scannerData (20) two rows", &r);
    ibScannerData *d = &r.u.scanner_data;
    cr_assert_eq(d->req_id, 7001);
    cr_assert_eq(ibReply_ReqId(&r), 7001);
    cr_assert_eq(d->count, 2);
    ibScannerRow row;
    cr_assert(ibScannerData_NextRow(d, &row));
    cr_assert_eq(row.rank, 0);
    cr_assert_eq(row.contract.con_id, 265598);
    cr_assert_str_eq(row.contract.symbol, "AAPL");
    cr_assert_str_eq(row.market_name, "NMS");
    cr_assert(ibScannerData_NextRow(d, &row));
    cr_assert_eq(row.rank, 1);
    cr_assert_str_eq(row.contract.symbol, "TSLA");
    cr_assert(!ibScannerData_NextRow(d, &row));
    robust("scannerData (20) two rows", IB_MSG_SCANNER_DATA);
}

Test(dec, scanner_data_bad_number)
{
    const tvec *v = od_find("scannerData (20) two rows");
    char *p = malloc(v->len);
    memcpy(p, v->payload, v->len);
    /* the second row's conId (field 21) becomes text */
    size_t off = 0;
    for (int f = 0; f < 21; f++)
        off += strlen(v->fields[f]) + 1;
    p[off] = 'x';
    ibReply r;
    cr_assert_neq(ib_decodeReply(v->sv, p, v->len, &r), IBB_OK, "a damaged row fails the message");
    free(p);
}
