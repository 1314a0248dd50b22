/* sim_depth.c — market depth (PROTOCOL.md §3.12) and tick-by-tick data (§3.13) from the random walk
 * of sim_market.c.
 *
 * The book: per instrument, SIM_DEPTH_MAX_ROWS rows a side, one tick apart, row 0 at the walk's bid
 * (or ask) with its size. When the inside price moves the rows shift with it (the rows that stay
 * keep their sizes, new ones get fresh sizes) and one deeper row changes size each step. The book
 * has its own PRNG, so the quote walk is the same whether anyone watches the book or not.
 *
 * Every depth subscription keeps the rows it was sent (its client's copy) and gets the operations
 * that turn that copy into the first `rows` rows of the book: inserts at the top and deletes at the
 * bottom when the inside improves, deletes at the top and inserts at the bottom when it recedes,
 * then updates. So a client applying IB's rule (a side is an ordered list; insert / delete at
 * `position` shift the rows below) holds exactly ib-sim's book. A congested client is skipped and
 * catches up from its copy at the next step. SMART depth goes out as updateMktDepthL2 with a
 * market maker per row; an exchange book as updateMktDepth.
 *
 * Tick-by-tick: each trade of the walk is a Last / AllLast tick, each quote change a BidAsk tick
 * (ignoreSize: only price changes) and a MidPoint tick when the midpoint moved. AllLast also gets an
 * unreported odd-lot print now and then (attribute bit 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const char *const MAKERS[] = { "NSDQ", "ARCA", "BATS", "EDGX", "IEX", "NYSE", "MEMX", "DRCTEDGE" };
#define N_MAKERS ((int)(sizeof MAKERS / sizeof MAKERS[0]))

static double lot_of(const simInstrument *in)
{
    return in->session == SIM_SESS_FX ? 100000 : (in->session == SIM_SESS_FUT ? 1 : 100);
}

static double fresh_size(simInstrument *in)
{
    return lot_of(in) * (double)(1 + sim_splitmix(&in->book_rng) % 40);
}

/* Rows the book has on a side (bids stop at one tick). */
static int book_rows(const simInstrument *in, int side)
{
    if (side == IB_DEPTH_ASK)
        return SIM_DEPTH_MAX_ROWS;
    int64_t n = in->book_best_t[IB_DEPTH_BID];
    return n < SIM_DEPTH_MAX_ROWS ? (int)(n > 0 ? n : 0) : SIM_DEPTH_MAX_ROWS;
}

static int64_t row_price(const simInstrument *in, int side, int k)
{
    return side == IB_DEPTH_BID ? in->book_best_t[IB_DEPTH_BID] - k : in->book_best_t[IB_DEPTH_ASK] + k;
}

static void book_rebuild(simServer *srv, simInstrument *in)
{
    in->book_rng = sim_hash(srv->cfg.seed, (uint64_t)in->con_id, 0x424f4f4b, in->steps);
    in->book_best_t[IB_DEPTH_ASK] = in->ask_t;
    in->book_best_t[IB_DEPTH_BID] = in->bid_t;
    for (int side = 0; side < 2; side++)
        for (int k = 0; k < SIM_DEPTH_MAX_ROWS; k++)
            in->book_size[side][k] = fresh_size(in);
    in->book_size[IB_DEPTH_ASK][0] = in->ask_size;
    in->book_size[IB_DEPTH_BID][0] = in->bid_size;
    in->book_valid = true;
}

/* Moves the book with the walk's last step. */
static void book_step(simInstrument *in)
{
    const int64_t best[2] = { in->ask_t, in->bid_t };
    for (int side = 0; side < 2; side++) {
        int64_t old = in->book_best_t[side];
        int64_t shift = side == IB_DEPTH_BID ? best[side] - old : old - best[side]; /* > 0: better */
        if (shift != 0) {
            double sizes[SIM_DEPTH_MAX_ROWS];
            for (int k = 0; k < SIM_DEPTH_MAX_ROWS; k++) {
                int64_t from = k - shift;
                sizes[k] = from >= 0 && from < SIM_DEPTH_MAX_ROWS ? in->book_size[side][from] : fresh_size(in);
            }
            memcpy(in->book_size[side], sizes, sizeof sizes);
            in->book_best_t[side] = best[side];
        }
    }
    in->book_size[IB_DEPTH_ASK][0] = in->ask_size;
    in->book_size[IB_DEPTH_BID][0] = in->bid_size;
    uint64_t r = sim_splitmix(&in->book_rng);
    int side = (int)(r & 1);
    int k = 1 + (int)((r >> 1) % (SIM_DEPTH_MAX_ROWS - 1));
    in->book_size[side][k] = fresh_size(in);
}

/* ---- depth subscriptions ------------------------------------------------------------------------ */

static void send_op(simConn *c, simDepthSub *s, int op, int side, int pos, const simDepthRow *row)
{
    const simInstrument *in = &c->srv->insts[s->inst];
    ibReply r = { .id = s->smart ? IB_MSG_MARKET_DEPTH_L2 : IB_MSG_MARKET_DEPTH };
    uint64_t h = sim_hash((uint64_t)in->con_id, (uint64_t)row->price_t, (uint64_t)side, 0);
    r.u.depth = (ibMktDepth){ .req_id = s->req_id, .position = pos, .operation = op, .side = side,
                              .price = sim_tickPrice(in, row->price_t), .size = row->size,
                              .market_maker = s->smart ? MAKERS[h % N_MAKERS] : "",
                              .is_smart_depth = s->smart };
    sim_send(c, &r, NULL);
    c->srv->stat_depth_ops++;
}

static void op_insert(simConn *c, simDepthSub *s, int side, int pos, const simDepthRow *row)
{
    simDepthRow *v = s->view[side];
    memmove(&v[pos + 1], &v[pos], (size_t)(s->n[side] - pos) * sizeof *v);
    v[pos] = *row;
    s->n[side]++;
    send_op(c, s, IB_DEPTH_INSERT, side, pos, row);
}

static void op_delete(simConn *c, simDepthSub *s, int side, int pos)
{
    simDepthRow *v = s->view[side];
    simDepthRow gone = v[pos];
    memmove(&v[pos], &v[pos + 1], (size_t)(s->n[side] - pos - 1) * sizeof *v);
    s->n[side]--;
    send_op(c, s, IB_DEPTH_DELETE, side, pos, &gone);
}

/* The operations that turn the client's copy of one side into the book's first rows. */
static void diff_side(simConn *c, simDepthSub *s, int side)
{
    const simInstrument *in = &c->srv->insts[s->inst];
    simDepthRow tgt[SIM_DEPTH_MAX_ROWS];
    int tn = book_rows(in, side);
    if (tn > s->rows)
        tn = s->rows;
    for (int k = 0; k < tn; k++)
        tgt[k] = (simDepthRow){ row_price(in, side, k), in->book_size[side][k] };
    simDepthRow *v = s->view[side];
    if (s->n[side] > 0 && tn > 0) {
        int64_t shift = side == IB_DEPTH_BID ? tgt[0].price_t - v[0].price_t : v[0].price_t - tgt[0].price_t;
        if (shift > 0 && shift < s->rows) {
            for (int i = 0; i < shift && i < tn; i++) {
                if (s->n[side] >= s->rows)
                    op_delete(c, s, side, s->n[side] - 1);
                op_insert(c, s, side, i, &tgt[i]);
            }
        } else if (shift < 0 && -shift < s->n[side]) {
            for (int64_t i = 0; i < -shift; i++)
                op_delete(c, s, side, 0);
        } else if (shift != 0) {
            while (s->n[side] > 0)
                op_delete(c, s, side, s->n[side] - 1);
        }
    }
    while (s->n[side] > tn)
        op_delete(c, s, side, s->n[side] - 1);
    for (int k = 0; k < s->n[side]; k++) {
        if (v[k].price_t != tgt[k].price_t || v[k].size != tgt[k].size) {
            v[k] = tgt[k];
            send_op(c, s, IB_DEPTH_UPDATE, side, k, &tgt[k]);
        }
    }
    while (s->n[side] < tn)
        op_insert(c, s, side, s->n[side], &tgt[s->n[side]]);
}

static void diff_book(simConn *c, simDepthSub *s)
{
    diff_side(c, s, IB_DEPTH_BID);
    diff_side(c, s, IB_DEPTH_ASK);
}

int sim_depthInUse(const simServer *srv)
{
    int n = 0;
    for (const simConn *c = srv->conns; c; c = c->next)
        n += c->closing ? 0 : c->n_dsubs;
    return n;
}

int sim_tickByTickInUse(const simServer *srv)
{
    int n = 0;
    for (const simConn *c = srv->conns; c; c = c->next)
        n += c->closing ? 0 : c->n_tsubs;
    return n;
}

static bool grow(void **arr, int *cap, int n, size_t each)
{
    if (n < *cap)
        return true;
    int ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, (size_t)ncap * each);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static bool req_id_in_use(const simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_dsubs; i++)
        if (c->dsubs[i].req_id == req_id)
            return true;
    for (int i = 0; i < c->n_tsubs; i++)
        if (c->tsubs[i].req_id == req_id)
            return true;
    for (int i = 0; i < c->n_subs; i++)
        if (c->subs[i].req_id == req_id)
            return true;
    return false;
}

void sim_handleMktDepth(simConn *c, const ibReqMktDepth *r)
{
    simServer *srv = c->srv;
    if (req_id_in_use(c, r->req_id)) {
        sim_sendError(c, r->req_id, 322, "Error processing request.-'bW' : cause - Duplicate ticker id");
        return;
    }
    if (r->num_rows < 1) {
        sim_sendError(c, r->req_id, 321, "Error validating request.-'bW' : cause - Invalid number of rows");
        return;
    }
    int inst = sim_resolveContract(c, &r->contract, r->req_id);
    if (inst < 0)
        return;
    bool smart_exchange = r->contract.exchange && strcmp(r->contract.exchange, "SMART") == 0;
    if (smart_exchange != r->is_smart_depth) {
        sim_sendError(c, r->req_id, 10092,
                      "Deep market data is not supported for this combination of security type/exchange");
        return;
    }
    if (sim_depthInUse(srv) >= srv->cfg.max_depth) {
        char msg[96];
        snprintf(msg, sizeof msg, "Max number (%d) of market depth requests has been reached", srv->cfg.max_depth);
        sim_sendError(c, r->req_id, 309, msg);
        return;
    }
    if (!grow((void **)&c->dsubs, &c->cap_dsubs, c->n_dsubs, sizeof *c->dsubs))
        return;
    simDepthSub *s = &c->dsubs[c->n_dsubs++];
    memset(s, 0, sizeof *s);
    s->req_id = r->req_id;
    s->inst = inst;
    s->rows = r->num_rows > SIM_DEPTH_MAX_ROWS ? SIM_DEPTH_MAX_ROWS : (int)r->num_rows;
    s->smart = r->is_smart_depth;
    simInstrument *in = &srv->insts[inst];
    if (in->depth_subs++ == 0 || !in->book_valid)
        book_rebuild(srv, in);
    if (!srv->md_paused)
        diff_book(c, s);                /* the book as inserts */
}

static void remove_dsub(simConn *c, int i)
{
    c->srv->insts[c->dsubs[i].inst].depth_subs--;
    if (c->srv->insts[c->dsubs[i].inst].depth_subs == 0)
        c->srv->insts[c->dsubs[i].inst].book_valid = false;
    c->dsubs[i] = c->dsubs[--c->n_dsubs];
}

void sim_handleCancelMktDepth(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_dsubs; i++) {
        if (c->dsubs[i].req_id == req_id) {
            remove_dsub(c, i);
            return;
        }
    }
    char msg[80];
    snprintf(msg, sizeof msg, "Can't find the subscribed market depth with tickerId:%lld", (long long)req_id);
    sim_sendError(c, req_id, 310, msg);
}

int sim_depthReset(simServer *srv)
{
    int n = 0;
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        for (int i = 0; i < c->n_dsubs; i++) {
            simDepthSub *s = &c->dsubs[i];
            sim_sendError(c, s->req_id, 317, "Market depth data has been RESET. Please empty deep book "
                                             "contents before applying any new entries.");
            s->n[0] = s->n[1] = 0;
            diff_book(c, s);            /* fresh inserts follow at once, paused market or not */
            n++;
        }
    }
    srv->stat_depth_resets += (uint64_t)n;
    sim_flushAll(srv);
    return n;
}

/* ---- tick-by-tick ---------------------------------------------------------------------------------- */

static void send_tbt(simConn *c, const ibTickByTick *t)
{
    ibReply r = { .id = IB_MSG_TICK_BY_TICK };
    r.u.tick_by_tick = *t;
    sim_send(c, &r, NULL);
    c->srv->stat_tbt_events++;
}

static const char *trade_exchange(const simInstrument *in)
{
    return in->primary_exchange[0] ? in->primary_exchange : in->exchange;
}

/* The quote ticks a subscription gets now (first = its first event). */
static void tbt_quote(simConn *c, simTbtSub *s, const simInstrument *in, bool first)
{
    bool price_moved = in->bid_t != s->last_bid_t || in->ask_t != s->last_ask_t;
    bool size_moved = in->bid_size != s->last_bid_size || in->ask_size != s->last_ask_size;
    ibTickByTick t = { .req_id = s->req_id, .tick_type = s->type, .time = sim_epoch(),
                       .exchange = "", .special_conditions = "" };
    if (s->type == IB_TBT_BID_ASK && (first || price_moved || (size_moved && !s->ignore_size))) {
        t.bid_price = sim_tickPrice(in, in->bid_t);
        t.ask_price = sim_tickPrice(in, in->ask_t);
        t.bid_size = in->bid_size;
        t.ask_size = in->ask_size;
        t.attr_mask = (in->bid_t < in->low_t ? IB_TBT_ATTR_BID_PAST_LOW : 0) |
                      (in->ask_t > in->high_t ? IB_TBT_ATTR_ASK_PAST_HIGH : 0);
        send_tbt(c, &t);
    } else if (s->type == IB_TBT_MIDPOINT && (first || price_moved)) {
        t.mid_point = sim_mid(in);
        send_tbt(c, &t);
    }
    s->last_bid_t = in->bid_t;
    s->last_ask_t = in->ask_t;
    s->last_bid_size = in->bid_size;
    s->last_ask_size = in->ask_size;
}

static void tbt_trade(simConn *c, simTbtSub *s, const simInstrument *in)
{
    ibTickByTick t = { .req_id = s->req_id, .tick_type = s->type, .time = in->last_time,
                       .price = sim_tickPrice(in, in->last_t), .size = in->last_size,
                       .exchange = trade_exchange(in), .special_conditions = "" };
    send_tbt(c, &t);
    if (s->type == IB_TBT_ALL_LAST && in->steps % 5 == 0 && in->session == SIM_SESS_STK) {
        /* an odd lot off the exchange, which Last leaves out */
        t.size = (double)(1 + in->steps % 99);
        t.exchange = "FINRA";
        t.attr_mask = IB_TBT_ATTR_UNREPORTED;
        send_tbt(c, &t);
    }
}

void sim_handleTickByTick(simConn *c, const ibReqTickByTick *r)
{
    simServer *srv = c->srv;
    if (req_id_in_use(c, r->req_id)) {
        sim_sendError(c, r->req_id, 322, "Error processing request.-'bW' : cause - Duplicate ticker id");
        return;
    }
    int type = ib_tickByTickTypeParse(r->tick_type);
    if (type < 0) {
        sim_sendError(c, r->req_id, 321, "Error validating request.-'bW' : cause - Invalid tick type");
        return;
    }
    int inst = sim_resolveContract(c, &r->contract, r->req_id);
    if (inst < 0)
        return;
    simInstrument *in = &srv->insts[inst];
    if (sim_tickByTickInUse(srv) >= srv->cfg.max_tick_by_tick) {
        sim_sendError(c, r->req_id, 10190, "Max number of tick-by-tick requests has been reached.");
        return;
    }
    uint64_t now = sim_nowMs();
    if (srv->cfg.tbt_pacing_s > 0 && in->tbt_last_req_ms &&
        now - in->tbt_last_req_ms < (uint64_t)srv->cfg.tbt_pacing_s * 1000u) {
        sim_sendError(c, r->req_id, 322, "Error processing request.-'bW' : cause - Only one tick-by-tick "
                                         "request for the same instrument is allowed within 15 seconds");
        return;
    }
    if (!grow((void **)&c->tsubs, &c->cap_tsubs, c->n_tsubs, sizeof *c->tsubs))
        return;
    in->tbt_last_req_ms = now;
    simTbtSub *s = &c->tsubs[c->n_tsubs++];
    *s = (simTbtSub){ .req_id = r->req_id, .inst = inst, .type = type, .ignore_size = r->ignore_size };
    in->tbt_subs++;
    if (!srv->md_paused)
        tbt_quote(c, s, in, true);
}

void sim_handleCancelTickByTick(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_tsubs; i++) {
        if (c->tsubs[i].req_id == req_id) {
            c->srv->insts[c->tsubs[i].inst].tbt_subs--;
            c->tsubs[i] = c->tsubs[--c->n_tsubs];
            return;
        }
    }
    /* IB answers nothing documented for an unknown id; ib-sim ignores it */
}

void sim_dropConnDepth(simConn *c)
{
    while (c->n_dsubs > 0)
        remove_dsub(c, c->n_dsubs - 1);
    while (c->n_tsubs > 0)
        sim_handleCancelTickByTick(c, c->tsubs[c->n_tsubs - 1].req_id);
}

/* ---- the walk's step ------------------------------------------------------------------------------ */

void sim_depthOnStep(simServer *srv, simInstrument *in)
{
    if (in->depth_subs > 0) {
        if (!in->book_valid)
            book_rebuild(srv, in);
        else
            book_step(in);
    }
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY || (c->n_dsubs == 0 && c->n_tsubs == 0))
            continue;
        bool skip = srv->stalled || sim_connCongested(c);
        for (int i = 0; i < c->n_dsubs; i++)
            if (c->dsubs[i].inst == in->index && !skip)
                diff_book(c, &c->dsubs[i]);
        for (int i = 0; i < c->n_tsubs; i++) {
            simTbtSub *s = &c->tsubs[i];
            if (s->inst != in->index)
                continue;
            if (skip) {
                srv->stat_ticks_dropped++;
                continue;
            }
            if (in->kind == 2 && (s->type == IB_TBT_LAST || s->type == IB_TBT_ALL_LAST))
                tbt_trade(c, s, in);
            else if (in->kind != 2)
                tbt_quote(c, s, in, false);
        }
    }
}

/* ---- control port: the book as ib-sim holds it ---------------------------------------------------- */

static size_t dump_side(const simInstrument *in, int side, int rows, char *out, size_t cap)
{
    size_t n = 0;
    int tn = book_rows(in, side);
    if (tn > rows)
        tn = rows;
    for (int k = 0; k < tn && n < cap; k++) {
        int64_t pt = row_price(in, side, k);
        uint64_t h = sim_hash((uint64_t)in->con_id, (uint64_t)pt, (uint64_t)side, 0);
        int w = snprintf(out + n, cap - n, "%s[%.10g,%.10g,\"%s\"]", k ? "," : "", sim_tickPrice(in, pt),
                         in->book_size[side][k], MAKERS[h % N_MAKERS]);
        n += w > 0 ? (size_t)w : 0;
    }
    return n < cap ? n : cap;
}

int sim_depthDump(const simServer *srv, const char *symbol, int rows, char *out, size_t cap)
{
    const simInstrument *in = NULL;
    for (int i = 0; i < srv->n_insts && !in; i++)
        if (strcmp(srv->insts[i].symbol, symbol) == 0 && srv->insts[i].depth_subs > 0 && srv->insts[i].book_valid)
            in = &srv->insts[i];
    if (!in || cap < 64)
        return -1;
    rows = rows < 1 ? 1 : rows > SIM_DEPTH_MAX_ROWS ? SIM_DEPTH_MAX_ROWS : rows;
    size_t n = (size_t)snprintf(out, cap, "{\"symbol\":\"%s\",\"bids\":[", in->symbol);
    n += dump_side(in, IB_DEPTH_BID, rows, out + n, cap - n);
    n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "],\"asks\":[");
    if (n < cap)
        n += dump_side(in, IB_DEPTH_ASK, rows, out + n, cap - n);
    if (n < cap)
        n += (size_t)snprintf(out + n, cap - n, "]}");
    return n < cap ? 0 : -1;
}
