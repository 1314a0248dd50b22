/* bus_js.h — the JetStream helpers ib-bridge needs: a stream created when missing, a key-value
 * bucket with create-only records, and asynchronous publishing with a Nats-Msg-Id header that is
 * retried until the stream acknowledges it (the server's duplicate window drops repeats).
 *
 * Knows nothing of IB: subjects, keys and payloads are the caller's.
 *
 * Threads:
 *   busJs_Create, busJs_Close          loop thread (Close stops the retry timer; call it before the
 *                                      loop is left, e.g. on graceful stop; Destroy closes it too)
 *   busJs_EnsureStream, busJs_EnsureKv, busJs_Kv*   BLOCKING network round trips (bounded by
 *                                      wait_ms): call them on a worker thread (uv_queue_work),
 *                                      never on the loop thread. They are thread-safe.
 *   busJs_Publish, busJs_Counters      any thread (nats.c is thread-safe; the retry list is locked)
 *   busJs_Destroy                      the owner, after the loop has stopped using it: waits (bounded)
 *                                      for outstanding acknowledgments, then frees.
 *
 * Delivery: busJs_Publish hands a message to nats.c (js_PublishMsgAsync). A message the server
 * did not acknowledge within ack_wait_ms, or refused (no stream yet, NATS down), goes to a retry
 * list that the loop resends every retry_ms, forever while the process lives (capped at
 * max_retry_msgs; beyond that the oldest is dropped and counted). Resending the same Nats-Msg-Id
 * is safe: the stream keeps one copy per id within its duplicate window.
 *
 * Ownership: busJs is opaque (Create / Destroy, NULL-safe); it borrows the busConn, which must
 * outlive it. Strings passed in are copied or only used during the call. KV values returned by
 * busJs_KvGet are malloc'd and owned by the caller. */
#ifndef BUS_JS_H
#define BUS_JS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus_conn.h"
#include "ibb_status.h"

typedef struct busJs busJs;

typedef struct busJsOptions {
    int64_t wait_ms;          /* JetStream API calls and KV operations (default 3000) */
    int64_t ack_wait_ms;      /* async publish acknowledgment deadline (default 5000) */
    int64_t retry_ms;         /* resend period for unacknowledged messages (default 1000) */
    size_t max_retry_msgs;    /* retry list cap (default 100000) */
} busJsOptions;

void busJsOptions_Init(busJsOptions *o);

typedef struct busJsStreamConfig {
    const char *name;         /* e.g. "IB_ORDERS" */
    const char *description;
    const char *subject;      /* one subject filter, e.g. "ib.evt.order.>" */
    bool file_storage;        /* false = memory */
    int64_t max_age_ms;       /* 0 = unlimited */
    int64_t max_bytes;        /* 0 = unlimited */
    int64_t duplicates_ms;    /* Nats-Msg-Id duplicate window (<= max_age_ms when that is set) */
    int replicas;             /* copies in a cluster (nats.js_replicas); 0 = 1 */
} busJsStreamConfig;

typedef struct busJsKvConfig {
    const char *bucket;       /* [A-Za-z0-9_-]+ */
    const char *description;
    int history;              /* 1..64 */
    int64_t ttl_ms;           /* 0 = keep forever */
    bool file_storage;
    int replicas;             /* copies in a cluster (nats.js_replicas); 0 = 1 */
} busJsKvConfig;

typedef struct busJsCounters {
    uint64_t published;       /* messages handed to nats.c (resends included) */
    uint64_t acked;           /* acknowledged by the stream */
    uint64_t duplicates;      /* acknowledged as duplicates (the id was already stored) */
    uint64_t retried;         /* resends */
    uint64_t pending_retry;   /* messages waiting in the retry list now */
    uint64_t dropped;         /* given up (retry list full) */
} busJsCounters;

ibbStatus busJs_Create(busJs **out, busConn *conn, uv_loop_t *loop, const busJsOptions *o);
void busJs_Close(busJs *j);
void busJs_Destroy(busJs *j);

/* Creates the stream when it does not exist (an existing one is kept as it is, except that one with
 * fewer replicas than c->replicas is updated to that count). *created tells.
 * IBB_ERR_IO (no NATS / no JetStream) or IBB_ERR_CONFIG (the server refused the config, or refused
 * raising the replica count: err then names the stream and the `nats stream edit` command), with a
 * sentence in err. */
ibbStatus busJs_EnsureStream(busJs *j, const busJsStreamConfig *c, bool *created, char *err, size_t cap);
/* Binds the bucket, creating it when missing (an existing one with fewer replicas than c->replicas is
 * raised to that count, or IBB_ERR_CONFIG as above). One bucket per busJs; later calls rebind. */
ibbStatus busJs_EnsureKv(busJs *j, const busJsKvConfig *c, char *err, size_t cap);
bool busJs_KvReady(busJs *j);

/* Create-only write: IBB_OK and *exists = false when the key was new; IBB_OK and *exists = true
 * when it already held a value (nothing written). Other statuses: the store could not answer. */
ibbStatus busJs_KvCreate(busJs *j, const char *key, const void *data, size_t len, bool *exists, char *err,
                         size_t cap);
/* IBB_ERR_NOT_FOUND when absent (or deleted). *data is malloc'd (NUL-terminated), caller frees. */
ibbStatus busJs_KvGet(busJs *j, const char *key, char **data, size_t *len, char *err, size_t cap);
/* As busJs_KvGet, and *rev (may be NULL) the revision read: the `last` of a later busJs_KvUpdate. */
ibbStatus busJs_KvGetRev(busJs *j, const char *key, char **data, size_t *len, uint64_t *rev, char *err,
                         size_t cap);
ibbStatus busJs_KvPut(busJs *j, const char *key, const void *data, size_t len, char *err, size_t cap);
/* Revision-checked write: stores data only when the key's latest revision is still `last` (0: the key
 * must not exist or be deleted, as KvCreate). IBB_OK with *rev (may be NULL) the new revision;
 * IBB_ERR_CONFLICT when another write came first (nothing written); IBB_ERR_IO / IBB_ERR_STATE when the
 * store could not answer. A write the server stored but whose acknowledgment was lost is told by
 * reading the key back: the same bytes at a newer revision count as this write (IBB_OK). */
ibbStatus busJs_KvUpdate(busJs *j, const char *key, const void *data, size_t len, uint64_t last, uint64_t *rev,
                         char *err, size_t cap);
/* Revision-checked delete: places a delete marker only when the key's latest revision is still `last`.
 * IBB_ERR_CONFLICT when it changed; IBB_OK also when the key is already gone. */
ibbStatus busJs_KvDeleteRev(busJs *j, const char *key, uint64_t last, char *err, size_t cap);
/* Deletes a key (a later KvCreate of it succeeds again). */
ibbStatus busJs_KvDelete(busJs *j, const char *key, char *err, size_t cap);
/* Every key of the bucket (malloc'd array of malloc'd strings; free with busJs_FreeKeys). */
ibbStatus busJs_KvKeys(busJs *j, char ***keys, size_t *n, char *err, size_t cap);
void busJs_FreeKeys(char **keys, size_t n);

/* The last message the stream holds on `subject` (blocking, like the Kv calls): IBB_OK with *data
 * malloc'd (caller frees) and *len; IBB_ERR_NOT_FOUND when the stream has none on that subject (or the
 * stream does not exist); IBB_ERR_IO when the server could not answer. */
ibbStatus busJs_LastMsg(busJs *j, const char *stream, const char *subject, char **data, size_t *len, char *err,
                        size_t cap);

/* One stored message of busJs_ReadSince: data (borrowed for the call), its stream time (epoch ns). Return
 * false to stop reading. */
typedef bool (*busJsMsgFn)(void *arg, const char *data, size_t len, int64_t time_ns);
/* Reads the stream's messages on `subject` (wildcards allowed) stored at or after start_ns, oldest first,
 * through an ordered ephemeral consumer (blocking, like the Kv calls), at most max_msgs. *first_ns gets
 * the time of the stream's oldest message (0 when it is empty): the stream covers a window from start_ns
 * only when *first_ns <= start_ns. IBB_ERR_NOT_FOUND when the stream does not exist; IBB_ERR_IO when the
 * server could not answer. */
ibbStatus busJs_ReadSince(busJs *j, const char *stream, const char *subject, int64_t start_ns,
                          size_t max_msgs, int64_t *first_ns, busJsMsgFn fn, void *arg, char *err,
                          size_t cap);

/* Publishes data on subject with header Nats-Msg-Id: msg_id (and Content-Type when given),
 * asynchronously; see "Delivery" above. IBB_OK once the message is owned by nats.c or the retry
 * list; IBB_ERR_NOMEM / IBB_ERR_INVALID_ARG otherwise. */
ibbStatus busJs_Publish(busJs *j, const char *subject, const char *msg_id, const void *data, size_t len,
                        const char *content_type);

void busJs_Counters(busJs *j, busJsCounters *out);

#endif
