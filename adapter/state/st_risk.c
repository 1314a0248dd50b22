/* st_risk.c — pre-trade checks; see st_risk.h. */
#include "st_risk.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void stRisk_Init(stRisk *r, const stRiskLimits *limits)
{
    memset(r, 0, sizeof *r);
    if (limits)
        r->lim = *limits;
    if (r->lim.max_orders_per_minute > ST_RISK_MAX_RATE)
        r->lim.max_orders_per_minute = ST_RISK_MAX_RATE;
}

__attribute__((format(printf, 6, 7))) static ibbStatus
reject(ibbStatus s, const char **limit, const char *name, char *msg, size_t cap, const char *fmt, ...)
{
    if (limit)
        *limit = name;
    if (msg && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return s;
}

static bool symbol_allowed(const stRiskLimits *l, const stRiskOrder *o)
{
    if (!l->allowed_symbols || l->n_allowed == 0)
        return true;
    for (size_t i = 0; i < l->n_allowed; i++)
        if ((o->key && strcmp(o->key, l->allowed_symbols[i]) == 0) ||
            (o->symbol && strcmp(o->symbol, l->allowed_symbols[i]) == 0))
            return true;
    return false;
}

/* Orders accepted in the last minute (drops older ones from the ring). */
static int recent_count(stRisk *r, int64_t now_ms)
{
    while (r->count > 0 && r->recent[r->head] <= now_ms - 60000) {
        r->head = (r->head + 1) % ST_RISK_MAX_RATE;
        r->count--;
    }
    return r->count;
}

ibbStatus stRisk_Check(stRisk *r, const stRiskOrder *o, int64_t now_ms, const char **limit, char *msg,
                       size_t cap)
{
    const stRiskLimits *l = &r->lim;
    if (l->read_only)
        return reject(IBB_ERR_STATE, limit, "read_only", msg, cap,
                      "ib-bridge runs with read_only = true: orders are refused");
    if (!(o->qty > 0) || !isfinite(o->qty))
        return reject(IBB_ERR_LIMIT, limit, "qty", msg, cap, "quantity must be a positive number");
    if (!symbol_allowed(l, o))
        return reject(IBB_ERR_LIMIT, limit, "allowed_symbols", msg, cap,
                      "this instrument is not in allowed_symbols");
    if (l->max_order_qty > 0 && o->qty > l->max_order_qty)
        return reject(IBB_ERR_LIMIT, limit, "max_order_qty", msg, cap,
                      "quantity %g is above max_order_qty %g", o->qty, l->max_order_qty);
    if (l->max_order_notional > 0) {
        if (!isfinite(o->ref_price) || o->ref_price <= 0)
            return reject(IBB_ERR_LIMIT, limit, "max_order_notional", msg, cap,
                          "max_order_notional is set and no reference price is known for this instrument: "
                          "send a limit price or subscribe to its quotes first");
        double notional = o->qty * o->ref_price;
        if (notional > l->max_order_notional)
            return reject(IBB_ERR_LIMIT, limit, "max_order_notional", msg, cap,
                          "notional %.2f is above max_order_notional %.2f", notional, l->max_order_notional);
    }
    if (l->max_orders_per_minute > 0 && recent_count(r, now_ms) >= l->max_orders_per_minute)
        return reject(IBB_ERR_LIMIT, limit, "max_orders_per_minute", msg, cap,
                      "%d orders in the last minute reach max_orders_per_minute %d", r->count,
                      l->max_orders_per_minute);
    if (l->max_orders_per_minute > 0) {
        r->recent[(r->head + r->count) % ST_RISK_MAX_RATE] = now_ms;
        r->count++;
    }
    return IBB_OK;
}
