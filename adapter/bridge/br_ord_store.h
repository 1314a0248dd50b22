/* br_ord_store.h — the orders module's store (br_ord_store.c: the JetStream idempotency bucket and
 * event stream) as the module's other files use it; br_ord_int.h has the rest they share.
 * Not for use outside adapter/bridge/br_orders*.c. Loop thread unless stated. */
#ifndef BR_ORD_STORE_H
#define BR_ORD_STORE_H

#include "br_internal.h"
#include "bus_js.h"

/* One idempotency record (bucket value, JSON), by the order of its states (brOrdRecord_Rank):
 *   "pending"         recorded before anything was sent: the order has NOT been written to IB's socket
 *   "sending"         written (and acknowledged by the server) right before the order goes to the socket
 *   "unknown"         sent, but neither IB nor the order stream knows what became of it
 *   "acked"           IB acknowledged it; status is IB's (final once status is terminal)
 *   "rejected"        IB refused it (error_* tell why)
 *   "unacknowledged"  never sent to IB (positive evidence: it never left "pending"); a repeat does not
 *                     place it again, and a new client_order_id is safe
 * rev is the bucket revision the record was read at (0: not read from the bucket). */
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
    uint64_t rev;
} brOrdRecord;

/* 0 pending, 1 sending, 2 unknown, 3 acked (working), 4 final (acked terminal, rejected,
 * unacknowledged). A write never replaces a stored record of a higher rank. */
int brOrdRecord_Rank(const brOrdRecord *r);
/* Not final yet: a start must bring it up to date (pending, sending, unknown, acked but working). */
bool brOrdRecord_NeedsRepair(const brOrdRecord *r);

/* What the order stream holds last for one order id (reconciliation evidence). */
typedef struct brOrdEvidence {
    char client_order_id[ST_CLIENT_ORDER_ID_MAX + 1];
    char type[16], status[24];
    double filled, remaining, avg_fill_price;
    int64_t perm_id;
} brOrdEvidence;

typedef struct brOrdStore brOrdStore;

/* Called on the loop when a store operation finished. st: IBB_OK, IBB_ERR_NOT_FOUND (get),
 * or a failure (err says why). For create, *exists tells a repeat; rec holds the stored record
 * for get / create-that-existed. */
typedef void (*brOrdStoreFn)(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                             const char *err);
/* A durable write finished: stored is the record the bucket now holds for cid (NULL when deleted). */
typedef void (*brOrdWrittenFn)(brBridge *b, const char *cid, const brOrdRecord *stored);
/* The last order event of an order id: IBB_OK (ev set), IBB_ERR_NOT_FOUND, or IBB_ERR_IO. */
typedef void (*brOrdEvidenceFn)(brBridge *b, void *ctx, ibbStatus st, const brOrdEvidence *ev);
/* The order events stored since a time (brOrdStore_EventsSince): msgs[i] / lens[i] borrowed for the call;
 * first_ns the stream's oldest message (0 when empty); err says why on a failure. */
typedef void (*brOrdEventsFn)(brBridge *b, void *ctx, ibbStatus st, int64_t first_ns, char *const *msgs,
                              const size_t *lens, size_t n, const char *err);
/* Startup scan: the records not final yet (brOrdRecord_NeedsRepair), handed over once. */
typedef void (*brOrdOrphansFn)(brBridge *b, const brOrdRecord *recs, size_t n);
/* The store became ready (stream and bucket exist). */
typedef void (*brOrdReadyFn)(brBridge *b);

typedef struct brOrdStoreBacklog {
    size_t queued;               /* records whose latest write the server has not acknowledged */
    int64_t oldest_ms;           /* age of the oldest of them */
    uint64_t retries, conflicts; /* since start */
    char last_error[160];
} brOrdStoreBacklog;

ibbStatus brOrdStore_Create(brOrdStore **out, brBridge *b, brOrdReadyFn ready, brOrdOrphansFn orphans,
                            brOrdWrittenFn written);
void brOrdStore_Stop(brOrdStore *s);      /* graceful stop: no new setup attempts, timers off */
void brOrdStore_Destroy(brOrdStore *s);   /* after the loop: flushes unacked events (bounded) */
bool brOrdStore_Ready(const brOrdStore *s);
const char *brOrdStore_StreamName(const brOrdStore *s);
void brOrdStore_Backlog(const brOrdStore *s, brOrdStoreBacklog *out);

void brOrdStore_Get(brOrdStore *s, const char *cid, brOrdStoreFn fn, void *ctx);
/* Create-only "pending" record; a lost acknowledgment of our own write is told from a repeat. */
void brOrdStore_Create_(brOrdStore *s, const brOrdRecord *rec, brOrdStoreFn fn, void *ctx);
/* Durable, revision-checked write: queued per client_order_id, retried with backoff until the server
 * acknowledges it (through a NATS outage of any length); a stale write (lower rank than the stored
 * record) is dropped and the stored record stands. The store's `written` callback reports the outcome
 * once the record's queue is empty. created_ns 0 keeps the stored record's. */
void brOrdStore_Write(brOrdStore *s, const brOrdRecord *rec);
/* As brOrdStore_Write, for a record that must already exist (the reconciler settling one): when it is
 * gone (its writer took it back: never sent), nothing is written and `written` reports NULL. */
void brOrdStore_Settle(brOrdStore *s, const brOrdRecord *rec);
/* Durable delete of a record this process never sent (placement failed before the socket): done only
 * while the stored record is still pending or sending; retried like writes. */
void brOrdStore_Forget(brOrdStore *s, const char *cid);
/* The last event the order stream holds for order_id (fn on the loop). */
void brOrdStore_LastEvent(brOrdStore *s, int64_t order_id, brOrdEvidenceFn fn, void *ctx);
/* Every order event the stream stored at or after since_ns (at most max; fn on the loop). */
void brOrdStore_EventsSince(brOrdStore *s, int64_t since_ns, size_t max, brOrdEventsFn fn, void *ctx);

/* Publishes one order event (packed MessagePack) on <prefix>.evt.order.<order_id> through the stream
 * with Nats-Msg-Id = event_id, and its JSON mirror on <prefix>.json.evt.order.<order_id>. */
void brOrdStore_Publish(brOrdStore *s, int64_t order_id, const char *event_id, const char *mp, size_t len);

#endif
