/* sim_options.c — option chains and option market data for ib-sim's stocks (PROTOCOL.md §3.15).
 *
 * Chain: for every stock (secType STK) of the universe, expirations on the next four Fridays and
 * the third Fridays of the next three months, strikes 25 below and 25 above its base price on a
 * grid of 1 / 2.5 / 5 / 10 by price, multiplier 100, listed on SMART and CBOE (reqSecDefOptParams:
 * one securityDefinitionOptionParameter per exchange, then the End). The chain depends only on the
 * date and the instrument, so it is the same all day.
 *
 * Quotes: reqMktData on an option of that chain (symbol, OPT, expiration, strike, right) streams
 * on its underlying's walk: option bid/ask (tickPrice 1/2 with sizes) and tickOptionComputation
 * bid (10), ask (11), last (12, in the image) and model (13), priced with Black-Scholes from a
 * volatility seeded per underlying (--seed) with a smile in log-moneyness, r = 4 %, no dividends.
 * Any other option -> error 200. A subscription is a market-data line and moves its underlying.
 *
 * Contract details: reqContractDetails of an option of a chain answers its contractData (the
 * underlying's, turned into the option's by sim_optionDetails: a stable conId, OCC local symbol). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define N_STRIKES_SIDE 25
#define MAX_EXPIRIES 8
#define RATE 0.04

static bool optionable(const simInstrument *in)
{
    return strcmp(in->sec_type, "STK") == 0;
}

static double strike_step(double price)
{
    return price < 25 ? 1.0 : price < 100 ? 2.5 : price < 500 ? 5.0 : 10.0;
}

/* Strike i (0 .. 2*N_STRIKES_SIDE) of an underlying's chain; 0 when it would not be positive. */
static double chain_strike(const simInstrument *in, int i)
{
    double step = strike_step(in->base_price);
    double k = (round(in->base_price / step) + (i - N_STRIKES_SIDE)) * step;
    return k > 0 ? k : 0;
}

static int64_t ymd(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return (int64_t)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The chain's expirations as yyyymmdd, ascending; returns the count. */
static int chain_expiries(int64_t out[MAX_EXPIRIES])
{
    int64_t now = sim_epoch();
    int64_t day = now - now % 86400;
    int wday = (int)((day / 86400 + 4) % 7);          /* 1970-01-01 was a Thursday */
    int64_t fri = day + (int64_t)((5 - wday + 7) % 7) * 86400;
    int n = 0;
    for (int i = 0; i < 4; i++)
        out[n++] = ymd(fri + (int64_t)i * 7 * 86400);
    time_t tt = (time_t)now;
    struct tm tm;
    gmtime_r(&tt, &tm);
    for (int m = 1; m <= 3; m++) {
        struct tm f = { .tm_year = tm.tm_year, .tm_mon = tm.tm_mon + m, .tm_mday = 1, .tm_hour = 12 };
        int64_t first = (int64_t)timegm(&f);
        int w = (int)((first / 86400 + 4) % 7);
        int64_t third = first - first % 86400 + (int64_t)((5 - w + 7) % 7 + 14) * 86400;
        int64_t d = ymd(third);
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup |= out[i] == d;
        if (!dup)
            out[n++] = d;
    }
    qsort(out, (size_t)n, sizeof out[0], cmp_i64);
    return n;
}

/* ---- reqSecDefOptParams ------------------------------------------------------------------------- */

void sim_handleSecDefOptParams(simConn *c, const ibReqSecDefOptParams *r)
{
    simServer *srv = c->srv;
    const simInstrument *in = NULL;
    for (int i = 0; i < srv->n_insts && !in; i++) {
        const simInstrument *x = &srv->insts[i];
        if (optionable(x) && r->underlying_symbol && strcmp(x->symbol, r->underlying_symbol) == 0 &&
            (r->underlying_con_id == 0 || r->underlying_con_id == x->con_id))
            in = x;
    }
    if (!in || !r->underlying_sec_type || strcmp(r->underlying_sec_type, "STK") != 0) {
        sim_sendError(c, r->req_id, 200, "No security definition has been found for the request");
        return;
    }
    int64_t exps[MAX_EXPIRIES];
    int ne = chain_expiries(exps);
    char exp_text[MAX_EXPIRIES][12];
    const char *exp_ptr[MAX_EXPIRIES];
    for (int i = 0; i < ne; i++) {
        snprintf(exp_text[i], sizeof exp_text[i], "%lld", (long long)exps[i]);
        exp_ptr[i] = exp_text[i];
    }
    double strikes[2 * N_STRIKES_SIDE + 1];
    int ns = 0;
    for (int i = 0; i <= 2 * N_STRIKES_SIDE; i++)
        if (chain_strike(in, i) > 0)
            strikes[ns++] = chain_strike(in, i);
    static const char *const EXCHANGES[] = { "SMART", "CBOE" };
    for (int e = 0; e < 2; e++) {
        const char *want = r->fut_fop_exchange;
        if (want && *want && strcmp(want, EXCHANGES[e]) != 0)
            continue;
        ibReply rep = { .id = IB_MSG_SEC_DEF_OPT_PARAMS };
        rep.u.sec_def_opt_params = (ibSecDefOptParams){
            .req_id = r->req_id, .exchange = EXCHANGES[e], .underlying_con_id = in->con_id,
            .trading_class = in->symbol, .multiplier = "100", .expiration_count = ne, .strike_count = ns,
            .expirations = exp_ptr, .strikes = strikes };
        sim_send(c, &rep, NULL);
    }
    ibReply end = { .id = IB_MSG_SEC_DEF_OPT_PARAMS_END };
    end.u.end.req_id = r->req_id;
    sim_send(c, &end, NULL);
}

/* ---- option contracts ----------------------------------------------------------------------------- */

bool sim_isOptionContract(const ibContract *c)
{
    return c->sec_type && strcmp(c->sec_type, "OPT") == 0;
}

int sim_resolveOption(simConn *c, const ibContract *k, int64_t req_id, simMktSub *sub)
{
    simServer *srv = c->srv;
    int inst = -1;
    for (int i = 0; i < srv->n_insts && inst < 0; i++)
        if (optionable(&srv->insts[i]) && k->symbol && strcmp(srv->insts[i].symbol, k->symbol) == 0)
            inst = i;
    char right = k->right ? k->right[0] : 0;
    if (right == 'c')
        right = 'C';
    if (right == 'p')
        right = 'P';
    int64_t exp = k->last_trade_date ? strtoll(k->last_trade_date, NULL, 10) : 0;
    bool ok = inst >= 0 && (right == 'C' || right == 'P') && !ib_isUnsetDouble(k->strike) &&
              (!k->multiplier || !*k->multiplier || strcmp(k->multiplier, "100") == 0) &&
              (!k->currency || !*k->currency || strcmp(k->currency, "USD") == 0);
    bool exp_ok = false, strike_ok = false;
    if (ok) {
        int64_t exps[MAX_EXPIRIES];
        int ne = chain_expiries(exps);
        for (int i = 0; i < ne; i++)
            exp_ok |= exps[i] == exp;
        for (int i = 0; i <= 2 * N_STRIKES_SIDE; i++)
            strike_ok |= chain_strike(&srv->insts[inst], i) > 0 &&
                         fabs(chain_strike(&srv->insts[inst], i) - k->strike) < 1e-9;
    }
    if (!ok || !exp_ok || !strike_ok) {
        sim_sendError(c, req_id, 200, "No security definition has been found for the request");
        return -1;
    }
    sub->option = true;
    sub->right = right;
    sub->strike = k->strike;
    sub->expiry = exp;
    return inst;
}

void sim_optionDetails(const simInstrument *und, const simMktSub *opt, ibContractData *d)
{
    static char expiry[12], local[32];
    snprintf(expiry, sizeof expiry, "%lld", (long long)opt->expiry);
    snprintf(local, sizeof local, "%-6s%06lld%c%08lld", und->symbol, (long long)(opt->expiry % 1000000),
             opt->right, (long long)llround(opt->strike * 1000.0));
    ibContract *k = &d->contract;
    /* a stable conId per option: its underlying, expiration, right and strike */
    k->con_id = 500000000 + (int64_t)(sim_hash((uint64_t)und->con_id, (uint64_t)opt->expiry,
                                               (uint64_t)opt->right, (uint64_t)llround(opt->strike * 1000.0)) %
                                      400000000u);
    k->sec_type = "OPT";
    k->last_trade_date = expiry;
    k->strike = opt->strike;
    k->right = opt->right == 'C' ? "C" : "P";
    k->multiplier = "100";
    k->local_symbol = local;
    k->trading_class = und->symbol;
    k->primary_exchange = "";
    d->market_name = und->symbol;
    d->min_tick = 0.01;
    d->under_con_id = und->con_id;
    d->under_symbol = und->symbol;
    d->under_sec_type = "STK";
    d->contract_month = "";
    d->real_expiration_date = expiry;
    d->stock_type = "";
    d->min_size = d->size_increment = d->suggested_size_increment = 1;
}

/* ---- Black-Scholes ---------------------------------------------------------------------------------- */

static double ncdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double npdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

typedef struct greeks { double price, delta, gamma, vega, theta; } greeks;

static greeks black_scholes(double s, double k, double t, double vol, bool call)
{
    double st = sqrt(t), d1 = (log(s / k) + (RATE + 0.5 * vol * vol) * t) / (vol * st), d2 = d1 - vol * st;
    double disc = exp(-RATE * t);
    greeks g;
    g.gamma = npdf(d1) / (s * vol * st);
    g.vega = s * npdf(d1) * st / 100.0;                       /* per volatility point, as IB */
    if (call) {
        g.price = s * ncdf(d1) - k * disc * ncdf(d2);
        g.delta = ncdf(d1);
        g.theta = (-s * npdf(d1) * vol / (2 * st) - RATE * k * disc * ncdf(d2)) / 365.0;
    } else {
        g.price = k * disc * ncdf(-d2) - s * ncdf(-d1);
        g.delta = ncdf(d1) - 1.0;
        g.theta = (-s * npdf(d1) * vol / (2 * st) + RATE * k * disc * ncdf(-d2)) / 365.0;
    }
    return g;
}

/* Years to 16:00 ET (20:00 UTC, near enough) of the expiration day; at least one hour. */
static double years_left(int64_t yyyymmdd)
{
    struct tm tm = { .tm_year = (int)(yyyymmdd / 10000) - 1900, .tm_mon = (int)(yyyymmdd / 100 % 100) - 1,
                     .tm_mday = (int)(yyyymmdd % 100), .tm_hour = 20 };
    double secs = (double)((int64_t)timegm(&tm) - sim_epoch());
    if (secs < 3600)
        secs = 3600;
    return secs / (365.0 * 86400.0);
}

static double model_vol(const simServer *srv, const simInstrument *in, double s, double k)
{
    uint64_t h = sim_hash(srv->cfg.seed, (uint64_t)in->con_id, 0x564f4c41, 0);
    double base = 0.18 + 0.30 * (double)(h >> 11) / 9007199254740992.0;
    double m = log(k / s);
    return base * (1.0 + 0.8 * m * m) + (m < 0 ? -0.05 * m : 0.0);   /* smile with a put skew */
}

static double round_cent(double p) { return round(p * 100.0) / 100.0; }

static void send_computation(simConn *c, const simMktSub *s, int type, double vol, const greeks *g, double und,
                             double price)
{
    ibReply r = { .id = IB_MSG_TICK_OPTION_COMPUTATION };
    r.u.option_computation = (ibTickOptionComputation){
        .req_id = s->req_id, .tick_type = type, .tick_attrib = 0, .implied_vol = vol, .delta = g->delta,
        .opt_price = price, .pv_dividend = 0.0, .gamma = g->gamma, .vega = g->vega, .theta = g->theta,
        .und_price = und };
    sim_send(c, &r, NULL);
    c->srv->stat_ticks++;
}

void sim_optionTicks(simConn *c, const simMktSub *s, const simInstrument *und, bool image)
{
    double spot = sim_mid(und);
    double t = years_left(s->expiry);
    double vol = model_vol(c->srv, und, spot, s->strike);
    bool call = s->right == 'C';
    greeks model = black_scholes(spot, s->strike, t, vol, call);
    double half = fmax(0.01, round_cent(model.price * 0.01));
    double bid = fmax(0.0, round_cent(model.price) - half), ask = round_cent(model.price) + half;
    /* the bid and ask computations: the volatilities those prices imply (one Newton step each) */
    double vbid = vol - (model.price - bid) / fmax(model.vega * 100.0, 1e-6);
    double vask = vol + (ask - model.price) / fmax(model.vega * 100.0, 1e-6);
    vbid = vbid > 0.01 ? vbid : 0.01;
    greeks gb = black_scholes(spot, s->strike, t, vbid, call), ga = black_scholes(spot, s->strike, t, vask, call);
    ibReply p = { .id = IB_MSG_TICK_PRICE };
    p.u.tick_price = (ibTickPrice){ s->req_id, IB_TICK_BID, bid, 10 + (double)(und->steps % 40), 1 };
    sim_send(c, &p, NULL);
    p.u.tick_price = (ibTickPrice){ s->req_id, IB_TICK_ASK, ask, 10 + (double)((und->steps / 3) % 40), 1 };
    sim_send(c, &p, NULL);
    c->srv->stat_ticks += 2;
    send_computation(c, s, IB_TICK_BID_OPTION, vbid, &gb, spot, bid);
    send_computation(c, s, IB_TICK_ASK_OPTION, vask, &ga, spot, ask);
    if (image)
        send_computation(c, s, IB_TICK_LAST_OPTION, vol, &model, spot, round_cent(model.price));
    send_computation(c, s, IB_TICK_MODEL_OPTION, vol, &model, spot, model.price);
}
