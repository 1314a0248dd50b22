/* core_pacer.h — outbound pacing: a token bucket in front of two FIFO queues (cancels first).
 *
 * IB allows 50 client messages per second (PROTOCOL.md §5.1). Every message after the
 * "API\0"+version bytes goes through one corePacer: startApi, keep-alives, and everything the
 * later modules send. In any window of one second at most `burst + rate` messages leave, so
 * rate + burst must stay <= 50 (the configuration enforces it).
 *
 * Pure logic, no libuv: the caller passes a monotonic time in milliseconds and arms its own timer
 * (a uv_timer_t in coreSession) with the delay corePacer_Run returns. That keeps the bucket unit
 * testable with a fake clock.
 *
 * Stale requests: a message pushed with a key (an IB request id) can be dropped instead of sent. When
 * such a message reaches the head of the normal queue and a token is there for it, the keep callback
 * (corePacer_SetKeep) is asked once: true = it is emitted now, false = it is freed without spending
 * the token and counted (corePacer_Dropped). Messages without a key, anything in the cancel queue and
 * every cancel (corePacer_IsCancel) are always sent.
 *
 * Ownership: opaque, corePacer_Create / corePacer_Destroy (NULL-safe). Push copies the bytes; the
 * pacer frees an item after handing it to the emit callback (the bytes are only valid during the
 * call). The emit and keep callbacks must not call back into the pacer. Single-threaded (the loop
 * thread). */
#ifndef CORE_PACER_H
#define CORE_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"

#define CORE_PACER_MAX_RATE 50.0 /* IB's hard limit, messages per second */

typedef enum corePriority {
    CORE_PRIO_AUTO = 0, /* decided from the request id: cancels go first (corePacer_IsCancel) */
    CORE_PRIO_CANCEL,   /* the priority queue: cancels, keep-alives */
    CORE_PRIO_NORMAL,   /* everything else, FIFO */
} corePriority;

typedef struct corePacer corePacer;

/* rate in messages per second (0 < rate <= 50), burst = bucket size (>= 1), max_queue = the most
 * messages both queues may hold (0 = unlimited). The bucket starts full. */
ibbStatus corePacer_Create(corePacer **out, double rate, int burst, size_t max_queue);
void corePacer_Destroy(corePacer *p);

/* Queues a copy of one framed message. `tag` is the request id (for logs / the emit callback).
 * IBB_ERR_LIMIT when the queues are full, IBB_ERR_NOMEM, IBB_ERR_INVALID_ARG. */
ibbStatus corePacer_Push(corePacer *p, corePriority prio, int tag, const void *data, size_t len);

/* Same as corePacer_Push, with a key: the IB request id the message carries (0 = none). A keyed
 * message may be dropped at dequeue time when the keep callback says its request is no longer wanted. */
ibbStatus corePacer_PushKeyed(corePacer *p, corePriority prio, int tag, int64_t key, const void *data,
                              size_t len);

typedef void (*corePacerEmitFn)(void *ud, int tag, const char *data, size_t len);
/* Asked once per keyed message, right before it would be emitted: true = send it now. */
typedef bool (*corePacerKeepFn)(void *ud, int tag, int64_t key);

/* Installs (fn NULL: removes) the keep callback; without one every message is sent. */
void corePacer_SetKeep(corePacer *p, corePacerKeepFn fn, void *ud);

/* Hands every message the bucket allows at `now_ms` to emit (cancels first, then FIFO); keyed
 * messages the keep callback refuses are dropped on the way, without spending tokens. Returns the
 * milliseconds until the next message may leave, or -1 when both queues are empty. */
int64_t corePacer_Run(corePacer *p, double now_ms, corePacerEmitFn emit, void *ud);

/* Queue depth: total, and per queue (either pointer may be NULL). */
size_t corePacer_Depth(const corePacer *p, size_t *cancels, size_t *normal);
/* Drops every queued message (the connection they were meant for is gone); returns how many. */
size_t corePacer_Clear(corePacer *p);
/* Messages emitted since creation. */
uint64_t corePacer_Sent(const corePacer *p);
/* Keyed messages dropped because the keep callback said no (they spent no token). */
uint64_t corePacer_Dropped(const corePacer *p);

/* True for the request ids that cancel something (cancelMktData, cancelOrder,
 * cancelHistoricalData, cancelAccountSummary, cancelPositions, reqGlobalCancel). */
bool corePacer_IsCancel(int request_id);

#endif
