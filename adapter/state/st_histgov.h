/* st_histgov.h — the historical-data pacing governor: IB never sees a pacing violation from us.
 *
 * IB's rules (PROTOCOL.md §5.3): no identical request within 15 s; fewer than 6 requests for the
 * same contract + exchange + whatToShow within 2 s; at most 60 requests in any 10 minutes; at most
 * 50 open at once; BID_ASK counts twice. The governor turns them into a queue:
 *   - identical requests in flight or queued share one job (one IB request, many waiters);
 *   - an identical request within the cache window is answered from the finished job's result;
 *   - stHistGov_Poll releases queued jobs in FIFO order as soon as every rule allows, skipping
 *     (not blocking on) a job whose contract is momentarily saturated;
 *   - stHistGov_EarliestStart tells, at submit time, whether a deadline can be met.
 *
 * Single-threaded; time is passed in (ms, monotonic). Jobs are owned by the governor; a job
 * pointer stays valid until the job is dropped: after Complete its result lives in the cache
 * until the cache window passes (stHistGov_Poll evicts), after Fail / last Detach immediately.
 * Results are opaque bytes the governor copies and frees. Waiters are borrowed pointers. */
#ifndef ST_HISTGOV_H
#define ST_HISTGOV_H

#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"

typedef struct stHistLimits {
    int64_t identical_window_ms;     /* 15000: cache + identical-request spacing */
    int per_contract_max;            /* 5: at most this many per pace key within per_contract_window */
    int64_t per_contract_window_ms;  /* 2000 */
    int window_max;                  /* 60 requests ... */
    int64_t window_ms;               /* ... per 600000 ms */
    int max_in_flight;               /* 50 */
} stHistLimits;

/* Fills the limits with IB's documented values, with one request of margin on the 2 s rule. */
void stHistLimits_Default(stHistLimits *l);

typedef enum stHistOutcome {
    ST_HIST_CACHED = 0,              /* job holds a result: answer now */
    ST_HIST_JOINED,                  /* attached to an identical queued or in-flight job */
    ST_HIST_QUEUED,                  /* a new job: it is sent when stHistGov_Poll says so */
} stHistOutcome;

typedef enum stHistJobState { ST_JOB_QUEUED, ST_JOB_IN_FLIGHT, ST_JOB_DONE } stHistJobState;

typedef struct stHistJob {
    char *key;                       /* the full request identity */
    char *pace_key;                  /* contract + exchange + whatToShow */
    int weight;                      /* 2 for BID_ASK, else 1 */
    stHistJobState state;
    int64_t req_id;                  /* IB request id while in flight (set by the owner) */
    void **waiters;
    size_t nwaiters, cap_waiters;
    void *result;                    /* after Complete: owned copy */
    size_t result_len;
    int64_t done_ms;
    void *user;                      /* owner's data (borrowed) */
} stHistJob;

typedef struct stHistGov stHistGov;
typedef void (*stHistSendFn)(void *ud, stHistJob *job);

ibbStatus stHistGov_Create(stHistGov **out, const stHistLimits *limits);
void stHistGov_Destroy(stHistGov *g);

/* Submits a request. On ST_HIST_CACHED the result is in (*job)->result; otherwise `waiter` is
 * attached to *job and will be returned by Complete / Fail. */
ibbStatus stHistGov_Submit(stHistGov *g, const char *key, const char *pace_key, int weight, void *waiter,
                           int64_t now_ms, stHistJob **job, stHistOutcome *outcome);
/* When a new request for pace_key would be sent at the earliest, given everything queued ahead of
 * it (an estimate that never errs early). */
int64_t stHistGov_EarliestStart(const stHistGov *g, const char *pace_key, int weight, int64_t now_ms);
/* Sends what the rules allow now: calls send(job) for each released job (now in flight). Also
 * evicts expired cache entries. Returns the number sent. */
size_t stHistGov_Poll(stHistGov *g, int64_t now_ms, stHistSendFn send, void *ud);
/* When Poll may next release a queued job (INT64_MAX when the queue is empty). */
int64_t stHistGov_NextDue(const stHistGov *g, int64_t now_ms);

/* The IB answer arrived: the result is copied into the cache. The job's waiters are handed to
 * `each` (then cleared). */
ibbStatus stHistGov_Complete(stHistGov *g, stHistJob *job, const void *result, size_t len, int64_t now_ms,
                             void (*each)(void *ud, void *waiter, stHistJob *job), void *ud);
/* IB refused or the link dropped: waiters are handed to `each`, then the job is dropped. */
void stHistGov_Fail(stHistGov *g, stHistJob *job, void (*each)(void *ud, void *waiter, stHistJob *job),
                    void *ud);
/* A waiter gave up (deadline). A queued job left without waiters is dropped; an in-flight one
 * stays (its answer still fills the cache). */
void stHistGov_Detach(stHistGov *g, stHistJob *job, void *waiter);
/* Looks up the in-flight job by IB request id (NULL when none). */
stHistJob *stHistGov_FindByReqId(const stHistGov *g, int64_t req_id);

/* When the rules would let this queued job go, ignoring the jobs queued ahead of it (the identical-
 * request rule included, which stHistGov_EarliestStart cannot see). */
int64_t stHistGov_JobReadyAt(const stHistGov *g, const stHistJob *job, int64_t now_ms);

size_t stHistGov_QueueDepth(const stHistGov *g);
size_t stHistGov_InFlight(const stHistGov *g);
/* Requests sent in the current 10-minute window (weighted). */
int stHistGov_WindowUsed(const stHistGov *g, int64_t now_ms);

#endif
