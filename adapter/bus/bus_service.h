/* bus_service.h — request/reply endpoints on NATS, handed to one libuv loop thread, with deadlines,
 * error replies, per-endpoint stats and hand-rolled NATS micro discovery ($SRV.PING/INFO/STATS).
 *
 * Flow: nats.c delivers a request on its own thread; the bus callback only decodes the body
 * (bus_obj.h: MessagePack or JSON -> one msgpack_object), checks the envelope (size, well-formed,
 * a map), stamps a deadline (endpoint timeout or the service's request_timeout_ms) and appends a
 * busRequest to a mutex-protected queue, waking the loop with one uv_async_send. On the loop thread
 * the endpoint's handler gets the busRequest and answers it — now or later (after IB replies) —
 * with busRequest_Reply / busRequest_Error. A uv timer answers every request still open at its
 * deadline with a `timeout` error (504). Every request gets exactly one reply: a second answer is
 * a no-op that returns IBB_ERR_STATE and is counted (late_replies). Envelope errors (bad_request,
 * payload_too_large) are answered on the nats.c thread and never reach a handler.
 * The reply is JSON when the request was JSON/empty/Content-Type: application/json, else MessagePack;
 * handlers always pack MessagePack.
 *
 * Ownership:
 *   busService  opaque. busService_Create on the loop thread; busService_Close(svc, cb) answers
 *               everything still open with `unavailable`, closes the uv handles and calls cb on the
 *               loop thread; the memory goes when nats.c has also let go of every subscription.
 *               Close it BEFORE busConn_Destroy; do not use svc after cb.
 *   busRequest  reference counted. The service holds one reference until the request is answered;
 *               the handler is given one reference and must drop it with busRequest_Release exactly
 *               once (right after answering, or later when it kept the request for an async answer;
 *               releasing without answering is allowed: the deadline then answers `timeout`).
 *               busRequest_Retain adds references. The body (and every string in it) lives until the
 *               last release. After busService_Close a held request is detached: answers are no-ops.
 *
 * Threads: busService_Post and busService_Counters may be called from any thread. Everything else —
 * Create, AddEndpoint, Start, Stop, Close and every busRequest_* function — only on the loop thread. */
#ifndef BUS_SERVICE_H
#define BUS_SERVICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "bus_conn.h"
#include "bus_obj.h"
#include "ibb_status.h"

typedef struct busService busService;
typedef struct busRequest busRequest;

typedef void (*busHandlerFn)(busRequest *req, void *arg);
typedef void (*busExpireFn)(busRequest *req, void *arg);
typedef void (*busPostFn)(void *arg);
typedef void (*busClosedFn)(busService *svc, void *arg);

typedef struct busServiceOptions {
    const char *name;             /* micro service name [A-Za-z0-9_-]+ (default "ib-bridge") */
    const char *version;          /* semver (default IBB_VERSION) */
    const char *description;      /* default "" */
    const char *id;               /* instance id for $SRV.*.<name>.<id>; NULL = generated (NUID) */
    const char *subject_prefix;   /* endpoint subjects live under it (default "ib.rpc") */
    const char *queue_group;      /* default "q" (the micro default); "" = no queue group */
    int64_t request_timeout_ms;   /* default 5000 */
    size_t max_payload;           /* request body limit in bytes (default 1 MiB) */
    const char *const *metadata;  /* NULL-terminated list: key, value, key, value, ..., NULL */
} busServiceOptions;

void busServiceOptions_Init(busServiceOptions *o);

typedef struct busEndpointDef {
    const char *name;      /* micro endpoint name [A-Za-z0-9_-]+, e.g. "order_place" */
    const char *subject;   /* relative to subject_prefix, e.g. "order.place"; NULL = name */
    busHandlerFn handler;
    void *arg;
    int64_t timeout_ms;    /* 0 = the service's request_timeout_ms */
} busEndpointDef;

typedef struct busServiceCounters {
    uint64_t requests;         /* requests received on endpoints */
    uint64_t replies;          /* successful replies */
    uint64_t errors;           /* error replies of any kind (envelope, handler, timeout, shutdown) */
    uint64_t timeouts;         /* answered by the deadline timer */
    uint64_t late_replies;     /* answers attempted on an already answered request (ignored) */
    uint64_t envelope_errors;  /* bad_request / payload_too_large answered before any handler */
    uint64_t in_flight;        /* requests queued or dispatched and not yet answered */
} busServiceCounters;

ibbStatus busService_Create(busService **out, busConn *conn, uv_loop_t *loop, const busServiceOptions *o);
/* Before Start. IBB_ERR_INVALID_ARG for a bad name/subject, IBB_ERR_STATE after Start. */
ibbStatus busService_AddEndpoint(busService *svc, const busEndpointDef *def);
/* Subscribes every endpoint (queue group) and the nine $SRV subjects. */
ibbStatus busService_Start(busService *svc);
/* Hot standby (loop thread): false unsubscribes every endpoint (requests go to the other instances of
 * the queue group; $SRV discovery still answers), true subscribes them again. Before Start it decides
 * whether Start subscribes the endpoints. IBB_ERR_STATE after Stop / Close. */
ibbStatus busService_SetServing(busService *svc, bool on);
/* Adds "role": role and, when epoch > 0, "epoch": "<epoch>" to the $SRV metadata (role "" removes both):
 * how an operator (and ib-bridge-http) tells the instances of one service apart. Any thread. */
void busService_SetRole(busService *svc, const char *role, uint64_t epoch);
/* Graceful step 1: drains the subscriptions (no new requests); requests in flight still get answered. */
void busService_Stop(busService *svc);
/* Step 2: answers whatever is still open with `unavailable`, closes handles, cb(svc, arg) on the loop. */
void busService_Close(busService *svc, busClosedFn cb, void *arg);

/* Runs fn(arg) on the loop thread soon (any thread may call). IBB_ERR_CLOSED once Close has begun:
 * then fn will not run and the caller keeps arg. Posts still queued at Close run during Close.
 * Other threads must stop using svc before Close's callback (clear their pointer under their own
 * lock before calling Close, as tests/bus/bus_responder.c does). */
ibbStatus busService_Post(busService *svc, busPostFn fn, void *arg);

void busService_Counters(busService *svc, busServiceCounters *out);
/* Answers made on the loop thread leave on c when it is up, else on the service's own connection.
 * Give it a loop-driven connection (busConnOptions.loop) and a reply is written on the next loop turn
 * instead of ~1 ms later by nats.c's flusher. c must outlive the service. Loop thread; NULL turns it off. */
void busService_SetReplyConn(busService *svc, busConn *c);
const char *busService_Id(const busService *svc);
const char *busService_Name(const busService *svc);

/* ------------------------------------------------------------------------------------------------
 * busRequest (loop thread only) */
const msgpack_object *busRequest_Body(const busRequest *r);  /* always a map */
busEncoding busRequest_Encoding(const busRequest *r);
const char *busRequest_Endpoint(const busRequest *r);        /* endpoint name ("" once detached) */
const char *busRequest_ReplyTo(const busRequest *r);         /* "" when the sender wants no reply */
uint64_t busRequest_DeadlineNs(const busRequest *r);         /* uv_hrtime() clock */
int64_t busRequest_RemainingMs(const busRequest *r);         /* >= 0 */
bool busRequest_Answered(const busRequest *r);

/* Answers with a packed MessagePack object (converted to JSON for JSON requests; a body the JSON
 * writer refuses turns into an `internal` error reply). IBB_ERR_STATE when already answered. */
ibbStatus busRequest_Reply(busRequest *r, const char *mp, size_t len);
/* A packer over the service's scratch buffer (cleared now). Pack and call busRequest_ReplyPacked
 * before returning to the loop: the buffer is shared by all requests. */
msgpack_packer *busRequest_Packer(busRequest *r);
ibbStatus busRequest_ReplyPacked(busRequest *r);
/* Error reply (bus_error.h). ib_code 0 = absent. */
ibbStatus busRequest_Error(busRequest *r, const char *slug, const char *message, int ib_code);
ibbStatus busRequest_Errorf(busRequest *r, const char *slug, int ib_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Error reply with "retry_after_ms" (> 0) in the error object: when a retry may succeed (pacing). */
ibbStatus busRequest_ErrorRetry(busRequest *r, const char *slug, const char *message, int ib_code,
                               int64_t retry_after_ms);
/* bad_request naming a field, from a busObj_* getter status ("field 'qty' must be an integer"). */
ibbStatus busRequest_BadField(busRequest *r, const char *key, ibbStatus st, const char *want);

/* An error reply, then busRequest_Release: the last words of a handler that gives up on the request. */
void busRequest_Fail(busRequest *r, const char *slug, const char *message, int ib_code);
void busRequest_Failf(busRequest *r, const char *slug, int ib_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void busRequest_FailField(busRequest *r, const char *key, ibbStatus st, const char *want);

/* Called (loop thread) when the service answers the request itself — deadline or shutdown — so the
 * owner can cancel its work. The request is already answered; the owner still releases its reference. */
void busRequest_OnExpire(busRequest *r, busExpireFn fn, void *arg);
void busRequest_Retain(busRequest *r);
void busRequest_Release(busRequest *r);

#endif
