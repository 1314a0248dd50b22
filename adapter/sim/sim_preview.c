/* sim_preview.c — what-if orders (placeOrder with whatIf = 1, PROTOCOL.md §3.16): the margin an order
 * would use, from the account's positions at their current prices, and nothing placed.
 *
 * Margin model (plausible, not IB's): initial margin 30 % and maintenance 25 % of the gross value of
 * every position; equity with loan = cash + the market value of the positions. The order changes the
 * position in its instrument at price px; equity changes by minus the commission. As TWS does, the
 * answer is two openOrder messages: the first with unset margins, the second with the numbers. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

#define INIT_RATE 0.30
#define MAINT_RATE 0.25

static double round2(double v) { return round(v * 100) / 100; }

/* Gross value and market value of account a's positions, with instrument inst at qty_inst, px. */
static void exposure(simServer *srv, const simAccount *a, int inst, double qty_inst, double px, double *gross,
                     double *value)
{
    *gross = *value = 0;
    bool seen = false;
    for (int i = 0; i < a->n_pos; i++) {
        const simPosition *p = &a->pos[i];
        const simInstrument *in = &srv->insts[p->inst];
        double q = p->inst == inst ? qty_inst : p->qty;
        double price = p->inst == inst ? px : sim_mid(in);
        seen |= p->inst == inst;
        *gross += fabs(q) * price * in->mult;
        *value += q * price * in->mult;
    }
    if (!seen) {
        *gross += fabs(qty_inst) * px * srv->insts[inst].mult;
        *value += qty_inst * px * srv->insts[inst].mult;
    }
}

static double position_of(const simAccount *a, int inst)
{
    for (int i = 0; i < a->n_pos; i++)
        if (a->pos[i].inst == inst)
            return a->pos[i].qty;
    return 0;
}

/* margins[] (IB_MARGIN_* order) for the order of p in account a at price px. */
static void margins(simServer *srv, const simAccount *a, const ibOrder *o, int inst, double px, double comm,
                    double *m)
{
    double before = position_of(a, inst);
    double signed_qty = strcasecmp(o->action, "BUY") == 0 ? o->total_qty : -o->total_qty;
    double g0, v0, g1, v1;
    exposure(srv, a, inst, before, sim_mid(&srv->insts[inst]), &g0, &v0);
    exposure(srv, a, inst, before + signed_qty, px, &g1, &v1);
    m[IB_MARGIN_INIT_BEFORE] = round2(g0 * INIT_RATE);
    m[IB_MARGIN_MAINT_BEFORE] = round2(g0 * MAINT_RATE);
    m[IB_MARGIN_EQUITY_BEFORE] = round2(a->cash + v0);
    m[IB_MARGIN_INIT_AFTER] = round2(g1 * INIT_RATE);
    m[IB_MARGIN_MAINT_AFTER] = round2(g1 * MAINT_RATE);
    m[IB_MARGIN_EQUITY_AFTER] = round2(a->cash + v0 - comm);
    m[IB_MARGIN_INIT_CHANGE] = round2(m[IB_MARGIN_INIT_AFTER] - m[IB_MARGIN_INIT_BEFORE]);
    m[IB_MARGIN_MAINT_CHANGE] = round2(m[IB_MARGIN_MAINT_AFTER] - m[IB_MARGIN_MAINT_BEFORE]);
    m[IB_MARGIN_EQUITY_CHANGE] = round2(-comm);
}

void sim_previewOrder(simConn *c, const ibPlaceOrder *p, int inst, double px, double commission)
{
    simServer *srv = c->srv;
    const ibOrder *src = &p->order;
    simAccount *a = src->account && *src->account ? sim_findAccount(srv, src->account) : &srv->accounts[0];
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_OPEN_ORDER;
    ibOpenOrder *oo = &r.u.open_order;
    sim_fillContract(&srv->insts[inst], &oo->contract);
    oo->order = *src;
    oo->order.account = a->id;
    oo->client_id = c->client_id;
    oo->what_if = true;
    oo->status = "PreSubmitted";
    oo->commission = IB_UNSET_DOUBLE;
    oo->min_commission = IB_UNSET_DOUBLE;
    oo->max_commission = IB_UNSET_DOUBLE;
    oo->commission_currency = "";
    oo->warning_text = "";
    for (int i = 0; i < IB_MARGIN_COUNT; i++)
        oo->margins[i] = IB_UNSET_DOUBLE;
    sim_send(c, &r, NULL); /* TWS's first answer: margins not computed yet */
    margins(srv, a, src, inst, px, commission, oo->margins);
    oo->min_commission = commission;
    oo->max_commission = round2(commission * 1.2 + 0.01);
    oo->commission_currency = "USD";
    sim_send(c, &r, NULL);
    srv->stat_previews++;
}
