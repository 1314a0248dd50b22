/* br_ord_place.c — ib.rpc.order.place.
 *
 * Placing (one brOrdPlacement per client_order_id, so concurrent repeats share it):
 *   read_only -> body checks -> the ledger knows the client_order_id? answer from it -> IB ready? ->
 *   idempotency record exists? (store get) answer from it -> risk pre-checks (qty, symbols) ->
 *   resolve the instrument -> reference price (limit/stop; for a market order under a notional limit
 *   br_quoteSnapshot: the live quote, or an IB snapshot shared with ib.rpc.quote and counted against
 *   the line budget; no price (line_limit, timeout, IB error) = as before, the notional check says
 *   so) -> risk check (counts the rate) -> take an order id -> create-only record "pending" (a repeat
 *   from another process ends here) -> record "sending", durably (after this, and only after, the
 *   order may have reached IB) -> placeOrder with orderRef = client_order_id -> IB's first
 *   openOrder/orderStatus answers every waiter and updates the record ("acked"); an IB error answers
 *   with it and records "rejected" (br_ord_ib.c, through m->up). A repeat that meets a record not
 *   final yet waits for the reconciler (br_ord_recon.c) to settle it on the evidence. Loop thread. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_ord_int.h"
#include "ibb_log.h"

#define SNAPSHOT_WAIT_MS 3000

static void on_price(brBridge *b, void *ctx, const stQuote *q, const char *slug, const char *msg,
                     int ib_code);

/* ---- placement ---------------------------------------------------------------------------------- */



void brOrd_placementFree(brBridge *b, brOrdPlacement *p)
{
    ibbMap_Del(brOrd_mod(b)->placing, p->cid);
    if (p->snap_wait) {
        p->snap_wait = false;
        br_quoteSnapshotCancel(b, p->key, on_price, p);
    }
    brOrdWaiter *w = p->waiters;
    while (w) {
        brOrdWaiter *n = w->next;
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
    bool held_id = p->order_id > 0 && (p->state == BR_ORD_PL_STORE || p->state == BR_ORD_PL_SENDING);
    free(p);
    if (held_id)
        brOrd_placeFlush(b); /* a lower id gave up: the ones behind it may go */
}

static void placement_fail(brBridge *b, brOrdPlacement *p, const char *slug, int ib_code, const char *msg)
{
    IBB_INFO("order.place_failed", "client_order_id=%s error=%s message=\"%s\"", p->cid, slug, msg);
    brOrd_waitersError(&p->waiters, slug, ib_code, msg);
    brOrd_placementFree(b, p);
}

static void placement_answer(brBridge *b, brOrdPlacement *p, int64_t order_id, const char *status,
                             bool duplicate, const char *note)
{
    for (brOrdWaiter *w = p->waiters; w; w = w->next)
        brOrd_replyPlaced(w->req, order_id, p->cid, status, duplicate, note);
    brOrd_placementFree(b, p);
}

static void on_created(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                       const char *err);
static void settle_record(brBridge *b, const brOrdRecord *rec, brOrdPlacement *p);
static void continue_price(brBridge *b, brOrdPlacement *p);

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code)
{
    brOrdPlacement *p = ctx;
    if (slug) {
        placement_fail(b, p, slug, ib_code, msg);
        return;
    }
    p->spec = inst->spec;
    snprintf(p->key, sizeof p->key, "%s", inst->key);
    continue_price(b, p);
}

static void risk_and_store(brBridge *b, brOrdPlacement *p, double ref)
{
    brOrders *m = brOrd_mod(b);
    stRiskOrder ro = {.key = p->key, .symbol = p->spec.symbol, .qty = p->qty, .ref_price = ref};
    const char *limit = NULL;
    char msg[300];
    ibbStatus s = stRisk_Check(&b->risk, &ro, br_nowMs(b), &limit, msg, sizeof msg);
    if (s == IBB_OK && brOrd_acctRiskCheck(b, m->acct_risk, p->account, &ro, msg, sizeof msg) != IBB_OK) {
        placement_fail(b, p, "risk_limit", 0, msg);
        return;
    }
    if (s != IBB_OK) {
        char full[600];
        bool why = !isfinite(ref) && p->price_note[0] && limit && !strcmp(limit, "max_order_notional");
        snprintf(full, sizeof full, "risk limit %s: %s%s%s", limit, msg, why ? " (" : "",
                 why ? p->price_note : "");
        if (why)
            snprintf(full + strlen(full), sizeof full - strlen(full), ")");
        placement_fail(b, p, s == IBB_ERR_STATE ? "read_only" : "risk_limit", 0, full);
        return;
    }
    /* every requester gave up (deadline): do not place behind their back */
    if (brOrd_allAnswered(p->waiters)) {
        brOrd_placementFree(b, p);
        return;
    }
    if (!b->ib_ready) {
        placement_fail(b, p, "ib_unavailable", 0,
                       "the IB link dropped before the order could be sent; retry");
        return;
    }
    do /* an id IB handed out again (e.g. after it refused an order) must not clash with the ledger */
        p->order_id = coreSession_TakeOrderId(b->ib);
    while (p->order_id >= 0 && stOrders_ById(b->orders, p->order_id));
    if (p->order_id < 0) {
        placement_fail(b, p, "ib_unavailable", 0, "IB has not given an order id yet; retry");
        return;
    }
    p->link_gen = m->link_gen;
    brOrdRecord r;
    memset(&r, 0, sizeof r);
    snprintf(r.client_order_id, sizeof r.client_order_id, "%s", p->cid);
    r.order_id = p->order_id;
    snprintf(r.state, sizeof r.state, "pending");
    snprintf(r.key, sizeof r.key, "%s", p->key);
    snprintf(r.side, sizeof r.side, "%s", p->side);
    r.qty = p->qty;
    snprintf(r.order_type, sizeof r.order_type, "%s", brOrd_apiType(p->type));
    r.limit_price = p->lmt;
    r.stop_price = p->aux;
    snprintf(r.tif, sizeof r.tif, "%s", p->tif);
    snprintf(r.account, sizeof r.account, "%s", p->account);
    r.created_ns = r.updated_ns = br_wallNs();
    p->rec = r;
    p->state = BR_ORD_PL_STORE;
    brOrdStore_Create_(m->store, &r, on_created, p);
}

/* br_quoteSnapshot answered: a price, or none (line budget in use, timeout, IB error) -> the notional
 * check refuses as it always did without a price, and the reply says why. The link or the bridge
 * going away fails the placement (nothing was sent). */
static void on_price(brBridge *b, void *ctx, const stQuote *q, const char *slug, const char *msg,
                     int ib_code)
{
    brOrdPlacement *p = ctx;
    p->snap_wait = false;
    double ref = brOrd_quotePrice(q); /* on a timeout or an IB error: what arrived before it */
    bool link = slug && !strcmp(slug, "ib_unavailable");
    if (link || (slug && (!strcmp(slug, "unavailable") || !strcmp(slug, "internal")))) {
        placement_fail(b, p, slug, 0, link ? "the IB link dropped while pricing the order; retry" : msg);
        return;
    }
    if (slug) {
        IBB_INFO("order.snapshot_failed",
                 "client_order_id=%s key=%s error=%s ib_code=%d price=%g text=\"%s\"", p->cid, p->key, slug,
                 ib_code, ref, msg ? msg : "");
        if (!isfinite(ref))
            snprintf(p->price_note, sizeof p->price_note, "no quote to price the market order: %s: %s", slug,
                     msg ? msg : "");
    }
    risk_and_store(b, p, ref);
}

static void continue_price(brBridge *b, brOrdPlacement *p)
{
    p->state = BR_ORD_PL_PRICE;
    double ref = NAN;
    if (strstr(p->type, "LMT"))
        ref = p->lmt;
    else if (!strcmp(p->type, "STP"))
        ref = p->aux;
    else if (b->risk.lim.max_order_notional > 0) {
        /* A market order under a notional limit: the live quote, or a snapshot shared with ib.rpc.quote
         * (on_price may run before this returns and may free p). */
        p->snap_wait = true;
        br_quoteSnapshot(b, p->key, SNAPSHOT_WAIT_MS, on_price, p);
        return;
    } else
        ref = brOrd_bookPrice(b, p->key);
    risk_and_store(b, p, ref);
}

/* The placement as a ledger order with its brOrdExt; NULL when the ledger refuses it. */
static stOrder *ledger_add(brBridge *b, const brOrdPlacement *p)
{
    stOrder t;
    memset(&t, 0, sizeof t);
    t.order_id = p->order_id;
    snprintf(t.client_order_id, sizeof t.client_order_id, "%s", p->cid);
    snprintf(t.key, sizeof t.key, "%s", p->key);
    snprintf(t.action, sizeof t.action, "%s", p->side);
    t.qty = p->qty;
    snprintf(t.order_type, sizeof t.order_type, "%s", p->type);
    t.lmt_price = p->lmt;
    t.aux_price = p->aux;
    snprintf(t.tif, sizeof t.tif, "%s", p->tif);
    snprintf(t.account, sizeof t.account, "%s", p->account);
    stOrder *o = NULL;
    if (stOrders_Add(b->orders, &t, br_nowMs(b), &o) != IBB_OK || !brOrd_ensureExt(b, o))
        return NULL;
    return o;
}

/* The placement failed before its order reached the socket: the record goes (durably), the client may
 * retry with the same client_order_id. */
static void unsent_fail(brBridge *b, brOrdPlacement *p, const char *slug, const char *msg)
{
    brOrdStore_Forget(brOrd_mod(b)->store, p->cid);
    placement_fail(b, p, slug, 0, msg);
}

/* The "sending" record is durable: now, and only now, the order goes to IB's socket. */
static void send_place(brBridge *b, brOrdPlacement *p)
{
    brOrders *m = brOrd_mod(b);
    if (!b->ib_ready || p->link_gen != m->link_gen) {
        unsent_fail(b, p, "ib_unavailable", "the IB link dropped before the order was sent; retry");
        return;
    }
    stOrder *o = ledger_add(b, p);
    if (!o) {
        unsent_fail(b, p, "internal", "the order ledger refused the order (duplicate order id?)");
        return;
    }
    brOrdExt *x = brOrd_ext(o);
    x->spec = p->spec;
    x->has_spec = true;
    x->send_seq = ++m->send_seq;
    x->outside_rth = p->outside_rth;
    ibRequest rq;
    brOrd_placeRequest(&rq, o, x, o->qty, o->lmt_price, o->aux_price);
    ibbStatus s = br_send(b, &rq);
    if (s != IBB_OK) { /* nothing was written: the order never left ib-bridge */
        stOrders_Finish(b->orders, o, "Unacknowledged", br_nowMs(b));
        unsent_fail(b, p, s == IBB_ERR_STATE ? "ib_unavailable" : "internal",
                    "the order could not be sent to IB; retry");
        return;
    }
    IBB_INFO("order.sent", "order_id=%" PRId64 " client_order_id=%s key=%s side=%s qty=%g type=%s",
             p->order_id, p->cid, p->key, p->side, p->qty, p->type);
    brOrd_testHook(b, BR_ORD_HOOK_AFTER_SEND, p->cid);
    p->state = BR_ORD_PL_SENT;
    x->pl = p;
}

/* IB takes order ids in increasing order only (a lower id after a higher one is refused, 103), and
 * placements reach "sending" in any order: each goes to the socket once every placement holding a lower
 * id of this link has gone or given up. */
void brOrd_placeFlush(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    if (m->closing)
        return;
    if (m->flushing) {
        m->flush_again = true;
        return;
    }
    m->flushing = true;
    do {
        m->flush_again = false;
        brOrdPlacement *low = NULL, *stale = NULL;
        ibbMapIter it;
        void *v;
        ibbMapIter_Init(&it, m->placing);
        while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
            brOrdPlacement *p = v;
            if (p->state == BR_ORD_PL_SENDING && p->send_ready && p->link_gen != m->link_gen)
                stale = p; /* its link is gone: send_place fails it (nothing is sent) */
            if (p->order_id > 0 && p->link_gen == m->link_gen &&
                (p->state == BR_ORD_PL_STORE || p->state == BR_ORD_PL_SENDING) &&
                (!low || p->order_id < low->order_id))
                low = p;
        }
        if (!stale && low && low->state == BR_ORD_PL_SENDING && low->send_ready)
            stale = low;
        if (stale) {
            send_place(b, stale); /* frees or moves it on: look again */
            m->flush_again = true;
        }
    } while (m->flush_again);
    m->flushing = false;
    brOrd_previewFlush(b); /* previews wait while a placement holds an unsent order id */
}

/* The durable "sending" write answered: send (in id order), or answer from what the bucket holds. */
static void placement_written(brBridge *b, brOrdPlacement *p, const brOrdRecord *stored)
{
    if (stored && !strcmp(stored->state, "sending") && stored->order_id == p->order_id) {
        p->send_ready = true;
        brOrd_placeFlush(b);
        return;
    }
    if (!stored) { /* gone: nothing was sent */
        placement_fail(b, p, "unavailable", 0, "the idempotency record vanished before sending; retry");
        return;
    }
    settle_record(b, stored, p); /* another writer moved it on */
}

/* The create-only "pending" record is stored: record "sending" durably before the socket. */
static void mark_sending(brBridge *b, brOrdPlacement *p, const brOrdRecord *pending)
{
    brOrd_testHook(b, BR_ORD_HOOK_BEFORE_SEND, p->cid);
    if (!b->ib_ready || p->link_gen != brOrd_mod(b)->link_gen) {
        unsent_fail(b, p, "ib_unavailable", "the IB link dropped before the order was sent; retry");
        return;
    }
    brOrdRecord r = *pending;
    snprintf(r.state, sizeof r.state, "sending");
    r.updated_ns = br_wallNs();
    p->state = BR_ORD_PL_SENDING;
    brOrdStore_Write(brOrd_mod(b)->store, &r);
}

static void on_created(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                       const char *err)
{
    brOrdPlacement *p = ctx;
    if (st != IBB_OK) { /* the write may have landed all the same: take it back (it stays unsent) */
        unsent_fail(b, p, "unavailable", err && *err ? err : "the idempotency store did not answer");
        return;
    }
    if (exists) { /* another process placed it first */
        settle_record(b, rec, p);
        return;
    }
    mark_sending(b, p, &p->rec);
}

static const char *const NOTE_UNACKED =
    "IB never received this order: ib-bridge recorded it but never sent it. It was not placed; a new "
    "client_order_id is safe.";
static const char *const NOTE_UNKNOWN =
    "ib-bridge sent this order to IB but cannot tell what became of it. Check the order with IB (TWS, "
    "the account's trades) before placing anything; do not place it again under a new client_order_id "
    "until then.";

/* The note a repeat of an order in this status carries (NULL: none). */
static const char *status_note(const char *status)
{
    return !strcmp(status, "Unacknowledged") ? NOTE_UNACKED : !strcmp(status, "Unknown") ? NOTE_UNKNOWN : NULL;
}

/* Answers a request for a client_order_id the ledger knows. */
static void answer_from_ledger(brBridge *b, busRequest *req, stOrder *o)
{
    (void)b;
    const brOrdExt *x = brOrd_ext(o);
    if (x && x->rej_slug[0]) {
        busRequest_Error(req, x->rej_slug, x->rej_msg, x->rej_code);
        return;
    }
    brOrd_replyPlaced(req, o->order_id, o->client_order_id, o->status, true, status_note(o->status));
}

/* A stored record answers a repeat; a record not final yet is settled first (the placement waits). */
static void settle_record(brBridge *b, const brOrdRecord *rec, brOrdPlacement *p)
{
    brOrders *m = brOrd_mod(b);
    stOrder *o = stOrders_ByClientId(b->orders, rec->client_order_id);
    if (o && !(brOrd_ext(o) && brOrd_ext(o)->pl) && (o->acked || o->terminal)) {
        for (brOrdWaiter *w = p->waiters; w; w = w->next)
            answer_from_ledger(b, w->req, o);
        brOrd_placementFree(b, p);
        return;
    }
    if (!strcmp(rec->state, "rejected")) {
        placement_fail(b, p, rec->error_code[0] ? rec->error_code : "order_rejected", rec->ib_code,
                       rec->error_message[0] ? rec->error_message : "IB rejected this order");
        return;
    }
    if (!strcmp(rec->state, "unacknowledged") || !strcmp(rec->state, "unknown")) {
        const char *status = rec->state[2] == 'a' ? "Unacknowledged" : "Unknown";
        placement_answer(b, p, rec->order_id, status, true, status_note(status));
        return;
    }
    if (!strcmp(rec->state, "acked") && stOrderStatus_IsTerminal(rec->status)) {
        placement_answer(b, p, rec->order_id, rec->status, true, NULL);
        return;
    }
    if (o) { /* ours from this process, on its way: IB's answer decides */
        p->rec = *rec;
        p->state = BR_ORD_PL_AWAIT_RECON;
        return;
    }
    /* pending / sending / working: the evidence decides, after a reconciliation with IB */
    if (!strcmp(rec->state, "acked") && b->ib_ready && m->recon_done_once && !m->recon_active) {
        placement_answer(b, p, rec->order_id, rec->status, true, NULL);
        return;
    }
    if (!b->ib_ready) {
        placement_fail(b, p, "ib_unavailable", 0,
                       "this order's state is being reconciled with IB, which is not connected; retry later");
        return;
    }
    p->rec = *rec;
    p->state = BR_ORD_PL_AWAIT_RECON;
    if (m->recon_done_once && !m->recon_active)
        brOrd_settleNow(b, rec);
}

static void on_looked_up(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                         const char *err)
{
    (void)exists;
    brOrdPlacement *p = ctx;
    if (st == IBB_OK) {
        settle_record(b, rec, p);
        return;
    }
    if (st != IBB_ERR_NOT_FOUND) {
        placement_fail(b, p, "unavailable", 0, err && *err ? err : "the idempotency store did not answer");
        return;
    }
    if (!b->ib_ready) {
        placement_fail(b, p, "ib_unavailable", 0,
                       "the IB link is not ready; retry when ib.evt.conn reports ready");
        return;
    }
    /* pre-checks that need no price, before any IB traffic */
    stRiskOrder ro = {.key = p->key, .symbol = NULL, .qty = p->qty, .ref_price = NAN};
    stInstrumentSpec ks;
    if (stInstrument_ParseKey(p->key, &ks, NULL) == IBB_OK)
        ro.symbol = ks.symbol;
    const char *limit = NULL;
    char msg[300];
    if (stRisk_Check(brOrd_mod(b)->pre, &ro, br_nowMs(b), &limit, msg, sizeof msg) != IBB_OK) {
        char full[400];
        snprintf(full, sizeof full, "risk limit %s: %s", limit, msg);
        placement_fail(b, p, "risk_limit", 0, full);
        return;
    }
    p->state = BR_ORD_PL_RESOLVE;
    br_resolve(b, p->key, on_resolved, p);
}

/* ---- ib.rpc.order.place ------------------------------------------------------------------------- */

static bool valid_cid(const char *s, size_t n)
{
    if (n == 0 || n > ST_CLIENT_ORDER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

static bool upper_choice(busRequest *req, const msgpack_object *body, const char *field,
                         const char *const *choices, const char *def, char *out, size_t cap)
{
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(body, field, &s, &n);
    if (st == IBB_ERR_NOT_FOUND && def) {
        snprintf(out, cap, "%s", def);
        return true;
    }
    if (st != IBB_OK) {
        busRequest_FailField(req, field, st, "string");
        return false;
    }
    char v[16];
    if (n >= sizeof v)
        n = sizeof v - 1;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    v[n] = '\0';
    for (int i = 0; choices[i]; i++)
        if (strcmp(v, choices[i]) == 0) {
            snprintf(out, cap, "%s", choices[i]);
            return true;
        }
    char list[80] = "";
    for (int i = 0; choices[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", choices[i]);
    busRequest_Failf(req, "bad_request", 0, "field '%s' must be one of %s", field, list);
    return false;
}

bool brOrd_parsePlace(busRequest *req, brOrdPlacement *p)
{
    const msgpack_object *body = busRequest_Body(req);
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(body, "client_order_id", &s, &n);
    if (st != IBB_OK) {
        busRequest_FailField(req, "client_order_id", st, "string");
        return false;
    }
    if (!valid_cid(s, n))
        return brOrd_bad(req, "field 'client_order_id' must be 1 to 64 characters of A-Z a-z 0-9 - _%s", "");
    memcpy(p->cid, s, n);
    p->cid[n] = '\0';
    char err[300];
    if (br_keyFromBody(body, p->key, sizeof p->key, err, sizeof err) != IBB_OK)
        return brOrd_bad(req, "%s", err);
    static const char *const sides[] = {"BUY", "SELL", NULL};
    static const char *const types[] = {"MKT", "LMT", "STP", "STP_LMT", "STP LMT", NULL};
    static const char *const tifs[] = {"DAY", "GTC", "IOC", NULL};
    if (!upper_choice(req, body, "side", sides, NULL, p->side, sizeof p->side))
        return false;
    double q;
    st = busObj_Double(body, "qty", &q);
    if (st != IBB_OK) {
        busRequest_FailField(req, "qty", st, "number");
        return false;
    }
    if (!isfinite(q) || q <= 0)
        return brOrd_bad(req, "field 'qty' must be a positive number%s", "");
    p->qty = q;
    if (!upper_choice(req, body, "type", types, "MKT", p->type, sizeof p->type))
        return false;
    if (!strcmp(p->type, "STP_LMT"))
        snprintf(p->type, sizeof p->type, "STP LMT");
    if (!upper_choice(req, body, "tif", tifs, "DAY", p->tif, sizeof p->tif))
        return false;
    bool need_lmt = strstr(p->type, "LMT") != NULL, need_stp = strncmp(p->type, "STP", 3) == 0;
    if (!brOrd_priceField(req, body, "limit_price", need_lmt, &p->lmt) ||
        !brOrd_priceField(req, body, "stop_price", need_stp, &p->aux))
        return false;
    if (!need_lmt && !ib_isUnsetDouble(p->lmt))
        return brOrd_bad(req, "field 'limit_price' is only for LMT and STP_LMT orders (type is %s)",
                         brOrd_apiType(p->type));
    if (!need_stp && !ib_isUnsetDouble(p->aux))
        return brOrd_bad(req, "field 'stop_price' is only for STP and STP_LMT orders (type is %s)",
                         brOrd_apiType(p->type));
    st = busObj_Bool(body, "outside_rth", &p->outside_rth);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "outside_rth", st, "boolean");
        return false;
    }
    st = busObj_StrCopy(body, "account", p->account, sizeof p->account);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "account", st, "string of at most 31 characters");
        return false;
    }
    return true;
}

void brOrd_onPlace(busRequest *req, void *arg)
{
    brBridge *b = arg;
    brOrders *m = brOrd_mod(b);
    if (brOrd_readOnly(b, req))
        return;
    brOrdPlacement *p = calloc(1, sizeof *p);
    if (!p) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    p->t0_ns = uv_hrtime();
    if (!brOrd_parsePlace(req, p)) {
        free(p);
        return;
    }
    brOrdPlacement *cur = ibbMap_Get(m->placing, p->cid);
    if (cur) { /* a concurrent repeat: share the first one's outcome */
        free(p);
        brOrd_waiterAdd(&cur->waiters, req);
        return;
    }
    stOrder *o = stOrders_ByClientId(b->orders, p->cid);
    if (o) {
        free(p);
        answer_from_ledger(b, req, o);
        busRequest_Release(req);
        return;
    }
    if (!br_requireIb(b, req)) {
        free(p);
        busRequest_Release(req);
        return;
    }
    char acct[32]; /* br_accounts.c: required with several managed accounts, refused when unknown */
    if (!br_accountFromBody(b, req, acct, sizeof acct)) {
        free(p);
        busRequest_Release(req);
        return;
    }
    if (!brOrdStore_Ready(m->store)) {
        free(p);
        busRequest_Error(req, "unavailable", "the order store (JetStream on the NATS server) is not ready; "
                                             "ib-bridge needs JetStream enabled. Retry shortly", 0);
        busRequest_Release(req);
        return;
    }
    p->state = BR_ORD_PL_LOOKUP;
    p->waiters = NULL;
    if (ibbMap_Put(m->placing, p->cid, p) != IBB_OK) {
        free(p);
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    brOrd_waiterAdd(&p->waiters, req);
    brOrdStore_Get(m->store, p->cid, on_looked_up, p);
}

/* ---- IB acknowledged, housekeeping -------------------------------------------------------------- */

void brOrd_placeAnswer(brBridge *b, stOrder *o, const char *note)
{
    brOrdExt *x = brOrd_ext(o);
    brOrdPlacement *p = x ? x->pl : NULL;
    if (!p || !(o->acked || o->terminal))
        return;
    x->pl = NULL;
    if (o->acked) {
        if (p->t0_ns)
            brOrd_observeAck(brOrd_mod(b), uv_hrtime() - p->t0_ns);
        brOrd_testHook(b, BR_ORD_HOOK_AFTER_ACK, o->client_order_id);
        IBB_INFO("order.acked", "order_id=%" PRId64 " client_order_id=%s status=%s", o->order_id,
                 o->client_order_id, o->status);
    }
    const char *n = status_note(o->status) ? status_note(o->status) : note;
    for (brOrdWaiter *w = p->waiters; w; w = w->next)
        brOrd_replyPlaced(w->req, o->order_id, o->client_order_id, o->status, false, n);
    brOrd_placementFree(b, p);
    if (o->acked)
        brOrd_storeFinal(b, o, "acked", NULL, NULL, 0);
}

void brOrd_placeRefused(brBridge *b, stOrder *o, const char *slug, const char *msg, int ib_code)
{
    brOrdExt *x = brOrd_ext(o);
    brOrdPlacement *p = x->pl;
    if (!p)
        return;
    x->pl = NULL;
    for (brOrdWaiter *w = p->waiters; w; w = w->next)
        busRequest_Error(w->req, slug, msg, ib_code);
    brOrd_placementFree(b, p);
}

void brOrd_placeReconDone(brBridge *b)
{
    size_t k;
    brOrdPlacement **ps = brOrd_placements(b, &k);
    for (size_t i = 0; i < k; i++)
        if (ps[i]->state == BR_ORD_PL_AWAIT_RECON)
            settle_record(b, &ps[i]->rec, ps[i]);
    free(ps);
}

void brOrd_placeWritten(brBridge *b, const char *cid, const brOrdRecord *stored)
{
    brOrdPlacement *p = ibbMap_Get(brOrd_mod(b)->placing, cid);
    if (p && p->state == BR_ORD_PL_SENDING)
        placement_written(b, p, stored);
    else if (p && p->state == BR_ORD_PL_AWAIT_RECON && stored)
        settle_record(b, stored, p);
    else if (p && p->state == BR_ORD_PL_AWAIT_RECON) /* the record this repeat waited on was taken back */
        placement_fail(b, p, "unavailable", 0,
                       "an earlier attempt of this client_order_id was taken back before it reached IB; retry");
}

brOrdPlacement **brOrd_placements(brBridge *b, size_t *n)
{
    brOrders *m = brOrd_mod(b);
    size_t cap = ibbMap_Count(m->placing), k = 0;
    brOrdPlacement **ps = cap ? calloc(cap, sizeof *ps) : NULL;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->placing);
    while (ps && k < cap && ibbMapIter_Next(&it, NULL, NULL, &v))
        ps[k++] = v;
    *n = k;
    return ps;
}

void brOrd_placeHousekeep(brBridge *b)
{
    size_t k;
    brOrdPlacement **ps = brOrd_placements(b, &k);
    for (size_t i = 0; i < k; i++) {
        brOrdPlacement *p = ps[i];
        if (p->state == BR_ORD_PL_AWAIT_RECON && brOrd_allAnswered(p->waiters))
            brOrd_placementFree(b, p);
    }
    free(ps);
}
