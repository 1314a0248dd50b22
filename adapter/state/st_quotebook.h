/* st_quotebook.h — merged level-1 state of every streamed instrument.
 *
 * Single-threaded (the loop thread). The book owns its stQuote records; a pointer returned by the
 * book stays valid until stQuoteBook_Remove of that key or stQuoteBook_Destroy.
 *
 * Batching contract: the session applies every tick decoded from one socket read with
 * stQuoteBook_Apply, then calls stQuoteBook_Flush once; each instrument touched in that read is
 * handed to the flush callback once, with its seq incremented. So ticks that arrive together
 * become one event, and no tick waits longer than the read it came in. */
#ifndef ST_QUOTEBOOK_H
#define ST_QUOTEBOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "ib_msgs.h"
#include "st_instrument.h"

typedef enum stMarketDataType {
    ST_MD_REALTIME = 1, ST_MD_FROZEN = 2, ST_MD_DELAYED = 3, ST_MD_DELAYED_FROZEN = 4
} stMarketDataType;

/* One option computation (IB's tickOptionComputation) of a side; NAN = IB did not compute it. */
typedef struct stGreeks {
    double implied_vol, delta, gamma, vega, theta, opt_price, und_price, pv_dividend;
} stGreeks;

typedef enum stGreeksSide { ST_GREEKS_BID, ST_GREEKS_ASK, ST_GREEKS_LAST, ST_GREEKS_MODEL, ST_GREEKS_SIDES } stGreeksSide;

typedef struct stQuote {
    char key[ST_KEY_MAX];
    stInstrumentSpec spec;           /* resolved contract (con_id set once known) */
    int64_t req_id;                  /* IB ticker id while subscribed, else 0 */
    /* NAN = IB has not sent it (or sent -1, "no price") */
    double bid, ask, last, bid_size, ask_size, last_size, volume, open, high, low, close;
    int market_data_type;            /* stMarketDataType */
    int64_t last_trade_ts;           /* epoch seconds; 0 = unknown */
    int halted;                      /* -1 unknown, 0, 1 */
    uint64_t seq;                    /* events published so far */
    int64_t recv_ts_ns;              /* receive time of the latest read that touched it */
    stGreeks greeks[ST_GREEKS_SIDES]; /* options: by stGreeksSide */
    uint8_t greeks_seen;             /* bit (1 << side) once IB sent that side's computation */
    int64_t status_ib_code;          /* last IB problem reported for this instrument, 0 = none */
    char status_msg[160];
    bool dirty;
    void *user;                      /* owner's per-instrument data (borrowed) */
} stQuote;

typedef struct stQuoteBook stQuoteBook;
typedef void (*stQuoteFlushFn)(void *ud, stQuote *q);

ibbStatus stQuoteBook_Create(stQuoteBook **out);
void stQuoteBook_Destroy(stQuoteBook *qb);
size_t stQuoteBook_Count(const stQuoteBook *qb);

/* Returns the record for key, creating it (with all prices unknown) when absent. NULL on OOM. */
stQuote *stQuoteBook_Add(stQuoteBook *qb, const char *key, const stInstrumentSpec *spec);
stQuote *stQuoteBook_Find(const stQuoteBook *qb, const char *key);
stQuote *stQuoteBook_FindByReqId(const stQuoteBook *qb, int64_t req_id);
void stQuoteBook_Remove(stQuoteBook *qb, const char *key);

/* Routes ticks of req_id to q (unbinding any previous id of q). */
ibbStatus stQuoteBook_Bind(stQuoteBook *qb, stQuote *q, int64_t req_id);
void stQuoteBook_Unbind(stQuoteBook *qb, stQuote *q);
/* Forgets every binding (after an IB reconnect every instrument is subscribed again). */
void stQuoteBook_UnbindAll(stQuoteBook *qb);

/* Applies a market-data reply (tickPrice/Size/String/Generic, marketDataType) addressed to a bound
 * req_id. Returns the quote it changed (now dirty), or NULL when the reply is not market data for
 * a bound id or changed nothing. */
stQuote *stQuoteBook_Apply(stQuoteBook *qb, const ibReply *r, int64_t recv_ts_ns);
/* Sets an instrument's IB status (code 0 clears it) and marks it dirty. */
void stQuote_SetStatus(stQuoteBook *qb, stQuote *q, int64_t ib_code, const char *message);
/* Calls fn for every dirty quote (seq incremented first), then clears the dirty set. */
size_t stQuoteBook_Flush(stQuoteBook *qb, stQuoteFlushFn fn, void *ud);

const char *stMarketDataType_Name(int type);

/* The side of an option-computation tick type (10/80 bid, 11/81 ask, 12/82 last, 13/83 model), or -1
 * for the others (53 custom, ...). */
int stGreeks_Side(int64_t tick_type);
/* The computation of one tick with every value IB leaves unset as NAN: IB_UNSET_DOUBLE, non-finite
 * values, and IB's own "not computed" sentinels (implied volatility < 0, delta / gamma / vega / theta
 * -2, option / underlying price and PV dividend -1) in case a decoder passed them through. */
void stGreeks_FromTick(stGreeks *g, const ibTickOptionComputation *t);
const char *stGreeksSide_Name(int side);      /* "bid", "ask", "last", "model" */  /* "realtime", "frozen", "delayed", "delayed_frozen" */

#endif
