/* sim_pnl.c — P&L and the multi-account subscriptions (PROTOCOL.md §3.10, §3.17): reqPnL and
 * reqPnLSingle push pnl / pnlSingle at once, after every fill of their account (when the values
 * changed) and again once a second, as TWS does, with no end marker; reqPositionsMulti and
 * reqAccountUpdatesMulti send their full set and their End, then the changes after each fill of their
 * account. The values come from sim_account.c (sim_accountPnl, sim_positionPnl), the same numbers the control
 * port's `pnl` shows.
 *
 * Ownership: the subscriptions live in the connection's psubs array (freed with the connection). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

static int account_index(simServer *srv, const char *id)
{
    simAccount *a = sim_findAccount(srv, id);
    return a ? (int)(a - srv->accounts) : -1;
}

static simPnlSub *add_sub(simConn *c, int64_t req_id, simPnlKind kind, int acct, int inst)
{
    if (c->n_psubs == c->cap_psubs) {
        int cap = c->cap_psubs ? c->cap_psubs * 2 : 8;
        simPnlSub *n = realloc(c->psubs, (size_t)cap * sizeof *n);
        if (!n)
            return NULL;
        c->psubs = n;
        c->cap_psubs = cap;
    }
    simPnlSub *s = &c->psubs[c->n_psubs++];
    *s = (simPnlSub){.req_id = req_id, .kind = kind, .acct = acct, .inst = inst};
    return s;
}

static void cancel_sub(simConn *c, int64_t req_id, simPnlKind kind)
{
    for (int i = 0; i < c->n_psubs; i++) {
        if (c->psubs[i].req_id == req_id && c->psubs[i].kind == kind) {
            c->psubs[i] = c->psubs[--c->n_psubs];
            return;
        }
    }
}

/* Sends a P&L subscription's values when they changed since the last push (or always when forced). */
static void push_pnl(simConn *c, simPnlSub *s, bool force)
{
    simServer *srv = c->srv;
    simPnl v;
    if (s->kind == SIM_PNL_ACCOUNT)
        sim_accountPnl(srv, &srv->accounts[s->acct], &v);
    else
        sim_positionPnl(srv, &srv->accounts[s->acct], s->inst, &v);
    if (!force && s->sent && memcmp(&v, &s->last, sizeof v) == 0)
        return;
    s->last = v;
    s->sent = true;
    ibReply r;
    memset(&r, 0, sizeof r);
    if (s->kind == SIM_PNL_ACCOUNT) {
        r.id = IB_MSG_PNL;
        r.u.pnl = (ibPnL){s->req_id, v.daily, v.unrealized, v.realized};
    } else {
        r.id = IB_MSG_PNL_SINGLE;
        r.u.pnl_single = (ibPnLSingle){s->req_id, v.position, v.daily, v.unrealized, v.realized, v.value};
    }
    sim_send(c, &r, NULL);
}

static void send_position_multi(simConn *c, int64_t req_id, const simAccount *a, const simPosition *p)
{
    const simInstrument *in = &c->srv->insts[p->inst];
    ibReply r = {.id = IB_MSG_POSITION_MULTI};
    r.u.position_multi.req_id = req_id;
    r.u.position_multi.account = a->id;
    sim_fillContract(in, &r.u.position_multi.contract);
    r.u.position_multi.position = p->qty;
    r.u.position_multi.avg_cost = p->qty == 0 ? 0 : p->avg_price * in->mult;
    r.u.position_multi.model_code = "";
    sim_send(c, &r, NULL);
}

static void send_end(simConn *c, ibReplyId id, int64_t req_id)
{
    ibReply r = {.id = id};
    r.u.end.req_id = req_id;
    sim_send(c, &r, NULL);
}

static void invalid_account(simConn *c, int64_t req_id, const char *account)
{
    char msg[128];
    snprintf(msg, sizeof msg, "Error validating request.-'account' : cause - Invalid account code '%.40s'",
             account ? account : "");
    sim_sendError(c, req_id, 321, msg);
}

static void handle_pnl(simConn *c, const ibRequest *req)
{
    const ibReqPnL *p = &req->u.pnl;
    int acct = account_index(c->srv, p->account);
    if (acct < 0) {
        invalid_account(c, p->req_id, p->account);
        return;
    }
    int inst = -1;
    if (req->id == IB_REQ_PNL_SINGLE) {
        for (int i = 0; i < c->srv->n_insts && inst < 0; i++)
            if (c->srv->insts[i].con_id == p->con_id)
                inst = i;
        if (inst < 0) {
            sim_sendError(c, p->req_id, 200, "No security definition has been found for the request");
            return;
        }
    }
    simPnlSub *s =
        add_sub(c, p->req_id, req->id == IB_REQ_PNL ? SIM_PNL_ACCOUNT : SIM_PNL_SINGLE, acct, inst);
    if (s)
        push_pnl(c, s, true);
}

static void send_positions_multi(simConn *c, const simPnlSub *s)
{
    simServer *srv = c->srv;
    for (int k = 0; k < srv->n_accounts; k++) {
        if (s->acct >= 0 && s->acct != k)
            continue;
        for (int i = 0; i < srv->accounts[k].n_pos; i++)
            send_position_multi(c, s->req_id, &srv->accounts[k], &srv->accounts[k].pos[i]);
    }
}

static void handle_multi(simConn *c, const ibRequest *req)
{
    const ibReqMulti *m = &req->u.multi;
    bool all = !m->account || !*m->account || !strcasecmp(m->account, "All");
    int acct = all ? -1 : account_index(c->srv, m->account);
    if ((!all && acct < 0) || (all && req->id == IB_REQ_ACCOUNT_UPDATES_MULTI)) {
        invalid_account(c, m->req_id, m->account);
        return;
    }
    bool positions = req->id == IB_REQ_POSITIONS_MULTI;
    simPnlSub *s = add_sub(c, m->req_id, positions ? SIM_PNL_POSITIONS : SIM_PNL_VALUES, acct, -1);
    if (!s)
        return;
    if (positions) {
        send_positions_multi(c, s);
        send_end(c, IB_MSG_POSITION_MULTI_END, m->req_id);
    } else {
        sim_sendAccountValues(c, &c->srv->accounts[acct], m->req_id);
        send_end(c, IB_MSG_ACCOUNT_UPDATE_MULTI_END, m->req_id);
    }
}

void sim_pnlDispatch(simConn *c, const ibRequest *req)
{
    switch (req->id) {
    case IB_REQ_PNL:
    case IB_REQ_PNL_SINGLE: handle_pnl(c, req); break;
    case IB_REQ_CANCEL_PNL: cancel_sub(c, req->u.cancel.req_id, SIM_PNL_ACCOUNT); break;
    case IB_REQ_CANCEL_PNL_SINGLE: cancel_sub(c, req->u.cancel.req_id, SIM_PNL_SINGLE); break;
    case IB_REQ_POSITIONS_MULTI:
    case IB_REQ_ACCOUNT_UPDATES_MULTI: handle_multi(c, req); break;
    case IB_REQ_CANCEL_POSITIONS_MULTI: cancel_sub(c, req->u.cancel.req_id, SIM_PNL_POSITIONS); break;
    case IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI: cancel_sub(c, req->u.cancel.req_id, SIM_PNL_VALUES); break;
    default: break;
    }
}

/* After a fill of account a on instrument inst. */
void sim_pnlOnChange(simServer *srv, const simAccount *a, int inst)
{
    int acct = (int)(a - srv->accounts);
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        for (int i = 0; i < c->n_psubs; i++) {
            simPnlSub *s = &c->psubs[i];
            if (s->acct != acct && !(s->kind == SIM_PNL_POSITIONS && s->acct < 0))
                continue;
            if (s->kind == SIM_PNL_ACCOUNT || (s->kind == SIM_PNL_SINGLE && s->inst == inst)) {
                push_pnl(c, s, false);
            } else if (s->kind == SIM_PNL_POSITIONS) {
                for (int k = 0; k < a->n_pos; k++)
                    if (a->pos[k].inst == inst)
                        send_position_multi(c, s->req_id, a, &a->pos[k]);
            } else if (s->kind == SIM_PNL_VALUES) {
                sim_sendAccountValues(c, a, s->req_id);
            }
        }
    }
}

static void on_pnl_timer(uv_timer_t *t)
{
    simServer *srv = t->data;
    if (srv->stalled)
        return; /* like the ticks: nothing is produced while the gateway stalls */
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        for (int i = 0; i < c->n_psubs; i++)
            if (c->psubs[i].kind == SIM_PNL_ACCOUNT || c->psubs[i].kind == SIM_PNL_SINGLE)
                push_pnl(c, &c->psubs[i], true); /* TWS repeats them about once a second */
    }
    sim_flushAll(srv);
}

void sim_pnlStart(simServer *srv)
{
    uv_timer_init(srv->loop, &srv->pnl_timer);
    srv->pnl_timer.data = srv;
    uv_timer_start(&srv->pnl_timer, on_pnl_timer, 1000, 1000);
}
