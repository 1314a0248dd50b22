/* ib_server_dec.c — the server side of the codec: client requests in (ib_decodeRequest), for ib-sim.
 *
 * Layouts follow PROTOCOL.md §3 and the official encoder, gated on the negotiated server version sv.
 * Every unset spelling of §1.4/§8 is accepted ("", 2147483647, 9223372036854775807,
 * 1.7976931348623157E308 / e+308, Infinity / Infinite). After decoding, every field must have
 * been consumed (IBB_ERR_TRAILING otherwise).
 *
 * Ownership: the `const char *` fields of the decoded request point into `payload`; they live as
 * long as the caller keeps the payload (for ib-sim: until the next ibFramer_Feed). */
#include <math.h>
#include <strings.h>
#include <string.h>

#include "ib_msgs.h"
#include "ib_versions.h"


#define MAX_LEGS 64
#define MAX_PARAMS 256
#define MAX_CONDITIONS 64

static void init_contract(ibContract *c)
{
    memset(c, 0, sizeof *c);
    c->strike = IB_UNSET_DOUBLE;
}

static void init_request(ibRequest *req, ibRequestId id)
{
    memset(req, 0, sizeof *req);
    req->id = id;
    switch (id) {
    case IB_REQ_MKT_DATA: init_contract(&req->u.mkt_data.contract); break;
    case IB_REQ_HISTORICAL_DATA:
        init_contract(&req->u.historical.contract);
        req->u.historical.format_date = 1;
        break;
    case IB_REQ_CONTRACT_DETAILS: init_contract(&req->u.contract_details.contract); break;
    case IB_REQ_MKT_DEPTH: init_contract(&req->u.mkt_depth.contract); break;
    case IB_REQ_TICK_BY_TICK: init_contract(&req->u.tick_by_tick.contract); break;
    case IB_REQ_REAL_TIME_BARS: init_contract(&req->u.real_time_bars.contract); break;
    case IB_REQ_PLACE_ORDER:
        init_contract(&req->u.place_order.contract);
        req->u.place_order.order.lmt_price = IB_UNSET_DOUBLE;
        req->u.place_order.order.aux_price = IB_UNSET_DOUBLE;
        req->u.place_order.order.total_qty = IB_UNSET_DOUBLE;
        req->u.place_order.order.transmit = true;
        break;
    default: break;
    }
}

/* conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, primaryExchange,
 * currency, localSymbol, tradingClass: the 12 contract fields every request uses. */
static void read_contract12(ibReader *r, ibContract *c)
{
    c->con_id = ibReader_Int(r);
    c->symbol = ibReader_Str(r);
    c->sec_type = ibReader_Str(r);
    c->last_trade_date = ibReader_Str(r);
    c->strike = ibReader_DoubleMax(r);
    c->right = ibReader_Str(r);
    c->multiplier = ibReader_Str(r);
    c->exchange = ibReader_Str(r);
    c->primary_exchange = ibReader_Str(r);
    c->currency = ibReader_Str(r);
    c->local_symbol = ibReader_Str(r);
    c->trading_class = ibReader_Str(r);
}

static bool is_bag(const ibContract *c) { return c->sec_type && strcasecmp(c->sec_type, "BAG") == 0; }

/* A boolean whose empty spelling means "default" (transmit defaults to true). */
static bool read_bool_default(ibReader *r, bool dflt)
{
    const char *s = ibReader_Str(r);
    if (!*s)
        return dflt;
    return strcmp(s, "0") != 0;
}

/* ---- placeOrder ------------------------------------------------------------------------------ */

static void skip_condition(ibReader *r)
{
    int64_t type = ibReader_Int(r);
    ibReader_Str(r); /* conjunction "a" / "o" */
    switch (type) {
    case 1: ibReader_Skip(r, 5); break; /* price: isMore, value, conId, exchange, triggerMethod */
    case 3: ibReader_Skip(r, 2); break; /* time: isMore, time */
    case 4: ibReader_Skip(r, 2); break; /* margin: isMore, percent */
    case 5: ibReader_Skip(r, 3); break; /* execution: secType, exchange, symbol */
    case 6: ibReader_Skip(r, 4); break; /* volume: isMore, value, conId, exchange */
    case 7: ibReader_Skip(r, 4); break; /* percent change: isMore, value, conId, exchange */
    default: ibReader_Fail(r, IBB_ERR_PROTOCOL); break;
    }
}

static void read_order_head(ibReader *r, int sv, ibPlaceOrder *p)
{
    ibContract *c = &p->contract;
    ibOrder *o = &p->order;
    if (sv < IB_SV_ORDER_CONTAINER)
        ibReader_Int(r); /* version */
    o->order_id = ibReader_Int(r);
    read_contract12(r, c);
    c->sec_id_type = ibReader_Str(r);
    c->sec_id = ibReader_Str(r);
    o->action = ibReader_Str(r);
    o->total_qty = ibReader_Decimal(r);
    o->order_type = ibReader_Str(r);
    o->lmt_price = ibReader_DoubleMax(r);
    o->aux_price = ibReader_DoubleMax(r);
    o->tif = ibReader_Str(r);
    o->oca_group = ibReader_Str(r);
    o->account = ibReader_Str(r);
    ibReader_Str(r);                  /* openClose */
    ibReader_IntMax(r);               /* origin */
    o->order_ref = ibReader_Str(r);
    o->transmit = read_bool_default(r, true);
    o->parent_id = ibReader_IntMax(r);
    if (ib_isUnsetInt(o->parent_id))
        o->parent_id = 0;
    ibReader_Bool(r);                 /* blockOrder */
    ibReader_Bool(r);                 /* sweepToFill */
    ibReader_IntMax(r);               /* displaySize */
    ibReader_IntMax(r);               /* triggerMethod */
    o->outside_rth = ibReader_Bool(r);
    o->hidden = ibReader_Bool(r);
    if (is_bag(c)) {
        int legs = ibReader_Count(r, MAX_LEGS, 8);
        ibReader_Skip(r, legs * 8);   /* conId, ratio, action, exchange, openClose, ssSlot, desLoc, exempt */
        int prices = ibReader_Count(r, MAX_LEGS, 1);
        ibReader_Skip(r, prices);
        int params = ibReader_Count(r, MAX_PARAMS, 2);
        ibReader_Skip(r, params * 2);
    }
    ibReader_Str(r);                  /* sharesAllocation (deprecated) */
    ibReader_DoubleMax(r);            /* discretionaryAmt */
    ibReader_Skip(r, 2);              /* goodAfterTime, goodTillDate */
    ibReader_Skip(r, 3);              /* faGroup, faMethod, faPercentage */
    if (sv < IB_SV_FA_PROFILE_DESUPPORT)
        ibReader_Str(r);              /* faProfile */
    if (sv >= SV_MODELS_SUPPORT)
        ibReader_Str(r);              /* modelCode */
    ibReader_IntMax(r);               /* shortSaleSlot */
    ibReader_Str(r);                  /* designatedLocation */
    ibReader_IntMax(r);               /* exemptCode */
    ibReader_IntMax(r);               /* ocaType */
    ibReader_Skip(r, 2);              /* rule80A, settlingFirm */
    ibReader_Bool(r);                 /* allOrNone */
    ibReader_IntMax(r);               /* minQty */
    ibReader_DoubleMax(r);            /* percentOffset */
    ibReader_Bool(r);                 /* eTradeOnly */
    ibReader_Bool(r);                 /* firmQuoteOnly */
    ibReader_DoubleMax(r);            /* nbboPriceCap */
    ibReader_IntMax(r);               /* auctionStrategy */
    for (int i = 0; i < 5; i++)       /* startingPrice, stockRefPrice, delta, stockRange lower/upper */
        ibReader_DoubleMax(r);
}

static void read_order_middle(ibReader *r, ibPlaceOrder *p)
{
    ibReader_Bool(r);                 /* overridePercentageConstraints */
    ibReader_DoubleMax(r);            /* volatility */
    ibReader_IntMax(r);               /* volatilityType */
    const char *dn_type = ibReader_Str(r);
    ibReader_DoubleMax(r);            /* deltaNeutralAuxPrice */
    if (*dn_type)                     /* conId, settlingFirm, clearingAccount, clearingIntent,
                                         openClose, shortSale, shortSaleSlot, designatedLocation */
        ibReader_Skip(r, 8);
    ibReader_Bool(r);                 /* continuousUpdate */
    ibReader_IntMax(r);               /* referencePriceType */
    ibReader_DoubleMax(r);            /* trailStopPrice */
    ibReader_DoubleMax(r);            /* trailingPercent */
    ibReader_IntMax(r);               /* scaleInitLevelSize */
    ibReader_IntMax(r);               /* scaleSubsLevelSize */
    double spi = ibReader_DoubleMax(r);
    if (spi > 0 && !ib_isUnsetDouble(spi) && !isinf(spi))
        ibReader_Skip(r, 7);          /* scale adjust value .. random percent */
    ibReader_Skip(r, 3);              /* scaleTable, activeStartTime, activeStopTime */
    const char *hedge_type = ibReader_Str(r);
    if (*hedge_type)
        ibReader_Str(r);              /* hedgeParam */
    ibReader_Bool(r);                 /* optOutSmartRouting */
    ibReader_Skip(r, 2);              /* clearingAccount, clearingIntent */
    ibReader_Bool(r);                 /* notHeld */
    if (ibReader_Bool(r))             /* deltaNeutralContract: conId, delta, price */
        ibReader_Skip(r, 3);
    const char *algo = ibReader_Str(r);
    if (*algo) {
        int n = ibReader_Count(r, MAX_PARAMS, 2);
        ibReader_Skip(r, n * 2);
    }
    ibReader_Str(r);                  /* algoId */
    p->order.what_if = ibReader_Bool(r);
    ibReader_Str(r);                  /* orderMiscOptions */
    ibReader_Bool(r);                 /* solicited */
    ibReader_Bool(r);                 /* randomizeSize */
    ibReader_Bool(r);                 /* randomizePrice */
}

static bool type_is(const char *t, const char *a, const char *b)
{
    return t && (strcasecmp(t, a) == 0 || (b && strcasecmp(t, b) == 0));
}

static void read_order_tail(ibReader *r, int sv, ibPlaceOrder *p)
{
    const char *ot = p->order.order_type;
    if (sv >= SV_PEGGED_TO_BENCHMARK) {
        if (type_is(ot, "PEG BENCH", "PEGBENCH"))
            ibReader_Skip(r, 5);      /* referenceContractId .. referenceExchangeId */
        int n = ibReader_Count(r, MAX_CONDITIONS, 3);
        for (int i = 0; i < n && ibReader_Status(r) == IBB_OK; i++)
            skip_condition(r);
        if (n > 0)
            ibReader_Skip(r, 2);      /* conditionsIgnoreRth, conditionsCancelOrder */
        ibReader_Str(r);              /* adjustedOrderType */
        for (int i = 0; i < 5; i++)   /* triggerPrice .. adjustedTrailingAmount */
            ibReader_DoubleMax(r);
        ibReader_IntMax(r);           /* adjustableTrailingUnit */
    }
    if (sv >= SV_EXT_OPERATOR)
        ibReader_Str(r);
    if (sv >= SV_SOFT_DOLLAR_TIER)
        ibReader_Skip(r, 2);
    if (sv >= SV_CASH_QTY)
        ibReader_DoubleMax(r);
    if (sv >= SV_DECISION_MAKER)
        ibReader_Skip(r, 2);
    if (sv >= SV_MIFID_EXECUTION)
        ibReader_Skip(r, 2);
    if (sv >= SV_AUTO_PRICE_FOR_HEDGE)
        ibReader_Bool(r);
    if (sv >= IB_SV_ORDER_CONTAINER)
        ibReader_Bool(r);             /* isOmsContainer */
    if (sv >= SV_D_PEG_ORDERS)
        ibReader_Bool(r);
    if (sv >= SV_PRICE_MGMT_ALGO)
        ibReader_Str(r);              /* usePriceMgmtAlgo: "", 0, 1 */
    if (sv >= IB_SV_DURATION)
        ibReader_IntMax(r);
    if (sv >= IB_SV_POST_TO_ATS)
        ibReader_IntMax(r);
    if (sv >= IB_SV_AUTO_CANCEL_PARENT)
        ibReader_Bool(r);
    if (sv >= IB_SV_ADVANCED_ORDER_REJECT)
        ibReader_Str(r);              /* advancedErrorOverride */
    if (sv >= IB_SV_MANUAL_ORDER_TIME)
        ibReader_Str(r);              /* manualOrderTime */
    if (sv >= IB_SV_PEGBEST_PEGMID_OFFSETS) {
        bool mid_offsets = false;
        const char *ex = p->contract.exchange;
        if (ex && strcmp(ex, "IBKRATS") == 0)
            ibReader_IntMax(r);       /* minTradeQty */
        if (type_is(ot, "PEG BEST", "PEGBEST")) {
            ibReader_IntMax(r);       /* minCompeteSize */
            /* competeAgainstBestOffset: +inf ("up to mid") brings the two mid offsets */
            const char *off = ibReader_Str(r);
            mid_offsets = !strcmp(off, "Infinity") || !strcmp(off, "Infinite") || !strcmp(off, "inf");
        } else if (type_is(ot, "PEG MID", "PEGMID")) {
            mid_offsets = true;
        }
        if (mid_offsets)
            ibReader_Skip(r, 2);      /* midOffsetAtWhole, midOffsetAtHalf */
    }
    if (sv >= SV_CUSTOMER_ACCOUNT)
        ibReader_Str(r);
    if (sv >= SV_PROFESSIONAL_CUSTOMER)
        ibReader_Bool(r);
    if (sv >= SV_RFQ_FIELDS && sv < SV_UNDO_RFQ_FIELDS)
        ibReader_Skip(r, 2);
    if (sv >= SV_INCLUDE_OVERNIGHT)
        ibReader_Bool(r);
    if (sv >= SV_CME_TAGGING_FIELDS)
        ibReader_IntMax(r);           /* manualOrderIndicator */
    if (sv >= SV_IMBALANCE_ONLY)
        ibReader_Bool(r);
}

static void read_place_order(ibReader *r, int sv, ibPlaceOrder *p)
{
    read_order_head(r, sv, p);
    read_order_middle(r, p);
    read_order_tail(r, sv, p);
}

/* ---- the other requests ---------------------------------------------------------------------- */

static void read_mkt_data(ibReader *r, int sv, ibReqMktData *m)
{
    ibReader_Int(r); /* version */
    m->req_id = ibReader_Int(r);
    read_contract12(r, &m->contract);
    if (is_bag(&m->contract)) {
        int legs = ibReader_Count(r, MAX_LEGS, 4);
        ibReader_Skip(r, legs * 4);
    }
    if (ibReader_Bool(r))             /* deltaNeutralContract */
        ibReader_Skip(r, 3);
    m->generic_ticks = ibReader_Str(r);
    m->snapshot = ibReader_Bool(r);
    if (sv >= SV_REQ_SMART_COMPONENTS)
        m->regulatory_snapshot = ibReader_Bool(r);
    ibReader_Str(r);                  /* mktDataOptions */
}

static void read_historical(ibReader *r, int sv, ibReqHistoricalData *h)
{
    if (sv < IB_SV_SYNT_REALTIME_BARS)
        ibReader_Int(r);              /* version */
    h->req_id = ibReader_Int(r);
    read_contract12(r, &h->contract);
    h->contract.include_expired = ibReader_Bool(r);
    h->end_date_time = ibReader_Str(r);
    h->bar_size = ibReader_Str(r);
    h->duration = ibReader_Str(r);
    h->use_rth = ibReader_Bool(r);
    h->what_to_show = ibReader_Str(r);
    h->format_date = ibReader_Int(r);
    if (is_bag(&h->contract)) {
        int legs = ibReader_Count(r, MAX_LEGS, 4);
        ibReader_Skip(r, legs * 4);
    }
    if (sv >= IB_SV_SYNT_REALTIME_BARS)
        h->keep_up_to_date = ibReader_Bool(r);
    ibReader_Str(r);                  /* chartOptions */
}

/* ---- wave-2 market data (PROTOCOL.md §3.12-3.15) ----------------------------------------------- */
static void read_mkt_depth(ibReader *r, int sv, ibReqMktDepth *d)
{
    ibReader_Int(r);                  /* version 5 */
    d->req_id = ibReader_Int(r);
    ibContract *c = &d->contract;
    c->con_id = ibReader_Int(r);
    c->symbol = ibReader_Str(r);
    c->sec_type = ibReader_Str(r);
    c->last_trade_date = ibReader_Str(r);
    c->strike = ibReader_DoubleMax(r);
    c->right = ibReader_Str(r);
    c->multiplier = ibReader_Str(r);
    c->exchange = ibReader_Str(r);
    if (sv >= IB_SV_MKT_DEPTH_PRIM_EXCHANGE)
        c->primary_exchange = ibReader_Str(r);
    c->currency = ibReader_Str(r);
    c->local_symbol = ibReader_Str(r);
    c->trading_class = ibReader_Str(r);
    d->num_rows = ibReader_Int(r);
    if (sv >= IB_SV_SMART_DEPTH)
        d->is_smart_depth = ibReader_Bool(r);
    ibReader_Str(r);                  /* mktDepthOptions */
}

static void read_tick_by_tick(ibReader *r, int sv, ibReqTickByTick *t)
{
    t->req_id = ibReader_Int(r);      /* no version */
    read_contract12(r, &t->contract);
    t->tick_type = ibReader_Str(r);
    if (sv >= IB_SV_TICK_BY_TICK_IGNORE_SIZE) {
        t->number_of_ticks = ibReader_Int(r);
        t->ignore_size = ibReader_Bool(r);
    }
}

static void read_real_time_bars(ibReader *r, ibReqRealTimeBars *b)
{
    ibReader_Int(r);                  /* version 3 */
    b->req_id = ibReader_Int(r);
    read_contract12(r, &b->contract);
    b->bar_size = ibReader_Int(r);
    b->what_to_show = ibReader_Str(r);
    b->use_rth = ibReader_Bool(r);
    ibReader_Str(r);                  /* realTimeBarsOptions */
}

static void read_sec_def_opt_params(ibReader *r, ibReqSecDefOptParams *o)
{
    o->req_id = ibReader_Int(r);      /* no version */
    o->underlying_symbol = ibReader_Str(r);
    o->fut_fop_exchange = ibReader_Str(r);
    o->underlying_sec_type = ibReader_Str(r);
    o->underlying_con_id = ibReader_Int(r);
}

static void read_contract_details(ibReader *r, int sv, ibReqContractDetails *d)
{
    ibReader_Int(r); /* version */
    d->req_id = ibReader_Int(r);
    read_contract12(r, &d->contract);
    d->contract.include_expired = ibReader_Bool(r);
    d->contract.sec_id_type = ibReader_Str(r);
    d->contract.sec_id = ibReader_Str(r);
    if (sv >= IB_SV_BOND_ISSUERID)
        d->contract.issuer_id = ibReader_Str(r);
}

static void read_executions(ibReader *r, int sv, ibReqExecutions *e)
{
    ibReader_Int(r); /* version */
    e->req_id = ibReader_Int(r);
    e->client_id = ibReader_Int(r);
    e->account = ibReader_Str(r);
    e->time = ibReader_Str(r);
    e->symbol = ibReader_Str(r);
    e->sec_type = ibReader_Str(r);
    e->exchange = ibReader_Str(r);
    e->side = ibReader_Str(r);
    if (sv >= SV_PARAMETRIZED_DAYS_OF_EXECUTIONS) {
        ibReader_IntMax(r);           /* lastNDays */
        int n = ibReader_Count(r, 1000, 1);
        ibReader_Skip(r, n);
    }
}

static void read_cancel_order(ibReader *r, int sv, ibCancelOrder *c)
{
    if (sv < SV_CME_TAGGING_FIELDS)
        ibReader_Int(r);              /* version */
    c->order_id = ibReader_Int(r);
    if (sv >= IB_SV_MANUAL_ORDER_TIME)
        c->manual_cancel_time = ibReader_Str(r);
    if (sv >= SV_RFQ_FIELDS && sv < SV_UNDO_RFQ_FIELDS)
        ibReader_Skip(r, 3);
    if (sv >= SV_CME_TAGGING_FIELDS) {
        ibReader_Str(r);              /* extOperator */
        ibReader_IntMax(r);           /* manualOrderIndicator */
    }
}

static void read_discovery(ibReader *r, int sv, ibRequest *req);
/* ---- P&L and multi-account subscriptions (§3.10, §3.17) ---------------------------------------- */
static bool read_pnl_multi(ibReader *r, ibRequest *req)
{
    switch (req->id) {
    case IB_REQ_PNL:
    case IB_REQ_PNL_SINGLE:                   /* no version */
        req->u.pnl.req_id = ibReader_Int(r);
        req->u.pnl.account = ibReader_Str(r);
        req->u.pnl.model_code = ibReader_Str(r);
        if (req->id == IB_REQ_PNL_SINGLE)
            req->u.pnl.con_id = ibReader_Int(r);
        return true;
    case IB_REQ_CANCEL_PNL:
    case IB_REQ_CANCEL_PNL_SINGLE:
        req->u.cancel.req_id = ibReader_Int(r);
        return true;
    case IB_REQ_POSITIONS_MULTI:
    case IB_REQ_ACCOUNT_UPDATES_MULTI:
        ibReader_Int(r);                      /* version 1 */
        req->u.multi.req_id = ibReader_Int(r);
        req->u.multi.account = ibReader_Str(r);
        req->u.multi.model_code = ibReader_Str(r);
        if (req->id == IB_REQ_ACCOUNT_UPDATES_MULTI)
            req->u.multi.ledger_and_nlv = ibReader_Bool(r);
        return true;
    case IB_REQ_CANCEL_POSITIONS_MULTI:
    case IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI:
        ibReader_Int(r);                      /* version 1 */
        req->u.cancel.req_id = ibReader_Int(r);
        return true;
    default:
        return false;
    }
}

static void read_body(ibReader *r, int sv, ibRequest *req)
{
    if (read_pnl_multi(r, req))
        return;
    switch (req->id) {
    case IB_REQ_START_API:
        ibReader_Int(r);              /* version */
        req->u.start_api.client_id = ibReader_Int(r);
        req->u.start_api.optional_capabilities = ibReader_Remaining(r) > 0 ? ibReader_Str(r) : "";
        break;
    case IB_REQ_IDS:
        ibReader_Int(r);
        req->u.req_ids.num_ids = ibReader_Int(r);
        break;
    case IB_REQ_MARKET_DATA_TYPE:
        ibReader_Int(r);
        req->u.market_data_type.market_data_type = ibReader_Int(r);
        break;
    case IB_REQ_MKT_DATA: read_mkt_data(r, sv, &req->u.mkt_data); break;
    case IB_REQ_CANCEL_MKT_DATA:
    case IB_REQ_CANCEL_HISTORICAL_DATA:
    case IB_REQ_CANCEL_ACCOUNT_SUMMARY:
        ibReader_Int(r);
        req->u.cancel.req_id = ibReader_Int(r);
        break;
    case IB_REQ_HISTORICAL_DATA: read_historical(r, sv, &req->u.historical); break;
    case IB_REQ_CONTRACT_DETAILS: read_contract_details(r, sv, &req->u.contract_details); break;
    case IB_REQ_PLACE_ORDER: read_place_order(r, sv, &req->u.place_order); break;
    case IB_REQ_CANCEL_ORDER: read_cancel_order(r, sv, &req->u.cancel_order); break;
    case IB_REQ_EXECUTIONS: read_executions(r, sv, &req->u.executions); break;
    case IB_REQ_ACCOUNT_SUMMARY:
        ibReader_Int(r);
        req->u.account_summary.req_id = ibReader_Int(r);
        req->u.account_summary.group = ibReader_Str(r);
        req->u.account_summary.tags = ibReader_Str(r);
        break;
    case IB_REQ_ACCOUNT_UPDATES:
        ibReader_Int(r);
        req->u.account_updates.subscribe = ibReader_Bool(r);
        req->u.account_updates.account = ibReader_Remaining(r) > 0 ? ibReader_Str(r) : "";
        break;
    case IB_REQ_AUTO_OPEN_ORDERS:
        ibReader_Int(r);
        req->u.auto_bind = ibReader_Bool(r);
        break;
    case IB_REQ_COMPLETED_ORDERS:
        req->u.api_only = ibReader_Bool(r);   /* no version field */
        break;
    case IB_REQ_MKT_DEPTH: read_mkt_depth(r, sv, &req->u.mkt_depth); break;
    case IB_REQ_CANCEL_MKT_DEPTH:
        ibReader_Int(r);                      /* version 1 */
        req->u.cancel_mkt_depth.req_id = ibReader_Int(r);
        if (sv >= IB_SV_SMART_DEPTH)
            req->u.cancel_mkt_depth.is_smart_depth = ibReader_Bool(r);
        break;
    case IB_REQ_TICK_BY_TICK: read_tick_by_tick(r, sv, &req->u.tick_by_tick); break;
    case IB_REQ_CANCEL_TICK_BY_TICK:
        req->u.cancel.req_id = ibReader_Int(r); /* no version */
        break;
    case IB_REQ_REAL_TIME_BARS: read_real_time_bars(r, &req->u.real_time_bars); break;
    case IB_REQ_CANCEL_REAL_TIME_BARS:
        ibReader_Int(r);                      /* version 1 */
        req->u.cancel.req_id = ibReader_Int(r);
        break;
    case IB_REQ_SEC_DEF_OPT_PARAMS: read_sec_def_opt_params(r, &req->u.sec_def_opt_params); break;
    case IB_REQ_GLOBAL_CANCEL:
        if (sv < SV_CME_TAGGING_FIELDS) {
            ibReader_Int(r);
        } else {
            ibReader_Str(r);
            ibReader_IntMax(r);
        }
        break;
    case IB_REQ_CURRENT_TIME:
    case IB_REQ_OPEN_ORDERS:
    case IB_REQ_ALL_OPEN_ORDERS:
    case IB_REQ_MANAGED_ACCTS:
    case IB_REQ_POSITIONS:
    case IB_REQ_CANCEL_POSITIONS:
        ibReader_Int(r);              /* version */
        break;
    default:
        read_discovery(r, sv, req);
        break;
    }
}

static bool known_request(int64_t id)
{
    switch (id) {
    case IB_REQ_MKT_DATA: case IB_REQ_CANCEL_MKT_DATA: case IB_REQ_PLACE_ORDER: case IB_REQ_CANCEL_ORDER:
    case IB_REQ_OPEN_ORDERS: case IB_REQ_ACCOUNT_UPDATES: case IB_REQ_EXECUTIONS: case IB_REQ_IDS:
    case IB_REQ_CONTRACT_DETAILS: case IB_REQ_AUTO_OPEN_ORDERS: case IB_REQ_ALL_OPEN_ORDERS:
    case IB_REQ_MANAGED_ACCTS: case IB_REQ_HISTORICAL_DATA: case IB_REQ_CANCEL_HISTORICAL_DATA:
    case IB_REQ_CURRENT_TIME: case IB_REQ_GLOBAL_CANCEL: case IB_REQ_MARKET_DATA_TYPE:
    case IB_REQ_POSITIONS: case IB_REQ_ACCOUNT_SUMMARY: case IB_REQ_CANCEL_ACCOUNT_SUMMARY:
    case IB_REQ_CANCEL_POSITIONS: case IB_REQ_START_API: case IB_REQ_COMPLETED_ORDERS:
    case IB_REQ_MKT_DEPTH: case IB_REQ_CANCEL_MKT_DEPTH: case IB_REQ_TICK_BY_TICK:
    case IB_REQ_CANCEL_TICK_BY_TICK: case IB_REQ_REAL_TIME_BARS: case IB_REQ_CANCEL_REAL_TIME_BARS:
    case IB_REQ_SEC_DEF_OPT_PARAMS: case IB_REQ_MATCHING_SYMBOLS: case IB_REQ_SCANNER_PARAMETERS:
    case IB_REQ_SCANNER_SUBSCRIPTION: case IB_REQ_CANCEL_SCANNER_SUBSCRIPTION:
    case IB_REQ_PNL: case IB_REQ_CANCEL_PNL: case IB_REQ_PNL_SINGLE: case IB_REQ_CANCEL_PNL_SINGLE:
    case IB_REQ_POSITIONS_MULTI: case IB_REQ_CANCEL_POSITIONS_MULTI:
    case IB_REQ_ACCOUNT_UPDATES_MULTI: case IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI:
        return true;
    default:
        return false;
    }
}

ibbStatus ib_decodeRequest(int sv, const char *payload, size_t len, ibRequest *req)
{
    if (!payload || !req)
        return IBB_ERR_INVALID_ARG;
    if (sv < IB_SV_MIN_CLIENT)
        return IBB_ERR_UNSUPPORTED_VERSION;
    memset(req, 0, sizeof *req);
    ibReader r;
    ibReader_Init(&r, payload, len);
    int64_t id = ibReader_Int(&r);
    if (ibReader_Status(&r) != IBB_OK)
        return ibReader_Status(&r);
    if (!known_request(id)) {
        req->id = (ibRequestId)(id >= 0 && id <= 100000 ? id : 0);
        return IBB_ERR_UNKNOWN_MSG;
    }
    init_request(req, (ibRequestId)id);
    read_body(&r, sv, req);
    if (ibReader_Status(&r) != IBB_OK)
        return ibReader_Status(&r);
    if (!ibReader_AtEnd(&r))
        return IBB_ERR_TRAILING;
    return IBB_OK;
}

/* ---- symbol search and scanner (PROTOCOL.md §3.18, §3.19) ---------------------------------------- */

static void read_scanner(ibReader *r, int sv, ibReqScannerSubscription *s)
{
    if (sv < SV_SCANNER_GENERIC_OPTS)
        ibReader_Int(r);              /* version 4 */
    s->req_id = ibReader_Int(r);
    s->number_of_rows = ibReader_IntMax(r);
    s->instrument = ibReader_Str(r);
    s->location_code = ibReader_Str(r);
    s->scan_code = ibReader_Str(r);
    s->above_price = ibReader_DoubleMax(r);
    s->below_price = ibReader_DoubleMax(r);
    s->above_volume = ibReader_IntMax(r);
    s->market_cap_above = ibReader_DoubleMax(r);
    s->market_cap_below = ibReader_DoubleMax(r);
    s->moody_rating_above = ibReader_Str(r);
    s->moody_rating_below = ibReader_Str(r);
    s->sp_rating_above = ibReader_Str(r);
    s->sp_rating_below = ibReader_Str(r);
    s->maturity_date_above = ibReader_Str(r);
    s->maturity_date_below = ibReader_Str(r);
    s->coupon_rate_above = ibReader_DoubleMax(r);
    s->coupon_rate_below = ibReader_DoubleMax(r);
    s->exclude_convertible = ibReader_Bool(r);
    s->average_option_volume_above = ibReader_IntMax(r);
    s->scanner_setting_pairs = ibReader_Str(r);
    s->stock_type_filter = ibReader_Str(r);
    s->filter_options = sv >= SV_SCANNER_GENERIC_OPTS ? ibReader_Str(r) : "";
    s->subscription_options = ibReader_Str(r);
}

static void read_discovery(ibReader *r, int sv, ibRequest *req)
{
    switch (req->id) {
    case IB_REQ_MATCHING_SYMBOLS:
        req->u.matching_symbols.req_id = ibReader_Int(r);   /* no version */
        req->u.matching_symbols.pattern = ibReader_Str(r);
        break;
    case IB_REQ_SCANNER_PARAMETERS:
        ibReader_Int(r);              /* version 1 */
        break;
    case IB_REQ_SCANNER_SUBSCRIPTION: read_scanner(r, sv, &req->u.scanner); break;
    case IB_REQ_CANCEL_SCANNER_SUBSCRIPTION:
        ibReader_Int(r);              /* version 1 */
        req->u.cancel.req_id = ibReader_Int(r);
        break;
    default:
        break;
    }
}
