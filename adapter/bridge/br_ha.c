/* br_ha.c — hot standby (ha.enabled): which ib-bridge of several holds the IB session.
 *
 * The lease itself is bus/bus_lease.c (KV bucket <prefix>_leader, R = nats.js_replicas); this module
 * decides what it means for the bridge:
 *   standby  NATS only: no IB socket, the service's endpoints unsubscribed ($SRV answers with metadata
 *            role: standby), the fence shut (bus_fence.h: nothing published, nothing written to IB).
 *   active   the lease is ours: endpoints subscribed, the IB session started (same client id; a gateway
 *            still holding the old socket answers 326 and the session retries with short backoff),
 *            reconciliation is the usual on-ready one of every module.
 * The lease thread opens and shuts the fence by itself; this module follows on the loop (uv_async): one
 * log line and one ib.evt.conn event (ha_active; ha_standby only on a graceful release — a fenced process
 * publishes nothing) per transition. The IB write gate is the fence: checked before every write and
 * connect (coreSession_SetWriteGate), so a process woken from SIGSTOP after its lease ended sends nothing.
 *
 * The lease value (JSON) names instance, host, pid, prefix, IB host/port/client id and epoch; a standby
 * refuses (and never takes over) a lease whose value does not parse or names another IB host, port or
 * client id. Loop thread, except on_lease_change / lease_value / lease_check (lease thread).
 *
 * A standby keeps the active's resolved contracts warm (KV <prefix>_contracts, loaded at start and every
 * CONTRACTS_RELOAD_MS): after a takeover its leases are subscribed again at one reqMktData per
 * instrument instead of two messages (contract lookup first) through IB's 50 msg/s. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "br_internal.h"
#include "bus_json.h"
#include "bus_lease.h"
#include "ibb_log.h"

#define CONTRACTS_RELOAD_MS 3000 /* a KV key listing; only new records are read */

typedef struct brHa {
    brBridge *b;
    busFence *fence;
    busLease *lease;
    uv_async_t async;
    uv_mutex_t mu;             /* guards async_open against the lease thread */
    bool async_open;
    bool active;               /* loop's view */
    uint64_t epoch;
    int64_t leader_since_ns;
    uint64_t takeovers;
    char host[128];
    char bucket[80];
    brHaLeases *leases;        /* streaming leases and resolved contracts in KV */
    uv_timer_t reload;         /* standby: contracts reloaded */
    bool reload_open;
} brHa;

static brHa *mod(const brBridge *b) { return b->mod[BR_MOD_HA]; }

/* ---- lease thread ------------------------------------------------------------------------------- */

static size_t lease_value(void *ud, uint64_t epoch, char *buf, size_t cap)
{
    brHa *h = ud;
    const brBridge *b = h->b;
    int n = snprintf(buf, cap,
                     "{\"instance\":\"%s\",\"host\":\"%s\",\"pid\":%ld,\"prefix\":\"%s\",\"ib_host\":\"%s\","
                     "\"ib_port\":%d,\"client_id\":%" PRId64 ",\"epoch\":%" PRIu64 "}",
                     busService_Id(b->svc), h->host, (long)getpid(), b->prefix, b->opt.session.host,
                     b->opt.session.port, b->opt.session.client_id, epoch);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool lease_check(void *ud, const char *value, size_t len, char *why, size_t cap)
{
    brHa *h = ud;
    const brBridge *b = h->b;
    busBody body;
    busBody_Init(&body);
    char err[128];
    if (busBody_Decode(&body, value, len, "application/json", 0, err, sizeof err) != IBB_OK) {
        snprintf(why, cap, "the lease value does not parse as JSON (%s): %.60s", err, value);
        busBody_Free(&body);
        return false;
    }
    const char *host = NULL, *inst = NULL;
    size_t hl = 0, il = 0;
    int64_t port = -1, cid = -1;
    bool ok = busObj_Str(&body.root, "ib_host", &host, &hl) == IBB_OK &&
              busObj_Int(&body.root, "ib_port", &port) == IBB_OK &&
              busObj_Int(&body.root, "client_id", &cid) == IBB_OK;
    busObj_Str(&body.root, "instance", &inst, &il);
    if (!ok)
        snprintf(why, cap, "the lease value lacks ib_host, ib_port or client_id: %.80s", value);
    else if (hl != strlen(b->opt.session.host) || memcmp(host, b->opt.session.host, hl) != 0 ||
             port != b->opt.session.port || cid != b->opt.session.client_id)
        snprintf(why, cap,
                 "leader %.*s runs IB %.*s:%" PRId64 " client_id %" PRId64 ", this instance IB %s:%d client_id %"
                 PRId64 ": same prefix, another IB session",
                 (int)il, inst ? inst : "", (int)hl, host, port, cid, b->opt.session.host, b->opt.session.port,
                 b->opt.session.client_id);
    ok = ok && !*why;
    busBody_Free(&body);
    return ok;
}

static void on_lease_change(void *ud)
{
    brHa *h = ud;
    uv_mutex_lock(&h->mu);
    if (h->async_open)
        uv_async_send(&h->async);
    uv_mutex_unlock(&h->mu);
}

/* ---- loop ---------------------------------------------------------------------------------------- */

static void publish_ha(brBridge *b, const char *event, const char *message)
{
    busConnEvt ev = {.source = "ha", .event = event, .message = message};
    br_publishConnEvent(b, &ev);
}

static void become_active(brBridge *b, const busLeaseState *st)
{
    brHa *h = mod(b);
    h->active = true;
    h->epoch = st->epoch;
    h->leader_since_ns = st->since_ns;
    h->takeovers++;
    IBB_INFO("ha.active", "instance=%s epoch=%" PRIu64 " reason=\"%s\"", busService_Id(b->svc), st->epoch,
             st->reason);
    busService_SetRole(b->svc, "active", st->epoch);
    busService_SetServing(b->svc, true);
    publish_ha(b, "ha_active", st->reason);
    coreSession_Start(b->ib);
    brHaLeases_Load(h->leases); /* consumers keep their lease ids: their instruments are subscribed again */
}

static void become_standby(brBridge *b, const char *reason)
{
    brHa *h = mod(b);
    h->active = false;
    IBB_WARN("ha.standby", "instance=%s epoch=%" PRIu64 " reason=\"%s\"", busService_Id(b->svc), h->epoch,
             reason);
    busService_SetServing(b->svc, false);
    busService_SetRole(b->svc, "standby", h->epoch);
    coreSession_Disconnect(b->ib); /* modules see the IB link go down: requests lost, quotes idle */
}

static void on_async(uv_async_t *a)
{
    brHa *h = a->data;
    brBridge *b = h->b;
    if (b->stopping)
        return;
    busLeaseState st;
    busLease_State(h->lease, &st);
    if (st.role == BUS_LEASE_LEADER && (!h->active || st.epoch != h->epoch))
        become_active(b, &st);
    else if (st.role == BUS_LEASE_STANDBY && h->active)
        become_standby(b, st.reason);
}

static bool ib_write_gate(void *ud)
{
    brHa *h = ud;
    if (busFence_Allows(h->fence))
        return true;
    IBB_DEBUG("ha.fenced_write", "epoch=%" PRIu64, busFence_Epoch(h->fence));
    return false;
}

/* ---- bridge hooks -------------------------------------------------------------------------------- */

bool br_haEnabled(const brBridge *b) { return mod(b) != NULL; }

void br_haLeaseSaved(brBridge *b, const char *lease_id)
{
    if (mod(b))
        brHaLeases_Saved(mod(b)->leases, lease_id);
}

void br_haLeaseEnded(brBridge *b, const char *lease_id)
{
    if (mod(b))
        brHaLeases_Ended(mod(b)->leases, lease_id);
}

void br_haContractResolved(brBridge *b, const char *lookup_key, const brInstrument *inst)
{
    if (mod(b) && mod(b)->active)
        brHaLeases_SaveContract(mod(b)->leases, lookup_key, inst);
}

static void on_reload(uv_timer_t *t)
{
    brHa *h = t->data;
    if (!h->active && !h->b->stopping)
        brHaLeases_LoadContracts(h->leases);
}

bool br_haActive(const brBridge *b) { return !mod(b) || mod(b)->active; }

ibbStatus br_haStart(brBridge *b)
{
    brHa *h = mod(b);
    busService_SetRole(b->svc, "standby", 0);
    busService_SetServing(b->svc, false); /* before Start: only $SRV is subscribed */
    ibbStatus s = busService_Start(b->svc);
    if (s != IBB_OK)
        return s;
    busLeaseOptions lo;
    busLeaseOptions_Init(&lo);
    lo.bucket = h->bucket;
    lo.replicas = b->opt.js_replicas;
    lo.lease_ms = b->opt.ha.lease_ms;
    lo.renew_ms = b->opt.ha.renew_ms;
    lo.value = lease_value;
    lo.check = lease_check;
    lo.on_change = on_lease_change;
    lo.ud = h;
    lo.fence = h->fence;
    s = busLease_Create(&h->lease, b->conn, b->loop, &lo);
    if (s != IBB_OK) {
        IBB_ERROR("ha.lease_failed", "status=%s", ibbStatus_Name(s));
        return s;
    }
    uv_timer_init(b->loop, &h->reload);
    h->reload.data = h;
    h->reload_open = true;
    uv_timer_start(&h->reload, on_reload, 0, CONTRACTS_RELOAD_MS);
    IBB_INFO("ha.standby", "instance=%s bucket=%s lease_ms=%" PRId64 " renew_ms=%" PRId64
             " reason=\"started: waiting for the lease\"",
             busService_Id(b->svc), h->bucket, b->opt.ha.lease_ms, b->opt.ha.renew_ms);
    return IBB_OK;
}

void br_haRelease(brBridge *b)
{
    brHa *h = mod(b);
    if (!h)
        return;
    if (h->active) {
        publish_ha(b, "ha_standby", "graceful stop: lease released");
        IBB_INFO("ha.standby", "instance=%s epoch=%" PRIu64 " reason=\"graceful stop: lease released\"",
                 busService_Id(b->svc), h->epoch);
        h->active = false;
    }
    busLease_Release(h->lease); /* fence shut, key deleted on the lease thread (Destroy waits for it) */
    if (h->reload_open) {
        h->reload_open = false;
        uv_close((uv_handle_t *)&h->reload, NULL);
    }
    /* the async goes even when the start failed before the lease existed: it must not keep the loop up */
    uv_mutex_lock(&h->mu);
    bool open = h->async_open;
    h->async_open = false;
    uv_mutex_unlock(&h->mu);
    if (open)
        uv_close((uv_handle_t *)&h->async, NULL);
}

void br_haPackStatus(brBridge *b, msgpack_packer *pk)
{
    brHa *h = mod(b);
    msgpack_pack_map(pk, 6);
    busPack_KeyBool(pk, "enabled", h != NULL);
    busPack_KeyStr(pk, "role", !h || h->active ? "active" : "standby");
    busPack_KeyStr(pk, "instance", busService_Id(b->svc));
    busPack_KeyInt(pk, "epoch", h ? (int64_t)h->epoch : 0);
    busPack_KeyInt(pk, "leader_since_ns", h && h->active ? h->leader_since_ns : 0);
    busPack_KeyInt(pk, "takeovers", h ? (int64_t)h->takeovers : 0);
}

/* ---- module ---------------------------------------------------------------------------------------- */

static ibbStatus ha_init(brBridge *b)
{
    if (!b->opt.ha.enabled)
        return IBB_OK;
    brHa *h = calloc(1, sizeof *h);
    if (!h)
        return IBB_ERR_NOMEM;
    h->b = b;
    if (gethostname(h->host, sizeof h->host) != 0)
        snprintf(h->host, sizeof h->host, "unknown");
    h->host[sizeof h->host - 1] = '\0';
    for (char *p = h->host; *p; p++)
        if (*p == '"' || *p == '\\')
            *p = '_';
    snprintf(h->bucket, sizeof h->bucket, "%s_leader", b->prefix);
    for (char *p = h->bucket; *p; p++)
        if (*p == '.')
            *p = '_';
    ibbStatus s = busFence_Create(&h->fence);
    if (s == IBB_OK && (s = brHaLeases_Create(&h->leases, b)) != IBB_OK)
        busFence_Destroy(h->fence);
    if (s != IBB_OK) {
        free(h);
        return s;
    }
    uv_mutex_init(&h->mu);
    uv_async_init(b->loop, &h->async, on_async);
    h->async.data = h;
    h->async_open = true;
    b->mod[BR_MOD_HA] = h;
    busConn_SetFence(b->conn, h->fence);
    busConn_SetFence(b->loop_conn, h->fence);
    coreSession_SetWriteGate(b->ib, ib_write_gate, h);
    return IBB_OK;
}

static void ha_fini(brBridge *b)
{
    brHa *h = mod(b);
    if (!h)
        return;
    busLease_Destroy(h->lease); /* joins the lease thread (a pending release is carried out first) */
    brHaLeases_Destroy(h->leases);
    if (h->async_open || h->reload_open) { /* never released (failed start): close now, run the loop once */
        if (h->async_open)
            uv_close((uv_handle_t *)&h->async, NULL);
        if (h->reload_open)
            uv_close((uv_handle_t *)&h->reload, NULL);
        h->async_open = h->reload_open = false;
        uv_run(b->loop, UV_RUN_NOWAIT);
    }
    uv_mutex_destroy(&h->mu);
    b->mod[BR_MOD_HA] = NULL;
    /* the fence outlives the connections that use it: freed by the bridge after busConn_Destroy */
    b->ha_fence = h->fence;
    free(h);
}

const brModule br_haModule = {
    .name = "ha",
    .init = ha_init,
    .fini = ha_fini,
};
