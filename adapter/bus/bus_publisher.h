/* bus_publisher.h — stream publishing (ib.quote.<key>, ib.evt.*): the hot path.
 *
 * Subjects are <prefix>.<suffix> ("ib" + "quote.AAPL" -> "ib.quote.AAPL"). The payload is packed
 * MessagePack; mode JSON publishes the JSON text instead; mode BOTH publishes MessagePack and a JSON
 * copy on <json_prefix>.<suffix> (default json_prefix "<prefix>.json": "ib.json.quote.AAPL", so
 * a person can `nats sub 'ib.json.>'`; grant it in the permissions if readers need it).
 * Cost per message: one copy into nats.c's write buffer (plus the JSON text for JSON modes); the
 * subject and JSON buffers are reused, so nothing is allocated once they have grown.
 *
 * Latency: nats.c 3.4.1 buffers publishes and its flusher thread waits 1 ms after each kick before it
 * writes (conn.c _flusher). On a loop-driven busConn (busConnOptions.loop, the hot path of ib-bridge)
 * the loop writes everything published during one loop turn when it next polls, and busPublisher_Flush
 * has nothing to do. On a thread-driven busConn, busPublisher_Flush() ends a batch: it wakes the
 * publisher's own flush thread, which writes nats.c's buffer at once with natsConnection_FlushTimeout
 * (its PING/PONG round trip is waited for on that thread, never on the caller's).
 *
 * Ownership: busPublisher is opaque (Create / Destroy, NULL-safe); it borrows the busConn, which must
 * outlive it (Destroy joins the flush thread: at most BUS_FLUSH_TIMEOUT_MS). Threads: NOT thread-safe
 * — one publisher per thread (the loop thread owns one); the flush thread only touches nats.c. */
#ifndef BUS_PUBLISHER_H
#define BUS_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "bus_conn.h"
#include "ibb_status.h"

typedef enum busStreamMode {
    BUS_STREAM_MSGPACK = 0,
    BUS_STREAM_JSON,
    BUS_STREAM_BOTH,
} busStreamMode;

/* "msgpack" | "json" | "both" -> mode; -1 for anything else. */
int busStreamMode_Parse(const char *s);

typedef struct busPublisherOptions {
    const char *prefix;        /* default "ib" */
    busStreamMode mode;        /* default BUS_STREAM_MSGPACK */
    const char *json_prefix;   /* mirror prefix for BUS_STREAM_BOTH; default "<prefix>.json" */
} busPublisherOptions;

typedef struct busPublisherCounters {
    uint64_t published;        /* messages handed to nats.c (a BOTH publish counts 2) */
    uint64_t failed;           /* nats.c refused (closed, reconnect buffer full, ...) */
    uint64_t bad_payloads;     /* payloads the JSON writer refused */
    uint64_t flushes;          /* buffer writes done by the flush thread (requests coalesce) */
    uint64_t flush_failed;     /* flushes nats.c refused or timed out (nats.c's flusher still writes) */
} busPublisherCounters;

#define BUS_FLUSH_TIMEOUT_MS 1000  /* longest wait for the PONG that ends one flush */

typedef struct busPublisher busPublisher;

void busPublisherOptions_Init(busPublisherOptions *o);
ibbStatus busPublisher_Create(busPublisher **out, busConn *conn, const busPublisherOptions *o);
void busPublisher_Destroy(busPublisher *p);

/* Publishes mp (one packed MessagePack object) on <prefix>.<suffix> (and the mirror).
 * IBB_ERR_IO when nats.c refused, IBB_ERR_INVALID_ARG for a payload the JSON writer refused. */
ibbStatus busPublisher_Publish(busPublisher *p, const char *suffix, const char *mp, size_t len);
/* Pack straight into the publisher's reused buffer: Packer() clears it, Send() publishes it. */
msgpack_packer *busPublisher_Packer(busPublisher *p);
ibbStatus busPublisher_Send(busPublisher *p, const char *suffix);

/* Ends a batch: the messages published so far go on the wire now, not after nats.c's 1 ms wait.
 * Never blocks on the network: it only wakes the flush thread (started on first use); requests made
 * while a flush is in flight coalesce into one more. IBB_ERR_NOMEM when the thread cannot start
 * (publishing still works, at nats.c's pace). */
ibbStatus busPublisher_Flush(busPublisher *p);

void busPublisher_Counters(const busPublisher *p, busPublisherCounters *out);

#endif
