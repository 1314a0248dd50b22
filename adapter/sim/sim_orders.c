/* sim_orders.c — orders (MKT, LMT, STP, STP LMT; DAY, GTC, IOC), fills against the simulated
 * quotes, executions and commissions, cancels, open-order and execution replays.
 *
 * Orders and executions belong to the account and the server, not to the connection: a client
 * that reconnects with the same client id sees its orders again (pushed after startApi, and by
 * reqOpenOrders / reqAllOpenOrders / reqExecutions). Live order messages go to the connection
 * that holds the order's client id, in the gateway's sequence: openOrder + orderStatus
 * (PreSubmitted), then per fill execDetails, openOrder, orderStatus, commissionReport.
 * Fills: market orders at once, walking the book one tick per displayed size (large orders fill
 * in several executions); limit orders when the quote crosses them, up to the displayed size per
 * quote update (partial fills); stops trigger on the opposite side of the quote.
 * Completed orders: an order that ends (Filled, Cancelled, or Inactive after a rejection of a new
 * order id) keeps its completion time and text for reqCompletedOrders until the next `newday`.
 * Orders forgotten by `newday` stay in the array, marked, so their ids are never reused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define MAX_BOOK_LEVELS 50

static simOrder *find_order(simServer *srv, int64_t client_id, int64_t order_id)
{
    for (int i = 0; i < srv->n_orders; i++)
        if (srv->orders[i].order_id == order_id && srv->orders[i].client_id == client_id &&
            !srv->orders[i].forgotten)
            return &srv->orders[i];
    return NULL;
}

static simOrder *new_order(simServer *srv)
{
    if (srv->n_orders == srv->cap_orders) {
        int cap = srv->cap_orders ? srv->cap_orders * 2 : 64;
        simOrder *no = realloc(srv->orders, (size_t)cap * sizeof *no);
        if (!no)
            return NULL;
        srv->orders = no;
        srv->cap_orders = cap;
    }
    simOrder *o = &srv->orders[srv->n_orders++];
    memset(o, 0, sizeof *o);
    return o;
}

static simExec *new_exec(simServer *srv)
{
    if (srv->n_execs == srv->cap_execs) {
        int cap = srv->cap_execs ? srv->cap_execs * 2 : 64;
        simExec *ne = realloc(srv->execs, (size_t)cap * sizeof *ne);
        if (!ne)
            return NULL;
        srv->execs = ne;
        srv->cap_execs = cap;
    }
    simExec *e = &srv->execs[srv->n_execs++];
    memset(e, 0, sizeof *e);
    return e;
}

/* ---- messages -------------------------------------------------------------------------------------- */

/* The order terms openOrder and completedOrder share (order id and parent id: openOrder only). */
static void fill_order(ibOrder *io, const simOrder *o)
{
    io->action = o->action;
    io->total_qty = o->qty;
    io->order_type = o->order_type;
    io->lmt_price = o->lmt;
    io->aux_price = o->aux;
    io->tif = o->tif;
    io->oca_group = o->oca_group;
    io->account = o->account;
    io->order_ref = o->order_ref;
    io->outside_rth = o->outside_rth;
    io->hidden = o->hidden;
}

static void send_open_order(simConn *c, const simOrder *o)
{
    simServer *srv = c->srv;
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_OPEN_ORDER;
    ibOpenOrder *oo = &r.u.open_order;
    sim_fillContract(&srv->insts[o->inst], &oo->contract);
    fill_order(&oo->order, o);
    oo->order.order_id = o->order_id;
    oo->order.parent_id = o->parent_id;
    oo->client_id = o->client_id;
    oo->perm_id = o->perm_id;
    oo->status = o->status;
    bool done = strcmp(o->status, "Filled") == 0;
    oo->commission = done ? o->commission : IB_UNSET_DOUBLE;
    oo->min_commission = IB_UNSET_DOUBLE;
    oo->max_commission = IB_UNSET_DOUBLE;
    oo->commission_currency = done ? "USD" : "";
    oo->warning_text = "";
    sim_send(c, &r, NULL);
}

static void send_status(simConn *c, const simOrder *o)
{
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_ORDER_STATUS;
    ibOrderStatus *s = &r.u.order_status;
    s->order_id = o->order_id;
    s->status = o->status;
    s->filled = o->filled;
    s->remaining = strcmp(o->status, "Cancelled") == 0 ? o->qty - o->filled : o->qty - o->filled;
    s->avg_fill_price = o->avg_price;
    s->perm_id = o->perm_id;
    s->parent_id = o->parent_id;
    s->last_fill_price = o->last_fill;
    s->client_id = o->client_id;
    s->why_held = "";
    s->mkt_cap_price = 0;
    sim_send(c, &r, NULL);
}

static void notify(simServer *srv, const simOrder *o, bool open_order)
{
    simConn *c = sim_findClient(srv, o->client_id);
    if (!c)
        return;
    if (open_order)
        send_open_order(c, o);
    send_status(c, o);
}

static const char *venue(const simInstrument *in)
{
    if (in->session != SIM_SESS_STK)
        return in->exchange;
    if (strcmp(in->primary_exchange, "NASDAQ") == 0)
        return "ISLAND";
    return in->primary_exchange;
}

static void exec_reply(simServer *srv, const simExec *e, int64_t req_id, ibReply *r)
{
    const simInstrument *in = &srv->insts[e->inst];
    memset(r, 0, sizeof *r);
    r->id = IB_MSG_EXEC_DETAILS;
    ibExecDetails *x = &r->u.exec_details;
    x->req_id = req_id;
    x->order_id = e->order_id;
    sim_fillContract(in, &x->contract);
    x->contract.exchange = venue(in);
    x->exec_id = e->exec_id;
    x->time = e->time;
    x->account = e->account;
    x->exchange = venue(in);
    x->side = e->side;
    x->shares = e->shares;
    x->price = e->price;
    x->perm_id = e->perm_id;
    x->client_id = e->client_id;
    x->liquidation = 0;
    x->cum_qty = e->cum_qty;
    x->avg_price = e->avg_price;
    x->order_ref = e->order_ref;
    x->ev_rule = "";
    x->ev_multiplier = IB_UNSET_DOUBLE;
    x->model_code = "";
    x->last_liquidity = 2;
}

static void commission_reply(const simExec *e, ibReply *r)
{
    memset(r, 0, sizeof *r);
    r->id = IB_MSG_COMMISSION_REPORT;
    r->u.commission.exec_id = e->exec_id;
    r->u.commission.commission = e->commission;
    r->u.commission.currency = "USD";
    r->u.commission.realized_pnl = e->realized;
    r->u.commission.yield = IB_UNSET_DOUBLE;
    r->u.commission.yield_redemption_date = 0;
}

/* ---- fills ----------------------------------------------------------------------------------------- */

static double commission_for(const simInstrument *in, double qty, double price)
{
    double value = qty * price * in->mult;
    switch (in->session) {
    case SIM_SESS_STK: {
        double c = qty * 0.005;
        if (c < 1.0)
            c = 1.0;
        if (c > value * 0.01)
            c = value * 0.01;
        return round(c * 100) / 100;
    }
    case SIM_SESS_FUT: return round(qty * 2.25 * 100) / 100;
    case SIM_SESS_FX: return value * 0.00002 < 2.0 ? 2.0 : round(value * 0.00002 * 100) / 100;
    }
    return 1.0;
}

static void set_working(simServer *srv, simOrder *o, bool working)
{
    if (o->working == working)
        return;
    o->working = working;
    srv->insts[o->inst].working_orders += working ? 1 : -1;
}

/* The order has ended: status, the time IB reports it (ET, as the gateway writes it) and why. */
static void complete(simOrder *o, const char *status, const char *why)
{
    snprintf(o->status, sizeof o->status, "%s", status);
    int64_t now = sim_epoch();
    char t[32];
    sim_formatTime(t, sizeof t, now + sim_etOffset(now), "%Y%m%d %H:%M:%S", false);
    snprintf(o->completed_time, sizeof o->completed_time, "%s America/New_York", t);
    snprintf(o->completed_status, sizeof o->completed_status, "%s", why);
}

static void fill(simServer *srv, simOrder *o, double qty, double price)
{
    simInstrument *in = &srv->insts[o->inst];
    simAccount *acct = sim_findAccount(srv, o->account);
    bool buy = strcmp(o->action, "BUY") == 0;
    double comm = commission_for(in, qty, price);
    double realized = acct ? sim_accountFill(srv, acct, o->inst, buy ? qty : -qty, price, comm) : 0;
    o->avg_price = (o->avg_price * o->filled + price * qty) / (o->filled + qty);
    o->filled += qty;
    o->last_fill = price;
    o->commission += comm;
    bool done = o->filled >= o->qty - 1e-9;
    if (done) {
        char why[48];
        snprintf(why, sizeof why, "Filled Size: %g", o->filled);
        complete(o, "Filled", why);
        set_working(srv, o, false);
    } else {
        snprintf(o->status, sizeof o->status, "Submitted");
    }

    simExec *e = new_exec(srv);
    if (!e)
        return;
    /* IB's exec ids never repeat, not even across gateway restarts (a consumer dedupes on them): the
     * process's start time and pid make a restarted ib-sim's differ from the last one's. */
    static uint32_t boot;
    if (!boot)
        boot = (uint32_t)time(NULL);
    uint64_t prefix = (sim_hash(srv->cfg.seed, 0x45584543, 0, 0) ^ (uint64_t)getpid()) & 0xffff;
    snprintf(e->exec_id, sizeof e->exec_id, "0000%04llx.%08llx.01.01", (unsigned long long)prefix,
             (unsigned long long)(uint32_t)(boot + (unsigned)++srv->exec_seq));
    e->epoch = sim_epoch();
    sim_formatTime(e->time, sizeof e->time, e->epoch, "%Y%m%d  %H:%M:%S", false);
    snprintf(e->account, sizeof e->account, "%s", o->account);
    snprintf(e->side, sizeof e->side, "%s", buy ? "BOT" : "SLD");
    snprintf(e->order_ref, sizeof e->order_ref, "%s", o->order_ref);
    e->order_id = o->order_id;
    e->client_id = o->client_id;
    e->perm_id = o->perm_id;
    e->inst = o->inst;
    e->shares = qty;
    e->price = price;
    e->cum_qty = o->filled;
    e->avg_price = round(o->avg_price * 1e6) / 1e6;
    e->commission = comm;
    e->realized = isnan(realized) ? IB_UNSET_DOUBLE : realized - comm;
    srv->stat_fills++;
    IBB_INFO("sim.fill", "order=%lld client=%lld %s %g %s @ %g", (long long)o->order_id,
             (long long)o->client_id, e->side, qty, in->symbol, price);

    simConn *c = sim_findClient(srv, o->client_id);
    if (c) {
        ibReply r;
        exec_reply(srv, e, -1, &r);
        sim_send(c, &r, NULL);
        send_open_order(c, o);
        send_status(c, o);
        commission_reply(e, &r);
        sim_send(c, &r, NULL);
    }
    if (acct)
        sim_accountChanged(srv, acct, o->inst);
}

/* Takes liquidity: up to `limit` (unset = any price), walking the book from the touch. */
static void take(simServer *srv, simOrder *o, double limit, int max_levels)
{
    simInstrument *in = &srv->insts[o->inst];
    bool buy = strcmp(o->action, "BUY") == 0;
    for (int lvl = 0; lvl < max_levels && o->qty - o->filled > 1e-9; lvl++) {
        int64_t t = buy ? in->ask_t + lvl : in->bid_t - lvl;
        if (t < 1)
            break;
        double px = sim_tickPrice(in, t);
        if (!ib_isUnsetDouble(limit) && (buy ? px > limit + 1e-9 : px < limit - 1e-9))
            break;
        double avail = buy ? in->ask_size : in->bid_size;
        double rem = o->qty - o->filled;
        bool last_level = lvl == max_levels - 1 && ib_isUnsetDouble(limit);
        double q = (rem < avail || last_level) ? rem : avail;
        fill(srv, o, q, px);
    }
}

static void trigger(simServer *srv, simOrder *o)
{
    o->triggered = true;
    snprintf(o->status, sizeof o->status, "Submitted");
    notify(srv, o, true);
}

/* Evaluates a working order against the current quote. `initial`: right after placement. */
static void evaluate(simServer *srv, simOrder *o, bool initial)
{
    simInstrument *in = &srv->insts[o->inst];
    bool buy = strcmp(o->action, "BUY") == 0;
    bool stop = strncmp(o->order_type, "STP", 3) == 0;
    if (stop && !o->triggered) {
        double touch = buy ? sim_tickPrice(in, in->ask_t) : sim_tickPrice(in, in->bid_t);
        if (buy ? touch >= o->aux - 1e-9 : touch <= o->aux + 1e-9)
            trigger(srv, o);
        else
            return;
    }
    bool market = strcmp(o->order_type, "MKT") == 0 || strcmp(o->order_type, "STP") == 0;
    if (market)
        take(srv, o, IB_UNSET_DOUBLE, MAX_BOOK_LEVELS);
    else
        take(srv, o, o->lmt, initial ? MAX_BOOK_LEVELS : 1);
}

void sim_ordersOnQuote(simServer *srv, int inst)
{
    for (int i = 0; i < srv->n_orders; i++) {
        simOrder *o = &srv->orders[i];
        if (o->working && o->inst == inst)
            evaluate(srv, o, false);
    }
}

/* ---- placeOrder ------------------------------------------------------------------------------------ */

static void reject(simConn *c, int64_t order_id, const char *reason)
{
    char msg[320];
    snprintf(msg, sizeof msg, "Order rejected - reason:%s", reason);
    sim_sendError(c, order_id, 201, msg);
}

static bool valid_type(const char *t)
{
    return !strcmp(t, "MKT") || !strcmp(t, "LMT") || !strcmp(t, "STP") || !strcmp(t, "STP LMT");
}

static bool off_tick(const simInstrument *in, double px)
{
    double n = px / in->min_tick;
    return fabs(n - round(n)) > 1e-6;
}

/* Checks the order fields; returns false after sending the error, whose reason goes to why. */
static bool validate(simConn *c, const ibOrder *o, const simInstrument *in, char *type, char *tif,
                     char *action, char why[160])
{
    const char *t = o->order_type ? o->order_type : "";
    snprintf(type, 12, "%s", strcasecmp(t, "STPLMT") == 0 ? "STP LMT" : t);
    for (char *p = type; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    snprintf(tif, 8, "%s", o->tif && *o->tif ? o->tif : "DAY");
    for (char *p = tif; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    const char *a = o->action ? o->action : "";
    snprintf(action, 8, "%s", strcasecmp(a, "SSHORT") == 0 ? "SELL" : a);
    for (char *p = action; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    if (strcmp(action, "BUY") != 0 && strcmp(action, "SELL") != 0)
        snprintf(why, 160, "Invalid action '%s'", a);
    else if (ib_isUnsetDouble(o->total_qty) || !(o->total_qty > 0))
        snprintf(why, 160, "The order size must be positive");
    else if (!valid_type(type))
        snprintf(why, 160, "Order type '%s' is not supported by ib-sim (MKT, LMT, STP, STP LMT)", t);
    else if (strcmp(tif, "DAY") && strcmp(tif, "GTC") && strcmp(tif, "IOC"))
        snprintf(why, 160, "Time in force '%s' is not supported by ib-sim (DAY, GTC, IOC)", tif);
    else if (strstr(type, "LMT") && (ib_isUnsetDouble(o->lmt_price) || !(o->lmt_price > 0)))
        snprintf(why, 160, "A limit price is required for %s orders", type);
    else if (!strncmp(type, "STP", 3) && (ib_isUnsetDouble(o->aux_price) || !(o->aux_price > 0)))
        snprintf(why, 160, "A stop price is required for %s orders", type);
    else if (o->account && *o->account && !sim_findAccount(c->srv, o->account))
        snprintf(why, 160, "Account '%s' is not a managed account", o->account);
    else if ((strstr(type, "LMT") && off_tick(in, o->lmt_price)) ||
             (!strncmp(type, "STP", 3) && off_tick(in, o->aux_price))) {
        snprintf(why, 160, "The price does not conform to the minimum price variation for this "
                           "contract.");
        sim_sendError(c, o->order_id, 110, why);
        return false;
    } else
        return true;
    reject(c, o->order_id, why);
    return false;
}

static void apply_fields(simOrder *o, const ibOrder *src, const char *type, const char *tif,
                         const char *action)
{
    snprintf(o->action, sizeof o->action, "%s", action);
    snprintf(o->order_type, sizeof o->order_type, "%s", type);
    snprintf(o->tif, sizeof o->tif, "%s", tif);
    snprintf(o->order_ref, sizeof o->order_ref, "%s", src->order_ref ? src->order_ref : "");
    snprintf(o->oca_group, sizeof o->oca_group, "%s", src->oca_group ? src->oca_group : "");
    o->qty = src->total_qty;
    o->lmt = strstr(type, "LMT") ? src->lmt_price : IB_UNSET_DOUBLE;
    o->aux = strncmp(type, "STP", 3) == 0 ? src->aux_price : IB_UNSET_DOUBLE;
    o->outside_rth = src->outside_rth;
    o->hidden = src->hidden;
    o->parent_id = src->parent_id;
}

/* The highest order id this client has used, forgotten orders included (ids are never reused). */
static int64_t highest_id(const simServer *srv, int64_t client_id)
{
    int64_t highest = 0;
    for (int i = 0; i < srv->n_orders; i++)
        if (srv->orders[i].client_id == client_id && srv->orders[i].order_id > highest)
            highest = srv->orders[i].order_id;
    return highest;
}

/* A new order id that IB rejected still names an order there: Inactive, listed by
 * reqCompletedOrders. A rejected modification leaves the order as it was. */
static void record_rejected(simConn *c, const ibOrder *src, int inst, const char *type, const char *tif,
                            const char *action, const char *why)
{
    simServer *srv = c->srv;
    if (find_order(srv, c->client_id, src->order_id) || src->order_id <= highest_id(srv, c->client_id))
        return;
    simOrder *o = new_order(srv);
    if (!o)
        return;
    apply_fields(o, src, type, tif, action);
    o->order_id = src->order_id;
    o->client_id = c->client_id;
    o->perm_id = srv->next_perm_id++;
    o->inst = inst;
    snprintf(o->account, sizeof o->account, "%s",
             src->account && *src->account && sim_findAccount(srv, src->account) ? src->account
                                                                                 : srv->accounts[0].id);
    char text[176];
    snprintf(text, sizeof text, "Rejected: %s", why);
    complete(o, "Inactive", text);
    if (src->order_id > srv->max_order_id)
        srv->max_order_id = src->order_id;
}

void sim_handlePlaceOrder(simConn *c, const ibPlaceOrder *p)
{
    simServer *srv = c->srv;
    const ibOrder *src = &p->order;
    int inst = sim_resolveContract(c, &p->contract, src->order_id);
    if (inst < 0)
        return;
    char type[12], tif[8], action[8], why[160];
    if (!validate(c, src, &srv->insts[inst], type, tif, action, why)) {
        if (!src->what_if)            /* a refused what-if leaves nothing behind */
            record_rejected(c, src, inst, type, tif, action, why);
        return;
    }
    if (src->what_if) {
        const simInstrument *in = &srv->insts[inst];
        double px = strstr(type, "LMT") ? src->lmt_price
                    : !strcmp(type, "STP") ? src->aux_price
                                           : sim_mid(in);
        sim_previewOrder(c, p, inst, px, commission_for(in, src->total_qty, px));
        return;
    }
    simOrder *o = find_order(srv, c->client_id, src->order_id);
    if (o) {
        if (!o->working && strcmp(o->status, "Inactive") == 0) {
            sim_sendError(c, src->order_id, 103, "Duplicate order id");   /* a rejected id stays used */
            return;
        }
        if (!o->working) {
            sim_sendError(c, src->order_id, 104, "Can't modify a filled order.");
            return;
        }
        if (o->inst != inst || src->total_qty < o->filled) {
            reject(c, src->order_id, "The contract or a quantity below the filled size cannot be modified");
            return;
        }
        apply_fields(o, src, type, tif, action);
        notify(srv, o, true);
        evaluate(srv, o, true);
        return;
    }
    if (src->order_id <= highest_id(srv, c->client_id)) {
        char msg[64];
        snprintf(msg, sizeof msg, "Duplicate order id");
        sim_sendError(c, src->order_id, 103, msg);
        return;
    }
    o = new_order(srv);
    if (!o)
        return;
    apply_fields(o, src, type, tif, action);
    o->order_id = src->order_id;
    o->client_id = c->client_id;
    o->perm_id = srv->next_perm_id++;
    o->inst = inst;
    o->avg_price = 0;
    o->last_fill = 0;
    snprintf(o->account, sizeof o->account, "%s",
             src->account && *src->account ? src->account : srv->accounts[0].id);
    snprintf(o->status, sizeof o->status, "PreSubmitted");
    if (src->order_id > srv->max_order_id)
        srv->max_order_id = src->order_id;
    srv->stat_orders++;
    set_working(srv, o, true);
    IBB_INFO("sim.order", "order=%lld client=%lld %s %g %s %s tif=%s", (long long)o->order_id,
             (long long)o->client_id, o->action, o->qty, srv->insts[inst].symbol, o->order_type, o->tif);
    notify(srv, o, true);
    int64_t order_id = o->order_id, client_id = o->client_id;
    evaluate(srv, o, true);
    o = find_order(srv, client_id, order_id);   /* fills may have grown the arrays */
    if (!o || !o->working)
        return;
    if (strcmp(o->tif, "IOC") == 0) {
        complete(o, "Cancelled", "Cancelled by System");
        set_working(srv, o, false);
        notify(srv, o, false);
        return;
    }
    bool stop = strncmp(o->order_type, "STP", 3) == 0 && !o->triggered;
    if (!stop && strcmp(o->status, "PreSubmitted") == 0) {
        snprintf(o->status, sizeof o->status, "Submitted");
        notify(srv, o, true);
    }
}

/* ---- cancels --------------------------------------------------------------------------------------- */

static void cancel(simServer *srv, simOrder *o)
{
    complete(o, "Cancelled", "Cancelled by Trader");
    set_working(srv, o, false);
    simConn *c = sim_findClient(srv, o->client_id);
    if (!c)
        return;
    sim_sendError(c, o->order_id, 202, "Order Canceled - reason:");
    send_status(c, o);
}

void sim_handleCancelOrder(simConn *c, const ibCancelOrder *r)
{
    simOrder *o = find_order(c->srv, c->client_id, r->order_id);
    char msg[96];
    if (!o) {
        snprintf(msg, sizeof msg, "Can't find order with ID = %lld", (long long)r->order_id);
        sim_sendError(c, r->order_id, 135, msg);
        return;
    }
    if (!o->working) {
        snprintf(msg, sizeof msg,
                 "Cancel attempted when order is not in a cancellable state.  Order permId =%lld",
                 (long long)o->perm_id);
        sim_sendError(c, r->order_id, 161, msg);
        return;
    }
    cancel(c->srv, o);
}

void sim_handleGlobalCancel(simConn *c)
{
    simServer *srv = c->srv;
    for (int i = 0; i < srv->n_orders; i++)
        if (srv->orders[i].working)
            cancel(srv, &srv->orders[i]);
}

/* ---- replays --------------------------------------------------------------------------------------- */

void sim_handleOpenOrders(simConn *c, bool all)
{
    simServer *srv = c->srv;
    for (int i = 0; i < srv->n_orders; i++) {
        const simOrder *o = &srv->orders[i];
        if (o->working && (all || o->client_id == c->client_id)) {
            send_open_order(c, o);
            send_status(c, o);
        }
    }
    ibReply end = { .id = IB_MSG_OPEN_ORDER_END };
    sim_send(c, &end, NULL);
}

void sim_ordersReplay(simConn *c)
{
    simServer *srv = c->srv;
    for (int i = 0; i < srv->n_orders; i++) {
        const simOrder *o = &srv->orders[i];
        if (o->working && o->client_id == c->client_id) {
            send_open_order(c, o);
            send_status(c, o);
        }
    }
}

static void digits(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++)
        if (*s >= '0' && *s <= '9')
            out[n++] = *s;
    out[n] = '\0';
}

static bool exec_matches(simServer *srv, const simExec *e, const ibReqExecutions *f)
{
    const simInstrument *in = &srv->insts[e->inst];
    if (f->client_id > 0 && e->client_id != f->client_id)
        return false;
    if (f->account && *f->account && strcasecmp(f->account, e->account) != 0)
        return false;
    if (f->symbol && *f->symbol && strcasecmp(f->symbol, in->symbol) != 0)
        return false;
    if (f->sec_type && *f->sec_type && strcasecmp(f->sec_type, in->sec_type) != 0)
        return false;
    if (f->exchange && *f->exchange && strcasecmp(f->exchange, venue(in)) != 0 &&
        strcasecmp(f->exchange, in->exchange) != 0)
        return false;
    if (f->side && *f->side) {
        bool buy = !strcasecmp(f->side, "BUY") || !strcasecmp(f->side, "BOT");
        if (buy != (strcmp(e->side, "BOT") == 0))
            return false;
    }
    if (f->time && *f->time) {
        char a[24], b[24];
        digits(f->time, a, sizeof a);
        digits(e->time, b, sizeof b);
        if (strcmp(b, a) < 0)
            return false;
    }
    return true;
}

void sim_handleExecutions(simConn *c, const ibReqExecutions *r)
{
    simServer *srv = c->srv;
    for (int i = 0; i < srv->n_execs; i++) {
        const simExec *e = &srv->execs[i];
        if (!exec_matches(srv, e, r))
            continue;
        ibReply rep;
        exec_reply(srv, e, r->req_id, &rep);
        sim_send(c, &rep, NULL);
        commission_reply(e, &rep);
        sim_send(c, &rep, NULL);
    }
    ibReply end = { .id = IB_MSG_EXEC_DETAILS_END };
    end.u.end.req_id = r->req_id;
    sim_send(c, &end, NULL);
}

/* ---- completed orders and the next trading day ------------------------------------------------------ */

static bool completed(const simOrder *o)
{
    return !o->forgotten && !o->working && o->completed_time[0] != '\0';
}

static void send_completed_order(simConn *c, const simOrder *o)
{
    simServer *srv = c->srv;
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_COMPLETED_ORDER;
    ibCompletedOrder *co = &r.u.completed_order;
    sim_fillContract(&srv->insts[o->inst], &co->contract);
    fill_order(&co->order, o);   /* completedOrder carries no order id or parent id on the wire */
    co->perm_id = o->perm_id;
    co->parent_perm_id = IB_UNSET_INT;
    co->status = o->status;
    co->filled_qty = o->filled;
    co->completed_time = o->completed_time;
    co->completed_status = o->completed_status;
    sim_send(c, &r, NULL);
}

void sim_handleCompletedOrders(simConn *c, bool api_only)
{
    (void)api_only;                     /* every ib-sim order came through the API */
    simServer *srv = c->srv;
    for (int i = 0; i < srv->n_orders; i++)
        if (completed(&srv->orders[i]))
            send_completed_order(c, &srv->orders[i]);
    ibReply end = { .id = IB_MSG_COMPLETED_ORDERS_END };
    sim_send(c, &end, NULL);
}

void sim_ordersNewDay(simServer *srv, bool keep_completed, int *forgot_orders, int *forgot_execs,
                      int *kept_working, int *kept_completed)
{
    int forgot = 0, working = 0, kept = 0;
    for (int i = 0; i < srv->n_orders; i++) {
        simOrder *o = &srv->orders[i];
        if (o->forgotten)
            continue;
        if (o->working && strcmp(o->tif, "GTC") == 0) {
            working++;
        } else if (o->working) {        /* a DAY order expires with its day: no message */
            complete(o, "Cancelled", "Cancelled by System");
            set_working(srv, o, false);
            o->forgotten = true;
            forgot++;
        } else if (keep_completed) {
            kept += completed(o);
        } else {
            o->forgotten = true;
            forgot++;
        }
    }
    if (forgot_execs)
        *forgot_execs = srv->n_execs;
    srv->n_execs = 0;                   /* exec ids keep counting (exec_seq) */
    if (forgot_orders)
        *forgot_orders = forgot;
    if (kept_working)
        *kept_working = working;
    if (kept_completed)
        *kept_completed = kept;
    IBB_INFO("sim.newday", "forgot_orders=%d forgot_executions=%d kept_working=%d kept_completed=%d",
             forgot, forgot_execs ? *forgot_execs : -1, working, kept);
}

void sim_ordersFree(simServer *srv)
{
    free(srv->orders);
    free(srv->execs);
    free(srv->hist);
    srv->orders = NULL;
    srv->execs = NULL;
    srv->hist = NULL;
}
