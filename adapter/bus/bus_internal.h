/* bus_internal.h — structures shared by the files of the bus module (not a public header).
 *
 * Locking: svc->mu guards the request/post queues, `closing`, `refs`, the counters and every
 * endpoint's stats (read by $SRV.STATS on nats.c threads). Everything else in busService is either
 * immutable after busService_Start (names, endpoints, subjects) or touched only on the loop thread. */
#ifndef BUS_INTERNAL_H
#define BUS_INTERNAL_H

#include <pthread.h>

#include "bus_json.h"
#include "bus_js.h"
#include "bus_service.h"

typedef struct busEndpoint {
    busService *svc;
    char *name;
    char *subject;          /* full subject */
    busHandlerFn handler;
    void *arg;
    int64_t timeout_ms;
    natsSubscription *sub;
    /* stats, under svc->mu */
    int64_t num_requests, num_errors, processing_ns;
    char last_error[200];
} busEndpoint;

typedef struct busPost {
    struct busPost *next;
    busPostFn fn;
    void *arg;
} busPost;

#define BUS_SRV_SUBS 9

struct busService {
    busConn *conn;
    natsConnection *nc;
    natsConnection *reply_nc;     /* loop-thread answers go here when it is up; may be NULL */
    uv_loop_t *loop;
    uv_async_t async;
    uv_timer_t timer;
    int open_handles;

    /* immutable after Start */
    char *name, *version, *description, *id, *prefix, *queue_group;
    char **metadata;        /* key, value, ..., NULL */
    int64_t timeout_ms;
    size_t max_payload;
    char started[40];       /* RFC 3339 UTC */
    busEndpoint **eps;
    size_t neps;
    bool started_subs, stopped;
    bool paused;            /* loop thread: endpoints not subscribed (busService_SetServing false) */
    natsSubscription *srv_subs[BUS_SRV_SUBS];

    /* under mu */
    pthread_mutex_t mu;
    busRequest *q_head, *q_tail;
    busPost *p_head, *p_tail;
    bool closing;
    char role[24];          /* "" or the role shown in $SRV metadata (busService_SetRole) */
    uint64_t role_epoch;    /* shown with it when > 0 */
    int refs;               /* 1 for the owner + 1 per live subscription */
    busServiceCounters ctr;

    /* loop thread only */
    busRequest *inflight_head, *inflight_tail;   /* unanswered, sorted by deadline */
    busRequest *live_head;                       /* dispatched and not yet freed */
    msgpack_sbuffer scratch;
    msgpack_packer scratch_pk;
    busBuf json;
    busClosedFn closed_cb;
    void *closed_arg;
};

/* bus_conn.c: the publish path of bus/ (busPublisher, busService replies, busJs). With a fence on c
 * (busConn_SetFence): NATS_NOT_PERMITTED while it is shut, else the message carries Ibb-Epoch. Without
 * one: a plain natsConnection_Publish. nc is the connection to write on (c's own or a reply connection
 * sharing c's fence). */
natsStatus bus_publish(busConn *c, natsConnection *nc, const char *subj, const void *data, int len);
natsStatus bus_publishMsg(busConn *c, natsConnection *nc, natsMsg *m);
busFence *bus_connFence(const busConn *c);

/* bus_micro.c */
ibbStatus bus_microSubscribe(busService *svc);

/* bus_service.c */
void bus_serviceUnref(busService *svc);   /* takes svc->mu itself */
/* Publishes an error reply from any thread (own buffers). */
void bus_sendError(busConn *c, natsConnection *nc, const char *reply, busEncoding enc, const char *slug,
                   const char *message, int ib_code);
/* Same with an optional "retry_after_ms" (> 0) in the body. */
void bus_sendErrorRetry(busConn *c, natsConnection *nc, const char *reply, busEncoding enc, const char *slug,
                        const char *message, int ib_code, int64_t retry_after_ms);

/* bus_js.c: binds to KV bucket c->bucket, creating it when missing and raising an existing one's
 * replicas to c->replicas (IBB_ERR_CONFIG with the fix in err when the server refuses: never silently
 * fewer copies). Blocking; *out is the caller's (kvStore_Destroy). */
ibbStatus bus_ensureKv(jsCtx *js, const busJsKvConfig *c, kvStore **out, char *err, size_t cap);

#endif
