/* ib_server_enc.c — the server side of the codec: replies out (ib_encodeReply), for ib-sim.
 *
 * Every reply is written in the layout and with the message versions a gateway sends at the
 * negotiated sv (PROTOCOL.md §3, §6): tickPrice version 6 with 7 fields, openOrder from the
 * 136-field template captured at sv 173 (identical at 170..176) with substitutions, completedOrder
 * from the 101-field capture of §3.16 (gated for 100..200), error with
 * advancedOrderRejectJson from 166 and errorTime from 194, historicalData with start/end until
 * 196. No extra trailing fields. Unset doubles go out as a gateway writes them
 * ("1.7976931348623157E308") where the gateway writes the sentinel, and as "" where it writes "".
 *
 * Ownership: nothing is kept; strings are copied into the ibWriter. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ib_msgs.h"
#include "ib_versions.h"


#define JAVA_DBL_MAX "1.7976931348623157E308"
#define JAVA_INT_MAX "2147483647"

/* An unset double the way the gateway writes it in fields where it writes the sentinel. */
static void put_dbl_sentinel(ibWriter *w, double v)
{
    if (ib_isUnsetDouble(v))
        ibWriter_Str(w, JAVA_DBL_MAX);
    else
        ibWriter_Double(w, v);
}

static void put_strike(ibWriter *w, double strike)
{
    ibWriter_Double(w, ib_isUnsetDouble(strike) ? 0.0 : strike);
}

ibbStatus ib_encodeServerVersion(ibWriter *w, const ibServerVersion *sv)
{
    if (!w || !sv)
        return IBB_ERR_INVALID_ARG;
    ibWriter_Begin(w);
    ibWriter_Int(w, sv->server_version);
    ibWriter_Str(w, sv->connection_time);
    return ibWriter_End(w);
}

/* ---- openOrder -------------------------------------------------------------------------------- */

/* The 2025 capture (sv 173, MKT BUY 100 AAPL, PreSubmitted): 136 fields, msgId first. NULL marks a
 * field that is substituted from the reply. */
static const char *const OPEN_ORDER_TEMPLATE[136] = {
    "5", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,                          /* 0-9 */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,                         /* 10-19 */
    NULL, "", "0", NULL, NULL, NULL, NULL, NULL, "0", "",                               /* 20-29 */
    NULL, "", "", "", "", "", "", "", "", "",                                           /* 30-39 */
    "0", "", "-1", "0", "", "", "", "", "", JAVA_INT_MAX,                               /* 40-49 */
    "0", "0", "0", "", "3", "0", "0", "", NULL, "0",                                    /* 50-59 */
    "", "0", "None", "", "0", "", "", "", "?", "0",                                     /* 60-69 */
    "0", "", "0", "0", "", "", "", "", "", "0",                                         /* 70-79 */
    "0", "0", JAVA_INT_MAX, JAVA_INT_MAX, "", "", "0", "", "IB", "0",                   /* 80-89 */
    "0", "", "0", "0", NULL, JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX,    /* 90-98 */
    JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX,               /* 99-103 */
    NULL, NULL, NULL, NULL, NULL, "0", "0", "0", "None", JAVA_DBL_MAX,                  /* 104-113 */
    JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX, JAVA_DBL_MAX, "0",          /* 114-119 */
    "", "", "", "0", "1", "0", "0", "0", "", "",                                        /* 120-129 */
    "0", "", "100", "0.02", "", "",                                                     /* 130-135 */
};

/* Fields of the template that exist only from (or before) a server version. */
static bool open_order_field_present(int i, int sv)
{
    if (i == 34)
        return sv < IB_SV_FA_PROFILE_DESUPPORT;
    if (i == 35)   /* modelCode: the official decoder reads it when sv >= MODELS_SUPPORT (103) */
        return sv >= SV_MODELS_SUPPORT;
    if (i >= 95 && i <= 100)
        return sv >= SV_WHAT_IF_EXT_FIELDS;
    if (i >= 111 && i <= 119)
        return sv >= SV_PEGGED_TO_BENCHMARK;
    if (i >= 120 && i <= 122)
        return sv >= SV_SOFT_DOLLAR_TIER;
    switch (i) {
    case 123: return sv >= SV_CASH_QTY;
    case 124: return sv >= SV_AUTO_PRICE_FOR_HEDGE;
    case 125: return sv >= IB_SV_ORDER_CONTAINER;
    case 126: return sv >= SV_D_PEG_ORDERS;
    case 127: return sv >= SV_PRICE_MGMT_ALGO;
    case 128: return sv >= IB_SV_DURATION;
    case 129: return sv >= IB_SV_POST_TO_ATS;
    case 130: return sv >= IB_SV_AUTO_CANCEL_PARENT;
    default: break;
    }
    if (i >= 131)
        return sv >= IB_SV_PEGBEST_PEGMID_OFFSETS;
    return true;
}

static void put_open_order_field(ibWriter *w, int i, const ibOpenOrder *oo)
{
    const ibContract *c = &oo->contract;
    const ibOrder *o = &oo->order;
    char tmp[160];
    switch (i) {
    case 1: ibWriter_Int(w, o->order_id); break;
    case 2: ibWriter_Int(w, c->con_id); break;
    case 3: ibWriter_Str(w, c->symbol); break;
    case 4: ibWriter_Str(w, c->sec_type); break;
    case 5: ibWriter_Str(w, c->last_trade_date); break;
    case 6: ibWriter_Str(w, "0"); break;                          /* strike, as captured */
    case 7: ibWriter_Str(w, c->right && *c->right ? c->right : "?"); break;
    case 8: ibWriter_Str(w, c->multiplier); break;
    case 9: ibWriter_Str(w, c->exchange); break;
    case 10: ibWriter_Str(w, c->currency); break;
    case 11: ibWriter_Str(w, c->local_symbol); break;
    case 12: ibWriter_Str(w, c->trading_class); break;
    case 13: ibWriter_Str(w, o->action); break;
    case 14: ibWriter_Decimal(w, o->total_qty); break;
    case 15: ibWriter_Str(w, o->order_type); break;
    case 16: ibWriter_Double(w, ib_isUnsetDouble(o->lmt_price) ? 0.0 : o->lmt_price); break;
    case 17: ibWriter_Double(w, ib_isUnsetDouble(o->aux_price) ? 0.0 : o->aux_price); break;
    case 18: ibWriter_Str(w, o->tif); break;
    case 19: ibWriter_Str(w, o->oca_group); break;
    case 20: ibWriter_Str(w, o->account); break;
    case 23: ibWriter_Str(w, o->order_ref); break;
    case 24: ibWriter_Int(w, oo->client_id); break;
    case 25: ibWriter_Int(w, oo->perm_id); break;
    case 26: ibWriter_Bool(w, o->outside_rth); break;
    case 27: ibWriter_Bool(w, o->hidden); break;
    case 30: {
        char qty[48];
        if (o->total_qty == floor(o->total_qty) && fabs(o->total_qty) < 1e15)
            snprintf(qty, sizeof qty, "%lld", (long long)o->total_qty);
        else
            ib_formatDouble(qty, sizeof qty, o->total_qty);
        snprintf(tmp, sizeof tmp, "%lld.0/%s/%s", (long long)oo->perm_id, o->account ? o->account : "", qty);
        ibWriter_Str(w, tmp);
        break;
    }
    case 58: ibWriter_Int(w, o->parent_id); break;
    case 93: ibWriter_Bool(w, oo->what_if); break;
    case 94: ibWriter_Str(w, oo->status); break;
    case 95: case 96: case 97: case 98: case 99: case 100: case 101: case 102: case 103:
        if (oo->what_if)
            put_dbl_sentinel(w, oo->margins[i - 95]);
        else
            ibWriter_Str(w, OPEN_ORDER_TEMPLATE[i]);   /* unset, as in the capture */
        break;
    case 104: ibWriter_DoubleMax(w, oo->commission); break;
    case 105: ibWriter_DoubleMax(w, oo->min_commission); break;
    case 106: ibWriter_DoubleMax(w, oo->max_commission); break;
    case 107: ibWriter_Str(w, oo->commission_currency); break;
    case 108: ibWriter_Str(w, oo->warning_text); break;
    default: ibWriter_Str(w, OPEN_ORDER_TEMPLATE[i]); break;
    }
}

static ibbStatus put_open_order(ibWriter *w, int sv, const ibOpenOrder *oo)
{
    if (sv > IB_SV_FA_PROFILE_DESUPPORT)
        return IBB_ERR_UNSUPPORTED_VERSION; /* later gates (183+) are not written by this codec */
    const char *t = oo->order.order_type;
    if (t && (strcasecmp(t, "PEG BENCH") == 0 || strcasecmp(t, "PEGBENCH") == 0))
        return IBB_ERR_INVALID_ARG;         /* its 5 reference fields are not in the template */
    ibWriter_Str(w, "5");
    if (sv < IB_SV_ORDER_CONTAINER)
        ibWriter_Int(w, 34);                /* the message version before 145 */
    for (int i = 1; i < 136; i++)
        if (open_order_field_present(i, sv))
            put_open_order_field(w, i, oo);
    return IBB_OK;
}

/* ---- completedOrder --------------------------------------------------------------------------- */

#define JAVA_LONG_MAX "9223372036854775807"

/* The AAPL capture (live gateway, sv 173; PROTOCOL.md §3.16): 101 fields at sv 170..176, msgId
 * first. NULL marks a field substituted from the reply. #81 trailStopPrice is not kept by
 * ibCompletedOrder (the capture has 101.0) and goes out unset. */
static const char *const COMPLETED_TEMPLATE[101] = {
    "101", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,                        /* 0-9 */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,                         /* 10-19 */
    "", "0", NULL, NULL, NULL, NULL, "0", "", "", "",                                   /* 20-29 */
    "", "", "", "", "", "", "", "0", "", "-1",                                          /* 30-39 */
    "", "", "", "", "", JAVA_INT_MAX, "0", "0", "", "3",                                /* 40-49 */
    "0", "", "0", "None", "", "0", "0", "0", "", "0",                                   /* 50-59 */
    "0", "", "", "", "0", "0", "0", JAVA_INT_MAX, JAVA_INT_MAX, "",                     /* 60-69 */
    "", "", "IB", "0", "0", "", "0", NULL, "0", "0",                                    /* 70-79 */
    "0", JAVA_DBL_MAX, JAVA_DBL_MAX, "0", "1", "0", "", NULL, JAVA_INT_MAX, "0",        /* 80-89 */
    "Not an insider or substantial shareholder", "0", "0", NULL, NULL, NULL,            /* 90-95 */
    "", "", "", "", "",                                                                 /* 96-100 */
};

static bool completed_field_present(int i, int sv)
{
    switch (i) {
    case 31: return sv < IB_SV_FA_PROFILE_DESUPPORT;
    case 32: return sv >= SV_MODELS_SUPPORT;
    case 80: return sv >= SV_PEGGED_TO_BENCHMARK;
    case 83: return sv >= SV_CASH_QTY;
    case 84: return sv >= SV_AUTO_PRICE_FOR_HEDGE;
    case 85: return sv >= IB_SV_ORDER_CONTAINER;
    default: return i < 96 || sv >= IB_SV_PEGBEST_PEGMID_OFFSETS;
    }
}

static void put_completed_field(ibWriter *w, int i, const ibCompletedOrder *co)
{
    const ibContract *c = &co->contract;
    const ibOrder *o = &co->order;
    switch (i) {
    case 1: ibWriter_Int(w, c->con_id); break;
    case 2: ibWriter_Str(w, c->symbol); break;
    case 3: ibWriter_Str(w, c->sec_type); break;
    case 4: ibWriter_Str(w, c->last_trade_date); break;
    case 5:                                   /* strike: "0" when none, as captured */
        if (isfinite(c->strike) && c->strike != 0.0 && !ib_isUnsetDouble(c->strike))
            ibWriter_Double(w, c->strike);
        else
            ibWriter_Str(w, "0");
        break;
    case 6: ibWriter_Str(w, c->right && *c->right ? c->right : "?"); break;
    case 7: ibWriter_Str(w, c->multiplier); break;
    case 8: ibWriter_Str(w, c->exchange); break;
    case 9: ibWriter_Str(w, c->currency); break;
    case 10: ibWriter_Str(w, c->local_symbol); break;
    case 11: ibWriter_Str(w, c->trading_class); break;
    case 12: ibWriter_Str(w, o->action); break;
    case 13: ibWriter_Decimal(w, o->total_qty); break;
    case 14: ibWriter_Str(w, o->order_type); break;
    case 15: ibWriter_Double(w, ib_isUnsetDouble(o->lmt_price) ? 0.0 : o->lmt_price); break;
    case 16: ibWriter_Double(w, ib_isUnsetDouble(o->aux_price) ? 0.0 : o->aux_price); break;
    case 17: ibWriter_Str(w, o->tif); break;
    case 18: ibWriter_Str(w, o->oca_group); break;
    case 19: ibWriter_Str(w, o->account); break;
    case 22: ibWriter_Str(w, o->order_ref); break;
    case 23: ibWriter_Int(w, co->perm_id); break;
    case 24: ibWriter_Bool(w, o->outside_rth); break;
    case 25: ibWriter_Bool(w, o->hidden); break;
    case 77: ibWriter_Str(w, co->status); break;
    case 87: ibWriter_Decimal(w, co->filled_qty); break;
    case 93:
        if (ib_isUnsetInt(co->parent_perm_id))
            ibWriter_Str(w, JAVA_LONG_MAX);
        else
            ibWriter_Int(w, co->parent_perm_id);
        break;
    case 94: ibWriter_Str(w, co->completed_time); break;
    case 95: ibWriter_Str(w, co->completed_status); break;
    default: ibWriter_Str(w, COMPLETED_TEMPLATE[i]); break;
    }
}

static ibbStatus put_completed_order(ibWriter *w, int sv, const ibCompletedOrder *co)
{
    const char *t = co->order.order_type;
    if (t && (strcasecmp(t, "PEG BENCH") == 0 || strcasecmp(t, "PEGBENCH") == 0))
        return IBB_ERR_INVALID_ARG;         /* its 5 reference fields are not in the template */
    for (int i = 0; i < 101; i++)
        if (completed_field_present(i, sv))
            put_completed_field(w, i, co);
    if (sv >= SV_CUSTOMER_ACCOUNT)
        ibWriter_Str(w, "");                /* customerAccount */
    if (sv >= SV_PROFESSIONAL_CUSTOMER)
        ibWriter_Bool(w, false);            /* professionalCustomer */
    if (sv >= SV_SUBMITTER)
        ibWriter_Str(w, "");                /* submitter */
    return IBB_OK;
}

/* ---- the other replies ------------------------------------------------------------------------ */

static void put_contract_data(ibWriter *w, int sv, const ibContractData *d)
{
    const ibContract *c = &d->contract;
    ibWriter_Int(w, IB_MSG_CONTRACT_DATA);
    if (sv < IB_SV_SIZE_RULES)
        ibWriter_Int(w, 8);
    ibWriter_Int(w, d->req_id);
    ibWriter_Str(w, c->symbol);
    ibWriter_Str(w, c->sec_type);
    ibWriter_Str(w, c->last_trade_date);
    if (sv >= SV_LAST_TRADE_DATE)
        ibWriter_Str(w, d->real_expiration_date);
    put_strike(w, c->strike);
    ibWriter_Str(w, c->right);
    ibWriter_Str(w, c->exchange);
    ibWriter_Str(w, c->currency);
    ibWriter_Str(w, c->local_symbol);
    ibWriter_Str(w, d->market_name);
    ibWriter_Str(w, c->trading_class);
    ibWriter_Int(w, c->con_id);
    ibWriter_Double(w, d->min_tick);
    if (sv >= SV_MD_SIZE_MULTIPLIER && sv < IB_SV_SIZE_RULES)
        ibWriter_Int(w, 1);
    ibWriter_Str(w, c->multiplier);
    ibWriter_Str(w, d->order_types);
    ibWriter_Str(w, d->valid_exchanges);
    ibWriter_Int(w, d->price_magnifier);
    ibWriter_Int(w, d->under_con_id);
    ibWriter_Str(w, d->long_name);
    ibWriter_Str(w, c->primary_exchange);
    ibWriter_Str(w, d->contract_month);
    ibWriter_Str(w, d->industry);
    ibWriter_Str(w, d->category);
    ibWriter_Str(w, d->subcategory);
    ibWriter_Str(w, d->time_zone_id);
    ibWriter_Str(w, d->trading_hours);
    ibWriter_Str(w, d->liquid_hours);
    ibWriter_Str(w, d->ev_rule);
    ibWriter_DoubleMax(w, d->ev_multiplier);
    ibWriter_Int(w, 0);                     /* secIdList count: this codec writes none */
    if (sv >= SV_AGG_GROUP)
        ibWriter_Int(w, d->agg_group);
    if (sv >= SV_UNDERLYING_INFO) {
        ibWriter_Str(w, d->under_symbol);
        ibWriter_Str(w, d->under_sec_type);
    }
    if (sv >= SV_MARKET_RULES)
        ibWriter_Str(w, d->market_rule_ids);
    if (sv >= SV_REAL_EXPIRATION_DATE)
        ibWriter_Str(w, d->real_expiration_date);
    if (sv >= SV_STOCK_TYPE)
        ibWriter_Str(w, d->stock_type);
    if (sv == SV_FRACTIONAL_SIZE_SUPPORT)
        ibWriter_Decimal(w, d->min_size);
    if (sv >= IB_SV_SIZE_RULES) {
        ibWriter_Decimal(w, d->min_size);
        ibWriter_Decimal(w, d->size_increment);
        ibWriter_Decimal(w, d->suggested_size_increment);
    }
    if (sv >= SV_INELIGIBILITY_REASONS)
        ibWriter_Int(w, 0);
}

static void put_exec_details(ibWriter *w, int sv, const ibExecDetails *e)
{
    const ibContract *c = &e->contract;
    ibWriter_Int(w, IB_MSG_EXEC_DETAILS);
    if (sv < IB_SV_LAST_LIQUIDITY)
        ibWriter_Int(w, 10);
    ibWriter_Int(w, e->req_id);
    ibWriter_Int(w, e->order_id);
    ibWriter_Int(w, c->con_id);
    ibWriter_Str(w, c->symbol);
    ibWriter_Str(w, c->sec_type);
    ibWriter_Str(w, c->last_trade_date);
    put_strike(w, c->strike);
    ibWriter_Str(w, c->right);
    ibWriter_Str(w, c->multiplier);
    ibWriter_Str(w, c->exchange);
    ibWriter_Str(w, c->currency);
    ibWriter_Str(w, c->local_symbol);
    ibWriter_Str(w, c->trading_class);
    ibWriter_Str(w, e->exec_id);
    ibWriter_Str(w, e->time);
    ibWriter_Str(w, e->account);
    ibWriter_Str(w, e->exchange);
    ibWriter_Str(w, e->side);
    ibWriter_Decimal(w, e->shares);
    ibWriter_Double(w, e->price);
    ibWriter_Int(w, e->perm_id);
    ibWriter_Int(w, e->client_id);
    ibWriter_Int(w, e->liquidation);
    ibWriter_Decimal(w, e->cum_qty);
    ibWriter_Double(w, e->avg_price);
    ibWriter_Str(w, e->order_ref);
    ibWriter_Str(w, e->ev_rule);
    ibWriter_DoubleMax(w, e->ev_multiplier);
    if (sv >= SV_MODELS_SUPPORT)
        ibWriter_Str(w, e->model_code);
    if (sv >= IB_SV_LAST_LIQUIDITY)
        ibWriter_Int(w, e->last_liquidity);
    if (sv >= SV_PENDING_PRICE_REVISION)
        ibWriter_Bool(w, false);
    if (sv >= SV_SUBMITTER)
        ibWriter_Str(w, "");
}

static void put_bar(ibWriter *w, int sv, const ibBar *b)
{
    ibWriter_Str(w, b->date);
    ibWriter_Double(w, b->open);
    ibWriter_Double(w, b->high);
    ibWriter_Double(w, b->low);
    ibWriter_Double(w, b->close);
    ibWriter_Decimal(w, b->volume);
    ibWriter_Decimal(w, b->wap);
    if (sv < IB_SV_SYNT_REALTIME_BARS)
        ibWriter_Str(w, "false");           /* hasGaps */
    ibWriter_Int(w, b->count);
}

static ibbStatus put_historical(ibWriter *w, int sv, const ibHistoricalData *h, const ibBar *bars)
{
    if (h->bar_count < 0 || (h->bar_count > 0 && !bars))
        return IBB_ERR_INVALID_ARG;
    ibWriter_Int(w, IB_MSG_HISTORICAL_DATA);
    if (sv < IB_SV_SYNT_REALTIME_BARS)
        ibWriter_Int(w, 3);
    ibWriter_Int(w, h->req_id);
    if (sv < SV_HISTORICAL_DATA_END) {
        ibWriter_Str(w, h->start);
        ibWriter_Str(w, h->end);
    }
    ibWriter_Int(w, h->bar_count);
    for (int i = 0; i < h->bar_count; i++)
        put_bar(w, sv, &bars[i]);
    if (sv >= SV_HISTORICAL_DATA_END) {     /* start/end move to HISTORICAL_DATA_END (108) */
        ibbStatus st = ibWriter_End(w);
        if (st != IBB_OK)
            return st;
        ibWriter_Begin(w);
        ibWriter_Int(w, 108);
        ibWriter_Int(w, h->req_id);
        ibWriter_Str(w, h->start);
        ibWriter_Str(w, h->end);
    }
    return IBB_OK;
}

static void put_order_status(ibWriter *w, int sv, const ibOrderStatus *s)
{
    ibWriter_Int(w, IB_MSG_ORDER_STATUS);
    if (sv < IB_SV_MARKET_CAP_PRICE)
        ibWriter_Int(w, 6);
    ibWriter_Int(w, s->order_id);
    ibWriter_Str(w, s->status);
    ibWriter_Decimal(w, s->filled);
    ibWriter_Decimal(w, s->remaining);
    ibWriter_Decimal(w, s->avg_fill_price);     /* the gateway writes "0", "201.94" here */
    ibWriter_Int(w, s->perm_id);
    ibWriter_Int(w, s->parent_id);
    ibWriter_Decimal(w, s->last_fill_price);
    ibWriter_Int(w, s->client_id);
    ibWriter_Str(w, s->why_held);
    if (sv >= IB_SV_MARKET_CAP_PRICE)
        ibWriter_Decimal(w, ib_isUnsetDouble(s->mkt_cap_price) ? 0.0 : s->mkt_cap_price);
}

static void put_error(ibWriter *w, int sv, const ibError *e)
{
    ibWriter_Int(w, IB_MSG_ERROR);
    if (sv < SV_ERROR_TIME)
        ibWriter_Int(w, 2);
    ibWriter_Int(w, e->id);
    ibWriter_Int(w, e->code);
    ibWriter_Str(w, e->message);
    if (sv >= IB_SV_ADVANCED_ORDER_REJECT)
        ibWriter_Str(w, e->advanced_order_reject_json);
    if (sv >= SV_ERROR_TIME)
        ibWriter_Int(w, e->error_time_ms);
}

/* conId .. tradingClass of position (61) and positionMulti (71): no primaryExchange. */
static void put_position_contract(ibWriter *w, const ibContract *c)
{
    ibWriter_Int(w, c->con_id);
    ibWriter_Str(w, c->symbol);
    ibWriter_Str(w, c->sec_type);
    ibWriter_Str(w, c->last_trade_date);
    put_strike(w, c->strike);
    ibWriter_Str(w, c->right);
    ibWriter_Str(w, c->multiplier);
    ibWriter_Str(w, c->exchange);
    ibWriter_Str(w, c->currency);
    ibWriter_Str(w, c->local_symbol);
    ibWriter_Str(w, c->trading_class);
}

static void put_position(ibWriter *w, const ibPosition *p)
{
    const ibContract *c = &p->contract;
    ibWriter_Int(w, IB_MSG_POSITION);
    ibWriter_Int(w, 3);
    ibWriter_Str(w, p->account);
    put_position_contract(w, c);
    ibWriter_Decimal(w, p->position);
    ibWriter_Double(w, p->avg_cost);
}

static void put_portfolio(ibWriter *w, const ibPortfolioValue *p)
{
    const ibContract *c = &p->contract;
    ibWriter_Int(w, IB_MSG_PORTFOLIO_VALUE);
    ibWriter_Int(w, 8);
    ibWriter_Int(w, c->con_id);
    ibWriter_Str(w, c->symbol);
    ibWriter_Str(w, c->sec_type);
    ibWriter_Str(w, c->last_trade_date);
    put_strike(w, c->strike);
    ibWriter_Str(w, c->right);
    ibWriter_Str(w, c->multiplier);
    ibWriter_Str(w, c->primary_exchange);
    ibWriter_Str(w, c->currency);
    ibWriter_Str(w, c->local_symbol);
    ibWriter_Str(w, c->trading_class);
    ibWriter_Decimal(w, p->position);
    ibWriter_Double(w, p->market_price);
    ibWriter_Double(w, p->market_value);
    ibWriter_Double(w, p->average_cost);
    ibWriter_Double(w, p->unrealized_pnl);
    ibWriter_Double(w, p->realized_pnl);
    ibWriter_Str(w, p->account);
}

/* ---- wave-2 market data (PROTOCOL.md §3.12-3.15) ----------------------------------------------- */
/* in 12 / in 13 (with marketMaker, and isSmartDepth from 146). */
static void put_depth(ibWriter *w, int sv, int id, const ibMktDepth *d)
{
    ibWriter_Int(w, id);
    ibWriter_Int(w, 1);
    ibWriter_Int(w, d->req_id);
    ibWriter_Int(w, d->position);
    if (id == IB_MSG_MARKET_DEPTH_L2)
        ibWriter_Str(w, d->market_maker);
    ibWriter_Int(w, d->operation);
    ibWriter_Int(w, d->side);
    ibWriter_Double(w, d->price);
    ibWriter_Decimal(w, d->size);
    if (id == IB_MSG_MARKET_DEPTH_L2 && sv >= IB_SV_SMART_DEPTH)
        ibWriter_Bool(w, d->is_smart_depth);
}

static ibbStatus put_tick_by_tick(ibWriter *w, const ibTickByTick *t)
{
    ibWriter_Int(w, IB_MSG_TICK_BY_TICK);
    ibWriter_Int(w, t->req_id);
    ibWriter_Int(w, t->tick_type);
    ibWriter_Int(w, t->time);
    switch (t->tick_type) {
    case IB_TBT_NONE: return IBB_OK;
    case IB_TBT_LAST:
    case IB_TBT_ALL_LAST:
        ibWriter_Double(w, t->price);
        ibWriter_Decimal(w, t->size);
        ibWriter_Int(w, t->attr_mask);
        ibWriter_Str(w, t->exchange);
        ibWriter_Str(w, t->special_conditions);
        return IBB_OK;
    case IB_TBT_BID_ASK:
        ibWriter_Double(w, t->bid_price);
        ibWriter_Double(w, t->ask_price);
        ibWriter_Decimal(w, t->bid_size);
        ibWriter_Decimal(w, t->ask_size);
        ibWriter_Int(w, t->attr_mask);
        return IBB_OK;
    case IB_TBT_MIDPOINT:
        ibWriter_Double(w, t->mid_point);
        return IBB_OK;
    default: return IBB_ERR_INVALID_ARG;
    }
}

static void put_real_time_bar(ibWriter *w, const ibRealTimeBar *b)
{
    ibWriter_Int(w, IB_MSG_REAL_TIME_BAR);
    ibWriter_Int(w, 3);
    ibWriter_Int(w, b->req_id);
    ibWriter_Int(w, b->time);
    ibWriter_Double(w, b->open);
    ibWriter_Double(w, b->high);
    ibWriter_Double(w, b->low);
    ibWriter_Double(w, b->close);
    ibWriter_Decimal(w, b->volume);
    ibWriter_Decimal(w, b->wap);
    ibWriter_Int(w, b->count);
}

static ibbStatus put_sec_def_opt_params(ibWriter *w, const ibSecDefOptParams *p)
{
    if (p->expiration_count < 0 || p->strike_count < 0)
        return IBB_ERR_INVALID_ARG;
    ibWriter_Int(w, IB_MSG_SEC_DEF_OPT_PARAMS);
    ibWriter_Int(w, p->req_id);
    ibWriter_Str(w, p->exchange);
    ibWriter_Int(w, p->underlying_con_id);
    ibWriter_Str(w, p->trading_class);
    ibWriter_Str(w, p->multiplier);
    ibSecDefOptParams copy = *p;       /* the readers are consumed on a copy */
    ibWriter_Int(w, p->expiration_count);
    for (int i = 0; i < p->expiration_count; i++) {
        const char *e = NULL;
        if (p->expirations)
            e = p->expirations[i];
        else if (!ibSecDefOptParams_NextExpiration(&copy, &e))
            return IBB_ERR_INVALID_ARG;
        ibWriter_Str(w, e);
    }
    ibWriter_Int(w, p->strike_count);
    for (int i = 0; i < p->strike_count; i++) {
        double k = 0;
        if (p->strikes)
            k = p->strikes[i];
        else if (!ibSecDefOptParams_NextStrike(&copy, &k))
            return IBB_ERR_INVALID_ARG;
        ibWriter_Double(w, k);
    }
    return IBB_OK;
}

/* A greek, or IB's "not computed" value for it when unset. */
static void put_greek(ibWriter *w, double v, const char *sentinel)
{
    if (ib_isUnsetDouble(v))
        ibWriter_Str(w, sentinel);
    else
        ibWriter_Double(w, v);
}

/* in 21: 12 fields; no version and a tickAttrib from 156, version 6 below (§3.15). */
static void put_option_computation(ibWriter *w, int sv, const ibTickOptionComputation *o)
{
    ibWriter_Int(w, IB_MSG_TICK_OPTION_COMPUTATION);
    if (sv < IB_SV_PRICE_BASED_VOLATILITY)
        ibWriter_Int(w, 6);
    ibWriter_Int(w, o->req_id);
    ibWriter_Int(w, o->tick_type);
    if (sv >= IB_SV_PRICE_BASED_VOLATILITY)
        ibWriter_Int(w, o->tick_attrib);
    put_greek(w, o->implied_vol < 0 ? IB_UNSET_DOUBLE : o->implied_vol, "-1");
    put_greek(w, o->delta, "-2");
    put_greek(w, o->opt_price, "-1");
    put_greek(w, o->pv_dividend, "-1");
    put_greek(w, o->gamma, "-2");
    put_greek(w, o->vega, "-2");
    put_greek(w, o->theta, "-2");
    put_greek(w, o->und_price, "-1");
}

static void put_version_req_id(ibWriter *w, int msg, int64_t req_id)
{
    ibWriter_Int(w, msg);
    ibWriter_Int(w, 1);
    ibWriter_Int(w, req_id);
}

static ibbStatus put_discovery(ibWriter *w, int sv, const ibReply *r);
/* ---- P&L and multi-account subscriptions (§3.10, §3.17) ---------------------------------------- */
static void put_pnl(ibWriter *w, int sv, const ibPnL *p)
{
    ibWriter_Int(w, IB_MSG_PNL);
    ibWriter_Int(w, p->req_id);
    put_dbl_sentinel(w, p->daily_pnl);
    if (sv >= IB_SV_UNREALIZED_PNL)
        put_dbl_sentinel(w, p->unrealized_pnl);
    if (sv >= IB_SV_REALIZED_PNL)
        put_dbl_sentinel(w, p->realized_pnl);
}

static void put_pnl_single(ibWriter *w, int sv, const ibPnLSingle *p)
{
    ibWriter_Int(w, IB_MSG_PNL_SINGLE);
    ibWriter_Int(w, p->req_id);
    ibWriter_Decimal(w, p->position);
    put_dbl_sentinel(w, p->daily_pnl);
    if (sv >= IB_SV_UNREALIZED_PNL)
        put_dbl_sentinel(w, p->unrealized_pnl);
    if (sv >= IB_SV_REALIZED_PNL)
        put_dbl_sentinel(w, p->realized_pnl);
    put_dbl_sentinel(w, p->value);
}

static void put_position_multi(ibWriter *w, const ibPositionMulti *p)
{
    ibWriter_Int(w, IB_MSG_POSITION_MULTI);
    ibWriter_Int(w, 3);
    ibWriter_Int(w, p->req_id);
    ibWriter_Str(w, p->account);
    put_position_contract(w, &p->contract);
    ibWriter_Decimal(w, p->position);
    ibWriter_Double(w, p->avg_cost);
    ibWriter_Str(w, p->model_code);
}

static void put_account_update_multi(ibWriter *w, const ibAccountUpdateMulti *a)
{
    put_version_req_id(w, IB_MSG_ACCOUNT_UPDATE_MULTI, a->req_id);
    ibWriter_Str(w, a->account);
    ibWriter_Str(w, a->model_code);
    ibWriter_Str(w, a->key);
    ibWriter_Str(w, a->value);
    ibWriter_Str(w, a->currency);
}

static bool put_pnl_multi(ibWriter *w, int sv, const ibReply *r)
{
    switch ((int)r->id) {
    case IB_MSG_PNL: put_pnl(w, sv, &r->u.pnl); return true;
    case IB_MSG_PNL_SINGLE: put_pnl_single(w, sv, &r->u.pnl_single); return true;
    case IB_MSG_POSITION_MULTI: put_position_multi(w, &r->u.position_multi); return true;
    case IB_MSG_ACCOUNT_UPDATE_MULTI: put_account_update_multi(w, &r->u.account_update_multi); return true;
    case IB_MSG_POSITION_MULTI_END:
    case IB_MSG_ACCOUNT_UPDATE_MULTI_END: put_version_req_id(w, (int)r->id, r->u.end.req_id); return true;
    default: return false;
    }
}

static ibbStatus put_reply(ibWriter *w, int sv, const ibReply *r, const ibBar *bars)
{
    const int V6 = 6;
    switch (r->id) {
    case IB_MSG_TICK_PRICE:
        ibWriter_Int(w, r->id); ibWriter_Int(w, V6);
        ibWriter_Int(w, r->u.tick_price.req_id);
        ibWriter_Int(w, r->u.tick_price.tick_type);
        ibWriter_Double(w, r->u.tick_price.price);
        ibWriter_Decimal(w, r->u.tick_price.size);
        ibWriter_Int(w, r->u.tick_price.attr_mask);
        return IBB_OK;
    case IB_MSG_TICK_SIZE:
        ibWriter_Int(w, r->id); ibWriter_Int(w, V6);
        ibWriter_Int(w, r->u.tick_size.req_id);
        ibWriter_Int(w, r->u.tick_size.tick_type);
        ibWriter_Decimal(w, r->u.tick_size.size);
        return IBB_OK;
    case IB_MSG_TICK_STRING:
        ibWriter_Int(w, r->id); ibWriter_Int(w, V6);
        ibWriter_Int(w, r->u.tick_string.req_id);
        ibWriter_Int(w, r->u.tick_string.tick_type);
        ibWriter_Str(w, r->u.tick_string.value);
        return IBB_OK;
    case IB_MSG_TICK_GENERIC:
        ibWriter_Int(w, r->id); ibWriter_Int(w, V6);
        ibWriter_Int(w, r->u.tick_generic.req_id);
        ibWriter_Int(w, r->u.tick_generic.tick_type);
        ibWriter_Double(w, r->u.tick_generic.value);
        return IBB_OK;
    case IB_MSG_TICK_REQ_PARAMS:
        ibWriter_Int(w, r->id);
        ibWriter_Int(w, r->u.tick_req_params.req_id);
        ibWriter_Double(w, r->u.tick_req_params.min_tick);
        ibWriter_Str(w, r->u.tick_req_params.bbo_exchange);
        ibWriter_Int(w, r->u.tick_req_params.snapshot_permissions);
        return IBB_OK;
    case IB_MSG_MARKET_DATA_TYPE:
        put_version_req_id(w, r->id, r->u.market_data_type.req_id);
        ibWriter_Int(w, r->u.market_data_type.market_data_type);
        return IBB_OK;
    case IB_MSG_TICK_SNAPSHOT_END:
    case IB_MSG_CONTRACT_DATA_END:
    case IB_MSG_EXEC_DETAILS_END:
    case IB_MSG_ACCOUNT_SUMMARY_END:
        put_version_req_id(w, r->id, r->u.end.req_id);
        return IBB_OK;
    case IB_MSG_HISTORICAL_DATA: return put_historical(w, sv, &r->u.historical, bars);
    case IB_MSG_HISTORICAL_DATA_UPDATE: {
        const ibHistoricalDataUpdate *u = &r->u.historical_update;
        ibWriter_Int(w, r->id);
        ibWriter_Int(w, u->req_id);
        ibWriter_Int(w, u->bar_count);
        ibWriter_Str(w, u->bar.date);
        ibWriter_Double(w, u->bar.open);
        ibWriter_Double(w, u->bar.close);   /* official order: open, close, high, low, WAP, volume */
        ibWriter_Double(w, u->bar.high);
        ibWriter_Double(w, u->bar.low);
        ibWriter_Decimal(w, u->bar.wap);
        ibWriter_Decimal(w, u->bar.volume);
        return IBB_OK;
    }
    case IB_MSG_CONTRACT_DATA:
        /* sv >= 179 adds 17 fund fields for secType FUND, which this encoder does not write */
        if (sv >= SV_FUND_DATA_FIELDS && r->u.contract_data.contract.sec_type &&
            strcasecmp(r->u.contract_data.contract.sec_type, "FUND") == 0)
            return IBB_ERR_INVALID_ARG;
        put_contract_data(w, sv, &r->u.contract_data);
        return IBB_OK;
    case IB_MSG_NEXT_VALID_ID:
        put_version_req_id(w, r->id, r->u.next_valid_id.order_id);
        return IBB_OK;
    case IB_MSG_MANAGED_ACCOUNTS:
        ibWriter_Int(w, r->id); ibWriter_Int(w, 1);
        ibWriter_Str(w, r->u.managed_accounts.accounts);
        return IBB_OK;
    case IB_MSG_CURRENT_TIME:
        put_version_req_id(w, r->id, r->u.current_time.time);
        return IBB_OK;
    case IB_MSG_ORDER_STATUS: put_order_status(w, sv, &r->u.order_status); return IBB_OK;
    case IB_MSG_OPEN_ORDER: return put_open_order(w, sv, &r->u.open_order);
    case IB_MSG_COMPLETED_ORDER: return put_completed_order(w, sv, &r->u.completed_order);
    case IB_MSG_COMPLETED_ORDERS_END:
        ibWriter_Int(w, r->id);             /* just the id (PROTOCOL.md §3.16) */
        return IBB_OK;
    case IB_MSG_EXEC_DETAILS: put_exec_details(w, sv, &r->u.exec_details); return IBB_OK;
    case IB_MSG_COMMISSION_REPORT: {
        const ibCommissionReport *c = &r->u.commission;
        ibWriter_Int(w, r->id); ibWriter_Int(w, 1);
        ibWriter_Str(w, c->exec_id);
        ibWriter_Double(w, c->commission);
        ibWriter_Str(w, c->currency);
        put_dbl_sentinel(w, c->realized_pnl);
        put_dbl_sentinel(w, c->yield);
        if (c->yield_redemption_date)
            ibWriter_Int(w, c->yield_redemption_date);
        else
            ibWriter_Str(w, "");
        return IBB_OK;
    }
    case IB_MSG_POSITION: put_position(w, &r->u.position); return IBB_OK;
    case IB_MSG_POSITION_END:
    case IB_MSG_OPEN_ORDER_END:
        ibWriter_Int(w, r->id); ibWriter_Int(w, 1);
        return IBB_OK;
    case IB_MSG_ACCOUNT_SUMMARY: {
        const ibAccountSummary *a = &r->u.account_summary;
        put_version_req_id(w, r->id, a->req_id);
        ibWriter_Str(w, a->account);
        ibWriter_Str(w, a->tag);
        ibWriter_Str(w, a->value);
        ibWriter_Str(w, a->currency);
        return IBB_OK;
    }
    case IB_MSG_ACCOUNT_VALUE: {
        const ibAccountValue *a = &r->u.account_value;
        ibWriter_Int(w, r->id); ibWriter_Int(w, 2);
        ibWriter_Str(w, a->key);
        ibWriter_Str(w, a->value);
        ibWriter_Str(w, a->currency);
        ibWriter_Str(w, a->account);
        return IBB_OK;
    }
    case IB_MSG_PORTFOLIO_VALUE: put_portfolio(w, &r->u.portfolio); return IBB_OK;
    case IB_MSG_ACCOUNT_TIME:
        ibWriter_Int(w, r->id); ibWriter_Int(w, 1);
        ibWriter_Str(w, r->u.account_time.time);
        return IBB_OK;
    case IB_MSG_ACCOUNT_DOWNLOAD_END:
        ibWriter_Int(w, r->id); ibWriter_Int(w, 1);
        ibWriter_Str(w, r->u.account_download_end.account);
        return IBB_OK;
    case IB_MSG_ERROR: put_error(w, sv, &r->u.error); return IBB_OK;
    case IB_MSG_MARKET_DEPTH:
    case IB_MSG_MARKET_DEPTH_L2: put_depth(w, sv, (int)r->id, &r->u.depth); return IBB_OK;
    case IB_MSG_TICK_BY_TICK: return put_tick_by_tick(w, &r->u.tick_by_tick);
    case IB_MSG_REAL_TIME_BAR: put_real_time_bar(w, &r->u.real_time_bar); return IBB_OK;
    case IB_MSG_SEC_DEF_OPT_PARAMS: return put_sec_def_opt_params(w, &r->u.sec_def_opt_params);
    case IB_MSG_SEC_DEF_OPT_PARAMS_END:
        ibWriter_Int(w, r->id);             /* no version (§3.15) */
        ibWriter_Int(w, r->u.end.req_id);
        return IBB_OK;
    case IB_MSG_TICK_OPTION_COMPUTATION: put_option_computation(w, sv, &r->u.option_computation); return IBB_OK;
    default:
        if (put_pnl_multi(w, sv, r))
            return IBB_OK;
        break;
    }
    return put_discovery(w, sv, r);
}

ibbStatus ib_encodeReply(ibWriter *w, int sv, const ibReply *reply, const ibBar *bars)
{
    if (!w || !reply)
        return IBB_ERR_INVALID_ARG;
    if (sv < IB_SV_MIN_CLIENT)
        return IBB_ERR_UNSUPPORTED_VERSION;
    if (w->err != IBB_OK)
        return w->err;
    size_t mark = w->len;
    ibWriter_Begin(w);
    ibbStatus st = put_reply(w, sv, reply, bars);
    if (st != IBB_OK) {
        w->len = mark;                      /* drop the partial frame, keep earlier ones */
        return st;
    }
    return ibWriter_End(w);
}

/* ---- symbol search and scanner (PROTOCOL.md §3.18, §3.19) ---------------------------------------- */

static void put_sample(ibWriter *w, int sv, const ibSymbolSample *in)
{
    ibSymbolSample it = *in;            /* the derivative reader advances */
    ibWriter_Int(w, it.con_id);
    ibWriter_Str(w, it.symbol);
    ibWriter_Str(w, it.sec_type);
    ibWriter_Str(w, it.primary_exchange);
    ibWriter_Str(w, it.currency);
    ibWriter_Int(w, it.deriv_count);
    const char *d;
    for (int i = 0; i < it.deriv_count; i++)
        ibWriter_Str(w, it.deriv_sec_types ? it.deriv_sec_types[i]
                                           : (ibSymbolSample_NextDeriv(&it, &d) ? d : ""));
    if (sv >= IB_SV_BOND_ISSUERID) {
        ibWriter_Str(w, it.description);
        ibWriter_Str(w, it.issuer_id);
    }
}

/* in 79, no version: reqId, count, items (from `samples`, else what the decoder's reader holds). */
static void put_symbol_samples(ibWriter *w, int sv, const ibSymbolSamples *in)
{
    ibSymbolSamples s = *in;
    ibWriter_Int(w, IB_MSG_SYMBOL_SAMPLES);
    ibWriter_Int(w, s.req_id);
    ibWriter_Int(w, s.count);
    ibSymbolSample item;
    for (int i = 0; i < s.count; i++) {
        if (s.samples)
            put_sample(w, sv, &s.samples[i]);
        else if (ibSymbolSamples_Next(&s, &item))
            put_sample(w, sv, &item);
    }
}

static void put_scanner_row(ibWriter *w, const ibScannerRow *o)
{
    const ibContract *c = &o->contract;
    ibWriter_Int(w, o->rank);
    ibWriter_Int(w, c->con_id);
    ibWriter_Str(w, c->symbol);
    ibWriter_Str(w, c->sec_type);
    ibWriter_Str(w, c->last_trade_date);
    put_strike(w, c->strike);
    ibWriter_Str(w, c->right);
    ibWriter_Str(w, c->exchange);
    ibWriter_Str(w, c->currency);
    ibWriter_Str(w, c->local_symbol);
    ibWriter_Str(w, o->market_name);
    ibWriter_Str(w, c->trading_class);
    ibWriter_Str(w, o->distance);
    ibWriter_Str(w, o->benchmark);
    ibWriter_Str(w, o->projection);
    ibWriter_Str(w, o->legs);
}

/* in 20, version 3: reqId, count, rows (from `rows`, else what the decoder's reader holds). */
static void put_scanner_data(ibWriter *w, const ibScannerData *in)
{
    ibScannerData d = *in;
    ibWriter_Int(w, IB_MSG_SCANNER_DATA);
    ibWriter_Int(w, 3);
    ibWriter_Int(w, d.req_id);
    ibWriter_Int(w, d.count);
    ibScannerRow row;
    for (int i = 0; i < d.count; i++) {
        if (d.rows)
            put_scanner_row(w, &d.rows[i]);
        else if (ibScannerData_NextRow(&d, &row))
            put_scanner_row(w, &row);
    }
}

static ibbStatus put_discovery(ibWriter *w, int sv, const ibReply *r)
{
    switch (r->id) {
    case IB_MSG_SYMBOL_SAMPLES: put_symbol_samples(w, sv, &r->u.symbol_samples); return IBB_OK;
    case IB_MSG_SCANNER_DATA: put_scanner_data(w, &r->u.scanner_data); return IBB_OK;
    case IB_MSG_SCANNER_PARAMETERS:
        ibWriter_Int(w, IB_MSG_SCANNER_PARAMETERS);
        ibWriter_Int(w, 1);
        ibWriter_Str(w, r->u.scanner_params.xml);
        return IBB_OK;
    default:
        return IBB_ERR_INVALID_ARG;
    }
}
