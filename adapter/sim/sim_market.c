/* sim_market.c — deterministic market data: a seeded random walk per instrument (splitmix64),
 * streaming and snapshot reqMktData, market data types 1-4, the market-data line limit (101).
 *
 * Determinism: each instrument has its own PRNG seeded from (--seed, conId). Its walk advances
 * only while someone needs it (a streaming line or a working order), one step per quote update,
 * so the same seed and the same requests give the same sequence of values per instrument; only
 * the timing (and the LAST_TIMESTAMP values) depend on the clock. One timer (10 ms by default,
 * --tick-interval-ms) advances every active instrument by tick_rate * elapsed steps and writes each
 * client's ticks in one batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

uint64_t sim_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t sim_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t s = a;
    uint64_t h = sim_splitmix(&s);
    s = h ^ b;
    h = sim_splitmix(&s);
    s = h ^ c;
    h = sim_splitmix(&s);
    s = h ^ d;
    return sim_splitmix(&s);
}

static double lot_size(const simInstrument *in)
{
    switch (in->session) {
    case SIM_SESS_STK: return 100;
    case SIM_SESS_FUT: return 1;
    case SIM_SESS_FX: return 100000;
    }
    return 1;
}

double sim_tickPrice(const simInstrument *in, int64_t ticks)
{
    /* round to the tick's own decimals so 185.07 prints as 185.07, not 185.07000000000002 */
    double p = (double)ticks * in->min_tick;
    double scale = in->min_tick < 0.0001 ? 1e6 : (in->min_tick < 0.01 ? 1e4 : 1e2);
    if (in->min_tick >= 0.1)
        scale = 1e2;
    return round(p * scale) / scale;
}

double sim_mid(const simInstrument *in)
{
    return (sim_tickPrice(in, in->bid_t) + sim_tickPrice(in, in->ask_t)) / 2.0;
}

void sim_marketInitInstrument(simServer *srv, simInstrument *in)
{
    in->rng = sim_hash(srv->cfg.seed, (uint64_t)in->con_id, 0x4d4b54, 0);
    int64_t now = sim_epoch();
    int64_t day0 = now - now % 86400;
    double p0 = sim_histPrice(srv, in, day0);
    int64_t mid = (int64_t)llround(p0 / in->min_tick);
    if (mid < 4)
        mid = 4;
    uint64_t r = sim_splitmix(&in->rng);
    int spread = 1 + (int)(r % 2);
    in->bid_t = mid;
    in->ask_t = mid + spread;
    in->last_t = (r >> 8) & 1 ? in->ask_t : in->bid_t;
    double lot = lot_size(in);
    in->bid_size = lot * (double)(1 + (r >> 16) % 20);
    in->ask_size = lot * (double)(1 + (r >> 24) % 20);
    in->last_size = lot * (double)(1 + (r >> 32) % 5);
    in->volume = floor(in->daily_volume * 0.25 / lot) * lot;
    in->close_t = (int64_t)llround(sim_histPrice(srv, in, day0 - 1) / in->min_tick);
    in->open_t = in->close_t + (int64_t)((r >> 40) % 7) - 3;
    in->high_t = (in->open_t > in->ask_t ? in->open_t : in->ask_t) + (int64_t)((r >> 44) % 5);
    in->low_t = (in->open_t < in->bid_t ? in->open_t : in->bid_t) - (int64_t)((r >> 48) % 5);
    if (in->low_t < 1)
        in->low_t = 1;
    in->last_time = now;
}

/* One quote update: the bid moves, the ask moves, or a trade prints. */
static void step(simInstrument *in)
{
    uint64_t r = sim_splitmix(&in->rng);
    int kind = (int)(r % 10);
    int mv = (int)((r >> 8) % 10);
    int delta = mv < 3 ? -1 : (mv > 6 ? 1 : 0);
    double lot = lot_size(in);
    in->new_high = in->new_low = false;
    if (kind < 4) {
        in->kind = 0;
        in->bid_t += delta;
        if (in->ask_t - in->bid_t > 3)
            in->bid_t++;
        if (in->bid_t >= in->ask_t)
            in->bid_t = in->ask_t - 1;
        if (in->bid_t < 1) {
            in->bid_t = 1;
            if (in->ask_t < 2)
                in->ask_t = 2;
        }
        in->bid_size = lot * (double)(1 + (r >> 16) % 30);
    } else if (kind < 8) {
        in->kind = 1;
        in->ask_t += delta;
        if (in->ask_t - in->bid_t > 3)
            in->ask_t--;
        if (in->ask_t <= in->bid_t)
            in->ask_t = in->bid_t + 1;
        in->ask_size = lot * (double)(1 + (r >> 16) % 30);
    } else {
        in->kind = 2;
        in->last_t = ((r >> 16) & 1) ? in->ask_t : in->bid_t;
        in->last_size = lot * (double)(1 + (r >> 20) % 10);
        in->volume += in->last_size;
        in->last_time = sim_epoch();
        if (in->last_t > in->high_t) {
            in->high_t = in->last_t;
            in->new_high = true;
        }
        if (in->last_t < in->low_t) {
            in->low_t = in->last_t;
            in->new_low = true;
        }
    }
    in->steps++;
}

/* ---- encoding ticks ------------------------------------------------------------------------------- */

static int delayed(int tick, int md_type)
{
    if (md_type < 3)
        return tick;
    switch (tick) {
    case IB_TICK_BID: return IB_TICK_DELAYED_BID;
    case IB_TICK_ASK: return IB_TICK_DELAYED_ASK;
    case IB_TICK_LAST: return IB_TICK_DELAYED_LAST;
    case IB_TICK_BID_SIZE: return IB_TICK_DELAYED_BID_SIZE;
    case IB_TICK_ASK_SIZE: return IB_TICK_DELAYED_ASK_SIZE;
    case IB_TICK_LAST_SIZE: return IB_TICK_DELAYED_LAST_SIZE;
    case IB_TICK_HIGH: return IB_TICK_DELAYED_HIGH;
    case IB_TICK_LOW: return IB_TICK_DELAYED_LOW;
    case IB_TICK_VOLUME: return IB_TICK_DELAYED_VOLUME;
    case IB_TICK_CLOSE: return IB_TICK_DELAYED_CLOSE;
    case IB_TICK_OPEN: return IB_TICK_DELAYED_OPEN;
    case IB_TICK_LAST_TIMESTAMP: return IB_TICK_DELAYED_LAST_TIMESTAMP;
    default: return tick;
    }
}

static void tick_price(simConn *c, const simMktSub *s, int type, double price, double size, int attr)
{
    ibReply r = { .id = IB_MSG_TICK_PRICE };
    r.u.tick_price = (ibTickPrice){ s->req_id, delayed(type, s->md_type), price, size, attr };
    sim_send(c, &r, NULL);
    c->srv->stat_ticks++;
}

static void tick_size(simConn *c, const simMktSub *s, int type, double size)
{
    ibReply r = { .id = IB_MSG_TICK_SIZE };
    r.u.tick_size = (ibTickSize){ s->req_id, delayed(type, s->md_type), size };
    sim_send(c, &r, NULL);
    c->srv->stat_ticks++;
}

static void tick_string(simConn *c, const simMktSub *s, int type, const char *value)
{
    ibReply r = { .id = IB_MSG_TICK_STRING };
    r.u.tick_string = (ibTickString){ s->req_id, delayed(type, s->md_type), value };
    sim_send(c, &r, NULL);
    c->srv->stat_ticks++;
}

static void tick_generic(simConn *c, const simMktSub *s, int type, double value)
{
    ibReply r = { .id = IB_MSG_TICK_GENERIC };
    r.u.tick_generic = (ibTickGeneric){ s->req_id, type, value };
    sim_send(c, &r, NULL);
    c->srv->stat_ticks++;
}

static bool has_generic(const simMktSub *s, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = s->generic; (p = strstr(p, id)) != NULL; p += n)
        if ((p == s->generic || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void send_trade(simConn *c, const simMktSub *s, const simInstrument *in)
{
    double last = sim_tickPrice(in, in->last_t);
    char ts[24];
    tick_price(c, s, IB_TICK_LAST, last, in->last_size, 0);
    tick_size(c, s, IB_TICK_LAST_SIZE, in->last_size);
    tick_size(c, s, IB_TICK_VOLUME, in->volume);
    snprintf(ts, sizeof ts, "%lld", (long long)in->last_time);
    tick_string(c, s, IB_TICK_LAST_TIMESTAMP, ts);
    if (has_generic(s, "233")) {
        char rt[128], p[32];
        ib_formatDouble(p, sizeof p, last);
        snprintf(rt, sizeof rt, "%s;%.0f;%lld000;%.0f;%s;true", p, in->last_size, (long long)in->last_time,
                 in->volume, p);
        tick_string(c, s, 48, rt);
    }
}

static void send_update(simConn *c, const simMktSub *s, const simInstrument *in)
{
    if (s->option) {
        sim_optionTicks(c, s, in, false);
        return;
    }
    switch (in->kind) {
    case 0:
        tick_price(c, s, IB_TICK_BID, sim_tickPrice(in, in->bid_t), in->bid_size, 1);
        tick_size(c, s, IB_TICK_BID_SIZE, in->bid_size);
        break;
    case 1:
        tick_price(c, s, IB_TICK_ASK, sim_tickPrice(in, in->ask_t), in->ask_size, 1);
        tick_size(c, s, IB_TICK_ASK_SIZE, in->ask_size);
        break;
    default:
        send_trade(c, s, in);
        if (in->new_high)
            tick_price(c, s, IB_TICK_HIGH, sim_tickPrice(in, in->high_t), 0, 0);
        if (in->new_low)
            tick_price(c, s, IB_TICK_LOW, sim_tickPrice(in, in->low_t), 0, 0);
        break;
    }
}

/* The initial image of a subscription (and the whole of a snapshot). */
static void send_image(simConn *c, const simMktSub *s, const simInstrument *in)
{
    if (s->option) {
        sim_optionTicks(c, s, in, true);
        return;
    }
    ibReply r = { .id = IB_MSG_TICK_REQ_PARAMS };
    r.u.tick_req_params = (ibTickReqParams){ s->req_id, in->min_tick,
                                             in->session == SIM_SESS_STK ? "9c0001" : "", 3 };
    sim_send(c, &r, NULL);
    if (s->md_type != 1) {
        ibReply t = { .id = IB_MSG_MARKET_DATA_TYPE };
        t.u.market_data_type = (ibMarketDataType){ s->req_id, s->md_type };
        sim_send(c, &t, NULL);
    }
    if (has_generic(s, "236") && in->session == SIM_SESS_STK)
        tick_generic(c, s, 46, 3.0);
    tick_price(c, s, IB_TICK_BID, sim_tickPrice(in, in->bid_t), in->bid_size, 1);
    tick_size(c, s, IB_TICK_BID_SIZE, in->bid_size);
    tick_price(c, s, IB_TICK_ASK, sim_tickPrice(in, in->ask_t), in->ask_size, 1);
    tick_size(c, s, IB_TICK_ASK_SIZE, in->ask_size);
    send_trade(c, s, in);
    tick_price(c, s, IB_TICK_HIGH, sim_tickPrice(in, in->high_t), 0, 0);
    tick_price(c, s, IB_TICK_LOW, sim_tickPrice(in, in->low_t), 0, 0);
    tick_price(c, s, IB_TICK_CLOSE, sim_tickPrice(in, in->close_t), 0, 0);
    tick_price(c, s, IB_TICK_OPEN, sim_tickPrice(in, in->open_t), 0, 0);
}

/* ---- requests -------------------------------------------------------------------------------------- */

int sim_linesInUse(simServer *srv)
{
    int n = 0;
    for (int i = 0; i < srv->n_insts; i++)
        n += srv->insts[i].lines;
    return n;
}

static simMktSub *find_sub(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_subs; i++)
        if (c->subs[i].req_id == req_id)
            return &c->subs[i];
    return NULL;
}

void sim_handleMktData(simConn *c, const ibReqMktData *r)
{
    simServer *srv = c->srv;
    if (find_sub(c, r->req_id)) {
        sim_sendError(c, r->req_id, 322, "Error processing request.-'bW' : cause - Duplicate ticker id");
        return;
    }
    simMktSub sub = { .req_id = r->req_id };
    int inst = sim_isOptionContract(&r->contract) ? sim_resolveOption(c, &r->contract, r->req_id, &sub)
                                                  : sim_resolveContract(c, &r->contract, r->req_id);
    if (inst < 0)
        return;
    bool snapshot = r->snapshot || r->regulatory_snapshot;
    if (snapshot && r->generic_ticks && *r->generic_ticks) {
        sim_sendError(c, r->req_id, 321, "Error validating request.-'bW' : cause - Snapshot market data "
                                         "subscription is not applicable to generic ticks");
        return;
    }
    if (!snapshot && sim_linesInUse(srv) >= srv->cfg.max_lines) {
        sim_sendError(c, r->req_id, 101, "Max number of tickers has been reached");
        return;
    }
    sub.inst = inst;
    sub.snapshot = snapshot;
    sub.md_type = c->md_type;
    snprintf(sub.generic, sizeof sub.generic, "%s", r->generic_ticks ? r->generic_ticks : "");
    simInstrument *in = &srv->insts[inst];
    /* during a nightly reset a streaming request takes its line; data starts when the farm is back */
    if (!srv->md_paused || snapshot)
        send_image(c, &sub, in);
    if (snapshot) {
        ibReply e = { .id = IB_MSG_TICK_SNAPSHOT_END };
        e.u.end.req_id = r->req_id;
        sim_send(c, &e, NULL);
        return;
    }
    if (c->n_subs == c->cap_subs) {
        int cap = c->cap_subs ? c->cap_subs * 2 : 8;
        simMktSub *ns = realloc(c->subs, (size_t)cap * sizeof *ns);
        if (!ns)
            return;
        c->subs = ns;
        c->cap_subs = cap;
    }
    c->subs[c->n_subs++] = sub;
    in->lines++;
}

static void remove_sub(simConn *c, int i)
{
    c->srv->insts[c->subs[i].inst].lines--;
    c->subs[i] = c->subs[--c->n_subs];
}

void sim_handleCancelMktData(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_subs; i++) {
        if (c->subs[i].req_id == req_id) {
            remove_sub(c, i);
            return;
        }
    }
    char msg[64];
    snprintf(msg, sizeof msg, "Can't find EId with tickerId:%lld", (long long)req_id);
    sim_sendError(c, req_id, 300, msg);
}

void sim_handleMarketDataType(simConn *c, int64_t type)
{
    if (type < 1 || type > 4) {
        sim_sendError(c, -1, 321, "Error validating request.-'dW' : cause - Invalid market data type");
        return;
    }
    c->md_type = (int)type;
    for (int i = 0; i < c->n_subs; i++) {
        if (c->subs[i].md_type != type) {
            c->subs[i].md_type = (int)type;
            ibReply t = { .id = IB_MSG_MARKET_DATA_TYPE };
            t.u.market_data_type = (ibMarketDataType){ c->subs[i].req_id, type };
            sim_send(c, &t, NULL);
        }
    }
}

void sim_dropConnMarketData(simConn *c)
{
    while (c->n_subs > 0)
        remove_sub(c, c->n_subs - 1);
    sim_dropConnDepth(c);
    sim_dropConnRealTimeBars(c);
}

void sim_dropAllMarketData(simServer *srv)
{
    for (simConn *c = srv->conns; c; c = c->next)
        sim_dropConnMarketData(c);
}

/* ---- the tick timer -------------------------------------------------------------------------------- */

static void broadcast(simServer *srv, const simInstrument *in)
{
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY || c->n_subs == 0)
            continue;
        for (int i = 0; i < c->n_subs; i++) {
            if (c->subs[i].inst != in->index)
                continue;
            if (srv->stalled || sim_connCongested(c)) {
                srv->stat_ticks_dropped++;
                continue;
            }
            send_update(c, &c->subs[i], in);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    simServer *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    double dt = (double)(now - srv->last_tick_ms) / 1000.0;
    srv->last_tick_ms = now;
    if (srv->md_paused)
        return;
    if (dt > 0.2)
        dt = 0.2;                           /* after a stall, do not burst */
    for (int i = 0; i < srv->n_insts; i++) {
        simInstrument *in = &srv->insts[i];
        if (in->lines == 0 && in->working_orders == 0 && in->depth_subs == 0 && in->tbt_subs == 0) {
            /* phase-shift instruments (golden-ratio spread, deterministic) so that they do not all
             * step in the same timer period: IB's own ticks arrive spread out, not in lockstep */
            in->step_acc = fmod((double)i * 0.6180339887498949, 1.0);
            continue;
        }
        in->step_acc += srv->cfg.tick_rate * dt;
        int n = (int)in->step_acc;
        in->step_acc -= n;
        for (int k = 0; k < n; k++) {
            step(in);
            if (in->lines)
                broadcast(srv, in);
            if (in->depth_subs || in->tbt_subs)
                sim_depthOnStep(srv, in);
            if (in->working_orders)
                sim_ordersOnQuote(srv, i);
        }
    }
    sim_flushAll(srv);
}

void sim_marketStart(simServer *srv)
{
    uv_timer_init(srv->loop, &srv->tick_timer);
    srv->tick_timer.data = srv;
    srv->last_tick_ms = uv_now(srv->loop);
    uint64_t period = srv->cfg.tick_period_ms > 0 ? (uint64_t)srv->cfg.tick_period_ms : SIM_TICK_PERIOD_MS;
    uv_timer_start(&srv->tick_timer, on_tick, period, period);
}
