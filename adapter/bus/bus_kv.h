/* bus_kv.h — a JetStream key-value bucket used as a last-value cache, straight on a busConn: ensure the
 * bucket exists, and write values with plain publishes (no acknowledgment: a newer value follows soon,
 * and a lost one costs nothing). For create-only records with acknowledgments use bus_js.h.
 *
 * Threads: busKv_EnsureBucket is a BLOCKING network round trip (bounded by wait_ms): call it on a worker
 * thread (uv_queue_work), never on the loop thread. busKv_Put may be called on any thread.
 * Ownership: nothing is kept; the busConn is borrowed for the call. */
#ifndef BUS_KV_H
#define BUS_KV_H

#include <stddef.h>
#include <stdint.h>

#include "bus_conn.h"
#include "bus_js.h"
#include "ibb_status.h"

/* Creates the bucket (c: bucket, description, history, ttl, storage, replicas) or, when it exists with
 * another configuration (e.g. made by an operator), binds to it as it is — except for fewer replicas than
 * c->replicas: those are raised, as busJs_EnsureKv does (IBB_ERR_CONFIG naming the fix when the server
 * refuses). IBB_ERR_IO with a sentence in err when JetStream cannot be reached or refuses. */
ibbStatus busKv_EnsureBucket(busConn *conn, const busJsKvConfig *c, int64_t wait_ms, char *err, size_t cap);

/* Writes data as the value of the key whose subject is `kv_subject` ("$KV.<bucket>.<key>"): a core
 * publish. IBB_ERR_IO when the connection refused it (closed, payload too large). */
ibbStatus busKv_Put(busConn *conn, const char *kv_subject, const void *data, size_t len);

#endif
