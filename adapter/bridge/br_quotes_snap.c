/* br_quotes_snap.c — the quotes module's snapshots: ib.rpc.quote and br_quoteSnapshot (other modules,
 * e.g. market-order pricing), one IB snapshot per key in flight shared by every waiter; see
 * br_quotes.c for the module as a whole and br_quotes_int.h for what the files share. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_quotes_int.h"
#include "ibb_log.h"

static quotes *mod(const brBridge *b) { return b->mod[BR_MOD_QUOTES]; }

/* ---------------------------------------------------------------------------------------------- */
/* ib.rpc.quote and snapshots                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/* A snapshot serves ib.rpc.quote and other modules (br_quoteSnapshot: order pricing) alike: one
 * record per key in flight, each waiter with its own deadline. It counts as a market-data line from
 * its creation until IB ends it (tickSnapshotEnd or an error), the link drops, or nobody waits any
 * more (then it is cancelled at IB): leased keys + snapshots in flight never pass ib.md_line_budget.
 * Its record is freed by the timer's close callback, so it stays readable for the rest of the loop
 * turn that finished it; a resolution answers through its key and id, never a pointer. */

static void snap_free_cb(uv_handle_t *h) { free(h->data); }

/* Answers one waiter and frees it. q: the quote (slug NULL), or what arrived before the error. */
static void waiter_answer(brBridge *b, snapWaiter *w, const stQuote *q, int64_t seq, const char *slug,
                          const char *msg, int ib_code)
{
    if (!w->req) {
        w->fn(b, w->ctx, q, slug, msg, ib_code);
    } else {
        if (slug)
            busRequest_Error(w->req, slug, msg, ib_code);
        else if (q) {
            brQt_packQuote(busRequest_Packer(w->req), q, NULL, "snapshot", seq);
            busRequest_ReplyPacked(w->req);
        } else
            busRequest_Error(w->req, "internal", "the snapshot ended without a quote", 0);
        busRequest_Release(w->req);
    }
    free(w);
}

/* Ends a snapshot: forgets it (its line is free), then answers every waiter (error when slug). */
void brQt_snapFinish(snap *sn, const char *slug, const char *msg, int ib_code)
{
    brBridge *b = sn->b;
    quotes *m = mod(b);
    if (sn->done)
        return;
    sn->done = true;
    if (ibbMap_Get(m->snaps, sn->key) == sn)
        ibbMap_Del(m->snaps, sn->key);
    if (sn->req_id)
        br_reqClose(b, sn->req_id);
    sn->req_id = 0;
    uv_timer_stop(&sn->timer);
    /* a copy answers, so a waiter may start the next snapshot of this key at once */
    stQuote copy;
    const stQuote *q = NULL;
    if (sn->q) {
        copy = *sn->q;
        q = &copy;
        stQuoteBook_Remove(m->snapbook, sn->key);
        sn->q = NULL;
    }
    const qinst *qi = ibbMap_Get(m->insts, sn->key);
    int64_t seq = qi ? (int64_t)qi->q->seq : 0;
    sn->fin_next = m->finishing;
    m->finishing = sn;
    while (sn->waiters) {
        snapWaiter *w = sn->waiters;
        sn->waiters = w->next;
        waiter_answer(b, w, q, seq, slug, msg, ib_code);
    }
    for (snap **pp = &m->finishing; *pp; pp = &(*pp)->fin_next)
        if (*pp == sn) {
            *pp = sn->fin_next;
            break;
        }
    uv_close((uv_handle_t *)&sn->timer, snap_free_cb);
}

/* Nobody waits any more: free the line now (cancelled at IB when it was sent; the pacer sends
 * cancels first, so IB has let it go before any later request reaches it). */
static void snap_abandon(snap *sn)
{
    brBridge *b = sn->b;
    if (sn->req_id && b->ib_ready && br_reqSent(b, sn->req_id)) { /* still queued: dropped unsent */
        ibRequest rq;
        ibRequest_Init(&rq, IB_REQ_CANCEL_MKT_DATA);
        rq.u.cancel.req_id = sn->req_id;
        br_send(b, &rq);
    }
    IBB_INFO("quotes.snapshot_abandoned", "key=%s req_id=%" PRId64, sn->key, sn->req_id);
    brQt_snapFinish(sn, NULL, NULL, 0);
}

static void on_snap_timer(uv_timer_t *t);

static void snap_arm(snap *sn)
{
    int64_t next = INT64_MAX;
    for (const snapWaiter *w = sn->waiters; w; w = w->next)
        if (w->deadline < next)
            next = w->deadline;
    if (next == INT64_MAX)
        return;
    int64_t delay = next - br_nowMs(sn->b);
    uv_timer_start(&sn->timer, on_snap_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
}

/* The earliest deadline passed: those waiters get `timeout` (a callback also gets what arrived). */
static void on_snap_timer(uv_timer_t *t)
{
    snap *sn = t->data;
    brBridge *b = sn->b;
    int64_t now = br_nowMs(b);
    snapWaiter *due = NULL;
    for (snapWaiter **pp = &sn->waiters; *pp;) {
        snapWaiter *w = *pp;
        if (w->deadline <= now) {
            *pp = w->next;
            w->next = due;
            due = w;
        } else
            pp = &w->next;
    }
    stQuote copy;
    const stQuote *q = NULL;
    if (sn->q) {
        copy = *sn->q;
        q = &copy;
    }
    while (due) {
        snapWaiter *w = due;
        due = w->next;
        char msg[200];
        snprintf(msg, sizeof msg, "IB sent no complete snapshot of %s within %" PRId64 " ms", sn->key,
                 w->timeout_ms);
        IBB_INFO("quotes.snapshot_timeout", "key=%s timeout_ms=%" PRId64, sn->key, w->timeout_ms);
        waiter_answer(b, w, q, 0, "timeout", msg, 0);
    }
    if (sn->done)
        return;
    if (!sn->waiters)
        snap_abandon(sn);
    else
        snap_arm(sn);
}

static void on_snap_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)req_id;
    snap *sn = ctx;
    if (!brQt_terminalError(e->code)) { /* e.g. 10167: delayed data follows; keep it as the status */
        if (sn->q)
            stQuote_SetStatus(mod(b)->snapbook, sn->q, e->code, e->message);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "IB error %" PRId64 " for %s: %s", e->code, sn->key, e->message);
    const char *slug = brQt_statusSlug(e->code);
    brQt_snapFinish(sn,
                    strcmp(slug, "ib_error") == 0 || strcmp(slug, "delayed_data") == 0 ? "ib_error" : slug,
                    msg, (int)e->code);
}

static void on_snap_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)b;
    (void)req_id;
    brQt_snapFinish(ctx, "ib_unavailable", "the IB link dropped before the snapshot completed", 0);
}

static const brPendingOps snap_ops = {NULL, on_snap_error, on_snap_lost};

typedef struct snapRef {             /* a resolution's context: the snapshot it is for */
    uint64_t id;
    char key[ST_KEY_MAX];
} snapRef;

static void on_snap_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug,
                             const char *msg, int ib_code)
{
    snapRef *ref = ctx;
    quotes *m = mod(b);
    snap *sn = m ? ibbMap_Get(m->snaps, ref->key) : NULL;
    bool mine = sn && sn->id == ref->id && !sn->done;
    free(ref);
    if (!mine)
        return; /* ended meanwhile (every waiter gave up, the link dropped, stopping) */
    if (!inst) {
        brQt_snapFinish(sn, slug, msg, ib_code);
        return;
    }
    if (!b->ib_ready) {
        brQt_snapFinish(sn, "ib_unavailable", "the IB link dropped before the snapshot could be sent", 0);
        return;
    }
    sn->q = stQuoteBook_Add(m->snapbook, sn->key, &inst->spec);
    int64_t id = sn->q ? br_reqOpen(b, &snap_ops, sn) : -1;
    if (id < 0 || stQuoteBook_Bind(m->snapbook, sn->q, id) != IBB_OK) {
        if (id >= 0)
            br_reqClose(b, id);
        brQt_snapFinish(sn, "internal", "out of memory", 0);
        return;
    }
    sn->req_id = id;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_MKT_DATA);
    rq.u.mkt_data.req_id = id;
    stInstrument_ToContract(&sn->q->spec, &rq.u.mkt_data.contract);
    if (!sn->q->spec.exchange[0])
        rq.u.mkt_data.contract.exchange = "SMART";
    rq.u.mkt_data.generic_ticks = "";
    rq.u.mkt_data.snapshot = true;
    if (br_send(b, &rq) != IBB_OK) {
        sn->req_id = 0;
        br_reqClose(b, id);
        brQt_snapFinish(sn, "ib_unavailable", "could not send the snapshot request to IB", 0);
        return;
    }
    IBB_DEBUG("quotes.snapshot", "key=%s req_id=%" PRId64 " snapshots=%zu", sn->key, id,
              br_quoteSnapshotLines(b));
}

/* Answers a waiter that never joined a snapshot (q: the live book's quote when slug is NULL). */
static void answer_now(brBridge *b, busRequest *req, brSnapFn fn, void *ctx, const stQuote *q,
                       const char *slug, const char *msg, int ib_code)
{
    if (!req) {
        fn(b, ctx, q, slug, msg, ib_code);
        return;
    }
    if (slug)
        busRequest_Error(req, slug, msg, ib_code);
    else {
        brQt_packQuote(busRequest_Packer(req), q, NULL, "stream", -1); /* the cached, merged state */
        busRequest_ReplyPacked(req);
    }
    busRequest_Release(req);
}

/* One quote wanted, by an ib.rpc.quote (req, released here once answered) or a callback (fn/ctx). */
static void want_quote(brBridge *b, const char *asked, busRequest *req, brSnapFn fn, void *ctx,
                       int64_t timeout_ms)
{
    quotes *m = mod(b);
    const brInstrument *inst = br_instrument(b, asked);
    const char *key = inst ? inst->key : asked; /* canonical once known: "@265598" shares AAPL's */
    const qinst *qi = ibbMap_Get(m->insts, key);
    /* The merged state answers while IB streams it. With the link down it would be stale under a
     * "realtime" label: that request gets ib_unavailable below (the KV cache keeps the last value). */
    if (b->ib_ready && qi && qi->q->seq > 0 && (qi->state == QI_STREAMING || qi->state == QI_SUBSCRIBED)) {
        answer_now(b, req, fn, ctx, qi->q, NULL, NULL, 0);
        return;
    }
    if (!b->ib_ready) {
        if (req) {
            br_requireIb(b, req);
            busRequest_Release(req);
        } else
            answer_now(b, NULL, fn, ctx, NULL, "ib_unavailable",
                       "the IB link is not ready; retry when ib.evt.conn reports ready", 0);
        return;
    }
    if (m->stopping) {
        answer_now(b, req, fn, ctx, NULL, "unavailable", "ib-bridge is shutting down", 0);
        return;
    }
    snap *sn = ibbMap_Get(m->snaps, key);
    size_t leased = stLeases_KeyCount(b->leases), snaps = br_quoteSnapshotLines(b);
    if (!sn && (int64_t)(leased + snaps) >= b->opt.md_line_budget) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "no market-data line is free for a snapshot of %s: %zu leased instruments + %zu snapshots "
                 "in flight use the budget of %" PRId64 " (ib.md_line_budget); retry in a moment, or end "
                 "leases you no longer need with ib.rpc.unsubscribe",
                 key, leased, snaps, b->opt.md_line_budget);
        IBB_INFO("quotes.snapshot_line_limit", "key=%s leased=%zu snapshots=%zu budget=%" PRId64, key, leased,
                 snaps, b->opt.md_line_budget);
        answer_now(b, req, fn, ctx, NULL, "line_limit", msg, 0);
        return;
    }
    snapWaiter *w = calloc(1, sizeof *w);
    snapRef *ref = NULL;
    if (w && !sn) {
        sn = calloc(1, sizeof *sn);
        ref = malloc(sizeof *ref);
        if (!sn || !ref || ibbMap_Put(m->snaps, key, sn) != IBB_OK) {
            free(sn);
            free(ref);
            free(w);
            w = NULL;
            sn = NULL;
        } else {
            sn->b = b;
            sn->id = ++m->snap_seq;
            snprintf(sn->key, sizeof sn->key, "%s", key);
            uv_timer_init(b->loop, &sn->timer);
            sn->timer.data = sn;
            ref->id = sn->id;
            snprintf(ref->key, sizeof ref->key, "%s", key);
        }
    }
    if (!w) {
        answer_now(b, req, fn, ctx, NULL, "internal", "out of memory", 0);
        return;
    }
    w->req = req;
    w->fn = fn;
    w->ctx = ctx;
    w->timeout_ms = timeout_ms > 100 ? timeout_ms : 100;
    w->deadline = br_nowMs(b) + w->timeout_ms;
    w->next = sn->waiters;
    sn->waiters = w; /* shared: IB sees one request for this key */
    snap_arm(sn);
    if (ref)
        br_resolve(b, key, on_snap_resolved, ref); /* may answer at once (cache hit) */
}

void br_quoteSnapshot(brBridge *b, const char *key, int64_t timeout_ms, brSnapFn fn, void *ctx)
{
    if (!mod(b)) {
        fn(b, ctx, NULL, "unavailable", "the quotes module is not running", 0);
        return;
    }
    want_quote(b, key, NULL, fn, ctx, timeout_ms);
}

/* Unlinks the callback waiter fn/ctx from sn; true when found. */
static bool drop_waiter(snap *sn, brSnapFn fn, void *ctx)
{
    for (snapWaiter **pp = &sn->waiters; *pp; pp = &(*pp)->next) {
        snapWaiter *w = *pp;
        if (!w->req && w->fn == fn && w->ctx == ctx) {
            *pp = w->next;
            free(w);
            return true;
        }
    }
    return false;
}

void br_quoteSnapshotCancel(brBridge *b, const char *key, brSnapFn fn, void *ctx)
{
    quotes *m = mod(b);
    if (!m)
        return;
    for (snap *f = m->finishing; f; f = f->fin_next)
        if (drop_waiter(f, fn, ctx))
            return;
    snap *sn = m->snaps ? ibbMap_Get(m->snaps, key) : NULL;
    bool found = sn && drop_waiter(sn, fn, ctx);
    if (!found && m->snaps) { /* the key was canonicalised since: look at every snapshot */
        ibbMapIter it;
        void *v;
        ibbMapIter_Init(&it, m->snaps);
        while (!found && ibbMapIter_Next(&it, NULL, NULL, &v))
            if ((found = drop_waiter(v, fn, ctx)))
                sn = v;
    }
    if (found && !sn->waiters)
        snap_abandon(sn);
}

void brQt_onQuote(busRequest *req, void *arg)
{
    brBridge *b = arg;
    char key[ST_KEY_MAX], err[300];
    if (br_keyFromBody(busRequest_Body(req), key, sizeof key, err, sizeof err) != IBB_OK) {
        busRequest_Fail(req, "bad_request", err, 0);
        return;
    }
    want_quote(b, key, req, NULL, NULL, busRequest_RemainingMs(req) - 250);
}
