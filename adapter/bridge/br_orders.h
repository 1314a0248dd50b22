/* br_orders.h — the orders module's store (br_orders_store.c: the JetStream idempotency bucket and
 * event stream) as the module's other files use it; br_orders_int.h has the rest they share.
 * Not for use outside adapter/bridge/br_orders*.c. Loop thread unless stated. */
#ifndef BR_ORDERS_H
#define BR_ORDERS_H

#include "br_internal.h"
#include "bus_js.h"

/* One idempotency record (bucket value, JSON). state: "pending" (written before IB saw the order),
 * "acked" (IB acknowledged it; status is IB's), "rejected" (IB refused it: error_* tell why),
 * "unacknowledged" (IB never saw it: resolved by reconciliation; a repeat does not place it again). */
typedef struct brOrdRecord {
    char client_order_id[ST_CLIENT_ORDER_ID_MAX + 1];
    int64_t order_id;
    char state[16];
    char status[24];
    char key[ST_KEY_MAX];
    char side[8];
    double qty;
    char order_type[12];
    double limit_price, stop_price;     /* IB_UNSET_DOUBLE when none */
    char tif[8];
    char account[32];
    char error_code[32];
    char error_message[300];
    int ib_code;
    int64_t created_ns, updated_ns;
} brOrdRecord;

typedef struct brOrdStore brOrdStore;

/* Called on the loop when a store operation finished. st: IBB_OK, IBB_ERR_NOT_FOUND (get),
 * or a failure (err says why). For create, *exists tells a repeat; rec holds the stored record
 * for get / create-that-existed. */
typedef void (*brOrdStoreFn)(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                             const char *err);
/* Startup scan: the records still "pending" (left by a crash), handed over once. */
typedef void (*brOrdOrphansFn)(brBridge *b, const brOrdRecord *recs, size_t n);
/* The store became ready (stream and bucket exist). */
typedef void (*brOrdReadyFn)(brBridge *b);

ibbStatus brOrdStore_Create(brOrdStore **out, brBridge *b, brOrdReadyFn ready, brOrdOrphansFn orphans);
void brOrdStore_Stop(brOrdStore *s);      /* graceful stop: no new setup attempts, retry timer off */
void brOrdStore_Destroy(brOrdStore *s);   /* after the loop: flushes unacked events (bounded) */
bool brOrdStore_Ready(const brOrdStore *s);
const char *brOrdStore_StreamName(const brOrdStore *s);

void brOrdStore_Get(brOrdStore *s, const char *cid, brOrdStoreFn fn, void *ctx);
void brOrdStore_Create_(brOrdStore *s, const brOrdRecord *rec, brOrdStoreFn fn, void *ctx);
/* Fire-and-forget update (logged on failure). */
void brOrdStore_Put(brOrdStore *s, const brOrdRecord *rec);
void brOrdStore_Delete(brOrdStore *s, const char *cid);

/* Publishes one order event (packed MessagePack) on <prefix>.evt.order.<order_id> through the stream
 * with Nats-Msg-Id = event_id, and its JSON mirror on <prefix>.json.evt.order.<order_id>. */
void brOrdStore_Publish(brOrdStore *s, int64_t order_id, const char *event_id, const char *mp, size_t len);

#endif
