/* test_market_depth_ticks.c — the server side of the wave-2 market-data families (ib_server_dec.c,
 * ib_server_enc.c), PROTOCOL.md §3.12-3.15, against tests/ib/vectors/market_depth_ticks.jsonl.
 *
 *  - every request vector decodes with ib_decodeRequest at its server version, every field
 *    consumed, the values checked, and re-encodes (client encoder) to the same bytes
 *  - every reply vector, decoded and encoded again by ib-sim's encoder, decodes to the same values,
 *    field count equal to the vector's
 *  - server encode -> client decode for each reply over the gated server versions, values intact,
 *    and the re-encoding is a fixed point */
#include <math.h>

#include "ib_msgs.h"
#include "../ib/wave2_vectors.h"

static const char *first_payload(const ibWriter *w, size_t *len)
{
    const unsigned char *u = (const unsigned char *)ibWriter_Data(w);
    cr_assert(ibWriter_Len(w) >= 5);
    *len = ((size_t)u[0] << 24) | ((size_t)u[1] << 16) | ((size_t)u[2] << 8) | u[3];
    cr_assert_eq(*len + 4, ibWriter_Len(w), "one frame");
    return ibWriter_Data(w) + 4;
}

static int count_fields(const char *p, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        n += p[i] == '\0';
    return n;
}

Test(server_dec, every_request_vector_round_trips)
{
    wv_load();
    int n = 0;
    for (int i = 0; i < g_nwv; i++) {
        const wvec *v = &g_wv[i];
        if (!v->to_server)
            continue;
        ibRequest r;
        ibbStatus st = ib_decodeRequest(v->sv, v->payload, v->len, &r);
        cr_assert_eq(st, IBB_OK, "%s: %s", v->message, ibbStatus_Name(st));
        cr_assert_eq((long)r.id, strtol(v->fields[0], NULL, 10));
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
    cr_assert_eq(n, 14, "14 request vectors");
}

Test(server_dec, request_values)
{
    ibRequest r;
    const wvec *v = wv_find("reqMktDepth_smart");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_eq(r.u.mkt_depth.req_id, 2002);
    cr_assert_str_eq(r.u.mkt_depth.contract.symbol, "AAPL");
    cr_assert_str_eq(r.u.mkt_depth.contract.exchange, "SMART");
    cr_assert_eq(r.u.mkt_depth.num_rows, 10);
    cr_assert(r.u.mkt_depth.is_smart_depth);
    v = wv_find("reqMktDepth_exchange_sv145");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_str_eq(r.u.mkt_depth.contract.currency, "USD");
    cr_assert_eq(r.u.mkt_depth.num_rows, 5);
    cr_assert(!r.u.mkt_depth.is_smart_depth);
    v = wv_find("cancelMktDepth_smart");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert(r.u.cancel_mkt_depth.is_smart_depth);
    v = wv_find("reqTickByTickData_BidAsk_ignoreSize");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_eq(r.u.tick_by_tick.req_id, 19003);
    cr_assert_eq(ib_tickByTickTypeParse(r.u.tick_by_tick.tick_type), IB_TBT_BID_ASK);
    cr_assert(r.u.tick_by_tick.ignore_size);
    v = wv_find("reqTickByTickData_Last_10ticks");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_eq(r.u.tick_by_tick.number_of_ticks, 10);
    v = wv_find("cancelTickByTickData");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_eq(r.u.cancel.req_id, 19001);
    v = wv_find("reqRealTimeBars_MIDPOINT_opts");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_eq(r.u.real_time_bars.bar_size, 5);
    cr_assert_str_eq(r.u.real_time_bars.what_to_show, "MIDPOINT");
    cr_assert(!r.u.real_time_bars.use_rth);
    v = wv_find("reqSecDefOptParams");
    cr_assert_eq(ib_decodeRequest(v->sv, v->payload, v->len, &r), IBB_OK);
    cr_assert_str_eq(r.u.sec_def_opt_params.underlying_symbol, "AAPL");
    cr_assert_str_eq(r.u.sec_def_opt_params.fut_fop_exchange, "");
    cr_assert_str_eq(r.u.sec_def_opt_params.underlying_sec_type, "STK");
    cr_assert_eq(r.u.sec_def_opt_params.underlying_con_id, 265598);
    /* an extra field is refused, a missing one too */
    cr_assert_eq(ib_decodeRequest(176, "98\0" "1\0" "2\0", 7, &r), IBB_ERR_TRAILING);
    cr_assert_neq(ib_decodeRequest(176, "78\0" "1\0" "AAPL\0", 10, &r), IBB_OK);
}

/* Encodes a decoded reply at sv, decodes the result, returns it; checks the fixed point. */
static void reencode(int sv, const ibReply *in, ibReply *out, int *nfields)
{
    ibWriter w1, w2;
    ibWriter_Init(&w1);
    ibWriter_Init(&w2);
    cr_assert_eq(ib_encodeReply(&w1, sv, in, NULL), IBB_OK, "%s sv %d", ib_replyName((int)in->id), sv);
    size_t len;
    const char *p = first_payload(&w1, &len);
    *nfields = count_fields(p, len);
    ibbStatus st = ib_decodeReply(sv, p, len, out);
    cr_assert_eq(st, IBB_OK, "%s sv %d decodes: %s", ib_replyName((int)in->id), sv, ibbStatus_Name(st));
    cr_assert_eq(ib_encodeReply(&w2, sv, out, NULL), IBB_OK);
    cr_assert_eq(ibWriter_Len(&w1), ibWriter_Len(&w2));
    cr_assert_eq(memcmp(ibWriter_Data(&w1), ibWriter_Data(&w2), ibWriter_Len(&w1)), 0, "fixed point");
    ibWriter_Free(&w1);
    ibWriter_Free(&w2);
    /* out points into w1's buffer, which is gone: the callers compare numbers only, or re-decode */
}

Test(server_enc, every_reply_vector_reencodes_with_its_field_count)
{
    wv_load();
    int n = 0;
    for (int i = 0; i < g_nwv; i++) {
        const wvec *v = &g_wv[i];
        if (v->to_server)
            continue;
        ibReply a, b;
        cr_assert_eq(ib_decodeReply(v->sv, v->payload, v->len, &a), IBB_OK, "%s", v->message);
        int nf = 0;
        reencode(v->sv, &a, &b, &nf);
        cr_assert_eq(nf, v->nfields, "%s: %d fields, the vector has %d", v->message, nf, v->nfields);
        cr_assert_eq(ibReply_ReqId(&a), ibReply_ReqId(&b), "%s", v->message);
        n++;
    }
    cr_assert_eq(n, 21);
}

static const int SVS[] = { 100, 136, 137, 140, 145, 146, 149, 155, 156, 176, 194, 200 };
#define NSVS ((int)(sizeof SVS / sizeof SVS[0]))

Test(server_enc, depth_over_versions)
{
    for (int k = 0; k < NSVS; k++) {
        int sv = SVS[k];
        ibReply a = { .id = IB_MSG_MARKET_DEPTH_L2 }, b;
        a.u.depth = (ibMktDepth){ .req_id = 7, .position = 3, .market_maker = "ARCA",
                                  .operation = IB_DEPTH_UPDATE, .side = IB_DEPTH_BID, .price = 185.51,
                                  .size = 250, .is_smart_depth = true };
        int nf;
        reencode(sv, &a, &b, &nf);
        cr_assert_eq(nf, sv >= IB_SV_SMART_DEPTH ? 10 : 9, "sv %d", sv);
        cr_assert_eq(b.u.depth.position, 3);
        cr_assert_eq(b.u.depth.operation, IB_DEPTH_UPDATE);
        cr_assert_eq(b.u.depth.side, IB_DEPTH_BID);
        cr_assert_eq(b.u.depth.price, 185.51);
        cr_assert_eq(b.u.depth.size, 250.0);
        cr_assert_eq(b.u.depth.is_smart_depth, sv >= IB_SV_SMART_DEPTH);
        a.id = IB_MSG_MARKET_DEPTH;
        reencode(sv, &a, &b, &nf);
        cr_assert_eq(nf, 8);
        cr_assert_eq(b.u.depth.req_id, 7);
    }
}

Test(server_enc, tick_by_tick_over_versions)
{
    for (int k = 0; k < NSVS; k++) {
        int sv = SVS[k];
        ibReply a = { .id = IB_MSG_TICK_BY_TICK }, b;
        int nf;
        a.u.tick_by_tick = (ibTickByTick){ .req_id = 5, .tick_type = IB_TBT_ALL_LAST, .time = 1764000000,
                                           .price = 101.25, .size = 37, .exchange = "DARK",
                                           .special_conditions = "ISO",
                                           .attr_mask = IB_TBT_ATTR_UNREPORTED | IB_TBT_ATTR_PAST_LIMIT };
        reencode(sv, &a, &b, &nf);
        cr_assert_eq(nf, 9);
        cr_assert_eq(b.u.tick_by_tick.price, 101.25);
        cr_assert_eq(b.u.tick_by_tick.size, 37.0);
        cr_assert_eq(b.u.tick_by_tick.attr_mask, 3);
        a.u.tick_by_tick = (ibTickByTick){ .req_id = 5, .tick_type = IB_TBT_BID_ASK, .time = 1764000001,
                                           .bid_price = 101.2, .ask_price = 101.3, .bid_size = 100,
                                           .ask_size = 0.5, .attr_mask = IB_TBT_ATTR_ASK_PAST_HIGH };
        reencode(sv, &a, &b, &nf);
        cr_assert_eq(nf, 9);
        cr_assert_eq(b.u.tick_by_tick.ask_size, 0.5);
        cr_assert_eq(b.u.tick_by_tick.attr_mask, IB_TBT_ATTR_ASK_PAST_HIGH);
        a.u.tick_by_tick = (ibTickByTick){ .req_id = 5, .tick_type = IB_TBT_MIDPOINT, .time = 1764000002,
                                           .mid_point = 101.25 };
        reencode(sv, &a, &b, &nf);
        cr_assert_eq(nf, 5);
        cr_assert_eq(b.u.tick_by_tick.mid_point, 101.25);
        a.u.tick_by_tick = (ibTickByTick){ .req_id = 5, .tick_type = IB_TBT_NONE, .time = 1 };
        reencode(sv, &a, &b, &nf);
        cr_assert_eq(nf, 4);
    }
    ibReply bad = { .id = IB_MSG_TICK_BY_TICK };
    bad.u.tick_by_tick.tick_type = 9;
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, 176, &bad, NULL), IBB_ERR_INVALID_ARG);
    cr_assert_eq(ibWriter_Len(&w), 0u);
    ibWriter_Free(&w);
}

Test(server_enc, real_time_bar_over_versions)
{
    for (int k = 0; k < NSVS; k++) {
        ibReply a = { .id = IB_MSG_REAL_TIME_BAR }, b;
        a.u.real_time_bar = (ibRealTimeBar){ .req_id = 3, .time = 1764000005, .open = 10.5, .high = 11,
                                             .low = 10.25, .close = 10.75, .volume = 1200, .wap = 10.61,
                                             .count = 14 };
        int nf;
        reencode(SVS[k], &a, &b, &nf);
        cr_assert_eq(nf, 11);
        cr_assert_eq(b.u.real_time_bar.time, 1764000005);
        cr_assert_eq(b.u.real_time_bar.low, 10.25);
        cr_assert_eq(b.u.real_time_bar.wap, 10.61);
        cr_assert_eq(b.u.real_time_bar.count, 14);
    }
}

Test(server_enc, sec_def_opt_params_from_arrays)
{
    const char *exps[] = { "20261218", "20270115" };
    const double strikes[] = { 180, 185, 190.5 };
    ibReply a = { .id = IB_MSG_SEC_DEF_OPT_PARAMS };
    a.u.sec_def_opt_params = (ibSecDefOptParams){ .req_id = 11, .exchange = "SMART",
                                                  .underlying_con_id = 265598, .trading_class = "AAPL",
                                                  .multiplier = "100", .expiration_count = 2,
                                                  .strike_count = 3, .expirations = exps,
                                                  .strikes = strikes };
    for (int k = 0; k < NSVS; k++) {
        ibWriter w;
        ibWriter_Init(&w);
        cr_assert_eq(ib_encodeReply(&w, SVS[k], &a, NULL), IBB_OK);
        size_t len;
        const char *p = first_payload(&w, &len);
        cr_assert_eq(count_fields(p, len), 6 + 1 + 2 + 1 + 3);
        ibReply b;
        cr_assert_eq(ib_decodeReply(SVS[k], p, len, &b), IBB_OK);
        const char *e;
        for (int i = 0; i < 2; i++) {
            cr_assert(ibSecDefOptParams_NextExpiration(&b.u.sec_def_opt_params, &e));
            cr_assert_str_eq(e, exps[i]);
        }
        cr_assert(!ibSecDefOptParams_NextExpiration(&b.u.sec_def_opt_params, &e));
        double s;
        for (int i = 0; i < 3; i++) {
            cr_assert(ibSecDefOptParams_NextStrike(&b.u.sec_def_opt_params, &s));
            cr_assert_eq(s, strikes[i]);
        }
        cr_assert(!ibSecDefOptParams_NextStrike(&b.u.sec_def_opt_params, &s));
        ibWriter_Free(&w);
    }
    ibReply end = { .id = IB_MSG_SEC_DEF_OPT_PARAMS_END }, b;
    end.u.end.req_id = 11;
    int nf;
    reencode(176, &end, &b, &nf);
    cr_assert_eq(nf, 2);
    cr_assert_eq(b.u.end.req_id, 11);
}

Test(server_enc, option_computation_over_versions)
{
    for (int k = 0; k < NSVS; k++) {
        int sv = SVS[k];
        ibReply a = { .id = IB_MSG_TICK_OPTION_COMPUTATION }, b;
        a.u.option_computation = (ibTickOptionComputation){
            .req_id = 4, .tick_type = IB_TICK_MODEL_OPTION, .tick_attrib = 1, .implied_vol = 0.31,
            .delta = -0.42, .opt_price = 6.2, .pv_dividend = 0, .gamma = 0.021, .vega = 0.18,
            .theta = -0.05, .und_price = 185.4 };
        int nf;
        reencode(sv, &a, &b, &nf);
        cr_assert_eq(nf, 12, "sv %d", sv);
        const ibTickOptionComputation *o = &b.u.option_computation;
        cr_assert_eq(o->tick_attrib, sv >= IB_SV_PRICE_BASED_VOLATILITY ? 1 : 0);
        cr_assert_eq(o->delta, -0.42);
        cr_assert_eq(o->pv_dividend, 0.0);
        cr_assert_eq(o->theta, -0.05);
        cr_assert_eq(o->und_price, 185.4);
        /* all unset: the wire carries IB's sentinels and they come back unset */
        a.u.option_computation = (ibTickOptionComputation){
            .req_id = 4, .tick_type = IB_TICK_BID_OPTION, .implied_vol = IB_UNSET_DOUBLE,
            .delta = IB_UNSET_DOUBLE, .opt_price = IB_UNSET_DOUBLE, .pv_dividend = IB_UNSET_DOUBLE,
            .gamma = IB_UNSET_DOUBLE, .vega = IB_UNSET_DOUBLE, .theta = IB_UNSET_DOUBLE,
            .und_price = IB_UNSET_DOUBLE };
        reencode(sv, &a, &b, &nf);
        o = &b.u.option_computation;
        cr_assert(ib_isUnsetDouble(o->implied_vol) && ib_isUnsetDouble(o->delta) &&
                  ib_isUnsetDouble(o->opt_price) && ib_isUnsetDouble(o->pv_dividend) &&
                  ib_isUnsetDouble(o->gamma) && ib_isUnsetDouble(o->vega) &&
                  ib_isUnsetDouble(o->theta) && ib_isUnsetDouble(o->und_price), "sv %d", sv);
    }
    /* the bytes of IB's "not computed" vector */
    const wvec *v = wv_find("tickOptionComputation (21) bid, not computed");
    ibReply a;
    cr_assert_eq(ib_decodeReply(176, v->payload, v->len, &a), IBB_OK);
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, 176, &a, NULL), IBB_OK);
    size_t len;
    const char *p = first_payload(&w, &len);
    cr_assert_eq(len, v->len);
    cr_assert_eq(memcmp(p, v->payload, len), 0, "sentinels written as IB writes them");
    ibWriter_Free(&w);
}
