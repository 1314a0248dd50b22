/* ib_msgs.h — TWS API messages as typed C structs, with encoders and decoders in both directions
 * (PROTOCOL.md §3). Text protocol only; every layout is gated on the negotiated server version.
 *
 * A building block: no NATS, no config, no event loop. The adapter uses the client side
 * (ib_encodeRequest + ib_decodeReply); ib-sim uses the server side (ib_decodeRequest +
 * ib_encodeReply). One struct serves both directions of a message, so tests round-trip.
 *
 * Ownership: decoded `const char *` fields point into the payload given to the decoder (fields
 * are NUL-terminated there); they live as long as that payload. Encoders copy what they need
 * into the ibWriter; NULL strings are written as "". Doubles use IB_UNSET_DOUBLE for "unset",
 * ints IB_UNSET_INT (see ib_wire.h). Decimal quantities are doubles.
 *
 * Files: ib_client_enc.c (requests out), ib_client_dec.c (replies in),
 *        ib_server_dec.c (requests in, for ib-sim), ib_server_enc.c (replies out, for ib-sim). */
#ifndef IB_MSGS_H
#define IB_MSGS_H

#include <stdbool.h>
#include <stdint.h>

#include "ib_wire.h"

/* ---- server versions (OFF-PY server_versions.py) --------------------------------------------- */
enum {
    IB_SV_MIN_CLIENT = 100,            /* handshake v100.. */
    IB_SV_SYNT_REALTIME_BARS = 124,
    IB_SV_MARKET_CAP_PRICE = 131,
    IB_SV_LAST_LIQUIDITY = 136,
    IB_SV_ORDER_CONTAINER = 145,
    IB_SV_SEC_DEF_OPT_PARAMS = 104,    /* reqSecDefOptParams (PROTOCOL.md §3.15) */
    IB_SV_TICK_BY_TICK = 137,          /* reqTickByTickData (§3.13) */
    IB_SV_TICK_BY_TICK_IGNORE_SIZE = 140, /* numberOfTicks, ignoreSize */
    IB_SV_SMART_DEPTH = 146,           /* isSmartDepth in reqMktDepth, cancelMktDepth, in 13 (§3.12) */
    IB_SV_MKT_DEPTH_PRIM_EXCHANGE = 149, /* primaryExchange in reqMktDepth */
    IB_SV_COMPLETED_ORDERS = 150,
    IB_SV_ENCODE_MSG_ASCII7 = 153,
    IB_SV_PRICE_BASED_VOLATILITY = 156, /* tickOptionComputation loses its version, gains tickAttrib */
    IB_SV_DURATION = 158,
    IB_SV_POST_TO_ATS = 160,
    IB_SV_AUTO_CANCEL_PARENT = 162,
    IB_SV_SIZE_RULES = 164,
    IB_SV_ADVANCED_ORDER_REJECT = 166,
    IB_SV_MANUAL_ORDER_TIME = 169,
    IB_SV_PEGBEST_PEGMID_OFFSETS = 170,
    IB_SV_BOND_ISSUERID = 176,
    IB_SV_FA_PROFILE_DESUPPORT = 177,
    IB_SV_PNL = 127,                   /* reqPnL family (§3.10) */
    IB_SV_UNREALIZED_PNL = 129,        /* pnl / pnlSingle gain unrealizedPnL */
    IB_SV_REALIZED_PNL = 135,          /* ... and realizedPnL */
    IB_SV_TARGET = 176,                /* what ib-bridge asks for and requires (PROTOCOL.md §2.7) */
};

/* ---- message ids ------------------------------------------------------------------------------ */
typedef enum ibRequestId {           /* client -> server */
    IB_REQ_MKT_DATA = 1,
    IB_REQ_CANCEL_MKT_DATA = 2,
    IB_REQ_PLACE_ORDER = 3,
    IB_REQ_CANCEL_ORDER = 4,
    IB_REQ_OPEN_ORDERS = 5,
    IB_REQ_ACCOUNT_UPDATES = 6,
    IB_REQ_EXECUTIONS = 7,
    IB_REQ_IDS = 8,
    IB_REQ_CONTRACT_DETAILS = 9,
    IB_REQ_MKT_DEPTH = 10,             /* §3.12 */
    IB_REQ_CANCEL_MKT_DEPTH = 11,
    IB_REQ_AUTO_OPEN_ORDERS = 15,
    IB_REQ_ALL_OPEN_ORDERS = 16,
    IB_REQ_MANAGED_ACCTS = 17,
    IB_REQ_HISTORICAL_DATA = 20,
    IB_REQ_CANCEL_HISTORICAL_DATA = 25,
    IB_REQ_CURRENT_TIME = 49,
    IB_REQ_REAL_TIME_BARS = 50,        /* §3.14 */
    IB_REQ_CANCEL_REAL_TIME_BARS = 51,
    IB_REQ_GLOBAL_CANCEL = 58,
    IB_REQ_MARKET_DATA_TYPE = 59,
    IB_REQ_POSITIONS = 61,
    IB_REQ_ACCOUNT_SUMMARY = 62,
    IB_REQ_CANCEL_ACCOUNT_SUMMARY = 63,
    IB_REQ_CANCEL_POSITIONS = 64,
    IB_REQ_START_API = 71,
    IB_REQ_SEC_DEF_OPT_PARAMS = 78,    /* sv >= 104, §3.15 */
    IB_REQ_TICK_BY_TICK = 97,          /* sv >= 137, §3.13 */
    IB_REQ_CANCEL_TICK_BY_TICK = 98,
    IB_REQ_COMPLETED_ORDERS = 99,      /* sv >= 150 */
    /* symbol search and scanner (PROTOCOL.md §3.18, §3.19) */
    IB_REQ_SCANNER_SUBSCRIPTION = 22,  /* no version at sv >= 143 */
    IB_REQ_CANCEL_SCANNER_SUBSCRIPTION = 23,
    IB_REQ_SCANNER_PARAMETERS = 24,
    IB_REQ_MATCHING_SYMBOLS = 81,      /* sv >= 108 */
    /* P&L and multi-account subscriptions (§3.10, §3.17) */
    IB_REQ_POSITIONS_MULTI = 74,       /* version 1 */
    IB_REQ_CANCEL_POSITIONS_MULTI = 75,
    IB_REQ_ACCOUNT_UPDATES_MULTI = 76,
    IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI = 77,
    IB_REQ_PNL = 92,                   /* no version, sv >= 127 */
    IB_REQ_CANCEL_PNL = 93,
    IB_REQ_PNL_SINGLE = 94,
    IB_REQ_CANCEL_PNL_SINGLE = 95,
} ibRequestId;

typedef enum ibReplyId {             /* server -> client */
    IB_MSG_TICK_PRICE = 1,
    IB_MSG_TICK_SIZE = 2,
    IB_MSG_ORDER_STATUS = 3,
    IB_MSG_ERROR = 4,
    IB_MSG_OPEN_ORDER = 5,
    IB_MSG_ACCOUNT_VALUE = 6,
    IB_MSG_PORTFOLIO_VALUE = 7,
    IB_MSG_ACCOUNT_TIME = 8,
    IB_MSG_NEXT_VALID_ID = 9,
    IB_MSG_CONTRACT_DATA = 10,
    IB_MSG_EXEC_DETAILS = 11,
    IB_MSG_MARKET_DEPTH = 12,          /* updateMktDepth, §3.12 */
    IB_MSG_MARKET_DEPTH_L2 = 13,       /* updateMktDepthL2 */
    IB_MSG_MANAGED_ACCOUNTS = 15,
    IB_MSG_HISTORICAL_DATA = 17,
    IB_MSG_TICK_OPTION_COMPUTATION = 21, /* §3.15 */
    IB_MSG_TICK_GENERIC = 45,
    IB_MSG_TICK_STRING = 46,
    IB_MSG_CURRENT_TIME = 49,
    IB_MSG_REAL_TIME_BAR = 50,         /* realtimeBar, §3.14 */
    IB_MSG_CONTRACT_DATA_END = 52,
    IB_MSG_OPEN_ORDER_END = 53,
    IB_MSG_ACCOUNT_DOWNLOAD_END = 54,
    IB_MSG_EXEC_DETAILS_END = 55,
    IB_MSG_TICK_SNAPSHOT_END = 57,
    IB_MSG_MARKET_DATA_TYPE = 58,
    IB_MSG_COMMISSION_REPORT = 59,
    IB_MSG_POSITION = 61,
    IB_MSG_POSITION_END = 62,
    IB_MSG_ACCOUNT_SUMMARY = 63,
    IB_MSG_ACCOUNT_SUMMARY_END = 64,
    IB_MSG_SEC_DEF_OPT_PARAMS = 75,    /* securityDefinitionOptionParameter, §3.15 */
    IB_MSG_SEC_DEF_OPT_PARAMS_END = 76,
    IB_MSG_TICK_REQ_PARAMS = 81,
    IB_MSG_HISTORICAL_DATA_UPDATE = 90,
    IB_MSG_TICK_BY_TICK = 99,          /* §3.13 */
    IB_MSG_COMPLETED_ORDER = 101,
    IB_MSG_COMPLETED_ORDERS_END = 102,
    /* symbol search and scanner (PROTOCOL.md §3.18, §3.19) */
    IB_MSG_SCANNER_PARAMETERS = 19,
    IB_MSG_SCANNER_DATA = 20,
    IB_MSG_SYMBOL_SAMPLES = 79,
    /* P&L and multi-account subscriptions (§3.10, §3.17) */
    IB_MSG_POSITION_MULTI = 71,        /* version 3 */
    IB_MSG_POSITION_MULTI_END = 72,
    IB_MSG_ACCOUNT_UPDATE_MULTI = 73,
    IB_MSG_ACCOUNT_UPDATE_MULTI_END = 74,
    IB_MSG_PNL = 94,                   /* no version */
    IB_MSG_PNL_SINGLE = 95,
} ibReplyId;

/* Tick types used by ib-bridge (OFF-PY ticktype.py). */
enum {
    IB_TICK_BID_SIZE = 0, IB_TICK_BID = 1, IB_TICK_ASK = 2, IB_TICK_ASK_SIZE = 3, IB_TICK_LAST = 4,
    IB_TICK_LAST_SIZE = 5, IB_TICK_HIGH = 6, IB_TICK_LOW = 7, IB_TICK_VOLUME = 8, IB_TICK_CLOSE = 9,
    IB_TICK_BID_OPTION = 10, IB_TICK_ASK_OPTION = 11, IB_TICK_LAST_OPTION = 12, IB_TICK_MODEL_OPTION = 13,
    IB_TICK_CUST_OPTION = 53, IB_TICK_DELAYED_BID_OPTION = 80, IB_TICK_DELAYED_ASK_OPTION = 81,
    IB_TICK_DELAYED_LAST_OPTION = 82, IB_TICK_DELAYED_MODEL_OPTION = 83,
    IB_TICK_OPEN = 14, IB_TICK_LAST_TIMESTAMP = 45, IB_TICK_HALTED = 49,
    IB_TICK_DELAYED_BID = 66, IB_TICK_DELAYED_ASK = 67, IB_TICK_DELAYED_LAST = 68,
    IB_TICK_DELAYED_BID_SIZE = 69, IB_TICK_DELAYED_ASK_SIZE = 70, IB_TICK_DELAYED_LAST_SIZE = 71,
    IB_TICK_DELAYED_HIGH = 72, IB_TICK_DELAYED_LOW = 73, IB_TICK_DELAYED_VOLUME = 74,
    IB_TICK_DELAYED_CLOSE = 75, IB_TICK_DELAYED_OPEN = 76, IB_TICK_DELAYED_LAST_TIMESTAMP = 88,
};

/* ---- shared parts ----------------------------------------------------------------------------- */
typedef struct ibContract {
    int64_t con_id;                  /* 0 = unknown */
    const char *symbol;
    const char *sec_type;            /* STK, FUT, CASH, OPT, IND, ... */
    const char *last_trade_date;     /* lastTradeDateOrContractMonth */
    double strike;                   /* IB_UNSET_DOUBLE or 0 when not an option */
    const char *right;
    const char *multiplier;
    const char *exchange;
    const char *primary_exchange;
    const char *currency;
    const char *local_symbol;
    const char *trading_class;
    bool include_expired;            /* reqContractDetails / reqHistoricalData */
    const char *sec_id_type;         /* reqContractDetails / placeOrder */
    const char *sec_id;
    const char *issuer_id;           /* reqContractDetails, sv >= 176 */
} ibContract;

typedef struct ibBar {
    const char *date;                /* "yyyymmdd", "yyyymmdd  hh:mm:ss[ tz]" or epoch seconds */
    double open, high, low, close;
    double volume, wap;              /* Decimal; -1 for MIDPOINT/BID/ASK */
    int64_t count;
} ibBar;

/* ================================================================================================
 * Client -> server requests
 * ============================================================================================== */
typedef struct ibStartApi { int64_t client_id; const char *optional_capabilities; } ibStartApi;
typedef struct ibReqIds { int64_t num_ids; } ibReqIds;
typedef struct ibReqMarketDataType { int64_t market_data_type; } ibReqMarketDataType; /* 1..4 */

typedef struct ibReqMktData {
    int64_t req_id;
    ibContract contract;
    const char *generic_ticks;       /* "233,236" */
    bool snapshot;
    bool regulatory_snapshot;
} ibReqMktData;

typedef struct ibCancelById { int64_t req_id; } ibCancelById; /* cancelMktData, cancelHistoricalData,
                                                                 cancelAccountSummary */
typedef struct ibReqHistoricalData {
    int64_t req_id;
    ibContract contract;
    const char *end_date_time;       /* "" = now */
    const char *bar_size;            /* "5 mins" */
    const char *duration;            /* "1 D" */
    bool use_rth;
    const char *what_to_show;        /* TRADES, MIDPOINT, BID, ASK, BID_ASK, ... */
    int64_t format_date;             /* 1 or 2 */
    bool keep_up_to_date;
} ibReqHistoricalData;

typedef struct ibReqContractDetails { int64_t req_id; ibContract contract; } ibReqContractDetails;

/* The subset of IB's Order that ib-bridge sets; everything else goes out with the official
 * client's defaults (PROTOCOL.md §3.3; vector placeOrder_LMT at 176). */
typedef struct ibOrder {
    int64_t order_id;
    const char *action;              /* BUY / SELL */
    double total_qty;                /* Decimal */
    const char *order_type;          /* MKT, LMT, STP, "STP LMT" */
    double lmt_price;                /* IB_UNSET_DOUBLE when none */
    double aux_price;                /* stop price for STP / STP LMT; IB_UNSET_DOUBLE when none */
    const char *tif;                 /* DAY, GTC, IOC */
    const char *oca_group;
    const char *account;
    const char *order_ref;           /* ib-bridge puts the client_order_id here */
    bool transmit;                   /* default true */
    int64_t parent_id;
    bool outside_rth;
    bool hidden;
    bool what_if;                    /* #85: a margin preview, nothing is placed (§3.16) */
} ibOrder;

typedef struct ibPlaceOrder { ibContract contract; ibOrder order; } ibPlaceOrder;
typedef struct ibCancelOrder { int64_t order_id; const char *manual_cancel_time; } ibCancelOrder;

typedef struct ibReqExecutions {
    int64_t req_id;
    int64_t client_id;               /* filter; 0 = all */
    const char *account;
    const char *time;                /* "yyyymmdd hh:mm:ss" or "" */
    const char *symbol, *sec_type, *exchange, *side;
} ibReqExecutions;

typedef struct ibReqAccountSummary {
    int64_t req_id;
    const char *group;
    const char *tags;
} ibReqAccountSummary;
typedef struct ibReqAccountUpdates { bool subscribe; const char *account; } ibReqAccountUpdates;

/* reqMktDepth (out 10, PROTOCOL.md §3.12). SMART depth: exchange "SMART" and is_smart_depth. */
typedef struct ibReqMktDepth {
    int64_t req_id;
    ibContract contract;             /* contract12; primary_exchange only from sv 149 */
    int64_t num_rows;                /* rows per side */
    bool is_smart_depth;             /* sv >= 146; refused below */
} ibReqMktDepth;
/* cancelMktDepth (out 11): the request's is_smart_depth again (sv >= 146). */
typedef struct ibCancelMktDepth { int64_t req_id; bool is_smart_depth; } ibCancelMktDepth;

/* Tick-by-tick types: the wire's tickType of in 99; the request spells them as text. */
typedef enum ibTickByTickType {
    IB_TBT_NONE = 0, IB_TBT_LAST = 1, IB_TBT_ALL_LAST = 2, IB_TBT_BID_ASK = 3, IB_TBT_MIDPOINT = 4,
} ibTickByTickType;
/* "Last", "AllLast", "BidAsk", "MidPoint" (case-sensitive, as IB), NULL for another value. */
const char *ib_tickByTickTypeName(int type);
/* The type a request's text names, or -1 (exact, case-sensitive match). */
int ib_tickByTickTypeParse(const char *name);

/* reqTickByTickData (out 97, no version, sv >= 137, §3.13). */
typedef struct ibReqTickByTick {
    int64_t req_id;
    ibContract contract;             /* contract12 */
    const char *tick_type;           /* "Last" | "AllLast" | "BidAsk" | "MidPoint" */
    int64_t number_of_ticks;         /* sv >= 140 */
    bool ignore_size;                /* sv >= 140 */
} ibReqTickByTick;

/* reqRealTimeBars (out 50, version 3, §3.14). */
typedef struct ibReqRealTimeBars {
    int64_t req_id;
    ibContract contract;             /* contract12 */
    int64_t bar_size;                /* 5: the only size IB serves (ibRequest_Init sets it) */
    const char *what_to_show;        /* TRADES, BID, ASK, MIDPOINT */
    bool use_rth;
} ibReqRealTimeBars;

/* reqSecDefOptParams (out 78, no version, sv >= 104, §3.15). */
typedef struct ibReqSecDefOptParams {
    int64_t req_id;
    const char *underlying_symbol;
    const char *fut_fop_exchange;    /* "" = all exchanges */
    const char *underlying_sec_type; /* STK, IND, FUT */
    int64_t underlying_con_id;
} ibReqSecDefOptParams;

/* ---- symbol search and scanner requests (PROTOCOL.md §3.18, §3.19) ---------------------------- */
/* reqMatchingSymbols (out 81, no version, sv >= 108). */
typedef struct ibReqMatchingSymbols { int64_t req_id; const char *pattern; } ibReqMatchingSymbols;
/* reqScannerSubscription (out 22): the ScannerSubscription, then (sv >= 143) the filter options
 * "tag=value;..." and the subscription options. Unset numbers go out empty. */
typedef struct ibReqScannerSubscription {
    int64_t req_id;
    int64_t number_of_rows;          /* -1 = not specified (ibRequest_Init) */
    const char *instrument, *location_code, *scan_code;
    double above_price, below_price; /* IB_UNSET_DOUBLE = no filter */
    int64_t above_volume;            /* IB_UNSET_INT = no filter */
    double market_cap_above, market_cap_below;
    const char *moody_rating_above, *moody_rating_below, *sp_rating_above, *sp_rating_below;
    const char *maturity_date_above, *maturity_date_below;
    double coupon_rate_above, coupon_rate_below;
    bool exclude_convertible;
    int64_t average_option_volume_above;
    const char *scanner_setting_pairs, *stock_type_filter;
    const char *filter_options;      /* sv >= 143: "avgVolumeAbove=1000000;" */
    const char *subscription_options;
} ibReqScannerSubscription;
/* reqPnL (out 92) and reqPnLSingle (out 94, with con_id), §3.10: no version; the cancels (93, 95)
 * use u.cancel. model_code is "" for an ordinary account. */
typedef struct ibReqPnL {
    int64_t req_id;
    const char *account;
    const char *model_code;
    int64_t con_id;                  /* reqPnLSingle only */
} ibReqPnL;
/* reqPositionsMulti (out 74) and reqAccountUpdatesMulti (out 76, with ledger_and_nlv), §3.17:
 * version 1; the cancels (75, 77) use u.cancel. */
typedef struct ibReqMulti {
    int64_t req_id;
    const char *account;
    const char *model_code;
    bool ledger_and_nlv;             /* reqAccountUpdatesMulti only */
} ibReqMulti;

typedef struct ibRequest {
    ibRequestId id;
    union {
        ibStartApi start_api;                    /* IB_REQ_START_API */
        ibReqIds req_ids;                        /* IB_REQ_IDS */
        ibReqMarketDataType market_data_type;    /* IB_REQ_MARKET_DATA_TYPE */
        ibReqMktData mkt_data;                   /* IB_REQ_MKT_DATA */
        ibCancelById cancel;                     /* CANCEL_MKT_DATA / CANCEL_HISTORICAL_DATA /
                                                    CANCEL_ACCOUNT_SUMMARY / CANCEL_TICK_BY_TICK /
                                                    CANCEL_REAL_TIME_BARS */
        ibReqHistoricalData historical;          /* IB_REQ_HISTORICAL_DATA */
        ibReqContractDetails contract_details;   /* IB_REQ_CONTRACT_DETAILS */
        ibPlaceOrder place_order;                /* IB_REQ_PLACE_ORDER */
        ibCancelOrder cancel_order;              /* IB_REQ_CANCEL_ORDER */
        ibReqExecutions executions;              /* IB_REQ_EXECUTIONS */
        ibReqAccountSummary account_summary;     /* IB_REQ_ACCOUNT_SUMMARY */
        ibReqAccountUpdates account_updates;     /* IB_REQ_ACCOUNT_UPDATES */
        ibReqMktDepth mkt_depth;                 /* IB_REQ_MKT_DEPTH */
        ibCancelMktDepth cancel_mkt_depth;       /* IB_REQ_CANCEL_MKT_DEPTH */
        ibReqTickByTick tick_by_tick;            /* IB_REQ_TICK_BY_TICK (cancel: u.cancel) */
        ibReqRealTimeBars real_time_bars;        /* IB_REQ_REAL_TIME_BARS (cancel: u.cancel) */
        ibReqSecDefOptParams sec_def_opt_params; /* IB_REQ_SEC_DEF_OPT_PARAMS */
        ibReqMatchingSymbols matching_symbols;   /* IB_REQ_MATCHING_SYMBOLS */
        ibReqScannerSubscription scanner;        /* IB_REQ_SCANNER_SUBSCRIPTION (cancel: u.cancel;
                                                    SCANNER_PARAMETERS: no body) */
        ibReqPnL pnl;                            /* IB_REQ_PNL, IB_REQ_PNL_SINGLE */
        ibReqMulti multi;                        /* IB_REQ_POSITIONS_MULTI, ACCOUNT_UPDATES_MULTI */
        bool auto_bind;                          /* IB_REQ_AUTO_OPEN_ORDERS */
        bool api_only;                           /* IB_REQ_COMPLETED_ORDERS: `99, apiOnly`, no
                                                    version, no reqId; 1 = API orders only */
        /* no body: CURRENT_TIME, OPEN_ORDERS, ALL_OPEN_ORDERS, MANAGED_ACCTS, POSITIONS,
           CANCEL_POSITIONS, GLOBAL_CANCEL */
    } u;
} ibRequest;

/* Initialises a request with the official client's defaults (contract strike unset, order
 * transmit = true, prices unset, format_date = 1 ...). Always call before filling fields. */
void ibRequest_Init(ibRequest *req, ibRequestId id);

/* Appends one framed request at server version `sv`. IBB_ERR_INVALID_ARG for an id this codec
 * does not encode or a missing required field; IBB_ERR_UNSUPPORTED_VERSION when sv < 100 (or
 * reqCompletedOrders below IB_SV_COMPLETED_ORDERS, tick-by-tick below IB_SV_TICK_BY_TICK or with
 * numberOfTicks / ignoreSize below IB_SV_TICK_BY_TICK_IGNORE_SIZE, SMART depth below
 * IB_SV_SMART_DEPTH, a depth primaryExchange below IB_SV_MKT_DEPTH_PRIM_EXCHANGE,
 * reqSecDefOptParams below IB_SV_SEC_DEF_OPT_PARAMS), as the official clients refuse them. */
ibbStatus ib_encodeRequest(ibWriter *w, int sv, const ibRequest *req);

/* ib-sim side: decodes one client payload. The startApi payload and every other one; the
 * handshake text is parsed with ib_parseVersionRange. IBB_ERR_UNKNOWN_MSG for ids this codec does
 * not decode (req->id is still set); IBB_ERR_TRAILING when fields are left over. */
ibbStatus ib_decodeRequest(int sv, const char *payload, size_t len, ibRequest *req);

/* ================================================================================================
 * Server -> client replies
 * ============================================================================================== */
typedef struct ibServerVersion { int64_t server_version; const char *connection_time; } ibServerVersion;

typedef struct ibTickPrice {
    int64_t req_id;
    int64_t tick_type;
    double price;
    double size;
    int64_t attr_mask;
} ibTickPrice;
typedef struct ibTickSize { int64_t req_id; int64_t tick_type; double size; } ibTickSize;
typedef struct ibTickString { int64_t req_id; int64_t tick_type; const char *value; } ibTickString;
typedef struct ibTickGeneric { int64_t req_id; int64_t tick_type; double value; } ibTickGeneric;
typedef struct ibTickReqParams {
    int64_t req_id;
    double min_tick;
    const char *bbo_exchange;
    int64_t snapshot_permissions;
} ibTickReqParams;
typedef struct ibMarketDataType { int64_t req_id; int64_t market_data_type; } ibMarketDataType;
typedef struct ibReqIdOnly { int64_t req_id; } ibReqIdOnly;   /* tickSnapshotEnd, contractDataEnd,
                                                                 execDetailsEnd, accountSummaryEnd */

typedef struct ibHistoricalData {
    int64_t req_id;
    const char *start, *end;
    int bar_count;
    /* Bars: validated by the decoder, read with ibHistoricalData_NextBar (no allocation). */
    ibReader bars_reader;
} ibHistoricalData;
/* Reads the next bar; false when all bar_count bars were read. (Encoding: the bars argument of
 * ib_encodeReply.) */
bool ibHistoricalData_NextBar(ibHistoricalData *h, ibBar *bar);

typedef struct ibHistoricalDataUpdate {
    int64_t req_id;
    int64_t bar_count;
    ibBar bar;
} ibHistoricalDataUpdate;

typedef struct ibContractData {
    int64_t req_id;
    ibContract contract;             /* symbol, sec_type, last_trade_date, strike, right, exchange,
                                        currency, local_symbol, trading_class, con_id, multiplier,
                                        primary_exchange */
    const char *market_name;
    double min_tick;
    const char *order_types;
    const char *valid_exchanges;
    int64_t price_magnifier;
    int64_t under_con_id;
    const char *long_name;           /* may be \uXXXX-escaped (sv >= 153) */
    const char *contract_month;
    const char *industry, *category, *subcategory;
    const char *time_zone_id;
    const char *trading_hours;
    const char *liquid_hours;
    const char *ev_rule;
    double ev_multiplier;
    int sec_id_count;                /* the {tag, value} pairs are skipped by the decoder */
    int64_t agg_group;
    const char *under_symbol, *under_sec_type;
    const char *market_rule_ids;
    const char *real_expiration_date;
    const char *stock_type;
    double min_size, size_increment, suggested_size_increment;
} ibContractData;

typedef struct ibNextValidId { int64_t order_id; } ibNextValidId;
typedef struct ibManagedAccounts { const char *accounts; } ibManagedAccounts; /* "DU1,DU2," */
typedef struct ibCurrentTime { int64_t time; } ibCurrentTime;

typedef struct ibOrderStatus {
    int64_t order_id;
    const char *status;              /* PreSubmitted, Submitted, Filled, Cancelled, Inactive, ... */
    double filled, remaining;        /* Decimal */
    double avg_fill_price;
    int64_t perm_id;
    int64_t parent_id;
    double last_fill_price;
    int64_t client_id;
    const char *why_held;
    double mkt_cap_price;
} ibOrderStatus;

/* openOrder: every field is consumed by the decoder; these are the ones a bridge keeps. */
typedef struct ibOpenOrder {
    ibContract contract;             /* con_id .. trading_class (no primary_exchange on the wire) */
    ibOrder order;                   /* order_id, action, total_qty, order_type, lmt/aux price, tif,
                                        oca_group, account, order_ref, outside_rth, hidden,
                                        parent_id */
    int64_t client_id;
    int64_t perm_id;
    const char *status;              /* orderState.status */
    double commission;               /* orderState commission; IB_UNSET_DOUBLE when unset */
    double min_commission, max_commission;
    const char *commission_currency;
    const char *warning_text;
    bool what_if;                    /* #93: the answer to a what-if placeOrder */
    double margins[9];               /* #95-#103 (IB_MARGIN_*; before/change only from sv 142);
                                        IB_UNSET_DOUBLE when unset */
} ibOpenOrder;
/* Indexes of ibOpenOrder.margins, in wire order. */
enum {
    IB_MARGIN_INIT_BEFORE, IB_MARGIN_MAINT_BEFORE, IB_MARGIN_EQUITY_BEFORE,
    IB_MARGIN_INIT_CHANGE, IB_MARGIN_MAINT_CHANGE, IB_MARGIN_EQUITY_CHANGE,
    IB_MARGIN_INIT_AFTER, IB_MARGIN_MAINT_AFTER, IB_MARGIN_EQUITY_AFTER, IB_MARGIN_COUNT
};

/* completedOrder (PROTOCOL.md §3.16): an order IB has finished (Filled, Cancelled, Inactive), as
 * reqCompletedOrders lists it. A layout of its own: no version, and no orderId or clientId on the
 * wire, so match it to an order by perm_id or order_ref. The decoder consumes every field; these
 * are the ones a bridge keeps. */
typedef struct ibCompletedOrder {
    ibContract contract;             /* con_id .. trading_class (no primary_exchange on the wire) */
    ibOrder order;                   /* action, total_qty, order_type, lmt/aux price, tif,
                                        oca_group, account, order_ref, outside_rth, hidden;
                                        order_id and parent_id are not on the wire (0) */
    int64_t perm_id;
    int64_t parent_perm_id;          /* IB_UNSET_INT when none (the wire's INT64_MAX) */
    const char *status;              /* orderState.status: Filled, Cancelled, Inactive, ... */
    double filled_qty;               /* filledQuantity (Decimal); IB_UNSET_DOUBLE when unset */
    double remaining;                /* not on the wire: total_qty - filled_qty, at least 0;
                                        IB_UNSET_DOUBLE when either is unset */
    const char *completed_time;      /* "20250924 01:21:07 America/New_York" */
    const char *completed_status;    /* "Filled Size: 1", "Cancelled by Trader", ... */
} ibCompletedOrder;

typedef struct ibExecDetails {
    int64_t req_id;                  /* -1 for live fills */
    int64_t order_id;
    ibContract contract;             /* con_id, symbol, sec_type, last_trade_date, strike, right,
                                        multiplier, exchange, currency, local_symbol, trading_class */
    const char *exec_id;
    const char *time;                /* "yyyymmdd  hh:mm:ss[ tz]" */
    const char *account;
    const char *exchange;
    const char *side;                /* BOT / SLD */
    double shares;                   /* Decimal */
    double price;
    int64_t perm_id;
    int64_t client_id;
    int64_t liquidation;
    double cum_qty;                  /* Decimal */
    double avg_price;
    const char *order_ref;
    const char *ev_rule;
    double ev_multiplier;
    const char *model_code;
    int64_t last_liquidity;
} ibExecDetails;

typedef struct ibCommissionReport {
    const char *exec_id;
    double commission;
    const char *currency;
    double realized_pnl;             /* IB_UNSET_DOUBLE when unset */
    double yield;
    int64_t yield_redemption_date;
} ibCommissionReport;

typedef struct ibPosition {
    const char *account;
    ibContract contract;
    double position;
    double avg_cost;
} ibPosition;
typedef struct ibAccountSummary {
    int64_t req_id;
    const char *account, *tag, *value, *currency;
} ibAccountSummary;
typedef struct ibAccountValue { const char *key, *value, *currency, *account; } ibAccountValue;
typedef struct ibPortfolioValue {
    ibContract contract;             /* con_id, symbol, sec_type, last_trade_date, strike, right,
                                        multiplier, primary_exchange, currency, local_symbol,
                                        trading_class (no exchange on the wire) */
    double position, market_price, market_value, average_cost, unrealized_pnl, realized_pnl;
    const char *account;
} ibPortfolioValue;
typedef struct ibAccountTime { const char *time; } ibAccountTime;
typedef struct ibAccountDownloadEnd { const char *account; } ibAccountDownloadEnd;

/* updateMktDepth (in 12) and updateMktDepthL2 (in 13), PROTOCOL.md §3.12: one row operation. */
enum { IB_DEPTH_INSERT = 0, IB_DEPTH_UPDATE = 1, IB_DEPTH_DELETE = 2 };  /* operation */
enum { IB_DEPTH_ASK = 0, IB_DEPTH_BID = 1 };                            /* side */
typedef struct ibMktDepth {
    int64_t req_id;
    int64_t position;                /* 0-based row of that side */
    const char *market_maker;        /* in 13 only; "" for in 12 */
    int64_t operation;               /* IB_DEPTH_INSERT / UPDATE / DELETE */
    int64_t side;                    /* IB_DEPTH_ASK / IB_DEPTH_BID */
    double price;
    double size;                     /* Decimal */
    bool is_smart_depth;             /* in 13 at sv >= 146; false otherwise */
} ibMktDepth;

/* tickByTick (in 99, no version), §3.13. Which fields are set depends on tick_type; the others
 * are 0 / "". attr_mask bits: see IB_TBT_ATTR_*. */
enum {
    IB_TBT_ATTR_PAST_LIMIT = 1, IB_TBT_ATTR_UNREPORTED = 2,        /* Last, AllLast */
    IB_TBT_ATTR_BID_PAST_LOW = 1, IB_TBT_ATTR_ASK_PAST_HIGH = 2,   /* BidAsk */
};
typedef struct ibTickByTick {
    int64_t req_id;
    int64_t tick_type;               /* ibTickByTickType; 0 carries no body */
    int64_t time;                    /* epoch seconds */
    double price, size;              /* Last / AllLast (size Decimal) */
    const char *exchange;            /* Last / AllLast */
    const char *special_conditions;  /* Last / AllLast */
    double bid_price, ask_price, bid_size, ask_size; /* BidAsk (sizes Decimal) */
    double mid_point;                /* MidPoint */
    int64_t attr_mask;               /* Last / AllLast / BidAsk */
} ibTickByTick;

/* realtimeBar (in 50, version 3), §3.14: one 5-second bar; time = its start, epoch seconds. */
typedef struct ibRealTimeBar {
    int64_t req_id;
    int64_t time;
    double open, high, low, close;
    double volume, wap;              /* Decimal */
    int64_t count;
} ibRealTimeBar;

/* securityDefinitionOptionParameter (in 75, no version), §3.15: one exchange / trading class of a
 * chain. Decoding validates the lists and leaves readers over them (no allocation): read them
 * with ibSecDefOptParams_NextExpiration / _NextStrike. Encoding (ib-sim) writes `expirations` and
 * `strikes` when set, else what the readers hold (so a decoded reply re-encodes). */
typedef struct ibSecDefOptParams {
    int64_t req_id;
    const char *exchange;
    int64_t underlying_con_id;
    const char *trading_class;
    const char *multiplier;
    int expiration_count;
    int strike_count;
    const char *const *expirations;  /* encoder input: "yyyymmdd" x expiration_count, or NULL */
    const double *strikes;           /* encoder input: strike_count doubles, or NULL */
    ibReader exp_reader, strike_reader; /* set by the decoder */
} ibSecDefOptParams;
bool ibSecDefOptParams_NextExpiration(ibSecDefOptParams *p, const char **expiration);
bool ibSecDefOptParams_NextStrike(ibSecDefOptParams *p, double *strike);

/* tickOptionComputation (in 21), §3.15. IB's "not computed" values (impliedVol < 0, delta -2,
 * optPrice -1, pvDividend -1, gamma -2, vega -2, theta -2, undPrice -1) decode as
 * IB_UNSET_DOUBLE and are written back as those sentinels. */
typedef struct ibTickOptionComputation {
    int64_t req_id;
    int64_t tick_type;               /* IB_TICK_BID_OPTION .. MODEL_OPTION, CUST 53, delayed 80-83 */
    int64_t tick_attrib;             /* sv >= 156: 0 return-based, 1 price-based; 0 below */
    double implied_vol, delta, opt_price, pv_dividend, gamma, vega, theta, und_price;
} ibTickOptionComputation;

/* ---- symbol search and scanner replies (PROTOCOL.md §3.18, §3.19) ------------------------------ */
/* One item of symbolSamples. The derivative types are read with ibSymbolSample_NextDeriv (decoder)
 * or given as deriv_sec_types (encoder input). description and issuer_id exist from sv 176. */
typedef struct ibSymbolSample {
    int64_t con_id;
    const char *symbol, *sec_type, *primary_exchange, *currency;
    int deriv_count;
    const char *const *deriv_sec_types; /* encoder input, or NULL: what deriv_reader holds */
    ibReader deriv_reader;           /* set by ibSymbolSamples_Next */
    const char *description, *issuer_id;
} ibSymbolSample;
/* symbolSamples (in 79, no version, no end marker): the whole answer of one reqMatchingSymbols. */
typedef struct ibSymbolSamples {
    int64_t req_id;
    int count;
    const ibSymbolSample *samples;   /* encoder input (count items), or NULL: what reader holds */
    ibReader reader;                 /* set by the decoder (validated) */
    int sv;                          /* set by the decoder: the layout of the items */
} ibSymbolSamples;
bool ibSymbolSamples_Next(ibSymbolSamples *s, ibSymbolSample *out);
bool ibSymbolSample_NextDeriv(ibSymbolSample *s, const char **sec_type);

/* One row of scannerData (in 20, version 3). */
typedef struct ibScannerRow {
    int64_t rank;
    ibContract contract;             /* con_id, symbol, sec_type, last_trade_date, strike, right,
                                        exchange, currency, local_symbol, trading_class */
    const char *market_name, *distance, *benchmark, *projection, *legs;
} ibScannerRow;
/* scannerData: one whole result set (there is no end message on the wire). */
typedef struct ibScannerData {
    int64_t req_id;
    int count;
    const ibScannerRow *rows;        /* encoder input, or NULL: what reader holds */
    ibReader reader;                 /* set by the decoder (validated) */
} ibScannerData;
bool ibScannerData_NextRow(ibScannerData *d, ibScannerRow *row);
typedef struct ibScannerParameters { const char *xml; } ibScannerParameters; /* in 19, version 1 */

typedef struct ibError {
    int64_t id;                      /* -1 for notices, else reqId / orderId */
    int64_t code;
    const char *message;             /* as sent (may hold \uXXXX escapes) */
    const char *advanced_order_reject_json; /* sv >= 166 */
    int64_t error_time_ms;           /* sv >= 194; 0 otherwise */
} ibError;

/* pnl (in 94) and pnlSingle (in 95), §3.10: no version, no end marker. Unset values (the wire's
 * 1.7976931348623157E308, or a field below its gate) decode as IB_UNSET_DOUBLE and are written
 * back as the sentinel. */
typedef struct ibPnL {
    int64_t req_id;
    double daily_pnl, unrealized_pnl, realized_pnl;
} ibPnL;
typedef struct ibPnLSingle {
    int64_t req_id;
    double position;                 /* Decimal */
    double daily_pnl, unrealized_pnl, realized_pnl;
    double value;
} ibPnLSingle;
/* positionMulti (in 71, version 3) and accountUpdateMulti (in 73, version 1), §3.17; their End
 * messages (72, 74: version 1, reqId) use u.end. */
typedef struct ibPositionMulti {
    int64_t req_id;
    const char *account;
    ibContract contract;             /* con_id .. trading_class (no primary_exchange on the wire) */
    double position;                 /* Decimal */
    double avg_cost;
    const char *model_code;
} ibPositionMulti;
typedef struct ibAccountUpdateMulti {
    int64_t req_id;
    const char *account, *model_code, *key, *value, *currency;
} ibAccountUpdateMulti;

typedef struct ibReply {
    ibReplyId id;
    union {
        ibTickPrice tick_price;
        ibTickSize tick_size;
        ibTickString tick_string;
        ibTickGeneric tick_generic;
        ibTickReqParams tick_req_params;
        ibMarketDataType market_data_type;
        ibReqIdOnly end;                         /* TICK_SNAPSHOT_END, CONTRACT_DATA_END,
                                                    EXEC_DETAILS_END, ACCOUNT_SUMMARY_END,
                                                    SEC_DEF_OPT_PARAMS_END */
        ibHistoricalData historical;
        ibHistoricalDataUpdate historical_update;
        ibContractData contract_data;
        ibNextValidId next_valid_id;
        ibManagedAccounts managed_accounts;
        ibCurrentTime current_time;
        ibOrderStatus order_status;
        ibOpenOrder open_order;
        ibCompletedOrder completed_order;        /* COMPLETED_ORDER */
        ibExecDetails exec_details;
        ibCommissionReport commission;
        ibPosition position;
        ibAccountSummary account_summary;
        ibAccountValue account_value;
        ibPortfolioValue portfolio;
        ibAccountTime account_time;
        ibAccountDownloadEnd account_download_end;
        ibError error;
        ibMktDepth depth;                        /* MARKET_DEPTH, MARKET_DEPTH_L2 */
        ibTickByTick tick_by_tick;               /* TICK_BY_TICK */
        ibRealTimeBar real_time_bar;             /* REAL_TIME_BAR */
        ibSecDefOptParams sec_def_opt_params;    /* SEC_DEF_OPT_PARAMS (END: u.end) */
        ibTickOptionComputation option_computation; /* TICK_OPTION_COMPUTATION */
        ibSymbolSamples symbol_samples;          /* SYMBOL_SAMPLES */
        ibScannerData scanner_data;              /* SCANNER_DATA */
        ibScannerParameters scanner_params;      /* SCANNER_PARAMETERS */
        ibPnL pnl;                               /* PNL */
        ibPnLSingle pnl_single;                  /* PNL_SINGLE */
        ibPositionMulti position_multi;          /* POSITION_MULTI (END: u.end) */
        ibAccountUpdateMulti account_update_multi; /* ACCOUNT_UPDATE_MULTI (END: u.end) */
        /* no body: OPEN_ORDER_END, POSITION_END, COMPLETED_ORDERS_END */
    } u;
} ibReply;

/* Decodes the first server frame (serverVersion, connectionTime). IBB_ERR_PROTOCOL when it does
 * not hold exactly two fields or the version is not a number. */
ibbStatus ib_decodeServerVersion(const char *payload, size_t len, ibServerVersion *out);

/* Decodes one server payload at server version sv. Every field must be consumed:
 * IBB_ERR_TRAILING when fields are left, IBB_ERR_TRUNCATED / IBB_ERR_BAD_NUMBER /
 * IBB_ERR_PROTOCOL (absurd counts) on malformed input, IBB_ERR_UNKNOWN_MSG for ids this codec
 * does not decode (reply->id is still set so the caller can count and skip it). */
ibbStatus ib_decodeReply(int sv, const char *payload, size_t len, ibReply *reply);

/* The request id a decoded reply answers (tick*, marketDataType, tickReqParams, the *End messages,
 * historical data, contract data, executions, account summary, depth, tick-by-tick, real-time bars,
 * option parameters, option computations), or 0 for a reply that carries none
 * (order status, errors, positions, ...). */
int64_t ibReply_ReqId(const ibReply *r);
/* True for the replies of a reqMktData stream or snapshot: tickPrice/Size/String/Generic,
 * marketDataType, tickReqParams, tickSnapshotEnd, tickOptionComputation. */
bool ibReply_IsMarketData(const ibReply *r);

/* ib-sim side: the server's version reply, "<sv>\0<time>\0" framed. */
ibbStatus ib_encodeServerVersion(ibWriter *w, const ibServerVersion *sv);

/* ib-sim side: appends one framed reply at server version sv, in the layout and with the
 * message versions a gateway sends (PROTOCOL.md §3, §6). Historical data bars come from
 * `bars` (count = reply->u.historical.bar_count) and may be NULL otherwise. */
ibbStatus ib_encodeReply(ibWriter *w, int sv, const ibReply *reply, const ibBar *bars);

/* Name of a reply / request id for logs and counters ("tickPrice", "placeOrder"); "unknown". */
const char *ib_replyName(int id);
const char *ib_requestName(int id);

#endif
