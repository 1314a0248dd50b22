/* br_quotes_kv.h — the last-value cache of quotes: a JetStream key-value bucket (br_quotes.c only).
 *
 * The bucket is created once at start on a libuv worker thread (nats.c's KV API blocks), retried
 * with backoff while NATS or JetStream is unavailable. Writes are plain publishes to
 * $KV.<bucket>.<kv key> (no ack, never blocking the loop), at most one per key per min_interval_ms;
 * a change inside the interval is written when it ends (the latest value always lands).
 *
 * KV keys: NATS KV allows only [-/_=.A-Za-z0-9], so an instrument key maps as ':' -> '/', bytes in
 * [-_A-Za-z0-9] unchanged, any other byte (including '=') -> "=XX" (hex). AAPL -> AAPL,
 * FUT:ES:CME:USD:202512 -> FUT/ES/CME/USD/202512, @265598 -> =40265598. Reversible.
 *
 * Ownership: brQuoteKv is opaque; slots are owned by it and valid until brQuoteKv_Drop. Loop
 * thread only. Close (stops the timers) before the loop ends, Destroy after it. */
#ifndef BR_QUOTES_KV_H
#define BR_QUOTES_KV_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus_conn.h"
#include "bus_publisher.h"
#include "ibb_status.h"

typedef struct brQuoteKv brQuoteKv;
typedef struct brQuoteKvSlot brQuoteKvSlot;

/* Packs the current value of key into pk (one map). Called on the loop thread. */
typedef void (*brQuoteKvPackFn)(void *ud, const char *key, msgpack_packer *pk);

/* replicas: copies of a bucket it creates (nats.js_replicas). */
ibbStatus brQuoteKv_Create(brQuoteKv **out, uv_loop_t *loop, busConn *conn, const char *bucket, bool json,
                           int replicas, int64_t min_interval_ms, brQuoteKvPackFn pack, void *ud);
/* The slot of an instrument key (NULL on OOM). */
brQuoteKvSlot *brQuoteKv_Slot(brQuoteKv *kv, const char *key);
/* The value of the slot's key changed: write now or when the interval ends. */
void brQuoteKv_Touch(brQuoteKv *kv, brQuoteKvSlot *slot);
/* Writes a pending value now (ignoring the interval) and frees the slot. NULL-safe. */
void brQuoteKv_Drop(brQuoteKv *kv, brQuoteKvSlot *slot);
bool brQuoteKv_Ready(const brQuoteKv *kv);
uint64_t brQuoteKv_Writes(const brQuoteKv *kv);
/* Writes the connection refused (publish failed: NATS down or the payload too big). */
uint64_t brQuoteKv_WriteErrors(const brQuoteKv *kv);
void brQuoteKv_Close(brQuoteKv *kv);
void brQuoteKv_Destroy(brQuoteKv *kv);
/* Maps an instrument key to its KV key (rules above). IBB_ERR_LIMIT when out is too small. */
ibbStatus brQuoteKv_KeyOf(const char *key, char *out, size_t cap);

#endif
