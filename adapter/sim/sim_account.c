/* sim_account.c — accounts (paper-style DU... ids), positions, reqPositions, reqAccountSummary and
 * reqAccountUpdates (account values + portfolio rows), all derived from the same fills.
 *
 * Accounting: stocks move cash by price x quantity; futures and forex are marked to market (cash
 * moves only by realized P&L). Commissions always reduce cash. So, at every moment,
 *   NetLiquidation = start cash + realized P&L - commissions + unrealized P&L,
 * and RealizedPnL is reported net of commissions (as IB does). Margin: 25% of gross stock value
 * plus 8% of futures/forex notional; BuyingPower = 4 x AvailableFunds.
 * Subscriptions: positions and account updates are pushed on every fill; account summaries and
 * account updates are also re-sent every --summary-interval seconds (IB: 3 minutes). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

typedef struct acctVals {
    double nlv, cash, gross, unreal, realized, init, maint, avail, excess, bp, stock_value, fut_pnl;
} acctVals;

void sim_accountsInit(simServer *srv)
{
    srv->n_accounts = srv->cfg.n_accounts;
    for (int i = 0; i < srv->n_accounts; i++) {
        simAccount *a = &srv->accounts[i];
        memset(a, 0, sizeof *a);
        snprintf(a->id, sizeof a->id, "%s", srv->cfg.accounts[i]);
        a->cash = srv->cfg.start_cash;
    }
}

void sim_accountsFree(simServer *srv)
{
    for (int i = 0; i < srv->n_accounts; i++) {
        free(srv->accounts[i].pos);
        srv->accounts[i].pos = NULL;
    }
}

simAccount *sim_findAccount(simServer *srv, const char *id)
{
    for (int i = 0; i < srv->n_accounts; i++)
        if (id && strcasecmp(srv->accounts[i].id, id) == 0)
            return &srv->accounts[i];
    return NULL;
}

const char *sim_managedAccounts(simServer *srv, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < srv->n_accounts && n + 34 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", srv->accounts[i].id);
    return buf;
}

static simPosition *find_pos(simAccount *a, int inst, bool create)
{
    for (int i = 0; i < a->n_pos; i++)
        if (a->pos[i].inst == inst)
            return &a->pos[i];
    if (!create)
        return NULL;
    if (a->n_pos == a->cap_pos) {
        int cap = a->cap_pos ? a->cap_pos * 2 : 16;
        simPosition *np = realloc(a->pos, (size_t)cap * sizeof *np);
        if (!np)
            return NULL;
        a->pos = np;
        a->cap_pos = cap;
    }
    simPosition *p = &a->pos[a->n_pos++];
    memset(p, 0, sizeof *p);
    p->inst = inst;
    return p;
}

/* P&L in USD of `qty` units moving by `diff` in price. */
static double pnl_usd(const simInstrument *in, double qty, double diff, double price)
{
    double v = qty * diff * in->mult;
    if (in->session == SIM_SESS_FX && strcmp(in->currency, "USD") != 0 && price > 0)
        v /= price;                         /* USD.JPY: P&L is in JPY */
    return v;
}

double sim_accountFill(simServer *srv, simAccount *a, int inst, double dq, double price, double commission)
{
    const simInstrument *in = &srv->insts[inst];
    simPosition *p = find_pos(a, inst, true);
    double realized = NAN;
    if (!p)
        return realized;
    double q0 = p->qty;
    if (q0 == 0 || (q0 > 0) == (dq > 0)) {
        p->avg_price = (q0 * p->avg_price + dq * price) / (q0 + dq);
        p->qty = q0 + dq;
    } else {
        double closing = fabs(dq) < fabs(q0) ? fabs(dq) : fabs(q0);
        realized = pnl_usd(in, closing * (q0 > 0 ? 1 : -1), price - p->avg_price, price);
        p->qty = q0 + dq;
        if (fabs(p->qty) < 1e-9)
            p->qty = 0;
        if ((p->qty > 0) != (q0 > 0) && p->qty != 0)
            p->avg_price = price;           /* flipped: the rest opened at this price */
        p->realized += realized;
        a->realized += realized;
    }
    if (in->session == SIM_SESS_STK)
        a->cash -= dq * price * in->mult;
    else if (!isnan(realized))
        a->cash += realized;
    a->cash -= commission;
    a->commissions += commission;
    return realized;
}

static void compute(simServer *srv, const simAccount *a, acctVals *v)
{
    memset(v, 0, sizeof *v);
    double fut_notional = 0;
    for (int i = 0; i < a->n_pos; i++) {
        const simPosition *p = &a->pos[i];
        if (p->qty == 0)
            continue;
        const simInstrument *in = &srv->insts[p->inst];
        double mark = sim_mid(in);
        double unreal = pnl_usd(in, p->qty, mark - p->avg_price, mark);
        v->unreal += unreal;
        if (in->session == SIM_SESS_STK) {
            v->stock_value += p->qty * mark * in->mult;
            v->gross += fabs(p->qty * mark * in->mult);
        } else {
            v->fut_pnl += unreal;
            double notional = fabs(p->qty) * in->mult *
                              (in->session == SIM_SESS_FX && strcmp(in->currency, "USD") ? 1.0 : mark);
            fut_notional += notional;
        }
    }
    v->cash = a->cash;
    v->realized = a->realized - a->commissions;
    v->nlv = a->cash + v->stock_value + v->fut_pnl;
    v->init = 0.25 * v->gross + 0.08 * fut_notional;
    v->maint = 0.8 * v->init;
    v->avail = v->nlv - v->init;
    v->excess = v->nlv - v->maint;
    v->bp = 4 * v->avail;
}

/* ---- values by tag ------------------------------------------------------------------------------ */

static const char *const SUMMARY_TAGS[] = {
    "AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "AccruedCash", "BuyingPower",
    "EquityWithLoanValue", "GrossPositionValue", "InitMarginReq", "MaintMarginReq", "AvailableFunds",
    "ExcessLiquidity", "Cushion", "FullInitMarginReq", "FullMaintMarginReq", "FullAvailableFunds",
    "FullExcessLiquidity", "DayTradesRemaining", "Leverage", "RealizedPnL", "UnrealizedPnL",
};
static const char *const LEDGER_TAGS[] = {
    "CashBalance", "TotalCashBalance", "NetLiquidationByCurrency", "StockMarketValue", "FuturesPNL",
    "RealizedPnL", "UnrealizedPnL", "ExchangeRate",
};

/* Writes the value of `tag` into out; returns the currency ("" for non-monetary) or NULL. */
static const char *tag_value(const acctVals *v, const char *tag, char *out, size_t cap)
{
    static const struct { const char *tag; size_t off;
    } M[] = {
        {"NetLiquidation", offsetof(acctVals, nlv)},
        {"TotalCashValue", offsetof(acctVals, cash)},
        {"SettledCash", offsetof(acctVals, cash)},
        {"BuyingPower", offsetof(acctVals, bp)},
        {"EquityWithLoanValue", offsetof(acctVals, nlv)},
        {"GrossPositionValue", offsetof(acctVals, gross)},
        {"InitMarginReq", offsetof(acctVals, init)},
        {"MaintMarginReq", offsetof(acctVals, maint)},
        {"AvailableFunds", offsetof(acctVals, avail)},
        {"ExcessLiquidity", offsetof(acctVals, excess)},
        {"FullInitMarginReq", offsetof(acctVals, init)},
        {"FullMaintMarginReq", offsetof(acctVals, maint)},
        {"FullAvailableFunds", offsetof(acctVals, avail)},
        {"FullExcessLiquidity", offsetof(acctVals, excess)},
        {"RealizedPnL", offsetof(acctVals, realized)},
        {"UnrealizedPnL", offsetof(acctVals, unreal)},
        {"CashBalance", offsetof(acctVals, cash)},
        {"TotalCashBalance", offsetof(acctVals, cash)},
        {"NetLiquidationByCurrency", offsetof(acctVals, nlv)},
        {"StockMarketValue", offsetof(acctVals, stock_value)},
        {"FuturesPNL", offsetof(acctVals, fut_pnl)},
    };
    for (size_t i = 0; i < sizeof M / sizeof M[0]; i++) {
        if (strcmp(M[i].tag, tag) == 0) {
            double d = *(const double *)((const char *)v + M[i].off);
            snprintf(out, cap, "%.2f", fabs(d) < 0.005 ? 0.0 : d);
            return "USD";
        }
    }
    if (!strcmp(tag, "AccountType")) { snprintf(out, cap, "INDIVIDUAL"); return ""; }
    if (!strcmp(tag, "AccruedCash")) { snprintf(out, cap, "0.00"); return "USD"; }
    if (!strcmp(tag, "DayTradesRemaining")) { snprintf(out, cap, "-1"); return ""; }
    if (!strcmp(tag, "Cushion")) {
        snprintf(out, cap, "%.6f", v->nlv > 0 ? v->excess / v->nlv : 0.0);
        return "";
    }
    if (!strcmp(tag, "Leverage")) {
        snprintf(out, cap, "%.2f", v->nlv > 0 ? v->gross / v->nlv : 0.0);
        return "";
    }
    if (!strcmp(tag, "ExchangeRate")) { snprintf(out, cap, "1.00"); return "USD"; }
    return NULL;
}

/* ---- reqAccountSummary --------------------------------------------------------------------------- */

static bool list_has(const char *list, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *p = list; (p = strstr(p, tag)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void send_summary(simConn *c, int64_t req_id, const char *tags)
{
    simServer *srv = c->srv;
    bool all = !*tags || list_has(tags, "All");
    bool ledger = strstr(tags, "$LEDGER") != NULL;
    for (int k = 0; k < srv->n_accounts; k++) {
        acctVals v;
        compute(srv, &srv->accounts[k], &v);
        size_t n = ledger ? sizeof LEDGER_TAGS / sizeof LEDGER_TAGS[0]
                          : sizeof SUMMARY_TAGS / sizeof SUMMARY_TAGS[0];
        for (size_t i = 0; i < n; i++) {
            const char *tag = ledger ? LEDGER_TAGS[i] : SUMMARY_TAGS[i];
            if (!ledger && !all && !list_has(tags, tag))
                continue;
            char val[48];
            const char *ccy = tag_value(&v, tag, val, sizeof val);
            if (!ccy)
                continue;
            ibReply r = { .id = IB_MSG_ACCOUNT_SUMMARY };
            r.u.account_summary = (ibAccountSummary){ req_id, srv->accounts[k].id, tag, val, ccy };
            sim_send(c, &r, NULL);
        }
    }
    ibReply end = { .id = IB_MSG_ACCOUNT_SUMMARY_END };
    end.u.end.req_id = req_id;
    sim_send(c, &end, NULL);
}

void sim_handleAccountSummary(simConn *c, const ibReqAccountSummary *r)
{
    for (int i = 0; i < c->n_sums; i++) {
        if (c->sums[i].req_id == r->req_id) {
            sim_sendError(c, r->req_id, 322, "Error processing request.-'bM' : cause - Duplicate id");
            return;
        }
    }
    if (c->n_sums == c->cap_sums) {
        int cap = c->cap_sums ? c->cap_sums * 2 : 4;
        simSumSub *ns = realloc(c->sums, (size_t)cap * sizeof *ns);
        if (!ns)
            return;
        c->sums = ns;
        c->cap_sums = cap;
    }
    simSumSub *s = &c->sums[c->n_sums++];
    s->req_id = r->req_id;
    snprintf(s->tags, sizeof s->tags, "%s", r->tags ? r->tags : "");
    send_summary(c, s->req_id, s->tags);
}

void sim_handleCancelAccountSummary(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_sums; i++) {
        if (c->sums[i].req_id == req_id) {
            c->sums[i] = c->sums[--c->n_sums];
            return;
        }
    }
}

/* ---- positions ---------------------------------------------------------------------------------- */

static void send_position(simConn *c, const simAccount *a, const simPosition *p)
{
    const simInstrument *in = &c->srv->insts[p->inst];
    ibReply r = { .id = IB_MSG_POSITION };
    r.u.position.account = a->id;
    sim_fillContract(in, &r.u.position.contract);
    if (in->session == SIM_SESS_STK)
        r.u.position.contract.exchange = in->primary_exchange;
    r.u.position.position = p->qty;
    r.u.position.avg_cost = p->qty == 0 ? 0 : p->avg_price * in->mult;
    sim_send(c, &r, NULL);
}

void sim_handlePositions(simConn *c)
{
    simServer *srv = c->srv;
    for (int k = 0; k < srv->n_accounts; k++)
        for (int i = 0; i < srv->accounts[k].n_pos; i++)
            send_position(c, &srv->accounts[k], &srv->accounts[k].pos[i]);
    ibReply end = { .id = IB_MSG_POSITION_END };
    sim_send(c, &end, NULL);
    c->pos_sub = true;
}

void sim_handleCancelPositions(simConn *c) { c->pos_sub = false; }

/* ---- account updates ----------------------------------------------------------------------------- */

static void send_value(simConn *c, int64_t req_id, const simAccount *a, const char *key, const char *val,
                       const char *ccy)
{
    ibReply r = { .id = IB_MSG_ACCOUNT_VALUE };
    if (req_id >= 0) {
        r.id = IB_MSG_ACCOUNT_UPDATE_MULTI;
        r.u.account_update_multi = (ibAccountUpdateMulti){ req_id, a->id, "", key, val, ccy };
    } else {
        r.u.account_value = (ibAccountValue){ key, val, ccy, a->id };
    }
    sim_send(c, &r, NULL);
}

void sim_sendAccountValues(simConn *c, const simAccount *a, int64_t req_id)
{
    acctVals v;
    compute(c->srv, a, &v);
    send_value(c, req_id, a, "AccountCode", a->id, "");
    send_value(c, req_id, a, "Currency", "USD", "USD");
    for (int pass = 0; pass < 2; pass++) {
        const char *const *tags = pass ? LEDGER_TAGS : SUMMARY_TAGS;
        size_t n =
            pass ? sizeof LEDGER_TAGS / sizeof LEDGER_TAGS[0] : sizeof SUMMARY_TAGS / sizeof SUMMARY_TAGS[0];
        for (size_t i = 0; i < n; i++) {
            if (pass && (!strcmp(tags[i], "RealizedPnL") || !strcmp(tags[i], "UnrealizedPnL")))
                continue;
            char val[48];
            const char *ccy = tag_value(&v, tags[i], val, sizeof val);
            if (ccy)
                send_value(c, req_id, a, tags[i], val, ccy);
        }
    }
}

static void send_account_values(simConn *c, const simAccount *a) { sim_sendAccountValues(c, a, -1); }

/* ---- P&L (reqPnL, reqPnLSingle, the control port) ------------------------------------------------ */
static double cents(double v) { return round(v * 100) / 100 + 0.0; }

void sim_positionPnl(simServer *srv, const simAccount *a, int inst, simPnl *out)
{
    memset(out, 0, sizeof *out);
    out->realized = IB_UNSET_DOUBLE;
    const simPosition *p = find_pos((simAccount *)a, inst, false);
    if (!p)
        return;
    const simInstrument *in = &srv->insts[inst];
    double mark = sim_mid(in);
    out->position = p->qty;
    out->unrealized = p->qty == 0 ? 0 : cents(pnl_usd(in, p->qty, mark - p->avg_price, mark));
    out->value = cents(p->qty * mark * in->mult);
    if (p->realized != 0)
        out->realized = cents(p->realized);
    out->daily = cents(out->unrealized + p->realized);
}

void sim_accountPnl(simServer *srv, const simAccount *a, simPnl *out)
{
    acctVals v;
    compute(srv, a, &v);
    memset(out, 0, sizeof *out);
    out->unrealized = cents(v.unreal);
    out->realized = cents(v.realized);
    out->daily = cents(v.unreal + v.realized);
    out->value = cents(v.nlv);
}

static void send_portfolio(simConn *c, const simAccount *a, const simPosition *p)
{
    const simInstrument *in = &c->srv->insts[p->inst];
    double mark = sim_mid(in);
    ibReply r = { .id = IB_MSG_PORTFOLIO_VALUE };
    ibPortfolioValue *pv = &r.u.portfolio;
    sim_fillContract(in, &pv->contract);
    pv->position = p->qty;
    pv->market_price = mark;
    pv->market_value = round(p->qty * mark * in->mult * 100) / 100;
    pv->average_cost = p->qty == 0 ? 0 : p->avg_price * in->mult;
    pv->unrealized_pnl = round(pnl_usd(in, p->qty, mark - p->avg_price, mark) * 100) / 100;
    pv->realized_pnl = round(p->realized * 100) / 100;
    pv->account = a->id;
    sim_send(c, &r, NULL);
}

static void send_account_time(simConn *c)
{
    char hhmm[8];
    sim_formatTime(hhmm, sizeof hhmm, sim_epoch(), "%H:%M", false);
    ibReply r = { .id = IB_MSG_ACCOUNT_TIME };
    r.u.account_time.time = hhmm;
    sim_send(c, &r, NULL);
}

static void send_account_download(simConn *c, const simAccount *a)
{
    send_account_values(c, a);
    for (int i = 0; i < a->n_pos; i++)
        if (a->pos[i].qty != 0)
            send_portfolio(c, a, &a->pos[i]);
    send_account_time(c);
    ibReply end = { .id = IB_MSG_ACCOUNT_DOWNLOAD_END };
    end.u.account_download_end.account = a->id;
    sim_send(c, &end, NULL);
}

void sim_handleAccountUpdates(simConn *c, const ibReqAccountUpdates *r)
{
    if (!r->subscribe) {
        c->acct_sub = false;
        return;
    }
    simAccount *a = r->account && *r->account ? sim_findAccount(c->srv, r->account) : &c->srv->accounts[0];
    if (!a) {
        sim_sendError(c, -1, 321, "Error validating request.-'bH' : cause - Invalid account code");
        return;
    }
    if (c->acct_sub && strcmp(c->acct_sub_id, a->id) != 0)
        sim_sendError(c, -1, 2100, "New account data requested from TWS.  API client has been unsubscribed "
                                   "from account data.");
    c->acct_sub = true;
    snprintf(c->acct_sub_id, sizeof c->acct_sub_id, "%s", a->id);
    send_account_download(c, a);
}

void sim_accountChanged(simServer *srv, simAccount *a, int inst)
{
    simPosition *p = find_pos(a, inst, false);
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        if (c->pos_sub && p)
            send_position(c, a, p);
        if (c->acct_sub && strcmp(c->acct_sub_id, a->id) == 0) {
            if (p)
                send_portfolio(c, a, p);
            send_account_values(c, a);
            send_account_time(c);
        }
    }
    sim_pnlOnChange(srv, a, inst);
}

static void on_summary_timer(uv_timer_t *t)
{
    simServer *srv = t->data;
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        for (int i = 0; i < c->n_sums; i++)
            send_summary(c, c->sums[i].req_id, c->sums[i].tags);
        if (c->acct_sub) {
            simAccount *a = sim_findAccount(srv, c->acct_sub_id);
            if (a) {
                send_account_values(c, a);
                for (int i = 0; i < a->n_pos; i++)
                    if (a->pos[i].qty != 0)
                        send_portfolio(c, a, &a->pos[i]);
                send_account_time(c);
            }
        }
    }
    sim_flushAll(srv);
}

void sim_accountStart(simServer *srv)
{
    uv_timer_init(srv->loop, &srv->summary_timer);
    srv->summary_timer.data = srv;
    uint64_t ms = (uint64_t)(srv->cfg.summary_interval_s > 0 ? srv->cfg.summary_interval_s : 180) * 1000u;
    uv_timer_start(&srv->summary_timer, on_summary_timer, ms, ms);
}
