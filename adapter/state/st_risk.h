/* st_risk.h — pre-trade safety rails, checked before anything reaches IB.
 *
 * Single-threaded; time passed in. The limits are a plain value owned by the caller (usually the
 * configuration); allowed_symbols is borrowed. A rejection names the limit it hit, so the reply
 * can tell a person which setting stopped the order. */
#ifndef ST_RISK_H
#define ST_RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"

typedef struct stRiskLimits {
    bool read_only;                    /* reject every order request */
    double max_order_qty;              /* 0 = no limit */
    double max_order_notional;         /* qty * reference price; 0 = no limit */
    const char *const *allowed_symbols;/* instrument keys or symbols; NULL / 0 = all */
    size_t n_allowed;
    int max_orders_per_minute;         /* 0 = no limit */
} stRiskLimits;

#define ST_RISK_MAX_RATE 10000

typedef struct stRisk {
    stRiskLimits lim;
    int64_t recent[ST_RISK_MAX_RATE];  /* ring of accepted-order times (ms) */
    int head, count;
} stRisk;

void stRisk_Init(stRisk *r, const stRiskLimits *limits);

typedef struct stRiskOrder {
    const char *key;                   /* instrument key, e.g. "AAPL" */
    const char *symbol;
    double qty;
    double ref_price;                  /* limit / stop price, or the last quote for MKT; NAN = unknown */
} stRiskOrder;

/* IBB_OK when the order may go (and it is counted for the rate limit), else IBB_ERR_LIMIT (or
 * IBB_ERR_STATE for read-only) with *limit set to the config key that stopped it ("read_only",
 * "max_order_qty", "max_order_notional", "allowed_symbols", "max_orders_per_minute") and a
 * sentence in msg. Modifications are checked with the new quantity and price too. */
ibbStatus stRisk_Check(stRisk *r, const stRiskOrder *o, int64_t now_ms, const char **limit, char *msg,
                       size_t cap);

#endif
