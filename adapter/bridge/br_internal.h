/* br_internal.h — what the bridge's modules share. Not for use outside adapter/bridge/.
 *
 * The bridge is a set of modules, one file each, listed in br_modules (br_bridge.c):
 *   br_status.c     ib.rpc.status, ib.rpc.admin.*, ib.evt.conn, IB notices (1100/1101/1102, farms)
 *   br_contracts.c  instrument resolution (key -> conId, cached) and ib.rpc.contract
 *   br_quotes.c     leases, streaming quotes, snapshots: ib.rpc.subscribe/unsubscribe/quote, ib.quote.<key>
 *   br_queries.c    ib.rpc.candles (pacing governor), ib.rpc.positions, ib.rpc.account
 *   br_orders.c     ib.rpc.order.*, ib.rpc.executions, ib.evt.order.<id>, idempotency, reconciliation
 *   br_options.c    ib.rpc.options.chain / options.quotes: option chains (cached a day), chain slices
 *   br_streams.c    streams beyond level 1 on quote leases: ib.depth/ticks/bars.<key>, ib.rpc.depth
 *   br_discovery.c  ib.rpc.contract.search, ib.rpc.scanner.params, ib.rpc.scanner
 *   br_pnl.c        ib.pnl.<account> (every managed account), ib.pnl.<account>.<key> (leased), ib.rpc.pnl
 * A module owns its private state (b->mod[...]) and uses the shared state below. Everything runs
 * on the loop thread.
 *
 * IB request ids: every request that carries an id (market data, contract details, history,
 * account summary, executions) takes one from br_reqOpen. They start at BR_REQ_ID_BASE, far above
 * any order id, so an IB error's id tells a request from an order without a lookup.
 *
 * Reply routing (br_bridge.c): each module's on_reply sees every decoded message first, in table
 * order, and returns true when it consumed it; a message still unclaimed that carries a request id
 * goes to that id's brPendingOps. Errors: id -1 -> on_notice of every module; id >= BR_REQ_ID_BASE ->
 * the pending request's on_error; other ids -> on_order_error of every module. */
#ifndef BR_INTERNAL_H
#define BR_INTERNAL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "br_bridge.h"
#include "bus_obj.h"
#include "bus_service.h"
#include "ib_msgs.h"
#include "ibb_map.h"
#include "st_histgov.h"
#include "st_instrument.h"
#include "st_leases.h"
#include "st_orders.h"
#include "st_quotebook.h"
#include "st_risk.h"

#define BR_REQ_ID_BASE ((int64_t)1 << 30)

enum {
    BR_MOD_STATUS, BR_MOD_CONTRACTS, BR_MOD_QUOTES, BR_MOD_QUERIES, BR_MOD_ORDERS, BR_MOD_HA, BR_MOD_OPTIONS,
    BR_MOD_STREAMS, BR_MOD_DISCOVERY, BR_MOD_PNL, BR_MOD_COUNT
};

typedef struct brModule {
    const char *name;
    ibbStatus (*init)(brBridge *b);                       /* create private state, add endpoints */
    bool (*on_reply)(brBridge *b, const ibReply *r);      /* true = consumed */
    void (*on_notice)(brBridge *b, const ibError *e);     /* IB error with id -1 */
    bool (*on_order_error)(brBridge *b, const ibError *e);/* IB error with an order id; true = handled */
    void (*on_ib_ready)(brBridge *b);                     /* IB link became ready (again) */
    void (*on_ib_down)(brBridge *b);                      /* IB link left ready */
    void (*on_read_done)(brBridge *b);                    /* end of one socket read */
    void (*on_stop)(brBridge *b);                         /* graceful stop: cancel IB subscriptions */
    void (*fini)(brBridge *b);                            /* free private state */
} brModule;

extern const brModule br_statusModule, br_contractsModule, br_quotesModule, br_queriesModule, br_ordersModule,
    br_haModule, br_optionsModule, br_streamsModule, br_pnlModule;
extern const brModule br_discoveryModule; /* br_discovery.c: symbol search, scanner */

struct brBridge {
    uv_loop_t *loop;
    brOptions opt;
    char prefix[64];
    coreSession *ib;
    busConn *conn;          /* requests, JetStream, KV (nats.c's threads) */
    busConn *loop_conn;     /* quotes, events, replies: written by the loop each turn (bus_evloop.h) */
    busService *svc;
    busPublisher *quote_pub;          /* quotes, in opt.quote_mode */
    busPublisher *evt_pub;            /* events: MessagePack plus the JSON mirror */
    /* shared state, each created by the module named (NULL until then; status reads them) */
    stQuoteBook *book;                /* quotes */
    stLeases *leases;                 /* quotes */
    stHistGov *hist;                  /* queries */
    stOrders *orders;                 /* orders */
    stRisk risk;                      /* orders (initialised from opt.risk at Create) */
    /* IB request registry */
    ibbMap *pending;                  /* req_id -> brPending* */
    int64_t next_req_id;
    /* link state */
    bool ib_ready;
    bool ib_farm_down;                /* between 1100 and 1101/1102 */
    bool stopping;
    bool failed;                      /* stopped itself: a NATS connection closed for good */
    uint64_t started_ns;              /* uv_hrtime at Create */
    void *mod[BR_MOD_COUNT];          /* modules' private state */
    uv_mutex_t svc_lock;              /* guards svc_open for nats.c threads (br_onNatsEvent) */
    bool svc_open;
    void (*stop_done)(void *ud);
    void *stop_ud;
    busFence *ha_fence;               /* HA: freed after the connections that use it (br_ha.c) */
};

/* ---- IB request registry (br_bridge.c) -------------------------------------------------------- */
typedef struct brPendingOps {
    /* a message carrying this request id that no module consumed */
    void (*on_reply)(brBridge *b, int64_t req_id, const ibReply *r, void *ctx);
    /* IB error with id == req_id */
    void (*on_error)(brBridge *b, int64_t req_id, const ibError *e, void *ctx);
    /* the IB link dropped (or the bridge stops) while open: IB forgot the request */
    void (*on_lost)(brBridge *b, int64_t req_id, void *ctx);
} brPendingOps;

/* A fresh request id registered with ops/ctx (ops is borrowed: keep it static). -1 on OOM. */
int64_t br_reqOpen(brBridge *b, const brPendingOps *ops, void *ctx);
/* Forgets the id (no callback). Unknown ids are ignored. */
void br_reqClose(brBridge *b, int64_t req_id);
void *br_reqCtx(const brBridge *b, int64_t req_id);

/* ---- sending to IB (br_bridge.c) -------------------------------------------------------------- */
/* Sends through the session's pacer. IBB_ERR_STATE when the link is not ready. */
ibbStatus br_send(brBridge *b, const ibRequest *req);
/* Answers `unavailable`-style requests: true when IB is ready; otherwise replies ib_unavailable
 * (503) with the link state and returns false. */
bool br_requireIb(brBridge *b, busRequest *req);
/* Maps an IB error to a reply: 200 -> unknown_symbol, 162 pacing -> pacing, 201 -> order_rejected,
 * 354/10167/10168/10197 -> forbidden (no market data permission), 101 -> line_limit, others ->
 * ib_error; the message carries IB's text and code. */
ibbStatus br_replyIbError(busRequest *req, const ibError *e);

/* Answers req with the packed MessagePack reply in mp (NATS max payload checked in the request's
 * encoding: an oversized reply becomes a payload_too_large error naming the limit). Does not release
 * req. (br_queries.c) */
void br_replyChecked(brBridge *b, busRequest *req, const char *mp, size_t len);

/* ---- instruments (br_contracts.c) ------------------------------------------------------------- */
typedef struct brInstrument {
    char key[ST_KEY_MAX];             /* canonical key */
    stInstrumentSpec spec;            /* con_id set */
    double min_tick;
    char long_name[128];
    char time_zone[64];
    char *trading_hours, *liquid_hours; /* owned */
    char *order_types, *valid_exchanges; /* owned */
} brInstrument;

/* err_slug NULL = resolved (inst valid only during the call: copy what you keep). */
typedef void (*brResolveFn)(brBridge *b, void *ctx, const brInstrument *inst, const char *err_slug,
                            const char *err_msg, int ib_code);
/* Resolves a key to one contract (cached for the life of the process; concurrent resolutions of
 * one key share one IB request). fn may run before br_resolve returns (cache hit, bad key). */
void br_resolve(brBridge *b, const char *key, brResolveFn fn, void *ctx);
const brInstrument *br_instrument(const brBridge *b, const char *key);   /* cached or NULL */
/* The instrument key of a request body: "symbol" (a key such as "AAPL" or "FUT:ES:CME:USD:202512")
 * or "key", or a "contract" map {symbol, sec_type, exchange, currency, expiry, ...} / {con_id}.
 * On failure writes a sentence into err and returns IBB_ERR_INVALID_ARG / IBB_ERR_NOT_FOUND. */
ibbStatus br_keyFromBody(const msgpack_object *body, char *key, size_t cap, char *err, size_t errcap);
/* The record of a resolved contract that a hot standby loads (br_ha_leases.c): the contract details
 * plus the key it was looked up by; br_contractSeed puts one into the cache (IBB_ERR_CONFLICT when the
 * key is cached already, IBB_ERR_INVALID_ARG when the record is not one). */
void br_contractPack(msgpack_packer *pk, const char *lookup_key, const brInstrument *inst);
ibbStatus br_contractSeed(brBridge *b, const msgpack_object *rec);
/* A contract map (schemas/contract.json) into a spec; `full` also reads the fields a key does not carry. */
void br_specFromMap(const msgpack_object *c, stInstrumentSpec *spec, bool full);
/* Packs the full contract map (schemas/contract.json) of a spec. */
void br_packContract(msgpack_packer *pk, const stInstrumentSpec *spec);
/* Packs two map entries, "key" (the given one, else the contract's canonical key, else "@<conId>") and
 * "contract" (the full map), for an IB contract as a reply carries it. */
void br_packKeyContract(msgpack_packer *pk, const ibContract *c, const char *key);

/* ---- events (br_status.c) --------------------------------------------------------------------- */
/* busConnOptions.on_event: a NATS link change (nats.c thread) -> ib.evt.conn, via the loop. */
void br_onNatsEvent(busConn *c, busConnEvent ev, const char *detail, void *arg);
/* The loop-driven connection's events: only its end matters (its ups and downs follow the main one). */
void br_onLoopConnEvent(busConn *c, busConnEvent ev, const char *detail, void *arg);
/* Publishes an ib.evt.conn event (schemas/conn_event.json; ts 0 = now). Loop thread. */
void br_publishConnEvent(brBridge *b, const busConnEvt *ev);

/* ---- hot standby (br_ha.c; ha.enabled) -------------------------------------------------------- */
bool br_haEnabled(const brBridge *b);
/* True when this process may serve and hold IB: always without HA; with HA while it holds the lease. */
bool br_haActive(const brBridge *b);
/* HA start: $SRV only (role standby), the lease thread; the lease makes it active later. */
ibbStatus br_haStart(brBridge *b);
/* Graceful stop, after IB is disconnected: ha_standby event, lease released (deleted) at once. */
void br_haRelease(brBridge *b);
/* The "ha" map of ib.rpc.status (enabled, role, instance, epoch, leader_since_ns, takeovers). */
void br_haPackStatus(brBridge *b, msgpack_packer *pk);
/* Streaming leases in KV (br_ha_leases.c): the quotes module reports grants/renewals and ends; the HA
 * module loads them on becoming active. All no-ops without HA. */
void br_haLeaseSaved(brBridge *b, const char *lease_id);
void br_haLeaseEnded(brBridge *b, const char *lease_id);
/* A contract resolved while active: kept for the standbys (no-op without HA). */
void br_haContractResolved(brBridge *b, const char *lookup_key, const brInstrument *inst);
typedef struct brHaLeases brHaLeases;
ibbStatus brHaLeases_Create(brHaLeases **out, brBridge *b);
void brHaLeases_Destroy(brHaLeases *hl);
void brHaLeases_Saved(brHaLeases *hl, const char *lease_id);
void brHaLeases_Ended(brHaLeases *hl, const char *lease_id);
void brHaLeases_Load(brHaLeases *hl);
void brHaLeases_SaveContract(brHaLeases *hl, const char *lookup_key, const brInstrument *inst);
void brHaLeases_LoadContracts(brHaLeases *hl);
/* br_quotes.c: the lease table changed outside ib.rpc.subscribe (restored leases): re-arm expiry. */
void br_quotesLeasesChanged(brBridge *b);

/* br_bridge.c: a setting the NATS side cannot honour (e.g. nats.js_replicas above what a stream has and the
 * server refuses to raise it): one error line naming it, then a stop with a non-zero exit — never a bridge
 * that runs on weaker guarantees than configured. */
void br_refuseStart(brBridge *b, const char *what, const char *why);
/* ---- streams beyond level 1 (br_streams.c) ---------------------------------------------------- */
/* Leases of kind depth / ticks / bars live in b->leases beside the quote keys, under lease keys
 * "<kind>/<param>/<instrument key>"; the quotes module's lease hooks hand those to this module. */
typedef enum { BR_SK_DEPTH, BR_SK_TICKS, BR_SK_BARS, BR_SK_COUNT } brStreamKind;
bool br_streamsOwnsKey(const char *lease_key);
void br_streamsAcquire(brBridge *b, const char *lease_key);
void br_streamsRelease(brBridge *b, const char *lease_key);
/* ib.rpc.subscribe of another kind than quote (or renewing such a lease): true = answered here. */
bool br_streamsClaimSubscribe(busRequest *req, brBridge *b);
/* IB subscriptions held per kind (0 without the module). Depth and tick-by-tick are not
 * market-data lines; bars are. */
size_t br_streamsCount(const brBridge *b, brStreamKind kind);
/* The "streams" map of ib.rpc.status market_data (schemas/status_reply.json). */
void br_streamsPackStatus(const brBridge *b, msgpack_packer *pk);

/* ---- orders (br_orders.c) --------------------------------------------------------------------- */
/* The order store (JetStream stream + idempotency bucket) exists: orders can be placed. */
bool br_ordersReady(const brBridge *b);
/* The "orders" map of ib.rpc.status: store readiness, repair, the durable-write backlog. */
void br_ordersPackStatus(const brBridge *b, msgpack_packer *pk);

/* ---- snapshots (br_quotes.c) ------------------------------------------------------------------ */
/* slug NULL = answered: q holds the quote (borrowed: valid only during the call). On an error, q may
 * still hold what IB sent before it (slug "timeout": the partial snapshot), else q is NULL. Slugs:
 * line_limit, timeout, ib_unavailable, unavailable (stopping), internal, or IB's (unknown_symbol,
 * forbidden, ib_error, ...) with ib_code. */
typedef void (*brSnapFn)(brBridge *b, void *ctx, const stQuote *q, const char *slug, const char *msg,
                         int ib_code);
/* A level-1 quote of key for another module: from the live book while the instrument streams, else
 * from an IB snapshot, shared with every ib.rpc.quote and callback asking for the same key meanwhile
 * (one reqMktData per key in flight). A snapshot in flight counts as a market-data line: with leased
 * keys + snapshots in flight at ib.md_line_budget the answer is line_limit, IB never sees it.
 * fn runs once (possibly before this returns) unless cancelled; at the latest after timeout_ms. */
/* Snapshots in flight: each holds an IB market-data line until it ends (counted against the budget). */
size_t br_quoteSnapshotLines(const brBridge *b);
/* For ib.rpc.status: quote events published, quote KV writes sent and refused (0s without the module). */
void br_quoteCounters(const brBridge *b, uint64_t *events, uint64_t *kv_writes, uint64_t *kv_errors);
void br_quoteSnapshot(brBridge *b, const char *key, int64_t timeout_ms, brSnapFn fn, void *ctx);
/* Withdraws a pending br_quoteSnapshot (fn/ctx as given; key as given): fn will not run. A snapshot
 * nobody waits for any more is cancelled at IB. Unknown waits are ignored. */
void br_quoteSnapshotCancel(brBridge *b, const char *key, brSnapFn fn, void *ctx);
/* Packs a snapshot's quote map (schemas/quote_event.json, source "snapshot"; options with `greeks`). */
void br_packSnapshotQuote(msgpack_packer *pk, const stQuote *q);

/* ---- managed accounts (br_accounts.c) --------------------------------------------------------- */
/* Whether account is one of the login's managed accounts (exact, case-sensitive). */
bool br_accountManaged(const brBridge *b, const char *account);
int br_accountCount(const brBridge *b);
/* The i-th managed account into out; false past the end. */
bool br_accountNth(const brBridge *b, int i, char *out, size_t cap);
/* The request body's `account`: a managed account, or the only one when absent. false = answered
 * with an error (bad_request naming the managed accounts; ib_unavailable before IB named them);
 * does not release req. */
bool br_accountFromBody(brBridge *b, busRequest *req, char *out, size_t cap);

/* ---- P&L (br_pnl.c) ----------------------------------------------------------------------------- */
/* ib.rpc.subscribe with kind "pnl" (br_quotes_sub.c hands it over); answers and releases req. */
void br_pnlSubscribe(busRequest *req, brBridge *b);
/* Whether lease_id is a P&L lease (a renewal naming only lease_id goes to br_pnlSubscribe). */
bool br_pnlOwnsLease(const brBridge *b, const char *lease_id);
/* ib.rpc.unsubscribe of a P&L lease: true when lease_id was one (ended). */
bool br_pnlEndLease(brBridge *b, const char *lease_id);

/* ---- time ------------------------------------------------------------------------------------- */
int64_t br_nowMs(const brBridge *b);     /* monotonic ms (uv_now) */
int64_t br_wallNs(void);                 /* CLOCK_REALTIME ns */

/* ---- requests whose callers gave up (br_bridge.c, br_contracts.c) ------------------------------ */
/* True once the request with this open id left the pacer for IB. Until then, closing the id means it
 * is never sent: the session drops a queued request whose id is no longer open (its caller gave up;
 * coreSession_SetStillWanted). A module whose last caller expires closes the id when nothing was
 * sent; when the request already reached IB it may keep the id open to use the answer (a cache). */
bool br_reqSent(const brBridge *b, int64_t req_id);
/* Withdraws one waiter of br_resolve (the same key, fn and ctx) whose caller gave up: fn will not be
 * called for it. The last waiter gone before the request left for IB closes its id (never sent).
 * False when no such waiter is pending (fn then still runs, or already ran). */
bool br_resolveCancel(brBridge *b, const char *key, brResolveFn fn, void *ctx);

#endif
