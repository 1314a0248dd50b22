/* ib_client_enc.c — client -> server requests (PROTOCOL.md §2.1, §3), text protocol 100 <= sv <= 200.
 *
 * Field order and defaults follow the official Python client 10.41.1 (OFF-PY): every gate is
 * written `if (sv >= X)` as there, so the bytes match the official encoder at 164, 176 and 200.
 * Strings are borrowed from the request for the duration of the call and copied into the writer.
 * A request that cannot be encoded leaves the writer as it was (earlier frames are kept). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "ib_msgs.h"
#include "ib_versions.h"


/* Encoder state: the writer, the version, and a local "invalid argument" flag so a bad string
 * never poisons the writer's sticky error. */
typedef struct enc {
    ibWriter *w;
    int sv;
    bool bad;
} enc;

/* Official clients refuse anything but printable ASCII, TAB, LF, CR (error 579). */
static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        if ((*p < 32 || *p > 126) && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

static void put_str(enc *e, const char *s)
{
    if (!printable(s))
        e->bad = true;
    ibWriter_Str(e->w, s);
}

static void put_int(enc *e, int64_t v) { ibWriter_Int(e->w, v); }
static void put_int_max(enc *e, int64_t v) { ibWriter_IntMax(e->w, v); }
static void put_bool(enc *e, bool v) { ibWriter_Bool(e->w, v); }
static void put_dbl(enc *e, double v) { ibWriter_Double(e->w, v); }
static void put_dbl_max(enc *e, double v) { ibWriter_DoubleMax(e->w, v); }

static bool is_empty(const char *s) { return s == NULL || *s == '\0'; }

static void put_id_version(enc *e, int id, int version)
{
    put_int(e, id);
    put_int(e, version);
}
static bool is_bag(const ibContract *c) { return c->sec_type && strcasecmp(c->sec_type, "BAG") == 0; }

/* conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, primaryExchange,
 * currency, localSymbol, tradingClass: the "Contract(12)" of reqMktData / reqHistoricalData. */
static void put_contract12(enc *e, const ibContract *c)
{
    put_int(e, c->con_id);
    put_str(e, c->symbol);
    put_str(e, c->sec_type);
    put_str(e, c->last_trade_date);
    put_dbl_max(e, c->strike);
    put_str(e, c->right);
    put_str(e, c->multiplier);
    put_str(e, c->exchange);
    put_str(e, c->primary_exchange);
    put_str(e, c->currency);
    put_str(e, c->local_symbol);
    put_str(e, c->trading_class);
}

/* ---- market data ------------------------------------------------------------------------------ */
static void enc_mkt_data(enc *e, const ibReqMktData *m)
{
    put_int(e, IB_REQ_MKT_DATA);
    put_int(e, 11);
    put_int(e, m->req_id);
    put_contract12(e, &m->contract);
    if (is_bag(&m->contract))
        put_int(e, 0);                  /* comboLegs count: this codec carries no legs */
    put_bool(e, false);                 /* deltaNeutralContract */
    put_str(e, m->generic_ticks);
    put_bool(e, m->snapshot);
    if (e->sv >= SV_REQ_SMART_COMPONENTS)
        put_bool(e, m->regulatory_snapshot);
    put_str(e, "");                     /* mktDataOptions */
}

static void enc_historical(enc *e, const ibReqHistoricalData *h)
{
    if (is_empty(h->bar_size) || is_empty(h->duration) || is_empty(h->what_to_show))
        e->bad = true;
    put_int(e, IB_REQ_HISTORICAL_DATA);
    if (e->sv < IB_SV_SYNT_REALTIME_BARS)
        put_int(e, 6);
    put_int(e, h->req_id);
    put_contract12(e, &h->contract);
    put_bool(e, h->contract.include_expired);
    put_str(e, h->end_date_time);
    put_str(e, h->bar_size);
    put_str(e, h->duration);
    put_bool(e, h->use_rth);
    put_str(e, h->what_to_show);
    put_int(e, h->format_date);
    if (is_bag(&h->contract))
        put_int(e, 0);
    if (e->sv >= IB_SV_SYNT_REALTIME_BARS)
        put_bool(e, h->keep_up_to_date);
    put_str(e, "");                     /* chartOptions */
}

static void enc_contract_details(enc *e, const ibReqContractDetails *d)
{
    const ibContract *c = &d->contract;
    put_int(e, IB_REQ_CONTRACT_DETAILS);
    put_int(e, 8);
    put_int(e, d->req_id);
    put_contract12(e, c);
    put_bool(e, c->include_expired);
    put_str(e, c->sec_id_type);
    put_str(e, c->sec_id);
    if (e->sv >= IB_SV_BOND_ISSUERID)
        put_str(e, c->issuer_id);
}

/* ---- wave-2 market data (PROTOCOL.md §3.12-3.15) ------------------------------------------------ */
/* reqMktDepth: 18 fields at 176; primaryExchange from 149, isSmartDepth from 146 (§3.12). */
static void enc_mkt_depth(enc *e, const ibReqMktDepth *d)
{
    const ibContract *c = &d->contract;
    if (d->num_rows < 1)
        e->bad = true;
    put_int(e, IB_REQ_MKT_DEPTH);
    put_int(e, 5);
    put_int(e, d->req_id);
    put_int(e, c->con_id);
    put_str(e, c->symbol);
    put_str(e, c->sec_type);
    put_str(e, c->last_trade_date);
    put_dbl_max(e, c->strike);
    put_str(e, c->right);
    put_str(e, c->multiplier);
    put_str(e, c->exchange);
    if (e->sv >= IB_SV_MKT_DEPTH_PRIM_EXCHANGE)
        put_str(e, c->primary_exchange);
    put_str(e, c->currency);
    put_str(e, c->local_symbol);
    put_str(e, c->trading_class);
    put_int(e, d->num_rows);
    if (e->sv >= IB_SV_SMART_DEPTH)
        put_bool(e, d->is_smart_depth);
    put_str(e, "");                     /* mktDepthOptions: internal use only, always empty */
}

/* reqTickByTickData: no version; 17 fields from 140 (§3.13). */
static void enc_tick_by_tick(enc *e, const ibReqTickByTick *t)
{
    int type = ib_tickByTickTypeParse(t->tick_type);
    if (type < IB_TBT_LAST || t->number_of_ticks < 0)
        e->bad = true;
    put_int(e, IB_REQ_TICK_BY_TICK);
    put_int(e, t->req_id);
    put_contract12(e, &t->contract);
    put_str(e, t->tick_type);
    if (e->sv >= IB_SV_TICK_BY_TICK_IGNORE_SIZE) {
        put_int(e, t->number_of_ticks);
        put_bool(e, t->ignore_size);
    }
}

/* reqRealTimeBars: version 3, 19 fields (§3.14). */
static void enc_real_time_bars(enc *e, const ibReqRealTimeBars *b)
{
    if (is_empty(b->what_to_show) || b->bar_size <= 0)
        e->bad = true;
    put_int(e, IB_REQ_REAL_TIME_BARS);
    put_int(e, 3);
    put_int(e, b->req_id);
    put_contract12(e, &b->contract);
    put_int(e, b->bar_size);
    put_str(e, b->what_to_show);
    put_bool(e, b->use_rth);
    put_str(e, "");                     /* realTimeBarsOptions */
}

/* reqSecDefOptParams: no version, 6 fields (§3.15). */
static void enc_sec_def_opt_params(enc *e, const ibReqSecDefOptParams *o)
{
    if (is_empty(o->underlying_symbol) || is_empty(o->underlying_sec_type))
        e->bad = true;
    put_int(e, IB_REQ_SEC_DEF_OPT_PARAMS);
    put_int(e, o->req_id);
    put_str(e, o->underlying_symbol);
    put_str(e, o->fut_fop_exchange);
    put_str(e, o->underlying_sec_type);
    put_int(e, o->underlying_con_id);
}

/* ---- P&L and multi-account subscriptions (§3.10, §3.17) ---------------------------------------- */
/* reqPnL / reqPnLSingle: no version; reqId, account, modelCode [, conId]. */
static void enc_pnl(enc *e, int id, const ibReqPnL *p)
{
    if (is_empty(p->account) || (id == IB_REQ_PNL_SINGLE && p->con_id <= 0))
        e->bad = true;
    put_int(e, id);
    put_int(e, p->req_id);
    put_str(e, p->account);
    put_str(e, p->model_code);
    if (id == IB_REQ_PNL_SINGLE)
        put_int(e, p->con_id);
}

/* reqPositionsMulti / reqAccountUpdatesMulti: version 1; reqId, account, modelCode [, ledgerAndNLV]. */
static void enc_multi(enc *e, int id, const ibReqMulti *m)
{
    put_id_version(e, id, 1);
    put_int(e, m->req_id);
    put_str(e, m->account);
    put_str(e, m->model_code);
    if (id == IB_REQ_ACCOUNT_UPDATES_MULTI)
        put_bool(e, m->ledger_and_nlv);
}

static bool enc_pnl_multi(enc *e, const ibRequest *r)
{
    switch (r->id) {
    case IB_REQ_PNL:
    case IB_REQ_PNL_SINGLE:
        enc_pnl(e, (int)r->id, &r->u.pnl);
        return true;
    case IB_REQ_CANCEL_PNL:
    case IB_REQ_CANCEL_PNL_SINGLE:
        put_int(e, (int)r->id);             /* no version */
        put_int(e, r->u.cancel.req_id);
        return true;
    case IB_REQ_POSITIONS_MULTI:
    case IB_REQ_ACCOUNT_UPDATES_MULTI:
        enc_multi(e, (int)r->id, &r->u.multi);
        return true;
    case IB_REQ_CANCEL_POSITIONS_MULTI:
    case IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI:
        put_id_version(e, (int)r->id, 1);
        put_int(e, r->u.cancel.req_id);
        return true;
    default:
        return false;
    }
}

/* The official clients refuse these below their gates (error 503 UPDATE_TWS, client side). */
static bool below_gate(int sv, const ibRequest *r)
{
    switch (r->id) {
    case IB_REQ_COMPLETED_ORDERS: return sv < IB_SV_COMPLETED_ORDERS;
    case IB_REQ_PNL: case IB_REQ_CANCEL_PNL: case IB_REQ_PNL_SINGLE: case IB_REQ_CANCEL_PNL_SINGLE:
        return sv < IB_SV_PNL;
    case IB_REQ_SEC_DEF_OPT_PARAMS: return sv < IB_SV_SEC_DEF_OPT_PARAMS;
    case IB_REQ_MATCHING_SYMBOLS: return sv < SV_REQ_MATCHING_SYMBOLS;
    case IB_REQ_CANCEL_TICK_BY_TICK: return sv < IB_SV_TICK_BY_TICK;
    case IB_REQ_TICK_BY_TICK:
        return sv < IB_SV_TICK_BY_TICK || (sv < IB_SV_TICK_BY_TICK_IGNORE_SIZE &&
                                            (r->u.tick_by_tick.number_of_ticks != 0 ||
                                             r->u.tick_by_tick.ignore_size));
    case IB_REQ_MKT_DEPTH:
        return (sv < IB_SV_SMART_DEPTH && r->u.mkt_depth.is_smart_depth) ||
               (sv < IB_SV_MKT_DEPTH_PRIM_EXCHANGE && !is_empty(r->u.mkt_depth.contract.primary_exchange));
    case IB_REQ_CANCEL_MKT_DEPTH: return sv < IB_SV_SMART_DEPTH && r->u.cancel_mkt_depth.is_smart_depth;
    default: return false;
    }
}

/* ---- orders ----------------------------------------------------------------------------------- */
/* The 115 fields of placeOrder at 176 (PROTOCOL.md §3.3; vector placeOrder_LMT at 176), with the official defaults for
 * everything ibOrder does not carry. #n in comments = index in that vector's fields. */
static void enc_place_order_head(enc *e, const ibContract *c, const ibOrder *o)
{
    put_int(e, IB_REQ_PLACE_ORDER);
    if (e->sv < IB_SV_ORDER_CONTAINER)
        put_int(e, 45);                 /* VERSION (sv >= NOT_HELD) */
    put_int(e, o->order_id);            /* 1 */
    put_contract12(e, c);               /* 2-13 */
    put_str(e, c->sec_id_type);         /* 14 */
    put_str(e, c->sec_id);              /* 15 */
    put_str(e, o->action);              /* 16 */
    if (e->sv >= SV_FRACTIONAL_POSITIONS)
        ibWriter_Decimal(e->w, o->total_qty); /* 17 */
    else
        put_int(e, (int64_t)o->total_qty);
    put_str(e, o->order_type);          /* 18 */
    put_dbl_max(e, o->lmt_price);       /* 19 */
    put_dbl_max(e, o->aux_price);       /* 20 */
    put_str(e, o->tif);                 /* 21 */
    put_str(e, o->oca_group);           /* 22 */
    put_str(e, o->account);             /* 23 */
    put_str(e, "");                     /* 24 openClose */
    put_int(e, 0);                      /* 25 origin: customer */
    put_str(e, o->order_ref);           /* 26 */
    put_bool(e, o->transmit);           /* 27 */
    put_int(e, o->parent_id);           /* 28 */
    put_bool(e, false);                 /* 29 blockOrder */
    put_bool(e, false);                 /* 30 sweepToFill */
    put_int(e, 0);                      /* 31 displaySize */
    put_int(e, 0);                      /* 32 triggerMethod */
    put_bool(e, o->outside_rth);        /* 33 */
    put_bool(e, o->hidden);             /* 34 (BAG combo blocks would follow: refused earlier) */
}

/* Rows 35-89: defaults for everything ibOrder does not carry. */
static void enc_place_order_middle(enc *e, const ibOrder *o)
{
    put_str(e, "");                     /* 35 sharesAllocation */
    put_int(e, 0);                      /* 36 discretionaryAmt (official: "0") */
    put_str(e, "");                     /* 37 goodAfterTime */
    put_str(e, "");                     /* 38 goodTillDate */
    put_str(e, "");                     /* 39 faGroup */
    put_str(e, "");                     /* 40 faMethod */
    put_str(e, "");                     /* 41 faPercentage */
    if (e->sv < IB_SV_FA_PROFILE_DESUPPORT)
        put_str(e, "");                 /* 42 faProfile */
    if (e->sv >= SV_MODELS_SUPPORT)
        put_str(e, "");                 /* 43 modelCode */
    put_int(e, 0);                      /* 44 shortSaleSlot */
    put_str(e, "");                     /* 45 designatedLocation */
    put_int(e, -1);                     /* 46 exemptCode */
    put_int(e, 0);                      /* 47 ocaType */
    put_str(e, "");                     /* 48 rule80A */
    put_str(e, "");                     /* 49 settlingFirm */
    put_bool(e, false);                 /* 50 allOrNone */
    put_int_max(e, IB_UNSET_INT);       /* 51 minQty */
    put_dbl_max(e, IB_UNSET_DOUBLE);    /* 52 percentOffset */
    put_bool(e, false);                 /* 53 eTradeOnly */
    put_bool(e, false);                 /* 54 firmQuoteOnly */
    put_dbl_max(e, IB_UNSET_DOUBLE);    /* 55 nbboPriceCap */
    put_int(e, 0);                      /* 56 auctionStrategy */
    for (int i = 0; i < 5; i++)         /* 57-61 startingPrice, stockRefPrice, delta, stockRange* */
        put_dbl_max(e, IB_UNSET_DOUBLE);
    put_bool(e, false);                 /* 62 overridePercentageConstraints */
    put_dbl_max(e, IB_UNSET_DOUBLE);    /* 63 volatility */
    put_int_max(e, IB_UNSET_INT);       /* 64 volatilityType */
    put_str(e, "");                     /* 65 deltaNeutralOrderType ("" -> no 8 extra fields) */
    put_dbl_max(e, IB_UNSET_DOUBLE);    /* 66 deltaNeutralAuxPrice */
    put_bool(e, false);                 /* 67 continuousUpdate */
    put_int_max(e, IB_UNSET_INT);       /* 68 referencePriceType */
    put_dbl_max(e, IB_UNSET_DOUBLE);    /* 69 trailStopPrice */
    put_dbl_max(e, IB_UNSET_DOUBLE);    /* 70 trailingPercent */
    put_int_max(e, IB_UNSET_INT);       /* 71 scaleInitLevelSize */
    put_int_max(e, IB_UNSET_INT);       /* 72 scaleSubsLevelSize */
    put_dbl_max(e, IB_UNSET_DOUBLE);    /* 73 scalePriceIncrement (unset -> no scale block) */
    put_str(e, "");                     /* 74 scaleTable */
    put_str(e, "");                     /* 75 activeStartTime */
    put_str(e, "");                     /* 76 activeStopTime */
    put_str(e, "");                     /* 77 hedgeType ("" -> no hedgeParam) */
    put_bool(e, false);                 /* 78 optOutSmartRouting */
    put_str(e, "");                     /* 79 clearingAccount */
    put_str(e, "");                     /* 80 clearingIntent */
    put_bool(e, false);                 /* 81 notHeld */
    put_bool(e, false);                 /* 82 deltaNeutralContract present */
    put_str(e, "");                     /* 83 algoStrategy ("" -> no params) */
    put_str(e, "");                     /* 84 algoId */
    put_bool(e, o->what_if);            /* 85 whatIf */
    put_str(e, "");                     /* 86 orderMiscOptions */
    put_bool(e, false);                 /* 87 solicited */
    put_bool(e, false);                 /* 88 randomizeSize */
    put_bool(e, false);                 /* 89 randomizePrice */
}

/* Rows 90-114 and the additions after 176. */
static void enc_place_order_tail(enc *e)
{
    if (e->sv >= SV_PEGGED_TO_BENCHMARK) {
        put_int(e, 0);                  /* 90 conditions count */
        put_str(e, "");                 /* 91 adjustedOrderType */
        for (int i = 0; i < 5; i++)     /* 92-96 triggerPrice .. adjustedTrailingAmount (raw) */
            put_dbl(e, IB_UNSET_DOUBLE);
        put_int(e, 0);                  /* 97 adjustableTrailingUnit */
    }
    if (e->sv >= SV_EXT_OPERATOR)
        put_str(e, "");                 /* 98 extOperator */
    if (e->sv >= SV_SOFT_DOLLAR_TIER) {
        put_str(e, "");                 /* 99 softDollarTier.name */
        put_str(e, "");                 /* 100 softDollarTier.value */
    }
    if (e->sv >= SV_CASH_QTY)
        put_dbl(e, IB_UNSET_DOUBLE);    /* 101 cashQty (raw) */
    if (e->sv >= SV_DECISION_MAKER) {
        put_str(e, "");                 /* 102 mifid2DecisionMaker */
        put_str(e, "");                 /* 103 mifid2DecisionAlgo */
    }
    if (e->sv >= SV_MIFID_EXECUTION) {
        put_str(e, "");                 /* 104 mifid2ExecutionTrader */
        put_str(e, "");                 /* 105 mifid2ExecutionAlgo */
    }
    if (e->sv >= SV_AUTO_PRICE_FOR_HEDGE)
        put_bool(e, false);             /* 106 dontUseAutoPriceForHedge */
    if (e->sv >= IB_SV_ORDER_CONTAINER)
        put_bool(e, false);             /* 107 isOmsContainer */
    if (e->sv >= SV_D_PEG_ORDERS)
        put_bool(e, false);             /* 108 discretionaryUpToLimitPrice */
    if (e->sv >= SV_PRICE_MGMT_ALGO)
        put_str(e, "");                 /* 109 usePriceMgmtAlgo: None -> "" */
    if (e->sv >= IB_SV_DURATION)
        put_int(e, IB_UNSET_INT);       /* 110 duration (raw) */
    if (e->sv >= IB_SV_POST_TO_ATS)
        put_int(e, IB_UNSET_INT);       /* 111 postToAts (raw) */
    if (e->sv >= IB_SV_AUTO_CANCEL_PARENT)
        put_bool(e, false);             /* 112 autoCancelParent */
    if (e->sv >= IB_SV_ADVANCED_ORDER_REJECT)
        put_str(e, "");                 /* 113 advancedErrorOverride */
    if (e->sv >= IB_SV_MANUAL_ORDER_TIME)
        put_str(e, "");                 /* 114 manualOrderTime */
    /* sv >= 170: IBKRATS minTradeQty / PEG BEST / PEG MID fields: none for our order types. */
    if (e->sv >= SV_CUSTOMER_ACCOUNT)
        put_str(e, "");                 /* customerAccount */
    if (e->sv >= SV_PROFESSIONAL_CUSTOMER)
        put_bool(e, false);             /* professionalCustomer */
    if (e->sv >= SV_RFQ_FIELDS && e->sv < SV_UNDO_RFQ_FIELDS) {
        put_str(e, "");
        put_int(e, IB_UNSET_INT);
    }
    if (e->sv >= SV_INCLUDE_OVERNIGHT)
        put_bool(e, false);             /* includeOvernight */
    if (e->sv >= SV_CME_TAGGING_FIELDS)
        put_int(e, IB_UNSET_INT);       /* manualOrderIndicator (raw) */
    if (e->sv >= SV_IMBALANCE_ONLY)
        put_bool(e, false);             /* imbalanceOnly */
}

/* A price is either unset or a finite number; NaN or an infinity never goes to IB. */
static bool price_ok(double v) { return ib_isUnsetDouble(v) || isfinite(v); }

/* Order types whose conditional placeOrder blocks this encoder does not write (PROTOCOL.md §3.3:
 * PEG BENCH reference fields, PEG BEST / PEG MID offsets): refused rather than sent short. */
static bool unsupported_order_type(const char *t)
{
    static const char *const bad[] = {"PEG BENCH", "PEGBENCH", "PEG BEST", "PEG MID", NULL};
    for (int i = 0; t && bad[i]; i++)
        if (strcasecmp(t, bad[i]) == 0)
            return true;
    return false;
}

static void enc_place_order(enc *e, const ibPlaceOrder *p)
{
    const ibContract *c = &p->contract;
    const ibOrder *o = &p->order;
    /* Refuse what cannot be encoded completely: no quantity (unset, NaN, <= 0), a non-finite price,
     * combo (BAG) contracts and the IBKRATS / PEG blocks this encoder does not write. */
    if (is_empty(o->action) || is_empty(o->order_type) || ib_isUnsetDouble(o->total_qty) ||
        !isfinite(o->total_qty) || o->total_qty <= 0 || !price_ok(o->lmt_price) || !price_ok(o->aux_price) ||
        is_bag(c) || unsupported_order_type(o->order_type) ||
        (c->exchange && strcasecmp(c->exchange, "IBKRATS") == 0)) {
        e->bad = true;
        return;
    }
    enc_place_order_head(e, c, o);
    enc_place_order_middle(e, o);
    enc_place_order_tail(e);
}

static void enc_cancel_order(enc *e, const ibCancelOrder *c)
{
    put_int(e, IB_REQ_CANCEL_ORDER);
    if (e->sv < SV_CME_TAGGING_FIELDS)
        put_int(e, 1);
    put_int(e, c->order_id);
    if (e->sv >= IB_SV_MANUAL_ORDER_TIME)
        put_str(e, c->manual_cancel_time);
    if (e->sv >= SV_RFQ_FIELDS && e->sv < SV_UNDO_RFQ_FIELDS) {
        put_str(e, "");
        put_str(e, "");
        put_int(e, IB_UNSET_INT);
    }
    if (e->sv >= SV_CME_TAGGING_FIELDS) {
        put_str(e, "");                 /* extOperator */
        put_int(e, IB_UNSET_INT);       /* manualOrderIndicator */
    }
}

static void enc_global_cancel(enc *e)
{
    put_int(e, IB_REQ_GLOBAL_CANCEL);
    if (e->sv < SV_CME_TAGGING_FIELDS) {
        put_int(e, 1);
    } else {
        put_str(e, "");                 /* extOperator */
        put_int(e, IB_UNSET_INT);       /* manualOrderIndicator */
    }
}

static void enc_executions(enc *e, const ibReqExecutions *x)
{
    put_int(e, IB_REQ_EXECUTIONS);
    put_int(e, 3);
    put_int(e, x->req_id);
    put_int(e, x->client_id);
    put_str(e, x->account);
    put_str(e, x->time);
    put_str(e, x->symbol);
    put_str(e, x->sec_type);
    put_str(e, x->exchange);
    put_str(e, x->side);
    if (e->sv >= SV_PARAMETRIZED_DAYS_OF_EXECUTIONS) {
        put_int(e, IB_UNSET_INT);       /* lastNDays */
        put_int(e, 0);                  /* specificDates count */
    }
}

/* ---- dispatch --------------------------------------------------------------------------------- */

static bool enc_discovery(enc *e, const ibRequest *r);

static bool enc_body(enc *e, const ibRequest *r)
{
    switch (r->id) {
    case IB_REQ_START_API:
        put_id_version(e, IB_REQ_START_API, 2);
        put_int(e, r->u.start_api.client_id);
        put_str(e, r->u.start_api.optional_capabilities); /* sv >= 72 */
        return true;
    case IB_REQ_IDS:
        put_id_version(e, IB_REQ_IDS, 1);
        put_int(e, r->u.req_ids.num_ids);
        return true;
    case IB_REQ_CURRENT_TIME:
    case IB_REQ_OPEN_ORDERS:
    case IB_REQ_ALL_OPEN_ORDERS:
    case IB_REQ_MANAGED_ACCTS:
    case IB_REQ_POSITIONS:
    case IB_REQ_CANCEL_POSITIONS:
        put_id_version(e, (int)r->id, 1);
        return true;
    case IB_REQ_MARKET_DATA_TYPE:
        if (r->u.market_data_type.market_data_type < 1 || r->u.market_data_type.market_data_type > 4)
            e->bad = true;
        put_id_version(e, IB_REQ_MARKET_DATA_TYPE, 1);
        put_int(e, r->u.market_data_type.market_data_type);
        return true;
    case IB_REQ_MKT_DATA:
        enc_mkt_data(e, &r->u.mkt_data);
        return true;
    case IB_REQ_CANCEL_MKT_DATA:
        put_id_version(e, IB_REQ_CANCEL_MKT_DATA, 2);
        put_int(e, r->u.cancel.req_id);
        return true;
    case IB_REQ_HISTORICAL_DATA:
        enc_historical(e, &r->u.historical);
        return true;
    case IB_REQ_CANCEL_HISTORICAL_DATA:
    case IB_REQ_CANCEL_ACCOUNT_SUMMARY:
        put_id_version(e, (int)r->id, 1);
        put_int(e, r->u.cancel.req_id);
        return true;
    case IB_REQ_CONTRACT_DETAILS:
        enc_contract_details(e, &r->u.contract_details);
        return true;
    case IB_REQ_PLACE_ORDER:
        enc_place_order(e, &r->u.place_order);
        return true;
    case IB_REQ_CANCEL_ORDER:
        enc_cancel_order(e, &r->u.cancel_order);
        return true;
    case IB_REQ_AUTO_OPEN_ORDERS:
        put_id_version(e, IB_REQ_AUTO_OPEN_ORDERS, 1);
        put_bool(e, r->u.auto_bind);
        return true;
    case IB_REQ_GLOBAL_CANCEL:
        enc_global_cancel(e);
        return true;
    case IB_REQ_EXECUTIONS:
        enc_executions(e, &r->u.executions);
        return true;
    case IB_REQ_ACCOUNT_SUMMARY:
        if (is_empty(r->u.account_summary.group) || is_empty(r->u.account_summary.tags))
            e->bad = true;
        put_id_version(e, IB_REQ_ACCOUNT_SUMMARY, 1);
        put_int(e, r->u.account_summary.req_id);
        put_str(e, r->u.account_summary.group);
        put_str(e, r->u.account_summary.tags);
        return true;
    case IB_REQ_ACCOUNT_UPDATES:
        put_id_version(e, IB_REQ_ACCOUNT_UPDATES, 2);
        put_bool(e, r->u.account_updates.subscribe);
        put_str(e, r->u.account_updates.account);
        return true;
    case IB_REQ_COMPLETED_ORDERS:
        put_int(e, IB_REQ_COMPLETED_ORDERS);    /* no version, no reqId (PROTOCOL.md §3.16) */
        put_bool(e, r->u.api_only);
        return true;
    case IB_REQ_MKT_DEPTH:
        enc_mkt_depth(e, &r->u.mkt_depth);
        return true;
    case IB_REQ_CANCEL_MKT_DEPTH:
        put_id_version(e, IB_REQ_CANCEL_MKT_DEPTH, 1);
        put_int(e, r->u.cancel_mkt_depth.req_id);
        if (e->sv >= IB_SV_SMART_DEPTH)
            put_bool(e, r->u.cancel_mkt_depth.is_smart_depth);
        return true;
    case IB_REQ_TICK_BY_TICK:
        enc_tick_by_tick(e, &r->u.tick_by_tick);
        return true;
    case IB_REQ_CANCEL_TICK_BY_TICK:
        put_int(e, IB_REQ_CANCEL_TICK_BY_TICK); /* no version (§3.13) */
        put_int(e, r->u.cancel.req_id);
        return true;
    case IB_REQ_REAL_TIME_BARS:
        enc_real_time_bars(e, &r->u.real_time_bars);
        return true;
    case IB_REQ_CANCEL_REAL_TIME_BARS:
        put_id_version(e, IB_REQ_CANCEL_REAL_TIME_BARS, 1);
        put_int(e, r->u.cancel.req_id);
        return true;
    case IB_REQ_SEC_DEF_OPT_PARAMS:
        enc_sec_def_opt_params(e, &r->u.sec_def_opt_params);
        return true;
    default:
        if (enc_pnl_multi(e, r))
            return true;
        break;
    }
    return enc_discovery(e, r);
}

ibbStatus ib_encodeRequest(ibWriter *w, int sv, const ibRequest *req)
{
    if (!w || !req)
        return IBB_ERR_INVALID_ARG;
    if (sv < IB_SV_MIN_CLIENT || sv >= SV_PROTOBUF)
        return IBB_ERR_UNSUPPORTED_VERSION;  /* >= 201 switches to binary ids + protobuf */
    if (below_gate(sv, req))
        return IBB_ERR_UNSUPPORTED_VERSION;  /* as the official clients refuse them */
    if (w->err != IBB_OK)
        return w->err;
    size_t mark = w->len;
    enc e = { .w = w, .sv = sv, .bad = false };
    ibWriter_Begin(w);
    bool known = enc_body(&e, req);
    ibbStatus st = ibWriter_End(w);
    if (st != IBB_OK)
        return st;
    if (!known || e.bad) {
        w->len = mark;                 /* drop the partial frame, keep earlier ones */
        return IBB_ERR_INVALID_ARG;
    }
    return IBB_OK;
}

void ibRequest_Init(ibRequest *req, ibRequestId id)
{
    if (!req)
        return;
    memset(req, 0, sizeof *req);
    req->id = id;
    switch (id) {
    case IB_REQ_IDS:
        req->u.req_ids.num_ids = -1;     /* what the official samples pass */
        break;
    case IB_REQ_MARKET_DATA_TYPE:
        req->u.market_data_type.market_data_type = 1;
        break;
    case IB_REQ_MKT_DATA:
        req->u.mkt_data.contract.strike = IB_UNSET_DOUBLE;
        break;
    case IB_REQ_HISTORICAL_DATA:
        req->u.historical.contract.strike = IB_UNSET_DOUBLE;
        req->u.historical.format_date = 1;
        break;
    case IB_REQ_CONTRACT_DETAILS:
        req->u.contract_details.contract.strike = IB_UNSET_DOUBLE;
        break;
    case IB_REQ_PLACE_ORDER:
        req->u.place_order.contract.strike = IB_UNSET_DOUBLE;
        req->u.place_order.order.total_qty = IB_UNSET_DOUBLE;
        req->u.place_order.order.lmt_price = IB_UNSET_DOUBLE;
        req->u.place_order.order.aux_price = IB_UNSET_DOUBLE;
        req->u.place_order.order.transmit = true;
        break;
    case IB_REQ_ACCOUNT_SUMMARY:
        req->u.account_summary.group = "All";
        break;
    case IB_REQ_MKT_DEPTH:
        req->u.mkt_depth.contract.strike = IB_UNSET_DOUBLE;
        req->u.mkt_depth.num_rows = 10;
        break;
    case IB_REQ_TICK_BY_TICK:
        req->u.tick_by_tick.contract.strike = IB_UNSET_DOUBLE;
        req->u.tick_by_tick.tick_type = "Last";
        break;
    case IB_REQ_REAL_TIME_BARS:
        req->u.real_time_bars.contract.strike = IB_UNSET_DOUBLE;
        req->u.real_time_bars.bar_size = 5;
        req->u.real_time_bars.what_to_show = "TRADES";
        break;
    case IB_REQ_SCANNER_SUBSCRIPTION: {
        ibReqScannerSubscription *sc = &req->u.scanner;
        sc->number_of_rows = -1;
        sc->above_price = sc->below_price = IB_UNSET_DOUBLE;
        sc->market_cap_above = sc->market_cap_below = IB_UNSET_DOUBLE;
        sc->coupon_rate_above = sc->coupon_rate_below = IB_UNSET_DOUBLE;
        sc->above_volume = sc->average_option_volume_above = IB_UNSET_INT;
        break;
    }
    default:
        break;
    }
}

/* ---- symbol search and scanner (PROTOCOL.md §3.18, §3.19) ---------------------------------------- */

/* reqScannerSubscription: `22, [4 below 143], reqId, ScannerSubscription(21), [filters >= 143],
 * subscription options` (vectors reqScannerSubscription_* at 176 and 142). */
static void enc_scanner(enc *e, const ibReqScannerSubscription *s)
{
    if (is_empty(s->instrument) || is_empty(s->location_code) || is_empty(s->scan_code))
        e->bad = true;
    put_int(e, IB_REQ_SCANNER_SUBSCRIPTION);
    if (e->sv < SV_SCANNER_GENERIC_OPTS)
        put_int(e, 4);
    put_int(e, s->req_id);
    put_int_max(e, s->number_of_rows);
    put_str(e, s->instrument);
    put_str(e, s->location_code);
    put_str(e, s->scan_code);
    put_dbl_max(e, s->above_price);
    put_dbl_max(e, s->below_price);
    put_int_max(e, s->above_volume);
    put_dbl_max(e, s->market_cap_above);
    put_dbl_max(e, s->market_cap_below);
    put_str(e, s->moody_rating_above);
    put_str(e, s->moody_rating_below);
    put_str(e, s->sp_rating_above);
    put_str(e, s->sp_rating_below);
    put_str(e, s->maturity_date_above);
    put_str(e, s->maturity_date_below);
    put_dbl_max(e, s->coupon_rate_above);
    put_dbl_max(e, s->coupon_rate_below);
    put_bool(e, s->exclude_convertible);
    put_int_max(e, s->average_option_volume_above);
    put_str(e, s->scanner_setting_pairs);
    put_str(e, s->stock_type_filter);
    if (e->sv >= SV_SCANNER_GENERIC_OPTS)
        put_str(e, s->filter_options);
    else if (!is_empty(s->filter_options))
        e->bad = true;                  /* the official client refuses them below 143 */
    put_str(e, s->subscription_options);
}

static bool enc_discovery(enc *e, const ibRequest *r)
{
    switch (r->id) {
    case IB_REQ_MATCHING_SYMBOLS:
        if (is_empty(r->u.matching_symbols.pattern))
            e->bad = true;
        put_int(e, IB_REQ_MATCHING_SYMBOLS);    /* no version */
        put_int(e, r->u.matching_symbols.req_id);
        put_str(e, r->u.matching_symbols.pattern);
        return true;
    case IB_REQ_SCANNER_PARAMETERS:
        put_id_version(e, IB_REQ_SCANNER_PARAMETERS, 1);
        return true;
    case IB_REQ_SCANNER_SUBSCRIPTION:
        enc_scanner(e, &r->u.scanner);
        return true;
    case IB_REQ_CANCEL_SCANNER_SUBSCRIPTION:
        put_id_version(e, IB_REQ_CANCEL_SCANNER_SUBSCRIPTION, 1);
        put_int(e, r->u.cancel.req_id);
        return true;
    default:
        return false;
    }
}
