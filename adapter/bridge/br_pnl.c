/* br_pnl.c — the P&L module: live P&L of every managed account and of leased positions.
 *
 *   ib.pnl.<account>        daily, unrealized, realized P&L of each managed account: one reqPnL per
 *                           account from every IB "ready" (so again after each reconnect), published
 *                           as IB pushes it
 *   ib.pnl.<account>.<key>  per position (reqPnLSingle: position, daily, unrealized, realized, value),
 *                           leased with ib.rpc.subscribe {kind:"pnl", account, symbols}: one IB
 *                           subscription per (account, instrument) however many leases (a table of its
 *                           own, stLeases, keys "<account>|<key>")
 *   ib.rpc.pnl {account?}   the latest values from memory, no IB round trip
 * IB's unset value (1.7976931348623157E308) never reaches the bus: such a field is left out.
 *
 * Ownership: the module owns its accounts (fixed array), its positions (map "<account>|<key>" ->
 * pnlPos*, created by the lease table's acquire hook and freed by its release hook) and the lease
 * table. A request id's context is the account or position it feeds; releasing a position closes
 * its id first, so no reply reaches a freed position. Loop thread only. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "br_internal.h"
#include "core_session.h"
#include "ibb_log.h"

#define MAX_PNL_ACCOUNTS 32
#define MAX_PNL_ITEMS 50
#define DEFAULT_TTL_S 60
#define MAX_TTL_S 3600
#define LKEY_MAX (32 + ST_KEY_MAX)

typedef struct pnlVals {
    double daily, unrealized, realized, position, value; /* IB_UNSET_DOUBLE = unset */
    int64_t ns;                                          /* 0 = nothing received yet */
} pnlVals;

typedef struct pnlAcct {
    char account[32];
    int64_t req_id;
    pnlVals v;
} pnlAcct;

typedef struct pnlPos {
    char account[32];
    char key[ST_KEY_MAX];
    int64_t con_id;
    int64_t req_id;
    pnlVals v;
} pnlPos;

typedef struct pnlMod {
    pnlAcct accts[MAX_PNL_ACCOUNTS];
    int n;
    ibbMap *pos; /* "<account>|<key>" -> pnlPos* */
    stLeases *leases;
    uv_timer_t timer; /* lease expiry */
    bool timer_open, stopping;
    uint64_t single_requests; /* reqPnLSingle sent (tests, logs) */
} pnlMod;

static pnlMod *mod(const brBridge *b) { return b->mod[BR_MOD_PNL]; }

static bool set(double v) { return !ib_isUnsetDouble(v) && isfinite(v); }

static void pack_opt(msgpack_packer *pk, const char *key, double v)
{
    if (set(v))
        busPack_KeyDouble(pk, key, v);
}

static int count_set(const pnlVals *v, bool single)
{
    return set(v->daily) + set(v->unrealized) + set(v->realized) +
           (single ? set(v->position) + set(v->value) : 0);
}

static void pack_vals(msgpack_packer *pk, const pnlVals *v, bool single)
{
    pack_opt(pk, "daily_pnl", v->daily);
    pack_opt(pk, "unrealized_pnl", v->unrealized);
    pack_opt(pk, "realized_pnl", v->realized);
    if (single) {
        pack_opt(pk, "position", v->position);
        pack_opt(pk, "value", v->value);
    }
}

static void pack_acct(msgpack_packer *pk, const pnlAcct *a, int extra)
{
    msgpack_pack_map(pk, (size_t)(2 + count_set(&a->v, false) + extra));
    busPack_KeyStr(pk, "account", a->account);
    busPack_KeyInt(pk, "ts_ns", a->v.ns);
    pack_vals(pk, &a->v, false);
}

static void pack_pos(msgpack_packer *pk, const pnlPos *p)
{
    msgpack_pack_map(pk, (size_t)(4 + count_set(&p->v, true)));
    busPack_KeyStr(pk, "account", p->account);
    busPack_KeyStr(pk, "key", p->key);
    busPack_KeyInt(pk, "con_id", p->con_id);
    busPack_KeyInt(pk, "ts_ns", p->v.ns);
    pack_vals(pk, &p->v, true);
}

/* ---- IB replies ---------------------------------------------------------------------------------- */

static void read_vals(const ibReply *r, pnlVals *v)
{
    v->ns = br_wallNs();
    if (r->id == IB_MSG_PNL) {
        v->daily = r->u.pnl.daily_pnl;
        v->unrealized = r->u.pnl.unrealized_pnl;
        v->realized = r->u.pnl.realized_pnl;
        v->position = v->value = IB_UNSET_DOUBLE;
    } else {
        v->daily = r->u.pnl_single.daily_pnl;
        v->unrealized = r->u.pnl_single.unrealized_pnl;
        v->realized = r->u.pnl_single.realized_pnl;
        v->position = r->u.pnl_single.position;
        v->value = r->u.pnl_single.value;
    }
}

static void on_acct_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    pnlAcct *a = ctx;
    if (r->id != IB_MSG_PNL)
        return;
    read_vals(r, &a->v);
    char subject[64];
    snprintf(subject, sizeof subject, "pnl.%s", a->account);
    pack_acct(busPublisher_Packer(b->evt_pub), a, 0);
    busPublisher_Send(b->evt_pub, subject);
}

static void on_pos_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    pnlPos *p = ctx;
    if (r->id != IB_MSG_PNL_SINGLE)
        return;
    read_vals(r, &p->v);
    char subject[LKEY_MAX + 16];
    snprintf(subject, sizeof subject, "pnl.%s.%s", p->account, p->key);
    pack_pos(busPublisher_Packer(b->evt_pub), p);
    busPublisher_Send(b->evt_pub, subject);
}

static void on_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)ctx;
    (void)b;
    IBB_WARN("pnl.ib_error", "req_id=%" PRId64 " code=%" PRId64 " text=\"%s\"", req_id, e->code, e->message);
}

static void on_acct_lost(brBridge *b, int64_t req_id, void *ctx)
{
    br_reqClose(b, req_id);
    ((pnlAcct *)ctx)->req_id = 0;
}

static void on_pos_lost(brBridge *b, int64_t req_id, void *ctx)
{
    br_reqClose(b, req_id);
    ((pnlPos *)ctx)->req_id = 0;
}

static const brPendingOps acct_ops = {on_acct_reply, on_error, on_acct_lost};
static const brPendingOps pos_ops = {on_pos_reply, on_error, on_pos_lost};

/* ---- IB subscriptions ---------------------------------------------------------------------------- */

static void unset_vals(pnlVals *v)
{
    v->daily = v->unrealized = v->realized = v->position = v->value = IB_UNSET_DOUBLE;
    v->ns = 0;
}

static pnlAcct *acct_entry(pnlMod *m, const char *account, bool create)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->accts[i].account, account) == 0)
            return &m->accts[i];
    if (!create || m->n >= MAX_PNL_ACCOUNTS || strlen(account) >= sizeof m->accts[0].account)
        return NULL;
    pnlAcct *a = &m->accts[m->n++];
    memset(a, 0, sizeof *a);
    snprintf(a->account, sizeof a->account, "%s", account);
    unset_vals(&a->v);
    return a;
}

/* reqPnL (acct) or reqPnLSingle (pos) with a fresh id; 0 when the link is down or refused. */
static int64_t send_pnl(brBridge *b, const char *account, int64_t con_id, const brPendingOps *ops, void *ctx)
{
    if (!b->ib_ready)
        return 0;
    int64_t id = br_reqOpen(b, ops, ctx);
    if (id <= 0)
        return 0;
    ibRequest rq;
    ibRequest_Init(&rq, con_id ? IB_REQ_PNL_SINGLE : IB_REQ_PNL);
    rq.u.pnl.req_id = id;
    rq.u.pnl.account = account;
    rq.u.pnl.model_code = "";
    rq.u.pnl.con_id = con_id;
    if (br_send(b, &rq) != IBB_OK) {
        br_reqClose(b, id);
        return 0;
    }
    return id;
}

static void cancel_pnl(brBridge *b, int64_t *req_id, bool single)
{
    if (*req_id <= 0)
        return;
    if (b->ib_ready) {
        ibRequest rq;
        ibRequest_Init(&rq, single ? IB_REQ_CANCEL_PNL_SINGLE : IB_REQ_CANCEL_PNL);
        rq.u.cancel.req_id = *req_id;
        br_send(b, &rq);
    }
    br_reqClose(b, *req_id);
    *req_id = 0;
}

static void subscribe_pos(brBridge *b, pnlPos *p)
{
    if (p->req_id > 0 || !p->con_id)
        return;
    p->req_id = send_pnl(b, p->account, p->con_id, &pos_ops, p);
    if (p->req_id > 0)
        mod(b)->single_requests++;
}

/* The lease table's hooks: the first lease of "<account>|<key>" subscribes, the last one cancels. */
static void on_acquire(void *ud, const char *lkey)
{
    brBridge *b = ud;
    pnlPos *p = calloc(1, sizeof *p);
    const char *bar = strchr(lkey, '|');
    if (!p || !bar || ibbMap_Put(mod(b)->pos, lkey, p) != IBB_OK) {
        free(p);
        return;
    }
    snprintf(p->account, sizeof p->account, "%.*s", (int)(bar - lkey), lkey);
    snprintf(p->key, sizeof p->key, "%s", bar + 1);
    unset_vals(&p->v);
    const brInstrument *in = br_instrument(b, p->key);
    p->con_id = in ? in->spec.con_id : 0;
    subscribe_pos(b, p);
}

static void on_release(void *ud, const char *lkey)
{
    brBridge *b = ud;
    pnlPos *p = ibbMap_Del(mod(b)->pos, lkey);
    if (!p)
        return;
    cancel_pnl(b, &p->req_id, true);
    free(p);
}

static void pnl_on_ib_ready(brBridge *b)
{
    pnlMod *m = mod(b);
    char acc[32];
    for (int i = 0; br_accountNth(b, i, acc, sizeof acc); i++) {
        pnlAcct *a = acct_entry(m, acc, true);
        if (a && a->req_id <= 0)
            a->req_id = send_pnl(b, a->account, 0, &acct_ops, a);
    }
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->pos);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        subscribe_pos(b, v);
    IBB_INFO("pnl.subscribed", "accounts=%d positions=%zu", m->n, ibbMap_Count(m->pos));
}

/* ---- ib.rpc.pnl ---------------------------------------------------------------------------------- */

static size_t positions_of(const pnlMod *m, const char *account, const pnlPos **out, size_t cap)
{
    size_t n = 0;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->pos);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        const pnlPos *p = v;
        if (strcmp(p->account, account) == 0 && n < cap)
            out[n++] = p;
    }
    return n;
}

static void on_pnl_query(busRequest *req, void *arg)
{
    brBridge *b = arg;
    pnlMod *m = mod(b);
    char acc[32] = "";
    ibbStatus st = busObj_StrCopy(busRequest_Body(req), "account", acc, sizeof acc);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "account", st, "string: an account id such as DU1234567");
        return;
    }
    if (acc[0] && !br_accountManaged(b, acc) && !acct_entry(m, acc, false)) {
        const char *list = b->ib ? coreSession_Accounts(b->ib) : NULL;
        busRequest_Failf(req, "bad_request", 0,
                         "field 'account': '%s' is not an account of this IB login (managed accounts: %s)",
                         acc, list && *list ? list : "none yet");
        return;
    }
    int n = 0;
    for (int i = 0; i < m->n; i++)
        n += !acc[0] || strcmp(acc, m->accts[i].account) == 0;
    size_t cap = ibbMap_Count(m->pos) + 1;
    const pnlPos **pos = malloc(cap * sizeof *pos);
    msgpack_packer *pk = busRequest_Packer(req);
    msgpack_pack_map(pk, 3);
    busPack_KeyInt(pk, "as_of_ns", br_wallNs());
    busPack_KeyBool(pk, "live", b->ib_ready);
    busPack_Str(pk, "accounts");
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < m->n; i++) {
        const pnlAcct *a = &m->accts[i];
        if (acc[0] && strcmp(acc, a->account) != 0)
            continue;
        size_t np = pos ? positions_of(m, a->account, pos, cap) : 0;
        pack_acct(pk, a, 1);
        busPack_Str(pk, "positions");
        msgpack_pack_array(pk, np);
        for (size_t k = 0; k < np; k++)
            pack_pos(pk, pos[k]);
    }
    free(pos);
    busRequest_ReplyPacked(req);
    busRequest_Release(req);
}

/* ---- ib.rpc.subscribe {kind: "pnl"} ------------------------------------------------------------- */

typedef struct pnlSub {
    brBridge *b;
    busRequest *req;
    char account[32];
    char lease_id[ST_LEASE_ID_LEN + 1];
    int64_t ttl_s;
    size_t n, outstanding;
    bool failed;
    char err_slug[32], err_msg[300];
    int err_code;
    char keys[MAX_PNL_ITEMS][ST_KEY_MAX]; /* as asked, then canonical */
} pnlSub;

static void arm_timer(brBridge *b);

static void on_timer(uv_timer_t *t)
{
    brBridge *b = t->data;
    size_t n = stLeases_Expire(mod(b)->leases, br_nowMs(b));
    if (n)
        IBB_INFO("pnl.leases_expired", "count=%zu leases=%zu positions=%zu", n,
                 stLeases_LeaseCount(mod(b)->leases), stLeases_KeyCount(mod(b)->leases));
    arm_timer(b);
}

static void arm_timer(brBridge *b)
{
    pnlMod *m = mod(b);
    if (!m->timer_open || m->stopping)
        return;
    int64_t next = stLeases_NextExpiry(m->leases);
    if (next == INT64_MAX) {
        uv_timer_stop(&m->timer);
        return;
    }
    int64_t delay = next - br_nowMs(b);
    uv_timer_start(&m->timer, on_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
}

static void format_utc(int64_t wall_ms, char *out, size_t cap)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03dZ", (int)(wall_ms % 1000));
}

static void answer_sub(brBridge *b, pnlSub *s, const char *id)
{
    msgpack_packer *pk = busRequest_Packer(s->req);
    char when[40];
    format_utc(br_wallNs() / 1000000 + s->ttl_s * 1000, when, sizeof when);
    msgpack_pack_map(pk, 6);
    busPack_KeyStr(pk, "lease_id", id);
    busPack_KeyStr(pk, "kind", "pnl");
    busPack_KeyStr(pk, "account", s->account);
    busPack_KeyInt(pk, "ttl_s", s->ttl_s);
    busPack_KeyStr(pk, "expires_at", when);
    busPack_Str(pk, "instruments");
    msgpack_pack_array(pk, s->n);
    for (size_t i = 0; i < s->n; i++) {
        char subject[LKEY_MAX + 80];
        snprintf(subject, sizeof subject, "%s.pnl.%s.%s", b->prefix, s->account, s->keys[i]);
        char lkey[LKEY_MAX];
        snprintf(lkey, sizeof lkey, "%s|%s", s->account, s->keys[i]);
        const pnlPos *p = ibbMap_Get(mod(b)->pos, lkey);
        const brInstrument *in = br_instrument(b, s->keys[i]);
        stInstrumentSpec spec;
        if (in)
            spec = in->spec;
        else
            memset(&spec, 0, sizeof spec);
        msgpack_pack_map(pk, 4);
        busPack_KeyStr(pk, "key", s->keys[i]);
        busPack_KeyStr(pk, "subject", subject);
        busPack_KeyStr(pk, "state",
                       !b->ib_ready         ? "waiting_for_ib"
                       : p && p->v.ns       ? "streaming"
                       : p && p->req_id > 0 ? "pending"
                                            : "failed");
        busPack_Str(pk, "contract");
        br_packContract(pk, &spec);
    }
    busRequest_ReplyPacked(s->req);
}

static void grant(pnlSub *s)
{
    brBridge *b = s->b;
    pnlMod *m = mod(b);
    if (busRequest_Answered(s->req) || m->stopping)
        return;
    char(*lkeys)[LKEY_MAX] = calloc(s->n ? s->n : 1, sizeof *lkeys);
    const char *ptrs[MAX_PNL_ITEMS];
    if (!lkeys) {
        busRequest_Error(s->req, "internal", "out of memory", 0);
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        snprintf(lkeys[i], LKEY_MAX, "%s|%s", s->account, s->keys[i]);
        ptrs[i] = lkeys[i];
    }
    char id[ST_LEASE_ID_LEN + 1];
    ibbStatus st = stLeases_Grant(m->leases, s->lease_id, ptrs, s->n, s->ttl_s * 1000, br_nowMs(b), id);
    free(lkeys);
    if (st == IBB_ERR_NOT_FOUND)
        busRequest_Error(s->req, "not_found", "no P&L lease with this lease_id (it ended or expired)", 0);
    else if (st != IBB_OK)
        busRequest_Error(s->req, "internal", "out of memory granting the lease", 0);
    else {
        arm_timer(b);
        IBB_INFO("pnl.lease", "lease=%.8s account=%s instruments=%zu positions=%zu reqs=%" PRIu64, id,
                 s->account, s->n, stLeases_KeyCount(m->leases), m->single_requests);
        answer_sub(b, s, id);
    }
}

static void sub_done(pnlSub *s)
{
    if (--s->outstanding > 0)
        return;
    if (s->failed)
        busRequest_Error(s->req, s->err_slug, s->err_msg, s->err_code);
    else
        grant(s);
    busRequest_Release(s->req);
    free(s);
}

typedef struct subItem {
    pnlSub *s;
    size_t i;
} subItem;

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code)
{
    (void)b;
    subItem *it = ctx;
    pnlSub *s = it->s;
    if (inst) {
        snprintf(s->keys[it->i], ST_KEY_MAX, "%s", inst->key);
    } else if (!s->failed) {
        s->failed = true;
        snprintf(s->err_slug, sizeof s->err_slug, "%s", slug);
        snprintf(s->err_msg, sizeof s->err_msg, "%s: %s", s->keys[it->i], msg ? msg : "");
        s->err_code = ib_code;
    }
    free(it);
    sub_done(s);
}

/* symbols -> s->keys (instrument keys, unique). false = answered. */
static bool parse_symbols(busRequest *req, pnlSub *s)
{
    const msgpack_object_array *syms = NULL;
    ibbStatus st = busObj_Array(busRequest_Body(req), "symbols", &syms);
    if (st == IBB_ERR_NOT_FOUND && s->lease_id[0]) {
        const char *const *old;
        size_t nold;
        if (stLeases_Keys(mod(s->b)->leases, s->lease_id, &old, &nold) == IBB_OK)
            for (size_t i = 0; i < nold && s->n < MAX_PNL_ITEMS; i++) {
                const char *bar = strchr(old[i], '|');
                snprintf(s->keys[s->n++], ST_KEY_MAX, "%s", bar ? bar + 1 : old[i]);
            }
        return true;
    }
    if (st != IBB_OK || !syms->size) {
        busRequest_Error(req, "bad_request",
                         "field 'symbols': an array of instrument keys such as [\"AAPL\"] (kind \"pnl\")", 0);
        return false;
    }
    if (syms->size > MAX_PNL_ITEMS) {
        busRequest_Errorf(req, "bad_request", 0, "field 'symbols': at most %d instruments per P&L lease",
                          MAX_PNL_ITEMS);
        return false;
    }
    char err[300];
    for (size_t i = 0; i < syms->size; i++) {
        msgpack_object_kv kv = {.key = {.type = MSGPACK_OBJECT_STR, .via.str = {6, "symbol"}},
                                .val = syms->ptr[i]};
        msgpack_object body = {.type = MSGPACK_OBJECT_MAP, .via.map = {1, &kv}};
        char key[ST_KEY_MAX];
        if (syms->ptr[i].type != MSGPACK_OBJECT_STR ||
            br_keyFromBody(&body, key, sizeof key, err, sizeof err)) {
            busRequest_Errorf(req, "bad_request", 0,
                              "field 'symbols' item %zu: an instrument key such as \"AAPL\"", i);
            return false;
        }
        bool dup = false;
        for (size_t j = 0; j < s->n && !dup; j++)
            dup = strcmp(s->keys[j], key) == 0;
        if (!dup)
            snprintf(s->keys[s->n++], ST_KEY_MAX, "%s", key);
    }
    return true;
}

/* A renewal that names no account keeps its lease's account. */
static bool lease_account(pnlSub *s)
{
    const char *const *keys;
    size_t n;
    if (!s->lease_id[0] || busObj_Get(busRequest_Body(s->req), "account") ||
        stLeases_Keys(mod(s->b)->leases, s->lease_id, &keys, &n) != IBB_OK || !n)
        return false;
    size_t len = strcspn(keys[0], "|");
    if (len >= sizeof s->account)
        return false;
    memcpy(s->account, keys[0], len);
    s->account[len] = '\0';
    return true;
}

static bool parse_sub(busRequest *req, pnlSub *s)
{
    const msgpack_object *body = busRequest_Body(req);
    s->ttl_s = DEFAULT_TTL_S;
    ibbStatus st = busObj_Int(body, "ttl_s", &s->ttl_s);
    ibbStatus ls = busObj_StrCopy(body, "lease_id", s->lease_id, sizeof s->lease_id);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "ttl_s", st, "integer");
    else if (s->ttl_s < 1 || s->ttl_s > MAX_TTL_S)
        busRequest_Errorf(req, "bad_request", 0, "field 'ttl_s' must be 1 to %d seconds", MAX_TTL_S);
    else if (ls != IBB_OK && ls != IBB_ERR_NOT_FOUND)
        busRequest_Error(req, "not_found", "no P&L lease with this lease_id (it ended or expired)", 0);
    else if (lease_account(s) || br_accountFromBody(s->b, req, s->account, sizeof s->account))
        return parse_symbols(req, s);
    return false;
}

void br_pnlSubscribe(busRequest *req, brBridge *b)
{
    pnlSub *s = calloc(1, sizeof *s);
    if (!s) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    s->b = b;
    s->req = req;
    if (!parse_sub(req, s)) {
        busRequest_Release(req);
        free(s);
        return;
    }
    s->outstanding = s->n + 1; /* + this loop: a resolution may finish at once (cache hit) */
    for (size_t i = 0; i < s->n; i++) {
        subItem *it = malloc(sizeof *it);
        if (!it) {
            s->outstanding--;
            s->failed = true;
            snprintf(s->err_slug, sizeof s->err_slug, "internal");
            snprintf(s->err_msg, sizeof s->err_msg, "out of memory");
            continue;
        }
        *it = (subItem){s, i};
        br_resolve(b, s->keys[i], on_resolved, it);
    }
    sub_done(s);
}

bool br_pnlOwnsLease(const brBridge *b, const char *lease_id)
{
    const pnlMod *m = mod(b);
    return m && lease_id && *lease_id && stLeases_ExpiresAt(m->leases, lease_id) >= 0;
}

bool br_pnlEndLease(brBridge *b, const char *lease_id)
{
    pnlMod *m = mod(b);
    if (!m || stLeases_End(m->leases, lease_id) != IBB_OK)
        return false;
    arm_timer(b);
    IBB_INFO("pnl.lease_end", "lease=%.8s leases=%zu positions=%zu", lease_id, stLeases_LeaseCount(m->leases),
             stLeases_KeyCount(m->leases));
    return true;
}

/* ---- module hooks -------------------------------------------------------------------------------- */

static void pnl_on_ib_down(brBridge *b)
{
    (void)b; /* the ids were closed by on_lost; the values stay as the last known */
}

static void pnl_on_stop(brBridge *b)
{
    pnlMod *m = mod(b);
    m->stopping = true;
    for (int i = 0; i < m->n; i++)
        cancel_pnl(b, &m->accts[i].req_id, false);
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->pos);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        cancel_pnl(b, &((pnlPos *)v)->req_id, true);
    if (m->timer_open) {
        uv_close((uv_handle_t *)&m->timer, NULL);
        m->timer_open = false;
    }
}

static ibbStatus pnl_init(brBridge *b)
{
    pnlMod *m = calloc(1, sizeof *m);
    if (!m)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_PNL] = m;
    if (ibbMap_Create(&m->pos) != IBB_OK)
        return IBB_ERR_NOMEM;
    stLeaseHooks hooks = {.acquire = on_acquire, .release = on_release, .ud = b};
    ibbStatus s = stLeases_Create(&m->leases, &hooks);
    if (s != IBB_OK)
        return s;
    uv_timer_init(b->loop, &m->timer);
    m->timer.data = b;
    m->timer_open = true;
    busEndpointDef d = {.name = "pnl", .subject = "pnl", .handler = on_pnl_query, .arg = b};
    return busService_AddEndpoint(b->svc, &d);
}

static void pnl_fini(brBridge *b)
{
    pnlMod *m = mod(b);
    if (!m)
        return;
    if (m->timer_open) { /* never started */
        uv_close((uv_handle_t *)&m->timer, NULL);
        uv_run(b->loop, UV_RUN_NOWAIT);
    }
    stLeases_Destroy(m->leases); /* calls no hooks */
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->pos);
    while (m->pos && ibbMapIter_Next(&it, NULL, NULL, &v))
        free(v);
    ibbMap_Destroy(m->pos);
    free(m);
    b->mod[BR_MOD_PNL] = NULL;
}

const brModule br_pnlModule = {
    .name = "pnl",
    .init = pnl_init,
    .on_ib_ready = pnl_on_ib_ready,
    .on_ib_down = pnl_on_ib_down,
    .on_stop = pnl_on_stop,
    .fini = pnl_fini,
};
