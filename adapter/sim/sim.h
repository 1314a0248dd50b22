/* sim.h — ib-sim internals shared by the files of the simulator (not a public API).
 *
 * One libuv loop thread owns everything here. Ownership:
 *   simServer  owns the instruments, accounts, orders, executions, connections and timers.
 *   simConn    owned by the server's list; freed in its uv_close callback (never before).
 *   Strings inside requests point into the framer's payload: handlers copy what they keep.
 *
 * Files: sim_main.c (options, start), sim_server.c (listener, connections, handshake, dispatch,
 * rate limit, output), sim_universe.c (instruments, contract lookup and details), sim_market.c
 * (random walks, market data), sim_history.c (bars, pacing, keepUpToDate), sim_orders.c
 * (orders, fills, executions, completed orders, the next trading day), sim_account.c (positions,
 * account summary and updates), sim_control.c (the control port: fault injection and counters),
 * sim_depth.c (market depth, tick-by-tick), sim_options.c (option chains, option quotes and greeks);
 * real-time bars live in sim_history.c next to the bars they share. */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ib_msgs.h"
#include "ib_wire.h"
#include "ibb_log.h"

#define SIM_MAX_ACCOUNTS 8
#define SIM_MAX_INJECT 32
#define SIM_MAX_ERROR_CODES 64
#define SIM_REQ_NAMES 128
#define SIM_MAX_SCANS 10       /* simultaneous scanner subscriptions per client (PROTOCOL.md §3.19) */
#define SIM_TICK_PERIOD_MS 10 /* default tick_period_ms */
#define SIM_DEPTH_MAX_ROWS 50  /* rows per side of an instrument's book (reqMktDepth rows 1..50) */

/* ---- configuration ----------------------------------------------------------------------------- */
typedef struct simConfig {
    const char *host;
    int port;                    /* 0 = pick a free one (printed on stdout) */
    int control_port;            /* -1 = off, 0 = pick a free one */
    uint64_t seed;
    char accounts[SIM_MAX_ACCOUNTS][32];
    int n_accounts;
    int server_version;          /* the highest version claimed (<= 176) */
    double tick_rate;            /* quote updates per second per subscribed instrument */
    int tick_period_ms;          /* tick timer period: each client's due updates go out in one write */
    int max_lines;
    int max_clients;
    int rate_limit;              /* messages per second per client before error 100 */
    int rate_strikes;            /* seconds with a violation (within 10 s) before a disconnect */
    bool hist_pacing;
    int hist_update_ms;          /* keepUpToDate cadence */
    int summary_interval_s;      /* account summary / updates refresh */
    double start_cash;
    int extra_stocks;            /* synthetic stocks SIM0001.. added to the universe */
    int max_depth;               /* simultaneous reqMktDepth (all clients), error 309 past it */
    int max_tick_by_tick;        /* simultaneous reqTickByTickData (all clients), 10190 past it */
    int tbt_pacing_s;            /* one tick-by-tick request per instrument per N s (322); 0 = off */
} simConfig;

/* ---- instruments --------------------------------------------------------------------------------- */
typedef enum simSession { SIM_SESS_STK = 0, SIM_SESS_FUT, SIM_SESS_FX } simSession;

typedef struct simInstrument {
    int index;
    int64_t con_id, under_con_id;
    char symbol[16], sec_type[8], exchange[16], primary_exchange[16], currency[8];
    char local_symbol[24], trading_class[16], last_trade_date[16], contract_month[8];
    char multiplier[8], long_name[64], valid_exchanges[64], industry[32], category[32];
    char under_symbol[16], under_sec_type[8];
    double min_tick, base_price, mult, daily_volume;
    simSession session;
    /* live walk (deterministic: advances only while someone needs it) */
    uint64_t rng;
    uint64_t steps;
    double step_acc;
    int64_t bid_t, ask_t, last_t, high_t, low_t, open_t, close_t;   /* in ticks */
    double bid_size, ask_size, last_size, volume;
    int64_t last_time;
    int kind;                    /* what the last step changed: 0 bid, 1 ask, 2 trade */
    bool new_high, new_low;
    int lines;                   /* streaming subscriptions (all connections) */
    int working_orders;
    /* order book (sim_depth.c): kept while depth_subs > 0, from its own PRNG so the walk above
     * stays the same whoever watches the book */
    int depth_subs, tbt_subs;
    bool book_valid;
    uint64_t book_rng;
    int64_t book_best_t[2];                      /* [IB_DEPTH_ASK], [IB_DEPTH_BID] */
    double book_size[2][SIM_DEPTH_MAX_ROWS];     /* row k is best -/+ k ticks */
    uint64_t tbt_last_req_ms;                    /* the 15 s rule (tbt_pacing_s) */
} simInstrument;

/* ---- accounts, orders, executions ---------------------------------------------------------------- */
typedef struct simPosition { int inst; double qty, avg_price, realized; } simPosition;

typedef struct simAccount {
    char id[32];
    double cash, realized, commissions;
    simPosition *pos;
    int n_pos, cap_pos;
} simAccount;

typedef struct simOrder {
    int64_t order_id, client_id, perm_id, parent_id;
    int inst;
    char action[8], order_type[12], tif[8], account[32], order_ref[64], oca_group[32];
    double qty, lmt, aux, filled, avg_price, last_fill, commission;
    bool outside_rth, hidden, triggered, working;
    bool forgotten;              /* dropped by `newday`: listed nowhere, its id stays used */
    char status[16];
    char completed_time[56];     /* set when the order ends (Filled, Cancelled, Inactive) */
    char completed_status[176];  /* "Filled Size: 100", "Cancelled by Trader", "Rejected: ..." */
} simOrder;

typedef struct simExec {
    char exec_id[40], account[32], side[4], order_ref[64], time[40];
    int64_t order_id, client_id, perm_id, epoch;
    int inst;
    double shares, price, cum_qty, avg_price, commission, realized;
} simExec;

/* ---- connections --------------------------------------------------------------------------------- */
typedef enum simConnState { SIM_CONN_HANDSHAKE = 0, SIM_CONN_AWAIT_START, SIM_CONN_READY } simConnState;

typedef struct simMktSub {
    int64_t req_id;
    int inst;                    /* for an option: its underlying */
    bool snapshot;
    int md_type;
    char generic[64];
    bool option;                 /* an option of inst's chain (sim_options.c) */
    char right;                  /* 'C' / 'P' */
    double strike;
    int64_t expiry;              /* yyyymmdd */
} simMktSub;
typedef struct simHistSub {
    int64_t req_id; int inst; int bar_secs; int format_date; bool use_rth; char what[24];
} simHistSub;
typedef struct simRtbSub { int64_t req_id; int inst; int what; bool use_rth; int64_t next_start; } simRtbSub;
typedef struct simSumSub { int64_t req_id; char tags[512]; } simSumSub;
/* A depth subscription and the rows this client has been sent (its copy of the book). */
typedef struct simDepthRow { int64_t price_t; double size; } simDepthRow;
typedef struct simDepthSub {
    int64_t req_id;
    int inst;
    int rows;
    bool smart;                  /* SMART depth: updateMktDepthL2 with market makers */
    int n[2];
    simDepthRow view[2][SIM_DEPTH_MAX_ROWS];
} simDepthSub;
typedef struct simTbtSub {
    int64_t req_id;
    int inst;
    int type;                    /* ibTickByTickType */
    bool ignore_size;
    int64_t last_bid_t, last_ask_t;  /* what was last sent (BidAsk, MidPoint) */
    double last_bid_size, last_ask_size;
} simTbtSub;

/* P&L and multi-account subscriptions (sim_pnl.c): reqPnL, reqPnLSingle, reqPositionsMulti,
 * reqAccountUpdatesMulti. `last` is what a P&L subscription was last sent (pushed again on change). */
typedef struct simPnl { double daily, unrealized, realized, position, value; } simPnl;
typedef enum simPnlKind { SIM_PNL_ACCOUNT = 0, SIM_PNL_SINGLE, SIM_PNL_POSITIONS, SIM_PNL_VALUES } simPnlKind;
typedef struct simPnlSub {
    int64_t req_id;
    simPnlKind kind;
    int acct;                    /* index in srv->accounts; -1 = every account (positions) */
    int inst;                    /* SIM_PNL_SINGLE */
    bool sent;
    simPnl last;
} simPnlSub;

typedef struct simServer simServer;

typedef struct simConn {
    uv_tcp_t tcp;
    simServer *srv;
    struct simConn *next;
    uint64_t serial;
    char peer[64];
    ibFramer *framer;
    ibWriter out;
    simConnState state;
    int sv;
    int64_t client_id;
    bool closing;
    int md_type;
    simMktSub *subs; int n_subs, cap_subs;
    simHistSub *hsubs; int n_hsubs, cap_hsubs;
    simSumSub *sums; int n_sums, cap_sums;
    simDepthSub *dsubs; int n_dsubs, cap_dsubs;
    simTbtSub *tsubs; int n_tsubs, cap_tsubs;
    simRtbSub *rsubs; int n_rsubs, cap_rsubs;
    int64_t scans[SIM_MAX_SCANS]; int n_scans;   /* scanner subscriptions (sim_discovery.c) */
    simPnlSub *psubs; int n_psubs, cap_psubs;
    bool pos_sub;
    bool acct_sub;
    char acct_sub_id[32];
    /* rate limit: timestamps (ms) of the last rate_limit messages, and recent violations */
    uint64_t *rate_ring; int rate_pos, rate_fill;
    uint64_t last_violation_ms;
    uint64_t strikes[8]; int n_strikes;
} simConn;

/* Per-connection counters of the last SIM_CONN_HIST connections (stats "conns"): who sent what, kept
 * after the connection closed (the HA tests check a fenced client sent nothing after a pause). */
#define SIM_CONN_HIST 64
typedef struct simConnHist {
    uint64_t serial;             /* 0 = unused slot */
    int64_t client_id;
    char peer[64];
    uint64_t msgs, bytes;        /* requests decoded / bytes read from this connection */
    uint64_t opened_ms, last_msg_ms, closed_ms; /* loop time (uv_now); 0 = not yet */
} simConnHist;

typedef struct simInject { int code; int req_type; } simInject;
typedef struct simCodeCount { int code; uint64_t n; } simCodeCount;

typedef struct simHistRecord { uint64_t t_ms; uint64_t key; uint64_t contract_key; } simHistRecord;

struct simServer {
    uv_loop_t *loop;
    simConfig cfg;
    /* listener */
    uv_tcp_t listener;
    bool listening;
    int bound_port;
    uv_timer_t restart_timer;
    /* connections */
    simConn *conns;
    int n_conns;
    uint64_t conn_serial;
    simConnHist conn_hist[SIM_CONN_HIST];  /* slot serial % SIM_CONN_HIST */
    /* universe */
    simInstrument *insts;
    int n_insts;
    /* accounts and orders */
    simAccount accounts[SIM_MAX_ACCOUNTS];
    int n_accounts;
    simOrder *orders; int n_orders, cap_orders;
    simExec *execs; int n_execs, cap_execs;
    uint64_t exec_seq;           /* execution ids keep counting across `newday` */
    int64_t next_perm_id;
    int64_t max_order_id;
    /* historical pacing */
    simHistRecord *hist; int n_hist, cap_hist;
    /* timers and modes */
    uint64_t rtb_req_ms[60]; int rtb_req_pos;   /* the last 60 reqRealTimeBars (60 per 10 min) */
    uv_timer_t rtb_timer;
    uv_timer_t pnl_timer;        /* sim_pnl.c: pushes P&L once a second, as TWS does */
    uv_timer_t tick_timer, hist_timer, summary_timer, reset_timer, stall_timer;
    uv_signal_t sig_int, sig_term;
    uint64_t last_tick_ms;
    bool md_paused;
    int reset_code;
    bool stalled;
    /* control */
    uv_tcp_t control;
    int control_port;
    simInject inject[SIM_MAX_INJECT];
    int n_inject;
    /* counters */
    uint64_t stat_connections, stat_rejected_clients;
    uint64_t stat_requests[SIM_REQ_NAMES + 1];
    simCodeCount stat_errors[SIM_MAX_ERROR_CODES];
    uint64_t stat_orders, stat_fills, stat_ticks, stat_ticks_dropped, stat_hist_requests, stat_decode_errors;
    uint64_t stat_depth_ops, stat_depth_resets, stat_tbt_events, stat_rt_bars;
    uint64_t match_last_ms, match_min_gap_ms;    /* reqMatchingSymbols: last one, closest two (0 = none) */
    uint64_t stat_previews;                      /* what-if orders answered */
};

/* ---- sim_server.c ------------------------------------------------------------------------------- */
ibbStatus sim_serverStart(simServer *srv);
ibbStatus sim_listen(simServer *srv);
void sim_closeListener(simServer *srv);
void sim_closeConn(simConn *c, bool graceful, const char *reason);
void sim_closeAll(simServer *srv);
void sim_send(simConn *c, const ibReply *r, const ibBar *bars);
void sim_sendError(simConn *c, int64_t id, int code, const char *msg);
void sim_sendRaw(simConn *c, const void *data, size_t len);
void sim_flush(simConn *c);
void sim_flushAll(simServer *srv);
bool sim_connCongested(const simConn *c);
simConn *sim_findClient(simServer *srv, int64_t client_id);
uint64_t sim_nowMs(void);
int64_t sim_epoch(void);
void sim_countError(simServer *srv, int code);
const char *sim_requestName(int id);
void sim_formatTime(char *out, size_t cap, int64_t epoch, const char *fmt, bool utc_label);
void sim_stall(simServer *srv, int secs);

/* ---- sim_universe.c ----------------------------------------------------------------------------- */
ibbStatus sim_universeInit(simServer *srv);
void sim_universeFree(simServer *srv);
/* Finds the instruments matching a request contract; returns the count (up to max). */
int sim_matchContract(simServer *srv, const ibContract *c, int *out, int max);
/* One instrument or -1 after sending error 200 (id = req_id) for none / ambiguous. */
int sim_resolveContract(simConn *conn, const ibContract *c, int64_t req_id);
void sim_fillContract(const simInstrument *in, ibContract *c);
void sim_handleContractDetails(simConn *c, const ibReqContractDetails *r);
/* ET offset (seconds, negative) at epoch t: US/Eastern with US DST rules. */
int sim_etOffset(int64_t t);
/* The trading session (liquid hours when rth) of the ET local day `day`: 0 or 1 interval. */
int sim_sessionIntervals(const simInstrument *in, int64_t day, bool rth, int64_t out[2]);

/* ---- sim_market.c ------------------------------------------------------------------------------- */
uint64_t sim_splitmix(uint64_t *state);
uint64_t sim_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
void sim_marketInitInstrument(simServer *srv, simInstrument *in);
void sim_marketStart(simServer *srv);
void sim_handleMktData(simConn *c, const ibReqMktData *r);
void sim_handleCancelMktData(simConn *c, int64_t req_id);
void sim_handleMarketDataType(simConn *c, int64_t type);
void sim_dropConnMarketData(simConn *c);
void sim_dropAllMarketData(simServer *srv);
int sim_linesInUse(simServer *srv);
double sim_mid(const simInstrument *in);
double sim_tickPrice(const simInstrument *in, int64_t ticks);

/* ---- sim_depth.c -------------------------------------------------------------------------------- */
/* reqMktDepth / cancelMktDepth: a book per instrument moved with its quotes, sent as insert /
 * update / delete row operations (in 12, or in 13 with market makers for SMART depth); at most
 * cfg.max_depth subscriptions (309). */
void sim_handleMktDepth(simConn *c, const ibReqMktDepth *r);
void sim_handleCancelMktDepth(simConn *c, int64_t req_id);
/* reqTickByTickData / cancel: trades (Last, AllLast) and quotes (BidAsk, MidPoint) as they
 * happen; at most cfg.max_tick_by_tick (10190), one request per instrument per tbt_pacing_s (322). */
void sim_handleTickByTick(simConn *c, const ibReqTickByTick *r);
void sim_handleCancelTickByTick(simConn *c, int64_t req_id);
/* After a walk step of an instrument with depth or tick-by-tick subscribers. */
void sim_depthOnStep(simServer *srv, simInstrument *in);
/* Control port `depthreset`: error 317 on every depth subscription, then the book again from
 * inserts. Returns the number of subscriptions reset. */
int sim_depthReset(simServer *srv);
/* Control port `depthbook <symbol> [rows]`: ib-sim's book of a symbol with depth subscribers, its
 * first rows a side (default 10) as JSON {symbol, bids: [[price, size, market maker]..], asks}.
 * -1 when no subscription holds a book for it (or cap is too small). */
int sim_depthDump(const simServer *srv, const char *symbol, int rows, char *out, size_t cap);
/* Drops this connection's depth and tick-by-tick subscriptions (close, 1101). */
void sim_dropConnDepth(simConn *c);
int sim_depthInUse(const simServer *srv);
int sim_tickByTickInUse(const simServer *srv);

/* ---- sim_options.c ------------------------------------------------------------------------------ */
/* reqSecDefOptParams: the chain of a stock (SMART and CBOE, multiplier 100), then the End; 200 for
 * anything else. */
void sim_handleSecDefOptParams(simConn *c, const ibReqSecDefOptParams *r);
bool sim_isOptionContract(const ibContract *c);
/* An option of a stock's chain: fills sub's option fields and returns the underlying, or sends
 * 200 and returns -1. */
int sim_resolveOption(simConn *c, const ibContract *k, int64_t req_id, simMktSub *sub);
/* Turns the contractData of an underlying into that of its option opt (as sim_resolveOption filled it):
 * the option's conId (stable), OCC local symbol, strike, right, expiration, multiplier 100. */
void sim_optionDetails(const simInstrument *und, const simMktSub *opt, ibContractData *d);
/* An option's bid/ask and its computations (10, 11, 13; 12 too in the image) from Black-Scholes. */
void sim_optionTicks(simConn *c, const simMktSub *s, const simInstrument *und, bool image);

/* ---- sim_history.c ------------------------------------------------------------------------------ */
void sim_historyStart(simServer *srv);
void sim_handleHistorical(simConn *c, const ibReqHistoricalData *r);
void sim_handleCancelHistorical(simConn *c, int64_t req_id);
/* reqRealTimeBars (PROTOCOL.md §3.14): a 5-second bar when each 5 s of the clock ends, the same
 * bar the historical price path gives for that interval; each subscription is a market-data line
 * (101); more than 60 requests in 10 minutes -> 162 pacing; barSize other than 5 or an unknown
 * whatToShow -> 321. */
void sim_handleRealTimeBars(simConn *c, const ibReqRealTimeBars *r);
void sim_handleCancelRealTimeBars(simConn *c, int64_t req_id);
void sim_dropConnRealTimeBars(simConn *c);
int sim_realTimeBarsInUse(const simServer *srv);
/* The historical price function (deterministic in seed, instrument and time). */
double sim_histPrice(const simServer *srv, const simInstrument *in, int64_t t);

/* ---- sim_orders.c ------------------------------------------------------------------------------- */
void sim_handlePlaceOrder(simConn *c, const ibPlaceOrder *p);
void sim_handleCancelOrder(simConn *c, const ibCancelOrder *r);
void sim_handleGlobalCancel(simConn *c);
void sim_handleOpenOrders(simConn *c, bool all);
void sim_handleExecutions(simConn *c, const ibReqExecutions *r);
/* reqCompletedOrders: every client's orders of the current trading day that have ended (Filled,
 * Cancelled, Inactive), then completedOrdersEnd. All of ib-sim's orders are API orders, so
 * api_only changes nothing. */
void sim_handleCompletedOrders(simConn *c, bool api_only);
/* The control port's `newday`: the next trading day as IB Gateway shows it after its nightly
 * restart. Executions are forgotten; working orders other than GTC are cancelled silently and
 * forgotten; completed orders are forgotten unless keep_completed. Order ids, perm ids and
 * execution ids keep counting. Counts go to the out-parameters (may be NULL). */
void sim_ordersNewDay(simServer *srv, bool keep_completed, int *forgot_orders, int *forgot_execs,
                      int *kept_working, int *kept_completed);
/* After a walk step: fills and triggers resting orders on that instrument. */
void sim_ordersOnQuote(simServer *srv, int inst);
/* Pushes this client's working orders (after startApi). */
void sim_ordersReplay(simConn *c);
void sim_ordersFree(simServer *srv);

/* ---- sim_account.c ------------------------------------------------------------------------------ */
void sim_accountsInit(simServer *srv);
void sim_accountsFree(simServer *srv);
simAccount *sim_findAccount(simServer *srv, const char *id);
/* Books a fill: position, cash, realized P&L. Returns the realized P&L of this fill. */
double sim_accountFill(simServer *srv, simAccount *a, int inst, double signed_qty, double price,
                       double commission);
void sim_accountChanged(simServer *srv, simAccount *a, int inst);
void sim_handlePositions(simConn *c);
void sim_handleCancelPositions(simConn *c);
void sim_handleAccountSummary(simConn *c, const ibReqAccountSummary *r);
void sim_handleCancelAccountSummary(simConn *c, int64_t req_id);
void sim_handleAccountUpdates(simConn *c, const ibReqAccountUpdates *r);
void sim_accountStart(simServer *srv);
const char *sim_managedAccounts(simServer *srv, char *buf, size_t cap);

/* ---- sim_preview.c, sim_discovery.c: what-if orders, symbol search, scanner (PROTOCOL.md §3.16-3.19) */
/* A what-if placeOrder (validated): two openOrders as IB sends them, the first with unset margins,
 * the second with margins from the account's positions at price px and the commission range around
 * `commission`. Creates no order and uses no order id. */
void sim_previewOrder(simConn *c, const ibPlaceOrder *p, int inst, double px, double commission);
void sim_handleMatchingSymbols(simConn *c, const ibReqMatchingSymbols *r);
void sim_handleScannerParams(simConn *c);
void sim_handleScanner(simConn *c, const ibReqScannerSubscription *r);
void sim_handleCancelScanner(simConn *c, int64_t req_id);
/* ib-sim's own ranking for scan_code over its stocks (instrument indexes, best first); the count
 * (at most max), or -1 for a scan code it does not know. */
int sim_scanRank(simServer *srv, const char *scan_code, double above_price, double below_price,
                 double above_volume, int *out, int max);

/* Account and position P&L in USD, rounded to the cent (what reqPnL / reqPnLSingle and the control
 * port's `pnl` report): unrealized from the mid price and the average cost; realized from closing
 * fills (the account's net of commissions, as its RealizedPnL value); daily = realized + unrealized
 * since ib-sim started (every position here was opened in this session). A position that never
 * closed anything has realized = IB_UNSET_DOUBLE (IB sends its unset value there). */
void sim_accountPnl(simServer *srv, const simAccount *a, simPnl *out);
void sim_positionPnl(simServer *srv, const simAccount *a, int inst, simPnl *out);
/* Sends the account values as accountUpdateMulti (req_id >= 0) or updateAccountValue (req_id < 0). */
void sim_sendAccountValues(simConn *c, const simAccount *a, int64_t req_id);

/* ---- sim_pnl.c ---------------------------------------------------------------------------------- */
/* reqPnL / reqPnLSingle (pushed on subscribe, after each fill and once a second),
 * reqPositionsMulti and reqAccountUpdatesMulti (full set, End, then changes), and their cancels. */
void sim_pnlDispatch(simConn *c, const ibRequest *req);
void sim_pnlOnChange(simServer *srv, const simAccount *a, int inst);
void sim_pnlStart(simServer *srv);

/* ---- sim_control.c ------------------------------------------------------------------------------ */
ibbStatus sim_controlStart(simServer *srv);
/* A pending injected error for this request type: sends it and returns true. */
bool sim_injectCheck(simConn *c, const ibRequest *req);

#endif
