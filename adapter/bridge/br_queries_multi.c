/* br_queries_multi.c — account values of every managed account, not only the one reqAccountUpdates
 * covers (IB allows that stream for one account per session: warning 2100 when a second replaces it).
 * From every IB "ready", each other managed account gets one reqAccountUpdatesMulti (PROTOCOL.md §3.17);
 * its accountUpdateMulti values go where reqAccountUpdates' values go (brq_accountUpdateValue), so
 * ib.rpc.account has RealizedPnL / UnrealizedPnL and fresh values for every account. At most
 * MAX_MULTI accounts (IB documents no limit; advisor logins with more get the first ones).
 *
 * Ownership: brAcctMulti hangs off brQueries (created at the first ready, freed by brq_multiFini); the
 * request ids are closed when the link drops (on_lost) or at stop. Loop thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_queries_int.h"
#include "ibb_log.h"

#define MAX_MULTI 32

struct brAcctMulti {
    int64_t req_id[MAX_MULTI];
    int n;
};

static void on_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    (void)ctx;
    if (r->id == IB_MSG_ACCOUNT_UPDATE_MULTI) {
        const ibAccountUpdateMulti *v = &r->u.account_update_multi;
        brq_accountUpdateValue(b, v->account, v->key, v->value, v->currency);
    }
}

static void forget(brBridge *b, int64_t req_id)
{
    brAcctMulti *m = brq_mod(b)->multi;
    br_reqClose(b, req_id);
    for (int i = 0; m && i < m->n; i++)
        if (m->req_id[i] == req_id)
            m->req_id[i] = 0;
}

static void on_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)ctx;
    IBB_WARN("account.multi_error", "req_id=%" PRId64 " code=%" PRId64 " text=\"%s\"", req_id, e->code,
             e->message);
    if (e->code < 2100 || e->code >= 2200)
        forget(b, req_id);
}

static void on_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)ctx;
    forget(b, req_id);
}

static const brPendingOps multi_ops = {on_reply, on_error, on_lost};

void brq_multiIbReady(brBridge *b)
{
    brQueries *q = brq_mod(b);
    if (!q->multi && !(q->multi = calloc(1, sizeof *q->multi)))
        return;
    brAcctMulti *m = q->multi;
    m->n = 0;
    char acc[32];
    for (int i = 0; m->n < MAX_MULTI && br_accountNth(b, i, acc, sizeof acc); i++) {
        if (strcmp(acc, brq_accountUpdatesAccount(b)) == 0)
            continue;
        int64_t id = br_reqOpen(b, &multi_ops, NULL);
        if (id <= 0)
            break;
        ibRequest rq;
        ibRequest_Init(&rq, IB_REQ_ACCOUNT_UPDATES_MULTI);
        rq.u.multi = (ibReqMulti){.req_id = id, .account = acc, .model_code = "", .ledger_and_nlv = false};
        if (br_send(b, &rq) != IBB_OK) {
            br_reqClose(b, id);
            continue;
        }
        m->req_id[m->n++] = id;
    }
    if (m->n)
        IBB_INFO("account.multi_subscribed", "accounts=%d", m->n);
}

void brq_multiStop(brBridge *b)
{
    brAcctMulti *m = brq_mod(b)->multi;
    for (int i = 0; m && i < m->n; i++) {
        if (m->req_id[i] <= 0)
            continue;
        if (b->ib_ready) {
            ibRequest rq;
            ibRequest_Init(&rq, IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI);
            rq.u.cancel.req_id = m->req_id[i];
            br_send(b, &rq);
        }
        br_reqClose(b, m->req_id[i]);
        m->req_id[i] = 0;
    }
}

void brq_multiFini(brBridge *b)
{
    brQueries *q = brq_mod(b);
    free(q->multi);
    q->multi = NULL;
}
