/* br_ha_leases.c — what a hot standby needs from the active, kept in KV (ha.enabled only; without HA
 * nothing here runs): every consumer's streaming lease, so a takeover keeps lease ids and subjects, and
 * every resolved contract, so a takeover subscribes again without one contract lookup per instrument.
 *
 * Bucket <prefix>_contracts (R = nats.js_replicas, history 1), one JSON record per lookup key (the KV
 * key is the lookup key with every character outside [A-Za-z0-9_-] written =XX): br_contractPack's record,
 * written by the active after each resolution; a standby loads the bucket when it starts and then every
 * CONTRACTS_RELOAD_MS, so the cache is warm before it takes over (conIds do not change).
 *
 * Bucket <prefix>_leases (R = nats.js_replicas, history 1), one JSON record per lease id:
 *   {"lease_id": "...", "keys": ["AAPL", ...], "expires_ns": <wall clock>}
 * written by the active after every grant or renewal and deleted on unsubscribe; a record past its expiry
 * is deleted at the next load (in-memory expiry does not write). On becoming active the records are
 * loaded and every unexpired lease is recreated under its own id (stLeases_Restore): the quotes module
 * then subscribes its instruments like after any IB reconnect.
 * KV calls block: they run one at a time, in order, on a libuv worker thread (a renewal and an end of
 * the same lease cannot overtake each other); results come back on the loop. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_internal.h"
#include "bus_js.h"
#include "bus_json.h"
#include "ibb_log.h"
#include "ibb_map.h"

typedef enum { OP_PUT, OP_DEL, OP_LOAD } opKind;
typedef enum { BK_LEASES, BK_CONTRACTS, BK_COUNT } bucketKind;

typedef struct haOp {
    struct haOp *next;
    opKind kind;
    bucketKind bk;
    char id[3 * ST_KEY_MAX + 1];  /* lease id, or the encoded lookup key of a contract */
    char *data;                 /* OP_PUT: JSON */
    size_t len;
    char **vals;                /* OP_LOAD: every record's JSON */
    size_t n_vals;
    ibbStatus st;
    char err[240];
} haOp;

struct brHaLeases {
    brBridge *b;
    busJs *js[BK_COUNT];
    char bucket[BK_COUNT][80];
    bool bound[BK_COUNT];       /* worker thread only */
    ibbMap *seen;               /* worker thread only: contract KV keys loaded already */
    haOp *head, *tail;          /* loop thread: waiting ops */
    haOp *cur;                  /* the op on the worker */
    uv_work_t w;
    bool closed;
};

/* ---- worker ---------------------------------------------------------------------------------------- */

static void op_work(uv_work_t *w)
{
    brHaLeases *hl = w->data;
    haOp *op = hl->cur;
    busJs *js = hl->js[op->bk];
    if (!hl->bound[op->bk]) {
        busJsKvConfig kc = {.bucket = hl->bucket[op->bk],
                            .description = op->bk == BK_LEASES ? "ib-bridge streaming leases (hot standby)"
                                                               : "ib-bridge resolved contracts (hot standby)",
                            .history = 1, .file_storage = true, .replicas = hl->b->opt.js_replicas};
        op->st = busJs_EnsureKv(js, &kc, op->err, sizeof op->err);
        if (op->st != IBB_OK)
            return;
        hl->bound[op->bk] = true;
    }
    if (op->kind == OP_PUT) {
        op->st = busJs_KvPut(js, op->id, op->data, op->len, op->err, sizeof op->err);
    } else if (op->kind == OP_DEL) {
        op->st = busJs_KvDelete(js, op->id, op->err, sizeof op->err);
    } else {
        char **keys = NULL;
        size_t n = 0;
        op->st = busJs_KvKeys(js, &keys, &n, op->err, sizeof op->err);
        if (op->st == IBB_ERR_NOT_FOUND) { /* an empty bucket */
            op->st = IBB_OK;
            n = 0;
        }
        op->vals = n ? calloc(n, sizeof *op->vals) : NULL;
        for (size_t i = 0; op->st == IBB_OK && op->vals && i < n; i++) {
            char *v = NULL;
            size_t len = 0;
            char e[200];
            if (op->bk == BK_CONTRACTS && ibbMap_Get(hl->seen, keys[i]))
                continue; /* contracts do not change: each is read once */
            if (busJs_KvGet(js, keys[i], &v, &len, e, sizeof e) == IBB_OK) {
                op->vals[op->n_vals++] = v;
                if (op->bk == BK_CONTRACTS)
                    ibbMap_Put(hl->seen, keys[i], hl);
            } else {
                free(v);
            }
        }
        busJs_FreeKeys(keys, n);
    }
}

static void start_next(brHaLeases *hl);
static void apply_load(brHaLeases *hl, haOp *op);
static void apply_contracts(brHaLeases *hl, haOp *op);

static void free_op(haOp *op)
{
    for (size_t i = 0; i < op->n_vals; i++)
        free(op->vals[i]);
    free(op->vals);
    free(op->data);
    free(op);
}

static void op_done(uv_work_t *w, int status)
{
    brHaLeases *hl = w->data;
    haOp *op = hl->cur;
    hl->cur = NULL;
    if (status != 0 || op->st != IBB_OK)
        IBB_WARN(op->bk == BK_LEASES ? "ha.leases_store_failed" : "ha.contracts_store_failed",
                 "op=%s id=%.40s error=\"%s\"", op->kind == OP_PUT ? "put" : op->kind == OP_DEL ? "delete" : "load",
                 op->id, status ? uv_strerror(status) : op->err);
    else if (op->kind == OP_LOAD && !hl->closed && op->bk == BK_LEASES)
        apply_load(hl, op);
    else if (op->kind == OP_LOAD && !hl->closed)
        apply_contracts(hl, op);
    free_op(op);
    if (!hl->closed)
        start_next(hl);
}

static void start_next(brHaLeases *hl)
{
    if (hl->cur || !hl->head)
        return;
    hl->cur = hl->head;
    hl->head = hl->head->next;
    if (!hl->head)
        hl->tail = NULL;
    hl->w.data = hl;
    if (uv_queue_work(hl->b->loop, &hl->w, op_work, op_done) != 0) {
        free_op(hl->cur);
        hl->cur = NULL;
    }
}

static void enqueue(brHaLeases *hl, haOp *op)
{
    if (hl->tail)
        hl->tail->next = op;
    else
        hl->head = op;
    hl->tail = op;
    start_next(hl);
}

/* ---- loop ---------------------------------------------------------------------------------------- */

static void apply_load(brHaLeases *hl, haOp *op)
{
    brBridge *b = hl->b;
    size_t restored = 0, expired = 0, bad = 0;
    int64_t now = br_wallNs();
    for (size_t i = 0; i < op->n_vals; i++) {
        busBody body;
        busBody_Init(&body);
        char err[128], id[ST_LEASE_ID_LEN + 1] = "";
        const msgpack_object_array *arr = NULL;
        int64_t exp = 0;
        if (busBody_Decode(&body, op->vals[i], strlen(op->vals[i]), "application/json", 0, err, sizeof err) != IBB_OK ||
            busObj_StrCopy(&body.root, "lease_id", id, sizeof id) != IBB_OK ||
            busObj_Array(&body.root, "keys", &arr) != IBB_OK || busObj_Int(&body.root, "expires_ns", &exp) != IBB_OK) {
            bad++;
            busBody_Free(&body);
            continue;
        }
        if (exp <= now) {
            expired++;
            haOp *d = calloc(1, sizeof *d);
            if (d) {
                d->kind = OP_DEL;
                snprintf(d->id, sizeof d->id, "%s", id);
                enqueue(hl, d);
            }
            busBody_Free(&body);
            continue;
        }
        char (*keys)[ST_KEY_MAX] = arr->size ? calloc(arr->size, sizeof *keys) : NULL;
        const char **ptrs = arr->size ? calloc(arr->size, sizeof *ptrs) : NULL;
        size_t n = 0;
        for (uint32_t k = 0; keys && ptrs && k < arr->size; k++) {
            const msgpack_object *o = &arr->ptr[k];
            if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= ST_KEY_MAX)
                continue;
            memcpy(keys[n], o->via.str.ptr, o->via.str.size);
            keys[n][o->via.str.size] = '\0';
            ptrs[n] = keys[n];
            n++;
        }
        ibbStatus s = stLeases_Restore(b->leases, id, ptrs, n, (exp - now) / 1000000 + 1, br_nowMs(b));
        if (s == IBB_OK)
            restored++;
        else if (s != IBB_ERR_CONFLICT)
            bad++;
        free(keys);
        free(ptrs);
        busBody_Free(&body);
    }
    br_quotesLeasesChanged(b);
    IBB_INFO("ha.leases_restored", "restored=%zu expired=%zu unreadable=%zu leases=%zu lines=%zu", restored, expired,
             bad, stLeases_LeaseCount(b->leases), stLeases_KeyCount(b->leases));
}

/* Queues a KV op; a put carries the record packed in sb, stored as JSON (readable with `nats kv get`). */
static void enqueue_op(brHaLeases *hl, opKind kind, bucketKind bk, const char *id, const msgpack_sbuffer *sb)
{
    haOp *op = calloc(1, sizeof *op);
    busBuf out;
    busBuf_Init(&out);
    bool ok = op != NULL;
    if (ok && sb)
        ok = busJson_FromMsgpack(&out, sb->data, sb->size) == IBB_OK && !out.oom && (op->data = malloc(out.len));
    if (ok) {
        if (sb) {
            memcpy(op->data, out.data, out.len);
            op->len = out.len;
        }
        op->kind = kind;
        op->bk = bk;
        snprintf(op->id, sizeof op->id, "%s", id ? id : "");
        enqueue(hl, op);
    } else {
        free(op);
        IBB_WARN(bk == BK_LEASES ? "ha.leases_store_failed" : "ha.contracts_store_failed",
                 "op=%s id=%.40s error=\"out of memory\"", sb ? "put" : "queue", id ? id : "");
    }
    busBuf_Free(&out);
}

void brHaLeases_Saved(brHaLeases *hl, const char *lease_id)
{
    if (!hl || hl->closed)
        return;
    brBridge *b = hl->b;
    const char *const *keys = NULL;
    size_t n = 0;
    int64_t exp_ms = stLeases_ExpiresAt(b->leases, lease_id);
    if (stLeases_Keys(b->leases, lease_id, &keys, &n) != IBB_OK || exp_ms < 0 || exp_ms == INT64_MAX)
        return; /* unknown, or the watchlist (never expires, configured on every instance) */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    busPack_KeyStr(&pk, "lease_id", lease_id);
    busPack_Str(&pk, "keys");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        busPack_Str(&pk, keys[i]);
    busPack_KeyInt(&pk, "expires_ns", br_wallNs() + (exp_ms - br_nowMs(b)) * 1000000);
    enqueue_op(hl, OP_PUT, BK_LEASES, lease_id, &sb);
    msgpack_sbuffer_destroy(&sb);
}

void brHaLeases_Ended(brHaLeases *hl, const char *lease_id)
{
    if (hl && !hl->closed)
        enqueue_op(hl, OP_DEL, BK_LEASES, lease_id, NULL);
}

void brHaLeases_Load(brHaLeases *hl)
{
    if (hl && !hl->closed)
        enqueue_op(hl, OP_LOAD, BK_LEASES, NULL, NULL);
}

/* ---- contracts ----------------------------------------------------------------------------------- */

/* KV keys allow [-/_=.A-Za-z0-9]: an instrument key ("FUT:ES:CME:USD:202512", "@265598") is written with
 * every other character as =XX, '.' and '/' included (they would make tokens). */
static void encode_kv_key(const char *key, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p && o + 4 < cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_')
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "=%02X", *p);
    }
    out[o] = '\0';
}

static void apply_contracts(brHaLeases *hl, haOp *op)
{
    size_t seeded = 0, known = 0, bad = 0;
    for (size_t i = 0; i < op->n_vals; i++) {
        busBody body;
        busBody_Init(&body);
        char err[128];
        if (busBody_Decode(&body, op->vals[i], strlen(op->vals[i]), "application/json", 0, err, sizeof err) !=
            IBB_OK)
            bad++;
        else {
            ibbStatus s = br_contractSeed(hl->b, &body.root);
            seeded += s == IBB_OK;
            known += s == IBB_ERR_CONFLICT;
            bad += s != IBB_OK && s != IBB_ERR_CONFLICT;
        }
        busBody_Free(&body);
    }
    if (seeded || bad)
        IBB_INFO("ha.contracts_loaded", "new=%zu known=%zu unreadable=%zu", seeded, known, bad);
}

void brHaLeases_SaveContract(brHaLeases *hl, const char *lookup_key, const brInstrument *inst)
{
    if (!hl || hl->closed)
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    br_contractPack(&pk, lookup_key, inst);
    char id[3 * ST_KEY_MAX + 1];
    encode_kv_key(lookup_key, id, sizeof id);
    enqueue_op(hl, OP_PUT, BK_CONTRACTS, id, &sb);
    msgpack_sbuffer_destroy(&sb);
}

void brHaLeases_LoadContracts(brHaLeases *hl)
{
    if (hl && !hl->closed)
        enqueue_op(hl, OP_LOAD, BK_CONTRACTS, NULL, NULL);
}

static void bucket_name(char *out, size_t cap, const char *prefix, const char *suffix)
{
    snprintf(out, cap, "%s_%s", prefix, suffix);
    for (char *p = out; *p; p++)
        if (*p == '.')
            *p = '_';
}

ibbStatus brHaLeases_Create(brHaLeases **out, brBridge *b)
{
    brHaLeases *hl = calloc(1, sizeof *hl);
    if (!hl)
        return IBB_ERR_NOMEM;
    hl->b = b;
    bucket_name(hl->bucket[BK_LEASES], sizeof hl->bucket[BK_LEASES], b->prefix, "leases");
    bucket_name(hl->bucket[BK_CONTRACTS], sizeof hl->bucket[BK_CONTRACTS], b->prefix, "contracts");
    busJsOptions jo;
    busJsOptions_Init(&jo);
    ibbStatus s = ibbMap_Create(&hl->seen);
    for (int k = 0; k < BK_COUNT && s == IBB_OK; k++)
        s = busJs_Create(&hl->js[k], b->conn, b->loop, &jo);
    if (s != IBB_OK) {
        for (int k = 0; k < BK_COUNT; k++)
            busJs_Destroy(hl->js[k]);
        ibbMap_Destroy(hl->seen);
        free(hl);
        return s;
    }
    *out = hl;
    return IBB_OK;
}

/* Loop thread, after uv_run returned (the bridge is being destroyed; the connections still exist). Waiting
 * ops are dropped; the one on a worker is waited for (bounded by the KV timeout). */
void brHaLeases_Destroy(brHaLeases *hl)
{
    if (!hl)
        return;
    hl->closed = true;
    for (haOp *op = hl->head, *next; op; op = next) {
        next = op->next;
        free_op(op);
    }
    hl->head = hl->tail = NULL;
    while (hl->cur)
        uv_run(hl->b->loop, UV_RUN_ONCE);
    for (int k = 0; k < BK_COUNT; k++)
        busJs_Destroy(hl->js[k]);
    ibbMap_Destroy(hl->seen);
    free(hl);
}
