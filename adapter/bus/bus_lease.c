/* bus_lease.c — the leadership lease; see bus_lease.h. */
#include "bus_lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_js.h"
#include "ibb_log.h"

#define NS_PER_MS 1000000ULL
#define VALUE_MAX 1024

struct busLease {
    busLeaseOptions o;
    char bucket[64], key[64];
    busJs *js;
    uv_thread_t thread;
    bool thread_started;
    uv_mutex_t mu;
    uv_cond_t cv;
    /* under mu */
    bool stop, release;
    busLeaseState st;
    /* lease thread only */
    bool bound;
    uint64_t rev;              /* leader: the revision we wrote last */
    uint64_t seen_rev;         /* standby: the revision seen last ... */
    uint64_t seen_at;          /* ... and when it was first seen (uv_hrtime) */
    uint64_t refused_rev;      /* a revision whose value check refused (logged once) */
    uint64_t fence_until;
    int64_t last_err_log;      /* rate limit of error logs (uv_hrtime ms) */
};

void busLeaseOptions_Init(busLeaseOptions *o)
{
    memset(o, 0, sizeof *o);
    o->key = "leader";
    o->replicas = 1;
    o->lease_ms = 2000;
    o->renew_ms = 600;
}

static int64_t now_ms(void) { return (int64_t)(uv_hrtime() / NS_PER_MS); }

static void log_err(busLease *l, const char *what, const char *err)
{
    int64_t t = now_ms();
    if (t - l->last_err_log < 5000)
        return;
    l->last_err_log = t;
    IBB_WARN("lease.store_error", "bucket=%s op=%s error=\"%s\"", l->bucket, what, err);
}

/* Role change (lease thread): state under mu, then the owner is told. */
static void set_role(busLease *l, busLeaseRole role, uint64_t epoch, const char *reason)
{
    uv_mutex_lock(&l->mu);
    bool changed = l->st.role != role || (role == BUS_LEASE_LEADER && l->st.epoch != epoch);
    l->st.role = role;
    if (role == BUS_LEASE_LEADER) {
        l->st.epoch = epoch;
        if (changed)
            l->st.acquired++;
    }
    l->st.revision = role == BUS_LEASE_LEADER ? l->rev : l->seen_rev;
    if (changed) {
        l->st.since_ns = bus_NowNs();
        snprintf(l->st.reason, sizeof l->st.reason, "%s", reason);
    }
    uv_mutex_unlock(&l->mu);
    if (changed && l->o.on_change)
        l->o.on_change(l->o.ud);
}

static void open_fence(busLease *l, uint64_t epoch, uint64_t t0)
{
    l->fence_until = t0 + (uint64_t)(l->o.lease_ms - l->o.renew_ms) * NS_PER_MS;
    busFence_Open(l->o.fence, epoch, l->fence_until);
}

/* Writes our value checked against `last`; IBB_OK = we hold the lease at l->rev. */
static ibbStatus write_value(busLease *l, uint64_t last, uint64_t epoch, char *err, size_t cap)
{
    char buf[VALUE_MAX];
    size_t n = l->o.value ? l->o.value(l->o.ud, epoch, buf, sizeof buf) : 0;
    if (n == 0 || n > sizeof buf) {
        snprintf(err, cap, "no lease value");
        return IBB_ERR_INVALID_ARG;
    }
    uint64_t rev = 0;
    ibbStatus s = busJs_KvUpdate(l->js, l->key, buf, n, last, &rev, err, cap);
    if (s == IBB_OK)
        l->rev = rev;
    return s;
}

static void take(busLease *l, uint64_t last, const char *reason)
{
    uint64_t t0 = uv_hrtime();
    char err[256] = "";
    ibbStatus s = write_value(l, last, 0, err, sizeof err);
    if (s == IBB_ERR_CONFLICT)
        return; /* another instance was faster */
    if (s != IBB_OK) {
        log_err(l, "take", err);
        return;
    }
    uint64_t epoch = l->rev;
    open_fence(l, epoch, t0);
    set_role(l, BUS_LEASE_LEADER, epoch, reason);
}

static void renew(busLease *l)
{
    uint64_t t0 = uv_hrtime();
    uint64_t epoch = busFence_Epoch(l->o.fence);
    char err[256] = "";
    ibbStatus s = write_value(l, l->rev, epoch, err, sizeof err);
    if (s == IBB_OK) {
        open_fence(l, epoch, t0);
        uv_mutex_lock(&l->mu);
        l->st.revision = l->rev;
        uv_mutex_unlock(&l->mu);
        return;
    }
    if (s == IBB_ERR_CONFLICT) {
        busFence_Shut(l->o.fence);
        l->seen_rev = 0; /* observe the new leader from scratch */
        set_role(l, BUS_LEASE_STANDBY, 0, "lease lost: another instance wrote the lease (revision changed)");
        return;
    }
    log_err(l, "renew", err);
    if (uv_hrtime() >= l->fence_until) {
        busFence_Shut(l->o.fence);
        char why[200];
        snprintf(why, sizeof why, "lease not renewed in time (the store did not answer: %.120s)", err);
        l->seen_rev = 0;
        set_role(l, BUS_LEASE_STANDBY, 0, why);
    }
}

static void observe(busLease *l, bool may_take)
{
    char *val = NULL;
    size_t len = 0;
    uint64_t rev = 0;
    char err[256] = "";
    ibbStatus s = busJs_KvGetRev(l->js, l->key, &val, &len, &rev, err, sizeof err);
    uint64_t t1 = uv_hrtime();
    if (s == IBB_ERR_NOT_FOUND) {
        if (may_take)
            take(l, 0, "lease free: taken with a create-only write");
        return;
    }
    if (s != IBB_OK) {
        log_err(l, "read", err);
        free(val);
        return;
    }
    if (rev != l->seen_rev) {
        l->seen_rev = rev;
        l->seen_at = t1; /* after the read: never earlier than the leader's write */
        char why[256] = "";
        if (l->o.check && !l->o.check(l->o.ud, val, len, why, sizeof why)) {
            if (l->refused_rev != rev)
                IBB_ERROR("lease.refused", "bucket=%s revision=%" PRIu64 " reason=\"%s\" action=never_take_over",
                          l->bucket, rev, why);
            l->refused_rev = rev;
        }
        uv_mutex_lock(&l->mu);
        l->st.revision = rev;
        uv_mutex_unlock(&l->mu);
    } else if (may_take && l->refused_rev != rev && t1 - l->seen_at >= (uint64_t)l->o.lease_ms * NS_PER_MS) {
        char why[160];
        snprintf(why, sizeof why, "lease expired: revision %" PRIu64 " unchanged for %" PRId64 " ms", rev,
                 (int64_t)((t1 - l->seen_at) / NS_PER_MS));
        take(l, rev, why);
    }
    free(val);
}

static void release_now(busLease *l)
{
    busFence_Shut(l->o.fence); /* before the key goes: a standby may take over right after */
    char err[256] = "";
    ibbStatus s = busJs_KvDeleteRev(l->js, l->key, l->rev, err, sizeof err);
    if (s != IBB_OK && s != IBB_ERR_CONFLICT)
        IBB_WARN("lease.release_failed", "bucket=%s error=\"%s\" detail=\"standbys take over at expiry\"",
                 l->bucket, err);
    set_role(l, BUS_LEASE_STANDBY, 0, s == IBB_OK ? "released (graceful stop)" : "released (delete failed)");
}

static void lease_main(void *arg)
{
    busLease *l = arg;
    for (;;) {
        uv_mutex_lock(&l->mu);
        bool stop = l->stop, release = l->release;
        busLeaseRole role = l->st.role;
        uv_mutex_unlock(&l->mu);
        if (stop && !(release && role == BUS_LEASE_LEADER && l->bound))
            break; /* a release asked for just before Destroy is still carried out */
        if (!l->bound) {
            busJsKvConfig kc = {.bucket = l->bucket, .description = "ib-bridge hot-standby leader lease",
                                .history = 1, .file_storage = true, .replicas = l->o.replicas};
            char err[300] = "";
            if (busJs_EnsureKv(l->js, &kc, err, sizeof err) == IBB_OK)
                l->bound = true;
            else
                log_err(l, "bucket", err);
        }
        if (l->bound) {
            if (role == BUS_LEASE_LEADER && release) {
                release_now(l);
                if (stop)
                    break;
            }
            else if (role == BUS_LEASE_LEADER)
                renew(l);
            else
                observe(l, !release);
        }
        uv_mutex_lock(&l->mu);
        bool leader = l->st.role == BUS_LEASE_LEADER;
        if (!l->stop && !(leader && l->release)) {
            int64_t wait = leader ? l->o.renew_ms : l->o.poll_ms;
            uv_cond_timedwait(&l->cv, &l->mu, (uint64_t)wait * NS_PER_MS);
        }
        uv_mutex_unlock(&l->mu);
    }
}

ibbStatus busLease_Create(busLease **out, busConn *conn, uv_loop_t *loop, const busLeaseOptions *o)
{
    if (!out || !conn || !loop || !o || !o->bucket || !o->fence || o->lease_ms <= 0 || o->renew_ms <= 0 ||
        o->renew_ms * 2 >= o->lease_ms)
        return IBB_ERR_INVALID_ARG;
    busLease *l = calloc(1, sizeof *l);
    if (!l)
        return IBB_ERR_NOMEM;
    l->o = *o;
    snprintf(l->bucket, sizeof l->bucket, "%s", o->bucket);
    snprintf(l->key, sizeof l->key, "%s", o->key && *o->key ? o->key : "leader");
    l->o.bucket = l->bucket;
    l->o.key = l->key;
    if (l->o.poll_ms <= 0)
        l->o.poll_ms = l->o.renew_ms / 2 > 0 ? l->o.renew_ms / 2 : 1;
    l->last_err_log = INT64_MIN / 2;
    busFence_Shut(o->fence);
    uv_mutex_init(&l->mu);
    uv_cond_init(&l->cv);
    busJsOptions jo;
    busJsOptions_Init(&jo);
    jo.wait_ms = l->o.renew_ms; /* a renewal slower than this cannot help */
    ibbStatus s = busJs_Create(&l->js, conn, loop, &jo);
    if (s == IBB_OK && uv_thread_create(&l->thread, lease_main, l) != 0)
        s = IBB_ERR_NOMEM;
    if (s != IBB_OK) {
        busJs_Destroy(l->js);
        uv_cond_destroy(&l->cv);
        uv_mutex_destroy(&l->mu);
        free(l);
        return s;
    }
    l->thread_started = true;
    *out = l;
    return IBB_OK;
}

void busLease_Release(busLease *l)
{
    if (!l)
        return;
    uv_mutex_lock(&l->mu);
    l->release = true;
    l->st.released = true;
    uv_cond_signal(&l->cv);
    uv_mutex_unlock(&l->mu);
}

void busLease_Destroy(busLease *l)
{
    if (!l)
        return;
    uv_mutex_lock(&l->mu);
    l->stop = true;
    uv_cond_signal(&l->cv);
    uv_mutex_unlock(&l->mu);
    if (l->thread_started)
        uv_thread_join(&l->thread);
    busFence_Shut(l->o.fence);
    busJs_Destroy(l->js);
    uv_cond_destroy(&l->cv);
    uv_mutex_destroy(&l->mu);
    free(l);
}

void busLease_State(busLease *l, busLeaseState *out)
{
    uv_mutex_lock(&l->mu);
    *out = l->st;
    uv_mutex_unlock(&l->mu);
}
