/* http_bus.h — the gateway's only link to the world behind it: asynchronous NATS requests and
 * subscriptions, delivered on the caller's loop thread.
 *
 * The connection (servers, auth, TLS, reconnect) is ibb_bus' busConn; this file adds what the gateway
 * needs on top: many concurrent requests over one inbox subscription, answered on the loop thread.
 *
 * Threads: with a loop (the gateway's), nats.c's socket is read and written on the loop thread
 * (bus_evloop.h); without one (the probe), by nats.c's threads. Either way nats.c delivers replies and
 * subscription messages on its delivery threads: those callbacks only copy the message into a
 * mutex-protected queue and call the `wake` function given at creation (the gateway passes one that
 * calls lws_cancel_service()). (Synchronous subscriptions drained on the loop would save that hop, but
 * nats.c 3.4.1 turns a no-responders status into an error there and drops its subject, so a request
 * could not be told it has no responders.) Everything else — Request, Cancel, Subscribe, Unsubscribe,
 * Dispatch, Tick — runs on the loop thread, and every callback (httpBusReplyFn, httpBusMsgFn) is
 * invoked from Dispatch/Tick on that thread. A handle names one pending request or one subscription
 * (slot + generation), so a late message for a cancelled handle is simply dropped.
 *
 * Replies: one wildcard inbox subscription `_INBOX.<nuid>.*`; each request's reply subject ends with
 * its handle. Every request gets exactly one callback (reply, no-responders, or timeout) unless it was
 * cancelled first. Pointers in httpBusReply / httpBusMsgFn are valid only during the callback. */
#ifndef HTTP_BUS_H
#define HTTP_BUS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http_config.h"
#include "ibb_status.h"

typedef struct httpBus httpBus;

typedef struct httpBusReply {
    ibbStatus status;          /* IBB_OK (a reply, maybe an error reply), IBB_ERR_TIMEOUT,
                                  IBB_ERR_NOT_FOUND (no responders), IBB_ERR_IO (publish failed) */
    const char *data;          /* reply body (not NUL-terminated by contract; it is in practice) */
    size_t len;
    const char *err_code;      /* Nats-Service-Error-Code header, or NULL */
    const char *err_text;      /* Nats-Service-Error header, or NULL */
    int64_t rtt_us;            /* publish to receipt on the nats.c thread */
} httpBusReply;

typedef void (*httpBusReplyFn)(void *arg, const httpBusReply *reply);
typedef void (*httpBusMsgFn)(void *arg, const char *data, size_t len);
typedef void (*httpBusWakeFn)(void *arg);

/* Connects (waits up to a few seconds for the first connection, then keeps retrying in the
 * background: requests made meanwhile time out, they do not hang). With a loop (created on this
 * thread, and run by it), nats.c's socket is read and written by that loop (bus_evloop.h): the
 * requests of one turn leave in one write. Without one, nats.c's threads do the I/O and each request
 * is written at once. */
ibbStatus httpBus_Create(httpBus **out, const httpConfig *cfg, uv_loop_t *loop, httpBusWakeFn wake,
                         void *wake_arg);
/* Flushes and closes; pending callbacks are dropped. NULL-safe. With a loop, run it once more
 * afterwards: the connection's handles close there. */
void httpBus_Destroy(httpBus *b);

ibbStatus httpBus_Request(httpBus *b, const char *subject, const void *body, size_t len, int timeout_ms,
                          httpBusReplyFn fn, void *arg, uint64_t *handle);
/* The callback of `handle` will not run. Safe with a handle that already completed or is 0. */
void httpBus_Cancel(httpBus *b, uint64_t handle);

ibbStatus httpBus_Subscribe(httpBus *b, const char *subject, httpBusMsgFn fn, void *arg, uint64_t *handle);
/* A subject only this connection listens on ("<inbox>_<name>", outside the request inbox's wildcard): the
 * reply subject of a publish many may answer (e.g. $SRV.PING), read with httpBus_Subscribe. */
void httpBus_PrivateSubject(httpBus *b, const char *name, char *out, size_t cap);
/* A plain publish (reply may be NULL). IBB_ERR_IO when the connection refused it. */
ibbStatus httpBus_Publish(httpBus *b, const char *subject, const char *reply, const void *data, size_t len);
void httpBus_Unsubscribe(httpBus *b, uint64_t handle);

/* Loop thread: delivers queued replies and messages. */
void httpBus_Dispatch(httpBus *b);
/* Loop thread: times out requests past their deadline. */
void httpBus_Tick(httpBus *b);
int httpBus_Connected(httpBus *b);
int httpBus_Pending(httpBus *b);   /* requests in flight */

#endif
