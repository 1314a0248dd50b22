/* br_orders_int.h — what the files of the orders module share (not for other modules).
 *
 *   br_orders.c         the brModule table, the module's state and its life (init, IB up/down, stop,
 *                       fini, housekeeping), waiter lists and ledger-entry helpers
 *   br_orders_events.c  order maps in replies, ib.evt.order.<id> events, final idempotency records
 *   br_orders_place.c   ib.rpc.order.place: parse, risk, pricing, idempotency record, placeOrder, IB's ack
 *   br_orders_amend.c   ib.rpc.order.cancel / modify / list
 *   br_orders_ib.c      IB's order streams: openOrder, orderStatus, execDetails, commissionReport,
 *                       errors carrying an order id, reqAllOpenOrders
 *   br_orders_recon.c   reconciliation after every (re)connect and of records a crash left "pending"
 *   br_orders_store.c   the JetStream idempotency bucket and event stream (br_orders.h)
 *
 * Ownership: the module state (brOrders) hangs off b->mod[BR_MOD_ORDERS] and owns every placement
 * (m->placing), foreign order (m->foreign) and the brOrdExt of each ledger order (stOrder.user, indexed
 * in m->all). A brOrdWaiter owns its busRequest until it is answered and released. Everything runs on
 * the loop thread. */
#ifndef BR_ORDERS_INT_H
#define BR_ORDERS_INT_H

#include "br_orders.h"

/* One request waiting for an answer (lists are answered and freed together). */
typedef struct brOrdWaiter {
    busRequest *req;
    struct brOrdWaiter *next;
} brOrdWaiter;

typedef enum {
    BR_ORD_PL_LOOKUP,
    BR_ORD_PL_RESOLVE,
    BR_ORD_PL_PRICE,
    BR_ORD_PL_STORE,
    BR_ORD_PL_SENDING,                 /* the durable "sending" write is on its way */
    BR_ORD_PL_SENT,
    BR_ORD_PL_AWAIT_RECON
} brOrdPlState;

/* One placement per client_order_id (m->placing), so concurrent repeats share it. */
typedef struct brOrdPlacement {
    char cid[ST_CLIENT_ORDER_ID_MAX + 1];
    brOrdPlState state;
    brOrdWaiter *waiters;
    char key[ST_KEY_MAX];
    char side[8], type[12], tif[8], account[32];
    double qty, lmt, aux;              /* IB_UNSET_DOUBLE when none */
    bool outside_rth;
    stInstrumentSpec spec;
    int64_t order_id;
    uint64_t link_gen;                 /* the IB connection the order id belongs to */
    bool snap_wait;                    /* waiting for br_quoteSnapshot(key) to price a market order */
    char price_note[240];              /* why a market order has no reference price (for the reply) */
    brOrdRecord rec;                   /* BR_ORD_PL_AWAIT_RECON: the stored record */
} brOrdPlacement;

typedef struct brOrdExt {              /* stOrder.user */
    stInstrumentSpec spec;
    bool has_spec;
    brOrdPlacement *pl;                /* until IB acknowledged the placement */
    brOrdWaiter *cancel_w, *modify_w;
    double mod_qty, mod_lmt, mod_aux;  /* what the pending modification asked for */
    uint64_t send_seq;
    uint64_t seen_gen;                 /* reconciliation round that saw it at IB */
    double exec_cum;                   /* highest cumulative quantity in its executions */
    char pub_status[24];               /* last status event published */
    double pub_filled, pub_remaining;
    bool submitted_pub, recorded_final;
    bool outside_rth;                  /* as placed, or as IB's openOrder says: a modify sends it again */
    char rej_slug[24];                 /* IB refused the placement: a repeat gets the same error */
    char rej_msg[400];
    int rej_code;
} brOrdExt;

typedef struct brOrdCompleted {        /* one of IB's completed orders (reqCompletedOrders) */
    char status[24];
    double filled, remaining;
    int64_t perm_id;
} brOrdCompleted;

typedef struct brOrdForeign {          /* open orders of other client ids (ib.rpc.order.list only) */
    stOrder o;
    int64_t client_id;
} brOrdForeign;

typedef struct brOrders {
    brOrdStore *store;
    ibbMap *placing;                   /* cid -> brOrdPlacement* */
    ibbMap *exec_order;                /* exec_id -> (intptr) order id */
    ibbMap *foreign;                   /* "client:order" -> brOrdForeign* */
    ibbMap *all;                       /* order_id -> stOrder* with a brOrdExt (every ledger order) */
    stRisk *pre;                       /* risk limits without rate/notional (pre-checks) */
    uv_timer_t *timer;
    uint64_t link_gen, send_seq;
    /* reconciliation */
    bool recon_active, recon_done_once;
    uint64_t recon_gen, recon_seq;
    int recon_parts;                   /* open-order end, executions end, completed-orders end outstanding */
    ibbMap *completed;                 /* cid -> brOrdCompleted: IB's completed orders of this round */
    int64_t exec_req;
    bool oo_inflight, oo_for_recon;
    brOrdWaiter *list_waiters;
    char last_exec_time[24];           /* digits yyyymmddhhmmss of the newest execution */
    brOrdRecord *orphans;              /* pending records left by a crash */
    size_t n_orphans;
    bool orphans_known;
    bool repaired;                     /* the records an earlier run left unfinished are settled */
    size_t orphans_found;              /* how many the startup scan found */
    ibbMap *settling;                  /* cid -> orphans waiting for stream evidence or their durable write */
} brOrders;

static inline brOrders *brOrd_mod(const brBridge *b) { return b->mod[BR_MOD_ORDERS]; }
static inline brOrdExt *brOrd_ext(const stOrder *o) { return o->user; }

/* ---- br_orders.c: helpers ---------------------------------------------------------------------- */
typedef enum { BR_ORD_HOOK_BEFORE_SEND, BR_ORD_HOOK_AFTER_SEND, BR_ORD_HOOK_AFTER_ACK } brOrdHook;
/* Calls brOptions.test_hook (crash tests; never set in the binary users run). */
void brOrd_testHook(brBridge *b, brOrdHook point, const char *cid);
/* Adds req to a list (on OOM answers `internal` and releases req). */
void brOrd_waiterAdd(brOrdWaiter **list, busRequest *req);
bool brOrd_allAnswered(const brOrdWaiter *w);
/* Answers every waiter with the error, releases and frees them; *list becomes empty. */
void brOrd_waitersError(brOrdWaiter **list, const char *slug, int ib_code, const char *msg);
const char *brOrd_apiType(const char *ib_type);   /* "STP LMT" -> "STP_LMT" */
bool brOrd_isWarning(int64_t code);               /* IB codes that do not fail an order */
/* The brOrdExt of a ledger order, created (and indexed in m->all) on first use; NULL on OOM. */
brOrdExt *brOrd_ensureExt(brBridge *b, stOrder *o);
/* The order terms a stored record holds (size, type, prices, tif) copied into t ("STP_LMT" -> "STP LMT"). */
void brOrd_termsFromRecord(stOrder *t, const brOrdRecord *r);
/* The placeOrder request for ledger order o (contract from x->spec): a placement sends the order's own
 * quantity and prices, a modification the new ones; every other field is the order's, so a modify
 * never drops one (outside_rth was). rq borrows o's strings. */
void brOrd_placeRequest(ibRequest *rq, const stOrder *o, const brOrdExt *x, double qty, double lmt,
                       double aux);
/* The ledger's open orders (malloc'd, caller frees; NULL when none), *n their count. */
stOrder **brOrd_openOrders(brBridge *b, size_t *n);
/* The placements in flight (malloc'd, caller frees), *n their count: safe to free them while walking. */
brOrdPlacement **brOrd_placements(brBridge *b, size_t *n);

/* ---- br_orders_events.c ------------------------------------------------------------------------ */
typedef struct brOrdEvtExtra {
    const ibExecDetails *fill;
    const ibCommissionReport *comm;
    int64_t ib_code;
    const char *message;
} brOrdEvtExtra;

/* The order map (schemas/order_list_reply.json "order") with room for `extra` more keys. */
void brOrd_packOrder(msgpack_packer *pk, const stOrder *o, const brOrdExt *x, int extra);
/* Replies {order_id, client_order_id, status, duplicate[, note]}. Does not release req. */
void brOrd_replyPlaced(busRequest *req, int64_t order_id, const char *cid, const char *status, bool duplicate,
                       const char *note);
/* Publishes one ib.evt.order.<id> event (e may be NULL). */
void brOrd_publishEvent(brBridge *b, const stOrder *o, const char *type, const char *event_id,
                        const brOrdEvtExtra *e);
/* Publishes o's state when it changed since the last event; answers cancel/modify waiters of an
 * order that ended. */
void brOrd_publishStatus(brBridge *b, stOrder *o, int64_t ib_code, const char *message);
/* The store's durable write of cid finished (stored: what the bucket now holds; NULL deleted). */
void brOrd_onWritten(brBridge *b, const char *cid, const brOrdRecord *stored);
/* Writes o's idempotency record in `state` (slug/msg/ib_code: why IB rejected it), durably; the
 * order counts as recorded final only once the server acknowledged it (brOrd_onWritten). */
void brOrd_storeFinal(brBridge *b, stOrder *o, const char *state, const char *slug, const char *msg,
                      int ib_code);

/* ---- br_orders_place.c ------------------------------------------------------------------------- */
void brOrd_onPlace(busRequest *req, void *arg);   /* ib.rpc.order.place */
void brOrd_placementFree(brBridge *b, brOrdPlacement *p);   /* releases its waiters unanswered */
void brOrd_placementAnswer(brBridge *b, brOrdPlacement *p, int64_t order_id, const char *status,
                           bool duplicate, const char *note);
/* The durable "sending" record of p was written (or not): sends p's order, or answers from stored. */
void brOrd_placementWritten(brBridge *b, brOrdPlacement *p, const brOrdRecord *stored);
/* IB acknowledged o: answers and frees its placement, records "acked". */
void brOrd_placementAcked(brBridge *b, stOrder *o);
/* A stored record answers the placement, or parks it until reconciliation (BR_ORD_PL_AWAIT_RECON). */
void brOrd_settleRecord(brBridge *b, const brOrdRecord *rec, brOrdPlacement *p);
/* Timer tick: drops parked placements nobody waits for. */
void brOrd_placeHousekeep(brBridge *b);
/* Request helpers shared with br_orders_amend.c: each returns false after answering and releasing. */
bool brOrd_bad(busRequest *req, const char *fmt, const char *a);
bool brOrd_readOnly(brBridge *b, busRequest *req);   /* true (after answering) when read_only */
bool brOrd_priceField(busRequest *req, const msgpack_object *body, const char *field, bool required,
                      double *out);
double brOrd_bookPrice(brBridge *b, const char *key);   /* NAN when the book has no price */

/* ---- br_orders_amend.c ------------------------------------------------------------------------- */
void brOrd_onCancel(busRequest *req, void *arg);  /* ib.rpc.order.cancel */
void brOrd_onModify(busRequest *req, void *arg);  /* ib.rpc.order.modify */
void brOrd_onList(busRequest *req, void *arg);    /* ib.rpc.order.list */
/* Answers every waiter with o (slug NULL) or the error, releases and frees them. */
void brOrd_answerWaiters(brOrdWaiter **list, const stOrder *o, const char *slug, const char *msg);
/* o ended: answers its pending cancel/modify. */
void brOrd_answerCancelModify(brBridge *b, stOrder *o);
/* Answers the list requests waiting for openOrderEnd, from the ledger. */
void brOrd_answerLists(brBridge *b);

/* ---- br_orders_ib.c ---------------------------------------------------------------------------- */
bool brOrd_onReply(brBridge *b, const ibReply *r);      /* brModule.on_reply */
bool brOrd_onOrderError(brBridge *b, const ibError *e); /* brModule.on_order_error */
/* reqAllOpenOrders unless one is in flight (for_recon: its end completes a reconciliation part). */
bool brOrd_requestOpenOrders(brBridge *b, bool for_recon);

/* ---- br_orders_recon.c ------------------------------------------------------------------------- */
void brOrd_reconStart(brBridge *b);      /* IB ready: reqAllOpenOrders + reqExecutions */
void brOrd_reconPartDone(brBridge *b);   /* one of the parts ended */
/* IB's completedOrder / completedOrdersEnd (the reconciler's reqCompletedOrders); true when handled. */
bool brOrd_reconOnReply(brBridge *b, const ibReply *r);
/* Settles the records an earlier run left unfinished (m->orphans; after a full reconciliation). */
void brOrd_settleOrphans(brBridge *b);
/* Settles one unfinished record now (a repeat met it after a full reconciliation). */
void brOrd_settleNow(brBridge *b, const brOrdRecord *r);
/* Puts r back on m->orphans: the housekeeping tick settles it again (the stream did not answer). */
void brOrd_settleLater(brBridge *b, const brOrdRecord *r);
/* A durable write finished (brOrd_onWritten): an orphan being settled answers its parked repeats. */
void brOrd_orphanWritten(brBridge *b, const char *cid, const brOrdRecord *stored);
/* Sets m->repaired once nothing an earlier run left is unsettled. */
void brOrd_checkRepaired(brBridge *b);

#endif
