/* test_market_depth_ticks.c — the client codec for the wave-2 market-data families against
 * tests/ib/vectors/market_depth_ticks.jsonl (PROTOCOL.md §3.12 depth, §3.13 tick-by-tick, §3.14
 * real-time bars, §3.15 option parameters and computations).
 *
 * Encoder: every request vector byte for byte from a struct filled by hand (not from the vector),
 * at the vector's server version; the official clients' gates refuse below them. Decoder: every
 * reply vector decodes at its server version with every field consumed and the values checked;
 * every truncation fails, an extra field fails (IBB_ERR_TRAILING), damaged numbers and
 * out-of-range enumerations fail; the replies framed into one stream come out of the framer the
 * same in every chunking. */
#include <math.h>

#include "ib_msgs.h"
#include "wave2_vectors.h"
#include "vector_check.h"


static void expect_bytes(const char *message, const ibRequest *r)
{
    tvec_ExpectRequest(wv_find(message), r);
}

static void aapl(ibContract *c, const char *exchange)
{
    c->symbol = "AAPL";
    c->sec_type = "STK";
    c->exchange = exchange;
    c->currency = "USD";
}

static void eurusd(ibContract *c)
{
    c->symbol = "EUR";
    c->sec_type = "CASH";
    c->exchange = "IDEALPRO";
    c->currency = "USD";
}

/* ---- requests ---------------------------------------------------------------------------------- */

Test(enc, req_mkt_depth)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_MKT_DEPTH);
    cr_assert_eq(r.u.mkt_depth.num_rows, 10, "default rows");
    r.u.mkt_depth.req_id = 2001;
    aapl(&r.u.mkt_depth.contract, "ISLAND");
    r.u.mkt_depth.num_rows = 5;
    expect_bytes("reqMktDepth_exchange", &r);
    expect_bytes("reqMktDepth_exchange_sv145", &r);
    r.u.mkt_depth.req_id = 2002;
    aapl(&r.u.mkt_depth.contract, "SMART");
    r.u.mkt_depth.num_rows = 10;
    r.u.mkt_depth.is_smart_depth = true;
    expect_bytes("reqMktDepth_smart", &r);
}

Test(enc, cancel_mkt_depth)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_CANCEL_MKT_DEPTH);
    r.u.cancel_mkt_depth.req_id = 2001;
    expect_bytes("cancelMktDepth_exchange", &r);
    r.u.cancel_mkt_depth.req_id = 2002;
    r.u.cancel_mkt_depth.is_smart_depth = true;
    expect_bytes("cancelMktDepth_smart", &r);
}

Test(enc, req_tick_by_tick)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_TICK_BY_TICK);
    ibReqTickByTick *t = &r.u.tick_by_tick;
    aapl(&t->contract, "SMART");
    t->req_id = 19001;
    t->tick_type = "Last";
    expect_bytes("reqTickByTickData_Last", &r);
    t->req_id = 19002;
    t->tick_type = ib_tickByTickTypeName(IB_TBT_ALL_LAST);
    expect_bytes("reqTickByTickData_AllLast", &r);
    t->req_id = 19003;
    t->tick_type = "BidAsk";
    t->ignore_size = true;
    expect_bytes("reqTickByTickData_BidAsk_ignoreSize", &r);
    t->ignore_size = false;
    t->req_id = 19005;
    t->tick_type = "Last";
    t->number_of_ticks = 10;
    expect_bytes("reqTickByTickData_Last_10ticks", &r);
    ibRequest_Init(&r, IB_REQ_TICK_BY_TICK);
    eurusd(&r.u.tick_by_tick.contract);
    r.u.tick_by_tick.req_id = 19004;
    r.u.tick_by_tick.tick_type = "MidPoint";
    expect_bytes("reqTickByTickData_MidPoint", &r);

    ibRequest_Init(&r, IB_REQ_CANCEL_TICK_BY_TICK);
    r.u.cancel.req_id = 19001;
    expect_bytes("cancelTickByTickData", &r);
}

Test(enc, tick_by_tick_type_names)
{
    const char *names[] = { "Last", "AllLast", "BidAsk", "MidPoint" };
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(ib_tickByTickTypeName(i + 1), names[i]);
        cr_assert_eq(ib_tickByTickTypeParse(names[i]), i + 1);
    }
    cr_assert_null(ib_tickByTickTypeName(0));
    cr_assert_null(ib_tickByTickTypeName(5));
    cr_assert_eq(ib_tickByTickTypeParse("last"), -1, "case-sensitive, as IB");
    cr_assert_eq(ib_tickByTickTypeParse(NULL), -1);
    cr_assert_eq(ib_tickByTickTypeParse(""), -1);
}

Test(enc, req_real_time_bars)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_REAL_TIME_BARS);
    cr_assert_eq(r.u.real_time_bars.bar_size, 5);
    cr_assert_str_eq(r.u.real_time_bars.what_to_show, "TRADES");
    r.u.real_time_bars.req_id = 3002;
    eurusd(&r.u.real_time_bars.contract);
    r.u.real_time_bars.what_to_show = "MIDPOINT";
    expect_bytes("reqRealTimeBars_MIDPOINT_opts", &r);
    ibRequest_Init(&r, IB_REQ_CANCEL_REAL_TIME_BARS);
    r.u.cancel.req_id = 3001;
    expect_bytes("cancelRealTimeBars", &r);
}

Test(enc, req_sec_def_opt_params)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_SEC_DEF_OPT_PARAMS);
    ibReqSecDefOptParams *o = &r.u.sec_def_opt_params;
    o->req_id = 5001;
    o->underlying_symbol = "AAPL";
    o->underlying_sec_type = "STK";
    o->underlying_con_id = 265598;
    expect_bytes("reqSecDefOptParams", &r);
}

static ibbStatus enc_at(int sv, const ibRequest *r)
{
    ibWriter w;
    ibWriter_Init(&w);
    ibbStatus st = ib_encodeRequest(&w, sv, r);
    if (st != IBB_OK)
        cr_assert_eq(ibWriter_Len(&w), 0u, "a refused request writes nothing");
    ibWriter_Free(&w);
    return st;
}

Test(enc, version_gates_and_bad_arguments)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_MKT_DEPTH);
    aapl(&r.u.mkt_depth.contract, "SMART");
    r.u.mkt_depth.is_smart_depth = true;
    cr_assert_eq(enc_at(145, &r), IBB_ERR_UNSUPPORTED_VERSION, "SMART depth below 146");
    cr_assert_eq(enc_at(146, &r), IBB_OK);
    r.u.mkt_depth.contract.primary_exchange = "NASDAQ";
    cr_assert_eq(enc_at(148, &r), IBB_ERR_UNSUPPORTED_VERSION, "primaryExchange below 149");
    cr_assert_eq(enc_at(149, &r), IBB_OK);
    r.u.mkt_depth.num_rows = 0;
    cr_assert_eq(enc_at(176, &r), IBB_ERR_INVALID_ARG, "rows >= 1");

    ibRequest_Init(&r, IB_REQ_CANCEL_MKT_DEPTH);
    r.u.cancel_mkt_depth.is_smart_depth = true;
    cr_assert_eq(enc_at(145, &r), IBB_ERR_UNSUPPORTED_VERSION);

    ibRequest_Init(&r, IB_REQ_TICK_BY_TICK);
    aapl(&r.u.tick_by_tick.contract, "SMART");
    cr_assert_eq(enc_at(136, &r), IBB_ERR_UNSUPPORTED_VERSION);
    cr_assert_eq(enc_at(137, &r), IBB_OK, "plain tick-by-tick from 137");
    r.u.tick_by_tick.ignore_size = true;
    cr_assert_eq(enc_at(139, &r), IBB_ERR_UNSUPPORTED_VERSION, "ignoreSize from 140");
    r.u.tick_by_tick.ignore_size = false;
    r.u.tick_by_tick.tick_type = "last";
    cr_assert_eq(enc_at(176, &r), IBB_ERR_INVALID_ARG, "the type is case-sensitive");
    r.u.tick_by_tick.tick_type = NULL;
    cr_assert_eq(enc_at(176, &r), IBB_ERR_INVALID_ARG);

    ibRequest_Init(&r, IB_REQ_CANCEL_TICK_BY_TICK);
    cr_assert_eq(enc_at(136, &r), IBB_ERR_UNSUPPORTED_VERSION);

    ibRequest_Init(&r, IB_REQ_REAL_TIME_BARS);
    r.u.real_time_bars.what_to_show = "";
    cr_assert_eq(enc_at(176, &r), IBB_ERR_INVALID_ARG);

    ibRequest_Init(&r, IB_REQ_SEC_DEF_OPT_PARAMS);
    r.u.sec_def_opt_params.underlying_symbol = "AAPL";
    r.u.sec_def_opt_params.underlying_sec_type = "STK";
    cr_assert_eq(enc_at(103, &r), IBB_ERR_UNSUPPORTED_VERSION);
    cr_assert_eq(enc_at(104, &r), IBB_OK);
    r.u.sec_def_opt_params.underlying_symbol = NULL;
    cr_assert_eq(enc_at(176, &r), IBB_ERR_INVALID_ARG);

    cr_assert_str_eq(ib_requestName(IB_REQ_MKT_DEPTH), "reqMktDepth");
    cr_assert_str_eq(ib_requestName(IB_REQ_TICK_BY_TICK), "reqTickByTickData");
    cr_assert_str_eq(ib_requestName(IB_REQ_SEC_DEF_OPT_PARAMS), "reqSecDefOptParams");
    cr_assert_str_eq(ib_replyName(IB_MSG_MARKET_DEPTH_L2), "updateMktDepthL2");
    cr_assert_str_eq(ib_replyName(IB_MSG_TICK_BY_TICK), "tickByTick");
}

/* ---- replies ----------------------------------------------------------------------------------- */

static ibReply g_m;

static const ibReply *dec_ok(const char *message)
{
    const wvec *v = wv_find(message);
    cr_assert(!v->to_server);
    ibbStatus st = ib_decodeReply(v->sv, v->payload, v->len, &g_m);
    cr_assert_eq(st, IBB_OK, "'%s' at sv %d: %s", v->message, v->sv, ibbStatus_Name(st));
    return &g_m;
}

Test(dec, update_mkt_depth)
{
    const ibReply *m = dec_ok("updateMktDepth (12) insert bid row 0");
    cr_assert_eq(m->id, IB_MSG_MARKET_DEPTH);
    const ibMktDepth *d = &m->u.depth;
    cr_assert_eq(d->req_id, 9000);
    cr_assert_eq(ibReply_ReqId(m), 9000);
    cr_assert_eq(d->position, 0);
    cr_assert_eq(d->operation, IB_DEPTH_INSERT);
    cr_assert_eq(d->side, IB_DEPTH_BID);
    cr_assert_float_eq(d->price, 150.50, 1e-9);
    cr_assert_float_eq(d->size, 100.0, 1e-9);
    cr_assert_str_eq(d->market_maker, "");
    cr_assert(!d->is_smart_depth);
    d = &dec_ok("updateMktDepth (12) delete ask row 0")->u.depth;
    cr_assert_eq(d->operation, IB_DEPTH_DELETE);
    cr_assert_eq(d->side, IB_DEPTH_ASK);
    cr_assert_float_eq(d->size, 0.0, 1e-9);
}

Test(dec, update_mkt_depth_l2)
{
    const ibReply *m = dec_ok("updateMktDepthL2 (13) SMART depth insert");
    cr_assert_eq(m->id, IB_MSG_MARKET_DEPTH_L2);
    const ibMktDepth *d = &m->u.depth;
    cr_assert_eq(d->req_id, 2002);
    cr_assert_str_eq(d->market_maker, "NSDQ");
    cr_assert_eq(d->operation, IB_DEPTH_INSERT);
    cr_assert_eq(d->side, IB_DEPTH_BID);
    cr_assert_float_eq(d->price, 185.50, 1e-9);
    cr_assert_float_eq(d->size, 300.0, 1e-9);
    cr_assert(d->is_smart_depth);
    d = &dec_ok("updateMktDepthL2 (13) SMART depth update ask")->u.depth;
    cr_assert_eq(d->position, 2);
    cr_assert_str_eq(d->market_maker, "ARCA");
    cr_assert_eq(d->operation, IB_DEPTH_UPDATE);
    cr_assert_eq(d->side, IB_DEPTH_ASK);
    cr_assert_float_eq(d->size, 1200.0, 1e-9);
    d = &dec_ok("updateMktDepthL2 (13) at sv 145")->u.depth;
    cr_assert_eq(d->req_id, 2001);
    cr_assert(!d->is_smart_depth, "no isSmartDepth below 146");
}

Test(dec, depth_errors)
{
    const ibError *e = &dec_ok("error (4) 309")->u.error;
    cr_assert_eq(e->id, 2003);
    cr_assert_eq(e->code, 309);
    e = &dec_ok("error (4) 317")->u.error;
    cr_assert_eq(e->id, 2001);
    cr_assert_eq(e->code, 317);
    e = &dec_ok("error (4) 10190")->u.error;
    cr_assert_eq(e->id, 19006);
    cr_assert_eq(e->code, 10190);
}

Test(dec, tick_by_tick)
{
    const ibReply *m = dec_ok("tickByTick (99) Last");
    cr_assert_eq(m->id, IB_MSG_TICK_BY_TICK);
    const ibTickByTick *t = &m->u.tick_by_tick;
    cr_assert_eq(t->req_id, 9000);
    cr_assert_eq(ibReply_ReqId(m), 9000);
    cr_assert_eq(t->tick_type, IB_TBT_LAST);
    cr_assert_eq(t->time, 1705500000);
    cr_assert_float_eq(t->price, 150.75, 1e-9);
    cr_assert_float_eq(t->size, 100.0, 1e-9);
    cr_assert_eq(t->attr_mask, 0);
    cr_assert_str_eq(t->exchange, "NASDAQ");
    cr_assert_str_eq(t->special_conditions, "");

    t = &dec_ok("tickByTick (99) AllLast unreported")->u.tick_by_tick;
    cr_assert_eq(t->tick_type, IB_TBT_ALL_LAST);
    cr_assert_eq(t->attr_mask, IB_TBT_ATTR_UNREPORTED);
    cr_assert_str_eq(t->exchange, "DARK");
    cr_assert_str_eq(t->special_conditions, "ISO");

    t = &dec_ok("tickByTick (99) BidAsk")->u.tick_by_tick;
    cr_assert_eq(t->tick_type, IB_TBT_BID_ASK);
    cr_assert_float_eq(t->bid_price, 150.45, 1e-9);
    cr_assert_float_eq(t->ask_price, 150.55, 1e-9);
    cr_assert_float_eq(t->bid_size, 150.0, 1e-9);
    cr_assert_float_eq(t->ask_size, 200.0, 1e-9);
    cr_assert_eq(t->attr_mask, IB_TBT_ATTR_BID_PAST_LOW);

    t = &dec_ok("tickByTick (99) MidPoint")->u.tick_by_tick;
    cr_assert_eq(t->tick_type, IB_TBT_MIDPOINT);
    cr_assert_float_eq(t->mid_point, 150.525, 1e-9);

    ibReply r;
    static const char none[] = "99\0" "7\0" "0\0" "1705500000\0";
    cr_assert_eq(ib_decodeReply(176, none, sizeof none - 1, &r), IBB_OK, "type 0 carries no body");
    cr_assert_eq(r.u.tick_by_tick.tick_type, IB_TBT_NONE);
}

Test(dec, real_time_bar)
{
    const ibReply *m = dec_ok("realtimeBar (50)");
    cr_assert_eq(m->id, IB_MSG_REAL_TIME_BAR);
    const ibRealTimeBar *b = &m->u.real_time_bar;
    cr_assert_eq(b->req_id, 9000);
    cr_assert_eq(ibReply_ReqId(m), 9000);
    cr_assert_eq(b->time, 1705500000);
    cr_assert_float_eq(b->open, 150.25, 1e-9);
    cr_assert_float_eq(b->high, 150.75, 1e-9);
    cr_assert_float_eq(b->low, 150.00, 1e-9);
    cr_assert_float_eq(b->close, 150.50, 1e-9);
    cr_assert_float_eq(b->volume, 1000.0, 1e-9);
    cr_assert_float_eq(b->wap, 150.40, 1e-9);
    cr_assert_eq(b->count, 25);
}

Test(dec, sec_def_opt_params)
{
    const ibReply *m = dec_ok("securityDefinitionOptionParameter (75)");
    cr_assert_eq(m->id, IB_MSG_SEC_DEF_OPT_PARAMS);
    ibSecDefOptParams p = m->u.sec_def_opt_params;
    cr_assert_eq(p.req_id, 9000);
    cr_assert_str_eq(p.exchange, "SMART");
    cr_assert_eq(p.underlying_con_id, 265598);
    cr_assert_str_eq(p.trading_class, "AAPL");
    cr_assert_str_eq(p.multiplier, "100");
    cr_assert_eq(p.expiration_count, 3);
    cr_assert_eq(p.strike_count, 5);
    const char *want_exp[] = { "20250117", "20250221", "20250321" };
    const char *e;
    int n = 0;
    while (ibSecDefOptParams_NextExpiration(&p, &e)) {
        cr_assert(n < 3);
        cr_assert_str_eq(e, want_exp[n]);
        n++;
    }
    cr_assert_eq(n, 3);
    double k;
    n = 0;
    while (ibSecDefOptParams_NextStrike(&p, &k)) {
        cr_assert_float_eq(k, 90.0 + 5.0 * n, 1e-9);
        n++;
    }
    cr_assert_eq(n, 5);
    m = dec_ok("securityDefinitionOptionParameterEnd (76)");
    cr_assert_eq(m->id, IB_MSG_SEC_DEF_OPT_PARAMS_END);
    cr_assert_eq(ibReply_ReqId(m), 9000);

    /* empty lists: the readers give nothing */
    ibReply r;
    static const char empty[] = "75\0" "1\0" "CBOE\0" "5\0" "X\0" "100\0" "0\0" "0\0";
    cr_assert_eq(ib_decodeReply(176, empty, sizeof empty - 1, &r), IBB_OK);
    cr_assert(!ibSecDefOptParams_NextExpiration(&r.u.sec_def_opt_params, &e));
    cr_assert(!ibSecDefOptParams_NextStrike(&r.u.sec_def_opt_params, &k));
}

Test(dec, tick_option_computation)
{
    const ibReply *m = dec_ok("tickOptionComputation (21) model");
    cr_assert_eq(m->id, IB_MSG_TICK_OPTION_COMPUTATION);
    cr_assert(ibReply_IsMarketData(m), "greeks arrive on the reqMktData stream");
    const ibTickOptionComputation *o = &m->u.option_computation;
    cr_assert_eq(o->req_id, 9000);
    cr_assert_eq(o->tick_type, IB_TICK_MODEL_OPTION);
    cr_assert_eq(o->tick_attrib, 1);
    cr_assert_float_eq(o->implied_vol, 0.35, 1e-12);
    cr_assert_float_eq(o->delta, 0.45, 1e-12);
    cr_assert_float_eq(o->opt_price, 15.50, 1e-12);
    cr_assert_float_eq(o->pv_dividend, 0.0, 1e-12);
    cr_assert_float_eq(o->gamma, 0.04, 1e-12);
    cr_assert_float_eq(o->vega, 0.03, 1e-12);
    cr_assert_float_eq(o->theta, -0.02, 1e-12);
    cr_assert_float_eq(o->und_price, 105.0, 1e-12);

    o = &dec_ok("tickOptionComputation (21) bid, not computed")->u.option_computation;
    cr_assert_eq(o->tick_type, IB_TICK_BID_OPTION);
    double all[] = { o->implied_vol, o->delta, o->opt_price, o->pv_dividend, o->gamma, o->vega, o->theta,
                     o->und_price };
    for (int i = 0; i < 8; i++)
        cr_assert(ib_isUnsetDouble(all[i]), "value %d is IB's 'not computed'", i);

    const char *others[] = { "tickOptionComputation (21) ask", "tickOptionComputation (21) last",
                             "tickOptionComputation (21) custom" };
    const int types[] = { IB_TICK_ASK_OPTION, IB_TICK_LAST_OPTION, IB_TICK_CUST_OPTION };
    for (int i = 0; i < 3; i++) {
        o = &dec_ok(others[i])->u.option_computation;
        cr_assert_eq(o->req_id, 1002);
        cr_assert_eq(o->tick_type, types[i]);
        cr_assert_eq(o->tick_attrib, 0);
        cr_assert_float_eq(o->und_price, 185.42, 1e-9);
        cr_assert(o->implied_vol > 0.26 && o->implied_vol < 0.28);
        cr_assert(o->theta < 0);
    }
    o = &dec_ok("tickOptionComputation (21) at sv 155")->u.option_computation;
    cr_assert_eq(o->req_id, 1002);
    cr_assert_eq(o->tick_type, IB_TICK_MODEL_OPTION);
    cr_assert_float_eq(o->opt_price, 7.25, 1e-9);
    cr_assert_float_eq(o->und_price, 185.42, 1e-9);
    /* below 156 a version < 6 leaves out the last four values (and optPrice, pvDividend unless
     * the tick is a model one) */
    ibReply r;
    static const char short_bid[] = "21\0" "5\0" "7\0" "10\0" "0.3\0" "0.5\0";
    cr_assert_eq(ib_decodeReply(155, short_bid, sizeof short_bid - 1, &r), IBB_OK);
    cr_assert(ib_isUnsetDouble(r.u.option_computation.gamma));
    cr_assert_float_eq(r.u.option_computation.delta, 0.5, 1e-12);
}

/* ---- damage ------------------------------------------------------------------------------------ */

Test(damage, every_truncation_and_an_extra_field_fail)
{
    wv_load();
    for (int i = 0; i < g_nwv; i++) {
        const wvec *v = &g_wv[i];
        if (v->to_server)
            continue;
        ibReply r;
        size_t len = v->len;
        for (int drop = 1; drop < v->nfields; drop++) {
            len -= strlen(v->fields[v->nfields - drop]) + 1;
            ibbStatus st = ib_decodeReply(v->sv, v->payload, len, &r);
            cr_assert_neq(st, IBB_OK, "'%s' without its last %d fields decoded", v->message, drop);
        }
        char *longer = malloc(v->len + 2);
        memcpy(longer, v->payload, v->len);
        memcpy(longer + v->len, "1", 2);
        cr_assert_eq(ib_decodeReply(v->sv, longer, v->len + 2, &r), IBB_ERR_TRAILING, "'%s' + 1 field",
                     v->message);
        free(longer);
    }
}

/* Replaces field k of a vector and decodes. */
static ibbStatus dec_with(const char *message, int k, const char *value)
{
    const wvec *v = wv_find(message);
    char buf[1024];
    size_t n = 0;
    for (int i = 0; i < v->nfields; i++) {
        const char *f = i == k ? value : v->fields[i];
        size_t l = strlen(f) + 1;
        cr_assert(n + l < sizeof buf);
        memcpy(buf + n, f, l);
        n += l;
    }
    ibReply r;
    return ib_decodeReply(v->sv, buf, n, &r);
}

Test(damage, bad_numbers_and_enumerations)
{
    cr_assert_eq(dec_with("updateMktDepth (12) insert", 4, "3"), IBB_ERR_PROTOCOL, "operation 3");
    cr_assert_eq(dec_with("updateMktDepth (12) insert", 5, "2"), IBB_ERR_PROTOCOL, "side 2");
    cr_assert_eq(dec_with("updateMktDepth (12) insert", 3, "-1"), IBB_ERR_PROTOCOL, "position -1");
    cr_assert_eq(dec_with("updateMktDepth (12) insert", 6, "x"), IBB_ERR_BAD_NUMBER);
    cr_assert_eq(dec_with("updateMktDepthL2 (13) SMART depth insert", 5, "9"), IBB_ERR_PROTOCOL);
    cr_assert_eq(dec_with("tickByTick (99) MidPoint", 2, "5"), IBB_ERR_PROTOCOL, "tick type 5");
    cr_assert_eq(dec_with("tickByTick (99) Last", 3, "soon"), IBB_ERR_BAD_NUMBER);
    cr_assert_eq(dec_with("realtimeBar (50)", 4, "1.2.3"), IBB_ERR_BAD_NUMBER);
    cr_assert_neq(dec_with("securityDefinitionOptionParameter (75)", 6, "4"), IBB_OK,
                  "4 expirations claimed, 3 sent: the strike count lands on a strike");
    cr_assert_neq(dec_with("securityDefinitionOptionParameter (75)", 10, "6"), IBB_OK, "6 strikes claimed");
    cr_assert_eq(dec_with("securityDefinitionOptionParameter (75)", 10, "-1"), IBB_ERR_PROTOCOL);
    cr_assert_eq(dec_with("securityDefinitionOptionParameter (75)", 6, "99999999"), IBB_ERR_PROTOCOL);
    cr_assert_eq(dec_with("tickOptionComputation (21) ask", 5, "abc"), IBB_ERR_BAD_NUMBER);
}

/* Every reply vector framed into one stream, fed to the framer in every chunk size 1..7 and whole:
 * the same frames come out and each decodes. */
Test(damage, chunked_stream_decodes_the_same)
{
    wv_load();
    size_t total = 0;
    for (int i = 0; i < g_nwv; i++)
        total += g_wv[i].to_server ? 0 : g_wv[i].len + 4;
    char *stream = malloc(total);
    size_t n = 0;
    int frames = 0;
    for (int i = 0; i < g_nwv; i++) {
        if (g_wv[i].to_server)
            continue;
        size_t flen;
        char *f = tvec_Frame(&g_wv[i], &flen);
        memcpy(stream + n, f, flen);
        n += flen;
        free(f);
        frames++;
    }
    for (size_t chunk = 1; chunk <= 8; chunk++) {
        size_t step = chunk == 8 ? total : chunk;
        ibFramer *fr;
        cr_assert_eq(ibFramer_Create(&fr, IB_FRAMER_CLIENT), IBB_OK);
        int got = 0, k = -1;
        for (size_t off = 0; off < total; off += step) {
            size_t len = total - off < step ? total - off : step;
            cr_assert_eq(ibFramer_Feed(fr, stream + off, len), IBB_OK);
            const char *p;
            size_t plen;
            while (ibFramer_Next(fr, &p, &plen, NULL) == IBB_OK) {
                do
                    k++;
                while (g_wv[k].to_server);
                const wvec *v = &g_wv[k];
                cr_assert_eq(plen, v->len, "chunk %zu frame %d", chunk, got);
                cr_assert_eq(memcmp(p, v->payload, plen), 0);
                ibReply r;
                cr_assert_eq(ib_decodeReply(v->sv, p, plen, &r), IBB_OK, "chunk %zu: %s", chunk, v->message);
                got++;
            }
        }
        cr_assert_eq(got, frames, "chunk %zu: %d frames of %d", chunk, got, frames);
        ibFramer_Destroy(fr);
    }
    free(stream);
}
