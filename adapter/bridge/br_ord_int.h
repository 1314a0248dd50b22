/* br_ord_int.h — what the files of the orders module share (not for other modules).
 *
 * The files, top to bottom; calls run downward only:
 *   br_orders.c      the module glue: brModule table, state, life (init, IB up/down, stop, fini,
 *                    housekeeping), and the wiring of the news that travels up (brOrdUp, below)
 *   br_ord_place.c   request handlers: ib.rpc.order.place (parse, risk, pricing, records, placeOrder)
 *   br_ord_amend.c                     ib.rpc.order.cancel / modify / list
 *   br_ord_req.c     what both handlers use: waiter lists, field checks, replies, the placeOrder request
 *   br_ord_recon.c   the reconciler: every IB (re)connect (open orders, executions, completed orders) and
 *                    the records an earlier run left unfinished (IB, then the order stream)
 *   br_ord_ib.c      IB's order streams: openOrder, orderStatus, execDetails, commissionReport, errors
 *                    carrying an order id, reqAllOpenOrders
 *   br_ord_ledger.c  the durable ledger, the one owner of an order's state: ledger entries, events
 *                    (ib.evt.order.<id>), the order's idempotency record
 *   br_ord_store.c   JetStream: the idempotency bucket (durable, revision-checked writes) and the stream
 * request handlers -> reconciler -> ledger/store; IB events -> ledger/store. What a lower file learns that
 * a handler waits for (IB acknowledged an order, refused it, an order changed, a round ended) goes up
 * through m->up, function pointers br_orders.c fills with the handlers' functions.
 *
 * Ownership: the module state (brOrders) hangs off b->mod[BR_MOD_ORDERS] and owns every placement
 * (m->placing), foreign order (m->foreign) and the brOrdExt of each ledger order (stOrder.user, indexed
 * in m->all). A brOrdWaiter owns its busRequest until it is answered and released. Everything runs on
 * the loop thread. */
#ifndef BR_ORD_INT_H
#define BR_ORD_INT_H

#include "br_ord_store.h"

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
    BR_ORD_PL_SENDING,                 /* the durable "sending" write is on its way (send_ready: it landed) */
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
    bool send_ready;                   /* "sending" is durable: it goes to IB once every lower id went */
    uint64_t link_gen;                 /* the IB connection the order id belongs to */
    bool snap_wait;                    /* waiting for br_quoteSnapshot(key) to price a market order */
    char price_note[240];              /* why a market order has no reference price (for the reply) */
    brOrdRecord rec;                   /* BR_ORD_PL_AWAIT_RECON: the stored record */
    uint64_t t0_ns;                    /* uv_hrtime when the request arrived (round-trip histogram) */
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

/* News for the request handlers, from the layers below them (filled by br_orders.c). */
typedef struct brOrdUp {
    /* o's placement can be answered: IB acknowledged it, or it ended (note: why, or NULL). */
    void (*answer)(brBridge *b, stOrder *o, const char *note);
    /* IB refused o's placement: its waiters get the error. */
    void (*refused)(brBridge *b, stOrder *o, const char *slug, const char *msg, int ib_code);
    /* o changed (status or terms): a pending cancel or modification may be settled. */
    void (*changed)(brBridge *b, stOrder *o);
    /* An IB error about o: true when a pending cancel or modification took it. */
    bool (*amend_error)(brBridge *b, stOrder *o, const ibError *e);
    /* A reconciliation round ended: repeats parked until then are looked at again. */
    void (*recon_done)(brBridge *b);
} brOrdUp;

#define BR_ORD_RTT_NBUCKETS 12

typedef struct brOrdPreview brOrdPreview;       /* br_ord_preview.c */
typedef struct brOrdCompletedQ brOrdCompletedQ; /* br_ord_completed.c */
typedef struct brOrdExecQuery brOrdExecQuery;   /* br_ord_executions.c */
/* Risk limits per account (br_ord_risk_accounts.c). */
typedef struct brOrdAcctRisk brOrdAcctRisk;
/* Parses risk.account_limits items; IBB_ERR_INVALID_ARG (logged, naming the item) when one is malformed. */
ibbStatus brOrd_acctRiskCreate(brOrdAcctRisk **out, const char *const *items, size_t n);
void brOrd_acctRiskDestroy(brOrdAcctRisk *r);
/* The order's account's limits (the only managed account when account is ""); IBB_OK when it has none.
 * On a refusal msg holds a sentence naming the limit and the account. */
ibbStatus brOrd_acctRiskCheck(brBridge *b, brOrdAcctRisk *r, const char *account, const stRiskOrder *o,
                              char *msg, size_t cap);

typedef struct brOrders {
    brOrdUp up;
    brOrdAcctRisk *acct_risk;          /* risk.account_limits */
    brOrdStore *store;
    ibbMap *placing;                   /* cid -> brOrdPlacement* */
    ibbMap *exec_order;                /* exec_id -> (intptr) order id */
    ibbMap *foreign;                   /* "client:order" -> brOrdForeign* */
    ibbMap *all;                       /* order_id -> stOrder* with a brOrdExt (every ledger order) */
    stRisk *pre;                       /* risk limits without rate/notional (pre-checks) */
    uv_timer_t *timer;
    uint64_t link_gen, send_seq;
    bool flushing, flush_again, closing; /* the in-order send queue (br_ord_place.c brOrd_placeFlush) */
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
    /* for ib.rpc.status (orders.final, orders.ack_rtt): orders that reached a final status, and the time
     * from a place request to IB's acknowledgement, in BR_ORD_RTT_BOUNDS_MS buckets (not cumulative) */
    uint64_t final_filled, final_cancelled, final_rejected;
    uint64_t rtt_buckets[BR_ORD_RTT_NBUCKETS + 1], rtt_count;
    double rtt_sum_s;
    brOrdPreview *previews;            /* ib.rpc.order.preview in flight (br_ord_preview.c) */
    brOrdCompletedQ *completed_q;      /* ib.rpc.order.completed (br_ord_completed.c) */
    brOrdExecQuery *exec_queries;      /* ib.rpc.executions in flight (br_ord_executions.c) */
} brOrders;

/* Upper bounds (ms) of the acknowledgement round-trip buckets; the last bucket is everything above. */
#define BR_ORD_RTT_BOUNDS_MS {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}
/* Records one place request → IB acknowledgement round trip. */
void brOrd_observeAck(brOrders *m, uint64_t ns);

static inline brOrders *brOrd_mod(const brBridge *b) { return b->mod[BR_MOD_ORDERS]; }
static inline brOrdExt *brOrd_ext(const stOrder *o) { return o->user; }

/* ---- br_ord_req.c: what the request handlers share ---------------------------------------------- */
typedef enum { BR_ORD_HOOK_BEFORE_SEND, BR_ORD_HOOK_AFTER_SEND, BR_ORD_HOOK_AFTER_ACK } brOrdHook;
/* Calls brOptions.test_hook (crash tests; never set in the binary users run). */
void brOrd_testHook(brBridge *b, brOrdHook point, const char *cid);
/* Adds req to a list (on OOM answers `internal` and releases req). */
void brOrd_waiterAdd(brOrdWaiter **list, busRequest *req);
bool brOrd_allAnswered(const brOrdWaiter *w);
/* Answers every waiter with the error, releases and frees them; *list becomes empty. */
void brOrd_waitersError(brOrdWaiter **list, const char *slug, int ib_code, const char *msg);
/* Replies {order_id, client_order_id, status, duplicate[, note]}. Does not release req. */
void brOrd_replyPlaced(busRequest *req, int64_t order_id, const char *cid, const char *status, bool duplicate,
                       const char *note);
/* The placeOrder request for ledger order o (contract from x->spec): a placement sends the order's own
 * quantity and prices, a modification the new ones; every other field is the order's, so a modify
 * never drops one (outside_rth was). rq borrows o's strings. */
void brOrd_placeRequest(ibRequest *rq, const stOrder *o, const brOrdExt *x, double qty, double lmt,
                       double aux);
/* Field checks: each returns false after answering and releasing. */
bool brOrd_bad(busRequest *req, const char *fmt, const char *a);
bool brOrd_readOnly(brBridge *b, busRequest *req);   /* true (after answering) when read_only */
bool brOrd_priceField(busRequest *req, const msgpack_object *body, const char *field, bool required,
                      double *out);
/* A quote's reference price: last, else the bid/ask midpoint, else the close; NAN when none. */
double brOrd_quotePrice(const stQuote *q);
double brOrd_bookPrice(brBridge *b, const char *key);   /* NAN when the book has no price */

/* ---- br_ord_place.c ----------------------------------------------------------------------------- */
void brOrd_onPlace(busRequest *req, void *arg);   /* ib.rpc.order.place */
void brOrd_placementFree(brBridge *b, brOrdPlacement *p);   /* releases its waiters unanswered */
/* The placements in flight (malloc'd, caller frees), *n their count: safe to free them while walking. */
brOrdPlacement **brOrd_placements(brBridge *b, size_t *n);
/* m->up.answer / refused / recon_done */
void brOrd_placeAnswer(brBridge *b, stOrder *o, const char *note);
void brOrd_placeRefused(brBridge *b, stOrder *o, const char *slug, const char *msg, int ib_code);
void brOrd_placeReconDone(brBridge *b);
/* A durable record write of cid finished: a placement waiting for it goes on or is answered. */
void brOrd_placeWritten(brBridge *b, const char *cid, const brOrdRecord *stored);
/* Sends, in order-id order, the placements whose "sending" record is durable (IB refuses a lower id
 * after a higher one); fails those whose IB link is gone. */
void brOrd_placeFlush(brBridge *b);
/* Timer tick: drops parked placements nobody waits for. */
void brOrd_placeHousekeep(brBridge *b);

/* Reads and checks a place body (client_order_id, instrument, side, qty, type, tif, prices, outside_rth,
 * account) into p; false after answering and releasing req. ib.rpc.order.preview uses it too. */
bool brOrd_parsePlace(busRequest *req, brOrdPlacement *p);

/* ---- br_ord_preview.c: ib.rpc.order.preview (a what-if placeOrder: no order, no record) ----------- */
void brOrd_onPreview(busRequest *req, void *arg);
/* What-if answers and errors (openOrder / orderStatus / errors carrying a preview's order id); true when
 * consumed. */
bool brOrd_previewOnReply(brBridge *b, const ibReply *r);
bool brOrd_previewOnError(brBridge *b, const ibError *e);
/* Sends the previews parked while a placement held an unsent (lower) order id. */
void brOrd_previewFlush(brBridge *b);
/* The IB link dropped (fail = answer ib_unavailable) or the module stops: every preview goes. */
void brOrd_previewDropAll(brBridge *b, const char *slug, const char *msg);

/* ---- br_ord_completed.c: ib.rpc.order.completed ---------------------------------------------------- */
void brOrd_onCompleted(busRequest *req, void *arg);
/* Sees every completedOrder / completedOrdersEnd before the reconciler (never consumes them). */
void brOrd_completedOnReply(brBridge *b, const ibReply *r);
/* The reconciler sent a reqCompletedOrders (its answer is not ours to collect). */
void brOrd_completedSent(brBridge *b);
void brOrd_completedDown(brBridge *b);   /* IB link dropped: waiters get ib_unavailable */
void brOrd_completedFini(brBridge *b);
/* An IB time ("20250924 01:21:07 America/New_York", "20250415  09:30:00", UTC/GMT or no zone = UTC) as
 * epoch s; 0 when not understood. */
int64_t brOrd_ibTimeEpoch(const char *s);

/* ---- br_ord_executions.c: ib.rpc.executions --------------------------------------------------------- */
void brOrd_onExecutions(busRequest *req, void *arg);
/* Sees every commissionReport before the order streams (never consumes it): a query's executions get
 * their commissions. */
void brOrd_execQueriesOnReply(brBridge *b, const ibReply *r);
void brOrd_execQueriesDrop(brBridge *b);   /* the module stops: every query answers unavailable */

/* ---- br_ord_amend.c ----------------------------------------------------------------------------- */
void brOrd_onCancel(busRequest *req, void *arg);  /* ib.rpc.order.cancel */
void brOrd_onModify(busRequest *req, void *arg);  /* ib.rpc.order.modify */
void brOrd_onList(busRequest *req, void *arg);    /* ib.rpc.order.list */
/* m->up.changed / amend_error */
void brOrd_amendChanged(brBridge *b, stOrder *o);
bool brOrd_amendError(brBridge *b, stOrder *o, const ibError *e);
/* Answers the list requests waiting for openOrderEnd, from the ledger. */
void brOrd_answerLists(brBridge *b);

/* ---- br_ord_recon.c ----------------------------------------------------------------------------- */
void brOrd_reconStart(brBridge *b);      /* IB ready: reqAllOpenOrders, reqCompletedOrders, reqExecutions */
void brOrd_reconPartDone(brBridge *b);   /* one of the parts ended */
/* IB's completedOrder / completedOrdersEnd (the reconciler's reqCompletedOrders); true when handled. */
bool brOrd_reconOnReply(brBridge *b, const ibReply *r);
/* Settles the records an earlier run left unfinished (m->orphans; after a full reconciliation). */
void brOrd_settleOrphans(brBridge *b);
/* Settles one unfinished record now (a repeat met it after a full reconciliation). */
void brOrd_settleNow(brBridge *b, const brOrdRecord *r);
/* A durable record write of cid finished: an orphan being settled is settled. */
void brOrd_reconWritten(brBridge *b, const char *cid, const brOrdRecord *stored);
/* Sets m->repaired once nothing an earlier run left is unsettled. */
void brOrd_checkRepaired(brBridge *b);

/* ---- br_ord_ib.c -------------------------------------------------------------------------------- */
bool brOrd_onReply(brBridge *b, const ibReply *r);      /* openOrder, orderStatus, executions, commissions */
bool brOrd_onOrderError(brBridge *b, const ibError *e); /* brModule.on_order_error */
/* reqAllOpenOrders unless one is in flight (for_recon: its end completes a reconciliation part). */
bool brOrd_requestOpenOrders(brBridge *b, bool for_recon);

/* ---- br_ord_ledger.c ---------------------------------------------------------------------------- */
typedef struct brOrdEvtExtra {
    const ibExecDetails *fill;
    const ibCommissionReport *comm;
    int64_t ib_code;
    const char *message;
} brOrdEvtExtra;

const char *brOrd_apiType(const char *ib_type);   /* "STP LMT" -> "STP_LMT" */
bool brOrd_isWarning(int64_t code);               /* IB codes that do not fail an order */
/* The brOrdExt of a ledger order, created (and indexed in m->all) on first use; NULL on OOM. */
brOrdExt *brOrd_ensureExt(brBridge *b, stOrder *o);
/* The order terms a stored record holds (size, type, prices, tif) copied into t ("STP_LMT" -> "STP LMT"). */
void brOrd_termsFromRecord(stOrder *t, const brOrdRecord *r);
/* The ledger's open orders (malloc'd, caller frees; NULL when none), *n their count. */
stOrder **brOrd_openOrders(brBridge *b, size_t *n);
/* The order map (schemas/order_list_reply.json "order") with room for `extra` more keys. */
void brOrd_packOrder(msgpack_packer *pk, const stOrder *o, const brOrdExt *x, int extra);
/* Publishes one ib.evt.order.<id> event (e may be NULL). */
void brOrd_publishEvent(brBridge *b, const stOrder *o, const char *type, const char *event_id,
                        const brOrdEvtExtra *e);
/* Publishes o's state when it changed since the last event, records a terminal one, and tells the
 * handlers (m->up.changed). */
void brOrd_publishStatus(brBridge *b, stOrder *o, int64_t ib_code, const char *message);
/* Writes o's idempotency record in `state` (slug/msg/ib_code: why IB rejected it), durably; the
 * order counts as recorded final only once the server acknowledged it (brOrd_ledgerWritten). */
void brOrd_storeFinal(brBridge *b, stOrder *o, const char *state, const char *slug, const char *msg,
                      int ib_code);
/* A durable record write of cid finished (stored: what the bucket now holds; NULL deleted). */
void brOrd_ledgerWritten(brBridge *b, const char *cid, const brOrdRecord *stored);

#endif
