/* st_orders.h — the order ledger: what ib-bridge knows about every order it placed or saw.
 *
 * Single-threaded (the loop thread). The ledger owns its stOrder records; pointers stay valid
 * until stOrders_Destroy (orders are never removed while the process lives: a finished order is
 * still needed to answer a retried request). IB's events are applied here first, and each apply
 * tells whether the event is new, so the owner publishes every status change, fill and
 * commission exactly once however often IB repeats itself (orderStatus repeats; a reconnect
 * replays open orders and executions). */
#ifndef ST_ORDERS_H
#define ST_ORDERS_H

#include <stdbool.h>
#include <stdint.h>

#include "ib_msgs.h"
#include "ibb_status.h"
#include "st_instrument.h"

#define ST_CLIENT_ORDER_ID_MAX 64

typedef struct stOrder {
    int64_t order_id;
    char client_order_id[ST_CLIENT_ORDER_ID_MAX + 1]; /* = IB orderRef; "" for foreign orders */
    char key[ST_KEY_MAX];
    char action[8];              /* BUY / SELL */
    double qty;
    char order_type[12];         /* MKT, LMT, STP, STP LMT */
    double lmt_price, aux_price; /* IB_UNSET_DOUBLE when none */
    char tif[8];
    char account[32];
    int64_t perm_id;
    char status[24];             /* IB's last status; "" before IB acknowledged */
    double filled, remaining, avg_fill_price, last_fill_price;
    bool acked;                  /* IB sent openOrder or orderStatus for it */
    bool terminal;               /* Filled, Cancelled, ApiCancelled, Inactive, and ib-bridge's Rejected,
                                  * Unacknowledged, Unknown (until IB says otherwise) */
    int64_t created_ms, updated_ms;
    void *user;
} stOrder;

typedef struct stOrders stOrders;

ibbStatus stOrders_Create(stOrders **out);
void stOrders_Destroy(stOrders *ol);
size_t stOrders_Count(const stOrders *ol);

/* Records an order about to be placed (not yet acked). IBB_ERR_INVALID_ARG when the order id or
 * the client order id is already known. */
ibbStatus stOrders_Add(stOrders *ol, const stOrder *tmpl, int64_t now_ms, stOrder **out);
stOrder *stOrders_ById(const stOrders *ol, int64_t order_id);
/* Moves o to another order id (e.g. out of the way of IB's own order under its old id).
 * IBB_ERR_INVALID_ARG when new_id is taken. */
ibbStatus stOrders_Rekey(stOrders *ol, stOrder *o, int64_t new_id);
stOrder *stOrders_ByClientId(const stOrders *ol, const char *client_order_id);

/* Applies openOrder: creates the record for an order placed elsewhere or before a restart (its
 * orderRef becomes its client order id), updates price/qty after a modify. *created tells. */
stOrder *stOrders_ApplyOpenOrder(stOrders *ol, const ibOpenOrder *oo, const char *key, int64_t now_ms,
                                 bool *created);
/* Applies orderStatus; true when status, filled or remaining changed (a new event). */
bool stOrders_ApplyStatus(stOrders *ol, const ibOrderStatus *st, int64_t now_ms, stOrder **out);
/* Marks an order terminal with a status of ours (e.g. "Rejected", "Unacknowledged"); true when
 * that changed something. */
bool stOrders_Finish(stOrders *ol, stOrder *o, const char *status, int64_t now_ms);

/* true the first time an exec id (or commission for it) is seen. */
bool stOrders_NewExec(stOrders *ol, const char *exec_id);
bool stOrders_NewCommission(stOrders *ol, const char *exec_id);

/* Iterates the orders that are not terminal (fn may not add orders). */
void stOrders_ForEachOpen(stOrders *ol, void (*fn)(void *ud, stOrder *o), void *ud);

bool stOrderStatus_IsTerminal(const char *status);

#endif
