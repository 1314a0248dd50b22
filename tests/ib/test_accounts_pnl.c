/* test_accounts_pnl.c — the codec for P&L (reqPnL / reqPnLSingle / pnl / pnlSingle, PROTOCOL.md
 * §3.10) and the multi-account subscriptions (reqPositionsMulti / positionMulti / reqAccountUpdatesMulti
 * / accountUpdateMulti, §3.17) against tests/ib/vectors/accounts_pnl.jsonl, both sides.
 *
 * Client encoder: every request vector byte for byte from a struct filled by hand. Client decoder:
 * every reply vector decodes at its server version with every field consumed and its values checked;
 * every truncation and an extra field fail. Server side (ib-sim): every request vector decodes and
 * re-encodes to the same bytes; every reply decodes, re-encodes and decodes to the same values. */
#define _GNU_SOURCE
#include <string.h>

#include "ib_msgs.h"
#include "accounts_vectors.h"
#include "vector_check.h"

static void expect_bytes(const char *message, const ibRequest *r)
{
    tvec_ExpectRequest(av_find(message), r);
}

/* ---- requests ---------------------------------------------------------------------------------- */
Test(enc, req_pnl_and_single)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_PNL);
    r.u.pnl = (ibReqPnL){.req_id = 6001, .account = "DU1234567", .model_code = ""};
    expect_bytes("reqPnL", &r);
    r.u.pnl = (ibReqPnL){.req_id = 9000, .account = "DU1234567", .model_code = "TARGET2024"};
    expect_bytes("reqPnL (92)", &r);
    ibRequest_Init(&r, IB_REQ_PNL_SINGLE);
    r.u.pnl = (ibReqPnL){.req_id = 9002, .account = "DU1234567", .model_code = "", .con_id = 265598};
    expect_bytes("reqPnLSingle", &r);
    r.u.pnl = (ibReqPnL){.req_id = 9000, .account = "DU1234567", .model_code = "TARGET2024", .con_id = 1001};
    expect_bytes("reqPnLSingle (94)", &r);
    ibRequest_Init(&r, IB_REQ_CANCEL_PNL);
    r.u.cancel.req_id = 9001;
    expect_bytes("cancelPnL", &r);
    ibRequest_Init(&r, IB_REQ_CANCEL_PNL_SINGLE);
    r.u.cancel.req_id = 9002;
    expect_bytes("cancelPnLSingle", &r);
}

Test(enc, req_multi)
{
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_ACCOUNT_UPDATES_MULTI);
    r.u.multi =
        (ibReqMulti){.req_id = 6001, .account = "DU1234567", .model_code = "", .ledger_and_nlv = true};
    expect_bytes("reqAccountUpdatesMulti", &r);
    ibRequest_Init(&r, IB_REQ_CANCEL_ACCOUNT_UPDATES_MULTI);
    r.u.cancel.req_id = 6001;
    expect_bytes("cancelAccountUpdatesMulti", &r);
    ibRequest_Init(&r, IB_REQ_POSITIONS_MULTI);
    r.u.multi = (ibReqMulti){.req_id = 6002, .account = "DU1234567", .model_code = ""};
    expect_bytes("reqPositionsMulti", &r);
    ibRequest_Init(&r, IB_REQ_CANCEL_POSITIONS_MULTI);
    r.u.cancel.req_id = 6002;
    expect_bytes("cancelPositionsMulti", &r);
}

Test(enc, gates_and_bad_arguments)
{
    ibWriter w;
    ibWriter_Init(&w);
    ibRequest r;
    ibRequest_Init(&r, IB_REQ_PNL);
    r.u.pnl = (ibReqPnL){.req_id = 1, .account = "DU1"};
    cr_assert_eq(ib_encodeRequest(&w, 126, &r), IBB_ERR_UNSUPPORTED_VERSION, "reqPnL below 127");
    r.u.pnl.account = "";
    cr_assert_eq(ib_encodeRequest(&w, 176, &r), IBB_ERR_INVALID_ARG, "reqPnL without account");
    ibRequest_Init(&r, IB_REQ_PNL_SINGLE);
    r.u.pnl = (ibReqPnL){.req_id = 1, .account = "DU1", .con_id = 0};
    cr_assert_eq(ib_encodeRequest(&w, 176, &r), IBB_ERR_INVALID_ARG, "reqPnLSingle without conId");
    cr_assert_eq(ibWriter_Len(&w), 0, "nothing written");
    ibWriter_Free(&w);
}

/* ---- replies ----------------------------------------------------------------------------------- */
static ibReply g_m;

static const ibReply *dec_ok(const char *message)
{
    const tvec *v = av_find(message);
    cr_assert(!v->to_server, "%s is a reply", message);
    ibbStatus st = ib_decodeReply(v->sv, v->payload, v->len, &g_m);
    cr_assert_eq(st, IBB_OK, "%s: %s", message, ibbStatus_Name(st));
    return &g_m;
}

Test(dec, pnl)
{
    const ibReply *m = dec_ok("pnl (94)");
    cr_assert_eq(m->id, IB_MSG_PNL);
    cr_assert_eq(m->u.pnl.req_id, 9000);
    cr_assert_eq(ibReply_ReqId(m), 9000);
    cr_assert_eq(m->u.pnl.daily_pnl, 250.5);
    cr_assert_eq(m->u.pnl.unrealized_pnl, 1500.0);
    cr_assert_eq(m->u.pnl.realized_pnl, 750.0);
    m = dec_ok("pnl (94) with unset");
    cr_assert_eq(m->u.pnl.daily_pnl, -125.5);
    cr_assert_eq(m->u.pnl.unrealized_pnl, 310.25);
    cr_assert(ib_isUnsetDouble(m->u.pnl.realized_pnl));
    m = dec_ok("pnl (94) at sv 128");
    cr_assert_eq(m->u.pnl.daily_pnl, -125.5);
    cr_assert(ib_isUnsetDouble(m->u.pnl.unrealized_pnl) && ib_isUnsetDouble(m->u.pnl.realized_pnl));
}

Test(dec, pnl_single)
{
    const ibReply *m = dec_ok("pnlSingle (95)");
    cr_assert_eq(m->id, IB_MSG_PNL_SINGLE);
    cr_assert_eq(ibReply_ReqId(m), 9000);
    const ibPnLSingle *p = &m->u.pnl_single;
    cr_assert_eq(p->position, 100.0);
    cr_assert_eq(p->daily_pnl, 150.25);
    cr_assert_eq(p->unrealized_pnl, 500.0);
    cr_assert_eq(p->realized_pnl, 250.0);
    cr_assert_eq(p->value, 1000.0);
    m = dec_ok("pnlSingle (95) at sv 134");
    cr_assert_eq(p->position, -110.0);
    cr_assert_eq(p->daily_pnl, -42.13);
    cr_assert_eq(p->unrealized_pnl, 17.6);
    cr_assert(ib_isUnsetDouble(p->realized_pnl), "no realizedPnL below 135");
    cr_assert_eq(p->value, -22165.0, "value stays the last field");
}

Test(dec, position_multi)
{
    const ibReply *m = dec_ok("positionMulti (71)");
    const ibPositionMulti *p = &m->u.position_multi;
    cr_assert_eq(ibReply_ReqId(m), 9000);
    cr_assert_str_eq(p->account, "DU1234567");
    cr_assert_eq(p->contract.con_id, 12345);
    cr_assert_str_eq(p->contract.symbol, "AAPL");
    cr_assert_str_eq(p->contract.exchange, "SMART");
    cr_assert_str_eq(p->contract.trading_class, "AAPL");
    cr_assert_eq(p->position, 500.0);
    cr_assert_eq(p->avg_cost, 150.25);
    cr_assert_str_eq(p->model_code, "MODEL1");
    m = dec_ok("positionMultiEnd (72)");
    cr_assert_eq(m->id, IB_MSG_POSITION_MULTI_END);
    cr_assert_eq(ibReply_ReqId(m), 9000);
}

Test(dec, account_update_multi)
{
    const ibReply *m = dec_ok("accountUpdateMulti (73)");
    const ibAccountUpdateMulti *a = &m->u.account_update_multi;
    cr_assert_eq(ibReply_ReqId(m), 9000);
    cr_assert_str_eq(a->account, "DU1234567");
    cr_assert_str_eq(a->model_code, "");
    cr_assert_str_eq(a->key, "CashBalance");
    cr_assert_str_eq(a->value, "94629.71");
    cr_assert_str_eq(a->currency, "USD");
    m = dec_ok("accountUpdateMultiEnd (74)");
    cr_assert_eq(m->id, IB_MSG_ACCOUNT_UPDATE_MULTI_END);
    cr_assert_eq(ibReply_ReqId(m), 9000);
}

Test(damage, every_truncation_and_an_extra_field_fail)
{
    av_load();
    for (int i = 0; i < g_accounts.n; i++) {
        const tvec *v = &g_accounts.v[i];
        if (v->to_server)
            continue;
        ibReply r;
        size_t len = v->len;
        for (int drop = 1; drop < v->nfields; drop++) {
            len -= strlen(v->fields[v->nfields - drop]) + 1;
            cr_assert_neq(ib_decodeReply(v->sv, v->payload, len, &r), IBB_OK,
                          "'%s' without its last %d fields", v->message, drop);
        }
        char *longer = malloc(v->len + 2);
        memcpy(longer, v->payload, v->len);
        memcpy(longer + v->len, "1", 2);
        cr_assert_eq(ib_decodeReply(v->sv, longer, v->len + 2, &r), IBB_ERR_TRAILING, "'%s' + 1 field",
                     v->message);
        free(longer);
    }
}

/* ---- server side (ib-sim) ---------------------------------------------------------------------- */
Test(server, every_request_decodes_and_reencodes_byte_for_byte)
{
    av_load();
    int n = 0;
    for (int i = 0; i < g_accounts.n; i++) {
        const tvec *v = &g_accounts.v[i];
        if (!v->to_server)
            continue;
        ibRequest req;
        ibbStatus st = ib_decodeRequest(v->sv, v->payload, v->len, &req);
        cr_assert_eq(st, IBB_OK, "%s: %s", v->message, ibbStatus_Name(st));
        ibWriter w;
        ibWriter_Init(&w);
        cr_assert_eq(ib_encodeRequest(&w, v->sv, &req), IBB_OK, "%s re-encodes", v->message);
        cr_assert_eq(ibWriter_Len(&w), v->len + 4, "%s: length", v->message);
        cr_assert_eq(memcmp(ibWriter_Data(&w) + 4, v->payload, v->len), 0, "%s: bytes", v->message);
        ibWriter_Free(&w);
        n++;
    }
    cr_assert_eq(n, 10);
}

Test(server, every_reply_reencodes_to_the_same_values)
{
    av_load();
    int n = 0;
    for (int i = 0; i < g_accounts.n; i++) {
        const tvec *v = &g_accounts.v[i];
        if (v->to_server)
            continue;
        ibReply a, b;
        cr_assert_eq(ib_decodeReply(v->sv, v->payload, v->len, &a), IBB_OK, "%s", v->message);
        ibWriter w;
        ibWriter_Init(&w);
        cr_assert_eq(ib_encodeReply(&w, v->sv, &a, NULL), IBB_OK, "%s encodes", v->message);
        cr_assert_eq(ib_decodeReply(v->sv, (const char *)ibWriter_Data(&w) + 4, ibWriter_Len(&w) - 4, &b),
                     IBB_OK, "%s decodes again", v->message);
        cr_assert_eq(ibReply_ReqId(&a), ibReply_ReqId(&b), "%s", v->message);
        if (a.id == IB_MSG_PNL)
            cr_assert_eq(memcmp(&a.u.pnl, &b.u.pnl, sizeof a.u.pnl), 0, "%s values", v->message);
        if (a.id == IB_MSG_PNL_SINGLE)
            cr_assert_eq(memcmp(&a.u.pnl_single, &b.u.pnl_single, sizeof a.u.pnl_single), 0, "%s",
                         v->message);
        if (a.id == IB_MSG_POSITION_MULTI) {
            cr_assert_eq(b.u.position_multi.position, 500.0);
            cr_assert_str_eq(b.u.position_multi.model_code, "MODEL1");
        }
        if (a.id == IB_MSG_ACCOUNT_UPDATE_MULTI)
            cr_assert_str_eq(b.u.account_update_multi.value, "94629.71");
        if (a.id == IB_MSG_PNL && v->sv >= 135 && ib_isUnsetDouble(a.u.pnl.realized_pnl))
            cr_assert_not_null(memmem(ibWriter_Data(&w), ibWriter_Len(&w), "1.7976931348623157E308", 22),
                               "%s: an unset value goes out as IB's sentinel", v->message);
        ibWriter_Free(&w);
        n++;
    }
    cr_assert_eq(n, 9);
}
