/* st_histgov.c — historical pacing governor; see st_histgov.h. */
#include "st_histgov.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ibb_map.h"

typedef struct sent {      /* one weight unit sent to IB (BID_ASK leaves two) */
    int64_t ts;
    uint64_t pace, key;    /* hashes: a collision only makes the governor more careful */
} sent;

struct stHistGov {
    stHistLimits lim;
    ibbMap *jobs;          /* key -> stHistJob* (queued, in flight, or cached) */
    ibbMap *by_req;        /* req_id -> stHistJob* (in flight) */
    stHistJob **queue;     /* FIFO of queued jobs */
    size_t nqueue, cap_queue;
    sent *log;             /* sends within the last window_ms, oldest first */
    size_t nlog, cap_log;
    size_t in_flight;
};

void stHistLimits_Default(stHistLimits *l)
{
    l->identical_window_ms = 15000;
    l->per_contract_max = 5;          /* IB: "six or more within two seconds" is a violation */
    l->per_contract_window_ms = 2000;
    l->window_max = 60;
    l->window_ms = 600000;
    l->max_in_flight = 50;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

ibbStatus stHistGov_Create(stHistGov **out, const stHistLimits *limits)
{
    if (!out)
        return IBB_ERR_INVALID_ARG;
    stHistGov *g = calloc(1, sizeof *g);
    if (!g || ibbMap_Create(&g->jobs) != IBB_OK || ibbMap_Create(&g->by_req) != IBB_OK) {
        stHistGov_Destroy(g);
        return IBB_ERR_NOMEM;
    }
    if (limits)
        g->lim = *limits;
    else
        stHistLimits_Default(&g->lim);
    *out = g;
    return IBB_OK;
}

static void free_job(stHistJob *j)
{
    free(j->key);
    free(j->pace_key);
    free(j->waiters);
    free(j->result);
    free(j);
}

void stHistGov_Destroy(stHistGov *g)
{
    if (!g)
        return;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, g->jobs);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        free_job(v);
    ibbMap_Destroy(g->jobs);
    ibbMap_Destroy(g->by_req);
    free(g->queue);
    free(g->log);
    free(g);
}

static ibbStatus add_waiter(stHistJob *j, void *waiter)
{
    if (j->nwaiters == j->cap_waiters) {
        size_t cap = j->cap_waiters ? j->cap_waiters * 2 : 4;
        void **nw = realloc(j->waiters, cap * sizeof *nw);
        if (!nw)
            return IBB_ERR_NOMEM;
        j->waiters = nw;
        j->cap_waiters = cap;
    }
    j->waiters[j->nwaiters++] = waiter;
    return IBB_OK;
}

static void unqueue(stHistGov *g, stHistJob *j)
{
    for (size_t i = 0; i < g->nqueue; i++)
        if (g->queue[i] == j) {
            memmove(g->queue + i, g->queue + i + 1, (g->nqueue - i - 1) * sizeof *g->queue);
            g->nqueue--;
            return;
        }
}

/* Removes a job from every index and frees it. */
static void drop_job(stHistGov *g, stHistJob *j)
{
    if (j->state == ST_JOB_QUEUED)
        unqueue(g, j);
    if (j->state == ST_JOB_IN_FLIGHT) {
        g->in_flight--;
        if (j->req_id && ibbMap_GetInt(g->by_req, j->req_id) == j)
            ibbMap_DelInt(g->by_req, j->req_id);
    }
    ibbMap_Del(g->jobs, j->key);
    free_job(j);
}

static void evict(stHistGov *g, int64_t now)
{
    size_t old = 0;
    while (old < g->nlog && g->log[old].ts <= now - g->lim.window_ms)
        old++;
    if (old) {
        memmove(g->log, g->log + old, (g->nlog - old) * sizeof *g->log);
        g->nlog -= old;
    }
    stHistJob *stale[64];
    size_t n;
    do { /* collect, then drop: the map must not change while iterating */
        n = 0;
        ibbMapIter it;
        void *v;
        ibbMapIter_Init(&it, g->jobs);
        while (n < 64 && ibbMapIter_Next(&it, NULL, NULL, &v)) {
            stHistJob *j = v;
            if (j->state == ST_JOB_DONE && j->done_ms + g->lim.identical_window_ms <= now)
                stale[n++] = j;
        }
        for (size_t i = 0; i < n; i++)
            drop_job(g, stale[i]);
    } while (n == 64);
}

ibbStatus stHistGov_Submit(stHistGov *g, const char *key, const char *pace_key, int weight, void *waiter,
                           int64_t now_ms, stHistJob **job, stHistOutcome *outcome)
{
    if (!g || !key || !pace_key || !job || !outcome || weight < 1)
        return IBB_ERR_INVALID_ARG;
    evict(g, now_ms);
    stHistJob *j = ibbMap_Get(g->jobs, key);
    if (j && j->state == ST_JOB_DONE) {
        *job = j;
        *outcome = ST_HIST_CACHED;
        return IBB_OK;
    }
    if (j) {
        if (add_waiter(j, waiter) != IBB_OK)
            return IBB_ERR_NOMEM;
        *job = j;
        *outcome = ST_HIST_JOINED;
        return IBB_OK;
    }
    if (g->nqueue == g->cap_queue) {
        size_t cap = g->cap_queue ? g->cap_queue * 2 : 16;
        stHistJob **nq = realloc(g->queue, cap * sizeof *nq);
        if (!nq)
            return IBB_ERR_NOMEM;
        g->queue = nq;
        g->cap_queue = cap;
    }
    j = calloc(1, sizeof *j);
    if (!j || !(j->key = strdup(key)) || !(j->pace_key = strdup(pace_key)) ||
        add_waiter(j, waiter) != IBB_OK || ibbMap_Put(g->jobs, j->key, j) != IBB_OK) {
        if (j)
            free_job(j);
        return IBB_ERR_NOMEM;
    }
    j->weight = weight;
    j->state = ST_JOB_QUEUED;
    g->queue[g->nqueue++] = j;
    *job = j;
    *outcome = ST_HIST_QUEUED;
    return IBB_OK;
}

/* Weighted units in the log since `since` (exclusive), optionally only for one pace hash. */
static int units_since(const stHistGov *g, int64_t since, const uint64_t *pace)
{
    int n = 0;
    for (size_t i = g->nlog; i-- > 0 && g->log[i].ts > since;)
        n += (!pace || g->log[i].pace == *pace);
    return n;
}

/* The time at which `need` more units fit under `max` in a sliding `window`, looking only at the
 * log entries matching pace (NULL = all). */
static int64_t fits_at(const stHistGov *g, int64_t now, int64_t window, int max, int need,
                       const uint64_t *pace)
{
    int used = units_since(g, now - window, pace);
    int excess = used + need - max;
    if (excess <= 0)
        return now;
    /* the excess-th oldest matching unit inside the window must age out */
    int seen = 0;
    for (size_t i = 0; i < g->nlog; i++) {
        if (g->log[i].ts <= now - window || (pace && g->log[i].pace != *pace))
            continue;
        if (++seen == excess)
            return g->log[i].ts + window;
    }
    return now + window; /* the demand alone exceeds a window: at least one window away */
}

static int64_t job_ready_at(const stHistGov *g, const stHistJob *j, int64_t now)
{
    uint64_t pace = hash_str(j->pace_key), key = hash_str(j->key);
    int64_t t = fits_at(g, now, g->lim.window_ms, g->lim.window_max, j->weight, NULL);
    int64_t tc = fits_at(g, now, g->lim.per_contract_window_ms, g->lim.per_contract_max, j->weight, &pace);
    if (tc > t)
        t = tc;
    for (size_t i = g->nlog; i-- > 0 && g->log[i].ts > now - g->lim.identical_window_ms;)
        if (g->log[i].key == key && g->log[i].ts + g->lim.identical_window_ms > t) {
            t = g->log[i].ts + g->lim.identical_window_ms;
            break;
        }
    return t;
}

static ibbStatus log_send(stHistGov *g, const stHistJob *j, int64_t now)
{
    if (g->nlog + (size_t)j->weight > g->cap_log) {
        size_t cap = g->cap_log ? g->cap_log * 2 : 128;
        while (cap < g->nlog + (size_t)j->weight)
            cap *= 2;
        sent *nl = realloc(g->log, cap * sizeof *nl);
        if (!nl)
            return IBB_ERR_NOMEM;
        g->log = nl;
        g->cap_log = cap;
    }
    for (int i = 0; i < j->weight; i++)
        g->log[g->nlog++] = (sent){now, hash_str(j->pace_key), hash_str(j->key)};
    return IBB_OK;
}

size_t stHistGov_Poll(stHistGov *g, int64_t now_ms, stHistSendFn send, void *ud)
{
    evict(g, now_ms);
    size_t sent_n = 0;
    for (size_t i = 0; i < g->nqueue;) {
        stHistJob *j = g->queue[i];
        if (g->in_flight >= (size_t)g->lim.max_in_flight)
            break;
        if (job_ready_at(g, j, now_ms) > now_ms || log_send(g, j, now_ms) != IBB_OK) {
            i++; /* this contract is saturated: later jobs of other contracts may still go */
            continue;
        }
        memmove(g->queue + i, g->queue + i + 1, (g->nqueue - i - 1) * sizeof *g->queue);
        g->nqueue--;
        j->state = ST_JOB_IN_FLIGHT;
        g->in_flight++;
        sent_n++;
        if (send)
            send(ud, j); /* the callback sets j->req_id (the IB request id); indexed next */
        if (j->req_id)
            ibbMap_PutInt(g->by_req, j->req_id, j);
    }
    return sent_n;
}

int64_t stHistGov_NextDue(const stHistGov *g, int64_t now_ms)
{
    if (g->nqueue == 0)
        return INT64_MAX;
    if (g->in_flight >= (size_t)g->lim.max_in_flight)
        return now_ms + 100; /* wait for an answer; Complete/Fail make room */
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < g->nqueue; i++) {
        int64_t t = job_ready_at(g, g->queue[i], now_ms);
        if (t < best)
            best = t;
    }
    return best;
}

int64_t stHistGov_EarliestStart(const stHistGov *g, const char *pace_key, int weight, int64_t now_ms)
{
    uint64_t pace = hash_str(pace_key);
    int queued = 0, queued_same = 0;
    for (size_t i = 0; i < g->nqueue; i++) {
        queued += g->queue[i]->weight;
        if (hash_str(g->queue[i]->pace_key) == pace)
            queued_same += g->queue[i]->weight;
    }
    int64_t t = fits_at(g, now_ms, g->lim.window_ms, g->lim.window_max, queued + weight, NULL);
    int need = queued_same + weight;
    int used = units_since(g, now_ms - g->lim.per_contract_window_ms, &pace);
    int over = used + need - g->lim.per_contract_max;
    if (over > 0) {
        int64_t slots = (over + g->lim.per_contract_max - 1) / g->lim.per_contract_max;
        int64_t tc = now_ms + slots * g->lim.per_contract_window_ms;
        if (tc > t)
            t = tc;
    }
    return t;
}

static void hand_out(stHistJob *j, void (*each)(void *, void *, stHistJob *), void *ud)
{
    size_t n = j->nwaiters;
    j->nwaiters = 0;
    for (size_t i = 0; i < n; i++)
        if (each)
            each(ud, j->waiters[i], j);
}

ibbStatus stHistGov_Complete(stHistGov *g, stHistJob *j, const void *result, size_t len, int64_t now_ms,
                             void (*each)(void *ud, void *waiter, stHistJob *job), void *ud)
{
    void *copy = malloc(len ? len : 1);
    if (!copy) {
        stHistGov_Fail(g, j, each, ud);
        return IBB_ERR_NOMEM;
    }
    if (len)
        memcpy(copy, result, len);
    if (j->state == ST_JOB_IN_FLIGHT) {
        g->in_flight--;
        if (j->req_id && ibbMap_GetInt(g->by_req, j->req_id) == j)
            ibbMap_DelInt(g->by_req, j->req_id);
    } else if (j->state == ST_JOB_QUEUED) {
        unqueue(g, j);
    }
    free(j->result);
    j->result = copy;
    j->result_len = len;
    j->state = ST_JOB_DONE;
    j->done_ms = now_ms;
    hand_out(j, each, ud);
    return IBB_OK;
}

void stHistGov_Fail(stHistGov *g, stHistJob *j, void (*each)(void *ud, void *waiter, stHistJob *job),
                    void *ud)
{
    hand_out(j, each, ud);
    drop_job(g, j);
}

void stHistGov_Detach(stHistGov *g, stHistJob *j, void *waiter)
{
    for (size_t i = 0; i < j->nwaiters; i++)
        if (j->waiters[i] == waiter) {
            j->waiters[i] = j->waiters[--j->nwaiters];
            break;
        }
    if (j->nwaiters == 0 && j->state == ST_JOB_QUEUED)
        drop_job(g, j);
}

stHistJob *stHistGov_FindByReqId(const stHistGov *g, int64_t req_id)
{
    return ibbMap_GetInt(g->by_req, req_id);
}
size_t stHistGov_QueueDepth(const stHistGov *g) { return g->nqueue; }
size_t stHistGov_InFlight(const stHistGov *g) { return g->in_flight; }
int stHistGov_WindowUsed(const stHistGov *g, int64_t now_ms)
{
    return units_since(g, now_ms - g->lim.window_ms, NULL);
}
int64_t stHistGov_JobReadyAt(const stHistGov *g, const stHistJob *job, int64_t now_ms)
{
    return job_ready_at(g, job, now_ms);
}
