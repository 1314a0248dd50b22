/* ib_client_dec.c — server -> client replies (PROTOCOL.md §2.1, §3), text protocol 100 <= sv <= 200.
 *
 * Each decoder reads its message strictly in sequence, exactly as the official Python decoder
 * 10.41.1 does at the given sv (gates written `if (sv >= X)`), then demands that no field is left
 * (IBB_ERR_TRAILING). The reader's sticky error means a decoder reads everything and checks once.
 * Decoded strings point into the caller's payload and live as long as it does. Repeated blocks
 * are bounded with ibReader_Count, so an absurd count is an error, never an allocation. */
#include <string.h>

#include "ib_msgs.h"
#include "ib_versions.h"


/* Bounds for repeated blocks (far above anything TWS sends; ibReader_Count also bounds them by
 * the fields actually present). */
#define MAX_BARS 1000000
#define MAX_ITEMS 1000

/* ---- helpers ---------------------------------------------------------------------------------- */
#define R_STR(r) ibReader_Str(r)
#define R_INT(r) ibReader_Int(r)
#define R_BOOL(r) ibReader_Bool(r)
#define R_DBL(r) ibReader_Double(r)
#define R_DBLMAX(r) ibReader_DoubleMax(r)
#define R_DEC(r) ibReader_Decimal(r)

/* Reads the legacy version field and returns it (0 on error). */
static int64_t version(ibReader *r) { return ibReader_Int(r); }

static ibbStatus finish(ibReader *r)
{
    if (r->err != IBB_OK)
        return r->err;
    if (!ibReader_AtEnd(r)) {
        ibReader_Fail(r, IBB_ERR_TRAILING);
        return IBB_ERR_TRAILING;
    }
    return IBB_OK;
}

static void contract_init(ibContract *c)
{
    memset(c, 0, sizeof *c);
    c->strike = IB_UNSET_DOUBLE;
}

/* ---- handshake -------------------------------------------------------------------------------- */
ibbStatus ib_decodeServerVersion(const char *payload, size_t len, ibServerVersion *out)
{
    if (!payload || !out)
        return IBB_ERR_INVALID_ARG;
    ibReader r;
    ibReader_Init(&r, payload, len);
    if (r.err != IBB_OK)
        return IBB_ERR_PROTOCOL;
    if (ibReader_Remaining(&r) != 2 || payload[0] == '\0')
        return IBB_ERR_PROTOCOL;
    out->server_version = R_INT(&r);
    out->connection_time = R_STR(&r);
    if (r.err != IBB_OK)
        return IBB_ERR_PROTOCOL;
    return IBB_OK;
}

/* ---- market data ------------------------------------------------------------------------------ */
static void dec_tick_price(ibReader *r, ibTickPrice *t)
{
    version(r);
    t->req_id = R_INT(r);
    t->tick_type = R_INT(r);
    t->price = R_DBL(r);
    t->size = R_DEC(r);
    t->attr_mask = R_INT(r);
}

static void dec_tick_size(ibReader *r, ibTickSize *t)
{
    version(r);
    t->req_id = R_INT(r);
    t->tick_type = R_INT(r);
    t->size = R_DEC(r);
}

static void dec_tick_string(ibReader *r, ibTickString *t)
{
    version(r);
    t->req_id = R_INT(r);
    t->tick_type = R_INT(r);
    t->value = R_STR(r);
}

static void dec_tick_generic(ibReader *r, ibTickGeneric *t)
{
    version(r);
    t->req_id = R_INT(r);
    t->tick_type = R_INT(r);
    t->value = R_DBL(r);
}

static void dec_tick_req_params(ibReader *r, ibTickReqParams *t)
{
    t->req_id = R_INT(r);
    t->min_tick = R_DBL(r);
    t->bbo_exchange = R_STR(r);
    t->snapshot_permissions = R_INT(r);
}

/* ---- wave-2 market data (PROTOCOL.md §3.12-3.15) ----------------------------------------------- */
/* in 12 (8 fields) and in 13 (9, plus isSmartDepth from 146): §3.12. */
static void dec_depth(ibReader *r, int sv, bool l2, ibMktDepth *d)
{
    version(r);
    d->req_id = R_INT(r);
    d->position = R_INT(r);
    d->market_maker = l2 ? R_STR(r) : "";
    d->operation = R_INT(r);
    d->side = R_INT(r);
    d->price = R_DBL(r);
    d->size = R_DEC(r);
    d->is_smart_depth = false;
    if (l2 && sv >= IB_SV_SMART_DEPTH)
        d->is_smart_depth = R_BOOL(r);
    if (d->operation < IB_DEPTH_INSERT || d->operation > IB_DEPTH_DELETE ||
        (d->side != IB_DEPTH_ASK && d->side != IB_DEPTH_BID) || d->position < 0)
        ibReader_Fail(r, IBB_ERR_PROTOCOL);
}

/* in 99, no version; the body follows tickType (§3.13). */
static void dec_tick_by_tick(ibReader *r, ibTickByTick *t)
{
    memset(t, 0, sizeof *t);
    t->exchange = t->special_conditions = "";
    t->req_id = R_INT(r);
    t->tick_type = R_INT(r);
    t->time = R_INT(r);
    switch (t->tick_type) {
    case IB_TBT_NONE: break;
    case IB_TBT_LAST:
    case IB_TBT_ALL_LAST:
        t->price = R_DBL(r);
        t->size = R_DEC(r);
        t->attr_mask = R_INT(r);
        t->exchange = R_STR(r);
        t->special_conditions = R_STR(r);
        break;
    case IB_TBT_BID_ASK:
        t->bid_price = R_DBL(r);
        t->ask_price = R_DBL(r);
        t->bid_size = R_DEC(r);
        t->ask_size = R_DEC(r);
        t->attr_mask = R_INT(r);
        break;
    case IB_TBT_MIDPOINT: t->mid_point = R_DBL(r); break;
    default: ibReader_Fail(r, IBB_ERR_PROTOCOL); break;
    }
}

/* in 50, version 3, 11 fields (§3.14). */
static void dec_real_time_bar(ibReader *r, ibRealTimeBar *b)
{
    version(r);
    b->req_id = R_INT(r);
    b->time = R_INT(r);
    b->open = R_DBL(r);
    b->high = R_DBL(r);
    b->low = R_DBL(r);
    b->close = R_DBL(r);
    b->volume = R_DEC(r);
    b->wap = R_DEC(r);
    b->count = R_INT(r);
}

/* A reader over `count` fields starting at `start` (an empty one for 0). */
static void sub_reader(ibReader *out, const char *start, const char *end, int count)
{
    if (count == 0 || start >= end) {
        out->p = out->end = end;
        out->index = 0;
        out->err = IBB_OK;
        out->err_index = -1;
    } else {
        ibReader_Init(out, start, (size_t)(end - start));
    }
}

/* in 75, no version: exchange, underlyingConId, tradingClass, multiplier, expirations, strikes. */
static void dec_sec_def_opt_params(ibReader *r, ibSecDefOptParams *p)
{
    memset(p, 0, sizeof *p);
    p->req_id = R_INT(r);
    p->exchange = R_STR(r);
    p->underlying_con_id = R_INT(r);
    p->trading_class = R_STR(r);
    p->multiplier = R_STR(r);
    p->expiration_count = ibReader_Count(r, MAX_BARS, 1);
    const char *exp_start = r->p;
    for (int i = 0; i < p->expiration_count && r->err == IBB_OK; i++)
        R_STR(r);
    const char *exp_end = r->p;
    p->strike_count = ibReader_Count(r, MAX_BARS, 1);
    const char *strike_start = r->p;
    for (int i = 0; i < p->strike_count && r->err == IBB_OK; i++)
        R_DBL(r);
    if (r->err != IBB_OK)
        return;
    sub_reader(&p->exp_reader, exp_start, exp_end, p->expiration_count);
    sub_reader(&p->strike_reader, strike_start, r->p, p->strike_count);
}

bool ibSecDefOptParams_NextExpiration(ibSecDefOptParams *p, const char **expiration)
{
    if (!p || !expiration || p->exp_reader.err != IBB_OK || p->exp_reader.index >= p->expiration_count ||
        ibReader_AtEnd(&p->exp_reader))
        return false;
    *expiration = ibReader_Str(&p->exp_reader);
    return p->exp_reader.err == IBB_OK;
}

bool ibSecDefOptParams_NextStrike(ibSecDefOptParams *p, double *strike)
{
    if (!p || !strike || p->strike_reader.err != IBB_OK || p->strike_reader.index >= p->strike_count ||
        ibReader_AtEnd(&p->strike_reader))
        return false;
    *strike = ibReader_Double(&p->strike_reader);
    return p->strike_reader.err == IBB_OK;
}

/* IB's "not computed" value of one greek -> IB_UNSET_DOUBLE (OFF-PY processTickOptionComputationMsg). */
static double greek(double v, double sentinel) { return v == sentinel ? IB_UNSET_DOUBLE : v; }

/* in 21: no version and a tickAttrib from 156; below, version 6 (or a short form) (§3.15). */
static void dec_option_computation(ibReader *r, int sv, ibTickOptionComputation *o)
{
    int64_t ver = sv;
    if (sv < IB_SV_PRICE_BASED_VOLATILITY)
        ver = version(r);
    o->req_id = R_INT(r);
    o->tick_type = R_INT(r);
    o->tick_attrib = sv >= IB_SV_PRICE_BASED_VOLATILITY ? R_INT(r) : 0;
    double iv = R_DBL(r);
    o->implied_vol = iv < 0 ? IB_UNSET_DOUBLE : iv;
    o->delta = greek(R_DBL(r), -2);
    o->opt_price = o->pv_dividend = IB_UNSET_DOUBLE;
    o->gamma = o->vega = o->theta = o->und_price = IB_UNSET_DOUBLE;
    if (ver >= 6 || o->tick_type == IB_TICK_MODEL_OPTION || o->tick_type == IB_TICK_DELAYED_MODEL_OPTION) {
        o->opt_price = greek(R_DBL(r), -1);
        o->pv_dividend = greek(R_DBL(r), -1);
    }
    if (ver >= 6) {
        o->gamma = greek(R_DBL(r), -2);
        o->vega = greek(R_DBL(r), -2);
        o->theta = greek(R_DBL(r), -2);
        o->und_price = greek(R_DBL(r), -1);
    }
}

/* ---- historical ------------------------------------------------------------------------------- */
static void read_bar(ibReader *r, ibBar *b)
{
    b->date = R_STR(r);
    b->open = R_DBL(r);
    b->high = R_DBL(r);
    b->low = R_DBL(r);
    b->close = R_DBL(r);
    b->volume = R_DEC(r);
    b->wap = R_DEC(r);
    b->count = R_INT(r);
}

static ibbStatus dec_historical(ibReader *r, int sv, ibHistoricalData *h)
{
    /* sv < 124 carries a version field and a per-bar hasGaps field; ib-bridge never negotiates
     * that low, and ibHistoricalData_NextBar reads the 8-field bar of 124 <= sv. */
    if (sv < IB_SV_SYNT_REALTIME_BARS)
        return IBB_ERR_UNSUPPORTED_VERSION;
    h->req_id = R_INT(r);
    h->start = "";
    h->end = "";
    if (sv < SV_HISTORICAL_DATA_END) {
        h->start = R_STR(r);
        h->end = R_STR(r);
    }
    h->bar_count = ibReader_Count(r, MAX_BARS, 8);
    if (r->err != IBB_OK)
        return r->err;
    /* The bars are the rest of the payload: validate them all now, hand out a reader over them. */
    const char *bars_start = r->p;
    ibBar bar;
    for (int i = 0; i < h->bar_count && r->err == IBB_OK; i++)
        read_bar(r, &bar);
    ibbStatus st = finish(r);
    if (st != IBB_OK)
        return st;
    if (h->bar_count == 0) {
        /* An empty reader: "\0" would count as a field, so point it at nothing. */
        h->bars_reader.p = h->bars_reader.end = r->end;
        h->bars_reader.index = 0;
        h->bars_reader.err = IBB_OK;
        h->bars_reader.err_index = -1;
    } else {
        ibReader_Init(&h->bars_reader, bars_start, (size_t)(r->end - bars_start));
    }
    return IBB_OK;
}

bool ibHistoricalData_NextBar(ibHistoricalData *h, ibBar *bar)
{
    if (!h || !bar || h->bars_reader.err != IBB_OK || ibReader_AtEnd(&h->bars_reader))
        return false;
    if (h->bars_reader.index >= h->bar_count * 8)
        return false;
    read_bar(&h->bars_reader, bar);
    return h->bars_reader.err == IBB_OK;
}

static void dec_historical_update(ibReader *r, ibHistoricalDataUpdate *u)
{
    u->req_id = R_INT(r);
    u->bar_count = R_INT(r);
    u->bar.count = u->bar_count;
    u->bar.date = R_STR(r);
    u->bar.open = R_DBL(r);          /* official order: open, close, high, low, WAP, volume */
    u->bar.close = R_DBL(r);
    u->bar.high = R_DBL(r);
    u->bar.low = R_DBL(r);
    u->bar.wap = R_DEC(r);
    u->bar.volume = R_DEC(r);
}

/* ---- contract details ------------------------------------------------------------------------- */
static void dec_contract_data(ibReader *r, int sv, ibContractData *d)
{
    ibContract *c = &d->contract;
    contract_init(c);
    int64_t ver = 8;
    if (sv < IB_SV_SIZE_RULES)
        ver = version(r);
    d->req_id = -1;
    if (ver >= 3)
        d->req_id = R_INT(r);
    c->symbol = R_STR(r);
    c->sec_type = R_STR(r);
    c->last_trade_date = R_STR(r);
    if (sv >= SV_LAST_TRADE_DATE)
        R_STR(r);                      /* lastTradeDate */
    c->strike = R_DBL(r);
    c->right = R_STR(r);
    c->exchange = R_STR(r);
    c->currency = R_STR(r);
    c->local_symbol = R_STR(r);
    d->market_name = R_STR(r);
    c->trading_class = R_STR(r);
    c->con_id = R_INT(r);
    d->min_tick = R_DBL(r);
    if (sv >= SV_MD_SIZE_MULTIPLIER && sv < IB_SV_SIZE_RULES)
        R_INT(r);                      /* mdSizeMultiplier */
    c->multiplier = R_STR(r);
    d->order_types = R_STR(r);
    d->valid_exchanges = R_STR(r);
    d->price_magnifier = R_INT(r);
    d->under_con_id = R_INT(r);
    d->long_name = R_STR(r);
    c->primary_exchange = R_STR(r);
    d->contract_month = R_STR(r);
    d->industry = R_STR(r);
    d->category = R_STR(r);
    d->subcategory = R_STR(r);
    d->time_zone_id = R_STR(r);
    d->trading_hours = R_STR(r);
    d->liquid_hours = R_STR(r);
    d->ev_rule = "";
    d->ev_multiplier = 0;
    if (ver >= 8) {
        d->ev_rule = R_STR(r);
        d->ev_multiplier = R_DBL(r);
    }
    d->sec_id_count = 0;
    if (ver >= 7) {
        d->sec_id_count = ibReader_Count(r, MAX_ITEMS, 2);
        ibReader_Skip(r, 2 * d->sec_id_count);
    }
    d->agg_group = IB_UNSET_INT;
    d->under_symbol = d->under_sec_type = d->market_rule_ids = "";
    d->real_expiration_date = d->stock_type = "";
    if (sv >= SV_AGG_GROUP)
        d->agg_group = ibReader_IntMax(r);
    if (sv >= SV_UNDERLYING_INFO) {
        d->under_symbol = R_STR(r);
        d->under_sec_type = R_STR(r);
    }
    if (sv >= SV_MARKET_RULES)
        d->market_rule_ids = R_STR(r);
    if (sv >= SV_REAL_EXPIRATION_DATE)
        d->real_expiration_date = R_STR(r);
    if (sv >= SV_STOCK_TYPE)
        d->stock_type = R_STR(r);
    d->min_size = d->size_increment = d->suggested_size_increment = IB_UNSET_DOUBLE;
    if (sv >= SV_FRACTIONAL_SIZE_SUPPORT && sv < IB_SV_SIZE_RULES)
        R_DEC(r);                      /* sizeMinTick */
    if (sv >= IB_SV_SIZE_RULES) {
        d->min_size = R_DEC(r);
        d->size_increment = R_DEC(r);
        d->suggested_size_increment = R_DEC(r);
    }
    if (sv >= SV_FUND_DATA_FIELDS && c->sec_type && strcmp(c->sec_type, "FUND") == 0)
        ibReader_Skip(r, 17);          /* fund name .. fund asset type */
    if (sv >= SV_INELIGIBILITY_REASONS) {
        int n = ibReader_Count(r, MAX_ITEMS, 2);
        ibReader_Skip(r, 2 * n);
    }
}

/* ---- orders ----------------------------------------------------------------------------------- */
static void dec_order_status(ibReader *r, int sv, ibOrderStatus *s)
{
    if (sv < IB_SV_MARKET_CAP_PRICE)
        version(r);
    s->order_id = R_INT(r);
    s->status = R_STR(r);
    s->filled = R_DEC(r);
    s->remaining = R_DEC(r);
    s->avg_fill_price = R_DBL(r);
    s->perm_id = R_INT(r);
    s->parent_id = R_INT(r);
    s->last_fill_price = R_DBL(r);
    s->client_id = R_INT(r);
    s->why_held = R_STR(r);
    s->mkt_cap_price = IB_UNSET_DOUBLE;
    if (sv >= IB_SV_MARKET_CAP_PRICE)
        s->mkt_cap_price = R_DBL(r);
}

/* One order condition (OFF-PY order_condition.py): type, conjunction "a"/"o", then an operator
 * condition's isMore + value, a contract condition's conId + exchange, a price condition's
 * triggerMethod; an execution condition is secType, exchange, symbol. */
static void skip_condition(ibReader *r)
{
    int64_t type = R_INT(r);
    R_STR(r);                          /* conjunction */
    switch (type) {
    case 1: ibReader_Skip(r, 5); break; /* price: isMore, price, conId, exchange, triggerMethod */
    case 3:                             /* time: isMore, time */
    case 4: ibReader_Skip(r, 2); break; /* margin: isMore, percent */
    case 5: ibReader_Skip(r, 3); break; /* execution: secType, exchange, symbol */
    case 6:                             /* volume: isMore, volume, conId, exchange */
    case 7: ibReader_Skip(r, 4); break; /* percent change: isMore, changePercent, conId, exchange */
    default:
        ibReader_Fail(r, IBB_ERR_PROTOCOL);
        break;
    }
}

/* openOrder, every field in the official order (PROTOCOL.md §3.3; #n = index in the captured openOrder vector's fields). */
static void dec_open_order_contract(ibReader *r, ibOpenOrder *o)
{
    ibContract *c = &o->contract;
    ibOrder *od = &o->order;
    od->order_id = R_INT(r);           /* 1 */
    c->con_id = R_INT(r);              /* 2 */
    c->symbol = R_STR(r);
    c->sec_type = R_STR(r);
    c->last_trade_date = R_STR(r);
    c->strike = R_DBL(r);
    c->right = R_STR(r);
    c->multiplier = R_STR(r);
    c->exchange = R_STR(r);
    c->currency = R_STR(r);
    c->local_symbol = R_STR(r);
    c->trading_class = R_STR(r);       /* 12 */
    od->action = R_STR(r);             /* 13 */
    od->total_qty = R_DEC(r);
    od->order_type = R_STR(r);
    od->lmt_price = R_DBLMAX(r);
    od->aux_price = R_DBLMAX(r);
    od->tif = R_STR(r);
    od->oca_group = R_STR(r);
    od->account = R_STR(r);            /* 20 */
    R_STR(r);                          /* 21 openClose */
    R_INT(r);                          /* 22 origin */
    od->order_ref = R_STR(r);          /* 23 */
    o->client_id = R_INT(r);           /* 24 */
    o->perm_id = R_INT(r);             /* 25 */
    od->outside_rth = R_BOOL(r);       /* 26 */
    od->hidden = R_BOOL(r);            /* 27 */
}

static void dec_open_order_middle(ibReader *r, int sv, ibOpenOrder *o)
{
    R_DBL(r);                          /* 28 discretionaryAmt */
    R_STR(r);                          /* 29 goodAfterTime */
    R_STR(r);                          /* 30 sharesAllocation */
    ibReader_Skip(r, 3);               /* 31-33 faGroup, faMethod, faPercentage */
    if (sv < IB_SV_FA_PROFILE_DESUPPORT)
        R_STR(r);                      /* 34 faProfile */
    if (sv >= SV_MODELS_SUPPORT)
        R_STR(r);                      /* 35 modelCode */
    R_STR(r);                          /* 36 goodTillDate */
    R_STR(r);                          /* 37 rule80A */
    R_DBLMAX(r);                       /* 38 percentOffset */
    R_STR(r);                          /* 39 settlingFirm */
    R_INT(r);                          /* 40 shortSaleSlot */
    R_STR(r);                          /* 41 designatedLocation */
    R_INT(r);                          /* 42 exemptCode */
    R_INT(r);                          /* 43 auctionStrategy */
    for (int i = 0; i < 5; i++)
        R_DBLMAX(r);                   /* 44-48 startingPrice .. stockRangeUpper */
    ibReader_IntMax(r);                /* 49 displaySize */
    R_BOOL(r);                         /* 50 blockOrder */
    R_BOOL(r);                         /* 51 sweepToFill */
    R_BOOL(r);                         /* 52 allOrNone */
    ibReader_IntMax(r);                /* 53 minQty */
    R_INT(r);                          /* 54 ocaType */
    R_BOOL(r);                         /* 55 eTradeOnly */
    R_BOOL(r);                         /* 56 firmQuoteOnly */
    R_DBLMAX(r);                       /* 57 nbboPriceCap */
    o->order.parent_id = R_INT(r);     /* 58 */
    R_INT(r);                          /* 59 triggerMethod */
    R_DBLMAX(r);                       /* 60 volatility */
    R_INT(r);                          /* 61 volatilityType */
    const char *dn_type = R_STR(r);    /* 62 deltaNeutralOrderType: TWS sends "None" */
    R_DBLMAX(r);                       /* 63 deltaNeutralAuxPrice */
    if (*dn_type != '\0') {
        R_INT(r);                      /* 64 deltaNeutralConId */
        ibReader_Skip(r, 4);           /* 65-68 settlingFirm, clearingAccount, clearingIntent, openClose */
        R_BOOL(r);                     /* 69 shortSale */
        R_INT(r);                      /* 70 shortSaleSlot */
        R_STR(r);                      /* 71 designatedLocation */
    }
    R_BOOL(r);                         /* 72 continuousUpdate */
    ibReader_IntMax(r);                /* 73 referencePriceType */
    R_DBLMAX(r);                       /* 74 trailStopPrice */
    R_DBLMAX(r);                       /* 75 trailingPercent */
    R_DBLMAX(r);                       /* 76 basisPoints */
    ibReader_IntMax(r);                /* 77 basisPointsType */
    R_STR(r);                          /* 78 comboLegsDescrip */
    int legs = ibReader_Count(r, MAX_ITEMS, 8);
    ibReader_Skip(r, 8 * legs);        /* conId, ratio, action, exchange, openClose, ssSlot, dLoc, exempt */
    int order_legs = ibReader_Count(r, MAX_ITEMS, 1);
    ibReader_Skip(r, order_legs);      /* price */
    int smart = ibReader_Count(r, MAX_ITEMS, 2);
    ibReader_Skip(r, 2 * smart);       /* tag, value */
    ibReader_IntMax(r);                /* 82 scaleInitLevelSize */
    ibReader_IntMax(r);                /* 83 scaleSubsLevelSize */
    double incr = R_DBLMAX(r);         /* 84 scalePriceIncrement */
    if (incr > 0.0 && !ib_isUnsetDouble(incr))
        ibReader_Skip(r, 7);           /* adjustValue, adjustInterval, profitOffset, autoReset,
                                          initPosition, initFillQty, randomPercent */
    const char *hedge = R_STR(r);      /* 85 hedgeType */
    if (*hedge != '\0')
        R_STR(r);                      /* hedgeParam */
    R_BOOL(r);                         /* 86 optOutSmartRouting */
    R_STR(r);                          /* 87 clearingAccount */
    R_STR(r);                          /* 88 clearingIntent */
    R_BOOL(r);                         /* 89 notHeld */
    if (R_BOOL(r))                     /* 90 deltaNeutralContract */
        ibReader_Skip(r, 3);           /* conId, delta, price */
    const char *algo = R_STR(r);       /* 91 algoStrategy */
    if (*algo != '\0') {
        int n = ibReader_Count(r, MAX_ITEMS, 2);
        ibReader_Skip(r, 2 * n);
    }
    R_BOOL(r);                         /* 92 solicited */
}

static void dec_open_order_state(ibReader *r, int sv, ibOpenOrder *o)
{
    o->what_if = R_BOOL(r);            /* 93 */
    o->status = R_STR(r);              /* 94 */
    for (int i = 0; i < IB_MARGIN_COUNT; i++) /* 95-103: strings on the wire, numbers in practice */
        o->margins[i] =
            i >= IB_MARGIN_INIT_AFTER || sv >= SV_WHAT_IF_EXT_FIELDS ? R_DBLMAX(r) : IB_UNSET_DOUBLE;
    o->commission = R_DBLMAX(r);       /* 104 */
    o->min_commission = R_DBLMAX(r);
    o->max_commission = R_DBLMAX(r);
    o->commission_currency = R_STR(r); /* 107 */
    if (sv >= SV_FULL_ORDER_PREVIEW_FIELDS) {
        R_STR(r);                      /* marginCurrency */
        ibReader_Skip(r, 9);           /* the OutsideRTH margin doubles */
        R_DBLMAX(r);                   /* suggestedSize */
        R_STR(r);                      /* rejectReason */
        int n = ibReader_Count(r, MAX_ITEMS, 7);
        ibReader_Skip(r, 7 * n);       /* order allocations */
    }
    o->warning_text = R_STR(r);        /* 108 */
}

static void dec_open_order_tail(ibReader *r, int sv, ibOpenOrder *o)
{
    R_BOOL(r);                         /* 109 randomizeSize */
    R_BOOL(r);                         /* 110 randomizePrice */
    if (sv >= SV_PEGGED_TO_BENCHMARK) {
        const char *t = o->order.order_type;
        if (t && (strcmp(t, "PEG BENCH") == 0 || strcmp(t, "PEGBENCH") == 0))
            ibReader_Skip(r, 5);       /* referenceContractId .. referenceExchangeId */
        int n = ibReader_Count(r, MAX_ITEMS, 4); /* 111 conditions */
        for (int i = 0; i < n && r->err == IBB_OK; i++)
            skip_condition(r);
        if (n > 0)
            ibReader_Skip(r, 2);       /* conditionsIgnoreRth, conditionsCancelOrder */
        R_STR(r);                      /* 112 adjustedOrderType */
        R_DBLMAX(r);                   /* 113 triggerPrice */
        R_DBLMAX(r);                   /* 114 trailStopPrice */
        R_DBLMAX(r);                   /* 115 lmtPriceOffset */
        R_DBLMAX(r);                   /* 116 adjustedStopPrice */
        R_DBLMAX(r);                   /* 117 adjustedStopLimitPrice */
        R_DBLMAX(r);                   /* 118 adjustedTrailingAmount */
        R_INT(r);                      /* 119 adjustableTrailingUnit */
    }
    if (sv >= SV_SOFT_DOLLAR_TIER)
        ibReader_Skip(r, 3);           /* 120-122 softDollarTier name, value, displayName */
    if (sv >= SV_CASH_QTY)
        R_DBLMAX(r);                   /* 123 cashQty */
    if (sv >= SV_AUTO_PRICE_FOR_HEDGE)
        R_BOOL(r);                     /* 124 dontUseAutoPriceForHedge */
    if (sv >= IB_SV_ORDER_CONTAINER)
        R_BOOL(r);                     /* 125 isOmsContainer */
    if (sv >= SV_D_PEG_ORDERS)
        R_BOOL(r);                     /* 126 discretionaryUpToLimitPrice */
    if (sv >= SV_PRICE_MGMT_ALGO)
        R_BOOL(r);                     /* 127 usePriceMgmtAlgo */
    if (sv >= IB_SV_DURATION)
        ibReader_IntMax(r);            /* 128 duration */
    if (sv >= IB_SV_POST_TO_ATS)
        ibReader_IntMax(r);            /* 129 postToAts */
    if (sv >= IB_SV_AUTO_CANCEL_PARENT)
        R_BOOL(r);                     /* 130 autoCancelParent */
    if (sv >= IB_SV_PEGBEST_PEGMID_OFFSETS) {
        ibReader_IntMax(r);            /* 131 minTradeQty */
        ibReader_IntMax(r);            /* 132 minCompeteSize */
        R_DBLMAX(r);                   /* 133 competeAgainstBestOffset */
        R_DBLMAX(r);                   /* 134 midOffsetAtWhole */
        R_DBLMAX(r);                   /* 135 midOffsetAtHalf */
    }
    if (sv >= SV_CUSTOMER_ACCOUNT)
        R_STR(r);                      /* customerAccount */
    if (sv >= SV_PROFESSIONAL_CUSTOMER)
        R_BOOL(r);                     /* professionalCustomer */
    if (sv >= SV_BOND_ACCRUED_INTEREST)
        R_STR(r);                      /* bondAccruedInterest */
    if (sv >= SV_INCLUDE_OVERNIGHT)
        R_BOOL(r);                     /* includeOvernight */
    if (sv >= SV_CME_TAGGING_FIELDS_IN_OPEN_ORDER) {
        R_STR(r);                      /* extOperator */
        ibReader_IntMax(r);            /* manualOrderIndicator */
    }
    if (sv >= SV_SUBMITTER)
        R_STR(r);                      /* submitter */
    if (sv >= SV_IMBALANCE_ONLY)
        R_BOOL(r);                     /* imbalanceOnly */
}

static void dec_open_order(ibReader *r, int sv, ibOpenOrder *o)
{
    contract_init(&o->contract);
    o->order.transmit = true;          /* not on the wire */
    if (sv < IB_SV_ORDER_CONTAINER)
        version(r);
    dec_open_order_contract(r, o);
    dec_open_order_middle(r, sv, o);
    dec_open_order_state(r, sv, o);
    dec_open_order_tail(r, sv, o);
}

/* completedOrder, every field in the official order (PROTOCOL.md §3.16, #n = row of the sv 176
 * table): openOrder's decoder with the legacy version "unset", minus the fields it leaves out. */
static void dec_completed_head(ibReader *r, int sv, ibCompletedOrder *o)
{
    ibContract *c = &o->contract;
    ibOrder *od = &o->order;
    c->con_id = R_INT(r);              /* 1 */
    c->symbol = R_STR(r);
    c->sec_type = R_STR(r);
    c->last_trade_date = R_STR(r);
    c->strike = R_DBL(r);
    c->right = R_STR(r);
    c->multiplier = R_STR(r);
    c->exchange = R_STR(r);
    c->currency = R_STR(r);
    c->local_symbol = R_STR(r);
    c->trading_class = R_STR(r);       /* 11 */
    od->action = R_STR(r);             /* 12 */
    od->total_qty = R_DEC(r);
    od->order_type = R_STR(r);
    od->lmt_price = R_DBLMAX(r);
    od->aux_price = R_DBLMAX(r);
    od->tif = R_STR(r);
    od->oca_group = R_STR(r);
    od->account = R_STR(r);            /* 19 */
    R_STR(r);                          /* 20 openClose */
    R_INT(r);                          /* 21 origin */
    od->order_ref = R_STR(r);          /* 22 */
    o->perm_id = R_INT(r);             /* 23 */
    od->outside_rth = R_BOOL(r);       /* 24 */
    od->hidden = R_BOOL(r);            /* 25 */
    R_DBL(r);                          /* 26 discretionaryAmt */
    R_STR(r);                          /* 27 goodAfterTime */
    ibReader_Skip(r, 3);               /* 28-30 faGroup, faMethod, faPercentage */
    if (sv < IB_SV_FA_PROFILE_DESUPPORT)
        R_STR(r);                      /* 31 faProfile */
    if (sv >= SV_MODELS_SUPPORT)
        R_STR(r);                      /* 32 modelCode */
    R_STR(r);                          /* 33 goodTillDate */
    R_STR(r);                          /* 34 rule80A */
    R_DBLMAX(r);                       /* 35 percentOffset */
    R_STR(r);                          /* 36 settlingFirm */
    R_INT(r);                          /* 37 shortSaleSlot */
    R_STR(r);                          /* 38 designatedLocation */
    R_INT(r);                          /* 39 exemptCode */
    for (int i = 0; i < 5; i++)
        R_DBLMAX(r);                   /* 40-44 startingPrice .. stockRangeUpper */
    ibReader_IntMax(r);                /* 45 displaySize */
    R_BOOL(r);                         /* 46 sweepToFill */
    R_BOOL(r);                         /* 47 allOrNone */
    ibReader_IntMax(r);                /* 48 minQty */
    R_INT(r);                          /* 49 ocaType */
    R_INT(r);                          /* 50 triggerMethod */
}

static void dec_completed_middle(ibReader *r, ibCompletedOrder *o)
{
    R_DBLMAX(r);                       /* 51 volatility */
    R_INT(r);                          /* 52 volatilityType */
    const char *dn_type = R_STR(r);    /* 53 deltaNeutralOrderType: TWS sends "None" */
    R_DBLMAX(r);                       /* 54 deltaNeutralAuxPrice */
    if (*dn_type != '\0') {
        R_INT(r);                      /* 55 deltaNeutralConId (no settlingFirm .. openClose here) */
        R_BOOL(r);                     /* 56 shortSale */
        R_INT(r);                      /* 57 shortSaleSlot */
        R_STR(r);                      /* 58 designatedLocation */
    }
    R_BOOL(r);                         /* 59 continuousUpdate */
    ibReader_IntMax(r);                /* 60 referencePriceType */
    R_DBLMAX(r);                       /* 61 trailStopPrice */
    R_DBLMAX(r);                       /* 62 trailingPercent */
    R_STR(r);                          /* 63 comboLegsDescrip */
    int legs = ibReader_Count(r, MAX_ITEMS, 8);
    ibReader_Skip(r, 8 * legs);        /* 64 conId, ratio, action, exchange, openClose, ssSlot, dLoc, exempt */
    int order_legs = ibReader_Count(r, MAX_ITEMS, 1);
    ibReader_Skip(r, order_legs);      /* 65 price */
    int smart = ibReader_Count(r, MAX_ITEMS, 2);
    ibReader_Skip(r, 2 * smart);       /* 66 tag, value */
    ibReader_IntMax(r);                /* 67 scaleInitLevelSize */
    ibReader_IntMax(r);                /* 68 scaleSubsLevelSize */
    double incr = R_DBLMAX(r);         /* 69 scalePriceIncrement */
    if (incr > 0.0 && !ib_isUnsetDouble(incr))
        ibReader_Skip(r, 7);           /* adjustValue .. randomPercent */
    const char *hedge = R_STR(r);      /* 70 hedgeType */
    if (*hedge != '\0')
        R_STR(r);                      /* hedgeParam */
    R_STR(r);                          /* 71 clearingAccount */
    R_STR(r);                          /* 72 clearingIntent */
    R_BOOL(r);                         /* 73 notHeld */
    if (R_BOOL(r))                     /* 74 deltaNeutralContract */
        ibReader_Skip(r, 3);           /* conId, delta, price */
    const char *algo = R_STR(r);       /* 75 algoStrategy */
    if (*algo != '\0') {
        int n = ibReader_Count(r, MAX_ITEMS, 2);
        ibReader_Skip(r, 2 * n);
    }
    R_BOOL(r);                         /* 76 solicited */
    o->status = R_STR(r);              /* 77 orderState.status */
}

static void dec_completed_tail(ibReader *r, int sv, ibCompletedOrder *o)
{
    R_BOOL(r);                         /* 78 randomizeSize */
    R_BOOL(r);                         /* 79 randomizePrice */
    if (sv >= SV_PEGGED_TO_BENCHMARK) {
        const char *t = o->order.order_type;
        if (t && (strcmp(t, "PEG BENCH") == 0 || strcmp(t, "PEGBENCH") == 0))
            ibReader_Skip(r, 5);       /* referenceContractId .. referenceExchangeId */
        int n = ibReader_Count(r, MAX_ITEMS, 4); /* 80 conditions */
        for (int i = 0; i < n && r->err == IBB_OK; i++)
            skip_condition(r);
        if (n > 0)
            ibReader_Skip(r, 2);       /* conditionsIgnoreRth, conditionsCancelOrder */
    }
    R_DBLMAX(r);                       /* 81 trailStopPrice */
    R_DBLMAX(r);                       /* 82 lmtPriceOffset */
    if (sv >= SV_CASH_QTY)
        R_DBLMAX(r);                   /* 83 cashQty */
    if (sv >= SV_AUTO_PRICE_FOR_HEDGE)
        R_BOOL(r);                     /* 84 dontUseAutoPriceForHedge */
    if (sv >= IB_SV_ORDER_CONTAINER)
        R_BOOL(r);                     /* 85 isOmsContainer */
    R_STR(r);                          /* 86 autoCancelDate */
    o->filled_qty = R_DEC(r);          /* 87 filledQuantity */
    ibReader_IntMax(r);                /* 88 refFuturesConId */
    R_BOOL(r);                         /* 89 autoCancelParent */
    R_STR(r);                          /* 90 shareholder */
    R_BOOL(r);                         /* 91 imbalanceOnly */
    R_BOOL(r);                         /* 92 routeMarketableToBbo */
    o->parent_perm_id = ibReader_IntMax(r); /* 93 */
    o->completed_time = R_STR(r);      /* 94 */
    o->completed_status = R_STR(r);    /* 95 */
    if (sv >= IB_SV_PEGBEST_PEGMID_OFFSETS) {
        ibReader_IntMax(r);            /* 96 minTradeQty */
        ibReader_IntMax(r);            /* 97 minCompeteSize */
        R_DBLMAX(r);                   /* 98 competeAgainstBestOffset */
        R_DBLMAX(r);                   /* 99 midOffsetAtWhole */
        R_DBLMAX(r);                   /* 100 midOffsetAtHalf */
    }
    if (sv >= SV_CUSTOMER_ACCOUNT)
        R_STR(r);                      /* customerAccount */
    if (sv >= SV_PROFESSIONAL_CUSTOMER)
        R_BOOL(r);                     /* professionalCustomer */
    if (sv >= SV_SUBMITTER)
        R_STR(r);                      /* submitter */
}

static void dec_completed_order(ibReader *r, int sv, ibCompletedOrder *o)
{
    contract_init(&o->contract);
    o->order.transmit = true;          /* not on the wire */
    dec_completed_head(r, sv, o);
    dec_completed_middle(r, o);
    dec_completed_tail(r, sv, o);
    double total = o->order.total_qty, filled = o->filled_qty;
    o->remaining = IB_UNSET_DOUBLE;
    if (!ib_isUnsetDouble(total) && !ib_isUnsetDouble(filled))
        o->remaining = total > filled ? total - filled : 0.0;
}

static void dec_exec_details(ibReader *r, int sv, ibExecDetails *x)
{
    ibContract *c = &x->contract;
    contract_init(c);
    int64_t ver = sv;
    if (sv < IB_SV_LAST_LIQUIDITY)
        ver = version(r);
    x->req_id = -1;
    if (ver >= 7)
        x->req_id = R_INT(r);
    x->order_id = R_INT(r);
    c->con_id = R_INT(r);
    c->symbol = R_STR(r);
    c->sec_type = R_STR(r);
    c->last_trade_date = R_STR(r);
    c->strike = R_DBL(r);
    c->right = R_STR(r);
    c->multiplier = R_STR(r);
    c->exchange = R_STR(r);
    c->currency = R_STR(r);
    c->local_symbol = R_STR(r);
    c->trading_class = R_STR(r);
    x->exec_id = R_STR(r);
    x->time = R_STR(r);
    x->account = R_STR(r);
    x->exchange = R_STR(r);
    x->side = R_STR(r);
    x->shares = R_DEC(r);
    x->price = R_DBL(r);
    x->perm_id = R_INT(r);
    x->client_id = R_INT(r);
    x->liquidation = R_INT(r);
    x->cum_qty = R_DEC(r);
    x->avg_price = R_DBL(r);
    x->order_ref = R_STR(r);
    x->ev_rule = R_STR(r);
    x->ev_multiplier = R_DBL(r);
    x->model_code = "";
    if (sv >= SV_MODELS_SUPPORT)
        x->model_code = R_STR(r);
    x->last_liquidity = 0;
    if (sv >= IB_SV_LAST_LIQUIDITY)
        x->last_liquidity = R_INT(r);
    if (sv >= SV_PENDING_PRICE_REVISION)
        R_BOOL(r);                     /* pendingPriceRevision */
    if (sv >= SV_SUBMITTER)
        R_STR(r);                      /* submitter */
}

static void dec_commission(ibReader *r, ibCommissionReport *c)
{
    version(r);
    c->exec_id = R_STR(r);
    c->commission = R_DBL(r);
    c->currency = R_STR(r);
    c->realized_pnl = R_DBLMAX(r);
    c->yield = R_DBLMAX(r);
    c->yield_redemption_date = R_INT(r);
}

/* ---- account ---------------------------------------------------------------------------------- */
/* conId .. localSymbol of position (61) and positionMulti (71): no primaryExchange. */
static void read_position_contract(ibReader *r, ibContract *c)
{
    c->con_id = R_INT(r);
    c->symbol = R_STR(r);
    c->sec_type = R_STR(r);
    c->last_trade_date = R_STR(r);
    c->strike = R_DBL(r);
    c->right = R_STR(r);
    c->multiplier = R_STR(r);
    c->exchange = R_STR(r);
    c->currency = R_STR(r);
    c->local_symbol = R_STR(r);
}

static void dec_position(ibReader *r, ibPosition *p)
{
    ibContract *c = &p->contract;
    contract_init(c);
    int64_t ver = version(r);
    p->account = R_STR(r);
    read_position_contract(r, c);
    c->trading_class = ver >= 2 ? R_STR(r) : "";
    p->position = R_DEC(r);
    p->avg_cost = ver >= 3 ? R_DBL(r) : 0.0;
}

static void dec_portfolio(ibReader *r, ibPortfolioValue *p)
{
    ibContract *c = &p->contract;
    contract_init(c);
    int64_t ver = version(r);
    c->con_id = ver >= 6 ? R_INT(r) : 0;
    c->symbol = R_STR(r);
    c->sec_type = R_STR(r);
    c->last_trade_date = R_STR(r);
    c->strike = R_DBL(r);
    c->right = R_STR(r);
    c->multiplier = "";
    c->primary_exchange = "";
    if (ver >= 7) {
        c->multiplier = R_STR(r);
        c->primary_exchange = R_STR(r);
    }
    c->currency = R_STR(r);
    c->local_symbol = R_STR(r);
    c->trading_class = ver >= 8 ? R_STR(r) : "";
    p->position = R_DEC(r);
    p->market_price = R_DBL(r);
    p->market_value = R_DBL(r);
    p->average_cost = p->unrealized_pnl = p->realized_pnl = 0.0;
    if (ver >= 3) {
        p->average_cost = R_DBL(r);
        p->unrealized_pnl = R_DBL(r);
        p->realized_pnl = R_DBL(r);
    }
    p->account = ver >= 4 ? R_STR(r) : "";
}

static void dec_account_value(ibReader *r, ibAccountValue *a)
{
    int64_t ver = version(r);
    a->key = R_STR(r);
    a->value = R_STR(r);
    a->currency = R_STR(r);
    a->account = ver >= 2 ? R_STR(r) : "";
}

static void dec_account_summary(ibReader *r, ibAccountSummary *a)
{
    version(r);
    a->req_id = R_INT(r);
    a->account = R_STR(r);
    a->tag = R_STR(r);
    a->value = R_STR(r);
    a->currency = R_STR(r);
}

/* ---- P&L and multi-account subscriptions (§3.10, §3.17) ---------------------------------------- */
/* pnl (in 94): no version; reqId, dailyPnL, [>=129 unrealizedPnL], [>=135 realizedPnL]. */
static void dec_pnl(ibReader *r, int sv, ibPnL *p)
{
    p->req_id = R_INT(r);
    p->daily_pnl = R_DBLMAX(r);
    p->unrealized_pnl = sv >= IB_SV_UNREALIZED_PNL ? R_DBLMAX(r) : IB_UNSET_DOUBLE;
    p->realized_pnl = sv >= IB_SV_REALIZED_PNL ? R_DBLMAX(r) : IB_UNSET_DOUBLE;
}

/* pnlSingle (in 95): no version; reqId, pos, dailyPnL, [>=129 unrealized], [>=135 realized], value. */
static void dec_pnl_single(ibReader *r, int sv, ibPnLSingle *p)
{
    p->req_id = R_INT(r);
    p->position = R_DEC(r);
    p->daily_pnl = R_DBLMAX(r);
    p->unrealized_pnl = sv >= IB_SV_UNREALIZED_PNL ? R_DBLMAX(r) : IB_UNSET_DOUBLE;
    p->realized_pnl = sv >= IB_SV_REALIZED_PNL ? R_DBLMAX(r) : IB_UNSET_DOUBLE;
    p->value = R_DBLMAX(r);
}

/* positionMulti (in 71): version, reqId, account, contract (11, no primaryExchange), position,
 * avgCost, modelCode. */
static void dec_position_multi(ibReader *r, ibPositionMulti *p)
{
    ibContract *c = &p->contract;
    contract_init(c);
    version(r);
    p->req_id = R_INT(r);
    p->account = R_STR(r);
    read_position_contract(r, c);
    c->trading_class = R_STR(r);
    p->position = R_DEC(r);
    p->avg_cost = R_DBL(r);
    p->model_code = R_STR(r);
}

static void dec_account_update_multi(ibReader *r, ibAccountUpdateMulti *a)
{
    version(r);
    a->req_id = R_INT(r);
    a->account = R_STR(r);
    a->model_code = R_STR(r);
    a->key = R_STR(r);
    a->value = R_STR(r);
    a->currency = R_STR(r);
}

static bool dec_pnl_multi(ibReader *r, int sv, ibReply *m)
{
    switch ((int)m->id) {
    case IB_MSG_PNL: dec_pnl(r, sv, &m->u.pnl); return true;
    case IB_MSG_PNL_SINGLE: dec_pnl_single(r, sv, &m->u.pnl_single); return true;
    case IB_MSG_POSITION_MULTI: dec_position_multi(r, &m->u.position_multi); return true;
    case IB_MSG_ACCOUNT_UPDATE_MULTI: dec_account_update_multi(r, &m->u.account_update_multi); return true;
    case IB_MSG_POSITION_MULTI_END:
    case IB_MSG_ACCOUNT_UPDATE_MULTI_END:
        version(r);
        m->u.end.req_id = R_INT(r);
        return true;
    default:
        return false;
    }
}

/* ---- error ------------------------------------------------------------------------------------ */
static void dec_error(ibReader *r, int sv, ibError *e)
{
    if (sv < SV_ERROR_TIME)
        version(r);
    e->id = R_INT(r);
    e->code = R_INT(r);
    e->message = R_STR(r);
    e->advanced_order_reject_json = "";
    e->error_time_ms = 0;
    if (sv >= IB_SV_ADVANCED_ORDER_REJECT)
        e->advanced_order_reject_json = R_STR(r);
    if (sv >= SV_ERROR_TIME)
        e->error_time_ms = R_INT(r);
}

static bool dec_discovery(ibReader *r, int sv, ibReply *m);

/* ---- dispatch --------------------------------------------------------------------------------- */
static ibbStatus dec_body(ibReader *r, int sv, ibReply *m)
{
    switch ((int)m->id) {
    case IB_MSG_TICK_PRICE: dec_tick_price(r, &m->u.tick_price); break;
    case IB_MSG_TICK_SIZE: dec_tick_size(r, &m->u.tick_size); break;
    case IB_MSG_TICK_STRING: dec_tick_string(r, &m->u.tick_string); break;
    case IB_MSG_TICK_GENERIC: dec_tick_generic(r, &m->u.tick_generic); break;
    case IB_MSG_TICK_REQ_PARAMS: dec_tick_req_params(r, &m->u.tick_req_params); break;
    case IB_MSG_MARKET_DATA_TYPE:
        version(r);
        m->u.market_data_type.req_id = R_INT(r);
        m->u.market_data_type.market_data_type = R_INT(r);
        break;
    case IB_MSG_TICK_SNAPSHOT_END:
    case IB_MSG_CONTRACT_DATA_END:
    case IB_MSG_EXEC_DETAILS_END:
    case IB_MSG_ACCOUNT_SUMMARY_END:
        version(r);
        m->u.end.req_id = R_INT(r);
        break;
    case IB_MSG_OPEN_ORDER_END:
    case IB_MSG_POSITION_END:
        version(r);
        break;
    case IB_MSG_HISTORICAL_DATA: return dec_historical(r, sv, &m->u.historical);
    case IB_MSG_HISTORICAL_DATA_UPDATE: dec_historical_update(r, &m->u.historical_update); break;
    case IB_MSG_CONTRACT_DATA: dec_contract_data(r, sv, &m->u.contract_data); break;
    case IB_MSG_NEXT_VALID_ID:
        version(r);
        m->u.next_valid_id.order_id = R_INT(r);
        break;
    case IB_MSG_MANAGED_ACCOUNTS:
        version(r);
        m->u.managed_accounts.accounts = R_STR(r);
        break;
    case IB_MSG_CURRENT_TIME:
        version(r);
        m->u.current_time.time = R_INT(r);
        break;
    case IB_MSG_ORDER_STATUS: dec_order_status(r, sv, &m->u.order_status); break;
    case IB_MSG_OPEN_ORDER: dec_open_order(r, sv, &m->u.open_order); break;
    case IB_MSG_COMPLETED_ORDER: dec_completed_order(r, sv, &m->u.completed_order); break;
    case IB_MSG_COMPLETED_ORDERS_END: break;   /* just the id: no version, no reqId */
    case IB_MSG_EXEC_DETAILS: dec_exec_details(r, sv, &m->u.exec_details); break;
    case IB_MSG_COMMISSION_REPORT: dec_commission(r, &m->u.commission); break;
    case IB_MSG_POSITION: dec_position(r, &m->u.position); break;
    case IB_MSG_ACCOUNT_SUMMARY: dec_account_summary(r, &m->u.account_summary); break;
    case IB_MSG_ACCOUNT_VALUE: dec_account_value(r, &m->u.account_value); break;
    case IB_MSG_PORTFOLIO_VALUE: dec_portfolio(r, &m->u.portfolio); break;
    case IB_MSG_ACCOUNT_TIME:
        version(r);
        m->u.account_time.time = R_STR(r);
        break;
    case IB_MSG_ACCOUNT_DOWNLOAD_END:
        version(r);
        m->u.account_download_end.account = R_STR(r);
        break;
    case IB_MSG_ERROR: dec_error(r, sv, &m->u.error); break;
    case IB_MSG_MARKET_DEPTH: dec_depth(r, sv, false, &m->u.depth); break;
    case IB_MSG_MARKET_DEPTH_L2: dec_depth(r, sv, true, &m->u.depth); break;
    case IB_MSG_TICK_BY_TICK: dec_tick_by_tick(r, &m->u.tick_by_tick); break;
    case IB_MSG_REAL_TIME_BAR: dec_real_time_bar(r, &m->u.real_time_bar); break;
    case IB_MSG_SEC_DEF_OPT_PARAMS: dec_sec_def_opt_params(r, &m->u.sec_def_opt_params); break;
    case IB_MSG_SEC_DEF_OPT_PARAMS_END: m->u.end.req_id = R_INT(r); break; /* no version */
    case IB_MSG_TICK_OPTION_COMPUTATION: dec_option_computation(r, sv, &m->u.option_computation); break;
    default:
        if (!dec_pnl_multi(r, sv, m) && !dec_discovery(r, sv, m))
            return IBB_ERR_UNKNOWN_MSG;
        break;
    }
    return finish(r);
}

ibbStatus ib_decodeReply(int sv, const char *payload, size_t len, ibReply *reply)
{
    if (!payload || !reply)
        return IBB_ERR_INVALID_ARG;
    memset(reply, 0, sizeof *reply);
    if (sv < IB_SV_MIN_CLIENT || sv >= SV_PROTOBUF)
        return IBB_ERR_UNSUPPORTED_VERSION;
    ibReader r;
    ibReader_Init(&r, payload, len);
    int64_t id = R_INT(&r);
    if (r.err != IBB_OK)
        return r.err;
    if (id < 0 || id > 100000)
        return IBB_ERR_BAD_NUMBER;
    reply->id = (ibReplyId)id;
    return dec_body(&r, sv, reply);
}

int64_t ibReply_ReqId(const ibReply *r)
{
    switch (r->id) {
    case IB_MSG_TICK_PRICE: return r->u.tick_price.req_id;
    case IB_MSG_TICK_SIZE: return r->u.tick_size.req_id;
    case IB_MSG_TICK_STRING: return r->u.tick_string.req_id;
    case IB_MSG_TICK_GENERIC: return r->u.tick_generic.req_id;
    case IB_MSG_TICK_REQ_PARAMS: return r->u.tick_req_params.req_id;
    case IB_MSG_MARKET_DATA_TYPE: return r->u.market_data_type.req_id;
    case IB_MSG_TICK_SNAPSHOT_END:
    case IB_MSG_CONTRACT_DATA_END:
    case IB_MSG_EXEC_DETAILS_END:
    case IB_MSG_ACCOUNT_SUMMARY_END: return r->u.end.req_id;
    case IB_MSG_HISTORICAL_DATA: return r->u.historical.req_id;
    case IB_MSG_HISTORICAL_DATA_UPDATE: return r->u.historical_update.req_id;
    case IB_MSG_CONTRACT_DATA: return r->u.contract_data.req_id;
    case IB_MSG_EXEC_DETAILS: return r->u.exec_details.req_id;
    case IB_MSG_ACCOUNT_SUMMARY: return r->u.account_summary.req_id;
    case IB_MSG_SEC_DEF_OPT_PARAMS_END: return r->u.end.req_id;
    case IB_MSG_MARKET_DEPTH:
    case IB_MSG_MARKET_DEPTH_L2: return r->u.depth.req_id;
    case IB_MSG_TICK_BY_TICK: return r->u.tick_by_tick.req_id;
    case IB_MSG_REAL_TIME_BAR: return r->u.real_time_bar.req_id;
    case IB_MSG_SEC_DEF_OPT_PARAMS: return r->u.sec_def_opt_params.req_id;
    case IB_MSG_TICK_OPTION_COMPUTATION: return r->u.option_computation.req_id;
    case IB_MSG_SYMBOL_SAMPLES: return r->u.symbol_samples.req_id;
    case IB_MSG_SCANNER_DATA: return r->u.scanner_data.req_id;
    case IB_MSG_PNL: return r->u.pnl.req_id;
    case IB_MSG_PNL_SINGLE: return r->u.pnl_single.req_id;
    case IB_MSG_POSITION_MULTI: return r->u.position_multi.req_id;
    case IB_MSG_ACCOUNT_UPDATE_MULTI: return r->u.account_update_multi.req_id;
    case IB_MSG_POSITION_MULTI_END:
    case IB_MSG_ACCOUNT_UPDATE_MULTI_END: return r->u.end.req_id;
    default: return 0;
    }
}

bool ibReply_IsMarketData(const ibReply *r)
{
    switch (r->id) {
    case IB_MSG_TICK_PRICE:
    case IB_MSG_TICK_SIZE:
    case IB_MSG_TICK_STRING:
    case IB_MSG_TICK_GENERIC:
    case IB_MSG_TICK_REQ_PARAMS:
    case IB_MSG_MARKET_DATA_TYPE:
    case IB_MSG_TICK_SNAPSHOT_END:
    case IB_MSG_TICK_OPTION_COMPUTATION: return true;
    default: return false;
    }
}

/* ---- symbol search and scanner (PROTOCOL.md §3.18, §3.19) ---------------------------------------- */

/* One symbolSamples item: conId, symbol, secType, primaryExchange, currency, n, derivSecType x n,
 * [sv >= 176: description, issuerId]. */
static void read_sample(ibReader *r, int sv, ibSymbolSample *o)
{
    memset(o, 0, sizeof *o);
    o->con_id = R_INT(r);
    o->symbol = R_STR(r);
    o->sec_type = R_STR(r);
    o->primary_exchange = R_STR(r);
    o->currency = R_STR(r);
    o->deriv_count = ibReader_Count(r, MAX_ITEMS, 1);
    const char *start = r->p;
    ibReader_Skip(r, o->deriv_count);
    if (r->err == IBB_OK)
        sub_reader(&o->deriv_reader, start, r->p, o->deriv_count);
    if (sv >= IB_SV_BOND_ISSUERID) {
        o->description = R_STR(r);
        o->issuer_id = R_STR(r);
    } else {
        o->description = o->issuer_id = "";
    }
}

static void dec_symbol_samples(ibReader *r, int sv, ibSymbolSamples *s)
{
    memset(s, 0, sizeof *s);
    s->sv = sv;
    s->req_id = R_INT(r);
    s->count = ibReader_Count(r, MAX_ITEMS, sv >= IB_SV_BOND_ISSUERID ? 8 : 6);
    const char *start = r->p;
    ibSymbolSample item;
    for (int i = 0; i < s->count && r->err == IBB_OK; i++)
        read_sample(r, sv, &item);
    if (r->err == IBB_OK)
        sub_reader(&s->reader, start, r->p, s->count);
}

bool ibSymbolSamples_Next(ibSymbolSamples *s, ibSymbolSample *out)
{
    if (!s || !out || s->reader.err != IBB_OK || ibReader_AtEnd(&s->reader))
        return false;
    read_sample(&s->reader, s->sv, out);
    return s->reader.err == IBB_OK;
}

bool ibSymbolSample_NextDeriv(ibSymbolSample *s, const char **sec_type)
{
    if (!s || !sec_type || s->deriv_reader.err != IBB_OK || s->deriv_reader.index >= s->deriv_count ||
        ibReader_AtEnd(&s->deriv_reader))
        return false;
    *sec_type = ibReader_Str(&s->deriv_reader);
    return s->deriv_reader.err == IBB_OK;
}

/* One scannerData row: rank, conId, symbol, secType, lastTradeDate, strike, right, exchange, currency,
 * localSymbol, marketName, tradingClass, distance, benchmark, projection, legsStr. */
static void read_scanner_row(ibReader *r, ibScannerRow *o)
{
    memset(o, 0, sizeof *o);
    o->rank = R_INT(r);
    ibContract *c = &o->contract;
    c->con_id = R_INT(r);
    c->symbol = R_STR(r);
    c->sec_type = R_STR(r);
    c->last_trade_date = R_STR(r);
    c->strike = R_DBL(r);
    c->right = R_STR(r);
    c->exchange = R_STR(r);
    c->currency = R_STR(r);
    c->local_symbol = R_STR(r);
    o->market_name = R_STR(r);
    c->trading_class = R_STR(r);
    o->distance = R_STR(r);
    o->benchmark = R_STR(r);
    o->projection = R_STR(r);
    o->legs = R_STR(r);
}

static void dec_scanner_data(ibReader *r, ibScannerData *d)
{
    memset(d, 0, sizeof *d);
    version(r);
    d->req_id = R_INT(r);
    d->count = ibReader_Count(r, MAX_ITEMS, 16);
    const char *start = r->p;
    ibScannerRow row;
    for (int i = 0; i < d->count && r->err == IBB_OK; i++)
        read_scanner_row(r, &row);      /* validates every number once */
    if (r->err == IBB_OK)
        sub_reader(&d->reader, start, r->p, d->count);
}

bool ibScannerData_NextRow(ibScannerData *d, ibScannerRow *row)
{
    if (!d || !row || d->reader.err != IBB_OK || ibReader_AtEnd(&d->reader))
        return false;
    read_scanner_row(&d->reader, row);
    return d->reader.err == IBB_OK;
}

static bool dec_discovery(ibReader *r, int sv, ibReply *m)
{
    switch ((int)m->id) {
    case IB_MSG_SYMBOL_SAMPLES: dec_symbol_samples(r, sv, &m->u.symbol_samples); return true;
    case IB_MSG_SCANNER_DATA: dec_scanner_data(r, &m->u.scanner_data); return true;
    case IB_MSG_SCANNER_PARAMETERS:
        version(r);
        m->u.scanner_params.xml = R_STR(r);
        return true;
    default:
        return false;
    }
}
