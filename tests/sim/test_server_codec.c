/* test_server_codec.c — the server side of the codec (ib_server_dec.c, ib_server_enc.c).
 *
 *  - every client->server vector decodes with ib_decodeRequest at its sv, every field consumed
 *  - replies encoded by hand match the captured gateway bytes (openOrder 136 fields, ...)
 *  - every server->client vector: client decoder -> server encoder gives the same fields back
 *  - request round trips: client encoder -> server decoder
 *  - malformed input gives an error value, never a crash */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ib/vector_file.h"
#include "ib_msgs.h"

typedef tvec vec;
static vecFile g_vectors = {IBB_VECTORS, 96, NULL, 0};
#define V (g_vectors.v)
#define NV (g_vectors.n)

static void load(void) { vecFile_Load(&g_vectors); }

static const vec *find(const char *message_prefix, int sv)
{
    load();
    for (int i = 0; i < NV; i++)
        if (strncmp(V[i].message, message_prefix, strlen(message_prefix)) == 0 && (!sv || V[i].sv == sv))
            return &V[i];
    cr_assert_fail("vector '%s' not found", message_prefix);
    return NULL;
}

static bool is_request_id(long id)
{
    switch (id) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 15: case 16: case 17:
    case 20: case 25: case 49: case 58: case 59: case 61: case 62: case 63: case 64: case 71:
    case 10: case 11: case 50: case 51: case 78: case 97: case 98:   /* §3.12-3.15 */
    case 74: case 75: case 76: case 77: case 92: case 93: case 94: case 95: /* §3.10, §3.17 */
        return true;
    default:
        return false;
    }
}

/* ---- client -> server vectors --------------------------------------------------------------------- */

Test(server_dec, every_client_vector_decodes_with_every_field_consumed)
{
    load();
    int decoded = 0, at176 = 0;
    for (int i = 0; i < NV; i++) {
        const vec *v = &V[i];
        if (!v->to_server || v->sv < 100 || v->sv > 200 || v->nfields == 0)
            continue;
        long id = strtol(v->fields[0], NULL, 10);
        ibRequest req;
        ibbStatus st = ib_decodeRequest(v->sv, v->payload, v->len, &req);
        if (!is_request_id(id)) {
            cr_expect_eq(st, IBB_ERR_UNKNOWN_MSG, "%s: not in ibRequestId, expected unknown", v->message);
            cr_expect_eq((long)req.id, id, "%s: id still set", v->message);
            continue;
        }
        cr_expect_eq(st, IBB_OK, "%s (sv %d): %s", v->message, v->sv, ibbStatus_Name(st));
        cr_expect_eq((long)req.id, id, "%s", v->message);
        decoded++;
        at176 += v->sv == 176;
    }
    cr_expect_geq(decoded, 35, "decoded %d request vectors", decoded);
    cr_expect_geq(at176, 15, "decoded %d request vectors at 176", at176);
}

Test(server_dec, place_order_fields_at_176)
{
    ibRequest req;
    const vec *v = find("placeOrder_LMT", 176);
    cr_assert_eq(ib_decodeRequest(176, v->payload, v->len, &req), IBB_OK);
    const ibPlaceOrder *p = &req.u.place_order;
    cr_expect_eq(p->order.order_id, 11);
    cr_expect_str_eq(p->contract.symbol, "AAPL");
    cr_expect_str_eq(p->contract.exchange, "SMART");
    cr_expect(ib_isUnsetDouble(p->contract.strike));
    cr_expect_str_eq(p->order.action, "SELL");
    cr_expect_eq(p->order.total_qty, 50.0);
    cr_expect_str_eq(p->order.order_type, "LMT");
    cr_expect_eq(p->order.lmt_price, 185.5);
    cr_expect(ib_isUnsetDouble(p->order.aux_price));
    cr_expect_str_eq(p->order.tif, "GTC");
    cr_expect(p->order.transmit);

    v = find("placeOrder_STP", 176);
    cr_assert_eq(ib_decodeRequest(176, v->payload, v->len, &req), IBB_OK);
    cr_expect_str_eq(req.u.place_order.order.order_type, "STP");
    cr_expect(ib_isUnsetDouble(req.u.place_order.order.lmt_price));
    cr_expect_gt(req.u.place_order.order.aux_price, 0);

    v = find("placeOrder (3) STK MKT", 164);   /* rust-ibapi: every unset written as "" */
    cr_assert_eq(ib_decodeRequest(164, v->payload, v->len, &req), IBB_OK);
    cr_expect_str_eq(req.u.place_order.order.action, "BUY");
    cr_expect_eq(req.u.place_order.order.total_qty, 100.0);

    v = find("placeOrder (3) BAG", 164);       /* combo legs block */
    cr_assert_eq(ib_decodeRequest(164, v->payload, v->len, &req), IBB_OK);
    cr_expect_str_eq(req.u.place_order.contract.sec_type, "BAG");
}

/* The official encoder's MKT order at 176, rebuilt with every unset spelling of §1.4 / §8. */
Test(server_dec, place_order_accepts_every_unset_spelling)
{
    const vec *v = find("placeOrder_MKT", 176);
    static const char *const spellings[] = { "", "1.7976931348623157E308", "1.7976931348623157e+308",
                                             "2147483647", "9223372036854775807" };
    for (size_t s = 0; s < sizeof spellings / sizeof spellings[0]; s++) {
        char buf[4096];
        size_t len = 0;
        for (int i = 0; i < v->nfields; i++) {
            const char *f = v->fields[i];
            /* the literal sentinels of fields 92-96, 101, 110, 111 take another spelling */
            bool sentinel = !strcmp(f, "1.7976931348623157e+308") || !strcmp(f, "2147483647");
            if (sentinel && (i >= 92 && i <= 111))
                f = (i == 110 || i == 111) && s < 3 ? (s == 0 ? "" : "2147483647") : spellings[s];
            size_t l = strlen(f) + 1;
            memcpy(buf + len, f, l);
            len += l;
        }
        ibRequest req;
        ibbStatus st = ib_decodeRequest(176, buf, len, &req);
        cr_expect_eq(st, IBB_OK, "spelling '%s': %s", spellings[s], ibbStatus_Name(st));
        cr_expect_str_eq(req.u.place_order.order.order_type, "MKT");
    }
}

/* The official LMT order at 176 with every conditional block of PROTOCOL.md §3.3 switched on. */
Test(server_dec, place_order_conditional_blocks)
{
    const vec *v = find("placeOrder_LMT", 176);
    const char *f[200];
    int n = 0;
    int inserted = 0;
#define PUT(s) (f[n++] = (s))
#define INS(s) (f[n++] = (s), inserted++)
    for (int i = 0; i < v->nfields; i++) {
        switch (i) {
        case 18: PUT("PEG MID"); break;                                     /* orderType */
        case 65: PUT("MKT"); break;                                         /* deltaNeutralOrderType */
        case 73: PUT("0.05"); break;                                        /* scalePriceIncrement */
        case 77: PUT("D"); break;                                           /* hedgeType */
        case 82: PUT("1"); break;                                           /* deltaNeutralContract */
        case 83: PUT("Adaptive"); break;                                    /* algoStrategy */
        case 90: PUT("2"); break;                                           /* conditions */
        default: PUT(v->fields[i]); break;
        }
        switch (i) {
        case 66: for (int k = 0; k < 8; k++) INS(k == 0 ? "12345" : ""); break;
        case 73: for (int k = 0; k < 7; k++) INS("0"); break;
        case 77: INS("1"); break;
        case 82: INS("265598"); INS("0.5"); INS("185.0"); break;
        case 83: INS("1"); INS("adaptivePriority"); INS("Normal"); break;
        case 90:
            INS("1"); INS("a"); INS("1"); INS("185.0"); INS("265598"); INS("SMART"); INS("0");   /* price */
            INS("3"); INS("o"); INS("1"); INS("20250101 10:00:00");                             /* time */
            INS("0");
            INS("0"); /* ignoreRth, cancel */
            break;
        case 114: INS("0.01"); INS("0.02"); break;                          /* PEG MID offsets */
        }
    }
#undef PUT
#undef INS
    cr_assert_eq(n, 115 + inserted);
    char buf[8192];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(f[i]) + 1;
        memcpy(buf + len, f[i], l);
        len += l;
    }
    ibRequest req;
    ibbStatus st = ib_decodeRequest(176, buf, len, &req);
    cr_assert_eq(st, IBB_OK, "every block: %s", ibbStatus_Name(st));
    cr_expect_str_eq(req.u.place_order.order.order_type, "PEG MID");
    cr_expect_eq(req.u.place_order.order.lmt_price, 185.5);
    /* PEG BEST: minCompeteSize + competeAgainstBestOffset, and the mid offsets only when it is +inf */
    const char *orig[2] = { f[n - 2], f[n - 1] };
    f[18] = "PEG BEST";
    for (int k = 0; k < 2; k++) {
        const char *offset = k ? "Infinity" : "0.02";
        int m = n - 2;
        const char *g[200];
        memcpy(g, f, sizeof(char *) * (size_t)m);
        g[m++] = "100";
        g[m++] = offset;
        if (k) { g[m++] = orig[0]; g[m++] = orig[1]; }
        len = 0;
        for (int i = 0; i < m; i++) {
            size_t l = strlen(g[i]) + 1;
            memcpy(buf + len, g[i], l);
            len += l;
        }
        cr_expect_eq(ib_decodeRequest(176, buf, len, &req), IBB_OK, "PEG BEST offset %s", offset);
    }
    f[18] = "PEG MID";
    /* one field less anywhere after the first block breaks the message */
    for (int drop = 67; drop < n; drop += 7) {
        len = 0;
        for (int i = 0; i < n; i++) {
            if (i == drop)
                continue;
            size_t l = strlen(f[i]) + 1;
            memcpy(buf + len, f[i], l);
            len += l;
        }
        cr_expect_neq(ib_decodeRequest(176, buf, len, &req), IBB_OK, "field %d dropped", drop);
    }
}

Test(server_dec, cancel_order_and_historical_layouts)
{
    ibRequest req;
    const vec *v = find("cancelOrder", 176);
    cr_assert_eq(ib_decodeRequest(176, v->payload, v->len, &req), IBB_OK);
    cr_expect_eq(req.u.cancel_order.order_id, 10);
    v = find("cancelOrder", 200);
    cr_assert_eq(ib_decodeRequest(200, v->payload, v->len, &req), IBB_OK);
    cr_expect_eq(req.u.cancel_order.order_id, 10);
    v = find("reqHistoricalData_keepUpToDate", 176);
    cr_assert_eq(ib_decodeRequest(176, v->payload, v->len, &req), IBB_OK);
    cr_expect(req.u.historical.keep_up_to_date);
    v = find("reqHistoricalData", 176);
    cr_assert_eq(ib_decodeRequest(176, v->payload, v->len, &req), IBB_OK);
    cr_expect_str_eq(req.u.historical.bar_size, "1 hour");
    cr_expect_str_eq(req.u.historical.duration, "1 D");
    cr_expect_str_eq(req.u.historical.what_to_show, "TRADES");
    v = find("reqContractDetails", 176);
    cr_assert_eq(ib_decodeRequest(176, v->payload, v->len, &req), IBB_OK);
    cr_expect_str_eq(req.u.contract_details.contract.symbol, "AAPL");
    v = find("reqContractDetails", 164);       /* no issuerId before 176 */
    cr_assert_eq(ib_decodeRequest(164, v->payload, v->len, &req), IBB_OK);
    cr_expect_eq(ib_decodeRequest(176, v->payload, v->len, &req), IBB_ERR_TRUNCATED);
}

/* ---- malformed input -------------------------------------------------------------------------------- */

Test(server_dec, malformed_input_is_an_error)
{
    ibRequest req;
    cr_expect_eq(ib_decodeRequest(176, "", 0, &req), IBB_ERR_PROTOCOL);
    cr_expect_eq(ib_decodeRequest(176, "abc\0", 4, &req), IBB_ERR_BAD_NUMBER);
    cr_expect_eq(ib_decodeRequest(176, "1\0" "11\0", 5, &req), IBB_ERR_TRUNCATED);
    cr_expect_eq(ib_decodeRequest(176, "49\0" "1\0" "x\0", 7, &req), IBB_ERR_TRAILING);
    cr_expect_eq(ib_decodeRequest(176, "8\0" "1", 3, &req), IBB_ERR_PROTOCOL);     /* no final NUL */
    cr_expect_eq(ib_decodeRequest(176, "999\0", 4, &req), IBB_ERR_UNKNOWN_MSG);
    cr_expect_eq(ib_decodeRequest(99, "49\0" "1\0", 5, &req), IBB_ERR_UNSUPPORTED_VERSION);
    /* every truncation of a 115-field placeOrder fails cleanly */
    const vec *v = find("placeOrder_LMT", 176);
    for (size_t cut = 1; cut < v->len; cut++) {
        if (v->payload[cut - 1] != '\0')
            continue;
        cr_expect_neq(ib_decodeRequest(176, v->payload, cut, &req), IBB_OK, "cut at %zu", cut);
    }
    /* an absurd combo-leg count never allocates or reads past the payload */
    const vec *bag = find("placeOrder (3) BAG", 164);
    char *copy = malloc(bag->len + 16);
    size_t len = 0;
    for (int i = 0; i < bag->nfields; i++) {
        const char *f = (i == 35) ? "99999999" : bag->fields[i];
        size_t l = strlen(f) + 1;
        memcpy(copy + len, f, l);
        len += l;
    }
    cr_expect_neq(ib_decodeRequest(164, copy, len, &req), IBB_OK);
    free(copy);
}

/* ---- replies encoded by hand against the captures ------------------------------------------------- */

static void expect_fields(const ibWriter *w, size_t frame_start, const vec *v)
{
    const char *p = ibWriter_Data(w) + frame_start;
    uint32_t n = (uint32_t)((unsigned char)p[0] << 24 | (unsigned char)p[1] << 16 | (unsigned char)p[2] << 8 |
                            (unsigned char)p[3]);
    cr_assert_eq(n, v->len, "%s: payload length %u, captured %zu", v->message, n, v->len);
    const char *f = p + 4;
    for (int i = 0; i < v->nfields; i++) {
        cr_expect_str_eq(f, v->fields[i], "%s field %d", v->message, i);
        f += strlen(f) + 1;
    }
}

Test(server_enc, open_order_matches_the_136_field_capture)
{
    const vec *cap[2] = {find("openOrder (5) MKT BUY 100 AAPL, PreSubmitted", 173),
                         find("openOrder (5) Filled", 173)};
    for (int k = 0; k < 2; k++) {
        ibReply r;
        memset(&r, 0, sizeof r);
        r.id = IB_MSG_OPEN_ORDER;
        ibOpenOrder *o = &r.u.open_order;
        o->contract = (ibContract){.con_id = 265598,
                                   .symbol = "AAPL",
                                   .sec_type = "STK",
                                   .last_trade_date = "",
                                   .strike = 0,
                                   .right = "",
                                   .multiplier = "",
                                   .exchange = "SMART",
                                   .currency = "USD",
                                   .local_symbol = "AAPL",
                                   .trading_class = "NMS"};
        o->order = (ibOrder){ .order_id = 5, .action = "BUY", .total_qty = 100, .order_type = "MKT",
                              .lmt_price = IB_UNSET_DOUBLE, .aux_price = IB_UNSET_DOUBLE, .tif = "DAY",
                              .oca_group = "", .account = "DU1234567", .order_ref = "" };
        o->client_id = 100;
        o->perm_id = 600745656;
        o->status = k == 0 ? "PreSubmitted" : "Filled";
        o->commission = o->min_commission = o->max_commission = IB_UNSET_DOUBLE;
        o->commission_currency = "";
        o->warning_text = "";
        ibWriter w;
        ibWriter_Init(&w);
        cr_assert_eq(ib_encodeReply(&w, 173, &r, NULL), IBB_OK);
        expect_fields(&w, 0, cap[k]);
        ibWriter_Reset(&w);
        cr_assert_eq(ib_encodeReply(&w, 176, &r, NULL), IBB_OK);   /* identical at 176 */
        expect_fields(&w, 0, cap[k]);
        ibWriter_Reset(&w);
        cr_assert_eq(ib_encodeReply(&w, 177, &r, NULL), IBB_OK);   /* faProfile removed */
        const char *p = ibWriter_Data(&w);
        uint32_t n = (uint32_t)((unsigned char)p[2] << 8 | (unsigned char)p[3]);
        cr_expect_eq(n, cap[k]->len - 1, "one empty field fewer at 177");
        ibWriter_Free(&w);
    }
}

Test(server_enc, small_replies_match_the_captures)
{
    ibWriter w;
    ibWriter_Init(&w);
    ibReply r;

    memset(&r, 0, sizeof r);
    r.id = IB_MSG_ERROR;
    r.u.error = (ibError){ -1, 2104, "Market data farm connection is OK:usfarm", "", 0 };
    cr_assert_eq(ib_encodeReply(&w, 173, &r, NULL), IBB_OK);
    expect_fields(&w, 0, find("error (4) notice 2104", 173));

    ibWriter_Reset(&w);
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_ORDER_STATUS;
    r.u.order_status = (ibOrderStatus){ 5, "Filled", 100, 0, 201.94, 600745656, 0, 201.94, 100, "", 0 };
    cr_assert_eq(ib_encodeReply(&w, 173, &r, NULL), IBB_OK);
    expect_fields(&w, 0, find("orderStatus (3) Filled", 173));

    ibWriter_Reset(&w);
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_EXEC_DETAILS;
    ibExecDetails *x = &r.u.exec_details;
    *x = (ibExecDetails){.req_id = -1,
                         .order_id = 5,
                         .exec_id = "0000e0d5.67fe667b.01.01",
                         .time = "20250415  19:38:31",
                         .account = "DU1234567",
                         .exchange = "IEX",
                         .side = "BOT",
                         .shares = 100,
                         .price = 201.94,
                         .perm_id = 600745656,
                         .client_id = 100,
                         .cum_qty = 100,
                         .avg_price = 201.94,
                         .order_ref = "",
                         .ev_rule = "",
                         .ev_multiplier = IB_UNSET_DOUBLE,
                         .model_code = "",
                         .last_liquidity = 2};
    x->contract = (ibContract){.con_id = 265598,
                               .symbol = "AAPL",
                               .sec_type = "STK",
                               .last_trade_date = "",
                               .strike = 0,
                               .right = "",
                               .multiplier = "",
                               .exchange = "IEX",
                               .currency = "USD",
                               .local_symbol = "AAPL",
                               .trading_class = "NMS"};
    cr_assert_eq(ib_encodeReply(&w, 173, &r, NULL), IBB_OK);
    expect_fields(&w, 0, find("execDetails (11)", 173));

    ibWriter_Reset(&w);
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_TICK_PRICE;
    r.u.tick_price = (ibTickPrice){ 9000, 1, 150.5, 0, 1 };
    cr_assert_eq(ib_encodeReply(&w, 176, &r, NULL), IBB_OK);
    const char *p = ibWriter_Data(&w) + 4;
    static const char want[] = "1\0" "6\0" "9000\0" "1\0" "150.5\0" "0\0" "1\0";
    cr_expect_eq(ibWriter_Len(&w), 4 + sizeof want - 1);
    cr_expect(memcmp(p, want, sizeof want - 1) == 0, "tickPrice version 6, 7 fields");

    /* error layouts by sv: no json before 166, no version and an errorTime from 194 */
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_ERROR;
    r.u.error = (ibError){7, 200, "No security definition has been found for the request", "", 1700000000000};
    ibWriter_Reset(&w);
    cr_assert_eq(ib_encodeReply(&w, 164, &r, NULL), IBB_OK);
    cr_expect_eq(ibWriter_Len(&w), 4 + strlen("4_2_7_200_") + strlen(r.u.error.message) + 1);
    ibWriter_Reset(&w);
    cr_assert_eq(ib_encodeReply(&w, 194, &r, NULL), IBB_OK);
    cr_expect(memcmp(ibWriter_Data(&w) + 4, "4\0" "7\0" "200\0", 8) == 0, "no version field at 194");
    ibWriter_Free(&w);
}

Test(server_enc, historical_data_layouts)
{
    ibBar bars[2] = {
        { "20230413", 182.94, 186.5, 180.94, 185.9, 948837.22, 184.869, 324891 },
        { "20230414", 183.88, 186.28, 182.01, 185.0, 810998.27, 183.9865, 277547 },
    };
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_HISTORICAL_DATA;
    r.u.historical.req_id = 9000;
    r.u.historical.start = "20230413  16:31:22";
    r.u.historical.end = "20230415  16:31:22";
    r.u.historical.bar_count = 2;
    ibWriter w;
    ibWriter_Init(&w);
    cr_assert_eq(ib_encodeReply(&w, 176, &r, bars), IBB_OK);
    const vec *v = find("historicalData (17)", 164);
    /* the fixture writes 182.9400 where a Java gateway writes 182.94: compare as numbers */
    const char *f = ibWriter_Data(&w) + 4;
    for (int i = 0; i < v->nfields; i++) {
        char *e1, *e2;
        double a = strtod(f, &e1), b = strtod(v->fields[i], &e2);
        if (*e1 == '\0' && *e2 == '\0' && *f && *v->fields[i])
            cr_expect_eq(a, b, "field %d: %s vs %s", i, f, v->fields[i]);
        else
            cr_expect_str_eq(f, v->fields[i], "field %d", i);
        f += strlen(f) + 1;
    }
    cr_expect_eq((size_t)(f - ibWriter_Data(&w)), ibWriter_Len(&w), "no trailing field");
    /* sv >= 196: bars in 17, start/end in HISTORICAL_DATA_END (108) */
    ibWriter_Reset(&w);
    cr_assert_eq(ib_encodeReply(&w, 196, &r, bars), IBB_OK);
    const char *p = ibWriter_Data(&w);
    uint32_t n1 = (uint32_t)((unsigned char)p[2] << 8 | (unsigned char)p[3]);
    cr_expect(memcmp(p + 4 + n1 + 4, "108\0" "9000\0", 9) == 0);
    ibWriter_Free(&w);
    cr_expect_eq(
        ib_encodeReply(&w, 176, &(ibReply){.id = IB_MSG_HISTORICAL_DATA, .u.historical.bar_count = 3}, NULL),
        IBB_ERR_INVALID_ARG);
    ibWriter_Free(&w);
}

/* ---- round trips with the client codec ------------------------------------------------------------ */

/* Equal text, or equal numbers; "" and 0 are one value once decoded into a double (evMultiplier). */
static bool same_field(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    if ((!*a && strtod(b, NULL) == 0 && *b == '0') || (!*b && strtod(a, NULL) == 0 && *a == '0'))
        return true;
    char *e1, *e2;
    double x = strtod(a, &e1), y = strtod(b, &e2);
    if (*a && *b && !*e1 && !*e2)
        return x == y || (x >= 1.7e308 && y >= 1.7e308);
    return false;
}

static bool is_reply_id(long id)
{
    switch (id) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 15:
    case 17:
    case 45:
    case 46:
    case 49:
    case 52:
    case 53:
    case 54:
    case 55:
    case 57:
    case 58:
    case 59:
    case 61:
    case 62:
    case 63: case 64: case 81: case 90:
        return true;
    default:
        return false;
    }
}

Test(roundtrip, server_vectors_through_client_decoder_and_server_encoder)
{
    load();
    int checked = 0;
    for (int i = 0; i < NV; i++) {
        const vec *v = &V[i];
        if (v->to_server || v->nfields < 2 || !v->sv || !is_reply_id(strtol(v->fields[0], NULL, 10)))
            continue;
        if (strstr(v->message, "handshake"))
            continue;
        ibReply rep;
        ibbStatus st = ib_decodeReply(v->sv, v->payload, v->len, &rep);
        if (st == IBB_ERR_TRAILING)                   /* 2023-style fixtures with one extra empty field */
            continue;
        cr_expect_eq(st, IBB_OK, "%s: client decoder says %s", v->message, ibbStatus_Name(st));
        if (st != IBB_OK)
            continue;
        ibBar bars[8];
        const ibBar *pb = NULL;
        if (rep.id == IB_MSG_HISTORICAL_DATA) {
            int n = 0;
            while (n < 8 && ibHistoricalData_NextBar(&rep.u.historical, &bars[n]))
                n++;
            pb = bars;
        }
        ibWriter w;
        ibWriter_Init(&w);
        st = ib_encodeReply(&w, v->sv, &rep, pb);
        cr_expect_eq(st, IBB_OK, "%s: encoder says %s", v->message, ibbStatus_Name(st));
        if (st == IBB_OK) {
            const char *f = ibWriter_Data(&w) + 4;
            const char *end = ibWriter_Data(&w) + ibWriter_Len(&w);
            int k = 0;
            long id = strtol(v->fields[0], NULL, 10);
            bool tick = id == 1 || id == 2 || id == 45 || id == 46;
            for (; k < v->nfields && f < end; k++, f += strlen(f) + 1)
                /* ticks always go out as version 6; old fixtures carry version 2 */
                cr_expect((tick && k == 1) || same_field(f, v->fields[k]),
                          "%s field %d: '%s' vs captured '%s'", v->message, k, f, v->fields[k]);
            cr_expect_eq(k, v->nfields, "%s: field count", v->message);
            cr_expect(f == end, "%s: no extra field", v->message);
            checked++;
        }
        ibWriter_Free(&w);
    }
    cr_expect_geq(checked, 30, "round-tripped %d server vectors", checked);
}

Test(roundtrip, client_encoder_to_server_decoder)
{
    ibRequest in, out;
    ibWriter w;
    ibWriter_Init(&w);

    ibRequest_Init(&in, IB_REQ_PLACE_ORDER);
    in.u.place_order.contract.symbol = "ES";
    in.u.place_order.contract.sec_type = "FUT";
    in.u.place_order.contract.last_trade_date = "202512";
    in.u.place_order.contract.exchange = "CME";
    in.u.place_order.contract.currency = "USD";
    in.u.place_order.order.order_id = 42;
    in.u.place_order.order.action = "SELL";
    in.u.place_order.order.total_qty = 2;
    in.u.place_order.order.order_type = "STP LMT";
    in.u.place_order.order.lmt_price = 5000.25;
    in.u.place_order.order.aux_price = 5001.5;
    in.u.place_order.order.tif = "GTC";
    in.u.place_order.order.order_ref = "client-key-1";
    cr_assert_eq(ib_encodeRequest(&w, 176, &in), IBB_OK);
    cr_assert_eq(ib_decodeRequest(176, ibWriter_Data(&w) + 4, ibWriter_Len(&w) - 4, &out), IBB_OK);
    cr_expect_eq(out.u.place_order.order.order_id, 42);
    cr_expect_str_eq(out.u.place_order.order.order_type, "STP LMT");
    cr_expect_eq(out.u.place_order.order.lmt_price, 5000.25);
    cr_expect_eq(out.u.place_order.order.aux_price, 5001.5);
    cr_expect_str_eq(out.u.place_order.order.order_ref, "client-key-1");
    cr_expect_str_eq(out.u.place_order.contract.last_trade_date, "202512");

    ibWriter_Reset(&w);
    ibRequest_Init(&in, IB_REQ_MKT_DATA);
    in.u.mkt_data.req_id = 77;
    in.u.mkt_data.contract.symbol = "AAPL";
    in.u.mkt_data.contract.sec_type = "STK";
    in.u.mkt_data.contract.exchange = "SMART";
    in.u.mkt_data.contract.currency = "USD";
    in.u.mkt_data.generic_ticks = "233";
    cr_assert_eq(ib_encodeRequest(&w, 176, &in), IBB_OK);
    cr_assert_eq(ib_decodeRequest(176, ibWriter_Data(&w) + 4, ibWriter_Len(&w) - 4, &out), IBB_OK);
    cr_expect_eq(out.u.mkt_data.req_id, 77);
    cr_expect_str_eq(out.u.mkt_data.generic_ticks, "233");

    ibWriter_Reset(&w);
    ibRequest_Init(&in, IB_REQ_ACCOUNT_SUMMARY);
    in.u.account_summary.req_id = 9;
    in.u.account_summary.group = "All";
    in.u.account_summary.tags = "NetLiquidation";
    cr_assert_eq(ib_encodeRequest(&w, 176, &in), IBB_OK);
    cr_assert_eq(ib_decodeRequest(176, ibWriter_Data(&w) + 4, ibWriter_Len(&w) - 4, &out), IBB_OK);
    cr_expect_str_eq(out.u.account_summary.tags, "NetLiquidation");
    ibWriter_Free(&w);
}
